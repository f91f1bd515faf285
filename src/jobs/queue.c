/* DESIGN: the job queue
 * =====================
 * Jobs live in the SQLite table `jobs` (schemas/sql/0003_jobs.sql), so a queued job
 * survives anything the process does. States: queued -> running -> succeeded | failed |
 * canceled; a running job may go back to queued (retry with backoff, or recovery).
 *
 * Lanes. Every job runs in a lane (jobs.lane): interactive, when someone is waiting for it
 * (a depiction, a conversion a request waits for, a small upload's ingest: its type's lane
 * in types.c, or the caller's choice), else batch (ingests of large files, unpacks,
 * conversions and extractions asked through POST /api/v1/jobs). CARBOY_WORKERS worker
 * threads serve the batch lane and take interactive jobs only when no batch job is due;
 * CARBOY_INTERACTIVE_WORKERS more take interactive jobs only. So interactive work may
 * borrow batch capacity, and batch work never takes interactive capacity: a one-line
 * upload is processed at once beside two large ingests.
 *
 * Claiming. A worker takes the next due job of a lane in one transaction (db_job_claim):
 * an `UPDATE ... WHERE id = (fair pick) RETURNING`, which sets state=running, the lease
 * owner (this process's random instance id), a lease expiry, and attempts+1, and the
 * owner's turn. Two workers can never claim the same job: the UPDATE is atomic under
 * SQLite's write lock.
 *
 * Fair share. Within a lane the pick is the oldest due job (run_after, created_at) of the
 * owner the lane served least recently (never served first; jobs the server made count as
 * one owner), so one user's thousand jobs do not stall another's one: owners take turns.
 * The turns are rows of job_turns (lane, owner -> a per-lane counter), not memory, so that
 * instances sharing one queue take turns together. The pick walks the lane's waiting
 * owners through an index (one seek each), so a claim costs the owners waiting, not the
 * jobs queued: 0.3 ms with 10,000 queued among 39 owners.
 *
 * Coalescing. A request that waits for a job (http_run_job: a depiction, a conversion for
 * a download) joins a queued or running job of the same type, inputs and params instead of
 * queuing another; every waiter is woken by its events and reads its result.
 *
 * Leases and heartbeats. While a job runs, its worker renews the lease every couple of
 * seconds (LEASE_S ahead) and records progress; the renewal also reads cancel_requested.
 * At start, and every few seconds after, running jobs whose lease expired or whose owner is
 * another instance (a previous process that crashed or was killed) go back to queued.
 *
 * Exactly once. A job's effects are written in the same transaction that marks it
 * succeeded, and that transaction first checks that this instance still holds the lease.
 * A crash before the commit leaves no effects (the job is simply run again); a crash
 * after it leaves a succeeded job. Effects are idempotent besides (properties are replaced,
 * artifacts keyed by file, version and kind, blobs content-addressed), so even a replay
 * could not duplicate anything.
 *
 * Failures. A converter that rejects the file, crashes, exceeds a limit or times out fails
 * the job at once with that reason (the file is at fault; retrying would fail again).
 * Anything else (store or database trouble) is retried after 2^attempts seconds, up to
 * max_attempts. Cancel is cooperative: a queued job ends at once; a running one sees the
 * flag at its next heartbeat and its converter process is killed.
 *
 * Isolation. Converters never run in this process: each worker thread owns one converter
 * process (pool.c) with memory, CPU and file-size limits and a wall-clock timeout. Open
 * Babel and friends are not thread-safe; processes give the parallelism. A batch job's
 * converter runs at nice BATCH_NICE: on a busy machine interactive work gets a core first.
 *
 * Events. Every state change and progress step is published to the event feed
 * (events.c), which the HTTP layer streams as Server-Sent Events and webhooks. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <linux/openat2.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "db/db.h"
#include "jobs/jobs.h"
#include "jobs/types.h"
#include "util/confine.h"
#include "util/hash.h"
#include "jobs/pool.h"
#include "util/log.h"
#include "util/util.h"

#define LEASE_S 30
#define HEARTBEAT_S 2
#define MAX_WORKERS 256
#define UNPACK_ENTRIES_MAX 10000
#define BATCH_NICE 10 /* the batch lane's converters yield the CPU to interactive work */

static struct cb_jobs_config cfg;
static struct store *store;
static char instance[CB_ID_LEN + 1];
static pthread_t threads[MAX_WORKERS];
static int nthreads; /* batch workers first (slots 0..), then the interactive ones */
static int nbatch;
static atomic_int stopping;
static pthread_mutex_t wake_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake_cond = PTHREAD_COND_INITIALIZER;
static int wake_pending;

const char *jobs_instance(void)
{
  return instance;
}

static void publish_job(const struct cb_job *j, const char *state, double progress, const char *error);

void jobs_wake(void)
{
  /* what this thread queued goes out as "queued" before a worker can take it, so that
   * streams and webhooks see every job's events in order, whatever made the job */
  char(*ids)[CB_ID_LEN + 1] = NULL;
  int n = db_jobs_created(&ids);
  for (int i = 0; i < n; i++) {
    struct cb_job j;
    if (!db_job_get(ids[i], &j)) {
      publish_job(&j, "queued", 0, NULL);
      db_job_clear(&j);
    }
  }
  free(ids);
  pthread_mutex_lock(&wake_lock);
  /* More wake-ups than workers would only cost empty claims after a burst. Broadcast:
   * a signal was seen to leave an idle worker asleep now and then (a lost wake-up). */
  if (wake_pending < (nthreads > 0 ? nthreads : 1))
    wake_pending++;
  pthread_cond_broadcast(&wake_cond);
  pthread_mutex_unlock(&wake_lock);
}

static void idle_wait(int ms)
{
  struct timespec until;
  clock_gettime(CLOCK_REALTIME, &until);
  until.tv_sec += ms / 1000;
  until.tv_nsec += (long)(ms % 1000) * 1000000L;
  if (until.tv_nsec >= 1000000000L) {
    until.tv_sec++;
    until.tv_nsec -= 1000000000L;
  }
  pthread_mutex_lock(&wake_lock);
  while (!wake_pending && !atomic_load(&stopping))
    if (pthread_cond_timedwait(&wake_cond, &wake_lock, &until))
      break;
  if (wake_pending)
    wake_pending--;
  pthread_mutex_unlock(&wake_lock);
}

static void ts_in(int seconds, char *out)
{
  cb_time_rfc3339(cb_time_now_ms() + (int64_t)seconds * 1000, out, CB_TIME_MAX);
}

/* ---- events ---- */

static void publish_job(const struct cb_job *j, const char *state, double progress, const char *error)
{
  cJSON *o = cJSON_CreateObject();
  cJSON_AddStringToObject(o, "id", j->id);
  cJSON_AddStringToObject(o, "type", j->type);
  cJSON_AddStringToObject(o, "state", state);
  cJSON_AddNumberToObject(o, "progress", progress);
  if (error && *error)
    cJSON_AddStringToObject(o, "error", error);
  cJSON *inputs = cJSON_Parse(j->inputs ? j->inputs : "[]");
  const char *file_id = NULL;
  if (cJSON_IsArray(inputs) && cJSON_GetArraySize(inputs) > 0 && cJSON_IsString(cJSON_GetArrayItem(inputs, 0)))
    file_id = cJSON_GetArrayItem(inputs, 0)->valuestring;
  cJSON_AddItemToObject(o, "inputs", inputs ? inputs : cJSON_CreateArray());
  char *text = cJSON_PrintUnformatted(o);
  events_publish("job", j->owner_id, file_id, j->id, text);
  cJSON_free(text);
  cJSON_Delete(o);
}

static void publish_file(const char *owner_id, const char *file_id, const char *status, const char *error)
{
  cJSON *o = cJSON_CreateObject();
  cJSON_AddStringToObject(o, "id", file_id);
  cJSON_AddStringToObject(o, "status", status);
  if (error && *error)
    cJSON_AddStringToObject(o, "error", error);
  char *text = cJSON_PrintUnformatted(o);
  events_publish("file", owner_id, file_id, NULL, text);
  cJSON_free(text);
  cJSON_Delete(o);
}

/* ---- running one job ---- */

struct job_run {
  const struct cb_job *job;
  struct pool_child *child;
  uint64_t last_beat;
  double progress;
  double published;
  uint64_t last_pub;
  int batch;                    /* a batch job (its converter yields the CPU to interactive ones) */
  int lost;                     /* the lease is gone: stop, apply nothing */
  int canceled;                 /* cancel was asked */
  struct db_records_feed *feed; /* an ingest's records, stored as they are written */
  char input_sha[65];           /* an ingest's input blob ("" if none) */
  int64_t input_size;           /* its size */
  char input_path[PATH_MAX];    /* and a local file of it while the job runs */
  struct group_run *group;      /* the batch whose other jobs wait while this one runs alone */
  uint64_t last_feed;
  int timeout_s;   /* the converter's limits when not the settings' (a training's) */
  int cpu_s;       /* its CPU seconds (0: timeout_s + 5) */
  uint64_t memory; /* (its process is then one of its own: pool_kill before and after) */
};

#define FEED_EVERY_NS 100000000ull /* store records written so far up to ten times a second */
#define FEED_BATCH 1000            /* records per transaction: the write lock is held briefly */

static int beat(struct job_run *r)
{
  char until[CB_TIME_MAX];
  int cancel = 0;
  ts_in(LEASE_S, until);
  cb_err e = db_job_heartbeat(r->job->id, instance, until, r->progress, &cancel);
  r->last_beat = cb_mono_ns();
  if (e == CB_ENOTFOUND)
    r->lost = 1;
  if (cancel)
    r->canceled = 1;
  return r->lost || r->canceled || atomic_load(&stopping);
}

/* the converter process (group) this worker thread last set the priority of, and to what */
static _Thread_local pid_t reniced;
static _Thread_local int reniced_to;

/* Lanes keep interactive work from waiting behind batch jobs in the queue; on a busy
 * machine it would still wait for a core. A batch job's converter, and the readers it
 * forks (its process group), run at a lower priority: set before the job when its process
 * is running, else at its first tick (within a second of its start). A batch worker
 * lending itself to an interactive job raises its converter again (root may; elsewhere
 * that job runs at the lower priority). The worker thread keeps its own: it holds the
 * write lock while storing records, and interactive work waits for that lock. */
static void converter_priority(const struct job_run *r)
{
  int nice_to = r->batch ? BATCH_NICE : 0;
  if (r->child->pid <= 0 || (r->child->pid != reniced ? !r->batch : nice_to == reniced_to))
    return;
  if (setpriority(PRIO_PGRP, (id_t)r->child->pid, nice_to)) {
    if (r->batch)
      CB_LOG(CB_LOG_WARN, "jobs", "cannot lower a batch converter's priority: %s", strerror(errno));
    return; /* tried again at the next tick, or the next job */
  }
  reniced = r->child->pid;
  reniced_to = nice_to;
}

static void group_keepalive(struct group_run *g);

