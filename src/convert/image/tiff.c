/* TIFF through libtiff: properties of the first directory, the directory count (walked by
 * hand, capped, loops detected), text tags and descriptions. The pixels are tiffread.c's.
 *
 * libtiff's messages are recorded per open file (TIFFOpenOptions' handlers, libtiff 4.5)
 * and become the job's error; nothing goes to stderr. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <tiffio.h>
#include <unistd.h>

#include "convert/image/image.h"
#include "convert/image/tiff.h"

static int on_error(TIFF *tif, void *ud, const char *module, const char *fmt, va_list ap)
{
  (void)tif;
  struct terr *te = ud;
  if (!te->msg[0]) { /* the first error is the cause; later ones follow from it */
    int n = module && *module ? snprintf(te->msg, sizeof te->msg, "%s: ", module) : 0;
    if (n < 0 || (size_t)n >= sizeof te->msg)
      n = 0;
    vsnprintf(te->msg + n, sizeof te->msg - (size_t)n, fmt, ap);
  }
  return 1; /* handled: no global handler, nothing on stderr */
}

static int on_warning(TIFF *tif, void *ud, const char *module, const char *fmt, va_list ap)
{
  (void)tif, (void)module, (void)fmt, (void)ap;
  ((struct terr *)ud)->warnings++;
  return 1;
}

TIFF *tiff_open(const char *path, struct terr *te, struct cb_errbuf *eb)
{
  TIFFSetErrorHandler(NULL); /* messages without a TIFF* would otherwise go to stderr */
  TIFFSetWarningHandler(NULL);
  te->msg[0] = 0;
  te->warnings = 0;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    cb_errf(eb, "cannot open the file: %s", strerror(errno));
    return NULL;
  }
  TIFFOpenOptions *opts = TIFFOpenOptionsAlloc();
  if (!opts) {
    close(fd);
    cb_errf(eb, "out of memory");
    return NULL;
  }
  TIFFOpenOptionsSetMaxSingleMemAlloc(opts, (tmsize_t)IMG_MAX_BUFFER);
  TIFFOpenOptionsSetErrorHandlerExtR(opts, on_error, te);
  TIFFOpenOptionsSetWarningHandlerExtR(opts, on_warning, te);
  TIFF *tif = TIFFFdOpenExt(fd, "TIFF", "r", opts);
  TIFFOpenOptionsFree(opts);
  if (!tif) {
    close(fd);
    cb_errf(eb, "not a readable TIFF file: %s", te->msg[0] ? te->msg : "no readable image directory");
  }
  return tif;
}

/* ---- the directory chain, walked by hand so it can be counted cheaply and capped ---- */

static uint64_t rd(const unsigned char *p, int n, int be)
{
  uint64_t v = 0;
  for (int i = 0; i < n; i++)
    v |= (uint64_t)p[be ? i : n - 1 - i] << (8 * (n - 1 - i));
  return v;
}

struct offset_set {
  uint64_t *slot;
  size_t cap;
};

/* 1 if off was there already; adds it otherwise. */
static int seen(struct offset_set *s, uint64_t off)
{
  size_t i = (size_t)((off * 0x9e3779b97f4a7c15ull) >> 40) & (s->cap - 1);
  while (s->slot[i]) {
    if (s->slot[i] == off)
      return 1;
    i = (i + 1) & (s->cap - 1);
  }
  s->slot[i] = off;
  return 0;
}

static uint32_t count_pages(const char *path, int *capped)
{
  *capped = 0;
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return 0;
  unsigned char h[16], b[8];
  uint32_t n = 0;
  struct offset_set set = {calloc(1u << 18, sizeof(uint64_t)), 1u << 18};
  if (!set.slot || pread(fd, h, 16, 0) < 8)
    goto out;
  int be = h[0] == 'M', big = rd(h + 2, 2, be) == 43;
  uint64_t off = big ? rd(h + 8, 8, be) : rd(h + 4, 4, be);
  while (off && n < IMG_PAGES_MAX && !seen(&set, off)) {
    int cs = big ? 8 : 2, es = big ? 20 : 12, ps = big ? 8 : 4;
    if (pread(fd, b, (size_t)cs, (off_t)off) != cs)
      break;
    uint64_t entries = rd(b, cs, be);
    if (entries > 65535)
      break;
    n++;
    if (pread(fd, b, (size_t)ps, (off_t)(off + (uint64_t)cs + entries * (uint64_t)es)) != ps)
      break;
    off = rd(b, ps, be);
  }
  *capped = n >= IMG_PAGES_MAX && off;
out:
  free(set.slot);
  close(fd);
  return n;
}

/* ---- properties ---- */

