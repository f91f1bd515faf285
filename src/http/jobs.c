/* /api/v1/jobs, /api/v1/events (Server-Sent Events) and derived content of files
 * (artifacts such as the extracted text). */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/http.h"
#include "jobs/types.h"
#include "util/log.h"

#define F(f, kind) JS_FIELD(struct cb_job, f, kind)
static const struct json_shape job_shape[] = {
  F(id, JS_TEXT),
  F(type, JS_TEXT),
  F(state, JS_TEXT),
  F(lane, JS_TEXT),
  JS_NUMBER(struct cb_job, progress),
  JS_NUMBER(struct cb_job, attempts),
  JS_NUMBER(struct cb_job, max_attempts),
};
static const struct json_shape job_folder_shape[] = {F(output_folder_id, JS_IF_SET)};
static const struct json_shape job_time_shape[] = {
  F(owner_id, JS_TEXT),      F(created_at, JS_TEXT), F(started_at, JS_IF_SET),
  F(finished_at, JS_IF_SET), F(updated_at, JS_TEXT),
};
#undef F

static cJSON *json_job(const struct cb_job *j)
{
  cJSON *o = JSON_SHAPE(cJSON_CreateObject(), j, job_shape);
  if (j->error[0] && strcmp(j->state, "succeeded"))
    cJSON_AddStringToObject(o, "error", j->error);
  cJSON *in = cJSON_Parse(j->inputs ? j->inputs : "[]");
  cJSON_AddItemToObject(o, "inputs", in ? in : cJSON_CreateArray());
  cJSON *out = cJSON_Parse(j->outputs ? j->outputs : "[]");
  cJSON_AddItemToObject(o, "outputs", out ? out : cJSON_CreateArray());
  cJSON *params = cJSON_Parse(j->params ? j->params : "{}");
  cJSON_AddItemToObject(o, "params", params ? params : cJSON_CreateObject());
  JSON_SHAPE(o, j, job_folder_shape);
  /* what an unpack made (its folder, counts, skipped members); the search helpers'
   * results are internal and can be large */
  const struct job_type *type = job_type_find(j->type);
  cJSON *result = j->result && type && type->shows_result ? cJSON_Parse(j->result) : NULL;
  if (result)
    cJSON_AddItemToObject(o, "result", result);
  return JSON_SHAPE(o, j, job_time_shape);
}

/* A job is visible to its owner, to admins, and to whoever may see its first input. */
static cb_err job_access(struct req *r, const struct cb_job *j, enum cb_access need)
{
  if (r->who.user_id[0] && (r->who.is_admin || !strcmp(j->owner_id, r->who.user_id)))
    return need >= CB_WRITE && r->who.read_only ? CB_EFORBIDDEN : CB_OK;
  cJSON *in = cJSON_Parse(j->inputs ? j->inputs : "[]");
  cJSON *first = cJSON_GetArrayItem(in, 0);
  cb_err e = cJSON_IsString(first) ? auth_check(&r->who, "file", first->valuestring, need) : CB_ENOTFOUND;
  cJSON_Delete(in);
  return e;
}

static int load_job(struct req *r, enum cb_access need, struct cb_job *j)
{
  memset(j, 0, sizeof *j);
  cb_err e = cb_id_valid(r->params[0]) ? db_job_get(r->params[0], j) : CB_ENOTFOUND;
  if (!e)
    e = job_access(r, j, CB_READ);
  if (!e && need >= CB_WRITE)
    e = job_access(r, j, need);
  if (e) {
    db_job_clear(j);
    return http_access_error(r, e, "job", r->params[0]);
  }
  return 0;
}

/* The problem with a type a user may not start: the list of those they may. */
static int bad_type(struct req *r)
{
  char names[256] = "";
  size_t len = 0;
  for (const struct job_type *t = job_types; t->name; t++)
    if (t->start == JOB_START_USER && len < sizeof names)
      len += (size_t)snprintf(names + len, sizeof names - len, "%s%s", len ? ", " : "", t->name);
  return http_problem(r, 400, "type", "field 'type' must be one of: %s", names);
}

