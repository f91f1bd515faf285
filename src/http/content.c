/* Downloads: file content with ETag, Range and If-None-Match; folders as a streamed zip. */
#include <archive.h>
#include <archive_entry.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "http/http.h"
#include "util/log.h"

int http_sink(void *ctx, const void *buf, size_t n)
{
  struct req *r = ctx;
  return http_write(r, buf, n) || http_must_abort();
}

/* Does an If-None-Match list name etag (or is it "*")? */
static int etag_matches(const char *list, const char *etag)
{
  size_t elen = strlen(etag);
  for (const char *p = list; p && *p;) {
    while (*p == ' ' || *p == ',' || *p == '\t')
      p++;
    if (!strncmp(p, "W/", 2))
      p += 2;
    if (*p == '*')
      return 1;
    if (!strncmp(p, etag, elen) && (p[elen] == '\0' || p[elen] == ',' || p[elen] == ' '))
      return 1;
    p = strchr(p, ',');
  }
  return 0;
}

/* Parses one "bytes=" range against size. 1 = range set, 0 = ignore (serve all),
 * -1 = unsatisfiable. Several ranges are served as the whole (RFC 9110 allows it). */
static int parse_range(const char *h, uint64_t size, uint64_t *from, uint64_t *to)
{
  if (strncmp(h, "bytes=", 6) || strchr(h, ','))
    return 0;
  const char *p = h + 6;
  char *end;
  while (*p == ' ')
    p++;
  if (*p == '-') { /* suffix: the last N bytes */
    unsigned long long n = strtoull(p + 1, &end, 10);
    if (end == p + 1 || *end)
      return 0;
    if (n == 0 || size == 0)
      return -1;
    *from = n >= size ? 0 : size - n;
    *to = size - 1;
    return 1;
  }
  if (*p < '0' || *p > '9')
    return 0;
  unsigned long long a = strtoull(p, &end, 10);
  if (*end != '-')
    return 0;
  p = end + 1;
  unsigned long long b = size ? size - 1 : 0;
  if (*p) {
    if (*p < '0' || *p > '9')
      return 0;
    b = strtoull(p, &end, 10);
    if (*end || b < a)
      return 0;
  }
  if (a >= size)
    return -1;
  if (b >= size)
    b = size - 1;
  *from = a;
  *to = b;
  return 1;
}

static void disposition(const char *name, const char *how, char *out, size_t cap)
{
  struct cb_buf b = {0};
  char ascii[CB_NAME_MAX];
  size_t i = 0;
  for (const unsigned char *p = (const unsigned char *)name; *p && i < sizeof ascii - 1; p++)
    ascii[i++] = (*p < 0x20 || *p >= 0x7f || *p == '"' || *p == '\\' || *p == ';') ? '_' : (char)*p;
  ascii[i] = '\0';
  cb_buf_printf(&b, "%s; filename=\"%s\"; filename*=UTF-8''", how, ascii);
  cb_buf_url_encode(&b, name);
  snprintf(out, cap, "%s", b.data ? b.data : how);
  cb_buf_free(&b);
}

int h_file_content(struct req *r)
{
  struct cb_file f;
  if (http_load_file(r, r->params[0], CB_READ, &f))
    return r->status;
  db_file_clear(&f);
  struct cb_version v;
  char vq[32];
  int64_t version = f.version;
  int q = http_query(r, "version", vq, sizeof vq);
  if (q != 0) {
    char *end;
    long long n = q > 0 ? strtoll(vq, &end, 10) : 0;
    if (q < 0 || *end || end == vq || n < 1)
      return http_problem(r, 400, "version", "version must be a positive whole number");
    version = n;
  }
  cb_err e = db_file_version(f.id, version, &v);
  if (e == CB_ENOTFOUND)
    return http_problem(r, 404, "version", "file %s has no version %lld", f.id, (long long)version);
  if (e)
    return http_error(r, e, "cannot read the file's versions");

  char etag[70], disp[1024], crange[96], len[32];
  snprintf(etag, sizeof etag, "\"%s\"", v.sha256);
  disposition(f.name, "attachment", disp, sizeof disp);
  const char *inm = http_header(r, "If-None-Match");
  if (inm && etag_matches(inm, etag)) {
    const char *hdr[] = {"ETag", etag, "Cache-Control", "private, no-cache", NULL};
    http_send(r, 304, NULL, NULL, 0, hdr);
    return 304;
  }
  uint64_t size = (uint64_t)v.size, from = 0, to = size ? size - 1 : 0;
  int status = 200;
  const char *range = http_header(r, "Range");
  const char *if_range = http_header(r, "If-Range");
  if (range && (!if_range || !strcmp(if_range, etag))) {
    int pr = parse_range(range, size, &from, &to);
    if (pr < 0) {
      snprintf(crange, sizeof crange, "bytes */%llu", (unsigned long long)size);
      const char *hdr[] = {"Content-Range", crange, NULL};
      http_send(r, 416, "application/problem+json", NULL, 0, hdr);
      return 416;
    }
    if (pr > 0)
      status = 206;
  }
  uint64_t n = size ? to - from + 1 : 0;
  snprintf(crange, sizeof crange, "bytes %llu-%llu/%llu", (unsigned long long)from, (unsigned long long)to,
           (unsigned long long)size);
  snprintf(len, sizeof len, "%llu", (unsigned long long)n);
  /* Served as the type its content was found to be (convert/media.c), always as an
   * attachment, never sniffed, and sandboxed: HTML or SVG a user uploaded can never run as
   * a page of this origin, even when a browser shows it. */
  const char *hdr[] = {"ETag",
                       etag,
                       "Accept-Ranges",
                       "bytes",
                       "Content-Disposition",
                       disp,
                       "Content-Security-Policy",
                       "default-src 'none'; style-src 'unsafe-inline'; sandbox",
                       "Cache-Control",
                       "private, no-cache",
                       "Content-Range",
                       status == 206 ? crange : NULL,
                       NULL};
  if (http_begin(r, status, v.media_type[0] ? v.media_type : "application/octet-stream", (int64_t)n, hdr) ||
      r->is_head || !n)
    return status;
  struct cb_errbuf eb = {{0}};
  e = store_get_range(app.store, v.sha256, from, n, http_sink, r, &eb);
  if (e && e != CB_EABORTED)
    CB_LOG(CB_LOG_ERROR, "http", "download of %s failed after headers: %s", f.id, eb.msg);
  if (e)
    mg_disable_keep_alive(r->conn); /* the body is short: the client must see the close */
  return status;
}

