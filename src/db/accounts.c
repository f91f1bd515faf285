/* Named queries for users, groups, sessions, API tokens, grants, share links, the
 * caller's standing on an object, and the audit log. */
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>

#include "db/db.h"
#include "db/db_internal.h"

static void now(char *ts)
{
  cb_time_now_rfc3339(ts, CB_TIME_MAX);
}

/* ---------------------------------------------------------------- users */

static void read_listed_user(sqlite3_stmt *st, struct cb_user *u)
{
  db_read_user(st, u);
  memset(u->password_hash, 0, sizeof u->password_hash); /* listings never carry it */
}

DB_VISITOR(listed_user, struct cb_user, db_user_cb, read_listed_user, DB_NO_CLEAR)

cb_err db_user_list(const char *after_name, int limit, db_user_cb cb, void *ctx)
{
  struct listed_user_visit uc = {cb, ctx};
  return db_each_row(db_query("SELECT " USER_READ_COLS
                              " FROM users WHERE deleted_at IS NULL AND username > coalesce(?, '')"
                              " ORDER BY username LIMIT ?",
                              "si", after_name, (int64_t)limit),
                     listed_user_row, &uc);
}

/* --------------------------------------------------------------- groups */

static void read_group(sqlite3_stmt *st, struct cb_group *g)
{
  DB_COPY(st, 0, g->id);
  DB_COPY(st, 1, g->name);
  DB_COPY(st, 2, g->created_at);
}

DB_VISITOR(group, struct cb_group, db_group_cb, read_group, DB_NO_CLEAR)
DB_READ_ONE(group_one, struct cb_group, read_group)

cb_err db_group_create(const struct cb_group *g)
{
  char ts[CB_TIME_MAX];
  now(ts);
  return db_exec("INSERT INTO groups(id, name, created_at) VALUES (?, ?, ?)", "sss", g->id, g->name, ts);
}

cb_err db_group_get(const char *id, struct cb_group *out)
{
  return group_one(db_query("SELECT id, name, created_at FROM groups WHERE id = ?", "s", id), out);
}

cb_err db_group_get_by_name(const char *name, struct cb_group *out)
{
  return group_one(db_query("SELECT id, name, created_at FROM groups WHERE name = ?", "s", name), out);
}

cb_err db_group_list(db_group_cb cb, void *ctx)
{
  struct group_visit gc = {cb, ctx};
  return db_each_row(db_query("SELECT id, name, created_at FROM groups ORDER BY name", ""), group_row, &gc);
}

cb_err db_group_add_member(const char *group_id, const char *user_id)
{
  char ts[CB_TIME_MAX];
  now(ts);
  return db_exec("INSERT INTO group_members(group_id, user_id, created_at) VALUES (?, ?, ?)", "sss", group_id, user_id,
                 ts);
}

cb_err db_group_remove_member(const char *group_id, const char *user_id)
{
  return db_changed(db_exec("DELETE FROM group_members WHERE group_id = ? AND user_id = ?", "ss", group_id, user_id));
}

cb_err db_group_members(const char *group_id, db_user_cb cb, void *ctx)
{
  struct listed_user_visit uc = {cb, ctx};
  return db_each_row(
    db_query("SELECT u.id, u.username, u.password_hash, u.is_admin, u.created_at, u.disabled_at IS NOT NULL"
             " FROM group_members m JOIN users u ON u.id = m.user_id"
             " WHERE m.group_id = ? ORDER BY u.username",
             "s", group_id),
    listed_user_row, &uc);
}

/* ------------------------------------------------------- account control */

cb_err db_user_set_disabled(const char *id, int disabled)
{
  char ts[CB_TIME_MAX];
  now(ts);
  if (disabled)
    return db_changed(db_exec(
      "UPDATE users SET disabled_at = coalesce(disabled_at, ?) WHERE id = ? AND deleted_at IS NULL", "ss", ts, id));
  return db_changed(db_exec("UPDATE users SET disabled_at = NULL WHERE id = ? AND deleted_at IS NULL", "s", id));
}

