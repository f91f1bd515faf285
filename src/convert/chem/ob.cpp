// The Open Babel shim (see ob.h). C++ lives only in this file.
#include "convert/chem/ob.h"

#include <openbabel/descriptor.h>
#include <openbabel/fingerprint.h>
#include <openbabel/parsmart.h>
#include <openbabel/reactionfacade.h>
#include <openbabel/math/spacegroup.h>
#include <openbabel/generic.h>
#include <openbabel/mol.h>
#include <openbabel/obconversion.h>
#include <openbabel/oberror.h>
#include <openbabel/obiter.h>
#include <openbabel/residue.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

using namespace OpenBabel;

struct ob_reader {
  std::ifstream in;
  OBConversion conv;
  bool first = true;
  bool rsmi = false; /* reaction SMILES: read here, line by line (read_rsmi) */
};

struct ob_mol {
  OBMol mol;
};

static void set_err(struct cb_errbuf *eb, const std::string &msg)
{
  cb_errf(eb, "%s", msg.c_str());
}

/* In a catch-all handler: eb says what was thrown, an exception's own message, or
 * `otherwise` for anything else. */
static void set_caught(struct cb_errbuf *eb, const char *otherwise)
{
  try {
    throw;
  } catch (const std::exception &e) {
    set_err(eb, e.what());
  } catch (...) {
    set_err(eb, otherwise);
  }
}

extern "C" int ob_init(void)
{
  try {
    obErrorLog.SetOutputLevel(obError);
    obErrorLog.StopLogging(); /* messages would go to stderr, not to the job */
    OBConversion conv;
    return conv.FindFormat("sdf") && conv.FindFormat("inchi") ? 0 : -1; /* forces plugin loading */
  } catch (...) {
    return -1;
  }
}

/* Open Babel has format, without the flag `cannot` (NOTREADABLE, NOTWRITABLE). */
static int format_can(const char *format, unsigned int cannot)
{
  try {
    OBFormat *f = OBConversion::FindFormat(format);
    return f && !(f->Flags() & cannot);
  } catch (...) {
    return 0;
  }
}

extern "C" int ob_can_read(const char *format)
{
  return format_can(format, NOTREADABLE);
}

extern "C" int ob_can_write(const char *format)
{
  return format_can(format, NOTWRITABLE);
}

extern "C" ob_reader *ob_open(const char *path, const char *format, struct cb_errbuf *eb)
{
  return ob_open_at(path, format, 0, eb);
}

extern "C" ob_reader *ob_open_at(const char *path, const char *format, long long start, struct cb_errbuf *eb)
{
  ob_reader *r = nullptr;
  try {
    r = new ob_reader;
    r->in.open(path, std::ios::in | std::ios::binary);
    if (!r->in) {
      set_err(eb, "cannot open the file");
      delete r;
      return nullptr;
    }
    if (!r->conv.SetInFormat(format)) {
      set_err(eb, std::string("Open Babel cannot read format ") + format);
      delete r;
      return nullptr;
    }
    if (start > 0 && !r->in.seekg(start)) {
      set_err(eb, "cannot seek in the file");
      delete r;
      return nullptr;
    }
    r->conv.SetInStream(&r->in, false);
    r->rsmi = !std::strcmp(format, "rsmi");
    return r;
  } catch (...) {
    set_caught(eb, "Open Babel failed to open the file");
  }
  delete r;
  return nullptr;
}

/* One reaction SMILES line, REACTANTS>AGENTS>PRODUCTS [TITLE], as a reaction OBMol (each
 * side's molecules its components, as Open Babel's RXN reader makes them). Open Babel
 * 3.1.1's own rsmi reader casts what it reads into to an OBReaction and dereferences the
 * null pointer it gets for the OBMol every other format reads into (found by the
 * convert_chem fuzz target): a segfault on every reaction SMILES file. 1 read, 0 at the
 * end, -1 a line that is not a reaction (eb says why). */
