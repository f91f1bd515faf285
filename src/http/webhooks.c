/* Webhooks: POST /api/v1/webhooks {url, events, secret}. Job and file events that the
 * webhook's owner may see become deliveries (a table, so they survive restarts), posted
 * with X-Carboy-Signature: sha256=HMAC-SHA256(secret, body); failures are retried with
 * exponential backoff (1 s, 2 s, 4 s, ... at most MAX_ATTEMPTS tries).
 *
 * Safe with other people's targets and with one user's dead ones:
 *   - a target must be a public address: the URL's host is resolved when the webhook is
 *     made and refused if any address is loopback, private, link-local, multicast,
 *     unspecified or reserved (util/net.c, every spelling), unless CARBOY_WEBHOOK_ALLOW
 *     (CIDRs) opens it; every connection is checked again at connect time on the very
 *     address curl connects to (CURLOPT_OPENSOCKETFUNCTION), so a name that resolves
 *     elsewhere later is refused too; no redirects, no proxies from the environment;
 *   - at most WEBHOOKS_PER_USER webhooks per user, every one loaded;
 *   - SENDERS threads deliver; one target (scheme, host, port) gets one attempt at a time
 *     and, after a failure, a pause that doubles up to TARGET_PAUSE_MAX_MS, so a dead
 *     target holds one sender for CONNECT_TIMEOUT_MS at most and nobody else waits;
 *   - at most CARBOY_WEBHOOK_QUEUE (1000) pending deliveries per webhook: past that an event is dropped
 *     (carboy_webhook_deliveries_dropped_total);
 *   - CARBOY_WEBHOOK_DISABLE_AFTER (50) failed attempts in a row disable a webhook (listed
 *     with the reason). */
#include <curl/curl.h>
#include <netdb.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "http/http.h"
#include "util/hash.h"
#include "util/log.h"
#include "util/net.h"

#define MAX_ATTEMPTS 8
#define WEBHOOKS_PER_USER 20
#define SENDERS 4
static int queue_max = 1000;   /* CARBOY_WEBHOOK_QUEUE */
static int disable_after = 50; /* CARBOY_WEBHOOK_DISABLE_AFTER */
#define CONNECT_TIMEOUT_MS 3000L
#define TOTAL_TIMEOUT_MS 10000L
#define TARGET_PAUSE_MAX_MS (5 * 60 * 1000LL)
#define TARGETS 512

static pthread_t feeder, senders[SENDERS];
static int nsenders;
static atomic_int running;
static atomic_ullong dropped, disabled_total;
static struct cb_cidr allow[CB_CIDR_MAX]; /* CARBOY_WEBHOOK_ALLOW */
static int nallow;

uint64_t webhooks_dropped(void)
{
  return atomic_load(&dropped);
}

uint64_t webhooks_disabled(void)
{
  return atomic_load(&disabled_total);
}

static int allowed(const unsigned char addr[16])
{
  return !cb_addr_is_internal(addr) || cb_cidr_contains(allow, nallow, addr);
}

/* scheme://host:port of a URL (the unit of fairness), and the host alone, as curl reads
 * them (so every spelling of an IPv4 address comes out dotted). 0, or -1. */
static int url_target(const char *url, char *key, size_t kcap, char *host, size_t hcap, char *port, size_t pcap)
{
  CURLU *u = curl_url();
  char *scheme = NULL, *h = NULL, *p = NULL;
  int rc = -1;
  if (u && !curl_url_set(u, CURLUPART_URL, url, 0) && !curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) &&
      !curl_url_get(u, CURLUPART_HOST, &h, 0) && !curl_url_get(u, CURLUPART_PORT, &p, CURLU_DEFAULT_PORT) &&
      (!strcasecmp(scheme, "http") || !strcasecmp(scheme, "https")) && h[0]) {
    snprintf(key, kcap, "%s://%s:%s", scheme, h, p);
    size_t n = strlen(h);
    if (h[0] == '[' && n > 2) { /* [v6] or [v6%zone] */
      snprintf(host, hcap, "%.*s", (int)(n - 2), h + 1);
      host[strcspn(host, "%")] = '\0';
    } else {
      snprintf(host, hcap, "%s", h);
    }
    snprintf(port, pcap, "%s", p);
    rc = 0;
  }
  curl_free(scheme);
  curl_free(h);
  curl_free(p);
  curl_url_cleanup(u);
  return rc;
}

