/* Large molecules (biomol.c): what the converter says of a biopolymer at ingest, and the
 * size check a depiction passes before Open Babel lays a molecule out. */
#ifndef CB_CHEM_BIOMOL_H
#define CB_CHEM_BIOMOL_H
#include <cjson/cJSON.h>

#include "convert/chem/ob.h"

/* Appends a biopolymer's chains to a record's properties: `chains` (their ids, in order,
 * comma-separated), `chain_count`, `residue_count` and, per chain X, `chain_X_residues`
 * and `chain_X_sequence` (one-letter codes). Nothing for a molecule without amino-acid or
 * nucleotide residues. */
void chem_describe_chains(ob_mol *m, cJSON *props);

/* The summary card of a molecule given as SMILES (or reaction SMILES) that has more heavy
 * atoms than chem_depict_max_atoms() (malloc'd SVG), or NULL when it is small enough to
 * draw or cannot be read: the SMILES is read, never laid out. */
char *chem_large_svg(const char *smiles);

#endif
