/* The trash: deleted files and folders (deleted_at set) that can still be restored, their
 * restore, and their purge for good.
 *
 * A folder's delete marks it and everything live below it with one deleted_at; a restore
 * of the folder takes back exactly what carries that time, so what was deleted before it
 * (on its own) stays in the trash. A deleted file keeps its rows (versions, records,
 * properties, search rows, artifacts): every read filters deleted files out, so nothing of
 * it shows until it is restored, and a restore brings it back whole. The purge (run by the
 * orphan sweep) removes the rows of what was deleted longer ago than CARBOY_TRASH_DAYS,
 * then the blobs rows nothing references any more: the same sweep then removes their
 * bytes from the store as orphans. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db/db_internal.h"

#define ISO_MS "'%Y-%m-%dT%H:%M:%fZ'" /* cb_time_rfc3339's form, in SQLite's strftime */

static const struct db_col trash_cols[] = {
  DB_TEXT(struct cb_trash_item, type),       DB_TEXT(struct cb_trash_item, id),
  DB_TEXT(struct cb_trash_item, name),       DB_TEXT(struct cb_trash_item, folder_id),
  DB_TEXT(struct cb_trash_item, owner_id),   DB_TEXT(struct cb_trash_item, owner_name),
  DB_TEXT(struct cb_trash_item, deleted_at), DB_TEXT(struct cb_trash_item, purge_at),
  DB_NUM(struct cb_trash_item, size)};

DB_READER(read_trash, struct cb_trash_item, trash_cols)
DB_VISITOR(trash, struct cb_trash_item, db_trash_cb, read_trash, DB_NO_CLEAR)
DB_READ_ONE(trash_one, struct cb_trash_item, read_trash)

/* Every item of the trash: ?1 deleted after this, ?2 the strftime modifier of the purge
 * time ("+30 days"). TRASH_SQL leaves out what was deleted together with the folder it
 * was in: it is listed (and restored) through that folder; TRASH_ANY_SQL has it too. */
#define TRASH_WITH_PARENT(X, P) \
  " AND NOT EXISTS (SELECT 1 FROM folders p WHERE p.id = " P " AND p.deleted_at = " X ".deleted_at)"
#define TRASH_UNION(FILES_EXTRA, FOLDERS_EXTRA)                                                                \
  "SELECT * FROM (SELECT 'file' AS type, f.id AS id, f.name, f.folder_id, f.owner_id AS owner_id, u.username," \
  " f.deleted_at AS deleted_at, strftime(" ISO_MS ", f.deleted_at, ?2),"                                       \
  " coalesce((SELECT v.size FROM file_versions v WHERE v.file_id = f.id AND v.version = f.version), 0)"        \
  " FROM files f JOIN users u ON u.id = f.owner_id WHERE f.deleted_at > ?1" FILES_EXTRA                        \
  " UNION ALL SELECT 'folder', d.id, d.name, coalesce(d.parent_id, ''), d.owner_id, u.username,"               \
  " d.deleted_at, strftime(" ISO_MS ", d.deleted_at, ?2), 0"                                                   \
  " FROM folders d JOIN users u ON u.id = d.owner_id WHERE d.deleted_at > ?1" FOLDERS_EXTRA ")"
#define TRASH_SQL TRASH_UNION(TRASH_WITH_PARENT("f", "f.folder_id"), TRASH_WITH_PARENT("d", "d.parent_id"))
/* One owner's (?3): the owner in each arm, where the (owner_id, deleted_at) indexes find
 * that owner's rows without reading everybody's trash. */
#define TRASH_OWNED_SQL                                                     \
  TRASH_UNION(" AND f.owner_id = ?3" TRASH_WITH_PARENT("f", "f.folder_id"), \
              " AND d.owner_id = ?3" TRASH_WITH_PARENT("d", "d.parent_id"))
#define TRASH_ANY_SQL TRASH_UNION("", "")

static void days_modifier(int days, char out[32])
{
  snprintf(out, 32, "+%d days", days);
}