static int tick(void *ctx, double fraction)
{
  struct job_run *r = ctx;
  converter_priority(r);
  if (r->group)
    group_keepalive(r->group);
  if (fraction >= 0)
    r->progress = fraction > 1 ? 1 : fraction;
  /* progress events: on every 5 % step, at most four a second */
  uint64_t now = cb_mono_ns();
  if (r->progress >= r->published + 0.05 && now - r->last_pub > 250000000ull) {
    publish_job(r->job, "running", r->progress, NULL);
    r->published = r->progress;
    r->last_pub = now;
  }
  /* the lease first: storing records must never starve the heartbeat */
  if ((cb_mono_ns() - r->last_beat >= (uint64_t)HEARTBEAT_S * 1000000000ull || atomic_load(&stopping)) && beat(r))
    return 1;
  /* one batch per tick: what the database cannot take now goes in with the result */
  if (r->feed && now - r->last_feed > FEED_EVERY_NS) {
    cb_err e = db_records_feed(r->feed, r->job->id, instance, FEED_BATCH);
    r->last_feed = cb_mono_ns();
    if (e == CB_ENOTFOUND)
      r->lost = 1;
    else if (e) /* the rest goes in with the job's result; that attempt reports it */
      CB_LOG(CB_LOG_WARN, "jobs", "job %s: storing records so far: %s", r->job->id, cb_strerror(e));
    if (r->lost)
      return 1;
  }
  return 0;
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
  (void)sb, (void)flag, (void)ftw;
  remove(path);
  return 0;
}

