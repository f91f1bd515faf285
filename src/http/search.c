/* Structure search: GET /api/v1/search/structure?smiles=S|smarts=P&mode=...
 *   exact        records with the query's InChIKey;
 *   similarity   Tanimoto on FP2 fingerprints (computed at ingest) >= threshold, best first;
 *   substructure an AND screen on the fingerprints, then a SMARTS match of the survivors
 *                in the resident matcher processes (Open Babel never runs in the server).
 * No job and no queue: the query structure is read by a matcher (search/matchers.c), the
 * records are screened in the server's structure index (search/structures.c), which holds
 * every current record's fingerprint in memory. Only records of files the caller may see
 * are ever considered: the access rule runs before anything is tested or counted;
 * file_id=, folder_id= and kind= narrow them further.
 * Hits come in one total order (file id, then the record's index; similarity: best first,
 * then record id) and a cursor is the position of the last hit shown, so pages neither
 * skip nor repeat a hit. total is exact, except for a substructure search whose screen
 * passes more than CARBOY_STRUCTURE_MATCH_MAX records: then of that many candidates after
 * the cursor, as many are matched as it takes to fill the page, and total is estimated
 * from the share of hits among them. */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "http/http.h"
#include "http/parse.h"
#include "search/matchers.h"
#include "search/structures.h"
#include "util/hash.h"

#define MATCH_BATCH 2000
#define MATCH_MAX_DEFAULT 20000
#define QUERY_TIMEOUT_S 60  /* reading the query structure */
#define MATCH_TIMEOUT_S 120 /* one batch of candidates */
#define INDEX_WAIT_S 60     /* the structure index's first load, after a start */

enum smode { M_EXACT, M_SIMILARITY, M_SUBSTRUCTURE };
static const char *const mode_names[] = {"exact", "similarity", "substructure"};
static const char *const mode_cursor[] = {"e", "m", "s"}; /* each mode's cursor kind */

struct hit {
  char id[CB_ID_LEN + 1];
  char file_id[CB_ID_LEN + 1];
  int64_t idx;
  double sim;
  char *smiles;
  char matched; /* substructure: the SMARTS matched it */
};

/* The hits' order: by file, then the record's index; similarity best first, then by
 * record id. */
static int hit_order(enum smode m, const struct hit *a, const struct hit *b)
{
  if (m == M_SIMILARITY)
    return a->sim != b->sim ? (a->sim > b->sim ? -1 : 1) : strcmp(a->id, b->id);
  int c = strcmp(a->file_id, b->file_id);
  return c ? c : (a->idx > b->idx) - (a->idx < b->idx);
}

static int by_similarity(const void *a, const void *b)
{
  return hit_order(M_SIMILARITY, a, b);
}

struct scan {
  enum smode mode;
  const uint64_t *qfp; /* query fingerprint, or NULL */
  double threshold;
  const struct hit *after; /* the cursor's position, or NULL */
  size_t keep;             /* exact, similarity: the first this many after the cursor */
  int64_t match_max;       /* substructure: candidates matched per request */
  struct hit *hits;        /* exact: in order; similarity: a heap, the last in order on top;
                              substructure: the candidates to match, in order */
  size_t n, cap;
  int64_t total;   /* exact, similarity: every hit; substructure: every screened candidate */
  int64_t n_after; /* substructure: screened candidates after the cursor */
  int oom;
};

static void swap_hits(struct hit *a, struct hit *b)
{
  struct hit t = *a;
  *a = *b;
  *b = t;
}

/* Copies the record's SMILES into x (its title is read for the hits shown); 0, or -1 out
 * of memory. */
static int take_texts(struct hit *x, const struct structures_hit *h)
{
  x->smiles = strdup(h->smiles ? h->smiles : "");
  return x->smiles ? 0 : -1;
}

/* Appends x (with the record's texts); 1 (stop) when out of memory. */
static int add_hit(struct scan *sc, const struct hit *x, const struct structures_hit *h)
{
  if (cb_grow(&sc->hits, sc->n, &sc->cap, sizeof *sc->hits, 256))
    return sc->oom = 1;
  sc->hits[sc->n] = *x;
  if (take_texts(&sc->hits[sc->n], h))
    return sc->oom = 1;
  sc->n++;
  return 0;
}

