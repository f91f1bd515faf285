/* Chemical structures through Open Babel: MOL (V2000/V3000), SDF, SMILES, InChI, MOL2,
 * PDB, XYZ, CML. Every molecule is a record: canonical SMILES, InChI, InChIKey, formula,
 * weights and descriptors, and its SD fields as properties. Molecules are read one at a
 * time and written out as they come (records.jsonl in the work folder), so memory stays
 * flat however many a file holds; a record that cannot be read or described is recorded
 * with its error and the rest of the file goes on. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "convert/chem/ob.h"
#include "convert/converter.h"
#include "util/util.h"

#define CHEMINF "http://semanticscience.org/resource/CHEMINF_"

static const struct {
  const char *suffix, *format;
} formats[] = {
  {".sdf", "sdf"}, {".sd", "sdf"}, {".mol", "mol"}, {".smi", "smi"}, {".smiles", "smi"},
  {".inchi", "inchi"}, {".mol2", "mol2"}, {".pdb", "pdb"}, {".xyz", "xyz"}, {".cml", "cml"},
};
static const char *const suffixes[] = {".sdf", ".sd", ".mol", ".smi", ".smiles", ".inchi", ".mol2",
                                       ".pdb", ".xyz", ".cml", NULL};

static const char *format_of(const struct cb_convert_input *in, const unsigned char *head, size_t len)
{
  for (size_t i = 0; i < sizeof formats / sizeof formats[0]; i++)
    if (suffix_is(in->name, (const char *const[]){formats[i].suffix, NULL}))
      return formats[i].format;
  /* by content: a molfile's counts line, or SD record separators */
  if (head && len && (memmem(head, len, "V2000", 5) || memmem(head, len, "V3000", 5)))
    return memmem(head, len, "$$$$", 4) ? "sdf" : "mol";
  return NULL;
}

static int sniff(const unsigned char *head, size_t len, const struct cb_convert_input *in)
{
  const char *f = format_of(in, head, len);
  if (!f)
    return 0;
  /* a molfile counts line or SD separators say more than "text/plain" does */
  return suffix_is(in->name, suffixes) ? 60 : 55;
}

static int initialised;

static int ensure_ob(char *err, size_t errcap)
{
  if (!initialised && ob_init()) {
    snprintf(err, errcap, "Open Babel could not load its formats");
    return -1;
  }
  initialised = 1;
  return 0;
}

struct rec_ctx {
  cJSON *props;
};

static void prop_text(cJSON *props, const char *name, const char *value, const char *iri)
{
  cJSON *o = cJSON_CreateObject();
  cJSON_AddStringToObject(o, "name", name);
  cJSON_AddStringToObject(o, "value", value);
  if (iri)
    cJSON_AddStringToObject(o, "iri", iri);
  cJSON_AddItemToArray(props, o);
}

static void prop_num(cJSON *props, const char *name, double value, const char *unit, const char *iri)
{
  cJSON *o = cJSON_CreateObject();
  cJSON_AddStringToObject(o, "name", name);
  cJSON_AddNumberToObject(o, "value", value);
  if (unit)
    cJSON_AddStringToObject(o, "unit", unit);
  if (iri)
    cJSON_AddStringToObject(o, "iri", iri);
  cJSON_AddItemToArray(props, o);
}

/* SD fields become properties: numbers when they read as one, text otherwise. */
static void add_field(void *ctx, const char *name, const char *value)
{
  struct rec_ctx *rc = ctx;
  if (!*name || strlen(name) > 128)
    return;
  char *end;
  double d = strtod(value, &end);
  while (*end == ' ' || *end == '\t' || *end == '\r' || *end == '\n')
    end++;
  if (*value && !*end && end != value)
    prop_num(rc->props, name, d, NULL, NULL);
  else
    prop_text(rc->props, name, value, NULL);
}

