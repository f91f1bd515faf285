#include "auth/auth.h"

#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/hash.h"
#include "util/log.h"
#include "util/net.h"
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
    if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '.' || *p == '_' ||
          *p == '-'))
      return "username may contain only letters, digits, '.', '_' and '-'";
  return NULL;
}

cb_err auth_user_add(const char *username, const char *password, int is_admin, struct cb_user *out,
                     struct cb_errbuf *eb)
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

cb_err auth_user_set_password(const char *username, const char *password, struct cb_user *out, int *ended,
                              struct cb_errbuf *eb)
{
  if (strlen(password) < 8 || strlen(password) > 1024) {
    cb_errf(eb, "password must be 8 to 1024 characters");
    return CB_EINVAL;
  }
  struct cb_user u;
  cb_err e = db_user_get_by_name(username, &u);
  if (e == CB_ENOTFOUND) {
    cb_errf(eb, "no user '%s'", username);
    return e;
  }
  if (!e)
    e = auth_hash_password(password, u.password_hash, sizeof u.password_hash);
  if (!e)
    e = db_user_set_password(u.id, u.password_hash);
  if (!e)
    e = db_user_sessions_delete(u.id, ended);
  if (e)
    cb_errf(eb, "cannot set the password of '%s': %s", username, cb_strerror(e));
  else if (out)
    *out = u;
  sodium_memzero(u.password_hash, sizeof u.password_hash);
  return e;
}

/* 1 when the account is the last administrator who still acts. */
static int last_admin(const struct cb_user *u)
{
  int64_t n = 0;
  return u->is_admin && !u->disabled && !db_user_active_admins(&n) && n <= 1;
}

cb_err auth_account_set(const char *user_id, int disabled, int is_admin, const char *password,
                        struct cb_account_change *out, struct cb_errbuf *eb)
{
  struct cb_user u;
  memset(out, 0, sizeof *out);
  cb_err e = db_user_get(user_id, &u);
  if (e) {
    cb_errf(eb, e == CB_ENOTFOUND ? "no such user" : "cannot read the user: %s", cb_strerror(e));
    return e;
  }
  sodium_memzero(u.password_hash, sizeof u.password_hash);
  if ((disabled == 1 || is_admin == 0) && last_admin(&u)) {
    cb_errf(eb, "'%s' is the last administrator: make another one first", u.username);
    return CB_ECONFLICT;
  }
  if (password && (strlen(password) < 8 || strlen(password) > 1024)) {
    cb_errf(eb, "password must be 8 to 1024 characters");
    return CB_EINVAL;
  }
  char hash[160];
  if (password && (e = auth_hash_password(password, hash, sizeof hash)))
    return e;
  e = db_begin();
  if (!e && disabled >= 0 && (e = db_user_set_disabled(u.id, disabled)) == CB_OK && disabled)
    e = db_user_sessions_delete(u.id, &out->sessions_ended); /* its tokens are suspended */
  if (!e && is_admin >= 0)
    e = db_user_set_admin(u.id, is_admin);
  if (!e && password && !(e = db_user_set_password(u.id, hash)))
    e = db_user_sessions_delete(u.id, &out->sessions_ended);
  int64_t admins = 0; /* again inside the transaction: two changes at once cannot both pass */
  if (!e && !(e = db_user_active_admins(&admins)) && admins < 1)
    e = CB_EFORBIDDEN;
  if (!e)
    e = db_commit();
  sodium_memzero(hash, sizeof hash);
  if (e) {
    db_rollback();
    if (e == CB_EFORBIDDEN) {
      cb_errf(eb, "'%s' is the last administrator: make another one first", u.username);
      return CB_ECONFLICT;
    }
    cb_errf(eb, "cannot change the user: %s", cb_strerror(e));
    return e;
  }
  if (disabled >= 0 || is_admin >= 0)
    auth_delegations_refresh(); /* what it shared stands or falls with its right */
  return db_user_get(u.id, &out->user);
}

