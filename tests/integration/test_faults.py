"""Fault injection in the store and database wrappers (CARBOY_STORE_FAULT, CARBOY_DB_FAULT):
a full disk (ENOSPC), an I/O error (EIO), a short write and a failing fsync, in the file
store and under SQLite (a shim VFS on the database, its WAL and journals). Each upload
path (raw PUT, multipart POST, tus) meets the fault and answers 507 or a 5xx problem; then
nothing of it is visible, nothing half-written is left, the database passes
`PRAGMA integrity_check`, the server keeps serving, the same upload succeeds once the
fault window (COUNT faults) has passed, and a restart finds everything acknowledged
intact. A fault while a background job stores its output retries or fails that job with a
readable reason, never the server."""
import base64
import hashlib
import io
import os
import sqlite3
import subprocess
import tarfile
import time

import pytest
import requests

from conftest import BIN, cli, problem, wait_file, wait_job

TUS = {"Tus-Resumable": "1.0.0"}
METHODS = ("put", "multipart", "tus")


def sha(b):
    return hashlib.sha256(b).hexdigest()


def b64(s):
    return base64.b64encode(s.encode()).decode()


def store_blobs(s):
    """sha256 -> size of every blob under its hash in the server's file store."""
    root, out = os.path.join(s.data, "blobs"), {}
    for dirpath, _, names in os.walk(root):
        if os.path.basename(os.path.dirname(dirpath)) == ".tmp" or "/.tmp" in dirpath:
            continue
        for n in names:
            if len(n) == 64:
                out[n] = os.path.getsize(os.path.join(dirpath, n))
    return out


def tmp_left(s):
    return os.listdir(os.path.join(s.data, "blobs", ".tmp"))


def tus_create(s, folder_id, name, length):
    r = requests.post(s.url + "/api/v1/uploads", headers={
        **TUS, **s.auth, "Upload-Length": str(length),
        "Upload-Metadata": f"filename {b64(name)},folder_id {b64(folder_id)}"}, timeout=60)
    assert r.status_code == 201, r.text
    return s.url + r.headers["Location"]


def tus_patch(s, url, offset, body):
    return requests.patch(url, data=body, timeout=60, headers={
        **TUS, **s.auth, "Upload-Offset": str(offset), "Content-Type": "application/offset+octet-stream"})


def upload(s, method, folder_id, name, body, tus_url=None):
    """One upload by method; for tus, the PATCH that completes it (tus_url: resume one
    whose bytes were all acknowledged, which completes it again). The response."""
    if method == "put":
        return s.api("PUT", f"/folders/{folder_id}/files/{name}", data=body)
    if method == "multipart":
        return s.api("POST", f"/folders/{folder_id}/files", files=[("file", (name, body))])
    if tus_url:
        return tus_patch(s, tus_url, len(body), b"")
    url = tus_create(s, folder_id, name, len(body))
    r = tus_patch(s, url, 0, body)
    r.tus_url = url
    return r


def uploaded_id(method, r):
    if method == "put":
        assert r.status_code == 201, r.text
        return r.json()["id"]
    if method == "multipart":
        assert r.status_code == 201, r.text
        return r.json()["files"][0]["id"]
    assert r.status_code == 204 and r.headers.get("Carboy-File-Id"), (r.status_code, r.text)
    return r.headers["Carboy-File-Id"]


def names_in(s, folder_id):
    return sorted(f["name"] for f in s.api("GET", f"/folders/{folder_id}").json()["files"])


def db_check(s, names_absent=(), names_present=()):
    """With the server stopped: the database, opened read-only, passes integrity_check and
    holds rows for exactly the files it should."""
    con = sqlite3.connect(f"file:{os.path.join(s.data, 'carboy.db')}?mode=ro", uri=True)
    try:
        assert con.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert con.execute("PRAGMA foreign_key_check").fetchall() == []
        for n in names_absent:
            assert con.execute("SELECT count(*) FROM files WHERE name = ?", (n,)).fetchone()[0] == 0, n
        for n in names_present:
            assert con.execute("SELECT count(*) FROM files WHERE name = ?", (n,)).fetchone()[0] == 1, n
    finally:
        con.close()


