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
/* From now on every statement running or started on any connection stops with an error
 * (SQLite's progress handler): for a shutdown whose grace period is over, so a long query
 * cannot keep the process alive. */
void db_interrupt_all(void);
/* A trivial query, for /readyz. */
cb_err db_ping(void);
int db_schema_version(void);

cb_err db_begin(void); /* BEGIN IMMEDIATE */
cb_err db_commit(void);
void db_rollback(void);

/* ---- users ---- */
struct cb_user {
  char id[CB_ID_LEN + 1];
  char username[CB_NAME_MAX];
  char password_hash[160];
  int is_admin;
  char created_at[CB_TIME_MAX];
  int disabled; /* signs in to nothing; its sessions and tokens do not act */
};
/* Deleted accounts are invisible to every user query (by id, by name, lists). */
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

cb_err db_folder_insert(const struct cb_folder *f);          /* CB_EEXIST on a sibling name */
cb_err db_folder_get(const char *id, struct cb_folder *out); /* live folders only */
/* Children of parent_id (or the owner's top-level folders when parent_id is NULL),
 * by name, after after_name (exclusive; NULL from the start), at most limit rows. */
cb_err db_folder_children(const char *parent_id, const char *owner_id, const char *after_name, int limit,
                          db_folder_cb cb, void *ctx);
/* The live folder named name in parent_id, or among owner_id's top-level folders when
 * parent_id is "". */
cb_err db_folder_find(const char *parent_id, const char *owner_id, const char *name, struct cb_folder *out);
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
  char created_by[CB_ID_LEN + 1]; /* who stored it ("" when unknown) */
  char created_by_name[CB_NAME_MAX];
};
typedef int (*db_version_cb)(const struct cb_version *v, void *ctx);

cb_err db_file_get(const char *id, struct cb_file *out);
cb_err db_file_list(const char *folder_id, const char *after_name, int limit, db_file_cb cb, void *ctx);
cb_err db_file_versions(const char *file_id, db_version_cb cb, void *ctx);
cb_err db_file_version(const char *file_id, int64_t version, struct cb_version *out);
/* Records content already committed to the store: a new file named name in folder_id,
 * or, when a live file has that name, its next version. out gets the file as stored. */
cb_err db_file_put(const char *folder_id, const char *name, const char *owner_id, const char *sha256, int64_t size,
                   const char *media_type, const char *kind, struct cb_file *out);
/* Restores an earlier version: a new version of the live file file_id whose content is
 * version's (the same blob, no bytes copied), processed again as an upload is (its ingest
 * job queued with it), recorded as stored by `by`. media_type and kind: as an upload of
 * the file's name would be recorded. CB_ENOTFOUND: no such live file or version. */
cb_err db_file_version_restore(const char *file_id, int64_t version, const char *by, const char *media_type,
                               const char *kind, struct cb_file *out);
/* The live file named name in folder_id: its id and its current version's sha256. */
cb_err db_file_find(const char *folder_id, const char *name, char id[CB_ID_LEN + 1], char sha256[65]);
/* Rename and/or move (NULL leaves a field as it is). CB_EEXIST on a name clash. */
cb_err db_file_update(const char *id, const char *name, const char *folder_id);
cb_err db_file_set_metadata(const char *id, const char *metadata_json);
cb_err db_file_delete(const char *id);

/* ---- the trash (trash.c) ---- */
struct cb_trash_item {
  char type[8]; /* "file" or "folder" */
  char id[CB_ID_LEN + 1];
  char name[CB_NAME_MAX];
  char folder_id[CB_ID_LEN + 1]; /* where it was: a file's folder, a folder's parent ("" at the top) */
  char owner_id[CB_ID_LEN + 1];
  char owner_name[CB_NAME_MAX];
  char deleted_at[CB_TIME_MAX];
  char purge_at[CB_TIME_MAX]; /* deleted_at + days */
  int64_t size;               /* a file's current version's */
};
typedef int (*db_trash_cb)(const struct cb_trash_item *t, void *ctx);
/* Deleted files and folders still restorable (deleted after since), of owner_id (NULL:
 * everyone's), newest deletion first, after (after_at, after_id) when after_at is not
 * NULL. What was deleted together with the folder it was in is not listed: it comes back
 * with that folder. days: to tell each item's purge_at. */
cb_err db_trash_list(const char *owner_id, const char *since, int days, const char *after_at, const char *after_id,
                     int limit, db_trash_cb cb, void *ctx);
/* One deleted object (type "file" or "folder", deleted after since) as db_trash_list
 * lists items, also when it was deleted with the folder it was in; CB_ENOTFOUND when it
 * is not in the trash. */
cb_err db_trash_get(const char *type, const char *id, const char *since, int days, struct cb_trash_item *out);
/* Takes a file, or a folder with everything deleted together with it (the same
 * deleted_at), out of the trash. CB_ECONFLICT: the folder it was in is deleted (its name
 * to parent_name); CB_EEXIST: its name is taken there by a live one; CB_ENOTFOUND: it is
 * no longer deleted at deleted_at. *requeued: files deleted by an older carboy (without
 * their search rows) whose ingest was queued again to write them. */
cb_err db_trash_restore(const char *type, const char *id, const char *deleted_at, char parent_name[CB_NAME_MAX],
                        int *requeued);
