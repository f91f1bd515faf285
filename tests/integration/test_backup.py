"""carboy backup and carboy restore: a backup taken while uploads run, restored into an
empty data folder and served again, every file equal by sha256 (records, text and
depictions too); incremental backups; a damaged backup refused with nothing restored;
bad arguments as one line and exit 2."""
import hashlib
import json
import os
import threading
import time

import pytest

from conftest import Server, cli, finish, wait_file, props

SDF = "/usr/share/doc/python3-openbabel/examples/head.sdf"


def run(s_env, *args):
    return cli(args, s_env)


def all_files(s, folder_id, prefix=""):
    body = s.api("GET", f"/folders/{folder_id}?limit=1000").json()
    out = {prefix + f["name"]: f for f in body["files"]}
    for sub in body["folders"]:
        out.update(all_files(s, sub["id"], prefix + sub["name"] + "/"))
    return out


def restore_and_serve(server, backup, tmp_path, name, *extra):
    data = str(tmp_path / name)
    r = run(server.env, "restore", backup, "--data", data, *extra)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "restore done" in r.stdout
    s = Server(data, env=server.env)
    s.start()
    return s


def test_backup_while_uploading_restores_everything(fresh, tmp_path):
    s = fresh()
    f = s.folder("lab")
    sdf = s.put(f["id"], "head.sdf", open(SDF, "rb").read())
    assert wait_file(s, sdf["id"])["status"] == "processed"
    rec = s.api("GET", f"/files/{sdf['id']}/records?limit=1").json()["records"][0]
    depiction = s.api("GET", f"/records/{rec['id']}/depiction")
    assert depiction.status_code == 200
    acked, errors, stop = {}, [], threading.Event()

    def uploader(k):
        i = 0
        while not stop.is_set():
            body = os.urandom(1000 + (i * 7919) % 300000)
            name = f"u{k}-{i}.bin"
            r = s.api("PUT", f"/folders/{f['id']}/files/{name}", data=body)
            if r.status_code == 201:
                acked[name] = (hashlib.sha256(body).hexdigest(), time.time())
            else:
                errors.append(r.text)
            i += 1

    threads = [threading.Thread(target=uploader, args=(k,)) for k in range(3)]
    for t in threads:
        t.start()
    time.sleep(1.0)
    before = {n for n, (_, t) in acked.items()}  # acknowledged before the backup started
    backup = str(tmp_path / "backup")
    r = run(s.env, "backup", backup, "--data", s.data)
    time.sleep(0.5)
    stop.set()
    for t in threads:
        t.join()
    assert r.returncode == 0, r.stdout + r.stderr
    assert "backup done" in r.stdout and not errors, (r.stdout, errors[:3])
    assert len(before) > 5 and len(acked) > len(before)
    manifest = json.load(open(os.path.join(backup, "manifest.json")))
    assert manifest["format"] == "carboy-backup" and manifest["blobs"]["count"] >= len(before)

    t = restore_and_serve(s, backup, tmp_path, "restored")
    try:
        folders = t.api("GET", "/folders").json()["folders"]
        restored = all_files(t, next(x["id"] for x in folders if x["name"] == "lab"))
        # everything acknowledged before the backup began is there; whatever is there is whole
        assert before <= set(restored), sorted(before - set(restored))[:5]
        for name, meta in restored.items():
            body = t.api("GET", f"/files/{meta['id']}/content").content
            assert hashlib.sha256(body).hexdigest() == meta["sha256"], name
            if name in acked:
                assert meta["sha256"] == acked[name][0], name
        # what the pipeline made came along: records, the depiction, the file's properties
        again = t.api("GET", f"/files/{sdf['id']}").json()
        assert again["status"] == "processed" and again["record_count"] == rec_count(s, sdf["id"])
        d2 = t.api("GET", f"/records/{rec['id']}/depiction")
        assert d2.status_code == 200 and d2.content == depiction.content
        assert props(again) == props(s.api("GET", f"/files/{sdf['id']}").json())
        # the restored server takes uploads into its own store
        up = t.put(f["id"], "after-restore.txt", b"new\n")
        assert t.api("GET", f"/files/{up['id']}/content").content == b"new\n"
        blobs = os.path.join(t.data, "blobs")
        assert os.path.exists(os.path.join(blobs, up["sha256"][:2], up["sha256"][2:4], up["sha256"]))
    finally:
        finish(t)


