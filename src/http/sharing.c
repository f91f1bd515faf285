/* Sharing: visibility, grants to users and groups, share links, and /s/{token}, which
 * serves what a link shares, read-only, without login. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "http/http.h"

/* The sharing routes stand under both /api/v1/folders/{id} and /api/v1/files/{id}, with
 * one handler each: the type of the object shared is the one the path the route matched
 * names. */
static const char *shared_type(const struct req *r)
{
  const char *path = r->ri->local_uri_raw ? r->ri->local_uri_raw : r->ri->local_uri;
  return path && !strncmp(path, "/api/v1/folders/", strlen("/api/v1/folders/")) ? "folder" : "file";
}

/* Checks that the caller may share the object (editor or owner); answers if not. */
static int may_share(struct req *r, const char *type, const char *id)
{
  cb_err e = auth_check(&r->who, type, id, CB_MANAGE);
  if (e) {
    http_drop_body(r);
    return http_access_error(r, e, type, id);
  }
  return 0;
}

/* The JSON body of a change to how an object is shared, once the caller may share it;
 * NULL when it has been answered already. */
static cJSON *share_body(struct req *r, const char *type)
{
  return may_share(r, type, r->params[0]) ? NULL : http_read_json(r);
}

int h_share_visibility(struct req *r)
{
  const char *type = shared_type(r);
  const char *id = r->params[0];
  cJSON *body = share_body(r, type);
  if (!body)
    return r->status;
  const char *vis = NULL;
  int st = 0;
  if (json_opt_string(r, body, "visibility", &vis) < 0)
    goto out;
  if (!vis || (strcmp(vis, "private") && strcmp(vis, "public"))) {
    st = http_problem(r, 400, "visibility", "field 'visibility' must be \"private\" or \"public\"");
    goto out;
  }
  cb_err e = db_set_visibility(type, id, vis);
  if (e) {
    st = http_error(r, e, "cannot change visibility");
    goto out;
  }
  http_audit(r, "share.visibility", type, id, vis);
  cJSON *o = cJSON_CreateObject();
  cJSON_AddStringToObject(o, "id", id);
  cJSON_AddStringToObject(o, "visibility", vis);
  st = http_json(r, 200, o);
out:
  cJSON_Delete(body);
  return st ? st : r->status;
}

/* Who made a grant or link, and whether it lapsed (its creator may no longer share). */
static void add_creator(cJSON *o, const char *id, const char *name, int lapsed)
{
  cJSON *by = cJSON_AddObjectToObject(o, "created_by");
  cJSON_AddStringToObject(by, "id", id);
  cJSON_AddStringToObject(by, "username", name);
  cJSON_AddBoolToObject(o, "lapsed", lapsed);
}

#define F(f, kind) JS_FIELD(struct cb_grant, f, kind)
static const struct json_shape grant_shape[] = {
  F(id, JS_TEXT),         F(object_type, JS_TEXT), F(object_id, JS_TEXT),  F(user_id, JS_IF_SET),
  F(group_id, JS_IF_SET), F(role, JS_TEXT),        F(created_at, JS_TEXT),
};
#undef F

static cJSON *json_grant(const struct cb_grant *g)
{
  cJSON *o = JSON_SHAPE(cJSON_CreateObject(), g, grant_shape);
  /* names beside the ids, so that whoever manages sharing can read the list */
  struct cb_user u;
  struct cb_group gr;
  if (g->user_id[0] && !db_user_get(g->user_id, &u))
    cJSON_AddStringToObject(o, "username", u.username);
  if (g->group_id[0] && !db_group_get(g->group_id, &gr))
    cJSON_AddStringToObject(o, "group_name", gr.name);
  add_creator(o, g->created_by, g->created_by_name, g->lapsed);
  return o;
}

