-- A user's own membership events and the room's history_visibility events, found without a scan
-- of the room's history: history visibility reads them for every judged event.
CREATE INDEX events_room_type_key ON events (room_id, event_type, state_key, stream_ordering);
