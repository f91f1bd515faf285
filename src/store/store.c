/* Wrappers every caller goes through: hashing while streaming, contract checks, fault
 * injection. Backends stay small and never see a caller. */
#include "store/store.h"

#include <assert.h>
#include <stdatomic.h>
#include <stdio.h>
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/hash.h"
#include "util/log.h"
#include "util/util.h"

static const struct store_ops *const backends[] = {&store_fs_ops, &store_s3_ops};

struct store {
  const struct store_ops *ops;
  void *state;
  char *url;
};

struct store_put {
  struct store *s;
  void *put;
  struct cb_hash *hash;
  uint64_t size;
  uint64_t max;
};

/* ---- fault injection (CARBOY_STORE_FAULT=OP:KIND[:AFTER[:COUNT]], see store.h) ---- */
enum { FAULT_WRITE = 1, FAULT_COMMIT, FAULT_SHORT, FAULT_FSYNC };
static struct {
  int on;
  int op;
  cb_err err; /* for the wrapper's points */
  int errnum; /* for the backends' points: ENOSPC or EIO */
  uint64_t after;
  uint64_t count; /* faults before everything passes again; 0: no end */
  atomic_ullong injected;
  atomic_ullong passed; /* commits or fsyncs let through (AFTER of those) */
} fault;

void store_fault_from_env(void)
{
  const char *f = getenv("CARBOY_STORE_FAULT");
  fault.on = 0;
  fault.op = 0;
  fault.after = fault.count = 0;
  atomic_store(&fault.injected, 0);
  atomic_store(&fault.passed, 0);
  if (!f || !*f)
    return;
  char op[16] = "", kind[16] = "";
  unsigned long long after = 0, count = 0;
  if (sscanf(f, "%15[a-z]:%15[a-z]:%llu:%llu", op, kind, &after, &count) < 2)
    return;
  fault.op = !strcmp(op, "write")    ? FAULT_WRITE
             : !strcmp(op, "commit") ? FAULT_COMMIT
             : !strcmp(op, "short")  ? FAULT_SHORT
             : !strcmp(op, "fsync")  ? FAULT_FSYNC
                                     : 0;
  fault.err = !strcmp(kind, "enospc") ? CB_ENOSPC : CB_EIO;
  fault.errnum = fault.err == CB_ENOSPC ? ENOSPC : EIO;
  fault.after = after;
  fault.count = count;
  fault.on = fault.op != 0;
  CB_LOG(CB_LOG_WARN, "store", "fault injection on: %s", f);
}

/* Takes one fault of the window: 0 once COUNT faults were injected. */
static int fault_take(const char *what)
{
  unsigned long long n = atomic_fetch_add(&fault.injected, 1);
  if (fault.count && n >= fault.count)
    return 0;
  CB_LOG(CB_LOG_WARN, "store", "injected fault %llu: %s", n + 1, what);
  return 1;
}

/* For commit and fsync: the first AFTER pass, then faults. */
static int fault_after_passed(void)
{
  return atomic_fetch_add(&fault.passed, 1) >= fault.after;
}

size_t store_fault_write(uint64_t at, size_t n, int *err)
{
  *err = 0;
  if (!fault.on || fault.op != FAULT_SHORT || at + n <= fault.after)
    return n;
  if (at < fault.after) /* the write that crosses AFTER stops there, as a short one would */
    return (fault.count && atomic_load(&fault.injected) >= fault.count) ? n : (size_t)(fault.after - at);
  if (fault_take("short write"))
    *err = fault.errnum;
  return n;
}

int store_fault_fsync(void)
{
  if (!fault.on || fault.op != FAULT_FSYNC || !fault_after_passed())
    return 0;
  return fault_take("fsync") ? fault.errnum : 0;
}

static int sha_valid(const char *sha)
{
  return sha && strlen(sha) == 64 && cb_is_hex(sha, 64);
}

cb_err store_open(const char *url, struct store **out, struct cb_errbuf *eb)
{
  const char *colon = strstr(url, "://");
  size_t slen = colon ? (size_t)(colon - url) : 0;
  const struct store_ops *ops = NULL;
  if (!colon && url[0] == '/')
    ops = &store_fs_ops;
  for (size_t i = 0; !ops && colon && i < sizeof backends / sizeof backends[0]; i++)
    if (strlen(backends[i]->scheme) == slen && !strncmp(url, backends[i]->scheme, slen))
      ops = backends[i];
  if (!ops) {
    cb_errf(eb, "unsupported store URL '%.120s' (expected file:///abs/path or s3://BUCKET[/PREFIX]?...)", url);
    return CB_EINVAL;
  }
  assert(ops->version == STORE_OPS_VERSION);
  struct store *s = calloc(1, sizeof *s);
  if (!s)
    return CB_ENOMEM;
  s->ops = ops;
  s->url = strdup(url);
  cb_err e = s->url ? ops->open(url, &s->state, eb) : CB_ENOMEM;
  if (e) {
    free(s->url);
    free(s);
    return e;
  }
  store_fault_from_env();
  *out = s;
  return CB_OK;
}

