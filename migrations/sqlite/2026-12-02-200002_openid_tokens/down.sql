DROP TABLE openid_tokens;
