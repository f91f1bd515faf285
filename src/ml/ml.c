/* The methods: training, prediction, and a model's bytes out and back. XGBoost (boosting,
 * and its random forests), libsvm and liblinear do the learning; k nearest neighbours and
 * Bernoulli naive Bayes are carboy's own. None of them may write to stdout, which is the
 * converter's protocol pipe. */
#include "ml/ml.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libsvm/svm.h>
#include <linear.h>
#include <xgboost/c_api.h>

/* XGBoost: the Python package's sklearn wrapper (1.7) leaves everything but the number of
 * rounds to the library's defaults; these are those defaults, written out, but for the
 * tree method: "hist" (the default from XGBoost 2.0) rather than 1.7's "exact", which
 * grows the same trees on fingerprint bits (one split point each) about ten times slower
 * on 2048 of them. */
#define XGB_ROUNDS 100
#define XGB_DEPTH "6"
#define XGB_ETA "0.3"

/* Random forests as XGBRFRegressor/XGBRFClassifier grow them (one round of many parallel
 * trees at learning rate 1, almost no regularisation), with what makes a forest of
 * scikit-learn's kind: 0.632 of the rows per tree (the share of distinct rows a bootstrap
 * sample holds), sqrt(p) features per split for classification and p/3 for regression,
 * and deep trees. "hist", as for boosting: as good as "exact" on bits, and faster. */
/* 100 trees: scikit-learn's default count; twice as many bought no measurable score on
 * the ChEMBL series of bench/ml.sh and cost twice the time. */
#define RF_TREES "100"
#define RF_DEPTH "12"
#define RF_SUBSAMPLE "0.632"
/* Leaves of at least one row's weight: min_child_weight counts the loss's second
 * derivative, 1 a row for squared error and 1/4 for the logistic loss at the forest's one
 * step from 0.5. Leaves of 5 rows for regression (R randomForest's nodesize) trained twice
 * as fast but scored 0.03 of r2 below scikit-learn's forest (bench/ml.sh); single-row
 * leaves come within 0.003 of it. */
#define RF_MIN_CHILD_REGRESSION "1"
#define RF_MIN_CHILD_CLASSIFICATION "1"

#define KNN_K 5

struct ml_model {
  enum ml_task task;
  enum ml_method method;
  int p, fp_words, threads;
  char *tmpdir; /* the options' tmpdir, for ml_save (NULL when none was given) */
  BoosterHandle xgb;
  struct svm_model *svm;
  struct svm_node *svm_nodes; /* the training rows a trained (not loaded) svm_model points into */
  struct model *lin;
  /* knn: the training rows' fingerprints (n rows of fp_words) and targets */
  int n, k;
  uint64_t *fp;
  double *y;
  /* naive Bayes: each class's row count and, per bit, how many of its rows have it
   * (count[c * bits + j]); from them the log-probabilities predictions use */
  int nb_rows[2];
  int *nb_count;
  double *nb_on;     /* log P(bit | c) - log P(no bit | c), per class and bit */
  double nb_base[2]; /* log P(c) + the sum of log P(no bit | c) over all bits */
};

static const char *const method_names[ML_METHODS] = {
  [ML_XGBOOST] = "xgboost", [ML_RANDOM_FOREST] = "random_forest",
  [ML_SVM] = "svm",         [ML_LOGISTIC_REGRESSION] = "logistic_regression",
  [ML_KNN] = "knn",         [ML_NAIVE_BAYES] = "naive_bayes",
};

const char *ml_method_name(enum ml_method m)
{
  return (int)m >= 0 && m < ML_METHODS ? method_names[m] : "unknown";
}

int ml_method_parse(const char *name, enum ml_method *m)
{
  for (int i = 0; i < ML_METHODS; i++)
    if (name && !strcmp(name, method_names[i])) {
      *m = (enum ml_method)i;
      return 0;
    }
  return -1;
}

const char *ml_method_unfit(enum ml_method m, enum ml_task t, int has_fingerprint)
{
  if (m == ML_LOGISTIC_REGRESSION && t == ML_REGRESSION)
    return "logistic regression is for classification only";
  if (m == ML_NAIVE_BAYES && t == ML_REGRESSION)
    return "naive Bayes is for classification only";
  if (m == ML_KNN && !has_fingerprint)
    return "k nearest neighbours need a fingerprint (their similarity is the fingerprints' Tanimoto)";
  if (m == ML_NAIVE_BAYES && !has_fingerprint)
    return "naive Bayes needs a fingerprint (it models the fingerprint's bits)";
  return NULL;
}

static void discard(const char *s)
{
  (void)s;
}

/* Silences the libraries once per process: their progress messages would go to stdout. */
static int quiet(struct cb_errbuf *eb)
{
  static int done;
  if (done)
    return 0;
  svm_set_print_string_function(discard);
  set_print_string_function(discard);
  if (XGBSetGlobalConfig("{\"verbosity\":0}") != 0) {
    cb_errf(eb, "XGBoost: %s", XGBGetLastError());
    return -1;
  }
  done = 1;
  return 0;
}

void ml_free(ml_model *m)
{
  if (!m)
    return;
  if (m->xgb)
    XGBoosterFree(m->xgb);
  if (m->svm)
    svm_free_and_destroy_model(&m->svm);
  free(m->svm_nodes);
  if (m->lin)
    free_and_destroy_model(&m->lin);
  free(m->fp);
  free(m->y);
  free(m->nb_count);
  free(m->nb_on);
  free(m->tmpdir);
  free(m);
}

static int row_at(const int *rows, int i)
{
  return rows ? rows[i] : i;
}

/* ---- XGBoost ---- */

static int xgb_check(int rc, struct cb_errbuf *eb)
{
  if (rc == 0)
    return 0;
  cb_errf(eb, "XGBoost: %s", XGBGetLastError());
  return -1;
}

/* The chosen rows' features, contiguous, for a DMatrix. */
static float *gather(const struct ml_data *d, const int *rows, int n)
{
  size_t p = (size_t)d->p;
  float *x = malloc((n > 0 ? (size_t)n : 1) * (p ? p : 1) * sizeof *x);
  if (!x)
    return NULL;
  for (int i = 0; i < n; i++)
    memcpy(x + (size_t)i * p, d->x + (size_t)row_at(rows, i) * p, p * sizeof *x);
  return x;
}

