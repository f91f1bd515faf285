/* carboy migrate --to URL: copies every blob the database knows from the live store to
 * another, in batches, and switches the live store when every copy is verified.
 *
 * State lives in the database (store_migrations, migration_blobs; schemas/sql/0009):
 * each blob is pending until a batch has copied it (the bytes hashed on their way in:
 * the target keeps them only under their own sha256), read it back from the target and
 * re-hashed it with its size; then verified, or failed with the reason. A batch's outcome
 * is recorded in one transaction after it, so a kill -9 at any moment loses at most the
 * batch in flight, and a run started again skips every verified blob (a blob found intact
 * in the target, as after a kill between copy and record, is verified without a copy).
 *
 * While it runs the server keeps serving from the live store and may take uploads: each
 * pass adds the blobs recorded since the last one, until a pass finds nothing new. The
 * switch is one write transaction that checks that every blob of the database is verified
 * (no upload can record a blob in between) and then sets store_url. A running server
 * follows within a second (maint/live.c), writing to the new store from then on; blobs
 * written to the old store in that second are copied forward by its tier, read from the
 * old store if they miss, and copied by a last pass here, which waits for the server to
 * say it switched. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "db/db.h"
#include "maint/maint.h"
#include "util/log.h"
#include "util/util.h"

struct run {
  const struct maint_migrate_opts *o;
  struct store *src, *dst;
  struct cb_migration m;
  int64_t run, batch_no;
  int64_t copied, copied_bytes, found, failed, before;
  uint64_t t0;
  int tty;
};

/* Blobs of a batch are copied by COPY_THREADS threads at once, so one blob's fsync and
 * read-back overlap another's copy (bench/migrate.sh: 0.39 to 0.66 of the floor here). */
#define COPY_THREADS 4

/* What one blob's copy did, added to the run's counters after the batch. */
struct blob_result {
  int found;
  int64_t bytes;
};

static double mib(int64_t bytes)
{
  return (double)bytes / (1024.0 * 1024.0);
}

static void pause_ms(int ms)
{
  struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
    ;
}

/* One blob: found intact in the target, or copied and read back. Runs in a copy thread:
 * touches only b and res (the stores are safe to share between threads). */
static void migrate_blob(const struct run *r, struct cb_mblob *b, struct blob_result *res)
{
  char got[65] = "";
  uint64_t size = 0;
  struct cb_errbuf eb = {{0}};
  b->copied = 0;
  b->error[0] = '\0';
  snprintf(b->state, sizeof b->state, "failed");
  cb_err e = store_hash_blob(r->dst, b->sha256, got, &size, &eb);
  if (!e && !strcmp(got, b->sha256) && (int64_t)size == b->size) {
    snprintf(b->state, sizeof b->state, "verified");
    res->found = 1;
    return;
  }
  if (!e) /* a damaged copy under the name: the store would keep it, so it goes first */
    store_remove(r->dst, b->sha256);
  eb.msg[0] = '\0';
  e = store_copy_blob(r->src, r->dst, b->sha256, &size, &eb);
  if (e) {
    snprintf(b->error, sizeof b->error, "copy: %s", eb.msg[0] ? eb.msg : cb_strerror(e));
    return;
  }
  b->copied = 1;
  res->bytes = (int64_t)size;
  if (r->o->delay_ms)
    pause_ms(r->o->delay_ms);
  eb.msg[0] = '\0';
  got[0] = '\0';
  e = store_hash_blob(r->dst, b->sha256, got, &size, &eb);
  if (e)
    snprintf(b->error, sizeof b->error, "verify: %s", eb.msg[0] ? eb.msg : cb_strerror(e));
  else if (strcmp(got, b->sha256) || (int64_t)size != b->size)
    snprintf(b->error, sizeof b->error, "verify: the copy reads back as %s, %llu bytes (expected %lld)", got,
             (unsigned long long)size, (long long)b->size);
  else
    snprintf(b->state, sizeof b->state, "verified");
}

