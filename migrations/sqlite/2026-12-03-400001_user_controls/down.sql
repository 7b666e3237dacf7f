DROP INDEX user_threepids_address;
DROP TABLE cross_signing_replacement_windows;
DROP TABLE user_experimental_features;
DROP TABLE ratelimit_overrides;
ALTER TABLE users DROP COLUMN suspended;
