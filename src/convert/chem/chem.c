/* Chemistry through Open Babel. Structures: MOL (V2000/V3000), SDF, SMILES, InChI, MOL2,
 * PDB, XYZ, CML; reactions: RXN, RDF, reaction SMILES; crystals: CIF and mmCIF. Every
 * molecule, reaction or data block is a record: canonical SMILES, InChI, InChIKey,
 * formula, weights and descriptors (molecules), components and reaction SMILES
 * (reactions), cell and space group (crystals), and the fields the file carried as
 * properties. Records are read one at a time and written out as they come (records.jsonl
 * in the work folder), so memory stays flat however many a file holds; big SDF and SMILES
 * files are read by one process per CPU, each a byte range of the file. A record that
 * cannot be read or described is recorded with its error and the rest of the file goes
 * on. */
#include <inchi_api.h>
#include <math.h>
#include <sched.h>
#include <signal.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "convert/chem/biomol.h"
#include "convert/chem/bounds.h"
#include "convert/chem/crystal.h"
#include "convert/chem/ob.h"
#include "convert/chem/source.h"
#include "convert/converter.h"
#include "util/util.h"

#define CHEMINF "http://semanticscience.org/resource/CHEMINF_"

static const struct {
  const char *suffix, *format;
} formats[] = {
  {".sdf", "sdf"},   {".sd", "sdf"},  {".mol", "mol"},     {".smi", "smi"},    {".smiles", "smi"}, {".inchi", "inchi"},
  {".mol2", "mol2"}, {".pdb", "pdb"}, {".xyz", "xyz"},     {".cml", "cml"},    {".rxn", "rxn"},    {".rdf", "rdf"},
  {".rsmi", "rsmi"}, {".cif", "cif"}, {".mmcif", "mmcif"}, {".mcif", "mmcif"},
};
static const char *const suffixes[] = {".sdf", ".sd",  ".mol", ".smi",  ".smiles", ".inchi", ".mol2", ".pdb", ".xyz",
                                       ".cml", ".rxn", ".rdf", ".rsmi", ".cif",    ".mmcif", ".mcif", NULL};

static int has(const unsigned char *head, size_t len, const char *s)
{
  return head && len && memmem(head, len, s, strlen(s)) != NULL;
}

static const char *format_of(const struct cb_convert_input *in, const unsigned char *head, size_t len)
{
  for (size_t i = 0; i < sizeof formats / sizeof formats[0]; i++)
    if (suffix_is(in->name, (const char *const[]){formats[i].suffix, NULL}))
      return formats[i].format;
  /* by content: reaction files' headers, a molfile's counts line, SD record separators,
   * a CIF data block with cell or atom-site items */
  if (len >= 7 && !memcmp(head, "$RDFILE", 7))
    return "rdf";
  if (len >= 4 && !memcmp(head, "$RXN", 4))
    return "rxn";
  if (has(head, len, "V2000") || has(head, len, "V3000"))
    return has(head, len, "$$$$") ? "sdf" : "mol";
  if (has(head, len, "data_") && (has(head, len, "_cell_length_a") || has(head, len, "_atom_site")))
    return has(head, len, "_atom_site.") ? "mmcif" : "cif";
  return NULL;
}

static const char *kind_of(const char *format)
{
  if (!strcmp(format, "rxn") || !strcmp(format, "rdf") || !strcmp(format, "rsmi"))
    return "reaction";
  if (!strcmp(format, "cif") || !strcmp(format, "mmcif"))
    return "crystal";
  return "structure";
}

static int sniff(const unsigned char *head, size_t len, const struct cb_convert_input *in)
{
  const char *f = format_of(in, head, len);
  if (!f)
    return 0;
  /* a molfile counts line or SD separators say more than "text/plain" does */
  return suffix_is(in->name, suffixes) ? 60 : 55;
}

/* By name: reaction and crystal formats have kinds of their own. */
static const char *name_kind(const char *name)
{
  const char *f = format_of(&(struct cb_convert_input){.name = name}, NULL, 0);
  return kind_of(f ? f : "");
}

static int initialised;

int chem_ensure_ob(struct cb_errbuf *eb)
{
  if (!initialised && ob_init()) {
    cb_errf(eb, "Open Babel could not load its formats");
    return -1;
  }
  initialised = 1;
  return 0;
}

/* Appends {name, value, unit?, iri?} to props. */
static void prop_add(cJSON *props, const char *name, cJSON *value, const char *unit, const char *iri)
{
  cJSON *o = cJSON_CreateObject();
  cJSON_AddStringToObject(o, "name", name);
  cJSON_AddItemToObject(o, "value", value);
  if (unit)
    cJSON_AddStringToObject(o, "unit", unit);
  if (iri)
    cJSON_AddStringToObject(o, "iri", iri);
  cJSON_AddItemToArray(props, o);
}

static void prop_text(cJSON *props, const char *name, const char *value, const char *unit, const char *iri)
{
  prop_add(props, name, cJSON_CreateString(value), unit, iri);
}

static void prop_num(cJSON *props, const char *name, double value, const char *unit, const char *iri)
{
  prop_add(props, name, cJSON_CreateNumber(value), unit, iri);
}

/* SD fields become properties: numbers when they read as one, text otherwise. */
static void add_field(void *ctx, const char *name, const char *value)
{
  cJSON *props = ctx;
  if (!*name || strlen(name) > 128)
    return;
  char *end;
  double d = strtod(value, &end);
  while (*end == ' ' || *end == '\t' || *end == '\r' || *end == '\n')
    end++;
  if (*value && !*end && end != value && isfinite(d))
    prop_num(props, name, d, NULL, NULL);
  else
    prop_text(props, name, value, NULL, NULL);
}

/* The InChIKey of an InChI, computed from the string (as Open Babel's inchikey output
 * does, without computing the InChI a second time). */
static int inchikey_of(const char *inchi, char key[32])
{
  char x1[65], x2[65];
  return GetINCHIKeyFromINCHI(inchi, 0, 0, key, x1, x2) == INCHIKEY_OK ? 0 : -1;
}

/* A molecule above CARBOY_CHEM_IDENTIFY_MAX_ATOMS: what is linear in its atoms (formula,
 * weights, heavy atoms: its summary card), and a note of what was not computed. */