/* Similarity: keeps the first sc->keep hits in order, in a heap whose top is the last. */
static int offer_hit(struct scan *sc, const struct hit *x, const struct structures_hit *h)
{
  struct hit *v = sc->hits;
  size_t i = sc->n;
  if (sc->n < sc->keep) {
    if (add_hit(sc, x, h))
      return 1;
    v = sc->hits;
    for (; i > 0 && hit_order(M_SIMILARITY, &v[(i - 1) / 2], &v[i]) < 0; i = (i - 1) / 2)
      swap_hits(&v[(i - 1) / 2], &v[i]);
    return 0;
  }
  if (hit_order(M_SIMILARITY, x, &v[0]) >= 0)
    return 0;
  struct hit y = *x;
  if (take_texts(&y, h))
    return sc->oom = 1;
  free(v[0].smiles);
  v[0] = y;
  for (i = 0;;) {
    size_t big = i, l = 2 * i + 1, r = l + 1;
    if (l < sc->n && hit_order(M_SIMILARITY, &v[l], &v[big]) > 0)
      big = l;
    if (r < sc->n && hit_order(M_SIMILARITY, &v[r], &v[big]) > 0)
      big = r;
    if (big == i)
      return 0;
    swap_hits(&v[i], &v[big]);
    i = big;
  }
}

/* Each record the index found passing the mode's test, in order. */
static int collect(const struct structures_hit *h, void *ctx)
{
  struct scan *sc = ctx;
  struct hit x = {.idx = h->idx, .sim = h->similarity};
  snprintf(x.id, sizeof x.id, "%s", h->id);
  snprintf(x.file_id, sizeof x.file_id, "%s", h->file_id);
  sc->total++;
  int after = !sc->after || hit_order(sc->mode, &x, sc->after) > 0;
  if (sc->mode == M_SIMILARITY)
    return after ? offer_hit(sc, &x, h) : 0;
  if (sc->mode == M_EXACT)
    return after && sc->n < sc->keep ? add_hit(sc, &x, h) : 0;
  /* substructure: the first match_max candidates (all of them, when that is all) and the
   * first match_max after the cursor (the window matched when there are more) */
  sc->n_after += after;
  return sc->total <= sc->match_max || (after && sc->n_after <= sc->match_max) ? add_hit(sc, &x, h) : 0;
}

static void free_hits(struct scan *sc)
{
  for (size_t i = 0; i < sc->n; i++) {
    free(sc->hits[i].smiles);
  }
  free(sc->hits);
}

/* One batch of candidates matched in a matcher process (a thread of its own when the
 * round has several). */
struct batch {
  const char *owner; /* whose search (matchers.h) */
  const char *pattern;
  struct hit *w;
  size_t n;
  cb_err e;
  struct cb_errbuf eb;
};

static void *match_batch(void *arg)
{
  struct batch *b = arg;
  cJSON *req = cJSON_CreateObject(), *list = cJSON_AddArrayToObject(req, "smiles"),
        *keys = cJSON_AddArrayToObject(req, "keys"), *res = NULL;
  cJSON_AddStringToObject(req, "op", "match");
  cJSON_AddStringToObject(req, "smarts", b->pattern);
  for (size_t i = 0; i < b->n; i++) {
    cJSON_AddItemToArray(list, cJSON_CreateString(b->w[i].smiles));
    cJSON_AddItemToArray(keys, cJSON_CreateString(b->w[i].id));
  }
  /* an array cut short (out of memory) would shift the indexes the answer names */
  if (cJSON_GetArraySize(list) != (int)b->n || cJSON_GetArraySize(keys) != (int)b->n) {
    cJSON_Delete(req);
    cb_errf(&b->eb, "out of memory");
    b->e = CB_ENOMEM;
    return NULL;
  }
  b->e = matchers_call(b->owner, req, MATCH_TIMEOUT_S, &res, &b->eb);
  cJSON_Delete(req);
  cJSON *idx;
  cJSON_ArrayForEach(idx, cJSON_GetObjectItem(res, "matches"))
  {
    if (cJSON_IsNumber(idx) && idx->valuedouble >= 0 && idx->valuedouble < (double)b->n)
      b->w[(size_t)idx->valuedouble].matched = 1;
  }
  cJSON_Delete(res);
  return NULL;
}

/* Matches pattern against the SMILES of w[0..n) in the matcher processes, a batch to each
 * at once, round after round, until every candidate is matched or need of them match;
 * sets each one's matched and *done to how many (from the start) were matched. */