cb_err db_trash_list(const char *owner_id, const char *since, int days, const char *after_at, const char *after_id,
                     int limit, db_trash_cb cb, void *ctx)
{
  char mod[32];
  days_modifier(days, mod);
  struct trash_visit tv = {cb, ctx};
#define TRASH_PAGE " AND (?4 IS NULL OR (deleted_at, id) < (?4, ?5)) ORDER BY deleted_at DESC, id DESC LIMIT ?6"
  sqlite3_stmt *st = owner_id ? db_query(TRASH_OWNED_SQL " WHERE 1" TRASH_PAGE, "sssssi", since, mod, owner_id,
                                         after_at, after_id, (int64_t)limit)
                              : db_query(TRASH_SQL " WHERE ?3 IS NULL" TRASH_PAGE, "sssssi", since, mod, owner_id,
                                         after_at, after_id, (int64_t)limit);
#undef TRASH_PAGE
  return db_each_row(st, trash_row, &tv);
}

cb_err db_trash_get(const char *type, const char *id, const char *since, int days, struct cb_trash_item *out)
{
  char mod[32];
  days_modifier(days, mod);
  return trash_one(db_query(TRASH_ANY_SQL " WHERE type = ?3 AND id = ?4", "ssss", since, mod, type, id), out);
}

/* The deleted folder a restore must wait for: the one folder_id names, when it is
 * deleted (its name to parent_name); CB_OK when there is none. */
static cb_err parent_deleted(const char *folder_id, char parent_name[CB_NAME_MAX])
{
  if (!folder_id || !*folder_id)
    return CB_OK;
  sqlite3_stmt *st = db_query("SELECT name FROM folders WHERE id = ? AND deleted_at IS NOT NULL", "s", folder_id);
  cb_err e = db_one_row(st);
  if (e)
    return e == CB_ENOTFOUND ? CB_OK : e;
  db_col_copy(st, 0, parent_name, CB_NAME_MAX);
  sqlite3_reset(st);
  return CB_ECONFLICT;
}

struct legacy {
  char id[CB_ID_LEN + 1];
  char owner_id[CB_ID_LEN + 1];
  int64_t version;
};

static int collect_legacy(sqlite3_stmt *st, void *ctx)
{
  struct legacy l;
  DB_COPY(st, 0, l.id);
  DB_COPY(st, 1, l.owner_id);
  l.version = sqlite3_column_int64(st, 2);
  return cb_vec_push(ctx, &l);
}

/* A file deleted by a carboy that still dropped a deleted file's search rows comes back
 * without them: its ingest runs again (a batch job), which writes them all anew. */
static cb_err reindex_tx(const struct legacy *l)
{
  struct cb_job job = {0};
  char params[64], inputs_json[CB_ID_LEN + 8];
  const char *inputs[1] = {l->id};
  snprintf(params, sizeof params, "{\"version\":%lld}", (long long)l->version);
  snprintf(inputs_json, sizeof inputs_json, "[\"%s\"]", l->id);
  cb_err e = cb_id_new(job.id);
  snprintf(job.type, sizeof job.type, "ingest");
  snprintf(job.owner_id, sizeof job.owner_id, "%s", l->owner_id);
  snprintf(job.lane, sizeof job.lane, "batch");
  job.inputs = inputs_json;
  job.params = params;
  job.max_attempts = 3;
  if (!e)
    e = db_search_index_file_tx(l->id); /* found by name at once */
  return e ? e : db_job_insert_tx(&job, inputs, 1);
}

