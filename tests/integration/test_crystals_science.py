"""Crystals as a crystallographer reads them, on real CIFs from Debian packages (the test
data of python3-pyobjcryst, the COD examples of cif2hkl), each checked against the CIF's
own fields read here by a few lines of Python (formula sum, Z, the space group as
written, the crystal system, the measured density), against obabel for the filled cell,
and, for the drawings, against an XML parser; and the conversions of several molecules
(CML, SMILES) against the obabel command line, byte for byte."""
import re
import shlex
import subprocess
import xml.etree.ElementTree as ET
from fractions import Fraction

import numpy as np
import pytest

from conftest import all_records, upload, wait_file

PYOBJ = "/usr/lib/python3/dist-packages/pyobjcryst/tests/testdata/"
COD = "/usr/share/doc/cif2hkl/examples/"
NCI = "/usr/share/RDKit/Data/NCI/first_200.props.sdf"
BZR_SMI = "/usr/share/RDKit/Projects/DbCLI/testData/bzr.smi"
HASHIZUME = "/usr/share/doc/python3-openbabel/examples/hashizume.cif"
GDIS = "/usr/share/gdis/models/"  # gdis-data: older CIFs (upper-case symbols, fractional sums)

FORMULA_FILES = [PYOBJ + n for n in ("NaCl.cif", "Si_setting2.cif", "BaTiO3.cif", "caffeine.cif", "paracetamol.cif",
                                     "lidocainementhol.cif", "TiO2_rutile.cif", "ZnS_sphalerite.cif", "Ag_silver.cif",
                                     "CaTiO3.cif")] + [COD + n for n in ("Al.cif", "2104737.cif", "LaMnO3.cif")]
MINERALS = [PYOBJ + n for n in ("NaCl.cif", "Si_setting2.cif", "TiO2_rutile.cif", "Ag_silver.cif",
                                "C_graphite_hex.cif", "CaF2_fluorite.cif", "ZnS_sphalerite.cif")]
ORGANICS = [PYOBJ + n for n in ("caffeine.cif", "paracetamol.cif", "lidocainementhol.cif")]
DESCRIPTORS = ("logp", "tpsa", "hbond_donors", "hbond_acceptors", "rotatable_bonds")


# ---- the CIF's own fields, read here ----

def cif_items(path):
    """The unlooped items of a one-block CIF: {tag (lower case): value}, quotes taken off."""
    out = {}
    for line in open(path, errors="replace"):
        m = re.match(r"\s*(_\S+)\s+('([^']*)'|\"([^\"]*)\"|(\S+))\s*$", line)
        if m:
            value = next(g for g in m.groups()[2:] if g is not None)
            out.setdefault(m.group(1).lower(), value)
    return out


def cif_loop(path, first_tag):
    """The rows of the loop whose first tag is first_tag, as dicts (one row per line)."""
    lines, rows, tags = open(path, errors="replace").read().splitlines(), [], []
    i = next((k for k, line in enumerate(lines) if line.strip().lower() == first_tag.lower()), None)
    if i is None or not lines[i - 1].strip().lower() == "loop_":
        return []
    while lines[i].strip().startswith("_"):
        tags.append(lines[i].strip().lower())
        i += 1
    while i < len(lines) and lines[i].strip() and not lines[i].strip().startswith(("_", "loop_", "#")):
        rows.append(dict(zip(tags, shlex.split(lines[i]))))
        i += 1
    return rows


def number(value):
    return float(re.sub(r"\(\d+\)$", "", value))


def hill(formula_sum):
    """Hill order from a CIF formula sum ("Ba O3 Ti")."""
    counts = {}
    for tok in formula_sum.split():
        el, n = re.fullmatch(r"([A-Z][a-z]?)([\d.]*)", tok).groups()
        counts[el] = counts.get(el, 0) + (float(n) if n else 1)
    order = (["C", "H"] if "C" in counts else []) + sorted(e for e in counts if not ("C" in counts and e in "CH"))
    return "".join(e + ("" if counts[e] == 1 else f"{counts[e]:g}") for e in order if e in counts)