static cb_err match_window(const char *owner, const char *pattern, struct hit *w, size_t n, size_t need, size_t *done,
                           struct cb_errbuf *eb)
{
  enum { ROUND = 8 };
  int width = matchers_count();
  width = width < 1 ? 1 : width > ROUND ? ROUND : width;
  size_t found = 0;
  /* a page's worth starts small (spread over the matchers) and doubles: a common pattern
   * fills the page from the first candidates, and more would only be read in vain */
  size_t size = need == SIZE_MAX ? MATCH_BATCH : need / (size_t)width;
  size = size < 250 ? 250 : size > MATCH_BATCH ? MATCH_BATCH : size;
  *done = 0;
  for (; *done < n && found < need; size = size * 2 < MATCH_BATCH ? size * 2 : MATCH_BATCH) {
    if (http_stopping()) { /* the server is going: no more rounds */
      cb_errf(eb, "the server is stopping");
      return CB_ETHROTTLED;
    }
    struct batch b[ROUND];
    pthread_t t[ROUND];
    int started[ROUND] = {0}, k = 0;
    for (; k < width && *done < n; k++) {
      size_t len = n - *done < size ? n - *done : size;
      b[k] = (struct batch){.owner = owner, .pattern = pattern, .w = w + *done, .n = len};
      *done += len;
      /* the first batch in this thread; the others in threads of their own */
      started[k] = k > 0 && !pthread_create(&t[k], NULL, match_batch, &b[k]);
    }
    match_batch(&b[0]);
    for (int i = 1; i < k; i++)
      if (started[i])
        pthread_join(t[i], NULL);
      else
        match_batch(&b[i]);
    for (int i = 0; i < k; i++) {
      if (b[i].e) {
        snprintf(eb->msg, sizeof eb->msg, "%s", b[i].eb.msg);
        return b[i].e;
      }
      for (size_t j = 0; j < b[i].n; j++)
        found += b[i].w[j].matched;
    }
  }
  return CB_OK;
}

/* What a search found, ready to show: the hits after the cursor in order (at most
 * limit + 1: one more tells there is a next page), or, when a substructure window ended
 * before the candidates did, where the next page's window starts. */
struct found {
  const struct hit **list;
  size_t n;
  const struct hit *window_end; /* or NULL */
  int64_t total;
  int exact;
};

/* Substructure: the window (every candidate when they are at most match_max, else the
 * match_max after the cursor) is matched, all of it when the total must be exact, else
 * until a page's hits are found; the hits after the cursor are listed, and the total is
 * estimated, when it must be, from the share of hits among the candidates matched. */
static cb_err substructure_hits(const char *owner, struct scan *sc, const char *pattern, struct found *f,
                                struct cb_errbuf *eb)
{
  size_t w0 = 0;
  f->exact = sc->total <= sc->match_max;
  if (!f->exact) { /* the candidates after the cursor (else those kept from the start, a sample) */
    while (w0 < sc->n && sc->after && hit_order(M_SUBSTRUCTURE, &sc->hits[w0], sc->after) <= 0)
      w0++;
    if (w0 == sc->n)
      w0 = 0;
  }
  size_t done = 0;
  cb_err e = match_window(owner, pattern, sc->hits + w0, sc->n - w0, f->exact ? SIZE_MAX : sc->keep, &done, eb);
  if (!f->exact && w0 + done == sc->n && sc->n_after > sc->match_max)
    f->window_end = &sc->hits[sc->n - 1]; /* the next page matches the next window */
  int64_t matched = 0;
  for (size_t i = w0; !e && i < w0 + done; i++) {
    if (!sc->hits[i].matched)
      continue;
    matched++;
    if ((!sc->after || hit_order(M_SUBSTRUCTURE, &sc->hits[i], sc->after) > 0) && f->n < sc->keep)
      f->list[f->n++] = &sc->hits[i];
  }
  f->total = f->exact || !done ? matched : llround((double)matched * (double)sc->total / (double)done);
  return e;
}

static void cursor_of(enum smode m, const struct hit *h, char *out, size_t cap)
{
  char pos[96];
  if (m == M_SIMILARITY)
    snprintf(pos, sizeof pos, "%.17g/%s", h->sim, h->id);
  else
    snprintf(pos, sizeof pos, "%s/%lld", h->file_id, (long long)h->idx);
  http_cursor_encode(mode_cursor[m], pos, out, cap);
}

/* The position a cursor names; 0, or -1 when it is not one this mode's searches issue. */
static int cursor_read(const char *cursor, enum smode m, struct hit *at)
{
  char kind, pos[96], *end;
  char *slash = http_cursor_decode(cursor, &kind, pos, sizeof pos) ? NULL : strchr(pos, '/');
  if (!slash || kind != mode_cursor[m][0])
    return -1;
  *slash = '\0';
  const char *a = pos, *b = slash + 1;
  if (m == M_SIMILARITY) {
    at->sim = strtod(a, &end);
    snprintf(at->id, sizeof at->id, "%s", b);
    return *end || end == a || !(at->sim >= 0 && at->sim <= 1) || !cb_id_valid(b) ? -1 : 0;
  }
  at->idx = strtoll(b, &end, 10);
  snprintf(at->file_id, sizeof at->file_id, "%s", a);
  return *end || end == b || at->idx < 0 || !cb_id_valid(a) ? -1 : 0;
}

