/* The training request's fields (spec.h). */
#include "ml/spec.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

/* Open Babel's numeric descriptors (`obabel -L descriptors`): counts and computed values;
 * the text ones (formula, SMILES, InChI) and filters are not features. */
const char *const ml_descriptor_names[] = {"abonds", "atoms", "bonds", "dbonds", "HBA1",   "HBA2",   "HBD",  "logP",
                                           "MR",     "MW",    "nF",    "rotors", "sbonds", "tbonds", "TPSA", NULL};

static const struct {
  const char *name, *ob;
  int bits; /* the type's own width (ECFP: before folding) */
  int folds;
} fingerprints[] = {
  {"ecfp0", "ECFP0", 4096, 1}, {"ecfp2", "ECFP2", 4096, 1},   {"ecfp4", "ECFP4", 4096, 1}, {"ecfp6", "ECFP6", 4096, 1},
  {"ecfp8", "ECFP8", 4096, 1}, {"ecfp10", "ECFP10", 4096, 1}, {"fp2", "FP2", 1024, 0},     {"fp3", "FP3", 64, 0},
  {"fp4", "FP4", 512, 0},      {"maccs", "MACCS", 256, 0},
};
#define NFP (sizeof fingerprints / sizeof fingerprints[0])

static int features_parse(const cJSON *o, struct ml_features *f, struct cb_errbuf *eb)
{
  memset(f, 0, sizeof *f);
  snprintf(f->fingerprint, sizeof f->fingerprint, "ecfp4");
  snprintf(f->ob_type, sizeof f->ob_type, "ECFP4");
  f->bits = 2048;
  if (!o)
    return 0;
  if (!cJSON_IsObject(o)) {
    cb_errf(eb, "features must be an object {fingerprint, bits, descriptors}");
    return -1;
  }
  const cJSON *it;
  cJSON_ArrayForEach(it, o) if (strcmp(it->string, "fingerprint") && strcmp(it->string, "bits") &&
                                strcmp(it->string, "descriptors"))
  {
    cb_errf(eb, "features.%.40s is not a feature setting (fingerprint, bits, descriptors)", it->string);
    return -1;
  }
  const cJSON *fp = cJSON_GetObjectItemCaseSensitive(o, "fingerprint");
  const cJSON *bits = cJSON_GetObjectItemCaseSensitive(o, "bits");
  const cJSON *desc = cJSON_GetObjectItemCaseSensitive(o, "descriptors");
  int k = 2; /* ecfp4 */
  if (cJSON_IsNull(fp)) {
    k = -1;
  } else if (fp) {
    k = -2;
    for (size_t i = 0; cJSON_IsString(fp) && i < NFP; i++)
      if (!strcasecmp(fp->valuestring, fingerprints[i].name))
        k = (int)i;
    if (k == -2) {
      cb_errf(eb, "features.fingerprint must be one of ecfp0, ecfp2, ecfp4, ecfp6, ecfp8, ecfp10, fp2, fp3, fp4, "
                  "maccs (or null: descriptors only)");
      return -1;
    }
  }
  if (k < 0) {
    f->fingerprint[0] = f->ob_type[0] = '\0';
    f->bits = 0;
  } else {
    snprintf(f->fingerprint, sizeof f->fingerprint, "%s", fingerprints[k].name);
    snprintf(f->ob_type, sizeof f->ob_type, "%s", fingerprints[k].ob);
    f->bits = fingerprints[k].folds ? 2048 : fingerprints[k].bits;
  }
  if (bits) {
    /* a whole number first (a cast of 1e300 is undefined) */
    int b = cJSON_IsNumber(bits) && bits->valuedouble >= 0 && bits->valuedouble <= 65536 &&
                bits->valuedouble == (double)(int)bits->valuedouble
              ? (int)bits->valuedouble
              : -1;
    if (k < 0) {
      cb_errf(eb, "features.bits needs a fingerprint");
      return -1;
    }
    /* a fingerprint with a width of its own is never folded: that width is its only one
     * (as a model's report states it) */
    if (!fingerprints[k].folds && b != fingerprints[k].bits) {
      cb_errf(eb, "features.bits: %s has %d bits of its own and is not folded (leave bits out)", fingerprints[k].name,
              fingerprints[k].bits);
      return -1;
    }
    if (fingerprints[k].folds && b != 1024 && b != 2048 && b != 4096) {
      cb_errf(eb, "features.bits must be 1024, 2048 or 4096");
      return -1;
    }
    f->bits = b;
  }
  if (desc && !cJSON_IsArray(desc)) {
    cb_errf(eb, "features.descriptors must be a list of descriptor names");
    return -1;
  }
  cJSON_ArrayForEach(it, desc)
  {
    int d = -1;
    for (int i = 0; cJSON_IsString(it) && ml_descriptor_names[i]; i++)
      if (!strcasecmp(it->valuestring, ml_descriptor_names[i]))
        d = i;
    if (d < 0) {
      char names[300] = "";
      for (int i = 0; ml_descriptor_names[i]; i++)
        snprintf(names + strlen(names), sizeof names - strlen(names), "%s%s", i ? ", " : "", ml_descriptor_names[i]);
      cb_errf(eb, "features.descriptors: '%.40s' is not a descriptor; known: %s",
              cJSON_IsString(it) ? it->valuestring : "?", names);
      return -1;
    }
    for (int i = 0; i < f->ndesc; i++)
      if (!strcmp(f->desc[i], ml_descriptor_names[d])) {
        cb_errf(eb, "features.descriptors names %s twice", ml_descriptor_names[d]);
        return -1;
      }
    if (f->ndesc == ML_DESC_MAX) {
      cb_errf(eb, "features.descriptors: at most %d", ML_DESC_MAX);
      return -1;
    }
    snprintf(f->desc[f->ndesc++], sizeof f->desc[0], "%s", ml_descriptor_names[d]);
  }
  if (k < 0 && !f->ndesc) {
    cb_errf(eb, "features need a fingerprint or descriptors");
    return -1;
  }
  return 0;
}

