/* carboy: CLI dispatch and wiring. The only file that sees every module. */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

#include "auth/auth.h"
#include "config/settings.h"
#include "db/db.h"
#include "convert/converter.h"
#include "http/server.h"
#include "jobs/jobs.h"
#include "maint/backup.h"
#include "maint/import.h"
#include "maint/maint.h"
#include "search/matchers.h"
#include "search/structures.h"
#include "store/store.h"
#include "util/log.h"
#include "util/util.h"

#ifndef CARBOY_VERSION
#define CARBOY_VERSION "0.0.0"
#endif

static const char usage_text[] =
  "usage: carboy COMMAND [OPTIONS]\n"
  "\n"
  "commands:\n"
  "  serve [--data DIR] [--listen HOST:PORT] [--store URL] [--workers N]\n"
  "                       run the server (defaults: ./carboy-data, 127.0.0.1:8080,\n"
  "                       a file store in DATA/blobs; or --store file:///abs/path, or\n"
  "                       s3://BUCKET[/PREFIX]?endpoint=URL&region=R&path_style=1)\n"
  "  user add NAME [--admin] [--data DIR]\n"
  "                       create a user; the password is read from standard input\n"
  "  user passwd NAME [--data DIR]\n"
  "                       set a user's password (a lost admin password too), read from\n"
  "                       standard input; ends their sessions\n"
  "  user disable|enable NAME, user delete NAME [--transfer-to NAME], user list\n"
  "                       account control: a disabled account's sessions and tokens stop;\n"
  "                       a deleted one's folders and files go to --transfer-to\n"
  "  jobs [list [STATE]|retry ID|cancel ID] [--data DIR]\n"
  "                       inspect and steer background jobs\n"
  "  import PATH... --user NAME [--folder /a/b] [--data DIR] [--store URL]\n"
  "                       deposit local files and folder trees (skips what is there by\n"
  "                       sha256; every file is ingested)\n"
  "  migrate --to URL [--batch N] [--data DIR] [--store URL]\n"
  "                       copy every blob to another store (verified, resumable), then\n"
  "                       make it the live store; a running server follows\n"
  "  verify [--repair] [--from URL] [--data DIR] [--store URL]\n"
  "                       re-hash every blob against its sha256; --repair copies bad ones\n"
  "                       again from --from or the store a migration moved away from\n"
  "  backup DEST [--data DIR] [--store URL]\n"
  "                       a consistent online snapshot of the database and every blob it\n"
  "                       knows, to a folder or s3://BUCKET/PREFIX (incremental)\n"
  "  restore SRC --data DIR [--store URL] [--manifest NAME]\n"
  "                       a backup into an empty data folder, every blob verified\n"
  "  routes               print the HTTP route table\n"
  "  --version            print the version\n"
  "  help [settings [--markdown]]\n"
  "                       print this text; with settings, what each setting does (as\n"
  "                       Markdown: the table of docs/CONFIGURATION.md)\n";

static void print_usage(FILE *out)
{
  fputs(usage_text, out);
  fputc('\n', out);
  cb_settings_print_names(out);
}

/* The settings (src/config/settings.c) and what main makes of them: the data folder as an
 * absolute path (in s.data) and the store to open. */
struct config {
  struct cb_settings s;
  char store[PATH_MAX + 16];
  int store_explicit;                /* --store or CARBOY_STORE was given */
  char store_default[PATH_MAX + 16]; /* file://DATA/blobs */
};

static int fail(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int fail(int code, const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  fputs("carboy: ", stderr);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
  return code;
}

/* The store --store or CARBOY_STORE named, or NULL (the maintenance commands then take the
 * one the database records, else the default). */
static const char *explicit_store(const struct config *c)
{
  return c->store_explicit ? c->store : NULL;
}

/* The end of a maintenance command: the database closed, and e said with the command's
 * name (exit 2 for a usage error, 1 for any other). */
static int end_maint(const char *name, cb_err e, const struct cb_errbuf *eb)
{
  db_shutdown();
  if (e)
    return fail(e == CB_EUSAGE ? 2 : 1, "%s: %s", name, eb->msg);
  return 0;
}

static int mkdir_p(const char *path, mode_t mode)
{
  char buf[PATH_MAX];
  if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf)
    return -1;
  for (char *p = buf + 1; *p; p++) {
    if (*p == '/') {
      *p = '\0';
      if (mkdir(buf, mode) && errno != EEXIST)
        return -1;
      *p = '/';
    }
  }
  return mkdir(buf, mode) && errno != EEXIST ? -1 : 0;
}

