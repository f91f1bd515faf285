/* The zip of an office container (OOXML, ODF), read with limits, for the office converter
 * and the workbooks of the table converter (table/sheets.c): a zip bomb fails the job, it
 * never fills the disk or the memory. At most OFFICE_ENTRIES entries (the callers count
 * them); no entry over OFFICE_ENTRY_MAX and no total over OFFICE_TOTAL_MAX, declared (the
 * callers check the headers) or counted while decompressing, over every pass of one
 * struct office_zip; no entry decompressing at more than OFFICE_RATIO_MAX:1. */
#ifndef CB_OFFICE_ZIP_H
#define CB_OFFICE_ZIP_H
#include <archive.h>
#include <archive_entry.h>
#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

#define OFFICE_ENTRIES 10000
#define OFFICE_ENTRY_MAX (256ull << 20)
#define OFFICE_TOTAL_MAX (1ull << 30)
#define OFFICE_RATIO_MAX 200
#define OFFICE_RATIO_FLOOR (1u << 20) /* the ratio is judged once an entry gave this much */

struct office_zip {
  struct archive *a;
  const char *path; /* the file */
  uint64_t total;   /* bytes decompressed so far, every pass */
  struct cb_errbuf *eb;
  char buf[65536];
};

/* Opens the zip (again: a new pass from its first entry). */
cb_err office_zip_open(struct office_zip *z);
/* The next entry, or *e = NULL at the end. */
cb_err office_zip_next(struct office_zip *z, struct archive_entry **e);
const char *office_entry_name(struct archive_entry *e);

/* Where decompressed bytes go; nonzero stops the read (the sink says why). */
typedef int (*office_sink_fn)(void *ctx, const char *buf, size_t n);

/* Decompresses the current entry into sink (NULL: skips it), counting bytes against the
 * limits: CB_ETOOBIG past one (eb says which), CB_EINVAL when the entry cannot be read (eb
 * says why) or the sink stopped it (eb as the sink left it). */
cb_err office_zip_read(struct office_zip *z, struct archive_entry *e, office_sink_fn sink, void *sctx);

/* An OLE2 (compound file) container: what an encrypted OOXML document is. */
int office_is_cfb(const unsigned char *head, size_t len);

/* What the head of an upload (its first len bytes) proves of an office zip: for each of its
 * first 32 members, judge gets the `mimetype` member's or [Content_Types].xml's first 64 KiB
 * (data, n) and any other member's name alone (data NULL); the scan stops at the first
 * nonzero answer, which it returns (0: nothing proved, or not a zip). */
typedef int (*office_judge_fn)(void *ctx, const char *name, const char *data, size_t n);
int office_zip_head_scan(const unsigned char *head, size_t len, office_judge_fn judge, void *ctx);

#endif