cb_err db_user_set_admin(const char *id, int is_admin)
{
  return db_changed(
    db_exec("UPDATE users SET is_admin = ? WHERE id = ? AND deleted_at IS NULL", "is", (int64_t)is_admin, id));
}

cb_err db_user_active_admins(int64_t *n)
{
  sqlite3_stmt *st = db_query("SELECT count(*) FROM users WHERE is_admin = 1 AND " USER_ACTIVE(""), "");
  cb_err e = db_one_row(st);
  if (e)
    return e;
  *n = sqlite3_column_int64(st, 0);
  sqlite3_reset(st);
  return CB_OK;
}

cb_err db_user_tokens_revoke_all(const char *user_id, int *revoked)
{
  char ts[CB_TIME_MAX];
  now(ts);
  cb_err e = db_exec("UPDATE tokens SET revoked_at = ? WHERE user_id = ? AND revoked_at IS NULL", "ss", ts, user_id);
  if (!e && revoked)
    *revoked = db_changes();
  return e;
}

cb_err db_user_owned(const char *id, int64_t *folders, int64_t *files)
{
  sqlite3_stmt *st = db_query("SELECT (SELECT count(*) FROM folders WHERE owner_id = ?1 AND deleted_at IS NULL),"
                              " (SELECT count(*) FROM files WHERE owner_id = ?1 AND deleted_at IS NULL)",
                              "s", id);
  cb_err e = db_one_row(st);
  if (e)
    return e;
  *folders = sqlite3_column_int64(st, 0);
  *files = sqlite3_column_int64(st, 1);
  sqlite3_reset(st);
  return CB_OK;
}

/* Top-level names are unique per owner: before the heir takes them over, each of the
 * account's top-level folders whose name the heir already uses is renamed "NAME (from
 * USERNAME)", or "NAME (from USERNAME) 2" and so on where that is taken too. */
static cb_err clear_top_names(const char *id, const char *heir)
{
  for (int guard = 0; guard < 100000; guard++) {
    sqlite3_stmt *st = db_query("SELECT f.id, f.name, u.username FROM folders f JOIN users u ON u.id = f.owner_id"
                                " WHERE f.owner_id = ?1 AND f.parent_id IS NULL AND f.deleted_at IS NULL AND EXISTS"
                                " (SELECT 1 FROM folders g WHERE g.owner_id = ?2 AND g.parent_id IS NULL"
                                " AND g.deleted_at IS NULL AND g.name = f.name) LIMIT 1",
                                "ss", id, heir);
    cb_err e = db_one_row(st);
    if (e == CB_ENOTFOUND)
      return CB_OK;
    if (e)
      return e;
    char fid[CB_ID_LEN + 1], name[1100], user[300];
    DB_COPY(st, 0, fid);
    DB_COPY(st, 1, name);
    DB_COPY(st, 2, user);
    sqlite3_reset(st);
    int done = 0;
    for (int k = 1; !done && k < 10000; k++) {
      char to[1500];
      if (k == 1)
        snprintf(to, sizeof to, "%s (from %s)", name, user);
      else
        snprintf(to, sizeof to, "%s (from %s) %d", name, user, k);
      e = db_exec("UPDATE folders SET name = ?1 WHERE id = ?2 AND NOT EXISTS (SELECT 1 FROM folders g"
                  " WHERE g.owner_id IN (?3, ?4) AND g.parent_id IS NULL AND g.deleted_at IS NULL AND g.name = ?1)",
                  "ssss", to, fid, id, heir);
      if (e)
        return e;
      done = db_changes() > 0;
    }
    if (!done)
      return CB_ECONFLICT;
  }
  return CB_EIO;
}

