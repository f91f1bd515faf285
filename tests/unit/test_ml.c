#include <dirent.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "test.h"
#include "ml/ml.h"

#define NEAR(a, b) (fabs((a) - (b)) < 1e-9)

static double num(const cJSON *o, const char *name)
{
  const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, name);
  return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

static int is_null(const cJSON *o, const char *name)
{
  return cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(o, name));
}

/* the point i of a curve as [a, b] */
static int point(const cJSON *curve, int i, double a, double b)
{
  const cJSON *pt = cJSON_GetArrayItem(curve, i);
  return cJSON_GetArraySize(pt) == 2 && NEAR(cJSON_GetArrayItem(pt, 0)->valuedouble, a) &&
         NEAR(cJSON_GetArrayItem(pt, 1)->valuedouble, b);
}

static void test_metrics(void)
{
  /* regression: residuals 0, 0, 1, -1; the predictions' ranks 1, 2.5, 2.5, 4 */
  double obs[] = {1, 2, 3, 4}, pred[] = {1, 2, 2, 5};
  cJSON *m = ml_metrics(ML_REGRESSION, obs, pred, NULL, 4);
  CHECK(NEAR(num(m, "r2"), 1 - 2.0 / 5));
  CHECK(NEAR(num(m, "rmse"), sqrt(0.5)));
  CHECK(NEAR(num(m, "mae"), 0.5));
  CHECK(NEAR(num(m, "spearman"), 4.5 / sqrt(5 * 4.5)));
  CHECK(num(m, "n") == 4);
  cJSON_Delete(m);
  /* a constant observation: no r2; a constant prediction: no spearman */
  double flat[] = {2, 2, 2, 2};
  m = ml_metrics(ML_REGRESSION, flat, pred, NULL, 4);
  CHECK(is_null(m, "r2") && is_null(m, "spearman") && NEAR(num(m, "mae"), 1));
  cJSON_Delete(m);
  m = ml_metrics(ML_REGRESSION, obs, flat, NULL, 4);
  CHECK(is_null(m, "spearman") && NEAR(num(m, "r2"), 1 - 6.0 / 5));
  cJSON_Delete(m);

  /* classification: (positive, negative) pairs 2.5 + 3 + 2 of 9 rightly ordered, the
   * 0.6 against 0.6 tie counting half; called at 0.5: tp 2, fp 1, tn 2, fn 1 */
  double cobs[] = {0, 0, 1, 1, 1, 0}, prob[] = {0.1, 0.6, 0.6, 0.8, 0.4, 0.2};
  double cpred[] = {0, 1, 1, 1, 0, 0};
  m = ml_metrics(ML_CLASSIFICATION, cobs, cpred, prob, 6);
  CHECK(NEAR(num(m, "auc"), 7.5 / 9));
  CHECK(NEAR(num(m, "accuracy"), 4.0 / 6));
  CHECK(NEAR(num(m, "balanced_accuracy"), 2.0 / 3));
  CHECK(NEAR(num(m, "precision"), 2.0 / 3));
  CHECK(NEAR(num(m, "recall"), 2.0 / 3));
  CHECK(NEAR(num(m, "f1"), 2.0 / 3));
  CHECK(NEAR(num(m, "mcc"), 1.0 / 3));
  const cJSON *c = cJSON_GetObjectItemCaseSensitive(m, "confusion");
  CHECK(num(c, "tp") == 2 && num(c, "fp") == 1 && num(c, "tn") == 2 && num(c, "fn") == 1);
  CHECK(num(m, "n") == 6);
  cJSON_Delete(m);
  /* nothing called positive: no precision, no mcc; every probability tied: auc 0.5 */
  double low[] = {0.2, 0.2, 0.2, 0.2, 0.2, 0.2}, zeros[6] = {0};
  m = ml_metrics(ML_CLASSIFICATION, cobs, zeros, low, 6);
  CHECK(is_null(m, "precision") && is_null(m, "mcc") && NEAR(num(m, "recall"), 0) && NEAR(num(m, "f1"), 0));
  CHECK(NEAR(num(m, "auc"), 0.5) && NEAR(num(m, "accuracy"), 0.5));
  cJSON_Delete(m);
  /* one class only: no auc */
  double ones[] = {1, 1, 1, 1, 1, 1};
  m = ml_metrics(ML_CLASSIFICATION, ones, cpred, prob, 6);
  CHECK(is_null(m, "auc") && is_null(m, "balanced_accuracy") && NEAR(num(m, "recall"), 0.5));
  cJSON_Delete(m);

  /* curves: a point at each threshold 0.8, 0.6, 0.4, 0.2, 0.1 after the start */
  cJSON *cv = ml_curves(ML_CLASSIFICATION, cobs, cpred, prob, 6, 100);
  const cJSON *roc = cJSON_GetObjectItemCaseSensitive(cv, "roc"), *pr = cJSON_GetObjectItemCaseSensitive(cv, "pr");
  CHECK(cJSON_GetArraySize(roc) == 6 && cJSON_GetArraySize(pr) == 6);
  CHECK(point(roc, 0, 0, 0) && point(roc, 1, 0, 1.0 / 3) && point(roc, 2, 1.0 / 3, 2.0 / 3) &&
        point(roc, 3, 1.0 / 3, 1) && point(roc, 4, 2.0 / 3, 1) && point(roc, 5, 1, 1));
  CHECK(point(pr, 0, 0, 1) && point(pr, 1, 1.0 / 3, 1) && point(pr, 2, 2.0 / 3, 2.0 / 3) && point(pr, 3, 1, 0.75) &&
        point(pr, 5, 1, 0.5));
  cJSON_Delete(cv);
  /* thinned to 3: the ends and the middle */
  cv = ml_curves(ML_CLASSIFICATION, cobs, cpred, prob, 6, 3);
  roc = cJSON_GetObjectItemCaseSensitive(cv, "roc");
  CHECK(cJSON_GetArraySize(roc) == 3 && point(roc, 0, 0, 0) && point(roc, 1, 1.0 / 3, 1) && point(roc, 2, 1, 1));
  cJSON_Delete(cv);
  double many_obs[1000], many_pred[1000];
  for (int i = 0; i < 1000; i++) {
    many_obs[i] = i;
    many_pred[i] = 2 * i;
  }
  cv = ml_curves(ML_REGRESSION, many_obs, many_pred, NULL, 1000, 50);
  const cJSON *op = cJSON_GetObjectItemCaseSensitive(cv, "observed_predicted");
  CHECK(cJSON_GetArraySize(op) == 50 && point(op, 0, 0, 0) && point(op, 49, 999, 1998));
  cJSON_Delete(cv);
}

