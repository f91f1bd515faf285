/* PNG through libpng: properties from the chunks before the image data, and the image as
 * rows (palettes expanded, grey below 8 bits scaled to 8, alpha ignored, 16-bit samples
 * kept for the contrast stretch). libpng reports errors by longjmp: every function here
 * that calls it sets the jump first. Interlaced images are decoded whole, when they fit. */
#include <png.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "convert/image/image.h"

struct perr {
  char msg[256];
};

static void on_error(png_structp png, png_const_charp msg)
{
  struct perr *pe = png_get_error_ptr(png);
  if (pe && !pe->msg[0])
    snprintf(pe->msg, sizeof pe->msg, "%s", msg);
  png_longjmp(png, 1);
}

static void on_warning(png_structp png, png_const_charp msg)
{
  (void)png, (void)msg;
}

struct psrc {
  FILE *f;
  png_structp png;
  png_infop info;
  struct perr pe;
  uint32_t w, h, y;
  int depth, channels, nc, interlaced;
  size_t rowbytes;
  png_bytep row; /* one row, or the whole image when interlaced */
};

static void p_free(struct psrc *p)
{
  if (!p)
    return;
  if (p->png)
    png_destroy_read_struct(&p->png, p->info ? &p->info : NULL, NULL);
  if (p->f)
    fclose(p->f);
  free(p->row);
  free(p);
}

/* Reads the chunks before the image data; 0 on success. */
static int p_start(struct psrc *p)
{
  if (setjmp(png_jmpbuf(p->png)))
    return -1;
  png_set_user_limits(p->png, IMG_MAX_SIDE, IMG_MAX_SIDE);
  png_set_chunk_malloc_max(p->png, 8u << 20);
#ifdef PNG_MAXIMUM_INFLATE_WINDOW
  /* some encoders understate zlib's window: "invalid distance too far back" otherwise */
  png_set_option(p->png, PNG_MAXIMUM_INFLATE_WINDOW, PNG_OPTION_ON);
#endif
  png_init_io(p->png, p->f);
  png_read_info(p->png, p->info);
  return 0;
}

/* After libpng failed on the file's chunks: says why and frees p. (The jump itself has to
 * be set in the caller's frame.) */
static cb_err p_fail(struct psrc *p, struct cb_errbuf *eb)
{
  cb_errf(eb, "not a readable PNG file: %s", p->pe.msg[0] ? p->pe.msg : "libpng failed");
  p_free(p);
  return CB_EINVAL;
}

/* Opens the file and reads the chunks before the image data. */
static struct psrc *p_open(const char *path, struct cb_errbuf *eb)
{
  struct psrc *p = calloc(1, sizeof *p);
  if (!p) {
    cb_errf(eb, "out of memory");
    return NULL;
  }
  p->f = fopen(path, "rb");
  if (!p->f) {
    cb_errf(eb, "cannot open the file");
    p_free(p);
    return NULL;
  }
  p->png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &p->pe, on_error, on_warning);
  p->info = p->png ? png_create_info_struct(p->png) : NULL;
  if (!p->info) {
    cb_errf(eb, "out of memory");
    p_free(p);
    return NULL;
  }
  if (p_start(p)) {
    p_fail(p, eb);
    return NULL;
  }
  return p;
}

static const struct img_code_name png_colors[] = {
  {PNG_COLOR_TYPE_GRAY, "grey"},           {PNG_COLOR_TYPE_GRAY_ALPHA, "grey+alpha"}, {PNG_COLOR_TYPE_RGB, "rgb"},
  {PNG_COLOR_TYPE_RGB_ALPHA, "rgb+alpha"}, {PNG_COLOR_TYPE_PALETTE, "palette"},       {0, NULL},
};

