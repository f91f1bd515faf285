/* The JSON Schemas of schemas/json/, built into the binary: user metadata is validated
 * against metadata.schema.json always, and against NAME.schema.json when it says
 * "$schema": "NAME". GET /api/v1/schemas lists them. */
#include <stdio.h>
#include <string.h>

#include "http/http.h"
#include "util/embedded.h"
#include "util/jsonschema.h"

extern const struct cb_embedded cb_schemas[];

static cJSON *load(const char *name)
{
  char file[96];
  snprintf(file, sizeof file, "%.64s.schema.json", name);
  const struct cb_embedded *e = cb_embedded_find(cb_schemas, file);
  return e ? cJSON_ParseWithLength((const char *)e->data, e->len) : NULL;
}

/* "metadata/x/unit: reason" -> field "metadata.x.unit" */
static int schema_problem(struct req *r, char *err, const char *prefix)
{
  if (strlen(err) > 399)
    err[399] = '\0'; /* as long as it always was (a 400-byte buffer) */
  char field[200];
  const char *colon = strstr(err, ": ");
  size_t n = colon ? (size_t)(colon - err) : 0;
  if (n >= sizeof field)
    n = sizeof field - 1;
  memcpy(field, err, n);
  field[n] = '\0';
  for (char *p = field; *p; p++)
    if (*p == '/')
      *p = '.';
  return http_problem(r, 400, n ? field : "metadata", "%s%s", prefix, err);
}

int http_validate_metadata(struct req *r, const cJSON *meta)
{
  struct cb_errbuf eb = {""};
  cJSON *base = load("metadata");
  if (!base)
    return http_problem(r, 500, NULL, "the metadata schema is missing from this build");
  int bad = cb_schema_validate(base, meta, "metadata", &eb);
  cJSON_Delete(base);
  if (bad)
    return schema_problem(r, eb.msg, "");
  const cJSON *which = cJSON_GetObjectItemCaseSensitive(meta, "$schema");
  if (!cJSON_IsString(which) || !strcmp(which->valuestring, "metadata"))
    return 0;
  cJSON *schema = load(which->valuestring);
  if (!schema)
    return http_problem(r, 400, "metadata/$schema", "no schema named '%s' (see GET /api/v1/schemas)",
                        which->valuestring);
  bad = cb_schema_validate(schema, meta, "metadata", &eb);
  cJSON_Delete(schema);
  if (!bad)
    return 0;
  char prefix[120];
  snprintf(prefix, sizeof prefix, "does not follow schema '%.64s': ", which->valuestring);
  return schema_problem(r, eb.msg, prefix);
}

cJSON *http_metadata_schema(const cJSON *meta)
{
  const cJSON *which = cJSON_GetObjectItemCaseSensitive(meta, "$schema");
  if (!cJSON_IsString(which) || !strcmp(which->valuestring, "metadata"))
    return NULL;
  for (const char *p = which->valuestring; *p; p++) /* a name, never a path */
    if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_' || *p == '-'))
      return NULL;
  return load(which->valuestring);
}

/* A string annotation of the schema's property `name`: NULL when there is none. */
static const char *annotation(const cJSON *schema, const char *name, const char *key)
{
  const cJSON *props = cJSON_GetObjectItemCaseSensitive(schema, "properties");
  const cJSON *a = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(props, name), key);
  return cJSON_IsString(a) && a->valuestring[0] ? a->valuestring : NULL;
}

void http_schema_annotate(const cJSON *schema, struct cb_property *props, int n)
{
  for (int i = 0; schema && i < n; i++) {
    if (!props[i].unit)
      props[i].unit = annotation(schema, props[i].name, "x-unit");
    if (!props[i].iri)
      props[i].iri = annotation(schema, props[i].name, "x-iri");
  }
}

int h_schemas_list(struct req *r)
{
  cJSON *o = cJSON_CreateObject(), *arr = cJSON_AddArrayToObject(o, "schemas");
  for (const struct cb_embedded *e = cb_schemas; e->name; e++) {
    cJSON *s = cJSON_ParseWithLength((const char *)e->data, e->len);
    cJSON *item = cJSON_CreateObject();
    char name[96];
    snprintf(name, sizeof name, "%.*s", (int)(strlen(e->name) - strlen(".schema.json")), e->name);
    cJSON_AddStringToObject(item, "name", name);
    cJSON *t = cJSON_GetObjectItemCaseSensitive(s, "title"), *d = cJSON_GetObjectItemCaseSensitive(s, "description");
    cJSON_AddStringToObject(item, "title", cJSON_IsString(t) ? t->valuestring : name);
    if (cJSON_IsString(d))
      cJSON_AddStringToObject(item, "description", d->valuestring);
    cJSON_AddItemToArray(arr, item);
    cJSON_Delete(s);
  }
  return http_json(r, 200, o);
}

int h_schema_get(struct req *r)
{
  for (const char *p = r->params[0]; *p; p++)
    if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_' || *p == '-'))
      return http_problem(r, 404, NULL, "no schema %s", r->params[0]);
  char file[96];
  snprintf(file, sizeof file, "%.64s.schema.json", r->params[0]);
  const struct cb_embedded *e = cb_embedded_find(cb_schemas, file);
  if (!e)
    return http_problem(r, 404, NULL, "no schema %s", r->params[0]);
  http_send(r, 200, "application/schema+json", e->data, e->len, NULL);
  return 200;
}
