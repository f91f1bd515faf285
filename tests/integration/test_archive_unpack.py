"""Archives: listings of real zips and tarballs from Debian packages (pyutilib's archive
reader test files, gettext's archive.dir.tar.xz, Go tgz fixtures) checked against Python's
zipfile/tarfile, and the `unpack` job: members deposited as files in a new folder, their
sha256 equal to the members', each then ingested; zip bombs, path escapes, links and
truncated archives fail cleanly and create nothing."""
import bz2
import gzip
import hashlib
import io
import os
import tarfile
import zipfile

import pytest
from conftest import problem, wait_file, wait_job, ingest, props


PYU = "/usr/lib/python3/dist-packages/pyutilib/misc/tests/archivereader"
DIR_ZIP = f"{PYU}/archive_directory.zip"
DIR_TAR = f"{PYU}/archive_directory.tar"
DIR_TGZ = f"{PYU}/archive_directory.tgz"
WIN_ZIP = f"{PYU}/win_archive_directory.zip"  # backslashes as separators
FILE_BZ2 = f"{PYU}/fileC.txt.bz2"               # a lone compressed file
GETTEXT = "/usr/share/gettext/archive.dir.tar.xz"
TGZ = "/usr/share/gocode/src/github.com/alcortesm/tgz/fixtures/test-03.tgz"
TIPS = "/usr/share/ggobi/data/tips.csv"


def unpack(s, file_id, token=None, **body):
    r = s.api("POST", "/jobs", json={"type": "unpack", "inputs": [file_id], **body}, token=token)
    assert r.status_code == 202, r.text
    return wait_job(s, r.json()["id"])


def tree(s, folder_id, prefix=""):
    """{relative path: file} of everything below a folder, and the folder paths."""
    body = s.api("GET", f"/folders/{folder_id}?limit=1000").json()
    files = {prefix + f["name"]: f for f in body["files"]}
    folders = []
    for sub in body["folders"]:
        folders.append(prefix + sub["name"])
        more_files, more_folders = tree(s, sub["id"], prefix + sub["name"] + "/")
        files.update(more_files)
        folders += more_folders
    return files, folders


def subfolders(s, folder_id):
    return {f["name"]: f for f in s.api("GET", f"/folders/{folder_id}").json()["folders"]}


def members(path):
    """{path: sha256} of an archive's regular files, and its directory paths, by Python."""
    out, dirs = {}, set()
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as z:
            for i in z.infolist():
                name = i.filename.replace("\\", "/")
                if i.is_dir():
                    dirs.add(name.rstrip("/"))
                else:
                    out[name] = hashlib.sha256(z.read(i)).hexdigest()
    else:
        with tarfile.open(path) as t:
            for m in t.getmembers():
                name = m.name[2:] if m.name.startswith("./") else m.name
                if m.isdir():
                    dirs.add(name.rstrip("/"))
                elif m.isfile():
                    out[name] = hashlib.sha256(t.extractfile(m).read()).hexdigest()
    for p in out:
        parts = p.split("/")
        for k in range(1, len(parts)):
            dirs.add("/".join(parts[:k]))
    return out, dirs


# ---- listings ----

