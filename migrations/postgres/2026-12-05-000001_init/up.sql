-- The whole schema as the SQLite migrations up to 2026-12-04 leave it, for a new PostgreSQL
-- database. Later changes come as a pair: one migration in each of migrations/sqlite and
-- migrations/postgres. Types: SQLite's INTEGER (64-bit) is BIGINT, BLOB is BYTEA.
CREATE TABLE access_tokens (
    token_hash TEXT PRIMARY KEY NOT NULL,
    user_id TEXT NOT NULL,
    device_id TEXT,
    valid_until_ms BIGINT,
    puppeted_by TEXT,
    created_ts BIGINT NOT NULL
);
CREATE INDEX access_tokens_user ON access_tokens (user_id, device_id);
CREATE TABLE account_data (
    user_id TEXT NOT NULL,
    room_id TEXT NOT NULL,
    data_type TEXT NOT NULL,
    content TEXT NOT NULL,
    stream_id BIGINT NOT NULL,
    PRIMARY KEY (user_id, room_id, data_type)
);
CREATE INDEX account_data_stream ON account_data (user_id, stream_id);
CREATE TABLE admin_jobs (
    id TEXT PRIMARY KEY NOT NULL,
    action TEXT NOT NULL,
    resource_id TEXT NOT NULL,
    status TEXT NOT NULL,
    params TEXT NOT NULL,
    result TEXT,
    error TEXT,
    created_ts BIGINT NOT NULL,
    updated_ts BIGINT NOT NULL
);
CREATE INDEX admin_jobs_resource ON admin_jobs (resource_id, action);
CREATE INDEX admin_jobs_status ON admin_jobs (status);
CREATE TABLE blocked_rooms (
    room_id TEXT PRIMARY KEY NOT NULL,
    user_id TEXT NOT NULL
);
CREATE TABLE cross_signing_keys (
    user_id TEXT NOT NULL,
    key_type TEXT NOT NULL,
    key_json TEXT NOT NULL,
    PRIMARY KEY (user_id, key_type)
);
CREATE TABLE cross_signing_replacement_windows (
    user_id TEXT PRIMARY KEY NOT NULL,
    until_ms BIGINT NOT NULL
);
CREATE TABLE current_state (
    room_id TEXT NOT NULL,
    event_type TEXT NOT NULL,
    state_key TEXT NOT NULL,
    event_id TEXT NOT NULL,
    stream_ordering BIGINT NOT NULL,
    PRIMARY KEY (room_id, event_type, state_key)
);
CREATE TABLE device_keys (
    user_id TEXT NOT NULL,
    device_id TEXT NOT NULL,
    key_json TEXT NOT NULL,
    PRIMARY KEY (user_id, device_id)
);
CREATE TABLE device_list_streams (
    user_id TEXT PRIMARY KEY NOT NULL,
    stream_id BIGINT NOT NULL
, public_stream_id BIGINT NOT NULL DEFAULT 0);
CREATE INDEX device_list_streams_by_position ON device_list_streams (stream_id);
CREATE INDEX device_list_streams_by_public_position ON device_list_streams (public_stream_id);
CREATE TABLE devices (
    user_id TEXT NOT NULL,
    device_id TEXT NOT NULL,
    display_name TEXT,
    last_seen_ts BIGINT,
    last_seen_ip TEXT,
    last_seen_user_agent TEXT,
    PRIMARY KEY (user_id, device_id)
);
CREATE TABLE event_relations (
    event_id TEXT PRIMARY KEY NOT NULL,
    room_id TEXT NOT NULL,
    relates_to_id TEXT NOT NULL,
    rel_type TEXT NOT NULL,
    event_type TEXT NOT NULL,
    sender TEXT NOT NULL,
    stream_ordering BIGINT NOT NULL,
    aggregation_key TEXT
);
CREATE INDEX event_relations_parent ON event_relations (relates_to_id, stream_ordering);
CREATE INDEX event_relations_room ON event_relations (room_id);
CREATE INDEX event_relations_room_type ON event_relations (room_id, rel_type, relates_to_id, stream_ordering);
CREATE TABLE events (
    stream_ordering BIGINT PRIMARY KEY NOT NULL,
    event_id TEXT NOT NULL UNIQUE,
    room_id TEXT NOT NULL,
    sender TEXT NOT NULL,
    event_type TEXT NOT NULL,
    state_key TEXT,
    origin_server_ts BIGINT NOT NULL,
    depth BIGINT NOT NULL,
    json TEXT NOT NULL,
    redacted_by TEXT
);
CREATE INDEX events_room_stream ON events (room_id, stream_ordering);
CREATE INDEX events_room_type_key ON events (room_id, event_type, state_key, stream_ordering);
CREATE TABLE fallback_keys (
    user_id TEXT NOT NULL,
    device_id TEXT NOT NULL,
    algorithm TEXT NOT NULL,
    key_id TEXT NOT NULL,
    key_json TEXT NOT NULL,
    used BOOLEAN NOT NULL DEFAULT FALSE,
    PRIMARY KEY (user_id, device_id, algorithm)
);
CREATE TABLE filters (
    user_id TEXT NOT NULL,
    filter_id BIGINT NOT NULL,
    filter_json TEXT NOT NULL,
    PRIMARY KEY (user_id, filter_id)
);
CREATE TABLE key_backup_sessions (
    user_id TEXT NOT NULL,
    version BIGINT NOT NULL,
    room_id TEXT NOT NULL,
    session_id TEXT NOT NULL,
    first_message_index BIGINT NOT NULL,
    forwarded_count BIGINT NOT NULL,
    is_verified BOOLEAN NOT NULL,
    session_data TEXT NOT NULL,
    PRIMARY KEY (user_id, version, room_id, session_id)
);
CREATE TABLE key_backup_versions (
    user_id TEXT NOT NULL,
    version BIGINT NOT NULL,
    algorithm TEXT NOT NULL,
    auth_data TEXT NOT NULL,
    etag BIGINT NOT NULL,
    deleted BOOLEAN NOT NULL DEFAULT FALSE,
    PRIMARY KEY (user_id, version)
);
CREATE TABLE key_signatures (
    target_user TEXT NOT NULL,
    target_key TEXT NOT NULL,
    signer_user TEXT NOT NULL,
    signer_key TEXT NOT NULL,
    signature TEXT NOT NULL,
    PRIMARY KEY (target_user, target_key, signer_user, signer_key)
);
CREATE TABLE media (
    media_id TEXT PRIMARY KEY NOT NULL,
    user_id TEXT NOT NULL,
    media_type TEXT,
    media_length BIGINT NOT NULL,
    upload_name TEXT,
    created_ts BIGINT NOT NULL,
    last_access_ts BIGINT,
    quarantined_by TEXT,
    safe_from_quarantine BOOLEAN NOT NULL DEFAULT FALSE,
    uploaded BOOLEAN NOT NULL DEFAULT TRUE,
    unused_expires_at BIGINT
, sha256 TEXT);
CREATE INDEX media_sha256 ON media (sha256);
CREATE INDEX media_user_created ON media (user_id, created_ts, media_id);
CREATE TABLE media_deletions (
    media_id TEXT PRIMARY KEY NOT NULL
);
CREATE TABLE memberships (
    room_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    membership TEXT NOT NULL,
    event_id TEXT NOT NULL,
    stream_ordering BIGINT NOT NULL,
    forgotten BOOLEAN NOT NULL DEFAULT FALSE,
    PRIMARY KEY (room_id, user_id)
);
CREATE INDEX memberships_user ON memberships (user_id, membership);
CREATE TABLE one_time_keys (
    user_id TEXT NOT NULL,
    device_id TEXT NOT NULL,
    key_id TEXT NOT NULL,
    algorithm TEXT NOT NULL,
    key_json TEXT NOT NULL,
    PRIMARY KEY (user_id, device_id, key_id)
);
CREATE INDEX one_time_keys_by_algorithm ON one_time_keys (user_id, device_id, algorithm);
CREATE TABLE openid_tokens (
    token_hash TEXT PRIMARY KEY NOT NULL,
    user_id TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX openid_tokens_expiry ON openid_tokens (expires_at);
CREATE INDEX openid_tokens_user ON openid_tokens (user_id, expires_at);
CREATE TABLE pending_purges (room_id TEXT PRIMARY KEY NOT NULL);
CREATE TABLE presence (
    user_id TEXT PRIMARY KEY NOT NULL,
    state TEXT NOT NULL,
    status_msg TEXT,
    last_active_ts BIGINT NOT NULL,
    stream_id BIGINT NOT NULL
);
CREATE INDEX presence_by_stream ON presence (stream_id);
CREATE TABLE profiles (
    user_id TEXT PRIMARY KEY NOT NULL,
    displayname TEXT,
    avatar_url TEXT
);
CREATE INDEX profiles_avatar ON profiles (avatar_url, user_id);
CREATE INDEX profiles_avatar_desc ON profiles (avatar_url DESC, user_id ASC);
CREATE INDEX profiles_displayname ON profiles (displayname, user_id);
CREATE INDEX profiles_displayname_desc ON profiles (displayname DESC, user_id ASC);
CREATE TABLE push_counts (
    user_id TEXT NOT NULL,
    room_id TEXT NOT NULL,
    thread_key TEXT NOT NULL,
    notifications BIGINT NOT NULL,
    highlights BIGINT NOT NULL,
    PRIMARY KEY (user_id, room_id, thread_key)
);
CREATE INDEX push_counts_room ON push_counts (room_id);
CREATE TABLE push_event_notifications (
    room_id TEXT NOT NULL,
    stream_ordering BIGINT NOT NULL,
    grp BIGINT NOT NULL,
    thread_key TEXT NOT NULL,
    actions TEXT NOT NULL,
    highlight BOOLEAN NOT NULL,
    ts BIGINT NOT NULL,
    members BYTEA NOT NULL,
    PRIMARY KEY (room_id, stream_ordering, grp)
);
CREATE INDEX push_event_notifications_ts ON push_event_notifications (ts);
CREATE TABLE push_members (
    room_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    idx BIGINT NOT NULL,
    PRIMARY KEY (room_id, user_id)
);
CREATE UNIQUE INDEX push_members_number ON push_members (room_id, idx);
CREATE INDEX push_members_user ON push_members (user_id);
CREATE TABLE push_progress (
    id BIGINT PRIMARY KEY CHECK (id = 0),
    stream_ordering BIGINT NOT NULL
);
CREATE TABLE pushers (
    user_id TEXT NOT NULL,
    app_id TEXT NOT NULL,
    pushkey TEXT NOT NULL,
    kind TEXT NOT NULL,
    app_display_name TEXT NOT NULL,
    device_display_name TEXT NOT NULL,
    profile_tag TEXT,
    lang TEXT NOT NULL,
    data TEXT NOT NULL,
    device_id TEXT,
    created_ts BIGINT NOT NULL,
    PRIMARY KEY (user_id, app_id, pushkey)
);
CREATE INDEX pushers_pushkey ON pushers (app_id, pushkey);
CREATE TABLE quarantined_media_changes (
    -- Synapse's stream starts at position 1, so the first change is numbered 2.
    stream_id BIGINT GENERATED BY DEFAULT AS IDENTITY (START WITH 2) PRIMARY KEY,
    origin TEXT,
    media_id TEXT NOT NULL,
    quarantined BOOLEAN NOT NULL
);
CREATE TABLE ratelimit_overrides (
    user_id TEXT PRIMARY KEY NOT NULL,
    messages_per_second BIGINT NOT NULL,
    burst_count BIGINT NOT NULL
);
CREATE TABLE receipts (
    room_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    receipt_type TEXT NOT NULL,
    thread_id TEXT NOT NULL DEFAULT '',
    event_id TEXT NOT NULL,
    event_stream BIGINT NOT NULL,
    ts BIGINT NOT NULL,
    stream_id BIGINT NOT NULL,
    PRIMARY KEY (room_id, user_id, receipt_type, thread_id)
);
CREATE INDEX receipts_by_stream ON receipts (stream_id);
CREATE TABLE registration_tokens (
    token TEXT PRIMARY KEY NOT NULL,
    uses_allowed BIGINT,
    completed BIGINT NOT NULL DEFAULT 0,
    expiry_time BIGINT,
    created_ts BIGINT NOT NULL
);
CREATE TABLE remote_device_lists (
    user_id TEXT PRIMARY KEY NOT NULL,
    stream_id BIGINT NOT NULL,
    refreshed_ts BIGINT NOT NULL
);
CREATE TABLE remote_devices (
    user_id TEXT NOT NULL,
    device_id TEXT NOT NULL,
    display_name TEXT,
    key_json TEXT,
    PRIMARY KEY (user_id, device_id)
);
CREATE TABLE reports (
    id BIGINT GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    kind TEXT NOT NULL,
    received_ts BIGINT NOT NULL,
    user_id TEXT NOT NULL,
    room_id TEXT,
    event_id TEXT,
    event_sender TEXT,
    target_user_id TEXT,
    reason TEXT,
    score BIGINT
);
CREATE INDEX reports_kind_ts ON reports (kind, received_ts);
CREATE INDEX reports_room ON reports (room_id);
CREATE TABLE room_aliases (
    alias TEXT PRIMARY KEY NOT NULL,
    room_id TEXT NOT NULL,
    creator TEXT NOT NULL
);
CREATE INDEX room_aliases_room ON room_aliases (room_id);
CREATE TABLE rooms (
    room_id TEXT PRIMARY KEY NOT NULL,
    room_version TEXT NOT NULL,
    creator TEXT NOT NULL,
    is_public BOOLEAN NOT NULL DEFAULT FALSE,
    created_ts BIGINT NOT NULL
);
CREATE TABLE stream_positions (
    stream TEXT PRIMARY KEY NOT NULL,
    position BIGINT NOT NULL
);
CREATE TABLE to_device_messages (
    stream_id BIGINT PRIMARY KEY NOT NULL,
    user_id TEXT NOT NULL,
    device_id TEXT NOT NULL,
    sender TEXT NOT NULL,
    event_type TEXT NOT NULL,
    content TEXT NOT NULL
);
CREATE INDEX to_device_by_device ON to_device_messages (user_id, device_id, stream_id);
CREATE TABLE to_device_txns (
    user_id TEXT NOT NULL,
    device_id TEXT NOT NULL,
    txn_id TEXT NOT NULL,
    PRIMARY KEY (user_id, device_id, txn_id)
);
CREATE TABLE txn_ids (
    user_id TEXT NOT NULL,
    device_id TEXT NOT NULL,
    txn_id TEXT NOT NULL,
    room_id TEXT NOT NULL,
    event_id TEXT NOT NULL,
    PRIMARY KEY (user_id, device_id, txn_id)
);
CREATE INDEX txn_ids_room ON txn_ids (room_id);
CREATE TABLE user_experimental_features (
    user_id TEXT NOT NULL,
    feature TEXT NOT NULL,
    enabled BOOLEAN NOT NULL,
    PRIMARY KEY (user_id, feature)
);
CREATE TABLE user_ips (
    user_id TEXT NOT NULL,
    device_id TEXT NOT NULL,
    ip TEXT NOT NULL,
    user_agent TEXT NOT NULL,
    last_seen BIGINT NOT NULL,
    PRIMARY KEY (user_id, device_id, ip, user_agent)
);
CREATE INDEX user_ips_last_seen ON user_ips (user_id, last_seen);
CREATE TABLE user_threepids (
    user_id TEXT NOT NULL,
    medium TEXT NOT NULL,
    address TEXT NOT NULL,
    added_at BIGINT NOT NULL,
    validated_at BIGINT NOT NULL,
    PRIMARY KEY (user_id, medium, address)
);
CREATE INDEX user_threepids_address ON user_threepids (medium, address);
CREATE TABLE users (
    user_id TEXT PRIMARY KEY NOT NULL,
    localpart TEXT NOT NULL,
    password_hash TEXT,
    admin BOOLEAN NOT NULL DEFAULT FALSE,
    deactivated BOOLEAN NOT NULL DEFAULT FALSE,
    shadow_banned BOOLEAN NOT NULL DEFAULT FALSE,
    erased BOOLEAN NOT NULL DEFAULT FALSE,
    locked BOOLEAN NOT NULL DEFAULT FALSE,
    user_type TEXT,
    is_guest BOOLEAN NOT NULL DEFAULT FALSE,
    creation_ts BIGINT NOT NULL
, last_seen_ts BIGINT, suspended BOOLEAN NOT NULL DEFAULT FALSE);
CREATE INDEX users_admin ON users (admin, user_id);
CREATE INDEX users_admin_desc ON users (admin DESC, user_id ASC);
CREATE INDEX users_creation_ts ON users (creation_ts, user_id);
CREATE INDEX users_creation_ts_desc ON users (creation_ts DESC, user_id ASC);
CREATE INDEX users_deactivated ON users (deactivated, user_id);
CREATE INDEX users_deactivated_desc ON users (deactivated DESC, user_id ASC);
CREATE INDEX users_is_guest ON users (is_guest, user_id);
CREATE INDEX users_is_guest_desc ON users (is_guest DESC, user_id ASC);
CREATE INDEX users_last_seen ON users (last_seen_ts, user_id);
CREATE INDEX users_last_seen_desc ON users (last_seen_ts DESC, user_id ASC);
CREATE INDEX users_locked ON users (locked, user_id);
CREATE INDEX users_locked_desc ON users (locked DESC, user_id ASC);
CREATE INDEX users_shadow_banned ON users (shadow_banned, user_id);
CREATE INDEX users_shadow_banned_desc ON users (shadow_banned DESC, user_id ASC);
CREATE INDEX users_user_type ON users (user_type, user_id);
CREATE INDEX users_user_type_desc ON users (user_type DESC, user_id ASC);

-- One allocator per stream (see the SQLite migration 2026-11-23-000013_stream_positions): every head
-- starts at 0 in a new database.
INSERT INTO stream_positions (stream, position) VALUES
    ('events', 0), ('account_data', 0), ('to_device', 0), ('device_lists', 0), ('receipts', 0),
    ('presence', 0), ('typing', 0);
