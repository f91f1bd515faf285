"""Cost bounds before the toolkit (issue 19): what a structure file holds (atoms and bonds
of a molecule, records of a file, bytes of a record) is counted from its text before Open
Babel parses it. A molecule past CARBOY_CHEM_MAX_ATOMS fails its job at once with a reason
naming the setting, not at CARBOY_JOB_TIMEOUT (on 0.8.0 a 150,000-atom molecule held a
converter for the whole 300 s); a molecule above CARBOY_CHEM_IDENTIFY_MAX_ATOMS becomes a
record without the identifiers that grow faster than it, and keeps its summary card."""
import datetime
import gzip
import xml.etree.ElementTree as ET

import pytest

from conftest import finish, make_server, props, wait_file, wait_job

SVG = "{http://www.w3.org/2000/svg}"
TIMEOUT = 120


def v3000(n, title="chain", field=None):
    """An SD record of an n-carbon chain in V3000 (V2000 counts stop at 999)."""
    lines = [title, "  carboy", "", "  0  0  0     0  0            999 V3000", "M  V30 BEGIN CTAB",
             f"M  V30 COUNTS {n} {n - 1} 0 0 0", "M  V30 BEGIN ATOM"]
    lines += [f"M  V30 {i + 1} C {i * 1.3:.4f} {(i % 2) * 0.75:.4f} 0 0" for i in range(n)]
    lines += ["M  V30 END ATOM", "M  V30 BEGIN BOND"]
    lines += [f"M  V30 {i} 1 {i} {i + 1}" for i in range(1, n)]
    lines += ["M  V30 END BOND", "M  V30 END CTAB", "M  END"]
    if field:
        lines += [f"> <{field[0]}>", field[1], ""]
    return "\n".join(lines) + "\n$$$$\n"


ETHANOL = "ethanol\n  carboy\n\n  3  2  0  0  0  0  0  0  0  0999 V2000\n" + "".join(
    f"{x:10.4f}{0:10.4f}{0:10.4f} {el:<3} 0  0  0  0  0  0  0  0  0  0  0  0\n"
    for x, el in ((0, "C"), (1.5, "C"), (2.9, "O"))) + "  1  2  1  0\n  2  3  1  0\nM  END\n$$$$\n"


def smiles(n):
    """n alkanes, one a line: methane, ethane, ..."""
    return "".join("C" * i + f" alkane{i}\n" for i in range(1, n + 1)).encode()


def stamp(s):
    return datetime.datetime.fromisoformat(s.replace("Z", "+00:00"))


def ingest_job(s, file_id):
    """The ingest job of a file, as the admin's job list shows it."""
    cursor = None
    while True:
        body = s.api("GET", "/jobs?limit=1000" + (f"&cursor={cursor}" if cursor else "")).json()
        for j in body["jobs"]:
            if j["type"] == "ingest" and j["inputs"] == [file_id]:
                return j
        cursor = body["next_cursor"]
        assert cursor, f"no ingest job for {file_id}"


def records(s, file_id):
    return s.api("GET", f"/files/{file_id}/records?limit=100").json()["records"]


def convert(s, file_id, to):
    r = s.api("POST", "/jobs", json={"type": "convert", "inputs": [file_id], "params": {"to": to}})
    assert r.status_code == 202, r.text
    return wait_job(s, r.json()["id"], timeout=TIMEOUT + 30)


@pytest.fixture(scope="module")
def dflt(tmp_path_factory):
    """A server with the default bounds and a job timeout the tests can tell apart."""
    s = make_server(tmp_path_factory, {"CARBOY_JOB_TIMEOUT": str(TIMEOUT)})
    yield s
    finish(s)


@pytest.fixture(scope="module")
def low(tmp_path_factory):
    """A server with every bound lowered, so small files reach them."""
    s = make_server(tmp_path_factory, {
        "CARBOY_JOB_TIMEOUT": str(TIMEOUT), "CARBOY_CHEM_MAX_ATOMS": "2000", "CARBOY_CHEM_MAX_BONDS": "1500",
        "CARBOY_CHEM_MAX_RECORDS": "5", "CARBOY_CHEM_MAX_RECORD_SIZE": "256K", "CARBOY_CHEM_IDENTIFY_MAX_ATOMS": "300"})
    yield s
    finish(s)


