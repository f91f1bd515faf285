/* Resumable uploads: the tus 1.0.0 protocol (core, creation, termination, checksum) at
 * /api/v1/uploads. Received bytes go to DATA/uploads/ID.part; the database row holds the
 * offset that has been durably accepted. On a crash the part file may hold more than
 * that; HEAD trims it back, so a client resumes from bytes that were acknowledged.
 * When the last byte arrives the part file is hashed and handed to the store (by rename
 * on the file store) and becomes a file version like any other upload. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sodium.h>
#include <time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "http/http.h"
#include "http/parse.h"
#include "util/hash.h"
#include "util/log.h"

#define TUS_VERSION "1.0.0"
#define TUS_EXPIRY_MS (24LL * 3600 * 1000)
enum { TUS_BUF = 1 << 20, TUS_MAX_ACTIVE = 256 };

/* Uploads with a PATCH in progress: at most one writer per upload. A request for an upload
 * that is busy waits a moment for it: the PATCH before may have answered its client (who
 * sends the next one at once) a few instructions before it lets go. */
static pthread_mutex_t active_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t active_free = PTHREAD_COND_INITIALIZER;
static char active[TUS_MAX_ACTIVE][CB_ID_LEN + 1];
#define TUS_LOCK_WAIT_MS 2000

static int lock_upload(const char *id)
{
  struct timespec until;
  clock_gettime(CLOCK_REALTIME, &until);
  until.tv_sec += TUS_LOCK_WAIT_MS / 1000;
  until.tv_nsec += (TUS_LOCK_WAIT_MS % 1000) * 1000000L;
  if (until.tv_nsec >= 1000000000L) {
    until.tv_sec++;
    until.tv_nsec -= 1000000000L;
  }
  pthread_mutex_lock(&active_lock);
  for (;;) {
    int slot = -1, busy = 0;
    for (int i = 0; i < TUS_MAX_ACTIVE && !busy; i++) {
      if (!strcmp(active[i], id))
        busy = 1;
      else if (slot < 0 && !active[i][0])
        slot = i;
    }
    if (!busy) {
      if (slot >= 0)
        memcpy(active[slot], id, CB_ID_LEN + 1);
      pthread_mutex_unlock(&active_lock);
      return slot;
    }
    if (pthread_cond_timedwait(&active_free, &active_lock, &until)) {
      pthread_mutex_unlock(&active_lock);
      return -1;
    }
  }
}

static void unlock_upload(int slot)
{
  pthread_mutex_lock(&active_lock);
  active[slot][0] = '\0';
  pthread_cond_broadcast(&active_free);
  pthread_mutex_unlock(&active_lock);
}

static void part_path(const char *id, char *out, size_t cap)
{
  snprintf(out, cap, "%s/uploads/%s.part", app.cfg.data_dir, id);
}

static void expiry(char *out)
{
  cb_time_rfc3339(cb_time_now_ms() + TUS_EXPIRY_MS, out, CB_TIME_MAX);
}

static int tus_send(struct req *r, int status, const char *offset, const char *length, const char *extra_name,
                    const char *extra_value)
{
  const char *hdr[] = {"Tus-Resumable",
                       TUS_VERSION,
                       "Cache-Control",
                       "no-store",
                       "Upload-Offset",
                       offset,
                       "Upload-Length",
                       length,
                       extra_name ? extra_name : "X-Ignore",
                       extra_value,
                       NULL};
  http_send(r, status, NULL, NULL, 0, hdr);
  return status;
}

/* tus requires Tus-Resumable on every request but OPTIONS. */
static int check_version(struct req *r)
{
  const char *v = http_header(r, "Tus-Resumable");
  if (v && !strcmp(v, TUS_VERSION))
    return 0;
  http_drop_body(r);
  const char *hdr[] = {"Tus-Version", TUS_VERSION, "Tus-Resumable", TUS_VERSION, NULL};
  return http_problem_extra(r, 412, "Tus-Resumable", hdr, "Tus-Resumable must be %s", TUS_VERSION);
}

