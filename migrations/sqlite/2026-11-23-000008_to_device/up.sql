-- Send-to-device messages waiting for their device's next /sync; a sync that presents a token
-- past a message acknowledges it and the message is deleted.
CREATE TABLE to_device_messages (
    stream_id INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id TEXT NOT NULL,
    device_id TEXT NOT NULL,
    sender TEXT NOT NULL,
    event_type TEXT NOT NULL,
    content TEXT NOT NULL
);
CREATE INDEX to_device_by_device ON to_device_messages (user_id, device_id, stream_id);
-- Transaction IDs of /sendToDevice, so a retried request delivers nothing twice.
CREATE TABLE to_device_txns (
    user_id TEXT NOT NULL,
    device_id TEXT NOT NULL,
    txn_id TEXT NOT NULL,
    PRIMARY KEY (user_id, device_id, txn_id)
);