void store_close(struct store *s)
{
  if (!s)
    return;
  s->ops->close(s->state);
  free(s->url);
  free(s);
}

const char *store_url(const struct store *s)
{
  return s->url;
}

unsigned store_caps(const struct store *s)
{
  return s->ops->caps;
}

cb_err store_put_begin(struct store *s, uint64_t max_size, struct store_put **out, struct cb_errbuf *eb)
{
  struct store_put *p = calloc(1, sizeof *p);
  if (!p)
    return CB_ENOMEM;
  p->s = s;
  p->max = max_size;
  p->hash = cb_hash_new("sha256");
  cb_err e = p->hash ? s->ops->put_begin(s->state, &p->put, eb) : CB_ENOMEM;
  if (e) {
    cb_hash_free(p->hash);
    free(p);
    return e;
  }
  *out = p;
  return CB_OK;
}

cb_err store_put_write(struct store_put *p, const void *buf, size_t n, struct cb_errbuf *eb)
{
  if (p->max && p->size + n > p->max) {
    cb_errf(eb, "content exceeds the limit of %llu bytes", (unsigned long long)p->max);
    return CB_ETOOBIG;
  }
  if (fault.on && fault.op == FAULT_WRITE && p->size + n > fault.after && fault_take("write")) {
    cb_errf(eb, "injected fault: %s", cb_strerror(fault.err));
    return fault.err;
  }
  cb_err e = cb_hash_update(p->hash, buf, n);
  if (!e)
    e = p->s->ops->put_write(p->put, buf, n, eb);
  if (!e)
    p->size += n;
  return e;
}

uint64_t store_put_size(const struct store_put *p)
{
  return p->size;
}

cb_err store_put_commit(struct store_put *p, char sha256[65], uint64_t *size, struct cb_errbuf *eb)
{
  unsigned char md[64];
  size_t mdlen = cb_hash_final(p->hash, md);
  cb_err e;
  if (mdlen != 32) {
    store_put_abort(p);
    return CB_ESTORE;
  }
  sodium_bin2hex(sha256, 65, md, 32);
  if (fault.on && fault.op == FAULT_COMMIT && fault_after_passed() && fault_take("commit")) {
    cb_errf(eb, "injected fault at commit: %s", cb_strerror(fault.err));
    store_put_abort(p);
    return fault.err;
  }
  e = p->s->ops->put_commit(p->put, sha256, p->size, eb);
  if (size)
    *size = p->size;
  cb_hash_free(p->hash);
  free(p);
  return e;
}

cb_err store_put_commit_many(struct store *s, struct store_put **puts, int n, char (*sha256s)[65], uint64_t *sizes,
                             struct cb_errbuf *eb)
{
  cb_err e = CB_OK;
  if (!s->ops->put_commit_many) {
    for (int i = 0; i < n; i++) {
      if (e)
        store_put_abort(puts[i]);
      else
        e = store_put_commit(puts[i], sha256s[i], &sizes[i], eb);
    }
    return e;
  }
  void **inner = calloc((size_t)n + 1, sizeof *inner);
  for (int i = 0; i < n; i++) {
    unsigned char md[64];
    if (!inner || cb_hash_final(puts[i]->hash, md) != 32)
      e = e ? e : (inner ? CB_ESTORE : CB_ENOMEM);
    else
      sodium_bin2hex(sha256s[i], 65, md, 32);
    sizes[i] = puts[i]->size;
  }
  if (!e && fault.on && fault.op == FAULT_COMMIT && fault_after_passed() && fault_take("commit")) {
    cb_errf(eb, "injected fault at commit: %s", cb_strerror(fault.err));
    e = fault.err;
  }
  for (int i = 0; i < n; i++) {
    if (e || !inner)
      s->ops->put_abort(puts[i]->put);
    else
      inner[i] = puts[i]->put;
    cb_hash_free(puts[i]->hash);
    free(puts[i]);
  }
  if (!e)
    e = s->ops->put_commit_many(s->state, inner, (const char(*)[65])sha256s, sizes, n, eb);
  free(inner);
  return e;
}

