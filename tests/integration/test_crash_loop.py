"""The crash loop and the orphan sweep.

test_crash_loop: N rounds (CARBOY_TEST_CRASH_ROUNDS; 10, or 4 on a sanitizer build) of:
start the server on the same data folder, run a mixed workload from several threads (raw
PUTs of random sizes up to a few MiB, new versions of the same names, multipart
uploads, tus uploads in chunks, deletes, conversion, ingest and noop jobs on real CSV,
SDF and text files), and kill -9 it at a random moment (CARBOY_TEST_CRASH_SEED, printed,
makes a run repeatable; CARBOY_TEST_CRASH_BIG_MB, 5, is the largest upload). Only what was acknowledged (a 2xx answer received) counts. After
the last round the server restarts with CARBOY_ORPHAN_GRACE=0 and every acknowledged
file must download equal by sha256, acknowledged deletes must be gone, every
acknowledged job and every upload's ingest must reach a terminal state (a failure with
its reason), the orphans left by the kills (counted offline before the restart) must
have been swept (and counted in /metrics) with no blob missing, no temporary file left,
`carboy verify` clean and PRAGMA integrity_check ok.

The other tests check the sweep on its own: the grace period, temporary files and
upload parts, a put of bytes stored already refreshing an old orphan, and its setting."""
import base64
import glob
import itertools
import hashlib
import os
import random
import re
import sqlite3
import subprocess
import threading
import time

import requests

from conftest import BIN, Server, cli, finish

NCI = "/usr/share/RDKit/Data/NCI/first_200.props.sdf"
TUS = {"Tus-Resumable": "1.0.0"}


def asan_build():
    try:
        out = subprocess.run(["ldd", BIN], capture_output=True, text=True).stdout
    except OSError:
        return False
    return "libasan" in out or "libubsan" in out


ROUNDS = int(os.environ.get("CARBOY_TEST_CRASH_ROUNDS") or (4 if asan_build() else 10))
BIG = int(os.environ.get("CARBOY_TEST_CRASH_BIG_MB") or 5) << 20  # the largest upload (long runs use 1)


def sha(b):
    return hashlib.sha256(b).hexdigest()


def b64(s):
    return base64.b64encode(s.encode()).decode()


def table_bytes(rng, rows):
    lines = ["sample,temperature,pressure,label"]
    for i in range(rows):
        lines.append(f"s{i},{rng.uniform(-20, 80):.3f},{rng.randint(900, 1100)},{rng.choice('abc')}")
    return ("\n".join(lines) + "\n").encode()


def sdf_bytes(rng):
    """A few molecules of the NCI set (rdkit-data), as a real SDF."""
    with open(NCI, "rb") as f:
        recs = f.read().split(b"$$$$\n")
    recs = [r for r in recs if r.strip()]
    start = rng.randrange(0, len(recs) - 5)
    return b"$$$$\n".join(recs[start:start + rng.randint(1, 5)]) + b"$$$$\n"


class Ledger:
    """What the server acknowledged, across rounds."""

    def __init__(self):
        self.lock = threading.Lock()
        self.versions = {}   # (file_id, version) -> sha256
        self.tus = []        # (file_id, sha256): a version of file_id holds these bytes
        self.deleted = set()
        self.maybe_deleted = set()  # deletes sent, answered or not
        self.jobs = set()
        self.deletable = []  # file ids a deleter may take (names no other thread uses)

    def file(self, body, digest, deletable=False):
        with self.lock:
            key = (body["id"], body["version"])
            assert self.versions.get(key, digest) == digest, f"two uploads acknowledged as {key}"
            self.versions[key] = digest
            if deletable:
                self.deletable.append(body["id"])

    def count(self):
        with self.lock:
            return len(self.versions) + len(self.tus)


UNIQUE = itertools.count()  # names no two requests share (next() is atomic under the GIL)


