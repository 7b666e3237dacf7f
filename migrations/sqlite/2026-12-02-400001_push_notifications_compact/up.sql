-- One row per notified member per event makes this the busiest table of a sending server:
-- keep each row narrow and in as few B-trees as possible. The rows are clustered by
-- (user, room, position), which serves recounting a room after a receipt; one index by
-- (user, position) serves /notifications newest first. The event's ID and timestamp are read
-- from the event itself (by its position), not repeated per member.
CREATE TABLE push_notifications_compact (
    user_id TEXT NOT NULL,
    room_id TEXT NOT NULL,
    stream_ordering BIGINT NOT NULL,
    thread_key TEXT NOT NULL,
    actions TEXT NOT NULL,
    highlight BOOLEAN NOT NULL,
    PRIMARY KEY (user_id, room_id, stream_ordering)
) WITHOUT ROWID;
INSERT OR IGNORE INTO push_notifications_compact (user_id, room_id, stream_ordering, thread_key, actions, highlight)
    SELECT user_id, room_id, stream_ordering, thread_key, actions, highlight FROM push_notifications;
DROP TABLE push_notifications;
ALTER TABLE push_notifications_compact RENAME TO push_notifications;
CREATE INDEX push_notifications_user_newest ON push_notifications (user_id, stream_ordering);
