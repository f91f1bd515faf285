/* JPEG through libjpeg: properties from the header (JFIF density, comments, Exif text),
 * and the image as scanlines, reduced by libjpeg's DCT scaling when a thumbnail is all
 * that is wanted. libjpeg's errors exit by default: ours jump back with the message; its
 * warnings (a truncated file is one) are kept for the result. */
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jpeglib.h> /* after stdio.h: it needs FILE and size_t */

#include "convert/image/image.h"

struct jerr {
  struct jpeg_error_mgr pub;
  jmp_buf jb;
  char msg[JMSG_LENGTH_MAX];
  char warning[JMSG_LENGTH_MAX];
};

static void on_error_exit(j_common_ptr cinfo)
{
  struct jerr *je = (struct jerr *)(void *)cinfo->err;
  (*cinfo->err->format_message)(cinfo, je->msg);
  longjmp(je->jb, 1);
}

static void on_emit(j_common_ptr cinfo, int level)
{
  struct jerr *je = (struct jerr *)(void *)cinfo->err;
  if (level < 0) {
    if (!je->warning[0])
      (*cinfo->err->format_message)(cinfo, je->warning);
    cinfo->err->num_warnings++;
  }
}

static void on_output(j_common_ptr cinfo)
{
  (void)cinfo;
}

struct jsrc {
  struct jpeg_decompress_struct cinfo;
  struct jerr je;
  FILE *f;
  int started, adobe, cmyk;
  uint32_t y;
  JSAMPLE *row;
};

static void j_free(struct jsrc *j)
{
  if (!j)
    return;
  jpeg_destroy_decompress(&j->cinfo);
  if (j->f)
    fclose(j->f);
  free(j->row);
  free(j);
}

/* Sets up a decompressor on path; the caller sets the jump before reading the header. */
static struct jsrc *j_new(const char *path, struct cb_errbuf *eb)
{
  struct jsrc *j = calloc(1, sizeof *j);
  if (!j) {
    cb_errf(eb, "out of memory");
    return NULL;
  }
  j->cinfo.err = jpeg_std_error(&j->je.pub);
  j->je.pub.error_exit = on_error_exit;
  j->je.pub.emit_message = on_emit;
  j->je.pub.output_message = on_output;
  jpeg_create_decompress(&j->cinfo);
  j->cinfo.mem->max_memory_to_use = (long)IMG_MAX_BUFFER;
  j->f = fopen(path, "rb");
  if (!j->f) {
    cb_errf(eb, "cannot open the file");
    j_free(j);
    return NULL;
  }
  jpeg_stdio_src(&j->cinfo, j->f);
  return j;
}

/* After a jump back from reading the header: says why and frees j. (The jump itself has
 * to be set in the caller's frame.) */
static cb_err j_fail(struct jsrc *j, struct cb_errbuf *eb)
{
  cb_errf(eb, "not a readable JPEG file: %s", j->je.msg);
  j_free(j);
  return CB_EINVAL;
}

static const struct img_code_name jpeg_spaces[] = {
  {JCS_GRAYSCALE, "grey"}, {JCS_YCbCr, "ycbcr"}, {JCS_RGB, "rgb"}, {JCS_CMYK, "cmyk"}, {JCS_YCCK, "ycck"}, {0, NULL},
};

cb_err jpeg_props(const char *path, cJSON *result, struct cb_errbuf *eb)
{
  struct jsrc *j = j_new(path, eb);
  if (!j)
    return CB_EINVAL;
  if (setjmp(j->je.jb))
    return j_fail(j, eb);
  jpeg_save_markers(&j->cinfo, JPEG_COM, 0xffff);
  jpeg_save_markers(&j->cinfo, JPEG_APP0 + 1, 0xffff);
  jpeg_read_header(&j->cinfo, TRUE);
  struct jpeg_decompress_struct *ci = &j->cinfo;
  cJSON_AddStringToObject(result, "kind", "image");
  cJSON_AddStringToObject(result, "media_type", "image/jpeg");
  result_prop_text(result, "format", "JPEG", NULL, NULL);
  result_prop_num(result, "width", ci->image_width, "px", NULL);
  result_prop_num(result, "height", ci->image_height, "px", NULL);
  result_prop_num(result, "bit_depth", ci->data_precision, NULL, NULL);
  result_prop_num(result, "channels", ci->num_components, NULL, NULL);
  result_prop_text(result, "sample_format", "uint", NULL, NULL);
  result_prop_num(result, "pages", 1, NULL, NULL);
  result_prop_text(result, "compression", ci->arith_code ? "jpeg-arithmetic" : "jpeg", NULL, NULL);
  result_prop_text(result, "photometric", img_code_name(jpeg_spaces, ci->jpeg_color_space, "unknown"), NULL, NULL);
  result_prop_text(result, "progressive", ci->progressive_mode ? "true" : "false", NULL, NULL);
  if (ci->saw_JFIF_marker && (ci->density_unit == 1 || ci->density_unit == 2))
    img_resolution(result, ci->X_density, ci->Y_density, ci->density_unit == 1 ? "dpi" : "px/cm");
  int comments = 0, exif = 0;
  for (jpeg_saved_marker_ptr m = ci->marker_list; m; m = m->next) {
    if (m->marker == JPEG_COM && !comments++)
      img_prop_bytes(result, "comment", (const char *)m->data, m->data_length, IMG_TAG_MAX);
    else if (m->marker == JPEG_APP0 + 1 && m->data_length > 14 && !memcmp(m->data, "Exif\0\0", 6) && !exif++)
      img_exif_props(result, m->data + 6, m->data_length - 6);
  }
  j_free(j);
  return CB_OK;
}

