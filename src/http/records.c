/* Records inside multi-record files: GET /files/{id}/records, GET /records/{id}. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "convert/converter.h"
#include "jobs/types.h"
#include "http/http.h"
#include "util/hash.h"

#define F(f, kind) JS_FIELD(struct cb_record, f, kind)
static const struct json_shape record_shape[] = {
  F(id, JS_TEXT),
  F(file_id, JS_TEXT),
  JS_NUMBER(struct cb_record, index),
  JS_NUMBER(struct cb_record, version),
  F(title, JS_IF_SET),
  F(smiles, JS_PTR_IF_SET),
  F(inchikey, JS_IF_SET),
  F(error, JS_IF_SET),
};
#undef F

static cJSON *json_record(const struct cb_record *rec)
{
  cJSON *o = JSON_SHAPE(cJSON_CreateObject(), rec, record_shape);
  db_record_properties(rec->id, json_add_property, cJSON_AddArrayToObject(o, "properties"));
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

#define RECORDS_ARG 256 /* sort and q: at most 255 bytes */

/* ?sort=KEY&order=asc|desc&q=TEXT: 1 when any is given (rq filled, pointing into t_sort
 * and t_q; the page then goes by offset), 0 for the file's order, -1 once a problem is
 * answered. */
static int records_order(struct req *r, struct db_records_query *rq, char t_sort[RECORDS_ARG], char t_q[RECORDS_ARG])
{
  char order[8] = "";
  int s = http_query(r, "sort", t_sort, RECORDS_ARG);
  int o = http_query(r, "order", order, sizeof order);
  int q = http_query(r, "q", t_q, RECORDS_ARG);
  if (s < 0 || (s > 0 && (!t_sort[0] || !cb_utf8_valid(t_sort, strlen(t_sort)))))
    return http_problem(r, 400, "sort", "sort is index, title, smiles or a property's name (at most %d bytes of UTF-8)",
                        RECORDS_ARG - 1),
           -1;
  if (o < 0 || (o > 0 && strcmp(order, "asc") && strcmp(order, "desc")))
    return http_problem(r, 400, "order", "order is asc (the default) or desc"), -1;
  if (q < 0 || (q > 0 && !cb_utf8_valid(t_q, strlen(t_q))))
    return http_problem(r, 400, "q", "q is the text to filter records by: at most %d bytes of UTF-8", RECORDS_ARG - 1),
           -1;
  if (s <= 0 && o <= 0 && q <= 0)
    return 0;
  rq->sort = s > 0 ? t_sort : "index";
  rq->desc = o > 0 && !strcmp(order, "desc");
  rq->q = q > 0 && t_q[0] ? t_q : NULL;
  return 1;
}

/* A sorted or filtered page: its cursor is "o" and the offset of the next record. */
static int records_sorted(struct req *r, struct db_records_query *rq, const char *cursor)
{
  if (cursor[0]) {
    char *end;
    long long off = cursor[0] == 'o' ? strtoll(cursor + 1, &end, 10) : -1;
    if (off < 0 || cursor[1] < '0' || cursor[1] > '9' || *end)
      return http_problem(r, 400, "cursor", "cursor is not one this endpoint issued for this sort and filter");
    rq->offset = off;
  }
  cJSON *o = cJSON_CreateObject();
  struct list_ctx lc = {cJSON_AddArrayToObject(o, "records"), 0, -1};
  int64_t total = 0;
  cb_err e = db_records_sorted(rq, &total, add_record, &lc);
  if (e) {
    cJSON_Delete(o);
    return http_error(r, e, "cannot list records");
  }
  if (lc.n == rq->limit && rq->offset + lc.n < total) {
    char next[32];
    snprintf(next, sizeof next, "o%lld", (long long)(rq->offset + lc.n));
    cJSON_AddStringToObject(o, "next_cursor", next);
  } else {
    cJSON_AddNullToObject(o, "next_cursor");
  }
  cJSON_AddNumberToObject(o, "total", (double)total);
  return http_json(r, 200, o);
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
  struct db_records_query rq = {.file_id = id, .version = version, .limit = limit};
  char sort[RECORDS_ARG], q[RECORDS_ARG];
  int sorted = records_order(r, &rq, sort, q);
  if (sorted < 0)
    return r->status;
  if (sorted)
    return records_sorted(r, &rq, cursor);
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
  cJSON_AddNumberToObject(o, "total", (double)db_record_count(id, version));
  return http_json(r, 200, o);
}

/* /records/{id}...: answers with respond(r, record) when the caller may read the record's
 * file, else as http_access_error does. */
