/* Converter confinement (confine.h). confine_child runs between fork and exec in a
 * threaded process: system calls only (no malloc, no stdio, no locks); every string it
 * needs was made by confine_plan_init. */
#include "util/confine.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <sched.h>
#include <seccomp.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "util/log.h"
#include "util/util.h"

#ifndef MOUNT_ATTR_RDONLY
#define MOUNT_ATTR_RDONLY 0x00000001
#define MOUNT_ATTR_NOSUID 0x00000002
#define MOUNT_ATTR_NODEV 0x00000004
struct mount_attr {
  uint64_t attr_set, attr_clr, propagation, userns_fd;
};
#endif
#ifndef AT_RECURSIVE
#define AT_RECURSIVE 0x8000
#endif

static atomic_int probed = CONFINE_ALL;

int confine_plan_init(struct confine_plan *p, const char *data_dir, const char *work_dir, uint64_t memory, int cpu_s)
{
  memset(p, 0, sizeof *p);
  p->layers = confine_layers();
  p->as_root = geteuid() == 0;
  p->uid = getuid();
  p->gid = getgid();
  p->memory = memory;
  p->cpu_s = cpu_s;
  p->worker_uid = CONFINE_UID_BASE;
  if (snprintf(p->data_dir, sizeof p->data_dir, "%s", data_dir) >= (int)sizeof p->data_dir ||
      (work_dir ? snprintf(p->work_dir, sizeof p->work_dir, "%s", work_dir)
                : snprintf(p->work_dir, sizeof p->work_dir, "%s/work", data_dir)) >= (int)sizeof p->work_dir)
    return -1;
  snprintf(p->uid_map, sizeof p->uid_map, "%u %u 1\n", (unsigned)p->uid, (unsigned)p->uid);
  snprintf(p->gid_map, sizeof p->gid_map, "%u %u 1\n", (unsigned)p->gid, (unsigned)p->gid);
  return 0;
}

/* ---- in the child: system calls only ---- */

static int write_file(const char *path, const char *text)
{
  int fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0)
    return -1;
  size_t n = strlen(text);
  int ok = write(fd, text, n) == (ssize_t)n;
  close(fd);
  return ok ? 0 : -1;
}

/* mkdir -p of path (absolute), in a stack buffer. */
static int mkdirs(const char *path)
{
  char buf[4200];
  size_t n = strlen(path);
  if (n >= sizeof buf)
    return -1;
  memcpy(buf, path, n + 1);
  for (size_t i = 1; i <= n; i++) {
    if (buf[i] == '/' || buf[i] == '\0') {
      char c = buf[i];
      buf[i] = '\0';
      if (mkdir(buf, 0755) && errno != EEXIST)
        return -1;
      buf[i] = c;
    }
  }
  return 0;
}

/* Every filesystem read-only, /tmp private, the data folder empty but for the work
 * folder (bound back, writable). */
static int jail(const struct confine_plan *p)
{
  if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL))
    return -1;
  /* the work folder, held open in this namespace (a descriptor opened before unshare
   * belongs to the old one, which cannot be bound here) to bind back once hidden */
  int work = open(p->work_dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (work < 0)
    return -1;
  char fdpath[32] = "/proc/self/fd/";
  char digits[12];
  int nd = 0;
  for (int v = work; nd == 0 || v; v /= 10)
    digits[nd++] = (char)('0' + v % 10);
  size_t at = strlen(fdpath);
  while (nd)
    fdpath[at++] = digits[--nd];
  fdpath[at] = '\0';
  struct mount_attr ro = {.attr_set = MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV};
  if (syscall(SYS_mount_setattr, AT_FDCWD, "/", AT_RECURSIVE, &ro, sizeof ro))
    return -1;
  if (mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "size=256m,mode=1777"))
    return -1;
  if (mkdirs(p->data_dir)) /* the data folder may lie under /tmp: made again in the new one */
    return -1;
  if (mount("tmpfs", p->data_dir, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "size=64k,mode=0755"))
    return -1;
  if (mkdirs(p->work_dir))
    return -1;
  if (mount(fdpath, p->work_dir, NULL, MS_BIND, NULL))
    return -1;
  close(work);
  if (mount(NULL, p->work_dir, NULL, MS_REMOUNT | MS_BIND | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL))
    return -1;
  return 0;
}

