/* The table of settings (settings.h says what it drives). The table's order is the
 * order settings are checked in, which is the order carboy has always checked them in;
 * help and docs/CONFIGURATION.md show them by group. */
#include "config/settings.h"

#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "util/net.h"
#include "util/util.h"

enum kind {
  K_INT,     /* a whole number from min to max (unit: what it counts) */
  K_SIZE,    /* bytes: 1024, 4K, 10G (min to max); expect: the error's words */
  K_BOOL,    /* 0 or 1; its flag takes no value and means 1 */
  K_ENUM,    /* one of words; the value is its index */
  K_TEXT,    /* text of min to max characters (max 0: what its field holds); expect: the error's words */
  K_URL,     /* a store URL, checked when the store is opened */
  K_PATH,    /* a folder */
  K_LISTEN,  /* HOST:PORT */
  K_CIDRS,   /* addresses or CIDRs; expect: an example */
  K_ORIGINS, /* scheme://host[:port], comma- or space-separated */
};

enum group { G_DATA, G_HTTP, G_JOBS, G_WEBHOOKS, G_LOG, G_MAINT, G_S3, G_TEST, G_INTERNAL, G_COUNT };
static const char *const group_names[G_COUNT] = {
  "Data and store", "Server and HTTP", "Jobs and converters",
  "Webhooks",       "Logging",         "carboy migrate and carboy verify",
  "S3 stores",      "Test only",       "Internal: not settings",
};

#define ALL_CMDS 0xff
#define STORE_CMDS (CB_CMD_SERVE | CB_CMD_IMPORT | CB_CMD_MIGRATE | CB_CMD_VERIFY | CB_CMD_BACKUP | CB_CMD_RESTORE)
/* where an entry's value goes; an entry without one is read by the module that uses it */
#define AT(field) .off = offsetof(struct cb_settings, field), .size = sizeof(((struct cb_settings *)0)->field)
#define SIZE_ANY UINT64_MAX

struct setting {
  const char *env;
  const char *flag;    /* or NULL */
  const char *metavar; /* the flag's value, as usage shows it */
  unsigned cmds;       /* the commands that read and check it; 0: its module does (see the entry) */
  unsigned flag_cmds;  /* the commands that take its flag */
  enum group group;
  enum kind kind;
  const char *dflt;     /* text read as if it were given; NULL: none, or derived (derive()) */
  const char *dflt_doc; /* the default as help shows it, when not dflt */
  uint64_t min, max;
  const char *unit;         /* K_INT: what it counts, in errors and help */
  const char *what;         /* K_INT: how its error names it, when not "ENV (unit)" */
  const char *expect;       /* see enum kind */
  const char *const *words; /* K_ENUM, NULL-terminated */
  const char *values;       /* what help says it takes, when not derived from kind and range */
  size_t off, size;         /* size 0: no field */
  const char *help;         /* one line */
  const char *details;      /* more, for docs/CONFIGURATION.md */
};

static const char *const log_formats[] = {"text", "json", NULL};
static const char *const log_levels[] = {"debug", "info", "warn", "error", NULL};

