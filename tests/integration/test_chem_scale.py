"""No record limit: a 100,000-molecule SDF ingests whole, in file order, with progress,
with the server and its converter processes in bounded memory, and the server keeps
serving (other uploads go through) meanwhile.

The SDF is the NCI set shipped with rdkit-data (first_5K.smi, 4999 molecules) written as
SDF by the obabel command line, repeated with each copy's titles suffixed -rN until
CARBOY_TEST_BIG_MOLS molecules (default 100,000; the sanitizer run uses fewer: ASan's
allocator makes Open Babel several times slower, and the point there is memory errors,
not scale)."""
import os
import subprocess
import threading
import time

import pytest

from conftest import BIN, make_server, finish, upload

NCI_SMI = "/usr/share/RDKit/Data/NCI/first_5K.smi"
N = int(os.environ.get("CARBOY_TEST_BIG_MOLS", "100000"))
RSS_LIMIT_MIB = 256  # per process; each holds one molecule (a chunk of records) at a time


# Under AddressSanitizer every process keeps freed memory in quarantine (256 MiB by
# default) and carries shadow memory: a small quarantine keeps the resident set about
# what the program holds, and the bound allows for the shadow.
ASAN = "libasan" in subprocess.run(["ldd", BIN], capture_output=True, text=True).stdout
if ASAN:
    RSS_LIMIT_MIB = 768


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    env = {"ASAN_OPTIONS": "detect_leaks=1:abort_on_error=0:allocator_release_to_os_interval_ms=100"
                           ":quarantine_size_mb=16:thread_local_quarantine_size_kb=256"} if ASAN else None
    s = make_server(tmp_path_factory, env)
    yield s
    finish(s)


def build_sdf(path):
    base = path.parent / "base.sdf"
    subprocess.run(["obabel", NCI_SMI, "-osdf", "-O", str(base)], check=True, capture_output=True, timeout=300)
    records = base.read_text().split("$$$$\n")
    records = [r for r in records if r.strip()]
    titles = []
    with open(path, "w") as out:
        n, rep = 0, 1
        while n < N:
            for r in records:
                if n == N:
                    break
                first, rest = r.split("\n", 1)
                title = f"{first}-r{rep}"
                out.write(f"{title}\n{rest}$$$$\n")
                titles.append(title)
                n += 1
            rep += 1
    return titles, len(records)


def tree_rss_kib(pid):
    """RSS of pid and of each of its descendants: {pid: kib}."""
    children = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                s = f.read()
            ppid = int(s[s.rindex(")") + 2:].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        children.setdefault(ppid, []).append(int(d))
    out, todo = {}, [pid]
    while todo:
        p = todo.pop()
        try:
            with open(f"/proc/{p}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        out[p] = int(line.split()[1])
        except OSError:
            pass
        todo += children.get(p, [])
    return out


def test_100k_molecule_sdf_ingests_whole_with_progress_and_bounded_memory(srv, tmp_path):
    path = tmp_path / "big.sdf"
    titles, nbase = build_sdf(path)
    assert len(titles) == N
    folder = srv.folder("big")

    peak = {}
    stop = threading.Event()

    def sample():
        while not stop.is_set():
            for p, kib in tree_rss_kib(srv.proc.pid).items():
                peak[p] = max(peak.get(p, 0), kib)
            time.sleep(0.2)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        f = upload(srv, folder["id"], str(path))
        jobs = srv.api("GET", "/jobs?limit=100").json()["jobs"]
        job = next(j for j in jobs if j["type"] == "ingest" and f["id"] in j["inputs"])
        progress, others, seen_records = [], [], 0
        deadline = time.time() + 1800
        while time.time() < deadline:
            j = srv.api("GET", f"/jobs/{job['id']}").json()
            if j["state"] == "running":
                progress.append(j["progress"])
                # the server keeps serving: a small upload goes through meanwhile
                if len(others) < 3:
                    others.append(srv.put(folder["id"], f"note{len(others)}.txt", b"while ingesting\n"))
                # records are stored as they are read, not all at the end
                body = srv.api("GET", f"/files/{f['id']}/records?limit=1").json()
                seen_records = max(seen_records, len(body["records"]))
            if j["state"] in ("succeeded", "failed"):
                break
            time.sleep(0.5)
        assert j["state"] == "succeeded", j
    finally:
        stop.set()
        sampler.join()

    meta = srv.api("GET", f"/files/{f['id']}").json()
    assert meta["status"] == "processed" and meta["record_count"] == N, meta
    # progress: reported along the way, rising, within 0..1
    steps = sorted(set(progress))
    assert len(steps) >= 5, progress
    assert progress == sorted(progress) and 0 <= steps[0] and steps[-1] <= 1
    assert len(others) >= 1 and all(o.get("id") for o in others), others
    assert seen_records == 1

    # every molecule, in file order (big files are read in parallel chunks)
    got, cursor = [], None
    while True:
        body = srv.api("GET", f"/files/{f['id']}/records?limit=1000" + (f"&cursor={cursor}" if cursor else "")).json()
        got += [(r["index"], r.get("title")) for r in body["records"]]
        cursor = body["next_cursor"]
        if not cursor:
            break
    assert [i for i, _ in got] == list(range(N))
    assert [t for _, t in got] == titles

    # identifiers of a few records match obabel's for the same molecules (any copy)
    ob = subprocess.run(["obabel", NCI_SMI, "-oinchikey"], capture_output=True, text=True, timeout=300).stdout.split()
    for i in (0, 1234, nbase + 7, N - 1):
        rec = srv.api("GET", f"/files/{f['id']}/records?limit=1&cursor={i - 1}").json()["records"] if i else None
        r = rec[0] if rec else srv.api("GET", f"/files/{f['id']}/records?limit=1").json()["records"][0]
        assert r["index"] == i
        assert r.get("inchikey") == ob[i % nbase], (i, r)

    # bounded memory: no process of the server's tree grew with the file
    assert peak, "no memory samples"
    worst = max(peak.values()) / 1024
    assert worst < RSS_LIMIT_MIB, {p: k // 1024 for p, k in peak.items()}