int h_tus_options(struct req *r)
{
  char max[32];
  snprintf(max, sizeof max, "%llu", (unsigned long long)app.cfg.max_upload);
  const char *hdr[] = {"Tus-Resumable",
                       TUS_VERSION,
                       "Tus-Version",
                       TUS_VERSION,
                       "Tus-Extension",
                       "creation,termination,checksum",
                       "Tus-Checksum-Algorithm",
                       "sha256,sha1,md5",
                       "Tus-Max-Size",
                       app.cfg.max_upload ? max : NULL,
                       NULL};
  http_send(r, 204, NULL, NULL, 0, hdr);
  return 204;
}

/* Standard base64 (RFC 4648 section 4), as tus sends metadata values and checksums, with
 * its padding or without: the number of bytes decoded into out, or -1. */
static long base64_std(const char *in, size_t len, unsigned char *out, size_t cap)
{
  size_t n;
  if (sodium_base642bin(out, cap, in, len, NULL, &n, NULL, sodium_base64_VARIANT_ORIGINAL) &&
      sodium_base642bin(out, cap, in, len, NULL, &n, NULL, sodium_base64_VARIANT_ORIGINAL_NO_PADDING))
    return -1;
  return (long)n;
}

/* Finds key in an Upload-Metadata header ("k1 base64,k2 base64") and decodes it. */
static int metadata_value(const char *meta, const char *key, char *out, size_t cap)
{
  size_t klen = strlen(key);
  for (const char *p = meta; p && *p;) {
    while (*p == ' ' || *p == ',')
      p++;
    const char *end = strchr(p, ',');
    size_t len = end ? (size_t)(end - p) : strlen(p);
    const char *sp = memchr(p, ' ', len);
    size_t nlen = sp ? (size_t)(sp - p) : len;
    if (nlen == klen && !strncmp(p, key, klen)) {
      if (!sp) {
        out[0] = '\0';
        return 1;
      }
      long n = base64_std(sp + 1, len - nlen - 1, (unsigned char *)out, cap - 1);
      if (n < 0 || memchr(out, 0, (size_t)n))
        return -1;
      out[n] = '\0';
      return 1;
    }
    p = end;
  }
  return 0;
}

static int parse_u64(const char *s, uint64_t *out)
{
  if (!s || !*s)
    return -1;
  for (const char *p = s; *p; p++)
    if (*p < '0' || *p > '9')
      return -1;
  errno = 0;
  unsigned long long v = strtoull(s, NULL, 10);
  if (errno)
    return -1;
  *out = v;
  return 0;
}

/* The caller's upload, on every request: its creator's only, not past its fixed expiry,
 * and (need > 0) only while the creator may still do that in its folder: a grant revoked
 * or a folder deleted meanwhile ends the upload's use (403 or 404), as it would a PUT. */
static int load_upload(struct req *r, struct cb_upload *u, int need)
{
  cb_err e = cb_id_valid(r->params[0]) ? db_upload_get(r->params[0], u) : CB_ENOTFOUND;
  if (!e && strcmp(u->owner_id, r->who.user_id))
    e = CB_ENOTFOUND;
  char now[CB_TIME_MAX];
  cb_time_now_rfc3339(now, sizeof now);
  if (!e && !u->file_id[0] && strcmp(u->expires_at, now) <= 0)
    e = CB_ENOTFOUND; /* expired: the sweep removes it */
  if (!e && need) {
    e = auth_check(&r->who, "folder", u->folder_id, (enum cb_access)need);
    if (e == CB_EFORBIDDEN) {
      http_drop_body(r);
      return http_problem(r, 403, NULL, "you may no longer write to this upload's folder");
    }
  }
  if (e) {
    http_drop_body(r);
    if (e == CB_ENOTFOUND) {
      const char *hdr[] = {"Tus-Resumable", TUS_VERSION, NULL};
      return http_problem_extra(r, 404, NULL, hdr,
                                "no such upload (never made, ended, expired, or in a folder"
                                " you may no longer see)");
    }
    return http_error(r, e, "cannot read the upload");
  }
  return 0;
}