static DMatrixHandle xgb_matrix(const struct ml_data *d, const int *rows, int n, int threads, struct cb_errbuf *eb)
{
  DMatrixHandle dm = NULL;
  const float *x = d->x;
  float *copy = NULL;
  if (rows) {
    x = copy = gather(d, rows, n);
    if (!x) {
      cb_errf(eb, "out of memory");
      return NULL;
    }
  }
  /* missing values are NaN, as in the Python package */
  if (xgb_check(XGDMatrixCreateFromMat_omp(x, (bst_ulong)n, (bst_ulong)d->p, NAN, &dm, threads), eb) < 0)
    dm = NULL;
  free(copy);
  return dm;
}

static int xgb_set(BoosterHandle h, const char *name, const char *value, struct cb_errbuf *eb)
{
  if (XGBoosterSetParam(h, name, value) == 0)
    return 0;
  cb_errf(eb, "XGBoost: %s=%s: %s", name, value, XGBGetLastError());
  return -1;
}

static int xgb_train(ml_model *m, const struct ml_options *o, const struct ml_data *d, const int *rows, int nrows,
                     struct cb_errbuf *eb)
{
  int rc = -1, classify = o->task == ML_CLASSIFICATION, forest = o->method == ML_RANDOM_FOREST;
  float *label = malloc((size_t)nrows * sizeof *label);
  DMatrixHandle dm = NULL;
  if (!label) {
    cb_errf(eb, "out of memory");
    goto done;
  }
  for (int i = 0; i < nrows; i++)
    label[i] = (float)d->y[rows[i]];
  dm = xgb_matrix(d, rows, nrows, m->threads, eb);
  if (!dm || xgb_check(XGDMatrixSetFloatInfo(dm, "label", label, (bst_ulong)nrows), eb) < 0 ||
      xgb_check(XGBoosterCreate(&dm, 1, &m->xgb), eb) < 0)
    goto done;

  /* XGBoost takes a signed 64-bit seed; any 31 bits of ours serve */
  char seed[32], threads[16], colsample[32];
  snprintf(seed, sizeof seed, "%" PRIu64, (o->seed ^ (o->seed >> 31)) & 0x7fffffff);
  snprintf(threads, sizeof threads, "%d", m->threads);
  double frac = classify ? sqrt((double)d->p) / d->p : 1.0 / 3;
  if (frac * d->p < 1)
    frac = 1.0 / d->p;
  snprintf(colsample, sizeof colsample, "%.17g", frac);
  const char *common[][2] = {
    {"objective", classify ? "binary:logistic" : "reg:squarederror"},
    {"seed", seed},
    {"nthread", threads},
  };
  const char *boost[][2] = {
    {"max_depth", XGB_DEPTH},
    {"eta", XGB_ETA},
    {"tree_method", "hist"},
  };
  const char *rf[][2] = {
    {"num_parallel_tree", RF_TREES},
    {"eta", "1"},
    {"subsample", RF_SUBSAMPLE},
    {"colsample_bynode", colsample},
    {"max_depth", RF_DEPTH},
    {"lambda", "1e-5"},
    {"min_child_weight", classify ? RF_MIN_CHILD_CLASSIFICATION : RF_MIN_CHILD_REGRESSION},
    {"tree_method", "hist"},
  };
  for (size_t i = 0; i < sizeof common / sizeof *common; i++)
    if (xgb_set(m->xgb, common[i][0], common[i][1], eb) < 0)
      goto done;
  const char *(*params)[2] = forest ? rf : boost;
  size_t nparams = forest ? sizeof rf / sizeof *rf : sizeof boost / sizeof *boost;
  for (size_t i = 0; i < nparams; i++)
    if (xgb_set(m->xgb, params[i][0], params[i][1], eb) < 0)
      goto done;

  int rounds = forest ? 1 : XGB_ROUNDS;
  for (int i = 0; i < rounds; i++)
    if (xgb_check(XGBoosterUpdateOneIter(m->xgb, i, dm), eb) < 0)
      goto done;
  rc = 0;
done:
  if (dm)
    XGDMatrixFree(dm);
  free(label);
  return rc;
}

static int xgb_predict(const ml_model *m, const struct ml_data *d, const int *rows, int n, double *out,
                       struct cb_errbuf *eb)
{
  DMatrixHandle dm = xgb_matrix(d, rows, n, m->threads, eb);
  if (!dm)
    return -1;
  /* type 0: the objective's own output (the probability for binary:logistic), every tree */
  const char *config = "{\"type\":0,\"training\":false,\"iteration_begin\":0,\"iteration_end\":0,"
                       "\"strict_shape\":false}";
  const bst_ulong *shape = NULL;
  bst_ulong dim = 0;
  const float *result = NULL;
  int rc = xgb_check(XGBoosterPredictFromDMatrix(m->xgb, dm, config, &shape, &dim, &result), eb);
  if (rc == 0) {
    bst_ulong total = 1;
    for (bst_ulong i = 0; i < dim; i++)
      total *= shape[i];
    if (total != (bst_ulong)n) {
      cb_errf(eb, "XGBoost: %" PRIu64 " predictions for %d rows", (uint64_t)total, n);
      rc = -1;
    } else {
      for (int i = 0; i < n; i++)
        out[i] = result[i];
    }
  }
  XGDMatrixFree(dm);
  return rc;
}

static char *xgb_save(const ml_model *m, size_t *len, struct cb_errbuf *eb)
{
  bst_ulong n = 0;
  const char *bytes = NULL;
  if (xgb_check(XGBoosterSaveModelToBuffer(m->xgb, "{\"format\":\"json\"}", &n, &bytes), eb) < 0)
    return NULL;
  char *out = malloc((size_t)n + 1);
  if (!out) {
    cb_errf(eb, "out of memory");
    return NULL;
  }
  memcpy(out, bytes, (size_t)n);
  out[n] = '\0';
  *len = (size_t)n;
  return out;
}

