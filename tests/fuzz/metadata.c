/* User metadata (PATCH /files/{id} {"metadata": ...}) as the handler validates it:
 * the input parsed as a JSON object by cJSON and checked by http_validate_metadata
 * against the built-in metadata schema, and against the schema its "$schema" names
 * (util/jsonschema.c: types, enums, patterns, $ref, ...). The request has no
 * connection: a refusal's problem response is built and goes nowhere. */
#include "fuzz.h"
#include "http/http.h"
#include "util/log.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
  (void)argc, (void)argv;
  cb_log_level = CB_LOG_ERROR + 1;
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
  const char *end = NULL;
  cJSON *json = cJSON_ParseWithLengthOpts((const char *)data, size, &end, 0);
  if (json && cJSON_IsObject(json)) {
    struct mg_request_info ri = {0};
    ri.request_method = "PATCH";
    struct req r = {0};
    r.ri = &ri;
    r.method = "PATCH";
    int bad = http_validate_metadata(&r, json);
    if (bad && r.status != 400)
      abort(); /* a bad instance is the client's error, never the server's */
  }
  cJSON_Delete(json);
  return 0;
}
