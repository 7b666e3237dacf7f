DROP TABLE user_ips;
