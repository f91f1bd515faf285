/* Archives (zip, tar, tar.gz/.bz2/.xz) through libarchive: the listing as properties.
 * (A skeleton: claims no file until it is written.) */
#include <stdio.h>

#include "convert/converter.h"

static const char *const suffixes[] = {NULL};

static int sniff(const unsigned char *head, size_t len, const struct cb_convert_input *in)
{
  (void)head, (void)len, (void)in;
  return 0;
}

static cb_err extract(const struct cb_convert_input *in, cJSON *result, cb_progress_fn progress, void *pctx,
                      char *err, size_t errcap)
{
  (void)in, (void)result, (void)progress, (void)pctx;
  snprintf(err, errcap, "not supported yet");
  return CB_EINVAL;
}

static const struct converter_desc desc = {"archive", "archive", suffixes, sniff};
static const struct converter_ops ops = {extract, NULL, NULL};
const struct converter conv_archive = {&desc, &ops};
