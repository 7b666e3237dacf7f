-- The state events of a room in stream order, without the messages between them: the state at
-- a position (an initial sync, a sync's gap, /context, /messages with lazy members) reads these
-- rows only, however long the room's history.
CREATE INDEX events_room_state ON events (room_id, stream_ordering) WHERE state_key IS NOT NULL;
