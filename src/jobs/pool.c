#include "jobs/pool.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util/confine.h"
#include "util/log.h"
#include "util/util.h"

#define MAX_LINE (64u << 20)

void pool_kill(struct pool_child *c)
{
  if (c->pid > 0) {
    kill(-c->pid, SIGKILL); /* its process group: whatever it forked goes with it */
    kill(c->pid, SIGKILL);
    waitpid(c->pid, NULL, 0);
  }
  if (c->to_child >= 0)
    close(c->to_child);
  if (c->from_child >= 0)
    close(c->from_child);
  free(c->buf);
  /* whose jobs it serves stays with the slot: pool_run clears a slot this way before it
   * starts the slot's first process, and an owner lost there made the next job of the
   * same owner kill that process and start another (Open Babel loaded again, tens of
   * milliseconds, for every job) */
  struct pool_child kept = {.slot = c->slot};
  memcpy(kept.owner, c->owner, sizeof kept.owner);
  *c = kept;
  c->to_child = c->from_child = -1;
}

/* What of the server's environment a converter gets: nothing secret (no admin password,
 * no cloud credentials), only what converters and the sanitizers read. */
/* The CPU seconds a request may use: its own budget (a training's threads each use the
 * clock), else the wall-clock limit and 5 s. */
static int cpu_budget(const struct pool_limits *lim)
{
  return lim->cpu_s > 0 ? lim->cpu_s : lim->timeout_s + 5;
}

static int env_passed(const char *kv)
{
  // clang-format off
  static const char *const keep[] = {
    "CARBOY_TEST_CONVERTERS=", "CARBOY_INGEST_PROCESSES=", "CARBOY_DEPICT_MAX_ATOMS=", /* carboy's own */
    "CARBOY_MATCHER_CACHE=",
    "CARBOY_CHEM_MAX_", "CARBOY_CHEM_IDENTIFY_MAX_ATOMS=", /* the cost bounds (convert/chem/bounds.c) */
    "UBSAN_OPTIONS=", "LSAN_OPTIONS=", "ASAN_SYMBOLIZER_PATH=",                        /* the sanitizers */
    "BABEL_DATADIR=", "BABEL_LIBDIR=",                                                 /* Open Babel */
    "LANG=", "LC_ALL=", "TZ=",
    NULL,
  };
  // clang-format on
  for (int i = 0; keep[i]; i++)
    if (!strncmp(kv, keep[i], strlen(keep[i])))
      return 1;
  return 0;
}

static cb_err spawn(struct pool_child *c, const struct pool_limits *lim)
{
  int in[2], out[2];
  struct confine_plan *plan = calloc(1, sizeof *plan);
  if (!plan ||
      confine_plan_init(plan, lim->data_dir, lim->work_dir, CB_UNDER_ASAN ? 0 : lim->memory, cpu_budget(lim))) {
    free(plan);
    return CB_ENOMEM;
  }
  plan->worker_uid = CONFINE_UID_BASE + (uid_t)c->slot;
  /* the binary by descriptor: the child's mount namespace may hide its path */
  int exe_fd = open(lim->exe, O_PATH | O_CLOEXEC);
  if (exe_fd < 0 || pipe2(in, O_CLOEXEC)) {
    if (exe_fd >= 0)
      close(exe_fd);
    free(plan);
    return CB_EIO;
  }
  if (pipe2(out, O_CLOEXEC)) {
    close(in[0]);
    close(in[1]);
    close(exe_fd);
    free(plan);
    return CB_EIO;
  }
  /* The child's environment is built here, before fork: after fork in a threaded
   * process only async-signal-safe calls are allowed (no malloc, so no setenv). */
  extern char **environ;
  size_t nenv = 0;
  while (environ[nenv])
    nenv++;
  char **envp = calloc(nenv + 8, sizeof *envp);
  if (!envp) {
    close(in[0]), close(in[1]), close(out[0]), close(out[1]);
    close(exe_fd);
    free(plan);
    return CB_ENOMEM;
  }
  size_t k = 0;
  char confine_env[48], workdir_env[4300], workfd_env[48] = "";
  snprintf(confine_env, sizeof confine_env, "CARBOY_CONFINE=%d", plan->layers);
  snprintf(workdir_env, sizeof workdir_env, "CARBOY_WORKDIR=%s", plan->work_dir);
  if ((plan->layers & CONFINE_UID) && plan->as_root && !(plan->layers & CONFINE_MOUNTNS))
    snprintf(workfd_env, sizeof workfd_env, "CARBOY_WORKFD=%d", CONFINE_WORK_FD);
  envp[k++] = (char *)"PATH=/usr/bin:/bin";
  envp[k++] = (char *)"HOME=/tmp";
  envp[k++] = (char *)"TMPDIR=/tmp";
  envp[k++] = confine_env;
  envp[k++] = workdir_env;
  if (workfd_env[0])
    envp[k++] = workfd_env;
  for (size_t i = 0; i < nenv; i++)
    if (env_passed(environ[i]))
      envp[k++] = environ[i];
  char rss_opt[512] = "";
  if (CB_UNDER_ASAN) {
    /* ASan reserves terabytes of address space, so RLIMIT_AS cannot bound it; its own
     * soft RSS limit does the same job (NULL from malloc, as RLIMIT_AS gives). A converter
     * that crashes on purpose should crash plainly, not in ASan's SEGV handler. */
    const char *prev = getenv("ASAN_OPTIONS");
    snprintf(rss_opt, sizeof rss_opt,
             "ASAN_OPTIONS=%s%ssoft_rss_limit_mb=%llu:allocator_may_return_null=1:handle_segv=0", prev ? prev : "",
             prev ? ":" : "", (unsigned long long)(lim->memory >> 20));
    envp[k++] = rss_opt;
  }
  pid_t pid = fork();
  if (pid < 0) {
    free(envp);
    close(in[0]), close(in[1]), close(out[0]), close(out[1]);
    close(exe_fd);
    free(plan);
    return CB_EIO;
  }
  if (pid == 0) {
    /* child: only async-signal-safe calls until exec */
    dup2(in[0], 0);
    dup2(out[1], 1);
    if (confine_child(plan)) /* a layer the probe found here failed: never run half confined */
      _exit(126);
    char *argv[] = {(char *)"carboy", (char *)"worker", NULL};
    syscall(SYS_execveat, exe_fd, "", argv, envp, AT_EMPTY_PATH);
    _exit(127);
  }
  free(envp);
  close(exe_fd);
  free(plan);
  close(in[0]);
  close(out[1]);
  c->pid = pid;
  c->to_child = in[1];
  c->from_child = out[0];
  c->len = 0;
  return CB_OK;
}

