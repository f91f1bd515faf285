-- The trash (issue 21): deleted files and folders can be restored for CARBOY_TRASH_DAYS,
-- then the orphan sweep purges them (src/db/trash.c). The trash lists and the purge find
-- deleted rows by time; the purge then asks of each blob it may free whether anything
-- still references it.
CREATE INDEX files_deleted ON files(deleted_at) WHERE deleted_at IS NOT NULL;
CREATE INDEX folders_deleted ON folders(deleted_at) WHERE deleted_at IS NOT NULL;
-- an owner's trash, without reading everybody's
CREATE INDEX files_trash ON files(owner_id, deleted_at) WHERE deleted_at IS NOT NULL;
CREATE INDEX folders_trash ON folders(owner_id, deleted_at) WHERE deleted_at IS NOT NULL;
CREATE INDEX artifacts_sha ON artifacts(sha256);
CREATE INDEX record_depictions_sha ON record_depictions(sha256);
