/* Users, password hashing, the caller's identity and the access check.
 *
 * Every request's identity comes from auth_identify() (called in exactly one place, the
 * HTTP dispatcher); every object an endpoint touches passes through auth_can(). Until
 * accounts and sharing land, every request acts as the first admin and the check is
 * "owner or admin". */
#ifndef CB_AUTH_H
#define CB_AUTH_H
#include "db/db.h"
#include "util/err.h"

struct cb_identity {
  char user_id[CB_ID_LEN + 1]; /* "" for anonymous */
  char username[CB_NAME_MAX];
  int is_admin;
};

enum cb_access { CB_READ = 1, CB_WRITE = 2, CB_MANAGE = 3 };

cb_err auth_init(void);
/* argon2id (libsodium crypto_pwhash_str). out must hold 128 bytes. */
cb_err auth_hash_password(const char *password, char *out, size_t cap);
int auth_verify_password(const char *hash, const char *password);

/* Creates a user. CB_EEXIST when the name is taken; eb says what is wrong with a name or
 * password that is not acceptable. */
cb_err auth_user_add(const char *username, const char *password, int is_admin,
                     struct cb_user *out, struct cb_errbuf *eb);
/* First start: creates "admin" when there is no admin yet. With no password given, a
 * random one is generated and written to generated (cap >= 33) for printing once. */
cb_err auth_ensure_admin(const char *password, int *created, char *generated, size_t cap,
                         struct cb_errbuf *eb);

/* The caller behind a request, from its Authorization and Cookie headers (may be NULL). */
cb_err auth_identify(const char *authorization, const char *cookie, struct cb_identity *who);

/* The one access check: may who do `need` to an object owned by owner_id? */
int auth_can(const struct cb_identity *who, const char *owner_id, enum cb_access need);

#endif
