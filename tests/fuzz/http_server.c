/* The whole server: raw bytes sent as requests to the real civetweb server and
 * dispatcher on 127.0.0.1 (an ephemeral port), with a database, a file store and tus
 * folder in a private folder. Everything a client sends goes through: the request line
 * and headers (civetweb), path matching and decoding, identity, query strings, JSON
 * bodies, multipart uploads (civetweb's form parser and our callbacks), tus headers,
 * downloads with ranges, search. The input may name fixtures made at start, which are
 * put in before sending: $TOKEN (an admin's API token), $TOKEN2 (another user's), and
 * $FOLDER, $FILE, $UPLOAD (a tus upload) padded with '_' to an id's 24 characters (or
 * those placeholders in base64, for Upload-Metadata). After the input the connection is half-closed,
 * so a body shorter than its Content-Length ends; an answer must come within 20 s
 * (otherwise the server is taken to hang and the target aborts).
 *
 * No converter processes run, so requests that wait for one (structure search,
 * depictions, conversions) are skipped, and so are the event stream (it never ends) and
 * webhooks (their deliveries would leave this machine). */
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdarg.h>
#include <signal.h>
#include <sodium.h>
#include <sys/socket.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "auth/auth.h"
#include "fuzz.h"
#include "http/server.h"
#include "store/store.h"
#include "util/log.h"
#include "util/util.h"

static int port, show;
static char token[CB_SECRET_MAX + 1], token2[CB_SECRET_MAX + 1];
static char folder_id[CB_ID_LEN + 1], file_id[CB_ID_LEN + 1], upload_id[CB_ID_LEN + 1];

/* What inputs may name, and what is put in their place. Ids are named by placeholders of
 * an id's length (and base64 forms of those, for Upload-Metadata), so a body's
 * Content-Length still holds after the substitution. */
#define ID_PAD(name) name "________________________"
static struct {
  char name[40];
  const char *value;
} fixtures[10];
static size_t nfixtures;
static char b64_values[3][48];

static void fixture(const char *name, const char *value)
{
  snprintf(fixtures[nfixtures].name, sizeof fixtures[nfixtures].name, "%s", name);
  fixtures[nfixtures++].value = value;
}

static void id_fixture(const char *name, const char *value, int k)
{
  char padded[CB_ID_LEN + 1], b64[48];
  snprintf(padded, sizeof padded, "%s", ID_PAD(""));
  memcpy(padded, name, strlen(name));
  fixture(padded, value);
  sodium_bin2base64(b64, sizeof b64, (const unsigned char *)padded, CB_ID_LEN, sodium_base64_VARIANT_ORIGINAL);
  sodium_bin2base64(b64_values[k], sizeof b64_values[k], (const unsigned char *)value, strlen(value),
                    sodium_base64_VARIANT_ORIGINAL);
  fixture(b64, b64_values[k]);
}

static void must(int ok, const char *what)
{
  if (!ok) {
    fprintf(stderr, "carboy fuzz: %s failed: %s\n", what, strerror(errno));
    abort();
  }
}

