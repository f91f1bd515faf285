/* The blob store: content-addressed bytes, one backend per file exporting one const
 * struct store_ops (as SQLite's os_unix.c exports a VFS). Callers use only the store_*
 * wrappers below, which hash what is written, check the backends' contracts and hold
 * fault injection for tests.
 *
 * Contract of every backend:
 *  - a blob becomes visible under its sha256 only when complete (put_commit); a crash at
 *    any earlier point leaves nothing visible under that name;
 *  - identical content is stored once (committing a sha256 that exists is a no-op);
 *  - put_commit and put_abort free the put handle, whatever they return.
 */
#ifndef CB_STORE_H
#define CB_STORE_H
#include <stddef.h>
#include <stdint.h>

#include "util/err.h"
#include "util/util.h"

#define STORE_OPS_VERSION 1

enum {
  STORE_CAP_ADOPT = 1u << 0,      /* adopt_file: take a local file by rename */
  STORE_CAP_LOCAL_PATH = 1u << 1, /* local_path: blobs are readable local files */
};

/* Receives bytes of a blob; returns non-zero to stop (e.g. the client went away). */
typedef int (*store_sink_fn)(void *ctx, const void *buf, size_t n);
/* Receives one blob name during list, with its size and when it was last written or
 * committed again (ms since the epoch; 0 when unknown); returns non-zero to stop. */
typedef int (*store_list_fn)(void *ctx, const char *sha256, uint64_t size, int64_t mtime_ms);

struct store_ops {
  int version;        /* STORE_OPS_VERSION */
  unsigned caps;      /* STORE_CAP_* */
  const char *scheme; /* URL scheme this backend serves: "file", "s3" */
  cb_err (*open)(const char *url, void **state, struct cb_errbuf *eb);
  void (*close)(void *state);
  cb_err (*put_begin)(void *state, void **put, struct cb_errbuf *eb);
  cb_err (*put_write)(void *put, const void *buf, size_t n, struct cb_errbuf *eb);
  cb_err (*put_commit)(void *put, const char *sha256, uint64_t size, struct cb_errbuf *eb);
  void (*put_abort)(void *put);
  /* Optional: commits n puts of this store together (as many put_commit calls: each
   * blob visible only when complete, identical content stored once), made durable with
   * fewer syncs. Frees every put handle, whatever it returns; on an error some blobs may
   * be committed (unreferenced: the orphan sweep takes them). */
  cb_err (*put_commit_many)(void *state, void **puts, const char (*sha256s)[65], const uint64_t *sizes, int n,
                            struct cb_errbuf *eb);
  cb_err (*get_range)(void *state, const char *sha256, uint64_t off, uint64_t len, store_sink_fn sink, void *ctx,
                      struct cb_errbuf *eb);
  cb_err (*head)(void *state, const char *sha256, uint64_t *size);
  cb_err (*remove)(void *state, const char *sha256);
  cb_err (*list)(void *state, store_list_fn cb, void *ctx);
  /* Optional (STORE_CAP_ADOPT): move the local file at path in as blob sha256. */
  cb_err (*adopt_file)(void *state, const char *path, const char *sha256, struct cb_errbuf *eb);
  /* Optional (STORE_CAP_LOCAL_PATH): the local file holding blob sha256. */
  cb_err (*local_path)(void *state, const char *sha256, char *out, size_t cap);
  /* Total bytes and free bytes where the store lives (0 when unknown). */
  cb_err (*space)(void *state, uint64_t *free_bytes);
  /* Optional: small named objects beside the blobs (a backup's manifest), written whole
   * and atomically (a reader sees the old or the new object, never a part). */
  cb_err (*put_named)(void *state, const char *name, const void *buf, size_t n, struct cb_errbuf *eb);
  cb_err (*get_named)(void *state, const char *name, store_sink_fn sink, void *ctx, struct cb_errbuf *eb);
  /* Optional: removes blob sha256 only if it was last written or committed before
   * before_ms (CB_ECONFLICT when it is newer, CB_ENOTFOUND when absent). A commit of the
   * same bytes racing with it either refreshes the blob first (kept) or finds it gone
   * and stores it again. Without it, store_remove_stale just removes (the caller has
   * checked the listing's time). */
  cb_err (*remove_stale)(void *state, const char *sha256, int64_t before_ms);
  /* Optional: removes temporary objects (parts of puts that never committed) older than
   * before_ms; *removed gets how many. */
  cb_err (*clean_tmp)(void *state, int64_t before_ms, int *removed);
};

