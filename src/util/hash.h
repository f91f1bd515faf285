/* Streaming digests through OpenSSL's EVP (which uses the CPU's SHA instructions), and
 * FNV-1a for in-memory tables. */
#ifndef CB_HASH_H
#define CB_HASH_H
#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

#define CB_SHA256_HEX 65 /* 64 hex digits + NUL */

struct cb_hash; /* opaque */

/* algo: "sha256", "sha1", "md5" (names OpenSSL knows). NULL if unknown. */
struct cb_hash *cb_hash_new(const char *algo);
cb_err cb_hash_update(struct cb_hash *h, const void *p, size_t n);
/* Writes the raw digest (up to 64 bytes); returns its length, or 0 on failure. */
size_t cb_hash_final(struct cb_hash *h, unsigned char *out);
void cb_hash_free(struct cb_hash *h);
/* Convenience: sha256 of a buffer as hex. */
void cb_sha256_hex(const void *p, size_t n, char out[CB_SHA256_HEX]);

/* HMAC-SHA256 of data under key, as hex. */
void cb_hmac_sha256_hex(const char *key, const void *data, size_t n, char out[CB_SHA256_HEX]);

/* 32-bit FNV-1a of a string: a table slot's hash, not a digest (cheap, not keyed). */
uint32_t cb_fnv1a(const char *s);

#endif
