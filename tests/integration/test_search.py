"""Full-text and property search (GET /api/v1/search) through the real server, on real
third-party text: the licence texts Debian ships in base-files (/usr/share/common-licenses)
and the NCI molecules of rdkit-data. Expected hits are computed independently in the test
(Python reading the same files), and only what the caller may see is ever returned."""
import re
import subprocess

import pytest
from conftest import wait_file, upload, all_records


LICENSES = "/usr/share/common-licenses"
NCI = "/usr/share/RDKit/Data/NCI/first_200.props.sdf"
ONE_MOL = "/usr/share/RDKit/Projects/DbCLI/testData/bzr_q1.mol"
PW = "password-" + "x" * 8


@pytest.fixture(scope="module")
def world(server):
    s = server
    alice = s.user("alice-s", PW)
    bob = s.user("bob-s", PW)
    tokens = {"alice": s.make_token("alice-s", PW), "bob": s.make_token("bob-s", PW)}
    auth = {"Authorization": f"Bearer {tokens['alice']}"}
    docs = s.api("POST", "/folders", json={"name": "licences"}, token=tokens["alice"]).json()
    other = s.api("POST", "/folders", json={"name": "more"}, token=tokens["alice"]).json()
    files = {}
    for name in ("GPL-3", "Apache-2.0", "MPL-2.0", "BSD"):
        with open(f"{LICENSES}/{name}", "rb") as fh:
            files[name] = s.put(docs["id"], name + ".txt", fh.read(), headers=auth)
    with open(f"{LICENSES}/GPL-2", "rb") as fh:
        files["GPL-2"] = s.put(other["id"], "GPL-2.txt", fh.read(), headers=auth)
    for f in files.values():
        meta = wait_file(s, f["id"])
        assert meta["status"] == "processed", meta
    return {"s": s, "tokens": tokens, "docs": docs, "other": other, "files": files, "alice": alice, "bob": bob}


def search(w, who="alice", **params):
    token = w["tokens"][who] if who else ""
    return w["s"].api("GET", "/search", token=token, params=params)


def ids(r):
    assert r.status_code == 200, r.text
    return [h["file_id"] for h in r.json()["hits"]]


def words(name):
    return set(re.findall(r"\w+", open(f"{LICENSES}/{name}", encoding="utf-8", errors="replace").read().lower()))


def test_words_found_in_extracted_text(world):
    w, f = world, world["files"]
    for word in ("warranty", "patent", "sublicense", "copyleft", "indemnity"):
        expected = {f[n]["id"] for n in f if word in words(n)}
        got = ids(search(w, q=word))
        assert set(got) == expected, word
        assert len(got) == len(set(got))  # one hit per file, whatever the chunks
    # every word must occur
    both = {f[n]["id"] for n in f if {"patent", "contributor"} <= words(n)}
    assert set(ids(search(w, q="patent contributor"))) == both
    # prefix
    pre = {f[n]["id"] for n in f if any(x.startswith("sublicens") for x in words(n))}
    assert set(ids(search(w, q="sublicens*"))) == pre and pre


def test_snippets_scores_names_and_filters(world):
    w, f = world, world["files"]
    r = search(w, q="Apache").json()
    top = r["hits"][0]
    assert top["file_id"] == f["Apache-2.0"]["id"] and top["kind"] == "text"
    assert "«Apache»" in top["snippet"] or "«apache»" in top["snippet"].lower()
    assert all(a["score"] >= b["score"] for a, b in zip(r["hits"], r["hits"][1:]))
    # the name is searched too, and weighs more than the text
    assert ids(search(w, q="BSD"))[0] == f["BSD"]["id"]
    # folder (and below) and kind filters
    assert set(ids(search(w, q="warranty", folder_id=w["other"]["id"]))) == {f["GPL-2"]["id"]}
    assert ids(search(w, q="warranty", kind="pdf")) == []
    # pages
    first = search(w, q="warranty", limit=2).json()
    assert len(first["hits"]) == 2 and first["next_cursor"]
    rest = search(w, q="warranty", limit=100, cursor=first["next_cursor"]).json()
    assert not {h["file_id"] for h in first["hits"]} & {h["file_id"] for h in rest["hits"]}
    assert len(first["hits"]) + len(rest["hits"]) == len(ids(search(w, q="warranty")))