/* After the table's pass (cb_settings_check): the logger, the S3 settings (the S3 store
 * reads and checks them itself; carboy serve checks them at start whatever the store),
 * the data folder (created, made absolute) and the store URL. */
static int finish_config(struct config *c)
{
  cb_log_set_json(c->s.log_json);
  cb_log_level = c->s.log_level;
  struct cb_errbuf eb = {{0}};
  if (c->s.cmd == CB_CMD_SERVE && store_s3_check_settings(&eb))
    return fail(2, "%s", eb.msg);
  if (mkdir_p(c->s.data, 0700))
    return fail(1, "cannot create data folder %s: %s", c->s.data, strerror(errno));
  char abs[PATH_MAX];
  if (!realpath(c->s.data, abs))
    return fail(1, "cannot resolve data folder %s: %s", c->s.data, strerror(errno));
  snprintf(c->s.data, sizeof c->s.data, "%s", abs);
  snprintf(c->store_default, sizeof c->store_default, "file://%s/blobs", c->s.data);
  c->store_explicit = c->s.store != NULL;
  snprintf(c->store, sizeof c->store, "%s", c->s.store ? c->s.store : c->store_default);
  return 0;
}

/* Reads the flags in argv that command cmd (CB_CMD_*) takes over the environment over the
 * defaults. 0, or the exit code after one line on standard error. */
static int load_config(int argc, char **argv, struct config *c, unsigned cmd)
{
  if (cb_settings_load(cmd, argc, argv, &c->s))
    return 2;
  return finish_config(c);
}

static int open_db(const struct config *c)
{
  char path[PATH_MAX + 16];
  struct cb_errbuf eb = {{0}};
  snprintf(path, sizeof path, "%s/carboy.db", c->s.data);
  if (db_init(path, &eb))
    return fail(1, "%s", eb.msg[0] ? eb.msg : "cannot open the database");
  if (auth_init())
    return fail(1, "cannot initialise libsodium");
  return 0;
}

