"""Chemistry through Open Babel, on real third-party files from Debian's rdkit-data:
records with identifiers checked against the obabel command line on the same input,
per-record errors, malformed files, conversions."""
import os
import subprocess
import time

from conftest import problem, wait_file, upload, all_records


NCI = "/usr/share/RDKit/Data/NCI/first_200.props.sdf"
BZR_SMI = "/usr/share/RDKit/Projects/DbCLI/testData/bzr.smi"
ONE_MOL = "/usr/share/RDKit/Projects/DbCLI/testData/bzr_q1.mol"
CDK2 = "/usr/share/RDKit/Contrib/Fastcluster/testdata/cdk2.sdf"


def obabel(path, fmt):
    """One line per molecule from the obabel command line, title stripped."""
    out = subprocess.run(["obabel", path, "-o" + fmt], capture_output=True, text=True, timeout=120).stdout
    return [line.split("\t")[0].strip() for line in out.splitlines()]


def test_sdf_records_match_obabel(srv):
    f = srv.folder("chem")
    meta = wait_file(srv, upload(srv, f["id"], NCI)["id"])
    assert meta["status"] == "processed" and meta["kind"] == "structure", meta
    assert meta["record_count"] == 200
    props = {p["name"]: p["value"] for p in meta["properties"]}
    assert props["record_count"] == 200 and props["structure_format"] == "sdf"
    recs = all_records(srv, meta["id"], limit=64)
    assert [r["index"] for r in recs] == list(range(200))
    assert [r["smiles"] for r in recs] == obabel(NCI, "can")
    assert [r["inchikey"] for r in recs] == obabel(NCI, "inchikey")
    first = srv.api("GET", f"/records/{recs[0]['id']}").json()
    p = {x["name"]: x for x in first["properties"]}
    assert p["formula"]["value"] == "C7H6O2" and p["inchikey"]["iri"].endswith("CHEMINF_000059")
    assert abs(p["molecular_weight"]["value"] - 122.12) < 0.01 and p["molecular_weight"]["unit"] == "g/mol"
    for name in ("exact_mass", "heavy_atoms", "logp", "tpsa", "hbond_donors", "hbond_acceptors", "rotatable_bonds", "inchi"):
        assert name in p, name
    # SD fields travel as properties, typed
    assert p["NUM_RINGS"]["value"] == 1 and p["SMILES"]["value"] == "CC1=CC(=O)C=CC1=O"


def test_smiles_and_single_mol(srv):
    f = srv.folder("chem-more")
    smi = wait_file(srv, upload(srv, f["id"], BZR_SMI)["id"])
    recs = all_records(srv, smi["id"])
    assert smi["status"] == "processed" and len(recs) == len(obabel(BZR_SMI, "can"))
    assert [r["inchikey"] for r in recs] == obabel(BZR_SMI, "inchikey")
    assert recs[1]["title"] == "Alprazolam"
    one = wait_file(srv, upload(srv, f["id"], ONE_MOL)["id"])
    props = {p["name"]: p["value"] for p in one["properties"]}
    # a one-molecule file carries the molecule's identifiers itself
    assert one["record_count"] == 1 and props["inchikey"] == obabel(ONE_MOL, "inchikey")[0]


def test_bad_record_is_recorded_and_the_rest_ingests(srv, tmp_path):
    good = open(NCI).read().split("$$$$\n")
    bad = "broken\n  garbage\n\nthis is not a counts line\nM  END\n$$$$\n"
    path = tmp_path / "mixed.sdf"
    path.write_text(good[0] + "$$$$\n" + bad + good[1] + "$$$$\n")
    f = srv.folder("chem-mixed")
    meta = wait_file(srv, upload(srv, f["id"], str(path))["id"])
    assert meta["status"] == "processed"
    props = {p["name"]: p["value"] for p in meta["properties"]}
    assert props["record_count"] == 3 and props["records_failed"] == 1
    recs = all_records(srv, meta["id"])
    assert "error" not in recs[0] and "error" in recs[1] and "error" not in recs[2]
    assert recs[1]["error"] and recs[2]["inchikey"] == obabel(NCI, "inchikey")[1]