static cb_err j_row(struct img_src *s, float *row, struct cb_errbuf *eb)
{
  struct jsrc *j = s->impl;
  if (setjmp(j->je.jb)) {
    cb_errf(eb, "cannot read the JPEG image at row %u: %s", (unsigned)j->y, j->je.msg);
    return CB_EINVAL;
  }
  JSAMPROW rp = j->row;
  if (j->y >= j->cinfo.output_height || jpeg_read_scanlines(&j->cinfo, &rp, 1) != 1) {
    cb_errf(eb, "cannot read the JPEG image at row %u", (unsigned)j->y);
    return CB_EINVAL;
  }
  uint32_t w = j->cinfo.output_width;
  if (j->cmyk) { /* Adobe writes CMYK inverted */
    for (uint32_t x = 0; x < w; x++) {
      const JSAMPLE *p = j->row + 4 * (size_t)x;
      int k = j->adobe ? p[3] : 255 - p[3];
      for (int c = 0; c < 3; c++) {
        int v = j->adobe ? p[c] : 255 - p[c];
        row[3 * x + (uint32_t)c] = (float)(v * k / 255);
      }
    }
  } else {
    size_t n = (size_t)w * (size_t)s->nc;
    for (size_t i = 0; i < n; i++)
      row[i] = j->row[i];
  }
  j->y++;
  if (j->cinfo.err->num_warnings && !s->warning[0])
    snprintf(s->warning, sizeof s->warning, "%s", j->je.warning);
  return CB_OK;
}

static void j_close(struct img_src *s)
{
  if (s) {
    j_free(s->impl);
    s->impl = NULL;
  }
}

cb_err jpeg_open_src(const char *path, uint32_t min_side, struct img_src *s, struct cb_errbuf *eb)
{
  *s = (struct img_src){.next_row = j_row, .close = j_close};
  struct jsrc *j = j_new(path, eb);
  if (!j)
    return CB_EINVAL;
  if (setjmp(j->je.jb))
    return j_fail(j, eb);
  struct jpeg_decompress_struct *ci = &j->cinfo;
  jpeg_save_markers(ci, JPEG_APP0 + 14, 0); /* only to know an Adobe marker was there */
  jpeg_read_header(ci, TRUE);
  cb_err e = img_check_size(ci->image_width, ci->image_height, eb);
  if (e) {
    j_free(j);
    return e;
  }
  uint64_t coefs = (uint64_t)ci->image_width * ci->image_height * (uint64_t)ci->num_components * 2;
  if (ci->progressive_mode && coefs > IMG_MAX_BUFFER) {
    cb_errf(eb, "this progressive JPEG needs %llu MiB to decode, more than the %llu MiB allowed",
            (unsigned long long)(coefs >> 20), (unsigned long long)(IMG_MAX_BUFFER >> 20));
    j_free(j);
    return CB_ETOOBIG;
  }
  uint32_t longer = ci->image_width > ci->image_height ? ci->image_width : ci->image_height;
  unsigned denom = 1;
  while (min_side && denom < 8 && (longer + denom * 2 - 1) / (denom * 2) >= min_side)
    denom *= 2;
  ci->scale_num = 1;
  ci->scale_denom = denom;
  j->adobe = ci->saw_Adobe_marker;
  if (ci->jpeg_color_space == JCS_CMYK || ci->jpeg_color_space == JCS_YCCK) {
    ci->out_color_space = JCS_CMYK;
    j->cmyk = 1;
  } else if (ci->jpeg_color_space == JCS_GRAYSCALE) {
    ci->out_color_space = JCS_GRAYSCALE;
  } else {
    ci->out_color_space = JCS_RGB;
  }
  jpeg_start_decompress(ci);
  j->started = 1;
  j->row = malloc((size_t)ci->output_width * (size_t)ci->output_components);
  if (!j->row) {
    cb_errf(eb, "out of memory");
    j_free(j);
    return CB_ENOMEM;
  }
  s->impl = j;
  s->w = ci->output_width, s->h = ci->output_height;
  s->nc = j->cmyk || ci->output_components >= 3 ? 3 : 1;
  return CB_OK;
}