/* In-flight request accounting lives in the HTTP layer; main only waits for a signal. */
static int cmd_serve(int argc, char **argv)
{
  struct config c;
  int rc = load_config(argc, argv, &c, CB_CMD_SERVE);
  if (rc)
    return rc;
  struct cb_errbuf eb = {{0}};
  /* The configured store first: a wrong store URL or setting stops the start with one
   * line, before the database is touched. */
  struct store *store = NULL;
  cb_err se = store_open(c.store, &store, &eb);
  if (se) /* a wrong URL or setting is a usage error; a store that fails is not */
    return fail(se == CB_EINVAL ? 2 : 1, "cannot open store: %s", eb.msg[0] ? eb.msg : cb_strerror(se));
  if ((rc = open_db(&c))) {
    store_close(store);
    return rc;
  }
  int created = 0;
  char generated[64];
  if (auth_ensure_admin(getenv("CARBOY_ADMIN_PASSWORD"), &created, generated, sizeof generated, &eb)) {
    store_close(store);
    return fail(1, "cannot create the admin user: %s", eb.msg);
  }
  if (created && generated[0])
    printf("carboy: created user 'admin' with password %s\n"
           "carboy: (shown once; set CARBOY_ADMIN_PASSWORD before the first start to choose it)\n",
           generated);
  else if (created)
    printf("carboy: created user 'admin' with the password from CARBOY_ADMIN_PASSWORD\n");
  /* Flushed before the server answers /healthz: a script that waits for health and then
   * reads the log for the password must find it. */
  fflush(stdout);
  /* The live store: where the database says its blobs are (carboy migrate may have moved
   * them), as a tier that follows a migration while the server runs (src/maint/live.c). */
  struct store *configured = store;
  se = maint_live_open(explicit_store(&c), c.store_default, configured, &store, &eb);
  if (se)
    return fail(se == CB_EINVAL ? 2 : 1, "%s", eb.msg);
  store_tier_current_url(store, c.store, sizeof c.store);
  char uploads[PATH_MAX + 16];
  snprintf(uploads, sizeof uploads, "%s/uploads", c.s.data);
  if (mkdir_p(uploads, 0700))
    return fail(1, "cannot create %s: %s", uploads, strerror(errno));

  /* Signals are taken by sigwait() in this thread only. */
  sigset_t set;
  sigemptyset(&set);
  /* what the server creates is its own: converters run as other uids (confine.h) */
  umask(077);
  if (!geteuid()) {
    static const char *const own[] = {"carboy.db", "carboy.db-wal", "carboy.db-shm"};
    for (int i = 0; i < 3; i++) {
      char path[PATH_MAX + 32];
      snprintf(path, sizeof path, "%s/%s", c.s.data, own[i]);
      if (chmod(path, 0600) && errno != ENOENT)
        CB_LOG(CB_LOG_WARN, "main", "cannot make %s private: %s", path, strerror(errno));
    }
  }
  /* not dumpable: a process of the same uid (a converter where no other uid or user
   * namespace could be had) can neither ptrace this one nor read its /proc environ */
  prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  pthread_sigmask(SIG_BLOCK, &set, NULL);
  signal(SIGPIPE, SIG_IGN);

  struct cb_server_config sc = {0};
  snprintf(sc.listen, sizeof sc.listen, "%s", c.s.listen);
  snprintf(sc.data_dir, sizeof sc.data_dir, "%s", c.s.data);
  sc.max_upload = c.s.max_upload;
  sc.predict_max = c.s.predict_max;
  sc.train_timeout_s = c.s.train_timeout;
  sc.trash_days = c.s.trash_days;
  sc.threads = c.s.http_threads;
  sc.shutdown_grace_s = c.s.grace;
  sc.per_client = c.s.per_client;
  sc.header_timeout_s = c.s.header_timeout;
  sc.body_min_rate = (int)c.s.body_min_rate;
  sc.send_min_rate = (int)c.s.send_min_rate;
  snprintf(sc.trusted_proxies, sizeof sc.trusted_proxies, "%s", c.s.trusted_proxies);
  snprintf(sc.cors_origins, sizeof sc.cors_origins, "%s", c.s.cors_origins);
  snprintf(sc.metrics_token, sizeof sc.metrics_token, "%s", c.s.metrics_token);
  snprintf(sc.webhook_allow, sizeof sc.webhook_allow, "%s", c.s.webhook_allow);
  sc.webhook_queue = c.s.webhook_queue;
  sc.webhook_disable_after = c.s.webhook_disable_after;
  struct cb_jobs_config jc = {0};
  jc.workers = c.s.workers;
  jc.interactive_workers = c.s.interactive_workers;
  jc.ingest_batch = c.s.ingest_batch;
  jc.ingest_batch_max_size = c.s.ingest_batch_max_size;
  db_jobs_set_interactive_ingest_max((int64_t)c.s.interactive_ingest_max);
  jc.timeout_s = c.s.job_timeout;
  jc.worker_memory = c.s.worker_memory;
  jc.train_timeout_s = c.s.train_timeout;
  jc.train_memory = c.s.train_memory;
  jc.train_threads = c.s.train_threads;
  jc.max_upload = c.s.max_upload;
  snprintf(jc.data_dir, sizeof jc.data_dir, "%s", c.s.data);
  ssize_t n = readlink("/proc/self/exe", jc.self_exe, sizeof jc.self_exe - 1);
  if (n <= 0)
    return fail(1, "cannot find this program's own path (/proc/self/exe)");
  jc.self_exe[n] = '\0';
  /* The orphan sweep (src/maint/sweep.c). With no grace it runs once, here, before jobs
   * or requests can store anything; otherwise in its own thread, now and periodically. */
  if (!c.s.orphan_grace) {
    struct maint_sweep_stats ss;
    struct cb_errbuf seb = {{0}};
    maint_sweep(store, c.s.data, 0, c.s.trash_days, &ss, &seb);
  }
  if (jobs_start(&jc, store, &eb)) {
    store_close(store);
    db_shutdown();
    return fail(1, "%s", eb.msg);
  }
  struct matchers_config mc = {c.s.matchers, jc.self_exe, c.s.data, c.s.worker_memory};
  if (matchers_start(&mc, &eb) || structures_start(&eb)) {
    jobs_stop();
    store_close(store);
    db_shutdown();
    return fail(1, "%s", eb.msg);
  }
  if (http_server_start(&sc, store, &eb)) {
    structures_stop();
    matchers_stop();
    jobs_stop();
    store_close(store);
    db_shutdown();
    return fail(1, "%s", eb.msg);
  }
  if (maint_watch_start(store, c.store_default))
    CB_LOG(CB_LOG_WARN, "main", "cannot start the store watcher: a migration is followed after a restart");
  if (c.s.orphan_grace && maint_sweep_start(store, c.s.data, c.s.orphan_grace, c.s.trash_days))
    CB_LOG(CB_LOG_WARN, "main", "cannot start the orphan sweep: orphaned blobs stay until a restart");
  CB_LOG(CB_LOG_INFO, "main",
         "carboy %s listening on http://%s (port %d), data %s, store %s, "
         "%d batch and %d interactive workers",
         CARBOY_VERSION, c.s.listen, http_server_port(), c.s.data, c.store, c.s.workers, c.s.interactive_workers);
  printf("carboy: listening on http://%s\n", c.s.listen);
  fflush(stdout);

  int sig = 0;
  sigwait(&set, &sig);
  CB_LOG(CB_LOG_INFO, "main", "%s received: finishing in-flight requests (up to %d s)",
         sig == SIGTERM ? "SIGTERM" : "SIGINT", c.s.grace);
  http_server_stop();
  structures_stop();
  matchers_stop();
  jobs_stop();
  maint_sweep_stop();
  maint_watch_stop();
  events_shutdown();
  store_close(store);
  db_shutdown();
  CB_LOG(CB_LOG_INFO, "main", "stopped cleanly");
  return 0;
}