def atoms_per_formula(formula_sum):
    return sum(float(n or 1) for n in re.findall(r"[A-Z][a-z]?([\d.]*)", formula_sum))


def props(obj):
    return {p["name"]: p["value"] for p in obj["properties"]}


@pytest.fixture(scope="module")
def crystals(srv):
    """Every CIF the tests read, uploaded once: {path: the processed file}."""
    f = srv.folder("crystals-science")
    paths = sorted(set(FORMULA_FILES + MINERALS + ORGANICS + [PYOBJ + "CaF2_fluorite.cif", PYOBJ + "Si.cif",
                             COD + "9013104.cif"]))
    ids = {p: upload(srv, f["id"], p)["id"] for p in paths}
    out = {p: wait_file(srv, i) for p, i in ids.items()}
    for p, meta in out.items():
        assert meta["status"] == "processed" and meta["kind"] == "crystal", (p, meta)
    return out


# ---- 1. formula, weight, Z, density ----

@pytest.mark.parametrize("path", FORMULA_FILES, ids=lambda p: p.rsplit("/", 1)[1])
def test_formula_sum_weight_z_and_density(crystals, path):
    cif, p = cif_items(path), props(crystals[path])
    assert p["formula"] == hill(cif["_chemical_formula_sum"])
    if "_chemical_formula_structural" in cif:  # never the structural formula's text
        assert p["formula"] != cif["_chemical_formula_structural"]
    if "_chemical_formula_weight" in cif:
        assert p["formula_weight"] == pytest.approx(number(cif["_chemical_formula_weight"]), rel=1e-3)
    assert p.get("formula_units_z") == (int(cif["_cell_formula_units_z"]) if "_cell_formula_units_z" in cif else None)
    if "_exptl_crystal_density_diffrn" in cif:
        assert p["calculated_density"] == pytest.approx(number(cif["_exptl_crystal_density_diffrn"]), rel=0.01)
    if "_cell_formula_units_z" not in cif:
        assert "calculated_density" not in p  # the CIF does not give what it needs


def test_each_data_block_of_a_multi_block_cif(srv):
    """Open Babel's 20-block example: each block's own formula sum, Z and density."""
    f = srv.folder("crystals-blocks")
    meta = wait_file(srv, upload(srv, f["id"], HASHIZUME)["id"])
    text = open(HASHIZUME).read()
    blocks = [b for b in re.split(r"(?m)^data_", text)[1:] if "_atom_site_" in b]
    recs = all_records(srv, meta["id"])
    assert len(recs) == len(blocks) == 20
    for rec, block in zip(recs, blocks):
        p = props(rec)
        fsum = re.search(r"_chemical_formula_sum\s+'([^']+)'", block).group(1)
        density = float(re.search(r"_exptl_crystal_density_diffrn\s+([\d.]+)", block).group(1))
        z = int(re.search(r"_cell_formula_units_Z\s+(\d+)", block).group(1))
        assert p["formula"] == hill(fsum) and p["formula_units_z"] == z
        assert p["calculated_density"] == pytest.approx(density, rel=0.01)
        assert p["crystal_type"] == "molecular" and "logp" in p


def test_formula_without_a_formula_sum_is_the_compounds(crystals):
    """CaF2_fluorite.cif gives no formula sum: the formula is the filled cell's per formula
    unit, here from the CIF's own site multiplicities and Z (Ca 4, F 8, Z = 4)."""
    path = PYOBJ + "CaF2_fluorite.cif"
    cif = cif_items(path)
    assert "_chemical_formula_sum" not in cif
    z = int(cif["_cell_formula_units_z"])
    counts = {}
    for row in cif_loop(path, "_atom_site_label"):
        el = re.match(r"[A-Z][a-z]?", row["_atom_site_type_symbol"]).group(0)
        counts[el] = counts.get(el, 0) + int(row["_atom_site_symmetry_multiplicity"]) // z
    p = props(crystals[path])
    assert p["formula"] == hill(" ".join(f"{e}{n}" for e, n in counts.items()))
    assert p["filled_cell_atoms"] == sum(counts.values()) * z


