/* The front, in front of civetweb.
 *
 * civetweb gives every connection one of its request threads from the first byte to the
 * close, so clients that send their request head a byte at a time (slowloris), or many
 * connections that send nothing, could hold every thread while others wait. Here one
 * epoll thread owns the public listening socket: it accepts, peeks (MSG_PEEK: nothing is
 * consumed) until the head is complete, answers 408 when that takes longer than the
 * header deadline and 431/414 when the head exceeds civetweb's 32 KiB, and only then
 * hands the socket to civetweb, which listens on a private port of 127.0.0.1.
 *
 * The hand-off: civetweb has no call that takes a socket accepted elsewhere, and it
 * accepts with accept(); so this file defines accept() (the executable's definition wins
 * over libc's for the shared civetweb library), which passes every call through except on
 * the private port. The front connects a "doorbell" socket to that port after noting its
 * local port beside the waiting client socket; accept() takes the doorbell, finds the
 * client socket by the doorbell's port, closes the pair (with a reset, so no TIME_WAIT is
 * left) and returns the client socket and its address instead. civetweb then sees the
 * client as if it had accepted it itself.
 *
 * That holds only while civetweb's accept() is this one: a civetweb that accepts with
 * accept4(), or one linked so that its accept() binds to libc's directly, would take the
 * doorbells as connections and never serve a client. So front_start checks it before the
 * front opens: one loopback "probe" connection to the private port, which accept() knows
 * by its local port, takes and resets (answering ECONNABORTED, which civetweb ignores as
 * every server must). The reset ends the wait at once, so starting stays fast; when no
 * reset comes within PROBE_MS, the interposition is not in effect and the server refuses
 * to start, with one line that says so.
 *
 * A client address whose handed connections reach per_client waits in the front (its
 * head complete) until one of them closes (front_connection_closed), up to WAIT_S. */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <linux/tcp.h> /* struct tcp_info with tcpi_bytes_received */
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "http/front.h"
#include "util/log.h"
#include "util/util.h"

#define HEAD_MAX 32768 /* civetweb's max_request_size: a longer head is refused */
#define WAIT_S 60      /* a complete head waits this long for its address's slot */
#define LINGER_NS 2000000000ull
#define TICK_MS 200
#define PROBE_MS 20000 /* front_start's probe is taken by accept() within this */

enum { P_HEAD, P_WAIT, P_LINGER };

struct pending {
  int fd;
  int state;
  uint64_t deadline_ns;
  struct sockaddr_storage sa;
  socklen_t salen;
  char addr[64]; /* numeric host: the per-client key */
};

/* A client socket whose doorbell is on its way to civetweb. */
struct bell {
  int port; /* the doorbell's local port */
  int bell_fd;
  int client_fd;
  struct sockaddr_storage sa;
  socklen_t salen;
  char addr[64];
};

/* One direction of a held connection whose rate is watched: the request body read
 * (W_BODY) or the response sent (W_SEND). */
enum { W_BODY, W_SEND };

struct watch {
  uint64_t mark;  /* being read since / the send window began then (0: not watched) */
  uint64_t bytes; /* TCP bytes received (W_BODY) or acknowledged (W_SEND) at mark */
  int cut;        /* fell below the minimum rate: reading (W_BODY) or the connection was shut */
};

/* A connection civetweb holds. */
struct held {
  char addr[64];
  int port;
  int fd;
  struct watch w[2]; /* by W_BODY, W_SEND */
};

static struct {
  struct front_config cfg;
  int listen_fd, epoll_fd, wake_fd, port;
  pthread_t thread;
  int running;
  atomic_int stop;
  struct pending **p; /* waiting connections, epoll thread only */
  int np, cap_p;
  pthread_mutex_t mu; /* guards bells and held (the epoll thread and accept()) */
  struct bell *bells;
  int nbells, cap_bells;
  struct held *held;
  int nheld, cap_held;
} F = {.listen_fd = -1, .epoll_fd = -1, .wake_fd = -1, .mu = PTHREAD_MUTEX_INITIALIZER};

