/* Training, prediction and model bundles in the converter process (learn.h). */
#include "convert/ml/learn.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "convert/chem/bounds.h"
#include "convert/chem/ob.h"
#include "convert/chem/source.h"
#include "ml/ml.h"
#include "ml/spec.h"
#include "util/util.h"

/* Feature cells (rows x columns) one training may hold: 100 M floats are 400 MB, within
 * the default memory bound of a training process. */
#define CELLS_MAX 100000000LL
#define MIN_ROWS 10
#define CURVE_POINTS 200
/* The applicability domain compares a molecule with at most this many training molecules
 * (a seeded choice when there are more), in cross-validation and in predictions alike, so
 * a big training set keeps both quick and the learned threshold means the same in each. */
#define AD_REFERENCES 20000

/* ---------------------------------------------------------------- features */

struct feat {
  struct ml_features f;
  int fpw;         /* 64-bit words of the model's fingerprint, 0 without one */
  int adw;         /* words of the applicability domain's fingerprint */
  char ad_type[8]; /* its Open Babel type: the model's, else ECFP4 */
  int ad_bits;
  int p; /* feature columns */
};

static void feat_init(struct feat *ft, const struct ml_features *f)
{
  memset(ft, 0, sizeof *ft);
  ft->f = *f;
  ft->fpw = f->fingerprint[0] ? (f->bits + 63) / 64 : 0;
  snprintf(ft->ad_type, sizeof ft->ad_type, "%s", f->fingerprint[0] ? f->ob_type : "ECFP4");
  ft->ad_bits = f->fingerprint[0] ? f->bits : 2048;
  ft->adw = (ft->ad_bits + 63) / 64;
  ft->p = ml_features_width(f);
}

/* Is the type folded to a chosen width (ECFP), or always its own? */
static int folds(const char *ob_type)
{
  return !strncmp(ob_type, "ECFP", 4);
}

/* One molecule's features into row (p floats) and fingerprints into fp (fpw words) and ad
 * (adw words). 0, or -1 with why. Descriptors Open Babel cannot compute are NaN. */
static int feat_row(const struct feat *ft, ob_mol *m, float *row, uint64_t *fp, uint64_t *ad, struct cb_errbuf *why)
{
  int col = 0;
  if (ft->fpw) {
    int w = ob_mol_fingerprint(m, ft->f.ob_type, folds(ft->f.ob_type) ? ft->f.bits : 0, fp, ft->fpw);
    if (w != ft->f.bits) {
      cb_errf(why, "Open Babel could not compute its %s fingerprint", ft->f.fingerprint);
      return -1;
    }
    for (int b = 0; b < ft->f.bits; b++)
      row[col++] = (float)((fp[b / 64] >> (b % 64)) & 1);
    memcpy(ad, fp, sizeof *ad * (size_t)ft->adw);
  } else if (ob_mol_fingerprint(m, ft->ad_type, ft->ad_bits, ad, ft->adw) != ft->ad_bits) {
    cb_errf(why, "Open Babel could not compute its ECFP4 fingerprint");
    return -1;
  }
  for (int d = 0; d < ft->f.ndesc; d++) {
    double v;
    row[col++] = ob_mol_descriptor(m, ft->f.desc[d], &v) ? NAN : (float)v;
  }
  return 0;
}

/* Descriptor columns standardised with the training rows' mean and deviation (missing
 * values become the mean): libsvm, liblinear and distances need comparable scales; trees
 * do not mind. Fingerprint bits are left as they are. */
struct scaling {
  int first, n;
  double *mean, *sd;
};

static void scaling_fit(struct scaling *sc, const float *x, int p, const int *rows, int nrows, int first)
{
  sc->first = first;
  sc->n = p - first;
  sc->mean = calloc((size_t)sc->n + 1, sizeof *sc->mean);
  sc->sd = calloc((size_t)sc->n + 1, sizeof *sc->sd);
  for (int c = 0; sc->mean && sc->sd && c < sc->n; c++) {
    double s = 0, s2 = 0;
    int k = 0;
    for (int i = 0; i < nrows; i++) {
      float v = x[(size_t)rows[i] * (size_t)p + (size_t)(first + c)];
      if (isfinite(v)) {
        s += v;
        s2 += (double)v * v;
        k++;
      }
    }
    sc->mean[c] = k ? s / k : 0;
    double var = k ? s2 / k - sc->mean[c] * sc->mean[c] : 0;
    sc->sd[c] = var > 1e-12 ? sqrt(var) : 1;
  }
}

static void scaling_apply(const struct scaling *sc, float *row)
{
  for (int c = 0; sc->mean && c < sc->n; c++) {
    float *v = &row[sc->first + c];
    *v = isfinite(*v) ? (float)((*v - sc->mean[c]) / sc->sd[c]) : 0.0f;
  }
}

static void scaling_free(struct scaling *sc)
{
  free(sc->mean);
  free(sc->sd);
  sc->mean = sc->sd = NULL;
}

/* ---------------------------------------------------------------- rows of a file */

struct src {
  int table;
  struct mol_source ms;
  const char *format;
  int ms_open;
  FILE *tsv;
  char *line;
  size_t cap;
  char **cols; /* a table's header */
  int ncols;
  char **cells; /* the current row's cells (pointers into line) */
  int ncells;
  int smiles_col, target_col;
  char *target;     /* the current record's target (a structure file's field) */
  int target_exact; /* found under its exact name */
  const char *target_name;
  long long size;
};

static const char *const smiles_names[] = {
  "smiles", "canonical_smiles", "isomeric_smiles", "smi", "smiles_string", "structure", NULL};

static int split_tsv(char *line, char ***cells, int *n)
{
  size_t len = strlen(line);
  while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
    line[--len] = '\0';
  int k = 1;
  for (char *p = line; *p; p++)
    k += *p == '\t';
  char **c = realloc(*cells, sizeof *c * (size_t)k);
  if (!c)
    return -1;
  *cells = c;
  *n = 0;
  for (char *p = line;;) {
    c[(*n)++] = p;
    char *t = strchr(p, '\t');
    if (!t)
      break;
    *t = '\0';
    p = t + 1;
  }
  return 0;
}

static int find_col(char **cols, int n, const char *name)
{
  for (int i = 0; i < n; i++)
    if (!strcmp(cols[i], name))
      return i;
  for (int i = 0; i < n; i++)
    if (!strcasecmp(cols[i], name))
      return i;
  return -1;
}

/* Opens a training or prediction file: a structure file Open Babel reads (SDF, SMILES,
 * MOL2, ...), or a table (CSV, TSV, XLSX, ODS: made a TSV by the table converter first)
 * with a SMILES column. target: the field or column wanted (NULL when predicting). */
