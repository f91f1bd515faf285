/* Full-text and property search (schemas/sql/0007_text_search.sql).
 *
 * Indexing happens inside the transactions that change what is indexed: a file's name row
 * when it is created, renamed or given metadata; its text chunks and property values when
 * its ingest applies; a record's row when the record is stored. Rows of deleted files and
 * of records of older versions stay until they are replaced, and are filtered out when
 * searching, so no path can leak what was deleted. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db/db_internal.h"
#include "util/util.h"

#define CHUNK 32768 /* bytes of extracted text per full-text row */

static cb_err forget(const char *file_id, const char *cond)
{
  /* cond is one of the fixed strings below, never input */
  char sql[512];
  snprintf(sql, sizeof sql, "DELETE FROM search_fts WHERE rowid IN (SELECT id FROM search_docs WHERE file_id = ?1 %s)",
           cond);
  sqlite3_stmt *st;
  int rc = sqlite3_prepare_v2(db_conn(), sql, -1, &st, NULL);
  if (rc != SQLITE_OK)
    return db_rc(rc);
  sqlite3_bind_text(st, 1, file_id, -1, SQLITE_STATIC);
  rc = sqlite3_step(st);
  sqlite3_finalize(st);
  if (rc != SQLITE_DONE)
    return db_rc(rc);
  snprintf(sql, sizeof sql, "DELETE FROM search_docs WHERE file_id = ?1 %s", cond);
  if ((rc = sqlite3_prepare_v2(db_conn(), sql, -1, &st, NULL)) != SQLITE_OK)
    return db_rc(rc);
  sqlite3_bind_text(st, 1, file_id, -1, SQLITE_STATIC);
  rc = sqlite3_step(st);
  sqlite3_finalize(st);
  return rc == SQLITE_DONE ? CB_OK : db_rc(rc);
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

cb_err db_search_index_file_tx(const char *file_id)
{
  cb_err e = forget(file_id, "AND record_id IS NULL AND part = 0");
  if (e)
    return e;
  sqlite3_stmt *st = db_query("SELECT f.name, (SELECT group_concat(value_text, ' ') FROM properties"
                              " WHERE file_id = f.id AND record_id IS NULL AND value_text IS NOT NULL)"
                              " FROM files f WHERE f.id = ? AND f.deleted_at IS NULL", "s", file_id);
  if (!st)
    return CB_EDB;
  e = db_one_row(st);
  if (e == CB_ENOTFOUND)
    return CB_OK;
  if (!e) {
    char *name = strdup((const char *)sqlite3_column_text(st, 0));
    const char *b = (const char *)sqlite3_column_text(st, 1);
    char *body = strdup(b ? b : "");
    sqlite3_reset(st);
    e = name && body ? add_row(file_id, NULL, 0, name, body, strlen(body)) : CB_ENOMEM;
    free(name);
    free(body);
  }
  return e;
}

cb_err db_search_index_text_tx(const char *file_id, const char *path)
{
  cb_err e = forget(file_id, "AND record_id IS NULL AND part > 0");
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
                     " ON r.id = d.record_id WHERE r.file_id = ? AND r.version = ?)", "si", file_id, version);
  if (!e)
    e = db_exec("DELETE FROM search_docs WHERE record_id IN (SELECT id FROM records WHERE file_id = ? AND version = ?)",
                "si", file_id, version);
  return e;
}

cb_err db_search_forget_file_tx(const char *file_id)
{
  return forget(file_id, "");
}

/* ---- searching ---- */

static const char *const ops_sql[] = {" = ", " < ", " <= ", " > ", " >= "};

/* The property condition for one where=, on the hit's own properties (the file's, or the
 * record's); binds go in order: name, value. */
static void where_sql(struct cb_buf *b, const struct db_where *w)
{
  /* the unary + keeps the planner on properties_file (this hit's few rows) rather than
   * the (name, value_num) index (every file's rows of that name) */
  cb_buf_printf(b, " AND EXISTS (SELECT 1 FROM properties p WHERE p.file_id = d.file_id AND p.record_id IS d.record_id"
                   " AND +p.name = ? AND +p.%s%s?)", w->is_num ? "value_num" : "value_text", ops_sql[w->op]);
}