static int read_rsmi(ob_reader *r, OBMol &mol, struct cb_errbuf *eb)
{
  std::string ln;
  do {
    if (!std::getline(r->in, ln))
      return 0;
    if (!ln.empty() && ln.back() == '\r')
      ln.pop_back();
  } while (ln.empty() || ln[0] == '#' || ln[0] == '/');
  size_t sp = ln.find_first_of(" \t");
  std::string rs = ln.substr(0, sp), title = sp == std::string::npos ? "" : ln.substr(sp + 1);
  Trim(title);
  size_t g1 = rs.find('>'), g2 = g1 == std::string::npos ? g1 : rs.find('>', g1 + 1);
  if (g2 == std::string::npos || rs.find('>', g2 + 1) != std::string::npos) {
    set_err(eb, "not a reaction SMILES (REACTANTS>AGENTS>PRODUCTS)");
    return -1;
  }
  OBConversion smi;
  if (!smi.SetInFormat("smi")) {
    set_err(eb, "Open Babel cannot read SMILES");
    return -1;
  }
  static const char *const names[] = {"reactants", "agents", "products"};
  const struct {
    size_t from, to;
    OBReactionRole role;
  } sides[] = {{0, g1, REACTANT}, {g1 + 1, g2, AGENT}, {g2 + 1, rs.size(), PRODUCT}};
  mol.SetIsReaction();
  OBReactionFacade facade(&mol);
  for (int i = 0; i < 3; i++) {
    std::string part = rs.substr(sides[i].from, sides[i].to - sides[i].from);
    OBMol whole;
    if (part.empty())
      continue;
    if (!smi.ReadString(&whole, part)) {
      set_err(eb, std::string("the ") + names[i] + " are not SMILES");
      return -1;
    }
    for (OBMol &c : whole.Separate())
      facade.AddComponent(&c, sides[i].role);
  }
  mol.SetTitle(title);
  return 1;
}

extern "C" int ob_next(ob_reader *r, ob_mol **out, struct cb_errbuf *eb)
{
  *out = nullptr;
  ob_mol *m = nullptr;
  try {
    if (!r->in.good() && !r->first)
      return 0;
    m = new ob_mol;
    if (r->rsmi) {
      int rc = read_rsmi(r, m->mol, eb);
      if (rc == 1)
        *out = m;
      else
        delete m;
      return rc;
    }
    std::streampos before = r->in.tellg();
    bool ok = r->conv.Read(&m->mol);
    r->first = false;
    if (ok) {
      *out = m;
      return 1;
    }
    delete m;
    /* Read() fails at the end and on a record it cannot parse; tell them apart by
     * whether input was consumed. */
    if (r->in.eof() || r->in.tellg() == before || r->in.tellg() < 0)
      return 0;
    set_err(eb, "this record could not be parsed");
    return -1;
  } catch (...) {
    set_caught(eb, "Open Babel failed on this record");
  }
  delete m;
  return -1;
}

extern "C" long long ob_offset(ob_reader *r)
{
  try {
    std::streampos p = r->in.tellg();
    return p < 0 ? -1 : (long long)p;
  } catch (...) {
    return -1;
  }
}

extern "C" void ob_close(ob_reader *r)
{
  try {
    delete r;
  } catch (...) {
  }
}

extern "C" void ob_mol_free(ob_mol *m)
{
  try {
    delete m;
  } catch (...) {
  }
}

extern "C" const char *ob_mol_title(ob_mol *m)
{
  try {
    return m->mol.GetTitle();
  } catch (...) {
    return "";
  }
}

extern "C" int ob_mol_atoms(ob_mol *m)
{
  try {
    return (int)m->mol.NumAtoms();
  } catch (...) {
    return 0;
  }
}

extern "C" char *ob_mol_write(ob_mol *m, const char *format, struct cb_errbuf *eb)
{
  try {
    OBConversion conv;
    if (!conv.SetOutFormat(format)) {
      set_err(eb, std::string("Open Babel cannot write format ") + format);
      return nullptr;
    }
    if (!std::strcmp(format, "can") || !std::strcmp(format, "smi"))
      conv.AddOption("n", OBConversion::OUTOPTIONS); /* no title after the SMILES */
    if (!std::strcmp(format, "inchi") || !std::strcmp(format, "inchikey"))
      conv.AddOption("w", OBConversion::OUTOPTIONS); /* no warnings mixed into the output */
    std::string s = conv.WriteString(&m->mol, true);
    while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ' || s.back() == '\t'))
      s.pop_back();
    if (s.empty()) {
      set_err(eb, std::string("no ") + format + " for this molecule");
      return nullptr;
    }
    return strdup(s.c_str());
  } catch (...) {
    set_caught(eb, "Open Babel failed to write the molecule");
  }
  return nullptr;
}

static double descriptor(OBMol &mol, const char *id)
{
  OBDescriptor *d = OBDescriptor::FindType(id);
  return d ? d->Predict(&mol) : 0.0;
}

