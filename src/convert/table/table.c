/* Tables (CSV, TSV and other delimited text, and the sheets of XLSX and ODS workbooks):
 * dialect and header detection, column names and types, per-column statistics, a preview,
 * the cell text for search, and conversion to csv/tsv/json.
 *
 * Workbooks (read by sheets.c) are tables sheet by sheet, in workbook order: each sheet is
 * a record (its title the sheet's name) whose properties are the ones a CSV file gets (the
 * header from its first rows by the rule below, its columns, their types and statistics);
 * the text lists the sheets under their names; table_preview holds the first sheet's
 * preview, and every sheet's under "sheets"; a conversion writes one sheet (options.sheet,
 * from 1; the first by default), its rows padded to the sheet's width.
 *
 * Dialect: the first 64 KiB are parsed with each delimiter of , TAB ; | (RFC 4180 quoting
 * with ", or ' when only ' quotes cells); the delimiter giving the most consistent number
 * of cells per row wins (ties: the suffix's own, then , TAB ; |). The header is the first
 * row when, in the columns whose later cells are typed (numbers, booleans, dates), its
 * cells are not of that type; with only text columns, when its cells are all present and
 * appear nowhere else in their column in the sample.
 *
 * Memory is bounded whatever the file: it is read as a stream, one row at a time (a cell
 * may hold at most 1 MiB, a row 16 MiB: beyond that the file fails with the line number);
 * per column only counters, min/max/sum and a set of 64-bit hashes of distinct values that
 * stops growing at DISTINCT_CAP values (fewer when there are many columns).
 *
 * Values: trimmed of spaces; missing when empty or one of NA N/A n/a NaN nan NULL null
 * None #N/A; integer ([+-]digits), number (decimal, with exponent; with ; as delimiter a
 * decimal comma too), boolean (true/false/yes/no in any case), date (YYYY-MM-DD or
 * YYYY/MM/DD, optionally with a time THH:MM[:SS[.f]] and zone), else text. A column's type
 * is the narrowest one all its present values share (integers within number). */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "convert/converter.h"
#include "convert/office/office.h"
#include "convert/table/sheets.h"
#include "util/util.h"

#define SAMPLE_MAX (64u << 10)
#define SAMPLE_RECORDS 200
#define FIELD_MAX (1u << 20)
#define RECORD_MAX (16u << 20)
#define FIELDS_MAX 16384 /* cells of a row: as many columns as a spreadsheet has */
#define TEXT_MAX (16u << 20)
#define PREVIEW_ROWS 20
#define PREVIEW_CELL_MAX 4096  /* bytes of a cell shown */
#define PREVIEW_COLS 1000      /* cells of a row shown */
#define PREVIEW_MAX (2u << 20) /* no row is added past this size */
#define DISTINCT_CAP 10000
#define DISTINCT_BUDGET 2000000 /* hashes kept over all columns */
#define PROP_COLS 500           /* columns described by properties */
#define KEY_MAX 100             /* bytes of a column's key */
#define COLUMNS_TEXT_MAX (64u << 10)
#define NAMES_TEXT_MAX (64u << 10) /* the sheet_names property */
#define SAMPLE_ROWS 50             /* a sheet's first rows, for its header */

static const char *const csv_suffixes[] = {".csv", ".tsv", ".tab", ".psv", NULL};
/* delimited text, and the workbooks of sheets.c */
static const char *const suffixes[] = {".csv",  ".tsv",  ".tab", ".psv", ".xlsx", ".xlsm",
                                       ".xltx", ".xltm", ".ods", ".ots", NULL};
/* text formats of their own: never taken for tables */
static const char *const not_tables[] = {".json", ".jsonl", ".xml", ".html", ".htm",  ".md",  ".py",   ".c",
                                         ".h",    ".r",     ".tex", ".rst",  ".yaml", ".yml", ".ini",  ".log",
                                         ".sh",   ".js",    ".css", ".svg",  ".toml", ".cfg", ".conf", NULL};

/* ------------------------------------------------------------------ reading */

enum { ST_START, ST_UNQUOTED, ST_QUOTED, ST_QUOTE_IN_QUOTED };

struct reader {
  FILE *f;
  unsigned char buf[1 << 16];
  size_t pos, len;
  int eof;
  uint64_t consumed; /* bytes */
  uint64_t line;     /* the physical line being read, from 1 */
  char delim, quote;
  char comment;      /* lines starting with it are skipped (0: none) */
  uint64_t comments; /* lines skipped */
  /* the record just read: cells NUL-terminated in data at off[i], flen[i] bytes */
  char *data;
  size_t dlen, dcap;
  size_t *off, *flen;
  int nf, fcap;
  int quoted_any;   /* a cell of this record was quoted */
  int dropped;      /* cells beyond FIELDS_MAX in this record */
  uint64_t nquoted; /* cells that began with the quote character, over all records */
  char why[240];    /* the reason for an error */
};

static int refill(struct reader *r)
{
  if (r->eof)
    return 0;
  r->len = fread(r->buf, 1, sizeof r->buf, r->f);
  r->pos = 0;
  if (!r->len)
    r->eof = 1;
  return r->len > 0;
}

static int peek(struct reader *r)
{
  if (r->pos == r->len && !refill(r))
    return -1;
  return r->buf[r->pos];
}

static int reader_init(struct reader *r, FILE *f, char delim, char quote)
{
  r->pos = r->len = 0;
  r->eof = 0;
  r->consumed = 0;
  r->line = 1;
  r->f = f;
  r->delim = delim;
  r->quote = quote;
  r->dlen = r->dcap = 0;
  r->data = NULL;
  r->off = r->flen = NULL;
  r->nf = r->fcap = 0;
  r->nquoted = 0;
  r->comment = 0;
  r->comments = 0;
  r->why[0] = '\0';
  /* a UTF-8 byte order mark is not part of the first cell */
  if (peek(r) == 0xef && r->len - r->pos >= 3 && !memcmp(r->buf + r->pos, "\xef\xbb\xbf", 3)) {
    r->pos += 3;
    r->consumed += 3;
  }
  return 0;
}

static void reader_free(struct reader *r)
{
  free(r->data);
  free(r->off);
  free(r->flen);
  r->data = NULL;
  r->off = r->flen = NULL;
}

/* Room for two more bytes in the record. */
static int reserve(struct reader *r)
{
  if (r->dlen + 2 > r->dcap) {
    if (r->dcap >= RECORD_MAX) {
      snprintf(r->why, sizeof r->why, "the row on line %llu is longer than 16 MiB", (unsigned long long)r->line);
      return -1;
    }
    size_t cap = r->dcap ? r->dcap * 2 : 4096;
    char *nd = realloc(r->data, cap);
    if (!nd) {
      snprintf(r->why, sizeof r->why, "out of memory");
      return -1;
    }
    r->data = nd;
    r->dcap = cap;
  }
  return 0;
}

static int put_byte(struct reader *r, int c, size_t field_start, int quoted)
{
  if (r->dlen - field_start >= FIELD_MAX) {
    snprintf(r->why, sizeof r->why,
             quoted ? "a quoted cell that starts before line %llu is longer than 1 MiB: is a closing quote missing?"
                    : "a cell on line %llu is longer than 1 MiB",
             (unsigned long long)r->line);
    return -1;
  }
  if (reserve(r))
    return -1;
  r->data[r->dlen++] = (char)c;
  return 0;
}

static int end_field(struct reader *r, size_t start)
{
  if (reserve(r))
    return -1;
  if (r->nf >= FIELDS_MAX) { /* kept no further: forget its bytes */
    r->dropped++;
    r->dlen = start;
    return 0;
  }
  if (r->nf == r->fcap) {
    int cap = r->fcap ? r->fcap * 2 : 64;
    size_t *no = realloc(r->off, (size_t)cap * sizeof *no), *nl;
    if (!no)
      return -1;
    r->off = no;
    nl = realloc(r->flen, (size_t)cap * sizeof *nl);
    if (!nl)
      return -1;
    r->flen = nl;
    r->fcap = cap;
  }
  r->off[r->nf] = start;
  r->flen[r->nf] = r->dlen - start;
  r->data[r->dlen++] = '\0';
  r->nf++;
  return 0;
}

/* Reads one record: 1, 0 at the end, -1 on an error (r->why). Behaves as Python's csv
 * module does (not strict): a quote opens a quoted cell only at a cell's start; "" inside
 * is a quote; text after a closing quote is kept; CR, LF and CRLF end a record outside
 * quotes; an unterminated quote runs to the end of the file. */
