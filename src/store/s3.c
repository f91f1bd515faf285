/* The S3-compatible blob store (AWS S3, MinIO, s3rver, ...), over libcurl with SigV4.
 *
 * URL: s3://BUCKET[/PREFIX]?endpoint=URL&region=R&path_style=1. Layout in the bucket:
 *   PREFIX/ab/cd/abcd...64 hex   committed blobs
 *   PREFIX/.tmp/ID               large blobs being assembled; never visible under a hash
 *
 * Writing. The sha256 is known only when the stream ends, so:
 *  - a blob of at most one part (CARBOY_S3_PART_SIZE, 8 MiB) is held in memory and PUT
 *    once to its final key at commit, after a HEAD that finds it stored already (dedup);
 *  - a larger one streams as a multipart upload to PREFIX/.tmp/ID: full parts go to a few
 *    uploader threads (CARBOY_S3_PARALLEL, 4) while the next part fills, and the writer
 *    waits when that many are in flight, so memory is bounded by (parallel + 1) x part
 *    size whatever the blob's size. At commit: CompleteMultipartUpload, a HEAD of the
 *    assembled object (its size must be what was sent), then a server-side copy to the
 *    final key (CopyObject; UploadPartCopy above 5 GiB) unless the hash is stored
 *    already, and a DELETE of the temporary object. Any failure aborts the multipart
 *    upload. A crash leaves at most a temporary object or an unfinished upload under
 *    .tmp/, never a key under a hash; temporary objects older than an hour are removed
 *    when the store opens.
 *
 * Requests. One easy handle per request; DNS and connections are shared through one
 * CURLSH (with a lock per kind of data), so the threads of the server reuse connections.
 * libcurl signs with CURLOPT_AWS_SIGV4, but signs the path and query exactly as given and
 * does not add x-amz-content-sha256: keys are percent-encoded here (RFC 3986, '/' kept),
 * query parameters sorted and encoded here, and the payload's sha256 is sent (and so
 * signed, and checked by S3) with every request. Every request is retried, with
 * exponential backoff and jitter, on connection errors, 5xx and 429 (SlowDown); a GET
 * that broke off resumes from the byte it reached. Error text names the operation, the
 * key, the HTTP status and S3's Code and Message. S3's XML answers (errors, listings,
 * upload ids) are read with expat (s3xml.c).
 *
 * Credentials: AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN, else the
 * ECS container-credentials endpoint (AWS_CONTAINER_CREDENTIALS_RELATIVE_URI, or
 * AWS_CONTAINER_CREDENTIALS_FULL_URI with AWS_CONTAINER_AUTHORIZATION_TOKEN[_FILE]),
 * fetched at open, kept under a lock and fetched again five minutes before they expire
 * (or at once when S3 says the token expired). */
#include <ctype.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>

#include "store/s3xml.h"
#include "store/store.h"
#include "util/hash.h"
#include "util/log.h"
#include "util/util.h"

#define S3_ATTEMPTS 5
#define S3_MAX_PARALLEL 64
#define S3_MIN_PART (5ull << 20)
#define S3_MAX_PART (5ull << 30)
#define S3_COPY_MAX (5ull << 30) /* CopyObject's limit; above it, UploadPartCopy */
#define S3_KEY_MAX 1100
#define S3_ERRBODY_MAX (16u << 10)
#define S3_RESP_MAX (8u << 20) /* listings, upload ids, copy results */
#define S3_TMP_AGE_S 3600
#define S3_EMPTY_SHA "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

struct s3_creds {
  char akid[256];
  char secret[256];
  char token[4096];
};

struct s3_state {
  char bucket[64];
  char prefix[1024]; /* decoded, without leading or trailing '/'; "" for none */
  char region[64];
  char endpoint[512]; /* scheme://host[:port] */
  int path_style;
  char base[1024]; /* scheme://host[:port]/bucket (path style) or scheme://bucket.host[:port] */
  size_t part_size;
  int parallel;
  int list_page;
  CURLSH *share;
  pthread_mutex_t share_lock[CURL_LOCK_DATA_LAST];
  pthread_mutex_t cred_lock;
  struct s3_creds creds;
  int ecs; /* credentials come from the container endpoint */
  char ecs_url[2048];
  char ecs_token[2048];
  char ecs_token_file[1024];
  int64_t expires_ms; /* ECS credentials' expiry (0: unknown) */
  int64_t fetched_ms;
};

/* ---- small helpers ---- */

static int unreserved(unsigned char c)
{
  return isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~';
}

/* RFC 3986 percent-encoding as S3 wants it: every byte outside the unreserved set, '/'
 * too unless keep_slash. */
static cb_err enc(struct cb_buf *b, const char *s, int keep_slash)
{
  static const char hex[] = "0123456789ABCDEF";
  cb_err e = CB_OK;
  for (const unsigned char *p = (const unsigned char *)s; *p && !e; p++) {
    if (unreserved(*p) || (keep_slash && *p == '/')) {
      e = cb_buf_append(b, p, 1);
    } else {
      char t[3] = {'%', hex[*p >> 4], hex[*p & 15]};
      e = cb_buf_append(b, t, 3);
    }
  }
  return e;
}

struct qp {
  const char *k, *v;
};
struct qenc {
  char *k, *v;
};

static int qenc_cmp(const void *a, const void *b)
{
  const struct qenc *x = a, *y = b;
  int c = strcmp(x->k, y->k);
  return c ? c : strcmp(x->v, y->v);
}

/* The canonical query string: names and values encoded, sorted by name (then value);
 * sent exactly so, since libcurl signs the query as given. */
static cb_err query_build(struct cb_buf *out, const struct qp *p, int n)
{
  struct qenc q[16];
  cb_err e = n <= 16 ? CB_OK : CB_EINVAL;
  int made = 0;
  for (; !e && made < n; made++) {
    struct cb_buf k = {0}, v = {0};
    e = enc(&k, p[made].k, 0);
    if (!e)
      e = enc(&v, p[made].v ? p[made].v : "", 0);
    q[made].k = e ? NULL : k.data ? cb_buf_steal(&k) : strdup("");
    q[made].v = e ? NULL : v.data ? cb_buf_steal(&v) : strdup("");
    if (e || !q[made].k || !q[made].v) {
      free(q[made].k);
      free(q[made].v);
      cb_buf_free(&k);
      cb_buf_free(&v);
      e = e ? e : CB_ENOMEM;
      break;
    }
  }
  if (!e) {
    qsort(q, (size_t)n, sizeof q[0], qenc_cmp);
    for (int i = 0; !e && i < n; i++)
      e = cb_buf_printf(out, "%s%s=%s", i ? "&" : "", q[i].k, q[i].v);
  }
  for (int i = 0; i < made; i++) {
    free(q[i].k);
    free(q[i].v);
  }
  return e;
}

/* RFC 3339 / ISO 8601 UTC ("2026-12-01T20:31:19Z", fractions allowed) to Unix ms; 0 when
 * it does not parse. */
static int64_t parse_time_ms(const char *s)
{
  struct tm tm = {0};
  if (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec) !=
      6)
    return 0;
  tm.tm_year -= 1900;
  tm.tm_mon -= 1;
  time_t t = timegm(&tm);
  return t > 0 ? (int64_t)t * 1000 : 0;
}

static void blob_key(const struct s3_state *st, const char *sha, char *out, size_t cap)
{
  snprintf(out, cap, "%s%s%.2s/%.2s/%s", st->prefix, st->prefix[0] ? "/" : "", sha, sha + 2, sha);
}

/* The part size for part number n (from 1): doubled every 1000 parts, so that S3's
 * 10,000 parts hold any blob the server accepts. */
static size_t part_size_for(const struct s3_state *st, int n)
{
  uint64_t ps = st->part_size;
  for (int k = (n - 1) / 1000; k > 0 && ps < S3_MAX_PART; k--)
    ps *= 2;
  return (size_t)(ps < S3_MAX_PART ? ps : S3_MAX_PART);
}

static void sleep_ms(long ms)
{
  struct timespec t = {ms / 1000, (ms % 1000) * 1000000L};
  while (nanosleep(&t, &t) && errno == EINTR)
    ;
}

/* ---- credentials ---- */

static int loopback_host(const char *url)
{
  const char *h = strstr(url, "://");
  if (!h)
    return 0;
  h += 3;
  size_t n = strcspn(h, ":/?#");
  if (h[0] == '[')
    return !strncmp(h, "[::1]", 5);
  char host[256];
  snprintf(host, sizeof host, "%.*s", (int)(n < 255 ? n : 255), h);
  return !strcmp(host, "localhost") || !strncmp(host, "127.", 4) || !strcmp(host, "169.254.170.2") ||
         !strcmp(host, "169.254.170.23");
}

static size_t collect(char *p, size_t sz, size_t n, void *u)
{
  struct cb_buf *b = u;
  size_t len = sz * n;
  if (b->len + len > 64 * 1024 || cb_buf_append(b, p, len))
    return 0;
  return len;
}

/* The options of every request this store makes: the URL, no signals, HTTP(S) only, and how
 * long connecting may take. */
static void endpoint_options(CURL *h, const char *url, long connect_ms)
{
  curl_easy_setopt(h, CURLOPT_URL, url);
  curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, connect_ms);
}

