/* The one C++ shim: Open Babel seen from C. Every function catches every exception and
 * reports errors as text; nothing C++ leaks out. Only worker processes call it (Open
 * Babel is not thread-safe; the server never loads a file with it). */
#ifndef CB_OB_H
#define CB_OB_H
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif
#include "util/err.h"

typedef struct ob_reader ob_reader;
typedef struct ob_mol ob_mol;

/* Loads Open Babel's format plugins once. 0 on success. */
int ob_init(void);
/* Is `format` (an Open Babel format id such as "sdf", "smi", "mol2") readable? */
int ob_can_read(const char *format);
int ob_can_write(const char *format);

/* Reads molecules one at a time from path in format. NULL with eb on failure. */
ob_reader *ob_open(const char *path, const char *format, struct cb_errbuf *eb);
/* The next molecule: 1 with *mol set; 0 at the end; -1 when this record cannot be read
 * (eb says why; reading goes on with the next record). */
int ob_next(ob_reader *r, ob_mol **mol, struct cb_errbuf *eb);
/* The same, starting at byte offset start (a record boundary). */
ob_reader *ob_open_at(const char *path, const char *format, long long start, struct cb_errbuf *eb);
/* Bytes of the input consumed so far (for progress). */
long long ob_offset(ob_reader *r);
void ob_close(ob_reader *r);

void ob_mol_free(ob_mol *m);
const char *ob_mol_title(ob_mol *m);
int ob_mol_atoms(ob_mol *m);
/* The molecule in an output format ("can", "inchi", "inchikey", "mol", "sdf", ...), as a
 * malloc'd string without the trailing newline; NULL with eb on failure. */
char *ob_mol_write(ob_mol *m, const char *format, struct cb_errbuf *eb);

struct ob_descriptors {
  char formula[256];
  double mw, exact_mass, logp, tpsa;
  int heavy_atoms, hbd, hba, rotatable_bonds;
};
int ob_mol_descriptors(ob_mol *m, struct ob_descriptors *d);
/* Calls cb for each data field the record carried (SD tags, ...). */
void ob_mol_fields(ob_mol *m, void (*cb)(void *ctx, const char *name, const char *value), void *ctx);

/* Adds a data field to the molecule (as an SD tag would be). */
void ob_mol_set_field(ob_mol *m, const char *name, const char *value);

/* A crystal's unit cell, when the molecule has one (CIF). 1 filled in, 0 none. */
struct ob_cell {
  double a, b, c, alpha, beta, gamma, volume;
  char space_group[64];   /* Hermann-Mauguin symbol, "" unknown */
  int space_group_number; /* 0 unknown */
  char setting[8];        /* the setting of Open Babel's space group: "1", "2" (origin choice), "H", "R" */
};
int ob_mol_cell(ob_mol *m, struct ob_cell *cell);

/* Reactions (RXN, reaction SMILES) are molecules whose atoms carry reaction roles. */
enum ob_role { OB_REACTANT = 1, OB_AGENT = 2, OB_PRODUCT = 3 };
/* Is the molecule a reaction? */
int ob_mol_is_reaction(ob_mol *m);
/* Calls cb for each component of a reaction (reactants, agents, products, in that order);
 * the component is freed after cb returns. Returns the number of components, -1 when the
 * molecule is not a valid reaction. */
int ob_reaction_components(ob_mol *m, void (*cb)(void *ctx, enum ob_role role, ob_mol *component), void *ctx);

#define OB_FP_BYTES 128 /* FP2, folded to 1024 bits */
/* The molecule's FP2 path fingerprint (1024 bits, little-endian 32-bit words). 0 on success. */
int ob_mol_fp2(ob_mol *m, unsigned char out[OB_FP_BYTES]);
/* The molecule's fingerprint of Open Babel's type ("ECFP4", "FP2", "MACCS", ...), folded
 * to nbits when that is fewer than the type's own (0: unfolded), into words 64-bit words
 * (bit i in word i / 64); the fingerprint's width in bits, or -1 (an unknown type, more
 * bits than words hold, Open Babel's failure). */
