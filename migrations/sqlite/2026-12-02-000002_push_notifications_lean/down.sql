DROP INDEX push_notifications_user_newest;
CREATE UNIQUE INDEX push_notifications_user_event ON push_notifications (user_id, event_id);
