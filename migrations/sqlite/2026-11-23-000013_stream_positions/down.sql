CREATE TABLE stream_counters (
    name TEXT PRIMARY KEY NOT NULL,
    value BIGINT NOT NULL
);
INSERT INTO stream_counters (name, value)
    SELECT 'account_data', position FROM stream_positions WHERE stream = 'account_data';
DROP TABLE stream_positions;
