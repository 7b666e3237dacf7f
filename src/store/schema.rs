// Written to match migrations/sqlite; keep the two in step.

diesel::table! {
    users (user_id) {
        user_id -> Text,
        localpart -> Text,
        password_hash -> Nullable<Text>,
        admin -> Bool,
        deactivated -> Bool,
        shadow_banned -> Bool,
        erased -> Bool,
        locked -> Bool,
        user_type -> Nullable<Text>,
        is_guest -> Bool,
        creation_ts -> BigInt,
        last_seen_ts -> Nullable<BigInt>,
        suspended -> Bool,
    }
}

diesel::table! {
    user_counts (is_guest, deactivated, admin, locked) {
        is_guest -> Bool,
        deactivated -> Bool,
        admin -> Bool,
        locked -> Bool,
        n -> BigInt,
    }
}

diesel::table! {
    profiles (user_id) {
        user_id -> Text,
        displayname -> Nullable<Text>,
        avatar_url -> Nullable<Text>,
    }
}

diesel::table! {
    devices (user_id, device_id) {
        user_id -> Text,
        device_id -> Text,
        display_name -> Nullable<Text>,
        last_seen_ts -> Nullable<BigInt>,
        last_seen_ip -> Nullable<Text>,
        last_seen_user_agent -> Nullable<Text>,
    }
}

diesel::table! {
    access_tokens (token_hash) {
        token_hash -> Text,
        user_id -> Text,
        device_id -> Nullable<Text>,
        valid_until_ms -> Nullable<BigInt>,
        puppeted_by -> Nullable<Text>,
        created_ts -> BigInt,
    }
}

diesel::table! {
    rooms (room_id) {
        room_id -> Text,
        room_version -> Text,
        creator -> Text,
        is_public -> Bool,
        created_ts -> BigInt,
    }
}

diesel::table! {
    events (stream_ordering) {
        stream_ordering -> BigInt,
        event_id -> Text,
        room_id -> Text,
        sender -> Text,
        event_type -> Text,
        state_key -> Nullable<Text>,
        origin_server_ts -> BigInt,
        depth -> BigInt,
        json -> Text,
        redacted_by -> Nullable<Text>,
    }
}

diesel::table! {
    current_state (room_id, event_type, state_key) {
        room_id -> Text,
        event_type -> Text,
        state_key -> Text,
        event_id -> Text,
        stream_ordering -> BigInt,
    }
}

diesel::table! {
    memberships (room_id, user_id) {
        room_id -> Text,
        user_id -> Text,
        membership -> Text,
        event_id -> Text,
        stream_ordering -> BigInt,
        forgotten -> Bool,
    }
}

diesel::table! {
    room_aliases (alias) {
        alias -> Text,
        room_id -> Text,
        creator -> Text,
    }
}

diesel::table! {
    txn_ids (user_id, device_id, txn_id) {
        user_id -> Text,
        device_id -> Text,
        txn_id -> Text,
        room_id -> Text,
        event_id -> Text,
        ts -> BigInt,
    }
}

diesel::table! {
    account_data (user_id, room_id, data_type) {
        user_id -> Text,
        room_id -> Text,
        data_type -> Text,
        content -> Text,
        stream_id -> BigInt,
    }
}

diesel::table! {
    filters (user_id, filter_id) {
        user_id -> Text,
        filter_id -> BigInt,
        filter_json -> Text,
    }
}

diesel::table! {
    stream_positions (stream) {
        stream -> Text,
        position -> BigInt,
    }
}

diesel::table! {
    user_ips (user_id, device_id, ip, user_agent) {
        user_id -> Text,
        device_id -> Text,
        ip -> Text,
        user_agent -> Text,
        last_seen -> BigInt,
    }
}

diesel::table! {
    user_threepids (user_id, medium, address) {
        user_id -> Text,
        medium -> Text,
        address -> Text,
        added_at -> BigInt,
        validated_at -> BigInt,
    }
}

