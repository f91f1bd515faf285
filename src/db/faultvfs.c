/* Fault injection in the database, for tests: a shim VFS over the default one (in the
 * manner of SQLite's own test_devsym.c and test_vfs.c), used by every connection only
 * when CARBOY_DB_FAULT is set. On the main database, its WAL and its journals it makes
 * writes or syncs fail as a full or failing disk would:
 *
 *   CARBOY_DB_FAULT=OP:KIND[:AFTER[:COUNT[:MATCH]]]
 *     OP     write   xWrite writes nothing and fails
 *            short   xWrite writes the first half of its buffer, then fails (a short
 *                    write surfaces so in SQLite's unix VFS)
 *            sync    xSync fails
 *     KIND   enospc  SQLITE_FULL (the disk is full)
 *            eio     SQLITE_IOERR_WRITE, or SQLITE_IOERR_FSYNC for sync
 *     AFTER  write/short: the write that goes past AFTER bytes (of the writes that are
 *            candidates) is the first to fail; sync: AFTER syncs pass first. Default 0.
 *     COUNT  faults injected before the shim lets everything through again (the same
 *            process then shows recovery); 0 or absent: no end.
 *     MATCH  only writes whose buffer holds this text are candidates (a file name, a
 *            sha256: the pages one transaction writes), and for sync only a file such a
 *            write went to since its last sync.
 */
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db/db_internal.h"
#include "util/log.h"

#define FAULT_VFS_NAME "carboy-fault"

enum fault_op { FAULT_WRITE = 1, FAULT_SHORT, FAULT_SYNC };

static struct {
  int on;
  enum fault_op op;
  int enospc;
  unsigned long long after, count;
  char match[128];
  size_t match_len;
  pthread_mutex_t mu;
  unsigned long long seen;     /* candidate bytes written, or candidate syncs */
  unsigned long long injected; /* faults so far */
  sqlite3_vfs *real;
} fv = {.mu = PTHREAD_MUTEX_INITIALIZER};

struct fault_file {
  sqlite3_file base;
  sqlite3_file *real; /* the default VFS's file, right after this struct */
  const char *name;
  int candidate; /* main database, WAL or journal */
  int matched;   /* a write holding MATCH went here since the last sync */
};

#define REAL(f) (((struct fault_file *)(f))->real)

static int holds_match(const void *buf, int amt)
{
  return !fv.match_len || (amt > 0 && memmem(buf, (size_t)amt, fv.match, fv.match_len));
}

/* Whether this write or sync fails; counts it. */
static int fault_hit(struct fault_file *f, enum fault_op op, const void *buf, int amt)
{
  int hit = 0;
  if (!fv.on || !f->candidate)
    return 0;
  pthread_mutex_lock(&fv.mu);
  if (op != FAULT_SYNC && holds_match(buf, amt))
    f->matched = 1;
  int is_candidate = op == FAULT_SYNC ? (fv.op == FAULT_SYNC && (!fv.match_len || f->matched))
                                      : (fv.op != FAULT_SYNC && holds_match(buf, amt));
  if (is_candidate && (!fv.count || fv.injected < fv.count)) {
    unsigned long long before = fv.seen;
    fv.seen += op == FAULT_SYNC ? 1 : (unsigned long long)amt;
    hit = op == FAULT_SYNC ? fv.seen > fv.after : before + (unsigned long long)amt > fv.after;
    if (hit)
      fv.injected++;
  }
  if (op == FAULT_SYNC && !hit)
    f->matched = 0;
  unsigned long long n = fv.injected;
  pthread_mutex_unlock(&fv.mu);
  if (hit)
    CB_LOG(CB_LOG_WARN, "db", "injected fault %llu: %s %s on %s", n,
           fv.op == FAULT_SYNC    ? "sync"
           : fv.op == FAULT_SHORT ? "short write"
                                  : "write",
           fv.enospc ? "enospc" : "eio", f->name ? f->name : "?");
  return hit;
}

static int fault_close(sqlite3_file *f)
{
  return REAL(f)->pMethods->xClose(REAL(f));
}

static int fault_read(sqlite3_file *f, void *buf, int amt, sqlite3_int64 off)
{
  return REAL(f)->pMethods->xRead(REAL(f), buf, amt, off);
}

static int fault_write(sqlite3_file *file, const void *buf, int amt, sqlite3_int64 off)
{
  struct fault_file *f = (struct fault_file *)file;
  if (!fault_hit(f, FAULT_WRITE, buf, amt))
    return f->real->pMethods->xWrite(f->real, buf, amt, off);
  if (fv.op == FAULT_SHORT && amt / 2 > 0)
    f->real->pMethods->xWrite(f->real, buf, amt / 2, off);
  return fv.enospc ? SQLITE_FULL : SQLITE_IOERR_WRITE;
}

static int fault_truncate(sqlite3_file *f, sqlite3_int64 size)
{
  return REAL(f)->pMethods->xTruncate(REAL(f), size);
}

static int fault_sync(sqlite3_file *file, int flags)
{
  struct fault_file *f = (struct fault_file *)file;
  if (fault_hit(f, FAULT_SYNC, NULL, 0))
    return fv.enospc ? SQLITE_FULL : SQLITE_IOERR_FSYNC;
  return f->real->pMethods->xSync(f->real, flags);
}

static int fault_file_size(sqlite3_file *f, sqlite3_int64 *size)
{
  return REAL(f)->pMethods->xFileSize(REAL(f), size);
}

static int fault_lock(sqlite3_file *f, int lock)
{
  return REAL(f)->pMethods->xLock(REAL(f), lock);
}

static int fault_unlock(sqlite3_file *f, int lock)
{
  return REAL(f)->pMethods->xUnlock(REAL(f), lock);
}

