/* Reading records out of structure files: see source.h. */
#include "convert/chem/source.h"

#include "convert/chem/crystal.h"
#include "util/util.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/types.h>

#define MAX_FIELDS 256

struct field {
  char *name, *value;
};

struct blocks {
  FILE *f;
  int rdf; /* 1: RDF records; 2: one RXN (the whole file); 0: CIF data blocks */
  char *line;
  size_t linecap;
  ssize_t linelen;
  int pending;      /* line holds the first line of the next block */
  long long offset; /* bytes consumed (including a pending line) */
  char *text;
  size_t len, cap;
  int too_big;     /* past CARBOY_CHEM_MAX_RECORD_SIZE: the rest is not held */
  long long total; /* the block's bytes, held or not */
  struct field fields[MAX_FIELDS];
  int nfields;
  char name[128]; /* CIF: the data block's name */
  char format[8]; /* what the block is: rxn, mol, cif, mmcif */
};

int source_is_blocks(const char *format)
{
  return !strcmp(format, "rdf") || !strcmp(format, "rxn") || !strcmp(format, "cif") || !strcmp(format, "mmcif");
}

int source_splittable(const char *format)
{
  return !strcmp(format, "sdf") || !strcmp(format, "smi");
}

static int starts(const char *line, const char *prefix)
{
  return !strncmp(line, prefix, strlen(prefix));
}

static int append(struct blocks *b, const char *s, size_t n)
{
  b->total += (long long)n;
  if (b->too_big)
    return 0;
  if (b->len + n + 1 > b->cap) {
    if ((long long)(b->len + n) > chem_bounds()->bytes) {
      b->too_big = 1;
      return 0; /* keep reading to the block's end, holding nothing more */
    }
    if (cb_reserve(&b->text, &b->cap, b->len + n + 1, 4096))
      return -1;
  }
  memcpy(b->text + b->len, s, n);
  b->len += n;
  b->text[b->len] = '\0';
  return 0;
}

static int read_line(struct blocks *b)
{
  if (b->pending) {
    b->pending = 0;
    return 1;
  }
  b->linelen = getline(&b->line, &b->linecap, b->f);
  if (b->linelen <= 0)
    return 0;
  b->offset += b->linelen;
  return 1;
}

static void clear_fields(struct blocks *b)
{
  for (int i = 0; i < b->nfields; i++) {
    free(b->fields[i].name);
    free(b->fields[i].value);
  }
  b->nfields = 0;
}

static void chomp(char *s)
{
  size_t n = strlen(s);
  while (n && (s[n - 1] == '\n' || s[n - 1] == '\r' || s[n - 1] == ' ' || s[n - 1] == '\t'))
    s[--n] = '\0';
}

/* CIF: a data block runs from its data_ line to the next one outside a ;-delimited text
 * field. Blocks without atom sites (data_global, ...) hold no structure and are skipped.
 * 1 with a block, 0 at the end, -1 out of memory. */
static int next_cif(struct blocks *b)
{
  for (;;) {
    b->len = 0;
    b->too_big = 0;
    b->total = 0;
    b->name[0] = '\0';
    int started = 0, in_text = 0;
    while (read_line(b)) {
      char *l = b->line;
      if (l[0] == ';')
        in_text = !in_text;
      if (!in_text && !strncasecmp(l, "data_", 5)) {
        if (started) {
          b->pending = 1;
          break;
        }
        started = 1;
        snprintf(b->name, sizeof b->name, "%s", l + 5);
        chomp(b->name);
      }
      if (started && append(b, l, (size_t)b->linelen))
        return -1;
    }
    if (!started)
      return 0;
    const char *t = b->text ? b->text : "";
    if (strstr(t, "_atom_site.")) {
      snprintf(b->format, sizeof b->format, "mmcif");
      return 1;
    }
    if (strstr(t, "_atom_site_")) {
      snprintf(b->format, sizeof b->format, "cif");
      return 1;
    }
  }
}

static int rdf_directive(const char *l)
{
  return starts(l, "$RFMT") || starts(l, "$MFMT") || starts(l, "$DTYPE");
}

/* RDF: a record is a $RFMT (an RXN follows) or $MFMT (a molfile follows), then its
 * $DTYPE name / $DATUM value pairs (a datum may go on over several lines). */
