/* The media type of a file: a first guess from its name (uploads record it before the
 * content is read), and the type its content is (the ingest job records it, replacing the
 * guess).
 *
 * The content's type is libmagic's, made precise where libmagic stops short:
 *   - a zip is an OOXML document when its [Content_Types].xml names a Word, Excel or
 *     PowerPoint main part (or, without one, when it holds word/document.xml,
 *     xl/workbook.xml or ppt/presentation.xml), an OpenDocument one when its `mimetype`
 *     member says so; the zip is read with libarchive (headers and those two small
 *     members only), the XML with expat;
 *   - plain text (or XML) with a name whose type is a text type (chemical/x-mdl-sdfile
 *     for .sdf, text/csv for .csv, ...) takes the name's type, which says more;
 *   - a text type gets "; charset=utf-8" when the bytes read are UTF-8 (ASCII included).
 * Bytes nobody recognises are application/octet-stream, never text/plain. */
#include <archive.h>
#include <archive_entry.h>
#include <expat.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "convert/converter.h"
#include "convert/xml.h"
#include "util/util.h"

#define MEDIA_ZIP_ENTRIES 2000      /* members looked at before giving up */
#define MEDIA_CTYPES_MAX (1u << 20) /* bytes of [Content_Types].xml read */

// clang-format off
static const struct {
  const char *suffix, *media;
} by_name[] = {
  /* chemistry */
  {".mol", "chemical/x-mdl-molfile"}, {".sdf", "chemical/x-mdl-sdfile"},   {".sd", "chemical/x-mdl-sdfile"},
  {".smi", "chemical/x-daylight-smiles"}, {".mol2", "chemical/x-mol2"},    {".pdb", "chemical/x-pdb"},
  {".xyz", "chemical/x-xyz"},         {".cml", "chemical/x-cml"},          {".rxn", "chemical/x-mdl-rxnfile"},
  {".rdf", "chemical/x-mdl-rdfile"},  {".cif", "chemical/x-cif"},          {".inchi", "chemical/x-inchi"},
  /* text */
  {".csv", "text/csv"},               {".tsv", "text/tab-separated-values"}, {".md", "text/markdown"},
  /* office */
  {".docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document"},
  {".dotx", "application/vnd.openxmlformats-officedocument.wordprocessingml.template"},
  {".docm", "application/vnd.ms-word.document.macroEnabled.12"},
  {".dotm", "application/vnd.ms-word.template.macroEnabled.12"},
  {".xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"},
  {".xltx", "application/vnd.openxmlformats-officedocument.spreadsheetml.template"},
  {".xlsm", "application/vnd.ms-excel.sheet.macroEnabled.12"},
  {".xltm", "application/vnd.ms-excel.template.macroEnabled.12"},
  {".pptx", "application/vnd.openxmlformats-officedocument.presentationml.presentation"},
  {".potx", "application/vnd.openxmlformats-officedocument.presentationml.template"},
  {".ppsx", "application/vnd.openxmlformats-officedocument.presentationml.slideshow"},
  {".pptm", "application/vnd.ms-powerpoint.presentation.macroEnabled.12"},
  {".odt", "application/vnd.oasis.opendocument.text"},
  {".ott", "application/vnd.oasis.opendocument.text-template"},
  {".ods", "application/vnd.oasis.opendocument.spreadsheet"},
  {".ots", "application/vnd.oasis.opendocument.spreadsheet-template"},
  {".odp", "application/vnd.oasis.opendocument.presentation"},
  {".otp", "application/vnd.oasis.opendocument.presentation-template"},
};
// clang-format on

const char *convert_media_of_name(const char *name)
{
  for (size_t i = 0; i < sizeof by_name / sizeof by_name[0]; i++)
    if (suffix_is(name, (const char *const[]){by_name[i].suffix, NULL}))
      return by_name[i].media;
  return NULL;
}

/* ---- OOXML and ODF, by their parts ---- */

