-- Rooms whose purge started; a restart finishes them.
CREATE TABLE pending_purges (room_id TEXT PRIMARY KEY NOT NULL);
