/* The orphan sweep: what a crash leaves in the live store and in DATA/uploads.
 *
 * Every write stores its bytes first and records them after (a blob is committed in the
 * store, then its blobs row and what references it go into SQLite in one transaction),
 * so nothing is acknowledged before it is durable. A kill -9 between the two leaves a
 * blob that nothing references: an orphan. The same happens to the artifacts of a job
 * whose process died before its success was recorded, to the members of an unpack that
 * failed, and to a tus part file whose row was never written. The sweep removes them:
 *
 *   - blobs of the live store without a blobs row (every file version, artifact and
 *     depiction references its blob through that table), last committed more than the
 *     grace period ago (CARBOY_ORPHAN_GRACE, an hour by default);
 *   - the store's temporary objects (put parts, S3 .tmp/ objects and unfinished multipart
 *     uploads) older than the grace;
 *   - DATA/uploads/ID.part files without an uploads row, older than the grace.
 *
 * Before those, each pass purges the trash (db_trash_purge): files and folders deleted
 * more than CARBOY_TRASH_DAYS ago lose their rows for good, and so do the blobs rows
 * nothing else references; their bytes are then orphans of this same pass. A file still
 * in the trash keeps its rows, so its blobs are never orphans.
 *
 * The grace period is what makes it safe beside writers, in this process or another
 * (carboy import): a blob that has just been committed and whose row is a few statements
 * away is younger than the grace, and a put of bytes stored already refreshes the blob's
 * time (the file store touches it; see fs.c for how the removal itself races with such a
 * put). With a grace of 0 (for tests) the server sweeps once, at start, before it runs
 * jobs or takes requests. Otherwise the server sweeps at start and then every grace
 * period (at least every second, at most every hour) in a thread of its own.
 *
 * Counts are logged per pass and kept in settings (sweep_blobs, sweep_bytes, sweep_tmp)
 * for /metrics. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "db/db.h"
#include "maint/maint.h"
#include "maint/periodic.h"
#include "util/log.h"
#include "util/util.h"

static struct {
  struct periodic thread;
  struct store *store;
  char data_dir[PATH_MAX];
  int grace_s;
  int trash_days;
} sw = {.thread = PERIODIC_INIT};

struct pass {
  struct store *store;
  int64_t before_ms;
  struct maint_sweep_stats *st;
  cb_err err;
};

static int stopping(void)
{
  return periodic_stopping(&sw.thread);
}

static int sweep_blob(void *ctx, const char *sha256, uint64_t size, int64_t mtime_ms)
{
  struct pass *p = ctx;
  int known = 0;
  p->st->seen++;
  if (!mtime_ms || mtime_ms >= p->before_ms) /* young, or of unknown age: kept */
    return stopping();
  cb_err e = db_blob_lookup(sha256, &known);
  if (e) { /* never remove on a database that does not answer */
    p->err = e;
    return 1;
  }
  if (known)
    return stopping();
  e = store_remove_stale(p->store, sha256, p->before_ms);
  if (!e) {
    p->st->blobs++;
    p->st->bytes += (int64_t)size;
    CB_LOG(CB_LOG_DEBUG, "sweep", "removed orphan blob %s (%llu bytes)", sha256, (unsigned long long)size);
  } else if (e != CB_ECONFLICT && e != CB_ENOTFOUND) {
    CB_LOG(CB_LOG_WARN, "sweep", "cannot remove orphan blob %s: %s", sha256, cb_strerror(e));
  }
  return stopping();
}

/* DATA/uploads/ID.part without an uploads row, older than before_ms. */
static int sweep_parts(const char *data_dir, int64_t before_ms, cb_err *err)
{
  char dir[PATH_MAX + 16];
  snprintf(dir, sizeof dir, "%s/uploads", data_dir);
  DIR *d = opendir(dir);
  if (!d)
    return 0;
  struct dirent *de;
  int removed = 0;
  while ((de = readdir(d)) && !*err) {
    size_t n = strlen(de->d_name);
    char id[64];
    struct stat sb;
    if (n < 6 || n - 5 >= sizeof id || strcmp(de->d_name + n - 5, ".part"))
      continue;
    if (fstatat(dirfd(d), de->d_name, &sb, AT_SYMLINK_NOFOLLOW) || !S_ISREG(sb.st_mode) ||
        (int64_t)sb.st_mtim.tv_sec * 1000 + sb.st_mtim.tv_nsec / 1000000 >= before_ms)
      continue;
    snprintf(id, sizeof id, "%.*s", (int)(n - 5), de->d_name);
    struct cb_upload u;
    cb_err e = db_upload_get(id, &u);
    if (e == CB_ENOTFOUND) {
      if (unlinkat(dirfd(d), de->d_name, 0) == 0)
        removed++;
    } else if (e) {
      *err = e;
    }
  }
  closedir(d);
  return removed;
}

