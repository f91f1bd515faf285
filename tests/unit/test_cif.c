/* The CIF data-item reader (convert/chem/cif.c) against the quoting rules of CIF 1.1: a
 * quote closes only before white space, ;text fields; open and close at a line's start,
 * a # starts a comment only where a token could, loops assign values by column. */
#include <string.h>

#include "convert/chem/cif.h"
#include "test.h"

static const char block[] = "data_x\n"
                            "_chemical_formula_sum 'C9 H13 N O3' # a comment\n"
                            "_chemical_name_common 'paracetamol's methanolate'\n"
                            "_symmetry_space_group_name_H-M \"F d -3 m :1\"\n"
                            "_space_group.IT_number 227\n"
                            "_cell_length_a 5.4093(7)\n"
                            "_publ_section_title\n"
                            ";\n"
                            "A title; with 'quotes' and # no comment\n"
                            "data_not_a_block\n"
                            ";\n"
                            "_exptl_crystal_density_meas ?\n"
                            "loop_\n"
                            "_symmetry_equiv_pos_site_id\n"
                            "_symmetry_equiv_pos_as_xyz\n"
                            "1 'x,y,z'\n"
                            "2 '-x+1/2, y, -z'\n"
                            "_cell_formula_units_Z 8\n"
                            "_tag_without_value\n"
                            "_cell_volume 160.188(3)\n";

struct ops {
  char op[4][32];
  int n, loop;
};

static int take_op(void *ctx, const struct cif_item *it)
{
  struct ops *o = ctx;
  if (cif_tag_is(it, "_symmetry_equiv_pos_as_xyz") && o->n < 4) {
    snprintf(o->op[o->n++], sizeof o->op[0], "%.*s", (int)it->len, it->value);
    o->loop = it->loop;
  }
  return 0;
}

int main(void)
{
  char sum[64], name[64], hm[32], it[8], a[16], title[128], dens[8], z[8], vol[16], none[8];
  struct cif_want want[] = {
    {"_chemical_formula_sum", sum, sizeof sum},
    {"_chemical_name_common", name, sizeof name},
    {"_symmetry_space_group_name_H-M", hm, sizeof hm},
    {"_space_group_IT_number", it, sizeof it}, /* written _space_group.IT_number (DDL2) */
    {"_cell_length_a", a, sizeof a},
    {"_publ_section_title", title, sizeof title},
    {"_exptl_crystal_density_meas", dens, sizeof dens},
    {"_cell_formula_units_z", z, sizeof z}, /* tags are case-insensitive */
    {"_cell_volume", vol, sizeof vol},
    {"_chemical_formula_structural", none, sizeof none},
  };
  cif_get(block, strlen(block), want, (int)(sizeof want / sizeof want[0]));
  CHECK(!strcmp(sum, "C9 H13 N O3"));
  CHECK(!strcmp(name, "paracetamol's methanolate")); /* the quote before 's is no end */
  CHECK(!strcmp(hm, "F d -3 m :1"));
  CHECK(!strcmp(it, "227"));
  CHECK(!strcmp(a, "5.4093(7)"));
  CHECK(!strcmp(title, "\nA title; with 'quotes' and # no comment\ndata_not_a_block"));
  CHECK(!dens[0]); /* ? is unknown */
  CHECK(!strcmp(z, "8"));
  CHECK(!strcmp(vol, "160.188(3)")); /* a tag without a value does not take the next tag's */
  CHECK(!none[0]);

  struct ops o = {.n = 0};
  cif_items(block, strlen(block), take_op, &o);
  CHECK(o.n == 2 && o.loop == 1);
  CHECK(!strcmp(o.op[0], "x,y,z") && !strcmp(o.op[1], "-x+1/2, y, -z"));

  double d;
  CHECK(!cif_number("5.4093(7)", &d) && d == 5.4093);
  CHECK(!cif_number("-0.25", &d) && d == -0.25);
  CHECK(cif_number("5.4(", &d) == -1 && cif_number("abc", &d) == -1 && cif_number("1.0 x", &d) == -1);

  /* an unterminated text field or quote ends at the end of the text, not beyond */
  const char bad[] = "_a 'open\n_b\n;never closed";
  char va[16], vb[16];
  struct cif_want w2[] = {{"_a", va, sizeof va}, {"_b", vb, sizeof vb}};
  cif_get(bad, strlen(bad), w2, 2);
  CHECK(!strcmp(va, "open") && !strcmp(vb, "never closed"));
  TEST_MAIN_END();
}