def test_only_what_the_caller_may_see(world):
    w, f = world, world["files"]
    assert ids(search(w, who="bob", q="warranty")) == []
    assert ids(search(w, who=None, q="warranty")) == []
    r = w["s"].api("PUT", f"/files/{f['MPL-2.0']['id']}/visibility", json={"visibility": "public"},
                   token=w["tokens"]["alice"])
    assert r.status_code == 200, r.text
    assert ids(search(w, who=None, q="warranty")) == [f["MPL-2.0"]["id"]]
    assert ids(search(w, who="bob", q="warranty")) == [f["MPL-2.0"]["id"]]
    # a folder the caller may not see is a 404, as everywhere
    r = search(w, who="bob", q="warranty", folder_id=w["docs"]["id"])
    assert r.status_code == 404 and r.headers["Content-Type"].startswith("application/problem+json")


def test_rename_metadata_and_delete_are_searchable_at_once(world):
    w, s, tok = world, world["s"], world["tokens"]["alice"]
    fid = w["files"]["BSD"]["id"]
    old_name = w["files"]["BSD"]["name"]
    assert s.api("PATCH", f"/files/{fid}", json={"name": "zebrafish-notes.txt"}, token=tok).status_code == 200
    assert ids(search(w, q="zebrafish")) == [fid]
    # a word of the name and one of an extracted property (encoding UTF-8) match together
    assert ids(search(w, q="zebrafish utf")) == [fid]
    assert fid not in ids(search(w, q=old_name.split(".")[0] + " utf"))
    meta = {"temperature": {"value": 298.15, "unit": "K"}, "sample": "A-17", "operator": "Quagmire"}
    assert s.api("PATCH", f"/files/{fid}", json={"metadata": meta}, token=tok).status_code == 200
    assert ids(search(w, q="quagmire")) == [fid]
    assert ids(search(w, q="zebrafish quagmire")) == [fid]  # the name and a value users gave
    assert ids(search(w, where="temperature:gt:290")) == [fid]
    assert ids(search(w, where="temperature:lt:290")) == []
    assert ids(search(w, where="sample:eq:A-17")) == [fid]
    assert ids(search(w, q="redistribution", where="temperature:ge:298.15")) == [fid]
    gone = w["files"]["GPL-2"]["id"]
    assert s.api("DELETE", f"/files/{gone}", token=tok).status_code == 204
    assert gone not in ids(search(w, q="warranty"))


def test_records_by_words_and_typed_properties(server):
    s = server
    f = s.folder("nci-search")
    meta = wait_file(s, upload(s, f["id"], NCI)["id"])
    assert meta["status"] == "processed"
    recs = all_records(s, meta["id"])
    # numbers compare as numbers: the records lighter than 150 g/mol, by the records API
    light = {r["id"] for r in recs if any(p["name"] == "molecular_weight" and p["value"] < 150 for p in r["properties"])}
    r = s.api("GET", "/search", params={"where": "molecular_weight:lt:150", "limit": 1000})
    got = {h["record_id"] for h in r.json()["hits"] if h["file_id"] == meta["id"]}
    assert got == light and light
    # a record's text values are words: its InChIKey finds it (and its duplicates only)
    rec = recs[5]
    same = {r["id"] for r in recs if r.get("inchikey") == rec["inchikey"]}
    hits = s.api("GET", "/search", params={"q": rec["inchikey"]}).json()["hits"]
    assert {h.get("record_id") for h in hits} == same
    # two conditions, one of them on text
    formula = next(p["value"] for p in rec["properties"] if p["name"] == "formula")
    both = {r["id"] for r in recs if any(p["name"] == "formula" and p["value"] == formula for p in r["properties"])}
    r = s.api("GET", "/search", params=[("where", f"formula:eq:{formula}"), ("where", "molecular_weight:gt:0")])
    assert {h["record_id"] for h in r.json()["hits"]} == both


def sd_fields(path):
    """Each molecule's SD data fields (name -> text), read from the file itself."""
    out = []
    for block in open(path, encoding="latin-1").read().split("$$$$\n"):
        if block.strip():
            out.append(dict(re.findall(r"^>\s*<([^>]+)>[^\n]*\n([^\n]*)", block, re.M)))
    return out


def obabel_values(path, what):
    """One value a molecule from `obabel FILE -otxt --append WHAT`."""
    out = subprocess.run(["obabel", path, "-otxt", "--append", what], capture_output=True, text=True, timeout=120)
    return [line.split()[-1] for line in out.stdout.splitlines() if line.strip()]


