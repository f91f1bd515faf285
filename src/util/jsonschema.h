/* A JSON Schema validator for the subset carboy's schemas use (schemas/json/): type,
 * enum, const, properties, required, additionalProperties, propertyNames, min/maxProperties,
 * items, min/maxItems, minimum, maximum, exclusiveMinimum/Maximum, min/maxLength, pattern
 * (POSIX extended regular expressions), allOf, anyOf, oneOf, not, and local $ref
 * ("#/$defs/NAME"). Unknown keywords are ignored, as the specification says.
 * Debian ships no C JSON Schema library; this one is small and tested in tests/unit. */
#ifndef CB_JSONSCHEMA_H
#define CB_JSONSCHEMA_H
#include <cjson/cJSON.h>
#include <stddef.h>

#include "util/err.h"

/* 0 when instance follows schema; otherwise -1 with the first problem in err as
 * "PATH: reason" (PATH a JSON pointer below `root`, e.g. "metadata/temperature/unit"). eb may be NULL. */
int cb_schema_validate(const cJSON *schema, const cJSON *instance, const char *root, struct cb_errbuf *eb);

#endif