/* Removes for good what was deleted before `before`: files, then folders left empty,
 * in short transactions, then the blobs rows nothing references any more (their bytes
 * are then orphans the sweep removes). Counts of each go to the out parameters. */
cb_err db_trash_purge(const char *before, int64_t *files, int64_t *folders, int64_t *blobs);

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
cb_err db_properties_replace(const char *file_id, const char *source, const struct cb_property *props, int n);
cb_err db_properties_list(const char *file_id, db_property_cb cb, void *ctx);

/* Every live file below folder_id (recursively) with its path relative to it. */
typedef int (*db_tree_cb)(const char *relpath, const struct cb_file *f, void *ctx);
cb_err db_folder_tree_files(const char *folder_id, db_tree_cb cb, void *ctx);

/* ---- blobs ---- */
cb_err db_blob_totals(int64_t *count, int64_t *bytes);
int db_blob_known(const char *sha256);
/* Like db_blob_known, but a database that does not answer is an error, not "unknown". */
cb_err db_blob_lookup(const char *sha256, int *known);

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

/* ---- accounts and sharing (accounts.c) ---- */
typedef int (*db_user_cb)(const struct cb_user *u, void *ctx);
cb_err db_user_list(const char *after_name, int limit, db_user_cb cb, void *ctx);

struct cb_group {
  char id[CB_ID_LEN + 1];
  char name[CB_NAME_MAX];
  char created_at[CB_TIME_MAX];
};
typedef int (*db_group_cb)(const struct cb_group *g, void *ctx);
cb_err db_group_create(const struct cb_group *g); /* CB_EEXIST on a taken name */
cb_err db_group_get(const char *id, struct cb_group *out);
cb_err db_group_get_by_name(const char *name, struct cb_group *out);
cb_err db_group_list(db_group_cb cb, void *ctx);
cb_err db_group_add_member(const char *group_id, const char *user_id);    /* CB_EEXIST if a member */
cb_err db_group_remove_member(const char *group_id, const char *user_id); /* CB_ENOTFOUND */
cb_err db_group_members(const char *group_id, db_user_cb cb, void *ctx);

/* Sessions and API tokens are looked up by the sha256 (hex) of the secret. */
cb_err db_session_create(const char *token_hash, const char *user_id, const char *expires_at);
cb_err db_session_user(const char *token_hash, const char *now, struct cb_user *out);
cb_err db_session_delete(const char *token_hash);

/* Account control. set_disabled/set_admin: CB_ENOTFOUND for no such (live) account. */
cb_err db_user_set_disabled(const char *id, int disabled);
cb_err db_user_set_admin(const char *id, int is_admin);
cb_err db_user_active_admins(int64_t *n);
cb_err db_user_tokens_revoke_all(const char *user_id, int *revoked);
/* Live folders and files the account owns. */
cb_err db_user_owned(const char *id, int64_t *folders, int64_t *files);
/* Deletes an account (schemas/sql/0010_security.sql says what goes): what it owns goes to
 * heir (a user id), or, without one, CB_ECONFLICT when it owns anything live. One
 * transaction. */
cb_err db_user_delete(const char *id, const char *heir);
/* Ends every session of a user (a password reset); *ended gets how many (may be NULL). */
cb_err db_user_sessions_delete(const char *user_id, int *ended);

struct cb_token {
  char id[CB_ID_LEN + 1];
  char user_id[CB_ID_LEN + 1];
  char name[CB_NAME_MAX];
  char scope[8];
  char created_at[CB_TIME_MAX];
  char expires_at[CB_TIME_MAX]; /* "" = never */
  char last_used_at[CB_TIME_MAX];
};
typedef int (*db_token_cb)(const struct cb_token *t, void *ctx);
cb_err db_token_create(const struct cb_token *t, const char *token_hash);
/* A live (unrevoked, unexpired) token and its user. */
cb_err db_token_lookup(const char *token_hash, const char *now, struct cb_token *t, struct cb_user *u);
cb_err db_token_touch(const char *id, const char *now);
cb_err db_token_list(const char *user_id, db_token_cb cb, void *ctx);
cb_err db_token_revoke(const char *user_id, const char *id, const char *now); /* CB_ENOTFOUND */

/* object_type is "folder" or "file". */
struct cb_grant {
  char id[CB_ID_LEN + 1];
  char object_type[8];
  char object_id[CB_ID_LEN + 1];
  char user_id[CB_ID_LEN + 1];  /* "" for a group grant */
  char group_id[CB_ID_LEN + 1]; /* "" for a user grant */
  char role[8];
  char created_at[CB_TIME_MAX];
  char created_by[CB_ID_LEN + 1]; /* who made it (lists show it) */
  char created_by_name[CB_NAME_MAX];
  int lapsed; /* its creator may no longer share the object */
};
typedef int (*db_grant_cb)(const struct cb_grant *g, void *ctx);
cb_err db_grant_create(const struct cb_grant *g, const char *created_by);
cb_err db_grant_list(const char *object_type, const char *object_id, db_grant_cb cb, void *ctx);
cb_err db_grant_delete(const char *object_type, const char *object_id, const char *grant_id);
cb_err db_set_visibility(const char *object_type, const char *object_id, const char *visibility);

