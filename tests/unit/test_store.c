/* The file store through the store_* wrappers: streaming put, dedup, ranges, abort,
 * adoption of a local file, the orphan sweep's removal, and fault injection. */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "store/store.h"
#include "test.h"
#include "util/hash.h"
#include "util/util.h"

struct collect {
  struct cb_buf b;
};

static int collect(void *ctx, const void *buf, size_t n)
{
  return cb_buf_append(&((struct collect *)ctx)->b, buf, n) != CB_OK;
}

static int count_tmp(const char *root)
{
  char p[512];
  snprintf(p, sizeof p, "%s/.tmp", root);
  DIR *d = opendir(p);
  int n = 0;
  struct dirent *de;
  while (d && (de = readdir(d)))
    if (de->d_name[0] != '.')
      n++;
  if (d)
    closedir(d);
  return n;
}

struct age {
  const char *sha;
  int64_t mtime_ms;
};

static int find_age(void *ctx, const char *sha, uint64_t size, int64_t mtime_ms)
{
  struct age *a = ctx;
  (void)size;
  if (!strcmp(sha, a->sha))
    a->mtime_ms = mtime_ms;
  return 0;
}

/* Sets the time of the blob (or any file) at path to `ago` seconds in the past. */
static void age_file(const char *path, int ago)
{
  struct timespec ts[2];
  clock_gettime(CLOCK_REALTIME, &ts[0]);
  ts[0].tv_sec -= ago;
  ts[1] = ts[0];
  utimensat(AT_FDCWD, path, ts, 0);
}

static int count_blobs(void *ctx, const char *sha, uint64_t size, int64_t mtime_ms)
{
  (void)sha, (void)size, (void)mtime_ms;
  (*(int *)ctx)++;
  return 0;
}