/* One line from standard input; on a terminal, a prompt and no echo. */
static int read_password(const char *prompt, char *out, size_t cap)
{
  struct termios saved, quiet;
  int tty = isatty(STDIN_FILENO) && tcgetattr(STDIN_FILENO, &saved) == 0;
  if (tty) {
    fprintf(stderr, "%s", prompt);
    quiet = saved;
    quiet.c_lflag &= ~(tcflag_t)ECHO;
    tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
  }
  char *got = fgets(out, (int)cap, stdin);
  if (tty) {
    tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved);
    fputc('\n', stderr);
  }
  if (!got)
    return -1;
  out[strcspn(out, "\r\n")] = '\0';
  return 0;
}

static int print_user(const struct cb_user *u, void *ctx)
{
  (void)ctx;
  printf("%-24s  %-32s  %-5s  %-8s  %s\n", u->id, u->username, u->is_admin ? "admin" : "-",
         u->disabled ? "disabled" : "active", u->created_at);
  return 0;
}

/* carboy user add|passwd|disable|enable|delete|list: on the database directly, with or
 * without a server running (SQLite arbitrates; a running server sees the change at its
 * next request). passwd is how a lost password (the admin's too) is reset. */
static int cmd_user(int argc, char **argv)
{
  static const char usage[] = "usage: carboy user add NAME [--admin] | passwd NAME | disable NAME | enable NAME |"
                              " delete NAME [--transfer-to NAME] | list   [--data DIR]";
  const char *sub = argc > 0 ? argv[0] : "";
  int list = !strcmp(sub, "list");
  if (!list && (argc < 2 || argv[1][0] == '-' ||
                (strcmp(sub, "add") && strcmp(sub, "passwd") && strcmp(sub, "disable") && strcmp(sub, "enable") &&
                 strcmp(sub, "delete"))))
    return fail(2, "%s", usage);
  const char *name = list ? NULL : argv[1];
  const char *heir = NULL;
  int admin = 0;
  char *rest[8];
  int nrest = 0;
  for (int i = list ? 1 : 2; i < argc; i++) {
    if (!strcmp(sub, "add") && !strcmp(argv[i], "--admin"))
      admin = 1;
    else if (!strcmp(sub, "delete") && !strcmp(argv[i], "--transfer-to") && i + 1 < argc)
      heir = argv[++i];
    else if (nrest < 6)
      rest[nrest++] = argv[i];
    else
      return fail(2, "too many arguments");
  }
  struct config c;
  int rc = load_config(nrest, rest, &c, CB_CMD_USER);
  if (rc || (rc = open_db(&c)))
    return rc;
  struct cb_errbuf eb = {{0}};
  struct cb_user u, h;
  cb_err e = CB_OK;
  if (list) {
    e = db_user_list(NULL, 1000000, print_user, NULL);
    db_shutdown();
    return e ? fail(1, "cannot list users: %s", cb_strerror(e)) : 0;
  }
  if (strcmp(sub, "add") && strcmp(sub, "passwd") && db_user_get_by_name(name, &u)) {
    db_shutdown();
    return fail(2, "no user '%s'", name);
  }
  if (!strcmp(sub, "disable") || !strcmp(sub, "enable")) {
    struct cb_account_change ch;
    e = auth_account_set(u.id, !strcmp(sub, "disable"), -1, NULL, &ch, &eb);
    db_shutdown();
    if (e)
      return fail(e == CB_ECONFLICT ? 2 : 1, "%s", eb.msg);
    printf("carboy: '%s' %sd%s\n", name, sub, ch.sessions_ended ? "; its sessions ended" : "");
    return 0;
  }
  if (!strcmp(sub, "delete")) {
    if (heir && db_user_get_by_name(heir, &h)) {
      db_shutdown();
      return fail(2, "no user '%s' to take over", heir);
    }
    e = auth_account_delete(u.id, heir ? h.id : NULL, &eb);
    db_shutdown();
    if (e)
      return fail(e == CB_ECONFLICT || e == CB_EINVAL ? 2 : 1, "%s", eb.msg);
    printf("carboy: deleted '%s'%s%s\n", name, heir ? "; what it owned is now " : "", heir ? heir : "");
    return 0;
  }
  int add = !strcmp(sub, "add");
  char pw[1100], prompt[CB_NAME_MAX + 32];
  snprintf(prompt, sizeof prompt, "%s password for %s: ", add ? "a" : "new", name);
  if (read_password(prompt, pw, sizeof pw)) {
    db_shutdown();
    return fail(2, "no password on standard input");
  }
  int ended = 0;
  e = add ? auth_user_add(name, pw, admin, &u, &eb) : auth_user_set_password(name, pw, &u, &ended, &eb);
  memset(pw, 0, sizeof pw);
  db_shutdown();
  if (e)
    return fail(e == CB_EINVAL || e == CB_EEXIST || e == CB_ENOTFOUND ? 2 : 1, "%s", eb.msg);
  if (add)
    printf("carboy: created user '%s' (%s)%s\n", u.username, u.id, admin ? " with admin rights" : "");
  else
    printf("carboy: password of '%s' changed; %d session%s ended (API tokens stay)\n", u.username, ended,
           ended == 1 ? "" : "s");
  return 0;
}