struct cb_link {
  char id[CB_ID_LEN + 1];
  char object_type[8];
  char object_id[CB_ID_LEN + 1];
  char created_by[CB_ID_LEN + 1];
  char created_at[CB_TIME_MAX];
  char expires_at[CB_TIME_MAX]; /* "" = never */
  int lapsed;                   /* its creator may no longer share the object */
  char created_by_name[CB_NAME_MAX];
};
typedef int (*db_link_cb)(const struct cb_link *l, void *ctx);
cb_err db_link_create(const struct cb_link *l, const char *token_hash);
cb_err db_link_lookup(const char *token_hash, const char *now, struct cb_link *out);
cb_err db_link_get(const char *id, struct cb_link *out); /* live (unrevoked) links */
cb_err db_link_list(const char *object_type, const char *object_id, db_link_cb cb, void *ctx);
cb_err db_link_revoke(const char *id, const char *now);

/* Delegation (schemas/sql/0010_delegation.sql), for auth_delegations_refresh(), inside
 * its transaction: mark every grant and live link lapsed; visit the lapsed ones; restore
 * one. */
struct cb_delegation {
  char table[8]; /* "grants" or "links" */
  char id[CB_ID_LEN + 1];
  char object_type[8];
  char object_id[CB_ID_LEN + 1];
  char created_by[CB_ID_LEN + 1];
  int creator_is_admin;
};
typedef int (*db_delegation_cb)(const struct cb_delegation *d, void *ctx);
cb_err db_delegations_lapse_all_tx(void);
cb_err db_delegations_lapsed(db_delegation_cb cb, void *ctx);
cb_err db_delegation_restore_tx(const char *table, const char *id);

/* The caller's standing on an object, computed over the object and its folder chain:
 * role 3 = owner, 2 = editor (grant), 1 = viewer (grant), 0 = none; is_public when the
 * object or an ancestor folder is public; in_link when link_object_id (may be NULL) is
 * the object or an ancestor folder. user_id may be NULL (anonymous). CB_ENOTFOUND when
 * the object does not exist (or is deleted). */
struct cb_standing {
  int role;
  int is_public;
  int in_link;
};
cb_err db_standing(const char *user_id, const char *link_object_id, const char *object_type, const char *object_id,
                   struct cb_standing *out);
/* Top-level folders of the user, and folders granted to the user or their groups
 * directly, by (name, id) after the cursor (NULL for the start). */
cb_err db_folder_roots(const char *user_id, const char *after_name, const char *after_id, int limit, db_folder_cb cb,
                       void *ctx);
/* Files granted directly to the user or their groups (not through a folder). */
cb_err db_files_shared(const char *user_id, int limit, db_file_cb cb, void *ctx);

/* ---- audit ---- */
struct cb_audit {
  int64_t id;
  char at[CB_TIME_MAX];
  char user_id[CB_ID_LEN + 1];
  char action[32];
  char object_type[16];
  char object_id[CB_ID_LEN + 1];
  char detail[512];
  char remote_addr[48];
};
typedef int (*db_audit_cb)(const struct cb_audit *a, void *ctx);
cb_err db_audit_add(const char *user_id, const char *action, const char *object_type, const char *object_id,
                    const char *detail, const char *remote_addr);
/* Newest first, before_id exclusive (0: from the newest). */
cb_err db_audit_list(int64_t before_id, int limit, db_audit_cb cb, void *ctx);

/* ---- jobs (jobs.c); the queue's design is described in src/jobs/queue.c ---- */
struct cb_job {
  char id[CB_ID_LEN + 1];
  char type[16];
  char state[12];
  char owner_id[CB_ID_LEN + 1];
  char *inputs;  /* JSON array text; free with db_job_clear */
  char *params;  /* JSON object text */
  char *outputs; /* JSON array text */
  char *result;  /* JSON text of what the job found or made (unpack's summary), or NULL */
  char output_folder_id[CB_ID_LEN + 1];
  double progress;
  int attempts;
  int max_attempts;
  char error[512];
  int cancel_requested;
  char run_after[CB_TIME_MAX];
  char created_at[CB_TIME_MAX];
  char started_at[CB_TIME_MAX];
  char finished_at[CB_TIME_MAX];
  char updated_at[CB_TIME_MAX];
  char lane[12]; /* "interactive" or "batch" (anything else is stored as batch) */
};
void db_job_clear(struct cb_job *j);
typedef int (*db_job_cb)(const struct cb_job *j, void *ctx);

/* Inserts a queued job (id, type, owner_id, inputs, params, output_folder_id,
 * max_attempts taken from j) and its job_files rows for the input ids. */
cb_err db_job_create(const struct cb_job *j, const char *const *input_ids, int ninputs);
/* The same, unless a job of j's type with the same inputs and params (the same text) is
 * queued or running: then nothing is queued and joined holds that job's id (else ""). One
 * transaction, so concurrent callers queue one job between them. */
cb_err db_job_create_once(const struct cb_job *j, const char *const *input_ids, int ninputs,
                          char joined[CB_ID_LEN + 1]);
/* The jobs this thread created in committed transactions since it last asked (an upload's
 * ingest, a conversion's): *ids (free() it) and their count. jobs_wake() announces them. */
int db_jobs_created(char (**ids)[CB_ID_LEN + 1]);
cb_err db_job_get(const char *id, struct cb_job *out);
/* Newest first; owner_id NULL lists every job; state NULL any state; before_id is the
 * cursor (exclusive; NULL from the newest); hidden_types NULL, or a JSON array of types
 * left out. */