# ---- 2. space group ----

CRYSTAL_SYSTEM_TAGS = ("_space_group_crystal_system", "_symmetry_cell_setting")


@pytest.mark.parametrize("path", sorted(set(FORMULA_FILES + MINERALS + [COD + "9013104.cif"])),
                         ids=lambda p: p.rsplit("/", 1)[1])
def test_space_group_as_written(crystals, path):
    cif, p = cif_items(path), props(crystals[path])
    written = cif.get("_space_group_name_h-m_alt") or cif["_symmetry_space_group_name_h-m"]
    symbol, _, setting = written.partition(":")
    assert p["space_group"] == symbol.strip()  # bars kept: "F m -3 m", "F d -3 m"
    if setting:
        assert p["space_group_setting"] == setting.strip()
    it = cif.get("_space_group_it_number") or cif.get("_symmetry_int_tables_number")
    if it:
        assert p["space_group_number"] == int(it)
    system = next((cif[t] for t in CRYSTAL_SYSTEM_TAGS if t in cif), None)
    if system:
        assert p["crystal_system"] == system.lower()


def test_origin_choice_and_hexagonal_axes(crystals):
    """The setting where only the file's operations tell it: F d -3 m has its inversion
    centre at the origin in origin choice 2, at 1/8,1/8,1/8 in origin choice 1 (International
    Tables); caffeine's R 3 c is on hexagonal axes (a = b, gamma = 120 in the file)."""
    for name in ("Si_setting2.cif", "Si.cif"):
        ops = [op_matrix(row["_symmetry_equiv_pos_as_xyz"])
               for row in cif_loop(PYOBJ + name, "_symmetry_equiv_pos_as_xyz")
               + cif_loop(PYOBJ + name, "_symmetry_equiv_pos_site_id")]
        minus_one = [[-1, 0, 0], [0, -1, 0], [0, 0, -1]]
        origin_choice = "2" if any(rot == minus_one and not any(t % 1 for t in shift) for rot, shift in ops) else "1"
        assert props(crystals[PYOBJ + name])["space_group_setting"] == origin_choice, name
        assert props(crystals[PYOBJ + name])["space_group_number"] == 227
    caf = cif_items(PYOBJ + "caffeine.cif")
    assert caf["_cell_angle_gamma"].startswith("120") and caf["_cell_length_a"] == caf["_cell_length_b"]
    assert props(crystals[PYOBJ + "caffeine.cif"])["space_group_setting"] == "H"


def test_search_by_the_symbol_as_written(srv, crystals):
    want = sorted(m["id"] for path, m in crystals.items() if "F m -3 m" in open(path).read())
    assert len(want) == 2  # CaF2_fluorite.cif, Al.cif
    r = srv.api("GET", "/search", params={"where": "space_group:eq:F m -3 m", "kind": "crystal", "limit": 100})
    assert r.status_code == 200, r.text
    assert sorted({h["file_id"] for h in r.json()["hits"]} & set(m["id"] for m in crystals.values())) == want


def op_matrix(op):
    """'-y+2/3,x-y+1/3,z+1/3' as (3x3 rotation, translation) in fractions."""
    rows, shift = [], []
    for part in op.replace(" ", "").lower().split(","):
        row, t = [Fraction(0)] * 3, Fraction(0)
        for sign, coef, var in re.findall(r"([+-]?)([\d/]*)([xyz]?)", part):
            if not coef and not var:
                continue
            v = Fraction(coef) if coef else Fraction(1)
            v = -v if sign == "-" else v
            if var:
                row["xyz".index(var)] += v
            else:
                t += v
        rows.append(row)
        shift.append(t)
    return rows, shift


