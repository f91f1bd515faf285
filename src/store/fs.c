/* The local-folder blob store. Layout under ROOT:
 *   ROOT/ab/cd/abcd...64 hex   committed blobs, read-only (0444)
 *   ROOT/.tmp/put-XXXXXX       blobs being written; never visible under a hash
 *   ROOT/.tmp/named-XXXXXX     named objects being written
 *   ROOT/.tmp/sweep-SHA        a blob the orphan sweep is removing (for an instant)
 * A put writes the temp file, fsyncs it, renames it to its hash and fsyncs the
 * directory, so a crash at any point leaves no partial blob under a hash. Leftover temp
 * files older than an hour are removed when the store opens (and older than the orphan
 * grace by the server's sweep, clean_tmp).
 *
 * A blob's mtime is when it was last committed: a put of bytes stored already touches
 * the blob instead of writing it again. The orphan sweep (remove_stale) relies on it: it
 * renames a blob it found old into .tmp/ and looks at its time again; a put that touched
 * it before the rename is seen (the blob goes back), one that comes after finds no blob
 * and installs its own copy. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "store/store.h"
#include "util/log.h"
#include "util/util.h"

struct fs_state {
  char root[PATH_MAX];
  int syncfs_ok; /* syncfs(2) reports writeback errors here: put_commit_many may use it */
};

struct fs_put {
  struct fs_state *st;
  int fd;
  uint64_t written; /* bytes written so far */
  uint64_t flushed; /* bytes handed to writeback so far */
  char tmp[PATH_MAX];
};

/* Writeback is started every FLUSH_EVERY bytes while a blob streams in, so the disk
 * works while the network and the hash do, and the fsync at commit has little left. */
#define FLUSH_EVERY (8u << 20)

static int mkdir_p(const char *path)
{
  char buf[PATH_MAX];
  if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf)
    return -1;
  for (char *p = buf + 1; *p; p++) {
    if (*p == '/') {
      *p = '\0';
      if (mkdir(buf, 0755) && errno != EEXIST)
        return -1;
      *p = '/';
    }
  }
  if (mkdir(buf, 0755) && errno != EEXIST)
    return -1;
  return 0;
}

static int fsync_dir(const char *dir)
{
  int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0)
    return -1;
  int rc = fsync(fd);
  close(fd);
  return rc;
}

/* fsync of a blob's file, where CARBOY_STORE_FAULT can make it fail */
static int fsync_blob(int fd)
{
  int err = store_fault_fsync();
  if (err) {
    errno = err;
    return -1;
  }
  return fsync(fd);
}

static void blob_path(const struct fs_state *st, const char *sha, char *out, size_t cap)
{
  snprintf(out, cap, "%s/%.2s/%.2s/%s", st->root, sha, sha + 2, sha);
}

static int64_t mtime_ms(const struct stat *sb)
{
  return (int64_t)sb->st_mtim.tv_sec * 1000 + sb->st_mtim.tv_nsec / 1000000;
}