@pytest.mark.parametrize("name", ["chain.smi", "chain.sdf"])
def test_a_150000_atom_molecule_fails_fast_naming_the_bound(dflt, name):
    data = ("C" * 150000 + " chain\n" if name.endswith(".smi") else v3000(150000)).encode()
    f = dflt.folder("big-" + name.replace(".", "-"))
    meta = wait_file(dflt, dflt.put(f["id"], name, data)["id"], timeout=TIMEOUT + 30)
    want = "the molecule has 150,000 atoms, above CARBOY_CHEM_MAX_ATOMS (100,000)"
    assert meta["status"] == "failed" and want in meta["error"], meta
    job = ingest_job(dflt, meta["id"])
    assert job["state"] == "failed" and want in job["error"], job
    # failed by the bound, not killed at the job timeout
    assert (stamp(job["finished_at"]) - stamp(job["started_at"])).total_seconds() < TIMEOUT
    assert "timed out" not in job["error"] and job["attempts"] == 1, job


def test_a_conversion_past_the_bound_fails_with_the_reason(low):
    f = low.folder("convert-past")
    meta = wait_file(low, low.put(f["id"], "mixed.sdf", (ETHANOL + v3000(2500, "big")).encode())["id"])
    assert meta["status"] == "processed", meta
    for to in ("sdf", "smi", "inchikey"):
        job = convert(low, meta["id"], to)
        assert job["state"] == "failed", job
        assert "the molecule has 2,500 atoms, above CARBOY_CHEM_MAX_ATOMS (2,000)" in job["error"], job


def test_a_record_past_a_bound_is_noted_and_the_file_goes_on(low):
    f = low.folder("noted")
    big_field = ("x" * 100 + "\n") * 3000  # 300 KB of data: past CARBOY_CHEM_MAX_RECORD_SIZE (256 KiB)
    sdf = ETHANOL + v3000(2500, "too many atoms") + v3000(1800, "too many bonds") + \
        v3000(3, "too long", ("notes", big_field)) + ETHANOL
    meta = wait_file(low, low.put(f["id"], "noted.sdf", sdf.encode())["id"])
    assert meta["status"] == "processed", meta
    assert props(meta)["record_count"] == 5 and props(meta)["records_failed"] == 3
    recs = records(low, meta["id"])
    assert [bool(r.get("error")) for r in recs] == [False, True, True, True, False]
    assert "the molecule has 2,500 atoms, above CARBOY_CHEM_MAX_ATOMS (2,000)" in recs[1]["error"]
    assert "the molecule has 1,799 bonds, above CARBOY_CHEM_MAX_BONDS (1,500)" in recs[2]["error"]
    assert "above CARBOY_CHEM_MAX_RECORD_SIZE (262,144)" in recs[3]["error"]
    assert recs[0]["inchikey"] == recs[4]["inchikey"] == "LFQSCWFLJHTTHZ-UHFFFAOYSA-N"


def test_too_many_records_fail_the_file_at_once(low):
    f = low.folder("records")
    meta = wait_file(low, low.put(f["id"], "six.smi", smiles(6))["id"])
    assert meta["status"] == "failed" and "more than 5 records, above CARBOY_CHEM_MAX_RECORDS" in meta["error"], meta
    ok = wait_file(low, low.put(f["id"], "five.smi", smiles(5))["id"])
    assert ok["status"] == "processed" and props(ok)["record_count"] == 5, ok


def test_under_a_lowered_bound_a_large_molecule_is_a_record_with_its_summary(low):
    f = low.folder("large")
    meta = wait_file(low, low.put(f["id"], "chain.sdf", v3000(1200, "long chain").encode())["id"])
    assert meta["status"] == "processed", meta
    (rec,) = records(low, meta["id"])
    p = props(rec)
    # identifiers that grow faster than the molecule are left out, and the record says so
    assert "CARBOY_CHEM_IDENTIFY_MAX_ATOMS (300)" in p["identifiers_skipped"]
    assert "inchi" not in p and "canonical_smiles" not in p and not rec.get("inchikey")
    assert p["formula"] == "C1200H2402" and p["heavy_atoms"] == 1200
    # its depiction is the summary card (1,200 heavy atoms > CARBOY_DEPICT_MAX_ATOMS), made at once
    d = low.api("GET", f"/records/{rec['id']}/depiction", timeout=60)
    assert d.status_code == 200 and d.headers["Content-Type"].startswith("image/svg+xml")
    root = ET.fromstring(d.content)
    text = " ".join("".join(t.itertext()) for t in root.iter(SVG + "text"))
    assert "1200 heavy atoms" in text and "C1200H2402" in text
    # converted to a format that does not identify it, it converts; to canonical SMILES, it fails at once
    assert convert(low, meta["id"], "sdf")["state"] == "succeeded"
    job = convert(low, meta["id"], "can")
    assert job["state"] == "failed" and "above CARBOY_CHEM_IDENTIFY_MAX_ATOMS (300)" in job["error"], job
    # a small molecule beside it is identified as ever
    small = wait_file(low, low.put(f["id"], "ethanol.sdf", ETHANOL.encode())["id"])
    assert props(small)["inchikey"] == "LFQSCWFLJHTTHZ-UHFFFAOYSA-N"


