"""Integration harness: starts the real carboy binary on a free loopback port with a
temporary data folder and talks HTTP to it (as Redis's tests start a real server).

CARBOY_BIN picks the binary (default: build/carboy). When the binary is a sanitizer
build, every server's stderr is checked for AddressSanitizer/UBSan reports at teardown,
so a memory error fails the test that caused it."""
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import pytest
import requests

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def _record_inputs(path):
    """CARBOY_RECORD_INPUTS=FILE: every file and folder of Debian's packages a test reads is
    appended to FILE, for scripts/test-inputs.py record (which keeps tests/inputs.txt)."""
    prefixes = ("/usr/share/", "/usr/libexec/", "/usr/lib/python3/dist-packages/pyutilib/misc/tests/")  # not test inputs
    skip = ("/usr/share/zoneinfo/", "/usr/share/locale/", "/usr/share/python", "/usr/share/ca-certificates/")  # not test inputs
    out = open(path, "a", buffering=1)

    def note(p):
        if isinstance(p, bytes):
            p = os.fsdecode(p)
        if isinstance(p, str) and p.startswith(prefixes) and not p.startswith(skip) and not p.endswith((".py", ".pyc")):
            out.write(os.path.normpath(p) + "\n")

    def hook(event, args):
        if event in ("open", "os.listdir", "os.scandir") and args:
            note(args[0])
        elif event == "subprocess.Popen" and len(args) > 1 and isinstance(args[1], (list, tuple)):
            for a in args[1]:
                note(a)

    import sys
    sys.addaudithook(hook)


if os.environ.get("CARBOY_RECORD_INPUTS"):
    _record_inputs(os.environ["CARBOY_RECORD_INPUTS"])
