-- A user-signing key is the user's own business: uploading it is news to the user's devices but
-- not to their room-mates. Each user's row keeps apart the position of their last change that
-- others must hear of.
ALTER TABLE device_list_streams ADD COLUMN public_stream_id BIGINT NOT NULL DEFAULT 0;
UPDATE device_list_streams SET public_stream_id = stream_id;
CREATE INDEX device_list_streams_by_public_position ON device_list_streams (public_stream_id);
