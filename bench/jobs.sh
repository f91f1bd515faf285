#!/usr/bin/env bash
# Job queue throughput. Two kinds of jobs, each submitted BENCH_JOBS times (default 300)
# as fast as one keep-alive connection allows (POST /api/v1/jobs, python3 http.client),
# while /metrics is polled until carboy_jobs{state="succeeded"} has grown by that many:
#   noop     {"type":"noop","params":{"ms":0}}: claim, lease and finish in SQLite, no
#            converter process: the queue's own overhead (the baseline);
#   extract  {"type":"extract","inputs":[ID]} spread over BENCH_JOBS_FILES (default 50)
#            small distinct text files, uploaded (and ingested) first: the converter pool.
# jobs/s = jobs / (first submit .. the last job's finished_at). Each job is then read back
# (GET /api/v1/jobs/ID) and must have succeeded, or the benchmark fails.
# Measured on a fresh server per worker count: CARBOY_WORKERS in BENCH_JOBS_WORKERS
# (default "1 2 4"; 1, 2 and the default, $CARBOY_WORKERS or nproc, are always added).
# BENCH_JOBS_RUNS rounds per server (default 1, median). Informational: no targets.
# Final lines:
#   RESULT jobs-pool baseline=<noop jobs/s> carboy=<extract jobs/s> ratio=<extract/noop> target=none
#     (both at the default worker count)
#   RESULT jobs-scaling baseline=<extract jobs/s, 1 worker> carboy=<extract jobs/s, 2 workers> ratio=<2/1> target=none
set -euo pipefail
# shellcheck source=bench/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
bench_init jobs
NJOBS=${BENCH_JOBS:-300}
NFILES=${BENCH_JOBS_FILES:-50}
ROUNDS=${BENCH_JOBS_RUNS:-1}
DEFAULT_WORKERS=${CARBOY_WORKERS:-$(nproc)}
JOBS_TIMEOUT=${BENCH_JOBS_TIMEOUT:-120} # seconds, for one batch of jobs to finish
[[ "$NJOBS" =~ ^[1-9][0-9]*$ ]] || die "BENCH_JOBS must be a positive integer, not '$NJOBS'"
[[ "$NFILES" =~ ^[1-9][0-9]*$ ]] || die "BENCH_JOBS_FILES must be a positive integer, not '$NFILES'"
[[ "$ROUNDS" =~ ^[1-9][0-9]*$ ]] || die "BENCH_JOBS_RUNS must be a positive integer, not '$ROUNDS'"
read -r -a settings <<<"$(printf '%s\n' ${BENCH_JOBS_WORKERS:-1 2 4} 1 2 "$DEFAULT_WORKERS" | sort -nu | tr '\n' ' ')"
for w in "${settings[@]}"; do
  [[ "$w" =~ ^[1-9][0-9]*$ ]] || die "BENCH_JOBS_WORKERS must hold worker counts, not '$w'"
done

# The client: submits, polls /metrics, reads the jobs back. Talks to $CARBOY_URL with
# $AUTH_HEADER, one keep-alive connection for the requests and one for /metrics.
driver="$BENCH_TMP/jobs_driver.py"
cat >"$driver" <<'EOF'
import datetime, http.client, json, os, statistics, sys, threading, time, urllib.parse

url = urllib.parse.urlsplit(os.environ["CARBOY_URL"])
auth = os.environ.get("AUTH_HEADER", "")
timeout = float(os.environ.get("JOBS_TIMEOUT", "120"))
HEADERS = {}
if auth:
    k, v = auth.split(":", 1)
    HEADERS[k.strip()] = v.strip()


def die(msg):
    print(f"jobs driver: {msg}", file=sys.stderr)
    sys.exit(1)


class Conn:
    def __init__(self):
        self.c = http.client.HTTPConnection(url.hostname, url.port, timeout=30)

    def call(self, method, path, body=None, want=200):
        headers = dict(HEADERS)
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        for attempt in (0, 1):
            try:
                self.c.request(method, path, body=data, headers=headers)
                r = self.c.getresponse()
                out = r.read()
                break
            except (ConnectionError, http.client.HTTPException) as e:
                self.c.close()
                # only a read is safe to send again; a POST might have been taken
                if method != "GET" or attempt:
                    die(f"{method} {path}: {e!r}")
        if r.status != want:
            die(f"{method} {path} answered HTTP {r.status}, expected {want}: {out[:500]!r}")
        return out


def counts(conn):
    c = {}
    for line in conn.call("GET", "/metrics").decode().splitlines():
        if line.startswith('carboy_jobs{state="'):
            name, val = line.split("} ")
            c[name[len('carboy_jobs{state="'):-1]] = int(float(val))
    for s in ("queued", "running", "succeeded", "failed", "canceled"):
        if s not in c:
            die(f"/metrics has no carboy_jobs{{state=\"{s}\"}} line")
    return c


