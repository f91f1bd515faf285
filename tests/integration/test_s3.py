"""The S3 store against a real S3-compatible server: an s3rver process (npm, tests/s3)
started here on a loopback port. s3rver does not check SigV4 signatures, so carboy's
requests go through a proxy that checks every signature with botocore (see
s3_harness.py) and refuses any that does not match; each server's proxy must have
verified requests and seen no mismatch. Covered: raw, multipart and tus uploads, ranges,
HEAD, identical content stored once, a 120 MiB multipart object, a prefix with spaces and
non-ASCII letters, path-style and virtual-host addressing, the ops table (head, get,
paginated list, remove, fetch) through a small tool, retries on 503, s3rver killed in the
middle of an upload, carboy killed in the middle of a multipart upload, the ingest
pipeline (records, text, search, preview, conversion, unpack), credentials from the
environment and from an ECS-style endpoint (refreshed before they expire), and bad
configuration refused at start."""
import hashlib
import io
import os
import re
import select
import socket
import subprocess
import threading
import time
import zipfile
from urllib.parse import quote

import pytest
import requests

from conftest import BIN, Server, finish, problem, wait_file, wait_job
from s3_harness import ACCESS_KEY, CredentialsEndpoint, S3rver, SigV4Proxy, available

BUCKET = "carboy"
PREFIX = "lab data/μ-probe ü"
SECRET = "env-secret-7f3a"  # checked by the proxy (s3rver ignores secrets)
PART = 5 << 20
TOOL = os.path.join(os.path.dirname(BIN), "tests", "unit", "store_tool")
NCI = "/usr/share/RDKit/Data/NCI/first_200.props.sdf"
ASAN = "asan" in BIN



def sha(b):
    return hashlib.sha256(b).hexdigest()


def store_url(endpoint, prefix=PREFIX, bucket=BUCKET, path_style=True):
    q = "endpoint=" + quote(endpoint, safe="")
    if path_style:
        q += "&path_style=1"
    return f"s3://{bucket}/{quote(prefix)}?{q}" if prefix else f"s3://{bucket}?{q}"


