-- OpenID tokens a user asked for (`/user/{userId}/openid/request_token`), which other servers
-- exchange for the user's ID. Only the SHA-256 of a token is kept.
CREATE TABLE openid_tokens (
    token_hash TEXT PRIMARY KEY NOT NULL,
    user_id TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX openid_tokens_expiry ON openid_tokens (expires_at);
CREATE INDEX openid_tokens_user ON openid_tokens (user_id, expires_at);