static int restore_sink(void *ctx, const void *buf, size_t n)
{
  return cb_write_all(*(int *)ctx, buf, n) != 0;
}

/* The store took the part (by rename or copy) but the file could not be recorded: put the
 * blob's bytes back as the part, so that completing the upload again can work. */
static void restore_part(const char *sha, uint64_t size, const char *path)
{
  char tmp[4300];
  struct cb_errbuf eb = {{0}};
  snprintf(tmp, sizeof tmp, "%s.restore", path);
  int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  cb_err e = fd < 0 ? CB_EIO : store_get_range(app.store, sha, 0, size, restore_sink, &fd, &eb);
  if (!e && (fsync(fd) || rename(tmp, path)))
    e = CB_EIO;
  if (fd >= 0)
    close(fd);
  if (e) {
    unlink(tmp);
    CB_LOG(CB_LOG_ERROR, "tus", "cannot put the bytes of %s back as %s: %s", sha, path,
           eb.msg[0] ? eb.msg : strerror(errno));
  }
}

/* The upload is complete: move its bytes into the store and record the file. */
static cb_err finalize(struct req *r, struct cb_upload *u, struct cb_errbuf *eb)
{
  struct cb_folder folder;
  cb_err e = db_folder_get(u->folder_id, &folder);
  if (e) {
    cb_errf(eb, "the target folder no longer exists");
    return e;
  }
  char path[4200], sha[65];
  uint64_t size = 0;
  part_path(u->id, path, sizeof path);
  e = store_put_file(app.store, path, sha, &size, eb);
  if (e)
    return e;
  if (size != (uint64_t)u->length) {
    cb_errf(eb, "stored %llu bytes, expected %lld", (unsigned long long)size, (long long)u->length);
    return CB_EIO;
  }
  char media[128], kind[16];
  http_guess_type(u->filename, NULL, media, sizeof media, kind, sizeof kind);
  struct cb_file f = {0};
  e = db_file_put(u->folder_id, u->filename, u->owner_id, sha, (int64_t)size, media, kind, &f);
  db_file_clear(&f);
  if (!e)
    e = db_upload_set_file(u->id, f.id);
  if (!e) {
    jobs_wake();
    memcpy(u->file_id, f.id, sizeof u->file_id);
    http_audit(r, "file.upload", "file", f.id, u->filename);
  }
  if (e) {
    cb_errf(eb, "cannot record the upload: %s", cb_strerror(e));
    if (access(path, F_OK))
      restore_part(sha, size, path);
    return e;
  }
  unlink(path); /* gone already when the store took it */
  return e;
}