cb_err db_user_delete(const char *id, const char *heir)
{
  char ts[CB_TIME_MAX];
  now(ts);
  cb_err e = db_begin();
  if (e)
    return e;
  if (heir)
    e = clear_top_names(id, heir);
  if (!e && heir) {
    /* what it owned, deleted or not, and the grants and links it made on those, go to
     * the heir (as the owner's, they stay firm) */
    static const char *const moves[] = {
      "UPDATE folders SET owner_id = ?2 WHERE owner_id = ?1",
      "UPDATE files SET owner_id = ?2 WHERE owner_id = ?1",
      "UPDATE grants SET created_by = ?2 WHERE created_by = ?1 AND ((object_type = 'folder' AND object_id IN"
      " (SELECT id FROM folders WHERE owner_id = ?2)) OR (object_type = 'file' AND object_id IN"
      " (SELECT id FROM files WHERE owner_id = ?2)))",
      "UPDATE links SET created_by = ?2 WHERE created_by = ?1 AND ((object_type = 'folder' AND object_id IN"
      " (SELECT id FROM folders WHERE owner_id = ?2)) OR (object_type = 'file' AND object_id IN"
      " (SELECT id FROM files WHERE owner_id = ?2)))",
    };
    for (size_t i = 0; !e && i < sizeof moves / sizeof moves[0]; i++)
      e = db_exec(moves[i], "ss", id, heir);
  } else {
    int64_t folders = 0, files = 0;
    e = db_user_owned(id, &folders, &files);
    if (!e && (folders || files))
      e = CB_ECONFLICT;
  }
  /* ?1 the account, ?2 now (each statement names both, as db_exec binds both) */
  static const char *const drops[] = {
    "DELETE FROM sessions WHERE user_id = ?1 AND ?2 IS NOT NULL",
    "UPDATE tokens SET revoked_at = ?2 WHERE user_id = ?1 AND revoked_at IS NULL",
    "DELETE FROM grants WHERE user_id = ?1 AND ?2 IS NOT NULL",
    "DELETE FROM group_members WHERE user_id = ?1 AND ?2 IS NOT NULL",
    "UPDATE uploads SET expires_at = '1970-01-01T00:00:00.000Z' WHERE owner_id = ?1 AND file_id IS NULL"
    " AND ?2 IS NOT NULL",
    "UPDATE webhooks SET deleted_at = ?2 WHERE owner_id = ?1 AND deleted_at IS NULL",
    "UPDATE users SET deleted_at = ?2, username = 'deleted-' || id, password_hash = '', is_admin = 0"
    " WHERE id = ?1 AND deleted_at IS NULL",
  };
  for (size_t i = 0; !e && i < sizeof drops / sizeof drops[0]; i++)
    e = db_exec(drops[i], "ss", id, ts);
  int64_t admins = 0;
  if (!e && !(e = db_user_active_admins(&admins)) && admins < 1)
    e = CB_EFORBIDDEN; /* the last administrator who acts (checked in the transaction) */
  return db_end(e);
}

/* ------------------------------------------------------------- sessions */

cb_err db_session_create(const char *token_hash, const char *user_id, const char *expires_at)
{
  char ts[CB_TIME_MAX];
  now(ts);
  return db_exec("INSERT INTO sessions(token_hash, user_id, created_at, expires_at) VALUES (?, ?, ?, ?)", "ssss",
                 token_hash, user_id, ts, expires_at);
}

DB_READ_ONE(user_one, struct cb_user, db_read_user)

cb_err db_session_user(const char *token_hash, const char *now_ts, struct cb_user *out)
{
  return user_one(db_query("SELECT u.id, u.username, u.password_hash, u.is_admin, u.created_at, 0"
                           " FROM sessions s JOIN users u ON u.id = s.user_id"
                           " WHERE s.token_hash = ? AND s.expires_at > ? AND " USER_ACTIVE("u."),
                           "ss", token_hash, now_ts),
                  out);
}

cb_err db_session_delete(const char *token_hash)
{
  return db_exec("DELETE FROM sessions WHERE token_hash = ?", "s", token_hash);
}

