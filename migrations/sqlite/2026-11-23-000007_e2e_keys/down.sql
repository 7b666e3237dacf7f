DROP TABLE remote_devices;
DROP TABLE remote_device_lists;
DROP TABLE device_list_streams;
DROP TABLE cross_signing_keys;
DROP TABLE fallback_keys;
DROP TABLE one_time_keys;
DROP TABLE device_keys;