/* one entry a setting, its fields in the order of struct setting */
// clang-format off
static const struct setting table[] = {
  /* carboy migrate and verify check theirs before the others */
  {.env = "CARBOY_MIGRATE_TO", .flag = "--to", .metavar = "URL", .cmds = CB_CMD_MIGRATE, .flag_cmds = CB_CMD_MIGRATE,
   .group = G_MAINT, .kind = K_URL, .dflt_doc = "none: required", AT(migrate_to),
   .help = "The store `carboy migrate` copies every blob to, then makes the live store."},
  {.env = "CARBOY_MIGRATE_BATCH", .flag = "--batch", .metavar = "N", .cmds = CB_CMD_MIGRATE,
   .flag_cmds = CB_CMD_MIGRATE, .group = G_MAINT, .kind = K_INT, .dflt = "100", .min = 1, .max = 100000,
   .what = "batch size (CARBOY_MIGRATE_BATCH/--batch)", AT(migrate_batch),
   .help = "Blobs per batch of `carboy migrate`."},
  {.env = "CARBOY_MIGRATE_DELAY_MS", .cmds = CB_CMD_MIGRATE, .group = G_TEST, .kind = K_INT, .min = 0, .max = 60000,
   .unit = "milliseconds", .what = "CARBOY_MIGRATE_DELAY_MS", AT(migrate_delay_ms),
   .help = "`carboy migrate` pauses this long after each copy (to kill it mid-run)."},
  {.env = "CARBOY_VERIFY_REPAIR", .flag = "--repair", .cmds = CB_CMD_VERIFY, .flag_cmds = CB_CMD_VERIFY,
   .group = G_MAINT, .kind = K_BOOL, .dflt = "0", AT(verify_repair),
   .help = "`carboy verify` copies missing or corrupt blobs again from a second store."},
  {.env = "CARBOY_VERIFY_FROM", .flag = "--from", .metavar = "URL", .cmds = CB_CMD_VERIFY,
   .flag_cmds = CB_CMD_VERIFY, .group = G_MAINT, .kind = K_URL, .dflt_doc = "the store migrated away from",
   AT(verify_from), .help = "The store `carboy verify --repair` copies from."},

  {.env = "CARBOY_DATA", .flag = "--data", .metavar = "DIR", .cmds = ALL_CMDS, .flag_cmds = ALL_CMDS,
   .group = G_DATA, .kind = K_PATH, .dflt = "./carboy-data", AT(data),
   .help = "Database (`carboy.db`), resumable uploads in progress (`uploads/`) and the default blob folder "
           "(`blobs/`).",
   .details = "Created on first start (mode 0700)."},
  {.env = "CARBOY_LISTEN", .flag = "--listen", .metavar = "HOST:PORT", .cmds = ALL_CMDS, .flag_cmds = CB_CMD_SERVE,
   .group = G_HTTP, .kind = K_LISTEN, .dflt = "127.0.0.1:8080", AT(listen), .help = "Address to listen on."},
  {.env = "CARBOY_STORE", .flag = "--store", .metavar = "URL", .cmds = ALL_CMDS, .flag_cmds = STORE_CMDS,
   .group = G_DATA, .kind = K_URL, .dflt_doc = "`file://DATA/blobs`", AT(store),
   .help = "Blob store: `file:///abs/path`, or an S3-compatible bucket "
           "`s3://BUCKET[/PREFIX]?endpoint=URL&region=R&path_style=1`.",
   .details = "S3: the region is `AWS_REGION`, `AWS_DEFAULT_REGION`, else `us-east-1`; the endpoint "
              "`https://s3.REGION.amazonaws.com`; virtual-host addressing unless `path_style=1`; the prefix may "
              "hold spaces and any UTF-8, percent-encoded or not. A wrong URL, or no credentials, stops the start "
              "with exit code 2; a bucket that refuses (missing, wrong key) with exit code 1. Once `carboy "
              "migrate` has moved the blobs, the database says where they are and the server uses that store "
              "without the setting; a setting that names another store stops `serve` with one line (exit 2), "
              "except the store migrated away from, which gets a warning and the new store. An explicit store "
              "is recorded on its first start (the default never is, so a data folder can be moved whole)."},
  {.env = "CARBOY_WORKERS", .flag = "--workers", .metavar = "N", .cmds = ALL_CMDS, .flag_cmds = CB_CMD_SERVE,
   .group = G_JOBS, .kind = K_INT, .dflt_doc = "number of cores", .min = 1, .max = 256,
   .what = "worker count (CARBOY_WORKERS/--workers)", AT(workers),
   .help = "Background job workers of the batch lane; each owns one sandboxed converter process.",
   .details = "They take batch jobs (ingests, unpacks, conversions, `POST /api/v1/jobs`) and, when no batch job "
              "is due, interactive ones too. Within a lane the owner served least recently goes first."},
  {.env = "CARBOY_INTERACTIVE_WORKERS", .cmds = ALL_CMDS, .group = G_JOBS, .kind = K_INT,
   .dflt_doc = "2, or a quarter of the cores when more", .min = 1, .max = 64, .what = "CARBOY_INTERACTIVE_WORKERS",
   AT(interactive_workers),
   .help = "Workers that take interactive jobs only (work a request waits for, a small upload's ingest).",
   .details = "Capacity batch work can never take: a depiction or a one-line upload does not wait behind "
              "large ingests. Each owns one more sandboxed converter process."},
  {.env = "CARBOY_INTERACTIVE_INGEST_MAX", .cmds = ALL_CMDS, .group = G_JOBS, .kind = K_SIZE, .dflt = "1M",
   .min = 0, .max = SIZE_ANY, .expect = "expected a size in bytes such as 1048576 or 1M (0: none)",
   AT(interactive_ingest_max),
   .help = "An upload at most this large is processed in the interactive lane (`0`: every upload is batch work).",
   .details = "Files made by jobs (unpacked archive members, conversions) and by `carboy import` are always "
              "batch work."},
  {.env = "CARBOY_INGEST_BATCH", .cmds = ALL_CMDS, .group = G_JOBS, .kind = K_INT, .dflt = "128", .min = 1,
   .max = 256, .what = "CARBOY_INGEST_BATCH", AT(ingest_batch),
   .help = "Small files in batches: a worker that takes a small file's ingest takes the same owner's waiting "
           "small-file ingests with it, up to this many at once (`1`: one at a time).",
   .details = "They go to its converter in one round trip and are recorded in one transaction; each file's job "
              "still reports its own progress, result or error. A file that crashes the converter is found by "
              "running that batch's files one by one."},
  {.env = "CARBOY_INGEST_BATCH_MAX_SIZE", .cmds = ALL_CMDS, .group = G_JOBS, .kind = K_SIZE, .dflt = "256K",
   .min = 0, .max = SIZE_ANY, .expect = "expected a size in bytes such as 262144 or 256K",
   AT(ingest_batch_max_size),
   .help = "The largest file whose ingest is batched with others (see `CARBOY_INGEST_BATCH`)."},
  {.env = "CARBOY_MATCHERS", .cmds = CB_CMD_SERVE, .group = G_JOBS, .kind = K_INT,
   .dflt_doc = "number of cores (at most 8)", .min = 1, .max = 64, .what = "CARBOY_MATCHERS", AT(matchers),
   .help = "Resident structure matchers: sandboxed converter processes that read structure-search queries and "
           "match SMARTS patterns while the request waits, outside the job queue.",
   .details = "A substructure search spreads its candidates over all of them at once; more searches than "
              "matchers wait for one (up to a minute for the query, two for a batch of candidates, then 429). "
              "A matcher serves one user at a time, as a converter does: another user's search starts it afresh."},
  {.env = "CARBOY_HTTP_THREADS", .cmds = ALL_CMDS, .group = G_HTTP, .kind = K_INT, .dflt = "32", .min = 2,
   .max = 1024, .what = "CARBOY_HTTP_THREADS", AT(http_threads),
   .help = "Request threads (concurrent requests being served)."},
  {.env = "CARBOY_HTTP_PER_CLIENT", .cmds = ALL_CMDS, .group = G_HTTP, .kind = K_INT,
   .dflt_doc = "3/4 of `CARBOY_HTTP_THREADS`", .min = 0, .max = 1024, .what = "CARBOY_HTTP_PER_CLIENT",
   AT(per_client), .help = "Connections one client address may hold in request threads at once (`0`: no cap).",
   .details = "More wait (their request head read, in no thread) until one closes, up to 60 s (then 503). Behind "
              "a reverse proxy every client has the proxy's address: raise it or use `0`."},
  {.env = "CARBOY_HEADER_TIMEOUT", .cmds = ALL_CMDS, .group = G_HTTP, .kind = K_INT, .dflt = "10", .min = 1,
   .max = 3600, .unit = "seconds", AT(header_timeout),
   .help = "Seconds a new connection has to send its whole request head (else 408).",
   .details = "Heads are awaited outside the request threads."},
  {.env = "CARBOY_BODY_MIN_RATE", .cmds = ALL_CMDS, .group = G_HTTP, .kind = K_SIZE, .dflt = "1K", .min = 0,
   .max = 1ull << 30, .unit = "bytes per second",
   .expect = "expected bytes per second such as 1024 or 4K (0: none)", AT(body_min_rate),
   .help = "A request body must arrive within `CARBOY_HEADER_TIMEOUT` seconds plus one second per this many "
           "bytes (`0`: no minimum).",
   .details = "Else 408 and the connection is closed."},
  {.env = "CARBOY_SEND_MIN_RATE", .cmds = ALL_CMDS, .group = G_HTTP, .kind = K_SIZE, .dflt = "1K", .min = 0,
   .max = 1ull << 30, .unit = "bytes per second",
   .expect = "expected bytes per second such as 1024 or 4K (0: none)", AT(send_min_rate),
   .help = "Bytes a second a response's reader must take, or its connection is shut (`0`: no minimum).",
   .details = "Measured (as what its TCP acknowledged) over windows of `CARBOY_HEADER_TIMEOUT` seconds; the "
              "request thread is freed, so readers that stall cannot hold the threads. Event streams are exempt."},
  {.env = "CARBOY_SHUTDOWN_GRACE", .cmds = ALL_CMDS, .group = G_HTTP, .kind = K_INT, .dflt = "10", .min = 0,
   .max = 3600, .unit = "seconds", AT(grace),
   .help = "Seconds in-flight requests may run after SIGTERM/SIGINT before they are cut."},
  {.env = "CARBOY_JOB_TIMEOUT", .cmds = ALL_CMDS, .group = G_JOBS, .kind = K_INT, .dflt = "300", .min = 1,
   .max = 86400, .unit = "seconds", AT(job_timeout),
   .help = "Seconds one conversion may take (wall clock) before its process is killed and the job fails.",
   .details = "CPU time is limited to this plus 5 s."},
  {.env = "CARBOY_ORPHAN_GRACE", .cmds = ALL_CMDS, .group = G_DATA, .kind = K_INT,
   .dflt_doc = "`3600` (or `CARBOY_JOB_TIMEOUT` when longer)", .min = 0, .max = 30 * 86400, .unit = "seconds",
   AT(orphan_grace),
   .help = "Seconds an unreferenced blob, temporary object or orphaned upload part is kept before the orphan "
           "sweep removes it.",
   .details = "An orphan is what a crash between storing bytes and recording them leaves. The sweep runs at "
              "start and then every this many seconds (at most hourly). `0` (for tests) sweeps everything once "
              "at start, before jobs run or requests are taken. Otherwise it must be at least "
              "`CARBOY_JOB_TIMEOUT`, since a job stores its artifacts before it records them."},
  {.env = "CARBOY_TRASH_DAYS", .cmds = CB_CMD_SERVE, .group = G_DATA, .kind = K_INT, .dflt = "30", .min = 0,
   .max = 36500, .unit = "days", .what = "CARBOY_TRASH_DAYS", AT(trash_days),
   .help = "Days a deleted file or folder stays in its owner's trash (`GET /api/v1/trash`), restorable, before the "
           "orphan sweep removes it for good.",
   .details = "The sweep (see `CARBOY_ORPHAN_GRACE`) purges what was deleted longer ago: its versions, records "
              "and other rows, then the blobs nothing else references. Until then a deleted file's blobs are "
              "kept. `0`: no trash; what is deleted cannot be restored and goes at the next sweep."},
  {.env = "CARBOY_WORKER_MEMORY", .cmds = ALL_CMDS, .group = G_JOBS, .kind = K_SIZE, .dflt = "2G",
   .min = 64u << 20, .max = SIZE_ANY, .expect = "expected a size of at least 64M, such as 2G", AT(worker_memory),
   .help = "Address-space limit of each converter process."},
  {.env = "CARBOY_TRAIN_TIMEOUT", .cmds = ALL_CMDS, .group = G_JOBS, .kind = K_INT, .dflt = "3600", .min = 10,
   .max = 7 * 86400, .unit = "seconds", AT(train_timeout),
   .help = "Seconds one model's training may take (wall clock) before its process is killed and the job fails.",
   .details = "Training runs in a converter process of its own, in the batch lane; CPU time is limited to this "
              "times `CARBOY_TRAIN_THREADS` plus 5 s."},
  {.env = "CARBOY_TRAIN_MEMORY", .cmds = ALL_CMDS, .group = G_JOBS, .kind = K_SIZE, .dflt = "4G",
   .min = 64u << 20, .max = SIZE_ANY, .expect = "expected a size of at least 64M, such as 4G", AT(train_memory),
   .help = "Address-space limit of a training process (its features, folds and models)."},
  {.env = "CARBOY_TRAIN_THREADS", .cmds = ALL_CMDS, .group = G_JOBS, .kind = K_INT, .dflt = "1", .min = 1,
   .max = 256, .what = "CARBOY_TRAIN_THREADS", AT(train_threads),
   .help = "Threads one training gives XGBoost (gradient boosting and random forests).",
   .details = "One keeps a training to one core of the batch lane; more train faster on a machine with cores to "
              "spare. The same seed gives the same model whatever the count."},
  {.env = "CARBOY_PREDICT_MAX", .cmds = ALL_CMDS, .group = G_JOBS, .kind = K_INT, .dflt = "1000", .min = 1,
   .max = 100000, .what = "CARBOY_PREDICT_MAX", AT(predict_max),
   .help = "SMILES one `POST /api/v1/models/{id}/predict` may send; more go as a file (a prediction job)."},
  {.env = "CARBOY_TRUSTED_PROXIES", .cmds = ALL_CMDS, .group = G_HTTP, .kind = K_CIDRS,
   .expect = "10.0.0.0/8 or fd00::/8", AT(trusted_proxies),
   .help = "Reverse proxies whose `X-Forwarded-For` and `X-Forwarded-Proto` are believed.",
   .details = "The client's address (sign-in throttling, the audit log) is the right-most `X-Forwarded-For` "
              "entry that is not itself a trusted proxy, and `X-Forwarded-Proto: https` makes the session cookie "
              "`Secure` and the Origin check expect `https://`. From any other peer both headers are ignored."},
  {.env = "CARBOY_WEBHOOK_ALLOW", .cmds = ALL_CMDS, .group = G_WEBHOOKS, .kind = K_CIDRS, .expect = "10.1.2.0/24",
   AT(webhook_allow), .help = "Internal addresses webhooks may reach (an intranet receiver).",
   .details = "Otherwise a webhook's host must resolve to public addresses only: loopback, private, link-local, "
              "shared, multicast, unspecified and reserved addresses, in any spelling, are refused when the "
              "webhook is made and again on the address each connection is made to."},
  {.env = "CARBOY_WEBHOOK_QUEUE", .cmds = ALL_CMDS, .group = G_WEBHOOKS, .kind = K_INT, .dflt = "1000", .min = 1,
   .max = 1000000, .unit = "pending deliveries per webhook", AT(webhook_queue),
   .help = "Pending deliveries one webhook may have; events past that are dropped.",
   .details = "Drops are counted in `carboy_webhook_deliveries_dropped_total`."},
  {.env = "CARBOY_WEBHOOK_DISABLE_AFTER", .cmds = ALL_CMDS, .group = G_WEBHOOKS, .kind = K_INT, .dflt = "50",
   .min = 1, .max = 100000, .unit = "failed attempts in a row", AT(webhook_disable_after),
   .help = "Failed delivery attempts in a row that disable a webhook.",
   .details = "It is then listed as `disabled`, with the reason."},
  {.env = "CARBOY_CORS_ORIGINS", .cmds = ALL_CMDS, .group = G_HTTP, .kind = K_ORIGINS, AT(cors_origins),
   .help = "Origins that may call the API from a browser page of theirs, with an API token (unset: no CORS).",
   .details = "Their requests (and preflights) get `Access-Control-Allow-Origin` for that origin, and they may "
              "write with an API token, never with the session cookie (no credentials are allowed "
              "cross-origin)."},
  {.env = "CARBOY_METRICS_TOKEN", .cmds = ALL_CMDS, .group = G_HTTP, .kind = K_TEXT, .min = 16,
   AT(metrics_token), .help = "When set, `/metrics` answers only `Authorization: Bearer` this token."},
  {.env = "CARBOY_MAX_UPLOAD", .cmds = ALL_CMDS, .group = G_DATA, .kind = K_SIZE, .dflt = "64G", .min = 1,
   .max = SIZE_ANY, .expect = "expected a size in bytes such as 1073741824 or 10G", AT(max_upload),
   .help = "Largest accepted file; larger uploads answer 413."},
  {.env = "CARBOY_LOG", .cmds = ALL_CMDS, .group = G_LOG, .kind = K_ENUM, .dflt = "text", .words = log_formats,
   AT(log_json), .help = "`json`: one JSON object per line (`time`, `level`, `module`, `msg`)."},
  {.env = "CARBOY_LOG_LEVEL", .cmds = ALL_CMDS, .group = G_LOG, .kind = K_ENUM, .dflt = "info",
   .words = log_levels, AT(log_level), .help = "The least level logged; `debug` logs one line per request."},

  /* read by the modules that use them, checked here when the server starts */
  {.env = "CARBOY_INGEST_PROCESSES", .cmds = CB_CMD_SERVE, .group = G_JOBS, .kind = K_INT, .min = 1, .max = 1024,
   .what = "CARBOY_INGEST_PROCESSES", .dflt_doc = "number of cores (at most 8)",
   .help = "Processes one big SDF or SMILES file (1 MiB or more) is read by; `1` reads every file in one process.",
   .details = "The converter splits it into chunks at record boundaries and forks this many helpers (each under "
              "the same limits) that take chunks in turn."},
  {.env = "CARBOY_STRUCTURE_MATCH_MAX", .cmds = CB_CMD_SERVE, .group = G_JOBS, .kind = K_INT, .dflt = "20000",
   .min = 1, .max = 10000000, .unit = "records", .what = "CARBOY_STRUCTURE_MATCH_MAX",
   .help = "Records one substructure search matches (after the fingerprint screen) per request.",
   .details = "When the screen passes more, each page matches at most this many after its cursor (stopping "
              "once the page is full), and the answer's `total` is an estimate (`total_exact` false)."},
  {.env = "CARBOY_MATCHER_CACHE", .cmds = CB_CMD_SERVE, .group = G_JOBS, .kind = K_INT, .dflt = "50000",
   .min = 0, .max = 10000000, .unit = "molecules", .what = "CARBOY_MATCHER_CACHE",
   .help = "Molecules each structure matcher keeps read, ready for the next substructure search (`0`: none).",
   .details = "A kept molecule costs about 9 KiB of the matcher's memory (NCI molecules; `CARBOY_WORKER_MEMORY` "
              "bounds it): the default, about 450 MiB per matcher. When the cache is full it starts again empty."},
  {.env = "CARBOY_DEPICT_MAX_ATOMS", .cmds = CB_CMD_SERVE, .group = G_JOBS, .kind = K_INT, .dflt = "250", .min = 1,
   .max = 1000000, .unit = "heavy atoms", .what = "CARBOY_DEPICT_MAX_ATOMS",
   .help = "Heavy atoms above which a molecule is not drawn: its depiction and preview are a summary card instead.",
   .details = "The card gives the formula, the heavy atoms and, for a protein or nucleic acid, its chains with their "
              "residue counts and sequences (one-letter codes), which the converter records at ingest as the "
              "record's properties. The server makes it from them at once, without a job; the depict job checks "
              "the size again before Open Babel lays a molecule out (a 2-D layout of thousands of atoms runs past "
              "any timeout)."},
  {.env = "CARBOY_PREVIEW_PAGES", .cmds = CB_CMD_SERVE, .group = G_JOBS, .kind = K_INT, .dflt = "50", .min = 1,
   .max = 100000, .unit = "pages", .what = "CARBOY_PREVIEW_PAGES",
   .help = "Pages of a multi-page TIFF or a PDF that `GET /api/v1/files/{id}/preview?page=N` draws (the first N).",
   .details = "Page 1 is the preview made at ingest; any other is drawn by a converter process on its first "
              "request (a `preview` helper job in the interactive lane) and kept with the file version. A page "
              "past this bound is 404, as is one past the file's page count."},
  {.env = "CARBOY_CHEM_MAX_ATOMS", .cmds = CB_CMD_SERVE, .group = G_JOBS, .kind = K_INT, .dflt = "100000",
   .min = 1, .max = 100000000, .unit = "atoms", .what = "CARBOY_CHEM_MAX_ATOMS",
   .help = "Atoms of one molecule (one record, or a crystal's filled cell) Open Babel is asked to read or convert.",
   .details = "Counted from the file's text before Open Babel parses it (an SD counts line, PDB and mmCIF atom "
              "lines, an XYZ header, a MOL2 header, SMILES atom tokens, a CIF's atom sites times its symmetry "
              "operations for a filled cell). A record past it is kept with that reason as its error; a file "
              "whose only record is past it, or a conversion that meets one, fails at once with it."},
  {.env = "CARBOY_CHEM_MAX_BONDS", .cmds = CB_CMD_SERVE, .group = G_JOBS, .kind = K_INT, .dflt = "200000",
   .min = 1, .max = 100000000, .unit = "bonds", .what = "CARBOY_CHEM_MAX_BONDS",
   .help = "Bonds of one molecule's connection table (SD and MOL2 counts) Open Babel is asked to read.",
   .details = "Checked as `CARBOY_CHEM_MAX_ATOMS` is, before Open Babel parses the record."},
  {.env = "CARBOY_CHEM_MAX_RECORDS", .cmds = CB_CMD_SERVE, .group = G_JOBS, .kind = K_INT, .dflt = "1000000",
   .min = 1, .max = 1000000000, .unit = "records", .what = "CARBOY_CHEM_MAX_RECORDS",
   .help = "Records (molecules, reactions, data blocks) one structure file may hold to be ingested or converted.",
   .details = "An SD or SMILES file's records are counted before any is read, so the job fails at once; in other "
              "formats it fails when the record past the bound is reached. The default is what a 300 s job "
              "reads on a few cores; raise it with `CARBOY_JOB_TIMEOUT`."},
  {.env = "CARBOY_CHEM_MAX_RECORD_SIZE", .cmds = CB_CMD_SERVE, .group = G_JOBS, .kind = K_SIZE, .dflt = "64M",
   .min = 1024, .max = 1u << 30, .expect = "expected a size in bytes such as 67108864 or 64M",
   .help = "Bytes of one record's text (an SD record, a PDB model, a CIF data block) Open Babel is asked to read.",
   .details = "A CIF or RDF block past it is not held in memory."},
  {.env = "CARBOY_CHEM_IDENTIFY_MAX_ATOMS", .cmds = CB_CMD_SERVE, .group = G_JOBS, .kind = K_INT, .dflt = "10000",
   .min = 1, .max = 100000000, .unit = "atoms", .what = "CARBOY_CHEM_IDENTIFY_MAX_ATOMS",
   .help = "Atoms above which a molecule's record gets no canonical SMILES, InChI, fingerprint or "
           "ring-dependent descriptors at ingest.",
   .details = "Those grow faster than the molecule (Open Babel's canonical SMILES of a 6,000-atom chain takes "
              "6 s, of a 15,000-atom one minutes). The record keeps its formula, weights, heavy atoms and a "
              "biopolymer's chains and sequences (its summary card), and says what was skipped in its "
              "`identifiers_skipped` property; it is found by text and property search, not by structure."},
  {.env = "CARBOY_STORE_LAZY_COPY", .cmds = CB_CMD_SERVE, .group = G_DATA, .kind = K_BOOL, .dflt = "1",
   .help = "After a migration, a blob missing from the live store is read from the previous one and copied "
           "forward, verified, first; `0` turns the copy off."},
  {.env = "CARBOY_ADMIN_PASSWORD", .cmds = CB_CMD_SERVE, .group = G_HTTP, .kind = K_TEXT, .min = 8, .max = 1024,
   .expect = "a password must be ", .dflt_doc = "generated",
   .help = "Password of the `admin` user created on first start; when unset, a random one is printed once."},

  /* read and checked by the S3 store (src/store/s3.c), at start whatever the store */
  {.env = "CARBOY_S3_PART_SIZE", .group = G_S3, .kind = K_SIZE, .dflt = "8M", .min = 5u << 20, .max = 1u << 30,
   .help = "S3 multipart part size; blobs up to one part are sent in one PUT.",
   .details = "Doubled every 1,000 parts."},
  {.env = "CARBOY_S3_PARALLEL", .group = G_S3, .kind = K_INT, .dflt = "4", .min = 1, .max = 64,
   .help = "Parts of one upload in flight at once.",
   .details = "An upload holds at most (this + 1) parts in memory."},
  {.env = "CARBOY_S3_LIST_PAGE", .group = G_S3, .kind = K_INT, .dflt = "1000", .min = 1, .max = 1000,
   .help = "Keys per ListObjectsV2 page (tests use small pages)."},
  {.env = "AWS_ACCESS_KEY_ID", .group = G_S3, .kind = K_TEXT,
   .help = "S3 credentials, with `AWS_SECRET_ACCESS_KEY` (and `AWS_SESSION_TOKEN` for temporary ones).",
   .details = "Without them, the ECS container-credentials endpoint (below), fetched at start and again 5 minutes "
              "before they expire."},
  {.env = "AWS_SECRET_ACCESS_KEY", .group = G_S3, .kind = K_TEXT, .help = "See `AWS_ACCESS_KEY_ID`."},
  {.env = "AWS_SESSION_TOKEN", .group = G_S3, .kind = K_TEXT, .help = "See `AWS_ACCESS_KEY_ID`."},
  {.env = "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", .group = G_S3, .kind = K_TEXT, .values = "a path",
   .help = "ECS container credentials from `169.254.170.2` at this path."},
  {.env = "AWS_CONTAINER_CREDENTIALS_FULL_URI", .group = G_S3, .kind = K_TEXT, .values = "a URL",
   .help = "ECS container credentials from this URL (https, or http to a loopback or ECS address).",
   .details = "With `AWS_CONTAINER_AUTHORIZATION_TOKEN` or `AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE`."},
  {.env = "AWS_CONTAINER_AUTHORIZATION_TOKEN", .group = G_S3, .kind = K_TEXT,
   .help = "See `AWS_CONTAINER_CREDENTIALS_FULL_URI`."},
  {.env = "AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", .group = G_S3, .kind = K_TEXT, .values = "a file",
   .help = "See `AWS_CONTAINER_CREDENTIALS_FULL_URI`."},
  {.env = "AWS_REGION", .group = G_S3, .kind = K_TEXT, .dflt_doc = "`us-east-1`",
   .help = "The S3 region when the store URL names none."},
  {.env = "AWS_DEFAULT_REGION", .group = G_S3, .kind = K_TEXT, .help = "The S3 region when `AWS_REGION` is unset."},

  /* read by the modules that use them */
  {.env = "CARBOY_TEST_CONVERTERS", .group = G_TEST, .kind = K_TEXT, .values = "`1`",
   .help = "`1` lets the deliberately misbehaving converters claim files.",
   .details = "They are `*.crash-test`, `*.hang-test`, `*.oom-test`, `*.fail-test`, `*.slow-test`, "
              "`*.spin-test` and `*.escape-test`."},
  {.env = "CARBOY_STORE_FAULT", .group = G_TEST, .kind = K_TEXT, .values = "`OP:KIND[:AFTER[:COUNT]]`",
   .help = "Fault injection in the store.",
   .details = "`KIND` `enospc` or `eio`; `write` (a blob's write past `AFTER` bytes fails), `commit` (after "
              "`AFTER` commits), and in the file store `short` (the write(2) crossing `AFTER` bytes is cut "
              "short, the next fails) and `fsync` (a blob's fsync fails after `AFTER` pass); `COUNT` faults, "
              "then everything passes (absent: no end). Exercised by `tests/integration/test_faults.py`."},
  {.env = "CARBOY_DB_FAULT", .group = G_TEST, .kind = K_TEXT, .values = "`OP:KIND[:AFTER[:COUNT[:MATCH]]]`",
   .help = "Fault injection in SQLite (a shim VFS on the database, WAL and journals).",
   .details = "`OP` `write`, `short` (half the buffer written, then the error) or `sync`; `KIND` `enospc` "
              "(SQLITE_FULL) or `eio` (SQLITE_IOERR_WRITE/FSYNC); from the write past `AFTER` bytes (or after "
              "`AFTER` syncs), `COUNT` faults; `MATCH`: only writes whose page holds that text. Exercised by "
              "`tests/integration/test_faults.py`."},
  {.env = "CARBOY_CONFINE", .group = G_INTERNAL, .kind = K_TEXT, .dflt_doc = "–",
   .help = "The confinement layers the server set up, so that its converter process installs its own seccomp "
           "filter.",
   .details = "See [SECURITY.md](SECURITY.md)."},
  {.env = "CARBOY_WORKDIR", .group = G_INTERNAL, .kind = K_TEXT, .dflt_doc = "–",
   .help = "A converter process's work folder."},
  {.env = "CARBOY_WORKFD", .group = G_INTERNAL, .kind = K_TEXT, .dflt_doc = "–",
   .help = "The descriptor a converter process reaches its work folder by where no mount namespace could be had."},
};
// clang-format on

