/* Webhooks: POST /api/v1/webhooks {url, events, secret}. Job and file events that the
 * webhook's owner may see become deliveries (a table, so they survive restarts); one
 * thread posts them with X-Carboy-Signature: sha256=HMAC-SHA256(secret, body) and retries
 * failures with exponential backoff (1 s, 2 s, 4 s, ... at most MAX_ATTEMPTS tries). */
#include <curl/curl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http/http.h"
#include "util/hash.h"
#include "util/log.h"

#define MAX_ATTEMPTS 8
#define MAX_HOOKS 256

static pthread_t thread;
static atomic_int running;

static cJSON *json_webhook(const struct cb_webhook *w)
{
  cJSON *o = cJSON_CreateObject();
  cJSON_AddStringToObject(o, "id", w->id);
  cJSON_AddStringToObject(o, "url", w->url);
  cJSON *ev = cJSON_Parse(w->events);
  cJSON_AddItemToObject(o, "events", ev ? ev : cJSON_CreateArray());
  cJSON_AddStringToObject(o, "created_at", w->created_at);
  return o;
}

static int valid_event(const char *e)
{
  static const char *const names[] = {"*", "job.queued", "job.running", "job.succeeded", "job.failed",
                                      "job.canceled", "file.processing", "file.processed", "file.failed", NULL};
  for (int i = 0; names[i]; i++)
    if (!strcmp(e, names[i]))
      return 1;
  return 0;
}

int h_webhooks_create(struct req *r)
{
  if (http_require_user(r))
    return r->status;
  if (r->who.read_only) {
    http_drop_body(r);
    return http_problem(r, 403, NULL, "a read-only token cannot create webhooks");
  }
  cJSON *body = http_read_json(r);
  if (!body)
    return r->status;
  int st = 0;
  const char *url = NULL, *secret = NULL;
  if (json_opt_string(r, body, "url", &url) < 0 || json_opt_string(r, body, "secret", &secret) < 0)
    goto out;
  if (!url || (strncasecmp(url, "http://", 7) && strncasecmp(url, "https://", 8)) || strlen(url) > 2000) {
    st = http_problem(r, 400, "url", "field 'url' must be an http:// or https:// URL of at most 2000 bytes");
    goto out;
  }
  if (!secret || strlen(secret) < 16 || strlen(secret) > 200) {
    st = http_problem(r, 400, "secret", "field 'secret' must be 16 to 200 characters");
    goto out;
  }
  cJSON *events = cJSON_GetObjectItemCaseSensitive(body, "events");
  if (!cJSON_IsArray(events) || !cJSON_GetArraySize(events) || cJSON_GetArraySize(events) > 20) {
    st = http_problem(r, 400, "events", "field 'events' must list 1 to 20 event names");
    goto out;
  }
  cJSON *it;
  cJSON_ArrayForEach(it, events)
  {
    if (!cJSON_IsString(it) || !valid_event(it->valuestring)) {
      st = http_problem(r, 400, "events", "unknown event %s; known: *, job.queued, job.running, job.succeeded,"
                        " job.failed, job.canceled, file.processing, file.processed, file.failed",
                        cJSON_IsString(it) ? it->valuestring : "(not a string)");
      goto out;
    }
  }
  struct cb_webhook w = {0};
  cb_id_new(w.id);
  memcpy(w.owner_id, r->who.user_id, sizeof w.owner_id);
  snprintf(w.url, sizeof w.url, "%s", url);
  snprintf(w.secret, sizeof w.secret, "%s", secret);
  char *ev = cJSON_PrintUnformatted(events);
  snprintf(w.events, sizeof w.events, "%s", ev ? ev : "[]");
  cJSON_free(ev);
  cb_time_now_rfc3339(w.created_at, sizeof w.created_at);
  cb_err e = db_webhook_create(&w);
  if (e) {
    st = http_error(r, e, "cannot create the webhook");
    goto out;
  }
  http_audit(r, "webhook.create", "webhook", w.id, w.url);
  st = http_json(r, 201, json_webhook(&w));
out:
  cJSON_Delete(body);
  return st ? st : r->status;
}