int ob_mol_fingerprint(ob_mol *m, const char *type, int nbits, uint64_t *out, int words);
/* Open Babel's descriptor `name` ("logP", "TPSA", "MW", ...) of the molecule: 0 with
 * *value, or -1 (no such descriptor, or not a finite number). */
int ob_mol_descriptor(ob_mol *m, const char *name, double *value);
/* Reads one molecule from a string in format ("smi"); NULL with eb on failure. */
ob_mol *ob_mol_from_string(const char *text, const char *format, struct cb_errbuf *eb);
/* Does the molecule contain the SMARTS pattern? 1 yes, 0 no, -1 when the SMARTS is invalid. */
int ob_mol_matches(ob_mol *m, const char *smarts);
/* Is the SMARTS pattern valid? */
int ob_smarts_valid(const char *smarts);

/* An SVG depiction of a molecule given as SMILES (2D coordinates are laid out), as a
 * malloc'd string, always a whole document; NULL with eb on failure. Fragments that the
 * layout puts on one another are set apart; a list of atoms (no bond, no hydrogen: a
 * crystal's atoms, bare ions, a metal) is drawn as its atoms' labels (element, charge), a
 * count before a label that repeats, and no radical dots: nothing in an atom list says
 * its atoms are radicals. */
char *ob_smiles_svg(const char *smiles, struct cb_errbuf *eb);

/* A biopolymer's chains (PDB, mmCIF): cb gets each chain that holds amino-acid or
 * nucleotide residues, in the order the file names them, with its id (Open Babel keeps
 * one character), how many such residues it has coordinates for and their sequence in
 * one-letter codes (selenomethionine as M; another residue with an amino acid's
 * backbone, N, CA and C, as X). Water, ions and ligands are in no chain's sequence. Returns the number of chains (0:
 * not a biopolymer), -1 on failure. */
typedef void (*ob_chain_cb)(void *ctx, char chain, int residues, const char *sequence);
int ob_mol_chains(ob_mol *m, ob_chain_cb cb, void *ctx);

/* The heavy atoms of a molecule given as SMILES, read but never laid out (how big it is
 * before it is drawn), and its formula into formula; -1 when the SMILES cannot be read. */
int ob_smiles_size(const char *smiles, char *formula, size_t formula_size);

/* ---- crystals (CIF) ---- */

/* What Open Babel's CIF reader guessed, set right from the data block: atoms it could not
 * type get their element from their label (CIF's convention: "NA1" is Na, "CL2" Cl;
 * bonds are then perceived again); the space group is the one whose operations are the
 * block's symmetry operations (symops, as written: "-x+1/2,y,-z"), Open Babel taking the
 * default setting of a symbol whatever they say; without operations it is the one Open
 * Babel read, else the one the written symbol hm names ("R 3 c" is none to Open Babel),
 * and a rhombohedral group takes the setting of the cell's axes (a = b = c and equal
 * angles: rhombohedral). A title of "?" or "." (CIF's unknown, inapplicable) is none.
 * Changes nothing the block does not contradict. */
void ob_cif_fix(ob_mol *m, const char *const *symops, int nops, const char *hm);

/* The crystal's filled unit cell: the space group's operations applied to every atom,
 * positions wrapped into the cell, an atom's images that fall on one another (special
 * positions, within 0.05 Å) kept once; the cell is P 1, and with bonds set bonds are
 * perceived inside it (what a PDB file's CONECT records say). NULL with eb when the
 * molecule has no cell, or the cell would hold more than max atoms. */
ob_mol *ob_mol_filled_cell(ob_mol *m, int max, int bonds, struct cb_errbuf *eb);

