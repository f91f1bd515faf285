"""carboy migrate and carboy verify: the real binary against two local folders (file:// to
file://), with and without a server running, killed with SIGKILL and resumed."""
import hashlib
import os
import random
import re
import shutil
import signal
import sqlite3
import subprocess
import threading
import time

import pytest

from conftest import BIN, ADMIN_PASSWORD, SANITIZER_MARKS, Server, finish, wait_file


def clean(text):
    """The output of a CLI run, checked for sanitizer reports (the ASan build's)."""
    assert not [m for m in SANITIZER_MARKS if m in text], text[-6000:]
    return text


def run(args, env=None, timeout=300):
    e = dict(os.environ)
    e.update(env or {})
    r = subprocess.run([BIN, *args], capture_output=True, text=True, env=e, timeout=timeout)
    clean(r.stdout + r.stderr)
    return r


def sha(b):
    return hashlib.sha256(b).hexdigest()


def db(data):
    c = sqlite3.connect(os.path.join(data, "carboy.db"), timeout=30)
    return c


def setting(data, key):
    with db(data) as c:
        row = c.execute("SELECT value FROM settings WHERE key = ?", (key,)).fetchone()
    return row[0] if row else None


def db_blobs(data):
    with db(data) as c:
        return {r[0]: r[1] for r in c.execute("SELECT sha256, size FROM blobs")}


def store_blobs(root):
    """sha256 -> size of every blob file in a file store folder."""
    out = {}
    for dirpath, _, names in os.walk(root):
        if ".tmp" in dirpath:
            continue
        for n in names:
            if re.fullmatch(r"[0-9a-f]{64}", n):
                out[n] = os.path.getsize(os.path.join(dirpath, n))
    return out


def blob_path(root, h):
    return os.path.join(root, h[:2], h[2:4], h)


