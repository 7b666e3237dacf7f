-- What users report to the server's admins: an event (room_id, event_id and the event's sender
-- set), a room (room_id set), or a user (target_user_id set). Reports of a room go with it when
-- the room is purged.
CREATE TABLE reports (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
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