static void test_folds(void)
{
  enum { N = 103, K = 5 };
  double y[N];
  int fold[N], again[N], other[N];
  for (int i = 0; i < N; i++)
    y[i] = i % 7 < 2; /* 30 of class 1 */
  ml_folds(y, N, K, 1, 42, fold);
  int size[K] = {0}, ones[K] = {0};
  for (int i = 0; i < N; i++) {
    CHECK(fold[i] >= 0 && fold[i] < K);
    size[fold[i]]++;
    ones[fold[i]] += y[i] == 1;
  }
  int lo = N, hi = 0, lo1 = N, hi1 = 0;
  for (int f = 0; f < K; f++) {
    lo = size[f] < lo ? size[f] : lo;
    hi = size[f] > hi ? size[f] : hi;
    lo1 = ones[f] < lo1 ? ones[f] : lo1;
    hi1 = ones[f] > hi1 ? ones[f] : hi1;
  }
  CHECK(hi - lo <= 1);
  CHECK(lo1 == 6 && hi1 == 6); /* 30 ones, 6 a fold */
  ml_folds(y, N, K, 1, 42, again);
  CHECK(!memcmp(fold, again, sizeof fold));
  ml_folds(y, N, K, 1, 43, other);
  CHECK(memcmp(fold, other, sizeof fold) != 0);
  /* unstratified: sizes still even */
  ml_folds(y, N, K, 0, 42, fold);
  memset(size, 0, sizeof size);
  for (int i = 0; i < N; i++)
    size[fold[i]]++;
  for (int f = 0; f < K; f++)
    CHECK(size[f] == 20 || size[f] == 21);

  /* held out: round(73 * 0.2) = 15 of class 0 and round(30 * 0.2) = 6 of class 1 */
  unsigned char test[N], test2[N];
  ml_holdout(y, N, 0.2, 1, 7, test);
  int t0 = 0, t1 = 0;
  for (int i = 0; i < N; i++)
    if (test[i])
      y[i] == 1 ? t1++ : t0++;
  CHECK(t0 == 15 && t1 == 6);
  ml_holdout(y, N, 0.2, 1, 7, test2);
  CHECK(!memcmp(test, test2, sizeof test));
  ml_holdout(y, N, 0.25, 0, 7, test);
  int t = 0;
  for (int i = 0; i < N; i++)
    t += test[i];
  CHECK(t == 26); /* round(25.75) */

  /* splitmix64's first output from 0 (the published reference value) */
  uint64_t s = 0;
  CHECK(ml_rand(&s) == 0xe220a8397b1dcdafull);
}

