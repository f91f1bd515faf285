/* Prometheus metrics: requests by route and status, a latency histogram per route,
 * bytes in and out, the store's size and what the orphan sweep removed (from the
 * database). */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "http/http.h"

#define MAX_ROUTES 128
#define MAX_STATUS 16
static const double buckets[] = {0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10, 60};
#define NBUCKETS (sizeof buckets / sizeof buckets[0])

struct route_stats {
  int status[MAX_STATUS];
  _Atomic uint64_t count[MAX_STATUS];
  _Atomic uint64_t hist[NBUCKETS + 1];
  _Atomic uint64_t sum_ns;
  _Atomic uint64_t total;
};

static struct route_stats stats[MAX_ROUTES + 1]; /* last slot: unmatched paths */
static pthread_mutex_t status_lock = PTHREAD_MUTEX_INITIALIZER;
static _Atomic uint64_t bytes_in, bytes_out;

void metrics_observe(int route, int status, uint64_t ns, uint64_t in, uint64_t out)
{
  struct route_stats *s = &stats[route >= 0 && route < MAX_ROUTES ? route : MAX_ROUTES];
  int slot = -1;
  for (int i = 0; i < MAX_STATUS && slot < 0; i++)
    if (s->status[i] == status)
      slot = i;
  if (slot < 0) {
    pthread_mutex_lock(&status_lock);
    for (int i = 0; i < MAX_STATUS && slot < 0; i++) {
      if (s->status[i] == status)
        slot = i;
      else if (!s->status[i]) {
        s->status[i] = status;
        slot = i;
      }
    }
    pthread_mutex_unlock(&status_lock);
  }
  if (slot >= 0)
    atomic_fetch_add(&s->count[slot], 1);
  double secs = (double)ns / 1e9;
  size_t b = 0;
  while (b < NBUCKETS && secs > buckets[b])
    b++;
  atomic_fetch_add(&s->hist[b], 1);
  atomic_fetch_add(&s->sum_ns, ns);
  atomic_fetch_add(&s->total, 1);
  atomic_fetch_add(&bytes_in, in);
  atomic_fetch_add(&bytes_out, out);
}

static void route_label(int i, char *out, size_t cap)
{
  if (i < http_route_count)
    snprintf(out, cap, "%s %s", http_routes[i].method, http_routes[i].pattern);
  else
    snprintf(out, cap, "unmatched");
}

