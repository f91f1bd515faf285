/* Learning in the converter process: the "train", "predict" and "predict_file" requests
 * (worker.c passes them here) and the model bundle as a kind of file (conv_model).
 *
 * A model bundle is one JSON document, portable between carboy installs:
 *   {"carboy_model": 1, "name", "task", "method", "target", "classes"?, "threshold"?,
 *    "features": {fingerprint, bits, descriptors}, "scaling": {mean, sd} (descriptors),
 *    "validation": {folds, test_fraction, seed, assignment: [fold of each training row,
 *    -1 held out]}, "training_size", "skipped", "metrics": {cv, test?}, "curves",
 *    "applicability": {fingerprint, bits, threshold, training: [hex, ...]},
 *    "library": {name, version, format}, "model": "<the library's own model text>"}
 * Training rows are the file's readable records with a target, in file order. */
#ifndef CB_CONVERT_LEARN_H
#define CB_CONVERT_LEARN_H
#include <cjson/cJSON.h>

#include "convert/converter.h"

/* {"op":"train","path":P,"name":N,"workdir":W,"spec":{...ml_spec_json},"model_name":M}
 * -> result {"path": W/model.json, "summary": {...the bundle but its model, its training
 * fingerprints and fold assignment}} */
cb_err learn_train(const cJSON *req, cJSON *result, cb_progress_fn progress, void *pctx, struct cb_errbuf *eb);

/* {"op":"predict","model_sha":S,"model"?:"<bundle text>","smiles":[...]} -> result
 * {"predictions":[{smiles, value, probability?, in_domain, nearest_similarity} |
 * {smiles, error}]}, or {"need_model": true} when the bundle of that sha is not the one
 * this process keeps and was not sent. */
cb_err learn_predict(const cJSON *req, cJSON *result, struct cb_errbuf *eb);

/* {"op":"predict_file","path":P,"name":N,"workdir":W,"model_path":B,"sheet"?:n,
 * "smiles_column"?:C} -> result {"path": W/predicted.sdf|csv, "media_type", "records",
 * "predicted", "skipped"} */
cb_err learn_predict_file(const cJSON *req, cJSON *result, cb_progress_fn progress, void *pctx, struct cb_errbuf *eb);

extern const struct converter conv_model;

#endif