static void describe_large(ob_mol *m, cJSON *props, int atoms)
{
  struct ob_descriptors d;
  char n[32], max[32];
  char note[256];
  snprintf(note, sizeof note,
           "the molecule has %s atoms, above CARBOY_CHEM_IDENTIFY_MAX_ATOMS (%s): no canonical SMILES, InChI, "
           "InChIKey, fingerprint, logP, TPSA, H-bond counts or rotatable bonds",
           bounds_num(atoms, n, sizeof n), bounds_num(chem_bounds()->identify, max, sizeof max));
  prop_text(props, "identifiers_skipped", note, NULL, NULL);
  if (!ob_mol_formula(m, &d)) {
    prop_text(props, "formula", d.formula, NULL, CHEMINF "000042");
    prop_num(props, "molecular_weight", d.mw, "g/mol", NULL);
    prop_num(props, "exact_mass", d.exact_mass, "Da", NULL);
    prop_num(props, "heavy_atoms", d.heavy_atoms, NULL, NULL);
  }
}

/* Identifiers, descriptors and fingerprint of one molecule (canonical SMILES and ring
 * perception grow faster than the molecule: past CARBOY_CHEM_IDENTIFY_MAX_ATOMS only what
 * describe_large keeps). */
static void describe_molecule(ob_mol *m, cJSON *rec, cJSON *props)
{
  int atoms = ob_mol_atoms(m);
  if (atoms > chem_bounds()->identify) {
    describe_large(m, props, atoms);
    return;
  }
  struct cb_errbuf e2;
  char *can = ob_mol_write(m, "can", &e2);
  char *inchi = ob_mol_write(m, "inchi", &e2);
  char key[32];
  if (can) {
    cJSON_AddStringToObject(rec, "smiles", can);
    prop_text(props, "canonical_smiles", can, NULL, CHEMINF "000018");
  }
  if (inchi && !strncmp(inchi, "InChI=", 6)) {
    prop_text(props, "inchi", inchi, NULL, CHEMINF "000113");
    if (!inchikey_of(inchi, key)) {
      cJSON_AddStringToObject(rec, "inchikey", key);
      prop_text(props, "inchikey", key, NULL, CHEMINF "000059");
    }
  }
  free(can);
  free(inchi);
  unsigned char fp[OB_FP_BYTES];
  if (!ob_mol_fp2(m, fp)) {
    char hex[2 * OB_FP_BYTES + 1];
    sodium_bin2hex(hex, sizeof hex, fp, OB_FP_BYTES);
    cJSON_AddStringToObject(rec, "fp2", hex);
  }
  struct ob_descriptors d;
  if (!ob_mol_descriptors(m, &d)) {
    prop_text(props, "formula", d.formula, NULL, CHEMINF "000042");
    prop_num(props, "molecular_weight", d.mw, "g/mol", NULL);
    prop_num(props, "exact_mass", d.exact_mass, "Da", NULL);
    prop_num(props, "heavy_atoms", d.heavy_atoms, NULL, NULL);
    prop_num(props, "logp", d.logp, NULL, NULL);
    prop_num(props, "tpsa", d.tpsa, "Å²", NULL);
    prop_num(props, "hbond_donors", d.hbd, NULL, NULL);
    prop_num(props, "hbond_acceptors", d.hba, NULL, NULL);
    prop_num(props, "rotatable_bonds", d.rotatable_bonds, NULL, NULL);
  }
}

/* A reaction: its components as canonical SMILES, by role, and the reaction SMILES made
 * of them (reactants>agents>products). */
struct rxn_ctx {
  cJSON *props;
  struct cb_buf side[3];
  int count[3];
};

static void add_component(void *ctx, enum ob_role role, ob_mol *c)
{
  static const char *const names[] = {"reactant", "agent", "product"};
  struct rxn_ctx *rc = ctx;
  int k = role == OB_REACTANT ? 0 : role == OB_AGENT ? 1 : 2;
  struct cb_errbuf e2;
  char *can = ob_mol_atoms(c) ? ob_mol_write(c, "can", &e2) : NULL;
  if (!can)
    return;
  prop_text(rc->props, names[k], can, NULL, NULL);
  cb_buf_printf(&rc->side[k], "%s%s", rc->count[k] ? "." : "", can);
  rc->count[k]++;
  free(can);
}

static int describe_reaction(ob_mol *m, cJSON *rec, cJSON *props, struct cb_errbuf *eb)
{
  struct rxn_ctx rc = {.props = props};
  int n = ob_reaction_components(m, add_component, &rc);
  int bad = n <= 0 || (!rc.count[0] && !rc.count[2]);
  if (bad) {
    cb_errf(eb, "the reaction has no reactant and no product");
  } else {
    struct cb_buf smi = {0};
    cb_buf_printf(&smi, "%s>%s>%s", rc.side[0].data ? rc.side[0].data : "", rc.side[1].data ? rc.side[1].data : "",
                  rc.side[2].data ? rc.side[2].data : "");
    if (smi.data) {
      cJSON_AddStringToObject(rec, "smiles", smi.data);
      prop_text(props, "reaction_smiles", smi.data, NULL, NULL);
    }
    cb_buf_free(&smi);
    prop_num(props, "reactant_count", rc.count[0], NULL, NULL);
    prop_num(props, "product_count", rc.count[2], NULL, NULL);
    if (rc.count[1])
      prop_num(props, "agent_count", rc.count[1], NULL, NULL);
  }
  for (int i = 0; i < 3; i++)
    cb_buf_free(&rc.side[i]);
  return bad ? -1 : 0;
}

/* A reaction's SMILES made of its components' canonical SMILES (malloc'd), or NULL.
 * (Open Babel 3.1's own rsmi writer writes nothing for reactions read from RXN.) */
static char *reaction_smiles(ob_mol *m)
{
  if (!ob_mol_is_reaction(m))
    return NULL;
  cJSON *rec = cJSON_CreateObject(), *props = cJSON_CreateArray();
  struct cb_errbuf eb;
  char *out = NULL;
  if (!describe_reaction(m, rec, props, &eb)) {
    cJSON *smi = cJSON_GetObjectItem(rec, "smiles");
    const char *title = ob_mol_title(m);
    struct cb_buf b = {0};
    cb_buf_printf(&b, "%s%s%s", cJSON_IsString(smi) ? smi->valuestring : "", title && *title ? "\t" : "",
                  title ? title : "");
    out = b.data;
  }
  cJSON_Delete(rec);
  cJSON_Delete(props);
  return out;
}

