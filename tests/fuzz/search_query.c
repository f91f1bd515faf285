/* GET /search's parsers and the SQL they reach: q= made into an FTS5 query (every word
 * quoted, so no input is FTS5 syntax), where=NAME:OP:VALUE conditions, and a cursor,
 * run by db_search against a real database holding a few files with text and typed
 * properties, snippets included. Lines: cursor, q, then up to 8 where= values (decoded,
 * as http_query_nth hands them over). Any error from the search is a failure: carboy
 * promises that words in q are never read as FTS5 syntax. */
#include <math.h>

#include "auth/auth.h"
#include "db/db_internal.h" /* the text index, which jobs fill in the server */
#include "util/log.h"
#include "fuzz.h"
#include "http/http.h"
#include "http/parse.h"

static char folder_id[CB_ID_LEN + 1];

static void must(cb_err e, const char *what)
{
  if (e) {
    fprintf(stderr, "carboy fuzz: %s: %s\n", what, cb_strerror(e));
    abort();
  }
}

static void add_file(const struct cb_user *u, const char *name, const char *kind, const char *text,
                     const struct cb_property *props, int n)
{
  struct cb_file f = {0};
  char sha[65];
  memset(sha, 'a', 64);
  sha[64] = '\0';
  must(db_file_put(folder_id, name, u->id, sha, 10, "text/plain", kind, &f), "db_file_put");
  must(db_properties_replace(f.id, "user", props, n), "db_properties_replace");
  char path[512];
  snprintf(path, sizeof path, "%s/text.txt", fuzz_scratch());
  fuzz_write(path, (const uint8_t *)text, strlen(text));
  must(db_begin(), "db_begin");
  must(db_search_index_text_tx(f.id, path), "index text");
  must(db_commit(), "db_commit");
  db_file_clear(&f);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
  (void)argc, (void)argv;
  cb_log_level = CB_LOG_ERROR;
  struct cb_errbuf eb = {{0}};
  char path[512];
  snprintf(path, sizeof path, "%s/carboy.db", fuzz_scratch());
  must(db_init(path, &eb), "db_init");
  must(auth_init(), "auth_init");
  struct cb_user u;
  must(auth_user_add("fuzz", "fuzz-password-1", 0, &u, &eb), "auth_user_add");
  struct cb_folder f = {0};
  cb_id_new(f.id);
  snprintf(f.name, sizeof f.name, "lab");
  memcpy(f.owner_id, u.id, sizeof f.owner_id);
  snprintf(f.visibility, sizeof f.visibility, "private");
  cb_time_now_rfc3339(f.created_at, sizeof f.created_at);
  memcpy(f.updated_at, f.created_at, sizeof f.updated_at);
  must(db_folder_insert(&f), "db_folder_insert");
  memcpy(folder_id, f.id, sizeof folder_id);
  struct cb_property p1[] = {
    {.name = "temperature", .value_num = 21.5, .is_num = 1, .unit = "Cel", .source = "user"},
    {.name = "sample", .value_text = "NaCl \"brine\" batch 7", .source = "user"},
    {.name = "RXN:YIELD", .value_num = 90, .is_num = 1, .source = "user"},
  };
  struct cb_property p2[] = {
    {.name = "temperature", .value_num = -4, .is_num = 1, .source = "user"},
    {.name = "operator", .value_text = "Zoë Ångström", .source = "user"},
  };
  add_file(&u, "notes.txt", "text", "aspirin salicylic acid crystals dissolved in ethanol at room temperature", p1, 3);
  add_file(&u, "run 42.csv", "table", "wavelength absorbance Ångström naïve café 1e-3 \"quoted\" * NEAR AND OR NOT", p2, 2);
  add_file(&u, "empty.bin", "other", "", NULL, 0);
  return 0;
}

static int take(const struct cb_search_hit *h, void *ctx)
{
  const char *match = ctx;
  if (!h->file_id || !h->name)
    abort();
  if (match) {
    char *s = db_search_snippet(match, h->doc);
    free(s);
  }
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  char *text = fuzz_string(data, size);
  char *cursor = text, *q = fuzz_next_line(cursor), *rest = q ? fuzz_next_line(q) : NULL;
  struct db_where where[8];
  char where_text[8][512];
  int nwhere = 0;
  while (rest && nwhere < 8) {
    char *line = rest;
    rest = fuzz_next_line(line);
    snprintf(where_text[nwhere], sizeof where_text[nwhere], "%s", line);
    if (search_parse_where(where_text[nwhere], &where[nwhere]))
      continue;
    if (!where[nwhere].name[0] || !where[nwhere].text[0] || (where[nwhere].is_num && !isfinite(where[nwhere].num)))
      abort();
    nwhere++;
  }
  char qbuf[2048];
  snprintf(qbuf, sizeof qbuf, "%s", q ? q : "");
  char *match = search_fts_query(qbuf);
  /* as h_search reads its cursor */
  int64_t offset = 0;
  int cursor_ok = 1;
  if (cursor[0] && strlen(cursor) < 32) {
    char *end;
    offset = strtoll(cursor, &end, 10);
    cursor_ok = !*end && offset >= 0;
  }
  if ((match || nwhere) && cursor_ok) {
    /* as an anonymous caller and as an administrator, in turn: the access filter runs in the query */
    struct db_viewer viewer = {NULL, NULL, (int)(size % 4 == 0)};
    struct db_search_q sq = {&viewer, match, size % 3 == 1 ? "text" : NULL, size % 2 ? folder_id : NULL, where,
                             nwhere, offset};
    cb_err e = db_search(&sq, take, match);
    if (e) {
      fprintf(stderr, "carboy fuzz: db_search failed (%s) for match [%s]\n", cb_strerror(e), match ? match : "");
      abort();
    }
  }
  free(match);
  free(text);
  return 0;
}