static int read_record(struct reader *r)
{
  r->dlen = 0;
  r->nf = 0;
  r->quoted_any = 0;
  r->dropped = 0;
  int state = ST_START, started = 0;
  size_t start = 0;
  for (;;) {
    if (r->pos == r->len && !refill(r)) {
      if (!started)
        return 0;
      if (end_field(r, start))
        return -1;
      return 1;
    }
    int c = r->buf[r->pos++];
    r->consumed++;
    if (!started && c == r->comment && r->comment) { /* a comment line: skipped whole */
      int k;
      while ((k = peek(r)) >= 0 && k != '\n' && k != '\r') {
        if (!k) {
          snprintf(r->why, sizeof r->why, "binary data (a NUL byte) at byte %llu: not a text table",
                   (unsigned long long)r->consumed + 1);
          return -1;
        }
        r->pos++;
        r->consumed++;
      }
      if (k == '\r') {
        r->pos++;
        r->consumed++;
        k = peek(r);
      }
      if (k == '\n') {
        r->pos++;
        r->consumed++;
      }
      r->line++;
      r->comments++;
      continue;
    }
    started = 1;
    if (c == 0) {
      snprintf(r->why, sizeof r->why, "binary data (a NUL byte) at byte %llu: not a text table",
               (unsigned long long)r->consumed);
      return -1;
    }
    switch (state) {
    case ST_QUOTED:
      if (c == r->quote) {
        state = ST_QUOTE_IN_QUOTED;
        break;
      }
      if (c == '\n' || (c == '\r' && peek(r) != '\n'))
        r->line++;
      if (put_byte(r, c, start, 1))
        return -1;
      break;
    case ST_QUOTE_IN_QUOTED:
      if (c == r->quote) {
        state = ST_QUOTED;
        if (put_byte(r, c, start, 1))
          return -1;
        break;
      }
      /* the quote closed the cell's quoted part: the rest reads as unquoted (c is no quote,
       * so ST_START passes it straight on) */
      /* fall through */
    case ST_START:
      if (c == r->quote) {
        state = ST_QUOTED;
        r->quoted_any = 1;
        r->nquoted++;
        break;
      }
      state = ST_UNQUOTED;
      /* fall through */
    case ST_UNQUOTED:
      if (c == r->delim) {
        if (end_field(r, start))
          return -1;
        start = r->dlen;
        state = ST_START;
      } else if (c == '\n' || c == '\r') {
        if (c == '\r' && peek(r) == '\n') {
          r->pos++;
          r->consumed++;
        }
        r->line++;
        return end_field(r, start) ? -1 : 1;
      } else if (put_byte(r, c, start, 0)) {
        return -1;
      }
      break;
    }
  }
}

static int record_blank(const struct reader *r)
{
  return r->nf == 1 && r->flen[0] == 0 && !r->quoted_any;
}

/* ------------------------------------------------------------------ values */

enum vtype { V_MISSING, V_INT, V_NUM, V_BOOL, V_DATE, V_TEXT };
static const char *const type_names[] = {"empty", "integer", "number", "boolean", "date", "text"};

static int is_space(int c)
{
  return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v';
}

static void trim(const char **s, size_t *n)
{
  while (*n && is_space((unsigned char)**s)) {
    (*s)++;
    (*n)--;
  }
  while (*n && is_space((unsigned char)(*s)[*n - 1]))
    (*n)--;
}

static int is_digit(int c)
{
  return c >= '0' && c <= '9';
}

static int digits(const char *s, size_t n, size_t *i)
{
  size_t k = *i;
  while (*i < n && is_digit((unsigned char)s[*i]))
    (*i)++;
  return (int)(*i - k);
}

static int missing_token(const char *s, size_t n)
{
  static const char *const tokens[] = {"NA", "N/A", "n/a", "NaN", "nan", "NULL", "null", "None", "#N/A"};
  if (!n)
    return 1;
  for (size_t i = 0; i < sizeof tokens / sizeof tokens[0]; i++)
    if (strlen(tokens[i]) == n && !memcmp(s, tokens[i], n))
      return 1;
  return 0;
}

/* YYYY-MM-DD or YYYY/MM/DD, then optionally [T ]HH:MM[:SS[.fff]][Z|+HH[:]MM|-HH[:]MM] */
static int is_date(const char *s, size_t n)
{
  if (n < 10 || !is_digit(s[0]) || !is_digit(s[1]) || !is_digit(s[2]) || !is_digit(s[3]) ||
      (s[4] != '-' && s[4] != '/') || s[7] != s[4] || !is_digit(s[5]) || !is_digit(s[6]) || !is_digit(s[8]) ||
      !is_digit(s[9]))
    return 0;
  int mo = (s[5] - '0') * 10 + (s[6] - '0'), d = (s[8] - '0') * 10 + (s[9] - '0');
  if (mo < 1 || mo > 12 || d < 1 || d > 31)
    return 0;
  if (n == 10)
    return 1;
  size_t i = 10;
  if (s[i] != 'T' && s[i] != ' ')
    return 0;
  i++;
  if (i + 5 > n || !is_digit(s[i]) || !is_digit(s[i + 1]) || s[i + 2] != ':' || !is_digit(s[i + 3]) ||
      !is_digit(s[i + 4]))
    return 0;
  if ((s[i] - '0') * 10 + (s[i + 1] - '0') > 24 || s[i + 3] > '5')
    return 0;
  i += 5;
  if (i < n && s[i] == ':') {
    if (i + 3 > n || !is_digit(s[i + 1]) || !is_digit(s[i + 2]))
      return 0;
    i += 3;
    if (i < n && s[i] == '.') {
      i++;
      if (!digits(s, n, &i))
        return 0;
    }
  }
  if (i == n)
    return 1;
  if (s[i] == 'Z')
    return i + 1 == n;
  if (s[i] == '+' || s[i] == '-') {
    i++;
    if (digits(s, n, &i) != 2)
      return 0;
    if (i < n && s[i] == ':')
      i++;
    return i < n ? digits(s, n, &i) == 2 && i == n : 1;
  }
  return 0;
}

/* Classifies a cell (already trimmed). *num gets numbers. */
static enum vtype classify(const char *s, size_t n, int decimal_comma, double *num)
{
  if (missing_token(s, n))
    return V_MISSING;
  if (n > 64) /* no number or date is that long */
    return V_TEXT;
  char tmp[72];
  size_t i = 0;
  if (s[0] == '+' || s[0] == '-')
    i++;
  size_t intd = (size_t)digits(s, n, &i);
  if (intd && i == n) {
    memcpy(tmp, s, n);
    tmp[n] = '\0';
    errno = 0;
    long long v = strtoll(tmp, NULL, 10);
    if (!errno) {
      *num = (double)v;
      return V_INT;
    }
    *num = strtod(tmp, NULL);
    return isfinite(*num) ? V_NUM : V_TEXT;
  }
  /* decimal: digits [. digits] or . digits, then an optional exponent */
  size_t fracd = 0;
  int comma = 0;
  if (i < n && (s[i] == '.' || (decimal_comma && s[i] == ','))) {
    comma = s[i] == ',';
    i++;
    fracd = (size_t)digits(s, n, &i);
  }
  if (intd + fracd > 0 && (!comma || fracd > 0)) {
    if (i < n && (s[i] == 'e' || s[i] == 'E') && !comma) {
      i++;
      if (i < n && (s[i] == '+' || s[i] == '-'))
        i++;
      if (!digits(s, n, &i))
        i = n + 1; /* not a number */
    }
    if (i == n) {
      memcpy(tmp, s, n);
      tmp[n] = '\0';
      if (comma)
        *strchr(tmp, ',') = '.';
      *num = strtod(tmp, NULL);
      if (isfinite(*num))
        return V_NUM;
    }
  }
  if ((n == 4 && !strncasecmp(s, "true", 4)) || (n == 5 && !strncasecmp(s, "false", 5)) ||
      (n == 3 && !strncasecmp(s, "yes", 3)) || (n == 2 && !strncasecmp(s, "no", 2)))
    return V_BOOL;
  if (is_date(s, n))
    return V_DATE;
  return V_TEXT;
}

/* ------------------------------------------------------------------ columns */

struct column {
  char *key;                  /* unique, cleaned name */
  char *name;                 /* as in the header (valid UTF-8), or NULL */
  uint64_t count[6];          /* values by enum vtype */
  double min, max, sum, comp; /* numbers (Kahan summation) */
  char dmin[40], dmax[40];    /* dates, as written */
  uint64_t *set;              /* distinct values' hashes, open addressing, 0 = free */
  size_t set_cap, set_n;
  int capped;
};

static uint64_t hash64(const char *s, size_t n)
{
  uint64_t h = 1469598103934665603ull;
  for (size_t i = 0; i < n; i++) {
    h ^= (unsigned char)s[i];
    h *= 1099511628211ull;
  }
  h ^= h >> 33;
  h *= 0xff51afd7ed558ccdull;
  h ^= h >> 33;
  h *= 0xc4ceb9fe1a85ec53ull;
  h ^= h >> 33;
  return h ? h : 1;
}

/* Adds a value's hash to the column's set; past cap the set stops counting. */
static void distinct_add(struct column *c, uint64_t h, size_t cap)
{
  if (c->capped)
    return;
  if ((c->set_n + 1) * 4 > c->set_cap * 3) {
    size_t ncap = c->set_cap ? c->set_cap * 2 : 64;
    uint64_t *ns = calloc(ncap, sizeof *ns);
    if (!ns) {
      c->capped = 1;
      return;
    }
    for (size_t i = 0; i < c->set_cap; i++)
      if (c->set[i])
        for (size_t j = c->set[i] & (ncap - 1);; j = (j + 1) & (ncap - 1))
          if (!ns[j]) {
            ns[j] = c->set[i];
            break;
          }
    free(c->set);
    c->set = ns;
    c->set_cap = ncap;
  }
  for (size_t j = h & (c->set_cap - 1);; j = (j + 1) & (c->set_cap - 1)) {
    if (c->set[j] == h)
      return;
    if (!c->set[j]) {
      if (c->set_n >= cap) {
        c->capped = 1;
        free(c->set);
        c->set = NULL;
        c->set_cap = 0;
        return;
      }
      c->set[j] = h;
      c->set_n++;
      return;
    }
  }
}

