/* Machine learning on molecules' features: the methods carboy trains, their
 * cross-validation and their metrics. Plain C over well-kept libraries: XGBoost's C API
 * (gradient boosting, and random forests as XGBoost grows them), libsvm (support vector
 * machines) and liblinear (logistic regression); k nearest neighbours by Tanimoto
 * similarity and Bernoulli naive Bayes are a few lines each. No Open Babel here: features
 * come in as numbers and fingerprint bits (convert/ml makes them). Only converter
 * processes call it (confined, bounded in time and memory; XGBoost is given its thread
 * count). Deterministic: the same data, options and seed give the same model and metrics. */
#ifndef CB_ML_H
#define CB_ML_H
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "util/err.h"

enum ml_task { ML_REGRESSION, ML_CLASSIFICATION };
enum ml_method { ML_XGBOOST, ML_RANDOM_FOREST, ML_SVM, ML_LOGISTIC_REGRESSION, ML_KNN, ML_NAIVE_BAYES, ML_METHODS };

/* "xgboost", "random_forest", "svm", "logistic_regression", "knn", "naive_bayes" */
const char *ml_method_name(enum ml_method m);
/* 0 and *m set, or -1 for an unknown name. */
int ml_method_parse(const char *name, enum ml_method *m);
/* NULL when method can do task, else why not (a sentence for the user). knn needs
 * fingerprint bits, naive Bayes too (it models bits) and is for classification only, as is
 * logistic regression. */
const char *ml_method_unfit(enum ml_method m, enum ml_task t, int has_fingerprint);

/* The training or prediction rows: n rows of p features (row-major), and each row's
 * fingerprint (fp_words 64-bit words, bit i of the fingerprint is bit i % 64 of word
 * i / 64; fp NULL and fp_words 0 when the features hold no fingerprint). The features
 * hold the fingerprint's bits (0/1) first, then any descriptors. y: the target
 * (classification: 0 or 1), NULL when predicting. */
struct ml_data {
  int n, p;
  const float *x;
  int fp_words;
  const uint64_t *fp;
  const double *y;
};

struct ml_options {
  enum ml_task task;
  enum ml_method method;
  uint64_t seed;
  int threads;        /* XGBoost's nthread; at least 1 */
  const char *tmpdir; /* a folder of the caller's where libsvm and liblinear, which save and
                       * load models by file name only, get their files (removed after) */
};

typedef struct ml_model ml_model;

/* Trains on the rows rows[0..nrows) of d. NULL with eb on failure (a constant target, one
 * class only, a library's own error). */
ml_model *ml_train(const struct ml_options *o, const struct ml_data *d, const int *rows, int nrows,
                   struct cb_errbuf *eb);
/* Predicts the rows rows[0..n) of d (rows NULL: rows 0..n-1): value[i] is the predicted
 * value (regression) or class (0/1); prob[i] the probability of class 1 (classification;
 * NaN for regression). 0, or -1 with eb. */
int ml_predict(const ml_model *m, const struct ml_data *d, const int *rows, int n, double *value, double *prob,
               struct cb_errbuf *eb);
/* The model in its library's own format (XGBoost's JSON model, libsvm's and liblinear's
 * model text; for knn and naive Bayes carboy's JSON), malloc'd; NULL with eb. libsvm and
 * liblinear write it through a file in the tmpdir of the options the model was trained or
 * loaded with. */
char *ml_save(const ml_model *m, size_t *len, struct cb_errbuf *eb);
/* A saved model back, for features of width p (and fp_words words of fingerprint). NULL
 * with eb when the bytes are not such a model. */
ml_model *ml_load(const struct ml_options *o, int p, int fp_words, const char *bytes, size_t len, struct cb_errbuf *eb);
void ml_free(ml_model *m);

/* ---- validation ---- */

/* A small seeded generator (splitmix64): the same seed, the same sequence everywhere. */
uint64_t ml_rand(uint64_t *state);

/* Assigns each of the n rows a fold 0..k-1: shuffled with seed, and, when stratify, each
 * class (y 0 or 1) dealt round the folds separately so every fold has its share of both. */
void ml_folds(const double *y, int n, int k, int stratify, uint64_t seed, int *fold);
/* Marks round(n * fraction) rows as held out (test[i] = 1), stratified like ml_folds. */
void ml_holdout(const double *y, int n, double fraction, int stratify, uint64_t seed, unsigned char *test);

/* Tanimoto similarity of two fingerprints (1 when both are empty). */
double ml_tanimoto(const uint64_t *a, const uint64_t *b, int words);

/* Metrics of predictions against observations, as a JSON object:
 * regression: r2, rmse, mae, spearman (and n);
 * classification (obs 0/1, prob the probability of 1, class 1 when prob >= 0.5): auc,
 * accuracy, balanced_accuracy, f1, mcc, precision, recall, confusion {tp, fp, tn, fn}, n.
 * A metric that is undefined (one class only, a constant prediction) is null. */
cJSON *ml_metrics(enum ml_task t, const double *obs, const double *pred, const double *prob, int n);
/* Curves for a report: classification: {"roc": [[fpr, tpr], ...], "pr": [[recall,
 * precision], ...]} (at most max_points each, evenly thinned, the ends kept); regression:
 * {"observed_predicted": [[observed, predicted], ...]} (at most max_points, evenly
 * thinned). */
cJSON *ml_curves(enum ml_task t, const double *obs, const double *pred, const double *prob, int n, int max_points);

#endif