static void rm_rf(const char *path)
{
  nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* A member path of an unpack: relative, '/'-separated, every component a valid name. */
static int unpack_path_ok(const char *path)
{
  if (!*path || strlen(path) >= 4096)
    return 0;
  for (const char *p = path; *p;) {
    size_t n = strcspn(p, "/");
    char comp[CB_NAME_MAX + 1];
    if (!n || n > CB_NAME_MAX - 1)
      return 0;
    memcpy(comp, p, n);
    comp[n] = '\0';
    if (cb_name_invalid(comp))
      return 0;
    p += n;
    if (*p && !*++p)
      return 0; /* a trailing '/' */
  }
  return 1;
}

/* Is path a file directly or deeper inside dir (no symlink tricks)? */
static int inside(const char *dir, const char *path)
{
  char real[PATH_MAX], rdir[PATH_MAX];
  if (!realpath(path, real) || !realpath(dir, rdir))
    return 0;
  size_t n = strlen(rdir);
  struct stat sb;
  return !strncmp(real, rdir, n) && real[n] == '/' && !lstat(real, &sb) && S_ISREG(sb.st_mode);
}

/* Stores what a converter wrote at path (inside workdir) by copying it through the store's
 * streaming write: opened beneath workdir without following any link (openat2), and
 * never adopted by rename, so a converter process that lives on can neither swap in a
 * link to another file nor change the stored bytes through a descriptor it kept. */
static cb_err put_output_as(const char *workdir, const char *path, const char *same_as, char sha[65], uint64_t *size,
                            struct cb_errbuf *eb);

static cb_err put_output(const char *workdir, const char *path, char sha[65], uint64_t *size, struct cb_errbuf *eb)
{
  return put_output_as(workdir, path, NULL, sha, size, eb);
}

/* Hashes a small output first: when it holds the very bytes of blob same_as (the input's
 * text is the text artifact of a plain-text file), nothing is stored: that blob is kept
 * by the file version it belongs to. */
#define SAME_AS_MAX (1 << 20)

/* The converter's file at path, opened for reading only if it is a regular file beneath
 * workdir (no symbolic link on the way); -1 with eb set otherwise. */
static int open_output(const char *workdir, const char *path, struct stat *sb, struct cb_errbuf *eb)
{
  size_t n = strlen(workdir);
  if (strncmp(path, workdir, n) || path[n] != '/') {
    cb_errf(eb, "the file is outside the work folder");
    return -1;
  }
  int dfd = open(workdir, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (dfd < 0) {
    cb_errf(eb, "cannot open the work folder: %s", strerror(errno));
    return -1;
  }
  /* O_NONBLOCK: a FIFO the converter made there must not hold the job thread */
  struct open_how how = {.flags = O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK,
                         .resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS};
  int fd = (int)syscall(SYS_openat2, dfd, path + n + 1, &how, sizeof how);
  if (fd < 0 && errno == ENOSYS) /* before Linux 5.6: the last component at least */
    fd = openat(dfd, path + n + 1, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
  close(dfd);
  if (fd < 0 || fstat(fd, sb) || !S_ISREG(sb->st_mode)) {
    cb_errf(eb, "the converter's file %s is not a regular file in its work folder", path + n + 1);
    if (fd >= 0)
      close(fd);
    return -1;
  }
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
  return fd;
}

/* Copies the open file fd into a new put of the store (*put stays NULL on an error). */
static cb_err copy_to_put(int fd, const char *what, struct store_put **put, struct cb_errbuf *eb)
{
  cb_err e = store_put_begin(store, 0, put, eb);
  char *buf = e ? NULL : malloc(1 << 20);
  if (!e && !buf)
    e = CB_ENOMEM;
  ssize_t got;
  while (!e && (got = read(fd, buf, 1 << 20)) != 0) {
    if (got < 0) {
      cb_errf(eb, "cannot read %s: %s", what, strerror(errno));
      e = CB_EIO;
    } else {
      e = store_put_write(*put, buf, (size_t)got, eb);
    }
  }
  free(buf);
  if (e) {
    store_put_abort(*put);
    *put = NULL;
  }
  return e;
}

/* Stores n ranges of the open file fd ([offsets[i], offsets[i] + sizes[i]): an unpack's
 * members) as blobs, committed together in rounds of at most PUT_MANY blobs or
 * PUT_MANY_BYTES (store_put_commit_many: far fewer syncs; a put holds a descriptor until
 * its round commits). tick (may be NULL) is called after each member (the job's lease);
 * non-zero stops with CB_EABORTED. */
#define PUT_MANY 64
#define PUT_MANY_BYTES (64u << 20)
static cb_err put_ranges(int fd, const uint64_t *offsets, uint64_t *sizes, int n, char (*shas)[65],
                         int (*tick_fn)(void *), void *tick_ctx, struct cb_errbuf *eb)
{
  struct store_put *puts[PUT_MANY];
  char *buf = malloc(1 << 20);
  if (!buf)
    return CB_ENOMEM;
  cb_err e = CB_OK;
  int at = 0;
  while (!e && at < n) {
    int begun = 0; /* this round: members at .. at + begun - 1 */
    uint64_t bytes = 0;
    while (!e && begun < PUT_MANY && at + begun < n && bytes < PUT_MANY_BYTES) {
      if ((e = store_put_begin(store, 0, &puts[begun], eb)))
        break;
      struct store_put *put = puts[begun++];
      uint64_t off = offsets[at + begun - 1], left = sizes[at + begun - 1];
      while (!e && left) {
        ssize_t r = pread(fd, buf, left < (1u << 20) ? (size_t)left : (1u << 20), (off_t)off);
        if (r <= 0) {
          cb_errf(eb, "cannot read the members file: %s", r < 0 ? strerror(errno) : "it is shorter than said");
          e = CB_EIO;
        } else {
          e = store_put_write(put, buf, (size_t)r, eb);
          off += (uint64_t)r, left -= (uint64_t)r, bytes += (uint64_t)r;
        }
      }
      if (!e && tick_fn && tick_fn(tick_ctx))
        e = CB_EABORTED;
    }
    if (e) {
      for (int i = 0; i < begun; i++)
        store_put_abort(puts[i]);
      break;
    }
    e = store_put_commit_many(store, puts, begun, shas + at, sizes + at, eb);
    at += begun;
  }
  free(buf);
  return e;
}

static cb_err put_output_as(const char *workdir, const char *path, const char *same_as, char sha[65], uint64_t *size,
                            struct cb_errbuf *eb)
{
  struct stat sb;
  int fd = open_output(workdir, path, &sb, eb);
  if (fd < 0)
    return CB_EINVAL;
  if (same_as && sb.st_size <= SAME_AS_MAX) {
    char *all = malloc((size_t)sb.st_size + 1);
    ssize_t got = all ? pread(fd, all, (size_t)sb.st_size, 0) : -1;
    if (got == (ssize_t)sb.st_size) {
      cb_sha256_hex(all, (size_t)got, sha);
      if (!strcmp(sha, same_as)) {
        *size = (uint64_t)got;
        free(all);
        close(fd);
        return CB_OK;
      }
    }
    free(all);
  }
  struct store_put *put = NULL;
  cb_err e = copy_to_put(fd, path + strlen(workdir) + 1, &put, eb);
  close(fd);
  return e ? e : store_put_commit(put, sha, size, eb);
}

/* put_output for a handler: JOB_DONE, or JOB_RETRY with why the `what` was not stored. */
static enum job_outcome store_output(const char *workdir, const char *path, const char *what, char sha[65],
                                     uint64_t *size, struct cb_errbuf *eb)
{
  struct cb_errbuf seb = {{0}};
  if (!put_output(workdir, path, sha, size, &seb))
    return JOB_DONE;
  cb_errf(eb, "cannot store the %s: %s", what, seb.msg);
  return JOB_RETRY;
}

/* What recording a handler's results (one transaction, which also ends the job) came to:
 * CB_ENOTFOUND is a job this worker no longer holds. */
static enum job_outcome recorded(cb_err e, const char *what, struct cb_errbuf *eb)
{
  if (e == CB_ENOTFOUND)
    return JOB_STOPPED;
  if (e)
    cb_errf(eb, "cannot record the %s: %s", what, cb_strerror(e));
  return e ? JOB_RETRY : JOB_DONE;
}

/* from to a new file (0644), for an input the work folder cannot link to (another
 * filesystem); 0, or -1 with errno */
static int copy_file(const char *from, const char *to)
{
  int in = open(from, O_RDONLY | O_CLOEXEC);
  if (in < 0)
    return -1;
  int out = open(to, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
  if (out < 0) {
    close(in);
    return -1;
  }
  char buf[65536];
  ssize_t n;
  int rc = 0;
  while ((n = read(in, buf, sizeof buf)) > 0)
    if (cb_write_all(out, buf, (size_t)n)) {
      rc = -1;
      break;
    }
  if (n < 0)
    rc = -1;
  int saved = errno;
  close(in);
  close(out);
  errno = saved;
  return rc;
}

/* The job's private work folder, one per attempt: an attempt that lost its lease and is
 * still winding down never shares (or removes) the files of the one that took over. */
static void job_workdir(const struct job_run *r, char out[PATH_MAX])
{
  snprintf(out, PATH_MAX, "%s/work/w%d/%s.%d", cfg.data_dir, r->child->slot, r->job->id, r->job->attempts);
}

/* The work folder of a job worker: all its converter process sees of the data folder. */
static void slot_workdir(int slot, char out[PATH_MAX])
{
  snprintf(out, PATH_MAX, "%s/work/w%d", cfg.data_dir, slot);
}

/* Where a job's input is downloaded when the store keeps no local files: beside the work
 * folder (which convert_in_workdir empties), removed when the job ends (run_job). */
static void job_indir(const struct job_run *r, char out[PATH_MAX])
{
  snprintf(out, PATH_MAX, "%s/work/%s.%d.in", cfg.data_dir, r->job->id, r->job->attempts);
}

/* Keeps the lease while a big input downloads. */
static int fetch_tick(void *ctx)
{
  return tick(ctx, -1.0);
}

/* A local path of blob sha for the converter: the store's own file, or a download. */
static enum job_outcome fetch_input(struct job_run *r, const char *sha, char path[PATH_MAX], struct cb_errbuf *eb)
{
  char dir[PATH_MAX];
  struct cb_errbuf seb = {{0}};
  job_indir(r, dir);
  if (!(store_caps(store) & STORE_CAP_LOCAL_PATH)) {
    rm_rf(dir);
    if (mkdir(dir, 0700)) {
      cb_errf(eb, "cannot create the input folder: %s", strerror(errno));
      return JOB_RETRY;
    }
  }
  cb_err e = store_fetch_local(store, sha, dir, path, PATH_MAX, fetch_tick, r, &seb);
  if (e == CB_EABORTED)
    return JOB_STOPPED;
  if (e) {
    cb_errf(eb, "cannot fetch the input from the store: %s", seb.msg[0] ? seb.msg : cb_strerror(e));
    return e == CB_ENOTFOUND ? JOB_FAIL : JOB_RETRY;
  }
  return JOB_DONE;
}

/* Gives the job an empty private work folder and runs req (consumed) in this worker's
 * converter process: JOB_DONE with *res, JOB_FAIL (the converter's reason, a crash, a
 * limit), JOB_STOPPED (canceled, lease lost, stopping) or JOB_RETRY (no converter process,
 * no memory in the server, the work folder not ready). */
static enum job_outcome convert_in_workdir(struct job_run *r, char *workdir, cJSON *req, cJSON **res,
                                           struct cb_errbuf *eb)
{
  job_workdir(r, workdir);
  rm_rf(workdir);
  if (mkdir(workdir, 0700)) {
    cb_errf(eb, "cannot create the work folder: %s", strerror(errno));
    cJSON_Delete(req);
    return JOB_RETRY;
  }
  /* the converter sees its work folder and nothing else of the data folder: the input
   * goes in (a hard link to the blob, or a copy), and the folder becomes the uid's that
   * converters run as */
  uid_t wuid = CONFINE_UID_BASE + (uid_t)r->child->slot;
  if ((confine_layers() & CONFINE_UID) && !geteuid() && chown(workdir, wuid, (gid_t)wuid)) {
    cb_errf(eb, "cannot give the work folder to the converters' uid: %s", strerror(errno));
    cJSON_Delete(req);
    return JOB_RETRY;
  }
  static const char *const staged_as[][2] = {{"path", ".input"}, {"model_path", ".model"}};
  for (size_t k = 0; k < sizeof staged_as / sizeof staged_as[0]; k++) {
    cJSON *in = cJSON_GetObjectItemCaseSensitive(req, staged_as[k][0]);
    if (!cJSON_IsString(in))
      continue;
    char staged[PATH_MAX + 16];
    snprintf(staged, sizeof staged, "%s/%s", workdir, staged_as[k][1]);
    if (link(in->valuestring, staged) && copy_file(in->valuestring, staged)) {
      cb_errf(eb, "cannot put the input in the work folder: %s", strerror(errno));
      cJSON_Delete(req);
      return JOB_RETRY;
    }
    chmod(staged, 0444); /* a download is the server's own (0600); blobs are 0444 already */
    cJSON_ReplaceItemInObjectCaseSensitive(req, staged_as[k][0], cJSON_CreateString(staged));
  }
  cJSON_AddStringToObject(req, "workdir", workdir);
  char slot_dir[PATH_MAX];
  slot_workdir(r->child->slot, slot_dir);
  struct pool_limits lim = {cfg.self_exe, r->timeout_s ? r->timeout_s : cfg.timeout_s,
                            r->cpu_s,     r->memory ? r->memory : cfg.worker_memory,
                            cfg.data_dir, slot_dir};
  cb_err e = pool_run(r->child, &lim, req, tick, r, res, eb);
  cJSON_Delete(req);
  if (e == CB_EABORTED)
    return JOB_STOPPED;
  /* no converter process, or no memory in the server: the machine's trouble, for later;
   * the converter's refusal, crash or timeout: the input's, for good */
  return e == CB_ETHROTTLED || e == CB_ENOMEM ? JOB_RETRY : e ? JOB_FAIL : JOB_DONE;
}

/* An ingest's converter answer made ready to record: its properties, and its artifacts
 * stored (pointing into the answer, which must outlive it). */
struct ingest_prep {
  struct cb_property *pv;
  int nprops;
  struct cb_artifact *av;
  int narts;
  char (*shas)[65];
  char text_path[PATH_MAX];
  const char *kind, *media;
  struct db_records_feed *feed;
  char *model; /* a model bundle's report (JSON text) */
};

static void prep_clear(struct ingest_prep *p)
{
  free(p->pv);
  free(p->av);
  free(p->shas);
  cJSON_free(p->model);
  memset(p, 0, sizeof *p);
}

/* Reads the converter's answer res for r's file and stores its artifacts: JOB_DONE with *p
 * ready for db_ingest_apply_many (prep_clear it in any case). */
static enum job_outcome ingest_prepare(struct job_run *r, const char *workdir, cJSON *res, struct ingest_prep *p,
                                       struct cb_errbuf *eb)
{
  memset(p, 0, sizeof *p);
  cJSON *props = cJSON_GetObjectItemCaseSensitive(res, "properties");
  cJSON *arts = cJSON_GetObjectItemCaseSensitive(res, "artifacts");
  int pmax = cJSON_GetArraySize(props), amax = cJSON_GetArraySize(arts);
  p->pv = calloc((size_t)pmax + 1, sizeof *p->pv);
  p->av = calloc((size_t)amax + 1, sizeof *p->av);
  p->shas = calloc((size_t)amax + 1, sizeof *p->shas);
  if (!p->pv || !p->av || !p->shas) {
    cb_errf(eb, "out of memory");
    return JOB_RETRY;
  }
  cJSON *it;
  cJSON_ArrayForEach(it, props)
  {
    cJSON *name = cJSON_GetObjectItemCaseSensitive(it, "name"), *value = cJSON_GetObjectItemCaseSensitive(it, "value");
    cJSON *unit = cJSON_GetObjectItemCaseSensitive(it, "unit"), *iri = cJSON_GetObjectItemCaseSensitive(it, "iri");
    if (!cJSON_IsString(name) || (!cJSON_IsString(value) && !cJSON_IsNumber(value)))
      continue;
    struct cb_property *pr = &p->pv[p->nprops++];
    pr->name = name->valuestring;
    pr->is_num = cJSON_IsNumber(value);
    pr->value_num = pr->is_num ? value->valuedouble : 0;
    pr->value_text = pr->is_num ? NULL : value->valuestring;
    pr->unit = cJSON_IsString(unit) ? unit->valuestring : NULL;
    pr->iri = cJSON_IsString(iri) ? iri->valuestring : NULL;
    pr->source = "extracted";
  }
  cJSON_ArrayForEach(it, arts)
  {
    cJSON *kind = cJSON_GetObjectItemCaseSensitive(it, "kind"),
          *mt = cJSON_GetObjectItemCaseSensitive(it, "media_type");
    cJSON *path = cJSON_GetObjectItemCaseSensitive(it, "path");
    if (!cJSON_IsString(kind) || !cJSON_IsString(mt) || strlen(kind->valuestring) > 15)
      continue;
    if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(it, "same_as_input")) && !strcmp(kind->valuestring, "text") &&
        r->input_sha[0] && r->input_path[0] && r->input_size <= SAME_AS_MAX) {
      /* the input's own bytes (valid UTF-8 text): its blob is the artifact, indexed from
       * the local file the converter read */
      struct cb_artifact *a = &p->av[p->narts];
      snprintf(p->shas[p->narts], sizeof p->shas[p->narts], "%s", r->input_sha);
      snprintf(p->text_path, sizeof p->text_path, "%s", r->input_path);
      a->kind = kind->valuestring;
      a->media_type = mt->valuestring;
      a->sha256 = p->shas[p->narts];
      a->size = r->input_size;
      a->path = p->text_path;
      p->narts++;
      continue;
    }
    if (!cJSON_IsString(path))
      continue;
    if (!inside(workdir, path->valuestring)) {
      cb_errf(eb, "the converter named an artifact outside its work folder");
      return JOB_FAIL;
    }
    struct cb_errbuf seb = {{0}};
    uint64_t size = 0;
    /* the text is indexed from a local file: the stored copy where the store keeps files
     * (it may take the work file by rename), else a link to the work file kept aside */
    int is_text = !strcmp(kind->valuestring, "text"), text_kept = 0;
    if (is_text && !(store_caps(store) & STORE_CAP_LOCAL_PATH)) {
      snprintf(p->text_path, sizeof p->text_path, "%s/.text-index", workdir);
      unlink(p->text_path);
      text_kept = !link(path->valuestring, p->text_path);
    }
    if (put_output_as(workdir, path->valuestring, r->input_sha[0] ? r->input_sha : NULL, p->shas[p->narts], &size,
                      &seb)) {
      cb_errf(eb, "cannot store the %s artifact: %s", kind->valuestring, seb.msg);
      return JOB_RETRY;
    }
    struct cb_artifact *a = &p->av[p->narts];
    a->kind = kind->valuestring;
    a->media_type = mt->valuestring;
    a->sha256 = p->shas[p->narts];
    a->size = (int64_t)size;
    if (is_text && (text_kept || !store_local_path(store, a->sha256, p->text_path, sizeof p->text_path)))
      a->path = p->text_path;
    p->narts++;
  }
  cJSON *kind = cJSON_GetObjectItemCaseSensitive(res, "kind");
  cJSON *detected = cJSON_GetObjectItemCaseSensitive(res, "detected_media_type");
  p->kind = cJSON_IsString(kind) ? kind->valuestring : NULL;
  if (cJSON_IsString(detected) && strlen(detected->valuestring) < 100) /* the content's type replaces the name's */
    p->media = detected->valuestring;
  cJSON *model = cJSON_GetObjectItemCaseSensitive(res, "model");
  if (p->kind && !strcmp(p->kind, "model") && cJSON_IsObject(model))
    p->model = cJSON_PrintUnformatted(model);
  cJSON *records = cJSON_GetObjectItemCaseSensitive(res, "records");
  if (cJSON_IsString(records)) {
    if (!inside(workdir, records->valuestring)) {
      cb_errf(eb, "the converter named records outside its work folder");
      return JOB_FAIL;
    }
    p->feed = r->feed;
    if (strcmp(p->feed->path, records->valuestring)) { /* not the file streamed: start over */
      p->feed->path = records->valuestring;
      p->feed->offset = 0;
      p->feed->next_idx = 0;
    }
  }
  return JOB_DONE;
}

/* Stores what the converter made and applies it with the job's success. */
static enum job_outcome apply_ingest(struct job_run *r, const struct cb_file *f, int64_t version, const char *workdir,
                                     cJSON *res, struct cb_errbuf *eb)
{
  struct ingest_prep p;
  enum job_outcome out = ingest_prepare(r, workdir, res, &p, eb);
  if (out == JOB_DONE) {
    struct db_ingest it = {r->job->id, f->id, version, p.kind, p.media, p.pv,
                           p.nprops,   p.av,  p.narts, p.feed, p.model, CB_OK};
    cb_err e = db_ingest_apply_many(instance, &it, 1);
    if (!e)
      e = it.result;
    if (e == CB_ENOTFOUND) {
      out = JOB_STOPPED; /* the lease was lost: someone else runs it */
    } else if (e) {
      cb_errf(eb, "cannot record the results: %s", cb_strerror(e));
      out = JOB_RETRY;
    }
  }
  prep_clear(&p);
  return out;
}

/* What a handler that read its inputs, params and input file (f) ends with: out, once
 * they and the converter's answer (res) are freed. */
static enum job_outcome job_end(enum job_outcome out, cJSON *res, cJSON *inputs, cJSON *params, struct cb_file *f)
{
  cJSON_Delete(res);
  cJSON_Delete(inputs);
  cJSON_Delete(params);
  db_file_clear(f);
  return out;
}

/* "ingest" and "extract": the text, properties and records of a file version. */
enum job_outcome job_run_ingest(struct job_run *r, struct cb_errbuf *eb)
{
  const struct cb_job *j = r->job;
  cJSON *inputs = cJSON_Parse(j->inputs), *params = cJSON_Parse(j->params);
  cJSON *in0 = cJSON_GetArrayItem(inputs, 0);
  cJSON *ver = cJSON_GetObjectItemCaseSensitive(params, "version");
  enum job_outcome out = JOB_DONE;
  struct cb_file f = {0};
  char workdir[PATH_MAX] = "";
  cJSON *res = NULL;
  if (!cJSON_IsString(in0)) {
    cb_errf(eb, "the job has no input file");
    out = JOB_FAIL;
    goto done;
  }
  cb_err e = db_file_get(in0->valuestring, &f);
  if (e == CB_ENOTFOUND) {
    out = JOB_DONE; /* deleted meanwhile: nothing to do */
    db_job_finish(j->id, instance, "succeeded", NULL, NULL);
    goto done;
  }
  if (e) {
    cb_errf(eb, "cannot read the file: %s", cb_strerror(e));
    out = JOB_RETRY;
    goto done;
  }
  int64_t version = cJSON_IsNumber(ver) ? (int64_t)ver->valuedouble : f.version;
  struct cb_version v;
  if ((e = db_file_version(f.id, version, &v))) {
    cb_errf(eb, "file version %lld is missing", (long long)version);
    out = JOB_FAIL;
    goto done;
  }
  if (version == f.version) {
    db_file_set_status(f.id, version, "processing", NULL);
    publish_file(f.owner_id, f.id, "processing", NULL);
  }
  char path[PATH_MAX];
  snprintf(r->input_sha, sizeof r->input_sha, "%s", v.sha256);
  if ((out = fetch_input(r, v.sha256, path, eb)) != JOB_DONE)
    goto failed;
  r->input_size = v.size;
  snprintf(r->input_path, sizeof r->input_path, "%s", path);
  cJSON *req = cJSON_CreateObject();
  cJSON_AddStringToObject(req, "op", "extract");
  cJSON_AddStringToObject(req, "path", path);
  cJSON_AddStringToObject(req, "name", f.name);
  /* records (molecules, ...) stream to WORKDIR/records.jsonl; stored as they come */
  char records[PATH_MAX + 32];
  char wd[PATH_MAX];
  job_workdir(r, wd);
  snprintf(records, sizeof records, "%s/records.jsonl", wd);
  struct db_records_feed feed = {.file_id = f.id, .version = version, .path = records};
  r->feed = &feed;
  r->last_feed = cb_mono_ns();
  out = convert_in_workdir(r, workdir, req, &res, eb);
  if (out == JOB_DONE) {
    r->progress = 1.0;
    out = apply_ingest(r, &f, version, workdir, res, eb);
  }
  r->feed = NULL;
  /* what a failed attempt had stored goes (a lost lease leaves it to the new holder) */
  if (out != JOB_DONE && feed.started && !r->lost)
    db_records_delete(f.id, version);
failed:
  if (out == JOB_DONE && version == f.version) {
    publish_file(f.owner_id, f.id, "processed", NULL);
  } else if ((out == JOB_FAIL || (out == JOB_RETRY && r->job->attempts >= r->job->max_attempts)) &&
             version == f.version) {
    /* the file is at fault, or store/database trouble outlasted the last attempt */
    db_file_set_status(f.id, version, "failed", eb->msg);
    publish_file(f.owner_id, f.id, "failed", eb->msg);
  }
done:
  return job_end(out, res, inputs, params, &f);
}

/* A converter request for op on the current version (read into f) of the job's input in0:
 * its local path (fetched from the store when it keeps no local files) and name. NULL,
 * with *out and eb, when the job's parameters are wrong (!ok or no input: usage says
 * what it needs), or the file (the `what`) is gone or unreadable. */
static cJSON *input_request(struct job_run *r, const char *op, const cJSON *in0, int ok, const char *usage,
                            const char *what, struct cb_file *f, enum job_outcome *out, struct cb_errbuf *eb)
{
  if (!ok || !cJSON_IsString(in0)) {
    cb_errf(eb, "%s", usage);
    *out = JOB_FAIL;
    return NULL;
  }
  cb_err e = db_file_get(in0->valuestring, f);
  if (e) {
    cb_errf(eb, e == CB_ENOTFOUND ? "the %s no longer exists" : "cannot read the %s", what);
    *out = e == CB_ENOTFOUND ? JOB_FAIL : JOB_RETRY;
    return NULL;
  }
  char path[PATH_MAX];
  if ((*out = fetch_input(r, f->sha256, path, eb)) != JOB_DONE)
    return NULL;
  cJSON *req = cJSON_CreateObject();
  cJSON_AddStringToObject(req, "op", op);
  cJSON_AddStringToObject(req, "path", path);
  cJSON_AddStringToObject(req, "name", f->name);
  return req;
}

/* "convert": the input file's current version in format params.to, as a new file (or a
 * new version of a file of that name) in output_folder_id or the input's own folder. The
 * new file gets its own ingest job with it. */
enum job_outcome job_run_convert(struct job_run *r, struct cb_errbuf *eb)
{
  const struct cb_job *j = r->job;
  cJSON *inputs = cJSON_Parse(j->inputs), *params = cJSON_Parse(j->params);
  cJSON *in0 = cJSON_GetArrayItem(inputs, 0), *to = cJSON_GetObjectItemCaseSensitive(params, "to");
  enum job_outcome out = JOB_DONE;
  struct cb_file f = {0};
  char workdir[PATH_MAX] = "";
  cJSON *res = NULL;
  cb_err e;
  int inline_ = 0;
  char kind[JOB_ARTIFACT_KIND] = "";
  cJSON *req = input_request(r, "convert", in0, cJSON_IsString(to), "a convert job needs one input and params.to",
                             "input file", &f, &out, eb);
  if (!req)
    goto done;
  cJSON_AddStringToObject(req, "to", to->valuestring);
  cJSON *props = cJSON_GetObjectItemCaseSensitive(params, "properties");
  cJSON *sheet = cJSON_GetObjectItemCaseSensitive(params, "sheet"),
        *cell = cJSON_GetObjectItemCaseSensitive(params, "cell");
  int filled = cJSON_IsString(cell) && !strcmp(cell->valuestring, "filled");
  /* GET /files/{id}/convert's: kept as an artifact of the version, or its failure remembered */
  inline_ = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(params, "inline"));
  job_convert_artifact(to->valuestring, cJSON_IsNumber(sheet) ? (int)sheet->valuedouble : 1, filled, kind);
  /* the columns of a CSV; a workbook's sheet, from 1; a crystal's filled unit cell */
  cJSON *opts = cJSON_AddObjectToObject(req, "options");
  if (cJSON_IsArray(props))
    cJSON_AddItemToObject(opts, "properties", cJSON_Duplicate(props, 1));
  if (cJSON_IsNumber(sheet))
    cJSON_AddNumberToObject(opts, "sheet", sheet->valuedouble);
  if (filled)
    cJSON_AddStringToObject(opts, "cell", "filled");
  if ((out = convert_in_workdir(r, workdir, req, &res, eb)) != JOB_DONE)
    goto done;
  cJSON *opath = cJSON_GetObjectItemCaseSensitive(res, "path");
  cJSON *omedia = cJSON_GetObjectItemCaseSensitive(res, "media_type");
  if (!cJSON_IsString(opath) || !inside(workdir, opath->valuestring)) {
    cb_errf(eb, "the converter's output is missing or outside its work folder");
    out = JOB_FAIL;
    goto done;
  }
  char sha[65], name[CB_NAME_MAX];
  uint64_t size = 0;
  if ((out = store_output(workdir, opath->valuestring, "output", sha, &size, eb)) != JOB_DONE)
    goto done;
  if (inline_) {
    e = db_artifact_apply(j->id, instance, f.id, f.version, kind,
                          cJSON_IsString(omedia) ? omedia->valuestring : "application/octet-stream", sha,
                          (int64_t)size);
    out = recorded(e, "output", eb);
    goto done;
  }
  /* name.sdf -> name.txt: the last suffix is replaced (or added) */
  const char *dot = strrchr(f.name, '.');
  int base = dot && dot != f.name ? (int)(dot - f.name) : (int)strlen(f.name);
  if (base > CB_NAME_MAX - 20)
    base = CB_NAME_MAX - 20;
  snprintf(name, sizeof name, "%.*s.%s", base, f.name, to->valuestring);
  const char *folder = j->output_folder_id[0] ? j->output_folder_id : f.folder_id;
  char file_id[CB_ID_LEN + 1];
  e = db_convert_apply(j->id, instance, folder, name, j->owner_id[0] ? j->owner_id : f.owner_id, sha, (int64_t)size,
                       cJSON_IsString(omedia) ? omedia->valuestring : "application/octet-stream", "other", file_id);
  if ((out = recorded(e, "output", eb)) == JOB_DONE)
    jobs_wake(); /* the output's own ingest */
done:
  if (out == JOB_FAIL && inline_ && f.id[0] && db_conversion_fail(f.id, f.version, kind, j->id, eb->msg))
    CB_LOG(CB_LOG_WARN, "jobs", "job %s: cannot remember that %s of file %s failed", j->id, kind, f.id);
  return job_end(out, res, inputs, params, &f);
}

/* "preview": page params.page (from 2) of the input's current version drawn as its
 * preview is (a TIFF's directory, a PDF's page), kept as the version's artifact
 * "preview-pN" for GET /files/{id}/preview?page=N, or its failure remembered. */
enum job_outcome job_run_preview(struct job_run *r, struct cb_errbuf *eb)
{
  const struct cb_job *j = r->job;
  cJSON *inputs = cJSON_Parse(j->inputs), *params = cJSON_Parse(j->params);
  cJSON *in0 = cJSON_GetArrayItem(inputs, 0), *page = cJSON_GetObjectItemCaseSensitive(params, "page");
  enum job_outcome out = JOB_DONE;
  struct cb_file f = {0};
  char workdir[PATH_MAX] = "", kind[JOB_ARTIFACT_KIND] = "";
  cJSON *res = NULL;
  /* at most CARBOY_PREVIEW_PAGES' bound: "preview-p100000" fits JOB_ARTIFACT_KIND */
  int ok = cJSON_IsNumber(page) && page->valuedouble >= 2 && page->valuedouble <= 100000;
  cJSON *req = input_request(r, "preview", in0, ok, "a preview job needs one input and params.page, from 2",
                             "input file", &f, &out, eb);
  if (!req)
    goto done;
  job_preview_artifact((int)page->valuedouble, kind);
  cJSON_AddNumberToObject(cJSON_AddObjectToObject(req, "options"), "page", (int)page->valuedouble);
  if ((out = convert_in_workdir(r, workdir, req, &res, eb)) != JOB_DONE)
    goto done;
  cJSON *opath = cJSON_GetObjectItemCaseSensitive(res, "path");
  cJSON *omedia = cJSON_GetObjectItemCaseSensitive(res, "media_type");
  if (!cJSON_IsString(opath) || !inside(workdir, opath->valuestring)) {
    cb_errf(eb, "the converter's page preview is missing or outside its work folder");
    out = JOB_FAIL;
    goto done;
  }
  char sha[65];
  uint64_t size = 0;
  if ((out = store_output(workdir, opath->valuestring, "page preview", sha, &size, eb)) != JOB_DONE)
    goto done;
  /* only an image type: the route serves it as the preview is served */
  const char *media = cJSON_IsString(omedia) && !strncmp(omedia->valuestring, "image/", 6) ? omedia->valuestring
                                                                                           : "application/octet-stream";
  out = recorded(db_artifact_apply(j->id, instance, f.id, f.version, kind, media, sha, (int64_t)size), "page preview",
                 eb);
done:
  if (out == JOB_FAIL && kind[0] && f.id[0] && db_conversion_fail(f.id, f.version, kind, j->id, eb->msg))
    CB_LOG(CB_LOG_WARN, "jobs", "job %s: cannot remember that %s of file %s failed", j->id, kind, f.id);
  return job_end(out, res, inputs, params, &f);
}

/* The folder an archive unpacks into: its name without the archive suffix. */
static void unpack_name(const char *archive, char *out, size_t cap)
{
  static const char *const sfx[] = {".tar.gz", ".tar.bz2", ".tar.xz", ".tar.zst", ".tar.lzma", ".tgz",
                                    ".tbz2",   ".tbz",     ".txz",    ".tzst",    ".zip",      ".tar",
                                    ".gz",     ".bz2",     ".xz",     ".zst",     ".lzma"};
  size_t n = strlen(archive);
  for (size_t i = 0; i < sizeof sfx / sizeof sfx[0]; i++) {
    size_t k = strlen(sfx[i]);
    if (n > k && !strcasecmp(archive + n - k, sfx[i])) {
      n -= k;
      break;
    }
  }
  snprintf(out, cap, "%.*s", (int)(n < cap - 20 ? n : cap - 20), archive);
  if (!*out || cb_name_invalid(out))
    snprintf(out, cap, "archive");
}

/* "unpack": the members of an archive (inputs[0], its current version) as files in a new
 * folder named after it, in output_folder_id or beside the archive, the archive's folders
 * recreated below it. The converter process writes the members into the work folder under
 * limits (total size, entry count, expansion ratio; params.max_total_size may lower the
 * size limit) and returns their manifest; the folders and files are then recorded in one
 * transaction with the job's success, each file with its own ingest job. An archive that
 * breaks a limit or holds an unsafe path fails the job and creates nothing. */
enum job_outcome job_run_unpack(struct job_run *r, struct cb_errbuf *eb)
{
  const struct cb_job *j = r->job;
  cJSON *inputs = cJSON_Parse(j->inputs), *params = cJSON_Parse(j->params);
  cJSON *in0 = cJSON_GetArrayItem(inputs, 0);
  enum job_outcome out = JOB_DONE;
  struct cb_file f = {0};
  char workdir[PATH_MAX] = "";
  cJSON *res = NULL, *result = NULL;
  struct db_unpack_file *files = NULL;
  const char **dirs = NULL;
  char(*shas)[65] = NULL;
  uint64_t *offsets = NULL, *sizes = NULL;
  int nfiles = 0, ndirs = 0, stored = 0, mfd = -1;
  cb_err e;
  cJSON *req = input_request(r, "unpack", in0, 1, "an unpack job needs one input, the archive", "archive", &f, &out,
                             eb);
  if (!req)
    goto done;
  const char *parent = j->output_folder_id[0] ? j->output_folder_id : f.folder_id;
  struct cb_folder pf;
  if ((e = db_folder_get(parent, &pf))) {
    cb_errf(eb, e == CB_ENOTFOUND ? "the destination folder no longer exists" : "cannot read the folder");
    out = e == CB_ENOTFOUND ? JOB_FAIL : JOB_RETRY;
    cJSON_Delete(req);
    goto done;
  }
  cJSON *max_total = cJSON_GetObjectItemCaseSensitive(params, "max_total_size");
  if (cJSON_IsNumber(max_total))
    cJSON_AddNumberToObject(req, "max_total_size", max_total->valuedouble);
  if (cfg.max_upload) /* a member is a file like an upload: the same largest size */
    cJSON_AddNumberToObject(req, "max_member_size", (double)cfg.max_upload);
  if ((out = convert_in_workdir(r, workdir, req, &res, eb)) != JOB_DONE)
    goto done;
  cJSON *mfiles = cJSON_GetObjectItemCaseSensitive(res, "files");
  cJSON *mdirs = cJSON_GetObjectItemCaseSensitive(res, "dirs");
  int mf = cJSON_GetArraySize(mfiles), md = cJSON_GetArraySize(mdirs);
  if (mf > UNPACK_ENTRIES_MAX || md > UNPACK_ENTRIES_MAX) {
    cb_errf(eb, "the archive has more than %d entries", UNPACK_ENTRIES_MAX);
    out = JOB_FAIL;
    goto done;
  }
  files = calloc((size_t)mf + 1, sizeof *files);
  dirs = calloc((size_t)md + 1, sizeof *dirs);
  shas = calloc((size_t)mf + 1, sizeof *shas);
  if (!files || !dirs || !shas) {
    cb_errf(eb, "out of memory");
    out = JOB_RETRY;
    goto done;
  }
  /* every path is checked again here: relative, each component a valid name */
  cJSON *it;
  cJSON_ArrayForEach(it, mdirs)
  {
    if (!cJSON_IsString(it) || !unpack_path_ok(it->valuestring)) {
      cb_errf(eb, "the converter named an unsafe folder path");
      out = JOB_FAIL;
      goto done;
    }
    dirs[ndirs++] = it->valuestring;
  }
  /* the members' bytes: ranges of one file the converter wrote (opened safely, and every
   * range checked against its size) */
  cJSON *mname = cJSON_GetObjectItemCaseSensitive(res, "members");
  char mpath[PATH_MAX + 64];
  struct stat msb;
  struct cb_errbuf seb = {{0}};
  snprintf(mpath, sizeof mpath, "%s/%s", workdir, cJSON_IsString(mname) ? mname->valuestring : "");
  if (!cJSON_IsString(mname) || strchr(mname->valuestring, '/') || !inside(workdir, mpath) ||
      (mfd = open_output(workdir, mpath, &msb, &seb)) < 0) {
    cb_errf(eb, "the converter's members file is missing or unsafe%s%s", seb.msg[0] ? ": " : "", seb.msg);
    out = JOB_FAIL;
    goto done;
  }
  offsets = calloc((size_t)mf + 1, sizeof *offsets);
  sizes = calloc((size_t)mf + 1, sizeof *sizes);
  if (!offsets || !sizes) {
    cb_errf(eb, "out of memory");
    out = JOB_RETRY;
    goto done;
  }
  cJSON_ArrayForEach(it, mfiles)
  {
    cJSON *p = cJSON_GetObjectItemCaseSensitive(it, "path");
    double off = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(it, "offset"));
    double size = cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(it, "size"));
    if (!cJSON_IsString(p) || !unpack_path_ok(p->valuestring)) {
      cb_errf(eb, "the converter named an unsafe member path");
      out = JOB_FAIL;
      goto done;
    }
    if (!(off >= 0 && size >= 0 && off <= 9e15 && size <= 9e15 && off == (double)(uint64_t)off &&
          size == (double)(uint64_t)size && off + size <= (double)msb.st_size)) {
      cb_errf(eb, "the converter named a member outside its members file");
      out = JOB_FAIL;
      goto done;
    }
    files[nfiles].path = p->valuestring;
    offsets[nfiles] = (uint64_t)off;
    sizes[nfiles] = (uint64_t)size;
    nfiles++;
  }
  /* store the members (copied: a converter never hands the store an inode of its own),
   * many at a time: an archive of small files is mostly syncs otherwise */
  stored = nfiles; /* some may be stored when it fails */
  if ((e = put_ranges(mfd, offsets, sizes, nfiles, shas, fetch_tick, r, &seb))) {
    if (e == CB_EABORTED) {
      out = JOB_STOPPED;
    } else {
      cb_errf(eb, "cannot store the members: %s", seb.msg);
      out = JOB_RETRY;
    }
    goto done;
  }
  for (int i = 0; i < nfiles; i++) {
    files[i].sha256 = shas[i];
    files[i].size = (int64_t)sizes[i];
  }
  char name[CB_NAME_MAX], folder_id[CB_ID_LEN + 1];
  unpack_name(f.name, name, sizeof name);
  cb_id_new(folder_id);
  result = cJSON_CreateObject();
  cJSON_AddStringToObject(result, "folder_id", folder_id);
  cJSON_AddNumberToObject(result, "files", nfiles);
  cJSON_AddNumberToObject(result, "entries", cJSON_GetNumberValue(cJSON_GetObjectItemCaseSensitive(res, "entries")));
  cJSON *skipped = cJSON_GetObjectItemCaseSensitive(res, "skipped");
  cJSON_AddItemToObject(result, "skipped", skipped ? cJSON_Duplicate(skipped, 1) : cJSON_CreateArray());
  char *result_text = cJSON_PrintUnformatted(result);
  e = result_text ? db_unpack_apply(j->id, instance, pf.id, folder_id, name, j->owner_id[0] ? j->owner_id : f.owner_id,
                                    dirs, ndirs, files, nfiles, result_text)
                  : CB_ENOMEM;
  cJSON_free(result_text);
  if (e == CB_ENOTFOUND) {
    out = JOB_STOPPED;
    stored = 0; /* another holder of the lease may be storing the same blobs */
  } else if (e) {
    cb_errf(eb, "cannot record the unpacked files: %s", cb_strerror(e));
    out = JOB_RETRY;
  } else {
    stored = 0;
    jobs_wake(); /* the members' own ingests */
  }
