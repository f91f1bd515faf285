/* Named queries for users, folders, files, versions, properties, blobs and uploads. */
#include <sqlite3.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "db/db.h"
#include "db/db_internal.h"

/* Steps st over every row, calling row(st, ctx) until it returns non-zero. */
cb_err db_each_row(sqlite3_stmt *st, int (*row)(sqlite3_stmt *, void *), void *ctx)
{
  if (!st)
    return CB_EDB;
  int rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    if (row(st, ctx))
      break;
  }
  cb_err e = (rc == SQLITE_ROW || rc == SQLITE_DONE) ? CB_OK : db_rc(rc);
  sqlite3_reset(st);
  return e;
}

/* Steps st once: CB_OK with a row, CB_ENOTFOUND without. Caller resets. */
cb_err db_one_row(sqlite3_stmt *st)
{
  if (!st)
    return CB_EDB;
  int rc = sqlite3_step(st);
  if (rc == SQLITE_ROW)
    return CB_OK;
  sqlite3_reset(st);
  return rc == SQLITE_DONE ? CB_ENOTFOUND : db_rc(rc);
}

static void now(char *ts)
{
  cb_time_now_rfc3339(ts, CB_TIME_MAX);
}

/* ---------------------------------------------------------------- users */

static const struct db_col user_cols[] = {
  DB_TEXT(struct cb_user, id),      DB_TEXT(struct cb_user, username),   DB_TEXT(struct cb_user, password_hash),
  DB_NUM(struct cb_user, is_admin), DB_TEXT(struct cb_user, created_at), DB_NUM(struct cb_user, disabled)};

void db_read_user(sqlite3_stmt *st, struct cb_user *u)
{
  db_read_cols(st, user_cols, sizeof user_cols / sizeof user_cols[0], u);
}

DB_READ_ONE(user_one, struct cb_user, db_read_user)

cb_err db_user_create(const struct cb_user *u)
{
  char ts[CB_TIME_MAX];
  now(ts);
  return db_exec("INSERT INTO users(" USER_COLS ") VALUES (?, ?, ?, ?, ?)", "sssis", u->id, u->username,
                 u->password_hash, (int64_t)u->is_admin, ts);
}

static cb_err user_by(sqlite3_stmt *st, struct cb_user *out)
{
  return user_one(st, out);
}

cb_err db_user_get(const char *id, struct cb_user *out)
{
  return user_by(db_query("SELECT " USER_READ_COLS " FROM users WHERE id = ? AND deleted_at IS NULL", "s", id), out);
}

cb_err db_user_get_by_name(const char *username, struct cb_user *out)
{
  return user_by(
    db_query("SELECT " USER_READ_COLS " FROM users WHERE username = ? AND deleted_at IS NULL", "s", username), out);
}

cb_err db_user_first_admin(struct cb_user *out)
{
  return user_by(db_query("SELECT " USER_READ_COLS " FROM users WHERE is_admin = 1 AND deleted_at IS NULL"
                          " ORDER BY created_at, id LIMIT 1",
                          ""),
                 out);
}

cb_err db_user_set_password(const char *id, const char *hash)
{
  cb_err e = db_exec("UPDATE users SET password_hash = ? WHERE id = ?", "ss", hash, id);
  return e ? e : (db_changes() ? CB_OK : CB_ENOTFOUND);
}

/* -------------------------------------------------------------- folders */

void db_read_folder(sqlite3_stmt *st, struct cb_folder *f)
{
  DB_COPY(st, 0, f->id);
  DB_COPY(st, 1, f->name);
  DB_COPY(st, 2, f->parent_id);
  DB_COPY(st, 3, f->owner_id);
  DB_COPY(st, 4, f->owner_name);
  DB_COPY(st, 5, f->visibility);
  DB_COPY(st, 6, f->created_at);
  DB_COPY(st, 7, f->updated_at);
}

DB_READ_ONE(folder_one, struct cb_folder, db_read_folder)

