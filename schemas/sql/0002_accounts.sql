-- Accounts, sharing and the audit log. Secrets (session ids, API tokens, link tokens)
-- are stored only as their SHA-256; the plaintext is shown once and never kept.

CREATE TABLE groups (
  id         TEXT PRIMARY KEY,
  name       TEXT NOT NULL UNIQUE COLLATE NOCASE,
  created_at TEXT NOT NULL
);

CREATE TABLE group_members (
  group_id   TEXT NOT NULL REFERENCES groups(id),
  user_id    TEXT NOT NULL REFERENCES users(id),
  created_at TEXT NOT NULL,
  PRIMARY KEY (group_id, user_id)
) WITHOUT ROWID;
CREATE INDEX group_members_user ON group_members(user_id);

CREATE TABLE sessions (
  token_hash TEXT PRIMARY KEY,
  user_id    TEXT NOT NULL REFERENCES users(id),
  created_at TEXT NOT NULL,
  expires_at TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE tokens (
  id           TEXT PRIMARY KEY,
  user_id      TEXT NOT NULL REFERENCES users(id),
  name         TEXT NOT NULL,
  token_hash   TEXT NOT NULL UNIQUE,
  scope        TEXT NOT NULL CHECK (scope IN ('read', 'write')),
  created_at   TEXT NOT NULL,
  expires_at   TEXT,
  revoked_at   TEXT,
  last_used_at TEXT
);
CREATE INDEX tokens_user ON tokens(user_id);

-- A grant gives a user or a group a role on a folder (and everything below it) or a file.
CREATE TABLE grants (
  id          TEXT PRIMARY KEY,
  object_type TEXT NOT NULL CHECK (object_type IN ('folder', 'file')),
  object_id   TEXT NOT NULL,
  user_id     TEXT REFERENCES users(id),
  group_id    TEXT REFERENCES groups(id),
  role        TEXT NOT NULL CHECK (role IN ('viewer', 'editor')),
  created_by  TEXT NOT NULL REFERENCES users(id),
  created_at  TEXT NOT NULL,
  CHECK ((user_id IS NULL) <> (group_id IS NULL))
);
CREATE INDEX grants_object ON grants(object_type, object_id);
CREATE INDEX grants_user ON grants(user_id);
CREATE INDEX grants_group ON grants(group_id);

-- Share links: read-only access to one folder (and below) or file, without login.
CREATE TABLE links (
  id          TEXT PRIMARY KEY,
  object_type TEXT NOT NULL CHECK (object_type IN ('folder', 'file')),
  object_id   TEXT NOT NULL,
  token_hash  TEXT NOT NULL UNIQUE,
  created_by  TEXT NOT NULL REFERENCES users(id),
  created_at  TEXT NOT NULL,
  expires_at  TEXT,
  revoked_at  TEXT
);
CREATE INDEX links_object ON links(object_type, object_id);

CREATE TABLE audit (
  id          INTEGER PRIMARY KEY,
  at          TEXT NOT NULL,
  user_id     TEXT,
  action      TEXT NOT NULL,
  object_type TEXT,
  object_id   TEXT,
  detail      TEXT,
  remote_addr TEXT
);
CREATE INDEX audit_at ON audit(at);