static atomic_int inner_port; /* 0 until the front runs: accept() passes everything */
static atomic_int probe_port; /* the local port of front_start's probe; 0: none */
static atomic_int probe_seen; /* accept() took the probe */

static int sa_port(const struct sockaddr_storage *sa)
{
  if (sa->ss_family == AF_INET)
    return ntohs(((const struct sockaddr_in *)sa)->sin_port);
  if (sa->ss_family == AF_INET6)
    return ntohs(((const struct sockaddr_in6 *)sa)->sin6_port);
  return -1;
}

static void sa_host(const struct sockaddr_storage *sa, socklen_t len, char *out, size_t cap)
{
  if (getnameinfo((const struct sockaddr *)sa, len, out, (socklen_t)cap, NULL, 0, NI_NUMERICHOST))
    snprintf(out, cap, "?");
}

/* Closes with a reset: no TIME_WAIT for sockets nobody will read. */
static void close_reset(int fd)
{
  struct linger lg = {1, 0};
  setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
  close(fd);
}

/* ---- the table of held connections (under F.mu) ---- */
static int held_count(const char *addr)
{
  int n = 0;
  for (int i = 0; i < F.nheld; i++)
    n += !strcmp(F.held[i].addr, addr);
  return n;
}

static void held_add(const char *addr, int port, int fd)
{
  /* An entry with this descriptor, or this client address and port, is a connection that
   * closed unseen (civetweb tells a close only after a request began): the kernel gave
   * its number to this one. Left in place it would be found first, and a watch on it
   * would measure and cut whatever connection holds the number now. */
  for (int i = 0; i < F.nheld;)
    if (F.held[i].fd == fd || (F.held[i].port == port && !strcmp(F.held[i].addr, addr)))
      F.held[i] = F.held[--F.nheld];
    else
      i++;
  if (F.nheld == F.cap_held) {
    int cap = F.cap_held ? F.cap_held * 2 : 64;
    struct held *h = realloc(F.held, (size_t)cap * sizeof *h);
    if (!h)
      return; /* uncounted: the cap is only looser */
    F.held = h, F.cap_held = cap;
  }
  snprintf(F.held[F.nheld].addr, sizeof F.held[F.nheld].addr, "%s", addr);
  F.held[F.nheld].fd = fd;
  memset(F.held[F.nheld].w, 0, sizeof F.held[F.nheld].w);
  F.held[F.nheld++].port = port;
}

static struct held *held_find(const char *addr, int port)
{
  for (int i = 0; i < F.nheld; i++)
    if (F.held[i].port == port && !strcmp(F.held[i].addr, addr))
      return &F.held[i];
  return NULL;
}

/* Bytes the kernel has received on the connection (W_BODY), or that the client has
 * acknowledged (W_SEND): progress civetweb's blocking reads and writes do not show
 * (mg_read waits until its buffer is full). */
static uint64_t tcp_bytes(int fd, int which)
{
  struct tcp_info ti;
  socklen_t len = sizeof ti;
  if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len))
    return 0;
  return which == W_BODY ? ti.tcpi_bytes_received : ti.tcpi_bytes_acked;
}

static void watch_begin(const char *addr, int port, int which, uint64_t mark_ns, int min_rate)
{
  if (!atomic_load(&inner_port) || min_rate <= 0)
    return;
  pthread_mutex_lock(&F.mu);
  struct held *h = held_find(addr, port);
  if (h) {
    h->w[which].mark = mark_ns;
    h->w[which].bytes = tcp_bytes(h->fd, which);
    h->w[which].cut = 0;
  }
  pthread_mutex_unlock(&F.mu);
}

/* Whether the watch was cut; `end` stops it. */
static int watch_cut(const char *addr, int port, int which, int end)
{
  if (!atomic_load(&inner_port))
    return 0;
  pthread_mutex_lock(&F.mu);
  struct held *h = held_find(addr, port);
  int cut = h ? h->w[which].cut : 0;
  if (h && end)
    h->w[which].mark = 0;
  pthread_mutex_unlock(&F.mu);
  return cut;
}

