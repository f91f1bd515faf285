/* PDF documents through poppler-glib: page count, the document information (title,
 * author, dates, ...), the text of the pages as the "text" artifact (a word hyphenated at a
 * line end joined, as pdftotext joins it) and a first-page thumbnail as the "preview"
 * artifact; another page's thumbnail on request (op preview); conversion to txt writes the
 * same text.
 *
 * Bounds: the text covers at most PDF_TEXT_PAGES pages and PDF_TEXT_MAX bytes (cut on a
 * character boundary; both say so in a property); the thumbnail is at most PDF_THUMB_PX
 * on its longer side. Time and memory are bounded by the worker's limits (a PDF that
 * takes poppler too long fails its job, not the server). */
#include <glib.h>
#include <limits.h>
#include <math.h>
#include <poppler.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "convert/converter.h"

#define PDF_TEXT_MAX (16u << 20)
#define PDF_TEXT_PAGES 5000
#define PDF_THUMB_PX 256

static const char *const suffixes[] = {".pdf", NULL};

/* %PDF- at the start; some writers put junk before it, which readers tolerate within the
 * first KiB. */
static int sniff(const unsigned char *head, size_t len, const struct cb_convert_input *in)
{
  (void)in;
  if (len >= 5 && !memcmp(head, "%PDF-", 5))
    return 70;
  size_t lim = len < 1024 ? len : 1024;
  for (size_t i = 1; i + 5 <= lim; i++)
    if (head[i] == '%' && !memcmp(head + i, "%PDF-", 5))
      return 60;
  return 0;
}

/* A property from a poppler string (owned, freed here); empty ones are left out. */
static void prop_take(cJSON *result, const char *name, gchar *value)
{
  if (value) {
    g_strstrip(value);
    if (*value && g_utf8_validate(value, -1, NULL))
      result_prop_text(result, name, value, NULL, NULL);
    else if (*value) {
      gchar *valid = g_utf8_make_valid(value, -1);
      result_prop_text(result, name, valid, NULL, NULL);
      g_free(valid);
    }
  }
  g_free(value);
}

static void prop_date(cJSON *result, const char *name, GDateTime *dt)
{
  if (!dt)
    return;
  gchar *s = g_date_time_format_iso8601(dt);
  if (s)
    result_prop_text(result, name, s, NULL, NULL);
  g_free(s);
  g_date_time_unref(dt);
}

/* Whether the file names an /Encrypt dictionary in its trailer: poppler-glib does not say,
 * so look where trailers live, in the last (and, for linearized files, first) 64 KiB. */
static int has_encrypt(const char *path)
{
  FILE *f = fopen(path, "rb");
  if (!f)
    return 0;
  static char buf[65536 + 1];
  int found = 0;
  for (int pass = 0; pass < 2 && !found; pass++) {
    if (pass == 1 && fseeko(f, -(off_t)(sizeof buf - 1), SEEK_END))
      rewind(f); /* a small file: the first pass read it all */
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    for (size_t i = 0; i + 8 <= n && !found; i++)
      found = buf[i] == '/' && !memcmp(buf + i, "/Encrypt", 8) &&
              (i + 8 == n || !((buf[i + 8] >= 'A' && buf[i + 8] <= 'Z') || (buf[i + 8] >= 'a' && buf[i + 8] <= 'z')));
  }
  fclose(f);
  return found;
}

/* Appends s to the text artifact, at most up to PDF_TEXT_MAX bytes in all, cut on a
 * character boundary. Returns 0 once full. */
static int text_put(FILE *out, const char *s, size_t n, uint64_t *written, int *truncated)
{
  uint64_t room = PDF_TEXT_MAX - *written;
  if (n > room) {
    size_t k = (size_t)room;
    while (k > 0 && ((unsigned char)s[k] & 0xc0) == 0x80)
      k--; /* s[k] starts the first character left out */
    n = k;
    *truncated = 1;
  }
  if (n && fwrite(s, 1, n, out) != n)
    return -1;
  *written += n;
  return *truncated ? 0 : 1;
}

