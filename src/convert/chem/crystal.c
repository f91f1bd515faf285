/* A crystal's description from its CIF data block: see crystal.h. */
#include "convert/chem/crystal.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "convert/chem/bounds.h"
#include "convert/chem/cif.h"

/* ---- chemical formulas ---- */

void formula_add(struct formula *f, const char *symbol, double count)
{
  int i = 0;
  while (i < f->n && strcmp(f->el[i].symbol, symbol))
    i++;
  if (i == f->n) {
    if (f->n == FORMULA_MAX || strlen(symbol) >= sizeof f->el[0].symbol)
      return;
    snprintf(f->el[f->n].symbol, sizeof f->el[0].symbol, "%s", symbol);
    f->el[f->n++].count = 0;
  }
  f->el[i].count += count;
}

#define FORMULA_COUNT_MAX 1e6 /* atoms of an element in a formula unit */

/* The element a formula sum's token starts with, into sym: CIF writes one element and its
 * count per token ("Na4", "C.55"), so a token of one or two letters is read whatever their
 * case ("NA4" is sodium, as old files write it); others as written ("C6H6"). The letters
 * read, 0 when none start it. */
static int token_element(const char *p, char sym[4])
{
  size_t letters = 0;
  while (isalpha((unsigned char)p[letters]))
    letters++;
  memset(sym, 0, 4);
  if (letters >= 1 && letters <= 2 &&
      (!p[letters] || isspace((unsigned char)p[letters]) || isdigit((unsigned char)p[letters]) || p[letters] == '.')) {
    sym[0] = (char)toupper((unsigned char)p[0]);
    sym[1] = letters == 2 ? (char)tolower((unsigned char)p[1]) : '\0';
    return (int)letters;
  }
  if (!isupper((unsigned char)p[0]))
    return 0;
  sym[0] = p[0];
  if (islower((unsigned char)p[1]))
    sym[1] = p[1];
  return sym[1] ? 2 : 1;
}

static int formula_read(const char *text, struct formula *f)
{
  memset(f, 0, sizeof *f);
  const char *p = text;
  while (*p) {
    if (isspace((unsigned char)*p)) {
      p++;
      continue;
    }
    char sym[4];
    int letters = token_element(p, sym);
    if (!letters)
      return -1;
    p += letters;
    double count = 1;
    if (isdigit((unsigned char)*p) || *p == '.') {
      char *end;
      count = strtod(p, &end);
      p = end;
    }
    if ((*p && !isspace((unsigned char)*p) && !isupper((unsigned char)*p)) || !(count > 0) ||
        !(count < FORMULA_COUNT_MAX) || ob_element_mass(sym) <= 0)
      return -1;
    formula_add(f, sym, count);
  }
  return f->n ? 0 : -1;
}

/* The formula sum text into f: 0, or -1 with f empty when it is not one ("C12 H10 N2 O4
 * S, 2(H2 O)" is a structural formula; a count must be finite and below FORMULA_COUNT_MAX). */
int formula_parse(const char *text, struct formula *f)
{
  if (formula_read(text, f)) {
    memset(f, 0, sizeof *f);
    return -1;
  }
  return 0;
}

static int hill_cmp(const void *a, const void *b, int carbon)
{
  const char *x = a, *y = b;
  if (carbon) {
    static const char *const first[] = {"C", "H"};
    for (int i = 0; i < 2; i++) {
      int fx = !strcmp(x, first[i]), fy = !strcmp(y, first[i]);
      if (fx != fy)
        return fx ? -1 : 1;
    }
  }
  return strcmp(x, y);
}

static int hill_carbon(const void *a, const void *b)
{
  return hill_cmp(a, b, 1);
}

static int hill_plain(const void *a, const void *b)
{
  return hill_cmp(a, b, 0);
}

void formula_hill(const struct formula *f, char *out, size_t cap)
{
  struct formula s = *f;
  int carbon = 0;
  for (int i = 0; i < s.n; i++)
    carbon |= !strcmp(s.el[i].symbol, "C");
  qsort(s.el, (size_t)s.n, sizeof s.el[0], carbon ? hill_carbon : hill_plain);
  size_t len = 0;
  out[0] = '\0';
  for (int i = 0; i < s.n && len < cap; i++) {
    double c = s.el[i].count;
    char num[32] = "";
    if (fabs(c - round(c)) < 1e-3) {
      if (llround(c) != 1)
        snprintf(num, sizeof num, "%lld", llround(c));
    } else {
      snprintf(num, sizeof num, "%.3f", c);
      for (size_t k = strlen(num); k > 0 && num[k - 1] == '0'; k--)
        num[k - 1] = '\0';
    }
    int w = snprintf(out + len, cap - len, "%s%s", s.el[i].symbol, num);
    len += w > 0 ? (size_t)w : 0;
  }
}

