#!/usr/bin/env bash
# Full-text and property search: indexing throughput and query latency, against SQLite's
# FTS5 on the same text queried directly (python3's sqlite3 module: the same libsqlite3
# as carboy on Debian).
#
# Corpus: BENCH_DOCS documents (default 100000), doc-NNNNNN.txt (zero-padded, so name order
# is number order), built deterministically (BENCH_SEED, default 1) from the plain-text
# files under /usr/share/common-licenses and /usr/share/doc/*/copyright (gzip, binary and
# non-UTF-8 files skipped): split into paragraphs (64 B .. 3 KiB, duplicates dropped), each
# document a few paragraphs drawn by a seeded PRNG, 1-4 KiB (about 2.9 KiB on average:
# ~290 MB for 100k documents). The same seed gives the same corpus on machines with the
# same packages installed (the paragraph and file counts are logged).
#
# 1. indexing (MB of text/s, 10^6 bytes)
#    baseline: one python3 process reads every document, inserts it into an FTS5 table
#      fts5(name, body, tokenize = 'unicode61 remove_diacritics 2') (carboy's tokenizer; rank
#      bm25(10.0, 1.0), carboy's weights), and its line_count, word_count and
#      character_count (counted as carboy's text converter does) into a plain table
#      props(doc, name, value) with an index on (name, value); one transaction, WAL,
#      synchronous=NORMAL (carboy's settings). MB/s = corpus / (open .. commit).
#    carboy: every document PUT /api/v1/folders/F/files/doc-N.txt by BENCH_UPLOADERS
#      threads (default 4, one keep-alive connection each; python3 http.client), each upload
#      ingested in the background (text converter; the text into search_fts); /metrics
#      polled (carboy_jobs{state}, every 0.25 s) until every ingest job succeeded.
#      MB/s = corpus / (first upload .. all processed). Also logged: uploads/s, processed/s,
#      the backlog when the uploads ended and the rate it drained at, CPU seconds of the
#      server and its converters; then the folder is listed and every file must read
#      "processed".
#    carboy, archive (the bulk path a lab deposits many small files by): after the queries
#      (below), on a fresh server (the first one stopped; its data dir kept until the end), the same
#      documents packed in one tar archive (python3 tarfile, ustar: regular file members
#      only, doc-N.txt at the top level, no directory entries; built before the timing, not
#      counted), or, when BENCH_DOCS > BENCH_SEARCH_ARCHIVE_MEMBERS (default and at most
#      10000, carboy's unpack limit), in several of at most that many members each, in name
#      order (docs-1.tar, docs-2.tar, ...). Each archive: PUT /api/v1/folders/F/files/docs.tar
#      (a new folder; one keep-alive connection), then POST /api/v1/jobs {"type":"unpack",
#      "inputs":[its id]} (202) right away; several archives are uploaded one after another,
#      each one's unpack job posted as soon as it is stored (so the server may unpack and
#      ingest while the later ones upload). GET /api/v1/jobs/ID until every unpack job
#      succeeded (its result: the new folder, as many files as members, none skipped), then
#      /metrics as above until every ingest job succeeded (the members' and each archive's
#      own); any failed job ends the run. MB/s = corpus (text, not tar) / (start of the first
#      PUT .. all processed). Also logged: the PUT time and MB/s of tar, each unpack job's
#      own duration (started_at .. finished_at) and wait, the backlog when the last unpack
#      succeeded and the rate it drained at, processed/s, CPU seconds of the server and its
#      converters; then every unpacked folder is listed: exactly the expected doc-N.txt, all
#      "processed".
# 2. query latency (ms, median and p99 = nearest rank), limit 20, carboy and the baseline
#    alternating query by query (after 10 full-text and 10 property warm-up queries):
#    fulltext  BENCH_QUERIES queries (default 200) from the corpus vocabulary (ASCII words
#              of 3+ letters; never doc/txt/utf, which are in every name), seeded, five
#              classes in equal numbers: one frequent word (in >= 5% of the documents), one
#              mid word, one rare word (the tenth of the vocabulary in the fewest documents;
#              the corpus repeats ~8,000 paragraphs, so "rare" grows with BENCH_DOCS: in at
#              most 15 of 20000 documents, ~75 of 100000), two words
#              co-occurring in a random document (frequent + mid), a rare word + a frequent
#              word of the same document.
#              carboy:   GET /api/v1/search?q=W1+W2&limit=20
#              baseline: SELECT rowid, snippet(t, -1, '«', '»', '…', 16) FROM t
#                          WHERE t MATCH '"w1" "w2"' ORDER BY rank LIMIT 20
#    property  BENCH_PROP_QUERIES (default 50) thresholds X at evenly spaced quantiles of
#              the documents' word counts (1% .. 99%, shuffled)
#              carboy:   GET /api/v1/search?where=word_count:gt:X&limit=20 (value order)
#              baseline: SELECT doc FROM props WHERE name = 'word_count' AND value > X
#                          ORDER BY value LIMIT 20
#    combined  BENCH_PROP_QUERIES queries q=WORD (frequent or mid) & where=word_count:gt:X
#              (logged, not in a RESULT line; run last, not warmed up); baseline: the
#              full-text query joined with props on (doc, 'word_count').
#    A carboy query not answered within BENCH_SEARCH_QUERY_TIMEOUT seconds (default 60)
#    counts as that long (a lower bound) and the rest of its kind is skipped (the server
#    thread stays busy with it), with a WARNING.
#    carboy's latency: one keep-alive HTTP connection (python3 http.client), from sending the
#    request to having read the whole response; the baseline's: execute + fetchall, in
#    process (no HTTP, no JSON, no access checks: the floor).
#    Correctness, on BENCH_SEARCH_CHECK (default 20) queries of each kind: where the
#    baseline finds fewer than 20 matches, carboy's hits must be exactly those documents;
#    otherwise carboy must return 20 hits, all among the baseline's matches (the rankings
#    differ a little: carboy's FTS table also holds a row per file name); property queries
#    must return documents with the same 20 word counts in the same order. Differences are logged as MISMATCH
#    and counted in a WARNING (the RESULT lines are still printed).
#
# Final lines (informational: no targets; for latency, ratio > 1 means carboy is faster):
#   RESULT search-index baseline=<MB/s> carboy=<MB/s> ratio=<carboy/baseline> target=none
#   RESULT search-index-archive baseline=<MB/s> carboy=<MB/s> ratio=<carboy/baseline> target=none
#   RESULT search-fulltext-p50 baseline=<ms> carboy=<ms> ratio=<baseline/carboy> target=none
#   RESULT search-fulltext-p99 ..., search-property-p50 ..., search-property-p99 ...
# Knobs: BENCH_DOCS, BENCH_QUERIES, BENCH_PROP_QUERIES, BENCH_UPLOADERS, BENCH_SEED,
# BENCH_SEARCH_CHECK, BENCH_SEARCH_TIMEOUT (seconds for every upload, or every archive, to
# be processed, default 14400, each run), BENCH_SEARCH_QUERY_TIMEOUT,
# BENCH_SEARCH_ARCHIVE_MEMBERS, CARBOY_BIN.
# Time on 2 cores: BENCH_DOCS=20000 takes 8 minutes (5 of them carboy's ingest). With the
# defaults, an estimate of 1-2 hours, nearly all carboy's ingest: each job claim sorts the
# whole queue, so processing slows as the backlog grows (20000: 65 documents/s). The temp
# dir needs ~3 GB (20000: ~550 MB).
set -euo pipefail
# shellcheck source=bench/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
bench_init search
NDOCS=${BENCH_DOCS:-100000}
NQ=${BENCH_QUERIES:-200}
NPQ=${BENCH_PROP_QUERIES:-50}
UPLOADERS=${BENCH_UPLOADERS:-4}
SEED=${BENCH_SEED:-1}
NCHECK=${BENCH_SEARCH_CHECK:-20}
INDEX_TIMEOUT=${BENCH_SEARCH_TIMEOUT:-14400}
QUERY_TIMEOUT=${BENCH_SEARCH_QUERY_TIMEOUT:-60}
PER_ARCHIVE=${BENCH_SEARCH_ARCHIVE_MEMBERS:-10000}
for v in NDOCS NQ NPQ UPLOADERS SEED INDEX_TIMEOUT QUERY_TIMEOUT PER_ARCHIVE; do
  [[ "${!v}" =~ ^[1-9][0-9]*$ ]] || die "$v must be a positive integer, not '${!v}'"