void store_put_abort(struct store_put *p)
{
  if (!p)
    return;
  p->s->ops->put_abort(p->put);
  cb_hash_free(p->hash);
  free(p);
}

/* Reads the file at path through hash (when h) or into the put (when p). */
static cb_err feed_file(const char *path, struct cb_hash *h, struct store_put *p, uint64_t *total, struct cb_errbuf *eb)
{
  enum { BUFSZ = 1 << 20 };
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    cb_errf(eb, "cannot open %s: %s", path, strerror(errno));
    return CB_EIO;
  }
  char *buf = malloc(BUFSZ);
  cb_err e = buf ? CB_OK : CB_ENOMEM;
  *total = 0;
  while (!e) {
    ssize_t r = read(fd, buf, BUFSZ);
    if (r < 0 && errno == EINTR)
      continue;
    if (r < 0) {
      cb_errf(eb, "cannot read %s: %s", path, strerror(errno));
      e = CB_EIO;
    } else if (r == 0) {
      break;
    } else {
      *total += (uint64_t)r;
      e = h ? cb_hash_update(h, buf, (size_t)r) : store_put_write(p, buf, (size_t)r, eb);
    }
  }
  free(buf);
  close(fd);
  return e;
}

cb_err store_put_file(struct store *s, const char *path, char sha256[65], uint64_t *size, struct cb_errbuf *eb)
{
  uint64_t total = 0;
  cb_err e;
  if ((s->ops->caps & STORE_CAP_ADOPT) && !fault.on) {
    struct cb_hash *h = cb_hash_new("sha256");
    unsigned char md[64];
    e = h ? feed_file(path, h, NULL, &total, eb) : CB_ENOMEM;
    if (!e && cb_hash_final(h, md) != 32)
      e = CB_ESTORE;
    cb_hash_free(h);
    if (!e) {
      sodium_bin2hex(sha256, 65, md, 32);
      e = s->ops->adopt_file(s->state, path, sha256, eb);
      if (e != CB_EINVAL) /* CB_EINVAL: another file system; copy instead */
        goto done;
    } else {
      return e;
    }
  }
  struct store_put *p = NULL;
  e = store_put_begin(s, 0, &p, eb);
  if (!e)
    e = feed_file(path, NULL, p, &total, eb);
  if (!e)
    e = store_put_commit(p, sha256, NULL, eb);
  else
    store_put_abort(p);
  if (!e)
    unlink(path);
done:
  if (!e && size)
    *size = total;
  return e;
}

cb_err store_get_range(struct store *s, const char *sha256, uint64_t off, uint64_t len, store_sink_fn sink, void *ctx,
                       struct cb_errbuf *eb)
{
  if (!sha_valid(sha256))
    return CB_EINVAL;
  return s->ops->get_range(s->state, sha256, off, len, sink, ctx, eb);
}

cb_err store_head(struct store *s, const char *sha256, uint64_t *size)
{
  if (!sha_valid(sha256))
    return CB_EINVAL;
  return s->ops->head(s->state, sha256, size);
}

cb_err store_remove(struct store *s, const char *sha256)
{
  if (!sha_valid(sha256))
    return CB_EINVAL;
  return s->ops->remove(s->state, sha256);
}

cb_err store_list(struct store *s, store_list_fn cb, void *ctx)
{
  return s->ops->list(s->state, cb, ctx);
}

cb_err store_remove_stale(struct store *s, const char *sha256, int64_t before_ms)
{
  if (!sha_valid(sha256))
    return CB_EINVAL;
  if (s->ops->remove_stale)
    return s->ops->remove_stale(s->state, sha256, before_ms);
  return s->ops->remove(s->state, sha256);
}

cb_err store_clean_tmp(struct store *s, int64_t before_ms, int *removed)
{
  *removed = 0;
  return s->ops->clean_tmp ? s->ops->clean_tmp(s->state, before_ms, removed) : CB_OK;
}

cb_err store_local_path(struct store *s, const char *sha256, char *out, size_t cap)
{
  if (!sha_valid(sha256) || !(s->ops->caps & STORE_CAP_LOCAL_PATH))
    return CB_EINVAL;
  return s->ops->local_path(s->state, sha256, out, cap);
}

