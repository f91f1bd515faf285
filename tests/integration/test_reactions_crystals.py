"""Reactions (RXN, RDF) and crystals (CIF, mmCIF) through the real server.

Crystals are real third-party files from Debian packages: Open Babel's own multi-block
CIF example (python3-openbabel), COD CIFs shipped with cif2hkl, and a PDB mmCIF from
Biopython's test data (python-biopython-doc). Debian ships no RXN or RDF file at all
(`apt-file search` finds none), so the reaction files are written here in the MDL layout,
their molecule blocks by the obabel command line; their components are checked against
obabel's canonical SMILES of the same molecules."""
import gzip
import re
import subprocess

import pytest
import requests
from conftest import wait_file, upload, all_records


HASHIZUME = "/usr/share/doc/python3-openbabel/examples/hashizume.cif"
LAMNO3 = "/usr/share/doc/cif2hkl/examples/LaMnO3.cif"
SILICON = "/usr/share/doc/cif2hkl/examples/2104737.cif"
MMCIF_GZ = "/usr/share/doc/python-biopython-doc/Tests/PDB/1A8O.cif.gz"


def can(smiles):
    out = subprocess.run(["obabel", "-:" + smiles, "-ocan"], capture_output=True, text=True, timeout=60).stdout
    return out.split("\t")[0].strip()


def molblock(smiles, title):
    out = subprocess.run(["obabel", "-:" + smiles, "-omol", "--gen2d"], capture_output=True, text=True,
                         timeout=60).stdout
    lines = out.splitlines()
    lines[0] = title
    return "\n".join(lines) + "\n"


def rxn(name, reactants, products):
    text = f"$RXN\n{name}\n      carboy-tests\n\n{len(reactants):3d}{len(products):3d}\n"
    for i, smi in enumerate(reactants + products):
        text += "$MOL\n" + molblock(smi, f"m{i}")
    return text


ESTER = (["CCO", "CC(=O)O"], ["CCOC(C)=O", "O"])
DIELS_ALDER = (["C=CC=C", "C=C"], ["C1=CCCCC1"])


def props(rec, name):
    return [p["value"] for p in rec["properties"] if p["name"] == name]


def test_rxn_reactants_products_and_depiction(srv, tmp_path):
    f = srv.folder("rxn")
    path = tmp_path / "ester.rxn"
    path.write_text(rxn("esterification", *ESTER))
    meta = wait_file(srv, upload(srv, f["id"], str(path))["id"])
    assert meta["status"] == "processed" and meta["kind"] == "reaction", meta
    assert meta["record_count"] == 1
    (rec,) = all_records(srv, meta["id"])
    assert rec["title"] == "esterification"
    assert props(rec, "reactant") == [can(s) for s in ESTER[0]]
    assert props(rec, "product") == [can(s) for s in ESTER[1]]
    expected = ".".join(can(s) for s in ESTER[0]) + ">>" + ".".join(can(s) for s in ESTER[1])
    assert props(rec, "reaction_smiles") == [expected]
    assert rec["smiles"] == expected
    assert props(rec, "reactant_count") == [2] and props(rec, "product_count") == [2]
    # the file itself carries its one reaction's description, for search
    assert {"name": "reaction_smiles", "value": expected, "source": "extracted"} in meta["properties"]

    # depiction: every component drawn, "+" between those of a side, an arrow between sides
    r = srv.api("GET", f"/records/{rec['id']}/depiction")
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("image/svg+xml")
    svg = r.text
    assert svg.count('id="topsvg"') == 4, svg[:500]  # one Open Babel drawing per component
    assert svg.count(">+</text>") == 2 and "<polygon" in svg
    assert srv.api("GET", f"/files/{meta['id']}/preview").content == r.content

    # conversions: back to reaction SMILES and to an RXN file that reads the same
    r = srv.api("GET", f"/files/{meta['id']}/convert?to=rsmi")
    assert r.status_code == 200, r.text
    left, _, right = r.text.split("\t")[0].strip().partition(">>")
    assert sorted(can(s) for s in left.split(".")) == sorted(can(s) for s in ESTER[0])
    assert sorted(can(s) for s in right.split(".")) == sorted(can(s) for s in ESTER[1])
    r = srv.api("GET", f"/files/{meta['id']}/convert?to=inchi")
    assert r.status_code == 400 and "rxn" in r.json()["detail"]


