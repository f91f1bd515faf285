/* The structure index (structures.h).
 *
 * Layout. One struct sfile per file holding records, with its records' fingerprints in
 * one array (16 words each, their bit counts beside), their indexes, ids, InChIKeys and
 * SMILES in others, in index order; the files in an array sorted by id. A scan visits the
 * files the caller may see in that order and each file's records in theirs, so the hits
 * come in the order structure search pages by, with no sort.
 *
 * Access. Which files the caller may see is asked of the database at every query, with the
 * same rule every other listing uses (db_structure_files_visible: the index's file ids as a
 * JSON array, joined to files with the access rule, the folder and the kind), before any
 * record is tested: hidden records are never counted, ranked or matched.
 *
 * Staying current. The database logs the files whose records may have changed
 * (structure_changes, written by a trigger in the transaction of the change: processed,
 * a new version, deleted, restored). The index remembers the last change it applied; a
 * query applies any later ones first (so a file just processed is found), and a thread
 * applies them every moment in between, so a query seldom waits. Applying a change reads
 * that file's current records again: none for a deleted file or a new version not yet
 * processed. An index that fell behind what the log still holds is loaded again whole.
 *
 * Locking. A read-write lock, writers preferred: scans share it; applying changes takes
 * it briefly to swap a file's arrays, read from the database beforehand. */
#include "search/structures.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/log.h"
#include "util/util.h"

#define W STRUCTURES_FP_WORDS
#define NO_FP 0xffff
#define KEY_LEN 27              /* an InChIKey */
#define FOLLOW_MS 500           /* the thread's pace */
#define CHANGES_KEPT 100000     /* log rows kept behind the newest (for instances that lag) */
#define CHANGES_PER_STEP 100000 /* changes applied at once; more: a whole load */

struct sfile {
  char id[CB_ID_LEN + 1];
  int64_t version;
  size_t n, cap;
  uint64_t (*fp)[W];
  uint16_t *bits; /* set bits of each fingerprint, NO_FP: none */
  int64_t *idx;
  char (*rid)[CB_ID_LEN + 1];
  char (*key)[KEY_LEN + 1];
  char **smiles;
};

static pthread_rwlock_t rw;
static struct sfile **files; /* sorted by id */
static size_t nfiles, capfiles;
static int64_t nrecords;
static int64_t applied = -1; /* the last change applied; -1: not loaded */
static uint64_t generation;  /* bumped when the set of files changes */

/* the file ids as a JSON array, for the access query (rebuilt after a change) */
static pthread_mutex_t ids_lock = PTHREAD_MUTEX_INITIALIZER;
static char *ids_json;
static uint64_t ids_generation = (uint64_t)-1;

/* one applier at a time (the thread, or a query that found the index behind) */
static pthread_mutex_t apply_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t loaded_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t loaded_cond = PTHREAD_COND_INITIALIZER;
static int loaded, started;
static atomic_int stopping;
static pthread_t follower;

static void sfile_free(struct sfile *f)
{
  if (!f)
    return;
  for (size_t i = 0; i < f->n; i++)
    free(f->smiles[i]);
  free(f->fp);
  free(f->bits);
  free(f->idx);
  free(f->rid);
  free(f->key);
  free(f->smiles);
  free(f);
}

