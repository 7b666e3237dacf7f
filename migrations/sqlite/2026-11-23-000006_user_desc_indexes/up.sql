-- dir=b on the user list sorts by the key descending with ties by user ID ascending (Synapse's
-- rule); without a matching index SQLite sorts every row that shares the key (all non-guests, say).
CREATE INDEX users_admin_desc ON users (admin DESC, user_id ASC);
CREATE INDEX users_deactivated_desc ON users (deactivated DESC, user_id ASC);
CREATE INDEX users_is_guest_desc ON users (is_guest DESC, user_id ASC);
CREATE INDEX users_user_type_desc ON users (user_type DESC, user_id ASC);
CREATE INDEX users_shadow_banned_desc ON users (shadow_banned DESC, user_id ASC);
CREATE INDEX users_locked_desc ON users (locked DESC, user_id ASC);
CREATE INDEX users_creation_ts_desc ON users (creation_ts DESC, user_id ASC);
CREATE INDEX users_last_seen_desc ON users (last_seen_ts DESC, user_id ASC);