static int with_record(struct req *r, int (*respond)(struct req *r, const struct cb_record *rec))
{
  struct cb_record rec = {0};
  cb_err e = cb_id_valid(r->params[0]) ? db_record_get(r->params[0], &rec) : CB_ENOTFOUND;
  if (!e)
    e = auth_check(&r->who, "file", rec.file_id, CB_READ);
  int st = e ? http_access_error(r, e, "record", r->params[0]) : respond(r, &rec);
  db_record_clear(&rec);
  return st;
}

static int send_record(struct req *r, const struct cb_record *rec)
{
  return http_json(r, 200, json_record(rec));
}

int h_record_get(struct req *r)
{
  return with_record(r, send_record);
}

/* ---- depictions: rendered by a worker process on first request, then kept ---- */

/* A derived blob (a depiction, a thumbnail): cached by its hash; never run as a page. The
 * bytes come from the store, or from body when it is not NULL. */
static int send_blob(struct req *r, const char *media_type, const char *sha, int64_t size, const char *body)
{
  char etag[70];
  snprintf(etag, sizeof etag, "\"%s\"", sha);
  const char *inm = http_header(r, "If-None-Match");
  if (inm && strstr(inm, sha)) {
    const char *hdr[] = {"ETag", etag, NULL};
    http_send(r, 304, NULL, NULL, 0, hdr);
    return 304;
  }
  const char *hdr[] = {"ETag",
                       etag,
                       "Cache-Control",
                       "private, max-age=86400",
                       "Content-Security-Policy",
                       "default-src 'none'; style-src 'unsafe-inline'",
                       NULL};
  if (http_begin(r, 200, media_type, size, hdr) || r->is_head)
    return 200;
  struct cb_errbuf eb = {{0}};
  if (body ? http_write(r, body, (size_t)size) < 0
           : store_get_range(app.store, sha, 0, (uint64_t)size, http_sink, r, &eb) != CB_OK)
    mg_disable_keep_alive(r->conn);
  return 200;
}

/* A molecule with more heavy atoms than CARBOY_DEPICT_MAX_ATOMS is never laid out: its
 * summary card, made here at once (no job) from what the converter recorded at ingest
 * (formula, chains, residues, sequences). 0 when the record is small enough to draw. */
static int send_summary(struct req *r, const struct cb_record *rec)
{
  cJSON *props = cJSON_CreateArray(), *p, *heavy = NULL;
  db_record_properties(rec->id, json_add_property, props);
  cJSON_ArrayForEach(p, props)
  {
    cJSON *name = cJSON_GetObjectItemCaseSensitive(p, "name");
    if (cJSON_IsString(name) && !strcmp(name->valuestring, "heavy_atoms"))
      heavy = cJSON_GetObjectItemCaseSensitive(p, "value");
  }
  int max = chem_depict_max_atoms(), st = 0;
  char *svg = cJSON_IsNumber(heavy) && heavy->valuedouble > max ? chem_summary_svg(rec->title, props, max) : NULL;
  cJSON_Delete(props);
  if (svg) {
    char sha[CB_SHA256_HEX];
    cb_sha256_hex(svg, strlen(svg), sha);
    st = send_blob(r, "image/svg+xml", sha, (int64_t)strlen(svg), svg);
  }
  free(svg);
  return st;
}

static int depiction(struct req *r, const struct cb_record *rec)
{
  char sha[65], why[512];
  int64_t size;
  int st;
  if (!db_depiction_get(rec->id, sha, &size))
    return send_blob(r, "image/svg+xml", sha, size, NULL);
  if ((st = send_summary(r, rec)))
    return st;
  if (!db_depiction_failure(rec->id, why, sizeof why)) /* failed before: never queued again */
    return http_problem(r, 422, NULL, "the molecule could not be drawn: %s", why);
  if (!rec->smiles || !*rec->smiles)
    return http_problem(r, 404, NULL, "record %s has no structure to draw%s%s", rec->id, rec->error[0] ? ": " : "",
                        rec->error);
  /* Not drawn yet: a depict job does it in a converter process; wait for it (with the
   * requests already waiting for the same record's, when one is queued or running). */
  char params[64], job[CB_ID_LEN + 1];
  struct cb_errbuf eb = {""};
  snprintf(params, sizeof params, "{\"record_id\":\"%s\"}", rec->id);
  int rc = http_run_job(r, "depict", params, NULL, 60, 0, job, &eb);
  if (rc == 1 && !db_depiction_get(rec->id, sha, &size))
    return send_blob(r, "image/svg+xml", sha, size, NULL);
  if (rc == 0)
    return http_problem(r, 422, NULL, "the molecule could not be drawn: %s", eb.msg);
  if (rc == -2)
    return http_problem(r, 500, NULL, "%s", eb.msg);
  const char *hdr[] = {"Retry-After", "2", NULL};
  return http_problem_extra(r, 503, NULL, hdr, "the depiction is still being drawn; try again shortly");
}