cb_err db_user_sessions_delete(const char *user_id, int *ended)
{
  cb_err e = db_exec("DELETE FROM sessions WHERE user_id = ?", "s", user_id);
  if (!e && ended)
    *ended = db_changes();
  return e;
}

/* --------------------------------------------------------------- tokens */

#define TOKEN_COLS                                                               \
  "t.id, t.user_id, t.name, t.scope, t.created_at, coalesce(t.expires_at, ''), " \
  "coalesce(t.last_used_at, '')"

static const struct db_col token_cols[] = {DB_TEXT(struct cb_token, id),          DB_TEXT(struct cb_token, user_id),
                                           DB_TEXT(struct cb_token, name),        DB_TEXT(struct cb_token, scope),
                                           DB_TEXT(struct cb_token, created_at),  DB_TEXT(struct cb_token, expires_at),
                                           DB_TEXT(struct cb_token, last_used_at)};

DB_READER(read_token, struct cb_token, token_cols)

cb_err db_token_create(const struct cb_token *t, const char *token_hash)
{
  return db_exec("INSERT INTO tokens(id, user_id, name, token_hash, scope, created_at, expires_at)"
                 " VALUES (?, ?, ?, ?, ?, ?, nullif(?, ''))",
                 "sssssss", t->id, t->user_id, t->name, token_hash, t->scope, t->created_at, t->expires_at);
}

cb_err db_token_lookup(const char *token_hash, const char *now_ts, struct cb_token *t, struct cb_user *u)
{
  sqlite3_stmt *st = db_query("SELECT " TOKEN_COLS ", u.id, u.username, u.password_hash, u.is_admin,"
                              " u.created_at FROM tokens t JOIN users u ON u.id = t.user_id"
                              " WHERE t.token_hash = ? AND t.revoked_at IS NULL AND " USER_ACTIVE(
                                "u.") " AND (t.expires_at IS NULL OR t.expires_at > ?)",
                              "ss", token_hash, now_ts);
  cb_err e = db_one_row(st);
  if (e)
    return e;
  read_token(st, t);
  DB_COPY(st, 7, u->id);
  DB_COPY(st, 8, u->username);
  DB_COPY(st, 9, u->password_hash);
  u->is_admin = sqlite3_column_int(st, 10);
  DB_COPY(st, 11, u->created_at);
  sqlite3_reset(st);
  return CB_OK;
}

cb_err db_token_touch(const char *id, const char *now_ts)
{
  return db_exec("UPDATE tokens SET last_used_at = ? WHERE id = ?", "ss", now_ts, id);
}

DB_VISITOR(token, struct cb_token, db_token_cb, read_token, DB_NO_CLEAR)

cb_err db_token_list(const char *user_id, db_token_cb cb, void *ctx)
{
  struct token_visit tc = {cb, ctx};
  return db_each_row(db_query("SELECT " TOKEN_COLS " FROM tokens t WHERE t.user_id = ?"
                              " AND t.revoked_at IS NULL ORDER BY t.created_at",
                              "s", user_id),
                     token_row, &tc);
}

cb_err db_token_revoke(const char *user_id, const char *id, const char *now_ts)
{
  return db_changed(db_exec("UPDATE tokens SET revoked_at = ? WHERE id = ? AND user_id = ?"
                            " AND revoked_at IS NULL",
                            "sss", now_ts, id, user_id));
}

/* --------------------------------------------------------------- grants */

static const struct db_col grant_cols[] = {DB_TEXT(struct cb_grant, id),
                                           DB_TEXT(struct cb_grant, object_type),
                                           DB_TEXT(struct cb_grant, object_id),
                                           DB_TEXT(struct cb_grant, user_id),
                                           DB_TEXT(struct cb_grant, group_id),
                                           DB_TEXT(struct cb_grant, role),
                                           DB_TEXT(struct cb_grant, created_at),
                                           DB_TEXT(struct cb_grant, created_by),
                                           DB_TEXT(struct cb_grant, created_by_name),
                                           DB_NUM(struct cb_grant, lapsed)};