int db_folder_row(sqlite3_stmt *st, void *p)
{
  struct folder_visit *fc = p;
  struct cb_folder f;
  db_read_folder(st, &f);
  return fc->cb(&f, fc->ctx);
}

cb_err db_folder_insert(const struct cb_folder *f)
{
  char ts[CB_TIME_MAX];
  now(ts);
  return db_exec("INSERT INTO folders(id, name, parent_id, owner_id, visibility, created_at,"
                 " updated_at) VALUES (?, ?, nullif(?, ''), ?, 'private', ?, ?)",
                 "ssssss", f->id, f->name, f->parent_id, f->owner_id, ts, ts);
}

cb_err db_folder_get(const char *id, struct cb_folder *out)
{
  sqlite3_stmt *st = db_query("SELECT " FOLDER_COLS " FROM folders f JOIN users u ON u.id = f.owner_id"
                              " WHERE f.id = ? AND f.deleted_at IS NULL",
                              "s", id);
  return folder_one(st, out);
}

cb_err db_folder_find(const char *parent_id, const char *owner_id, const char *name, struct cb_folder *out)
{
  sqlite3_stmt *st = parent_id[0] ? db_query("SELECT " FOLDER_COLS " FROM folders f JOIN users u ON u.id = f.owner_id"
                                             " WHERE f.parent_id = ? AND f.name = ? AND f.deleted_at IS NULL",
                                             "ss", parent_id, name)
                                  : db_query("SELECT " FOLDER_COLS " FROM folders f JOIN users u ON u.id = f.owner_id"
                                             " WHERE f.parent_id IS NULL AND f.owner_id = ? AND f.name = ?"
                                             " AND f.deleted_at IS NULL",
                                             "ss", owner_id, name);
  return folder_one(st, out);
}

cb_err db_folder_children(const char *parent_id, const char *owner_id, const char *after_name, int limit,
                          db_folder_cb cb, void *ctx)
{
  struct folder_visit fc = {cb, ctx};
  sqlite3_stmt *st;
  if (parent_id)
    st = db_query("SELECT " FOLDER_COLS " FROM folders f JOIN users u ON u.id = f.owner_id"
                  " WHERE f.parent_id = ? AND f.deleted_at IS NULL AND f.name > coalesce(?, '')"
                  " ORDER BY f.name LIMIT ?",
                  "ssi", parent_id, after_name, (int64_t)limit);
  else
    st = db_query("SELECT " FOLDER_COLS " FROM folders f JOIN users u ON u.id = f.owner_id"
                  " WHERE f.parent_id IS NULL AND f.owner_id = ? AND f.deleted_at IS NULL"
                  " AND f.name > coalesce(?, '') ORDER BY f.name LIMIT ?",
                  "ssi", owner_id, after_name, (int64_t)limit);
  return db_each_row(st, db_folder_row, &fc);
}

cb_err db_folder_path(const char *id, db_folder_cb cb, void *ctx)
{
  struct folder_visit fc = {cb, ctx};
  return db_each_row(db_query("WITH RECURSIVE up(id, depth) AS ("
                              " SELECT ?, 0 UNION ALL"
                              " SELECT f.parent_id, up.depth + 1 FROM folders f JOIN up ON f.id = up.id"
                              " WHERE f.parent_id IS NOT NULL AND up.depth < 1000)"
                              " SELECT " FOLDER_COLS " FROM up JOIN folders f ON f.id = up.id"
                              " JOIN users u ON u.id = f.owner_id ORDER BY up.depth DESC",
                              "s", id),
                     db_folder_row, &fc);
}

int db_folder_within(const char *candidate, const char *folder_id)
{
  sqlite3_stmt *st = db_query("WITH RECURSIVE up(id, depth) AS ("
                              " SELECT ?, 0 UNION ALL"
                              " SELECT f.parent_id, up.depth + 1 FROM folders f JOIN up ON f.id = up.id"
                              " WHERE f.parent_id IS NOT NULL AND up.depth < 1000)"
                              " SELECT 1 FROM up WHERE id = ? LIMIT 1",
                              "ss", candidate, folder_id);
  if (!st)
    return 1; /* fail safe: treat as a cycle */
  int found = sqlite3_step(st) == SQLITE_ROW;
  sqlite3_reset(st);
  return found;
}

