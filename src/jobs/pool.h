/* Converter processes: each worker thread owns one child (`carboy worker`) that it
 * restarts after a crash, a kill or a timeout. The child is confined before exec
 * (confine.h: environment, namespaces, uid, no_new_privs, limits; the worker adds its
 * seccomp filter); the wall clock is watched here. */
#ifndef CB_POOL_H
#define CB_POOL_H
#include <cjson/cJSON.h>
#include <stdint.h>
#include <sys/types.h>

#include "util/err.h"

struct pool_child {
  pid_t pid;
  int slot;       /* the job worker that owns it (its work folder is DATA/work/wSLOT) */
  char owner[25]; /* whose jobs it serves: a job of another owner gets a new process */
  int to_child;   /* its stdin */
  int from_child; /* its stdout */
  char *buf;      /* bytes read but not yet a whole line */
  size_t len, cap;
};

struct pool_limits {
  const char *exe;
  int timeout_s;
  int cpu_s; /* CPU seconds a request may use: 0 is timeout_s + 5 (one thread's worth) */
  uint64_t memory;
  const char *data_dir; /* the converter sees nothing of it (confine.h) but... */
  const char *work_dir; /* ...its worker's own work folder, DATA/work/wN */
};

/* Called on every progress report (fraction >= 0) and about once a second (fraction < 0).
 * A non-zero return stops the conversion (the child is killed). */
typedef int (*pool_tick_fn)(void *ctx, double fraction);

/* Sends req to the child (starting it if needed) and waits for its answer: *result gets
 * the "result" object on success (caller deletes). Errors: CB_EINVAL with the converter's
 * own message (the file is at fault), CB_EABORTED when tick asked to stop, CB_EIO when the
 * process crashed, was killed for a limit or timed out (eb says which), CB_ETHROTTLED when
 * no converter process could be started, CB_ENOMEM when the server ran out of memory. */
cb_err pool_run(struct pool_child *c, const struct pool_limits *lim, cJSON *req, pool_tick_fn tick, void *ctx,
                cJSON **result, struct cb_errbuf *eb);
void pool_kill(struct pool_child *c);

#endif