static int print_job(const struct cb_job *j, void *ctx)
{
  (void)ctx;
  printf("%-24s  %-7s  %-9s  %3.0f%%  %d/%d  %s  %s\n", j->id, j->type, j->state, j->progress * 100, j->attempts,
         j->max_attempts, j->created_at, j->error[0] ? j->error : "");
  return 0;
}

/* carboy jobs [list [STATE]|retry ID|cancel ID]: works on the database directly, with
 * or without a server running (SQLite arbitrates). */
static int cmd_jobs(int argc, char **argv)
{
  const char *sub = argc > 0 && argv[0][0] != '-' ? argv[0] : "list";
  int skip = argc > 0 && argv[0][0] != '-' ? 1 : 0;
  const char *arg = NULL;
  if (strcmp(sub, "list") && strcmp(sub, "retry") && strcmp(sub, "cancel"))
    return fail(2, "usage: carboy jobs [list [STATE]|retry ID|cancel ID] [--data DIR]");
  if (argc > skip && argv[skip][0] != '-') {
    arg = argv[skip];
    skip++;
  }
  if (strcmp(sub, "list") && !arg)
    return fail(2, "usage: carboy jobs %s ID [--data DIR]", sub);
  struct config c;
  int rc = load_config(argc - skip, argv + skip, &c, CB_CMD_JOBS);
  if (rc || (rc = open_db(&c)))
    return rc;
  char now[32];
  cb_time_now_rfc3339(now, sizeof now);
  cb_err e = CB_OK;
  if (!strcmp(sub, "list")) {
    static const char *const states[] = {"queued", "running", "succeeded", "failed", "canceled"};
    int ok = !arg;
    for (int i = 0; i < 5 && !ok; i++)
      ok = !strcmp(arg, states[i]);
    if (!ok) {
      db_shutdown();
      return fail(2, "unknown job state '%s' (queued, running, succeeded, failed, canceled)", arg);
    }
    printf("%-24s  %-7s  %-9s  %4s  %s  %-24s  %s\n", "ID", "TYPE", "STATE", "DONE", "TRY", "CREATED", "ERROR");
    e = db_job_list(NULL, arg, NULL, NULL, NULL, 1000, print_job, NULL);
  } else if (!cb_id_valid(arg)) {
    e = CB_ENOTFOUND;
  } else {
    struct cb_job j = {0};
    e = db_job_get(arg, &j);
    db_job_clear(&j);
    if (!e)
      e = !strcmp(sub, "retry") ? db_job_retry(arg, now) : db_job_cancel(arg, now);
    if (!e)
      printf("carboy: job %s %s\n", arg, !strcmp(sub, "retry") ? "queued again" : "canceled");
  }
  db_shutdown();
  if (e == CB_ENOTFOUND)
    return fail(1, "no job %s", arg);
  if (e == CB_ECONFLICT)
    return fail(1, "job %s cannot be %s in its state", arg, !strcmp(sub, "retry") ? "retried" : "canceled");
  if (e)
    return fail(1, "jobs: %s", cb_strerror(e));
  return 0;
}

