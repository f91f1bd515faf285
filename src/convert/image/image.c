/* Images (PNG, JPEG, TIFF) through libpng, libjpeg and libtiff: dimensions, depth,
 * channels, pages, resolution and microscopy metadata as properties; a PNG thumbnail as
 * the preview, and of a TIFF's other pages on request (op preview); the first page as a
 * full-size 8-bit PNG (op convert, to=png).
 *
 * Pixels flow as rows from a decoder (tiff.c, png.c, jpeg.c) to an 8-bit mapping and out,
 * so memory stays bounded by a row, a strip or a row of tiles, whatever the image's size:
 * the thumbnail is a box filter accumulated row by row into at most 256 x 256 cells; the
 * conversion writes each row as it comes. Data that is not 8-bit (16-bit, 32-bit, signed,
 * float) is stretched between its 0.5th and 99.5th percentiles: for the thumbnail those of
 * the reduced image, for a conversion those of a grid of at most 512 x 512 samples taken
 * in a first pass. Over IMG_MAX_SIDE per side, IMG_MAX_PIXELS in all or IMG_MAX_BUFFER of
 * working memory, an image is refused with a reason. */
#include <math.h>
#include <png.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "convert/image/image.h"

#define SAMPLE_GRID 512 /* a conversion's contrast comes from at most this many samples squared */

static const char *const suffixes[] = {".png", ".jpg", ".jpeg", ".jpe", ".jfif", ".tif", ".tiff", ".btf", ".tf8", NULL};

enum img_format img_detect(const unsigned char *head, size_t len)
{
  if (len >= 8 && !memcmp(head, "\x89PNG\r\n\x1a\n", 8))
    return IMG_PNG;
  if (len >= 3 && head[0] == 0xff && head[1] == 0xd8 && head[2] == 0xff)
    return IMG_JPEG;
  if (len >= 4 && (!memcmp(head, "II*\0", 4) || !memcmp(head, "MM\0*", 4) || !memcmp(head, "II+\0", 4) ||
                   !memcmp(head, "MM\0+", 4)))
    return IMG_TIFF;
  return IMG_NONE;
}

static int sniff(const unsigned char *head, size_t len, const struct cb_convert_input *in)
{
  if (img_detect(head, len) != IMG_NONE)
    return 70;
  /* named like an image: claimed weakly, so the job says what is wrong with it */
  return suffix_is(in->name, suffixes) ? 5 : 0;
}

cb_err img_check_size(uint64_t w, uint64_t h, struct cb_errbuf *eb)
{
  if (w > IMG_MAX_SIDE || h > IMG_MAX_SIDE || w * h > IMG_MAX_PIXELS) {
    cb_errf(eb, "the image is %llu x %llu px: too large (at most %u px per side and %llu megapixels are read)",
            (unsigned long long)w, (unsigned long long)h, IMG_MAX_SIDE, (unsigned long long)(IMG_MAX_PIXELS / 1000000));
    return CB_ETOOBIG;
  }
  return CB_OK;
}

static cb_err detect_file(const char *path, enum img_format *fmt, struct cb_errbuf *eb)
{
  unsigned char head[16];
  FILE *f = fopen(path, "rb");
  if (!f) {
    cb_errf(eb, "cannot open the file");
    return CB_EIO;
  }
  size_t n = fread(head, 1, sizeof head, f);
  fclose(f);
  *fmt = img_detect(head, n);
  if (*fmt == IMG_NONE) {
    cb_errf(eb, "named like an image, but the content is not PNG, JPEG or TIFF");
    return CB_EINVAL;
  }
  return CB_OK;
}

/* Opens page (from 1) of the file: only a TIFF has more than one. */
static cb_err open_src(enum img_format fmt, const char *path, uint32_t page, uint32_t min_side, struct img_src *s,
                       struct cb_errbuf *eb)
{
  memset(s, 0, sizeof *s);
  if (page > 1 && fmt != IMG_TIFF) {
    cb_errf(eb, "the file has no page %u: only a TIFF has more than one", (unsigned)page);
    return CB_EINVAL;
  }
  switch (fmt) {
  case IMG_PNG: return png_open_src(path, s, eb);
  case IMG_JPEG: return jpeg_open_src(path, min_side, s, eb);
  case IMG_TIFF: return tiff_open_src(path, page, s, eb);
  default: cb_errf(eb, "not an image"); return CB_EINVAL;
  }
}

static void close_src(struct img_src *s)
{
  if (s->close)
    s->close(s);
  s->close = NULL;
}

/* ---- 8-bit mapping ---- */

