-- Depictions of records (SVG), rendered on first request and kept.
CREATE TABLE record_depictions (
  record_id  TEXT PRIMARY KEY REFERENCES records(id),
  sha256     TEXT NOT NULL REFERENCES blobs(sha256),
  size       INTEGER NOT NULL,
  created_at TEXT NOT NULL
) WITHOUT ROWID;