diesel::table! {
    pushers (user_id, app_id, pushkey) {
        user_id -> Text,
        app_id -> Text,
        pushkey -> Text,
        kind -> Text,
        app_display_name -> Text,
        device_display_name -> Text,
        profile_tag -> Nullable<Text>,
        lang -> Text,
        data -> Text,
        device_id -> Nullable<Text>,
        created_ts -> BigInt,
    }
}

diesel::table! {
    media (media_id) {
        media_id -> Text,
        user_id -> Text,
        media_type -> Nullable<Text>,
        media_length -> BigInt,
        upload_name -> Nullable<Text>,
        created_ts -> BigInt,
        last_access_ts -> Nullable<BigInt>,
        quarantined_by -> Nullable<Text>,
        safe_from_quarantine -> Bool,
        uploaded -> Bool,
        unused_expires_at -> Nullable<BigInt>,
        sha256 -> Nullable<Text>,
    }
}

diesel::table! {
    media_deletions (media_id) {
        media_id -> Text,
    }
}

diesel::table! {
    quarantined_media_changes (stream_id) {
        stream_id -> BigInt,
        origin -> Nullable<Text>,
        media_id -> Text,
        quarantined -> Bool,
    }
}

diesel::table! {
    pending_purges (room_id) {
        room_id -> Text,
    }
}

diesel::table! {
    device_keys (user_id, device_id) {
        user_id -> Text,
        device_id -> Text,
        key_json -> Text,
    }
}

diesel::table! {
    one_time_keys (user_id, device_id, key_id) {
        user_id -> Text,
        device_id -> Text,
        key_id -> Text,
        algorithm -> Text,
        key_json -> Text,
    }
}

diesel::table! {
    fallback_keys (user_id, device_id, algorithm) {
        user_id -> Text,
        device_id -> Text,
        algorithm -> Text,
        key_id -> Text,
        key_json -> Text,
        used -> Bool,
    }
}

diesel::table! {
    cross_signing_keys (user_id, key_type) {
        user_id -> Text,
        key_type -> Text,
        key_json -> Text,
    }
}

diesel::table! {
    device_list_streams (user_id) {
        user_id -> Text,
        stream_id -> BigInt,
        public_stream_id -> BigInt,
    }
}

diesel::table! {
    remote_device_lists (user_id) {
        user_id -> Text,
        stream_id -> BigInt,
        refreshed_ts -> BigInt,
    }
}

diesel::table! {
    remote_devices (user_id, device_id) {
        user_id -> Text,
        device_id -> Text,
        display_name -> Nullable<Text>,
        key_json -> Nullable<Text>,
    }
}

diesel::table! {
    to_device_messages (stream_id) {
        stream_id -> BigInt,
        user_id -> Text,
        device_id -> Text,
        sender -> Text,
        event_type -> Text,
        content -> Text,
    }
}

diesel::table! {
    to_device_txns (user_id, device_id, txn_id) {
        user_id -> Text,
        device_id -> Text,
        txn_id -> Text,
    }
}

diesel::table! {
    receipts (room_id, user_id, receipt_type, thread_id) {
        room_id -> Text,
        user_id -> Text,
        receipt_type -> Text,
        thread_id -> Text,
        event_id -> Text,
        event_stream -> BigInt,
        ts -> BigInt,
        stream_id -> BigInt,
    }
}

diesel::table! {
    presence (user_id) {
        user_id -> Text,
        state -> Text,
        status_msg -> Nullable<Text>,
        last_active_ts -> BigInt,
        stream_id -> BigInt,
    }
}

diesel::table! {
    key_signatures (target_user, target_key, signer_user, signer_key) {
        target_user -> Text,
        target_key -> Text,
        signer_user -> Text,
        signer_key -> Text,
        signature -> Text,
    }
}

diesel::table! {
    push_members (room_id, user_id) {
        room_id -> Text,
        user_id -> Text,
        idx -> BigInt,
    }
}

diesel::table! {
    push_event_notifications (room_id, stream_ordering, grp) {
        room_id -> Text,
        stream_ordering -> BigInt,
        grp -> BigInt,
        thread_key -> Text,
        actions -> Text,
        highlight -> Bool,
        ts -> BigInt,
        members -> Binary,
    }
}