/* Temporary files (put-, named-, sweep-) last written before before_ms go. */
static int clean_tmp(struct fs_state *st, int64_t before_ms)
{
  char dir[PATH_MAX + 8];
  snprintf(dir, sizeof dir, "%s/.tmp", st->root);
  DIR *d = opendir(dir);
  if (!d)
    return 0;
  struct dirent *de;
  int removed = 0;
  while ((de = readdir(d))) {
    if (strncmp(de->d_name, "put-", 4) && strncmp(de->d_name, "named-", 6) && strncmp(de->d_name, "sweep-", 6))
      continue;
    struct stat sb;
    if (fstatat(dirfd(d), de->d_name, &sb, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(sb.st_mode) &&
        mtime_ms(&sb) < before_ms && unlinkat(dirfd(d), de->d_name, 0) == 0)
      removed++;
  }
  closedir(d);
  return removed;
}

static cb_err fs_clean_tmp(void *state, int64_t before_ms, int *removed)
{
  *removed = clean_tmp(state, before_ms);
  return CB_OK;
}

/* Whether syncfs(2) on the file system holding path is as good as an fsync of each file:
 * Linux 5.8 or later (before, it returned 0 after a failed writeback) and a local file
 * system known to implement it (a FUSE mount may sync nothing). Otherwise many blobs are
 * committed one by one. */
static int syncfs_reliable(const char *path)
{
  struct utsname u;
  int major = 0, minor = 0;
  if (uname(&u) || sscanf(u.release, "%d.%d", &major, &minor) != 2 || major < 5 || (major == 5 && minor < 8))
    return 0;
  struct statfs sf;
  if (statfs(path, &sf))
    return 0;
  switch ((unsigned long)sf.f_type) {
  case 0xEF53:     /* ext2/3/4 */
  case 0x58465342: /* xfs */
  case 0x9123683E: /* btrfs */
  case 0x01021994: /* tmpfs */
  case 0x794C7630: /* overlayfs (a container's file system) */ return 1;
  default: return 0;
  }
}

static cb_err fs_open(const char *url, void **state, struct cb_errbuf *eb)
{
  const char *path = url;
  if (!strncmp(url, "file://", 7))
    path = url + 7;
  if (path[0] != '/') {
    cb_errf(eb, "file store path must be absolute: '%s'", url);
    return CB_EINVAL;
  }
  struct fs_state *st = calloc(1, sizeof *st);
  if (!st)
    return CB_ENOMEM;
  if (snprintf(st->root, sizeof st->root, "%s", path) >= (int)sizeof st->root - 80) {
    free(st);
    cb_errf(eb, "file store path too long");
    return CB_EINVAL;
  }
  size_t n = strlen(st->root);
  while (n > 1 && st->root[n - 1] == '/')
    st->root[--n] = '\0';
  char tmp[PATH_MAX + 8];
  snprintf(tmp, sizeof tmp, "%s/.tmp", st->root);
  if (mkdir_p(tmp)) {
    cb_errf(eb, "cannot create store folder %s: %s", tmp, strerror(errno));
    free(st);
    return CB_EIO;
  }
  if (access(tmp, W_OK)) {
    cb_errf(eb, "store folder %s is not writable: %s", tmp, strerror(errno));
    free(st);
    return CB_EIO;
  }
  clean_tmp(st, cb_time_now_ms() - 3600 * 1000);
  st->syncfs_ok = syncfs_reliable(tmp);
  *state = st;
  return CB_OK;
}

static void fs_close(void *state)
{
  free(state);
}

static cb_err errno_err(int err)
{
  return err == ENOSPC || err == EDQUOT ? CB_ENOSPC : CB_EIO;
}

static cb_err fs_put_begin(void *state, void **out, struct cb_errbuf *eb)
{
  struct fs_state *st = state;
  struct fs_put *p = calloc(1, sizeof *p);
  if (!p)
    return CB_ENOMEM;
  p->st = st;
  snprintf(p->tmp, sizeof p->tmp, "%s/.tmp/put-XXXXXX", st->root);
  p->fd = mkostemp(p->tmp, O_CLOEXEC);
  if (p->fd < 0) {
    int err = errno;
    CB_LOG_SYSERR("store", "mkostemp", p->tmp);
    cb_errf(eb, "cannot create a temporary blob: %s", strerror(err));
    free(p);
    return errno_err(err);
  }
  *out = p;
  return CB_OK;
}

static cb_err fs_put_write(void *put, const void *buf, size_t n, struct cb_errbuf *eb)
{
  struct fs_put *p = put;
  const char *c = buf;
  while (n) {
    int ferr = 0;
    size_t want = store_fault_write(p->written, n, &ferr);
    ssize_t w = ferr ? -1 : write(p->fd, c, want);
    if (ferr)
      errno = ferr;
    if (w < 0) {
      if (errno == EINTR)
        continue;
      int err = errno;
      CB_LOG_SYSERR("store", "write", p->tmp);
      cb_errf(eb, "cannot write blob: %s", strerror(err));
      return errno_err(err);
    }
    c += w;
    n -= (size_t)w;
    p->written += (uint64_t)w;
  }
  if (p->written - p->flushed >= FLUSH_EVERY) {
    /* Start writeback of what is complete; errors surface at the fsync in commit. */
    sync_file_range(p->fd, (off_t)p->flushed, (off_t)(p->written - p->flushed), SYNC_FILE_RANGE_WRITE);
    p->flushed = p->written;
  }
  return CB_OK;
}

static void fs_put_abort(void *put)
{
  struct fs_put *p = put;
  if (!p)
    return;
  if (p->fd >= 0)
    close(p->fd);
  unlink(p->tmp);
  free(p);
}

/* Whether the blob at path exists; if so its mtime becomes now (it was just committed
 * again: the orphan sweep must see it as new). A blob the sweep took away in between is
 * absent, and the caller stores its own copy. */
static int stored_already(const char *path)
{
  int found = utimensat(AT_FDCWD, path, NULL, 0) == 0;
  if (!found) {
    struct stat sb;
    found = errno != ENOENT && stat(path, &sb) == 0;
  }
  if (found) {
    /* The put that installed it may not have synced its folder yet (it renames, then
     * syncs; put_commit_many syncs once after many renames): a caller about to record
     * this blob needs its name on disk now. Cheap when it already is. */
    char dir[PATH_MAX];
    const char *slash = strrchr(path, '/');
    if (slash && (size_t)(slash - path) < sizeof dir) {
      memcpy(dir, path, (size_t)(slash - path));
      dir[slash - path] = '\0';
      if (fsync_dir(dir))
        return 0; /* the caller installs (and syncs) its own copy */
    }
  }
  return found;
}

/* Moves the complete, synced file at src to the blob's name; sync_dir 0 leaves the
 * folder's sync to the caller (put_commit_many syncs the file system once). */
static cb_err install_as(struct fs_state *st, const char *src, const char *sha, int sync_dir, struct cb_errbuf *eb)
{
  char dst[PATH_MAX], dir[PATH_MAX];
  blob_path(st, sha, dst, sizeof dst);
  if (stored_already(dst)) { /* identical content is stored once */
    unlink(src);
    return CB_OK;
  }
  snprintf(dir, sizeof dir, "%s/%.2s/%.2s", st->root, sha, sha + 2);
  if (mkdir_p(dir)) {
    int err = errno;
    cb_errf(eb, "cannot create %s: %s", dir, strerror(err));
    return errno_err(err);
  }
  if (rename(src, dst)) {
    int err = errno;
    CB_LOG_SYSERR("store", "rename", dst);
    cb_errf(eb, "cannot commit blob: %s", strerror(err));
    return err == EXDEV ? CB_EINVAL : errno_err(err);
  }
  if (sync_dir && fsync_dir(dir)) {
    int err = errno;
    CB_LOG_SYSERR("store", "fsync", dir);
    cb_errf(eb, "cannot sync blob folder: %s", strerror(err));
    return errno_err(err);
  }
  return CB_OK;
}

static cb_err install(struct fs_state *st, const char *src, const char *sha, struct cb_errbuf *eb)
{
  return install_as(st, src, sha, 1, eb);
}

static cb_err fs_put_commit(void *put, const char *sha, uint64_t size, struct cb_errbuf *eb)
{
  struct fs_put *p = put;
  cb_err e = CB_OK;
  char dst[PATH_MAX];
  blob_path(p->st, sha, dst, sizeof dst);
  if (stored_already(dst)) { /* synced when it was first stored: this copy is not needed */
    close(p->fd);
    unlink(p->tmp);
    free(p);
    return CB_OK;
  }
  if (fchmod(p->fd, 0444) || fsync_blob(p->fd)) {
    int err = errno;
    CB_LOG_SYSERR("store", "fsync", p->tmp);
    cb_errf(eb, "cannot sync blob: %s", strerror(err));
    e = errno_err(err);
  }
  close(p->fd);
  p->fd = -1;
  if (!e)
    e = install(p->st, p->tmp, sha, eb);
  if (e)
    unlink(p->tmp);
  free(p);
  return e;
}

/* syncfs of the file system holding fd, where CARBOY_STORE_FAULT can make it fail */
static int syncfs_blobs(int fd)
{
  int err = store_fault_fsync();
  if (err) {
    errno = err;
    return -1;
  }
  return syncfs(fd);
}

/* Many blobs at once (an unpack's members): two syncs of the file system in all instead
 * of two fsyncs per blob. Every temporary file is synced by the first syncfs before any
 * is renamed to its hash, so a name is never seen without its bytes, after a crash too;
 * the second makes the names durable before the caller records them. */
static cb_err fs_put_commit_many(void *state, void **puts, const char (*shas)[65], const uint64_t *sizes, int n,
                                 struct cb_errbuf *eb)
{
  struct fs_state *st = state;
  cb_err e = CB_OK;
  int sync_fd = -1, pending = 0;
  if (!st->syncfs_ok) { /* one by one, each with its fsyncs */
    for (int i = 0; i < n; i++) {
      if (e)
        fs_put_abort(puts[i]);
      else
        e = fs_put_commit(puts[i], shas[i], sizes[i], eb);
    }
    return e;
  }
  for (int i = 0; i < n; i++) {
    struct fs_put *p = puts[i];
    char dst[PATH_MAX];
    blob_path(st, shas[i], dst, sizeof dst);
    if (stored_already(dst)) { /* synced when it was first stored */
      close(p->fd);
      p->fd = -1;
      unlink(p->tmp);
      p->tmp[0] = '\0';
      continue;
    }
    if (!e && fchmod(p->fd, 0444)) {
      int err = errno;
      cb_errf(eb, "cannot protect blob: %s", strerror(err));
      e = errno_err(err);
    }
    if (sync_fd < 0)
      sync_fd = p->fd, p->fd = -1; /* kept open for the syncs */
    else
      close(p->fd), p->fd = -1;
    pending++;
  }
  if (!e && pending && syncfs_blobs(sync_fd)) {
    int err = errno;
    CB_LOG_SYSERR("store", "syncfs", st->root);
    cb_errf(eb, "cannot sync blobs: %s", strerror(err));
    e = errno_err(err);
  }
  for (int i = 0; i < n && !e; i++) {
    struct fs_put *p = puts[i];
    if (p->tmp[0] && !(e = install_as(st, p->tmp, shas[i], 0, eb)))
      p->tmp[0] = '\0';
  }
  if (!e && pending && syncfs_blobs(sync_fd)) {
    int err = errno;
    CB_LOG_SYSERR("store", "syncfs", st->root);
    cb_errf(eb, "cannot sync blob folders: %s", strerror(err));
    e = errno_err(err);
  }
  if (sync_fd >= 0)
    close(sync_fd);
  for (int i = 0; i < n; i++) { /* what was not installed goes; installed names stay (orphans to the sweep) */
    struct fs_put *p = puts[i];
    if (p->fd >= 0)
      close(p->fd);
    if (p->tmp[0])
      unlink(p->tmp);
    free(p);
  }
  return e;
}

static cb_err fs_adopt(void *state, const char *path, const char *sha, struct cb_errbuf *eb)
{
  char dst[PATH_MAX];
  blob_path(state, sha, dst, sizeof dst);
  if (stored_already(dst)) { /* stored already: nothing to sync */
    unlink(path);
    return CB_OK;
  }
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0 || fchmod(fd, 0444) || fsync_blob(fd)) {
    int err = errno;
    if (fd >= 0)
      close(fd);
    cb_errf(eb, "cannot sync %s: %s", path, strerror(err));
    return errno_err(err);
  }
  close(fd);
  return install(state, path, sha, eb);
}

