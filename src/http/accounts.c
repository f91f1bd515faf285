/* /api/v1/auth, /me, /tokens, and the admin endpoints /users, /groups, /audit. */
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "http/http.h"

void http_audit(struct req *r, const char *action, const char *object_type, const char *object_id, const char *detail)
{
  auth_audit(&r->who, action, object_type, object_id, detail, r->client);
}

// clang-format off
static const struct json_shape user_shape[] = {
  JS_FIELD(struct cb_user, id, JS_TEXT),        JS_FIELD(struct cb_user, username, JS_TEXT),
  JS_FIELD(struct cb_user, is_admin, JS_BOOL),  JS_FIELD(struct cb_user, disabled, JS_BOOL),
  JS_FIELD(struct cb_user, created_at, JS_TEXT),
};
// clang-format on

static cJSON *json_user(const struct cb_user *u)
{
  return JSON_SHAPE(cJSON_CreateObject(), u, user_shape);
}

/* The JSON body and its string members username and password (NULL when absent); NULL
 * once it has answered. */
static cJSON *credentials_body(struct req *r, const char **username, const char **password)
{
  cJSON *body = http_read_json(r);
  if (body &&
      (json_opt_string(r, body, "username", username) < 0 || json_opt_string(r, body, "password", password) < 0)) {
    cJSON_Delete(body);
    return NULL;
  }
  return body;
}

int h_login(struct req *r)
{
  const char *username = NULL, *password = NULL;
  cJSON *body = credentials_body(r, &username, &password);
  if (!body)
    return r->status;
  int st = 0;
  if (!username || !password) {
    st = http_problem(r, 400, username ? "password" : "username", "username and password are required");
    goto out;
  }
  struct cb_user u;
  char session[CB_SECRET_MAX + 1];
  int retry = 0;
  cb_err e = auth_login(username, password, r->client, &u, session, sizeof session, &retry);
  if (e == CB_ETHROTTLED) {
    char ra[16];
    snprintf(ra, sizeof ra, "%d", retry);
    const char *hdr[] = {"Retry-After", ra, NULL};
    auth_audit(NULL, "login.throttled", "user", NULL, username, r->client);
    st = http_problem_extra(r, 429, NULL, hdr, "too many failed sign-ins; try again in %d s", retry);
    goto out;
  }
  if (e == CB_EAUTH) {
    auth_audit(NULL, "login.failed", "user", NULL, username, r->client);
    st = http_problem(r, 401, NULL, "wrong user name or password");
    goto out;
  }
  if (e == CB_EFORBIDDEN) {
    auth_audit(NULL, "login.disabled", "user", u.id, username, r->client);
    st = http_problem(r, 403, NULL, "this account is disabled; an administrator can enable it");
    goto out;
  }
  if (e) {
    st = http_error(r, e, "cannot sign in");
    goto out;
  }
  char cookie[256];
  snprintf(cookie, sizeof cookie, "%s=%s; Path=/; HttpOnly; SameSite=Lax; Max-Age=%d%s", CB_SESSION_COOKIE, session,
           CB_SESSION_DAYS * 86400, r->https ? "; Secure" : "");
  sodium_memzero(session, sizeof session);
  memcpy(r->who.user_id, u.id, sizeof r->who.user_id);
  http_audit(r, "login", "user", u.id, u.username);
  cJSON *o = cJSON_CreateObject();
  cJSON_AddItemToObject(o, "user", json_user(&u));
  const char *hdr[] = {"Set-Cookie", cookie, "Cache-Control", "no-store", NULL};
  st = http_json_extra(r, 200, o, hdr);
  sodium_memzero(cookie, sizeof cookie);
out:
  if (password)
    sodium_memzero((void *)password, strlen(password));
  cJSON_Delete(body);
  return st ? st : r->status;
}

int h_logout(struct req *r)
{
  http_drop_body(r);
  auth_logout(http_header(r, "Cookie"));
  if (r->who.user_id[0])
    http_audit(r, "logout", "user", r->who.user_id, NULL);
  char cookie[128];
  snprintf(cookie, sizeof cookie, "%s=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0", CB_SESSION_COOKIE);
  const char *hdr[] = {"Set-Cookie", cookie, NULL};
  return http_no_content(r, hdr);
}

