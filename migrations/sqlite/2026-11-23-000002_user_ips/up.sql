-- Every distinct (device, ip, user agent) seen on authenticated requests, for whois.
CREATE TABLE user_ips (
    user_id TEXT NOT NULL,
    device_id TEXT NOT NULL,
    ip TEXT NOT NULL,
    user_agent TEXT NOT NULL,
    last_seen BIGINT NOT NULL,
    PRIMARY KEY (user_id, device_id, ip, user_agent)
);
CREATE INDEX user_ips_last_seen ON user_ips (user_id, last_seen);