double formula_weight(const struct formula *f)
{
  double w = 0;
  for (int i = 0; i < f->n; i++) {
    double m = ob_element_mass(f->el[i].symbol);
    if (m <= 0)
      return 0;
    w += m * f->el[i].count;
  }
  return w;
}

static long long gcd(long long a, long long b)
{
  while (b) {
    long long t = a % b;
    a = b;
    b = t;
  }
  return a;
}

/* The formula per formula unit: divided by z, or when z is unknown by the greatest common
 * divisor of whole counts (a cell of Ca4F8 is CaF2). */
static void per_unit(struct formula *f, int z)
{
  long long g = 0;
  for (int i = 0; i < f->n && !z; i++) {
    double c = f->el[i].count;
    if (fabs(c - round(c)) > 1e-3) {
      g = 1;
      break;
    }
    g = gcd(llround(c), g);
  }
  double by = z ? z : g > 1 ? (double)g : 1;
  for (int i = 0; i < f->n; i++)
    f->el[i].count /= by;
}

/* ---- a crystal's description ---- */

struct symops {
  char *op[192];
  int n;
};

static int take_symop(void *ctx, const struct cif_item *it)
{
  struct symops *s = ctx;
  if ((cif_tag_is(it, "_symmetry_equiv_pos_as_xyz") || cif_tag_is(it, "_space_group_symop_operation_xyz")) &&
      s->n < (int)(sizeof s->op / sizeof s->op[0]))
    s->op[s->n++] = strndup(it->value, it->len);
  return 0;
}

void crystal_fix(ob_mol *m, const char *block, size_t len)
{
  struct symops s = {.n = 0};
  cif_items(block, len, take_symop, &s);
  int n = 0;
  for (int i = 0; i < s.n; i++)
    if (s.op[i])
      s.op[n++] = s.op[i];
  char alt[64], hm[64];
  struct cif_want want[] = {{"_space_group_name_H-M_alt", alt, sizeof alt},
                            {"_symmetry_space_group_name_H-M", hm, sizeof hm}};
  cif_get(block, len, want, 2);
  ob_cif_fix(m, (const char *const *)s.op, n, alt[0] ? alt : hm);
  for (int i = 0; i < n; i++)
    free(s.op[i]);
}

static const char *system_of(int number)
{
  static const struct {
    int last;
    const char *name;
  } systems[] = {{2, "triclinic"},  {15, "monoclinic"}, {74, "orthorhombic"}, {142, "tetragonal"},
                 {167, "trigonal"}, {194, "hexagonal"}, {230, "cubic"}};
  for (size_t i = 0; i < sizeof systems / sizeof systems[0]; i++)
    if (number >= 1 && number <= systems[i].last)
      return systems[i].name;
  return NULL;
}

static int count_symop(void *ctx, const struct cif_item *it)
{
  if (cif_tag_is(it, "_symmetry_equiv_pos_as_xyz") || cif_tag_is(it, "_space_group_symop_operation_xyz"))
    ++*(int *)ctx;
  return 0;
}

static int symop_count(const char *block, size_t len)
{
  int n = 0;
  cif_items(block, len, count_symop, &n);
  return n;
}

/* The crystal system the block states (_space_group_crystal_system, or the older
 * _symmetry_cell_setting), when it is one of the seven; NULL otherwise. */
static const char *stated_system(const char *block, size_t len)
{
  static const char *const names[] = {"triclinic", "monoclinic", "orthorhombic", "tetragonal",
                                      "trigonal",  "hexagonal",  "cubic"};
  char sys[32] = "", old[32] = "";
  struct cif_want want[] = {{"_space_group_crystal_system", sys, sizeof sys},
                            {"_symmetry_cell_setting", old, sizeof old}};
  cif_get(block, len, want, 2);
  const char *v = sys[0] ? sys : old;
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
    if (!strcasecmp(v, names[i]))
      return names[i];
  return NULL;
}

static void trim(char *s)
{
  size_t n = strlen(s), k = strspn(s, " \t");
  while (n > k && (s[n - 1] == ' ' || s[n - 1] == '\t'))
    n--;
  memmove(s, s + k, n - k);
  s[n - k] = '\0';
}

static int whole_number(const char *v)
{
  double d;
  return v[0] && !cif_number(v, &d) && d >= 1 && d <= 1e6 && d == floor(d) ? (int)d : 0;
}

