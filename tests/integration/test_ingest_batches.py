"""Small files in batches: a worker that takes a small file's ingest takes the same owner's
other waiting small-file ingests with it, sends them to its converter in one round trip and
records them in one transaction; each file's job still reports its own state and error, and a
file that crashes the converter fails alone. The batches are seen through /metrics
(carboy_ingest_batches_total, carboy_ingest_batched_jobs_total) and the jobs' started_at (one
claim); what each file and job reports is compared with a server that never batches."""
import json
import re
import threading

import requests

import pytest

from conftest import make_server, finish, wait_file, wait_job, all_records

# One batch worker (every upload is batch work), so that files queue up behind a slow one.
ENV = {"CARBOY_TEST_CONVERTERS": "1", "CARBOY_WORKERS": "1", "CARBOY_INTERACTIVE_WORKERS": "1",
       "CARBOY_INTERACTIVE_INGEST_MAX": "0", "CARBOY_JOB_TIMEOUT": "20", "CARBOY_INGEST_BATCH_MAX_SIZE": "1K"}


def metric(s, name):
    r = requests.get(s.url + "/metrics", headers=s.auth, timeout=30)
    assert r.status_code == 200, r.text
    text = r.text
    m = re.search(rf"^{name} (\d+)$", text, re.M)
    assert m, f"{name} missing from /metrics"
    return int(m.group(1))


def ingest_of(s, file_id):
    r = s.api("GET", "/jobs?limit=1000")
    assert r.status_code == 200, r.text
    return next(j for j in r.json()["jobs"] if j["type"] == "ingest" and j["inputs"] == [file_id])


def texts(n, tag):
    return [(f"{tag}-{i:02}.txt", f"note {tag} number {i}: the zebrafish{i} assay\n".encode()) for i in range(n)]


def upload_behind_slow(s, folder, files, slow_ms=1500):
    """Uploads a slow file first (too big to be batched), then files while it runs: they
    queue up for one claim."""
    slow = s.put(folder, "hold.slow-test", str(slow_ms).encode() + b"\n" + b" " * 2000)
    ids = [s.put(folder, name, data)["id"] for name, data in files]
    return slow["id"], ids


def outcome(s, file_id):
    f = wait_file(s, file_id)
    j = wait_job(s, ingest_of(s, file_id)["id"])
    return f, j


@pytest.fixture(scope="module")
def batching(tmp_path_factory):
    s = make_server(tmp_path_factory, env=ENV)
    yield s
    finish(s)


@pytest.fixture(scope="module")
def single(tmp_path_factory):
    s = make_server(tmp_path_factory, env={**ENV, "CARBOY_INGEST_BATCH": "1"})
    yield s
    finish(s)


def test_small_files_go_in_one_batch(batching):
    s = batching
    folder = s.folder("batch-ok")["id"]
    b0, j0 = metric(s, "carboy_ingest_batches_total"), metric(s, "carboy_ingest_batched_jobs_total")
    files = texts(12, "ok")
    slow, ids = upload_behind_slow(s, folder, files)
    started = set()
    for fid, (name, data) in zip(ids, files):
        f, j = outcome(s, fid)
        assert f["status"] == "processed", f
        assert j["state"] == "succeeded" and j["progress"] == 1 and not j.get("error"), j
        started.add(j["started_at"])
        # each file's own text and counts, searchable by its own words
        word = data.split()[-2].decode()
        r = s.api("GET", f"/search?q={word}")
        assert [h["file_id"] for h in r.json()["hits"]] == [fid], (word, r.json())
        props = {p["name"]: p["value"] for p in f["properties"]}
        assert props["word_count"] == len(data.split()), props
    # the twelve were claimed together (the first, then the rest with it in one claim) and
    # went in one round trip
    assert len(started) <= 2, started
    assert metric(s, "carboy_ingest_batches_total") == b0 + 1
    assert metric(s, "carboy_ingest_batched_jobs_total") == j0 + 12
    assert wait_job(s, ingest_of(s, slow)["id"])["state"] == "succeeded"


def test_a_refused_file_fails_alone(batching, single):
    results = {}
    for label, s in (("batching", batching), ("single", single)):
        folder = s.folder("batch-refused")["id"]
        files = texts(5, "good") + [("bad.fail-test", b"x")] + texts(3, "more")
        _, ids = upload_behind_slow(s, folder, files)
        results[label] = [outcome(s, fid) for fid in ids]
    for (fb, jb), (fs, js) in zip(results["batching"], results["single"]):
        # what each file and its job report is what they report without batches
        assert fb["status"] == fs["status"] and jb["state"] == js["state"], (fb, fs, jb, js)
        assert fb.get("error") == fs.get("error") and jb.get("error") == js.get("error"), (jb, js)
    bad_f, bad_j = results["batching"][5]
    assert bad_f["status"] == "failed" and bad_j["state"] == "failed", (bad_f, bad_j)
    assert bad_j["error"] and bad_j["error"] == bad_f["error"], (bad_f, bad_j)
    for f, j in results["batching"][:5] + results["batching"][6:]:
        assert f["status"] == "processed" and j["state"] == "succeeded", (f, j)


