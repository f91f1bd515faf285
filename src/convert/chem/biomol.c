/* Large molecules. A protein or a nucleic acid is not drawn atom by atom: Open Babel's 2-D
 * layout of thousands of atoms runs past any timeout. At ingest the converter records a
 * biopolymer's chains (residue counts and one-letter sequences, from the residues Open
 * Babel keeps: chem_describe_chains); a molecule with more heavy atoms than
 * CARBOY_DEPICT_MAX_ATOMS gets a summary card as its depiction instead of a drawing. The
 * server makes the card from the record's properties (chem_summary_svg) without a job; the
 * depict op checks the size itself before Open Babel lays anything out (chem_large_svg). */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "convert/chem/biomol.h"
#include "convert/converter.h"
#include "util/util.h"

#define DEFAULT_MAX_ATOMS 250 /* as the settings table says */

int chem_depict_max_atoms(void)
{
  const char *v = getenv("CARBOY_DEPICT_MAX_ATOMS"); /* checked when the server starts */
  long n = v && *v ? strtol(v, NULL, 10) : 0;
  return n > 0 && n <= 1000000 ? (int)n : DEFAULT_MAX_ATOMS;
}

/* ---- at ingest: the chains of a biopolymer ---- */

static void add_prop(cJSON *props, const char *name, cJSON *value)
{
  cJSON *o = cJSON_CreateObject();
  cJSON_AddStringToObject(o, "name", name);
  cJSON_AddItemToObject(o, "value", value);
  cJSON_AddItemToArray(props, o);
}

struct chains_ctx {
  cJSON *each; /* the per-chain properties, added after the totals */
  struct cb_buf ids;
  int count, residues;
};

/* A chain's id as property names carry it: a letter or digit, else '_' (a blank id). */
static char chain_id(char c)
{
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ? c : '_';
}

static void add_chain(void *ctx, char chain, int residues, const char *sequence)
{
  struct chains_ctx *c = ctx;
  char id = chain_id(chain), name[32];
  cb_buf_printf(&c->ids, "%s%c", c->count ? "," : "", id);
  snprintf(name, sizeof name, "chain_%c_residues", id);
  add_prop(c->each, name, cJSON_CreateNumber(residues));
  snprintf(name, sizeof name, "chain_%c_sequence", id);
  add_prop(c->each, name, cJSON_CreateString(sequence));
  c->count++;
  c->residues += residues;
}

void chem_describe_chains(ob_mol *m, cJSON *props)
{
  struct chains_ctx c = {.each = cJSON_CreateArray()};
  if (ob_mol_chains(m, add_chain, &c) > 0 && c.ids.data) {
    add_prop(props, "chains", cJSON_CreateString(c.ids.data));
    add_prop(props, "chain_count", cJSON_CreateNumber(c.count));
    add_prop(props, "residue_count", cJSON_CreateNumber(c.residues));
    cJSON *p;
    while ((p = cJSON_DetachItemFromArray(c.each, 0)))
      cJSON_AddItemToArray(props, p);
  }
  cJSON_Delete(c.each);
  cb_buf_free(&c.ids);
}

/* ---- the summary card ---- */

#define CARD_W 520
#define PAD 16
#define SEQ_PER_LINE 60 /* residues, in groups of ten */
#define SEQ_LINES_MAX 20
#define CHAINS_MAX 26

/* Appends s as XML character data: markup escaped, control characters as spaces, bytes that
 * are not UTF-8 and the non-characters U+FFFE/U+FFFF as U+FFFD, so that the card is
 * well-formed whatever the file said. */
static void xml_text(struct cb_buf *b, const char *s)
{
  static const struct {
    char c;
    const char *entity;
  } entities[] = {{'<', "&lt;"}, {'>', "&gt;"}, {'&', "&amp;"}, {'"', "&quot;"}, {'\'', "&apos;"}};
  size_t n = strlen(s);
  for (size_t i = 0; i < n;) {
    uint32_t cp = 0;
    int len = cb_utf8_next(s + i, n - i, &cp);
    const char *out = len <= 0 || cp == 0xfffe || cp == 0xffff ? "\xef\xbf\xbd" : cp < 0x20 ? " " : NULL;
    for (size_t k = 0; !out && k < sizeof entities / sizeof entities[0]; k++)
      if (cp == (uint32_t)entities[k].c)
        out = entities[k].entity;
    if (out)
      cb_buf_puts(b, out);
    else
      cb_buf_append(b, s + i, (size_t)len);
    i += len > 0 ? (size_t)len : 1;
  }
}

struct card {
  struct cb_buf body;
  int y; /* the baseline of the last line */
};

/* One line of text, below the last. */
static void card_line(struct card *c, int size, const char *attrs, const char *fmt, ...)
  __attribute__((format(printf, 4, 5)));
static void card_line(struct card *c, int size, const char *attrs, const char *fmt, ...)
{
  struct cb_buf text = {0};
  va_list ap;
  va_start(ap, fmt);
  cb_buf_vprintf(&text, fmt, ap);
  va_end(ap);
  c->y += size + 6;
  cb_buf_printf(&c->body, "<text x=\"%d\" y=\"%d\" font-size=\"%d\"%s>", PAD, c->y, size, attrs);
  xml_text(&c->body, text.data ? text.data : "");
  cb_buf_puts(&c->body, "</text>\n");
  cb_buf_free(&text);
}