int h_record_depiction(struct req *r)
{
  return with_record(r, depiction);
}

/* ---- ?page=N: a TIFF's or PDF's page N, drawn by a worker process on first request ---- */

#define PREVIEW_PAGES_DEFAULT 50

/* CARBOY_PREVIEW_PAGES (checked when the server starts), or its default. */
static int preview_pages_max(void)
{
  const char *v = getenv("CARBOY_PREVIEW_PAGES");
  long n = v ? strtol(v, NULL, 10) : 0;
  return n > 0 && n <= 100000 ? (int)n : PREVIEW_PAGES_DEFAULT;
}

/* The page count the ingest recorded: a TIFF's "pages", a PDF's "page_count". */
static int find_pages(const struct cb_property *p, void *ctx)
{
  if (p->is_num && p->source && !strcmp(p->source, "extracted") &&
      (!strcmp(p->name, "pages") || !strcmp(p->name, "page_count")) && p->value_num >= 0)
    *(double *)ctx = p->value_num;
  return 0;
}

/* ?page=N: N (1 without it), or -1 once a problem is answered. */
static int preview_page_arg(struct req *r)
{
  char v[16] = "";
  int q = http_query(r, "page", v, sizeof v), ok = q > 0 && v[0] && strlen(v) <= 9;
  if (!q)
    return 1;
  for (const char *c = v; ok && *c; c++)
    ok = *c >= '0' && *c <= '9';
  int n = ok ? atoi(v) : 0;
  if (n < 1)
    return http_problem(r, 400, "page", "page is a whole number from 1 (the first page, as without it)"), -1;
  return n;
}

/* Page n > 1 of f's preview: kept once drawn, else drawn by a preview job the request
 * waits for (joined by concurrent requests for the same page). */
static int preview_page(struct req *r, const struct cb_file *f, int n)
{
  double pages = 0;
  int max = preview_pages_max();
  if (strcmp(f->status, "processed"))
    return http_problem(r, 404, "page", "file %s has no page previews yet: it is still being processed or failed",
                        f->id);
  if ((strcmp(f->kind, "image") && strcmp(f->kind, "pdf")) || db_properties_list(f->id, find_pages, &pages) ||
      pages < 2)
    return http_problem(r, 404, "page", "file %s has one page: page %d does not exist", f->id, n);
  if (n > pages)
    return http_problem(r, 404, "page", "file %s has %.0f pages: page %d does not exist", f->id, pages, n);
  if (n > max)
    return http_problem(r, 404, "page",
                        "only the first %d pages have previews (CARBOY_PREVIEW_PAGES); file %s has %.0f", max, f->id,
                        pages);
  char kind[JOB_ARTIFACT_KIND], why[512];
  struct cb_artifact_row a;
  job_preview_artifact(n, kind);
  if (!db_artifact_get(f->id, f->version, kind, &a))
    return send_blob(r, a.media_type, a.sha256, a.size, NULL);
  if (!db_conversion_failure(f->id, f->version, kind, why, sizeof why)) /* failed before: never queued again */
    return http_problem(r, 422, "page", "page %d could not be drawn: %s", n, why);
  char params[32], job[CB_ID_LEN + 1];
  struct cb_errbuf eb = {""};
  snprintf(params, sizeof params, "{\"page\":%d}", n);
  int rc = http_run_job(r, "preview", params, f->id, 120, 0, job, &eb);
  if (rc == 1 && !db_artifact_get(f->id, f->version, kind, &a))
    return send_blob(r, a.media_type, a.sha256, a.size, NULL);
  if (rc == 0)
    return http_problem(r, 422, "page", "page %d could not be drawn: %s", n, eb.msg);
  if (rc == -2)
    return http_problem(r, 500, NULL, "%s", eb.msg);
  const char *hdr[] = {"Retry-After", "2", NULL};
  return http_problem_extra(r, 503, NULL, hdr, "page %d is still being drawn (job %s); try again shortly", n, job);
}