/* A crystal's space group: as the CIF or mmCIF block writes it (crystal_space_group),
 * else as Open Babel read it. */
static void describe_space_group(ob_mol *m, cJSON *props, const char *block, size_t blen)
{
  struct crystal c = {0};
  struct ob_cell cell;
  if (block) {
    crystal_space_group(block, blen, m, &c);
  } else if (ob_mol_cell(m, &cell)) {
    snprintf(c.space_group, sizeof c.space_group, "%s", cell.space_group);
    c.number = cell.space_group_number;
  }
  if (c.space_group[0])
    prop_text(props, "space_group", c.space_group, NULL, NULL);
  if (c.number > 0)
    prop_num(props, "space_group_number", c.number, NULL, NULL);
  if (c.setting[0])
    prop_text(props, "space_group_setting", c.setting, NULL, NULL);
  if (c.system)
    prop_text(props, "crystal_system", c.system, NULL, NULL);
}

/* A crystal's cell and space group (CIF, mmCIF; block: its data block, or NULL). */
static void describe_cell(ob_mol *m, cJSON *props, const char *block, size_t blen)
{
  struct ob_cell c;
  if (!ob_mol_cell(m, &c))
    return;
  prop_num(props, "cell_length_a", c.a, "Å", NULL);
  prop_num(props, "cell_length_b", c.b, "Å", NULL);
  prop_num(props, "cell_length_c", c.c, "Å", NULL);
  prop_num(props, "cell_angle_alpha", c.alpha, "°", NULL);
  prop_num(props, "cell_angle_beta", c.beta, "°", NULL);
  prop_num(props, "cell_angle_gamma", c.gamma, "°", NULL);
  if (c.volume > 0)
    prop_num(props, "cell_volume", c.volume, "Å³", NULL);
  describe_space_group(m, props, block, blen);
}

/* What a crystal holding discrete molecules keeps of their description (the asymmetric
 * unit's, as Open Babel reads it): identifiers and descriptors, not the formula and
 * weights (the crystal's are the compound's, from the CIF). */
static const char *const molecular_keeps[] = {
  "canonical_smiles", "inchi",           "inchikey",       "heavy_atoms", "logp", "tpsa",
  "hbond_donors",     "hbond_acceptors", "rotatable_bonds"};

static void keep_for_crystal(cJSON *from, cJSON *props)
{
  cJSON *p;
  cJSON_ArrayForEach(p, from)
  {
    cJSON *name = cJSON_GetObjectItem(p, "name");
    for (size_t i = 0; i < sizeof molecular_keeps / sizeof molecular_keeps[0]; i++)
      if (cJSON_IsString(name) && !strcmp(name->valuestring, molecular_keeps[i]))
        cJSON_AddItemToArray(props, cJSON_Duplicate(p, 1));
  }
}

/* A small-molecule crystal (a CIF data block): the compound's formula, its weight, Z and
 * calculated density, the filled cell's atom count, whether it holds discrete molecules
 * (crystal_type), then the cell and space group (crystal.h says where each comes from).
 * A crystal that holds no discrete molecules (a framework, an ionic or a metallic
 * lattice) has no molecule to describe: its record's SMILES (what is drawn and searched)
 * is its asymmetric unit's atoms, charges kept, without the bonds, added hydrogens and
 * radicals a molecule's reading would give them, and no identifier or descriptor is
 * claimed. When
 * the test cannot be made (a filled cell above MOLECULAR_MAX_ATOMS) the record is
 * described as a molecule, as before. */
static void describe_crystal(ob_mol *m, cJSON *rec, cJSON *props, const char *block, size_t blen)
{
  struct crystal c = {0};
  crystal_chemistry(block, blen, m, &c);
  if (c.formula[0])
    prop_text(props, "formula", c.formula, NULL, CHEMINF "000042");
  if (c.formula_weight > 0)
    prop_num(props, "formula_weight", round(c.formula_weight * 1000) / 1000, "g/mol", NULL);
  if (c.z)
    prop_num(props, "formula_units_z", c.z, NULL, NULL);
  if (c.density > 0)
    prop_num(props, "calculated_density", round(c.density * 10000) / 10000, "g/cm³", NULL);
  if (c.filled_atoms)
    prop_num(props, "filled_cell_atoms", c.filled_atoms, NULL, NULL);
  if (c.molecular >= 0)
    prop_text(props, "crystal_type", c.molecular ? "molecular" : "non-molecular", NULL, NULL);
  ob_mol *atoms = c.molecular ? NULL : ob_mol_atoms_only(m);
  cJSON *mol = cJSON_CreateArray();
  /* a molecular crystal's molecules whole, whatever part of them the asymmetric unit holds */
  describe_molecule(atoms ? atoms : c.molecules ? c.molecules : m, rec, mol);
  if (atoms)
    cJSON_DeleteItemFromObject(rec, "inchikey");
  else
    keep_for_crystal(mol, props);
  cJSON_Delete(mol);
  ob_mol_free(atoms);
  ob_mol_free(c.molecules);
  describe_cell(m, props, block, blen);
}

/* Describes one record into rec: 0, or -1 with eb (the record is kept, with its error). */
static int describe(struct mol_source *src, ob_mol *m, cJSON *rec, struct cb_errbuf *eb)
{
  cJSON *props = cJSON_AddArrayToObject(rec, "properties");
  if (src->block_name[0])
    prop_text(props, "data_block", src->block_name, NULL, NULL);
  if (ob_mol_atoms(m) == 0) {
    cb_errf(eb, "the record holds no atoms");
    return -1;
  }
  if (ob_mol_is_reaction(m)) {
    if (describe_reaction(m, rec, props, eb))
      return -1;
  } else {
    size_t blen;
    const char *bformat, *block = source_block(src, &blen, &bformat);
    if (block && !strcmp(bformat, "cif")) {
      describe_crystal(m, rec, props, block, blen);
    } else {
      describe_molecule(m, rec, props);
      describe_cell(m, props, block, blen);
      chem_describe_chains(m, props);
    }
  }
  ob_mol_fields(m, add_field, props);
  return 0;
}

