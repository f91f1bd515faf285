/* Structure search: GET /api/v1/search/structure?smiles=S|smarts=P&mode=...
 *   exact        records with the query's InChIKey;
 *   similarity   Tanimoto on FP2 fingerprints (computed at ingest) >= threshold, best first;
 *   substructure an AND screen on the fingerprints, then a SMARTS match of the survivors
 *                in converter processes (Open Babel never runs in the server).
 * Only records of files the caller may see are ever considered. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "http/http.h"
#include "http/parse.h"
#include "util/hash.h"

#define MAX_CANDIDATES 20000
#define MATCH_BATCH 2000

/* Runs a helper job in a converter process and waits for its result (a JSON object). */
static cJSON *run_helper(struct req *r, const char *type, cJSON *params, int timeout_s, struct cb_errbuf *eb)
{
  char job[CB_ID_LEN + 1];
  char *text = cJSON_PrintUnformatted(params);
  int rc = text ? http_run_job(r, type, text, NULL, timeout_s, 1, job, eb) : -2;
  cJSON_free(text);
  if (rc != 1)
    return NULL;
  char *res = db_job_result(job);
  cJSON *o = res ? cJSON_Parse(res) : NULL;
  free(res);
  return o;
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

struct hit {
  char id[CB_ID_LEN + 1];
  char file_id[CB_ID_LEN + 1];
  char *title, *smiles;
  double sim;
};

struct scan {
  struct access_cache *ac;
  const unsigned char *qfp; /* query fingerprint, or NULL */
  int mode;                 /* 0 exact, 1 similarity, 2 substructure */
  double threshold;
  struct hit *hits;
  size_t n, cap;
  int truncated;
};

static int collect(const struct cb_record_hit *h, void *ctx)
{
  struct scan *sc = ctx;
  double sim = 1.0;
  if (sc->mode == 1) {
    if (!h->fp || !sc->qfp)
      return 0;
    int both = 0, either = 0;
    for (int i = 0; i < 128; i++) {
      both += __builtin_popcount(h->fp[i] & sc->qfp[i]);
      either += __builtin_popcount(h->fp[i] | sc->qfp[i]);
    }
    sim = either ? (double)both / either : 0;
    if (sim < sc->threshold)
      return 0;
  } else if (sc->mode == 2 && sc->qfp && h->fp) {
    for (int i = 0; i < 128; i++)
      if ((h->fp[i] & sc->qfp[i]) != sc->qfp[i])
        return 0; /* lacks a bit the query has: cannot contain it */
  }
  if (!may_see(sc->ac, h->file_id))
    return 0;
  if (sc->n == sc->cap) {
    if (sc->cap >= MAX_CANDIDATES) {
      sc->truncated = 1;
      return 1;
    }
  }
  if (cb_grow(&sc->hits, sc->n, &sc->cap, sizeof *sc->hits, 256))
    return 1;
  struct hit *x = &sc->hits[sc->n++];
  snprintf(x->id, sizeof x->id, "%s", h->id);
  snprintf(x->file_id, sizeof x->file_id, "%s", h->file_id);
  x->title = strdup(h->title ? h->title : "");
  x->smiles = strdup(h->smiles ? h->smiles : "");
  x->sim = sim;
  if (!x->title || !x->smiles) { /* out of memory: stop, as when the array cannot grow */
    free(x->title);
    free(x->smiles);
    sc->n--;
    return 1;
  }
  return 0;
}

static int by_similarity(const void *a, const void *b)
{
  const struct hit *x = a, *y = b;
  return x->sim < y->sim ? 1 : x->sim > y->sim ? -1 : strcmp(x->id, y->id);
}

static void free_hits(struct scan *sc)
{
  for (size_t i = 0; i < sc->n; i++) {
    free(sc->hits[i].title);
    free(sc->hits[i].smiles);
  }
  free(sc->hits);
}

int h_search_structure(struct req *r)
{
  if (http_require_user(r))
    return r->status;
  char smiles[2048] = "", smarts[2048] = "", mode[32] = "", thr[32] = "", lim[16] = "";
  int has_smiles = http_query(r, "smiles", smiles, sizeof smiles);
  int has_smarts = http_query(r, "smarts", smarts, sizeof smarts);
  if (has_smiles < 0 || has_smarts < 0)
    return http_problem(r, 400, has_smiles < 0 ? "smiles" : "smarts", "the query is malformed or too long");
  if ((has_smiles > 0) == (has_smarts > 0) || (has_smiles > 0 && !smiles[0]) || (has_smarts > 0 && !smarts[0]))
    return http_problem(r, 400, "smiles", "give exactly one of smiles= and smarts=");
  int has_mode = http_query(r, "mode", mode, sizeof mode); /* -1 (too long): refused below */
  if (has_mode == 0)
    snprintf(mode, sizeof mode, "%s", has_smarts > 0 ? "substructure" : "exact");
  int m = has_mode < 0                    ? -1
          : !strcmp(mode, "exact")        ? 0
          : !strcmp(mode, "similarity")   ? 1
          : !strcmp(mode, "substructure") ? 2
                                          : -1;
  if (m < 0)
    return http_problem(r, 400, "mode", "mode must be exact, substructure or similarity");
  if (has_smarts > 0 && m != 2)
    return http_problem(r, 400, "smarts", "smarts= is for substructure search");
  double threshold = 0.7;
  int has_thr = http_query(r, "threshold", thr, sizeof thr);
  if (has_thr != 0) {
    char *end = thr;
    threshold = has_thr > 0 ? strtod(thr, &end) : 0;
    if (has_thr < 0 || *end || end == thr || !(threshold > 0 && threshold <= 1))
      return http_problem(r, 400, "threshold", "threshold must be a number above 0 and at most 1");
  }
  int limit = 100;
  int has_lim = http_query(r, "limit", lim, sizeof lim);
  if (has_lim != 0) {
    char *end = lim;
    long v = has_lim > 0 ? strtol(lim, &end, 10) : 0;
    if (has_lim < 0 || *end || end == lim || v < 1 || v > 1000)
      return http_problem(r, 400, "limit", "limit must be a whole number from 1 to 1000");
    limit = (int)v;
  }
  /* identify the query in a converter process */
  struct cb_errbuf eb = {""};
  cJSON *params = cJSON_CreateObject();
  cJSON_AddStringToObject(params, has_smarts > 0 ? "smarts" : "smiles", has_smarts > 0 ? smarts : smiles);
  cJSON *q = run_helper(r, "query", params, 60, &eb);
  cJSON_Delete(params);
  if (!q)
    return http_problem(r, 400, has_smarts > 0 ? "smarts" : "smiles", "the query could not be read: %s", eb.msg);
  cJSON *key = cJSON_GetObjectItemCaseSensitive(q, "inchikey"), *fp = cJSON_GetObjectItemCaseSensitive(q, "fp2");
  unsigned char qfp[128];
  int have_fp = cJSON_IsString(fp) && strlen(fp->valuestring) == 256;
  for (int i = 0; have_fp && i < 128; i++) {
    unsigned v;
    sscanf(fp->valuestring + 2 * i, "%2x", &v);
    qfp[i] = (unsigned char)v;
  }
  struct access_cache *ac = calloc(1, sizeof *ac);
  struct scan sc = {.ac = ac, .qfp = have_fp ? qfp : NULL, .mode = m, .threshold = threshold};
  cb_err e = CB_OK;
  if (!ac)
    e = CB_ENOMEM;
  else {
    ac->r = r;
    if (m == 0) {
      if (cJSON_IsString(key))
        e = db_records_by_inchikey(key->valuestring, collect, &sc);
    } else if (m == 1 && !have_fp) {
      e = CB_EINVAL;
      cb_errf(&eb, "no fingerprint for the query");
    } else {
      e = db_records_scan(collect, &sc);
    }
  }
  cJSON *o = cJSON_CreateObject(), *hits = cJSON_AddArrayToObject(o, "hits");
  if (cJSON_IsString(cJSON_GetObjectItem(q, "smiles")))
    cJSON_AddStringToObject(o, "query_smiles", cJSON_GetObjectItem(q, "smiles")->valuestring);
  /* substructure: the fingerprint screen is necessary, not sufficient: match in batches */
  /* a smiles= query is a molecule: it is matched as Open Babel read it (aromaticity
   * perceived), so a Kekule benzene drawn in an editor finds aromatic rings */
  const char *pattern = has_smarts > 0 ? smarts : smiles;
  if (has_smarts <= 0 && cJSON_IsString(cJSON_GetObjectItem(q, "smiles")))
    pattern = cJSON_GetObjectItem(q, "smiles")->valuestring;
  char *keep = NULL;
  if (!e && m == 2 && sc.n) {
    keep = calloc((size_t)sc.n, 1);
    for (size_t start = 0; keep && start < sc.n && !e; start += MATCH_BATCH) {
      size_t end = start + MATCH_BATCH < sc.n ? start + MATCH_BATCH : sc.n;
      cJSON *mp = cJSON_CreateObject(), *list = cJSON_AddArrayToObject(mp, "smiles");
      cJSON_AddStringToObject(mp, "smarts", pattern);
      for (size_t i = start; i < end; i++)
        cJSON_AddItemToArray(list, cJSON_CreateString(sc.hits[i].smiles));
      cJSON *res = run_helper(r, "match", mp, 120, &eb);
      cJSON_Delete(mp);
      if (!res) {
        e = CB_EINVAL;
        break;
      }
      cJSON *idx;
      cJSON_ArrayForEach(idx, cJSON_GetObjectItem(res, "matches")) if (cJSON_IsNumber(idx) && idx->valueint >= 0 &&
                                                                       start + (size_t)idx->valueint < end)
        keep[start + (size_t)idx->valueint] = 1;
      cJSON_Delete(res);
    }
  }
  if (!e && m == 1)
    qsort(sc.hits, (size_t)sc.n, sizeof *sc.hits, by_similarity);
  int shown = 0;
  for (size_t i = 0; !e && i < sc.n && shown < limit; i++) {
    if (m == 2 && (!keep || !keep[i]))
      continue;
    cJSON *h = cJSON_CreateObject();
    cJSON_AddStringToObject(h, "record_id", sc.hits[i].id);
    cJSON_AddStringToObject(h, "file_id", sc.hits[i].file_id);
    cJSON_AddStringToObject(h, "title", sc.hits[i].title);
    cJSON_AddStringToObject(h, "smiles", sc.hits[i].smiles);
    if (m == 1)
      cJSON_AddNumberToObject(h, "similarity", round(sc.hits[i].sim * 10000) / 10000);
    cJSON_AddItemToArray(hits, h);
    shown++;
  }
  if (sc.truncated)
    cJSON_AddTrueToObject(o, "truncated");
  free(keep);
  free_hits(&sc);
  free(ac);
  cJSON_Delete(q);
  if (e) {
    cJSON_Delete(o);
    return e == CB_EINVAL ? http_problem(r, 400, has_smarts > 0 ? "smarts" : "smiles", "%s", eb.msg)
                          : http_error(r, e, "the search failed");
  }
  return http_json(r, 200, o);
}

/* ---- GET /api/v1/search?q=WORDS[&kind=K][&folder_id=F][&where=NAME:OP:VALUE]... ----
 * Full-text (FTS5 over names, extracted text and property values) and property search.
 * Every word must occur (a trailing * matches a prefix); hits are files and records the
 * caller may see, best first. */

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
  cJSON *hits;
  int n, limit;
  int64_t last; /* the position of the last candidate looked at */
  int more;
  int scanned;
};

