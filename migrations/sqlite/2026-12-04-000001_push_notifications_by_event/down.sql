-- The per-member rows are not rebuilt: notifications recorded since are dropped.
CREATE TABLE push_notifications (
    user_id TEXT NOT NULL,
    room_id TEXT NOT NULL,
    stream_ordering BIGINT NOT NULL,
    thread_key TEXT NOT NULL,
    actions TEXT NOT NULL,
    highlight BOOLEAN NOT NULL,
    PRIMARY KEY (user_id, room_id, stream_ordering)
) WITHOUT ROWID;
CREATE INDEX push_notifications_user_newest ON push_notifications (user_id, stream_ordering);
DROP TABLE push_event_notifications;
DROP TABLE push_members;
