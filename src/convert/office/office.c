/* Office documents, OOXML and ODF (docx, pptx, odt, odp, and their template and
 * macro-enabled forms), through libarchive (the zip) and expat (the XML, streamed): the
 * text as the "text" artifact, slide counts, document properties (docProps/core.xml and
 * app.xml, or ODF's meta.xml), and ODF's embedded thumbnail as the "preview" artifact.
 * Spreadsheets (xlsx, ods) are tables (table/sheets.c), which take their document
 * properties from office_properties here.
 *
 * The zip is read in three passes over its entries (headers are cheap: libarchive reads
 * the central directory, and skipping an entry decompresses nothing):
 *   0. limits from the headers (entry count, declared sizes), the type ([Content_Types].xml
 *      or the ODF mimetype entry), which parts play which role;
 *   1. the small parts needed before the text: the properties;
 *   2. the text parts, streamed through expat into the text artifact.
 *
 * Limits (a zip bomb fails the job, it never fills the disk or the memory): at most
 * OFFICE_ENTRIES entries; no entry over OFFICE_ENTRY_MAX and no total over OFFICE_TOTAL_MAX,
 * declared or actually decompressed (bytes are counted as they come out, headers are not
 * trusted); no entry decompressing at more than OFFICE_RATIO_MAX:1. XML that declares
 * entities is refused (billion laughs), expat loads no external entity or DTD, and its
 * amplification guard stays on. The text is capped at OFFICE_TEXT_MAX bytes, cut on a
 * character boundary. */
#include <archive.h>
#include <archive_entry.h>
#include <errno.h>
#include <expat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "convert/converter.h"
#include "convert/office/office.h"
#include "convert/office/zip.h"
#include "convert/xml.h"
#include "util/util.h"

#define OFFICE_TEXT_MAX (16u << 20)
#define OFFICE_VALUE_MAX (64u << 10) /* one property value */
#define OFFICE_THUMB_MAX (2u << 20)

static const char *const suffixes[] = {".docx", ".docm", ".dotx", ".dotm", ".pptx", ".pptm", ".potx",
                                       ".ppsx", ".odt",  ".ott",  ".odp",  ".otp",  NULL};
static const char *const ooxml_suffixes[] = {".docx", ".docm", ".pptx", ".pptm", NULL};

enum doctype { DT_NONE, DT_DOCX, DT_XLSX, DT_PPTX, DT_ODT, DT_ODS, DT_ODP };
static const char *const dt_name[] = {"", "docx", "xlsx", "pptx", "odt", "ods", "odp"};

enum role { R_NONE, R_DOCUMENT, R_SLIDE, R_CORE, R_APP, R_CONTENT, R_META, R_THUMB };

#define NS_MC "http://schemas.openxmlformats.org/markup-compatibility/2006"
#define NS_TEXT "urn:oasis:names:tc:opendocument:xmlns:text:1.0"
#define NS_DRAW "urn:oasis:names:tc:opendocument:xmlns:drawing:1.0"
#define NS_META "urn:oasis:names:tc:opendocument:xmlns:meta:1.0"
#define NS_SEP '|'

/* ---- telling the type ---- */

/* The document type a [Content_Types].xml content type names for the main part. */
static enum doctype main_ct_type(const char *ct, size_t n)
{
  static const char tail[] = ".main+xml";
  if (n < sizeof tail - 1 || memcmp(ct + n - (sizeof tail - 1), tail, sizeof tail - 1))
    return DT_NONE;
  static const struct {
    const char *needle;
    enum doctype t;
  } kinds[] = {{"wordprocessingml.", DT_DOCX}, {"ms-word.", DT_DOCX},        {"spreadsheetml.", DT_XLSX},
               {"ms-excel.", DT_XLSX},         {"presentationml.", DT_PPTX}, {"ms-powerpoint.", DT_PPTX}};
  for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
    size_t k = strlen(kinds[i].needle);
    for (size_t j = 0; j + k <= n; j++)
      if (!memcmp(ct + j, kinds[i].needle, k))
        return kinds[i].t;
  }
  return DT_NONE;
}

/* The type an ODF mimetype entry names; DT_NONE for other ODF kinds (drawings, formulas). */
static enum doctype odf_type(const char *s, size_t n)
{
  static const char pre[] = "application/vnd.oasis.opendocument.";
  while (n && (s[n - 1] == '\n' || s[n - 1] == '\r' || s[n - 1] == ' '))
    n--;
  if (n < sizeof pre - 1 || memcmp(s, pre, sizeof pre - 1))
    return DT_NONE;
  s += sizeof pre - 1, n -= sizeof pre - 1;
  static const struct {
    const char *sub;
    enum doctype t;
  } kinds[] = {{"text", DT_ODT},
               {"text-template", DT_ODT},
               {"text-master", DT_ODT},
               {"spreadsheet", DT_ODS},
               {"spreadsheet-template", DT_ODS},
               {"presentation", DT_ODP},
               {"presentation-template", DT_ODP}};
  for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
    if (strlen(kinds[i].sub) == n && !memcmp(s, kinds[i].sub, n))
      return kinds[i].t;
  return DT_NONE;
}

