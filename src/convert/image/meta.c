/* Image metadata as properties: text from tags (made valid UTF-8 and bounded), ImageJ
 * descriptions, OME-XML (through expat), resolutions and Exif's text tags. */
#include <ctype.h>
#include <expat.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "convert/image/image.h"
#include "util/util.h"

#define OME_PARSE_MAX (16u << 20) /* OME-XML parsed for attributes, at most */
#define IMAGEJ_LINES_MAX 256

void img_prop_bytes(cJSON *result, const char *name, const char *value, size_t len, size_t cap)
{
  if (!value)
    return;
  char *out = malloc(cap + 4);
  if (!out)
    return;
  const unsigned char *p = (const unsigned char *)value;
  size_t o = 0, i = 0;
  while (i < len && p[i]) {
    int next = cb_utf8_next(value + i, len - i, NULL);
    if (next <= 0) { /* one invalid byte, or a character cut off by the end: U+FFFD */
      if (o + 3 > cap)
        break;
      memcpy(out + o, "\xef\xbf\xbd", 3);
      o += 3;
      i++;
      continue;
    }
    size_t k = (size_t)next;
    if (k == 1 && (p[i] < 0x20 || p[i] == 0x7f) && p[i] != '\n' && p[i] != '\t') {
      if (p[i] == '\r' && i + 1 < len && p[i + 1] != '\n' && o < cap)
        out[o++] = '\n'; /* old Mac line ends */
      i++;
      continue;
    }
    if (o + k > cap)
      break;
    memcpy(out + o, p + i, k);
    o += k;
    i += k;
  }
  while (o && (out[o - 1] == ' ' || out[o - 1] == '\n' || out[o - 1] == '\t'))
    o--;
  out[o] = 0;
  size_t lead = strspn(out, " \n\t");
  if (out[lead])
    result_prop_text(result, name, out + lead, NULL, NULL);
  free(out);
}

void img_prop_name(char *out, size_t cap, const char *prefix, const char *name)
{
  snprintf(out, cap, "%s%s", prefix ? prefix : "", name);
  for (char *p = out; *p; p++)
    if (!isalnum((unsigned char)*p) && *p != '_' && *p != '.' && *p != '-')
      *p = '_';
}

const char *img_code_name(const struct img_code_name *t, int code, const char *dflt)
{
  for (; t->name; t++)
    if (t->code == code)
      return t->name;
  return dflt;
}

void img_resolution(cJSON *result, double x, double y, const char *unit)
{
  if (!(x > 0) || !isfinite(x))
    return;
  if (!(y > 0) || !isfinite(y))
    y = x;
  result_prop_num(result, "resolution_x", x, unit, NULL);
  result_prop_num(result, "resolution_y", y, unit, NULL);
}

/* ---- ImageJ ---- */

/* Copies s[0..n) to out, trimmed, with ImageJ's \uXXXX escapes decoded. */
static void imagej_value(char *out, size_t cap, const char *s, size_t n)
{
  while (n && isspace((unsigned char)*s))
    s++, n--;
  while (n && isspace((unsigned char)s[n - 1]))
    n--;
  size_t o = 0;
  for (size_t i = 0; i < n && o + 5 < cap; i++) {
    unsigned v;
    char hex[5];
    if (s[i] == '\\' && i + 6 <= n && s[i + 1] == 'u') {
      memcpy(hex, s + i + 2, 4);
      hex[4] = 0;
      if (isxdigit((unsigned char)hex[0]) && isxdigit((unsigned char)hex[1]) && isxdigit((unsigned char)hex[2]) &&
          isxdigit((unsigned char)hex[3]) && sscanf(hex, "%4x", &v) == 1 && v && (v < 0xd800 || v > 0xdfff)) {
        if (v < 0x80) {
          out[o++] = (char)v;
        } else if (v < 0x800) {
          out[o++] = (char)(0xc0 | (v >> 6));
          out[o++] = (char)(0x80 | (v & 0x3f));
        } else {
          out[o++] = (char)(0xe0 | (v >> 12));
          out[o++] = (char)(0x80 | ((v >> 6) & 0x3f));
          out[o++] = (char)(0x80 | (v & 0x3f));
        }
        i += 5;
        continue;
      }
    }
    out[o++] = s[i];
  }
  out[o] = 0;
}

