/* /api/v1/folders: create, list, get (with children, paginated), rename/move, delete. */
#include <stdio.h>
#include <string.h>

#include "http/http.h"

/* Answers for an access check that failed: 404 when the caller may not see the object,
 * 401 when an anonymous caller wants to change it, 403 when a caller who may see it may
 * not do that. */
int http_access_error(struct req *r, cb_err e, const char *what, const char *id)
{
  if (e == CB_ENOTFOUND)
    return http_problem(r, 404, NULL, "no %s %s", what, id);
  if (e == CB_EFORBIDDEN && !r->who.user_id[0]) {
    const char *hdr[] = {"WWW-Authenticate", "Bearer", NULL};
    return http_problem_extra(r, 401, NULL, hdr, "sign in to change this %s", what);
  }
  if (e == CB_EFORBIDDEN)
    return http_problem(r, 403, NULL, "you may read this %s but not change it%s", what,
                        r->who.read_only ? " (read-only credential)" : "");
  return http_error(r, e, "cannot check access");
}

int http_load_folder(struct req *r, const char *id, enum cb_access need, struct cb_folder *f)
{
  cb_err e = auth_check(&r->who, "folder", id, need);
  if (!e)
    e = db_folder_get(id, f);
  return e ? http_access_error(r, e, "folder", id) : 0;
}

void http_viewer(const struct req *r, struct db_viewer *v)
{
  v->user_id = r->who.user_id[0] ? r->who.user_id : NULL;
  v->link = r->who.via == CB_VIA_LINK ? r->who.link_object : NULL;
  v->all = r->who.is_admin && r->who.user_id[0];
}

unsigned http_can(const struct req *r, const char *type, const char *id, const char *owner_id, unsigned inherited)
{
  /* no identity of a user, a link or a read-only token: a viewer at most (auth.h) */
  int capped = !r->who.user_id[0] || r->who.read_only || r->who.via == CB_VIA_LINK;
  if (inherited && (capped || (inherited & HTTP_CAN_WRITE)))
    return capped ? HTTP_CAN_READ : HTTP_CAN_ALL; /* rights are inherited downwards */
  if (!capped && (r->who.is_admin || (owner_id && !strcmp(owner_id, r->who.user_id))))
    return HTTP_CAN_ALL;
  enum cb_role role;
  if (auth_role(&r->who, type, id, &role) || role < CB_ROLE_VIEWER)
    return 0;
  /* what the handlers ask for: CB_READ for reading, CB_WRITE (= CB_MANAGE) for the rest */
  return role >= CB_ROLE_EDITOR ? HTTP_CAN_ALL : HTTP_CAN_READ;
}

int http_is_owner(struct req *r, const char *type, const char *id)
{
  enum cb_role role;
  return !auth_role(&r->who, type, id, &role) && role == CB_ROLE_OWNER;
}

static void location(char *out, size_t cap, const char *kind, const char *id)
{
  snprintf(out, cap, "/api/v1/%s/%s", kind, id);
}

int h_folders_create(struct req *r)
{
  cJSON *body = http_read_create_json(r, "folders");
  if (!body)
    return r->status;
  const char *name = NULL, *parent = NULL;
  struct cb_folder f = {0}, p;
  int st = 0;
  if (json_opt_string(r, body, "name", &name) < 0 || json_opt_string(r, body, "parent_id", &parent) < 0)
    goto out;
  const char *why = name ? cb_name_invalid(name) : "field 'name' is required";
  if (why) {
    st = http_problem(r, 400, "name", "%s", why);
    goto out;
  }
  if (parent && (st = http_load_folder(r, parent, CB_WRITE, &p)))
    goto out;
  cb_id_new(f.id);
  snprintf(f.name, sizeof f.name, "%s", name);
  snprintf(f.parent_id, sizeof f.parent_id, "%s", parent ? parent : "");
  memcpy(f.owner_id, r->who.user_id, sizeof f.owner_id);
  cb_err e = db_folder_insert(&f);
  if (e == CB_EEXIST) {
    st = http_problem(r, 409, "name", "a folder named '%s' already exists there", name);
    goto out;
  }
  if (!e)
    e = db_folder_get(f.id, &f);
  if (e) {
    st = http_error(r, e, "cannot create the folder");
    goto out;
  }
  http_audit(r, "folder.create", "folder", f.id, f.name);
  char loc[128];
  location(loc, sizeof loc, "folders", f.id);
  const char *hdr[] = {"Location", loc, NULL};
  st = http_json_extra(r, 201, json_add_can(json_folder(&f), http_can(r, "folder", f.id, f.owner_id, 0)), hdr);
out:
  cJSON_Delete(body);
  return st ? st : r->status;
}