int h_share_grants_create(struct req *r)
{
  const char *type = shared_type(r);
  const char *id = r->params[0];
  cJSON *body = share_body(r, type);
  if (!body)
    return r->status;
  const char *user_id = NULL, *group_id = NULL, *username = NULL, *group = NULL, *role = NULL;
  int st = 0;
  if (json_opt_string(r, body, "user_id", &user_id) < 0 || json_opt_string(r, body, "group_id", &group_id) < 0 ||
      json_opt_string(r, body, "username", &username) < 0 || json_opt_string(r, body, "group", &group) < 0 ||
      json_opt_string(r, body, "role", &role) < 0)
    goto out;
  /* the grantee by id, or by name (the UI's sharing dialog) */
  if (!!user_id + !!group_id + !!username + !!group != 1) {
    st = http_problem(r, 400, "user_id", "give exactly one of 'user_id', 'group_id', 'username' and 'group'");
    goto out;
  }
  if (!role || (strcmp(role, "viewer") && strcmp(role, "editor"))) {
    st = http_problem(r, 400, "role", "field 'role' must be \"viewer\" or \"editor\"");
    goto out;
  }
  struct cb_user u;
  struct cb_group g;
  if (user_id && (!cb_id_valid(user_id) || db_user_get(user_id, &u))) {
    st = http_problem(r, 400, "user_id", "no user %s", user_id);
    goto out;
  }
  if (username) {
    if (db_user_get_by_name(username, &u)) {
      st = http_problem(r, 400, "username", "no user named '%s'", username);
      goto out;
    }
    user_id = u.id;
  }
  if (group_id && (!cb_id_valid(group_id) || db_group_get(group_id, &g))) {
    st = http_problem(r, 400, "group_id", "no group %s", group_id);
    goto out;
  }
  if (group) {
    if (db_group_get_by_name(group, &g)) {
      st = http_problem(r, 400, "group", "no group named '%s'", group);
      goto out;
    }
    group_id = g.id;
  }
  struct cb_grant gr = {0};
  cb_id_new(gr.id);
  snprintf(gr.object_type, sizeof gr.object_type, "%s", type);
  snprintf(gr.object_id, sizeof gr.object_id, "%s", id);
  snprintf(gr.user_id, sizeof gr.user_id, "%s", user_id ? user_id : "");
  snprintf(gr.group_id, sizeof gr.group_id, "%s", group_id ? group_id : "");
  snprintf(gr.role, sizeof gr.role, "%s", role);
  cb_time_now_rfc3339(gr.created_at, sizeof gr.created_at);
  cb_err e = db_grant_create(&gr, r->who.user_id[0] ? r->who.user_id : NULL);
  if (e) {
    st = http_error(r, e, "cannot create the grant");
    goto out;
  }
  char detail[128];
  snprintf(detail, sizeof detail, "%s %s %s", role, user_id ? "user" : "group", user_id ? user_id : group_id);
  http_audit(r, "share.grant", type, id, detail);
  auth_delegations_refresh(); /* a new right to share may bring back lapsed delegations */
  snprintf(gr.created_by, sizeof gr.created_by, "%s", r->who.user_id);
  snprintf(gr.created_by_name, sizeof gr.created_by_name, "%s", r->who.username);
  st = http_json(r, 201, json_grant(&gr));
out:
  cJSON_Delete(body);
  return st ? st : r->status;
}

int h_share_grants_delete(struct req *r)
{
  const char *type = shared_type(r);
  if (may_share(r, type, r->params[0]))
    return r->status;
  cb_err e = cb_id_valid(r->params[1]) ? db_grant_delete(type, r->params[0], r->params[1]) : CB_ENOTFOUND;
  if (e == CB_ENOTFOUND)
    return http_problem(r, 404, NULL, "no grant %s on this %s", r->params[1], type);
  if (e)
    return http_error(r, e, "cannot delete the grant");
  http_audit(r, "share.revoke", type, r->params[0], r->params[1]);
  auth_delegations_refresh(); /* what the grantee shared in turn lapses with the grant */
  return http_no_content(r, NULL);
}

/* ---- share links ---- */

#define F(f, kind) JS_FIELD(struct cb_link, f, kind)
static const struct json_shape link_shape[] = {
  F(id, JS_TEXT), F(object_type, JS_TEXT), F(object_id, JS_TEXT), F(created_at, JS_TEXT), F(expires_at, JS_NULLABLE),
};
#undef F

