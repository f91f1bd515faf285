/* Converters: one per family of file types. A converter is a descriptor (what it is and
 * which files it claims: name, kinds, suffixes, sniff) kept apart from its operations
 * (extract, convert, preview), as curl keeps a scheme apart from its handler and libvips
 * a loader's is_a from its load.
 *
 * Converters run only inside worker child processes (`carboy worker`), never in the
 * server: they parse untrusted files. They see a local path to read, a private work
 * folder to write into, and report through a cJSON result object:
 *   {"kind": "...", "media_type": "...",
 *    "properties": [{"name", "value", "unit"?, "iri"?}],
 *    "artifacts": [{"kind": "text", "media_type": "text/plain", "path": "WORKDIR/..."}]}
 * Convert/preview land with the families that need them. */
#ifndef CB_CONVERTER_H
#define CB_CONVERTER_H
#include <cjson/cJSON.h>
#include <stddef.h>
#include <stdint.h>

#include "util/err.h"

struct cb_convert_input {
  const char *path;    /* the file to read */
  const char *name;    /* its name, as the user gave it */
  const char *workdir; /* where outputs may be written */
  const char *mime;    /* libmagic's MIME type of the content */
  const char *magic;   /* libmagic's description */
  uint64_t size;
  const cJSON *options; /* the request's "options" object, or NULL */
};

/* Progress, 0..1; cheap to call often. */
typedef void (*cb_progress_fn)(void *ctx, double fraction);

struct converter_desc {
  const char *name;
  const char *kind;            /* the kind it gives files: text, image, ... */
  const char *const *suffixes; /* NULL-terminated, lower case, with the dot */
  /* How sure (0..100) the converter is that it reads this content: 0 = no. head is the
   * start of the file (up to 64 KiB). */
  int (*sniff)(const unsigned char *head, size_t len, const struct cb_convert_input *in);
  /* The kind a file of this name (one of suffixes) gets, when it is not always kind;
   * NULL: kind. */
  const char *(*name_kind)(const char *name);
};

struct converter_ops {
  cb_err (*extract)(const struct cb_convert_input *in, cJSON *result, cb_progress_fn progress, void *pctx,
                    struct cb_errbuf *eb);
  /* Writes the file converted to format `to` (one of targets) at outpath; may set
   * "media_type" in result. NULL when the family converts to nothing. */
  cb_err (*convert)(const struct cb_convert_input *in, const char *to, const char *outpath, cJSON *result,
                    cb_progress_fn progress, void *pctx, struct cb_errbuf *eb);
  const char *const *targets; /* NULL-terminated formats convert() writes */
  /* Writes page `page` (from 1; the server asks for 2 and up, page 1 being extract's
   * "preview") as a thumbnail the size of the preview at outpath and sets "media_type" in
   * result: a TIFF's directory, a PDF's page (op "preview"). NULL when the family's files
   * have one page. */
  cb_err (*page_preview)(const struct cb_convert_input *in, int page, const char *outpath, cJSON *result,
                         cb_progress_fn progress, void *pctx, struct cb_errbuf *eb);
};

struct converter {
  const struct converter_desc *desc;
  const struct converter_ops *ops;
};

/* Picks the converter for a file: the best sniff score, the suffix breaking ties; the
 * generic one when nobody claims it. Test converters count only when enabled. */
const struct converter *converter_find(const unsigned char *head, size_t len, const struct cb_convert_input *in);
const struct converter *converter_by_name(const char *name);
/* The kind a file is given by its name alone, before a converter reads it (uploads guess
 * it so): that of the first converter whose suffixes name it, else "other". */
const char *converter_kind_of_name(const char *name);
void converter_enable_testing(int on);
/* The media type a name suggests before the content is read (chemistry, CSV/TSV, OOXML
 * and ODF suffixes), or NULL (media.c). */
const char *convert_media_of_name(const char *name);
/* The media type of a file's content: in->mime (libmagic's) made precise by the zip's
 * parts (OOXML, ODF) and, for plain text, by the name; "; charset=utf-8" on text types
 * whose bytes are UTF-8. head holds the first len bytes (head_cap when it is full). */
void convert_media_type(const struct cb_convert_input *in, const unsigned char *head, size_t len, size_t head_cap,
                        char *out, size_t cap);

/* Helpers for converters building their result. */
void result_prop_text(cJSON *result, const char *name, const char *value, const char *unit, const char *iri);
void result_prop_num(cJSON *result, const char *name, double value, const char *unit, const char *iri);
void result_artifact(cJSON *result, const char *kind, const char *media_type, const char *path);
/* An artifact whose bytes are the input's own (a text file already valid UTF-8): no file is
 * written; the server records the input's blob as the artifact. */
void result_artifact_input(cJSON *result, const char *kind, const char *media_type);
int suffix_is(const char *name, const char *const *suffixes);

/* Draws a molecule given as SMILES as SVG into outpath (in the worker only). */
cb_err chem_depict(const char *smiles, const char *outpath, struct cb_errbuf *eb);
/* Heavy atoms above which a molecule is summarised, never drawn: CARBOY_DEPICT_MAX_ATOMS
 * (chem/biomol.c). */
int chem_depict_max_atoms(void);
/* The summary card of a molecule too large to draw (malloc'd SVG, well-formed whatever the
 * text): title (may be NULL), then from props (a record's properties, [{name, value}])
 * heavy_atoms, formula, molecular_weight and a biopolymer's chains with their residues and
 * sequences. Makes no use of Open Babel: the server calls it. */
char *chem_summary_svg(const char *title, const cJSON *props, int max_atoms);

/* Loads Open Babel's formats once per process: 0, or -1 with eb (chem/chem.c). */
int chem_ensure_ob(struct cb_errbuf *eb);
/* Identifies a query structure: canonical SMILES, InChIKey, FP2 (hex) into result. With
 * smarts, validates the pattern and fingerprints it when it also reads as SMILES. */
cb_err chem_query(const char *smiles, const char *smarts, cJSON *result, struct cb_errbuf *eb);
/* Which of smiles_list (an array of SMILES) contain the SMARTS pattern: result.matches,
 * their indexes. keys (NULL, or an array as long: each candidate's record id) lets the
 * molecules read be kept for the next query (chem/match.c). */
cb_err chem_match(const char *pattern, const cJSON *smiles_list, const cJSON *keys, cJSON *result,
                  struct cb_errbuf *eb);

/* The worker child's main loop: requests on stdin, results on stdout (one JSON object
 * per line each way). Returns the process exit code. */
int convert_worker_main(void);

extern const struct converter conv_text;
extern const struct converter conv_structure;
extern const struct converter conv_pdf;
extern const struct converter conv_office;
extern const struct converter conv_image;
extern const struct converter conv_table;
extern const struct converter conv_archive;
extern const struct converter conv_model;
extern const struct converter conv_generic;
extern const struct converter conv_test_crash;
extern const struct converter conv_test_hang;
extern const struct converter conv_test_oom;
extern const struct converter conv_test_fail;
extern const struct converter conv_test_slow;
extern const struct converter conv_test_escape;
extern const struct converter conv_test_spin;

#endif