static void add_hits(cJSON *o, enum smode m, const struct found *f, size_t limit)
{
  cJSON *hits = cJSON_AddArrayToObject(o, "hits");
  for (size_t i = 0; i < f->n && i < limit; i++) {
    const struct hit *x = f->list[i];
    char *title = db_record_title(x->id); /* titles stay in the database: read for the hits shown */
    cJSON *h = cJSON_CreateObject();
    cJSON_AddStringToObject(h, "record_id", x->id);
    cJSON_AddStringToObject(h, "file_id", x->file_id);
    cJSON_AddStringToObject(h, "title", title ? title : "");
    free(title);
    cJSON_AddStringToObject(h, "smiles", x->smiles);
    if (m == M_SIMILARITY)
      cJSON_AddNumberToObject(h, "similarity", round(x->sim * 10000) / 10000);
    cJSON_AddItemToArray(hits, h);
  }
  const struct hit *next = f->n > limit ? f->list[limit - 1] : f->window_end;
  char cursor[160];
  if (next)
    cursor_of(m, next, cursor, sizeof cursor);
  cJSON_AddItemToObject(o, "next_cursor", json_str_or_null(next ? cursor : NULL));
  cJSON_AddNumberToObject(o, "total", (double)f->total);
  cJSON_AddBoolToObject(o, "total_exact", f->exact);
}

/* The request's parameters, read and checked. */
struct squery {
  char smiles[2048], smarts[2048], file_id[CB_ID_LEN + 1], folder_id[CB_ID_LEN + 1], kind[32];
  int is_smarts;
  enum smode mode;
  double threshold;
  int limit;
  int has_after;
  struct hit after;
};

static int read_mode(struct req *r, struct squery *q)
{
  char mode[32] = "";
  int has_mode = http_query(r, "mode", mode, sizeof mode); /* -1 (too long): refused below */
  if (has_mode == 0)
    snprintf(mode, sizeof mode, "%s", q->is_smarts ? "substructure" : "exact");
  for (int m = 0; has_mode >= 0 && m < 3; m++)
    if (!strcmp(mode, mode_names[m])) {
      q->mode = (enum smode)m;
      if (q->is_smarts && q->mode != M_SUBSTRUCTURE)
        return http_problem(r, 400, "smarts", "smarts= is for substructure search");
      return 0;
    }
  return http_problem(r, 400, "mode", "mode must be exact, substructure or similarity");
}

/* kind=: 1 with one of the kinds of file in out, 0 without, -1 (answered) when malformed. */
static int read_kind(struct req *r, char *out, size_t cap)
{
  static const char *const kinds[] = {"structure", "reaction", "crystal", "image", "pdf",
                                      "office",    "table",    "archive", "text",  "other"};
  int has = http_query(r, "kind", out, cap);
  if (has == 0)
    return 0;
  for (size_t i = 0; has > 0 && i < sizeof kinds / sizeof kinds[0]; i++)
    if (!strcmp(out, kinds[i]))
      return 1;
  http_problem(r, 400, "kind",
               "kind must be one of structure, reaction, crystal, image, pdf, office, table, archive, text, other");
  return -1;
}

/* file_id= or folder_id=: an id of the caller's (a 404 for one they may not see, as for
 * one that does not exist), or none. */
static int read_scope(struct req *r, const char *name, const char *type, char *out, size_t cap)
{
  int has = http_query(r, name, out, cap);
  if (has < 0 || (has > 0 && !cb_id_valid(out)))
    return http_problem(r, 400, name, "%s is not a %s id", name, type);
  cb_err e = has > 0 ? auth_check(&r->who, type, out, CB_READ) : CB_OK;
  return e ? http_access_error(r, e, type, out) : 0;
}

static int read_squery(struct req *r, struct squery *q)
{
  int has_smiles = http_query(r, "smiles", q->smiles, sizeof q->smiles);
  int has_smarts = http_query(r, "smarts", q->smarts, sizeof q->smarts);
  if (has_smiles < 0 || has_smarts < 0)
    return http_problem(r, 400, has_smiles < 0 ? "smiles" : "smarts", "the query is malformed or too long");
  if ((has_smiles > 0) == (has_smarts > 0) || (has_smiles > 0 && !q->smiles[0]) || (has_smarts > 0 && !q->smarts[0]))
    return http_problem(r, 400, "smiles", "give exactly one of smiles= and smarts=");
  q->is_smarts = has_smarts > 0;
  if (read_mode(r, q))
    return r->status;
  char thr[32] = "", cursor[160];
  q->threshold = 0.7;
  int has_thr = http_query(r, "threshold", thr, sizeof thr);
  if (has_thr != 0) {
    char *end = thr;
    q->threshold = has_thr > 0 ? strtod(thr, &end) : 0;
    if (has_thr < 0 || *end || end == thr || !(q->threshold > 0 && q->threshold <= 1))
      return http_problem(r, 400, "threshold", "threshold must be a number above 0 and at most 1");
  }
  if (http_page(r, &q->limit, cursor, sizeof cursor))
    return r->status;
  q->has_after = cursor[0] != '\0';
  if (q->has_after && cursor_read(cursor, q->mode, &q->after))
    return http_problem(r, 400, "cursor", "cursor is not one this search issued");
  if (read_scope(r, "file_id", "file", q->file_id, sizeof q->file_id) ||
      read_scope(r, "folder_id", "folder", q->folder_id, sizeof q->folder_id) ||
      read_kind(r, q->kind, sizeof q->kind) < 0)
    return r->status;
  return 0;
}

