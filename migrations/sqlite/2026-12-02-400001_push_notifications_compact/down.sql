CREATE TABLE push_notifications_wide (
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
INSERT INTO push_notifications_wide (user_id, room_id, event_id, stream_ordering, thread_key, ts, actions, highlight)
    SELECT n.user_id, n.room_id, e.event_id, n.stream_ordering, n.thread_key, e.origin_server_ts, n.actions, n.highlight
    FROM push_notifications n JOIN events e ON e.stream_ordering = n.stream_ordering ORDER BY n.stream_ordering;
DROP TABLE push_notifications;
ALTER TABLE push_notifications_wide RENAME TO push_notifications;
CREATE INDEX push_notifications_user_room ON push_notifications (user_id, room_id, stream_ordering);
CREATE INDEX push_notifications_room ON push_notifications (room_id);
CREATE INDEX push_notifications_user_newest ON push_notifications (user_id, id);
