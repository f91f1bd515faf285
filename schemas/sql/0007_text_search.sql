-- Full-text search. search_fts (FTS5) holds the words; search_docs says what each of its
-- rows belongs to (FTS5 rowid = search_docs.id), so a file's rows are found by index, not
-- by scanning the full-text table:
--   part 0, record_id NULL   the file: its name, and the text values of its properties;
--   part N, record_id NULL   the Nth chunk (about 32 KiB) of the file's extracted text;
--   part 0, record_id set    a record: its title and the text values of its properties.
CREATE TABLE search_docs (
  id        INTEGER PRIMARY KEY,
  file_id   TEXT NOT NULL,
  record_id TEXT,
  part      INTEGER NOT NULL DEFAULT 0
);
CREATE INDEX search_docs_file ON search_docs(file_id, record_id);
CREATE INDEX search_docs_record ON search_docs(record_id) WHERE record_id IS NOT NULL;
CREATE VIRTUAL TABLE search_fts USING fts5(name, body, tokenize = 'unicode61 remove_diacritics 2');

-- Files that exist already are found by name at once (their text when next processed).
INSERT INTO search_docs(file_id, part) SELECT id, 0 FROM files WHERE deleted_at IS NULL;
INSERT INTO search_fts(rowid, name, body)
  SELECT d.id, f.name, '' FROM search_docs d JOIN files f ON f.id = d.file_id;