done
[[ "$NCHECK" =~ ^[0-9]+$ ]] || die "BENCH_SEARCH_CHECK must be a whole number, not '$NCHECK'"
((NDOCS >= 100)) || die "BENCH_DOCS must be at least 100"
((PER_ARCHIVE <= 10000)) || die "BENCH_SEARCH_ARCHIVE_MEMBERS must be at most 10000 (carboy's unpack limit)"
python3 -c 'import sqlite3; sqlite3.connect(":memory:").execute("CREATE VIRTUAL TABLE t USING fts5(x)")' 2>/dev/null ||
  die "python3's sqlite3 has no FTS5"
log "baseline: python3 $(python3 -c 'import platform; print(platform.python_version())'), SQLite $(python3 -c 'import sqlite3; print(sqlite3.sqlite_version)') ($(ldd "$(python3 -c 'import _sqlite3; print(_sqlite3.__file__)')" 2>/dev/null | awk '/libsqlite3/ { print $3 }' || echo '?')); carboy links $(ldd "$CARBOY_SNAP" 2>/dev/null | awk '/libsqlite3/ { print $3 }' || echo '?')"

# ---------------------------------------------------------------- the client
py="$BENCH_TMP/search_bench.py"
cat >"$py" <<'EOF'
import collections, datetime, glob, http.client, json, math, os, random, re, sqlite3, statistics, sys, tarfile, threading, time, urllib.parse


def die(msg):
    print(f"search: ERROR: {msg}", file=sys.stderr, flush=True)
    sys.exit(1)


def log(msg):
    print(f"[search] {msg}", file=sys.stderr, flush=True)


def name_of(i, width):
    return f"doc-{i:0{width}d}.txt"


def http_conn(timeout=120, blocksize=8192):
    u = urllib.parse.urlsplit(os.environ["CARBOY_URL"])
    return http.client.HTTPConnection(u.hostname, u.port, timeout=timeout, blocksize=blocksize)


def auth_headers():
    h = {}
    a = os.environ.get("AUTH_HEADER", "")
    if a:
        k, v = a.split(":", 1)
        h[k.strip()] = v.strip()
    return h


def get_json(conn, path):
    conn.request("GET", path, headers=auth_headers())
    r = conn.getresponse()
    body = r.read()
    if r.status != 200:
        die(f"GET {path} answered HTTP {r.status}: {body[:300]!r}")
    return json.loads(body)


# ---------------------------------------------------------------- corpus
STOP = {"doc", "txt", "utf"}  # in every file's name row (doc-N.txt, encoding UTF-8)
WORD = re.compile(r"\w+")


