/* carboy backup / carboy restore (backup.h says what a backup is). */
#include "maint/backup.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "db/db.h"
#include "maint/maint.h"
#include "store/store.h"
#include "util/hash.h"
#include "util/util.h"

#define MANIFEST "manifest.json"
#define MANIFEST_MAX (1u << 20)

struct blobs {
  struct cb_blob_ref *v;
  size_t n, cap;
  uint64_t bytes;
};

static int collect(const struct cb_blob_ref *b, void *ctx)
{
  struct blobs *l = ctx;
  if (cb_grow(&l->v, l->n, &l->cap, sizeof *l->v, 4096))
    return 1;
  l->v[l->n++] = *b;
  l->bytes += (uint64_t)b->size;
  return 0;
}

static uint64_t mono_s(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec;
}

/* Stores a buffer as a blob of s; sha gets its name. */
static cb_err put_buffer(struct store *s, const void *buf, size_t n, char sha[65], struct cb_errbuf *eb)
{
  struct store_put *p = NULL;
  uint64_t size;
  cb_err e = store_put_begin(s, 0, &p, eb);
  if (!e && (e = store_put_write(p, buf, n, eb)))
    store_put_abort(p);
  if (!e)
    e = store_put_commit(p, sha, &size, eb);
  return e;
}

