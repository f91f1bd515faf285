/* Operations endpoints (no auth): liveness, readiness, metrics, the OpenAPI document,
 * and /api/v1/me. The browser UI is served by ui.c. */
#include <sodium.h>
#include <string.h>
#include <strings.h>

#include "http/http.h"
#include "util/confine.h"
#include "util/embedded.h"

extern const struct cb_embedded cb_assets[];

int h_healthz(struct req *r)
{
  static const char ok[] = "{\"status\":\"ok\"}";
  http_send(r, 200, "application/json", ok, sizeof ok - 1, NULL);
  return 200;
}

int h_readyz(struct req *r)
{
  struct cb_errbuf eb = {{0}};
  if (db_ping())
    return http_problem(r, 503, NULL, "the database is not usable");
  if (store_check(app.store, &eb))
    return http_problem(r, 503, NULL, "%s", eb.msg);
  /* ready either way, but say how converters are confined, and what they run without */
  int layers = confine_layers();
  char have[256], missing[256];
  confine_describe(layers, have, sizeof have);
  confine_describe(CONFINE_ALL & ~layers, missing, sizeof missing);
  cJSON *o = cJSON_CreateObject();
  cJSON_AddStringToObject(o, "status", "ready");
  cJSON *c = cJSON_AddObjectToObject(o, "converters");
  cJSON_AddStringToObject(c, "confined_by", have);
  cJSON_AddStringToObject(c, "missing", missing);
  return http_json(r, 200, o);
}

/* With CARBOY_METRICS_TOKEN set, /metrics answers only `Authorization: Bearer TOKEN`
 * (compared in constant time); the route stays public: it takes no user identity. */
int h_metrics(struct req *r)
{
  if (app.cfg.metrics_token[0]) {
    const char *h = http_header(r, "Authorization");
    size_t want = strlen(app.cfg.metrics_token);
    int ok = h && !strncasecmp(h, "Bearer ", 7) && strlen(h + 7) == want &&
             !sodium_memcmp(h + 7, app.cfg.metrics_token, want);
    if (!ok) {
      const char *hdr[] = {"WWW-Authenticate", "Bearer realm=\"metrics\"", NULL};
      return http_problem_extra(r, 401, NULL, hdr, "/metrics needs the token CARBOY_METRICS_TOKEN names");
    }
  }
  struct cb_buf b = {0};
  metrics_render(&b);
  http_send(r, 200, "text/plain; version=0.0.4; charset=utf-8", b.data ? b.data : "", b.len, NULL);
  cb_buf_free(&b);
  return 200;
}

static int send_asset(struct req *r, const char *name, const char *ctype)
{
  const struct cb_embedded *a = cb_embedded_find(cb_assets, name);
  if (!a)
    return http_problem(r, 404, NULL, "%s is not built into this binary", name);
  const char *hdr[] = {"Cache-Control", "no-cache", NULL};
  http_send(r, 200, ctype, a->data, a->len, hdr);
  return 200;
}

int h_openapi(struct req *r)
{
  return send_asset(r, "openapi.json", "application/json");
}
