/* Named queries for settings, store migrations (carboy migrate) and the blob catalogue
 * (carboy verify). */
#include <stdio.h>
#include <string.h>

#include "db/db_internal.h"

cb_err db_setting_get(const char *key, char *out, size_t cap, char updated_at[CB_TIME_MAX])
{
  sqlite3_stmt *st = db_query("SELECT value, updated_at FROM settings WHERE key = ?", "s", key);
  cb_err e = db_one_row(st);
  if (e)
    return e;
  db_col_copy(st, 0, out, cap);
  if (updated_at)
    db_col_copy(st, 1, updated_at, CB_TIME_MAX);
  sqlite3_reset(st);
  return CB_OK;
}

cb_err db_setting_set(const char *key, const char *value)
{
  char ts[CB_TIME_MAX];
  cb_time_now_rfc3339(ts, sizeof ts);
  if (!value)
    return db_exec("DELETE FROM settings WHERE key = ?", "s", key);
  return db_exec("INSERT INTO settings(key, value, updated_at) VALUES (?, ?, ?)"
                 " ON CONFLICT(key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
                 "sss", key, value, ts);
}

#define MIGRATION_COLS "id, source, target, state, runs, started_at, coalesce(switched_at, '')"

static const struct db_col migration_cols[] = {
  DB_NUM(struct cb_migration, id),          DB_TEXT(struct cb_migration, source),
  DB_TEXT(struct cb_migration, target),     DB_TEXT(struct cb_migration, state),
  DB_NUM(struct cb_migration, runs),        DB_TEXT(struct cb_migration, started_at),
  DB_TEXT(struct cb_migration, switched_at)};

DB_READER(read_migration, struct cb_migration, migration_cols)

DB_READ_ONE(one_migration, struct cb_migration, read_migration)

cb_err db_migration_unfinished(struct cb_migration *out)
{
  return one_migration(db_query("SELECT " MIGRATION_COLS " FROM store_migrations"
                                " WHERE state IN ('running', 'switched') ORDER BY id DESC LIMIT 1",
                                ""),
                       out);
}

cb_err db_migration_last_switched(struct cb_migration *out)
{
  return one_migration(db_query("SELECT " MIGRATION_COLS " FROM store_migrations"
                                " WHERE state IN ('switched', 'done') ORDER BY id DESC LIMIT 1",
                                ""),
                       out);
}

cb_err db_migration_start(const char *source, const char *target, struct cb_migration *out)
{
  char ts[CB_TIME_MAX];
  cb_time_now_rfc3339(ts, sizeof ts);
  cb_err e = db_begin();
  if (e)
    return e;
  e = db_exec("UPDATE store_migrations SET state = 'abandoned', finished_at = ? WHERE state = 'running'", "s", ts);
  if (!e)
    e = db_exec("INSERT INTO store_migrations(source, target, started_at) VALUES (?, ?, ?)", "sss", source, target, ts);
  int64_t id = sqlite3_last_insert_rowid(db_conn());
  if (!e)
    e = db_commit();
  if (e) {
    db_rollback();
    return e;
  }
  return one_migration(db_query("SELECT " MIGRATION_COLS " FROM store_migrations WHERE id = ?", "i", id), out);
}

cb_err db_migration_begin_run(int64_t id, int64_t *run)
{
  cb_err e = db_begin();
  if (!e)
    e = db_exec("UPDATE store_migrations SET runs = runs + 1 WHERE id = ?", "i", id);
  if (!e)
    e = db_exec("UPDATE migration_blobs SET state = 'pending' WHERE migration_id = ? AND state IN ('failed', 'copied')",
                "i", id);
  sqlite3_stmt *st = e ? NULL : db_query("SELECT runs FROM store_migrations WHERE id = ?", "i", id);
  if (!e && !(e = db_one_row(st))) {
    *run = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
  }
  return db_end(e);
}

cb_err db_migration_enqueue(int64_t id, int64_t *added)
{
  cb_err e = db_exec("INSERT OR IGNORE INTO migration_blobs(migration_id, sha256, size)"
                     " SELECT ?, sha256, size FROM blobs",
                     "i", id);
  if (added)
    *added = e ? 0 : db_changes();
  return e;
}

cb_err db_migration_pending(int64_t id, int limit, struct cb_mblob *out, int *n)
{
  sqlite3_stmt *st = db_query("SELECT sha256, size FROM migration_blobs WHERE migration_id = ? AND state = 'pending'"
                              " ORDER BY sha256 LIMIT ?",
                              "ii", id, (int64_t)limit);
  *n = 0;
  if (!st)
    return CB_EDB;
  int rc;
  while (*n < limit && (rc = sqlite3_step(st)) == SQLITE_ROW) {
    struct cb_mblob *b = &out[(*n)++];
    memset(b, 0, sizeof *b);
    DB_COPY(st, 0, b->sha256);
    b->size = sqlite3_column_int64(st, 1);
    snprintf(b->state, sizeof b->state, "pending");
  }
  sqlite3_reset(st);
  return CB_OK;
}

