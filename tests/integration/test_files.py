"""Files: raw and multipart uploads, versions, downloads with ETag/Range/If-None-Match,
metadata, rename/move, delete, dedup, size limits."""
import glob
import hashlib
import os
from urllib.parse import quote

import requests

from conftest import problem


def sha(b):
    return hashlib.sha256(b).hexdigest()


def blob_files(server):
    return [p for p in glob.glob(os.path.join(server.data, "blobs", "??", "??", "*")) if len(os.path.basename(p)) == 64]


def test_raw_put_round_trip(server):
    f = server.folder("raw")
    data = os.urandom(300_000)
    meta = server.put(f["id"], "spectrum.bin", data)
    assert meta["size"] == len(data) and meta["sha256"] == sha(data) and meta["version"] == 1
    assert meta["status"] == "uploaded" and meta["folder_id"] == f["id"]
    assert [v["version"] for v in meta["versions"]] == [1]
    r = server.api("GET", f"/files/{meta['id']}/content")
    assert r.status_code == 200 and r.content == data
    assert r.headers["ETag"] == f'"{sha(data)}"'
    assert r.headers["Accept-Ranges"] == "bytes"
    assert r.headers["Content-Disposition"].startswith('attachment; filename="spectrum.bin"')
    r = server.api("GET", f"/files/{meta['id']}")
    assert r.status_code == 200 and r.json()["sha256"] == sha(data)


def test_unicode_and_odd_names(server):
    f = server.folder("names")
    for name in ["spectre é.csv", "a b%c.txt", "数据.sdf", "quote\"d.txt", "semi;colon.txt"]:
        meta = server.put(f["id"], name, name.encode())
        assert meta["name"] == name
        r = server.api("GET", f"/files/{meta['id']}/content")
        assert r.content == name.encode()
        assert "filename*=UTF-8''" + quote(name, safe="") in r.headers["Content-Disposition"]
    for bad in ["..", "a%2Fb", "a%5Cb", "x%00y", "%0a"]:
        r = server.api("PUT", f"/folders/{f['id']}/files/{bad}", data=b"x")
        assert r.status_code in (400, 404), (bad, r.status_code)
        assert r.headers["Content-Type"].startswith("application/problem+json")


def test_media_type_and_kind_guess(server):
    f = server.folder("kinds")
    assert server.put(f["id"], "aspirin.sdf", b"x")["kind"] == "structure"
    assert server.put(f["id"], "data.csv", b"a,b\n1,2\n")["kind"] == "table"
    assert server.put(f["id"], "pic.png", b"\x89PNG")["media_type"] == "image/png"
    assert server.put(f["id"], "blob", b"x")["kind"] == "other"
    # the kind the converter that claims the suffix gives (its name, before it reads it)
    assert server.put(f["id"], "step.rxn", b"x")["kind"] == "reaction"
    assert server.put(f["id"], "cell.mcif", b"x")["kind"] == "crystal"
    assert server.put(f["id"], "notes.yaml", b"x")["kind"] == "text"
    assert server.put(f["id"], "stack.btf", b"x")["kind"] == "image"
    assert server.put(f["id"], "runs.psv", b"x")["kind"] == "table"
    assert server.put(f["id"], "src.tar.zst", b"x")["kind"] == "archive"


def test_versions_on_reupload(server):
    f = server.folder("versions")
    v1 = server.put(f["id"], "notes.txt", b"first")
    v2 = server.put(f["id"], "notes.txt", b"second version")
    assert v2["id"] == v1["id"] and v2["version"] == 2
    assert [(v["version"], v["size"]) for v in v2["versions"]] == [(1, 5), (2, 14)]
    assert server.api("GET", f"/files/{v1['id']}/content").content == b"second version"
    assert server.api("GET", f"/files/{v1['id']}/content?version=1").content == b"first"
    problem(server.api("GET", f"/files/{v1['id']}/content?version=3"), 404)
    problem(server.api("GET", f"/files/{v1['id']}/content?version=zero"), 400)
    listing = server.api("GET", f"/folders/{f['id']}").json()["files"]
    assert len(listing) == 1 and listing[0]["version"] == 2


