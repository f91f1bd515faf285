/* Full-text and property search (schemas/sql/0007_text_search.sql).
 *
 * Indexing happens inside the transactions that change what is indexed: a file's name row
 * when it is created, renamed or given metadata; its text chunks and property values when
 * its ingest applies; a record's row when the record is stored. Rows of deleted files and
 * of records of older versions stay until they are replaced, and are filtered out when
 * searching, so no path can leak what was deleted.
 *
 * A file's rows (record_id NULL): part 0, its name and its user-given properties' text
 * values; part -1, its name and its extracted properties' text values; parts 1..N, its
 * extracted text in chunks of about 32 KiB (schemas/sql/0015_search_properties_row.sql). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db/db_internal.h"
#include "util/util.h"

#define CHUNK 32768 /* bytes of extracted text per full-text row */

/* A statement from SQL built in sql (freed): CB_ENOMEM when building it ran out of memory. */
static cb_err prepare_built(struct cb_buf *sql, sqlite3_stmt **st)
{
  if (!sql->data)
    return CB_ENOMEM;
  int rc = sqlite3_prepare_v2(db_conn(), sql->data, -1, st, NULL);
  cb_buf_free(sql);
  return rc == SQLITE_OK ? CB_OK : db_rc(rc);
}

/* Which of a file's rows forget() removes. */
enum forget_rows { FORGET_NAME, FORGET_TEXT, FORGET_PROPS, FORGET_ALL };

/* Removes a file's rows of one kind from the index. The FTS5 rows go one by one: a
 * statement that writes several rows of a virtual table opens a statement savepoint, and
 * FTS5 writes all its pending words out as a new segment at every savepoint (for a batch
 * of small files' ingests that was most of their cost). */
static cb_err forget(const char *file_id, enum forget_rows which)
{
  static const char *const pick[] = {
    "SELECT id FROM search_docs WHERE file_id = ? AND record_id IS NULL AND part = 0",
    "SELECT id FROM search_docs WHERE file_id = ? AND record_id IS NULL AND part > 0",
    "SELECT id FROM search_docs WHERE file_id = ? AND record_id IS NULL AND part = -1",
    "SELECT id FROM search_docs WHERE file_id = ?",
  };
  static const char *const drop[] = {
    "DELETE FROM search_docs WHERE file_id = ? AND record_id IS NULL AND part = 0",
    "DELETE FROM search_docs WHERE file_id = ? AND record_id IS NULL AND part > 0",
    "DELETE FROM search_docs WHERE file_id = ? AND record_id IS NULL AND part = -1",
    "DELETE FROM search_docs WHERE file_id = ?",
  };
  sqlite3_stmt *st = db_query(pick[which], "s", file_id);
  if (!st)
    return CB_EDB;
  int64_t *ids = NULL;
  size_t n = 0, cap = 0;
  int rc;
  cb_err e = CB_OK;
  while (!e && (rc = sqlite3_step(st)) == SQLITE_ROW) {
    if (n == cap) {
      int64_t *more = realloc(ids, (cap ? cap * 2 : 8) * sizeof *ids);
      if (!more)
        e = CB_ENOMEM;
      else
        ids = more, cap = cap ? cap * 2 : 8;
    }
    if (!e)
      ids[n++] = sqlite3_column_int64(st, 0);
  }
  if (!e && rc != SQLITE_DONE)
    e = db_rc(rc);
  sqlite3_reset(st);
  for (size_t i = 0; !e && i < n; i++)
    e = db_exec("DELETE FROM search_fts WHERE rowid = ?", "i", ids[i]);
  free(ids);
  return e ? e : db_exec(drop[which], "s", file_id);
}

