/* The HTTP layer: civetweb glue, the route table, one file per resource. Handlers parse
 * and validate requests, call the services below them and write JSON or problem+json.
 * Nothing here is used outside src/http except server.h. */
#ifndef CB_HTTP_INTERNAL_H
#define CB_HTTP_INTERNAL_H
#include <civetweb.h>
#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

#include "auth/auth.h"
#include "db/db.h"
#include "http/server.h"
#include "jobs/jobs.h"
#include "store/store.h"
#include "util/util.h"

#define HTTP_MAX_PARAMS 3
#define HTTP_JSON_MAX (1u << 20)             /* request JSON bodies */
#define HTTP_DRAIN_MAX (8u << 20)            /* of a refused body being sent, read and thrown away */
#define HTTP_DRAIN_NS (5ull * 1000000000ull) /* for at most this long */
#define HTTP_JSON_DEPTH 64                   /* nesting of arrays and objects in them */

struct req {
  struct mg_connection *conn;
  const struct mg_request_info *ri;
  const char *method;
  int is_head;
  char *params[HTTP_MAX_PARAMS]; /* decoded path parameters, in pattern order */
  struct cb_identity who;
  int status; /* status sent, for metrics and the access log */
  uint64_t bytes_in;
  uint64_t bytes_out;
  int continued;    /* "100 Continue" sent (or not needed) */
  uint64_t t0_ns;   /* when the head had been read */
  int body_watched; /* the front watches the body's rate */
  int too_slow;     /* the body fell below CARBOY_BODY_MIN_RATE: reads fail, the answer is 408 */
  /* the edge (server.c): the client's address (X-Forwarded-For from a trusted proxy, else
   * the peer), whether it came over HTTPS (X-Forwarded-Proto from a trusted proxy, or TLS
   * here), and its Origin when CARBOY_CORS_ORIGINS allows it (answers then carry CORS) */
  char client[48];
  int https;
  const char *cors_origin;
  int vary_accept;  /* the answer depends on Accept (a page or JSON): Vary says so */
  int stream;       /* an event stream: slow by nature, its reader's rate is not watched */
  int send_watched; /* the front watches the response's reader (CARBOY_SEND_MIN_RATE) */
};

/* Response headers a cross-origin script may read (tus and carboy's own). */
#define HTTP_CORS_EXPOSE                                                              \
  "Location, ETag, Content-Disposition, Retry-After, Upload-Offset, Upload-Length, "  \
  "Tus-Resumable, Tus-Version, Tus-Extension, Tus-Max-Size, Tus-Checksum-Algorithm, " \
  "Carboy-File-Id"

typedef int (*http_handler)(struct req *r);

/* What a route needs of its caller, checked in one place (the dispatcher) before the
 * handler runs; handlers check access to the objects they touch. */
enum http_scope {
  HTTP_PUBLIC = 0, /* no identity is taken (operations, the UI's pages, /s/ links) */
  HTTP_READ,       /* reads: any identity, anonymous included (public objects) */
  HTTP_WRITE,      /* changes something: not a read-scoped token (403) */
  HTTP_ADMIN,      /* an administrator with a write-scoped credential */
};

struct route {
  const char *method;
  const char *pattern; /* "/api/v1/files/{id}/content" */
  http_handler fn;
  enum http_scope scope;
};
/* "public", "read", "write" or "admin". */
const char *http_scope_name(enum http_scope s);

extern const struct route http_routes[];
extern const int http_route_count;

/* The running server's configuration and services. */
struct http_app {
  struct cb_server_config cfg;
  struct store *store;
  uint64_t started_ms;
};
extern struct http_app app;

/* ---- responses (respond.c) ---- */
/* Starts a response: status line and headers. extra: NULL-terminated name/value pairs. */
int http_begin(struct req *r, int status, const char *ctype, int64_t length, const char *const *extra);
int http_write(struct req *r, const void *buf, size_t n);
int http_send(struct req *r, int status, const char *ctype, const void *body, size_t n, const char *const *extra);
/* Sends json (and frees it). */
int http_json(struct req *r, int status, cJSON *json);
int http_json_extra(struct req *r, int status, cJSON *json, const char *const *extra);
/* http_json with Cache-Control: no-store, for an answer that holds a secret or depends on
 * who asks (a new token, the session). */
int http_json_private(struct req *r, int status, cJSON *json);
/* application/problem+json with a detail; field (may be NULL) names the bad input. */
int http_problem(struct req *r, int status, const char *field, const char *fmt, ...)
  __attribute__((format(printf, 4, 5)));
int http_problem_extra(struct req *r, int status, const char *field, const char *const *extra, const char *fmt, ...)
  __attribute__((format(printf, 5, 6)));