int confine_child(const struct confine_plan *p)
{
  int failed = 0;
  umask(022); /* the server's own is 077: the folders made here must be walkable */
  /* a session and process group of its own: no controlling terminal (TIOCSTI cannot
   * type into the operator's), and the server ends it with every process it forked */
  setsid();
  int want = p->layers;
  int userns = !p->as_root && (want & (CONFINE_UID | CONFINE_MOUNTNS | CONFINE_NETNS | CONFINE_IPCNS));
  if (userns) {
    if (unshare(CLONE_NEWUSER) || write_file("/proc/self/setgroups", "deny") ||
        write_file("/proc/self/uid_map", p->uid_map) || write_file("/proc/self/gid_map", p->gid_map))
      failed |= CONFINE_UID | CONFINE_MOUNTNS | CONFINE_NETNS | CONFINE_IPCNS; /* no rights for the others */
  }
  if ((want & CONFINE_NETNS) && !(failed & CONFINE_NETNS) && unshare(CLONE_NEWNET))
    failed |= CONFINE_NETNS;
  if ((want & CONFINE_IPCNS) && !(failed & CONFINE_IPCNS) && unshare(CLONE_NEWIPC))
    failed |= CONFINE_IPCNS;
  /* its children go into a PID namespace of their own (confine_enter_pidns, after exec):
   * from there no process of the server's can be named, signalled or traced */
  if ((want & CONFINE_PIDNS) && unshare(CLONE_NEWPID))
    failed |= CONFINE_PIDNS;
  if ((want & CONFINE_MOUNTNS) && !(failed & CONFINE_MOUNTNS) && (unshare(CLONE_NEWNS) || jail(p)))
    failed |= CONFINE_MOUNTNS;
  if (want & CONFINE_LIMITS) {
    struct rlimit rl;
    if (p->memory) {
      rl.rlim_cur = rl.rlim_max = p->memory;
      setrlimit(RLIMIT_AS, &rl);
    }
    /* the soft CPU limit is renewed per request (pool_run); a hard limit could only be
     * raised with CAP_SYS_RESOURCE, so the wall-clock timeout is the backstop */
    rl.rlim_cur = (rlim_t)p->cpu_s;
    rl.rlim_max = RLIM_INFINITY;
    setrlimit(RLIMIT_CPU, &rl);
    rl.rlim_cur = rl.rlim_max = 8ull << 30;
    setrlimit(RLIMIT_FSIZE, &rl);
    rl.rlim_cur = rl.rlim_max = 0;
    setrlimit(RLIMIT_CORE, &rl);
    rl.rlim_cur = rl.rlim_max = 256;
    setrlimit(RLIMIT_NOFILE, &rl);
    rl.rlim_cur = rl.rlim_max = 512; /* the ingest's helper processes fit; a fork bomb does not */
    if (setrlimit(RLIMIT_NPROC, &rl))
      failed |= CONFINE_LIMITS;
  }
  if ((want & CONFINE_UID) && p->as_root && !(want & CONFINE_MOUNTNS)) {
    /* no mount namespace to show it its folder: it keeps a descriptor of the folder,
     * opened while it may, and reaches it through /proc/self/fd (worker.c), whatever
     * modes the folders above it have */
    int fd = open(p->work_dir, O_PATH | O_DIRECTORY);
    if (fd < 0 || (fd != CONFINE_WORK_FD && (dup2(fd, CONFINE_WORK_FD) < 0 || close(fd))))
      failed |= CONFINE_UID;
  }
  if ((want & CONFINE_UID) && p->as_root) {
    gid_t g = (gid_t)p->worker_uid;
    uid_t u = p->worker_uid;
    if (setgroups(1, &g) || setresgid(g, g, g) || setresuid(u, u, u))
      failed |= CONFINE_UID;
  }
  if ((want & CONFINE_NNP) && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0))
    failed |= CONFINE_NNP;
  return failed;
}

