/* The event feed: a ring of the latest job and file state changes with sequence numbers.
 * Readers (SSE connections, the webhook sender) wait on a condition variable and take
 * what came after the last sequence they saw; a reader that falls more than the ring
 * behind skips ahead (SSE clients then reload their state). Requests that wait for a job
 * (a depiction, a conversion, a structure search) watch it: its events wake them. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "jobs/jobs.h"

#define RING 4096

static struct cb_event ring[RING];
static uint64_t next_seq = 1;
static int closing;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static struct events_watch *watches; /* under lock */

static void copy_id(char *dst, size_t cap, const char *src)
{
  snprintf(dst, cap, "%s", src ? src : "");
}

/* timeout_ms from now on clock */
static void deadline(clockid_t clock, int timeout_ms, struct timespec *until)
{
  clock_gettime(clock, until);
  until->tv_sec += timeout_ms / 1000;
  until->tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
  if (until->tv_nsec >= 1000000000L) {
    until->tv_sec++;
    until->tv_nsec -= 1000000000L;
  }
}

void events_publish(const char *type, const char *owner_id, const char *file_id, const char *job_id, const char *data)
{
  char *copy = strdup(data ? data : "{}");
  if (!copy)
    return;
  pthread_mutex_lock(&lock);
  struct cb_event *e = &ring[next_seq % RING];
  free(e->data);
  e->seq = next_seq++;
  copy_id(e->type, sizeof e->type, type);
  copy_id(e->owner_id, sizeof e->owner_id, owner_id);
  copy_id(e->file_id, sizeof e->file_id, file_id);
  copy_id(e->job_id, sizeof e->job_id, job_id);
  e->data = copy;
  pthread_cond_broadcast(&cond);
  for (struct events_watch *w = watches; w && e->job_id[0]; w = w->next)
    if (!strcmp(w->job_id, e->job_id)) {
      w->woken = 1;
      pthread_cond_signal(&w->cond);
    }
  pthread_mutex_unlock(&lock);
}

uint64_t events_last_seq(void)
{
  pthread_mutex_lock(&lock);
  uint64_t s = next_seq - 1;
  pthread_mutex_unlock(&lock);
  return s;
}

int events_wait(uint64_t *seq, struct cb_event *out, int max, int timeout_ms)
{
  struct timespec until;
  deadline(CLOCK_REALTIME, timeout_ms, &until);
  pthread_mutex_lock(&lock);
  while (!closing && next_seq - 1 <= *seq)
    if (pthread_cond_timedwait(&cond, &lock, &until))
      break;
  if (next_seq - 1 > *seq + RING)
    *seq = next_seq - 1 - RING; /* fell behind: skip what the ring no longer holds */
  int n = 0;
  while (n < max && *seq + 1 < next_seq) {
    struct cb_event *e = &ring[(*seq + 1) % RING];
    out[n] = *e;
    out[n].data = strdup(e->data ? e->data : "{}");
    (*seq)++;
    n++;
  }
  pthread_mutex_unlock(&lock);
  return n;
}

void events_watch_start(struct events_watch *w, const char *job_id)
{
  memset(w, 0, sizeof *w);
  copy_id(w->job_id, sizeof w->job_id, job_id);
  pthread_condattr_t attr;
  pthread_condattr_init(&attr);
  pthread_condattr_setclock(&attr, CLOCK_MONOTONIC); /* a clock step neither ends nor stretches a wait */
  pthread_cond_init(&w->cond, &attr);
  pthread_condattr_destroy(&attr);
  pthread_mutex_lock(&lock);
  w->next = watches;
  watches = w;
  pthread_mutex_unlock(&lock);
}

int events_watch_wait(struct events_watch *w, int timeout_ms)
{
  struct timespec until;
  deadline(CLOCK_MONOTONIC, timeout_ms, &until);
  pthread_mutex_lock(&lock);
  while (!w->woken)
    if (pthread_cond_timedwait(&w->cond, &lock, &until))
      break;
  int woken = w->woken;
  w->woken = 0;
  pthread_mutex_unlock(&lock);
  return woken;
}

void events_watch_stop(struct events_watch *w)
{
  pthread_mutex_lock(&lock);
  for (struct events_watch **p = &watches; *p; p = &(*p)->next)
    if (*p == w) {
      *p = w->next;
      break;
    }
  pthread_mutex_unlock(&lock);
  pthread_cond_destroy(&w->cond);
}

void events_shutdown(void)
{
  pthread_mutex_lock(&lock);
  closing = 1;
  pthread_cond_broadcast(&cond);
  pthread_mutex_unlock(&lock);
}
