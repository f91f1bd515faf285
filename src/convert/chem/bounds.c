/* Cost bounds before the toolkit: see bounds.h. Every count here is one pass over the
 * record's lines, with no parsing beyond a header's numbers, so a record past a bound costs
 * the time to read it, never Open Babel's. */
#include "convert/chem/bounds.h"

#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/types.h>

#include "convert/chem/cif.h"
#include "util/util.h"

/* as the settings table says (src/config/settings.c) */
#define DEFAULT_ATOMS 100000
#define DEFAULT_BONDS 200000
#define DEFAULT_RECORDS 1000000
#define DEFAULT_BYTES (64ll << 20)
#define DEFAULT_IDENTIFY 10000

static long long env_count(const char *name, long long dflt)
{
  const char *v = getenv(name); /* checked when the server starts */
  long long n = v && *v ? strtoll(v, NULL, 10) : 0;
  return n > 0 ? n : dflt;
}

const struct chem_bounds *chem_bounds(void)
{
  static struct chem_bounds b;
  static int loaded;
  if (!loaded) {
    b.atoms = env_count("CARBOY_CHEM_MAX_ATOMS", DEFAULT_ATOMS);
    b.bonds = env_count("CARBOY_CHEM_MAX_BONDS", DEFAULT_BONDS);
    b.records = env_count("CARBOY_CHEM_MAX_RECORDS", DEFAULT_RECORDS);
    b.identify = env_count("CARBOY_CHEM_IDENTIFY_MAX_ATOMS", DEFAULT_IDENTIFY);
    uint64_t bytes;
    const char *v = getenv("CARBOY_CHEM_MAX_RECORD_SIZE");
    b.bytes = v && *v && !cb_parse_size(v, &bytes) && bytes > 0 && bytes < INT64_MAX ? (long long)bytes : DEFAULT_BYTES;
    loaded = 1;
  }
  return &b;
}

const char *bounds_num(long long n, char *buf, size_t cap)
{
  char digits[32];
  int len = snprintf(digits, sizeof digits, "%lld", n < 0 ? -n : n);
  size_t k = 0;
  if (n < 0 && k + 1 < cap)
    buf[k++] = '-';
  for (int i = 0; i < len && k + 1 < cap; i++) {
    if (i && (len - i) % 3 == 0 && k + 1 < cap)
      buf[k++] = ',';
    buf[k++] = digits[i];
  }
  buf[k < cap ? k : cap - 1] = '\0';
  return buf;
}

int bounds_check(const struct chem_counts *c, struct cb_errbuf *eb)
{
  const struct chem_bounds *b = chem_bounds();
  char n[32], max[32];
  if (c->atoms > b->atoms) {
    cb_errf(eb, "the molecule has %s atoms, above CARBOY_CHEM_MAX_ATOMS (%s)", bounds_num(c->atoms, n, sizeof n),
            bounds_num(b->atoms, max, sizeof max));
    return -1;
  }
  if (c->bonds > b->bonds) {
    cb_errf(eb, "the molecule has %s bonds, above CARBOY_CHEM_MAX_BONDS (%s)", bounds_num(c->bonds, n, sizeof n),
            bounds_num(b->bonds, max, sizeof max));
    return -1;
  }
  if (c->bytes > b->bytes) {
    cb_errf(eb, "the record is %s bytes, above CARBOY_CHEM_MAX_RECORD_SIZE (%s)", bounds_num(c->bytes, n, sizeof n),
            bounds_num(b->bytes, max, sizeof max));
    return -1;
  }
  return 0;
}

static int starts(const char *line, const char *prefix)
{
  return !strncmp(line, prefix, strlen(prefix));
}

static int blank(const char *line)
{
  return line[strspn(line, " \t\r\n")] == '\0';
}

/* Atoms of a SMILES (or reaction SMILES) up to its title: each bracket atom, each
 * organic-subset symbol (Cl and Br count once: their second letter is no atom), '*'. */