void front_body_begin(const char *addr, int port, uint64_t t0_ns)
{
  watch_begin(addr, port, W_BODY, t0_ns, F.cfg.body_min_rate);
}

int front_body_end(const char *addr, int port)
{
  return watch_cut(addr, port, W_BODY, 1);
}

int front_body_cut(const char *addr, int port)
{
  return watch_cut(addr, port, W_BODY, 0);
}

void front_send_begin(const char *addr, int port, uint64_t now_ns)
{
  watch_begin(addr, port, W_SEND, now_ns, F.cfg.send_min_rate);
}

int front_send_end(const char *addr, int port)
{
  return watch_cut(addr, port, W_SEND, 1);
}

/* As Apache's mod_reqtimeout: a body gets the header deadline plus a second for every
 * body_min_rate bytes received; a slower one has its reading shut, so the request thread
 * blocked in mg_read gets its end and answers 408. Only while a request reads its body
 * (its mark set), when the descriptor is surely still the connection's. */
static void watch_bodies(uint64_t now)
{
  if (F.cfg.body_min_rate <= 0)
    return;
  pthread_mutex_lock(&F.mu);
  for (int i = 0; i < F.nheld; i++) {
    struct held *h = &F.held[i];
    struct watch *w = &h->w[W_BODY];
    if (!w->mark || w->cut)
      continue;
    uint64_t got = tcp_bytes(h->fd, W_BODY) - w->bytes;
    double allowed = F.cfg.header_timeout_s + (double)got / F.cfg.body_min_rate;
    if ((double)(now - w->mark) / 1e9 > allowed) {
      w->cut = 1;
      shutdown(h->fd, SHUT_RD);
      CB_LOG(CB_LOG_INFO, "http", "front: a body from %s arrives at under %d bytes/s (%llu bytes): cut", h->addr,
             F.cfg.body_min_rate, (unsigned long long)got);
    }
  }
  pthread_mutex_unlock(&F.mu);
}

/* A response's reader must take send_min_rate bytes a second, measured over windows of
 * header_timeout_s: what the client's TCP acknowledged (so a client that stops reading
 * stops acknowledging once its receive buffer is full, whatever it took at first). One
 * that falls below has its connection shut, so the request thread blocked in mg_write
 * gets an error and is free again: a few slow readers cannot hold the request threads. */
static void watch_sends(uint64_t now)
{
  if (F.cfg.send_min_rate <= 0)
    return;
  uint64_t window = (uint64_t)F.cfg.header_timeout_s * 1000000000ull;
  pthread_mutex_lock(&F.mu);
  for (int i = 0; i < F.nheld; i++) {
    struct held *h = &F.held[i];
    struct watch *w = &h->w[W_SEND];
    if (!w->mark || w->cut || now - w->mark < window)
      continue;
    uint64_t acked = tcp_bytes(h->fd, W_SEND);
    uint64_t need = (uint64_t)F.cfg.send_min_rate * (uint64_t)F.cfg.header_timeout_s;
    if (acked - w->bytes < need) {
      w->cut = 1;
      shutdown(h->fd, SHUT_RDWR);
      CB_LOG(CB_LOG_INFO, "http", "front: %s reads a response at under %d bytes/s (%llu bytes in %d s): cut", h->addr,
             F.cfg.send_min_rate, (unsigned long long)(acked - w->bytes), F.cfg.header_timeout_s);
    } else { /* a new window */
      w->mark = now;
      w->bytes = acked;
    }
  }
  pthread_mutex_unlock(&F.mu);
}

