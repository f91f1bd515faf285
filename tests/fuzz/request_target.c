/* The request target as the dispatcher and the handlers read it: PATH[?QUERY] against
 * every route pattern (per-segment URL decoding into parameters, which handlers then
 * check as ids and names), and the query string through http_query_nth for every
 * parameter any handler reads, with the list cursor decoded as handlers decode it. */
#include "fuzz.h"
#include "http/http.h"
#include "http/parse.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
  (void)argc, (void)argv;
  return 0;
}

static void query(struct req *r)
{
  static const char *const names[] = {"q", "where", "kind", "folder_id", "limit", "cursor", "smiles", "smarts",
                                      "mode", "threshold", "version", "to", "state", "download", ""};
  static const size_t caps[] = {1, 16, 32, 64, 512, 2048};
  char out[2048];
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
    for (int nth = 0; nth < 9; nth++) {
      int found = 0;
      for (size_t c = 0; c < sizeof caps / sizeof caps[0]; c++) {
        int rc = http_query_nth(r, names[i], nth, out, caps[c]);
        if (rc > 0 && strlen(out) >= caps[c])
          abort(); /* wrote past what it was given */
        found |= rc != 0;
        if (rc > 0 && !strcmp(names[i], "cursor")) {
          char kind, name[CB_NAME_MAX];
          if (!http_cursor_decode(out, &kind, name, sizeof name) && strlen(name) >= sizeof name)
            abort();
        }
      }
      if (!found)
        break;
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  char *target = fuzz_string(data, size);
  char *qs = strchr(target, '?');
  if (qs)
    *qs++ = '\0';
  for (int i = 0; i < http_route_count; i++) {
    char *params[HTTP_MAX_PARAMS] = {0};
    if (http_path_match(http_routes[i].pattern, target, params)) {
      for (int k = 0; k < HTTP_MAX_PARAMS && params[k]; k++) {
        /* what handlers do with a parameter: an id, or a file name for PUT */
        (void)cb_id_valid(params[k]);
        if (!cb_name_invalid(params[k])) {
          char media[128], kind[16];
          http_guess_type(params[k], NULL, media, sizeof media, kind, sizeof kind);
        }
      }
    }
    for (int k = 0; k < HTTP_MAX_PARAMS; k++)
      free(params[k]);
  }
  struct mg_request_info ri = {0};
  ri.query_string = qs;
  struct req r = {0};
  r.ri = &ri;
  r.method = "GET";
  query(&r);
  free(target);
  return 0;
}