/* Renders a page into a PNG at most PDF_THUMB_PX on its longer side. 0 on success. */
static int thumbnail(PopplerPage *page, const char *outpath, int *wpx, int *hpx)
{
  double w = 0, h = 0;
  poppler_page_get_size(page, &w, &h);
  if (!(w > 0 && h > 0) || !isfinite(w) || !isfinite(h))
    return -1;
  double scale = PDF_THUMB_PX / (w > h ? w : h);
  int pw = (int)lround(w * scale), ph = (int)lround(h * scale);
  pw = pw < 1 ? 1 : pw > PDF_THUMB_PX ? PDF_THUMB_PX : pw;
  ph = ph < 1 ? 1 : ph > PDF_THUMB_PX ? PDF_THUMB_PX : ph;
  cairo_surface_t *surf = cairo_image_surface_create(CAIRO_FORMAT_RGB24, pw, ph);
  if (cairo_surface_status(surf) != CAIRO_STATUS_SUCCESS) {
    cairo_surface_destroy(surf);
    return -1;
  }
  cairo_t *cr = cairo_create(surf);
  cairo_set_source_rgb(cr, 1, 1, 1); /* paper */
  cairo_paint(cr);
  cairo_scale(cr, (double)pw / w, (double)ph / h);
  poppler_page_render(page, cr);
  int bad = cairo_status(cr) != CAIRO_STATUS_SUCCESS;
  cairo_destroy(cr);
  cairo_surface_flush(surf);
  if (!bad)
    bad = cairo_surface_write_to_png(surf, outpath) != CAIRO_STATUS_SUCCESS;
  cairo_surface_destroy(surf);
  *wpx = pw, *hpx = ph;
  return bad ? -1 : 0;
}

/* Does the line break after the hyphen at t + i split a word? A letter before the hyphen,
 * and a lower-case letter after the break, or two capitals after a capital ("SE-" +
 * "QUENCE"). t is valid UTF-8 and t[i + 1] the line break. */
static int splits_word(const char *t, size_t i, size_t n)
{
  const char *prev = g_utf8_find_prev_char(t, t + i), *next = t + i + 2;
  if (!prev || i + 2 >= n)
    return 0;
  gunichar before = g_utf8_get_char(prev), first = g_utf8_get_char(next);
  if (!g_unichar_isalpha(before))
    return 0;
  if (g_unichar_islower(first))
    return 1;
  const char *after = g_utf8_find_next_char(next, t + n);
  return g_unichar_isupper(before) && g_unichar_isupper(first) && after && g_unichar_isupper(g_utf8_get_char(after));
}

/* A word split by a hyphen at a line end is one word again ("Medi-" + "zininformatik"), as
 * pdftotext reads it (poppler-glib's page text keeps the hyphen and the line break). Unlike
 * pdftotext, which drops every line-end hyphen inside a block, a hyphen that does not split
 * a word stays: a range "(2-" + "4)", an ion "Cl-" before an equation number, a name
 * "Perkin-" + "Elmer". In place; returns the new length. */
static size_t join_hyphenated(char *t, size_t n)
{
  size_t w = 0;
  for (size_t i = 0; i < n; i++) {
    if (t[i] == '-' && i > 0 && i + 2 < n && t[i + 1] == '\n' && splits_word(t, i, n)) {
      i++; /* drop both */
      continue;
    }
    t[w++] = t[i];
  }
  return w;
}

/* One page's text, valid UTF-8, hyphenated line ends joined; g_free it. */
static gchar *page_text(PopplerDocument *doc, int i, size_t *n)
{
  PopplerPage *page = poppler_document_get_page(doc, i);
  gchar *t = page ? poppler_page_get_text(page) : NULL;
  if (page)
    g_object_unref(page);
  if (t && !g_utf8_validate(t, -1, NULL)) {
    gchar *v = g_utf8_make_valid(t, -1);
    g_free(t);
    t = v;
  }
  *n = t ? join_hyphenated(t, strlen(t)) : 0;
  return t;
}

/* The text of the first pages into path, a form feed ending each page as pdftotext writes
 * it; *done: the pages written, *truncated: cut at PDF_TEXT_MAX. Progress goes to 0.9. */
static cb_err write_text(PopplerDocument *doc, int pages, const char *path, cb_progress_fn progress, void *pctx,
                         int *done, int *truncated, struct cb_errbuf *eb)
{
  FILE *out = fopen(path, "wb");
  if (!out) {
    cb_errf(eb, "cannot write the text");
    return CB_EIO;
  }
  uint64_t written = 0;
  int todo = pages < PDF_TEXT_PAGES ? pages : PDF_TEXT_PAGES, r = 1;
  *done = *truncated = 0;
  for (int i = 0; i < todo && r > 0; i++) {
    size_t n;
    gchar *t = page_text(doc, i, &n);
    r = n ? text_put(out, t, n, &written, truncated) : 1;
    if (r > 0)
      r = n && t[n - 1] != '\n' ? text_put(out, "\n\f", 2, &written, truncated)
                                : text_put(out, "\f", 1, &written, truncated);
    g_free(t);
    if (r >= 0)
      *done = i + 1;
    progress(pctx, 0.9 * (double)(i + 1) / (double)todo);
  }
  if (fclose(out) || r < 0) {
    cb_errf(eb, "cannot write the text");
    return CB_EIO;
  }
  return CB_OK;
}