cb_err db_folder_update(const char *id, const char *name, const char *new_parent, int move)
{
  char ts[CB_TIME_MAX];
  now(ts);
  cb_err e = db_exec("UPDATE folders SET name = coalesce(?, name),"
                     " parent_id = CASE WHEN ? THEN nullif(?, '') ELSE parent_id END,"
                     " updated_at = ? WHERE id = ? AND deleted_at IS NULL",
                     "sisss", name, (int64_t)move, new_parent ? new_parent : "", ts, id);
  return db_changed(e);
}

cb_err db_folder_delete(const char *id)
{
  char ts[CB_TIME_MAX];
  now(ts);
  cb_err e = db_begin();
  if (e)
    return e;
  e = db_exec("WITH RECURSIVE sub(id) AS (SELECT ? UNION ALL"
              " SELECT f.id FROM folders f JOIN sub ON f.parent_id = sub.id WHERE f.deleted_at IS NULL)"
              " UPDATE files SET deleted_at = ? WHERE deleted_at IS NULL AND folder_id IN (SELECT id FROM sub)",
              "ss", id, ts);
  if (!e)
    e = db_exec("WITH RECURSIVE sub(id) AS (SELECT ? UNION ALL"
                " SELECT f.id FROM folders f JOIN sub ON f.parent_id = sub.id WHERE f.deleted_at IS NULL)"
                " UPDATE folders SET deleted_at = ? WHERE deleted_at IS NULL AND id IN (SELECT id FROM sub)",
                "ss", id, ts);
  e = db_changed(e);
  if (e) {
    db_rollback();
    return e;
  }
  return db_commit();
}

/* ---------------------------------------------------------------- files */

static const struct db_col file_cols[] = {
  DB_TEXT(struct cb_file, id),         DB_TEXT(struct cb_file, folder_id),  DB_TEXT(struct cb_file, name),
  DB_TEXT(struct cb_file, owner_id),   DB_NUM(struct cb_file, version),     DB_TEXT(struct cb_file, kind),
  DB_TEXT(struct cb_file, media_type), DB_TEXT(struct cb_file, status),     DB_TEXT(struct cb_file, error),
  DB_TEXT(struct cb_file, visibility), DB_TEXT(struct cb_file, sha256),     DB_NUM(struct cb_file, size),
  DB_TEXT(struct cb_file, created_at), DB_TEXT(struct cb_file, updated_at), DB_DUP(struct cb_file, metadata)};

void db_read_file(sqlite3_stmt *st, struct cb_file *f)
{
  db_read_cols(st, file_cols, sizeof file_cols / sizeof file_cols[0], f);
}

DB_READ_ONE(file_one, struct cb_file, db_read_file)

void db_file_clear(struct cb_file *f)
{
  if (!f)
    return;
  free(f->metadata);
  f->metadata = NULL;
}

int db_file_row(sqlite3_stmt *st, void *p)
{
  struct file_visit *fc = p;
  struct cb_file f;
  db_read_file(st, &f);
  int stop = fc->cb(&f, fc->ctx);
  db_file_clear(&f);
  return stop;
}

cb_err db_file_get(const char *id, struct cb_file *out)
{
  sqlite3_stmt *st = db_query("SELECT " FILE_COLS FILE_FROM " WHERE f.id = ? AND f.deleted_at IS NULL", "s", id);
  return file_one(st, out);
}

cb_err db_file_list(const char *folder_id, const char *after_name, int limit, db_file_cb cb, void *ctx)
{
  struct file_visit fc = {cb, ctx};
  return db_each_row(db_query("SELECT " FILE_COLS FILE_FROM " WHERE f.folder_id = ? AND f.deleted_at IS NULL"
                              " AND f.name > coalesce(?, '') ORDER BY f.name LIMIT ?",
                              "ssi", folder_id, after_name, (int64_t)limit),
                     db_file_row, &fc);
}

