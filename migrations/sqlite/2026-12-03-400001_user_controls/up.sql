-- A suspended user can read but not send, join, invite or change their profile.
ALTER TABLE users ADD COLUMN suspended BOOLEAN NOT NULL DEFAULT 0;

-- An admin's override of a user's message rate limit; 0/0 means no limit at all.
CREATE TABLE ratelimit_overrides (
    user_id TEXT PRIMARY KEY NOT NULL,
    messages_per_second BIGINT NOT NULL,
    burst_count BIGINT NOT NULL
);

-- Experimental features an admin switched on or off for one user.
CREATE TABLE user_experimental_features (
    user_id TEXT NOT NULL,
    feature TEXT NOT NULL,
    enabled BOOLEAN NOT NULL,
    PRIMARY KEY (user_id, feature)
);

-- Until when a user may replace their master cross-signing key without interactive auth.
CREATE TABLE cross_signing_replacement_windows (
    user_id TEXT PRIMARY KEY NOT NULL,
    until_ms BIGINT NOT NULL
);

-- Finding the user of a third-party ID.
CREATE INDEX user_threepids_address ON user_threepids (medium, address);