static int xgb_load(ml_model *m, const char *bytes, size_t len, struct cb_errbuf *eb)
{
  /* carboy saves XGBoost's JSON model; anything else would go to XGBoost's binary reader,
   * which takes lengths from the bytes as they come (a damaged model asked for exabytes) */
  cJSON *doc = cJSON_ParseWithLength(bytes, len);
  int json = cJSON_IsObject(cJSON_GetObjectItemCaseSensitive(doc, "learner")) &&
             cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(doc, "version"));
  cJSON_Delete(doc);
  if (!json) {
    cb_errf(eb, "the model is not XGBoost's JSON model");
    return -1;
  }
  char threads[16];
  bst_ulong features = 0;
  snprintf(threads, sizeof threads, "%d", m->threads);
  if (xgb_check(XGBoosterCreate(NULL, 0, &m->xgb), eb) < 0 ||
      xgb_check(XGBoosterLoadModelFromBuffer(m->xgb, bytes, (bst_ulong)len), eb) < 0 ||
      xgb_set(m->xgb, "nthread", threads, eb) < 0 || xgb_check(XGBoosterGetNumFeature(m->xgb, &features), eb) < 0)
    return -1;
  if (features != (bst_ulong)m->p) {
    cb_errf(eb, "the model is for %" PRIu64 " features, not %d", (uint64_t)features, m->p);
    return -1;
  }
  /* and for the task: its objective, from the configuration the model keeps */
  bst_ulong n = 0;
  const char *config = NULL;
  if (xgb_check(XGBoosterSaveJsonConfig(m->xgb, &n, &config), eb) < 0)
    return -1;
  cJSON *c = cJSON_ParseWithLength(config, (size_t)n);
  const cJSON *obj = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(c, "learner"), "objective");
  const char *name = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(obj, "name"));
  const char *want = m->task == ML_CLASSIFICATION ? "binary:logistic" : "reg:squarederror";
  int rc = name && !strcmp(name, want) ? 0 : -1;
  if (rc < 0)
    cb_errf(eb, "the model's objective is %s, not %s", name ? name : "unknown", want);
  cJSON_Delete(c);
  return rc;
}

/* ---- model files for libsvm and liblinear, which save and load by file name only ---- */

/* A new empty file of ours in tmpdir; its name in path. */
static int tmp_file(const char *tmpdir, char *path, size_t size, struct cb_errbuf *eb)
{
  if (!tmpdir) {
    cb_errf(eb, "no folder for the model's file (libsvm and liblinear save and load by file name)");
    return -1;
  }
  if ((size_t)snprintf(path, size, "%s/ml-model-XXXXXX", tmpdir) >= size) {
    cb_errf(eb, "the folder for the model's file has too long a name");
    return -1;
  }
  int fd = mkstemp(path);
  if (fd < 0) {
    cb_errf(eb, "cannot create a file in %s: %s", tmpdir, strerror(errno));
    return -1;
  }
  close(fd);
  return 0;
}

static char *read_all(const char *path, size_t *len, struct cb_errbuf *eb)
{
  FILE *f = fopen(path, "rb");
  char *buf = NULL;
  size_t n = 0, cap = 0;
  if (!f) {
    cb_errf(eb, "cannot read the model's file: %s", strerror(errno));
    return NULL;
  }
  for (;;) {
    if (cap - n < 4096) {
      size_t ncap = cap ? cap * 2 : 65536;
      char *nbuf = realloc(buf, ncap + 1);
      if (!nbuf) {
        free(buf);
        fclose(f);
        cb_errf(eb, "out of memory");
        return NULL;
      }
      buf = nbuf;
      cap = ncap;
    }
    size_t got = fread(buf + n, 1, cap - n, f);
    n += got;
    if (got == 0)
      break;
  }
  int bad = ferror(f);
  fclose(f);
  if (bad) {
    free(buf);
    cb_errf(eb, "cannot read the model's file");
    return NULL;
  }
  buf[n] = '\0';
  *len = n;
  return buf;
}

static int write_all(const char *path, const char *bytes, size_t len, struct cb_errbuf *eb)
{
  FILE *f = fopen(path, "wb");
  if (!f) {
    cb_errf(eb, "cannot write the model's file: %s", strerror(errno));
    return -1;
  }
  size_t put = fwrite(bytes, 1, len, f);
  if (fclose(f) != 0 || put != len) {
    cb_errf(eb, "cannot write the model's file");
    return -1;
  }
  return 0;
}

/* ---- libsvm ---- */

/* libsvm and liblinear take sparse rows: (index from 1, value) pairs ending at index -1.
 * Zeros are left out (most fingerprint bits), and so are missing values (NaN), which
 * then count as 0. */
static int sparse_value(float v)
{
  return v != 0 && isfinite(v);
}

/* gamma as scikit-learn's 'scale': 1 / (p * the variance of all the training values) */
static double svm_gamma(const struct ml_data *d, const int *rows, int n)
{
  double sum = 0, ss = 0, count = (double)n * d->p;
  for (int i = 0; i < n; i++) {
    const float *x = d->x + (size_t)rows[i] * d->p;
    for (int j = 0; j < d->p; j++)
      sum += isfinite(x[j]) ? x[j] : 0;
  }
  double mean = sum / count;
  for (int i = 0; i < n; i++) {
    const float *x = d->x + (size_t)rows[i] * d->p;
    for (int j = 0; j < d->p; j++) {
      double e = (isfinite(x[j]) ? x[j] : 0) - mean;
      ss += e * e;
    }
  }
  double var = ss / count;
  return var > 0 ? 1 / (d->p * var) : 1.0 / d->p;
}

/* With saved, the values as libsvm's model file keeps a support vector's (8 significant
 * digits), so that a model predicts the same before it is saved and after it is loaded. */
static void svm_row(const float *x, int p, int saved, struct svm_node *out)
{
  int k = 0;
  char buf[32];
  for (int j = 0; j < p; j++)
    if (sparse_value(x[j])) {
      double v = x[j];
      if (saved && v != 1) {
        snprintf(buf, sizeof buf, "%.8g", v);
        v = strtod(buf, NULL);
      }
      out[k++] = (struct svm_node){j + 1, v};
    }
  out[k].index = -1;
}

