DROP TABLE pending_purges;