/* Does a filled cell (ob_mol_filled_cell) hold discrete molecules? Bonds are what Open
 * Babel would perceive (closer than the covalent radii's sum + 0.45 Å), taken across the
 * cell's faces too; a bonded group that reaches its own image in another cell goes on
 * without end (a framework, an ionic or metallic lattice). 1: every group is finite and
 * one of two atoms or more holds carbon; 0: not; -1: too many atoms to tell (more than
 * max, or too crowded a cell). */
int ob_crystal_molecular(ob_mol *filled, int max);

/* The crystal's molecules, whole (a filled cell's, ob_mol_filled_cell, that holds discrete
 * ones): each group of bonded atoms that an atom of the asymmetric unit starts, unwrapped
 * across the cell's faces, bonds perceived, one copy of each distinct molecule. A molecule
 * on a symmetry element (half of it in the asymmetric unit: Z' = 1/2) comes whole, and the
 * independent copies of Z' = 2 come once. NULL when it cannot be made (more than max
 * atoms). A new molecule. */
ob_mol *ob_crystal_molecules(ob_mol *filled, int max);

/* The molecule's atoms alone: its bonds taken away, no hydrogen added, charges kept (a
 * framework's or a lattice's asymmetric unit, which is no molecule). A new molecule. */
ob_mol *ob_mol_atoms_only(ob_mol *m);

/* Calls cb with each element's symbol and its count of atoms (each atom weighed by its
 * site occupancy when the file gave one), in the order the elements first appear. */
void ob_mol_elements(ob_mol *m, void (*cb)(void *ctx, const char *symbol, double count), void *ctx);

/* The standard atomic weight of an element (Open Babel's table), 0 for an unknown symbol. */
double ob_element_mass(const char *symbol);

/* ---- writing several molecules as obabel does ---- */

/* One output file in an Open Babel format, written as the obabel command line writes it:
 * titles after SMILES, one CML document with a <cml> root around several molecules. */
typedef struct ob_writer ob_writer;
ob_writer *ob_writer_open(const char *path, const char *format, struct cb_errbuf *eb);
/* Writes m; last says it is the last molecule (CML closes its document then). 0, or -1
 * with eb. */
int ob_writer_put(ob_writer *w, ob_mol *m, int last, struct cb_errbuf *eb);
/* Closes the file: 0, or -1 when it could not be written. */
int ob_writer_close(ob_writer *w);

/* ---- structure search in a resident matcher process (match.c) ---- */

/* A SMARTS pattern parsed once, matched against many molecules. */
typedef struct ob_pattern ob_pattern;
/* NULL when the pattern is not valid SMARTS. */
ob_pattern *ob_pattern_new(const char *smarts);
/* Does m contain the pattern? 1 yes, 0 no, -1 when matching failed. */
int ob_pattern_match(ob_pattern *p, ob_mol *m);
void ob_pattern_free(ob_pattern *p);
/* Atoms no molecule a pattern matches need have as they are: with fewer bonds and
 * hydrogens than their usual valence, or a radical's spin (an aromatic ring Open Babel
 * could not kekulize reads so: "c1ncnc1" is C1=C[N]C=N1), and dummy atoms ("*"). */
int ob_mol_radicals(ob_mol *m);
/* One molecule read from SMILES by a reader kept from call to call (a matcher reads
 * thousands); NULL when it cannot be read. */
ob_mol *ob_mol_from_smiles(const char *smiles);

/* ---- cost bounds (bounds.h) ---- */

/* Goes on reading at byte offset off (a record boundary): a record past a bound is passed
 * over without Open Babel reading it. 0, or -1 when the file cannot seek there. */
int ob_seek(ob_reader *r, long long off);

/* What a molecule too big to identify keeps (linear in its atoms): its formula, weights
 * and heavy atoms; the other fields of d are 0. 0 on success. */
int ob_mol_formula(ob_mol *m, struct ob_descriptors *d);

#ifdef __cplusplus
}
#endif
#endif
