// The Open Babel shim (see ob.h). C++ lives only in this file.
#include "convert/chem/ob.h"

#include <openbabel/atom.h>
#include <openbabel/bond.h>
#include <openbabel/descriptor.h>
#include <openbabel/elements.h>
#include <openbabel/fingerprint.h>
#include <openbabel/obiter.h>
#include <openbabel/op.h>
#include <openbabel/parsmart.h>
#include <openbabel/reactionfacade.h>
#include <openbabel/residue.h>
#include <openbabel/math/spacegroup.h>
#include <openbabel/generic.h>
#include <openbabel/mol.h>
#include <openbabel/obconversion.h>
#include <openbabel/oberror.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <list>
#include <map>
#include <queue>
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
  /* a filled cell's (ob_mol_filled_cell): for each atom, whether it is its asymmetric-unit
   * atom's first image (the identity operation's, for the groups Open Babel lists) */
  std::vector<char> first_image;
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
    if (ob_mol_formula(m, d)) /* formula, weights, heavy atoms; the rest below */
      return -1;
    OBMol &mol = m->mol;
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

/* One atom's label: its element and charge (superscript). */
static std::string atom_label(OBAtom *a, double size)
{
  std::ostringstream o;
  o << OBElements::GetSymbol(a->GetAtomicNum());
  int q = a->GetFormalCharge();
  if (q) {
    o << "<tspan baseline-shift=\"super\" font-size=\"" << size * 0.6 << "\">";
    if (std::abs(q) > 1)
      o << std::abs(q);
    o << (q > 0 ? "+" : "&#8722;") << "</tspan>";
  }
  return o.str();
}

/* Is the structure a list of atoms: no bond, no hydrogen (a crystal's atoms, bare ions, a
 * metal)? */
static bool atom_list(OBMol &mol)
{
  if (mol.NumBonds())
    return false;
  FOR_ATOMS_OF_MOL(a, mol)
  if (a->GetImplicitHCount())
    return false;
  return true;
}

/* A structure without bonds: each distinct atom label once, in the order they first come,
 * a count before it when it repeats, on a grid (see ob_smiles_svg). */
static std::string atoms_svg(OBMol &mol)
{
  std::vector<std::pair<std::string, int>> labels;
  std::vector<OBAtom *> first;
  FOR_ATOMS_OF_MOL(a, mol)
  {
    std::string key = atom_label(&*a, 1.0);
    auto same = std::find_if(labels.begin(), labels.end(), [&key](const auto &l) { return l.first == key; });
    if (same != labels.end()) {
      same->second++;
      continue;
    }
    labels.push_back({key, 1});
    first.push_back(&*a);
  }
  int n = (int)labels.size(), cols = std::max(1, (int)std::ceil(std::sqrt((double)n))), rows = (n + cols - 1) / cols;
  double cell = 100.0 / std::max(cols, rows), size = cell * 0.28;
  double left = (100.0 - cols * cell) / 2, top = (100.0 - rows * cell) / 2; /* the grid in the middle */
  std::ostringstream o;
  o << "<?xml version=\"1.0\"?>\n<svg version=\"1.1\" xmlns=\"http://www.w3.org/2000/svg\" width=\"300px\" "
       "height=\"300px\" viewBox=\"0 0 100 100\">\n<rect x=\"0\" y=\"0\" width=\"100\" height=\"100\" "
       "fill=\"white\"/>\n";
  for (int i = 0; i < n; i++) {
    double r, g, b;
    OBElements::GetRGB(first[i]->GetAtomicNum(), &r, &g, &b);
    if (r + g + b > 2.2) /* white hydrogen, pale elements: drawn dark, as on paper */
      r = g = b = 0.2;
    o << "<text x=\"" << (i % cols + 0.5) * cell + left << "\" y=\"" << (i / cols + 0.5) * cell + top + size * 0.35
      << "\" text-anchor=\"middle\" font-family=\"sans-serif\" font-weight=\"bold\" font-size=\"" << size
      << "\" fill=\"rgb(" << (int)(r * 255) << "," << (int)(g * 255) << "," << (int)(b * 255) << ")\">";
    if (labels[i].second > 1)
      o << labels[i].second << " ";
    o << atom_label(first[i], size) << "</text>\n";
  }
  o << "</svg>\n";
  return o.str();
}

