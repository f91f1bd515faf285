/* The HTTP server, as main.c sees it. */
#ifndef CB_HTTP_SERVER_H
#define CB_HTTP_SERVER_H
#include <stdint.h>
#include <stdio.h>

#include "store/store.h"
#include "util/err.h"

struct cb_server_config {
  char listen[256]; /* HOST:PORT; port 0 picks a free one */
  char data_dir[4096];
  uint64_t max_upload;        /* bytes; 413 above */
  int threads;                /* request threads */
  int shutdown_grace_s;       /* how long in-flight requests may run after SIGTERM */
  int header_timeout_s;       /* a request head must arrive within this (408 after) */
  int per_client;             /* connections one address may hold in request threads; 0: any */
  int body_min_rate;          /* bytes/s a body must average after header_timeout_s; 0: any */
  int send_min_rate;          /* bytes/s a response's reader must take per header_timeout_s; 0: any */
  char public_url[512];       /* optional, for absolute Location headers */
  char trusted_proxies[1024]; /* CIDRs whose X-Forwarded-For/-Proto are believed */
  char cors_origins[1024];    /* origins allowed cross-origin (CORS); "" none */
  char metrics_token[256];    /* bearer token /metrics asks for; "" none */
  char webhook_allow[1024];   /* CIDRs of internal addresses webhooks may reach */
  int webhook_queue;          /* pending deliveries per webhook */
  int webhook_disable_after;  /* failed attempts in a row that disable a webhook */
  int predict_max;            /* SMILES one prediction request may send */
  int train_timeout_s;        /* how long a model's training may take (a predict waits less) */
  int trash_days;             /* days a deleted file or folder can be restored (CARBOY_TRASH_DAYS) */
};

cb_err http_server_start(const struct cb_server_config *cfg, struct store *store, struct cb_errbuf *eb);
/* The port actually bound (useful with port 0). */
int http_server_port(void);
/* Begins shutdown: new requests are refused, running ones get the grace period. */
void http_server_begin_stop(void);
/* Stops accepting, waits for in-flight requests, closes thread connections. */
void http_server_stop(void);
void http_routes_print(FILE *out);
/* Kind and media type for a new upload named name (the ingest job refines them); also
 * what carboy import uses. */
void http_guess_type(const char *name, const char *client_type, char *media, size_t mcap, char *kind, size_t kcap);

#endif
