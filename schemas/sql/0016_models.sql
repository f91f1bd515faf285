-- Models trained on deposited structures (issue 20). A model lives in a folder and is
-- seen by whoever sees that folder; once trained it is a file of kind 'model' there (its
-- bundle: file_id), and training again makes a new version of that file. spec: what it
-- is trained on and how (the training request's fields, ml_spec_json); summary: the
-- report of its current version (task, metrics, curves, applicability, ...), NULL until
-- one is ready. An uploaded bundle makes a model too (its file's ingest).
CREATE TABLE models (
  id               TEXT PRIMARY KEY,
  folder_id        TEXT NOT NULL REFERENCES folders(id),
  owner_id         TEXT NOT NULL REFERENCES users(id),
  name             TEXT NOT NULL,
  file_id          TEXT REFERENCES files(id),
  state            TEXT NOT NULL CHECK (state IN ('training', 'ready', 'failed')),
  error            TEXT,
  job_id           TEXT,
  training_file_id TEXT,
  spec             TEXT NOT NULL DEFAULT '{}',
  summary          TEXT,
  created_at       TEXT NOT NULL,
  updated_at       TEXT NOT NULL
);
CREATE UNIQUE INDEX models_file ON models(file_id) WHERE file_id IS NOT NULL;
CREATE INDEX models_folder ON models(folder_id, name);