/* carboy import PATH... --user NAME [--folder /a/b] [--data DIR] [--store URL] */
static int cmd_import(int argc, char **argv)
{
  static const char usage[] = "usage: carboy import PATH... --user NAME [--folder /a/b] [--data DIR] [--store URL]";
  char **paths = calloc((size_t)argc + 1, sizeof *paths), *rest[8];
  int npaths = 0, nrest = 0;
  const char *user = NULL, *folder = NULL;
  if (!paths)
    return fail(1, "out of memory");
  for (int i = 0; i < argc; i++) {
    const char *a = argv[i];
    if ((!strcmp(a, "--user") || !strcmp(a, "--folder")) && i + 1 < argc)
      *(!strcmp(a, "--user") ? &user : &folder) = argv[++i];
    else if (a[0] == '-' && a[1] && nrest < 6 && i + 1 < argc) {
      rest[nrest++] = argv[i];
      rest[nrest++] = argv[++i];
    } else if (a[0] == '-' && a[1]) {
      free(paths);
      return fail(2, "option %s: %s", a, nrest >= 6 ? "given too often" : "needs a value");
    } else
      paths[npaths++] = argv[i];
  }
  if (!user || !npaths) {
    free(paths);
    return fail(2, "%s", usage);
  }
  struct config c;
  int rc = load_config(nrest, rest, &c, CB_CMD_IMPORT);
  if (rc || (rc = open_db(&c))) {
    free(paths);
    return rc;
  }
  struct cb_errbuf eb = {{0}}, warn = {{0}};
  struct store *store = NULL;
  char url[PATH_MAX + 64];
  cb_err se = maint_store_resolve(explicit_store(&c), c.store_default, url, sizeof url, &warn, &eb);
  if (!se)
    se = store_open(url, &store, &eb);
  if (se) {
    db_shutdown();
    free(paths);
    return fail(se == CB_EINVAL ? 2 : 1, "store: %s", eb.msg);
  }
  if (warn.msg[0])
    fprintf(stderr, "carboy: %s\n", warn.msg);
  struct maint_import_opts o = {.user = user,
                                .folder = folder,
                                .paths = paths,
                                .npaths = npaths,
                                .max_upload = c.s.max_upload,
                                .guess = http_guess_type,
                                .out = stderr,
                                .tty = isatty(STDERR_FILENO)};
  struct maint_import_stats st;
  cb_err e = maint_import(store, &o, &st, &eb);
  store_close(store);
  db_shutdown();
  free(paths);
  if (e)
    return fail(e == CB_EUSAGE ? 2 : 1, "%s", eb.msg);
  maint_import_summary(&st, stdout);
  return st.failed ? 1 : 0;
}

/* Takes a command's own "--NAME VALUE" options out of argv, leaving the settings' flags
 * (those command cmd takes) in rest[] for load_config. Returns 0, or 2 after printing the
 * error. */
