/* Background work: the persistent job queue, its worker threads, the pool of sandboxed
 * converter processes, and the event feed (job and file state changes) that the HTTP
 * layer turns into Server-Sent Events and webhooks. */
#ifndef CB_JOBS_H
#define CB_JOBS_H
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store.h"
#include "util/err.h"

struct cb_jobs_config {
  int workers;             /* batch worker threads, each with its own converter process */
  int interactive_workers; /* more of them that take interactive jobs only */
  char data_dir[4096];
  char self_exe[4096];            /* this binary, for `carboy worker` */
  int timeout_s;                  /* wall-clock limit of one conversion */
  uint64_t worker_memory;         /* address-space limit of a converter process */
  uint64_t max_upload;            /* largest accepted file (unpacked members too); 0: no limit */
  int ingest_batch;               /* small-file ingests taken at once (1: none batched) */
  uint64_t ingest_batch_max_size; /* the largest file batched */
  int train_timeout_s;            /* a model's training: its wall-clock limit, */
  uint64_t train_memory;          /* its process's memory limit */
  int train_threads;              /* and XGBoost's threads */
};

cb_err jobs_start(const struct cb_jobs_config *cfg, struct store *store, struct cb_errbuf *eb);
/* Stops taking jobs; running ones are put back in the queue for the next start. */
void jobs_stop(void);
/* A job was queued: wake an idle worker now rather than at its next poll. */
void jobs_wake(void);
const char *jobs_instance(void);
/* Small files in batches so far: converter round trips made for batches, and the jobs
 * that succeeded through them. */
void jobs_batch_counts(unsigned long long *batches, unsigned long long *jobs);

/* ---- events (events.c) ---- */
struct cb_event {
  uint64_t seq;
  char type[16];     /* "job" or "file" */
  char owner_id[25]; /* whose job or upload it is */
  char file_id[25];  /* the file it concerns ("" if none) */
  char job_id[25];
  char *data; /* JSON text */
};
/* Publishes an event (data is copied). */
void events_publish(const char *type, const char *owner_id, const char *file_id, const char *job_id, const char *data);
/* Waits up to timeout_ms for events after *seq; copies up to max of them into out (free
 * each data with free()); advances *seq. Returns how many. */
int events_wait(uint64_t *seq, struct cb_event *out, int max, int timeout_ms);
uint64_t events_last_seq(void);
void events_shutdown(void);

/* Waiting for one job: each event published about it wakes its watchers, who then read
 * the job's row again. Watch before the first reading, so that no event falls between
 * that reading and the wait. */
struct events_watch {
  char job_id[25];
  int woken; /* an event came since the last events_watch_wait */
  pthread_cond_t cond;
  struct events_watch *next;
};
void events_watch_start(struct events_watch *w, const char *job_id);
/* Waits up to timeout_ms for an event about the job; 1 if one came (since the start or
 * the last wait), else 0. */
int events_watch_wait(struct events_watch *w, int timeout_ms);
void events_watch_stop(struct events_watch *w);

#endif