static void column_add(struct column *c, const char *raw, size_t rawn, int decimal_comma, size_t cap, int distinct)
{
  const char *s = raw;
  size_t n = rawn;
  trim(&s, &n);
  double v = 0;
  enum vtype t = classify(s, n, decimal_comma, &v);
  c->count[t]++;
  if (t == V_MISSING)
    return;
  if (t == V_INT || t == V_NUM) {
    uint64_t k = c->count[V_INT] + c->count[V_NUM];
    if (k == 1 || v < c->min)
      c->min = v;
    if (k == 1 || v > c->max)
      c->max = v;
    double y = v - c->comp, s2 = c->sum + y;
    c->comp = (s2 - c->sum) - y;
    c->sum = s2;
  } else if (t == V_DATE && n < sizeof c->dmin) {
    char d[40];
    memcpy(d, s, n);
    d[n] = '\0';
    if (c->count[V_DATE] == 1 || strcmp(d, c->dmin) < 0)
      memcpy(c->dmin, d, n + 1);
    if (c->count[V_DATE] == 1 || strcmp(d, c->dmax) > 0)
      memcpy(c->dmax, d, n + 1);
  }
  if (distinct)
    distinct_add(c, hash64(raw, rawn), cap);
}

static enum vtype column_type(const struct column *c)
{
  uint64_t present = c->count[V_INT] + c->count[V_NUM] + c->count[V_BOOL] + c->count[V_DATE] + c->count[V_TEXT];
  if (!present)
    return V_MISSING;
  if (c->count[V_INT] == present)
    return V_INT;
  if (c->count[V_INT] + c->count[V_NUM] == present)
    return V_NUM;
  if (c->count[V_BOOL] == present)
    return V_BOOL;
  if (c->count[V_DATE] == present)
    return V_DATE;
  return V_TEXT;
}

/* ------------------------------------------------------------------ text out */

/* Appends s as valid UTF-8: ISO-8859-1 bytes transcoded when latin1, invalid sequences
 * replaced by U+FFFD otherwise; control characters become a space when flat. */
static void utf8_append(struct cb_buf *b, const char *s, size_t n, int latin1, int flat)
{
  size_t from = b->len;
  if (latin1) {
    cb_buf_latin1(b, s, n);
  } else {
    for (size_t i = 0; i < n;) {
      int k = cb_utf8_next(s + i, n - i, NULL);
      if (k > 0)
        cb_buf_append(b, s + i, (size_t)k);
      else
        cb_buf_append(b, "\xef\xbf\xbd", 3);
      i += k > 0 ? (size_t)k : 1;
    }
  }
  /* control characters are ASCII bytes, which UTF-8's longer sequences never hold */
  for (size_t i = from; flat && i < b->len; i++)
    if ((unsigned char)b->data[i] < 0x20 || b->data[i] == 0x7f)
      b->data[i] = ' ';
}

/* ------------------------------------------------------------------ dialect */

struct dialect {
  char delim, quote;
  char comment;
  const char *eol;
  int latin1;
  int has_header;
  int ncols;          /* the header's width, or the most common width */
  int nrec;           /* non-blank records in the sample */
  double consistency; /* share of the sample's records with mode cells */
  int mode;           /* the most common width */
};

struct width_stats {
  int nrec, mode, mode_n;
  int first; /* the first record's width */
  uint64_t nquoted;
};

static FILE *sample_file(const unsigned char *buf, size_t len)
{
  return len ? fmemopen((void *)buf, len, "rb") : NULL;
}

/* Widths of the sample's records with delimiter d and quote q. whole: the sample is the
 * whole file (else its last record may be cut and is left out). */
static void widths(const unsigned char *buf, size_t len, int whole, char d, char q, char comment,
                   struct width_stats *ws)
{
  memset(ws, 0, sizeof *ws);
  if (!len)
    return;
  FILE *f = sample_file(buf, len);
  if (!f)
    return;
  static struct reader r; /* large: not on the stack */
  reader_init(&r, f, d, q);
  r.comment = comment;
  int w[SAMPLE_RECORDS];
  int n = 0;
  while (n < SAMPLE_RECORDS) {
    int rc = read_record(&r);
    if (rc <= 0)
      break;
    if (!whole && r.pos == r.len && r.eof) /* ended by the sample's end: maybe cut */
      break;
    if (record_blank(&r))
      continue;
    w[n++] = r.nf + r.dropped;
  }
  ws->nquoted = r.nquoted;
  reader_free(&r);
  fclose(f);
  ws->nrec = n;
  ws->first = n ? w[0] : 0;
  for (int i = 0; i < n; i++) {
    int c = 0;
    for (int j = 0; j < n; j++)
      c += w[j] == w[i];
    if (c > ws->mode_n || (c == ws->mode_n && w[i] > ws->mode)) {
      ws->mode_n = c;
      ws->mode = w[i];
    }
  }
}

/* The share of records as wide as most are; a header one name short (R's write.table
 * with row names) does not count against it. */
static double consistency(const struct width_stats *ws)
{
  if (!ws->nrec)
    return 0;
  int n = ws->first == ws->mode - 1 && ws->nrec > 1 ? ws->nrec - 1 : ws->nrec;
  return (double)ws->mode_n / n;
}

static int has_suffix(const char *name, const char *suffix)
{
  return suffix_is(name, (const char *const[]){suffix, NULL});
}

/* The sample's first records (at most 50, non-blank) as cell arrays, for the header. */
struct sample_rows {
  int n;
  int width[50]; /* cells kept */
  int full[50];  /* cells in the record */
  char **cells[50];
};

static void sample_rows_free(struct sample_rows *s)
{
  for (int i = 0; i < s->n; i++) {
    for (int j = 0; j < s->width[i]; j++)
      free(s->cells[i][j]);
    free(s->cells[i]);
  }
  s->n = 0;
}

static void sample_rows_read(const unsigned char *buf, size_t len, int whole, const struct dialect *d,
                             struct sample_rows *s)
{
  memset(s, 0, sizeof *s);
  FILE *f = sample_file(buf, len);
  if (!f)
    return;
  static struct reader r;
  reader_init(&r, f, d->delim, d->quote);
  r.comment = d->comment;
  while (s->n < 50 && read_record(&r) > 0) {
    if (!whole && r.pos == r.len && r.eof)
      break;
    if (record_blank(&r))
      continue;
    int w = r.nf;
    s->cells[s->n] = calloc((size_t)w, sizeof(char *));
    s->full[s->n] = r.nf + r.dropped;
    if (!s->cells[s->n])
      break;
    for (int j = 0; j < w; j++)
      s->cells[s->n][j] = strndup(r.data + r.off[j], r.flen[j]);
    s->width[s->n++] = w;
  }
  reader_free(&r);
  fclose(f);
}

static enum vtype classify_cell(const char *cell, int decimal_comma)
{
  const char *s = cell;
  size_t n = strlen(cell);
  double v;
  trim(&s, &n);
  return classify(s, n, decimal_comma, &v);
}

static int detect_header(const struct sample_rows *s, int decimal_comma)
{
  if (s->n < 1)
    return 0;
  int w = s->width[0];
  if (s->n == 1) { /* one row: a header when every cell is present text */
    for (int j = 0; j < w; j++)
      if (classify_cell(s->cells[0][j], decimal_comma) != V_TEXT)
        return 0;
    return 1;
  }
  int votes = 0, typed = 0;
  for (int j = 0; j < w; j++) {
    uint64_t count[6] = {0};
    for (int i = 1; i < s->n; i++)
      if (j < s->width[i])
        count[classify_cell(s->cells[i][j], decimal_comma)]++;
    uint64_t present = count[V_INT] + count[V_NUM] + count[V_BOOL] + count[V_DATE] + count[V_TEXT];
    enum vtype h = classify_cell(s->cells[0][j], decimal_comma);
    if (!present || h == V_MISSING)
      continue;
    int numeric = count[V_INT] + count[V_NUM] == present;
    if (numeric || count[V_BOOL] == present || count[V_DATE] == present) {
      typed++;
      int same = numeric ? (h == V_INT || h == V_NUM) : count[V_BOOL] == present ? h == V_BOOL : h == V_DATE;
      votes += same ? -1 : 1;
    } else if (present >= 2) { /* text of one length throughout (codes, times): is the first row's? */
      size_t len = 0;
      int one = 1;
      for (int i = 1; i < s->n && one; i++)
        if (j < s->width[i] && classify_cell(s->cells[i][j], decimal_comma) != V_MISSING) {
          size_t l = strlen(s->cells[i][j]);
          one = !len || l == len;
          len = l;
        }
      if (one && len) {
        typed++;
        votes += strlen(s->cells[0][j]) == len ? -1 : 1;
      }
    }
  }
  if (typed)
    return votes > 0;
  /* only text: the first row is a header when its cells are present and recur nowhere
   * below in their columns */
  for (int j = 0; j < w; j++) {
    if (classify_cell(s->cells[0][j], decimal_comma) == V_MISSING)
      return 0;
    for (int i = 1; i < s->n; i++)
      if (j < s->width[i] && !strcmp(s->cells[i][j], s->cells[0][j]))
        return 0;
  }
  return 1;
}

