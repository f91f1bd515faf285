/* JSON shapes of folders and files, reading JSON bodies, and the opaque list cursor. */
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "http/http.h"

cJSON *json_str_or_null(const char *s)
{
  return s && *s ? cJSON_CreateString(s) : cJSON_CreateNull();
}

cJSON *json_folder(const struct cb_folder *f)
{
  cJSON *o = cJSON_CreateObject();
  cJSON_AddStringToObject(o, "id", f->id);
  cJSON_AddStringToObject(o, "name", f->name);
  cJSON_AddItemToObject(o, "parent_id", json_str_or_null(f->parent_id));
  cJSON *owner = cJSON_AddObjectToObject(o, "owner");
  cJSON_AddStringToObject(owner, "id", f->owner_id);
  cJSON_AddStringToObject(owner, "username", f->owner_name);
  cJSON_AddStringToObject(o, "visibility", f->visibility);
  cJSON_AddStringToObject(o, "created_at", f->created_at);
  cJSON_AddStringToObject(o, "updated_at", f->updated_at);
  return o;
}

static int add_version(const struct cb_version *v, void *ctx)
{
  cJSON *o = cJSON_CreateObject();
  cJSON_AddNumberToObject(o, "version", (double)v->version);
  cJSON_AddNumberToObject(o, "size", (double)v->size);
  cJSON_AddStringToObject(o, "sha256", v->sha256);
  cJSON_AddStringToObject(o, "media_type", v->media_type);
  cJSON_AddStringToObject(o, "created_at", v->created_at);
  cJSON_AddItemToArray(ctx, o);
  return 0;
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

cJSON *json_file(const struct cb_file *f, int full)
{
  cJSON *o = cJSON_CreateObject();
  cJSON_AddStringToObject(o, "id", f->id);
  cJSON_AddStringToObject(o, "name", f->name);
  cJSON_AddStringToObject(o, "folder_id", f->folder_id);
  cJSON_AddNumberToObject(o, "size", (double)f->size);
  cJSON_AddStringToObject(o, "sha256", f->sha256);
  cJSON_AddStringToObject(o, "media_type", f->media_type);
  cJSON_AddStringToObject(o, "kind", f->kind);
  cJSON_AddStringToObject(o, "status", f->status);
  if (f->error[0])
    cJSON_AddStringToObject(o, "error", f->error);
  cJSON_AddNumberToObject(o, "version", (double)f->version);
  cJSON_AddStringToObject(o, "owner_id", f->owner_id);
  cJSON_AddStringToObject(o, "visibility", f->visibility);
  cJSON_AddStringToObject(o, "created_at", f->created_at);
  cJSON_AddStringToObject(o, "updated_at", f->updated_at);
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