cb_err auth_account_delete(const char *user_id, const char *heir_id, struct cb_errbuf *eb)
{
  struct cb_user u, h;
  cb_err e = db_user_get(user_id, &u);
  if (e) {
    cb_errf(eb, e == CB_ENOTFOUND ? "no such user" : "cannot read the user: %s", cb_strerror(e));
    return e;
  }
  sodium_memzero(u.password_hash, sizeof u.password_hash);
  if (last_admin(&u)) {
    cb_errf(eb, "'%s' is the last administrator: make another one first", u.username);
    return CB_ECONFLICT;
  }
  if (heir_id && (e = db_user_get(heir_id, &h))) {
    cb_errf(eb, "the new owner does not exist");
    return CB_EINVAL;
  }
  if (heir_id && !strcmp(heir_id, u.id)) {
    cb_errf(eb, "the new owner must be another user");
    return CB_EINVAL;
  }
  e = db_user_delete(u.id, heir_id);
  if (e == CB_EFORBIDDEN) {
    cb_errf(eb, "'%s' is the last administrator: make another one first", u.username);
    return CB_ECONFLICT;
  }
  if (e == CB_ECONFLICT) {
    int64_t folders = 0, files = 0;
    db_user_owned(u.id, &folders, &files);
    cb_errf(eb, "'%s' owns %lld folders and %lld files: name a new owner for them", u.username, (long long)folders,
            (long long)files);
    return e;
  }
  if (e) {
    cb_errf(eb, "cannot delete the user: %s", cb_strerror(e));
    return e;
  }
  auth_delegations_refresh();
  return CB_OK;
}

cb_err auth_account_end_sessions(const char *user_id, int tokens_too, int *sessions, int *tokens)
{
  *sessions = *tokens = 0;
  cb_err e = db_user_sessions_delete(user_id, sessions);
  if (!e && tokens_too)
    e = db_user_tokens_revoke_all(user_id, tokens);
  return e;
}

cb_err auth_ensure_admin(const char *password, int *created, char *generated, size_t cap, struct cb_errbuf *eb)
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
    sodium_bin2base64(pw, sizeof pw, raw, 12, sodium_base64_VARIANT_URLSAFE_NO_PADDING); /* 16 characters */
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

/* ------------------------------------------------------------ secrets */

