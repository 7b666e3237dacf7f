DROP TABLE admin_jobs;
