/* The live store of a running server: a shim backend over two open stores (as SQLite's
 * shim VFSes, vfstrace or multiplex, wrap a real VFS).
 *
 *   current   every write goes here; every read is tried here first
 *   previous  the store a migration moved away from (or none): a read that misses in
 *             current is served from here, after copying the blob forward into current
 *             (verified by its sha256) when lazy copy is on
 *
 * store_tier_switch, called when the database says a migration switched the live store,
 * makes a new store current and the old current the previous one. Operations in flight
 * keep the store they started on (a put remembers its backend); stores switched away from
 * stay open until the tier closes, so nothing in flight ever sees a closed store. A put
 * that commits to a store that is no longer current is copied forward at once, so a blob
 * that was being uploaded while the switch happened lands in the new store too.
 *
 * This file sees only the store layer: which store is current is decided by the caller
 * (src/maint/live.c reads it from the database). */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/store.h"
#include "util/log.h"

struct tier {
  pthread_mutex_t mu;
  struct store *cur, *prev;
  struct store **retired; /* switched away from twice: closed with the tier */
  int nretired;
  int lazy_copy;
  struct store_ops ops; /* this tier's table: its caps follow the current store */
};

struct tier_put {
  struct tier *t;
  struct store *inner;
  const struct store_ops *ops;
  void *put;
};

static void snap(struct tier *t, struct store **cur, struct store **prev)
{
  pthread_mutex_lock(&t->mu);
  *cur = t->cur;
  if (prev)
    *prev = t->prev;
  pthread_mutex_unlock(&t->mu);
}

static cb_err tier_open(const char *url, void **state, struct cb_errbuf *eb)
{
  (void)state;
  cb_errf(eb, "a tier store is made with store_tier_open, not from a URL ('%s')", url);
  return CB_EINVAL;
}

static void tier_close(void *state)
{
  struct tier *t = state;
  if (!t)
    return;
  store_close(t->cur);
  store_close(t->prev);
  for (int i = 0; i < t->nretired; i++)
    store_close(t->retired[i]);
  free(t->retired);
  pthread_mutex_destroy(&t->mu);
  free(t);
}

static cb_err tier_put_begin(void *state, void **out, struct cb_errbuf *eb)
{
  struct tier *t = state;
  struct tier_put *tp = calloc(1, sizeof *tp);
  if (!tp)
    return CB_ENOMEM;
  void *inner_state;
  tp->t = t;
  snap(t, &tp->inner, NULL);
  tp->ops = store_backend(tp->inner, &inner_state);
  cb_err e = tp->ops->put_begin(inner_state, &tp->put, eb);
  if (e) {
    free(tp);
    return e;
  }
  *out = tp;
  return CB_OK;
}

static cb_err tier_put_write(void *put, const void *buf, size_t n, struct cb_errbuf *eb)
{
  struct tier_put *tp = put;
  return tp->ops->put_write(tp->put, buf, n, eb);
}

/* A blob committed to a store that stopped being current while it was written goes to
 * the current one too (else it would live only in the store migrated away from). */
static void copy_forward(struct tier *t, struct store *from, const char *sha256)
{
  struct store *cur;
  snap(t, &cur, NULL);
  if (cur == from)
    return;
  struct cb_errbuf eb = {{0}};
  cb_err e = store_copy_blob(from, cur, sha256, NULL, &eb);
  if (e)
    CB_LOG(CB_LOG_WARN, "store",
           "blob %s was written to %s while the live store switched to %s, "
           "and copying it forward failed (%s); it is read from %s until 'carboy migrate' or "
           "'carboy verify --repair' copies it",
           sha256, store_url(from), store_url(cur), eb.msg[0] ? eb.msg : cb_strerror(e), store_url(from));
  else
    CB_LOG(CB_LOG_INFO, "store", "blob %s copied forward to %s (written during the switch)", sha256, store_url(cur));
}

static cb_err tier_put_commit(void *put, const char *sha256, uint64_t size, struct cb_errbuf *eb)
{
  struct tier_put *tp = put;
  cb_err e = tp->ops->put_commit(tp->put, sha256, size, eb);
  if (!e)
    copy_forward(tp->t, tp->inner, sha256);
  free(tp);
  return e;
}