/* ---- the probe ---- */

void confine_describe(int layers, char *out, size_t cap)
{
  static const char *const names[] = {"cleared environment", "no_new_privs",    "seccomp filter",
                                      "network namespace",   "IPC namespace",   "mount namespace",
                                      "separate uid",        "resource limits", "PID namespace"};
  out[0] = '\0';
  size_t len = 0;
  for (int i = 0; i < (int)(sizeof names / sizeof names[0]); i++)
    if (layers & (1 << i)) {
      int n = snprintf(out + len, cap - len, "%s%s", len ? ", " : "", names[i]);
      if (n < 0 || (size_t)n >= cap - len)
        break;
      len += (size_t)n;
    }
}

int confine_layers(void)
{
  return atomic_load(&probed);
}

int confine_probe(const char *data_dir)
{
  struct confine_plan p;
  if (confine_plan_init(&p, data_dir, NULL, 0, 3600)) {
    atomic_store(&probed, CONFINE_ALL & ~CONFINE_MOUNTNS);
    return confine_layers();
  }
  p.layers = CONFINE_ALL;
  int missing = 0;
  pid_t pid = fork();
  if (pid == 0) {
    int failed = confine_child(&p);
    if (prctl(PR_GET_SECCOMP, 0, 0, 0, 0) < 0)
      failed |= CONFINE_SECCOMP;
    if (!(failed & CONFINE_PIDNS)) { /* a child there is that namespace's pid 1 */
      pid_t k = fork();
      if (k == 0)
        _exit(getpid() == 1 ? 0 : 1);
      int st = 0;
      if (k < 0 || waitpid(k, &st, 0) != k || !WIFEXITED(st) || WEXITSTATUS(st))
        failed |= CONFINE_PIDNS;
    }
    /* the environment is cleared at exec, never here: the other eight layers fit a status */
    _exit((failed >> 1) & 0xff);
  }
  int status = 0;
  if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
    missing = CONFINE_ALL & ~CONFINE_ENV;
  else
    missing = WEXITSTATUS(status) << 1;
  atomic_store(&probed, CONFINE_ALL & ~missing);
  if (missing) {
    char what[256];
    confine_describe(missing, what, sizeof what);
    CB_LOG(CB_LOG_WARN, "jobs",
           "converters run without: %s (the kernel or the container runtime does not allow it;"
           " the other layers hold)",
           what);
  }
  return confine_layers();
}

/* ---- seccomp, in the worker ---- */

