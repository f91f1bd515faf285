"""carboy import: a real mixed directory (files from Debian packages: an SDF, a CSV, a PNG,
a PDF, text, nested folders) deposited while the server runs, every file then ingested by
its own kind and equal by sha256 over HTTP; a second run adds nothing, a changed file
becomes a new version; a killed import resumes without duplicates; bad arguments fail
with one line and exit 2."""
import hashlib
import os
import shutil
import signal
import subprocess
import time

import pytest

from conftest import BIN, cli, wait_file, props

SOURCES = {
    "tips.csv": "/usr/share/ggobi/data/tips.csv",
    "molecules/head.sdf": "/usr/share/doc/python3-openbabel/examples/head.sdf",
    "molecules/figures/logo.png": "/usr/share/gocode/src/golang.org/x/image/testdata/yellow_rose-small-v5.png",  # golang-golang-x-image-dev
    "docs/rotate.pdf": "/usr/share/gocode/src/github.com/jung-kurt/gofpdf/pdf/Fpdf_RotateText.pdf",
    "docs/licence.txt": "/usr/share/common-licenses/GPL-3",
}
KINDS = {"tips.csv": "table", "molecules/head.sdf": "structure", "molecules/figures/logo.png": "image",
         "docs/rotate.pdf": "pdf", "docs/licence.txt": "text"}