/* Detects the dialect from the sample. Returns 0, or -1 when it is no text at all. */
static int detect(const unsigned char *buf, size_t len, int whole, const char *name, struct dialect *d)
{
  memset(d, 0, sizeof *d);
  d->delim = ',';
  d->quote = '"';
  d->eol = "none";
  if (memchr(buf, 0, len))
    return -1;
  /* text? valid UTF-8 (an end cut in the middle of a character aside), else mostly
   * printable bytes read as ISO-8859-1 */
  size_t check = len;
  for (size_t back = 1; !whole && back <= 3 && back <= len; back++) /* a last character cut off? */
    if (cb_utf8_next((const char *)buf + len - back, back, NULL) < 0) {
      check = len - back;
      break;
    }
  if (!cb_utf8_valid((const char *)buf, check)) {
    size_t ctl = 0;
    for (size_t i = 0; i < len; i++)
      if ((buf[i] < 0x20 && buf[i] != '\t' && buf[i] != '\n' && buf[i] != '\r') || buf[i] == 0x7f ||
          (buf[i] >= 0x80 && buf[i] < 0xa0))
        ctl++;
    if (ctl * 50 > len)
      return -1;
    d->latin1 = 1;
  }
  /* a file that starts with # has comment lines (R's comment.char) */
  size_t at = len >= 3 && !memcmp(buf, "\xef\xbb\xbf", 3) ? 3 : 0;
  if (at < len && buf[at] == '#')
    d->comment = '#';
  static const char cands[] = {',', '\t', ';', '|'};
  char pref[4];
  int np = 0;
  if (has_suffix(name, ".tsv") || has_suffix(name, ".tab"))
    pref[np++] = '\t';
  if (has_suffix(name, ".psv"))
    pref[np++] = '|';
  for (int i = 0; i < 4; i++)
    if (!memchr(pref, cands[i], (size_t)np))
      pref[np++] = cands[i];
  struct width_stats best = {0};
  double best_c = -1;
  for (int i = 0; i < 4; i++) {
    struct width_stats ws;
    widths(buf, len, whole, pref[i], '"', d->comment, &ws);
    double c = consistency(&ws);
    if (ws.mode < 2)
      c = 0; /* one cell a row says nothing about this delimiter */
    if (c > best_c + 1e-9) {
      best_c = c;
      best = ws;
      d->delim = pref[i];
    }
  }
  if (best_c <= 0) { /* one column (or nothing): the suffix's delimiter */
    d->delim = pref[0];
    widths(buf, len, whole, d->delim, '"', d->comment, &best);
    best_c = consistency(&best);
  }
  /* ' quotes only when " never does and ' does */
  struct width_stats sq;
  widths(buf, len, whole, d->delim, '\'', d->comment, &sq);
  double sqc = consistency(&sq);
  if (best.nquoted == 0 && sq.nquoted >= 2 && sqc >= best_c && sq.mode >= best.mode) {
    d->quote = '\'';
    best = sq;
    best_c = sqc;
  }
  d->nrec = best.nrec;
  d->mode = best.mode;
  d->consistency = best_c;
  d->ncols = best.mode;
  /* line ending: the first one outside quotes */
  int inq = 0;
  for (size_t i = 0; i < len; i++) {
    if (buf[i] == (unsigned char)d->quote)
      inq = !inq;
    else if (!inq && (buf[i] == '\n' || buf[i] == '\r')) {
      d->eol = buf[i] == '\n' ? "LF" : i + 1 < len && buf[i + 1] == '\n' ? "CRLF" : "CR";
      break;
    }
  }
  struct sample_rows s;
  sample_rows_read(buf, len, whole, d, &s);
  d->has_header = detect_header(&s, d->delim == ';');
  /* a header as wide as the rows, or one name short (R's write.table: row names) */
  if (d->has_header && s.n && d->mode >= 2 && s.full[0] != d->mode && s.full[0] != d->mode - 1)
    d->has_header = 0;
  if (d->has_header && s.n && s.full[0] > d->ncols)
    d->ncols = s.full[0];
  sample_rows_free(&s);
  if (d->ncols < 1)
    d->ncols = 1;
  return 0;
}

static int sniff(const unsigned char *head, size_t len, const struct cb_convert_input *in)
{
  if (sheets_container(head, len))
    return sheets_sniff(head, len, in->name);
  if (!len || suffix_is(in->name, not_tables) || suffix_is(in->name, sheets_suffixes))
    return 0;
  int ours = suffix_is(in->name, csv_suffixes);
  if (!ours && in->mime && *in->mime && strncmp(in->mime, "text/", 5) && strcmp(in->mime, "application/csv") &&
      strcmp(in->mime, "application/octet-stream"))
    return 0; /* libmagic knows it as something else */
  struct dialect d;
  int whole = in->size <= len;
  if (detect(head, len, whole, in->name, &d))
    return ours ? 20 : 0; /* binary named .csv: unless another converter knows it, it fails as no table */
  int table = d.mode >= 2 && d.consistency >= 0.8;
  if (ours)
    return table ? 60 : 52; /* a broken CSV is still reported as a table (rows_inconsistent) */
  /* other names: only a clearly consistent table */
  if (d.mode >= 2 && d.consistency >= 0.95 && (d.nrec >= 3 || (whole && d.nrec >= 2)))
    return 62;
  return 0;
}

/* ------------------------------------------------------------------ scanning */

struct table {
  struct dialect d;
  struct reader *r;
  FILE *f;
  int ncols; /* columns with statistics */
  struct column *cols;
  uint64_t rows, inconsistent, blank;
  size_t cap; /* distinct values counted per column */
};

static const char *delim_name(char c)
{
  return c == '\t' ? "\t" : c == ';' ? ";" : c == '|' ? "|" : ",";
}

static cb_err table_open(const struct cb_convert_input *in, struct table *t, struct cb_errbuf *eb)
{
  memset(t, 0, sizeof *t);
  FILE *f = fopen(in->path, "rb");
  if (!f) {
    cb_errf(eb, "cannot open the file");
    return CB_EIO;
  }
  unsigned char *head = malloc(SAMPLE_MAX);
  size_t len = head ? fread(head, 1, SAMPLE_MAX, f) : 0;
  int whole = head && (len < SAMPLE_MAX || fgetc(f) == EOF);
  int bad = !head || !len || detect(head, len, whole, in->name, &t->d);
  free(head);
  if (bad || !len) {
    fclose(f);
    cb_errf(eb, !len ? "the file is empty" : "binary data: not a text table");
    return CB_EINVAL;
  }
  rewind(f);
  t->f = f;
  t->r = malloc(sizeof *t->r);
  if (!t->r) {
    fclose(f);
    return CB_ENOMEM;
  }
  reader_init(t->r, f, t->d.delim, t->d.quote);
  t->r->comment = t->d.comment;
  t->ncols = t->d.ncols < FIELDS_MAX ? t->d.ncols : FIELDS_MAX;
  t->cols = calloc((size_t)t->ncols, sizeof *t->cols);
  if (!t->cols) {
    reader_free(t->r);
    free(t->r);
    fclose(f);
    return CB_ENOMEM;
  }
  t->cap = DISTINCT_BUDGET / (size_t)t->ncols;
  if (t->cap > DISTINCT_CAP)
    t->cap = DISTINCT_CAP;
  if (t->cap < 100)
    t->cap = 100;
  return CB_OK;
}

static void table_close(struct table *t)
{
  for (int i = 0; t->cols && i < t->ncols; i++) {
    free(t->cols[i].key);
    free(t->cols[i].name);
    free(t->cols[i].set);
  }
  free(t->cols);
  if (t->r) {
    reader_free(t->r);
    free(t->r);
  }
  if (t->f)
    fclose(t->f);
  memset(t, 0, sizeof *t);
}

/* Keys: the header's names, trimmed, control characters replaced, at most KEY_MAX bytes;
 * empty ones become column_N, repeated ones get _2, _3, ... */
static void make_keys(struct table *t)
{
  for (int i = 0; i < t->ncols; i++) {
    struct column *c = &t->cols[i];
    struct cb_buf b = {0};
    if (c->name) {
      const char *s = c->name;
      size_t n = strlen(s);
      trim(&s, &n);
      utf8_append(&b, s, n, 0, 1);
      if (b.len > KEY_MAX) { /* cut at a character boundary */
        size_t k = KEY_MAX;
        while (k > 0 && ((unsigned char)b.data[k] & 0xc0) == 0x80)
          k--;
        b.data[k] = '\0';
        b.len = k;
      }
    }
    if (!b.len)
      cb_buf_printf(&b, "column_%d", i + 1);
    size_t base = b.len;
    for (int k = 2;; k++) {
      int dup = 0;
      for (int j = 0; j < i && !dup; j++)
        dup = !strcmp(t->cols[j].key, b.data);
      if (!dup)
        break;
      b.data[base] = '\0';
      b.len = base;
      cb_buf_printf(&b, "_%d", k);
    }
    c->key = cb_buf_steal(&b);
  }
}

