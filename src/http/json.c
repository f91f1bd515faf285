/* JSON shapes of folders and files, reading JSON bodies, and the opaque list cursor. */
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "http/http.h"

cJSON *json_str_or_null(const char *s)
{
  return s && *s ? cJSON_CreateString(s) : cJSON_CreateNull();
}

/* One member's JSON value, or NULL when it is left out. */
static cJSON *shape_item(enum json_shape_kind kind, const char *at)
{
  const char *text = at;
  int n = 0;
  int64_t n64 = 0;
  double real = 0;
  switch (kind) {
  case JS_PTR_IF_SET: memcpy(&text, at, sizeof text); return text ? cJSON_CreateString(text) : NULL;
  case JS_IF_SET: return *text ? cJSON_CreateString(text) : NULL;
  case JS_NULLABLE: return json_str_or_null(text);
  case JS_TEXT: return cJSON_CreateString(text);
  case JS_BOOL: memcpy(&n, at, sizeof n); return cJSON_CreateBool(n);
  case JS_INT: memcpy(&n, at, sizeof n); return cJSON_CreateNumber(n);
  case JS_INT64: memcpy(&n64, at, sizeof n64); return cJSON_CreateNumber((double)n64);
  case JS_REAL: memcpy(&real, at, sizeof real); return cJSON_CreateNumber(real);
  }
  return NULL;
}

cJSON *json_shape_add(cJSON *o, const void *obj, const struct json_shape *shape, size_t n)
{
  for (size_t i = 0; i < n; i++) {
    cJSON *item = shape_item(shape[i].kind, (const char *)obj + shape[i].off);
    if (item)
      cJSON_AddItemToObject(o, shape[i].name, item);
  }
  return o;
}

// clang-format off
static const struct json_shape folder_shape[] = {
  JS_FIELD(struct cb_folder, id, JS_TEXT),         JS_FIELD(struct cb_folder, name, JS_TEXT),
  JS_FIELD(struct cb_folder, parent_id, JS_NULLABLE), JS_FIELD(struct cb_folder, visibility, JS_TEXT),
  JS_FIELD(struct cb_folder, created_at, JS_TEXT), JS_FIELD(struct cb_folder, updated_at, JS_TEXT),
};
// clang-format on

cJSON *json_folder(const struct cb_folder *f)
{
  cJSON *o = JSON_SHAPE(cJSON_CreateObject(), f, folder_shape);
  cJSON *owner = cJSON_AddObjectToObject(o, "owner");
  cJSON_AddStringToObject(owner, "id", f->owner_id);
  cJSON_AddStringToObject(owner, "username", f->owner_name);
  return o;
}

// clang-format off
static const struct json_shape version_shape[] = {
  JS_NUMBER(struct cb_version, version), JS_NUMBER(struct cb_version, size),
  JS_FIELD(struct cb_version, sha256, JS_TEXT), JS_FIELD(struct cb_version, media_type, JS_TEXT),
  JS_FIELD(struct cb_version, created_at, JS_TEXT),
};
// clang-format on

static int add_version(const struct cb_version *v, void *ctx)
{
  cJSON *o = JSON_SHAPE(cJSON_CreateObject(), v, version_shape);
  if (v->created_by[0]) {
    cJSON *by = cJSON_AddObjectToObject(o, "created_by");
    cJSON_AddStringToObject(by, "id", v->created_by);
    cJSON_AddStringToObject(by, "username", v->created_by_name);
  } else {
    cJSON_AddNullToObject(o, "created_by");
  }
  cJSON_AddItemToArray(ctx, o);
  return 0;
}

cJSON *json_add_can(cJSON *o, unsigned mask)
{
  static const char *const names[] = {"read", "write", "share", "delete"};
  cJSON *can = cJSON_AddArrayToObject(o, "can");
  for (unsigned i = 0; i < sizeof names / sizeof *names; i++)
    if (mask & (1u << i))
      cJSON_AddItemToArray(can, cJSON_CreateString(names[i]));
  return o;
}

int json_add_property(const struct cb_property *p, void *ctx)
{
  cJSON *o = cJSON_CreateObject();
  cJSON_AddStringToObject(o, "name", p->name);
  if (p->is_num)
    cJSON_AddNumberToObject(o, "value", p->value_num);
  else
    cJSON_AddStringToObject(o, "value", p->value_text ? p->value_text : "");
  if (p->unit)
    cJSON_AddStringToObject(o, "unit", p->unit);
  if (p->iri)
    cJSON_AddStringToObject(o, "iri", p->iri);
  cJSON_AddStringToObject(o, "source", p->source);
  cJSON_AddItemToArray(ctx, o);
  return 0;
}

struct art_ctx {
  cJSON *arr;
  const char *file_id;
};