/* 401 unless the caller is a signed-in user (session or token); 0 when they are. */
int http_require_user(struct req *r);
/* 401/403 unless the caller is an administrator (with a write-capable credential). */
int http_require_admin(struct req *r);
/* Writes an audit entry for the caller's request. */
void http_audit(struct req *r, const char *action, const char *object_type, const char *object_id, const char *detail);
/* Maps a service error to a problem response. */
int http_error(struct req *r, cb_err e, const char *detail);
int http_no_content(struct req *r, const char *const *extra);
/* The body was not all read (an early error): the connection must not be reused. */
void http_drop_body(struct req *r);

/* ---- requests (respond.c) ---- */
const char *http_header(struct req *r, const char *name);
/* Query parameter, URL-decoded into out. 1 when present, 0 when absent, -1 if malformed. */
int http_query(struct req *r, const char *name, char *out, size_t cap);
/* The same for the nth (from 0) occurrence of a repeated parameter. */
int http_query_nth(struct req *r, const char *name, int nth, char *out, size_t cap);
/* Reads a JSON object body (Content-Type application/json, at most HTTP_JSON_MAX). On
 * failure it has already answered (400/413/415) and returns NULL. */
cJSON *http_read_json(struct req *r);
/* Reads up to n body bytes; 0 at the end, <0 on error. Counts bytes_in. */
int http_read(struct req *r, void *buf, size_t n);
/* Answers "Expect: 100-continue" the first time the body is about to be read. */
void http_continue(struct req *r);
int http_media_is(struct req *r, const char *media_type);
/* Pagination: limit (1..1000, default 100) and opaque cursor; answers 400 when bad. */
int http_page(struct req *r, int *limit, char *cursor, size_t cap);
/* True once the server is stopping and the shutdown grace period has run out. */
int http_must_abort(void);
/* A store sink that writes to the response (stops when the client goes or on abort). */
int http_sink(void *ctx, const void *buf, size_t n);

/* ---- JSON helpers (json.c) ---- */
/* The JSON shape of a struct as a table, like db's column tables: each entry names a
 * member, which becomes the JSON member of the same name. JS_TEXT: a char array, always;
 * JS_NULLABLE: a char array, null when empty; JS_IF_SET: a char array, left out when
 * empty; JS_PTR_IF_SET: a char pointer, left out when NULL; JS_BOOL: an int as true or
 * false; JS_NUMBER: an int, int64_t or double. */
enum json_shape_kind { JS_TEXT, JS_NULLABLE, JS_IF_SET, JS_PTR_IF_SET, JS_BOOL, JS_INT, JS_INT64, JS_REAL };
struct json_shape {
  const char *name;
  enum json_shape_kind kind;
  size_t off;
};
/* Each entry is checked against its member's type at compile time, as db's column tables
 * are: a char array for JS_TEXT, JS_NULLABLE and JS_IF_SET, a char pointer for
 * JS_PTR_IF_SET, an int for JS_BOOL (a mismatch declares an array of size -1). */
#define JS_CLASS_OF(T, f) _Generic(&((T *)0)->f, char(*)[sizeof(((T *)0)->f)] : 1, char ** : 2, int * : 3)
#define JS_CLASS_FOR(kind) ((kind) == JS_PTR_IF_SET ? 2 : (kind) == JS_BOOL ? 3 : 1)
#define JS_CHECKED(T, f, kind) \
  (enum json_shape_kind)((kind) + 0 * sizeof(char[JS_CLASS_OF(T, f) == JS_CLASS_FOR(kind) ? 1 : -1]))
#define JS_FIELD(T, f, kind)                   \
  {                                            \
#f, JS_CHECKED(T, f, kind), offsetof(T, f) \
  }
#define JS_NUMBER(T, f)                                                                           \
  {                                                                                               \
#f, _Generic(((T *)0)->f, int : JS_INT, int64_t : JS_INT64, double : JS_REAL), offsetof(T, f) \
  }
/* Adds obj's members that shape names to the JSON object o; returns o. */
cJSON *json_shape_add(cJSON *o, const void *obj, const struct json_shape *shape, size_t n);
#define JSON_SHAPE(o, obj, shape) json_shape_add((o), (obj), (shape), sizeof(shape) / sizeof *(shape))
cJSON *json_folder(const struct cb_folder *f);
cJSON *json_file(const struct cb_file *f, int full);
/* A db_property_cb appending {name, value, unit?, iri?, source} to the cJSON array ctx. */
int json_add_property(const struct cb_property *p, void *ctx);
/* Reads an optional string member: 0 absent/null, 1 present, -1 wrong type (answered). */
int json_opt_string(struct req *r, cJSON *obj, const char *name, const char **out);
/* A string, or null for NULL or "". */
cJSON *json_str_or_null(const char *s);
/* The JSON body of a signed-in user's request: NULL once it has answered (401, or as
 * http_read_json does). */
