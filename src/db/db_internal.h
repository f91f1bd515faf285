/* Shared by the files of src/db/ only. */
#ifndef CB_DB_INTERNAL_H
#define CB_DB_INTERNAL_H
#include <sqlite3.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "db/db.h"
#include "util/err.h"

sqlite3 *db_conn(void);
/* A cached statement for sql (a string literal), reset and unbound. */
sqlite3_stmt *db_prep(const char *sql);
/* Binds arguments by a format: s = text (NULL binds NULL), i = int64_t, d = double, n = NULL. */
cb_err db_bind(sqlite3_stmt *st, const char *fmt, va_list ap);
/* Prepares and binds; step it and sqlite3_reset() when done. NULL on failure. */
sqlite3_stmt *db_query(const char *sql, const char *fmt, ...);
/* Prepares, binds, steps once and resets. */
cb_err db_exec(const char *sql, const char *fmt, ...);
cb_err db_rc(int rc);
int db_changes(void);
/* Ends the transaction the caller began: commits when e is CB_OK, rolls back when e or the
 * commit failed. Returns what it came to. */
cb_err db_end(cb_err e);
/* What a statement that must change a row came to: e, or CB_ENOTFOUND when it changed none. */
static inline cb_err db_changed(cb_err e)
{
  return e ? e : db_changes() ? CB_OK : CB_ENOTFOUND;
}
void db_col_copy(sqlite3_stmt *st, int col, char *dst, size_t cap);
/* Steps st over every row, calling row(st, ctx) until it returns non-zero; resets st. */
cb_err db_each_row(sqlite3_stmt *st, int (*row)(sqlite3_stmt *, void *), void *ctx);
/* Steps st once: CB_OK with a row (caller resets), CB_ENOTFOUND without. */
cb_err db_one_row(sqlite3_stmt *st);
/* Fault injection for tests (faultvfs.c): reads CARBOY_DB_FAULT and registers the shim
 * VFS; db_fault_vfs() names it for sqlite3_open_v2, NULL when off. */
cb_err db_fault_from_env(struct cb_errbuf *eb);
const char *db_fault_vfs(void);
#define DB_COPY(st, col, field) db_col_copy((st), (col), (field), sizeof(field))

/* A row reader as a table: column i of the row goes to the field cols[i] names, by its
 * kind. DB_TEXT(T, f) copies text into the char array T.f (db_col_copy); DB_DUP(T, f)
 * strdup()s it into the char * T.f (NULL stays NULL, the caller frees); DB_NUM(T, f) reads
 * an int, int64_t or double field by its type. A field of another type than its macro
 * names does not compile. */
enum db_col_kind { DB_COL_TEXT, DB_COL_DUP, DB_COL_INT, DB_COL_INT64, DB_COL_REAL };
struct db_col {
  enum db_col_kind kind;
  size_t off;
  size_t cap;
};
/* The field's size when it is a char array, and a compile error otherwise. */
#define DB_ARRAY_SIZE(T, f) _Generic(&((T *)0)->f, char(*)[sizeof(((T *)0)->f)] : sizeof(((T *)0)->f))
#define DB_TEXT(T, f)                                \
  {                                                  \
    DB_COL_TEXT, offsetof(T, f), DB_ARRAY_SIZE(T, f) \
  }
#define DB_DUP(T, f)                                                \
  {                                                                 \
    DB_COL_DUP, offsetof(T, f), _Generic(&((T *)0)->f, char ** : 0) \
  }
#define DB_NUM(T, f)                                                                                         \
  {                                                                                                          \
    _Generic(((T *)0)->f, int : DB_COL_INT, int64_t : DB_COL_INT64, double : DB_COL_REAL), offsetof(T, f), 0 \
  }
void db_read_cols(sqlite3_stmt *st, const struct db_col *cols, size_t n, void *out);
/* Defines NAME(st, out), reading a row into the TYPE out by the table COLS. */
#define DB_READER(name, type, cols)                              \
  static void name(sqlite3_stmt *st, type *out)                  \
  {                                                              \
    db_read_cols(st, cols, sizeof(cols) / sizeof(cols[0]), out); \
  }

/* Column lists and row readers shared by the query files. */
#define USER_COLS "id, username, password_hash, is_admin, created_at"
/* USER_COLS for reading (db_read_user), and the condition of an account that still acts */
#define USER_READ_COLS USER_COLS ", disabled_at IS NOT NULL"
#define USER_ACTIVE(U) U "disabled_at IS NULL AND " U "deleted_at IS NULL"
#define FOLDER_COLS                                                                 \
  "f.id, f.name, coalesce(f.parent_id, ''), f.owner_id, u.username, f.visibility, " \
  "f.created_at, f.updated_at"
#define FILE_COLS                                                                       \
  "f.id, f.folder_id, f.name, f.owner_id, f.version, f.kind, f.media_type, f.status, "  \
  "coalesce(f.error, ''), f.visibility, v.sha256, v.size, f.created_at, f.updated_at, " \
  "f.metadata"
#define FILE_FROM " FROM files f JOIN file_versions v ON v.file_id = f.id AND v.version = f.version"

/* The access rule of auth_role() as an SQL condition, for lists that page: their filter
 * runs inside the query, before LIMIT, so no count, cursor or page boundary reflects a
 * row the caller may not see. ME is the SQL parameter of the caller's user id (NULL for
 * anonymous), LINK that of a share link's object id (or NULL); administrators need no
 * condition. The parameters are spelt by the caller (":me", "?1"): SQLite numbers a named
 * parameter after the highest number seen before it, so a query whose numbered parameters
 * come later uses its own numbers here.
 * DB_FOLDER_VISIBLE_SQL(X, ME, LINK): the folder whose id is the SQL expression X (a column
 * of the outer query, never input), or one above it, is the caller's, granted to them or a
 * group of theirs, public, or the link's. DB_FILE_VISIBLE_SQL(F, ME, LINK): the same for
 * the file row F, through its own owner, grants, visibility and link, then its folder. */