def test_multipart_upload(server):
    f = server.folder("multi")
    a, b = os.urandom(70_000), b"small text\n"
    r = server.api("POST", f"/folders/{f['id']}/files",
                   files=[("file", ("a.bin", a)), ("note", (None, "ignored field")), ("file", ("b.txt", b))])
    assert r.status_code == 201, r.text
    files = r.json()["files"]
    assert [(x["name"], x["size"], x["sha256"]) for x in files] == [("a.bin", len(a), sha(a)), ("b.txt", len(b), sha(b))]
    assert server.api("GET", f"/files/{files[0]['id']}/content").content == a
    # a client that sends a path keeps only the last component
    r = server.api("POST", f"/folders/{f['id']}/files", files=[("file", ("dir/sub/c.txt", b"c"))])
    assert r.status_code == 201 and r.json()["files"][0]["name"] == "c.txt"
    problem(server.api("POST", f"/folders/{f['id']}/files", data=b"raw", headers={"Content-Type": "application/octet-stream"}), 415)
    problem(server.api("POST", f"/folders/{f['id']}/files", files=[("other", ("x.txt", b"x"))]), 400)
    problem(server.api("POST", f"/folders/{f['id']}/files", files=[("file", ("..", b"x"))]), 400)
    problem(server.api("POST", f"/folders/{'0' * 24}/files", files=[("file", ("x.txt", b"x"))]), 404)


def test_ranges(server):
    f = server.folder("ranges")
    data = os.urandom(1_000_003)
    meta = server.put(f["id"], "r.bin", data)
    url = f"/files/{meta['id']}/content"
    size = len(data)
    for header, lo, hi in [("bytes=0-0", 0, 0), ("bytes=0-99", 0, 99), ("bytes=500000-500999", 500000, 500999),
                           (f"bytes={size - 10}-", size - 10, size - 1), ("bytes=-7", size - 7, size - 1),
                           (f"bytes=999990-{size + 50}", 999990, size - 1), ("bytes=-5000000", 0, size - 1)]:
        r = server.api("GET", url, headers={"Range": header})
        assert r.status_code == 206, header
        assert r.content == data[lo:hi + 1], header
        assert r.headers["Content-Range"] == f"bytes {lo}-{hi}/{size}", header
        assert int(r.headers["Content-Length"]) == hi - lo + 1
    r = server.api("GET", url, headers={"Range": f"bytes={size}-"})
    assert r.status_code == 416 and r.headers["Content-Range"] == f"bytes */{size}"
    # malformed or multiple ranges: the whole file
    for header in ["bytes=abc", "pages=1-2", "bytes=5-1", "bytes=0-1,5-6"]:
        r = server.api("GET", url, headers={"Range": header})
        assert r.status_code == 200 and len(r.content) == size, header
    # If-Range with a stale validator gets the whole file
    r = server.api("GET", url, headers={"Range": "bytes=0-9", "If-Range": '"stale"'})
    assert r.status_code == 200 and len(r.content) == size
    r = server.api("GET", url, headers={"Range": "bytes=0-9", "If-Range": f'"{sha(data)}"'})
    assert r.status_code == 206 and r.content == data[:10]


def test_conditional_get_and_head(server):
    f = server.folder("etag")
    meta = server.put(f["id"], "e.txt", b"etag me")
    url = f"/files/{meta['id']}/content"
    etag = server.api("GET", url).headers["ETag"]
    r = server.api("GET", url, headers={"If-None-Match": etag})
    assert r.status_code == 304 and r.content == b"" and r.headers["ETag"] == etag
    r = server.api("GET", url, headers={"If-None-Match": f'"nope", {etag}'})
    assert r.status_code == 304
    r = server.api("GET", url, headers={"If-None-Match": '"nope"'})
    assert r.status_code == 200 and r.content == b"etag me"
    r = server.api("HEAD", url)
    assert r.status_code == 200 and r.headers["Content-Length"] == "7" and r.content == b""


def test_empty_file(server):
    f = server.folder("empty")
    meta = server.put(f["id"], "empty.dat", b"")
    assert meta["size"] == 0 and meta["sha256"] == sha(b"")
    r = server.api("GET", f"/files/{meta['id']}/content")
    assert r.status_code == 200 and r.content == b""