def verify(s):
    """carboy verify over the stopped server's data: (exit code, stdout)."""
    r = cli(["verify", "--data", s.data], dict(os.environ), timeout=120)
    return r.returncode, r.stdout


def restart_clean(s):
    """Starts s again without fault injection."""
    s.env.pop("CARBOY_STORE_FAULT", None)
    s.env.pop("CARBOY_DB_FAULT", None)
    s.start()


def check_reads(s, files):
    for file_id, body in files.items():
        meta = s.api("GET", f"/files/{file_id}").json()
        assert meta["sha256"] == sha(body), meta
        assert sha(s.api("GET", f"/files/{file_id}/content").content) == sha(body)


def fault_uploads(s, body, want_status, expect_blob_kept):
    """Each upload path meets the fault (COUNT is 3: one fault each), then the same three
    uploads succeed. Returns file_id -> body of what was acknowledged."""
    f = s.folder("faults")
    # acknowledged before the faults (small, other content); random bytes, which no
    # converter makes an artifact of, processed before the faults begin: the background
    # job must not take a fault meant for the uploads (fsync faults count every fsync)
    early = os.urandom(1000)
    before = s.put(f["id"], "before.bin", early)
    assert wait_file(s, before["id"], timeout=60)["status"] == "processed"
    tus_urls = {}
    for m in METHODS:
        r = upload(s, m, f["id"], f"{m}.bin", body)
        problem(r, want_status)
        if m == "tus":
            tus_urls[m] = r.tus_url
        assert names_in(s, f["id"]) == ["before.bin"], m
        assert tmp_left(s) == [], m
        assert (sha(body) in store_blobs(s)) == expect_blob_kept, m
    assert requests.get(s.url + "/healthz", timeout=10).status_code == 200
    # the tus upload still holds every byte it acknowledged, and is not a file
    head = requests.head(tus_urls["tus"], headers={**TUS, **s.auth}, timeout=10)
    assert head.status_code == 200 and int(head.headers["Upload-Offset"]) == len(body)
    assert "Carboy-File-Id" not in head.headers
    # the window has passed: the same uploads succeed and read back equal
    got = {before["id"]: early}
    for m in METHODS:
        got[uploaded_id(m, upload(s, m, f["id"], f"{m}.bin", body, tus_urls.get(m)))] = body
    assert names_in(s, f["id"]) == ["before.bin", "multipart.bin", "put.bin", "tus.bin"]
    check_reads(s, got)
    assert tmp_left(s) == []
    return got


def finish_and_restart(s, files):
    """Stop, check the database and the store offline, restart clean, read back."""
    assert s.stop() == 0
    db_check(s, names_present=["before.bin", "put.bin", "multipart.bin", "tus.bin"])
    code, out = verify(s)
    assert code == 0 and ": 0 missing, 0 corrupt, 0 orphans" in out, out
    restart_clean(s)
    check_reads(s, files)
    assert s.put(s.folder("after")["id"], "after.bin", b"after the restart")["size"] == 17


STORE_FAULTS = [  # (CARBOY_STORE_FAULT, status)
    ("write:enospc:100000:3", 507),
    ("write:eio:100000:3", 500),
    ("short:enospc:100000:3", 507),
    ("short:eio:100000:3", 500),
    ("fsync:eio:1:3", 500),
]


@pytest.mark.parametrize("spec,status", STORE_FAULTS, ids=[f[0].split(":")[0] + "-" + f[0].split(":")[1] for f in STORE_FAULTS])
def test_store_fault_fails_the_upload_and_keeps_nothing(fresh, spec, status):
    s = fresh(env={"CARBOY_STORE_FAULT": spec, "CARBOY_WORKERS": "1"})
    body = os.urandom(300_000)
    files = fault_uploads(s, body, status, expect_blob_kept=False)
    assert f"injected fault 3: {spec.split(':')[0]}" in s.log_text()
    finish_and_restart(s, files)


DB_FAULTS = [  # (op:kind, status); the fault matches the pages holding the upload's sha256
    ("write:enospc", 507),
    ("write:eio", 500),
    ("short:enospc", 507),
    ("short:eio", 500),
]


