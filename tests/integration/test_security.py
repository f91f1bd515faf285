"""Security checks through the real server (issue 10): path traversal in every kind of
name (files, folders, multipart and tus file names, renames and moves, versions and
artifacts, zip downloads, the UI's static paths, archive members of unpack jobs), SQL
injection in every parameter of every operation of the OpenAPI document, and oversized
and malformed input. The authorization matrix under load is in test_security_load.py.

Every refusal must be a 4xx problem+json (or a failed job with a readable reason),
nothing may be written outside the data folder (a sentinel tree around it is compared
before and after), no answer to one user may carry another user's private file, the
database must stay intact, and the server must go on serving."""
import base64
import hashlib
import http.client
import io
import json
import os
import sqlite3
import tarfile
import time
import warnings
import zipfile
from urllib.parse import quote

import pytest
import requests

from conftest import Server, finish, problem, wait_job, wait_file, ROOT

PW = "security-password-1"
MARK = "escape"  # every name an attack tries to write carries it
OPENAPI = json.load(open(os.path.join(ROOT, "schemas", "openapi.json")))


def snapshot(root, skip):
    """{relative path: (size, mtime)} of everything below root, skip's subtree left out."""
    out = {}
    for d, dirs, files in os.walk(root):
        if os.path.abspath(d) == os.path.abspath(skip):
            dirs[:] = []
            continue
        for name in dirs + files:
            p = os.path.join(d, name)
            st = os.lstat(p)
            out[os.path.relpath(p, root)] = (st.st_size, st.st_mtime_ns)
    return out


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    """A server whose data folder sits four levels down in a sentinel tree (so ../ up to
    four levels lands inside it), an attacker and a victim, each with a folder and a file."""
    base = tmp_path_factory.mktemp("sentinel")
    (base / "sentinel.txt").write_text("outside the data folder")
    data = base / "a" / "b" / "c" / "data"
    data.mkdir(parents=True)
    s = Server(str(data)).start()
    users = {n: s.user(n, PW) for n in ("mallory", "victim")}
    tok = {n: s.make_token(n, PW) for n in users}
    api = lambda who, m, p, **kw: s.api(m, p, token=tok[who], **kw)
    vf = api("victim", "POST", "/folders", json={"name": "victim-vault"}).json()
    vx = s.put(vf["id"], "zebracorn-secret.txt", b"zebracorn quagga private words\n",
               headers={"Authorization": f"Bearer {tok['victim']}"})
    mf = api("mallory", "POST", "/folders", json={"name": "mallory-home"}).json()
    mx = s.put(mf["id"], "notes.txt", b"mallory's own words\n", headers={"Authorization": f"Bearer {tok['mallory']}"})
    wait_file(s, vx["id"])
    wait_file(s, mx["id"])
    e = {"s": s, "base": str(base), "data": str(data), "users": users, "tok": tok, "api": api,
         "victim_folder": vf, "victim_file": vx, "folder": mf, "file": mx}
    e["before"] = snapshot(str(base), str(data))
    yield e
    finish(s)


def assert_contained(e):
    """Nothing outside the data folder changed, nothing inside it carries an attack's
    name (blobs are named by hash, uploads and work files by id), and the server serves."""
    assert snapshot(e["base"], e["data"]) == e["before"]
    for d, dirs, files in os.walk(e["data"]):
        for name in dirs + files:
            assert MARK not in name and "passwd" not in name, os.path.join(d, name)
            assert not os.path.islink(os.path.join(d, name)), os.path.join(d, name)
    assert requests.get(e["s"].url + "/healthz", timeout=10).status_code == 200


def refused(r, *statuses):
    """A 4xx problem+json (of one of statuses when given)."""
    assert 400 <= r.status_code < 500, f"{r.status_code}: {r.text[:300]}"
    if statuses:
        assert r.status_code in statuses, f"{r.status_code}: {r.text[:300]}"
    assert r.headers["Content-Type"].startswith("application/problem+json"), r.headers
    body = r.json()
    assert body["status"] == r.status_code and body["detail"]
    return body


def names_in(e, folder_id, who="mallory"):
    body = e["api"](who, "GET", f"/folders/{folder_id}?limit=1000").json()
    return {x["name"] for x in body["files"]} | {x["name"] for x in body["folders"]}


# ---------------------------------------------------------------- path traversal

TRAVERSAL_SEGMENTS = [  # as they go into one URL path segment (already percent-encoded)
    "..", "%2e%2e", "%2E%2E", ".%2e", "..%2f..%2fescape-1", "..%2F..%2F..%2F..%2Fescape-2",
    "%2e%2e%2f%2e%2e%2fescape-3", "..%5c..%5cescape-4", "..%5C..%5C..%5Cescape-5", "escape-6%00.txt",
    "%00", "escape-7%0a", "%c0%ae%c0%ae%c0%afescape-8", "%e0%80%ae%e0%80%ae", "%c0%ae%c0%ae",
    "..%c0%afescape-9", "%ff%feescape-10", "%2fetc%2fpasswd", "%5c%5cescape-11", "escape-12%2f..",
]
TRAVERSAL_NAMES = [  # as JSON strings or multipart/tus file names
    "..", ".", "../escape-n1", "../../../../escape-n2", "..\\..\\escape-n3", "/etc/passwd",
    "/tmp/escape-n4", "a/../../escape-n5", "escape\x00.txt", "escape\n", "escape\x7f", "", "x" * 256,
]