/* Opens the file for reading records, in the format its name or its content says
 * (extract and convert must agree on what a file is): start..end as for source_open. */
static int open_structure(const struct cb_convert_input *in, struct mol_source *src, const char **format,
                          long long start, long long end, struct cb_errbuf *eb)
{
  unsigned char head[4096];
  size_t len = 0;
  FILE *hf = fopen(in->path, "rb");
  if (hf) {
    len = fread(head, 1, sizeof head, hf);
    fclose(hf);
  }
  *format = format_of(in, head, len);
  if (!*format) {
    cb_errf(eb, "not a structure format Open Babel reads");
    return -1;
  }
  if (chem_ensure_ob(eb))
    return -1;
  return source_open(src, in->path, *format, start, end, eb);
}

/* For the trainer (convert/ml): a file's structure format, or NULL; and its records read
 * with the same bounds as an ingest's. */
const char *chem_format_of(const struct cb_convert_input *in, const unsigned char *head, size_t len)
{
  return format_of(in, head, len);
}

int chem_open_structure(const struct cb_convert_input *in, struct mol_source *src, const char **format,
                        struct cb_errbuf *eb)
{
  return open_structure(in, src, format, 0, 0, eb);
}

/* ---- extract: every record to a JSON line ---- */

/* One part of a file (all of it, or a byte range when it is read in parallel). The
 * counters live in shared memory when a child process fills them in. */
struct part {
  long long start, end;
  _Atomic long long done; /* bytes read */
  long long count, failed;
  int finished;
  char err[256];
  char bound[256]; /* the first record refused for a bound (bounds.h) */
};

struct part_progress {
  struct part *part;
  cb_progress_fn fn; /* NULL in a child: the parent reports */
  void *ctx;
  long long size;
};

static void part_progress(struct part_progress *pp, long long off)
{
  if (off <= 0)
    return;
  pp->part->done = off - pp->part->start;
  if (pp->fn && pp->size)
    pp->fn(pp->ctx, (double)off / (double)pp->size);
}

/* A record's error, cut to 255 bytes as it always was. */
static void record_error(cJSON *rec, const char *msg)
{
  char shown[256];
  snprintf(shown, sizeof shown, "%s", msg);
  cJSON_AddStringToObject(rec, "error", shown);
}

static void extract_part(const struct cb_convert_input *in, struct part *p, const char *outpath,
                         struct part_progress *pp)
{
  const char *format;
  struct mol_source src;
  struct cb_errbuf eb = {""};
  if (open_structure(in, &src, &format, p->start, p->end, &eb)) {
    snprintf(p->err, sizeof p->err, "%s", eb.msg);
    return;
  }
  FILE *out = fopen(outpath, "wb");
  if (!out) {
    source_close(&src);
    snprintf(p->err, sizeof p->err, "cannot write the records");
    return;
  }
  struct cb_errbuf rerr;
  for (;;) {
    ob_mol *m = NULL;
    rerr.msg[0] = '\0';
    int rc = source_next(&src, &m, &rerr);
    if (rc == 0)
      break;
    if (rc == -2) {
      snprintf(p->err, sizeof p->err, "%s", rerr.msg);
      break;
    }
    if (src.bound && !p->bound[0])
      snprintf(p->bound, sizeof p->bound, "%s", rerr.msg);
    cJSON *rec = cJSON_CreateObject();
    cJSON_AddNumberToObject(rec, "index", (double)p->count);
    if (rc > 0) {
      const char *title = src.title[0] ? src.title : ob_mol_title(m);
      if (title && *title)
        cJSON_AddStringToObject(rec, "title", title);
      else if (src.block_name[0])
        cJSON_AddStringToObject(rec, "title", src.block_name);
      if (describe(&src, m, rec, &rerr)) {
        record_error(rec, rerr.msg);
        p->failed++;
      }
      ob_mol_free(m);
    } else {
      record_error(rec, rerr.msg[0] ? rerr.msg : "this record could not be read");
      p->failed++;
    }
    char *line = cJSON_PrintUnformatted(rec);
    if (line) {
      fputs(line, out);
      fputc('\n', out);
      cJSON_free(line);
    }
    cJSON_Delete(rec);
    p->count++;
    part_progress(pp, source_offset(&src));
    if (rc < 0 && p->failed > 1000 && p->failed == p->count) {
      snprintf(p->err, sizeof p->err, "the first %lld records could not be read: not a valid %s file", p->count,
               format);
      break;
    }
  }
  source_close(&src);
  if (fclose(out) && !p->err[0])
    snprintf(p->err, sizeof p->err, "cannot write the records");
}

/* How many processes read a file: big SDF and SMILES files are split at record
 * boundaries into chunks that one process per CPU (CARBOY_INGEST_PROCESSES caps it) takes
 * in turn, so a 100,000-molecule file keeps every core busy. */
static int procs_for(const char *format, uint64_t size)
{
  if (!source_splittable(format) || size < (1u << 20))
    return 1;
  cpu_set_t set;
  int n = sched_getaffinity(0, sizeof set, &set) ? (int)sysconf(_SC_NPROCESSORS_ONLN) : CPU_COUNT(&set);
  const char *cap = getenv("CARBOY_INGEST_PROCESSES");
  if (cap && atoi(cap) > 0 && atoi(cap) < n)
    n = atoi(cap);
  return n < 1 ? 1 : n > 8 ? 8 : n;
}

#define MAX_CHUNKS 4096

struct chunks {
  _Atomic int next; /* the next chunk to take */
  int n;
  struct part part[MAX_CHUNKS];
};

static void chunk_path(const struct cb_convert_input *in, int k, char *out, size_t cap)
{
  snprintf(out, cap, "%s/records.chunk%d.jsonl", in->workdir, k);
}