/* Puts that all went to one store that commits many at once go together; otherwise
 * (a switch happened between them) one by one. */
static void tier_put_abort(void *put);

static cb_err tier_put_commit_many(void *state, void **puts, const char (*sha256s)[65], const uint64_t *sizes, int n,
                                   struct cb_errbuf *eb)
{
  (void)state;
  struct tier_put *first = n ? puts[0] : NULL;
  int same = first && first->ops->put_commit_many;
  for (int i = 1; same && i < n; i++)
    same = ((struct tier_put *)puts[i])->inner == first->inner;
  cb_err e = CB_OK;
  if (!same) {
    for (int i = 0; i < n; i++) {
      if (e)
        tier_put_abort(puts[i]);
      else
        e = tier_put_commit(puts[i], sha256s[i], sizes[i], eb);
    }
    return e;
  }
  void **inner = malloc((size_t)n * sizeof *inner);
  if (!inner) {
    for (int i = 0; i < n; i++)
      tier_put_abort(puts[i]);
    return CB_ENOMEM;
  }
  for (int i = 0; i < n; i++)
    inner[i] = ((struct tier_put *)puts[i])->put;
  void *inner_state;
  store_backend(first->inner, &inner_state);
  e = first->ops->put_commit_many(inner_state, inner, sha256s, sizes, n, eb);
  free(inner);
  for (int i = 0; i < n; i++) {
    if (!e)
      copy_forward(first->t, first->inner, sha256s[i]);
    if (i)
      free(puts[i]);
  }
  free(first);
  return e;
}

static void tier_put_abort(void *put)
{
  struct tier_put *tp = put;
  if (!tp)
    return;
  tp->ops->put_abort(tp->put);
  free(tp);
}

/* Copies a blob found only in prev into cur (lazy copy on read); CB_OK when cur has it. */
static cb_err pull_forward(struct tier *t, struct store *cur, struct store *prev, const char *sha256)
{
  if (!t->lazy_copy)
    return CB_ENOTFOUND;
  struct cb_errbuf eb = {{0}};
  cb_err e = store_copy_blob(prev, cur, sha256, NULL, &eb);
  if (e && e != CB_ENOTFOUND)
    CB_LOG(CB_LOG_WARN, "store", "lazy copy of blob %s from %s to %s failed: %s", sha256, store_url(prev),
           store_url(cur), eb.msg[0] ? eb.msg : cb_strerror(e));
  else if (!e)
    CB_LOG(CB_LOG_DEBUG, "store", "blob %s copied on read from %s to %s", sha256, store_url(prev), store_url(cur));
  return e;
}

static cb_err tier_get_range(void *state, const char *sha256, uint64_t off, uint64_t len, store_sink_fn sink, void *ctx,
                             struct cb_errbuf *eb)
{
  struct tier *t = state;
  struct store *cur, *prev;
  snap(t, &cur, &prev);
  cb_err e = store_get_range(cur, sha256, off, len, sink, ctx, eb);
  if (e != CB_ENOTFOUND || !prev)
    return e;
  if (!pull_forward(t, cur, prev, sha256))
    return store_get_range(cur, sha256, off, len, sink, ctx, eb);
  return store_get_range(prev, sha256, off, len, sink, ctx, eb);
}

static cb_err tier_head(void *state, const char *sha256, uint64_t *size)
{
  struct tier *t = state;
  struct store *cur, *prev;
  snap(t, &cur, &prev);
  cb_err e = store_head(cur, sha256, size);
  if (e == CB_ENOTFOUND && prev)
    e = store_head(prev, sha256, size);
  return e;
}

static cb_err tier_remove(void *state, const char *sha256)
{
  struct store *cur;
  snap(state, &cur, NULL);
  return store_remove(cur, sha256);
}

static cb_err tier_list(void *state, store_list_fn cb, void *ctx)
{
  struct store *cur;
  snap(state, &cur, NULL);
  return store_list(cur, cb, ctx);
}

static cb_err tier_remove_stale(void *state, const char *sha256, int64_t before_ms)
{
  struct store *cur;
  snap(state, &cur, NULL);
  return store_remove_stale(cur, sha256, before_ms);
}