struct mapping {
  int stretch, invert;
  float lo, hi;
};

static int cmp_float(const void *a, const void *b)
{
  float x = *(const float *)a, y = *(const float *)b;
  return x < y ? -1 : x > y;
}

/* The 0.5th and 99.5th percentiles of v (finite values; reordered); min and max when they
 * coincide, so that sparse bright spots on a flat background still show. */
static void percentiles(float *v, size_t n, struct mapping *m)
{
  m->lo = 0, m->hi = 255;
  if (!n)
    return;
  qsort(v, n, sizeof *v, cmp_float);
  m->lo = v[(size_t)((double)(n - 1) * 0.005)];
  m->hi = v[(size_t)((double)(n - 1) * 0.995 + 0.5)];
  if (!(m->hi > m->lo)) {
    m->lo = v[0];
    m->hi = v[n - 1];
  }
  if (!(m->hi > m->lo))
    m->hi = m->lo + 1;
}

static unsigned char to8(float v, const struct mapping *m)
{
  if (isnan(v))
    return 0;
  if (m->stretch)
    v = (v - m->lo) * 255.0f / (m->hi - m->lo);
  int o = v <= 0 ? 0 : v >= 255 ? 255 : (int)(v + 0.5f);
  return (unsigned char)(m->invert ? 255 - o : o);
}

/* ---- PNG output, row by row ---- */

struct pngw {
  FILE *f;
  png_structp png;
  png_infop info;
  char msg[256];
};

static void pngw_error(png_structp png, png_const_charp msg)
{
  struct pngw *pw = png_get_error_ptr(png);
  if (!pw->msg[0])
    snprintf(pw->msg, sizeof pw->msg, "%s", msg);
  png_longjmp(png, 1);
}

static void pngw_warning(png_structp png, png_const_charp msg)
{
  (void)png, (void)msg;
}

static void pngw_free(struct pngw *pw)
{
  if (pw->png)
    png_destroy_write_struct(&pw->png, pw->info ? &pw->info : NULL);
  if (pw->f)
    fclose(pw->f);
  pw->png = NULL, pw->info = NULL, pw->f = NULL;
}

