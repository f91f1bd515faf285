/* carboy backup and carboy restore. A backup is a store (a folder or an s3:// URL, the
 * same URLs as --store): every blob the database knows, content-addressed as in any store
 * (so a second backup to the same place copies only what is new), the database snapshot
 * and the list of the snapshot's blobs stored as blobs too, and a small named object,
 * manifest.json (and manifest-TIME.json, kept), naming them with their sha256 and sizes.
 * The manifest is written last: a backup without one is unfinished and restores nothing. */
#ifndef CB_MAINT_BACKUP_H
#define CB_MAINT_BACKUP_H
#include <stdint.h>
#include <stdio.h>

#include "util/err.h"

struct maint_backup_opts {
  const char *explicit_url; /* --store/CARBOY_STORE or NULL */
  const char *default_url;  /* DATA/blobs */
  const char *dest;         /* the backup's store URL (a plain absolute path is a folder) */
  const char *data_dir;     /* where the snapshot is written before it is stored */
  const char *version;      /* carboy's, for the manifest */
  FILE *out;
};

/* Takes a consistent online snapshot of the database and copies it and every blob it
 * knows (each copy verified against its sha256) into dest. Works while a server runs.
 * CB_EUSAGE: a bad destination (eb says why). */
cb_err maint_backup(const struct maint_backup_opts *o, struct cb_errbuf *eb);

struct maint_restore_opts {
  const char *src;       /* the backup's store URL */
  const char *manifest;  /* "manifest.json" or an earlier manifest-TIME.json */
  const char *db_path;   /* DATA/carboy.db, which must not exist yet */
  const char *store_url; /* where the restored blobs go (the restored server's store) */
  int store_explicit;    /* store_url was given (recorded in the database), else the default */
  FILE *out;
};

/* Verifies the manifest and restores: the database snapshot (its sha256 checked) to
 * db_path and every blob it names into store_url, each copy verified; blobs already there
 * are re-hashed. Nothing is put at db_path unless every blob is in place. CB_EUSAGE: a bad
 * source or a data folder that already has a database. Opens the restored database (the
 * caller calls db_shutdown). */
cb_err maint_restore(const struct maint_restore_opts *o, struct cb_errbuf *eb);

#endif