cb_err db_job_list(const char *owner_id, const char *state, const char *before_created, const char *before_id,
                   const char *hidden_types, int limit, db_job_cb cb, void *ctx);
/* Claims the next due queued job of lane ("interactive" or "batch") for instance, with a
 * lease until lease_until: the oldest due job of the owner the lane served least recently
 * (never first), recorded as that owner's turn in the same transaction. CB_ENOTFOUND when
 * the lane has no due job. */
cb_err db_job_claim(const char *instance, const char *lane, const char *now, const char *lease_until,
                    struct cb_job *out);
/* Small files in batches: claims, for instance, up to max more due queued jobs of type in
 * lane that belong to owner_id ("" for the server's own) and whose input file's current
 * version is at most max_size bytes, oldest first, among the owner's next 4 * max due jobs
 * of the lane. *out (free each with db_job_clear, then the array) holds the *n claimed;
 * none is not an error. The owner's turn is not taken again: the batch is one turn. In the
 * same transaction, the input files of first_id (the job that leads the batch, claimed
 * already) and of the jobs claimed are marked "processing", each for the version its job
 * is for while that is still the file's current one: one write turn, not two. */
cb_err db_job_claim_group(const char *instance, const char *lane, const char *owner_id, const char *type,
                          int64_t max_size, int max, const char *now, const char *lease_until, const char *first_id,
                          struct cb_job **out, int *n);
/* Queued and running jobs per lane ([0] interactive, [1] batch), for /metrics. */
cb_err db_job_lane_counts(int64_t queued[2], int64_t running[2]);
/* The largest upload whose ingest runs in the interactive lane (0, the default: none).
 * `carboy serve` sets it; `carboy import` leaves it, so an import stays batch work. */
void db_jobs_set_interactive_ingest_max(int64_t bytes);
/* Extends the lease and records progress. CB_ENOTFOUND when the lease was lost
 * (another instance took the job, or it was finished). *cancel tells if cancel was asked. */
cb_err db_job_heartbeat(const char *id, const char *instance, const char *lease_until, double progress, int *cancel);
/* Ends a running job held by instance: state succeeded/failed/canceled. */
cb_err db_job_finish(const char *id, const char *instance, const char *state, const char *error,
                     const char *outputs_json);
/* Puts a running job back in the queue to run after run_after (a retry with backoff). */
cb_err db_job_defer(const char *id, const char *instance, const char *run_after, const char *error);
/* Running jobs whose lease expired, or held by an instance other than this one, go back to
 * the queue. Returns how many in *n. */
cb_err db_job_requeue_orphans(const char *instance, const char *now, int *n);
/* Cancel: a queued job ends at once; a running one is asked to stop. CB_ECONFLICT when the
 * job already ended. */
cb_err db_job_cancel(const char *id, const char *now);
/* Retry: a failed or canceled job is queued again with fresh attempts. CB_ECONFLICT when
 * it has not ended, or succeeded. */
cb_err db_job_retry(const char *id, const char *now);
/* Jobs by state, for /metrics. */
cb_err db_job_counts(int64_t counts[5]);
int db_job_touches_file(const char *job_id, const char *file_id);

/* The effects of an ingest, applied with the job's success in one transaction, only
 * while instance holds the job's lease (exactly once, whatever crashes). */
struct cb_artifact {
  const char *kind;
  const char *media_type;
  const char *sha256;
  int64_t size;
  const char *path; /* the local file it was stored from (kind "text" is indexed from it), or NULL */
};
/* Records: a JSON-lines file the converter writes, one object per line:
 * {title?, smiles?, inchikey?, fp2?, error?, properties:[{name, value, unit?, iri?}]}.
 * They are stored while the converter still writes (db_records_feed, in short
 * transactions, so a 100,000-record file never holds the write lock for long), numbered in
 * file order; the rest goes in with the job's success (db_ingest_apply_many). The first
 * store of a feed replaces the records an earlier attempt left. */
struct db_records_feed {
  const char *file_id;
  int64_t version;
  const char *path;
  long long offset; /* bytes of path stored */
  int64_t next_idx; /* the next record's number */
  int started;      /* earlier records were cleared */
};
/* Stores up to batch of the complete lines written so far, in one transaction that checks
 * that job_id is still this instance's (CB_ENOTFOUND when not). */
cb_err db_records_feed(struct db_records_feed *feed, const char *job_id, const char *instance, int batch);
/* Removes the records of a file version (what a failed ingest had stored). */
cb_err db_records_delete(const char *file_id, int64_t version);
/* One file version's ingest results, as db_ingest_apply_many takes them. */
struct db_ingest {
  const char *job_id;
  const char *file_id;
  int64_t version;
  const char *kind;       /* may be NULL */
  const char *media_type; /* may be NULL */
  const struct cb_property *props;
  int nprops;
  const struct cb_artifact *arts;
  int narts;
  struct db_records_feed *feed; /* may be NULL */
  const char *model;            /* a model bundle's report (JSON), or NULL */
  cb_err result;                /* set by db_ingest_apply_many */
};
/* Applies several ingests and ends their jobs in one transaction: each item's result is
 * CB_OK (applied, its job succeeded), CB_ENOTFOUND (its job is no longer instance's:
 * nothing of it applied) or the error that kept that item alone out. An error of the
 * transaction itself applies nothing (every result is that error, and it is returned). */
cb_err db_ingest_apply_many(const char *instance, struct db_ingest *items, int n);

