/* The zip of office containers, read with limits: see zip.h. */
#include "convert/office/zip.h"

#include <stdio.h>

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