/* CARBOY_STRUCTURE_MATCH_MAX (checked when the server starts), or its default. */
static int64_t match_max(void)
{
  const char *v = getenv("CARBOY_STRUCTURE_MATCH_MAX");
  long long n = v ? strtoll(v, NULL, 10) : 0;
  return n > 0 ? n : MATCH_MAX_DEFAULT;
}

/* The query structure identified in a matcher process: its SMILES, InChIKey and
 * fingerprint (*have_fp 1 when there is one). NULL with eb when it cannot be read (e:
 * CB_EINVAL, the query's fault; else the matchers' trouble). */
static cJSON *identify(struct req *r, const struct squery *q, uint64_t fp[STRUCTURES_FP_WORDS], int *have_fp, cb_err *e,
                       struct cb_errbuf *eb)
{
  cJSON *req = cJSON_CreateObject(), *o = NULL;
  cJSON_AddStringToObject(req, "op", "query");
  cJSON_AddStringToObject(req, q->is_smarts ? "smarts" : "smiles", q->is_smarts ? q->smarts : q->smiles);
  *e = matchers_call(r->who.user_id, req, QUERY_TIMEOUT_S, &o, eb);
  cJSON_Delete(req);
  cJSON *hex = cJSON_GetObjectItemCaseSensitive(o, "fp2");
  unsigned char bytes[DB_FP_BYTES];
  *have_fp = cJSON_IsString(hex) && strlen(hex->valuestring) == 2 * DB_FP_BYTES;
  for (int i = 0; *have_fp && i < DB_FP_BYTES; i++) {
    unsigned v;
    *have_fp = sscanf(hex->valuestring + 2 * i, "%2x", &v) == 1;
    bytes[i] = (unsigned char)v;
  }
  if (*have_fp) /* the byte order the index keeps (the database's) */
    memcpy(fp, bytes, sizeof bytes);
  return o;
}

/* Scans the candidates and finds the hits after the cursor. */
static cb_err search_records(struct req *r, const struct squery *q, cJSON *ident, struct scan *sc, struct found *f,
                             struct cb_errbuf *eb)
{
  cJSON *key = cJSON_GetObjectItemCaseSensitive(ident, "inchikey");
  cJSON *qsmiles = cJSON_GetObjectItemCaseSensitive(ident, "smiles");
  f->exact = 1;
  if (q->mode == M_EXACT && !cJSON_IsString(key))
    return CB_OK; /* no InChIKey: nothing is the same */
  if (q->mode == M_SIMILARITY && !sc->qfp) {
    cb_errf(eb, "no fingerprint for the query");
    return CB_EINVAL;
  }
  static const enum structures_test tests[] = {STRUCTURES_EXACT, STRUCTURES_SIMILAR, STRUCTURES_SUPERSET_FP};
  struct db_viewer viewer;
  http_viewer(r, &viewer);
  struct structures_q sq = {.viewer = &viewer,
                            .file_id = q->file_id[0] ? q->file_id : NULL,
                            .folder_id = q->folder_id[0] ? q->folder_id : NULL,
                            .kind = q->kind[0] ? q->kind : NULL,
                            .test = tests[q->mode],
                            .fp = sc->qfp,
                            .inchikey = q->mode == M_EXACT ? key->valuestring : NULL,
                            .threshold = sc->threshold};
  cb_err e = structures_find(&sq, INDEX_WAIT_S, collect, sc);
  if (!e && sc->oom)
    e = CB_ENOMEM;
  if (!e && !(f->list = calloc(sc->n + 1, sizeof *f->list)))
    e = CB_ENOMEM;
  if (e)
    return e;
  f->total = sc->total;
  if (q->mode == M_SUBSTRUCTURE) {
    /* a smiles= query is a molecule: it is matched as Open Babel read it (aromaticity
     * perceived), so a Kekule benzene drawn in an editor finds aromatic rings */
    const char *pattern = q->is_smarts ? q->smarts : cJSON_IsString(qsmiles) ? qsmiles->valuestring : q->smiles;
    return substructure_hits(r->who.user_id, sc, pattern, f, eb);
  }
  if (q->mode == M_SIMILARITY && sc->n) /* (no hits: no array to sort) */
    qsort(sc->hits, sc->n, sizeof *sc->hits, by_similarity);
  for (size_t i = 0; i < sc->n; i++)
    f->list[f->n++] = &sc->hits[i];
  return CB_OK;
}