int main(void)
{
  char root[] = "/tmp/carboy-store-test-XXXXXX";
  CHECK(mkdtemp(root) != NULL);
  char url[600];
  snprintf(url, sizeof url, "file://%s", root);
  struct store *s = NULL;
  struct cb_errbuf eb = {{0}};
  CHECK(store_open(url, &s, &eb) == CB_OK);
  CHECK(store_open("ftp://nowhere", &(struct store *){NULL}, &eb) == CB_EINVAL);

  /* streamed in pieces, hashed while written */
  const char *msg = "The quick brown fox jumps over the lazy dog";
  struct store_put *p;
  char sha[65], want[CB_SHA256_HEX];
  uint64_t size;
  cb_sha256_hex(msg, strlen(msg), want);
  CHECK(store_put_begin(s, 0, &p, &eb) == CB_OK);
  CHECK(store_put_write(p, msg, 10, &eb) == CB_OK);
  CHECK(store_put_write(p, msg + 10, strlen(msg) - 10, &eb) == CB_OK);
  CHECK(store_put_commit(p, sha, &size, &eb) == CB_OK);
  CHECK(!strcmp(sha, want) && size == strlen(msg));
  CHECK(count_tmp(root) == 0);

  /* identical content is stored once */
  CHECK(store_put_begin(s, 0, &p, &eb) == CB_OK);
  CHECK(store_put_write(p, msg, strlen(msg), &eb) == CB_OK);
  CHECK(store_put_commit(p, sha, &size, &eb) == CB_OK);
  int nblobs = 0;
  store_list(s, count_blobs, &nblobs);
  CHECK(nblobs == 1);

  /* the sweep's removal: an old blob goes; one committed again (a put of the same bytes
   * touches it) is young and stays */
  char bpath[600];
  CHECK(store_local_path(s, sha, bpath, sizeof bpath) == CB_OK);
  age_file(bpath, 7200);
  struct age a = {sha, 0};
  store_list(s, find_age, &a);
  CHECK(a.mtime_ms > 0 && a.mtime_ms < cb_time_now_ms() - 7000 * 1000);
  CHECK(store_put_begin(s, 0, &p, &eb) == CB_OK);
  CHECK(store_put_write(p, msg, strlen(msg), &eb) == CB_OK);
  CHECK(store_put_commit(p, sha, &size, &eb) == CB_OK);
  a.mtime_ms = 0;
  store_list(s, find_age, &a);
  CHECK(a.mtime_ms > cb_time_now_ms() - 60 * 1000);
  CHECK(store_remove_stale(s, sha, cb_time_now_ms() - 3600 * 1000) == CB_ECONFLICT);
  CHECK(store_head(s, sha, NULL) == CB_OK);
  age_file(bpath, 7200);
  CHECK(store_remove_stale(s, sha, cb_time_now_ms() - 3600 * 1000) == CB_OK);
  CHECK(store_head(s, sha, NULL) == CB_ENOTFOUND);
  CHECK(store_remove_stale(s, sha, cb_time_now_ms()) == CB_ENOTFOUND);
  CHECK(count_tmp(root) == 0);
  CHECK(store_put_begin(s, 0, &p, &eb) == CB_OK); /* stored again */
  CHECK(store_put_write(p, msg, strlen(msg), &eb) == CB_OK);
  CHECK(store_put_commit(p, sha, &size, &eb) == CB_OK);

  /* temporary files: young ones stay, old ones go */
  char t1[600], t2[600];
  snprintf(t1, sizeof t1, "%s/.tmp/put-old", root);
  snprintf(t2, sizeof t2, "%s/.tmp/put-new", root);
  fclose(fopen(t1, "w"));
  fclose(fopen(t2, "w"));
  age_file(t1, 600);
  int cleaned = 0;
  CHECK(store_clean_tmp(s, cb_time_now_ms() - 300 * 1000, &cleaned) == CB_OK && cleaned == 1);
  CHECK(access(t1, F_OK) != 0 && access(t2, F_OK) == 0);
  unlink(t2);

  /* ranges */
  struct collect c = {{0}};
  CHECK(store_get_range(s, sha, 4, 5, collect, &c, &eb) == CB_OK);
  CHECK(c.b.len == 5 && !memcmp(c.b.data, "quick", 5));
  cb_buf_free(&c.b);
  uint64_t hsize = 0;
  CHECK(store_head(s, sha, &hsize) == CB_OK && hsize == strlen(msg));
  CHECK(store_head(s, "../../../../etc/passwd", &hsize) == CB_EINVAL);
  CHECK(store_head(s, "0000000000000000000000000000000000000000000000000000000000000000", &hsize) == CB_ENOTFOUND);

  /* an aborted put leaves nothing behind */
  CHECK(store_put_begin(s, 0, &p, &eb) == CB_OK);
  CHECK(store_put_write(p, "partial", 7, &eb) == CB_OK);
  store_put_abort(p);
  CHECK(count_tmp(root) == 0);
  nblobs = 0;
  store_list(s, count_blobs, &nblobs);
  CHECK(nblobs == 1);

  /* the size bound */
  CHECK(store_put_begin(s, 8, &p, &eb) == CB_OK);
  CHECK(store_put_write(p, "12345", 5, &eb) == CB_OK);
  CHECK(store_put_write(p, "67890", 5, &eb) == CB_ETOOBIG);
  store_put_abort(p);

  /* adopting a local file */
  char local[600];
  snprintf(local, sizeof local, "%s/local.part", root);
  FILE *f = fopen(local, "w");
  fputs("adopt me", f);
  fclose(f);
  CHECK(store_put_file(s, local, sha, &size, &eb) == CB_OK);
  CHECK(size == 8 && access(local, F_OK) != 0);
  cb_sha256_hex("adopt me", 8, want);
  CHECK(!strcmp(sha, want));

  /* fault injection: a write error after 4 bytes */
  setenv("CARBOY_STORE_FAULT", "write:enospc:4", 1);
  store_fault_from_env();
  CHECK(store_put_begin(s, 0, &p, &eb) == CB_OK);
  CHECK(store_put_write(p, "1234", 4, &eb) == CB_OK);
  CHECK(store_put_write(p, "5", 1, &eb) == CB_ENOSPC);
  store_put_abort(p);
  CHECK(count_tmp(root) == 0);

  /* a short write at 6 bytes, then ENOSPC; once (COUNT 1), then writes pass again */
  setenv("CARBOY_STORE_FAULT", "short:enospc:6:1", 1);
  store_fault_from_env();
  CHECK(store_put_begin(s, 0, &p, &eb) == CB_OK);
  CHECK(store_put_write(p, "1234", 4, &eb) == CB_OK);
  CHECK(store_put_write(p, "5678", 4, &eb) == CB_ENOSPC);
  CHECK(count_tmp(root) == 1);
  store_put_abort(p);
  CHECK(count_tmp(root) == 0);
  CHECK(store_put_begin(s, 0, &p, &eb) == CB_OK);
  CHECK(store_put_write(p, "12345678", 8, &eb) == CB_OK);
  CHECK(store_put_commit(p, sha, &size, &eb) == CB_OK && size == 8);
  cb_sha256_hex("12345678", 8, want);
  CHECK(!strcmp(sha, want));

  /* the blob's fsync fails with EIO after one that passes, twice */
  setenv("CARBOY_STORE_FAULT", "fsync:eio:1:2", 1);
  store_fault_from_env();
  const char *bodies[] = {"fsync-a", "fsync-b", "fsync-c", "fsync-d"};
  cb_err expect[] = {CB_OK, CB_EIO, CB_EIO, CB_OK};
  for (int i = 0; i < 4; i++) {
    CHECK(store_put_begin(s, 0, &p, &eb) == CB_OK);
    CHECK(store_put_write(p, bodies[i], 7, &eb) == CB_OK);
    CHECK(store_put_commit(p, sha, &size, &eb) == expect[i]);
    cb_sha256_hex(bodies[i], 7, want);
    CHECK((store_head(s, want, NULL) == CB_OK) == (expect[i] == CB_OK));
  }
  unsetenv("CARBOY_STORE_FAULT");
  store_fault_from_env();
  CHECK(count_tmp(root) == 0);

  store_close(s);
  char cmd[700];
  snprintf(cmd, sizeof cmd, "chmod -R u+w '%s' && rm -rf '%s'", root, root);
  CHECK(system(cmd) == 0);
  TEST_MAIN_END();
}
