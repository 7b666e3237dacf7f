-- When each transaction ID was taken (ms). They answer retries for a day, as Synapse's do, and
-- are pruned after it, so a device's stored IDs stay few enough for a room actor to read at the
-- device's first send. IDs stored before this column count from the upgrade.
ALTER TABLE txn_ids ADD COLUMN ts BIGINT NOT NULL DEFAULT 0;
UPDATE txn_ids SET ts = (EXTRACT(EPOCH FROM now()) * 1000)::BIGINT;
