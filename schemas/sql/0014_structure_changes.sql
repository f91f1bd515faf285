-- The structure index (src/search/structures.c) keeps every current record's fingerprint
-- in the server's memory. Which files it must read again is written here, in the same
-- transaction as the change: a file processed (its records written), given a new version,
-- deleted or restored (a trigger), or its records cleared (the database layer). An index
-- that has applied every change up to a seq is current; a query first applies what came
-- after (so a search right after a file was processed finds its records), a background
-- thread does so every moment. Rows are pruned once old.
CREATE TABLE structure_changes (
  seq     INTEGER PRIMARY KEY,
  file_id TEXT NOT NULL
);

CREATE TRIGGER structure_changes_files AFTER UPDATE OF status, version, deleted_at ON files
WHEN NEW.status IS NOT OLD.status OR NEW.version IS NOT OLD.version OR NEW.deleted_at IS NOT OLD.deleted_at
BEGIN
  INSERT INTO structure_changes(file_id) VALUES (NEW.id);
END;

-- Structure search no longer runs jobs: the helper jobs it left ("query", "match") go,
-- so that they show in no one's job list.
DELETE FROM job_files WHERE job_id IN (SELECT id FROM jobs WHERE type IN ('query', 'match'));
DELETE FROM jobs WHERE type IN ('query', 'match');