/* Lists fetch one row more than the page: when it comes, it is dropped and the page
 * ends with a cursor at the row before it. */
struct list_ctx {
  struct req *r;
  unsigned inherited; /* the caller's rights on the folder listed (0: a list of roots) */
  cJSON *arr;
  int count;
  char prev[CB_NAME_MAX]; /* name of the row before the last */
  char last[CB_NAME_MAX];
  char *ids[2]; /* optional: ids of the row before the last, and of the last */
};

/* Drops the extra row if there is one; returns 1 when the list goes on. */
static int trim_extra(struct list_ctx *lc, int limit)
{
  if (lc->count <= limit)
    return 0;
  cJSON_DeleteItemFromArray(lc->arr, lc->count - 1);
  lc->count--;
  memcpy(lc->last, lc->prev, sizeof lc->last);
  return 1;
}

static int collect_folder(const struct cb_folder *f, void *ctx)
{
  struct list_ctx *lc = ctx;
  cJSON_AddItemToArray(lc->arr,
                       json_add_can(json_folder(f), http_can(lc->r, "folder", f->id, f->owner_id, lc->inherited)));
  lc->count++;
  if (lc->ids[0]) {
    memcpy(lc->ids[0], lc->ids[1], CB_ID_LEN + 1);
    memcpy(lc->ids[1], f->id, CB_ID_LEN + 1);
  }
  memcpy(lc->prev, lc->last, sizeof lc->prev);
  snprintf(lc->last, sizeof lc->last, "%s", f->name);
  return 0;
}

static int collect_file(const struct cb_file *f, void *ctx)
{
  struct list_ctx *lc = ctx;
  cJSON_AddItemToArray(lc->arr,
                       json_add_can(json_file(f, 0), http_can(lc->r, "file", f->id, f->owner_id, lc->inherited)));
  lc->count++;
  memcpy(lc->prev, lc->last, sizeof lc->prev);
  snprintf(lc->last, sizeof lc->last, "%s", f->name);
  return 0;
}

static int add_next_cursor(cJSON *o, const char *kind, struct list_ctx *lc, int limit)
{
  if (trim_extra(lc, limit)) {
    char cur[512];
    http_cursor_encode(kind, lc->last, cur, sizeof cur);
    cJSON_AddStringToObject(o, "next_cursor", cur);
  } else {
    cJSON_AddNullToObject(o, "next_cursor");
  }
  return 0;
}

struct shared_ctx {
  struct req *r;
  cJSON *arr;
};

static int collect_shared_file(const struct cb_file *f, void *ctx)
{
  struct shared_ctx *sc = ctx;
  cJSON_AddItemToArray(sc->arr, json_add_can(json_file(f, 0), http_can(sc->r, "file", f->id, f->owner_id, 0)));
  return 0;
}

