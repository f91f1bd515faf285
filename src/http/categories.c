/* /api/v1/categories: a tree of terms administrators maintain (a name, and an ontology IRI
 * when the term has one), and their assignment to files and folders by whoever may change
 * those. The terms are not private: anyone, anonymous included, may read the tree. Which
 * categories an object has is seen with the object (its JSON's "categories"). */
#include <stdio.h>
#include <string.h>

#include "http/http.h"

#define MAX_ASSIGNED 100 /* categories of one object */

static cJSON *category_json(const struct cb_category *c)
{
  cJSON *o = cJSON_CreateObject();
  cJSON_AddStringToObject(o, "id", c->id);
  cJSON_AddStringToObject(o, "name", c->name);
  cJSON_AddItemToObject(o, "parent_id", json_str_or_null(c->parent_id));
  cJSON_AddItemToObject(o, "iri", json_str_or_null(c->iri));
  cJSON_AddStringToObject(o, "path", c->path ? c->path : c->name);
  cJSON_AddStringToObject(o, "created_at", c->created_at);
  return o;
}
HTTP_JSON_VISITOR(add_category, struct cb_category, category_json)

static int add_assigned(const struct cb_category *c, void *array)
{
  cJSON *o = cJSON_CreateObject();
  cJSON_AddStringToObject(o, "id", c->id);
  cJSON_AddStringToObject(o, "name", c->name);
  cJSON_AddStringToObject(o, "path", c->path ? c->path : c->name);
  if (c->iri[0])
    cJSON_AddStringToObject(o, "iri", c->iri);
  cJSON_AddItemToArray(array, o);
  return 0;
}

cJSON *json_categories(const char *object_type, const char *object_id)
{
  cJSON *arr = cJSON_CreateArray();
  db_categories_of(object_type, object_id, add_assigned, arr);
  return arr;
}

int h_categories_list(struct req *r)
{
  cJSON *o = cJSON_CreateObject();
  cb_err e = db_category_list(add_category, cJSON_AddArrayToObject(o, "categories"));
  return http_json_or_error(r, o, e, "cannot list the categories");
}

/* An ontology IRI: http(s), printable ASCII without spaces (an IRI's other characters
 * percent-encoded), at most CB_IRI_MAX bytes. NULL when it is one, else why not. */
static const char *iri_invalid(const char *iri)
{
  if (strncmp(iri, "http://", 7) && strncmp(iri, "https://", 8))
    return "iri must be an http(s) IRI";
  if (strlen(iri) > CB_IRI_MAX)
    return "iri must be at most 512 bytes";
  for (const unsigned char *p = (const unsigned char *)iri; *p; p++)
    if (*p <= 0x20 || *p >= 0x7f || *p == '"' || *p == '<' || *p == '>')
      return "iri must be printable ASCII without spaces, quotes or angle brackets (percent-encode the rest)";
  return NULL;
}

/* The answer to a change the database refused. */
static int category_error(struct req *r, cb_err e, const char *name)
{
  switch (e) {
  case CB_EEXIST:
    return name ? http_problem(r, 409, "name", "a category named '%s' already exists there", name)
                : http_problem(r, 409, "name", "a category of that name already exists there");
  case CB_EINVAL: return http_problem(r, 400, "parent_id", "no such parent category");
  case CB_ECONFLICT: return http_problem(r, 400, "parent_id", "a category cannot move into itself or below itself");
  case CB_ETOOBIG: return http_problem(r, 400, "parent_id", "categories nest at most 16 levels deep");
  default: return http_error(r, e, "cannot change the categories");
  }
}

/* parent_id and iri of a body: absent (NULL, 0), null (""), or a string; -1 once answered. */
static int read_parent_iri(struct req *r, cJSON *body, const char **parent, const char **iri)
{
  *parent = *iri = NULL;
  cJSON *p = cJSON_GetObjectItemCaseSensitive(body, "parent_id");
  cJSON *i = cJSON_GetObjectItemCaseSensitive(body, "iri");
  if (p && !cJSON_IsNull(p) && !cJSON_IsString(p))
    return http_problem(r, 400, "parent_id", "field 'parent_id' must be a category id or null"), -1;
  if (i && !cJSON_IsNull(i) && !cJSON_IsString(i))
    return http_problem(r, 400, "iri", "field 'iri' must be a string or null"), -1;
  if (p)
    *parent = cJSON_IsString(p) ? p->valuestring : "";
  if (i)
    *iri = cJSON_IsString(i) ? i->valuestring : "";
  if (*parent && **parent && !cb_id_valid(*parent))
    return http_problem(r, 400, "parent_id", "no such parent category"), -1;
  const char *why = *iri && **iri ? iri_invalid(*iri) : NULL;
  if (why)
    return http_problem(r, 400, "iri", "%s", why), -1;
  return 0;
}

int h_categories_create(struct req *r)
{
  cJSON *body = http_read_json(r);
  if (!body)
    return r->status;
  const char *name = NULL, *parent = NULL, *iri = NULL;
  struct cb_category c = {0};
  int st = 0;
  if (json_opt_string(r, body, "name", &name) < 0 || read_parent_iri(r, body, &parent, &iri) < 0)
    goto out;
  const char *why = name ? cb_name_invalid(name) : "field 'name' is required";
  if (why) {
    st = http_problem(r, 400, "name", "%s", why);
    goto out;
  }
  cb_id_new(c.id);
  snprintf(c.parent_id, sizeof c.parent_id, "%s", parent ? parent : "");
  snprintf(c.name, sizeof c.name, "%s", name);
  snprintf(c.iri, sizeof c.iri, "%s", iri ? iri : "");
  cb_err e = db_category_create(&c);
  if (!e)
    e = db_category_get(c.id, &c);
  if (e) {
    st = category_error(r, e, name);
    goto out;
  }
  http_audit(r, "category.create", "category", c.id, c.path);
  char loc[128];
  snprintf(loc, sizeof loc, "/api/v1/categories/%s", c.id);
  const char *hdr[] = {"Location", loc, NULL};
  st = http_json_extra(r, 201, category_json(&c), hdr);
out:
  db_category_clear(&c);
  cJSON_Delete(body);
  return st ? st : r->status;
}