static int svm_fit(ml_model *m, const struct ml_options *o, const struct ml_data *d, const int *rows, int nrows,
                   struct cb_errbuf *eb)
{
  int rc = -1;
  size_t total = 0;
  for (int i = 0; i < nrows; i++) {
    const float *x = d->x + (size_t)rows[i] * d->p;
    for (int j = 0; j < d->p; j++)
      total += sparse_value(x[j]);
    total++;
  }
  struct svm_node **xs = malloc((size_t)nrows * sizeof *xs);
  double *y = malloc((size_t)nrows * sizeof *y);
  m->svm_nodes = malloc(total * sizeof *m->svm_nodes);
  if (!xs || !y || !m->svm_nodes) {
    cb_errf(eb, "out of memory");
    goto done;
  }
  struct svm_node *at = m->svm_nodes;
  for (int i = 0; i < nrows; i++) {
    xs[i] = at;
    svm_row(d->x + (size_t)rows[i] * d->p, d->p, 1, at);
    while (at->index != -1)
      at++;
    at++;
    y[i] = d->y[rows[i]];
  }
  struct svm_problem prob = {.l = nrows, .y = y, .x = xs};
  struct svm_parameter param = {
    .svm_type = o->task == ML_CLASSIFICATION ? C_SVC : EPSILON_SVR,
    .kernel_type = RBF,
    .degree = 3,
    .gamma = svm_gamma(d, rows, nrows),
    .cache_size = 100,
    .eps = 1e-3,
    .C = 1,
    .nu = 0.5,
    .p = 0.1,
    .shrinking = 1,
    /* Platt scaling, for probabilities (and so AUC) */
    .probability = o->task == ML_CLASSIFICATION,
  };
  const char *why = svm_check_parameter(&prob, &param);
  if (why) {
    cb_errf(eb, "libsvm: %s", why);
    goto done;
  }
  /* Platt scaling's internal cross-validation shuffles with rand() */
  srand((unsigned)o->seed);
  m->svm = svm_train(&prob, &param);
  if (!m->svm) {
    cb_errf(eb, "libsvm: training failed");
    goto done;
  }
  rc = 0;
done:
  free(xs);
  free(y);
  return rc;
}

/* The index of class 1 among a two-class model's labels, or -1. */
static int label_index(const int *labels, int nr_class)
{
  for (int i = 0; i < nr_class && i < 2; i++)
    if (labels[i] == 1)
      return i;
  return -1;
}

static int svm_pred(const ml_model *m, const struct ml_data *d, const int *rows, int n, double *value, double *prob,
                    struct cb_errbuf *eb)
{
  struct svm_node *x = malloc(((size_t)d->p + 1) * sizeof *x);
  if (!x) {
    cb_errf(eb, "out of memory");
    return -1;
  }
  int one = m->task == ML_CLASSIFICATION ? label_index(m->svm->label, m->svm->nr_class) : 0;
  for (int i = 0; i < n; i++) {
    svm_row(d->x + (size_t)row_at(rows, i) * d->p, d->p, 0, x);
    if (m->task == ML_CLASSIFICATION) {
      double est[2] = {0, 0};
      svm_predict_probability(m->svm, x, est);
      prob[i] = est[one];
    } else {
      value[i] = svm_predict(m->svm, x);
    }
  }
  free(x);
  return 0;
}

static char *svm_save(const ml_model *m, const char *tmpdir, size_t *len, struct cb_errbuf *eb)
{
  char path[4096];
  if (tmp_file(tmpdir, path, sizeof path, eb) < 0)
    return NULL;
  char *out = NULL;
  if (svm_save_model(path, m->svm) != 0)
    cb_errf(eb, "libsvm: cannot save the model");
  else
    out = read_all(path, len, eb);
  unlink(path);
  return out;
}

/* whether bytes begin with a model file's first word (libsvm's and liblinear's loaders
 * complain on stderr about anything else, and trust what follows it) */
static int starts_with(const char *bytes, size_t len, const char *word)
{
  size_t n = strlen(word);
  return len > n && !memcmp(bytes, word, n);
}

static int svm_load(ml_model *m, const char *tmpdir, const char *bytes, size_t len, struct cb_errbuf *eb)
{
  char path[4096];
  if (!starts_with(bytes, len, "svm_type ")) {
    cb_errf(eb, "not a libsvm model");
    return -1;
  }
  if (tmp_file(tmpdir, path, sizeof path, eb) < 0)
    return -1;
  if (write_all(path, bytes, len, eb) == 0)
    m->svm = svm_load_model(path);
  unlink(path);
  if (!m->svm) {
    if (!eb || !eb->msg[0])
      cb_errf(eb, "not a libsvm model");
    return -1;
  }
  int type = svm_get_svm_type(m->svm);
  if (m->task == ML_CLASSIFICATION ? type != C_SVC || m->svm->nr_class != 2 || label_index(m->svm->label, 2) < 0 ||
                                       !svm_check_probability_model(m->svm)
                                   : type != EPSILON_SVR) {
    cb_errf(eb, "not a libsvm model for this task");
    return -1;
  }
  /* libsvm keeps no width; its support vectors' features must be among ours */
  for (int i = 0; i < m->svm->l; i++)
    for (const struct svm_node *x = m->svm->SV[i]; x->index != -1; x++)
      if (x->index < 1 || x->index > m->p) {
        cb_errf(eb, "the model has feature %d, the rows %d", x->index, m->p);
        return -1;
      }
  return 0;
}

/* ---- liblinear ---- */

/* sparse as for libsvm, and the bias term's constant feature (index p + 1) last */
static void lin_row(const float *x, int p, struct feature_node *out)
{
  int k = 0;
  for (int j = 0; j < p; j++)
    if (sparse_value(x[j]))
      out[k++] = (struct feature_node){j + 1, x[j]};
  out[k++] = (struct feature_node){p + 1, 1};
  out[k].index = -1;
}

