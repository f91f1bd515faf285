/* Models: POST /api/v1/models (train), GET /api/v1/models[/{id}], POST
 * /api/v1/models/{id}/predict. A model is seen by whoever sees its folder (or its file);
 * its training is a batch job ("train"), its bundle a file of kind "model" in that folder
 * (db/models.c, convert/ml/learn.h). Predictions for a few SMILES are answered by the
 * resident matcher processes while the request waits (no job); for a file, by a
 * "predict" job that writes a new file. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/auth.h"
#include "db/db.h"
#include "http/http.h"
#include "jobs/jobs.h"
#include "ml/spec.h"
#include "search/matchers.h"
#include "util/util.h"

#define BUNDLE_MAX (128ull << 20) /* a bundle the server reads for a matcher */
#define PREDICT_TIMEOUT_S 60

/* The model's state as its latest training's job tells it: a training whose job failed
 * or was canceled (before it ran, or by a crash the job outlived) is a failed one. */
static void live_state(const struct cb_model *m, cJSON *o)
{
  struct cb_job j;
  if (strcmp(m->state, "training") || !m->job_id[0] || db_job_get(m->job_id, &j)) {
    cJSON_AddStringToObject(o, "state", m->state);
    if (m->error && *m->error)
      cJSON_AddStringToObject(o, "error", m->error);
    return;
  }
  if (!strcmp(j.state, "failed") || !strcmp(j.state, "canceled")) {
    cJSON_AddStringToObject(o, "state", "failed");
    cJSON_AddStringToObject(o, "error", j.error[0] ? j.error : "the training was canceled");
  } else {
    cJSON_AddStringToObject(o, "state", "training");
    cJSON_AddNumberToObject(o, "progress", j.progress);
  }
  db_job_clear(&j);
}

static cJSON *model_json(const struct cb_model *m)
{
  cJSON *o = cJSON_CreateObject();
  cJSON_AddStringToObject(o, "id", m->id);
  cJSON_AddStringToObject(o, "name", m->name);
  cJSON_AddStringToObject(o, "folder_id", m->folder_id);
  cJSON_AddStringToObject(o, "owner_id", m->owner_id);
  cJSON_AddItemToObject(o, "file_id", json_str_or_null(m->file_id[0] ? m->file_id : NULL));
  live_state(m, o);
  cJSON_AddItemToObject(o, "job_id", json_str_or_null(m->job_id[0] ? m->job_id : NULL));
  cJSON_AddItemToObject(o, "training_file_id", json_str_or_null(m->training_file_id[0] ? m->training_file_id : NULL));
  if (m->file_id[0]) {
    struct cb_file f;
    if (!db_file_get(m->file_id, &f)) {
      cJSON_AddNumberToObject(o, "version", (double)f.version);
      db_file_clear(&f);
    }
  }
  /* the report of the version in use, else what the training asked for */
  cJSON *summary = m->summary ? cJSON_Parse(m->summary) : NULL;
  cJSON *spec = m->spec ? cJSON_Parse(m->spec) : NULL;
  static const char *const from_summary[] = {"task",     "method",        "target",     "classes", "threshold",
                                             "features", "training_size", "test_size",  "skipped", "metrics",
                                             "curves",   "applicability", "validation", "library"};
  static const char *const from_spec[] = {"task", "method", "target", "threshold", "features", "validation"};
  if (summary) {
    for (size_t i = 0; i < sizeof from_summary / sizeof from_summary[0]; i++) {
      cJSON *v = cJSON_DetachItemFromObjectCaseSensitive(summary, from_summary[i]);
      if (v)
        cJSON_AddItemToObject(o, from_summary[i], v);
    }
  } else if (spec) {
    for (size_t i = 0; i < sizeof from_spec / sizeof from_spec[0]; i++) {
      cJSON *v = cJSON_DetachItemFromObjectCaseSensitive(spec, from_spec[i]);
      if (v)
        cJSON_AddItemToObject(o, from_spec[i], v);
    }
  }
  if (!cJSON_GetObjectItemCaseSensitive(o, "metrics"))
    cJSON_AddNullToObject(o, "metrics");
  cJSON_Delete(summary);
  cJSON_Delete(spec);
  cJSON_AddStringToObject(o, "created_at", m->created_at);
  cJSON_AddStringToObject(o, "updated_at", m->updated_at);
  return o;
}

/* The model, when the caller may see it (need: read, or write to change it): through its
 * folder, or its file shared on its own. 0, or the problem answered (404 for what the
 * caller may not see). */
