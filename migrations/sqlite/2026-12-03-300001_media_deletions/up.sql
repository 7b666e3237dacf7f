-- Media whose rows are deleted but whose files may still be on disk: written in the transaction
-- that deletes the rows, cleared once the files are gone, and finished at startup after a crash,
-- so the store and the media directory agree.
CREATE TABLE media_deletions (
    media_id TEXT PRIMARY KEY NOT NULL
);