@pytest.mark.parametrize("path,fmt,compression", [
    (DIR_ZIP, "ZIP", "uncompressed,deflation"),
    (DIR_TAR, "POSIX ustar format", "none"),
    (DIR_TGZ, "POSIX ustar format", "gzip"),
    (WIN_ZIP, "ZIP", "uncompressed"),
    (TGZ, "GNU tar format", "gzip"),
    (GETTEXT, "GNU tar format", "xz"),
])
def test_listing_matches_python(srv, path, fmt, compression):
    f = srv.folder("arc-list-" + os.path.basename(path))
    meta = ingest(srv, f["id"], path)
    assert meta["status"] == "processed" and meta["kind"] == "archive", meta
    p = props(meta)
    if zipfile.is_zipfile(path):
        infos = zipfile.ZipFile(path).infolist()
        entries, files = len(infos), [i for i in infos if not i.is_dir()]
        total = sum(i.file_size for i in files)
        names = [i.filename.replace("\\", "/") for i in infos]
    else:
        ms = tarfile.open(path).getmembers()
        entries, files = len(ms), [m for m in ms if m.isfile()]
        total = sum(m.size for m in files)
        names = [m.name + ("/" if m.isdir() else "") for m in ms]
    assert p["entry_count"] == entries and p["file_count"] == len(files)
    assert p["total_uncompressed_size"] == total
    assert p["format"] == fmt and p["compression"] == compression
    unit = [x for x in meta["properties"] if x["name"] == "total_uncompressed_size"][0]["unit"]
    assert unit == "B"
    listing = srv.api("GET", f"/files/{meta['id']}/artifacts/listing")
    assert listing.headers["Content-Type"].startswith("text/plain")
    lines = [l.split("\t") for l in listing.text.splitlines()]
    assert len(lines) == entries
    assert [l[3].rstrip("/") for l in lines] == [n.rstrip("/") for n in names]
    assert all(l[0] in ("file", "dir") for l in lines)
    sizes = {l[3]: int(l[1]) for l in lines if l[0] == "file"}
    assert sum(sizes.values()) == total
    text = srv.api("GET", f"/files/{meta['id']}/text").text.splitlines()
    assert [t.rstrip("/") for t in text] == [n.rstrip("/") for n in names]


def test_lone_compressed_file_is_one_member(srv):
    f = srv.folder("arc-raw")
    meta = ingest(srv, f["id"], FILE_BZ2)
    p = props(meta)
    data = bz2.decompress(open(FILE_BZ2, "rb").read())
    assert meta["kind"] == "archive" and p["format"] == "raw" and p["compression"] == "bzip2"
    assert p["entry_count"] == 1 and p["total_uncompressed_size"] == len(data)
    job = unpack(srv, meta["id"])
    assert job["state"] == "succeeded", job
    out = srv.api("GET", f"/files/{job['outputs'][0]}").json()
    assert out["name"] == "fileC.txt" and out["sha256"] == hashlib.sha256(data).hexdigest()


def test_truncated_archive_fails_its_ingest_and_unpack(srv):
    f = srv.folder("arc-truncated")
    data = open(GETTEXT, "rb").read()[:150000]
    meta = ingest(srv, f["id"], None, name="gettext-cut.tar.xz", data=data)
    assert meta["status"] == "failed" and "truncated" in meta["error"], meta
    job = unpack(srv, meta["id"])
    assert job["state"] == "failed" and "truncated" in job["error"], job
    assert subfolders(srv, f["id"]) == {}


# ---- unpack ----

@pytest.mark.parametrize("path", [DIR_ZIP, DIR_TGZ, WIN_ZIP])
def test_unpack_recreates_the_tree(srv, path):
    f = srv.folder("arc-unpack-" + os.path.basename(path))
    meta = ingest(srv, f["id"], path)
    job = unpack(srv, meta["id"])
    assert job["state"] == "succeeded", job
    name = os.path.basename(path).rsplit(".", 1)[0]
    sub = subfolders(srv, f["id"])
    assert list(sub) == [name]
    files, folders = tree(srv, sub[name]["id"])
    want, want_dirs = members(path)
    assert {p: x["sha256"] for p, x in files.items()} == want
    assert set(folders) == want_dirs
    assert sorted(job["outputs"]) == sorted(x["id"] for x in files.values())
    # the job says what it made: the new folder, the member count, nothing skipped
    assert job["result"] == {"folder_id": sub[name]["id"], "files": len(want),
                             "entries": job["result"]["entries"], "skipped": []}, job
    assert job["result"]["entries"] >= len(want)
    for x in files.values():  # each member is ingested like an upload
        m = wait_file(srv, x["id"])
        assert m["status"] == "processed" and m["kind"] == "text", m