static long long smiles_atoms(const char *s)
{
  long long n = 0;
  for (const char *p = s; *p && *p != ' ' && *p != '\t' && *p != '\r' && *p != '\n'; p++) {
    if (*p == '[') {
      n++;
      const char *e = strchr(p, ']');
      if (!e)
        break;
      p = e;
    } else if (strchr("BCNOPSFIbcnops*", *p)) {
      n++;
    }
  }
  return n;
}

/* Atoms of an InChI from its formula layer ("InChI=1S/C6H6/...", "2H2O.Na" counted
 * whole): each element's count, times its component's multiplier. */
static long long inchi_atoms(const char *s)
{
  const char *p = strchr(s, '/');
  if (!p)
    return -1;
  long long n = 0, mult = 1;
  int start = 1;
  for (p++; *p && *p != '/' && !isspace((unsigned char)*p);) {
    if (*p == '.') {
      mult = 1, start = 1, p++;
    } else if (isdigit((unsigned char)*p)) {
      long long v = strtoll(p, (char **)&p, 10);
      /* counts past any bound are held there (no overflow to slip under one) */
      v = v > (1LL << 30) ? (1LL << 30) : v;
      if (start)
        mult = v > 0 ? v : 1;
      else if (v > 1)
        n += (v - 1) * mult; /* the element before it was counted once */
      if (n > (1LL << 40))
        return n;
    } else if (isupper((unsigned char)*p)) {
      start = 0;
      n += mult;
      if (n > (1LL << 40))
        return n;
      p++;
      while (islower((unsigned char)*p))
        p++;
    } else {
      p++;
    }
  }
  return n;
}

/* "<atom" opening an atom element (not atomArray, atomParity). */
static long long cml_atoms(const char *line)
{
  long long n = 0;
  for (const char *p = line; (p = strstr(p, "<atom")); p += 5)
    if (strchr(" \t\r\n>/", p[5]))
      n++;
  return n;
}

int bounds_scan_record(FILE *f, const char *format, struct chem_counts *c)
{
  c->atoms = c->bonds = -1;
  c->bytes = 0;
  char *line = NULL;
  size_t cap = 0;
  ssize_t len;
  long long lines = 0, xyz_left = -1, cml_now = 0;
  int sdf = !strcmp(format, "sdf") || !strcmp(format, "mol"), pdb = !strcmp(format, "pdb");
  int mol2 = !strcmp(format, "mol2"), xyz = !strcmp(format, "xyz"), cml = !strcmp(format, "cml");
  int any = 0, v3000 = 0;
  long long mol2_header = -1;
  for (;;) {
    off_t at = ftello(f);
    if ((len = getline(&line, &cap, f)) <= 0)
      break;
    if (mol2 && starts(line, "@<TRIPOS>MOLECULE")) {
      if (mol2_header >= 0) { /* the next molecule's: it is not this record's */
        fseeko(f, at, SEEK_SET);
        break;
      }
      mol2_header = lines;
    }
    if (!any && (sdf || pdb || mol2 || cml || xyz ? 0 : blank(line))) {
      c->bytes += len; /* blank lines before a line record are Open Babel's to pass over */
      continue;
    }
    any = 1;
    c->bytes += len;
    lines++;
    if (sdf) {
      if (lines == 4) {
        v3000 = strstr(line, "V3000") != NULL;
        if (!v3000 && len >= 6) {
          char a[4] = {line[0], line[1], line[2], 0}, b[4] = {line[3], line[4], line[5], 0};
          c->atoms = atoll(a), c->bonds = atoll(b);
        }
      } else if (v3000 && starts(line, "M  V30 COUNTS")) {
        char *e;
        c->atoms = strtoll(line + 13, &e, 10);
        c->bonds = strtoll(e, NULL, 10);
      }
      if (starts(line, "$$$$"))
        break;
    } else if (pdb) {
      if (starts(line, "ATOM  ") || starts(line, "HETATM"))
        c->atoms = (c->atoms < 0 ? 0 : c->atoms) + 1;
      if (starts(line, "END")) /* END or ENDMDL closes a model, as Open Babel reads it */
        break;
    } else if (mol2) {
      if (mol2_header >= 0 && lines == mol2_header + 3) {
        char *e;
        c->atoms = strtoll(line, &e, 10);
        c->bonds = strtoll(e, NULL, 10);
      }
    } else if (xyz) {
      if (xyz_left < 0) {
        c->atoms = atoll(line);
        if (c->atoms <= 0 || c->atoms > (1LL << 40)) /* past any bound: no need to read on */
          break;
        xyz_left = c->atoms + 1; /* the title line, then one per atom */
      } else if (--xyz_left <= 0) {
        break;
      }
    } else if (cml) {
      /* one molecule is one record: the scan ends with it (else the rest of the file
       * would count as this record, and be passed over with it) */
      if (strstr(line, "<molecule"))
        cml_now = 0;
      cml_now += cml_atoms(line);
      if (cml_now > c->atoms)
        c->atoms = cml_now;
      if (strstr(line, "</molecule>"))
        break;
    } else { /* smi, rsmi, inchi: a line each */
      c->atoms = !strcmp(format, "inchi") ? inchi_atoms(line) : smiles_atoms(line);
      break;
    }
  }
  free(line);
  return any;
}