def test_malformed_structure_file_fails_cleanly(srv, tmp_path):
    f = srv.folder("chem-bad")
    (tmp_path / "noise.sdf").write_bytes(os.urandom(20000))
    (tmp_path / "empty.sdf").write_bytes(b"")
    for name in ("noise.sdf", "empty.sdf"):
        meta = wait_file(srv, upload(srv, f["id"], str(tmp_path / name))["id"])
        assert meta["status"] == "failed" and meta["error"], meta
    assert srv.api("GET", "/me").status_code == 200


def test_convert_sdf_round_trips(srv):
    f = srv.folder("chem-convert")
    meta = wait_file(srv, upload(srv, f["id"], CDK2)["id"])
    want = obabel(CDK2, "inchikey")
    for to in ("inchikey", "smi", "sdf"):
        r = srv.api("POST", "/jobs", json={"type": "convert", "inputs": [meta["id"]], "params": {"to": to}})
        assert r.status_code == 202, r.text
        jid = r.json()["id"]
        deadline = time.time() + 120
        while (job := srv.api("GET", f"/jobs/{jid}").json())["state"] not in ("succeeded", "failed"):
            assert time.time() < deadline
            time.sleep(0.1)
        assert job["state"] == "succeeded", job
        out = wait_file(srv, job["outputs"][0])
        assert out["name"] == f"cdk2.{to}"
        if to == "inchikey":
            got = srv.api("GET", f"/files/{out['id']}/content").text.split()
            assert got == want
        else:
            # the converted file reads back to the same molecules
            assert [r["inchikey"] for r in all_records(srv, out["id"])] == want
    r = srv.api("POST", "/jobs", json={"type": "convert", "inputs": [meta["id"]], "params": {"to": "docx"}})
    jid = r.json()["id"]
    deadline = time.time() + 60
    while (job := srv.api("GET", f"/jobs/{jid}").json())["state"] not in ("succeeded", "failed"):
        assert time.time() < deadline
        time.sleep(0.1)
    assert job["state"] == "failed" and "possible: smi, can, inchi, inchikey, mol, sdf" in job["error"]


def test_records_follow_access(srv):
    f = srv.folder("chem-private")
    meta = wait_file(srv, upload(srv, f["id"], ONE_MOL)["id"])
    rec = all_records(srv, meta["id"])[0]
    srv.user("chem-outsider", "outsider-pass-3")
    tok = srv.make_token("chem-outsider", "outsider-pass-3")
    problem(srv.api("GET", f"/records/{rec['id']}", token=tok), 404)
    problem(srv.api("GET", f"/files/{meta['id']}/records", token=tok), 404)
    problem(srv.api("GET", "/records/" + "0" * 24), 404)
    problem(srv.api("GET", f"/files/{meta['id']}/records?cursor=x"), 400)


def test_depictions_drawn_once_and_kept(srv, tmp_path):
    f = srv.folder("chem-depict")
    meta = wait_file(srv, upload(srv, f["id"], BZR_SMI)["id"])
    rec = all_records(srv, meta["id"])[1]
    r = srv.api("GET", f"/records/{rec['id']}/depiction")
    assert r.status_code == 200 and r.headers["Content-Type"] == "image/svg+xml", r.text[:300]
    assert r.text.lstrip().startswith("<?xml") or "<svg" in r.text[:500]
    assert "<script" not in r.text and "default-src 'none'" in r.headers["Content-Security-Policy"]
    etag = r.headers["ETag"]
    again = srv.api("GET", f"/records/{rec['id']}/depiction")
    assert again.content == r.content and again.headers["ETag"] == etag
    assert srv.api("GET", f"/records/{rec['id']}/depiction", headers={"If-None-Match": etag}).status_code == 304
    depicts = [j for j in srv.api("GET", "/jobs?helpers=true&limit=1000").json()["jobs"] if j["type"] == "depict"
               and j["params"].get("record_id") == rec["id"]]
    assert len(depicts) == 1 and depicts[0]["state"] == "succeeded"  # drawn once, then kept
    # a file's preview is its first record's depiction
    p = srv.api("GET", f"/files/{meta['id']}/preview")
    assert p.status_code == 200 and p.headers["Content-Type"] == "image/svg+xml"
    first = all_records(srv, meta["id"])[0]
    assert p.content == srv.api("GET", f"/records/{first['id']}/depiction").content
    # no preview for other kinds, nor a drawing for a record that failed
    txt = srv.put(f["id"], "note.txt", b"hello\n")
    problem(srv.api("GET", f"/files/{txt['id']}/preview"), 404)
    good = open(NCI).read().split("$$$$\n")
    (tmp_path / "m.sdf").write_text(good[0] + "$$$$\nbroken\n\n\nnot counts\nM  END\n$$$$\n")
    mixed = wait_file(srv, upload(srv, f["id"], str(tmp_path / "m.sdf"))["id"])
    bad = all_records(srv, mixed["id"])[1]
    problem(srv.api("GET", f"/records/{bad['id']}/depiction"), 404)