cJSON *http_read_user_json(struct req *r);
/* The same for a request by which the user creates `what` ("folders"), with a 403 for a
 * read-only token. */
cJSON *http_read_create_json(struct req *r, const char *what);
/* Sends json with 200, or, when e is set, frees it and answers http_error(r, e, detail). */
int http_json_or_error(struct req *r, cJSON *json, cb_err e, const char *detail);
/* Defines NAME, a db visitor of TYPE rows that appends JSON_FN(row) to the cJSON array
 * it is handed as its context (as DB_VISITOR does for the db's row readers). */
#define HTTP_JSON_VISITOR(name, type, json_fn)  \
  static int name(const type *row, void *array) \
  {                                             \
    cJSON_AddItemToArray(array, json_fn(row));  \
    return 0;                                   \
  }
/* The answer to a DELETE of the `what` ("token") named by r->params[0], which the database
 * answered e: 404 when there is none, the error with `detail`, else 204 once audited as
 * `action`. */
int http_deleted(struct req *r, cb_err e, const char *what, const char *action, const char *detail);
void http_cursor_encode(const char *kind, const char *name, char *out, size_t cap);
int http_cursor_decode(const char *cursor, char *kind, char *name, size_t cap);

/* ---- access helpers (folders.c / files.c) ---- */
/* Loads a folder the caller may access with need; answers 404 and returns non-zero if not. */
int http_access_error(struct req *r, cb_err e, const char *what, const char *id);
cJSON *http_folder_json(struct req *r, struct cb_folder *f);
int http_load_folder(struct req *r, const char *id, enum cb_access need, struct cb_folder *f);
/* 1 when the caller holds the owner role on the object (its owner, the owner of a folder
 * above it, an admin): what a move into a folder of another owner needs. */
int http_is_owner(struct req *r, const char *type, const char *id);
/* The caller as a db_viewer, for lists whose access filter runs in the query. */
void http_viewer(const struct req *r, struct db_viewer *v);
int http_load_file(struct req *r, const char *id, enum cb_access need, struct cb_file *f);
/* The caller's rights on a folder or file, as the handlers enforce them (auth_role): read
 * for a viewer; write, share and delete too for an editor, an owner or an admin; never
 * more than read for a read-only token, a share link or an anonymous caller. 0: may not
 * see it. owner_id (may be NULL) and inherited (the rights on the folder it lies in, 0
 * when not known) spare the query when they settle the answer. */
enum { HTTP_CAN_READ = 1, HTTP_CAN_WRITE = 2, HTTP_CAN_SHARE = 4, HTTP_CAN_DELETE = 8, HTTP_CAN_ALL = 15 };
unsigned http_can(const struct req *r, const char *type, const char *id, const char *owner_id, unsigned inherited);
/* Adds "can": ["read", "write", "share", "delete"] (those in mask, in that order) to o; returns o. */
cJSON *json_add_can(cJSON *o, unsigned mask);
/* json_file / json_folder with the caller's "can". */
cJSON *http_file_json(struct req *r, const struct cb_file *f, int full);
/* Stores the body (or what reader yields) as a version of folder/name; answers. */
int files_store_body(struct req *r, const struct cb_folder *folder, const char *name);