def test_identical_uploads_stored_once(server):
    f = server.folder("dedup")
    data = os.urandom(123_457)
    before = set(blob_files(server))
    ids = {server.put(f["id"], f"copy{i}.bin", data)["id"] for i in range(4)}
    ids.add(server.api("POST", f"/folders/{f['id']}/files", files=[("file", ("copy9.bin", data))]).json()["files"][0]["id"])
    assert len(ids) == 5
    # the shared server's background jobs may add derived blobs meanwhile: count only the
    # new blobs that hold these bytes (any name), which must be exactly one
    new = [p for p in set(blob_files(server)) - before if os.path.getsize(p) == len(data)]
    assert [os.path.basename(p) for p in new] == [sha(data)]
    with open(new[0], "rb") as fh:
        assert fh.read() == data


def test_patch_rename_move_metadata(server):
    a = server.folder("patch-a")
    b = server.folder("patch-b")
    meta = server.put(a["id"], "sample.txt", b"sample")
    server.put(a["id"], "taken.txt", b"t")
    r = server.api("PATCH", f"/files/{meta['id']}", json={"name": "renamed.txt"})
    assert r.status_code == 200 and r.json()["name"] == "renamed.txt"
    problem(server.api("PATCH", f"/files/{meta['id']}", json={"name": "taken.txt"}), 409)
    problem(server.api("PATCH", f"/files/{meta['id']}", json={"name": "a/b"}), 400)
    r = server.api("PATCH", f"/files/{meta['id']}", json={"folder_id": b["id"]})
    assert r.status_code == 200 and r.json()["folder_id"] == b["id"]
    problem(server.api("PATCH", f"/files/{meta['id']}", json={"folder_id": "f" * 24}), 404)
    md = {"temperature": {"value": 298.15, "unit": "K", "iri": "http://purl.obolibrary.org/obo/UO_0000012"},
          "operator": "alice", "replicate": 3, "verified": True}
    r = server.api("PATCH", f"/files/{meta['id']}", json={"metadata": md})
    assert r.status_code == 200, r.text
    props = {p["name"]: p for p in r.json()["properties"]}
    assert props["temperature"]["value"] == 298.15 and props["temperature"]["unit"] == "K"
    assert props["temperature"]["iri"].endswith("UO_0000012") and props["temperature"]["source"] == "user"
    assert props["operator"]["value"] == "alice" and props["replicate"]["value"] == 3
    assert props["verified"]["value"] == "true"
    assert r.json()["metadata"] == md
    for bad, field in [({"metadata": [1]}, "metadata"), ({"metadata": {"x": [1, 2]}}, "metadata.x"),
                       ({"metadata": {"x": {"value": 1, "iri": "ftp://x"}}}, "metadata.x"),
                       ({"metadata": {"x": {"value": 1, "unit": 5}}}, "metadata.x"),
                       ({"name": 12}, "name")]:
        body = problem(server.api("PATCH", f"/files/{meta['id']}", json=bad), 400)
        assert body["field"] == field, (bad, body)
    # a rejected patch changed nothing
    assert server.api("GET", f"/files/{meta['id']}").json()["metadata"] == md


def test_delete_file(server):
    f = server.folder("del")
    meta = server.put(f["id"], "gone.txt", b"gone")
    assert server.api("DELETE", f"/files/{meta['id']}").status_code == 204
    problem(server.api("GET", f"/files/{meta['id']}"), 404)
    problem(server.api("GET", f"/files/{meta['id']}/content"), 404)
    problem(server.api("DELETE", f"/files/{meta['id']}"), 404)
    assert server.api("GET", f"/folders/{f['id']}").json()["files"] == []
    # the name can be used again and starts a new file
    again = server.put(f["id"], "gone.txt", b"back")
    assert again["id"] != meta["id"] and again["version"] == 1


def test_not_found_ids_never_reach_storage(server):
    for bad in ["nope", "0" * 24, "..%2F..%2Fetc%2Fpasswd", "%2e%2e", "a" * 5000]:
        r = server.api("GET", f"/files/{bad}")
        assert r.status_code == 404


def test_upload_limit(fresh):
    s = fresh(env={"CARBOY_MAX_UPLOAD": "1000"})
    f = s.folder("limits")
    problem(s.api("PUT", f"/folders/{f['id']}/files/big.bin", data=b"x" * 1001), 413)
    # without a Content-Length the limit still holds while streaming
    problem(s.api("PUT", f"/folders/{f['id']}/files/big2.bin", data=iter([b"x" * 600, b"y" * 600])), 413)
    problem(s.api("POST", f"/folders/{f['id']}/files", files=[("file", ("m.bin", b"z" * 2000))]), 413)
    assert s.api("GET", f"/folders/{f['id']}").json()["files"] == []
    assert s.put(f["id"], "ok.bin", b"x" * 1000)["size"] == 1000
    assert requests.get(s.url + "/readyz").status_code == 200


