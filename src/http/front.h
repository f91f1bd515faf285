/* The front: the public listening socket's first stage, in front of civetweb. It takes
 * each connection, waits in one epoll thread (not a request thread) until the complete
 * request head has arrived, within a deadline and a size limit, and only then hands the
 * connection to civetweb; a client address that already holds its share of the request
 * threads waits there until one of its connections closes. See front.c. */
#ifndef CB_HTTP_FRONT_H
#define CB_HTTP_FRONT_H

#include <stdint.h>

#include "util/err.h"

struct front_config {
  const char *listen;   /* public HOST:PORT (port 0: a free one) */
  int inner_port;       /* civetweb's private port on 127.0.0.1 */
  int threads;          /* civetweb's request threads */
  int per_client;       /* connections one address may hold in request threads; 0: no cap */
  int header_timeout_s; /* a request head must be complete within this */
  int body_min_rate;    /* bytes/s a body must average after header_timeout_s; 0: any */
  int send_min_rate;    /* bytes/s a response's reader must take, per header_timeout_s; 0: any */
};

/* Opens the public address and starts the front, once civetweb (listening on
 * cfg->inner_port) is seen to accept through front.c's accept(); CB_EIO otherwise. */
cb_err front_start(const struct front_config *cfg, struct cb_errbuf *eb);
/* The public port actually bound. */
int front_port(void);
/* Stops taking connections, closes the waiting ones, joins the thread. */
void front_stop(void);
/* After civetweb has stopped: frees what accept() would have taken. */
void front_release(void);
/* civetweb's connection_closed callback: gives the address's slot back. */
void front_connection_closed(const char *addr, int port);
/* A request on the connection (addr, port) begins reading its body at t0_ns / is done;
 * front_body_end and front_body_cut say whether it was cut for being too slow. */
void front_body_begin(const char *addr, int port, uint64_t t0_ns);
int front_body_end(const char *addr, int port);
int front_body_cut(const char *addr, int port);
/* A response body on (addr, port) begins at now_ns / is done (1 when it was cut for a
 * reader slower than send_min_rate). Not for event streams, which are slow by nature. */
void front_send_begin(const char *addr, int port, uint64_t now_ns);
int front_send_end(const char *addr, int port);
/* More connections hold (or wait for) request threads than there are threads: a response
 * should close its connection rather than keep it idle in a thread. */
int front_crowded(void);

#endif