void front_connection_closed(const char *addr, int port)
{
  if (!atomic_load(&inner_port) || !addr)
    return;
  int found = 0;
  pthread_mutex_lock(&F.mu);
  for (int i = 0; i < F.nheld; i++)
    if (F.held[i].port == port && !strcmp(F.held[i].addr, addr)) {
      F.held[i] = F.held[--F.nheld];
      found = 1;
      break;
    }
  pthread_mutex_unlock(&F.mu);
  if (found && F.cfg.per_client > 0) { /* a waiting head may go now */
    uint64_t one = 1;
    if (write(F.wake_fd, &one, sizeof one) < 0) {
      /* the counter is full: the front is awake anyway */
    }
  }
}

int front_crowded(void)
{
  if (!atomic_load(&inner_port))
    return 0;
  pthread_mutex_lock(&F.mu);
  int n = F.nheld;
  pthread_mutex_unlock(&F.mu);
  return n > F.cfg.threads;
}

/* ---- civetweb's accept() ---- */
static int inner_listener(int fd)
{
  int port = atomic_load(&inner_port);
  if (!port)
    return 0;
  struct sockaddr_storage sa;
  socklen_t len = sizeof sa;
  return !getsockname(fd, (struct sockaddr *)&sa, &len) && sa.ss_family == AF_INET && sa_port(&sa) == port;
}

int accept(int fd, __SOCKADDR_ARG addr_arg, socklen_t *__restrict lenp)
{
#ifdef __USE_GNU
  struct sockaddr *addr = addr_arg.__sockaddr__;
#else
  struct sockaddr *addr = addr_arg;
#endif
  if (!inner_listener(fd))
    return accept4(fd, addr, lenp, 0);
  struct sockaddr_storage sa;
  socklen_t salen = sizeof sa;
  int s = accept4(fd, (struct sockaddr *)&sa, &salen, 0);
  if (s < 0)
    return s;
  int port = sa_port(&sa);
  if (port == atomic_load(&probe_port)) { /* front_start's probe: this accept() is civetweb's */
    atomic_store(&probe_seen, 1);
    close_reset(s);
    errno = ECONNABORTED;
    return -1;
  }
  struct bell b = {.port = -1};
  pthread_mutex_lock(&F.mu);
  for (int i = 0; i < F.nbells; i++)
    if (F.bells[i].port == port) {
      b = F.bells[i];
      F.bells[i] = F.bells[--F.nbells];
      held_add(b.addr, sa_port(&b.sa), b.client_fd);
      break;
    }
  pthread_mutex_unlock(&F.mu);
  if (b.port < 0) { /* someone on this machine connected to the private port directly */
    if (addr && lenp) {
      socklen_t n = *lenp < salen ? *lenp : salen;
      memcpy(addr, &sa, n);
      *lenp = salen;
    }
    return s;
  }
  close_reset(s);
  close_reset(b.bell_fd);
  int fl = fcntl(b.client_fd, F_GETFL);
  if (fl >= 0)
    fcntl(b.client_fd, F_SETFL, fl & ~O_NONBLOCK); /* as accept() would return it */
  if (addr && lenp) {
    socklen_t n = *lenp < b.salen ? *lenp : b.salen;
    memcpy(addr, &b.sa, n);
    *lenp = b.salen;
  }
  return b.client_fd;
}

/* One probe connection to the private port, which accept() resets as it takes it (see the
 * top of this file): 1 when it was taken there, 0 when it was not, -1 when the probe could
 * not be made or was cut (a signal interrupting connect(), a reset not of accept()'s
 * making): worth another try. */