static cJSON *json_me(struct req *r)
{
  cJSON *o = cJSON_CreateObject();
  cJSON_AddStringToObject(o, "id", r->who.user_id);
  cJSON_AddStringToObject(o, "username", r->who.username);
  cJSON_AddBoolToObject(o, "is_admin", r->who.is_admin);
  cJSON_AddStringToObject(o, "auth", r->who.via == CB_VIA_TOKEN ? "token" : "session");
  cJSON_AddStringToObject(o, "scope", r->who.read_only ? "read" : "write");
  return o;
}

int h_me(struct req *r)
{
  if (http_require_user(r))
    return r->status;
  return http_json(r, 200, json_me(r));
}

/* The browser UI's first question: who is signed in, if anyone. Always 200 (the UI need
 * not provoke a 401 to find out that it must show the sign-in page). */
int h_session(struct req *r)
{
  cJSON *o = cJSON_CreateObject();
  if (r->who.user_id[0])
    cJSON_AddItemToObject(o, "user", json_me(r));
  else
    cJSON_AddNullToObject(o, "user");
  return http_json_private(r, 200, o);
}

/* ---- API tokens ---- */

// clang-format off
static const struct json_shape token_shape[] = {
  JS_FIELD(struct cb_token, id, JS_TEXT),          JS_FIELD(struct cb_token, name, JS_TEXT),
  JS_FIELD(struct cb_token, scope, JS_TEXT),       JS_FIELD(struct cb_token, created_at, JS_TEXT),
  JS_FIELD(struct cb_token, expires_at, JS_NULLABLE), JS_FIELD(struct cb_token, last_used_at, JS_NULLABLE),
};
// clang-format on

static cJSON *json_token(const struct cb_token *t)
{
  return JSON_SHAPE(cJSON_CreateObject(), t, token_shape);
}

int h_tokens_create(struct req *r)
{
  cJSON *body = http_read_create_json(r, "tokens");
  if (!body)
    return r->status;
  const char *name = NULL, *scope = NULL;
  int st = 0, days = 0;
  if (json_opt_string(r, body, "name", &name) < 0 || json_opt_string(r, body, "scope", &scope) < 0)
    goto out;
  if (!name || !*name || strlen(name) > 128 || !cb_utf8_valid(name, strlen(name))) {
    st = http_problem(r, 400, "name", "field 'name' must be 1 to 128 bytes of UTF-8");
    goto out;
  }
  if (!scope)
    scope = "write";
  if (strcmp(scope, "read") && strcmp(scope, "write")) {
    st = http_problem(r, 400, "scope", "field 'scope' must be \"read\" or \"write\"");
    goto out;
  }
  cJSON *d = cJSON_GetObjectItemCaseSensitive(body, "expires_in_days");
  if (d && !cJSON_IsNull(d)) {
    /* the range first: casting a number beyond int's (1e300) is undefined behaviour */
    if (!cJSON_IsNumber(d) || !(d->valuedouble >= 1 && d->valuedouble <= 3650) ||
        d->valuedouble != (double)(int)d->valuedouble) {
      st = http_problem(r, 400, "expires_in_days", "field 'expires_in_days' must be a whole number from 1 to 3650");
      goto out;
    }
    days = d->valueint;
  }
  struct cb_token t;
  char token[CB_SECRET_MAX + 1];
  cb_err e = auth_token_create(&r->who, name, days, scope, &t, token, sizeof token);
  if (e) {
    st = http_error(r, e, "cannot create the token");
    goto out;
  }
  http_audit(r, "token.create", "token", t.id, t.name);
  cJSON *o = json_token(&t);
  cJSON_AddStringToObject(o, "token", token);
  sodium_memzero(token, sizeof token);
  st = http_json_private(r, 201, o);
out:
  cJSON_Delete(body);
  return st ? st : r->status;
}

HTTP_JSON_VISITOR(add_token, struct cb_token, json_token)