static cJSON *json_link(const struct cb_link *l)
{
  cJSON *o = JSON_SHAPE(cJSON_CreateObject(), l, link_shape);
  add_creator(o, l->created_by, l->created_by_name, l->lapsed);
  return o;
}

/* Accepts RFC 3339 UTC ("...Z") and normalises it to our sortable form. */
static int parse_expiry(const char *in, char *out)
{
  struct tm tm = {0};
  const char *rest = strptime(in, "%Y-%m-%dT%H:%M:%S", &tm);
  if (!rest)
    return -1;
  int ms = 0;
  if (*rest == '.') {
    rest++;
    int digits = 0;
    while (*rest >= '0' && *rest <= '9') {
      if (digits < 3)
        ms = ms * 10 + (*rest - '0');
      digits++;
      rest++;
    }
    while (digits++ < 3)
      ms *= 10;
  }
  if (strcmp(rest, "Z") && strcmp(rest, "+00:00"))
    return -1;
  time_t t = timegm(&tm);
  if (t == (time_t)-1)
    return -1;
  cb_time_rfc3339((int64_t)t * 1000 + ms, out, CB_TIME_MAX);
  return 0;
}

int h_share_links_create(struct req *r)
{
  const char *type = shared_type(r);
  const char *id = r->params[0];
  cJSON *body = share_body(r, type);
  if (!body)
    return r->status;
  const char *exp = NULL;
  char expires[CB_TIME_MAX] = "", now[CB_TIME_MAX];
  int st = 0;
  if (json_opt_string(r, body, "expires_at", &exp) < 0)
    goto out;
  cb_time_now_rfc3339(now, sizeof now);
  if (exp && (parse_expiry(exp, expires) || strcmp(expires, now) <= 0)) {
    st = http_problem(r, 400, "expires_at", "field 'expires_at' must be a future RFC 3339 UTC time");
    goto out;
  }
  struct cb_link l;
  char token[CB_SECRET_MAX + 1], url[256];
  cb_err e = auth_link_create(&r->who, type, id, expires[0] ? expires : NULL, &l, token, sizeof token);
  if (e) {
    st = http_error(r, e, "cannot create the link");
    goto out;
  }
  http_audit(r, "share.link", type, id, l.id);
  cJSON *o = json_link(&l);
  cJSON_AddStringToObject(o, "token", token);
  snprintf(url, sizeof url, "/s/%s", token);
  cJSON_AddStringToObject(o, "url", url);
  st = http_json_private(r, 201, o);
out:
  cJSON_Delete(body);
  return st ? st : r->status;
}

HTTP_JSON_VISITOR(add_grant, struct cb_grant, json_grant)

HTTP_JSON_VISITOR(add_link, struct cb_link, json_link)

/* GET .../grants and .../links: who may share the object sees how it is shared. */
static int list_shares(struct req *r, const char *type, int links)
{
  if (may_share(r, type, r->params[0]))
    return r->status;
  cJSON *o = cJSON_CreateObject();
  cJSON *arr = cJSON_AddArrayToObject(o, links ? "links" : "grants");
  cb_err e = links ? db_link_list(type, r->params[0], add_link, arr)
                   : db_grant_list(type, r->params[0], add_grant, arr);
  return http_json_or_error(r, o, e, links ? "cannot list links" : "cannot list grants");
}

int h_share_grants_list(struct req *r)
{
  return list_shares(r, shared_type(r), 0);
}

int h_share_links_list(struct req *r)
{
  return list_shares(r, shared_type(r), 1);
}