int h_tus_create(struct req *r)
{
  if (check_version(r) || http_require_user(r))
    return r->status;
  tus_sweep_expired();
  http_drop_body(r);
  uint64_t length;
  if (http_header(r, "Upload-Defer-Length"))
    return http_problem(r, 400, "Upload-Defer-Length", "deferred lengths are not supported");
  if (parse_u64(http_header(r, "Upload-Length"), &length))
    return http_problem(r, 400, "Upload-Length", "Upload-Length must be a whole number of bytes");
  if (app.cfg.max_upload && length > app.cfg.max_upload)
    return http_problem(r, 413, "Upload-Length", "the upload is %llu bytes; the limit is %llu",
                        (unsigned long long)length, (unsigned long long)app.cfg.max_upload);
  const char *meta = http_header(r, "Upload-Metadata");
  struct cb_upload u = {0};
  char folder_id[64];
  int a = meta ? metadata_value(meta, "filename", u.filename, sizeof u.filename) : 0;
  int b = meta ? metadata_value(meta, "folder_id", folder_id, sizeof folder_id) : 0;
  if (a <= 0)
    return http_problem(r, 400, "Upload-Metadata", "Upload-Metadata must carry a base64 'filename'");
  if (b <= 0)
    return http_problem(r, 400, "Upload-Metadata", "Upload-Metadata must carry a base64 'folder_id'");
  const char *why = cb_name_invalid(u.filename);
  if (why)
    return http_problem(r, 400, "filename", "%s", why);
  struct cb_folder folder;
  if (http_load_folder(r, folder_id, CB_WRITE, &folder))
    return r->status;
  cb_id_new(u.id);
  memcpy(u.owner_id, r->who.user_id, sizeof u.owner_id);
  memcpy(u.folder_id, folder.id, sizeof u.folder_id);
  u.length = (int64_t)length;
  cb_time_now_rfc3339(u.created_at, sizeof u.created_at);
  expiry(u.expires_at);
  char path[4200];
  part_path(u.id, path, sizeof path);
  int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    CB_LOG_SYSERR("tus", "open", path);
    return http_problem(r, errno == ENOSPC ? 507 : 500, NULL, "cannot create the upload");
  }
  close(fd);
  cb_err e = db_upload_insert(&u);
  if (e) {
    unlink(path);
    return http_error(r, e, "cannot record the upload");
  }
  struct cb_errbuf eb = {{0}};
  if (length == 0 && (e = finalize(r, &u, &eb)))
    return http_problem(r, 500, NULL, "cannot store the empty upload: %s", eb.msg);
  char loc[128], off[32], len[32];
  snprintf(loc, sizeof loc, "/api/v1/uploads/%s", u.id);
  snprintf(off, sizeof off, "%d", 0);
  snprintf(len, sizeof len, "%llu", (unsigned long long)length);
  const char *hdr[] = {"Tus-Resumable",
                       TUS_VERSION,
                       "Location",
                       loc,
                       "Upload-Offset",
                       off,
                       "Carboy-File-Id",
                       u.file_id[0] ? u.file_id : NULL,
                       NULL};
  http_send(r, 201, NULL, NULL, 0, hdr);
  return 201;
}

int h_tus_head(struct req *r)
{
  struct cb_upload u;
  if (check_version(r) || load_upload(r, &u, CB_READ))
    return r->status;
  int slot = lock_upload(u.id);
  if (slot >= 0) {
    /* Bytes past the acknowledged offset (a crash mid-PATCH) are not trusted. */
    char path[4200];
    struct stat sb;
    part_path(u.id, path, sizeof path);
    if (!u.file_id[0] && stat(path, &sb) == 0 && sb.st_size > u.offset && truncate(path, u.offset))
      CB_LOG_SYSERR("tus", "truncate", path);
    unlock_upload(slot);
  }
  char off[32], len[32];
  snprintf(off, sizeof off, "%lld", (long long)u.offset);
  snprintf(len, sizeof len, "%lld", (long long)u.length);
  return tus_send(r, 200, off, len, "Carboy-File-Id", u.file_id[0] ? u.file_id : NULL);
}

/* Upload-Checksum: "ALGO BASE64". */
static int parse_checksum(struct req *r, struct cb_hash **h, unsigned char *want, size_t *wantlen)
{
  const char *c = http_header(r, "Upload-Checksum");
  *h = NULL;
  if (!c)
    return 0;
  char algo[16];
  const char *sp = strchr(c, ' ');
  if (!sp || (size_t)(sp - c) >= sizeof algo)
    return http_problem(r, 400, "Upload-Checksum", "Upload-Checksum must be 'ALGORITHM BASE64'");
  memcpy(algo, c, (size_t)(sp - c));
  algo[sp - c] = '\0';
  if (strcmp(algo, "sha256") && strcmp(algo, "sha1") && strcmp(algo, "md5"))
    return http_problem(r, 400, "Upload-Checksum",
                        "checksum algorithm '%s' is not supported"
                        " (sha256, sha1, md5)",
                        algo);
  long n = base64_std(sp + 1, strlen(sp + 1), want, 64);
  if (n <= 0)
    return http_problem(r, 400, "Upload-Checksum", "the checksum is not valid base64");
  *wantlen = (size_t)n;
  *h = cb_hash_new(algo);
  return *h ? 0 : http_problem(r, 500, NULL, "cannot hash with %s", algo);
}