diesel::table! {
    event_relations (event_id) {
        event_id -> Text,
        room_id -> Text,
        relates_to_id -> Text,
        rel_type -> Text,
        event_type -> Text,
        sender -> Text,
        stream_ordering -> BigInt,
        aggregation_key -> Nullable<Text>,
    }
}

diesel::table! {
    push_counts (user_id, room_id, thread_key) {
        user_id -> Text,
        room_id -> Text,
        thread_key -> Text,
        notifications -> BigInt,
        highlights -> BigInt,
    }
}

diesel::table! {
    push_progress (id) {
        id -> BigInt,
        stream_ordering -> BigInt,
    }
}

diesel::table! {
    key_backup_versions (user_id, version) {
        user_id -> Text,
        version -> BigInt,
        algorithm -> Text,
        auth_data -> Text,
        etag -> BigInt,
        deleted -> Bool,
    }
}

diesel::table! {
    key_backup_sessions (user_id, version, room_id, session_id) {
        user_id -> Text,
        version -> BigInt,
        room_id -> Text,
        session_id -> Text,
        first_message_index -> BigInt,
        forwarded_count -> BigInt,
        is_verified -> Bool,
        session_data -> Text,
    }
}

diesel::table! {
    reports (id) {
        id -> BigInt,
        kind -> Text,
        received_ts -> BigInt,
        user_id -> Text,
        room_id -> Nullable<Text>,
        event_id -> Nullable<Text>,
        event_sender -> Nullable<Text>,
        target_user_id -> Nullable<Text>,
        reason -> Nullable<Text>,
        score -> Nullable<BigInt>,
    }
}

diesel::table! {
    registration_tokens (token) {
        token -> Text,
        uses_allowed -> Nullable<BigInt>,
        completed -> BigInt,
        expiry_time -> Nullable<BigInt>,
        created_ts -> BigInt,
    }
}

diesel::table! {
    openid_tokens (token_hash) {
        token_hash -> Text,
        user_id -> Text,
        expires_at -> BigInt,
    }
}

diesel::table! {
    ratelimit_overrides (user_id) {
        user_id -> Text,
        messages_per_second -> BigInt,
        burst_count -> BigInt,
    }
}

diesel::table! {
    user_experimental_features (user_id, feature) {
        user_id -> Text,
        feature -> Text,
        enabled -> Bool,
    }
}

diesel::table! {
    cross_signing_replacement_windows (user_id) {
        user_id -> Text,
        until_ms -> BigInt,
    }
}

diesel::table! {
    blocked_rooms (room_id) {
        room_id -> Text,
        user_id -> Text,
    }
}

diesel::table! {
    admin_jobs (id) {
        id -> Text,
        action -> Text,
        resource_id -> Text,
        status -> Text,
        params -> Text,
        result -> Nullable<Text>,
        error -> Nullable<Text>,
        created_ts -> BigInt,
        updated_ts -> BigInt,
    }
}

diesel::allow_tables_to_appear_in_same_query!(
    admin_jobs,
    users,
    user_counts,
    profiles,
    devices,
    access_tokens,
    rooms,
    blocked_rooms,
    events,
    current_state,
    memberships,
    room_aliases,
    txn_ids,
    account_data,
    filters,
    stream_positions,
    user_ips,
    user_threepids,
    pushers,
    media,
    media_deletions,
    quarantined_media_changes,
    pending_purges,
    device_keys,
    one_time_keys,
    fallback_keys,
    cross_signing_keys,
    device_list_streams,
    remote_device_lists,
    remote_devices,
    to_device_messages,
    to_device_txns,
    receipts,
    presence,
    key_signatures,
    push_members,
    push_event_notifications,
    push_counts,
    push_progress,
    key_backup_versions,
    key_backup_sessions,
    event_relations,
    reports,
    registration_tokens,
    openid_tokens,
    ratelimit_overrides,
    user_experimental_features,
    cross_signing_replacement_windows,
);
