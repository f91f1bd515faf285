-- Categories (issue 21): a tree of terms an administrator maintains (a name, and an
-- ontology IRI when the term has one), assigned to files and folders. Terms are not
-- private: anyone may read the tree. An assignment is seen with its object only; a file
-- is in a category when it, or a folder above it, is assigned the category or one below
-- it (GET /api/v1/search?category=ID).
CREATE TABLE categories (
  id         TEXT PRIMARY KEY,
  parent_id  TEXT REFERENCES categories(id),
  name       TEXT NOT NULL,
  iri        TEXT,
  created_at TEXT NOT NULL
);
-- names are unique among siblings (roots compare through coalesce: NULLs are distinct
-- to a plain UNIQUE)
CREATE UNIQUE INDEX categories_sibling ON categories(coalesce(parent_id, ''), name);

-- object_id: a file's or a folder's id. A deleted object's rows stay (a soft delete) and
-- are never shown: every read joins the live object.
CREATE TABLE category_assignments (
  object_type TEXT NOT NULL CHECK (object_type IN ('file', 'folder')),
  object_id   TEXT NOT NULL,
  category_id TEXT NOT NULL REFERENCES categories(id) ON DELETE CASCADE,
  created_at  TEXT NOT NULL,
  PRIMARY KEY (object_type, object_id, category_id)
) WITHOUT ROWID;
CREATE INDEX category_assignments_category ON category_assignments(category_id, object_type, object_id);