int h_jobs_create(struct req *r)
{
  cJSON *body = http_read_user_json(r);
  if (!body)
    return r->status;
  int st = 0;
  const char *type = NULL, *out_folder = NULL;
  char *inputs_text = NULL, *params_text = NULL;
  const char **ids = NULL;
  if (json_opt_string(r, body, "type", &type) < 0 || json_opt_string(r, body, "output_folder_id", &out_folder) < 0)
    goto out;
  const struct job_type *t = job_type_find(type);
  if (!t || t->start != JOB_START_USER) {
    st = bad_type(r);
    goto out;
  }
  cJSON *inputs = cJSON_GetObjectItemCaseSensitive(body, "inputs");
  cJSON *params = cJSON_GetObjectItemCaseSensitive(body, "params");
  if (inputs && !cJSON_IsArray(inputs)) {
    st = http_problem(r, 400, "inputs", "field 'inputs' must be an array of file ids");
    goto out;
  }
  if (params && !cJSON_IsObject(params)) {
    st = http_problem(r, 400, "params", "field 'params' must be an object");
    goto out;
  }
  int n = cJSON_GetArraySize(inputs);
  const char *wrong = t->check ? t->check(params) : NULL;
  if (wrong) {
    st = http_problem(r, 400, "params", "%s", wrong);
    goto out;
  }
  if (t->one_input && n != 1) {
    st = http_problem(r, 400, "inputs", "a %s job takes exactly one input file", type);
    goto out;
  }
  if (n > 100) {
    st = http_problem(r, 400, "inputs", "at most 100 inputs");
    goto out;
  }
  ids = calloc((size_t)n + 1, sizeof *ids);
  if (!ids) {
    st = http_problem(r, 500, NULL, "out of memory");
    goto out;
  }
  cJSON *it;
  int k = 0;
  cJSON_ArrayForEach(it, inputs)
  {
    if (!cJSON_IsString(it)) {
      st = http_problem(r, 400, "inputs", "field 'inputs' must hold file ids (strings)");
      goto out;
    }
    /* re-extracting changes the file's properties: it needs write access; converting
     * and unpacking only read it (the output goes where the caller may write) */
    cb_err e = auth_check(&r->who, "file", it->valuestring, t->writes_input ? CB_WRITE : CB_READ);
    if (e) {
      st = http_access_error(r, e, "file", it->valuestring);
      goto out;
    }
    ids[k++] = it->valuestring;
  }
  if (out_folder) {
    cb_err e = auth_check(&r->who, "folder", out_folder, CB_WRITE);
    if (e) {
      st = http_access_error(r, e, "folder", out_folder);
      goto out;
    }
  } else if (t->output_beside_input) {
    /* the output lands beside the input: the caller must be able to write there */
    struct cb_file in;
    cb_err e = db_file_get(ids[0], &in);
    if (!e)
      e = auth_check(&r->who, "folder", in.folder_id, CB_WRITE);
    db_file_clear(&in);
    if (e) {
      st = e == CB_ENOTFOUND ? http_problem(r, 403, "output_folder_id",
                                            "you may not write into the input's folder;"
                                            " name an output_folder_id")
                             : http_access_error(r, e, "folder", "of the input");
      goto out;
    }
  }
  struct cb_job j = {0};
  cb_id_new(j.id);
  snprintf(j.type, sizeof j.type, "%s", type);
  snprintf(j.lane, sizeof j.lane, "%s", t->lane == JOB_LANE_INTERACTIVE ? "interactive" : "batch");
  memcpy(j.owner_id, r->who.user_id, sizeof j.owner_id);
  inputs_text = cJSON_PrintUnformatted(inputs ? inputs : cJSON_GetObjectItem(body, "inputs"));
  if (!inputs_text)
    inputs_text = strdup("[]");
  /* extract re-processes the file's current version */
  params_text = params ? cJSON_PrintUnformatted(params) : strdup("{}");
  j.inputs = inputs_text;
  j.params = params_text;
  snprintf(j.output_folder_id, sizeof j.output_folder_id, "%s", out_folder ? out_folder : "");
  j.max_attempts = 3;
  cb_err e = db_job_create(&j, ids, k);
  if (!e) {
    struct cb_job stored;
    e = db_job_get(j.id, &stored);
    if (!e) {
      char loc[128];
      snprintf(loc, sizeof loc, "/api/v1/jobs/%s", j.id);
      const char *hdr[] = {"Location", loc, NULL};
      jobs_wake(); /* announces it "queued" first, so streams see events in order */
      http_audit(r, "job.create", "job", j.id, type);
      st = http_json_extra(r, 202, json_job(&stored), hdr);
      db_job_clear(&stored);
    }
  }
  if (e)
    st = http_error(r, e, "cannot create the job");
out:
  free(ids);
  cJSON_free(inputs_text);
  cJSON_free(params_text);
  cJSON_Delete(body);
  return st ? st : r->status;
}

