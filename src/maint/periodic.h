/* A thread of its own that runs one function now and then until it is stopped: the live
 * store's watch (live.c) and the orphan sweep (sweep.c). */
#ifndef CB_MAINT_PERIODIC_H
#define CB_MAINT_PERIODIC_H
#include <pthread.h>

#include "util/err.h"

struct periodic {
  pthread_t thread;
  pthread_mutex_t mu;
  pthread_cond_t cond;
  int running, stop;
  int every_s;   /* the pause between two runs */
  int run_first; /* run once at start, before the first pause */
  void (*run)(void *ctx);
  void *ctx;
};
#define PERIODIC_INIT                                                 \
  {                                                                   \
    .mu = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER \
  }

/* Starts the thread; CB_EINVAL when it runs already. */
cb_err periodic_start(struct periodic *p, int every_s, int run_first, void (*run)(void *ctx), void *ctx);
/* Whether periodic_stop has been called: a long run checks it to end early. */
int periodic_stopping(struct periodic *p);
/* Wakes the thread from its pause, ends it and waits for it (a run in progress ends first). */
void periodic_stop(struct periodic *p);

#endif
