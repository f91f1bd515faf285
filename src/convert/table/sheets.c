/* Spreadsheets read as tables: XLSX (Office Open XML) and ODS (OpenDocument), through
 * libarchive (the zip) and expat (the XML, streamed), for the table converter (table.c).
 *
 * XLSX: the workbook part (named by _rels/.rels, else xl/workbook.xml) lists the sheets in
 * workbook order, each pointing through the workbook's relationships
 * (xl/_rels/workbook.xml.rels) at its worksheet part; chart and dialog sheets hold no cells
 * and are left out. Cells: shared strings (t="s"), inline strings (t="inlineStr"), formula
 * strings (t="str"), booleans (t="b"), errors (t="e"), ISO dates (t="d") and numbers, which
 * a date or time number format turns into ISO 8601 dates and times (styles.xml: the
 * cellXfs entry the cell's s= names, its numFmtId built in or a numFmt's code), in the 1900
 * or the 1904 date system (workbookPr date1904). References (r="C7") place cells and rows,
 * gaps included; a cell or row without one follows the one before.
 *
 * ODS: content.xml's table:table elements in document order; table:table-row and
 * table:table-cell (and covered cells) with number-rows-repeated and
 * number-columns-repeated; office:value-type says where the value is (float, percentage,
 * currency: office:value; date: office:date-value; time: office:time-value, as HH:MM:SS;
 * boolean: office:boolean-value); strings are the cell's paragraphs joined by line breaks,
 * annotations left out.
 *
 * Bounds: the zip is read as office documents are (office/zip.h: entries, sizes declared
 * and decompressed, compression ratio); XML that declares entities is refused;
 * SHEETS_MAX sheets, rows up to SHEET_ROWS_MAX, columns up to SHEET_COLS_MAX, at most
 * SHEET_CELLS_MAX cells and SHEET_TEXT_MAX bytes of their text handed on per sheet, a
 * cell of at most CELL_MAX bytes. Empty cells
 * and rows cost nothing until a value follows them, so the repeated empty cells and rows
 * that pad ODS sheets to the end of the grid are never materialised. */
#include <errno.h>
#include <expat.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "convert/converter.h"
#include "convert/office/zip.h"
#include "convert/xml.h"
#include "convert/table/sheets.h"
#include "util/util.h"

#define CELL_MAX (1u << 20)
#define ROW_TEXT_MAX (16u << 20)
#define SHEET_NAME_MAX 1024

#define NS_SEP '|'
#define NS_OFFICE "urn:oasis:names:tc:opendocument:xmlns:office:1.0"
#define NS_TABLE "urn:oasis:names:tc:opendocument:xmlns:table:1.0"
#define NS_TEXT "urn:oasis:names:tc:opendocument:xmlns:text:1.0"
#define ODS_MIME "application/vnd.oasis.opendocument.spreadsheet"

const char *const sheets_suffixes[] = {".xlsx", ".xlsm", ".xltx", ".xltm", ".ods", ".ots", NULL};
static const char *const ooxml_suffixes[] = {".xlsx", ".xlsm", ".xltx", ".xltm", NULL};

enum format { FMT_NONE, FMT_XLSX, FMT_ODS };
enum numkind { NK_NUMBER, NK_DATE, NK_TIME, NK_DATETIME };

struct rel {
  char *id, *target, *type;
};

struct workbook {
  enum format format;
  int nsheets;
  char *names[SHEETS_MAX];
  char *parts[SHEETS_MAX]; /* XLSX: each sheet's worksheet part */
  char *book;              /* XLSX: the workbook part */
  int date1904;
  /* shared strings: string i is sst[off[i] .. off[i + 1]) */
  char *sst;
  size_t sst_len, sst_cap;
  uint32_t *sst_off;
  size_t sst_n, sst_offcap;
  /* styles: the kind of number each cellXfs entry shows */
  unsigned char *xf;
  size_t nxf, xfcap;
  struct {
    long id;
    enum numkind kind;
  } * fmts;
  size_t nfmts, fmtcap;
  struct office_zip z;
  struct cb_errbuf *eb;
};

/* A sheet's name as the workbook gives it (NULL: ""), at most SHEET_NAME_MAX bytes, each
 * control character (a newline, a tab) a space: the names are listed one per line, and a
 * name is how ?sheet= finds its sheet. */
static char *sheet_name(const char *n)
{
  char *s = strndup(n ? n : "", SHEET_NAME_MAX);
  for (char *p = s; p && *p; p++)
    if ((unsigned char)*p < 0x20 || *p == 0x7f)
      *p = ' ';
  return s;
}

/* ---------------------------------------------------------------- XML, streamed */

struct xml;
struct xml_handlers {
  void (*start)(struct xml *x, const char *name, const char **atts);
  void (*end)(struct xml *x, const char *name);
  void (*text)(struct xml *x, const char *s, size_t n);
};

struct xml {
  struct convert_xml head; /* first: the parser; entity declarations refused */
  const struct xml_handlers *h;
  void *ud;
  int depth, skip; /* skip: the depth of a subtree left out, 0 = none */
  int stopped;     /* the parse stopped: an error, or a handler's stop */
  cb_err err;      /* a handler's failure (its reason in eb) */
  int done;        /* a handler has read what it wanted */
};

/* Stops the parse: e, or CB_OK when the handler has what it wanted. */
static void xml_stop(struct xml *x, cb_err e)
{
  if (e && !x->err)
    x->err = e;
  if (!e)
    x->done = 1;
  XML_StopParser(x->head.p, XML_FALSE);
}

/* The local part of an expat "namespace|local" name. */
static const char *local_of(const char *name)
{
  const char *bar = strrchr(name, NS_SEP);
  return bar ? bar + 1 : name;
}

/* Whether name is local in namespace ns. */
static int is_el(const char *name, const char *ns, const char *local)
{
  size_t k = strlen(ns);
  return !strncmp(name, ns, k) && name[k] == NS_SEP && !strcmp(name + k + 1, local);
}

/* An attribute by local name (any namespace), or in namespace ns when ns is given. */
static const char *attr(const char **atts, const char *ns, const char *local)
{
  for (int i = 0; atts[i]; i += 2)
    if (ns ? is_el(atts[i], ns, local) : !strcmp(local_of(atts[i]), local))
      return atts[i + 1];
  return NULL;
}

static void XMLCALL on_start(void *ud, const XML_Char *name, const XML_Char **atts)
{
  struct xml *x = ud;
  x->depth++;
  if (!x->skip && x->h->start)
    x->h->start(x, name, atts);
}

static void XMLCALL on_end(void *ud, const XML_Char *name)
{
  struct xml *x = ud;
  if (x->skip) {
    if (x->skip == x->depth)
      x->skip = 0;
  } else if (x->h->end) {
    x->h->end(x, name);
  }
  x->depth--;
}

static void XMLCALL on_text(void *ud, const XML_Char *s, int len)
{
  struct xml *x = ud;
  if (!x->skip && len > 0 && x->h->text)
    x->h->text(x, s, (size_t)len);
}

static int xml_sink(void *ud, const char *buf, size_t n)
{
  struct xml *x = ud;
  if (XML_Parse(x->head.p, buf, (int)n, 0) != XML_STATUS_ERROR)
    return 0;
  x->stopped = 1;
  return -1;
}

