-- The SHA-256 of each upload (hex), as Synapse keeps it: quarantining media quarantines every
-- copy with the same bytes, and an upload of quarantined bytes is quarantined at once. Media
-- stored before this column has none and is quarantined by ID alone.
ALTER TABLE media ADD COLUMN sha256 TEXT;
CREATE INDEX media_sha256 ON media (sha256);
