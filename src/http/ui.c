/* The browser UI: web/src built by Vite at build time (tools/build_web.py) and embedded
 * as the table cb_web. The entry page answers every client-side route (/, /folders/{id},
 * /files/{id}, /search, ...) with a Content-Security-Policy the UI satisfies; assets/
 * names carry a content hash, so they are cached for a year. Every answer has a strong
 * ETag (the sha256 of the bytes, computed once) and honours If-None-Match. A share link's
 * addresses (/s/{token}...) answer a browser's navigation with the entry page too
 * (sharing.c), with Vary: Accept, as they answer JSON to the API's clients. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/http.h"
#include "util/embedded.h"
#include "util/hash.h"

extern const struct cb_embedded cb_web[];
extern const size_t cb_web_count;

/* What the UI needs and nothing more: its own scripts, styles and API; images from
 * itself (thumbnails, depictions) or made in the page (data:, blob:). */
static const char csp[] = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
                          "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
                          "form-action 'self'; frame-ancestors 'none'";

static char (*etags)[CB_SHA256_HEX + 2];
static pthread_once_t etags_once = PTHREAD_ONCE_INIT;

static void etags_init(void)
{
  etags = calloc(cb_web_count ? cb_web_count : 1, sizeof *etags);
  if (!etags)
    return;
  for (size_t i = 0; i < cb_web_count; i++) {
    char hex[CB_SHA256_HEX];
    cb_sha256_hex(cb_web[i].data, cb_web[i].len, hex);
    snprintf(etags[i], sizeof etags[i], "\"%s\"", hex);
  }
}

static const char *media_type(const char *name)
{
  static const struct {
    const char *ext, *type;
  } types[] = {
    {".html", "text/html; charset=utf-8"},
    {".js", "text/javascript; charset=utf-8"},
    {".css", "text/css; charset=utf-8"},
    {".svg", "image/svg+xml"},
    {".png", "image/png"},
    {".json", "application/json"},
    {".woff2", "font/woff2"},
    {".wasm", "application/wasm"},
    {".txt", "text/plain; charset=utf-8"},
    {".ico", "image/x-icon"},
  };
  const char *dot = strrchr(name, '.');
  for (size_t i = 0; dot && i < sizeof types / sizeof types[0]; i++)
    if (!strcmp(dot, types[i].ext))
      return types[i].type;
  return "application/octet-stream";
}

static int send_web(struct req *r, const char *name, const char *cache)
{
  const struct cb_embedded *a = cb_embedded_find(cb_web, name);
  if (!a)
    return http_problem(r, 404, NULL, "%s is not part of the browser UI built into this binary", name);
  pthread_once(&etags_once, etags_init);
  const char *etag = etags ? etags[a - cb_web] : NULL;
  // clang-format off
  const char *hdr[] = {"Cache-Control", cache, "ETag", etag, "Content-Security-Policy", csp,
                       "Referrer-Policy", "same-origin", "X-Frame-Options", "DENY", NULL};
  // clang-format on
  const char *inm = http_header(r, "If-None-Match");
  if (etag && inm && strstr(inm, etag)) {
    http_send(r, 304, NULL, NULL, 0, hdr);
    return 304;
  }
  http_send(r, 200, media_type(name), a->data, a->len, hdr);
  return 200;
}

int h_ui(struct req *r)
{
  return send_web(r, "index.html", "no-cache");
}

/* The page at a URL that also answers JSON (/s/{token}...): Vary keeps a cache from
 * handing the one to whoever asked for the other. */
int http_ui_page(struct req *r)
{
  r->vary_accept = 1;
  return send_web(r, "index.html", "no-cache");
}

int h_ui_asset(struct req *r)
{
  char name[300];
  if (snprintf(name, sizeof name, "assets/%s", r->params[0]) >= (int)sizeof name)
    return http_problem(r, 404, NULL, "no such asset");
  return send_web(r, name, "public, max-age=31536000, immutable");
}