int metrics_render(struct cb_buf *b)
{
  int n = http_route_count < MAX_ROUTES ? http_route_count : MAX_ROUTES;
  char label[300];
  cb_buf_puts(b, "# HELP carboy_http_requests_total HTTP requests by route and status.\n"
                 "# TYPE carboy_http_requests_total counter\n");
  for (int i = 0; i <= MAX_ROUTES; i++) {
    if (i >= n && i != MAX_ROUTES)
      continue;
    route_label(i == MAX_ROUTES ? http_route_count : i, label, sizeof label);
    for (int j = 0; j < MAX_STATUS; j++) {
      int st = stats[i].status[j];
      if (st)
        cb_buf_printf(b, "carboy_http_requests_total{route=\"%s\",status=\"%d\"} %llu\n", label, st,
                      (unsigned long long)atomic_load(&stats[i].count[j]));
    }
  }
  cb_buf_puts(b, "# HELP carboy_http_request_duration_seconds Time to answer, by route.\n"
                 "# TYPE carboy_http_request_duration_seconds histogram\n");
  for (int i = 0; i <= MAX_ROUTES; i++) {
    if ((i >= n && i != MAX_ROUTES) || !atomic_load(&stats[i].total))
      continue;
    route_label(i == MAX_ROUTES ? http_route_count : i, label, sizeof label);
    uint64_t cum = 0;
    for (size_t k = 0; k <= NBUCKETS; k++) {
      cum += atomic_load(&stats[i].hist[k]);
      if (k < NBUCKETS)
        cb_buf_printf(b, "carboy_http_request_duration_seconds_bucket{route=\"%s\",le=\"%g\"} %llu\n", label,
                      buckets[k], (unsigned long long)cum);
      else
        cb_buf_printf(b, "carboy_http_request_duration_seconds_bucket{route=\"%s\",le=\"+Inf\"} %llu\n", label,
                      (unsigned long long)cum);
    }
    cb_buf_printf(b, "carboy_http_request_duration_seconds_sum{route=\"%s\"} %.6f\n", label,
                  (double)atomic_load(&stats[i].sum_ns) / 1e9);
    cb_buf_printf(b, "carboy_http_request_duration_seconds_count{route=\"%s\"} %llu\n", label,
                  (unsigned long long)atomic_load(&stats[i].total));
  }
  cb_buf_printf(b,
                "# HELP carboy_http_request_bytes_total Request body bytes received.\n"
                "# TYPE carboy_http_request_bytes_total counter\n"
                "carboy_http_request_bytes_total %llu\n"
                "# HELP carboy_http_response_bytes_total Response body bytes sent.\n"
                "# TYPE carboy_http_response_bytes_total counter\n"
                "carboy_http_response_bytes_total %llu\n",
                (unsigned long long)atomic_load(&bytes_in), (unsigned long long)atomic_load(&bytes_out));
  int64_t blobs = 0, bytes = 0;
  db_blob_totals(&blobs, &bytes);
  cb_buf_printf(b,
                "# HELP carboy_store_blobs Distinct blobs in the store.\n"
                "# TYPE carboy_store_blobs gauge\ncarboy_store_blobs %lld\n"
                "# HELP carboy_store_bytes Bytes held in the store (each distinct blob once).\n"
                "# TYPE carboy_store_bytes gauge\ncarboy_store_bytes %lld\n"
                "# HELP carboy_uptime_seconds Seconds since the server started.\n"
                "# TYPE carboy_uptime_seconds gauge\ncarboy_uptime_seconds %.3f\n",
                (long long)blobs, (long long)bytes, (double)((uint64_t)cb_time_now_ms() - app.started_ms) / 1e3);
  static const char *const sweep[3][3] = {
    {"sweep_blobs", "carboy_orphan_blobs_removed_total", "Orphaned blobs (referenced by nothing) the sweep removed."},
    {"sweep_bytes", "carboy_orphan_bytes_removed_total", "Bytes of the orphaned blobs the sweep removed."},
    {"sweep_tmp", "carboy_orphan_temporary_removed_total",
     "Leftover temporary objects and upload parts the sweep removed."},
  };
  for (int i = 0; i < 3; i++) {
    char v[32] = "0";
    db_setting_get(sweep[i][0], v, sizeof v, NULL);
    cb_buf_printf(b, "# HELP %s %s\n# TYPE %s counter\n%s %lld\n", sweep[i][1], sweep[i][2], sweep[i][1], sweep[i][1],
                  strtoll(v, NULL, 10));
  }
  cb_buf_printf(b,
                "# HELP carboy_webhook_deliveries_dropped_total Webhook events dropped because the webhook's"
                " queue was full.\n# TYPE carboy_webhook_deliveries_dropped_total counter\n"
                "carboy_webhook_deliveries_dropped_total %llu\n"
                "# HELP carboy_webhooks_disabled_total Webhooks disabled after failing too often in a row.\n"
                "# TYPE carboy_webhooks_disabled_total counter\ncarboy_webhooks_disabled_total %llu\n",
                (unsigned long long)webhooks_dropped(), (unsigned long long)webhooks_disabled());
  int64_t counts[5];
  static const char *const states[5] = {"queued", "running", "succeeded", "failed", "canceled"};
  if (!db_job_counts(counts)) {
    cb_buf_puts(b, "# HELP carboy_jobs Jobs by state.\n# TYPE carboy_jobs gauge\n");
    for (int i = 0; i < 5; i++)
      cb_buf_printf(b, "carboy_jobs{state=\"%s\"} %lld\n", states[i], (long long)counts[i]);
  }
  unsigned long long nbatches, nbatched;
  jobs_batch_counts(&nbatches, &nbatched);
  cb_buf_printf(b,
                "# HELP carboy_ingest_batches_total Converter round trips that processed several small files.\n"
                "# TYPE carboy_ingest_batches_total counter\ncarboy_ingest_batches_total %llu\n"
                "# HELP carboy_ingest_batched_jobs_total Ingest jobs that succeeded in a batch of small files.\n"
                "# TYPE carboy_ingest_batched_jobs_total counter\ncarboy_ingest_batched_jobs_total %llu\n",
                nbatches, nbatched);
  /* per lane: a deep interactive queue means too few CARBOY_INTERACTIVE_WORKERS */
  int64_t queued[2], running[2];
  static const char *const lanes[2] = {"interactive", "batch"};
  if (!db_job_lane_counts(queued, running)) {
    cb_buf_puts(b, "# HELP carboy_lane_jobs Queued and running jobs by lane.\n# TYPE carboy_lane_jobs gauge\n");
    for (int i = 0; i < 2; i++)
      cb_buf_printf(
        b,
        "carboy_lane_jobs{lane=\"%s\",state=\"queued\"} %lld\ncarboy_lane_jobs{lane=\"%s\",state=\"running\"} %lld\n",
        lanes[i], (long long)queued[i], lanes[i], (long long)running[i]);
  }
  return 0;
}