struct cb_record {
  char id[CB_ID_LEN + 1];
  char file_id[CB_ID_LEN + 1];
  int64_t version;
  int64_t index;
  char title[CB_NAME_MAX];
  char *smiles; /* free with db_record_clear */
  char inchikey[32];
  char error[256];
};
void db_record_clear(struct cb_record *r);
typedef int (*db_record_cb)(const struct cb_record *r, void *ctx);
/* Records of a file version by index, after after_index (exclusive; -1 from the start). */
cb_err db_records(const char *file_id, int64_t version, int64_t after_index, int limit, db_record_cb cb, void *ctx);
/* Records of a file version in another order or filtered (the records table's sort, order
 * and q): sort is "index", "title", "smiles" or a property's name (its first value on the
 * record; records without one come last either way), desc reverses it, ties go by index;
 * q (NULL: none) keeps records whose title, SMILES, InChIKey or a property's text holds it
 * (ASCII case folded). offset and limit page them; *total (when not NULL) counts them all. */
struct db_records_query {
  const char *file_id;
  int64_t version;
  const char *sort;
  int desc;
  const char *q;
  int64_t offset;
  int limit;
};
cb_err db_records_sorted(const struct db_records_query *rq, int64_t *total, db_record_cb cb, void *ctx);
cb_err db_record_get(const char *id, struct cb_record *out);
int64_t db_record_count(const char *file_id, int64_t version);
cb_err db_record_properties(const char *record_id, db_property_cb cb, void *ctx);
/* The first record of a file version (for its preview). */
cb_err db_record_first(const char *file_id, int64_t version, struct cb_record *out);
/* Ends a running job with a JSON result (lease checked). */
cb_err db_job_finish_result(const char *id, const char *instance, const char *result_json);
/* The result JSON of a job (malloc'd; NULL when none). */
char *db_job_result(const char *id);
/* A record's cached depiction: its blob (CB_ENOTFOUND when not rendered yet). */
cb_err db_depiction_get(const char *record_id, char sha256[65], int64_t *size);
/* Stores a rendered depiction with the job's success (lease checked), in one transaction
 * (a failure remembered before is forgotten). */
cb_err db_depiction_apply(const char *job_id, const char *instance, const char *record_id, const char *sha256,
                          int64_t size);
/* Remembers that drawing the record failed, and why (error: the job's reason). */
cb_err db_depiction_fail(const char *record_id, const char *job_id, const char *error);
/* Why drawing the record failed, when it did (CB_ENOTFOUND: no failure remembered). */
cb_err db_depiction_failure(const char *record_id, char *error, size_t size);
/* Remembers that converting a file version into the artifact kind ("to-inchi", as
 * job_convert_artifact names it) failed, and why. */
cb_err db_conversion_fail(const char *file_id, int64_t version, const char *kind, const char *job_id,
                          const char *error);
/* Why that conversion failed, when it did (CB_ENOTFOUND: no failure remembered). */
cb_err db_conversion_failure(const char *file_id, int64_t version, const char *kind, char *error, size_t size);
/* A conversion's output: a new file (or version) in folder_id, recorded with the job's
 * success in one transaction, only while instance holds the lease. */
cb_err db_convert_apply(const char *job_id, const char *instance, const char *folder_id, const char *name,
                        const char *owner_id, const char *sha256, int64_t size, const char *media_type,
                        const char *kind, char file_id[CB_ID_LEN + 1]);
/* One member of an unpacked archive: its path below the new folder ('/'-separated, each
 * component a valid name), its content (already in the store); file_id is set on success. */
struct db_unpack_file {
  const char *path;
  const char *sha256;
  int64_t size;
  char file_id[CB_ID_LEN + 1];
};
/* An unpack's effects, all or nothing, in one transaction and only while instance holds
 * the job's lease: a folder folder_id in parent_id named name (or "name (2)", "name (3)",
 * ... when taken), the folders of dirs and of the files' paths below it, and the files,
 * each with its own ingest job; the job succeeds with the files as its outputs and
 * result_json as its result. CB_ENOTFOUND when the lease was lost. */
cb_err db_unpack_apply(const char *job_id, const char *instance, const char *parent_id, const char *folder_id,
                       const char *name, const char *owner_id, const char *const *dirs, int ndirs,
                       struct db_unpack_file *files, int nfiles, const char *result_json);
/* A conversion kept as an artifact of the file version (for GET /files/{id}/convert),
 * recorded with the job's success (lease checked), in one transaction. */
cb_err db_artifact_apply(const char *job_id, const char *instance, const char *file_id, int64_t version,
                         const char *kind, const char *media_type, const char *sha256, int64_t size);
cb_err db_file_set_status(const char *file_id, int64_t version, const char *status, const char *error);
struct cb_artifact_row {
  char kind[16];
  char media_type[128];
  char sha256[65];
  int64_t size;
};
typedef int (*db_artifact_cb)(const struct cb_artifact_row *a, void *ctx);
cb_err db_artifacts(const char *file_id, int64_t version, db_artifact_cb cb, void *ctx);
cb_err db_artifact_get(const char *file_id, int64_t version, const char *kind, struct cb_artifact_row *out);