done:
  /* What a failed unpack stored is referenced by nothing: the orphan sweep removes it
   * after the grace period (removing it here could take a blob that an upload of the
   * same bytes has just committed and not yet recorded). */
  if (out != JOB_DONE && stored && !r->lost)
    CB_LOG(CB_LOG_DEBUG, "jobs", "job %s: %d blob(s) of the failed unpack left to the orphan sweep", j->id, stored);
  if (mfd >= 0)
    close(mfd);
  free(offsets);
  free(sizes);
  free(files);
  free(dirs);
  free(shas);
  cJSON_Delete(result);
  return job_end(out, res, inputs, params, &f);
}

/* "depict": the SVG of one record (params.record_id), kept for later requests; a drawing
 * that fails for good (the converter refused, crashed or ran out of time) is remembered
 * with its reason, so that requests answer it at once instead of queuing it again. */
enum job_outcome job_run_depict(struct job_run *r, struct cb_errbuf *eb)
{
  cJSON *params = cJSON_Parse(r->job->params);
  cJSON *rid = cJSON_GetObjectItemCaseSensitive(params, "record_id");
  struct cb_record rec = {0};
  enum job_outcome out = JOB_DONE;
  char workdir[PATH_MAX] = "";
  cJSON *res = NULL;
  cb_err e = cJSON_IsString(rid) ? db_record_get(rid->valuestring, &rec) : CB_ENOTFOUND;
  if (e || !rec.smiles || !*rec.smiles) {
    cb_errf(eb, e ? "no such record" : "the record has no structure to draw");
    out = JOB_FAIL;
    goto done;
  }
  cJSON *req = cJSON_CreateObject();
  cJSON_AddStringToObject(req, "op", "depict");
  cJSON_AddStringToObject(req, "smiles", rec.smiles);
  if ((out = convert_in_workdir(r, workdir, req, &res, eb)) != JOB_DONE)
    goto done;
  cJSON *path = cJSON_GetObjectItemCaseSensitive(res, "path");
  if (!cJSON_IsString(path) || !inside(workdir, path->valuestring)) {
    cb_errf(eb, "the depiction is missing");
    out = JOB_FAIL;
    goto done;
  }
  char sha[65];
  uint64_t size = 0;
  if ((out = store_output(workdir, path->valuestring, "depiction", sha, &size, eb)) != JOB_DONE)
    goto done;
  out = recorded(db_depiction_apply(r->job->id, instance, rec.id, sha, (int64_t)size), "depiction", eb);
done:
  if (out == JOB_FAIL && rec.id[0] && db_depiction_fail(rec.id, r->job->id, eb->msg))
    CB_LOG(CB_LOG_WARN, "jobs", "job %s: cannot remember that record %s could not be drawn", r->job->id, rec.id);
  cJSON_Delete(res);
  cJSON_Delete(params);
  db_record_clear(&rec);
  return out;
}