static int imagej_number(const char *v, double *out)
{
  char *end;
  if (!*v)
    return 0;
  double d = strtod(v, &end);
  if (*end || !isfinite(d))
    return 0;
  *out = d;
  return 1;
}

/* The value of key in an ImageJ description, or "" (at most cap bytes). */
static void imagej_get(const char *desc, size_t len, const char *key, char *out, size_t cap)
{
  size_t klen = strlen(key);
  out[0] = 0;
  for (size_t i = 0, lines = 0; i < len && lines < IMAGEJ_LINES_MAX; lines++) {
    const char *line = desc + i;
    const char *nl = memchr(line, '\n', len - i);
    size_t n = nl ? (size_t)(nl - line) : len - i;
    if (n > klen && !memcmp(line, key, klen) && line[klen] == '=') {
      imagej_value(out, cap, line + klen + 1, n - klen - 1);
      return;
    }
    i += n + 1;
  }
}

static void imagej(cJSON *result, const char *desc, size_t len, double xres, double yres)
{
  char unit[64], yunit[64], zunit[64], tunit[64];
  imagej_get(desc, len, "unit", unit, sizeof unit);
  imagej_get(desc, len, "yunit", yunit, sizeof yunit);
  imagej_get(desc, len, "zunit", zunit, sizeof zunit);
  imagej_get(desc, len, "tunit", tunit, sizeof tunit);
  for (size_t i = 0, lines = 0; i < len && lines < IMAGEJ_LINES_MAX; lines++) {
    const char *line = desc + i;
    const char *nl = memchr(line, '\n', len - i);
    size_t n = nl ? (size_t)(nl - line) : len - i;
    i += n + 1;
    const char *eq = memchr(line, '=', n);
    if (!eq || eq == line || eq - line > 48)
      continue;
    char key[64], value[1024], name[80];
    size_t klen = (size_t)(eq - line);
    memcpy(key, line, klen);
    key[klen] = 0;
    int ok = 1;
    for (char *k = key; *k && ok; k++)
      ok = isalnum((unsigned char)*k) || *k == '_' || *k == '.' || *k == ' ';
    if (!ok)
      continue;
    imagej_value(value, sizeof value, eq + 1, n - klen - 1);
    img_prop_name(name, sizeof name, "imagej_", strcmp(key, "ImageJ") ? key : "version");
    const char *u = NULL;
    if (!strcmp(key, "spacing"))
      u = zunit[0] ? zunit : unit[0] ? unit : NULL;
    else if (!strcmp(key, "finterval"))
      u = tunit[0] ? tunit : "s";
    else if (!strcmp(key, "min") || !strcmp(key, "max"))
      u = NULL;
    double d;
    if (strcmp(key, "ImageJ") && imagej_number(value, &d))
      result_prop_num(result, name, d, u && *u ? u : NULL, NULL);
    else
      img_prop_bytes(result, name, value, strlen(value), IMG_TAG_MAX);
  }
  /* ImageJ stores pixels per unit in X/YResolution */
  if (unit[0] && xres > 0 && isfinite(xres)) {
    result_prop_num(result, "pixel_size_x", 1.0 / xres, unit, NULL);
    if (yres > 0 && isfinite(yres))
      result_prop_num(result, "pixel_size_y", 1.0 / yres, yunit[0] ? yunit : unit, NULL);
  }
}

/* ---- OME-XML ---- */

struct ome {
  cJSON *result;
  XML_Parser parser;
  int pixels_seen;
  long images;
};

static const char *local_name(const char *name)
{
  const char *bar = strrchr(name, '|');
  return bar ? bar + 1 : name;
}