static int load_model(struct req *r, const char *id, enum cb_access need, struct cb_model *m)
{
  cb_err e = db_model_get(id, m);
  if (!e) {
    e = auth_check(&r->who, "folder", m->folder_id, need);
    if (e == CB_ENOTFOUND && m->file_id[0])
      e = auth_check(&r->who, "file", m->file_id, need);
    if (e)
      db_model_clear(m);
  }
  return e ? http_access_error(r, e, "model", id) : 0;
}

static const char *const create_fields[] = {"name",      "folder_id", "training_file_id", "target",     "task",
                                            "threshold", "method",    "features",         "validation", "smiles_column",
                                            "sheet",     NULL};

int h_models_create(struct req *r)
{
  cJSON *body = http_read_user_json(r);
  if (!body)
    return r->status;
  int st = 0;
  char *spec_text = NULL, *params_text = NULL;
  const char *name = NULL, *folder_id = NULL, *training = NULL;
  cJSON *it;
  cJSON_ArrayForEach(it, body)
  {
    int known = 0;
    for (int i = 0; create_fields[i] && !known; i++)
      known = !strcmp(it->string, create_fields[i]);
    if (!known) {
      st = http_problem(r, 400, it->string, "field '%.60s' is not a model setting", it->string);
      goto out;
    }
  }
  if (json_opt_string(r, body, "name", &name) < 0 || json_opt_string(r, body, "folder_id", &folder_id) < 0 ||
      json_opt_string(r, body, "training_file_id", &training) < 0)
    goto out;
  if (!name || !folder_id || !training) {
    st = http_problem(r, 400,
                      !name        ? "name"
                      : !folder_id ? "folder_id"
                                   : "training_file_id",
                      "a model needs name, folder_id, training_file_id and target");
    goto out;
  }
  const char *bad = cb_name_invalid(name);
  if (bad || strlen(name) > CB_NAME_MAX - 24) {
    st = http_problem(r, 400, "name", "%s",
                      bad ? bad : "name must be at most 232 bytes (the model's file adds .carboy-model.json)");
    goto out;
  }
  struct ml_spec sp;
  struct cb_errbuf eb = {""};
  if (ml_spec_parse(body, &sp, &eb)) {
    /* the field the message starts with */
    char field[32] = "";
    sscanf(eb.msg, "%31[a-z_]", field);
    int known = 0;
    for (int i = 0; create_fields[i] && !known; i++)
      known = !strcmp(field, create_fields[i]);
    /* a method that cannot do the task names itself, not a field */
    st = http_problem(r, 400, known ? field : "method", "%s", eb.msg);
    goto out;
  }
  struct cb_folder folder;
  if (http_load_folder(r, folder_id, CB_WRITE, &folder))
    goto out;
  struct cb_file tf;
  if (http_load_file(r, training, CB_READ, &tf))
    goto out;
  db_file_clear(&tf);
  cJSON *spec = ml_spec_json(&sp);
  spec_text = cJSON_PrintUnformatted(spec);
  cJSON *params = cJSON_CreateObject();
  cJSON_AddStringToObject(params, "name", name);
  cJSON_AddItemToObject(params, "spec", spec);
  params_text = cJSON_PrintUnformatted(params);
  cJSON_Delete(params);
  char inputs_text[CB_ID_LEN + 8];
  snprintf(inputs_text, sizeof inputs_text, "[\"%s\"]", training);
  struct cb_job j = {0};
  cb_id_new(j.id);
  snprintf(j.type, sizeof j.type, "train");
  snprintf(j.lane, sizeof j.lane, "batch");
  memcpy(j.owner_id, r->who.user_id, sizeof j.owner_id);
  j.inputs = inputs_text;
  j.params = params_text;
  snprintf(j.output_folder_id, sizeof j.output_folder_id, "%s", folder.id);
  j.max_attempts = 2;
  struct cb_model m = {0};
  snprintf(m.folder_id, sizeof m.folder_id, "%s", folder.id);
  snprintf(m.owner_id, sizeof m.owner_id, "%s", r->who.user_id);
  snprintf(m.name, sizeof m.name, "%s", name);
  snprintf(m.training_file_id, sizeof m.training_file_id, "%s", training);
  m.spec = spec_text;
  const char *ids[1] = {training};
  int again = 0;
  cb_err e = spec_text && params_text ? db_model_train(&m, &j, ids, 1, &again) : CB_ENOMEM;
  m.spec = NULL;
  if (e == CB_ECONFLICT) {
    st = http_problem(r, 409, "name", "the model '%s' in this folder is still training", name);
    goto out;
  }
  if (e) {
    st = http_error(r, e, "cannot start the training");
    goto out;
  }
  jobs_wake();
  http_audit(r, again ? "model.retrain" : "model.create", "model", m.id, name);
  struct cb_model stored;
  if (db_model_get(m.id, &stored)) {
    st = http_error(r, CB_EDB, "cannot read the model");
    goto out;
  }
  char loc[128];
  snprintf(loc, sizeof loc, "/api/v1/models/%s", m.id);
  const char *hdr[] = {"Location", loc, NULL};
  st = http_json_extra(r, 202, model_json(&stored), hdr);
  db_model_clear(&stored);
out:
  cJSON_free(spec_text);
  cJSON_free(params_text);
  cJSON_Delete(body);
  return st ? st : r->status;
}

