/* Uploads (multipart and raw PUT), file metadata, rename/move, delete. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "convert/converter.h"
#include "http/http.h"
#include "util/log.h"

enum { UPLOAD_BUF = 1 << 20 };

int http_load_file(struct req *r, const char *id, enum cb_access need, struct cb_file *f)
{
  memset(f, 0, sizeof *f);
  cb_err e = auth_check(&r->who, "file", id, need);
  if (!e)
    e = db_file_get(id, f);
  return e ? http_access_error(r, e, "file", id) : 0;
}

cJSON *http_file_json(struct req *r, const struct cb_file *f, int full)
{
  return json_add_can(json_file(f, full), http_can(r, "file", f->id, f->owner_id, 0));
}

/* 201 with the file a request created (a new one, or a new version), its address in
 * Location; clears f. */
static int file_created(struct req *r, struct cb_file *f)
{
  char loc[128];
  snprintf(loc, sizeof loc, "/api/v1/files/%s", f->id);
  const char *hdr[] = {"Location", loc, NULL};
  int st = http_json_extra(r, 201, http_file_json(r, f, 1), hdr);
  db_file_clear(f);
  return st;
}

/* The type a file is recorded with until its ingest job has read it: the name's (the
 * converters' table, then civetweb's), else the client's own, else
 * application/octet-stream. The ingest replaces it with the content's (convert/media.c). A
 * name civetweb does not know is not text/plain: nothing says the bytes are text. */
void http_guess_type(const char *name, const char *client_type, char *media, size_t mcap, char *kind, size_t kcap)
{
  snprintf(kind, kcap, "%s", converter_kind_of_name(name));
  const char *named = convert_media_of_name(name);
  if (named) {
    snprintf(media, mcap, "%s", named);
    return;
  }
  const char *builtin = mg_get_builtin_mime_type(name);
  if (builtin && strcmp(builtin, "text/plain") && strcmp(builtin, "application/octet-stream")) {
    snprintf(media, mcap, "%s", builtin);
    return;
  }
  /* A client's explicit type, when it is a plain type/subtype token. */
  if (client_type && *client_type && strncasecmp(client_type, "multipart/", 10) &&
      strncasecmp(client_type, "application/x-www-form-urlencoded", 33)) {
    size_t n = strcspn(client_type, "; \t");
    int ok = n > 2 && n < mcap && memchr(client_type, '/', n);
    for (size_t i = 0; ok && i < n; i++)
      ok = client_type[i] > 0x20 && client_type[i] < 0x7f && client_type[i] != '"';
    if (ok && strncasecmp(client_type, "application/octet-stream", n)) {
      snprintf(media, mcap, "%.*s", (int)n, client_type);
      return;
    }
  }
  snprintf(media, mcap, "application/octet-stream");
}

/* Records committed content as a file version, after the bytes are safe in the store. */
static cb_err record_upload(struct req *r, const char *folder_id, const char *name, const char *client_type,
                            const char *sha, uint64_t size, struct cb_file *out)
{
  char media[128], kind[16];
  http_guess_type(name, client_type, media, sizeof media, kind, sizeof kind);
  cb_err e = db_file_put(folder_id, name, r->who.user_id, sha, (int64_t)size, media, kind, out);
  if (!e)
    jobs_wake(); /* its ingest job was queued with it */
  return e;
}

static int store_error(struct req *r, cb_err e, const struct cb_errbuf *eb)
{
  if (e == CB_ETOOBIG)
    return http_problem(r, 413, NULL, "%s", eb->msg);
  if (e == CB_ENOSPC)
    return http_problem(r, 507, NULL, "the store is full: %s", eb->msg);
  if (e == CB_ESTORE) { /* a remote store that failed after its retries: try again later */
    const char *hdr[] = {"Retry-After", "5", NULL};
    return http_problem_extra(r, 503, NULL, hdr, "cannot store the upload: %s", eb->msg[0] ? eb->msg : cb_strerror(e));
  }
  return http_problem(r, 500, NULL, "cannot store the upload: %s", eb->msg[0] ? eb->msg : cb_strerror(e));
}

