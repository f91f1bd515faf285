/* civetweb glue: start/stop, the dispatcher that matches the route table, takes the
 * caller's identity (the one place that does), and records metrics. */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "http/front.h"
#include "http/http.h"
#include "http/parse.h"
#include "util/log.h"
#include "util/net.h"

struct http_app app;
static struct mg_context *ctx;
static atomic_int stopping;
static _Atomic uint64_t abort_after_ns;
static atomic_int inflight;
static struct cb_cidr trusted[CB_CIDR_MAX]; /* CARBOY_TRUSTED_PROXIES, parsed at start */
static int ntrusted;

int http_stopping(void)
{
  return atomic_load(&stopping);
}

int http_must_abort(void)
{
  return atomic_load(&stopping) && cb_mono_ns() > atomic_load(&abort_after_ns);
}

/* Splits the raw path into segments and compares with the pattern; fills params with
 * decoded copies. Returns 1 on a match. */
static int match_inner(const char *pattern, const char *path, char **params)
{
  const char *p = pattern, *s = path;
  int np = 0;
  while (*p && *s) {
    if (*p != '/' || *s != '/')
      return 0;
    p++, s++;
    const char *pe = strchr(p, '/'), *se = strchr(s, '/');
    size_t pl = pe ? (size_t)(pe - p) : strlen(p), sl = se ? (size_t)(se - s) : strlen(s);
    if (pl > 2 && p[0] == '{' && p[pl - 1] == '}') {
      if (sl == 0 || np >= HTTP_MAX_PARAMS)
        return 0;
      char *dec = malloc(sl + 1);
      if (!dec || cb_url_decode(s, sl, dec, sl + 1, 0) < 0) {
        free(dec);
        return 0;
      }
      params[np++] = dec;
    } else if (pl != sl || strncmp(p, s, pl)) {
      return 0;
    }
    p += pl;
    s += sl;
  }
  return *p == '\0' && *s == '\0';
}

static void free_params(char **params)
{
  for (int i = 0; i < HTTP_MAX_PARAMS; i++) {
    free(params[i]);
    params[i] = NULL;
  }
}

/* On a mismatch, params are left empty. */
static int match(const char *pattern, const char *path, char **params)
{
  if (match_inner(pattern, path, params))
    return 1;
  free_params(params);
  return 0;
}

/* The client behind the request. From a trusted proxy: the right-most address of
 * X-Forwarded-For that is not itself a trusted proxy (what the proxy nearest us saw), and
 * the scheme the client used from X-Forwarded-Proto (the left-most value). Anything a
 * client writes in those headers itself stops at the first proxy we trust. */
static void edge(struct req *r)
{
  unsigned char peer[16];
  snprintf(r->client, sizeof r->client, "%s", r->ri->remote_addr);
  r->https = r->ri->is_ssl;
  if (!ntrusted || cb_addr_parse(r->ri->remote_addr, peer) || !cb_cidr_contains(trusted, ntrusted, peer))
    return;
  const char *xff = http_header(r, "X-Forwarded-For");
  if (xff) {
    const char *end = xff + strlen(xff);
    while (end > xff) {
      const char *start = end;
      while (start > xff && start[-1] != ',')
        start--;
      const char *a = start, *b = end;
      while (a < b && (*a == ' ' || *a == '\t'))
        a++;
      while (b > a && (b[-1] == ' ' || b[-1] == '\t'))
        b--;
      char item[64];
      unsigned char addr[16];
      if (b - a <= 0 || (size_t)(b - a) >= sizeof item)
        break;
      memcpy(item, a, (size_t)(b - a));
      item[b - a] = '\0';
      if (cb_addr_parse(item, addr))
        break; /* not an address: believe nothing further left */
      cb_addr_text(addr, r->client, sizeof r->client);
      if (!cb_cidr_contains(trusted, ntrusted, addr))
        break;
      end = start > xff ? start - 1 : xff;
    }
  }
  const char *proto = http_header(r, "X-Forwarded-Proto");
  if (proto) {
    while (*proto == ' ')
      proto++;
    size_t n = strcspn(proto, ", ");
    if (n == 5 && !strncasecmp(proto, "https", 5))
      r->https = 1;
    else if (n == 4 && !strncasecmp(proto, "http", 4))
      r->https = 0;
  }
}

/* The request's Origin when CARBOY_CORS_ORIGINS names it exactly; NULL otherwise. */
static const char *cors_allowed(struct req *r)
{
  const char *origin = http_header(r, "Origin");
  if (!origin || !app.cfg.cors_origins[0])
    return NULL;
  size_t n = strlen(origin);
  for (const char *o = app.cfg.cors_origins; *o;) {
    while (*o == ',' || *o == ' ')
      o++;
    size_t len = strcspn(o, ", ");
    if (len && len == n && !strncasecmp(o, origin, n))
      return origin;
    o += len;
  }
  return NULL;
}