static int name_field(const cJSON *body, const char *key, char *out, size_t cap, int required, struct cb_errbuf *eb)
{
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(body, key);
  out[0] = '\0';
  if (!v && !required)
    return 0;
  if (!cJSON_IsString(v) || !*v->valuestring || strlen(v->valuestring) >= cap) {
    cb_errf(eb, "%s must be a non-empty string of at most %zu bytes", key, cap - 1);
    return -1;
  }
  snprintf(out, cap, "%s", v->valuestring);
  return 0;
}

int ml_spec_parse(const cJSON *body, struct ml_spec *s, struct cb_errbuf *eb)
{
  memset(s, 0, sizeof *s);
  s->method = ML_XGBOOST;
  s->folds = 5;
  s->seed = 1;
  s->sheet = 1;
  if (name_field(body, "target", s->target, sizeof s->target, 1, eb) ||
      name_field(body, "smiles_column", s->smiles_column, sizeof s->smiles_column, 0, eb))
    return -1;
  const cJSON *task = cJSON_GetObjectItemCaseSensitive(body, "task");
  if (task && !cJSON_IsNull(task)) {
    if (!cJSON_IsString(task) ||
        (strcmp(task->valuestring, "regression") && strcmp(task->valuestring, "classification"))) {
      cb_errf(eb, "task must be \"regression\" or \"classification\"");
      return -1;
    }
    s->has_task = 1;
    s->task = strcmp(task->valuestring, "regression") ? ML_CLASSIFICATION : ML_REGRESSION;
  }
  const cJSON *th = cJSON_GetObjectItemCaseSensitive(body, "threshold");
  if (th && !cJSON_IsNull(th)) {
    if (!cJSON_IsNumber(th) || !isfinite(th->valuedouble)) {
      cb_errf(eb, "threshold must be a number (a numeric target at or above it is the positive class)");
      return -1;
    }
    if (s->has_task && s->task == ML_REGRESSION) {
      cb_errf(eb, "threshold makes classes: it does not go with task \"regression\"");
      return -1;
    }
    s->has_threshold = 1;
    s->threshold = th->valuedouble;
    s->has_task = 1;
    s->task = ML_CLASSIFICATION;
  }
  const cJSON *method = cJSON_GetObjectItemCaseSensitive(body, "method");
  if (method && !cJSON_IsNull(method) &&
      (!cJSON_IsString(method) || ml_method_parse(method->valuestring, &s->method))) {
    cb_errf(eb, "method must be one of xgboost, random_forest, svm, logistic_regression, knn, naive_bayes");
    return -1;
  }
  if (features_parse(cJSON_GetObjectItemCaseSensitive(body, "features"), &s->features, eb))
    return -1;
  const cJSON *sheet = cJSON_GetObjectItemCaseSensitive(body, "sheet");
  if (sheet) {
    if (!cJSON_IsNumber(sheet) || sheet->valuedouble < 1 || sheet->valuedouble > 1024 ||
        sheet->valuedouble != (double)(int)sheet->valuedouble) {
      cb_errf(eb, "sheet must be a whole number from 1 to 1024 (a workbook's sheet, in workbook order)");
      return -1;
    }
    s->sheet = (int)sheet->valuedouble;
  }
  const cJSON *val = cJSON_GetObjectItemCaseSensitive(body, "validation");
  if (val && !cJSON_IsObject(val)) {
    cb_errf(eb, "validation must be an object {folds, test_fraction, seed}");
    return -1;
  }
  const cJSON *it;
  cJSON_ArrayForEach(it, val) if (strcmp(it->string, "folds") && strcmp(it->string, "test_fraction") &&
                                  strcmp(it->string, "seed"))
  {
    cb_errf(eb, "validation.%.40s is not a validation setting (folds, test_fraction, seed)", it->string);
    return -1;
  }
  const cJSON *folds = cJSON_GetObjectItemCaseSensitive(val, "folds");
  const cJSON *tf = cJSON_GetObjectItemCaseSensitive(val, "test_fraction");
  const cJSON *seed = cJSON_GetObjectItemCaseSensitive(val, "seed");
  if (folds) {
    if (!cJSON_IsNumber(folds) || folds->valuedouble < 2 || folds->valuedouble > 10 ||
        folds->valuedouble != (double)(int)folds->valuedouble) {
      cb_errf(eb, "validation.folds must be a whole number from 2 to 10");
      return -1;
    }
    s->folds = (int)folds->valuedouble;
  }
  if (tf) {
    if (!cJSON_IsNumber(tf) || !(tf->valuedouble >= 0 && tf->valuedouble <= 0.5)) {
      cb_errf(eb, "validation.test_fraction must be a number from 0 to 0.5");
      return -1;
    }
    s->test_fraction = tf->valuedouble;
  }
  if (seed) {
    if (!cJSON_IsNumber(seed) || !(seed->valuedouble >= 0 && seed->valuedouble <= 9007199254740991.0) ||
        seed->valuedouble != floor(seed->valuedouble)) {
      cb_errf(eb, "validation.seed must be a whole number from 0 to 2^53 - 1");
      return -1;
    }
    s->seed = (uint64_t)seed->valuedouble;
  }
  const char *unfit = s->has_task ? ml_method_unfit(s->method, s->task, s->features.fingerprint[0] != '\0')
                                  : ml_method_unfit(s->method, ML_CLASSIFICATION, s->features.fingerprint[0] != '\0');
  if (unfit) {
    cb_errf(eb, "%s", unfit);
    return -1;
  }
  return 0;
}