@pytest.mark.parametrize("spec,status", DB_FAULTS, ids=[f[0].replace(":", "-") for f in DB_FAULTS])
def test_database_fault_fails_the_upload_and_the_connection_recovers(fresh, spec, status):
    body = os.urandom(200_000)
    s = fresh(env={"CARBOY_DB_FAULT": f"{spec}:0:3:{sha(body)}", "CARBOY_WORKERS": "1"})
    # the blob is committed before the database is written: after a database fault it is
    # left whole and unreferenced (an orphan for `carboy verify`), never half-written
    files = fault_uploads(s, body, status, expect_blob_kept=True)
    log = s.log_text()
    assert "injected fault 3:" in log and "injected fault 4:" not in log
    finish_and_restart(s, files)


def test_database_fsync_failure(fresh, tmp_path):
    """With WAL and synchronous=NORMAL, SQLite syncs a new WAL's header at its first commit
    and the WAL at checkpoints. A database that cannot be synced at its creation stops the
    start with one line; on a running server every write then fails with a 500 problem
    while reads go on; nothing acknowledged is lost, and a clean restart writes again."""
    data = str(tmp_path / "nosync")
    r = subprocess.run([BIN, "serve", "--data", data, "--listen", "127.0.0.1:0"], capture_output=True,
                       text=True, timeout=60, env={**os.environ, "CARBOY_DB_FAULT": "sync:eio:0:1",
                                                   "CARBOY_ADMIN_PASSWORD": "fault-pass-1"})
    assert r.returncode == 1 and "carboy: cannot open database" in r.stderr, r.stdout + r.stderr
    assert "injected fault 1: sync eio" in r.stderr

    s = fresh(env={"CARBOY_WORKERS": "1"})
    f = s.folder("synced")
    files = {}
    for i in range(3):
        body = os.urandom(10_000 + i)
        files[s.put(f["id"], f"s{i}.bin", body)["id"]] = body
    assert s.stop() == 0
    s.env["CARBOY_DB_FAULT"] = "sync:eio"
    s.start()  # the token from the first start: no sign-in (a write) is needed
    body = os.urandom(20_000)
    problem(s.api("PUT", f"/folders/{f['id']}/files/late.bin", data=body), 500)
    problem(s.api("POST", f"/folders/{f['id']}/files", files=[("file", ("late.bin", body))]), 500)
    problem(s.api("POST", "/folders", json={"name": "late"}), 500)
    check_reads(s, files)
    assert names_in(s, f["id"]) == ["s0.bin", "s1.bin", "s2.bin"]
    assert "injected fault 1: sync eio" in s.log_text()
    assert s.stop() == 0
    db_check(s, names_absent=["late.bin"], names_present=["s0.bin", "s1.bin", "s2.bin"])
    restart_clean(s)
    check_reads(s, files)
    files[s.put(f["id"], "late.bin", body)["id"]] = body
    check_reads(s, files)


def ingest_job(s, file_id):
    return next(j for j in s.api("GET", "/jobs?limit=1000").json()["jobs"] if j["inputs"] == [file_id])


def test_database_fault_in_a_jobs_results_retries_the_job(fresh):
    """The results transaction of an ingest (its text goes into the search index) meets
    one database fault: the job is retried and succeeds; the server is untouched."""
    s = fresh(env={"CARBOY_DB_FAULT": "write:eio:0:1:zqfaultmark", "CARBOY_WORKERS": "1"})
    f = s.folder("jobs")
    body = b"a line with the word zqfaultmark in it\n" * 20
    meta = wait_file(s, s.put(f["id"], "notes.txt", body)["id"], timeout=60)
    assert meta["status"] == "processed", meta
    job = ingest_job(s, meta["id"])
    log = s.log_text()
    assert job["state"] == "succeeded" and job["attempts"] == 2, (job, log[-3000:])
    assert "injected fault 1: write eio" in log and "attempt 1 failed, retrying: cannot record the results" in log
    hits = s.api("GET", "/search?q=zqfaultmark").json()
    assert [h["file_id"] for h in hits["hits"]] == [meta["id"]], hits  # the retried attempt's text
    assert s.api("GET", f"/files/{meta['id']}/content").content == body