DB_READER(read_grant, struct cb_grant, grant_cols)

DB_VISITOR(grant, struct cb_grant, db_grant_cb, read_grant, DB_NO_CLEAR)

cb_err db_grant_create(const struct cb_grant *g, const char *created_by)
{
  return db_exec("INSERT INTO grants(id, object_type, object_id, user_id, group_id, role, created_by,"
                 " created_at) VALUES (?, ?, ?, nullif(?, ''), nullif(?, ''), ?, ?, ?)",
                 "ssssssss", g->id, g->object_type, g->object_id, g->user_id, g->group_id, g->role, created_by,
                 g->created_at);
}

cb_err db_grant_list(const char *object_type, const char *object_id, db_grant_cb cb, void *ctx)
{
  struct grant_visit gc = {cb, ctx};
  return db_each_row(db_query("SELECT id, object_type, object_id, coalesce(user_id, ''),"
                              " coalesce(group_id, ''), role, created_at, created_by,"
                              " coalesce((SELECT username FROM users WHERE id = created_by), ''), lapsed"
                              " FROM grants WHERE object_type = ? AND object_id = ? ORDER BY created_at, id",
                              "ss", object_type, object_id),
                     grant_row, &gc);
}

cb_err db_grant_delete(const char *object_type, const char *object_id, const char *grant_id)
{
  return db_changed(db_exec("DELETE FROM grants WHERE id = ? AND object_type = ? AND object_id = ?", "sss", grant_id,
                            object_type, object_id));
}

/* The creator of a grant or link on T(object_type, object_id) is an account that still
 * acts and owns the object itself or is an administrator: such a right to share stands
 * without looking further (a move never changes an owner). A disabled or deleted
 * account's grants and links lapse, the owner's too. */
#define DELEGATION_FIRM(T)                                                                           \
  "(" T ".created_by IN (SELECT id FROM users WHERE " USER_ACTIVE(                                   \
    "") ") AND (" T ".created_by IN (SELECT id FROM users WHERE is_admin = 1) OR " T ".created_by =" \
        " coalesce((SELECT owner_id FROM folders WHERE id = " T ".object_id AND " T ".object_type"   \
        " = 'folder'), (SELECT owner_id FROM files WHERE id = " T ".object_id AND " T ".object_type = 'file'))))"

cb_err db_delegations_lapse_all_tx(void)
{
  cb_err e = db_exec("UPDATE grants SET lapsed = NOT " DELEGATION_FIRM("grants"), "");
  return e ? e : db_exec("UPDATE links SET lapsed = NOT " DELEGATION_FIRM("links") " WHERE revoked_at IS NULL", "");
}

static const struct db_col delegation_cols[] = {
  DB_TEXT(struct cb_delegation, table),       DB_TEXT(struct cb_delegation, id),
  DB_TEXT(struct cb_delegation, object_type), DB_TEXT(struct cb_delegation, object_id),
  DB_TEXT(struct cb_delegation, created_by),  DB_NUM(struct cb_delegation, creator_is_admin)};

DB_READER(read_delegation, struct cb_delegation, delegation_cols)

DB_VISITOR(delegation, struct cb_delegation, db_delegation_cb, read_delegation, DB_NO_CLEAR)

cb_err db_delegations_lapsed(db_delegation_cb cb, void *ctx)
{
  struct delegation_visit dc = {cb, ctx};
  /* only those whose creator still acts: a disabled or deleted account shares nothing */
  return db_each_row(
    db_query("SELECT 'grants', g.id, g.object_type, g.object_id, g.created_by, u.is_admin"
             " FROM grants g JOIN users u ON u.id = g.created_by WHERE g.lapsed = 1"
             " AND " USER_ACTIVE("u.") " UNION ALL"
                                       " SELECT 'links', l.id, l.object_type, l.object_id, l.created_by, u.is_admin"
                                       " FROM links l JOIN users u ON u.id = l.created_by WHERE l.lapsed = 1"
                                       " AND l.revoked_at IS NULL AND " USER_ACTIVE("u."),
             ""),
    delegation_row, &dc);
}

