DROP INDEX users_last_seen_desc;
DROP INDEX users_creation_ts_desc;
DROP INDEX users_locked_desc;
DROP INDEX users_shadow_banned_desc;
DROP INDEX users_user_type_desc;
DROP INDEX users_is_guest_desc;
DROP INDEX users_deactivated_desc;
DROP INDEX users_admin_desc;