int h_job_get(struct req *r)
{
  struct cb_job j;
  if (load_job(r, CB_READ, &j))
    return r->status;
  int st = http_json(r, 200, json_job(&j));
  db_job_clear(&j);
  return st;
}

struct list_ctx {
  cJSON *arr;
  int n;
  char last_created[CB_TIME_MAX];
  char last_id[CB_ID_LEN + 1];
};

static int add_job(const struct cb_job *j, void *ctx)
{
  struct list_ctx *lc = ctx;
  cJSON_AddItemToArray(lc->arr, json_job(j));
  lc->n++;
  snprintf(lc->last_created, sizeof lc->last_created, "%s", j->created_at);
  memcpy(lc->last_id, j->id, sizeof lc->last_id);
  return 0;
}

/* The types only the server starts (a depiction's depict job): their jobs are helpers of a
 * request, not work anyone asked for, so lists leave them out unless an admin asks. As a
 * JSON array for db_job_list; NULL when there are none. */
static char *helper_types(void)
{
  cJSON *a = cJSON_CreateArray();
  for (const struct job_type *t = job_types; t->name; t++)
    if (t->start == JOB_START_INTERNAL)
      cJSON_AddItemToArray(a, cJSON_CreateString(t->name));
  char *text = cJSON_GetArraySize(a) ? cJSON_PrintUnformatted(a) : NULL;
  cJSON_Delete(a);
  return text;
}

int h_jobs_list(struct req *r)
{
  if (http_require_user(r))
    return r->status;
  int limit;
  char cursor[512], state[16] = "", kind = 0, raw[CB_NAME_MAX] = "", helpers[8] = "";
  if (http_page(r, &limit, cursor, sizeof cursor))
    return r->status;
  int hq = http_query(r, "helpers", helpers, sizeof helpers);
  if (hq < 0 || (hq > 0 && strcmp(helpers, "true") && strcmp(helpers, "false")))
    return http_problem(r, 400, "helpers", "helpers must be true or false");
  int show_helpers = hq > 0 && !strcmp(helpers, "true");
  if (show_helpers && !r->who.is_admin)
    return http_problem(r, 403, "helpers", "only an admin may list helper jobs (helpers=true)");
  int q = http_query(r, "state", state, sizeof state);
  static const char *const states[] = {"queued", "running", "succeeded", "failed", "canceled"};
  int ok = q == 0;
  for (int i = 0; i < 5 && !ok && q > 0; i++) /* q < 0: malformed or too long */
    ok = !strcmp(state, states[i]);
  if (!ok)
    return http_problem(r, 400, "state", "state must be one of queued, running, succeeded, failed, canceled");
  char *sep = NULL;
  if (cursor[0] && (http_cursor_decode(cursor, &kind, raw, sizeof raw) || kind != 'j' || !(sep = strchr(raw, '|')) ||
                    !cb_id_valid(sep + 1)))
    return http_problem(r, 400, "cursor", "cursor is not one this endpoint issued");
  if (sep)
    *sep = '\0';
  cJSON *o = cJSON_CreateObject();
  struct list_ctx lc = {.arr = cJSON_AddArrayToObject(o, "jobs")};
  char *hidden = show_helpers ? NULL : helper_types();
  cb_err e = db_job_list(r->who.is_admin ? NULL : r->who.user_id, q > 0 ? state : NULL, sep ? raw : NULL,
                         sep ? sep + 1 : NULL, hidden, limit, add_job, &lc);
  cJSON_free(hidden);
  if (e) {
    cJSON_Delete(o);
    return http_error(r, e, "cannot list jobs");
  }
  if (lc.n == limit) {
    char c[CB_NAME_MAX], enc[512];
    snprintf(c, sizeof c, "%s|%s", lc.last_created, lc.last_id);
    http_cursor_encode("j", c, enc, sizeof enc);
    cJSON_AddStringToObject(o, "next_cursor", enc);
  } else {
    cJSON_AddNullToObject(o, "next_cursor");
  }
  return http_json(r, 200, o);
}

