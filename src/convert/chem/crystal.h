/* A crystal as a crystallographer reads its CIF data block: the compound's formula (the
 * formula sum in Hill order, or the filled cell's per formula unit), its weight, Z, the
 * calculated density, the space group as the file writes it (number, crystal system,
 * setting), the filled cell's atom count, and whether the crystal holds discrete
 * molecules (whose descriptors mean something) or is a framework, an ionic or a metallic
 * lattice (whose "molecule" is only the asymmetric unit's atoms). */
#ifndef CB_CHEM_CRYSTAL_H
#define CB_CHEM_CRYSTAL_H
#include <stddef.h>

#include "convert/chem/ob.h"

/* ---- chemical formulas ---- */

#define FORMULA_MAX 64

struct formula {
  int n;
  struct {
    char symbol[4];
    double count;
  } el[FORMULA_MAX];
};

/* A CIF formula sum ("C9 H13 N O3", "Ca0.5 Sr0.5 Ti O3"): 0, or -1 when it is not one
 * (charges, parentheses, unknown element symbols). */
int formula_parse(const char *text, struct formula *f);
/* Adds count atoms of an element. */
void formula_add(struct formula *f, const char *symbol, double count);
/* Hill order: C, then H, then the others alphabetically; with no carbon all of them
 * alphabetically; a count of 1 left out ("C8H10N4O2"; "Na Cl" is "ClNa", "Ba O3 Ti" "BaO3Ti"). */
void formula_hill(const struct formula *f, char *out, size_t cap);
/* The formula weight from standard atomic weights (g/mol); 0 when an element is unknown. */
double formula_weight(const struct formula *f);

/* ---- a crystal's description ---- */

struct crystal {
  char formula[256];     /* Hill order; "" unknown */
  double formula_weight; /* g/mol; 0 unknown */
  int z;                 /* formula units per cell (_cell_formula_units_Z); 0 unknown */
  double density;        /* calculated, g/cm³; 0 unknown */
  char space_group[64];  /* the Hermann-Mauguin symbol as the file writes it; "" unknown */
  char setting[8];       /* "1", "2" (origin choice), "H", "R" (axes); "" none */
  int number;            /* International Tables number; 0 unknown */
  const char *system;    /* crystal system; NULL unknown */
  int filled_atoms;      /* atoms in the filled cell; 0 unknown */
  int molecular;         /* 1 discrete molecules, 0 not, -1 unknown */
  ob_mol *molecules;     /* when molecular: each distinct molecule once, whole
                          * (ob_crystal_molecules); the caller frees it */
};

/* Sets right what Open Babel's CIF reader guessed from the block (ob_cif_fix): the
 * block's symmetry operations, its atoms' labels. */
void crystal_fix(ob_mol *m, const char *block, size_t len);
/* The space group of a CIF or mmCIF block: the symbol as written (_space_group_name_H-M_alt,
 * else _symmetry_space_group_name_H-M), a setting suffix (":1", ":H") split off; the
 * number (_space_group_IT_number, _symmetry_Int_Tables_number, else Open Babel's table
 * from the symbol); the crystal system from the number; the setting as written (suffix,
 * _space_group_IT_coordinate_system_code), else that of the group the operations match. */
void crystal_space_group(const char *block, size_t len, ob_mol *m, struct crystal *c);
/* The rest of a small-molecule CIF block's description (see struct crystal). */
void crystal_chemistry(const char *block, size_t len, ob_mol *m, struct crystal *c);

/* The largest filled cell made (for its atom count and for conversions). */
#define CRYSTAL_MAX_ATOMS 200000

#endif