int h_file_preview(struct req *r)
{
  struct cb_file f;
  if (http_load_file(r, r->params[0], CB_READ, &f))
    return r->status;
  struct cb_record rec = {0};
  struct cb_artifact_row a;
  int st, page = preview_page_arg(r);
  if (page != 1)
    st = page < 0 ? r->status : preview_page(r, &f, page);
  else if (!db_artifact_get(f.id, f.version, "preview", &a)) /* a thumbnail the converter made */
    st = send_blob(r, a.media_type, a.sha256, a.size, NULL);
  else if (strcmp(f.kind, "structure") && strcmp(f.kind, "reaction") && strcmp(f.kind, "crystal"))
    st = http_problem(r, 404, NULL, "file %s has no preview%s", f.id,
                      strcmp(f.status, "processed") ? " yet: it is still being processed or failed" : "");
  else if (db_record_first(f.id, f.version, &rec))
    st = http_problem(r, 404, NULL, "file %s has no structure to draw%s", f.id,
                      strcmp(f.status, "processed") ? " yet: it is still being processed or failed" : "");
  else
    st = depiction(r, &rec);
  db_record_clear(&rec);
  db_file_clear(&f);
  return st;
}

/* ---- GET /files/{id}/convert?to=FMT: the converted bytes, made once, then kept ---- */

static const struct {
  const char *kind;
  const char *targets; /* comma-separated */
} conversions[] = {
  {"structure", "smi,can,inchi,inchikey,mol,sdf,mol2,pdb,cml,xyz,csv"},
  {"reaction", "rxn,rsmi,csv"},
  {"table", "csv,tsv,json"},
  {"image", "png"},
  {"crystal", "cif,smi,can,inchi,inchikey,mol,sdf,mol2,pdb,cml,xyz,csv"},
  {"text", "txt"},
  {"pdf", "txt"},
  {"office", "txt"},
};

static int target_ok(const char *targets, const char *to)
{
  size_t n = strlen(to);
  for (const char *p = targets; p && *p;) {
    const char *c = strchr(p, ',');
    size_t len = c ? (size_t)(c - p) : strlen(p);
    if (len == n && !strncmp(p, to, n))
      return 1;
    p = c ? c + 1 : NULL;
  }
  return 0;
}

static int send_conversion(struct req *r, const struct cb_file *f, const char *to, const struct cb_artifact_row *a)
{
  char name[CB_NAME_MAX + 16], disp[1024], etag[70];
  const char *dot = strrchr(f->name, '.');
  int base = dot && dot != f->name ? (int)(dot - f->name) : (int)strlen(f->name);
  snprintf(name, sizeof name, "%.*s.%s", base, f->name, to);
  struct cb_buf b = {0};
  cb_buf_printf(&b, "attachment; filename*=UTF-8''");
  cb_buf_url_encode(&b, name);
  snprintf(disp, sizeof disp, "%s", b.data ? b.data : "attachment");
  cb_buf_free(&b);
  snprintf(etag, sizeof etag, "\"%s\"", a->sha256);
  const char *hdr[] = {"ETag", etag, "Content-Disposition", disp, "Cache-Control", "private, no-cache", NULL};
  if (http_begin(r, 200, a->media_type, a->size, hdr) || r->is_head || !a->size)
    return 200;
  struct cb_errbuf eb = {{0}};
  if (store_get_range(app.store, a->sha256, 0, (uint64_t)a->size, http_sink, r, &eb))
    mg_disable_keep_alive(r->conn);
  return 200;
}

/* ?cell=asymmetric|filled: 1 for a crystal's filled unit cell (to pdb, xyz or cif), 0 for
 * the asymmetric unit (the default); -1 once a problem is answered. */
static int convert_cell(struct req *r, const struct cb_file *f, const char *to)
{
  char cell[16] = "";
  int rc = http_query(r, "cell", cell, sizeof cell);
  if (rc == 0 || (rc == 1 && !strcmp(cell, "asymmetric")))
    return 0;
  if (rc < 0 || strcmp(cell, "filled") || strcmp(f->kind, "crystal") || !target_ok("pdb,xyz,cif", to))
    return http_problem(r, 400, "cell",
                        "cell is asymmetric (the default) or filled; a crystal's filled unit cell converts to "
                        "pdb, xyz or cif"),
           -1;
  return 1;
}

struct sheet_find {
  const char *want;
  int found, count;
  struct cb_buf names; /* the sheets, quoted, for the problem */
};

