-- The user list sorts by displayname or avatar_url in either direction with ties broken by user ID
-- ascending (Synapse's rule); a descending twin of each index serves dir=b without a sort.
CREATE INDEX profiles_displayname_desc ON profiles (displayname DESC, user_id ASC);
CREATE INDEX profiles_avatar_desc ON profiles (avatar_url DESC, user_id ASC);