static uint64_t now_ms(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Sends req, half-closes, reads the whole answer into out (may be NULL). */
static void exchange(const char *req, size_t n, struct cb_buf *out)
{
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  must(fd >= 0, "socket");
  struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  /* Hundreds of connections a second: a loaded machine may run short of loopback ports or
   * of room in the listen queue for a moment; the server must take the connection within
   * the 20 s an answer gets. */
  uint64_t deadline = now_ms() + 20000;
  int rc;
  while ((rc = connect(fd, (struct sockaddr *)&sa, sizeof sa)) && now_ms() < deadline &&
         (errno == EADDRNOTAVAIL || errno == EADDRINUSE || errno == ECONNREFUSED || errno == EAGAIN || errno == EINTR)) {
    int e = errno;
    close(fd);
    fprintf(stderr, "carboy fuzz: connect: %s, again\n", strerror(e));
    nanosleep(&(struct timespec){0, 10000000}, NULL);
    fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    must(fd >= 0, "socket");
  }
  must(rc == 0, "connect to the server");
  size_t sent = 0;
  char buf[65536];
  while (sent < n) {
    struct pollfd p = {fd, POLLOUT | POLLIN, 0};
    if (poll(&p, 1, 1000) < 0 && errno != EINTR)
      break;
    if (p.revents & POLLIN) { /* an early answer (an error): read while sending */
      ssize_t got = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
      if (got > 0 && out)
        cb_buf_append(out, buf, (size_t)got);
      if (got == 0)
        break;
    }
    if (p.revents & POLLOUT) {
      ssize_t w = send(fd, req + sent, n - sent, MSG_NOSIGNAL | MSG_DONTWAIT);
      if (w < 0 && errno != EAGAIN && errno != EINTR)
        break; /* the server closed: fine, it answered or refused */
      if (w > 0)
        sent += (size_t)w;
    }
    if (p.revents & (POLLERR | POLLHUP))
      break;
    if (now_ms() > deadline) {
      fprintf(stderr, "carboy fuzz: the server took no bytes for 20 s\n");
      abort();
    }
  }
  shutdown(fd, SHUT_WR);
  for (;;) {
    struct pollfd p = {fd, POLLIN, 0};
    int rc = poll(&p, 1, 1000);
    if (rc > 0) {
      ssize_t got = recv(fd, buf, sizeof buf, 0);
      if (got <= 0)
        break;
      if (out)
        cb_buf_append(out, buf, (size_t)got);
    }
    if (now_ms() > deadline) {
      fprintf(stderr, "carboy fuzz: the server did not finish answering within 20 s\n");
      abort();
    }
  }
  /* The answer is read whole: close with a reset, so this side keeps no TIME_WAIT and
   * its port (hundreds a second) is free again at once. */
  struct linger lg = {1, 0};
  setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
  close(fd);
}

/* A request made at start; returns its body parsed as JSON. */
static cJSON *setup_request(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static cJSON *setup_request(const char *fmt, ...)
{
  struct cb_buf req = {0}, resp = {0};
  va_list ap;
  va_start(ap, fmt);
  cb_buf_vprintf(&req, fmt, ap);
  va_end(ap);
  exchange(req.data, req.len, &resp);
  cb_buf_append(&resp, "", 1);
  const char *body = resp.data ? strstr(resp.data, "\r\n\r\n") : NULL;
  cJSON *j = body ? cJSON_Parse(body + 4) : NULL;
  if (!j)
    j = cJSON_CreateObject();
  /* tus answers with a Location header and no body */
  const char *loc = resp.data ? strstr(resp.data, "/api/v1/uploads/") : NULL;
  if (loc) {
    char id[CB_ID_LEN + 1];
    snprintf(id, sizeof id, "%s", loc + 16);
    cJSON_AddStringToObject(j, "upload_id", id);
  }
  cb_buf_free(&req);
  cb_buf_free(&resp);
  return j;
}

static void copy_id(cJSON *j, const char *name, char out[CB_ID_LEN + 1])
{
  cJSON *v = cJSON_GetObjectItemCaseSensitive(j, name);
  must(cJSON_IsString(v) && cb_id_valid(v->valuestring), name);
  snprintf(out, CB_ID_LEN + 1, "%s", v->valuestring);
  cJSON_Delete(j);
}

static void make_token(const char *username, int admin, char *out)
{
  struct cb_user u;
  struct cb_errbuf eb = {{0}};
  must(!auth_user_add(username, "fuzz-password-1", admin, &u, &eb), "auth_user_add");
  struct cb_identity who = {0};
  memcpy(who.user_id, u.id, sizeof who.user_id);
  snprintf(who.username, sizeof who.username, "%s", u.username);
  who.is_admin = admin;
  who.via = CB_VIA_SESSION;
  struct cb_token t;
  must(!auth_token_create(&who, "fuzz", 0, "write", &t, out, CB_SECRET_MAX + 1), "auth_token_create");
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
  (void)argc, (void)argv;
  signal(SIGPIPE, SIG_IGN);
  show = getenv("CARBOY_FUZZ_SHOW") && !strcmp(getenv("CARBOY_FUZZ_SHOW"), "1");
  cb_log_level = CB_LOG_ERROR + 1; /* a 500 is logged; the fuzzer's output stays readable */
  const char *root = fuzz_scratch();
  char path[512], url[600];
  struct cb_errbuf eb = {{0}};
  snprintf(path, sizeof path, "%s/carboy.db", root);
  must(!db_init(path, &eb), "db_init");
  must(!auth_init(), "auth_init");
  make_token("admin", 1, token);
  make_token("bob", 0, token2);
  snprintf(path, sizeof path, "%s/uploads", root);
  must(!mkdir(path, 0700), "mkdir uploads");
  snprintf(url, sizeof url, "file://%s/blobs", root);
  struct store *store = NULL;
  must(!store_open(url, &store, &eb), "store_open");
  struct cb_server_config sc = {0};
  snprintf(sc.listen, sizeof sc.listen, "127.0.0.1:0");
  snprintf(sc.data_dir, sizeof sc.data_dir, "%s", root);
  sc.max_upload = 1 << 20;
  sc.threads = 4;
  sc.shutdown_grace_s = 1;
  must(!http_server_start(&sc, store, &eb), "http_server_start");
  port = http_server_port();
  must(port > 0, "the server's port");

  const char *json = "Content-Type: application/json\r\n";
  copy_id(setup_request("POST /api/v1/folders HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n%s"
                        "Content-Length: 14\r\n\r\n{\"name\":\"lab\"}", token, json), "id", folder_id);
  copy_id(setup_request("PUT /api/v1/folders/%s/files/a.csv HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
                        "Content-Length: 12\r\n\r\nx,y\n1,2\n3,4\n", folder_id, token), "id", file_id);
  char meta[200], b64[2][80];
  sodium_bin2base64(b64[0], sizeof b64[0], (const unsigned char *)"big.bin", 7, sodium_base64_VARIANT_ORIGINAL);
  sodium_bin2base64(b64[1], sizeof b64[1], (const unsigned char *)folder_id, strlen(folder_id),
                    sodium_base64_VARIANT_ORIGINAL);
  snprintf(meta, sizeof meta, "filename %s,folder_id %s", b64[0], b64[1]);
  copy_id(setup_request("POST /api/v1/uploads HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
                        "Tus-Resumable: 1.0.0\r\nUpload-Length: 100\r\nUpload-Metadata: %s\r\n"
                        "Content-Length: 0\r\n\r\n", token, meta), "upload_id", upload_id);
  fixture("$TOKEN2", token2);
  fixture("$TOKEN", token);
  id_fixture("$FOLDER", folder_id, 0);
  id_fixture("$FILE", file_id, 1);
  id_fixture("$UPLOAD", upload_id, 2);
  return 0;
}

static int has(const uint8_t *data, size_t size, const char *s)
{
  return memmem(data, size, s, strlen(s)) != NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  if (has(data, size, "webhook") || has(data, size, "/events") || has(data, size, "search/structure") ||
      has(data, size, "/depiction") || has(data, size, "/convert"))
    return 0;
  struct cb_buf req = {0};
  for (size_t i = 0; i < size;) {
    size_t k = 0;
    for (; k < nfixtures; k++) {
      size_t n = strlen(fixtures[k].name);
      if (data[i] == fixtures[k].name[0] && size - i >= n && !memcmp(data + i, fixtures[k].name, n)) {
        cb_buf_puts(&req, fixtures[k].value);
        i += n;
        break;
      }
    }
    if (k == nfixtures)
      cb_buf_append(&req, data + i++, 1);
  }
  if (req.len) {
    struct cb_buf resp = {0};
    exchange(req.data, req.len, show ? &resp : NULL);
    if (show) /* CARBOY_FUZZ_SHOW=1: each answer's status line and body, for writing seeds */
      fprintf(stderr, "%.*s\n----\n", (int)(resp.len < 600 ? resp.len : 600), resp.data ? resp.data : "");
    cb_buf_free(&resp);
  }
  cb_buf_free(&req);
  return 0;
}
