-- Admin jobs that run in the background (a room deletion, a history purge), kept so their status
-- outlives a restart and an interrupted one is resumed at start. Synapse's scheduled tasks.
CREATE TABLE admin_jobs (
    id TEXT PRIMARY KEY NOT NULL,
    action TEXT NOT NULL,
    resource_id TEXT NOT NULL,
    status TEXT NOT NULL,
    params TEXT NOT NULL,
    result TEXT,
    error TEXT,
    created_ts BIGINT NOT NULL,
    updated_ts BIGINT NOT NULL
);
CREATE INDEX admin_jobs_resource ON admin_jobs (resource_id, action);
CREATE INDEX admin_jobs_status ON admin_jobs (status);
