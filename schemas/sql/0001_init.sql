-- carboy schema, version 1. Migrations are forward-only: never edit a released file,
-- add the next number instead. Times are RFC 3339 UTC text (sortable).

CREATE TABLE users (
  id            TEXT PRIMARY KEY,
  username      TEXT NOT NULL UNIQUE COLLATE NOCASE,
  password_hash TEXT NOT NULL,          -- argon2id, libsodium's crypto_pwhash_str format
  is_admin      INTEGER NOT NULL DEFAULT 0,
  created_at    TEXT NOT NULL
);

CREATE TABLE folders (
  id         TEXT PRIMARY KEY,
  name       TEXT NOT NULL,
  parent_id  TEXT REFERENCES folders(id),
  owner_id   TEXT NOT NULL REFERENCES users(id),
  visibility TEXT NOT NULL DEFAULT 'private' CHECK (visibility IN ('private', 'public')),
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  deleted_at TEXT
);
-- Sibling names are unique among live folders; top-level names are unique per owner.
CREATE UNIQUE INDEX folders_live_name
  ON folders(coalesce(parent_id, 'root:' || owner_id), name) WHERE deleted_at IS NULL;
CREATE INDEX folders_parent ON folders(parent_id);
CREATE INDEX folders_owner_top ON folders(owner_id) WHERE parent_id IS NULL;

-- One row per distinct content; the bytes live in the blob store under sha256.
CREATE TABLE blobs (
  sha256     TEXT PRIMARY KEY,
  size       INTEGER NOT NULL,
  created_at TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE files (
  id         TEXT PRIMARY KEY,
  folder_id  TEXT NOT NULL REFERENCES folders(id),
  name       TEXT NOT NULL,
  owner_id   TEXT NOT NULL REFERENCES users(id),
  version    INTEGER NOT NULL DEFAULT 1,  -- the current version
  kind       TEXT NOT NULL DEFAULT 'other',
  media_type TEXT NOT NULL DEFAULT 'application/octet-stream',
  status     TEXT NOT NULL DEFAULT 'uploaded'
             CHECK (status IN ('uploaded', 'processing', 'processed', 'failed')),
  error      TEXT,
  visibility TEXT NOT NULL DEFAULT 'private' CHECK (visibility IN ('private', 'public')),
  metadata   TEXT,                        -- user metadata, a JSON object
  created_at TEXT NOT NULL,
  updated_at TEXT NOT NULL,
  deleted_at TEXT
);
CREATE UNIQUE INDEX files_live_name ON files(folder_id, name) WHERE deleted_at IS NULL;

CREATE TABLE file_versions (
  file_id    TEXT NOT NULL REFERENCES files(id),
  version    INTEGER NOT NULL,
  sha256     TEXT NOT NULL REFERENCES blobs(sha256),
  size       INTEGER NOT NULL,
  media_type TEXT NOT NULL,
  created_by TEXT REFERENCES users(id),
  created_at TEXT NOT NULL,
  PRIMARY KEY (file_id, version)
) WITHOUT ROWID;
CREATE INDEX file_versions_sha ON file_versions(sha256);

-- Typed properties of a file (or of a record inside it): extracted by converters or
-- given by users as metadata.
CREATE TABLE properties (
  id         INTEGER PRIMARY KEY,
  file_id    TEXT NOT NULL REFERENCES files(id),
  record_id  TEXT,
  name       TEXT NOT NULL,
  value_text TEXT,
  value_num  REAL,
  unit       TEXT,
  iri        TEXT,
  source     TEXT NOT NULL CHECK (source IN ('extracted', 'user'))
);
CREATE INDEX properties_file ON properties(file_id, record_id);
CREATE INDEX properties_name_num ON properties(name, value_num);

-- tus resumable uploads in progress. The bytes received so far live in
-- DATA/uploads/ID.part; "offset" is what has been durably accepted.
CREATE TABLE uploads (
  id         TEXT PRIMARY KEY,
  owner_id   TEXT NOT NULL REFERENCES users(id),
  folder_id  TEXT NOT NULL REFERENCES folders(id),
  filename   TEXT NOT NULL,
  length     INTEGER NOT NULL,
  "offset"   INTEGER NOT NULL DEFAULT 0,
  file_id    TEXT,                        -- set once complete
  created_at TEXT NOT NULL,
  expires_at TEXT NOT NULL
);
