/* carboy's settings: one table (settings.c) of every flag and environment variable, as
 * Redis's config.c keeps its directives. An entry names its flag and environment
 * variable, its default, how its text is read and checked (a whole number within a
 * range, a size such as 2G, 0/1, one of a few words, a list of CIDRs...), where the value
 * goes in struct cb_settings, and its help. The table drives reading (a flag wins over
 * the environment, the environment over the default), the checks at start, `carboy help
 * settings` and docs/CONFIGURATION.md (`carboy help settings --markdown`).
 *
 * Adding a setting: a field here (when carboy's own code reads it from this struct), an
 * entry in settings.c's table, and `carboy help settings --markdown` pasted into
 * docs/CONFIGURATION.md (tests/integration/test_settings_doc.py checks both). */
#ifndef CB_SETTINGS_H
#define CB_SETTINGS_H
#include <limits.h>
#include <stdint.h>
#include <stdio.h>

/* The commands that read settings: an entry names those that read it. */
enum {
  CB_CMD_SERVE = 1 << 0,
  CB_CMD_USER = 1 << 1,
  CB_CMD_JOBS = 1 << 2,
  CB_CMD_IMPORT = 1 << 3,
  CB_CMD_MIGRATE = 1 << 4,
  CB_CMD_VERIFY = 1 << 5,
  CB_CMD_BACKUP = 1 << 6,
  CB_CMD_RESTORE = 1 << 7,
};

#define CB_SETTINGS_MAX 96

struct cb_settings {
  unsigned cmd; /* the command they were read for */
  char data[PATH_MAX];
  char listen[256];
  const char *store;               /* NULL: the default, a file store in DATA/blobs */
  int workers;                     /* the batch lane's workers */
  int interactive_workers;         /* workers that take interactive jobs only */
  uint64_t interactive_ingest_max; /* an upload this small is processed in the interactive lane */
  int ingest_batch;                /* small-file ingests a worker takes at once */
  uint64_t ingest_batch_max_size;  /* the largest file batched */
  int matchers;                    /* resident structure matchers */
  int http_threads;
  int per_client;
  int header_timeout;
  uint64_t body_min_rate;
  uint64_t send_min_rate;
  int grace;
  int job_timeout;
  int orphan_grace; /* seconds before an unreferenced blob is swept */
  int trash_days;   /* days a deleted file or folder can be restored before the sweep purges it */
  uint64_t worker_memory;
  int train_timeout;     /* seconds a training may take */
  uint64_t train_memory; /* its process's address-space limit */
  int train_threads;     /* XGBoost's threads */
  int predict_max;       /* SMILES one prediction request may send */
  char trusted_proxies[1024];
  char webhook_allow[1024];
  int webhook_queue;
  int webhook_disable_after;
  char cors_origins[1024];
  char metrics_token[256];
  uint64_t max_upload;
  int log_json;
  int log_level; /* CB_LOG_DEBUG .. CB_LOG_ERROR */
  /* carboy migrate */
  const char *migrate_to;
  int migrate_batch;
  int migrate_delay_ms;
  /* carboy verify */
  int verify_repair;
  const char *verify_from;
  /* each entry's text as given (flag, else a non-empty environment variable), or NULL */
  const char *given[CB_SETTINGS_MAX];
};

/* Reads the flags in argv that the table gives command cmd (CB_CMD_*), then the
 * environment, checks every setting the command reads in the table's order, and fills s
 * (defaults where nothing was given). 0, or 2 after one line on standard error, such as
 * `carboy: invalid CARBOY_LOG 'xml': expected text or json`. cb_settings_parse and
 * cb_settings_check are its two halves, for a command that checks its own usage between
 * them. */
int cb_settings_load(unsigned cmd, int argc, char **argv, struct cb_settings *s);
int cb_settings_parse(unsigned cmd, int argc, char **argv, struct cb_settings *s);
int cb_settings_check(struct cb_settings *s);

/* The text given for the setting named env (by its flag, or a non-empty environment
 * variable), or NULL; env must be in the table. */
const char *cb_settings_given(const struct cb_settings *s, const char *env);

/* Whether name is a flag of command cmd's, and whether it takes a value: 0 no such flag,
 * 1 a flag alone (--repair), 2 a flag and its value (--data DIR). */
int cb_settings_flag(unsigned cmd, const char *name);

/* What `carboy help` lists (the settings' names, by group), `carboy help settings`
 * (each with its one line of help) and `carboy help settings --markdown` (the table of
 * docs/CONFIGURATION.md). */
void cb_settings_print_names(FILE *out);
void cb_settings_print_help(FILE *out);
void cb_settings_print_markdown(FILE *out);

#endif