static int same_origin(struct req *r, const char *origin)
{
  const char *host = http_header(r, "Host");
  if (!host)
    return 0;
  const char *scheme = r->https ? "https://" : "http://";
  size_t sl = strlen(scheme);
  return !strncmp(origin, scheme, sl) && !strcmp(origin + sl, host);
}

static int is_safe(struct req *r)
{
  return !strcmp(r->method, "GET") || !strcmp(r->method, "HEAD") || !strcmp(r->method, "OPTIONS");
}

/* A browser page from another origin may not change anything here, whatever it
 * authenticates with (sign-in included). */
static int cross_origin_write(struct req *r)
{
  const char *origin = http_header(r, "Origin");
  if (is_safe(r) || !origin || same_origin(r, origin))
    return 0;
  /* an origin CARBOY_CORS_ORIGINS allows may write with an API token, never with the
   * session cookie (no credentials are ever allowed cross-origin) */
  return !(r->cors_origin && http_header(r, "Authorization") && !http_header(r, "Cookie"));
}

/* A CORS preflight (OPTIONS with Access-Control-Request-Method) from an allowed origin:
 * the methods the path has. From any other origin it is an ordinary OPTIONS (405 unless
 * the route has one): no CORS header is ever sent for an origin not allowed. */
static int preflight(struct req *r, const char *path)
{
  if (strcmp(r->method, "OPTIONS") || !r->cors_origin || !http_header(r, "Access-Control-Request-Method"))
    return 0;
  char methods[128] = "";
  char *params[HTTP_MAX_PARAMS] = {0};
  for (int i = 0; i < http_route_count; i++) {
    if (!match(http_routes[i].pattern, path, params))
      continue;
    free_params(params);
    if (!strstr(methods, http_routes[i].method) && strlen(methods) + strlen(http_routes[i].method) + 3 < sizeof methods)
      snprintf(methods + strlen(methods), sizeof methods - strlen(methods), "%s%s", methods[0] ? ", " : "",
               http_routes[i].method);
  }
  if (!methods[0])
    return 0;
  const char *hdr[] = {"Access-Control-Allow-Methods",
                       methods,
                       "Access-Control-Allow-Headers",
                       "Authorization, Content-Type, Range, If-None-Match, If-Range, Tus-Resumable, Upload-Length, "
                       "Upload-Offset, Upload-Metadata, Upload-Checksum, Upload-Defer-Length",
                       "Access-Control-Max-Age",
                       "600",
                       NULL};
  http_send(r, 204, NULL, NULL, 0, hdr);
  return 1;
}

/* The one place where the caller's identity is taken from the request. Answers (and
 * returns non-zero) when the credentials are bad or a cookie request fails the CSRF
 * rule: state-changing requests authenticated by the session cookie must carry a
 * same-origin Origin header or the UI's X-Carboy-CSRF header. */
static int identify(struct req *r)
{
  cb_err e = auth_identify(http_header(r, "Authorization"), http_header(r, "Cookie"), &r->who);
  if (e == CB_EAUTH) {
    const char *hdr[] = {"WWW-Authenticate", "Bearer", NULL};
    r->status = 401;
    http_problem_extra(r, 401, NULL, hdr, "the bearer token is not valid (unknown, expired or revoked)");
    return 1;
  }
  if (e) {
    http_problem(r, 500, NULL, "cannot identify the caller: %s", cb_strerror(e));
    return 1;
  }
  int safe = is_safe(r);
  const char *origin = http_header(r, "Origin");
  if (!safe && r->who.via == CB_VIA_SESSION && !origin && !http_header(r, "X-Carboy-CSRF")) {
    http_problem(r, 403, "Origin",
                 "requests authenticated by the session cookie must carry a"
                 " same-origin Origin header or X-Carboy-CSRF");
    return 1;
  }
  return 0;
}

/* The route's declared scope against the caller (the one place it is checked): 1 to go
 * on; 0 when it answered. What the caller may do with an object is the handler's check. */
static int in_scope(struct req *r, enum http_scope scope)
{
  if (scope == HTTP_ADMIN)
    return !http_require_admin(r);
  if (scope == HTTP_WRITE && r->who.read_only) {
    http_problem(r, 403, NULL, "a read-scoped token (or a share link) cannot change anything");
    return 0;
  }
  return 1;
}