static const struct img_code_name tiff_compressions[] = {
  {COMPRESSION_NONE, "none"},
  {COMPRESSION_CCITTRLE, "ccitt-rle"},
  {COMPRESSION_CCITTFAX3, "ccitt-g3"},
  {COMPRESSION_CCITTFAX4, "ccitt-g4"},
  {COMPRESSION_LZW, "lzw"},
  {COMPRESSION_OJPEG, "old-jpeg"},
  {COMPRESSION_JPEG, "jpeg"},
  {COMPRESSION_ADOBE_DEFLATE, "deflate"},
  {COMPRESSION_DEFLATE, "deflate"},
  {COMPRESSION_PACKBITS, "packbits"},
  {COMPRESSION_NEXT, "next"},
  {COMPRESSION_THUNDERSCAN, "thunderscan"},
  {COMPRESSION_JBIG, "jbig"},
  {COMPRESSION_SGILOG, "sgilog"},
  {COMPRESSION_SGILOG24, "sgilog24"},
  {COMPRESSION_LZMA, "lzma"},
  {COMPRESSION_ZSTD, "zstd"},
  {COMPRESSION_WEBP, "webp"},
  {50002, "jpeg-xl"},
  {33003, "jpeg2000"},
  {33005, "jpeg2000"},
  {34712, "jpeg2000"},
  {0, NULL},
};

static const struct img_code_name tiff_photometrics[] = {
  {PHOTOMETRIC_MINISWHITE, "min-is-white"},
  {PHOTOMETRIC_MINISBLACK, "min-is-black"},
  {PHOTOMETRIC_RGB, "rgb"},
  {PHOTOMETRIC_PALETTE, "palette"},
  {PHOTOMETRIC_MASK, "mask"},
  {PHOTOMETRIC_SEPARATED, "separated"},
  {PHOTOMETRIC_YCBCR, "ycbcr"},
  {PHOTOMETRIC_CIELAB, "cielab"},
  {PHOTOMETRIC_ICCLAB, "icclab"},
  {PHOTOMETRIC_ITULAB, "itulab"},
  {PHOTOMETRIC_CFA, "cfa"},
  {PHOTOMETRIC_LOGL, "logl"},
  {PHOTOMETRIC_LOGLUV, "logluv"},
  {34892, "linear-raw"},
  {0, NULL},
};

const char *tiff_format_name(uint16_t f)
{
  return f == SAMPLEFORMAT_INT             ? "int"
         : f == SAMPLEFORMAT_IEEEFP        ? "float"
         : f == SAMPLEFORMAT_UINT          ? "uint"
         : f == SAMPLEFORMAT_COMPLEXINT    ? "complex-int"
         : f == SAMPLEFORMAT_COMPLEXIEEEFP ? "complex-float"
                                           : "void";
}

int tiff_ascii(TIFF *tif, uint32_t tag, const char **s, size_t *len)
{
  const TIFFField *f = TIFFFindField(tif, tag, TIFF_ANY);
  *s = NULL, *len = 0;
  if (!f || TIFFFieldDataType(f) != TIFF_ASCII)
    return 0;
  if (TIFFFieldPassCount(f)) { /* tags libtiff does not know come with their count */
    void *data = NULL;
    if (TIFFFieldReadCount(f) == TIFF_VARIABLE2) {
      uint32_t c = 0;
      if (TIFFGetField(tif, tag, &c, &data) == 1)
        *len = c;
    } else {
      uint16_t c = 0;
      if (TIFFGetField(tif, tag, &c, &data) == 1)
        *len = c;
    }
    *s = data;
  } else if (TIFFGetField(tif, tag, s) == 1 && *s) {
    *len = strlen(*s);
  }
  if (*s && *len && memchr(*s, 0, *len))
    *len = strlen(*s);
  return *s && *len;
}

/* Private tags libtiff does not name, that carry text worth a name. */
static const struct {
  uint32_t tag;
  const char *name;
} private_tags[] = {
  {34737, "GeoAsciiParams"},
  {42112, "GDAL_METADATA"},
  {42113, "GDAL_NODATA"},
};

/* Every ASCII tag of the current directory but ImageDescription, named after the tag. */
static void ascii_tags(TIFF *tif, cJSON *result)
{
  int n = TIFFGetTagListCount(tif);
  for (int i = 0; i < n && i < 1000; i++) {
    uint32_t tag = TIFFGetTagListEntry(tif, i);
    const TIFFField *f = TIFFFindField(tif, tag, TIFF_ANY);
    const char *s;
    size_t len;
    if (!f || tag == TIFFTAG_IMAGEDESCRIPTION || !tiff_ascii(tif, tag, &s, &len))
      continue;
    char name[80], tagname[40];
    const char *fn = TIFFFieldIsAnonymous(f) ? NULL : TIFFFieldName(f);
    for (size_t k = 0; k < sizeof private_tags / sizeof private_tags[0] && !fn; k++)
      if (private_tags[k].tag == tag)
        fn = private_tags[k].name;
    if (!fn || !*fn) {
      snprintf(tagname, sizeof tagname, "tag_%u", (unsigned)tag);
      fn = tagname;
    }
    img_prop_name(name, sizeof name, NULL, fn);
    img_prop_bytes(result, name, s, len, IMG_TAG_MAX);
  }
}

