"""Resumable uploads with the tus 1.0.0 protocol: creation, offsets, interrupted PATCH and
resume, checksums, termination, and the file that results."""
import base64
import hashlib
import os
import socket

import requests

from conftest import problem

TUS = {"Tus-Resumable": "1.0.0"}
AUTH = {}  # set per server by the fixture below


import pytest


@pytest.fixture(autouse=True)
def _auth(request):
    """Every tus request in this module carries the admin's token."""
    name = "server" if "server" in request.fixturenames else None
    if name:
        AUTH.clear()
        AUTH.update(request.getfixturevalue(name).auth)
    yield


def b64(s):
    return base64.b64encode(s.encode()).decode()


def create(server, folder_id, name, length):
    r = requests.post(server.url + "/api/v1/uploads", headers={
        **TUS, **AUTH, "Upload-Length": str(length),
        "Upload-Metadata": f"filename {b64(name)},folder_id {b64(folder_id)}"})
    assert r.status_code == 201, r.text
    assert r.headers["Tus-Resumable"] == "1.0.0"
    return server.url + r.headers["Location"]


def patch(url, offset, body, **headers):
    return requests.patch(url, data=body, headers={
        **TUS, **AUTH, **AUTH, "Upload-Offset": str(offset), "Content-Type": "application/offset+octet-stream", **headers})


def head(url):
    r = requests.head(url, headers={**TUS, **AUTH})
    assert r.status_code == 200 and r.headers["Cache-Control"] == "no-store"
    return int(r.headers["Upload-Offset"]), int(r.headers["Upload-Length"]), r.headers.get("Carboy-File-Id")


def test_options(server):
    r = requests.options(server.url + "/api/v1/uploads")
    assert r.status_code == 204
    assert r.headers["Tus-Version"] == "1.0.0"
    assert set(r.headers["Tus-Extension"].split(",")) == {"creation", "termination", "checksum"}
    assert "sha256" in r.headers["Tus-Checksum-Algorithm"].split(",")
    assert int(r.headers["Tus-Max-Size"]) > 0


def test_upload_in_chunks(server):
    f = server.folder("tus")
    data = os.urandom(3 * 1024 * 1024 + 17)
    url = create(server, f["id"], "stack.tif", len(data))
    assert head(url) == (0, len(data), None)
    chunk = 1024 * 1024
    for off in range(0, len(data), chunk):
        body = data[off:off + chunk]
        digest = base64.b64encode(hashlib.sha256(body).digest()).decode()
        r = patch(url, off, body, **{"Upload-Checksum": f"sha256 {digest}"})
        assert r.status_code == 204, r.text
        assert int(r.headers["Upload-Offset"]) == off + len(body)
    file_id = r.headers["Carboy-File-Id"]
    assert head(url) == (len(data), len(data), file_id)
    meta = server.api("GET", f"/files/{file_id}").json()
    assert meta["name"] == "stack.tif" and meta["sha256"] == hashlib.sha256(data).hexdigest()
    assert meta["kind"] == "image" and meta["folder_id"] == f["id"]
    assert server.api("GET", f"/files/{file_id}/content").content == data
    # nothing is left in the uploads folder
    assert not [n for n in os.listdir(os.path.join(server.data, "uploads")) if n.endswith(".part")]


def send_partial_patch(server, path, offset, total_length, partial):
    """A PATCH that announces total_length bytes, sends only `partial`, then drops."""
    s = socket.create_connection(("127.0.0.1", server.port))
    s.sendall((f"PATCH {path} HTTP/1.1\r\nHost: x\r\nTus-Resumable: 1.0.0\r\nAuthorization: Bearer {server.token}\r\n"
               f"Upload-Offset: {offset}\r\nContent-Type: application/offset+octet-stream\r\n"
               f"Content-Length: {total_length}\r\n\r\n").encode() + partial)
    s.shutdown(socket.SHUT_WR)
    try:
        s.recv(4096)
    except OSError:
        pass
    s.close()