static int dispatch(struct mg_connection *conn, void *cbdata)
{
  (void)cbdata;
  uint64_t t0 = cb_mono_ns();
  atomic_fetch_add(&inflight, 1);
  if (front_crowded()) /* connections wait for a thread: do not keep this one idle in it */
    mg_disable_keep_alive(conn);
  struct req r = {0};
  r.conn = conn;
  r.t0_ns = t0;
  r.ri = mg_get_request_info(conn);
  r.method = r.ri->request_method;
  r.is_head = !strcmp(r.method, "HEAD");
  const char *path = r.ri->local_uri_raw ? r.ri->local_uri_raw : r.ri->local_uri;
  int route = -1, path_known = 0;
  if (!path)
    path = "";
  for (int i = 0; i < http_route_count; i++) {
    const struct route *rt = &http_routes[i];
    if (!match(rt->pattern, path, r.params))
      continue;
    path_known = 1;
    if (!strcmp(rt->method, r.method) || (r.is_head && !strcmp(rt->method, "GET"))) {
      route = i;
      break;
    }
    free_params(r.params);
  }

  edge(&r);
  r.cors_origin = cors_allowed(&r);
  if (atomic_load(&stopping)) {
    http_drop_body(&r);
    http_problem(&r, 503, NULL, "the server is shutting down");
  } else if (preflight(&r, path)) {
    route = -1; /* answered */
  } else if (route < 0 && path_known) {
    http_drop_body(&r);
    http_problem(&r, 405, NULL, "method %s is not allowed on %s", r.method, path);
  } else if (route < 0) {
    http_drop_body(&r);
    http_problem(&r, 404, NULL, "no such endpoint: %s %s", r.method, path);
  } else if (cross_origin_write(&r)) {
    http_drop_body(&r);
    http_problem(&r, 403, "Origin", "cross-origin requests may not change anything");
  } else if (http_routes[route].scope != HTTP_PUBLIC && identify(&r)) {
    http_drop_body(&r); /* identify() answered */
  } else if (!in_scope(&r, http_routes[route].scope)) {
    http_drop_body(&r); /* in_scope() answered */
  } else {
    http_routes[route].fn(&r);
  }
  if (!r.status) /* a handler that wrote nothing: must not happen */
    http_problem(&r, 500, NULL, "no response");

  uint64_t ns = cb_mono_ns() - t0;
  metrics_observe(route, r.status, ns, r.bytes_in, r.bytes_out);
  if (!strncmp(path, "/s/", 3))
    path = "/s/(link)"; /* share-link tokens never reach the logs */
  CB_LOG(CB_LOG_DEBUG, "http", "%s %s %d %llu in %llu out %.3f ms", r.method, path, r.status,
         (unsigned long long)r.bytes_in, (unsigned long long)r.bytes_out, ns / 1e6);
  if (r.body_watched)
    front_body_end(r.ri->remote_addr, r.ri->remote_port);
  if (r.send_watched && front_send_end(r.ri->remote_addr, r.ri->remote_port))
    CB_LOG(CB_LOG_INFO, "http", "%s %s: the response was cut (its reader was too slow)", r.method, path);
  free_params(r.params);
  atomic_fetch_sub(&inflight, 1);
  return r.status;
}

static void exit_thread(const struct mg_context *c, int type, void *p)
{
  (void)c, (void)type, (void)p;
  db_thread_close();
}

static void connection_closed(const struct mg_connection *conn)
{
  const struct mg_request_info *ri = mg_get_request_info((struct mg_connection *)conn);
  if (ri)
    front_connection_closed(ri->remote_addr, ri->remote_port);
}

static int log_message(const struct mg_connection *conn, const char *msg)
{
  (void)conn;
  CB_LOG(CB_LOG_WARN, "civetweb", "%s", msg);
  return 1;
}

/* Errors civetweb answers itself, before a request reaches dispatch (a request line or
 * headers over max_request_size, a malformed request): problem+json like every other
 * error, and the connection closed. */
static int civetweb_error(struct mg_connection *conn, int status, const char *msg)
{
  const char *title = mg_get_response_code_text(conn, status);
  struct cb_buf b = {0};
  cb_buf_puts(&b, "{\"type\":\"about:blank\",\"title\":");
  cb_buf_json_string(&b, title ? title : "Error");
  cb_buf_printf(&b, ",\"status\":%d,\"detail\":", status);
  cb_buf_json_string(&b, msg && *msg && cb_utf8_valid(msg, strlen(msg)) ? msg : "the request could not be read");
  cb_buf_puts(&b, "}");
  if (!b.data) /* out of memory: civetweb's own answer */
    return 1;
  mg_printf(conn,
            "HTTP/1.1 %d %s\r\nContent-Type: application/problem+json\r\nContent-Length: %zu\r\n"
            "Cache-Control: no-store\r\nConnection: close\r\n\r\n",
            status, title ? title : "Error", b.len);
  mg_write(conn, b.data, b.len);
  cb_buf_free(&b);
  return 0;
}

