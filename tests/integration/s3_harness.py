"""Real S3 for the tests: an s3rver process (npm, tests/s3) on a free loopback port, a
reverse proxy that checks every request's SigV4 signature with botocore (Debian's
python3-botocore) before passing it on, and a container-credentials endpoint like ECS's.

s3rver does not check SigV4 signatures, so the proxy does: it recomputes the signature
of the request exactly as received (method, path, query, the signed headers, the
X-Amz-Date) with botocore.auth.S3SigV4Auth and the credentials it was given, checks the
payload hash against the body, and that the path and query are encoded and ordered as
botocore would encode them; a mismatch answers 403 SignatureDoesNotMatch and is
recorded. It can also answer 503 SlowDown to the next N requests (retry tests).

Everything listens on 127.0.0.1 only."""
import hashlib
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import threading
import time
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
S3RVER_JS = os.path.join(ROOT, "tests", "s3", "node_modules", "s3rver", "bin", "s3rver.js")
ACCESS_KEY = "S3RVER"  # the one key s3rver knows (it does not check the secret)
SECRET_KEY = "S3RVER"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def available():
    return os.path.exists(S3RVER_JS) and shutil.which("node") is not None


class S3rver:
    """One s3rver process over a data folder; start/kill/start again keeps the data."""

    def __init__(self, directory, buckets=("carboy",)):
        self.dir = directory
        os.makedirs(directory, exist_ok=True)
        for b in buckets:  # an s3rver bucket is a folder
            os.makedirs(os.path.join(directory, b), exist_ok=True)
        self.proc = None
        self.port = None
        self.log = os.path.join(directory + ".log")

    @property
    def endpoint(self):
        return f"http://127.0.0.1:{self.port}"

    def start(self, port=None):
        self.port = port or self.port or free_port()
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                ["node", "--openssl-legacy-provider", S3RVER_JS, "-d", self.dir, "-a", "127.0.0.1", "-p", str(self.port),
                 "--service-endpoint", "localhost", "-s"],
                stdout=log, stderr=subprocess.STDOUT)
        deadline = time.time() + 30
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("s3rver exited: " + open(self.log, errors="replace").read()[-2000:])
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return self
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("s3rver did not start")

    def kill(self):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()

    def client(self):
        """A botocore S3 client straight to s3rver (path-style), to look at the bucket
        independently of carboy."""
        import botocore.session
        from botocore.config import Config
        s = botocore.session.get_session()
        return s.create_client("s3", endpoint_url=self.endpoint, region_name="us-east-1",
                               aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY,
                               config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}))

    def keys(self, bucket, prefix=""):
        c = self.client()
        out = {}
        for page in c.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            for o in page.get("Contents", []):
                out[o["Key"]] = o["Size"]
        return out


HOP = {"connection", "keep-alive", "transfer-encoding", "expect", "proxy-connection", "te", "upgrade"}