cb_err png_props(const char *path, cJSON *result, struct cb_errbuf *eb)
{
  struct psrc *p = p_open(path, eb);
  if (!p)
    return CB_EINVAL;
  if (setjmp(png_jmpbuf(p->png)))
    return p_fail(p, eb);
  png_uint_32 w = png_get_image_width(p->png, p->info), h = png_get_image_height(p->png, p->info);
  int ct = png_get_color_type(p->png, p->info);
  cJSON_AddStringToObject(result, "kind", "image");
  cJSON_AddStringToObject(result, "media_type", "image/png");
  result_prop_text(result, "format", "PNG", NULL, NULL);
  result_prop_num(result, "width", w, "px", NULL);
  result_prop_num(result, "height", h, "px", NULL);
  result_prop_num(result, "bit_depth", png_get_bit_depth(p->png, p->info), NULL, NULL);
  result_prop_num(result, "channels", png_get_channels(p->png, p->info), NULL, NULL);
  result_prop_text(result, "sample_format", "uint", NULL, NULL);
  result_prop_num(result, "pages", 1, NULL, NULL);
  result_prop_text(result, "compression", "deflate", NULL, NULL);
  result_prop_text(result, "photometric", img_code_name(png_colors, ct, "unknown"), NULL, NULL);
  result_prop_text(result, "interlace",
                   png_get_interlace_type(p->png, p->info) == PNG_INTERLACE_ADAM7 ? "adam7" : "none", NULL, NULL);
  png_uint_32 rx, ry;
  int unit;
  if (png_get_pHYs(p->png, p->info, &rx, &ry, &unit))
    img_resolution(result, unit == PNG_RESOLUTION_METER ? rx / 100.0 : rx,
                   unit == PNG_RESOLUTION_METER ? ry / 100.0 : ry, unit == PNG_RESOLUTION_METER ? "px/cm" : NULL);
  png_timep mod;
  if (png_get_tIME(p->png, p->info, &mod)) {
    char t[32];
    snprintf(t, sizeof t, "%04u:%02u:%02u %02u:%02u:%02u", mod->year, mod->month % 100u, mod->day % 100u,
             mod->hour % 100u, mod->minute % 100u, mod->second % 100u);
    result_prop_text(result, "DateTime", t, NULL, NULL);
  }
  png_textp text;
  int ntext = 0;
  png_get_text(p->png, p->info, &text, &ntext);
  for (int i = 0; i < ntext && i < 256; i++) {
    if (!text[i].key || !text[i].text)
      continue;
    size_t len = text[i].compression > 0 ? text[i].itxt_length : text[i].text_length;
    if (!strcmp(text[i].key, "Description") || !strcmp(text[i].key, "ImageDescription")) {
      img_description(result, text[i].text, len, 0, 0);
    } else {
      char name[96];
      img_prop_name(name, sizeof name, NULL, text[i].key);
      img_prop_bytes(result, name, text[i].text, len, IMG_TAG_MAX);
    }
  }
  p_free(p);
  return CB_OK;
}

static cb_err p_row(struct img_src *s, float *row, struct cb_errbuf *eb)
{
  struct psrc *p = s->impl;
  if (p->y >= p->h) {
    cb_errf(eb, "read past the last row");
    return CB_EINVAL;
  }
  if (setjmp(png_jmpbuf(p->png))) {
    cb_errf(eb, "cannot read the PNG image at row %u: %s", (unsigned)p->y, p->pe.msg[0] ? p->pe.msg : "libpng failed");
    return CB_EINVAL;
  }
  png_bytep r;
  if (p->interlaced) {
    if (p->y == 0) /* all passes at once, into the whole image */
      for (int pass = 0; pass < 7; pass++)
        for (uint32_t y = 0; y < p->h; y++)
          png_read_row(p->png, p->row + (size_t)y * p->rowbytes, NULL);
    r = p->row + (size_t)p->y * p->rowbytes;
  } else {
    png_read_row(p->png, p->row, NULL);
    r = p->row;
  }
  unsigned ch = (unsigned)p->channels, nc = (unsigned)p->nc;
  for (uint32_t x = 0; x < p->w; x++)
    for (unsigned c = 0; c < nc; c++) {
      size_t i = (size_t)x * ch + c;
      row[x * nc + c] = p->depth == 16 ? (float)(r[2 * i] << 8 | r[2 * i + 1]) : (float)r[i];
    }
  p->y++;
  return CB_OK;
}

static void p_close(struct img_src *s)
{
  if (s) {
    p_free(s->impl);
    s->impl = NULL;
  }
}

cb_err png_open_src(const char *path, struct img_src *s, struct cb_errbuf *eb)
{
  *s = (struct img_src){.next_row = p_row, .close = p_close};
  struct psrc *p = p_open(path, eb);
  if (!p)
    return CB_EINVAL;
  if (setjmp(png_jmpbuf(p->png)))
    return p_fail(p, eb);
  p->w = png_get_image_width(p->png, p->info);
  p->h = png_get_image_height(p->png, p->info);
  cb_err e = img_check_size(p->w, p->h, eb);
  if (e) {
    p_free(p);
    return e;
  }
  int ct = png_get_color_type(p->png, p->info);
  if (ct == PNG_COLOR_TYPE_PALETTE)
    png_set_palette_to_rgb(p->png);
  if (ct == PNG_COLOR_TYPE_GRAY && png_get_bit_depth(p->png, p->info) < 8)
    png_set_expand_gray_1_2_4_to_8(p->png);
  p->interlaced = png_set_interlace_handling(p->png) > 1;
  png_read_update_info(p->png, p->info);
  p->depth = png_get_bit_depth(p->png, p->info);
  p->channels = png_get_channels(p->png, p->info);
  p->rowbytes = png_get_rowbytes(p->png, p->info);
  p->nc = p->channels >= 3 ? 3 : 1;
  uint64_t need = (uint64_t)p->rowbytes * (p->interlaced ? p->h : 1);
  if (need > IMG_MAX_BUFFER) {
    cb_errf(eb, "this interlaced PNG needs %llu MiB to decode, more than the %llu MiB allowed",
            (unsigned long long)(need >> 20), (unsigned long long)(IMG_MAX_BUFFER >> 20));
    p_free(p);
    return CB_ETOOBIG;
  }
  p->row = malloc((size_t)need);
  if (!p->row) {
    cb_errf(eb, "out of memory");
    p_free(p);
    return CB_ENOMEM;
  }
  s->impl = p;
  s->w = p->w, s->h = p->h, s->nc = p->nc;
  s->stretch = p->depth == 16;
  return CB_OK;
}