cb_err http_server_start(const struct cb_server_config *cfg, struct store *store, struct cb_errbuf *eb)
{
  app.cfg = *cfg;
  app.store = store;
  app.started_ms = (uint64_t)cb_time_now_ms();
  char threads[16];
  snprintf(threads, sizeof threads, "%d", cfg->threads > 0 ? cfg->threads : 32);
  /* civetweb listens on a private loopback port; the front (front.c) takes the public
   * address and hands it each connection once its request head is complete. */
  const char *options[] = {
    "listening_ports",
    "127.0.0.1:0",
    "num_threads",
    threads,
    "request_timeout_ms",
    "60000",
    "enable_keep_alive",
    "yes",
    "keep_alive_timeout_ms",
    "5000",
    "linger_timeout_ms",
    "1000",
    "max_request_size",
    "32768",
    "decode_url",
    "no",
    "tcp_nodelay",
    "1",
    "access_control_allow_origin",
    "", /* no CORS from civetweb: ours follows CARBOY_CORS_ORIGINS */
    NULL,
  };
  struct cb_errbuf bad;
  if (cb_cidr_parse_list(cfg->trusted_proxies, trusted, CB_CIDR_MAX, &ntrusted, &bad)) {
    cb_errf(eb, "invalid CARBOY_TRUSTED_PROXIES entry '%s'", bad.msg);
    return CB_EINVAL;
  }
  struct mg_callbacks cbs = {0};
  cbs.exit_thread = exit_thread;
  cbs.log_message = log_message;
  cbs.http_error = civetweb_error;
  cbs.connection_closed = connection_closed;
  mg_init_library(0);
  char errtxt[256] = "";
  struct mg_init_data init = {.callbacks = &cbs, .user_data = NULL, .configuration_options = options};
  struct mg_error_data err = {.text = errtxt, .text_buffer_size = sizeof errtxt};
  ctx = mg_start2(&init, &err);
  if (!ctx) {
    cb_errf(eb, "cannot listen on %s: %s", cfg->listen, errtxt[0] ? errtxt : "civetweb failed to start");
    return CB_EIO;
  }
  mg_set_request_handler(ctx, "/", dispatch, NULL);
  struct mg_server_port ports[2];
  struct front_config fc = {
    .listen = cfg->listen,
    .inner_port = mg_get_server_ports(ctx, 2, ports) > 0 ? ports[0].port : 0,
    .threads = cfg->threads > 0 ? cfg->threads : 32,
    .per_client = cfg->per_client,
    .header_timeout_s = cfg->header_timeout_s > 0 ? cfg->header_timeout_s : 10,
    .body_min_rate = cfg->body_min_rate,
    .send_min_rate = cfg->send_min_rate,
  };
  if (!fc.inner_port || front_start(&fc, eb)) {
    if (!fc.inner_port)
      cb_errf(eb, "civetweb did not report its private port");
    mg_stop(ctx);
    ctx = NULL;
    mg_exit_library();
    return CB_EIO;
  }
  tus_sweep_expired();
  struct cb_errbuf web = {{0}};
  if (webhooks_start(cfg->webhook_allow, cfg->webhook_queue, cfg->webhook_disable_after, &web))
    CB_LOG(CB_LOG_ERROR, "http", "the webhook sender could not start (%s); webhooks will not be delivered", web.msg);
  return CB_OK;
}

int http_server_port(void)
{
  return ctx ? front_port() : 0;
}

void http_server_begin_stop(void)
{
  uint64_t grace = (uint64_t)(app.cfg.shutdown_grace_s > 0 ? app.cfg.shutdown_grace_s : 10);
  atomic_store(&abort_after_ns, cb_mono_ns() + grace * 1000000000ull);
  atomic_store(&stopping, 1);
}

void http_server_stop(void)
{
  if (!ctx)
    return;
  if (!atomic_load(&stopping))
    http_server_begin_stop();
  /* In-flight requests may finish within the grace period; then civetweb stops. */
  while (atomic_load(&inflight) > 0 && cb_mono_ns() < atomic_load(&abort_after_ns) + 2000000000ull) {
    struct timespec ts = {0, 20 * 1000 * 1000};
    nanosleep(&ts, NULL);
  }
  if (atomic_load(&inflight) > 0) /* a request still in a long query: stop it there */
    db_interrupt_all();
  front_stop();
  mg_stop(ctx);
  ctx = NULL;
  front_release();
  webhooks_stop();
  mg_exit_library();
}

void http_routes_print(FILE *out)
{
  for (int i = 0; i < http_route_count; i++)
    fprintf(out, "%-7s %-6s %s\n", http_routes[i].method, http_scope_name(http_routes[i].scope),
            http_routes[i].pattern);
}

int http_path_match(const char *pattern, const char *path, char **params)
{
  return match(pattern, path, params);
}