/* Why a URL may not be a webhook's target ("" when it may): every address its host
 * resolves to must be allowed. */
static void url_refused(const char *url, struct cb_errbuf *why)
{
  char key[600], host[300], port[16];
  why->msg[0] = '\0';
  if (url_target(url, key, sizeof key, host, sizeof host, port, sizeof port)) {
    cb_errf(why, "field 'url' must be an http:// or https:// URL with a host");
    return;
  }
  struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res = NULL;
  int gai = getaddrinfo(host, port, &hints, &res);
  if (gai) {
    cb_errf(why, "the host %s cannot be resolved: %s", host, gai_strerror(gai));
    return;
  }
  for (struct addrinfo *a = res; a; a = a->ai_next) {
    unsigned char addr[16];
    if (cb_addr_from_sockaddr(a->ai_addr, addr))
      continue;
    if (!allowed(addr)) {
      char text[64];
      cb_addr_text(addr, text, sizeof text);
      cb_errf(why,
              "the host %s is an internal address (%s): webhooks go to public addresses only, unless"
              " an administrator opens it with CARBOY_WEBHOOK_ALLOW",
              host, text);
      break;
    }
  }
  freeaddrinfo(res);
}

#define F(f, kind) JS_FIELD(struct cb_webhook, f, kind)
static const struct json_shape webhook_shape[] = {
  F(id, JS_TEXT),           F(url, JS_TEXT), F(created_at, JS_TEXT), JS_NUMBER(struct cb_webhook, failures),
  F(last_error, JS_IF_SET),
};
#undef F

static cJSON *json_webhook(const struct cb_webhook *w)
{
  cJSON *o = JSON_SHAPE(cJSON_CreateObject(), w, webhook_shape);
  cJSON *ev = cJSON_Parse(w->events);
  cJSON_AddItemToObject(o, "events", ev ? ev : cJSON_CreateArray());
  cJSON_AddBoolToObject(o, "disabled", w->disabled_at[0] != '\0');
  if (w->disabled_at[0]) {
    cJSON_AddStringToObject(o, "disabled_at", w->disabled_at);
    cJSON_AddStringToObject(o, "disabled_reason", w->disabled_reason);
  }
  return o;
}

static int valid_event(const char *e)
{
  // clang-format off
  static const char *const names[] = {
    "*",
    "job.queued", "job.running", "job.succeeded", "job.failed", "job.canceled",
    "file.processing", "file.processed", "file.failed",
    NULL,
  };
  // clang-format on
  for (int i = 0; names[i]; i++)
    if (!strcmp(e, names[i]))
      return 1;
  return 0;
}