typedef int (*row_fn)(struct table *t, int header, void *ctx);

/* Reads every record: the header names the columns; each row feeds the statistics
 * (distinct values when distinct) and then fn. */
static cb_err table_scan(const struct cb_convert_input *in, struct table *t, int distinct, row_fn fn, void *ctx,
                         cb_progress_fn progress, void *pctx, struct cb_errbuf *eb)
{
  struct reader *r = t->r;
  int first = 1, rc;
  int dc = t->d.delim == ';';
  while ((rc = read_record(r)) > 0) {
    if (record_blank(r)) {
      t->blank++;
      continue;
    }
    if (first && t->d.has_header) {
      first = 0;
      int shift = r->nf + r->dropped == t->d.ncols - 1; /* R's row names have no name */
      for (int i = 0; i + shift < t->ncols && i < r->nf; i++) {
        struct cb_buf b = {0};
        utf8_append(&b, r->data + r->off[i], r->flen[i], t->d.latin1, 0);
        t->cols[i + shift].name = b.data ? cb_buf_steal(&b) : strdup("");
      }
      make_keys(t);
      if (fn && fn(t, 1, ctx))
        goto stopped;
      continue;
    }
    if (first) {
      first = 0;
      make_keys(t);
    }
    t->rows++;
    if (r->nf + r->dropped != t->d.ncols)
      t->inconsistent++;
    for (int i = 0; i < t->ncols; i++) {
      if (i < r->nf)
        column_add(&t->cols[i], r->data + r->off[i], r->flen[i], dc, t->cap, distinct);
      else
        t->cols[i].count[V_MISSING]++;
    }
    if (fn && fn(t, 0, ctx))
      goto stopped;
    if ((t->rows & 1023) == 0 && in->size)
      progress(pctx, (double)r->consumed / (double)in->size);
  }
  if (first)
    make_keys(t);
  if (rc < 0) {
    cb_errf(eb, "%s", r->why);
    return CB_EINVAL;
  }
  if (ferror(t->f)) {
    cb_errf(eb, "reading the file failed");
    return CB_EIO;
  }
  return CB_OK;
stopped:
  cb_errf(eb, "%s", r->why[0] ? r->why : "writing the output failed");
  return CB_EIO;
}

/* ------------------------------------------------------------------ extract */

struct extract_ctx {
  FILE *text;
  uint64_t written;
  int text_full;
  struct cb_buf preview; /* JSON rows */
  int preview_rows;
  struct cb_buf line;
};

static int extract_row(struct table *t, int header, void *ctx)
{
  struct extract_ctx *x = ctx;
  struct reader *r = t->r;
  if (!x->text_full) {
    cb_buf_reset(&x->line);
    for (int i = 0; i < r->nf; i++) {
      if (i)
        cb_buf_append(&x->line, "\t", 1);
      utf8_append(&x->line, r->data + r->off[i], r->flen[i], t->d.latin1, 1);
    }
    cb_buf_append(&x->line, "\n", 1);
    if (x->written + x->line.len > TEXT_MAX) {
      x->text_full = 1;
    } else {
      if (fwrite(x->line.data, 1, x->line.len, x->text) != x->line.len)
        return -1;
      x->written += x->line.len;
    }
  }
  if (!header && x->preview_rows < PREVIEW_ROWS && x->preview.len < PREVIEW_MAX) {
    cb_buf_append(&x->preview, x->preview_rows ? ",[" : "[", x->preview_rows ? 2 : 1);
    for (int i = 0; i < r->nf && i < PREVIEW_COLS; i++) {
      struct cb_buf cell = {0};
      size_t n = r->flen[i] > PREVIEW_CELL_MAX ? PREVIEW_CELL_MAX : r->flen[i];
      utf8_append(&cell, r->data + r->off[i], n, t->d.latin1, 0);
      if (i)
        cb_buf_append(&x->preview, ",", 1);
      cb_buf_json_string(&x->preview, cell.data ? cell.data : "");
      cb_buf_free(&cell);
    }
    cb_buf_append(&x->preview, "]", 1);
    x->preview_rows++;
  }
  return 0;
}

static void prop_col(cJSON *result, const struct column *c, const char *stat, double v, const char *text)
{
  char name[KEY_MAX + 64];
  snprintf(name, sizeof name, "column.%s.%s", c->key, stat);
  if (text)
    result_prop_text(result, name, text, NULL, NULL);
  else
    result_prop_num(result, name, v, NULL, NULL);
}

/* What every table gets (a CSV file, a workbook's sheet): header, counts, the columns'
 * names, and per column its type and statistics, into o's properties. */
static void table_props(cJSON *o, const struct table *t)
{
  result_prop_text(o, "has_header", t->d.has_header ? "true" : "false", NULL, NULL);
  result_prop_num(o, "row_count", (double)t->rows, NULL, NULL);
  result_prop_num(o, "column_count", (double)t->d.ncols, NULL, NULL);
  struct cb_buf names = {0};
  for (int i = 0; i < t->ncols && names.len < COLUMNS_TEXT_MAX; i++)
    cb_buf_printf(&names, "%s%s", i ? "\t" : "", t->cols[i].key);
  result_prop_text(o, "columns", names.data ? names.data : "", NULL, NULL);
  cb_buf_free(&names);
  if (t->ncols > PROP_COLS)
    result_prop_num(o, "column_stats_limit", PROP_COLS, NULL, NULL);
  for (int i = 0; i < t->ncols && i < PROP_COLS; i++) {
    const struct column *c = &t->cols[i];
    enum vtype ty = column_type(c);
    prop_col(o, c, "type", 0, type_names[ty]);
    prop_col(o, c, "empty", (double)c->count[V_MISSING], NULL);
    prop_col(o, c, "distinct", (double)(c->capped ? t->cap : c->set_n), NULL);
    if (c->capped)
      prop_col(o, c, "distinct_capped", 0, "true");
    if (ty == V_INT || ty == V_NUM) {
      uint64_t k = c->count[V_INT] + c->count[V_NUM];
      prop_col(o, c, "min", c->min, NULL);
      prop_col(o, c, "max", c->max, NULL);
      prop_col(o, c, "mean", c->sum / (double)k, NULL);
    } else if (ty == V_DATE) {
      prop_col(o, c, "min", 0, c->dmin);
      prop_col(o, c, "max", 0, c->dmax);
    }
  }
}

/* A table's preview members: "has_header", "columns" (keys), "types", "rows" (rows: the
 * JSON arrays the extract collected, comma-separated). */
static void preview_members(struct cb_buf *pv, const struct table *t, const char *rows)
{
  cb_buf_printf(pv, "\"has_header\":%s,\"columns\":[", t->d.has_header ? "true" : "false");
  for (int i = 0; i < t->ncols; i++) {
    if (i)
      cb_buf_append(pv, ",", 1);
    cb_buf_json_string(pv, t->cols[i].key);
  }
  cb_buf_printf(pv, "],\"types\":[");
  for (int i = 0; i < t->ncols; i++)
    cb_buf_printf(pv, "%s\"%s\"", i ? "," : "", type_names[column_type(&t->cols[i])]);
  cb_buf_printf(pv, "],\"rows\":[%s]", rows ? rows : "");
}

static cb_err write_file(const char *path, const struct cb_buf *b, const char *what, struct cb_errbuf *eb)
{
  FILE *f = fopen(path, "wb");
  int bad = !f || !b->data || fwrite(b->data, 1, b->len, f) != b->len;
  if (f && fclose(f))
    bad = 1;
  if (bad)
    cb_errf(eb, "cannot write the %s", what);
  return bad ? CB_EIO : CB_OK;
}

static cb_err csv_extract(const struct cb_convert_input *in, cJSON *result, cb_progress_fn progress, void *pctx,
                          struct cb_errbuf *eb)
{
  struct table t;
  cb_err e = table_open(in, &t, eb);
  if (e)
    return e;
  char textpath[4200], prevpath[4200];
  snprintf(textpath, sizeof textpath, "%s/text.txt", in->workdir);
  snprintf(prevpath, sizeof prevpath, "%s/preview.json", in->workdir);
  struct extract_ctx x = {0};
  x.text = fopen(textpath, "wb");
  if (!x.text) {
    cb_errf(eb, "cannot write the text artifact");
    e = CB_EIO;
    goto out;
  }
  if ((e = table_scan(in, &t, 1, extract_row, &x, progress, pctx, eb)))
    goto out;
  if (fclose(x.text)) {
    x.text = NULL;
    cb_errf(eb, "cannot write the text artifact");
    e = CB_EIO;
    goto out;
  }
  x.text = NULL;
  /* the preview: {"delimiter", "has_header", "columns":[keys], "types":[...], "rows":[[cells]]} */
  struct cb_buf pv = {0};
  cb_buf_printf(&pv, "{\"delimiter\":");
  cb_buf_json_string(&pv, delim_name(t.d.delim));
  cb_buf_append(&pv, ",", 1);
  preview_members(&pv, &t, x.preview.data);
  cb_buf_puts(&pv, "}\n");
  e = write_file(prevpath, &pv, "preview", eb);
  cb_buf_free(&pv);
  if (e)
    goto out;