static void ome_start(void *ud, const XML_Char *name, const XML_Char **atts)
{
  struct ome *o = ud;
  const char *ln = local_name(name);
  if (!strcmp(ln, "Image"))
    o->images++;
  if (strcmp(ln, "Pixels") || o->pixels_seen)
    return;
  o->pixels_seen = 1;
  static const struct {
    const char *att, *prop, *unit_att, *unit_default;
  } map[] = {
    {"SizeX", "ome_size_x", NULL, NULL},
    {"SizeY", "ome_size_y", NULL, NULL},
    {"SizeZ", "ome_size_z", NULL, NULL},
    {"SizeC", "ome_size_c", NULL, NULL},
    {"SizeT", "ome_size_t", NULL, NULL},
    {"PhysicalSizeX", "ome_physical_size_x", "PhysicalSizeXUnit", "\xc2\xb5m"},
    {"PhysicalSizeY", "ome_physical_size_y", "PhysicalSizeYUnit", "\xc2\xb5m"},
    {"PhysicalSizeZ", "ome_physical_size_z", "PhysicalSizeZUnit", "\xc2\xb5m"},
    {"TimeIncrement", "ome_time_increment", "TimeIncrementUnit", "s"},
    {"SignificantBits", "ome_significant_bits", NULL, NULL},
  };
  for (size_t m = 0; m < sizeof map / sizeof map[0]; m++) {
    const char *v = NULL, *unit = map[m].unit_default;
    for (const XML_Char **a = atts; a[0]; a += 2) {
      if (!strcmp(local_name(a[0]), map[m].att))
        v = a[1];
      if (map[m].unit_att && !strcmp(local_name(a[0]), map[m].unit_att) && strlen(a[1]) < 32)
        unit = a[1];
    }
    double d;
    if (v && imagej_number(v, &d))
      result_prop_num(o->result, map[m].prop, d, unit, NULL);
  }
  for (const XML_Char **a = atts; a[0]; a += 2) {
    if (!strcmp(local_name(a[0]), "DimensionOrder"))
      img_prop_bytes(o->result, "ome_dimension_order", a[1], strlen(a[1]), 64);
    else if (!strcmp(local_name(a[0]), "Type"))
      img_prop_bytes(o->result, "ome_type", a[1], strlen(a[1]), 64);
  }
}

static void ome(cJSON *result, const char *desc, size_t len)
{
  img_prop_bytes(result, "ome_xml", desc, len, IMG_TEXT_MAX);
  struct ome o = {result, XML_ParserCreateNS(NULL, '|'), 0, 0};
  if (!o.parser)
    return;
  XML_SetUserData(o.parser, &o);
  XML_SetStartElementHandler(o.parser, ome_start);
  size_t n = len < OME_PARSE_MAX ? len : OME_PARSE_MAX;
  int ok = XML_Parse(o.parser, desc, (int)n, n == len) != XML_STATUS_ERROR;
  if (!ok && XML_GetErrorCode(o.parser) != XML_ERROR_NONE) {
    char msg[160];
    snprintf(msg, sizeof msg, "line %lu: %s", (unsigned long)XML_GetCurrentLineNumber(o.parser),
             XML_ErrorString(XML_GetErrorCode(o.parser)));
    result_prop_text(result, "ome_xml_error", msg, NULL, NULL);
  }
  if (o.images)
    result_prop_num(result, "ome_images", (double)o.images, NULL, NULL);
  XML_ParserFree(o.parser);
}

void img_description(cJSON *result, const char *desc, size_t len, double xres, double yres)
{
  size_t lead = 0;
  while (lead < len && isspace((unsigned char)desc[lead]))
    lead++;
  if (len - lead > 7 && !memcmp(desc + lead, "ImageJ=", 7)) {
    img_prop_bytes(result, "ImageDescription", desc, len, IMG_TEXT_MAX);
    imagej(result, desc + lead, len - lead, xres, yres);
  } else if (len - lead > 5 && (!memcmp(desc + lead, "<?xml", 5) || !memcmp(desc + lead, "<OME", 4)) &&
             memmem(desc + lead, len - lead, "OME", 3)) {
    ome(result, desc + lead, len - lead);
  } else {
    img_prop_bytes(result, "ImageDescription", desc, len, IMG_TEXT_MAX);
  }
}