int h_webhooks_create(struct req *r)
{
  cJSON *body = http_read_create_json(r, "webhooks");
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
      st = http_problem(r, 400, "events",
                        "unknown event %s; known: *, job.queued, job.running, job.succeeded,"
                        " job.failed, job.canceled, file.processing, file.processed, file.failed",
                        cJSON_IsString(it) ? it->valuestring : "(not a string)");
      goto out;
    }
  }
  /* the costly checks last: resolving the host, the user's count */
  struct cb_errbuf why;
  url_refused(url, &why);
  if (why.msg[0]) {
    st = http_problem(r, 400, "url", "%s", why.msg);
    goto out;
  }
  int64_t have = 0;
  if (!db_webhook_count(r->who.user_id, &have) && have >= WEBHOOKS_PER_USER) {
    st = http_problem(r, 409, NULL, "you have %d webhooks, the most one user may have; delete one first",
                      WEBHOOKS_PER_USER);
    goto out;
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

HTTP_JSON_VISITOR(add_webhook, struct cb_webhook, json_webhook)

int h_webhooks_list(struct req *r)
{
  if (http_require_user(r))
    return r->status;
  cJSON *o = cJSON_CreateObject();
  cb_err e = db_webhook_list(r->who.user_id, add_webhook, cJSON_AddArrayToObject(o, "webhooks"));
  return http_json_or_error(r, o, e, "cannot list webhooks");
}

int h_webhooks_delete(struct req *r)
{
  if (http_require_user(r))
    return r->status;
  char now[CB_TIME_MAX];
  cb_time_now_rfc3339(now, sizeof now);
  cb_err e = cb_id_valid(r->params[0]) && !r->who.read_only ? db_webhook_delete(r->who.user_id, r->params[0], now)
                                                            : CB_ENOTFOUND;
  return http_deleted(r, e, "webhook", "webhook.delete", "cannot delete the webhook");
}

struct one_hook {
  const char *id;
  cJSON *json;
};

static int find_hook(const struct cb_webhook *w, void *ctx)
{
  struct one_hook *h = ctx;
  if (strcmp(w->id, h->id))
    return 0;
  h->json = json_webhook(w);
  return 1;
}

/* {"disabled": false} turns a webhook on again (after CARBOY_WEBHOOK_DISABLE_AFTER
 * failures, say); {"disabled": true} pauses it by hand. */
int h_webhooks_patch(struct req *r)
{
  cJSON *body = http_read_user_json(r);
  if (!body)
    return r->status;
  int st = 0;
  cJSON *it;
  cJSON_ArrayForEach(it, body)
  {
    if (strcmp(it->string, "disabled")) {
      st = http_problem(r, 400, it->string,
                        "unknown field '%s': a webhook's URL, secret and events are fixed"
                        " (create another); only 'disabled' changes",
                        it->string);
      goto out;
    }
  }
  cJSON *dis = cJSON_GetObjectItemCaseSensitive(body, "disabled");
  if (!cJSON_IsBool(dis)) {
    st = http_problem(r, 400, "disabled", "field 'disabled' must be true or false");
    goto out;
  }
  char now[CB_TIME_MAX];
  cb_time_now_rfc3339(now, sizeof now);
  cb_err e = cb_id_valid(r->params[0]) && !r->who.read_only
               ? db_webhook_set_disabled(r->who.user_id, r->params[0], cJSON_IsTrue(dis), now)
               : CB_ENOTFOUND;
  if (e == CB_ENOTFOUND) {
    st = http_problem(r, 404, NULL, "no webhook %s", r->params[0]);
    goto out;
  }
  if (e) {
    st = http_error(r, e, "cannot change the webhook");
    goto out;
  }
  http_audit(r, cJSON_IsTrue(dis) ? "webhook.disable" : "webhook.enable", "webhook", r->params[0], NULL);
  struct one_hook h = {r->params[0], NULL};
  e = db_webhook_list(r->who.user_id, find_hook, &h);
  st = h.json ? http_json(r, 200, h.json) : http_error(r, e ? e : CB_ENOTFOUND, "cannot read the webhook back");
out:
  cJSON_Delete(body);
  return st ? st : r->status;
}

/* ---- the sender ---- */

static int collect_hook(const struct cb_webhook *w, void *ctx)
{
  return cb_vec_push(ctx, w);
}

static int subscribed(const struct cb_webhook *w, const char *event)
{
  cJSON *ev = cJSON_Parse(w->events), *it;
  int yes = 0;
  cJSON_ArrayForEach(it, ev) if (cJSON_IsString(it) &&
                                 (!strcmp(it->valuestring, "*") || !strcmp(it->valuestring, event))) yes = 1;
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

static void enqueue(const struct cb_event *ev, const struct cb_vec *hooks)
{
  const struct cb_webhook *w = hooks->items;
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
  for (size_t i = 0; i < hooks->n; i++) {
    if (!subscribed(&w[i], name) || !owner_sees(&w[i], ev))
      continue;
    int64_t pending = 0;
    if (!db_delivery_pending(w[i].id, &pending) && pending >= queue_max) {
      if (atomic_fetch_add(&dropped, 1) % 1000 == 0)
        CB_LOG(CB_LOG_WARN, "webhooks", "webhook %s has %d deliveries waiting: new events for it are dropped", w[i].id,
               queue_max);
      continue;
    }
    if (!payload) {
      payload = cJSON_CreateObject();
      cJSON_AddStringToObject(payload, "event", name);
      cJSON_AddStringToObject(payload, "at", now);
      cJSON_AddItemToObject(payload, "data", cJSON_Duplicate(data, 1));
    }
    char *text = cJSON_PrintUnformatted(payload);
    if (text)
      db_delivery_add(w[i].id, name, text, now);
    cJSON_free(text);
  }
  cJSON_Delete(payload);
  cJSON_Delete(data);
}

/* The feeder: events become deliveries. */
static void *feed(void *arg)
{
  (void)arg;
  uint64_t seq = events_last_seq();
  struct cb_event evs[64];
  struct cb_vec h = {.elem = sizeof(struct cb_webhook)};
  while (atomic_load(&running)) {
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
  }
  free(h.items);
  db_thread_close();
  return NULL;
}

/* Targets being tried, and the pause after a failure; one attempt per target at a time. */
struct target {
  char key[600];
  int busy;
  int failures;
  int64_t paused_until;
};
static struct target targets[TARGETS];
static int64_t in_flight[SENDERS];
static pthread_mutex_t tlock = PTHREAD_MUTEX_INITIALIZER;

static struct target *target_for(const char *key, int create)
{
  struct target *free_slot = NULL;
  int64_t now = cb_time_now_ms();
  for (int i = 0; i < TARGETS; i++) {
    if (!strcmp(targets[i].key, key))
      return &targets[i];
    if (!free_slot && (!targets[i].key[0] || (!targets[i].busy && targets[i].paused_until < now - 600000)))
      free_slot = &targets[i];
  }
  if (!create || !free_slot)
    return NULL;
  memset(free_slot, 0, sizeof *free_slot);
  snprintf(free_slot->key, sizeof free_slot->key, "%s", key);
  return free_slot;
}

#define DUE_BATCH 256 /* webhooks looked at per pick (each gives its oldest due delivery) */

struct due {
  struct cb_delivery d[DUE_BATCH];
  int n;
};

static int collect_due(const struct cb_delivery *d, void *ctx)
{
  struct due *due = ctx;
  due->d[due->n] = *d;
  due->d[due->n].payload = strdup(d->payload ? d->payload : "");
  due->n++;
  return due->n >= DUE_BATCH;
}

static size_t discard(char *p, size_t s, size_t n, void *u)
{
  (void)p, (void)u;
  return s * n;
}

struct connect_check {
  int refused;
  char addr[64];
};

/* Every address curl is about to connect to is checked here, whatever the name resolved
 * to when the webhook was made (DNS can change). */
static curl_socket_t open_checked(void *clientp, curlsocktype purpose, struct curl_sockaddr *a)
{
  struct connect_check *cc = clientp;
  unsigned char addr[16];
  (void)purpose;
  if (cb_addr_from_sockaddr(&a->addr, addr) || !allowed(addr)) {
    cc->refused = 1;
    cb_addr_text(addr, cc->addr, sizeof cc->addr);
    return CURL_SOCKET_BAD;
  }
  return socket(a->family, a->socktype | SOCK_CLOEXEC, a->protocol);
}

/* One attempt; 1 when it was delivered. eb gets why not. */
static int attempt(CURL *curl, struct cb_delivery *d, struct cb_errbuf *eb, long *status)
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
  struct connect_check cc = {0};
  curl_easy_reset(curl);
  curl_easy_setopt(curl, CURLOPT_URL, d->url);
  curl_easy_setopt(curl, CURLOPT_POSTFIELDS, d->payload);
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, h);
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS, CONNECT_TIMEOUT_MS);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, TOTAL_TIMEOUT_MS);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, discard);
  curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(curl, CURLOPT_PROXY, ""); /* never a proxy from the environment */
  curl_easy_setopt(curl, CURLOPT_OPENSOCKETFUNCTION, open_checked);
  curl_easy_setopt(curl, CURLOPT_OPENSOCKETDATA, &cc);
  curl_easy_setopt(curl, CURLOPT_USERAGENT, "carboy-webhooks");
  CURLcode rc = curl_easy_perform(curl);
  *status = 0;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, status);
  curl_slist_free_all(h);
  if (rc == CURLE_OK && *status >= 200 && *status < 300)
    return 1;
  if (cc.refused)
    cb_errf(eb, "refused: the target resolves to an internal address (%s); CARBOY_WEBHOOK_ALLOW opens it", cc.addr);
  else if (rc != CURLE_OK)
    cb_errf(eb, "%s", curl_easy_strerror(rc));
  else
    cb_errf(eb, "answered %ld", *status);
  return 0;
}