static cb_err fs_get_range(void *state, const char *sha, uint64_t off, uint64_t len, store_sink_fn sink, void *ctx,
                           struct cb_errbuf *eb)
{
  enum { BUFSZ = 256 << 10 };
  char path[PATH_MAX];
  blob_path(state, sha, path, sizeof path);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == ENOENT) {
      cb_errf(eb, "blob %s is missing from the store", sha);
      return CB_ENOTFOUND;
    }
    CB_LOG_SYSERR("store", "open", path);
    cb_errf(eb, "cannot open blob: %s", strerror(errno));
    return CB_EIO;
  }
  posix_fadvise(fd, (off_t)off, (off_t)len, POSIX_FADV_SEQUENTIAL);
  char *buf = malloc(BUFSZ);
  cb_err e = buf ? CB_OK : CB_ENOMEM;
  while (!e && len) {
    size_t want = len < BUFSZ ? (size_t)len : BUFSZ;
    ssize_t r = pread(fd, buf, want, (off_t)off);
    if (r < 0 && errno == EINTR)
      continue;
    if (r < 0) {
      CB_LOG_SYSERR("store", "pread", path);
      cb_errf(eb, "cannot read blob: %s", strerror(errno));
      e = CB_EIO;
    } else if (r == 0) {
      cb_errf(eb, "blob %s is shorter than recorded", sha);
      e = CB_EIO;
    } else if (sink(ctx, buf, (size_t)r)) {
      e = CB_EABORTED;
    } else {
      off += (uint64_t)r;
      len -= (uint64_t)r;
    }
  }
  free(buf);
  close(fd);
  return e;
}

