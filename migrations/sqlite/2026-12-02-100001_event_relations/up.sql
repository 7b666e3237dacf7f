-- Relations between events (`m.relates_to` with a string `rel_type` and `event_id`): one row per
-- relating event, written in the commit that stores it, deleted when it is redacted or its room
-- purged. The parent need not exist: a relation to an unknown event is still indexed, as in Synapse.
CREATE TABLE event_relations (
    event_id TEXT PRIMARY KEY NOT NULL,
    room_id TEXT NOT NULL,
    relates_to_id TEXT NOT NULL,
    rel_type TEXT NOT NULL,
    event_type TEXT NOT NULL,
    sender TEXT NOT NULL,
    stream_ordering BIGINT NOT NULL,
    aggregation_key TEXT
);
CREATE INDEX event_relations_parent ON event_relations (relates_to_id, stream_ordering);
-- Threads of a room by latest activity, and a user's participation in them.
CREATE INDEX event_relations_room_type ON event_relations (room_id, rel_type, relates_to_id, stream_ordering);
CREATE INDEX event_relations_room ON event_relations (room_id);

-- The relations of the events stored before this table existed. A row whose JSON is not valid
-- (never written by this server, but an unreadable row must not stop a migration) is skipped.
INSERT OR IGNORE INTO event_relations
    (event_id, room_id, relates_to_id, rel_type, event_type, sender, stream_ordering, aggregation_key)
SELECT event_id, room_id,
       json_extract(json, '$.content."m.relates_to".event_id'),
       json_extract(json, '$.content."m.relates_to".rel_type'),
       event_type, sender, stream_ordering,
       CASE WHEN json_type(json, '$.content."m.relates_to".key') = 'text'
            THEN json_extract(json, '$.content."m.relates_to".key') END
FROM events
WHERE redacted_by IS NULL
  AND (CASE WHEN json_valid(json) THEN
          json_type(json, '$.content."m.relates_to".rel_type') = 'text'
          AND json_type(json, '$.content."m.relates_to".event_id') = 'text'
       ELSE 0 END);
