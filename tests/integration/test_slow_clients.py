"""Slow clients and oversized requests (issue 10): many more slowloris sockets than request
threads, slow-body uploads and idle keep-alive connections at once must not starve a
normal client, must themselves be closed by the server, and oversized heads, URLs and
bodies get their status (problem+json) without the server reading them whole.

The normal client connects from 127.0.0.2 (any 127.x address reaches the loopback
listener), the slow ones from 127.0.0.1: the per-address cap (CARBOY_HTTP_PER_CLIENT, by
default 3/4 of the threads) is what keeps request threads free for others while the slow
bodies and idle keep-alives hold theirs; the slowloris heads never reach a thread."""
import http.client
import json
import socket
import threading
import time

import requests

THREADS = 8
HEADER_TIMEOUT = 8


def slow_socket(port, first, trickle, result, key):
    """Sends `first`, then one byte of `trickle` a second, and records when the server
    closed the connection and what it answered."""
    got = b""
    t0 = time.monotonic()
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
    except OSError as e:
        result[key] = ("connect failed", repr(e), None)
        return
    s.settimeout(1.0)
    try:
        s.sendall(first)
        while time.monotonic() - t0 < 90:
            try:
                d = s.recv(65536)
                if not d:
                    break
                got += d
                continue
            except socket.timeout:
                pass
            try:
                s.sendall(trickle)
            except OSError:
                pass  # reading on shows what the server said before it closed
    except OSError:
        pass
    finally:
        s.close()
    result[key] = ("closed", got, time.monotonic())


def normal_conn(port):
    return http.client.HTTPConnection("127.0.0.1", port, timeout=60, source_address=("127.0.0.2", 0))


def normal_request(port, method, path, token, body=None):
    c = normal_conn(port)
    try:
        headers = {"Authorization": f"Bearer {token}"}
        c.request(method, path, body=body, headers=headers)
        r = c.getresponse()
        return r.status, r.read()
    finally:
        c.close()