static int name_valid(const char *name)
{
  size_t n = strlen(name);
  if (n < 1 || n > 100 || !((name[0] >= 'a' && name[0] <= 'z') || (name[0] >= '0' && name[0] <= '9')))
    return 0;
  for (size_t i = 0; i < n; i++)
    if (!((name[i] >= 'a' && name[i] <= 'z') || (name[i] >= '0' && name[i] <= '9') || strchr("._-", name[i])))
      return 0;
  return !(n == 64 && cb_is_hex(name, 64)); /* never a blob's name */
}

cb_err store_put_named(struct store *s, const char *name, const void *buf, size_t n, struct cb_errbuf *eb)
{
  if (!name_valid(name) || !s->ops->put_named) {
    cb_errf(eb, "the store %s cannot keep an object named '%s'", s->url, name);
    return CB_EINVAL;
  }
  return s->ops->put_named(s->state, name, buf, n, eb);
}

struct named_read {
  struct cb_buf *out;
  size_t max;
  int over;
};

static int named_sink(void *ctx, const void *buf, size_t n)
{
  struct named_read *r = ctx;
  if (r->out->len + n > r->max) {
    r->over = 1;
    return 1;
  }
  return cb_buf_append(r->out, buf, n) != CB_OK;
}

cb_err store_get_named(struct store *s, const char *name, struct cb_buf *out, size_t max, struct cb_errbuf *eb)
{
  if (!name_valid(name) || !s->ops->get_named) {
    cb_errf(eb, "the store %s keeps no object named '%s'", s->url, name);
    return CB_EINVAL;
  }
  struct named_read r = {out, max, 0};
  cb_err e = s->ops->get_named(s->state, name, named_sink, &r, eb);
  if (r.over) {
    cb_errf(eb, "%s in %s is larger than %zu bytes", name, s->url, max);
    return CB_ETOOBIG;
  }
  if (!e && !out->data)
    e = cb_buf_append(out, "", 0);
  return e;
}

int store_file_sink(void *ctx, const void *buf, size_t n)
{
  struct store_file_sink *f = ctx;
  if (cb_write_all(f->fd, buf, n)) {
    f->err = errno;
    return 1;
  }
  if (f->hash)
    cb_hash_update(f->hash, buf, n);
  f->written += n;
  f->since_tick += n;
  if (f->tick && f->since_tick >= (4u << 20)) {
    f->since_tick = 0;
    if (f->tick(f->tick_ctx)) {
      f->stopped = 1;
      return 1;
    }
  }
  return 0;
}

cb_err store_fetch_local(struct store *s, const char *sha256, const char *dir, char *out, size_t cap,
                         int (*tick)(void *ctx), void *tick_ctx, struct cb_errbuf *eb)
{
  if (!sha_valid(sha256))
    return CB_EINVAL;
  if (s->ops->caps & STORE_CAP_LOCAL_PATH)
    return s->ops->local_path(s->state, sha256, out, cap);
  uint64_t size = 0;
  cb_err e = s->ops->head(s->state, sha256, &size);
  if (e) {
    cb_errf(eb, e == CB_ENOTFOUND ? "blob %s is missing from the store" : "cannot reach the store for blob %s", sha256);
    return e;
  }
  char part[4096];
  if (snprintf(out, cap, "%s/%s", dir, sha256) >= (int)cap ||
      snprintf(part, sizeof part, "%s.part", out) >= (int)sizeof part)
    return CB_EINVAL;
  struct store_file_sink f = {
    .fd = open(part, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600), .tick = tick, .tick_ctx = tick_ctx};
  if (f.fd < 0) {
    cb_errf(eb, "cannot create %s: %s", part, strerror(errno));
    return CB_EIO;
  }
  e = s->ops->get_range(s->state, sha256, 0, size, store_file_sink, &f, eb);
  if (e == CB_EABORTED && f.stopped) {
    cb_errf(eb, "the download of blob %s was stopped", sha256);
  } else if (e == CB_EABORTED && f.err) {
    cb_errf(eb, "cannot write %s: %s", part, strerror(f.err));
    e = f.err == ENOSPC ? CB_ENOSPC : CB_EIO;
  }
  if (close(f.fd) && !e) {
    cb_errf(eb, "cannot write %s: %s", part, strerror(errno));
    e = CB_EIO;
  }
  if (!e && rename(part, out)) {
    cb_errf(eb, "cannot rename %s: %s", part, strerror(errno));
    e = CB_EIO;
  }
  if (e)
    unlink(part);
  return e;
}

