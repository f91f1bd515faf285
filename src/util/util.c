#include "util/util.h"

#include <ctype.h>
#include <errno.h>
#include <iconv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sodium.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "util/embedded.h"

int cb_has_prefix(const char *s, const char *prefix)
{
  return !strncmp(s, prefix, strlen(prefix));
}

int cb_has_suffix(const char *s, const char *suffix)
{
  size_t n = strlen(s), k = strlen(suffix);
  return n >= k && !strcmp(s + n - k, suffix);
}

int cb_reserve(void *bufp, size_t *cap, size_t need, size_t first)
{
  if (need <= *cap)
    return 0;
  size_t c = *cap ? *cap : first;
  while (c < need) {
    if (c > SIZE_MAX / 2)
      return -1;
    c *= 2;
  }
  void **buf = bufp;
  void *p = realloc(*buf, c);
  if (!p)
    return -1;
  *buf = p;
  *cap = c;
  return 0;
}

cb_err cb_buf_append(struct cb_buf *b, const void *p, size_t n)
{
  if (n > SIZE_MAX - b->len - 1 || cb_reserve(&b->data, &b->cap, b->len + n + 1, 256))
    return CB_ENOMEM;
  if (n)
    memcpy(b->data + b->len, p, n);
  b->len += n;
  b->data[b->len] = '\0';
  return CB_OK;
}

cb_err cb_buf_puts(struct cb_buf *b, const char *s)
{
  return cb_buf_append(b, s, strlen(s));
}

cb_err cb_buf_vprintf(struct cb_buf *b, const char *fmt, va_list ap)
{
  char tmp[512];
  va_list ap2;
  va_copy(ap2, ap);
  int n = vsnprintf(tmp, sizeof tmp, fmt, ap2);
  va_end(ap2);
  if (n < 0)
    return CB_EINVAL;
  if ((size_t)n < sizeof tmp)
    return cb_buf_append(b, tmp, (size_t)n);
  char *big = malloc((size_t)n + 1);
  if (!big)
    return CB_ENOMEM;
  vsnprintf(big, (size_t)n + 1, fmt, ap);
  cb_err e = cb_buf_append(b, big, (size_t)n);
  free(big);
  return e;
}

cb_err cb_buf_printf(struct cb_buf *b, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  cb_err e = cb_buf_vprintf(b, fmt, ap);
  va_end(ap);
  return e;
}

cb_err cb_buf_json_string(struct cb_buf *b, const char *s)
{
  cb_err e = cb_buf_append(b, "\"", 1);
  for (const unsigned char *p = (const unsigned char *)s; !e && *p; p++) {
    switch (*p) {
    case '"': e = cb_buf_append(b, "\\\"", 2); break;
    case '\\': e = cb_buf_append(b, "\\\\", 2); break;
    case '\n': e = cb_buf_append(b, "\\n", 2); break;
    case '\r': e = cb_buf_append(b, "\\r", 2); break;
    case '\t': e = cb_buf_append(b, "\\t", 2); break;
    default:
      if (*p < 0x20)
        e = cb_buf_printf(b, "\\u%04x", *p);
      else
        e = cb_buf_append(b, p, 1);
    }
  }
  return e ? e : cb_buf_append(b, "\"", 1);
}

void cb_buf_reset(struct cb_buf *b)
{
  b->len = 0;
  if (b->data)
    b->data[0] = '\0';
}

void cb_buf_free(struct cb_buf *b)
{
  if (!b)
    return;
  free(b->data);
  b->data = NULL;
  b->len = b->cap = 0;
}

char *cb_buf_steal(struct cb_buf *b)
{
  char *d = b->data;
  if (!d)
    d = calloc(1, 1);
  b->data = NULL;
  b->len = b->cap = 0;
  return d;
}

