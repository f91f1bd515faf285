/* Confinement of converter processes, in layers (docs/SECURITY.md):
 *   env       a cleared environment (no secret of the server's reaches a converter);
 *   nnp       no_new_privs;
 *   seccomp   a seccomp filter (libseccomp) allowing what converters need: no sockets,
 *             no ptrace, no mounts, no namespaces, no kernel keyrings, modules or bpf;
 *   netns     a network namespace of its own (no interface but a loopback that is down);
 *   ipcns     an IPC namespace of its own;
 *   pidns     a PID namespace of its own: it sees (and signals) no process but its own;
 *             the worker runs there under a small init of its own (worker.c);
 *   mountns   a mount namespace where every filesystem is read-only, /tmp is a private
 *             tmpfs and the data folder is an empty tmpfs but for the work folder: no
 *             database, no blob, no upload, only the job's own folder with its input;
 *   uid       started as root: an unprivileged uid/gid of its own (CONFINE_UID_BASE + the
 *             job worker's number); otherwise a user namespace that maps the server's uid;
 *   limits    processes, open files, memory, CPU time, file size, no core dumps.
 * The server probes at start which layers the kernel (or a container runtime) allows and
 * starts anyway without the others, with one warning naming them; /readyz reports them. */
#ifndef CB_CONFINE_H
#define CB_CONFINE_H
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

enum {
  CONFINE_ENV = 1 << 0,
  CONFINE_NNP = 1 << 1,
  CONFINE_SECCOMP = 1 << 2,
  CONFINE_NETNS = 1 << 3,
  CONFINE_IPCNS = 1 << 4,
  CONFINE_MOUNTNS = 1 << 5,
  CONFINE_UID = 1 << 6,
  CONFINE_LIMITS = 1 << 7,
  CONFINE_PIDNS = 1 << 8,
  CONFINE_ALL = (1 << 9) - 1,
};

/* Started as root, the converters of job worker N run as uid and gid CONFINE_UID_BASE + N:
 * one uid per worker, so none can reach another's work folder, with or without a mount
 * namespace. */
#define CONFINE_UID_BASE 60600
/* Without a mount namespace, the descriptor through which a converter of another uid
 * reaches its work folder (as /proc/self/fd/250/...); CARBOY_WORKFD says so. */
#define CONFINE_WORK_FD 250

/* What the child needs, prepared by the parent (the child may only make system calls). */
struct confine_plan {
  int layers;  /* the layers to set up (a probe's result) */
  int as_root; /* euid 0: drop to CONFINE_WORKER_UID; else a user namespace */
  uid_t uid;   /* the server's uid and gid (the user namespace maps them) */
  gid_t gid;
  uid_t worker_uid; /* as root: the uid (and gid) to run as */
  char data_dir[4096];
  char work_dir[4200]; /* the folder it sees: data_dir/work/wN, its worker's own */
  char uid_map[64], gid_map[64];
  uint64_t memory; /* RLIMIT_AS (0: none) */
  int cpu_s;       /* RLIMIT_CPU soft */
};

/* Fills plan for data_dir and the work folder it may see (NULL: data_dir/work); layers
 * = what the probe found. */
int confine_plan_init(struct confine_plan *plan, const char *data_dir, const char *work_dir, uint64_t memory,
                      int cpu_s);
/* In the child after fork, before exec: sets up plan->layers (but seccomp, which the
 * worker installs itself once it runs). Returns the layers it could not set up. */
int confine_child(const struct confine_plan *plan);
/* Once at start: a throwaway child tries every layer; returns those that work here and
 * logs one warning naming the others. */
int confine_probe(const char *data_dir);
/* The layers the probe found (for /readyz); what is missing, in words (cap >= 128). */
int confine_layers(void);
void confine_describe(int layers, char *out, size_t cap);
/* In the worker, once it runs: installs the seccomp filter. 0, or -1. */
int confine_seccomp(void);
/* In the worker, when its children are in a PID namespace of their own (CONFINE_PIDNS):
 * forks that namespace's init, which forks the process that returns (the worker proper,
 * never pid 1, whose default signal actions a namespace's init lacks). The two above it
 * wait for it and end as it ended (a signal too), so the server sees the worker's own
 * exit. Returns 0 in the worker proper, -1 when no fork was possible. */
int confine_enter_pidns(void);

#endif