static void read_version(sqlite3_stmt *st, struct cb_version *v)
{
  v->version = sqlite3_column_int64(st, 0);
  DB_COPY(st, 1, v->sha256);
  v->size = sqlite3_column_int64(st, 2);
  DB_COPY(st, 3, v->media_type);
  DB_COPY(st, 4, v->created_at);
  DB_COPY(st, 5, v->created_by);
  DB_COPY(st, 6, v->created_by_name);
}

#define VERSION_COLS                                                         \
  "version, sha256, size, media_type, created_at, coalesce(created_by, '')," \
  " coalesce((SELECT username FROM users u WHERE u.id = created_by), '')"

DB_READ_ONE(version_one, struct cb_version, read_version)

DB_VISITOR(version, struct cb_version, db_version_cb, read_version, DB_NO_CLEAR)

cb_err db_file_versions(const char *file_id, db_version_cb cb, void *ctx)
{
  struct version_visit vc = {cb, ctx};
  return db_each_row(db_query("SELECT " VERSION_COLS " FROM file_versions"
                              " WHERE file_id = ? ORDER BY version",
                              "s", file_id),
                     version_row, &vc);
}

cb_err db_file_version(const char *file_id, int64_t version, struct cb_version *out)
{
  sqlite3_stmt *st = db_query("SELECT " VERSION_COLS " FROM file_versions"
                              " WHERE file_id = ? AND version = ?",
                              "si", file_id, version);
  return version_one(st, out);
}

cb_err db_file_put_tx(const char *folder_id, const char *name, const char *owner_id, const char *sha256, int64_t size,
                      const char *media_type, const char *kind, int upload, char id[CB_ID_LEN + 1])
{
  char ts[CB_TIME_MAX];
  now(ts);
  cb_err e = db_exec("INSERT OR IGNORE INTO blobs(sha256, size, created_at) VALUES (?, ?, ?)", "sis", sha256, size, ts);
  if (e)
    goto done;
  /* Is there a live file of that name? Then this is its next version. */
  sqlite3_stmt *st = db_query("SELECT id, version FROM files WHERE folder_id = ? AND name = ?"
                              " AND deleted_at IS NULL",
                              "ss", folder_id, name);
  e = db_one_row(st);
  int64_t version = 1;
  if (e == CB_OK) {
    db_col_copy(st, 0, id, CB_ID_LEN + 1);
    version = sqlite3_column_int64(st, 1) + 1;
    sqlite3_reset(st);
    e = db_exec("UPDATE files SET version = ?, media_type = ?, kind = ?, status = 'uploaded',"
                " error = NULL, updated_at = ? WHERE id = ?",
                "issss", version, media_type, kind, ts, id);
  } else if (e == CB_ENOTFOUND) {
    e = cb_id_new(id);
    if (!e)
      e = db_exec("INSERT INTO files(id, folder_id, name, owner_id, version, kind, media_type,"
                  " status, created_at, updated_at) VALUES (?, ?, ?, ?, 1, ?, ?, 'uploaded', ?, ?)",
                  "ssssssss", id, folder_id, name, owner_id, kind, media_type, ts, ts);
  }
  if (e)
    goto done;
  e = db_exec("INSERT INTO file_versions(file_id, version, sha256, size, media_type, created_by,"
              " created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
              "sisisss", id, version, sha256, size, media_type, owner_id, ts);
  if (!e && version == 1) /* found by name at once; its text when processed */
    e = db_search_index_file_tx(id);
  if (e)
    goto done;
  /* Every upload is processed: its ingest job commits with it, so an acknowledged
   * upload always has one. */
  {
    struct cb_job job = {0};
    char params[64];
    const char *inputs[1] = {id};
    char inputs_json[CB_ID_LEN + 8];
    snprintf(params, sizeof params, "{\"version\":%lld}", (long long)version);
    snprintf(inputs_json, sizeof inputs_json, "[\"%s\"]", id);
    e = cb_id_new(job.id);
    snprintf(job.type, sizeof job.type, "ingest"); /* a type of jobs/types.c, named here: db/ is below jobs/ */
    snprintf(job.owner_id, sizeof job.owner_id, "%s", owner_id);
    job.inputs = inputs_json;
    job.params = params;
    job.max_attempts = 3;
    /* a small upload is processed at once beside large ones: someone is looking at it */
    snprintf(job.lane, sizeof job.lane, "%s", upload ? db_ingest_lane(size) : "batch");
    if (!e)
      e = db_job_insert_tx(&job, inputs, 1);
    if (e)
      goto done;
  }
done:
  return e;
}