static cb_err add_row(const char *file_id, const char *record_id, int64_t part, const char *name, const char *body,
                      size_t body_len)
{
  cb_err e = db_exec("INSERT INTO search_docs(file_id, record_id, part) VALUES (?, ?, ?)", "ssi", file_id, record_id,
                     part);
  if (e)
    return e;
  sqlite3_stmt *st = db_prep("INSERT INTO search_fts(rowid, name, body) VALUES (?, ?, ?)");
  if (!st)
    return CB_EDB;
  sqlite3_bind_int64(st, 1, sqlite3_last_insert_rowid(db_conn()));
  sqlite3_bind_text(st, 2, name ? name : "", -1, SQLITE_STATIC);
  sqlite3_bind_text(st, 3, body ? body : "", (int)body_len, SQLITE_STATIC);
  int rc = sqlite3_step(st);
  sqlite3_reset(st);
  sqlite3_clear_bindings(st);
  return rc == SQLITE_DONE ? CB_OK : db_rc(rc);
}

/* A file's row of part 0 or -1: its name and the text values of its properties from
 * source ('user' or 'extracted'); none when empty is 0 and there are no such values. */
static cb_err index_name_row(const char *file_id, enum forget_rows which, int64_t part, const char *source, int empty)
{
  cb_err e = forget(file_id, which);
  if (e)
    return e;
  sqlite3_stmt *st = db_query("SELECT f.name, (SELECT group_concat(value_text, ' ') FROM properties"
                              " WHERE file_id = f.id AND record_id IS NULL AND value_text IS NOT NULL"
                              " AND source = ?) FROM files f WHERE f.id = ? AND f.deleted_at IS NULL",
                              "ss", source, file_id);
  if (!st)
    return CB_EDB;
  e = db_one_row(st);
  if (e)
    return e == CB_ENOTFOUND ? CB_OK : e;
  const char *b = (const char *)sqlite3_column_text(st, 1);
  if (!empty && (!b || !*b)) {
    sqlite3_reset(st);
    return CB_OK;
  }
  char *name = strdup((const char *)sqlite3_column_text(st, 0)), *body = strdup(b ? b : "");
  sqlite3_reset(st);
  e = name && body ? add_row(file_id, NULL, part, name, body, strlen(body)) : CB_ENOMEM;
  free(name);
  free(body);
  return e;
}

/* The file's own row (part 0): its name and the text values of the properties users gave
 * it (metadata). Rewritten on a rename or new metadata. */
cb_err db_search_index_file_tx(const char *file_id)
{
  return index_name_row(file_id, FORGET_NAME, 0, "user", 1);
}

/* The file's extracted properties' row (part -1): its name again, so that words of both
 * match one row, and the text values its ingest extracted (no row without any). Written
 * by each ingest (a new file's first one only adds it) and on a rename. */
cb_err db_search_index_props_tx(const char *file_id)
{
  return index_name_row(file_id, FORGET_PROPS, -1, "extracted", 0);
}

cb_err db_search_index_text_tx(const char *file_id, const char *path)
{
  cb_err e = forget(file_id, FORGET_TEXT);
  if (e || !path)
    return e;
  FILE *f = fopen(path, "rb");
  if (!f)
    return CB_OK; /* no text */
  char *buf = malloc(CHUNK + 4096);
  if (!buf) {
    fclose(f);
    return CB_ENOMEM;
  }
  size_t have = 0;
  int64_t part = 1;
  for (;;) {
    size_t n = fread(buf + have, 1, CHUNK + 4096 - have, f);
    have += n;
    if (!have)
      break;
    /* cut after the last whitespace in the chunk (never inside a word or a UTF-8
     * sequence); all of it at the end of the file */
    size_t cut = have;
    if (n && have > CHUNK) {
      cut = CHUNK;
      while (cut > CHUNK / 2 && buf[cut - 1] != ' ' && buf[cut - 1] != '\n' && buf[cut - 1] != '\t')
        cut--;
      if (cut == CHUNK / 2) /* no whitespace: cut before a UTF-8 continuation byte */
        for (cut = CHUNK; cut > 0 && ((unsigned char)buf[cut] & 0xc0) == 0x80; cut--)
          ;
    }
    if ((e = add_row(file_id, NULL, part++, "", buf, cut)))
      break;
    memmove(buf, buf + cut, have - cut);
    have -= cut;
    if (!n && !have)
      break;
  }
  free(buf);
  fclose(f);
  return e;
}