int h_tus_patch(struct req *r)
{
  struct cb_upload u;
  if (check_version(r) || load_upload(r, &u, CB_WRITE))
    return r->status;
  if (!http_media_is(r, "application/offset+octet-stream")) {
    http_drop_body(r);
    return http_problem(r, 415, "Content-Type", "PATCH bodies must be application/offset+octet-stream");
  }
  uint64_t offset;
  if (parse_u64(http_header(r, "Upload-Offset"), &offset)) {
    http_drop_body(r);
    return http_problem(r, 400, "Upload-Offset", "Upload-Offset must be a whole number");
  }
  if (offset != (uint64_t)u.offset) {
    http_drop_body(r);
    return http_problem(r, 409, "Upload-Offset", "Upload-Offset is %llu but the upload is at %lld",
                        (unsigned long long)offset, (long long)u.offset);
  }
  struct cb_hash *h = NULL;
  unsigned char want[64];
  size_t wantlen = 0;
  if (parse_checksum(r, &h, want, &wantlen)) {
    http_drop_body(r);
    return r->status;
  }
  int slot = lock_upload(u.id);
  if (slot < 0) {
    cb_hash_free(h);
    http_drop_body(r);
    return http_problem(r, 409, NULL, "another PATCH to this upload is in progress");
  }
  /* what a PATCH that held the lock meanwhile did: read the upload again under the lock */
  if (db_upload_get(u.id, &u) || offset != (uint64_t)u.offset) {
    unlock_upload(slot);
    cb_hash_free(h);
    http_drop_body(r);
    return http_problem(r, 409, "Upload-Offset", "Upload-Offset is %llu but the upload is at %lld",
                        (unsigned long long)offset, (long long)u.offset);
  }
  char path[4200], off[32], len[32];
  struct cb_errbuf eb = {{0}};
  int status = 204;
  part_path(u.id, path, sizeof path);
  int fd = u.file_id[0] ? -1 : open(path, O_WRONLY | O_CLOEXEC);
  char *buf = malloc(TUS_BUF);
  uint64_t got = 0, room = (uint64_t)(u.length - u.offset);
  int n = 0, failed = 0, fs_err = 0;
  if (!u.file_id[0] && (fd < 0 || !buf || lseek(fd, u.offset, SEEK_SET) < 0)) {
    status = http_problem(r, 500, NULL, "the upload's data is missing");
    http_drop_body(r);
    goto out;
  }
  while (fd >= 0 && (n = http_read(r, buf, TUS_BUF)) > 0) {
    if (got + (uint64_t)n > room) {
      failed = 1;
      status = http_problem(r, 413, NULL, "the body goes past Upload-Length");
      break;
    }
    if (cb_write_all(fd, buf, (size_t)n)) {
      fs_err = errno;
      failed = 1;
      CB_LOG_SYSERR("tus", "write", path);
      status = http_problem(r, fs_err == ENOSPC ? 507 : 500, NULL, "cannot write the upload");
      break;
    }
    if (h)
      cb_hash_update(h, buf, (size_t)n);
    got += (uint64_t)n;
    if (http_must_abort())
      break;
  }
  if (failed)
    http_drop_body(r);
  int interrupted = n < 0 || http_must_abort();
  if (!failed && h) {
    unsigned char md[64];
    size_t mdlen = cb_hash_final(h, md);
    if (interrupted || mdlen != wantlen || memcmp(md, want, mdlen)) {
      failed = 1;
      status = interrupted ? 400 : 460;
      if (!interrupted) {
        const char *hdr[] = {"Tus-Resumable", TUS_VERSION, NULL};
        http_send(r, 460, "text/plain", "Checksum Mismatch", 17, hdr);
      }
    }
  }
  if (failed) {
    /* Nothing of this request is kept. */
    if (fd >= 0 && ftruncate(fd, u.offset))
      CB_LOG_SYSERR("tus", "ftruncate", path);
    if (!r->status)
      http_problem(r, 400, NULL, "the upload was interrupted");
    goto out;
  }
  if (fd >= 0 && got) {
    if (fdatasync(fd)) {
      CB_LOG_SYSERR("tus", "fdatasync", path);
      if (ftruncate(fd, u.offset))
        CB_LOG_SYSERR("tus", "ftruncate", path);
      status = http_problem(r, 500, NULL, "cannot sync the upload");
      goto out;
    }
    u.offset += (int64_t)got; /* the expiry stays: an upload's life is fixed at its creation */
    cb_err e = db_upload_set_offset(u.id, u.offset, u.expires_at);
    if (e) {
      status = http_error(r, e, "cannot record the upload's progress");
      goto out;
    }
  }
  if (fd >= 0) {
    close(fd);
    fd = -1;
  }
  if (interrupted) { /* bytes so far are kept; the client resumes from u.offset */
    mg_disable_keep_alive(r->conn);
    status = 400;
    http_problem(r, 400, NULL, "the upload was interrupted at %lld bytes", (long long)u.offset);
    goto out;
  }
  if (u.offset == u.length && !u.file_id[0]) {
    /* access once more: a long body may have outlived a grant or its folder; the bytes
     * stay (the upload's creator may still end it) */
    cb_err e = auth_check(&r->who, "folder", u.folder_id, CB_WRITE);
    if (e) {
      status = e == CB_EFORBIDDEN ? 403 : 404;
      http_problem(r, status, NULL,
                   e == CB_EFORBIDDEN ? "you may no longer write to this upload's folder"
                                      : "the upload's folder is gone (deleted, or no longer yours to see)");
      goto out;
    }
    e = finalize(r, &u, &eb);
    if (e) {
      status = e == CB_ENOSPC ? 507 : e == CB_ENOTFOUND ? 404 : 500;
      http_problem(r, status, NULL, "cannot store the completed upload: %s", eb.msg);
      goto out;
    }
  }
  snprintf(off, sizeof off, "%lld", (long long)u.offset);
  snprintf(len, sizeof len, "%lld", (long long)u.length);
  status = tus_send(r, 204, off, len, "Carboy-File-Id", u.file_id[0] ? u.file_id : NULL);
out:
  if (fd >= 0)
    close(fd);
  free(buf);
  cb_hash_free(h);
  unlock_upload(slot);
  return status;
}