/* ---- models ---- */

/* "train": params {name, spec}; inputs[0] the training file; the model is the one whose
 * latest training the job is. The training runs
 * in a converter process of its own, started with the training's limits (time, memory) and
 * ended after, and writes the model's bundle; the bundle is stored as the model's file (a
 * new version when it has one) with the job's success and the model's report. */
enum job_outcome job_run_train(struct job_run *r, struct cb_errbuf *eb)
{
  const struct cb_job *j = r->job;
  cJSON *inputs = cJSON_Parse(j->inputs), *params = cJSON_Parse(j->params);
  cJSON *in0 = cJSON_GetArrayItem(inputs, 0);
  const char *name = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(params, "name"));
  cJSON *spec = cJSON_GetObjectItemCaseSensitive(params, "spec");
  enum job_outcome out = JOB_DONE;
  struct cb_file f = {0};
  char workdir[PATH_MAX] = "";
  cJSON *res = NULL;
  cJSON *req = input_request(r, "train", in0, name && cJSON_IsObject(spec),
                             "a train job needs the training file and params name and spec", "training file", &f, &out,
                             eb);
  if (!req)
    goto done;
  cJSON_AddItemToObject(req, "spec", cJSON_Duplicate(spec, 1));
  cJSON_AddStringToObject(req, "model_name", name);
  cJSON_AddNumberToObject(req, "threads", cfg.train_threads);
  r->timeout_s = cfg.train_timeout_s;
  r->cpu_s = cfg.train_timeout_s * (cfg.train_threads > 0 ? cfg.train_threads : 1) + 5;
  r->memory = cfg.train_memory;
  pool_kill(r->child); /* a process with the training's limits */
  out = convert_in_workdir(r, workdir, req, &res, eb);
  pool_kill(r->child);
  if (out != JOB_DONE)
    goto done;
  const char *path = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(res, "path"));
  cJSON *summary = cJSON_GetObjectItemCaseSensitive(res, "summary");
  if (!path || !inside(workdir, path) || !cJSON_IsObject(summary)) {
    cb_errf(eb, "the trainer's bundle is missing or outside its work folder");
    out = JOB_FAIL;
    goto done;
  }
  char sha[65], file_id[CB_ID_LEN + 1];
  uint64_t size = 0;
  if ((out = store_output(workdir, path, "model", sha, &size, eb)) != JOB_DONE)
    goto done;
  char *text = cJSON_PrintUnformatted(summary);
  cb_err e = text ? db_model_trained(j->id, instance, sha, (int64_t)size, text, file_id) : CB_ENOMEM;
  cJSON_free(text);
  if (e == CB_EINVAL) { /* the model (or its folder) was deleted, or trained anew, meanwhile */
    cb_errf(eb, "the model was deleted or trained again while this training ran");
    out = JOB_FAIL;
    goto done;
  }
  if ((out = recorded(e, "model", eb)) == JOB_DONE)
    jobs_wake(); /* the bundle's own ingest */
