/* The matcher pool (matchers.h): CARBOY_MATCHERS processes, each owned by one request
 * at a time. A request takes an idle one (waiting on a condition variable while all are
 * busy), sends its line and reads the answer through pool_run, which watches the clock
 * and replaces a process that died. A process serves one user at a time, as converters
 * do: it parses that user's query and keeps that user's candidates, so a process a
 * crafted query took over holds nothing of anyone else's; a request prefers an idle
 * process already serving its user, and one of another user is started afresh. */
#include "search/matchers.h"

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

#include "jobs/pool.h"
#include "util/confine.h"
#include "util/log.h"
#include "util/util.h"

#define MATCHERS_MAX 64
/* their own uids and work folders, after the job workers' (jobs.h: at most 256 of each lane) */
#define SLOT_BASE 1000

static struct matchers_config cfg;
static struct pool_child procs[MATCHERS_MAX];
static char busy[MATCHERS_MAX];
static char work_dirs[MATCHERS_MAX][PATH_MAX];
static int count, stopping;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t idle = PTHREAD_COND_INITIALIZER;

cb_err matchers_start(const struct matchers_config *c, struct cb_errbuf *eb)
{
  cfg = *c;
  count = cfg.count < 1 ? 1 : cfg.count > MATCHERS_MAX ? MATCHERS_MAX : cfg.count;
  for (int i = 0; i < count; i++) {
    procs[i] = (struct pool_child){.to_child = -1, .from_child = -1, .slot = SLOT_BASE + i};
    /* the folder its confinement binds: the matcher's own (a model's file is written there
     * for libsvm and liblinear, which load models only by name) */
    snprintf(work_dirs[i], sizeof work_dirs[i], "%s/work/m%d", cfg.data_dir, i);
    if ((mkdir(work_dirs[i], 0700) && errno != EEXIST) || chmod(work_dirs[i], 0700)) {
      cb_errf(eb, "cannot create %s: %s", work_dirs[i], strerror(errno));
      return CB_EIO;
    }
    uid_t uid = CONFINE_UID_BASE + (uid_t)procs[i].slot;
    if ((confine_layers() & CONFINE_UID) && !geteuid() && chown(work_dirs[i], uid, (gid_t)uid)) {
      cb_errf(eb, "cannot give %s to the matchers' uid: %s", work_dirs[i], strerror(errno));
      return CB_EIO;
    }
  }
  stopping = 0;
  return CB_OK;
}

void matchers_stop(void)
{
  pthread_mutex_lock(&lock);
  stopping = 1;
  pthread_cond_broadcast(&idle);
  for (;;) {
    int any = 0;
    for (int i = 0; i < count; i++)
      any |= busy[i];
    if (!any)
      break;
    pthread_cond_wait(&idle, &lock);
  }
  for (int i = 0; i < count; i++)
    pool_kill(&procs[i]);
  pthread_mutex_unlock(&lock);
}

/* Removes what a folder holds (files a matcher wrote: the models libsvm and liblinear
 * load by name), the folder kept. */
static void empty_folder(const char *dir)
{
  DIR *d = opendir(dir);
  if (!d)
    return;
  struct dirent *de;
  while ((de = readdir(d)))
    if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
      unlinkat(dirfd(d), de->d_name, 0);
  closedir(d);
}

/* An idle matcher's index, made the owner's, or -1 when none became idle by the
 * deadline. */
static int take(const char *owner, const struct timespec *until)
{
  pthread_mutex_lock(&lock);
  int got = -1;
  while (!stopping) {
    /* one serving this owner first, then one not started, then one started afresh (a
     * new process costs Open Babel's loading) */
    for (int i = 0; i < count && got < 0; i++)
      if (!busy[i] && procs[i].pid > 0 && !strcmp(procs[i].owner, owner))
        got = i;
    for (int i = 0; i < count && got < 0; i++)
      if (!busy[i] && procs[i].pid <= 0)
        got = i;
    for (int i = 0; i < count && got < 0; i++)
      if (!busy[i])
        got = i;
    if (got >= 0 || pthread_cond_timedwait(&idle, &lock, until))
      break;
  }
  if (got >= 0)
    busy[got] = 1;
  pthread_mutex_unlock(&lock);
  if (got >= 0 && strcmp(procs[got].owner, owner)) {
    pool_kill(&procs[got]);
    empty_folder(work_dirs[got]); /* a model file a killed process left: nothing for the next user */
    snprintf(procs[got].owner, sizeof procs[got].owner, "%s", owner);
  }
  return got;
}

static void give_back(int i)
{
  pthread_mutex_lock(&lock);
  busy[i] = 0;
  pthread_cond_broadcast(&idle);
  pthread_mutex_unlock(&lock);
}

static int no_tick(void *ctx, double fraction)
{
  (void)ctx;
  (void)fraction;
  return 0;
}

cb_err matchers_call(const char *owner, cJSON *req, int timeout_s, cJSON **result, struct cb_errbuf *eb)
{
  *result = NULL;
  struct timespec until;
  clock_gettime(CLOCK_REALTIME, &until);
  until.tv_sec += timeout_s;
  cb_err e = CB_EIO;
  for (int attempt = 0; attempt < 2; attempt++) {
    int i = take(owner ? owner : "", &until);
    if (i < 0) {
      cb_errf(eb, "every structure matcher is busy: try again");
      return CB_ETHROTTLED;
    }
    struct pool_limits lim = {cfg.self_exe, timeout_s, 0, cfg.memory, cfg.data_dir, work_dirs[i]};
    /* its own folder, for what a library reads only from a file (a model's) */
    cJSON_DeleteItemFromObjectCaseSensitive(req, "workdir");
    cJSON_AddStringToObject(req, "workdir", work_dirs[i]);
    uint64_t t0 = cb_mono_ns();
    e = pool_run(&procs[i], &lim, req, no_tick, NULL, result, eb);
    give_back(i);
    if (e != CB_EIO)
      return e;
    /* the process died under this request (killed, crashed, out of memory): pool_run
     * reaped it, and the next attempt starts a new one; a request that ran out of time
     * would only do so again */
    CB_LOG(CB_LOG_WARN, "search", "structure matcher %d ended during a request: %s", i, eb->msg);
    if (cb_mono_ns() - t0 >= (uint64_t)timeout_s * 1000000000ull)
      return e;
  }
  return e;
}

int matchers_count(void)
{
  return count;
}