static void progress(struct run *r, int last)
{
  int64_t count[4], bytes[4];
  if (db_migration_counts(r->m.id, count, bytes))
    return;
  int64_t total = count[0] + count[1] + count[2] + count[3];
  int64_t tbytes = bytes[0] + bytes[1] + bytes[2] + bytes[3];
  double secs = (double)(cb_mono_ns() - r->t0) / 1e9;
  double rate = secs > 0 ? mib(r->copied_bytes) / secs : 0;
  if (r->tty) {
    int width = 30, fill = total ? (int)(width * count[2] / total) : width;
    fprintf(r->o->out, "\r[%.*s%*s] %lld/%lld blobs, %.1f/%.1f MiB, %.1f MiB/s, %lld failed%s", fill,
            "##############################", width - fill, "", (long long)count[2], (long long)total, mib(bytes[2]),
            mib(tbytes), rate, (long long)count[3], last ? "\n" : "");
  } else {
    fprintf(r->o->out,
            "carboy: migrate: batch %lld: %lld/%lld blobs verified (%.1f/%.1f MiB), %lld copied "
            "in this run (%.1f MiB/s), %lld failed\n",
            (long long)r->batch_no, (long long)count[2], (long long)total, mib(bytes[2]), mib(tbytes),
            (long long)r->copied, rate, (long long)count[3]);
  }
  fflush(r->o->out);
}

struct copier {
  const struct run *r;
  struct cb_mblob *rows;
  struct blob_result *res;
  int n, next;
  pthread_mutex_t mu;
};

static void *copier_main(void *arg)
{
  struct copier *c = arg;
  for (;;) {
    pthread_mutex_lock(&c->mu);
    int i = c->next++;
    pthread_mutex_unlock(&c->mu);
    if (i >= c->n)
      return NULL;
    migrate_blob(c->r, &c->rows[i], &c->res[i]);
  }
}

/* Copies rows[0..n) with up to COPY_THREADS threads (in this one when threads fail). */
static void copy_batch(struct run *r, struct cb_mblob *rows, struct blob_result *res, int n)
{
  struct copier c = {.r = r, .rows = rows, .res = res, .n = n};
  pthread_t th[COPY_THREADS];
  int started = 0;
  memset(res, 0, sizeof *res * (size_t)n);
  pthread_mutex_init(&c.mu, NULL);
  while (started < COPY_THREADS && started < n - 1 && !pthread_create(&th[started], NULL, copier_main, &c))
    started++;
  copier_main(&c);
  for (int i = 0; i < started; i++)
    pthread_join(th[i], NULL);
  pthread_mutex_destroy(&c.mu);
  for (int i = 0; i < n; i++) {
    r->found += res[i].found;
    r->copied += rows[i].copied;
    r->copied_bytes += res[i].bytes;
  }
}

/* Copies every pending blob, batch by batch. Returns CB_ESTORE when a whole batch failed
 * (the target or the source is failing: stop rather than fail every blob). */
static cb_err drain(struct run *r, struct cb_errbuf *eb)
{
  struct cb_mblob *rows = calloc((size_t)r->o->batch, sizeof *rows);
  struct blob_result *res = calloc((size_t)r->o->batch, sizeof *res);
  if (!rows || !res) {
    free(rows);
    free(res);
    return CB_ENOMEM;
  }
  cb_err e = CB_OK;
  for (;;) {
    int n = 0;
    if ((e = db_migration_pending(r->m.id, r->o->batch, rows, &n)) || n == 0)
      break;
    r->batch_no++;
    int failed = 0;
    copy_batch(r, rows, res, n);
    for (int i = 0; i < n; i++)
      failed += rows[i].state[0] == 'f';
    r->failed += failed;
    if ((e = db_migration_record(r->m.id, r->run, r->batch_no, rows, n))) {
      cb_errf(eb, "cannot record batch %lld in the database: %s", (long long)r->batch_no, cb_strerror(e));
      break;
    }
    progress(r, 0);
    if (failed == n && n > 1) {
      cb_errf(eb, "every blob of batch %lld failed (first: %s: %s); stopping", (long long)r->batch_no, rows[0].sha256,
              rows[0].error);
      e = CB_ESTORE;
      break;
    }
  }
  free(rows);
  free(res);
  return e;
}