int files_store_body(struct req *r, const struct cb_folder *folder, const char *name)
{
  struct cb_errbuf eb = {{0}};
  struct store_put *p = NULL;
  long long cl = r->ri->content_length;
  if (cl >= 0 && app.cfg.max_upload && (uint64_t)cl > app.cfg.max_upload) {
    http_drop_body(r);
    return http_problem(r, 413, NULL, "the upload is %lld bytes; the limit is %llu", cl,
                        (unsigned long long)app.cfg.max_upload);
  }
  char *buf = malloc(UPLOAD_BUF);
  cb_err e = buf ? store_put_begin(app.store, app.cfg.max_upload, &p, &eb) : CB_ENOMEM;
  int n = 0;
  while (!e && (n = http_read(r, buf, UPLOAD_BUF)) > 0) {
    e = store_put_write(p, buf, (size_t)n, &eb);
    if (!e && http_must_abort()) {
      cb_errf(&eb, "the server is shutting down");
      e = CB_EABORTED;
    }
  }
  free(buf);
  if (!e && (n < 0 || (cl >= 0 && store_put_size(p) != (uint64_t)cl))) {
    cb_errf(&eb, "the upload was interrupted after %llu bytes", (unsigned long long)store_put_size(p));
    e = CB_EABORTED;
  }
  if (e) {
    store_put_abort(p);
    http_drop_body(r);
    if (e == CB_EABORTED)
      return http_problem(r, 400, NULL, "%s", eb.msg);
    return store_error(r, e, &eb);
  }
  char sha[65];
  uint64_t size;
  e = store_put_commit(p, sha, &size, &eb);
  if (e)
    return store_error(r, e, &eb);
  struct cb_file f = {0};
  e = record_upload(r, folder->id, name, http_header(r, "Content-Type"), sha, size, &f);
  if (e)
    return http_error(r, e, "cannot record the upload");
  http_audit(r, "file.upload", "file", f.id, f.name);
  return file_created(r, &f);
}

int h_files_put(struct req *r)
{
  struct cb_folder folder;
  if (http_load_folder(r, r->params[0], CB_WRITE, &folder)) {
    http_drop_body(r);
    return r->status;
  }
  const char *why = cb_name_invalid(r->params[1]);
  if (why) {
    http_drop_body(r);
    return http_problem(r, 400, "name", "%s", why);
  }
  return files_store_body(r, &folder, r->params[1]);
}

/* ---- multipart/form-data: each `file` part streams into the store as it arrives ---- */
struct form {
  struct req *r;
  const struct cb_folder *folder;
  struct store_put *put;
  char name[CB_NAME_MAX];
  cJSON *files;
  int count;
  cb_err err;
  struct cb_errbuf eb;
  int status; /* set when a part was refused with a response */
  char why[300];
  char field[32];
};

static int form_finish_part(struct form *fm)
{
  if (!fm->put)
    return 0;
  char sha[65];
  uint64_t size;
  struct store_put *p = fm->put;
  fm->put = NULL;
  cb_err e = store_put_commit(p, sha, &size, &fm->eb);
  struct cb_file f = {0};
  if (!e)
    e = record_upload(fm->r, fm->folder->id, fm->name, NULL, sha, size, &f);
  if (e) {
    fm->err = e;
    return -1;
  }
  cJSON_AddItemToArray(fm->files, http_file_json(fm->r, &f, 1));
  http_audit(fm->r, "file.upload", "file", f.id, f.name);
  db_file_clear(&f);
  fm->count++;
  return 0;
}