/* ---- Exif (a small TIFF structure in JPEG's APP1) ---- */

struct exif {
  const unsigned char *p;
  size_t len;
  int be;
};

static unsigned ex16(const struct exif *x, size_t o)
{
  return x->be ? (unsigned)(x->p[o] << 8 | x->p[o + 1]) : (unsigned)(x->p[o + 1] << 8 | x->p[o]);
}

static uint32_t ex32(const struct exif *x, size_t o)
{
  return x->be ? (uint32_t)x->p[o] << 24 | (uint32_t)x->p[o + 1] << 16 | (uint32_t)x->p[o + 2] << 8 | x->p[o + 3]
               : (uint32_t)x->p[o + 3] << 24 | (uint32_t)x->p[o + 2] << 16 | (uint32_t)x->p[o + 1] << 8 | x->p[o];
}

static const struct {
  unsigned tag;
  const char *name, *unit;
} exif_tags[] = {
  {270, "ImageDescription", NULL},
  {271, "Make", NULL},
  {272, "Model", NULL},
  {305, "Software", NULL},
  {306, "DateTime", NULL},
  {315, "Artist", NULL},
  {33432, "Copyright", NULL},
  {36867, "DateTimeOriginal", NULL},
  {36868, "DateTimeDigitized", NULL},
  {42016, "ImageUniqueID", NULL},
  {42033, "BodySerialNumber", NULL},
  {42035, "LensMake", NULL},
  {42036, "LensModel", NULL},
  {33434, "ExposureTime", "s"},
  {33437, "FNumber", NULL},
  {34855, "ISOSpeedRatings", NULL},
  {37386, "FocalLength", "mm"},
};

static void exif_ifd(cJSON *result, const struct exif *x, uint32_t off, int depth)
{
  if (off < 8 || (size_t)off + 2 > x->len)
    return;
  unsigned n = ex16(x, off);
  if (n > 1000 || (size_t)off + 2 + (size_t)n * 12 > x->len)
    return;
  for (unsigned i = 0; i < n; i++) {
    size_t e = off + 2 + (size_t)i * 12;
    unsigned tag = ex16(x, e), type = ex16(x, e + 2);
    uint32_t count = ex32(x, e + 4);
    if (tag == 34665 && depth == 0 && (type == 4 || type == 13)) { /* the Exif IFD */
      exif_ifd(result, x, ex32(x, e + 8), 1);
      continue;
    }
    size_t k;
    for (k = 0; k < sizeof exif_tags / sizeof exif_tags[0] && exif_tags[k].tag != tag; k++)
      ;
    if (k == sizeof exif_tags / sizeof exif_tags[0] || !count)
      continue;
    size_t size = type == 2 ? count : type == 3 ? 2 : type == 4 ? 4 : type == 5 ? 8 : 0;
    if (!size || count > (1u << 20))
      continue;
    size_t at = size <= 4 ? e + 8 : ex32(x, e + 8);
    if (at + size > x->len || at + size < at)
      continue;
    if (type == 2)
      img_prop_bytes(result, exif_tags[k].name, (const char *)x->p + at, size, IMG_TAG_MAX);
    else if (type == 3)
      result_prop_num(result, exif_tags[k].name, ex16(x, at), exif_tags[k].unit, NULL);
    else if (type == 4)
      result_prop_num(result, exif_tags[k].name, ex32(x, at), exif_tags[k].unit, NULL);
    else if (ex32(x, at + 4))
      result_prop_num(result, exif_tags[k].name, (double)ex32(x, at) / ex32(x, at + 4), exif_tags[k].unit, NULL);
  }
}

void img_exif_props(cJSON *result, const unsigned char *tiff, size_t len)
{
  if (len < 8)
    return;
  struct exif x = {tiff, len, 0};
  if (!memcmp(tiff, "MM\0*", 4))
    x.be = 1;
  else if (memcmp(tiff, "II*\0", 4))
    return;
  exif_ifd(result, &x, ex32(&x, 4), 0);
}