/* Appends a finished chunk's records to out (then removes them). */
static int append_file(FILE *out, const char *path)
{
  FILE *f = fopen(path, "rb");
  if (!f)
    return -1;
  char buf[1 << 16];
  size_t n;
  int bad = 0;
  while (!bad && (n = fread(buf, 1, sizeof buf, f)) > 0)
    bad = fwrite(buf, 1, n, out) != n;
  bad |= ferror(f);
  fclose(f);
  unlink(path);
  return bad ? -1 : 0;
}

static int n_chunks_ok(int n)
{
  return n < MAX_CHUNKS;
}

/* Reads the chunks in nproc child processes; the parent appends each finished chunk's
 * records to outpath in file order as soon as those before it are in (the server stores
 * them while the rest is read) and reports progress. 0, or -1 with eb. */
static int extract_parallel(const struct cb_convert_input *in, struct chunks *c, int nproc, const char *outpath,
                            cb_progress_fn progress, void *pctx, struct cb_errbuf *eb)
{
  FILE *out = fopen(outpath, "wb");
  if (!out) {
    cb_errf(eb, "cannot write the records");
    return -1;
  }
  pid_t pids[8] = {0};
  pid_t parent = getpid();
  for (int i = 0; i < nproc; i++) {
    fflush(NULL);
    pids[i] = fork();
    if (pids[i] < 0) {
      cb_errf(eb, "cannot start a process to read part of the file");
      break;
    }
    if (pids[i] == 0) {
      prctl(PR_SET_PDEATHSIG, SIGKILL); /* a killed converter takes its helpers along */
      if (getppid() != parent)
        _exit(1);
      int k;
      while ((k = atomic_fetch_add(&c->next, 1)) < c->n) {
        char path[4300];
        chunk_path(in, k, path, sizeof path);
        struct part_progress pp = {&c->part[k], NULL, NULL, (long long)in->size};
        extract_part(in, &c->part[k], path, &pp);
        atomic_thread_fence(memory_order_release);
        c->part[k].finished = 1;
        if (c->part[k].err[0])
          break;
      }
      _exit(0); /* not exit(): the parent's buffers are not this process's to flush */
    }
  }
  int merged = 0, running = 1, bad = 0;
  while (running || merged < c->n) {
    running = 0;
    for (int i = 0; i < nproc; i++) {
      int st;
      if (pids[i] > 0 && waitpid(pids[i], &st, WNOHANG) == pids[i]) {
        pids[i] = 0;
        if ((WIFSIGNALED(st) || WEXITSTATUS(st)) && !eb->msg[0])
          cb_errf(eb, "a process reading part of the file %s %d (%s)",
                  WIFSIGNALED(st) ? "died of signal" : "exited with", WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st),
                  WIFSIGNALED(st) ? strsignal(WTERMSIG(st)) : "error");
      }
      running += pids[i] > 0;
    }
    long long done = 0;
    for (int k = 0; k < c->n; k++)
      done += c->part[k].done;
    while (merged < c->n && c->part[merged].finished && !bad && !eb->msg[0]) {
      atomic_thread_fence(memory_order_acquire);
      char path[4300];
      chunk_path(in, merged, path, sizeof path);
      bad = c->part[merged].err[0] ? 0 : append_file(out, path) || fflush(out);
      if (c->part[merged].err[0])
        cb_errf(eb, "%s", c->part[merged].err);
      merged++;
    }
    if (in->size)
      progress(pctx, (double)done / (double)in->size);
    if (bad || eb->msg[0]) {
      for (int i = 0; i < nproc; i++)
        if (pids[i] > 0)
          kill(pids[i], SIGKILL);
    }
    if (!running && (merged == c->n || bad || eb->msg[0] || !c->part[merged].finished))
      break;
    usleep(20000);
  }
  for (int i = 0; i < nproc; i++)
    if (pids[i] > 0)
      waitpid(pids[i], NULL, 0);
  for (int k = merged; k < c->n; k++) { /* what a failure left behind */
    char path[4300];
    chunk_path(in, k, path, sizeof path);
    unlink(path);
  }
  if (fclose(out))
    bad = 1;
  if (!eb->msg[0] && (bad || merged < c->n))
    cb_errf(eb, bad ? "cannot write the records" : "a process reading part of the file stopped early");
  return eb->msg[0] ? -1 : 0;
}

/* The one record of a one-record file, read back (its identifiers go on the file itself,
 * for search). */
static cJSON *first_record(const char *path)
{
  FILE *f = fopen(path, "rb");
  if (!f)
    return NULL;
  char *line = NULL;
  size_t cap = 0;
  ssize_t n = getline(&line, &cap, f);
  cJSON *rec = n > 0 ? cJSON_ParseWithLength(line, (size_t)n) : NULL;
  free(line);
  fclose(f);
  return rec;
}

/* An SD or SMILES file's records counted before any is read (source_next counts other
 * formats' as it reads them): -1 with eb when there are more than CARBOY_CHEM_MAX_RECORDS. */
static int too_many_records(const struct cb_convert_input *in, const char *format, struct cb_errbuf *eb)
{
  long long max = chem_bounds()->records, n = bounds_count_records(in->path, format, max);
  char m[32];
  if (n <= max)
    return 0;
  cb_errf(eb, "the file holds more than %s records, above CARBOY_CHEM_MAX_RECORDS", bounds_num(max, m, sizeof m));
  return -1;
}