/* Ends the transaction in which db_file_put_tx came to e, reading the file id back into
 * out (when out) first: after the commit, a concurrent upload of the same name may
 * already be the current version, and the answer would report its version and sha256 as
 * this one's. */
static cb_err put_end(cb_err e, const char *id, struct cb_file *out)
{
  int got = 0;
  if (!e && out && !(e = db_file_get(id, out)))
    got = 1;
  if (!e)
    e = db_commit();
  if (e) {
    if (got)
      db_file_clear(out);
    db_rollback();
  }
  return e;
}

cb_err db_file_put(const char *folder_id, const char *name, const char *owner_id, const char *sha256, int64_t size,
                   const char *media_type, const char *kind, struct cb_file *out)
{
  char id[CB_ID_LEN + 1];
  cb_err e = db_begin();
  if (e)
    return e;
  e = db_file_put_tx(folder_id, name, owner_id, sha256, size, media_type, kind, 1, id);
  return put_end(e, id, out);
}

cb_err db_file_version_restore(const char *file_id, int64_t version, const char *by, const char *media_type,
                               const char *kind, struct cb_file *out)
{
  struct cb_version v = {0};
  char id[CB_ID_LEN + 1];
  cb_err e = db_begin();
  if (e)
    return e;
  /* the file by its folder and name, read in the transaction that adds the version: the
   * version goes to this file even if it is renamed at the same moment */
  sqlite3_stmt *st = db_query("SELECT folder_id, name FROM files WHERE id = ? AND deleted_at IS NULL", "s", file_id);
  char folder_id[CB_ID_LEN + 1], name[CB_NAME_MAX];
  if (!(e = db_one_row(st))) {
    DB_COPY(st, 0, folder_id);
    DB_COPY(st, 1, name);
    sqlite3_reset(st);
    e = db_file_version(file_id, version, &v);
  }
  if (!e)
    e = db_file_put_tx(folder_id, name, by, v.sha256, v.size, media_type, kind, 1, id);
  return put_end(e, id, out);
}

cb_err db_file_find(const char *folder_id, const char *name, char id[CB_ID_LEN + 1], char sha256[65])
{
  sqlite3_stmt *st = db_query("SELECT f.id, v.sha256 FROM files f JOIN file_versions v"
                              " ON v.file_id = f.id AND v.version = f.version"
                              " WHERE f.folder_id = ? AND f.name = ? AND f.deleted_at IS NULL",
                              "ss", folder_id, name);
  cb_err e = db_one_row(st);
  if (e)
    return e;
  db_col_copy(st, 0, id, CB_ID_LEN + 1);
  db_col_copy(st, 1, sha256, 65);
  sqlite3_reset(st);
  return CB_OK;
}

cb_err db_file_update(const char *id, const char *name, const char *folder_id)
{
  char ts[CB_TIME_MAX];
  now(ts);
  cb_err e = db_begin();
  if (e)
    return e;
  e = db_exec("UPDATE files SET name = coalesce(?, name), folder_id = coalesce(?, folder_id),"
              " updated_at = ? WHERE id = ? AND deleted_at IS NULL",
              "ssss", name, folder_id, ts, id);
  e = db_changed(e);
  if (!e && name)
    e = db_search_index_file_tx(id);
  if (!e && name) /* the extracted properties' row carries the name too */
    e = db_search_index_props_tx(id);
  return db_end(e);
}