cb_err db_migration_record(int64_t id, int64_t run, int64_t batch, const struct cb_mblob *rows, int n)
{
  char ts[CB_TIME_MAX];
  cb_time_now_rfc3339(ts, sizeof ts);
  cb_err e = db_begin();
  for (int i = 0; !e && i < n; i++)
    e = db_exec("UPDATE migration_blobs SET state = ?, attempts = attempts + 1, copies = copies + ?, run = ?,"
                " batch = ?, error = ?, updated_at = ? WHERE migration_id = ? AND sha256 = ?",
                "siiissis", rows[i].state, (int64_t)rows[i].copied, run, batch, rows[i].error[0] ? rows[i].error : NULL,
                ts, id, rows[i].sha256);
  return db_end(e);
}

cb_err db_migration_counts(int64_t id, int64_t count[4], int64_t bytes[4])
{
  static const char *const states[] = {"pending", "copied", "verified", "failed"};
  memset(count, 0, sizeof(int64_t) * 4);
  memset(bytes, 0, sizeof(int64_t) * 4);
  sqlite3_stmt *st = db_query("SELECT state, count(*), sum(size) FROM migration_blobs WHERE migration_id = ?"
                              " GROUP BY state",
                              "i", id);
  if (!st)
    return CB_EDB;
  while (sqlite3_step(st) == SQLITE_ROW) {
    const char *s = (const char *)sqlite3_column_text(st, 0);
    for (int i = 0; i < 4; i++)
      if (s && !strcmp(s, states[i])) {
        count[i] = sqlite3_column_int64(st, 1);
        bytes[i] = sqlite3_column_int64(st, 2);
      }
  }
  sqlite3_reset(st);
  return CB_OK;
}

static void read_mblob(sqlite3_stmt *st, struct cb_mblob *b)
{
  memset(b, 0, sizeof *b);
  DB_COPY(st, 0, b->sha256);
  b->size = sqlite3_column_int64(st, 1);
  DB_COPY(st, 2, b->state);
  DB_COPY(st, 3, b->error);
}
DB_VISITOR(mblob, struct cb_mblob, db_mblob_cb, read_mblob, DB_NO_CLEAR)

cb_err db_migration_failed(int64_t id, int limit, db_mblob_cb cb, void *ctx)
{
  struct mblob_visit v = {cb, ctx};
  return db_each_row(db_query("SELECT sha256, size, state, coalesce(error, '') FROM migration_blobs"
                              " WHERE migration_id = ? AND state = 'failed' ORDER BY sha256 LIMIT ?",
                              "ii", id, (int64_t)limit),
                     mblob_row, &v);
}

cb_err db_migration_switch(int64_t id, const char *live_url, const char *source, int *switched)
{
  char ts[CB_TIME_MAX];
  cb_time_now_rfc3339(ts, sizeof ts);
  *switched = 0;
  cb_err e = db_begin();
  if (e)
    return e;
  sqlite3_stmt *st = db_query("SELECT count(*) FROM blobs b WHERE NOT EXISTS (SELECT 1 FROM migration_blobs m"
                              " WHERE m.migration_id = ? AND m.sha256 = b.sha256 AND m.state = 'verified')",
                              "i", id);
  int64_t left = -1;
  if (!(e = db_one_row(st))) {
    left = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
  }
  if (!e && left == 0) {
    e = db_setting_set("store_url", live_url);
    if (!e)
      e = db_setting_set("store_previous_url", source);
    if (!e)
      e = db_exec("UPDATE store_migrations SET state = 'switched', switched_at = ? WHERE id = ?", "si", ts, id);
    if (!e)
      *switched = 1;
  }
  if (!e)
    e = db_commit();
  if (e) {
    *switched = 0;
    db_rollback();
  }
  return e;
}

cb_err db_migration_finish(int64_t id)
{
  char ts[CB_TIME_MAX];
  cb_time_now_rfc3339(ts, sizeof ts);
  return db_exec("UPDATE store_migrations SET state = 'done', finished_at = ? WHERE id = ?", "si", ts, id);
}

static void read_blob_ref(sqlite3_stmt *st, struct cb_blob_ref *b)
{
  DB_COPY(st, 0, b->sha256);
  b->size = sqlite3_column_int64(st, 1);
}
DB_VISITOR(blob_ref, struct cb_blob_ref, db_blob_cb, read_blob_ref, DB_NO_CLEAR)

cb_err db_blobs_page(const char *after, int limit, db_blob_cb cb, void *ctx)
{
  struct blob_ref_visit v = {cb, ctx};
  return db_each_row(
    db_query("SELECT sha256, size FROM blobs WHERE sha256 > ? ORDER BY sha256 LIMIT ?", "si", after, (int64_t)limit),
    blob_ref_row, &v);
}

cb_err db_blob_dangling(int64_t *n)
{
  sqlite3_stmt *st = db_query(
    "SELECT (SELECT count(*) FROM file_versions v WHERE NOT EXISTS (SELECT 1 FROM blobs b WHERE b.sha256 = v.sha256))"
    " + (SELECT count(*) FROM artifacts a WHERE NOT EXISTS (SELECT 1 FROM blobs b WHERE b.sha256 = a.sha256))"
    " + (SELECT count(*) FROM record_depictions d WHERE NOT EXISTS (SELECT 1 FROM blobs b WHERE b.sha256 = d.sha256))",
    "");
  cb_err e = db_one_row(st);
  if (e)
    return e;
  *n = sqlite3_column_int64(st, 0);
  sqlite3_reset(st);
  return CB_OK;
}
