/* Records inside multi-record files: GET /files/{id}/records, GET /records/{id}. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/http.h"

static int add_prop(const struct cb_property *p, void *ctx)
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
  cJSON_AddItemToArray(ctx, o);
  return 0;
}

static cJSON *json_record(const struct cb_record *rec)
{
  cJSON *o = cJSON_CreateObject();
  cJSON_AddStringToObject(o, "id", rec->id);
  cJSON_AddStringToObject(o, "file_id", rec->file_id);
  cJSON_AddNumberToObject(o, "index", (double)rec->index);
  cJSON_AddNumberToObject(o, "version", (double)rec->version);
  if (rec->title[0])
    cJSON_AddStringToObject(o, "title", rec->title);
  if (rec->smiles)
    cJSON_AddStringToObject(o, "smiles", rec->smiles);
  if (rec->inchikey[0])
    cJSON_AddStringToObject(o, "inchikey", rec->inchikey);
  if (rec->error[0])
    cJSON_AddStringToObject(o, "error", rec->error);
  db_record_properties(rec->id, add_prop, cJSON_AddArrayToObject(o, "properties"));
  return o;
}

struct list_ctx {
  cJSON *arr;
  int n;
  int64_t last;
};

static int add_record(const struct cb_record *rec, void *ctx)
{
  struct list_ctx *lc = ctx;
  cJSON_AddItemToArray(lc->arr, json_record(rec));
  lc->n++;
  lc->last = rec->index;
  return 0;
}

int h_file_records(struct req *r)
{
  struct cb_file f;
  if (http_load_file(r, r->params[0], CB_READ, &f))
    return r->status;
  int limit;
  char cursor[64];
  int64_t version = f.version;
  char id[CB_ID_LEN + 1];
  memcpy(id, f.id, sizeof id);
  db_file_clear(&f);
  if (http_page(r, &limit, cursor, sizeof cursor))
    return r->status;
  long long after = -1;
  if (cursor[0]) {
    char *end;
    after = strtoll(cursor, &end, 10);
    if (*end || after < 0)
      return http_problem(r, 400, "cursor", "cursor is not one this endpoint issued");
  }
  cJSON *o = cJSON_CreateObject();
  struct list_ctx lc = {cJSON_AddArrayToObject(o, "records"), 0, -1};
  cb_err e = db_records(id, version, after, limit, add_record, &lc);
  if (e) {
    cJSON_Delete(o);
    return http_error(r, e, "cannot list records");
  }
  if (lc.n == limit) {
    char next[32];
    snprintf(next, sizeof next, "%lld", (long long)lc.last);
    cJSON_AddStringToObject(o, "next_cursor", next);
  } else {
    cJSON_AddNullToObject(o, "next_cursor");
  }
  return http_json(r, 200, o);
}

int h_record_get(struct req *r)
{
  struct cb_record rec = {0};
  cb_err e = cb_id_valid(r->params[0]) ? db_record_get(r->params[0], &rec) : CB_ENOTFOUND;
  if (!e)
    e = auth_check(&r->who, "file", rec.file_id, CB_READ);
  if (e) {
    db_record_clear(&rec);
    return http_access_error(r, e, "record", r->params[0]);
  }
  int st = http_json(r, 200, json_record(&rec));
  db_record_clear(&rec);
  return st;
}