/* Describes one molecule into rec; returns the canonical SMILES (malloc'd) or NULL. */
static int describe(ob_mol *m, cJSON *rec, char *err, size_t errcap)
{
  cJSON *props = cJSON_AddArrayToObject(rec, "properties");
  if (ob_mol_atoms(m) == 0) {
    snprintf(err, errcap, "the record holds no atoms");
    return -1;
  }
  char e2[256];
  char *can = ob_mol_write(m, "can", e2, sizeof e2);
  char *inchi = ob_mol_write(m, "inchi", e2, sizeof e2);
  char *key = ob_mol_write(m, "inchikey", e2, sizeof e2);
  if (can) {
    cJSON_AddStringToObject(rec, "smiles", can);
    prop_text(props, "canonical_smiles", can, CHEMINF "000018");
  }
  if (inchi)
    prop_text(props, "inchi", inchi, CHEMINF "000113");
  if (key) {
    cJSON_AddStringToObject(rec, "inchikey", key);
    prop_text(props, "inchikey", key, CHEMINF "000059");
  }
  free(can);
  free(inchi);
  free(key);
  unsigned char fp[OB_FP_BYTES];
  if (!ob_mol_fp2(m, fp)) {
    char hex[2 * OB_FP_BYTES + 1];
    cb_hex(fp, OB_FP_BYTES, hex);
    cJSON_AddStringToObject(rec, "fp2", hex);
  }
  struct ob_descriptors d;
  if (!ob_mol_descriptors(m, &d)) {
    prop_text(props, "formula", d.formula, CHEMINF "000042");
    prop_num(props, "molecular_weight", d.mw, "g/mol", NULL);
    prop_num(props, "exact_mass", d.exact_mass, "Da", NULL);
    prop_num(props, "heavy_atoms", d.heavy_atoms, NULL, NULL);
    prop_num(props, "logp", d.logp, NULL, NULL);
    prop_num(props, "tpsa", d.tpsa, "Å²", NULL);
    prop_num(props, "hbond_donors", d.hbd, NULL, NULL);
    prop_num(props, "hbond_acceptors", d.hba, NULL, NULL);
    prop_num(props, "rotatable_bonds", d.rotatable_bonds, NULL, NULL);
  }
  struct rec_ctx rc = {props};
  ob_mol_fields(m, add_field, &rc);
  return 0;
}

/* Opens the file for reading molecules, in the format its name or its content says
 * (extract and convert must agree on what a file is). NULL with err when it is not one. */
static ob_reader *open_structure(const struct cb_convert_input *in, const char **format, char *err, size_t errcap)
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
    snprintf(err, errcap, "not a structure format Open Babel reads");
    return NULL;
  }
  if (ensure_ob(err, errcap))
    return NULL;
  return ob_open(in->path, *format, err, errcap);
}

