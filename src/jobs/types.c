/* The job types: one entry each (types.h tells the fields). The handlers are in queue.c.
 * Uploads queue "ingest" jobs from the database layer (db_file_put_tx), which names the
 * type without looking it up here: db/ sits below jobs/. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "jobs/types.h"

/* which version an ingest reads: a whole number (the worker casts it, and a cast of 1e300
 * is undefined behaviour); asked of every type a user starts */
static const char *check_version(const cJSON *params)
{
  const cJSON *version = params ? cJSON_GetObjectItemCaseSensitive(params, "version") : NULL;
  if (version && (!cJSON_IsNumber(version) || !(version->valuedouble >= 1 && version->valuedouble <= 9e15) ||
                  version->valuedouble != (double)(int64_t)version->valuedouble))
    return "params.version must be a whole number from 1 (a version of the input file)";
  return NULL;
}

static const char *check_convert(const cJSON *params)
{
  const cJSON *to = params ? cJSON_GetObjectItemCaseSensitive(params, "to") : NULL;
  if (!cJSON_IsString(to) || !*to->valuestring || strlen(to->valuestring) > 16)
    return "a convert job needs params.to, the target format (e.g. \"txt\")";
  const cJSON *sheet = cJSON_GetObjectItemCaseSensitive(params, "sheet");
  if (sheet && (!cJSON_IsNumber(sheet) || sheet->valuedouble < 1 || sheet->valuedouble > 1024 ||
                sheet->valuedouble != (double)(int)sheet->valuedouble))
    return "params.sheet must be a whole number from 1 to 1024 (a workbook's sheet, in workbook order)";
  /* the server's own, for GET /files/{id}/convert: its output is everyone's conversion */
  if (cJSON_GetObjectItemCaseSensitive(params, "inline"))
    return "params.inline is not a parameter of a convert job (GET /api/v1/files/{id}/convert keeps conversions)";
  const cJSON *cell = cJSON_GetObjectItemCaseSensitive(params, "cell");
  if (cell &&
      (!cJSON_IsString(cell) || (strcmp(cell->valuestring, "asymmetric") && strcmp(cell->valuestring, "filled"))))
    return "params.cell must be \"asymmetric\" (the default) or \"filled\" (a crystal's filled unit cell)";
  return check_version(params);
}

void job_convert_artifact(const char *to, int sheet, int filled, char kind[JOB_ARTIFACT_KIND])
{
  if (filled)
    snprintf(kind, JOB_ARTIFACT_KIND, "to-%.4s.filled", to);
  else if (sheet > 1)
    snprintf(kind, JOB_ARTIFACT_KIND, "to-%.6s.%d", to, sheet);
  else
    snprintf(kind, JOB_ARTIFACT_KIND, "to-%.12s", to);
}

void job_preview_artifact(int page, char kind[JOB_ARTIFACT_KIND])
{
  snprintf(kind, JOB_ARTIFACT_KIND, "preview-p%d", page);
}

static const char *check_unpack(const cJSON *params)
{
  const cJSON *max_total = params ? cJSON_GetObjectItemCaseSensitive(params, "max_total_size") : NULL;
  if (max_total && (!cJSON_IsNumber(max_total) || max_total->valuedouble < 0 || max_total->valuedouble > 8589934592.0))
    return "params.max_total_size must be a number of bytes from 0 to 8 GiB";
  return check_version(params);
}

#define USER JOB_START_USER
#define INTERNAL JOB_START_INTERNAL
#define INTERACTIVE JOB_LANE_INTERACTIVE
#define BATCH JOB_LANE_BATCH

const struct job_type job_types[] = {
  /* name      handler          start     writes one beside check          result lane */
  /* an upload's processing: text, properties, records of the file (one version) */
  {"ingest", job_run_ingest, USER, 1, 1, 0, check_version, 0, BATCH},
  /* the same again for a file's current version (it changes the file's properties) */
  {"extract", job_run_ingest, USER, 1, 1, 0, check_version, 0, BATCH},
  /* the input in another format, as a new file */
  {"convert", job_run_convert, USER, 0, 1, 1, check_convert, 0, BATCH},
  /* an archive's members as files in a new folder */
  {"unpack", job_run_unpack, USER, 0, 1, 1, check_unpack, 1, BATCH},
  /* nothing but progress for params.ms: the queue's own tests and benchmark */
  {"noop", job_run_noop, USER, 0, 0, 0, check_version, 0, BATCH},
  /* the SVG of a record (GET .../depiction waits for it) */
  {"depict", job_run_depict, INTERNAL, 0, 0, 0, NULL, 0, INTERACTIVE},
  /* a page of a TIFF or PDF drawn as its preview (GET .../preview?page=N waits for it) */
  {"preview", job_run_preview, INTERNAL, 0, 0, 0, NULL, 0, INTERACTIVE},
  /* a model trained on a file (POST /api/v1/models starts it, with the model) */
  {"train", job_run_train, JOB_START_ROUTE, 0, 1, 0, NULL, 0, BATCH},
  /* a file's records with a model's predictions, as a new file (POST .../predict) */
  {"predict", job_run_predict, JOB_START_ROUTE, 0, 1, 1, NULL, 0, BATCH},
  {NULL, NULL, INTERNAL, 0, 0, 0, NULL, 0, BATCH},
};

#undef USER
#undef INTERNAL
#undef INTERACTIVE
#undef BATCH

const struct job_type *job_type_find(const char *name)
{
  for (const struct job_type *t = job_types; name && t->name; t++)
    if (!strcmp(t->name, name))
      return t;
  return NULL;
}