static int src_open(struct src *s, const cJSON *req, const char *target, struct cb_errbuf *eb)
{
  memset(s, 0, sizeof *s);
  s->smiles_col = s->target_col = -1;
  s->target_name = target;
  const char *path = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(req, "path"));
  const char *name = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(req, "name"));
  const char *workdir = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(req, "workdir"));
  const cJSON *spec = cJSON_GetObjectItemCaseSensitive(req, "spec");
  const cJSON *opt = spec ? spec : req;
  const char *smiles_column = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(opt, "smiles_column"));
  const cJSON *sheet = cJSON_GetObjectItemCaseSensitive(opt, "sheet");
  if (!path || !name || !workdir) {
    cb_errf(eb, "the request needs path, name and workdir");
    return -1;
  }
  struct stat sb;
  if (stat(path, &sb)) {
    cb_errf(eb, "cannot read the input");
    return -1;
  }
  s->size = sb.st_size;
  unsigned char head[65536];
  size_t len = 0;
  FILE *f = fopen(path, "rb");
  if (f) {
    len = fread(head, 1, sizeof head, f);
    fclose(f);
  }
  struct cb_convert_input in = {
    .path = path, .name = name, .workdir = workdir, .mime = "", .magic = "", .size = (uint64_t)sb.st_size};
  if (chem_format_of(&in, head, len)) {
    if (chem_open_structure(&in, &s->ms, &s->format, eb))
      return -1;
    s->ms_open = 1;
    return 0;
  }
  if (!conv_table.desc->sniff(head, len, &in)) {
    cb_errf(eb,
            "%s is neither a structure file (SDF, SMILES, MOL2, ...) nor a table (CSV, TSV, XLSX, ODS) with a "
            "SMILES column",
            name);
    return -1;
  }
  s->table = 1;
  if (chem_ensure_ob(eb))
    return -1;
  char tsv[4200];
  snprintf(tsv, sizeof tsv, "%s/rows.tsv", workdir);
  cJSON *opts = cJSON_CreateObject(), *res = cJSON_CreateObject();
  if (cJSON_IsNumber(sheet))
    cJSON_AddNumberToObject(opts, "sheet", sheet->valuedouble);
  in.options = opts;
  struct cb_errbuf teb = {""};
  cb_err e = conv_table.ops->convert(&in, "tsv", tsv, res, NULL, NULL, &teb);
  cJSON_Delete(opts);
  cJSON_Delete(res);
  if (e) {
    cb_errf(eb, "the table could not be read: %s", teb.msg[0] ? teb.msg : cb_strerror(e));
    return -1;
  }
  s->tsv = fopen(tsv, "r");
  if (!s->tsv || getline(&s->line, &s->cap, s->tsv) < 0 || split_tsv(s->line, &s->cells, &s->ncells)) {
    cb_errf(eb, "the table is empty");
    return -1;
  }
  if (!(s->cols = calloc((size_t)s->ncells + 1, sizeof *s->cols))) {
    cb_errf(eb, "out of memory");
    return -1;
  }
  s->ncols = s->ncells; /* src_close frees what was copied */
  for (int i = 0; i < s->ncols; i++)
    if (!(s->cols[i] = strdup(s->cells[i]))) {
      cb_errf(eb, "out of memory");
      return -1;
    }
  if (smiles_column) {
    s->smiles_col = find_col(s->cols, s->ncols, smiles_column);
  } else {
    for (int k = 0; smiles_names[k] && s->smiles_col < 0; k++)
      s->smiles_col = find_col(s->cols, s->ncols, smiles_names[k]);
    for (int i = 0; i < s->ncols && s->smiles_col < 0; i++)
      if (strcasestr(s->cols[i], "smiles"))
        s->smiles_col = i;
  }
  if (s->smiles_col < 0) {
    if (smiles_column)
      cb_errf(eb, "the table has no column '%.80s' (smiles_column)", smiles_column);
    else
      cb_errf(eb, "no SMILES column found in the table's header (looked for smiles, canonical_smiles, "
                  "isomeric_smiles, smi, structure, and names containing \"smiles\"); name it with smiles_column");
    return -1;
  }
  if (target) {
    s->target_col = find_col(s->cols, s->ncols, target);
    if (s->target_col < 0) {
      cb_errf(eb, "the table has no column '%.80s' (target)", target);
      return -1;
    }
  }
  return 0;
}

/* The record's field named as the target: that name exactly, else the first that differs
 * only in case. */
static void find_field(void *ctx, const char *name, const char *value)
{
  struct src *s = ctx;
  if (!s->target_name || s->target_exact)
    return;
  int exact = !strcmp(name, s->target_name);
  if (exact || (!s->target && !strcasecmp(name, s->target_name))) {
    free(s->target);
    s->target = strdup(value);
    s->target_exact = exact;
  }
}

/* Reads one SMILES (a table's cell, a prediction request's) within the chemistry bounds. */
static ob_mol *mol_of_smiles(const char *smiles, struct cb_errbuf *why)
{
  while (isspace((unsigned char)*smiles))
    smiles++;
  if (!*smiles) {
    cb_errf(why, "no SMILES");
    return NULL;
  }
  FILE *f = fmemopen((void *)smiles, strlen(smiles), "r");
  struct chem_counts c = {-1, -1, -1};
  if (f) {
    bounds_scan_record(f, "smi", &c);
    fclose(f);
  }
  if (bounds_check(&c, why))
    return NULL;
  ob_mol *m = ob_mol_from_string(smiles, "smi", why);
  if (m && ob_mol_atoms(m) == 0) {
    ob_mol_free(m);
    m = NULL;
    cb_errf(why, "the SMILES holds no atoms");
  }
  if (!m && !why->msg[0])
    cb_errf(why, "the SMILES could not be read");
  return m;
}

/* The next record: 1 with *m (NULL when it is unreadable: why says so) and *target (NULL
 * when it has none), 0 at the end, -1 when reading must stop (eb). */
static int src_next(struct src *s, ob_mol **m, const char **target, struct cb_errbuf *why, struct cb_errbuf *eb)
{
  *m = NULL;
  *target = NULL;
  why->msg[0] = '\0';
  if (!s->table) {
    free(s->target);
    s->target = NULL;
    s->target_exact = 0;
    int rc = source_next(&s->ms, m, why);
    if (rc == 0)
      return 0;
    if (rc == -2) {
      snprintf(eb->msg, sizeof eb->msg, "%s", why->msg);
      return -1;
    }
    if (rc == 1) {
      ob_mol_fields(*m, find_field, s);
      *target = s->target;
    }
    return 1;
  }
  for (;;) {
    if (getline(&s->line, &s->cap, s->tsv) < 0)
      return 0;
    if (split_tsv(s->line, &s->cells, &s->ncells)) {
      cb_errf(eb, "out of memory");
      return -1;
    }
    if (s->ncells == 1 && !s->cells[0][0])
      continue; /* a blank line */
    break;
  }
  if (s->target_col >= 0 && s->target_col < s->ncells && s->cells[s->target_col][0])
    *target = s->cells[s->target_col];
  *m = mol_of_smiles(s->smiles_col < s->ncells ? s->cells[s->smiles_col] : "", why);
  return 1;
}

static long long src_offset(struct src *s)
{
  return s->table ? (s->tsv ? ftell(s->tsv) : 0) : source_offset(&s->ms);
}

static void src_close(struct src *s)
{
  if (s->ms_open)
    source_close(&s->ms);
  if (s->tsv)
    fclose(s->tsv);
  for (int i = 0; s->cols && i < s->ncols; i++)
    free(s->cols[i]);
  free(s->cols);
  free(s->cells);
  free(s->line);
  free(s->target);
  memset(s, 0, sizeof *s);
}

/* ---------------------------------------------------------------- helpers */

static void hex_words(const uint64_t *w, int n, char *out)
{
  for (int i = 0; i < n; i++)
    snprintf(out + 16 * i, 17, "%016llx", (unsigned long long)w[i]);
}

static int unhex_words(const char *s, int n, uint64_t *w)
{
  if (!s || strlen(s) != (size_t)n * 16)
    return -1;
  for (int i = 0; i < n; i++) {
    uint64_t v = 0;
    for (int k = 0; k < 16; k++) {
      int c = s[16 * i + k], d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
      if (d < 0)
        return -1;
      v = v << 4 | (uint64_t)d;
    }
    w[i] = v;
  }
  return 0;
}

static int parse_number(const char *s, double *v)
{
  char *end;
  while (isspace((unsigned char)*s))
    s++;
  if (!*s)
    return -1;
  errno = 0;
  *v = strtod(s, &end);
  while (isspace((unsigned char)*end))
    end++;
  return *end || errno || !isfinite(*v) ? -1 : 0;
}

static const char *library_of(enum ml_method m)
{
  switch (m) {
  case ML_XGBOOST:
  case ML_RANDOM_FOREST: return "xgboost";
  case ML_SVM: return "libsvm";
  case ML_LOGISTIC_REGRESSION: return "liblinear";
  default: return "carboy";
  }
}

/* The nearest reference's similarity to fp, among refs (nref rows of w words). */
static double nearest(const uint64_t *fp, const uint64_t *refs, const int *which, int nref, int w)
{
  double best = 0;
  for (int i = 0; i < nref; i++) {
    double t = ml_tanimoto(fp, refs + (size_t)(which ? which[i] : i) * (size_t)w, w);
    if (t > best)
      best = t;
  }
  return best;
}