static cb_err extract(const struct cb_convert_input *in, cJSON *result, cb_progress_fn progress, void *pctx,
                      char *err, size_t errcap)
{
  const char *format;
  ob_reader *r = open_structure(in, &format, err, errcap);
  if (!r)
    return CB_EINVAL;
  char outpath[4200];
  snprintf(outpath, sizeof outpath, "%s/records.jsonl", in->workdir);
  FILE *out = fopen(outpath, "wb");
  if (!out) {
    ob_close(r);
    snprintf(err, errcap, "cannot write the records");
    return CB_EIO;
  }
  long long count = 0, failed = 0;
  cJSON *first = NULL;
  for (;;) {
    ob_mol *m = NULL;
    char rerr[256] = "";
    int rc = ob_next(r, &m, rerr, sizeof rerr);
    if (rc == 0)
      break;
    cJSON *rec = cJSON_CreateObject();
    cJSON_AddNumberToObject(rec, "index", (double)count);
    if (rc > 0) {
      const char *title = ob_mol_title(m);
      if (title && *title)
        cJSON_AddStringToObject(rec, "title", title);
      if (describe(m, rec, rerr, sizeof rerr)) {
        cJSON_AddStringToObject(rec, "error", rerr);
        failed++;
      }
      ob_mol_free(m);
    } else {
      cJSON_AddStringToObject(rec, "error", rerr[0] ? rerr : "this record could not be read");
      failed++;
    }
    char *line = cJSON_PrintUnformatted(rec);
    if (line) {
      fputs(line, out);
      fputc('\n', out);
      cJSON_free(line);
    }
    if (!first && !cJSON_GetObjectItem(rec, "error"))
      first = rec;
    else
      cJSON_Delete(rec);
    count++;
    long long off = ob_offset(r);
    if (off > 0 && in->size)
      progress(pctx, (double)off / (double)in->size);
    if (rc < 0 && failed > 1000 && failed == count) {
      snprintf(err, errcap, "the first %lld records could not be read: not a valid %s file", count, format);
      break;
    }
  }
  ob_close(r);
  if (fclose(out) || (failed == count && count > 0) || err[0]) {
    cJSON_Delete(first);
    if (!err[0])
      snprintf(err, errcap, "no record of this %s file could be read", format);
    return CB_EINVAL;
  }
  if (count == 0) {
    cJSON_Delete(first);
    snprintf(err, errcap, "the file holds no molecule");
    return CB_EINVAL;
  }
  cJSON_AddStringToObject(result, "kind", "structure");
  result_prop_text(result, "structure_format", format, NULL, NULL);
  result_prop_num(result, "record_count", (double)count, NULL, NULL);
  if (failed)
    result_prop_num(result, "records_failed", (double)failed, NULL, NULL);
  /* a one-molecule file carries that molecule's identifiers itself, for search */
  if (count == 1 && first) {
    cJSON *p, *props = cJSON_GetObjectItem(first, "properties");
    cJSON *dst = cJSON_GetObjectItem(result, "properties");
    cJSON_ArrayForEach(p, props) cJSON_AddItemToArray(dst, cJSON_Duplicate(p, 1));
  }
  cJSON_Delete(first);
  cJSON_AddStringToObject(result, "records", outpath);
  return CB_OK;
}

static const char *const targets[] = {"smi", "can", "inchi", "inchikey", "mol", "sdf", "mol2", "pdb", "cml", "xyz",
                                      "csv", NULL};

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

/* CSV: a row per molecule: title, smiles, then the chosen properties (options.properties:
 * computed ones or SD fields; default inchikey, formula, molecular_weight). */
static cb_err write_csv(ob_reader *r, FILE *out, const struct cb_convert_input *in, cb_progress_fn progress,
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
  for (;;) {
    ob_mol *m = NULL;
    char rerr[256];
    int rc = ob_next(r, &m, rerr, sizeof rerr);
    if (rc == 0)
      break;
    if (rc < 0)
      continue;
    cJSON *rec = cJSON_CreateObject();
    const char *title = ob_mol_title(m);
    int bad = describe(m, rec, rerr, sizeof rerr);
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
    long long off = ob_offset(r);
    if (off > 0 && in->size)
      progress(pctx, (double)off / (double)in->size);
  }
  return CB_OK;
}

/* Every record converted in turn; line formats (smi, can, inchi, inchikey) one per line. */
static cb_err convert(const struct cb_convert_input *in, const char *to, const char *outpath, cJSON *result,
                      cb_progress_fn progress, void *pctx, char *err, size_t errcap)
{
  const char *format;
  ob_reader *r = open_structure(in, &format, err, errcap);
  if (!r)
    return CB_EINVAL;
  FILE *out = fopen(outpath, "wb");
  if (!out) {
    ob_close(r);
    snprintf(err, errcap, "cannot write the output");
    return CB_EIO;
  }
  long long n = 0;
  if (!strcmp(to, "csv"))
    write_csv(r, out, in, progress, pctx, &n);
  while (strcmp(to, "csv") != 0) { /* line and record formats, one molecule at a time */
    ob_mol *m = NULL;
    char rerr[256];
    int rc = ob_next(r, &m, rerr, sizeof rerr);
    if (rc == 0)
      break;
    if (rc < 0)
      continue;
    char *s = ob_mol_write(m, to, rerr, sizeof rerr);
    ob_mol_free(m);
    if (s) {
      fputs(s, out);
      fputc('\n', out);
      free(s);
      n++;
    }
    long long off = ob_offset(r);
    if (off > 0 && in->size)
      progress(pctx, (double)off / (double)in->size);
  }
  ob_close(r);
  if (fclose(out) || !n) {
    snprintf(err, errcap, "no molecule could be converted to %s", to);
    return CB_EINVAL;
  }
  cJSON_AddStringToObject(result, "media_type", !strcmp(to, "sdf")   ? "chemical/x-mdl-sdfile"
                                                : !strcmp(to, "csv") ? "text/csv"
                                                                     : "text/plain");
  return CB_OK;
}

