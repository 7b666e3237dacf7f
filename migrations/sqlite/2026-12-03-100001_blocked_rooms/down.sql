DROP TABLE blocked_rooms;