static int form_found(const char *key, const char *filename, char *path, size_t pathlen, void *ud)
{
  (void)path, (void)pathlen;
  struct form *fm = ud;
  if (fm->err || form_finish_part(fm))
    return MG_FORM_FIELD_STORAGE_ABORT;
  if (strcmp(key, "file"))
    return MG_FORM_FIELD_STORAGE_SKIP;
  if (!filename || !*filename) {
    fm->err = CB_EINVAL;
    snprintf(fm->why, sizeof fm->why, "a 'file' part has no filename");
    snprintf(fm->field, sizeof fm->field, "file");
    return MG_FORM_FIELD_STORAGE_ABORT;
  }
  /* Some clients send a path; keep its last component. */
  const char *base = filename;
  for (const char *c = filename; *c; c++)
    if (*c == '/' || *c == '\\')
      base = c + 1;
  const char *why = cb_name_invalid(base);
  if (why) {
    fm->err = CB_EINVAL;
    snprintf(fm->why, sizeof fm->why, "file name '%.200s': %s", base, why);
    snprintf(fm->field, sizeof fm->field, "filename");
    return MG_FORM_FIELD_STORAGE_ABORT;
  }
  snprintf(fm->name, sizeof fm->name, "%s", base);
  fm->err = store_put_begin(app.store, app.cfg.max_upload, &fm->put, &fm->eb);
  return fm->err ? MG_FORM_FIELD_STORAGE_ABORT : MG_FORM_FIELD_STORAGE_GET;
}

static int form_get(const char *key, const char *value, size_t len, void *ud)
{
  (void)key;
  struct form *fm = ud;
  /* civetweb 1.15 goes on calling this for the rest of a part after it answered ABORT: the
   * first error stays, and no later byte may land in the blob after a failed write */
  if (fm->err)
    return MG_FORM_FIELD_HANDLE_ABORT;
  if (!fm->put)
    return MG_FORM_FIELD_HANDLE_NEXT;
  fm->r->bytes_in += len;
  fm->err = store_put_write(fm->put, value, len, &fm->eb);
  if (!fm->err && http_must_abort()) {
    fm->err = CB_EABORTED;
    cb_errf(&fm->eb, "the server is shutting down");
  }
  return fm->err ? MG_FORM_FIELD_HANDLE_ABORT : MG_FORM_FIELD_HANDLE_GET;
}

int h_files_upload_multipart(struct req *r)
{
  struct cb_folder folder;
  if (http_load_folder(r, r->params[0], CB_WRITE, &folder)) {
    http_drop_body(r);
    return r->status;
  }
  if (!http_media_is(r, "multipart/form-data")) {
    http_drop_body(r);
    return http_problem(r, 415, NULL,
                        "uploads here must be multipart/form-data with 'file' parts;"
                        " use PUT /api/v1/folders/{id}/files/{name} for a raw body");
  }
  struct form fm = {.r = r, .folder = &folder, .files = cJSON_CreateArray()};
  struct mg_form_data_handler fdh = {form_found, form_get, NULL, &fm};
  http_continue(r);
  int rc = mg_handle_form_request(r->conn, &fdh);
  if (!fm.err && rc >= 0)
    form_finish_part(&fm);
  if (!fm.err && rc < 0) {
    fm.err = CB_EABORTED;
    cb_errf(&fm.eb, "the multipart body is malformed or was interrupted");
  }
  store_put_abort(fm.put);
  if (fm.err) {
    cJSON_Delete(fm.files);
    http_drop_body(r);
    if (fm.why[0])
      return http_problem(r, 400, fm.field, "%s", fm.why);
    if (fm.err == CB_EABORTED)
      return http_problem(r, 400, NULL, "%s (%d file(s) before it were stored)", fm.eb.msg, fm.count);
    return store_error(r, fm.err, &fm.eb);
  }
  if (!fm.count) {
    cJSON_Delete(fm.files);
    return http_problem(r, 400, "file", "no 'file' part with a filename was found");
  }
  cJSON *o = cJSON_CreateObject();
  cJSON_AddItemToObject(o, "files", fm.files);
  return http_json(r, 201, o);
}

