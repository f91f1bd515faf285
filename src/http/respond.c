/* Reading requests and writing responses: the only code that talks to civetweb's
 * connection besides server.c. Every byte in or out is counted here for /metrics. */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "http/front.h"
#include "http/http.h"
#include "util/log.h"

/* After "100 Continue" civetweb counts the response as started and refuses its header
 * API, so that one case writes the header block itself and closes the connection after
 * the response (its keep-alive bookkeeping no longer applies). */
static int begin_raw(struct req *r, int status, const char *ctype, int64_t length, const char *const *extra)
{
  struct cb_buf b = {0};
  const char *text = mg_get_response_code_text(r->conn, status);
  char date[64];
  time_t now = time(NULL);
  struct tm tm;
  strftime(date, sizeof date, "%a, %d %b %Y %H:%M:%S GMT", gmtime_r(&now, &tm));
  cb_buf_printf(&b, "HTTP/1.1 %d %s\r\nDate: %s\r\nConnection: close\r\n", status, text ? text : "", date);
  if (ctype)
    cb_buf_printf(&b, "Content-Type: %s\r\n", ctype);
  if (length >= 0)
    cb_buf_printf(&b, "Content-Length: %lld\r\n", (long long)length);
  cb_buf_puts(&b, "X-Content-Type-Options: nosniff\r\n");
  if (r->cors_origin)
    cb_buf_printf(&b, "Access-Control-Allow-Origin: %s\r\nVary: Origin\r\nAccess-Control-Expose-Headers: %s\r\n",
                  r->cors_origin, HTTP_CORS_EXPOSE);
  if (r->vary_accept)
    cb_buf_puts(&b, "Vary: Accept\r\n");
  for (int i = 0; extra && extra[i]; i += 2)
    if (extra[i + 1])
      cb_buf_printf(&b, "%s: %s\r\n", extra[i], extra[i + 1]);
  cb_buf_puts(&b, "\r\n");
  mg_disable_keep_alive(r->conn);
  int rc = b.data && mg_write(r->conn, b.data, b.len) == (int)b.len ? 0 : -1;
  cb_buf_free(&b);
  return rc;
}

int http_begin(struct req *r, int status, const char *ctype, int64_t length, const char *const *extra)
{
  r->status = status;
  /* bodies past what the socket buffers at once are watched for a reader too slow */
  if (!r->is_head && !r->stream && (length < 0 || length > 65536) && !r->send_watched) {
    front_send_begin(r->ri->remote_addr, r->ri->remote_port, cb_mono_ns());
    r->send_watched = 1;
  }
  if (r->continued == 2)
    return begin_raw(r, status, ctype, length, extra);
  mg_response_header_start(r->conn, status);
  if (ctype)
    mg_response_header_add(r->conn, "Content-Type", ctype, -1);
  if (length >= 0) {
    char len[32];
    snprintf(len, sizeof len, "%lld", (long long)length);
    mg_response_header_add(r->conn, "Content-Length", len, -1);
  }
  mg_response_header_add(r->conn, "X-Content-Type-Options", "nosniff", -1);
  if (r->cors_origin) { /* an origin CARBOY_CORS_ORIGINS allows; never '*', never credentials */
    mg_response_header_add(r->conn, "Access-Control-Allow-Origin", r->cors_origin, -1);
    mg_response_header_add(r->conn, "Vary", "Origin", -1);
    mg_response_header_add(r->conn, "Access-Control-Expose-Headers", HTTP_CORS_EXPOSE, -1);
  }
  if (r->vary_accept)
    mg_response_header_add(r->conn, "Vary", "Accept", -1);
  for (int i = 0; extra && extra[i]; i += 2)
    if (extra[i + 1])
      mg_response_header_add(r->conn, extra[i], extra[i + 1], -1);
  return mg_response_header_send(r->conn) < 0 ? -1 : 0;
}

int http_write(struct req *r, const void *buf, size_t n)
{
  if (r->is_head)
    return 0;
  int w = mg_write(r->conn, buf, n);
  if (w > 0)
    r->bytes_out += (uint64_t)w;
  return (w > 0 && (size_t)w == n) ? 0 : -1;
}

int http_send(struct req *r, int status, const char *ctype, const void *body, size_t n, const char *const *extra)
{
  if (http_begin(r, status, ctype, (int64_t)n, extra))
    return status;
  if (n)
    http_write(r, body, n);
  return status;
}