/* ---- zip of a folder, streamed with chunked encoding through libarchive ---- */
struct zip_ctx {
  struct req *r;
  struct archive *a;
  const char *top;
  int failed;
  int files;
};

static la_ssize_t zip_write(struct archive *a, void *ud, const void *buf, size_t n)
{
  (void)a;
  struct zip_ctx *z = ud;
  if (!n)
    return 0;
  if (z->failed || http_must_abort() || mg_send_chunk(z->r->conn, buf, (unsigned)n) < 0) {
    z->failed = 1;
    return -1;
  }
  z->r->bytes_out += n;
  return (la_ssize_t)n;
}

static int zip_sink(void *ctx, const void *buf, size_t n)
{
  struct zip_ctx *z = ctx;
  return archive_write_data(z->a, buf, n) < 0;
}

static time_t parse_time(const char *ts)
{
  struct tm tm = {0};
  if (!strptime(ts, "%Y-%m-%dT%H:%M:%S", &tm))
    return time(NULL);
  return timegm(&tm);
}

static int zip_file(const char *rel, const struct cb_file *f, void *ctx)
{
  struct zip_ctx *z = ctx;
  struct archive_entry *e = archive_entry_new();
  struct cb_buf path = {0};
  cb_buf_printf(&path, "%s/%s", z->top, rel);
  archive_entry_set_pathname_utf8(e, path.data);
  archive_entry_set_size(e, f->size);
  archive_entry_set_filetype(e, AE_IFREG);
  archive_entry_set_perm(e, 0644);
  archive_entry_set_mtime(e, parse_time(f->created_at), 0);
  int rc = archive_write_header(z->a, e);
  archive_entry_free(e);
  cb_buf_free(&path);
  if (rc != ARCHIVE_OK) {
    CB_LOG(CB_LOG_WARN, "http", "zip header for %s: %s", rel, archive_error_string(z->a));
    z->failed = 1;
    return 1;
  }
  struct cb_errbuf eb = {{0}};
  cb_err err = store_get_range(app.store, f->sha256, 0, (uint64_t)f->size, zip_sink, z, &eb);
  if (err) {
    CB_LOG(CB_LOG_WARN, "http", "zip entry %s: %s", rel, eb.msg[0] ? eb.msg : cb_strerror(err));
    z->failed = 1;
    return 1;
  }
  z->files++;
  return 0;
}

int h_folder_archive(struct req *r)
{
  struct cb_folder f;
  if (http_load_folder(r, r->params[0], CB_READ, &f))
    return r->status;
  char disp[1024], zipname[CB_NAME_MAX + 8];
  snprintf(zipname, sizeof zipname, "%s.zip", f.name);
  disposition(zipname, "attachment", disp, sizeof disp);
  const char *hdr[] = {"Content-Disposition", disp, "Transfer-Encoding", "chunked", "Cache-Control",
                       "private, no-cache",   NULL};
  if (http_begin(r, 200, "application/zip", -1, hdr) || r->is_head)
    return 200;
  struct zip_ctx z = {.r = r, .top = f.name};
  z.a = archive_write_new();
  archive_write_set_format_zip(z.a);
  archive_write_set_options(z.a, "zip:compression=store,zip:hdrcharset=UTF-8");
  archive_write_set_bytes_per_block(z.a, 0); /* write through, no padding */
  if (archive_write_open2(z.a, &z, NULL, zip_write, NULL, NULL) != ARCHIVE_OK) {
    archive_write_free(z.a);
    mg_disable_keep_alive(r->conn);
    return 200;
  }
  cb_err e = db_folder_tree_files(f.id, zip_file, &z);
  if (e || z.failed) {
    /* Headers are gone: cut the stream short so the client sees a broken transfer
     * rather than a zip that silently lacks files. */
    CB_LOG(CB_LOG_WARN, "http", "zip of folder %s stopped after %d files", f.id, z.files);
    archive_write_fail(z.a);
    archive_write_free(z.a);
    mg_disable_keep_alive(r->conn);
    return 200;
  }
  archive_write_close(z.a);
  archive_write_free(z.a);
  if (!z.failed)
    mg_send_chunk(r->conn, "", 0);
  return 200;
}