def test_interrupted_patch_resumes(server):
    f = server.folder("tus-resume")
    data = os.urandom(2_000_000)
    url = create(server, f["id"], "big.raw", len(data))
    path = url[len(server.url):]
    send_partial_patch(server, path, 0, len(data), data[:700_000])
    offset, length, file_id = head(url)
    assert 0 < offset <= 700_000 and file_id is None
    # wrong offset is refused
    problem(patch(url, offset + 1, data[offset + 1:]), 409)
    r = patch(url, offset, data[offset:])
    assert r.status_code == 204, r.text
    file_id = r.headers["Carboy-File-Id"]
    assert server.api("GET", f"/files/{file_id}/content").content == data


def test_interrupted_patch_with_checksum_keeps_nothing(server):
    f = server.folder("tus-cks")
    data = os.urandom(500_000)
    url = create(server, f["id"], "c.bin", len(data))
    path = url[len(server.url):]
    digest = base64.b64encode(hashlib.sha256(data).digest()).decode()
    s = socket.create_connection(("127.0.0.1", server.port))
    s.sendall((f"PATCH {path} HTTP/1.1\r\nHost: x\r\nTus-Resumable: 1.0.0\r\nUpload-Offset: 0\r\n"
               f"Authorization: Bearer {server.token}\r\n"
               f"Upload-Checksum: sha256 {digest}\r\nContent-Type: application/offset+octet-stream\r\n"
               f"Content-Length: {len(data)}\r\n\r\n").encode() + data[:100_000])
    s.shutdown(socket.SHUT_WR)
    s.recv(4096)
    s.close()
    assert head(url)[0] == 0


def test_checksum_mismatch(server):
    f = server.folder("tus-bad")
    url = create(server, f["id"], "x.bin", 10)
    wrong = base64.b64encode(hashlib.sha256(b"other").digest()).decode()
    r = patch(url, 0, b"0123456789", **{"Upload-Checksum": f"sha256 {wrong}"})
    assert r.status_code == 460
    assert head(url)[0] == 0
    sha1 = base64.b64encode(hashlib.sha1(b"01234").digest()).decode()
    r = patch(url, 0, b"01234", **{"Upload-Checksum": f"sha1 {sha1}"})
    assert r.status_code == 204 and r.headers["Upload-Offset"] == "5"
    problem(patch(url, 5, b"56789", **{"Upload-Checksum": "crc32 AAAA"}), 400)
    problem(patch(url, 5, b"5678901234"), 413)
    assert head(url)[0] == 5


def test_protocol_errors(server):
    f = server.folder("tus-errors")
    r = requests.post(server.url + "/api/v1/uploads", headers={"Upload-Length": "5"})
    assert r.status_code == 412 and r.headers["Tus-Version"] == "1.0.0"
    problem(requests.post(server.url + "/api/v1/uploads", headers={**TUS, **AUTH, "Upload-Length": "-5"}), 400)
    problem(requests.post(server.url + "/api/v1/uploads", headers={**TUS, **AUTH, "Upload-Length": "5"}), 400)
    problem(requests.post(server.url + "/api/v1/uploads", headers={
        **TUS, **AUTH, "Upload-Length": "5", "Upload-Metadata": f"filename {b64('x')}"}), 400)
    problem(requests.post(server.url + "/api/v1/uploads", headers={
        **TUS, **AUTH, "Upload-Length": "5", "Upload-Metadata": f"filename {b64('../x')},folder_id {b64(f['id'])}"}), 400)
    problem(requests.post(server.url + "/api/v1/uploads", headers={
        **TUS, **AUTH, "Upload-Length": "5", "Upload-Metadata": f"filename {b64('x')},folder_id {b64('0' * 24)}"}), 404)
    problem(requests.post(server.url + "/api/v1/uploads", headers={
        **TUS, **AUTH, "Upload-Length": "5", "Upload-Metadata": "filename !!!,folder_id xx"}), 400)
    url = create(server, f["id"], "y.bin", 5)
    problem(requests.patch(url, data=b"12345", headers={**TUS, **AUTH, "Upload-Offset": "0",
                                                        "Content-Type": "application/octet-stream"}), 415)
    assert requests.head(server.url + "/api/v1/uploads/" + "0" * 24, headers={**TUS, **AUTH}).status_code == 404