cb_err db_search_index_record_tx(const char *file_id, const char *record_id, const char *title, const char *body)
{
  return add_row(file_id, record_id, 0, title, body, body ? strlen(body) : 0);
}

cb_err db_search_forget_records_tx(const char *file_id, int64_t version)
{
  cb_err e = db_exec("DELETE FROM search_fts WHERE rowid IN (SELECT d.id FROM search_docs d JOIN records r"
                     " ON r.id = d.record_id WHERE r.file_id = ? AND r.version = ?)",
                     "si", file_id, version);
  if (!e)
    e = db_exec("DELETE FROM search_docs WHERE record_id IN (SELECT id FROM records WHERE file_id = ? AND version = ?)",
                "si", file_id, version);
  return e;
}

cb_err db_search_forget_file_tx(const char *file_id)
{
  return forget(file_id, FORGET_ALL);
}

/* ---- searching ---- */

static const char *const ops_sql[] = {" = ", " < ", " <= ", " > ", " >= "};

/* The property condition for one where=, on the hit's own properties (the file's, or the
 * record's); binds go in order: name, value. */
static void where_sql(struct cb_buf *b, const struct db_where *w)
{
  /* the unary + keeps the planner on properties_file (this hit's few rows) rather than
   * the (name, value_num) index (every file's rows of that name) */
  cb_buf_printf(b,
                " AND EXISTS (SELECT 1 FROM properties p WHERE p.file_id = d.file_id AND p.record_id IS d.record_id"
                " AND +p.name = ? AND +p.%s%s?)",
                w->is_num ? "value_num" : "value_text", ops_sql[w->op]);
}

/* The file f is in the folder ? or below it (a deleted folder's files are deleted). */
#define IN_FOLDER_SQL                                                                      \
  " AND EXISTS (WITH RECURSIVE up(id) AS (SELECT f.folder_id UNION ALL SELECT c.parent_id" \
  " FROM folders c JOIN up ON c.id = up.id WHERE c.parent_id IS NOT NULL) SELECT 1 FROM up WHERE id = ?)"

/* The file f is assigned one of the categories of the JSON array ?, or a folder it lies in
 * (directly or below) is assigned one of those of the second ? (the same array). */
#define IN_CATEGORIES_SQL                                                                      \
  " AND (EXISTS (SELECT 1 FROM category_assignments ca WHERE ca.object_type = 'file'"          \
  " AND ca.object_id = f.id AND ca.category_id IN (SELECT value FROM json_each(?)))"           \
  " OR EXISTS (WITH RECURSIVE anc(id) AS (SELECT f.folder_id UNION ALL SELECT c.parent_id"     \
  " FROM folders c JOIN anc ON c.id = anc.id WHERE c.parent_id IS NOT NULL) SELECT 1 FROM anc" \
  " JOIN category_assignments ca ON ca.object_type = 'folder' AND ca.object_id = anc.id"       \
  " WHERE ca.category_id IN (SELECT value FROM json_each(?))"
/* ... and only through a folder the caller may see: a file shared on its own must not
 * tell its hidden folder's categories (IN_CATEGORIES_SQL's last parenthesis closes after). */
#define IN_VISIBLE_FOLDER_SQL " AND " DB_FOLDER_VISIBLE_SQL("anc.id", ":me", ":link")

/* The file f (of the row d) holds another record than d's in its current version. */
#define OTHER_RECORD_SQL \
  "EXISTS (SELECT 1 FROM records x WHERE x.file_id = f.id AND x.version = f.version AND x.id <> d.record_id)"

/* The filters of q after "WHERE <first condition>" (kind, folder, where=), and their binds
 * from k on. */