/* Why a parse stopped: CB_OK when a handler had what it wanted, else its error or the
 * XML's. */
static cb_err xml_stopped(struct workbook *wb, const struct xml *x, const char *name)
{
  if (x->done)
    return CB_OK;
  if (x->err)
    return x->err;
  if (x->head.refused)
    cb_errf(wb->eb,
            "refused: %.200s declares XML entities (a possible entity-expansion attack); spreadsheets have none", name);
  else
    cb_errf(wb->eb, "%.200s is not well-formed XML: %s (line %lu)", name, XML_ErrorString(XML_GetErrorCode(x->head.p)),
            (unsigned long)XML_GetCurrentLineNumber(x->head.p));
  return CB_EINVAL;
}

/* Parses the zip's current entry e with handlers h over state ud. */
static cb_err parse_entry(struct workbook *wb, struct archive_entry *e, const struct xml_handlers *h, void *ud)
{
  const char *name = office_entry_name(e);
  struct xml x = {.h = h, .ud = ud};
  if (convert_xml_create(&x.head, NS_SEP))
    return CB_ENOMEM;
  XML_SetElementHandler(x.head.p, on_start, on_end);
  XML_SetCharacterDataHandler(x.head.p, on_text);
  cb_err rc = office_zip_read(&wb->z, e, xml_sink, &x);
  if (!rc && XML_Parse(x.head.p, "", 0, 1) == XML_STATUS_ERROR)
    x.stopped = 1;
  if (x.stopped)
    rc = xml_stopped(wb, &x, name);
  XML_ParserFree(x.head.p);
  return rc;
}

/* Reads the named parts (NULL entries are skipped) in one pass over the zip, each with
 * its handlers and state; *found[i] says whether part i was there. */
static cb_err parse_parts(struct workbook *wb, int n, const char *const *names, const struct xml_handlers *const *h,
                          void *const *ud, int *found)
{
  cb_err rc = office_zip_open(&wb->z);
  struct archive_entry *e;
  while (!rc && !(rc = office_zip_next(&wb->z, &e)) && e)
    for (int i = 0; i < n && !rc; i++)
      if (names[i] && !strcmp(office_entry_name(e), names[i])) {
        found[i] = 1;
        rc = parse_entry(wb, e, h[i], ud[i]);
      }
  return rc == CB_ETOOBIG ? CB_EINVAL : rc;
}

/* ---------------------------------------------------------------- rows */

struct rcell {
  uint32_t col;
  uint32_t off, len; /* in text */
};

/* The row being read: its cells holding a value, then handed on dense. */
struct rowbuf {
  const struct sheet_sink *sink;
  const char *sheet; /* its name, for reasons */
  struct cb_errbuf *eb;
  struct cb_buf text;
  struct rcell *cells;
  size_t n, cap;
  const char **ptrs;
  size_t *lens;
  size_t dcap;
  uint64_t pending;   /* rows without values since the last row with some */
  int started;        /* a row with values was handed on */
  uint64_t cells_out; /* cells handed on */
  uint64_t bytes_out; /* their text */
};

static void rb_reset(struct rowbuf *rb, const char *sheet)
{
  cb_buf_reset(&rb->text);
  rb->n = 0;
  rb->pending = 0;
  rb->started = 0;
  rb->cells_out = rb->bytes_out = 0;
  rb->sheet = sheet;
}

static void rb_free(struct rowbuf *rb)
{
  cb_buf_free(&rb->text);
  free(rb->cells);
  free(rb->ptrs);
  free(rb->lens);
}

/* A cell holding a value (n > 0) at column col (0-based). */
static cb_err rb_cell(struct rowbuf *rb, uint64_t col, const char *s, size_t n)
{
  if (!n)
    return CB_OK;
  if (col >= SHEET_COLS_MAX) {
    cb_errf(rb->eb, "sheet '%.200s': a cell beyond column XFD (the limit is %d columns)", rb->sheet, SHEET_COLS_MAX);
    return CB_EINVAL;
  }
  if (n > CELL_MAX || rb->text.len + n > ROW_TEXT_MAX) {
    cb_errf(rb->eb, "sheet '%.200s': %s", rb->sheet,
            n > CELL_MAX ? "a cell holds more than 1 MiB of text" : "a row holds more than 16 MiB of text");
    return CB_EINVAL;
  }
  if (cb_grow(&rb->cells, rb->n, &rb->cap, sizeof *rb->cells, 64))
    return CB_ENOMEM;
  rb->cells[rb->n++] = (struct rcell){(uint32_t)col, (uint32_t)rb->text.len, (uint32_t)n};
  return cb_buf_append(&rb->text, s, n) ? CB_ENOMEM : CB_OK;
}

static cb_err rb_out(struct rowbuf *rb, size_t width)
{
  rb->cells_out += width ? width : 1;
  if (rb->cells_out > SHEET_CELLS_MAX) {
    cb_errf(rb->eb, "sheet '%.200s' spans more than %u cells (limit)", rb->sheet, SHEET_CELLS_MAX);
    return CB_EINVAL;
  }
  /* repeated rows and shared strings multiply text: a small file must not write gigabytes */
  for (size_t i = 0; i < width; i++)
    rb->bytes_out += rb->lens[i];
  if (rb->bytes_out > SHEET_TEXT_MAX) {
    cb_errf(rb->eb, "sheet '%.200s' holds more than %llu MiB of text (limit)", rb->sheet,
            (unsigned long long)(SHEET_TEXT_MAX >> 20));
    return CB_EINVAL;
  }
  return rb->sink->row(rb->sink->ctx, rb->ptrs, rb->lens, (int)width) ? CB_EABORTED : CB_OK;
}

static int rcell_cmp(const void *a, const void *b)
{
  const struct rcell *x = a, *y = b;
  return x->col != y->col ? (x->col < y->col ? -1 : 1) : (x->off < y->off ? -1 : x->off > y->off);
}

/* Ends a row that stands for repeat rows: a row without values waits (and is forgotten
 * at the end of the sheet); one with values hands on the rows waiting before it, then
 * itself repeat times, its cells from column A (a cell given twice: the later one). */
static cb_err rb_end(struct rowbuf *rb, uint64_t repeat)
{
  if (!rb->n) {
    if (rb->started)
      rb->pending += repeat;
    return CB_OK;
  }
  cb_err e;
  for (; rb->pending; rb->pending--)
    if ((e = rb_out(rb, 0)))
      return e;
  for (size_t i = 1; i < rb->n; i++)
    if (rcell_cmp(&rb->cells[i - 1], &rb->cells[i]) > 0) {
      qsort(rb->cells, rb->n, sizeof *rb->cells, rcell_cmp);
      break;
    }
  size_t width = (size_t)rb->cells[rb->n - 1].col + 1;
  if (width > rb->dcap) {
    const char **p = realloc(rb->ptrs, width * sizeof *p);
    if (p)
      rb->ptrs = p;
    size_t *l = realloc(rb->lens, width * sizeof *l);
    if (l)
      rb->lens = l;
    if (!p || !l)
      return CB_ENOMEM;
    rb->dcap = width;
  }
  for (size_t i = 0; i < width; i++) {
    rb->ptrs[i] = "";
    rb->lens[i] = 0;
  }
  for (size_t i = 0; i < rb->n; i++) {
    rb->ptrs[rb->cells[i].col] = rb->text.data + rb->cells[i].off;
    rb->lens[rb->cells[i].col] = rb->cells[i].len;
  }
  for (uint64_t r = 0; r < repeat; r++)
    if ((e = rb_out(rb, width)))
      return e;
  rb->started = 1;
  rb->n = 0;
  cb_buf_reset(&rb->text);
  return CB_OK;
}

