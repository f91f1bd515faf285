"""One soak uploader (bench/soak.sh starts several): until DEADLINE (epoch seconds),
PUTs files of random sizes into FOLDER and reads each back by its id, comparing the
sha256 the server reports and the downloaded bytes with what was sent. Prints one JSON
line: {"uploads": N, "bytes": B, "errors": E, "mismatches": M, "first_error": "..."}.

    python3 uploader.py URL TOKEN FOLDER DEADLINE SEED [MAX_BYTES]"""
import hashlib
import http.client
import json
import random
import sys
import time
from urllib.parse import urlsplit


def main():
    url, token, folder, deadline, seed = sys.argv[1:6]
    max_bytes = int(sys.argv[6]) if len(sys.argv) > 6 else 256 * 1024
    deadline = float(deadline)
    rnd = random.Random(int(seed))
    u = urlsplit(url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=120)
    auth = {"Authorization": f"Bearer {token}"}
    out = {"uploads": 0, "bytes": 0, "errors": 0, "mismatches": 0, "first_error": ""}

    def request(method, path, body=None):
        # one retry on a connection the server closed between requests (keep-alive
        # ended); anything else counts as an error
        for attempt in (0, 1):
            try:
                conn.request(method, path, body=body, headers=auth)
                r = conn.getresponse()
                return r.status, r.read()
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                conn.close()
                if attempt:
                    raise

    def fail(what):
        out["errors"] += 1
        if not out["first_error"]:
            out["first_error"] = what[:300]

    i = 0
    while time.time() < deadline:
        n = rnd.randint(0, max_bytes)
        data = rnd.randbytes(n)
        sha = hashlib.sha256(data).hexdigest()
        name = f"s{seed}-{i}.bin"
        i += 1
        try:
            st, body = request("PUT", f"/api/v1/folders/{folder}/files/{name}", data)
            if st != 201:
                fail(f"PUT {name}: {st} {body[:200]!r}")
                continue
            meta = json.loads(body)
            if meta["sha256"] != sha or meta["size"] != n:
                out["mismatches"] += 1
                continue
            st, got = request("GET", f"/api/v1/files/{meta['id']}/content")
            if st != 200:
                fail(f"GET {name}: {st} {got[:200]!r}")
                continue
            if hashlib.sha256(got).hexdigest() != sha:
                out["mismatches"] += 1
                continue
            out["uploads"] += 1
            out["bytes"] += n
        except (OSError, http.client.HTTPException, ValueError, KeyError) as e:
            fail(f"{name}: {e!r}")
            conn.close()
    print(json.dumps(out))


if __name__ == "__main__":
    main()