int h_tokens_list(struct req *r)
{
  if (http_require_user(r))
    return r->status;
  cJSON *o = cJSON_CreateObject();
  cb_err e = db_token_list(r->who.user_id, add_token, cJSON_AddArrayToObject(o, "tokens"));
  return http_json_or_error(r, o, e, "cannot list tokens");
}

int h_tokens_delete(struct req *r)
{
  if (http_require_user(r))
    return r->status;
  if (r->who.read_only)
    return http_problem(r, 403, NULL, "a read-only token cannot revoke tokens");
  char ts[CB_TIME_MAX];
  cb_time_now_rfc3339(ts, sizeof ts);
  cb_err e = cb_id_valid(r->params[0]) ? db_token_revoke(r->who.user_id, r->params[0], ts) : CB_ENOTFOUND;
  return http_deleted(r, e, "token", "token.revoke", "cannot revoke the token");
}

/* ---- admin: users and groups ---- */

int h_users_create(struct req *r)
{
  if (http_require_admin(r))
    return r->status;
  const char *username = NULL, *password = NULL;
  cJSON *body = credentials_body(r, &username, &password);
  if (!body)
    return r->status;
  int st = 0;
  cJSON *adm = cJSON_GetObjectItemCaseSensitive(body, "is_admin");
  if (adm && !cJSON_IsBool(adm) && !cJSON_IsNull(adm)) {
    st = http_problem(r, 400, "is_admin", "field 'is_admin' must be a boolean");
    goto out;
  }
  if (!username || !password) {
    st = http_problem(r, 400, username ? "password" : "username", "username and password are required");
    goto out;
  }
  struct cb_user u;
  struct cb_errbuf eb = {{0}};
  cb_err e = auth_user_add(username, password, adm && cJSON_IsTrue(adm), &u, &eb);
  if (!e && (e = db_user_get(u.id, &u))) /* the user as stored (created_at is the database's) */
    cb_errf(&eb, "cannot read the new user back");
  if (e == CB_EINVAL) {
    st = http_problem(r, 400, strstr(eb.msg, "password") ? "password" : "username", "%s", eb.msg);
    goto out;
  }
  if (e == CB_EEXIST) {
    st = http_problem(r, 409, "username", "%s", eb.msg);
    goto out;
  }
  if (e) {
    st = http_error(r, e, eb.msg);
    goto out;
  }
  http_audit(r, "user.create", "user", u.id, u.username);
  st = http_json(r, 201, json_user(&u));
out:
  if (password)
    sodium_memzero((void *)password, strlen(password));
  cJSON_Delete(body);
  return st ? st : r->status;
}

HTTP_JSON_VISITOR(add_user, struct cb_user, json_user)

int h_users_list(struct req *r)
{
  if (http_require_admin(r))
    return r->status;
  cJSON *o = cJSON_CreateObject();
  cb_err e = db_user_list(NULL, 10000, add_user, cJSON_AddArrayToObject(o, "users"));
  return http_json_or_error(r, o, e, "cannot list users");
}

static cJSON *json_group(const struct cb_group *g, int with_members)
{
  static const struct json_shape group_shape[] = {JS_FIELD(struct cb_group, id, JS_TEXT),
                                                  JS_FIELD(struct cb_group, name, JS_TEXT),
                                                  JS_FIELD(struct cb_group, created_at, JS_TEXT)};
  cJSON *o = JSON_SHAPE(cJSON_CreateObject(), g, group_shape);
  if (with_members)
    db_group_members(g->id, add_user, cJSON_AddArrayToObject(o, "members"));
  return o;
}

int h_groups_create(struct req *r)
{
  if (http_require_admin(r))
    return r->status;
  cJSON *body = http_read_json(r);
  if (!body)
    return r->status;
  const char *name = NULL;
  int st = 0;
  if (json_opt_string(r, body, "name", &name) < 0)
    goto out;
  const char *why = name ? cb_name_invalid(name) : "field 'name' is required";
  if (why) {
    st = http_problem(r, 400, "name", "%s", why);
    goto out;
  }
  struct cb_group g = {0};
  cb_id_new(g.id);
  snprintf(g.name, sizeof g.name, "%s", name);
  cb_err e = db_group_create(&g);
  if (e == CB_EEXIST) {
    st = http_problem(r, 409, "name", "a group named '%s' already exists", name);
    goto out;
  }
  if (!e)
    e = db_group_get(g.id, &g);
  if (e) {
    st = http_error(r, e, "cannot create the group");
    goto out;
  }
  http_audit(r, "group.create", "group", g.id, g.name);
  st = http_json(r, 201, json_group(&g, 1));
out:
  cJSON_Delete(body);
  return st ? st : r->status;
}