cb_err db_file_set_metadata(const char *id, const char *json)
{
  char ts[CB_TIME_MAX];
  now(ts);
  cb_err e = db_exec("UPDATE files SET metadata = ?, updated_at = ? WHERE id = ? AND deleted_at IS NULL", "sss", json,
                     ts, id);
  return db_changed(e);
}

cb_err db_file_delete(const char *id)
{
  char ts[CB_TIME_MAX];
  now(ts);
  cb_err e = db_begin();
  if (e)
    return e;
  /* its search rows stay while it is in the trash (searches skip deleted files): a
   * restore finds it again at once; the purge removes them (trash.c) */
  e = db_exec("UPDATE files SET deleted_at = ? WHERE id = ? AND deleted_at IS NULL", "ss", ts, id);
  e = db_changed(e);
  return db_end(e);
}

struct tree_ctx {
  db_tree_cb cb;
  void *ctx;
};

static int tree_row(sqlite3_stmt *st, void *p)
{
  struct tree_ctx *tc = p;
  struct cb_file f;
  db_read_file(st, &f);
  const char *rel = (const char *)sqlite3_column_text(st, 15);
  int stop = tc->cb(rel ? rel : f.name, &f, tc->ctx);
  db_file_clear(&f);
  return stop;
}

cb_err db_folder_tree_files(const char *folder_id, db_tree_cb cb, void *ctx)
{
  struct tree_ctx tc = {cb, ctx};
  return db_each_row(db_query("WITH RECURSIVE sub(id, rel, depth) AS ("
                              " SELECT ?, '', 0 UNION ALL"
                              " SELECT c.id, sub.rel || c.name || '/', sub.depth + 1 FROM folders c"
                              " JOIN sub ON c.parent_id = sub.id WHERE c.deleted_at IS NULL AND sub.depth < 1000)"
                              " SELECT " FILE_COLS ", sub.rel || f.name" FILE_FROM
                              " JOIN sub ON f.folder_id = sub.id WHERE f.deleted_at IS NULL"
                              " ORDER BY sub.rel, f.name",
                              "s", folder_id),
                     tree_row, &tc);
}

/* ----------------------------------------------------------- properties */

cb_err db_properties_replace(const char *file_id, const char *source, const struct cb_property *props, int n)
{
  cb_err e = db_begin();
  if (e)
    return e;
  e = db_exec("DELETE FROM properties WHERE file_id = ? AND record_id IS NULL AND source = ?", "ss", file_id, source);
  for (int i = 0; !e && i < n; i++) {
    const struct cb_property *p = &props[i];
    if (p->is_num)
      e = db_exec("INSERT INTO properties(file_id, name, value_num, unit, iri, source)"
                  " VALUES (?, ?, ?, ?, ?, ?)",
                  "ssdsss", file_id, p->name, p->value_num, p->unit, p->iri, source);
    else
      e = db_exec("INSERT INTO properties(file_id, name, value_text, unit, iri, source)"
                  " VALUES (?, ?, ?, ?, ?, ?)",
                  "ssssss", file_id, p->name, p->value_text, p->unit, p->iri, source);
  }
  if (!e)
    e = db_search_index_file_tx(file_id);
  if (e) {
    db_rollback();
    return e;
  }
  return db_commit();
}

int db_property_row(sqlite3_stmt *st, void *p)
{
  struct property_visit *pc = p;
  struct cb_property prop = {
    .name = (const char *)sqlite3_column_text(st, 0),
    .value_text = (const char *)sqlite3_column_text(st, 1),
    .is_num = sqlite3_column_type(st, 2) != SQLITE_NULL,
    .value_num = sqlite3_column_double(st, 2),
    .unit = (const char *)sqlite3_column_text(st, 3),
    .iri = (const char *)sqlite3_column_text(st, 4),
    .source = (const char *)sqlite3_column_text(st, 5),
  };
  return pc->cb(&prop, pc->ctx);
}

cb_err db_properties_list(const char *file_id, db_property_cb cb, void *ctx)
{
  struct property_visit pc = {cb, ctx};
  return db_each_row(db_query("SELECT name, value_text, value_num, unit, iri, source FROM properties"
                              " WHERE file_id = ? AND record_id IS NULL ORDER BY source, id",
                              "s", file_id),
                     db_property_row, &pc);
}

