"""The job queue and ingest pipeline: every upload processed, sandboxed converters that
crash, hang or eat memory, kill -9 in the middle of a batch, cancel and retry, Server-Sent
Events, and signed webhooks."""
import hashlib
import hmac
import http.server
import json
import os
import subprocess
import threading
import time

import pytest
import requests

from conftest import BIN, make_server, finish, problem, wait_file, worker_children

ENV = {"CARBOY_TEST_CONVERTERS": "1", "CARBOY_JOB_TIMEOUT": "5", "CARBOY_WORKER_MEMORY": "256M",
       "CARBOY_WEBHOOK_ALLOW": "127.0.0.0/8"}  # the test receiver listens on loopback


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    s = make_server(tmp_path_factory, env=ENV)
    yield s
    finish(s)


def wait_file(s, file_id, statuses=("processed", "failed"), timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        f = s.api("GET", f"/files/{file_id}").json()
        if f["status"] in statuses:
            return f
        time.sleep(0.05)
    raise AssertionError(f"file {file_id} still {f['status']} after {timeout} s")


def wait_job(s, job_id, states=("succeeded", "failed", "canceled"), timeout=60):
    deadline = time.time() + timeout
    while time.time() < deadline:
        j = s.api("GET", f"/jobs/{job_id}").json()
        if j["state"] in states:
            return j
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} still {j['state']} after {timeout} s")


def wait_idle(s, timeout=120):
    deadline = time.time() + timeout
    while time.time() < deadline:
        busy = sum(len(s.api("GET", f"/jobs?state={st}&limit=1000").json()["jobs"]) for st in ("queued", "running"))
        if not busy:
            return
        time.sleep(0.2)
    raise AssertionError("jobs still pending")


def test_text_ingest(srv):
    f = srv.folder("ingest")
    meta = srv.put(f["id"], "notes.txt", "first line\nsecond line with ünïcode\n".encode())
    assert meta["status"] in ("uploaded", "processing", "processed")
    done = wait_file(srv, meta["id"])
    assert done["status"] == "processed" and done["kind"] == "text"
    props = {p["name"]: p for p in done["properties"]}
    assert props["line_count"]["value"] == 2 and props["word_count"]["value"] == 6
    assert props["line_count"]["source"] == "extracted" and props["encoding"]["value"] == "UTF-8"
    assert [a["kind"] for a in done["artifacts"]] == ["text"]
    r = srv.api("GET", f"/files/{meta['id']}/text")
    assert r.status_code == 200 and r.text == "first line\nsecond line with ünïcode\n"
    assert r.headers["Content-Type"].startswith("text/plain")
    # the ingest job is listed, succeeded, with the file as input
    jobs = srv.api("GET", "/jobs?state=succeeded&limit=1000").json()["jobs"]
    job = next(j for j in jobs if j["inputs"] == [meta["id"]])
    assert job["type"] == "ingest" and job["progress"] == 1 and job["attempts"] == 1
    assert job["started_at"] and job["finished_at"]
    # a binary file no converter reads: the generic one names what it is, as file(1) does
    with open("/usr/share/RDKit/Data/RDData.sqlt", "rb") as fh:  # an SQLite database, from rdkit-data
        blob = fh.read()
    other = srv.put(f["id"], "data.sqlt", blob)
    done = wait_file(srv, other["id"])
    props = {p["name"]: p["value"] for p in done["properties"]}
    # (carboy hands libmagic the first 64 KiB, as here)
    expected = subprocess.run(["file", "-b", "--mime-type", "-"], input=blob[:65536], capture_output=True).stdout.decode().strip()
    assert done["status"] == "processed" and done["kind"] == "other" and props["detected_media_type"] == expected
    problem(srv.api("GET", f"/files/{other['id']}/text"), 404)


def test_cpu_limit_is_per_job_not_per_converter_lifetime(tmp_path_factory):
    """A converter process serves job after job; its CPU limit (job timeout + 5 s, here
    10 s) is each job's, so jobs that each stay within it all succeed however much CPU
    the process has used before (12 s here, on the one worker process of a server of the
    test's own; a job's 0.5 s of CPU within its 5 s of wall clock leaves room for a machine
    ten times over-loaded)."""
    s = make_server(tmp_path_factory, env=dict(ENV, CARBOY_WORKERS="1"))
    try:
        f = s.folder("cpu")
        ids = [s.put(f["id"], f"s{i}.spin-test", b"500")["id"] for i in range(24)]
        for i in ids:
            done = wait_file(s, i, timeout=300)
            assert done["status"] == "processed", done
    finally:
        finish(s)