def op_text(rot, shift):
    out = []
    for row, t in zip(rot, shift):
        terms = "".join(("+" if c > 0 else "-") + ("" if abs(c) == 1 else str(abs(c))) + v
                        for c, v in zip(row, "xyz") if c)
        t %= 1
        out.append(terms.lstrip("+") + (f"+{t}" if t else ""))
    return ",".join(out)


def rhombohedral_caffeine(tmp_path, with_ops):
    """caffeine.cif (R 3 c, hexagonal axes) on the rhombohedral axes of its own lattice,
    a_r = (2a+b+c)/3, b_r = (-a+b+c)/3, c_r = (-a-2b+c)/3 (International Tables, obverse),
    written with its operations so transformed, or with none (the symbol alone)."""
    src = PYOBJ + "caffeine.cif"
    cif = cif_items(src)
    P = np.array([[2, -1, -1], [1, 1, -2], [1, 1, 1]]) / 3.0  # columns: the new axes in the old
    Pf = [[Fraction(2, 3), Fraction(-1, 3), Fraction(-1, 3)], [Fraction(1, 3), Fraction(1, 3), Fraction(-2, 3)],
          [Fraction(1, 3), Fraction(1, 3), Fraction(1, 3)]]
    Pinv = np.linalg.inv(P)
    a, c = number(cif["_cell_length_a"]), number(cif["_cell_length_c"])
    G = np.array([[a * a, -a * a / 2, 0], [-a * a / 2, a * a, 0], [0, 0, c * c]])  # hexagonal metric
    Gr = P.T @ G @ P
    ar = float(np.sqrt(Gr[0, 0]))
    alpha = float(np.degrees(np.arccos(Gr[1, 2] / Gr[0, 0])))
    ops = []
    if with_ops:
        inv = [[Fraction(int(round(v))) for v in row] for row in Pinv]  # whole numbers: [[1,0,1],[-1,1,1],[0,-1,1]]
        for row in cif_loop(src, "_symmetry_equiv_pos_as_xyz"):
            rot, shift = op_matrix(row["_symmetry_equiv_pos_as_xyz"])
            r = [[sum(inv[i][k] * rot[k][m] * Pf[m][j] for k in range(3) for m in range(3)) for j in range(3)]
                 for i in range(3)]
            t = [sum(inv[i][k] * shift[k] for k in range(3)) for i in range(3)]
            text = op_text(r, t)
            if text not in ops:
                ops.append(text)
        assert len(ops) == 6  # the centring translations become whole cells
    out = [f"data_caffeine_rhombohedral\n_chemical_formula_sum '{cif['_chemical_formula_sum']}'\n",
           f"_symmetry_space_group_name_H-M 'R 3 c'\n_cell_formula_units_Z 2\n"]
    out += [f"_cell_length_{x} {ar:.5f}\n" for x in "abc"] + [f"_cell_angle_{x} {alpha:.5f}\n" for x in
                                                               ("alpha", "beta", "gamma")]
    if ops:
        out.append("loop_\n_symmetry_equiv_pos_as_xyz\n" + "".join(f"'{o}'\n" for o in ops))
    out.append("loop_\n_atom_site_label\n_atom_site_type_symbol\n_atom_site_fract_x\n_atom_site_fract_y\n"
               "_atom_site_fract_z\n")
    for row in cif_loop(src, "_atom_site_label"):
        xh = np.array([number(row["_atom_site_fract_" + k]) for k in "xyz"])
        xr = Pinv @ xh
        out.append(f"{row['_atom_site_label']} {row['_atom_site_type_symbol']} "
                   + " ".join(f"{v:.6f}" for v in xr) + "\n")
    path = tmp_path / f"caffeine_rhombohedral_{'ops' if with_ops else 'symbol'}.cif"
    path.write_text("".join(out))
    return path, ar, alpha