done:
  if ((out == JOB_FAIL || (out == JOB_RETRY && j->attempts >= j->max_attempts)) && db_model_failed(j->id, eb->msg))
    CB_LOG(CB_LOG_WARN, "jobs", "job %s: cannot record that its model failed", j->id);
  return job_end(out, res, inputs, params, &f);
}

/* "predict": params {model_file_id, model_version, smiles_column?, sheet?}; inputs[0] the
 * file to predict for. Writes the input's records with the predicted property added (SDF in, SDF out; a
 * table or SMILES file in, CSV out) as a new file in output_folder_id or beside the input. */
enum job_outcome job_run_predict(struct job_run *r, struct cb_errbuf *eb)
{
  const struct cb_job *j = r->job;
  cJSON *inputs = cJSON_Parse(j->inputs), *params = cJSON_Parse(j->params);
  cJSON *in0 = cJSON_GetArrayItem(inputs, 0);
  const char *mfile = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(params, "model_file_id"));
  cJSON *mver = cJSON_GetObjectItemCaseSensitive(params, "model_version");
  enum job_outcome out = JOB_DONE;
  struct cb_file f = {0};
  char workdir[PATH_MAX] = "", mdir[PATH_MAX + 8] = "";
  cJSON *res = NULL;
  cJSON *req = input_request(r, "predict_file", in0, mfile && cJSON_IsNumber(mver),
                             "a predict job needs its input file and params model_file_id and model_version",
                             "input file", &f, &out, eb);
  if (!req)
    goto done;
  /* the model's bundle, as the request saw it: its own download folder beside the input's */
  struct cb_version v;
  char mpath[PATH_MAX], indir[PATH_MAX];
  struct cb_errbuf seb = {{0}};
  cb_err e = db_file_version(mfile, (int64_t)mver->valuedouble, &v);
  if (e) {
    cJSON_Delete(req);
    cb_errf(eb, e == CB_ENOTFOUND ? "the model no longer exists" : "cannot read the model");
    out = e == CB_ENOTFOUND ? JOB_FAIL : JOB_RETRY;
    goto done;
  }
  job_indir(r, indir);
  snprintf(mdir, sizeof mdir, "%s.model", indir);
  if (!(store_caps(store) & STORE_CAP_LOCAL_PATH)) {
    rm_rf(mdir);
    if (mkdir(mdir, 0700)) {
      cJSON_Delete(req);
      cb_errf(eb, "cannot create the model's folder: %s", strerror(errno));
      out = JOB_RETRY;
      goto done;
    }
  }
  e = store_fetch_local(store, v.sha256, mdir, mpath, sizeof mpath, fetch_tick, r, &seb);
  if (e) {
    cJSON_Delete(req);
    cb_errf(eb, "cannot fetch the model from the store: %s", seb.msg[0] ? seb.msg : cb_strerror(e));
    out = e == CB_EABORTED ? JOB_STOPPED : e == CB_ENOTFOUND ? JOB_FAIL : JOB_RETRY;
    goto done;
  }
  cJSON_AddStringToObject(req, "model_path", mpath);
  /* how a table is read: its SMILES column and sheet (checked by the route) */
  cJSON *sc = cJSON_GetObjectItemCaseSensitive(params, "smiles_column"),
        *sh = cJSON_GetObjectItemCaseSensitive(params, "sheet");
  if (cJSON_IsString(sc))
    cJSON_AddStringToObject(req, "smiles_column", sc->valuestring);
  if (cJSON_IsNumber(sh))
    cJSON_AddNumberToObject(req, "sheet", sh->valuedouble);
  if ((out = convert_in_workdir(r, workdir, req, &res, eb)) != JOB_DONE)
    goto done;
  const char *opath = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(res, "path"));
  const char *omedia = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(res, "media_type"));
  /* the output's kind is one of two, named by the server (the converter's word picks
   * between them, nothing more) */
  const char *suffix = omedia && !strcmp(omedia, "chemical/x-mdl-sdfile") ? "sdf"
                       : omedia && !strcmp(omedia, "text/csv")            ? "csv"
                                                                          : NULL;
  if (!opath || !inside(workdir, opath) || !suffix) {
    cb_errf(eb, "the converter's output is missing, of an unknown type or outside its work folder");
    out = JOB_FAIL;
    goto done;
  }
  char sha[65], name[CB_NAME_MAX], file_id[CB_ID_LEN + 1];
  uint64_t size = 0;
  if ((out = store_output(workdir, opath, "output", sha, &size, eb)) != JOB_DONE)
    goto done;
  /* name.sdf -> name.predicted.sdf */
  const char *dot = strrchr(f.name, '.');
  int base = dot && dot != f.name ? (int)(dot - f.name) : (int)strlen(f.name);
  if (base > CB_NAME_MAX - 24)
    base = CB_NAME_MAX - 24;
  snprintf(name, sizeof name, "%.*s.predicted.%s", base, f.name, suffix);
  const char *folder = j->output_folder_id[0] ? j->output_folder_id : f.folder_id;
  e = db_convert_apply(j->id, instance, folder, name, j->owner_id[0] ? j->owner_id : f.owner_id, sha, (int64_t)size,
                       !strcmp(suffix, "sdf") ? "chemical/x-mdl-sdfile" : "text/csv", "other", file_id);
  if ((out = recorded(e, "output", eb)) == JOB_DONE)
    jobs_wake(); /* the output's own ingest */
done:
  if (mdir[0])
    rm_rf(mdir);
  return job_end(out, res, inputs, params, &f);
}

/* "noop": does nothing but report progress; params.ms makes it take that long. For the
 * queue's own tests and benchmark. */
enum job_outcome job_run_noop(struct job_run *r, struct cb_errbuf *eb)
{
  (void)eb;
  cJSON *params = cJSON_Parse(r->job->params);
  cJSON *ms = cJSON_GetObjectItemCaseSensitive(params, "ms");
  long total = cJSON_IsNumber(ms) && ms->valuedouble > 0 && ms->valuedouble < 3600000 ? (long)ms->valuedouble : 0;
  cJSON_Delete(params);
  for (long done = 0; done < total; done += 100) {
    struct timespec t = {0, 100 * 1000000L};
    nanosleep(&t, NULL);
    r->progress = (double)(done + 100) / (double)total;
    if (tick(r, r->progress))
      return JOB_STOPPED;
  }
  if (db_job_finish(r->job->id, instance, "succeeded", NULL, NULL))
    return JOB_STOPPED;
  return JOB_DONE;
}

