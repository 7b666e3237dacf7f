-- The Synapse user admin API: last-seen on users (kept by the client IP flusher, so the user
-- list can sort by it with an index), third-party IDs, pushers, the media repository, and one
-- index per sort key of the user list.
ALTER TABLE users ADD COLUMN last_seen_ts BIGINT;

CREATE INDEX users_admin ON users (admin, user_id);
CREATE INDEX users_deactivated ON users (deactivated, user_id);
CREATE INDEX users_is_guest ON users (is_guest, user_id);
CREATE INDEX users_user_type ON users (user_type, user_id);
CREATE INDEX users_shadow_banned ON users (shadow_banned, user_id);
CREATE INDEX users_locked ON users (locked, user_id);
CREATE INDEX users_last_seen ON users (last_seen_ts, user_id);
CREATE INDEX profiles_avatar ON profiles (avatar_url, user_id);

CREATE TABLE user_threepids (
    user_id TEXT NOT NULL,
    medium TEXT NOT NULL,
    address TEXT NOT NULL,
    added_at BIGINT NOT NULL,
    validated_at BIGINT NOT NULL,
    PRIMARY KEY (user_id, medium, address)
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
);
CREATE INDEX media_user_created ON media (user_id, created_ts, media_id);