def test_misbehaving_converters_fail_their_job_only(srv):
    f = srv.folder("sandbox")
    cases = {"a.crash-test": "crashed", "b.hang-test": "did not finish within 5 s",
             "c.oom-test": "memory", "d.fail-test": "malformed on purpose"}
    ids = {name: srv.put(f["id"], name, b"payload")["id"] for name in cases}
    good = srv.put(f["id"], "after.txt", b"still works\n")["id"]
    deadline = time.time() + 90
    while time.time() < deadline:
        assert requests.get(srv.url + "/healthz", timeout=5).status_code == 200
        states = {n: srv.api("GET", f"/files/{i}").json()["status"] for n, i in ids.items()}
        if all(st == "failed" for st in states.values()):
            break
        time.sleep(0.2)
    for name, words in cases.items():
        meta = srv.api("GET", f"/files/{ids[name]}").json()
        assert meta["status"] == "failed", (name, meta)
        assert words in meta["error"], (name, meta["error"])
        job = next(j for j in srv.api("GET", "/jobs?state=failed&limit=1000").json()["jobs"] if j["inputs"] == [ids[name]])
        assert words in job["error"] and job["attempts"] == 1
    assert wait_file(srv, good)["status"] == "processed"


def test_cancel_and_retry(srv):
    f = srv.folder("steer")
    meta = srv.put(f["id"], "long.slow-test", b"20000")
    job = next(j for j in srv.api("GET", "/jobs?limit=1000").json()["jobs"] if j["inputs"] == [meta["id"]])
    wait_job(srv, job["id"], states=("running",))
    r = srv.api("POST", f"/jobs/{job['id']}/cancel")
    assert r.status_code == 200
    j = wait_job(srv, job["id"], timeout=10)
    assert j["state"] == "canceled"
    problem(srv.api("POST", f"/jobs/{job['id']}/cancel"), 409)
    # retry: the same job runs again; a quick one this time
    quick = srv.put(f["id"], "quick.slow-test", b"300")
    qjob = next(j for j in srv.api("GET", "/jobs?limit=1000").json()["jobs"] if j["inputs"] == [quick["id"]])
    assert wait_job(srv, qjob["id"])["state"] == "succeeded"
    problem(srv.api("POST", f"/jobs/{qjob['id']}/retry"), 409)
    r = srv.api("POST", f"/jobs/{job['id']}/cancel")
    problem(r, 409)
    # a canceled job can be retried and is then queued again
    noop = srv.api("POST", "/jobs", json={"type": "noop", "params": {"ms": 200}}).json()
    assert wait_job(srv, noop["id"])["state"] == "succeeded"
    wait_file(srv, srv.put(f["id"], "broken.fail-test", b"x")["id"])
    failed = next(j for j in srv.api("GET", "/jobs?state=failed&limit=1000").json()["jobs"])
    r = srv.api("POST", f"/jobs/{failed['id']}/retry")
    assert r.status_code == 200 and r.json()["state"] in ("queued", "running", "failed")
    assert wait_job(srv, failed["id"])["state"] == "failed"  # it fails the same way again
    # a queued job canceled before it runs ends at once
    blockers = [srv.api("POST", "/jobs", json={"type": "noop", "params": {"ms": 1500}}).json() for _ in range(4)]
    victim = srv.api("POST", "/jobs", json={"type": "noop", "params": {"ms": 100}}).json()
    r = srv.api("POST", f"/jobs/{victim['id']}/cancel")
    assert r.status_code == 200 and r.json()["state"] in ("canceled", "running")
    assert wait_job(srv, victim["id"])["state"] == "canceled"
    for b in blockers:
        wait_job(srv, b["id"])


