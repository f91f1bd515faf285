#include "util/jsonschema.h"

#include <math.h>
#include <regex.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "util/util.h"

struct ctx {
  const cJSON *root_schema;
  struct cb_errbuf *eb;
  int depth;
};

static int fail(struct ctx *c, const char *path, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(struct ctx *c, const char *path, const char *fmt, ...)
{
  if (c->eb) {
    char msg[300];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    cb_errf(c->eb, "%s: %s", path, msg);
  }
  return -1;
}

static const char *type_of(const cJSON *v)
{
  if (cJSON_IsObject(v))
    return "object";
  if (cJSON_IsArray(v))
    return "array";
  if (cJSON_IsString(v))
    return "string";
  if (cJSON_IsBool(v))
    return "boolean";
  if (cJSON_IsNull(v))
    return "null";
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
static int bound(struct ctx *c, const cJSON *s, const char *key, double x, int side, int exclusive, const char *what,
                 const char *unit, const char *path)
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

/* ---- the keyword groups: each returns 0, or fails with the first problem ---- */

static int check_ref(struct ctx *c, const cJSON *s, const cJSON *v, const char *path)
{
  const cJSON *k = cJSON_GetObjectItemCaseSensitive(s, "$ref");
  if (!k)
    return 0;
  const cJSON *target = cJSON_IsString(k) ? resolve(c, k->valuestring) : NULL;
  if (!target)
    return fail(c, path, "the schema refers to an unknown definition %s", cJSON_IsString(k) ? k->valuestring : "");
  return validate(c, target, v, path);
}

static int check_type(struct ctx *c, const cJSON *s, const cJSON *v, const char *path)
{
  const cJSON *k = cJSON_GetObjectItemCaseSensitive(s, "type"), *t;
  if (!k)
    return 0;
  int ok = 0;
  if (cJSON_IsString(k))
    ok = is_type(v, k->valuestring);
  if (cJSON_IsArray(k))
    cJSON_ArrayForEach(t, k) ok |= cJSON_IsString(t) && is_type(v, t->valuestring);
  if (ok)
    return 0;
  char want[120] = "";
  if (cJSON_IsString(k))
    snprintf(want, sizeof want, "%s", k->valuestring);
  else
    cJSON_ArrayForEach(t, k) if (cJSON_IsString(t))
      snprintf(want + strlen(want), sizeof want - strlen(want), "%s%s", want[0] ? " or " : "", t->valuestring);
  return fail(c, path, "must be of type %s", want);
}

/* const and enum */
static int check_values(struct ctx *c, const cJSON *s, const cJSON *v, const char *path)
{
  const cJSON *k;
  const char *how = NULL;
  if ((k = cJSON_GetObjectItemCaseSensitive(s, "const")) && !json_equal(k, v)) {
    how = "must be ";
  } else if ((k = cJSON_GetObjectItemCaseSensitive(s, "enum"))) {
    const cJSON *e;
    int ok = 0;
    cJSON_ArrayForEach(e, k) ok |= json_equal(e, v);
    how = ok ? NULL : "must be one of ";
  }
  if (!how)
    return 0;
  char *want = cJSON_PrintUnformatted(k);
  fail(c, path, "%s%s", how, want);
  cJSON_free(want);
  return -1;
}

static int check_number(struct ctx *c, const cJSON *s, const cJSON *v, const char *path)
{
  if (!cJSON_IsNumber(v))
    return 0;
  double x = v->valuedouble;
  return bound(c, s, "minimum", x, -1, 0, "must be at least", "", path) ||
             bound(c, s, "maximum", x, 1, 0, "must be at most", "", path) ||
             bound(c, s, "exclusiveMinimum", x, -1, 1, "must be greater than", "", path) ||
             bound(c, s, "exclusiveMaximum", x, 1, 1, "must be less than", "", path)
           ? -1
           : 0;
}

static int check_string(struct ctx *c, const cJSON *s, const cJSON *v, const char *path)
{
  if (!cJSON_IsString(v))
    return 0;
  int len = utf8_len(v->valuestring);
  if (bound(c, s, "minLength", len, -1, 0, "must be at least", " characters", path) ||
      bound(c, s, "maxLength", len, 1, 0, "must be at most", " characters", path))
    return -1;
  const cJSON *k = cJSON_GetObjectItemCaseSensitive(s, "pattern");
  if (!cJSON_IsString(k))
    return 0;
  regex_t re;
  if (regcomp(&re, k->valuestring, REG_EXTENDED | REG_NOSUB))
    return fail(c, path, "the schema's pattern %s is not a valid regular expression", k->valuestring);
  int m = regexec(&re, v->valuestring, 0, NULL, 0);
  regfree(&re);
  return m ? fail(c, path, "must match the pattern %s", k->valuestring) : 0;
}

static int check_array(struct ctx *c, const cJSON *s, const cJSON *v, const char *path)
{
  if (!cJSON_IsArray(v))
    return 0;
  int n = cJSON_GetArraySize(v);
  const cJSON *k;
  if ((k = cJSON_GetObjectItemCaseSensitive(s, "minItems")) && cJSON_IsNumber(k) && n < k->valuedouble)
    return fail(c, path, "has too few items");
  if ((k = cJSON_GetObjectItemCaseSensitive(s, "maxItems")) && cJSON_IsNumber(k) && n > k->valuedouble)
    return fail(c, path, "has too many items");
  if ((k = cJSON_GetObjectItemCaseSensitive(s, "items"))) {
    const cJSON *it;
    int i = 0;
    cJSON_ArrayForEach(it, v)
    {
      char idx[16];
      snprintf(idx, sizeof idx, "%d", i++);
      if (sub(c, k, it, path, idx))
        return -1;
    }
  }
  return 0;
}

static int check_object(struct ctx *c, const cJSON *s, const cJSON *v, const char *path)
{
  if (!cJSON_IsObject(v))
    return 0;
  const cJSON *props = cJSON_GetObjectItemCaseSensitive(s, "properties");
  const cJSON *extra = cJSON_GetObjectItemCaseSensitive(s, "additionalProperties");
  const cJSON *names = cJSON_GetObjectItemCaseSensitive(s, "propertyNames");
  int n = cJSON_GetArraySize(v);
  const cJSON *k, *it;
  if ((k = cJSON_GetObjectItemCaseSensitive(s, "maxProperties")) && cJSON_IsNumber(k) && n > k->valuedouble)
    return fail(c, path, "has too many entries");
  if ((k = cJSON_GetObjectItemCaseSensitive(s, "minProperties")) && cJSON_IsNumber(k) && n < k->valuedouble)
    return fail(c, path, "has too few entries");
  if ((k = cJSON_GetObjectItemCaseSensitive(s, "required"))) {
    const cJSON *r;
    cJSON_ArrayForEach(r, k)
    {
      if (cJSON_IsString(r) && !cJSON_GetObjectItemCaseSensitive(v, r->valuestring)) {
        char p[512];
        snprintf(p, sizeof p, "%s/%s", path, r->valuestring);
        return fail(c, p, "is required");
      }
    }
  }
  cJSON_ArrayForEach(it, v)
  {
    if (names) {
      cJSON *name = cJSON_CreateString(it->string);
      int bad = sub(c, names, name, path, it->string);
      cJSON_Delete(name);
      if (bad)
        return -1;
    }
    const cJSON *ps = cJSON_GetObjectItemCaseSensitive(props, it->string);
    if (ps ? sub(c, ps, it, path, it->string) : extra && sub(c, extra, it, path, it->string))
      return -1;
  }
  return 0;
}

/* allOf, anyOf, oneOf and not; the alternatives are tried quietly (no message) */
static int check_combinators(struct ctx *c, const cJSON *s, const cJSON *v, const char *path)
{
  const cJSON *k, *x;
  struct ctx quiet = {c->root_schema, NULL, c->depth};
  if ((k = cJSON_GetObjectItemCaseSensitive(s, "allOf")))
    cJSON_ArrayForEach(x, k) if (validate(c, x, v, path)) return -1;
  if ((k = cJSON_GetObjectItemCaseSensitive(s, "anyOf"))) {
    int ok = 0;
    cJSON_ArrayForEach(x, k)
    {
      if (!validate(&quiet, x, v, path)) {
        ok = 1;
        break;
      }
    }
    if (!ok) {
      /* report why the first alternative failed: usually the intended one */
      validate(c, cJSON_GetArrayItem(k, 0), v, path);
      return -1;
    }
  }
  if ((k = cJSON_GetObjectItemCaseSensitive(s, "oneOf"))) {
    int matches = 0;
    cJSON_ArrayForEach(x, k) matches += !validate(&quiet, x, v, path);
    if (matches != 1)
      return fail(c, path, matches ? "matches more than one allowed form" : "matches none of the allowed forms");
  }
  if ((k = cJSON_GetObjectItemCaseSensitive(s, "not")) && !validate(&quiet, k, v, path))
    return fail(c, path, "is of a form that is not allowed");
  return 0;
}

/* The groups in the order they are checked: the first problem found is the one told. */
static int (*const keyword_groups[])(struct ctx *c, const cJSON *s, const cJSON *v, const char *path) = {
  check_ref, check_type, check_values, check_number, check_string, check_array, check_object, check_combinators,
};

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
  int rc = 0;
  for (size_t i = 0; !rc && i < sizeof keyword_groups / sizeof keyword_groups[0]; i++)
    rc = keyword_groups[i](c, s, v, path);
  c->depth--;
  return rc;
}

int cb_schema_validate(const cJSON *schema, const cJSON *instance, const char *root, struct cb_errbuf *eb)
{
  struct ctx c = {schema, eb, 0};
  if (eb)
    eb->msg[0] = '\0';
  return validate(&c, schema, instance, root ? root : "");
}