/* ---------------------------------------------------------------- blobs */

cb_err db_blob_totals(int64_t *count, int64_t *bytes)
{
  sqlite3_stmt *st = db_query("SELECT count(*), coalesce(sum(size), 0) FROM blobs", "");
  cb_err e = db_one_row(st);
  if (e)
    return e;
  *count = sqlite3_column_int64(st, 0);
  *bytes = sqlite3_column_int64(st, 1);
  sqlite3_reset(st);
  return CB_OK;
}

int db_blob_known(const char *sha256)
{
  sqlite3_stmt *st = db_query("SELECT 1 FROM blobs WHERE sha256 = ?", "s", sha256);
  if (!st)
    return 0;
  int found = sqlite3_step(st) == SQLITE_ROW;
  sqlite3_reset(st);
  return found;
}

cb_err db_blob_lookup(const char *sha256, int *known)
{
  *known = 0;
  sqlite3_stmt *st = db_query("SELECT 1 FROM blobs WHERE sha256 = ?", "s", sha256);
  if (!st)
    return CB_EDB;
  int rc = sqlite3_step(st);
  sqlite3_reset(st);
  if (rc != SQLITE_ROW && rc != SQLITE_DONE)
    return CB_EDB;
  *known = rc == SQLITE_ROW;
  return CB_OK;
}

/* -------------------------------------------------------------- uploads */

#define UPLOAD_COLS \
  "id, owner_id, folder_id, filename, length, \"offset\", coalesce(file_id, ''), created_at, expires_at"

static const struct db_col upload_cols[] = {
  DB_TEXT(struct cb_upload, id),       DB_TEXT(struct cb_upload, owner_id),   DB_TEXT(struct cb_upload, folder_id),
  DB_TEXT(struct cb_upload, filename), DB_NUM(struct cb_upload, length),      DB_NUM(struct cb_upload, offset),
  DB_TEXT(struct cb_upload, file_id),  DB_TEXT(struct cb_upload, created_at), DB_TEXT(struct cb_upload, expires_at)};

DB_READER(read_upload, struct cb_upload, upload_cols)

DB_READ_ONE(upload_one, struct cb_upload, read_upload)

cb_err db_upload_insert(const struct cb_upload *u)
{
  return db_exec("INSERT INTO uploads(id, owner_id, folder_id, filename, length, \"offset\","
                 " created_at, expires_at) VALUES (?, ?, ?, ?, ?, 0, ?, ?)",
                 "ssssiss", u->id, u->owner_id, u->folder_id, u->filename, u->length, u->created_at, u->expires_at);
}

cb_err db_upload_get(const char *id, struct cb_upload *out)
{
  sqlite3_stmt *st = db_query("SELECT " UPLOAD_COLS " FROM uploads WHERE id = ?", "s", id);
  return upload_one(st, out);
}

cb_err db_upload_set_offset(const char *id, int64_t offset, const char *expires_at)
{
  return db_exec("UPDATE uploads SET \"offset\" = ?, expires_at = ? WHERE id = ?", "iss", offset, expires_at, id);
}

cb_err db_upload_set_file(const char *id, const char *file_id)
{
  return db_exec("UPDATE uploads SET file_id = ?, \"offset\" = length WHERE id = ?", "ss", file_id, id);
}

cb_err db_upload_delete(const char *id)
{
  return db_exec("DELETE FROM uploads WHERE id = ?", "s", id);
}

DB_VISITOR(upload, struct cb_upload, db_upload_cb, read_upload, DB_NO_CLEAR)

cb_err db_upload_expired(const char *now_ts, int limit, db_upload_cb cb, void *ctx)
{
  struct upload_visit uc = {cb, ctx};
  return db_each_row(
    db_query("SELECT " UPLOAD_COLS " FROM uploads WHERE expires_at < ? LIMIT ?", "si", now_ts, (int64_t)limit),
    upload_row, &uc);
}