/* Scans [Content_Types].xml text (possibly cut short) for a main part's content type. */
static enum doctype ct_text_type(const char *s, size_t n)
{
  static const char tail[] = ".main+xml";
  for (size_t i = 0; i + sizeof tail - 1 <= n; i++) {
    if (memcmp(s + i, tail, sizeof tail - 1))
      continue;
    size_t end = i + sizeof tail - 1, start = i;
    while (start > 0 && s[start - 1] != '"' && s[start - 1] != '\'' && s[start - 1] != '>' && i - start < 200)
      start--;
    enum doctype t = main_ct_type(s + start, end - start);
    if (t)
      return t;
  }
  return DT_NONE;
}

/* Content first: a zip whose first entries include an ODF mimetype or a [Content_Types].xml
 * naming a Word or PowerPoint main part (a spreadsheet is the table converter's). A zip with
 * office parts but no proof in the head, or with an office suffix, is still ours (the suffix
 * adds 10 on top). An OLE2 container with an OOXML suffix is an encrypted OOXML document:
 * claimed, to fail clearly. */
/* What a member proves (office_judge_fn): 80 a document of ours, -1 a spreadsheet (a
 * table) or another OpenDocument kind; a Word or PowerPoint part's name is a hint (*ctx). */
static int judge(void *ctx, const char *name, const char *data, size_t n)
{
  if (!data) {
    if (!strncmp(name, "word/", 5) || !strncmp(name, "ppt/", 4))
      *(int *)ctx = 70;
    return 0;
  }
  int mt = !strcmp(name, "mimetype");
  enum doctype t = mt ? odf_type(data, n) : ct_text_type(data, n);
  if (t == DT_XLSX || t == DT_ODS)
    return -1;
  return t ? 80 : mt ? -1 : 0;
}

static int sniff(const unsigned char *head, size_t len, const struct cb_convert_input *in)
{
  if (office_is_cfb(head, len))
    return suffix_is(in->name, ooxml_suffixes) ? 60 : 0;
  int hint = 0, score = office_zip_head_scan(head, len, judge, &hint);
  if (score)
    return score < 0 ? 0 : score;
  if (hint)
    return hint;
  return suffix_is(in->name, suffixes) ? 60 : 0;
}

/* ---- the extraction context ---- */

enum field {
  F_TITLE,
  F_CREATOR,
  F_INITIAL_CREATOR,
  F_SUBJECT,
  F_DESCRIPTION,
  F_KEYWORDS,
  F_LAST_BY,
  F_CREATED,
  F_MODIFIED,
  F_APPLICATION,
  F_COMPANY,
  F_PAGES,
  F_WORDS,
  F_PARAGRAPHS,
  F_CHARACTERS,
  F_LINES,
  F_SLIDES,
  F_COUNT
};

struct part {
  char *name; /* without the leading slash */
  enum role role;
};

struct ctx {
  struct convert_xml head; /* first: the XML part being parsed; entity declarations refused */
  enum doctype type;
  struct office_zip z;
  struct cb_errbuf *eb;
  /* [Content_Types].xml overrides that matter, sorted by name */
  struct part *parts;
  size_t nparts, partcap;
  /* the XML part being parsed (its parser: head) */
  enum role role;
  const char *part_name;
  int failed;      /* out of memory in a handler */
  int depth, skip; /* skip: depth of the subtree being ignored, 0 = none */
  /* text artifact */
  FILE *out;
  uint64_t written;
  int truncated;
  /* capture of one element's text (property values) */
  struct cb_buf cap;
  int capturing; /* depth of the element being captured */
  int cap_field;
  char *meta[F_COUNT];
  long slide_count;
  /* text state */
  int in_run, in_t, in_para;
  int wrote_in_part;
  /* ODF thumbnail */
  FILE *thumb;
  size_t thumb_len;
};

static void text_put(struct ctx *c, const char *s, size_t n)
{
  if (c->truncated || !n)
    return;
  uint64_t room = OFFICE_TEXT_MAX - c->written;
  if (n > room) {
    size_t k = (size_t)room;
    while (k > 0 && ((unsigned char)s[k] & 0xc0) == 0x80)
      k--;
    n = k;
    c->truncated = 1;
  }
  if (n)
    fwrite(s, 1, n, c->out);
  c->written += n;
  c->wrote_in_part = 1;
}

/* Puts s with each line break and tab as a space. */
static void text_put_flat(struct ctx *c, const char *s, size_t n)
{
  size_t i = 0;
  while (i < n) {
    size_t j = i;
    while (j < n && s[j] != '\n' && s[j] != '\r' && s[j] != '\t')
      j++;
    text_put(c, s + i, j - i);
    if (j < n)
      text_put(c, " ", 1);
    i = j + 1;
  }
}

/* Splits an expat "namespace|local" name. */
static const char *local_of(const XML_Char *name, const char **ns, size_t *nslen)
{
  const char *bar = strrchr(name, NS_SEP);
  if (!bar) {
    *ns = "", *nslen = 0;
    return name;
  }
  *ns = name, *nslen = (size_t)(bar - name);
  return bar + 1;
}