static int find_sheet(const struct cb_property *p, void *ctx)
{
  struct sheet_find *sf = ctx;
  if (strcmp(p->name, "sheet_names") || !p->source || strcmp(p->source, "extracted") || !p->value_text)
    return 0;
  int i = 0;
  for (const char *s = p->value_text; s; i++) {
    const char *nl = strchr(s, '\n');
    int n = nl ? (int)(nl - s) : (int)strlen(s);
    if (!sf->found && (int)strlen(sf->want) == n && !memcmp(s, sf->want, (size_t)n))
      sf->found = i + 1;
    if (sf->names.len < 300)
      cb_buf_printf(&sf->names, "%s'%.*s'", i ? ", " : "", n, s);
    s = nl ? nl + 1 : NULL;
  }
  sf->count = i;
  return 0;
}

/* ?sheet=NAME of a workbook: the sheet's number (from 1) among the sheet_names its
 * extraction recorded; 1 (the first sheet) without one; -1 once a problem is answered. */
static int convert_sheet(struct req *r, const struct cb_file *f)
{
  char name[1100];
  int q = http_query(r, "sheet", name, sizeof name);
  if (!q)
    return 1;
  if (q < 0)
    return http_problem(r, 400, "sheet", "sheet is not a valid sheet name"), -1;
  struct sheet_find sf = {.want = name};
  if (db_properties_list(f->id, find_sheet, &sf)) {
    cb_buf_free(&sf.names);
    return http_error(r, CB_EDB, "cannot read the file's sheets"), -1;
  }
  if (!sf.count)
    http_problem(r, 400, "sheet", "file %s has no sheets%s: only workbooks (xlsx, ods) have them", f->id,
                 strcmp(f->status, "processed") ? " yet" : "");
  else if (!sf.found)
    http_problem(r, 404, "sheet", "file %s has no sheet '%.200s'; its sheets: %s%s", f->id, name, sf.names.data,
                 sf.names.len >= 300 ? ", ..." : "");
  cb_buf_free(&sf.names);
  return sf.found ? sf.found : -1;
}

int h_file_convert(struct req *r)
{
  struct cb_file f;
  if (http_load_file(r, r->params[0], CB_READ, &f))
    return r->status;
  char to[24] = "", kind[JOB_ARTIFACT_KIND];
  int st = 0;
  const char *targets = NULL;
  for (size_t i = 0; i < sizeof conversions / sizeof conversions[0]; i++)
    if (!strcmp(f.kind, conversions[i].kind))
      targets = conversions[i].targets;
  if (http_query(r, "to", to, sizeof to) <= 0 || !targets || !target_ok(targets, to)) {
    st = http_problem(r, 400, "to", "%s files convert to: %s", f.kind, targets ? targets : "nothing yet");
    goto out;
  }
  int sheet = convert_sheet(r, &f); /* a workbook's sheets other than the first convert apart */
  int filled = sheet < 0 ? -1 : convert_cell(r, &f, to);
  if (filled < 0) {
    st = r->status;
    goto out;
  }
  job_convert_artifact(to, sheet, filled, kind);
  struct cb_artifact_row a;
  if (!db_artifact_get(f.id, f.version, kind, &a)) {
    st = send_conversion(r, &f, to, &a);
    goto out;
  }
  char why[512];
  if (!db_conversion_failure(f.id, f.version, kind, why, sizeof why)) { /* failed before: never queued again */
    st = http_problem(r, 422, NULL, "the conversion failed: %s", why);
    goto out;
  }
  /* Not made yet: a convert job makes it in a converter process; wait for it. */
  char params[128], job[CB_ID_LEN + 1];
  struct cb_errbuf eb = {""};
  char sheet_param[24] = "";
  if (sheet > 1)
    snprintf(sheet_param, sizeof sheet_param, ",\"sheet\":%d", sheet);
  snprintf(params, sizeof params, "{\"to\":\"%s\",\"inline\":true%s%s}", to, sheet_param,
           filled ? ",\"cell\":\"filled\"" : "");
  int rc = http_run_job(r, "convert", params, f.id, 300, 0, job, &eb);
  if (rc == 1 && !db_artifact_get(f.id, f.version, kind, &a)) {
    st = send_conversion(r, &f, to, &a);
  } else if (rc == 0) {
    st = http_problem(r, 422, NULL, "the conversion failed: %s", eb.msg);
  } else if (rc == -2) {
    st = http_problem(r, 500, NULL, "%s", eb.msg);
  } else {
    const char *hdr[] = {"Retry-After", "5", NULL};
    st = http_problem_extra(r, 503, NULL, hdr, "the conversion is still running (job %s); try again shortly", job);
  }
out:
  db_file_clear(&f);
  return st;
}