extern "C" int ob_mol_descriptors(ob_mol *m, struct ob_descriptors *d)
{
  try {
    std::memset(d, 0, sizeof *d);
    OBMol &mol = m->mol;
    std::snprintf(d->formula, sizeof d->formula, "%s", mol.GetFormula().c_str());
    d->mw = mol.GetMolWt();
    d->exact_mass = mol.GetExactMass();
    d->heavy_atoms = (int)mol.NumHvyAtoms();
    d->rotatable_bonds = (int)mol.NumRotors();
    d->logp = descriptor(mol, "logP");
    d->tpsa = descriptor(mol, "TPSA");
    d->hbd = (int)descriptor(mol, "HBD");
    d->hba = (int)descriptor(mol, "HBA1");
    return 0;
  } catch (...) {
    return -1;
  }
}

extern "C" void ob_mol_fields(ob_mol *m, void (*cb)(void *ctx, const char *name, const char *value), void *ctx)
{
  try {
    for (OBGenericData *g : m->mol.GetData()) {
      if (g->GetDataType() != OBGenericDataType::PairData)
        continue;
      std::string k = g->GetAttribute(), v = g->GetValue();
      /* "Formula" is what GetFormula() answers when present (a CIF's formula sum): the
       * formula property already says it */
      if (k == "OpenBabel Symmetry Classes" || k == "MOL Chiral Flag" || k == "Formula")
        continue;
      cb(ctx, k.c_str(), v.c_str());
    }
  } catch (...) {
  }
}

extern "C" char *ob_smiles_svg(const char *smiles, struct cb_errbuf *eb)
{
  try {
    OBConversion conv;
    OBMol mol;
    if (!conv.SetInAndOutFormats("smi", "svg")) {
      set_err(eb, "Open Babel cannot write SVG");
      return nullptr;
    }
    if (!conv.ReadString(&mol, smiles) || mol.NumAtoms() == 0) {
      set_err(eb, "the SMILES could not be read");
      return nullptr;
    }
    mol.SetTitle("");
    conv.AddOption("C", OBConversion::OUTOPTIONS);        /* no terminal carbon labels */
    conv.AddOption("P", OBConversion::OUTOPTIONS, "300"); /* 300 px */
    std::string svg = conv.WriteString(&mol);
    if (svg.find("<svg") == std::string::npos) {
      set_err(eb, "no depiction for this molecule");
      return nullptr;
    }
    return strdup(svg.c_str());
  } catch (...) {
    set_caught(eb, "Open Babel failed to draw the molecule");
  }
  return nullptr;
}

extern "C" int ob_mol_fp2(ob_mol *m, unsigned char out[OB_FP_BYTES])
{
  try {
    std::memset(out, 0, OB_FP_BYTES);
    OBFingerprint *fp = OBFingerprint::FindFingerprint("FP2");
    std::vector<unsigned int> bits;
    if (!fp || !fp->GetFingerprint(&m->mol, bits, 1024))
      return -1;
    for (size_t i = 0; i < bits.size() && i * 4 < OB_FP_BYTES; i++)
      for (int b = 0; b < 4; b++)
        out[i * 4 + b] = (unsigned char)((bits[i] >> (8 * b)) & 0xff);
    return 0;
  } catch (...) {
    return -1;
  }
}

extern "C" ob_mol *ob_mol_from_string(const char *text, const char *format, struct cb_errbuf *eb)
{
  ob_mol *m = nullptr;
  try {
    OBConversion conv;
    if (!conv.SetInFormat(format)) {
      set_err(eb, std::string("Open Babel cannot read format ") + format);
      return nullptr;
    }
    m = new ob_mol;
    if (!conv.ReadString(&m->mol, text) || m->mol.NumAtoms() == 0) {
      set_err(eb, "the structure could not be read");
      delete m;
      return nullptr;
    }
    return m;
  } catch (...) {
    set_caught(eb, "Open Babel failed to read the structure");
  }
  delete m;
  return nullptr;
}

extern "C" int ob_smarts_valid(const char *smarts)
{
  try {
    OBSmartsPattern p;
    return p.Init(smarts) ? 1 : 0;
  } catch (...) {
    return 0;
  }
}

extern "C" int ob_mol_matches(ob_mol *m, const char *smarts)
{
  try {
    OBSmartsPattern p;
    if (!p.Init(smarts))
      return -1;
    return p.Match(m->mol, true) ? 1 : 0;
  } catch (...) {
    return -1;
  }
}

extern "C" void ob_mol_set_field(ob_mol *m, const char *name, const char *value)
{
  try {
    OBPairData *d = new OBPairData;
    d->SetAttribute(name);
    d->SetValue(value);
    d->SetOrigin(fileformatInput);
    m->mol.SetData(d);
  } catch (...) {
  }
}

