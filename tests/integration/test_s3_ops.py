"""Moving data to and from S3 with the real tools, against s3rver behind the botocore
signature-checking proxy (s3_harness.py): carboy migrate from a file store to S3 while the
server serves, killed and resumed, then verify on S3; carboy backup to an s3:// URL and
restore from it into an empty data folder; a backup of an S3-backed server to a folder."""
import hashlib
import os
import signal
import sqlite3
import subprocess
import time

import pytest

from conftest import BIN, Server, cli, finish
from s3_harness import S3rver, SigV4Proxy, available
from test_s3 import BUCKET, SECRET, blob_keys, check_signatures, s3_env, store_url

PREFIX_MIGRATED = "migrated/ü"
PREFIX_BACKUP = "backups/lab one"


@pytest.fixture(scope="module")
def s3(tmp_path_factory):
    assert available(), "s3rver is not installed: run scripts/install-deps.sh (npm ci in tests/s3)"
    srv = S3rver(str(tmp_path_factory.mktemp("s3ops") / "data"), buckets=(BUCKET,)).start()
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def proxy(s3):
    p = SigV4Proxy(s3.port, secret=SECRET)
    yield p
    p.close()
    check_signatures(p)


def env_with(extra):
    e = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    e.update(s3_env())
    e.update(extra)
    return e


def run(args, env):
    return cli(args, env)


def fill(s, n):
    f = s.folder("to-s3")
    files = {}
    for i in range(n):
        body = os.urandom(200 + (i * 7919) % 60000) if i % 7 else b""  # an empty one too
        meta = s.put(f["id"], f"f{i:03}.bin", body)
        files[meta["id"]] = hashlib.sha256(body).hexdigest()
    t = s.put(f["id"], "notes.txt", b"words for the text artifact\n" * 50)
    files[t["id"]] = hashlib.sha256(b"words for the text artifact\n" * 50).hexdigest()
    return f, files


def check_downloads(s, files):
    for fid, want in files.items():
        r = s.api("GET", f"/files/{fid}/content")
        assert r.status_code == 200 and hashlib.sha256(r.content).hexdigest() == want, fid


def test_migrate_file_store_to_s3_killed_resumed_and_verified(tmp_path_factory, s3, proxy):
    s = Server(str(tmp_path_factory.mktemp("data")), env=s3_env()).start()
    try:
        folder, files = fill(s, 60)
        time.sleep(1)  # the text file's ingest stores its artifact
        url = store_url(proxy.endpoint, prefix=PREFIX_MIGRATED)
        env = env_with({"CARBOY_MIGRATE_TO": url, "CARBOY_MIGRATE_BATCH": "5", "CARBOY_MIGRATE_DELAY_MS": "50"})
        p = subprocess.Popen([BIN, "migrate", "--data", s.data], env=env, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True)
        for line in p.stdout:
            if "batch 3:" in line:
                break
        p.send_signal(signal.SIGKILL)
        p.wait(10)
        with sqlite3.connect(os.path.join(s.data, "carboy.db"), timeout=30) as c:
            verified = c.execute("SELECT count(*) FROM migration_blobs WHERE state = 'verified'").fetchone()[0]
            total = c.execute("SELECT count(*) FROM blobs").fetchone()[0]
        assert 0 < verified < total
        check_downloads(s, files)  # still served from the file store
        del env["CARBOY_MIGRATE_DELAY_MS"]
        r = run(["migrate", "--data", s.data], env)
        assert r.returncode == 0, r.stdout + r.stderr
        assert f"skipped {verified} verified by earlier runs" in r.stdout, r.stdout
        # every blob the database knows is in the bucket under its hash, with its size
        with sqlite3.connect(os.path.join(s.data, "carboy.db"), timeout=30) as c:
            known = dict(c.execute("SELECT sha256, size FROM blobs").fetchall())
            copies = {row[0] for row in c.execute("SELECT copies FROM migration_blobs")}
        assert blob_keys(s3, prefix=PREFIX_MIGRATED) == known
        assert copies <= {0, 1}  # none copied twice
        # the running server followed the switch (migrate waits for it): reads and new
        # uploads are S3's now
        check_downloads(s, files)
        new = s.put(folder["id"], "after-migration.bin", b"into the bucket")
        deadline = time.time() + 20
        while time.time() < deadline and new["sha256"] not in blob_keys(s3, prefix=PREFIX_MIGRATED):
            time.sleep(0.2)
        assert new["sha256"] in blob_keys(s3, prefix=PREFIX_MIGRATED)
        r = run(["verify", "--data", s.data], env_with({}))
        assert r.returncode == 0, r.stdout + r.stderr
        # a blob removed from the bucket is found and repaired from the file store
        victim = next(h for h in known if known[h] > 0)
        key = f"{PREFIX_MIGRATED}/{victim[:2]}/{victim[2:4]}/{victim}"
        s3.client().delete_object(Bucket=BUCKET, Key=key)
        r = run(["verify", "--data", s.data], env_with({}))
        assert r.returncode == 1 and victim in r.stdout, r.stdout + r.stderr
        r = run(["verify", "--repair", "--data", s.data], env_with({}))
        assert r.returncode == 0, r.stdout + r.stderr
        assert blob_keys(s3, prefix=PREFIX_MIGRATED)[victim] == known[victim]
    finally:
        finish(s)


def test_backup_to_s3_and_restore_from_it(tmp_path_factory, s3, proxy):
    s = Server(str(tmp_path_factory.mktemp("data")), env=s3_env()).start()
    try:
        folder, files = fill(s, 25)
        dest = store_url(proxy.endpoint, prefix=PREFIX_BACKUP)
        env = env_with({})
        r = run(["backup", dest, "--data", s.data], env)
        assert r.returncode == 0, r.stdout + r.stderr
        keys = s3.keys(BUCKET, PREFIX_BACKUP + "/")
        assert PREFIX_BACKUP + "/manifest.json" in keys
        assert set(files.values()) <= set(blob_keys(s3, prefix=PREFIX_BACKUP))
        r = run(["backup", dest, "--data", s.data], env)  # again: nothing new to copy
        assert r.returncode == 0 and "(0 copied" in r.stdout.splitlines()[-1], r.stdout
    finally:
        finish(s)
    data = str(tmp_path_factory.mktemp("restored"))
    r = run(["restore", dest, "--data", data], env)
    assert r.returncode == 0, r.stdout + r.stderr
    t = Server(data, env=s3_env()).start()
    try:
        check_downloads(t, files)
    finally:
        finish(t)


def test_backup_of_an_s3_server_to_a_folder(tmp_path_factory, tmp_path, s3, proxy):
    url = store_url(proxy.endpoint, prefix="live/for backup")
    s = Server(str(tmp_path_factory.mktemp("data")), env=env_with({}))
    s.start(["--store", url])
    try:
        folder, files = fill(s, 12)
        r = run(["backup", str(tmp_path / "bk"), "--data", s.data], env_with({}))
        assert r.returncode == 0, r.stdout + r.stderr
    finally:
        finish(s)
    data = str(tmp_path / "restored")
    r = run(["restore", str(tmp_path / "bk"), "--data", data], env_with({}))  # into DATA/blobs
    assert r.returncode == 0, r.stdout + r.stderr
    t = Server(data, env=env_with({})).start()
    try:
        check_downloads(t, files)
    finally:
        finish(t)
