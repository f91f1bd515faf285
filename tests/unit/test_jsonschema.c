/* The JSON Schema subset validator against hand-written cases. */
#include <string.h>

#include "test.h"
#include "util/jsonschema.h"

static int valid(const char *schema, const char *instance, struct cb_errbuf *eb)
{
  cJSON *s = cJSON_Parse(schema), *i = cJSON_Parse(instance);
  int rc = cb_schema_validate(s, i, "x", eb);
  cJSON_Delete(s);
  cJSON_Delete(i);
  return rc == 0;
}

int main(void)
{
  struct cb_errbuf eb = {""};
  const char *err = eb.msg;
  CHECK(valid("{\"type\":\"string\"}", "\"a\"", &eb));
  CHECK(!valid("{\"type\":\"string\"}", "1", &eb) && strstr(err, "x: must be of type string"));
  CHECK(valid("{\"type\":[\"string\",\"null\"]}", "null", &eb));
  CHECK(valid("{\"type\":\"integer\"}", "3", &eb));
  CHECK(!valid("{\"type\":\"integer\"}", "3.5", &eb));
  CHECK(valid("{\"enum\":[1,\"a\"]}", "\"a\"", &eb));
  CHECK(!valid("{\"enum\":[1,\"a\"]}", "2", &eb));
  CHECK(!valid("{\"const\":\"k\"}", "\"j\"", &eb) && !strcmp(err, "x: must be \"k\""));
  CHECK(!valid("{\"enum\":[1,2]}", "3", &eb) && !strcmp(err, "x: must be one of [1,2]"));
  /* the keyword groups are checked in order: the type's complaint comes first */
  CHECK(!valid("{\"type\":\"string\",\"const\":1}", "2", &eb) && strstr(err, "of type string"));
  CHECK(!valid("{\"minimum\":0}", "-1", &eb) && strstr(err, "at least 0"));
  CHECK(!valid("{\"exclusiveMaximum\":10}", "10", &eb));
  CHECK(valid("{\"maxLength\":2}", "\"\xc3\xa9\xc3\xa9\"", &eb)); /* two characters, four bytes */
  CHECK(!valid("{\"minLength\":3}", "\"ab\"", &eb));
  CHECK(valid("{\"pattern\":\"^[A-Z]+-[0-9]+$\"}", "\"AB-12\"", &eb));
  CHECK(!valid("{\"pattern\":\"^[A-Z]+-[0-9]+$\"}", "\"ab-12\"", &eb));
  CHECK(!valid("{\"pattern\":\"([\"}", "\"a\"", &eb) && strstr(err, "not a valid regular expression"));
  const char *obj = "{\"type\":\"object\",\"required\":[\"a\"],\"properties\":{\"a\":{\"type\":\"number\"}},"
                    "\"additionalProperties\":false}";
  CHECK(valid(obj, "{\"a\":1}", &eb));
  CHECK(!valid(obj, "{}", &eb) && strstr(err, "x/a: is required"));
  CHECK(!valid(obj, "{\"a\":1,\"b\":2}", &eb) && strstr(err, "x/b"));
  CHECK(!valid(obj, "{\"a\":\"1\"}", &eb) && strstr(err, "x/a: must be of type number"));
  CHECK(!valid("{\"maxProperties\":1}", "{\"a\":1,\"b\":2}", &eb));
  CHECK(!valid("{\"propertyNames\":{\"maxLength\":2}}", "{\"abc\":1}", &eb));
  CHECK(valid("{\"items\":{\"type\":\"number\"},\"maxItems\":3}", "[1,2,3]", &eb));
  CHECK(!valid("{\"items\":{\"type\":\"number\"}}", "[1,\"b\"]", &eb) && strstr(err, "x/1"));
  CHECK(!valid("{\"minItems\":1}", "[]", &eb));
  const char *alts = "{\"oneOf\":[{\"type\":\"number\"},{\"type\":\"integer\"}]}";
  CHECK(valid(alts, "1.5", &eb));
  CHECK(!valid(alts, "2", &eb) && strstr(err, "more than one"));
  CHECK(valid("{\"anyOf\":[{\"type\":\"number\"},{\"type\":\"string\"}]}", "\"s\"", &eb));
  CHECK(!valid("{\"anyOf\":[{\"type\":\"number\"},{\"type\":\"string\"}]}", "true", &eb) &&
        strstr(err, "of type number"));
  CHECK(!valid("{\"allOf\":[{\"type\":\"number\"},{\"minimum\":5}]}", "3", &eb));
  CHECK(!valid("{\"not\":{\"type\":\"null\"}}", "null", &eb));
  const char *refs = "{\"$defs\":{\"pos\":{\"type\":\"number\",\"minimum\":0}},\"properties\":{\"p\":{\"$ref\":\"#/$defs/pos\"}}}";
  CHECK(valid(refs, "{\"p\":3}", &eb));
  CHECK(!valid(refs, "{\"p\":-3}", &eb) && strstr(err, "x/p"));
  CHECK(!valid("{\"$ref\":\"#/$defs/missing\"}", "1", &eb) && strstr(err, "unknown definition"));
  CHECK(!valid("false", "1", &eb));
  CHECK(valid("true", "1", &eb));
  /* a schema that refers to itself does not recurse forever */
  CHECK(!valid("{\"$defs\":{\"a\":{\"$ref\":\"#/$defs/a\"}},\"$ref\":\"#/$defs/a\"}", "1", &eb));
  TEST_MAIN_END();
}