int h_category_patch(struct req *r)
{
  if (!cb_id_valid(r->params[0])) {
    http_drop_body(r);
    return http_problem(r, 404, NULL, "no category %s", r->params[0]);
  }
  cJSON *body = http_read_json(r);
  if (!body)
    return r->status;
  const char *name = NULL, *parent = NULL, *iri = NULL;
  struct cb_category c = {0};
  int st = 0;
  if (json_opt_string(r, body, "name", &name) < 0 || read_parent_iri(r, body, &parent, &iri) < 0)
    goto out;
  if (name && cb_name_invalid(name)) {
    st = http_problem(r, 400, "name", "%s", cb_name_invalid(name));
    goto out;
  }
  cb_err e = db_category_update(r->params[0], name, parent, iri);
  if (e == CB_ENOTFOUND) {
    st = http_problem(r, 404, NULL, "no category %s", r->params[0]);
    goto out;
  }
  if (!e)
    e = db_category_get(r->params[0], &c);
  if (e) {
    st = category_error(r, e, name);
    goto out;
  }
  http_audit(r, "category.update", "category", c.id, c.path);
  st = http_json(r, 200, category_json(&c));
out:
  db_category_clear(&c);
  cJSON_Delete(body);
  return st ? st : r->status;
}

int h_category_delete(struct req *r)
{
  if (!cb_id_valid(r->params[0]))
    return http_problem(r, 404, NULL, "no category %s", r->params[0]);
  cb_err e = db_category_delete(r->params[0]);
  if (e == CB_ECONFLICT)
    return http_problem(r, 409, NULL, "the category has categories below it: delete or move them first");
  return http_deleted(r, e, "category", "category.delete", "cannot delete the category");
}

/* {"category_ids": [...]}: the ids, each once, into ids; their count, or -1 once answered. */
static int read_category_ids(struct req *r, cJSON *body, const char *ids[MAX_ASSIGNED])
{
  cJSON *arr = cJSON_GetObjectItemCaseSensitive(body, "category_ids"), *it;
  if (!cJSON_IsArray(arr))
    return http_problem(r, 400, "category_ids", "field 'category_ids' must be an array of category ids"), -1;
  int n = 0;
  cJSON_ArrayForEach(it, arr)
  {
    if (!cJSON_IsString(it) || !cb_id_valid(it->valuestring))
      return http_problem(r, 400, "category_ids", "no category %.64s",
                          cJSON_IsString(it) ? it->valuestring : "(not a string)"),
             -1;
    int seen = 0;
    for (int i = 0; i < n && !seen; i++)
      seen = !strcmp(ids[i], it->valuestring);
    if (seen)
      continue;
    if (n == MAX_ASSIGNED)
      return http_problem(r, 400, "category_ids", "at most %d categories per file or folder", MAX_ASSIGNED), -1;
    ids[n++] = it->valuestring;
  }
  return n;
}

/* Replaces an object's categories; answers 400 naming the first unknown id. */
static int assign(struct req *r, const char *type, const char *id, cJSON *body)
{
  const char *ids[MAX_ASSIGNED];
  int n = read_category_ids(r, body, ids);
  if (n < 0)
    return r->status;
  cb_err e = db_categories_assign(type, id, ids, n);
  if (e == CB_EINVAL) {
    /* which one: the first that does not exist */
    struct cb_category c;
    for (int i = 0; i < n; i++) {
      cb_err ge = db_category_get(ids[i], &c);
      db_category_clear(&c);
      if (ge == CB_ENOTFOUND)
        return http_problem(r, 400, "category_ids", "no category %s", ids[i]);
    }
    return http_problem(r, 400, "category_ids", "one of the categories was deleted meanwhile");
  }
  if (e)
    return http_error(r, e, "cannot assign the categories");
  char detail[64];
  snprintf(detail, sizeof detail, "%d categories", n);
  http_audit(r, strcmp(type, "file") ? "folder.categories" : "file.categories", type, id, detail);
  return 0;
}

/* assign() with the request's JSON body: 0 once assigned, else the status answered. */
static int assign_body(struct req *r, const char *type, const char *id)
{
  cJSON *body = http_read_json(r);
  int st = body ? assign(r, type, id, body) : r->status;
  cJSON_Delete(body); /* after assign(): the ids it read point into it */
  return st;
}

int h_file_categories_put(struct req *r)
{
  struct cb_file f;
  if (http_load_file(r, r->params[0], CB_WRITE, &f)) {
    http_drop_body(r);
    return r->status;
  }
  /* the file as loaded: an assignment changes no column of it, and its JSON reads the
   * categories afresh */
  int st = assign_body(r, "file", f.id);
  if (!st)
    st = http_json(r, 200, http_file_json(r, &f, 1));
  db_file_clear(&f);
  return st;
}

int h_folder_categories_put(struct req *r)
{
  struct cb_folder f;
  if (http_load_folder(r, r->params[0], CB_WRITE, &f)) {
    http_drop_body(r);
    return r->status;
  }
  int st = assign_body(r, "folder", f.id);
  return st ? st : http_json(r, 200, http_folder_json(r, &f));
}
