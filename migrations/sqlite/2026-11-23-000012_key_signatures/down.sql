DROP TABLE key_signatures;