static void filters_sql(struct cb_buf *sql, const struct db_search_q *q, const struct db_where *w0)
{
  if (q->kind)
    cb_buf_printf(sql, " AND f.kind = ?");
  if (q->folder_id)
    cb_buf_puts(sql, IN_FOLDER_SQL);
  for (int i = 0; i < q->nwhere; i++)
    if (&q->where[i] != w0)
      where_sql(sql, &q->where[i]);
  /* last of the positional ones: the named parameters in it come after them all */
  if (q->categories)
    cb_buf_printf(sql, "%s%s))", IN_CATEGORIES_SQL, q->viewer->all ? "" : IN_VISIBLE_FOLDER_SQL);
  if (!q->viewer->all) /* named parameters: they take no positional slot after this */
    cb_buf_printf(sql, " AND " DB_FILE_VISIBLE_SQL("f", ":me", ":link"));
}

static int filters_bind(sqlite3_stmt *st, int k, const struct db_search_q *q, const struct db_where *w0)
{
  if (q->kind)
    sqlite3_bind_text(st, k++, q->kind, -1, SQLITE_STATIC);
  if (q->folder_id)
    sqlite3_bind_text(st, k++, q->folder_id, -1, SQLITE_STATIC);
  for (int i = 0; i < q->nwhere; i++) {
    if (&q->where[i] == w0)
      continue;
    sqlite3_bind_text(st, k++, q->where[i].name, -1, SQLITE_STATIC);
    if (q->where[i].is_num)
      sqlite3_bind_double(st, k++, q->where[i].num);
    else
      sqlite3_bind_text(st, k++, q->where[i].text, -1, SQLITE_STATIC);
  }
  for (int i = 0; q->categories && i < 2; i++)
    sqlite3_bind_text(st, k++, q->categories, -1, SQLITE_STATIC);
  return k;
}

/* Keys ("file_id/record_id") of the candidates already given, to give each once. */
struct seen {
  char **keys;
  size_t cap, n;
};

static uint64_t key_hash(const char *s)
{
  uint64_t h = 1469598103934665603ull;
  for (; *s; s++)
    h = (h ^ (unsigned char)*s) * 1099511628211ull;
  return h;
}

/* 1 when key was new (and is now remembered), 0 when seen before, -1 out of memory. */
static int seen_add(struct seen *t, const char *key)
{
  if (2 * (t->n + 1) > t->cap) {
    size_t cap = t->cap ? t->cap * 2 : 1024;
    char **keys = calloc(cap, sizeof *keys);
    if (!keys)
      return -1;
    for (size_t i = 0; i < t->cap; i++)
      if (t->keys[i]) {
        size_t j = key_hash(t->keys[i]) & (cap - 1);
        while (keys[j])
          j = (j + 1) & (cap - 1);
        keys[j] = t->keys[i];
      }
    free(t->keys);
    t->keys = keys;
    t->cap = cap;
  }
  size_t j = key_hash(key) & (t->cap - 1);
  for (; t->keys[j]; j = (j + 1) & (t->cap - 1))
    if (!strcmp(t->keys[j], key))
      return 0;
  if (!(t->keys[j] = strdup(key)))
    return -1;
  t->n++;
  return 1;
}

static void seen_free(struct seen *t)
{
  for (size_t i = 0; i < t->cap; i++)
    free(t->keys[i]);
  free(t->keys);
}

/* With words: the full-text rows in rank order (FTS5's bm25, the name weighing 10 times
 * the body), fetched in rounds that grow eightfold, so a page of a frequent word's hits
 * costs the ranking and a lookup of a few hundred rows rather than a join and a sort of
 * every match; each row is looked up (live file, current version's record, the filters)
 * and the first row of each file or record names it. Rows tie-break by rowid, so the
 * rounds split one total order. */