def test_property_hits_show_the_values_they_matched(server):
    s = server
    f = s.folder("nci-matched")
    meta = wait_file(s, upload(s, f["id"], NCI, "matched.sdf")["id"])
    position = {r["id"]: i for i, r in enumerate(all_records(s, meta["id"]))}
    fields = sd_fields(NCI)
    assert len(fields) == len(position) == 200

    def hits(*where, **extra):
        r = s.api("GET", "/search", params=[("folder_id", f["id"]), ("limit", 1000), *(("where", w) for w in where),
                                            *extra.items()])
        assert r.status_code == 200, r.text
        return r.json()["hits"]

    # an SD field: each hit shows the value it matched, as the file writes it
    light = hits("AMW:lt:150")
    assert {position[h["record_id"]] for h in light} == {i for i, m in enumerate(fields) if float(m["AMW"]) < 150}
    for h in light:
        assert [(m["name"], m["value"]) for m in h["matched"]] == [("AMW", float(fields[position[h["record_id"]]]["AMW"]))]
    # two conditions: both values; a property two conditions name is shown once
    for h in hits("AMW:gt:300", "NUM_HDONORS:eq:0"):
        sd = fields[position[h["record_id"]]]
        assert [(m["name"], m["value"]) for m in h["matched"]] == [("AMW", float(sd["AMW"])), ("NUM_HDONORS", 0)]
    both = hits("AMW:gt:140", "AMW:lt:150")
    assert both and all([m["name"] for m in h["matched"]] == ["AMW"] for h in both)
    # a computed property, with its unit: obabel's molecular weight
    mw = [float(v) for v in obabel_values(NCI, "MW")]
    heavy = hits("molecular_weight:gt:500")
    assert {position[h["record_id"]] for h in heavy} == {i for i, v in enumerate(mw) if v > 500}
    for h in heavy:
        (m,) = h["matched"]
        assert m["name"] == "molecular_weight" and m["unit"] == "g/mol"
        assert abs(m["value"] - mw[position[h["record_id"]]]) < 0.01
    # words alone match no property: no "matched"
    assert all("matched" not in h for h in s.api("GET", "/search", params={"q": meta["name"]}).json()["hits"])


def test_a_single_molecule_file_is_one_hit_unless_asked(server):
    s = server
    f = s.folder("one-molecule")
    meta = wait_file(s, upload(s, f["id"], ONE_MOL)["id"])
    assert meta["status"] == "processed" and meta["record_count"] == 1
    (rec,) = all_records(s, meta["id"])
    (mw,) = [float(v) for v in obabel_values(ONE_MOL, "MW")]
    (key,) = obabel_values(ONE_MOL, "inchikey")
    title = open(ONE_MOL).readline().strip()  # the molfile's own title line

    def hits(**params):
        r = s.api("GET", "/search", params={"folder_id": f["id"], **params})
        assert r.status_code == 200, r.text
        return r.json()["hits"]

    for params in ({"where": "molecular_weight:gt:300"}, {"q": key}, {"q": title}):
        one = hits(**params)
        assert [(h["file_id"], h.get("record_id")) for h in one] == [(meta["id"], None)], params
        both = hits(**params, records="all")
        assert (meta["id"], rec["id"]) in {(h["file_id"], h.get("record_id")) for h in both}, params
        assert hits(**params, records="merged") == one
    (h,) = hits(where="molecular_weight:gt:300")
    assert [m["name"] for m in h["matched"]] == ["molecular_weight"] and abs(h["matched"][0]["value"] - mw) < 0.01
    assert len(hits(where="molecular_weight:gt:300", records="all")) == 2


@pytest.mark.parametrize("params,field", [
    ({}, "q"),
    ({"q": "   "}, "q"),
    ({"where": "temperature>5"}, "where"),
    ({"where": "temperature:approx:5"}, "where"),
    ({"q": "x", "kind": "spreadsheet"}, "kind"),
    ({"q": "x", "folder_id": "../etc"}, "folder_id"),
    ({"q": "x", "cursor": "-4"}, "cursor"),
    ({"q": "x", "records": "some"}, "records"),
])
def test_bad_requests_are_problems(server, params, field):
    r = server.api("GET", "/search", params=params)
    assert r.status_code == 400 and r.json()["field"] == field, r.text


def test_query_syntax_is_never_an_error(world):
    for q in ('AND OR NOT (', '"unbalanced', 'NEAR(a b', 'col:warranty', '*', 'a*b*', "l'icence"):
        r = search(world, q=q)
        assert r.status_code in (200, 400), (q, r.text)
        if r.status_code == 400:
            assert r.json()["field"] == "q"
    assert search(world, q="(warranty)").status_code == 200