/* ---- webhooks (jobs.c) ---- */
struct cb_webhook {
  char id[CB_ID_LEN + 1];
  char owner_id[CB_ID_LEN + 1];
  char url[2048];
  char events[1024]; /* JSON array text */
  char secret[256];
  char created_at[CB_TIME_MAX];
  int failures; /* failed attempts in a row */
  char last_error[256];
  char disabled_at[CB_TIME_MAX]; /* "" = enabled */
  char disabled_reason[512];
};
typedef int (*db_webhook_cb)(const struct cb_webhook *w, void *ctx);
cb_err db_webhook_create(const struct cb_webhook *w);
/* An owner's webhooks (disabled ones too); owner_id NULL: every enabled webhook of an
 * account that still acts (the sender's list). */
cb_err db_webhook_list(const char *owner_id, db_webhook_cb cb, void *ctx);
cb_err db_webhook_count(const char *owner_id, int64_t *n);
/* An attempt's outcome: ok resets the run of failures; a failure adds to it and, at
 * disable_after in a row, disables the webhook and fails its pending deliveries
 * (*disabled = 1). */
cb_err db_webhook_result(const char *id, int ok, const char *error, int disable_after, int *disabled);
/* Pending deliveries of one webhook. */
cb_err db_delivery_pending(const char *webhook_id, int64_t *n);
cb_err db_webhook_delete(const char *owner_id, const char *id, const char *now); /* CB_ENOTFOUND */
/* Turns an owner's webhook off (by hand) or on again (its failures forgotten). CB_ENOTFOUND */
cb_err db_webhook_set_disabled(const char *owner_id, const char *id, int disabled, const char *now);

struct cb_delivery {
  int64_t id;
  char webhook_id[CB_ID_LEN + 1];
  char url[2048];
  char secret[256];
  char event[64];
  char *payload; /* free with free() */
  int attempts;
};
typedef int (*db_delivery_cb)(const struct cb_delivery *d, void *ctx);
cb_err db_delivery_add(const char *webhook_id, const char *event, const char *payload, const char *when);
/* Pending deliveries due at now, of live enabled webhooks, the oldest of each webhook,
 * oldest first. */
cb_err db_delivery_due(const char *now, int limit, db_delivery_cb cb, void *ctx);
cb_err db_delivery_result(int64_t id, const char *state, int attempts, const char *next_attempt, int last_status,
                          const char *last_error);

/* ---- full-text and property search (search.c) ---- */
/* One property condition: NAME OP VALUE on the hit's own properties (the file's, or the
 * record's); numbers compare as numbers, text as text. */
enum db_op { DB_EQ, DB_LT, DB_LE, DB_GT, DB_GE };
struct db_where {
  const char *name;
  enum db_op op;
  int is_num;
  double num;
  const char *text;
};
/* Who is asking, for lists whose access filter runs inside the query (db_internal.h). */
struct db_viewer {
  const char *user_id; /* NULL: anonymous */
  const char *link;    /* a share link's object id, or NULL */
  int all;             /* an administrator: no filter */
};

/* ---- models (db/models.c): seen by whoever sees their folder ---- */
struct cb_model {
  char id[CB_ID_LEN + 1];
  char folder_id[CB_ID_LEN + 1];
  char owner_id[CB_ID_LEN + 1];
  char name[CB_NAME_MAX];
  char file_id[CB_ID_LEN + 1]; /* its bundle, "" until first trained */
  char state[12];              /* training, ready, failed */
  char *error;
  char job_id[CB_ID_LEN + 1]; /* the latest training's */
  char training_file_id[CB_ID_LEN + 1];
  char *spec;    /* JSON: what it is trained on and how */
  char *summary; /* JSON: its current version's report, or NULL */
  char created_at[CB_TIME_MAX];
  char updated_at[CB_TIME_MAX];
};
void db_model_clear(struct cb_model *m);
typedef int (*db_model_cb)(const struct cb_model *m, void *ctx);
/* A live model (its folder and file not deleted); no access check. */
cb_err db_model_get(const char *id, struct cb_model *out);
cb_err db_model_of_file(const char *file_id, struct cb_model *out);
/* Models the viewer may see (in folder_id when not NULL), by name then id after
 * (after_name, after_id) when not NULL. */
cb_err db_model_list(const struct db_viewer *v, const char *folder_id, const char *after_name, const char *after_id,
                     int limit, db_model_cb cb, void *ctx);
/* Queues the training job j (inputs: the training file) with its model in one
 * transaction: a new model (m->id is set), or the model of that name in m->folder_id
 * trained again (*again = 1; CB_ECONFLICT while it is still training). m gives folder_id,
 * owner_id, name, training_file_id and spec. */
cb_err db_model_train(struct cb_model *m, const struct cb_job *j, const char *const *inputs, int ninputs, int *again);
/* A training's success (job_id: the model's latest training), in one transaction: its bundle stored as the model's file
 * (a new version of it, or a new file NAME.carboy-model.json), the model ready with summary, the job succeeded with the
 * file as its output. CB_ENOTFOUND when the job is no longer this instance's; CB_EINVAL when its model is gone
 * (deleted, or trained anew meanwhile): the caller fails the job. */
cb_err db_model_trained(const char *job_id, const char *instance, const char *sha256, int64_t size, const char *summary,
                        char file_id[CB_ID_LEN + 1]);
/* A training's failure (the model whose latest training job_id is). */
cb_err db_model_failed(const char *job_id, const char *error);
/* Inside an ingest's transaction: the bundle file_id holds was read (summary: its report);
 * its model's report is refreshed, or, for a bundle uploaded, a model made for it. */