static int probe_once(int inner)
{
  struct sockaddr_in in = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t len = sizeof in;
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), seen = -1;
  if (fd < 0)
    return -1;
  if (!bind(fd, (struct sockaddr *)&in, sizeof in) && !getsockname(fd, (struct sockaddr *)&in, &len)) {
    atomic_store(&probe_seen, 0);
    atomic_store(&probe_port, ntohs(in.sin_port));
    in.sin_port = htons((uint16_t)inner);
    if (!connect(fd, (struct sockaddr *)&in, sizeof in)) {
      /* Wait for accept() to take it, in slices: civetweb's thread may be slow to get
       * there on a loaded machine, and the reset it sends ends the wait early. */
      struct pollfd p = {.fd = fd, .events = POLLIN};
      uint64_t start = cb_mono_ns(), end = start + PROBE_MS * 1000000ull, now;
      int cut = 0;
      while (!atomic_load(&probe_seen) && (now = cb_mono_ns()) < end) {
        int ms = (int)((end - now) / 1000000) + 1;
        if (poll(&p, 1, ms < 100 ? ms : 100) > 0 && (p.revents & (POLLHUP | POLLERR)) && !atomic_load(&probe_seen)) {
          cut = 1; /* reset by something else than accept() */
          break;
        }
      }
      seen = atomic_load(&probe_seen) ? 1 : cut ? -1 : 0;
      if (cb_mono_ns() - start > 1000000000ull)
        CB_LOG(CB_LOG_WARN, "http", "front: civetweb took %.1f s to accept its probe connection",
               (double)(cb_mono_ns() - start) / 1e9);
    } else {
      CB_LOG(CB_LOG_INFO, "http", "front: the probe connection failed: %s", strerror(errno));
    }
    atomic_store(&probe_port, 0);
  }
  close(fd);
  return seen;
}

/* Whether civetweb accepts through the accept() above: a probe, tried again (up to five
 * times) when it could not be made or was cut short. */
static int accept_interposed(int inner)
{
  int seen = -1;
  for (int i = 0; i < 5 && seen < 0; i++)
    seen = probe_once(inner);
  return seen > 0;
}

/* ---- the epoll thread ---- */
static void answer(struct pending *p, int status, const char *title, const char *detail)
{
  char body[512], msg[1024];
  int bl = snprintf(body, sizeof body,
                    "{\"type\":\"about:blank\",\"title\":\"%s\",\"status\":%d,"
                    "\"detail\":\"%s\"}",
                    title, status, detail);
  int ml = snprintf(msg, sizeof msg,
                    "HTTP/1.1 %d %s\r\nContent-Type: application/problem+json\r\n"
                    "Content-Length: %d\r\nConnection: close\r\n%s\r\n%s",
                    status, title, bl, status == 503 ? "Retry-After: 1\r\n" : "", body);
  if (send(p->fd, msg, (size_t)ml, MSG_NOSIGNAL | MSG_DONTWAIT) < 0) {
    /* the client is gone or not reading: it is closed below either way */
  }
  CB_LOG(CB_LOG_INFO, "http", "front: %d for %s: %s", status, p->addr, detail);
  /* Closing with unread input would reset the connection before the client reads the
   * answer: stop writing, then read and drop what comes for a moment. */
  shutdown(p->fd, SHUT_WR);
  p->state = P_LINGER;
  p->deadline_ns = cb_mono_ns() + LINGER_NS;
}

static void drop(int i)
{
  struct pending *p = F.p[i];
  epoll_ctl(F.epoll_fd, EPOLL_CTL_DEL, p->fd, NULL);
  close(p->fd);
  free(p);
  F.p[i] = F.p[--F.np];
}

static int find(struct pending *p)
{
  for (int i = 0; i < F.np; i++)
    if (F.p[i] == p)
      return i;
  return -1;
}

/* Peeks at what has arrived: 1 when the head is complete, 0 when more is needed, -1 when
 * the connection is done (closed, or answered). */
static int head_state(struct pending *p)
{
  static char buf[HEAD_MAX];
  ssize_t n = recv(p->fd, buf, sizeof buf, MSG_PEEK | MSG_DONTWAIT);
  if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR))
    return -1;
  if (n < 0)
    return 0;
  for (ssize_t i = 1; i < n; i++) /* "\n\n" or "\n\r\n", as civetweb ends a head */
    if (buf[i - 1] == '\n' && (buf[i] == '\n' || (buf[i] == '\r' && i + 1 < n && buf[i + 1] == '\n')))
      return 1;
  if (n >= HEAD_MAX) {
    if (memchr(buf, '\n', (size_t)n))
      answer(p, 431, "Request Header Fields Too Large", "the request head is limited to 32768 bytes");
    else
      answer(p, 414, "URI Too Long", "the request line is limited to 32768 bytes");
    return -1;
  }
  return 0;
}