cb_err maint_backup(const struct maint_backup_opts *o, struct cb_errbuf *eb)
{
  char live_url[CB_URL_MAX], prev_url[CB_URL_MAX] = "", dest_canon[CB_URL_MAX], live_canon[CB_URL_MAX];
  char snap[PATH_MAX] = "";
  struct cb_errbuf warn = {{0}};
  struct store *live = NULL, *prev = NULL, *dest = NULL;
  struct blobs list = {0};
  struct cb_buf text = {0}, manifest = {0};
  cb_err e = maint_store_resolve(o->explicit_url, o->default_url, live_url, sizeof live_url, &warn, eb);
  if (e)
    return e;
  if (warn.msg[0])
    fprintf(o->out, "carboy: %s\n", warn.msg);
  maint_url_canon(o->dest, dest_canon, sizeof dest_canon);
  maint_url_canon(live_url, live_canon, sizeof live_canon);
  if (!strcmp(dest_canon, live_canon)) {
    cb_errf(eb, "%s is the live store itself: back up to another folder or bucket", o->dest);
    return CB_EUSAGE;
  }
  if ((e = store_open(live_url, &live, eb)))
    goto out;
  if (!db_setting_get("store_previous_url", prev_url, sizeof prev_url, NULL) && prev_url[0]) {
    struct cb_errbuf peb = {{0}};
    if (store_open(prev_url, &prev, &peb)) /* only a fallback for blobs not yet migrated */
      fprintf(o->out, "carboy: backup: the previous store %s does not open (%s)\n", prev_url, peb.msg);
  }
  if ((e = store_open(o->dest, &dest, eb))) {
    if (e == CB_EINVAL)
      e = CB_EUSAGE;
    goto out;
  }
  /* 1. the snapshot, beside the database (the same disk, so room is likely) */
  snprintf(snap, sizeof snap, "%s/backup-XXXXXX", o->data_dir);
  int fd = mkstemp(snap);
  if (fd < 0) {
    cb_errf(eb, "cannot create a snapshot file in %s: %s", o->data_dir, strerror(errno));
    snap[0] = '\0';
    e = CB_EIO;
    goto out;
  }
  close(fd);
  unlink(snap); /* SQLite creates it */
  char when[CB_TIME_MAX];
  cb_time_now_rfc3339(when, sizeof when);
  if ((e = db_backup_to(snap, eb)))
    goto out;
  if ((e = db_file_blobs(snap, collect, &list, eb)))
    goto out;
  fprintf(o->out, "carboy: backup: database snapshot taken at %s; %zu blobs, %.1f MB\n", when, list.n,
          (double)list.bytes / 1e6);
  fflush(o->out);
  /* 2. every blob the snapshot knows, verified on its way in; what dest has is kept */
  uint64_t copied = 0, present = 0, copied_bytes = 0, last = mono_s();
  for (size_t i = 0; i < list.n; i++) {
    uint64_t have = 0;
    const char *sha = list.v[i].sha256;
    if (!store_head(dest, sha, &have) && have == (uint64_t)list.v[i].size) {
      present++;
    } else {
      uint64_t n = 0;
      e = store_copy_blob(live, dest, sha, &n, eb);
      if (e == CB_ENOTFOUND && prev) {
        eb->msg[0] = '\0';
        e = store_copy_blob(prev, dest, sha, &n, eb);
      }
      if (e) {
        char why[sizeof eb->msg];
        snprintf(why, sizeof why, "%s", eb->msg);
        cb_errf(eb, "blob %s: %s", sha, why[0] ? why : cb_strerror(e));
        goto out;
      }
      copied++;
      copied_bytes += n;
    }
    if (mono_s() - last >= 5 || i + 1 == list.n) {
      last = mono_s();
      fprintf(o->out, "carboy: backup: %zu/%zu blobs (%llu copied, %llu already there)\n", i + 1, list.n,
              (unsigned long long)copied, (unsigned long long)present);
      fflush(o->out);
    }
  }
  /* 3. the list of blobs and the snapshot, as blobs */
  for (size_t i = 0; i < list.n; i++)
    if ((e = cb_buf_printf(&text, "%s %lld\n", list.v[i].sha256, (long long)list.v[i].size)))
      goto out;
  char list_sha[65], db_sha[65];
  if ((e = put_buffer(dest, text.data ? text.data : "", text.len, list_sha, eb)))
    goto out;
  uint64_t db_size = 0;
  if ((e = store_put_file(dest, snap, db_sha, &db_size, eb)))
    goto out;
  unlink(snap); /* when it was copied rather than moved */
  snap[0] = '\0';
  /* 4. the manifest, last */
  cb_buf_printf(&manifest, "{\"format\":\"carboy-backup\",\"version\":1,\"carboy\":");
  cb_buf_json_string(&manifest, o->version);
  cb_buf_printf(&manifest, ",\"created_at\":\"%s\",\"source_store\":", when);
  cb_buf_json_string(&manifest, live_url);
  cb_buf_printf(&manifest,
                ",\"database\":{\"sha256\":\"%s\",\"size\":%llu},"
                "\"blobs\":{\"list\":\"%s\",\"list_size\":%zu,\"count\":%zu,\"bytes\":%llu}}\n",
                db_sha, (unsigned long long)db_size, list_sha, text.len, list.n, (unsigned long long)list.bytes);
  if (!manifest.data) {
    e = CB_ENOMEM;
    goto out;
  }
  char name[64], stamp[32];
  size_t k = 0;
  for (const char *p = when; *p && k < sizeof stamp - 1; p++) /* 2026-12-01T20:30:00.123Z -> 20261201t203000z */
    if ((*p >= '0' && *p <= '9') || *p == 'T' || *p == 'Z')
      stamp[k++] = (char)(*p >= 'A' ? *p - 'A' + 'a' : *p);
  stamp[k] = '\0';
  snprintf(name, sizeof name, "manifest-%s.json", stamp);
  if ((e = store_put_named(dest, name, manifest.data, manifest.len, eb)) ||
      (e = store_put_named(dest, MANIFEST, manifest.data, manifest.len, eb)))
    goto out;
  fprintf(o->out,
          "carboy: backup done: %s in %s: database %.1f MB (sha256 %.12s…), %zu blobs of %.1f MB (%llu copied, "
          "%.1f MB; %llu already there)\n",
          name, o->dest, (double)db_size / 1e6, db_sha, list.n, (double)list.bytes / 1e6, (unsigned long long)copied,
          (double)copied_bytes / 1e6, (unsigned long long)present);
out:
  if (snap[0])
    unlink(snap);
  free(list.v);
  cb_buf_free(&text);
  cb_buf_free(&manifest);
  store_close(dest);
  store_close(prev);
  store_close(live);
  return e;
}

/* ---- restore ---- */

static int to_buf(void *ctx, const void *buf, size_t n)
{
  return cb_buf_append(ctx, buf, n) != CB_OK;
}

static int hex64(const cJSON *x)
{
  return cJSON_IsString(x) && strlen(x->valuestring) == 64 && cb_is_hex(x->valuestring, 64);
}