def ts(s):
    return datetime.datetime.strptime(s, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=datetime.timezone.utc).timestamp()


def cmd_ids(paths):
    for p in paths:
        with open(p) as f:
            print(json.load(f)["id"])


def cmd_wait_files(ids_file):
    ids = open(ids_file).read().split()
    c = Conn()
    t0 = time.time()
    left = set(ids)
    while left:
        for fid in sorted(left):
            st = json.loads(c.call("GET", f"/api/v1/files/{fid}"))["status"]
            if st == "processed":
                left.discard(fid)
            elif st == "failed":
                die(f"file {fid} failed to process: {json.loads(c.call('GET', f'/api/v1/files/{fid}'))}")
        if left:
            if time.time() - t0 > timeout:
                die(f"{len(left)} of {len(ids)} files still not processed after {timeout:.0f} s")
            time.sleep(0.05)
    print(f"{time.time() - t0:.3f}")


def cmd_run(kind, n, ids_file, workers, nconn="1"):
    n, workers, nconn = int(n), int(workers), int(nconn)
    files = open(ids_file).read().split() if kind == "extract" else []
    api, mon = Conn(), Conn()
    before = counts(mon)
    if before["queued"] or before["running"]:
        die(f"the queue is not idle before the run: {before}")
    ids = [None] * n
    conns = [api] + [Conn() for _ in range(nconn - 1)]

    def submit(k):
        c = conns[k]
        for i in range(k, n, nconn):
            if kind == "noop":
                body = {"type": "noop", "params": {"ms": 0}}
            else:
                body = {"type": "extract", "inputs": [files[i % len(files)]]}
            ids[i] = json.loads(c.call("POST", "/api/v1/jobs", body, want=202))["id"]

    t0 = time.time()
    if nconn == 1:
        submit(0)
    else:
        threads = [threading.Thread(target=submit, args=(k,)) for k in range(nconn)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if None in ids:
            die(f"submitting the {kind} jobs failed")
    t_sub = time.time()
    max_queued = 0
    while True:
        c = counts(mon)
        max_queued = max(max_queued, c["queued"])
        done = c["succeeded"] - before["succeeded"]
        bad = c["failed"] - before["failed"] + c["canceled"] - before["canceled"]
        if bad or done >= n:
            break
        if time.time() - t0 > timeout:
            die(f"only {done} of {n} {kind} jobs succeeded after {timeout:.0f} s: {c}")
        time.sleep(0.02)
    t_poll = time.time()
    # Every job must have succeeded; their timestamps (ms) say where the time went.
    jobs = [json.loads(api.call("GET", f"/api/v1/jobs/{j}")) for j in ids]
    failed = [j for j in jobs if j["state"] != "succeeded"]
    if failed or bad:
        for j in failed[:10]:
            print(f"jobs driver: job {j['id']} ({kind}) is {j['state']}: {j.get('error', '')}", file=sys.stderr)
        die(f"{len(failed)} of {n} {kind} jobs did not succeed (metrics: {bad} failed or canceled since the start)")
    created = [ts(j["created_at"]) for j in jobs]
    started = [ts(j["started_at"]) for j in jobs]
    finished = [ts(j["finished_at"]) for j in jobs]
    attempts = sum(j["attempts"] for j in jobs)
    end = max(finished)
    total = max(end - t0, 1e-3)
    run_ms = [(f - s) * 1000 for s, f in zip(started, finished)]
    wait_ms = [(s - c) * 1000 for c, s in zip(created, started)]
    window = max(end - min(started), 1e-3)
    out = {
        "rate": n / total,
        "total_s": total,
        "submit_s": t_sub - t0,
        "submit_rate": n / max(t_sub - t0, 1e-6),
        "poll_s": t_poll - t0,
        # time a job holds a worker: claim .. finish (what the worker does in between)
        "run_p50_ms": statistics.median(run_ms),
        "run_mean_ms": statistics.fmean(run_ms),
        "run_max_ms": max(run_ms),
        # per job and worker: wall time a worker spends per job, all included
        "per_job_ms": window * workers / n * 1000,
        "wait_p50_ms": statistics.median(wait_ms),
        # share of the workers' time (first claim .. last finish) spent inside a job
        "busy": sum(run_ms) / 1000 / (window * workers),
        "max_queued": max_queued,
        "attempts": attempts,
    }
    print(" ".join(f"{k}={v:.3f}" if isinstance(v, float) else f"{k}={v}" for k, v in out.items()))


cmd, args = sys.argv[1], sys.argv[2:]
{"ids": lambda: cmd_ids(args), "wait-files": lambda: cmd_wait_files(*args), "run": lambda: cmd_run(*args)}[cmd]()
EOF

# drive ARGS...: runs the client against the server started last.
drive() {
  CARBOY_URL=$CARBOY_URL AUTH_HEADER=$AUTH_HEADER JOBS_TIMEOUT=$JOBS_TIMEOUT python3 "$driver" "$@"
}

# field KEY "k=v k=v ...": prints v
field() {
  local kv
  for kv in $2; do
    [ "${kv%%=*}" != "$1" ] || { echo "${kv#*=}"; return 0; }
  done
  die "no $1 in '$2'"
}

# Small distinct text files (a few hundred bytes each, different content).
mkdir -p "$BENCH_TMP/files"
for ((i = 1; i <= NFILES; i++)); do
  f=$(printf '%s/files/note-%03d.txt' "$BENCH_TMP" "$i")
  {
    echo "carboy job benchmark, text file $i of $NFILES"
    for ((l = 1; l <= 10; l++)); do
      echo "line $l of file $i: the quick brown fox jumps over the lazy dog $((i * 131 + l))"
    done
  } >"$f"
done

declare -A noop_rate noop_sub ext_rate ext_sub ext_run ext_per ext_busy noop_per noop_busy ingest_s
for w in "${settings[@]}"; do
  CARBOY_WORKERS=$w start_carboy "w$w"
  folder=$(carboy_folder "jobs-w$w")
  resps=()
  for f in "$BENCH_TMP"/files/note-*.txt; do
    resps+=("$(carboy_upload "$folder" "$f" "$(basename "$f")")")
  done
  drive ids "${resps[@]}" >"$BENCH_TMP/ids-w$w"
  rm -f "${resps[@]}"
  ingest_s[$w]=$(drive wait-files "$BENCH_TMP/ids-w$w") || die "the uploads were not processed"
  log "workers=$w: $NFILES files uploaded and processed (${ingest_s[$w]} s after the last upload)"
  nr=() ns=() np=() nb=() er=() es=() eu=() ep=() eb=()
  for ((r = 1; r <= ROUNDS; r++)); do
    out=$(drive run noop "$NJOBS" "$BENCH_TMP/ids-w$w" "$w") || die "noop jobs with $w worker(s) failed"
    log "workers=$w round $r: noop    $out"
    nr+=("$(field rate "$out")"); ns+=("$(field submit_rate "$out")")
    np+=("$(field per_job_ms "$out")"); nb+=("$(field busy "$out")")
    out=$(drive run extract "$NJOBS" "$BENCH_TMP/ids-w$w" "$w") || die "extract jobs with $w worker(s) failed"
    log "workers=$w round $r: extract $out"
    er+=("$(field rate "$out")"); es+=("$(field submit_rate "$out")")
    eu+=("$(field run_p50_ms "$out")"); ep+=("$(field per_job_ms "$out")"); eb+=("$(field busy "$out")")
  done
  noop_rate[$w]=$(median "${nr[@]}"); noop_sub[$w]=$(median "${ns[@]}")
  noop_per[$w]=$(median "${np[@]}"); noop_busy[$w]=$(median "${nb[@]}")
  ext_rate[$w]=$(median "${er[@]}"); ext_sub[$w]=$(median "${es[@]}")
  ext_run[$w]=$(median "${eu[@]}"); ext_per[$w]=$(median "${ep[@]}"); ext_busy[$w]=$(median "${eb[@]}")
  stop_carboy
  rm -rf "$BENCH_TMP/w$w"
done

pool_r=$(ratio "${ext_rate[$DEFAULT_WORKERS]}" "${noop_rate[$DEFAULT_WORKERS]}")
scale_r=$(ratio "${ext_rate[2]}" "${ext_rate[1]}")
echo "jobs ($NJOBS jobs per batch, extract over $NFILES text files, $ROUNDS round(s), median; $(nproc) cores)"
echo "  per job ms = wall time one worker spends per job (claim to claim); busy = share of it inside the job (claim..finish)"
printf '  %-8s | %12s %10s %11s %6s | %14s %10s %11s %11s %6s\n' workers "noop jobs/s" "submit/s" "per job ms" busy \
  "extract jobs/s" "submit/s" "per job ms" "run p50 ms" busy
for w in "${settings[@]}"; do
  printf '  %-8s | %12s %10s %11s %6s | %14s %10s %11s %11s %6s\n' "$w$([ "$w" = "$DEFAULT_WORKERS" ] && echo ' (def)')" \
    "${noop_rate[$w]}" "${noop_sub[$w]}" "${noop_per[$w]}" "${noop_busy[$w]}" \
    "${ext_rate[$w]}" "${ext_sub[$w]}" "${ext_per[$w]}" "${ext_run[$w]}" "${ext_busy[$w]}"
done
echo "  ratio extract/noop at $DEFAULT_WORKERS workers: $pool_r; extract 2 workers/1 worker: $scale_r (ideal ~2 on 2+ cores)"
echo "RESULT jobs-pool baseline=${noop_rate[$DEFAULT_WORKERS]} carboy=${ext_rate[$DEFAULT_WORKERS]} ratio=$pool_r target=none"
echo "RESULT jobs-scaling baseline=${ext_rate[1]} carboy=${ext_rate[2]} ratio=$scale_r target=none"
