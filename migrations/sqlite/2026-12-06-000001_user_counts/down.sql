DROP TRIGGER users_counted_update;
DROP TRIGGER users_counted_delete;
DROP TRIGGER users_counted_insert;
DROP TABLE user_counts;