@pytest.mark.parametrize("with_ops", [True, False], ids=["operations", "symbol-only"])
def test_a_rhombohedral_cell_stays_rhombohedral(srv, crystals, tmp_path, with_ops):
    path, ar, alpha = rhombohedral_caffeine(tmp_path, with_ops)
    f = srv.folder("crystals-rhombohedral-" + str(with_ops))
    meta = wait_file(srv, upload(srv, f["id"], str(path))["id"])
    assert meta["status"] == "processed", meta
    p, hexa = props(meta), props(crystals[PYOBJ + "caffeine.cif"])
    assert p["space_group"] == "R 3 c" and p["space_group_setting"] == "R" and p["space_group_number"] == 161
    for x in "abc":
        assert p["cell_length_" + x] == pytest.approx(ar, abs=1e-4)
    for x in ("alpha", "beta", "gamma"):
        assert p["cell_angle_" + x] == pytest.approx(alpha, abs=1e-4)
    # the primitive cell holds a third of the hexagonal cell, at the same density
    assert p["filled_cell_atoms"] * 3 == hexa["filled_cell_atoms"]
    assert p["calculated_density"] == pytest.approx(hexa["calculated_density"], rel=1e-4)


# ---- 3. molecules or not ----

@pytest.mark.parametrize("path", MINERALS, ids=lambda p: p.rsplit("/", 1)[1])
def test_minerals_have_no_drug_likeness_and_no_radicals(srv, crystals, path):
    meta = crystals[path]
    p = props(meta)
    assert p["crystal_type"] == "non-molecular"
    for name in DESCRIPTORS + ("inchikey", "molecular_weight", "canonical_smiles"):
        assert name not in p, name
    (rec,) = all_records(srv, meta["id"])
    assert "inchikey" not in rec
    # what is drawn is the asymmetric unit's atoms, no bond, no radical
    assert "(" not in rec["smiles"] and not re.search(r"\][^.\[]", rec["smiles"]), rec["smiles"]
    svg = srv.api("GET", f"/files/{meta['id']}/preview", timeout=120)
    assert svg.status_code == 200 and svg.headers["Content-Type"] == "image/svg+xml"
    root = ET.fromstring(svg.content)
    texts = ["".join(t.itertext()).strip() for t in root.iter("{http://www.w3.org/2000/svg}text")]
    assert not [t for t in texts if t.strip(".") == "" and t], texts  # no radical dots
    symbols = {re.match(r"[A-Z][a-z]?", row.get("_atom_site_type_symbol") or row["_atom_site_label"].title()).group(0)
               for row in cif_loop(path, "_atom_site_label")}
    drawn = "".join(texts)
    assert all(s in drawn for s in symbols), (symbols, texts)


@pytest.mark.parametrize("path", ORGANICS, ids=lambda p: p.rsplit("/", 1)[1])
def test_molecular_crystals_keep_their_descriptors(srv, crystals, path):
    meta = crystals[path]
    p = props(meta)
    assert p["crystal_type"] == "molecular"
    for name in DESCRIPTORS:
        assert name in p, name
    key = subprocess.run(["obabel", path, "-oinchikey"], capture_output=True, text=True, timeout=60).stdout.strip()
    assert p["inchikey"] == key


