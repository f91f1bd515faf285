"""Structure search without the job queue (issue 19): the fingerprints live in the server's
memory, kept current across ingest, new versions, deletes and restarts; queries are read
and SMARTS matched by resident matcher processes, which may die mid-query without the
server or the next query noticing more than a clean error; searches leave no job rows.
Expected hits come from the molecules' own SMILES (exact and substructure) and from the
obabel command line (similarity: `obabel -ofpt`, FP2 Tanimoto)."""
import os
import signal
import subprocess
import threading
import time

import pytest
from conftest import problem, wait_file, worker_children

PW = "password-" + "i" * 8
NCI = "/usr/share/RDKit/Data/NCI/first_200.props.sdf"

ASPIRIN = "CC(=O)Oc1ccccc1C(=O)O"
CAFFEINE = "Cn1cnc2c1c(=O)n(C)c(=O)n2C"
ETHANOL = "CCO"


def search(s, token=None, **params):
    r = s.api("GET", "/search/structure", token=token, params=params)
    assert r.status_code == 200, r.text
    return r.json()


def smiles_file(*mols):
    return "".join(f"{m} mol{i}\n" for i, m in enumerate(mols)).encode()


def record_ids(answer):
    return sorted(h["record_id"] for h in answer["hits"])


@pytest.fixture(scope="module")
def box(server):
    s = server
    ids = {"ida": s.user("ida-i", PW)["id"], "ole": s.user("ole-i", PW)["id"]}
    tok = {"ida": s.make_token("ida-i", PW), "ole": s.make_token("ole-i", PW)}
    folders = {}
    for who in tok:
        r = s.api("POST", "/folders", json={"name": f"{who}-mols"}, token=tok[who])
        assert r.status_code == 201, r.text
        folders[who] = r.json()["id"]
    return {"s": s, "tok": tok, "folders": folders, "ids": ids}


def put(box, who, name, data):
    r = box["s"].api("PUT", f"/folders/{box['folders'][who]}/files/{name}", data=data, token=box["tok"][who])
    assert r.status_code == 201, r.text
    return r.json()


def test_ingest_new_version_and_delete_keep_the_index_current(box):
    s, tok = box["s"], box["tok"]["ida"]
    f = put(box, "ida", "current.smi", smiles_file(ASPIRIN, ETHANOL))
    meta = wait_file(s, f["id"])
    assert meta["status"] == "processed", meta
    # found at once after processing: the query applies what the log says first
    hits = search(s, tok, smiles=ASPIRIN, file_id=f["id"])
    assert hits["total"] == 1 and hits["hits"][0]["title"] == "mol0", hits
    # a new version: the old version's records are gone from search at once, and its own
    # records come when it is processed
    v2 = put(box, "ida", "current.smi", smiles_file(CAFFEINE))
    assert v2["id"] == f["id"] and v2["version"] == 2, v2
    assert search(s, tok, smiles=ASPIRIN, file_id=f["id"])["total"] == 0
    meta = wait_file(s, f["id"])
    assert meta["status"] == "processed" and meta["version"] == 2, meta
    assert search(s, tok, smiles=ASPIRIN, file_id=f["id"])["total"] == 0
    hits = search(s, tok, smiles=CAFFEINE, file_id=f["id"])
    assert hits["total"] == 1 and hits["hits"][0]["title"] == "mol0", hits
    sub = search(s, tok, smarts="c1ncnc1", mode="substructure", file_id=f["id"])
    assert sub["total"] == 1 and sub["total_exact"] is True, sub
    # deleted: nothing of it is found, by any mode
    r = s.api("DELETE", f"/files/{f['id']}", token=tok)
    assert r.status_code in (200, 204), r.text
    assert search(s, tok, smiles=CAFFEINE)["total"] == 0
    assert search(s, tok, smiles=CAFFEINE, mode="similarity", threshold="0.5")["total"] == 0
    assert search(s, tok, smarts="c1ncnc1")["total"] == 0


def test_similarity_totals_are_obabels_and_hidden_files_never_count(box, tmp_path):
    s = box["s"]
    f = put(box, "ole", "nci.sdf", open(NCI, "rb").read())
    assert wait_file(s, f["id"])["status"] == "processed"
    query = "c1ccccc1C(=O)N"
    q = tmp_path / "q.smi"
    q.write_text(query + "\n")
    out = subprocess.run(["obabel", str(q), NCI, "-ofpt"], capture_output=True, text=True, timeout=120).stdout
    values = [float(line.split("=")[1].split()[0]) for line in out.splitlines() if "Tanimoto from first mol" in line]
    assert len(values) == 200
    expected = sum(1 for v in values if v >= 0.3)
    assert expected > 0
    mine = search(s, box["tok"]["ole"], smiles=query, mode="similarity", threshold="0.3", limit="100")
    assert mine["total"] == expected and mine["total_exact"] is True, (mine["total"], expected)
    sims = [h["similarity"] for h in mine["hits"]]
    assert sims == sorted(sims, reverse=True)
    # another user: the file is private, so not one of its molecules is counted
    theirs = search(s, box["tok"]["ida"], smiles=query, mode="similarity", threshold="0.3")
    assert theirs["total"] == 0 and theirs["hits"] == [], theirs
    # shared with them: now it counts, for them too
    r = s.api("POST", f"/files/{f['id']}/grants", json={"user_id": box["ids"]["ida"], "role": "viewer"},
              token=box["tok"]["ole"])
    assert r.status_code == 201, r.text
    shared = search(s, box["tok"]["ida"], smiles=query, mode="similarity", threshold="0.3")
    assert shared["total"] == expected, shared