extern const struct store_ops store_fs_ops;
extern const struct store_ops store_s3_ops;
/* CARBOY_S3_PART_SIZE, CARBOY_S3_PARALLEL, CARBOY_S3_LIST_PAGE in range (CB_EINVAL, eb says which). */
cb_err store_s3_check_settings(struct cb_errbuf *eb);

struct store;     /* an open store */
struct store_put; /* a blob being written */

/* Opens the store for url: "file:///abs/path" (or a plain absolute path), or
 * "s3://BUCKET[/PREFIX]?endpoint=URL&region=R&path_style=1". CB_EINVAL: the URL or the
 * configuration is wrong (a usage error); anything else: the store cannot be used. */
cb_err store_open(const char *url, struct store **out, struct cb_errbuf *eb);
void store_close(struct store *s);
const char *store_url(const struct store *s);
unsigned store_caps(const struct store *s);

/* Streaming write. max_size bounds the blob (0: no bound); going over fails with
 * CB_ETOOBIG. commit writes the sha256 (hex) and size of what was written. */
cb_err store_put_begin(struct store *s, uint64_t max_size, struct store_put **out, struct cb_errbuf *eb);
cb_err store_put_write(struct store_put *p, const void *buf, size_t n, struct cb_errbuf *eb);
cb_err store_put_commit(struct store_put *p, char sha256[65], uint64_t *size, struct cb_errbuf *eb);
void store_put_abort(struct store_put *p); /* accepts NULL */
/* store_put_commit of n puts of store s at once, for a job storing many small blobs:
 * the backend makes them durable together (the folder store: two syncs of the file
 * system in all, instead of two fsyncs each). sha256s[i] and sizes[i] are set for every
 * put; every put is freed, whatever it returns. */
cb_err store_put_commit_many(struct store *s, struct store_put **puts, int n, char (*sha256s)[65], uint64_t *sizes,
                             struct cb_errbuf *eb);
uint64_t store_put_size(const struct store_put *p);

/* Hashes the local file at path and stores it (by rename when the backend can adopt it,
 * in which case path is gone afterwards; otherwise by copying). */
cb_err store_put_file(struct store *s, const char *path, char sha256[65], uint64_t *size, struct cb_errbuf *eb);

cb_err store_get_range(struct store *s, const char *sha256, uint64_t off, uint64_t len, store_sink_fn sink, void *ctx,
                       struct cb_errbuf *eb);

struct cb_hash;

/* What store_file_sink needs: the file fd it writes to, and after the transfer the first
 * write's errno in err (the sink then stops the transfer). hash (unless NULL) and written
 * follow the bytes; tick (unless NULL) is called every 4 MiB and stops the transfer, with
 * stopped set, when it returns non-zero. */
struct store_file_sink {
  int fd;
  int err;
  struct cb_hash *hash;
  uint64_t written;
  int (*tick)(void *ctx);
  void *tick_ctx;
  uint64_t since_tick;
  int stopped;
};
/* A store_sink_fn writing to a file; ctx is a struct store_file_sink. */
int store_file_sink(void *ctx, const void *buf, size_t n);

cb_err store_head(struct store *s, const char *sha256, uint64_t *size);
cb_err store_remove(struct store *s, const char *sha256);
cb_err store_list(struct store *s, store_list_fn cb, void *ctx);
/* The orphan sweep's removal (src/maint/sweep.c): see remove_stale above. */
cb_err store_remove_stale(struct store *s, const char *sha256, int64_t before_ms);
/* Temporary objects older than before_ms go (a backend without them: 0 removed). */
cb_err store_clean_tmp(struct store *s, int64_t before_ms, int *removed);
cb_err store_local_path(struct store *s, const char *sha256, char *out, size_t cap);
/* Named objects (a backup's manifest): name is 1-100 characters of [a-z0-9._-], starting
 * with a letter or digit (CB_EINVAL otherwise, or when the backend keeps none).
 * store_get_named reads at most max bytes into out (CB_ETOOBIG beyond; CB_ENOTFOUND when
 * there is no such object); out is NUL-terminated. */