def rec_count(s, file_id):
    return s.api("GET", f"/files/{file_id}").json()["record_count"]


def test_incremental_backup_and_an_older_manifest(fresh, tmp_path):
    s = fresh()
    f = s.folder("inc")
    first = s.put(f["id"], "one.txt", b"one\n" * 1000)
    backup = str(tmp_path / "bk")
    r1 = run(s.env, "backup", backup, "--data", s.data)
    assert r1.returncode == 0, r1.stderr
    older = sorted(n for n in os.listdir(backup) if n.startswith("manifest-"))
    assert len(older) == 1
    s.put(f["id"], "two.txt", b"two\n" * 1000)
    r2 = run(s.env, "backup", backup, "--data", s.data)
    assert r2.returncode == 0, r2.stderr
    # only what is new is copied the second time (the new file, the new database snapshot)
    line = next(l for l in r2.stdout.splitlines() if "backup done" in l)
    assert "1 copied" in line or "2 copied" in line, line
    assert len([n for n in os.listdir(backup) if n.startswith("manifest-")]) == 2
    t = restore_and_serve(s, backup, tmp_path, "old", "--manifest", older[0])
    try:
        names = sorted(x["name"] for x in all_files(t, f["id"]).values())
        assert names == ["one.txt"]
        assert t.api("GET", f"/files/{first['id']}/content").content == b"one\n" * 1000
    finally:
        finish(t)


def test_damaged_backups_restore_nothing(fresh, tmp_path):
    s = fresh()
    f = s.folder("dmg")
    meta = s.put(f["id"], "data.bin", os.urandom(50000))
    backup = str(tmp_path / "bk")
    assert run(s.env, "backup", backup, "--data", s.data).returncode == 0
    blob = os.path.join(backup, meta["sha256"][:2], meta["sha256"][2:4], meta["sha256"])
    os.chmod(blob, 0o644)
    with open(blob, "r+b") as fh:
        fh.seek(100)
        fh.write(b"XXXX")
    data = tmp_path / "target"
    r = run(s.env, "restore", backup, "--data", str(data))
    assert r.returncode == 1 and meta["sha256"] in r.stdout and "could not be restored" in r.stderr, (r.stdout, r.stderr)
    assert not (data / "carboy.db").exists()
    # the database snapshot damaged: refused before any blob is touched
    manifest = json.load(open(os.path.join(backup, "manifest.json")))
    dbsha = manifest["database"]["sha256"]
    dbblob = os.path.join(backup, dbsha[:2], dbsha[2:4], dbsha)
    os.chmod(dbblob, 0o644)
    with open(dbblob, "r+b") as fh:
        fh.seek(5000)
        fh.write(b"\0\0\0\0")
    r = run(s.env, "restore", backup, "--data", str(tmp_path / "target2"))
    assert r.returncode == 1 and "damaged" in r.stderr, r.stderr
    assert not (tmp_path / "target2" / "carboy.db").exists()


def test_usage_errors(fresh, tmp_path):
    s = fresh()
    env = s.env
    cases = [
        (["backup"], "usage: carboy backup"),
        (["backup", os.path.join(s.data, "blobs"), "--data", s.data], "is the live store itself"),
        (["restore", str(tmp_path / "nothing-here"), "--data", str(tmp_path / "x")], "there is no backup folder"),
        (["restore", s.data, "--data", s.data], "exists: restore into a data folder without a database"),
    ]
    (tmp_path / "empty").mkdir()
    cases.append((["restore", str(tmp_path / "empty"), "--data", str(tmp_path / "y")], "not a finished carboy backup"))
    for args, words in cases:
        r = run(env, *args)
        assert r.returncode == 2 and words in r.stderr, (args, r.returncode, r.stderr)
        assert len([l for l in r.stderr.splitlines() if l.startswith("carboy:")]) == 1, r.stderr
