"""Structure search pages (GET /api/v1/search/structure: next_cursor, total, file_id and
folder_id) through the real server, on real third-party molecules (rdkit-data's NCI
first_200.props.sdf and cdk2.sdf). Every expected hit comes from the obabel command line
on the same files: substructure and SMARTS from `obabel FILE -s PATTERN`, similarity from
`obabel QUERY.smi FILE -ofpt` (Tanimoto of FP2 fingerprints), exact from
`obabel FILE -oinchikey`. Pages put together must be the unpaged list and obabel's hits,
and nothing of a file the caller may not see is ever found or counted."""
import subprocess

import pytest
from conftest import problem, wait_file, upload, all_records


NCI = "/usr/share/RDKit/Data/NCI/first_200.props.sdf"
CDK2 = "/usr/share/RDKit/Contrib/Fastcluster/testdata/cdk2.sdf"
PW = "password-" + "p" * 8


def obabel_lines(args):
    out = subprocess.run(["obabel", *args], capture_output=True, text=True, timeout=120).stdout
    return [line.split("\t") for line in out.splitlines() if line.strip()]


def obabel_s(path, pattern):
    """The canonical SMILES of the molecules of path obabel -s finds, in file order."""
    return [cols[0].strip() for cols in obabel_lines([path, "-s" + pattern, "-ocan"])]


def obabel_tanimoto(path, smiles, tmp_path):
    """[(canonical SMILES, Tanimoto of FP2 fingerprints to smiles)] for the molecules of path, in
    file order, from `obabel QUERY.smi FILE -ofpt` (the first molecule against every other)."""
    query = tmp_path / "query.smi"
    query.write_text(smiles + "\n")
    values = [float(cols[0].split("=")[1]) for cols in obabel_lines([str(query), path, "-ofpt"])
              if "Tanimoto from first mol" in cols[0]]
    can = [cols[0].strip() for cols in obabel_lines([path, "-ocan"])]
    assert len(values) == len(can)
    return list(zip(can, values))


@pytest.fixture(scope="module")
def world(server):
    s = server
    s.user("alice-p", PW)
    s.user("bob-p", PW)
    tok = {"alice": s.make_token("alice-p", PW), "bob": s.make_token("bob-p", PW)}

    def folder(who, name, parent=None):
        body = {"name": name, **({"parent_id": parent} if parent else {})}
        r = s.api("POST", "/folders", json=body, token=tok[who])
        assert r.status_code == 201, r.text
        return r.json()

    def put(who, folder_id, path, name):
        with open(path, "rb") as fh:
            r = s.api("PUT", f"/folders/{folder_id}/files/{name}", data=fh.read(), token=tok[who])
        assert r.status_code == 201, r.text
        return r.json()["id"]

    top = folder("alice", "chem")
    sub = folder("alice", "kinases", top["id"])
    other = folder("alice", "elsewhere")
    private = folder("bob", "bobs")
    files = {
        "nci": put("alice", top["id"], NCI, "nci.sdf"),
        "cdk2": put("alice", sub["id"], CDK2, "cdk2.sdf"),
        "nci2": put("alice", other["id"], NCI, "nci-copy.sdf"),
        "bob": put("bob", private["id"], NCI, "bob-nci.sdf"),
    }
    for fid in files.values():
        meta = wait_file(s, fid)
        assert meta["status"] == "processed" and meta["kind"] == "structure", meta
    return {"s": s, "tok": tok, "files": files, "top": top, "sub": sub, "other": other, "private": private}


def search(w, who="alice", **params):
    return w["s"].api("GET", "/search/structure", token=w["tok"][who], params=params)


def all_pages(w, who="alice", **params):
    """Every page of a search, following next_cursor: (pages, hits put together)."""
    pages, cursor = [], None
    while True:
        r = search(w, who, **params, **({"cursor": cursor} if cursor else {}))
        assert r.status_code == 200, r.text
        pages.append(r.json())
        cursor = pages[-1]["next_cursor"]
        if not cursor:
            return pages, [h for p in pages for h in p["hits"]]
        assert len(pages) < 500


def by_file(hits):
    out = {}
    for h in hits:
        out.setdefault(h["file_id"], []).append(h["smiles"])
    return out