def test_put_names(env):
    e = env
    F = e["folder"]["id"]
    before = names_in(e, F)
    for seg in TRAVERSAL_SEGMENTS:
        r = e["api"]("mallory", "PUT", f"/folders/{F}/files/{seg}", data=b"bad bytes")
        refused(r, 400, 404)
    # a raw path with real dot segments, as a client that does not normalize sends it
    for raw in ("/../../escape-r1", "/files/../../escape-r2", "/files/..", "/files/.%2e/escape-r3"):
        conn = http.client.HTTPConnection("127.0.0.1", e["s"].port, timeout=30)
        conn.request("PUT", f"/api/v1/folders/{F}{raw}", body=b"bad", headers={**auth(e, "mallory")})
        resp = conn.getresponse()
        resp.read()
        assert 400 <= resp.status < 500 and resp.getheader("Content-Type").startswith("application/problem+json"), (raw, resp.status)
        conn.close()
    assert names_in(e, F) == before
    assert_contained(e)


def auth(e, who):
    return {"Authorization": f"Bearer {e['tok'][who]}"}


def multipart(parts, boundary="----carboy-security-boundary-7Mx"):
    """A multipart/form-data body from (field, filename bytes, content), built by hand so
    that names can hold any byte."""
    out = b""
    for field, filename, content in parts:
        out += (f"--{boundary}\r\nContent-Disposition: form-data; name=\"{field}\"; filename=\"").encode()
        out += filename + b"\"\r\nContent-Type: application/octet-stream\r\n\r\n" + content + b"\r\n"
    out += f"--{boundary}--\r\n".encode()
    return out, {"Content-Type": f"multipart/form-data; boundary={boundary}"}


def test_multipart_file_names(env):
    e = env
    F = e["folder"]["id"]
    tried = [n.encode() for n in TRAVERSAL_NAMES] + [b"\xff\xfe", b"\xc0\xae\xc0\xae", b"..\\..", b"a\\..\\.."]
    for name in tried:
        body, hdr = multipart([("file", name, b"multipart bytes")])
        r = e["api"]("mallory", "POST", f"/folders/{F}/files", data=body, headers=hdr)
        if r.status_code == 201:
            # a path keeps only its last component, which must itself be a valid name
            for f in r.json()["files"]:
                n = f["name"]
                assert n not in (".", "..") and "/" not in n and "\\" not in n and "\x00" not in n, (name, n)
                last = name.replace(b"\\", b"/").rsplit(b"/", 1)[-1].split(b"\x00")[0].decode()
                assert n == last, (name, n)
        else:
            refused(r, 400)
    assert_contained(e)


def tus_create(e, filename, folder_id):
    md = f"filename {base64.b64encode(filename).decode()},folder_id {base64.b64encode(folder_id.encode()).decode()}"
    return e["api"]("mallory", "POST", "/uploads",
                    headers={"Tus-Resumable": "1.0.0", "Upload-Length": "3", "Upload-Metadata": md})


def test_tus_file_names_and_folders(env):
    e = env
    F = e["folder"]["id"]
    for name in [n.encode() for n in TRAVERSAL_NAMES] + [b"\xff", b"\xc0\xae\xc0\xae", b"a\\b"]:
        refused(tus_create(e, name, F), 400)
    for folder in ("..", "../..", "%2e%2e", "' OR 1=1 --", e["victim_folder"]["id"]):
        refused(tus_create(e, b"fine.txt", folder), 400, 404)
    # not valid base64 at all
    r = e["api"]("mallory", "POST", "/uploads", headers={"Tus-Resumable": "1.0.0", "Upload-Length": "3",
                                                          "Upload-Metadata": "filename ../../../escape"})
    refused(r, 400)
    assert_contained(e)


def test_rename_and_move_bodies(env):
    e = env
    api, F, X = e["api"], e["folder"]["id"], e["file"]["id"]
    sub = api("mallory", "POST", "/folders", json={"name": "sub", "parent_id": F}).json()
    for name in TRAVERSAL_NAMES:
        refused(api("mallory", "PATCH", f"/files/{X}", json={"name": name}), 400)
        refused(api("mallory", "PATCH", f"/folders/{sub['id']}", json={"name": name}), 400)
        refused(api("mallory", "POST", "/folders", json={"name": name, "parent_id": F}), 400)
    for target in ("..", "../..", "/", "%2e%2e", e["victim_folder"]["id"]):
        refused(api("mallory", "PATCH", f"/files/{X}", json={"folder_id": target}), 400, 404)
        refused(api("mallory", "PATCH", f"/folders/{sub['id']}", json={"parent_id": target}), 400, 404)
        refused(api("mallory", "POST", "/folders", json={"name": "n", "parent_id": target}), 400, 404)
    assert api("mallory", "GET", f"/files/{X}").json()["name"] == "notes.txt"
    assert_contained(e)