/* How a job run by this worker ends, as its handler's outcome says: its state and event. */
static void job_ended(const struct job_run *r, enum job_outcome out, const char *err)
{
  const struct cb_job *j = r->job;
  if (out == JOB_STOPPED && !r->lost) {
    /* canceled, or the server is stopping: end or hand back the job */
    if (r->canceled) {
      db_job_finish(j->id, instance, "canceled", "canceled", NULL);
      publish_job(j, "canceled", r->progress, "canceled");
    } else {
      char now[CB_TIME_MAX];
      ts_in(0, now);
      db_job_defer(j->id, instance, now, NULL);
    }
    return;
  }
  if (out == JOB_RETRY && j->attempts < j->max_attempts) {
    char when[CB_TIME_MAX];
    ts_in(1 << (j->attempts < 10 ? j->attempts : 10), when);
    CB_LOG(CB_LOG_WARN, "jobs", "job %s (%s) attempt %d failed, retrying: %s", j->id, j->type, j->attempts, err);
    db_job_defer(j->id, instance, when, err);
    publish_job(j, "queued", r->progress, err);
    return;
  }
  if (out == JOB_FAIL || out == JOB_RETRY) {
    CB_LOG(CB_LOG_INFO, "jobs", "job %s (%s) failed: %s", j->id, j->type, err);
    db_job_finish(j->id, instance, "failed", err, NULL);
    publish_job(j, "failed", r->progress, err);
    return;
  }
  if (out == JOB_DONE)
    publish_job(j, "succeeded", 1.0, NULL);
}

/* Runs a job this worker claimed (and announced as running) through its type's handler. */
static void run_claimed(struct pool_child *child, struct cb_job *j, int batch, struct group_run *g)
{
  struct job_run r = {.job = j, .child = child, .batch = batch, .last_beat = cb_mono_ns(), .group = g};
  converter_priority(&r);
  struct cb_errbuf why = {""};
  const struct job_type *type = job_type_find(j->type);
  enum job_outcome out = JOB_FAIL;
  if (type)
    out = type->run(&r, &why);
  else
    cb_errf(&why, "unknown job type '%s'", j->type);
  char indir[PATH_MAX];
  job_indir(&r, indir);
  rm_rf(indir); /* a downloaded input, if any */
  job_workdir(&r, indir);
  rm_rf(indir); /* the converter's work folder, if the handler made one */
  job_ended(&r, out, why.msg);
}

static void run_job(struct pool_child *child, struct cb_job *j, int batch)
{
  publish_job(j, "running", 0, NULL);
  run_claimed(child, j, batch, NULL);
}

/* ---- small files in batches ----
 * A worker that claims the ingest of a small file (at most cfg.ingest_batch_max_size)
 * claims up to cfg.ingest_batch - 1 more of the same owner's due small-file ingests in the
 * same lane (db_job_claim_group: the batch is one turn of that owner). Their inputs go to
 * the converter in one "extract_many" request, each in its own folder of the batch's work
 * folder, and what they made is recorded in one transaction (db_ingest_apply_many). Each
 * job still has its own lease (renewed together), events, result and error: a file the
 * converter refuses fails its own job. When the batch as a whole fails (the converter
 * crashed, ran out of time or memory) or leaves files without an answer, those files run
 * one by one, as if never batched, so the file at fault fails alone. */
struct group_item {
  struct cb_job *job;
  struct job_run r;
  struct cb_file f;
  int64_t version;
  char in[PATH_MAX];  /* the input's local path */
  char dir[PATH_MAX]; /* its folder in the batch's work folder */
  char records[PATH_MAX + 32];
  struct db_records_feed feed;
  enum { G_PENDING, G_ALONE, G_DONE } state;
};

static atomic_ullong batches_run, batch_jobs; /* for /metrics */

void jobs_batch_counts(unsigned long long *batches, unsigned long long *jobs)
{
  *batches = atomic_load(&batches_run);
  *jobs = atomic_load(&batch_jobs);
}

struct group_run {
  struct group_item *items;
  int n;
  uint64_t last_beat;
};

/* Renews the lease of every job of the batch not ended yet, every HEARTBEAT_S: the ones
 * in the converter's round trip, and those waiting to run alone. */
static void group_keepalive(struct group_run *g)
{
  uint64_t now = cb_mono_ns();
  if (now - g->last_beat < (uint64_t)HEARTBEAT_S * 1000000000ull)
    return;
  g->last_beat = now;
  for (int i = 0; i < g->n; i++)
    if (g->items[i].state != G_DONE && !g->items[i].r.lost)
      beat(&g->items[i].r); /* a lost or canceled one is left out when its turn comes */
}

static int group_tick(void *ctx, double fraction)
{
  struct group_run *g = ctx;
  converter_priority(&g->items[0].r);
  (void)fraction;
  group_keepalive(g);
  return atomic_load(&stopping);
}

/* Readies item it for the batch: its file, version and local input. 0, or -1 when it is
 * to run alone (the single path tells its trouble) or has ended (its file is gone). */
static int group_stage(struct group_item *it)
{
  cJSON *inputs = cJSON_Parse(it->job->inputs), *params = cJSON_Parse(it->job->params);
  cJSON *in0 = cJSON_GetArrayItem(inputs, 0), *ver = cJSON_GetObjectItemCaseSensitive(params, "version");
  int rc = -1;
  cb_err e = cJSON_IsString(in0) ? db_file_get(in0->valuestring, &it->f) : CB_EINVAL;
  if (e == CB_ENOTFOUND) { /* deleted meanwhile: nothing to do */
    db_job_finish(it->job->id, instance, "succeeded", NULL, NULL);
    publish_job(it->job, "succeeded", 1.0, NULL);
    it->state = G_DONE;
    goto done;
  }
  struct cb_version v;
  struct cb_errbuf eb = {""};
  if (e)
    goto done;
  it->version = cJSON_IsNumber(ver) ? (int64_t)ver->valuedouble : it->f.version;
  if (db_file_version(it->f.id, it->version, &v) || fetch_input(&it->r, v.sha256, it->in, &eb) != JOB_DONE)
    goto done;
  snprintf(it->r.input_sha, sizeof it->r.input_sha, "%s", v.sha256);
  it->r.input_size = v.size;
  snprintf(it->r.input_path, sizeof it->r.input_path, "%s", it->in);
  rc = 0;
done:
  cJSON_Delete(inputs);
  cJSON_Delete(params);
  return rc;
}

/* The end of a batch item that did not run alone: its outcome, as run_claimed ends it. */
static void group_item_end(struct group_item *it, enum job_outcome out, const char *err)
{
  if (it->version == it->f.version) {
    if (out == JOB_DONE) {
      publish_file(it->f.owner_id, it->f.id, "processed", NULL);
    } else if (out == JOB_FAIL || (out == JOB_RETRY && it->job->attempts >= it->job->max_attempts)) {
      db_file_set_status(it->f.id, it->version, "failed", err);
      publish_file(it->f.owner_id, it->f.id, "failed", err);
    }
  }
  job_ended(&it->r, out, err);
  it->state = G_DONE;
}