extern "C" int ob_mol_cell(ob_mol *m, struct ob_cell *cell)
{
  try {
    std::memset(cell, 0, sizeof *cell);
    OBUnitCell *uc = static_cast<OBUnitCell *>(m->mol.GetData(OBGenericDataType::UnitCell));
    if (!uc)
      return 0;
    cell->a = uc->GetA();
    cell->b = uc->GetB();
    cell->c = uc->GetC();
    cell->alpha = uc->GetAlpha();
    cell->beta = uc->GetBeta();
    cell->gamma = uc->GetGamma();
    cell->volume = uc->GetCellVolume();
    const SpaceGroup *sg = uc->GetSpaceGroup();
    std::string name = sg ? sg->GetHMName() : uc->GetSpaceGroupName();
    std::snprintf(cell->space_group, sizeof cell->space_group, "%s", name.c_str());
    cell->space_group_number = sg ? (int)sg->GetId() : uc->GetSpaceGroupNumber();
    return 1;
  } catch (...) {
    return 0;
  }
}

extern "C" int ob_mol_is_reaction(ob_mol *m)
{
  try {
    return m->mol.IsReaction() ? 1 : 0;
  } catch (...) {
    return 0;
  }
}

extern "C" int ob_reaction_components(ob_mol *m, void (*cb)(void *ctx, enum ob_role role, ob_mol *component), void *ctx)
{
  try {
    OBReactionFacade facade(&m->mol);
    if (!facade.IsValid())
      return -1;
    static const struct {
      OBReactionRole ob;
      enum ob_role role;
    } roles[] = {{REACTANT, OB_REACTANT}, {AGENT, OB_AGENT}, {PRODUCT, OB_PRODUCT}};
    int n = 0;
    for (const auto &r : roles) {
      unsigned int count = facade.NumComponents(r.ob);
      for (unsigned int i = 0; i < count; i++) {
        ob_mol *c = new ob_mol;
        if (facade.GetComponent(&c->mol, r.ob, i)) {
          cb(ctx, r.role, c);
          n++;
        }
        delete c;
      }
    }
    return n;
  } catch (...) {
    return -1;
  }
}

/* One-letter codes of the residues a chain is made of: amino acids (the 20, selenocysteine,
 * pyrrolysine, selenomethionine as M) and nucleotides (RNA and DNA names). Other residues
 * (water, ligands, ions) belong to no chain's sequence. */
static char residue_letter(const std::string &name)
{
  static const struct {
    const char *name;
    char letter;
  } codes[] = {
    {"ALA", 'A'}, {"ARG", 'R'}, {"ASN", 'N'}, {"ASP", 'D'}, {"CYS", 'C'}, {"GLN", 'Q'}, {"GLU", 'E'},
    {"GLY", 'G'}, {"HIS", 'H'}, {"ILE", 'I'}, {"LEU", 'L'}, {"LYS", 'K'}, {"MET", 'M'}, {"PHE", 'F'},
    {"PRO", 'P'}, {"SER", 'S'}, {"THR", 'T'}, {"TRP", 'W'}, {"TYR", 'Y'}, {"VAL", 'V'}, {"SEC", 'U'},
    {"PYL", 'O'}, {"MSE", 'M'}, {"A", 'A'},   {"C", 'C'},   {"G", 'G'},   {"U", 'U'},   {"T", 'T'},
    {"I", 'I'},   {"DA", 'A'},  {"DC", 'C'},  {"DG", 'G'},  {"DT", 'T'},  {"DU", 'U'},  {"DI", 'I'},
  };
  std::string n = name;
  Trim(n);
  for (const auto &c : codes)
    if (n == c.name)
      return c.letter;
  return 0;
}

extern "C" int ob_mol_chains(ob_mol *m, ob_chain_cb cb, void *ctx)
{
  try {
    std::vector<std::pair<char, std::string>> chains; /* in the order they first appear */
    for (OBResidueIter res(m->mol); res; ++res) {
      char letter = residue_letter(res->GetName());
      if (!letter)
        continue;
      size_t i = 0;
      while (i < chains.size() && chains[i].first != res->GetChain())
        i++;
      if (i == chains.size())
        chains.emplace_back(res->GetChain(), std::string());
      chains[i].second += letter;
    }
    for (const auto &c : chains)
      cb(ctx, c.first, (int)c.second.size(), c.second.c_str());
    return (int)chains.size();
  } catch (...) {
    return -1;
  }
}

extern "C" int ob_smiles_size(const char *smiles, char *formula, size_t formula_size)
{
  try {
    OBConversion conv;
    OBMol mol;
    if (!conv.SetInFormat("smi") || !conv.ReadString(&mol, smiles) || mol.NumAtoms() == 0)
      return -1;
    std::snprintf(formula, formula_size, "%s", mol.GetFormula().c_str());
    return (int)mol.NumHvyAtoms();
  } catch (...) {
    return -1;
  }
}