  cJSON_AddStringToObject(result, "kind", "table");
  result_prop_text(result, "delimiter", delim_name(t.d.delim), NULL, NULL);
  result_prop_text(result, "quote_char", t.d.quote == '\'' ? "'" : "\"", NULL, NULL);
  result_prop_text(result, "line_ending", t.d.eol, NULL, NULL);
  result_prop_text(result, "encoding", t.d.latin1 ? "ISO-8859-1" : "UTF-8", NULL, NULL);
  result_prop_num(result, "rows_inconsistent", (double)t.inconsistent, NULL, NULL);
  if (t.r->comments)
    result_prop_num(result, "comment_lines", (double)t.r->comments, NULL, NULL);
  if (x.text_full)
    result_prop_text(result, "text_truncated", "true", NULL, NULL);
  table_props(result, &t);
  result_artifact(result, "text", "text/plain; charset=utf-8", textpath);
  result_artifact(result, "table_preview", "application/json", prevpath);
  progress(pctx, 1.0);
out:
  if (x.text)
    fclose(x.text);
  cb_buf_free(&x.preview);
  cb_buf_free(&x.line);
  table_close(&t);
  return e;
}

/* ------------------------------------------------------------------ convert */

struct convert_ctx {
  const char *to;
  FILE *out;
  enum vtype *types; /* json: the columns' types from a first pass */
  uint64_t rows;
  struct cb_buf line;
};

static void csv_cell(struct cb_buf *b, const char *s, size_t n, int latin1, int lone)
{
  int q = lone && n == 0; /* a row of one empty cell is not a blank line */
  for (size_t i = 0; i < n && !q; i++)
    q = s[i] == ',' || s[i] == '"' || s[i] == '\r' || s[i] == '\n';
  if (!q) {
    utf8_append(b, s, n, latin1, 0);
    return;
  }
  cb_buf_append(b, "\"", 1);
  for (size_t i = 0; i < n;) {
    const char *qq = memchr(s + i, '"', n - i);
    size_t k = qq ? (size_t)(qq - (s + i)) : n - i;
    utf8_append(b, s + i, k, latin1, 0);
    i += k;
    if (qq) {
      cb_buf_append(b, "\"\"", 2);
      i++;
    }
  }
  cb_buf_append(b, "\"", 1);
}

/* JSON number text for a numeric cell: the cell itself when JSON's grammar allows it. */
static void json_number(struct cb_buf *b, const char *s, size_t n, int dc)
{
  trim(&s, &n);
  size_t i = 0;
  int ok = 1;
  if (i < n && s[i] == '-')
    i++;
  if (i < n && s[i] == '0')
    i++;
  else if (i < n && s[i] >= '1' && s[i] <= '9')
    digits(s, n, &i);
  else
    ok = 0;
  if (ok && i < n && s[i] == '.') {
    i++;
    ok = digits(s, n, &i) > 0;
  }
  if (ok && i < n && (s[i] == 'e' || s[i] == 'E')) {
    i++;
    if (i < n && (s[i] == '+' || s[i] == '-'))
      i++;
    ok = digits(s, n, &i) > 0;
  }
  if (ok && i == n) {
    cb_buf_append(b, s, n);
    return;
  }
  double v = 0;
  classify(s, n, dc, &v);
  char tmp[40];
  snprintf(tmp, sizeof tmp, "%.15g", v);
  if (strtod(tmp, NULL) != v)
    snprintf(tmp, sizeof tmp, "%.17g", v);
  cb_buf_puts(b, tmp);
}

static void json_cell(struct cb_buf *b, const char *raw, size_t rawn, enum vtype col, int latin1, int dc)
{
  const char *s = raw;
  size_t n = rawn;
  trim(&s, &n);
  double v;
  enum vtype t = classify(s, n, dc, &v);
  if (t == V_MISSING) { /* one rule for every column: what counts as missing is null */
    cb_buf_puts(b, "null");
  } else if ((col == V_INT || col == V_NUM) && (t == V_INT || t == V_NUM)) {
    json_number(b, s, n, dc);
  } else if (col == V_BOOL && t == V_BOOL) {
    cb_buf_puts(b, s[0] == 't' || s[0] == 'T' || s[0] == 'y' || s[0] == 'Y' ? "true" : "false");
  } else {
    struct cb_buf u = {0};
    utf8_append(&u, raw, rawn, latin1, 0);
    cb_buf_json_string(b, u.data ? u.data : "");
    cb_buf_free(&u);
  }
}

static int convert_row(struct table *t, int header, void *ctx)
{
  struct convert_ctx *x = ctx;
  struct reader *r = t->r;
  struct cb_buf *b = &x->line;
  cb_buf_reset(b);
  if (!strcmp(x->to, "csv")) {
    for (int i = 0; i < r->nf; i++) {
      if (i)
        cb_buf_append(b, ",", 1);
      csv_cell(b, r->data + r->off[i], r->flen[i], t->d.latin1, r->nf == 1);
    }
    cb_buf_append(b, "\r\n", 2);
  } else if (!strcmp(x->to, "tsv")) {
    for (int i = 0; i < r->nf; i++) {
      if (i)
        cb_buf_append(b, "\t", 1);
      size_t start = b->len;
      utf8_append(b, r->data + r->off[i], r->flen[i], t->d.latin1, 0);
      for (size_t k = start; k < b->len; k++)
        if (b->data[k] == '\t' || b->data[k] == '\n' || b->data[k] == '\r')
          b->data[k] = ' ';
    }
    cb_buf_append(b, "\n", 1);
  } else { /* json */
    if (header)
      return 0;
    int dc = t->d.delim == ';';
    cb_buf_puts(b, x->rows ? ",\n" : "\n");
    int width = r->nf > t->ncols ? r->nf : t->ncols;
    cb_buf_puts(b, t->d.has_header ? "{" : "[");
    for (int i = 0; i < width; i++) {
      if (i)
        cb_buf_append(b, ",", 1);
      if (t->d.has_header) {
        if (i < t->ncols) {
          cb_buf_json_string(b, t->cols[i].key);
        } else {
          char k[32];
          snprintf(k, sizeof k, "column_%d", i + 1);
          cb_buf_json_string(b, k);
        }
        cb_buf_append(b, ":", 1);
      }
      if (i < r->nf)
        json_cell(b, r->data + r->off[i], r->flen[i], i < t->ncols ? x->types[i] : V_TEXT, t->d.latin1, dc);
      else
        cb_buf_puts(b, "null");
    }
    cb_buf_puts(b, t->d.has_header ? "}" : "]");
    x->rows++;
  }
  if (b->len && fwrite(b->data, 1, b->len, x->out) != b->len) {
    snprintf(r->why, sizeof r->why, "writing the output failed");
    return -1;
  }
  return 0;
}

static cb_err csv_convert(const struct cb_convert_input *in, const char *to, const char *outpath, cJSON *result,
                          cb_progress_fn progress, void *pctx, struct cb_errbuf *eb)
{
  struct table t;
  struct convert_ctx x = {.to = to};
  cb_err e;
  if (!strcmp(to, "json")) { /* a first pass for the columns' types */
    if ((e = table_open(in, &t, eb)))
      return e;
    e = table_scan(in, &t, 0, NULL, NULL, progress, pctx, eb);
    if (!e) {
      x.types = calloc((size_t)t.ncols + 1, sizeof *x.types);
      for (int i = 0; x.types && i < t.ncols; i++)
        x.types[i] = column_type(&t.cols[i]);
      if (!x.types)
        e = CB_ENOMEM;
    }
    table_close(&t);
    if (e)
      goto out;
  }
  if ((e = table_open(in, &t, eb)))
    goto out;
  x.out = fopen(outpath, "wb");
  if (!x.out) {
    cb_errf(eb, "cannot write the output");
    e = CB_EIO;
    goto done;
  }
  if (!strcmp(to, "json"))
    fputs("[", x.out);
  e = table_scan(in, &t, 0, convert_row, &x, progress, pctx, eb);
  if (!strcmp(to, "json"))
    fputs(x.rows ? "\n]\n" : "]\n", x.out);
  if (fclose(x.out) && !e) {
    cb_errf(eb, "writing the output failed");
    e = CB_EIO;
  }
  if (!e)
    cJSON_AddStringToObject(result, "media_type",
                            !strcmp(to, "json")  ? "application/json"
                            : !strcmp(to, "tsv") ? "text/tab-separated-values; charset=utf-8"
                                                 : "text/csv; charset=utf-8");
done:
  table_close(&t);
out:
  free(x.types);
  cb_buf_free(&x.line);
  return e;
}

/* ------------------------------------------------------------------ workbooks */

/* A sheet read as a table. Its first SAMPLE_ROWS rows wait in the sample until the header
 * is decided (by detect_header, as a CSV's); then every row goes through the statistics
 * and fn, the columns growing with the widest row. */
struct sheet_table {
  struct table t;
  row_fn fn; /* what each row is for (text and preview, output), or NULL */
  void *ctx;
  int decided, first;
  struct sample_rows s;
  int oom;
};

