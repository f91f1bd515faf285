"""The authorization matrix of test_access.py (its world, its calls, its expected answers:
imported, not copied) run concurrently from several threads while other clients upload
and download, so that a request served beside another can never take its identity, its
access decision or its bytes (issue 10's "authorization matrix under load").

Rounds: SECURITY_LOAD_ROUNDS (default 5; 1 under the sanitizer build, detected from the
binary's shared libraries)."""
import hashlib
import os
import random
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import requests

from conftest import BIN
from test_access import CASES, call, verdict, world  # noqa: F401 (world is a fixture)

THREADS = 8


def sanitizer_build():
    out = subprocess.run(["ldd", BIN], capture_output=True, text=True).stdout
    return "libasan" in out or "libubsan" in out


ROUNDS = int(os.environ.get("SECURITY_LOAD_ROUNDS", "1" if sanitizer_build() else "5"))


def transfers(world, who, stop, errors, counts):
    """Uploads files of random sizes into who's own folder and downloads them back, until
    stop; every byte must come back as sent, and nobody else may see them."""
    s, tok = world["s"], world["tokens"]
    rnd = random.Random(who)
    h = {"Authorization": f"Bearer {tok[who]}"}
    folder = s.api("POST", "/folders", json={"name": f"load-{who}"}, token=tok[who]).json()
    outsider = "eve" if who != "eve" else "bob"
    i = 0
    while not stop.is_set():
        data = os.urandom(rnd.randint(1, 1 << 20))
        r = requests.put(f"{s.url}/api/v1/folders/{folder['id']}/files/t{i}.bin", data=data, headers=h, timeout=120)
        if r.status_code != 201:
            errors.append(f"{who} upload {i}: {r.status_code} {r.text[:200]}")
            return
        fid = r.json()["id"]
        got = requests.get(f"{s.url}/api/v1/files/{fid}/content", headers=h, timeout=120)
        if got.status_code != 200 or hashlib.sha256(got.content).digest() != hashlib.sha256(data).digest():
            errors.append(f"{who} download {i}: {got.status_code}, {len(got.content)} of {len(data)} bytes")
        peek = s.api("GET", f"/files/{fid}/content", token=tok[outsider])
        if peek.status_code != 404:
            errors.append(f"{outsider} read {who}'s upload: {peek.status_code}")
        counts[who] = counts.get(who, 0) + 1
        i += 1


def identities(world, stop, errors, counts):
    """GET /me with every token in turn: each answer names the token's own user."""
    s, tok = world["s"], world["tokens"]
    names = [n for n in ("alice", "bob", "carol", "dave", "eve")]
    while not stop.is_set():
        for n in names:
            r = s.api("GET", "/me", token=tok[n])
            if r.status_code != 200 or r.json()["username"] != n:
                errors.append(f"/me as {n}: {r.status_code} {r.text[:200]}")
            counts["me"] = counts.get("me", 0) + 1
        r = s.api("GET", "/me", token=tok["revoked"])
        if r.status_code != 401:
            errors.append(f"/me with a revoked token: {r.status_code}")


def test_matrix_under_load(world):
    jobs = [(a, st, ep, f"-r{k}") for k in range(ROUNDS) for (a, st, ep) in CASES]
    random.Random(10).shuffle(jobs)
    stop = threading.Event()
    errors, counts = [], {}
    background = [threading.Thread(target=transfers, args=(world, who, stop, errors, counts)) for who in ("alice", "eve")]
    background.append(threading.Thread(target=identities, args=(world, stop, errors, counts)))
    for t in background:
        t.start()

    def run(job):
        actor, state, endpoint, tag = job
        r = call(world, actor, state, endpoint, tag)
        return None if r is None else verdict(actor, state, endpoint, r)

    t0 = time.time()
    try:
        with ThreadPoolExecutor(THREADS) as pool:
            wrong = [w for w in pool.map(run, jobs) if w]
    finally:
        stop.set()
        for t in background:
            t.join(180)
    elapsed = time.time() - t0
    ran = sum(1 for a, st, ep, _ in jobs if call_kind(a, ep))
    print(f"\nmatrix under load: {ran} matrix requests ({len(CASES)} cases x {ROUNDS} rounds) on {THREADS} threads "
          f"in {elapsed:.1f} s, beside {counts.get('alice', 0) + counts.get('eve', 0)} uploads+downloads and "
          f"{counts.get('me', 0)} identity checks")
    assert not wrong, f"{len(wrong)} wrong answers:\n" + "\n".join(wrong[:30])
    assert not errors, "\n".join(errors[:30])
    assert counts.get("alice", 0) > 0 and counts.get("eve", 0) > 0 and counts.get("me", 0) > 0, counts


def call_kind(actor, endpoint):
    """Whether the matrix has a request for this pair (links have no write endpoints)."""
    return not (actor in ("link", "expired_link") and endpoint not in
                ("get_folder", "get_subfolder", "archive", "get_file", "get_deep_file", "content"))


def test_listings_under_load_show_only_ones_own(world):
    """Top-level listings fetched concurrently by every user: each sees exactly its own set."""
    s, t = world["s"], world["tokens"]
    want = {"alice": {"private-folder", "granted-folder", "public-folder"}, "bob": {"granted-folder"},
            "carol": {"granted-folder"}, "dave": {"granted-folder"}, "eve": set()}

    def listing(who):
        names = {f["name"] for f in s.api("GET", "/folders?limit=1000", token=t[who]).json()["folders"]}
        return who, {n for n in names if not n.startswith(("load-", "made-by-", "sub"))}

    jobs = [w for w in want for _ in range(10 * ROUNDS)]
    random.Random(11).shuffle(jobs)
    with ThreadPoolExecutor(THREADS) as pool:
        for who, names in pool.map(listing, jobs):
            assert names == want[who], (who, names)
