-- End-to-end encryption keys of local devices, and the device lists of remote users as their
-- servers last reported them (GET /_matrix/federation/v1/user/devices/{userId}).
CREATE TABLE device_keys (
    user_id TEXT NOT NULL,
    device_id TEXT NOT NULL,
    key_json TEXT NOT NULL,
    PRIMARY KEY (user_id, device_id)
);
CREATE TABLE one_time_keys (
    user_id TEXT NOT NULL,
    device_id TEXT NOT NULL,
    key_id TEXT NOT NULL,
    algorithm TEXT NOT NULL,
    key_json TEXT NOT NULL,
    PRIMARY KEY (user_id, device_id, key_id)
);
CREATE INDEX one_time_keys_by_algorithm ON one_time_keys (user_id, device_id, algorithm);
CREATE TABLE fallback_keys (
    user_id TEXT NOT NULL,
    device_id TEXT NOT NULL,
    algorithm TEXT NOT NULL,
    key_id TEXT NOT NULL,
    key_json TEXT NOT NULL,
    used BOOLEAN NOT NULL DEFAULT 0,
    PRIMARY KEY (user_id, device_id, algorithm)
);
-- Local and remote users alike: master, self_signing, user_signing.
CREATE TABLE cross_signing_keys (
    user_id TEXT NOT NULL,
    key_type TEXT NOT NULL,
    key_json TEXT NOT NULL,
    PRIMARY KEY (user_id, key_type)
);
-- A local user's device list version: bumped whenever a device or its keys change.
CREATE TABLE device_list_streams (
    user_id TEXT PRIMARY KEY NOT NULL,
    stream_id BIGINT NOT NULL
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
