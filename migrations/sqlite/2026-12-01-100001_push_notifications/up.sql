-- Notifications found by evaluating push rules after commit: one row per (user, event) that
-- notified. thread_key is 'main' or the thread root's event ID, as threaded receipts name it.
CREATE TABLE push_notifications (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id TEXT NOT NULL,
    room_id TEXT NOT NULL,
    event_id TEXT NOT NULL,
    stream_ordering BIGINT NOT NULL,
    thread_key TEXT NOT NULL,
    ts BIGINT NOT NULL,
    actions TEXT NOT NULL,
    highlight BOOLEAN NOT NULL
);
CREATE UNIQUE INDEX push_notifications_user_event ON push_notifications (user_id, event_id);
CREATE INDEX push_notifications_user_room ON push_notifications (user_id, room_id, stream_ordering);
CREATE INDEX push_notifications_room ON push_notifications (room_id);

-- Unread counts, kept as notifications arrive and recounted when a read receipt moves.
CREATE TABLE push_counts (
    user_id TEXT NOT NULL,
    room_id TEXT NOT NULL,
    thread_key TEXT NOT NULL,
    notifications BIGINT NOT NULL,
    highlights BIGINT NOT NULL,
    PRIMARY KEY (user_id, room_id, thread_key)
);
CREATE INDEX push_counts_room ON push_counts (room_id);

-- How far the push evaluator has read the event stream (one row).
CREATE TABLE push_progress (
    id INTEGER PRIMARY KEY CHECK (id = 0),
    stream_ordering BIGINT NOT NULL
);