/* A random secret: prefix + base64url of nbytes random bytes. */
static cb_err new_secret(const char *prefix, size_t nbytes, char *out, size_t cap)
{
  unsigned char raw[32];
  char enc[48];
  if (nbytes > sizeof raw || cap < strlen(prefix) + (nbytes * 4 + 2) / 3 + 1)
    return CB_EINVAL;
  randombytes_buf(raw, nbytes);
  sodium_bin2base64(enc, sizeof enc, raw, nbytes, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  snprintf(out, cap, "%s%s", prefix, enc);
  sodium_memzero(raw, sizeof raw);
  return CB_OK;
}

static void secret_hash(const char *secret, char out[CB_SHA256_HEX])
{
  cb_sha256_hex(secret, strlen(secret), out);
}

static void now_plus_days(int days, char *out)
{
  cb_time_rfc3339(cb_time_now_ms() + (int64_t)days * 86400 * 1000, out, CB_TIME_MAX);
}

/* ----------------------------------------------------------- identity */

static void from_user(struct cb_identity *who, const struct cb_user *u, enum cb_via via)
{
  memcpy(who->user_id, u->id, sizeof who->user_id);
  snprintf(who->username, sizeof who->username, "%s", u->username);
  who->is_admin = u->is_admin;
  who->via = via;
}

int auth_session_from_cookie(const char *cookie, char *out, size_t cap)
{
  const size_t n = strlen(CB_SESSION_COOKIE);
  for (const char *p = cookie; p && *p;) {
    while (*p == ' ' || *p == ';')
      p++;
    const char *end = strchr(p, ';');
    size_t len = end ? (size_t)(end - p) : strlen(p);
    if (len > n + 1 && !strncmp(p, CB_SESSION_COOKIE, n) && p[n] == '=') {
      size_t vlen = len - n - 1;
      if (vlen >= cap)
        return -1;
      memcpy(out, p + n + 1, vlen);
      out[vlen] = '\0';
      return 0;
    }
    p = end;
  }
  return -1;
}

cb_err auth_identify(const char *authorization, const char *cookie, struct cb_identity *who)
{
  char ts[CB_TIME_MAX], hash[CB_SHA256_HEX];
  struct cb_user u;
  memset(who, 0, sizeof *who);
  cb_time_now_rfc3339(ts, sizeof ts);
  if (authorization) {
    if (strncasecmp(authorization, "Bearer ", 7))
      return CB_EAUTH;
    const char *tok = authorization + 7;
    while (*tok == ' ')
      tok++;
    if (!*tok || strlen(tok) > CB_SECRET_MAX)
      return CB_EAUTH;
    struct cb_token t;
    secret_hash(tok, hash);
    cb_err e = db_token_lookup(hash, ts, &t, &u);
    if (e)
      return e == CB_ENOTFOUND ? CB_EAUTH : e;
    from_user(who, &u, CB_VIA_TOKEN);
    who->read_only = !strcmp(t.scope, "read");
    /* last use, at most once a minute per token */
    if (!t.last_used_at[0] || strncmp(t.last_used_at, ts, 16))
      db_token_touch(t.id, ts);
    sodium_memzero(u.password_hash, sizeof u.password_hash);
    return CB_OK;
  }
  char secret[CB_SECRET_MAX + 1];
  if (cookie && !auth_session_from_cookie(cookie, secret, sizeof secret)) {
    secret_hash(secret, hash);
    sodium_memzero(secret, sizeof secret);
    cb_err e = db_session_user(hash, ts, &u);
    if (e == CB_OK) {
      from_user(who, &u, CB_VIA_SESSION);
      sodium_memzero(u.password_hash, sizeof u.password_hash);
    } else if (e != CB_ENOTFOUND) {
      return e;
    }
  }
  return CB_OK;
}

cb_err auth_link_identity(const char *token, struct cb_identity *who)
{
  char ts[CB_TIME_MAX], hash[CB_SHA256_HEX];
  struct cb_link l;
  memset(who, 0, sizeof *who);
  if (!token || strlen(token) > CB_SECRET_MAX)
    return CB_ENOTFOUND;
  cb_time_now_rfc3339(ts, sizeof ts);
  secret_hash(token, hash);
  cb_err e = db_link_lookup(hash, ts, &l);
  if (e)
    return e;
  who->via = CB_VIA_LINK;
  who->read_only = 1;
  memcpy(who->link_type, l.object_type, sizeof who->link_type);
  memcpy(who->link_object, l.object_id, sizeof who->link_object);
  return CB_OK;
}

/* ---------------------------------------------------------- throttling */

/* Failed sign-ins per (user name, client address) and per client address, with delays
 * that grow: from the THROTTLE_FREE_*-th failure on, each one doubles the wait (2 s, 4 s,
 * 8 s, ... at most THROTTLE_CAP_MS). A key is forgotten THROTTLE_FORGET_MS after its last
 * failure. Never per user name alone: that let anyone lock a user out from everywhere.
 * The client address is the proxy's X-Forwarded-For when CARBOY_TRUSTED_PROXIES names
 * the proxy. A small table in memory: a restart forgets it. */
#define THROTTLE_SLOTS 4096
#define THROTTLE_FORGET_MS (15LL * 60 * 1000)
#define THROTTLE_CAP_MS (15LL * 60 * 1000)
#define THROTTLE_FREE_USER_ADDR 5
#define THROTTLE_FREE_ADDR 20

struct throttle {
  char key[CB_NAME_MAX + 64];
  int failures;
  int64_t last_fail;
  int64_t blocked_until;
};
static struct throttle throttles[THROTTLE_SLOTS];
static pthread_mutex_t throttle_lock = PTHREAD_MUTEX_INITIALIZER;

static int stale(const struct throttle *t, int64_t now_ms)
{
  return !t->key[0] || (now_ms - t->last_fail > THROTTLE_FORGET_MS && now_ms >= t->blocked_until);
}

static struct throttle *throttle_slot(const char *key, int64_t now_ms, int create)
{
  uint32_t h = cb_fnv1a(key);
  for (int i = 0; i < 16; i++) {
    struct throttle *t = &throttles[(h + (uint32_t)i) % THROTTLE_SLOTS];
    if (!strcmp(t->key, key))
      return stale(t, now_ms) && !create ? NULL : t;
  }
  if (!create)
    return NULL;
  for (int i = 0; i < 16; i++) {
    struct throttle *t = &throttles[(h + (uint32_t)i) % THROTTLE_SLOTS];
    if (stale(t, now_ms)) {
      memset(t, 0, sizeof *t);
      snprintf(t->key, sizeof t->key, "%s", key);
      return t;
    }
  }
  /* the neighbourhood is full of live entries: take the one blocked the shortest */
  struct throttle *best = &throttles[h % THROTTLE_SLOTS];
  for (int i = 1; i < 16; i++) {
    struct throttle *t = &throttles[(h + (uint32_t)i) % THROTTLE_SLOTS];
    if (t->blocked_until < best->blocked_until)
      best = t;
  }
  memset(best, 0, sizeof *best);
  snprintf(best->key, sizeof best->key, "%s", key);
  return best;
}

/* Seconds until key may try again (0 = now). */
static int throttled(const char *key, int64_t now_ms)
{
  pthread_mutex_lock(&throttle_lock);
  struct throttle *t = throttle_slot(key, now_ms, 0);
  int wait = t && t->blocked_until > now_ms ? (int)((t->blocked_until - now_ms + 999) / 1000) : 0;
  pthread_mutex_unlock(&throttle_lock);
  return wait;
}

static void throttle_fail(const char *key, int free_tries, int64_t now_ms)
{
  pthread_mutex_lock(&throttle_lock);
  struct throttle *t = throttle_slot(key, now_ms, 1);
  if (stale(t, now_ms) && t->failures) {
    t->failures = 0;
    t->blocked_until = 0;
  }
  t->failures++;
  t->last_fail = now_ms;
  if (t->failures >= free_tries) {
    int over = t->failures - free_tries;
    int64_t delay = over >= 20 ? THROTTLE_CAP_MS : 2000LL << over;
    t->blocked_until = now_ms + (delay < THROTTLE_CAP_MS ? delay : THROTTLE_CAP_MS);
  }
  pthread_mutex_unlock(&throttle_lock);
}

static void throttle_clear(const char *key)
{
  pthread_mutex_lock(&throttle_lock);
  struct throttle *t = throttle_slot(key, 0, 0);
  if (t)
    memset(t, 0, sizeof *t);
  pthread_mutex_unlock(&throttle_lock);
}

/* argon2id takes 64 MiB and a good part of a core: at most two at a time. */
static pthread_mutex_t hash_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t hash_cond = PTHREAD_COND_INITIALIZER;
static int hashing;

static int verify_bounded(const char *hash, const char *password)
{
  pthread_mutex_lock(&hash_lock);
  while (hashing >= 2)
    pthread_cond_wait(&hash_cond, &hash_lock);
  hashing++;
  pthread_mutex_unlock(&hash_lock);
  int ok = auth_verify_password(hash, password);
  pthread_mutex_lock(&hash_lock);
  hashing--;
  pthread_cond_signal(&hash_cond);
  pthread_mutex_unlock(&hash_lock);
  return ok;
}

/* A valid argon2id hash of a random password: verifying against it costs what a real
 * verification costs, so unknown user names take as long as wrong passwords. */
static char dummy_hash[crypto_pwhash_STRBYTES];
static pthread_once_t dummy_once = PTHREAD_ONCE_INIT;
static void make_dummy(void)
{
  char pw[33];
  unsigned char raw[16];
  randombytes_buf(raw, sizeof raw);
  sodium_bin2base64(pw, sizeof pw, raw, sizeof raw, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  auth_hash_password(pw, dummy_hash, sizeof dummy_hash);
}

cb_err auth_login(const char *username, const char *password, const char *remote_addr, struct cb_user *user,
                  char *session, size_t cap, int *retry_after)
{
  char ukey[CB_NAME_MAX + 64], akey[64];
  int64_t now_ms = cb_time_now_ms();
  /* an IPv6 client is its /64: one host has that many addresses to try from */
  char client[64];
  unsigned char a[16];
  snprintf(client, sizeof client, "%s", remote_addr ? remote_addr : "");
  static const unsigned char v4mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (remote_addr && !cb_addr_parse(remote_addr, a)) {
    if (memcmp(a, v4mapped, sizeof v4mapped)) /* IPv6 proper */
      memset(a + 8, 0, 8);
    cb_addr_text(a, client, sizeof client);
    if (memcmp(a, v4mapped, sizeof v4mapped))
      strncat(client, "/64", sizeof client - strlen(client) - 1);
  }
  snprintf(ukey, sizeof ukey, "u:%.200s\n%.50s", username, client);
  for (char *p = ukey; *p; p++)
    if (*p >= 'A' && *p <= 'Z')
      *p = (char)(*p - 'A' + 'a'); /* user names are case-insensitive */
  snprintf(akey, sizeof akey, "a:%s", client);
  int wait = throttled(ukey, now_ms);
  int wait2 = throttled(akey, now_ms);
  if (wait2 > wait)
    wait = wait2;
  if (wait) {
    *retry_after = wait;
    return CB_ETHROTTLED;
  }
  pthread_once(&dummy_once, make_dummy);
  cb_err e = strlen(username) < CB_NAME_MAX ? db_user_get_by_name(username, user) : CB_ENOTFOUND;
  if (e && e != CB_ENOTFOUND)
    return e;
  int ok = verify_bounded(e ? dummy_hash : user->password_hash, password) && !e;
  sodium_memzero(user->password_hash, sizeof user->password_hash);
  now_ms = cb_time_now_ms(); /* a wait counts from the answer, not from before the hashing */
  if (!ok) {
    throttle_fail(ukey, THROTTLE_FREE_USER_ADDR, now_ms);
    throttle_fail(akey, THROTTLE_FREE_ADDR, now_ms);
    return CB_EAUTH;
  }
  throttle_clear(ukey);
  if (user->disabled)
    return CB_EFORBIDDEN; /* the right password, told only to whoever knows it */
  char hash[CB_SHA256_HEX], expires[CB_TIME_MAX];
  if ((e = new_secret("", 32, session, cap)))
    return e;
  secret_hash(session, hash);
  now_plus_days(CB_SESSION_DAYS, expires);
  return db_session_create(hash, user->id, expires);
}

cb_err auth_logout(const char *cookie)
{
  char secret[CB_SECRET_MAX + 1], hash[CB_SHA256_HEX];
  if (!cookie || auth_session_from_cookie(cookie, secret, sizeof secret))
    return CB_OK;
  secret_hash(secret, hash);
  sodium_memzero(secret, sizeof secret);
  return db_session_delete(hash);
}

cb_err auth_token_create(const struct cb_identity *who, const char *name, int expires_in_days, const char *scope,
                         struct cb_token *out, char *token, size_t cap)
{
  char hash[CB_SHA256_HEX];
  memset(out, 0, sizeof *out);
  cb_err e = cb_id_new(out->id);
  if (!e)
    e = new_secret(CB_TOKEN_PREFIX, 32, token, cap);
  if (e)
    return e;
  memcpy(out->user_id, who->user_id, sizeof out->user_id);
  snprintf(out->name, sizeof out->name, "%s", name);
  snprintf(out->scope, sizeof out->scope, "%s", scope);
  cb_time_now_rfc3339(out->created_at, sizeof out->created_at);
  if (expires_in_days > 0)
    now_plus_days(expires_in_days, out->expires_at);
  secret_hash(token, hash);
  return db_token_create(out, hash);
}

cb_err auth_link_create(const struct cb_identity *who, const char *object_type, const char *object_id,
                        const char *expires_at, struct cb_link *out, char *token, size_t cap)
{
  char hash[CB_SHA256_HEX];
  memset(out, 0, sizeof *out);
  cb_err e = cb_id_new(out->id);
  if (!e)
    e = new_secret("", 24, token, cap);
  if (e)
    return e;
  snprintf(out->object_type, sizeof out->object_type, "%s", object_type);
  snprintf(out->object_id, sizeof out->object_id, "%s", object_id);
  memcpy(out->created_by, who->user_id, sizeof out->created_by);
  snprintf(out->created_by_name, sizeof out->created_by_name, "%s", who->username);
  out->lapsed = 0;
  cb_time_now_rfc3339(out->created_at, sizeof out->created_at);
  snprintf(out->expires_at, sizeof out->expires_at, "%s", expires_at ? expires_at : "");
  secret_hash(token, hash);
  return db_link_create(out, hash);
}

/* -------------------------------------------------------------- access */

cb_err auth_role(const struct cb_identity *who, const char *object_type, const char *object_id, enum cb_role *role)
{
  struct cb_standing st;
  *role = CB_ROLE_NONE;
  if (!cb_id_valid(object_id))
    return CB_ENOTFOUND;
  cb_err e = db_standing(who->user_id[0] ? who->user_id : NULL, who->via == CB_VIA_LINK ? who->link_object : NULL,
                         object_type, object_id, &st);
  if (e)
    return e;
  int r = st.role;
  if (who->is_admin && who->user_id[0])
    r = CB_ROLE_OWNER;
  if (st.is_public && r < CB_ROLE_VIEWER)
    r = CB_ROLE_VIEWER;
  if (who->via == CB_VIA_LINK && st.in_link && r < CB_ROLE_VIEWER)
    r = CB_ROLE_VIEWER;
  if (who->read_only && r > CB_ROLE_VIEWER)
    r = CB_ROLE_VIEWER;
  *role = (enum cb_role)r;
  return r ? CB_OK : CB_ENOTFOUND;
}

static int collect_lapsed(const struct cb_delegation *d, void *ctx)
{
  return cb_vec_push(ctx, d);
}

cb_err auth_delegations_refresh(void)
{
  cb_err e = db_begin();
  if (e)
    return e;
  /* the least fixpoint: every delegated grant and link lapses, then each whose creator
   * may share its object through what is already standing comes back, until none does;
   * rights that only hold each other up (A's grant from B, B's from A) stay lapsed */
  e = db_delegations_lapse_all_tx();
  for (int changed = 1; !e && changed;) {
    changed = 0;
    struct cb_vec l = {.elem = sizeof(struct cb_delegation)};
    e = db_delegations_lapsed(collect_lapsed, &l);
    const struct cb_delegation *d = l.items;
    for (size_t i = 0; !e && i < l.n; i++) {
      struct cb_identity who = {0};
      snprintf(who.user_id, sizeof who.user_id, "%s", d[i].created_by);
      who.is_admin = d[i].creator_is_admin;
      who.via = CB_VIA_TOKEN;
      enum cb_role role;
      if (!auth_role(&who, d[i].object_type, d[i].object_id, &role) && role >= CB_ROLE_EDITOR) {
        e = db_delegation_restore_tx(d[i].table, d[i].id);
        changed = 1;
      }
    }
    free(l.items);
  }
  if (!e)
    e = db_commit();
  if (e) {
    db_rollback();
    CB_LOG(CB_LOG_ERROR, "auth", "cannot recompute delegated grants and links: %s", cb_strerror(e));
  }
  return e;
}

cb_err auth_check(const struct cb_identity *who, const char *object_type, const char *object_id, enum cb_access need)
{
  enum cb_role role;
  cb_err e = auth_role(who, object_type, object_id, &role);
  if (e)
    return e;
  if ((need == CB_READ && role >= CB_ROLE_VIEWER) || (need >= CB_WRITE && role >= CB_ROLE_EDITOR))
    return CB_OK;
  return CB_EFORBIDDEN;
}

void auth_audit(const struct cb_identity *who, const char *action, const char *object_type, const char *object_id,
                const char *detail, const char *remote_addr)
{
  cb_err e = db_audit_add(who ? who->user_id : NULL, action, object_type, object_id, detail, remote_addr);
  if (e)
    CB_LOG(CB_LOG_ERROR, "auth", "audit entry '%s' could not be written: %s", action, cb_strerror(e));
}