int h_file_get(struct req *r)
{
  struct cb_file f;
  if (http_load_file(r, r->params[0], CB_READ, &f))
    return r->status;
  int st = http_json(r, 200, http_file_json(r, &f, 1));
  db_file_clear(&f);
  return st;
}

/* User metadata: an object of name -> scalar, or name -> {value, unit?, iri?}. It becomes
 * the file's "user" properties. */
static int parse_metadata(struct req *r, cJSON *meta, struct cb_property *props, int *n)
{
  int i = 0;
  cJSON *it;
  if (!cJSON_IsObject(meta))
    return http_problem(r, 400, "metadata", "field 'metadata' must be an object");
  cJSON_ArrayForEach(it, meta)
  {
    if (!strcmp(it->string, "$schema"))
      continue; /* names the schema; not a property */
    char field[200];
    snprintf(field, sizeof field, "metadata.%.150s", it->string);
    if (i >= 200)
      return http_problem(r, 400, "metadata", "at most 200 metadata entries are allowed");
    size_t klen = strlen(it->string);
    if (!klen || klen > 128 || !cb_utf8_valid(it->string, klen))
      return http_problem(r, 400, field, "metadata names must be 1 to 128 bytes of UTF-8");
    struct cb_property *p = &props[i];
    memset(p, 0, sizeof *p);
    p->name = it->string;
    p->source = "user";
    cJSON *v = it;
    if (cJSON_IsObject(it)) {
      v = cJSON_GetObjectItemCaseSensitive(it, "value");
      cJSON *unit = cJSON_GetObjectItemCaseSensitive(it, "unit");
      cJSON *iri = cJSON_GetObjectItemCaseSensitive(it, "iri");
      if (unit && !cJSON_IsNull(unit)) {
        if (!cJSON_IsString(unit) || strlen(unit->valuestring) > 64)
          return http_problem(r, 400, field, "'unit' must be a string of at most 64 bytes");
        p->unit = unit->valuestring;
      }
      if (iri && !cJSON_IsNull(iri)) {
        if (!cJSON_IsString(iri) || strlen(iri->valuestring) > 512 ||
            (strncmp(iri->valuestring, "http://", 7) && strncmp(iri->valuestring, "https://", 8)))
          return http_problem(r, 400, field, "'iri' must be an http(s) IRI");
        p->iri = iri->valuestring;
      }
    }
    if (cJSON_IsNumber(v) && isfinite(v->valuedouble)) {
      p->is_num = 1;
      p->value_num = v->valuedouble;
    } else if (cJSON_IsString(v) && strlen(v->valuestring) <= 4096) {
      p->value_text = v->valuestring;
    } else if (cJSON_IsBool(v)) {
      p->value_text = cJSON_IsTrue(v) ? "true" : "false";
    } else {
      return http_problem(r, 400, field,
                          "a metadata value must be a string (at most 4096 bytes), a number, a"
                          " boolean, or an object {value, unit?, iri?}");
    }
    i++;
  }
  *n = i;
  return 0;
}