void crystal_space_group(const char *block, size_t len, ob_mol *m, struct crystal *c)
{
  char alt[64], hm[64], it[16], it_old[16], code[8];
  struct cif_want want[] = {
    {"_space_group_name_H-M_alt", alt, sizeof alt},
    {"_symmetry_space_group_name_H-M", hm, sizeof hm},
    {"_space_group_IT_number", it, sizeof it},
    {"_symmetry_Int_Tables_number", it_old, sizeof it_old},
    {"_space_group_IT_coordinate_system_code", code, sizeof code},
  };
  cif_get(block, len, want, (int)(sizeof want / sizeof want[0]));
  struct ob_cell cell;
  int have_cell = ob_mol_cell(m, &cell);
  /* a block that names no group and lists no operations: Open Babel's P 1 is a guess */
  if (have_cell && !alt[0] && !hm[0] && !it[0] && !it_old[0] && !symop_count(block, len))
    have_cell = 0;
  snprintf(c->space_group, sizeof c->space_group, "%s", alt[0] ? alt : hm[0] ? hm : have_cell ? cell.space_group : "");
  char *colon = strrchr(c->space_group, ':');
  if (colon) {
    snprintf(c->setting, sizeof c->setting, "%s", colon + 1);
    *colon = '\0';
    trim(c->setting);
  } else if (code[0]) {
    snprintf(c->setting, sizeof c->setting, "%s", code);
  } else if (have_cell) {
    snprintf(c->setting, sizeof c->setting, "%s", cell.setting);
  }
  trim(c->space_group);
  c->number = whole_number(it) ? whole_number(it) : whole_number(it_old);
  if (!c->number && have_cell)
    c->number = cell.space_group_number;
  c->system = system_of(c->number);
  if (!c->system) /* as the block states it */
    c->system = stated_system(block, len);
}

static void add_element(void *ctx, const char *symbol, double count)
{
  formula_add(ctx, symbol, count);
}

#define MOLECULAR_MAX_ATOMS 20000 /* the molecules' test holds 27 images of each atom */

/* Is the asymmetric unit m one formula unit (sum), element for element (within 1 %)? Not
 * when it holds part of a molecule (one on a symmetry element: Z' = 1/2) or several
 * copies (Z' = 2): then the crystal's molecules are described whole, once each. */
static int one_formula_unit(ob_mol *m, const struct formula *sum)
{
  struct formula asym = {0};
  ob_mol_elements(m, add_element, &asym);
  if (asym.n != sum->n)
    return 0;
  for (int i = 0; i < sum->n; i++) {
    int k = 0;
    while (k < asym.n && strcmp(asym.el[k].symbol, sum->el[i].symbol))
      k++;
    if (k == asym.n || fabs(asym.el[k].count - sum->el[i].count) > 0.01 * sum->el[i].count)
      return 0;
  }
  return 1;
}

void crystal_chemistry(const char *block, size_t len, ob_mol *m, struct crystal *c)
{
  char sum[256], z[32];
  struct cif_want want[] = {{"_chemical_formula_sum", sum, sizeof sum}, {"_cell_formula_units_Z", z, sizeof z}};
  cif_get(block, len, want, 2);
  c->z = whole_number(z);
  c->molecular = -1;
  struct cb_errbuf eb;
  /* Open Babel stops filling at the bound: no more atoms are made than CARBOY_CHEM_MAX_ATOMS allows */
  long long bound = chem_bounds()->atoms;
  ob_mol *filled = ob_mol_filled_cell(m, bound < CRYSTAL_MAX_ATOMS ? (int)bound : CRYSTAL_MAX_ATOMS, 0, &eb);
  struct formula f;
  int have_sum = !formula_parse(sum, &f);
  if (!have_sum && filled) { /* no formula sum: the filled cell's, per formula unit */
    memset(&f, 0, sizeof f);
    ob_mol_elements(filled, add_element, &f);
    per_unit(&f, c->z);
  }
  if (filled) {
    c->filled_atoms = ob_mol_atoms(filled);
    c->molecular = ob_crystal_molecular(filled, MOLECULAR_MAX_ATOMS);
    if (c->molecular == 1 && have_sum && !one_formula_unit(m, &f))
      c->molecules = ob_crystal_molecules(filled, MOLECULAR_MAX_ATOMS);
    ob_mol_free(filled);
  }
  formula_hill(&f, c->formula, sizeof c->formula);
  c->formula_weight = formula_weight(&f);
  struct ob_cell cell;
  if (c->z && c->formula_weight > 0 && ob_mol_cell(m, &cell) && cell.volume > 0)
    c->density = c->z * c->formula_weight * 1.66053906660 / cell.volume; /* g/mol per Å³ in g/cm³ */
}
