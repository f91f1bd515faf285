/* store_tool URL COMMAND...: the store ops table from the command line, for the
 * integration tests that run it against a real S3 server (tests/integration/test_s3.py):
 *   put PATH            -> "SHA SIZE" (streams the file through store_put_*)
 *   head SHA            -> "SIZE", or exit 3 when absent
 *   get SHA OFF LEN     -> the bytes on standard output
 *   list                -> "SHA SIZE" per blob
 *   remove SHA          -> exit 3 when absent
 *   check               -> store_check (readiness)
 *   fetch SHA DIR       -> store_fetch_local's path
 * Exit 0 ok, 1 failure (the reason on standard error), 2 the store did not open with
 * CB_EINVAL, 3 not found. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/store.h"
#include "util/util.h"

static int out_sink(void *ctx, const void *buf, size_t n)
{
  (void)ctx;
  return fwrite(buf, 1, n, stdout) != n;
}

static int print_blob(void *ctx, const char *sha, uint64_t size, int64_t mtime_ms)
{
  (void)mtime_ms;
  (*(long *)ctx)++;
  printf("%s %llu\n", sha, (unsigned long long)size);
  return 0;
}

int main(int argc, char **argv)
{
  if (argc < 3) {
    fprintf(stderr, "usage: store_tool URL put|head|get|list|remove|check|fetch ...\n");
    return 2;
  }
  struct cb_errbuf eb = {{0}};
  struct store *s = NULL;
  cb_err e = store_open(argv[1], &s, &eb);
  if (e) {
    fprintf(stderr, "store_tool: %s\n", eb.msg[0] ? eb.msg : cb_strerror(e));
    return e == CB_EINVAL ? 2 : 1;
  }
  const char *cmd = argv[2];
  int rc = 0;
  if (!strcmp(cmd, "put") && argc == 4) {
    struct store_put *p = NULL;
    char *buf = malloc(1 << 20), sha[65];
    uint64_t size = 0;
    int fd = open(argv[3], O_RDONLY);
    ssize_t n = 0;
    e = fd < 0 || !buf ? CB_EIO : store_put_begin(s, 0, &p, &eb);
    while (!e && (n = read(fd, buf, 1 << 20)) > 0)
      e = store_put_write(p, buf, (size_t)n, &eb);
    if (!e && n < 0)
      e = CB_EIO;
    if (!e)
      e = store_put_commit(p, sha, &size, &eb);
    else
      store_put_abort(p);
    if (!e)
      printf("%s %llu\n", sha, (unsigned long long)size);
    if (fd >= 0)
      close(fd);
    free(buf);
  } else if (!strcmp(cmd, "head") && argc == 4) {
    uint64_t size = 0;
    e = store_head(s, argv[3], &size);
    if (!e)
      printf("%llu\n", (unsigned long long)size);
  } else if (!strcmp(cmd, "get") && argc == 6) {
    e = store_get_range(s, argv[3], strtoull(argv[4], NULL, 10), strtoull(argv[5], NULL, 10), out_sink, NULL, &eb);
  } else if (!strcmp(cmd, "list") && argc == 3) {
    long count = 0;
    e = store_list(s, print_blob, &count);
  } else if (!strcmp(cmd, "remove") && argc == 4) {
    e = store_remove(s, argv[3]);
  } else if (!strcmp(cmd, "check") && argc == 3) {
    e = store_check(s, &eb);
  } else if (!strcmp(cmd, "fetch") && argc == 5) {
    char path[4096];
    e = store_fetch_local(s, argv[3], argv[4], path, sizeof path, NULL, NULL, &eb);
    if (!e)
      printf("%s\n", path);
  } else {
    fprintf(stderr, "store_tool: unknown command or wrong arguments\n");
    rc = 2;
  }
  if (e) {
    fprintf(stderr, "store_tool: %s: %s\n", cmd, eb.msg[0] ? eb.msg : cb_strerror(e));
    rc = e == CB_ENOTFOUND ? 3 : 1;
  }
  fflush(stdout);
  store_close(s);
  return rc;
}
