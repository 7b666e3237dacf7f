DROP TABLE quarantined_media_changes;