def test_unpack_real_tarball_subset_bz2_into_output_folder(srv, tmp_path):
    # 150 members of gettext's archive, recompressed as .tar.bz2
    src = tarfile.open(GETTEXT)
    path = tmp_path / "gettext-part.tar.bz2"
    with tarfile.open(path, "w:bz2") as out:
        for m in src.getmembers()[:150]:
            out.addfile(m, src.extractfile(m) if m.isfile() else None)
    f = srv.folder("arc-bz2")
    dest = srv.folder("arc-bz2-dest")
    meta = ingest(srv, f["id"], str(path))
    assert props(meta)["compression"] == "bzip2"
    job = unpack(srv, meta["id"], output_folder_id=dest["id"])
    assert job["state"] == "succeeded", job
    assert subfolders(srv, f["id"]) == {}
    root = subfolders(srv, dest["id"])["gettext-part"]
    files, folders = tree(srv, root["id"])
    want, want_dirs = members(str(path))
    assert {p: x["sha256"] for p, x in files.items()} == want
    assert set(folders) == want_dirs
    assert len(job["outputs"]) == len(want)


def test_members_are_ingested_by_their_own_kind(srv, tmp_path):
    path = tmp_path / "data.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
        z.write(TIPS, "survey/tips.csv")
        z.write(f"{PYU}/archive_directory.tgz", "survey/raw/inner.tgz")
    f = srv.folder("arc-kinds")
    job = unpack(srv, ingest(srv, f["id"], str(path))["id"])
    assert job["state"] == "succeeded", job
    files, _ = tree(srv, subfolders(srv, f["id"])["data"]["id"])
    tips = wait_file(srv, files["survey/tips.csv"]["id"])
    assert tips["kind"] == "table" and props(tips)["row_count"] == 244
    inner = wait_file(srv, files["survey/raw/inner.tgz"]["id"])
    assert inner["kind"] == "archive"  # listed, not unpacked on its own


def test_second_unpack_gets_a_new_folder_name(srv):
    f = srv.folder("arc-twice")
    meta = ingest(srv, f["id"], DIR_TAR)
    assert unpack(srv, meta["id"])["state"] == "succeeded"
    assert unpack(srv, meta["id"])["state"] == "succeeded"
    assert sorted(subfolders(srv, f["id"])) == ["archive_directory", "archive_directory (2)"]