static cb_err fs_head(void *state, const char *sha, uint64_t *size)
{
  char path[PATH_MAX];
  struct stat sb;
  blob_path(state, sha, path, sizeof path);
  if (stat(path, &sb))
    return errno == ENOENT ? CB_ENOTFOUND : CB_EIO;
  if (size)
    *size = (uint64_t)sb.st_size;
  return CB_OK;
}

static cb_err fs_remove(void *state, const char *sha)
{
  char path[PATH_MAX];
  blob_path(state, sha, path, sizeof path);
  if (unlink(path))
    return errno == ENOENT ? CB_ENOTFOUND : CB_EIO;
  return CB_OK;
}

static cb_err fs_remove_stale(void *state, const char *sha, int64_t before_ms)
{
  struct fs_state *st = state;
  char path[PATH_MAX], trash[PATH_MAX];
  struct stat sb;
  blob_path(st, sha, path, sizeof path);
  snprintf(trash, sizeof trash, "%s/.tmp/sweep-%s", st->root, sha);
  if (stat(path, &sb))
    return errno == ENOENT ? CB_ENOTFOUND : CB_EIO;
  if (mtime_ms(&sb) >= before_ms)
    return CB_ECONFLICT;
  if (rename(path, trash))
    return errno == ENOENT ? CB_ENOTFOUND : CB_EIO;
  /* Committed again between the stat and the rename: it goes back (over a copy a put
   * may have installed meanwhile: the same bytes). */
  if (stat(trash, &sb) == 0 && mtime_ms(&sb) >= before_ms) {
    if (rename(trash, path)) {
      CB_LOG_SYSERR("store", "rename", path);
      return CB_EIO;
    }
    return CB_ECONFLICT;
  }
  unlink(trash);
  return CB_OK;
}