static int next_rdf(struct blocks *b)
{
  b->len = 0;
  b->too_big = 0;
  b->total = 0;
  clear_fields(b);
  int started = 0;
  while (read_line(b)) {
    char *l = b->line;
    if (starts(l, "$RFMT") || starts(l, "$MFMT")) {
      if (started) {
        b->pending = 1;
        break;
      }
      started = 1;
      snprintf(b->format, sizeof b->format, "%s", starts(l, "$RFMT") ? "rxn" : "mol");
      continue;
    }
    if (!started)
      continue; /* $RDFILE and $DATM header lines */
    if (starts(l, "$DTYPE")) {
      if (b->nfields >= MAX_FIELDS)
        continue;
      struct field *fl = &b->fields[b->nfields];
      fl->name = strdup(l + 6 + strspn(l + 6, " \t"));
      fl->value = strdup("");
      if (!fl->name || !fl->value) {
        free(fl->name);
        free(fl->value);
        return -1;
      }
      chomp(fl->name);
      b->nfields++;
      continue;
    }
    if (b->nfields > 0) { /* $DATUM, or a line continuing it */
      struct field *fl = &b->fields[b->nfields - 1];
      const char *v = l;
      int first = starts(l, "$DATUM");
      if (first)
        v = l + 6 + strspn(l + 6, " \t");
      char *line = strdup(v);
      if (!line)
        return -1;
      chomp(line);
      size_t n = strlen(fl->value), m = strlen(line);
      if (n + m < 65536) {
        char *nv = realloc(fl->value, n + m + 2);
        if (!nv) {
          free(line);
          return -1;
        }
        if (n && !first)
          nv[n++] = '\n';
        memcpy(nv + n, line, m + 1);
        fl->value = nv;
      }
      free(line);
      continue;
    }
    if (rdf_directive(l))
      continue;
    if (append(b, l, (size_t)b->linelen))
      return -1;
  }
  return started;
}

/* RXN: the whole file is one reaction. */
static int next_rxn(struct blocks *b)
{
  b->len = 0;
  b->too_big = 0;
  b->total = 0;
  int any = 0;
  while (read_line(b)) {
    any = 1;
    if (append(b, b->line, (size_t)b->linelen))
      return -1;
  }
  snprintf(b->format, sizeof b->format, "rxn");
  return any;
}

/* The reaction's name: the line after $RXN (Open Babel would append its molecules'). */
static void rxn_name(const char *text, char *out, size_t cap)
{
  out[0] = '\0';
  const char *p = strstr(text, "$RXN");
  if (!p || (p != text && p[-1] != '\n') || !(p = strchr(p, '\n')))
    return;
  p++;
  size_t n = strcspn(p, "\r\n");
  snprintf(out, cap, "%.*s", (int)n, p);
  chomp(out);
}

int source_open(struct mol_source *s, const char *path, const char *format, long long start, long long end,
                struct cb_errbuf *eb)
{
  memset(s, 0, sizeof *s);
  s->format = format;
  s->end = end;
  if (!source_is_blocks(format)) {
    s->ob = ob_open_at(path, format, start, eb);
    if (s->ob && !(s->scan = fopen(path, "rb"))) {
      source_close(s);
      cb_errf(eb, "cannot open the file");
      return -1;
    }
    return s->ob ? 0 : -1;
  }
  struct blocks *b = calloc(1, sizeof *b);
  if (!b || !(b->f = fopen(path, "rb"))) {
    free(b);
    cb_errf(eb, "cannot open the file");
    return -1;
  }
  b->rdf = !strcmp(format, "rdf") ? 1 : !strcmp(format, "rxn") ? 2 : 0;
  s->blocks = b;
  return 0;
}

/* A record of a format Open Babel streams, counted from its text before Open Babel reads
 * it: 0 within the bounds (or not counted), -1 with eb when past one (Open Babel goes on
 * after it). */
static int scan_next(struct mol_source *s, struct cb_errbuf *eb)
{
  long long off = ob_offset(s->ob);
  struct chem_counts c;
  if (off < 0 || (ftello(s->scan) != (off_t)off && fseeko(s->scan, (off_t)off, SEEK_SET)))
    return 0;
  if (bounds_scan_record(s->scan, s->format, &c) != 1 || !bounds_check(&c, eb))
    return 0;
  s->bound = 1;
  if (ob_seek(s->ob, (long long)ftello(s->scan)))
    fseeko(s->scan, 0, SEEK_END);
  return -1;
}

/* One more record read: 1 with eb when it is one past CARBOY_CHEM_MAX_RECORDS (an SD or
 * SMILES file was counted before; other formats stop here). */
