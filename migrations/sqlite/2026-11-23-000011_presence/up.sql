-- Presence as users (or their syncs) set it. stream_id moves only when the state or status
-- message changes, so keeping last_active fresh wakes nobody.
CREATE TABLE presence (
    user_id TEXT PRIMARY KEY NOT NULL,
    state TEXT NOT NULL,
    status_msg TEXT,
    last_active_ts BIGINT NOT NULL,
    stream_id BIGINT NOT NULL
);
CREATE INDEX presence_by_stream ON presence (stream_id);
