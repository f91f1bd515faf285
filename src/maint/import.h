/* carboy import: bulk deposit of local files and folder trees, straight into the database
 * and the store (with or without a server running; SQLite arbitrates). */
#ifndef CB_MAINT_IMPORT_H
#define CB_MAINT_IMPORT_H
#include <stdint.h>
#include <stdio.h>

#include "store/store.h"
#include "util/err.h"

/* A first guess of a file's media type and kind from its name (the server's own, passed in
 * by main.c so this folder does not depend on http/). */
typedef void (*maint_guess_fn)(const char *name, const char *client_type, char *media, size_t mcap, char *kind,
                               size_t kcap);

struct maint_import_opts {
  const char *user;   /* who owns what is imported (a user name) */
  const char *folder; /* "/a/b": where it goes (created as needed); NULL: top level */
  char *const *paths; /* files and folders to import */
  int npaths;
  uint64_t max_upload; /* largest accepted file (0: none); larger ones are skipped */
  maint_guess_fn guess;
  FILE *out; /* progress and the summary */
  int tty;   /* out is a terminal: a progress bar rewritten in place */
};

struct maint_import_stats {
  uint64_t imported, unchanged, skipped, failed; /* files */
  uint64_t bytes_imported;
  uint64_t folders_created;
};

/* Imports every path: a folder becomes a folder of the same name in o->folder (at the top
 * level when o->folder is NULL), with its whole tree; a file goes into o->folder (which a
 * file then needs). A file whose name already holds the same content (by sha256) is left
 * as it is, so a second run adds nothing; a different content becomes a new version.
 * Every file imported gets its ingest job with it. Symbolic links, devices, names carboy
 * refuses and files over max_upload are skipped with a line each. CB_EUSAGE: bad
 * arguments (eb says which); other errors stop the import (eb says what failed; what was
 * imported before stays, and a rerun goes on from there). */
cb_err maint_import(struct store *store, const struct maint_import_opts *o, struct maint_import_stats *st,
                    struct cb_errbuf *eb);

/* The closing lines: what was imported, unchanged, skipped, failed. */
void maint_import_summary(const struct maint_import_stats *st, FILE *out);

#endif