class Workload:
    def __init__(self, s, folder, ledger, rng, round_no):
        self.s, self.folder, self.ledger = s, folder, ledger
        self.rng = random.Random(rng.random())
        self.round = round_no
        self.stop = threading.Event()
        self.errors = []

    def req(self, method, path, **kw):
        kw.setdefault("timeout", 60)
        return self.s.api(method, path, **kw)

    def loop(self, fn, seed):
        rng = random.Random(seed)
        i = 0
        while not self.stop.is_set():
            try:
                fn(rng, i)
            except requests.RequestException:
                if not self.stop.is_set():
                    time.sleep(0.05)
            except AssertionError as e:  # a wrong answer from a live server
                if not self.stop.is_set():
                    self.errors.append(str(e))
                    return
            i += 1

    def raw(self, rng, i):
        size = rng.choice([rng.randint(0, 4096), rng.randint(4096, BIG // 5), rng.randint(BIG // 5, BIG)])
        data = os.urandom(size)
        name = f"raw-{rng.randint(0, 7)}.bin"  # a shared pool of names: new versions
        r = self.req("PUT", f"/folders/{self.folder}/files/{name}", data=data)
        assert r.status_code == 201, r.text
        self.ledger.file(r.json(), sha(data))

    def multipart(self, rng, i):
        parts = []
        for k in range(rng.randint(1, 3)):
            data = os.urandom(rng.randint(100, BIG // 8))
            parts.append((f"mp-{next(UNIQUE)}.dat", data))
        r = self.req("POST", f"/folders/{self.folder}/files",
                     files=[("file", (n, d, "application/octet-stream")) for n, d in parts])
        assert r.status_code == 201, r.text
        got = r.json()["files"]
        assert [f["name"] for f in got] == [n for n, _ in parts]
        for f, (_, d) in zip(got, parts):
            self.ledger.file(f, sha(d))

    def tus(self, rng, i):
        data = os.urandom(rng.randint(BIG // 16, BIG * 3 // 5))
        name = f"tus-{next(UNIQUE)}.bin"
        r = requests.post(self.s.url + "/api/v1/uploads", timeout=60, headers={
            **TUS, **self.s.auth, "Upload-Length": str(len(data)),
            "Upload-Metadata": f"filename {b64(name)},folder_id {b64(self.folder)}"})
        assert r.status_code == 201 and "Location" in r.headers, (r.status_code, dict(r.headers), r.text)
        url = self.s.url + r.headers["Location"]
        off, step = 0, 256 << 10
        while off < len(data):
            chunk = data[off:off + step]
            r = requests.patch(url, data=chunk, timeout=60, headers={
                **TUS, **self.s.auth, "Upload-Offset": str(off), "Content-Type": "application/offset+octet-stream"})
            assert r.status_code == 204 and "Upload-Offset" in r.headers, (r.status_code, dict(r.headers))
            off = int(r.headers["Upload-Offset"])  # what the server accepted
        assert "Carboy-File-Id" in r.headers, r.headers
        fid = r.headers["Carboy-File-Id"]
        with self.ledger.lock:
            self.ledger.tus.append((fid, sha(data)))

    def content(self, rng, i):
        """Real files the pipeline processes, conversions and other jobs, and deletes."""
        kind = rng.choice(["csv", "sdf", "txt", "delete", "noop"])
        if kind == "delete":
            with self.ledger.lock:
                victim = self.ledger.deletable.pop(rng.randrange(len(self.ledger.deletable))) \
                    if self.ledger.deletable else None
            if victim:
                with self.ledger.lock:  # sent: it may have happened even if no answer comes
                    self.ledger.maybe_deleted.add(victim)
                r = self.req("DELETE", f"/files/{victim}")
                assert r.status_code == 204, r.text
                with self.ledger.lock:
                    self.ledger.deleted.add(victim)
            return
        if kind == "noop":
            r = self.req("POST", "/jobs", json={"type": "noop", "params": {"ms": rng.randint(10, 400)}})
            assert r.status_code == 202, r.text
            with self.ledger.lock:
                self.ledger.jobs.add(r.json()["id"])
            return
        data = {"csv": lambda: table_bytes(rng, rng.randint(5, 3000)), "sdf": lambda: sdf_bytes(rng),
                "txt": lambda: ("carboy crash loop %d\n" % i).encode() * rng.randint(1, 2000)}[kind]()
        name = f"doc-{next(UNIQUE)}.{kind}"
        r = self.req("PUT", f"/folders/{self.folder}/files/{name}", data=data)
        assert r.status_code == 201, r.text
        body = r.json()
        self.ledger.file(body, sha(data))
        to = {"csv": "json", "sdf": rng.choice(["smi", "inchikey", "csv"]), "txt": "txt"}[kind]
        job = rng.choice([{"type": "convert", "inputs": [body["id"]], "params": {"to": to}},
                          {"type": "ingest", "inputs": [body["id"]]}])
        r = self.req("POST", "/jobs", json=job)
        assert r.status_code == 202, r.text
        with self.ledger.lock:
            self.ledger.jobs.add(r.json()["id"])
            if rng.random() < 0.5:  # only now: a delete before the job's POST would make it 404
                self.ledger.deletable.append(body["id"])

    def run(self, duration):
        threads = [threading.Thread(target=self.loop, args=(fn, self.rng.random()))
                   for fn in (self.raw, self.raw, self.multipart, self.tus, self.content, self.content)]
        for t in threads:
            t.start()
        time.sleep(duration)
        return threads


def store_state(data):
    """Offline: blob files in the store, blobs rows, temporary files, upload parts
    without an uploads row."""
    files = {os.path.basename(p) for p in glob.glob(os.path.join(data, "blobs", "??", "??", "*"))}
    db = sqlite3.connect(os.path.join(data, "carboy.db"))
    try:
        rows = {r[0] for r in db.execute("SELECT sha256 FROM blobs")}
        uploads = {r[0] for r in db.execute("SELECT id FROM uploads")}
    finally:
        db.close()
    tmp = os.listdir(os.path.join(data, "blobs", ".tmp"))
    parts = [p for p in os.listdir(os.path.join(data, "uploads"))
             if p.endswith(".part") and p[:-5] not in uploads]
    return files, rows, tmp, parts


def metric(s, name):
    text = requests.get(s.url + "/metrics", timeout=10).text
    m = re.search(rf"^{name} (\d+)$", text, re.M)
    assert m, text[-2000:]
    return int(m.group(1))


def wait_idle(s, timeout):
    """Until no job is queued or running (carboy_jobs in /metrics)."""
    deadline = time.time() + timeout
    while True:
        text = requests.get(s.url + "/metrics", timeout=10).text
        busy = sum(int(n) for st, n in re.findall(r'^carboy_jobs\{state="(\w+)"\} (\d+)$', text, re.M)
                   if st in ("queued", "running"))
        if not busy:
            return
        assert time.time() < deadline, f"{busy} jobs still queued or running after {timeout} s"
        time.sleep(0.2)


def wait_terminal(s, path, states, timeout):
    deadline = time.time() + timeout
    while True:
        r = s.api("GET", path)
        assert r.status_code == 200, f"{path}: {r.status_code} {r.text}"
        body = r.json()
        state = body.get("state", body.get("status"))
        if state in states:
            return body
        assert time.time() < deadline, f"{path} still {state} after restart"
        time.sleep(0.1)


def test_crash_loop(tmp_path):
    seed = int(os.environ.get("CARBOY_TEST_CRASH_SEED") or random.SystemRandom().randrange(1 << 30))
    print(f"crash loop: seed {seed} (CARBOY_TEST_CRASH_SEED={seed} repeats it), {ROUNDS} rounds")
    rng = random.Random(seed)
    data = str(tmp_path / "data")
    os.makedirs(data)
    s = Server(data, {"CARBOY_WORKERS": "2"})
    ledger = Ledger()
    kills = []
    try:
        s.start()
        folder = s.folder("crash")["id"]
        for n in range(ROUNDS):
            if n:
                s.start()
            w = Workload(s, folder, ledger, rng, n)
            at = rng.uniform(0.3, 2.5)
            threads = w.run(at)
            # kill -9 while the threads' requests are in flight; what fails from here on is
            # the kill's doing (a response cut off inside its headers reads as complete to
            # http.client, so a 204 may arrive without its Upload-Offset)
            w.stop.set()
            s.kill()
            for t in threads:
                t.join(90)
                assert not t.is_alive(), "a client thread hung after the kill"
            assert not w.errors, f"round {n}: wrong answer from the server: {w.errors[:3]}"
            kills.append(round(at, 2))
        print(f"crash loop: killed at {kills} s; acknowledged {ledger.count()} file versions, "
              f"{len(ledger.deleted)} deletes, {len(ledger.jobs)} jobs")
        assert ledger.count() > ROUNDS, "the workload acknowledged almost nothing"

        files, rows, tmp, parts = store_state(data)
        assert not rows - files, f"blobs recorded but missing from the store: {sorted(rows - files)[:5]}"
        orphans = files - rows
        print(f"crash loop: before the last restart: {len(files)} blobs in the store, {len(orphans)} orphans, "
              f"{len(tmp)} temporary files, {len(parts)} upload parts without an upload")

        s.env["CARBOY_ORPHAN_GRACE"] = "0"
        s.start()
        # the jobs left from before the kill run again now and write temporary files and new
        # blobs of their own (a job that fails now leaves what it stored to the next sweep):
        # what was left before the restart must be gone at once, and no temporary file may
        # be left once the queue is idle
        files, rows, tmp_now, parts = store_state(data)
        assert not set(tmp) & set(tmp_now), f"temporary files survived the sweep: {sorted(set(tmp) & set(tmp_now))}"
        assert not parts, parts
        assert not (orphans & files) - rows, f"orphans survived the sweep: {sorted((orphans & files) - rows)[:5]}"
        wait_idle(s, 300)
        files, rows, tmp, parts = store_state(data)
        assert not (orphans & files) - rows, f"orphans came back: {sorted((orphans & files) - rows)[:5]}"
        assert not tmp and not parts, (tmp, parts)
        assert metric(s, "carboy_orphan_blobs_removed_total") == len(orphans)

        # every acknowledged file version, by sha256
        for (fid, version), digest in sorted(ledger.versions.items()):
            if fid in ledger.deleted:
                continue
            r = s.api("GET", f"/files/{fid}/content?version={version}")
            if r.status_code == 404 and fid in ledger.maybe_deleted:
                continue  # a delete that committed as the server was killed
            assert r.status_code == 200, f"{fid} v{version}: {r.status_code} {r.text[:200]}"
            assert sha(r.content) == digest, f"{fid} v{version}: wrong bytes"
        for fid, digest in ledger.tus:
            meta = s.api("GET", f"/files/{fid}").json()
            assert digest in [v["sha256"] for v in meta["versions"]], f"tus {fid}: no version holds its bytes"
            r = s.api("GET", f"/files/{fid}/content")
            assert r.status_code == 200
        for fid in ledger.deleted:
            assert s.api("GET", f"/files/{fid}").status_code == 404, f"deleted {fid} is back"
        # nothing lost or stuck: every job, and every upload's ingest, ends
        for jid in sorted(ledger.jobs):
            j = wait_terminal(s, f"/jobs/{jid}", ("succeeded", "failed", "canceled"), 240)
            if j["state"] == "failed":
                assert j.get("error"), j
        for fid in {f for f, _ in ledger.versions} | {f for f, _ in ledger.tus}:
            if fid not in ledger.maybe_deleted:
                f = wait_terminal(s, f"/files/{fid}", ("processed", "failed"), 240)
                if f["status"] == "failed":
                    assert f.get("error"), f
        deadline = time.time() + 240
        while any(s.api("GET", f"/jobs?state={st}&limit=1").json()["jobs"] for st in ("queued", "running")):
            assert time.time() < deadline, "jobs still queued or running"
            time.sleep(0.2)

        # the jobs that ran since may have stored outputs they could not record (their file
        # was deleted meanwhile): those are orphans for the next sweep, at the next start
        code = s.stop()
        assert code == 0, s.log_text()[-3000:]
        s.start()
        files, rows, tmp, parts = store_state(data)
        assert files <= rows, f"orphans survived the second sweep: {sorted(files - rows)[:5]}"
        r = cli(["verify", "--data", data], s.env)
        assert r.returncode == 0, r.stdout + r.stderr
        assert re.search(r": \d+ blobs checked .*: 0 missing, 0 corrupt, 0 orphans", r.stdout), r.stdout
        code = s.stop()
        assert code == 0, s.log_text()[-3000:]
        db = sqlite3.connect(os.path.join(data, "carboy.db"))
        try:
            assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            assert db.execute("PRAGMA foreign_key_check").fetchall() == []
        finally:
            db.close()
        print(f"crash loop: {ROUNDS} rounds, {ledger.count()} acknowledged files, lost 0, "
              f"{len(orphans)} orphans swept")
    finally:
        finish(s)


def plant(data, content, ago):
    """A blob file in the store as a put would leave it, last written `ago` seconds ago."""
    digest = sha(content)
    d = os.path.join(data, "blobs", digest[:2], digest[2:4])
    os.makedirs(d, exist_ok=True)
    path = os.path.join(d, digest)
    with open(path, "wb") as f:
        f.write(content)
    os.chmod(path, 0o444)
    t = time.time() - ago
    os.utime(path, (t, t))
    return path


def aged(path, ago):
    with open(path, "wb") as f:
        f.write(b"leftover")
    t = time.time() - ago
    os.utime(path, (t, t))
    return path


def test_orphan_sweep_grace_tmp_and_parts(fresh):
    s = fresh(env={"CARBOY_ORPHAN_GRACE": "600"})
    f = s.folder("kept")["id"]
    kept = s.put(f, "kept.bin", b"acknowledged bytes " * 100)
    s.stop()
    data = s.data
    blob = os.path.join(data, "blobs", kept["sha256"][:2], kept["sha256"][2:4], kept["sha256"])
    t = time.time() - 7200
    os.utime(blob, (t, t))  # old, but referenced: must stay
    old = plant(data, b"an old orphan" * 50, 7200)
    young = plant(data, b"a young orphan", 10)
    old_tmp = aged(os.path.join(data, "blobs", ".tmp", "put-OLD123"), 1800)  # under the 1 h of the open
    young_tmp = aged(os.path.join(data, "blobs", ".tmp", "put-NEW123"), 10)
    old_part = aged(os.path.join(data, "uploads", "0123456789abcdefghijklmn.part"), 7200)
    s.start()
    deadline = time.time() + 30
    # the pass takes the orphans, then the temporary files and the parts, then counts them
    while metric(s, "carboy_orphan_temporary_removed_total") < 2 and time.time() < deadline:
        time.sleep(0.1)
    assert not os.path.exists(old) and not os.path.exists(old_tmp) and not os.path.exists(old_part)
    assert os.path.exists(young) and os.path.exists(young_tmp) and os.path.exists(blob)
    assert metric(s, "carboy_orphan_blobs_removed_total") == 1
    assert metric(s, "carboy_orphan_bytes_removed_total") == len(b"an old orphan" * 50)
    assert metric(s, "carboy_orphan_temporary_removed_total") == 2
    assert "orphan sweep of" in s.log_text()
    r = s.api("GET", f"/files/{kept['id']}/content")
    assert r.status_code == 200 and sha(r.content) == kept["sha256"]
    r = cli(["verify", "--data", data], s.env)
    assert r.returncode == 0 and "0 missing, 0 corrupt, 1 orphans" in r.stdout, r.stdout

    # an upload of the bytes an old orphan holds refreshes it, so no sweep takes it
    # between the commit and the row
    t = time.time() - 7200
    os.utime(young, (t, t))
    up = s.put(f, "same-as-orphan.txt", b"a young orphan")
    assert time.time() - os.stat(young).st_mtime < 60
    r = s.api("GET", f"/files/{up['id']}/content")
    assert r.content == b"a young orphan"
    os.unlink(young_tmp)


def test_orphan_grace_zero_sweeps_at_start(fresh):
    s = fresh(env={"CARBOY_ORPHAN_GRACE": "0"})
    s.stop()
    o = plant(s.data, b"left by a crash a moment ago", 0)
    s.start()  # healthy only after the start's sweep
    assert not os.path.exists(o)
    assert metric(s, "carboy_orphan_blobs_removed_total") == 1


def test_concurrent_versions_answer_their_own(server):
    """Regression (found by the crash loop): two uploads of one name at once each answer
    with their own version and sha256, not the other's (the answer was read after the
    commit, when the other could already be the current version)."""
    f = server.folder("versions-at-once")["id"]
    got, lock = [], threading.Lock()

    def put(k):
        for i in range(15):
            data = os.urandom(2000 + k) + bytes([i])
            r = server.api("PUT", f"/folders/{f}/files/same.bin", data=data)
            assert r.status_code == 201, r.text
            with lock:
                got.append((r.json()["version"], r.json()["sha256"], sha(data)))

    threads = [threading.Thread(target=put, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert len(got) == 60
    assert all(answered == sent for _, answered, sent in got)
    assert sorted(v for v, _, _ in got) == list(range(1, 61))
    fid = server.api("GET", f"/folders/{f}").json()["files"][0]["id"]
    for v, _, sent in got:
        assert sha(server.api("GET", f"/files/{fid}/content?version={v}").content) == sent


def test_orphan_grace_setting_is_checked(tmp_path):
    for value, want in (("soon", "CARBOY_ORPHAN_GRACE"), ("-1", "CARBOY_ORPHAN_GRACE"),
                        ("10", "CARBOY_JOB_TIMEOUT")):
        env = dict(os.environ, CARBOY_ORPHAN_GRACE=value)
        r = subprocess.run([BIN, "serve", "--data", str(tmp_path / "d"), "--listen", "127.0.0.1:0"],
                           env=env, capture_output=True, text=True, timeout=30)
        assert r.returncode == 2, r.stdout + r.stderr
        assert want in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
