"""Operations endpoints, the OpenAPI document, errors for unknown routes, the CLI."""
import json
import os
import re
import subprocess
import time

import requests

from conftest import BIN, problem


def test_healthz_and_readyz(server):
    r = requests.get(server.url + "/healthz")
    assert r.status_code == 200 and r.json() == {"status": "ok"}
    r = requests.get(server.url + "/readyz")
    assert r.status_code == 200 and r.json()["status"] == "ready"


def test_metrics_count_requests_by_route_and_status(server):
    f = server.folder("metrics")
    server.put(f["id"], "m.txt", b"12345")
    requests.get(server.url + "/api/v1/files/000000000000000000000000")
    # a request is counted just after its response is sent: allow the other thread a moment
    deadline = time.time() + 5
    while True:
        text = requests.get(server.url + "/metrics").text
        if 'route="GET /api/v1/files/{id}",status="404"' in text or time.time() > deadline:
            break
        time.sleep(0.05)
    assert re.search(r'carboy_http_requests_total\{route="PUT /api/v1/folders/\{id\}/files/\{name\}",status="201"\} [1-9]', text)
    assert re.search(r'carboy_http_requests_total\{route="GET /api/v1/files/\{id\}",status="404"\} [1-9]', text)
    assert 'carboy_http_request_duration_seconds_bucket{route="GET /healthz",le="+Inf"}' in text
    assert re.search(r"^carboy_http_request_bytes_total [1-9]", text, re.M)
    assert re.search(r"^carboy_store_bytes [1-9]", text, re.M)
    assert re.search(r"^carboy_store_blobs [1-9]", text, re.M)


def test_openapi_describes_every_route(server):
    doc = requests.get(server.url + "/api/openapi.json").json()
    assert doc["openapi"].startswith("3.1")
    routes = subprocess.run([BIN, "routes"], capture_output=True, text=True, check=True).stdout.split("\n")
    routes = [r.split() for r in routes if r]
    assert len(routes) > 15 and all(len(r) == 3 for r in routes)
    missing = [f"{m} {p}" for m, _, p in routes if m.lower() not in doc["paths"].get(p, {})]
    assert not missing, f"routes missing from /api/openapi.json: {missing}"
    # every route declares its scope, and the document says the same one
    for m, scope, p in routes:
        assert scope in ("public", "read", "write", "admin"), (m, p, scope)
        assert doc["paths"][p][m.lower()].get("x-carboy-scope") == scope, (m, p, scope)
        if m in ("POST", "PUT", "PATCH", "DELETE") and p not in ("/api/v1/auth/login", "/api/v1/auth/logout"):
            assert scope in ("write", "admin"), (m, p, scope)
    # and nothing documented that does not exist
    known = {(m.lower(), p) for m, _, p in routes}
    extra = [(m, p) for p, ops in doc["paths"].items() for m in ops
             if m in ("get", "put", "post", "patch", "delete", "head", "options") and (m, p) not in known]
    assert not extra, f"documented but not routed: {extra}"


def test_ui_served(server):
    r = requests.get(server.url + "/")
    assert r.status_code == 200 and "text/html" in r.headers["Content-Type"]
    assert "carboy" in r.text


def test_unknown_route_and_method(server):
    problem(requests.get(server.url + "/api/v1/nothing-here"), 404)
    problem(requests.delete(server.url + "/healthz"), 405)


def test_me(server):
    r = server.api("GET", "/me")
    assert r.status_code == 200 and r.json()["username"] == "admin" and r.json()["is_admin"] is True


def run(args, env=None, input=None):
    e = dict(os.environ)
    e.update(env or {})
    return subprocess.run([BIN, *args], capture_output=True, text=True, env=e, input=input, timeout=60)


def test_cli_version_help_and_usage_errors():
    r = run(["--version"])
    assert r.returncode == 0 and r.stdout.startswith("carboy ")
    r = run(["help"])
    assert r.returncode == 0 and "serve" in r.stdout
    r = run(["frobnicate"])
    assert r.returncode == 2 and "unknown command" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    r = run(["serve", "--bogus", "1"])
    assert r.returncode == 2 and "--bogus" in r.stderr