def test_store_fault_in_a_jobs_output_fails_the_job_with_a_reason(fresh):
    """Every fsync after the first (the upload's) fails: the ingest cannot store its text
    artifact, is retried, and fails with the reason; the server serves on, and after a
    clean restart the same file is processed."""
    s = fresh(env={"CARBOY_STORE_FAULT": "fsync:eio:1", "CARBOY_WORKERS": "1"})
    f = s.folder("jobs")
    # not valid UTF-8: the text artifact (the bytes made valid) is not the upload's blob
    body = b"plain text whose artifact cannot be stored \xff\n" * 10
    meta = wait_file(s, s.put(f["id"], "t.txt", body)["id"], timeout=60)
    assert meta["status"] == "failed", meta
    job = ingest_job(s, meta["id"])
    assert job["state"] == "failed" and job["attempts"] == 3, job
    assert "cannot store the text artifact" in job["error"] and "Input/output error" in job["error"], job
    assert requests.get(s.url + "/healthz", timeout=10).status_code == 200
    assert s.api("GET", f"/files/{meta['id']}/content").content == body
    assert tmp_left(s) == []
    assert s.stop() == 0
    db_check(s, names_present=["t.txt"])
    restart_clean(s)
    r = s.api("POST", "/jobs", json={"type": "extract", "inputs": [meta["id"]]})
    assert r.status_code in (201, 202), r.text
    deadline = time.time() + 60
    while s.api("GET", f"/files/{meta['id']}").json()["status"] != "processed":
        assert time.time() < deadline, s.api("GET", f"/files/{meta['id']}").json()
        time.sleep(0.1)


def test_store_fault_in_an_unpack_creates_nothing_and_the_retry_stores_every_member(fresh):
    """An unpack stores its members many at a time: one sync of the file system before
    their renames and one after, instead of two fsyncs each. A failed sync fails that
    attempt, which records nothing; the retry stores every member (two of them the same
    bytes) and each reads back as packed; nothing is left in .tmp and `carboy verify`
    finds the store whole."""
    # the archive's upload and its ingest's two artifacts (listing, text) sync once each
    # (AFTER 3); the next sync, the unpack's first, fails once
    s = fresh(env={"CARBOY_STORE_FAULT": "fsync:eio:3:1", "CARBOY_WORKERS": "1"})
    f = s.folder("unpacked")
    bodies = {f"m{i:03d}.txt": f"member {i}\n".encode() * (i + 1) for i in range(300)}
    bodies["same-a.txt"] = bodies["same-b.txt"] = b"the very same bytes\n"
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as t:
        for name, body in bodies.items():
            info = tarfile.TarInfo(name)
            info.size = len(body)
            t.addfile(info, io.BytesIO(body))
    arc = wait_file(s, s.put(f["id"], "members.tar", buf.getvalue())["id"], timeout=60)
    assert arc["status"] == "processed", arc
    r = s.api("POST", "/jobs", json={"type": "unpack", "inputs": [arc["id"]]})
    assert r.status_code == 202, r.text
    job = wait_job(s, r.json()["id"])
    log = s.log_text()
    assert job["state"] == "succeeded" and job["attempts"] == 2, (job, log[-3000:])
    assert "injected fault 1: fsync" in log and "cannot store the members" in log, log[-3000:]
    # one folder, made by the attempt that succeeded
    folders = s.api("GET", f"/folders/{f['id']}").json()["folders"]
    assert [x["name"] for x in folders] == ["members"], folders
    listed = s.api("GET", f"/folders/{folders[0]['id']}?limit=1000").json()["files"]
    assert sorted(x["name"] for x in listed) == sorted(bodies)
    for x in listed:
        assert x["sha256"] == sha(bodies[x["name"]]), x
        assert s.api("GET", f"/files/{x['id']}/content").content == bodies[x["name"]]
    assert tmp_left(s) == []
    assert s.stop() == 0
    code, out = verify(s)
    assert code == 0 and ": 0 missing, 0 corrupt," in out, out