# not caffeine.cif: its "R 3 c" is no group obabel knows, so obabel's --fillUC of it is not
# the crystal (carboy finds the group from the operations; obabel does not)
@pytest.mark.parametrize("path", [p for p in ORGANICS if "caffeine" not in p], ids=lambda p: p.rsplit("/", 1)[1])
def test_a_molecular_crystal_is_its_molecules_whatever_its_asymmetric_unit(srv, path, tmp_path):
    """The same crystal written in P 1 (obabel's --fillUC: its asymmetric unit is the whole
    cell, Z copies of each molecule) describes the same compound as the file whose
    asymmetric unit is one formula unit: each molecule once, whole (obabel's InChIKey of
    the original), the same descriptors; never Z copies of it. The asymmetric unit is
    told from one formula unit by the formula sum, which the test copies from the
    original."""
    cif = subprocess.run(["obabel", "-icif", path, "-ocif", "--fillUC", "strict"], capture_output=True, text=True,
                         timeout=120).stdout
    assert "_space_group_name_H-M_alt 'P 1'" in cif and "_chemical_formula_sum" not in cif
    # the compound's formula sum, the original's own field (obabel writes none)
    cif = cif.replace("_space_group_name_H-M_alt", "_chemical_formula_sum '%s'\n_space_group_name_H-M_alt"
                      % cif_items(path)["_chemical_formula_sum"], 1)
    f = srv.folder("crystals-p1-" + path.rsplit("/", 1)[1])["id"]
    whole = wait_file(srv, srv.put(f, "p1.cif", cif.encode())["id"])
    original = wait_file(srv, upload(srv, f, path)["id"])
    pw, po = props(whole), props(original)
    assert pw["crystal_type"] == "molecular", pw
    key = subprocess.run(["obabel", path, "-oinchikey"], capture_output=True, text=True, timeout=60).stdout.strip()
    assert pw["inchikey"] == key
    for name in DESCRIPTORS + ("heavy_atoms",):
        assert pw[name] == po[name], name


# ---- 4. the filled unit cell ----

def xyz_atoms(text):
    lines = text.splitlines()
    n = int(lines[0])
    atoms = [(l.split()[0], np.array([float(v) for v in l.split()[1:4]])) for l in lines[2:2 + n]]
    assert len(atoms) == n
    return atoms


def lattice(cif):
    """The cell's axes as rows, a along x and b in the xy plane (Open Babel's orientation)."""
    a, b, c = (number(cif["_cell_length_" + x]) for x in "abc")
    al, be, ga = (np.radians(number(cif["_cell_angle_" + x])) for x in ("alpha", "beta", "gamma"))
    cy = (np.cos(al) - np.cos(be) * np.cos(ga)) / np.sin(ga)
    return np.array([[a, 0, 0], [b * np.cos(ga), b * np.sin(ga), 0],
                     [c * np.cos(be), c * cy, c * np.sqrt(1 - np.cos(be) ** 2 - cy ** 2)]])


def same_atoms(a, b, axes, tol=2e-3):
    """The same atoms at the same places up to whole cells, in any order; an element
    obabel could not read ('*') stands for any."""
    if len(a) != len(b):
        return False
    left, inv = list(b), np.linalg.inv(axes)
    for el, v in a:
        def near(w):
            f = (v - w) @ inv
            return np.linalg.norm((f - np.round(f)) @ axes) < tol
        k = next((i for i, (e, w) in enumerate(left) if e in (el, "*") and near(w)), None)
        if k is None:
            return False
        left.pop(k)
    return True


def proportions(atoms):
    els = [e for e, _ in atoms]
    return {e: els.count(e) / len(els) for e in set(els)}


@pytest.mark.parametrize("name", ["NaCl.cif", "Si_setting2.cif", "TiO2_rutile.cif", "CaF2_fluorite.cif",
                                  "BaTiO3.cif", "paracetamol.cif"])