cb_err db_delegation_restore_tx(const char *table, const char *id)
{
  return db_exec(!strcmp(table, "grants") ? "UPDATE grants SET lapsed = 0 WHERE id = ?"
                                          : "UPDATE links SET lapsed = 0 WHERE id = ?",
                 "s", id);
}

cb_err db_set_visibility(const char *object_type, const char *object_id, const char *visibility)
{
  char ts[CB_TIME_MAX];
  now(ts);
  if (!strcmp(object_type, "folder"))
    return db_changed(db_exec("UPDATE folders SET visibility = ?, updated_at = ? WHERE id = ?"
                              " AND deleted_at IS NULL",
                              "sss", visibility, ts, object_id));
  return db_changed(db_exec("UPDATE files SET visibility = ?, updated_at = ? WHERE id = ?"
                            " AND deleted_at IS NULL",
                            "sss", visibility, ts, object_id));
}

/* ---------------------------------------------------------------- links */

#define LINK_COLS                                                                         \
  "id, object_type, object_id, created_by, created_at, coalesce(expires_at, ''), lapsed," \
  " coalesce((SELECT username FROM users WHERE id = created_by), '')"

static const struct db_col link_cols[] = {
  DB_TEXT(struct cb_link, id),         DB_TEXT(struct cb_link, object_type),    DB_TEXT(struct cb_link, object_id),
  DB_TEXT(struct cb_link, created_by), DB_TEXT(struct cb_link, created_at),     DB_TEXT(struct cb_link, expires_at),
  DB_NUM(struct cb_link, lapsed),      DB_TEXT(struct cb_link, created_by_name)};

DB_READER(read_link, struct cb_link, link_cols)

cb_err db_link_create(const struct cb_link *l, const char *token_hash)
{
  return db_exec("INSERT INTO links(id, object_type, object_id, token_hash, created_by, created_at,"
                 " expires_at) VALUES (?, ?, ?, ?, ?, ?, nullif(?, ''))",
                 "sssssss", l->id, l->object_type, l->object_id, token_hash, l->created_by, l->created_at,
                 l->expires_at);
}

DB_READ_ONE(link_one, struct cb_link, read_link)

cb_err db_link_lookup(const char *token_hash, const char *now_ts, struct cb_link *out)
{
  return link_one(db_query("SELECT " LINK_COLS " FROM links WHERE token_hash = ? AND revoked_at IS NULL AND lapsed = 0"
                           " AND (expires_at IS NULL OR expires_at > ?)",
                           "ss", token_hash, now_ts),
                  out);
}

cb_err db_link_get(const char *id, struct cb_link *out)
{
  return link_one(db_query("SELECT " LINK_COLS " FROM links WHERE id = ? AND revoked_at IS NULL", "s", id), out);
}

DB_VISITOR(link, struct cb_link, db_link_cb, read_link, DB_NO_CLEAR)

cb_err db_link_list(const char *object_type, const char *object_id, db_link_cb cb, void *ctx)
{
  struct link_visit lc = {cb, ctx};
  return db_each_row(db_query("SELECT " LINK_COLS " FROM links WHERE object_type = ? AND object_id = ?"
                              " AND revoked_at IS NULL ORDER BY created_at",
                              "ss", object_type, object_id),
                     link_row, &lc);
}

cb_err db_link_revoke(const char *id, const char *now_ts)
{
  return db_changed(db_exec("UPDATE links SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL", "ss", now_ts, id));
}

/* ------------------------------------------------------------- standing */