struct opt {
  const char *name;
  const char **value;
};

static int take_opts(unsigned cmd, int argc, char **argv, const struct opt *opts, char **rest, int *nrest, int cap)
{
  *nrest = 0;
  for (int i = 0; i < argc; i++) {
    const struct opt *o = opts;
    while (o->name && strcmp(o->name, argv[i]))
      o++;
    int setting = o->name ? 0 : cb_settings_flag(cmd, argv[i]);
    if (!o->name && !setting)
      return fail(2, "unknown option '%s' (see 'carboy help')", argv[i]);
    if ((o->name || setting == 2) && i + 1 >= argc)
      return fail(2, "option %s needs a value", argv[i]);
    if (o->name) {
      *o->value = argv[++i];
      continue;
    }
    if (*nrest + setting > cap)
      return fail(2, "too many arguments");
    rest[(*nrest)++] = argv[i];
    if (setting == 2)
      rest[(*nrest)++] = argv[++i];
  }
  return 0;
}

/* carboy migrate --to URL [--batch N]: works with or without a server running. */
static int cmd_migrate(int argc, char **argv)
{
  struct config c;
  int rc;
  if (cb_settings_parse(CB_CMD_MIGRATE, argc, argv, &c.s))
    return 2;
  if (!cb_settings_given(&c.s, "CARBOY_MIGRATE_TO"))
    return fail(2, "usage: carboy migrate --to URL [--batch N] [--data DIR] [--store URL]");
  if ((rc = cb_settings_check(&c.s)) || (rc = finish_config(&c)) || (rc = open_db(&c)))
    return rc;
  struct maint_migrate_opts mo = {
    .target = c.s.migrate_to, .batch = c.s.migrate_batch, .delay_ms = c.s.migrate_delay_ms, .out = stdout};
  mo.explicit_url = explicit_store(&c);
  mo.default_url = c.store_default;
  struct cb_errbuf eb = {{0}};
  return end_maint("migrate", maint_migrate(&mo, &eb), &eb);
}

/* carboy verify [--repair] [--from URL]: exit 1 when a blob is missing or corrupt. */
static int cmd_verify(int argc, char **argv)
{
  struct config c;
  int rc;
  if (cb_settings_load(CB_CMD_VERIFY, argc, argv, &c.s))
    return 2;
  if (c.s.verify_from && !c.s.verify_repair)
    return fail(2, "--from URL goes with --repair (usage: carboy verify [--repair] [--from URL])");
  if ((rc = finish_config(&c)) || (rc = open_db(&c)))
    return rc;
  struct maint_verify_opts vo = {.from = c.s.verify_from, .repair = c.s.verify_repair, .out = stdout};
  vo.explicit_url = explicit_store(&c);
  vo.default_url = c.store_default;
  struct cb_errbuf eb = {{0}};
  int64_t bad = 0;
  if ((rc = end_maint("verify", maint_verify(&vo, &bad, &eb), &eb)))
    return rc;
  if (bad)
    return fail(1, "verify: %lld blobs are missing or corrupt%s", (long long)bad,
                vo.repair ? " and could not be repaired"
                          : " (carboy verify --repair restores them from a second store)");
  return 0;
}

/* A folder given as a relative path, made absolute (store URLs are kept as they are). */
static int abs_location(const char *in, char *out, size_t cap)
{
  if (strstr(in, "://") || in[0] == '/')
    return snprintf(out, cap, "%s", in) >= (int)cap ? -1 : 0;
  char cwd[PATH_MAX];
  if (!getcwd(cwd, sizeof cwd))
    return -1;
  return snprintf(out, cap, "%s/%s", cwd, in) >= (int)cap ? -1 : 0;
}

/* The arguments of backup and restore, LOCATION [options]: the location (a folder made
 * absolute, or a store URL) into loc, the options taken with take_opts (8 left at most). */
static int location_args(unsigned cmd, int argc, char **argv, const char *usage, const char *too_long, char *loc,
                         size_t cap, const struct opt *opts, char **rest, int *nrest)
{
  if (argc < 1 || argv[0][0] == '-')
    return fail(2, "%s", usage);
  if (abs_location(argv[0], loc, cap))
    return fail(2, "%s", too_long);
  return take_opts(cmd, argc - 1, argv + 1, opts, rest, nrest, 8);
}