/* Why the child is gone, in words. */
static void describe_exit(struct pool_child *c, const struct pool_limits *lim, struct cb_errbuf *eb)
{
  int status = 0;
  pid_t r = waitpid(c->pid, &status, 0);
  c->pid = 0;
  if (r <= 0)
    cb_errf(eb, "the converter process vanished");
  else if (WIFSIGNALED(status) && WTERMSIG(status) == SIGXCPU)
    cb_errf(eb, "the converter used more than %d s of CPU time and was stopped", cpu_budget(lim));
  else if (WIFSIGNALED(status))
    cb_errf(eb, "the converter crashed (signal %d: %s)", WTERMSIG(status), strsignal(WTERMSIG(status)));
  else if (WIFEXITED(status) && WEXITSTATUS(status) == 127)
    cb_errf(eb, "the converter process could not be started");
  else if (WIFEXITED(status) && WEXITSTATUS(status) == 126)
    cb_errf(eb, "the converter process could not be confined (see /readyz)");
  else
    cb_errf(eb, "the converter exited unexpectedly (code %d)%s", WIFEXITED(status) ? WEXITSTATUS(status) : -1,
            CB_UNDER_ASAN ? " (memory limit?)" : "");
}

/* CPU seconds (user + system, rounded up) process pid has used, or -1. */
static long cpu_seconds(pid_t pid)
{
  char path[64], buf[1024];
  snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
  FILE *f = fopen(path, "r");
  if (!f)
    return -1;
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  buf[n] = '\0';
  const char *p = strrchr(buf, ')'); /* the command name may hold spaces */
  unsigned long utime, stime;
  if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &utime, &stime) != 2)
    return -1;
  long hz = sysconf(_SC_CLK_TCK);
  return hz > 0 ? (long)((utime + stime + (unsigned long)hz - 1) / (unsigned long)hz) : -1;
}