static int cmp_double(const void *a, const void *b)
{
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

/* ---------------------------------------------------------------- train */

struct labels {
  int n;
  char *text[2];
  double num[2];
  int numeric;
};

static int positive_word(const char *s)
{
  static const char *const words[] = {"active", "yes", "true", "positive", "y", "1", "pos", NULL};
  for (int i = 0; words[i]; i++)
    if (!strcasecmp(s, words[i]))
      return 1;
  return 0;
}

struct trainset {
  int n, cap, p;
  float *x;
  uint64_t *fp; /* fpw words a row (NULL without a model fingerprint) */
  uint64_t *ad; /* adw words a row */
  char **target;
  double *y;
  int *use; /* the rows trained on (a target that fits the task) */
  int nuse;
  long long skipped_structure, skipped_target, skipped_value;
  char first_why[200];
};

static int trainset_grow(struct trainset *t, const struct feat *ft)
{
  if (t->n < t->cap)
    return 0;
  int cap = t->cap ? t->cap * 2 : 256;
  if ((long long)cap * t->p > CELLS_MAX)
    cap = (int)(CELLS_MAX / (t->p ? t->p : 1));
  if (cap <= t->n)
    return -1;
  float *x = realloc(t->x, sizeof *x * (size_t)cap * (size_t)t->p);
  if (x)
    t->x = x;
  uint64_t *fp = ft->fpw ? realloc(t->fp, sizeof *fp * (size_t)cap * (size_t)ft->fpw) : NULL;
  if (fp)
    t->fp = fp;
  uint64_t *ad = realloc(t->ad, sizeof *ad * (size_t)cap * (size_t)ft->adw);
  if (ad)
    t->ad = ad;
  char **tg = realloc(t->target, sizeof *tg * (size_t)cap);
  if (tg)
    t->target = tg;
  if (!x || (ft->fpw && !fp) || !ad || !tg)
    return -1;
  t->cap = cap;
  return 0;
}

static void trainset_free(struct trainset *t)
{
  for (int i = 0; t->target && i < t->n; i++)
    free(t->target[i]);
  free(t->target);
  free(t->x);
  free(t->fp);
  free(t->ad);
  free(t->y);
  free(t->use);
}

/* Reads every record: a readable structure with a target becomes a row. */
static int read_training(const cJSON *req, const struct ml_spec *sp, const struct feat *ft, struct trainset *t,
                         cb_progress_fn progress, void *pctx, struct cb_errbuf *eb)
{
  struct src s;
  if (src_open(&s, req, sp->target, eb)) {
    src_close(&s);
    return -1;
  }
  t->p = ft->p;
  int rc = 0, any_target = 0;
  for (;;) {
    ob_mol *m;
    const char *target;
    struct cb_errbuf why = {""};
    int r = src_next(&s, &m, &target, &why, eb);
    if (r <= 0) {
      rc = r;
      break;
    }
    any_target |= target != NULL;
    if (!m) {
      t->skipped_structure++;
      if (!t->first_why[0])
        snprintf(t->first_why, sizeof t->first_why, "%s", why.msg);
      continue;
    }
    if (!target || !*target) {
      t->skipped_target++;
      ob_mol_free(m);
      continue;
    }
    if (trainset_grow(t, ft)) {
      ob_mol_free(m);
      cb_errf(eb, "too many records for these features: at most %lld feature cells (records x %d columns)", CELLS_MAX,
              t->p);
      rc = -1;
      break;
    }
    float *row = t->x + (size_t)t->n * (size_t)t->p;
    uint64_t *fp = ft->fpw ? t->fp + (size_t)t->n * (size_t)ft->fpw : NULL;
    uint64_t *ad = t->ad + (size_t)t->n * (size_t)ft->adw;
    int bad = feat_row(ft, m, row, fp, ad, &why); /* fp is NULL only without a fingerprint */
    ob_mol_free(m);
    if (bad) {
      t->skipped_structure++;
      if (!t->first_why[0])
        snprintf(t->first_why, sizeof t->first_why, "%s", why.msg);
      continue;
    }
    if (!(t->target[t->n] = strdup(target))) {
      cb_errf(eb, "out of memory");
      rc = -1;
      break;
    }
    t->n++;
    long long off = src_offset(&s);
    if (progress && s.size > 0 && off > 0)
      progress(pctx, 0.3 * (double)off / (double)s.size);
  }
  int table = s.table;
  src_close(&s);
  if (rc)
    return -1;
  if (!any_target) {
    cb_errf(eb, "no record has the %s '%.80s'", table ? "column" : "field", sp->target);
    return -1;
  }
  return 0;
}

/* The task and each row's y from the targets: numbers, two labels, or numbers cut at a
 * threshold. Rows whose target does not fit are left out (counted). */
static int decide_targets(const struct ml_spec *sp, struct trainset *t, enum ml_task *task, struct labels *lab,
                          struct cb_errbuf *eb)
{
  memset(lab, 0, sizeof *lab);
  t->y = calloc((size_t)t->n + 1, sizeof *t->y);
  t->use = calloc((size_t)t->n + 1, sizeof *t->use);
  t->nuse = 0;
  double *num = calloc((size_t)t->n + 1, sizeof *num);
  char *isnum = calloc((size_t)t->n + 1, 1);
  if (!t->y || !t->use || !num || !isnum) {
    free(num);
    free(isnum);
    cb_errf(eb, "out of memory");
    return -1;
  }
  int nnum = 0, ndistinct = 0;
  const char *distinct[3] = {NULL, NULL, NULL};
  double dnum[3];
  for (int i = 0; i < t->n; i++) {
    isnum[i] = !parse_number(t->target[i], &num[i]);
    nnum += isnum[i];
  }
  int all_numeric = nnum == t->n;
  /* distinct values (up to three): numbers compared as numbers */
  for (int i = 0; i < t->n && ndistinct < 3; i++) {
    int seen = 0;
    for (int k = 0; k < ndistinct && !seen; k++)
      seen = all_numeric ? dnum[k] == num[i] : !strcmp(distinct[k], t->target[i]);
    if (!seen) {
      distinct[ndistinct] = t->target[i];
      dnum[ndistinct++] = num[i];
    }
  }
  int rc = 0;
  if (sp->has_threshold) {
    *task = ML_CLASSIFICATION;
  } else if (sp->has_task) {
    *task = sp->task;
  } else if (ndistinct == 2) {
    *task = ML_CLASSIFICATION;
  } else if (nnum * 2 >= t->n) {
    *task = ML_REGRESSION;
  } else {
    cb_errf(eb,
            "the target '%.80s' is neither numeric nor two labels; give a numeric target (regression), a target "
            "of two labels, or a threshold",
            sp->target);
    rc = -1;
    goto out;
  }
  if (*task == ML_REGRESSION || sp->has_threshold) {
    /* rows without a number are left out */
    for (int i = 0; i < t->n; i++) {
      if (!isnum[i]) {
        t->skipped_value++;
        continue;
      }
      t->y[i] = sp->has_threshold ? (num[i] >= sp->threshold ? 1.0 : 0.0) : num[i];
      t->use[t->nuse++] = i;
    }
    if (sp->has_threshold) {
      lab->numeric = 1;
      lab->n = 2;
      lab->num[0] = 0;
      lab->num[1] = 1;
    }
  } else {
    if (ndistinct != 2) {
      cb_errf(eb,
              ndistinct < 2 ? "only one class among the training records: a classifier needs two"
                            : "the target '%.80s' has more than two distinct values: a classifier needs exactly "
                              "two (or give a threshold)",
              sp->target);
      rc = -1;
      goto out;
    }
    /* which label is positive: the larger number; a word that says so; else the second
     * in byte order */
    int pos;
    if (all_numeric)
      pos = dnum[1] > dnum[0];
    else if (positive_word(distinct[0]) != positive_word(distinct[1]))
      pos = positive_word(distinct[1]);
    else
      pos = strcmp(distinct[1], distinct[0]) > 0;
    lab->n = 2;
    lab->numeric = all_numeric;
    lab->text[1] = strdup(distinct[pos]);
    lab->text[0] = strdup(distinct[!pos]);
    lab->num[1] = dnum[pos];
    lab->num[0] = dnum[!pos];
    for (int i = 0; i < t->n; i++) {
      t->y[i] = all_numeric ? (num[i] == lab->num[1]) : !strcmp(t->target[i], lab->text[1]);
      t->use[t->nuse++] = i;
    }
  }
out:
  free(num);
  free(isnum);
  return rc;
}

static void labels_free(struct labels *l)
{
  free(l->text[0]);
  free(l->text[1]);
}

static cJSON *label_json(const struct labels *l, int k)
{
  return l->numeric ? cJSON_CreateNumber(l->num[k]) : cJSON_CreateString(l->text[k] ? l->text[k] : "");
}

/* Descriptor columns kept as read, so that each fold scales them with its own training rows
 * (no fold sees its test rows' mean). */
struct rescaler {
  int first, nd, p;
  float *orig; /* n x nd */
  struct scaling sc;
};

static int rescaler_init(struct rescaler *r, const struct trainset *t, int first)
{
  memset(r, 0, sizeof *r);
  r->first = first;
  r->nd = t->p - first;
  r->p = t->p;
  if (!r->nd)
    return 0;
  r->orig = malloc(sizeof *r->orig * (size_t)t->n * (size_t)r->nd + 1);
  if (!r->orig)
    return -1;
  for (int i = 0; i < t->n; i++)
    memcpy(r->orig + (size_t)i * (size_t)r->nd, t->x + (size_t)i * (size_t)t->p + first,
           sizeof *r->orig * (size_t)r->nd);
  return 0;
}

/* Scales every row's descriptors by the statistics of rows[0..n). */
static void rescale(struct rescaler *r, struct trainset *t, const int *rows, int n)
{
  if (!r->nd)
    return;
  for (int i = 0; i < t->n; i++)
    memcpy(t->x + (size_t)i * (size_t)t->p + r->first, r->orig + (size_t)i * (size_t)r->nd,
           sizeof *r->orig * (size_t)r->nd);
  scaling_free(&r->sc);
  scaling_fit(&r->sc, t->x, t->p, rows, n, r->first);
  for (int i = 0; i < t->n; i++)
    scaling_apply(&r->sc, t->x + (size_t)i * (size_t)t->p);
}

static void rescaler_free(struct rescaler *r)
{
  free(r->orig);
  scaling_free(&r->sc);
}

/* Up to AD_REFERENCES of rows[0..n): all of them, or a seeded choice. */
static int ad_refs(const int *rows, int n, uint64_t seed, int *out)
{
  memcpy(out, rows, sizeof *out * (size_t)n);
  if (n <= AD_REFERENCES)
    return n;
  uint64_t st = seed ^ 0x9e3779b97f4a7c15ull;
  for (int i = 0; i < AD_REFERENCES; i++) {
    int j = i + (int)(ml_rand(&st) % (uint64_t)(n - i));
    int tmp = out[i];
    out[i] = out[j];
    out[j] = tmp;
  }
  return AD_REFERENCES;
}

static int write_text(const char *path, const char *text, struct cb_errbuf *eb)
{
  FILE *f = fopen(path, "wb");
  size_t n = strlen(text);
  int bad = !f || fwrite(text, 1, n, f) != n;
  if (f && fclose(f))
    bad = 1;
  if (bad)
    cb_errf(eb, "cannot write %s", path);
  return bad ? -1 : 0;
}

cb_err learn_train(const cJSON *req, cJSON *result, cb_progress_fn progress, void *pctx, struct cb_errbuf *eb)
{
  struct ml_spec sp;
  struct feat ft;
  struct trainset t = {0};
  struct labels lab = {0};
  struct rescaler rs = {0};
  ml_model *model = NULL;
  cJSON *bundle = NULL;
  char *text = NULL, *saved = NULL;
  int *trainrows = NULL, *testrows = NULL, *fold = NULL, *tr = NULL, *te = NULL, *refs = NULL;
  double *ytrain = NULL, *pred = NULL, *prob = NULL, *obs = NULL, *sims = NULL;
  unsigned char *test = NULL;
  cb_err rc = CB_EINVAL;
  const char *workdir = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(req, "workdir"));
  const char *model_name = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(req, "model_name"));
  const cJSON *threads = cJSON_GetObjectItemCaseSensitive(req, "threads");
  if (!workdir || ml_spec_parse(cJSON_GetObjectItemCaseSensitive(req, "spec"), &sp, eb)) {
    if (!workdir)
      cb_errf(eb, "the request needs a workdir");
    return CB_EINVAL;
  }
  feat_init(&ft, &sp.features);
  if (read_training(req, &sp, &ft, &t, progress, pctx, eb))
    goto out;
  enum ml_task task;
  if (decide_targets(&sp, &t, &task, &lab, eb))
    goto out;
  const char *unfit = ml_method_unfit(sp.method, task, ft.fpw > 0);
  if (unfit) {
    cb_errf(eb, "%s", unfit);
    goto out;
  }
  if (t.nuse < MIN_ROWS) {
    cb_errf(eb,
            "only %d record(s) have a readable structure and a usable target (%lld unreadable, %lld without the "
            "target, %lld not numeric): at least %d are needed%s%s",
            t.nuse, t.skipped_structure, t.skipped_target, t.skipped_value, MIN_ROWS, t.first_why[0] ? "; first: " : "",
            t.first_why);
    goto out;
  }
  int n = t.nuse, stratify = task == ML_CLASSIFICATION;
  ytrain = calloc((size_t)n, sizeof *ytrain);
  test = calloc((size_t)n, 1);
  trainrows = calloc((size_t)n, sizeof *trainrows);
  testrows = calloc((size_t)n, sizeof *testrows);
  fold = calloc((size_t)n, sizeof *fold);
  tr = calloc((size_t)n, sizeof *tr);
  te = calloc((size_t)n, sizeof *te);
  refs = calloc((size_t)n, sizeof *refs);
  pred = calloc((size_t)n, sizeof *pred);
  prob = calloc((size_t)n, sizeof *prob);
  obs = calloc((size_t)n, sizeof *obs);
  sims = calloc((size_t)n, sizeof *sims);
  if (!ytrain || !test || !trainrows || !testrows || !fold || !tr || !te || !refs || !pred || !prob || !obs || !sims ||
      rescaler_init(&rs, &t, ft.fpw ? ft.f.bits : 0)) {
    cb_errf(eb, "out of memory");
    rc = CB_ENOMEM;
    goto out;
  }
  for (int i = 0; i < n; i++)
    ytrain[i] = t.y[t.use[i]];
  int ntrain = 0, ntest = 0;
  if (sp.test_fraction > 0)
    ml_holdout(ytrain, n, sp.test_fraction, stratify, sp.seed, test);
  for (int i = 0; i < n; i++) {
    if (test[i])
      testrows[ntest++] = t.use[i];
    else
      trainrows[ntrain++] = t.use[i];
  }
  if (ntrain < MIN_ROWS || ntrain < sp.folds) {
    cb_errf(eb, "only %d training record(s) are left after holding out the test set: at least %d are needed", ntrain,
            MIN_ROWS > sp.folds ? MIN_ROWS : sp.folds);
    goto out;
  }
  for (int i = 0; i < ntrain; i++)
    ytrain[i] = t.y[trainrows[i]];
  if (task == ML_CLASSIFICATION) {
    int pos = 0;
    for (int i = 0; i < ntrain; i++)
      pos += ytrain[i] > 0.5;
    if (!pos || pos == ntrain) {
      cb_errf(eb, "only one class among the training records: a classifier needs two");
      goto out;
    }
  }
  ml_folds(ytrain, ntrain, sp.folds, stratify, sp.seed, fold);
  struct ml_options mo = {
    task, sp.method, sp.seed,
    cJSON_IsNumber(threads) && threads->valuedouble >= 1 && threads->valuedouble <= 256 ? (int)threads->valuedouble : 1,
    workdir};
  struct ml_data d = {t.n, t.p, t.x, ft.fpw, t.fp, t.y};
  /* cross-validation: every training record predicted by a model that never saw it */
  for (int k = 0; k < sp.folds; k++) {
    int ntr = 0, nte = 0;
    for (int i = 0; i < ntrain; i++) {
      if (fold[i] == k)
        te[nte++] = i;
      else
        tr[ntr++] = trainrows[i];
    }
    if (!nte)
      continue;
    rescale(&rs, &t, tr, ntr);
    struct cb_errbuf meb = {""};
    model = ml_train(&mo, &d, tr, ntr, &meb);
    if (!model) {
      cb_errf(eb, "fold %d of %d: %s", k + 1, sp.folds, meb.msg);
      goto out;
    }
    int *rows = refs; /* the fold's test rows, as rows of d */
    for (int i = 0; i < nte; i++)
      rows[i] = trainrows[te[i]];
    double *fpred = calloc((size_t)nte, sizeof *fpred), *fprob = calloc((size_t)nte, sizeof *fprob);
    int bad = !fpred || !fprob || ml_predict(model, &d, rows, nte, fpred, fprob, &meb);
    for (int i = 0; !bad && i < nte; i++) {
      pred[te[i]] = fpred[i];
      prob[te[i]] = fprob[i];
    }
    free(fpred);
    free(fprob);
    ml_free(model);
    model = NULL;
    if (bad) {
      cb_errf(eb, "fold %d of %d: %s", k + 1, sp.folds, meb.msg[0] ? meb.msg : "out of memory");
      goto out;
    }
    /* each test record's nearest training record of its fold (the applicability domain) */
    int nref = ad_refs(tr, ntr, sp.seed + (uint64_t)k, refs);
    for (int i = 0; i < nte; i++)
      sims[te[i]] = nearest(t.ad + (size_t)trainrows[te[i]] * (size_t)ft.adw, t.ad, refs, nref, ft.adw);
    if (progress)
      progress(pctx, 0.3 + 0.6 * (double)(k + 1) / sp.folds);
  }
  cJSON *metrics = cJSON_CreateObject();
  cJSON_AddItemToObject(metrics, "cv", ml_metrics(task, ytrain, pred, task == ML_CLASSIFICATION ? prob : NULL, ntrain));
  cJSON *curves = ml_curves(task, ytrain, pred, task == ML_CLASSIFICATION ? prob : NULL, ntrain, CURVE_POINTS);
  /* the domain's threshold: 95 % of the cross-validated records are in it */
  memcpy(obs, sims, sizeof *obs * (size_t)ntrain);
  qsort(obs, (size_t)ntrain, sizeof *obs, cmp_double);
  double ad_threshold = obs[(int)floor(0.05 * (ntrain - 1))];
  /* the model itself, on every training record */
  rescale(&rs, &t, trainrows, ntrain);
  struct cb_errbuf meb = {""};
  model = ml_train(&mo, &d, trainrows, ntrain, &meb);
  if (!model) {
    cJSON_Delete(metrics);
    cJSON_Delete(curves);
    cb_errf(eb, "%s", meb.msg);
    goto out;
  }
  if (ntest) {
    int bad = ml_predict(model, &d, testrows, ntest, pred, prob, &meb);
    for (int i = 0; i < ntest; i++)
      obs[i] = t.y[testrows[i]];
    if (bad) {
      cJSON_Delete(metrics);
      cJSON_Delete(curves);
      cb_errf(eb, "the test set: %s", meb.msg);
      goto out;
    }
    cJSON_AddItemToObject(metrics, "test", ml_metrics(task, obs, pred, task == ML_CLASSIFICATION ? prob : NULL, ntest));
  }
  size_t slen = 0;
  saved = ml_save(model, &slen, &meb);
  if (!saved) {
    cJSON_Delete(metrics);
    cJSON_Delete(curves);
    cb_errf(eb, "cannot save the model: %s", meb.msg);
    goto out;
  }
  /* the bundle */
  bundle = cJSON_CreateObject();
  cJSON_AddNumberToObject(bundle, "carboy_model", 1);
  cJSON_AddStringToObject(bundle, "name", model_name ? model_name : "model");
  cJSON_AddStringToObject(bundle, "task", task == ML_REGRESSION ? "regression" : "classification");
  cJSON_AddStringToObject(bundle, "method", ml_method_name(sp.method));
  cJSON_AddStringToObject(bundle, "target", sp.target);
  if (task == ML_CLASSIFICATION) {
    cJSON *cl = cJSON_AddArrayToObject(bundle, "classes");
    cJSON_AddItemToArray(cl, label_json(&lab, 0));
    cJSON_AddItemToArray(cl, label_json(&lab, 1));
  }
  if (sp.has_threshold)
    cJSON_AddNumberToObject(bundle, "threshold", sp.threshold);
  cJSON_AddItemToObject(bundle, "features", ml_features_json(&sp.features));
  cJSON *scal = cJSON_AddObjectToObject(bundle, "scaling");
  cJSON *mean = cJSON_AddArrayToObject(scal, "mean"), *sd = cJSON_AddArrayToObject(scal, "sd");
  for (int c = 0; c < rs.sc.n && rs.sc.mean; c++) {
    cJSON_AddItemToArray(mean, cJSON_CreateNumber(rs.sc.mean[c]));
    cJSON_AddItemToArray(sd, cJSON_CreateNumber(rs.sc.sd[c]));
  }
  cJSON *val = cJSON_AddObjectToObject(bundle, "validation");
  cJSON_AddNumberToObject(val, "folds", sp.folds);
  cJSON_AddNumberToObject(val, "test_fraction", sp.test_fraction);
  cJSON_AddNumberToObject(val, "seed", (double)sp.seed);
  cJSON_AddNumberToObject(bundle, "training_size", ntrain);
  if (ntest)
    cJSON_AddNumberToObject(bundle, "test_size", ntest);
  cJSON *sk = cJSON_AddObjectToObject(bundle, "skipped");
  cJSON_AddNumberToObject(sk, "unreadable_structure", (double)t.skipped_structure);
  cJSON_AddNumberToObject(sk, "missing_target", (double)t.skipped_target);
  cJSON_AddNumberToObject(sk, "not_numeric", (double)t.skipped_value);
  if (t.first_why[0])
    cJSON_AddStringToObject(sk, "first_reason", t.first_why);
  cJSON_AddItemToObject(bundle, "metrics", metrics);
  cJSON_AddItemToObject(bundle, "curves", curves);
  cJSON *app = cJSON_AddObjectToObject(bundle, "applicability");
  cJSON_AddStringToObject(app, "fingerprint", ft.fpw ? ft.f.fingerprint : "ecfp4");
  cJSON_AddNumberToObject(app, "bits", ft.ad_bits);
  cJSON_AddNumberToObject(app, "threshold", ad_threshold);
  cJSON *lib = cJSON_AddObjectToObject(bundle, "library");
  cJSON_AddStringToObject(lib, "name", library_of(sp.method));
  cJSON_AddStringToObject(lib, "format", sp.method == ML_SVM || sp.method == ML_LOGISTIC_REGRESSION ? "text" : "json");
  cJSON_AddItemToObject(result, "summary", cJSON_Duplicate(bundle, 1));
  /* what only the bundle holds: each training record's fold, the training fingerprints
   * (for the domain and for knn), the model */
  cJSON *assign = cJSON_AddArrayToObject(val, "assignment");
  {
    int *at = calloc((size_t)t.n + 1, sizeof *at);
    for (int i = 0; at && i < t.n; i++)
      at[i] = -2; /* a target that does not fit the task */
    for (int i = 0; at && i < ntrain; i++)
      at[trainrows[i]] = fold[i];
    for (int i = 0; at && i < ntest; i++)
      at[testrows[i]] = -1;
    for (int i = 0; at && i < t.n; i++)
      cJSON_AddItemToArray(assign, cJSON_CreateNumber(at[i]));
    free(at);
  }
  /* the references a prediction is compared with: as many as cross-validation compared
   * each record with (all, or a seeded AD_REFERENCES of them), so the threshold it learned
   * means the same */
  cJSON *trfp = cJSON_AddArrayToObject(app, "training");
  char *hex = malloc((size_t)ft.adw * 16 + 1);
  int nref = ad_refs(trainrows, ntrain, sp.seed + (uint64_t)sp.folds, refs);
  for (int i = 0; hex && i < nref; i++) {
    hex_words(t.ad + (size_t)refs[i] * (size_t)ft.adw, ft.adw, hex);
    cJSON_AddItemToArray(trfp, cJSON_CreateString(hex));
  }
  free(hex);
  cJSON_AddStringToObject(bundle, "model", saved);
  text = cJSON_PrintUnformatted(bundle);
  char path[4200];
  snprintf(path, sizeof path, "%s/model.json", workdir);
  if (!text) {
    cb_errf(eb, "out of memory");
    rc = CB_ENOMEM;
    goto out;
  }
  if (write_text(path, text, eb)) {
    rc = CB_EIO;
    goto out;
  }
  cJSON_AddStringToObject(result, "path", path);
  if (progress)
    progress(pctx, 1.0);
  rc = CB_OK;
