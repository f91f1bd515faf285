#include "util/jsonschema.h"

#include <math.h>
#include <regex.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "util/util.h"

struct ctx {
  const cJSON *root_schema;
  char *err;
  size_t cap;
  int depth;
};

static int fail(struct ctx *c, const char *path, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(struct ctx *c, const char *path, const char *fmt, ...)
{
  if (c->err && c->cap) {
    char msg[300];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    snprintf(c->err, c->cap, "%s: %s", path, msg);
  }
  return -1;
}

static const char *type_of(const cJSON *v)
{
  if (cJSON_IsObject(v)) return "object";
  if (cJSON_IsArray(v)) return "array";
  if (cJSON_IsString(v)) return "string";
  if (cJSON_IsBool(v)) return "boolean";
  if (cJSON_IsNull(v)) return "null";
  return "number";
}

static int is_type(const cJSON *v, const char *t)
{
  if (!strcmp(t, "integer"))
    return cJSON_IsNumber(v) && isfinite(v->valuedouble) && v->valuedouble == floor(v->valuedouble);
  return !strcmp(t, type_of(v));
}

static int json_equal(const cJSON *a, const cJSON *b)
{
  return cJSON_Compare(a, b, 1);
}

static int utf8_len(const char *s)
{
  int n = 0;
  for (; *s; s++)
    n += ((unsigned char)*s & 0xc0) != 0x80;
  return n;
}

static int validate(struct ctx *c, const cJSON *schema, const cJSON *v, const char *path);

/* A numeric limit `key` of schema s: side -1 is a lower bound, 1 an upper one; exclusive
 * bounds refuse equality. Fails (non-zero) with "WHAT LIMIT UNIT" when x is on the wrong
 * side. */
static int bound(struct ctx *c, const cJSON *s, const char *key, double x, int side, int exclusive,
                 const char *what, const char *unit, const char *path)
{
  const cJSON *k = cJSON_GetObjectItemCaseSensitive(s, key);
  if (!cJSON_IsNumber(k))
    return 0;
  double lim = k->valuedouble;
  int bad = side < 0 ? (exclusive ? x <= lim : x < lim) : (exclusive ? x >= lim : x > lim);
  if (!bad)
    return 0;
  char b[40];
  snprintf(b, sizeof b, "%g", lim);
  return fail(c, path, "%s %s%s", what, b, unit);
}

static int sub(struct ctx *c, const cJSON *schema, const cJSON *v, const char *path, const char *key)
{
  char p[512];
  snprintf(p, sizeof p, "%s/%s", path, key);
  return validate(c, schema, v, p);
}

static const cJSON *resolve(struct ctx *c, const char *ref)
{
  if (strncmp(ref, "#/$defs/", 8))
    return NULL;
  const cJSON *defs = cJSON_GetObjectItemCaseSensitive(c->root_schema, "$defs");
  return cJSON_GetObjectItemCaseSensitive(defs, ref + 8);
}

static int validate(struct ctx *c, const cJSON *s, const cJSON *v, const char *path)
{
  if (cJSON_IsBool(s))
    return cJSON_IsTrue(s) ? 0 : fail(c, path, "is not allowed here");
  if (!cJSON_IsObject(s))
    return 0;
  if (++c->depth > 64) {
    c->depth--;
    return fail(c, path, "schema nests too deeply");
  }
  int rc = -1;
  const cJSON *k;

  if ((k = cJSON_GetObjectItemCaseSensitive(s, "$ref"))) {
    const cJSON *target = cJSON_IsString(k) ? resolve(c, k->valuestring) : NULL;
    if (!target) {
      fail(c, path, "the schema refers to an unknown definition %s", cJSON_IsString(k) ? k->valuestring : "");
      goto out;
    }
    if (validate(c, target, v, path))
      goto out;
  }
  if ((k = cJSON_GetObjectItemCaseSensitive(s, "type"))) {
    int ok = 0;
    if (cJSON_IsString(k))
      ok = is_type(v, k->valuestring);
    const cJSON *t;
    if (cJSON_IsArray(k))
      cJSON_ArrayForEach(t, k) ok |= cJSON_IsString(t) && is_type(v, t->valuestring);
    if (!ok) {
      char want[120] = "";
      if (cJSON_IsString(k))
        snprintf(want, sizeof want, "%s", k->valuestring);
      else
        cJSON_ArrayForEach(t, k) if (cJSON_IsString(t))
          snprintf(want + strlen(want), sizeof want - strlen(want), "%s%s", want[0] ? " or " : "", t->valuestring);
      fail(c, path, "must be of type %s", want);
      goto out;
    }
  }
  if ((k = cJSON_GetObjectItemCaseSensitive(s, "const")) && !json_equal(k, v)) {
    char *want = cJSON_PrintUnformatted(k);
    fail(c, path, "must be %s", want);
    cJSON_free(want);
    goto out;
  }
  if ((k = cJSON_GetObjectItemCaseSensitive(s, "enum"))) {
    const cJSON *e;
    int ok = 0;
    cJSON_ArrayForEach(e, k) ok |= json_equal(e, v);
    if (!ok) {
      char *want = cJSON_PrintUnformatted(k);
      fail(c, path, "must be one of %s", want);
      cJSON_free(want);
      goto out;
    }
  }
  if (cJSON_IsNumber(v) &&
      (bound(c, s, "minimum", v->valuedouble, -1, 0, "must be at least", "", path) ||
       bound(c, s, "maximum", v->valuedouble, 1, 0, "must be at most", "", path) ||
       bound(c, s, "exclusiveMinimum", v->valuedouble, -1, 1, "must be greater than", "", path) ||
       bound(c, s, "exclusiveMaximum", v->valuedouble, 1, 1, "must be less than", "", path)))
    goto out;
  if (cJSON_IsString(v)) {
    int len = utf8_len(v->valuestring);
    if (bound(c, s, "minLength", len, -1, 0, "must be at least", " characters", path) ||
        bound(c, s, "maxLength", len, 1, 0, "must be at most", " characters", path))
      goto out;
    if ((k = cJSON_GetObjectItemCaseSensitive(s, "pattern")) && cJSON_IsString(k)) {
      regex_t re;
      if (regcomp(&re, k->valuestring, REG_EXTENDED | REG_NOSUB)) {
        fail(c, path, "the schema's pattern %s is not a valid regular expression", k->valuestring);
        goto out;
      }
      int m = regexec(&re, v->valuestring, 0, NULL, 0);
      regfree(&re);
      if (m) {
        fail(c, path, "must match the pattern %s", k->valuestring);
        goto out;
      }
    }
  }
  if (cJSON_IsArray(v)) {
    int n = cJSON_GetArraySize(v);
    if ((k = cJSON_GetObjectItemCaseSensitive(s, "minItems")) && cJSON_IsNumber(k) && n < k->valuedouble) {
      fail(c, path, "has too few items");
      goto out;
    }
    if ((k = cJSON_GetObjectItemCaseSensitive(s, "maxItems")) && cJSON_IsNumber(k) && n > k->valuedouble) {
      fail(c, path, "has too many items");
      goto out;
    }
    if ((k = cJSON_GetObjectItemCaseSensitive(s, "items"))) {
      const cJSON *it;
      int i = 0;
      cJSON_ArrayForEach(it, v)
      {
        char idx[16];
        snprintf(idx, sizeof idx, "%d", i++);
        if (sub(c, k, it, path, idx))
          goto out;
      }
    }
  }
  if (cJSON_IsObject(v)) {
    const cJSON *props = cJSON_GetObjectItemCaseSensitive(s, "properties");
    const cJSON *extra = cJSON_GetObjectItemCaseSensitive(s, "additionalProperties");
    const cJSON *names = cJSON_GetObjectItemCaseSensitive(s, "propertyNames");
    int n = cJSON_GetArraySize(v);
    if ((k = cJSON_GetObjectItemCaseSensitive(s, "maxProperties")) && cJSON_IsNumber(k) && n > k->valuedouble) {
      fail(c, path, "has too many entries");
      goto out;
    }
    if ((k = cJSON_GetObjectItemCaseSensitive(s, "minProperties")) && cJSON_IsNumber(k) && n < k->valuedouble) {
      fail(c, path, "has too few entries");
      goto out;
    }
    if ((k = cJSON_GetObjectItemCaseSensitive(s, "required"))) {
      const cJSON *r;
      cJSON_ArrayForEach(r, k)
      {
        if (cJSON_IsString(r) && !cJSON_GetObjectItemCaseSensitive(v, r->valuestring)) {
          char p[512];
          snprintf(p, sizeof p, "%s/%s", path, r->valuestring);
          fail(c, p, "is required");
          goto out;
        }
      }
    }
    const cJSON *it;
    cJSON_ArrayForEach(it, v)
    {
      if (names) {
        cJSON *name = cJSON_CreateString(it->string);
        int bad = sub(c, names, name, path, it->string);
        cJSON_Delete(name);
        if (bad)
          goto out;
      }
      const cJSON *ps = cJSON_GetObjectItemCaseSensitive(props, it->string);
      if (ps) {
        if (sub(c, ps, it, path, it->string))
          goto out;
      } else if (extra && sub(c, extra, it, path, it->string)) {
        goto out;
      }
    }
  }
  if ((k = cJSON_GetObjectItemCaseSensitive(s, "allOf"))) {
    const cJSON *x;
    cJSON_ArrayForEach(x, k) if (validate(c, x, v, path)) goto out;
  }
  if ((k = cJSON_GetObjectItemCaseSensitive(s, "anyOf"))) {
    const cJSON *x;
    int ok = 0;
    cJSON_ArrayForEach(x, k)
    {
      struct ctx quiet = {c->root_schema, NULL, 0, c->depth};
      if (!validate(&quiet, x, v, path)) {
        ok = 1;
        break;
      }
    }
    if (!ok) {
      /* report why the first alternative failed: usually the intended one */
      validate(c, cJSON_GetArrayItem(k, 0), v, path);
      goto out;
    }
  }
  if ((k = cJSON_GetObjectItemCaseSensitive(s, "oneOf"))) {
    const cJSON *x;
    int matches = 0;
    cJSON_ArrayForEach(x, k)
    {
      struct ctx quiet = {c->root_schema, NULL, 0, c->depth};
      matches += !validate(&quiet, x, v, path);
    }
    if (matches != 1) {
      fail(c, path, matches ? "matches more than one allowed form" : "matches none of the allowed forms");
      goto out;
    }
  }
  if ((k = cJSON_GetObjectItemCaseSensitive(s, "not"))) {
    struct ctx quiet = {c->root_schema, NULL, 0, c->depth};
    if (!validate(&quiet, k, v, path)) {
      fail(c, path, "is of a form that is not allowed");
      goto out;
    }
  }
  rc = 0;
out:
  c->depth--;
  return rc;
}

int cb_schema_validate(const cJSON *schema, const cJSON *instance, const char *root, char *err, size_t cap)
{
  struct ctx c = {schema, err, cap, 0};
  if (err && cap)
    err[0] = '\0';
  return validate(&c, schema, instance, root ? root : "");
}