static int lin_fit(ml_model *m, const struct ml_options *o, const struct ml_data *d, const int *rows, int nrows,
                   struct cb_errbuf *eb)
{
  int rc = -1;
  size_t total = 0;
  for (int i = 0; i < nrows; i++) {
    const float *x = d->x + (size_t)rows[i] * d->p;
    for (int j = 0; j < d->p; j++)
      total += sparse_value(x[j]);
    total += 2;
  }
  struct feature_node **xs = malloc((size_t)nrows * sizeof *xs);
  struct feature_node *nodes = malloc(total * sizeof *nodes);
  double *y = malloc((size_t)nrows * sizeof *y);
  if (!xs || !y || !nodes) {
    cb_errf(eb, "out of memory");
    goto done;
  }
  struct feature_node *at = nodes;
  for (int i = 0; i < nrows; i++) {
    xs[i] = at;
    lin_row(d->x + (size_t)rows[i] * d->p, d->p, at);
    while (at->index != -1)
      at++;
    at++;
    y[i] = d->y[rows[i]];
  }
  struct problem prob = {.l = nrows, .n = d->p + 1, .y = y, .x = xs, .bias = 1};
  struct parameter param = {.solver_type = L2R_LR, .eps = 0.01, .C = 1, .p = 0.1};
  const char *why = check_parameter(&prob, &param);
  if (why) {
    cb_errf(eb, "liblinear: %s", why);
    goto done;
  }
  /* L2R_LR's Newton solver draws no random numbers; this only keeps it so if that changes */
  srand((unsigned)o->seed);
  m->lin = train(&prob, &param);
  if (!m->lin) {
    cb_errf(eb, "liblinear: training failed");
    goto done;
  }
  rc = 0;
done:
  free(xs);
  free(nodes);
  free(y);
  return rc;
}

static int lin_pred(const ml_model *m, const struct ml_data *d, const int *rows, int n, double *prob,
                    struct cb_errbuf *eb)
{
  struct feature_node *x = malloc(((size_t)d->p + 2) * sizeof *x);
  if (!x) {
    cb_errf(eb, "out of memory");
    return -1;
  }
  /* liblinear orders the classes as it met them in training */
  int one = label_index(m->lin->label, m->lin->nr_class);
  for (int i = 0; i < n; i++) {
    double est[2] = {0, 0};
    lin_row(d->x + (size_t)row_at(rows, i) * d->p, d->p, x);
    predict_probability(m->lin, x, est);
    prob[i] = est[one];
  }
  free(x);
  return 0;
}

static char *lin_save(const ml_model *m, const char *tmpdir, size_t *len, struct cb_errbuf *eb)
{
  char path[4096];
  if (tmp_file(tmpdir, path, sizeof path, eb) < 0)
    return NULL;
  char *out = NULL;
  if (save_model(path, m->lin) != 0)
    cb_errf(eb, "liblinear: cannot save the model");
  else
    out = read_all(path, len, eb);
  unlink(path);
  return out;
}

static int lin_load(ml_model *m, const char *tmpdir, const char *bytes, size_t len, struct cb_errbuf *eb)
{
  char path[4096];
  if (!starts_with(bytes, len, "solver_type ")) {
    cb_errf(eb, "not a liblinear model");
    return -1;
  }
  if (tmp_file(tmpdir, path, sizeof path, eb) < 0)
    return -1;
  if (write_all(path, bytes, len, eb) == 0)
    m->lin = load_model(path);
  unlink(path);
  if (!m->lin) {
    if (!eb || !eb->msg[0])
      cb_errf(eb, "not a liblinear model");
    return -1;
  }
  if (m->lin->param.solver_type != L2R_LR || m->lin->nr_class != 2 || label_index(m->lin->label, 2) < 0 ||
      m->lin->nr_feature != m->p || m->lin->bias < 0) {
    cb_errf(eb, "not a liblinear model for this task");
    return -1;
  }
  return 0;
}

/* ---- k nearest neighbours ---- */

static int knn_fit(ml_model *m, const struct ml_data *d, const int *rows, int nrows, struct cb_errbuf *eb)
{
  size_t w = (size_t)d->fp_words;
  m->n = nrows;
  m->k = KNN_K;
  m->fp = malloc((size_t)nrows * w * sizeof *m->fp);
  m->y = malloc((size_t)nrows * sizeof *m->y);
  if (!m->fp || !m->y) {
    cb_errf(eb, "out of memory");
    return -1;
  }
  for (int i = 0; i < nrows; i++) {
    memcpy(m->fp + (size_t)i * w, d->fp + (size_t)rows[i] * w, w * sizeof *m->fp);
    m->y[i] = d->y[rows[i]];
  }
  return 0;
}

/* The k most similar training rows' similarity-weighted mean target (their plain mean
 * when all similarities are 0): for classification the weighted share of class 1. An
 * earlier training row wins a tie. */
static double knn_one(const ml_model *m, const uint64_t *q, int *best, double *sim)
{
  int k = m->k < m->n ? m->k : m->n, have = 0;
  for (int i = 0; i < m->n; i++) {
    double s = ml_tanimoto(q, m->fp + (size_t)i * m->fp_words, m->fp_words);
    if (have == k && s <= sim[k - 1])
      continue;
    int at = have < k ? have++ : k - 1;
    while (at > 0 && sim[at - 1] < s) {
      sim[at] = sim[at - 1];
      best[at] = best[at - 1];
      at--;
    }
    sim[at] = s;
    best[at] = i;
  }
  double wsum = 0, wy = 0, sum = 0;
  for (int i = 0; i < have; i++) {
    wsum += sim[i];
    wy += sim[i] * m->y[best[i]];
    sum += m->y[best[i]];
  }
  return wsum > 0 ? wy / wsum : sum / have;
}

static int knn_pred(const ml_model *m, const struct ml_data *d, const int *rows, int n, double *out,
                    struct cb_errbuf *eb)
{
  int *best = malloc((size_t)m->k * sizeof *best);
  double *sim = malloc((size_t)m->k * sizeof *sim);
  if (!best || !sim) {
    free(best);
    free(sim);
    cb_errf(eb, "out of memory");
    return -1;
  }
  for (int i = 0; i < n; i++)
    out[i] = knn_one(m, d->fp + (size_t)row_at(rows, i) * m->fp_words, best, sim);
  free(best);
  free(sim);
  return 0;
}

