/* Validation: seeded folds and hold-outs, Tanimoto similarity, and the metrics and curves
 * of a model's predictions. */
#include "ml/ml.h"

#include <math.h>
#include <stdlib.h>

uint64_t ml_rand(uint64_t *state)
{
  uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

/* rows 0..n-1 in an order that depends only on seed (Fisher-Yates); NULL when out of
 * memory */
static int *shuffled(int n, uint64_t seed)
{
  int *order = malloc((n > 0 ? (size_t)n : 1) * sizeof *order);
  if (!order)
    return NULL;
  for (int i = 0; i < n; i++)
    order[i] = i;
  uint64_t state = seed;
  for (int i = n - 1; i > 0; i--) {
    int j = (int)(ml_rand(&state) % (uint64_t)(i + 1));
    int t = order[i];
    order[i] = order[j];
    order[j] = t;
  }
  return order;
}

static int class_of(double y)
{
  return y >= 0.5;
}

void ml_folds(const double *y, int n, int k, int stratify, uint64_t seed, int *fold)
{
  if (k < 1)
    k = 1;
  int *order = shuffled(n, seed);
  if (!order) {
    /* still a valid assignment, only not shuffled */
    for (int i = 0; i < n; i++)
      fold[i] = i % k;
    return;
  }
  if (!stratify || !y) {
    for (int i = 0; i < n; i++)
      fold[order[i]] = i % k;
  } else {
    /* class 0 dealt first, then class 1 from where it stopped: every fold gets its share
     * of each class and the fold sizes still differ by at most one */
    int deal = 0;
    for (int c = 0; c <= 1; c++)
      for (int i = 0; i < n; i++)
        if (class_of(y[order[i]]) == c)
          fold[order[i]] = deal++ % k;
  }
  free(order);
}

void ml_holdout(const double *y, int n, double fraction, int stratify, uint64_t seed, unsigned char *test)
{
  if (!(fraction > 0))
    fraction = 0;
  if (fraction > 1)
    fraction = 1;
  for (int i = 0; i < n; i++)
    test[i] = 0;
  int *order = shuffled(n, seed);
  if (!order) {
    for (int i = 0; i < (int)lround(n * fraction); i++)
      test[i] = 1;
    return;
  }
  if (!stratify || !y) {
    int want = (int)lround(n * fraction);
    for (int i = 0; i < want; i++)
      test[order[i]] = 1;
  } else {
    for (int c = 0; c <= 1; c++) {
      int nc = 0;
      for (int i = 0; i < n; i++)
        nc += class_of(y[i]) == c;
      int want = (int)lround(nc * fraction);
      for (int i = 0; i < n && want > 0; i++)
        if (class_of(y[order[i]]) == c) {
          test[order[i]] = 1;
          want--;
        }
    }
  }
  free(order);
}

/* The CPU's popcount instruction where it has one (as src/search/structures.c): without
 * it each word is counted by a library routine, and a file's predictions spent 40 % of
 * their time here, comparing each molecule with every training molecule. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
__attribute__((target_clones("popcnt", "default")))
#endif
double
ml_tanimoto(const uint64_t *a, const uint64_t *b, int words)
{
  int both = 0, either = 0;
  for (int i = 0; i < words; i++) {
    both += __builtin_popcountll(a[i] & b[i]);
    either += __builtin_popcountll(a[i] | b[i]);
  }
  return either ? (double)both / either : 1.0;
}

/* ---- metrics ---- */

struct keyed {
  double v;
  int i;
};

static int by_key(const void *a, const void *b)
{
  const struct keyed *x = a, *y = b;
  if (x->v < y->v)
    return -1;
  if (x->v > y->v)
    return 1;
  /* row order among equals, so the order is the same on every libc */
  return (x->i > y->i) - (x->i < y->i);
}

/* The rows ordered by v ascending (ties by row); NULL when out of memory. */
static int *argsort(const double *v, int n)
{
  size_t size = n > 0 ? (size_t)n : 1;
  int *idx = malloc(size * sizeof *idx);
  struct keyed *k = malloc(size * sizeof *k);
  if (!idx || !k) {
    free(idx);
    free(k);
    return NULL;
  }
  for (int i = 0; i < n; i++)
    k[i] = (struct keyed){v[i], i};
  qsort(k, (size_t)n, sizeof *k, by_key);
  for (int i = 0; i < n; i++)
    idx[i] = k[i].i;
  free(k);
  return idx;
}

/* rank[i]: v[i]'s rank 1..n, tied values sharing their average rank; -1 when out of
 * memory */
static int average_ranks(const double *v, int n, double *rank)
{
  int *idx = argsort(v, n);
  if (!idx)
    return -1;
  for (int i = 0; i < n;) {
    int j = i;
    while (j + 1 < n && v[idx[j + 1]] == v[idx[i]])
      j++;
    double r = (i + j) / 2.0 + 1;
    for (int t = i; t <= j; t++)
      rank[idx[t]] = r;
    i = j + 1;
  }
  free(idx);
  return 0;
}

/* Pearson correlation; NAN when either side is constant */
static double pearson(const double *a, const double *b, int n)
{
  double ma = 0, mb = 0;
  for (int i = 0; i < n; i++) {
    ma += a[i];
    mb += b[i];
  }
  ma /= n;
  mb /= n;
  double sab = 0, saa = 0, sbb = 0;
  for (int i = 0; i < n; i++) {
    sab += (a[i] - ma) * (b[i] - mb);
    saa += (a[i] - ma) * (a[i] - ma);
    sbb += (b[i] - mb) * (b[i] - mb);
  }
  if (saa == 0 || sbb == 0)
    return NAN;
  return sab / sqrt(saa * sbb);
}

/* a number, or null for an undefined one (NaN) */
static void add_number(cJSON *o, const char *name, double v)
{
  if (isfinite(v))
    cJSON_AddNumberToObject(o, name, v);
  else
    cJSON_AddNullToObject(o, name);
}

static double spearman(const double *obs, const double *pred, int n)
{
  double *ro = malloc((size_t)n * sizeof *ro), *rp = malloc((size_t)n * sizeof *rp);
  double s = NAN;
  if (ro && rp && average_ranks(obs, n, ro) == 0 && average_ranks(pred, n, rp) == 0)
    s = pearson(ro, rp, n);
  free(ro);
  free(rp);
  return s;
}

static void regression_metrics(cJSON *o, const double *obs, const double *pred, int n)
{
  double mean = 0, ssres = 0, sstot = 0, sabs = 0;
  for (int i = 0; i < n; i++)
    mean += obs[i];
  mean /= n;
  for (int i = 0; i < n; i++) {
    double e = obs[i] - pred[i];
    ssres += e * e;
    sabs += fabs(e);
    sstot += (obs[i] - mean) * (obs[i] - mean);
  }
  add_number(o, "r2", sstot > 0 ? 1 - ssres / sstot : NAN);
  add_number(o, "rmse", sqrt(ssres / n));
  add_number(o, "mae", sabs / n);
  add_number(o, "spearman", spearman(obs, pred, n));
}

/* Area under the ROC curve as the Mann-Whitney statistic: the share of (positive,
 * negative) pairs the probabilities order rightly, a tie counting half (which average
 * ranks give). NAN with one class only. */
static double auc(const double *obs, const double *prob, int n)
{
  double *rank = malloc((size_t)n * sizeof *rank);
  if (!rank || average_ranks(prob, n, rank) < 0) {
    free(rank);
    return NAN;
  }
  double npos = 0, nneg = 0, rsum = 0;
  for (int i = 0; i < n; i++)
    if (class_of(obs[i])) {
      npos++;
      rsum += rank[i];
    } else {
      nneg++;
    }
  free(rank);
  if (npos == 0 || nneg == 0)
    return NAN;
  return (rsum - npos * (npos + 1) / 2) / (npos * nneg);
}

static void classification_metrics(cJSON *o, const double *obs, const double *pred, const double *prob, int n)
{
  long tp = 0, fp = 0, tn = 0, fn = 0;
  for (int i = 0; i < n; i++) {
    int predicted = prob ? prob[i] >= 0.5 : class_of(pred[i]);
    if (class_of(obs[i])) {
      if (predicted)
        tp++;
      else
        fn++;
    } else if (predicted) {
      fp++;
    } else {
      tn++;
    }
  }
  double ptp = (double)tp, pfp = (double)fp, ptn = (double)tn, pfn = (double)fn;
  double recall = tp + fn ? ptp / (ptp + pfn) : NAN;
  double specificity = tn + fp ? ptn / (ptn + pfp) : NAN;
  double precision = tp + fp ? ptp / (ptp + pfp) : NAN;
  double f1 = 2 * tp + fp + fn ? 2 * ptp / (2 * ptp + pfp + pfn) : NAN;
  double den = (ptp + pfp) * (ptp + pfn) * (ptn + pfp) * (ptn + pfn);
  double mcc = den > 0 ? (ptp * ptn - pfp * pfn) / sqrt(den) : NAN;
  add_number(o, "auc", prob ? auc(obs, prob, n) : NAN);
  add_number(o, "accuracy", (ptp + ptn) / n);
  add_number(o, "balanced_accuracy", (recall + specificity) / 2);
  add_number(o, "f1", f1);
  add_number(o, "mcc", mcc);
  add_number(o, "precision", precision);
  add_number(o, "recall", recall);
  cJSON *c = cJSON_AddObjectToObject(o, "confusion");
  if (c) {
    cJSON_AddNumberToObject(c, "tp", ptp);
    cJSON_AddNumberToObject(c, "fp", pfp);
    cJSON_AddNumberToObject(c, "tn", ptn);
    cJSON_AddNumberToObject(c, "fn", pfn);
  }
}

cJSON *ml_metrics(enum ml_task t, const double *obs, const double *pred, const double *prob, int n)
{
  cJSON *o = cJSON_CreateObject();
  if (!o)
    return NULL;
  if (n < 0)
    n = 0;
  if (t == ML_REGRESSION) {
    if (n > 0) {
      regression_metrics(o, obs, pred, n);
    } else {
      static const char *const names[] = {"r2", "rmse", "mae", "spearman"};
      for (size_t i = 0; i < sizeof names / sizeof *names; i++)
        cJSON_AddNullToObject(o, names[i]);
    }
  } else {
    classification_metrics(o, obs, pred, prob, n);
  }
  cJSON_AddNumberToObject(o, "n", n);
  return o;
}

/* ---- curves ---- */

/* An array of [a, b] pairs, the points 0..count-1 thinned evenly to at most max (the
 * first and last kept). */
static cJSON *pairs(const double *a, const double *b, int count, int max)
{
  cJSON *arr = cJSON_CreateArray();
  if (!arr)
    return NULL;
  int keep = count <= max ? count : max;
  for (int i = 0; i < keep; i++) {
    int at = keep == count ? i : (int)lround((double)i * (count - 1) / (keep - 1));
    double v[2] = {a[at], b[at]};
    cJSON *pt = cJSON_CreateDoubleArray(v, 2);
    if (!pt) {
      cJSON_Delete(arr);
      return NULL;
    }
    cJSON_AddItemToArray(arr, pt);
  }
  return arr;
}

/* ROC and precision-recall points at every distinct probability taken as the threshold
 * (class 1 when prob >= it), highest first. ROC starts at [0, 0] (nothing called
 * positive) and ends at [1, 1]; precision-recall starts at recall 0, precision 1 (the
 * usual convention for no positive calls) and ends at recall 1. A curve whose rates are
 * undefined (ROC with one class only, precision-recall with no positives) is empty. */
static int classification_curves(cJSON *o, const double *obs, const double *prob, int n, int max)
{
  int *idx = argsort(prob, n);
  double *fpr = malloc((size_t)(n + 1) * sizeof *fpr), *tpr = malloc((size_t)(n + 1) * sizeof *tpr);
  double *rec = malloc((size_t)(n + 1) * sizeof *rec), *prec = malloc((size_t)(n + 1) * sizeof *prec);
  int rc = -1;
  if (!idx || !fpr || !tpr || !rec || !prec)
    goto done;
  double npos = 0, nneg = 0;
  for (int i = 0; i < n; i++)
    npos += class_of(obs[i]);
  nneg = n - npos;
  int count = 0;
  double tp = 0, fp = 0;
  fpr[0] = tpr[0] = rec[0] = 0;
  prec[0] = 1;
  count = 1;
  /* walk from the highest probability down; a point after each run of equal ones */
  for (int i = n - 1; i >= 0;) {
    int j = i;
    while (j >= 0 && prob[idx[j]] == prob[idx[i]]) {
      if (class_of(obs[idx[j]]))
        tp++;
      else
        fp++;
      j--;
    }
    fpr[count] = nneg ? fp / nneg : NAN;
    tpr[count] = npos ? tp / npos : NAN;
    rec[count] = tpr[count];
    prec[count] = tp / (tp + fp);
    count++;
    i = j;
  }
  cJSON *roc = npos && nneg ? pairs(fpr, tpr, count, max) : cJSON_CreateArray();
  if (!roc || !cJSON_AddItemToObject(o, "roc", roc)) {
    cJSON_Delete(roc);
    goto done;
  }
  cJSON *pr = npos ? pairs(rec, prec, count, max) : cJSON_CreateArray();
  if (!pr || !cJSON_AddItemToObject(o, "pr", pr)) {
    cJSON_Delete(pr);
    goto done;
  }
  rc = 0;
done:
  free(idx);
  free(fpr);
  free(tpr);
  free(rec);
  free(prec);
  return rc;
}

cJSON *ml_curves(enum ml_task t, const double *obs, const double *pred, const double *prob, int n, int max_points)
{
  if (max_points < 2)
    max_points = 2;
  if (n < 0)
    n = 0;
  cJSON *o = cJSON_CreateObject();
  if (!o)
    return NULL;
  if (t == ML_REGRESSION) {
    cJSON *op = pairs(obs, pred, n, max_points);
    if (!op || !cJSON_AddItemToObject(o, "observed_predicted", op)) {
      cJSON_Delete(op);
      cJSON_Delete(o);
      return NULL;
    }
  } else if (classification_curves(o, obs, prob ? prob : pred, n, max_points) < 0) {
    cJSON_Delete(o);
    return NULL;
  }
  return o;
}