def test_a_crash_fails_only_its_file(batching):
    s = batching
    folder = s.folder("batch-crash")["id"]
    b0 = metric(s, "carboy_ingest_batched_jobs_total")
    files = texts(4, "before") + [("boom.crash-test", b"x")] + texts(4, "after")
    _, ids = upload_behind_slow(s, folder, files)
    got = [outcome(s, fid) for fid in ids]
    boom_f, boom_j = got[4]
    assert boom_f["status"] == "failed" and boom_j["state"] == "failed", (boom_f, boom_j)
    assert "crash" in boom_j["error"] or "signal" in boom_j["error"], boom_j
    for f, j in got[:4] + got[5:]:
        assert f["status"] == "processed" and j["state"] == "succeeded", (f, j)
    # the batch's round trip failed: its files ran one by one, none counted as batched
    assert metric(s, "carboy_ingest_batched_jobs_total") == b0
    # the server and its next batch are fine
    _, again = upload_behind_slow(s, folder, texts(3, "again"))
    assert all(outcome(s, fid)[1]["state"] == "succeeded" for fid in again)


def test_records_and_events_of_batched_files(batching):
    """Structure files in a batch get their own records; the event stream tells each file's
    states in order."""
    s = batching
    folder = s.folder("batch-chem")["id"]
    smiles = [(f"m{i}.smi", f"{smi} mol{i}\n".encode()) for i, smi in
              enumerate(["c1ccccc1O", "CCO", "CC(=O)O", "c1ccncc1", "C1CCCCC1"])]

    seen, stop = [], threading.Event()

    def listen():
        with requests.get(s.url + "/api/v1/events", headers=s.auth, stream=True, timeout=60) as r:
            for line in r.iter_lines():
                if stop.is_set():
                    return
                if line.startswith(b"data:"):
                    seen.append(json.loads(line[5:]))
    t = threading.Thread(target=listen, daemon=True)
    t.start()
    threading.Event().wait(0.3)
    b0 = metric(s, "carboy_ingest_batched_jobs_total")
    _, ids = upload_behind_slow(s, folder, smiles)
    got = [outcome(s, fid) for fid in ids]
    assert metric(s, "carboy_ingest_batched_jobs_total") == b0 + 5
    for (f, j), (name, data) in zip(got, smiles):
        assert f["status"] == "processed" and j["state"] == "succeeded", (f, j)
        recs = all_records(s, f["id"])
        assert len(recs) == 1 and recs[0]["title"] == data.split()[1].decode(), recs
    threading.Event().wait(0.5)
    stop.set()
    for fid in ids:
        states = [e["status"] for e in seen if e.get("id") == fid and "status" in e]
        assert states[-2:] == ["processing", "processed"], (fid, states)


def test_cancel_one_job_of_a_running_batch(batching):
    """A job canceled while its batch runs ends canceled; the rest of the batch is applied."""
    s = batching
    folder = s.folder("batch-cancel")["id"]
    b0 = metric(s, "carboy_ingest_batched_jobs_total")
    # behind the big slow file: a small slow one first, so that the batch is still in the
    # converter when the cancel comes (a running job sees it at its next lease renewal)
    files = [("inner.slow-test", b"5000")] + texts(4, "kept") + [("dropped.txt", b"cancel me while I wait\n")]
    _, ids = upload_behind_slow(s, folder, files, slow_ms=1000)
    victim = ingest_of(s, ids[-1])["id"]
    inner = ingest_of(s, ids[0])["id"]
    for _ in range(200):  # the batch is claimed: every one of its jobs is running
        if s.api("GET", f"/jobs/{inner}").json()["state"] == "running":
            break
        threading.Event().wait(0.05)
    assert s.api("GET", f"/jobs/{victim}").json()["state"] == "running"
    r = s.api("POST", f"/jobs/{victim}/cancel")
    assert r.status_code in (200, 202), r.text
    assert wait_job(s, victim)["state"] == "canceled"
    for fid in ids[:-1]:
        f, j = outcome(s, fid)
        assert f["status"] == "processed" and j["state"] == "succeeded", (f, j)
    assert metric(s, "carboy_ingest_batched_jobs_total") == b0 + 5
    assert s.api("GET", f"/files/{ids[-1]}").json()["status"] != "processed"
