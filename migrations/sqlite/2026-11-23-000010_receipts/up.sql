-- Read receipts: the latest per (room, user, type, thread). stream_id orders changes for /sync;
-- event_stream is the receipted event's position, so a receipt never moves backwards.
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