static int add_artifact(const struct cb_artifact_row *a, void *ctx)
{
  struct art_ctx *ac = ctx;
  char url[160];
  cJSON *o = cJSON_CreateObject();
  cJSON_AddStringToObject(o, "kind", a->kind);
  cJSON_AddStringToObject(o, "media_type", a->media_type);
  cJSON_AddNumberToObject(o, "size", (double)a->size);
  if (!strcmp(a->kind, "text"))
    snprintf(url, sizeof url, "/api/v1/files/%s/text", ac->file_id);
  else
    snprintf(url, sizeof url, "/api/v1/files/%s/artifacts/%s", ac->file_id, a->kind);
  cJSON_AddStringToObject(o, "url", url);
  cJSON_AddItemToArray(ac->arr, o);
  return 0;
}

#define F(f, kind) JS_FIELD(struct cb_file, f, kind)
static const struct json_shape file_shape[] = {
  F(id, JS_TEXT),         F(name, JS_TEXT),
  F(folder_id, JS_TEXT),  JS_NUMBER(struct cb_file, size),
  F(sha256, JS_TEXT),     F(media_type, JS_TEXT),
  F(kind, JS_TEXT),       F(status, JS_TEXT),
  F(error, JS_IF_SET),    JS_NUMBER(struct cb_file, version),
  F(owner_id, JS_TEXT),   F(visibility, JS_TEXT),
  F(created_at, JS_TEXT), F(updated_at, JS_TEXT),
};
#undef F

cJSON *json_file(const struct cb_file *f, int full)
{
  cJSON *o = JSON_SHAPE(cJSON_CreateObject(), f, file_shape);
  if (!full)
    return o;
  cJSON *versions = cJSON_AddArrayToObject(o, "versions");
  db_file_versions(f->id, add_version, versions);
  cJSON *props = cJSON_AddArrayToObject(o, "properties");
  db_properties_list(f->id, json_add_property, props);
  cJSON *meta = f->metadata ? cJSON_Parse(f->metadata) : NULL;
  cJSON_AddItemToObject(o, "metadata", meta ? meta : cJSON_CreateObject());
  struct art_ctx ac = {cJSON_AddArrayToObject(o, "artifacts"), f->id};
  db_artifacts(f->id, f->version, add_artifact, &ac);
  cJSON_AddNumberToObject(o, "record_count", (double)db_record_count(f->id, f->version));
  cJSON_AddItemToObject(o, "categories", json_categories("file", f->id));
  return o;
}

int json_opt_string(struct req *r, cJSON *obj, const char *name, const char **out)
{
  cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);
  *out = NULL;
  if (!v || cJSON_IsNull(v))
    return 0;
  if (!cJSON_IsString(v)) {
    http_problem(r, 400, name, "field '%s' must be a string", name);
    return -1;
  }
  *out = v->valuestring;
  return 1;
}

cJSON *http_read_user_json(struct req *r)
{
  return http_require_user(r) ? NULL : http_read_json(r);
}

cJSON *http_read_create_json(struct req *r, const char *what)
{
  if (http_require_user(r))
    return NULL;
  if (r->who.read_only) {
    http_drop_body(r);
    http_problem(r, 403, NULL, "a read-only token cannot create %s", what);
    return NULL;
  }
  return http_read_json(r);
}

int http_json_or_error(struct req *r, cJSON *json, cb_err e, const char *detail)
{
  if (e) {
    cJSON_Delete(json);
    return http_error(r, e, detail);
  }
  return http_json(r, 200, json);
}

int http_deleted(struct req *r, cb_err e, const char *what, const char *action, const char *detail)
{
  if (e == CB_ENOTFOUND)
    return http_problem(r, 404, NULL, "no %s %s", what, r->params[0]);
  if (e)
    return http_error(r, e, detail);
  http_audit(r, action, what, r->params[0], NULL);
  return http_no_content(r, NULL);
}

/* cursors are URL-safe base64 without padding, so they go into a query as they are */
#define CURSOR_BASE64 sodium_base64_VARIANT_URLSAFE_NO_PADDING

void http_cursor_encode(const char *kind, const char *name, char *out, size_t cap)
{
  char raw[CB_NAME_MAX + 8];
  int n = snprintf(raw, sizeof raw, "%s:%s", kind, name);
  if (n < 0 || (size_t)n >= sizeof raw || cap < sodium_base64_ENCODED_LEN((size_t)n, CURSOR_BASE64)) {
    out[0] = '\0';
    return;
  }
  sodium_bin2base64(out, cap, (const unsigned char *)raw, (size_t)n, CURSOR_BASE64);
}

int http_cursor_decode(const char *cursor, char *kind, char *name, size_t cap)
{
  unsigned char raw[CB_NAME_MAX + 8];
  size_t n;
  if (sodium_base642bin(raw, sizeof raw - 1, cursor, strlen(cursor), NULL, &n, NULL, CURSOR_BASE64) || n < 2 ||
      raw[1] != ':')
    return -1;
  raw[n] = '\0';
  if (memchr(raw, 0, n) || n - 2 >= cap)
    return -1;
  *kind = (char)raw[0];
  memcpy(name, raw + 2, n - 2);
  name[n - 2] = '\0';
  return 0;
}