/* Rings civetweb's doorbell for p: 0 when handed over, -1 to retry later. */
static int hand_off(struct pending *p)
{
  struct sockaddr_in in = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  int b = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (b < 0)
    return -1;
  socklen_t len = sizeof in;
  if (bind(b, (struct sockaddr *)&in, sizeof in) || getsockname(b, (struct sockaddr *)&in, &len)) {
    close(b);
    return -1;
  }
  int port = ntohs(in.sin_port);
  pthread_mutex_lock(&F.mu);
  if (F.nbells == F.cap_bells) {
    int cap = F.cap_bells ? F.cap_bells * 2 : 64;
    struct bell *nb = realloc(F.bells, (size_t)cap * sizeof *nb);
    if (!nb) {
      pthread_mutex_unlock(&F.mu);
      close(b);
      return -1;
    }
    F.bells = nb, F.cap_bells = cap;
  }
  struct bell *e = &F.bells[F.nbells++];
  e->port = port, e->bell_fd = b, e->client_fd = p->fd, e->sa = p->sa, e->salen = p->salen;
  snprintf(e->addr, sizeof e->addr, "%s", p->addr);
  pthread_mutex_unlock(&F.mu);

  in.sin_port = htons((uint16_t)F.cfg.inner_port);
  /* A non-blocking connect usually answers EINPROGRESS even on loopback: the handshake
   * completes at once, or (civetweb's accept queue full) when the kernel retries. Either
   * way accept() takes the bell when civetweb gets to it. */
  if (connect(b, (struct sockaddr *)&in, sizeof in) == 0 || errno == EINPROGRESS)
    return 0;
  /* take the bell back unless accept() already has it */
  int taken = 1;
  pthread_mutex_lock(&F.mu);
  for (int i = 0; i < F.nbells; i++)
    if (F.bells[i].port == port) {
      F.bells[i] = F.bells[--F.nbells];
      taken = 0;
      break;
    }
  pthread_mutex_unlock(&F.mu);
  if (taken)
    return 0;
  close_reset(b);
  return -1;
}

/* A complete head waits (for its address's slot, or room in civetweb's queue). */
static void to_wait(struct pending *p)
{
  if (p->state == P_WAIT)
    return;
  p->state = P_WAIT;
  p->deadline_ns = cb_mono_ns() + WAIT_S * 1000000000ull;
  /* nothing to read until it goes: only hang-ups matter */
  struct epoll_event ev = {.events = EPOLLRDHUP, .data.ptr = p};
  epoll_ctl(F.epoll_fd, EPOLL_CTL_MOD, p->fd, &ev);
}

/* A complete head: to civetweb if its address has a free slot. Returns 1 when p left the
 * front (handed over). */
static int try_hand_off(struct pending *p)
{
  if (F.cfg.per_client > 0) {
    pthread_mutex_lock(&F.mu);
    int n = held_count(p->addr);
    for (int i = 0; i < F.nbells; i++)
      n += !strcmp(F.bells[i].addr, p->addr);
    pthread_mutex_unlock(&F.mu);
    if (n >= F.cfg.per_client) {
      to_wait(p);
      return 0;
    }
  }
  if (hand_off(p)) {
    to_wait(p); /* retried on the next tick */
    return 0;
  }
  epoll_ctl(F.epoll_fd, EPOLL_CTL_DEL, p->fd, NULL);
  int i = find(p);
  free(p);
  F.p[i] = F.p[--F.np];
  return 1;
}

