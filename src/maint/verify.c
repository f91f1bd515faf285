/* carboy verify [--repair] [--from URL]: reads back every blob the database knows from
 * the live store and re-hashes it against its sha256 and recorded size; reports each
 * missing or corrupt blob on a line, then blobs in the store that nothing references
 * (orphans, kept), then a summary. With --repair, a bad blob is copied again from a
 * second store (--from, or the store the last migration moved away from), the copy
 * hashed on its way in and read back before it counts as repaired. Only reads the
 * database, so it runs beside a server. */
#include <stdlib.h>
#include <string.h>

#include "db/db.h"
#include "maint/maint.h"
#include "util/log.h"
#include "util/util.h"

struct vctx {
  FILE *out;
  struct store *cur, *from;
  const char *from_url;
  int64_t checked, bytes, missing, corrupt, repaired, orphans, orphan_bytes;
  char last[65];
  int page;
};

static cb_err check_copy(struct store *s, const struct cb_blob_ref *b, char got[65], uint64_t *size,
                         struct cb_errbuf *eb)
{
  cb_err e = store_hash_blob(s, b->sha256, got, size, eb);
  if (e)
    return e;
  return strcmp(got, b->sha256) || (int64_t)*size != b->size ? CB_ECHECKSUM : CB_OK;
}

static void repair(struct vctx *v, const struct cb_blob_ref *b, int corrupt)
{
  struct cb_errbuf eb = {{0}};
  char got[65] = "";
  uint64_t size = 0;
  if (corrupt) /* the store keeps what is under a name: the damaged copy goes first */
    store_remove(v->cur, b->sha256);
  cb_err e = store_copy_blob(v->from, v->cur, b->sha256, NULL, &eb);
  if (!e)
    e = check_copy(v->cur, b, got, &size, &eb);
  if (e) {
    fprintf(v->out, "carboy: verify: cannot repair %s from %s: %s\n", b->sha256, v->from_url,
            eb.msg[0]           ? eb.msg
            : e == CB_ECHECKSUM ? "the copy does not read back intact"
                                : cb_strerror(e));
    return;
  }
  v->repaired++;
  fprintf(v->out, "carboy: verify: repaired %s from %s\n", b->sha256, v->from_url);
}

static int check_blob(const struct cb_blob_ref *b, void *ctx)
{
  struct vctx *v = ctx;
  struct cb_errbuf eb = {{0}};
  char got[65] = "";
  uint64_t size = 0;
  snprintf(v->last, sizeof v->last, "%s", b->sha256);
  v->page++;
  v->checked++;
  v->bytes += b->size;
  cb_err e = check_copy(v->cur, b, got, &size, &eb);
  if (!e)
    return 0;
  if (e == CB_ENOTFOUND) {
    v->missing++;
    fprintf(v->out, "carboy: verify: missing %s (%lld bytes)\n", b->sha256, (long long)b->size);
  } else if (e == CB_ECHECKSUM) {
    v->corrupt++;
    fprintf(v->out, "carboy: verify: corrupt %s: reads back as %s, %llu bytes (recorded: %lld)\n", b->sha256, got,
            (unsigned long long)size, (long long)b->size);
  } else {
    v->corrupt++;
    fprintf(v->out, "carboy: verify: unreadable %s: %s\n", b->sha256, eb.msg[0] ? eb.msg : cb_strerror(e));
  }
  if (v->from)
    repair(v, b, e != CB_ENOTFOUND);
  fflush(v->out);
  return 0;
}

static int check_orphan(void *ctx, const char *sha256, uint64_t size, int64_t mtime_ms)
{
  (void)mtime_ms;
  struct vctx *v = ctx;
  if (db_blob_known(sha256))
    return 0;
  v->orphans++;
  v->orphan_bytes += (int64_t)size;
  fprintf(v->out, "carboy: verify: orphan %s (%llu bytes): in the store, referenced by nothing (kept)\n", sha256,
          (unsigned long long)size);
  return 0;
}

cb_err maint_verify(const struct maint_verify_opts *o, int64_t *bad, struct cb_errbuf *eb)
{
  struct vctx v = {.out = o->out};
  char url[CB_URL_MAX], from[CB_URL_MAX] = "";
  struct cb_errbuf warn = {{0}};
  int64_t dangling = 0;
  *bad = 0;
  cb_err e = maint_store_resolve(o->explicit_url, o->default_url, url, sizeof url, &warn, eb);
  if (e)
    return e == CB_EINVAL ? CB_EUSAGE : e;
  if (warn.msg[0])
    fprintf(o->out, "carboy: verify: warning: %s\n", warn.msg);
  if (o->repair) {
    if (o->from)
      maint_url_canon(o->from, from, sizeof from);
    else
      db_setting_get("store_previous_url", from, sizeof from, NULL);
    if (!from[0]) {
      cb_errf(eb, "verify --repair needs a second store to repair from: give --from URL (no migration "
                  "recorded a previous store)");
      return CB_EUSAGE;
    }
    char canon[CB_URL_MAX];
    maint_url_canon(from, canon, sizeof canon);
    if (!strcmp(canon, url)) {
      cb_errf(eb, "--from %s is the live store itself: repair needs another copy", from);
      return CB_EUSAGE;
    }
  }
  if ((e = store_open(url, &v.cur, eb))) {
    char why[sizeof eb->msg];
    snprintf(why, sizeof why, "%s", eb->msg);
    cb_errf(eb, "cannot open the live store %s: %s", url, why);
    goto out;
  }
  if (from[0]) {
    if ((e = store_open(from, &v.from, eb))) {
      char why[sizeof eb->msg];
      snprintf(why, sizeof why, "%s", eb->msg);
      cb_errf(eb, "cannot open the store to repair from, %s: %s", from, why);
      e = e == CB_EINVAL ? CB_EUSAGE : e;
      goto out;
    }
    v.from_url = from;
  }
  fprintf(o->out, "carboy: verify: re-hashing every blob in %s%s%s\n", url, v.from ? ", repairing from " : "",
          v.from ? from : "");
  fflush(o->out);
  do { /* pages by sha256, so no read transaction stays open for the whole store */
    v.page = 0;
    char after[65];
    snprintf(after, sizeof after, "%s", v.last);
    if ((e = db_blobs_page(after, 500, check_blob, &v))) {
      cb_errf(eb, "cannot list the database's blobs: %s", cb_strerror(e));
      goto out;
    }
  } while (v.page == 500);
  if ((e = store_list(v.cur, check_orphan, &v))) {
    cb_errf(eb, "cannot list the blobs of %s: %s", url, cb_strerror(e));
    goto out;
  }
  if (!db_blob_dangling(&dangling) && dangling)
    fprintf(o->out, "carboy: verify: %lld references to blobs the database does not list\n", (long long)dangling);
  *bad = v.missing + v.corrupt - v.repaired + dangling;
  fprintf(o->out,
          "carboy: verify: %lld blobs checked in %s (%.1f MiB): %lld missing, %lld corrupt, %lld "
          "orphans (%.1f MiB, kept)",
          (long long)v.checked, url, (double)v.bytes / 1048576.0, (long long)v.missing, (long long)v.corrupt,
          (long long)v.orphans, (double)v.orphan_bytes / 1048576.0);
  if (v.from)
    fprintf(o->out, "; %lld repaired from %s", (long long)v.repaired, from);
  fputc('\n', o->out);
  fflush(o->out);
out:
  store_close(v.cur);
  store_close(v.from);
  return e;
}