def test_reaction_smiles_file(srv):
    """A reaction SMILES file: one record per line with its components as obabel reads them;
    a line that is no reaction is recorded with its error. (Open Babel 3.1.1's own rsmi
    reader crashed the converter on every such file; found by tests/fuzz.)"""
    f = srv.folder("rsmi")
    ester = ".".join(ESTER[0]) + ">>" + ".".join(ESTER[1])
    text = f"{ester} esterification\nCCO>[Pt]>CC=O oxidation\nC>>>C\n{'.'.join(DIELS_ALDER[0])}>>{DIELS_ALDER[1][0]}\n"
    meta = wait_file(srv, upload(srv, f["id"], None, "reactions.rsmi", text.encode())["id"])
    assert meta["status"] == "processed" and meta["kind"] == "reaction", meta
    recs = all_records(srv, meta["id"])
    assert len(recs) == 4
    assert recs[0]["title"] == "esterification"
    assert props(recs[0], "reactant") == [can(s) for s in ESTER[0]]
    assert props(recs[0], "product") == [can(s) for s in ESTER[1]]
    assert recs[1]["title"] == "oxidation"
    assert props(recs[1], "agent") == [can("[Pt]")] and props(recs[1], "product") == [can("CC=O")]
    assert "error" in recs[2] and "reaction" in recs[2]["error"]
    assert props(recs[3], "reactant") == [can(s) for s in DIELS_ALDER[0]]
    assert props(recs[3], "product") == [can(DIELS_ALDER[1][0])]


def test_rdf_records_fields_and_per_record_errors(srv, tmp_path):
    f = srv.folder("rdf")
    text = "$RDFILE 1\n$DATM    11/22/26 05:00\n"
    text += "$RFMT $RIREG 1\n" + rxn("esterification", *ESTER)
    text += "$DTYPE RXN:YIELD\n$DATUM 85\n$DTYPE RXN:NOTE\n$DATUM reflux, 2 h\nthen distilled\n"
    text += "$RFMT $RIREG 2\n$RXN\nbroken\n\n\n  1  1\n$MOL\nthis is not a molfile\n"
    text += "$DTYPE RXN:YIELD\n$DATUM 0\n"
    text += "$RFMT $RIREG 3\n" + rxn("Diels-Alder", *DIELS_ALDER)
    text += "$DTYPE RXN:YIELD\n$DATUM 91.5\n"
    path = tmp_path / "lab.rdf"
    path.write_text(text)
    meta = wait_file(srv, upload(srv, f["id"], str(path))["id"])
    assert meta["status"] == "processed" and meta["kind"] == "reaction", meta
    assert meta["record_count"] == 3
    p = {x["name"]: x["value"] for x in meta["properties"]}
    assert p["records_failed"] == 1 and p["structure_format"] == "rdf"
    recs = all_records(srv, meta["id"])
    assert [r["index"] for r in recs] == [0, 1, 2]
    ok1, bad, ok2 = recs
    assert ok1["title"] == "esterification" and "error" not in ok1
    assert props(ok1, "RXN:YIELD") == [85]
    assert props(ok1, "RXN:NOTE") == ["reflux, 2 h\nthen distilled"]
    assert bad.get("error") and "could not be read" in bad["error"]
    assert ok2["title"] == "Diels-Alder" and props(ok2, "RXN:YIELD") == [91.5]
    assert props(ok2, "reactant") == [can(s) for s in DIELS_ALDER[0]]
    assert props(ok2, "product") == [can(s) for s in DIELS_ALDER[1]]


def cif_blocks(path):
    """(name, cell a) of each data block with atom sites, read straight from the CIF."""
    out, name, a, atoms = [], None, None, False
    for line in open(path, errors="replace"):
        line = line.strip()
        if line.lower().startswith("data_"):
            if name and atoms:
                out.append((name, a))
            name, a, atoms = line[5:].strip(), None, False
        elif line.startswith("_cell_length_a"):
            a = float(re.sub(r"\(.*\)", "", line.split()[1]))
        elif line.startswith("_atom_site_"):
            atoms = True
    if name and atoms:
        out.append((name, a))
    return out