def test_job_requests_are_validated(srv):
    f = srv.folder("jobval")
    meta = srv.put(f["id"], "x.txt", b"x")
    assert problem(srv.api("POST", "/jobs", json={"type": "explode"}), 400)["field"] == "type"
    assert problem(srv.api("POST", "/jobs", json={"type": "extract", "inputs": []}), 400)["field"] == "inputs"
    assert problem(srv.api("POST", "/jobs", json={"type": "extract", "inputs": "x"}), 400)["field"] == "inputs"
    assert problem(srv.api("POST", "/jobs", json={"type": "noop", "params": []}), 400)["field"] == "params"
    problem(srv.api("POST", "/jobs", json={"type": "extract", "inputs": ["0" * 24]}), 404)
    r = srv.api("POST", "/jobs", json={"type": "extract", "inputs": [meta["id"]]})
    assert r.status_code == 202 and r.headers["Location"].endswith(r.json()["id"])
    assert wait_job(srv, r.json()["id"])["state"] == "succeeded"
    problem(srv.api("GET", "/jobs/" + "0" * 24), 404)
    problem(srv.api("GET", "/jobs?state=bogus"), 400)
    # someone else sees neither the job nor the file, and cannot start jobs on it
    srv.user("jobs-outsider", "outsider-pass-1")
    tok = srv.make_token("jobs-outsider", "outsider-pass-1")
    problem(srv.api("GET", f"/jobs/{r.json()['id']}", token=tok), 404)
    problem(srv.api("POST", "/jobs", json={"type": "extract", "inputs": [meta["id"]]}, token=tok), 404)
    assert srv.api("GET", "/jobs", token=tok).json()["jobs"] == []


def test_job_types_table_decides_what_users_start(srv):
    """jobs/types.c: the server's own types are refused like unknown ones, with the list of
    those a user may start, and each type's parameter checks answer with their own text."""
    f = srv.folder("jobtypes")
    meta = srv.put(f["id"], "t.txt", b"t")
    for t in ("depict", "query", "match", "explode"):
        p = problem(srv.api("POST", "/jobs", json={"type": t, "inputs": [meta["id"]]}), 400)
        assert p["field"] == "type"
        assert p["detail"] == "field 'type' must be one of: ingest, extract, convert, unpack, noop"
    checks = [("convert", {"to": ""}, "a convert job needs params.to"),
              ("convert", {"to": "txt", "version": 0}, "params.version must be a whole number"),
              ("unpack", {"max_total_size": -1}, "params.max_total_size must be a number of bytes"),
              ("ingest", {"version": 1.5}, "params.version must be a whole number"),
              ("noop", {"version": "1"}, "params.version must be a whole number")]
    for t, params, detail in checks:
        p = problem(srv.api("POST", "/jobs", json={"type": t, "inputs": [meta["id"]], "params": params}), 400)
        assert p["field"] == "params" and p["detail"].startswith(detail), (t, p)
    p = problem(srv.api("POST", "/jobs", json={"type": "unpack", "inputs": []}), 400)
    assert p["field"] == "inputs" and p["detail"] == "a unpack job takes exactly one input file"
    r = srv.api("POST", "/jobs", json={"type": "noop", "inputs": []})
    assert r.status_code == 202 and wait_job(srv, r.json()["id"])["state"] == "succeeded"