static int add_group(const struct cb_group *g, void *ctx)
{
  cJSON_AddItemToArray(ctx, json_group(g, 1));
  return 0;
}

int h_groups_list(struct req *r)
{
  if (http_require_admin(r))
    return r->status;
  cJSON *o = cJSON_CreateObject();
  cb_err e = db_group_list(add_group, cJSON_AddArrayToObject(o, "groups"));
  return http_json_or_error(r, o, e, "cannot list groups");
}

int h_group_members_add(struct req *r)
{
  if (http_require_admin(r))
    return r->status;
  struct cb_group g;
  if (!cb_id_valid(r->params[0]) || db_group_get(r->params[0], &g)) {
    http_drop_body(r);
    return http_problem(r, 404, NULL, "no group %s", r->params[0]);
  }
  cJSON *body = http_read_json(r);
  if (!body)
    return r->status;
  const char *user_id = NULL;
  int st = 0;
  struct cb_user u;
  if (json_opt_string(r, body, "user_id", &user_id) < 0)
    goto out;
  if (!user_id || !cb_id_valid(user_id) || db_user_get(user_id, &u)) {
    st = http_problem(r, 400, "user_id", "field 'user_id' must name an existing user");
    goto out;
  }
  cb_err e = db_group_add_member(g.id, u.id);
  if (e && e != CB_EEXIST) {
    st = http_error(r, e, "cannot add the member");
    goto out;
  }
  http_audit(r, "group.member.add", "group", g.id, u.username);
  auth_delegations_refresh();
  st = http_json(r, e == CB_EEXIST ? 200 : 201, json_group(&g, 1));
out:
  cJSON_Delete(body);
  return st ? st : r->status;
}

int h_group_members_delete(struct req *r)
{
  if (http_require_admin(r))
    return r->status;
  cb_err e = cb_id_valid(r->params[0]) && cb_id_valid(r->params[1]) ? db_group_remove_member(r->params[0], r->params[1])
                                                                    : CB_ENOTFOUND;
  if (e == CB_ENOTFOUND)
    return http_problem(r, 404, NULL, "user %s is not a member of group %s", r->params[1], r->params[0]);
  if (e)
    return http_error(r, e, "cannot remove the member");
  http_audit(r, "group.member.remove", "group", r->params[0], r->params[1]);
  auth_delegations_refresh(); /* what the member shared through the group's grants lapses */
  return http_no_content(r, NULL);
}

static int add_audit(const struct cb_audit *a, void *ctx)
{
  cJSON *o = cJSON_CreateObject();
  cJSON_AddNumberToObject(o, "id", (double)a->id);
  cJSON_AddStringToObject(o, "at", a->at);
  cJSON_AddStringToObject(o, "user_id", a->user_id);
  cJSON_AddStringToObject(o, "action", a->action);
  cJSON_AddStringToObject(o, "object_type", a->object_type);
  cJSON_AddStringToObject(o, "object_id", a->object_id);
  cJSON_AddStringToObject(o, "detail", a->detail);
  cJSON_AddStringToObject(o, "remote_addr", a->remote_addr);
  cJSON_AddItemToArray(ctx, o);
  return 0;
}