def s3_env(**extra):
    env = {"AWS_ACCESS_KEY_ID": ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": SECRET, "CARBOY_S3_PART_SIZE": "5M"}
    env.update(extra)
    return env


def clean_env(env):
    """The test's own environment without any AWS_* setting (nothing must reach AWS)."""
    out = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    out.update(env)
    return out


def s3_server(tmp_path_factory, url, env):
    s = Server(str(tmp_path_factory.mktemp("data")), env)
    s.env = {k: v for k, v in s.env.items() if not k.startswith("AWS_") or k in env}
    return s.start(["--store", url])


def blob_keys(s3, prefix=PREFIX, bucket=BUCKET):
    """sha -> size of the blobs under prefix, read from s3rver with botocore."""
    base = prefix + "/" if prefix else ""
    out = {}
    for k, size in s3.keys(bucket, base).items():
        m = re.fullmatch(re.escape(base) + r"([0-9a-f]{2})/([0-9a-f]{2})/([0-9a-f]{64})", k)
        if m and m.group(3).startswith(m.group(1) + m.group(2)):
            out[m.group(3)] = size
    return out


def tmp_keys(s3, prefix=PREFIX, bucket=BUCKET):
    return s3.keys(bucket, (prefix + "/" if prefix else "") + ".tmp/")


def check_signatures(proxy):
    assert proxy.verified > 0
    assert proxy.mismatches == [], proxy.mismatches[:3]


@pytest.fixture(scope="module")
def s3(tmp_path_factory):
    assert available(), "s3rver is not installed: run scripts/install-deps.sh (npm ci in tests/s3)"
    srv = S3rver(str(tmp_path_factory.mktemp("s3") / "data"), buckets=(BUCKET, "vhost")).start()
    yield srv
    srv.stop()


@pytest.fixture(scope="module")
def proxy(s3):
    p = SigV4Proxy(s3.port, secret=SECRET)
    yield p
    p.close()


@pytest.fixture(scope="module")
def srv(tmp_path_factory, s3, proxy):
    s = s3_server(tmp_path_factory, store_url(proxy.endpoint), s3_env())
    yield s
    finish(s)
    check_signatures(proxy)


# ---- uploads and downloads ----

def test_raw_multipart_and_tus_uploads_round_trip(srv, s3, proxy):
    f = srv.folder("round trip")
    small = b"hello S3\n"
    big = os.urandom(4 * PART + 12345)  # five parts
    a = srv.put(f["id"], "small.txt", small)
    b = srv.put(f["id"], "big.bin", big)
    empty = srv.put(f["id"], "empty", b"")
    assert empty["sha256"] == sha(b"") and srv.api("GET", f"/files/{empty['id']}/content").content == b""
    assert a["sha256"] == sha(small) and b["sha256"] == sha(big) and b["size"] == len(big)
    for meta, data in ((a, small), (b, big)):
        r = srv.api("GET", f"/files/{meta['id']}/content")
        assert r.status_code == 200 and r.content == data and r.headers["ETag"].strip('"') == sha(data)
    # multipart/form-data, two files, one of them over a part
    form = os.urandom(PART + 7)
    r = srv.api("POST", f"/folders/{f['id']}/files",
                files=[("file", ("form-a.txt", b"form part one")), ("file", ("form-b.bin", form))])
    assert r.status_code == 201, r.text
    files = {x["name"]: x for x in r.json()["files"]}
    assert srv.api("GET", f"/files/{files['form-b.bin']['id']}/content").content == form
    # tus, in three PATCHes
    import base64
    tus = {"Tus-Resumable": "1.0.0", **srv.auth}
    data = os.urandom(2 * PART + 999)
    b64 = lambda s: base64.b64encode(s.encode()).decode()
    r = requests.post(srv.url + "/api/v1/uploads", headers={
        **tus, "Upload-Length": str(len(data)), "Upload-Metadata": f"filename {b64('tus.bin')},folder_id {b64(f['id'])}"})
    assert r.status_code == 201, r.text
    url = srv.url + r.headers["Location"]
    step = len(data) // 3 + 1
    for off in range(0, len(data), step):
        r = requests.patch(url, data=data[off:off + step], headers={
            **tus, "Upload-Offset": str(off), "Content-Type": "application/offset+octet-stream"})
        assert r.status_code == 204, r.text
    tid = r.headers["Carboy-File-Id"]
    assert srv.api("GET", f"/files/{tid}/content").content == data
    # every blob is in the bucket under the prefix, at its hash, whole; nothing temporary
    keys = blob_keys(s3)
    for d in (small, big, form, data, b"form part one", b""):
        assert keys.get(sha(d)) == len(d)
    assert tmp_keys(s3) == {}
    check_signatures(proxy)


def test_ranges_and_head(srv):
    f = srv.folder("ranges")
    data = os.urandom(3 * PART + 4321)
    meta = srv.put(f["id"], "r.bin", data)
    url = f"/files/{meta['id']}/content"
    n = len(data)
    for rng, want in (("bytes=0-99", data[:100]),
                      (f"bytes={PART - 10}-{PART + 9}", data[PART - 10:PART + 10]),  # across parts
                      (f"bytes={n - 100}-", data[-100:]),
                      ("bytes=-4321", data[-4321:]),
                      (f"bytes=1000-{2 * PART}", data[1000:2 * PART + 1])):
        r = srv.api("GET", url, headers={"Range": rng})
        assert r.status_code == 206, (rng, r.text[:200])
        assert r.content == want, rng
    r = srv.api("GET", url, headers={"Range": f"bytes={n}-"})
    assert r.status_code == 416 and r.headers["Content-Range"] == f"bytes */{n}"
    h = srv.api("HEAD", url)
    assert h.status_code == 200 and int(h.headers["Content-Length"]) == n


def test_identical_content_is_stored_once(srv, s3, proxy):
    f = srv.folder("dedup")
    small, big = os.urandom(1000), os.urandom(2 * PART + 1)
    srv.put(f["id"], "one.bin", small)
    srv.put(f["id"], "big-one.bin", big)

    def writes(d):  # PUTs (objects and copies) to the blob's own key
        key = quote(f"{PREFIX}/{sha(d)[:2]}/{sha(d)[2:4]}/{sha(d)}", safe="/~")
        return [r for r in proxy.requests if r[0] == "PUT" and r[2].split("?")[0].endswith(key)]

    before = (len(writes(small)), len(writes(big)))
    assert before == (1, 1)
    srv.put(f["id"], "two.bin", small)
    srv.put(f["id"], "big-two.bin", big)
    assert (len(writes(small)), len(writes(big))) == before  # found by HEAD, not written again
    keys = blob_keys(s3)
    assert keys[sha(small)] == len(small) and keys[sha(big)] == len(big)
    assert tmp_keys(s3) == {}


def test_large_multipart_object(srv, s3, tmp_path):
    f = srv.folder("large")
    size = 120 << 20
    path = tmp_path / "large.bin"
    h = hashlib.sha256()
    with open(path, "wb") as out:
        for i in range(size >> 20):
            block = hashlib.sha256(b"%d" % i).digest() * (1 << 15)
            h.update(block)
            out.write(block)
    peak = [0]
    done = threading.Event()

    def sample():  # the server's resident memory while the upload streams
        while not done.is_set():
            peak[0] = max(peak[0], srv.rss_kib())
            time.sleep(0.05)

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        with open(path, "rb") as body:
            r = srv.api("PUT", f"/folders/{f['id']}/files/large.bin", data=body, timeout=600)
    finally:
        done.set()
        sampler.join()
    assert r.status_code == 201, r.text
    assert r.json()["sha256"] == h.hexdigest() and r.json()["size"] == size
    got = hashlib.sha256()
    with srv.api("GET", f"/files/{r.json()['id']}/content", stream=True, timeout=600) as d:
        assert d.status_code == 200
        for chunk in d.iter_content(1 << 20):
            got.update(chunk)
    assert got.hexdigest() == h.hexdigest()
    assert blob_keys(s3)[h.hexdigest()] == size
    assert tmp_keys(s3) == {}
    if not ASAN:  # memory is bounded by (parallel + 1) x part size (here 5 x 5 MiB), not by the blob
        print(f"resident memory during the upload: at most {peak[0]} KiB")
        assert peak[0] < 96 * 1024, f"resident memory reached {peak[0]} KiB"


def test_path_style_requests(srv, proxy):
    paths = [p for _, _, p in proxy.requests]
    assert paths and all(p.startswith("/carboy/") or p.startswith("/carboy?") for p in paths)
    assert all(host == f"127.0.0.1:{proxy.port}" for _, host, _ in proxy.requests)
    assert any(p.startswith("/carboy/lab%20data/%CE%BC-probe%20%C3%BC/") for p in paths)


def test_virtual_host_addressing(tmp_path_factory, s3):
    vp = SigV4Proxy(s3.port, secret=SECRET)
    try:
        # s3rver maps BUCKET.s3.localhost to the bucket; libcurl resolves *.localhost to
        # the loopback address itself
        s = s3_server(tmp_path_factory, store_url(f"http://s3.localhost:{vp.port}", prefix="v host", bucket="vhost",
                                                  path_style=False), s3_env())
        try:
            f = s.folder("vh")
            data = os.urandom(PART + 99)
            meta = s.put(f["id"], "v.bin", data)
            assert s.api("GET", f"/files/{meta['id']}/content").content == data
            assert requests.get(s.url + "/readyz").status_code == 200
        finally:
            finish(s)
        assert vp.requests
        assert all(host == f"vhost.s3.localhost:{vp.port}" for _, host, _ in vp.requests), vp.requests[:3]
        assert all(p.startswith("/v%20host/") or p.startswith("/?") for _, _, p in vp.requests), vp.requests[:3]
        check_signatures(vp)
        assert blob_keys(s3, "v host", "vhost")[sha(data)] == len(data)
    finally:
        vp.close()


# ---- the ops table itself ----

def tool(url, *args, env, check=True):
    r = subprocess.run([TOOL, url, *args], capture_output=True, env=clean_env(env), timeout=120)
    if check:
        assert r.returncode == 0, r.stderr.decode()
    return r


def test_store_ops_head_get_list_remove(s3, proxy, tmp_path):
    url = store_url(proxy.endpoint, prefix="ops tool/π")
    env = s3_env(CARBOY_S3_LIST_PAGE="7")
    blobs = {}
    for i in range(25):
        d = b"blob number %d\n" % i * (i + 1)
        p = tmp_path / f"b{i}"
        p.write_bytes(d)
        out = tool(url, "put", str(p), env=env).stdout.decode().split()
        assert out == [sha(d), str(len(d))]
        blobs[sha(d)] = d
    big = os.urandom(2 * PART + 5)
    (tmp_path / "big").write_bytes(big)
    assert tool(url, "put", str(tmp_path / "big"), env=env).stdout.decode().split()[0] == sha(big)
    blobs[sha(big)] = big
    # paginated listing: 26 blobs, 7 a page
    before = len([r for r in proxy.requests if "list-type=2" in r[2] and "continuation-token=" in r[2]])
    listed = dict(line.split() for line in tool(url, "list", env=env).stdout.decode().splitlines())
    assert listed == {k: str(len(v)) for k, v in blobs.items()}
    pages = len([r for r in proxy.requests if "list-type=2" in r[2] and "continuation-token=" in r[2]]) - before
    assert pages == 3  # 7 + 7 + 7 + 5
    # head, ranged get
    assert tool(url, "head", sha(big), env=env).stdout.decode().strip() == str(len(big))
    missing = "0" * 64
    assert tool(url, "head", missing, env=env, check=False).returncode == 3
    assert tool(url, "get", sha(big), str(PART - 3), "4000", env=env).stdout == big[PART - 3:PART + 3997]
    assert tool(url, "get", missing, "0", "10", env=env, check=False).returncode == 3
    # fetch to a local file (what converters get)
    path = tool(url, "fetch", sha(big), str(tmp_path), env=env).stdout.decode().strip()
    assert open(path, "rb").read() == big
    # remove: gone, then not found; the others stay
    victim = next(iter(blobs))
    assert tool(url, "remove", victim, env=env).returncode == 0
    assert tool(url, "head", victim, env=env, check=False).returncode == 3
    assert tool(url, "remove", victim, env=env, check=False).returncode == 3
    listed = dict(line.split() for line in tool(url, "list", env=env).stdout.decode().splitlines())
    assert set(listed) == set(blobs) - {victim}
    assert tool(url, "check", env=env).returncode == 0
    check_signatures(proxy)


def test_stale_temporary_objects_are_swept_at_open(s3, proxy):
    c = s3.client()
    old, new = "sweep/.tmp/old-leftover", "sweep/.tmp/fresh-upload"
    for k in (old, new):
        c.put_object(Bucket=BUCKET, Key=k, Body=b"x")
    # s3rver takes an object's Last-Modified from its file
    path = os.path.join(s3.dir, BUCKET, "sweep", ".tmp", "old-leftover._S3rver_object")
    t = time.time() - 2 * 3600
    os.utime(path, (t, t))
    tool(store_url(proxy.endpoint, prefix="sweep"), "check", env=s3_env())
    assert set(s3.keys(BUCKET, "sweep/")) == {new}


# ---- failures ----

def test_retries_on_503(srv, proxy, s3):
    f = srv.folder("retries")
    proxy.failed = 0
    proxy.fail_next = 3
    data = b"retried until it went in"
    meta = srv.put(f["id"], "retry.txt", data)
    assert proxy.failed == 3
    proxy.fail_next = 2
    assert srv.api("GET", f"/files/{meta['id']}/content").content == data
    assert proxy.failed == 5
    big = os.urandom(3 * PART)
    proxy.fail_next = 4  # the upload's first requests: the HEAD/create and parts
    meta = srv.put(f["id"], "retry-big.bin", big)
    assert proxy.failed == 9
    assert srv.api("GET", f"/files/{meta['id']}/content").content == big
    assert "SlowDown" in srv.log_text() and "retrying" in srv.log_text()


def test_a_download_cut_off_resumes_where_it_stopped(srv, proxy):
    f = srv.folder("resume")
    data = os.urandom(3 * PART + 17)
    meta = srv.put(f["id"], "resume.bin", data)
    wait_file(srv, meta["id"])  # its ingest has fetched it: the GETs below are the download's
    before = len(proxy.requests)
    proxy.cut_next = 2  # the first answer and the resumed one both break off halfway
    try:
        r = srv.api("GET", f"/files/{meta['id']}/content")
    finally:
        proxy.cut_next = 0
    assert r.status_code == 200 and r.content == data
    assert proxy.cut == 2
    gets = [p for m, _, p in proxy.requests[before:] if m == "GET"]
    assert len(gets) == 3  # two cut off, then the rest
    r = srv.api("GET", f"/files/{meta['id']}/content", headers={"Range": f"bytes=100-{PART * 2}"})
    assert r.status_code == 206 and r.content == data[100:PART * 2 + 1]


def test_retries_run_out_with_a_clear_error(srv, proxy, s3):
    f = srv.folder("gives up")
    data = os.urandom(777)
    proxy.fail_next = 1000
    try:
        r = srv.api("PUT", f"/folders/{f['id']}/files/never.bin", data=data)
    finally:
        proxy.fail_next = 0
    body = problem(r, 503)
    assert r.headers["Retry-After"] == "5"
    assert "503" in body["detail"] and "SlowDown" in body["detail"] and "attempts" in body["detail"], body
    assert requests.get(srv.url + "/healthz").status_code == 200
    assert sha(data) not in blob_keys(s3)
    assert [x["name"] for x in srv.api("GET", f"/folders/{f['id']}").json()["files"]] == []
    assert srv.put(f["id"], "never.bin", data)["sha256"] == sha(data)


def stream_put(server, path, total, chunks, on_chunk=None, timeout=120):
    """PUTs total bytes from chunks over a raw socket, stopping as soon as the server
    answers; returns (status, body) or (None, b"") when the connection died first."""
    sock = socket.create_connection(("127.0.0.1", server.port))
    sock.sendall((f"PUT {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {server.token}\r\n"
                  f"Content-Length: {total}\r\n\r\n").encode())
    sent = 0
    answer = b""
    deadline = time.time() + timeout
    try:
        for i, c in enumerate(chunks):
            while c:
                r, w, _ = select.select([sock], [sock], [], 1.0)
                if r:
                    raise StopIteration
                if w:
                    n = sock.send(c[:256 << 10])
                    c = c[n:]
                    sent += n
                if time.time() > deadline:
                    raise TimeoutError("upload stalled")
            if on_chunk:
                on_chunk(i)
    except (StopIteration, BrokenPipeError, ConnectionResetError):
        pass
    sock.settimeout(60)
    try:
        while b"\r\n\r\n" not in answer or len(answer.split(b"\r\n\r\n", 1)[1]) < int(
                re.search(rb"Content-Length: (\d+)", answer).group(1)):
            b = sock.recv(65536)
            if not b:
                break
            answer += b
    except (ConnectionResetError, AttributeError):
        pass
    sock.close()
    if not answer:
        return None, b""
    return int(answer.split(b" ", 2)[1]), answer.split(b"\r\n\r\n", 1)[1]


def test_s3rver_killed_mid_upload(tmp_path_factory):
    """Straight to s3rver (no proxy): carboy sees real connection errors."""
    own = S3rver(str(tmp_path_factory.mktemp("s3kill") / "data"), buckets=(BUCKET,)).start()
    try:
        s = s3_server(tmp_path_factory, store_url(own.endpoint), s3_env())
        try:
            f = s.folder("killed")
            kept = s.put(f["id"], "kept.txt", b"stored before the kill")
            before = blob_keys(own)
            total, chunk = 200 << 20, 1 << 20
            killed = threading.Event()

            def chunks():
                for i in range(total // chunk):
                    yield hashlib.sha256(b"k%d" % i).digest() * (chunk // 32)

            def on_chunk(i):
                if i == 40 and not killed.is_set():
                    own.kill()
                    killed.set()
                if killed.is_set():
                    time.sleep(0.005)

            status, body = stream_put(s, f"/api/v1/folders/{f['id']}/files/partial.bin", total, chunks(), on_chunk)
            assert killed.is_set()
            assert status is not None and 500 <= status < 600, (status, body[:300])
            text = body.decode()
            assert "S3" in text and ("connect" in text.lower() or "attempts" in text), text
            assert requests.get(s.url + "/healthz").status_code == 200
            assert problem(requests.get(s.url + "/readyz"), 503)
            own.start()  # same port, same data
            assert blob_keys(own) == before  # nothing visible under a hash
            assert [x["name"] for x in s.api("GET", f"/folders/{f['id']}").json()["files"]] == ["kept.txt"]
            assert requests.get(s.url + "/readyz").status_code == 200
            again = os.urandom(2 * PART + 3)
            meta = s.put(f["id"], "after.bin", again)
            assert s.api("GET", f"/files/{meta['id']}/content").content == again
            assert s.api("GET", f"/files/{kept['id']}/content").content == b"stored before the kill"
        finally:
            finish(s)
    finally:
        own.stop()


def test_carboy_killed_mid_multipart_upload(tmp_path_factory, s3, proxy):
    s = s3_server(tmp_path_factory, store_url(proxy.endpoint, prefix="crash test"), s3_env())
    try:
        f = s.folder("crash")
        before = blob_keys(s3, "crash test")
        total, chunk = 100 << 20, 1 << 20
        sock = socket.create_connection(("127.0.0.1", s.port))
        sock.sendall((f"PUT /api/v1/folders/{f['id']}/files/partial.bin HTTP/1.1\r\nHost: x\r\n"
                      f"Authorization: Bearer {s.token}\r\nContent-Length: {total}\r\n\r\n").encode())
        for i in range(40):
            sock.sendall(hashlib.sha256(b"c%d" % i).digest() * (chunk // 32))
        deadline = time.time() + 30  # until parts have gone up
        while time.time() < deadline and not any("partNumber=3" in r[2] for r in proxy.requests):
            time.sleep(0.05)
        assert any("partNumber=3" in r[2] for r in proxy.requests)
        s.kill()
        sock.close()
        s.start()
        assert blob_keys(s3, "crash test") == before  # parts went up, nothing under a hash
        assert s.api("GET", f"/folders/{f['id']}").json()["files"] == []
        data = os.urandom(PART + 1)
        assert s.put(f["id"], "again.bin", data)["sha256"] == sha(data)
    finally:
        finish(s)
    check_signatures(proxy)


# ---- the pipeline on S3 ----

def test_ingest_pipeline_on_s3(srv, s3):
    f = srv.folder("pipeline")
    # a structure file: records, conversion, preview
    sdf = srv.put(f["id"], "nci.sdf", open(NCI, "rb").read())
    meta = wait_file(srv, sdf["id"])
    assert meta["status"] == "processed", meta
    assert meta["kind"] == "structure" and meta["record_count"] == 200
    recs = srv.api("GET", f"/files/{sdf['id']}/records?limit=5").json()["records"]
    assert len(recs) == 5 and all(r["smiles"] for r in recs)
    conv = srv.api("GET", f"/files/{sdf['id']}/convert?to=smi", timeout=300)
    assert conv.status_code == 200, conv.text
    assert len(conv.text.strip().splitlines()) == 200
    pv = srv.api("GET", f"/files/{sdf['id']}/preview", timeout=300)
    assert pv.status_code == 200 and b"<svg" in pv.content
    # text: extracted, indexed, searchable
    txt = srv.put(f["id"], "notes.txt", b"carboy keeps the zygomorphic samples in S3\n" * 50)
    assert wait_file(srv, txt["id"])["status"] == "processed"
    assert srv.api("GET", f"/files/{txt['id']}/text").text.startswith("carboy keeps the zygomorphic")
    hits = srv.api("GET", "/search?q=zygomorphic").json()["hits"]
    assert [h["file_id"] for h in hits] == [txt["id"]]
    # an archive unpacked: members stored to S3, ingested in turn
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("docs/readme.txt", "inside the zip\n")
        z.writestr("data/values.csv", "a,b\n1,2\n3,4\n")
    arc = srv.put(f["id"], "bundle.zip", buf.getvalue())
    assert wait_file(srv, arc["id"])["status"] == "processed"
    job = srv.api("POST", "/jobs", json={"type": "unpack", "inputs": [arc["id"]]}).json()
    assert wait_job(srv, job["id"])["state"] == "succeeded"
    keys = blob_keys(s3)
    assert sha(b"inside the zip\n") in keys and sha(b"a,b\n1,2\n3,4\n") in keys
    # nothing of the jobs' downloads is left in the work folder once they are done
    deadline = time.time() + 60
    while time.time() < deadline and [n for n in os.listdir(os.path.join(srv.data, "work")) if n.endswith(".in")]:
        time.sleep(0.2)
    assert [n for n in os.listdir(os.path.join(srv.data, "work")) if n.endswith(".in")] == []


# ---- credentials and configuration ----

def test_credentials_from_the_ecs_endpoint(tmp_path_factory, s3):
    token = "FwoGZXIvYXdzEJr//session-token/abc=="
    secret = "ecs-secret-91d2"
    # expiring in 5 min + 2 s: carboy refreshes 5 min ahead, so again after 2 s
    ep = CredentialsEndpoint(ACCESS_KEY, secret, token, auth_token="Bearer task-token-1", lifetime_s=302)
    tp = SigV4Proxy(s3.port, secret=secret, token=token)
    try:
        env = {"AWS_CONTAINER_CREDENTIALS_FULL_URI": ep.url, "AWS_CONTAINER_AUTHORIZATION_TOKEN": "Bearer task-token-1",
               "CARBOY_S3_PART_SIZE": "5M"}
        s = s3_server(tmp_path_factory, store_url(tp.endpoint, prefix="ecs"), env)
        try:
            assert ep.fetches == 1 and ep.refused == 0
            f = s.folder("ecs")
            data = os.urandom(PART + 10)
            meta = s.put(f["id"], "ecs.bin", data)
            assert s.api("GET", f"/files/{meta['id']}/content").content == data
            time.sleep(2.5)
            s.put(f["id"], "later.txt", b"signed with refreshed credentials")
            assert ep.fetches >= 2
        finally:
            finish(s)
        check_signatures(tp)  # every request carried the token and verified with its secret
    finally:
        tp.close()
        ep.close()


def test_session_token_from_the_environment(tmp_path_factory, s3):
    token = "IQoJb3JpZ2luX2VjEJ//env-session-token"
    tp = SigV4Proxy(s3.port, secret=SECRET, token=token)
    try:
        s = s3_server(tmp_path_factory, store_url(tp.endpoint, prefix="session"), s3_env(AWS_SESSION_TOKEN=token))
        try:
            f = s.folder("token")
            meta = s.put(f["id"], "t.bin", os.urandom(PART + 1))
            assert s.api("GET", f"/files/{meta['id']}/content").status_code == 200
        finally:
            finish(s)
        check_signatures(tp)  # x-amz-security-token sent, signed and equal to the token
    finally:
        tp.close()


def run_serve(tmp_path, url, env, timeout=30):
    return subprocess.run([BIN, "serve", "--data", str(tmp_path / "d"), "--listen", "127.0.0.1:0", "--store", url],
                          capture_output=True, env=clean_env({"CARBOY_ADMIN_PASSWORD": "x" * 12, **env}),
                          timeout=timeout, text=True)


@pytest.mark.parametrize("url,why", [
    ("s3://", "bucket"),
    ("s3://Bad_Bucket/x", "bucket name"),
    ("s3://ok-bucket?endpoint=ftp://127.0.0.1:1", "endpoint"),
    ("s3://ok-bucket?endpoint=http://127.0.0.1:1/some/path", "endpoint"),
    ("s3://ok-bucket?colour=blue", "unknown S3 store URL parameter 'colour'"),
    ("s3://ok-bucket?path_style=maybe", "path_style"),
    ("s3://ok-bucket/a/../b?endpoint=http://127.0.0.1:1", "'..'"),
    ("s3://ok-bucket/a%ZZ?endpoint=http://127.0.0.1:1", "percent-encoded"),
    ("s3://ok-bucket?region=EU%20West", "region"),
    ("gopher://x", "unsupported store URL"),
])
def test_bad_store_urls_stop_the_start(tmp_path, url, why):
    r = run_serve(tmp_path, url, s3_env())
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("carboy: cannot open store:") and why in lines[0], lines


def test_missing_or_half_credentials_stop_the_start(tmp_path, s3):
    url = store_url(s3.endpoint)
    for env, why in (({}, "no S3 credentials"),
                     ({"AWS_ACCESS_KEY_ID": ACCESS_KEY}, "must be set together"),
                     ({"AWS_CONTAINER_CREDENTIALS_FULL_URI": "http://192.0.2.1/creds"}, "loopback")):
        r = run_serve(tmp_path, url, env)
        assert r.returncode == 2, (env, r.stderr)
        lines = r.stderr.strip().splitlines()
        assert len(lines) == 1 and why in lines[0], lines


def test_wrong_bucket_or_refused_credentials_stop_the_start(tmp_path, s3, tmp_path_factory):
    r = run_serve(tmp_path, store_url(s3.endpoint, bucket="no-such-bucket"), s3_env())
    assert r.returncode == 1
    line = r.stderr.strip().splitlines()[-1]
    assert "no-such-bucket" in line and "NoSuchBucket" in line, line
    r = run_serve(tmp_path, store_url(s3.endpoint), s3_env(AWS_ACCESS_KEY_ID="NOT-A-KEY"))
    assert r.returncode == 1
    assert "InvalidAccessKeyId" in r.stderr.strip().splitlines()[-1], r.stderr
    ep = CredentialsEndpoint(ACCESS_KEY, "s", "t", auth_token="Bearer right")
    try:
        r = run_serve(tmp_path, store_url(s3.endpoint), {"AWS_CONTAINER_CREDENTIALS_FULL_URI": ep.url,
                                                          "AWS_CONTAINER_AUTHORIZATION_TOKEN": "Bearer wrong"})
        assert r.returncode == 1 and "HTTP 401" in r.stderr, r.stderr
        assert ep.refused >= 1
    finally:
        ep.close()
