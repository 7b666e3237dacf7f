DROP INDEX profiles_avatar_desc;
DROP INDEX profiles_displayname_desc;
