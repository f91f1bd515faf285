#include "auth/auth.h"

#include <sodium.h>
#include <string.h>

#include "util/log.h"
#include "util/util.h"

cb_err auth_init(void)
{
  return sodium_init() < 0 ? CB_EINVAL : CB_OK;
}

cb_err auth_hash_password(const char *password, char *out, size_t cap)
{
  if (cap < crypto_pwhash_STRBYTES)
    return CB_EINVAL;
  if (crypto_pwhash_str_alg(out, password, strlen(password), crypto_pwhash_OPSLIMIT_INTERACTIVE,
                            crypto_pwhash_MEMLIMIT_INTERACTIVE, crypto_pwhash_ALG_ARGON2ID13))
    return CB_ENOMEM;
  return CB_OK;
}

int auth_verify_password(const char *hash, const char *password)
{
  return crypto_pwhash_str_verify(hash, password, strlen(password)) == 0;
}

static const char *username_invalid(const char *u)
{
  size_t n = strlen(u);
  if (n < 1 || n > 64)
    return "username must be 1 to 64 characters";
  for (const char *p = u; *p; p++)
    if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
          *p == '.' || *p == '_' || *p == '-'))
      return "username may contain only letters, digits, '.', '_' and '-'";
  return NULL;
}

cb_err auth_user_add(const char *username, const char *password, int is_admin,
                     struct cb_user *out, struct cb_errbuf *eb)
{
  const char *why = username_invalid(username);
  if (why) {
    cb_errf(eb, "%s", why);
    return CB_EINVAL;
  }
  if (strlen(password) < 8 || strlen(password) > 1024) {
    cb_errf(eb, "password must be 8 to 1024 characters");
    return CB_EINVAL;
  }
  struct cb_user u = {0};
  cb_err e = cb_id_new(u.id);
  if (e)
    return e;
  snprintf(u.username, sizeof u.username, "%s", username);
  u.is_admin = is_admin;
  e = auth_hash_password(password, u.password_hash, sizeof u.password_hash);
  if (!e)
    e = db_user_create(&u);
  if (e == CB_EEXIST)
    cb_errf(eb, "user '%s' already exists", username);
  else if (e)
    cb_errf(eb, "cannot create user '%s': %s", username, cb_strerror(e));
  if (!e && out)
    *out = u;
  sodium_memzero(u.password_hash, sizeof u.password_hash);
  return e;
}

cb_err auth_ensure_admin(const char *password, int *created, char *generated, size_t cap,
                         struct cb_errbuf *eb)
{
  struct cb_user u;
  *created = 0;
  if (generated && cap)
    generated[0] = '\0';
  cb_err e = db_user_first_admin(&u);
  if (e != CB_ENOTFOUND)
    return e;
  char pw[33];
  if (!password || !*password) {
    unsigned char raw[16];
    randombytes_buf(raw, sizeof raw);
    cb_base64_encode(raw, 12, pw, 1); /* 16 url-safe characters */
    password = pw;
    if (generated && cap > strlen(pw))
      snprintf(generated, cap, "%s", pw);
  }
  e = auth_user_add("admin", password, 1, NULL, eb);
  sodium_memzero(pw, sizeof pw);
  if (!e)
    *created = 1;
  return e;
}

cb_err auth_identify(const char *authorization, const char *cookie, struct cb_identity *who)
{
  (void)authorization;
  (void)cookie;
  memset(who, 0, sizeof *who);
  /* Accounts are not enforced yet: every caller acts as the first admin. */
  struct cb_user u;
  cb_err e = db_user_first_admin(&u);
  if (e)
    return e;
  memcpy(who->user_id, u.id, sizeof who->user_id);
  snprintf(who->username, sizeof who->username, "%s", u.username);
  who->is_admin = u.is_admin;
  sodium_memzero(u.password_hash, sizeof u.password_hash);
  return CB_OK;
}

int auth_can(const struct cb_identity *who, const char *owner_id, enum cb_access need)
{
  (void)need;
  if (!who->user_id[0])
    return 0;
  return who->is_admin || !strcmp(who->user_id, owner_id);
}
