/* The structure index: every current record's FP2 fingerprint, InChIKey and SMILES in the
 * server's memory, file by file, so a structure search screens 100,000 molecules in a
 * few milliseconds without a job or a database scan. Loaded from the database when the
 * server starts; kept current from the database's log of files whose records may have
 * changed (structure_changes: processed, a new version, deleted, restored, records
 * cleared), applied before each query and by a thread in between (structures.c). */
#ifndef CB_STRUCTURES_H
#define CB_STRUCTURES_H
#include <stdint.h>

#include "db/db.h"
#include "util/err.h"

#define STRUCTURES_FP_WORDS (DB_FP_BYTES / 8)

/* Starts loading the index (in the background) and following changes. */
cb_err structures_start(struct cb_errbuf *eb);
void structures_stop(void);

enum structures_test {
  STRUCTURES_EXACT,      /* records whose InChIKey is q->inchikey */
  STRUCTURES_SIMILAR,    /* Tanimoto of the fingerprints >= q->threshold */
  STRUCTURES_SUPERSET_FP /* every bit of q->fp set (may contain the query); all without q->fp */
};

struct structures_q {
  const struct db_viewer *viewer; /* only files it may see, never NULL */
  const char *file_id;            /* this file only, or NULL */
  const char *folder_id;          /* files in this folder or below, or NULL */
  const char *kind;               /* files of this kind, or NULL */
  enum structures_test test;
  const uint64_t *fp; /* STRUCTURES_FP_WORDS words, or NULL */
  const char *inchikey;
  double threshold;
};

struct structures_hit {
  const char *id, *file_id, *smiles; /* valid during the callback only */
  int64_t idx;
  double similarity; /* STRUCTURES_SIMILAR */
};
/* Non-zero stops the scan. */
typedef int (*structures_cb)(const struct structures_hit *h, void *ctx);

/* Calls cb for each record of the files the viewer may see that passes the test, in one
 * order: by file id, then the record's index. Waits for the first load (up to timeout_s:
 * CB_ETHROTTLED after that). */
cb_err structures_find(const struct structures_q *q, int timeout_s, structures_cb cb, void *ctx);

/* Records and files held (for /metrics and the tests). */
void structures_counts(int64_t *records, int64_t *files);

#endif