/* ---- handlers ---- */
int h_healthz(struct req *r);
int h_readyz(struct req *r);
int h_metrics(struct req *r);
int h_openapi(struct req *r);
int h_ui(struct req *r);
int h_ui_asset(struct req *r);
int http_ui_page(struct req *r); /* h_ui with Vary: Accept, for URLs that answer JSON too */
int h_me(struct req *r);
int h_session(struct req *r);
int h_login(struct req *r);
int h_logout(struct req *r);
int h_tokens_create(struct req *r);
int h_tokens_list(struct req *r);
int h_tokens_delete(struct req *r);
int h_users_create(struct req *r);
int h_users_list(struct req *r);
int h_user_patch(struct req *r);
int h_user_delete(struct req *r);
int h_user_sessions_delete(struct req *r);
int h_me_password(struct req *r);
int h_me_sessions_delete(struct req *r);
int h_groups_create(struct req *r);
int h_groups_list(struct req *r);
int h_group_members_add(struct req *r);
int h_group_members_delete(struct req *r);
int h_audit_list(struct req *r);
int h_share_visibility(struct req *r);
int h_share_grants_create(struct req *r);
int h_share_grants_list(struct req *r);
int h_share_grants_delete(struct req *r);
int h_share_links_create(struct req *r);
int h_share_links_list(struct req *r);
int h_link_delete(struct req *r);
int h_link_root(struct req *r);
int h_link_archive(struct req *r);
int h_link_folder(struct req *r);
int h_link_file(struct req *r);
int h_link_file_content(struct req *r);
int h_link_info(struct req *r);
int h_link_folder_archive(struct req *r);
int h_link_file_preview(struct req *r);
int h_link_file_text(struct req *r);
int h_link_file_records(struct req *r);
int h_link_file_convert(struct req *r);
int h_link_file_artifact(struct req *r);
int h_link_record_depiction(struct req *r);
int h_folders_create(struct req *r);
int h_folders_list(struct req *r);
int h_folder_get(struct req *r);
int h_folder_patch(struct req *r);
int h_folder_delete(struct req *r);
int h_folder_archive(struct req *r);
int h_files_upload_multipart(struct req *r);
int h_files_put(struct req *r);
int h_file_get(struct req *r);
int h_file_patch(struct req *r);
int h_file_delete(struct req *r);
int h_file_version_restore(struct req *r);
int h_trash_list(struct req *r);
int h_file_restore(struct req *r);
int h_folder_restore(struct req *r);
int h_file_content(struct req *r);
int h_tus_options(struct req *r);
int h_tus_create(struct req *r);
int h_tus_head(struct req *r);
int h_tus_patch(struct req *r);
int h_tus_delete(struct req *r);
void tus_sweep_expired(void);
int h_jobs_create(struct req *r);
int h_jobs_list(struct req *r);
int h_job_get(struct req *r);
int h_job_cancel(struct req *r);
int h_job_retry(struct req *r);
int h_events(struct req *r);
int h_webhooks_create(struct req *r);
int h_webhooks_list(struct req *r);
int h_webhooks_delete(struct req *r);
int h_webhooks_patch(struct req *r);
int h_file_text(struct req *r);
int h_file_records(struct req *r);
int h_record_get(struct req *r);
int h_record_depiction(struct req *r);
int h_file_preview(struct req *r);
int h_search_structure(struct req *r);
int h_search(struct req *r);
/* Queues a job of `type` (params: JSON text; input_id may be NULL) in the interactive lane
 * for the caller and waits up to timeout_s: 1 succeeded, 0 failed or canceled (eb says
 * why), -1 still running at the timeout or at shutdown, -2 not queued. A job queued or
 * running with the same type, inputs and params is joined instead of queuing another, so
 * concurrent requests for the same depiction or conversion share one job (the route checks
 * access first). cancel_on_timeout: the job is canceled at the timeout, by the request that
 * queued it only (never by one that joined it). */
int http_run_job(struct req *r, const char *type, const char *params, const char *input_id, int timeout_s,
                 int cancel_on_timeout, char job_id[CB_ID_LEN + 1], struct cb_errbuf *eb);
int h_file_convert(struct req *r);
int h_models_create(struct req *r);
int h_models_list(struct req *r);
int h_model_get(struct req *r);
int h_model_predict(struct req *r);
int h_schemas_list(struct req *r);
int h_schema_get(struct req *r);
/* Validates user metadata against the built-in schemas; answers 400 and returns non-zero. */
int http_validate_metadata(struct req *r, const cJSON *meta);
/* The schema metadata names with "$schema" other than "metadata" (parsed; the caller frees
 * it), or NULL. */
cJSON *http_metadata_schema(const cJSON *meta);
/* Gives each property that has no unit (iri) of its own the x-unit (x-iri) its name has in
 * schema (may be NULL); the strings point into schema. */
void http_schema_annotate(const cJSON *schema, struct cb_property *props, int n);
int h_file_artifact(struct req *r);
int h_categories_list(struct req *r);
int h_categories_create(struct req *r);
int h_category_patch(struct req *r);
int h_category_delete(struct req *r);
int h_file_categories_put(struct req *r);
int h_folder_categories_put(struct req *r);
/* The categories assigned to a file or folder: [{id, name, path, iri?}] (categories.c). */
cJSON *json_categories(const char *object_type, const char *object_id);
/* True from the moment shutdown begins (long-lived streams end then). */
int http_stopping(void);
/* Starts the webhook threads; allow_spec: CARBOY_WEBHOOK_ALLOW (CIDRs of internal
 * addresses webhooks may reach); queue: pending deliveries per webhook; disable: failed
 * attempts in a row that disable a webhook (0: the defaults). */
cb_err webhooks_start(const char *allow_spec, int queue, int disable, struct cb_errbuf *eb);
void webhooks_stop(void);
/* Events dropped because a webhook's queue was full; webhooks disabled for failing. */
uint64_t webhooks_dropped(void);
uint64_t webhooks_disabled(void);

/* ---- metrics (metrics.c) ---- */
void metrics_observe(int route, int status, uint64_t ns, uint64_t in, uint64_t out);
int metrics_render(struct cb_buf *b);

#endif