def test_invalid_settings_fail_with_one_line(tmp_path):
    for env, word in [({"CARBOY_LISTEN": "nonsense"}, "listen"),
                      ({"CARBOY_WORKERS": "zero"}, "worker"),
                      ({"CARBOY_MAX_UPLOAD": "lots"}, "CARBOY_MAX_UPLOAD"),
                      ({"CARBOY_LOG": "xml"}, "CARBOY_LOG"),
                      ({"CARBOY_STORE": "ftp://x"}, "store"),
                      ({"CARBOY_HTTP_THREADS": "0"}, "CARBOY_HTTP_THREADS"),
                      ({"CARBOY_SHUTDOWN_GRACE": "-1"}, "CARBOY_SHUTDOWN_GRACE"),
                      ({"CARBOY_JOB_TIMEOUT": "soon"}, "CARBOY_JOB_TIMEOUT"),
                      ({"CARBOY_WORKER_MEMORY": "1K"}, "CARBOY_WORKER_MEMORY"),
                      ({"CARBOY_LOG_LEVEL": "loud"}, "CARBOY_LOG_LEVEL"),
                      ({"CARBOY_INGEST_PROCESSES": "0"}, "CARBOY_INGEST_PROCESSES"),
                      ({"CARBOY_STORE_LAZY_COPY": "maybe"}, "CARBOY_STORE_LAZY_COPY"),
                      ({"CARBOY_ADMIN_PASSWORD": "short"}, "CARBOY_ADMIN_PASSWORD"),
                      ({"CARBOY_S3_PART_SIZE": "1K"}, "CARBOY_S3_PART_SIZE"),
                      ({"CARBOY_S3_PARALLEL": "0"}, "CARBOY_S3_PARALLEL"),
                      ({"CARBOY_S3_LIST_PAGE": "5000"}, "CARBOY_S3_LIST_PAGE"),
                      ({"CARBOY_HTTP_PER_CLIENT": "-1"}, "CARBOY_HTTP_PER_CLIENT"),
                      ({"CARBOY_HEADER_TIMEOUT": "0"}, "CARBOY_HEADER_TIMEOUT"),
                      ({"CARBOY_BODY_MIN_RATE": "fast"}, "CARBOY_BODY_MIN_RATE"),
                      ({"CARBOY_ORPHAN_GRACE": "later"}, "CARBOY_ORPHAN_GRACE"),
                      ({"CARBOY_LISTEN": "127.0.0.1:99999"}, "listen")]:
        r = run(["serve", "--data", str(tmp_path / "d")], env=env)
        assert r.returncode in (1, 2), (env, r)
        lines = [l for l in r.stderr.splitlines() if l.startswith("carboy:")]
        assert len(lines) == 1 and word in lines[0], (env, r.stderr)


def test_first_run_prints_generated_admin_password_once(fresh, tmp_path):
    s = fresh(env={"CARBOY_ADMIN_PASSWORD": ""})
    text = s.log_text()
    m = re.search(r"created user 'admin' with password (\S+)", text)
    assert m and len(m.group(1)) >= 12
    s.stop()
    s.start()
    assert s.log_text().count("created user 'admin'") == 1
    # the password is stored hashed with argon2id, never in plain text
    db = open(os.path.join(s.data, "carboy.db"), "rb").read()
    assert m.group(1).encode() not in db and b"$argon2id$" in db


def test_user_add(tmp_path):
    data = str(tmp_path / "d")
    r = run(["user", "add", "alice", "--data", data], input="correct horse battery\n")
    assert r.returncode == 0, r.stderr
    r = run(["user", "add", "alice", "--data", data], input="another password\n")
    assert r.returncode == 2 and "already exists" in r.stderr
    r = run(["user", "add", "bob", "--data", data], input="short\n")
    assert r.returncode == 2 and "password" in r.stderr
    r = run(["user", "add", "bad/name", "--data", data], input="long enough pw\n")
    assert r.returncode == 2 and "username" in r.stderr


def test_user_passwd_resets_a_lost_admin_password_while_the_server_runs(fresh):
    s = fresh(env={"CARBOY_ADMIN_PASSWORD": ""})  # generated, printed once: say it was lost
    first = s.admin_password()
    browser = s.login("admin", first)
    assert browser.get(s.url + "/api/v1/me").status_code == 200
    r = run(["user", "passwd", "admin", "--data", s.data], input="a new admin password\n")
    assert r.returncode == 0, r.stderr
    assert "password of 'admin' changed" in r.stdout and "2 sessions ended" in r.stdout  # the harness's and ours
    # the old password no longer signs in, the new one does; the old session has ended
    bad = requests.post(s.url + "/api/v1/auth/login", json={"username": "admin", "password": first})
    assert bad.status_code == 401
    assert browser.get(s.url + "/api/v1/me").status_code == 401
    assert s.login("admin", "a new admin password").get(s.url + "/api/v1/me").json()["username"] == "admin"
    # the admin's API tokens stay
    assert s.api("GET", "/me").status_code == 200
    # bad input: one line, exit 2, nothing changed
    for args, stdin, word in [(["user", "passwd", "admin"], "short\n", "password"),
                              (["user", "passwd", "nobody"], "long enough pw\n", "no user 'nobody'"),
                              (["user", "passwd", "admin"], "", "no password"),
                              (["user", "passwd"], "long enough pw\n", "usage")]:
        r = run([*args, "--data", s.data], input=stdin)
        assert r.returncode == 2, (args, r)
        assert len(r.stderr.strip().splitlines()) == 1 and word in r.stderr, (args, r.stderr)
    assert s.login("admin", "a new admin password")


def test_json_logs(fresh):
    s = fresh(env={"CARBOY_LOG": "json"})
    lines = [l for l in s.log_text().splitlines() if l.startswith("{")]
    assert lines
    for l in lines:
        obj = json.loads(l)
        assert {"time", "level", "module", "msg"} <= obj.keys()


def test_sigterm_exits_cleanly(fresh):
    s = fresh()
    assert s.stop(timeout=20) == 0
    assert "stopped cleanly" in s.log_text()