static int fault_check_reserved(sqlite3_file *f, int *out)
{
  return REAL(f)->pMethods->xCheckReservedLock(REAL(f), out);
}

static int fault_file_control(sqlite3_file *f, int op, void *arg)
{
  return REAL(f)->pMethods->xFileControl(REAL(f), op, arg);
}

static int fault_sector_size(sqlite3_file *f)
{
  return REAL(f)->pMethods->xSectorSize(REAL(f));
}

static int fault_device_chars(sqlite3_file *f)
{
  return REAL(f)->pMethods->xDeviceCharacteristics(REAL(f));
}

static int fault_shm_map(sqlite3_file *f, int page, int size, int extend, void volatile **out)
{
  if (REAL(f)->pMethods->iVersion < 2)
    return SQLITE_IOERR_SHMMAP;
  return REAL(f)->pMethods->xShmMap(REAL(f), page, size, extend, out);
}

static int fault_shm_lock(sqlite3_file *f, int off, int n, int flags)
{
  return REAL(f)->pMethods->xShmLock(REAL(f), off, n, flags);
}

static void fault_shm_barrier(sqlite3_file *f)
{
  REAL(f)->pMethods->xShmBarrier(REAL(f));
}

static int fault_shm_unmap(sqlite3_file *f, int del)
{
  return REAL(f)->pMethods->xShmUnmap(REAL(f), del);
}

static int fault_fetch(sqlite3_file *f, sqlite3_int64 off, int amt, void **out)
{
  if (REAL(f)->pMethods->iVersion < 3) {
    *out = NULL;
    return SQLITE_OK;
  }
  return REAL(f)->pMethods->xFetch(REAL(f), off, amt, out);
}

static int fault_unfetch(sqlite3_file *f, sqlite3_int64 off, void *p)
{
  if (REAL(f)->pMethods->iVersion < 3)
    return SQLITE_OK;
  return REAL(f)->pMethods->xUnfetch(REAL(f), off, p);
}

static const sqlite3_io_methods fault_io = {
  3,
  fault_close,
  fault_read,
  fault_write,
  fault_truncate,
  fault_sync,
  fault_file_size,
  fault_lock,
  fault_unlock,
  fault_check_reserved,
  fault_file_control,
  fault_sector_size,
  fault_device_chars,
  fault_shm_map,
  fault_shm_lock,
  fault_shm_barrier,
  fault_shm_unmap,
  fault_fetch,
  fault_unfetch,
};

static int fault_open(sqlite3_vfs *vfs, const char *name, sqlite3_file *file, int flags, int *out_flags)
{
  (void)vfs;
  struct fault_file *f = (struct fault_file *)file;
  memset(f, 0, sizeof *f);
  f->real = (sqlite3_file *)(f + 1);
  f->name = name;
  f->candidate = (flags & (SQLITE_OPEN_MAIN_DB | SQLITE_OPEN_WAL | SQLITE_OPEN_MAIN_JOURNAL)) != 0;
  int rc = fv.real->xOpen(fv.real, name, f->real, flags, out_flags);
  /* SQLite calls xClose when pMethods is set, even after a failed open */
  f->base.pMethods = f->real->pMethods ? &fault_io : NULL;
  return rc;
}

static sqlite3_vfs fault_vfs;

static int parse_spec(const char *spec)
{
  char op[16] = "", kind[16] = "", match[sizeof fv.match] = "";
  unsigned long long after = 0, count = 0;
  int n = sscanf(spec, "%15[a-z]:%15[a-z]:%llu:%llu:%127[^\n]", op, kind, &after, &count, match);
  if (n < 2)
    return -1;
  fv.op = !strcmp(op, "write")   ? FAULT_WRITE
          : !strcmp(op, "short") ? FAULT_SHORT
          : !strcmp(op, "sync")  ? FAULT_SYNC
                                 : 0;
  if (!fv.op || (strcmp(kind, "enospc") && strcmp(kind, "eio")))
    return -1;
  fv.enospc = !strcmp(kind, "enospc");
  fv.after = after;
  fv.count = count;
  snprintf(fv.match, sizeof fv.match, "%s", match);
  fv.match_len = strlen(fv.match);
  return 0;
}

cb_err db_fault_from_env(struct cb_errbuf *eb)
{
  const char *spec = getenv("CARBOY_DB_FAULT");
  if (!spec || !*spec || fv.on)
    return CB_OK;
  if (parse_spec(spec)) {
    cb_errf(eb, "invalid CARBOY_DB_FAULT '%.100s': expected write|short|sync:enospc|eio[:AFTER[:COUNT[:MATCH]]]", spec);
    return CB_EINVAL;
  }
  fv.real = sqlite3_vfs_find(NULL);
  if (!fv.real) {
    cb_errf(eb, "CARBOY_DB_FAULT: SQLite has no default VFS");
    return CB_EDB;
  }
  fault_vfs = *fv.real; /* the calls on the VFS itself go to the real one */
  fault_vfs.pNext = NULL;
  fault_vfs.zName = FAULT_VFS_NAME;
  fault_vfs.szOsFile = (int)sizeof(struct fault_file) + fv.real->szOsFile;
  fault_vfs.xOpen = fault_open;
  if (sqlite3_vfs_register(&fault_vfs, 0) != SQLITE_OK) {
    cb_errf(eb, "CARBOY_DB_FAULT: cannot register the fault VFS");
    return CB_EDB;
  }
  fv.on = 1;
  CB_LOG(CB_LOG_WARN, "db", "fault injection on: %s", spec);
  return CB_OK;
}

const char *db_fault_vfs(void)
{
  return fv.on ? FAULT_VFS_NAME : NULL;
}