/* ---------------------------------------------------------------- values */

/* The shortest text strtod reads back as v. */
static void number_text(double v, char *out, size_t cap)
{
  for (int prec = 15; prec <= 17; prec++) {
    snprintf(out, cap, "%.*g", prec, v);
    if (strtod(out, NULL) == v)
      return;
  }
}

/* A number written as s (n bytes): 1 and its value when it is all number. */
static int parse_number(const char *s, size_t n, double *v)
{
  char tmp[64];
  while (n && (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r'))
    s++, n--;
  while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\n' || s[n - 1] == '\r'))
    n--;
  if (!n || n >= sizeof tmp)
    return 0;
  memcpy(tmp, s, n);
  tmp[n] = '\0';
  char *end;
  errno = 0;
  *v = strtod(tmp, &end);
  return *end == '\0' && isfinite(*v) && !strpbrk(tmp, "xX") &&
         (tmp[0] == '-' || tmp[0] == '+' || tmp[0] == '.' || (tmp[0] >= '0' && tmp[0] <= '9'));
}

/* Days since 1970-01-01 of a proleptic Gregorian date, and back (H. Hinnant's algorithms). */
static long days_from_civil(long y, unsigned m, unsigned d)
{
  y -= m <= 2;
  long era = (y >= 0 ? y : y - 399) / 400;
  unsigned yoe = (unsigned)(y - era * 400);
  unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
  unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + (long)doe - 719468;
}

static void civil_from_days(long z, int *y, int *m, int *d)
{
  z += 719468;
  long era = (z >= 0 ? z : z - 146096) / 146097;
  unsigned doe = (unsigned)(z - era * 146097);
  unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  unsigned mp = (5 * doy + 2) / 153;
  *d = (int)(doy - (153 * mp + 2) / 5 + 1);
  *m = (int)(mp < 10 ? mp + 3 : mp - 9);
  *y = (int)(yoe + era * 400 + (*m <= 2));
}

/* A spreadsheet serial date (days, the fraction the time of day) as ISO 8601 text of the
 * kind a format shows; 0 when it is no date (negative, after 9999). Serial 1 is 1900-01-01
 * (1904-01-02 in the 1904 system); Excel counts a 29 February 1900 (serial 60), so later
 * serials are a day off the calendar before it. */
static int serial_text(double v, enum numkind kind, int date1904, char *out, size_t cap)
{
  if (!(v >= 0) || v >= 2958466)
    return 0;
  double days = floor(v);
  long ms = lround((v - days) * 86400000.0);
  long day = (long)days;
  if (ms >= 86400000) {
    day++;
    ms -= 86400000;
  }
  char t[24];
  long s = ms / 1000;
  if (ms % 1000)
    snprintf(t, sizeof t, "%02ld:%02ld:%02ld.%03ld", s / 3600, s / 60 % 60, s % 60, ms % 1000);
  else
    snprintf(t, sizeof t, "%02ld:%02ld:%02ld", s / 3600, s / 60 % 60, s % 60);
  if (kind == NK_TIME) {
    snprintf(out, cap, "%s", t);
    return 1;
  }
  int y, m, d;
  if (date1904) {
    civil_from_days(days_from_civil(1904, 1, 1) + day, &y, &m, &d);
  } else if (day == 60) {
    y = 1900, m = 2, d = 29; /* as Excel shows it */
  } else {
    civil_from_days(days_from_civil(1899, 12, day < 60 ? 31 : 30) + day, &y, &m, &d);
  }
  if (kind == NK_DATE)
    snprintf(out, cap, "%04d-%02d-%02d", y, m, d);
  else
    snprintf(out, cap, "%04d-%02d-%02dT%s", y, m, d, t);
  return 1;
}

/* What a built-in number format (ECMA-376 18.8.30, with the East Asian ones) shows. */
static enum numkind builtin_kind(long id)
{
  static const unsigned char date[] = {14, 15, 16, 17, 27, 28, 29, 30, 31, 36, 50, 51, 52, 53, 54, 57, 58};
  static const unsigned char time[] = {18, 19, 20, 21, 32, 33, 34, 35, 45, 47, 55, 56};
  for (size_t i = 0; i < sizeof date; i++)
    if (id == date[i])
      return NK_DATE;
  for (size_t i = 0; i < sizeof time; i++)
    if (id == time[i])
      return NK_TIME;
  return id == 22 ? NK_DATETIME : NK_NUMBER;
}

/* What a format code shows, from its first section: dates (y, d, m as month), times (h, s,
 * m next to them, AM/PM), both, or a number; quoted text, escaped characters and bracketed
 * parts (colours, locales) say nothing, and an elapsed time ([h], [m], [s]) is a duration,
 * kept as the number. */
static enum numkind code_kind(const char *code)
{
  int date = 0, time = 0;
  char last = 0; /* the last of y d h s m seen */
  for (const char *p = code; *p && *p != ';'; p++) {
    char c = (char)(*p | 0x20);
    if (*p == '"') {
      const char *q = strchr(p + 1, '"');
      if (!q)
        break;
      p = q;
    } else if (*p == '\\' || *p == '_' || *p == '*') {
      if (!*++p)
        break;
    } else if (*p == '[') {
      const char *q = strchr(p, ']');
      if (!q)
        break;
      size_t k = (size_t)(q - p - 1);
      if (k && strspn(p + 1, "hHmMsS") == k) /* [h], [mm], [ss]: elapsed time */
        return NK_NUMBER;
      p = q;
    } else if (!strncasecmp(p, "am/pm", 5) || !strncasecmp(p, "a/p", 3)) {
      time = 1;
      p += p[1] == '/' ? 2 : 4;
    } else if (c == 'y' || c == 'd') {
      date = 1, last = c;
    } else if (c == 'h' || c == 's') {
      time = 1, last = c;
    } else if (c == 'm') {
      const char *q = p;
      while ((*q | 0x20) == 'm')
        q++;
      const char *nx = q;
      while (*nx && !strchr("yYdDhHsS;", *nx))
        nx++;
      if (last == 'h' || (*nx | 0x20) == 's')
        time = 1;
      else
        date = 1;
      last = 'm';
      p = q - 1;
    }
  }
  return date && time ? NK_DATETIME : date ? NK_DATE : time ? NK_TIME : NK_NUMBER;
}

/* ---------------------------------------------------------------- XLSX: relationships */

struct rels {
  struct rel *r;
  size_t n, cap;
};

static void rels_free(struct rels *rs)
{
  for (size_t i = 0; i < rs->n; i++) {
    free(rs->r[i].id);
    free(rs->r[i].target);
    free(rs->r[i].type);
  }
  free(rs->r);
}

static void rels_start(struct xml *x, const char *name, const char **atts)
{
  struct rels *rs = x->ud;
  if (strcmp(local_of(name), "Relationship"))
    return;
  const char *id = attr(atts, NULL, "Id"), *target = attr(atts, NULL, "Target"), *type = attr(atts, NULL, "Type");
  if (!id || !target || !type || cb_grow(&rs->r, rs->n, &rs->cap, sizeof *rs->r, 16)) {
    if (id && target && type)
      xml_stop(x, CB_ENOMEM);
    return;
  }
  struct rel *r = &rs->r[rs->n];
  r->id = strdup(id), r->target = strdup(target), r->type = strdup(type);
  rs->n++;
  if (!r->id || !r->target || !r->type)
    xml_stop(x, CB_ENOMEM);
}

static const struct xml_handlers rels_handlers = {rels_start, NULL, NULL};

/* The first relationship whose type ends with /kind. */
static const struct rel *rel_of_type(const struct rels *rs, const char *kind)
{
  for (size_t i = 0; i < rs->n; i++) {
    const char *slash = strrchr(rs->r[i].type, '/');
    if (slash && !strcmp(slash + 1, kind))
      return &rs->r[i];
  }
  return NULL;
}

/* The zip path of a relationship's target: absolute ("/xl/x.xml"), or relative to the
 * folder of the part (from) whose relationships name it; "." and ".." resolved. */
static char *part_path(const char *from, const char *target)
{
  struct cb_buf b = {0};
  const char *slash = strrchr(from, '/');
  if (target[0] != '/' && slash)
    cb_buf_append(&b, from, (size_t)(slash - from + 1));
  cb_buf_puts(&b, target[0] == '/' ? target + 1 : target);
  if (!b.data)
    return NULL;
  /* resolve segment by segment, in place */
  char *out = b.data, *w = out;
  for (char *seg = b.data; *seg;) {
    char *end = strchr(seg, '/');
    size_t k = end ? (size_t)(end - seg) : strlen(seg);
    if ((k == 1 && seg[0] == '.') || k == 0) {
      /* nothing */
    } else if (k == 2 && seg[0] == '.' && seg[1] == '.') {
      while (w > out && *--w != '/')
        ;
    } else {
      if (w > out)
        *w++ = '/';
      memmove(w, seg, k);
      w += k;
    }
    seg = end ? end + 1 : seg + k;
  }
  *w = '\0';
  return out;
}

/* ---------------------------------------------------------------- XLSX: workbook */

struct book_state {
  struct workbook *wb;
  char *rids[SHEETS_MAX];
};

static void book_start(struct xml *x, const char *name, const char **atts)
{
  struct book_state *bs = x->ud;
  struct workbook *wb = bs->wb;
  const char *local = local_of(name);
  if (!strcmp(local, "workbookPr")) {
    const char *v = attr(atts, NULL, "date1904");
    wb->date1904 = v && (!strcmp(v, "1") || !strcmp(v, "true"));
  } else if (!strcmp(local, "sheet")) {
    const char *n = attr(atts, NULL, "name"), *rid = attr(atts, NULL, "id");
    if (wb->nsheets == SHEETS_MAX) {
      cb_errf(wb->eb, "the workbook has more than %d sheets (limit)", SHEETS_MAX);
      xml_stop(x, CB_EINVAL);
      return;
    }
    wb->names[wb->nsheets] = sheet_name(n);
    bs->rids[wb->nsheets] = strdup(rid ? rid : "");
    if (!wb->names[wb->nsheets] || !bs->rids[wb->nsheets])
      xml_stop(x, CB_ENOMEM);
    wb->nsheets++;
  }
}

static const struct xml_handlers book_handlers = {book_start, NULL, NULL};

/* ---------------------------------------------------------------- XLSX: styles */

struct styles_state {
  struct workbook *wb;
  int in_xfs; /* depth of cellXfs */
};

static enum numkind fmt_kind(const struct workbook *wb, long id)
{
  for (size_t i = 0; i < wb->nfmts; i++)
    if (wb->fmts[i].id == id)
      return wb->fmts[i].kind;
  return builtin_kind(id);
}

static void styles_start(struct xml *x, const char *name, const char **atts)
{
  struct styles_state *ss = x->ud;
  struct workbook *wb = ss->wb;
  const char *local = local_of(name);
  if (!strcmp(local, "numFmt")) {
    const char *id = attr(atts, NULL, "numFmtId"), *code = attr(atts, NULL, "formatCode");
    if (!id || !code)
      return;
    if (cb_grow(&wb->fmts, wb->nfmts, &wb->fmtcap, sizeof *wb->fmts, 16)) {
      xml_stop(x, CB_ENOMEM);
      return;
    }
    wb->fmts[wb->nfmts].id = strtol(id, NULL, 10);
    wb->fmts[wb->nfmts++].kind = code_kind(code);
  } else if (!strcmp(local, "cellXfs")) {
    ss->in_xfs = x->depth;
  } else if (ss->in_xfs && x->depth == ss->in_xfs + 1 && !strcmp(local, "xf")) {
    const char *id = attr(atts, NULL, "numFmtId");
    if (cb_grow(&wb->xf, wb->nxf, &wb->xfcap, 1, 64)) {
      xml_stop(x, CB_ENOMEM);
      return;
    }
    wb->xf[wb->nxf++] = (unsigned char)fmt_kind(wb, id ? strtol(id, NULL, 10) : 0);
  }
}

static void styles_end(struct xml *x, const char *name)
{
  struct styles_state *ss = x->ud;
  if (ss->in_xfs == x->depth && !strcmp(local_of(name), "cellXfs"))
    ss->in_xfs = 0;
}

static const struct xml_handlers styles_handlers = {styles_start, styles_end, NULL};

/* ---------------------------------------------------------------- XLSX: shared strings */

struct sst_state {
  struct workbook *wb;
  int in_si, in_t;
};

static void sst_start(struct xml *x, const char *name, const char **atts)
{
  (void)atts;
  struct sst_state *ss = x->ud;
  struct workbook *wb = ss->wb;
  const char *local = local_of(name);
  if (!strcmp(local, "si")) {
    if (cb_grow(&wb->sst_off, wb->sst_n + 1, &wb->sst_offcap, sizeof *wb->sst_off, 1024)) {
      xml_stop(x, CB_ENOMEM);
      return;
    }
    wb->sst_off[wb->sst_n] = (uint32_t)wb->sst_len;
    ss->in_si = 1;
  } else if (!strcmp(local, "rPh")) { /* phonetic guides: not the text */
    x->skip = x->depth;
  } else if (ss->in_si && !strcmp(local, "t")) {
    ss->in_t = 1;
  }
}

static void sst_end(struct xml *x, const char *name)
{
  struct sst_state *ss = x->ud;
  struct workbook *wb = ss->wb;
  const char *local = local_of(name);
  if (!strcmp(local, "t")) {
    ss->in_t = 0;
  } else if (!strcmp(local, "si") && ss->in_si) {
    ss->in_si = 0;
    wb->sst_off[++wb->sst_n] = (uint32_t)wb->sst_len;
  }
}

static void sst_text(struct xml *x, const char *s, size_t n)
{
  struct sst_state *ss = x->ud;
  struct workbook *wb = ss->wb;
  if (!ss->in_t)
    return;
  if (cb_reserve(&wb->sst, &wb->sst_cap, wb->sst_len + n, 65536)) {
    xml_stop(x, CB_ENOMEM);
    return;
  }
  memcpy(wb->sst + wb->sst_len, s, n);
  wb->sst_len += n;
}

static const struct xml_handlers sst_handlers = {sst_start, sst_end, sst_text};

/* ---------------------------------------------------------------- XLSX: a worksheet */

struct xsheet {
  struct workbook *wb;
  struct rowbuf *rb;
  int in_data, in_row, in_cell, in_v, in_is, in_t;
  uint64_t row;           /* the row being read (1-based); 0 before the first */
  uint64_t col, next_col; /* 0-based */
  char ref[16];           /* the cell's reference, for reasons */
  char type[12];
  long style;
  struct cb_buf val;
};

/* Column (0-based) and row of a reference such as "AB12"; 0 when it is none. */
static int parse_ref(const char *r, uint64_t *col, uint64_t *row)
{
  uint64_t c = 0, w = 0;
  const char *p = r;
  for (; *p >= 'A' && *p <= 'Z' && c < (1u << 30); p++)
    c = c * 26 + (uint64_t)(*p - 'A' + 1);
  if (p == r || !c)
    return 0;
  for (const char *q = p; *q >= '0' && *q <= '9' && w < (1ull << 40); q++)
    w = w * 10 + (uint64_t)(*q - '0');
  *col = c - 1;
  *row = w;
  return 1;
}

static void xsheet_start(struct xml *x, const char *name, const char **atts)
{
  struct xsheet *xs = x->ud;
  const char *local = local_of(name);
  if (!strcmp(local, "sheetData")) {
    xs->in_data = 1;
  } else if (xs->in_data && !xs->in_row && !strcmp(local, "row")) {
    const char *r = attr(atts, NULL, "r");
    uint64_t n = r ? strtoull(r, NULL, 10) : 0;
    if (n <= xs->row) /* none, or out of order: the next row */
      n = xs->row + 1;
    if (xs->rb->started) /* rows skipped since the last one are rows without values */
      xs->rb->pending += n - xs->row - 1;
    xs->row = n;
    xs->in_row = 1;
    xs->next_col = 0;
  } else if (xs->in_row && !strcmp(local, "c")) {
    const char *r = attr(atts, NULL, "r"), *t = attr(atts, NULL, "t"), *s = attr(atts, NULL, "s");
    uint64_t col, row;
    xs->col = r && parse_ref(r, &col, &row) ? col : xs->next_col;
    xs->next_col = xs->col + 1;
    snprintf(xs->ref, sizeof xs->ref, "%s", r ? r : "?");
    snprintf(xs->type, sizeof xs->type, "%s", t ? t : "n");
    xs->style = s ? strtol(s, NULL, 10) : 0;
    cb_buf_reset(&xs->val);
    xs->in_cell = 1;
  } else if (xs->in_cell && !strcmp(local, "v")) {
    xs->in_v = 1;
  } else if (xs->in_cell && !strcmp(local, "is")) {
    xs->in_is = 1;
  } else if (xs->in_is && !strcmp(local, "rPh")) {
    x->skip = x->depth;
  } else if (xs->in_is && !strcmp(local, "t")) {
    xs->in_t = 1;
  }
}

/* The text of the cell just read. */
static cb_err xsheet_cell(struct xsheet *xs)
{
  struct workbook *wb = xs->wb;
  const char *v = xs->val.data ? xs->val.data : "";
  size_t n = xs->val.len;
  char num[48];
  if (!strcmp(xs->type, "s")) {
    char *end;
    errno = 0;
    unsigned long long i = strtoull(v, &end, 10);
    if (!n)
      return CB_OK;
    if (end == v || errno || i >= wb->sst_n) {
      cb_errf(wb->eb, "sheet '%.200s', cell %s: no shared string '%.20s' (the workbook has %zu)", xs->rb->sheet,
              xs->ref, v, wb->sst_n);
      return CB_EINVAL;
    }
    return rb_cell(xs->rb, xs->col, wb->sst + wb->sst_off[i], wb->sst_off[i + 1] - wb->sst_off[i]);
  }
  if (!strcmp(xs->type, "b") && (!strcmp(v, "1") || !strcmp(v, "0")))
    return rb_cell(xs->rb, xs->col, v[0] == '1' ? "TRUE" : "FALSE", v[0] == '1' ? 4 : 5);
  double d;
  if (!strcmp(xs->type, "n") && parse_number(v, n, &d)) {
    enum numkind k = xs->style >= 0 && (size_t)xs->style < wb->nxf ? (enum numkind)wb->xf[xs->style] : NK_NUMBER;
    if (k == NK_NUMBER || !serial_text(d, k, wb->date1904, num, sizeof num))
      number_text(d, num, sizeof num);
    return rb_cell(xs->rb, xs->col, num, strlen(num));
  }
  return rb_cell(xs->rb, xs->col, v, n); /* strings, errors, ISO dates, and what is no number */
}

static void xsheet_end(struct xml *x, const char *name)
{
  struct xsheet *xs = x->ud;
  const char *local = local_of(name);
  cb_err e = CB_OK;
  if (!strcmp(local, "v")) {
    xs->in_v = 0;
  } else if (!strcmp(local, "t")) {
    xs->in_t = 0;
  } else if (!strcmp(local, "is")) {
    xs->in_is = 0;
  } else if (xs->in_cell && !strcmp(local, "c")) {
    xs->in_cell = 0;
    e = xsheet_cell(xs);
  } else if (xs->in_row && !strcmp(local, "row")) {
    xs->in_row = 0;
    if (xs->rb->n && xs->row > SHEET_ROWS_MAX) {
      cb_errf(xs->wb->eb, "sheet '%.200s': a value in row %llu, beyond row %d (the limit)", xs->rb->sheet,
              (unsigned long long)xs->row, SHEET_ROWS_MAX);
      e = CB_EINVAL;
    } else {
      e = rb_end(xs->rb, 1);
    }
  } else if (!strcmp(local, "sheetData")) {
    xml_stop(x, CB_OK); /* nothing after it is a cell */
  }
  if (e)
    xml_stop(x, e);
}

static void xsheet_text(struct xml *x, const char *s, size_t n)
{
  struct xsheet *xs = x->ud;
  if (!xs->in_v && !(xs->in_is && xs->in_t))
    return;
  if (xs->val.len + n > CELL_MAX) {
    cb_errf(xs->wb->eb, "sheet '%.200s', cell %s: more than 1 MiB of text", xs->rb->sheet, xs->ref);
    xml_stop(x, CB_EINVAL);
  } else if (cb_buf_append(&xs->val, s, n)) {
    xml_stop(x, CB_ENOMEM);
  }
}

static const struct xml_handlers xsheet_handlers = {xsheet_start, xsheet_end, xsheet_text};

/* ---------------------------------------------------------------- ODS: content.xml */

struct osheet {
  struct workbook *wb;
  struct rowbuf *rb;
  const struct sheet_sink *sink;
  int want;      /* the sheet to read, -1: all; -2: only list the names */
  int table;     /* the index of the current table, -1 before the first */
  int in_table;  /* depth of the table element, 0 outside */
  int reading;   /* the current table is read */
  int in_row;    /* depth of the row element */
  int in_cell;   /* depth of the cell element */
  int has_value; /* the value came from an attribute */
  int paras, in_p;
  uint64_t row, row_repeat, col, cell_repeat;
  struct cb_buf val;
};

static uint64_t repeated(const char **atts, const char *local)
{
  const char *v = attr(atts, NS_TABLE, local);
  unsigned long long n = v ? strtoull(v, NULL, 10) : 1;
  return n < 1 ? 1 : n > (1ull << 32) ? (1ull << 32) : n;
}

/* HH:MM:SS[.f] of an ISO 8601 duration such as PT14H40M00S (hours may pass 24). */
static int duration_text(const char *s, char *out, size_t cap)
{
  double h = 0, m = 0, sec = 0, v;
  char *end;
  if (strncmp(s, "PT", 2))
    return 0;
  for (s += 2; *s; s = end + 1) {
    v = strtod(s, &end);
    if (end == s || !*end)
      return 0;
    if (*end == 'H')
      h = v;
    else if (*end == 'M')
      m = v;
    else if (*end == 'S')
      sec = v;
    else
      return 0;
  }
  double total = h * 3600 + m * 60 + sec;
  long long ms = llround(total * 1000);
  if (ms < 0)
    return 0;
  long long whole = ms / 1000;
  int k = snprintf(out, cap, "%02lld:%02lld:%02lld", whole / 3600, whole / 60 % 60, whole % 60);
  if (ms % 1000 && k > 0 && (size_t)k < cap)
    snprintf(out + k, cap - (size_t)k, ".%03lld", ms % 1000);
  return 1;
}

/* A cell's value from its attributes, by office:value-type; 0 when its text is the value. */
static int ods_value(const char **atts, struct cb_buf *val)
{
  const char *type = attr(atts, NS_OFFICE, "value-type");
  if (!type)
    return 0;
  char tmp[64];
  double d;
  const char *v;
  if (!strcmp(type, "float") || !strcmp(type, "percentage") || !strcmp(type, "currency")) {
    v = attr(atts, NS_OFFICE, "value");
    if (!v || !parse_number(v, strlen(v), &d))
      return 0;
    number_text(d, tmp, sizeof tmp);
    v = tmp;
  } else if (!strcmp(type, "date")) {
    v = attr(atts, NS_OFFICE, "date-value");
  } else if (!strcmp(type, "time")) {
    v = attr(atts, NS_OFFICE, "time-value");
    if (v && duration_text(v, tmp, sizeof tmp))
      v = tmp;
  } else if (!strcmp(type, "boolean")) {
    v = attr(atts, NS_OFFICE, "boolean-value");
    if (v)
      v = !strcmp(v, "true") || !strcmp(v, "1") ? "TRUE" : "FALSE";
  } else if (!strcmp(type, "string")) {
    v = attr(atts, NS_OFFICE, "string-value");
  } else {
    return 0;
  }
  if (!v)
    return 0;
  cb_buf_puts(val, v);
  return 1;
}

static void ods_put(struct xml *x, const char *s, size_t n)
{
  struct osheet *os = x->ud;
  if (os->val.len + n > CELL_MAX) {
    cb_errf(os->wb->eb, "sheet '%.200s': a cell holds more than 1 MiB of text", os->rb->sheet);
    xml_stop(x, CB_EINVAL);
  } else if (cb_buf_append(&os->val, s, n)) {
    xml_stop(x, CB_ENOMEM);
  }
}

static void ods_cell_start(struct xml *x, const char *name, const char **atts)
{
  struct osheet *os = x->ud;
  if (is_el(name, NS_TEXT, "p") || is_el(name, NS_TEXT, "h")) {
    if (os->paras++ && !os->has_value)
      ods_put(x, "\n", 1);
    os->in_p++;
  } else if (os->in_p && !os->has_value && is_el(name, NS_TEXT, "s")) {
    const char *c = attr(atts, NS_TEXT, "c");
    long k = c ? strtol(c, NULL, 10) : 1;
    for (long i = 0; i < (k < 1 ? 1 : k > 1024 ? 1024 : k); i++)
      ods_put(x, " ", 1);
  } else if (os->in_p && !os->has_value && is_el(name, NS_TEXT, "tab")) {
    ods_put(x, "\t", 1);
  } else if (os->in_p && !os->has_value && is_el(name, NS_TEXT, "line-break")) {
    ods_put(x, "\n", 1);
  } else if (is_el(name, NS_OFFICE, "annotation") || is_el(name, NS_TABLE, "table")) {
    x->skip = x->depth; /* comments, and tables inside a cell: not the cell's value */
  }
}

static void ods_start(struct xml *x, const char *name, const char **atts)
{
  struct osheet *os = x->ud;
  struct workbook *wb = os->wb;
  if (os->in_cell) {
    ods_cell_start(x, name, atts);
  } else if (!os->in_table && is_el(name, NS_TABLE, "table")) {
    os->in_table = x->depth;
    os->table++;
    if (os->want == -2) { /* listing names */
      const char *n = attr(atts, NS_TABLE, "name");
      if (wb->nsheets == SHEETS_MAX) {
        cb_errf(wb->eb, "the workbook has more than %d sheets (limit)", SHEETS_MAX);
        xml_stop(x, CB_EINVAL);
        return;
      }
      if (!(wb->names[wb->nsheets++] = sheet_name(n)))
        xml_stop(x, CB_ENOMEM);
      x->skip = x->depth;
      os->in_table = 0;
      return;
    }
    os->reading = os->want < 0 || os->want == os->table;
    if (os->reading) {
      rb_reset(os->rb, os->table < wb->nsheets ? wb->names[os->table] : "");
      os->row = 0;
      if (os->sink->begin && os->sink->begin(os->sink->ctx, os->table))
        xml_stop(x, CB_EABORTED);
    } else {
      x->skip = x->depth;
      os->in_table = 0;
    }
  } else if (os->reading && !os->in_row && is_el(name, NS_TABLE, "table-row")) {
    os->in_row = x->depth;
    os->row_repeat = repeated(atts, "number-rows-repeated");
    os->col = 0;
  } else if (os->in_row && (is_el(name, NS_TABLE, "table-cell") || is_el(name, NS_TABLE, "covered-table-cell"))) {
    os->in_cell = x->depth;
    os->cell_repeat = repeated(atts, "number-columns-repeated");
    cb_buf_reset(&os->val);
    os->has_value = ods_value(atts, &os->val);
    os->paras = os->in_p = 0;
  }
}

static cb_err ods_cell_end(struct osheet *os)
{
  cb_err e = CB_OK;
  for (uint64_t k = 0; os->val.len && k < os->cell_repeat && !e; k++)
    e = rb_cell(os->rb, os->col + k, os->val.data, os->val.len);
  os->col = os->col + os->cell_repeat < os->col ? UINT64_MAX : os->col + os->cell_repeat;
  return e;
}

static cb_err ods_row_end(struct osheet *os)
{
  if (os->rb->n && os->row + os->row_repeat > SHEET_ROWS_MAX) {
    cb_errf(os->wb->eb, "sheet '%.200s': a value in row %llu, beyond row %d (the limit)", os->rb->sheet,
            (unsigned long long)(os->row + os->row_repeat), SHEET_ROWS_MAX);
    return CB_EINVAL;
  }
  os->row += os->row_repeat;
  return rb_end(os->rb, os->row_repeat);
}

static void ods_end(struct xml *x, const char *name)
{
  struct osheet *os = x->ud;
  cb_err e = CB_OK;
  if (os->in_cell && os->in_cell == x->depth) {
    os->in_cell = 0;
    e = ods_cell_end(os);
  } else if (os->in_cell && (is_el(name, NS_TEXT, "p") || is_el(name, NS_TEXT, "h"))) {
    os->in_p--;
  } else if (os->in_row == x->depth) {
    os->in_row = 0;
    e = ods_row_end(os);
  } else if (os->in_table == x->depth) {
    os->in_table = 0;
    if (os->sink->end && os->sink->end(os->sink->ctx, os->table))
      e = CB_EABORTED;
    else if (os->want == os->table)
      xml_stop(x, CB_OK); /* the sheet wanted is read */
    os->reading = 0;
  }
  if (e)
    xml_stop(x, e);
}

static void ods_text(struct xml *x, const char *s, size_t n)
{
  struct osheet *os = x->ud;
  if (os->in_cell && os->in_p && !os->has_value)
    ods_put(x, s, n);
}

static const struct xml_handlers ods_handlers = {ods_start, ods_end, ods_text};

/* ---------------------------------------------------------------- opening */

struct memsink {
  char data[256];
  size_t len;
};

static int mem_sink(void *ud, const char *buf, size_t n)
{
  struct memsink *m = ud;
  size_t k = n < sizeof m->data - 1 - m->len ? n : sizeof m->data - 1 - m->len;
  memcpy(m->data + m->len, buf, k);
  m->len += k;
  m->data[m->len] = '\0';
  return 0;
}

/* The first pass: limits from the headers, the format (an ODS mimetype entry, or the
 * workbook part _rels/.rels names), and that part's name. */
static cb_err scan(struct workbook *wb)
{
  cb_err rc = office_zip_open(&wb->z);
  struct archive_entry *e;
  uint64_t declared = 0;
  long n = 0;
  int content = 0, book = 0, other = 0;
  struct rels root = {0};
  while (!rc && !(rc = office_zip_next(&wb->z, &e)) && e) {
    const char *name = office_entry_name(e);
    if (++n > OFFICE_ENTRIES) {
      cb_errf(wb->eb, "refused: the zip has more than %d entries (limit)", OFFICE_ENTRIES);
      rc = CB_EINVAL;
      break;
    }
    uint64_t sz = archive_entry_size_is_set(e) ? (uint64_t)archive_entry_size(e) : 0;
    declared += sz;
    if (sz > OFFICE_ENTRY_MAX || declared > OFFICE_TOTAL_MAX) {
      cb_errf(wb->eb, "refused: %.200s%s unpacks to more than %llu MiB (limit)",
              sz > OFFICE_ENTRY_MAX ? name : "the workbook", sz > OFFICE_ENTRY_MAX ? "" : " (as declared)",
              (unsigned long long)((sz > OFFICE_ENTRY_MAX ? OFFICE_ENTRY_MAX : OFFICE_TOTAL_MAX) >> 20));
      rc = CB_EINVAL;
    } else if (!strcmp(name, "mimetype")) {
      struct memsink m = {.len = 0};
      if (!(rc = office_zip_read(&wb->z, e, mem_sink, &m)) && cb_has_prefix(m.data, ODS_MIME))
        wb->format = FMT_ODS;
      else
        other = cb_has_prefix(m.data, "application/vnd.oasis.opendocument.");
    } else if (!strcmp(name, "_rels/.rels")) {
      rc = parse_entry(wb, e, &rels_handlers, &root);
    } else {
      content |= !strcmp(name, "content.xml");
      book |= !strcmp(name, "xl/workbook.xml");
    }
  }
  const struct rel *office = rc ? NULL : rel_of_type(&root, "officeDocument");
  if (!rc && !wb->format && (office || book)) {
    wb->format = FMT_XLSX;
    wb->book = office ? part_path("", office->target) : strdup("xl/workbook.xml");
    if (!wb->book)
      rc = CB_ENOMEM;
  }
  if (!rc && !wb->format && content && !other)
    wb->format = FMT_ODS;
  rels_free(&root);
  if (rc == CB_ETOOBIG)
    rc = CB_EINVAL;
  if (!rc && !wb->format) {
    cb_errf(wb->eb, other
                      ? "an OpenDocument file of another kind than a spreadsheet"
                      : "not a spreadsheet: the zip holds neither an XLSX workbook nor an OpenDocument spreadsheet");
    rc = CB_EINVAL;
  }
  return rc;
}

/* XLSX: the sheets of the workbook part through its relationships, then the styles and
 * shared strings it names. */
static cb_err open_xlsx(struct workbook *wb)
{
  struct book_state bs = {.wb = wb};
  struct rels rs = {0};
  char *relpath = NULL, *sst = NULL, *styles = NULL;
  const char *slash = strrchr(wb->book, '/');
  struct cb_buf b = {0};
  cb_buf_printf(&b, "%.*s_rels/%s.rels", slash ? (int)(slash - wb->book + 1) : 0, wb->book,
                slash ? slash + 1 : wb->book);
  relpath = cb_buf_steal(&b);
  if (!relpath)
    return CB_ENOMEM;
  const char *names[] = {wb->book, relpath};
  const struct xml_handlers *const hs[] = {&book_handlers, &rels_handlers};
  void *const uds[] = {&bs, &rs};
  int found[2] = {0, 0};
  cb_err rc = parse_parts(wb, 2, names, hs, uds, found);
  if (!rc && !found[0]) {
    cb_errf(wb->eb, "the workbook part %.200s is missing", wb->book);
    rc = CB_EINVAL;
  }
  /* each sheet's worksheet part; chart and dialog sheets are no tables */
  int kept = 0;
  for (int i = 0; i < wb->nsheets; i++) {
    const struct rel *r = NULL;
    for (size_t k = 0; k < rs.n && !r; k++)
      r = !strcmp(rs.r[k].id, bs.rids[i]) ? &rs.r[k] : NULL;
    const char *kind = r ? strrchr(r->type, '/') : NULL;
    char *name = wb->names[i];
    wb->names[i] = NULL;
    free(bs.rids[i]);
    if (rc || !kind || strcmp(kind + 1, "worksheet")) {
      free(name);
      continue;
    }
    wb->names[kept] = name;
    if (!(wb->parts[kept++] = part_path(wb->book, r->target)))
      rc = CB_ENOMEM;
  }
  wb->nsheets = kept;
  const struct rel *rsst = rel_of_type(&rs, "sharedStrings"), *rsty = rel_of_type(&rs, "styles");
  if (!rc && rsst && !(sst = part_path(wb->book, rsst->target)))
    rc = CB_ENOMEM;
  if (!rc && rsty && !(styles = part_path(wb->book, rsty->target)))
    rc = CB_ENOMEM;
  rels_free(&rs);
  free(relpath);
  struct styles_state ss = {.wb = wb};
  struct sst_state st = {.wb = wb};
  const char *names2[] = {styles, sst};
  const struct xml_handlers *const hs2[] = {&styles_handlers, &sst_handlers};
  void *const uds2[] = {&ss, &st};
  int found2[2] = {0, 0};
  if (!rc && (sst || styles))
    rc = parse_parts(wb, 2, names2, hs2, uds2, found2);
  free(sst);
  free(styles);
  return rc;
}

static const struct sheet_sink no_sink;

cb_err workbook_open(const char *path, struct workbook **out, struct cb_errbuf *eb)
{
  *out = NULL;
  unsigned char head[8];
  FILE *f = fopen(path, "rb");
  size_t hn = f ? fread(head, 1, sizeof head, f) : 0;
  if (!f) {
    cb_errf(eb, "cannot open the file");
    return CB_EIO;
  }
  fclose(f);
  if (office_is_cfb(head, hn)) {
    cb_errf(eb, "the workbook is password-protected (an encrypted OLE2 container, not a zip); save it without a "
                "password to deposit its content");
    return CB_EINVAL;
  }
  struct workbook *wb = calloc(1, sizeof *wb);
  if (!wb)
    return CB_ENOMEM;
  wb->z.path = path;
  wb->z.eb = wb->eb = eb;
  cb_err rc = scan(wb);
  if (!rc && wb->format == FMT_XLSX) {
    rc = open_xlsx(wb);
  } else if (!rc) {
    struct rowbuf rb = {.sink = &no_sink, .eb = eb};
    struct osheet os = {.wb = wb, .rb = &rb, .sink = &no_sink, .want = -2, .table = -1};
    const char *names[] = {"content.xml"};
    const struct xml_handlers *const hs[] = {&ods_handlers};
    void *const uds[] = {&os};
    int found = 0;
    rc = parse_parts(wb, 1, names, hs, uds, &found);
    if (!rc && !found) {
      cb_errf(eb, "the spreadsheet has no content.xml");
      rc = CB_EINVAL;
    }
    cb_buf_free(&os.val);
    rb_free(&rb);
  }
  if (rc) {
    workbook_close(wb);
    return rc;
  }
  *out = wb;
  return CB_OK;
}

void workbook_close(struct workbook *wb)
{
  if (!wb)
    return;
  archive_read_free(wb->z.a);
  for (int i = 0; i < SHEETS_MAX; i++) {
    free(wb->names[i]);
    free(wb->parts[i]);
  }
  free(wb->book);
  free(wb->sst);
  free(wb->sst_off);
  free(wb->xf);
  free(wb->fmts);
  free(wb);
}

const char *workbook_format(const struct workbook *wb)
{
  return wb->format == FMT_ODS ? "ods" : "xlsx";
}

int workbook_sheets(const struct workbook *wb)
{
  return wb->nsheets;
}

const char *workbook_sheet_name(const struct workbook *wb, int i)
{
  return i >= 0 && i < wb->nsheets ? wb->names[i] : NULL;
}

/* ---------------------------------------------------------------- reading sheets */

static cb_err read_xlsx(struct workbook *wb, int i, struct rowbuf *rb, const struct sheet_sink *sink)
{
  struct xsheet xs = {.wb = wb, .rb = rb};
  rb_reset(rb, wb->names[i]);
  if (sink->begin && sink->begin(sink->ctx, i))
    return CB_EABORTED;
  const char *names[] = {wb->parts[i]};
  const struct xml_handlers *const hs[] = {&xsheet_handlers};
  void *const uds[] = {&xs};
  int found = 0;
  cb_err rc = parse_parts(wb, 1, names, hs, uds, &found);
  cb_buf_free(&xs.val);
  if (!rc && !found) {
    cb_errf(wb->eb, "sheet '%.200s': its part %.200s is missing", wb->names[i], wb->parts[i]);
    rc = CB_EINVAL;
  }
  if (!rc && sink->end && sink->end(sink->ctx, i))
    rc = CB_EABORTED;
  return rc;
}

cb_err workbook_read(struct workbook *wb, int sheet, const struct sheet_sink *sink, struct cb_errbuf *eb)
{
  wb->z.eb = wb->eb = eb;
  if (sheet >= wb->nsheets || sheet < -1) {
    cb_errf(eb, "the workbook has no sheet %d (it has %d)", sheet + 1, wb->nsheets);
    return CB_EINVAL;
  }
  struct rowbuf rb = {.sink = sink, .eb = eb};
  cb_err rc = CB_OK;
  if (wb->format == FMT_XLSX) {
    for (int i = sheet < 0 ? 0 : sheet; !rc && i < (sheet < 0 ? wb->nsheets : sheet + 1); i++)
      rc = read_xlsx(wb, i, &rb, sink);
  } else {
    struct osheet os = {.wb = wb, .rb = &rb, .sink = sink, .want = sheet, .table = -1};
    const char *names[] = {"content.xml"};
    const struct xml_handlers *const hs[] = {&ods_handlers};
    void *const uds[] = {&os};
    int found = 0;
    rc = parse_parts(wb, 1, names, hs, uds, &found);
    cb_buf_free(&os.val);
  }
  rb_free(&rb);
  return rc;
}

/* ---------------------------------------------------------------- sniffing */

int sheets_container(const unsigned char *head, size_t len)
{
  return (len >= 4 && !memcmp(head, "PK\3\4", 4)) || office_is_cfb(head, len);
}

/* What a head-of-zip entry proves: 1 a spreadsheet, -1 another office document, 0 nothing. */
static int proves(const char *name, const char *data, size_t n)
{
  if (!strcmp(name, "mimetype"))
    return n >= sizeof ODS_MIME - 1 && !memcmp(data, ODS_MIME, sizeof ODS_MIME - 1) ? 1 : -1;
  static const char tail[] = ".main+xml";
  for (size_t i = 0; i + sizeof tail - 1 <= n; i++) {
    if (memcmp(data + i, tail, sizeof tail - 1))
      continue;
    size_t start = i;
    while (start > 0 && data[start - 1] != '"' && data[start - 1] != '\'' && i - start < 200)
      start--;
    int sheet = 0;
    for (size_t j = start; j < i; j++)
      sheet |= !strncmp(data + j, "spreadsheetml.", 14) || !strncmp(data + j, "ms-excel.", 9);
    return sheet ? 1 : -1;
  }
  return 0;
}

/* office_judge_fn: what proves() says; an xl/ part's name is a hint (*ctx). */
static int judge(void *ctx, const char *name, const char *data, size_t n)
{
  if (data)
    return proves(name, data, n);
  if (cb_has_prefix(name, "xl/") && cb_has_suffix(name, ".xml"))
    *(int *)ctx = 1;
  return 0;
}

int sheets_sniff(const unsigned char *head, size_t len, const char *name)
{
  int named = suffix_is(name, sheets_suffixes);
  if (office_is_cfb(head, len)) /* an encrypted OOXML workbook: claimed, to fail clearly */
    return suffix_is(name, ooxml_suffixes) ? 60 : 0;
  int hint = 0, score = office_zip_head_scan(head, len, judge, &hint);
  if (score)
    return score > 0 ? 85 : 0;
  return hint ? 75 : named ? 60 : 0;
}