static void record(const struct maint_sweep_stats *st)
{
  static const char *const keys[3] = {"sweep_blobs", "sweep_bytes", "sweep_tmp"};
  const int64_t add[3] = {st->blobs, st->bytes, st->tmp + st->parts};
  for (int i = 0; i < 3; i++) {
    char v[32] = "0";
    if (!add[i])
      continue;
    db_setting_get(keys[i], v, sizeof v, NULL);
    snprintf(v, sizeof v, "%lld", strtoll(v, NULL, 10) + (long long)add[i]);
    db_setting_set(keys[i], v);
  }
}

cb_err maint_sweep(struct store *store, const char *data_dir, int grace_s, int trash_days, struct maint_sweep_stats *st,
                   struct cb_errbuf *eb)
{
  memset(st, 0, sizeof *st);
  int64_t t0 = cb_time_now_ms();
  struct pass p = {store, t0 - (int64_t)grace_s * 1000, st, CB_OK};
  /* the trash first: what it held longer than trash_days goes for good, and the blobs
   * only it referenced lose their rows, so that this pass removes their bytes */
  char before[CB_TIME_MAX];
  int64_t freed = 0;
  cb_time_rfc3339(t0 - (int64_t)trash_days * 86400000, before, sizeof before);
  cb_err e = db_trash_purge(before, &st->purged_files, &st->purged_folders, &freed);
  if (e)
    CB_LOG(CB_LOG_WARN, "sweep", "cannot purge the trash: %s", cb_strerror(e));
  else if (st->purged_files || st->purged_folders)
    CB_LOG(CB_LOG_INFO, "sweep", "purged %lld files and %lld folders deleted more than %d days ago (%lld blobs freed)",
           (long long)st->purged_files, (long long)st->purged_folders, trash_days, (long long)freed);
  int tmp = 0;
  e = store_clean_tmp(store, p.before_ms, &tmp);
  st->tmp = tmp;
  if (e)
    CB_LOG(CB_LOG_WARN, "sweep", "cannot clean the store's temporary objects: %s", cb_strerror(e));
  if ((e = store_list(store, sweep_blob, &p))) {
    cb_errf(eb, "cannot list the blobs of %s: %s", store_url(store), cb_strerror(e));
  } else if ((e = p.err)) {
    cb_errf(eb, "the database does not answer (%s): orphan sweep stopped", cb_strerror(e));
  } else {
    st->parts = sweep_parts(data_dir, p.before_ms, &e);
    if (e)
      cb_errf(eb, "cannot read resumable uploads from the database: %s", cb_strerror(e));
  }
  record(st);
  int level = st->blobs || st->tmp || st->parts || e ? CB_LOG_INFO : CB_LOG_DEBUG;
  CB_LOG(level, "sweep",
         "orphan sweep of %s: %lld blobs seen, %lld orphans removed (%.1f MiB), %lld "
         "temporary objects and %lld upload parts removed (grace %d s, %lld ms)%s%s",
         store_url(store), (long long)st->seen, (long long)st->blobs, (double)st->bytes / 1048576.0, (long long)st->tmp,
         (long long)st->parts, grace_s, (long long)(cb_time_now_ms() - t0), e ? ": " : "", e ? eb->msg : "");
  return e;
}

static void sweep_run(void *arg)
{
  (void)arg;
  struct maint_sweep_stats st;
  struct cb_errbuf eb = {{0}};
  maint_sweep(sw.store, sw.data_dir, sw.grace_s, sw.trash_days, &st, &eb);
}

cb_err maint_sweep_start(struct store *store, const char *data_dir, int grace_s, int trash_days)
{
  if (sw.thread.running)
    return CB_EINVAL;
  sw.store = store;
  sw.grace_s = grace_s;
  sw.trash_days = trash_days;
  snprintf(sw.data_dir, sizeof sw.data_dir, "%s", data_dir);
  return periodic_start(&sw.thread, grace_s < 1 ? 1 : grace_s > 3600 ? 3600 : grace_s, 1, sweep_run, NULL);
}

void maint_sweep_stop(void)
{
  periodic_stop(&sw.thread);
}
