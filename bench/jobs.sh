#!/usr/bin/env bash
# Job queue throughput. Two kinds of jobs, BENCH_JOBS of each per batch (default 300):
#   noop     {"type":"noop","params":{"ms":0}}: claimed, leased and finished in SQLite, no
#            converter process: the queue's own cost (the baseline);
#   extract  {"type":"extract","inputs":[ID]} spread over BENCH_JOBS_FILES (default 50)
#            small distinct text files, uploaded (and ingested) first: the converter pool.
# Each kind is measured two ways (client: python3 http.client, one keep-alive connection):
#   direct   jobs submitted as fast as possible to idle workers, /metrics polled until
#            carboy_jobs{state="succeeded"} has grown by BENCH_JOBS;
#            jobs/s = jobs / (first submit .. the last job's finished_at);
#   drain    every worker first held by a noop job of max(1 s, 3 ms * BENCH_JOBS), the jobs
#            queued behind them: jobs/s while the workers empty the queue with no HTTP
#            traffic (jobs claimed after the last holding job ended / the time from then to
#            the last finish), i.e. the queue and the pool without the submissions.
# Every job is read back (GET /api/v1/jobs/ID) and must have succeeded, or this fails.
# A fresh server per worker count: CARBOY_WORKERS in BENCH_JOBS_WORKERS (default "1 2 4";
# 1, 2 and the default, $CARBOY_WORKERS or nproc, are always included). BENCH_JOBS_RUNS
# rounds per server (default 3, median). Informational: no targets.
# Final lines (direct, the default worker count for jobs-pool):
#   RESULT jobs-pool baseline=<noop jobs/s> carboy=<extract jobs/s> ratio=<extract/noop> target=none
#   RESULT jobs-scaling baseline=<extract jobs/s, 1 worker> carboy=<extract jobs/s, 2 workers> ratio=<2/1> target=none
set -euo pipefail
# shellcheck source=bench/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
bench_init jobs
NJOBS=${BENCH_JOBS:-300}
NFILES=${BENCH_JOBS_FILES:-50}
ROUNDS=${BENCH_JOBS_RUNS:-3}
DEFAULT_WORKERS=${CARBOY_WORKERS:-$(nproc)}
JOBS_TIMEOUT=${BENCH_JOBS_TIMEOUT:-120} # seconds, for one batch of jobs to finish
[[ "$NJOBS" =~ ^[1-9][0-9]*$ ]] || die "BENCH_JOBS must be a positive integer, not '$NJOBS'"
[[ "$NFILES" =~ ^[1-9][0-9]*$ ]] || die "BENCH_JOBS_FILES must be a positive integer, not '$NFILES'"
[[ "$ROUNDS" =~ ^[1-9][0-9]*$ ]] || die "BENCH_JOBS_RUNS must be a positive integer, not '$ROUNDS'"
read -r -a settings <<<"${BENCH_JOBS_WORKERS:-1 2 4}"
for w in "${settings[@]}" "$DEFAULT_WORKERS"; do
  [[ "$w" =~ ^[1-9][0-9]*$ ]] || die "BENCH_JOBS_WORKERS and CARBOY_WORKERS must be worker counts, not '$w'"
done
read -r -a settings <<<"$(printf '%s\n' "${settings[@]}" 1 2 "$DEFAULT_WORKERS" | sort -nu | tr '\n' ' ')"

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


def cmd_run(kind, n, ids_file, workers, mode="direct", nconn="1"):
    """mode direct: submit N jobs to idle workers, measure first submit .. last finish.
    mode backlog: first occupy every worker with a noop job of HOLD ms, queue the N jobs
    behind them, measure the drain: jobs claimed after the last blocking job ended, over
    the time from then to the last finish. Tried again (up to 3 times) when the blocking
    jobs ended too far apart for that to hold at least half of the jobs."""
    n, workers, nconn = int(n), int(workers), int(nconn)
    for attempt in range(3):
        out = measure(kind, n, ids_file, workers, mode, nconn)
        if out:
            out["tries"] = attempt + 1
            print(" ".join(f"{k}={v:.3f}" if isinstance(v, float) else f"{k}={v}" for k, v in out.items()))
            return
    die(f"no clean {kind} drain in 3 tries: the blocking jobs kept ending too far apart")


