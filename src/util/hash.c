#include "util/hash.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <sodium.h>
#include <string.h>
#include <stdlib.h>

#include "util/util.h"

struct cb_hash {
  EVP_MD_CTX *ctx;
};

struct cb_hash *cb_hash_new(const char *algo)
{
  const EVP_MD *md = EVP_get_digestbyname(algo);
  if (!md)
    return NULL;
  struct cb_hash *h = calloc(1, sizeof *h);
  if (!h)
    return NULL;
  h->ctx = EVP_MD_CTX_new();
  if (!h->ctx || EVP_DigestInit_ex(h->ctx, md, NULL) != 1) {
    cb_hash_free(h);
    return NULL;
  }
  return h;
}

cb_err cb_hash_update(struct cb_hash *h, const void *p, size_t n)
{
  return EVP_DigestUpdate(h->ctx, p, n) == 1 ? CB_OK : CB_EINVAL;
}

size_t cb_hash_final(struct cb_hash *h, unsigned char *out)
{
  unsigned len = 0;
  if (EVP_DigestFinal_ex(h->ctx, out, &len) != 1)
    return 0;
  return len;
}

void cb_hash_free(struct cb_hash *h)
{
  if (!h)
    return;
  EVP_MD_CTX_free(h->ctx);
  free(h);
}

void cb_sha256_hex(const void *p, size_t n, char out[CB_SHA256_HEX])
{
  unsigned char md[32];
  unsigned len = 0;
  EVP_Digest(p, n, md, &len, EVP_sha256(), NULL);
  sodium_bin2hex(out, CB_SHA256_HEX, md, 32);
}

void cb_hmac_sha256_hex(const char *key, const void *data, size_t n, char out[CB_SHA256_HEX])
{
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned len = 0;
  HMAC(EVP_sha256(), key, (int)strlen(key), data, n, md, &len);
  sodium_bin2hex(out, CB_SHA256_HEX, md, 32);
}

uint32_t cb_fnv1a(const char *s)
{
  uint32_t h = 2166136261u;
  for (const unsigned char *p = (const unsigned char *)s; *p; p++)
    h = (h ^ *p) * 16777619u;
  return h;
}