/* carboy backup DEST [--data DIR] [--store URL]: works while a server runs. */
static int cmd_backup(int argc, char **argv)
{
  const struct opt opts[] = {{NULL, NULL}};
  char *rest[8], dest[PATH_MAX + 64];
  int nrest = 0, rc;
  if ((rc = location_args(
         CB_CMD_BACKUP, argc, argv,
         "usage: carboy backup DEST [--data DIR] [--store URL]  (DEST: a folder or s3://BUCKET/PREFIX)",
         "backup destination too long", dest, sizeof dest, opts, rest, &nrest)))
    return rc;
  struct config c;
  if ((rc = load_config(nrest, rest, &c, CB_CMD_BACKUP)) || (rc = open_db(&c)))
    return rc;
  struct maint_backup_opts bo = {.explicit_url = explicit_store(&c),
                                 .default_url = c.store_default,
                                 .dest = dest,
                                 .data_dir = c.s.data,
                                 .version = CARBOY_VERSION,
                                 .out = stdout};
  struct cb_errbuf eb = {{0}};
  return end_maint("backup", maint_backup(&bo, &eb), &eb);
}

/* carboy restore SRC --data DIR [--store URL] [--manifest NAME] */
static int cmd_restore(int argc, char **argv)
{
  const char *manifest = "manifest.json";
  const struct opt opts[] = {{"--manifest", &manifest}, {NULL, NULL}};
  char *rest[8], src[PATH_MAX + 64];
  int nrest = 0, rc;
  if ((rc = location_args(CB_CMD_RESTORE, argc, argv,
                          "usage: carboy restore SRC --data DIR [--store URL] [--manifest NAME]",
                          "backup location too long", src, sizeof src, opts, rest, &nrest)))
    return rc;
  struct stat sb;
  const char *local = !strncmp(src, "file://", 7) ? src + 7 : src[0] == '/' ? src : NULL;
  if (local && (stat(local, &sb) || !S_ISDIR(sb.st_mode)))
    return fail(2, "restore: there is no backup folder %s", local);
  struct config c;
  if ((rc = load_config(nrest, rest, &c, CB_CMD_RESTORE)))
    return rc;
  char db_path[PATH_MAX + 16];
  snprintf(db_path, sizeof db_path, "%s/carboy.db", c.s.data);
  struct maint_restore_opts ro = {.src = src,
                                  .manifest = manifest,
                                  .db_path = db_path,
                                  .store_url = c.store,
                                  .store_explicit = c.store_explicit,
                                  .out = stdout};
  struct cb_errbuf eb = {{0}};
  return end_maint("restore", maint_restore(&ro, &eb), &eb);
}

int main(int argc, char **argv)
{
  if (argc < 2)
    return print_usage(stderr), 2;
  const char *cmd = argv[1];
  if (!strcmp(cmd, "--version") || !strcmp(cmd, "version")) {
    printf("carboy %s\n", CARBOY_VERSION);
    return 0;
  }
  if (!strcmp(cmd, "help") || !strcmp(cmd, "--help") || !strcmp(cmd, "-h")) {
    if (argc > 2 && !strcmp(argv[2], "settings")) {
      if (argc > 4 || (argc == 4 && strcmp(argv[3], "--markdown")))
        return fail(2, "usage: carboy help settings [--markdown]");
      (argc == 4 ? cb_settings_print_markdown : cb_settings_print_help)(stdout);
      return 0;
    }
    print_usage(stdout);
    return 0;
  }
  static const struct {
    const char *name;
    int (*run)(int argc, char **argv); /* with the arguments after the command's name */
  } commands[] = {
    {"serve", cmd_serve},   {"user", cmd_user},       {"jobs", cmd_jobs},       {"import", cmd_import},
    {"backup", cmd_backup}, {"restore", cmd_restore}, {"migrate", cmd_migrate}, {"verify", cmd_verify},
  };
  for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
    if (!strcmp(cmd, commands[i].name))
      return commands[i].run(argc - 2, argv + 2);
  if (!strcmp(cmd, "worker")) /* hidden: a converter process, started by the server */
    return convert_worker_main();
  if (!strcmp(cmd, "routes")) {
    http_routes_print(stdout);
    return 0;
  }
  return fail(2, "unknown command '%s' (see 'carboy help')", cmd);
}
