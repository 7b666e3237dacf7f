-- One notification row per notified member per event makes this the busiest table of a sending
-- server. An index keyed by event ID put every insert on a random page (a page written to the
-- WAL per row); the evaluator records each page of events exactly once (its position moves in
-- the same transaction), so the uniqueness it enforced is not needed. /notifications reads a
-- user's rows newest first: an index on (user_id, id) serves it in order.
DROP INDEX push_notifications_user_event;
CREATE INDEX push_notifications_user_newest ON push_notifications (user_id, id);
