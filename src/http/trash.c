/* The trash: GET /api/v1/trash (the caller's deleted files and folders that can still be
 * restored) and POST /api/v1/{files,folders}/{id}/restore. A deleted object is the
 * business of its owner (and of administrators) only: anyone else gets 404, as for
 * anything they may not see. How long the trash keeps things: CARBOY_TRASH_DAYS (the
 * orphan sweep purges the rest, src/db/trash.c). */
#include <stdio.h>
#include <string.h>

#include "http/http.h"

/* Deleted after this is still in the trash. */
static void trash_since(char out[CB_TIME_MAX])
{
  cb_time_rfc3339(cb_time_now_ms() - (int64_t)app.cfg.trash_days * 86400000, out, CB_TIME_MAX);
}

struct path_build {
  const struct req *r;
  struct cb_buf b;
};

/* The folders above an item, as "/a/b": only the part of the chain the caller owns or may
 * read (the suffix after the last folder they may not), as a folder's path shows it. */
static int path_step(const struct cb_folder *f, void *ctx)
{
  struct path_build *pb = ctx;
  enum cb_role role;
  int sees = pb->r->who.is_admin || !strcmp(f->owner_id, pb->r->who.user_id) ||
             !auth_role(&pb->r->who, "folder", f->id, &role);
  if (!sees) {
    cb_buf_reset(&pb->b);
    return 0;
  }
  cb_buf_printf(&pb->b, "/%s", f->name);
  return 0;
}

/* Whether the caller may bring an item back into folder_id, where it was: a restore writes
 * there, so a non-administrator must still be allowed to (an owner who lost the folder's
 * grant may neither put the item back nor learn, from a name clash, what the folder holds
 * now). The folder's own owner also passes when it is in the trash itself: they are told
 * to restore it first. */
static int may_restore_into(struct req *r, const char *folder_id, const char *since)
{
  if (!folder_id[0] || r->who.is_admin || (http_can(r, "folder", folder_id, NULL, 0) & HTTP_CAN_WRITE))
    return 1;
  struct cb_trash_item p;
  return !db_trash_get("folder", folder_id, since, app.cfg.trash_days, &p) && !strcmp(p.owner_id, r->who.user_id);
}

static cJSON *trash_json(struct req *r, const struct cb_trash_item *t)
{
  cJSON *o = cJSON_CreateObject();
  cJSON_AddStringToObject(o, "type", t->type);
  cJSON_AddStringToObject(o, "id", t->id);
  cJSON_AddStringToObject(o, "name", t->name);
  cJSON_AddItemToObject(o, "folder_id", json_str_or_null(t->folder_id));
  struct path_build pb = {r, {0}};
  if (t->folder_id[0])
    db_folder_path(t->folder_id, path_step, &pb);
  cJSON_AddStringToObject(o, "path", pb.b.len && pb.b.data ? pb.b.data : "/");
  cb_buf_free(&pb.b);
  cJSON *owner = cJSON_AddObjectToObject(o, "owner");
  cJSON_AddStringToObject(owner, "id", t->owner_id);
  cJSON_AddStringToObject(owner, "username", t->owner_name);
  cJSON_AddStringToObject(o, "deleted_at", t->deleted_at);
  cJSON_AddStringToObject(o, "purge_at", t->purge_at);
  if (!strcmp(t->type, "file"))
    cJSON_AddNumberToObject(o, "size", (double)t->size);
  /* what its owner (or an admin) may do once it is back; a read-only token only reads,
   * and an item that may not go back where it was (restore answers 404) is only seen */
  char since[CB_TIME_MAX];
  trash_since(since);
  return json_add_can(o, r->who.read_only || !may_restore_into(r, t->folder_id, since) ? HTTP_CAN_READ : HTTP_CAN_ALL);
}

struct trash_page {
  struct req *r;
  cJSON *arr;
  int count;
  char last_at[2][CB_TIME_MAX]; /* of the row before the last, and of the last */
  char last_id[2][CB_ID_LEN + 1];
};

static int collect_item(const struct cb_trash_item *t, void *ctx)
{
  struct trash_page *tp = ctx;
  cJSON_AddItemToArray(tp->arr, trash_json(tp->r, t));
  tp->count++;
  memcpy(tp->last_at[0], tp->last_at[1], CB_TIME_MAX);
  memcpy(tp->last_id[0], tp->last_id[1], CB_ID_LEN + 1);
  snprintf(tp->last_at[1], CB_TIME_MAX, "%s", t->deleted_at);
  snprintf(tp->last_id[1], CB_ID_LEN + 1, "%s", t->id);
  return 0;
}

