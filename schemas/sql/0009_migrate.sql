-- carboy migrate and carboy verify (0.7.0).
--
-- Settings the program keeps about itself. Keys used:
--   store_url           the store this database's blobs are in, set by carboy migrate
--                       when it switches the live store (or by the first serve with an
--                       explicit --store/CARBOY_STORE); absent = DATA/blobs
--   store_previous_url  the store the last migration moved away from (reads that miss
--                       fall back to it; carboy verify --repair restores from it)
--   store_in_use        the store a running server uses; updated_at is its heartbeat
CREATE TABLE settings (
  key        TEXT PRIMARY KEY,
  value      TEXT NOT NULL,
  updated_at TEXT NOT NULL
) WITHOUT ROWID;

-- One row per carboy migrate from a source to a target store. state: running (copying),
-- switched (every blob verified, the live store is the target; a last pass copies what
-- was written to the source during the switch), done, abandoned (a migration to another
-- target started before this one finished). runs counts invocations.
CREATE TABLE store_migrations (
  id          INTEGER PRIMARY KEY,
  source      TEXT NOT NULL,
  target      TEXT NOT NULL,
  state       TEXT NOT NULL DEFAULT 'running'
              CHECK (state IN ('running', 'switched', 'done', 'abandoned')),
  runs        INTEGER NOT NULL DEFAULT 0,
  started_at  TEXT NOT NULL,
  switched_at TEXT,
  finished_at TEXT
);

-- The state of each blob in a migration. pending: to copy; verified: the target's copy
-- was read back and hashed to its sha256 with its size; failed: error says why (tried
-- again by the next run). copies counts the times bytes were written to the target
-- (a blob found intact in the target is verified without a copy); run and batch say when
-- it was last handled.
CREATE TABLE migration_blobs (
  migration_id INTEGER NOT NULL REFERENCES store_migrations(id),
  sha256       TEXT NOT NULL,
  size         INTEGER NOT NULL,
  state        TEXT NOT NULL DEFAULT 'pending'
               CHECK (state IN ('pending', 'copied', 'verified', 'failed')),
  attempts     INTEGER NOT NULL DEFAULT 0,
  copies       INTEGER NOT NULL DEFAULT 0,
  run          INTEGER,
  batch        INTEGER,
  error        TEXT,
  updated_at   TEXT,
  PRIMARY KEY (migration_id, sha256)
) WITHOUT ROWID;
CREATE INDEX migration_blobs_state ON migration_blobs(migration_id, state);