/* Opens the PDF; *abs: its absolute path (free it). */
static cb_err open_doc(const struct cb_convert_input *in, char **abs, PopplerDocument **doc, struct cb_errbuf *eb)
{
  GError *gerr = NULL;
  gchar *uri = NULL;
  cb_err rc = CB_OK;
  /* an absolute path as it is: realpath would resolve /proc/self/fd/N (how a confined
   * converter may reach its folder, worker.c) into folders it may not walk */
  *abs = in->path[0] == '/' ? strdup(in->path) : realpath(in->path, NULL);
  *doc = NULL;
  if (!*abs) {
    cb_errf(eb, "cannot open the file");
    return CB_EIO;
  }
  uri = g_filename_to_uri(*abs, NULL, &gerr);
  if (!uri) {
    cb_errf(eb, "cannot name the file for poppler: %s", gerr ? gerr->message : "?");
    rc = CB_EIO;
  } else if (!(*doc = poppler_document_new_from_file(uri, NULL, &gerr))) {
    if (gerr && g_error_matches(gerr, POPPLER_ERROR, POPPLER_ERROR_ENCRYPTED))
      cb_errf(eb, "the PDF is password-protected: it cannot be opened without its password");
    else
      cb_errf(eb, "not a readable PDF: %s", gerr && gerr->message ? gerr->message : "poppler failed");
    rc = CB_EINVAL;
  }
  g_clear_error(&gerr);
  g_free(uri);
  return rc;
}

/* The document information, version, encryption and permissions. */
static void doc_props(PopplerDocument *doc, const char *abs, int pages, cJSON *result)
{
  result_prop_num(result, "page_count", pages, NULL, NULL);
  prop_take(result, "title", poppler_document_get_title(doc));
  prop_take(result, "author", poppler_document_get_author(doc));
  prop_take(result, "subject", poppler_document_get_subject(doc));
  prop_take(result, "keywords", poppler_document_get_keywords(doc));
  prop_take(result, "creator", poppler_document_get_creator(doc));
  prop_take(result, "producer", poppler_document_get_producer(doc));
  prop_date(result, "created", poppler_document_get_creation_date_time(doc));
  prop_date(result, "modified", poppler_document_get_modification_date_time(doc));
  guint major = 0, minor = 0;
  poppler_document_get_pdf_version(doc, &major, &minor);
  if (major) {
    char v[32];
    snprintf(v, sizeof v, "%u.%u", major, minor);
    result_prop_text(result, "pdf_version", v, NULL, NULL);
  }
  int encrypted = has_encrypt(abs);
  result_prop_text(result, "encrypted", encrypted ? "true" : "false", NULL, NULL);
  if (encrypted) {
    PopplerPermissions perm = poppler_document_get_permissions(doc);
    char p[160];
    snprintf(
      p, sizeof p, "print:%s copy:%s modify:%s annotate:%s", perm & POPPLER_PERMISSIONS_OK_TO_PRINT ? "yes" : "no",
      perm & POPPLER_PERMISSIONS_OK_TO_COPY ? "yes" : "no", perm & POPPLER_PERMISSIONS_OK_TO_MODIFY ? "yes" : "no",
      perm & POPPLER_PERMISSIONS_OK_TO_ADD_NOTES ? "yes" : "no");
    result_prop_text(result, "permissions", p, NULL, NULL);
  }
  result_prop_text(result, "linearized", poppler_document_is_linearized(doc) ? "true" : "false", NULL, NULL);
}

/* The first page's size and its thumbnail. */
static void first_page(PopplerDocument *doc, const char *thumbpath, cJSON *result)
{
  PopplerPage *page = poppler_document_get_page(doc, 0);
  if (!page)
    return;
  double w = 0, h = 0;
  poppler_page_get_size(page, &w, &h);
  if (w > 0 && h > 0) {
    result_prop_num(result, "page_width", round(w * 100) / 100, "pt", NULL);
    result_prop_num(result, "page_height", round(h * 100) / 100, "pt", NULL);
  }
  int tw = 0, th = 0;
  if (!thumbnail(page, thumbpath, &tw, &th))
    result_artifact(result, "preview", "image/png", thumbpath);
  g_object_unref(page);
}