def test_events_stream_progress(srv):
    events = []

    def listen():
        with srv.api("GET", "/events?timeout=8", stream=True, timeout=20) as r:
            assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/event-stream")
            kind = None
            for line in r.iter_lines(decode_unicode=True):
                if line.startswith("event: "):
                    kind = line[7:]
                elif line.startswith("data: "):
                    events.append((kind, json.loads(line[6:])))

    t = threading.Thread(target=listen)
    t.start()
    time.sleep(0.5)
    job = srv.api("POST", "/jobs", json={"type": "noop", "params": {"ms": 2000}}).json()
    f = srv.folder("events")
    meta = srv.put(f["id"], "e.txt", b"event me\n")
    t.join(30)
    mine = [d for k, d in events if k == "job" and d["id"] == job["id"]]
    states = [d["state"] for d in mine]
    assert states[0] == "queued" and states[-1] == "succeeded", states
    assert any(d["state"] == "running" and 0 < d["progress"] < 1 for d in mine), mine
    files = [d["status"] for k, d in events if k == "file" and d["id"] == meta["id"]]
    assert files[-1] == "processed", files
    # the upload's own ingest job is announced "queued" too, once, before it runs
    ingest = [d for k, d in events if k == "job" and d.get("inputs") == [meta["id"]] and d["type"] == "ingest"]
    states = [d["state"] for d in ingest]
    assert states.count("queued") == 1 and states[0] == "queued" and states[-1] == "succeeded", states
    assert [d["state"] for d in mine].count("queued") == 1
    # nobody else's events: a fresh user's stream shows none of these
    srv.user("events-outsider", "outsider-pass-2")
    tok = srv.make_token("events-outsider", "outsider-pass-2")
    seen = []

    def listen_other():
        with srv.api("GET", "/events?timeout=4", stream=True, token=tok, timeout=20) as r:
            seen.extend(l for l in r.iter_lines(decode_unicode=True) if l.startswith("data: "))

    t = threading.Thread(target=listen_other)
    t.start()
    time.sleep(0.5)
    srv.api("POST", "/jobs", json={"type": "noop", "params": {"ms": 100}})
    srv.put(f["id"], "private.txt", b"mine\n")
    t.join(20)
    assert seen == []


class Receiver(http.server.BaseHTTPRequestHandler):
    got = []
    fail_first = 0

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if Receiver.fail_first > 0:
            Receiver.fail_first -= 1
            self.send_response(500)
            self.end_headers()
            return
        Receiver.got.append((dict(self.headers), body))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *a):
        pass


def test_webhook_signed_and_retried(srv):
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    Receiver.got.clear()
    Receiver.fail_first = 1
    secret = "a-webhook-secret-0123456789"
    try:
        r = srv.api("POST", "/webhooks", json={"url": f"http://127.0.0.1:{httpd.server_port}/hook",
                                               "events": ["file.processed", "job.failed"], "secret": secret})
        assert r.status_code == 201, r.text
        hook = r.json()
        assert "secret" not in hook
        f = srv.folder("hooks")
        meta = srv.put(f["id"], "hook.txt", b"deliver me\n")
        deadline = time.time() + 20
        while time.time() < deadline and not any(json.loads(b)["data"].get("id") == meta["id"] for _, b in Receiver.got):
            time.sleep(0.1)
        hits = [(h, b) for h, b in Receiver.got if json.loads(b)["data"].get("id") == meta["id"]]
        assert hits, "no delivery arrived"
        headers, body = hits[0]
        want = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        assert headers["X-Carboy-Signature"] == want
        payload = json.loads(body)
        assert payload["event"] == "file.processed" and headers["X-Carboy-Event"] == "file.processed"
        # a tampered body would not verify
        assert hmac.new(secret.encode(), body + b" ", hashlib.sha256).hexdigest() != want[7:]
        assert [w["id"] for w in srv.api("GET", "/webhooks").json()["webhooks"]] == [hook["id"]]
        for bad, field in [({"url": "ftp://x", "events": ["*"], "secret": secret}, "url"),
                           ({"url": "http://x", "events": ["nope"], "secret": secret}, "events"),
                           ({"url": "http://x", "events": ["*"], "secret": "short"}, "secret")]:
            assert problem(srv.api("POST", "/webhooks", json=bad), 400)["field"] == field
        assert srv.api("DELETE", f"/webhooks/{hook['id']}").status_code == 204
        problem(srv.api("DELETE", f"/webhooks/{hook['id']}"), 404)
    finally:
        httpd.shutdown()