/* Appends a record to f: 0, or -1 out of memory. */
static int sfile_add(struct sfile *f, const struct cb_structure_row *row)
{
  if (f->n == f->cap) {
    size_t cap = f->cap ? f->cap * 2 : 16;
    void *a = realloc(f->fp, cap * sizeof *f->fp), *b = a ? realloc(f->bits, cap * sizeof *f->bits) : NULL;
    if (a)
      f->fp = a;
    if (b)
      f->bits = b;
    void *c = b ? realloc(f->idx, cap * sizeof *f->idx) : NULL;
    if (c)
      f->idx = c;
    void *d = c ? realloc(f->rid, cap * sizeof *f->rid) : NULL;
    if (d)
      f->rid = d;
    void *e = d ? realloc(f->key, cap * sizeof *f->key) : NULL;
    if (e)
      f->key = e;
    void *g = e ? realloc(f->smiles, cap * sizeof *f->smiles) : NULL;
    if (!g)
      return -1;
    f->smiles = g;
    f->cap = cap;
  }
  size_t i = f->n;
  if (!(f->smiles[i] = strdup(row->smiles ? row->smiles : "")))
    return -1;
  if (row->fp) {
    unsigned bits = 0;
    memcpy(f->fp[i], row->fp, sizeof f->fp[i]);
    for (int w = 0; w < W; w++)
      bits += (unsigned)__builtin_popcountll(f->fp[i][w]);
    f->bits[i] = (uint16_t)bits;
  } else {
    memset(f->fp[i], 0, sizeof f->fp[i]);
    f->bits[i] = NO_FP;
  }
  f->idx[i] = row->idx;
  snprintf(f->rid[i], sizeof f->rid[i], "%s", row->id);
  snprintf(f->key[i], sizeof f->key[i], "%s", row->inchikey ? row->inchikey : "");
  f->n++;
  return 0;
}

/* ---- reading from the database ---- */

struct loading {
  struct sfile **list;
  size_t n, cap;
  int oom;
};

static int load_row(const struct cb_structure_row *row, void *ctx)
{
  struct loading *l = ctx;
  struct sfile *f = l->n ? l->list[l->n - 1] : NULL;
  if (!f || strcmp(f->id, row->file_id)) {
    if (cb_grow(&l->list, l->n, &l->cap, sizeof *l->list, 64) || !(f = calloc(1, sizeof *f)))
      return l->oom = 1;
    snprintf(f->id, sizeof f->id, "%s", row->file_id);
    f->version = row->version;
    l->list[l->n++] = f;
  }
  return sfile_add(f, row) ? (l->oom = 1) : 0;
}

static void loading_free(struct loading *l)
{
  for (size_t i = 0; i < l->n; i++)
    sfile_free(l->list[i]);
  free(l->list);
}

/* Reads the records of one file (or of all: id NULL) into l; on failure l is empty. */
static cb_err read_files(const char *id, struct loading *l)
{
  cb_err e = db_structures_load(id, load_row, l);
  if (!e && l->oom)
    e = CB_ENOMEM;
  if (e) {
    loading_free(l);
    *l = (struct loading){0};
  }
  return e;
}

/* The position of id in files, or where it would go (*found 0). */
static size_t find_file(const char *id, int *found)
{
  size_t lo = 0, hi = nfiles;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    int c = strcmp(files[mid]->id, id);
    if (!c) {
      *found = 1;
      return mid;
    }
    if (c < 0)
      lo = mid + 1;
    else
      hi = mid;
  }
  *found = 0;
  return lo;
}

/* Puts f (NULL: none) in the place of the file id; under the write lock. 0, or -1 out of
 * memory (nothing changed). */
static int replace_file(const char *id, struct sfile *f)
{
  int found;
  size_t at = find_file(id, &found);
  if (found) {
    nrecords -= (int64_t)files[at]->n;
    sfile_free(files[at]);
    if (f)
      files[at] = f;
    else
      memmove(&files[at], &files[at + 1], (nfiles - at - 1) * sizeof *files), nfiles--;
  } else if (f) {
    if (cb_grow(&files, nfiles, &capfiles, sizeof *files, 256))
      return -1;
    memmove(&files[at + 1], &files[at], (nfiles - at) * sizeof *files);
    files[at] = f;
    nfiles++;
  }
  if (f)
    nrecords += (int64_t)f->n;
  if (found != (f != NULL)) /* a file came or went */
    generation++;
  return 0;
}