static int ns_is(const char *ns, size_t nslen, const char *want)
{
  return strlen(want) == nslen && !memcmp(ns, want, nslen);
}

static const char *attr(const XML_Char **atts, const char *local)
{
  for (int i = 0; atts[i]; i += 2) {
    const char *bar = strrchr(atts[i], NS_SEP);
    if (!strcmp(bar ? bar + 1 : atts[i], local))
      return atts[i + 1];
  }
  return NULL;
}

static void oom(struct ctx *c)
{
  if (!c->failed) {
    c->failed = 1;
    XML_StopParser(c->head.p, XML_FALSE);
  }
}

static void capture_start(struct ctx *c, int field)
{
  cb_buf_reset(&c->cap);
  c->capturing = c->depth;
  c->cap_field = field;
}

static void capture_chars(struct ctx *c, const char *s, int len)
{
  if (c->capturing && c->cap.len + (size_t)len <= OFFICE_VALUE_MAX && cb_buf_append(&c->cap, s, (size_t)len))
    oom(c);
}

static char *trimmed_copy(const char *s, size_t n)
{
  while (n && (*s == ' ' || *s == '\n' || *s == '\r' || *s == '\t'))
    s++, n--;
  while (n && (s[n - 1] == ' ' || s[n - 1] == '\n' || s[n - 1] == '\r' || s[n - 1] == '\t'))
    n--;
  char *r = malloc(n + 1);
  if (r) {
    memcpy(r, s, n);
    r[n] = 0;
  }
  return r;
}

static void set_field(struct ctx *c, int f, const char *s, size_t n)
{
  char *v = trimmed_copy(s, n);
  if (!v) {
    oom(c);
    return;
  }
  if (!*v) {
    free(v);
    return;
  }
  if (c->meta[f] && f == F_KEYWORDS) { /* ODF has one meta:keyword per keyword */
    size_t a = strlen(c->meta[f]), b = strlen(v);
    char *j = a + b + 3 <= OFFICE_VALUE_MAX ? realloc(c->meta[f], a + b + 3) : NULL;
    if (j) {
      memcpy(j + a, ", ", 2);
      memcpy(j + a + 2, v, b + 1);
      c->meta[f] = j;
    }
    free(v);
    return;
  }
  if (c->meta[f]) {
    free(v);
    return;
  }
  c->meta[f] = v;
}

static void capture_end(struct ctx *c)
{
  if (c->capturing && c->capturing == c->depth) {
    set_field(c, c->cap_field, c->cap.data ? c->cap.data : "", c->cap.len);
    c->capturing = 0;
  }
}

/* ---- metadata: docProps/core.xml, docProps/app.xml, meta.xml ---- */

static const struct {
  enum role role;
  const char *local;
  int field;
} meta_map[] = {
  {R_CORE, "title", F_TITLE},
  {R_CORE, "creator", F_CREATOR},
  {R_CORE, "subject", F_SUBJECT},
  {R_CORE, "description", F_DESCRIPTION},
  {R_CORE, "keywords", F_KEYWORDS},
  {R_CORE, "lastModifiedBy", F_LAST_BY},
  {R_CORE, "created", F_CREATED},
  {R_CORE, "modified", F_MODIFIED},
  {R_APP, "Application", F_APPLICATION},
  {R_APP, "Company", F_COMPANY},
  {R_APP, "Pages", F_PAGES},
  {R_APP, "Words", F_WORDS},
  {R_APP, "Paragraphs", F_PARAGRAPHS},
  {R_APP, "Characters", F_CHARACTERS},
  {R_APP, "Lines", F_LINES},
  {R_APP, "Slides", F_SLIDES},
  {R_META, "title", F_TITLE},
  {R_META, "initial-creator", F_INITIAL_CREATOR},
  {R_META, "creator", F_LAST_BY}, /* in ODF, dc:creator is who saved it last */
  {R_META, "subject", F_SUBJECT},
  {R_META, "description", F_DESCRIPTION},
  {R_META, "keyword", F_KEYWORDS},
  {R_META, "creation-date", F_CREATED},
  {R_META, "date", F_MODIFIED},
  {R_META, "generator", F_APPLICATION},
};

static void meta_start(struct ctx *c, const char *local, const char *ns, size_t nslen, const XML_Char **atts)
{
  /* properties are children of the root (core, app) or of office:meta (meta.xml) */
  if (c->depth != (c->role == R_META ? 3 : 2))
    return;
  if (c->role == R_META && !strcmp(local, "document-statistic") && ns_is(ns, nslen, NS_META)) {
    static const struct {
      const char *a;
      int f;
    } st[] = {{"page-count", F_PAGES},
              {"paragraph-count", F_PARAGRAPHS},
              {"word-count", F_WORDS},
              {"character-count", F_CHARACTERS}};
    for (size_t i = 0; i < sizeof st / sizeof st[0]; i++) {
      const char *v = attr(atts, st[i].a);
      if (v)
        set_field(c, st[i].f, v, strlen(v));
    }
    return;
  }
  for (size_t i = 0; i < sizeof meta_map / sizeof meta_map[0]; i++)
    if (meta_map[i].role == c->role && !strcmp(meta_map[i].local, local)) {
      capture_start(c, meta_map[i].field);
      return;
    }
}

