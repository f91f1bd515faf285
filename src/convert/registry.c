/* The converter registry and the helpers converters share. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "convert/converter.h"

static const struct converter *const registry[] = {
  &conv_model, &conv_structure, &conv_pdf, &conv_office, &conv_image, &conv_table, &conv_archive, &conv_text,
};

/* Test converters fail on purpose (crash, hang, unbounded memory, error, slow). They exist
 * in every build but claim files only when CARBOY_TEST_CONVERTERS=1 in the worker. */
static const struct converter *const testing[] = {
  &conv_test_crash, &conv_test_hang, &conv_test_oom,    &conv_test_fail,
  &conv_test_slow,  &conv_test_spin, &conv_test_escape,
};
static int testing_on;

void converter_enable_testing(int on)
{
  testing_on = on;
}

int suffix_is(const char *name, const char *const *suffixes)
{
  size_t n = strlen(name);
  for (const char *const *s = suffixes; s && *s; s++) {
    size_t k = strlen(*s);
    if (n > k && !strcasecmp(name + n - k, *s))
      return 1;
  }
  return 0;
}

static void consider(const struct converter *c, const unsigned char *head, size_t len,
                     const struct cb_convert_input *in, const struct converter **best, int *best_score)
{
  int score = c->desc->sniff ? c->desc->sniff(head, len, in) : 0;
  if (score > 0 && suffix_is(in->name, c->desc->suffixes))
    score += 10;
  if (score > *best_score) {
    *best = c;
    *best_score = score;
  }
}

const struct converter *converter_find(const unsigned char *head, size_t len, const struct cb_convert_input *in)
{
  const struct converter *best = &conv_generic;
  int best_score = 0;
  for (size_t i = 0; testing_on && i < sizeof testing / sizeof testing[0]; i++)
    consider(testing[i], head, len, in, &best, &best_score);
  for (size_t i = 0; i < sizeof registry / sizeof registry[0]; i++)
    consider(registry[i], head, len, in, &best, &best_score);
  return best;
}

const struct converter *converter_by_name(const char *name)
{
  for (size_t i = 0; i < sizeof registry / sizeof registry[0]; i++)
    if (!strcmp(registry[i]->desc->name, name))
      return registry[i];
  return !strcmp(name, conv_generic.desc->name) ? &conv_generic : NULL;
}

const char *converter_kind_of_name(const char *name)
{
  for (size_t i = 0; i < sizeof registry / sizeof registry[0]; i++) {
    const struct converter_desc *d = registry[i]->desc;
    if (suffix_is(name, d->suffixes))
      return d->name_kind ? d->name_kind(name) : d->kind;
  }
  return "other";
}

static cJSON *props(cJSON *result)
{
  cJSON *p = cJSON_GetObjectItemCaseSensitive(result, "properties");
  return p ? p : cJSON_AddArrayToObject(result, "properties");
}

static cJSON *prop(cJSON *result, const char *name, const char *unit, const char *iri)
{
  cJSON *o = cJSON_CreateObject();
  cJSON_AddStringToObject(o, "name", name);
  if (unit)
    cJSON_AddStringToObject(o, "unit", unit);
  if (iri)
    cJSON_AddStringToObject(o, "iri", iri);
  cJSON_AddItemToArray(props(result), o);
  return o;
}

void result_prop_text(cJSON *result, const char *name, const char *value, const char *unit, const char *iri)
{
  cJSON_AddStringToObject(prop(result, name, unit, iri), "value", value);
}

void result_prop_num(cJSON *result, const char *name, double value, const char *unit, const char *iri)
{
  cJSON_AddNumberToObject(prop(result, name, unit, iri), "value", value);
}

/* A new entry of the result's artifacts: its kind and media type. */
static cJSON *artifact_entry(cJSON *result, const char *kind, const char *media_type)
{
  cJSON *arts = cJSON_GetObjectItemCaseSensitive(result, "artifacts");
  if (!arts)
    arts = cJSON_AddArrayToObject(result, "artifacts");
  cJSON *o = cJSON_CreateObject();
  cJSON_AddStringToObject(o, "kind", kind);
  cJSON_AddStringToObject(o, "media_type", media_type);
  cJSON_AddItemToArray(arts, o);
  return o;
}

void result_artifact_input(cJSON *result, const char *kind, const char *media_type)
{
  cJSON_AddBoolToObject(artifact_entry(result, kind, media_type), "same_as_input", 1);
}

void result_artifact(cJSON *result, const char *kind, const char *media_type, const char *path)
{
  cJSON_AddStringToObject(artifact_entry(result, kind, media_type), "path", path);
}
