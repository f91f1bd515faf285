-- Depictions that failed: the converter could not draw the record, or ran out of time.
-- Remembered per record (a record belongs to one version of a file), so that later
-- requests answer with the reason at once instead of queuing the same drawing again.
CREATE TABLE record_depiction_failures (
  record_id  TEXT PRIMARY KEY REFERENCES records(id),
  error      TEXT NOT NULL,
  job_id     TEXT,
  created_at TEXT NOT NULL
) WITHOUT ROWID;