/* Over a folder and its ancestors: rows found, owned, public, link inside, best grant. */
#define CHAIN_STANDING_SQL                                                                           \
  "WITH RECURSIVE chain(id, depth) AS ("                                                             \
  " SELECT id, 0 FROM folders WHERE id = ?3 AND deleted_at IS NULL UNION ALL"                        \
  " SELECT f.parent_id, c.depth + 1 FROM folders f JOIN chain c ON f.id = c.id"                      \
  " WHERE f.parent_id IS NOT NULL AND c.depth < 1000)"                                               \
  " SELECT count(*), coalesce(max(f.owner_id = ?1), 0), coalesce(max(f.visibility = 'public'), 0),"  \
  " coalesce(max(f.id = ?2), 0),"                                                                    \
  " (SELECT coalesce(max(CASE g.role WHEN 'editor' THEN 2 ELSE 1 END), 0) FROM grants g"             \
  "  WHERE g.object_type = 'folder' AND g.object_id IN (SELECT id FROM chain) AND g.lapsed = 0"      \
  "  AND (g.user_id = ?1 OR g.group_id IN (SELECT group_id FROM group_members WHERE user_id = ?1)))" \
  " FROM chain c JOIN folders f ON f.id = c.id"

static cb_err folder_standing(const char *user_id, const char *link_id, const char *folder_id, struct cb_standing *out)
{
  sqlite3_stmt *st = db_query(CHAIN_STANDING_SQL, "sss", user_id, link_id, folder_id);
  cb_err e = db_one_row(st);
  if (e)
    return e == CB_ENOTFOUND ? CB_EDB : e; /* an aggregate always has a row */
  int found = sqlite3_column_int(st, 0);
  int owned = sqlite3_column_int(st, 1);
  out->is_public = sqlite3_column_int(st, 2);
  out->in_link = sqlite3_column_int(st, 3);
  int grant = sqlite3_column_int(st, 4);
  sqlite3_reset(st);
  if (!found)
    return CB_ENOTFOUND;
  out->role = owned ? 3 : grant;
  return CB_OK;
}

cb_err db_standing(const char *user_id, const char *link_object_id, const char *object_type, const char *object_id,
                   struct cb_standing *out)
{
  memset(out, 0, sizeof *out);
  if (!strcmp(object_type, "folder"))
    return folder_standing(user_id, link_object_id, object_id, out);
  sqlite3_stmt *st = db_query(
    "SELECT f.folder_id, coalesce(f.owner_id = ?1, 0), f.visibility = 'public', coalesce(f.id = ?2, 0),"
    " (SELECT coalesce(max(CASE g.role WHEN 'editor' THEN 2 ELSE 1 END), 0) FROM grants g"
    "  WHERE g.object_type = 'file' AND g.object_id = f.id AND g.lapsed = 0 AND (g.user_id = ?1 OR g.group_id IN"
    "  (SELECT group_id FROM group_members WHERE user_id = ?1)))"
    " FROM files f WHERE f.id = ?3 AND f.deleted_at IS NULL",
    "sss", user_id, link_object_id, object_id);
  cb_err e = db_one_row(st);
  if (e)
    return e;
  char folder_id[CB_ID_LEN + 1];
  DB_COPY(st, 0, folder_id);
  int owned = sqlite3_column_int(st, 1);
  int pub = sqlite3_column_int(st, 2);
  int link = sqlite3_column_int(st, 3);
  int grant = sqlite3_column_int(st, 4);
  sqlite3_reset(st);
  e = folder_standing(user_id, link_object_id, folder_id, out);
  if (e)
    return e;
  int role = owned ? 3 : grant;
  if (role > out->role)
    out->role = role;
  out->is_public |= pub;
  out->in_link |= link;
  return CB_OK;
}