static cb_err search_words(const struct db_search_q *q, db_search_cb cb, void *ctx)
{
  struct cb_buf sql = {0};
  cb_buf_printf(&sql, "SELECT d.file_id, d.record_id, f.name, f.kind, r.title,"
                      " d.record_id IS NOT NULL AND NOT " OTHER_RECORD_SQL " FROM search_docs d"
                      " JOIN files f ON f.id = d.file_id AND f.deleted_at IS NULL"
                      " LEFT JOIN records r ON r.id = d.record_id"
                      " WHERE d.id = ? AND (d.record_id IS NULL OR r.version = f.version)");
  filters_sql(&sql, q, NULL);
  if (!sql.data)
    return CB_ENOMEM;
  sqlite3_stmt *rows = NULL, *doc = NULL;
  int rc = sqlite3_prepare_v2(db_conn(), sql.data, -1, &doc, NULL);
  cb_buf_free(&sql);
  if (rc == SQLITE_OK)
    rc = sqlite3_prepare_v2(db_conn(),
                            "SELECT rowid, bm25(search_fts, 10.0, 1.0) AS score FROM search_fts"
                            " WHERE search_fts MATCH ? ORDER BY score, rowid LIMIT ? OFFSET ?",
                            -1, &rows, NULL);
  if (rc != SQLITE_OK) {
    sqlite3_finalize(doc);
    return db_rc(rc);
  }
  filters_bind(doc, 2, q, NULL);
  db_bind_viewer(doc, q->viewer);
  struct seen seen = {0};
  cb_err e = CB_OK;
  /* a cursor far past the end (any number a client sends) must not overflow the round */
  int64_t pos = 0, fetched = 0, round = q->offset < (INT64_MAX - 256) / 4 ? 256 + 4 * q->offset : INT64_MAX;
  int stop = 0;
  char key[2 * CB_ID_LEN + 4];
  while (!stop && !e) {
    sqlite3_bind_text(rows, 1, q->match, -1, SQLITE_STATIC);
    sqlite3_bind_int64(rows, 2, round);
    sqlite3_bind_int64(rows, 3, fetched);
    int64_t got = 0;
    while (!stop && !e && (rc = sqlite3_step(rows)) == SQLITE_ROW) {
      got++;
      int64_t id = sqlite3_column_int64(rows, 0);
      double score = sqlite3_column_double(rows, 1);
      sqlite3_bind_int64(doc, 1, id);
      int drc = sqlite3_step(doc);
      if (drc == SQLITE_ROW) {
        const char *fid = (const char *)sqlite3_column_text(doc, 0), *rid = (const char *)sqlite3_column_text(doc, 1);
        int as_file = rid && sqlite3_column_int(doc, 5) && !q->all_records; /* the file's only record */
        if (as_file)
          rid = NULL;
        snprintf(key, sizeof key, "%s/%s", fid, rid ? rid : "");
        int fresh = seen_add(&seen, key);
        if (fresh < 0)
          e = CB_ENOMEM;
        else if (fresh && ++pos > q->offset) {
          struct cb_search_hit h = {
            .doc = id,
            .file_id = fid,
            .record_id = rid,
            .name = (const char *)sqlite3_column_text(doc, 2),
            .kind = (const char *)sqlite3_column_text(doc, 3),
            .title = as_file ? NULL : (const char *)sqlite3_column_text(doc, 4),
            .score = -score, /* bm25: lower is better */
            .position = pos,
          };
          stop = cb(&h, ctx);
        }
      } else if (drc != SQLITE_DONE) {
        e = db_rc(drc);
      }
      sqlite3_reset(doc);
    }
    if (!e && !stop && rc != SQLITE_DONE)
      e = rc == SQLITE_ERROR ? CB_EINVAL : db_rc(rc); /* a query FTS5 cannot parse */
    sqlite3_reset(rows);
    fetched += got;
    if (got < round) /* every match was looked at */
      break;
    round = round < INT64_MAX / 8 ? round * 8 : INT64_MAX;
  }
  seen_free(&seen);
  sqlite3_finalize(rows);
  sqlite3_finalize(doc);
  return e;
}