/* ---- docx and pptx ---- */

static void wml_start(struct ctx *c, const char *local)
{
  if (!strcmp(local, "r"))
    c->in_run++;
  else if (!strcmp(local, "t"))
    c->in_t = 1;
  else if (c->in_run && !strcmp(local, "tab"))
    text_put(c, "\t", 1);
  else if ((c->in_run || c->role == R_SLIDE) && (!strcmp(local, "br") || !strcmp(local, "cr")))
    text_put(c, "\n", 1);
}

static void wml_end(struct ctx *c, const char *local)
{
  if (!strcmp(local, "r")) {
    if (c->in_run)
      c->in_run--;
  } else if (!strcmp(local, "t")) {
    c->in_t = 0;
  } else if (!strcmp(local, "p")) {
    text_put(c, "\n", 1);
  }
}

/* ---- ODF content.xml ---- */

static void odf_start(struct ctx *c, const char *local, const char *ns, size_t nslen, const XML_Char **atts)
{
  if (ns_is(ns, nslen, NS_TEXT)) {
    if (!strcmp(local, "p") || !strcmp(local, "h")) {
      c->in_para++;
    } else if (!strcmp(local, "tracked-changes") || !strcmp(local, "sequence-decls") ||
               !strcmp(local, "variable-decls") || !strcmp(local, "user-field-decls")) {
      c->skip = c->depth;
    } else if (c->in_para && !strcmp(local, "s")) {
      const char *k = attr(atts, "c");
      long n = k ? strtol(k, NULL, 10) : 1;
      n = n < 1 ? 1 : n > 64 ? 64 : n;
      char sp[64];
      memset(sp, ' ', (size_t)n);
      text_put(c, sp, (size_t)n);
    } else if (c->in_para && !strcmp(local, "tab")) {
      text_put_flat(c, "\t", 1); /* as the paragraph's own whitespace: a space */
    } else if (c->in_para && !strcmp(local, "line-break")) {
      text_put(c, "\n", 1);
    }
  } else if (ns_is(ns, nslen, NS_DRAW) && !strcmp(local, "page") && c->type == DT_ODP) {
    c->slide_count++;
  }
}

static void odf_end(struct ctx *c, const char *local, const char *ns, size_t nslen)
{
  if (ns_is(ns, nslen, NS_TEXT)) {
    if ((!strcmp(local, "p") || !strcmp(local, "h")) && c->in_para > 0 && --c->in_para == 0)
      text_put(c, "\n", 1);
  } else if (ns_is(ns, nslen, NS_DRAW) && !strcmp(local, "page") && c->type == DT_ODP) {
    text_put(c, "\n", 1);
  }
}

/* ---- expat glue ---- */

static void XMLCALL on_start(void *ud, const XML_Char *name, const XML_Char **atts)
{
  struct ctx *c = ud;
  c->depth++;
  if (c->skip)
    return;
  const char *ns;
  size_t nslen;
  const char *local = local_of(name, &ns, &nslen);
  if (!strcmp(local, "Fallback") && ns_is(ns, nslen, NS_MC)) { /* the same content, for older readers */
    c->skip = c->depth;
    return;
  }
  switch (c->role) {
  case R_CORE:
  case R_APP:
  case R_META: meta_start(c, local, ns, nslen, atts); break;
  case R_DOCUMENT:
  case R_SLIDE: wml_start(c, local); break;
  case R_CONTENT: odf_start(c, local, ns, nslen, atts); break;
  default: break;
  }
}

static void XMLCALL on_end(void *ud, const XML_Char *name)
{
  struct ctx *c = ud;
  if (c->skip) {
    if (c->skip == c->depth)
      c->skip = 0;
    c->depth--;
    return;
  }
  const char *ns;
  size_t nslen;
  const char *local = local_of(name, &ns, &nslen);
  switch (c->role) {
  case R_CORE:
  case R_APP:
  case R_META: capture_end(c); break;
  case R_DOCUMENT:
  case R_SLIDE: wml_end(c, local); break;
  case R_CONTENT: odf_end(c, local, ns, nslen); break;
  default: break;
  }
  c->depth--;
}

static void XMLCALL on_chars(void *ud, const XML_Char *s, int len)
{
  struct ctx *c = ud;
  if (c->skip || len <= 0)
    return;
  switch (c->role) {
  case R_CORE:
  case R_APP:
  case R_META: capture_chars(c, s, len); break;
  case R_DOCUMENT:
  case R_SLIDE:
    if (c->in_t)
      text_put(c, s, (size_t)len);
    break;
  case R_CONTENT:
    if (c->in_para) /* whitespace inside paragraphs is not significant in ODF */
      text_put_flat(c, s, (size_t)len);
    break;
  default: break;
  }
}