/* carboy's knn model: {"k": 5, "words": W, "fingerprints": ["hex", ...], "y": [...]}, each
 * fingerprint its words in order, each word 16 lowercase hex digits (most significant
 * first). */
static char *knn_save(const ml_model *m, size_t *len, struct cb_errbuf *eb)
{
  cJSON *o = cJSON_CreateObject(), *fps = NULL;
  char *hex = malloc((size_t)m->fp_words * 16 + 1), *out = NULL;
  if (!o || !hex || !cJSON_AddNumberToObject(o, "k", m->k) || !cJSON_AddNumberToObject(o, "words", m->fp_words) ||
      !(fps = cJSON_AddArrayToObject(o, "fingerprints")))
    goto done;
  for (int i = 0; i < m->n; i++) {
    for (int w = 0; w < m->fp_words; w++)
      snprintf(hex + 16 * w, 17, "%016" PRIx64, m->fp[(size_t)i * m->fp_words + w]);
    hex[16 * m->fp_words] = '\0';
    cJSON *s = cJSON_CreateString(hex);
    if (!s)
      goto done;
    cJSON_AddItemToArray(fps, s);
  }
  /* cJSON prints a double to within a rounding error only: %.17g, which gives it back
   * exactly */
  cJSON *y = cJSON_AddArrayToObject(o, "y");
  if (!y)
    goto done;
  for (int i = 0; i < m->n; i++) {
    char num[32];
    snprintf(num, sizeof num, "%.17g", m->y[i]);
    cJSON *v = cJSON_CreateRaw(num);
    if (!v)
      goto done;
    cJSON_AddItemToArray(y, v);
  }
  out = cJSON_PrintUnformatted(o);
done:
  if (out)
    *len = strlen(out);
  else
    cb_errf(eb, "out of memory");
  cJSON_Delete(o);
  free(hex);
  return out;
}

static int hex_words(const char *s, int words, uint64_t *out)
{
  if (strlen(s) != (size_t)words * 16)
    return -1;
  for (int w = 0; w < words; w++) {
    uint64_t v = 0;
    for (int i = 0; i < 16; i++) {
      char c = s[16 * w + i];
      int digit = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
      if (digit < 0)
        return -1;
      v = v << 4 | (uint64_t)digit;
    }
    out[w] = v;
  }
  return 0;
}

/* a whole number from lo to hi, or -1 */
static int json_int(const cJSON *o, const char *name, int lo, int hi)
{
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
  if (!cJSON_IsNumber(v) || v->valuedouble < lo || v->valuedouble > hi || v->valuedouble != (int)v->valuedouble)
    return -1;
  return (int)v->valuedouble;
}

static int knn_load(ml_model *m, const cJSON *o, struct cb_errbuf *eb)
{
  const cJSON *fps = cJSON_GetObjectItemCaseSensitive(o, "fingerprints");
  const cJSON *y = cJSON_GetObjectItemCaseSensitive(o, "y");
  m->k = json_int(o, "k", 1, 1000000);
  int words = json_int(o, "words", 0, 1000000);
  if (m->k < 1 || words != m->fp_words || !cJSON_IsArray(fps) || !cJSON_IsArray(y) ||
      cJSON_GetArraySize(fps) != cJSON_GetArraySize(y) || cJSON_GetArraySize(y) < 1) {
    cb_errf(eb, "not a knn model for fingerprints of %d words", m->fp_words);
    return -1;
  }
  m->n = cJSON_GetArraySize(y);
  m->fp = malloc((size_t)m->n * (size_t)(words ? words : 1) * sizeof *m->fp);
  m->y = malloc((size_t)m->n * sizeof *m->y);
  if (!m->fp || !m->y) {
    cb_errf(eb, "out of memory");
    return -1;
  }
  int i = 0;
  const cJSON *f, *v = y->child;
  cJSON_ArrayForEach(f, fps)
  {
    if (!cJSON_IsString(f) || hex_words(f->valuestring, words, m->fp + (size_t)i * words) < 0 || !cJSON_IsNumber(v) ||
        !isfinite(v->valuedouble) || (m->task == ML_CLASSIFICATION && v->valuedouble != 0 && v->valuedouble != 1)) {
      cb_errf(eb, "knn model: row %d is not a fingerprint and a target (a class for classification)", i);
      return -1;
    }
    m->y[i++] = v->valuedouble;
    v = v->next;
  }
  return 0;
}

/* ---- Bernoulli naive Bayes ---- */

/* From the counts: with Laplace smoothing (alpha 1), P(bit | c) = (count + 1) / (rows of
 * c + 2); the class prior is its share of the rows. */
static int nb_prepare(ml_model *m, struct cb_errbuf *eb)
{
  int bits = m->fp_words * 64;
  m->nb_on = malloc((size_t)2 * (size_t)(bits ? bits : 1) * sizeof *m->nb_on);
  if (!m->nb_on) {
    cb_errf(eb, "out of memory");
    return -1;
  }
  double total = (double)m->nb_rows[0] + m->nb_rows[1];
  for (int c = 0; c < 2; c++) {
    double base = log(m->nb_rows[c] / total);
    for (int j = 0; j < bits; j++) {
      double on = (m->nb_count[c * bits + j] + 1.0) / (m->nb_rows[c] + 2.0);
      base += log1p(-on);
      m->nb_on[c * bits + j] = log(on) - log1p(-on);
    }
    m->nb_base[c] = base;
  }
  return 0;
}

static int nb_fit(ml_model *m, const struct ml_data *d, const int *rows, int nrows, struct cb_errbuf *eb)
{
  int bits = d->fp_words * 64;
  m->nb_count = calloc((size_t)2 * (size_t)(bits ? bits : 1), sizeof *m->nb_count);
  if (!m->nb_count) {
    cb_errf(eb, "out of memory");
    return -1;
  }
  for (int i = 0; i < nrows; i++) {
    int c = d->y[rows[i]] != 0;
    const uint64_t *fp = d->fp + (size_t)rows[i] * d->fp_words;
    m->nb_rows[c]++;
    for (int j = 0; j < bits; j++)
      m->nb_count[c * bits + j] += (int)(fp[j / 64] >> (j % 64) & 1);
  }
  return nb_prepare(m, eb);
}

