/* Categories (schemas/sql/0017_categories.sql): a tree of terms, and their assignments to
 * files and folders. A category's path ("Root / Child") is computed when read, from its
 * chain of parents, so a rename or a move shows everywhere at once. */
#include <stdlib.h>
#include <string.h>

#include "db/db.h"
#include "db/db_internal.h"
#include "util/util.h"

#define MAX_DEPTH 16 /* levels of a tree; the queries' recursions stop at 64 in any case */

/* The path of the category whose id is the SQL expression X: names from the root, each
 * prepended while walking up (SQLite 3.40's group_concat takes no ORDER BY). */
#define PATH_SQL(X)                                                                                   \
  "(WITH RECURSIVE up(parent_id, path, depth) AS (SELECT c0.parent_id, c0.name, 0 FROM categories c0" \
  " WHERE c0.id = " X " UNION ALL SELECT p.parent_id, p.name || ' / ' || up.path, up.depth + 1"       \
  " FROM categories p JOIN up ON p.id = up.parent_id WHERE up.depth < 64)"                            \
  " SELECT path FROM up WHERE parent_id IS NULL)"
#define CATEGORY_COLS "c.id, coalesce(c.parent_id, ''), c.name, coalesce(c.iri, ''), c.created_at, " PATH_SQL("c.id")

static const struct db_col category_cols[] = {
  DB_TEXT(struct cb_category, id),  DB_TEXT(struct cb_category, parent_id),  DB_TEXT(struct cb_category, name),
  DB_TEXT(struct cb_category, iri), DB_TEXT(struct cb_category, created_at), DB_DUP(struct cb_category, path)};

DB_READER(read_category, struct cb_category, category_cols)
DB_READ_ONE(category_one, struct cb_category, read_category)
DB_VISITOR(category, struct cb_category, db_category_cb, read_category, db_category_clear)

void db_category_clear(struct cb_category *c)
{
  if (!c)
    return;
  free(c->path);
  c->path = NULL;
}

cb_err db_category_list(db_category_cb cb, void *ctx)
{
  struct category_visit v = {cb, ctx};
  /* pre-order: a parent's key is a prefix of its children's, joined by a character no
   * name holds (names have no control characters) */
  sqlite3_stmt *st = db_query(
    "WITH RECURSIVE t(id, parent_id, name, iri, created_at, path, sortkey, depth) AS ("
    " SELECT id, '', name, coalesce(iri, ''), created_at, name, name, 0 FROM categories WHERE parent_id IS NULL"
    " UNION ALL SELECT c.id, c.parent_id, c.name, coalesce(c.iri, ''), c.created_at, t.path || ' / ' || c.name,"
    " t.sortkey || char(31) || c.name, t.depth + 1 FROM categories c JOIN t ON c.parent_id = t.id WHERE t.depth < 64)"
    " SELECT id, parent_id, name, iri, created_at, path FROM t ORDER BY sortkey, id",
    "");
  return db_each_row(st, category_row, &v);
}

cb_err db_category_get(const char *id, struct cb_category *out)
{
  sqlite3_stmt *st = db_query("SELECT " CATEGORY_COLS " FROM categories c WHERE c.id = ?", "s", id);
  memset(out, 0, sizeof *out); /* after binding: id may be out's own */
  return category_one(st, out);
}

/* The number the one-row query st answers; none when it answers no row or NULL. */
static int one_int(sqlite3_stmt *st, int none)
{
  if (db_one_row(st))
    return none;
  int n = sqlite3_column_type(st, 0) == SQLITE_NULL ? none : sqlite3_column_int(st, 0);
  sqlite3_reset(st);
  return n;
}

/* How deep id lies (0 for a root); -1 when there is no such category. */
static int depth_of(const char *id)
{
  sqlite3_stmt *st = db_query("WITH RECURSIVE up(id, depth) AS (SELECT id, 0 FROM categories WHERE id = ?"
                              " UNION ALL SELECT c.parent_id, up.depth + 1 FROM categories c JOIN up ON c.id = up.id"
                              " WHERE c.parent_id IS NOT NULL AND up.depth < 64) SELECT max(depth) FROM up",
                              "s", id);
  return one_int(st, -1);
}

/* How many levels the subtree of id spans (1 for a leaf). */
static int height_of(const char *id)
{
  sqlite3_stmt *st = db_query("WITH RECURSIVE down(id, depth) AS (SELECT ?, 1 UNION ALL SELECT c.id, down.depth + 1"
                              " FROM categories c JOIN down ON c.parent_id = down.id WHERE down.depth < 64)"
                              " SELECT max(depth) FROM down",
                              "s", id);
  return one_int(st, 1);
}

cb_err db_category_create(const struct cb_category *c)
{
  char ts[CB_TIME_MAX];
  cb_time_now_rfc3339(ts, sizeof ts);
  cb_err e = db_begin();
  if (e)
    return e;
  if (c->parent_id[0]) {
    int d = depth_of(c->parent_id);
    e = d < 0 ? CB_EINVAL : d + 1 >= MAX_DEPTH ? CB_ETOOBIG : CB_OK;
  }
  if (!e)
    e = db_exec(
      "INSERT INTO categories(id, parent_id, name, iri, created_at) VALUES (?, nullif(?, ''), ?, nullif(?, ''), ?)",
      "sssss", c->id, c->parent_id, c->name, c->iri, ts);
  return db_end(e);
}