cb_err pool_run(struct pool_child *c, const struct pool_limits *lim, cJSON *req, pool_tick_fn tick, void *ctx,
                cJSON **result, struct cb_errbuf *eb)
{
  *result = NULL;
  /* A child that ended between requests (it does after running out of memory) is
   * simply replaced. */
  if (c->pid > 0 && waitpid(c->pid, NULL, WNOHANG) == c->pid) {
    c->pid = 0;
    pool_kill(c);
  }
  if (c->pid <= 0) {
    pool_kill(c);
    if (spawn(c, lim)) {
      cb_errf(eb, "cannot start a converter process: %s", strerror(errno));
      return CB_ETHROTTLED; /* the machine's trouble, not the input's: try again later */
    }
  }
  /* RLIMIT_CPU counts the process's whole life, and a converter serves job after job:
   * each request gets its own budget, from what the process has used so far. Set from
   * here when this process may (same uid, or CAP_SYS_RESOURCE); a converter running as
   * another uid raises its own soft limit by "cpu_s" (worker.c), the wall clock being the
   * backstop either way. */
  long cpu_used = cpu_seconds(c->pid);
  if (cpu_used >= 0) {
    struct rlimit rl = {(rlim_t)cpu_used + (rlim_t)cpu_budget(lim), RLIM_INFINITY};
    if (prlimit(c->pid, RLIMIT_CPU, &rl, NULL) && errno != EPERM)
      CB_LOG(CB_LOG_WARN, "jobs", "cannot renew the converter's CPU limit: %s", strerror(errno));
  }
  cJSON_DeleteItemFromObjectCaseSensitive(req, "cpu_s");
  cJSON_AddNumberToObject(req, "cpu_s", cpu_budget(lim));
  char *line = cJSON_PrintUnformatted(req);
  int bad = !line || cb_write_all(c->to_child, line, strlen(line)) || cb_write_all(c->to_child, "\n", 1);
  cJSON_free(line);
  if (bad) {
    describe_exit(c, lim, eb);
    pool_kill(c);
    return CB_EIO;
  }
  uint64_t deadline = cb_mono_ns() + (uint64_t)lim->timeout_s * 1000000000ull;
  for (;;) {
    /* whole lines already buffered */
    char *nl;
    while (c->buf && (nl = memchr(c->buf, '\n', c->len))) {
      *nl = '\0';
      cJSON *msg = cJSON_Parse(c->buf);
      size_t used = (size_t)(nl - c->buf) + 1;
      memmove(c->buf, nl + 1, c->len - used);
      c->len -= used;
      if (!msg)
        continue;
      cJSON *prog = cJSON_GetObjectItemCaseSensitive(msg, "progress");
      cJSON *ok = cJSON_GetObjectItemCaseSensitive(msg, "ok");
      if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(msg, "exit"))) {
        /* the child ends after this answer: reap it now so the next request starts a new one */
        waitpid(c->pid, NULL, 0);
        c->pid = 0;
        pool_kill(c);
      }
      if (cJSON_IsNumber(prog)) {
        int stop = tick(ctx, prog->valuedouble);
        cJSON_Delete(msg);
        if (stop) {
          pool_kill(c);
          cb_errf(eb, "stopped");
          return CB_EABORTED;
        }
        continue;
      }
      if (cJSON_IsTrue(ok)) {
        *result = cJSON_DetachItemFromObjectCaseSensitive(msg, "result");
        cJSON_Delete(msg);
        if (!*result)
          *result = cJSON_CreateObject();
        return CB_OK;
      }
      cJSON *e = cJSON_GetObjectItemCaseSensitive(msg, "error");
      cb_errf(eb, "%s", cJSON_IsString(e) ? e->valuestring : "the converter failed");
      cJSON_Delete(msg);
      return CB_EINVAL;
    }
    uint64_t now = cb_mono_ns();
    if (now >= deadline) {
      pool_kill(c);
      cb_errf(eb, "the converter did not finish within %d s and was stopped", lim->timeout_s);
      return CB_EIO;
    }
    struct pollfd pfd = {c->from_child, POLLIN, 0};
    uint64_t left_ms = (deadline - now) / 1000000ull;
    int rc = poll(&pfd, 1, left_ms < 1000 ? (int)left_ms + 1 : 1000);
    if (rc < 0 && errno == EINTR)
      continue;
    if (rc == 0) {
      if (tick(ctx, -1.0)) {
        pool_kill(c);
        cb_errf(eb, "stopped");
        return CB_EABORTED;
      }
      continue;
    }
    if (c->len + 65536 > c->cap) {
      size_t cap = c->cap ? c->cap * 2 : 131072;
      if (cap > MAX_LINE) {
        pool_kill(c);
        cb_errf(eb, "the converter's answer is too large");
        return CB_EIO;
      }
      char *nb = realloc(c->buf, cap);
      if (!nb) {
        pool_kill(c);
        return CB_ENOMEM;
      }
      c->buf = nb;
      c->cap = cap;
    }
    ssize_t n = read(c->from_child, c->buf + c->len, c->cap - c->len - 1);
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0) {
      describe_exit(c, lim, eb);
      pool_kill(c);
      return CB_EIO;
    }
    c->len += (size_t)n;
  }
}
