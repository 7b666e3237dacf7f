-- Signatures uploaded with /keys/signatures/upload, kept apart from the signed key objects: a
-- user's own signatures are shown to everyone, another user's only to that signer.
CREATE TABLE key_signatures (
    target_user TEXT NOT NULL,
    target_key TEXT NOT NULL,
    signer_user TEXT NOT NULL,
    signer_key TEXT NOT NULL,
    signature TEXT NOT NULL,
    PRIMARY KEY (target_user, target_key, signer_user, signer_key)
);