out:
  ml_free(model);
  cJSON_Delete(bundle);
  cJSON_free(text);
  free(saved);
  free(trainrows);
  free(testrows);
  free(fold);
  free(tr);
  free(te);
  free(refs);
  free(ytrain);
  free(pred);
  free(prob);
  free(obs);
  free(sims);
  free(test);
  rescaler_free(&rs);
  labels_free(&lab);
  trainset_free(&t);
  return rc;
}

/* ---------------------------------------------------------------- bundles */

struct loaded {
  char sha[65];
  enum ml_task task;
  struct feat ft;
  struct scaling sc;
  ml_model *model;
  uint64_t *train_ad; /* ntrain x ft.adw */
  int ntrain;
  double ad_threshold;
  cJSON *classes; /* [negative, positive] labels */
  char target[ML_NAME_MAX];
};

static void loaded_free(struct loaded *L)
{
  ml_free(L->model);
  scaling_free(&L->sc);
  free(L->train_ad);
  cJSON_Delete(L->classes);
  memset(L, 0, sizeof *L);
}

/* Reads a bundle's text: its features, scaling, domain and the library's model. 0, or -1
 * with eb saying what is wrong with it. */
static int bundle_load(const char *text, size_t len, const char *tmpdir, struct loaded *L, struct cb_errbuf *eb)
{
  memset(L, 0, sizeof *L);
  cJSON *b = cJSON_ParseWithLength(text, len);
  int rc = -1;
  if (!b || !cJSON_IsNumber(cJSON_GetObjectItemCaseSensitive(b, "carboy_model"))) {
    cb_errf(eb, "not a carboy model bundle");
    goto out;
  }
  if (cJSON_GetObjectItemCaseSensitive(b, "carboy_model")->valuedouble != 1) {
    cb_errf(eb, "a model bundle of a newer format (%g) than this carboy reads (1)",
            cJSON_GetObjectItemCaseSensitive(b, "carboy_model")->valuedouble);
    goto out;
  }
  /* the fields a training request has, checked as one */
  cJSON *body = cJSON_CreateObject();
  static const char *const keys[] = {"target", "task", "method", "features", "threshold"};
  for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
    cJSON *v = cJSON_GetObjectItemCaseSensitive(b, keys[i]);
    if (v)
      cJSON_AddItemToObject(body, keys[i], cJSON_Duplicate(v, 1));
  }
  struct ml_spec sp;
  struct cb_errbuf seb = {""};
  int bad = ml_spec_parse(body, &sp, &seb) || !sp.has_task;
  cJSON_Delete(body);
  if (bad) {
    cb_errf(eb, "the bundle's settings are invalid: %s", seb.msg[0] ? seb.msg : "no task");
    goto out;
  }
  L->task = sp.task;
  snprintf(L->target, sizeof L->target, "%s", sp.target);
  feat_init(&L->ft, &sp.features);
  if (L->task == ML_CLASSIFICATION) {
    cJSON *cl = cJSON_GetObjectItemCaseSensitive(b, "classes");
    if (!cJSON_IsArray(cl) || cJSON_GetArraySize(cl) != 2) {
      cb_errf(eb, "the bundle's classes are missing");
      goto out;
    }
    L->classes = cJSON_Duplicate(cl, 1);
  }
  cJSON *scal = cJSON_GetObjectItemCaseSensitive(b, "scaling");
  cJSON *mean = cJSON_GetObjectItemCaseSensitive(scal, "mean"), *sd = cJSON_GetObjectItemCaseSensitive(scal, "sd");
  int nd = L->ft.f.ndesc;
  if (cJSON_GetArraySize(mean) != nd || cJSON_GetArraySize(sd) != nd) {
    cb_errf(eb, "the bundle's scaling does not match its descriptors");
    goto out;
  }
  L->sc.first = L->ft.p - nd;
  L->sc.n = nd;
  L->sc.mean = calloc((size_t)nd + 1, sizeof *L->sc.mean);
  L->sc.sd = calloc((size_t)nd + 1, sizeof *L->sc.sd);
  for (int c = 0; L->sc.mean && L->sc.sd && c < nd; c++) {
    L->sc.mean[c] = cJSON_GetNumberValue(cJSON_GetArrayItem(mean, c));
    L->sc.sd[c] = cJSON_GetNumberValue(cJSON_GetArrayItem(sd, c));
    if (!isfinite(L->sc.mean[c]) || !(L->sc.sd[c] > 0)) {
      cb_errf(eb, "the bundle's scaling is invalid");
      goto out;
    }
  }
  cJSON *app = cJSON_GetObjectItemCaseSensitive(b, "applicability");
  cJSON *th = cJSON_GetObjectItemCaseSensitive(app, "threshold");
  cJSON *training = cJSON_GetObjectItemCaseSensitive(app, "training");
  if (!cJSON_IsNumber(th) || !cJSON_IsArray(training) || cJSON_GetArraySize(training) < 1) {
    cb_errf(eb, "the bundle's applicability domain is missing");
    goto out;
  }
  L->ad_threshold = th->valuedouble;
  L->ntrain = cJSON_GetArraySize(training);
  L->train_ad = calloc((size_t)L->ntrain * (size_t)L->ft.adw + 1, sizeof *L->train_ad);
  int i = 0;
  cJSON *h;
  cJSON_ArrayForEach(h, training)
  {
    if (!L->train_ad || unhex_words(cJSON_GetStringValue(h), L->ft.adw, L->train_ad + (size_t)i * (size_t)L->ft.adw)) {
      cb_errf(eb, "the bundle's training fingerprints are invalid");
      goto out;
    }
    i++;
  }
  cJSON *model = cJSON_GetObjectItemCaseSensitive(b, "model");
  if (!cJSON_IsString(model)) {
    cb_errf(eb, "the bundle holds no model");
    goto out;
  }
  struct ml_options mo = {L->task, sp.method, sp.seed, 1, tmpdir};
  struct cb_errbuf meb = {""};
  L->model = ml_load(&mo, L->ft.p, L->ft.fpw, model->valuestring, strlen(model->valuestring), &meb);
  if (!L->model) {
    cb_errf(eb, "the bundle's %s model cannot be loaded: %s", ml_method_name(sp.method), meb.msg);
    goto out;
  }
  rc = 0;