int h_model_get(struct req *r)
{
  struct cb_model m;
  if (load_model(r, r->params[0], CB_READ, &m))
    return r->status;
  int st = http_json(r, 200, model_json(&m));
  db_model_clear(&m);
  return st;
}

struct list_ctx {
  cJSON *arr;
  int n;
  char last_name[CB_NAME_MAX], last_id[CB_ID_LEN + 1];
};

static int add_model(const struct cb_model *m, void *ctx)
{
  struct list_ctx *lc = ctx;
  cJSON *o = model_json(m);
  /* a list is a summary: no curves */
  cJSON_DeleteItemFromObjectCaseSensitive(o, "curves");
  cJSON_AddItemToArray(lc->arr, o);
  lc->n++;
  snprintf(lc->last_name, sizeof lc->last_name, "%s", m->name);
  snprintf(lc->last_id, sizeof lc->last_id, "%s", m->id);
  return 0;
}

int h_models_list(struct req *r)
{
  int limit;
  char cursor[512], folder_id[CB_ID_LEN + 8] = "", kind = 0, raw[CB_NAME_MAX + CB_ID_LEN + 2] = "";
  if (http_page(r, &limit, cursor, sizeof cursor))
    return r->status;
  int fq = http_query(r, "folder_id", folder_id, sizeof folder_id);
  if (fq < 0 || (fq > 0 && !cb_id_valid(folder_id)))
    return http_problem(r, 400, "folder_id", "folder_id must be a folder id");
  if (fq > 0) {
    struct cb_folder f;
    if (http_load_folder(r, folder_id, CB_READ, &f))
      return r->status;
  }
  char *sep = NULL;
  if (cursor[0] && (http_cursor_decode(cursor, &kind, raw, sizeof raw) || kind != 'm' || !(sep = strrchr(raw, '|')) ||
                    !cb_id_valid(sep + 1)))
    return http_problem(r, 400, "cursor", "cursor is not one this endpoint issued");
  if (sep)
    *sep = '\0';
  struct db_viewer v;
  http_viewer(r, &v);
  cJSON *o = cJSON_CreateObject();
  struct list_ctx lc = {.arr = cJSON_AddArrayToObject(o, "models")};
  cb_err e = db_model_list(&v, fq > 0 ? folder_id : NULL, sep ? raw : NULL, sep ? sep + 1 : NULL, limit, add_model,
                           &lc);
  if (e) {
    cJSON_Delete(o);
    return http_error(r, e, "cannot list models");
  }
  if (lc.n == limit) {
    char c[CB_NAME_MAX + CB_ID_LEN + 2], enc[1024];
    snprintf(c, sizeof c, "%s|%s", lc.last_name, lc.last_id);
    http_cursor_encode("m", c, enc, sizeof enc);
    cJSON_AddStringToObject(o, "next_cursor", enc);
  } else {
    cJSON_AddNullToObject(o, "next_cursor");
  }
  return http_json(r, 200, o);
}

/* ---- predictions ---- */

static int buf_sink(void *ctx, const void *buf, size_t n)
{
  struct cb_buf *b = ctx;
  if (b->len + n > BUNDLE_MAX)
    return -1;
  return cb_buf_append(b, buf, n) ? -1 : 0;
}

/* SMILES answered by a matcher process: the bundle goes along only when the process does
 * not hold it yet. */