def test_versions_artifacts_and_schemas(env):
    e = env
    api, X = e["api"], e["file"]["id"]
    for v in ("..", "../1", "1/..", "%2e%2e", "1%00", "-1", "0", "1e3", "99999999999999999999"):
        r = api("mallory", "GET", f"/files/{X}/content?version={v}")
        refused(r, 400, 404)
    for seg in TRAVERSAL_SEGMENTS + ["..%2f..%2f..%2fcarboy.db", "..%2fblobs", "text%00"]:
        refused(api("mallory", "GET", f"/files/{X}/artifacts/{seg}"), 400, 404)
        refused(api("mallory", "GET", f"/schemas/{seg}"), 400, 404)
        refused(api("mallory", "GET", f"/files/{seg}"), 400, 404)
        refused(api("mallory", "GET", f"/folders/{seg}/archive"), 400, 404)
        status, ctype, _ = raw_get(e, f"/s/{seg}")
        assert status in (400, 404) and ctype.startswith("application/problem+json"), (seg, status)
    assert_contained(e)


def test_zip_download_names_stay_inside(env):
    e = env
    api = e["api"]
    top = api("mallory", "POST", "/folders", json={"name": "zip-names"}).json()
    odd = ["...", ". .", "-rf", "C:", "C:x", "~", "$HOME", "%2e%2e", "'", "\"q\".txt", "é…", " ", "a:b"]
    sub = api("mallory", "POST", "/folders", json={"name": "...", "parent_id": top["id"]}).json()
    for n in odd:
        e["s"].put(top["id"], n, b"z", headers=auth(e, "mallory"))
        e["s"].put(sub["id"], n, b"y", headers=auth(e, "mallory"))
    r = api("mallory", "GET", f"/folders/{top['id']}/archive")
    assert r.status_code == 200
    z = zipfile.ZipFile(io.BytesIO(r.content))
    names = z.namelist()
    assert len([n for n in names if not n.endswith("/")]) == 2 * len(odd)
    for n in names:
        parts = n.rstrip("/").split("/")
        assert not n.startswith("/") and "\\" not in n and ".." not in parts and "." not in parts, n
        assert parts[0] == "zip-names", n
        assert os.path.normpath(os.path.join("/x", n)).startswith("/x/zip-names"), n
    # the download's file name is quoted, never a second header
    x = next(f for f in api("mallory", "GET", f"/folders/{top['id']}").json()["files"] if f["name"] == "\"q\".txt")
    cd = api("mallory", "GET", f"/files/{x['id']}/content").headers["Content-Disposition"]
    assert "\r" not in cd and "\n" not in cd and "filename*=UTF-8''%22q%22.txt" in cd, cd
    assert_contained(e)


UI_PATHS = [
    "/ui/../../etc/passwd", "/../../etc/passwd", "/assets/../../../etc/passwd", "/assets/%2e%2e/%2e%2e/etc/passwd",
    "/assets/..%2f..%2f..%2fetc%2fpasswd", "/assets/%2e%2e%2f%2e%2e%2fetc%2fpasswd", "/assets/..%5c..%5cetc%5cpasswd",
    "/assets/..\\..\\etc\\passwd", "/assets/index.js%00.png", "/assets/%00", "/assets/%c0%ae%c0%ae%c0%afetc%c0%afpasswd",
    "/assets/%e0%80%ae%e0%80%ae/etc/passwd", "/assets/%252e%252e%252fetc%252fpasswd", "//etc/passwd", "/assets//etc/passwd",
    "/api/v1/../../etc/passwd", "/api/v1/schemas/..%2f..%2f..%2fetc%2fpasswd", "/s/..%2f..%2fcarboy.db",
    "/folders/..%2f..%2fcarboy.db", "/files/%2e%2e", "/assets/../index.html", "/assets/../../a/b/c/data/carboy.db",
    "/api/v1/files/..%2f..%2fcarboy.db/content", "/blobs/", "/carboy.db", "/uploads/", "/%2e%2e/carboy.db",
]


def raw_get(e, path):
    """GET with the path exactly as given (requests would remove dot segments)."""
    conn = http.client.HTTPConnection("127.0.0.1", e["s"].port, timeout=30)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        return resp.status, resp.getheader("Content-Type") or "", resp.read()
    finally:
        conn.close()


def test_ui_static_paths(env):
    e = env
    index = requests.get(e["s"].url + "/", timeout=30).content
    passwd = open("/etc/passwd", "rb").read()[:16]
    for path in UI_PATHS:
        status, ctype, body = raw_get(e, path)
        assert status < 500, (path, status)
        assert passwd not in body and b"SQLite format 3" not in body, path
        if status == 200:  # only the UI's entry page, for its client-side routes
            assert body == index, path
        else:
            assert 400 <= status < 500 and ctype.startswith("application/problem+json"), (path, status)
    assert_contained(e)


# ---- archive members

def unpack(e, file_id):
    r = e["api"]("mallory", "POST", "/jobs", json={"type": "unpack", "inputs": [file_id]})
    assert r.status_code == 202, r.text
    return wait_job(e["s"], r.json()["id"])


def zip_bytes(entries):
    """entries: (name, content, mode or None). NUL in a name is patched in afterwards
    (Python's zipfile cuts names at NUL): write it as '\\x00' -> 'NUL_' of the same length."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z, warnings.catch_warnings():
        warnings.simplefilter("ignore")  # duplicate names are meant
        for name, content, mode in entries:
            zi = zipfile.ZipInfo(name.replace("\x00", "~"))
            if mode is not None:
                zi.create_system = 3
                zi.external_attr = mode << 16
            z.writestr(zi, content)
    data = buf.getvalue()
    for name, _, _ in entries:
        if "\x00" in name:
            data = data.replace(name.replace("\x00", "~").encode(), name.encode())
    return data


def tar_bytes(entries):
    """entries: (name, kind, payload): file (bytes), symlink/hardlink (target), chr, blk, fifo."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
        for name, kind, payload in entries:
            ti = tarfile.TarInfo(name)
            if kind == "file":
                ti.size = len(payload)
                t.addfile(ti, io.BytesIO(payload))
                continue
            ti.type = {"symlink": tarfile.SYMTYPE, "hardlink": tarfile.LNKTYPE, "chr": tarfile.CHRTYPE,
                       "blk": tarfile.BLKTYPE, "fifo": tarfile.FIFOTYPE}[kind]
            ti.linkname = payload or ""
            t.addfile(ti)
    return buf.getvalue()