static void test_tanimoto(void)
{
  uint64_t a[2] = {0xb, 0}, b[2] = {0x6, 0}, z[2] = {0, 0}, c[2] = {0xb, 0xf}, d[2] = {0x3, 0xff};
  CHECK(NEAR(ml_tanimoto(a, b, 2), 0.25)); /* 0010 of 1111 */
  CHECK(NEAR(ml_tanimoto(z, z, 2), 1));
  CHECK(NEAR(ml_tanimoto(a, z, 2), 0));
  CHECK(NEAR(ml_tanimoto(a, a, 2), 1));
  CHECK(NEAR(ml_tanimoto(c, d, 2), 6.0 / 11)); /* 2 + 4 of 3 + 8 */
}

/* ---- the methods on synthetic data ---- */

enum { ROWS = 300, WORDS = 4, BITS = WORDS * 64, DESC = 2, P = BITS + DESC };

struct set {
  uint64_t fp[ROWS * WORDS];
  float x[ROWS * P];
  double y[ROWS];
  struct ml_data d;
};

static int bit(const uint64_t *fp, int j)
{
  return (int)(fp[j / 64] >> (j % 64) & 1);
}

/* 300 rows of 256-bit fingerprints (about a fifth of the bits set) and two descriptors
 * (one noise, sometimes missing). The target depends on bits 3, 7 and 11: 2 b3 + b7 - b11
 * and a little noise, or the class b3 | b7. With clusters, the rows are noisy copies of
 * a few prototypes whose first 16 bits they keep, so that similar fingerprints share a
 * target (k nearest neighbours need that); without, every bit is independent. */
static void make_set(struct set *s, enum ml_task task, int clusters, uint64_t seed)
{
  uint64_t st = seed, proto[16 * WORDS];
  for (int i = 0; i < 16 * WORDS; i++)
    proto[i] = ml_rand(&st) & ml_rand(&st) & (ml_rand(&st) | ml_rand(&st)); /* 3/16 of the bits */
  for (int i = 0; i < ROWS; i++) {
    uint64_t *fp = s->fp + i * WORDS;
    const uint64_t *pr = proto + (ml_rand(&st) % 16) * WORDS;
    for (int w = 0; w < WORDS; w++) {
      uint64_t r = ml_rand(&st) & ml_rand(&st) & (ml_rand(&st) | ml_rand(&st));
      if (clusters) {
        uint64_t flip = ml_rand(&st) & ml_rand(&st) & ml_rand(&st) & ml_rand(&st); /* 1/16 */
        fp[w] = pr[w] ^ flip;
        if (w == 0)
          fp[w] = (fp[w] & ~0xffffull) | (pr[w] & 0xffff);
      } else {
        fp[w] = r;
        if (w == 0) /* the bits that matter set half the time */
          fp[w] = (fp[w] & ~0x888ull) | (ml_rand(&st) & 0x888);
      }
    }
    float *x = s->x + i * P;
    for (int j = 0; j < BITS; j++)
      x[j] = (float)bit(fp, j);
    x[BITS] = (float)(ml_rand(&st) % 1000) / 100;
    x[BITS + 1] = i % 17 == 0 ? NAN : (float)(ml_rand(&st) % 1000) / 1000;
    double noise = ((double)(ml_rand(&st) % 2001) / 1000 - 1) * 0.1;
    s->y[i] = task == ML_REGRESSION ? 2 * bit(fp, 3) + bit(fp, 7) - bit(fp, 11) + noise : bit(fp, 3) | bit(fp, 7);
  }
  s->d = (struct ml_data){.n = ROWS, .p = P, .x = s->x, .fp_words = WORDS, .fp = s->fp, .y = s->y};
}

static char tmpdir[64];

static int tmpdir_empty(void)
{
  DIR *dir = opendir(tmpdir);
  int n = 0;
  for (struct dirent *e; dir && (e = readdir(dir));)
    n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
  if (dir)
    closedir(dir);
  return dir && n == 0;
}