static int page_count(PopplerDocument *doc)
{
  int pages = poppler_document_get_n_pages(doc);
  return pages < 0 ? 0 : pages;
}

static cb_err extract(const struct cb_convert_input *in, cJSON *result, cb_progress_fn progress, void *pctx,
                      struct cb_errbuf *eb)
{
  PopplerDocument *doc = NULL;
  char *abs = NULL;
  char textpath[4200], thumbpath[4200];
  snprintf(textpath, sizeof textpath, "%s/text.txt", in->workdir);
  snprintf(thumbpath, sizeof thumbpath, "%s/preview.png", in->workdir);
  cb_err rc = open_doc(in, &abs, &doc, eb);
  if (rc)
    goto out;
  cJSON_AddStringToObject(result, "kind", "pdf");
  int pages = page_count(doc), done = 0, truncated = 0;
  doc_props(doc, abs, pages, result);
  if ((rc = write_text(doc, pages, textpath, progress, pctx, &done, &truncated, eb)))
    goto out;
  result_artifact(result, "text", "text/plain; charset=utf-8", textpath);
  if (truncated) {
    result_prop_text(result, "text_truncated", "true", NULL, NULL);
    result_prop_num(result, "text_pages", done, NULL, NULL);
  } else if (pages > PDF_TEXT_PAGES) {
    char note[160];
    snprintf(note, sizeof note, "text of the first %d of %d pages", PDF_TEXT_PAGES, pages);
    result_prop_text(result, "text_pages_capped", note, NULL, NULL);
    result_prop_num(result, "text_pages", PDF_TEXT_PAGES, NULL, NULL);
  }
  if (pages > 0)
    first_page(doc, thumbpath, result);
  progress(pctx, 1.0);
out:
  if (doc)
    g_object_unref(doc);
  free(abs);
  return rc;
}

/* To txt: the text artifact's bytes (the same pages, the same bounds). */
static cb_err convert(const struct cb_convert_input *in, const char *to, const char *outpath, cJSON *result,
                      cb_progress_fn progress, void *pctx, struct cb_errbuf *eb)
{
  (void)to; /* txt, the one target */
  PopplerDocument *doc = NULL;
  char *abs = NULL;
  int done = 0, truncated = 0;
  cb_err rc = open_doc(in, &abs, &doc, eb);
  if (!rc)
    rc = write_text(doc, page_count(doc), outpath, progress, pctx, &done, &truncated, eb);
  if (!rc) {
    cJSON_AddStringToObject(result, "media_type", "text/plain; charset=utf-8");
    progress(pctx, 1.0);
  }
  if (doc)
    g_object_unref(doc);
  free(abs);
  return rc;
}

/* Page `page`'s thumbnail, drawn as the first page's is at ingest. */
static cb_err page_preview(const struct cb_convert_input *in, int page, const char *outpath, cJSON *result,
                           cb_progress_fn progress, void *pctx, struct cb_errbuf *eb)
{
  PopplerDocument *doc = NULL;
  PopplerPage *pg = NULL;
  char *abs = NULL;
  int tw = 0, th = 0;
  cb_err rc = open_doc(in, &abs, &doc, eb);
  if (rc)
    goto out;
  int pages = page_count(doc);
  if (page < 1 || page > pages) {
    cb_errf(eb, "the document has no page %d: it has %d", page, pages);
    rc = CB_EINVAL;
  } else if (!(pg = poppler_document_get_page(doc, page - 1)) || thumbnail(pg, outpath, &tw, &th)) {
    cb_errf(eb, "page %d could not be drawn", page);
    rc = CB_EINVAL;
  } else {
    cJSON_AddStringToObject(result, "media_type", "image/png");
    progress(pctx, 1.0);
  }
out:
  if (pg)
    g_object_unref(pg);
  if (doc)
    g_object_unref(doc);
  free(abs);
  return rc;
}

static const char *const targets[] = {"txt", NULL};
static const struct converter_desc desc = {"pdf", "pdf", suffixes, sniff, NULL};
static const struct converter_ops ops = {extract, convert, targets, page_preview};
const struct converter conv_pdf = {&desc, &ops};
