/* What tiff.c (properties) and tiffread.c (pixels) share: opening a file with libtiff's
 * messages recorded instead of printed. */
#ifndef CB_IMAGE_TIFF_H
#define CB_IMAGE_TIFF_H
#include <stddef.h>
#include <stdint.h>
#include <tiffio.h>

struct terr {
  char msg[400]; /* libtiff's first error message */
  unsigned warnings;
};

/* Opens path read-only (messages name it "TIFF", not a store path); NULL with eb set when
 * libtiff cannot read it. */
TIFF *tiff_open(const char *path, struct terr *te, struct cb_errbuf *eb);
const char *tiff_format_name(uint16_t sample_format);
/* The text of an ASCII tag of the current directory (up to its first NUL): 1 if there. */
int tiff_ascii(TIFF *tif, uint32_t tag, const char **s, size_t *len);

#define TIFFTAG_GDAL_NODATA 42113 /* GDAL's no-data value, as text */

#endif
