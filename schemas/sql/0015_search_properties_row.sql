-- A file's extracted properties get a full-text row of their own, part -1 (its name and
-- the text values its ingest extracted), written by each ingest: a new file's ingest then
-- only adds rows. Deleting an FTS5 row reads and splits its words again, and rewriting
-- the name row at every ingest cost a quarter of a small file's processing. Part 0 keeps
-- the name and the values users gave (metadata), rewritten on a rename or new metadata.
-- Existing files: part -1 made from what they have, part 0 rewritten without them.
INSERT INTO search_docs(file_id, part)
  SELECT f.id, -1 FROM files f
  WHERE EXISTS (SELECT 1 FROM properties p WHERE p.file_id = f.id AND p.record_id IS NULL
                AND p.source = 'extracted' AND p.value_text IS NOT NULL);
INSERT INTO search_fts(rowid, name, body)
  SELECT d.id, f.name,
         (SELECT group_concat(value_text, ' ') FROM properties
          WHERE file_id = f.id AND record_id IS NULL AND value_text IS NOT NULL AND source = 'extracted')
  FROM search_docs d JOIN files f ON f.id = d.file_id
  WHERE d.part = -1 AND d.record_id IS NULL;
DELETE FROM search_fts WHERE rowid IN (SELECT id FROM search_docs WHERE part = 0 AND record_id IS NULL);
INSERT INTO search_fts(rowid, name, body)
  SELECT d.id, f.name,
         coalesce((SELECT group_concat(value_text, ' ') FROM properties
                   WHERE file_id = f.id AND record_id IS NULL AND value_text IS NOT NULL AND source = 'user'), '')
  FROM search_docs d JOIN files f ON f.id = d.file_id
  WHERE d.part = 0 AND d.record_id IS NULL;