static int steer(struct req *r, int cancel)
{
  struct cb_job j;
  if (load_job(r, CB_WRITE, &j))
    return r->status;
  char now[CB_TIME_MAX];
  cb_time_now_rfc3339(now, sizeof now);
  cb_err e = cancel ? db_job_cancel(j.id, now) : db_job_retry(j.id, now);
  db_job_clear(&j);
  if (e == CB_ECONFLICT)
    return http_problem(r, 409, NULL,
                        cancel ? "the job has already ended" : "only a failed or canceled job can be retried");
  if (e)
    return http_error(r, e, "cannot change the job");
  http_audit(r, cancel ? "job.cancel" : "job.retry", "job", r->params[0], NULL);
  e = db_job_get(r->params[0], &j);
  if (e)
    return http_error(r, e, "cannot read the job");
  char data[256];
  snprintf(data, sizeof data, "{\"id\":\"%s\",\"type\":\"%s\",\"state\":\"%s\",\"progress\":%g}", j.id, j.type, j.state,
           j.progress);
  events_publish("job", j.owner_id, NULL, j.id, data);
  if (!cancel)
    jobs_wake(); /* after the event, as on creation */
  int st = http_json(r, 200, json_job(&j));
  db_job_clear(&j);
  return st;
}

int h_job_cancel(struct req *r)
{
  http_drop_body(r);
  return steer(r, 1);
}

int h_job_retry(struct req *r)
{
  http_drop_body(r);
  return steer(r, 0);
}

/* ---- Server-Sent Events ---- */

#define SSE_MAX 16
static atomic_int sse_open;

static int event_visible(struct req *r, const struct cb_event *ev)
{
  if (r->who.is_admin || (ev->owner_id[0] && !strcmp(ev->owner_id, r->who.user_id)))
    return 1;
  enum cb_role role;
  return ev->file_id[0] && !auth_role(&r->who, "file", ev->file_id, &role);
}

static int sse_write(struct req *r, const char *text, size_t n)
{
  if (mg_send_chunk(r->conn, text, (unsigned)n) < 0)
    return -1;
  r->bytes_out += n;
  return 0;
}