/* The matchers could not answer: 429 when all stayed busy (or the server is stopping),
 * 503 when one could not be started or gave no answer; the reason either way. */
static int unavailable(struct req *r, cb_err e, const char *why)
{
  return e == CB_ETHROTTLED ? http_problem(r, 429, NULL, "structure search is busy: %s", why)
                            : http_problem(r, 503, NULL, "structure search is unavailable for now: %s", why);
}

int h_search_structure(struct req *r)
{
  if (http_require_user(r))
    return r->status;
  struct squery *q = calloc(1, sizeof *q);
  if (!q)
    return http_error(r, CB_ENOMEM, "the search failed");
  if (read_squery(r, q)) {
    free(q);
    return r->status;
  }
  struct cb_errbuf eb = {""};
  uint64_t qfp[STRUCTURES_FP_WORDS];
  int have_fp = 0;
  cb_err e;
  cJSON *ident = identify(r, q, qfp, &have_fp, &e, &eb);
  if (!ident) {
    int st = e == CB_EINVAL
               ? http_problem(r, 400, q->is_smarts ? "smarts" : "smiles", "the query could not be read: %s", eb.msg)
               : unavailable(r, e, eb.msg);
    free(q);
    return st;
  }
  struct scan sc = {.mode = q->mode,
                    .qfp = have_fp ? qfp : NULL,
                    .threshold = q->threshold,
                    .after = q->has_after ? &q->after : NULL,
                    .keep = (size_t)q->limit + 1,
                    .match_max = match_max()};
  struct found f = {0};
  e = search_records(r, q, ident, &sc, &f, &eb);
  cJSON *o = cJSON_CreateObject();
  cJSON *qsmiles = cJSON_GetObjectItemCaseSensitive(ident, "smiles");
  if (cJSON_IsString(qsmiles))
    cJSON_AddStringToObject(o, "query_smiles", qsmiles->valuestring);
  add_hits(o, q->mode, &f, (size_t)q->limit);
  int st = e == CB_EINVAL                      ? http_problem(r, 400, q->is_smarts ? "smarts" : "smiles", "%s", eb.msg)
           : e == CB_ETHROTTLED || e == CB_EIO ? unavailable(r, e, eb.msg)
           : e                                 ? http_error(r, e, "the search failed")
                                               : http_json(r, 200, o);
  if (e)
    cJSON_Delete(o);
  free(f.list);
  free_hits(&sc);
  cJSON_Delete(ident);
  free(q);
  return st;
}

/* Which files may the caller see? Remembered per request. */
struct access_cache {
  struct req *r;
  char ids[256][CB_ID_LEN + 1];
  char ok[256];
};

static int may_see(struct access_cache *ac, const char *file_id)
{
  int slot = (int)(cb_fnv1a(file_id) % 256);
  if (!strcmp(ac->ids[slot], file_id))
    return ac->ok[slot];
  enum cb_role role;
  int ok = !auth_role(&ac->r->who, "file", file_id, &role);
  snprintf(ac->ids[slot], sizeof ac->ids[slot], "%s", file_id);
  ac->ok[slot] = (char)ok;
  return ok;
}

/* ---- GET /api/v1/search?q=WORDS[&kind=K][&folder_id=F][&where=NAME:OP:VALUE]...[&category=C] ----
 * Full-text (FTS5 over names, extracted text and property values) and property search.
 * Every word must occur (a trailing * matches a prefix); hits are files and records the
 * caller may see, best first. category= keeps files assigned it or a category below it,
 * or lying in a folder (or below one) so assigned; alone, it lists those files by name. */

#define MAX_WHERE 8

/* The user's words as an FTS5 query: each a quoted string (so no word is ever read as
 * FTS5 syntax), a trailing * kept as a prefix match. NULL when there is no word. */
static char *fts_query(const char *q)
{
  struct cb_buf b = {0};
  const char *p = q;
  int words = 0;
  while (*p) {
    while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
      p++;
    const char *start = p;
    while (*p && *p != ' ' && *p != '\t' && *p != '\n' && *p != '\r')
      p++;
    size_t n = (size_t)(p - start);
    int prefix = n > 1 && start[n - 1] == '*';
    if (prefix)
      n--;
    if (!n || (n == 1 && *start == '*'))
      continue;
    cb_buf_puts(&b, words++ ? " \"" : "\"");
    for (size_t i = 0; i < n; i++)
      cb_buf_append(&b, start[i] == '"' ? "\"\"" : &start[i], start[i] == '"' ? 2 : 1);
    cb_buf_puts(&b, prefix ? "\"*" : "\"");
  }
  if (!words) {
    cb_buf_free(&b);
    return NULL;
  }
  return b.data;
}