static int print_failed(const struct cb_mblob *b, void *ctx)
{
  fprintf(ctx, "carboy: migrate: failed %s (%lld bytes): %s\n", b->sha256, (long long)b->size, b->error);
  return 0;
}

static cb_err report_failures(struct run *r, const char *what, struct cb_errbuf *eb)
{
  int64_t count[4], bytes[4];
  cb_err e = db_migration_counts(r->m.id, count, bytes);
  if (e || !count[3])
    return e;
  if (r->tty)
    fputc('\n', r->o->out);
  db_migration_failed(r->m.id, 20, print_failed, r->o->out);
  fflush(r->o->out);
  cb_errf(eb, "%lld blobs could not be copied to %s (listed above); %s; run carboy migrate again to retry them",
          (long long)count[3], r->m.target, what);
  return CB_ESTORE;
}

/* After the switch: a server that is running (its heartbeat is recent) is given time to
 * follow, so the last pass runs once it writes to the new store. */
static void wait_for_server(struct run *r)
{
  char in_use[CB_URL_MAX], at[CB_TIME_MAX], fresh[CB_TIME_MAX], want[CB_URL_MAX];
  if (db_setting_get("store_in_use", in_use, sizeof in_use, at))
    return;
  cb_time_rfc3339(cb_time_now_ms() - 15000, fresh, sizeof fresh);
  maint_url_canon(r->m.target, want, sizeof want);
  if (strcmp(at, fresh) < 0)
    return; /* no server running */
  int64_t deadline = cb_time_now_ms() + 30000;
  while (cb_time_now_ms() < deadline) {
    char canon[CB_URL_MAX];
    if (db_setting_get("store_in_use", in_use, sizeof in_use, at))
      return; /* the server stopped */
    maint_url_canon(in_use, canon, sizeof canon);
    cb_time_rfc3339(cb_time_now_ms() - 15000, fresh, sizeof fresh);
    if (!strcmp(canon, want) || strcmp(at, fresh) < 0)
      return; /* it switched, or it died (no heartbeat for 15 s) */
    pause_ms(200);
  }
  fprintf(r->o->out,
          "carboy: migrate: warning: the running server has not reported using %s after 30 s; "
          "it reads missing blobs from %s meanwhile\n",
          r->m.target, r->m.source);
}

static cb_err run_migration(struct run *r, struct cb_errbuf *eb)
{
  cb_err e = CB_OK;
  int64_t added = 0, count[4], bytes[4];
  if (!strcmp(r->m.state, "running")) {
    for (int switched = 0; !switched;) {
      if ((e = db_migration_enqueue(r->m.id, &added)))
        return e;
      if ((e = drain(r, eb)))
        return e;
      if ((e = report_failures(r, "the live store is still the source", eb)))
        return e;
      char live[CB_URL_MAX], dflt[CB_URL_MAX];
      maint_url_canon(r->m.target, live, sizeof live);
      maint_url_canon(r->o->default_url, dflt, sizeof dflt);
      if ((e = db_migration_switch(r->m.id, strcmp(live, dflt) ? live : NULL, r->m.source, &switched)))
        return e;
    }
    if (r->tty)
      fputc('\n', r->o->out);
    fprintf(r->o->out, "carboy: migrate: every blob verified; the live store is now %s\n", r->m.target);
    fflush(r->o->out);
    wait_for_server(r);
  }
  /* The last pass: what was recorded while the switch happened. */
  if ((e = db_migration_enqueue(r->m.id, &added)) || (e = drain(r, eb)))
    return e;
  if ((e = report_failures(r, "they are read from the previous store until then", eb)))
    return e;
  if ((e = db_migration_finish(r->m.id)) || (e = db_migration_counts(r->m.id, count, bytes)))
    return e;
  double secs = (double)(cb_mono_ns() - r->t0) / 1e9;
  if (r->tty)
    fputc('\n', r->o->out);
  fprintf(r->o->out,
          "carboy: migrate: done: %lld blobs (%.1f MiB) verified in %s; this run copied %lld "
          "(%.1f MiB, %.1f MiB/s), found %lld intact in the target, skipped %lld verified by earlier runs; "
          "the live store is now %s (previous: %s)\n",
          (long long)count[2], mib(bytes[2]), r->m.target, (long long)r->copied, mib(r->copied_bytes),
          secs > 0 ? mib(r->copied_bytes) / secs : 0.0, (long long)r->found, (long long)r->before, r->m.target,
          r->m.source);
  return CB_OK;
}

