/* Small helpers shared by every module: growable buffers, ids, time, UTF-8, name
 * validation. (Hex and base64 come from libsodium: sodium_bin2hex, sodium_bin2base64.) Ownership: a cb_buf owns its
 * data; cb_buf_free accepts a zeroed or freed buffer. */
#ifndef CB_UTIL_H
#define CB_UTIL_H
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

struct cb_buf {
  char *data; /* always NUL-terminated when non-NULL */
  size_t len;
  size_t cap;
};

cb_err cb_buf_append(struct cb_buf *b, const void *p, size_t n);
cb_err cb_buf_puts(struct cb_buf *b, const char *s);
cb_err cb_buf_printf(struct cb_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
cb_err cb_buf_vprintf(struct cb_buf *b, const char *fmt, va_list ap);
/* Appends s as a JSON string literal, quotes included. */
cb_err cb_buf_json_string(struct cb_buf *b, const char *s);
void cb_buf_reset(struct cb_buf *b);
void cb_buf_free(struct cb_buf *b);
/* Hands the data to the caller (free() it); the buffer is left empty. */
char *cb_buf_steal(struct cb_buf *b);

/* Room for one more element in *arrp, an array of *cap elements of elem bytes of which n
 * are in use: when it is full, it doubles (first: the capacity of an empty one). 0, or -1
 * when there is no memory (the array stays as it was). */
int cb_grow(void *arrp, size_t n, size_t *cap, size_t elem, size_t first);

/* Does s start (end) with prefix (suffix), letter for letter? */
int cb_has_prefix(const char *s, const char *prefix);
int cb_has_suffix(const char *s, const char *suffix);

/* Room for at least need bytes in *bufp, a buffer of *cap bytes: when it is smaller, it
 * doubles (from first when empty) until it fits. 0, or -1 when there is no memory (the
 * buffer stays as it was). */
int cb_reserve(void *bufp, size_t *cap, size_t need, size_t first);

/* A growable array of copies: set elem (and first, the capacity it starts with; 64 when
 * 0), push, read items[0..n), free(items). What a row visitor collecting rows uses. */
struct cb_vec {
  void *items;
  size_t n, cap, elem, first;
};
/* Appends a copy of the elem bytes at item: 0, or 1 when there is no memory (as a row
 * visitor answers to stop). */
int cb_vec_push(struct cb_vec *v, const void *item);

/* Now as RFC 3339 UTC with milliseconds: 2026-11-22T01:49:48.123Z (fits in 32 bytes). */
void cb_time_now_rfc3339(char *out, size_t n);
void cb_time_rfc3339(int64_t unix_ms, char *out, size_t n);
int64_t cb_time_now_ms(void);
/* Monotonic clock in nanoseconds, for durations. */
uint64_t cb_mono_ns(void);
/* Writes all n bytes to fd (retrying short writes and EINTR): 0, or -1 with errno. */
int cb_write_all(int fd, const void *buf, size_t n);

/* 1 in a build with AddressSanitizer (the test build): RLIMIT_AS cannot bound such a
 * process, so the memory limit takes another way there (jobs/pool.c, convert/worker.c) */
#if defined(__SANITIZE_ADDRESS__)
#define CB_UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define CB_UNDER_ASAN 1
#endif
#endif
#ifndef CB_UNDER_ASAN
#define CB_UNDER_ASAN 0
#endif

#define CB_ID_LEN 24 /* hex characters; buffers need CB_ID_LEN + 1 */
/* A new random opaque id (96 bits from the OS's CSPRNG). */
cb_err cb_id_new(char out[CB_ID_LEN + 1]);
/* True when s looks like an id we issue (so garbage never reaches SQL or paths). */
int cb_id_valid(const char *s);
cb_err cb_random_bytes(void *out, size_t n);

/* True when s[0..n) is lower-case hex digits only (as sodium_bin2hex writes them). */
int cb_is_hex(const char *s, size_t n);

/* A name a user gives to a file or folder: 1..255 bytes of valid UTF-8, no control
 * characters, no '/' or '\\', not "." or "..". Returns NULL when valid, else the reason. */
const char *cb_name_invalid(const char *name);
int cb_utf8_valid(const char *s, size_t n);
/* Reads the UTF-8 character at s[0..n), never a byte at or past s + n. Returns its length
 * (1..4), with its code point in *cp when cp is not NULL; 0 when s starts no valid
 * character (a byte that cannot start one, a byte that does not continue it, an overlong
 * form, a surrogate, beyond U+10FFFF): a reader then takes one byte as invalid; -1 when
 * the n bytes are a valid character's beginning cut off by the end of the buffer (and
 * when n is 0): a streaming reader waits for more, at the end it is invalid. */
int cb_utf8_next(const char *s, size_t n, uint32_t *cp);
/* Appends s[0..n), read as ISO-8859-1, as UTF-8 (through iconv). */
cb_err cb_buf_latin1(struct cb_buf *b, const char *s, size_t n);

/* Parses a size like "1048576", "64M", "10G" (binary units). 0 on success. */
int cb_parse_size(const char *s, uint64_t *out);

/* Percent-decodes src into dst (at most dstcap-1 bytes). Returns length or -1 if the
 * encoding is malformed, decodes to NUL, or does not fit. '+' is kept as is unless
 * plus_is_space. */
long cb_url_decode(const char *src, size_t srclen, char *dst, size_t dstcap, int plus_is_space);
/* Percent-encodes every byte outside RFC 3986's unreserved set. */
cb_err cb_buf_url_encode(struct cb_buf *b, const char *s);

#endif