cb_err store_put_named(struct store *s, const char *name, const void *buf, size_t n, struct cb_errbuf *eb);
cb_err store_get_named(struct store *s, const char *name, struct cb_buf *out, size_t max, struct cb_errbuf *eb);
/* A local file holding blob sha256, for code that needs a path (converters): the blob's
 * own file when the backend has STORE_CAP_LOCAL_PATH, else a download into dir (which
 * must exist) as dir/NAME; the caller removes dir. tick (may be NULL) is called every
 * few MiB of a download (a job renews its lease there); non-zero stops it (CB_EABORTED). */
cb_err store_fetch_local(struct store *s, const char *sha256, const char *dir, char *out, size_t cap,
                         int (*tick)(void *ctx), void *tick_ctx, struct cb_errbuf *eb);
/* For /readyz: the store answers and has room. */
cb_err store_check(struct store *s, struct cb_errbuf *eb);

/* Fault injection for tests, off unless CARBOY_STORE_FAULT=OP:KIND[:AFTER[:COUNT]] is set
 * (KIND: enospc or eio; COUNT faults are injected, then everything passes again; 0 or
 * absent: no end):
 *   write:KIND:AFTER    a blob's write that goes past AFTER bytes fails (every backend)
 *   commit:KIND[:AFTER] committing a blob fails, after AFTER commits (every backend)
 *   short:KIND:AFTER    the file store's write(2) that crosses AFTER bytes of a blob is cut
 *                       short there, the next one fails with ENOSPC/EIO
 *   fsync:KIND[:AFTER]  the file store's fsync(2) of a blob (or syncfs(2) of many blobs,
 *                       put_commit_many) fails, after AFTER of those
 * Any fault setting makes store_put_file copy rather than adopt, so its bytes meet it. */
void store_fault_from_env(void);
/* For backends: a write of n bytes at offset at of a blob writes the returned count of
 * them, or fails with the errno put in *err (0: none). */
size_t store_fault_write(uint64_t at, size_t n, int *err);
/* For backends: the errno a blob's fsync fails with, 0 when it runs. */
int store_fault_fsync(void);

/* ---- copying and re-hashing blobs (carboy migrate, carboy verify) ---- */

/* Like store_put_commit, but commits only when what was written hashes to sha256;
 * otherwise aborts the put and fails with CB_ECHECKSUM (eb names both hashes). */
cb_err store_put_commit_expect(struct store_put *p, const char *sha256, uint64_t *size, struct cb_errbuf *eb);
/* Copies blob sha256 from src into dst, hashing the bytes as they stream; dst keeps the
 * copy only when they hash to sha256 (CB_ECHECKSUM otherwise; CB_ENOTFOUND when src does
 * not have it). *size (may be NULL) gets the bytes read. */
cb_err store_copy_blob(struct store *src, struct store *dst, const char *sha256, uint64_t *size, struct cb_errbuf *eb);
/* Reads blob sha256 back whole and writes the sha256 of its bytes to out (hex) and its
 * size to *size (may be NULL). CB_ENOTFOUND when the store does not have it. */
cb_err store_hash_blob(struct store *s, const char *sha256, char out[65], uint64_t *size, struct cb_errbuf *eb);

/* ---- shims: stores made of other stores (tier.c) ---- */

/* A store over a backend table and an already-open state (store_close closes it through
 * ops->close). */
cb_err store_wrap(const struct store_ops *ops, void *state, const char *url, struct store **out);
/* The backend table and state of an open store (for shims). */
const struct store_ops *store_backend(const struct store *s, void **state);

/* The live store of a running server (tier.c): writes go to the current store; a read
 * that misses in it falls back to the previous store (the one a migration moved away
 * from), and with lazy_copy the blob is first copied forward, verified, into the
 * current one. store_tier_switch makes next the current store (the tier owns it from
 * then on) and the current one the previous; operations in flight finish on the store
 * they started on, and a write that committed to the store switched away from is copied
 * forward. Stores switched away from stay open until store_close. */
cb_err store_tier_open(struct store *current, struct store *previous, int lazy_copy, struct store **out);
cb_err store_tier_switch(struct store *tier, struct store *next);
/* The current store's URL, copied to out; "" when s is not a tier. */
void store_tier_current_url(struct store *s, char *out, size_t cap);

#endif