static int xml_sink(void *ud, const char *buf, size_t n)
{
  struct ctx *c = ud;
  if (XML_Parse(c->head.p, buf, (int)n, 0) != XML_STATUS_ERROR)
    return 0;
  return -1;
}

static void xml_error(struct ctx *c, const char *name)
{
  if (c->head.refused)
    cb_errf(c->eb,
            "refused: %.200s declares XML entities (a possible entity-expansion attack); office documents have none",
            name);
  else if (c->failed)
    cb_errf(c->eb, "out of memory while reading %.200s", name);
  else
    cb_errf(c->eb, "%.200s is not well-formed XML: %s (line %lu)", name, XML_ErrorString(XML_GetErrorCode(c->head.p)),
            (unsigned long)XML_GetCurrentLineNumber(c->head.p));
}

/* Streams the current entry through expat with the handlers for role. */
static cb_err parse_part(struct ctx *c, struct archive_entry *e, enum role role)
{
  const char *name = office_entry_name(e);
  if (convert_xml_create(&c->head, NS_SEP))
    return CB_ENOMEM;
  XML_SetElementHandler(c->head.p, on_start, on_end);
  XML_SetCharacterDataHandler(c->head.p, on_chars);
  c->role = role;
  c->part_name = name;
  c->failed = 0;
  c->depth = c->skip = c->capturing = 0;
  c->in_run = c->in_t = c->in_para = 0;
  c->wrote_in_part = 0;
  cb_err rc = office_zip_read(&c->z, e, xml_sink, c);
  if (!rc && XML_Parse(c->head.p, "", 0, 1) == XML_STATUS_ERROR)
    rc = CB_EINVAL;
  if (rc == CB_EINVAL && !c->eb->msg[0])
    xml_error(c, name);
  if (!rc && c->failed)
    rc = CB_ENOMEM, xml_error(c, name);
  XML_ParserFree(c->head.p);
  c->head.p = NULL;
  c->role = R_NONE;
  return rc;
}

/* ---- [Content_Types].xml and the roles of parts ---- */

static void XMLCALL on_ct_start(void *ud, const XML_Char *name, const XML_Char **atts)
{
  struct ctx *c = ud;
  const char *ns;
  size_t nslen;
  if (strcmp(local_of(name, &ns, &nslen), "Override"))
    return;
  const char *pn = attr(atts, "PartName"), *ct = attr(atts, "ContentType");
  if (!pn || !ct)
    return;
  size_t n = strlen(ct);
  enum role r = R_NONE;
  enum doctype t = main_ct_type(ct, n);
  if (t) {
    if (!c->type)
      c->type = t;
    r = t == DT_DOCX ? R_DOCUMENT : R_NONE;
  } else if (strstr(ct, "presentationml.slide+xml")) {
    r = R_SLIDE;
  } else if (strstr(ct, "package.core-properties+xml")) {
    r = R_CORE;
  } else if (strstr(ct, "officedocument.extended-properties+xml")) {
    r = R_APP;
  }
  if (r == R_NONE || c->nparts >= OFFICE_ENTRIES)
    return;
  if (c->nparts == c->partcap) {
    size_t cap = c->partcap ? c->partcap * 2 : 64;
    struct part *p = realloc(c->parts, cap * sizeof *p);
    if (!p) {
      oom(c);
      return;
    }
    c->parts = p, c->partcap = cap;
  }
  char *copy = strdup(pn[0] == '/' ? pn + 1 : pn);
  if (!copy) {
    oom(c);
    return;
  }
  c->parts[c->nparts].name = copy;
  c->parts[c->nparts++].role = r;
}

static int part_cmp(const void *a, const void *b)
{
  return strcmp(((const struct part *)a)->name, ((const struct part *)b)->name);
}

static cb_err parse_ctypes(struct ctx *c, struct archive_entry *e)
{
  if (convert_xml_create(&c->head, NS_SEP))
    return CB_ENOMEM;
  XML_SetStartElementHandler(c->head.p, on_ct_start);
  c->failed = 0;
  cb_err rc = office_zip_read(&c->z, e, xml_sink, c);
  if (!rc && XML_Parse(c->head.p, "", 0, 1) == XML_STATUS_ERROR)
    rc = CB_EINVAL;
  if (rc == CB_EINVAL && !c->eb->msg[0])
    xml_error(c, office_entry_name(e));
  if (!rc && c->failed)
    rc = CB_ENOMEM, xml_error(c, office_entry_name(e));
  XML_ParserFree(c->head.p);
  c->head.p = NULL;
  return rc;
}

/* What part `name` is for the document: [Content_Types].xml's word first, then the
 * conventional names. */