def sha(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def run_import(s, *args):
    return cli(["import", *args, "--data", s.data], s.env)


def tree(s, folder_id, prefix=""):
    body = s.api("GET", f"/folders/{folder_id}?limit=1000").json()
    files = {prefix + f["name"]: f for f in body["files"]}
    for sub in body["folders"]:
        files.update(tree(s, sub["id"], prefix + sub["name"] + "/"))
    return files


def folder_by_path(s, *names):
    roots = s.api("GET", "/folders?limit=1000").json()["folders"]
    f = next(x for x in roots if x["name"] == names[0])
    for n in names[1:]:
        f = next(x for x in s.api("GET", f"/folders/{f['id']}").json()["folders"] if x["name"] == n)
    return f


@pytest.fixture
def mixed(tmp_path):
    root = tmp_path / "run-42"
    for rel, src in SOURCES.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(src, root / rel)
    (root / "empty-folder").mkdir()
    os.symlink("/etc/passwd", root / "docs" / "passwd-link")
    return root


def test_import_twice_adds_nothing_the_second_time(srv, mixed):
    r = run_import(srv, str(mixed), "--user", "admin", "--folder", "/imports/lab A")
    assert r.returncode == 0, r.stderr
    assert "imported 5 files" in r.stdout and "1 skipped" in r.stdout, r.stdout
    assert "skipped %s: a symbolic link" % (mixed / "docs" / "passwd-link") in r.stderr
    top = folder_by_path(srv, "imports", "lab A", "run-42")
    files = tree(srv, top["id"])
    assert {p: f["sha256"] for p, f in files.items()} == {p: sha(mixed / p) for p in SOURCES}
    assert "empty-folder" in [x["name"] for x in srv.api("GET", f"/folders/{top['id']}").json()["folders"]]
    # the running server ingests what was imported, each file by its kind
    for p, f in files.items():
        meta = wait_file(srv, f["id"])
        assert meta["status"] == "processed" and meta["kind"] == KINDS[p], (p, meta)
    assert props(wait_file(srv, files["tips.csv"]["id"]))["row_count"] == 244
    assert srv.api("GET", f"/files/{files['molecules/head.sdf']['id']}").json()["record_count"] > 0
    got = srv.api("GET", f"/files/{files['docs/rotate.pdf']['id']}/content")
    assert hashlib.sha256(got.content).hexdigest() == sha(mixed / "docs/rotate.pdf")

    # again: nothing new, no new versions
    r = run_import(srv, str(mixed), "--user", "admin", "--folder", "/imports/lab A")
    assert r.returncode == 0, r.stderr
    assert "imported 0 files" in r.stdout and "5 unchanged" in r.stdout and "0 folders created" in r.stdout, r.stdout
    again = tree(srv, top["id"])
    assert {p: (f["id"], f["version"]) for p, f in again.items()} == {p: (f["id"], 1) for p, f in files.items()}

    # a changed file becomes its next version; a single file goes where --folder says
    with open(mixed / "docs" / "licence.txt", "ab") as f:
        f.write(b"\nchanged\n")
    r = run_import(srv, str(mixed), str(mixed / "tips.csv"), "--user", "admin", "--folder", "/imports/lab A")
    assert r.returncode == 0, r.stderr
    assert "imported 2 files" in r.stdout and "4 unchanged" in r.stdout, r.stdout
    lic = srv.api("GET", f"/files/{files['docs/licence.txt']['id']}").json()
    assert lic["version"] == 2 and lic["sha256"] == sha(mixed / "docs" / "licence.txt")
    single = tree(srv, folder_by_path(srv, "imports", "lab A")["id"])
    assert single["tips.csv"]["sha256"] == sha(mixed / "tips.csv")


def test_imported_files_are_private_to_their_owner(srv, mixed):
    srv.user("importer-owner")
    srv.user("importer-other")
    other = srv.make_token("importer-other", "password-" + "x" * 8)
    r = run_import(srv, str(mixed), "--user", "importer-owner")
    assert r.returncode == 0, r.stderr
    mine = srv.api("GET", "/folders", token=srv.make_token("importer-owner", "password-" + "x" * 8)).json()["folders"]
    assert [f["name"] for f in mine] == ["run-42"]
    assert [f["name"] for f in srv.api("GET", "/folders", token=other).json()["folders"]] == []
    assert srv.api("GET", f"/folders/{mine[0]['id']}", token=other).status_code == 404


def test_killed_import_resumes_without_duplicates(srv, tmp_path):
    root = tmp_path / "many"
    for d in range(10):
        (root / f"d{d}").mkdir(parents=True)
        for i in range(150):
            (root / f"d{d}" / f"f{i:03d}.txt").write_bytes(b"file %d %d\n" % (d, i) * 20)
    p = subprocess.Popen([BIN, "import", str(root), "--user", "admin", "--folder", "/killed", "--data", srv.data],
                         env=srv.env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    # kill it once a part of the files is in (the first folders are imported first)
    deadline = time.time() + 120
    while time.time() < deadline:
        try:
            top = folder_by_path(srv, "killed", "many")
            subs = srv.api("GET", f"/folders/{top['id']}").json()["folders"]
            if len(subs) >= 2:
                break
        except StopIteration:
            pass
        time.sleep(0.02)
    p.send_signal(signal.SIGKILL)
    p.wait()
    partial = tree(srv, folder_by_path(srv, "killed", "many")["id"])
    assert 0 < len(partial) < 1500, len(partial)
    r = run_import(srv, str(root), "--user", "admin", "--folder", "/killed")
    assert r.returncode == 0, r.stderr
    assert "%d unchanged" % len(partial) in r.stdout, r.stdout
    files = tree(srv, folder_by_path(srv, "killed", "many")["id"])
    assert len(files) == 1500
    assert all(f["version"] == 1 for f in files.values())
    assert all(f["sha256"] == sha(root / p) for p, f in files.items())
    assert [f["name"] for f in srv.api("GET", f"/folders/{folder_by_path(srv, 'killed')['id']}").json()["folders"]] == ["many"]


@pytest.mark.parametrize("args,words", [
    (["--user", "nobody-here"], "no user named 'nobody-here'"),
    (["--user", "admin", "--folder", "/a/../b"], "'..' is not a valid folder name"),
    (["--user", "admin", "--folder", "/"], "names no folder"),
    ([], "usage: carboy import"),
])
def test_bad_arguments_fail_with_one_line(srv, mixed, args, words):
    r = run_import(srv, str(mixed), *args)
    assert r.returncode == 2 and words in r.stderr, (r.returncode, r.stderr)
    assert len([l for l in r.stderr.splitlines() if l.startswith("carboy:")]) == 1, r.stderr


def test_missing_path_and_lone_file_without_folder(srv, mixed, tmp_path):
    r = run_import(srv, str(tmp_path / "not-there"), "--user", "admin")
    assert r.returncode == 2 and "cannot read" in r.stderr and "No such file" in r.stderr
    r = run_import(srv, str(mixed / "tips.csv"), "--user", "admin")
    assert r.returncode == 2 and "is a file: say which folder" in r.stderr