def test_cif_one_record_per_data_block(srv, tmp_path):
    f = srv.folder("cif")
    meta = wait_file(srv, upload(srv, f["id"], HASHIZUME)["id"])
    assert meta["status"] == "processed" and meta["kind"] == "crystal", meta
    blocks = cif_blocks(HASHIZUME)
    assert len(blocks) == 20  # 21 data blocks; data_global has no atoms
    recs = all_records(srv, meta["id"])
    assert [props(r, "data_block")[0] for r in recs] == [b[0] for b in blocks]
    for rec, (_, a) in zip(recs, blocks):
        assert "error" not in rec, rec
        assert props(rec, "cell_length_a") == [pytest.approx(a)]
        assert props(rec, "space_group") == ["P -1"] and props(rec, "space_group_number") == [2]
        for name in ("cell_length_b", "cell_length_c", "cell_angle_alpha", "cell_angle_beta", "cell_angle_gamma",
                     "cell_volume"):
            assert len(props(rec, name)) == 1
    # each block's molecule as obabel reads that block alone
    text = open(HASHIZUME).read()
    for k in (1, 17):  # an ethyl and a propyl block
        start = text.index("data_" + blocks[k][0])
        nxt = text.find("\ndata_", start + 1)
        one = tmp_path / f"block{k}.cif"
        one.write_text(text[start:nxt + 1] if nxt > 0 else text[start:])
        out = subprocess.run(["obabel", str(one), "-ocan"], capture_output=True, text=True, timeout=60).stdout
        assert recs[k]["smiles"] == out.split("\t")[0].strip()
        key = subprocess.run(["obabel", str(one), "-oinchikey"], capture_output=True, text=True, timeout=60).stdout
        assert recs[k]["inchikey"] == key.strip()


def test_cod_cifs_cell_space_group_formula(srv):
    f = srv.folder("cod")
    meta = wait_file(srv, upload(srv, f["id"], LAMNO3)["id"])
    assert meta["status"] == "processed" and meta["kind"] == "crystal", meta
    p = {x["name"]: x["value"] for x in meta["properties"]}
    assert p["cell_length_a"] == pytest.approx(5.5367) and p["cell_length_c"] == pytest.approx(7.6929)
    assert p["space_group"] == "P b n m" and p["space_group_number"] == 62
    # the CIF's _chemical_formula_sum 'La Mn O3' in Hill order, not its structural formula 'La (Mn O3)'
    fsum = re.search(r"_chemical_formula_sum\s+'([^']+)'", open(LAMNO3).read()).group(1)
    assert p["formula"] == "".join(fsum.split()) == "LaMnO3"
    assert p["data_block"] == "1006141"
    meta = wait_file(srv, upload(srv, f["id"], SILICON)["id"])
    p = {x["name"]: x["value"] for x in meta["properties"]}
    assert p["space_group_number"] == 227 and p["cell_length_a"] == pytest.approx(5.43096)
    # crystals convert to the structure formats and back to CIF
    r = srv.api("GET", f"/files/{meta['id']}/convert?to=cif")
    assert r.status_code == 200 and "_cell_length_a" in r.text
    r = srv.api("GET", f"/files/{meta['id']}/convert?to=xyz")
    assert r.status_code == 200 and "Si" in r.text


def test_mmcif_from_the_pdb(srv, tmp_path):
    path = tmp_path / "1A8O.cif"
    path.write_bytes(gzip.open(MMCIF_GZ).read())
    f = srv.folder("mmcif")
    meta = wait_file(srv, upload(srv, f["id"], str(path))["id"], timeout=180)
    assert meta["status"] == "processed" and meta["kind"] == "crystal", meta
    (rec,) = all_records(srv, meta["id"])
    assert props(rec, "data_block") == ["1A8O"]
    assert props(rec, "cell_length_a") == [pytest.approx(41.98)]
    out = subprocess.run(["obabel", "-immcif", str(path), "-ocan"], capture_output=True, text=True,
                         timeout=120).stdout
    assert rec["smiles"] == out.split("\t")[0].strip()


@pytest.mark.parametrize("name,text", [
    ("bad.rxn", "$RXN\nnothing here\n\n\n  x  y\n"),
    ("bad.rdf", "$RDFILE 1\n$RFMT\n$RXN\nbroken\n\n\n  1  1\n$MOL\nnot a molfile\n"),
    ("bad.cif", "data_broken\n_cell_length_a 5\nloop_\n_atom_site_label\n_atom_site_fract_x\n"),
])
def test_malformed_reaction_and_crystal_files_fail_cleanly(srv, tmp_path, name, text):
    f = srv.folder("bad-" + name)
    path = tmp_path / name
    path.write_text(text)
    meta = wait_file(srv, upload(srv, f["id"], str(path))["id"])
    assert meta["status"] == "failed" and meta["error"], meta
    assert requests.get(srv.url + "/healthz", timeout=10).status_code == 200