out:
  cJSON_Delete(b);
  if (rc)
    loaded_free(L);
  return rc;
}

/* Predictions for n molecules (mols[i] NULL: no row). Into value, prob, sim. */
static int predict_mols(struct loaded *L, ob_mol **mols, int n, double *value, double *prob, double *sim,
                        char (*why)[160], struct cb_errbuf *eb)
{
  const struct feat *ft = &L->ft;
  float *x = calloc((size_t)n * (size_t)ft->p + 1, sizeof *x);
  uint64_t *fp = calloc((size_t)n * (size_t)(ft->fpw ? ft->fpw : 1), sizeof *fp);
  uint64_t *ad = calloc((size_t)n * (size_t)ft->adw + 1, sizeof *ad);
  int *rows = calloc((size_t)n + 1, sizeof *rows), k = 0;
  double *v = calloc((size_t)n + 1, sizeof *v), *pr = calloc((size_t)n + 1, sizeof *pr);
  int rc = -1;
  if (!x || !fp || !ad || !rows || !v || !pr) {
    cb_errf(eb, "out of memory");
    goto out;
  }
  for (int i = 0; i < n; i++) {
    value[i] = prob[i] = sim[i] = NAN;
    if (!mols[i])
      continue;
    struct cb_errbuf w = {""};
    float *row = x + (size_t)i * (size_t)ft->p;
    if (feat_row(ft, mols[i], row, fp + (size_t)i * (size_t)(ft->fpw ? ft->fpw : 1), ad + (size_t)i * (size_t)ft->adw,
                 &w)) {
      snprintf(why[i], sizeof why[i], "%s", w.msg);
      continue;
    }
    scaling_apply(&L->sc, row);
    rows[k++] = i;
  }
  struct ml_data d = {n, ft->p, x, ft->fpw, ft->fpw ? fp : NULL, NULL};
  if (k && ml_predict(L->model, &d, rows, k, v, pr, eb))
    goto out;
  for (int j = 0; j < k; j++) {
    int i = rows[j];
    value[i] = v[j];
    prob[i] = pr[j];
    sim[i] = nearest(ad + (size_t)i * (size_t)ft->adw, L->train_ad, NULL, L->ntrain, ft->adw);
  }
  rc = 0;
out:
  free(x);
  free(fp);
  free(ad);
  free(rows);
  free(v);
  free(pr);
  return rc;
}