int h_trash_list(struct req *r)
{
  if (http_require_user(r))
    return r->status;
  int limit;
  char cursor[512], all[8] = "", kind = 0, raw[CB_NAME_MAX] = "";
  if (http_page(r, &limit, cursor, sizeof cursor))
    return r->status;
  int q = http_query(r, "all", all, sizeof all);
  if (q < 0 || (q > 0 && strcmp(all, "0") && strcmp(all, "1")))
    return http_problem(r, 400, "all", "all must be 0 or 1");
  int everyone = q > 0 && !strcmp(all, "1");
  if (everyone && !r->who.is_admin)
    return http_problem(r, 403, "all", "only an administrator may list everybody's trash");
  /* the cursor is "DELETED_AT\x1fID" of the last item given */
  char *sep = NULL;
  if (cursor[0] && (http_cursor_decode(cursor, &kind, raw, sizeof raw) || kind != 't' || !(sep = strchr(raw, '\x1f')) ||
                    !cb_id_valid(sep + 1)))
    return http_problem(r, 400, "cursor", "cursor is not one this endpoint issued");
  if (sep)
    *sep++ = '\0';
  char since[CB_TIME_MAX];
  trash_since(since);
  cJSON *o = cJSON_CreateObject();
  struct trash_page tp = {.r = r, .arr = cJSON_AddArrayToObject(o, "items")};
  cb_err e = db_trash_list(everyone ? NULL : r->who.user_id, since, app.cfg.trash_days, sep ? raw : NULL, sep,
                           limit + 1, collect_item, &tp);
  if (e) {
    cJSON_Delete(o);
    return http_error(r, e, "cannot list the trash");
  }
  if (tp.count > limit) { /* the extra row says there is more: the page ends before it */
    cJSON_DeleteItemFromArray(tp.arr, tp.count - 1);
    char next[CB_TIME_MAX + CB_ID_LEN + 2], cur[512];
    snprintf(next, sizeof next, "%s\x1f%s", tp.last_at[0], tp.last_id[0]);
    http_cursor_encode("t", next, cur, sizeof cur);
    cJSON_AddStringToObject(o, "next_cursor", cur);
  } else {
    cJSON_AddNullToObject(o, "next_cursor");
  }
  return http_json(r, 200, o);
}

static int restore(struct req *r, const char *type)
{
  if (http_require_user(r))
    return r->status;
  const char *id = r->params[0];
  char since[CB_TIME_MAX], parent[CB_NAME_MAX] = "";
  trash_since(since);
  struct cb_trash_item t;
  cb_err e = cb_id_valid(id) ? db_trash_get(type, id, since, app.cfg.trash_days, &t) : CB_ENOTFOUND;
  /* in the caller's trash: theirs, or anyone's for an administrator */
  if (!e && !r->who.is_admin && strcmp(t.owner_id, r->who.user_id))
    e = CB_ENOTFOUND;
  if (!e && !may_restore_into(r, t.folder_id, since))
    e = CB_ENOTFOUND;
  if (e == CB_ENOTFOUND)
    return http_problem(r, 404, NULL, "no %s %s in your trash", type, id);
  int requeued = 0;
  if (!e)
    e = db_trash_restore(type, id, t.deleted_at, parent, &requeued);
  if (e == CB_ECONFLICT)
    return http_problem(r, 409, NULL, "the folder '%s' it was in is in the trash too: restore folder %s first", parent,
                        parent);
  if (e == CB_EEXIST)
    return http_problem(r, 409, "name", "a %s named '%s' exists there now: rename or move it first", type, t.name);
  if (e == CB_ENOTFOUND) /* restored or purged meanwhile */
    return http_problem(r, 404, NULL, "no %s %s in your trash", type, id);
  if (e)
    return http_error(r, e, "cannot restore");
  if (requeued)
    jobs_wake();
  /* grants and links on it that lapsed while it was away stand again */
  auth_delegations_refresh();
  char action[32];
  snprintf(action, sizeof action, "%s.restore", type);
  http_audit(r, action, type, id, t.name);
  if (!strcmp(type, "folder")) {
    struct cb_folder f;
    if ((e = db_folder_get(id, &f)))
      return http_error(r, e, "cannot read the folder");
    return http_json(r, 200, http_folder_json(r, &f));
  }
  struct cb_file f;
  if ((e = db_file_get(id, &f)))
    return http_error(r, e, "cannot read the file");
  int st = http_json(r, 200, http_file_json(r, &f, 1));
  db_file_clear(&f);
  return st;
}

int h_file_restore(struct req *r)
{
  return restore(r, "file");
}

int h_folder_restore(struct req *r)
{
  return restore(r, "folder");
}