MMCIF_GZ = "/usr/share/doc/python-biopython-doc/Tests/PDB/1A8O.cif.gz"  # the HIV capsid C-terminal domain
PYOBJ = "/usr/lib/python3/dist-packages/pyobjcryst/tests/testdata/"  # a folder of tests/inputs.txt
PARACETAMOL = PYOBJ + "paracetamol.cif"  # 26 atom sites, 4 symmetry operations


def pdb(n):
    """A PDB file of n atoms: alanine residues' N, CA, C, O, CB, set apart."""
    lines, k = [], 0
    for r in range(n // 5):
        for name, el, dx, dy in (("N", "N", 0, 0), ("CA", "C", 1.46, 0), ("C", "C", 2.0, 1.4), ("O", "O", 1.6, 2.4),
                                 ("CB", "C", 1.9, -0.8)):
            k += 1
            lines.append("ATOM  %5d  %-3s ALA A%4d    %8.3f%8.3f%8.3f  1.00  0.00          %2s"
                         % (k, name, r + 1, (r % 10) * 4.0 + dx, (r // 10) * 4.0 + dy, 0.0, el))
    return ("\n".join(lines) + "\nEND\n").encode()


def test_a_pdb_model_and_a_filled_cell_are_counted_before_open_babel(fresh):
    s = fresh({"CARBOY_CHEM_MAX_ATOMS": "60"})
    f = s.folder("counted")
    # a PDB model's ATOM lines
    meta = wait_file(s, s.put(f["id"], "big.pdb", pdb(100))["id"])
    assert meta["status"] == "failed" and "the molecule has 100 atoms, above CARBOY_CHEM_MAX_ATOMS (60)" in meta["error"]
    ok = wait_file(s, s.put(f["id"], "small.pdb", pdb(50))["id"])
    assert ok["status"] == "processed" and props(ok)["record_count"] == 1, ok
    # an mmCIF block's atom-site rows
    text = gzip.open(MMCIF_GZ).read()
    sites = sum(1 for line in text.decode().splitlines() if line.startswith(("ATOM ", "HETATM ")))
    assert sites > 600
    meta = wait_file(s, s.put(f["id"], "1A8O.cif", text)["id"])
    assert meta["status"] == "failed", meta
    assert f"the molecule has {sites:,} atoms, above CARBOY_CHEM_MAX_ATOMS (60)" in meta["error"], meta
    # a crystal's 26 atom sites are read; its filled cell (26 sites x 4 operations, as obabel --fillUC makes
    # it) is refused before it is made
    with open(PARACETAMOL, "rb") as fh:
        cif = wait_file(s, s.put(f["id"], "paracetamol.cif", fh.read())["id"])
    assert cif["status"] == "processed" and props(cif)["record_count"] == 1, cif
    r = s.api("GET", f"/files/{cif['id']}/convert?to=xyz&cell=filled", timeout=120)
    assert r.status_code == 422, r.text
    assert "the filled cell would hold 104 atoms, above CARBOY_CHEM_MAX_ATOMS (60)" in r.json()["detail"]
    assert s.api("GET", f"/files/{cif['id']}/convert?to=xyz", timeout=120).status_code == 200


def test_a_cml_molecule_past_the_bound_leaves_the_others_of_its_file(low):
    """CML records end with their </molecule>: a molecule past a bound is noted alone, and
    the file's other molecules are read (the whole rest of the file was counted as one
    record, and passed over with it)."""
    def molecule(n, title):
        atoms = "".join(f'<atom id="a{i}" elementType="C"/>' for i in range(n))
        bonds = "".join(f'<bond atomRefs2="a{i} a{i + 1}" order="1"/>' for i in range(n - 1))
        return f'<molecule id="{title}" title="{title}">\n<atomArray>\n{atoms}\n</atomArray>\n' \
               f'<bondArray>\n{bonds}\n</bondArray>\n</molecule>\n'
    cml = '<?xml version="1.0"?>\n<cml xmlns="http://www.xml-cml.org/schema">\n' + \
        molecule(3, "small1") + molecule(2500, "huge") + molecule(4, "small2") + molecule(5, "small3") + '</cml>\n'
    f = low.folder("cml-bounds")
    meta = wait_file(low, low.put(f["id"], "several.cml", cml.encode())["id"])
    assert meta["status"] == "processed", meta
    recs = records(low, meta["id"])
    assert len(recs) == 4, recs
    errors = [r.get("error") or "" for r in recs]
    assert "above CARBOY_CHEM_MAX_ATOMS" in errors[1] and not errors[0] and not errors[2] and not errors[3], errors