cb_err db_folder_roots(const char *user_id, const char *after_name, const char *after_id, int limit, db_folder_cb cb,
                       void *ctx)
{
  struct folder_visit fc = {cb, ctx};
  sqlite3_stmt *st = db_query(
    "SELECT " FOLDER_COLS " FROM folders f JOIN users u ON u.id = f.owner_id"
    " WHERE f.deleted_at IS NULL AND ((f.parent_id IS NULL AND f.owner_id = ?1) OR f.id IN"
    " (SELECT object_id FROM grants WHERE object_type = 'folder' AND lapsed = 0 AND (user_id = ?1 OR group_id IN"
    " (SELECT group_id FROM group_members WHERE user_id = ?1)))"
    /* an owner never loses what they own: their folder inside a folder they
     * can no longer see is listed at their top level */
    " OR (f.owner_id = ?1 AND f.parent_id IS NOT NULL AND f.parent_id IN (SELECT p.id FROM folders p"
    " WHERE p.owner_id <> ?1 AND NOT " DB_FOLDER_VISIBLE_SQL(
      "p.id", "?1", "NULL") ")))"
                            " AND (f.name, f.id) > (coalesce(?2, ''), coalesce(?3, '')) ORDER BY f.name, f.id LIMIT ?4",
    "sssi", user_id, after_name, after_id, (int64_t)limit);
  return db_each_row(st, db_folder_row, &fc);
}

cb_err db_files_shared(const char *user_id, int limit, db_file_cb cb, void *ctx)
{
  struct file_visit fc = {cb, ctx};
  sqlite3_stmt *st = db_query("SELECT " FILE_COLS FILE_FROM " WHERE f.deleted_at IS NULL AND ((f.owner_id <> ?1"
                              " AND f.id IN (SELECT object_id FROM grants WHERE object_type = 'file' AND lapsed = 0 AND"
                              " (user_id = ?1 OR group_id IN (SELECT group_id FROM group_members"
                              " WHERE user_id = ?1))))"
                              /* an owner never loses what they own: their file in a folder
                               * they can no longer see is listed here */
                              " OR (f.owner_id = ?1 AND NOT " DB_FOLDER_VISIBLE_SQL(
                                "f.folder_id", "?1", "NULL") "))"
                                                             " ORDER BY f.name, f.id LIMIT ?2",
                              "si", user_id, (int64_t)limit);
  return db_each_row(st, db_file_row, &fc);
}

/* ---------------------------------------------------------------- audit */

cb_err db_audit_add(const char *user_id, const char *action, const char *object_type, const char *object_id,
                    const char *detail, const char *remote_addr)
{
  char ts[CB_TIME_MAX];
  now(ts);
  return db_exec("INSERT INTO audit(at, user_id, action, object_type, object_id, detail, remote_addr)"
                 " VALUES (?, nullif(?, ''), ?, ?, ?, ?, ?)",
                 "sssssss", ts, user_id, action, object_type, object_id, detail, remote_addr);
}

static const struct db_col audit_cols[] = {
  DB_NUM(struct cb_audit, id),      DB_TEXT(struct cb_audit, at),          DB_TEXT(struct cb_audit, user_id),
  DB_TEXT(struct cb_audit, action), DB_TEXT(struct cb_audit, object_type), DB_TEXT(struct cb_audit, object_id),
  DB_TEXT(struct cb_audit, detail), DB_TEXT(struct cb_audit, remote_addr)};

DB_READER(read_audit, struct cb_audit, audit_cols)

DB_VISITOR(audit, struct cb_audit, db_audit_cb, read_audit, DB_NO_CLEAR)

cb_err db_audit_list(int64_t before_id, int limit, db_audit_cb cb, void *ctx)
{
  struct audit_visit ac = {cb, ctx};
  return db_each_row(db_query("SELECT id, at, coalesce(user_id, ''), action, coalesce(object_type, ''),"
                              " coalesce(object_id, ''), coalesce(detail, ''), coalesce(remote_addr, '')"
                              " FROM audit WHERE id < ? ORDER BY id DESC LIMIT ?",
                              "ii", before_id > 0 ? before_id : INT64_MAX, (int64_t)limit),
                     audit_row, &ac);
}