static int is_hex_name(const char *s, size_t n)
{
  return strlen(s) == n && cb_is_hex(s, n);
}

static cb_err fs_list(void *state, store_list_fn cb, void *ctx)
{
  struct fs_state *st = state;
  DIR *d1 = opendir(st->root);
  if (!d1)
    return CB_EIO;
  struct dirent *a;
  int stop = 0;
  while (!stop && (a = readdir(d1))) {
    if (!is_hex_name(a->d_name, 2))
      continue;
    char p2[PATH_MAX];
    snprintf(p2, sizeof p2, "%s/%s", st->root, a->d_name);
    DIR *d2 = opendir(p2);
    struct dirent *b;
    while (!stop && d2 && (b = readdir(d2))) {
      if (!is_hex_name(b->d_name, 2))
        continue;
      char p3[PATH_MAX];
      snprintf(p3, sizeof p3, "%s/%s", p2, b->d_name);
      DIR *d3 = opendir(p3);
      struct dirent *c;
      while (!stop && d3 && (c = readdir(d3))) {
        struct stat sb;
        if (!is_hex_name(c->d_name, 64) || fstatat(dirfd(d3), c->d_name, &sb, 0))
          continue;
        stop = cb(ctx, c->d_name, (uint64_t)sb.st_size, mtime_ms(&sb));
      }
      if (d3)
        closedir(d3);
    }
    if (d2)
      closedir(d2);
  }
  closedir(d1);
  return CB_OK;
}