static enum role role_of(struct ctx *c, const char *name)
{
  enum role r = R_NONE;
  if (c->nparts) {
    struct part key = {(char *)name, R_NONE};
    struct part *p = bsearch(&key, c->parts, c->nparts, sizeof *c->parts, part_cmp);
    if (p)
      r = p->role;
  }
  switch (c->type) {
  case DT_DOCX:
    if (!r && !strcmp(name, "word/document.xml"))
      r = R_DOCUMENT;
    break;
  case DT_XLSX: break; /* only its properties: its sheets are sheets.c's */
  case DT_PPTX:
    if (!r && cb_has_prefix(name, "ppt/slides/") && cb_has_suffix(name, ".xml") && !strchr(name + 11, '/'))
      r = R_SLIDE;
    break;
  case DT_ODT:
  case DT_ODS:
  case DT_ODP:
    if (!strcmp(name, "content.xml"))
      return R_CONTENT;
    if (!strcmp(name, "meta.xml"))
      return R_META;
    if (!strcmp(name, "Thumbnails/thumbnail.png"))
      return R_THUMB;
    return R_NONE;
  default: return R_NONE;
  }
  if (!r && !strcmp(name, "docProps/core.xml"))
    r = R_CORE;
  if (!r && !strcmp(name, "docProps/app.xml"))
    r = R_APP;
  /* a part of another document's kind (a slide in a docx) has no role here */
  if (r == R_SLIDE && c->type != DT_PPTX)
    r = R_NONE;
  if (r == R_DOCUMENT && c->type != DT_DOCX)
    r = R_NONE;
  return r;
}

/* ---- small sinks ---- */

struct membuf {
  char data[256];
  size_t len;
};

static int mem_sink(void *ud, const char *buf, size_t n)
{
  struct membuf *m = ud;
  size_t k = n < sizeof m->data - m->len ? n : sizeof m->data - m->len;
  memcpy(m->data + m->len, buf, k);
  m->len += k;
  return 0;
}

static int thumb_sink(void *ud, const char *buf, size_t n)
{
  struct ctx *c = ud;
  if (c->thumb && c->thumb_len + n <= OFFICE_THUMB_MAX && fwrite(buf, 1, n, c->thumb) == n)
    c->thumb_len += n;
  else if (c->thumb) {
    fclose(c->thumb);
    c->thumb = NULL;
    c->thumb_len = 0;
  }
  return 0;
}

/* ---- the passes ---- */

/* Pass 0: counts, declared sizes, the type. */
static cb_err pass_scan(struct ctx *c, const struct cb_convert_input *in, long *entries)
{
  cb_err rc = office_zip_open(&c->z);
  if (rc)
    return rc;
  uint64_t declared = 0;
  long n = 0;
  int seen_doc = 0, seen_book = 0, seen_pres = 0, seen_content = 0;
  enum doctype odf = DT_NONE;
  int odf_other = 0;
  struct archive_entry *e;
  while (!(rc = office_zip_next(&c->z, &e)) && e) {
    const char *name = office_entry_name(e);
    if (++n > OFFICE_ENTRIES) {
      cb_errf(c->eb, "refused: the zip has more than %d entries (limit)", OFFICE_ENTRIES);
      return CB_ETOOBIG;
    }
    if (archive_entry_size_is_set(e)) {
      uint64_t sz = (uint64_t)archive_entry_size(e);
      if (sz > OFFICE_ENTRY_MAX) {
        cb_errf(c->eb, "refused: %.200s is %llu MiB uncompressed, over the %llu MiB limit for one entry", name,
                (unsigned long long)(sz >> 20), (unsigned long long)(OFFICE_ENTRY_MAX >> 20));
        return CB_ETOOBIG;
      }
      declared += sz;
      if (declared > OFFICE_TOTAL_MAX) {
        cb_errf(c->eb, "refused: the zip's entries add up to more than %llu MiB uncompressed (limit)",
                (unsigned long long)(OFFICE_TOTAL_MAX >> 20));
        return CB_ETOOBIG;
      }
    }
    if (!strcmp(name, "mimetype")) {
      struct membuf m = {.len = 0};
      if ((rc = office_zip_read(&c->z, e, mem_sink, &m)))
        return rc;
      odf = odf_type(m.data, m.len);
      odf_other = !odf && m.len > 35 && !memcmp(m.data, "application/vnd.oasis.opendocument.", 35);
    } else if (!strcmp(name, "[Content_Types].xml")) {
      if ((rc = parse_ctypes(c, e)))
        return rc;
    } else {
      seen_doc |= !strcmp(name, "word/document.xml");
      seen_book |= !strcmp(name, "xl/workbook.xml");
      seen_pres |= !strcmp(name, "ppt/presentation.xml");
      seen_content |= !strcmp(name, "content.xml");
    }
  }
  if (rc)
    return rc;
  if (odf)
    c->type = odf;
  if (!c->type)
    c->type = seen_doc ? DT_DOCX : seen_book ? DT_XLSX : seen_pres ? DT_PPTX : DT_NONE;
  if (!c->type && seen_content && !odf_other) {
    const char *s = in->name;
    c->type = suffix_is(s, (const char *const[]){".odt", ".ott", NULL})   ? DT_ODT
              : suffix_is(s, (const char *const[]){".ods", ".ots", NULL}) ? DT_ODS
              : suffix_is(s, (const char *const[]){".odp", ".otp", NULL}) ? DT_ODP
                                                                          : DT_NONE;
  }
  if (!c->type) {
    cb_errf(c->eb, odf_other ? "an OpenDocument file of a kind other than text, spreadsheet or presentation"
                             : "not an office document: the zip has neither a [Content_Types].xml naming a Word, Excel "
                               "or PowerPoint main part nor an OpenDocument mimetype");
    return CB_EINVAL;
  }
  if (c->nparts)
    qsort(c->parts, c->nparts, sizeof *c->parts, part_cmp);
  *entries = n;
  return CB_OK;
}

