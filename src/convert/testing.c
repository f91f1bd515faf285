/* Converters that misbehave on purpose, to prove the sandbox: they claim files named
 * *.crash-test, *.hang-test, *.oom-test, *.fail-test, *.slow-test, *.spin-test and
 * *.escape-test, and only when the worker runs with CARBOY_TEST_CONVERTERS=1 (see
 * registry.c). */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "convert/converter.h"

#define TEST_CONVERTER(id, suffix, fn)                                                            \
  static const char *const id##_suffixes[] = {suffix, NULL};                                      \
  static int id##_sniff(const unsigned char *h, size_t l, const struct cb_convert_input *in)      \
  {                                                                                               \
    (void)h, (void)l;                                                                             \
    return suffix_is(in->name, id##_suffixes) ? 100 : 0;                                          \
  }                                                                                               \
  static const struct converter_desc id##_desc = {#id, "other", id##_suffixes, id##_sniff, NULL}; \
  static const struct converter_ops id##_ops = {fn, NULL, NULL, NULL};                            \
  const struct converter conv_##id = {&id##_desc, &id##_ops};

static cb_err crash(const struct cb_convert_input *in, cJSON *r, cb_progress_fn p, void *c, struct cb_errbuf *eb)
{
  (void)in, (void)r, (void)p, (void)c, (void)eb;
  raise(SIGSEGV);
  return CB_EINVAL;
}

static cb_err hang(const struct cb_convert_input *in, cJSON *r, cb_progress_fn p, void *c, struct cb_errbuf *eb)
{
  (void)in, (void)r, (void)p, (void)c, (void)eb;
  for (;;)
    sleep(1);
  return CB_EINVAL;
}

static cb_err oom(const struct cb_convert_input *in, cJSON *r, cb_progress_fn p, void *c, struct cb_errbuf *eb)
{
  (void)in, (void)r, (void)p, (void)c;
  void **chain = NULL; /* every block keeps the previous one, so all can be freed */
  for (size_t total = 0;; total += 16u << 20) {
    void **block = malloc(16u << 20);
    if (!block) {
      cb_errf(eb, "out of memory after %zu MiB", total >> 20);
      while (chain) {
        void **prev = *chain;
        free(chain);
        chain = prev;
      }
      return CB_ENOMEM;
    }
    memset(block, 1, 16u << 20); /* touch it: resident, not just reserved */
    *block = chain;
    chain = block;
  }
}

static cb_err fail(const struct cb_convert_input *in, cJSON *r, cb_progress_fn p, void *c, struct cb_errbuf *eb)
{
  (void)in, (void)r, (void)p, (void)c;
  cb_errf(eb, "this file is malformed on purpose");
  return CB_EINVAL;
}

/* The milliseconds a slow or spin test file asks for: its content, a number up to 600000
 * (3000 when it says none). */
static long file_ms(const char *path)
{
  long ms = 3000;
  FILE *f = fopen(path, "r");
  if (f) {
    if (fscanf(f, "%ld", &ms) != 1 || ms < 0 || ms > 600000)
      ms = 3000;
    fclose(f);
  }
  return ms;
}

/* Takes as many milliseconds as the file's content says (default 3000), reporting
 * progress ten times. */
static cb_err slow(const struct cb_convert_input *in, cJSON *r, cb_progress_fn p, void *c, struct cb_errbuf *eb)
{
  (void)eb;
  long ms = file_ms(in->path);
  for (int i = 1; i <= 10; i++) {
    struct timespec ts = {ms / 10 / 1000, (ms / 10 % 1000) * 1000000L};
    nanosleep(&ts, NULL);
    p(c, i / 10.0);
  }
  result_prop_num(r, "slept_ms", (double)ms, "ms", NULL);
  return CB_OK;
}

/* Burns as many milliseconds of CPU time as the file's content says (default 3000). */
static cb_err spin(const struct cb_convert_input *in, cJSON *r, cb_progress_fn p, void *c, struct cb_errbuf *eb)
{
  (void)eb, (void)p, (void)c;
  long ms = file_ms(in->path);
  struct timespec t0, t;
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t0);
  volatile unsigned long x = 0;
  do {
    for (int i = 0; i < 100000; i++)
      x += (unsigned long)i;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
  } while ((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000 < ms);
  result_prop_num(r, "spun_ms", (double)ms, "ms", NULL);
  return CB_OK;
}

/* Tries what a parser exploit would: the file says "data=DATA_FOLDER", "port=PORT" and
 * "pid=PID" (the server's; without it, the parent process). Fails with a report of each attempt, "NAME: refused (why)"
 * or "NAME: ESCAPED": write db, read db (the database), connect (the server's port on loopback), environ (the server's
 * /proc/PID/environ), write data / write blobs / write etc (files outside its work folder), signal and ptrace (the
 * server), exec (/bin/sh), fork bomb (how many it got). */
static void tried(struct cb_errbuf *eb, const char *what, int ok, int err)
{
  size_t len = strlen(eb->msg);
  snprintf(eb->msg + len, sizeof eb->msg - len, "%s%s: %s%s%s", len ? "; " : "", what, ok ? "ESCAPED" : "refused (",
           ok ? "" : strerror(err), ok ? "" : ")");
}

static cb_err escape(const struct cb_convert_input *in, cJSON *r, cb_progress_fn p, void *c, struct cb_errbuf *eb)
{
  (void)r, (void)p, (void)c;
  char data[1024] = "", line[1100];
  int port = 0;
  pid_t server = getppid();
  FILE *f = fopen(in->path, "r");
  while (f && fgets(line, sizeof line, f)) {
    line[strcspn(line, "\n")] = '\0';
    if (!strncmp(line, "data=", 5))
      snprintf(data, sizeof data, "%s", line + 5);
    else if (!strncmp(line, "port=", 5))
      port = atoi(line + 5);
    else if (!strncmp(line, "pid=", 4))
      server = (pid_t)atoi(line + 4);
  }
  if (f)
    fclose(f);
  eb->msg[0] = '\0';
  char path[1200];
  /* the database, for writing and for reading */
  snprintf(path, sizeof path, "%s/carboy.db", data);
  int fd = open(path, O_RDWR);
  tried(eb, "write db", fd >= 0, errno);
  if (fd >= 0)
    close(fd);
  fd = open(path, O_RDONLY);
  tried(eb, "read db", fd >= 0, errno);
  if (fd >= 0)
    close(fd);
  /* the network: the server's own port on loopback */
  int s = socket(AF_INET, SOCK_STREAM, 0);
  int ok = 0, err = errno;
  if (s >= 0) {
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ok = connect(s, (struct sockaddr *)&sa, sizeof sa) == 0;
    err = errno;
    close(s);
  }
  tried(eb, "connect", ok, err);
  /* another process's environment: the server's */
  snprintf(path, sizeof path, "/proc/%d/environ", (int)server);
  fd = open(path, O_RDONLY);
  err = errno;
  ok = 0;
  if (fd >= 0) {
    char buf[256];
    ok = read(fd, buf, sizeof buf) > 0;
    err = errno;
    close(fd);
  }
  tried(eb, "environ", ok, err);
  /* writing outside its work folder: the data folder, the blobs, /etc */
  const char *outside[] = {"/escaped.txt", "/blobs/escaped.txt", NULL};
  for (int i = 0; i < 3; i++) {
    if (outside[i])
      snprintf(path, sizeof path, "%s%s", data, outside[i]);
    else
      snprintf(path, sizeof path, "/etc/carboy-escaped.txt");
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    err = errno;
    tried(eb, i == 0 ? "write data" : i == 1 ? "write blobs" : "write etc", fd >= 0, err);
    if (fd >= 0) {
      close(fd);
      unlink(path);
    }
  }
  /* signal the server */
  ok = kill(server, 0) == 0;
  tried(eb, "signal", ok, errno);
  /* ptrace the server; run a program */
  ok = ptrace(PTRACE_ATTACH, server, NULL, NULL) == 0;
  tried(eb, "ptrace", ok, errno);
  if (ok)
    ptrace(PTRACE_DETACH, server, NULL, NULL);
  pid_t sh = fork();
  if (sh == 0) {
    char *argv[] = {(char *)"/bin/sh", (char *)"-c", (char *)"exit 42", NULL};
    execv("/bin/sh", argv);
    _exit(errno == EPERM ? 3 : 4);
  }
  int st = 0;
  if (sh > 0)
    waitpid(sh, &st, 0);
  tried(eb, "exec", sh > 0 && WIFEXITED(st) && WEXITSTATUS(st) == 42, EPERM);
  /* fork without bound (stops at 4096 here whatever happens) */
  static pid_t kids[4096];
  int nk = 0;
  err = 0;
  for (; nk < 4096; nk++) {
    pid_t k = fork();
    if (k == 0) {
      pause();
      _exit(0);
    }
    if (k < 0) {
      err = errno;
      break;
    }
    kids[nk] = k;
  }
  for (int i = 0; i < nk; i++)
    kill(kids[i], SIGKILL);
  for (int i = 0; i < nk; i++)
    waitpid(kids[i], NULL, 0);
  char what[96];
  snprintf(what, sizeof what, "fork bomb (%d)", nk);
  tried(eb, what, nk >= 4096, err);
  return CB_EINVAL;
}

TEST_CONVERTER(test_crash, ".crash-test", crash)
TEST_CONVERTER(test_escape, ".escape-test", escape)
TEST_CONVERTER(test_hang, ".hang-test", hang)
TEST_CONVERTER(test_oom, ".oom-test", oom)
TEST_CONVERTER(test_fail, ".fail-test", fail)
TEST_CONVERTER(test_slow, ".slow-test", slow)
TEST_CONVERTER(test_spin, ".spin-test", spin)