def search(s, token=None, **q):
    from urllib.parse import urlencode
    return s.api("GET", "/search/structure?" + urlencode(q), token=token)


def test_structure_search_against_obabel(srv):
    f = srv.folder("chem-search")
    meta = wait_file(srv, upload(srv, f["id"], NCI, "search-nci.sdf")["id"])
    recs = all_records(srv, meta["id"])
    # exact: by InChIKey, whatever SMILES spelling the query uses
    r = search(srv, smiles="CC1=CC(=O)C=CC1=O", mode="exact")
    assert r.status_code == 200, r.text
    hits = [h for h in r.json()["hits"] if h["file_id"] == meta["id"]]
    assert [h["record_id"] for h in hits] == [recs[0]["id"]]
    # substructure: the same molecules obabel -s finds in the same file
    for pattern in ("c1ccccc1Cl", "[N+](=O)[O-]", "C(=O)O"):
        want = obabel_s(NCI, pattern)
        r = search(srv, smarts=pattern, limit=1000)
        assert r.status_code == 200, r.text
        got = [h["smiles"] for h in r.json()["hits"] if h["file_id"] == meta["id"]]
        assert sorted(got) == sorted(want), pattern
        assert len(got) > 0
    # smiles= is a molecule, aromaticity perceived: Kekule and aromatic benzene find the
    # same molecules (as an editor draws it; a SMARTS of the Kekule form would find none)
    kekule = search(srv, smiles="C1=CC=CC=C1", mode="substructure", limit=1000).json()
    aromatic = search(srv, smiles="c1ccccc1", mode="substructure", limit=1000).json()
    assert kekule["query_smiles"] == "c1ccccc1"
    assert sorted(h["record_id"] for h in kekule["hits"]) == sorted(h["record_id"] for h in aromatic["hits"])
    got = [h["smiles"] for h in kekule["hits"] if h["file_id"] == meta["id"]]
    assert sorted(got) == sorted(obabel_s(NCI, "c1ccccc1")) and len(got) > 100
    # similarity: the query itself at 1.0, best first, all above the threshold
    r = search(srv, smiles=recs[5]["smiles"], mode="similarity", threshold=0.5, limit=1000)
    sims = [h for h in r.json()["hits"] if h["file_id"] == meta["id"]]
    assert sims[0]["record_id"] == recs[5]["id"] and sims[0]["similarity"] == 1.0
    assert all(0.5 <= h["similarity"] <= 1.0 for h in sims)
    assert [h["similarity"] for h in sims] == sorted((h["similarity"] for h in sims), reverse=True)
    # errors
    problem(search(srv, smiles="C1CC(", mode="exact"), 400)
    problem(search(srv, smarts="[[["), 400)
    problem(search(srv), 400)
    problem(search(srv, smiles="C", mode="fuzzy"), 400)
    problem(search(srv, smiles="C", mode="similarity", threshold="2"), 400)
    # only what the caller may see
    srv.user("search-outsider", "outsider-pass-4")
    tok = srv.make_token("search-outsider", "outsider-pass-4")
    r = search(srv, token=tok, smarts="c1ccccc1")
    assert r.status_code == 200 and r.json()["hits"] == []


def obabel_s(path, pattern):
    out = subprocess.run(["obabel", path, "-s" + pattern, "-ocan"], capture_output=True, text=True, timeout=120).stdout
    return [line.split("\t")[0].strip() for line in out.splitlines() if line.strip()]