/* NAME:OP:VALUE, NAME possibly holding colons itself (RXN:YIELD:gt:90): the first
 * ":op:" separates. 0, or -1 when it does not read. */
static int parse_where(char *text, struct db_where *w)
{
  static const char *const ops[] = {"eq", "lt", "le", "gt", "ge"};
  char *best = NULL;
  int op = -1;
  for (int i = 0; i < 5; i++) {
    char pat[8];
    snprintf(pat, sizeof pat, ":%s:", ops[i]);
    char *at = strstr(text, pat);
    if (at && at != text && (!best || at < best)) {
      best = at;
      op = i;
    }
  }
  if (!best || strlen(best + 4) == 0)
    return -1;
  *best = '\0';
  w->name = text;
  w->op = (enum db_op)op;
  w->text = best + 4;
  char *end;
  w->num = strtod(w->text, &end);
  w->is_num = end != w->text && !*end && isfinite(w->num);
  return 0;
}

struct text_hits {
  struct access_cache *ac;
  const char *match;
  const struct db_where *where;
  int nwhere;
  cJSON *hits;
  int n, limit;
  int64_t last; /* the position of the last candidate looked at */
  int more;
  int scanned;
};

#define MAX_SCAN 20000 /* candidates looked at per page, visible or not */

/* Adds a property the hit matched, once (two conditions may name the same property). */
static int add_one_matched(const struct cb_property *p, void *ctx)
{
  cJSON *x, *list = ctx;
  cJSON_ArrayForEach(x, list)
  {
    cJSON *v = cJSON_GetObjectItemCaseSensitive(x, "value");
    if (!strcmp(cJSON_GetObjectItemCaseSensitive(x, "name")->valuestring, p->name) &&
        (p->is_num ? cJSON_IsNumber(v) && v->valuedouble == p->value_num
                   : cJSON_IsString(v) && !strcmp(v->valuestring, p->value_text ? p->value_text : "")))
      return 0;
  }
  return json_add_property(p, list);
}

/* "matched": the hit's own properties that its where= conditions found. */
static void add_matched(cJSON *o, const struct cb_search_hit *h, const struct db_where *where, int nwhere)
{
  cJSON *list = cJSON_AddArrayToObject(o, "matched");
  for (int i = 0; i < nwhere; i++)
    db_search_matched(h->file_id, h->record_id, &where[i], add_one_matched, list);
}

static int take_hit(const struct cb_search_hit *h, void *ctx)
{
  struct text_hits *th = ctx;
  if (th->n == th->limit) {
    th->more = 1;
    return 1;
  }
  th->last = h->position;
  if (++th->scanned > MAX_SCAN) {
    th->more = 1;
    return 1;
  }
  if (!may_see(th->ac, h->file_id))
    return 0;
  cJSON *x;
  cJSON_ArrayForEach(x, th->hits) /* a property that repeats (reactants, ...) lists its owner once */
  {
    cJSON *fid = cJSON_GetObjectItem(x, "file_id"), *rid = cJSON_GetObjectItem(x, "record_id");
    if (!strcmp(fid->valuestring, h->file_id) &&
        (rid ? h->record_id && !strcmp(rid->valuestring, h->record_id) : !h->record_id))
      return 0;
  }
  cJSON *o = cJSON_CreateObject();
  cJSON_AddStringToObject(o, "file_id", h->file_id);
  if (h->record_id)
    cJSON_AddStringToObject(o, "record_id", h->record_id);
  cJSON_AddStringToObject(o, "name", h->name ? h->name : "");
  if (h->record_id && h->title)
    cJSON_AddStringToObject(o, "title", h->title);
  cJSON_AddStringToObject(o, "kind", h->kind ? h->kind : "other");
  char *snip = th->match ? db_search_snippet(th->match, h->doc) : NULL;
  cJSON_AddStringToObject(o, "snippet", snip ? snip : "");
  free(snip);
  if (th->nwhere)
    add_matched(o, h, th->where, th->nwhere);
  /* the rank, not FTS5's bm25 value: that weighs a word by how many documents hold it,
   * documents the caller may not see included, so it would tell of them */
  cJSON_AddNumberToObject(o, "score", 1.0 / (double)h->position);
  cJSON_AddItemToArray(th->hits, o);
  th->n++;
  return 0;
}