class SigV4Proxy:
    """Checks each request's SigV4 signature with botocore, then forwards it upstream."""

    def __init__(self, upstream_port, secret=SECRET_KEY, access_key=ACCESS_KEY, token=None, region="us-east-1"):
        self.upstream_port = upstream_port
        self.secret, self.access_key, self.token, self.region = secret, access_key, token, region
        self.verified = 0
        self.mismatches = []
        self.requests = []  # (method, host, path)
        self.fail_next = 0  # answer 503 SlowDown to this many coming requests
        self.cut_next = 0   # send only half the body of this many coming GET answers, then hang up
        self.cut = 0
        self.failed = 0
        self.truncated = 0  # requests whose body never came whole (not checked)
        self.lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def do_any(self):
                proxy.handle(self)

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = do_any

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    @property
    def endpoint(self):
        return f"http://127.0.0.1:{self.port}"

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()

    # ---- the check ----
    def verify(self, method, path, headers, body):
        from botocore.auth import S3SigV4Auth
        from botocore.awsrequest import AWSRequest
        from botocore.credentials import Credentials
        from botocore.utils import percent_encode

        auth = headers.get("Authorization", "")
        m = re.fullmatch(r"AWS4-HMAC-SHA256 Credential=([^/]+)/(\d{8})/([^/]+)/s3/aws4_request, ?"
                         r"SignedHeaders=([a-z0-9;-]+), ?Signature=([0-9a-f]{64})", auth)
        if not m:
            return "no SigV4 Authorization header: %r" % auth[:80]
        akid, date, region, signed, sig = m.groups()
        if akid != self.access_key:
            return "access key %s, expected %s" % (akid, self.access_key)
        if region != self.region:
            return "region %s, expected %s" % (region, self.region)
        amzdate = headers.get("X-Amz-Date", "")
        if amzdate[:8] != date:
            return "X-Amz-Date %r does not match the credential scope %s" % (amzdate, date)
        signed_list = signed.split(";")
        need = ["host", "x-amz-date", "x-amz-content-sha256"] + (["x-amz-security-token"] if self.token else [])
        for h in need:
            if h not in signed_list:
                return "%s is not signed" % h
        if self.token and headers.get("x-amz-security-token") != self.token:
            return "x-amz-security-token is not the session token"
        payload = headers.get("x-amz-content-sha256", "")
        if payload != "UNSIGNED-PAYLOAD" and payload != hashlib.sha256(body).hexdigest():
            return "x-amz-content-sha256 is not the sha256 of the body"
        raw_path, _, raw_query = path.partition("?")
        if percent_encode(unquote(raw_path), safe="/~") != raw_path:
            return "path %r is not encoded as botocore encodes it" % raw_path
        pairs = [p.partition("=") for p in raw_query.split("&")] if raw_query else []
        for k, _, v in pairs:
            if percent_encode(unquote(k)) != k or percent_encode(unquote(v)) != v:
                return "query %r is not encoded as botocore encodes it" % raw_query
        if [(k, v) for k, _, v in pairs] != sorted((k, v) for k, _, v in pairs):
            return "query %r is not sorted" % raw_query
        signed_headers = {}
        for h in signed_list:
            if headers.get(h) is None:
                return "signed header %s is missing" % h
            signed_headers[h] = headers.get(h)
        req = AWSRequest(method=method, url="http://%s%s" % (headers.get("Host"), path), headers=signed_headers,
                         data=body)
        req.context["timestamp"] = amzdate
        signer = S3SigV4Auth(Credentials(akid, self.secret, self.token), "s3", region)
        canonical = signer.canonical_request(req)
        expect = signer.signature(signer.string_to_sign(req, canonical), req)
        if expect != sig:
            return "signature mismatch; botocore's canonical request:\n" + canonical
        return None

    def _xml_error(self, h, status, code, msg):
        body = ("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>%s</Code><Message>%s</Message></Error>"
                % (code, msg)).encode()
        h.send_response(status)
        h.send_header("Content-Type", "application/xml")
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        if h.command != "HEAD":
            h.wfile.write(body)

    def handle(self, h):
        n = int(h.headers.get("Content-Length") or 0)
        if h.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(h.rfile.readline().split(b";")[0], 16)
                if size == 0:
                    h.rfile.readline()
                    break
                chunks.append(h.rfile.read(size))
                h.rfile.readline()
            body = b"".join(chunks)
        else:
            body = h.rfile.read(n) if n else b""
        if len(body) < n:  # the client went away mid-body (killed, or it cancelled the part)
            with self.lock:
                self.truncated += 1
            h.close_connection = True
            return
        why = self.verify(h.command, h.path, h.headers, body)
        with self.lock:
            self.requests.append((h.command, h.headers.get("Host"), h.path))
            if why:
                self.mismatches.append((h.command, h.path, why))
            else:
                self.verified += 1
            inject = self.fail_next > 0
            if inject:
                self.fail_next -= 1
                self.failed += 1
        if why:
            return self._xml_error(h, 403, "SignatureDoesNotMatch", why.splitlines()[0])
        if inject:
            return self._xml_error(h, 503, "SlowDown", "Please reduce your request rate.")
        headers = {k: v for k, v in h.headers.items() if k.lower() not in HOP}
        headers["Content-Length"] = str(len(body))
        try:
            up = http.client.HTTPConnection("127.0.0.1", self.upstream_port, timeout=120)
            up.request(h.command, h.path, body=body, headers=headers)
            r = up.getresponse()
        except OSError as e:
            return self._xml_error(h, 502, "BadGateway", "upstream: %s" % e)
        data = None
        length = r.getheader("Content-Length")
        if length is None and h.command != "HEAD":
            data = r.read()
            length = str(len(data))
        h.send_response(r.status)
        for k, v in r.getheaders():
            if k.lower() not in HOP and k.lower() != "content-length":
                h.send_header(k, v)
        if length is not None:
            h.send_header("Content-Length", length)
        h.end_headers()
        if h.command == "HEAD":
            up.close()
            return
        with self.lock:
            cut = h.command == "GET" and r.status in (200, 206) and self.cut_next > 0 and length and int(length) > 1
            if cut:
                self.cut_next -= 1
                self.cut += 1
        if data is not None:
            h.wfile.write(data)
        else:
            left = int(length) // 2 if cut else -1
            while left != 0:
                chunk = r.read(1 << 16 if left < 0 else min(1 << 16, left))
                if not chunk:
                    break
                h.wfile.write(chunk)
                if left > 0:
                    left -= len(chunk)
        if cut:
            h.wfile.flush()
            h.close_connection = True
        up.close()


class CredentialsEndpoint:
    """Answers like the ECS container-credentials endpoint: JSON credentials, only with
    the expected Authorization token; counts the fetches."""

    def __init__(self, access_key, secret, token, auth_token=None, lifetime_s=3600):
        self.fetches = 0
        self.refused = 0
        ep = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_GET(self):
                if auth_token and self.headers.get("Authorization") != auth_token:
                    ep.refused += 1
                    self.send_response(401)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                ep.fetches += 1
                exp = datetime.now(timezone.utc) + timedelta(seconds=lifetime_s)
                body = json.dumps({"AccessKeyId": access_key, "SecretAccessKey": secret, "Token": token,
                                   "Expiration": exp.strftime("%Y-%m-%dT%H:%M:%SZ")}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = "http://127.0.0.1:%d/v2/credentials/task" % self.httpd.server_address[1]
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()