/* Open Babel's 2-D layout puts lone atoms of a multi-part structure on one another ("O.O"
 * at the origin twice). When an atom without bonds sits on another, the parts are set on
 * a grid, each keeping its own layout. */
static void spread_fragments(OBMol &mol)
{
  bool clash = false;
  FOR_ATOMS_OF_MOL(a, mol)
  {
    if (a->GetExplicitDegree())
      continue;
    FOR_ATOMS_OF_MOL(b, mol)
    if (&*a != &*b && a->GetVector().distSq(b->GetVector()) < 0.09)
      clash = true;
  }
  if (!clash)
    return;
  std::vector<std::vector<int>> frags;
  mol.ContigFragList(frags);
  int cols = (int)std::ceil(std::sqrt((double)frags.size()));
  double step = 0;
  std::vector<vector3> lo(frags.size()), hi(frags.size());
  for (size_t f = 0; f < frags.size(); f++) {
    lo[f] = hi[f] = mol.GetAtom(frags[f][0])->GetVector();
    for (int idx : frags[f]) {
      vector3 v = mol.GetAtom(idx)->GetVector();
      lo[f] = vector3(std::min(lo[f].x(), v.x()), std::min(lo[f].y(), v.y()), 0);
      hi[f] = vector3(std::max(hi[f].x(), v.x()), std::max(hi[f].y(), v.y()), 0);
    }
    step = std::max(step, std::max(hi[f].x() - lo[f].x(), hi[f].y() - lo[f].y()));
  }
  step += 1.5;
  for (size_t f = 0; f < frags.size(); f++) {
    vector3 shift = vector3((double)(f % cols) * step, -(double)(f / cols) * step, 0) - lo[f];
    for (int idx : frags[f])
      mol.GetAtom(idx)->SetVector(mol.GetAtom(idx)->GetVector() + shift);
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
    if (atom_list(mol))
      return strdup(atoms_svg(mol).c_str());
    OBOp *gen2d = OBOp::FindType("gen2D");
    if (!gen2d || !gen2d->Do(&mol)) {
      set_err(eb, "no 2-D layout for this molecule");
      return nullptr;
    }
    spread_fragments(mol);
    mol.SetTitle("");
    conv.AddOption("C", OBConversion::OUTOPTIONS);        /* no terminal carbon labels */
    conv.AddOption("P", OBConversion::OUTOPTIONS, "300"); /* 300 px */
    std::string svg = conv.WriteString(&mol);
    /* Open Babel writes the document's head before it knows it can draw: only a whole
     * document is an answer */
    size_t end = svg.rfind("</svg>");
    if (svg.find("<svg") == std::string::npos || end == std::string::npos ||
        svg.find_first_not_of(" \t\r\n", end + 6) != std::string::npos) {
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

/* Fingerprints for learning (convert/ml): Open Babel's own, folded as `obabel -ofpt -xN`
 * folds them, so a model's features are what that command prints. */
extern "C" int ob_mol_fingerprint(ob_mol *m, const char *type, int nbits, uint64_t *out, int words)
{
  try {
    OBFingerprint *fp = OBFingerprint::FindFingerprint(type);
    std::vector<unsigned int> bits;
    if (!fp || !fp->GetFingerprint(&m->mol, bits, nbits > 0 ? nbits : 0))
      return -1;
    int width = (int)bits.size() * 32;
    if (width > words * 64)
      return -1;
    std::memset(out, 0, sizeof *out * (size_t)words);
    for (size_t i = 0; i < bits.size(); i++)
      out[i / 2] |= (uint64_t)bits[i] << (32 * (i % 2));
    return width;
  } catch (...) {
    return -1;
  }
}

extern "C" int ob_mol_descriptor(ob_mol *m, const char *name, double *value)
{
  try {
    OBDescriptor *d = OBDescriptor::FindType(name);
    if (!d)
      return -1;
    *value = d->Predict(&m->mol);
    return std::isfinite(*value) ? 0 : -1;
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
    size_t colon = name.find(':');
    if (colon != std::string::npos)
      std::snprintf(cell->setting, sizeof cell->setting, "%s", name.c_str() + colon + 1);
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

/* ---- crystals (CIF) ---- */

/* An element symbol from the start of a CIF atom label ("NA1", "Cl2", "OW"): two letters
 * when they name an element, else one; 0 when neither does. */
static unsigned int label_element(const std::string &label)
{
  std::string sym;
  for (size_t i = 0; i < label.size() && i < 2 && std::isalpha((unsigned char)label[i]); i++)
    sym += i ? (char)std::tolower((unsigned char)label[i]) : (char)std::toupper((unsigned char)label[i]);
  for (; !sym.empty(); sym.pop_back()) {
    unsigned int z = OBElements::GetAtomicNum(sym.c_str());
    if (z && sym == OBElements::GetSymbol(z))
      return z;
  }
  return 0;
}

/* Atoms Open Babel left untyped ('*'): their element from their label. 1 when any changed. */
static bool type_from_labels(OBMol &mol)
{
  bool changed = false;
  FOR_ATOMS_OF_MOL(a, mol)
  {
    if (a->GetAtomicNum())
      continue;
    OBGenericData *d = a->GetData("_atom_site_label");
    unsigned int z = d ? label_element(d->GetValue()) : 0;
    if (z) {
      a->SetAtomicNum(z);
      a->SetType(OBElements::GetSymbol(z));
      changed = true;
    }
  }
  return changed;
}

/* The group whose operations are the block's, or nullptr when none is. */
static const SpaceGroup *group_of_symops(const char *const *symops, int nops)
{
  SpaceGroup ops;
  for (int i = 0; i < nops; i++)
    ops.AddTransform(symops[i]);
  return nops > 0 && ops.IsValid() ? SpaceGroup::Find(&ops) : nullptr;
}

/* A rhombohedral group (R...) in the setting of the cell's axes: ":R" for a = b = c with
 * equal angles other than 90°, ":H" otherwise. */
static const SpaceGroup *rhombohedral_setting(const SpaceGroup *sg, OBUnitCell *uc)
{
  std::string hm = sg->GetHMName();
  size_t colon = hm.find(':');
  if (hm.empty() || hm[0] != 'R' || colon == std::string::npos)
    return sg;
  double a = uc->GetA(), b = uc->GetB(), c = uc->GetC();
  double al = uc->GetAlpha(), be = uc->GetBeta(), ga = uc->GetGamma();
  bool rhombo = std::fabs(a - b) < 1e-3 * a && std::fabs(a - c) < 1e-3 * a && std::fabs(al - be) < 0.01 &&
                std::fabs(al - ga) < 0.01 && std::fabs(al - 90) > 0.01;
  const SpaceGroup *other = SpaceGroup::GetSpaceGroup(hm.substr(0, colon) + (rhombo ? ":R" : ":H"));
  return other ? other : sg;
}

/* The group a written symbol names ("F d -3 m :1", "R 3 c"), a rhombohedral one on
 * hexagonal axes until the cell says otherwise; nullptr when Open Babel knows none. */
static const SpaceGroup *group_of_symbol(const char *hm)
{
  std::string s = hm ? hm : "";
  size_t colon = s.find(':');
  std::string base = s.substr(0, colon), setting = colon == std::string::npos ? "" : s.substr(colon + 1);
  Trim(base);
  Trim(setting);
  const SpaceGroup *g = setting.empty() ? nullptr : SpaceGroup::GetSpaceGroup(base + ":" + setting);
  if (!g && !base.empty())
    g = SpaceGroup::GetSpaceGroup(base);
  if (!g && !base.empty() && base[0] == 'R')
    g = SpaceGroup::GetSpaceGroup(base + ":H");
  return g;
}

extern "C" void ob_cif_fix(ob_mol *m, const char *const *symops, int nops, const char *hm)
{
  try {
    OBMol &mol = m->mol;
    std::string title = mol.GetTitle();
    Trim(title);
    if (title == "?" || title == ".") /* CIF's unknown and inapplicable: the block's name says more */
      mol.SetTitle("");
    if (type_from_labels(mol)) {
      mol.BeginModify();
      while (mol.NumBonds())
        mol.DeleteBond(mol.GetBond(0));
      mol.EndModify();
      mol.ConnectTheDots();
      mol.PerceiveBondOrders();
    }
    OBUnitCell *uc = static_cast<OBUnitCell *>(mol.GetData(OBGenericDataType::UnitCell));
    if (!uc)
      return;
    const SpaceGroup *sg = group_of_symops(symops, nops), *read = uc->GetSpaceGroup();
    if (!sg && (!read || read->GetId() <= 1)) /* Open Babel found none, or fell back to P 1 */
      read = group_of_symbol(hm);
    if (!sg && read)
      sg = rhombohedral_setting(read, uc);
    if (sg)
      uc->SetSpaceGroup(sg);
  } catch (...) {
  }
}

static double wrap01(double x)
{
  x -= std::floor(x);
  return x >= 1.0 - 1e-9 ? 0.0 : x;
}

/* The images of one atom in the cell (fractional), those on one another kept once. */
static std::vector<vector3> atom_images(OBUnitCell *uc, const SpaceGroup *sg, const vector3 &cart)
{
  vector3 f = uc->CartesianToFractional(cart);
  std::list<vector3> all = sg ? sg->Transform(f) : std::list<vector3>(1, f);
  std::vector<vector3> kept;
  for (vector3 v : all) {
    v = vector3(wrap01(v.x()), wrap01(v.y()), wrap01(v.z()));
    bool dup = false;
    for (const vector3 &k : kept) {
      vector3 d = v - k;
      d = vector3(d.x() - std::round(d.x()), d.y() - std::round(d.y()), d.z() - std::round(d.z()));
      dup = dup || uc->FractionalToCartesian(d).length() < 0.05;
    }
    if (!dup)
      kept.push_back(v);
  }
  return kept;
}

extern "C" ob_mol *ob_mol_filled_cell(ob_mol *m, int max, int bonds, struct cb_errbuf *eb)
{
  ob_mol *out = nullptr;
  try {
    OBUnitCell *uc = static_cast<OBUnitCell *>(m->mol.GetData(OBGenericDataType::UnitCell));
    if (!uc) {
      set_err(eb, "the structure has no unit cell");
      return nullptr;
    }
    const SpaceGroup *sg = uc->GetSpaceGroup();
    out = new ob_mol;
    OBMol &f = out->mol;
    f.BeginModify();
    FOR_ATOMS_OF_MOL(a, m->mol)
    {
      bool first = true;
      for (const vector3 &v : atom_images(uc, sg, a->GetVector())) {
        out->first_image.push_back(first);
        first = false;
        if ((int)f.NumAtoms() >= max) {
          set_err(eb, "the filled cell holds more than " + std::to_string(max) + " atoms");
          delete out;
          return nullptr;
        }
        OBAtom *n = f.NewAtom();
        n->SetAtomicNum(a->GetAtomicNum());
        n->SetFormalCharge(a->GetFormalCharge());
        n->SetVector(uc->FractionalToCartesian(v));
        for (const char *key : {"_atom_site_label", "_atom_site_occupancy"})
          if (OBGenericData *d = a->GetData(key))
            n->SetData(d->Clone(n));
      }
    }
    OBUnitCell *cell = static_cast<OBUnitCell *>(uc->Clone(&f));
    cell->SetSpaceGroup(1);
    f.SetData(cell);
    f.EndModify();
    if (bonds) {
      f.ConnectTheDots();
      f.PerceiveBondOrders();
    }
    f.SetTitle(m->mol.GetTitle());
    return out;
  } catch (...) {
    set_caught(eb, "Open Babel failed to fill the unit cell");
  }
  delete out;
  return nullptr;
}

typedef std::array<int, 3> cell_offset;

typedef std::vector<std::vector<std::pair<int, cell_offset>>> bond_lists;

#define PAIRS_MAX 200000000LL /* distances measured at most (a cell far too small for its atoms) */

/* Bonds of a filled cell across its faces: for each atom, (neighbour, the neighbour's
 * cell). Every atom's 27 images (this cell and its neighbours) are put in cubes as large
 * as the longest bond can be, so each atom meets only the images near it. false when the
 * atoms are so crowded that more than PAIRS_MAX distances would be measured, or the cell
 * places them nowhere (NaN or huge coordinates). */
static bool periodic_bonds(OBMol &mol, OBUnitCell *uc, bond_lists &adj)
{
  int n = (int)mol.NumAtoms();
  std::vector<vector3> frac(n);
  std::vector<double> rad(n);
  double most = 0;
  for (int i = 0; i < n; i++) {
    OBAtom *a = mol.GetAtom(i + 1);
    frac[i] = uc->CartesianToFractional(a->GetVector());
    rad[i] = OBElements::GetCovalentRad(a->GetAtomicNum());
    most = std::max(most, 2 * rad[i] + 0.45);
  }
  struct image {
    int atom;
    cell_offset o;
    vector3 at;
  };
  std::vector<image> images;
  std::map<std::array<long, 3>, std::vector<int>> cubes;
  auto cube_of = [most](const vector3 &v) {
    return std::array<long, 3>{(long)std::floor(v.x() / most), (long)std::floor(v.y() / most),
                               (long)std::floor(v.z() / most)};
  };
  /* a cube index must be a number a long holds: a degenerate cell gives NaN or huge
   * coordinates, and then no answer */
  auto placeable = [most](const vector3 &v) {
    return std::isfinite(v.x()) && std::isfinite(v.y()) && std::isfinite(v.z()) && std::fabs(v.x() / most) < 1e15 &&
           std::fabs(v.y() / most) < 1e15 && std::fabs(v.z() / most) < 1e15;
  };
  for (int i = 0; i < n; i++)
    for (int t = 0; t < 27; t++) {
      cell_offset o = {t % 3 - 1, t / 3 % 3 - 1, t / 9 - 1};
      vector3 at = uc->FractionalToCartesian(frac[i] + vector3(o[0], o[1], o[2]));
      if (!placeable(at))
        return false;
      cubes[cube_of(at)].push_back((int)images.size());
      images.push_back({i, o, at});
    }
  adj.assign(n, {});
  long long pairs = 0;
  for (int i = 0; i < n; i++) {
    vector3 here = uc->FractionalToCartesian(frac[i]);
    std::array<long, 3> c = cube_of(here);
    for (int t = 0; t < 27; t++) {
      auto it = cubes.find({c[0] + t % 3 - 1, c[1] + t / 3 % 3 - 1, c[2] + t / 9 - 1});
      if (it == cubes.end())
        continue;
      if ((pairs += (long long)it->second.size()) > PAIRS_MAX)
        return false;
      for (int k : it->second) {
        const image &im = images[k];
        double len = (im.at - here).length();
        if (len > 0.4 && len < rad[i] + rad[im.atom] + 0.45)
          adj[i].push_back({im.atom, im.o});
      }
    }
  }
  return true;
}

extern "C" int ob_crystal_molecular(ob_mol *filled, int max)
{
  try {
    OBMol &mol = filled->mol;
    OBUnitCell *uc = static_cast<OBUnitCell *>(mol.GetData(OBGenericDataType::UnitCell));
    int n = (int)mol.NumAtoms();
    if (!uc || n > max)
      return -1;
    bond_lists adj;
    if (!periodic_bonds(mol, uc, adj))
      return -1;
    std::vector<int> seen(n, 0);
    std::vector<cell_offset> at(n);
    bool molecule = false;
    for (int s = 0; s < n; s++) {
      if (seen[s])
        continue;
      /* a walk over the group, each atom placed in the cell it was reached in: an atom
       * reached again in another cell means the group has no end */
      std::queue<int> pending;
      pending.push(s);
      seen[s] = 1;
      at[s] = {0, 0, 0};
      int size = 0;
      bool carbon = false;
      while (!pending.empty()) {
        int i = pending.front();
        pending.pop();
        size++;
        carbon = carbon || mol.GetAtom(i + 1)->GetAtomicNum() == OBElements::Carbon;
        for (const auto &e : adj[i]) {
          cell_offset o = {at[i][0] + e.second[0], at[i][1] + e.second[1], at[i][2] + e.second[2]};
          if (!seen[e.first]) {
            seen[e.first] = 1;
            at[e.first] = o;
            pending.push(e.first);
          } else if (at[e.first] != o) {
            return 0;
          }
        }
      }
      molecule = molecule || (carbon && size > 1);
    }
    return molecule ? 1 : 0;
  } catch (...) {
    return -1;
  }
}

/* The atoms of group (filled-cell indices) at their unwrapped positions (fractional
 * position + the cell they were reached in), bonds perceived: one whole molecule. */
static void add_group(OBMol &out, OBMol &filled, OBUnitCell *uc, const std::vector<int> &group,
                      const std::vector<cell_offset> &at)
{
  for (int i : group) {
    OBAtom *a = filled.GetAtom(i + 1), *n = out.NewAtom();
    vector3 f = uc->CartesianToFractional(a->GetVector()) + vector3(at[i][0], at[i][1], at[i][2]);
    n->SetAtomicNum(a->GetAtomicNum());
    n->SetFormalCharge(a->GetFormalCharge());
    n->SetVector(uc->FractionalToCartesian(f));
  }
}

static std::string canonical_smiles(OBMol &mol)
{
  OBConversion conv;
  conv.SetOutFormat("can");
  conv.AddOption("n", OBConversion::OUTOPTIONS); /* no title */
  std::string s = conv.WriteString(&mol, true);
  Trim(s);
  return s;
}

extern "C" ob_mol *ob_crystal_molecules(ob_mol *filled, int max)
{
  ob_mol *out = nullptr;
  try {
    OBMol &mol = filled->mol;
    OBUnitCell *uc = static_cast<OBUnitCell *>(mol.GetData(OBGenericDataType::UnitCell));
    int n = (int)mol.NumAtoms();
    bond_lists adj;
    if (!uc || n > max || (int)filled->first_image.size() != n || !periodic_bonds(mol, uc, adj))
      return nullptr;
    std::vector<int> seen(n, 0);
    std::vector<cell_offset> at(n);
    std::vector<std::string> kept;
    out = new ob_mol;
    for (int s = 0; s < n; s++) {
      if (seen[s])
        continue;
      std::vector<int> group;
      std::queue<int> pending;
      pending.push(s);
      seen[s] = 1;
      at[s] = {0, 0, 0};
      bool asym = false;
      while (!pending.empty()) {
        int i = pending.front();
        pending.pop();
        group.push_back(i);
        asym = asym || filled->first_image[i];
        for (const auto &e : adj[i])
          if (!seen[e.first]) {
            seen[e.first] = 1;
            at[e.first] = {at[i][0] + e.second[0], at[i][1] + e.second[1], at[i][2] + e.second[2]};
            pending.push(e.first);
          }
      }
      if (!asym) /* the copies the other operations make */
        continue;
      OBMol one;
      one.BeginModify();
      add_group(one, mol, uc, group, at);
      one.EndModify();
      one.ConnectTheDots();
      one.PerceiveBondOrders();
      std::string smiles = canonical_smiles(one);
      if (std::find(kept.begin(), kept.end(), smiles) != kept.end())
        continue; /* another copy of a molecule already kept (Z' > 1) */
      kept.push_back(smiles);
      out->mol.BeginModify();
      add_group(out->mol, mol, uc, group, at);
      out->mol.EndModify();
    }
    out->mol.ConnectTheDots();
    out->mol.PerceiveBondOrders();
    out->mol.SetTitle(mol.GetTitle());
    return out;
  } catch (...) {
  }
  delete out;
  return nullptr;
}

extern "C" ob_mol *ob_mol_atoms_only(ob_mol *m)
{
  ob_mol *out = nullptr;
  try {
    out = new ob_mol;
    out->mol.BeginModify();
    FOR_ATOMS_OF_MOL(a, m->mol)
    {
      if (a->GetAtomicNum() == OBElements::Hydrogen)
        continue;
      OBAtom *n = out->mol.NewAtom();
      n->SetAtomicNum(a->GetAtomicNum());
      n->SetFormalCharge(a->GetFormalCharge());
      n->SetImplicitHCount(0);
      n->SetVector(a->GetVector());
    }
    out->mol.EndModify();
    out->mol.SetTitle(m->mol.GetTitle());
    return out;
  } catch (...) {
  }
  delete out;
  return nullptr;
}

extern "C" void ob_mol_elements(ob_mol *m, void (*cb)(void *ctx, const char *symbol, double count), void *ctx)
{
  try {
    std::vector<std::pair<unsigned int, double>> counts;
    FOR_ATOMS_OF_MOL(a, m->mol)
    {
      double w = 1.0;
      OBPairFloatingPoint *occ = dynamic_cast<OBPairFloatingPoint *>(a->GetData("_atom_site_occupancy"));
      if (occ && occ->GetGenericValue() > 0 && occ->GetGenericValue() <= 1)
        w = occ->GetGenericValue();
      unsigned int z = a->GetAtomicNum();
      auto same = std::find_if(counts.begin(), counts.end(), [z](const auto &c) { return c.first == z; });
      if (same != counts.end())
        same->second += w;
      else
        counts.push_back({z, w});
    }
    for (const auto &c : counts)
      if (c.first)
        cb(ctx, OBElements::GetSymbol(c.first), c.second);
  } catch (...) {
  }
}

extern "C" double ob_element_mass(const char *symbol)
{
  try {
    unsigned int z = OBElements::GetAtomicNum(symbol);
    return z && !std::strcmp(symbol, OBElements::GetSymbol(z)) ? OBElements::GetMass(z) : 0.0;
  } catch (...) {
    return 0.0;
  }
}

/* ---- writing several molecules as obabel does ---- */

struct ob_writer {
  std::ofstream out;
  OBConversion conv;
};

extern "C" ob_writer *ob_writer_open(const char *path, const char *format, struct cb_errbuf *eb)
{
  ob_writer *w = nullptr;
  try {
    w = new ob_writer;
    if (!w->conv.SetOutFormat(format)) {
      set_err(eb, std::string("Open Babel cannot write format ") + format);
      delete w;
      return nullptr;
    }
    w->out.open(path, std::ios::out | std::ios::binary | std::ios::trunc);
    if (!w->out) {
      set_err(eb, "cannot write the output");
      delete w;
      return nullptr;
    }
    w->conv.SetOutStream(&w->out, false);
    return w;
  } catch (...) {
    set_caught(eb, "Open Babel failed to open the output");
  }
  delete w;
  return nullptr;
}

extern "C" int ob_writer_put(ob_writer *w, ob_mol *m, int last, struct cb_errbuf *eb)
{
  try {
    w->conv.SetLast(last != 0);
    if (w->conv.Write(&m->mol))
      return 0;
    set_err(eb, "Open Babel could not write this molecule");
  } catch (...) {
    set_caught(eb, "Open Babel failed to write the molecule");
  }
  return -1;
}

extern "C" int ob_writer_close(ob_writer *w)
{
  try {
    w->out.flush();
    bool ok = w->out.good();
    w->out.close();
    delete w;
    return ok ? 0 : -1;
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

/* A residue with an amino acid's backbone (atoms N, CA and C): a modified or non-standard
 * amino acid (AIB, TPO, SEP...), X in a sequence, as SEQRES has it. */
static bool peptide_backbone(OBResidue *res)
{
  int found = 0;
  FOR_ATOMS_OF_RESIDUE(a, res)
  {
    std::string id = res->GetAtomID(&*a);
    Trim(id);
    found |= id == "N" ? 1 : id == "CA" ? 2 : id == "C" ? 4 : 0;
  }
  return found == 7;
}

extern "C" int ob_mol_chains(ob_mol *m, ob_chain_cb cb, void *ctx)
{
  try {
    std::vector<std::pair<char, std::string>> chains; /* in the order they first appear */
    for (OBResidueIter res(m->mol); res; ++res) {
      char letter = residue_letter(res->GetName());
      if (!letter && peptide_backbone(&*res))
        letter = 'X';
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

/* ---- cost bounds (bounds.h) ---- */

extern "C" int ob_seek(ob_reader *r, long long off)
{
  try {
    r->in.clear();
    return r->in.seekg(off) ? 0 : -1;
  } catch (...) {
    return -1;
  }
}

extern "C" int ob_mol_formula(ob_mol *m, struct ob_descriptors *d)
{
  try {
    std::memset(d, 0, sizeof *d);
    OBMol &mol = m->mol;
    std::snprintf(d->formula, sizeof d->formula, "%s", mol.GetFormula().c_str());
    d->mw = mol.GetMolWt();
    d->exact_mass = mol.GetExactMass();
    d->heavy_atoms = (int)mol.NumHvyAtoms();
    return 0;
  } catch (...) {
    return -1;
  }
}

/* ---- structure search in a resident matcher process ---- */

struct ob_pattern {
  OBSmartsPattern p;
};

extern "C" ob_pattern *ob_pattern_new(const char *smarts)
{
  ob_pattern *p = nullptr;
  try {
    p = new ob_pattern;
    if (p->p.Init(smarts))
      return p;
  } catch (...) {
  }
  delete p;
  return nullptr;
}

extern "C" int ob_pattern_match(ob_pattern *p, ob_mol *m)
{
  try {
    return p->p.Match(m->mol, true) ? 1 : 0;
  } catch (...) {
    return -1;
  }
}

extern "C" void ob_pattern_free(ob_pattern *p)
{
  delete p;
}

extern "C" ob_mol *ob_mol_from_smiles(const char *smiles)
{
  /* a reader's format lookup and options cost more than a small molecule's parse */
  static OBConversion *conv;
  ob_mol *m = nullptr;
  try {
    if (!conv) {
      conv = new OBConversion;
      if (!conv->SetInFormat("smi")) {
        delete conv;
        conv = nullptr;
        return nullptr;
      }
    }
    m = new ob_mol;
    if (conv->ReadString(&m->mol, smiles) && m->mol.NumAtoms() > 0)
      return m;
  } catch (...) {
  }
  delete m;
  return nullptr;
}

extern "C" int ob_mol_radicals(ob_mol *m)
{
  try {
    int n = 0;
    FOR_ATOMS_OF_MOL(a, m->mol)
    {
      /* the organic subset's usual valence, shifted by the charge as N+ (4) and O- (1) are */
      static const struct {
        unsigned el;
        int valence, charge_sign;
      } usual[] = {{5, 3, -1}, {6, 4, 0}, {7, 3, 1}, {8, 2, 1}, {15, 3, 1}, {16, 2, 1}};
      int total = (int)a->GetExplicitValence() + (int)a->GetImplicitHCount();
      for (const auto &u : usual)
        if (a->GetAtomicNum() == u.el) {
          int q = a->GetFormalCharge();
          int want = u.charge_sign ? u.valence + u.charge_sign * q : u.valence - (q < 0 ? -q : q);
          n += total < want;
        }
      n += a->GetSpinMultiplicity() != 0;
      n += a->GetAtomicNum() == 0; /* "*": a dummy atom, whose bits no molecule has */
    }
    return n;
  } catch (...) {
    return 0;
  }
}