static void nb_pred(const ml_model *m, const struct ml_data *d, const int *rows, int n, double *prob)
{
  int bits = m->fp_words * 64;
  for (int i = 0; i < n; i++) {
    const uint64_t *fp = d->fp + (size_t)row_at(rows, i) * m->fp_words;
    double ll[2] = {m->nb_base[0], m->nb_base[1]};
    for (int w = 0; w < m->fp_words; w++)
      for (uint64_t word = fp[w]; word; word &= word - 1) {
        int j = w * 64 + __builtin_ctzll(word);
        ll[0] += m->nb_on[j];
        ll[1] += m->nb_on[bits + j];
      }
    prob[i] = 1 / (1 + exp(ll[0] - ll[1]));
  }
}

/* carboy's naive Bayes model: {"alpha": 1, "words": W, "rows": [n0, n1], "counts": [[...],
 * [...]]}: the counts, whole numbers that JSON keeps exactly, rather than the logarithms
 * made from them (counts[c][j]: the rows of class c with bit j). */
static char *nb_save(const ml_model *m, size_t *len, struct cb_errbuf *eb)
{
  int bits = m->fp_words * 64;
  cJSON *o = cJSON_CreateObject(), *counts = NULL, *r = NULL;
  char *out = NULL;
  if (!o || !cJSON_AddNumberToObject(o, "alpha", 1) || !cJSON_AddNumberToObject(o, "words", m->fp_words) ||
      !(r = cJSON_CreateIntArray(m->nb_rows, 2)) || !cJSON_AddItemToObject(o, "rows", r) ||
      !(counts = cJSON_AddArrayToObject(o, "counts")))
    goto done;
  for (int c = 0; c < 2; c++) {
    cJSON *a = cJSON_CreateIntArray(m->nb_count + c * bits, bits);
    if (!a)
      goto done;
    cJSON_AddItemToArray(counts, a);
  }
  out = cJSON_PrintUnformatted(o);
done:
  if (out)
    *len = strlen(out);
  else
    cb_errf(eb, "out of memory");
  cJSON_Delete(o);
  return out;
}

static int nb_load(ml_model *m, const cJSON *o, struct cb_errbuf *eb)
{
  int bits = m->fp_words * 64;
  const cJSON *rows = cJSON_GetObjectItemCaseSensitive(o, "rows");
  const cJSON *counts = cJSON_GetObjectItemCaseSensitive(o, "counts");
  if (json_int(o, "alpha", 1, 1) != 1 || json_int(o, "words", 0, 1000000) != m->fp_words || !cJSON_IsArray(rows) ||
      cJSON_GetArraySize(rows) != 2 || !cJSON_IsArray(counts) || cJSON_GetArraySize(counts) != 2) {
    cb_errf(eb, "not a naive Bayes model for fingerprints of %d words", m->fp_words);
    return -1;
  }
  m->nb_count = calloc((size_t)2 * (size_t)(bits ? bits : 1), sizeof *m->nb_count);
  if (!m->nb_count) {
    cb_errf(eb, "out of memory");
    return -1;
  }
  for (int c = 0; c < 2; c++) {
    const cJSON *n = cJSON_GetArrayItem(rows, c), *a = cJSON_GetArrayItem(counts, c);
    if (!cJSON_IsNumber(n) || n->valuedouble < 1 || n->valuedouble > 1e9 || !cJSON_IsArray(a) ||
        cJSON_GetArraySize(a) != bits)
      goto bad;
    m->nb_rows[c] = (int)n->valuedouble;
    int j = 0;
    const cJSON *v;
    cJSON_ArrayForEach(v, a)
    {
      if (!cJSON_IsNumber(v) || v->valuedouble < 0 || v->valuedouble > m->nb_rows[c])
        goto bad;
      m->nb_count[c * bits + j++] = (int)v->valuedouble;
    }
  }
  return nb_prepare(m, eb);
bad:
  cb_errf(eb, "naive Bayes model: the counts do not fit");
  return -1;
}

/* ---- the methods together ---- */

static ml_model *model_new(const struct ml_options *o, int p, int fp_words, struct cb_errbuf *eb)
{
  if ((int)o->method < 0 || o->method >= ML_METHODS || (o->task != ML_REGRESSION && o->task != ML_CLASSIFICATION)) {
    cb_errf(eb, "unknown method or task");
    return NULL;
  }
  const char *why = ml_method_unfit(o->method, o->task, fp_words > 0);
  if (why) {
    cb_errf(eb, "%s", why);
    return NULL;
  }
  if (p < 1 && o->method != ML_KNN && o->method != ML_NAIVE_BAYES) {
    cb_errf(eb, "no features");
    return NULL;
  }
  if (quiet(eb) < 0)
    return NULL;
  ml_model *m = calloc(1, sizeof *m);
  if (!m) {
    cb_errf(eb, "out of memory");
    return NULL;
  }
  m->task = o->task;
  m->method = o->method;
  m->p = p;
  m->fp_words = fp_words;
  m->threads = o->threads > 0 ? o->threads : 1;
  if (o->tmpdir && !(m->tmpdir = strdup(o->tmpdir))) {
    cb_errf(eb, "out of memory");
    free(m);
    return NULL;
  }
  return m;
}

/* The training rows' targets as each method needs them: finite; 0 or 1 with both present
 * for classification; not all the same for regression. */