#define MAX_SCAN 20000 /* candidates looked at per page, visible or not */

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
  /* the rank, not FTS5's bm25 value: that weighs a word by how many documents hold it,
   * documents the caller may not see included, so it would tell of them */
  cJSON_AddNumberToObject(o, "score", 1.0 / (double)h->position);
  cJSON_AddItemToArray(th->hits, o);
  th->n++;
  return 0;
}

int h_search(struct req *r)
{
  static const char *const kinds[] = {"structure", "reaction", "crystal", "image", "pdf",
                                      "office",    "table",    "archive", "text",  "other"};
  char q[2048] = "", kind[32] = "", folder[64] = "", cursor[32] = "";
  char where_text[MAX_WHERE][512];
  struct db_where where[MAX_WHERE];
  int nwhere = 0, limit;
  if (http_page(r, &limit, cursor, sizeof cursor))
    return r->status;
  if (http_query(r, "q", q, sizeof q) < 0)
    return http_problem(r, 400, "q", "q is malformed or longer than %zu bytes", sizeof q - 1);
  int has_kind = http_query(r, "kind", kind, sizeof kind);
  if (has_kind < 0 || (has_kind > 0 && !kind[0]))
    return http_problem(r, 400, "kind", "kind is malformed");
  if (has_kind > 0) {
    int ok = 0;
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
      ok |= !strcmp(kind, kinds[i]);
    if (!ok)
      return http_problem(r, 400, "kind",
                          "kind must be one of structure, reaction, crystal, image, pdf, office,"
                          " table, archive, text, other");
  }
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
  char *match = fts_query(q);
  if (!match && !nwhere)
    return http_problem(r, 400, "q", "give words to find (q=) or at least one where=NAME:OP:VALUE");
  int64_t offset = 0;
  if (cursor[0]) {
    char *end;
    offset = strtoll(cursor, &end, 10);
    if (*end || offset < 0) {
      free(match);
      return http_problem(r, 400, "cursor", "cursor is not one this endpoint issued");
    }
  }
  struct access_cache *ac = calloc(1, sizeof *ac);
  cJSON *out = cJSON_CreateObject();
  cJSON *hits = cJSON_AddArrayToObject(out, "hits");
  struct text_hits th = {.ac = ac, .match = match, .hits = hits, .limit = limit, .last = offset};
  struct db_viewer viewer;
  http_viewer(r, &viewer);
  struct db_search_q sq = {&viewer, match, has_kind > 0 ? kind : NULL, has_folder > 0 ? folder : NULL, where,
                           nwhere,  offset};
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