/* Fetches credentials from the container endpoint into st->creds (cred_lock held). */
static cb_err ecs_fetch(struct s3_state *st, struct cb_errbuf *eb)
{
  char token[2048] = "";
  if (st->ecs_token_file[0]) {
    FILE *f = fopen(st->ecs_token_file, "r");
    if (!f || !fgets(token, sizeof token, f)) {
      cb_errf(eb, "cannot read AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE %s", st->ecs_token_file);
      if (f)
        fclose(f);
      return CB_EAUTH;
    }
    fclose(f);
    token[strcspn(token, "\r\n")] = '\0';
  } else {
    snprintf(token, sizeof token, "%s", st->ecs_token);
  }
  cb_err e = CB_EAUTH;
  for (int attempt = 1; attempt <= 3; attempt++) {
    struct cb_buf body = {0};
    char cerr[CURL_ERROR_SIZE] = "";
    CURL *h = curl_easy_init();
    struct curl_slist *hdr = NULL;
    if (!h)
      return CB_ENOMEM;
    if (token[0]) {
      char line[2100];
      snprintf(line, sizeof line, "Authorization: %s", token);
      hdr = curl_slist_append(hdr, line);
    }
    endpoint_options(h, st->ecs_url, 2000L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, 5000L);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &body);
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, cerr);
    CURLcode rc = curl_easy_perform(h);
    long status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_cleanup(h);
    curl_slist_free_all(hdr);
    if (rc != CURLE_OK) {
      cb_errf(eb, "cannot get S3 credentials from the container endpoint %s: %s", st->ecs_url,
              cerr[0] ? cerr : curl_easy_strerror(rc));
    } else if (status != 200) {
      cb_errf(eb, "the container credentials endpoint %s answered HTTP %ld", st->ecs_url, status);
    } else {
      cJSON *j = cJSON_Parse(body.data ? body.data : "");
      const char *ak = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(j, "AccessKeyId"));
      const char *sk = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(j, "SecretAccessKey"));
      const char *tk = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(j, "Token"));
      const char *ex = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(j, "Expiration"));
      if (!ak || !sk || !*ak || !*sk || strlen(ak) >= sizeof st->creds.akid || strlen(sk) >= sizeof st->creds.secret ||
          (tk && strlen(tk) >= sizeof st->creds.token)) {
        cb_errf(eb, "the container credentials endpoint %s gave no usable AccessKeyId/SecretAccessKey", st->ecs_url);
      } else {
        snprintf(st->creds.akid, sizeof st->creds.akid, "%s", ak);
        snprintf(st->creds.secret, sizeof st->creds.secret, "%s", sk);
        snprintf(st->creds.token, sizeof st->creds.token, "%s", tk ? tk : "");
        st->expires_ms = ex ? parse_time_ms(ex) : 0;
        st->fetched_ms = cb_time_now_ms();
        e = CB_OK;
      }
      cJSON_Delete(j);
    }
    cb_buf_free(&body);
    if (!e || (rc == CURLE_OK && status >= 400 && status < 500))
      break;
    sleep_ms(200L << attempt);
  }
  if (!e)
    CB_LOG(CB_LOG_INFO, "s3", "credentials from the container endpoint (access key %.4s..., expiring %s)",
           st->creds.akid, st->expires_ms ? "as stated" : "never stated");
  return e;
}

/* A copy of the credentials to sign one request with, fetched again when they are about
 * to expire (or when force, after S3 said they had). */
static cb_err creds_get(struct s3_state *st, struct s3_creds *out, int force, struct cb_errbuf *eb)
{
  cb_err e = CB_OK;
  pthread_mutex_lock(&st->cred_lock);
  if (st->ecs) {
    int64_t now = cb_time_now_ms();
    int stale = st->expires_ms ? now > st->expires_ms - 5 * 60 * 1000 : now - st->fetched_ms > 60 * 60 * 1000;
    /* after a forced refresh, others that saw the same expired token do not fetch again */
    if ((force && now - st->fetched_ms > 1000) || stale) {
      struct cb_errbuf feb = {{0}};
      e = ecs_fetch(st, &feb);
      if (e && st->expires_ms && now < st->expires_ms) {
        CB_LOG(CB_LOG_WARN, "s3", "%s (the current credentials stay in use until they expire)", feb.msg);
        e = CB_OK;
      } else if (e) {
        cb_errf(eb, "%s", feb.msg);
      }
    }
  }
  if (!e)
    *out = st->creds;
  pthread_mutex_unlock(&st->cred_lock);
  return e;
}

/* ---- one request ---- */

struct s3_call {
  const char *method; /* GET, HEAD, PUT, POST, DELETE */
  const char *key;    /* object key, decoded; NULL: the bucket */
  const char *query;  /* canonical (query_build), or NULL */
  const void *body;   /* PUT/POST body */
  size_t body_len;
  const char *body_sha; /* hex sha256 of body (computed when NULL) */
  const char *content_type;
  const char *copy_source;       /* x-amz-copy-source */
  const char *copy_source_range; /* x-amz-copy-source-range */
  int ranged;                    /* GET bytes [r_off, r_off + r_len) */
  uint64_t r_off, r_len;
  store_sink_fn sink; /* a GET's body goes here (2xx only) */
  void *sink_ctx;
  struct cb_buf *resp; /* else a 2xx body is collected here (bounded) */
  atomic_int *cancel;  /* set: stop at once */
  /* results */
  long status;
  char etag[128];
  int64_t length;
  uint64_t delivered;
  int sink_stopped;
  char code[64];
  char message[200];
};

struct s3_xfer {
  struct s3_call *c;
  CURL *h;
  long status;
  struct cb_buf err;
  const char *body;
  size_t body_len, body_off;
  int bad_range;              /* a ranged GET that came back whole */
  char cerr[CURL_ERROR_SIZE]; /* libcurl's reason for a failed transfer */
};

static size_t on_read(char *dst, size_t sz, size_t n, void *u)
{
  struct s3_xfer *x = u;
  size_t k = sz * n, left = x->body_len - x->body_off;
  if (k > left)
    k = left;
  memcpy(dst, x->body + x->body_off, k);
  x->body_off += k;
  return k;
}

static int on_seek(void *u, curl_off_t off, int origin)
{
  struct s3_xfer *x = u;
  if (origin != SEEK_SET || off < 0 || (size_t)off > x->body_len)
    return CURL_SEEKFUNC_FAIL;
  x->body_off = (size_t)off;
  return CURL_SEEKFUNC_OK;
}

static size_t on_header(char *p, size_t sz, size_t n, void *u)
{
  struct s3_xfer *x = u;
  size_t len = sz * n;
  if (len > 5 && !strncasecmp(p, "ETag:", 5)) {
    const char *v = p + 5;
    size_t vl = len - 5;
    while (vl && (*v == ' ' || *v == '\t'))
      v++, vl--;
    while (vl && (v[vl - 1] == '\r' || v[vl - 1] == '\n' || v[vl - 1] == ' '))
      vl--;
    snprintf(x->c->etag, sizeof x->c->etag, "%.*s", (int)(vl < 127 ? vl : 127), v);
  }
  return len;
}

static size_t on_body(char *p, size_t sz, size_t n, void *u)
{
  struct s3_xfer *x = u;
  struct s3_call *c = x->c;
  size_t len = sz * n;
  if (!x->status)
    curl_easy_getinfo(x->h, CURLINFO_RESPONSE_CODE, &x->status);
  if (x->status >= 200 && x->status < 300 && c->sink) {
    if (c->ranged && x->status == 200 && c->r_off + c->delivered > 0) {
      x->bad_range = 1;
      return 0;
    }
    if (c->ranged && c->delivered + len > c->r_len)
      len = (size_t)(c->r_len - c->delivered);
    if (len && c->sink(c->sink_ctx, p, len)) {
      c->sink_stopped = 1;
      return 0;
    }
    c->delivered += len;
    return sz * n;
  }
  struct cb_buf *b = x->status >= 200 && x->status < 300 && c->resp ? c->resp : &x->err;
  size_t max = b == c->resp ? S3_RESP_MAX : S3_ERRBODY_MAX;
  if (b->len + len <= max && cb_buf_append(b, p, len))
    return 0;
  return len;
}

static int on_progress(void *u, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
  (void)dt, (void)dn, (void)ut, (void)un;
  struct s3_xfer *x = u;
  return x->c->cancel && atomic_load(x->c->cancel);
}

static void share_lock(CURL *h, curl_lock_data d, curl_lock_access a, void *u)
{
  (void)h, (void)a;
  struct s3_state *st = u;
  if (d >= 0 && d < CURL_LOCK_DATA_LAST)
    pthread_mutex_lock(&st->share_lock[d]);
}

static void share_unlock(CURL *h, curl_lock_data d, void *u)
{
  (void)h;
  struct s3_state *st = u;
  if (d >= 0 && d < CURL_LOCK_DATA_LAST)
    pthread_mutex_unlock(&st->share_lock[d]);
}

static int retryable_curl(CURLcode rc)
{
  switch (rc) {
  case CURLE_COULDNT_RESOLVE_HOST:
  case CURLE_COULDNT_CONNECT:
  case CURLE_OPERATION_TIMEDOUT:
  case CURLE_SEND_ERROR:
  case CURLE_RECV_ERROR:
  case CURLE_GOT_NOTHING:
  case CURLE_PARTIAL_FILE:
  case CURLE_SSL_CONNECT_ERROR:
  case CURLE_HTTP2:
  case CURLE_HTTP2_STREAM:
  case CURLE_WEIRD_SERVER_REPLY: return 1;
  default: return 0;
  }
}

/* The key for an error message: whole when short, else its last segment (a hash or a
 * temporary id), so a cut never splits a UTF-8 character of the prefix. */
