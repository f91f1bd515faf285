#include "maint/periodic.h"

#include <errno.h>
#include <time.h>

#include "db/db.h"

static void *periodic_main(void *arg)
{
  struct periodic *p = arg;
  int first = p->run_first;
  pthread_mutex_lock(&p->mu);
  while (!p->stop) {
    if (!first) {
      struct timespec ts;
      clock_gettime(CLOCK_REALTIME, &ts);
      ts.tv_sec += p->every_s;
      while (!p->stop && pthread_cond_timedwait(&p->cond, &p->mu, &ts) != ETIMEDOUT)
        ;
      if (p->stop)
        break;
    }
    first = 0;
    pthread_mutex_unlock(&p->mu);
    p->run(p->ctx);
    pthread_mutex_lock(&p->mu);
  }
  pthread_mutex_unlock(&p->mu);
  db_thread_close();
  return NULL;
}

cb_err periodic_start(struct periodic *p, int every_s, int run_first, void (*run)(void *ctx), void *ctx)
{
  if (p->running)
    return CB_EINVAL;
  p->every_s = every_s;
  p->run_first = run_first;
  p->run = run;
  p->ctx = ctx;
  p->stop = 0;
  if (pthread_create(&p->thread, NULL, periodic_main, p))
    return CB_ENOMEM;
  p->running = 1;
  return CB_OK;
}

int periodic_stopping(struct periodic *p)
{
  pthread_mutex_lock(&p->mu);
  int s = p->stop;
  pthread_mutex_unlock(&p->mu);
  return s;
}

void periodic_stop(struct periodic *p)
{
  if (!p->running)
    return;
  pthread_mutex_lock(&p->mu);
  p->stop = 1;
  pthread_cond_signal(&p->cond);
  pthread_mutex_unlock(&p->mu);
  pthread_join(p->thread, NULL);
  p->running = 0;
}