def contents(seed, n):
    """n files of several sizes (empty, tiny, text, 64 KiB, a few MiB), one duplicate."""
    rnd = random.Random(seed)
    sizes = [0, 1, 100, 4096, 65536, 1 << 20, 3 * (1 << 20) + 7]
    files = {}
    for i in range(n):
        size = sizes[i % len(sizes)] if i < 2 * len(sizes) else rnd.randint(10, 20000)
        if i % 5 == 3:  # text: ingested into a text artifact
            body = (" ".join(f"word{rnd.randint(0, 999)}" for _ in range(max(1, size // 8)))).encode()
            files[f"note-{i}.txt"] = body
        else:
            files[f"data-{i}.bin"] = rnd.randbytes(size)
    files["same-as-data-1.bin"] = files["data-1.bin"]
    return files


def fill(s, seed, n):
    folder = s.folder(f"lab-{seed}")["id"]
    files = contents(seed, n)
    ids = {}
    for name, body in files.items():
        ids[name] = s.put(folder, name, body)["id"]
    return folder, files, ids


def add_derived(s, folder):
    """A table (artifacts: preview, text) and a molecule with a depiction: blobs that are
    not uploads."""
    f = s.put(folder, "t.csv", b"a,b,c\n1,2,x\n3,4,y\n")
    m = s.put(folder, "ethanol.smi", b"CCO ethanol\nc1ccccc1 benzene\n")
    wait_file(s, f["id"])
    wait_file(s, m["id"])
    rec = s.api("GET", f"/files/{m['id']}/records").json()["records"][0]
    r = s.api("GET", f"/records/{rec['id']}/depiction")
    assert r.status_code == 200, r.text
    return [f["id"], m["id"]], [f"/records/{rec['id']}/depiction"]


def derived_bytes(s, file_ids, extra):
    """Every artifact and depiction, by URL."""
    out = {}
    for fid in file_ids:
        for a in s.api("GET", f"/files/{fid}").json()["artifacts"]:
            r = s.api("GET", f"/files/{fid}/artifacts/{a['kind']}")
            assert r.status_code == 200, (a, r.text)
            out[a["kind"] + fid] = r.content
    for path in extra:
        r = s.api("GET", path)
        assert r.status_code == 200
        out[path] = r.content
    return out


def check_downloads(s, files, ids):
    for name, body in files.items():
        r = s.api("GET", f"/files/{ids[name]}/content")
        assert r.status_code == 200, (name, r.status_code)
        assert sha(r.content) == sha(body), name


@pytest.fixture
def mk(tmp_path):
    made = []

    def factory(env=None):
        data = str(tmp_path / f"data{len(made)}")
        s = Server(data, env)
        made.append(s)
        return s
    yield factory
    for s in made:
        finish(s)


def test_migrate_file_to_file_then_serve_from_the_new_store(mk, tmp_path):
    s = mk().start()
    folder, files, ids = fill(s, 1, 40)
    derived_ids, extra = add_derived(s, folder)
    for fid in ids.values():
        wait_file(s, fid)
    before = derived_bytes(s, derived_ids, extra)
    assert s.stop() == 0
    old = os.path.join(s.data, "blobs")
    new = str(tmp_path / "new-store")
    known = db_blobs(s.data)
    assert len(known) >= len(files) + 3  # uploads (one duplicate), artifacts, a depiction

    r = run(["migrate", "--data", s.data, "--to", "file://" + new, "--batch", "7"])
    assert r.returncode == 0, r.stdout + r.stderr
    assert re.search(r"batch \d+: \d+/\d+ blobs verified", r.stdout)
    assert f"done: {len(known)} blobs" in r.stdout
    assert "warning" not in r.stdout  # no server running: nothing to wait for
    assert setting(s.data, "store_url") == "file://" + new
    assert setting(s.data, "store_previous_url") == "file://" + old
    # every blob the database knows is in the new store, intact
    got = store_blobs(new)
    assert set(got) == set(known)
    for h, size in known.items():
        with open(blob_path(new, h), "rb") as fh:
            assert sha(fh.read()) == h and got[h] == size
    with db(s.data) as c:
        states = dict(c.execute("SELECT state, count(*) FROM migration_blobs GROUP BY state").fetchall())
    assert states == {"verified": len(known)}

    # the old store gone, the server (no --store) serves everything from the new one
    shutil.rmtree(old)
    s.start()
    check_downloads(s, files, ids)
    assert derived_bytes(s, derived_ids, extra) == before
    f = s.put(folder, "after.bin", b"written after the migration")
    assert os.path.exists(blob_path(new, f["sha256"]))
    assert not os.path.exists(blob_path(old, f["sha256"]))
    r = run(["verify", "--data", s.data])
    assert r.returncode == 0, r.stdout + r.stderr
    assert re.search(r"\d+ blobs checked in file://%s .*: 0 missing, 0 corrupt" % re.escape(new), r.stdout)


def test_migrate_while_the_server_serves_and_takes_uploads(mk, tmp_path):
    s = mk().start()
    folder, files, ids = fill(s, 2, 30)
    new = str(tmp_path / "live-new")
    proc = subprocess.Popen([BIN, "migrate", "--data", s.data, "--to", new, "--batch", "4"],
                            env={**os.environ, "CARBOY_MIGRATE_DELAY_MS": "15"},
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    uploaded, errors, reads = {}, [], [0]
    names = list(files)
    stop = threading.Event()

    def writer():
        i = 0
        while not stop.is_set():
            body = os.urandom(random.randint(1, 50000)) + f"upload {i}".encode()
            r = s.api("PUT", f"/folders/{folder}/files/during-{i}.bin", data=body)
            if r.status_code == 201:
                uploaded[f"during-{i}.bin"] = (r.json()["id"], body)
            else:
                errors.append(("put", r.status_code, r.text))
            i += 1
            time.sleep(0.03)

    def reader():
        rnd = random.Random(3)
        while not stop.is_set():
            name = rnd.choice(names)
            r = s.api("GET", f"/files/{ids[name]}/content")
            if r.status_code != 200 or sha(r.content) != sha(files[name]):
                errors.append(("get", name, r.status_code))
            reads[0] += 1

    threads = [threading.Thread(target=writer), threading.Thread(target=reader)]
    for t in threads:
        t.start()
    try:
        out, _ = proc.communicate(timeout=240)
        clean(out)
        time.sleep(2.5)  # uploads go on after the switch too
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert proc.returncode == 0, out
    assert not errors, errors[:5]
    assert reads[0] > 20 and len(uploaded) > 20, (reads, len(uploaded))
    assert "the live store is now file://" + new in out
    # the server followed: it says so, and what it takes now lands in the new store
    deadline = time.time() + 10
    while setting(s.data, "store_in_use") != "file://" + new and time.time() < deadline:
        time.sleep(0.2)
    assert setting(s.data, "store_in_use") == "file://" + new
    assert "live store switched" in s.log_text()
    f = s.put(folder, "after.bin", b"after the switch")
    assert os.path.exists(blob_path(new, f["sha256"]))
    # nothing acknowledged was lost, during or after: every blob is in the new store itself
    r = run(["verify", "--data", s.data])
    assert r.returncode == 0, r.stdout + r.stderr
    assert set(db_blobs(s.data)) <= set(store_blobs(new))
    assert s.stop() == 0
    shutil.rmtree(os.path.join(s.data, "blobs"))
    s.start()
    check_downloads(s, files, ids)
    for name, (fid, body) in uploaded.items():
        r = s.api("GET", f"/files/{fid}/content")
        assert r.status_code == 200 and sha(r.content) == sha(body), name


def test_migrate_killed_and_resumed_copies_nothing_twice(mk, tmp_path):
    s = mk().start()
    folder, files, ids = fill(s, 3, 60)
    nblobs = len(db_blobs(s.data))
    new = str(tmp_path / "resumed")
    env = {**os.environ, "CARBOY_MIGRATE_TO": "file://" + new, "CARBOY_MIGRATE_BATCH": "5",
           "CARBOY_MIGRATE_DELAY_MS": "60"}
    proc = subprocess.Popen([BIN, "migrate", "--data", s.data], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    lines = []
    for line in proc.stdout:
        lines.append(line)
        if "batch 4:" in line:
            break
    time.sleep(0.15)  # into the next batch
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    assert any("batch 4:" in l for l in lines), "".join(lines)
    with db(s.data) as c:
        first = dict(c.execute("SELECT sha256, copies FROM migration_blobs WHERE state = 'verified'").fetchall())
    assert 20 <= len(first) < nblobs
    assert set(first.values()) == {1}
    assert setting(s.data, "store_url") is None  # not switched
    check_downloads(s, files, ids)                 # the server still serves from the old store

    del env["CARBOY_MIGRATE_DELAY_MS"]
    r = run(["migrate", "--data", s.data], env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "resuming the migration" in r.stdout
    assert f"skipped {len(first)} verified by earlier runs" in r.stdout
    with db(s.data) as c:
        rows = {h: (state, copies, run) for h, state, copies, run in
                c.execute("SELECT sha256, state, copies, run FROM migration_blobs")}
    assert len(rows) == nblobs and {v[0] for v in rows.values()} == {"verified"}
    for h in first:  # verified before the kill: not touched by the second run
        assert rows[h][1:] == (1, 1), h
    assert max(v[1] for v in rows.values()) == 1  # no blob was ever copied twice
    assert setting(s.data, "store_url") == "file://" + new
    check_downloads(s, files, ids)
    r = run(["verify", "--data", s.data])
    assert r.returncode == 0, r.stdout + r.stderr


def test_verify_reports_missing_corrupt_and_orphans_and_repairs(mk, tmp_path):
    s = mk().start()
    folder, files, ids = fill(s, 4, 12)
    r = run(["verify", "--data", s.data])
    assert r.returncode == 0 and ": 0 missing, 0 corrupt, 0 orphans" in r.stdout, r.stdout + r.stderr
    r = run(["verify", "--data", s.data, "--repair"])  # nothing to repair from yet
    errs = [l for l in r.stderr.splitlines() if l.startswith("carboy:")]
    assert r.returncode == 2 and len(errs) == 1 and "--from" in errs[0], r.stderr
    new = str(tmp_path / "checked")
    r = run(["migrate", "--data", s.data, "--to", new])
    assert r.returncode == 0, r.stdout + r.stderr
    missing, corrupt = sha(files["data-4.bin"]), sha(files["data-5.bin"])
    os.unlink(blob_path(new, missing))
    p = blob_path(new, corrupt)
    os.chmod(p, 0o644)
    with open(p, "r+b") as fh:
        fh.seek(100)
        fh.write(b"\xff\x00bitrot")
    orphan = os.urandom(300)
    op = blob_path(new, sha(orphan))
    os.makedirs(os.path.dirname(op), exist_ok=True)
    with open(op, "wb") as fh:
        fh.write(orphan)

    r = run(["verify", "--data", s.data])
    assert r.returncode == 1, r.stdout + r.stderr
    assert f"missing {missing}" in r.stdout
    assert re.search(rf"corrupt {corrupt}: reads back as [0-9a-f]{{64}}", r.stdout)
    assert f"orphan {sha(orphan)}" in r.stdout
    assert ": 1 missing, 1 corrupt, 1 orphans" in r.stdout
    errs = [l for l in r.stderr.splitlines() if l.startswith("carboy:")]
    assert len(errs) == 1 and "missing or corrupt" in errs[0], r.stderr

    r = run(["verify", "--data", s.data, "--repair"])  # from the store migrated away from
    assert r.returncode == 0, r.stdout + r.stderr
    assert f"repaired {missing} from file://{s.data}/blobs" in r.stdout
    assert f"repaired {corrupt}" in r.stdout
    r = run(["verify", "--data", s.data])
    assert r.returncode == 0 and ": 0 missing, 0 corrupt, 1 orphans" in r.stdout, r.stdout
    assert os.path.exists(op)  # orphans are reported, never deleted
    check_downloads(s, files, ids)

    # --from names the second store explicitly; a source that lacks the blob fails cleanly
    os.unlink(blob_path(new, missing))
    r = run(["verify", "--data", s.data, "--repair", "--from", str(tmp_path / "empty-store")])
    assert r.returncode == 1 and f"cannot repair {missing}" in r.stdout, r.stdout + r.stderr
    r = run(["verify", "--data", s.data, "--repair", "--from", "file://" + s.data + "/blobs/"])
    assert r.returncode == 0 and f"repaired {missing}" in r.stdout, r.stdout + r.stderr

    # the running server followed the migration; a read that misses in the new store is
    # served from the previous one and copies the blob forward (lazy copy on read)
    assert setting(s.data, "store_in_use") == "file://" + new
    os.unlink(blob_path(new, missing))
    r = s.api("GET", f"/files/{ids['data-4.bin']}/content")
    assert r.status_code == 200 and sha(r.content) == missing
    with open(blob_path(new, missing), "rb") as fh:
        assert sha(fh.read()) == missing


def test_usage_errors_and_store_settings_after_a_migration(mk, tmp_path):
    s = mk()
    os.makedirs(s.data)
    def one_line(r, code, word):
        lines = [l for l in r.stderr.splitlines() if l.startswith("carboy:")]
        assert r.returncode == code and len(lines) == 1 and word in lines[0], (r.returncode, r.stdout, r.stderr)

    one_line(run(["migrate", "--data", s.data]), 2, "--to")
    one_line(run(["migrate", "--data", s.data, "--to", "ftp://host/x"]), 2, "ftp://host/x")
    one_line(run(["migrate", "--data", s.data, "--to", "relative/path"]), 2, "relative/path")
    one_line(run(["migrate", "--data", s.data, "--to", "file://relative"]), 2, "file://relative")
    one_line(run(["migrate", "--data", s.data, "--to", str(tmp_path / "x"), "--batch", "0"]), 2, "batch")
    one_line(run(["migrate", "--data", s.data, "--to", str(tmp_path / "x"), "--bogus"]), 2, "--bogus")
    one_line(run(["migrate", "--data", s.data, "--to"]), 2, "--to")
    one_line(run(["migrate", "--data", s.data, "--to", s.data + "/blobs/"]), 2, "already the live store")
    one_line(run(["migrate", "--data", s.data], env={"CARBOY_MIGRATE_TO": str(tmp_path / "y"),
                                                     "CARBOY_MIGRATE_BATCH": "many"}), 2, "CARBOY_MIGRATE_BATCH")
    one_line(run(["verify", "--data", s.data, "--from", "/tmp"]), 2, "--repair")
    one_line(run(["verify", "--data", s.data, "--frobnicate"]), 2, "--frobnicate")
    one_line(run(["verify", "--data", s.data], env={"CARBOY_VERIFY_REPAIR": "yes"}), 2, "CARBOY_VERIFY_REPAIR")

    s.start()
    folder, files, ids = fill(s, 5, 6)
    assert s.stop() == 0
    new = str(tmp_path / "moved")
    assert run(["migrate", "--data", s.data, "--to", new]).returncode == 0
    # an explicit store that is neither the live one nor the one migrated away from: refused
    r = run(["serve", "--data", s.data, "--listen", "127.0.0.1:0", "--store", str(tmp_path / "elsewhere")],
            env={"CARBOY_ADMIN_PASSWORD": ADMIN_PASSWORD}, timeout=30)
    one_line(r, 2, "carboy migrate")
    assert "file://" + new in r.stderr
    # the store migrated away from: a warning, and the server uses the new store
    s.env["CARBOY_STORE"] = "file://" + s.data + "/blobs"
    s.start()
    assert "names the store carboy migrate moved away from" in s.log_text()
    f = s.put(folder, "x.bin", b"goes to the new store")
    assert os.path.exists(blob_path(new, f["sha256"]))
    check_downloads(s, files, ids)