int http_json_extra(struct req *r, int status, cJSON *json, const char *const *extra)
{
  char *text = json ? cJSON_PrintUnformatted(json) : NULL;
  cJSON_Delete(json);
  if (!text)
    return http_problem(r, 500, NULL, "out of memory");
  http_send(r, status, "application/json", text, strlen(text), extra);
  cJSON_free(text);
  return status;
}

int http_json_private(struct req *r, int status, cJSON *json)
{
  static const char *const hdr[] = {"Cache-Control", "no-store", NULL};
  return http_json_extra(r, status, json, hdr);
}

int http_json(struct req *r, int status, cJSON *json)
{
  return http_json_extra(r, status, json, NULL);
}

static int problem_v(struct req *r, int status, const char *field, const char *const *extra, const char *fmt,
                     va_list ap)
{
  char detail[1024];
  vsnprintf(detail, sizeof detail, fmt, ap);
  if (r->too_slow && status < 500) { /* whatever the handler made of the failed read */
    status = 408;
    snprintf(detail, sizeof detail, "the request body arrived slower than %d bytes/s", app.cfg.body_min_rate);
  }
  if (!cb_utf8_valid(detail, strlen(detail)))
    snprintf(detail, sizeof detail, "%s", "(detail withheld: not valid UTF-8)");
  const char *title = mg_get_response_code_text(r->conn, status);
  struct cb_buf b = {0};
  cb_buf_printf(&b, "{\"type\":\"about:blank\",\"title\":");
  cb_buf_json_string(&b, title ? title : "Error");
  cb_buf_printf(&b, ",\"status\":%d,\"detail\":", status);
  cb_buf_json_string(&b, detail);
  if (field) {
    cb_buf_puts(&b, ",\"field\":");
    cb_buf_json_string(&b, field);
  }
  cb_buf_puts(&b, "}");
  if (status >= 500)
    CB_LOG(CB_LOG_ERROR, "http", "%s -> %d: %s", r->method, status, detail);
  http_send(r, status, "application/problem+json", b.data ? b.data : "{}", b.data ? b.len : 2, extra);
  cb_buf_free(&b);
  return status;
}

int http_problem(struct req *r, int status, const char *field, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  problem_v(r, status, field, NULL, fmt, ap);
  va_end(ap);
  return status;
}

int http_problem_extra(struct req *r, int status, const char *field, const char *const *extra, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  problem_v(r, status, field, extra, fmt, ap);
  va_end(ap);
  return status;
}

int http_require_user(struct req *r)
{
  if (r->who.user_id[0])
    return 0;
  const char *hdr[] = {"WWW-Authenticate", "Bearer", NULL};
  http_drop_body(r);
  return http_problem_extra(r, 401, NULL, hdr, "sign in (session cookie) or send an API token");
}

int http_require_admin(struct req *r)
{
  if (http_require_user(r))
    return r->status;
  if (r->who.is_admin && !r->who.read_only)
    return 0;
  http_drop_body(r);
  return http_problem(r, 403, NULL, "this needs an administrator");
}

int http_error(struct req *r, cb_err e, const char *detail)
{
  const char *d = detail && *detail ? detail : cb_strerror(e);
  switch (e) {
  case CB_ENOTFOUND: return http_problem(r, 404, NULL, "%s", d);
  case CB_EINVAL: return http_problem(r, 400, NULL, "%s", d);
  case CB_EEXIST:
  case CB_ECONFLICT: return http_problem(r, 409, NULL, "%s", d);
  case CB_ETOOBIG: return http_problem(r, 413, NULL, "%s", d);
  case CB_ENOSPC: return http_problem(r, 507, NULL, "%s", d);
  case CB_ECHECKSUM: return http_problem(r, 460, NULL, "%s", d);
  case CB_EABORTED: return http_problem(r, 400, NULL, "%s", d);
  case CB_EFORBIDDEN: return http_problem(r, 403, NULL, "%s", d);
  case CB_EAUTH: return http_problem(r, 401, NULL, "%s", d);
  case CB_ETHROTTLED: return http_problem(r, 429, NULL, "%s", d);
  case CB_ESTORE: { /* the blob store (S3) failed after its retries: most often for a while */
    const char *hdr[] = {"Retry-After", "5", NULL};
    return http_problem_extra(r, 503, NULL, hdr, "%s", d);
  }
  default: return http_problem(r, 500, NULL, "%s", d);
  }
}

int http_no_content(struct req *r, const char *const *extra)
{
  http_send(r, 204, NULL, NULL, 0, extra);
  return 204;
}

