-- The admin user list reports how many users match its flags; counting a million rows for every
-- page took ~80 ms, so the count per combination of the listed flags is kept as users change.
CREATE TABLE user_counts (
    is_guest BOOLEAN NOT NULL,
    deactivated BOOLEAN NOT NULL,
    admin BOOLEAN NOT NULL,
    locked BOOLEAN NOT NULL,
    n BIGINT NOT NULL,
    PRIMARY KEY (is_guest, deactivated, admin, locked)
);
INSERT INTO user_counts (is_guest, deactivated, admin, locked, n)
    SELECT is_guest, deactivated, admin, locked, count(*) FROM users GROUP BY is_guest, deactivated, admin, locked;

CREATE FUNCTION user_counts_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP IN ('UPDATE', 'DELETE') THEN
        UPDATE user_counts SET n = n - 1
            WHERE is_guest = OLD.is_guest AND deactivated = OLD.deactivated AND admin = OLD.admin AND locked = OLD.locked;
    END IF;
    IF TG_OP IN ('INSERT', 'UPDATE') THEN
        INSERT INTO user_counts (is_guest, deactivated, admin, locked, n) VALUES (NEW.is_guest, NEW.deactivated, NEW.admin, NEW.locked, 1)
            ON CONFLICT (is_guest, deactivated, admin, locked) DO UPDATE SET n = user_counts.n + 1;
    END IF;
    RETURN NULL;
END
$$;
CREATE TRIGGER users_counted AFTER INSERT OR DELETE ON users FOR EACH ROW EXECUTE FUNCTION user_counts_change();
CREATE TRIGGER users_counted_update AFTER UPDATE OF is_guest, deactivated, admin, locked ON users FOR EACH ROW
    WHEN (OLD.is_guest IS DISTINCT FROM NEW.is_guest OR OLD.deactivated IS DISTINCT FROM NEW.deactivated
        OR OLD.admin IS DISTINCT FROM NEW.admin OR OLD.locked IS DISTINCT FROM NEW.locked)
    EXECUTE FUNCTION user_counts_change();