static const char *key_tail(const char *key)
{
  const char *slash = strrchr(key, '/');
  return strlen(key) <= 80 || !slash ? key : slash + 1;
}

static const char *what_of(const struct s3_call *c)
{
  return c->key ? key_tail(c->key) : "(bucket)";
}

/* The request's URL: the base, the key percent-encoded, the canonical query. */
static cb_err request_url(const struct s3_state *st, const struct s3_call *c, struct cb_buf *url)
{
  cb_err e = cb_buf_puts(url, st->base);
  if (!e && c->key) {
    e = cb_buf_puts(url, "/");
    if (!e)
      e = enc(url, c->key, 1);
  } else if (!e && !st->path_style) {
    e = cb_buf_puts(url, "/");
  }
  if (!e && c->query && *c->query)
    e = cb_buf_printf(url, "?%s", c->query);
  return e;
}

/* The hex sha256 of the payload, sent (and so signed) as x-amz-content-sha256. */
static void payload_sha(const struct s3_call *c, char sha[65])
{
  int has_body = !strcmp(c->method, "PUT") || !strcmp(c->method, "POST");
  if (c->body_sha)
    snprintf(sha, 65, "%s", c->body_sha);
  else if (has_body && c->body_len)
    cb_sha256_hex(c->body, c->body_len, sha);
  else
    snprintf(sha, 65, "%s", S3_EMPTY_SHA);
}

/* The headers of one attempt (libcurl adds the signature's own). A ranged GET asks from
 * the byte it has reached. */
static struct curl_slist *request_headers(const struct s3_state *st, const struct s3_call *c, const struct s3_creds *cr,
                                          const char *sha)
{
  struct curl_slist *hdr = NULL;
  char line[4200];
  snprintf(line, sizeof line, "x-amz-content-sha256: %s", sha);
  hdr = curl_slist_append(hdr, line);
  if (cr->token[0]) {
    snprintf(line, sizeof line, "x-amz-security-token: %s", cr->token);
    hdr = curl_slist_append(hdr, line);
  }
  if (c->content_type) {
    snprintf(line, sizeof line, "Content-Type: %s", c->content_type);
    hdr = curl_slist_append(hdr, line);
  }
  if (c->copy_source) {
    struct cb_buf cs = {0};
    cb_buf_printf(&cs, "x-amz-copy-source: /%s/", st->bucket);
    enc(&cs, c->copy_source, 1);
    if (cs.data)
      hdr = curl_slist_append(hdr, cs.data);
    cb_buf_free(&cs);
  }
  if (c->copy_source_range) {
    snprintf(line, sizeof line, "x-amz-copy-source-range: %s", c->copy_source_range);
    hdr = curl_slist_append(hdr, line);
  }
  if (c->ranged) {
    snprintf(line, sizeof line, "Range: bytes=%llu-%llu", (unsigned long long)(c->r_off + c->delivered),
             (unsigned long long)(c->r_off + c->r_len - 1));
    hdr = curl_slist_append(hdr, line);
  }
  return hdr;
}

/* The easy handle's options for one attempt: the shared connections, SigV4 with cr, the
 * callbacks over x, and the method's own. */
static void request_options(struct s3_state *st, struct s3_xfer *x, const char *url, struct curl_slist *hdr,
                            const char *sigv4, const struct s3_creds *cr)
{
  CURL *h = x->h;
  const struct s3_call *c = x->c;
  endpoint_options(h, url, 10000L);
  curl_easy_setopt(h, CURLOPT_SHARE, st->share);
  curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
  curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, 60L);
  curl_easy_setopt(h, CURLOPT_USERAGENT, "carboy");
  curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdr);
  curl_easy_setopt(h, CURLOPT_AWS_SIGV4, sigv4);
  curl_easy_setopt(h, CURLOPT_USERNAME, cr->akid);
  curl_easy_setopt(h, CURLOPT_PASSWORD, cr->secret);
  curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
  curl_easy_setopt(h, CURLOPT_WRITEDATA, x);
  curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
  curl_easy_setopt(h, CURLOPT_HEADERDATA, x);
  curl_easy_setopt(h, CURLOPT_ERRORBUFFER, x->cerr);
  curl_easy_setopt(h, CURLOPT_BUFFERSIZE, 512L * 1024);
  curl_easy_setopt(h, CURLOPT_UPLOAD_BUFFERSIZE, 512L * 1024);
  curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
  curl_easy_setopt(h, CURLOPT_XFERINFODATA, x);
  /* Not "Expect:" in the header list: libcurl would sign that empty header. Bodies
   * over 1 MiB carry curl's own (unsigned) Expect, and go on after 1 ms. */
  curl_easy_setopt(h, CURLOPT_EXPECT_100_TIMEOUT_MS, 1L);
  if (!strcmp(c->method, "HEAD")) {
    curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
  } else if (!strcmp(c->method, "PUT")) {
    curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(h, CURLOPT_READFUNCTION, on_read);
    curl_easy_setopt(h, CURLOPT_READDATA, x);
    curl_easy_setopt(h, CURLOPT_SEEKFUNCTION, on_seek);
    curl_easy_setopt(h, CURLOPT_SEEKDATA, x);
    curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)c->body_len);
  } else if (!strcmp(c->method, "POST")) {
    curl_easy_setopt(h, CURLOPT_POST, 1L);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, c->body ? c->body : "");
    curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)c->body_len);
  } else if (strcmp(c->method, "GET")) {
    curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, c->method);
  }
}

/* One attempt: the request sent, the answer read into c's results (status, ETag, length,
 * S3's Code and Message from an error body). CB_ENOMEM when there is no handle. */
static cb_err request_once(struct s3_state *st, struct s3_xfer *x, const char *url, const char *sha, const char *sigv4,
                           const struct s3_creds *cr, CURLcode *rc)
{
  struct s3_call *c = x->c;
  CURL *h = curl_easy_init();
  if (!h)
    return CB_ENOMEM;
  x->h = h;
  struct curl_slist *hdr = request_headers(st, c, cr, sha);
  x->cerr[0] = '\0';
  c->etag[0] = '\0';
  request_options(st, x, url, hdr, sigv4, cr);
  if (c->resp)
    cb_buf_reset(c->resp);
  *rc = curl_easy_perform(h);
  curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &x->status);
  curl_off_t cl = -1;
  curl_easy_getinfo(h, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &cl);
  c->length = (int64_t)cl;
  c->status = x->status;
  curl_easy_cleanup(h);
  curl_slist_free_all(hdr);
  c->code[0] = c->message[0] = '\0';
  if (x->err.data)
    s3xml_error(x->err.data, x->err.len, c->code, sizeof c->code, c->message, sizeof c->message);
  cb_buf_free(&x->err);
  return CB_OK;
}

/* What an attempt's end means: CB_OK, or the error (told in eb) with *transient set when
 * another attempt may succeed: connection errors, 5xx, 429 and S3's SlowDown, a GET cut
 * short, and (once, *forced set to 1) expired container credentials. */
static cb_err request_outcome(struct s3_state *st, const struct s3_xfer *x, CURLcode rc, int *forced, int *transient,
                              struct cb_errbuf *eb)
{
  const struct s3_call *c = x->c;
  *transient = 0;
  if (c->sink_stopped || (c->cancel && atomic_load(c->cancel))) {
    cb_errf(eb, "S3 %s %s: stopped", c->method, what_of(c));
    return CB_EABORTED;
  }
  if (x->bad_range) {
    cb_errf(eb, "S3 GET %s: the server ignored the Range header", what_of(c));
    return CB_ESTORE;
  }
  if (rc != CURLE_OK) {
    cb_errf(eb, "S3 %s %s: %s (%s)", c->method, what_of(c), x->cerr[0] ? x->cerr : curl_easy_strerror(rc),
            st->endpoint);
    *transient = retryable_curl(rc);
    return CB_ESTORE;
  }
  if (x->status >= 200 && x->status < 300) {
    if (!c->ranged || c->delivered >= c->r_len)
      return CB_OK;
    /* cut short: resume from there */
    cb_errf(eb, "S3 GET %s: the answer ended after %llu of %llu bytes", what_of(c), (unsigned long long)c->delivered,
            (unsigned long long)c->r_len);
    *transient = 1;
    return CB_ESTORE;
  }
  cb_errf(eb, "S3 %s %s: HTTP %ld%s%s%s%s", c->method, what_of(c), x->status, c->code[0] ? " " : "", c->code,
          c->message[0] ? ": " : "", c->message);
  *transient = (x->status >= 500 && x->status != 501) || x->status == 429 || !strcmp(c->code, "SlowDown") ||
               !strcmp(c->code, "RequestTimeout") || !strcmp(c->code, "InternalError");
  if (st->ecs && !*forced && x->status == 403 &&
      (!strcmp(c->code, "ExpiredToken") || !strcmp(c->code, "InvalidToken") ||
       !strcmp(c->code, "TokenRefreshRequired"))) {
    *forced = 1;
    *transient = 1;
  }
  return x->status == 404 ? CB_ENOTFOUND : CB_ESTORE;
}

/* Waits before the attempt after `attempt`: exponential backoff with jitter, cut short
 * when c is cancelled. */