/* Loads a row's cells into the reader's record, padded with empty cells to width. */
static int row_load(struct reader *r, const char *const *cells, const size_t *lens, int n, int width)
{
  r->dlen = 0;
  r->nf = r->dropped = r->quoted_any = 0;
  for (int i = 0; i < (n > width ? n : width); i++) {
    size_t k = i < n ? lens[i] : 0, start = r->dlen;
    if (cb_reserve(&r->data, &r->dcap, r->dlen + k + 2, 4096))
      return -1;
    if (k)
      memcpy(r->data + r->dlen, cells[i], k);
    r->dlen += k;
    if (end_field(r, start))
      return -1;
  }
  return 0;
}

/* Room for n columns (what a row lacks is counted missing when the sheet ends). */
static int cols_grow(struct table *t, int n)
{
  if (n <= t->ncols)
    return 0;
  struct column *nc = realloc(t->cols, (size_t)n * sizeof *nc);
  if (!nc)
    return -1;
  memset(nc + t->ncols, 0, (size_t)(n - t->ncols) * sizeof *nc);
  t->cols = nc;
  t->ncols = n;
  return 0;
}

static int sheet_take(struct sheet_table *st, const char *const *cells, const size_t *lens, int n)
{
  struct table *t = &st->t;
  struct reader *r = t->r;
  int header = st->first && t->d.has_header;
  st->first = 0;
  if (row_load(r, cells, lens, n, 0) || cols_grow(t, r->nf)) {
    st->oom = 1;
    return -1;
  }
  if (header) {
    for (int i = 0; i < r->nf; i++) {
      struct cb_buf b = {0};
      utf8_append(&b, r->data + r->off[i], r->flen[i], 0, 0);
      t->cols[i].name = b.data ? cb_buf_steal(&b) : strdup("");
    }
  } else {
    t->rows++; /* cost by the cells a row has: a sparse sheet's wide rows are no loop */
    for (int i = 0; i < r->nf; i++)
      column_add(&t->cols[i], r->data + r->off[i], r->flen[i], 0, t->cap, 1);
  }
  return st->fn ? st->fn(t, header, st->ctx) : 0;
}

/* Decides the header from the sample, then lets the sample's rows through. */
static int sheet_decide(struct sheet_table *st)
{
  struct table *t = &st->t;
  int widest = 1, rc = 0;
  for (int i = 0; i < st->s.n; i++)
    widest = st->s.width[i] > widest ? st->s.width[i] : widest;
  t->d.has_header = detect_header(&st->s, 0);
  t->cap = DISTINCT_BUDGET / (size_t)widest;
  t->cap = t->cap > DISTINCT_CAP ? DISTINCT_CAP : t->cap < 100 ? 100 : t->cap;
  st->decided = st->first = 1;
  for (int i = 0; i < st->s.n && !rc; i++) {
    static size_t lens[FIELDS_MAX]; /* the worker is one thread */
    for (int j = 0; j < st->s.width[i]; j++)
      lens[j] = strlen(st->s.cells[i][j]);
    rc = sheet_take(st, (const char *const *)st->s.cells[i], lens, st->s.width[i]);
  }
  sample_rows_free(&st->s);
  return rc;
}

static int sheet_row(void *ctx, const char *const *cells, const size_t *lens, int n)
{
  struct sheet_table *st = ctx;
  if (st->decided)
    return sheet_take(st, cells, lens, n);
  struct sample_rows *s = &st->s;
  int w = n < FIELDS_MAX ? n : FIELDS_MAX;
  s->cells[s->n] = calloc((size_t)w + 1, sizeof(char *));
  if (!s->cells[s->n]) {
    st->oom = 1;
    return -1;
  }
  s->width[s->n] = s->full[s->n] = w;
  s->n++;
  for (int j = 0; j < w; j++)
    if (!(s->cells[s->n - 1][j] = strndup(cells[j], lens[j]))) {
      s->width[s->n - 1] = j;
      st->oom = 1;
      return -1;
    }
  return s->n < SAMPLE_ROWS ? 0 : sheet_decide(st);
}

/* A sheet's table from nothing (the reader kept). */
static void sheet_reset(struct sheet_table *st)
{
  struct reader *r = st->t.r;
  st->t.r = NULL;
  table_close(&st->t);
  sample_rows_free(&st->s);
  st->t.r = r;
  st->t.d.delim = ',';
  st->t.d.quote = '"';
  st->t.d.eol = "none";
  st->decided = st->first = st->oom = 0;
}

/* The sheet is read: the header is decided (a short sheet), the columns named; a row's
 * cell a column lacks is missing there. */
static int sheet_finish(struct sheet_table *st)
{
  if (!st->decided && sheet_decide(st))
    return -1;
  for (int i = 0; i < st->t.ncols; i++) {
    struct column *c = &st->t.cols[i];
    c->count[V_MISSING] = st->t.rows -
                          (c->count[V_INT] + c->count[V_NUM] + c->count[V_BOOL] + c->count[V_DATE] + c->count[V_TEXT]);
  }
  st->t.d.ncols = st->t.ncols;
  make_keys(&st->t);
  return 0;
}

static int sheet_init(struct sheet_table *st)
{
  memset(st, 0, sizeof *st);
  st->t.r = calloc(1, sizeof *st->t.r);
  sheet_reset(st);
  return st->t.r ? 0 : -1;
}

static void sheet_free(struct sheet_table *st)
{
  if (st->t.r) {
    reader_free(st->t.r);
    free(st->t.r);
    st->t.r = NULL;
  }
  table_close(&st->t);
  sample_rows_free(&st->s);
}

/* The workbook's document properties (office.c), its sheets, and, per sheet, a record, a
 * part of the text and of the preview. */
struct book_extract {
  struct sheet_table st; /* first: the sink's row function (sheet_row) takes the same ctx */
  struct workbook *wb;
  struct extract_ctx x;
  FILE *records;
  struct cb_buf sheets; /* the preview's "sheets" entries */
  struct cb_buf first;  /* the first sheet's preview members */
  cb_progress_fn progress;
  void *pctx;
  int failed; /* writing failed */
};

static void text_put(struct extract_ctx *x, const char *s, size_t n)
{
  if (x->text_full || x->written + n > TEXT_MAX) {
    x->text_full = 1;
    return;
  }
  if (fwrite(s, 1, n, x->text) == n)
    x->written += n;
}

static int book_begin(void *ctx, int sheet)
{
  struct book_extract *be = ctx;
  be->progress(be->pctx, (double)sheet / (double)workbook_sheets(be->wb));
  sheet_reset(&be->st);
  /* the text lists each sheet under its name */
  const char *name = workbook_sheet_name(be->wb, sheet);
  struct cb_buf b = {0};
  cb_buf_puts(&b, sheet ? "\n" : "");
  utf8_append(&b, name, strlen(name), 0, 1);
  cb_buf_puts(&b, "\n");
  if (b.data)
    text_put(&be->x, b.data, b.len);
  cb_buf_free(&b);
  cb_buf_reset(&be->x.preview);
  be->x.preview_rows = be->sheets.len > PREVIEW_MAX ? PREVIEW_ROWS : 0; /* past the budget: no rows */
  return 0;
}

static int book_end(void *ctx, int sheet)
{
  struct book_extract *be = ctx;
  struct table *t = &be->st.t;
  if (sheet_finish(&be->st))
    return -1;
  const char *name = workbook_sheet_name(be->wb, sheet);
  cJSON *rec = cJSON_CreateObject();
  cJSON_AddStringToObject(rec, "title", name);
  table_props(rec, t);
  char *line = cJSON_PrintUnformatted(rec);
  cJSON_Delete(rec);
  if (!line || fputs(line, be->records) < 0 || fputc('\n', be->records) < 0)
    be->failed = 1;
  free(line);
  struct cb_buf members = {0};
  if (be->sheets.len < 4 * PREVIEW_MAX)
    preview_members(&members, t, be->x.preview.data);
  cb_buf_puts(&be->sheets, sheet ? ",{\"name\":" : "{\"name\":");
  cb_buf_json_string(&be->sheets, name);
  cb_buf_printf(&be->sheets, "%s%s}", members.data ? "," : ",\"omitted\":true", members.data ? members.data : "");
  if (!sheet && members.data)
    cb_buf_puts(&be->first, members.data);
  cb_buf_free(&members);
  return be->failed;
}

static const struct sheet_sink book_sink = {NULL, book_begin, sheet_row, book_end};

static cb_err book_artifacts(struct book_extract *be, const struct cb_convert_input *in, cJSON *result,
                             struct cb_errbuf *eb)
{
  char path[4200];
  struct cb_buf pv = {0};
  cb_buf_puts(&pv, "{");
  cb_buf_puts(&pv, be->first.data ? be->first.data : "\"has_header\":false,\"columns\":[],\"types\":[],\"rows\":[]");
  if (workbook_sheets(be->wb)) {
    cb_buf_puts(&pv, ",\"sheet\":");
    cb_buf_json_string(&pv, workbook_sheet_name(be->wb, 0));
  }
  cb_buf_printf(&pv, ",\"sheets\":[%s]}\n", be->sheets.data ? be->sheets.data : "");
  snprintf(path, sizeof path, "%s/preview.json", in->workdir);
  cb_err e = write_file(path, &pv, "preview", eb);
  cb_buf_free(&pv);
  if (e)
    return e;
  result_artifact(result, "table_preview", "application/json", path);
  snprintf(path, sizeof path, "%s/text.txt", in->workdir);
  result_artifact(result, "text", "text/plain; charset=utf-8", path);
  snprintf(path, sizeof path, "%s/records.jsonl", in->workdir);
  cJSON_AddStringToObject(result, "records", path);
  return CB_OK;
}

