-- Records: the items inside a multi-record file (molecules of an SDF, ...). Their
-- properties are rows of `properties` with record_id set.
CREATE TABLE records (
  id       TEXT PRIMARY KEY,
  file_id  TEXT NOT NULL REFERENCES files(id),
  version  INTEGER NOT NULL,
  idx      INTEGER NOT NULL,
  title    TEXT,
  smiles   TEXT,
  inchikey TEXT,
  error    TEXT,
  UNIQUE (file_id, version, idx)
);
CREATE INDEX records_inchikey ON records(inchikey);
CREATE INDEX properties_record ON properties(record_id) WHERE record_id IS NOT NULL;