cb_err db_trash_restore(const char *type, const char *id, const char *deleted_at, char parent_name[CB_NAME_MAX],
                        int *requeued)
{
  char ts[CB_TIME_MAX];
  cb_time_now_rfc3339(ts, sizeof ts);
  *requeued = 0;
  int folder = !strcmp(type, "folder");
  cb_err e = db_begin();
  if (e)
    return e;
  /* where it was, read in the transaction that restores it */
  sqlite3_stmt *st = folder
                       ? db_query("SELECT coalesce(parent_id, '') FROM folders WHERE id = ? AND deleted_at = ?", "ss",
                                  id, deleted_at)
                       : db_query("SELECT folder_id FROM files WHERE id = ? AND deleted_at = ?", "ss", id, deleted_at);
  char where[CB_ID_LEN + 1] = "";
  if (!(e = db_one_row(st))) {
    DB_COPY(st, 0, where);
    sqlite3_reset(st);
    e = parent_deleted(where, parent_name);
  }
  /* the files that come back (deleted with it), and of those the ones without search rows */
#define SUBTREE                                                                        \
  "WITH RECURSIVE sub(id) AS (SELECT ?1 UNION ALL SELECT f.id FROM folders f JOIN sub" \
  " ON f.parent_id = sub.id WHERE f.deleted_at = ?2) "
  struct cb_vec legacy = {.elem = sizeof(struct legacy)};
  if (!e)
    e = db_each_row(folder ? db_query(SUBTREE "SELECT id, owner_id, version FROM files WHERE deleted_at = ?2"
                                              " AND folder_id IN (SELECT id FROM sub) AND NOT EXISTS"
                                              " (SELECT 1 FROM search_docs d WHERE d.file_id = files.id)",
                                      "ss", id, deleted_at)
                           : db_query("SELECT id, owner_id, version FROM files WHERE id = ?1 AND deleted_at = ?2"
                                      " AND NOT EXISTS (SELECT 1 FROM search_docs d WHERE d.file_id = files.id)",
                                      "ss", id, deleted_at),
                    collect_legacy, &legacy);
  if (!e && folder) {
    /* files first: which folders are below it is read through their deleted_at */
    e = db_exec(SUBTREE "UPDATE files SET deleted_at = NULL, updated_at = ?3 WHERE deleted_at = ?2"
                        " AND folder_id IN (SELECT id FROM sub)",
                "sss", id, deleted_at, ts);
    if (!e)
      e = db_changed(db_exec(SUBTREE "UPDATE folders SET deleted_at = NULL, updated_at = ?3 WHERE deleted_at = ?2"
                                     " AND id IN (SELECT id FROM sub)",
                             "sss", id, deleted_at, ts));
  } else if (!e) {
    e = db_changed(db_exec("UPDATE files SET deleted_at = NULL, updated_at = ?3 WHERE id = ?1 AND deleted_at = ?2",
                           "sss", id, deleted_at, ts));
  }
#undef SUBTREE
  const struct legacy *l = legacy.items;
  for (size_t i = 0; !e && i < legacy.n; i++)
    e = reindex_tx(&l[i]);
  if (!e)
    *requeued = (int)legacy.n;
  free(legacy.items);
  return db_end(e);
}

/* ---- the purge ---- */

/* The rows of one file, deleted for good; the blobs it referenced become candidates. */
static cb_err purge_file_tx(const char *id)
{
  static const char *const steps[] = {
    "INSERT OR IGNORE INTO temp.purge_blobs SELECT sha256 FROM file_versions WHERE file_id = ?1",
    "INSERT OR IGNORE INTO temp.purge_blobs SELECT sha256 FROM artifacts WHERE file_id = ?1",
    "INSERT OR IGNORE INTO temp.purge_blobs SELECT d.sha256 FROM record_depictions d JOIN records r"
    " ON r.id = d.record_id WHERE r.file_id = ?1",
    "DELETE FROM record_depictions WHERE record_id IN (SELECT id FROM records WHERE file_id = ?1)",
    "DELETE FROM record_depiction_failures WHERE record_id IN (SELECT id FROM records WHERE file_id = ?1)",
    "DELETE FROM properties WHERE file_id = ?1",
    "DELETE FROM records WHERE file_id = ?1",
    "DELETE FROM artifacts WHERE file_id = ?1",
    "DELETE FROM conversion_failures WHERE file_id = ?1",
    "DELETE FROM file_versions WHERE file_id = ?1",
    "DELETE FROM grants WHERE object_type = 'file' AND object_id = ?1",
    "DELETE FROM links WHERE object_type = 'file' AND object_id = ?1",
    "DELETE FROM category_assignments WHERE object_type = 'file' AND object_id = ?1",
    "DELETE FROM models WHERE file_id = ?1", /* a model is its bundle file */
    "DELETE FROM files WHERE id = ?1",
  };
  cb_err e = db_search_forget_file_tx(id);
  for (size_t i = 0; !e && i < sizeof steps / sizeof *steps; i++)
    e = db_exec(steps[i], "s", id);
  return e;
}

