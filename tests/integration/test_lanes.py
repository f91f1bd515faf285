"""Lanes of the job queue: interactive work (what a request waits for, a small upload's
processing) has workers batch work never takes; within a lane owners take turns; identical
pending interactive jobs coalesce; helper jobs stay out of users' job lists. Orders of
events are compared (started_at, states), never durations."""
import threading

import pytest

from conftest import make_server, finish, problem, wait_file, wait_job, all_records

SMILES = b"c1ccccc1O phenol\n"
PASSWORD = "password-" + "x" * 8


def as_user(s, name):
    s.user(name)
    tok = s.make_token(name, PASSWORD)
    r = s.api("POST", "/folders", json={"name": name + "-files"}, token=tok)
    assert r.status_code == 201, r.text
    return tok, r.json()["id"]


def put(s, folder, name, data, tok):
    r = s.api("PUT", f"/folders/{folder}/files/{name}", data=data, token=tok)
    assert r.status_code == 201, r.text
    return r.json()


def jobs(s, tok=None, query=""):
    r = s.api("GET", "/jobs?limit=1000" + query, token=tok)
    assert r.status_code == 200, r.text
    return r.json()["jobs"]


def ingest_job(s, file_id):
    return next(j for j in jobs(s) if j["type"] == "ingest" and j["inputs"] == [file_id])


def wait_running(s, job_id, tok=None):
    for _ in range(600):
        j = s.api("GET", f"/jobs/{job_id}", token=tok).json()
        if j["state"] != "queued":
            return j
        threading.Event().wait(0.05)
    raise AssertionError(f"job {job_id} never started")


@pytest.fixture(scope="module")
def one_each(tmp_path_factory):
    """One batch worker and one interactive worker; uploads over 1 KiB are batch work."""
    s = make_server(tmp_path_factory, env={"CARBOY_WORKERS": "1", "CARBOY_INTERACTIVE_WORKERS": "1",
                                           "CARBOY_INTERACTIVE_INGEST_MAX": "1K"})
    yield s
    finish(s)


def test_owners_take_turns(one_each):
    s = one_each
    a, _ = as_user(s, "fair-a")
    b, _ = as_user(s, "fair-b")
    mine = []
    for _ in range(10):
        r = s.api("POST", "/jobs", json={"type": "noop", "params": {"ms": 500}}, token=a)
        assert r.status_code == 202, r.text
        assert r.json()["lane"] == "batch"
        mine.append(r.json()["id"])
    r = s.api("POST", "/jobs", json={"type": "noop", "params": {"ms": 500}}, token=b)
    assert r.status_code == 202, r.text
    theirs = wait_job(s, r.json()["id"])
    done = [wait_job(s, j) for j in mine]
    assert theirs["state"] == "succeeded" and all(j["state"] == "succeeded" for j in done)
    # one batch worker: B's one job runs as soon as A has had a turn, not after A's ten
    later = [j for j in done if j["started_at"] > theirs["started_at"]]
    assert len(later) >= 8, (theirs["started_at"], [j["started_at"] for j in done])


def test_interactive_work_never_waits_behind_batch(one_each):
    s = one_each
    tok, folder = as_user(s, "busy")
    long = s.api("POST", "/jobs", json={"type": "noop", "params": {"ms": 600000}}, token=tok).json()
    assert wait_running(s, long["id"], tok)["state"] == "running"
    # a large file's processing is batch work: it waits for the busy batch worker
    big = put(s, folder, "big.smi", SMILES * 200, tok)
    # a one-line file's is interactive: processed beside it, and its depiction drawn
    small = put(s, folder, "one.smi", SMILES, tok)
    meta = wait_file(s, small["id"])
    assert meta["status"] == "processed", meta
    rec = all_records(s, meta["id"])[0]
    r = s.api("GET", f"/records/{rec['id']}/depiction", token=tok)
    assert r.status_code == 200 and "<svg" in r.text[:2000], r.text[:300]
    assert ingest_job(s, small["id"])["lane"] == "interactive"
    queued = ingest_job(s, big["id"])
    assert queued["lane"] == "batch" and queued["state"] == "queued"
    assert s.api("GET", f"/jobs/{long['id']}").json()["state"] == "running"
    assert s.api("POST", f"/jobs/{long['id']}/cancel", token=tok).status_code == 200
    assert wait_job(s, long["id"])["state"] == "canceled"
    assert wait_file(s, big["id"])["status"] == "processed"


def test_concurrent_depictions_share_one_job(one_each):
    s = one_each
    tok, folder = as_user(s, "coalesce")
    meta = wait_file(s, put(s, folder, "c.smi", b"CC(=O)Oc1ccccc1C(=O)O aspirin\n", tok)["id"])
    rec = all_records(s, meta["id"])[0]
    answers = []

    def get():
        answers.append(s.api("GET", f"/records/{rec['id']}/depiction", token=tok))

    threads = [threading.Thread(target=get) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [r.status_code for r in answers] == [200] * 6
    assert len({r.content for r in answers}) == 1
    drawn = [j for j in jobs(s, query="&helpers=true")
             if j["type"] == "depict" and j["params"] == {"record_id": rec["id"]}]
    assert len(drawn) == 1 and drawn[0]["lane"] == "interactive" and drawn[0]["state"] == "succeeded", drawn


def test_concurrent_conversions_share_one_job(one_each):
    s = one_each
    tok, folder = as_user(s, "coalesce-convert")
    meta = wait_file(s, put(s, folder, "v.smi", SMILES * 3, tok)["id"])
    answers = []

    def get():
        answers.append(s.api("GET", f"/files/{meta['id']}/convert?to=inchi", token=tok))

    threads = [threading.Thread(target=get) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert [r.status_code for r in answers] == [200] * 4
    convs = [j for j in jobs(s, tok) if j["type"] == "convert" and j["inputs"] == [meta["id"]]]
    assert len(convs) == 1 and convs[0]["lane"] == "interactive", convs


def test_helper_jobs_hidden_unless_an_admin_asks(one_each):
    s = one_each
    tok, folder = as_user(s, "helpers")
    meta = wait_file(s, put(s, folder, "h.smi", b"CCO ethanol\n", tok)["id"])
    rec = all_records(s, meta["id"])[0]
    assert s.api("GET", f"/records/{rec['id']}/depiction", token=tok).status_code == 200
    mine = jobs(s, tok)
    assert [j["type"] for j in mine] == ["ingest"]  # the depiction's job is not theirs to see listed
    assert all(j["lane"] in ("interactive", "batch") for j in mine)
    body = problem(s.api("GET", "/jobs?helpers=true", token=tok), 403)
    assert body["field"] == "helpers"
    assert problem(s.api("GET", "/jobs?helpers=yes"), 400)["field"] == "helpers"
    assert not [j for j in jobs(s) if j["type"] == "depict"]
    assert not [j for j in jobs(s, query="&helpers=false") if j["type"] == "depict"]
    drawn = [j for j in jobs(s, query="&helpers=true")
             if j["type"] == "depict" and j["params"] == {"record_id": rec["id"]}]
    assert len(drawn) == 1 and drawn[0]["owner_id"] == s.api("GET", "/me", token=tok).json()["id"]
    # one helper job stays readable by id, to its owner too
    one = s.api("GET", f"/jobs/{drawn[0]['id']}", token=tok)
    assert one.status_code == 200 and one.json()["type"] == "depict" and one.json()["lane"] == "interactive"
