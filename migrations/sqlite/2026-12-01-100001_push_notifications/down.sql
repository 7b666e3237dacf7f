DROP TABLE push_progress;
DROP TABLE push_counts;
DROP TABLE push_notifications;
