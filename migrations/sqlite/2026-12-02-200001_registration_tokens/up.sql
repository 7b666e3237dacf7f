-- Tokens an admin hands out so that registration with `registration_requires_token` may go on.
-- Only completed uses are stored: a pending use is a live UIA session holding the token, and
-- those sessions live in memory (a restart forgets them, and so their pending uses).
CREATE TABLE registration_tokens (
    token TEXT PRIMARY KEY NOT NULL,
    uses_allowed BIGINT,
    completed BIGINT NOT NULL DEFAULT 0,
    expiry_time BIGINT,
    created_ts BIGINT NOT NULL
);