cb_err db_model_from_file_tx(const char *file_id, const char *summary);

struct db_search_q {
  const struct db_viewer *viewer; /* only what this caller may see; never NULL */
  const char *match;              /* an FTS5 query (built by the caller from the user's words), or NULL */
  const char *kind;               /* files of this kind only, or NULL */
  const char *folder_id;          /* files in this folder or below, or NULL */
  const struct db_where *where;
  int nwhere;
  int64_t offset;  /* candidates to skip (a cursor) */
  int all_records; /* 0: a record of a file that holds only it is given as its file (the file
                      carries the record's properties), so the two never both come; 1: both */
  /* a JSON array of category ids (db_category_subtree), or NULL: files assigned one of them,
   * or in a folder (or below one) assigned one */
  const char *categories;
};
struct cb_search_hit {
  int64_t doc; /* the full-text row that ranked it (for db_search_snippet) */
  const char *file_id, *record_id, *name, *kind, *title;
  double score;     /* higher is better */
  int64_t position; /* this candidate's number, counting from 1: the next cursor */
};
typedef int (*db_search_cb)(const struct cb_search_hit *h, void *ctx);
/* Candidates best first: by full-text rank, one per file or record; without match, in the
 * order of the first where's value (a file or record whose property repeats may come more
 * than once: the caller drops repeats); with neither, the files of q->categories by name.
 * Live files and their current version's records only, and of those only what q->viewer
 * may see (the filter runs before counting, so a position never counts a candidate the
 * caller may not see).
 * CB_EINVAL: neither match nor a where nor categories, or a match FTS5 cannot parse. */
cb_err db_search(const struct db_search_q *q, db_search_cb cb, void *ctx);
/* The words around the match in full-text row doc, the matches marked « », malloc'd. */
char *db_search_snippet(const char *match, int64_t doc);
/* The properties of a hit (the file's when record_id is NULL, else the record's) that
 * satisfy w, in the order they were stored. */
cb_err db_search_matched(const char *file_id, const char *record_id, const struct db_where *w, db_property_cb cb,
                         void *ctx);

/* Structure search candidates: live records (current versions of live files) of the
 * files q->viewer may see (the filter runs in the query, before anything is counted), in
 * (file id, index) order. fp is 128 bytes or NULL. */
/* Structure search (search/structures.c keeps these rows in memory). */
#define DB_FP_BYTES 128 /* an FP2 fingerprint, 1024 bits */
struct cb_structure_row {
  const char *file_id, *id, *smiles, *inchikey; /* "" when absent */
  int64_t version, idx;
  const unsigned char *fp; /* DB_FP_BYTES, or NULL */
};
typedef int (*db_structure_cb)(const struct cb_structure_row *row, void *ctx);
/* The records with a fingerprint or an InChIKey of the current version of every live file
 * (file_id NULL: ordered by file id, then index) or of one. No access check: they fill the
 * server's structure index, whose every search asks db_structure_files_visible first. */
cb_err db_structures_load(const char *file_id, db_structure_cb cb, void *ctx);
struct db_structure_files_q {
  const struct db_viewer *viewer; /* never NULL */
  const char *ids_json;           /* the files asked about: a JSON array of ids */
  const char *kind;               /* of this kind only, or NULL */
  const char *folder_id;          /* in this folder or below, or NULL */
};
/* Which of the files asked about are live and visible to the viewer (and of the kind, in
 * the folder): cb gets each one's id and current version; non-zero stops. */
typedef int (*db_structure_file_cb)(const char *file_id, int64_t version, void *ctx);
cb_err db_structure_files_visible(const struct db_structure_files_q *q, db_structure_file_cb cb, void *ctx);
/* The log of files whose records may have changed (structure_changes): its newest seq (0:
 * empty), its oldest and newest, the changes after a seq (at most limit, in order), and
 * pruning all but the newest keep. */
cb_err db_structure_changes_last(int64_t *last);
cb_err db_structure_changes_range(int64_t *first, int64_t *last);
typedef int (*db_structure_change_cb)(int64_t seq, const char *file_id, void *ctx);
cb_err db_structure_changes_after(int64_t after, int64_t limit, db_structure_change_cb cb, void *ctx);
cb_err db_structure_changes_prune(int64_t keep);
/* A record's title, malloc'd ("" when it has none); NULL when there is no such record. No
 * access check: for hits a search found among the files the caller may see (the caller's
 * query ran the access rule). */
char *db_record_title(const char *record_id);

/* ---- categories (categories.c; schemas/sql/0017_categories.sql): a tree of terms ---- */
#define CB_IRI_MAX 512
struct cb_category {
  char id[CB_ID_LEN + 1];
  char parent_id[CB_ID_LEN + 1]; /* "" for a root */
  char name[CB_NAME_MAX];
  char iri[CB_IRI_MAX + 1]; /* "" when none */
  char created_at[CB_TIME_MAX];
  char *path; /* "Root / Child" (names from the root); free with db_category_clear */
};
void db_category_clear(struct cb_category *c);
typedef int (*db_category_cb)(const struct cb_category *c, void *ctx);
/* The whole tree, each parent before its children, siblings by name. */
cb_err db_category_list(db_category_cb cb, void *ctx);
cb_err db_category_get(const char *id, struct cb_category *out);
/* c gives id, parent_id ("" for a root), name and iri ("" for none). CB_EEXIST on a sibling
 * of that name; CB_EINVAL when the parent does not exist. */