/* A prediction's value as the training data said it: a number, or a class's label. */
static cJSON *value_json(const struct loaded *L, double v)
{
  if (L->task == ML_REGRESSION)
    return cJSON_CreateNumber(v);
  return cJSON_Duplicate(cJSON_GetArrayItem(L->classes, v > 0.5 ? 1 : 0), 1);
}

static struct loaded kept; /* the bundle this process predicts with, by its sha-256 */

cb_err learn_predict(const cJSON *req, cJSON *result, struct cb_errbuf *eb)
{
  const char *sha = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(req, "model_sha"));
  const char *text = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(req, "model"));
  const char *workdir = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(req, "workdir"));
  const cJSON *list = cJSON_GetObjectItemCaseSensitive(req, "smiles");
  if (!sha || strlen(sha) != 64 || !cJSON_IsArray(list)) {
    cb_errf(eb, "a prediction needs model_sha and a list of SMILES");
    return CB_EINVAL;
  }
  if (strcmp(kept.sha, sha)) {
    if (!text) {
      cJSON_AddTrueToObject(result, "need_model");
      return CB_OK;
    }
    loaded_free(&kept);
    if (chem_ensure_ob(eb) || bundle_load(text, strlen(text), workdir, &kept, eb))
      return CB_EINVAL;
    snprintf(kept.sha, sizeof kept.sha, "%s", sha);
  }
  int n = cJSON_GetArraySize(list);
  ob_mol **mols = calloc((size_t)n + 1, sizeof *mols);
  char(*why)[160] = calloc((size_t)n + 1, sizeof *why);
  double *v = calloc((size_t)n + 1, sizeof *v), *p = calloc((size_t)n + 1, sizeof *p),
         *s = calloc((size_t)n + 1, sizeof *s);
  cb_err rc = CB_ENOMEM;
  if (!mols || !why || !v || !p || !s) {
    cb_errf(eb, "out of memory");
    goto out;
  }
  int i = 0;
  const cJSON *it;
  cJSON_ArrayForEach(it, list)
  {
    struct cb_errbuf w = {""};
    mols[i] = cJSON_IsString(it) ? mol_of_smiles(it->valuestring, &w) : NULL;
    if (!mols[i])
      snprintf(why[i], sizeof why[i], "%s", cJSON_IsString(it) ? w.msg : "not a string");
    i++;
  }
  if (predict_mols(&kept, mols, n, v, p, s, why, eb)) {
    rc = CB_EINVAL;
    goto out;
  }
  cJSON *out = cJSON_AddArrayToObject(result, "predictions");
  i = 0;
  cJSON_ArrayForEach(it, list)
  {
    cJSON *o = cJSON_CreateObject();
    cJSON_AddItemToObject(o, "smiles", cJSON_IsString(it) ? cJSON_CreateString(it->valuestring) : cJSON_CreateNull());
    if (isnan(v[i])) {
      cJSON_AddStringToObject(o, "error", why[i][0] ? why[i] : "no prediction");
    } else {
      cJSON_AddItemToObject(o, "value", value_json(&kept, v[i]));
      if (kept.task == ML_CLASSIFICATION)
        cJSON_AddNumberToObject(o, "probability", p[i]);
      cJSON_AddBoolToObject(o, "in_domain", s[i] >= kept.ad_threshold);
      cJSON_AddNumberToObject(o, "nearest_similarity", s[i]);
    }
    cJSON_AddItemToArray(out, o);
    i++;
  }
  rc = CB_OK;