static void deliver(CURL *curl, struct cb_delivery *d, struct target *t)
{
  struct cb_errbuf eb = {""};
  const char *err = eb.msg; /* attempt's reasons are short (under 200 bytes) */
  long status = 0;
  int ok = attempt(curl, d, &eb, &status);
  int attempts = d->attempts + 1, disabled = 0;
  if (ok) {
    db_delivery_result(d->id, "delivered", attempts, NULL, (int)status, NULL);
  } else {
    char next[CB_TIME_MAX];
    cb_time_rfc3339(cb_time_now_ms() + (1LL << (attempts < 12 ? attempts - 1 : 11)) * 1000, next, sizeof next);
    int give_up = attempts >= MAX_ATTEMPTS;
    if (give_up)
      CB_LOG(CB_LOG_WARN, "webhooks", "delivery %lld to %s failed %d times (%s): giving up", (long long)d->id, d->url,
             attempts, err);
    db_delivery_result(d->id, give_up ? "failed" : "pending", attempts, next, (int)status, err);
  }
  db_webhook_result(d->webhook_id, ok, err, disable_after, &disabled);
  if (disabled) {
    atomic_fetch_add(&disabled_total, 1);
    CB_LOG(CB_LOG_WARN, "webhooks", "webhook %s (%s) disabled after %d failed attempts in a row: %s", d->webhook_id,
           d->url, disable_after, err);
  }
  pthread_mutex_lock(&tlock);
  t->busy = 0;
  if (ok) {
    t->failures = 0;
    t->paused_until = 0;
  } else {
    int k = t->failures < 20 ? t->failures : 20;
    int64_t pause = 1000LL << k;
    t->failures++;
    t->paused_until = cb_time_now_ms() + (pause < TARGET_PAUSE_MAX_MS ? pause : TARGET_PAUSE_MAX_MS);
  }
  pthread_mutex_unlock(&tlock);
}