static void take_new(void)
{
  for (;;) {
    struct sockaddr_storage sa;
    socklen_t len = sizeof sa;
    int fd = accept4(F.listen_fd, (struct sockaddr *)&sa, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EMFILE || errno == ENFILE)
        CB_LOG(CB_LOG_WARN, "http", "front: out of file descriptors; connections wait in the backlog");
      return;
    }
    struct pending *p = calloc(1, sizeof *p);
    if (!p) {
      close(fd);
      continue;
    }
    if (F.np == F.cap_p) {
      int cap = F.cap_p ? F.cap_p * 2 : 256;
      struct pending **np = realloc(F.p, (size_t)cap * sizeof *np);
      if (!np) {
        free(p);
        close(fd);
        continue;
      }
      F.p = np, F.cap_p = cap;
    }
    p->fd = fd, p->sa = sa, p->salen = len, p->state = P_HEAD;
    p->deadline_ns = cb_mono_ns() + (uint64_t)F.cfg.header_timeout_s * 1000000000ull;
    sa_host(&sa, len, p->addr, sizeof p->addr);
    F.p[F.np++] = p;
    struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP, .data.ptr = p};
    if (epoll_ctl(F.epoll_fd, EPOLL_CTL_ADD, fd, &ev))
      drop(F.np - 1);
  }
}

static void on_event(struct pending *p, uint32_t events)
{
  int i = find(p);
  if (i < 0)
    return;
  if (p->state == P_LINGER) {
    char buf[4096];
    ssize_t n;
    while ((n = recv(p->fd, buf, sizeof buf, MSG_DONTWAIT)) > 0)
      ;
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK))
      drop(i);
    return;
  }
  if (p->state == P_WAIT) { /* only a hang-up or an error wakes a waiting head */
    if (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR))
      drop(i);
    return;
  }
  int st = head_state(p);
  if (st < 0 && p->state != P_LINGER)
    drop(i);
  else if (st > 0)
    try_hand_off(p);
  else if (st == 0 && (events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)))
    drop(i); /* it stopped sending before its head was complete */
}

/* Deadlines, and waiting heads whose address got a slot back. */
static void tick(void)
{
  uint64_t now = cb_mono_ns();
  watch_bodies(now);
  watch_sends(now);
  for (int i = 0; i < F.np;) {
    struct pending *p = F.p[i];
    if (now > p->deadline_ns) {
      if (p->state == P_HEAD) {
        answer(p, 408, "Request Timeout", "the request head did not arrive in time");
        i++;
        continue;
      }
      if (p->state == P_WAIT) {
        answer(p, 503, "Service Unavailable", "too many connections from this address");
        i++;
        continue;
      }
      drop(i); /* P_LINGER */
      continue;
    }
    if (p->state == P_WAIT && try_hand_off(p))
      continue; /* F.p[i] is now another one */
    i++;
  }
}

static void *front_main(void *arg)
{
  (void)arg;
  uint64_t last_tick = 0;
  while (!atomic_load(&F.stop)) {
    struct epoll_event evs[64];
    int n = epoll_wait(F.epoll_fd, evs, 64, TICK_MS);
    for (int i = 0; i < n; i++) {
      if (evs[i].data.ptr == &F.listen_fd)
        take_new();
      else if (evs[i].data.ptr == &F.wake_fd) {
        uint64_t v;
        if (read(F.wake_fd, &v, sizeof v) < 0) {
          /* nothing to take */
        }
        last_tick = 0; /* a slot was given back: look at the waiting heads now */
      } else
        on_event(evs[i].data.ptr, evs[i].events);
    }
    uint64_t now = cb_mono_ns();
    if (now - last_tick >= TICK_MS * 1000000ull) {
      tick();
      last_tick = now;
    }
  }
  return NULL;
}