static void book_names(const struct workbook *wb, cJSON *result)
{
  struct cb_buf names = {0};
  for (int i = 0; i < workbook_sheets(wb); i++) {
    const char *n = workbook_sheet_name(wb, i);
    if (names.len + strlen(n) + 1 > NAMES_TEXT_MAX)
      break;
    cb_buf_printf(&names, "%s%s", i ? "\n" : "", n);
  }
  result_prop_num(result, "sheet_count", workbook_sheets(wb), NULL, NULL);
  if (names.data)
    result_prop_text(result, "sheet_names", names.data, NULL, NULL);
  cb_buf_free(&names);
}

static cb_err book_extract(const struct cb_convert_input *in, cJSON *result, cb_progress_fn progress, void *pctx,
                           struct cb_errbuf *eb)
{
  struct book_extract be = {.progress = progress, .pctx = pctx};
  char path[4200];
  cb_err e = workbook_open(in->path, &be.wb, eb);
  if (!e)
    e = office_properties(in, result, eb);
  if (e)
    goto out;
  snprintf(path, sizeof path, "%s/text.txt", in->workdir);
  be.x.text = fopen(path, "wb");
  snprintf(path, sizeof path, "%s/records.jsonl", in->workdir);
  be.records = fopen(path, "wb");
  if (!be.x.text || !be.records || sheet_init(&be.st)) {
    cb_errf(eb, "cannot write the text or the records");
    e = be.x.text && be.records ? CB_ENOMEM : CB_EIO;
    goto out;
  }
  be.st.fn = extract_row;
  be.st.ctx = &be.x;
  struct sheet_sink sink = book_sink;
  sink.ctx = &be;
  e = workbook_read(be.wb, -1, &sink, eb);
  if (e == CB_EABORTED)
    cb_errf(eb, "%s", be.st.oom ? "out of memory" : "writing the text or the records failed"),
      e = be.st.oom ? CB_ENOMEM : CB_EIO;
  int bad = fclose(be.x.text) | fclose(be.records);
  be.x.text = NULL, be.records = NULL;
  if (!e && bad) {
    cb_errf(eb, "cannot write the text or the records");
    e = CB_EIO;
  }
  if (e || (e = book_artifacts(&be, in, result, eb)))
    goto out;
  cJSON_AddStringToObject(result, "kind", "table");
  book_names(be.wb, result);
  if (be.x.text_full)
    result_prop_text(result, "text_truncated", "true", NULL, NULL);
  progress(pctx, 1.0);
out:
  if (be.x.text)
    fclose(be.x.text);
  if (be.records)
    fclose(be.records);
  cb_buf_free(&be.x.preview);
  cb_buf_free(&be.x.line);
  cb_buf_free(&be.sheets);
  cb_buf_free(&be.first);
  sheet_free(&be.st);
  workbook_close(be.wb);
  return e;
}

/* The sheet a conversion writes: options.sheet, from 1 (the first by default). */
static int sheet_option(const struct cb_convert_input *in, const struct workbook *wb, struct cb_errbuf *eb)
{
  const cJSON *o = in->options ? cJSON_GetObjectItemCaseSensitive(in->options, "sheet") : NULL;
  double v = cJSON_IsNumber(o) ? o->valuedouble : 1;
  if (o && (!cJSON_IsNumber(o) || v != floor(v) || v < 1 || v > workbook_sheets(wb))) {
    cb_errf(eb, "the workbook has no sheet %.20s; it has %d", cJSON_IsNumber(o) ? "of that number" : "so named",
            workbook_sheets(wb));
    return -1;
  }
  if (!workbook_sheets(wb)) {
    cb_errf(eb, "the workbook has no sheet");
    return -1;
  }
  return (int)v - 1;
}

/* The second pass of a conversion: every row padded to the sheet's width. */
struct book_out {
  struct table *t;
  struct convert_ctx *x;
  int first, oom;
};

static int out_row(void *ctx, const char *const *cells, const size_t *lens, int n)
{
  struct book_out *bo = ctx;
  int header = bo->first && bo->t->d.has_header;
  bo->first = 0;
  if (row_load(bo->t->r, cells, lens, n, bo->t->ncols)) {
    bo->oom = 1;
    return -1;
  }
  return convert_row(bo->t, header, bo->x);
}

static cb_err book_write(struct workbook *wb, int sheet, struct sheet_table *st, struct convert_ctx *x,
                         const char *outpath, struct cb_errbuf *eb)
{
  struct table *t = &st->t;
  if ((uint64_t)(t->rows + 1) * (uint64_t)(t->ncols ? t->ncols : 1) > SHEET_CELLS_MAX) {
    cb_errf(eb, "sheet '%.200s' spans %llu rows and %d columns, more than %u cells (limit)",
            workbook_sheet_name(wb, sheet), (unsigned long long)t->rows, t->ncols, SHEET_CELLS_MAX);
    return CB_EINVAL;
  }
  if (!strcmp(x->to, "json")) {
    x->types = calloc((size_t)t->ncols + 1, sizeof *x->types);
    if (!x->types)
      return CB_ENOMEM;
    for (int i = 0; i < t->ncols; i++)
      x->types[i] = column_type(&t->cols[i]);
  }
  x->out = fopen(outpath, "wb");
  if (!x->out) {
    cb_errf(eb, "cannot write the output");
    return CB_EIO;
  }
  struct book_out bo = {t, x, 1, 0};
  struct sheet_sink sink = {&bo, NULL, out_row, NULL};
  if (!strcmp(x->to, "json"))
    fputs("[", x->out);
  cb_err e = workbook_read(wb, sheet, &sink, eb);
  if (e == CB_EABORTED)
    cb_errf(eb, "%s", bo.oom ? "out of memory" : "writing the output failed"), e = bo.oom ? CB_ENOMEM : CB_EIO;
  if (!strcmp(x->to, "json"))
    fputs(x->rows ? "\n]\n" : "]\n", x->out);
  if (fclose(x->out) && !e) {
    cb_errf(eb, "writing the output failed");
    e = CB_EIO;
  }
  return e;
}

static cb_err book_convert(const struct cb_convert_input *in, const char *to, const char *outpath, cJSON *result,
                           cb_progress_fn progress, void *pctx, struct cb_errbuf *eb)
{
  struct workbook *wb = NULL;
  struct sheet_table st;
  struct convert_ctx x = {.to = to};
  int sheet = -1;
  cb_err e = workbook_open(in->path, &wb, eb);
  if (!e && (sheet = sheet_option(in, wb, eb)) < 0)
    e = CB_EINVAL;
  if (!e && sheet_init(&st))
    e = CB_ENOMEM;
  if (e) {
    workbook_close(wb);
    return e;
  }
  /* the first pass: the header, the width and the columns' types */
  struct sheet_sink sink = {&st, NULL, sheet_row, NULL};
  e = workbook_read(wb, sheet, &sink, eb);
  if (e == CB_EABORTED)
    e = CB_ENOMEM, cb_errf(eb, "out of memory");
  if (!e && sheet_finish(&st))
    e = CB_ENOMEM, cb_errf(eb, "out of memory");
  progress(pctx, 0.5);
  if (!e)
    e = book_write(wb, sheet, &st, &x, outpath, eb);
  if (!e)
    cJSON_AddStringToObject(result, "media_type",
                            !strcmp(to, "json")  ? "application/json"
                            : !strcmp(to, "tsv") ? "text/tab-separated-values; charset=utf-8"
                                                 : "text/csv; charset=utf-8");
  free(x.types);
  cb_buf_free(&x.line);
  sheet_free(&st);
  workbook_close(wb);
  return e;
}

/* ------------------------------------------------------------------ dispatch */

/* A workbook's container (zip, OLE2) rather than delimited text. */
static int is_workbook(const char *path)
{
  unsigned char head[8];
  FILE *f = fopen(path, "rb");
  size_t n = f ? fread(head, 1, sizeof head, f) : 0;
  if (f)
    fclose(f);
  return sheets_container(head, n);
}

static cb_err extract(const struct cb_convert_input *in, cJSON *result, cb_progress_fn progress, void *pctx,
                      struct cb_errbuf *eb)
{
  return (is_workbook(in->path) ? book_extract : csv_extract)(in, result, progress, pctx, eb);
}

static cb_err convert(const struct cb_convert_input *in, const char *to, const char *outpath, cJSON *result,
                      cb_progress_fn progress, void *pctx, struct cb_errbuf *eb)
{
  return (is_workbook(in->path) ? book_convert : csv_convert)(in, to, outpath, result, progress, pctx, eb);
}

static const char *const targets[] = {"csv", "tsv", "json", NULL};
static const struct converter_desc desc = {"table", "table", suffixes, sniff, NULL};
static const struct converter_ops ops = {extract, convert, targets, NULL};
const struct converter conv_table = {&desc, &ops};
