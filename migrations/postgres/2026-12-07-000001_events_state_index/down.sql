DROP INDEX events_room_state;
