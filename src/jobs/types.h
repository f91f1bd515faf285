/* The table of job types (types.c): what each type is called, what runs it, who may start
 * it through POST /api/v1/jobs, the checks of its parameters there, and its lane. The HTTP
 * layer, the queue's workers and anything that starts jobs look a type up here by name;
 * a new type is one entry in the table plus its handler. */
#ifndef CB_JOBS_TYPES_H
#define CB_JOBS_TYPES_H
#include <stddef.h>

#include "util/err.h"

struct cJSON;
struct job_run; /* one running job (queue.c) */

/* What a handler made of its job. */
enum job_outcome {
  JOB_DONE,    /* succeeded, its effects committed with that state */
  JOB_FAIL,    /* failed for good (the input is at fault): err says why */
  JOB_RETRY,   /* failed for now (store or database trouble): again later, up to max_attempts */
  JOB_STOPPED, /* canceled, the lease lost, or the server stopping */
};

/* Whom a job keeps waiting: the queue's lanes (queue.c), stored as jobs.lane. */
enum job_lane {
  JOB_LANE_INTERACTIVE, /* a request is waiting for it */
  JOB_LANE_BATCH,       /* background work: a client polls or follows the events */
};

/* Who may start a job of the type. */
enum job_start {
  JOB_START_INTERNAL, /* only the server itself (a route that waits for it): a helper job,
                       * left out of GET /api/v1/jobs unless an admin asks (helpers=true) */
  JOB_START_USER,     /* any signed-in user too, through POST /api/v1/jobs */
  JOB_START_ROUTE,    /* a route of its own starts it for the user (a model's training, a
                       * file's predictions): listed as theirs, not startable through
                       * POST /api/v1/jobs */
};

struct job_type {
  const char *name; /* as stored in jobs.type and shown in the API */
  enum job_outcome (*run)(struct job_run *r, struct cb_errbuf *eb);
  enum job_start start;
  /* POST /api/v1/jobs, for JOB_START_USER types: */
  int writes_input;        /* the caller needs write access to its inputs (else read) */
  int one_input;           /* it takes exactly one input file (else up to 100, or none) */
  int output_beside_input; /* without output_folder_id its output lands in the input's folder */
  /* the checks of params (NULL when absent): NULL, or what is wrong with them */
  const char *(*check)(const struct cJSON *params);
  int shows_result; /* the job's result is part of its JSON (else internal, maybe large) */
  /* for a job started in the background; a job a request waits for (http_run_job, e.g. a
   * conversion for a download) is interactive whatever its type */
  enum job_lane lane;
};

/* The table, in the order the API lists the types; ends with an entry whose name is NULL. */
extern const struct job_type job_types[];

/* The type called name, or NULL. */
const struct job_type *job_type_find(const char *name);

/* The artifact a conversion of a file version is kept as (GET .../convert finds it, a
 * convert job with params.inline makes it): "to-FMT", "to-FMT.N" for a workbook's sheet
 * N > 1, "to-FMT.filled" for a crystal's filled unit cell. */
#define JOB_ARTIFACT_KIND 16
void job_convert_artifact(const char *to, int sheet, int filled, char kind[JOB_ARTIFACT_KIND]);

/* The artifact page N (from 2) of a file version's preview is kept as: "preview-pN"
 * (GET /files/{id}/preview?page=N finds it, a preview job makes it). */
void job_preview_artifact(int page, char kind[JOB_ARTIFACT_KIND]);

/* The handlers (queue.c), called through the table only. */
enum job_outcome job_run_ingest(struct job_run *r, struct cb_errbuf *eb);
enum job_outcome job_run_convert(struct job_run *r, struct cb_errbuf *eb);
enum job_outcome job_run_unpack(struct job_run *r, struct cb_errbuf *eb);
enum job_outcome job_run_noop(struct job_run *r, struct cb_errbuf *eb);
enum job_outcome job_run_depict(struct job_run *r, struct cb_errbuf *eb);
enum job_outcome job_run_preview(struct job_run *r, struct cb_errbuf *eb);
enum job_outcome job_run_train(struct job_run *r, struct cb_errbuf *eb);
enum job_outcome job_run_predict(struct job_run *r, struct cb_errbuf *eb);

#endif