int64_t cb_time_now_ms(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

uint64_t cb_mono_ns(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void cb_time_rfc3339(int64_t ms, char *out, size_t n)
{
  time_t secs = (time_t)(ms / 1000);
  struct tm tm;
  gmtime_r(&secs, &tm);
  snprintf(out, n, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
           tm.tm_min, tm.tm_sec, (int)(ms % 1000));
}

void cb_time_now_rfc3339(char *out, size_t n)
{
  cb_time_rfc3339(cb_time_now_ms(), out, n);
}

cb_err cb_random_bytes(void *out, size_t n)
{
  unsigned char *p = out;
  while (n) {
    ssize_t r = getrandom(p, n, 0);
    if (r < 0) {
      if (errno == EINTR)
        continue;
      return CB_EIO;
    }
    p += r;
    n -= (size_t)r;
  }
  return CB_OK;
}

cb_err cb_id_new(char out[CB_ID_LEN + 1])
{
  unsigned char raw[CB_ID_LEN / 2];
  cb_err e = cb_random_bytes(raw, sizeof raw);
  if (e)
    return e;
  sodium_bin2hex(out, CB_ID_LEN + 1, raw, sizeof raw);
  return CB_OK;
}

int cb_id_valid(const char *s)
{
  return s && strlen(s) == CB_ID_LEN && cb_is_hex(s, CB_ID_LEN);
}

int cb_is_hex(const char *s, size_t n)
{
  for (size_t i = 0; i < n; i++) {
    char c = s[i];
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
      return 0;
  }
  return 1;
}

int cb_utf8_next(const char *s, size_t n, uint32_t *cp)
{
  const unsigned char *p = (const unsigned char *)s;
  if (!n)
    return -1;
  unsigned lead = p[0], lo = 0x80, hi = 0xbf; /* the second byte's range (Unicode's table 3-7) */
  uint32_t c;
  size_t len;
  if (lead < 0x80) {
    len = 1, c = lead;
  } else if (lead >= 0xc2 && lead <= 0xdf) {
    len = 2, c = lead & 0x1f;
  } else if (lead >= 0xe0 && lead <= 0xef) {
    len = 3, c = lead & 0x0f;
    lo = lead == 0xe0 ? 0xa0 : lo; /* no overlong form */
    hi = lead == 0xed ? 0x9f : hi; /* no surrogate */
  } else if (lead >= 0xf0 && lead <= 0xf4) {
    len = 4, c = lead & 0x07;
    lo = lead == 0xf0 ? 0x90 : lo; /* no overlong form */
    hi = lead == 0xf4 ? 0x8f : hi; /* nothing beyond U+10FFFF */
  } else {
    return 0; /* a continuation byte, C0 and C1 (overlong), F5..FF */
  }
  for (size_t i = 1; i < len; i++, lo = 0x80, hi = 0xbf) {
    if (i == n)
      return -1;
    if (p[i] < lo || p[i] > hi)
      return 0;
    c = c << 6 | (p[i] & 0x3f);
  }
  if (cp)
    *cp = c;
  return (int)len;
}

int cb_utf8_valid(const char *s, size_t n)
{
  for (size_t i = 0; i < n;) {
    int k = cb_utf8_next(s + i, n - i, NULL);
    if (k <= 0)
      return 0;
    i += (size_t)k;
  }
  return 1;
}

cb_err cb_buf_latin1(struct cb_buf *b, const char *s, size_t n)
{
  /* one conversion descriptor per thread, kept (glibc builds ISO-8859-1 and UTF-8 in) */
  static _Thread_local iconv_t cd = (iconv_t)-1;
  if (cd == (iconv_t)-1 && (cd = iconv_open("UTF-8", "ISO-8859-1")) == (iconv_t)-1)
    return CB_EINVAL;
  char *in = (char *)s;
  size_t inleft = n;
  iconv(cd, NULL, NULL, NULL, NULL);
  while (inleft) {
    char chunk[1024], *out = chunk;
    size_t outleft = sizeof chunk;
    /* E2BIG: the chunk is full; no other error, as every byte is a character */
    if (iconv(cd, &in, &inleft, &out, &outleft) == (size_t)-1 && errno != E2BIG)
      return CB_EINVAL;
    cb_err e = cb_buf_append(b, chunk, (size_t)(out - chunk));
    if (e)
      return e;
  }
  return CB_OK;
}

const char *cb_name_invalid(const char *name)
{
  if (!name || !*name)
    return "name must not be empty";
  size_t n = strlen(name);
  if (n > 255)
    return "name must be at most 255 bytes";
  if (!strcmp(name, ".") || !strcmp(name, ".."))
    return "name must not be '.' or '..'";
  if (!cb_utf8_valid(name, n))
    return "name must be valid UTF-8";
  for (const unsigned char *p = (const unsigned char *)name; *p; p++) {
    if (*p < 0x20 || *p == 0x7f)
      return "name must not contain control characters";
    if (*p == '/' || *p == '\\')
      return "name must not contain '/' or '\\'";
  }
  return NULL;
}

int cb_parse_size(const char *s, uint64_t *out)
{
  if (!s || !*s)
    return -1;
  char *end;
  errno = 0;
  unsigned long long v = strtoull(s, &end, 10);
  if (errno || end == s || *s == '-')
    return -1;
  /* a suffix k, m, g or t (either case) multiplies by 2^10, 2^20, 2^30 or 2^40 */
  static const char units[] = "kmgt";
  uint64_t mul = 1;
  if (*end) {
    const char *u = strchr(units, tolower((unsigned char)*end));
    if (!u)
      return -1;
    mul = 1ull << (10 * (u - units + 1));
    end++;
  }
  if (*end == 'i' || *end == 'I')
    end++;
  if (*end == 'b' || *end == 'B')
    end++;
  if (*end)
    return -1;
  if (v > UINT64_MAX / mul)
    return -1;
  *out = v * mul;
  return 0;
}

static int hexval(int c)
{
  if (c >= '0' && c <= '9')
    return c - '0';
  if (c >= 'a' && c <= 'f')
    return c - 'a' + 10;
  if (c >= 'A' && c <= 'F')
    return c - 'A' + 10;
  return -1;
}

long cb_url_decode(const char *src, size_t srclen, char *dst, size_t dstcap, int plus_is_space)
{
  size_t o = 0;
  for (size_t i = 0; i < srclen; i++) {
    int c = (unsigned char)src[i];
    if (c == '%') {
      if (i + 2 >= srclen)
        return -1;
      int h = hexval((unsigned char)src[i + 1]), l = hexval((unsigned char)src[i + 2]);
      if (h < 0 || l < 0)
        return -1;
      c = h * 16 + l;
      i += 2;
    } else if (c == '+' && plus_is_space) {
      c = ' ';
    }
    if (c == 0 || o + 1 >= dstcap)
      return -1;
    dst[o++] = (char)c;
  }
  dst[o] = '\0';
  return (long)o;
}

cb_err cb_buf_url_encode(struct cb_buf *b, const char *s)
{
  cb_err e = CB_OK;
  for (const unsigned char *p = (const unsigned char *)s; !e && *p; p++) {
    if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-' || *p == '.' ||
        *p == '_' || *p == '~')
      e = cb_buf_append(b, p, 1);
    else
      e = cb_buf_printf(b, "%%%02X", *p);
  }
  return e;
}

const struct cb_embedded *cb_embedded_find(const struct cb_embedded *t, const char *name)
{
  for (; t && t->name; t++)
    if (!strcmp(t->name, name))
      return t;
  return NULL;
}

int cb_write_all(int fd, const void *buf, size_t n)
{
  const char *p = buf;
  while (n) {
    ssize_t w = write(fd, p, n);
    if (w < 0 && errno == EINTR)
      continue;
    if (w <= 0)
      return -1;
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

int cb_grow(void *arrp, size_t n, size_t *cap, size_t elem, size_t first)
{
  void **arr = arrp;
  if (n < *cap)
    return 0;
  size_t c = *cap ? *cap * 2 : first;
  void *p = realloc(*arr, c * elem);
  if (!p)
    return -1;
  *arr = p;
  *cap = c;
  return 0;
}

int cb_vec_push(struct cb_vec *v, const void *item)
{
  if (cb_grow(&v->items, v->n, &v->cap, v->elem, v->first ? v->first : 64))
    return 1;
  memcpy((char *)v->items + v->n++ * v->elem, item, v->elem);
  return 0;
}