/* Hands the rows of st to cb until it stops, and finalizes st: a query of the columns
 * doc, file_id, record_id, name, kind and title, ending in OFFSET :offset (the viewer's
 * parameters and it are bound here). */
static cb_err each_hit(sqlite3_stmt *st, const struct db_search_q *q, db_search_cb cb, void *ctx)
{
  db_bind_viewer(st, q->viewer);
  sqlite3_bind_int64(st, sqlite3_bind_parameter_index(st, ":offset"), q->offset);
  cb_err e = CB_OK;
  int64_t pos = q->offset;
  int rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    struct cb_search_hit h = {
      .doc = sqlite3_column_int64(st, 0),
      .file_id = (const char *)sqlite3_column_text(st, 1),
      .record_id = (const char *)sqlite3_column_text(st, 2),
      .name = (const char *)sqlite3_column_text(st, 3),
      .kind = (const char *)sqlite3_column_text(st, 4),
      .title = (const char *)sqlite3_column_text(st, 5),
      .position = ++pos,
    };
    if (cb(&h, ctx))
      break;
  }
  if (rc != SQLITE_ROW && rc != SQLITE_DONE)
    e = db_rc(rc);
  sqlite3_finalize(st);
  return e;
}

/* Neither words nor where=, but categories: their files (not records) by name. */
static cb_err search_categories(const struct db_search_q *q, db_search_cb cb, void *ctx)
{
  struct cb_buf sql = {0};
  cb_buf_puts(&sql, "SELECT NULL, f.id, NULL, f.name, f.kind, NULL FROM files f WHERE f.deleted_at IS NULL");
  filters_sql(&sql, q, NULL);
  cb_buf_puts(&sql, " ORDER BY f.name, f.id LIMIT -1 OFFSET :offset");
  sqlite3_stmt *st;
  cb_err e = prepare_built(&sql, &st);
  if (e)
    return e;
  filters_bind(st, 1, q, NULL);
  return each_hit(st, q, cb, ctx);
}

cb_err db_search(const struct db_search_q *q, db_search_cb cb, void *ctx)
{
  if (!q->match && !q->nwhere && !q->categories)
    return CB_EINVAL;
  if (q->match)
    return search_words(q, cb, ctx);
  if (!q->nwhere)
    return search_categories(q, cb, ctx);
  /* Properties only: the first condition drives, through its (name, value) index, in
   * value order, so LIMIT stops early; the caller drops repeats. */
  const struct db_where *w0 = &q->where[0];
  struct cb_buf sql = {0};
  cb_buf_printf(&sql,
                "SELECT d.id, d.file_id, d.record_id, f.name, f.kind, r.title FROM properties p0"
                " JOIN search_docs d ON d.file_id = p0.file_id AND d.record_id IS p0.record_id AND d.part = 0"
                " JOIN files f ON f.id = d.file_id AND f.deleted_at IS NULL"
                " LEFT JOIN records r ON r.id = d.record_id WHERE (d.record_id IS NULL OR r.version = f.version)"
                " AND p0.name = ? AND p0.%s%s?",
                w0->is_num ? "value_num" : "value_text", ops_sql[w0->op]);
  /* a file's only record, whose property the file itself carries (a one-molecule file's
   * are copied up; a one-sheet workbook's are not): the file comes instead */
  if (!q->all_records)
    cb_buf_puts(&sql, " AND (d.record_id IS NULL OR " OTHER_RECORD_SQL
                      " OR NOT EXISTS (SELECT 1 FROM properties fp WHERE fp.file_id = f.id AND fp.record_id IS NULL"
                      " AND fp.name = p0.name))");
  filters_sql(&sql, q, w0);
  cb_buf_printf(&sql, " ORDER BY p0.%s LIMIT -1 OFFSET :offset", w0->is_num ? "value_num" : "value_text");
  sqlite3_stmt *st;
  cb_err pe = prepare_built(&sql, &st);
  if (pe)
    return pe;
  sqlite3_bind_text(st, 1, w0->name, -1, SQLITE_STATIC);
  if (w0->is_num)
    sqlite3_bind_double(st, 2, w0->num);
  else
    sqlite3_bind_text(st, 2, w0->text, -1, SQLITE_STATIC);
  filters_bind(st, 3, q, w0);
  return each_hit(st, q, cb, ctx);
}