static const struct converter_desc desc = {"structure", "structure", suffixes, sniff};
static const struct converter_ops ops = {extract, convert, targets};
const struct converter conv_structure = {&desc, &ops};

cb_err chem_depict(const char *smiles, const char *outpath, char *err, size_t errcap)
{
  if (ensure_ob(err, errcap))
    return CB_EINVAL;
  char *svg = ob_smiles_svg(smiles, err, errcap);
  if (!svg)
    return CB_EINVAL;
  FILE *f = fopen(outpath, "wb");
  int bad = !f || fputs(svg, f) < 0;
  if (f && fclose(f))
    bad = 1;
  free(svg);
  if (bad) {
    snprintf(err, errcap, "cannot write the depiction");
    return CB_EIO;
  }
  return CB_OK;
}

cb_err chem_query(const char *smiles, const char *smarts, cJSON *result, char *err, size_t errcap)
{
  if (ensure_ob(err, errcap))
    return CB_EINVAL;
  if (smarts) {
    if (!ob_smarts_valid(smarts)) {
      snprintf(err, errcap, "the SMARTS pattern is not valid");
      return CB_EINVAL;
    }
    /* for screening: the pattern read as SMILES when it is one (else no screen) */
  }
  const char *text = smiles ? smiles : smarts;
  ob_mol *m = ob_mol_from_string(text, "smi", err, errcap);
  if (!m) {
    if (smarts) { /* a SMARTS that is not also SMILES: no fingerprint screen */
      err[0] = '\0';
      return CB_OK;
    }
    return CB_EINVAL;
  }
  char e2[256];
  char *can = ob_mol_write(m, "can", e2, sizeof e2);
  char *key = ob_mol_write(m, "inchikey", e2, sizeof e2);
  unsigned char fp[OB_FP_BYTES];
  if (can)
    cJSON_AddStringToObject(result, "smiles", can);
  if (key)
    cJSON_AddStringToObject(result, "inchikey", key);
  if (!ob_mol_fp2(m, fp)) {
    char hex[2 * OB_FP_BYTES + 1];
    cb_hex(fp, OB_FP_BYTES, hex);
    cJSON_AddStringToObject(result, "fp2", hex);
  }
  free(can);
  free(key);
  ob_mol_free(m);
  return CB_OK;
}

cb_err chem_match(const char *pattern, const cJSON *smiles_list, cJSON *result, char *err, size_t errcap)
{
  if (ensure_ob(err, errcap))
    return CB_EINVAL;
  if (!ob_smarts_valid(pattern)) {
    snprintf(err, errcap, "the SMARTS pattern is not valid");
    return CB_EINVAL;
  }
  cJSON *hits = cJSON_AddArrayToObject(result, "matches");
  const cJSON *it;
  int i = 0;
  cJSON_ArrayForEach(it, smiles_list)
  {
    if (cJSON_IsString(it)) {
      char e2[128];
      ob_mol *m = ob_mol_from_string(it->valuestring, "smi", e2, sizeof e2);
      if (m && ob_mol_matches(m, pattern) == 1)
        cJSON_AddItemToArray(hits, cJSON_CreateNumber(i));
      ob_mol_free(m);
    }
    i++;
  }
  return CB_OK;
}