static int open_listener(const char *listen_addr, struct cb_errbuf *eb)
{
  char host[256];
  const char *colon = strrchr(listen_addr, ':');
  size_t hl = colon ? (size_t)(colon - listen_addr) : 0;
  if (!colon || hl >= sizeof host) {
    cb_errf(eb, "invalid listen address %s", listen_addr);
    return -1;
  }
  memcpy(host, listen_addr, hl);
  host[hl] = '\0';
  char *h = host;
  if (h[0] == '[' && hl > 1 && h[hl - 1] == ']') /* [::1]:8080 */
    h[hl - 1] = '\0', h++;
  struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = AI_PASSIVE};
  struct addrinfo *res = NULL;
  int rc = getaddrinfo(*h ? h : NULL, colon + 1, &hints, &res);
  if (rc) {
    cb_errf(eb, "cannot resolve %s: %s", listen_addr, gai_strerror(rc));
    return -1;
  }
  int fd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  int one = 1;
  if (fd >= 0)
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (fd < 0 || bind(fd, res->ai_addr, res->ai_addrlen) || listen(fd, 1024)) {
    cb_errf(eb, "cannot listen on %s: %s", listen_addr, strerror(errno));
    if (fd >= 0)
      close(fd);
    fd = -1;
  }
  freeaddrinfo(res);
  return fd;
}

cb_err front_start(const struct front_config *cfg, struct cb_errbuf *eb)
{
  F.cfg = *cfg;
  atomic_store(&F.stop, 0);
  F.listen_fd = open_listener(cfg->listen, eb);
  if (F.listen_fd < 0)
    return CB_EIO;
  struct sockaddr_storage sa;
  socklen_t len = sizeof sa;
  getsockname(F.listen_fd, (struct sockaddr *)&sa, &len);
  F.port = sa_port(&sa);
  F.epoll_fd = epoll_create1(EPOLL_CLOEXEC);
  F.wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &F.listen_fd};
  struct epoll_event wev = {.events = EPOLLIN, .data.ptr = &F.wake_fd};
  if (F.epoll_fd < 0 || F.wake_fd < 0 || epoll_ctl(F.epoll_fd, EPOLL_CTL_ADD, F.listen_fd, &ev) ||
      epoll_ctl(F.epoll_fd, EPOLL_CTL_ADD, F.wake_fd, &wev)) {
    cb_errf(eb, "cannot set up the connection front: %s", strerror(errno));
    front_stop();
    return CB_EIO;
  }
  atomic_store(&inner_port, cfg->inner_port);
  if (!accept_interposed(cfg->inner_port)) {
    cb_errf(eb, "civetweb does not accept connections through carboy's accept() (it must be a shared "
                "library that calls accept(), see src/http/front.c): refusing to start");
    atomic_store(&inner_port, 0);
    front_stop();
    return CB_EIO;
  }
  if (pthread_create(&F.thread, NULL, front_main, NULL)) {
    cb_errf(eb, "cannot start the connection front thread");
    atomic_store(&inner_port, 0);
    front_stop();
    return CB_EIO;
  }
  F.running = 1;
  return CB_OK;
}

int front_port(void)
{
  return F.port;
}

void front_stop(void)
{
  atomic_store(&F.stop, 1);
  if (F.running)
    pthread_join(F.thread, NULL);
  F.running = 0;
  while (F.np > 0)
    drop(F.np - 1);
  free(F.p);
  F.p = NULL, F.cap_p = 0;
  if (F.listen_fd >= 0)
    close(F.listen_fd);
  if (F.epoll_fd >= 0)
    close(F.epoll_fd);
  F.listen_fd = F.epoll_fd = -1;
  /* wake_fd stays open until front_release: civetweb's closing connections still write
   * to it while it stops */
}

/* After civetweb has stopped: nothing calls accept() on the private port any more. */
void front_release(void)
{
  atomic_store(&inner_port, 0);
  pthread_mutex_lock(&F.mu);
  for (int i = 0; i < F.nbells; i++) {
    close_reset(F.bells[i].bell_fd);
    close(F.bells[i].client_fd);
  }
  free(F.bells);
  free(F.held);
  F.bells = NULL, F.held = NULL;
  F.nbells = F.cap_bells = F.nheld = F.cap_held = 0;
  pthread_mutex_unlock(&F.mu);
  if (F.wake_fd >= 0)
    close(F.wake_fd);
  F.wake_fd = -1;
}