static const cJSON *prop_value(const cJSON *props, const char *name)
{
  const cJSON *p;
  cJSON_ArrayForEach(p, props)
  {
    const cJSON *n = cJSON_GetObjectItemCaseSensitive(p, "name");
    if (cJSON_IsString(n) && !strcmp(n->valuestring, name))
      return cJSON_GetObjectItemCaseSensitive(p, "value");
  }
  return NULL;
}

/* A chain: its residue count, then its sequence in lines of SEQ_PER_LINE. */
static void card_chain(struct card *c, const cJSON *props, char id)
{
  char name[32];
  snprintf(name, sizeof name, "chain_%c_residues", id);
  const cJSON *count = prop_value(props, name);
  snprintf(name, sizeof name, "chain_%c_sequence", id);
  const cJSON *seq = prop_value(props, name);
  card_line(c, 14, " font-weight=\"bold\"", "Chain %c: %.0f residues", id,
            cJSON_IsNumber(count) ? count->valuedouble : 0.0);
  const char *s = cJSON_IsString(seq) ? seq->valuestring : "";
  size_t len = strlen(s), at = 0;
  for (int line = 0; at < len && line < SEQ_LINES_MAX; line++) {
    char text[SEQ_PER_LINE + SEQ_PER_LINE / 10 + 1];
    size_t k = 0;
    for (int i = 0; i < SEQ_PER_LINE && at < len; i++) {
      if (i && i % 10 == 0)
        text[k++] = ' ';
      text[k++] = s[at++];
    }
    text[k] = '\0';
    card_line(c, 12, " font-family=\"monospace\"", "%s", text);
  }
  if (at < len)
    card_line(c, 12, " font-style=\"italic\"", "\u2026 and %zu more residues", len - at);
}

char *chem_summary_svg(const char *title, const cJSON *props, int max_atoms)
{
  struct card c = {.y = PAD - 6};
  const cJSON *heavy = prop_value(props, "heavy_atoms"), *formula = prop_value(props, "formula");
  const cJSON *mw = prop_value(props, "molecular_weight"), *chains = prop_value(props, "chains");
  const cJSON *residues = prop_value(props, "residue_count");
  if (title && *title)
    card_line(&c, 16, " font-weight=\"bold\"", "%s", title);
  card_line(&c, 13, "", "%.0f heavy atoms: summarised, not drawn (the limit is %d)",
            cJSON_IsNumber(heavy) ? heavy->valuedouble : 0.0, max_atoms);
  if (cJSON_IsString(formula) && *formula->valuestring)
    card_line(&c, 13, "", "Formula: %s", formula->valuestring);
  if (cJSON_IsNumber(mw))
    card_line(&c, 13, "", "Molecular weight: %.2f g/mol", mw->valuedouble);
  const char *ids = cJSON_IsString(chains) ? chains->valuestring : "";
  int shown = 0, nchains = *ids ? 1 : 0;
  for (const char *p = ids; *p; p++)
    nchains += *p == ',';
  if (nchains)
    card_line(&c, 13, "", "%d chain%s, %.0f residues", nchains, nchains == 1 ? "" : "s",
              cJSON_IsNumber(residues) ? residues->valuedouble : 0.0);
  for (const char *p = ids; *p && shown < CHAINS_MAX; p++)
    if (*p != ',') {
      c.y += 6;
      card_chain(&c, props, *p);
      shown++;
    }
  if (shown < nchains)
    card_line(&c, 13, " font-style=\"italic\"", "\u2026 and %d more chains", nchains - shown);
  int h = c.y + PAD;
  struct cb_buf out = {0};
  cb_buf_printf(&out,
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" "
                "width=\"%dpx\" height=\"%dpx\" viewBox=\"0 0 %d %d\" font-family=\"sans-serif\">\n<title>A summary "
                "of a molecule too large to draw</title>\n<rect x=\"0.5\" y=\"0.5\" width=\"%d\" height=\"%d\" "
                "fill=\"white\" stroke=\"#999\"/>\n%s</svg>\n",
                CARD_W, h, CARD_W, h, CARD_W - 1, h - 1, c.body.data ? c.body.data : "");
  cb_buf_free(&c.body);
  return out.data;
}

/* ---- the depict op's size check ---- */

char *chem_large_svg(const char *smiles)
{
  const char *gt1 = strchr(smiles, '>'), *gt2 = gt1 ? strchr(gt1 + 1, '>') : NULL;
  struct cb_buf drawn = {0}; /* a reaction's drawn molecules: its reactants and products */
  if (gt2)
    cb_buf_printf(&drawn, "%.*s%s%s", (int)(gt1 - smiles), smiles, gt1 > smiles && gt2[1] ? "." : "", gt2 + 1);
  char formula[256] = "";
  int max = chem_depict_max_atoms();
  int n = ob_smiles_size(gt2 ? (drawn.data ? drawn.data : "") : smiles, formula, sizeof formula);
  cb_buf_free(&drawn);
  if (n <= max)
    return NULL;
  cJSON *props = cJSON_CreateArray();
  add_prop(props, "heavy_atoms", cJSON_CreateNumber(n));
  if (!gt2) /* a formula of reactants and products together would mislead */
    add_prop(props, "formula", cJSON_CreateString(formula));
  char *svg = chem_summary_svg(gt2 ? "A reaction" : NULL, props, max);
  cJSON_Delete(props);
  return svg;
}