def test_filled_cell_converts_beside_the_asymmetric_unit(srv, crystals, name):
    path = PYOBJ + name
    meta, cif = crystals[path], cif_items(path)
    p = props(meta)
    if "_cell_formula_units_z" in cif and "_chemical_formula_sum" in cif:
        assert p["filled_cell_atoms"] == int(cif["_cell_formula_units_z"]) * atoms_per_formula(
            cif["_chemical_formula_sum"])
    filled = srv.api("GET", f"/files/{meta['id']}/convert", params={"to": "xyz", "cell": "filled"}, timeout=300)
    assert filled.status_code == 200, filled.text
    ref = subprocess.run(["obabel", path, "-oxyz", "--fillUC", "strict"], capture_output=True, text=True,
                         timeout=120).stdout
    atoms = xyz_atoms(filled.text)
    assert len(atoms) == p["filled_cell_atoms"]
    assert same_atoms(atoms, xyz_atoms(ref), lattice(cif))
    if "_chemical_formula_sum" in cif:  # the cell holds the compound's elements in its proportions
        per = {e: float(n or 1) for e, n in re.findall(r"([A-Z][a-z]?)([\d.]*)", cif["_chemical_formula_sum"])}
        assert proportions(atoms) == pytest.approx({e: n / sum(per.values()) for e, n in per.items()})
    # the default stays the asymmetric unit, as obabel reads the file
    asym = srv.api("GET", f"/files/{meta['id']}/convert", params={"to": "xyz"}, timeout=300)
    ref = subprocess.run(["obabel", path, "-oxyz"], capture_output=True, text=True, timeout=120).stdout
    assert same_atoms(xyz_atoms(asym.text), xyz_atoms(ref), lattice(cif))
    # PDB and CIF of the filled cell: every atom, the cell in P 1; obabel reads them back
    pdb = srv.api("GET", f"/files/{meta['id']}/convert", params={"to": "pdb", "cell": "filled"}, timeout=300)
    assert pdb.status_code == 200 and "CRYST1" in pdb.text and " P 1 " in pdb.text
    assert sum(line.startswith(("ATOM", "HETATM")) for line in pdb.text.splitlines()) == p["filled_cell_atoms"]
    out = srv.api("GET", f"/files/{meta['id']}/convert", params={"to": "cif", "cell": "filled"}, timeout=300)
    assert out.status_code == 200 and "'P 1'" in out.text
    back = subprocess.run(["obabel", "-icif", "-", "-oxyz"], input=out.text, capture_output=True, text=True,
                          timeout=120).stdout
    assert len(xyz_atoms(back)) == p["filled_cell_atoms"]


def test_cell_parameter_is_checked(srv, crystals):
    meta = crystals[PYOBJ + "NaCl.cif"]
    for params in ({"to": "smi", "cell": "filled"}, {"to": "xyz", "cell": "whole"}):
        r = srv.api("GET", f"/files/{meta['id']}/convert", params=params)
        assert r.status_code == 400 and r.json()["field"] == "cell", r.text
    f = srv.folder("crystals-not-a-crystal")
    mol = wait_file(srv, upload(srv, f["id"], BZR_SMI)["id"])
    r = srv.api("GET", f"/files/{mol['id']}/convert", params={"to": "xyz", "cell": "filled"})
    assert r.status_code == 400 and r.json()["field"] == "cell"


# ---- 5. structures without bonds draw completely ----

def test_structures_without_bonds_draw_whole(srv, tmp_path):
    """Salts of bare ions, metals, water without its hydrogens (and, beside them, water and a
    salt of a molecular ion): every drawing is a whole SVG document naming every element
    obabel finds in the structure."""
    lines = ["[Na+].[Cl-] sodium-chloride", "[Cs+].[Cl-] caesium-chloride", "[Ag] silver",
             "[O].[O].[O].[O] ice-oxygens", "[Na].[Cl] atoms", "[Ca+2].[F-].[F-] fluorite", "O.O water",
             "[Na+].[Na+].[O-]C(=O)C([O-])=O sodium-oxalate"]
    path = tmp_path / "bare.smi"
    path.write_text("\n".join(lines) + "\n")
    f = srv.folder("crystals-bare")
    meta = wait_file(srv, upload(srv, f["id"], str(path))["id"])
    recs = all_records(srv, meta["id"])
    assert len(recs) == len(lines)
    for rec, line in zip(recs, lines):
        r = srv.api("GET", f"/records/{rec['id']}/depiction", timeout=120)
        assert r.status_code == 200, (line, r.text)
        root = ET.fromstring(r.content)  # well-formed, and whole
        assert root.tag == "{http://www.w3.org/2000/svg}svg"
        drawn = "".join(root.itertext())
        formula = subprocess.run(["obabel", "-:" + line.split()[0], "-otxt", "--append", "formula"],
                                 capture_output=True, text=True, timeout=60).stdout
        bonded = "(" in line or "=" in line  # a skeletal formula: its carbons are unlabelled
        for el in set(re.findall(r"[A-Z][a-z]?", formula)) - {"H"} - ({"C"} if bonded else set()):
            assert el in drawn, (line, el, drawn)


