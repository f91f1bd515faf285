-- Structure search: each record's FP2 fingerprint (1024 bits), and results of
-- synchronous helper jobs (query identification, SMARTS matching).
ALTER TABLE records ADD COLUMN fp BLOB;
ALTER TABLE jobs ADD COLUMN result TEXT;