static int add_webhook(const struct cb_webhook *w, void *ctx)
{
  cJSON_AddItemToArray(ctx, json_webhook(w));
  return 0;
}

int h_webhooks_list(struct req *r)
{
  if (http_require_user(r))
    return r->status;
  cJSON *o = cJSON_CreateObject();
  cb_err e = db_webhook_list(r->who.user_id, add_webhook, cJSON_AddArrayToObject(o, "webhooks"));
  if (e) {
    cJSON_Delete(o);
    return http_error(r, e, "cannot list webhooks");
  }
  return http_json(r, 200, o);
}

int h_webhooks_delete(struct req *r)
{
  if (http_require_user(r))
    return r->status;
  char now[CB_TIME_MAX];
  cb_time_now_rfc3339(now, sizeof now);
  cb_err e = cb_id_valid(r->params[0]) && !r->who.read_only ? db_webhook_delete(r->who.user_id, r->params[0], now)
                                                             : CB_ENOTFOUND;
  if (e == CB_ENOTFOUND)
    return http_problem(r, 404, NULL, "no webhook %s", r->params[0]);
  if (e)
    return http_error(r, e, "cannot delete the webhook");
  http_audit(r, "webhook.delete", "webhook", r->params[0], NULL);
  return http_no_content(r, NULL);
}

/* ---- the sender ---- */

struct hooks {
  struct cb_webhook *w;
  int n;
};

static int collect_hook(const struct cb_webhook *w, void *ctx)
{
  struct hooks *h = ctx;
  if (h->n < MAX_HOOKS)
    h->w[h->n++] = *w;
  return 0;
}

static int subscribed(const struct cb_webhook *w, const char *event)
{
  cJSON *ev = cJSON_Parse(w->events), *it;
  int yes = 0;
  cJSON_ArrayForEach(it, ev) if (cJSON_IsString(it) && (!strcmp(it->valuestring, "*") || !strcmp(it->valuestring, event)))
    yes = 1;
  cJSON_Delete(ev);
  return yes;
}

/* May the webhook's owner see this event? The same rule as the event stream. */
static int owner_sees(const struct cb_webhook *w, const struct cb_event *ev)
{
  if (ev->owner_id[0] && !strcmp(ev->owner_id, w->owner_id))
    return 1;
  struct cb_user u;
  if (db_user_get(w->owner_id, &u))
    return 0;
  struct cb_identity who = {0};
  memcpy(who.user_id, u.id, sizeof who.user_id);
  who.is_admin = u.is_admin;
  who.via = CB_VIA_TOKEN;
  enum cb_role role;
  return who.is_admin || (ev->file_id[0] && !auth_role(&who, "file", ev->file_id, &role));
}

static void enqueue(const struct cb_event *ev, const struct hooks *h)
{
  cJSON *data = cJSON_Parse(ev->data);
  cJSON *st = cJSON_GetObjectItemCaseSensitive(data, !strcmp(ev->type, "job") ? "state" : "status");
  if (!cJSON_IsString(st)) {
    cJSON_Delete(data);
    return;
  }
  char name[64], now[CB_TIME_MAX];
  snprintf(name, sizeof name, "%s.%s", ev->type, st->valuestring);
  cb_time_now_rfc3339(now, sizeof now);
  cJSON *payload = NULL;
  for (int i = 0; i < h->n; i++) {
    if (!subscribed(&h->w[i], name) || !owner_sees(&h->w[i], ev))
      continue;
    if (!payload) {
      payload = cJSON_CreateObject();
      cJSON_AddStringToObject(payload, "event", name);
      cJSON_AddStringToObject(payload, "at", now);
      cJSON_AddItemToObject(payload, "data", cJSON_Duplicate(data, 1));
    }
    char *text = cJSON_PrintUnformatted(payload);
    if (text)
      db_delivery_add(h->w[i].id, name, text, now);
    cJSON_free(text);
  }
  cJSON_Delete(payload);
  cJSON_Delete(data);
}

static size_t discard(char *p, size_t s, size_t n, void *u)
{
  (void)p, (void)u;
  return s * n;
}

struct due {
  struct cb_delivery d[32];
  int n;
};