# ---- 6, 7. several molecules: one CML document, SMILES with their titles ----

@pytest.mark.parametrize("path", [NCI, BZR_SMI], ids=["sdf", "smi"])
def test_conversions_of_many_molecules_are_obabels(srv, path):
    f = srv.folder("crystals-many-" + path.rsplit(".", 1)[1])
    meta = wait_file(srv, upload(srv, f["id"], path)["id"])
    for to in ("smi", "can", "cml"):
        r = srv.api("GET", f"/files/{meta['id']}/convert?to={to}", timeout=300)
        assert r.status_code == 200, r.text
        ref = subprocess.run(["obabel", path, "-o" + to], capture_output=True, text=True, timeout=300).stdout
        assert r.text.splitlines() == ref.splitlines(), to
    root = ET.fromstring(srv.api("GET", f"/files/{meta['id']}/convert?to=cml").content)
    assert root.tag == "{http://www.xml-cml.org/schema}cml"
    assert len(root.findall("{http://www.xml-cml.org/schema}molecule")) == meta["record_count"]


# ---- older files, as their own fields say ----

def token_hill(formula_sum):
    """Hill order from a formula sum written as CIF writes it, one element per token, in
    whatever case ("C.49 NA4 O7.51 S1.51", as older files write it)."""
    return hill(" ".join(re.sub(r"^[A-Za-z]{1,2}", lambda m: m.group(0).capitalize(), t) for t in formula_sum.split()))


@pytest.mark.parametrize("name", ["burk1.cif", "burk2.cif", "burk3.cif", "adp1.cif"])
def test_older_files_as_their_fields_say(srv, name):
    cif = cif_items(GDIS + name)
    meta = wait_file(srv, upload(srv, srv.folder("crystals-old-" + name)["id"], GDIS + name)["id"])
    assert meta["status"] == "processed" and meta["kind"] == "crystal", meta
    p = props(meta)
    assert p["formula"] == token_hill(cif["_chemical_formula_sum"]), (p["formula"], cif["_chemical_formula_sum"])
    assert p["space_group"] == cif["_symmetry_space_group_name_h-m"].strip()
    if cif.get("_symmetry_cell_setting"):
        assert p["crystal_system"] == cif["_symmetry_cell_setting"].lower()


def test_a_block_naming_no_symmetry_claims_no_space_group(srv, tmp_path):
    """adp1.cif with its symbol, number and operations taken out: Open Babel's fallback
    (P 1) is nothing the file says, so no space group is reported; the crystal system the
    file states stays."""
    text = open(GDIS + "adp1.cif").read()
    text = re.sub(r"_symmetry_space_group_name_H-M.*\n|_symmetry_Int_Tables_number.*\n", "", text)
    text = re.sub(r"loop_\n_symmetry_equiv_pos_as_xyz\s*\n(\s+'[^']*'\n)+", "", text)
    assert "_symmetry_equiv_pos_as_xyz" not in text and "I -4 2 d" not in text
    meta = wait_file(srv, srv.put(srv.folder("crystals-nosym")["id"], "adp-nosym.cif", text.encode())["id"])
    assert meta["status"] == "processed" and meta["kind"] == "crystal", meta
    p = props(meta)
    assert "space_group" not in p and "space_group_number" not in p, p
    assert p["crystal_system"] == "tetragonal" and p["formula"] == "H6NO4P"