@pytest.mark.parametrize("query", [{"smarts": "c1ccccc1"}, {"smarts": "[N+](=O)[O-]"},
                                   {"smiles": "C1=CC=CC=C1", "mode": "substructure"}])
def test_substructure_pages_are_obabels_hits(world, query):
    w, f = world, world["files"]
    pattern = query.get("smarts", "c1ccccc1")
    want = {f["nci"]: obabel_s(NCI, pattern), f["nci2"]: obabel_s(NCI, pattern), f["cdk2"]: obabel_s(CDK2, pattern)}
    want = {k: v for k, v in want.items() if v}
    expected_total = sum(len(v) for v in want.values())
    assert expected_total > 7
    whole = search(w, **query, limit=1000).json()
    assert whole["next_cursor"] is None and whole["total"] == expected_total and whole["total_exact"] is True
    pages, hits = all_pages(w, **query, limit=7)
    assert len(pages) == -(-expected_total // 7)
    assert all(len(p["hits"]) == 7 for p in pages[:-1]) and 1 <= len(pages[-1]["hits"]) <= 7
    assert all(p["total"] == expected_total and p["total_exact"] is True for p in pages)
    # neither skipped nor repeated: the pages are the unpaged list, which is obabel's hits
    # file by file in file order; bob's private copy is neither found nor counted
    assert [h["record_id"] for h in hits] == [h["record_id"] for h in whole["hits"]]
    assert len({h["record_id"] for h in hits}) == len(hits)
    assert by_file(hits) == want


def test_file_and_folder_filters(world):
    w, f = world, world["files"]
    # a folder and its subfolders: the NCI file and cdk2 in the folder below it, not the copy
    pages, hits = all_pages(w, smarts="c1ccccc1", folder_id=w["top"]["id"], limit=9)
    assert by_file(hits) == {f["nci"]: obabel_s(NCI, "c1ccccc1"), f["cdk2"]: obabel_s(CDK2, "c1ccccc1")}
    assert pages[0]["total"] == len(hits)
    # the subfolder alone
    _, hits = all_pages(w, smarts="c1ccccc1", folder_id=w["sub"]["id"], limit=9)
    assert by_file(hits) == {f["cdk2"]: obabel_s(CDK2, "c1ccccc1")}
    # one file
    pages, hits = all_pages(w, smarts="C(=O)O", file_id=f["nci2"], limit=5)
    assert by_file(hits) == {f["nci2"]: obabel_s(NCI, "C(=O)O")} and pages[-1]["total"] == len(hits)
    # both: the file must lie in the folder
    r = search(w, smarts="C(=O)O", file_id=f["nci2"], folder_id=w["top"]["id"]).json()
    assert r["hits"] == [] and r["total"] == 0
    # bob sees his own file only, and counts only it
    pages, hits = all_pages(w, who="bob", smarts="c1ccccc1", limit=50)
    assert by_file(hits) == {f["bob"]: obabel_s(NCI, "c1ccccc1")} and pages[0]["total"] == len(hits)


def test_what_the_caller_may_not_see_is_a_404_like_a_missing_one(world):
    w, f = world, world["files"]
    missing_file, missing_folder = "0" * 24, "f" * 24
    for name, theirs, missing in (("file_id", f["bob"], missing_file), ("folder_id", w["private"]["id"],
                                                                         missing_folder)):
        a = problem(search(w, smarts="c1ccccc1", **{name: theirs}), 404)
        b = problem(search(w, smarts="c1ccccc1", **{name: missing}), 404)
        assert a["detail"].replace(theirs, "ID") == b["detail"].replace(missing, "ID")
        assert {k: v for k, v in a.items() if k != "detail"} == {k: v for k, v in b.items() if k != "detail"}
        # the owner may
        assert search(w, who="bob", smarts="c1ccccc1", **{name: theirs}).status_code == 200
    problem(search(w, smarts="c1ccccc1", file_id="../../etc"), 400)
    problem(search(w, smarts="c1ccccc1", folder_id="x" * 24), 400)


def test_similarity_pages_are_obabels_tanimoto(world, tmp_path):
    w, f = world, world["files"]
    recs = all_records(w["s"], f["nci"])
    query, threshold = recs[5]["smiles"], 0.2
    want = [(smi, t) for smi, t in obabel_tanimoto(NCI, query, tmp_path) if t >= threshold]
    assert len(want) > 5
    pages, hits = all_pages(w, smiles=query, mode="similarity", threshold=threshold, file_id=f["nci"], limit=3)
    assert len(hits) == len(want) == pages[0]["total"] and len(pages) == -(-len(want) // 3)
    assert sorted(h["smiles"] for h in hits) == sorted(smi for smi, _ in want)
    tanimoto = dict(want)
    assert all(abs(h["similarity"] - tanimoto[h["smiles"]]) < 1e-4 for h in hits)
    assert [h["similarity"] for h in hits] == sorted((h["similarity"] for h in hits), reverse=True)
    whole = search(w, smiles=query, mode="similarity", threshold=threshold, file_id=f["nci"], limit=1000).json()
    assert [h["record_id"] for h in whole["hits"]] == [h["record_id"] for h in hits]
    # over every file alice may see: the NCI hits twice plus cdk2's, never bob's copy
    _, everywhere = all_pages(w, smiles=query, mode="similarity", threshold=threshold, limit=4)
    counts = by_file(everywhere)
    assert f["bob"] not in counts and sorted(counts[f["nci"]]) == sorted(counts[f["nci2"]]) == sorted(tanimoto)
    cdk2 = [smi for smi, t in obabel_tanimoto(CDK2, query, tmp_path) if t >= threshold]
    assert sorted(counts.get(f["cdk2"], [])) == sorted(cdk2)


def test_exact_pages(world):
    w, f = world, world["files"]
    keys = [cols[0].strip() for cols in obabel_lines([NCI, "-oinchikey"])]
    recs = all_records(w["s"], f["nci"])
    assert [r["inchikey"] for r in recs] == keys
    same = keys.count(keys[0])
    pages, hits = all_pages(w, smiles=recs[0]["smiles"], mode="exact", limit=1)
    # the copy in alice's other folder and the original; bob's is not counted
    assert len(hits) == 2 * same and all(p["total"] == 2 * same for p in pages)
    assert {h["file_id"] for h in hits} == {f["nci"], f["nci2"]}
    _, bobs = all_pages(w, who="bob", smiles=recs[0]["smiles"], mode="exact", limit=1)
    assert [h["file_id"] for h in bobs] == [f["bob"]] * same


def test_bad_cursors_are_problems(world):
    w = world
    first = search(w, smarts="c1ccccc1", limit=2).json()
    assert first["next_cursor"]
    # a cursor of another mode, a made-up one, a malformed one
    body = problem(search(w, smiles="c1ccccc1", mode="similarity", cursor=first["next_cursor"]), 400)
    assert body["field"] == "cursor"
    for bad in ("42", "bm90LWEtY3Vyc29y", "%%%"):
        assert problem(search(w, smarts="c1ccccc1", cursor=bad), 400)["field"] == "cursor"
    assert problem(search(w, smarts="c1ccccc1", limit=0), 400)["field"] == "limit"


def test_over_the_match_budget_pages_stay_exact_and_total_is_an_estimate(fresh):
    """With CARBOY_STRUCTURE_MATCH_MAX below the screened candidates, each page matches that
    many after its cursor: the pages are still exactly obabel's hits, and total says it is
    an estimate."""
    s = fresh(env={"CARBOY_STRUCTURE_MATCH_MAX": "40"})
    f = s.folder("budget")
    meta = wait_file(s, upload(s, f["id"], NCI)["id"])
    want = obabel_s(NCI, "c1ccccc1")
    assert len(want) > 100
    pages, hits = [], []
    cursor = None
    while True:
        r = s.api("GET", "/search/structure", params={"smarts": "c1ccccc1", "limit": 25,
                                                      **({"cursor": cursor} if cursor else {})})
        assert r.status_code == 200, r.text
        pages.append(r.json())
        hits += pages[-1]["hits"]
        cursor = pages[-1]["next_cursor"]
        if not cursor:
            break
    assert [h["smiles"] for h in hits] == want and {h["file_id"] for h in hits} == {meta["id"]}
    assert len({h["record_id"] for h in hits}) == len(hits)
    assert all(p["total_exact"] is False and 0 < p["total"] <= 200 for p in pages)