void http_drop_body(struct req *r)
{
  /* A body we will not read would be taken as the next request: close instead. A
   * small one is cheaper to drain. */
  long long cl = r->ri->content_length;
  const char *te = http_header(r, "Transfer-Encoding");
  const char *expect = http_header(r, "Expect");
  if (!r->continued && expect && !strcasecmp(expect, "100-continue")) {
    /* The client waits for our go-ahead before sending: it will never come. */
    mg_disable_keep_alive(r->conn);
    return;
  }
  if (cl <= 0 && !te)
    return; /* no body */
  /* A small body is cheaper to drain than a new connection. A body we were already
   * reading when it proved too big is drained for a while too (a lingering close, as
   * nginx does): a client still sending it then reads our answer instead of a reset
   * (most clients read nothing until they have sent everything). A large body refused
   * from its head is not waited for: the answer comes at once, then the close. */
  uint64_t most = r->bytes_in > 0 ? HTTP_DRAIN_MAX : (!te && cl <= 65536 ? 65536 : 0);
  if (most) {
    char buf[16384];
    uint64_t got = 0, t0 = cb_mono_ns();
    int n;
    while ((n = http_read(r, buf, sizeof buf)) > 0) {
      got += (uint64_t)n;
      if (got > most || cb_mono_ns() - t0 > HTTP_DRAIN_NS)
        break;
    }
    if (n == 0)
      return; /* all of it read: the connection can go on */
  }
  mg_disable_keep_alive(r->conn);
}

const char *http_header(struct req *r, const char *name)
{
  return mg_get_header(r->conn, name);
}

int http_query(struct req *r, const char *name, char *out, size_t cap)
{
  return http_query_nth(r, name, 0, out, cap);
}

int http_query_nth(struct req *r, const char *name, int nth, char *out, size_t cap)
{
  const char *q = r->ri->query_string;
  size_t nlen = strlen(name);
  while (q && *q) {
    const char *amp = strchr(q, '&');
    size_t plen = amp ? (size_t)(amp - q) : strlen(q);
    const char *eq = memchr(q, '=', plen);
    size_t klen = eq ? (size_t)(eq - q) : plen;
    if (klen == nlen && !strncmp(q, name, nlen) && nth-- == 0) {
      const char *v = eq ? eq + 1 : q + plen;
      size_t vlen = eq ? plen - klen - 1 : 0;
      if (cb_url_decode(v, vlen, out, cap, 1) < 0)
        return -1;
      return 1;
    }
    q = amp ? amp + 1 : NULL;
  }
  return 0;
}

void http_continue(struct req *r)
{
  if (r->continued)
    return;
  r->continued = 1;
  const char *expect = http_header(r, "Expect");
  if (expect && !strcasecmp(expect, "100-continue") && !r->status) {
    mg_printf(r->conn, "HTTP/1.1 100 Continue\r\n\r\n");
    r->continued = 2;
  }
}

int http_read(struct req *r, void *buf, size_t n)
{
  http_continue(r);
  if (r->too_slow)
    return -1;
  if (!r->body_watched) { /* the front cuts a body that arrives too slowly */
    front_body_begin(r->ri->remote_addr, r->ri->remote_port, r->t0_ns);
    r->body_watched = 1;
  }
  int got = mg_read(r->conn, buf, n);
  if (got > 0)
    r->bytes_in += (uint64_t)got;
  if (front_body_cut(r->ri->remote_addr, r->ri->remote_port)) {
    r->too_slow = 1;
    mg_disable_keep_alive(r->conn);
    return -1;
  }
  return got;
}

int http_media_is(struct req *r, const char *media_type)
{
  const char *ct = http_header(r, "Content-Type");
  if (!ct)
    return 0;
  while (*ct == ' ')
    ct++;
  size_t n = strlen(media_type);
  return !strncasecmp(ct, media_type, n) && (ct[n] == '\0' || ct[n] == ';' || ct[n] == ' ');
}

/* What cJSON would accept but carboy must refuse, found in one pass over the text
 * (strings skipped): nesting deeper than HTTP_JSON_DEPTH (cJSON parses recursively on
 * the request thread's stack, where about 700 levels fit in the normal build: a 2 KiB
 * body of brackets must not overflow it), and NUL, raw or as \u0000, or another raw
 * control character in a string (cJSON would end the string at a NUL: "a\u0000/../b"
 * would silently become "a"). NULL when none of these. */