BIN = os.environ.get("CARBOY_BIN", os.path.join(ROOT, "build", "carboy"))
ADMIN_PASSWORD = "integration-pass-1"
SANITIZER_MARKS = ("ERROR: AddressSanitizer", "runtime error:", "ERROR: LeakSanitizer")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """One carboy process. start()/kill()/stop() can be called repeatedly on the same
    data folder to test restarts."""

    def __init__(self, data, env=None):
        self.data = data
        self.env = dict(os.environ)
        self.env.update({
            "CARBOY_ADMIN_PASSWORD": ADMIN_PASSWORD,
            "CARBOY_LOG_LEVEL": "info",
            "ASAN_OPTIONS": "detect_leaks=1:abort_on_error=0:allocator_release_to_os_interval_ms=100",
            "UBSAN_OPTIONS": "print_stacktrace=1",
        })
        self.env.update(env or {})
        self.proc = None
        self.port = None
        self.logs = []
        self.token = None

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def start(self, extra_args=(), port=None):
        """Starts carboy and waits for /healthz. Without a port, a free one is picked; the
        pick can race with another process (a client connection's ephemeral port, another
        suite's server), so a start that finds its port taken tries another one."""
        for attempt in range(5):
            try:
                return self._start(extra_args, port)
            except RuntimeError as e:
                if port or "Address already in use" not in str(e) or attempt == 4:
                    raise

    def _start(self, extra_args, port):
        self.port = port or free_port()
        log = tempfile.NamedTemporaryFile(prefix="carboy-log-", suffix=".txt", delete=False)
        self.logs.append(log.name)
        self.proc = subprocess.Popen(
            [BIN, "serve", "--data", self.data, "--listen", f"127.0.0.1:{self.port}", *extra_args],
            env=self.env, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.time() + 30
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"carboy exited with {self.proc.returncode}:\n{self.log_text()}")
            try:
                # this start's own server: the port may have been taken meanwhile by another
                # process's (it answers /healthz too), and then this one fails to listen
                if (requests.get(self.url + "/healthz", timeout=1).status_code == 200
                        and "listening on" in open(log.name, errors="replace").read()):
                    if not self.token:
                        self.token = self.make_token("admin", self.admin_password())
                    return self
            except requests.RequestException:
                pass
            time.sleep(0.05)
        raise RuntimeError("carboy did not become healthy:\n" + self.log_text())

    def admin_password(self):
        if self.env.get("CARBOY_ADMIN_PASSWORD"):
            return self.env["CARBOY_ADMIN_PASSWORD"]
        import re
        m = re.search(r"created user 'admin' with password (\S+)", self.log_text())
        return m.group(1)

    def log_text(self):
        out = []
        for name in self.logs:
            with open(name, errors="replace") as f:
                out.append(f.read())
        return "\n".join(out)

    def rss_kib(self):
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self, timeout=30):
        """SIGTERM and wait; returns the exit code."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise
        return self.proc.returncode if self.proc else None

    def sanitizer_reports(self):
        text = self.log_text()
        return [m for m in SANITIZER_MARKS if m in text]

    def cleanup(self):
        for name in self.logs:
            try:
                os.unlink(name)
            except OSError:
                pass

    # ---- API helpers ----
    def login(self, username, password):
        """A requests.Session signed in with a cookie (and the UI's CSRF header)."""
        s = requests.Session()
        r = s.post(self.url + "/api/v1/auth/login", json={"username": username, "password": password})
        assert r.status_code == 200, r.text
        s.headers["X-Carboy-CSRF"] = "1"
        return s

    def make_token(self, username, password, scope="write", **extra):
        s = self.login(username, password)
        r = s.post(self.url + "/api/v1/tokens", json={"name": "tests", "scope": scope, **extra})
        assert r.status_code == 201, r.text
        return r.json()["token"]

    @property
    def auth(self):
        return {"Authorization": f"Bearer {self.token}"}

    def api(self, method, path, token=None, **kw):
        """A request as the admin (or with the given token; token="" for anonymous)."""
        kw.setdefault("timeout", 60)
        headers = dict(kw.pop("headers", None) or {})
        tok = self.token if token is None else token
        if tok:
            headers.setdefault("Authorization", f"Bearer {tok}")
        return requests.request(method, self.url + "/api/v1" + path, headers=headers, **kw)

    def user(self, username, password="password-" + "x" * 8, admin=False):
        r = self.api("POST", "/users", json={"username": username, "password": password, "is_admin": admin})
        assert r.status_code == 201, r.text
        return r.json()

    def folder(self, name, parent=None):
        body = {"name": name}
        if parent:
            body["parent_id"] = parent
        r = self.api("POST", "/folders", json=body)
        assert r.status_code == 201, r.text
        return r.json()

    def put(self, folder_id, name, data, **kw):
        from urllib.parse import quote
        r = self.api("PUT", f"/folders/{folder_id}/files/{quote(name, safe='')}", data=data, **kw)
        assert r.status_code == 201, r.text
        return r.json()


def make_server(tmp_path_factory, env=None, args=()):
    data = str(tmp_path_factory.mktemp("data"))
    return Server(data, env).start(args)


def finish(server):
    try:
        if server.proc and server.proc.poll() is None:
            code = server.stop()
            assert code == 0, f"carboy exited with {code} on SIGTERM:\n{server.log_text()[-3000:]}"
        reports = server.sanitizer_reports()
        assert not reports, "sanitizer report in server log:\n" + server.log_text()[-6000:]
    finally:
        server.cleanup()
        shutil.rmtree(server.data, ignore_errors=True)


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """A server shared by the tests of one module."""
    s = make_server(tmp_path_factory)
    yield s
    finish(s)


@pytest.fixture(scope="module")
def srv(server):
    """The module's shared server, under the name the content tests use."""
    return server


# ---- helpers for tests of processed content ----
def wait_file(s, file_id, timeout=180):
    """The file once it is processed (or failed)."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        f = s.api("GET", f"/files/{file_id}").json()
        if f["status"] in ("processed", "failed"):
            return f
        time.sleep(0.1)
    raise AssertionError(f"{file_id} still {f['status']}")


def wait_job(s, job_id, timeout=300):
    deadline = time.time() + timeout
    while time.time() < deadline:
        j = s.api("GET", f"/jobs/{job_id}").json()
        if j["state"] in ("succeeded", "failed", "canceled"):
            return j
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} still {j['state']}")


def upload(s, folder, path, name=None, data=None):
    """PUTs a file (path's bytes, or data) into folder; the 201 body."""
    if data is None:
        with open(path, "rb") as fh:
            data = fh.read()
    return s.put(folder, name or os.path.basename(path), data)


def ingest(s, folder, path, name=None, data=None):
    """Uploads and waits until the file is processed (or failed)."""
    return wait_file(s, upload(s, folder, path, name, data)["id"])


def props(meta):
    """A file's (or record's) properties as name -> value."""
    return {p["name"]: p["value"] for p in meta["properties"]}


def all_records(s, file_id, limit=1000):
    out, cursor = [], None
    while True:
        body = s.api("GET", f"/files/{file_id}/records?limit={limit}" + (f"&cursor={cursor}" if cursor else "")).json()
        out += body["records"]
        cursor = body["next_cursor"]
        if not cursor:
            return out


@pytest.fixture
def fresh(tmp_path_factory):
    """A server of the test's own, for tests that kill, restart or reconfigure it."""
    made = []

    def factory(env=None, args=()):
        s = make_server(tmp_path_factory, env, args)
        made.append(s)
        return s

    yield factory
    for s in made:
        finish(s)


def cli(args, env, timeout=300):
    """Runs a carboy command (not the server) with env; its output must hold no sanitizer
    report (the ASan build's)."""
    r = subprocess.run([BIN, *args], capture_output=True, text=True, env=env, timeout=timeout)
    assert not [m for m in SANITIZER_MARKS if m in r.stdout + r.stderr], (r.stdout + r.stderr)[-4000:]
    return r


def problem(r, status):
    """Asserts r is a problem+json response with that status; returns its body."""
    assert r.status_code == status, f"expected {status}, got {r.status_code}: {r.text}"
    assert r.headers["Content-Type"].startswith("application/problem+json"), r.headers
    body = r.json()
    assert body["status"] == status and body["title"] and body["detail"] and "type" in body
    return body


def worker_children(server_pid):
    """The `carboy worker` processes the server started itself (converters and structure
    matchers): their ids."""
    pids = set()
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as fh:
                ppid = int(fh.read().rsplit(")", 1)[1].split()[1])
            with open(f"/proc/{d}/cmdline", "rb") as fh:
                cmd = fh.read().split(b"\0")
        except OSError:
            continue
        if ppid == server_pid and cmd[:2] == [b"carboy", b"worker"]:
            pids.add(int(d))
    return pids
