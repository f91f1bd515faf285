-- Conversions (GET /api/v1/files/{id}/convert) that failed for good: remembered per file
-- version and artifact kind ("to-inchi", "to-csv.2", "to-xyz.filled"), so that later
-- requests answer with the reason at once instead of queuing the same conversion again.
-- Processing the version again (an extract job) forgets them.
CREATE TABLE conversion_failures (
  file_id    TEXT NOT NULL REFERENCES files(id),
  version    INTEGER NOT NULL,
  kind       TEXT NOT NULL,
  error      TEXT NOT NULL,
  job_id     TEXT,
  created_at TEXT NOT NULL,
  PRIMARY KEY (file_id, version, kind)
) WITHOUT ROWID;
