-- Device list versions become positions of one stream across users, so a sync can ask which
-- users' device lists changed since its token.
CREATE INDEX device_list_streams_by_position ON device_list_streams (stream_id);