cb_err db_category_create(const struct cb_category *c);
/* NULL leaves a field as it is; parent_id "" makes it a root, iri "" clears it.
 * CB_ENOTFOUND: no such category; CB_EINVAL: no such parent; CB_ECONFLICT: the parent is
 * the category itself or below it; CB_EEXIST: a sibling has the name. */
cb_err db_category_update(const char *id, const char *name, const char *parent_id, const char *iri);
/* Removes a category and its assignments. CB_ENOTFOUND; CB_ECONFLICT when it has children. */
cb_err db_category_delete(const char *id);
/* Replaces the categories of a file or folder (object_type "file" or "folder") with ids[0..n)
 * (repeats count once), in one transaction. CB_EINVAL when one of them does not exist. */
cb_err db_categories_assign(const char *object_type, const char *object_id, const char *const *ids, int n);
/* The categories assigned to the object, by path. */
cb_err db_categories_of(const char *object_type, const char *object_id, db_category_cb cb, void *ctx);
/* A JSON array of the ids of category id and of every category below it (malloc'd), for
 * db_search_q.categories. CB_ENOTFOUND when there is no such category. */
cb_err db_category_subtree(const char *id, char **ids_json);

/* ---- settings, store migrations and blob checks (maint.c) ---- */
#define CB_URL_MAX 1100
/* A setting's value (and when it was last written, when updated_at is not NULL);
 * CB_ENOTFOUND when unset. */
cb_err db_setting_get(const char *key, char *out, size_t cap, char updated_at[CB_TIME_MAX]);
/* Sets a setting (value NULL removes it). */
cb_err db_setting_set(const char *key, const char *value);

struct cb_migration {
  int64_t id;
  char source[CB_URL_MAX];
  char target[CB_URL_MAX];
  char state[12]; /* running, switched, done, abandoned */
  int64_t runs;
  char started_at[CB_TIME_MAX];
  char switched_at[CB_TIME_MAX];
};
/* The unfinished (running or switched) migration, if any (CB_ENOTFOUND). */
cb_err db_migration_unfinished(struct cb_migration *out);
/* The last migration that switched the live store (switched or done). */
cb_err db_migration_last_switched(struct cb_migration *out);
/* A new running migration; an unfinished running one is marked abandoned. */
cb_err db_migration_start(const char *source, const char *target, struct cb_migration *out);
/* Counts a new invocation (*run gets its number) and makes the blobs that failed in
 * earlier runs pending again. */
cb_err db_migration_begin_run(int64_t id, int64_t *run);
/* Adds every blob the database knows (the blobs table: file versions, artifacts and
 * depictions all reference it) that the migration has no row for, as pending. */
cb_err db_migration_enqueue(int64_t id, int64_t *added);

struct cb_mblob {
  char sha256[65];
  int64_t size;
  char state[12];
  int copied; /* bytes were written to the target in this attempt */
  char error[256];
};
/* Up to limit pending blobs, by sha256. */
cb_err db_migration_pending(int64_t id, int limit, struct cb_mblob *out, int *n);
/* Records the outcome of a batch in one transaction (attempts + 1; copies + 1 when
 * copied; run, batch, error, updated_at). */
cb_err db_migration_record(int64_t id, int64_t run, int64_t batch, const struct cb_mblob *rows, int n);
/* Blobs and bytes by state: [0] pending, [1] copied, [2] verified, [3] failed. */
cb_err db_migration_counts(int64_t id, int64_t count[4], int64_t bytes[4]);
typedef int (*db_mblob_cb)(const struct cb_mblob *b, void *ctx);
cb_err db_migration_failed(int64_t id, int limit, db_mblob_cb cb, void *ctx);
/* In one write transaction: when every blob of the blobs table is verified in migration
 * id, makes the target the live store (store_url = live_url, or removed when live_url is
 * NULL: the default), records the source as store_previous_url and marks the migration
 * switched (*switched = 1); otherwise changes nothing (*switched = 0). */
cb_err db_migration_switch(int64_t id, const char *live_url, const char *source, int *switched);
cb_err db_migration_finish(int64_t id);

/* Every blob the database knows, by sha256 after after (exclusive; "" from the start),
 * at most limit. */
struct cb_blob_ref {
  char sha256[65];
  int64_t size;
};
typedef int (*db_blob_cb)(const struct cb_blob_ref *b, void *ctx);
cb_err db_blobs_page(const char *after, int limit, db_blob_cb cb, void *ctx);
/* References (file versions, artifacts, depictions) to a sha256 without a blobs row:
 * none while foreign keys hold; counted so that verify can say so if they did not. */
cb_err db_blob_dangling(int64_t *n);

/* ---- carboy backup and restore (backup.c) ---- */
/* A consistent snapshot of the whole database, written to the new file path (SQLite's
 * online backup API: one read transaction, writers go on). */
cb_err db_backup_to(const char *path, struct cb_errbuf *eb);
/* The blobs (by sha256) that the database file at path knows: a snapshot's. */
cb_err db_file_blobs(const char *path, db_blob_cb cb, void *ctx, struct cb_errbuf *eb);
/* Makes a restored database (the one open) its own: its blobs are in store_url (NULL: the
 * default DATA/blobs), no earlier store, no server using it, no resumable uploads. */
cb_err db_restored(const char *store_url);

#endif