static int too_many(struct mol_source *s, struct cb_errbuf *eb)
{
  char max[32];
  if (++s->records <= chem_bounds()->records)
    return 0;
  cb_errf(eb, "the file holds more than %s records, above CARBOY_CHEM_MAX_RECORDS",
          bounds_num(chem_bounds()->records, max, sizeof max));
  return 1;
}

int source_next(struct mol_source *s, ob_mol **mol, struct cb_errbuf *eb)
{
  *mol = NULL;
  s->block_name[0] = '\0';
  s->title[0] = '\0';
  s->bound = 0;
  if (s->ob) {
    if (s->end > 0 && ob_offset(s->ob) >= s->end)
      return 0;
    if (scan_next(s, eb))
      return too_many(s, eb) ? -2 : -1;
    int rc;
    /* what follows a PDB file's last ENDMDL (CONECT, MASTER, END) reads as one more model
     * without atoms: no record */
    while ((rc = ob_next(s->ob, mol, eb)) == 1 && !strcmp(s->format, "pdb") && ob_mol_atoms(*mol) == 0) {
      ob_mol_free(*mol);
      *mol = NULL;
    }
    if (rc != 0 && too_many(s, eb)) {
      ob_mol_free(*mol);
      *mol = NULL;
      return -2;
    }
    return rc;
  }
  struct blocks *b = s->blocks;
  int rc = b->rdf == 2 ? next_rxn(b) : b->rdf ? next_rdf(b) : next_cif(b);
  if (rc < 0) {
    cb_errf(eb, "out of memory reading the file");
    return 0;
  }
  if (rc == 0)
    return 0;
  if (too_many(s, eb))
    return -2;
  snprintf(s->block_name, sizeof s->block_name, "%s", b->name);
  struct chem_counts c;
  bounds_count_text(b->format, b->text ? b->text : "", b->len, &c, NULL);
  c.bytes = b->total;
  if (bounds_check(&c, eb)) {
    s->bound = 1;
    return -1;
  }
  if (!strcmp(b->format, "rxn"))
    rxn_name(b->text ? b->text : "", s->title, sizeof s->title);
  struct cb_errbuf e2 = {""};
  ob_mol *m = ob_mol_from_string(b->text ? b->text : "", b->format, &e2);
  if (!m) {
    /* e2 is cut to 255 bytes, as when it was a 256-byte buffer */
    cb_errf(eb, "this %s could not be read%s%.255s",
            !strcmp(b->format, "rxn") ? "reaction"
            : b->rdf                  ? "molecule"
                                      : "data block",
            e2.msg[0] ? ": " : "", e2.msg);
    return -1;
  }
  for (int i = 0; i < b->nfields; i++)
    ob_mol_set_field(m, b->fields[i].name, b->fields[i].value);
  if (!strcmp(b->format, "cif"))
    crystal_fix(m, b->text ? b->text : "", b->len);
  *mol = m;
  return 1;
}

const char *source_block(struct mol_source *s, size_t *len, const char **format)
{
  struct blocks *b = s->blocks;
  *len = 0;
  *format = "";
  if (!b || b->rdf || !b->text)
    return NULL;
  *len = b->len;
  *format = b->format;
  return b->text;
}

long long source_offset(struct mol_source *s)
{
  if (s->ob)
    return ob_offset(s->ob);
  return s->blocks ? s->blocks->offset : -1;
}

void source_close(struct mol_source *s)
{
  if (s->ob)
    ob_close(s->ob);
  if (s->scan)
    fclose(s->scan);
  if (s->blocks) {
    clear_fields(s->blocks);
    fclose(s->blocks->f);
    free(s->blocks->line);
    free(s->blocks->text);
    free(s->blocks);
  }
  memset(s, 0, sizeof *s);
}

long long source_boundary(FILE *f, const char *format, long long pos, long long size)
{
  if (pos <= 0)
    return 0;
  if (fseeko(f, (off_t)pos - 1, SEEK_SET))
    return size;
  /* from the byte before pos: a boundary at pos itself counts when a line ends there */
  int sdf = !strcmp(format, "sdf");
  char *line = NULL;
  size_t cap = 0;
  ssize_t n;
  long long off = pos - 1, found = size;
  int first = 1;
  while ((n = getline(&line, &cap, f)) > 0) {
    off += n;
    if (first) { /* the rest of the line pos falls in */
      first = 0;
      if (!sdf) {
        found = off;
        break;
      }
      continue;
    }
    if (!sdf || !strncmp(line, "$$$$", 4)) {
      found = off;
      break;
    }
  }
  free(line);
  return found < size ? found : size;
}