out:
  for (int k = 0; mols && k < n; k++)
    ob_mol_free(mols[k]);
  free(mols);
  free(why);
  free(v);
  free(p);
  free(s);
  return rc;
}

/* ---------------------------------------------------------------- predict a file */

static void csv_cell(FILE *f, const char *s)
{
  if (!strpbrk(s, ",\"\r\n")) {
    fputs(s, f);
    return;
  }
  fputc('"', f);
  for (; *s; s++) {
    if (*s == '"')
      fputc('"', f);
    fputc(*s, f);
  }
  fputc('"', f);
}

static void number_text(double v, char *buf, size_t cap)
{
  snprintf(buf, cap, "%.10g", v);
}

static void value_text(const struct loaded *L, double v, char *buf, size_t cap)
{
  if (L->task == ML_REGRESSION) {
    number_text(v, buf, cap);
    return;
  }
  cJSON *c = cJSON_GetArrayItem(L->classes, v > 0.5 ? 1 : 0);
  if (cJSON_IsString(c))
    snprintf(buf, cap, "%s", c->valuestring);
  else
    number_text(cJSON_GetNumberValue(c), buf, cap);
}

#define CHUNK 256

struct pending {
  ob_mol *mol[CHUNK];
  char *cells[CHUNK]; /* a table row's cells, tab-joined (NULL for a structure file) */
  char why[CHUNK][160];
  int n;
};

struct file_out {
  FILE *f;
  int sdf;
  long long records, predicted, skipped;
  char col_value[ML_NAME_MAX + 16], col_prob[ML_NAME_MAX + 16];
};

/* Predicts the pending records and writes them out. */
static int flush_pending(struct loaded *L, struct pending *pd, struct file_out *fo, struct cb_errbuf *eb)
{
  double v[CHUNK], p[CHUNK], s[CHUNK];
  if (pd->n && predict_mols(L, pd->mol, pd->n, v, p, s, pd->why, eb))
    return -1;
  for (int i = 0; i < pd->n; i++) {
    char val[160] = "", prob[32] = "", sim[32] = "";
    int ok = !isnan(v[i]);
    if (ok) {
      value_text(L, v[i], val, sizeof val);
      number_text(p[i], prob, sizeof prob);
      number_text(s[i], sim, sizeof sim);
      fo->predicted++;
    }
    if (fo->sdf) {
      if (!ok) {
        fo->skipped++;
        continue;
      }
      ob_mol_set_field(pd->mol[i], fo->col_value, val);
      if (L->task == ML_CLASSIFICATION)
        ob_mol_set_field(pd->mol[i], fo->col_prob, prob);
      ob_mol_set_field(pd->mol[i], "in_domain", s[i] >= L->ad_threshold ? "true" : "false");
      ob_mol_set_field(pd->mol[i], "nearest_similarity", sim);
      struct cb_errbuf w = {""};
      char *rec = ob_mol_write(pd->mol[i], "sdf", &w);
      if (!rec) {
        fo->predicted--;
        fo->skipped++;
        continue;
      }
      fputs(rec, fo->f);
      fputc('\n', fo->f);
      free(rec);
    } else {
      /* the row's own cells, then the prediction's */
      char *c = pd->cells[i];
      for (int first = 1; c; first = 0) {
        char *tab = strchr(c, '\t');
        if (tab)
          *tab = '\0';
        if (!first)
          fputc(',', fo->f);
        csv_cell(fo->f, c);
        c = tab ? tab + 1 : NULL;
      }
      fputc(',', fo->f);
      csv_cell(fo->f, val);
      if (L->task == ML_CLASSIFICATION) {
        fputc(',', fo->f);
        fputs(prob, fo->f);
      }
      fprintf(fo->f, ",%s,%s,", ok ? (s[i] >= L->ad_threshold ? "true" : "false") : "", sim);
      csv_cell(fo->f, ok ? "" : pd->why[i][0] ? pd->why[i] : "no prediction");
      fputs("\r\n", fo->f);
      if (!ok)
        fo->skipped++;
    }
  }
  for (int i = 0; i < pd->n; i++) {
    ob_mol_free(pd->mol[i]);
    free(pd->cells[i]);
  }
  memset(pd, 0, sizeof *pd);
  return ferror(fo->f) ? (cb_errf(eb, "writing the output failed"), -1) : 0;
}

static char *join_cells(char **cells, int n)
{
  struct cb_buf b = {0};
  for (int i = 0; i < n; i++) {
    if (i)
      cb_buf_puts(&b, "\t");
    cb_buf_puts(&b, cells[i]);
  }
  cb_buf_puts(&b, "");
  return cb_buf_steal(&b);
}