LINK = 0o120777
FAILING_ARCHIVES = {  # each must fail its unpack, naming why, and create nothing
    "zip-dotdot.zip": lambda b: zip_bytes([("ok.txt", b"ok", None), ("../../escape-z1.txt", b"bad", None)]),
    "zip-deep-dotdot.zip": lambda b: zip_bytes([("a/b/../../../escape-z2.txt", b"bad", None)]),
    "zip-absolute.zip": lambda b: zip_bytes([("ok.txt", b"ok", None), (f"{b}/escape-z3.txt", b"bad", None)]),
    "zip-backslash.zip": lambda b: zip_bytes([("ok.txt", b"ok", None), ("..\\..\\escape-z4.txt", b"bad", None)]),
    "zip-nul.zip": lambda b: zip_bytes([("ok.txt", b"ok", None), ("escape\x00z5.txt", b"bad", None)]),
    "zip-control.zip": lambda b: zip_bytes([("escape\x01z6.txt", b"bad", None)]),
    "zip-newline.zip": lambda b: zip_bytes([("escape\nz7.txt", b"bad", None)]),
    "tar-dotdot.tar": lambda b: tar_bytes([("ok.txt", "file", b"ok"), ("x/../../escape-t1.txt", "file", b"bad")]),
    "tar-absolute.tar": lambda b: tar_bytes([("ok.txt", "file", b"ok"), (f"{b}/escape-t2.txt", "file", b"bad")]),
    "tar-control.tar": lambda b: tar_bytes([("escape\x1bt3.txt", "file", b"bad")]),
    "tar-nul-pax.tar": lambda b: tar_bytes([("escape\x00t4.txt", "file", b"bad")]),
}


@pytest.mark.parametrize("name", sorted(FAILING_ARCHIVES))
def test_unsafe_archive_members_fail_the_unpack(env, name):
    e = env
    dest = e["api"]("mallory", "POST", "/folders", json={"name": f"unpack-{name}"}).json()
    data = FAILING_ARCHIVES[name](e["base"])
    meta = wait_file(e["s"], e["s"].put(dest["id"], name, data, headers=auth(e, "mallory"))["id"])
    job = unpack(e, meta["id"])
    if "nul" in name and job["state"] == "succeeded":
        # libarchive hands names over as C strings, cut at the NUL: what is made is the
        # part before it, an ordinary name inside carboy's own tree
        made = names_in(e, job["result"]["folder_id"])
        assert made <= {"ok.txt", "escape"}, made
        assert_contained(e)
        return
    assert job["state"] == "failed", job
    err = job["error"]
    assert "nothing was unpacked" in err, err
    assert any(w in err for w in ("'..'", "absolute", "control characters")), err
    assert job["outputs"] == []
    assert names_in(e, dest["id"]) == {name}
    assert_contained(e)


def test_links_devices_and_duplicates_are_skipped(env):
    e = env
    b = e["base"]
    dest = e["api"]("mallory", "POST", "/folders", json={"name": "unpack-links"}).json()
    z = zip_bytes([("d/ok.txt", b"ok", None), ("d/up", b"../../../..", LINK), ("d/abs", b.encode(), LINK),
                   ("d/passwd", b"/etc/passwd", LINK), ("d/ok.txt", b"second copy", None),
                   ("d/up/escape-zl.txt", b"through the link", None)])
    t = tar_bytes([("d/ok.txt", "file", b"ok"), ("d/up", "symlink", "../../../.."), ("d/abs", "symlink", b),
                   ("d/hard", "hardlink", "/etc/passwd"), ("d/hard2", "hardlink", "../../escape-th"),
                   ("d/null", "chr", None), ("d/disk", "blk", None), ("d/pipe", "fifo", None),
                   ("d/up/escape-tl.txt", "file", b"through the link"), ("d/ok.txt", "file", b"second copy")])
    for name, data in (("links.zip", z), ("links.tar", t)):
        meta = wait_file(e["s"], e["s"].put(dest["id"], name, data, headers=auth(e, "mallory"))["id"])
        job = unpack(e, meta["id"])
        if job["state"] == "failed":  # refusing the whole archive is as safe as skipping
            assert job["error"] and job["outputs"] == [], job
            continue
        assert job["state"] == "succeeded", job
        skipped = {x["path"]: x["reason"] for x in job["result"]["skipped"]}
        assert {"d/up", "d/abs"} <= set(skipped), skipped
        assert all(("link" in why or "special" in why or "device" in why) for why in skipped.values()), skipped
        root = e["api"]("mallory", "GET", f"/folders/{job['result']['folder_id']}").json()
        d = next(x for x in root["folders"] if x["name"] == "d")
        listing = e["api"]("mallory", "GET", f"/folders/{d['id']}").json()
        files = {x["name"]: x for x in listing["files"]}
        assert set(files) == {"ok.txt"}, files  # no link, device or second name made
        assert files["ok.txt"]["sha256"] == hashlib.sha256(b"second copy").hexdigest()
        # a member "through" a skipped link is only a folder in carboy's own tree
        assert {x["name"] for x in listing["folders"]} <= {"up"}
    assert_contained(e)