/* Loads the whole index; under apply_lock. */
static cb_err load_all(void)
{
  int64_t upto = 0;
  cb_err e = db_structure_changes_last(&upto);
  struct loading l = {0};
  if (!e)
    e = read_files(NULL, &l);
  if (e)
    return e;
  pthread_rwlock_wrlock(&rw);
  for (size_t i = 0; i < nfiles; i++)
    sfile_free(files[i]);
  free(files);
  files = l.list;
  nfiles = l.n;
  capfiles = l.cap;
  nrecords = 0;
  for (size_t i = 0; i < nfiles; i++)
    nrecords += (int64_t)files[i]->n;
  generation++;
  applied = upto;
  pthread_rwlock_unlock(&rw);
  return CB_OK;
}

/* Reads one file's records again and puts them in place; under apply_lock. */
static cb_err reload_file(const char *id)
{
  struct loading l = {0};
  cb_err e = read_files(id, &l);
  if (e)
    return e;
  pthread_rwlock_wrlock(&rw);
  if (replace_file(id, l.n ? l.list[0] : NULL)) {
    pthread_rwlock_unlock(&rw);
    loading_free(&l);
    return CB_ENOMEM;
  }
  pthread_rwlock_unlock(&rw);
  free(l.list);
  return CB_OK;
}

struct changes {
  char (*ids)[CB_ID_LEN + 1];
  size_t n, cap;
  int64_t last;
  int oom;
};

static int change_row(int64_t seq, const char *file_id, void *ctx)
{
  struct changes *c = ctx;
  c->last = seq;
  for (size_t i = c->n; i-- > 0 && c->n - i <= 64;) /* a file changed twice in a row: once */
    if (!strcmp(c->ids[i], file_id))
      return 0;
  if (cb_grow(&c->ids, c->n, &c->cap, sizeof *c->ids, 64))
    return c->oom = 1;
  snprintf(c->ids[c->n++], sizeof c->ids[0], "%s", file_id);
  return 0;
}

/* Applies the changes logged since the last one applied (all of them, or a whole load when
 * the log no longer holds them). */
static cb_err catch_up(void)
{
  pthread_mutex_lock(&apply_lock);
  cb_err e = CB_OK;
  for (;;) {
    int64_t first = 0, last = 0;
    e = db_structure_changes_range(&first, &last);
    if (e || last <= applied)
      break;
    /* not loaded yet, changes pruned before they were applied, or too many to apply one
     * file at a time */
    if (applied < 0 || first > applied + 1 || last - applied > CHANGES_PER_STEP) {
      e = load_all();
      break;
    }
    struct changes c = {.last = applied};
    e = db_structure_changes_after(applied, CHANGES_PER_STEP, change_row, &c);
    if (!e && c.oom)
      e = CB_ENOMEM;
    for (size_t i = 0; !e && i < c.n; i++)
      e = reload_file(c.ids[i]);
    free(c.ids);
    if (e)
      break;
    pthread_rwlock_wrlock(&rw);
    applied = c.last;
    pthread_rwlock_unlock(&rw);
  }
  pthread_mutex_unlock(&apply_lock);
  return e;
}

static void *follow(void *arg)
{
  (void)arg;
  cb_err e = catch_up();
  if (e)
    CB_LOG(CB_LOG_ERROR, "search", "cannot load the structure index: %s", cb_strerror(e));
  else
    CB_LOG(CB_LOG_INFO, "search", "structure index: %lld records of %zu files", (long long)nrecords, nfiles);
  pthread_mutex_lock(&loaded_lock);
  loaded = !e;
  pthread_cond_broadcast(&loaded_cond);
  pthread_mutex_unlock(&loaded_lock);
  uint64_t last_prune = cb_mono_ns();
  while (!atomic_load(&stopping)) {
    struct timespec t = {0, FOLLOW_MS * 1000000L};
    nanosleep(&t, NULL);
    e = catch_up();
    if (e)
      CB_LOG(CB_LOG_WARN, "search", "cannot follow the structure changes: %s", cb_strerror(e));
    else if (!loaded) {
      pthread_mutex_lock(&loaded_lock);
      loaded = 1;
      pthread_cond_broadcast(&loaded_cond);
      pthread_mutex_unlock(&loaded_lock);
    }
    if (cb_mono_ns() - last_prune > 60000000000ull) {
      db_structure_changes_prune(CHANGES_KEPT);
      last_prune = cb_mono_ns();
    }
  }
  db_thread_close();
  return NULL;
}