cb_err db_category_update(const char *id, const char *name, const char *parent_id, const char *iri)
{
  cb_err e = db_begin();
  if (e)
    return e;
  if (depth_of(id) < 0)
    e = CB_ENOTFOUND;
  if (!e && parent_id && parent_id[0]) {
    int d = depth_of(parent_id);
    sqlite3_stmt *st = NULL;
    if (d < 0) {
      e = CB_EINVAL;
    } else {
      /* a cycle: the new parent is the category itself or lies below it */
      st = db_query("WITH RECURSIVE up(id, depth) AS (SELECT ?, 0 UNION ALL SELECT c.parent_id, up.depth + 1"
                    " FROM categories c JOIN up ON c.id = up.id WHERE c.parent_id IS NOT NULL AND up.depth < 64)"
                    " SELECT 1 FROM up WHERE id = ?",
                    "ss", parent_id, id);
      e = db_one_row(st);
      if (!e) {
        sqlite3_reset(st);
        e = CB_ECONFLICT;
      } else if (e == CB_ENOTFOUND) {
        e = d + height_of(id) >= MAX_DEPTH ? CB_ETOOBIG : CB_OK;
      }
    }
  }
  if (!e && parent_id && !parent_id[0]) /* a root: as deep as its own subtree */
    e = height_of(id) > MAX_DEPTH ? CB_ETOOBIG : CB_OK;
  /* the new name and the new parent in one statement: the name is unique where it goes,
   * not where it was */
  if (!e && (name || parent_id))
    e = db_exec("UPDATE categories SET name = coalesce(?1, name),"
                " parent_id = CASE WHEN ?2 IS NULL THEN parent_id ELSE nullif(?2, '') END WHERE id = ?3",
                "sss", name, parent_id, id);
  if (!e && iri)
    e = db_exec("UPDATE categories SET iri = nullif(?, '') WHERE id = ?", "ss", iri, id);
  return db_end(e);
}

cb_err db_category_delete(const char *id)
{
  cb_err e = db_begin();
  if (e)
    return e;
  sqlite3_stmt *st = db_query("SELECT 1 FROM categories WHERE parent_id = ? LIMIT 1", "s", id);
  e = db_one_row(st);
  if (!e) {
    sqlite3_reset(st);
    e = CB_ECONFLICT;
  } else if (e == CB_ENOTFOUND) {
    /* the assignments go with it (ON DELETE CASCADE) */
    e = db_changed(db_exec("DELETE FROM categories WHERE id = ?", "s", id));
  }
  return db_end(e);
}

cb_err db_categories_assign(const char *object_type, const char *object_id, const char *const *ids, int n)
{
  char ts[CB_TIME_MAX];
  cb_time_now_rfc3339(ts, sizeof ts);
  cb_err e = db_begin();
  if (e)
    return e;
  e = db_exec("DELETE FROM category_assignments WHERE object_type = ? AND object_id = ?", "ss", object_type, object_id);
  for (int i = 0; !e && i < n; i++) {
    sqlite3_stmt *st = db_query("SELECT 1 FROM categories WHERE id = ?", "s", ids[i]);
    e = db_one_row(st);
    if (!e)
      sqlite3_reset(st);
    else if (e == CB_ENOTFOUND)
      e = CB_EINVAL;
    if (!e)
      e = db_exec("INSERT OR IGNORE INTO category_assignments(object_type, object_id, category_id, created_at)"
                  " VALUES (?, ?, ?, ?)",
                  "ssss", object_type, object_id, ids[i], ts);
  }
  return db_end(e);
}

cb_err db_categories_of(const char *object_type, const char *object_id, db_category_cb cb, void *ctx)
{
  struct category_visit v = {cb, ctx};
  sqlite3_stmt *st = db_query("SELECT * FROM (SELECT " CATEGORY_COLS " FROM category_assignments a"
                              " JOIN categories c ON c.id = a.category_id WHERE a.object_type = ? AND a.object_id = ?)"
                              " ORDER BY 6, 1",
                              "ss", object_type, object_id);
  return db_each_row(st, category_row, &v);
}

cb_err db_category_subtree(const char *id, char **ids_json)
{
  *ids_json = NULL;
  sqlite3_stmt *st = db_query(
    "WITH RECURSIVE down(id, depth) AS (SELECT id, 0 FROM categories WHERE id = ?"
    " UNION ALL SELECT c.id, down.depth + 1 FROM categories c JOIN down ON c.parent_id = down.id"
    " WHERE down.depth < 64) SELECT count(*), json_group_array(id) FROM down",
    "s", id);
  cb_err e = db_one_row(st);
  if (e)
    return e;
  if (!sqlite3_column_int(st, 0))
    e = CB_ENOTFOUND;
  else if (!(*ids_json = strdup((const char *)sqlite3_column_text(st, 1))))
    e = CB_ENOMEM;
  sqlite3_reset(st);
  return e;
}