int h_audit_list(struct req *r)
{
  if (http_require_admin(r))
    return r->status;
  int limit;
  char cursor[64];
  if (http_page(r, &limit, cursor, sizeof cursor))
    return r->status;
  long long before = 0;
  if (cursor[0]) {
    char *end;
    before = strtoll(cursor, &end, 10);
    if (*end || before <= 0)
      return http_problem(r, 400, "cursor", "cursor is not one this endpoint issued");
  }
  cJSON *o = cJSON_CreateObject();
  cJSON *arr = cJSON_AddArrayToObject(o, "entries");
  cb_err e = db_audit_list(before, limit, add_audit, arr);
  if (e) {
    cJSON_Delete(o);
    return http_error(r, e, "cannot read the audit log");
  }
  int n = cJSON_GetArraySize(arr);
  if (n == limit) {
    char cur[32];
    snprintf(cur, sizeof cur, "%.0f", cJSON_GetArrayItem(arr, n - 1)->child->valuedouble);
    cJSON_AddStringToObject(o, "next_cursor", cur);
  } else {
    cJSON_AddNullToObject(o, "next_cursor");
  }
  return http_json(r, 200, o);
}

/* ---- account control ---- */

static int account_error(struct req *r, cb_err e, const char *field, const struct cb_errbuf *eb)
{
  switch (e) {
  case CB_ENOTFOUND: return http_problem(r, 404, NULL, "%s", eb->msg);
  case CB_EINVAL: return http_problem(r, 400, field, "%s", eb->msg);
  case CB_ECONFLICT: return http_problem(r, 409, NULL, "%s", eb->msg);
  default: return http_error(r, e, eb->msg);
  }
}

/* -1 when absent, 0/1 for a boolean; -2 (answered) for anything else */
static int opt_bool(struct req *r, cJSON *body, const char *name)
{
  cJSON *v = cJSON_GetObjectItemCaseSensitive(body, name);
  if (!v)
    return -1;
  if (!cJSON_IsBool(v)) {
    http_problem(r, 400, name, "field '%s' must be a boolean", name);
    return -2;
  }
  return cJSON_IsTrue(v);
}

/* PATCH /api/v1/users/{id} {disabled?, is_admin?, password?} (admin) */
int h_user_patch(struct req *r)
{
  cJSON *body = http_read_json(r);
  if (!body)
    return r->status;
  const char *password = NULL;
  int st = 0, disabled, is_admin;
  if ((disabled = opt_bool(r, body, "disabled")) == -2 || (is_admin = opt_bool(r, body, "is_admin")) == -2 ||
      json_opt_string(r, body, "password", &password) < 0)
    goto out;
  if (disabled == -1 && is_admin == -1 && !password) {
    st = http_problem(r, 400, NULL, "give at least one of disabled, is_admin and password");
    goto out;
  }
  if (!cb_id_valid(r->params[0])) {
    st = http_problem(r, 404, NULL, "no such user");
    goto out;
  }
  struct cb_account_change ch;
  struct cb_errbuf eb = {{0}};
  cb_err e = auth_account_set(r->params[0], disabled, is_admin, password, &ch, &eb);
  if (e) {
    st = account_error(r, e, "password", &eb);
    goto out;
  }
  char detail[96];
  snprintf(detail, sizeof detail, "%s%s%s",
           disabled == 1   ? "disabled "
           : disabled == 0 ? "enabled "
                           : "",
           is_admin == 1   ? "admin "
           : is_admin == 0 ? "not-admin "
                           : "",
           password ? "password" : "");
  http_audit(r, "user.update", "user", ch.user.id, detail);
  cJSON *o = json_user(&ch.user);
  cJSON_AddNumberToObject(o, "sessions_ended", ch.sessions_ended);
  st = http_json(r, 200, o);
out:
  if (password)
    sodium_memzero((void *)password, strlen(password));
  cJSON_Delete(body);
  return st ? st : r->status;
}

/* DELETE /api/v1/users/{id}[?transfer_to=USER] (admin): USER is a user name or id */
int h_user_delete(struct req *r)
{
  char heir[CB_NAME_MAX] = "";
  int has = http_query(r, "transfer_to", heir, sizeof heir);
  if (has < 0 || (has > 0 && !heir[0]))
    return http_problem(r, 400, "transfer_to", "transfer_to must name a user");
  struct cb_user h;
  if (has > 0 && db_user_get_by_name(heir, &h) && (!cb_id_valid(heir) || db_user_get(heir, &h)))
    return http_problem(r, 400, "transfer_to", "no user '%s' to take over", heir);
  if (!cb_id_valid(r->params[0]))
    return http_problem(r, 404, NULL, "no such user");
  struct cb_errbuf eb = {{0}};
  cb_err e = auth_account_delete(r->params[0], has > 0 ? h.id : NULL, &eb);
  if (e)
    return account_error(r, e, "transfer_to", &eb);
  http_audit(r, "user.delete", "user", r->params[0], has > 0 ? h.username : "");
  return http_no_content(r, NULL);
}