def test_zip_bombs_fail_and_create_nothing(srv, tmp_path):
    f = srv.folder("arc-bombs")
    bz = tmp_path / "bomb.zip"
    with zipfile.ZipFile(bz, "w", zipfile.ZIP_BZIP2) as z:
        z.writestr("readme.txt", "hello")
        z.writestr("zeros.bin", b"\0" * (300 << 20))
    deflate = tmp_path / "deflate-bomb.zip"
    with zipfile.ZipFile(deflate, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as z:
        z.write(TIPS, "tips.csv")
        z.writestr("zeros.bin", b"\0" * (120 << 20))
    for path in (bz, deflate):
        meta = ingest(srv, f["id"], str(path))
        assert meta["kind"] == "archive"  # listing it is harmless
        assert props(meta)["total_uncompressed_size"] > 100 << 20
        job = unpack(srv, meta["id"])
        assert job["state"] == "failed" and "1000:1" in job["error"], job
        assert job["outputs"] == []
    # a tar.bz2 of 100 MiB of zeros: even listing it stops as soon as it expands past 1000:1
    tb = tmp_path / "zeros.tar.bz2"
    with tarfile.open(tb, "w:bz2") as t:
        ti = tarfile.TarInfo("zeros.bin")
        ti.size = 100 << 20
        t.addfile(ti, io.BytesIO(bytes(ti.size)))
    meta = ingest(srv, f["id"], str(tb))
    assert meta["status"] == "failed" and "1000:1" in meta["error"], meta
    job = unpack(srv, meta["id"])
    assert job["state"] == "failed" and "1000:1" in job["error"], job
    assert subfolders(srv, f["id"]) == {}
    names = [x["name"] for x in srv.api("GET", f"/folders/{f['id']}").json()["files"]]
    assert sorted(names) == ["bomb.zip", "deflate-bomb.zip", "zeros.tar.bz2"]


def test_total_size_limit(srv):
    f = srv.folder("arc-limit")
    meta = ingest(srv, f["id"], DIR_ZIP)
    job = unpack(srv, meta["id"], params={"max_total_size": 20})
    assert job["state"] == "failed" and "more than 20 bytes" in job["error"], job
    assert subfolders(srv, f["id"]) == {}
    job = unpack(srv, meta["id"], params={"max_total_size": 28})
    assert job["state"] == "succeeded", job


def tar_with(path, specs):
    with tarfile.open(path, "w", format=tarfile.GNU_FORMAT) as t:
        for name, kind, payload in specs:
            ti = tarfile.TarInfo(name)
            if kind == "file":
                ti.size = len(payload)
                t.addfile(ti, io.BytesIO(payload))
            else:
                ti.type = {"symlink": tarfile.SYMTYPE, "hardlink": tarfile.LNKTYPE, "chr": tarfile.CHRTYPE}[kind]
                ti.linkname = payload.decode() if payload else ""
                t.addfile(ti)


def test_paths_escaping_the_folder_fail_the_job(srv, tmp_path):
    f = srv.folder("arc-escape")
    ok = open(TIPS, "rb").read()
    cases = {
        "dotdot.tar": [("data/tips.csv", "file", ok), ("data/../../escape.txt", "file", b"bad")],
        "absolute.tar": [("data/tips.csv", "file", ok), ("/etc/cron.d/evil", "file", b"bad")],
        "mixed.tar": [("ok.csv", "file", ok), ("link", "symlink", b"/etc/passwd"), ("../x", "file", b"bad")],
    }
    for name, specs in cases.items():
        tar_with(tmp_path / name, specs)
        meta = ingest(srv, f["id"], str(tmp_path / name))
        job = unpack(srv, meta["id"])
        assert job["state"] == "failed", job
        assert ("'..'" in job["error"] or "absolute" in job["error"]) and "nothing was unpacked" in job["error"]
    assert subfolders(srv, f["id"]) == {}
    assert len(srv.api("GET", f"/folders/{f['id']}").json()["files"]) == 3


def test_links_and_devices_are_skipped(srv, tmp_path):
    f = srv.folder("arc-links")
    ok = open(TIPS, "rb").read()
    tar_with(tmp_path / "links.tar", [
        ("d/tips.csv", "file", ok), ("d/passwd", "symlink", b"/etc/passwd"), ("d/again", "hardlink", b"d/tips.csv"),
        ("d/null", "chr", b""), ("d/sub/./note.txt", "file", b"a note\n"), ("d/tips.csv", "file", ok + b"1,2\n")])
    meta = ingest(srv, f["id"], str(tmp_path / "links.tar"))
    assert props(meta)["link_count"] == 2 and props(meta)["special_count"] == 1
    job = unpack(srv, meta["id"])
    assert job["state"] == "succeeded", job
    files, folders = tree(srv, subfolders(srv, f["id"])["links"]["id"])
    # the later copy of a member wins, as tar extraction does
    assert {p: x["sha256"] for p, x in files.items()} == {
        "d/tips.csv": hashlib.sha256(ok + b"1,2\n").hexdigest(),
        "d/sub/note.txt": hashlib.sha256(b"a note\n").hexdigest()}
    assert sorted(folders) == ["d", "d/sub"]
    assert sorted((x["path"], x["reason"]) for x in job["result"]["skipped"]) == [
        ("d/again", "hard link"), ("d/null", "device or special file"), ("d/passwd", "symbolic link")]
    # the job list shows the same summary
    listed = [j for j in srv.api("GET", "/jobs?state=succeeded&limit=1000").json()["jobs"] if j["id"] == job["id"]]
    assert listed and listed[0]["result"] == job["result"]


def test_members_are_capped_by_the_largest_accepted_upload(fresh, tmp_path):
    s = fresh(env={"CARBOY_MAX_UPLOAD": "5000"})
    f = s.folder("arc-cap")

    def tgz(name, specs):
        tar_with(tmp_path / "t.tar", specs)
        path = tmp_path / name
        path.write_bytes(gzip.compress((tmp_path / "t.tar").read_bytes()))
        return path

    small = tgz("small.tar.gz", [("a.txt", "file", b"x" * 5000), ("b.txt", "file", b"y" * 10)])
    job = unpack(s, ingest(s, f["id"], str(small))["id"])
    assert job["state"] == "succeeded", job
    # a member one byte over the limit fails the unpack, whether its size is declared
    # (tar) or found while writing it (a lone .bz2 has no size in its header)
    big = tgz("big.tar.gz", [("a.txt", "file", b"x" * 10), ("huge.txt", "file", b"z" * 5001)])
    lone = tmp_path / "huge.txt.bz2"
    lone.write_bytes(bz2.compress(b"w" * 5001))
    for path in (big, lone):
        job = unpack(s, ingest(s, f["id"], str(path))["id"])
        assert job["state"] == "failed", job
        assert "larger than the largest accepted file (5000 bytes)" in job["error"], job
        assert job["outputs"] == [] and "result" not in job
    assert sorted(subfolders(s, f["id"])) == ["small"]


def test_unicode_names_and_refused_names(srv, tmp_path):
    f = srv.folder("arc-unicode")
    path = tmp_path / "unicode.zip"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("données/été.txt", "x")
        z.write(TIPS, "日本/テスト.csv")
    job = unpack(srv, ingest(srv, f["id"], str(path))["id"])
    assert job["state"] == "succeeded", job
    files, folders = tree(srv, subfolders(srv, f["id"])["unicode"]["id"])
    assert {p: x["sha256"] for p, x in files.items()} == members(str(path))[0]
    assert sorted(folders) == ["données", "日本"]
    tar_with(tmp_path / "control.tar", [("ok.txt", "file", b"x"), ("bad\x01name.txt", "file", b"y")])
    job = unpack(srv, ingest(srv, f["id"], str(tmp_path / "control.tar"))["id"])
    assert job["state"] == "failed" and "control characters" in job["error"], job
    assert list(subfolders(srv, f["id"])) == ["unicode"]


def test_names_that_are_not_utf8_are_read_as_latin1(srv, tmp_path):
    """A member name that is not UTF-8 is read as ISO-8859-1; in the listing a control
    character shows as '?'."""
    f = srv.folder("arc-latin1")
    path = tmp_path / "latin1.tar"
    with tarfile.open(path, "w", format=tarfile.GNU_FORMAT, encoding="latin-1") as t:
        for name in ["caf\xe9.txt", "na\xefve\x01\xff.txt", "plain.txt"]:
            ti = tarfile.TarInfo(name)
            ti.size = 1
            t.addfile(ti, io.BytesIO(b"x"))
    meta = ingest(srv, f["id"], str(path))
    assert meta["status"] == "processed", meta
    listing = srv.api("GET", f"/files/{meta['id']}/artifacts/listing").text
    assert [l.split("\t")[3] for l in listing.splitlines()] == ["café.txt", "naïve?ÿ.txt", "plain.txt"]


def test_not_an_archive_fails_clearly(srv):
    f = srv.folder("arc-not")
    meta = ingest(srv, f["id"], TIPS)
    job = unpack(srv, meta["id"])
    assert job["state"] == "failed" and "not an archive" in job["error"], job


def test_requests_are_validated(srv):
    f = srv.folder("arc-validate")
    meta = ingest(srv, f["id"], DIR_ZIP)
    problem(srv.api("POST", "/jobs", json={"type": "unpack", "inputs": []}), 400)
    problem(srv.api("POST", "/jobs", json={"type": "unpack", "inputs": [meta["id"]],
                                           "params": {"max_total_size": "big"}}), 400)
    problem(srv.api("POST", "/jobs", json={"type": "unpack", "inputs": ["0" * 24]}), 404)


def test_access_read_on_archive_and_write_on_destination(srv):
    owner_folder = srv.folder("arc-access")
    meta = ingest(srv, owner_folder["id"], DIR_ZIP)
    bob = srv.user("arc-bob")
    bob_tok = srv.make_token("arc-bob", "password-" + "x" * 8)
    # no access at all: the archive is invisible
    problem(srv.api("POST", "/jobs", json={"type": "unpack", "inputs": [meta["id"]]}, token=bob_tok), 404)
    r = srv.api("POST", f"/files/{meta['id']}/grants", json={"user_id": bob["id"], "role": "viewer"})
    assert r.status_code == 201, r.text
    # may read the archive, may not write beside it
    r = srv.api("POST", "/jobs", json={"type": "unpack", "inputs": [meta["id"]]}, token=bob_tok)
    assert r.status_code in (403, 404), r.text
    # into a folder of his own: yes
    r = srv.api("POST", "/folders", json={"name": "bob-space"}, token=bob_tok)
    mine = r.json()
    job = unpack(srv, meta["id"], token=bob_tok, output_folder_id=mine["id"])
    assert job["state"] == "succeeded", job
    sub = srv.api("GET", f"/folders/{mine['id']}", token=bob_tok).json()["folders"]
    assert [x["name"] for x in sub] == ["archive_directory"] and sub[0]["owner"]["username"] == "arc-bob"
    assert subfolders(srv, owner_folder["id"]) == {}


def test_unpack_members_as_packed_last_copy_wins_and_each_is_processed(srv):
    """The converter packs the members into one file with offsets: a path packed twice keeps
    its last content, an empty member is an empty file, and every member is its own file,
    processed: plain UTF-8 text is its own text (the converter writes no copy), text with
    an invalid byte gets a copy made valid, JSON named .txt is told JSON by libmagic's
    built-in test, and HTML named .txt keeps its type (the magic database sees anything
    tag-like); words of both texts are found."""
    html = b"<!DOCTYPE html>\n<html><head><title>t</title></head><body>hello</body></html>\n"
    entries = [
        ("a.txt", b"the first a\n"),
        ("sub/plain.txt", b"plain words of zqpackedword, an address <someone@example.org>, a < b\n"),
        ("sub/latin1.txt", b"caf\xe9 au lait zqlatinword\n"),
        ("data.txt", b'{"name": "x", "values": [1, 2, 3]}\n'),
        ("page.txt", html),
        ("empty.txt", b""),
        ("a.txt", b"the second and last a\n"),
    ]
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as t:
        for name, body in entries:
            info = tarfile.TarInfo(name)
            info.size = len(body)
            t.addfile(info, io.BytesIO(body))
    f = srv.folder("arc-packed")
    meta = ingest(srv, f["id"], None, name="packed.tar", data=buf.getvalue())
    job = unpack(srv, meta["id"])
    assert job["state"] == "succeeded", job
    files, folders = tree(srv, job["result"]["folder_id"])
    want = dict(entries)  # the last copy of a.txt
    assert sorted(files) == sorted(want) and folders == ["sub"], (files, folders)
    for path, f_ in files.items():
        assert f_["sha256"] == hashlib.sha256(want[path]).hexdigest(), path
        assert f_["size"] == len(want[path]), path
        assert srv.api("GET", f"/files/{f_['id']}/content").content == want[path], path
    done = {p: wait_file(srv, x["id"]) for p, x in files.items()}
    assert all(m["status"] == "processed" for m in done.values()), done
    plain = done["sub/plain.txt"]
    text = {a["kind"]: a for a in plain["artifacts"]}["text"]
    assert text["size"] == plain["size"], plain["artifacts"]
    assert srv.api("GET", f"/files/{plain['id']}/text").content == want["sub/plain.txt"]
    assert plain["media_type"].startswith("text/plain"), plain
    latin = done["sub/latin1.txt"]
    assert srv.api("GET", f"/files/{latin['id']}/text").content == "caf\ufffd au lait zqlatinword\n".encode()
    assert done["data.txt"]["media_type"].startswith("application/json"), done["data.txt"]
    assert done["page.txt"]["media_type"].startswith("text/html"), done["page.txt"]
    for word, path in (("zqpackedword", "sub/plain.txt"), ("zqlatinword", "sub/latin1.txt")):
        hits = srv.api("GET", f"/search?q={word}").json()["hits"]
        assert [h["file_id"] for h in hits] == [files[path]["id"]], (word, hits)
