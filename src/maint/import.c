/* carboy import: walks the given files and folders, recreates the folders, and deposits
 * each regular file as an upload would (bytes committed to the store first, then the file
 * version and its ingest job in one transaction), skipping what is already there by
 * sha256. A rerun after a crash or a kill goes on where the last one stopped: what was
 * recorded is found again by its hash, and bytes stored but not recorded are content-
 * addressed, so storing them again costs nothing new. */
#include "maint/import.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "db/db.h"
#include "util/hash.h"
#include "util/util.h"

#define CHUNK (1u << 20)
#define MAX_DEPTH 128

struct imp {
  struct store *store;
  const struct maint_import_opts *o;
  struct maint_import_stats *st;
  struct cb_errbuf *eb;
  char owner[CB_ID_LEN + 1];
  unsigned char *buf;
  uint64_t total_files, total_bytes, done_files, done_bytes;
  uint64_t t0, last_report;
};

static uint64_t now_ns(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void human(uint64_t n, char *out, size_t cap)
{
  static const char *const units[] = {"B", "KB", "MB", "GB", "TB"};
  double v = (double)n;
  int u = 0;
  while (v >= 1000 && u < 4) {
    v /= 1000;
    u++;
  }
  snprintf(out, cap, u ? "%.1f %s" : "%.0f %s", v, units[u]);
}

static void progress(struct imp *m, int last)
{
  uint64_t t = now_ns();
  if (!last && t - m->last_report < (m->o->tty ? 200000000ull : 5000000000ull))
    return;
  m->last_report = t;
  double secs = (double)(t - m->t0) / 1e9;
  char done[32], total[32], rate[32];
  human(m->done_bytes, done, sizeof done);
  human(m->total_bytes, total, sizeof total);
  human(secs > 0 ? (uint64_t)((double)m->done_bytes / secs) : 0, rate, sizeof rate);
  double frac = m->total_bytes   ? (double)m->done_bytes / (double)m->total_bytes
                : m->total_files ? (double)m->done_files / (double)m->total_files
                                 : 1;
  if (m->o->tty) {
    char bar[31];
    int fill = (int)(frac * 30 + 0.5);
    for (int i = 0; i < 30; i++)
      bar[i] = i < fill ? '#' : '.';
    bar[30] = '\0';
    fprintf(m->o->out, "\r[%s] %3.0f%%  %llu/%llu files  %s/%s  %s/s ", bar, frac * 100,
            (unsigned long long)m->done_files, (unsigned long long)m->total_files, done, total, rate);
    if (last)
      fputc('\n', m->o->out);
  } else {
    fprintf(m->o->out, "carboy: import: %llu/%llu files, %s of %s (%.0f%%), %s/s\n", (unsigned long long)m->done_files,
            (unsigned long long)m->total_files, done, total, frac * 100, rate);
  }
  fflush(m->o->out);
}

/* One line about one file, above the progress bar. */
static void note(struct imp *m, const char *what, const char *path, const char *why)
{
  fprintf(m->o->out, "%scarboy: import: %s %s: %s\n", m->o->tty ? "\r\033[K" : "", what, path, why);
}

/* The live folder name in parent ("" = the owner's top level), made when missing. */
static cb_err ensure_folder(struct imp *m, const char *parent, const char *name, char id[CB_ID_LEN + 1])
{
  struct cb_folder f;
  for (int attempt = 0; attempt < 2; attempt++) {
    cb_err e = db_folder_find(parent, m->owner, name, &f);
    if (!e) {
      memcpy(id, f.id, CB_ID_LEN + 1);
      return CB_OK;
    }
    if (e != CB_ENOTFOUND)
      return e;
    memset(&f, 0, sizeof f);
    if ((e = cb_id_new(f.id)))
      return e;
    snprintf(f.name, sizeof f.name, "%s", name);
    snprintf(f.parent_id, sizeof f.parent_id, "%s", parent);
    snprintf(f.owner_id, sizeof f.owner_id, "%s", m->owner);
    e = db_folder_insert(&f);
    if (!e) {
      memcpy(id, f.id, CB_ID_LEN + 1);
      m->st->folders_created++;
      return CB_OK;
    }
    if (e != CB_EEXIST) /* else made meanwhile by someone else: find it again */
      return e;
  }
  return CB_ECONFLICT;
}

/* Hashes the open file from its start; 0, or an errno. */
static int hash_fd(struct imp *m, int fd, char sha[65])
{
  struct cb_hash *h = cb_hash_new("sha256");
  if (!h)
    return ENOMEM;
  ssize_t n;
  while ((n = read(fd, m->buf, CHUNK)) > 0)
    cb_hash_update(h, m->buf, (size_t)n);
  int err = n < 0 ? errno : 0;
  unsigned char raw[64];
  size_t len = cb_hash_final(h, raw);
  cb_hash_free(h);
  if (!err && len != 32)
    err = EIO;
  for (size_t i = 0; !err && i < 32; i++)
    snprintf(sha + 2 * i, 3, "%02x", raw[i]);
  return err;
}

/* One regular file into folder_id as name. CB_OK also for a file skipped or unchanged;
 * an error stops the whole import (the store or the database failed). */
static cb_err import_file(struct imp *m, const char *path, const char *folder_id, const char *name, uint64_t size)
{
  cb_err e = CB_OK;
  const char *bad = cb_name_invalid(name);
  if (bad) {
    note(m, "skipped", path, bad);
    m->st->skipped++;
    goto counted;
  }
  if (m->o->max_upload && size > m->o->max_upload) {
    char why[96];
    snprintf(why, sizeof why, "larger than the largest accepted file (%llu bytes)",
             (unsigned long long)m->o->max_upload);
    note(m, "skipped", path, why);
    m->st->skipped++;
    goto counted;
  }
  int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  char sha[65], have[65], id[CB_ID_LEN + 1];
  int err = fd < 0 ? errno : hash_fd(m, fd, sha);
  if (err) {
    note(m, "failed", path, strerror(err));
    m->st->failed++;
    goto out;
  }
  e = db_file_find(folder_id, name, id, have);
  if (!e && !strcmp(have, sha)) {
    m->st->unchanged++;
    goto out;
  }
  if (e && e != CB_ENOTFOUND)
    goto out;
  struct store_put *p = NULL;
  uint64_t stored = 0;
  if (lseek(fd, 0, SEEK_SET) < 0) {
    note(m, "failed", path, strerror(errno));
    m->st->failed++;
    e = CB_OK;
    goto out;
  }
  if ((e = store_put_begin(m->store, m->o->max_upload, &p, m->eb)))
    goto out;
  ssize_t n;
  while ((n = read(fd, m->buf, CHUNK)) > 0)
    if ((e = store_put_write(p, m->buf, (size_t)n, m->eb))) {
      store_put_abort(p);
      goto out;
    }
  if (n < 0) {
    store_put_abort(p);
    note(m, "failed", path, strerror(errno));
    m->st->failed++;
    e = CB_OK;
    goto out;
  }
  if ((e = store_put_commit(p, sha, &stored, m->eb))) /* the hash of what was stored */
    goto out;
  char media[128] = "application/octet-stream", kind[16] = "other";
  if (m->o->guess)
    m->o->guess(name, NULL, media, sizeof media, kind, sizeof kind);
  if ((e = db_file_put(folder_id, name, m->owner, sha, (int64_t)stored, media, kind, NULL))) {
    cb_errf(m->eb, "cannot record %s: %s", path, cb_strerror(e));
    goto out;
  }
  m->st->imported++;
  m->st->bytes_imported += stored;
out:
  if (fd >= 0)
    close(fd);
counted:
  m->done_files++;
  m->done_bytes += size;
  progress(m, 0);
  if (e && !m->eb->msg[0])
    cb_errf(m->eb, "cannot import %s: %s", path, cb_strerror(e));
  return e;
}

static int dots(const char *n)
{
  return !strcmp(n, ".") || !strcmp(n, "..");
}

/* Counts (count = 1) or imports (count = 0) the tree below dir into folder_id. */
static cb_err walk(struct imp *m, const char *dir, const char *folder_id, int depth, int count)
{
  if (depth > MAX_DEPTH) {
    if (!count) {
      note(m, "skipped", dir, "folders nested too deep");
      m->st->skipped++;
    }
    return CB_OK;
  }
  struct dirent **list = NULL;
  int n = scandir(dir, &list, NULL, alphasort);
  if (n < 0) {
    if (!count) {
      note(m, "failed", dir, strerror(errno));
      m->st->failed++;
    }
    return CB_OK;
  }
  cb_err e = CB_OK;
  for (int i = 0; i < n; i++) {
    const char *name = list[i]->d_name;
    char path[PATH_MAX];
    struct stat sb;
    if (e || dots(name))
      continue;
    if (snprintf(path, sizeof path, "%s/%s", dir, name) >= (int)sizeof path) {
      if (!count) {
        note(m, "skipped", name, "path too long");
        m->st->skipped++;
      }
      continue;
    }
    if (lstat(path, &sb)) {
      if (!count) {
        note(m, "failed", path, strerror(errno));
        m->st->failed++;
      }
    } else if (S_ISDIR(sb.st_mode)) {
      const char *bad = cb_name_invalid(name);
      char sub[CB_ID_LEN + 1] = "";
      if (count)
        e = walk(m, path, "", depth + 1, 1);
      else if (bad) {
        note(m, "skipped", path, bad);
        m->st->skipped++;
      } else if (!(e = ensure_folder(m, folder_id, name, sub)))
        e = walk(m, path, sub, depth + 1, 0);
    } else if (S_ISREG(sb.st_mode)) {
      if (count) {
        m->total_files++;
        m->total_bytes += (uint64_t)sb.st_size;
      } else {
        e = import_file(m, path, folder_id, name, (uint64_t)sb.st_size);
      }
    } else if (!count) {
      note(m, "skipped", path, S_ISLNK(sb.st_mode) ? "a symbolic link" : "not a regular file");
      m->st->skipped++;
    }
  }
  for (int i = 0; i < n; i++)
    free(list[i]);
  free(list);
  return e;
}

/* The next '/'-separated name of a folder path into comp: its length, 0 at the end, -1
 * when it does not fit. */
static int next_component(const char **p, char *comp, size_t cap)
{
  while (**p == '/')
    (*p)++;
  size_t n = strcspn(*p, "/");
  if (!n)
    return 0;
  int fits = n < cap;
  snprintf(comp, cap, "%.*s", (int)(fits ? n : cap - 1), *p);
  *p += n;
  return fits ? (int)n : -1;
}

/* The last component of path, without trailing slashes. */
static void base_name(const char *path, char *out, size_t cap)
{
  size_t len = strlen(path);
  while (len > 1 && path[len - 1] == '/')
    len--;
  size_t start = len;
  while (start > 0 && path[start - 1] != '/')
    start--;
  snprintf(out, cap, "%.*s", (int)(len - start), path + start);
}

void maint_import_summary(const struct maint_import_stats *st, FILE *out)
{
  char size[32];
  human(st->bytes_imported, size, sizeof size);
  fprintf(out, "carboy: imported %llu files (%s), %llu unchanged, %llu skipped, %llu failed; %llu folders created\n",
          (unsigned long long)st->imported, size, (unsigned long long)st->unchanged, (unsigned long long)st->skipped,
          (unsigned long long)st->failed, (unsigned long long)st->folders_created);
  if (st->imported)
    fprintf(out, "carboy: their ingest jobs are queued: a running server processes them now, else the next "
                 "'carboy serve'\n");
}

cb_err maint_import(struct store *store, const struct maint_import_opts *o, struct maint_import_stats *st,
                    struct cb_errbuf *eb)
{
  struct imp m = {.store = store, .o = o, .st = st, .eb = eb};
  memset(st, 0, sizeof *st);
  cb_err e = CB_OK;
  if (!o->npaths) {
    cb_errf(eb, "nothing to import: name one or more files or folders");
    return CB_EUSAGE;
  }
  struct cb_user u;
  if ((e = db_user_get_by_name(o->user, &u))) {
    if (e == CB_ENOTFOUND)
      cb_errf(eb, "no user named '%s' (create one with 'carboy user add')", o->user);
    else
      cb_errf(eb, "cannot read the users: %s", cb_strerror(e));
    return e == CB_ENOTFOUND ? CB_EUSAGE : e;
  }
  memcpy(m.owner, u.id, sizeof m.owner);
  /* every path first: a typo fails before anything is written */
  for (int i = 0; i < o->npaths; i++) {
    struct stat sb;
    char base[CB_NAME_MAX];
    if (stat(o->paths[i], &sb)) {
      cb_errf(eb, "cannot read %s: %s", o->paths[i], strerror(errno));
      return CB_EUSAGE;
    }
    if (!S_ISDIR(sb.st_mode) && !S_ISREG(sb.st_mode)) {
      cb_errf(eb, "%s is neither a file nor a folder", o->paths[i]);
      return CB_EUSAGE;
    }
    if (S_ISREG(sb.st_mode) && !o->folder) {
      cb_errf(eb, "%s is a file: say which folder it goes into with --folder /NAME", o->paths[i]);
      return CB_EUSAGE;
    }
    base_name(o->paths[i], base, sizeof base);
    const char *bad = cb_name_invalid(base);
    if (S_ISDIR(sb.st_mode) && bad) {
      cb_errf(eb, "folder %s cannot keep its name '%s' (%s)", o->paths[i], base, bad);
      return CB_EUSAGE;
    }
  }
  /* the target folder, component by component: all checked, then made */
  char target[CB_ID_LEN + 1] = "";
  for (int make = 0; o->folder && make < 2; make++) {
    char comp[CB_NAME_MAX];
    int any = 0, n;
    for (const char *p = o->folder; (n = next_component(&p, comp, sizeof comp)) != 0; any = 1) {
      const char *bad = n < 0 ? "too long" : cb_name_invalid(comp);
      if (bad) {
        cb_errf(eb, "--folder: '%s' is not a valid folder name (%s)", n < 0 ? o->folder : comp, bad);
        return CB_EUSAGE;
      }
      char next[CB_ID_LEN + 1];
      if (make && (e = ensure_folder(&m, target, comp, next))) {
        cb_errf(eb, "cannot make the folder %s: %s", o->folder, cb_strerror(e));
        return e;
      }
      if (make)
        memcpy(target, next, sizeof target);
    }
    if (!any) {
      cb_errf(eb, "--folder: '%s' names no folder (files need one: --folder /NAME)", o->folder);
      return CB_EUSAGE;
    }
  }
  if (!(m.buf = malloc(CHUNK)))
    return CB_ENOMEM;
  for (int i = 0; i < o->npaths; i++) { /* what there is to do, for the progress bar */
    struct stat sb;
    if (stat(o->paths[i], &sb))
      continue;
    if (S_ISDIR(sb.st_mode)) {
      walk(&m, o->paths[i], "", 0, 1);
    } else {
      m.total_files++;
      m.total_bytes += (uint64_t)sb.st_size;
    }
  }
  m.t0 = m.last_report = now_ns();
  for (int i = 0; !e && i < o->npaths; i++) {
    struct stat sb;
    char base[CB_NAME_MAX];
    base_name(o->paths[i], base, sizeof base);
    if (stat(o->paths[i], &sb)) {
      note(&m, "failed", o->paths[i], strerror(errno));
      st->failed++;
    } else if (S_ISDIR(sb.st_mode)) {
      char sub[CB_ID_LEN + 1];
      if (!(e = ensure_folder(&m, target, base, sub)))
        e = walk(&m, o->paths[i], sub, 0, 0);
    } else {
      e = import_file(&m, o->paths[i], target, base, (uint64_t)sb.st_size);
    }
  }
  if (e && !eb->msg[0])
    cb_errf(eb, "import stopped: %s", cb_strerror(e));
  progress(&m, 1);
  free(m.buf);
  return e;
}