def measure(kind, n, ids_file, workers, mode, nconn):
    files = open(ids_file).read().split() if kind == "extract" else []
    api, mon = Conn(), Conn()
    before = counts(mon)
    if before["queued"] or before["running"]:
        die(f"the queue is not idle before the run: {before}")
    blockers, nudges = [], []
    if mode == "backlog":
        hold = max(1000, 3 * n)  # ms; room for submitting at >= 333 jobs/s
        for _ in range(workers):
            body = {"type": "noop", "params": {"ms": hold}}
            blockers.append(json.loads(api.call("POST", "/api/v1/jobs", body, want=202))["id"])
        # Every worker must hold one. A worker that misses its wake-up sleeps until its
        # next poll (up to 1 s): another submission wakes it (a noop job, which then runs
        # first in the drain), counted as "nudges".
        t_hold = time.time()
        t_nudge = t_hold
        while counts(mon)["running"] < workers:
            now = time.time()
            if now - t_hold > 10:
                for b in blockers:
                    j = json.loads(api.call("GET", f"/api/v1/jobs/{b}"))
                    print(f"jobs driver: blocking job {b}: {j['state']}, created {j['created_at']},"
                          f" started {j.get('started_at')}, finished {j.get('finished_at')}", file=sys.stderr)
                die(f"{workers} blocking noop jobs ({hold} ms) were not all running at once after 10 s: {counts(mon)}")
            if now - t_nudge > 0.1:
                body = {"type": "noop", "params": {"ms": 0}}
                nudges.append(json.loads(api.call("POST", "/api/v1/jobs", body, want=202))["id"])
                t_nudge = now
            time.sleep(0.005)
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
    want = n + len(blockers) + len(nudges)
    while True:
        c = counts(mon)
        max_queued = max(max_queued, c["queued"])
        done = c["succeeded"] - before["succeeded"]
        bad = c["failed"] - before["failed"] + c["canceled"] - before["canceled"]
        if bad or done >= want:
            break
        if time.time() - t0 > timeout:
            die(f"only {done} of {want} jobs ({kind}, {mode}) succeeded after {timeout:.0f} s: {c}")
        time.sleep(0.02)
    # Every job must have succeeded; their timestamps (ms) say where the time went.
    jobs = [json.loads(api.call("GET", f"/api/v1/jobs/{j}")) for j in ids + blockers + nudges]
    failed = [j for j in jobs if j["state"] != "succeeded"]
    if failed or bad:
        for j in failed[:10]:
            print(f"jobs driver: job {j['id']} ({j['type']}) is {j['state']}: {j.get('error', '')}", file=sys.stderr)
        die(f"{len(failed)} of {want} jobs ({kind}, {mode}) did not succeed"
            f" (metrics: {bad} failed or canceled since the start)")
    blockers_done = jobs[n:n + len(blockers)]
    blocked_until = max([ts(j["finished_at"]) for j in jobs[n:]], default=0)
    jobs = jobs[:n]
    started = [ts(j["started_at"]) for j in jobs]
    finished = [ts(j["finished_at"]) for j in jobs]
    end = max(finished)
    count = n
    if mode == "backlog":
        # the drain: from the moment every worker is free (the last blocking job finished)
        # to the last finish, over the jobs claimed in that time
        begin = blocked_until
        count = sum(1 for s in started if s >= begin)
        if t_sub > begin:
            print(f"jobs driver: WARNING: a blocking job ended {t_sub - begin:.3f} s before all {n} {kind}"
                  f" jobs were queued: the drain rate is low", file=sys.stderr)
        if count < n // 2:
            skew = (blocked_until - min(ts(j["finished_at"]) for j in blockers_done)) * 1000
            print(f"jobs driver: only {count} of {n} {kind} jobs were claimed after the last blocking job ended"
                  f" (they ended {skew:.0f} ms apart; {len(nudges)} nudge(s)): trying again", file=sys.stderr)
            return None
    else:
        begin = t0
    total = max(end - begin, 1e-3)
    run_ms = [(f - s) * 1000 for s, f in zip(started, finished)]
    window = max(end - min(started), 1e-3)
    out = {
        "rate": count / total,
        "total_s": total,
        "submit_rate": n / max(t_sub - t0, 1e-6),
        # time a job holds a worker: claim .. finish (ms resolution)
        "run_p50_ms": statistics.median(run_ms),
        "run_max_ms": max(run_ms),
        # wall ms a worker spends per job: workers / jobs/s (draining), or
        # (first claim .. last finish) * workers / jobs (direct)
        "per_job_ms": (total * workers / count if mode == "backlog" else window * workers / n) * 1000,
        # share of that inside a job (claim .. finish); the rest is between jobs
        "busy": sum(run_ms) / 1000 / (window * workers),
        "max_queued": max_queued,
        "attempts": sum(j["attempts"] for j in jobs),
        "nudges": len(nudges),
    }
    return out


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

