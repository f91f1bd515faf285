/* The zip of office containers, read with limits: see zip.h. */
#include "convert/office/zip.h"

#include <stdio.h>
#include <string.h>

cb_err office_zip_open(struct office_zip *z)
{
  archive_read_free(z->a);
  z->a = archive_read_new();
  if (!z->a)
    return CB_ENOMEM;
  archive_read_support_format_zip(z->a);
  if (archive_read_open_filename(z->a, z->path, 65536) != ARCHIVE_OK) {
    const char *why = archive_error_string(z->a);
    cb_errf(z->eb, "not a readable zip: %s", why ? why : "?");
    return CB_EINVAL;
  }
  return CB_OK;
}

cb_err office_zip_next(struct office_zip *z, struct archive_entry **e)
{
  int r = archive_read_next_header(z->a, e);
  if (r == ARCHIVE_EOF) {
    *e = NULL;
    return CB_OK;
  }
  if (r == ARCHIVE_OK || r == ARCHIVE_WARN)
    return CB_OK;
  cb_errf(z->eb, "the zip is damaged: %s", archive_error_string(z->a) ? archive_error_string(z->a) : "?");
  return CB_EINVAL;
}

const char *office_entry_name(struct archive_entry *e)
{
  const char *n = archive_entry_pathname(e);
  return n ? n : "";
}

cb_err office_zip_read(struct office_zip *z, struct archive_entry *e, office_sink_fn sink, void *sctx)
{
  const char *name = office_entry_name(e);
  int64_t raw0 = archive_filter_bytes(z->a, -1);
  uint64_t got = 0;
  for (;;) {
    la_ssize_t n = archive_read_data(z->a, z->buf, sizeof z->buf);
    if (n < 0) {
      cb_errf(z->eb, "cannot read %.200s from the zip: %s", name,
              archive_error_string(z->a) ? archive_error_string(z->a) : "damaged");
      return CB_EINVAL;
    }
    if (n == 0)
      return CB_OK;
    got += (uint64_t)n;
    z->total += (uint64_t)n;
    if (got > OFFICE_ENTRY_MAX) {
      cb_errf(z->eb, "refused: %.200s unpacks to more than %llu MiB (limit)", name,
              (unsigned long long)(OFFICE_ENTRY_MAX >> 20));
      return CB_ETOOBIG;
    }
    if (z->total > OFFICE_TOTAL_MAX) {
      cb_errf(z->eb, "refused: the document unpacks to more than %llu MiB (limit)",
              (unsigned long long)(OFFICE_TOTAL_MAX >> 20));
      return CB_ETOOBIG;
    }
    int64_t raw = archive_filter_bytes(z->a, -1) - raw0;
    if (got > OFFICE_RATIO_FLOOR && got / (uint64_t)(raw > 0 ? raw : 1) > OFFICE_RATIO_MAX) {
      cb_errf(z->eb, "refused: %.200s is compressed more than %d:1 (a zip bomb?)", name, OFFICE_RATIO_MAX);
      return CB_ETOOBIG;
    }
    if (sink && sink(sctx, z->buf, (size_t)n))
      return CB_EINVAL;
  }
}

int office_is_cfb(const unsigned char *head, size_t len)
{
  return len >= 8 && !memcmp(head, "\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", 8);
}

int office_zip_head_scan(const unsigned char *head, size_t len, office_judge_fn judge, void *ctx)
{
  if (len < 4 || memcmp(head, "PK\3\4", 4))
    return 0;
  struct archive *a = archive_read_new();
  if (!a)
    return 0;
  int said = 0;
  archive_read_support_format_zip_streamable(a);
  if (archive_read_open_memory(a, head, len) == ARCHIVE_OK) {
    struct archive_entry *e;
    static char buf[65536]; /* a converter process sniffs one file at a time */
    for (int i = 0; i < 32 && !said && archive_read_next_header(a, &e) == ARCHIVE_OK; i++) {
      const char *name = archive_entry_pathname(e);
      if (!name)
        continue;
      if (strcmp(name, "mimetype") && strcmp(name, "[Content_Types].xml")) {
        said = judge(ctx, name, NULL, 0);
        continue;
      }
      size_t got = 0;
      la_ssize_t n;
      while (got < sizeof buf && (n = archive_read_data(a, buf + got, sizeof buf - got)) > 0)
        got += (size_t)n;
      said = judge(ctx, name, buf, got);
    }
  }
  archive_read_free(a);
  return said;
}