def test_jobs_cli(srv):
    f = srv.folder("cli")
    wait_file(srv, srv.put(f["id"], "cli.txt", b"listed\n")["id"])
    wait_file(srv, srv.put(f["id"], "cli.fail-test", b"x")["id"])
    out = subprocess.run([BIN, "jobs", "list", "succeeded", "--data", srv.data], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0 and "ingest" in out.stdout and "succeeded" in out.stdout
    out = subprocess.run([BIN, "jobs", "cancel", "0" * 24, "--data", srv.data], capture_output=True, text=True, timeout=30)
    assert out.returncode == 1 and "no job" in out.stderr
    out = subprocess.run([BIN, "jobs", "list", "weird", "--data", srv.data], capture_output=True, text=True, timeout=30)
    assert out.returncode == 2
    failed = srv.api("GET", "/jobs?state=failed&limit=1").json()["jobs"][0]
    out = subprocess.run([BIN, "jobs", "retry", failed["id"], "--data", srv.data], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    assert wait_job(srv, failed["id"])["attempts"] >= 1


def test_a_converter_serves_one_owners_jobs_one_after_another(fresh):
    """One worker, one owner: its converter process is started once and serves every job
    (it was killed and started again for each: Open Babel loaded again every time)."""
    s = fresh(env={**ENV, "CARBOY_WORKERS": "1", "CARBOY_INTERACTIVE_INGEST_MAX": "0"})
    f = s.folder("one-owner")
    seen = []
    for i in range(4):
        r = s.api("PUT", f"/folders/{f['id']}/files/m{i}.smi", data=f"{'C' * (i + 2)}O m{i}\n".encode())
        assert r.status_code == 201, r.text
        meta = wait_file(s, r.json()["id"])
        assert meta["status"] == "processed", meta
        seen.append(worker_children(s.proc.pid))
    assert len(seen[0]) == 1, seen
    assert seen[0] == seen[1] == seen[2] == seen[3], seen
    # another owner's job gets a process of its own, as before
    s.user("other-owner", "password-" + "o" * 8)
    tok = s.make_token("other-owner", "password-" + "o" * 8)
    g = s.api("POST", "/folders", json={"name": "theirs"}, token=tok).json()
    r = s.api("PUT", f"/folders/{g['id']}/files/o.smi", data=b"CCN o\n", token=tok)
    assert wait_file(s, r.json()["id"])["status"] == "processed"
    assert worker_children(s.proc.pid).isdisjoint(seen[0])


def test_500_uploads_all_processed(fresh):
    s = fresh(env=ENV)
    f = s.folder("batch")
    sess = requests.Session()
    sess.headers.update(s.auth)
    ids = []
    for i in range(500):
        r = sess.put(f"{s.url}/api/v1/folders/{f['id']}/files/doc{i:03}.txt", data=f"document {i}\nline two\n".encode())
        assert r.status_code == 201
        ids.append(r.json()["id"])
    wait_idle(s)
    jobs = s.api("GET", "/jobs?limit=1000").json()["jobs"]
    assert len(jobs) == 500 and all(j["state"] == "succeeded" for j in jobs)
    cursor, statuses = None, []
    while True:
        body = s.api("GET", f"/folders/{f['id']}?limit=200" + (f"&cursor={cursor}" if cursor else "")).json()
        statuses += [x["status"] for x in body["files"]]
        cursor = body["next_cursor"]
        if not cursor:
            break
    assert len(statuses) == 500 and set(statuses) == {"processed"}
    metrics = requests.get(s.url + "/metrics").text
    assert 'carboy_jobs{state="succeeded"} 500' in metrics


def test_kill_mid_batch_every_job_once(fresh):
    import sqlite3
    s = fresh(env={**ENV, "CARBOY_WORKERS": "2"})
    f = s.folder("crashy")
    sess = requests.Session()
    sess.headers.update(s.auth)
    ids = []
    for i in range(150):
        # slow enough that the batch is mid-way when the server dies
        r = sess.put(f"{s.url}/api/v1/folders/{f['id']}/files/s{i:03}.slow-test", data=b"40")
        assert r.status_code == 201
        ids.append(r.json()["id"])
    time.sleep(1.0)
    s.kill()
    db = sqlite3.connect(os.path.join(s.data, "carboy.db"))
    done_before = db.execute("SELECT count(*) FROM jobs WHERE state = 'succeeded'").fetchone()[0]
    running_before = db.execute("SELECT count(*) FROM jobs WHERE state = 'running'").fetchone()[0]
    db.close()
    assert 0 < done_before < 150, done_before
    s.start()
    wait_idle(s, timeout=180)
    db = sqlite3.connect(os.path.join(s.data, "carboy.db"))
    rows = db.execute("SELECT state, count(*) FROM jobs GROUP BY state").fetchall()
    per_file = db.execute("SELECT count(*) FROM jobs WHERE type = 'ingest' GROUP BY inputs HAVING count(*) > 1").fetchall()
    props = db.execute("SELECT file_id, name, count(*) FROM properties WHERE source = 'extracted'"
                       " GROUP BY file_id, name HAVING count(*) > 1").fetchall()
    slept = db.execute("SELECT count(DISTINCT file_id) FROM properties WHERE name = 'slept_ms'").fetchone()[0]
    db.close()
    assert rows == [("succeeded", 150)], rows
    assert per_file == [] and props == []
    assert slept == 150
    assert all(s.api("GET", f"/files/{i}").json()["status"] == "processed" for i in ids)


def test_sigterm_during_jobs_loses_none(fresh):
    """SIGTERM while converters run: the server exits 0 within its grace period (plus the
    time to stop its converter processes), running jobs go back to the queue, and after a
    restart every upload is processed exactly once."""
    import sqlite3
    s = fresh(env={**ENV, "CARBOY_WORKERS": "2", "CARBOY_SHUTDOWN_GRACE": "3"})
    f = s.folder("sigterm-jobs")
    ids = [s.put(f["id"], f"t{i:02}.slow-test", b"1500")["id"] for i in range(12)]
    deadline = time.time() + 30
    while time.time() < deadline and not s.api("GET", "/jobs?state=running").json()["jobs"]:
        time.sleep(0.05)
    assert s.api("GET", "/jobs?state=running").json()["jobs"], "no job started"
    t0 = time.time()
    s.proc.send_signal(15)
    assert s.proc.wait(30) == 0
    took = time.time() - t0
    assert took < 3 + 10, took  # grace + stopping the converters, with room for a loaded machine
    db = sqlite3.connect(os.path.join(s.data, "carboy.db"))
    left = db.execute("SELECT count(*) FROM jobs WHERE state IN ('queued', 'running')").fetchone()[0]
    db.close()
    assert left > 0  # it really stopped mid-batch
    s.start()
    wait_idle(s, timeout=180)
    db = sqlite3.connect(os.path.join(s.data, "carboy.db"))
    rows = db.execute("SELECT state, count(*) FROM jobs WHERE type = 'ingest' GROUP BY state").fetchall()
    twice = db.execute("SELECT count(*) FROM properties WHERE name = 'slept_ms' GROUP BY file_id HAVING count(*) > 1").fetchall()
    db.close()
    assert dict(rows).get("succeeded", 0) >= len(ids) and set(dict(rows)) == {"succeeded"}, rows
    assert twice == []
    assert all(s.api("GET", f"/files/{i}").json()["status"] == "processed" for i in ids)


def test_convert_job_makes_a_new_file(srv):
    src = srv.folder("convert-src")
    dst = srv.folder("convert-dst")
    raw = b"caf\xe9 latin-1 line\nsecond\n"  # not valid UTF-8
    meta = srv.put(src["id"], "legacy.log", raw)
    wait_file(srv, meta["id"])
    r = srv.api("POST", "/jobs", json={"type": "convert", "inputs": [meta["id"]], "params": {"to": "txt"},
                                       "output_folder_id": dst["id"]})
    assert r.status_code == 202, r.text
    job = wait_job(srv, r.json()["id"])
    assert job["state"] == "succeeded" and len(job["outputs"]) == 1, job
    out = srv.api("GET", f"/files/{job['outputs'][0]}").json()
    assert out["name"] == "legacy.txt" and out["folder_id"] == dst["id"]
    assert srv.api("GET", f"/files/{out['id']}/content").content == "caf\ufffd latin-1 line\nsecond\n".encode()
    # the output is ingested like any upload
    assert wait_file(srv, out["id"])["kind"] == "text"
    # impossible targets fail the job with the possible ones named
    r = srv.api("POST", "/jobs", json={"type": "convert", "inputs": [meta["id"]], "params": {"to": "pdf"}})
    job = wait_job(srv, r.json()["id"])
    assert job["state"] == "failed" and "possible: txt" in job["error"]
    assert problem(srv.api("POST", "/jobs", json={"type": "convert", "inputs": [meta["id"]]}), 400)["field"] == "params"
