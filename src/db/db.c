/* Connection management, statement cache and migrations. */
#include "db/db.h"

#include <pthread.h>
#include <sqlite3.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "db/db_internal.h"
#include "util/embedded.h"
#include "util/log.h"

extern const struct cb_embedded cb_migrations[];
extern const size_t cb_migrations_count;

static char *db_path;
static atomic_int interrupting;

/* Called every few thousand virtual-machine steps of every statement: non-zero stops it. */
static int progress_check(void *unused)
{
  (void)unused;
  return atomic_load_explicit(&interrupting, memory_order_relaxed);
}

void db_interrupt_all(void)
{
  atomic_store(&interrupting, 1);
}

/* Per-thread connection and a small statement cache keyed by the SQL text's address
 * (every statement is a string literal in this folder). */
#define STMT_CACHE 96
struct db_thread {
  sqlite3 *db;
  const char *sql[STMT_CACHE];
  sqlite3_stmt *stmt[STMT_CACHE];
  int n;
  /* jobs this thread created, for their "queued" events once committed (db_jobs_created) */
  char (*jobs)[CB_ID_LEN + 1];
  int njobs, committed, capjobs;
};
static _Thread_local struct db_thread *tl;

/* The process's writers take turns here before SQLite's write lock: a thread that wants
 * to write while another writes sleeps on this mutex and wakes the moment the other is
 * done, where SQLite's busy handler (below) polls every millisecond (a batch of small
 * files' ingests waited a third of its time that way). The wait is bounded: after
 * BUSY_WAIT_MS the thread goes on to SQLite's lock as before, so a writer that waits on
 * something this thread holds still ends with SQLITE_BUSY, never a deadlock. Other
 * processes on the same database meet SQLite's lock only. */
static pthread_mutex_t write_mu = PTHREAD_MUTEX_INITIALIZER;
static _Thread_local int write_turn; /* this thread holds write_mu */

static void write_turn_take(void)
{
  if (write_turn)
    return;
  struct timespec until;
  clock_gettime(CLOCK_MONOTONIC, &until);
  until.tv_sec += 10; /* BUSY_WAIT_MS */
  write_turn = pthread_mutex_clocklock(&write_mu, CLOCK_MONOTONIC, &until) == 0;
}

static void write_turn_give(void)
{
  if (write_turn) {
    write_turn = 0;
    pthread_mutex_unlock(&write_mu);
  }
}

/* A connection that finds the database locked by another's write waits here: a
 * millisecond at a time, up to ten seconds. SQLite's own busy timeout sleeps longer and
 * longer (up to 100 ms a step), so a request meeting a large ingest's record batch waited
 * tens of milliseconds past the moment the lock was free; interactive work pays that on
 * each of its writes. */
#define BUSY_WAIT_MS 10000
static int busy_wait(void *unused, int tries)
{
  (void)unused;
  if (tries >= BUSY_WAIT_MS)
    return 0;
  struct timespec t = {0, 1000000L};
  nanosleep(&t, NULL);
  return 1;
}

/* Checkpoints off the writers' path. SQLite's own checkpoint runs in the commit that makes
 * the WAL pass 1000 pages, while that writer still holds this process's write turn: every
 * other writer waited for its copying and its fsync (a tenth of a batch of small files'
 * ingest). Here a commit past CKPT_PAGES only wakes the checkpointer thread, whose PASSIVE
 * checkpoint copies what no reader still needs while the writers go on; a WAL that grows
 * past CKPT_INLINE_PAGES all the same (the thread cannot keep up), or any past CKPT_PAGES
 * when the thread is not running (it could not open the database), is checkpointed by its
 * writer, as SQLite would. db_init starts the thread, db_shutdown stops it. */
#define CKPT_PAGES 1000
#define CKPT_INLINE_PAGES 20000
static pthread_t ckpt_thread;
static int ckpt_created, ckpt_running, ckpt_due, ckpt_stop;
static pthread_mutex_t ckpt_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t ckpt_cond = PTHREAD_COND_INITIALIZER;