int h_tus_delete(struct req *r)
{
  struct cb_upload u;
  if (check_version(r) || load_upload(r, &u, 0)) /* its creator may always end it */
    return r->status;
  int slot = lock_upload(u.id);
  if (slot < 0)
    return http_problem(r, 409, NULL, "a PATCH to this upload is in progress");
  char path[4200];
  part_path(u.id, path, sizeof path);
  unlink(path);
  cb_err e = db_upload_delete(u.id);
  unlock_upload(slot);
  if (e)
    return http_error(r, e, "cannot delete the upload");
  const char *hdr[] = {"Tus-Resumable", TUS_VERSION, NULL};
  return http_no_content(r, hdr);
}

static int sweep_one(const struct cb_upload *u, void *ctx)
{
  (void)ctx;
  char path[4200];
  part_path(u->id, path, sizeof path);
  int slot = lock_upload(u->id);
  if (slot < 0)
    return 0;
  unlink(path);
  db_upload_delete(u->id);
  unlock_upload(slot);
  CB_LOG(CB_LOG_INFO, "tus", "expired upload %s (%s) removed", u->id, u->filename);
  return 0;
}

void tus_sweep_expired(void)
{
  char now[CB_TIME_MAX];
  cb_time_now_rfc3339(now, sizeof now);
  db_upload_expired(now, 16, sweep_one, NULL);
}

int tus_metadata_get(const char *meta, const char *key, char *out, size_t cap)
{
  return metadata_value(meta, key, out, cap);
}

int tus_parse_number(const char *s, uint64_t *out)
{
  return parse_u64(s, out);
}

long tus_base64_decode(const char *in, size_t len, unsigned char *out, size_t cap)
{
  return base64_std(in, len, out, cap);
}