# ---------------------------------------------------------------- SQL injection

PAYLOADS = [
    "' OR 1=1 --", "' OR '1'='1", "\" OR \"\"=\"", "1; DROP TABLE files; --", "'; DROP TABLE users; --",
    "' UNION SELECT id, name, sha256, 1, 1 FROM files --", "1 UNION ALL SELECT NULL,NULL,NULL--",
    "') OR ('1'='1", "admin'--", "NEAR(", "\"", "*", "^", "zebra*", "NEAR(zebracorn quagga)", "a OR b",
    "%", "_", "%' --", "_%", "\\", "0 OR 1=1", "-1 OR 1=1", "1' AND SLEEP(1)--", "x'||(SELECT name FROM files)||'",
]
HEADER_SAFE = [p for p in PAYLOADS if all(32 <= ord(c) < 127 for c in p)]


def resolve(schema):
    if "$ref" in schema:
        return resolve(OPENAPI["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]])
    return schema


def operations():
    """(method, path template, parameters, JSON body schema or None) of every operation."""
    out = []
    for path, item in OPENAPI["paths"].items():
        shared = item.get("parameters", [])
        for method, op in item.items():
            if method == "parameters":
                continue
            params = shared + op.get("parameters", [])
            body = op.get("requestBody", {}).get("content", {}).get("application/json")
            out.append((method.upper(), path, params, resolve(body["schema"]) if body else None))
    return out


def valid_params(e):
    """A value for every path parameter the caller may use, so that the one under attack is
    the only bad input of its request."""
    return {"id": e["folder"]["id"], "user_id": e["users"]["mallory"]["id"], "name": "inj.txt", "kind": "text",
            "grant_id": "0" * 24, "token": e["link"], "version": "1"}


def path_value(e, path, pname):
    if pname == "id":
        if path.startswith("/api/v1/files/") or path.startswith("/s/{token}/files/"):
            return e["file"]["id"]
        if path.startswith("/api/v1/jobs/"):
            return e["job"]
        if path.startswith("/api/v1/groups/"):
            return e["group"]
    return valid_params(e)[pname]


def base_body(e, schema, field=None):
    """A body that would be accepted (as far as the caller's values go), field aside.
    Grants name nobody who exists, so that no payload can ever make one."""
    good = {"name": "inj-name", "parent_id": e["folder"]["id"], "folder_id": e["folder"]["id"],
            "username": "typecheck-user", "password": PW, "user_id": "0" * 24, "group_id": "0" * 24, "group": "nogroup",
            "role": "viewer", "visibility": "private", "type": "noop", "inputs": [e["file"]["id"]],
            "params": {"ms": 1}, "output_folder_id": e["folder"]["id"], "url": "http://127.0.0.1:9/hook",
            "secret": "s" * 20, "events": ["job.failed"], "scope": "read", "expires_at": "2999-01-01T00:00:00Z",
            "metadata": {"k": "v"}, "expires_in_days": 1, "is_admin": False,
            "training_file_id": e["file"]["id"], "target": "activity"}
    props = schema.get("properties", {})
    body = {k: good[k] for k in props if k in good and k != "id"}
    if "user_id" in body and "group_id" in body:  # grants name exactly one grantee
        for k in ("user_id", "group_id", "username", "group"):
            if k != (field if field in ("group_id", "username", "group") else "user_id"):
                body.pop(k, None)
    return body


def string_slots(schema):
    """(field, how to place a payload) for every string a body holds: fields, array items,
    object keys and values."""
    slots = []
    for k, p in schema.get("properties", {}).items():
        if k == "id":
            continue
        t = p.get("type")
        types = t if isinstance(t, list) else [t]
        if "string" in types or "enum" in p:
            slots.append((k, lambda v: v))
        elif "array" in types:
            slots.append((k, lambda v: [v]))
        elif "object" in types:
            slots.append((k, lambda v: {v: "x"}))
            slots.append((k, lambda v: {"to": v, "k": v}))
    return slots


def secrets(e):
    v = e["victim_folder"], e["victim_file"]
    return [v[0]["id"].encode(), v[1]["id"].encode(), b"zebracorn-secret", b"-secret.txt", b"victim-vault", b"private words"]


def send(e, method, path, **kw):
    kw.setdefault("timeout", 60)
    headers = {**auth(e, "mallory"), **kw.pop("headers", {})}
    r = requests.request(method, e["s"].url + path, headers=headers, stream=True, **kw)
    if r.headers.get("Content-Type", "").startswith("text/event-stream"):
        r.close()  # a stream that was opened: the parameter was read as a valid one
        return r, b""
    return r, r.content


@pytest.fixture(scope="module")
def injection_env(env):
    e = env
    link = e["api"]("mallory", "POST", f"/folders/{e['folder']['id']}/links", json={}).json()
    e["link"] = link["token"]
    job = e["api"]("mallory", "POST", "/jobs", json={"type": "noop", "params": {"ms": 1}}).json()
    e["job"] = job["id"]
    e["group"] = e["s"].api("POST", "/groups", json={"name": "security-lab"}).json()["id"]
    return e


def db_counts(e):
    db = sqlite3.connect(f"file:{e['data']}/carboy.db?mode=ro", uri=True, timeout=30)
    try:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        users = db.execute("SELECT count(*) FROM users").fetchone()[0]
        files = db.execute("SELECT count(*) FROM files").fetchone()[0]
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        victim = db.execute("SELECT name FROM files WHERE id = ?", (e["victim_file"]["id"],)).fetchone()
        grants = db.execute("SELECT count(*) FROM grants").fetchone()[0]
        return users, files, tables, victim, grants
    finally:
        db.close()


def test_sql_injection_in_every_parameter(injection_env):
    e = injection_env
    users0, files0, tables0, victim0, grants0 = db_counts(e)
    leaks, errors, tried = [], [], 0
    ops = operations()

    def check(label, r, body):
        nonlocal tried
        tried += 1
        if r.status_code >= 500:
            errors.append(f"{label}: {r.status_code} {body[:200]!r}")
        for secret in secrets(e):
            if secret in body:
                leaks.append(f"{label}: {secret!r} in {body[:300]!r}")
        if r.status_code >= 400 and not r.headers.get("Content-Type", "").startswith("application/problem+json"):
            errors.append(f"{label}: {r.status_code} without problem+json")

    for method, path, params, schema in ops:
        pnames = [p["name"] for p in params if p["in"] == "path"]
        fill = {n: quote(path_value(e, path, n), safe="") for n in pnames}
        json_kw = {"json": base_body(e, schema)} if schema else {}
        if path == "/api/v1/folders/{id}/files/{name}":
            json_kw = {"data": b"injected"}
        for p in params:
            for payload in (PAYLOADS if p["in"] != "header" else HEADER_SAFE):
                label = f"{method} {path} {p['in']}:{p['name']}={payload!r}"
                url = path
                for n in pnames:
                    url = url.replace("{" + n + "}", quote(payload, safe="") if n == p["name"] and p["in"] == "path" else fill[n])
                kw = dict(json_kw)
                if p["in"] == "query":
                    kw["params"] = {p["name"]: payload}
                    if p["name"] == "where":
                        kw["params"] = {"where": [payload, f"name:eq:{payload}", f"{payload}:gt:1"]}
                elif p["in"] == "header":
                    kw["headers"] = {p["name"]: payload}
                elif p["in"] != "path":
                    continue
                r, body = send(e, method, url, **kw)
                check(label, r, body)
        if schema:
            url = path
            for n in pnames:
                url = url.replace("{" + n + "}", fill[n])
            for field, place in string_slots(schema):
                for payload in PAYLOADS:
                    body = base_body(e, schema, field)
                    body[field] = place(payload)
                    r, content = send(e, method, url, json=body)
                    check(f"{method} {path} body:{field}={payload!r}", r, content)
                    if path == "/api/v1/auth/login":
                        assert r.status_code != 200, (field, payload)
    assert not errors, f"{len(errors)} of {tried}:\n" + "\n".join(errors[:40])
    assert not leaks, "\n".join(leaks[:40])
    # the database is whole: same users, no file lost, every table there, integrity ok,
    # no grant made from a payload (no user or group is named like one)
    users1, files1, tables1, victim1, grants1 = db_counts(e)
    assert users1 == users0 and tables1 == tables0 and victim1 == victim0 and files1 >= files0
    assert grants1 == grants0
    r = e["api"]("victim", "GET", f"/files/{e['victim_file']['id']}/content")
    assert r.status_code == 200 and r.content == b"zebracorn quagga private words\n"
    hits = e["api"]("victim", "GET", "/search?q=zebracorn").json()["hits"]
    assert [h["file_id"] for h in hits] == [e["victim_file"]["id"]]
    print(f"\nSQL injection: {len(ops)} operations, {tried} requests")
    assert tried > 2000
    assert_contained(e)


def test_search_patterns_never_reach_other_users(injection_env):
    """FTS5 syntax and LIKE wildcards in every search parameter, as the attacker and
    anonymously: never an error, never the victim's file (which every one of them would
    match if it were read as syntax)."""
    e = injection_env
    qs = ["*", "z*", "zebra*", "\"zebracorn\"", "zebracorn OR mallory", "NEAR(zebracorn quagga)", "zebracorn*",
          "{name}: zebracorn", "name:zebracorn", "%", "%zebra%", "_ebracorn", "zebracorn'--", "quagga AND NOT x"]
    for who in ("mallory", None):
        for q in qs:
            headers = auth(e, who) if who else {}
            for params in ({"q": q}, {"q": q, "kind": "%"}, {"where": f"{q}:eq:%"}, {"q": q, "folder_id": "%"}):
                r = requests.get(e["s"].url + "/api/v1/search", params=params, headers=headers, timeout=60)
                assert r.status_code in (200, 400, 404), (params, r.status_code, r.text[:200])
                if r.status_code != 200:
                    refused(r)
                for secret in secrets(e):
                    assert secret not in r.content, (who, params)
    # the victim's own search finds it: the words are there to be found
    assert e["api"]("victim", "GET", "/search?q=zebra*").json()["hits"]


# ---------------------------------------------------------------- oversized and malformed

def json_ops(e):
    """Every operation taking a JSON body, with a URL whose path parameters are valid."""
    out = []
    for method, path, params, schema in operations():
        if not schema:
            continue
        url = path
        for p in params:
            if p["in"] == "path":
                url = url.replace("{" + p["name"] + "}", quote(path_value(e, path, p["name"]), safe=""))
        out.append((method, url, schema))
    return out


def raw(e, method, url, data, who="admin", ctype="application/json"):
    tok = e["s"].token if who == "admin" else e["tok"][who]
    return requests.request(method, e["s"].url + url, data=data, timeout=60,
                            headers={"Authorization": f"Bearer {tok}", "Content-Type": ctype})


def test_malformed_json_bodies_on_every_operation(injection_env):
    e = injection_env
    bodies = {
        "huge": b'{"name": "' + b"x" * (2 << 20) + b'"}',
        "deep-65": b'{"name":"n","x":' + b"[" * 64 + b"]" * 64 + b"}",
        "deep-1000": b'{"name":' + b"[" * 1000 + b"]" * 1000 + b"}",
        "deep-100000": b'{"a":' + b'{"a":' * 100000 + b"1" + b"}" * 100001,
        "invalid-utf8": b'{"name":"\xff\xfe", "username":"\xc0\xae", "password":"\xed\xa0\x80xxxxxxxx"}',
        "overlong-utf8": b'{"name":"\xc0\xae\xc0\xae"}',
        "nul-escape": b'{"name":"escape\\u0000/../x", "username":"a\\u0000b", "url":"http://a\\u0000"}',
        "nul-byte": b'{"name":"a\x00b"}',
        "truncated": b'{"name": "abc',
        "not-object": b'["name"]',
        "number-only": b"1e999999",
        "trailing": b'{"name":"n"} {"name":"m"}',
        "empty": b"",
        "lone-surrogate": b'{"name":"\\ud800"}',
    }
    for method, url, schema in json_ops(e):
        for what, data in bodies.items():
            r = raw(e, method, url, data)
            b = refused(r)
            if what == "huge":
                assert r.status_code == 413, (method, url)
            elif what.startswith(("deep", "invalid", "overlong", "nul-escape")):
                assert r.status_code == 400, (method, url, what, r.status_code)
        refused(raw(e, method, url, b'{"name":"n"}', ctype="text/plain"), 415, 401, 403)
    assert requests.get(e["s"].url + "/healthz", timeout=10).status_code == 200


def allowed(prop, value):
    """Whether a JSON value fits a property schema (the part of it carboy's schemas use)."""
    if "enum" in prop:
        return value in prop["enum"]
    t = prop.get("type")
    types = t if isinstance(t, list) else [t] if t else []
    if "oneOf" in prop or not types:
        return True
    py = {"string": str, "integer": int, "number": (int, float), "boolean": bool, "array": list,
          "object": dict, "null": type(None)}
    for name in types:
        if isinstance(value, bool) and name in ("integer", "number"):
            continue
        if isinstance(value, py[name]):
            return True
    return False


WRONG = [12345, -1, 1.5, 1e300, -1e300, True, False, None, [], ["x"], {}, {"a": {"b": 1}}, "", "str", "9" * 400]


def test_wrong_types_in_every_json_field(injection_env):
    """As the administrator (so validation is reached on every operation): each field of
    each body, every wrong type: a 4xx naming the field, never a 5xx, never accepted."""
    e = injection_env
    accepted, bad = [], []
    for method, url, schema in json_ops(e):
        for field, prop in schema.get("properties", {}).items():
            if field == "id":
                continue
            for value in WRONG:
                if allowed(prop, value) or (value is None and field not in schema.get("required", [])):
                    continue  # null stands for an optional field left out
                body = base_body(e, schema, field)
                body[field] = value
                r = e["s"].api(method, url[len("/api/v1"):] if url.startswith("/api/v1") else url, json=body)
                if r.status_code >= 500 or r.status_code < 400:
                    (bad if r.status_code >= 500 else accepted).append(f"{method} {url} {field}={value!r}: {r.status_code} {r.text[:150]}")
                    continue
                b = refused(r)
                if r.status_code == 400 and value is not None and b.get("field") and field not in b["field"]:
                    bad.append(f"{method} {url} {field}={value!r}: 400 names {b['field']!r}")
    assert not bad, "\n".join(bad[:40])
    assert not accepted, "\n".join(accepted[:40])


def test_numbers_out_of_range_and_odd_query_strings(injection_env):
    e = injection_env
    api, X, F = e["api"], e["file"]["id"], e["folder"]["id"]
    for q in ("limit=0", "limit=1001", "limit=-1", "limit=99999999999999999999", "limit=1e3", "limit=0x10",
              "limit=%00", "limit=", "cursor=%ff%fe", "cursor=" + "A" * 5000, "limit=1&limit=1000",
              "limit=5&limit=abc", "cursor=a&cursor=b"):
        for path in ("/folders", f"/folders/{F}", "/jobs", "/tokens", "/search?q=words", f"/files/{X}/records"):
            sep = "&" if "?" in path else "?"
            r = api("mallory", "GET", path + sep + q)
            assert r.status_code < 500, (path, q, r.text[:200])
            if r.status_code >= 400:
                refused(r)
    for q in ("version=0", "version=-1", "version=18446744073709551617", "version=1.0", "version=1x", "version=0x1"):
        refused(api("mallory", "GET", f"/files/{X}/content?{q}"), 400, 404)
    # a repeated parameter: the first one counts
    r = api("mallory", "GET", f"/files/{X}/content?version=1&version=99")
    assert r.status_code == 200 and r.content == b"mallory's own words\n"
    refused(api("mallory", "GET", f"/files/{X}/content?version=99&version=1"), 404)
    for q in ("threshold=1e999", "threshold=NaN", "threshold=-inf", "threshold=2", "limit=1e9", "mode=x&mode=y"):
        r = api("mallory", "GET", f"/search/structure?smiles=CCO&{q}")
        refused(r, 400)
    # a value longer than its parameter can be is refused, not ignored (an events stream
    # asked for with timeout=99999999999999999999 stayed open for good)
    for q in ("timeout=0", "timeout=99999999999999999999", "timeout=" + "1" * 40, "timeout=-5", "timeout=1.5",
              "timeout=nan", "timeout="):
        refused(api("mallory", "GET", f"/events?{q}", timeout=10), 400)
    for q in ("mode=exact" + "x" * 40, "threshold=0." + "5" * 40, "limit=" + "1" * 40):
        refused(api("mallory", "GET", f"/search/structure?smiles=CCO&{q}"), 400)
    refused(api("mallory", "GET", "/jobs?state=queued" + "x" * 40), 400)
    for rng in ("bytes=99999999999999999999-", "bytes=-99999999999999999999", "bytes=5-1", "bytes=--1",
                "bytes=0-0,1-1,2-2," * 200, "bytes=\xff"):
        r = api("mallory", "GET", f"/files/{X}/content", headers={"Range": rng.encode("latin-1")})
        assert r.status_code in (200, 206, 416), (rng[:40], r.status_code)
    for job in ({"type": "noop", "params": {"ms": 1e300}}, {"type": "noop", "params": {"ms": -1}},
                {"type": "unpack", "inputs": [X], "params": {"max_total_size": 1e300}},
                {"type": "unpack", "inputs": [X], "params": {"max_total_size": -1}},
                {"type": "convert", "inputs": [X], "params": {"to": "t" * 10000}},
                {"type": "noop", "inputs": [X] * 10000}):
        r = api("mallory", "POST", "/jobs", json=job)
        assert r.status_code < 500, (job["type"], r.text[:200])
        if r.status_code >= 400:
            refused(r)
        else:
            wait_job(e["s"], r.json()["id"])
    for h in ({"Upload-Length": "99999999999999999999999"}, {"Upload-Length": "-1"}, {"Upload-Length": "1e3"},
              {"Upload-Length": ""}):
        md = f"filename {base64.b64encode(b'n.txt').decode()},folder_id {base64.b64encode(F.encode()).decode()}"
        refused(api("mallory", "POST", "/uploads", headers={"Tus-Resumable": "1.0.0", "Upload-Metadata": md, **h}))
    # very long query strings and headers: civetweb refuses them itself, as problem+json
    for r in (api("mallory", "GET", "/search?q=" + "a" * 100000),
              api("mallory", "GET", "/folders", headers={"X-Padding": "p" * 40000})):
        refused(r, 400, 413, 414, 431)
    r = api("mallory", "GET", "/search?q=" + "ab " * 6000)  # 30,000 bytes encoded: inside the 32 KiB head
    assert r.status_code in (200, 400), r.status_code
    # names: invalid UTF-8, NUL, overlong forms, too long
    for seg in ("%ff%fe", "%c0%ae", "a%00b", "%ed%a0%80", "x" * 256, "%e2%80%ae" + "txt.exe"):
        r = api("mallory", "PUT", f"/folders/{F}/files/{seg}", data=b"n")
        if seg.startswith("%e2%80%ae"):  # U+202E is a valid character: accepted as it is
            assert r.status_code == 201
            continue
        refused(r, 400, 404)  # a NUL cannot even be part of a route (404)
    assert requests.get(e["s"].url + "/healthz", timeout=10).status_code == 200
    assert_contained(e)


def test_malformed_requests_on_the_wire(injection_env):
    e = injection_env
    import socket
    lines = [b"GARBAGE\r\n\r\n", b"GET /healthz HTTP/9.9\r\n\r\n", b"GET /a\x00b HTTP/1.1\r\nHost: x\r\n\r\n",
             b"GET /healthz HTTP/1.1\r\nContent-Length: -5\r\n\r\n",
             b"POST /api/v1/folders HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
             b"GET /" + b"a" * 40000 + b" HTTP/1.1\r\n\r\n", b"\xff\xfe\xfd\r\n\r\n",
             b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + b"X: y\r\n" * 2000 + b"\r\n"]
    for line in lines:
        c = socket.create_connection(("127.0.0.1", e["s"].port), timeout=30)
        got = b""
        try:
            try:  # the server may answer and close before it has read everything
                c.sendall(line)
                c.shutdown(socket.SHUT_WR)
            except OSError:
                pass
            while True:
                chunk = c.recv(65536)
                if not chunk:
                    break
                got += chunk
        except ConnectionResetError:
            pass
        finally:
            c.close()
        if got:
            status = int(got.split(b" ", 2)[1])
            assert status < 500 or status == 505, (line[:40], got[:200])
            if status >= 400:
                assert b"application/problem+json" in got.split(b"\r\n\r\n", 1)[0], (line[:40], got[:300])
    assert requests.get(e["s"].url + "/healthz", timeout=10).status_code == 200
