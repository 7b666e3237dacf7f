DROP TABLE key_backup_sessions;
DROP TABLE key_backup_versions;