static void run_group(struct pool_child *child, struct cb_job *jobs, int n, int batch)
{
  struct group_item *items = calloc((size_t)n, sizeof *items);
  if (!items) {
    for (int i = 0; i < n; i++)
      run_job(child, &jobs[i], batch);
    return;
  }
  struct group_run g = {items, n, cb_mono_ns()};
  char workdir[PATH_MAX];
  int staged = 0;
  for (int i = 0; i < n; i++) {
    struct group_item *it = &items[i];
    it->job = &jobs[i];
    it->r = (struct job_run){.job = &jobs[i], .child = child, .batch = batch, .last_beat = cb_mono_ns()};
    publish_job(it->job, "running", 0, NULL);
    if (group_stage(it))
      it->state = it->state == G_DONE ? G_DONE : G_ALONE;
    else
      staged++;
  }
  cJSON *req = staged > 1 ? cJSON_CreateObject() : NULL, *res = NULL;
  cJSON *list = req ? cJSON_AddArrayToObject(req, "items") : NULL;
  struct cb_errbuf eb = {""};
  /* the batch's work folder (the first job's), a folder per item in it, the input linked in */
  uid_t wuid = CONFINE_UID_BASE + (uid_t)child->slot;
  int own = (confine_layers() & CONFINE_UID) && !geteuid();
  job_workdir(&items[0].r, workdir);
  rm_rf(workdir);
  if (list && mkdir(workdir, 0700)) /* the converters' uid gets it once its folders are in */
    list = NULL;
  /* every file of the batch was marked processing when the batch was claimed */
  for (int i = 0; i < n; i++)
    if (items[i].state == G_PENDING && items[i].version == items[i].f.version)
      publish_file(items[i].f.owner_id, items[i].f.id, "processing", NULL);
  for (int i = 0; list && i < n; i++) {
    struct group_item *it = &items[i];
    if (it->state != G_PENDING)
      continue;
    /* the input beside the item's folder, which the converter makes when it writes
     * something (a plain-text file writes nothing: no folder made and removed) */
    char staged_in[PATH_MAX + 16];
    snprintf(it->dir, sizeof it->dir, "%s/%d", workdir, i);
    snprintf(staged_in, sizeof staged_in, "%s/%d.input", workdir, i);
    if (link(it->in, staged_in) && copy_file(it->in, staged_in)) {
      it->state = G_ALONE;
      continue;
    }
    chmod(staged_in, 0444); /* a downloaded input is the server's (0600): the converter's uid reads it */
    cJSON *o = cJSON_CreateObject();
    cJSON_AddStringToObject(o, "path", staged_in);
    cJSON_AddStringToObject(o, "name", it->f.name);
    cJSON_AddStringToObject(o, "workdir", it->dir);
    cJSON_AddItemToArray(list, o);
    snprintf(it->records, sizeof it->records, "%s/records.jsonl", it->dir);
    it->feed = (struct db_records_feed){.file_id = it->f.id, .version = it->version, .path = it->records};
    it->r.feed = &it->feed;
  }
  cb_err e = CB_EINVAL;
  if (list && own && chown(workdir, wuid, (gid_t)wuid))
    list = NULL; /* every item runs alone */
  if (list && cJSON_GetArraySize(list) > 0) {
    cJSON_AddStringToObject(req, "op", "extract_many");
    cJSON_AddStringToObject(req, "workdir", workdir);
    char slot_dir[PATH_MAX];
    slot_workdir(child->slot, slot_dir);
    struct pool_limits lim = {cfg.self_exe, cfg.timeout_s, 0, cfg.worker_memory, cfg.data_dir, slot_dir};
    e = pool_run(child, &lim, req, group_tick, &g, &res, &eb);
  }
  if (!e && cJSON_GetArraySize(list) > 1)
    atomic_fetch_add(&batches_run, 1);
  cJSON_Delete(req);
  cJSON *answers = e ? NULL : cJSON_GetObjectItemCaseSensitive(res, "results");
  /* the answers in item order (items left out of the request have none) */
  struct db_ingest *apply = calloc((size_t)n + 1, sizeof *apply);
  struct ingest_prep *preps = calloc((size_t)n + 1, sizeof *preps);
  int *which = calloc((size_t)n + 1, sizeof *which), napply = 0;
  cJSON *ans = answers ? answers->child : NULL;
  for (int i = 0; i < n; i++) {
    struct group_item *it = &items[i];
    if (it->state != G_PENDING || !it->dir[0])
      continue;
    cJSON *a = ans;
    ans = ans ? ans->next : NULL;
    if (e == CB_EABORTED) { /* stopping: every job goes back to the queue */
      group_item_end(it, JOB_STOPPED, "");
      continue;
    }
    group_keepalive(&g);
    if (it->r.lost || it->r.canceled) {
      group_item_end(it, JOB_STOPPED, "");
      continue;
    }
    if (!a || !apply || !preps || !which) { /* no answer: alone, where a crash is its own */
      it->state = G_ALONE;
      continue;
    }
    cJSON *ok = cJSON_GetObjectItemCaseSensitive(a, "ok"), *err = cJSON_GetObjectItemCaseSensitive(a, "error");
    if (!cJSON_IsTrue(ok)) { /* the converter refused this file: it fails alone */
      group_item_end(it, JOB_FAIL, cJSON_IsString(err) ? err->valuestring : "the converter failed");
      continue;
    }
    struct cb_errbuf ieb = {""};
    it->r.progress = 1.0;
    enum job_outcome out = ingest_prepare(&it->r, it->dir, cJSON_GetObjectItemCaseSensitive(a, "result"),
                                          &preps[napply], &ieb);
    if (out != JOB_DONE) {
      prep_clear(&preps[napply]);
      group_item_end(it, out, ieb.msg);
      continue;
    }
    struct ingest_prep *p = &preps[napply];
    apply[napply] = (struct db_ingest){it->job->id, it->f.id, it->version, p->kind, p->media, p->pv,
                                       p->nprops,   p->av,    p->narts,    p->feed, p->model, CB_OK};
    which[napply++] = i;
  }
  if (napply) {
    cb_err ae = db_ingest_apply_many(instance, apply, napply);
    for (int k = 0; k < napply; k++) {
      struct group_item *it = &items[which[k]];
      if (apply[k].result == CB_ENOTFOUND) {
        it->r.lost = 1; /* someone else runs it */
        group_item_end(it, JOB_STOPPED, "");
      } else if (apply[k].result) {
        char msg[200];
        snprintf(msg, sizeof msg, "cannot record the results: %s", cb_strerror(ae ? ae : apply[k].result));
        group_item_end(it, JOB_RETRY, msg);
      } else {
        atomic_fetch_add(&batch_jobs, 1);
        group_item_end(it, JOB_DONE, "");
      }
      prep_clear(&preps[k]);
    }
  }
  free(apply);
  free(preps);
  free(which);
  cJSON_Delete(res);
  rm_rf(workdir);
  for (int i = 0; i < n; i++) {
    char indir[PATH_MAX];
    job_indir(&items[i].r, indir);
    rm_rf(indir); /* a downloaded input, if any */
  }
  /* what the batch could not do, one by one (the file's state is told again) */
  for (int i = 0; i < n; i++)
    if (items[i].state == G_PENDING) /* never sent: the batch's folder could not be made */
      items[i].state = G_ALONE;
  for (int i = 0; i < n && !atomic_load(&stopping); i++) {
    if (items[i].state != G_ALONE)
      continue;
    group_keepalive(&g);
    if (items[i].r.lost) { /* taken over: its new holder runs it */
      items[i].state = G_DONE;
      continue;
    }
    if (items[i].r.canceled) {
      group_item_end(&items[i], JOB_STOPPED, "");
      continue;
    }
    run_claimed(child, items[i].job, batch, &g);
    items[i].state = G_DONE;
  }
  for (int i = 0; i < n; i++) {
    if (items[i].state == G_ALONE && !items[i].r.lost) { /* stopping: back to the queue */
      char now[CB_TIME_MAX];
      ts_in(0, now);
      db_job_defer(items[i].job->id, instance, now, NULL);
    }
    db_file_clear(&items[i].f);
  }
  free(items);
}

/* The ingest j just claimed, with the same owner's other small-file ingests due now, when
 * j's file is small too: 1 and the batch run, or 0 (j is to run alone). */
static int try_group(struct pool_child *child, struct cb_job *j, int batch)
{
  if (cfg.ingest_batch < 2 || strcmp(j->type, "ingest"))
    return 0;
  cJSON *inputs = cJSON_Parse(j->inputs);
  cJSON *in0 = cJSON_GetArrayItem(inputs, 0);
  struct cb_file f = {0};
  int small = cJSON_IsString(in0) && !db_file_get(in0->valuestring, &f) && f.size >= 0 &&
              (uint64_t)f.size <= cfg.ingest_batch_max_size;
  db_file_clear(&f);
  cJSON_Delete(inputs);
  if (!small)
    return 0;
  char now[CB_TIME_MAX], until[CB_TIME_MAX];
  ts_in(0, now);
  ts_in(LEASE_S, until);
  struct cb_job *more = NULL;
  int n = 0;
  if (db_job_claim_group(instance, j->lane, j->owner_id, "ingest", (int64_t)cfg.ingest_batch_max_size,
                         cfg.ingest_batch - 1, now, until, j->id, &more, &n) ||
      !n) {
    free(more);
    return 0;
  }
  struct cb_job *all = calloc((size_t)n + 1, sizeof *all);
  if (!all) { /* each on its own, then */
    run_job(child, j, batch);
    for (int i = 0; i < n; i++) {
      run_job(child, &more[i], batch);
      db_job_clear(&more[i]);
    }
    free(more);
    return 1;
  }
  all[0] = *j;
  memcpy(all + 1, more, (size_t)n * sizeof *all);
  free(more);
  run_group(child, all, n + 1, batch);
  for (int i = 1; i <= n; i++)
    db_job_clear(&all[i]);
  free(all); /* all[0]'s strings are j's: its caller clears them */
  return 1;
}

static void *worker(void *arg)
{
  intptr_t idx = (intptr_t)arg;
  struct pool_child child = {.to_child = -1, .from_child = -1, .slot = (int)idx};
  char slot_dir[PATH_MAX];
  slot_workdir((int)idx, slot_dir);
  if ((mkdir(slot_dir, 0711) && errno != EEXIST) || chmod(slot_dir, 0711))
    CB_LOG(CB_LOG_ERROR, "jobs", "cannot create %s: %s", slot_dir, strerror(errno));
  uint64_t last_recovery = 0;
  while (!atomic_load(&stopping)) {
    uint64_t now_ns = cb_mono_ns();
    if (idx == 0 && now_ns - last_recovery > 5000000000ull) {
      char now[CB_TIME_MAX];
      int n = 0;
      ts_in(0, now);
      db_job_requeue_orphans(instance, now, &n);
      if (n)
        CB_LOG(CB_LOG_INFO, "jobs", "%d job(s) with expired leases queued again", n);
      last_recovery = now_ns;
    }
    char now[CB_TIME_MAX], until[CB_TIME_MAX];
    ts_in(0, now);
    ts_in(LEASE_S, until);
    struct cb_job j = {0};
    /* a batch worker lends itself to interactive work when its own lane has none due */
    cb_err e = idx < nbatch ? db_job_claim(instance, "batch", now, until, &j) : CB_ENOTFOUND;
    if (e == CB_ENOTFOUND)
      e = db_job_claim(instance, "interactive", now, until, &j);
    if (e == CB_ENOTFOUND) {
      idle_wait(250);
      continue;
    }
    if (e) {
      CB_LOG(CB_LOG_WARN, "jobs", "cannot claim a job: %s", cb_strerror(e));
      idle_wait(1000);
      continue;
    }
    /* a converter process serves one owner's jobs: whatever a file of one user did to
     * it never meets the next user's files */
    if (child.pid > 0 && strcmp(child.owner, j.owner_id))
      pool_kill(&child);
    snprintf(child.owner, sizeof child.owner, "%s", j.owner_id);
    int batch = strcmp(j.lane, "interactive") != 0;
    if (!try_group(&child, &j, batch))
      run_job(&child, &j, batch);
    db_job_clear(&j);
  }
  pool_kill(&child);
  db_thread_close();
  return NULL;
}

cb_err jobs_start(const struct cb_jobs_config *c, struct store *s, struct cb_errbuf *eb)
{
  cfg = *c;
  store = s;
  if (cfg.workers < 1)
    cfg.workers = 1;
  if (cfg.interactive_workers < 1)
    cfg.interactive_workers = 1;
  if (cfg.workers + cfg.interactive_workers > MAX_WORKERS)
    cfg.workers = MAX_WORKERS - cfg.interactive_workers;
  cb_id_new(instance);
  char work[PATH_MAX];
  snprintf(work, sizeof work, "%s/work", cfg.data_dir);
  rm_rf(work); /* leftovers of jobs that were running when a previous process died */
  if (mkdir(work, 0700) && errno != EEXIST) {
    cb_errf(eb, "cannot create %s: %s", work, strerror(errno));
    return CB_EIO;
  }
  /* converters run as other uids (confine.h): they pass through the data and work
   * folders to their own (0711: no listing), and nothing else of the data folder is
   * theirs to read, with or without a mount namespace (the database and uploads are
   * 0600/0700 under the server's umask 077, the default blob folder 0700; a job's input
   * is a link in its own folder) */
  char blobs[PATH_MAX];
  snprintf(blobs, sizeof blobs, "%s/blobs", cfg.data_dir);
  if (!geteuid() && (chmod(cfg.data_dir, 0711) || chmod(work, 0711) || (chmod(blobs, 0700) && errno != ENOENT)))
    CB_LOG(CB_LOG_WARN, "jobs", "cannot set the data folder's modes for the converters: %s", strerror(errno));
  confine_probe(cfg.data_dir);
  /* Everything running belongs to a previous process: queue it again now. */
  char now[CB_TIME_MAX];
  int n = 0;
  ts_in(0, now);
  cb_err e = db_job_requeue_orphans(instance, now, &n);
  if (e) {
    cb_errf(eb, "cannot recover the job queue: %s", cb_strerror(e));
    return e;
  }
  if (n)
    CB_LOG(CB_LOG_INFO, "jobs", "%d interrupted job(s) queued again", n);
  atomic_store(&stopping, 0);
  nbatch = cfg.workers;
  for (nthreads = 0; nthreads < cfg.workers + cfg.interactive_workers; nthreads++)
    if (pthread_create(&threads[nthreads], NULL, worker, (void *)(intptr_t)nthreads)) {
      cb_errf(eb, "cannot start worker threads");
      jobs_stop();
      return CB_EIO;
    }
  return CB_OK;
}

void jobs_stop(void)
{
  atomic_store(&stopping, 1);
  pthread_mutex_lock(&wake_lock);
  pthread_cond_broadcast(&wake_cond);
  pthread_mutex_unlock(&wake_lock);
  for (int i = 0; i < nthreads; i++)
    pthread_join(threads[i], NULL);
  nthreads = 0;
}