/* The content type [Content_Types].xml gives a document's main part (ECMA-376 part 1, and
 * Office's macro-enabled forms), and the document's media type. */
static const struct {
  const char *main_part, *media;
} ooxml[] = {
  {"application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml",
   "application/vnd.openxmlformats-officedocument.wordprocessingml.document"},
  {"application/vnd.openxmlformats-officedocument.wordprocessingml.template.main+xml",
   "application/vnd.openxmlformats-officedocument.wordprocessingml.template"},
  {"application/vnd.ms-word.document.macroEnabled.main+xml", "application/vnd.ms-word.document.macroEnabled.12"},
  {"application/vnd.ms-word.template.macroEnabledTemplate.main+xml",
   "application/vnd.ms-word.template.macroEnabled.12"},
  {"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml",
   "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"},
  {"application/vnd.openxmlformats-officedocument.spreadsheetml.template.main+xml",
   "application/vnd.openxmlformats-officedocument.spreadsheetml.template"},
  {"application/vnd.ms-excel.sheet.macroEnabled.main+xml", "application/vnd.ms-excel.sheet.macroEnabled.12"},
  {"application/vnd.ms-excel.template.macroEnabled.main+xml", "application/vnd.ms-excel.template.macroEnabled.12"},
  {"application/vnd.openxmlformats-officedocument.presentationml.presentation.main+xml",
   "application/vnd.openxmlformats-officedocument.presentationml.presentation"},
  {"application/vnd.openxmlformats-officedocument.presentationml.template.main+xml",
   "application/vnd.openxmlformats-officedocument.presentationml.template"},
  {"application/vnd.openxmlformats-officedocument.presentationml.slideshow.main+xml",
   "application/vnd.openxmlformats-officedocument.presentationml.slideshow"},
  {"application/vnd.ms-powerpoint.presentation.macroEnabled.main+xml",
   "application/vnd.ms-powerpoint.presentation.macroEnabled.12"},
  {"application/vnd.ms-powerpoint.slideshow.macroEnabled.main+xml",
   "application/vnd.ms-powerpoint.slideshow.macroEnabled.12"},
  {"application/vnd.ms-powerpoint.template.macroEnabled.main+xml",
   "application/vnd.ms-powerpoint.template.macroEnabled.12"},
};

