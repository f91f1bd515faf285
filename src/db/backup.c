/* carboy backup and restore, the database's part: an online snapshot through SQLite's
 * backup API, the blobs a snapshot knows, and making a restored database its own. */
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>

#include "db/db_internal.h"

cb_err db_backup_to(const char *path, struct cb_errbuf *eb)
{
  sqlite3 *dst = NULL;
  int rc = sqlite3_open_v2(path, &dst, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
  if (rc != SQLITE_OK) {
    cb_errf(eb, "cannot create %s: %s", path, dst ? sqlite3_errmsg(dst) : sqlite3_errstr(rc));
    sqlite3_close(dst);
    return CB_EIO;
  }
  sqlite3_backup *b = sqlite3_backup_init(dst, "main", db_conn(), "main");
  if (!b) {
    cb_errf(eb, "cannot start the snapshot: %s", sqlite3_errmsg(dst));
    sqlite3_close(dst);
    return CB_EDB;
  }
  /* every page in one step: one read transaction, so one consistent state (in WAL mode
   * the server's writers go on meanwhile); busy means a writer holds a lock for a moment */
  for (int tries = 0; (rc = sqlite3_backup_step(b, -1)) == SQLITE_BUSY || rc == SQLITE_LOCKED; tries++) {
    if (tries == 200)
      break;
    sqlite3_sleep(50);
  }
  sqlite3_backup_finish(b);
  if (rc != SQLITE_DONE) {
    cb_errf(eb, "the snapshot failed: %s", sqlite3_errstr(rc));
    sqlite3_close(dst);
    return rc == SQLITE_FULL ? CB_ENOSPC : CB_EDB;
  }
  /* one self-contained file: no -wal beside it */
  rc = sqlite3_exec(dst, "PRAGMA journal_mode=DELETE", NULL, NULL, NULL);
  if (sqlite3_close(dst) != SQLITE_OK || rc != SQLITE_OK) {
    cb_errf(eb, "cannot finish %s", path);
    return CB_EIO;
  }
  return CB_OK;
}

cb_err db_file_blobs(const char *path, db_blob_cb cb, void *ctx, struct cb_errbuf *eb)
{
  sqlite3 *db = NULL;
  sqlite3_stmt *st = NULL;
  int rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL);
  if (rc == SQLITE_OK)
    rc = sqlite3_prepare_v2(db, "SELECT sha256, size FROM blobs ORDER BY sha256", -1, &st, NULL);
  if (rc != SQLITE_OK) {
    cb_errf(eb, "cannot read the blobs of %s: %s", path, db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
    sqlite3_close(db);
    return CB_EDB;
  }
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    struct cb_blob_ref b;
    db_col_copy(st, 0, b.sha256, sizeof b.sha256);
    b.size = sqlite3_column_int64(st, 1);
    if (cb(&b, ctx))
      break;
  }
  cb_err e = rc == SQLITE_ROW || rc == SQLITE_DONE ? CB_OK : CB_EDB;
  if (e)
    cb_errf(eb, "cannot read the blobs of %s: %s", path, sqlite3_errmsg(db));
  sqlite3_finalize(st);
  sqlite3_close(db);
  return e;
}

cb_err db_restored(const char *store_url)
{
  cb_err e = db_begin();
  if (e)
    return e;
  /* the resumable uploads in progress kept their bytes in the old DATA/uploads */
  if (!(e = db_exec("DELETE FROM uploads", "")))
    e = db_setting_set("store_url", store_url);
  if (!e)
    e = db_setting_set("store_previous_url", NULL);
  if (!e)
    e = db_setting_set("store_in_use", NULL);
  return db_end(e);
}