def test_convert_endpoint_made_once_and_kept(srv):
    f = srv.folder("chem-convert-get")
    meta = wait_file(srv, upload(srv, f["id"], BZR_SMI)["id"])
    r = srv.api("GET", f"/files/{meta['id']}/convert?to=inchikey")
    assert r.status_code == 200, r.text
    assert r.text.split() == obabel(BZR_SMI, "inchikey")
    assert "bzr.inchikey" in r.headers["Content-Disposition"]
    again = srv.api("GET", f"/files/{meta['id']}/convert?to=inchikey")
    assert again.content == r.content and again.headers["ETag"] == r.headers["ETag"]
    convs = [j for j in srv.api("GET", "/jobs?limit=1000").json()["jobs"]
             if j["type"] == "convert" and j["inputs"] == [meta["id"]] and j["params"].get("to") == "inchikey"]
    assert len(convs) == 1  # made once, then kept
    sdf = srv.api("GET", f"/files/{meta['id']}/convert?to=sdf")
    assert sdf.status_code == 200 and sdf.text.count("$$$$") == len(obabel(BZR_SMI, "can"))
    body = problem(srv.api("GET", f"/files/{meta['id']}/convert?to=docx"), 400)
    assert body["field"] == "to" and "smi,can,inchi,inchikey" in body["detail"]
    problem(srv.api("GET", f"/files/{meta['id']}/convert"), 400)
    txt = srv.put(f["id"], "n.txt", b"x\n")
    assert "txt" in problem(srv.api("GET", f"/files/{txt['id']}/convert?to=pdf"), 400)["detail"]


def test_sdf_to_csv_with_chosen_properties(srv):
    import csv
    import io
    f = srv.folder("chem-csv")
    meta = wait_file(srv, upload(srv, f["id"], NCI, "csv-nci.sdf")["id"])
    r = srv.api("POST", "/jobs", json={"type": "convert", "inputs": [meta["id"]],
                                       "params": {"to": "csv", "properties": ["formula", "NUM_RINGS", "logp", "nope"]}})
    jid = r.json()["id"]
    deadline = time.time() + 120
    while (job := srv.api("GET", f"/jobs/{jid}").json())["state"] not in ("succeeded", "failed"):
        assert time.time() < deadline
        time.sleep(0.1)
    assert job["state"] == "succeeded", job
    out = srv.api("GET", f"/files/{job['outputs'][0]}/content").text
    rows = list(csv.reader(io.StringIO(out)))
    assert rows[0] == ["title", "smiles", "formula", "NUM_RINGS", "logp", "nope"]
    assert len(rows) == 201
    assert [row[1] for row in rows[1:]] == obabel(NCI, "can")
    assert rows[1][2] == "C7H6O2" and rows[1][3] == "1" and rows[1][5] == ""
    # the endpoint's default columns
    r = srv.api("GET", f"/files/{meta['id']}/convert?to=csv")
    assert r.status_code == 200 and r.headers["Content-Type"] == "text/csv"
    # a user's convert job cannot pose as the endpoint's (params.inline): its columns
    # would become everyone's `convert?to=csv`
    body = problem(srv.api("POST", "/jobs", json={"type": "convert", "inputs": [meta["id"]],
                                                  "params": {"to": "csv", "inline": True, "properties": ["formula"]}}),
                   400)
    assert "inline" in body["detail"], body
    again = srv.api("GET", f"/files/{meta['id']}/convert?to=csv").text
    assert again.splitlines()[0] == r.text.splitlines()[0]
    rows = list(csv.reader(io.StringIO(r.text)))
    assert rows[0] == ["title", "smiles", "inchikey", "formula", "molecular_weight"]
    assert [row[2] for row in rows[1:]] == obabel(NCI, "inchikey")


def test_structure_known_by_content_converts_too(srv):
    # an SDF under a name that says nothing: ingest knows it by content, and so must convert
    f = srv.folder("chem-by-content")
    meta = wait_file(srv, upload(srv, f["id"], CDK2, "cdk2-export.dat")["id"])
    assert meta["kind"] == "structure", meta
    r = srv.api("GET", f"/files/{meta['id']}/convert?to=inchikey")
    assert r.status_code == 200, r.text
    assert r.text.split() == obabel(CDK2, "inchikey")