static cb_err pngw_open(struct pngw *pw, const char *path, uint32_t w, uint32_t h, int nc, int level,
                        struct cb_errbuf *eb)
{
  memset(pw, 0, sizeof *pw);
  pw->f = fopen(path, "wb");
  if (!pw->f) {
    cb_errf(eb, "cannot write the PNG");
    return CB_EIO;
  }
  pw->png = png_create_write_struct(PNG_LIBPNG_VER_STRING, pw, pngw_error, pngw_warning);
  pw->info = pw->png ? png_create_info_struct(pw->png) : NULL;
  if (!pw->info) {
    pngw_free(pw);
    cb_errf(eb, "out of memory");
    return CB_ENOMEM;
  }
  if (setjmp(png_jmpbuf(pw->png))) {
    cb_errf(eb, "cannot write the PNG: %s", pw->msg);
    pngw_free(pw);
    return CB_EIO;
  }
  png_init_io(pw->png, pw->f);
  png_set_compression_level(pw->png, level);
  png_set_IHDR(pw->png, pw->info, w, h, 8, nc == 3 ? PNG_COLOR_TYPE_RGB : PNG_COLOR_TYPE_GRAY, PNG_INTERLACE_NONE,
               PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  png_write_info(pw->png, pw->info);
  return CB_OK;
}

static cb_err pngw_row(struct pngw *pw, unsigned char *row, struct cb_errbuf *eb)
{
  if (setjmp(png_jmpbuf(pw->png))) {
    cb_errf(eb, "cannot write the PNG: %s", pw->msg);
    return CB_EIO;
  }
  png_write_row(pw->png, row);
  return CB_OK;
}

static cb_err pngw_finish(struct pngw *pw, struct cb_errbuf *eb)
{
  if (setjmp(png_jmpbuf(pw->png))) {
    cb_errf(eb, "cannot write the PNG: %s", pw->msg);
    return CB_EIO;
  }
  png_write_end(pw->png, NULL);
  int bad = ferror(pw->f);
  bad |= fclose(pw->f);
  pw->f = NULL;
  if (bad) {
    cb_errf(eb, "cannot write the PNG");
    return CB_EIO;
  }
  return CB_OK;
}

/* ---- the thumbnail ---- */

static cb_err thumbnail(enum img_format fmt, const struct cb_convert_input *in, uint32_t page, const char *outpath,
                        cb_progress_fn progress, void *pctx, char *warning, size_t wcap, struct cb_errbuf *eb)
{
  struct img_src s;
  cb_err e = open_src(fmt, in->path, page, IMG_THUMB, &s, eb);
  if (e)
    return e;
  uint32_t w = s.w, h = s.h, longer = w > h ? w : h, tw = w, th = h;
  unsigned nc = (unsigned)s.nc;
  if (longer > IMG_THUMB) {
    tw = (uint32_t)(((uint64_t)w * IMG_THUMB + longer / 2) / longer);
    th = (uint32_t)(((uint64_t)h * IMG_THUMB + longer / 2) / longer);
    tw = tw ? tw : 1, th = th ? th : 1;
  }
  size_t cells = (size_t)tw * th;
  double *acc = calloc(cells * nc, sizeof *acc);
  uint32_t *cnt = calloc(cells, sizeof *cnt), *xmap = malloc((size_t)w * sizeof *xmap);
  float *row = malloc((size_t)w * nc * sizeof *row), *val = malloc(cells * nc * sizeof *val);
  unsigned char *out = malloc((size_t)tw * nc);
  struct pngw pw = {0};
  if (!acc || !cnt || !xmap || !row || !val || !out) {
    cb_errf(eb, "out of memory");
    e = CB_ENOMEM;
    goto out;
  }
  for (uint32_t x = 0; x < w; x++)
    xmap[x] = (uint32_t)((uint64_t)x * tw / w);
  for (uint32_t y = 0; y < h; y++) {
    if ((e = s.next_row(&s, row, eb)))
      goto out;
    size_t base = (size_t)((uint64_t)y * th / h) * tw;
    for (uint32_t x = 0; x < w; x++) {
      const float *px = row + (size_t)x * nc;
      int finite = 1;
      for (unsigned c = 0; c < nc; c++)
        finite &= isfinite(px[c]) != 0;
      if (!finite)
        continue;
      size_t cell = base + xmap[x];
      for (unsigned c = 0; c < nc; c++)
        acc[cell * nc + c] += px[c];
      cnt[cell]++;
    }
    if ((y & 63) == 0)
      progress(pctx, 0.1 + 0.85 * (double)y / h);
  }
  size_t nfinite = 0;
  for (size_t i = 0; i < cells; i++)
    for (unsigned c = 0; c < nc; c++)
      val[i * nc + c] = cnt[i] ? (float)(acc[i * nc + c] / cnt[i]) : NAN;
  struct mapping m = {s.stretch, s.invert, 0, 255};
  if (s.stretch) { /* percentiles of the reduced image; acc is free to hold the copy */
    float *tmp = (float *)(void *)acc;
    for (size_t i = 0; i < cells * nc; i++)
      if (!isnan(val[i]))
        tmp[nfinite++] = val[i];
    percentiles(tmp, nfinite, &m);
  }
  if ((e = pngw_open(&pw, outpath, tw, th, s.nc, 6, eb)))
    goto out;
  for (uint32_t y = 0; y < th; y++) {
    for (size_t i = 0; i < (size_t)tw * nc; i++)
      out[i] = to8(val[(size_t)y * tw * nc + i], &m);
    if ((e = pngw_row(&pw, out, eb)))
      goto out;
  }
  e = pngw_finish(&pw, eb);
  if (s.warning[0])
    snprintf(warning, wcap, "%s", s.warning);
out:
  pngw_free(&pw);
  close_src(&s);
  free(acc), free(cnt), free(xmap), free(row), free(val), free(out);
  return e;
}

static cb_err extract(const struct cb_convert_input *in, cJSON *result, cb_progress_fn progress, void *pctx,
                      struct cb_errbuf *eb)
{
  enum img_format fmt;
  cb_err e = detect_file(in->path, &fmt, eb);
  if (e)
    return e;
  e = fmt == IMG_PNG    ? png_props(in->path, result, eb)
      : fmt == IMG_JPEG ? jpeg_props(in->path, result, eb)
                        : tiff_props(in->path, result, eb);
  if (e)
    return e;
  progress(pctx, 0.1);
  char outpath[4200], warning[200] = "";
  snprintf(outpath, sizeof outpath, "%s/preview.png", in->workdir);
  if ((e = thumbnail(fmt, in, 1, outpath, progress, pctx, warning, sizeof warning, eb)))
    return e;
  if (warning[0])
    result_prop_text(result, "decode_warning", warning, NULL, NULL);
  result_artifact(result, "preview", "image/png", outpath);
  progress(pctx, 1.0);
  return CB_OK;
}

/* A page's thumbnail (op "preview"): a TIFF's directory page, made as extract makes the
 * first page's. */
static cb_err page_preview(const struct cb_convert_input *in, int page, const char *outpath, cJSON *result,
                           cb_progress_fn progress, void *pctx, struct cb_errbuf *eb)
{
  enum img_format fmt;
  char warning[200] = ""; /* a worked-around flaw: the ingest recorded the file's */
  if (page < 1) {
    cb_errf(eb, "pages count from 1");
    return CB_EINVAL;
  }
  cb_err e = detect_file(in->path, &fmt, eb);
  if (!e)
    e = thumbnail(fmt, in, (uint32_t)page, outpath, progress, pctx, warning, sizeof warning, eb);
  if (e)
    return e;
  cJSON_AddStringToObject(result, "media_type", "image/png");
  progress(pctx, 1.0);
  return CB_OK;
}

/* ---- conversion: the first page as a full-size 8-bit PNG ---- */

/* The first pass for data to stretch: a grid of samples, their percentiles. */
static cb_err sample_contrast(enum img_format fmt, const char *path, struct mapping *m, cb_progress_fn progress,
                              void *pctx, struct cb_errbuf *eb)
{
  struct img_src s;
  cb_err e = open_src(fmt, path, 1, 0, &s, eb);
  if (e)
    return e;
  uint32_t sy = s.h / SAMPLE_GRID + 1, sx = s.w / SAMPLE_GRID + 1;
  unsigned nc = (unsigned)s.nc;
  size_t cap = ((size_t)(s.w / sx) + 1) * ((size_t)(s.h / sy) + 1) * nc, n = 0;
  float *row = malloc((size_t)s.w * nc * sizeof *row), *v = malloc(cap * sizeof *v);
  if (!row || !v) {
    cb_errf(eb, "out of memory");
    e = CB_ENOMEM;
    goto out;
  }
  for (uint32_t y = 0; y < s.h; y++) {
    if ((e = s.next_row(&s, row, eb)))
      goto out;
    if (y % sy)
      continue;
    for (uint32_t x = 0; x < s.w && n + nc <= cap; x += sx)
      for (unsigned c = 0; c < nc; c++)
        if (isfinite(row[(size_t)x * nc + c]))
          v[n++] = row[(size_t)x * nc + c];
    if ((y & 63) == 0)
      progress(pctx, 0.5 * (double)y / s.h);
  }
  percentiles(v, n, m);
out:
  close_src(&s);
  free(row), free(v);
  return e;
}

static cb_err convert(const struct cb_convert_input *in, const char *to, const char *outpath, cJSON *result,
                      cb_progress_fn progress, void *pctx, struct cb_errbuf *eb)
{
  (void)to; /* png, the only target */
  enum img_format fmt;
  cb_err e = detect_file(in->path, &fmt, eb);
  if (e)
    return e;
  struct img_src s;
  if ((e = open_src(fmt, in->path, 1, 0, &s, eb)))
    return e;
  struct mapping m = {s.stretch, s.invert, 0, 255};
  double p0 = 0;
  if (s.stretch) {
    close_src(&s);
    if ((e = sample_contrast(fmt, in->path, &m, progress, pctx, eb)))
      return e;
    if ((e = open_src(fmt, in->path, 1, 0, &s, eb)))
      return e;
    p0 = 0.5;
  }
  unsigned nc = (unsigned)s.nc;
  float *row = malloc((size_t)s.w * nc * sizeof *row);
  unsigned char *out = malloc((size_t)s.w * nc);
  struct pngw pw = {0};
  if (!row || !out) {
    cb_errf(eb, "out of memory");
    e = CB_ENOMEM;
    goto out;
  }
  if ((e = pngw_open(&pw, outpath, s.w, s.h, s.nc, 4, eb)))
    goto out;
  for (uint32_t y = 0; y < s.h; y++) {
    if ((e = s.next_row(&s, row, eb)))
      goto out;
    for (size_t i = 0; i < (size_t)s.w * nc; i++)
      out[i] = to8(row[i], &m);
    if ((e = pngw_row(&pw, out, eb)))
      goto out;
    if ((y & 63) == 0)
      progress(pctx, p0 + (1 - p0) * (double)y / s.h);
  }
  if ((e = pngw_finish(&pw, eb)))
    goto out;
  cJSON_AddStringToObject(result, "media_type", "image/png");
out:
  pngw_free(&pw);
  close_src(&s);
  free(row), free(out);
  return e;
}

static const char *const targets[] = {"png", NULL};
static const struct converter_desc desc = {"image", "image", suffixes, sniff, NULL};
static const struct converter_ops ops = {extract, convert, targets, page_preview};
const struct converter conv_image = {&desc, &ops};