int h_link_delete(struct req *r)
{
  struct cb_link l;
  if (!cb_id_valid(r->params[0]) || db_link_get(r->params[0], &l))
    return http_problem(r, 404, NULL, "no link %s", r->params[0]);
  cb_err e = auth_check(&r->who, l.object_type, l.object_id, CB_MANAGE);
  if (e == CB_ENOTFOUND)
    return http_problem(r, 404, NULL, "no link %s", r->params[0]);
  if (e)
    return http_access_error(r, e, "link", l.id);
  char ts[CB_TIME_MAX];
  cb_time_now_rfc3339(ts, sizeof ts);
  if ((e = db_link_revoke(l.id, ts)))
    return http_error(r, e, "cannot revoke the link");
  http_audit(r, "share.unlink", l.object_type, l.object_id, l.id);
  return http_no_content(r, NULL);
}

/* ---- /s/{token}...: the link's identity replaces any other for the request ---- */

static int as_link(struct req *r, int shift)
{
  cb_err e = auth_link_identity(r->params[0], &r->who);
  if (e == CB_ENOTFOUND)
    return http_problem(r, 404, NULL, "this link does not exist, has expired or was revoked");
  if (e)
    return http_error(r, e, "cannot read the link");
  free(r->params[0]);
  if (shift) {
    r->params[0] = r->params[1];
    r->params[1] = r->params[2];
    r->params[2] = NULL;
  } else {
    r->params[0] = strdup(r->who.link_object);
    if (!r->params[0])
      return http_problem(r, 500, NULL, "out of memory");
  }
  return 0;
}

/* A browser's navigation to a link (Accept names text/html, before any JSON) gets the
 * UI's page, which asks for the JSON itself; API clients, and curl's Accept: star/star,
 * get the JSON or bytes as before. */
static int wants_page(struct req *r)
{
  r->vary_accept = 1; /* the page or the JSON: either answer says it depends on Accept */
  const char *a = http_header(r, "Accept");
  const char *page = a ? strstr(a, "text/html") : NULL;
  const char *json = a ? strstr(a, "application/json") : NULL;
  return page && (!json || page < json);
}

int h_link_root(struct req *r)
{
  if (wants_page(r))
    return http_ui_page(r); /* the page shows a dead link's 404 itself */
  if (as_link(r, 0))
    return r->status;
  return !strcmp(r->who.link_type, "file") ? h_file_content(r) : h_folder_get(r);
}

int h_link_archive(struct req *r)
{
  if (as_link(r, 0))
    return r->status;
  return !strcmp(r->who.link_type, "file") ? h_file_content(r) : h_folder_archive(r);
}

int h_link_folder(struct req *r)
{
  if (wants_page(r))
    return http_ui_page(r);
  return as_link(r, 1) ? r->status : h_folder_get(r);
}

int h_link_file(struct req *r)
{
  if (wants_page(r))
    return http_ui_page(r);
  return as_link(r, 1) ? r->status : h_file_get(r);
}

/* What a link shares, so that its page knows whether it opens a folder or a file (the
 * root of a file's link answers with the bytes). */
int h_link_info(struct req *r)
{
  if (as_link(r, 0))
    return r->status;
  cJSON *o = cJSON_CreateObject();
  cJSON_AddStringToObject(o, "type", r->who.link_type);
  cJSON_AddStringToObject(o, "id", r->who.link_object);
  return http_json_private(r, 200, o);
}

/* The read routes the UI's file and folder pages use, below a link as below /api/v1. */
int h_link_folder_archive(struct req *r)
{
  return as_link(r, 1) ? r->status : h_folder_archive(r);
}

int h_link_file_preview(struct req *r)
{
  return as_link(r, 1) ? r->status : h_file_preview(r);
}

int h_link_file_text(struct req *r)
{
  return as_link(r, 1) ? r->status : h_file_text(r);
}

int h_link_file_records(struct req *r)
{
  return as_link(r, 1) ? r->status : h_file_records(r);
}

int h_link_file_convert(struct req *r)
{
  return as_link(r, 1) ? r->status : h_file_convert(r);
}

int h_link_file_artifact(struct req *r)
{
  return as_link(r, 1) ? r->status : h_file_artifact(r);
}

int h_link_record_depiction(struct req *r)
{
  return as_link(r, 1) ? r->status : h_record_depiction(r);
}

int h_link_file_content(struct req *r)
{
  return as_link(r, 1) ? r->status : h_file_content(r);
}
