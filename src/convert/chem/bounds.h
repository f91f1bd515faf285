/* Cost bounds before the toolkit. Open Babel's work on one molecule grows with its atoms,
 * some of it faster than linearly (a 150,000-atom molecule held a converter for the whole
 * job timeout), so what a record holds is counted from its text, cheaply and before Open
 * Babel parses it, and a record past a bound is never handed to Open Babel: its reason
 * names the bound and its setting. The bounds are the server's settings
 * (CARBOY_CHEM_MAX_*, CARBOY_CHEM_IDENTIFY_MAX_ATOMS), checked when it starts and passed
 * to the converter's environment (jobs/pool.c). */
#ifndef CB_CHEM_BOUNDS_H
#define CB_CHEM_BOUNDS_H
#include <stddef.h>
#include <stdio.h>

#include "util/err.h"

struct chem_bounds {
  long long atoms;    /* CARBOY_CHEM_MAX_ATOMS */
  long long bonds;    /* CARBOY_CHEM_MAX_BONDS */
  long long records;  /* CARBOY_CHEM_MAX_RECORDS */
  long long bytes;    /* CARBOY_CHEM_MAX_RECORD_SIZE */
  long long identify; /* CARBOY_CHEM_IDENTIFY_MAX_ATOMS */
};

/* The bounds from the environment (the settings' defaults when unset). */
const struct chem_bounds *chem_bounds(void);

/* What one record's text says it holds; -1 for what it does not say. */
struct chem_counts {
  long long atoms, bonds, bytes;
};

/* Counts one record of a format Open Babel streams (sdf, mol, smi, rsmi, inchi, pdb, xyz,
 * mol2, cml) from f's position, leaving f after it (where Open Babel's next record starts).
 * 1 with c, 0 at the end of the file. */
int bounds_scan_record(FILE *f, const char *format, struct chem_counts *c);

/* Counts a record held in memory: a CIF or mmCIF data block ("cif", "mmcif"), a reaction
 * or an RDF molecule ("rxn", "mol"). For a CIF block, *filled gets its atom sites times
 * its symmetry operations (the filled cell's atoms before special positions merge); filled
 * may be NULL. */
void bounds_count_text(const char *format, const char *text, size_t len, struct chem_counts *c, long long *filled);

/* 0 when c is within the bounds, else -1 with eb naming the first bound passed and its
 * setting ("the molecule has 150,000 atoms, above CARBOY_CHEM_MAX_ATOMS (100,000)"). */
int bounds_check(const struct chem_counts *c, struct cb_errbuf *eb);

/* The records of an SD or SMILES file counted in one pass (a record separator or a line
 * each), stopping past max; -1 for other formats (counted as they are read). */
long long bounds_count_records(const char *path, const char *format, long long max);

/* "150,000": n with thousands separators, into buf. */
const char *bounds_num(long long n, char *buf, size_t cap);

#endif