/* A sender: takes the oldest due delivery whose target is free and not paused. */
static void *send_loop(void *arg)
{
  int me = (int)(intptr_t)arg;
  CURL *curl = curl_easy_init();
  struct due *batch = malloc(sizeof *batch); /* ~600 KiB: not on the stack */
  while (atomic_load(&running) && curl && batch) {
    struct due *dp = batch;
    dp->n = 0;
    struct cb_delivery *pick = NULL;
    struct target *t = NULL;
    char now[CB_TIME_MAX];
    cb_time_now_rfc3339(now, sizeof now);
    pthread_mutex_lock(&tlock);
    db_delivery_due(now, DUE_BATCH, collect_due, dp);
    int64_t now_ms = cb_time_now_ms();
    for (int i = 0; i < dp->n && !pick; i++) {
      int taken = 0;
      for (int j = 0; j < SENDERS; j++)
        taken |= in_flight[j] == dp->d[i].id;
      char key[600], host[300], port[16];
      if (taken || url_target(dp->d[i].url, key, sizeof key, host, sizeof host, port, sizeof port))
        continue;
      struct target *x = target_for(key, 1);
      if (!x || x->busy || x->paused_until > now_ms)
        continue;
      x->busy = 1;
      in_flight[me] = dp->d[i].id;
      pick = &dp->d[i];
      t = x;
    }
    pthread_mutex_unlock(&tlock);
    if (pick) {
      deliver(curl, pick, t);
      pthread_mutex_lock(&tlock);
      in_flight[me] = 0;
      pthread_mutex_unlock(&tlock);
    }
    for (int i = 0; i < dp->n; i++)
      free(dp->d[i].payload);
    if (!pick) /* nothing to do now */
      usleep(200 * 1000);
  }
  free(batch);
  if (curl)
    curl_easy_cleanup(curl);
  db_thread_close();
  return NULL;
}

cb_err webhooks_start(const char *allow_spec, int queue, int disable, struct cb_errbuf *eb)
{
  struct cb_errbuf bad;
  if (queue > 0)
    queue_max = queue;
  if (disable > 0)
    disable_after = disable;
  if (cb_cidr_parse_list(allow_spec, allow, CB_CIDR_MAX, &nallow, &bad)) {
    cb_errf(eb, "invalid CARBOY_WEBHOOK_ALLOW entry '%s'", bad.msg);
    return CB_EINVAL;
  }
  if (curl_global_init(CURL_GLOBAL_DEFAULT)) {
    cb_errf(eb, "cannot start libcurl");
    return CB_EIO;
  }
  atomic_store(&running, 1);
  if (pthread_create(&feeder, NULL, feed, NULL)) {
    atomic_store(&running, 0);
    cb_errf(eb, "cannot start the webhook thread");
    return CB_EIO;
  }
  for (nsenders = 0; nsenders < SENDERS; nsenders++)
    if (pthread_create(&senders[nsenders], NULL, send_loop, (void *)(intptr_t)nsenders))
      break;
  return CB_OK;
}

void webhooks_stop(void)
{
  if (!atomic_load(&running))
    return;
  atomic_store(&running, 0);
  pthread_join(feeder, NULL);
  for (int i = 0; i < nsenders; i++)
    pthread_join(senders[i], NULL);
  curl_global_cleanup();
}