def cmd_corpus(outdir, n, seed, meta_path, queries_path, nq, npq):
    n, seed, nq, npq = int(n), int(seed), int(nq), int(npq)
    width = max(6, len(str(n)))
    srcs = sorted({os.path.realpath(p) for p in glob.glob("/usr/share/common-licenses/*") + glob.glob("/usr/share/doc/*/copyright")})
    paras, seen, nfiles = [], set(), 0
    for p in srcs:
        if p.endswith(".gz") or not os.path.isfile(p):
            continue
        b = open(p, "rb").read()
        if b"\0" in b:
            continue
        try:
            t = b.decode("utf-8")
        except UnicodeDecodeError:
            continue
        nfiles += 1
        for para in re.split(r"\n[ \t]*\n", t):
            pb = para.strip().encode()
            if 64 <= len(pb) <= 3072 and pb not in seen:
                seen.add(pb)
                paras.append(pb)
    if len(paras) < 100:
        die(f"only {len(paras)} paragraphs of text under /usr/share/common-licenses and /usr/share/doc/*/copyright")
    ptoks, pwc = [], []
    for pb in paras:
        ws = (w.lower() for w in WORD.findall(pb.decode()))
        ptoks.append(frozenset(w for w in ws if len(w) >= 3 and w.isascii() and w.isalpha() and w not in STOP))
        pwc.append(len(pb.split()))
    rng = random.Random(seed)
    os.makedirs(outdir, exist_ok=True)
    df = collections.Counter()
    wcs, docs, total = [], [], 0
    for i in range(1, n + 1):
        target = rng.randint(1024, 4096)
        parts, size, tries = [], 0, 0
        while size < target and tries < 100:
            k = rng.randrange(len(paras))
            add = len(paras[k]) + (2 if parts else 0)
            if size + add > 4096 or k in parts:
                tries += 1
                continue
            parts.append(k)
            size += add
        body = b"\n\n".join(paras[k] for k in parts) + b"\n"
        with open(os.path.join(outdir, name_of(i, width)), "wb") as f:
            f.write(body)
        total += len(body)
        docs.append(parts)
        df.update(frozenset().union(*(ptoks[k] for k in parts)))
        wcs.append(sum(pwc[k] for k in parts))

    # the queries
    vocab = sorted(df.items(), key=lambda x: (-x[1], x[0]))
    # rare: the tenth of the vocabulary seen in the fewest documents (a word of a single
    # paragraph is in about docs * 3 / paragraphs documents)
    asc = sorted(df.values())
    rare_max = max(3, asc[len(asc) // 10])
    freq = [w for w, c in vocab if c >= 0.05 * n][:500] or [w for w, c in vocab[:50]]
    rare = [w for w, c in vocab if c <= rare_max]
    fset, rset = set(freq), set(rare)
    mid = [w for w, c in vocab if w not in fset and w not in rset]
    if not mid or not rare:
        die(f"vocabulary too small: {len(freq)} frequent, {len(mid)} mid, {len(rare)} rare words")
    mset = set(mid)

    def doc_words(d):
        return frozenset().union(*(ptoks[k] for k in docs[d]))

    def pick(pool):
        return pool[rng.randrange(len(pool))]

    queries = []
    classes = ["1 frequent", "1 mid", "1 rare", "2 frequent+mid", "2 rare+frequent"]
    for i in range(nq):
        cls = classes[i % len(classes)]
        if cls == "1 frequent":
            words = [pick(freq)]
        elif cls == "1 mid":
            words = [pick(mid)]
        elif cls == "1 rare":
            words = [pick(rare)]
        else:
            words = None
            for _ in range(1000):
                ws = doc_words(rng.randrange(n))
                a = sorted(ws & fset)
                b = sorted(ws & (mset if cls == "2 frequent+mid" else rset))
                if a and b:
                    words = [pick(a), pick(b)]
                    break
            if not words:  # no document with both: fall back to any two words of one
                ws = sorted(doc_words(rng.randrange(n)))
                words = [pick(ws), pick(ws)]
            rng.shuffle(words)
        queries.append({"kind": "fulltext", "cls": cls, "words": words, "gt": None})
    rng.shuffle(queries)
    sw = sorted(wcs)
    qs = [sw[min(n - 1, int((k + 0.5) / npq * n))] for k in range(npq)]
    grid = list(qs)
    rng.shuffle(grid)
    for x in grid:
        queries.append({"kind": "property", "cls": "where", "words": [], "gt": x})
    grid = list(qs)
    rng.shuffle(grid)
    for x in grid:
        queries.append({"kind": "combined", "cls": "word+where", "words": [pick(freq + mid)], "gt": x})
    json.dump(queries, open(queries_path, "w"), indent=0)
    meta = {"docs": n, "width": width, "bytes": total, "paragraphs": len(paras), "sources": nfiles,
            "vocab": len(vocab), "frequent": len(freq), "freq_min": df[freq[-1]], "mid": len(mid), "rare": len(rare),
            "rare_max": rare_max,
            "wc_min": sw[0], "wc_median": sw[n // 2], "wc_max": sw[-1]}
    json.dump(meta, open(meta_path, "w"))
    print(" ".join(f"{k}={v}" for k, v in meta.items()))


# ---------------------------------------------------------------- baseline indexing
def cmd_baseline_index(docs_dir, n, width, dbpath):
    n, width = int(n), int(width)
    t0 = time.time()
    db = sqlite3.connect(dbpath, isolation_level=None)
    db.executescript(
        "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA temp_store=MEMORY;"
        "CREATE VIRTUAL TABLE t USING fts5(name, body, tokenize = 'unicode61 remove_diacritics 2');"
        "INSERT INTO t(t, rank) VALUES('rank', 'bm25(10.0, 1.0)');"
        "CREATE TABLE props(doc INTEGER NOT NULL, name TEXT NOT NULL, value REAL, PRIMARY KEY (doc, name)) WITHOUT ROWID;"
        "CREATE INDEX props_value ON props(name, value);")
    db.execute("BEGIN")
    total = 0
    for i in range(1, n + 1):
        name = name_of(i, width)
        with open(os.path.join(docs_dir, name), "rb") as f:
            b = f.read()
        total += len(b)
        text = b.decode("utf-8")
        db.execute("INSERT INTO t(rowid, name, body) VALUES (?, ?, ?)", (i, name, text))
        lines = b.count(b"\n") + (1 if b and not b.endswith(b"\n") else 0)
        db.executemany("INSERT INTO props(doc, name, value) VALUES (?, ?, ?)",
                       ((i, "line_count", lines), (i, "word_count", len(b.split())), (i, "character_count", len(text))))
    db.execute("COMMIT")
    t1 = time.time()
    db.close()
    print(f"secs={t1 - t0:.3f} bytes={total}")


# ---------------------------------------------------------------- carboy indexing
def proc_stat(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            s = f.read()
    except OSError:
        return None
    rest = s[s.rindex(")") + 2:].split()
    return int(rest[1]), int(rest[11]) + int(rest[12]), int(rest[13]) + int(rest[14])


def cpu(server_pid):
    """(server's own CPU s, its converters': live descendants plus reaped children)"""
    hz = os.sysconf("SC_CLK_TCK")
    kids = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            st = proc_stat(d)
            if st:
                kids.setdefault(st[0], []).append(int(d))
    own = proc_stat(server_pid)
    if not own:
        return None
    desc, todo = 0, list(kids.get(server_pid, []))
    while todo:
        p = todo.pop()
        st = proc_stat(p)
        if st:
            desc += st[1] + st[2]
        todo += kids.get(p, [])
    return own[1] / hz, (own[2] + desc) / hz


def job_counts(conn):
    conn.request("GET", "/metrics", headers=auth_headers())
    r = conn.getresponse()
    body = r.read().decode()
    if r.status != 200:
        die(f"GET /metrics answered HTTP {r.status}")
    c = {}
    for line in body.splitlines():
        if line.startswith('carboy_jobs{state="'):
            k, v = line.split("} ")
            c[k[len('carboy_jobs{state="'):-1]] = int(float(v))
    for s in ("queued", "running", "succeeded", "failed"):
        c.setdefault(s, 0)
    return c


def cmd_upload(folder, docs_dir, n, width, nthreads, timeout, server_pid):
    n, width, nthreads, timeout, server_pid = int(n), int(width), int(nthreads), float(timeout), int(server_pid)
    H = auth_headers()
    lock = threading.Lock()
    state = {"next": 1, "done": 0, "t_last": 0.0}
    errors = []

    def uploader():
        c = http_conn()
        while not errors:
            with lock:
                i = state["next"]
                if i > n:
                    return
                state["next"] = i + 1
            name = name_of(i, width)
            with open(os.path.join(docs_dir, name), "rb") as f:
                body = f.read()
            try:
                c.request("PUT", f"/api/v1/folders/{folder}/files/{name}", body=body, headers=H)
                r = c.getresponse()
                out = r.read()
            except (OSError, http.client.HTTPException) as e:
                errors.append(f"PUT {name}: {e!r}")
                return
            if r.status != 201:
                errors.append(f"PUT {name} answered HTTP {r.status}: {out[:300]!r}")
                return
            with lock:
                state["done"] += 1
                state["t_last"] = time.time()

    mon = http_conn()
    before = job_counts(mon)
    if before["queued"] or before["running"]:
        die(f"the job queue is not idle before the uploads: {before}")
    cpu0 = cpu(server_pid)
    threads = [threading.Thread(target=uploader, daemon=True) for _ in range(nthreads)]
    t0 = time.time()
    for t in threads:
        t.start()
    t_log, backlog, t_up = t0, None, None
    while True:
        time.sleep(0.25)
        now = time.time()
        c = job_counts(mon)
        ok = c["succeeded"] - before["succeeded"]
        if errors:
            die(errors[0])
        if c["failed"] > before["failed"]:
            try:
                bad = get_json(http_conn(), "/api/v1/jobs?state=failed&limit=3")
            except SystemExit:
                bad = {}
            die(f"{c['failed'] - before['failed']} ingest job(s) failed, e.g. {json.dumps(bad.get('jobs', [])[:3])[:800]}")
        uploaded = state["done"]
        if uploaded == n and t_up is None:
            t_up = state["t_last"]
            backlog = n - ok
            log(f"  all {n} uploaded after {t_up - t0:.1f} s ({n / (t_up - t0):.0f} uploads/s); {ok} processed, backlog {backlog}")
        if uploaded == n and ok >= n and not c["queued"] and not c["running"]:
            t_done = now
            break
        if now - t_log >= 15:
            log(f"  {now - t0:6.1f} s: {uploaded} uploaded, {ok} processed, queue {c['queued']} queued / {c['running']} running")
            t_log = now
        if now - t0 > timeout:
            die(f"after {timeout:.0f} s: {uploaded} of {n} uploaded, {ok} processed ({c})")
    cpu1 = cpu(server_pid)
    for t in threads:
        t.join()
    out = {"secs": t_done - t0, "upload_secs": t_up - t0, "backlog": backlog}
    if cpu0 and cpu1:
        out.update(cpu_server=cpu1[0] - cpu0[0], cpu_conv=cpu1[1] - cpu0[1])
    print(" ".join(f"{k}={v:.3f}" if isinstance(v, float) else f"{k}={v}" for k, v in out.items()))


def cmd_tars(docs_dir, n, width, outdir, per):
    """the corpus as tar archives of at most per members each (one when n <= per): docs.tar, else
    docs-1.tar, docs-2.tar, ...; ustar, regular file members only, doc-N.txt at the top level"""
    n, width, per = int(n), int(width), int(per)
    os.makedirs(outdir, exist_ok=True)
    k = -(-n // per)
    arcs = []
    for a in range(k):
        first, last = a * per + 1, min(n, (a + 1) * per)
        name = "docs.tar" if k == 1 else f"docs-{a + 1}.tar"
        path = os.path.join(outdir, name)
        with tarfile.open(path, "w", format=tarfile.USTAR_FORMAT) as tar:
            for i in range(first, last + 1):
                m = name_of(i, width)
                with open(os.path.join(docs_dir, m), "rb") as f:
                    st = os.fstat(f.fileno())
                    ti = tarfile.TarInfo(m)
                    ti.type, ti.size, ti.mode, ti.mtime = tarfile.REGTYPE, st.st_size, 0o644, int(st.st_mtime)
                    tar.addfile(ti, f)
        with tarfile.open(path) as tar:
            ms = tar.getmembers()
        if len(ms) != last - first + 1 or not all(x.isreg() and "/" not in x.name for x in ms):
            die(f"{path}: {len(ms)} members, expected {last - first + 1} regular files")
        arcs.append({"name": name, "path": path, "first": first, "count": last - first + 1, "size": os.path.getsize(path)})
    json.dump(arcs, open(os.path.join(outdir, "archives.json"), "w"))
    print(f"archives={k} bytes={sum(a['size'] for a in arcs)}")


def iso_secs(t):
    return datetime.datetime.fromisoformat(t.replace("Z", "+00:00")).timestamp()


def cmd_unpack(folder, manifest, timeout, server_pid):
    """every archive of the manifest PUT into the folder, one after another on one connection,
    each one's unpack job posted as soon as it is stored; /metrics polled until every unpack
    and then every ingest job succeeded"""
    timeout, server_pid = float(timeout), int(server_pid)
    arcs = json.load(open(manifest))
    n = sum(a["count"] for a in arcs)
    H = auth_headers()
    mon = http_conn()
    before = job_counts(mon)
    if before["queued"] or before["running"]:
        die(f"the job queue is not idle before the archive upload: {before}")
    cpu0 = cpu(server_pid)
    conn = http_conn(600, 1 << 20)
    t0 = time.time()
    for a in arcs:
        ta = time.time()
        with open(a["path"], "rb") as f:
            try:
                conn.request("PUT", f"/api/v1/folders/{folder}/files/{a['name']}", body=f,
                             headers={**H, "Content-Type": "application/x-tar", "Content-Length": str(a["size"])})
                r = conn.getresponse()
                body = r.read()
            except (OSError, http.client.HTTPException) as e:
                die(f"PUT {a['name']}: {e!r}")
        if r.status != 201:
            die(f"PUT {a['name']} answered HTTP {r.status}: {body[:300]!r}")
        a["file_id"] = json.loads(body)["id"]
        a["put_secs"] = time.time() - ta
        req = json.dumps({"type": "unpack", "inputs": [a["file_id"]]})
        conn.request("POST", "/api/v1/jobs", body=req, headers={**H, "Content-Type": "application/json"})
        r = conn.getresponse()
        body = r.read()
        if r.status != 202:
            die(f"POST /api/v1/jobs (unpack {a['name']}) answered HTTP {r.status}: {body[:300]!r}")
        a["job_id"] = json.loads(body)["id"]
        log(f"  {a['name']}: {a['count']} members, {a['size'] / 1e6:.1f} MB, PUT in {a['put_secs']:.2f} s"
            f" ({a['size'] / 1e6 / a['put_secs']:.1f} MB/s); unpack job {a['job_id']} posted")
    t_put = time.time()
    t_log, t_unpacked, backlog, pending = t0, None, None, list(arcs)
    expect = n + 2 * len(arcs)  # the members' ingests, each archive's own ingest and its unpack
    while True:
        time.sleep(0.25)
        now = time.time()
        for a in list(pending):
            j = get_json(mon, f"/api/v1/jobs/{a['job_id']}")
            if j["state"] in ("failed", "canceled"):
                die(f"the unpack job of {a['name']} {j['state']}: {j.get('error', '')}")
            if j["state"] != "succeeded":
                continue
            res = j.get("result") or {}
            if res.get("files") != a["count"] or res.get("skipped"):
                die(f"the unpack job of {a['name']} made {res.get('files')} files, expected {a['count']}: {json.dumps(res)[:300]}")
            a["folder_id"] = res["folder_id"]
            a["unpack_wait"] = iso_secs(j["started_at"]) - iso_secs(j["created_at"])
            a["unpack_secs"] = iso_secs(j["finished_at"]) - iso_secs(j["started_at"])
            pending.remove(a)
            log(f"  {a['name']} unpacked after {now - t0:.1f} s: the job waited {a['unpack_wait']:.2f} s"
                f" and ran {a['unpack_secs']:.2f} s ({a['count'] / max(a['unpack_secs'], 1e-3):.0f} files/s)")
        c = job_counts(mon)
        ok = c["succeeded"] - before["succeeded"]
        if c["failed"] > before["failed"]:
            try:
                bad = get_json(http_conn(), "/api/v1/jobs?state=failed&limit=3")
            except SystemExit:
                bad = {}
            die(f"{c['failed'] - before['failed']} job(s) failed, e.g. {json.dumps(bad.get('jobs', [])[:3])[:800]}")
        if not pending and t_unpacked is None:
            t_unpacked = now
            backlog = c["queued"] + c["running"]
            log(f"  every archive unpacked after {t_unpacked - t0:.1f} s; {backlog} jobs queued or running then")
        if not pending and ok >= expect and not c["queued"] and not c["running"]:
            t_done = now
            break
        if now - t_log >= 15:
            log(f"  {now - t0:6.1f} s: {len(arcs) - len(pending)} of {len(arcs)} unpacked, {ok} jobs succeeded"
                f" (of {expect}), queue {c['queued']} queued / {c['running']} running")
            t_log = now
        if now - t0 > timeout:
            die(f"after {timeout:.0f} s: {len(arcs) - len(pending)} of {len(arcs)} archives unpacked, {ok} of {expect} jobs succeeded ({c})")
    cpu1 = cpu(server_pid)
    out = {"secs": t_done - t0, "put_secs": t_put - t0, "unpacked_secs": t_unpacked - t0,
           "unpack_run": sum(a["unpack_secs"] for a in arcs), "unpack_wait": max(a["unpack_wait"] for a in arcs),
           "backlog": backlog, "tar_bytes": sum(a["size"] for a in arcs),
           "folders": ",".join(f"{a['folder_id']}:{a['first']}:{a['count']}" for a in arcs)}
    if cpu0 and cpu1:
        out.update(cpu_server=cpu1[0] - cpu0[0], cpu_conv=cpu1[1] - cpu0[1])
    print(" ".join(f"{k}={v:.3f}" if isinstance(v, float) else f"{k}={v}" for k, v in out.items()))


def cmd_verify(folder, n, first=None, width=None):
    """every file of the folder processed, n of them; named doc-first .. doc-(first + n - 1) when first is given"""
    n = int(n)
    c = http_conn()
    st, names, cursor, pages = collections.Counter(), set(), None, 0
    while True:
        d = get_json(c, f"/api/v1/folders/{folder}?limit=1000" + (f"&cursor={urllib.parse.quote(cursor)}" if cursor else ""))
        for f in d.get("files", []):
            st[f.get("status")] += 1
            names.add(f.get("name"))
        pages += 1
        cursor = d.get("next_cursor")
        if not cursor or pages > n:
            break
    if st["processed"] != n or sum(st.values()) != n:
        die(f"the folder lists {sum(st.values())} files, expected {n} all processed: {dict(st)}")
    if first is not None:
        want = {name_of(i, int(width)) for i in range(int(first), int(first) + n)}
        if names != want:
            die(f"the folder's files are not doc-{int(first)} .. doc-{int(first) + n - 1}: {sorted(names ^ want)[:5]} differ")
    print(f"{n}")


# ---------------------------------------------------------------- queries
SNIP = "snippet(t, -1, '\u00ab', '\u00bb', '\u2026', 16)"
SQL = {
    "fulltext": f"SELECT rowid, {SNIP} FROM t WHERE t MATCH ? ORDER BY rank LIMIT 20",
    "property": "SELECT doc FROM props WHERE name = 'word_count' AND value > ? ORDER BY value LIMIT 20",
    "combined": f"SELECT t.rowid, {SNIP} FROM t JOIN props p ON p.doc = t.rowid AND p.name = 'word_count'"
                " WHERE t MATCH ? AND p.value > ? ORDER BY rank LIMIT 20",
}
SQL_ALL = {
    "fulltext": "SELECT rowid FROM t WHERE t MATCH ?",
    "combined": "SELECT t.rowid FROM t JOIN props p ON p.doc = t.rowid AND p.name = 'word_count'"
                " WHERE t MATCH ? AND p.value > ?",
}
DOCNUM = re.compile(r"^doc-(\d+)\.txt$")


def match_expr(words):
    # as carboy's fts_query: every word a quoted string
    return " ".join('"' + w.replace('"', '""') + '"' for w in words)


def pct(xs, p):
    s = sorted(xs)
    return s[max(0, math.ceil(p / 100 * len(s)) - 1)]


def cmd_queries(dbpath, queries_path, ncheck, qtimeout):
    ncheck, qtimeout = int(ncheck), float(qtimeout)
    queries = json.load(open(queries_path))
    db = sqlite3.connect(dbpath)
    conn = http_conn(qtimeout)
    H = auth_headers()

    def args_of(q):
        a = []
        if q["words"]:
            a.append(match_expr(q["words"]))
        if q["gt"] is not None:
            a.append(q["gt"])
        return a

    def path_of(q):
        p = []
        if q["words"]:
            p.append(("q", " ".join(q["words"])))
        if q["gt"] is not None:
            p.append(("where", f"word_count:gt:{q['gt']}"))
        p.append(("limit", "20"))
        return "/api/v1/search?" + urllib.parse.urlencode(p)

    def run_carboy(q):
        """(ms, hits), or (None, None) when carboy did not answer within qtimeout"""
        nonlocal conn
        path = path_of(q)
        t0 = time.perf_counter()
        try:
            conn.request("GET", path, headers=H)
            r = conn.getresponse()
            body = r.read()
        except TimeoutError:
            conn.close()
            conn = http_conn(qtimeout)
            return None, None
        t1 = time.perf_counter()
        if r.status != 200:
            die(f"GET {path} answered HTTP {r.status}: {body[:300]!r}")
        return (t1 - t0) * 1000, json.loads(body)["hits"]

    def run_base(q):
        sql, a = SQL[q["kind"]], args_of(q)
        t0 = time.perf_counter()
        rows = db.execute(sql, a).fetchall()
        t1 = time.perf_counter()
        return (t1 - t0) * 1000, rows

    kinds = ["fulltext", "property", "combined"]
    lat = {k: {"carboy": [], "baseline": []} for k in kinds}
    by_cls = collections.defaultdict(lambda: {"carboy": [], "baseline": [], "cb_hits": [], "bl_hits": []})
    results = []
    # A query carboy does not answer within qtimeout: counted as qtimeout (a lower bound),
    # and the rest of its kind skipped (it keeps a server thread busy meanwhile).
    timeouts, skipped = collections.Counter(), collections.Counter()

    def timed_out(q):
        left = sum(1 for x in queries if x["kind"] == q["kind"]) - len(lat[q["kind"]]["carboy"]) - 1
        log(f"WARNING: carboy did not answer {path_of(q)} within {qtimeout:.0f} s: skipping the {max(0, left)}"
            f" remaining {q['kind']} queries")
        timeouts[q["kind"]] += 1
        skipped[q["kind"]] += max(0, left)

    for k in kinds[:2]:  # warm-up, not counted (the combined queries run last, unwarmed)
        for q in [q for q in queries if q["kind"] == k][:10]:
            if run_carboy(q)[0] is None:
                die(f"carboy did not answer {path_of(q)} within {qtimeout:.0f} s (warm-up)")
            run_base(q)
    for i, q in enumerate(queries):
        if timeouts[q["kind"]]:
            continue
        if i % 2:
            bt, rows = run_base(q)
            ct, hits = run_carboy(q)
        else:
            ct, hits = run_carboy(q)
            bt, rows = run_base(q)
        if ct is None:
            timed_out(q)
            ct, hits = qtimeout * 1000, None
        lat[q["kind"]]["carboy"].append(ct)
        lat[q["kind"]]["baseline"].append(bt)
        c = by_cls[(q["kind"], q["cls"])]
        c["carboy"].append(ct)
        c["baseline"].append(bt)
        c["bl_hits"].append(len(rows))
        if hits is not None:
            c["cb_hits"].append(len(hits))
            results.append((q, hits, rows))

    # correctness, on a sample of each kind
    checked, mismatches = collections.Counter(), []
    for k in kinds:
        rs = [r for r in results if r[0]["kind"] == k]
        m = min(ncheck, len(rs))
        for j in sorted({round(x * len(rs) / m) for x in range(m)} if m else ()):
            q, hits, rows = rs[j]
            cb = []
            for h in hits:
                mm = DOCNUM.match(h.get("name", ""))
                cb.append(int(mm.group(1)) if mm else -1)
            desc = f"{k} {path_of(q)}"
            checked[k] += 1
            if k == "property":  # both in value order: the same values (ties may swap documents)
                def wc(d):
                    r = db.execute("SELECT value FROM props WHERE name = 'word_count' AND doc = ?", (d,)).fetchone()
                    return r[0] if r else None
                bl = [wc(r[0]) for r in rows]
                got = [wc(d) for d in cb]
                if got != bl:
                    mismatches.append(f"{desc}: carboy's word counts {got[:5]}.. ({len(got)}), baseline's {bl[:5]}.. ({len(bl)})")
                continue
            allm = {r[0] for r in db.execute(SQL_ALL[k], args_of(q))}
            if len(allm) < 20:
                if set(cb) != allm or len(cb) != len(allm):
                    mismatches.append(f"{desc}: baseline matches {sorted(allm)[:8]} ({len(allm)}), carboy {sorted(cb)[:8]} ({len(cb)})")
            elif len(cb) != 20 or not set(cb) <= allm:
                extra = sorted(set(cb) - allm)
                mismatches.append(f"{desc}: baseline {len(allm)} matches, carboy {len(cb)} hits, {len(extra)} not among them {extra[:5]}")
    for mline in mismatches:
        log(f"MISMATCH {mline}")
    log("hits check: " + ", ".join(f"{k} {checked[k] - sum(1 for x in mismatches if x.startswith(k + ' '))}/{checked[k]} ok" for k in kinds))

    # per class
    log("per query class (median ms; hits: mean of min(matches, 20))")
    log(f"  {'kind':9s} {'class':17s} {'n':>4s} {'baseline':>9s} {'carboy':>9s} {'ratio':>7s} {'cb hits':>8s} {'bl hits':>8s}")
    for (k, cls), c in sorted(by_cls.items(), key=lambda x: (kinds.index(x[0][0]), x[0][1])):
        b, cb = statistics.median(c["baseline"]), statistics.median(c["carboy"])
        log(f"  {k:9s} {cls:17s} {len(c['carboy']):4d} {b:9.3f} {cb:9.3f} {b / cb:7.3f} {statistics.mean(c['cb_hits'] or [0]):8.1f} {statistics.mean(c['bl_hits']):8.1f}")
    out = {"mismatches": len(mismatches), "checked": sum(checked.values())}
    for k in kinds:
        out[f"{k}_timeouts"] = timeouts[k]
        out[f"{k}_skipped"] = skipped[k]
        for side in ("carboy", "baseline"):
            xs = lat[k][side]
            out[f"{k}_{side}_n"] = len(xs)
            out[f"{k}_{side}_p50"] = f"{statistics.median(xs):.3f}"
            out[f"{k}_{side}_p99"] = f"{pct(xs, 99):.3f}"
            out[f"{k}_{side}_max"] = f"{max(xs):.3f}"
    print(" ".join(f"{k}={v}" for k, v in out.items()))


cmd, args = sys.argv[1], sys.argv[2:]
{"corpus": cmd_corpus, "baseline-index": cmd_baseline_index, "upload": cmd_upload, "verify": cmd_verify,
 "tars": cmd_tars, "unpack": cmd_unpack, "queries": cmd_queries}[cmd](*args)
EOF

# drive ARGS...: runs the client against the server started last.
drive() {
  CARBOY_URL=${CARBOY_URL:-} AUTH_HEADER=${AUTH_HEADER:-} python3 "$py" "$@"
}

# field KEY "k=v k=v ...": prints v
field() {
  local kv
  for kv in $2; do
    [ "${kv%%=*}" != "$1" ] || { echo "${kv#*=}"; return 0; }
  done
  die "no $1 in '$2'"
}

# ---------------------------------------------------------------- corpus
docs="$BENCH_TMP/docs"
t0=$(now)
meta=$(drive corpus "$docs" "$NDOCS" "$SEED" "$BENCH_TMP/meta.json" "$BENCH_TMP/queries.json" "$NQ" "$NPQ") ||
  die "building the corpus failed"
bytes=$(field bytes "$meta") width=$(field width "$meta")
mb=$(awk -v b="$bytes" 'BEGIN { printf "%.1f\n", b / 1e6 }')
log "corpus: $NDOCS documents, $mb MB ($(field paragraphs "$meta") paragraphs of $(field sources "$meta") files, seed $SEED), built in $(elapsed "$t0" "$(now)") s"
log "  words per document: min $(field wc_min "$meta"), median $(field wc_median "$meta"), max $(field wc_max "$meta");" \
  "vocabulary $(field vocab "$meta") words: $(field frequent "$meta") frequent (in >= $(field freq_min "$meta") documents), $(field mid "$meta") mid, $(field rare "$meta") rare (in <= $(field rare_max "$meta"))"

# ---------------------------------------------------------------- indexing: baseline
log "baseline: FTS5 + props table, one transaction (python3 sqlite3)"
out=$(drive baseline-index "$docs" "$NDOCS" "$width" "$BENCH_TMP/baseline.db") || die "the baseline indexing failed"
bl_secs=$(field secs "$out")
[ "$(field bytes "$out")" = "$bytes" ] || die "the baseline read $(field bytes "$out") bytes, expected $bytes"
bl_rate=$(mbps "$bytes" "$bl_secs")
bl_db=$(du -sm "$BENCH_TMP"/baseline.db* | awk '{ s += $1 } END { print s }')
log "baseline: $bl_secs s = $bl_rate MB/s ($(awk -v n="$NDOCS" -v t="$bl_secs" 'BEGIN { printf "%.0f", n / t }') documents/s; database $bl_db MB)"

# ---------------------------------------------------------------- indexing: carboy
start_carboy
folder=$(carboy_folder search)
log "carboy: PUT $NDOCS documents ($UPLOADERS uploaders), polling /metrics until every ingest job succeeded"
out=$(drive upload "$folder" "$docs" "$NDOCS" "$width" "$UPLOADERS" "$INDEX_TIMEOUT" "$CARBOY_PID") ||
  die "the uploads or their processing failed"
cb_secs=$(field secs "$out") up_secs=$(field upload_secs "$out") backlog=$(field backlog "$out")
cb_rate=$(mbps "$bytes" "$cb_secs")
up_rate=$(awk -v n="$NDOCS" -v t="$up_secs" 'BEGIN { printf "%.1f", n / t }')
proc_rate=$(awk -v n="$NDOCS" -v t="$cb_secs" 'BEGIN { printf "%.1f", n / t }')
cpu_txt="CPU: server $(field cpu_server "$out" 2>/dev/null || echo '?') s, converters $(field cpu_conv "$out" 2>/dev/null || echo '?') s"
drive verify "$folder" "$NDOCS" >/dev/null || die "not every file reads processed"
cb_db=$(du -sm "$BENCH_TMP/data" | awk '{ print $1 }')
drain_rate=$(awk -v n="$backlog" -v t="$cb_secs" -v u="$up_secs" 'BEGIN { printf "%.1f", (t > u) ? n / (t - u) : 0 }')
log "carboy: $cb_secs s = $cb_rate MB/s; uploads $up_secs s = $up_rate uploads/s (backlog then: $backlog, drained at $drain_rate/s); processed $proc_rate documents/s; $cpu_txt; data dir $cb_db MB; every file reads processed"

# ---------------------------------------------------------------- queries
log "queries: $NQ full-text, $NPQ property, $NPQ combined; carboy GET /api/v1/search (one keep-alive connection) vs FTS5 in process, alternating"
out=$(drive queries "$BENCH_TMP/baseline.db" "$BENCH_TMP/queries.json" "$NCHECK" "$QUERY_TIMEOUT") || die "the queries failed"
declare -A L
for k in fulltext property combined; do
  for s in carboy baseline; do
    for p in p50 p99 max; do L[$k,$s,$p]=$(field "${k}_${s}_$p" "$out"); done
  done
done
mismatch=$(field mismatches "$out") checked=$(field checked "$out")
declare -A TO SK
for k in fulltext property combined; do
  TO[$k]=$(field "${k}_timeouts" "$out") SK[$k]=$(field "${k}_skipped" "$out")
done

# ---------------------------------------------------------------- indexing: carboy, tar archives
# On a fresh server (the first one stopped: the queries are done). Its data dir stays until
# the end: removing some 20,000 files just before would have the disk busy freeing them
# while this run writes.
stop_carboy
t0=$(now)
tars=$(drive tars "$docs" "$NDOCS" "$width" "$BENCH_TMP/tars" "$PER_ARCHIVE") || die "building the tar archives failed"
narch=$(field archives "$tars")
tar_mb=$(awk -v b="$(field bytes "$tars")" 'BEGIN { printf "%.1f\n", b / 1e6 }')
if ((narch == 1)); then arch_txt="one tar archive"; else arch_txt="$narch tar archives"; fi
log "corpus as $arch_txt (at most $PER_ARCHIVE members each): $tar_mb MB, built in $(elapsed "$t0" "$(now)") s (not timed)"
start_carboy archive
afolder=$(carboy_folder search-archive)
if ((narch == 1)); then how="PUT one tar archive, then unpack it"; else how="PUT $narch tar archives one after another, each unpacked as soon as it is stored"; fi
log "carboy: $how (POST /api/v1/jobs unpack); polling until every unpack and then every ingest job succeeded"
aout=$(drive unpack "$afolder" "$BENCH_TMP/tars/archives.json" "$INDEX_TIMEOUT" "$CARBOY_PID") ||
  die "the archive upload, its unpacking or the members' processing failed"
ar_secs=$(field secs "$aout") ar_put=$(field put_secs "$aout") ar_unpacked=$(field unpacked_secs "$aout")
ar_run=$(field unpack_run "$aout") ar_wait=$(field unpack_wait "$aout") ar_backlog=$(field backlog "$aout")
ar_rate=$(mbps "$bytes" "$ar_secs")
ar_put_rate=$(mbps "$(field tar_bytes "$aout")" "$ar_put")
ar_proc_rate=$(awk -v n="$NDOCS" -v t="$ar_secs" 'BEGIN { printf "%.1f", n / t }')
ar_drain=$(awk -v n="$ar_backlog" -v t="$ar_secs" -v u="$ar_unpacked" 'BEGIN { printf "%.1f", (t > u) ? n / (t - u) : 0 }')
ar_cpu_txt="CPU: server $(field cpu_server "$aout" 2>/dev/null || echo '?') s, converters $(field cpu_conv "$aout" 2>/dev/null || echo '?') s"
for fc in $(field folders "$aout" | tr ',' ' '); do
  IFS=: read -r fid first count <<<"$fc"
  drive verify "$fid" "$count" "$first" "$width" >/dev/null || die "not every unpacked file reads processed (folder $fid)"
done
ar_db=$(du -sm "$BENCH_TMP/archive" | awk '{ print $1 }')
log "carboy ($arch_txt): $ar_secs s = $ar_rate MB/s; PUT $ar_put s ($ar_put_rate MB/s of tar); unpack job(s) ran $ar_run s in all (each waited up to $ar_wait s), all unpacked after $ar_unpacked s (backlog then: $ar_backlog, drained at $ar_drain/s); processed $ar_proc_rate documents/s; $ar_cpu_txt; data dir $ar_db MB; every unpacked file reads processed"

# ---------------------------------------------------------------- report
idx_ratio=$(ratio "$cb_rate" "$bl_rate")
ar_ratio=$(ratio "$ar_rate" "$bl_rate")
echo "search: $NDOCS documents, $mb MB of text (seed $SEED); $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "indexing (MB/s, 10^6 bytes of text)"
echo "  baseline (FTS5 + props table, one transaction, python3 sqlite3): $bl_secs s = $bl_rate MB/s"
echo "  carboy (PUT x $UPLOADERS uploaders .. every ingest job succeeded):     $cb_secs s = $cb_rate MB/s"
echo "    uploads $up_rate/s ($up_secs s; $backlog still to process then, drained at $drain_rate/s), processed $proc_rate documents/s; $cpu_txt"
echo "  ratio carboy/baseline: $idx_ratio"
echo "  carboy ($arch_txt, unpacked .. every ingest job succeeded): $ar_secs s = $ar_rate MB/s, ratio carboy/baseline $ar_ratio"
echo "    PUT $ar_put s ($tar_mb MB of tar, $ar_put_rate MB/s); unpack job(s) ran $ar_run s in all, all unpacked after $ar_unpacked s; $ar_backlog jobs then, drained at $ar_drain/s; processed $ar_proc_rate documents/s; $ar_cpu_txt"
echo "query latency (ms, limit 20; carboy over HTTP, one keep-alive connection; baseline in process)"
printf '  %-9s %5s | %9s %9s %9s | %9s %9s %9s | %8s %8s\n' kind n base_p50 base_p99 base_max cb_p50 cb_p99 cb_max "r_p50" "r_p99"
for k in fulltext property combined; do
  n=$(field "${k}_carboy_n" "$out")
  printf '  %-9s %5s | %9s %9s %9s | %9s %9s %9s | %8s %8s\n' "$k" "$n" \
    "${L[$k,baseline,p50]}" "${L[$k,baseline,p99]}" "${L[$k,baseline,max]}" \
    "${L[$k,carboy,p50]}" "${L[$k,carboy,p99]}" "${L[$k,carboy,max]}" \
    "$(ratio "${L[$k,baseline,p50]}" "${L[$k,carboy,p50]}")" "$(ratio "${L[$k,baseline,p99]}" "${L[$k,carboy,p99]}")"
done
echo "  latency ratios are baseline/carboy: > 1 means carboy is faster"
for k in fulltext property combined; do
  [ "${TO[$k]}" -eq 0 ] || echo "  WARNING: $k: carboy did not answer a query within $QUERY_TIMEOUT s (counted as $QUERY_TIMEOUT s, a lower bound); the ${SK[$k]} remaining $k queries were skipped"
done
[ "$mismatch" -eq 0 ] || echo "  WARNING: $mismatch of $checked checked queries returned other hits than the baseline (MISMATCH lines above)"
echo "RESULT search-index baseline=$bl_rate carboy=$cb_rate ratio=$idx_ratio target=none"
echo "RESULT search-index-archive baseline=$bl_rate carboy=$ar_rate ratio=$ar_ratio target=none"
for k in fulltext property; do
  for p in p50 p99; do
    echo "RESULT search-$k-$p baseline=${L[$k,baseline,$p]} carboy=${L[$k,carboy,$p]} ratio=$(ratio "${L[$k,baseline,$p]}" "${L[$k,carboy,$p]}") target=none"
  done
done
