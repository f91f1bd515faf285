/* The image family's insides, shared by image.c (the converter, thumbnails, PNG output),
 * tiff.c, png.c, jpeg.c (one decoder each) and meta.c (descriptions, tag text).
 *
 * A decoder reports the properties of a file and opens its first page as a row source:
 * rows arrive top to bottom, one at a time, as floats, 1 (grey) or 3 (RGB) per pixel, so
 * no image is ever held whole (the one exception, interlaced PNG, is held only when it
 * fits IMG_MAX_BUFFER). */
#ifndef CB_IMAGE_H
#define CB_IMAGE_H
#include <stddef.h>
#include <stdint.h>

#include "convert/converter.h"

#define IMG_MAX_SIDE 1000000u         /* pixels per side, for any page */
#define IMG_MAX_BUFFER (512ull << 20) /* working memory a decoder may ask for */
#define IMG_MAX_PIXELS (1ull << 34)   /* pixels of a first page we agree to read */
#define IMG_THUMB 256                 /* preview: longer side at most */
#define IMG_TEXT_MAX (64u << 10)      /* long texts (descriptions, OME-XML) */
#define IMG_TAG_MAX (4u << 10)        /* other text tags */
#define IMG_PAGES_MAX 100000u         /* TIFF directories counted */

enum img_format { IMG_NONE, IMG_PNG, IMG_JPEG, IMG_TIFF };

enum img_format img_detect(const unsigned char *head, size_t len);

/* One page as rows. Values are 0..255 unless stretch is set (then raw sample values, to
 * be stretched between percentiles); NaN marks a value that is not a number. */
struct img_src {
  uint32_t w, h;     /* of the rows delivered (a decoder may deliver a reduced image) */
  int nc;            /* 1 = grey, 3 = RGB */
  int stretch;       /* values need a contrast stretch to become 8-bit */
  int invert;        /* min-is-white: dark is high; applied after the stretch */
  char warning[200]; /* a problem the decoder worked around (a truncated JPEG, ...) */
  cb_err (*next_row)(struct img_src *s, float *row, struct cb_errbuf *eb);
  void (*close)(struct img_src *s);
  void *impl;
};

/* Each opens the file's first page (a TIFF's: page, from 1). min_side > 0 lets a decoder
 * deliver a reduced image whose longer side is still at least min_side (JPEG's DCT
 * scaling). */
cb_err tiff_open_src(const char *path, uint32_t page, struct img_src *s, struct cb_errbuf *eb);
cb_err png_open_src(const char *path, struct img_src *s, struct cb_errbuf *eb);
cb_err jpeg_open_src(const char *path, uint32_t min_side, struct img_src *s, struct cb_errbuf *eb);

/* Each adds the file's properties to result. */
cb_err tiff_props(const char *path, cJSON *result, struct cb_errbuf *eb);
cb_err png_props(const char *path, cJSON *result, struct cb_errbuf *eb);
cb_err jpeg_props(const char *path, cJSON *result, struct cb_errbuf *eb);

/* Checks a page's size against the limits; fills eb and returns CB_ETOOBIG if over. */
cb_err img_check_size(uint64_t w, uint64_t h, struct cb_errbuf *eb);

/* meta.c */
/* A text property from bytes that may be anything: invalid UTF-8 becomes U+FFFD, control
 * characters other than tab and newline are dropped, trailing space trimmed, at most cap
 * bytes kept. Empty values are not added. */
void img_prop_bytes(cJSON *result, const char *name, const char *value, size_t len, size_t cap);
/* A property name from a tag or key: letters, digits, '_', '.', '-' kept, others '_'. */
void img_prop_name(char *out, size_t cap, const char *prefix, const char *name);
/* A format's code and the name carboy gives it, in a table ended by a NULL name. */
struct img_code_name {
  int code;
  const char *name;
};
/* The name of code in table t, or dflt when the table does not hold it. */
const char *img_code_name(const struct img_code_name *t, int code, const char *dflt);
void img_resolution(cJSON *result, double x, double y, const char *unit);
/* An image description: ImageJ key=value lines become imagej_* properties, OME-XML is
 * kept as ome_xml with a few Pixels attributes as ome_*; any other text is kept as
 * ImageDescription. xres/yres (pixels per unit, 0 if unknown) give ImageJ pixel sizes. */
void img_description(cJSON *result, const char *desc, size_t len, double xres, double yres);
/* The ASCII tags of an Exif block (a little TIFF, as in JPEG's APP1) as properties. */
void img_exif_props(cJSON *result, const unsigned char *tiff, size_t len);

#endif