int h_events(struct req *r)
{
  if (http_require_user(r))
    return r->status;
  char tq[16];
  long timeout_s = 0;
  int tqs = http_query(r, "timeout", tq, sizeof tq); /* -1: malformed or too long */
  if (tqs != 0) {
    char *end = tq;
    timeout_s = tqs > 0 ? strtol(tq, &end, 10) : 0;
    if (tqs < 0 || *end || end == tq || timeout_s < 1 || timeout_s > 86400)
      return http_problem(r, 400, "timeout", "timeout must be a number of seconds from 1 to 86400");
  }
  if (atomic_fetch_add(&sse_open, 1) >= SSE_MAX) {
    atomic_fetch_sub(&sse_open, 1);
    const char *hdr[] = {"Retry-After", "5", NULL};
    return http_problem_extra(r, 503, NULL, hdr, "too many event streams are open; try again shortly");
  }
  uint64_t seq = events_last_seq();
  const char *last = http_header(r, "Last-Event-ID");
  if (last) {
    char *end;
    unsigned long long v = strtoull(last, &end, 10);
    if (!*end && v <= seq)
      seq = v;
  }
  const char *hdr[] = {"Cache-Control", "no-cache", "Transfer-Encoding", "chunked", "X-Accel-Buffering", "no", NULL};
  r->stream = 1; /* events come when they come: no reader rate for an event stream */
  if (http_begin(r, 200, "text/event-stream", -1, hdr) || r->is_head) {
    atomic_fetch_sub(&sse_open, 1);
    return 200;
  }
  /* A first comment flushes the headers through proxies and tells the client it is open. */
  int broken = sse_write(r, ": carboy events\nretry: 2000\n\n", 29);
  uint64_t started = cb_mono_ns(), last_ping = started;
  struct cb_event evs[32];
  struct cb_buf b = {0};
  while (!broken && !http_stopping()) {
    if (timeout_s && cb_mono_ns() - started > (uint64_t)timeout_s * 1000000000ull)
      break;
    int n = events_wait(&seq, evs, 32, 1000);
    for (int i = 0; i < n; i++) {
      if (!broken && event_visible(r, &evs[i])) {
        cb_buf_reset(&b);
        cb_buf_printf(&b, "id: %llu\nevent: %s\ndata: %s\n\n", (unsigned long long)evs[i].seq, evs[i].type,
                      evs[i].data);
        broken = sse_write(r, b.data, b.len);
      }
      free(evs[i].data);
    }
    if (!broken && cb_mono_ns() - last_ping > 15000000000ull) {
      broken = sse_write(r, ": ping\n\n", 8);
      last_ping = cb_mono_ns();
    }
  }
  cb_buf_free(&b);
  if (!broken)
    mg_send_chunk(r->conn, "", 0);
  else
    mg_disable_keep_alive(r->conn);
  atomic_fetch_sub(&sse_open, 1);
  return 200;
}

/* ---- artifacts ---- */

static int send_artifact(struct req *r, const char *kind)
{
  struct cb_file f;
  if (http_load_file(r, r->params[0], CB_READ, &f))
    return r->status;
  struct cb_artifact_row a;
  cb_err e = db_artifact_get(f.id, f.version, kind, &a);
  int64_t version = f.version;
  char status[16];
  snprintf(status, sizeof status, "%s", f.status);
  db_file_clear(&f);
  if (e == CB_ENOTFOUND)
    return http_problem(r, 404, NULL, "file %s (version %lld) has no %s%s", r->params[0], (long long)version, kind,
                        strcmp(status, "processed") ? " yet: it is still being processed or failed" : "");
  if (e)
    return http_error(r, e, "cannot read the artifact");
  char etag[70];
  snprintf(etag, sizeof etag, "\"%s\"", a.sha256);
  const char *inm = http_header(r, "If-None-Match");
  if (inm && strstr(inm, a.sha256)) {
    const char *hdr[] = {"ETag", etag, NULL};
    http_send(r, 304, NULL, NULL, 0, hdr);
    return 304;
  }
  const char *hdr[] = {"ETag", etag, "Cache-Control", "private, no-cache", NULL};
  if (http_begin(r, 200, a.media_type, a.size, hdr) || r->is_head || !a.size)
    return 200;
  struct cb_errbuf eb = {{0}};
  e = store_get_range(app.store, a.sha256, 0, (uint64_t)a.size, http_sink, r, &eb);
  if (e)
    mg_disable_keep_alive(r->conn);
  return 200;
}

int h_file_text(struct req *r)
{
  return send_artifact(r, "text");
}

int h_file_artifact(struct req *r)
{
  const char *kind = r->params[1];
  for (const char *p = kind; *p; p++)
    if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '_' || *p == '-')) /* preview-p2 */
      return http_problem(r, 404, NULL, "no artifact %s", kind);
  return send_artifact(r, kind);
}

/* Where the job a request waits for stands: 1 succeeded, 0 failed or canceled (err says
 * why), -1 still queued or running, -2 unreadable. */
static int job_ended(const char *id, struct cb_errbuf *eb)
{
  struct cb_job now;
  if (db_job_get(id, &now))
    return -2;
  int done = !strcmp(now.state, "succeeded"), failed = !strcmp(now.state, "failed") || !strcmp(now.state, "canceled");
  if (failed)
    cb_errf(eb, "%s", now.error);
  db_job_clear(&now);
  return done ? 1 : failed ? 0 : -1;
}