static void backoff(const struct s3_call *c, int attempt, const struct cb_errbuf *eb)
{
  long ms = 100L << (attempt - 1);
  unsigned r = 0;
  cb_random_bytes(&r, sizeof r);
  ms = ms / 2 + (long)(r % (unsigned)(ms / 2 + 1));
  CB_LOG(CB_LOG_WARN, "s3", "%s; retrying in %ld ms (attempt %d of %d)", eb->msg, ms, attempt + 1, S3_ATTEMPTS);
  for (long slept = 0; slept < ms && !(c->cancel && atomic_load(c->cancel)); slept += 50)
    sleep_ms(ms - slept < 50 ? ms - slept : 50);
}

/* Performs c with retries. CB_OK on a 2xx answer; else CB_ENOTFOUND (404), CB_EABORTED
 * (the sink or cancel stopped it) or CB_ESTORE, with the reason in eb. */
static cb_err s3_call(struct s3_state *st, struct s3_call *c, struct cb_errbuf *eb)
{
  struct cb_buf url = {0};
  if (request_url(st, c, &url)) {
    cb_buf_free(&url);
    return CB_ENOMEM;
  }
  char sha[65], sigv4[128];
  payload_sha(c, sha);
  snprintf(sigv4, sizeof sigv4, "aws:amz:%s:s3", st->region);
  int forced = 0; /* 1: S3 said the credentials expired, fetch them again; 2: done so */
  cb_err e = CB_ESTORE;
  for (int attempt = 1; attempt <= S3_ATTEMPTS; attempt++) {
    struct s3_creds cr;
    cb_err ce = creds_get(st, &cr, forced == 1, eb);
    if (forced == 1)
      forced = 2;
    if (ce) {
      e = CB_ESTORE;
      break;
    }
    struct s3_xfer x = {.c = c, .body = c->body, .body_len = c->body_len};
    CURLcode rc;
    if ((e = request_once(st, &x, url.data, sha, sigv4, &cr, &rc)))
      break;
    int transient;
    e = request_outcome(st, &x, rc, &forced, &transient, eb);
    if (!transient)
      break;
    e = CB_ESTORE;
    if (attempt < S3_ATTEMPTS) {
      backoff(c, attempt, eb);
    } else {
      size_t l = strlen(eb->msg);
      if (l + 20 < sizeof eb->msg)
        snprintf(eb->msg + l, sizeof eb->msg - l, " (%d attempts)", S3_ATTEMPTS);
    }
  }
  cb_buf_free(&url);
  return e;
}

/* ---- opening ---- */

static int valid_bucket(const char *b)
{
  size_t n = strlen(b);
  if (n < 3 || n > 63 || !isalnum((unsigned char)b[0]) || !isalnum((unsigned char)b[n - 1]))
    return 0;
  for (size_t i = 0; i < n; i++)
    if (!(islower((unsigned char)b[i]) || isdigit((unsigned char)b[i]) || b[i] == '.' || b[i] == '-'))
      return 0;
  return 1;
}