def test_store_failure_answers_507_and_keeps_nothing(fresh):
    s = fresh(env={"CARBOY_STORE_FAULT": "write:enospc:50000"})
    f = s.folder("full")
    problem(s.api("PUT", f"/folders/{f['id']}/files/a.bin", data=os.urandom(100_000)), 507)
    assert s.api("GET", f"/folders/{f['id']}").json()["files"] == []
    assert not os.listdir(os.path.join(s.data, "blobs", ".tmp"))
    assert s.put(f["id"], "small.bin", b"fits")["size"] == 4


def test_expect_100_continue(server):
    """Clients such as curl -T wait for '100 Continue' before sending a body."""
    import socket
    f = server.folder("expect")
    s = socket.create_connection(("127.0.0.1", server.port))
    s.settimeout(5)
    s.sendall((f"PUT /api/v1/folders/{f['id']}/files/e.bin HTTP/1.1\r\nHost: x\r\n"
               f"Authorization: Bearer {server.token}\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n").encode())
    assert s.recv(1000) == b"HTTP/1.1 100 Continue\r\n\r\n"
    s.sendall(b"hello")
    reply = b""
    while b"\r\n\r\n" not in reply or not reply.endswith(b"}"):
        chunk = s.recv(4096)
        if not chunk:
            break
        reply += chunk
    s.close()
    assert reply.startswith(b"HTTP/1.1 201 Created") and b'"size":5' in reply
    # a request refused before its body gets no 100 and is answered at once
    s = socket.create_connection(("127.0.0.1", server.port))
    s.settimeout(5)
    s.sendall((f"PUT /api/v1/folders/{f['id']}/files/e.bin HTTP/1.1\r\nHost: x\r\n"
               f"Content-Length: 5\r\nExpect: 100-continue\r\n\r\n").encode())
    assert s.recv(1000).startswith(b"HTTP/1.1 404")
    s.close()


def test_metadata_validated_against_json_schemas(server):
    import requests as rq
    listed = {s["name"] for s in rq.get(server.url + "/api/v1/schemas").json()["schemas"]}
    assert {"metadata", "sample"} <= listed
    schema = rq.get(server.url + "/api/v1/schemas/sample")
    assert schema.status_code == 200 and schema.json()["$id"] == "sample"
    problem(rq.get(server.url + "/api/v1/schemas/nope"), 404)
    problem(rq.get(server.url + "/api/v1/schemas/..%2Fetc"), 404)
    f = server.folder("schemas")
    meta = server.put(f["id"], "sample.csv", b"a\n1\n")
    good = {"$schema": "sample", "sample_id": "AB-12", "operator": "alice",
            "temperature": {"value": 300, "unit": "K", "iri": "http://purl.obolibrary.org/obo/UO_0000012"}}
    r = server.api("PATCH", f"/files/{meta['id']}", json={"metadata": good})
    assert r.status_code == 200, r.text
    names = {p["name"] for p in r.json()["properties"]}
    assert "sample_id" in names and "$schema" not in names
    for bad, field, words in [
            ({"$schema": "sample", "operator": "alice"}, "metadata.sample_id", "required"),
            ({"$schema": "sample", "sample_id": "lowercase-1", "operator": "a"}, "metadata.sample_id", "pattern"),
            ({"$schema": "sample", "sample_id": "AB-1", "operator": "a", "temperature": {"value": 3, "unit": "F"}},
             "metadata.temperature.unit", "one of"),
            ({"$schema": "sample", "sample_id": "AB-1", "operator": "a", "replicate": 1.5}, "metadata.replicate", "integer"),
            ({"$schema": "unknown-schema", "x": 1}, "metadata/$schema", "no schema"),
            ({"x": {"value": 1, "color": "red"}}, "metadata.x", "allowed forms")]:
        body = problem(server.api("PATCH", f"/files/{meta['id']}", json={"metadata": bad}), 400)
        assert body["field"] == field and words in body["detail"], (bad, body)
    assert server.api("GET", f"/files/{meta['id']}").json()["metadata"] == good