int h_search(struct req *r)
{
  char q[2048] = "", kind[32] = "", folder[64] = "", cursor[32] = "";
  char where_text[MAX_WHERE][512];
  struct db_where where[MAX_WHERE];
  int nwhere = 0, limit;
  if (http_page(r, &limit, cursor, sizeof cursor))
    return r->status;
  if (http_query(r, "q", q, sizeof q) < 0)
    return http_problem(r, 400, "q", "q is malformed or longer than %zu bytes", sizeof q - 1);
  int has_kind = read_kind(r, kind, sizeof kind);
  if (has_kind < 0)
    return r->status;
  int has_folder = http_query(r, "folder_id", folder, sizeof folder);
  if (has_folder < 0 || (has_folder > 0 && !cb_id_valid(folder)))
    return http_problem(r, 400, "folder_id", "folder_id is not a folder id");
  if (has_folder > 0) {
    cb_err e = auth_check(&r->who, "folder", folder, CB_READ);
    if (e)
      return http_access_error(r, e, "folder", folder);
  }
  for (int i = 0;; i++) {
    char buf[512];
    int rc = http_query_nth(r, "where", i, buf, sizeof buf);
    if (rc == 0)
      break;
    if (nwhere == MAX_WHERE)
      return http_problem(r, 400, "where", "at most %d where= conditions", MAX_WHERE);
    snprintf(where_text[nwhere], sizeof where_text[nwhere], "%s", buf);
    if (rc < 0 || parse_where(where_text[nwhere], &where[nwhere]))
      return http_problem(r, 400, "where", "where= must read NAME:OP:VALUE with OP one of eq, lt, le, gt, ge");
    nwhere++;
  }
  char records[16] = "";
  int has_records = http_query(r, "records", records, sizeof records);
  if (has_records < 0 || (has_records > 0 && strcmp(records, "all") && strcmp(records, "merged")))
    return http_problem(r, 400, "records", "records must be merged or all");
  /* category=ID: the files in it or in one below it (db_search_q.categories) */
  char category[64] = "", *categories = NULL;
  int has_category = http_query(r, "category", category, sizeof category);
  if (has_category < 0 || (has_category > 0 && !cb_id_valid(category)))
    return http_problem(r, 400, "category", "category is not a category id");
  if (has_category > 0) {
    cb_err ce = db_category_subtree(category, &categories);
    if (ce == CB_ENOTFOUND)
      return http_problem(r, 400, "category", "no category %s (see GET /api/v1/categories)", category);
    if (ce)
      return http_error(r, ce, "cannot read the categories");
  }
  char *match = fts_query(q);
  if (!match && !nwhere && !categories)
    return http_problem(r, 400, "q", "give words to find (q=), at least one where=NAME:OP:VALUE, or a category=");
  int64_t offset = 0;
  if (cursor[0]) {
    char *end;
    offset = strtoll(cursor, &end, 10);
    if (*end || offset < 0) {
      free(match);
      free(categories);
      return http_problem(r, 400, "cursor", "cursor is not one this endpoint issued");
    }
  }
  struct access_cache *ac = calloc(1, sizeof *ac);
  cJSON *out = cJSON_CreateObject();
  cJSON *hits = cJSON_AddArrayToObject(out, "hits");
  struct text_hits th = {
    .ac = ac, .match = match, .where = where, .nwhere = nwhere, .hits = hits, .limit = limit, .last = offset};
  struct db_viewer viewer;
  http_viewer(r, &viewer);
  struct db_search_q sq = {&viewer,
                           match,
                           has_kind > 0 ? kind : NULL,
                           has_folder > 0 ? folder : NULL,
                           where,
                           nwhere,
                           offset,
                           has_records > 0 && !strcmp(records, "all"),
                           categories};
  cb_err e = ac ? CB_OK : CB_ENOMEM;
  if (ac) {
    ac->r = r;
    e = db_search(&sq, take_hit, &th);
  }
  int st;
  if (e == CB_EINVAL) {
    st = http_problem(r, 400, "q", "the query cannot be searched");
  } else if (e) {
    st = http_error(r, e, "cannot search");
  } else {
    if (th.more) {
      char next[32];
      snprintf(next, sizeof next, "%lld", (long long)th.last);
      cJSON_AddStringToObject(out, "next_cursor", next);
    } else {
      cJSON_AddNullToObject(out, "next_cursor");
    }
    st = http_json(r, 200, out);
    out = NULL;
  }
  cJSON_Delete(out);
  free(ac);
  free(match);
  free(categories);
  return st;
}

char *search_fts_query(const char *q)
{
  return fts_query(q);
}

int search_parse_where(char *text, struct db_where *w)
{
  return parse_where(text, w);
}
