/* What a model is trained on and how: the part of POST /api/v1/models that reaches the
 * trainer (target, task, threshold, method, features, validation, smiles_column, sheet).
 * Parsed and checked once by the server (a bad request is a 400 there, never a failed
 * job) and again by the converter, which gets it back as ml_spec_json wrote it. Names only:
 * nothing here needs Open Babel. */
#ifndef CB_ML_SPEC_H
#define CB_ML_SPEC_H
#include <stdint.h>

#include <cjson/cJSON.h>

#include "ml/ml.h"
#include "util/err.h"

#define ML_DESC_MAX 16
#define ML_NAME_MAX 128

struct ml_features {
  char fingerprint[8]; /* as the API spells it: "ecfp4", "fp2", "maccs", ...; "" none */
  char ob_type[8];     /* Open Babel's name of it: "ECFP4", "FP2", "MACCS", ... */
  int bits;            /* its width: the fold asked for (ECFP), else the type's own */
  int ndesc;
  char desc[ML_DESC_MAX][8]; /* Open Babel descriptor ids ("logP", "TPSA", ...) */
};

struct ml_spec {
  char target[ML_NAME_MAX];        /* the SD field or column the model predicts */
  char smiles_column[ML_NAME_MAX]; /* a table's structures; "" found by name */
  int sheet;                       /* a workbook's sheet, from 1 */
  int has_task;                    /* task given, else inferred from the target */
  enum ml_task task;
  int has_threshold; /* a numeric target becomes classes: >= threshold is positive */
  double threshold;
  enum ml_method method;
  struct ml_features features;
  int folds;            /* cross-validation folds, 2..10 */
  double test_fraction; /* held out before cross-validation, 0..0.5 */
  uint64_t seed;
};

/* Reads a request body's training fields into s (defaults: xgboost, ECFP4 folded to 2048
 * bits, 5 folds, no test set, seed 1). 0, or -1 with eb naming the field at fault. */
int ml_spec_parse(const cJSON *body, struct ml_spec *s, struct cb_errbuf *eb);
/* The spec as an object ml_spec_parse reads back the same (every field explicit but the
 * task when it is to be inferred). */
cJSON *ml_spec_json(const struct ml_spec *s);
/* The features as the API shows them: {"fingerprint", "bits", "descriptors"}. */
cJSON *ml_features_json(const struct ml_features *f);
/* Feature columns: the fingerprint's bits, then the descriptors. */
int ml_features_width(const struct ml_features *f);

/* The descriptors a model may use, Open Babel's ids, NULL-terminated. */
extern const char *const ml_descriptor_names[];

#endif