cb_err maint_migrate(const struct maint_migrate_opts *o, struct cb_errbuf *eb)
{
  struct run r = {.o = o, .t0 = cb_mono_ns(), .tty = isatty(fileno(o->out))};
  char target[CB_URL_MAX], src_url[CB_URL_MAX];
  struct cb_errbuf warn = {{0}};
  cb_err e;
  maint_url_canon(o->target, target, sizeof target);
  if ((e = store_open(target, &r.dst, eb))) {
    char why[sizeof eb->msg];
    snprintf(why, sizeof why, "%s", eb->msg);
    cb_errf(eb, "cannot open the target store %s: %s", o->target, why);
    return e == CB_EINVAL ? CB_EUSAGE : e;
  }
  if ((e = maint_store_resolve(o->explicit_url, o->default_url, src_url, sizeof src_url, &warn, eb))) {
    e = e == CB_EINVAL ? CB_EUSAGE : e;
    goto out;
  }
  if (warn.msg[0])
    fprintf(o->out, "carboy: migrate: warning: %s\n", warn.msg);
  e = db_migration_unfinished(&r.m);
  if (e && e != CB_ENOTFOUND)
    goto out;
  char mt[CB_URL_MAX];
  if (!e)
    maint_url_canon(r.m.target, mt, sizeof mt);
  if (!e && !strcmp(mt, target)) {
    fprintf(o->out, "carboy: migrate: resuming the migration from %s to %s started %s\n", r.m.source, r.m.target,
            r.m.started_at);
  } else if (!e && !strcmp(r.m.state, "switched")) {
    cb_errf(eb, "the migration to %s has not finished its last pass: run carboy migrate --to %s first", r.m.target,
            r.m.target);
    e = CB_EUSAGE;
    goto out;
  } else {
    if (!e)
      fprintf(o->out, "carboy: migrate: abandoning the unfinished migration to %s\n", r.m.target);
    if (!strcmp(src_url, target)) {
      cb_errf(eb, "%s is already the live store", o->target);
      e = CB_EUSAGE;
      goto out;
    }
    if ((e = db_migration_start(src_url, target, &r.m)))
      goto out;
    fprintf(o->out, "carboy: migrate: copying every blob from %s to %s, %d per batch\n", r.m.source, r.m.target,
            o->batch);
  }
  fflush(o->out);
  if ((e = store_open(r.m.source, &r.src, eb))) {
    char why[sizeof eb->msg];
    snprintf(why, sizeof why, "%s", eb->msg);
    cb_errf(eb, "cannot open the source store %s: %s", r.m.source, why);
    goto out;
  }
  int64_t count[4], bytes[4];
  if ((e = db_migration_begin_run(r.m.id, &r.run)) || (e = db_migration_counts(r.m.id, count, bytes)))
    goto out;
  r.before = count[2];
  e = run_migration(&r, eb);
out:
  if (e && !eb->msg[0])
    cb_errf(eb, "%s", cb_strerror(e));
  store_close(r.src);
  store_close(r.dst);
  return e;
}