cb_err structures_start(struct cb_errbuf *eb)
{
  pthread_rwlockattr_t attr;
  pthread_rwlockattr_init(&attr);
  /* a stream of searches must not keep a processed file out of the index */
  pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
  pthread_rwlock_init(&rw, &attr);
  pthread_rwlockattr_destroy(&attr);
  atomic_store(&stopping, 0);
  if (pthread_create(&follower, NULL, follow, NULL)) {
    cb_errf(eb, "cannot start the structure index");
    return CB_EIO;
  }
  started = 1;
  return CB_OK;
}

void structures_stop(void)
{
  if (!started)
    return;
  atomic_store(&stopping, 1);
  pthread_join(follower, NULL);
  started = 0;
  pthread_mutex_lock(&loaded_lock);
  loaded = 0;
  pthread_mutex_unlock(&loaded_lock);
  pthread_rwlock_wrlock(&rw);
  for (size_t i = 0; i < nfiles; i++)
    sfile_free(files[i]);
  free(files);
  files = NULL;
  nfiles = capfiles = 0;
  nrecords = 0;
  applied = -1;
  pthread_rwlock_unlock(&rw);
  pthread_mutex_lock(&ids_lock);
  free(ids_json);
  ids_json = NULL;
  ids_generation = (uint64_t)-1;
  pthread_mutex_unlock(&ids_lock);
}

void structures_counts(int64_t *records, int64_t *nf)
{
  pthread_rwlock_rdlock(&rw);
  *records = nrecords;
  *nf = (int64_t)nfiles;
  pthread_rwlock_unlock(&rw);
}

/* ---- searching ---- */

static int wait_loaded(int timeout_s)
{
  struct timespec until;
  clock_gettime(CLOCK_REALTIME, &until);
  until.tv_sec += timeout_s;
  pthread_mutex_lock(&loaded_lock);
  while (!loaded && started)
    if (pthread_cond_timedwait(&loaded_cond, &loaded_lock, &until))
      break;
  int ok = loaded;
  pthread_mutex_unlock(&loaded_lock);
  return ok ? 0 : -1;
}

/* The index's file ids as a JSON array; under the read lock (the text stays valid while
 * it is held: it is rebuilt only after the file set changed, under the write lock). */
static const char *file_ids_json(void)
{
  pthread_mutex_lock(&ids_lock);
  if (ids_generation != generation || !ids_json) {
    free(ids_json);
    size_t cap = nfiles * (CB_ID_LEN + 3) + 3;
    ids_json = malloc(cap);
    if (ids_json) {
      char *p = ids_json;
      *p++ = '[';
      for (size_t i = 0; i < nfiles; i++)
        p += sprintf(p, "%s\"%s\"", i ? "," : "", files[i]->id);
      *p++ = ']';
      *p = '\0';
      ids_generation = generation;
    }
  }
  const char *s = ids_json;
  pthread_mutex_unlock(&ids_lock);
  return s;
}

struct marking {
  char *visible; /* one flag per file */
};

static int mark_visible(const char *file_id, int64_t version, void *ctx)
{
  struct marking *m = ctx;
  int found;
  size_t at = find_file(file_id, &found);
  /* a version the index has not read yet holds no records it knows */
  if (found && files[at]->version == version)
    m->visible[at] = 1;
  return 0;
}

