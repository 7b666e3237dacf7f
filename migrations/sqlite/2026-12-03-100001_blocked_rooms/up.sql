-- Rooms an admin blocked: local users may not join or be invited. A room ID may be blocked before
-- this server knows the room, and the block outlives a purge of the room.
CREATE TABLE blocked_rooms (
    room_id TEXT PRIMARY KEY NOT NULL,
    user_id TEXT NOT NULL
);
