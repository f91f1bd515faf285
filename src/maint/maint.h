/* Maintenance of the blob store: which store is live (live.c), carboy migrate
 * (migrate.c), carboy verify (verify.c) and the orphan sweep (sweep.c). This folder joins the database (which blobs
 * exist, what state each is in, which store is live) to the store layer (the bytes):
 * store/ never sees the database, so the orchestration lives here, above both. */
#ifndef CB_MAINT_H
#define CB_MAINT_H
#include <stdint.h>
#include <stdio.h>

#include "store/store.h"
#include "util/err.h"

/* A store URL in one spelling: a plain absolute path becomes file://PATH; file paths lose
 * repeated and trailing slashes and "." components. Other URLs are kept as given. */
void maint_url_canon(const char *url, char *out, size_t cap);

/* The store this database's blobs are in: the one carboy migrate recorded, else
 * explicit_url (--store/CARBOY_STORE, or NULL), else default_url (DATA/blobs).
 * An explicit setting that differs from a recorded store is refused (CB_EINVAL, eb says
 * which is which), unless it names the store a migration moved away from: then the
 * recorded store is used and warn says so. Writes nothing. */
cb_err maint_store_resolve(const char *explicit_url, const char *default_url, char *out, size_t cap,
                           struct cb_errbuf *warn, struct cb_errbuf *eb);

/* For carboy serve: resolves the live store, opens it and the previous store (when a
 * migration recorded one) as one tier store (store_tier_open), and records it as in use
 * (and as the live store, when it was given explicitly and none was recorded). opened
 * (may be NULL; always taken) is the configured store, already open: used when it is the
 * live one, so it is not opened twice. */
cb_err maint_live_open(const char *explicit_url, const char *default_url, struct store *opened, struct store **out,
                       struct cb_errbuf *eb);
/* A thread that re-reads the live store from the database every second and switches the
 * tier when a migration switched it; it also records the store in use (a heartbeat that
 * carboy migrate waits on). */
cb_err maint_watch_start(struct store *tier, const char *default_url);
void maint_watch_stop(void);

struct maint_migrate_opts {
  const char *explicit_url; /* --store/CARBOY_STORE or NULL */
  const char *default_url;
  const char *target; /* --to */
  int batch;          /* blobs per batch */
  int delay_ms;       /* test-only: pause after each blob (CARBOY_MIGRATE_DELAY_MS) */
  FILE *out;          /* progress and summary */
};
/* Copies every blob to target in batches, verifying each copy, recording each blob's
 * state; switches the live store when all are verified. CB_EUSAGE/CB_EINVAL: bad
 * arguments (eb says which); other errors: eb says what failed. */
cb_err maint_migrate(const struct maint_migrate_opts *o, struct cb_errbuf *eb);

struct maint_verify_opts {
  const char *explicit_url;
  const char *default_url;
  int repair;
  const char *from; /* --from, or NULL for the previous store */
  FILE *out;
};
/* Re-hashes every blob the database knows; *bad gets the blobs still missing or corrupt
 * at the end (after repair). */
cb_err maint_verify(const struct maint_verify_opts *o, int64_t *bad, struct cb_errbuf *eb);

struct maint_sweep_stats {
  int64_t seen;         /* blobs listed */
  int64_t blobs;        /* orphans removed */
  int64_t bytes;        /* their bytes */
  int64_t tmp;          /* temporary objects of the store removed */
  int64_t parts;        /* DATA/uploads part files without an upload removed */
  int64_t purged_files; /* files and folders taken out of the trash for good */
  int64_t purged_folders;
};
/* One pass of the orphan sweep over the live store and DATA/uploads: first the trash is
 * purged of what was deleted more than trash_days ago (db_trash_purge: the blobs only it
 * referenced become orphans); then blobs nothing references, temporary objects and upload
 * parts without an upload, each last written more than grace_s seconds ago, are removed.
 * Stops (and says so in eb) when the store cannot be listed or the database does not
 * answer: nothing is removed on a guess. */
cb_err maint_sweep(struct store *store, const char *data_dir, int grace_s, int trash_days, struct maint_sweep_stats *st,
                   struct cb_errbuf *eb);
/* A thread that sweeps now and then every grace_s seconds (1 s to 1 h). */
cb_err maint_sweep_start(struct store *store, const char *data_dir, int grace_s, int trash_days);
void maint_sweep_stop(void);

#endif