/* DELETE /api/v1/users/{id}/sessions (admin): ends every session and revokes every token */
int h_user_sessions_delete(struct req *r)
{
  struct cb_user u;
  if (!cb_id_valid(r->params[0]) || db_user_get(r->params[0], &u))
    return http_problem(r, 404, NULL, "no such user");
  int sessions, tokens;
  cb_err e = auth_account_end_sessions(u.id, 1, &sessions, &tokens);
  if (e)
    return http_error(r, e, "cannot end the user's sessions");
  http_audit(r, "user.sessions.end", "user", u.id, u.username);
  cJSON *o = cJSON_CreateObject();
  cJSON_AddNumberToObject(o, "sessions_ended", sessions);
  cJSON_AddNumberToObject(o, "tokens_revoked", tokens);
  return http_json(r, 200, o);
}

/* PUT /api/v1/me/password {current_password, new_password}: the caller's own; ends their
 * other sessions (this request's session, if it came with one, is ended too: sign in again) */
int h_me_password(struct req *r)
{
  cJSON *body = http_read_user_json(r);
  if (!body)
    return r->status;
  const char *cur = NULL, *next = NULL;
  int st = 0;
  if (json_opt_string(r, body, "current_password", &cur) < 0 || json_opt_string(r, body, "new_password", &next) < 0)
    goto out;
  if (!cur || !next) {
    st = http_problem(r, 400, cur ? "new_password" : "current_password",
                      "current_password and new_password are required");
    goto out;
  }
  struct cb_user u;
  if (db_user_get(r->who.user_id, &u)) {
    st = http_problem(r, 404, NULL, "no such user");
    goto out;
  }
  int ok = auth_verify_password(u.password_hash, cur);
  sodium_memzero(u.password_hash, sizeof u.password_hash);
  if (!ok) {
    auth_audit(&r->who, "user.password.failed", "user", u.id, "", r->client);
    st = http_problem(r, 403, "current_password", "the current password is not right");
    goto out;
  }
  struct cb_account_change ch;
  struct cb_errbuf eb = {{0}};
  cb_err e = auth_account_set(u.id, -1, -1, next, &ch, &eb);
  if (e) {
    st = account_error(r, e, "new_password", &eb);
    goto out;
  }
  http_audit(r, "user.password", "user", u.id, "");
  cJSON *o = cJSON_CreateObject();
  cJSON_AddNumberToObject(o, "sessions_ended", ch.sessions_ended);
  st = http_json(r, 200, o);
out:
  if (cur)
    sodium_memzero((void *)cur, strlen(cur));
  if (next)
    sodium_memzero((void *)next, strlen(next));
  cJSON_Delete(body);
  return st ? st : r->status;
}

/* DELETE /api/v1/me/sessions[?tokens=1]: signs the caller out everywhere (and, with
 * tokens=1, revokes their API tokens too) */
int h_me_sessions_delete(struct req *r)
{
  if (http_require_user(r))
    return r->status;
  char t[4] = "";
  int has = http_query(r, "tokens", t, sizeof t);
  if (has < 0 || (has > 0 && strcmp(t, "0") && strcmp(t, "1")))
    return http_problem(r, 400, "tokens", "tokens must be 0 or 1");
  int sessions, tokens;
  cb_err e = auth_account_end_sessions(r->who.user_id, has > 0 && !strcmp(t, "1"), &sessions, &tokens);
  if (e)
    return http_error(r, e, "cannot end the sessions");
  http_audit(r, "user.sessions.end", "user", r->who.user_id, r->who.username);
  cJSON *o = cJSON_CreateObject();
  cJSON_AddNumberToObject(o, "sessions_ended", sessions);
  cJSON_AddNumberToObject(o, "tokens_revoked", tokens);
  return http_json(r, 200, o);
}