cJSON *ml_features_json(const struct ml_features *f)
{
  cJSON *o = cJSON_CreateObject();
  if (f->fingerprint[0]) {
    cJSON_AddStringToObject(o, "fingerprint", f->fingerprint);
    cJSON_AddNumberToObject(o, "bits", f->bits);
  } else {
    cJSON_AddNullToObject(o, "fingerprint");
  }
  cJSON *d = cJSON_AddArrayToObject(o, "descriptors");
  for (int i = 0; i < f->ndesc; i++)
    cJSON_AddItemToArray(d, cJSON_CreateString(f->desc[i]));
  return o;
}

cJSON *ml_spec_json(const struct ml_spec *s)
{
  cJSON *o = cJSON_CreateObject();
  cJSON_AddStringToObject(o, "target", s->target);
  if (s->smiles_column[0])
    cJSON_AddStringToObject(o, "smiles_column", s->smiles_column);
  if (s->sheet > 1)
    cJSON_AddNumberToObject(o, "sheet", s->sheet);
  if (s->has_task)
    cJSON_AddStringToObject(o, "task", s->task == ML_REGRESSION ? "regression" : "classification");
  if (s->has_threshold)
    cJSON_AddNumberToObject(o, "threshold", s->threshold);
  cJSON_AddStringToObject(o, "method", ml_method_name(s->method));
  cJSON_AddItemToObject(o, "features", ml_features_json(&s->features));
  cJSON *v = cJSON_AddObjectToObject(o, "validation");
  cJSON_AddNumberToObject(v, "folds", s->folds);
  cJSON_AddNumberToObject(v, "test_fraction", s->test_fraction);
  cJSON_AddNumberToObject(v, "seed", (double)s->seed);
  return o;
}

int ml_features_width(const struct ml_features *f)
{
  return (f->fingerprint[0] ? f->bits : 0) + f->ndesc;
}