cb_err learn_predict_file(const cJSON *req, cJSON *result, cb_progress_fn progress, void *pctx, struct cb_errbuf *eb)
{
  const char *workdir = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(req, "workdir"));
  const char *mpath = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(req, "model_path"));
  struct loaded L = {0};
  struct src s = {0};
  struct pending *pd = calloc(1, sizeof *pd);
  struct file_out fo = {0};
  char *text = NULL;
  cb_err rc = CB_EINVAL;
  if (!workdir || !mpath || !pd) {
    cb_errf(eb, pd ? "the request needs workdir and model_path" : "out of memory");
    goto out;
  }
  FILE *mf = fopen(mpath, "rb");
  struct stat sb;
  if (!mf || fstat(fileno(mf), &sb) || !(text = malloc((size_t)sb.st_size + 1)) ||
      fread(text, 1, (size_t)sb.st_size, mf) != (size_t)sb.st_size) {
    if (mf)
      fclose(mf);
    cb_errf(eb, "cannot read the model");
    goto out;
  }
  fclose(mf);
  if (chem_ensure_ob(eb) || bundle_load(text, (size_t)sb.st_size, workdir, &L, eb) || src_open(&s, req, NULL, eb))
    goto out;
  fo.sdf = !s.table && strcmp(s.format, "smi");
  snprintf(fo.col_value, sizeof fo.col_value, "%s_predicted", L.target);
  snprintf(fo.col_prob, sizeof fo.col_prob, "%s_probability", L.target);
  char out[4200];
  snprintf(out, sizeof out, "%s/predicted.%s", workdir, fo.sdf ? "sdf" : "csv");
  if (!(fo.f = fopen(out, "wb"))) {
    cb_errf(eb, "cannot write the output");
    rc = CB_EIO;
    goto out;
  }
  if (!fo.sdf) { /* the header: the table's columns (or a SMILES file's), then the prediction's */
    if (s.table) {
      for (int i = 0; i < s.ncols; i++) {
        if (i)
          fputc(',', fo.f);
        csv_cell(fo.f, s.cols[i]);
      }
    } else {
      fputs("smiles,title", fo.f);
    }
    fputc(',', fo.f);
    csv_cell(fo.f, fo.col_value);
    if (L.task == ML_CLASSIFICATION) {
      fputc(',', fo.f);
      csv_cell(fo.f, fo.col_prob);
    }
    fputs(",in_domain,nearest_similarity,prediction_error\r\n", fo.f);
  }
  for (;;) {
    ob_mol *m;
    const char *target;
    struct cb_errbuf why = {""};
    int r = src_next(&s, &m, &target, &why, eb);
    if (r < 0)
      goto out;
    if (r == 0)
      break;
    fo.records++;
    int i = pd->n;
    pd->mol[i] = m;
    snprintf(pd->why[i], sizeof pd->why[i], "%s", why.msg);
    if (s.table) {
      pd->cells[i] = join_cells(s.cells, s.ncells);
    } else if (!fo.sdf) {
      struct cb_errbuf w = {""};
      /* the molecule as Open Babel writes it (not canonical: closest to what was read) */
      char *smi = m ? ob_mol_write(m, "smi", &w) : NULL;
      const char *title = m ? ob_mol_title(m) : "";
      char *cells[2] = {smi ? smi : (char *)"", (char *)(title ? title : "")};
      char *tab = smi ? strchr(smi, '\t') : NULL;
      if (tab)
        *tab = '\0';
      pd->cells[i] = join_cells(cells, 2);
      free(smi);
    }
    pd->n++;
    if (pd->n == CHUNK) {
      if (flush_pending(&L, pd, &fo, eb))
        goto out;
      long long off = src_offset(&s);
      if (progress && s.size > 0 && off > 0)
        progress(pctx, (double)off / (double)s.size);
    }
  }
  if (flush_pending(&L, pd, &fo, eb))
    goto out;
  if (fclose(fo.f)) {
    fo.f = NULL;
    cb_errf(eb, "writing the output failed");
    rc = CB_EIO;
    goto out;
  }
  fo.f = NULL;
  if (!fo.predicted) {
    cb_errf(eb, "no record could be predicted (%lld read)", fo.records);
    goto out;
  }
  cJSON_AddStringToObject(result, "path", out);
  cJSON_AddStringToObject(result, "media_type", fo.sdf ? "chemical/x-mdl-sdfile" : "text/csv");
  cJSON_AddNumberToObject(result, "records", (double)fo.records);
  cJSON_AddNumberToObject(result, "predicted", (double)fo.predicted);
  cJSON_AddNumberToObject(result, "skipped", (double)fo.skipped);
  rc = CB_OK;
out:
  if (fo.f)
    fclose(fo.f);
  for (int i = 0; pd && i < pd->n; i++) {
    ob_mol_free(pd->mol[i]);
    free(pd->cells[i]);
  }
  free(pd);
  src_close(&s);
  loaded_free(&L);
  free(text);
  return rc;
}

/* ---------------------------------------------------------------- bundles as files */

static int model_sniff(const unsigned char *head, size_t len, const struct cb_convert_input *in)
{
  (void)in;
  size_t i = 0;
  while (i < len && isspace(head[i]))
    i++;
  static const char key[] = "{\"carboy_model\"";
  return len - i >= sizeof key - 1 && !memcmp(head + i, key, sizeof key - 1) ? 90 : 0;
}

/* A bundle uploaded or trained: it must load (its model read by its library), and its
 * report becomes the file's properties and the "model" the server records. */
static cb_err model_extract(const struct cb_convert_input *in, cJSON *result, cb_progress_fn progress, void *pctx,
                            struct cb_errbuf *eb)
{
  (void)progress;
  (void)pctx;
  FILE *f = fopen(in->path, "rb");
  char *text = malloc((size_t)in->size + 1);
  if (!f || !text || fread(text, 1, (size_t)in->size, f) != (size_t)in->size) {
    if (f)
      fclose(f);
    free(text);
    cb_errf(eb, "cannot read the file");
    return CB_EIO;
  }
  fclose(f);
  text[in->size] = '\0';
  struct loaded L;
  if (chem_ensure_ob(eb) || bundle_load(text, (size_t)in->size, in->workdir, &L, eb)) {
    free(text);
    return CB_EINVAL;
  }
  loaded_free(&L);
  cJSON *b = cJSON_ParseWithLength(text, (size_t)in->size);
  free(text);
  if (!b)
    return CB_ENOMEM;
  /* the report: the bundle but for its model and what only predicting needs */
  cJSON_DeleteItemFromObjectCaseSensitive(b, "model");
  cJSON_DeleteItemFromObjectCaseSensitive(cJSON_GetObjectItemCaseSensitive(b, "applicability"), "training");
  cJSON_DeleteItemFromObjectCaseSensitive(cJSON_GetObjectItemCaseSensitive(b, "validation"), "assignment");
  cJSON_AddStringToObject(result, "kind", "model");
  cJSON_AddStringToObject(result, "media_type", "application/vnd.carboy.model+json");
  static const char *const texts[] = {"task", "method", "target", NULL};
  for (int i = 0; texts[i]; i++) {
    const char *v = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(b, texts[i]));
    if (v)
      result_prop_text(result, texts[i], v, NULL, NULL);
  }
  cJSON *ts = cJSON_GetObjectItemCaseSensitive(b, "training_size");
  if (cJSON_IsNumber(ts))
    result_prop_num(result, "training_size", ts->valuedouble, NULL, NULL);
  const char *fp = cJSON_GetStringValue(
    cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(b, "features"), "fingerprint"));
  if (fp)
    result_prop_text(result, "fingerprint", fp, NULL, NULL);
  cJSON *cv = cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(b, "metrics"), "cv"), *m;
  cJSON_ArrayForEach(m, cv) if (cJSON_IsNumber(m))
  {
    char name[64];
    snprintf(name, sizeof name, "cv_%s", m->string);
    if (strcmp(m->string, "n"))
      result_prop_num(result, name, m->valuedouble, NULL, NULL);
  }
  cJSON_AddItemToObject(result, "model", b);
  return CB_OK;
}

static const char *const model_suffixes[] = {".carboy-model", NULL};
static const struct converter_desc model_desc = {"model", "model", model_suffixes, model_sniff, NULL};
static const struct converter_ops model_ops = {model_extract, NULL, NULL, NULL};
const struct converter conv_model = {&model_desc, &model_ops};