static int predict_smiles(struct req *r, const struct cb_model *m, const struct cb_file *f, cJSON *list)
{
  cJSON *req = cJSON_CreateObject();
  cJSON_AddStringToObject(req, "op", "predict");
  cJSON_AddStringToObject(req, "model_sha", f->sha256);
  cJSON_AddItemReferenceToObject(req, "smiles", list);
  cJSON *res = NULL;
  struct cb_errbuf eb = {""};
  const char *owner = r->who.user_id[0] ? r->who.user_id : "";
  cb_err e = matchers_call(owner, req, PREDICT_TIMEOUT_S, &res, &eb);
  if (!e && cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(res, "need_model"))) {
    cJSON_Delete(res);
    res = NULL;
    struct cb_buf b = {0};
    e = store_get_range(app.store, f->sha256, 0, (uint64_t)f->size, buf_sink, &b, &eb);
    if (!e && !cb_buf_puts(&b, "")) {
      cJSON_AddStringToObject(req, "model", b.data);
      e = matchers_call(owner, req, PREDICT_TIMEOUT_S, &res, &eb);
    } else if (!e) {
      e = CB_ENOMEM;
    }
    cb_buf_free(&b);
  }
  cJSON_Delete(req);
  if (e == CB_ETHROTTLED) {
    const char *hdr[] = {"Retry-After", "1", NULL};
    return http_problem_extra(r, 429, NULL, hdr, "every predictor is busy: try again");
  }
  if (e == CB_EINVAL) {
    cJSON_Delete(res);
    return http_problem(r, 422, NULL, "the model cannot predict: %s", eb.msg);
  }
  cJSON *preds = e ? NULL : cJSON_DetachItemFromObjectCaseSensitive(res, "predictions");
  cJSON_Delete(res);
  if (!cJSON_IsArray(preds)) {
    cJSON_Delete(preds);
    return http_error(r, e ? e : CB_EIO, eb.msg[0] ? eb.msg : "the prediction failed");
  }
  cJSON *o = cJSON_CreateObject();
  cJSON_AddStringToObject(o, "model_id", m->id);
  cJSON_AddNumberToObject(o, "version", (double)f->version);
  cJSON_AddItemToObject(o, "predictions", preds);
  return http_json(r, 200, o);
}

/* A file: a "predict" job writes its records with the predictions as a new file. */
static int predict_file(struct req *r, const struct cb_model *m, const struct cb_file *mf, const char *file_id,
                        const char *out_folder, const char *smiles_column, int sheet)
{
  struct cb_file in;
  if (http_load_file(r, file_id, CB_READ, &in))
    return r->status;
  const char *folder = out_folder ? out_folder : in.folder_id;
  struct cb_folder of;
  if (http_load_folder(r, folder, CB_WRITE, &of)) {
    db_file_clear(&in);
    return r->status;
  }
  cJSON *params = cJSON_CreateObject();
  cJSON_AddStringToObject(params, "model_id", m->id);
  cJSON_AddStringToObject(params, "model_file_id", mf->id);
  cJSON_AddNumberToObject(params, "model_version", (double)mf->version);
  if (smiles_column)
    cJSON_AddStringToObject(params, "smiles_column", smiles_column);
  if (sheet)
    cJSON_AddNumberToObject(params, "sheet", sheet);
  char *params_text = cJSON_PrintUnformatted(params);
  cJSON_Delete(params);
  char inputs_text[CB_ID_LEN + 8];
  snprintf(inputs_text, sizeof inputs_text, "[\"%s\"]", in.id);
  struct cb_job j = {0};
  cb_id_new(j.id);
  snprintf(j.type, sizeof j.type, "predict");
  snprintf(j.lane, sizeof j.lane, "batch");
  memcpy(j.owner_id, r->who.user_id, sizeof j.owner_id);
  j.inputs = inputs_text;
  j.params = params_text;
  snprintf(j.output_folder_id, sizeof j.output_folder_id, "%s", of.id);
  j.max_attempts = 3;
  const char *ids[1] = {in.id};
  cb_err e = params_text ? db_job_create(&j, ids, 1) : CB_ENOMEM;
  cJSON_free(params_text);
  db_file_clear(&in);
  if (e)
    return http_error(r, e, "cannot start the prediction");
  jobs_wake();
  http_audit(r, "model.predict", "model", m->id, j.id);
  struct cb_job stored;
  if ((e = db_job_get(j.id, &stored)))
    return http_error(r, e, "cannot read the job");
  char loc[128];
  snprintf(loc, sizeof loc, "/api/v1/jobs/%s", j.id);
  const char *hdr[] = {"Location", loc, NULL};
  cJSON *o = cJSON_CreateObject();
  cJSON_AddStringToObject(o, "id", stored.id);
  cJSON_AddStringToObject(o, "type", stored.type);
  cJSON_AddStringToObject(o, "state", stored.state);
  cJSON_AddStringToObject(o, "model_id", m->id);
  cJSON_AddNumberToObject(o, "version", (double)mf->version);
  db_job_clear(&stored);
  return http_json_extra(r, 202, o, hdr);
}