#define DB_FOLDER_VISIBLE_SQL(X, ME, LINK)                                                 \
  "EXISTS (WITH RECURSIVE up(id, depth) AS (SELECT " X ", 0 UNION ALL SELECT c.parent_id," \
  " up.depth + 1 FROM folders c JOIN up ON c.id = up.id WHERE c.parent_id IS NOT NULL"     \
  " AND up.depth < 1000) SELECT 1 FROM up JOIN folders x ON x.id = up.id"                  \
  " WHERE x.owner_id = " ME " OR x.visibility = 'public' OR x.id = " LINK " OR x.id IN"    \
  " (SELECT g.object_id FROM grants g WHERE g.object_type = 'folder' AND g.lapsed = 0"     \
  " AND (g.user_id = " ME " OR g.group_id IN (SELECT group_id FROM group_members WHERE user_id = " ME "))))"
#define DB_FILE_VISIBLE_SQL(F, ME, LINK)                                                              \
  "(" F ".owner_id = " ME " OR " F ".visibility = 'public' OR " F ".id = " LINK " OR " F              \
  ".id IN (SELECT g.object_id FROM grants g WHERE g.object_type = 'file' AND g.lapsed = 0"            \
  " AND (g.user_id = " ME " OR g.group_id IN (SELECT group_id FROM group_members WHERE user_id = " ME \
  "))) OR " DB_FOLDER_VISIBLE_SQL(F ".folder_id", ME, LINK) ")"
/* Binds :me and :link (absent parameters are skipped). */
void db_bind_viewer(sqlite3_stmt *st, const struct db_viewer *v);
struct cb_job;
/* Inserts a queued job inside the caller's transaction. */
cb_err db_job_insert_tx(const struct cb_job *j, const char *const *input_ids, int n);
/* Notes a job this thread created, for db_jobs_created once its transaction commits. */
void db_note_job_created(const char *id);
/* db_file_put's work inside the caller's transaction; the file's id goes to id. upload: a
 * person's upload (db_file_put), whose ingest may be interactive work (db_ingest_lane);
 * else a job's output (an unpacked member, a conversion), processed as batch work. */
cb_err db_file_put_tx(const char *folder_id, const char *name, const char *owner_id, const char *sha256, int64_t size,
                      const char *media_type, const char *kind, int upload, char id[CB_ID_LEN + 1]);
/* The lane of an uploaded file's ingest: "interactive" up to the size
 * db_jobs_set_interactive_ingest_max set, else "batch". */
const char *db_ingest_lane(int64_t size);
struct cb_user;
struct cb_folder;
struct cb_file;
void db_read_user(sqlite3_stmt *st, struct cb_user *u);
void db_read_folder(sqlite3_stmt *st, struct cb_folder *f);
void db_read_file(sqlite3_stmt *st, struct cb_file *f);

/* Row callbacks for db_each_row that hand each row, read, to a caller's callback. */
struct folder_visit {
  db_folder_cb cb;
  void *ctx;
};
struct file_visit {
  db_file_cb cb;
  void *ctx;
};
struct property_visit { /* columns: name, value_text, value_num, unit, iri, source */
  db_property_cb cb;
  void *ctx;
};
int db_folder_row(sqlite3_stmt *st, void *visit);

/* Defines struct NAME_visit {cb, ctx} and NAME_row, a db_each_row callback that reads each
 * row into a TYPE with READER, hands it to cb and then releases it with CLEAR. */
#define DB_NO_CLEAR(x) ((void)(x))
#define DB_VISITOR(name, type, cbtype, reader, clear) \
  struct name##_visit {                               \
    cbtype cb;                                        \
    void *ctx;                                        \
  };                                                  \
  static int name##_row(sqlite3_stmt *st, void *p)    \
  {                                                   \
    struct name##_visit *v = p;                       \
    type x;                                           \
    reader(st, &x);                                   \
    int stop = v->cb(&x, v->ctx);                     \
    clear(&x);                                        \
    return stop;                                      \
  }
/* Defines NAME(st, out), which steps st once and reads the row into the TYPE out with
 * READER: CB_ENOTFOUND without a row (db_one_row), CB_OK with one; st is reset. */
#define DB_READ_ONE(name, type, reader)           \
  static cb_err name(sqlite3_stmt *st, type *out) \
  {                                               \
    cb_err e = db_one_row(st);                    \
    if (e)                                        \
      return e;                                   \
    reader(st, out);                              \
    sqlite3_reset(st);                            \
    return CB_OK;                                 \
  }
int db_file_row(sqlite3_stmt *st, void *visit);
int db_property_row(sqlite3_stmt *st, void *visit);

/* Full-text index upkeep, inside the caller's transaction (search.c). */
cb_err db_search_index_file_tx(const char *file_id);                   /* name + user properties' text */
cb_err db_search_index_props_tx(const char *file_id);                  /* name + extracted properties' text */
cb_err db_search_index_text_tx(const char *file_id, const char *path); /* extracted text, or none */
cb_err db_search_index_record_tx(const char *file_id, const char *record_id, const char *title, const char *body);
cb_err db_search_forget_records_tx(const char *file_id, int64_t version);
cb_err db_search_forget_file_tx(const char *file_id);

#endif