struct text_ctx {
  long long sites, ops;
};

static int count_item(void *ctx, const struct cif_item *it)
{
  struct text_ctx *t = ctx;
  if (cif_tag_is(it, "_atom_site_fract_x") || cif_tag_is(it, "_atom_site_Cartn_x"))
    t->sites++;
  else if (cif_tag_is(it, "_symmetry_equiv_pos_as_xyz") || cif_tag_is(it, "_space_group_symop_operation_xyz"))
    t->ops++;
  return 0;
}

void bounds_count_text(const char *format, const char *text, size_t len, struct chem_counts *c, long long *filled)
{
  c->atoms = c->bonds = -1;
  c->bytes = (long long)len;
  if (filled)
    *filled = -1;
  if (!strcmp(format, "cif") || !strcmp(format, "mmcif")) {
    struct text_ctx t = {0, 0};
    cif_items(text, len, count_item, &t);
    c->atoms = t.sites;
    if (filled)
      *filled = t.sites * (t.ops > 0 ? t.ops : 1);
    return;
  }
  /* a reaction's or an RDF record's molfiles: the sum of their V2000 counts lines */
  for (const char *p = text, *end = text + len; p < end;) {
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
    const char *v = n >= 39 ? memmem(p, n, "V2000", 5) : NULL;
    if (v && v - p >= 33) {
      char a[4] = {p[0], p[1], p[2], 0}, b[4] = {p[3], p[4], p[5], 0};
      c->atoms = (c->atoms < 0 ? 0 : c->atoms) + atoll(a);
      c->bonds = (c->bonds < 0 ? 0 : c->bonds) + atoll(b);
    }
    p += n + 1;
  }
}

long long bounds_count_records(const char *path, const char *format, long long max)
{
  int sdf = !strcmp(format, "sdf"), smi = !strcmp(format, "smi") || !strcmp(format, "rsmi");
  if (!sdf && !smi)
    return -1;
  FILE *f = fopen(path, "rb");
  if (!f)
    return -1;
  char *line = NULL;
  size_t cap = 0;
  long long n = 0;
  int open = 0; /* an SD record has begun and has no $$$$ yet */
  while (n <= max && getline(&line, &cap, f) > 0) {
    if (sdf) {
      if (starts(line, "$$$$"))
        n++, open = 0;
      else if (!blank(line))
        open = 1;
    } else if (!blank(line) && line[0] != '#') {
      n++;
    }
  }
  free(line);
  fclose(f);
  return n + open;
}