cb_err maint_restore(const struct maint_restore_opts *o, struct cb_errbuf *eb)
{
  struct store *src = NULL, *dst = NULL;
  struct cb_buf mtext = {0}, ltext = {0};
  cJSON *m = NULL;
  char tmp[PATH_MAX] = "", src_canon[CB_URL_MAX], dst_canon[CB_URL_MAX];
  struct stat sb;
  cb_err e = CB_OK;
  if (!lstat(o->db_path, &sb)) {
    cb_errf(eb, "%s exists: restore into a data folder without a database", o->db_path);
    return CB_EUSAGE;
  }
  maint_url_canon(o->src, src_canon, sizeof src_canon);
  maint_url_canon(o->store_url, dst_canon, sizeof dst_canon);
  if (!strcmp(src_canon, dst_canon)) {
    cb_errf(eb, "the backup %s cannot be the restored server's store: give another --store", o->src);
    return CB_EUSAGE;
  }
  if ((e = store_open(o->src, &src, eb))) {
    e = e == CB_EINVAL ? CB_EUSAGE : e;
    goto out;
  }
  /* 1. the manifest */
  if ((e = store_get_named(src, o->manifest, &mtext, MANIFEST_MAX, eb))) {
    if (e == CB_ENOTFOUND || e == CB_EINVAL) {
      cb_errf(eb, "%s has no %s: not a finished carboy backup", o->src, o->manifest);
      e = CB_EUSAGE;
    }
    goto out;
  }
  m = cJSON_Parse(mtext.data);
  const cJSON *fmt = cJSON_GetObjectItemCaseSensitive(m, "format"),
              *ver = cJSON_GetObjectItemCaseSensitive(m, "version");
  const cJSON *db = cJSON_GetObjectItemCaseSensitive(m, "database"), *bl = cJSON_GetObjectItemCaseSensitive(m, "blobs");
  const cJSON *db_sha = cJSON_GetObjectItemCaseSensitive(db, "sha256"),
              *db_size = cJSON_GetObjectItemCaseSensitive(db, "size");
  const cJSON *l_sha = cJSON_GetObjectItemCaseSensitive(bl, "list"),
              *l_size = cJSON_GetObjectItemCaseSensitive(bl, "list_size");
  const cJSON *count = cJSON_GetObjectItemCaseSensitive(bl, "count");
  const cJSON *created = cJSON_GetObjectItemCaseSensitive(m, "created_at");
  if (!cJSON_IsString(fmt) || strcmp(fmt->valuestring, "carboy-backup") || !cJSON_IsNumber(ver) ||
      ver->valuedouble != 1 || !hex64(db_sha) || !cJSON_IsNumber(db_size) || !hex64(l_sha) || !cJSON_IsNumber(l_size) ||
      l_size->valuedouble < 0 || l_size->valuedouble > 1e10 || !cJSON_IsNumber(count)) {
    cb_errf(eb, "%s in %s is not a carboy backup manifest this version reads", o->manifest, o->src);
    e = CB_EUSAGE;
    goto out;
  }
  fprintf(o->out, "carboy: restore: backup of %s, %d blobs\n", cJSON_IsString(created) ? created->valuestring : "?",
          (int)count->valuedouble);
  /* 2. the database, hashed as it arrives */
  snprintf(tmp, sizeof tmp, "%s.restoring", o->db_path);
  struct store_file_sink fs = {.fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600),
                               .hash = cb_hash_new("sha256")};
  if (fs.fd < 0 || !fs.hash) {
    cb_errf(eb, "cannot create %s: %s", tmp, strerror(errno));
    if (fs.fd >= 0)
      close(fs.fd);
    cb_hash_free(fs.hash);
    tmp[0] = '\0';
    e = CB_EIO;
    goto out;
  }
  e = store_get_range(src, db_sha->valuestring, 0, (uint64_t)db_size->valuedouble, store_file_sink, &fs, eb);
  unsigned char raw[64];
  char got[65] = "";
  size_t hl = cb_hash_final(fs.hash, raw);
  cb_hash_free(fs.hash);
  for (size_t i = 0; i < hl && i < 32; i++)
    snprintf(got + 2 * i, 3, "%02x", raw[i]);
  if (!e && fs.err) {
    cb_errf(eb, "cannot write %s: %s", tmp, strerror(fs.err));
    e = CB_EIO;
  }
  if (!e && fsync(fs.fd)) {
    cb_errf(eb, "cannot write %s: %s", tmp, strerror(errno));
    e = CB_EIO;
  }
  close(fs.fd);
  if (!e && (fs.written != (uint64_t)db_size->valuedouble || strcmp(got, db_sha->valuestring))) {
    cb_errf(eb, "the database snapshot in %s is damaged (sha256 %s, the manifest says %s)", o->src, got,
            db_sha->valuestring);
    e = CB_ECHECKSUM;
  }
  if (e)
    goto out;
  /* 3. every blob the list names, into the restored server's store, verified */
  if ((e = store_get_range(src, l_sha->valuestring, 0, (uint64_t)l_size->valuedouble, to_buf, &ltext, eb)))
    goto out;
  char lsha[65];
  cb_sha256_hex(ltext.data ? ltext.data : "", ltext.len, lsha);
  if (strcmp(lsha, l_sha->valuestring)) {
    cb_errf(eb, "the blob list in %s is damaged", o->src);
    e = CB_ECHECKSUM;
    goto out;
  }
  if ((e = store_open(o->store_url, &dst, eb))) {
    e = e == CB_EINVAL ? CB_EUSAGE : e;
    goto out;
  }
  uint64_t n = 0, copied = 0, checked = 0, bad = 0, last = mono_s();
  for (char *line = ltext.data; line && *line;) {
    char *nl = strchr(line, '\n');
    if (nl)
      *nl = '\0';
    char sha[65];
    long long size = -1;
    if (sscanf(line, "%64s %lld", sha, &size) != 2 || strlen(sha) != 64 || !cb_is_hex(sha, 64) || size < 0) {
      cb_errf(eb, "the blob list in %s has a malformed line", o->src);
      e = CB_ECHECKSUM;
      goto out;
    }
    char have[65];
    uint64_t hs = 0;
    struct cb_errbuf beb = {{0}};
    cb_err be = store_hash_blob(dst, sha, have, &hs, &beb);
    if (!be && !strcmp(have, sha) && hs == (uint64_t)size) {
      checked++;
    } else {
      uint64_t cn = 0;
      be = store_copy_blob(src, dst, sha, &cn, &beb);
      if (!be && cn != (uint64_t)size)
        be = CB_ECHECKSUM;
      if (be) {
        fprintf(o->out, "carboy: restore: blob %s: %s\n", sha, beb.msg[0] ? beb.msg : cb_strerror(be));
        bad++;
      } else {
        copied++;
      }
    }
    n++;
    if (mono_s() - last >= 5) {
      last = mono_s();
      fprintf(o->out, "carboy: restore: %llu/%d blobs\n", (unsigned long long)n, (int)count->valuedouble);
      fflush(o->out);
    }
    line = nl ? nl + 1 : NULL;
  }
  if (n != (uint64_t)count->valuedouble) {
    cb_errf(eb, "the blob list in %s names %llu blobs, the manifest %d", o->src, (unsigned long long)n,
            (int)count->valuedouble);
    e = CB_ECHECKSUM;
    goto out;
  }
  if (bad) {
    cb_errf(eb, "%llu blobs could not be restored (listed above); nothing was put in %s", (unsigned long long)bad,
            o->db_path);
    e = CB_ECHECKSUM;
    goto out;
  }
  /* 4. the database in place, made the restored server's own */
  if (rename(tmp, o->db_path)) {
    cb_errf(eb, "cannot put the database in place: %s", strerror(errno));
    e = CB_EIO;
    goto out;
  }
  tmp[0] = '\0';
  if ((e = db_init(o->db_path, eb)))
    goto out;
  if ((e = db_restored(o->store_explicit ? o->store_url : NULL))) {
    cb_errf(eb, "cannot record the restored store: %s", cb_strerror(e));
    goto out;
  }
  fprintf(o->out, "carboy: restore done: %s, %llu blobs verified in %s (%llu copied, %llu already there)\n", o->db_path,
          (unsigned long long)n, o->store_url, (unsigned long long)copied, (unsigned long long)checked);
out:
  if (tmp[0])
    unlink(tmp);
  cJSON_Delete(m);
  cb_buf_free(&mtext);
  cb_buf_free(&ltext);
  store_close(dst);
  store_close(src);
  return e;
}