# Per worker count W and KIND (noop, extract): results of the medians, in M[KEY,KIND,W]
# for KEY in direct (jobs/s), submit (POST/s during direct), drain (jobs/s), per_job
# (ms a worker spends per job while draining) and run (ms from claim to finish, p50).
declare -A M
nudges=0 starts=0 # idle workers that did not wake up for a queued job, in how many tries
for w in "${settings[@]}"; do
  CARBOY_WORKERS=$w start_carboy "w$w"
  folder=$(carboy_folder "jobs-w$w")
  resps=()
  for f in "$BENCH_TMP"/files/note-*.txt; do
    resps+=("$(carboy_upload "$folder" "$f" "$(basename "$f")")")
  done
  drive ids "${resps[@]}" >"$BENCH_TMP/ids-w$w"
  rm -f "${resps[@]}"
  t=$(drive wait-files "$BENCH_TMP/ids-w$w") || die "the uploads were not processed"
  log "workers=$w: $NFILES files uploaded and processed ($t s after the last upload)"
  declare -A acc=()
  for ((r = 1; r <= ROUNDS; r++)); do
    for kind in noop extract; do
      out=$(drive run "$kind" "$NJOBS" "$BENCH_TMP/ids-w$w" "$w" direct) ||
        die "$kind jobs with $w worker(s) failed"
      log "workers=$w round $r: $kind direct:  $out"
      acc[direct,$kind]+=" $(field rate "$out")"
      acc[submit,$kind]+=" $(field submit_rate "$out")"
      out=$(drive run "$kind" "$NJOBS" "$BENCH_TMP/ids-w$w" "$w" backlog) ||
        die "$kind jobs with $w worker(s) failed (backlog)"
      log "workers=$w round $r: $kind backlog: $out"
      acc[drain,$kind]+=" $(field rate "$out")"
      acc[per_job,$kind]+=" $(field per_job_ms "$out")"
      acc[run,$kind]+=" $(field run_p50_ms "$out")"
      nudges=$((nudges + $(field nudges "$out"))) starts=$((starts + $(field tries "$out")))
    done
  done
  for k in "${!acc[@]}"; do
    # shellcheck disable=SC2086 # a list of numbers
    M[$k,$w]=$(median ${acc[$k]})
  done
  unset acc
  stop_carboy
  rm -rf "$BENCH_TMP/w$w"
done

d=$DEFAULT_WORKERS
pool_r=$(ratio "${M[direct,extract,$d]}" "${M[direct,noop,$d]}")
scale_r=$(ratio "${M[direct,extract,2]}" "${M[direct,extract,1]}")
drain_scale_r=$(ratio "${M[drain,extract,2]}" "${M[drain,extract,1]}")
echo "jobs ($NJOBS jobs per batch, extract over $NFILES small text files, $ROUNDS round(s), medians; $(nproc) cores)"
echo "  direct: jobs/s from the first submit to the last finish, submitted over one connection to idle workers"
echo "  drain:  jobs/s with all jobs queued and every worker free (after the holding jobs), no HTTP meanwhile"
echo "  ms/job: wall ms one worker spends per job while draining; run: claim..finish p50 ms (ms resolution)"
printf '  %-9s| %-38s| %s\n' "" "noop (queue only)" "extract (converter pool)"
printf '  %-9s| %8s %9s %8s %8s  | %8s %9s %8s %8s %6s\n' workers direct submit/s drain ms/job direct submit/s drain ms/job run
for w in "${settings[@]}"; do
  printf '  %-9s| %8s %9s %8s %8s  | %8s %9s %8s %8s %6s\n' "$w$([ "$w" = "$d" ] && echo ' (def)')" \
    "${M[direct,noop,$w]}" "${M[submit,noop,$w]}" "${M[drain,noop,$w]}" "${M[per_job,noop,$w]}" \
    "${M[direct,extract,$w]}" "${M[submit,extract,$w]}" "${M[drain,extract,$w]}" "${M[per_job,extract,$w]}" \
    "${M[run,extract,$w]}"
done
echo "  (noop direct ~ its submit/s: it measures POST /api/v1/jobs; the queue's own rate is noop drain)"
echo "  extract/noop (direct, $d workers): $pool_r; extract 2 workers/1 worker: direct $scale_r, drain $drain_scale_r (ideal ~2)"
if ((nudges > 0)); then
  echo "  NOTE: $nudges time(s) in $starts tries to occupy every worker (drain), an idle worker left a job queued for"
  echo "        100 ms, until another submission woke it: a missed wake-up (otherwise it waits for its 1 s poll)."
fi
echo "RESULT jobs-pool baseline=${M[direct,noop,$d]} carboy=${M[direct,extract,$d]} ratio=$pool_r target=none"
echo "RESULT jobs-scaling baseline=${M[direct,extract,1]} carboy=${M[direct,extract,2]} ratio=$scale_r target=none"
