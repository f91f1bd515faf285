-- The persistent job queue (see src/jobs/queue.c for the design) and webhooks.

CREATE TABLE jobs (
  id               TEXT PRIMARY KEY,
  type             TEXT NOT NULL,
  state            TEXT NOT NULL DEFAULT 'queued'
                   CHECK (state IN ('queued', 'running', 'succeeded', 'failed', 'canceled')),
  owner_id         TEXT REFERENCES users(id),
  inputs           TEXT NOT NULL DEFAULT '[]',   -- JSON array of file ids
  params           TEXT NOT NULL DEFAULT '{}',   -- JSON object
  output_folder_id TEXT,
  outputs          TEXT NOT NULL DEFAULT '[]',   -- JSON array of file ids
  progress         REAL NOT NULL DEFAULT 0,
  attempts         INTEGER NOT NULL DEFAULT 0,
  max_attempts     INTEGER NOT NULL DEFAULT 3,
  error            TEXT,
  cancel_requested INTEGER NOT NULL DEFAULT 0,
  run_after        TEXT NOT NULL,                -- not before (retry backoff)
  lease_owner      TEXT,                         -- the server instance running it
  lease_expires    TEXT,
  created_at       TEXT NOT NULL,
  started_at       TEXT,
  finished_at      TEXT,
  updated_at       TEXT NOT NULL
);
CREATE INDEX jobs_claim ON jobs(run_after) WHERE state = 'queued';
CREATE INDEX jobs_running ON jobs(lease_expires) WHERE state = 'running';
CREATE INDEX jobs_state ON jobs(state, created_at);
CREATE INDEX jobs_owner ON jobs(owner_id, created_at);

-- Which jobs touch which file (inputs and outputs), for access checks and listings.
CREATE TABLE job_files (
  job_id  TEXT NOT NULL REFERENCES jobs(id),
  file_id TEXT NOT NULL,
  role    TEXT NOT NULL CHECK (role IN ('input', 'output')),
  PRIMARY KEY (job_id, file_id, role)
) WITHOUT ROWID;
CREATE INDEX job_files_file ON job_files(file_id);

-- Derived content of a file version made by converters: extracted text, previews,
-- conversions. The bytes are blobs in the store like any upload.
CREATE TABLE artifacts (
  file_id    TEXT NOT NULL REFERENCES files(id),
  version    INTEGER NOT NULL,
  kind       TEXT NOT NULL,           -- text, preview, ...
  media_type TEXT NOT NULL,
  sha256     TEXT NOT NULL REFERENCES blobs(sha256),
  size       INTEGER NOT NULL,
  created_at TEXT NOT NULL,
  PRIMARY KEY (file_id, version, kind)
) WITHOUT ROWID;

CREATE TABLE webhooks (
  id         TEXT PRIMARY KEY,
  owner_id   TEXT NOT NULL REFERENCES users(id),
  url        TEXT NOT NULL,
  events     TEXT NOT NULL,           -- JSON array of event names, or ["*"]
  secret     TEXT NOT NULL,           -- HMAC key; needed in clear to sign deliveries
  created_at TEXT NOT NULL,
  deleted_at TEXT
);

CREATE TABLE deliveries (
  id           INTEGER PRIMARY KEY,
  webhook_id   TEXT NOT NULL REFERENCES webhooks(id),
  event        TEXT NOT NULL,
  payload      TEXT NOT NULL,
  state        TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'delivered', 'failed')),
  attempts     INTEGER NOT NULL DEFAULT 0,
  next_attempt TEXT NOT NULL,
  last_status  INTEGER,
  last_error   TEXT,
  created_at   TEXT NOT NULL
);
CREATE INDEX deliveries_due ON deliveries(next_attempt) WHERE state = 'pending';