/* A prefix: valid UTF-8, no control characters, no empty, "." or ".." segments. */
static const char *prefix_invalid(const char *p)
{
  if (strlen(p) > 900)
    return "is longer than 900 bytes";
  if (!cb_utf8_valid(p, strlen(p)))
    return "is not valid UTF-8";
  for (const unsigned char *c = (const unsigned char *)p; *c; c++)
    if (*c < 0x20 || *c == 0x7f || *c == '\\')
      return "holds a control character or a backslash";
  for (const char *s = p; *s;) {
    size_t n = strcspn(s, "/");
    if (n == 0 || (n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.'))
      return "has an empty, '.' or '..' segment";
    s += n;
    if (*s)
      s++;
  }
  return NULL;
}

static cb_err parse_url(struct s3_state *st, const char *url, struct cb_errbuf *eb)
{
  const char *p = url + 5; /* "s3://" */
  size_t bn = strcspn(p, "/?");
  char endpoint[512] = "", region[64] = "", path_style[16] = "";
  if (bn >= sizeof st->bucket || !bn) {
    cb_errf(
      eb,
      "S3 store URL '%.100s' has no valid bucket (expected s3://BUCKET[/PREFIX]?endpoint=URL&region=R&path_style=1)",
      url);
    return CB_EINVAL;
  }
  memcpy(st->bucket, p, bn);
  st->bucket[bn] = '\0';
  if (!valid_bucket(st->bucket)) {
    cb_errf(eb, "S3 bucket name '%s' is invalid: 3-63 lowercase letters, digits, '.' or '-'", st->bucket);
    return CB_EINVAL;
  }
  p += bn;
  if (*p == '/') {
    p++;
    size_t pn = strcspn(p, "?");
    char raw[1024];
    if (pn >= sizeof raw) {
      cb_errf(eb, "S3 store prefix is too long");
      return CB_EINVAL;
    }
    memcpy(raw, p, pn);
    raw[pn] = '\0';
    if (cb_url_decode(raw, pn, st->prefix, sizeof st->prefix, 0) < 0) {
      cb_errf(eb, "S3 store prefix '%.100s' is not validly percent-encoded", raw);
      return CB_EINVAL;
    }
    size_t n = strlen(st->prefix);
    while (n && st->prefix[n - 1] == '/')
      st->prefix[--n] = '\0';
    const char *why = prefix_invalid(st->prefix);
    if (why) {
      cb_errf(eb, "S3 store prefix '%.100s' %s", st->prefix, why);
      return CB_EINVAL;
    }
    p += pn;
  }
  if (*p == '?')
    p++;
  while (*p) {
    size_t n = strcspn(p, "&");
    const char *eq = memchr(p, '=', n);
    char name[32], value[600];
    size_t kn = eq ? (size_t)(eq - p) : n;
    if (kn >= sizeof name || (eq && (size_t)(p + n - eq - 1) >= sizeof value)) {
      cb_errf(eb, "S3 store URL parameter '%.40s' is too long", p);
      return CB_EINVAL;
    }
    snprintf(name, sizeof name, "%.*s", (int)kn, p);
    if (!eq || cb_url_decode(eq + 1, (size_t)(p + n - eq - 1), value, sizeof value, 0) < 0) {
      cb_errf(eb, "S3 store URL parameter '%s' needs a (percent-encoded) value", name);
      return CB_EINVAL;
    }
    if (!strcmp(name, "endpoint"))
      snprintf(endpoint, sizeof endpoint, "%s", value);
    else if (!strcmp(name, "region"))
      snprintf(region, sizeof region, "%.63s", value);
    else if (!strcmp(name, "path_style"))
      snprintf(path_style, sizeof path_style, "%.15s", value);
    else {
      cb_errf(eb, "unknown S3 store URL parameter '%s' (expected endpoint, region, path_style)", name);
      return CB_EINVAL;
    }
    p += n;
    if (*p == '&')
      p++;
  }
  if (!region[0]) {
    const char *r = getenv("AWS_REGION");
    if (!r || !*r)
      r = getenv("AWS_DEFAULT_REGION");
    snprintf(region, sizeof region, "%.63s", r && *r ? r : "us-east-1");
  }
  for (const char *c = region; *c; c++)
    if (!(islower((unsigned char)*c) || isdigit((unsigned char)*c) || *c == '-')) {
      cb_errf(eb, "S3 region '%.63s' is invalid (e.g. eu-west-1)", region);
      return CB_EINVAL;
    }
  snprintf(st->region, sizeof st->region, "%s", region);
  if (!path_style[0] || !strcmp(path_style, "0") || !strcmp(path_style, "false"))
    st->path_style = 0;
  else if (!strcmp(path_style, "1") || !strcmp(path_style, "true"))
    st->path_style = 1;
  else {
    cb_errf(eb, "S3 store URL parameter path_style='%s': expected 1 or 0", path_style);
    return CB_EINVAL;
  }
  if (!endpoint[0])
    snprintf(endpoint, sizeof endpoint, "https://s3.%s.amazonaws.com", st->region);
  size_t en = strlen(endpoint);
  while (en && endpoint[en - 1] == '/')
    endpoint[--en] = '\0';
  const char *host = !strncmp(endpoint, "http://", 7)    ? endpoint + 7
                     : !strncmp(endpoint, "https://", 8) ? endpoint + 8
                                                         : NULL;
  if (!host || !*host || strpbrk(host, "/?#@ ") || en >= 400) {
    cb_errf(eb, "S3 endpoint '%.100s' is invalid: expected http(s)://HOST[:PORT]", endpoint);
    return CB_EINVAL;
  }
  snprintf(st->endpoint, sizeof st->endpoint, "%s", endpoint);
  if (st->path_style)
    snprintf(st->base, sizeof st->base, "%s/%s", endpoint, st->bucket);
  else
    snprintf(st->base, sizeof st->base, "%.*s%s.%s", (int)(host - endpoint), endpoint, st->bucket, host);
  return CB_OK;
}

static int env_size(const char *name, uint64_t lo, uint64_t hi, uint64_t dflt, uint64_t *out, struct cb_errbuf *eb)
{
  const char *v = getenv(name);
  *out = dflt;
  if (!v || !*v)
    return 0;
  if (cb_parse_size(v, out) || *out < lo || *out > hi) {
    cb_errf(eb, "invalid %s '%s': expected a number from %llu to %llu (K/M/G suffixes allowed)", name, v,
            (unsigned long long)lo, (unsigned long long)hi);
    return -1;
  }
  return 0;
}

/* The S3 settings, checked at start whatever store is configured (a wrong one would
 * otherwise surface only when a migration or backup first opens an S3 store). */
cb_err store_s3_check_settings(struct cb_errbuf *eb)
{
  uint64_t v;
  if (env_size("CARBOY_S3_PART_SIZE", S3_MIN_PART, 1ull << 30, 8ull << 20, &v, eb) ||
      env_size("CARBOY_S3_PARALLEL", 1, S3_MAX_PARALLEL, 4, &v, eb) ||
      env_size("CARBOY_S3_LIST_PAGE", 1, 1000, 1000, &v, eb))
    return CB_EINVAL;
  return CB_OK;
}

static cb_err creds_setup(struct s3_state *st, struct cb_errbuf *eb)
{
  const char *ak = getenv("AWS_ACCESS_KEY_ID"), *sk = getenv("AWS_SECRET_ACCESS_KEY");
  const char *tk = getenv("AWS_SESSION_TOKEN");
  const char *rel = getenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI");
  const char *full = getenv("AWS_CONTAINER_CREDENTIALS_FULL_URI");
  if ((ak && *ak) || (sk && *sk)) {
    if (!ak || !*ak || !sk || !*sk) {
      cb_errf(eb, "S3 credentials: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must be set together");
      return CB_EINVAL;
    }
    if (strlen(ak) >= sizeof st->creds.akid || strlen(sk) >= sizeof st->creds.secret ||
        (tk && strlen(tk) >= sizeof st->creds.token)) {
      cb_errf(eb, "S3 credentials from the environment are too long");
      return CB_EINVAL;
    }
    snprintf(st->creds.akid, sizeof st->creds.akid, "%s", ak);
    snprintf(st->creds.secret, sizeof st->creds.secret, "%s", sk);
    snprintf(st->creds.token, sizeof st->creds.token, "%s", tk ? tk : "");
    return CB_OK;
  }
  if (rel && *rel) {
    if (rel[0] != '/' || strlen(rel) > 1000) {
      cb_errf(eb, "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI must be a path starting with '/'");
      return CB_EINVAL;
    }
    snprintf(st->ecs_url, sizeof st->ecs_url, "http://169.254.170.2%s", rel);
  } else if (full && *full) {
    if (strlen(full) > 2000 ||
        !(!strncmp(full, "https://", 8) || (!strncmp(full, "http://", 7) && loopback_host(full)))) {
      cb_errf(eb, "AWS_CONTAINER_CREDENTIALS_FULL_URI must be https:// or http:// to a loopback or ECS address");
      return CB_EINVAL;
    }
    snprintf(st->ecs_url, sizeof st->ecs_url, "%s", full);
    const char *t = getenv("AWS_CONTAINER_AUTHORIZATION_TOKEN");
    const char *tf = getenv("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE");
    snprintf(st->ecs_token, sizeof st->ecs_token, "%s", t ? t : "");
    snprintf(st->ecs_token_file, sizeof st->ecs_token_file, "%s", tf ? tf : "");
  } else {
    cb_errf(eb, "no S3 credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or run where "
                "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI (or _FULL_URI) is set");
    return CB_EINVAL;
  }
  st->ecs = 1;
  return ecs_fetch(st, eb);
}

/* AbortMultipartUpload, best effort (s3rver has none: it answers 405). */
static void abort_multipart(struct s3_state *st, const char *key, const char *upload_id)
{
  struct qp q[1] = {{"uploadId", upload_id}};
  struct cb_buf qs = {0};
  struct cb_errbuf eb = {{0}};
  if (!query_build(&qs, q, 1)) {
    struct s3_call c = {.method = "DELETE", .key = key, .query = qs.data};
    if (s3_call(st, &c, &eb))
      CB_LOG(CB_LOG_WARN, "s3", "cannot abort the multipart upload of %s: %s", key, eb.msg);
  }
  cb_buf_free(&qs);
}

struct list_page {
  char key[S3_KEY_MAX];
  uint64_t size;
  int64_t modified_ms;
};

/* One <Contents> of a listing as it is read. */
struct list_read {
  struct list_page ent;
  char size[32], mod[64];
  struct s3xml_field rec[3];
  int (*cb)(void *ctx, const struct list_page *e);
  void *ctx;
  int stop;
};

static int list_entry(void *ctx)
{
  struct list_read *lr = ctx;
  if (!lr->rec[0].found)
    return 0;
  lr->ent.size = strtoull(lr->size, NULL, 10);
  lr->ent.modified_ms = parse_time_ms(lr->mod);
  return lr->stop = lr->cb(lr->ctx, &lr->ent);
}

/* Lists the keys under prefix (decoded), a page at a time: cb gets each key; non-zero
 * stops. max_keys 0: the store's page size. */
static cb_err list_keys(struct s3_state *st, const char *prefix, int max_keys, int one_page,
                        int (*cb)(void *ctx, const struct list_page *e), void *ctx, long *status, struct cb_errbuf *eb)
{
  struct cb_buf resp = {0};
  char token[2048] = "", mk[16];
  snprintf(mk, sizeof mk, "%d", max_keys ? max_keys : st->list_page);
  cb_err e = CB_OK;
  int stop = 0;
  do {
    struct qp q[4] = {{"list-type", "2"}, {"max-keys", mk}};
    int n = 2;
    if (prefix && *prefix)
      q[n++] = (struct qp){"prefix", prefix};
    if (token[0])
      q[n++] = (struct qp){"continuation-token", token};
    struct cb_buf qs = {0};
    if ((e = query_build(&qs, q, n)))
      break;
    struct s3_call c = {.method = "GET", .query = qs.data, .resp = &resp};
    e = s3_call(st, &c, eb);
    cb_buf_free(&qs);
    if (status)
      *status = c.status;
    if (e)
      break;
    struct list_read lr = {.cb = cb, .ctx = ctx};
    lr.rec[0] = (struct s3xml_field){"Key", lr.ent.key, sizeof lr.ent.key, 0};
    lr.rec[1] = (struct s3xml_field){"Size", lr.size, sizeof lr.size, 0};
    lr.rec[2] = (struct s3xml_field){"LastModified", lr.mod, sizeof lr.mod, 0};
    char trunc[16];
    struct s3xml_field top[2] = {{"IsTruncated", trunc, sizeof trunc, 0},
                                 {"NextContinuationToken", token, sizeof token, 0}};
    struct s3xml_read r = {
      .top = top, .ntop = 2, .record = "Contents", .rec = lr.rec, .nrec = 3, .on_record = list_entry, .ctx = &lr};
    s3xml_parse(resp.data, resp.len, &r);
    stop = lr.stop;
    if (strcmp(trunc, "true"))
      token[0] = '\0';
  } while (!stop && !one_page && token[0]);
  cb_buf_free(&resp);
  return e;
}

static cb_err delete_key(struct s3_state *st, const char *key, struct cb_errbuf *eb)
{
  struct s3_call c = {.method = "DELETE", .key = key};
  return s3_call(st, &c, eb);
}

struct tmp_sweep {
  struct s3_state *st;
  int64_t before_ms;
  int removed;
};

static int sweep_one(void *ctx, const struct list_page *ent)
{
  struct tmp_sweep *s = ctx;
  struct cb_errbuf eb = {{0}};
  if (ent->modified_ms && ent->modified_ms < s->before_ms && !delete_key(s->st, ent->key, &eb))
    s->removed++;
  return 0;
}

/* One <Upload> of a listing of multipart uploads as it is read. */
struct upload_read {
  struct s3_state *st;
  const char *tmp;
  int64_t before_ms;
  char key[S3_KEY_MAX], id[1024], when[64];
  int aborted;
};

static int upload_entry(void *ctx)
{
  struct upload_read *ur = ctx;
  int64_t t = parse_time_ms(ur->when);
  if (ur->key[0] && ur->id[0] && t && t < ur->before_ms && !strncmp(ur->key, ur->tmp, strlen(ur->tmp))) {
    abort_multipart(ur->st, ur->key, ur->id);
    ur->aborted++;
  }
  return 0;
}

/* Aborts the multipart uploads under tmp (a prefix) begun before before_ms: what a
 * process that died mid-upload left (S3 keeps, and bills, their parts until then). A
 * server without ListMultipartUploads (s3rver) is left alone. */
static int sweep_uploads(struct s3_state *st, const char *tmp, int64_t before_ms)
{
  struct cb_buf resp = {0}, qs = {0};
  struct qp q[2] = {{"prefix", tmp}, {"uploads", ""}};
  struct cb_errbuf eb = {{0}};
  if (query_build(&qs, q, 2))
    return 0;
  struct s3_call c = {.method = "GET", .query = qs.data, .resp = &resp};
  cb_err e = s3_call(st, &c, &eb);
  if (e)
    CB_LOG(CB_LOG_DEBUG, "s3", "no listing of unfinished multipart uploads: %s", eb.msg);
  struct upload_read ur = {.st = st, .tmp = tmp, .before_ms = before_ms};
  struct s3xml_field rec[3] = {
    {"Key", ur.key, sizeof ur.key, 0}, {"UploadId", ur.id, sizeof ur.id, 0}, {"Initiated", ur.when, sizeof ur.when, 0}};
  struct s3xml_read r = {.record = "Upload", .rec = rec, .nrec = 3, .on_record = upload_entry, .ctx = &ur};
  if (!e)
    s3xml_parse(resp.data, resp.len, &r);
  cb_buf_free(&resp);
  cb_buf_free(&qs);
  return ur.aborted;
}

/* Temporary objects under PREFIX/.tmp/ and unfinished multipart uploads older than
 * before_ms go: what a process that died mid-upload left. */
static cb_err clean_tmp(struct s3_state *st, int64_t before_ms, int *removed)
{
  char tmp[S3_KEY_MAX];
  struct cb_errbuf eb = {{0}};
  snprintf(tmp, sizeof tmp, "%s%s.tmp/", st->prefix, st->prefix[0] ? "/" : "");
  struct tmp_sweep sw = {st, before_ms, 0};
  cb_err e = list_keys(st, tmp, 0, 0, sweep_one, &sw, NULL, &eb);
  if (sw.removed)
    CB_LOG(CB_LOG_INFO, "s3", "removed %d leftover temporary object(s) under %s", sw.removed, tmp);
  int ab = sweep_uploads(st, tmp, before_ms);
  if (ab)
    CB_LOG(CB_LOG_INFO, "s3", "aborted %d unfinished multipart upload(s) under %s", ab, tmp);
  *removed = sw.removed + ab;
  return e;
}

static cb_err s3_clean_tmp(void *state, int64_t before_ms, int *removed)
{
  return clean_tmp(state, before_ms, removed);
}

static int count_one(void *ctx, const struct list_page *ent)
{
  (void)ent;
  (*(int *)ctx)++;
  return 1;
}

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static void curl_init_once(void)
{
  curl_global_init(CURL_GLOBAL_DEFAULT);
}

static void s3_close(void *state)
{
  struct s3_state *st = state;
  if (!st)
    return;
  if (st->share)
    curl_share_cleanup(st->share);
  for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
    pthread_mutex_destroy(&st->share_lock[i]);
  pthread_mutex_destroy(&st->cred_lock);
  memset(&st->creds, 0, sizeof st->creds);
  free(st);
}

static cb_err s3_open(const char *url, void **state, struct cb_errbuf *eb)
{
  pthread_once(&curl_once, curl_init_once);
  struct s3_state *st = calloc(1, sizeof *st);
  if (!st)
    return CB_ENOMEM;
  for (int i = 0; i < CURL_LOCK_DATA_LAST; i++)
    pthread_mutex_init(&st->share_lock[i], NULL);
  pthread_mutex_init(&st->cred_lock, NULL);
  uint64_t ps, par, page;
  cb_err e = parse_url(st, url, eb);
  if (!e && (env_size("CARBOY_S3_PART_SIZE", S3_MIN_PART, 1ull << 30, 8ull << 20, &ps, eb) ||
             env_size("CARBOY_S3_PARALLEL", 1, S3_MAX_PARALLEL, 4, &par, eb) ||
             env_size("CARBOY_S3_LIST_PAGE", 1, 1000, 1000, &page, eb)))
    e = CB_EINVAL;
  if (e)
    goto out;
  st->part_size = (size_t)ps;
  st->parallel = (int)par;
  st->list_page = (int)page;
  st->share = curl_share_init();
  if (!st->share) {
    e = CB_ENOMEM;
    goto out;
  }
  curl_share_setopt(st->share, CURLSHOPT_LOCKFUNC, share_lock);
  curl_share_setopt(st->share, CURLSHOPT_UNLOCKFUNC, share_unlock);
  curl_share_setopt(st->share, CURLSHOPT_USERDATA, st);
  curl_share_setopt(st->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_DNS);
  curl_share_setopt(st->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT);
  curl_share_setopt(st->share, CURLSHOPT_SHARE, CURL_LOCK_DATA_SSL_SESSION);
  if ((e = creds_setup(st, eb)))
    goto out;
  /* The bucket must answer now: a wrong bucket, key or signature stops the start. A
   * server that cannot be reached yet is only reported (/readyz says so until it can). */
  int seen = 0;
  struct cb_errbuf peb = {{0}};
  long pstatus = 0;
  cb_err pe = list_keys(st, st->prefix, 1, 1, count_one, &seen, &pstatus, &peb);
  if (pe) {
    if (pstatus >= 400 && pstatus < 500) {
      cb_errf(eb, "S3 bucket '%s' at %s: %s", st->bucket, st->endpoint, peb.msg);
      e = CB_ESTORE;
      goto out;
    }
    CB_LOG(CB_LOG_WARN, "s3", "bucket '%s' does not answer yet: %s", st->bucket, peb.msg);
  } else {
    int removed = 0;
    clean_tmp(st, cb_time_now_ms() - S3_TMP_AGE_S * 1000, &removed);
  }
  CB_LOG(CB_LOG_INFO, "s3", "bucket '%s' at %s (%s addressing), prefix '%s', region %s, parts of %zu MiB x %d",
         st->bucket, st->endpoint, st->path_style ? "path-style" : "virtual-host", st->prefix, st->region,
         st->part_size >> 20, st->parallel);
  *state = st;
out:
  if (e)
    s3_close(st);
  return e;
}

/* ---- writing ---- */

struct s3_part {
  int num;
  char *buf;
  size_t len;
  size_t cap;
  struct s3_part *next;
};

struct s3_put {
  struct s3_state *st;
  char *buf; /* the part being filled */
  size_t len, cap;
  uint64_t total;
  int multipart;
  char tmpkey[S3_KEY_MAX];
  char upload_id[1024];
  pthread_mutex_t mu;
  pthread_cond_t cv;
  struct s3_part *qhead, *qtail;
  int pending; /* parts queued or being sent */
  int nparts;  /* parts handed over so far */
  char (*etags)[128];
  int etag_cap;
  atomic_int cancel;
  int failed;
  cb_err ferr;
  struct cb_errbuf ferrbuf;
  int stopping;
  pthread_t th[S3_MAX_PARALLEL];
  int nth;
  struct s3_part *spare; /* sent parts' buffers, for reuse */
};

static cb_err upload_part(struct s3_put *p, struct s3_part *pt, char *etag, struct cb_errbuf *eb)
{
  char num[16];
  snprintf(num, sizeof num, "%d", pt->num);
  struct qp q[2] = {{"partNumber", num}, {"uploadId", p->upload_id}};
  struct cb_buf qs = {0};
  cb_err e = query_build(&qs, q, 2);
  if (e)
    return e;
  struct s3_call c = {
    .method = "PUT", .key = p->tmpkey, .query = qs.data, .body = pt->buf, .body_len = pt->len, .cancel = &p->cancel};
  e = s3_call(p->st, &c, eb);
  cb_buf_free(&qs);
  if (!e && !c.etag[0]) {
    cb_errf(eb, "S3 upload of part %d of %s: the answer has no ETag", pt->num, key_tail(p->tmpkey));
    e = CB_ESTORE;
  }
  if (!e)
    snprintf(etag, 128, "%s", c.etag);
  return e;
}

static void *part_worker(void *arg)
{
  struct s3_put *p = arg;
  pthread_mutex_lock(&p->mu);
  for (;;) {
    while (!p->qhead && !p->stopping)
      pthread_cond_wait(&p->cv, &p->mu);
    struct s3_part *pt = p->qhead;
    if (!pt)
      break;
    p->qhead = pt->next;
    if (!p->qhead)
      p->qtail = NULL;
    pthread_mutex_unlock(&p->mu);
    char etag[128] = "";
    struct cb_errbuf eb = {{0}};
    cb_err e = atomic_load(&p->cancel) ? CB_EABORTED : upload_part(p, pt, etag, &eb);
    pthread_mutex_lock(&p->mu);
    if (e && !p->failed) {
      p->failed = 1;
      p->ferr = e;
      p->ferrbuf = eb;
      atomic_store(&p->cancel, 1);
    } else if (!e) {
      snprintf(p->etags[pt->num - 1], sizeof p->etags[0], "%s", etag);
    }
    pt->len = 0;
    pt->next = p->spare;
    p->spare = pt;
    p->pending--;
    pthread_cond_broadcast(&p->cv);
  }
  pthread_mutex_unlock(&p->mu);
  return NULL;
}

static cb_err s3_put_begin(void *state, void **out, struct cb_errbuf *eb)
{
  struct s3_state *st = state;
  struct s3_put *p = calloc(1, sizeof *p);
  if (!p)
    return CB_ENOMEM;
  p->st = st;
  p->cap = st->part_size;
  p->buf = malloc(p->cap);
  if (!p->buf) {
    free(p);
    cb_errf(eb, "out of memory for an upload buffer");
    return CB_ENOMEM;
  }
  pthread_mutex_init(&p->mu, NULL);
  pthread_cond_init(&p->cv, NULL);
  *out = p;
  return CB_OK;
}

static cb_err start_multipart(struct s3_put *p, struct cb_errbuf *eb)
{
  struct s3_state *st = p->st;
  char id[CB_ID_LEN + 1];
  cb_id_new(id);
  snprintf(p->tmpkey, sizeof p->tmpkey, "%s%s.tmp/%s", st->prefix, st->prefix[0] ? "/" : "", id);
  struct cb_buf resp = {0};
  struct s3_call c = {
    .method = "POST", .key = p->tmpkey, .query = "uploads=", .resp = &resp, .content_type = "application/octet-stream"};
  cb_err e = s3_call(st, &c, eb);
  if (!e && (!s3xml_text(resp.data, resp.len, "UploadId", p->upload_id, sizeof p->upload_id) || !p->upload_id[0])) {
    cb_errf(eb, "S3 CreateMultipartUpload of %s: the answer has no UploadId", key_tail(p->tmpkey));
    e = CB_ESTORE;
  }
  cb_buf_free(&resp);
  if (e)
    return e;
  p->multipart = 1;
  for (; p->nth < st->parallel; p->nth++)
    if (pthread_create(&p->th[p->nth], NULL, part_worker, p)) {
      if (!p->nth) {
        cb_errf(eb, "cannot start upload threads");
        return CB_ENOMEM;
      }
      break;
    }
  return CB_OK;
}

/* Hands the filled buffer to the uploader threads (waiting while parallel parts are in
 * flight) and takes an empty one. */
static cb_err submit(struct s3_put *p, struct cb_errbuf *eb)
{
  struct s3_state *st = p->st;
  pthread_mutex_lock(&p->mu);
  while (p->pending >= st->parallel && !p->failed)
    pthread_cond_wait(&p->cv, &p->mu);
  if (p->failed) {
    *eb = p->ferrbuf;
    cb_err e = p->ferr;
    pthread_mutex_unlock(&p->mu);
    return e;
  }
  if (p->nparts >= 10000) {
    pthread_mutex_unlock(&p->mu);
    cb_errf(eb, "the blob needs more than 10,000 S3 parts");
    return CB_ETOOBIG;
  }
  if (p->nparts >= p->etag_cap) {
    int ncap = p->etag_cap ? p->etag_cap * 2 : 64;
    void *ne = realloc(p->etags, (size_t)ncap * sizeof p->etags[0]);
    if (!ne) {
      pthread_mutex_unlock(&p->mu);
      return CB_ENOMEM;
    }
    p->etags = ne;
    p->etag_cap = ncap;
  }
  struct s3_part *pt = p->spare;
  if (pt)
    p->spare = pt->next;
  pthread_mutex_unlock(&p->mu);
  if (!pt && !(pt = calloc(1, sizeof *pt)))
    return CB_ENOMEM;
  /* swap buffers: the full one goes, the spare one (if any) comes */
  char *full = p->buf;
  size_t fullcap = p->cap, want = part_size_for(st, p->nparts + 2);
  if (!pt->buf || pt->cap < want) {
    free(pt->buf);
    pt->buf = NULL;
    p->buf = malloc(want);
    p->cap = want;
  } else {
    p->buf = pt->buf;
    p->cap = pt->cap;
  }
  pt->buf = full;
  pt->cap = fullcap;
  pt->len = p->len;
  p->len = 0;
  if (!p->buf) {
    p->buf = pt->buf;
    p->cap = pt->cap;
    p->len = pt->len;
    free(pt);
    cb_errf(eb, "out of memory for an upload buffer");
    return CB_ENOMEM;
  }
  pthread_mutex_lock(&p->mu);
  pt->num = ++p->nparts;
  pt->next = NULL;
  if (p->qtail)
    p->qtail->next = pt;
  else
    p->qhead = pt;
  p->qtail = pt;
  p->pending++;
  pthread_cond_broadcast(&p->cv);
  pthread_mutex_unlock(&p->mu);
  return CB_OK;
}

static cb_err s3_put_write(void *put, const void *buf, size_t n, struct cb_errbuf *eb)
{
  struct s3_put *p = put;
  const char *c = buf;
  cb_err e = CB_OK;
  while (n && !e) {
    if (p->len == p->cap) {
      if (!p->multipart)
        e = start_multipart(p, eb);
      if (!e)
        e = submit(p, eb);
      continue;
    }
    size_t k = p->cap - p->len < n ? p->cap - p->len : n;
    memcpy(p->buf + p->len, c, k);
    p->len += k;
    p->total += k;
    c += k;
    n -= k;
  }
  return e;
}

/* Stops the uploader threads (after the queue drains, unless cancelled). */
static void stop_workers(struct s3_put *p)
{
  pthread_mutex_lock(&p->mu);
  p->stopping = 1;
  pthread_cond_broadcast(&p->cv);
  pthread_mutex_unlock(&p->mu);
  for (int i = 0; i < p->nth; i++)
    pthread_join(p->th[i], NULL);
  p->nth = 0;
}

static void abort_upload(struct s3_put *p)
{
  if (!p->multipart || !p->upload_id[0])
    return;
  abort_multipart(p->st, p->tmpkey, p->upload_id);
  p->upload_id[0] = '\0';
}

static void put_free(struct s3_put *p)
{
  while (p->qhead) {
    struct s3_part *pt = p->qhead;
    p->qhead = pt->next;
    free(pt->buf);
    free(pt);
  }
  while (p->spare) {
    struct s3_part *pt = p->spare;
    p->spare = pt->next;
    free(pt->buf);
    free(pt);
  }
  free(p->buf);
  free(p->etags);
  pthread_mutex_destroy(&p->mu);
  pthread_cond_destroy(&p->cv);
  free(p);
}

static void s3_put_abort(void *put)
{
  struct s3_put *p = put;
  if (!p)
    return;
  atomic_store(&p->cancel, 1);
  stop_workers(p);
  abort_upload(p);
  put_free(p);
}

/* Is the blob stored already, whole? (A size that differs is a torn object that some
 * server's non-atomic write left behind: it is written again.) */
static int stored_already(struct s3_state *st, const char *key, uint64_t size)
{
  struct cb_errbuf eb = {{0}};
  struct s3_call c = {.method = "HEAD", .key = key};
  cb_err e = s3_call(st, &c, &eb);
  if (!e && c.length >= 0 && (uint64_t)c.length != size)
    CB_LOG(CB_LOG_WARN, "s3", "%s holds %lld bytes, not %llu: writing it again", key, (long long)c.length,
           (unsigned long long)size);
  return !e && c.length >= 0 && (uint64_t)c.length == size;
}

static cb_err complete_upload(struct s3_put *p, struct cb_errbuf *eb)
{
  struct cb_buf xml = {0}, resp = {0}, qs = {0};
  cb_err e = cb_buf_puts(&xml, "<CompleteMultipartUpload>");
  for (int i = 0; !e && i < p->nparts; i++)
    e = cb_buf_printf(&xml, "<Part><PartNumber>%d</PartNumber><ETag>%s</ETag></Part>", i + 1, p->etags[i]);
  if (!e)
    e = cb_buf_puts(&xml, "</CompleteMultipartUpload>");
  struct qp q[1] = {{"uploadId", p->upload_id}};
  if (!e)
    e = query_build(&qs, q, 1);
  for (int attempt = 0; !e && attempt < 3; attempt++) {
    struct s3_call c = {.method = "POST",
                        .key = p->tmpkey,
                        .query = qs.data,
                        .body = xml.data,
                        .body_len = xml.len,
                        .content_type = "application/xml",
                        .resp = &resp};
    e = s3_call(p->st, &c, eb);
    /* S3 may answer 200 and still fail: the error is then in the body */
    char code[64] = "", msg[200] = "";
    if (!e && s3xml_error(resp.data, resp.len, code, sizeof code, msg, sizeof msg)) {
      cb_errf(eb, "S3 CompleteMultipartUpload of %s: %s: %s", key_tail(p->tmpkey), code, msg);
      e = CB_ESTORE;
      if ((!strcmp(code, "InternalError") || !strcmp(code, "SlowDown")) && attempt < 2) {
        e = CB_OK;
        sleep_ms(500L << attempt);
        continue;
      }
    } else if (e && !strcmp(c.code, "NoSuchUpload") && stored_already(p->st, p->tmpkey, p->total)) {
      e = CB_OK; /* an earlier try completed it and its answer was lost */
    }
    break;
  }
  if (!e && !stored_already(p->st, p->tmpkey, p->total)) {
    cb_errf(eb, "S3: the assembled object %s is missing or not %llu bytes", key_tail(p->tmpkey),
            (unsigned long long)p->total);
    e = CB_ESTORE;
  }
  cb_buf_free(&xml);
  cb_buf_free(&resp);
  cb_buf_free(&qs);
  return e;
}

/* A PUT whose body may carry an error with a 200 (CopyObject, UploadPartCopy). */
static cb_err copy_call(struct s3_state *st, struct s3_call *c, struct cb_buf *resp, struct cb_errbuf *eb)
{
  cb_err e = CB_OK;
  for (int attempt = 0; attempt < 3; attempt++) {
    c->resp = resp;
    e = s3_call(st, c, eb);
    char code[64], msg[200];
    if (!e && s3xml_error(resp->data, resp->len, code, sizeof code, msg, sizeof msg)) {
      cb_errf(eb, "S3 copy to %s: %s: %s", key_tail(c->key), code, msg);
      snprintf(c->code, sizeof c->code, "%s", code);
      e = CB_ESTORE;
      if ((!strcmp(code, "InternalError") || !strcmp(code, "SlowDown")) && attempt < 2) {
        sleep_ms(500L << attempt);
        continue;
      }
    }
    break;
  }
  return e;
}

/* Copies src to dst server-side: CopyObject up to 5 GiB, UploadPartCopy above (falling
 * back to CopyObject where a server lacks it, as s3rver does). */
static cb_err copy_object(struct s3_state *st, const char *src, const char *dst, uint64_t size, struct cb_errbuf *eb)
{
  struct cb_buf resp = {0};
  cb_err e;
  if (size > S3_COPY_MAX) {
    struct s3_put mp = {.st = st, .multipart = 1, .total = size};
    snprintf(mp.tmpkey, sizeof mp.tmpkey, "%s", dst);
    struct s3_call c = {
      .method = "POST", .key = dst, .query = "uploads=", .resp = &resp, .content_type = "application/octet-stream"};
    e = s3_call(st, &c, eb);
    if (!e && !s3xml_text(resp.data, resp.len, "UploadId", mp.upload_id, sizeof mp.upload_id))
      e = CB_ESTORE;
    uint64_t ps = size / 9000 + 1;
    if (ps < (512ull << 20))
      ps = 512ull << 20;
    int n = (int)((size + ps - 1) / ps), notimpl = 0;
    mp.etags = calloc((size_t)n, sizeof mp.etags[0]);
    if (!e && !mp.etags)
      e = CB_ENOMEM;
    for (int i = 0; !e && i < n; i++) {
      char num[16], range[64];
      uint64_t a = (uint64_t)i * ps, b = a + ps > size ? size - 1 : a + ps - 1;
      snprintf(num, sizeof num, "%d", i + 1);
      snprintf(range, sizeof range, "bytes=%llu-%llu", (unsigned long long)a, (unsigned long long)b);
      struct qp q[2] = {{"partNumber", num}, {"uploadId", mp.upload_id}};
      struct cb_buf qs = {0};
      if ((e = query_build(&qs, q, 2)))
        break;
      struct s3_call pc = {
        .method = "PUT", .key = dst, .query = qs.data, .copy_source = src, .copy_source_range = range};
      e = copy_call(st, &pc, &resp, eb);
      cb_buf_free(&qs);
      if (e && (pc.status == 501 || !strcmp(pc.code, "NotImplemented")))
        notimpl = 1;
      if (!e && !s3xml_text(resp.data, resp.len, "ETag", mp.etags[i], sizeof mp.etags[0])) {
        cb_errf(eb, "S3 UploadPartCopy to %s: the answer has no ETag", key_tail(dst));
        e = CB_ESTORE;
      }
      mp.nparts = i + 1;
    }
    if (!e)
      e = complete_upload(&mp, eb);
    if (e)
      abort_upload(&mp);
    free(mp.etags);
    cb_buf_free(&resp);
    if (!notimpl)
      return e;
    CB_LOG(CB_LOG_INFO, "s3", "the server has no UploadPartCopy: copying %s with CopyObject", src);
  }
  struct s3_call c = {.method = "PUT", .key = dst, .copy_source = src};
  e = copy_call(st, &c, &resp, eb);
  cb_buf_free(&resp);
  return e;
}

static cb_err s3_put_commit(void *put, const char *sha, uint64_t size, struct cb_errbuf *eb)
{
  struct s3_put *p = put;
  struct s3_state *st = p->st;
  char key[S3_KEY_MAX];
  cb_err e = CB_OK;
  blob_key(st, sha, key, sizeof key);
  if (size != p->total) {
    cb_errf(eb, "S3 put: %llu bytes written, %llu committed", (unsigned long long)p->total, (unsigned long long)size);
    s3_put_abort(p);
    return CB_ESTORE;
  }
  if (!p->multipart) {
    if (!stored_already(st, key, size)) {
      struct s3_call c = {
        .method = "PUT", .key = key, .body = p->buf, .body_len = p->len, .content_type = "application/octet-stream"};
      e = s3_call(st, &c, eb);
    }
    put_free(p);
    return e;
  }
  e = submit(p, eb);
  pthread_mutex_lock(&p->mu);
  while (!e && p->pending > 0 && !p->failed)
    pthread_cond_wait(&p->cv, &p->mu);
  if (!e && p->failed) {
    e = p->ferr;
    *eb = p->ferrbuf;
  }
  pthread_mutex_unlock(&p->mu);
  if (e)
    atomic_store(&p->cancel, 1);
  stop_workers(p);
  if (!e)
    e = complete_upload(p, eb);
  if (e) {
    abort_upload(p);
    put_free(p);
    return e;
  }
  p->upload_id[0] = '\0'; /* completed: nothing to abort, the temporary object to delete */
  if (!stored_already(st, key, size))
    e = copy_object(st, p->tmpkey, key, size, eb);
  struct cb_errbuf deb = {{0}};
  if (delete_key(st, p->tmpkey, &deb))
    CB_LOG(CB_LOG_WARN, "s3", "cannot delete the temporary object %s: %s", p->tmpkey, deb.msg);
  put_free(p);
  return e;
}

/* ---- reading ---- */

static cb_err s3_head(void *state, const char *sha, uint64_t *size)
{
  char key[S3_KEY_MAX];
  struct cb_errbuf eb = {{0}};
  blob_key(state, sha, key, sizeof key);
  struct s3_call c = {.method = "HEAD", .key = key};
  cb_err e = s3_call(state, &c, &eb);
  if (e && e != CB_ENOTFOUND)
    CB_LOG(CB_LOG_WARN, "s3", "%s", eb.msg);
  if (!e && size)
    *size = c.length >= 0 ? (uint64_t)c.length : 0;
  return e;
}

static cb_err s3_get_range(void *state, const char *sha, uint64_t off, uint64_t len, store_sink_fn sink, void *ctx,
                           struct cb_errbuf *eb)
{
  char key[S3_KEY_MAX];
  blob_key(state, sha, key, sizeof key);
  if (!len) {
    cb_err e = s3_head(state, sha, NULL);
    if (e == CB_ENOTFOUND)
      cb_errf(eb, "blob %s is missing from the store", sha);
    return e;
  }
  struct s3_call c = {
    .method = "GET", .key = key, .ranged = 1, .r_off = off, .r_len = len, .sink = sink, .sink_ctx = ctx};
  cb_err e = s3_call(state, &c, eb);
  if (e == CB_ENOTFOUND)
    cb_errf(eb, "blob %s is missing from the store", sha);
  else if (e && e != CB_EABORTED)
    CB_LOG(CB_LOG_WARN, "s3", "%s", eb->msg);
  return e;
}

static cb_err s3_remove(void *state, const char *sha)
{
  char key[S3_KEY_MAX];
  struct cb_errbuf eb = {{0}};
  blob_key(state, sha, key, sizeof key);
  /* S3 answers 204 for a key that is not there; the contract says ENOTFOUND */
  struct s3_call h = {.method = "HEAD", .key = key};
  cb_err e = s3_call(state, &h, &eb);
  if (!e)
    e = delete_key(state, key, &eb);
  if (e && e != CB_ENOTFOUND)
    CB_LOG(CB_LOG_WARN, "s3", "%s", eb.msg);
  return e;
}

struct list_ctx {
  struct s3_state *st;
  size_t plen; /* the prefix and its '/' */
  store_list_fn cb;
  void *ctx;
};

static int list_one(void *ctx, const struct list_page *ent)
{
  struct list_ctx *l = ctx;
  const char *k = ent->key;
  if (strlen(k) != l->plen + 70)
    return 0;
  k += l->plen;
  /* ab/cd/abcd... */
  if (k[2] != '/' || k[5] != '/' || !cb_is_hex(k + 6, 64) || memcmp(k, k + 6, 2) || memcmp(k + 3, k + 8, 2))
    return 0;
  return l->cb(l->ctx, k + 6, ent->size, ent->modified_ms);
}

static cb_err s3_list(void *state, store_list_fn cb, void *ctx)
{
  struct s3_state *st = state;
  char prefix[S3_KEY_MAX];
  snprintf(prefix, sizeof prefix, "%s%s", st->prefix, st->prefix[0] ? "/" : "");
  struct list_ctx l = {st, strlen(prefix), cb, ctx};
  struct cb_errbuf eb = {{0}};
  cb_err e = list_keys(st, prefix, 0, 0, list_one, &l, NULL, &eb);
  if (e)
    CB_LOG(CB_LOG_WARN, "s3", "listing the bucket: %s", eb.msg);
  return e;
}

/* For /readyz: the bucket answers a one-key listing; its room is not ours to know. */
static cb_err s3_space(void *state, uint64_t *free_bytes)
{
  struct s3_state *st = state;
  int seen = 0;
  struct cb_errbuf eb = {{0}};
  cb_err e = list_keys(st, st->prefix, 1, 1, count_one, &seen, NULL, &eb);
  if (e) {
    CB_LOG(CB_LOG_WARN, "s3", "readiness check: %s", eb.msg);
    return CB_ESTORE;
  }
  *free_bytes = UINT64_MAX;
  return CB_OK;
}

/* ---- named objects (a backup's manifest): PREFIX/NAME, one PUT (atomic in S3) ---- */

static void named_key(const struct s3_state *st, const char *name, char *out, size_t cap)
{
  snprintf(out, cap, "%s%s%s", st->prefix, st->prefix[0] ? "/" : "", name);
}

static cb_err s3_put_named(void *state, const char *name, const void *buf, size_t n, struct cb_errbuf *eb)
{
  char key[S3_KEY_MAX];
  named_key(state, name, key, sizeof key);
  struct s3_call c = {.method = "PUT", .key = key, .body = buf, .body_len = n, .content_type = "application/json"};
  return s3_call(state, &c, eb);
}

static cb_err s3_get_named(void *state, const char *name, store_sink_fn sink, void *ctx, struct cb_errbuf *eb)
{
  char key[S3_KEY_MAX];
  named_key(state, name, key, sizeof key);
  struct s3_call c = {.method = "GET", .key = key, .sink = sink, .sink_ctx = ctx};
  cb_err e = s3_call(state, &c, eb);
  if (e == CB_ENOTFOUND)
    cb_errf(eb, "%s does not exist", key);
  return e;
}

const struct store_ops store_s3_ops = {
  .version = STORE_OPS_VERSION,
  .caps = 0,
  .scheme = "s3",
  .open = s3_open,
  .close = s3_close,
  .put_begin = s3_put_begin,
  .put_write = s3_put_write,
  .put_commit = s3_put_commit,
  .put_abort = s3_put_abort,
  .get_range = s3_get_range,
  .head = s3_head,
  .remove = s3_remove,
  .list = s3_list,
  .clean_tmp = s3_clean_tmp,
  .space = s3_space,
  .put_named = s3_put_named,
  .get_named = s3_get_named,
};