def test_slow_clients_do_not_starve_others(fresh):
    s = fresh(env={"CARBOY_HTTP_THREADS": str(THREADS), "CARBOY_HEADER_TIMEOUT": str(HEADER_TIMEOUT)})
    folder = s.folder("slow")
    small = s.put(folder["id"], "small.txt", b"a small file\n")
    tok = s.token
    results = {}
    workers = []

    def start(first, trickle, key):
        t = threading.Thread(target=slow_socket, args=(s.port, first, trickle, results, key), daemon=True)
        t.start()
        workers.append(t)

    # 40 slowloris heads: five times the threads
    for i in range(40):
        start(b"GET /api/v1/files/%s HTTP/1.1\r\nHost: x\r\n" % small["id"].encode(), b"X", f"loris{i}")
    # 10 uploads whose bodies trickle, more than the threads
    head = (f"PUT /api/v1/folders/{folder['id']}/files/slow.bin HTTP/1.1\r\nHost: x\r\n"
            f"Authorization: Bearer {tok}\r\nContent-Length: 100000\r\n\r\n").encode()
    for i in range(10):
        start(head, b"B", f"body{i}")
    # 10 keep-alive connections left idle after one request
    for i in range(10):
        start(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n", b"", f"idle{i}")
    time.sleep(1.0)  # every slow socket connected and in its phase

    t_normal = time.monotonic()
    st, body = normal_request(s.port, "GET", f"/api/v1/files/{small['id']}", tok)
    assert st == 200 and json.loads(body)["sha256"] == small["sha256"], (st, body)
    st, body = normal_request(s.port, "PUT", f"/api/v1/folders/{folder['id']}/files/normal.txt", tok,
                              b"uploaded while slow clients hold connections\n")
    assert st == 201, (st, body)
    st, body = normal_request(s.port, "GET", "/healthz", "")
    assert st == 200, (st, body)
    done_normal = time.monotonic()
    # what was asked was answered while every slowloris was still connected: they did not
    # have to be cut for the normal client to get a thread
    assert not any(k.startswith("loris") for k in results), (done_normal - t_normal, sorted(results))

    for t in workers:
        t.join(120)
    assert len(results) == 60, sorted(results)
    for k, (what, got, when) in results.items():
        assert what == "closed", (k, what, got)
        if k.startswith("loris"):
            # answered 408 (problem+json) after the header deadline, then closed
            assert got.startswith(b"HTTP/1.1 408 "), (k, got[:200])
            assert b"application/problem+json" in got, (k, got[:300])
        elif k.startswith("body"):
            # cut for arriving under CARBOY_BODY_MIN_RATE: 408, or closed while it waited
            # for its address's slot (503) when the others held them
            assert got == b"" or got.startswith(b"HTTP/1.1 408 ") or got.startswith(b"HTTP/1.1 503 "), (k, got[:300])
        else:
            # the keep-alive connection got its answer, then was closed when idle
            assert got.startswith(b"HTTP/1.1 200 "), (k, got[:200])
    # nothing of the slow uploads was kept
    listing = s.api("GET", f"/folders/{folder['id']}").json()
    names = sorted(f["name"] for f in listing["files"])
    assert names == ["normal.txt", "small.txt"], names
    # and the server is healthy, for the address of the slow clients too
    assert requests.get(s.url + "/healthz", timeout=30).status_code == 200
    s.put(folder["id"], "after.txt", b"after\n")
    assert "front: 408" in s.log_text()


def raw(port, data, wait=30):
    """Sends data (as far as the server takes it) and returns (status, headers, body)."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=wait)
    try:
        try:
            sock.sendall(data)
        except OSError:
            pass  # the server answered and closed before taking it all
        out = b""
        while True:
            try:
                d = sock.recv(65536)
            except (ConnectionResetError, socket.timeout):
                break
            if not d:
                break
            out += d
            if b"\r\n\r\n" in out:
                head, _, rest = out.partition(b"\r\n\r\n")
                for line in head.split(b"\r\n"):
                    if line.lower().startswith(b"content-length:"):
                        if len(rest) >= int(line.split(b":")[1]):
                            break
                else:
                    continue
                break
    finally:
        sock.close()
    head, _, body = out.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        k, _, v = line.decode().partition(":")
        headers[k.strip().lower()] = v.strip()
    return status, headers, body


def problem_of(status, headers, body, want):
    assert status == want, (status, body[:300])
    assert headers["content-type"].startswith("application/problem+json"), headers
    p = json.loads(body)
    assert p["status"] == want and p["title"] and p["detail"], p
    return p


def test_oversized_heads_urls_and_bodies(fresh):
    s = fresh(env={"CARBOY_HTTP_THREADS": str(THREADS), "CARBOY_MAX_UPLOAD": "1M"})
    folder = s.folder("big")
    auth = f"Authorization: Bearer {s.token}\r\n".encode()
    # a header line past civetweb's 32 KiB: 431 from the front
    p = problem_of(*raw(s.port, b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 40000 + b"\r\n\r\n"), 431)
    assert "32768" in p["detail"]
    # a request line that long: 414
    problem_of(*raw(s.port, b"GET /api/v1/files/" + b"a" * 40000 + b" HTTP/1.1\r\nHost: x\r\n\r\n"), 414)
    # many small headers adding up past the limit
    many = b"".join(b"X-H%d: %s\r\n" % (i, b"v" * 100) for i in range(400))
    problem_of(*raw(s.port, b"GET /healthz HTTP/1.1\r\nHost: x\r\n" + many + b"\r\n"), 431)
    # just under the limit is a normal request
    st, _, body = raw(s.port, b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-Big: "
                      + b"a" * 30000 + b"\r\n\r\n")
    assert st == 200, body

    # bodies: the status comes from the head alone, before any of the body is sent (the
    # client would wait forever otherwise: nothing is sent after the head)
    def head_only(path, length, ctype=None, extra=b""):
        h = b"PUT " if "files/" in path else b"POST "
        h += path.encode() + b" HTTP/1.1\r\nHost: x\r\n" + auth + extra
        if ctype:
            h += b"Content-Type: " + ctype + b"\r\n"
        return raw(s.port, h + b"Content-Length: %d\r\n\r\n" % length)

    p = problem_of(*head_only(f"/api/v1/folders/{folder['id']}/files/huge.bin", 100 << 20), 413)
    assert "1048576" in p["detail"], p
    problem_of(*head_only("/api/v1/folders", 10 << 20, b"application/json"), 413)
    tus = b"Tus-Resumable: 1.0.0\r\nUpload-Length: %d\r\n" % (5 << 20)
    problem_of(*raw(s.port, b"POST /api/v1/uploads HTTP/1.1\r\nHost: x\r\n" + auth + tus
                    + b"Content-Length: 0\r\n\r\n"), 413)
    # a JSON body sent whole but past 1 MiB, chunked (no Content-Length to judge by)
    r = s.api("POST", "/folders", headers={"Content-Type": "application/json"},
              data=(b'{"name":"' + b"x" * (2 << 20) + b'"}' for _ in range(1)))
    assert r.status_code == 413 and r.headers["Content-Type"].startswith("application/problem+json"), r.text
    # a raw upload without Content-Length that grows past CARBOY_MAX_UPLOAD
    r = s.api("PUT", f"/folders/{folder['id']}/files/grows.bin", data=(b"z" * 65536 for _ in range(40)))
    assert r.status_code == 413, r.text
    # a client that sends all of a too-big body before it reads anything (as Python's
    # http.client does) gets the answer, not a reset: the server drains what it refuses
    def send_all_then_read(head, body):
        sock = socket.create_connection(("127.0.0.1", s.port), timeout=30)
        try:
            sock.sendall(head)
            for i in range(0, len(body), 65536):
                part = body[i:i + 65536]
                sock.sendall(b"%x\r\n" % len(part) + part + b"\r\n")
            sock.sendall(b"0\r\n\r\n")
            out = b""
            while b"\r\n\r\n" not in out:
                d = sock.recv(65536)
                assert d, out
                out += d
            return int(out.split(b" ", 2)[1])
        finally:
            sock.close()

    chunked = b"Transfer-Encoding: chunked\r\n"
    for _ in range(5):
        st = send_all_then_read(b"POST /api/v1/folders HTTP/1.1\r\nHost: x\r\n" + auth + chunked
                                + b"Content-Type: application/json\r\n\r\n",
                                b'{"name":"' + b"x" * (3 << 20) + b'"}')
        assert st == 413, st
        st = send_all_then_read(f"PUT /api/v1/folders/{folder['id']}/files/grows.bin HTTP/1.1\r\n"
                                "Host: x\r\n".encode() + auth + chunked + b"\r\n", b"z" * (3 << 20))
        assert st == 413, st
    names = [f["name"] for f in s.api("GET", f"/folders/{folder['id']}").json()["files"]]
    assert names == [], names
    # everything else intact
    s.put(folder["id"], "ok.bin", b"q" * 1000)
    assert requests.get(s.url + "/healthz", timeout=30).status_code == 200
