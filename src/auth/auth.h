/* Users, groups, password hashing, sessions, API tokens, share links, the caller's
 * identity and the one access check.
 *
 * Identity: auth_identify() (called in exactly one place, the HTTP dispatcher) turns the
 * request's credentials into a struct cb_identity: a session cookie, an API token
 * (Authorization: Bearer), or nothing (anonymous). A share link yields a link identity
 * (auth_link_identity) that can read the linked object and what lies below it.
 *
 * Access: auth_role() is the one function that decides what a caller may do with a
 * folder or file. Its rules, in order:
 *   admin -> owner of everything;
 *   the object's owner, or the owner of any folder above it -> owner (3);
 *   a grant on the object or a folder above it, to the user or one of their groups
 *     -> editor (2) or viewer (1), the best one counting;
 *   the object or a folder above it is public -> at least viewer;
 *   a link identity whose object is this one or a folder above it -> viewer;
 *   a read-scoped token or a link never gets more than viewer.
 * Role 0 means the caller may not see the object at all: callers answer 404. */
#ifndef CB_AUTH_H
#define CB_AUTH_H
#include "db/db.h"
#include "util/err.h"

enum cb_via { CB_VIA_NONE = 0, CB_VIA_SESSION, CB_VIA_TOKEN, CB_VIA_LINK };

struct cb_identity {
  char user_id[CB_ID_LEN + 1]; /* "" for anonymous and link holders */
  char username[CB_NAME_MAX];
  int is_admin;
  enum cb_via via;
  int read_only;                   /* read-scoped token, or a link */
  char link_type[8];               /* via link: "folder" or "file" */
  char link_object[CB_ID_LEN + 1]; /* via link: the shared object */
};

enum cb_role { CB_ROLE_NONE = 0, CB_ROLE_VIEWER = 1, CB_ROLE_EDITOR = 2, CB_ROLE_OWNER = 3 };
enum cb_access { CB_READ = 1, CB_WRITE = 2, CB_MANAGE = 2 };

#define CB_SESSION_COOKIE "carboy_session"
#define CB_SESSION_DAYS 7
#define CB_TOKEN_PREFIX "cbt_"
#define CB_SECRET_MAX 64 /* plaintext secrets (tokens, session ids) fit in this */

cb_err auth_init(void);
/* argon2id (libsodium crypto_pwhash_str). out must hold 128 bytes. */
cb_err auth_hash_password(const char *password, char *out, size_t cap);
int auth_verify_password(const char *hash, const char *password);

cb_err auth_user_add(const char *username, const char *password, int is_admin, struct cb_user *out,
                     struct cb_errbuf *eb);
/* Sets a user's password (same rules as auth_user_add) and ends their sessions; API
 * tokens stay. CB_ENOTFOUND when there is no such user. *ended may be NULL. */
cb_err auth_user_set_password(const char *username, const char *password, struct cb_user *out, int *ended,
                              struct cb_errbuf *eb);
/* Account control (admin API and CLI). disabled, is_admin: 0, 1, or -1 to leave as it is;
 * password: NULL to leave. Disabling ends the account's sessions (its tokens are
 * suspended while it is disabled: sessions and tokens of a disabled account never act);
 * a new password ends its sessions. The last active administrator cannot be disabled or
 * demoted (CB_ECONFLICT). CB_ENOTFOUND: no such account; CB_EINVAL: a bad password. */
struct cb_account_change {
  struct cb_user user; /* as it is now */
  int sessions_ended;
};
cb_err auth_account_set(const char *user_id, int disabled, int is_admin, const char *password,
                        struct cb_account_change *out, struct cb_errbuf *eb);
/* Deletes an account (db_user_delete); heir_id (may be NULL) takes what it owns.
 * CB_ECONFLICT: it owns something and no heir was named, or it is the last admin. */
cb_err auth_account_delete(const char *user_id, const char *heir_id, struct cb_errbuf *eb);
/* Ends an account's sessions, and (tokens_too) revokes its API tokens. */
cb_err auth_account_end_sessions(const char *user_id, int tokens_too, int *sessions, int *tokens);
cb_err auth_ensure_admin(const char *password, int *created, char *generated, size_t cap, struct cb_errbuf *eb);

/* The caller behind a request, from its Authorization and Cookie headers (either NULL).
 * CB_EAUTH when a bearer token is given but is not valid (unknown, expired, revoked);
 * an unknown or expired session cookie is treated as no cookie. */
cb_err auth_identify(const char *authorization, const char *cookie, struct cb_identity *who);
/* A share link's token -> a read-only identity for the linked object (CB_ENOTFOUND). */
cb_err auth_link_identity(const char *token, struct cb_identity *who);

/* Password login, throttled per (user name, client address) and per client address with
 * growing delays (never per user name alone). On success a new
 * session secret is written to session (cap >= CB_SECRET_MAX). CB_EAUTH on bad
 * credentials, CB_EFORBIDDEN for a disabled account (the right password), CB_ETHROTTLED
 * (retry_after seconds) when throttled. */
cb_err auth_login(const char *username, const char *password, const char *remote_addr, struct cb_user *user,
                  char *session, size_t cap, int *retry_after);
cb_err auth_logout(const char *cookie);
/* Writes the session secret carried by a Cookie header into out; 0 when found. */
int auth_session_from_cookie(const char *cookie, char *out, size_t cap);

/* Creates an API token; the plaintext goes to token (cap >= CB_SECRET_MAX) once. */
cb_err auth_token_create(const struct cb_identity *who, const char *name, int expires_in_days, const char *scope,
                         struct cb_token *out, char *token, size_t cap);
/* A share link for an object; the plaintext token goes to token once. */
cb_err auth_link_create(const struct cb_identity *who, const char *object_type, const char *object_id,
                        const char *expires_at, struct cb_link *out, char *token, size_t cap);

/* The one access check (see the rules above). CB_ENOTFOUND when the object does not
 * exist or role would be 0. */
cb_err auth_role(const struct cb_identity *who, const char *object_type, const char *object_id, enum cb_role *role);
/* auth_role + the role needed for `need`: CB_OK, CB_ENOTFOUND (may not see it) or
 * CB_EFORBIDDEN (may see it, may not do that). */
cb_err auth_check(const struct cb_identity *who, const char *object_type, const char *object_id, enum cb_access need);

/* Delegation: a grant or share link is only as good as its creator's current right to
 * share the object (editor or owner role, or an administrator). Recomputes every grant's
 * and link's standing; call it after anything that can give or take such a right (a grant
 * made or removed, a group membership changed, a move, an account changed). */
cb_err auth_delegations_refresh(void);

/* Appends to the audit log; never fails the caller's operation. */
void auth_audit(const struct cb_identity *who, const char *action, const char *object_type, const char *object_id,
                const char *detail, const char *remote_addr);

#endif