int h_folders_list(struct req *r)
{
  if (http_require_user(r))
    return r->status;
  int limit;
  char cursor[512], kind = 'd', after[CB_NAME_MAX] = "", after_id[CB_ID_LEN + 1] = "";
  if (http_page(r, &limit, cursor, sizeof cursor))
    return r->status;
  if (cursor[0]) {
    /* this list's cursor is "NAME\x1fID": names repeat across owners */
    char *sep;
    if (http_cursor_decode(cursor, &kind, after, sizeof after) || kind != 'r' || !(sep = strchr(after, '\x1f')) ||
        !cb_id_valid(sep + 1))
      return http_problem(r, 400, "cursor", "cursor is not one this endpoint issued");
    *sep = '\0';
    snprintf(after_id, sizeof after_id, "%s", sep + 1);
  }
  cJSON *o = cJSON_CreateObject();
  struct list_ctx lc = {.r = r, .arr = cJSON_AddArrayToObject(o, "folders")};
  char last_id[CB_ID_LEN + 1] = "", prev_id[CB_ID_LEN + 1] = "";
  lc.ids[0] = prev_id;
  lc.ids[1] = last_id;
  cb_err e = db_folder_roots(r->who.user_id, cursor[0] ? after : NULL, cursor[0] ? after_id : NULL, limit + 1,
                             collect_folder, &lc);
  struct shared_ctx shared = {r, cJSON_AddArrayToObject(o, "shared_files")};
  if (!e && !cursor[0])
    e = db_files_shared(r->who.user_id, 1000, collect_shared_file, &shared);
  if (e) {
    cJSON_Delete(o);
    return http_error(r, e, "cannot list folders");
  }
  if (trim_extra(&lc, limit)) {
    char raw[CB_NAME_MAX + CB_ID_LEN + 2], cur[512];
    snprintf(raw, sizeof raw, "%s\x1f%s", lc.last, prev_id);
    http_cursor_encode("r", raw, cur, sizeof cur);
    cJSON_AddStringToObject(o, "next_cursor", cur);
  } else {
    cJSON_AddNullToObject(o, "next_cursor");
  }
  return http_json(r, 200, o);
}

struct path_ctx {
  struct req *r;
  cJSON *arr;
};

/* The path shows only the part of the chain the caller may read: access is inherited
 * downwards, so that part is a suffix, from the first readable ancestor on. */
static int collect_path(const struct cb_folder *f, void *ctx)
{
  struct path_ctx *pc = ctx;
  enum cb_role role;
  if (!cJSON_GetArraySize(pc->arr) && auth_role(&pc->r->who, "folder", f->id, &role))
    return 0;
  cJSON *o = cJSON_CreateObject();
  cJSON_AddStringToObject(o, "id", f->id);
  cJSON_AddStringToObject(o, "name", f->name);
  cJSON_AddItemToArray(pc->arr, o);
  return 0;
}

/* A folder as the caller may see it: the parent's id only when they may read it. */
cJSON *http_folder_json(struct req *r, struct cb_folder *f)
{
  enum cb_role role;
  if (f->parent_id[0] && auth_role(&r->who, "folder", f->parent_id, &role))
    f->parent_id[0] = '\0';
  cJSON *o = json_add_can(json_folder(f), http_can(r, "folder", f->id, f->owner_id, 0));
  cJSON_AddItemToObject(o, "categories", json_categories("folder", f->id));
  return o;
}

