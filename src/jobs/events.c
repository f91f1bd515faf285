/* The event feed: a ring of the latest job and file state changes with sequence numbers.
 * Readers (SSE connections, the webhook sender) wait on a condition variable and take
 * what came after the last sequence they saw; a reader that falls more than the ring
 * behind skips ahead (SSE clients then reload their state). */
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

static void copy_id(char *dst, size_t cap, const char *src)
{
  snprintf(dst, cap, "%s", src ? src : "");
}

void events_publish(const char *type, const char *owner_id, const char *file_id, const char *job_id,
                    const char *data)
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
  clock_gettime(CLOCK_REALTIME, &until);
  until.tv_sec += timeout_ms / 1000;
  until.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
  if (until.tv_nsec >= 1000000000L) {
    until.tv_sec++;
    until.tv_nsec -= 1000000000L;
  }
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

void events_shutdown(void)
{
  pthread_mutex_lock(&lock);
  closing = 1;
  pthread_cond_broadcast(&cond);
  pthread_mutex_unlock(&lock);
}