static cb_err pass_parts(struct ctx *c, int text_pass, long entries, cb_progress_fn progress, void *pctx,
                         const char *thumbpath)
{
  cb_err rc = office_zip_open(&c->z);
  if (rc)
    return rc;
  struct archive_entry *e;
  long i = 0;
  while (!(rc = office_zip_next(&c->z, &e)) && e) {
    const char *name = office_entry_name(e);
    enum role r = role_of(c, name);
    if (!text_pass && r == R_SLIDE)
      c->slide_count++;
    if (text_pass && !c->truncated && (r == R_DOCUMENT || r == R_SLIDE || r == R_CONTENT)) {
      rc = parse_part(c, e, r);
      if (!rc && c->wrote_in_part && r == R_SLIDE)
        text_put(c, "\n", 1); /* a blank line between slides */
    } else if (!text_pass && (r == R_CORE || r == R_APP || r == R_META)) {
      rc = parse_part(c, e, r);
    } else if (!text_pass && r == R_THUMB && thumbpath && !c->thumb && archive_entry_size_is_set(e) &&
               archive_entry_size(e) <= OFFICE_THUMB_MAX) {
      c->thumb = fopen(thumbpath, "wb");
      c->thumb_len = 0;
      rc = office_zip_read(&c->z, e, thumb_sink, c);
      if (c->thumb && fclose(c->thumb))
        c->thumb_len = 0;
      c->thumb = NULL;
    }
    if (rc)
      return rc;
    i++;
    if (entries)
      progress(pctx, (text_pass ? 0.3 : 0.05) + (text_pass ? 0.65 : 0.25) * (double)i / (double)entries);
  }
  return rc;
}

static void prop_meta(struct ctx *c, cJSON *result, int f, const char *name)
{
  if (c->meta[f])
    result_prop_text(result, name, c->meta[f], NULL, NULL);
}

static void prop_count(struct ctx *c, cJSON *result, int f, const char *name)
{
  if (!c->meta[f])
    return;
  char *end;
  errno = 0;
  long long v = strtoll(c->meta[f], &end, 10);
  if (end != c->meta[f] && !*end && !errno && v >= 0)
    result_prop_num(result, name, (double)v, NULL, NULL);
}

static struct ctx *ctx_new(const struct cb_convert_input *in, struct cb_errbuf *eb)
{
  struct ctx *c = calloc(1, sizeof *c);
  if (!c)
    return NULL;
  eb->msg[0] = 0;
  c->eb = eb;
  c->z.path = in->path, c->z.eb = eb;
  return c;
}

/* Frees c; rc as the converter answers it. */
static cb_err ctx_free(struct ctx *c, cb_err rc)
{
  if (c->out)
    fclose(c->out);
  if (c->thumb)
    fclose(c->thumb);
  if (c->head.p)
    XML_ParserFree(c->head.p);
  archive_read_free(c->z.a);
  for (size_t i = 0; i < c->nparts; i++)
    free(c->parts[i].name);
  free(c->parts);
  for (int i = 0; i < F_COUNT; i++)
    free(c->meta[i]);
  cb_buf_free(&c->cap);
  free(c);
  return rc == CB_ETOOBIG ? CB_EINVAL : rc;
}

/* Passes 0 and 1: the type, the limits, the properties and ODF's thumbnail (at thumbpath). */
static cb_err read_properties(struct ctx *c, const struct cb_convert_input *in, long *entries, cb_progress_fn progress,
                              void *pctx, const char *thumbpath)
{
  unsigned char head[8];
  FILE *f = fopen(in->path, "rb");
  size_t hn = f ? fread(head, 1, sizeof head, f) : 0;
  if (f)
    fclose(f);
  if (!f) {
    cb_errf(c->eb, "cannot open the file");
    return CB_EIO;
  }
  if (office_is_cfb(head, hn)) {
    cb_errf(c->eb, "the document is password-protected (an encrypted OLE2 container, not a zip); save it "
                   "without a password to deposit its content");
    return CB_EINVAL;
  }
  cb_err rc = pass_scan(c, in, entries);
  return rc ? rc : pass_parts(c, 0, *entries, progress, pctx, c->type >= DT_ODT ? thumbpath : NULL);
}

/* What the document states about itself, into result; the thumbnail as the preview when
 * it is a PNG. */