int h_file_patch(struct req *r)
{
  struct cb_file f;
  struct cb_folder target;
  if (http_load_file(r, r->params[0], CB_WRITE, &f)) {
    http_drop_body(r);
    return r->status;
  }
  cJSON *body = http_read_json(r);
  int st = 0;
  struct cb_property *props = NULL;
  cJSON *schema = NULL; /* the named schema: its x-unit and x-iri annotate the properties */
  if (!body)
    goto out;
  const char *name = NULL, *folder_id = NULL;
  if (json_opt_string(r, body, "name", &name) < 0 || json_opt_string(r, body, "folder_id", &folder_id) < 0)
    goto out;
  if (name && cb_name_invalid(name)) {
    st = http_problem(r, 400, "name", "%s", cb_name_invalid(name));
    goto out;
  }
  if (folder_id && (st = http_load_folder(r, folder_id, CB_WRITE, &target)))
    goto out;
  if (folder_id && strcmp(target.owner_id, f.owner_id) && !http_is_owner(r, "file", f.id)) {
    st = http_problem(r, 403, "folder_id", "only the file's owner can move it into a folder of another owner");
    goto out;
  }
  cJSON *meta = cJSON_GetObjectItemCaseSensitive(body, "metadata");
  int nprops = 0;
  if (meta) {
    if (cJSON_IsObject(meta) && (st = http_validate_metadata(r, meta)))
      goto out;
    props = calloc(200, sizeof *props);
    if (!props || (st = parse_metadata(r, meta, props, &nprops)))
      goto out;
    schema = http_metadata_schema(meta);
    http_schema_annotate(schema, props, nprops);
  }
  cb_err e = CB_OK;
  if (name || folder_id)
    e = db_file_update(f.id, name, folder_id);
  if (e == CB_EEXIST) {
    st = http_problem(r, 409, "name", "a file with that name already exists in the folder");
    goto out;
  }
  if (!e && meta) {
    char *text = cJSON_PrintUnformatted(meta);
    e = text ? db_file_set_metadata(f.id, text) : CB_ENOMEM;
    cJSON_free(text);
    if (!e)
      e = db_properties_replace(f.id, "user", props, nprops);
  }
  if (e) {
    st = http_error(r, e, "cannot update the file");
    goto out;
  }
  http_audit(r, "file.update", "file", f.id, meta ? "metadata" : f.name);
  if (folder_id) /* rights that came from the folders above change with them */
    auth_delegations_refresh();
  db_file_clear(&f);
  e = db_file_get(r->params[0], &f);
  st = e ? http_error(r, e, "cannot read the file") : http_json(r, 200, http_file_json(r, &f, 1));
out:
  free(props);
  cJSON_Delete(schema);
  db_file_clear(&f);
  cJSON_Delete(body);
  return st ? st : r->status;
}

int h_file_version_restore(struct req *r)
{
  struct cb_file f;
  if (http_load_file(r, r->params[0], CB_WRITE, &f))
    return r->status;
  char *end = NULL;
  long long version = strtoll(r->params[1], &end, 10);
  struct cb_version v;
  cb_err e = r->params[1][0] >= '1' && r->params[1][0] <= '9' && end && !*end ? db_file_version(f.id, version, &v)
                                                                              : CB_ENOTFOUND;
  if (e == CB_ENOTFOUND) {
    db_file_clear(&f);
    return http_problem(r, 404, "version", "file %s has no version %s", r->params[0], r->params[1]);
  }
  /* recorded as an upload of the same name with the version's type would be; the ingest
   * reads the content again */
  char media[128], kind[16];
  if (!e)
    http_guess_type(f.name, v.media_type, media, sizeof media, kind, sizeof kind);
  struct cb_file out = {0};
  if (!e)
    e = db_file_version_restore(f.id, version, r->who.user_id, media, kind, &out);
  db_file_clear(&f);
  if (e == CB_ENOTFOUND)
    return http_problem(r, 404, NULL, "no file %s", r->params[0]);
  if (e)
    return http_error(r, e, "cannot restore the version");
  jobs_wake(); /* its ingest job was queued with it */
  char detail[64];
  snprintf(detail, sizeof detail, "version %lld as %lld", version, (long long)out.version);
  http_audit(r, "file.version.restore", "file", out.id, detail);
  return file_created(r, &out);
}

int h_file_delete(struct req *r)
{
  struct cb_file f;
  if (http_load_file(r, r->params[0], CB_MANAGE, &f))
    return r->status;
  cb_err e = db_file_delete(f.id);
  if (!e)
    http_audit(r, "file.delete", "file", f.id, f.name);
  db_file_clear(&f);
  if (e)
    return http_error(r, e, "cannot delete the file");
  return http_no_content(r, NULL);
}