static int wal_hook(void *unused, sqlite3 *db, const char *name, int pages)
{
  (void)unused;
  if (pages < CKPT_PAGES)
    return SQLITE_OK;
  pthread_mutex_lock(&ckpt_mu);
  int running = ckpt_running;
  if (running) {
    ckpt_due = 1;
    pthread_cond_signal(&ckpt_cond);
  }
  pthread_mutex_unlock(&ckpt_mu);
  if (!running || pages >= CKPT_INLINE_PAGES)
    sqlite3_wal_checkpoint_v2(db, name, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
  return SQLITE_OK;
}

static cb_err open_conn(sqlite3 **out);

static void *checkpointer(void *unused)
{
  (void)unused;
  sqlite3 *db = NULL;
  if (open_conn(&db)) { /* the writers checkpoint themselves, as SQLite would */
    CB_LOG(CB_LOG_WARN, "db", "the checkpointer cannot open the database: writers checkpoint instead");
    pthread_mutex_lock(&ckpt_mu);
    ckpt_running = 0;
    pthread_mutex_unlock(&ckpt_mu);
    return NULL;
  }
  pthread_mutex_lock(&ckpt_mu);
  while (!ckpt_stop) {
    while (!ckpt_due && !ckpt_stop)
      pthread_cond_wait(&ckpt_cond, &ckpt_mu);
    int due = ckpt_due;
    ckpt_due = 0;
    pthread_mutex_unlock(&ckpt_mu);
    if (due)
      sqlite3_wal_checkpoint_v2(db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
    pthread_mutex_lock(&ckpt_mu);
  }
  pthread_mutex_unlock(&ckpt_mu);
  sqlite3_close(db);
  return NULL;
}

static void checkpointer_start(void)
{
  pthread_mutex_lock(&ckpt_mu);
  if (!ckpt_created) {
    ckpt_stop = 0;
    ckpt_created = ckpt_running = !pthread_create(&ckpt_thread, NULL, checkpointer, NULL);
  }
  pthread_mutex_unlock(&ckpt_mu);
}

static void checkpointer_stop(void)
{
  pthread_mutex_lock(&ckpt_mu);
  int created = ckpt_created;
  ckpt_stop = 1;
  ckpt_running = ckpt_created = 0;
  pthread_cond_signal(&ckpt_cond);
  pthread_mutex_unlock(&ckpt_mu);
  if (created)
    pthread_join(ckpt_thread, NULL);
}

static cb_err open_conn(sqlite3 **out)
{
  sqlite3 *db = NULL;
  int rc = sqlite3_open_v2(db_path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                           db_fault_vfs());
  if (rc != SQLITE_OK) {
    CB_LOG(CB_LOG_ERROR, "db", "cannot open %s: %s", db_path, db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
    sqlite3_close(db);
    return CB_EDB;
  }
  sqlite3_busy_handler(db, busy_wait, NULL);
  sqlite3_wal_hook(db, wal_hook, NULL); /* instead of SQLite's checkpoint in the commit */
  sqlite3_extended_result_codes(db, 1);
  sqlite3_progress_handler(db, 4000, progress_check, NULL);
  char *err = NULL;
  rc = sqlite3_exec(db,
                    "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;"
                    "PRAGMA temp_store=MEMORY;",
                    NULL, NULL, &err);
  if (rc != SQLITE_OK) {
    CB_LOG(CB_LOG_ERROR, "db", "cannot configure %s: %s", db_path, err ? err : "?");
    sqlite3_free(err);
    sqlite3_close(db);
    return CB_EDB;
  }
  *out = db;
  return CB_OK;
}

sqlite3 *db_conn(void)
{
  if (tl)
    return tl->db;
  struct db_thread *t = calloc(1, sizeof *t);
  if (!t)
    return NULL;
  if (open_conn(&t->db)) {
    free(t);
    return NULL;
  }
  tl = t;
  return t->db;
}

sqlite3_stmt *db_prep(const char *sql)
{
  if (!db_conn())
    return NULL;
  for (int i = 0; i < tl->n; i++) {
    if (tl->sql[i] == sql) {
      sqlite3_reset(tl->stmt[i]);
      sqlite3_clear_bindings(tl->stmt[i]);
      return tl->stmt[i];
    }
  }
  sqlite3_stmt *st = NULL;
  if (sqlite3_prepare_v3(tl->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL) != SQLITE_OK) {
    CB_LOG(CB_LOG_ERROR, "db", "prepare failed: %s in: %.120s", sqlite3_errmsg(tl->db), sql);
    return NULL;
  }
  if (tl->n < STMT_CACHE) {
    tl->sql[tl->n] = sql;
    tl->stmt[tl->n] = st;
    tl->n++;
  } else {
    /* Cache full: should not happen with the statements we have. Evict the oldest. */
    sqlite3_finalize(tl->stmt[0]);
    memmove(&tl->sql[0], &tl->sql[1], sizeof tl->sql[0] * (STMT_CACHE - 1));
    memmove(&tl->stmt[0], &tl->stmt[1], sizeof tl->stmt[0] * (STMT_CACHE - 1));
    tl->sql[STMT_CACHE - 1] = sql;
    tl->stmt[STMT_CACHE - 1] = st;
  }
  return st;
}

cb_err db_bind(sqlite3_stmt *st, const char *fmt, va_list ap)
{
  int idx = 1;
  for (const char *f = fmt; *f; f++, idx++) {
    int rc;
    switch (*f) {
    case 's': {
      const char *s = va_arg(ap, const char *);
      rc = s ? sqlite3_bind_text(st, idx, s, -1, SQLITE_TRANSIENT) : sqlite3_bind_null(st, idx);
      break;
    }
    case 'i': rc = sqlite3_bind_int64(st, idx, va_arg(ap, int64_t)); break;
    case 'd': rc = sqlite3_bind_double(st, idx, va_arg(ap, double)); break;
    case 'n': rc = sqlite3_bind_null(st, idx); break;
    default: return CB_EINVAL;
    }
    if (rc != SQLITE_OK)
      return CB_EDB;
  }
  return CB_OK;
}

/* db_prep and db_bind: the statement, or NULL with *e set (CB_EDB when it did not prepare). */
static sqlite3_stmt *prep_bound(const char *sql, const char *fmt, va_list ap, cb_err *e)
{
  sqlite3_stmt *st = db_prep(sql);
  *e = st ? db_bind(st, fmt, ap) : CB_EDB;
  return *e ? NULL : st;
}

sqlite3_stmt *db_query(const char *sql, const char *fmt, ...)
{
  cb_err e;
  va_list ap;
  va_start(ap, fmt);
  sqlite3_stmt *st = prep_bound(sql, fmt, ap, &e);
  va_end(ap);
  return st;
}

cb_err db_rc(int rc)
{
  switch (rc & 0xff) {
  case SQLITE_OK:
  case SQLITE_DONE:
  case SQLITE_ROW: return CB_OK;
  case SQLITE_CONSTRAINT:
    if (rc == SQLITE_CONSTRAINT_UNIQUE || rc == SQLITE_CONSTRAINT_PRIMARYKEY)
      return CB_EEXIST;
    return CB_EINVAL;
  case SQLITE_FULL: return CB_ENOSPC;
  case SQLITE_NOMEM: return CB_ENOMEM;
  default: CB_LOG(CB_LOG_ERROR, "db", "sqlite error %d: %s", rc, tl ? sqlite3_errmsg(tl->db) : ""); return CB_EDB;
  }
}

cb_err db_exec(const char *sql, const char *fmt, ...)
{
  cb_err e;
  va_list ap;
  va_start(ap, fmt);
  sqlite3_stmt *st = prep_bound(sql, fmt, ap, &e);
  va_end(ap);
  if (!st)
    return e;
  /* a write of its own (outside a transaction) takes its turn too */
  int own = !write_turn && !sqlite3_stmt_readonly(st) && sqlite3_get_autocommit(tl->db);
  if (own)
    write_turn_take();
  int rc = sqlite3_step(st);
  sqlite3_reset(st);
  if (write_turn && sqlite3_get_autocommit(tl->db)) /* its write, or the transaction, ended */
    write_turn_give();
  return rc == SQLITE_DONE || rc == SQLITE_ROW ? CB_OK : db_rc(rc);
}

int db_changes(void)
{
  return tl ? sqlite3_changes(tl->db) : 0;
}

void db_col_copy(sqlite3_stmt *st, int col, char *dst, size_t cap)
{
  const unsigned char *s = sqlite3_column_text(st, col);
  if (!s) {
    dst[0] = '\0';
    return;
  }
  size_t n = (size_t)sqlite3_column_bytes(st, col);
  if (n >= cap)
    n = cap - 1;
  memcpy(dst, s, n);
  dst[n] = '\0';
}

void db_read_cols(sqlite3_stmt *st, const struct db_col *cols, size_t n, void *out)
{
  for (size_t i = 0; i < n; i++) {
    char *field = (char *)out + cols[i].off;
    int col = (int)i;
    if (cols[i].kind == DB_COL_TEXT) {
      db_col_copy(st, col, field, cols[i].cap);
    } else if (cols[i].kind == DB_COL_DUP) {
      const unsigned char *s = sqlite3_column_text(st, col);
      char *dup = s ? strdup((const char *)s) : NULL;
      memcpy(field, &dup, sizeof dup);
    } else if (cols[i].kind == DB_COL_INT) {
      int v = sqlite3_column_int(st, col);
      memcpy(field, &v, sizeof v);
    } else if (cols[i].kind == DB_COL_INT64) {
      int64_t v = sqlite3_column_int64(st, col);
      memcpy(field, &v, sizeof v);
    } else {
      double v = sqlite3_column_double(st, col);
      memcpy(field, &v, sizeof v);
    }
  }
}

cb_err db_begin(void)
{
  sqlite3 *db = db_conn();
  if (db && sqlite3_get_autocommit(db))
    write_turn_take();
  cb_err e = db_exec("BEGIN IMMEDIATE", "");
  if (e && db && sqlite3_get_autocommit(db)) /* not begun (even not prepared): the turn goes back */
    write_turn_give();
  return e;
}

cb_err db_commit(void)
{
  cb_err e = db_exec("COMMIT", "");
  if (!e && tl)
    tl->committed = tl->njobs;
  if (tl && sqlite3_get_autocommit(tl->db))
    write_turn_give();
  return e;
}

void db_rollback(void)
{
  if (tl && !sqlite3_get_autocommit(tl->db))
    db_exec("ROLLBACK", "");
  if (tl)
    tl->njobs = tl->committed;
  if (tl && sqlite3_get_autocommit(tl->db))
    write_turn_give();
}

cb_err db_end(cb_err e)
{
  if (!e)
    e = db_commit();
  if (e)
    db_rollback();
  return e;
}

/* At most this many jobs wait for their event per thread (a bulk import that never
 * wakes the queue); beyond it the events are skipped, never the jobs. */
#define JOBS_NOTED_MAX 100000

void db_note_job_created(const char *id)
{
  if (!tl || tl->njobs >= JOBS_NOTED_MAX)
    return;
  if (tl->njobs == tl->capjobs) {
    int cap = tl->capjobs ? tl->capjobs * 2 : 16;
    void *grown = realloc(tl->jobs, (size_t)cap * sizeof *tl->jobs);
    if (!grown)
      return;
    tl->jobs = grown;
    tl->capjobs = cap;
  }
  snprintf(tl->jobs[tl->njobs++], CB_ID_LEN + 1, "%s", id);
  if (sqlite3_get_autocommit(tl->db)) /* no transaction: it stands already */
    tl->committed = tl->njobs;
}

int db_jobs_created(char (**ids)[CB_ID_LEN + 1])
{
  *ids = NULL;
  if (!tl || !tl->committed)
    return 0;
  int n = tl->committed;
  *ids = malloc((size_t)n * sizeof **ids);
  if (*ids)
    memcpy(*ids, tl->jobs, (size_t)n * sizeof **ids);
  memmove(tl->jobs, tl->jobs + n, (size_t)(tl->njobs - n) * sizeof *tl->jobs);
  tl->njobs -= n;
  tl->committed = 0;
  return *ids ? n : 0;
}

void db_thread_close(void)
{
  if (!tl)
    return;
  for (int i = 0; i < tl->n; i++)
    sqlite3_finalize(tl->stmt[i]);
  sqlite3_close(tl->db); /* an open transaction is rolled back */
  write_turn_give();
  free(tl->jobs);
  free(tl);
  tl = NULL;
}

void db_shutdown(void)
{
  checkpointer_stop();
  db_thread_close();
  free(db_path);
  db_path = NULL;
}

cb_err db_ping(void)
{
  sqlite3_stmt *st = db_query("SELECT count(*) FROM schema_migrations", "");
  if (!st)
    return CB_EDB;
  int rc = sqlite3_step(st);
  sqlite3_reset(st);
  return rc == SQLITE_ROW ? CB_OK : db_rc(rc);
}

int db_schema_version(void)
{
  sqlite3_stmt *st = db_query("SELECT coalesce(max(version), 0) FROM schema_migrations", "");
  int v = -1;
  if (st && sqlite3_step(st) == SQLITE_ROW)
    v = sqlite3_column_int(st, 0);
  if (st)
    sqlite3_reset(st);
  return v;
}

static cb_err migrate(struct cb_errbuf *eb)
{
  sqlite3 *db = db_conn();
  char *err = NULL;
  if (sqlite3_exec(db,
                   "CREATE TABLE IF NOT EXISTS schema_migrations ("
                   " version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)",
                   NULL, NULL, &err) != SQLITE_OK) {
    cb_errf(eb, "database %s: %s", db_path, err ? err : "cannot create schema_migrations");
    sqlite3_free(err);
    return CB_EDB;
  }
  int have = db_schema_version();
  int newest = 0;
  for (size_t i = 0; i < cb_migrations_count; i++) {
    const struct cb_embedded *m = &cb_migrations[i];
    int v = atoi(m->name);
    if (v > newest)
      newest = v;
    if (v <= have)
      continue;
    char ts[CB_TIME_MAX];
    cb_time_now_rfc3339(ts, sizeof ts);
    if (sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, &err) != SQLITE_OK ||
        sqlite3_exec(db, (const char *)m->data, NULL, NULL, &err) != SQLITE_OK) {
      cb_errf(eb, "migration %s failed: %s", m->name, err ? err : "?");
      sqlite3_free(err);
      sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
      return CB_EDB;
    }
    if (db_exec("INSERT INTO schema_migrations(version, name, applied_at) VALUES (?, ?, ?)", "iss", (int64_t)v, m->name,
                ts) ||
        sqlite3_exec(db, "COMMIT", NULL, NULL, &err) != SQLITE_OK) {
      cb_errf(eb, "migration %s could not be recorded: %s", m->name, err ? err : sqlite3_errmsg(db));
      sqlite3_free(err);
      sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
      return CB_EDB;
    }
    CB_LOG(CB_LOG_INFO, "db", "applied migration %s", m->name);
  }
  if (have > newest) {
    cb_errf(eb,
            "database %s has schema version %d, newer than this carboy knows (%d): "
            "use a newer carboy",
            db_path, have, newest);
    return CB_EDB;
  }
  return CB_OK;
}

cb_err db_init(const char *path, struct cb_errbuf *eb)
{
  if (sqlite3_threadsafe() == 0) {
    cb_errf(eb, "SQLite was built without thread support");
    return CB_EDB;
  }
  cb_err e = db_fault_from_env(eb);
  if (e)
    return e;
  free(db_path);
  db_path = strdup(path);
  if (!db_path)
    return CB_ENOMEM;
  if (!db_conn()) {
    cb_errf(eb, "cannot open database %s", path);
    return CB_EDB;
  }
  e = migrate(eb);
  if (!e)
    checkpointer_start();
  return e;
}

void db_bind_viewer(sqlite3_stmt *st, const struct db_viewer *v)
{
  int i = sqlite3_bind_parameter_index(st, ":me");
  if (i)
    sqlite3_bind_text(st, i, v->user_id, -1, SQLITE_STATIC); /* NULL binds NULL */
  if ((i = sqlite3_bind_parameter_index(st, ":link")))
    sqlite3_bind_text(st, i, v->link, -1, SQLITE_STATIC);
}
