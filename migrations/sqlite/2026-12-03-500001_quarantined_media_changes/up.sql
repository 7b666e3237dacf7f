-- Every change of a media item's quarantine (Synapse's `quarantined_media_changes` stream), in
-- the order made, for `GET /_synapse/admin/v1/media/quarantine_changes`. `origin` is NULL for
-- local media.
CREATE TABLE quarantined_media_changes (
    stream_id INTEGER PRIMARY KEY AUTOINCREMENT NOT NULL,
    origin TEXT,
    media_id TEXT NOT NULL,
    quarantined BOOLEAN NOT NULL
);
-- Synapse's stream starts at position 1, so the first change is numbered 2.
INSERT INTO sqlite_sequence (name, seq) VALUES ('quarantined_media_changes', 1);