static cb_err extract(const struct cb_convert_input *in, cJSON *result, cb_progress_fn progress, void *pctx,
                      struct cb_errbuf *eb)
{
  const char *format;
  struct mol_source probe;
  if (open_structure(in, &probe, &format, 0, 0, eb))
    return CB_EINVAL;
  source_close(&probe);
  if (too_many_records(in, format, eb))
    return CB_EINVAL;
  char outpath[4200];
  snprintf(outpath, sizeof outpath, "%s/records.jsonl", in->workdir);
  int nproc = procs_for(format, in->size);
  size_t mapsize = nproc > 1 ? sizeof(struct chunks) : sizeof(struct part);
  void *shared = mmap(NULL, mapsize, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (shared == MAP_FAILED) {
    cb_errf(eb, "out of memory");
    return CB_ENOMEM;
  }
  struct part *parts;
  int n = 1;
  if (nproc == 1) {
    parts = shared;
    struct part_progress pp = {&parts[0], progress, pctx, (long long)in->size};
    extract_part(in, &parts[0], outpath, &pp);
  } else {
    /* chunks of about size / (16 x processes), 256 KiB .. 8 MiB: small enough that the
     * records stream out in order, big enough that the processes rarely wait */
    struct chunks *c = shared;
    parts = c->part;
    uint64_t want = in->size / (16u * (unsigned)nproc);
    want = want < (256u << 10) ? (256u << 10) : want > (8u << 20) ? (8u << 20) : want;
    if (in->size / want >= MAX_CHUNKS)
      want = in->size / (MAX_CHUNKS - 1) + 1;
    FILE *f = fopen(in->path, "rb");
    long long pos = 0;
    while (pos < (long long)in->size && n_chunks_ok(c->n)) {
      long long next = f ? source_boundary(f, format, pos + (long long)want, (long long)in->size) : (long long)in->size;
      c->part[c->n].start = pos;
      c->part[c->n].end = next < (long long)in->size ? next : 0;
      c->n++;
      pos = next;
    }
    if (f)
      fclose(f);
    n = c->n;
    extract_parallel(in, c, nproc, outpath, progress, pctx, eb);
  }
  long long count = 0, failed = 0;
  char bound[256] = "";
  for (int i = 0; i < n && !eb->msg[0]; i++) {
    count += parts[i].count;
    failed += parts[i].failed;
    if (parts[i].err[0])
      cb_errf(eb, "%s", parts[i].err);
    if (parts[i].bound[0] && !bound[0])
      snprintf(bound, sizeof bound, "%s", parts[i].bound);
  }
  munmap(shared, mapsize);
  if (eb->msg[0])
    return CB_EINVAL;
  if (count == 0) {
    cb_errf(eb, "the file holds no %s", !strcmp(kind_of(format), "structure") ? "molecule" : "record");
    return CB_EINVAL;
  }
  if (failed == count) {
    /* a file of one molecule past a bound fails with that reason */
    if (count == 1 && bound[0])
      cb_errf(eb, "%s", bound);
    else
      cb_errf(eb, "no record of this %s file could be read", format);
    return CB_EINVAL;
  }
  cJSON_AddStringToObject(result, "kind", kind_of(format));
  result_prop_text(result, "structure_format", format, NULL, NULL);
  result_prop_num(result, "record_count", (double)count, NULL, NULL);
  if (failed)
    result_prop_num(result, "records_failed", (double)failed, NULL, NULL);
  /* a one-record file carries that record's identifiers itself, for search */
  cJSON *first = count == 1 ? first_record(outpath) : NULL;
  if (first && !cJSON_GetObjectItem(first, "error")) {
    cJSON *p, *props = cJSON_GetObjectItem(first, "properties");
    cJSON *dst = cJSON_GetObjectItem(result, "properties");
    cJSON_ArrayForEach(p, props) cJSON_AddItemToArray(dst, cJSON_Duplicate(p, 1));
  }
  cJSON_Delete(first);
  cJSON_AddStringToObject(result, "records", outpath);
  return CB_OK;
}

/* What each kind converts to is narrowed by the HTTP layer (records.c). */
static const char *const targets[] = {"smi", "can", "inchi", "inchikey", "mol",  "sdf", "mol2", "pdb",
                                      "cml", "xyz", "csv",   "rxn",      "rsmi", "cif", NULL};

/* One CSV field, quoted when it needs to be (RFC 4180). */
static void csv_field(FILE *out, const char *v)
{
  if (!strpbrk(v, ",\"\r\n")) {
    fputs(v, out);
    return;
  }
  fputc('"', out);
  for (const char *p = v; *p; p++) {
    if (*p == '"')
      fputc('"', out);
    fputc(*p, out);
  }
  fputc('"', out);
}

/* The next molecule of r, passing over records that cannot be read (what a conversion
 * leaves out); NULL at the end, and at a record past a bound (r->bound, rerr says which:
 * the conversion fails with it rather than leave a molecule out for its size). */
static ob_mol *next_readable(struct mol_source *r, struct cb_errbuf *rerr)
{
  ob_mol *m = NULL;
  int rc;
  while ((rc = source_next(r, &m, rerr)) == -1 && !r->bound)
    ;
  if (rc == -2)
    r->bound = 1;
  return rc > 0 ? m : NULL;
}

/* Canonical SMILES and InChI grow faster than the molecule: a conversion to them of one
 * above CARBOY_CHEM_IDENTIFY_MAX_ATOMS is refused (1, r->bound and rerr set), as ingest
 * leaves them out. */
static int identify_refused(ob_mol *m, const char *to, struct mol_source *r, struct cb_errbuf *rerr)
{
  int atoms = ob_mol_atoms(m);
  if (strcmp(to, "can") && strcmp(to, "inchi") && strcmp(to, "inchikey"))
    return 0;
  if (atoms <= chem_bounds()->identify)
    return 0;
  char n[32], max[32];
  cb_errf(rerr, "the molecule has %s atoms, above CARBOY_CHEM_IDENTIFY_MAX_ATOMS (%s): no %s for it",
          bounds_num(atoms, n, sizeof n), bounds_num(chem_bounds()->identify, max, sizeof max),
          !strcmp(to, "can") ? "canonical SMILES" : to);
  r->bound = 1;
  return 1;
}

/* CSV: a row per molecule: title, smiles, then the chosen properties (options.properties:
 * computed ones or SD fields; default inchikey, formula, molecular_weight). */
static cb_err write_csv(struct mol_source *r, FILE *out, const struct cb_convert_input *in, cb_progress_fn progress,
                        void *pctx, long long *n)
{
  static const char *const dflt[] = {"inchikey", "formula", "molecular_weight"};
  const cJSON *chosen = in->options ? cJSON_GetObjectItemCaseSensitive(in->options, "properties") : NULL;
  const char *cols[64];
  int ncols = 0;
  const cJSON *c;
  if (cJSON_IsArray(chosen) && cJSON_GetArraySize(chosen) > 0) {
    cJSON_ArrayForEach(c, chosen) if (cJSON_IsString(c) && ncols < 64) cols[ncols++] = c->valuestring;
  } else {
    for (int i = 0; i < 3; i++)
      cols[ncols++] = dflt[i];
  }
  fputs("title,smiles", out);
  for (int i = 0; i < ncols; i++) {
    fputc(',', out);
    csv_field(out, cols[i]);
  }
  fputs("\r\n", out);
  ob_mol *m;
  struct cb_errbuf rerr;
  while ((m = next_readable(r, &rerr))) {
    cJSON *rec = cJSON_CreateObject();
    const char *title = r->title[0] ? r->title : ob_mol_title(m);
    if ((!title || !*title) && r->block_name[0])
      title = r->block_name;
    int bad = describe(r, m, rec, &rerr);
    if (!bad) {
      csv_field(out, title ? title : "");
      fputc(',', out);
      cJSON *sm = cJSON_GetObjectItem(rec, "smiles");
      csv_field(out, cJSON_IsString(sm) ? sm->valuestring : "");
      cJSON *props = cJSON_GetObjectItem(rec, "properties");
      for (int i = 0; i < ncols; i++) {
        fputc(',', out);
        cJSON *p;
        cJSON_ArrayForEach(p, props)
        {
          cJSON *name = cJSON_GetObjectItem(p, "name"), *value = cJSON_GetObjectItem(p, "value");
          if (!cJSON_IsString(name) || strcmp(name->valuestring, cols[i]))
            continue;
          char num[64];
          if (cJSON_IsNumber(value)) {
            snprintf(num, sizeof num, "%.10g", value->valuedouble);
            csv_field(out, num);
          } else if (cJSON_IsString(value)) {
            csv_field(out, value->valuestring);
          }
          break;
        }
      }
      fputs("\r\n", out);
      (*n)++;
    }
    cJSON_Delete(rec);
    ob_mol_free(m);
    long long off = source_offset(r);
    if (off > 0 && in->size)
      progress(pctx, (double)off / (double)in->size);
  }
  return CB_OK;
}

/* Formats written as the obabel command line writes a whole file (ob_writer): SMILES with
 * their titles, one CML document. */
static int written_as_obabel(const char *to)
{
  return !strcmp(to, "smi") || !strcmp(to, "can") || !strcmp(to, "cml");
}

/* smi, can and cml through ob_writer, one molecule read ahead so that the last is known. */
static cb_err write_obabel(struct mol_source *r, const char *to, const char *outpath, const struct cb_convert_input *in,
                           cb_progress_fn progress, void *pctx, long long *n, struct cb_errbuf *eb)
{
  ob_writer *w = ob_writer_open(outpath, to, eb);
  if (!w)
    return CB_EIO;
  struct cb_errbuf rerr;
  ob_mol *m = next_readable(r, &rerr);
  if (m && identify_refused(m, to, r, &rerr)) {
    ob_mol_free(m);
    m = NULL;
  }
  while (m) {
    ob_mol *next = next_readable(r, &rerr);
    if (next && identify_refused(next, to, r, &rerr)) {
      ob_mol_free(next);
      next = NULL;
    }
    if (!ob_writer_put(w, m, next == NULL, &rerr))
      (*n)++;
    ob_mol_free(m);
    m = next;
    long long off = source_offset(r);
    if (off > 0 && in->size)
      progress(pctx, (double)off / (double)in->size);
  }
  if (ob_writer_close(w)) {
    cb_errf(eb, "cannot write the output");
    return CB_EIO;
  }
  if (r->bound) {
    cb_errf(eb, "%s", rerr.msg);
    return CB_EINVAL;
  }
  return CB_OK;
}

/* One record in format to (malloc'd; NULL with eb): a reaction's SMILES, a crystal's
 * filled cell when filled, else the molecule itself. A filled cell is counted first (the
 * block's atom sites times its symmetry operations): one past CARBOY_CHEM_MAX_ATOMS is
 * refused (r->bound set) before Open Babel makes it. */
static char *write_record(struct mol_source *r, ob_mol *m, const char *to, int filled, struct cb_errbuf *eb)
{
  if (!strcmp(to, "rsmi"))
    return reaction_smiles(m);
  if (!filled)
    return ob_mol_write(m, to, eb);
  size_t blen;
  const char *bformat, *block = source_block(r, &blen, &bformat);
  long long atoms = -1, max = chem_bounds()->atoms;
  struct chem_counts c;
  if (block)
    bounds_count_text(bformat, block, blen, &c, &atoms);
  if (atoms > max) {
    char n[32], m2[32];
    cb_errf(eb, "the filled cell would hold %s atoms, above CARBOY_CHEM_MAX_ATOMS (%s)", bounds_num(atoms, n, sizeof n),
            bounds_num(max, m2, sizeof m2));
    r->bound = 1;
    return NULL;
  }
  ob_mol *cell = ob_mol_filled_cell(m, max < CRYSTAL_MAX_ATOMS ? (int)max : CRYSTAL_MAX_ATOMS, !strcmp(to, "pdb"), eb);
  char *s = cell ? ob_mol_write(cell, to, eb) : NULL;
  ob_mol_free(cell);
  return s;
}

/* Every record converted in turn; line formats (smi, can, inchi, inchikey) one per line. */
static cb_err convert(const struct cb_convert_input *in, const char *to, const char *outpath, cJSON *result,
                      cb_progress_fn progress, void *pctx, struct cb_errbuf *eb)
{
  const char *format;
  struct mol_source src, *r = &src;
  /* options.cell "filled": a crystal's filled unit cell (GET .../convert?to=xyz&cell=filled) */
  const cJSON *cell = in->options ? cJSON_GetObjectItemCaseSensitive(in->options, "cell") : NULL;
  int filled = cJSON_IsString(cell) && !strcmp(cell->valuestring, "filled");
  if (filled && strcmp(to, "pdb") && strcmp(to, "xyz") && strcmp(to, "cif")) {
    cb_errf(eb, "a filled unit cell converts to pdb, xyz or cif");
    return CB_EINVAL;
  }
  if (open_structure(in, r, &format, 0, 0, eb))
    return CB_EINVAL;
  if (too_many_records(in, format, eb)) {
    source_close(r);
    return CB_EINVAL;
  }
  int whole = written_as_obabel(to);
  FILE *out = whole ? NULL : fopen(outpath, "wb");
  if (!out && !whole) {
    source_close(r);
    cb_errf(eb, "cannot write the output");
    return CB_EIO;
  }
  long long n = 0;
  struct cb_errbuf rerr = {""};
  if (!strcmp(to, "csv"))
    write_csv(r, out, in, progress, pctx, &n);
  else if (whole && write_obabel(r, to, outpath, in, progress, pctx, &n, eb)) {
    source_close(r);
    return CB_EIO;
  }
  ob_mol *m;
  /* line and record formats, one molecule at a time */
  while (out && strcmp(to, "csv") != 0 && !r->bound && (m = next_readable(r, &rerr))) {
    char *s = identify_refused(m, to, r, &rerr) ? NULL : write_record(r, m, to, filled, &rerr);
    ob_mol_free(m);
    if (s) {
      fputs(s, out);
      fputc('\n', out);
      free(s);
      n++;
    }
    long long off = source_offset(r);
    if (off > 0 && in->size)
      progress(pctx, (double)off / (double)in->size);
  }
  int bound = r->bound;
  source_close(r);
  if (bound) { /* a molecule past a bound: the conversion fails with its reason */
    if (out)
      fclose(out);
    cb_errf(eb, "%s", rerr.msg);
    return CB_EINVAL;
  }
  if ((out && fclose(out)) || !n) {
    cb_errf(eb, "no molecule could be converted to %s%s%s%s", to, filled ? " (filled cell)" : "",
            rerr.msg[0] ? ": " : "", rerr.msg);
    return CB_EINVAL;
  }
  cJSON_AddStringToObject(result, "media_type",
                          !strcmp(to, "sdf")   ? "chemical/x-mdl-sdfile"
                          : !strcmp(to, "rxn") ? "chemical/x-mdl-rxnfile"
                          : !strcmp(to, "cif") ? "chemical/x-cif"
                          : !strcmp(to, "csv") ? "text/csv"
                                               : "text/plain");
  return CB_OK;
}

static const struct converter_desc desc = {"structure", "structure", suffixes, sniff, name_kind};
static const struct converter_ops ops = {extract, convert, targets, NULL};
const struct converter conv_structure = {&desc, &ops};

#define PANEL 300 /* px: one molecule's drawing (ob_smiles_svg) */
#define GAP 60    /* px: the "+" or the arrow between two */

/* A reaction drawn left to right: each reactant and product as its own drawing, "+"
 * between those of a side, an arrow between the sides (agents named above it).
 * Returns the SVG (malloc'd) or NULL with eb. */
static char *reaction_svg(const char *rsmi, struct cb_errbuf *eb)
{
  const char *gt1 = strchr(rsmi, '>'), *gt2 = gt1 ? strchr(gt1 + 1, '>') : NULL;
  if (!gt2) {
    cb_errf(eb, "not a reaction SMILES");
    return NULL;
  }
  const char *side[2][2] = {{rsmi, gt1}, {gt2 + 1, gt2 + 1 + strlen(gt2 + 1)}};
  struct cb_buf body = {0};
  int x = 0, panels = 0;
  for (int s = 0; s < 2; s++) {
    if (s == 1) { /* the arrow */
      int y = PANEL / 2;
      cb_buf_printf(&body,
                    "<line x1=\"%d\" y1=\"%d\" x2=\"%d\" y2=\"%d\" stroke=\"black\" stroke-width=\"3\"/>"
                    "<polygon points=\"%d,%d %d,%d %d,%d\" fill=\"black\"/>\n",
                    x + 8, y, x + 2 * GAP - 14, y, x + 2 * GAP - 4, y, x + 2 * GAP - 18, y - 8, x + 2 * GAP - 18,
                    y + 8);
      x += 2 * GAP;
    }
    int first = 1;
    for (const char *p = side[s][0]; p < side[s][1];) {
      const char *dot = memchr(p, '.', (size_t)(side[s][1] - p));
      const char *e = dot ? dot : side[s][1];
      if (e > p) {
        char *one = strndup(p, (size_t)(e - p));
        char *svg = one ? ob_smiles_svg(one, eb) : NULL;
        free(one);
        if (!svg) {
          cb_buf_free(&body);
          return NULL;
        }
        if (!first) {
          cb_buf_printf(
            &body,
            "<text x=\"%d\" y=\"%d\" font-family=\"sans-serif\" font-size=\"40\" text-anchor=\"middle\">+</text>\n",
            x + GAP / 2, PANEL / 2 + 14);
          x += GAP;
        }
        const char *inner = strstr(svg, "<svg");
        cb_buf_printf(&body, "<g transform=\"translate(%d,0)\">\n%s</g>\n", x, inner ? inner : svg);
        free(svg);
        x += PANEL;
        first = 0;
        panels++;
      }
      p = e + 1;
    }
  }
  if (!panels) {
    cb_buf_free(&body);
    cb_errf(eb, "the reaction has nothing to draw");
    return NULL;
  }
  struct cb_buf out = {0};
  cb_buf_printf(&out,
                "<?xml version=\"1.0\"?>\n<svg xmlns=\"http://www.w3.org/2000/svg\" version=\"1.1\" width=\"%dpx\" "
                "height=\"%dpx\" viewBox=\"0 0 %d %d\">\n<rect x=\"0\" y=\"0\" width=\"%d\" height=\"%d\" "
                "fill=\"white\"/>\n%s</svg>\n",
                x, PANEL, x, PANEL, x, PANEL, body.data ? body.data : "");
  cb_buf_free(&body);
  if (!out.data)
    cb_errf(eb, "out of memory");
  return out.data;
}

cb_err chem_depict(const char *smiles, const char *outpath, struct cb_errbuf *eb)
{
  if (chem_ensure_ob(eb))
    return CB_EINVAL;
  char *svg = chem_large_svg(smiles); /* too large to lay out: its summary */
  if (!svg)
    svg = strchr(smiles, '>') ? reaction_svg(smiles, eb) : ob_smiles_svg(smiles, eb);
  if (!svg)
    return CB_EINVAL;
  FILE *f = fopen(outpath, "wb");
  int bad = !f || fputs(svg, f) < 0;
  if (f && fclose(f))
    bad = 1;
  free(svg);
  if (bad) {
    cb_errf(eb, "cannot write the depiction");
    return CB_EIO;
  }
  return CB_OK;
}