/* The bits a and b share. The machine's POPCNT instruction where it has one (x86-64 has it
 * since 2008, but the baseline target does not assume it, and the portable sequence
 * costs a similarity scan of 100,000 records three times as much). */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
__attribute__((target_clones("popcnt", "default")))
#endif
static unsigned
shared_bits(const uint64_t *a, const uint64_t *b)
{
  unsigned n = 0;
  for (int w = 0; w < W; w++)
    n += (unsigned)__builtin_popcountll(a[w] & b[w]);
  return n;
}

/* Does record i of f pass the test? (*sim: its similarity) */
static int passes(const struct structures_q *q, const struct sfile *f, size_t i, unsigned qbits, double *sim)
{
  switch (q->test) {
  case STRUCTURES_EXACT: return q->inchikey && !strcmp(f->key[i], q->inchikey);
  case STRUCTURES_SUPERSET_FP:
    if (!q->fp || f->bits[i] == NO_FP)
      return 1; /* no screen: every record is a candidate */
    for (int w = 0; w < W; w++)
      if ((f->fp[i][w] & q->fp[w]) != q->fp[w])
        return 0;
    return 1;
  case STRUCTURES_SIMILAR: {
    unsigned b = f->bits[i];
    if (b == NO_FP || !q->fp)
      return 0;
    /* Tanimoto cannot exceed min/max of the two bit counts */
    unsigned lo = b < qbits ? b : qbits, hi = b < qbits ? qbits : b;
    if (hi && (double)lo / (double)hi < q->threshold)
      return 0;
    unsigned both = shared_bits(f->fp[i], q->fp);
    unsigned either = b + qbits - both;
    *sim = either ? (double)both / (double)either : 0;
    return *sim >= q->threshold;
  }
  }
  return 0;
}

cb_err structures_find(const struct structures_q *q, int timeout_s, structures_cb cb, void *ctx)
{
  if (wait_loaded(timeout_s))
    return CB_ETHROTTLED;
  /* what was committed before this query is in what it scans */
  int64_t last = 0;
  cb_err e = db_structure_changes_last(&last);
  if (e)
    return e;
  pthread_rwlock_rdlock(&rw);
  int behind = last > applied;
  pthread_rwlock_unlock(&rw);
  if (behind && (e = catch_up()))
    return e;
  pthread_rwlock_rdlock(&rw);
  struct marking m = {calloc(nfiles + 1, 1)};
  char one[CB_ID_LEN + 8];
  const char *ids = NULL;
  if (q->file_id && strlen(q->file_id) == CB_ID_LEN && cb_id_valid(q->file_id)) {
    snprintf(one, sizeof one, "[\"%s\"]", q->file_id);
    ids = one;
  } else if (!q->file_id) {
    ids = file_ids_json();
  }
  if (!m.visible || (!ids && !q->file_id)) {
    pthread_rwlock_unlock(&rw);
    free(m.visible);
    return CB_ENOMEM;
  }
  if (ids) {
    struct db_structure_files_q fq = {q->viewer, ids, q->kind, q->folder_id};
    e = db_structure_files_visible(&fq, mark_visible, &m);
  }
  unsigned qbits = 0;
  for (int w = 0; q->fp && w < W; w++)
    qbits += (unsigned)__builtin_popcountll(q->fp[w]);
  int stop = 0;
  for (size_t fi = 0; !e && !stop && fi < nfiles; fi++) {
    if (!m.visible[fi])
      continue;
    const struct sfile *f = files[fi];
    for (size_t i = 0; i < f->n && !stop; i++) {
      struct structures_hit h = {.similarity = 1.0};
      if (!passes(q, f, i, qbits, &h.similarity))
        continue;
      h.id = f->rid[i];
      h.file_id = f->id;
      h.smiles = f->smiles[i];
      h.idx = f->idx[i];
      stop = cb(&h, ctx);
    }
  }
  pthread_rwlock_unlock(&rw);
  free(m.visible);
  return e;
}
