/* A small reader of the data items of one CIF data block (CIF 1.1 syntax,
 * https://www.iucr.org/resources/cif/spec/version1.1/cifsyntax): bare words, 'quoted' and
 * "quoted" strings (a quote closes only before white space), ;text fields; (a ; at the
 * start of a line opens and closes them), # comments, loop_ tables. Open Babel reads CIF
 * too, but keeps only part of it and rewrites some (the space-group symbol loses its
 * bars), so what a crystal's description quotes from the file is read here. Pure C, no
 * allocation: it points into the text. */
#ifndef CB_CHEM_CIF_H
#define CB_CHEM_CIF_H
#include <stddef.h>

struct cif_item {
  const char *tag; /* "_cell_length_a", as written (case kept) */
  size_t taglen;
  const char *value; /* the value without its quotes or ; delimiters */
  size_t len;
  int loop; /* 0 for an item of its own; the loop's number (1, 2, ...) for a looped one */
};

/* Calls fn for every data item of text[0..len) in order (a looped item once per row);
 * fn returns nonzero to stop. */
void cif_items(const char *text, size_t len, int (*fn)(void *ctx, const struct cif_item *it), void *ctx);

/* Does the item's tag name `tag`? Case-insensitive, a DDL2 '.' read as '_'
 * ("_symmetry.space_group_name_H-M" is "_symmetry_space_group_name_H-M"). */
int cif_tag_is(const struct cif_item *it, const char *tag);

/* Items wanted from a block in one pass: the value of the first unlooped item of each tag
 * (copied, NUL-terminated, cut to cap-1 bytes); "" when absent, "?" (unknown) or "."
 * (inapplicable). */
struct cif_want {
  const char *tag;
  char *out;
  size_t cap;
};
void cif_get(const char *text, size_t len, struct cif_want *want, int n);

/* A CIF number, its standard uncertainty in parentheses dropped ("5.4093(7)" is 5.4093).
 * 0 with *out set, -1 when value is no number. */
int cif_number(const char *value, double *out);

#endif
