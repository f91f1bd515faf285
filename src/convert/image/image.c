/* Images (PNG, JPEG, TIFF) through libpng, libjpeg and libtiff: dimensions, depth, channels,
 * pages, resolution, microscopy metadata, PNG thumbnails.
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

static const struct converter_desc desc = {"image", "image", suffixes, sniff};
static const struct converter_ops ops = {extract, NULL, NULL};
const struct converter conv_image = {&desc, &ops};
