/* Which store is live, and how a running server follows a migration.
 *
 * The database is the authority on where its blobs are: settings.store_url is written by
 * carboy migrate when it switches (absent: DATA/blobs, so a data folder can be moved as a
 * whole). A server opens that store as the current store of a tier (store/tier.c) with
 * the previous store (settings.store_previous_url) behind it for reads that miss, and a
 * watcher thread re-reads the setting every second: when a migration switches it, the
 * tier switches, and from then on new blobs go to the new store without a restart. The
 * watcher also writes settings.store_in_use (the URL, updated_at as a heartbeat every few
 * seconds), which carboy migrate waits on before its last pass. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "db/db.h"
#include "maint/maint.h"
#include "maint/periodic.h"
#include "util/log.h"
#include "util/util.h"

void maint_url_canon(const char *url, char *out, size_t cap)
{
  const char *path = NULL;
  if (!strncmp(url, "file://", 7))
    path = url + 7;
  else if (url[0] == '/')
    path = url;
  if (!path || path[0] != '/') {
    snprintf(out, cap, "%s", url);
    return;
  }
  struct cb_buf b = {0};
  cb_buf_puts(&b, "file://");
  const char *p = path;
  while (*p) {
    while (*p == '/')
      p++;
    const char *end = strchr(p, '/');
    size_t n = end ? (size_t)(end - p) : strlen(p);
    if (n && !(n == 1 && p[0] == '.')) {
      cb_buf_puts(&b, "/");
      cb_buf_append(&b, p, n);
    }
    p += n;
  }
  if (b.len == 7)
    cb_buf_puts(&b, "/");
  snprintf(out, cap, "%s", b.data ? b.data : url);
  cb_buf_free(&b);
}

static int same_url(const char *a, const char *b)
{
  char ca[CB_URL_MAX], cb[CB_URL_MAX];
  maint_url_canon(a, ca, sizeof ca);
  maint_url_canon(b, cb, sizeof cb);
  return !strcmp(ca, cb);
}

cb_err maint_store_resolve(const char *explicit_url, const char *default_url, char *out, size_t cap,
                           struct cb_errbuf *warn, struct cb_errbuf *eb)
{
  char recorded[CB_URL_MAX] = "", prev[CB_URL_MAX] = "", live[CB_URL_MAX];
  cb_err e = db_setting_get("store_url", recorded, sizeof recorded, NULL);
  if (e && e != CB_ENOTFOUND) {
    cb_errf(eb, "cannot read the live store from the database: %s", cb_strerror(e));
    return e;
  }
  db_setting_get("store_previous_url", prev, sizeof prev, NULL);
  maint_url_canon(recorded[0] ? recorded : default_url, live, sizeof live);
  if (!explicit_url) {
    snprintf(out, cap, "%s", live);
    return CB_OK;
  }
  if (same_url(explicit_url, live)) {
    snprintf(out, cap, "%s", live);
    return CB_OK;
  }
  if (!recorded[0] && !prev[0]) { /* no migration ever: the setting is the store */
    maint_url_canon(explicit_url, out, cap);
    return CB_OK;
  }
  if (prev[0] && same_url(explicit_url, prev)) {
    cb_errf(warn,
            "--store/CARBOY_STORE %s names the store carboy migrate moved away from: using %s "
            "(update the setting)",
            explicit_url, live);
    snprintf(out, cap, "%s", live);
    return CB_OK;
  }
  cb_errf(eb,
          "--store/CARBOY_STORE %s is not this database's store, %s (unset it; carboy migrate "
          "moves blobs)",
          explicit_url, live);
  return CB_EINVAL;
}

cb_err maint_live_open(const char *explicit_url, const char *default_url, struct store *opened, struct store **out,
                       struct cb_errbuf *eb)
{
  char url[CB_URL_MAX], prev_url[CB_URL_MAX] = "";
  struct cb_errbuf warn = {{0}};
  struct store *cur = NULL, *prev = NULL;
  cb_err e = maint_store_resolve(explicit_url, default_url, url, sizeof url, &warn, eb);
  if (e) {
    store_close(opened);
    return e;
  }
  if (warn.msg[0])
    CB_LOG(CB_LOG_WARN, "store", "%s", warn.msg);
  if (opened && same_url(url, store_url(opened))) /* the configured store is the live one */
    cur = opened;
  else
    store_close(opened);
  if (!cur && (e = store_open(url, &cur, eb)))
    return e;
  /* An explicit store that opens is remembered, so that migrate, verify and the next
   * start find it without the setting (the default, DATA/blobs, is never recorded). */
  char recorded[CB_URL_MAX] = "";
  if (db_setting_get("store_url", recorded, sizeof recorded, NULL) == CB_ENOTFOUND && !same_url(url, default_url))
    db_setting_set("store_url", url);
  if (!db_setting_get("store_previous_url", prev_url, sizeof prev_url, NULL) && !same_url(prev_url, url)) {
    struct cb_errbuf peb = {{0}};
    if (store_open(prev_url, &prev, &peb))
      CB_LOG(CB_LOG_WARN, "store",
             "the previous store %s does not open (%s): reads that miss in %s "
             "will fail",
             prev_url, peb.msg, url);
  }
  const char *lazy = getenv("CARBOY_STORE_LAZY_COPY");
  e = store_tier_open(cur, prev, !(lazy && !strcmp(lazy, "0")), out);
  if (e) {
    store_close(cur);
    store_close(prev);
    return e;
  }
  db_setting_set("store_in_use", url);
  return CB_OK;
}

/* ---- the watcher ---- */

static struct {
  struct periodic thread;
  struct store *tier;
  char default_url[CB_URL_MAX];
  int ticks;
} w = {.thread = PERIODIC_INIT};

#define WATCH_EVERY_S 1
#define HEARTBEAT_EVERY 5 /* ticks */

static void watch_tick(void *arg)
{
  (void)arg;
  int *ticks = &w.ticks;
  char want[CB_URL_MAX], have[CB_URL_MAX], recorded[CB_URL_MAX] = "";
  cb_err e = db_setting_get("store_url", recorded, sizeof recorded, NULL);
  if (e && e != CB_ENOTFOUND)
    return;
  maint_url_canon(recorded[0] ? recorded : w.default_url, want, sizeof want);
  store_tier_current_url(w.tier, have, sizeof have);
  int changed = 0;
  if (!same_url(want, have)) {
    struct store *next = NULL;
    struct cb_errbuf eb = {{0}};
    if (store_open(want, &next, &eb)) {
      CB_LOG(CB_LOG_ERROR, "store",
             "the database says the live store is now %s, but it does not "
             "open: %s (still using %s)",
             want, eb.msg, have);
    } else if (store_tier_switch(w.tier, next)) {
      store_close(next);
    } else {
      changed = 1;
      snprintf(have, sizeof have, "%s", want);
    }
  }
  if (changed || ++*ticks >= HEARTBEAT_EVERY) {
    *ticks = 0;
    db_setting_set("store_in_use", have);
  }
}

cb_err maint_watch_start(struct store *tier, const char *default_url)
{
  if (w.thread.running)
    return CB_EINVAL;
  w.tier = tier;
  w.ticks = 0;
  snprintf(w.default_url, sizeof w.default_url, "%s", default_url);
  return periodic_start(&w.thread, WATCH_EVERY_S, 0, watch_tick, NULL);
}

void maint_watch_stop(void)
{
  if (!w.thread.running)
    return;
  periodic_stop(&w.thread);
  db_setting_set("store_in_use", NULL); /* no server: carboy migrate need not wait for one */
}