int h_folder_get(struct req *r)
{
  struct cb_folder f;
  if (http_load_folder(r, r->params[0], CB_READ, &f))
    return r->status;
  int limit;
  char cursor[512], kind = 'd', after[CB_NAME_MAX] = "";
  if (http_page(r, &limit, cursor, sizeof cursor))
    return r->status;
  if (cursor[0] && (http_cursor_decode(cursor, &kind, after, sizeof after) || (kind != 'd' && kind != 'f')))
    return http_problem(r, 400, "cursor", "cursor is not one this endpoint issued");
  unsigned can = http_can(r, "folder", f.id, f.owner_id, 0);
  cJSON *o = http_folder_json(r, &f);
  struct path_ctx pc = {r, cJSON_AddArrayToObject(o, "path")};
  cb_err e = db_folder_path(f.id, collect_path, &pc);
  /* Folders first, then files, each by name; the cursor says where the last page ended. */
  struct list_ctx dirs = {.r = r, .inherited = can, .arr = cJSON_AddArrayToObject(o, "folders")};
  struct list_ctx files = {.r = r, .inherited = can, .arr = cJSON_AddArrayToObject(o, "files")};
  if (!e && kind == 'd')
    e = db_folder_children(f.id, NULL, after[0] ? after : NULL, limit + 1, collect_folder, &dirs);
  if (!e && dirs.count <= limit)
    e = db_file_list(f.id, kind == 'f' && after[0] ? after : NULL, limit - dirs.count + 1, collect_file, &files);
  if (e) {
    cJSON_Delete(o);
    return http_error(r, e, "cannot list the folder");
  }
  if (dirs.count > limit) {
    add_next_cursor(o, "d", &dirs, limit);
  } else if (files.count > limit - dirs.count) {
    trim_extra(&files, limit - dirs.count);
    if (files.count) {
      char cur[512];
      http_cursor_encode("f", files.last, cur, sizeof cur);
      cJSON_AddStringToObject(o, "next_cursor", cur);
    } else {
      /* the page is all folders and files follow: continue with the files */
      char cur[512];
      http_cursor_encode("f", "", cur, sizeof cur);
      cJSON_AddStringToObject(o, "next_cursor", cur);
    }
  } else {
    cJSON_AddNullToObject(o, "next_cursor");
  }
  return http_json(r, 200, o);
}

int h_folder_patch(struct req *r)
{
  struct cb_folder f, target;
  cJSON *body = NULL;
  int st = 0;
  if (http_load_folder(r, r->params[0], CB_WRITE, &f)) {
    http_drop_body(r);
    return r->status;
  }
  if (!(body = http_read_json(r)))
    return r->status;
  const char *name = NULL, *parent = NULL;
  if (json_opt_string(r, body, "name", &name) < 0)
    goto out;
  cJSON *pj = cJSON_GetObjectItemCaseSensitive(body, "parent_id");
  int move = pj != NULL;
  if (pj && !cJSON_IsNull(pj) && !cJSON_IsString(pj)) {
    st = http_problem(r, 400, "parent_id", "field 'parent_id' must be a string or null");
    goto out;
  }
  parent = pj && cJSON_IsString(pj) ? pj->valuestring : NULL;
  if (name && cb_name_invalid(name)) {
    st = http_problem(r, 400, "name", "%s", cb_name_invalid(name));
    goto out;
  }
  if (parent) {
    if ((st = http_load_folder(r, parent, CB_WRITE, &target)))
      goto out;
    if (db_folder_within(target.id, f.id)) {
      st = http_problem(r, 409, "parent_id", "a folder cannot move into itself or below itself");
      goto out;
    }
    /* a move never changes whose a folder is, and never gives the mover more than they
     * had: into a folder of another owner only by whoever owns it already (its owner, the
     * owner of a folder above it, an admin), not by an editor */
    if (strcmp(target.owner_id, f.owner_id) && !http_is_owner(r, "folder", f.id)) {
      st = http_problem(r, 403, "parent_id", "only the folder's owner can move it into a folder of another owner");
      goto out;
    }
  }
  cb_err e = db_folder_update(f.id, name, parent ? parent : "", move);
  if (e == CB_EEXIST) {
    st = http_problem(r, 409, "name", "a folder with that name already exists there");
    goto out;
  }
  if (!e)
    e = db_folder_get(f.id, &f);
  if (!e)
    http_audit(r, move ? "folder.move" : "folder.rename", "folder", f.id, f.name);
  if (!e && move) /* rights that came from the folders above change with them */
    auth_delegations_refresh();
  st = e ? http_error(r, e, "cannot update the folder") : http_json(r, 200, http_folder_json(r, &f));
out:
  cJSON_Delete(body);
  return st ? st : r->status;
}

int h_folder_delete(struct req *r)
{
  struct cb_folder f;
  if (http_load_folder(r, r->params[0], CB_MANAGE, &f))
    return r->status;
  cb_err e = db_folder_delete(f.id);
  if (e)
    return http_error(r, e, "cannot delete the folder");
  http_audit(r, "folder.delete", "folder", f.id, f.name);
  return http_no_content(r, NULL);
}
