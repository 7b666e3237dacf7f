DROP TRIGGER users_counted_update ON users;
DROP TRIGGER users_counted ON users;
DROP FUNCTION user_counts_change();
DROP TABLE user_counts;