static double now(void)
{
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Trains on 80 % of the rows and scores the rest; then the model saved and loaded, and
 * trained again with the same seed, must predict exactly the same. */
static void check_method(enum ml_method method, enum ml_task task, int clusters, double want)
{
  static struct set s;
  make_set(&s, task, clusters, 1000 + method);
  unsigned char test[ROWS];
  ml_holdout(s.y, ROWS, 0.2, task == ML_CLASSIFICATION, 5, test);
  int train[ROWS], held[ROWS], ntrain = 0, nheld = 0;
  for (int i = 0; i < ROWS; i++) {
    if (test[i])
      held[nheld++] = i;
    else
      train[ntrain++] = i;
  }
  struct ml_options o = {.task = task, .method = method, .seed = 11, .threads = 1, .tmpdir = tmpdir};
  struct cb_errbuf eb = {{0}};
  double t0 = now();
  ml_model *m = ml_train(&o, &s.d, train, ntrain, &eb);
  double t1 = now();
  CHECK(m != NULL);
  if (!m) {
    fprintf(stderr, "%s: %s\n", ml_method_name(method), eb.msg);
    return;
  }
  double value[ROWS], prob[ROWS], obs[ROWS];
  CHECK(ml_predict(m, &s.d, held, nheld, value, prob, &eb) == 0);
  for (int i = 0; i < nheld; i++)
    obs[i] = s.y[held[i]];
  cJSON *metrics = ml_metrics(task, obs, value, prob, nheld);
  double score = num(metrics, task == ML_REGRESSION ? "r2" : "auc");
  fprintf(stderr, "%s %s%s: %s %.3f (trained in %.3f s)\n", ml_method_name(method),
          task == ML_REGRESSION ? "regression" : "classification", clusters ? " (clusters)" : "",
          task == ML_REGRESSION ? "r2" : "auc", score, t1 - t0);
  CHECK(score > want);
  cJSON_Delete(metrics);
  for (int i = 0; i < nheld; i++) {
    if (task == ML_CLASSIFICATION) {
      CHECK(prob[i] >= 0 && prob[i] <= 1);
      CHECK(value[i] == (prob[i] >= 0.5));
    } else {
      CHECK(isnan(prob[i]));
    }
  }

  /* the libraries order the classes as they meet them: the other class first must score
   * as well */
  if (task == ML_CLASSIFICATION) {
    int swapped[ROWS], k = 1;
    memcpy(swapped, train, sizeof swapped);
    while (k < ntrain && s.y[swapped[k]] == s.y[swapped[0]])
      k++;
    swapped[0] = train[k];
    swapped[k] = train[0];
    ml_model *sm = ml_train(&o, &s.d, swapped, ntrain, &eb);
    double sv[ROWS], sp[ROWS];
    CHECK(sm && ml_predict(sm, &s.d, held, nheld, sv, sp, &eb) == 0);
    cJSON *sme = ml_metrics(task, obs, sv, sp, nheld);
    CHECK(num(sme, "auc") > want);
    cJSON_Delete(sme);
    ml_free(sm);
  }

  /* saved and loaded */
  size_t len = 0;
  char *bytes = ml_save(m, &len, &eb);
  CHECK(bytes != NULL && len > 0);
  ml_model *back = bytes ? ml_load(&o, P, WORDS, bytes, len, &eb) : NULL;
  CHECK(back != NULL);
  if (back) {
    double v2[ROWS], p2[ROWS];
    CHECK(ml_predict(back, &s.d, held, nheld, v2, p2, &eb) == 0);
    CHECK(!memcmp(value, v2, (size_t)nheld * sizeof *v2));
    CHECK(!memcmp(prob, p2, (size_t)nheld * sizeof *p2));
    /* and saved again: the same bytes */
    size_t len2 = 0;
    char *bytes2 = ml_save(back, &len2, &eb);
    CHECK(bytes2 && len2 == len && !memcmp(bytes, bytes2, len));
    free(bytes2);
  }
  ml_free(back);
  /* a model for other features, or bytes that are no model, are refused */
  CHECK(!ml_load(&o, P, WORDS, "{\"nonsense\":1}", 14, &eb) && eb.msg[0]);
  if (method == ML_KNN || method == ML_NAIVE_BAYES)
    CHECK(!ml_load(&o, P, WORDS + 1, bytes, len, &eb));
  else
    CHECK(!ml_load(&o, method == ML_SVM ? 100 : P + 1, WORDS, bytes, len, &eb));
  /* a model for the other task (knn's classes would do as regression targets) */
  struct ml_options other = o;
  other.task = task == ML_REGRESSION ? ML_CLASSIFICATION : ML_REGRESSION;
  if (!ml_method_unfit(method, other.task, 1) && !(method == ML_KNN && task == ML_CLASSIFICATION))
    CHECK(!ml_load(&other, P, WORDS, bytes, len, &eb));
  free(bytes);
  CHECK(tmpdir_empty());

  /* the same seed, the same model */
  ml_model *twin = ml_train(&o, &s.d, train, ntrain, &eb);
  CHECK(twin != NULL);
  if (twin) {
    double v3[ROWS], p3[ROWS];
    CHECK(ml_predict(twin, &s.d, held, nheld, v3, p3, &eb) == 0);
    CHECK(!memcmp(value, v3, (size_t)nheld * sizeof *v3));
    CHECK(!memcmp(prob, p3, (size_t)nheld * sizeof *p3));
  }
  ml_free(twin);
  /* all rows (rows NULL) and a subset agree */
  double all[ROWS];
  CHECK(ml_predict(m, &s.d, NULL, ROWS, all, NULL, &eb) == 0);
  CHECK(all[held[0]] == value[0] && all[held[nheld - 1]] == value[nheld - 1]);
  ml_free(m);
}

static void test_methods(void)
{
  /* the libraries must not print: stdout is a protocol pipe */
  fflush(stdout);
  int saved = dup(1);
  char out[] = "/tmp/test_ml_stdout_XXXXXX";
  int fd = mkstemp(out);
  dup2(fd, 1);

  check_method(ML_XGBOOST, ML_REGRESSION, 0, 0.9);
  check_method(ML_XGBOOST, ML_CLASSIFICATION, 0, 0.95);
  check_method(ML_RANDOM_FOREST, ML_REGRESSION, 0, 0.8);
  check_method(ML_RANDOM_FOREST, ML_CLASSIFICATION, 0, 0.9);
  check_method(ML_SVM, ML_REGRESSION, 1, 0.8);
  check_method(ML_SVM, ML_CLASSIFICATION, 1, 0.9);
  check_method(ML_LOGISTIC_REGRESSION, ML_CLASSIFICATION, 0, 0.8);
  check_method(ML_LOGISTIC_REGRESSION, ML_CLASSIFICATION, 1, 0.95);
  check_method(ML_KNN, ML_REGRESSION, 1, 0.8);
  check_method(ML_KNN, ML_CLASSIFICATION, 1, 0.9);
  check_method(ML_NAIVE_BAYES, ML_CLASSIFICATION, 0, 0.8);
  check_method(ML_NAIVE_BAYES, ML_CLASSIFICATION, 1, 0.95);

  fflush(stdout);
  dup2(saved, 1);
  close(saved);
  struct stat st;
  CHECK(fstat(fd, &st) == 0 && st.st_size == 0);
  close(fd);
  unlink(out);
}

static int fails_with(const struct ml_options *o, const struct ml_data *d, const int *rows, int n, const char *why)
{
  struct cb_errbuf eb = {{0}};
  ml_model *m = ml_train(o, d, rows, n, &eb);
  ml_free(m);
  if (!m && !strstr(eb.msg, why))
    fprintf(stderr, "expected \"%s\", got \"%s\"\n", why, eb.msg);
  return !m && strstr(eb.msg, why);
}

static void test_errors(void)
{
  static struct set s;
  make_set(&s, ML_CLASSIFICATION, 0, 3);
  int rows[ROWS], ones[ROWS], nones = 0;
  for (int i = 0; i < ROWS; i++) {
    rows[i] = i;
    if (s.y[i] == 1)
      ones[nones++] = i;
  }
  for (int method = 0; method < ML_METHODS; method++) {
    struct ml_options o = {.task = ML_CLASSIFICATION, .method = method, .seed = 1, .threads = 1, .tmpdir = tmpdir};
    CHECK(fails_with(&o, &s.d, rows, 1, "at least 2"));
    CHECK(fails_with(&o, &s.d, ones, nones, "only one class among the training rows"));
  }
  /* a constant target, and a target that is no number */
  double y[ROWS];
  for (int i = 0; i < ROWS; i++)
    y[i] = 3.5;
  struct ml_data d = s.d;
  d.y = y;
  struct ml_options o = {.task = ML_REGRESSION, .method = ML_XGBOOST, .seed = 1, .threads = 1, .tmpdir = tmpdir};
  CHECK(fails_with(&o, &d, rows, ROWS, "the target is constant"));
  o.method = ML_SVM;
  CHECK(fails_with(&o, &d, rows, ROWS, "the target is constant"));
  y[7] = NAN;
  CHECK(fails_with(&o, &d, rows, ROWS, "not a finite number"));
  for (int i = 0; i < ROWS; i++)
    y[i] = s.y[i];
  y[9] = INFINITY;
  o.task = ML_CLASSIFICATION;
  CHECK(fails_with(&o, &d, rows, ROWS, "not a finite number"));
  y[9] = 2;
  CHECK(fails_with(&o, &d, rows, ROWS, "not 0 or 1"));

  /* methods that cannot do the task */
  CHECK(ml_method_unfit(ML_LOGISTIC_REGRESSION, ML_REGRESSION, 1) != NULL);
  CHECK(ml_method_unfit(ML_NAIVE_BAYES, ML_REGRESSION, 1) != NULL);
  CHECK(ml_method_unfit(ML_KNN, ML_CLASSIFICATION, 0) != NULL);
  CHECK(ml_method_unfit(ML_NAIVE_BAYES, ML_CLASSIFICATION, 0) != NULL);
  CHECK(ml_method_unfit(ML_KNN, ML_REGRESSION, 1) == NULL);
  for (int method = 0; method < ML_METHODS; method++)
    CHECK(ml_method_unfit(method, ML_CLASSIFICATION, 1) == NULL);
  for (int method = 0; method <= ML_SVM; method++)
    CHECK(ml_method_unfit(method, ML_REGRESSION, 0) == NULL);
  make_set(&s, ML_REGRESSION, 0, 4);
  o = (struct ml_options){.task = ML_REGRESSION, .method = ML_LOGISTIC_REGRESSION, .threads = 1, .tmpdir = tmpdir};
  CHECK(fails_with(&o, &s.d, rows, ROWS, ml_method_unfit(ML_LOGISTIC_REGRESSION, ML_REGRESSION, 1)));
  o.method = ML_NAIVE_BAYES;
  CHECK(fails_with(&o, &s.d, rows, ROWS, ml_method_unfit(ML_NAIVE_BAYES, ML_REGRESSION, 1)));
  d = s.d;
  d.fp = NULL;
  d.fp_words = 0;
  o.method = ML_KNN;
  CHECK(fails_with(&o, &d, rows, ROWS, ml_method_unfit(ML_KNN, ML_REGRESSION, 0)));

  /* libsvm saves only through a folder */
  o = (struct ml_options){.task = ML_REGRESSION, .method = ML_SVM, .threads = 1};
  struct cb_errbuf eb = {{0}};
  ml_model *m = ml_train(&o, &s.d, rows, 50, &eb);
  CHECK(m != NULL);
  size_t len;
  CHECK(m && !ml_save(m, &len, &eb) && strstr(eb.msg, "folder"));
  ml_free(m);
  const char *svm_text = "svm_type epsilon_svr\n";
  CHECK(!ml_load(&o, P, WORDS, svm_text, strlen(svm_text), &eb) && strstr(eb.msg, "folder"));

  /* names */
  enum ml_method parsed;
  for (int method = 0; method < ML_METHODS; method++)
    CHECK(ml_method_parse(ml_method_name(method), &parsed) == 0 && (int)parsed == method);
  CHECK(ml_method_parse("deep_learning", &parsed) < 0);
}

/* k nearest neighbours and naive Bayes on a few rows worked by hand */
static void test_small(void)
{
  uint64_t fp[7] = {0xf, 0x3, 0xc, 0, 0, 0, 0};
  float x[7 * 64];
  for (int i = 0; i < 7; i++)
    for (int j = 0; j < 64; j++)
      x[i * 64 + j] = (float)(fp[i] >> j & 1);
  double y[7] = {1, 2, 3, 4, 5, 100, 100};
  struct ml_data d = {.n = 7, .p = 64, .x = x, .fp_words = 1, .fp = fp, .y = y};
  struct ml_options o = {.task = ML_REGRESSION, .method = ML_KNN, .seed = 1, .threads = 1};
  struct cb_errbuf eb = {{0}};
  int first3[] = {0, 1, 2};
  ml_model *m = ml_train(&o, &d, first3, 3, &eb);
  CHECK(m != NULL);
  /* 0111 against 1111, 0011, 1100: 3/4, 2/3, 1/4, weighting 1, 2, 3 */
  uint64_t q[2] = {0x7, 0x30};
  float qx[2 * 64] = {0};
  struct ml_data qd = {.n = 2, .p = 64, .x = qx, .fp_words = 1, .fp = q};
  double v[8], pr[8];
  CHECK(m && ml_predict(m, &qd, NULL, 2, v, pr, &eb) == 0);
  CHECK(NEAR(v[0], (0.75 * 1 + 2.0 / 3 * 2 + 0.25 * 3) / (0.75 + 2.0 / 3 + 0.25)));
  CHECK(NEAR(v[1], 2)); /* nothing in common with any: the plain mean */
  ml_free(m);
  /* six rows as similar to the query as can be, and a seventh less: the first five of
   * the six count */
  uint64_t tfp[7] = {1, 1, 1, 1, 1, 1, 3};
  d.fp = tfp;
  int all[] = {0, 1, 2, 3, 4, 5, 6};
  m = ml_train(&o, &d, all, 7, &eb);
  CHECK(m && ml_predict(m, &d, all, 1, v, pr, &eb) == 0);
  CHECK(NEAR(v[0], 3));
  ml_free(m);

  /* naive Bayes: bit 0 in both rows of class 1 and neither of class 0: P(bit 0 | 1) =
   * 3/4, P(bit 0 | 0) = 1/4, every other bit 1/4 in both */
  uint64_t nfp[4] = {1, 1, 0, 0};
  double ny[4] = {1, 1, 0, 0};
  float nx[4 * 64] = {0};
  nx[0] = nx[64] = 1;
  struct ml_data nd = {.n = 4, .p = 64, .x = nx, .fp_words = 1, .fp = nfp, .y = ny};
  o = (struct ml_options){.task = ML_CLASSIFICATION, .method = ML_NAIVE_BAYES, .seed = 1, .threads = 1};
  m = ml_train(&o, &nd, all, 4, &eb);
  CHECK(m && ml_predict(m, &nd, NULL, 4, v, pr, &eb) == 0);
  CHECK(NEAR(pr[0], 0.75) && NEAR(pr[2], 0.25) && v[0] == 1 && v[2] == 0);
  ml_free(m);

  /* every method trains on two rows, one of each class, and predicts */
  for (int method = 0; method < ML_METHODS; method++) {
    o = (struct ml_options){.task = ML_CLASSIFICATION, .method = method, .seed = 1, .threads = 1};
    int two[] = {0, 2};
    m = ml_train(&o, &nd, two, 2, &eb);
    CHECK(m && ml_predict(m, &nd, NULL, 4, v, pr, &eb) == 0 && pr[0] >= 0 && pr[0] <= 1);
    ml_free(m);
  }

  /* XGBoost on two threads: the same seed, the same predictions */
  static struct set s;
  make_set(&s, ML_REGRESSION, 0, 9);
  for (int method = ML_XGBOOST; method <= ML_RANDOM_FOREST; method++) {
    o = (struct ml_options){.task = ML_REGRESSION, .method = method, .seed = 3, .threads = 2};
    double a[ROWS], b[ROWS];
    ml_model *m1 = ml_train(&o, &s.d, all, 0, &eb); /* too few rows */
    CHECK(!m1);
    int rows[100];
    for (int i = 0; i < 100; i++)
      rows[i] = i;
    m1 = ml_train(&o, &s.d, rows, 100, &eb);
    ml_model *m2 = ml_train(&o, &s.d, rows, 100, &eb);
    CHECK(m1 && m2 && ml_predict(m1, &s.d, NULL, ROWS, a, NULL, &eb) == 0 &&
          ml_predict(m2, &s.d, NULL, ROWS, b, NULL, &eb) == 0 && !memcmp(a, b, sizeof a));
    ml_free(m1);
    ml_free(m2);
  }
}

int main(void)
{
  test_metrics();
  test_folds();
  test_tanimoto();
  strcpy(tmpdir, "/tmp/test_ml_XXXXXX");
  CHECK(mkdtemp(tmpdir) != NULL);
  double t0 = now();
  test_methods();
  fprintf(stderr, "methods: %.2f s\n", now() - t0);
  test_errors();
  test_small();
  rmdir(tmpdir);
  TEST_MAIN_END();
}