/* Without a [Content_Types].xml that says, the main part where Office puts it. */
static const struct {
  const char *part, *media;
} ooxml_parts[] = {
  {"word/document.xml", "application/vnd.openxmlformats-officedocument.wordprocessingml.document"},
  {"xl/workbook.xml", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"},
  {"ppt/presentation.xml", "application/vnd.openxmlformats-officedocument.presentationml.presentation"},
};

struct ctypes {
  struct convert_xml head; /* first: the parser; entity declarations refused */
  const char *media;
};

/* <Override ContentType=...> or <Default ContentType=...> naming a main part. */
static void XMLCALL ct_start(void *ud, const XML_Char *name, const XML_Char **atts)
{
  struct ctypes *ct = ud;
  const char *local = strrchr(name, '|');
  local = local ? local + 1 : name;
  if (ct->media || (strcmp(local, "Override") && strcmp(local, "Default")))
    return;
  for (int i = 0; atts[i]; i += 2) {
    const char *an = strrchr(atts[i], '|');
    if (strcmp(an ? an + 1 : atts[i], "ContentType"))
      continue;
    for (size_t k = 0; k < sizeof ooxml / sizeof ooxml[0]; k++)
      if (!strcasecmp(atts[i + 1], ooxml[k].main_part))
        ct->media = ooxml[k].media;
  }
}

/* The media type the current member, [Content_Types].xml, names for the main part. */
static const char *ctypes_media(struct archive *a)
{
  struct ctypes ct = {{NULL, 0}, NULL};
  if (convert_xml_create(&ct.head, '|'))
    return NULL;
  XML_SetStartElementHandler(ct.head.p, ct_start);
  char buf[16384];
  size_t total = 0;
  la_ssize_t n;
  while (!ct.media && total < MEDIA_CTYPES_MAX && (n = archive_read_data(a, buf, sizeof buf)) > 0) {
    total += (size_t)n;
    if (XML_Parse(ct.head.p, buf, (int)n, 0) == XML_STATUS_ERROR)
      break;
  }
  XML_ParserFree(ct.head.p);
  return ct.media;
}

/* The media type an ODF `mimetype` member (the current one) holds, into out; 0 if none. */
static int odf_media(struct archive *a, char *out, size_t cap)
{
  static const char pre[] = "application/vnd.oasis.opendocument.";
  char buf[128];
  la_ssize_t n = archive_read_data(a, buf, sizeof buf - 1);
  if (n <= 0)
    return 0;
  while (n && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' '))
    n--;
  buf[n] = 0;
  if ((size_t)n <= sizeof pre - 1 || (size_t)n >= cap || strncmp(buf, pre, sizeof pre - 1))
    return 0;
  for (const char *c = buf + sizeof pre - 1; *c; c++) /* a plain subtype: letters, digits, - and . */
    if (!((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '-' || *c == '.'))
      return 0;
  memcpy(out, buf, (size_t)n + 1);
  return 1;
}

/* The type of a zip's document, into out; 0 when it is none of OOXML or ODF. */
static int zip_media(const char *path, char *out, size_t cap)
{
  struct archive *a = archive_read_new();
  if (!a)
    return 0;
  archive_read_support_format_zip(a);
  const char *found = NULL, *by_part = NULL;
  int odf = 0;
  if (archive_read_open_filename(a, path, 65536) == ARCHIVE_OK) {
    struct archive_entry *e;
    for (int i = 0; i < MEDIA_ZIP_ENTRIES && !found && !odf; i++) {
      int r = archive_read_next_header(a, &e);
      if (r != ARCHIVE_OK && r != ARCHIVE_WARN)
        break;
      const char *name = archive_entry_pathname(e);
      if (!name)
        continue;
      if (!strcmp(name, "mimetype"))
        odf = odf_media(a, out, cap);
      else if (!strcmp(name, "[Content_Types].xml"))
        found = ctypes_media(a);
      for (size_t k = 0; !by_part && k < sizeof ooxml_parts / sizeof ooxml_parts[0]; k++)
        if (!strcmp(name, ooxml_parts[k].part))
          by_part = ooxml_parts[k].media;
    }
  }
  archive_read_free(a);
  if (odf)
    return 1;
  if (!found)
    found = by_part;
  if (found)
    snprintf(out, cap, "%s", found);
  return found != NULL;
}

/* ---- text ---- */

static int is_generic_text(const char *media)
{
  return !strcmp(media, "text/plain") || !strcmp(media, "text/xml") || !strcmp(media, "application/xml");
}

/* Are the bytes UTF-8 (a character cut by the end of a full head is not an error)? */
static int head_is_utf8(const unsigned char *head, size_t len, int cut)
{
  for (size_t drop = 0; drop < (cut ? 4u : 1u) && drop <= len; drop++)
    if (cb_utf8_valid((const char *)head, len - drop))
      return 1;
  return 0;
}

void convert_media_type(const struct cb_convert_input *in, const unsigned char *head, size_t len, size_t head_cap,
                        char *out, size_t cap)
{
  snprintf(out, cap, "%s", in->mime && *in->mime ? in->mime : "application/octet-stream");
  if (len >= 4 && !memcmp(head, "PK\3\4", 4) && zip_media(in->path, out, cap))
    return;
  const char *named = convert_media_of_name(in->name);
  if (named && is_generic_text(out) && (!strncmp(named, "text/", 5) || !strncmp(named, "chemical/", 9)))
    snprintf(out, cap, "%s", named);
  if (!strncmp(out, "text/", 5) && !memchr(head, 0, len) && head_is_utf8(head, len, len == head_cap)) {
    size_t n = strlen(out);
    snprintf(out + n, cap - n, "; charset=utf-8");
  }
}