#define STR_(x) #x
#define STR(x) STR_(x)
static const char *json_refused(const char *s, size_t n)
{
  int depth = 0, in_str = 0;
  for (size_t i = 0; i < n; i++) {
    char c = s[i];
    if (in_str) {
      if (c == '"')
        in_str = 0;
      else if ((unsigned char)c < 0x20) /* JSON wants them escaped; a raw NUL would cut the string */
        return "strings must not contain unescaped control characters";
      else if (c == '\\' && ++i < n && s[i] == 'u' && n - i > 4 && !memcmp(s + i + 1, "0000", 4))
        return "strings must not contain the NUL character (\\u0000)";
    } else if (c == '"') {
      in_str = 1;
    } else if (c == '[' || c == '{') {
      if (++depth > HTTP_JSON_DEPTH)
        return "arrays and objects must not nest more than " STR(HTTP_JSON_DEPTH) " levels deep";
    } else if (c == ']' || c == '}') {
      depth--;
    }
  }
  return NULL;
}

cJSON *http_read_json(struct req *r)
{
  if (!http_media_is(r, "application/json")) {
    http_drop_body(r);
    http_problem(r, 415, NULL, "the body must be application/json");
    return NULL;
  }
  long long cl = r->ri->content_length;
  if (cl > (long long)HTTP_JSON_MAX) {
    http_drop_body(r);
    http_problem(r, 413, NULL, "JSON bodies are limited to %u bytes", HTTP_JSON_MAX);
    return NULL;
  }
  struct cb_buf b = {0};
  char chunk[8192];
  int n;
  while ((n = http_read(r, chunk, sizeof chunk)) > 0) {
    if (b.len + (size_t)n > HTTP_JSON_MAX) {
      cb_buf_free(&b);
      http_drop_body(r);
      http_problem(r, 413, NULL, "JSON bodies are limited to %u bytes", HTTP_JSON_MAX);
      return NULL;
    }
    if (cb_buf_append(&b, chunk, (size_t)n)) {
      cb_buf_free(&b);
      http_problem(r, 500, NULL, "out of memory");
      return NULL;
    }
  }
  if (n < 0) {
    cb_buf_free(&b);
    http_problem(r, 400, NULL, "the request body could not be read");
    return NULL;
  }
  if (!b.len) {
    http_problem(r, 400, NULL, "the request body is empty; a JSON object is expected");
    return NULL;
  }
  if (!cb_utf8_valid(b.data, b.len)) {
    cb_buf_free(&b);
    http_problem(r, 400, NULL, "the body is not valid UTF-8");
    return NULL;
  }
  const char *why = json_refused(b.data, b.len);
  if (why) {
    cb_buf_free(&b);
    http_problem(r, 400, NULL, "the body is refused: %s", why);
    return NULL;
  }
  const char *end = NULL;
  cJSON *json = cJSON_ParseWithLengthOpts(b.data, b.len, &end, 0);
  if (json && end) { /* one object and nothing after it but whitespace */
    while (end < b.data + b.len && (*end == ' ' || *end == '\t' || *end == '\r' || *end == '\n'))
      end++;
    if (end < b.data + b.len) {
      cJSON_Delete(json);
      cb_buf_free(&b);
      http_problem(r, 400, NULL, "the body holds more than one JSON value");
      return NULL;
    }
  }
  if (!json || !cJSON_IsObject(json)) {
    size_t at = json ? 0 : (size_t)((end ? end : b.data) - b.data);
    if (json)
      http_problem(r, 400, NULL, "the body must be a JSON object");
    else
      http_problem(r, 400, NULL, "the body is not valid JSON (error near byte %zu)", at);
    cJSON_Delete(json);
    cb_buf_free(&b);
    return NULL;
  }
  cb_buf_free(&b);
  return json;
}

int http_page(struct req *r, int *limit, char *cursor, size_t cap)
{
  char lim[32];
  *limit = 100;
  cursor[0] = '\0';
  int q = http_query(r, "limit", lim, sizeof lim);
  if (q < 0)
    return http_problem(r, 400, "limit", "limit must be a whole number from 1 to 1000");
  if (q > 0) {
    char *end;
    long v = strtol(lim, &end, 10);
    if (*end || end == lim || v < 1 || v > 1000)
      return http_problem(r, 400, "limit", "limit must be a whole number from 1 to 1000");
    *limit = (int)v;
  }
  if (http_query(r, "cursor", cursor, cap) < 0)
    return http_problem(r, 400, "cursor", "cursor is malformed");
  return 0;
}