static cb_err purge_folder_tx(const char *id)
{
  static const char *const steps[] = {
    "DELETE FROM uploads WHERE folder_id = ?1", /* unfinished uploads into it: their parts become orphans */
    "DELETE FROM models WHERE folder_id = ?1",
    "DELETE FROM grants WHERE object_type = 'folder' AND object_id = ?1",
    "DELETE FROM links WHERE object_type = 'folder' AND object_id = ?1",
    "DELETE FROM category_assignments WHERE object_type = 'folder' AND object_id = ?1",
    "DELETE FROM folders WHERE id = ?1",
  };
  cb_err e = CB_OK;
  for (size_t i = 0; !e && i < sizeof steps / sizeof *steps; i++)
    e = db_exec(steps[i], "s", id);
  return e;
}

static int collect_id(sqlite3_stmt *st, void *ctx)
{
  char id[CB_ID_LEN + 1];
  DB_COPY(st, 0, id);
  return cb_vec_push(ctx, id);
}

enum { PURGE_BATCH = 100 }; /* objects per transaction: writers wait for one batch at most */

/* One batch of files or folders; *n gets how many went. */
static cb_err purge_batch(int folders, const char *before, int64_t *n, int64_t *blobs)
{
  struct cb_vec ids = {.elem = CB_ID_LEN + 1};
  int64_t freed = 0;
  *n = 0;
  cb_err e = db_begin();
  if (e)
    return e;
  e = db_exec("CREATE TEMP TABLE IF NOT EXISTS purge_blobs(sha256 TEXT PRIMARY KEY) WITHOUT ROWID", "");
  if (!e)
    e = db_exec("DELETE FROM temp.purge_blobs", "");
  /* a folder goes once nothing is left in it (deepest first, batch after batch) */
  if (!e)
    e = db_each_row(folders ? db_query("SELECT id FROM folders d WHERE deleted_at IS NOT NULL AND deleted_at < ?"
                                       " AND NOT EXISTS (SELECT 1 FROM files f WHERE f.folder_id = d.id)"
                                       " AND NOT EXISTS (SELECT 1 FROM folders c WHERE c.parent_id = d.id) LIMIT ?",
                                       "si", before, (int64_t)PURGE_BATCH)
                            : db_query("SELECT id FROM files WHERE deleted_at IS NOT NULL AND deleted_at < ? LIMIT ?",
                                       "si", before, (int64_t)PURGE_BATCH),
                    collect_id, &ids);
  const char(*id)[CB_ID_LEN + 1] = ids.items;
  for (size_t i = 0; !e && i < ids.n; i++)
    e = folders ? purge_folder_tx(id[i]) : purge_file_tx(id[i]);
  /* blobs nothing references now: their rows go, and the sweep removes their bytes */
  if (!e && !folders) {
    e = db_exec("DELETE FROM blobs WHERE sha256 IN (SELECT sha256 FROM temp.purge_blobs p WHERE"
                " NOT EXISTS (SELECT 1 FROM file_versions v WHERE v.sha256 = p.sha256) AND"
                " NOT EXISTS (SELECT 1 FROM artifacts a WHERE a.sha256 = p.sha256) AND"
                " NOT EXISTS (SELECT 1 FROM record_depictions d WHERE d.sha256 = p.sha256))",
                "");
    if (!e)
      freed = db_changes();
    /* nor does a store migration copy them any more: their bytes are about to go, and a
     * copy that cannot read them would fail, and hold up the migration, run after run */
    if (!e)
      e = db_exec("DELETE FROM migration_blobs WHERE migration_id IN (SELECT id FROM store_migrations) AND sha256 IN"
                  " (SELECT p.sha256 FROM temp.purge_blobs p WHERE NOT EXISTS (SELECT 1 FROM blobs b"
                  " WHERE b.sha256 = p.sha256))",
                  "");
  }
  if (!e) {
    *n = (int64_t)ids.n;
    *blobs += freed; /* counted once the batch holds */
  }
  free(ids.items);
  return db_end(e);
}

cb_err db_trash_purge(const char *before, int64_t *files, int64_t *folders, int64_t *blobs)
{
  *files = *folders = *blobs = 0;
  int64_t n = 0;
  cb_err e;
  do {
    e = purge_batch(0, before, &n, blobs);
    *files += n;
  } while (!e && n);
  do {
    e = e ? e : purge_batch(1, before, &n, blobs);
    *folders += e ? 0 : n;
  } while (!e && n);
  return e;
}