#define RECHECK_NS 1000000000ull   /* the row is read at least this often: a missed event costs no more */
#define STOP_CHECK_NS 100000000ull /* a stopping server lets a waiting request go this soon */

/* Queues a job of `type` in the interactive lane for the caller, or joins one queued or
 * running with the same type, inputs and params (*joined set): a second request for the
 * same depiction or conversion waits for the first one's job. The route checked the
 * caller's access before, and what the job makes is the same whoever asked for it.
 * 0 with job_id, -2 with eb. */
static int queue_job(struct req *r, const char *type, const char *params, const char *input_id, int *joined_one,
                     char job_id[CB_ID_LEN + 1], struct cb_errbuf *eb)
{
  struct cb_job j = {0};
  char inputs[CB_ID_LEN + 8], joined[CB_ID_LEN + 1] = "";
  const char *ids[1] = {input_id};
  if (!job_type_find(type)) {
    cb_errf(eb, "cannot queue the work: no job type %s", type);
    return -2;
  }
  cb_id_new(j.id);
  snprintf(j.type, sizeof j.type, "%s", type);
  snprintf(j.owner_id, sizeof j.owner_id, "%s", r->who.user_id);
  snprintf(j.lane, sizeof j.lane, "interactive"); /* a request is waiting for it */
  snprintf(inputs, sizeof inputs, input_id ? "[\"%s\"]" : "[]", input_id);
  j.inputs = inputs;
  j.params = (char *)params;
  j.max_attempts = 2;
  int n = input_id ? 1 : 0;
  cb_err e = db_job_create_once(&j, ids, n, joined);
  if (e) {
    cb_errf(eb, "cannot queue the work: %s", cb_strerror(e));
    return -2;
  }
  *joined_one = joined[0] != '\0';
  memcpy(job_id, joined[0] ? joined : j.id, CB_ID_LEN + 1);
  return 0;
}

/* Waits up to timeout_s for the job: as http_run_job answers. */
static int wait_job(const char *job_id, int timeout_s, int cancel_on_timeout, struct cb_errbuf *eb)
{
  /* The job's events (jobs/events.c) wake this request, which then reads the job's row:
   * watched before the first reading, so that no event falls between it and the wait. */
  struct events_watch w;
  events_watch_start(&w, job_id);
  jobs_wake();
  int ended = -1;
  uint64_t until = cb_mono_ns() + (uint64_t)timeout_s * 1000000000ull, recheck = 0;
  for (uint64_t now = cb_mono_ns(); now < until && !http_stopping(); now = cb_mono_ns()) {
    if (now >= recheck) {
      if ((ended = job_ended(job_id, eb)) != -1)
        break;
      recheck = now + RECHECK_NS;
    }
    uint64_t next = recheck < until ? recheck : until;
    if (next > now + STOP_CHECK_NS)
      next = now + STOP_CHECK_NS;
    if (events_watch_wait(&w, (int)((next - now + 999999) / 1000000)))
      recheck = 0; /* news of the job: read its row now */
  }
  events_watch_stop(&w);
  if (ended >= 0)
    return ended;
  if (cancel_on_timeout) {
    char now[CB_TIME_MAX];
    cb_time_now_rfc3339(now, sizeof now);
    db_job_cancel(job_id, now);
  }
  cb_errf(eb, "still running after %d s (job %s)", timeout_s, job_id);
  return -1;
}

int http_run_job(struct req *r, const char *type, const char *params, const char *input_id, int timeout_s,
                 int cancel_on_timeout, char job_id[CB_ID_LEN + 1], struct cb_errbuf *eb)
{
  int joined = 0;
  if (queue_job(r, type, params, input_id, &joined, job_id, eb))
    return -2;
  /* only the request that queued the job gives up on it: the others joined later and
   * would cancel it for the waiters before them */
  return wait_job(job_id, timeout_s, cancel_on_timeout && !joined, eb);
}