cb_err tiff_props(const char *path, cJSON *result, struct cb_errbuf *eb)
{
  struct terr te;
  TIFF *tif = tiff_open(path, &te, eb);
  if (!tif)
    return CB_EINVAL;
  uint32_t w = 0, h = 0;
  uint16_t bps = 1, spp = 1, fmt = SAMPLEFORMAT_UINT, comp = COMPRESSION_NONE, photo = 0, planar = PLANARCONFIG_CONTIG;
  uint16_t resunit = RESUNIT_INCH;
  float xres = 0, yres = 0;
  TIFFGetField(tif, TIFFTAG_IMAGEWIDTH, &w);
  TIFFGetField(tif, TIFFTAG_IMAGELENGTH, &h);
  TIFFGetFieldDefaulted(tif, TIFFTAG_BITSPERSAMPLE, &bps);
  TIFFGetFieldDefaulted(tif, TIFFTAG_SAMPLESPERPIXEL, &spp);
  TIFFGetFieldDefaulted(tif, TIFFTAG_SAMPLEFORMAT, &fmt);
  TIFFGetFieldDefaulted(tif, TIFFTAG_COMPRESSION, &comp);
  TIFFGetFieldDefaulted(tif, TIFFTAG_PLANARCONFIG, &planar);
  int has_photo = TIFFGetField(tif, TIFFTAG_PHOTOMETRIC, &photo);
  cJSON_AddStringToObject(result, "kind", "image");
  cJSON_AddStringToObject(result, "media_type", "image/tiff");
  result_prop_text(result, "format", TIFFIsBigTIFF(tif) ? "BigTIFF" : "TIFF", NULL, NULL);
  result_prop_num(result, "width", w, "px", NULL);
  result_prop_num(result, "height", h, "px", NULL);
  result_prop_num(result, "bit_depth", bps, NULL, NULL);
  result_prop_num(result, "channels", spp, NULL, NULL);
  result_prop_text(result, "sample_format", tiff_format_name(fmt), NULL, NULL);
  int capped;
  uint32_t pages = count_pages(path, &capped);
  result_prop_num(result, "pages", pages ? pages : 1, NULL, NULL);
  if (capped)
    result_prop_text(result, "pages_capped", "true", NULL, NULL);
  const char *cn = img_code_name(tiff_compressions, comp, NULL);
  char cbuf[24];
  if (!cn) {
    const TIFFCodec *codec = TIFFFindCODEC(comp);
    snprintf(cbuf, sizeof cbuf, "%s", codec && codec->name ? codec->name : "");
    if (!cbuf[0])
      snprintf(cbuf, sizeof cbuf, "%u", comp);
    cn = cbuf;
  }
  result_prop_text(result, "compression", cn, NULL, NULL);
  const char *pn = has_photo ? img_code_name(tiff_photometrics, photo, NULL) : NULL;
  if (pn)
    result_prop_text(result, "photometric", pn, NULL, NULL);
  result_prop_text(result, "tiled", TIFFIsTiled(tif) ? "true" : "false", NULL, NULL);
  if (TIFFIsTiled(tif)) {
    uint32_t tw = 0, tl = 0;
    TIFFGetField(tif, TIFFTAG_TILEWIDTH, &tw);
    TIFFGetField(tif, TIFFTAG_TILELENGTH, &tl);
    result_prop_num(result, "tile_width", tw, "px", NULL);
    result_prop_num(result, "tile_height", tl, "px", NULL);
  }
  if (spp > 1)
    result_prop_text(result, "planar_config", planar == PLANARCONFIG_SEPARATE ? "separate" : "contig", NULL, NULL);
  result_prop_text(result, "byte_order", TIFFIsBigEndian(tif) ? "big-endian" : "little-endian", NULL, NULL);
  int has_res = TIFFGetField(tif, TIFFTAG_XRESOLUTION, &xres) == 1;
  if (TIFFGetField(tif, TIFFTAG_YRESOLUTION, &yres) != 1)
    yres = xres;
  TIFFGetFieldDefaulted(tif, TIFFTAG_RESOLUTIONUNIT, &resunit);
  if (has_res)
    img_resolution(result, xres, yres,
                   resunit == RESUNIT_INCH         ? "dpi"
                   : resunit == RESUNIT_CENTIMETER ? "px/cm"
                                                   : NULL);
  const char *desc = NULL;
  if (TIFFGetField(tif, TIFFTAG_IMAGEDESCRIPTION, &desc) == 1 && desc)
    img_description(result, desc, strlen(desc), has_res && resunit == RESUNIT_NONE ? xres : 0,
                    has_res && resunit == RESUNIT_NONE ? yres : 0);
  ascii_tags(tif, result);
  TIFFClose(tif);
  return CB_OK;
}