char *db_search_snippet(const char *match, int64_t doc)
{
  sqlite3_stmt *st = db_query("SELECT snippet(search_fts, -1, '\xc2\xab', '\xc2\xbb', '\xe2\x80\xa6', 16)"
                              " FROM search_fts WHERE search_fts MATCH ? AND rowid = ?",
                              "si", match, doc);
  if (!st || db_one_row(st))
    return NULL;
  const char *t = (const char *)sqlite3_column_text(st, 0);
  char *out = t ? strdup(t) : NULL;
  sqlite3_reset(st);
  return out;
}

/* the unary + keeps the planner on properties_file (the hit's few rows): on the (name,
 * value) index it read every file's matching rows for each hit (a property query with
 * thousands of matches took 0.5 ms a hit) */
#define MATCHED_SQL(col, op)                                                                                   \
  "SELECT name, value_text, value_num, unit, iri, source FROM properties WHERE file_id = ? AND record_id IS ?" \
  " AND +name = ? AND +" col op "? ORDER BY id"
#define MATCHED_OPS(col)                                                                                 \
  {                                                                                                      \
    MATCHED_SQL(col, " = "), MATCHED_SQL(col, " < "), MATCHED_SQL(col, " <= "), MATCHED_SQL(col, " > "), \
      MATCHED_SQL(col, " >= ")                                                                           \
  }
/* one literal a value kind and operator (db_prep keeps them by address) */
static const char *const matched_sql[2][5] = {MATCHED_OPS("value_text"), MATCHED_OPS("value_num")};

cb_err db_search_matched(const char *file_id, const char *record_id, const struct db_where *w, db_property_cb cb,
                         void *ctx)
{
  const char *sql = matched_sql[w->is_num ? 1 : 0][w->op];
  struct property_visit pc = {cb, ctx};
  sqlite3_stmt *st = w->is_num ? db_query(sql, "sssd", file_id, record_id, w->name, w->num)
                               : db_query(sql, "ssss", file_id, record_id, w->name, w->text);
  return db_each_row(st, db_property_row, &pc);
}

/* ---- structure search: the fingerprint index's rows, and which of its files a caller sees ---- */

static void read_structure(sqlite3_stmt *st, struct cb_structure_row *row)
{
  *row = (struct cb_structure_row){
    .file_id = (const char *)sqlite3_column_text(st, 0),
    .version = sqlite3_column_int64(st, 1),
    .id = (const char *)sqlite3_column_text(st, 2),
    .idx = sqlite3_column_int64(st, 3),
    .smiles = (const char *)sqlite3_column_text(st, 4),
    .inchikey = (const char *)sqlite3_column_text(st, 5),
    .fp = sqlite3_column_bytes(st, 6) == DB_FP_BYTES ? sqlite3_column_blob(st, 6) : NULL,
  };
}
DB_VISITOR(structure, struct cb_structure_row, db_structure_cb, read_structure, DB_NO_CLEAR)

cb_err db_structures_load(const char *file_id, db_structure_cb cb, void *ctx)
{
  struct structure_visit v = {cb, ctx};
  /* the current version's records of live files, file by file, in index order */
#define STRUCTURES_SQL                                                                          \
  "SELECT f.id, f.version, r.id, r.idx, coalesce(r.smiles, ''), coalesce(r.inchikey, ''), r.fp" \
  " FROM files f CROSS JOIN records r ON r.file_id = f.id AND r.version = f.version"            \
  " WHERE f.deleted_at IS NULL AND (r.fp IS NOT NULL OR r.inchikey IS NOT NULL)"
  sqlite3_stmt *st = file_id ? db_query(STRUCTURES_SQL " AND f.id = ? ORDER BY r.idx", "s", file_id)
                             : db_query(STRUCTURES_SQL " ORDER BY f.id, r.idx", "");
#undef STRUCTURES_SQL
  return db_each_row(st, structure_row, &v);
}