static int collect_due(const struct cb_delivery *d, void *ctx)
{
  struct due *due = ctx;
  due->d[due->n] = *d;
  due->d[due->n].payload = strdup(d->payload);
  due->n++;
  return due->n >= 32;
}

static void deliver(CURL *curl, struct cb_delivery *d)
{
  char sig[CB_SHA256_HEX], hsig[100], hev[100], hid[64];
  cb_hmac_sha256_hex(d->secret, d->payload, strlen(d->payload), sig);
  snprintf(hsig, sizeof hsig, "X-Carboy-Signature: sha256=%s", sig);
  snprintf(hev, sizeof hev, "X-Carboy-Event: %s", d->event);
  snprintf(hid, sizeof hid, "X-Carboy-Delivery: %lld", (long long)d->id);
  struct curl_slist *h = curl_slist_append(NULL, "Content-Type: application/json");
  h = curl_slist_append(h, hsig);
  h = curl_slist_append(h, hev);
  h = curl_slist_append(h, hid);
  h = curl_slist_append(h, "Expect:");
  curl_easy_reset(curl);
  curl_easy_setopt(curl, CURLOPT_URL, d->url);
  curl_easy_setopt(curl, CURLOPT_POSTFIELDS, d->payload);
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, h);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT, 10L);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, discard);
  curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(curl, CURLOPT_USERAGENT, "carboy-webhooks");
  CURLcode rc = curl_easy_perform(curl);
  long status = 0;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &status);
  curl_slist_free_all(h);
  int attempts = d->attempts + 1;
  if (rc == CURLE_OK && status >= 200 && status < 300) {
    db_delivery_result(d->id, "delivered", attempts, NULL, (int)status, NULL);
    return;
  }
  char err[256];
  snprintf(err, sizeof err, "%s", rc != CURLE_OK ? curl_easy_strerror(rc) : "non-2xx answer");
  char next[CB_TIME_MAX];
  cb_time_rfc3339(cb_time_now_ms() + (1LL << (attempts < 12 ? attempts - 1 : 11)) * 1000, next, sizeof next);
  int give_up = attempts >= MAX_ATTEMPTS;
  if (give_up)
    CB_LOG(CB_LOG_WARN, "webhooks", "delivery %lld to %s failed %d times (%s): giving up", (long long)d->id, d->url,
           attempts, err);
  db_delivery_result(d->id, give_up ? "failed" : "pending", attempts, next, (int)status, err);
}

static void *sender(void *arg)
{
  (void)arg;
  CURL *curl = curl_easy_init();
  uint64_t seq = events_last_seq();
  struct cb_event evs[64];
  struct hooks h = {calloc(MAX_HOOKS, sizeof(struct cb_webhook)), 0};
  while (atomic_load(&running) && curl && h.w) {
    int n = events_wait(&seq, evs, 64, 1000);
    if (n) {
      h.n = 0;
      db_webhook_list(NULL, collect_hook, &h);
    }
    for (int i = 0; i < n; i++) {
      if (h.n)
        enqueue(&evs[i], &h);
      free(evs[i].data);
    }
    struct due due = {.n = 0};
    char now[CB_TIME_MAX];
    cb_time_now_rfc3339(now, sizeof now);
    db_delivery_due(now, 32, collect_due, &due);
    for (int i = 0; i < due.n; i++) {
      if (atomic_load(&running))
        deliver(curl, &due.d[i]);
      free(due.d[i].payload);
    }
  }
  free(h.w);
  if (curl)
    curl_easy_cleanup(curl);
  db_thread_close();
  return NULL;
}

cb_err webhooks_start(void)
{
  if (curl_global_init(CURL_GLOBAL_DEFAULT))
    return CB_EIO;
  atomic_store(&running, 1);
  if (pthread_create(&thread, NULL, sender, NULL)) {
    atomic_store(&running, 0);
    return CB_EIO;
  }
  return CB_OK;
}

void webhooks_stop(void)
{
  if (!atomic_load(&running))
    return;
  atomic_store(&running, 0);
  pthread_join(thread, NULL);
  curl_global_cleanup();
}
