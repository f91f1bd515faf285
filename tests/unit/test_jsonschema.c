/* The JSON Schema subset validator against hand-written cases. */
#include <string.h>

#include "test.h"
#include "util/jsonschema.h"

static int valid(const char *schema, const char *instance, char *err, size_t cap)
{
  cJSON *s = cJSON_Parse(schema), *i = cJSON_Parse(instance);
  int rc = cb_schema_validate(s, i, "x", err, cap);
  cJSON_Delete(s);
  cJSON_Delete(i);
  return rc == 0;
}

int main(void)
{
  char err[400];
  CHECK(valid("{\"type\":\"string\"}", "\"a\"", err, sizeof err));
  CHECK(!valid("{\"type\":\"string\"}", "1", err, sizeof err) && strstr(err, "x: must be of type string"));
  CHECK(valid("{\"type\":[\"string\",\"null\"]}", "null", err, sizeof err));
  CHECK(valid("{\"type\":\"integer\"}", "3", err, sizeof err));
  CHECK(!valid("{\"type\":\"integer\"}", "3.5", err, sizeof err));
  CHECK(valid("{\"enum\":[1,\"a\"]}", "\"a\"", err, sizeof err));
  CHECK(!valid("{\"enum\":[1,\"a\"]}", "2", err, sizeof err));
  CHECK(!valid("{\"const\":\"k\"}", "\"j\"", err, sizeof err) && !strcmp(err, "x: must be \"k\""));
  CHECK(!valid("{\"enum\":[1,2]}", "3", err, sizeof err) && !strcmp(err, "x: must be one of [1,2]"));
  /* the keyword groups are checked in order: the type's complaint comes first */
  CHECK(!valid("{\"type\":\"string\",\"const\":1}", "2", err, sizeof err) && strstr(err, "of type string"));
  CHECK(!valid("{\"minimum\":0}", "-1", err, sizeof err) && strstr(err, "at least 0"));
  CHECK(!valid("{\"exclusiveMaximum\":10}", "10", err, sizeof err));
  CHECK(valid("{\"maxLength\":2}", "\"\xc3\xa9\xc3\xa9\"", err, sizeof err)); /* two characters, four bytes */
  CHECK(!valid("{\"minLength\":3}", "\"ab\"", err, sizeof err));
  CHECK(valid("{\"pattern\":\"^[A-Z]+-[0-9]+$\"}", "\"AB-12\"", err, sizeof err));
  CHECK(!valid("{\"pattern\":\"^[A-Z]+-[0-9]+$\"}", "\"ab-12\"", err, sizeof err));
  CHECK(!valid("{\"pattern\":\"([\"}", "\"a\"", err, sizeof err) && strstr(err, "not a valid regular expression"));
  const char *obj = "{\"type\":\"object\",\"required\":[\"a\"],\"properties\":{\"a\":{\"type\":\"number\"}},"
                    "\"additionalProperties\":false}";
  CHECK(valid(obj, "{\"a\":1}", err, sizeof err));
  CHECK(!valid(obj, "{}", err, sizeof err) && strstr(err, "x/a: is required"));
  CHECK(!valid(obj, "{\"a\":1,\"b\":2}", err, sizeof err) && strstr(err, "x/b"));
  CHECK(!valid(obj, "{\"a\":\"1\"}", err, sizeof err) && strstr(err, "x/a: must be of type number"));
  CHECK(!valid("{\"maxProperties\":1}", "{\"a\":1,\"b\":2}", err, sizeof err));
  CHECK(!valid("{\"propertyNames\":{\"maxLength\":2}}", "{\"abc\":1}", err, sizeof err));
  CHECK(valid("{\"items\":{\"type\":\"number\"},\"maxItems\":3}", "[1,2,3]", err, sizeof err));
  CHECK(!valid("{\"items\":{\"type\":\"number\"}}", "[1,\"b\"]", err, sizeof err) && strstr(err, "x/1"));
  CHECK(!valid("{\"minItems\":1}", "[]", err, sizeof err));
  const char *alts = "{\"oneOf\":[{\"type\":\"number\"},{\"type\":\"integer\"}]}";
  CHECK(valid(alts, "1.5", err, sizeof err));
  CHECK(!valid(alts, "2", err, sizeof err) && strstr(err, "more than one"));
  CHECK(valid("{\"anyOf\":[{\"type\":\"number\"},{\"type\":\"string\"}]}", "\"s\"", err, sizeof err));
  CHECK(!valid("{\"anyOf\":[{\"type\":\"number\"},{\"type\":\"string\"}]}", "true", err, sizeof err) &&
        strstr(err, "of type number"));
  CHECK(!valid("{\"allOf\":[{\"type\":\"number\"},{\"minimum\":5}]}", "3", err, sizeof err));
  CHECK(!valid("{\"not\":{\"type\":\"null\"}}", "null", err, sizeof err));
  const char *refs = "{\"$defs\":{\"pos\":{\"type\":\"number\",\"minimum\":0}},\"properties\":{\"p\":{\"$ref\":\"#/$defs/pos\"}}}";
  CHECK(valid(refs, "{\"p\":3}", err, sizeof err));
  CHECK(!valid(refs, "{\"p\":-3}", err, sizeof err) && strstr(err, "x/p"));
  CHECK(!valid("{\"$ref\":\"#/$defs/missing\"}", "1", err, sizeof err) && strstr(err, "unknown definition"));
  CHECK(!valid("false", "1", err, sizeof err));
  CHECK(valid("true", "1", err, sizeof err));
  /* a schema that refers to itself does not recurse forever */
  CHECK(!valid("{\"$defs\":{\"a\":{\"$ref\":\"#/$defs/a\"}},\"$ref\":\"#/$defs/a\"}", "1", err, sizeof err));
  TEST_MAIN_END();
}