cb_err db_structure_files_visible(const struct db_structure_files_q *q, db_structure_file_cb cb, void *ctx)
{
  struct cb_buf sql = {0};
  cb_buf_puts(&sql, "SELECT f.id, f.version FROM json_each(?) j JOIN files f ON f.id = j.value"
                    " WHERE f.deleted_at IS NULL");
  if (q->kind)
    cb_buf_puts(&sql, " AND f.kind = ?");
  if (q->folder_id)
    cb_buf_puts(&sql, IN_FOLDER_SQL);
  if (!q->viewer->all) /* named parameters: they take no positional slot after this */
    cb_buf_puts(&sql, " AND " DB_FILE_VISIBLE_SQL("f", ":me", ":link"));
  sqlite3_stmt *st;
  cb_err pe = prepare_built(&sql, &st);
  if (pe)
    return pe;
  int k = 1;
  const char *binds[] = {q->ids_json, q->kind, q->folder_id};
  for (size_t i = 0; i < sizeof binds / sizeof binds[0]; i++)
    if (binds[i])
      sqlite3_bind_text(st, k++, binds[i], -1, SQLITE_STATIC);
  db_bind_viewer(st, q->viewer);
  int rc;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW &&
         !cb((const char *)sqlite3_column_text(st, 0), sqlite3_column_int64(st, 1), ctx))
    ;
  sqlite3_finalize(st);
  return rc == SQLITE_ROW || rc == SQLITE_DONE ? CB_OK : db_rc(rc);
}

char *db_record_title(const char *record_id)
{
  sqlite3_stmt *st = db_query("SELECT coalesce(title, '') FROM records WHERE id = ?", "s", record_id);
  if (db_one_row(st))
    return NULL;
  char *title = strdup((const char *)sqlite3_column_text(st, 0));
  sqlite3_reset(st);
  return title;
}

/* ---- the structure index's change log (0014_structure_changes.sql) ---- */

cb_err db_structure_changes_last(int64_t *last)
{
  sqlite3_stmt *st = db_query("SELECT coalesce(max(seq), 0) FROM structure_changes", "");
  cb_err e = db_one_row(st);
  *last = e ? 0 : sqlite3_column_int64(st, 0);
  if (!e)
    sqlite3_reset(st);
  return e;
}

cb_err db_structure_changes_range(int64_t *first, int64_t *last)
{
  sqlite3_stmt *st = db_query("SELECT coalesce(min(seq), 0), coalesce(max(seq), 0) FROM structure_changes", "");
  cb_err e = db_one_row(st);
  *first = e ? 0 : sqlite3_column_int64(st, 0);
  *last = e ? 0 : sqlite3_column_int64(st, 1);
  if (!e)
    sqlite3_reset(st);
  return e;
}

struct change_visit {
  db_structure_change_cb cb;
  void *ctx;
};

static int change_row(sqlite3_stmt *st, void *ctx)
{
  struct change_visit *v = ctx;
  return v->cb(sqlite3_column_int64(st, 0), (const char *)sqlite3_column_text(st, 1), v->ctx);
}

cb_err db_structure_changes_after(int64_t after, int64_t limit, db_structure_change_cb cb, void *ctx)
{
  struct change_visit v = {cb, ctx};
  sqlite3_stmt *st = db_query("SELECT seq, file_id FROM structure_changes WHERE seq > ? ORDER BY seq LIMIT ?", "ii",
                              after, limit);
  return db_each_row(st, change_row, &v);
}

cb_err db_structure_changes_prune(int64_t keep)
{
  return db_exec("DELETE FROM structure_changes WHERE seq < (SELECT max(seq) FROM structure_changes) - ?", "i", keep);
}
