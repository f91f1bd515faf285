/* The database layer: every SQL statement of the program lives in src/db/, behind the
 * named functions below, so a second backend can be added without touching handlers.
 *
 * Connections: one per thread, opened lazily on first use (db_thread_close() ends it);
 * WAL mode, busy_timeout, foreign keys on. Prepared statements are cached per thread.
 * Strings in the structs below are copies owned by the struct (fixed-size arrays), except
 * where a field is a char * (then free it with the matching _clear function). */
#ifndef CB_DB_H
#define CB_DB_H
#include <stdint.h>

#include "util/err.h"
#include "util/util.h"

#define CB_NAME_MAX 256
#define CB_TIME_MAX 32

/* Opens (creating if needed) the database at path and applies pending migrations.
 * On failure, eb says why. Must be called once before any other function. */
cb_err db_init(const char *path, struct cb_errbuf *eb);
void db_thread_close(void);
void db_shutdown(void);
/* A trivial query, for /readyz. */
cb_err db_ping(void);
int db_schema_version(void);

cb_err db_begin(void);   /* BEGIN IMMEDIATE */
cb_err db_commit(void);
void db_rollback(void);

/* ---- users ---- */
struct cb_user {
  char id[CB_ID_LEN + 1];
  char username[CB_NAME_MAX];
  char password_hash[160];
  int is_admin;
  char created_at[CB_TIME_MAX];
};
cb_err db_user_create(const struct cb_user *u); /* CB_EEXIST on a taken username */
cb_err db_user_get(const char *id, struct cb_user *out);
cb_err db_user_get_by_name(const char *username, struct cb_user *out);
cb_err db_user_first_admin(struct cb_user *out);
cb_err db_user_set_password(const char *id, const char *password_hash);

/* ---- folders ---- */
struct cb_folder {
  char id[CB_ID_LEN + 1];
  char name[CB_NAME_MAX];
  char parent_id[CB_ID_LEN + 1]; /* "" at top level */
  char owner_id[CB_ID_LEN + 1];
  char owner_name[CB_NAME_MAX];
  char visibility[16];
  char created_at[CB_TIME_MAX];
  char updated_at[CB_TIME_MAX];
};
typedef int (*db_folder_cb)(const struct cb_folder *f, void *ctx); /* non-zero stops */

cb_err db_folder_insert(const struct cb_folder *f); /* CB_EEXIST on a sibling name */
cb_err db_folder_get(const char *id, struct cb_folder *out); /* live folders only */
/* Children of parent_id (or the owner's top-level folders when parent_id is NULL),
 * by name, after after_name (exclusive; NULL from the start), at most limit rows. */
cb_err db_folder_children(const char *parent_id, const char *owner_id, const char *after_name,
                          int limit, db_folder_cb cb, void *ctx);
/* Root-first chain of ancestors including id itself. */
cb_err db_folder_path(const char *id, db_folder_cb cb, void *ctx);
/* True (1) when candidate is folder_id itself or lies below it. */
int db_folder_within(const char *candidate, const char *folder_id);
/* Rename and/or move; new_parent "" means top level. CB_EEXIST on a name clash. */
cb_err db_folder_update(const char *id, const char *name, const char *new_parent, int move);
/* Soft-deletes the folder and everything below it. */
cb_err db_folder_delete(const char *id);

/* ---- files ---- */
struct cb_file {
  char id[CB_ID_LEN + 1];
  char folder_id[CB_ID_LEN + 1];
  char name[CB_NAME_MAX];
  char owner_id[CB_ID_LEN + 1];
  int64_t version;
  char kind[16];
  char media_type[128];
  char status[16];
  char error[512];
  char visibility[16];
  char sha256[65];
  int64_t size;
  char created_at[CB_TIME_MAX];
  char updated_at[CB_TIME_MAX];
  char *metadata; /* JSON text or NULL; free with db_file_clear */
};
void db_file_clear(struct cb_file *f);
typedef int (*db_file_cb)(const struct cb_file *f, void *ctx);

struct cb_version {
  int64_t version;
  char sha256[65];
  int64_t size;
  char media_type[128];
  char created_at[CB_TIME_MAX];
};
typedef int (*db_version_cb)(const struct cb_version *v, void *ctx);

cb_err db_file_get(const char *id, struct cb_file *out);
cb_err db_file_list(const char *folder_id, const char *after_name, int limit, db_file_cb cb,
                    void *ctx);
cb_err db_file_versions(const char *file_id, db_version_cb cb, void *ctx);
cb_err db_file_version(const char *file_id, int64_t version, struct cb_version *out);
/* Records content already committed to the store: a new file named name in folder_id,
 * or, when a live file has that name, its next version. out gets the file as stored. */
cb_err db_file_put(const char *folder_id, const char *name, const char *owner_id,
                   const char *sha256, int64_t size, const char *media_type, const char *kind,
                   struct cb_file *out);
/* Rename and/or move (NULL leaves a field as it is). CB_EEXIST on a name clash. */
cb_err db_file_update(const char *id, const char *name, const char *folder_id);
cb_err db_file_set_metadata(const char *id, const char *metadata_json);
cb_err db_file_delete(const char *id);

/* ---- properties ---- */
struct cb_property {
  const char *name;
  const char *value_text; /* set for text values */
  double value_num;       /* used when is_num */
  int is_num;
  const char *unit; /* may be NULL */
  const char *iri;  /* may be NULL */
  const char *source;
};
typedef int (*db_property_cb)(const struct cb_property *p, void *ctx);
/* Replaces the file's properties of the given source with props[0..n). */
cb_err db_properties_replace(const char *file_id, const char *source,
                             const struct cb_property *props, int n);
cb_err db_properties_list(const char *file_id, db_property_cb cb, void *ctx);

/* Every live file below folder_id (recursively) with its path relative to it. */
typedef int (*db_tree_cb)(const char *relpath, const struct cb_file *f, void *ctx);
cb_err db_folder_tree_files(const char *folder_id, db_tree_cb cb, void *ctx);

/* ---- blobs ---- */
cb_err db_blob_totals(int64_t *count, int64_t *bytes);
int db_blob_known(const char *sha256);

/* ---- tus uploads ---- */
struct cb_upload {
  char id[CB_ID_LEN + 1];
  char owner_id[CB_ID_LEN + 1];
  char folder_id[CB_ID_LEN + 1];
  char filename[CB_NAME_MAX];
  int64_t length;
  int64_t offset;
  char file_id[CB_ID_LEN + 1]; /* "" until complete */
  char created_at[CB_TIME_MAX];
  char expires_at[CB_TIME_MAX];
};
cb_err db_upload_insert(const struct cb_upload *u);
cb_err db_upload_get(const char *id, struct cb_upload *out);
cb_err db_upload_set_offset(const char *id, int64_t offset, const char *expires_at);
cb_err db_upload_set_file(const char *id, const char *file_id);
cb_err db_upload_delete(const char *id);
/* Uploads whose expiry is before now_rfc3339 (at most limit). */
typedef int (*db_upload_cb)(const struct cb_upload *u, void *ctx);
cb_err db_upload_expired(const char *now_rfc3339, int limit, db_upload_cb cb, void *ctx);

#endif