#define NSETTINGS (sizeof table / sizeof table[0])
_Static_assert(sizeof table / sizeof table[0] <= CB_SETTINGS_MAX, "raise CB_SETTINGS_MAX");

static int bad(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int bad(const char *fmt, ...)
{
  va_list ap;
  va_start(ap, fmt);
  fputs("carboy: ", stderr);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputc('\n', stderr);
  return 2;
}

static size_t entry_index(const char *env)
{
  for (size_t i = 0; i < NSETTINGS; i++)
    if (!strcmp(table[i].env, env))
      return i;
  abort(); /* a name not in the table: a mistake in this file */
}

const char *cb_settings_given(const struct cb_settings *s, const char *env)
{
  return s->given[entry_index(env)];
}

/* The longest text a K_TEXT entry takes. */
static uint64_t text_max(const struct setting *e)
{
  return e->max ? e->max : e->size ? e->size - 1 : 0;
}

int cb_settings_flag(unsigned cmd, const char *name)
{
  for (size_t i = 0; i < NSETTINGS; i++)
    if (table[i].flag && (table[i].flag_cmds & cmd) && !strcmp(table[i].flag, name))
      return table[i].kind == K_BOOL ? 1 : 2;
  return 0;
}

int cb_settings_parse(unsigned cmd, int argc, char **argv, struct cb_settings *s)
{
  memset(s, 0, sizeof *s);
  s->cmd = cmd;
  for (int i = 0; i < argc; i++) {
    size_t k = 0;
    while (k < NSETTINGS && !(table[k].flag && (table[k].flag_cmds & cmd) && !strcmp(table[k].flag, argv[i])))
      k++;
    if (k == NSETTINGS)
      return bad("unknown option '%s' (see 'carboy help')", argv[i]);
    if (table[k].kind == K_BOOL) {
      s->given[k] = "1";
      continue;
    }
    if (i + 1 >= argc)
      return bad("option %s needs a value", argv[i]);
    s->given[k] = argv[++i];
  }
  for (size_t k = 0; k < NSETTINGS; k++) {
    const char *v = table[k].cmds & cmd ? getenv(table[k].env) : NULL;
    if (!s->given[k] && v && *v)
      s->given[k] = v;
  }
  return 0;
}

static int valid_listen(const char *l)
{
  const char *colon = strrchr(l, ':');
  if (!colon || colon == l || !colon[1])
    return 0;
  for (const char *p = colon + 1; *p; p++)
    if (*p < '0' || *p > '9')
      return 0;
  long port = strtol(colon + 1, NULL, 10);
  return port >= 0 && port <= 65535;
}

static int check_origins(const struct setting *e, const char *v)
{
  if (strlen(v) >= e->size)
    return bad("invalid %s: longer than %zu bytes", e->env, e->size - 1);
  for (const char *o = v; *o;) {
    while (*o == ',' || *o == ' ')
      o++;
    size_t len = strcspn(o, ", ");
    size_t skip = !strncmp(o, "https://", 8) ? 8 : !strncmp(o, "http://", 7) ? 7 : 0;
    if (len && (!skip || len <= skip || memchr(o + skip, '/', len - skip)))
      return bad("invalid %s: '%.*s' is not an origin (scheme://host[:port], no path)", e->env, (int)len, o);
    o += len;
  }
  return 0;
}

/* "expected a, b or c" */
static void expect_words(const char *const *w, char *out, size_t cap)
{
  size_t n = 0;
  while (w[n])
    n++;
  size_t used = (size_t)snprintf(out, cap, "expected");
  for (size_t i = 0; i < n && used < cap; i++)
    used += (size_t)snprintf(out + used, cap - used, "%s%s", i == 0 ? " " : i + 1 == n ? " or " : ", ", w[i]);
}

/* Reads v as entry e wants it into its field (when it has one). 0, or 2 after the error. */
static int check_one(const struct setting *e, const char *v, struct cb_settings *s)
{
  char *field = e->size ? (char *)s + e->off : NULL;
  /* a field of another type than its kind writes: a mistake in the table */
  size_t want = e->kind == K_SIZE                                            ? sizeof(uint64_t)
                : e->kind == K_URL                                           ? sizeof(const char *)
                : e->kind == K_INT || e->kind == K_BOOL || e->kind == K_ENUM ? sizeof(int)
                                                                             : 0;
  if (field && want && e->size != want)
    abort();
  switch (e->kind) {
  case K_INT: {
    char what[128], *end;
    if (e->what || !e->unit)
      snprintf(what, sizeof what, "%s", e->what ? e->what : e->env);
    else
      snprintf(what, sizeof what, "%s (%s)", e->env, e->unit);
    errno = 0;
    long x = strtol(v, &end, 10);
    if (errno || end == v || *end || x < 0 || (uint64_t)x < e->min || (uint64_t)x > e->max)
      return bad("invalid %s '%s': expected a whole number from %llu to %llu", what, v, (unsigned long long)e->min,
                 (unsigned long long)e->max);
    if (field)
      *(int *)(void *)field = (int)x;
    return 0;
  }
  case K_SIZE: {
    uint64_t x;
    if (cb_parse_size(v, &x) || x < e->min || x > e->max)
      return bad("invalid %s '%s': %s", e->env, v, e->expect);
    if (field)
      *(uint64_t *)(void *)field = x;
    return 0;
  }
  case K_BOOL:
    if (strcmp(v, "0") && strcmp(v, "1"))
      return bad("invalid %s '%s': expected 0 or 1", e->env, v);
    if (field)
      *(int *)(void *)field = v[0] == '1';
    return 0;
  case K_ENUM: {
    for (int i = 0; e->words[i]; i++)
      if (!strcmp(v, e->words[i])) {
        if (field)
          *(int *)(void *)field = i;
        return 0;
      }
    char expect[128];
    expect_words(e->words, expect, sizeof expect);
    return bad("invalid %s '%s': %s", e->env, v, expect);
  }
  case K_TEXT:
    if (e->min && (strlen(v) < e->min || strlen(v) > text_max(e)))
      return bad("invalid %s: %s%llu to %llu characters", e->env, e->expect ? e->expect : "",
                 (unsigned long long)e->min, (unsigned long long)text_max(e));
    break;
  case K_URL:
    if (field)
      *(const char **)(void *)field = v;
    return 0;
  case K_PATH:
    if (field && strlen(v) >= e->size)
      return bad("%s is too long", e->env);
    break;
  case K_LISTEN:
    if (!valid_listen(v))
      return bad("invalid listen address '%s': expected HOST:PORT, e.g. 127.0.0.1:8080", v);
    break;
  case K_CIDRS: {
    struct cb_cidr cidrs[CB_CIDR_MAX];
    int n = 0;
    struct cb_errbuf what = {""};
    if (cb_cidr_parse_list(v, cidrs, CB_CIDR_MAX, &n, &what))
      return bad("invalid %s: '%s' is not an address or CIDR (such as %s)", e->env, what.msg, e->expect);
    break;
  }
  case K_ORIGINS:
    if (check_origins(e, v))
      return 2;
    break;
  }
  if (field) /* the text kinds: a copy in the field */
    snprintf(field, e->size, "%s", v);
  return 0;
}

/* The defaults that depend on other settings or on the machine, and the checks across
 * settings, after the table's pass. */
static int derive(struct cb_settings *s)
{
  if (!cb_settings_given(s, "CARBOY_WORKERS")) {
    s->workers = (int)sysconf(_SC_NPROCESSORS_ONLN);
    if (s->workers < 1)
      s->workers = 1;
  }
  if (!cb_settings_given(s, "CARBOY_MATCHERS")) {
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    s->matchers = cores < 1 ? 1 : cores > 8 ? 8 : (int)cores;
  }
  if (!cb_settings_given(s, "CARBOY_INTERACTIVE_WORKERS")) {
    /* two on a laptop (a depiction beside a preview), a quarter of a large server's cores */
    int cores = (int)sysconf(_SC_NPROCESSORS_ONLN);
    s->interactive_workers = cores / 4 > 64 ? 64 : cores / 4 > 2 ? cores / 4 : 2;
  }
  if (!cb_settings_given(s, "CARBOY_HTTP_PER_CLIENT"))
    s->per_client = s->http_threads - s->http_threads / 4;
  if (!cb_settings_given(s, "CARBOY_ORPHAN_GRACE"))
    s->orphan_grace = s->job_timeout > 3600 ? s->job_timeout : 3600;
  else if (s->orphan_grace && s->orphan_grace < s->job_timeout)
    return bad("invalid CARBOY_ORPHAN_GRACE '%d': expected 0 or at least CARBOY_JOB_TIMEOUT (%d s), since a "
               "job stores its artifacts before it records them",
               s->orphan_grace, s->job_timeout);
  return 0;
}

int cb_settings_check(struct cb_settings *s)
{
  for (size_t k = 0; k < NSETTINGS; k++) {
    const char *v = s->given[k] ? s->given[k] : table[k].dflt;
    if ((table[k].cmds & s->cmd) && v && check_one(&table[k], v, s))
      return 2;
  }
  return derive(s);
}

int cb_settings_load(unsigned cmd, int argc, char **argv, struct cb_settings *s)
{
  return cb_settings_parse(cmd, argc, argv, s) ? 2 : cb_settings_check(s);
}

/* ---- help ---- */

static const char *fmt_size(uint64_t v, char *buf, size_t cap)
{
  static const char units[] = "KMGT";
  int u = -1;
  while (u < 3 && v && v % 1024 == 0) {
    v /= 1024;
    u++;
  }
  snprintf(buf, cap, "%llu%.*s", (unsigned long long)v, u >= 0 ? 1 : 0, u >= 0 ? units + u : "");
  return buf;
}

/* What an entry takes, in words ("1 to 3600 seconds", "a size, 64M or more"). */
static void describe(const struct setting *e, char *out, size_t cap)
{
  char lo[32], hi[32];
  if (e->values) {
    snprintf(out, cap, "%s", e->values);
    return;
  }
  switch (e->kind) {
  case K_INT:
    snprintf(out, cap, "%llu to %llu%s%s", (unsigned long long)e->min, (unsigned long long)e->max, e->unit ? " " : "",
             e->unit ? e->unit : "");
    return;
  case K_SIZE:
    if (e->max == SIZE_ANY)
      snprintf(out, cap, "a size, %s or more", fmt_size(e->min, lo, sizeof lo));
    else
      snprintf(out, cap, "a size, %s to %s", fmt_size(e->min, lo, sizeof lo), fmt_size(e->max, hi, sizeof hi));
    if (e->unit)
      snprintf(out + strlen(out), cap - strlen(out), " (%s)", e->unit);
    return;
  case K_BOOL: snprintf(out, cap, "`0` or `1`"); return;
  case K_ENUM: {
    size_t used = 0;
    out[0] = '\0';
    for (int i = 0; e->words[i] && used < cap; i++)
      used += (size_t)snprintf(out + used, cap - used, "%s`%s`", i ? ", " : "", e->words[i]);
    return;
  }
  case K_TEXT:
    if (text_max(e))
      snprintf(out, cap, "%llu to %llu characters", (unsigned long long)e->min, (unsigned long long)text_max(e));
    else
      snprintf(out, cap, "text");
    return;
  case K_URL: snprintf(out, cap, "a store URL"); return;
  case K_PATH: snprintf(out, cap, "a folder"); return;
  case K_LISTEN: snprintf(out, cap, "`HOST:PORT`"); return;
  case K_CIDRS: snprintf(out, cap, "addresses or CIDRs, comma- or space-separated"); return;
  case K_ORIGINS: snprintf(out, cap, "origins `scheme://host[:port]`, comma- or space-separated"); return;
  }
}

/* The default as help shows it (Markdown). */
static void default_text(const struct setting *e, char *out, size_t cap)
{
  if (e->dflt_doc || !e->dflt)
    snprintf(out, cap, "%s", e->dflt_doc ? e->dflt_doc : "unset");
  else
    snprintf(out, cap, "`%s`", e->dflt);
}

/* Text for a terminal: without Markdown's backticks, words wrapped at 88 columns under
 * an indent of six, from column col. Returns the column it ends in. */
static int put_plain(const char *s, FILE *out, int col)
{
  while (*s) {
    size_t len = strcspn(s, " "), ticks = 0;
    for (size_t i = 0; i < len; i++)
      ticks += s[i] == '`';
    if (col > 6 && col + (int)(len - ticks) + 1 > 88) {
      fputs("\n      ", out);
      col = 6;
    } else if (col > 6) {
      fputc(' ', out);
      col++;
    }
    for (size_t i = 0; i < len; i++)
      if (s[i] != '`')
        fputc(s[i], out);
    col += (int)(len - ticks);
    s += len;
    while (*s == ' ')
      s++;
  }
  return col;
}

/* A flag as usage shows it: "--data DIR", "--repair". */
static void flag_text(const struct setting *e, char *out, size_t cap)
{
  snprintf(out, cap, "%s%s%s", e->flag, e->metavar ? " " : "", e->metavar ? e->metavar : "");
}

void cb_settings_print_names(FILE *out)
{
  fputs("settings (a flag wins over the environment, the environment over the default;\n"
        "'carboy help settings' says what each does, docs/CONFIGURATION.md more):\n",
        out);
  for (int g = 0; g < G_INTERNAL; g++) {
    int col = fprintf(out, "  %s:", group_names[g]);
    for (size_t k = 0; k < NSETTINGS; k++) {
      if (table[k].group != (enum group)g)
        continue;
      char item[96];
      int n = table[k].flag ? snprintf(item, sizeof item, " %s (%s)", table[k].env, table[k].flag)
                            : snprintf(item, sizeof item, " %s", table[k].env);
      if (col + n > 88) {
        fputs("\n   ", out);
        col = 3;
      }
      col += fprintf(out, "%s", item);
    }
    fputc('\n', out);
  }
}

void cb_settings_print_help(FILE *out)
{
  fputs("A flag wins over the environment, the environment over the default. Sizes are bytes,\n"
        "or with a K, M, G or T suffix (powers of 1024). docs/CONFIGURATION.md says more.\n",
        out);
  for (int g = 0; g < G_COUNT; g++) {
    fprintf(out, "\n%s\n", group_names[g]);
    for (size_t k = 0; k < NSETTINGS; k++) {
      const struct setting *e = &table[k];
      if (e->group != (enum group)g)
        continue;
      char flag[64] = "", values[160], dflt[96];
      if (e->flag)
        flag_text(e, flag, sizeof flag);
      describe(e, values, sizeof values);
      default_text(e, dflt, sizeof dflt);
      char line[400];
      snprintf(line, sizeof line, "%s%s%s  [%s; default %s]", flag, e->flag ? ", " : "", e->env, values, dflt);
      fputs("  ", out);
      put_plain(line, out, 2);
      fputs("\n      ", out);
      put_plain(e->help, out, 6);
      fputc('\n', out);
    }
  }
}

/* The commands whose flag it is, when it is not the server's: " (carboy migrate)". */
static void flag_commands(const struct setting *e, char *out, size_t cap)
{
  static const char *const names[] = {"serve", "user", "jobs", "import", "migrate", "verify", "backup", "restore"};
  size_t used = 0;
  out[0] = '\0';
  if (e->flag_cmds & CB_CMD_SERVE)
    return;
  for (int i = 0; i < 8 && used < cap; i++)
    if (e->flag_cmds & (1u << i))
      used += (size_t)snprintf(out + used, cap - used, "%s`carboy %s`", used ? ", " : " (", names[i]);
  if (used && used < cap)
    snprintf(out + used, cap - used, ")");
}

void cb_settings_print_markdown(FILE *out)
{
  for (int g = 0; g < G_COUNT; g++) {
    fprintf(out, "%s### %s\n\n| Flag | Environment | Default | Values | Meaning |\n|---|---|---|---|---|\n",
            g ? "\n" : "", group_names[g]);
    for (size_t k = 0; k < NSETTINGS; k++) {
      const struct setting *e = &table[k];
      if (e->group != (enum group)g)
        continue;
      char flag[64] = "", cmds[96] = "", values[160], dflt[96];
      if (e->flag) {
        flag_text(e, flag, sizeof flag);
        flag_commands(e, cmds, sizeof cmds);
      }
      describe(e, values, sizeof values);
      default_text(e, dflt, sizeof dflt);
      fprintf(out, "| %s%s%s%s | `%s` | %s | %s | %s%s%s |\n", e->flag ? "`" : "", flag, e->flag ? "`" : "", cmds,
              e->env, dflt, values, e->help, e->details ? " " : "", e->details ? e->details : "");
    }
  }
}