cb_err store_check(struct store *s, struct cb_errbuf *eb)
{
  uint64_t free_bytes = 0;
  cb_err e = s->ops->space(s->state, &free_bytes);
  if (e) {
    cb_errf(eb, "store %s does not answer: %s", s->url, cb_strerror(e));
    return e;
  }
  if (free_bytes < (64u << 20)) {
    cb_errf(eb, "store %s has %llu bytes free", s->url, (unsigned long long)free_bytes);
    return CB_ENOSPC;
  }
  return CB_OK;
}

/* ---- copying and re-hashing blobs (carboy migrate and verify), shims ---- */

cb_err store_put_commit_expect(struct store_put *p, const char *sha256, uint64_t *size, struct cb_errbuf *eb)
{
  unsigned char md[64];
  char got[65];
  if (!sha_valid(sha256) || cb_hash_final(p->hash, md) != 32) {
    store_put_abort(p);
    return CB_EINVAL;
  }
  sodium_bin2hex(got, sizeof got, md, 32);
  if (strcmp(got, sha256)) {
    cb_errf(eb, "content hashes to %s, not %s", got, sha256);
    store_put_abort(p);
    return CB_ECHECKSUM;
  }
  if (fault.on && fault.op == FAULT_COMMIT && fault_after_passed() && fault_take("commit")) {
    cb_errf(eb, "injected fault at commit: %s", cb_strerror(fault.err));
    store_put_abort(p);
    return fault.err;
  }
  cb_err e = p->s->ops->put_commit(p->put, sha256, p->size, eb);
  if (size)
    *size = p->size;
  cb_hash_free(p->hash);
  free(p);
  return e;
}

struct copy_sink {
  struct store_put *put;
  struct cb_hash *hash;
  cb_err err;
  struct cb_errbuf *eb;
};

static int copy_sink(void *ctx, const void *buf, size_t n)
{
  struct copy_sink *c = ctx;
  c->err = c->put ? store_put_write(c->put, buf, n, c->eb) : cb_hash_update(c->hash, buf, n);
  return c->err != CB_OK;
}

/* Reads the whole blob through sink c; *size gets its size. */
static cb_err read_whole(struct store *s, const char *sha256, struct copy_sink *c, uint64_t *size, struct cb_errbuf *eb)
{
  uint64_t n = 0;
  cb_err e = store_head(s, sha256, &n);
  if (e == CB_ENOTFOUND)
    cb_errf(eb, "blob %s is missing from %s", sha256, s->url);
  else if (e)
    cb_errf(eb, "cannot look up blob %s in %s: %s", sha256, s->url, cb_strerror(e));
  if (!e)
    e = store_get_range(s, sha256, 0, n, copy_sink, c, eb);
  if (e == CB_EABORTED && c->err)
    e = c->err;
  if (size)
    *size = n;
  return e;
}

cb_err store_copy_blob(struct store *src, struct store *dst, const char *sha256, uint64_t *size, struct cb_errbuf *eb)
{
  struct copy_sink c = {.eb = eb};
  if (!sha_valid(sha256))
    return CB_EINVAL;
  cb_err e = store_put_begin(dst, 0, &c.put, eb);
  if (e)
    return e;
  e = read_whole(src, sha256, &c, size, eb);
  if (e) {
    store_put_abort(c.put);
    return e;
  }
  return store_put_commit_expect(c.put, sha256, NULL, eb);
}

cb_err store_hash_blob(struct store *s, const char *sha256, char out[65], uint64_t *size, struct cb_errbuf *eb)
{
  unsigned char md[64];
  struct copy_sink c = {.eb = eb};
  if (!sha_valid(sha256))
    return CB_EINVAL;
  c.hash = cb_hash_new("sha256");
  if (!c.hash)
    return CB_ENOMEM;
  cb_err e = read_whole(s, sha256, &c, size, eb);
  if (!e && cb_hash_final(c.hash, md) != 32)
    e = CB_ESTORE;
  if (!e)
    sodium_bin2hex(out, 65, md, 32);
  cb_hash_free(c.hash);
  return e;
}

cb_err store_wrap(const struct store_ops *ops, void *state, const char *url, struct store **out)
{
  struct store *s = calloc(1, sizeof *s);
  if (!s)
    return CB_ENOMEM;
  s->ops = ops;
  s->state = state;
  s->url = strdup(url);
  if (!s->url) {
    free(s);
    return CB_ENOMEM;
  }
  *out = s;
  return CB_OK;
}

const struct store_ops *store_backend(const struct store *s, void **state)
{
  if (state)
    *state = s->state;
  return s->ops;
}