static cb_err tier_clean_tmp(void *state, int64_t before_ms, int *removed)
{
  struct store *cur;
  snap(state, &cur, NULL);
  return store_clean_tmp(cur, before_ms, removed);
}

static cb_err tier_adopt(void *state, const char *path, const char *sha256, struct cb_errbuf *eb)
{
  struct store *cur;
  void *inner_state;
  snap(state, &cur, NULL);
  const struct store_ops *ops = store_backend(cur, &inner_state);
  if (!(ops->caps & STORE_CAP_ADOPT))
    return CB_EINVAL; /* store_put_file copies instead */
  return ops->adopt_file(inner_state, path, sha256, eb);
}

static cb_err tier_local_path(void *state, const char *sha256, char *out, size_t cap)
{
  struct tier *t = state;
  struct store *cur, *prev;
  snap(t, &cur, &prev);
  if (prev && store_head(cur, sha256, NULL) == CB_ENOTFOUND && store_head(prev, sha256, NULL) == CB_OK &&
      pull_forward(t, cur, prev, sha256) && (store_caps(prev) & STORE_CAP_LOCAL_PATH))
    return store_local_path(prev, sha256, out, cap);
  return store_local_path(cur, sha256, out, cap);
}

static cb_err tier_space(void *state, uint64_t *free_bytes)
{
  struct store *cur;
  void *inner_state;
  snap(state, &cur, NULL);
  return store_backend(cur, &inner_state)->space(inner_state, free_bytes);
}

static const struct store_ops tier_template = {
  .version = STORE_OPS_VERSION,
  .caps = 0,
  .scheme = "tier",
  .open = tier_open,
  .close = tier_close,
  .put_begin = tier_put_begin,
  .put_write = tier_put_write,
  .put_commit = tier_put_commit,
  .put_commit_many = tier_put_commit_many,
  .put_abort = tier_put_abort,
  .get_range = tier_get_range,
  .head = tier_head,
  .remove = tier_remove,
  .list = tier_list,
  .adopt_file = tier_adopt,
  .local_path = tier_local_path,
  .space = tier_space,
  .remove_stale = tier_remove_stale,
  .clean_tmp = tier_clean_tmp,
};

static struct tier *tier_of(struct store *s)
{
  void *state;
  const struct store_ops *ops = store_backend(s, &state);
  return ops->open == tier_open ? state : NULL;
}

cb_err store_tier_open(struct store *current, struct store *previous, int lazy_copy, struct store **out)
{
  struct tier *t = calloc(1, sizeof *t);
  if (!t)
    return CB_ENOMEM;
  pthread_mutex_init(&t->mu, NULL);
  t->cur = current;
  t->prev = previous;
  t->lazy_copy = lazy_copy;
  t->ops = tier_template;
  t->ops.caps = store_caps(current);
  cb_err e = store_wrap(&t->ops, t, store_url(current), out);
  if (e) {
    pthread_mutex_destroy(&t->mu);
    free(t);
  }
  return e;
}

cb_err store_tier_switch(struct store *tier, struct store *next)
{
  struct tier *t = tier_of(tier);
  if (!t)
    return CB_EINVAL;
  pthread_mutex_lock(&t->mu);
  cb_err e = CB_OK;
  if (t->prev) {
    struct store **r = realloc(t->retired, sizeof *r * (size_t)(t->nretired + 1));
    if (r) {
      t->retired = r;
      t->retired[t->nretired++] = t->prev;
    } else {
      e = CB_ENOMEM;
    }
  }
  if (!e) {
    CB_LOG(CB_LOG_INFO, "store",
           "live store switched from %s to %s (reads that miss fall back "
           "to %s)",
           store_url(t->cur), store_url(next), store_url(t->cur));
    t->prev = t->cur;
    t->cur = next;
    t->ops.caps = store_caps(next);
  }
  pthread_mutex_unlock(&t->mu);
  return e;
}

void store_tier_current_url(struct store *s, char *out, size_t cap)
{
  struct tier *t = tier_of(s);
  if (!t) {
    snprintf(out, cap, "%s", "");
    return;
  }
  pthread_mutex_lock(&t->mu);
  snprintf(out, cap, "%s", store_url(t->cur));
  pthread_mutex_unlock(&t->mu);
}