int h_model_predict(struct req *r)
{
  cJSON *body = http_read_json(r);
  if (!body)
    return r->status;
  int st = 0;
  struct cb_model m = {0};
  struct cb_file mf = {0};
  if (load_model(r, r->params[0], CB_READ, &m))
    goto out;
  cJSON *smiles = cJSON_GetObjectItemCaseSensitive(body, "smiles");
  const char *file_id = NULL, *out_folder = NULL;
  if (json_opt_string(r, body, "file_id", &file_id) < 0 ||
      json_opt_string(r, body, "output_folder_id", &out_folder) < 0)
    goto out;
  if (!smiles == !file_id) {
    st = http_problem(r, 400, NULL, "give either smiles (a list) or file_id");
    goto out;
  }
  cJSON *it;
  cJSON_ArrayForEach(it, body) if (strcmp(it->string, "smiles") && strcmp(it->string, "file_id") &&
                                   strcmp(it->string, "output_folder_id") && strcmp(it->string, "smiles_column") &&
                                   strcmp(it->string, "sheet"))
  {
    st = http_problem(r, 400, it->string, "field '%.60s' is not a prediction setting", it->string);
    goto out;
  }
  /* a file's settings: where it goes, and how its table is read */
  const char *smiles_column = NULL;
  cJSON *sheet = cJSON_GetObjectItemCaseSensitive(body, "sheet");
  if (json_opt_string(r, body, "smiles_column", &smiles_column) < 0)
    goto out;
  if (smiles && (out_folder || smiles_column || sheet)) {
    st = http_problem(r, 400,
                      out_folder      ? "output_folder_id"
                      : smiles_column ? "smiles_column"
                                      : "sheet",
                      "output_folder_id, smiles_column and sheet go with file_id, not with smiles");
    goto out;
  }
  if (smiles_column && (!*smiles_column || strlen(smiles_column) >= 128)) {
    st = http_problem(r, 400, "smiles_column", "smiles_column must be a column's name of 1 to 127 bytes");
    goto out;
  }
  if (sheet && (!cJSON_IsNumber(sheet) || sheet->valuedouble < 1 || sheet->valuedouble > 1024 ||
                sheet->valuedouble != (double)(int)sheet->valuedouble)) {
    st = http_problem(r, 400, "sheet", "sheet must be a whole number from 1 to 1024 (a workbook's sheet)");
    goto out;
  }
  if (smiles) {
    if (!cJSON_IsArray(smiles) || cJSON_GetArraySize(smiles) < 1) {
      st = http_problem(r, 400, "smiles", "smiles must be a non-empty list of SMILES strings");
      goto out;
    }
    if (cJSON_GetArraySize(smiles) > app.cfg.predict_max) {
      st = http_problem(r, 413, "smiles",
                        "at most %d SMILES per request (CARBOY_PREDICT_MAX); send more as a file (file_id)",
                        app.cfg.predict_max);
      goto out;
    }
    cJSON_ArrayForEach(it, smiles) if (!cJSON_IsString(it) || strlen(it->valuestring) > 65536)
    {
      st = http_problem(r, 400, "smiles", "every entry of smiles must be a string of at most 64 KiB");
      goto out;
    }
  }
  if (!m.file_id[0] || db_file_get(m.file_id, &mf)) {
    st = http_problem(r, 409, NULL, "the model has no trained version yet (state: %s)", m.state);
    goto out;
  }
  /* its file's current version must be a bundle (a training's, or an upload read as one:
   * not a newer upload of something else, nor one its ingest refused) */
  if (strcmp(mf.kind, "model") || !strcmp(mf.status, "failed") || (uint64_t)mf.size > BUNDLE_MAX) {
    st = http_problem(r, 409, NULL, "the model's file (version %lld) is not a model bundle%s", (long long)mf.version,
                      !strcmp(mf.status, "failed") ? " (its processing failed)" : "");
    goto out;
  }
  st = smiles ? predict_smiles(r, &m, &mf, smiles)
              : predict_file(r, &m, &mf, file_id, out_folder, smiles_column, sheet ? (int)sheet->valuedouble : 0);
out:
  db_file_clear(&mf);
  db_model_clear(&m);
  cJSON_Delete(body);
  return st ? st : r->status;
}
