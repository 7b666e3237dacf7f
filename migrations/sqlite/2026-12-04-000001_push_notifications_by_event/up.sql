-- One notification row per notified member per event wrote 31 rows for every message of a
-- 32-member room, and made this table the largest cost of sending. Now an event's
-- notifications are one row per distinct outcome (actions, highlight), naming the notified
-- members by a bitmap over the room's roster: each local member of a room gets a small,
-- permanent number in it when first seen.
CREATE TABLE push_members (
    room_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    idx INTEGER NOT NULL,
    PRIMARY KEY (room_id, user_id)
) WITHOUT ROWID;
CREATE UNIQUE INDEX push_members_number ON push_members (room_id, idx);
CREATE INDEX push_members_user ON push_members (user_id);

-- members: bit i (byte i / 8, mask 1 << (i % 8)) set when the roster's member i was notified.
-- grp tells apart the outcomes of one event. ts is the event's time, for pruning.
CREATE TABLE push_event_notifications (
    room_id TEXT NOT NULL,
    stream_ordering BIGINT NOT NULL,
    grp INTEGER NOT NULL,
    thread_key TEXT NOT NULL,
    actions TEXT NOT NULL,
    highlight BOOLEAN NOT NULL,
    ts BIGINT NOT NULL,
    members BLOB NOT NULL,
    PRIMARY KEY (room_id, stream_ordering, grp)
) WITHOUT ROWID;
CREATE INDEX push_event_notifications_ts ON push_event_notifications (ts);

-- Existing rows move over: members numbered by user ID within each room, each old row one
-- single-member outcome (grp = the member's number, unique within its event).
INSERT INTO push_members (room_id, user_id, idx)
    SELECT room_id, user_id, row_number() OVER (PARTITION BY room_id ORDER BY user_id) - 1
    FROM (SELECT DISTINCT room_id, user_id FROM push_notifications);
INSERT INTO push_event_notifications (room_id, stream_ordering, grp, thread_key, actions, highlight, ts, members)
    SELECT n.room_id, n.stream_ordering, m.idx, n.thread_key, n.actions, n.highlight,
        COALESCE((SELECT e.origin_server_ts FROM events e WHERE e.stream_ordering = n.stream_ordering), 0),
        unhex(hex(zeroblob(m.idx / 8)) || printf('%02X', 1 << (m.idx % 8)))
    FROM push_notifications n JOIN push_members m ON m.room_id = n.room_id AND m.user_id = n.user_id;
DROP TABLE push_notifications;