int confine_seccomp(void)
{
  /* anything not named answers EPERM: a converter sees an error, not a kill */
  scmp_filter_ctx f = seccomp_init(SCMP_ACT_ERRNO(EPERM));
  if (!f)
    return -1;
  /* the allowed system calls, by kind */
  // clang-format off
  static const char *const allow[] = {
    "read", "write", "readv", "writev", "pread64", "pwrite64", "preadv", "pwritev", "preadv2", "pwritev2",
    "open", "openat", "openat2", "close", "close_range", "creat", "stat", "fstat", "lstat", "newfstatat", "statx",
    "statfs", "fstatfs", "lseek", "access", "faccessat", "faccessat2", "readlink", "readlinkat", "getdents64",
    "getcwd", "chdir", "fchdir", "mkdir", "mkdirat", "rmdir", "unlink", "unlinkat", "rename", "renameat",
    "renameat2", "link", "linkat", "symlink", "symlinkat", "chmod", "fchmod", "fchmodat", "ftruncate", "truncate",
    "fsync", "fdatasync", "sync_file_range", "fallocate", "fadvise64", "utimensat", "umask", "dup", "dup2", "dup3",
    "pipe", "pipe2", "fcntl", "flock", "ioctl", "poll", "ppoll", "select", "pselect6", "epoll_create1",
    "epoll_ctl", "epoll_wait", "epoll_pwait", "eventfd2", "mmap", "munmap", "mprotect", "mremap", "madvise",
    "brk", "msync", "mincore", "mlock", "munlock", "membarrier", "rt_sigaction", "rt_sigprocmask",
    "rt_sigreturn", "rt_sigsuspend", "rt_sigtimedwait", "sigaltstack", "kill", "tgkill", "tkill", "getpid",
    "getppid", "gettid", "getuid", "geteuid", "getgid", "getegid", "getgroups", "getresuid", "getresgid",
    "getpgrp", "getpgid", "getsid", "clock_gettime", "clock_getres", "clock_nanosleep", "nanosleep",
    "gettimeofday", "time", "times", "getrusage", "getrlimit", "prlimit64", "setrlimit", "sysinfo", "uname",
    "getrandom", "futex", "futex_waitv", "set_robust_list", "get_robust_list", "set_tid_address", "rseq",
    "sched_yield", "sched_getaffinity", "sched_setaffinity", "sched_getparam", "sched_getscheduler", "getcpu",
    "exit", "exit_group", "wait4", "waitid", "fork", "vfork", "prctl", "arch_prctl", "capget", "restart_syscall",
    "memfd_create", "copy_file_range", "sendfile", "splice", "tee", "shmget", "shmat", "shmdt", "shmctl",
    "timer_create", "timer_settime", "timer_gettime", "timer_delete", "timerfd_create", "timerfd_settime",
    "timerfd_gettime", "alarm", "setitimer", "getitimer", "pause", "personality",
#if CB_UNDER_ASAN
    "ptrace", /* LeakSanitizer stops the process's own threads with it */
#endif
  };
  // clang-format on
  int rc = 0;
  for (size_t i = 0; i < sizeof allow / sizeof allow[0] && !rc; i++) {
    int nr = seccomp_syscall_resolve_name(allow[i]);
    if (nr != __NR_SCMP_ERROR)
      rc = seccomp_rule_add(f, SCMP_ACT_ALLOW, nr, 0);
  }
  /* threads and the ingest's helper processes, but no new namespaces; clone3 cannot be
   * filtered by its flags, so it answers ENOSYS and glibc falls back to clone */
  const uint64_t ns = CLONE_NEWNS | CLONE_NEWUSER | CLONE_NEWNET | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS |
                      CLONE_NEWCGROUP;
  if (!rc)
    rc = seccomp_rule_add(f, SCMP_ACT_ALLOW, SCMP_SYS(clone), 1, SCMP_A0(SCMP_CMP_MASKED_EQ, ns, 0));
  if (!rc)
    rc = seccomp_rule_add(f, SCMP_ACT_ERRNO(ENOSYS), SCMP_SYS(clone3), 0);
  /* execve: none (a converter runs no program) */
  if (!rc)
    rc = seccomp_load(f);
  seccomp_release(f);
  return rc ? -1 : 0;
}

/* ---- the PID namespace, in the worker ---- */

/* Waits for pid, then ends as it ended. A namespace's init cannot end by a signal it
 * sends itself, so it ends with 128 + the signal, and the process above it (outside
 * the namespace) turns that back into the signal. */
static _Noreturn void end_as(pid_t pid, int init)
{
  int st = 0;
  while (waitpid(pid, &st, 0) < 0)
    if (errno != EINTR)
      _exit(125);
  int sig = WIFSIGNALED(st) ? WTERMSIG(st) : 0;
  if (!sig && !init && WEXITSTATUS(st) > 128 && WEXITSTATUS(st) < 128 + 65)
    sig = WEXITSTATUS(st) - 128;
  if (!sig)
    _exit(WEXITSTATUS(st));
  if (init)
    _exit(128 + sig);
  signal(sig, SIG_DFL);
  raise(sig);
  _exit(128 + sig);
}

int confine_enter_pidns(void)
{
  pid_t init = fork();
  if (init < 0)
    return -1;
  if (init > 0) {
    close(0), close(1); /* the protocol is the worker's alone: its end is the server's EOF */
    end_as(init, 0);
  }
  pid_t worker = fork();
  if (worker < 0)
    _exit(127);
  if (worker > 0) {
    close(0), close(1);
    end_as(worker, 1);
  }
  return 0;
}