def test_metadata_and_checksum_are_standard_base64_padded_or_not(server):
    """Upload-Metadata values and Upload-Checksum digests are base64 in the standard
    alphabet, with or without their padding; the URL-safe alphabet and wrong padding are
    refused."""
    f = server.folder("tus-base64")
    name = "~~~.txt"  # fn5+LnR4dA==: a '+', and padding
    for i, enc in enumerate([b64(name), b64(name).rstrip("=")]):
        r = requests.post(server.url + "/api/v1/uploads", headers={
            **TUS, **AUTH, "Upload-Length": "2", "Upload-Metadata": f"filename {enc},folder_id {b64(f['id'])}"})
        assert r.status_code == 201, r.text
        digest = base64.b64encode(hashlib.sha256(b"hi").digest()).decode()
        digest = digest.rstrip("=") if i else digest
        r = patch(server.url + r.headers["Location"], 0, b"hi", **{"Upload-Checksum": f"sha256 {digest}"})
        assert r.status_code == 204, r.text
        assert server.api("GET", f"/files/{r.headers['Carboy-File-Id']}").json()["name"] == name
    for bad in [b64(name).replace("+", "-"), b64(name) + "=", b64(name)[:-1]]:
        problem(requests.post(server.url + "/api/v1/uploads", headers={
            **TUS, **AUTH, "Upload-Length": "2", "Upload-Metadata": f"filename {bad},folder_id {b64(f['id'])}"}), 400)
    url = create(server, f["id"], "c.bin", 2)
    urlsafe = base64.urlsafe_b64encode(hashlib.sha256(b"he").digest()).decode()  # Ny9-L9LQ...
    assert "-" in urlsafe and "_" in urlsafe
    problem(patch(url, 0, b"he", **{"Upload-Checksum": f"sha256 {urlsafe}"}), 400)


def test_termination(server):
    f = server.folder("tus-term")
    url = create(server, f["id"], "t.bin", 100)
    assert patch(url, 0, b"x" * 40).status_code == 204
    r = requests.delete(url, headers={**TUS, **AUTH})
    assert r.status_code == 204
    assert requests.head(url, headers={**TUS, **AUTH}).status_code == 404
    assert patch(url, 40, b"y").status_code == 404
    assert server.api("GET", f"/folders/{f['id']}").json()["files"] == []


def test_zero_length_upload_completes_on_creation(server):
    f = server.folder("tus-zero")
    r = requests.post(server.url + "/api/v1/uploads", headers={
        **TUS, **AUTH, "Upload-Length": "0", "Upload-Metadata": f"filename {b64('empty.txt')},folder_id {b64(f['id'])}"})
    assert r.status_code == 201
    file_id = r.headers["Carboy-File-Id"]
    assert server.api("GET", f"/files/{file_id}").json()["size"] == 0


def test_tus_survives_restart(fresh):
    s = fresh()
    AUTH.clear()
    AUTH.update(s.auth)
    f = s.folder("tus-restart")
    data = os.urandom(300_000)
    url = create(s, f["id"], "r.bin", len(data))
    assert patch(url, 0, data[:100_000]).status_code == 204
    s.stop()
    s.start(port=s.port)
    assert head(url)[0] == 100_000
    r = patch(url, 100_000, data[100_000:])
    assert r.status_code == 204
    assert s.api("GET", f"/files/{r.headers['Carboy-File-Id']}/content").content == data