static void put_properties(struct ctx *c, cJSON *result, const char *thumbpath)
{
  result_prop_text(result, "document_type", dt_name[c->type], NULL, NULL);
  if (c->meta[F_INITIAL_CREATOR])
    result_prop_text(result, "creator", c->meta[F_INITIAL_CREATOR], NULL, NULL);
  else if (c->type >= DT_ODT)
    prop_meta(c, result, F_LAST_BY, "creator");
  else
    prop_meta(c, result, F_CREATOR, "creator");
  prop_meta(c, result, F_TITLE, "title");
  prop_meta(c, result, F_SUBJECT, "subject");
  prop_meta(c, result, F_DESCRIPTION, "description");
  prop_meta(c, result, F_KEYWORDS, "keywords");
  prop_meta(c, result, F_LAST_BY, "last_modified_by");
  prop_meta(c, result, F_CREATED, "created");
  prop_meta(c, result, F_MODIFIED, "modified");
  prop_meta(c, result, F_APPLICATION, "application");
  prop_meta(c, result, F_COMPANY, "company");
  prop_count(c, result, F_PAGES, "page_count");
  prop_count(c, result, F_PARAGRAPHS, "paragraph_count");
  prop_count(c, result, F_WORDS, "word_count");
  prop_count(c, result, F_CHARACTERS, "character_count");
  prop_count(c, result, F_LINES, "line_count");
  if (c->type == DT_PPTX || c->type == DT_ODP)
    result_prop_num(result, "slide_count", (double)c->slide_count, NULL, NULL);
  if (c->thumb_len > 8) {
    FILE *t = fopen(thumbpath, "rb");
    unsigned char sig[8] = {0};
    if (t && fread(sig, 1, 8, t) == 8 && !memcmp(sig, "\x89PNG\r\n\x1a\n", 8))
      result_artifact(result, "preview", "image/png", thumbpath);
    if (t)
      fclose(t);
  }
}

static void no_progress(void *ctx, double fraction)
{
  (void)ctx, (void)fraction;
}

cb_err office_properties(const struct cb_convert_input *in, cJSON *result, struct cb_errbuf *eb)
{
  struct ctx *c = ctx_new(in, eb);
  if (!c)
    return CB_ENOMEM;
  char thumbpath[4200];
  snprintf(thumbpath, sizeof thumbpath, "%s/preview.png", in->workdir);
  long entries = 0;
  cb_err rc = read_properties(c, in, &entries, no_progress, NULL, thumbpath);
  if (!rc)
    put_properties(c, result, thumbpath);
  return ctx_free(c, rc);
}

static cb_err extract(const struct cb_convert_input *in, cJSON *result, cb_progress_fn progress, void *pctx,
                      struct cb_errbuf *eb)
{
  struct ctx *c = ctx_new(in, eb);
  if (!c)
    return CB_ENOMEM;
  char textpath[4200], thumbpath[4200];
  snprintf(textpath, sizeof textpath, "%s/text.txt", in->workdir);
  snprintf(thumbpath, sizeof thumbpath, "%s/preview.png", in->workdir);
  long entries = 0;
  cb_err rc = read_properties(c, in, &entries, progress, pctx, thumbpath);
  if (rc)
    goto out;
  c->out = fopen(textpath, "wb");
  if (!c->out) {
    cb_errf(eb, "cannot write the text artifact");
    rc = CB_EIO;
    goto out;
  }
  if ((rc = pass_parts(c, 1, entries, progress, pctx, NULL)))
    goto out;
  int bad = ferror(c->out);
  if (fclose(c->out) || bad) {
    c->out = NULL;
    cb_errf(eb, "cannot write the text artifact");
    rc = CB_EIO;
    goto out;
  }
  c->out = NULL;

  cJSON_AddStringToObject(result, "kind", "office");
  put_properties(c, result, thumbpath);
  if (c->truncated)
    result_prop_text(result, "text_truncated", "true", NULL, NULL);
  result_artifact(result, "text", "text/plain; charset=utf-8", textpath);
  progress(pctx, 1.0);
out:
  return ctx_free(c, rc);
}

/* To txt: the text artifact, made as the extraction makes it (the same parts, the same
 * limits), moved to outpath. */
static cb_err convert(const struct cb_convert_input *in, const char *to, const char *outpath, cJSON *result,
                      cb_progress_fn progress, void *pctx, struct cb_errbuf *eb)
{
  (void)to; /* txt, the one target */
  char textpath[4200];
  snprintf(textpath, sizeof textpath, "%s/text.txt", in->workdir);
  cJSON *scratch = cJSON_CreateObject();
  cb_err rc = scratch ? extract(in, scratch, progress, pctx, eb) : CB_ENOMEM;
  cJSON_Delete(scratch);
  if (!rc && rename(textpath, outpath)) {
    cb_errf(eb, "cannot write the text: %s", strerror(errno));
    rc = CB_EIO;
  }
  if (!rc)
    cJSON_AddStringToObject(result, "media_type", "text/plain; charset=utf-8");
  return rc;
}

static const char *const targets[] = {"txt", NULL};
static const struct converter_desc desc = {"office", "office", suffixes, sniff, NULL};
static const struct converter_ops ops = {extract, convert, targets, NULL};
const struct converter conv_office = {&desc, &ops};
