-- One allocator per stream: the head of each stream is kept here and advanced in the write
-- transaction that inserts the row, so positions never regress or repeat when rows are deleted
-- (acknowledged to-device messages, purged rooms' events and receipts) or across restarts.
-- Each head starts at the highest position ever handed out: for the AUTOINCREMENT tables that is
-- in sqlite_sequence even when the newest rows are gone.
CREATE TABLE stream_positions (
    stream TEXT PRIMARY KEY NOT NULL,
    position BIGINT NOT NULL
);
INSERT INTO stream_positions (stream, position) VALUES
    ('events', MAX(COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'events'), 0),
                   COALESCE((SELECT MAX(stream_ordering) FROM events), 0))),
    ('account_data', MAX(COALESCE((SELECT value FROM stream_counters WHERE name = 'account_data'), 0),
                         COALESCE((SELECT MAX(stream_id) FROM account_data), 0))),
    ('to_device', MAX(COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'to_device_messages'), 0),
                      COALESCE((SELECT MAX(stream_id) FROM to_device_messages), 0))),
    ('device_lists', COALESCE((SELECT MAX(stream_id) FROM device_list_streams), 0)),
    ('receipts', COALESCE((SELECT MAX(stream_id) FROM receipts), 0)),
    ('presence', COALESCE((SELECT MAX(stream_id) FROM presence), 0)),
    -- Typing lives in memory; this is the ceiling of the block of positions the running server
    -- reserved, so the next start begins above anything handed out.
    ('typing', 0);
DROP TABLE stream_counters;