def test_kind_filter(box):
    s, tok = box["s"], box["tok"]["ida"]
    f = put(box, "ida", "kinds.smi", smiles_file(ASPIRIN))
    assert wait_file(s, f["id"])["status"] == "processed"
    assert search(s, tok, smiles=ASPIRIN, kind="structure")["total"] >= 1
    assert search(s, tok, smiles=ASPIRIN, kind="reaction")["total"] == 0
    problem(s.api("GET", "/search/structure", token=tok, params={"smiles": ASPIRIN, "kind": "molecules"}), 400)


def test_searches_leave_no_job_rows(box):
    s = box["s"]
    before = s.api("GET", "/jobs", params={"limit": "1000"}).json()
    for _ in range(3):
        search(s, box["tok"]["ida"], smiles=ASPIRIN)
        search(s, box["tok"]["ida"], smarts="C(=O)O")
        search(s, box["tok"]["ida"], smiles=ASPIRIN, mode="similarity")
    after = s.api("GET", "/jobs", params={"limit": "1000"}).json()
    assert len(after["jobs"]) == len(before["jobs"]), after
    assert not any(j["type"] in ("query", "match") for j in after["jobs"])
    # a query that is not a molecule is the caller's fault, answered at once
    problem(s.api("GET", "/search/structure", token=box["tok"]["ida"], params={"smiles": "C1CC(("}), 400)
    problem(s.api("GET", "/search/structure", token=box["tok"]["ida"], params={"smarts": "[C;"}), 400)


def test_a_matcher_killed_mid_query_costs_a_clean_answer(fresh):
    s = fresh(env={"CARBOY_MATCHERS": "1", "CARBOY_MATCHER_CACHE": "0"})
    folder = s.folder("many")
    # enough molecules that matching takes a while: NCI x 20
    data = open(NCI, "rb").read() * 20
    f = s.put(folder["id"], "nci20.sdf", data)
    assert wait_file(s, f["id"], timeout=300)["status"] == "processed"
    expected = search(s, smarts="[#6]", mode="substructure", limit="10")
    assert expected["total"] == 4000, expected["total"]
    answers = []

    def query():
        answers.append(s.api("GET", "/search/structure", params={"smarts": "[#6]~[#6]", "limit": "10"}))

    killed = 0
    for _ in range(5):
        t = threading.Thread(target=query)
        t.start()
        deadline = time.time() + 20
        while t.is_alive() and time.time() < deadline and not killed:
            pids = worker_children(s.proc.pid)
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                    killed += 1
                except ProcessLookupError:
                    pass
            time.sleep(0.005)
        t.join(120)
        if killed:
            break
    assert killed, "no matcher process was seen to kill"
    for r in answers:
        # it answered (a new matcher took the request over) or failed cleanly
        if r.status_code == 200:
            assert r.json()["total"] > 0
        else:
            assert r.status_code in (429, 500, 503), r.text
            assert r.headers["Content-Type"].startswith("application/problem+json")
    # the server serves on, and the next query is whole
    again = search(s, smarts="[#6]", mode="substructure", limit="10")
    assert again["total"] == 4000
    assert s.proc.poll() is None


def test_the_index_is_loaded_again_after_a_restart(fresh):
    s = fresh()
    folder = s.folder("kept")
    f = s.put(folder["id"], "kept.smi", smiles_file(ASPIRIN, CAFFEINE))
    assert wait_file(s, f["id"])["status"] == "processed"
    before = search(s, smarts="c1ccccc1")
    assert before["total"] == 1
    s.stop()
    s.start()
    after = search(s, smarts="c1ccccc1")
    assert record_ids(after) == record_ids(before)
    assert search(s, smiles=CAFFEINE)["total"] == 1


def test_a_pattern_with_a_dummy_atom_is_not_screened_away(box):
    """"*" reads as a dummy atom, whose fingerprint bits no molecule has: such a pattern is
    matched without the screen (toluene has c1ccccc1*, as obabel -s says)."""
    s, tok = box["s"], box["tok"]["ida"]
    f = put(box, "ida", "dummy.smi", smiles_file("Cc1ccccc1", "c1ccccc1", ETHANOL))
    assert wait_file(s, f["id"])["status"] == "processed"
    out = subprocess.run(["obabel", "-:Cc1ccccc1 t", "-s", "c1ccccc1*", "-osmi"], capture_output=True, text=True,
                         timeout=60).stdout
    assert "Cc1ccccc1" in out  # obabel's own answer: toluene contains it
    hits = search(s, tok, smarts="c1ccccc1*", file_id=f["id"])
    assert [h["title"] for h in hits["hits"]] == ["mol0"], hits
    assert search(s, tok, smarts="*", file_id=f["id"])["total"] == 3


def test_a_matcher_serves_one_user_at_a_time(fresh):
    s = fresh(env={"CARBOY_MATCHERS": "1"})
    pw = "password-" + "m" * 8
    toks = {}
    for who in ("uma", "vic"):
        s.user(who, pw)
        toks[who] = s.make_token(who, pw)
    before = set(worker_children(s.proc.pid))
    search(s, toks["uma"], smiles=ASPIRIN)
    first = set(worker_children(s.proc.pid)) - before
    search(s, toks["uma"], smiles=CAFFEINE)
    assert first and first <= set(worker_children(s.proc.pid)), "the same user's next search used the same process"
    search(s, toks["vic"], smiles=ASPIRIN)
    assert first.isdisjoint(worker_children(s.proc.pid)), "another user's search got a process of its own"