cb_err db_search(const struct db_search_q *q, db_search_cb cb, void *ctx)
{
  if (!q->match && !q->nwhere)
    return CB_EINVAL;
  struct cb_buf sql = {0};
  /* Candidates come from the full-text index (q), or from the properties (where only):
   * either way a row of search_docs names the hit, so both share the filters below. */
  const struct db_where *w0 = !q->match && q->nwhere ? &q->where[0] : NULL;
  /* With words: rank every matching row (FTS5's bm25, the name weighing 10 times the
   * body), keep each file's or record's best row, best first. Without: the first property
   * condition drives, through its index, in name order. */
  if (q->match)
    cb_buf_printf(&sql, "WITH m AS MATERIALIZED (SELECT rowid AS id, bm25(search_fts, 10.0, 1.0) AS score"
                        " FROM search_fts WHERE search_fts MATCH ?)"
                        " SELECT id, file_id, record_id, name, kind, title, score FROM ("
                        "SELECT d.id, d.file_id, d.record_id, f.name, f.kind, r.title, m.score, row_number() OVER"
                        " (PARTITION BY d.file_id, d.record_id ORDER BY m.score, d.part) AS rn"
                        " FROM m JOIN search_docs d ON d.id = m.id");
  else
    cb_buf_printf(&sql, "SELECT d.id, d.file_id, d.record_id, f.name, f.kind, r.title, 0 FROM properties p0"
                        " JOIN search_docs d ON d.file_id = p0.file_id AND d.record_id IS p0.record_id AND d.part = 0");
  cb_buf_printf(&sql, " JOIN files f ON f.id = d.file_id AND f.deleted_at IS NULL"
                      " LEFT JOIN records r ON r.id = d.record_id WHERE (d.record_id IS NULL OR r.version = f.version)");
  if (w0)
    cb_buf_printf(&sql, " AND p0.name = ? AND p0.%s%s?", w0->is_num ? "value_num" : "value_text", ops_sql[w0->op]);
  if (q->kind)
    cb_buf_printf(&sql, " AND f.kind = ?");
  if (q->folder_id)
    cb_buf_printf(&sql, " AND f.folder_id IN (WITH RECURSIVE sub(id) AS (SELECT ? UNION SELECT c.id FROM folders c"
                        " JOIN sub ON c.parent_id = sub.id WHERE c.deleted_at IS NULL) SELECT id FROM sub)");
  for (int i = w0 ? 1 : 0; i < q->nwhere; i++)
    where_sql(&sql, &q->where[i]);
  if (q->match)
    cb_buf_printf(&sql, ") WHERE rn = 1 ORDER BY score, file_id, record_id");
  else /* in the driving index's order, so LIMIT stops early; the caller drops repeats */
    cb_buf_printf(&sql, " ORDER BY p0.%s", w0->is_num ? "value_num" : "value_text");
  cb_buf_printf(&sql, " LIMIT -1 OFFSET ?");
  if (!sql.data)
    return CB_ENOMEM;
  sqlite3_stmt *st;
  int rc = sqlite3_prepare_v2(db_conn(), sql.data, -1, &st, NULL);
  cb_buf_free(&sql);
  if (rc != SQLITE_OK)
    return db_rc(rc);
  int k = 1;
  if (q->match) {
    sqlite3_bind_text(st, k++, q->match, -1, SQLITE_STATIC);
  } else { /* w0 */
    sqlite3_bind_text(st, k++, w0->name, -1, SQLITE_STATIC);
    if (w0->is_num)
      sqlite3_bind_double(st, k++, w0->num);
    else
      sqlite3_bind_text(st, k++, w0->text, -1, SQLITE_STATIC);
  }
  if (q->kind)
    sqlite3_bind_text(st, k++, q->kind, -1, SQLITE_STATIC);
  if (q->folder_id)
    sqlite3_bind_text(st, k++, q->folder_id, -1, SQLITE_STATIC);
  for (int i = w0 ? 1 : 0; i < q->nwhere; i++) {
    sqlite3_bind_text(st, k++, q->where[i].name, -1, SQLITE_STATIC);
    if (q->where[i].is_num)
      sqlite3_bind_double(st, k++, q->where[i].num);
    else
      sqlite3_bind_text(st, k++, q->where[i].text, -1, SQLITE_STATIC);
  }
  sqlite3_bind_int64(st, k++, q->offset);
  cb_err e = CB_OK;
  int64_t pos = q->offset;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    struct cb_search_hit h = {
      .doc = sqlite3_column_int64(st, 0),
      .file_id = (const char *)sqlite3_column_text(st, 1),
      .record_id = (const char *)sqlite3_column_text(st, 2),
      .name = (const char *)sqlite3_column_text(st, 3),
      .kind = (const char *)sqlite3_column_text(st, 4),
      .title = (const char *)sqlite3_column_text(st, 5),
      .score = q->match ? -sqlite3_column_double(st, 6) : 0, /* bm25: lower is better */
      .position = ++pos,
    };
    if (cb(&h, ctx))
      break;
  }
  if (rc != SQLITE_ROW && rc != SQLITE_DONE)
    e = rc == SQLITE_ERROR && q->match ? CB_EINVAL : db_rc(rc); /* a query FTS5 cannot parse */
  sqlite3_finalize(st);
  return e;
}

char *db_search_snippet(const char *match, int64_t doc)
{
  sqlite3_stmt *st = db_query("SELECT snippet(search_fts, -1, '\xc2\xab', '\xc2\xbb', '\xe2\x80\xa6', 16)"
                              " FROM search_fts WHERE search_fts MATCH ? AND rowid = ?", "si", match, doc);
  if (!st || db_one_row(st))
    return NULL;
  const char *t = (const char *)sqlite3_column_text(st, 0);
  char *out = t ? strdup(t) : NULL;
  sqlite3_reset(st);
  return out;
}