static int check_target(const struct ml_options *o, const struct ml_data *d, const int *rows, int nrows,
                        struct cb_errbuf *eb)
{
  if (nrows < 2) {
    cb_errf(eb, "at least 2 training rows are needed, not %d", nrows);
    return -1;
  }
  if (!d->y) {
    cb_errf(eb, "the training rows have no target");
    return -1;
  }
  int count[2] = {0, 0}, differ = 0;
  for (int i = 0; i < nrows; i++) {
    if (rows[i] < 0 || rows[i] >= d->n) {
      cb_errf(eb, "training row %d is not among the %d rows", rows[i], d->n);
      return -1;
    }
    double y = d->y[rows[i]];
    if (!isfinite(y)) {
      cb_errf(eb, "the target of training row %d is not a finite number", rows[i]);
      return -1;
    }
    if (o->task == ML_CLASSIFICATION) {
      if (y != 0 && y != 1) {
        cb_errf(eb, "the class of training row %d is %g, not 0 or 1", rows[i], y);
        return -1;
      }
      count[y == 1]++;
    }
    differ |= y != d->y[rows[0]];
  }
  if (o->task == ML_CLASSIFICATION && (!count[0] || !count[1])) {
    cb_errf(eb, "only one class among the training rows");
    return -1;
  }
  if (o->task == ML_REGRESSION && !differ) {
    cb_errf(eb, "the target is constant");
    return -1;
  }
  return 0;
}

ml_model *ml_train(const struct ml_options *o, const struct ml_data *d, const int *rows, int nrows,
                   struct cb_errbuf *eb)
{
  if (check_target(o, d, rows, nrows, eb) < 0)
    return NULL;
  ml_model *m = model_new(o, d->p, d->fp ? d->fp_words : 0, eb);
  if (!m)
    return NULL;
  int rc = -1;
  switch (o->method) {
  case ML_XGBOOST:
  case ML_RANDOM_FOREST: rc = xgb_train(m, o, d, rows, nrows, eb); break;
  case ML_SVM: rc = svm_fit(m, o, d, rows, nrows, eb); break;
  case ML_LOGISTIC_REGRESSION: rc = lin_fit(m, o, d, rows, nrows, eb); break;
  case ML_KNN: rc = knn_fit(m, d, rows, nrows, eb); break;
  case ML_NAIVE_BAYES: rc = nb_fit(m, d, rows, nrows, eb); break;
  case ML_METHODS: break;
  }
  if (rc < 0) {
    ml_free(m);
    return NULL;
  }
  return m;
}

int ml_predict(const ml_model *m, const struct ml_data *d, const int *rows, int n, double *value, double *prob,
               struct cb_errbuf *eb)
{
  if (d->p != m->p) {
    cb_errf(eb, "the rows have %d features, the model was trained on %d", d->p, m->p);
    return -1;
  }
  if ((m->method == ML_KNN || m->method == ML_NAIVE_BAYES) && (!d->fp || d->fp_words != m->fp_words)) {
    cb_errf(eb, "the rows' fingerprints are not of the %d words the model was trained on", m->fp_words);
    return -1;
  }
  for (int i = 0; rows && i < n; i++)
    if (rows[i] < 0 || rows[i] >= d->n) {
      cb_errf(eb, "row %d is not among the %d rows", rows[i], d->n);
      return -1;
    }
  if (n <= 0)
    return 0;
  /* every method's raw output in out: the value for regression, else the probability */
  double *out = malloc((size_t)n * sizeof *out);
  if (!out) {
    cb_errf(eb, "out of memory");
    return -1;
  }
  int rc = -1;
  switch (m->method) {
  case ML_XGBOOST:
  case ML_RANDOM_FOREST: rc = xgb_predict(m, d, rows, n, out, eb); break;
  case ML_SVM: rc = svm_pred(m, d, rows, n, out, out, eb); break;
  case ML_LOGISTIC_REGRESSION: rc = lin_pred(m, d, rows, n, out, eb); break;
  case ML_KNN: rc = knn_pred(m, d, rows, n, out, eb); break;
  case ML_NAIVE_BAYES:
    nb_pred(m, d, rows, n, out);
    rc = 0;
    break;
  case ML_METHODS: break;
  }
  if (rc == 0)
    for (int i = 0; i < n; i++) {
      int classify = m->task == ML_CLASSIFICATION;
      if (value)
        value[i] = classify ? out[i] >= 0.5 : out[i];
      if (prob)
        prob[i] = classify ? out[i] : NAN;
    }
  free(out);
  return rc;
}

char *ml_save(const ml_model *m, size_t *len, struct cb_errbuf *eb)
{
  switch (m->method) {
  case ML_XGBOOST:
  case ML_RANDOM_FOREST: return xgb_save(m, len, eb);
  case ML_SVM: return svm_save(m, m->tmpdir, len, eb);
  case ML_LOGISTIC_REGRESSION: return lin_save(m, m->tmpdir, len, eb);
  case ML_KNN: return knn_save(m, len, eb);
  case ML_NAIVE_BAYES: return nb_save(m, len, eb);
  case ML_METHODS: break;
  }
  cb_errf(eb, "unknown method");
  return NULL;
}

ml_model *ml_load(const struct ml_options *o, int p, int fp_words, const char *bytes, size_t len, struct cb_errbuf *eb)
{
  ml_model *m = model_new(o, p, fp_words, eb);
  if (!m)
    return NULL;
  if (eb)
    eb->msg[0] = '\0';
  int rc = -1;
  cJSON *o_json = NULL;
  switch (o->method) {
  case ML_XGBOOST:
  case ML_RANDOM_FOREST: rc = xgb_load(m, bytes, len, eb); break;
  case ML_SVM: rc = svm_load(m, o->tmpdir, bytes, len, eb); break;
  case ML_LOGISTIC_REGRESSION: rc = lin_load(m, o->tmpdir, bytes, len, eb); break;
  case ML_KNN:
  case ML_NAIVE_BAYES:
    o_json = cJSON_ParseWithLength(bytes, len);
    if (!cJSON_IsObject(o_json))
      cb_errf(eb, "not a carboy %s model (not a JSON object)", ml_method_name(o->method));
    else
      rc = o->method == ML_KNN ? knn_load(m, o_json, eb) : nb_load(m, o_json, eb);
    cJSON_Delete(o_json);
    break;
  case ML_METHODS: break;
  }
  if (rc < 0) {
    ml_free(m);
    return NULL;
  }
  return m;
}