static cb_err fs_local_path(void *state, const char *sha, char *out, size_t cap)
{
  blob_path(state, sha, out, cap);
  return CB_OK;
}

static cb_err fs_space(void *state, uint64_t *free_bytes)
{
  struct fs_state *st = state;
  struct statvfs sv;
  if (statvfs(st->root, &sv))
    return CB_EIO;
  *free_bytes = (uint64_t)sv.f_bavail * sv.f_frsize;
  return CB_OK;
}

/* Named objects: ROOT/NAME, written to .tmp, synced and renamed into place. */
static cb_err fs_put_named(void *state, const char *name, const void *buf, size_t n, struct cb_errbuf *eb)
{
  struct fs_state *st = state;
  char tmp[PATH_MAX], dst[PATH_MAX];
  snprintf(tmp, sizeof tmp, "%s/.tmp/named-XXXXXX", st->root);
  snprintf(dst, sizeof dst, "%s/%s", st->root, name);
  int fd = mkstemp(tmp);
  if (fd < 0 || cb_write_all(fd, buf, n) || fsync(fd)) {
    int err = errno;
    if (fd >= 0) {
      close(fd);
      unlink(tmp);
    }
    cb_errf(eb, "cannot write %s: %s", dst, strerror(err));
    return errno_err(err);
  }
  close(fd);
  if (rename(tmp, dst) || fsync_dir(st->root)) {
    int err = errno;
    unlink(tmp);
    cb_errf(eb, "cannot write %s: %s", dst, strerror(err));
    return errno_err(err);
  }
  return CB_OK;
}

static cb_err fs_get_named(void *state, const char *name, store_sink_fn sink, void *ctx, struct cb_errbuf *eb)
{
  struct fs_state *st = state;
  char path[PATH_MAX], buf[65536];
  snprintf(path, sizeof path, "%s/%s", st->root, name);
  int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) {
    cb_errf(eb, errno == ENOENT ? "%s does not exist" : "cannot open %s: %s", path, strerror(errno));
    return errno == ENOENT ? CB_ENOTFOUND : CB_EIO;
  }
  ssize_t n;
  cb_err e = CB_OK;
  while (!e && (n = read(fd, buf, sizeof buf)) > 0)
    if (sink(ctx, buf, (size_t)n))
      e = CB_EABORTED;
  if (!e && n < 0) {
    cb_errf(eb, "cannot read %s: %s", path, strerror(errno));
    e = CB_EIO;
  }
  close(fd);
  return e;
}

const struct store_ops store_fs_ops = {
  .version = STORE_OPS_VERSION,
  .caps = STORE_CAP_ADOPT | STORE_CAP_LOCAL_PATH,
  .scheme = "file",
  .open = fs_open,
  .close = fs_close,
  .put_begin = fs_put_begin,
  .put_write = fs_put_write,
  .put_commit = fs_put_commit,
  .put_commit_many = fs_put_commit_many,
  .put_abort = fs_put_abort,
  .get_range = fs_get_range,
  .head = fs_head,
  .remove = fs_remove,
  .list = fs_list,
  .adopt_file = fs_adopt,
  .local_path = fs_local_path,
  .space = fs_space,
  .put_named = fs_put_named,
  .get_named = fs_get_named,
  .remove_stale = fs_remove_stale,
  .clean_tmp = fs_clean_tmp,
};
