/* Where the structure converter's molecules come from. Formats Open Babel streams itself
 * (SDF, SMILES, MOL2, ...) are read by it directly, optionally one byte range of the file
 * (parallel ingest splits big files at record boundaries). Two containers Open Babel does
 * not split well are split here, and each block handed to it on its own:
 *   CIF / mmCIF: one record per data block (Open Babel would read one block per file);
 *   RXN: the whole file, its name read here (Open Babel appends its molecules' names);
 *   RDF: one record per $RFMT (reaction) or $MFMT (molecule), its $DTYPE/$DATUM pairs
 *        becoming the record's fields (Open Babel has no RDF reader). */
#ifndef CB_CHEM_SOURCE_H
#define CB_CHEM_SOURCE_H
#include <stdio.h>

#include "convert/chem/bounds.h"
#include "convert/chem/ob.h"

struct blocks;

struct mol_source {
  const char *format;    /* the file's format: sdf, smi, rxn, rdf, cif, ... */
  ob_reader *ob;         /* formats Open Babel reads as a stream */
  struct blocks *blocks; /* rdf, cif, mmcif */
  long long end;         /* stop before the record starting at this offset; 0 = at the end */
  char block_name[128];  /* the last record's CIF data block name, "" otherwise */
  char title[256];       /* the last record's title when the file says it better than
                          * Open Babel does (a reaction's name), "" otherwise */
  FILE *scan;            /* the same file, for counting a record before Open Babel reads it */
  long long records;     /* records read so far */
  int bound;             /* the last record was refused for a bound (bounds.h) */
};

/* Is format one this file splits into blocks itself? */
int source_is_blocks(const char *format);
/* Opens path (in format) for reading records from byte offset start up to end (0: the
 * end); start must be a record boundary. 0, or -1 with eb. */
int source_open(struct mol_source *s, const char *path, const char *format, long long start, long long end,
                struct cb_errbuf *eb);
/* The next record: 1 with *mol set; 0 at the end; -1 when this record cannot be read (eb
 * says why; the next call goes on with the next record); -2 when the file holds more
 * records than CARBOY_CHEM_MAX_RECORDS (eb says so; reading stops). A record past a bound
 * of bounds.h is counted from its text first and never handed to Open Babel: -1 with
 * s->bound set. */
int source_next(struct mol_source *s, ob_mol **mol, struct cb_errbuf *eb);
/* The last record's CIF or mmCIF data block as the file writes it, and what it is ("cif",
 * "mmcif"); NULL for other formats. */
const char *source_block(struct mol_source *s, size_t *len, const char **format);
/* Bytes consumed so far. */
long long source_offset(struct mol_source *s);
void source_close(struct mol_source *s);

/* The offset of the first record boundary at or after pos in a file of a splittable
 * format (sdf: after a "$$$$" line; smi: after a newline); size when there is none. */
long long source_boundary(FILE *f, const char *format, long long pos, long long size);
/* Can format be split into byte ranges for parallel reading? */
int source_splittable(const char *format);

/* chem.c's: the structure format of a file (by name, else by content: head holds its first
 * len bytes), or NULL; and such a file opened for source_next from its start (Open Babel
 * loaded). 0, or -1 with eb. */
struct cb_convert_input;
const char *chem_format_of(const struct cb_convert_input *in, const unsigned char *head, size_t len);
int chem_open_structure(const struct cb_convert_input *in, struct mol_source *src, const char **format,
                        struct cb_errbuf *eb);

#endif
