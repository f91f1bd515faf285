#!/usr/bin/env bash
# Runs the carboy benchmarks and prints a markdown table of their RESULT lines; the table
# also goes to bench/results/latest.md and the full output to bench/results/latest.log.
#
#   bash bench/run.sh                      # all nine: download upload requests jobs chem search lanes s3 ml
#   bash bench/run.sh download requests    # a subset
#
# Uses build/carboy as it is; only if it is missing does it build it (release).
# Knobs (environment): BENCH_SIZE_MB (1024), BENCH_S3_MB (512), BENCH_RUNS (3), BENCH_DURATION (10s),
# BENCH_TIMEOUT (600 s per transfer), BENCH_JOBS (300 jobs per batch), BENCH_JOBS_RUNS (3),
# BENCH_JOBS_WORKERS ("1 2 4"), BENCH_DOCS (100000), BENCH_QUERIES (200), BENCH_LANES_MOLS (20000),
# BENCH_LANES_RUNS (5), BENCH_ML_RUNS (3),
# CARBOY_BIN (build/carboy).
# A benchmark may print several RESULT lines (jobs.sh, search.sh, lanes.sh, ml.sh do): each becomes a row.
# A line with target=none and met=yes|no (ml.sh: an absolute goal, or a difference) gets its
# goal= as the target and met= as the verdict.
# Exit status: 0 when every benchmark ran (whether or not it met its target), 1 otherwise.
set -euo pipefail
BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$BENCH_DIR/.." && pwd)
cd "$ROOT"
export CARBOY_BIN=${CARBOY_BIN:-$ROOT/build/carboy}
# the baselines (nginx, the aws command line, wrk) are not part of the test install
bash scripts/install-deps.sh bench >&2

if [ ! -x "$CARBOY_BIN" ]; then
  echo "run.sh: $CARBOY_BIN is missing; building it" >&2
  [ -d build ] || meson setup build --buildtype=release
  ninja -C build
fi

# All benchmarks of one run use the same binary: a copy taken now (others may rebuild
# build/carboy meanwhile). Each benchmark copies it again into its own temp dir.
snapdir=$(mktemp -d "${TMPDIR:-/tmp}/carboy-bench-run.XXXXXX")
trap 'rm -rf "$snapdir"' EXIT
for ((i = 0; ; i++)); do
  if cp "$CARBOY_BIN" "$snapdir/carboy" 2>/dev/null && "$snapdir/carboy" --version >/dev/null 2>&1; then
    break
  fi
  ((i < 60)) || { echo "run.sh: no working $CARBOY_BIN after 60 s" >&2; exit 1; }
  sleep 1
done
bin_info="$("$snapdir/carboy" --version 2>/dev/null), binary sha256 $(sha256sum "$snapdir/carboy" | cut -c1-12) built $(stat -c %y "$CARBOY_BIN" | cut -d. -f1)"
export CARBOY_BIN="$snapdir/carboy"

benches=("$@")
[ ${#benches[@]} -gt 0 ] || benches=(download upload requests jobs chem search lanes s3 ml)
for b in "${benches[@]}"; do
  [ -x "$BENCH_DIR/$b.sh" ] || { echo "run.sh: no benchmark '$b' (bench/$b.sh)" >&2; exit 2; }
done

mkdir -p "$BENCH_DIR/results"
logf="$BENCH_DIR/results/latest.log"
: >"$logf"

# Each benchmark runs in its own session/process group (setsid), so on INT/TERM this
# script stops the running one by TERMing its group: the benchmark's trap then kills
# the servers it started and removes its temp dir.
child=
# shellcheck disable=SC2317 # called from the traps below
on_signal() {
  trap - INT TERM
  if [ -n "$child" ]; then
    echo "run.sh: interrupted; stopping the running benchmark (process group $child)" >&2
    kill -TERM -- "-$child" 2>/dev/null || kill -TERM "$child" 2>/dev/null || true
    wait "$child" 2>/dev/null || true
  fi
  exit "$1"
}
trap 'on_signal 130' INT
trap 'on_signal 143' TERM

# Keyed by the name in the RESULT line (the benchmark's own name, or for jobs.sh, which
# prints two, jobs-pool and jobs-scaling).
declare -A unit=([download]="MB/s" [upload]="MB/s" [requests]="req/s" [jobs-pool]="jobs/s"
  [jobs-scaling]="jobs/s" [search-index]="MB/s" [search-fulltext-p50]="ms" [search-fulltext-p99]="ms"
  [search-property-p50]="ms" [search-property-p99]="ms" [lanes-upload]="ms" [lanes-depiction]="ms"
  [lanes-similarity]="ms" [ml-train-time]="s" [ml-train-xgboost-reg]="s" [ml-train-forest-reg]="s"
  [ml-train-xgboost-cls]="s" [ml-train-forest-cls]="s" [ml-predict-file]="mol/s" [ml-predict-one]="ms")
declare -A base_name=([download]="nginx (sendfile)" [upload]="floor: sha256 + write+fsync"
  [requests]="GET /healthz" [jobs]="noop jobs (queue only)" [jobs-pool]="noop jobs (queue only)"
  [jobs-scaling]="extract jobs, 1 worker" [search-index]="SQLite FTS5, one transaction"
  [search-fulltext-p50]="FTS5 MATCH, in process" [search-fulltext-p99]="FTS5 MATCH, in process"
  [search-property-p50]="indexed props table" [search-property-p99]="indexed props table"
  [lanes-upload]="one-line file, idle server" [lanes-depiction]="depiction, idle server"
  [lanes-similarity]="similarity query, idle server" [ml-xgboost-r2]="xgboost, same folds" [ml-forest-r2]="scikit-learn forest, same folds"
  [ml-xgboost-auc]="xgboost, same folds" [ml-forest-auc]="scikit-learn forest, same folds" [ml-train-time]="Python, 4 models"
  [ml-train-xgboost-reg]="xgboost" [ml-train-forest-reg]="scikit-learn" [ml-train-xgboost-cls]="xgboost" [ml-train-forest-cls]="scikit-learn"
  [ml-predict-file]="obabel + xgboost, in process" [ml-predict-one]="predict() on one row, in process")
declare -A cb_name=([download]="GET /files/ID/content" [upload]="PUT (curl -T)"
  [requests]="GET /files/ID" [jobs]="extract jobs (converter pool)"
  [jobs-pool]="extract jobs, default workers" [jobs-scaling]="extract jobs, 2 workers"
  [search-index]="PUT .txt .. processed" [search-fulltext-p50]="GET /search?q=" [search-fulltext-p99]="GET /search?q="
  [search-property-p50]="GET /search?where=" [search-property-p99]="GET /search?where="
  [lanes-upload]="beside two 20,000-molecule ingests" [lanes-depiction]="beside two 20,000-molecule ingests"
  [lanes-similarity]="beside two 20,000-molecule ingests" [ml-xgboost-r2]="cv r2" [ml-forest-r2]="cv r2"
  [ml-xgboost-auc]="cv AUC" [ml-forest-auc]="cv AUC" [ml-train-time]="train jobs" [ml-train-xgboost-reg]="train job"
  [ml-train-forest-reg]="train job" [ml-train-xgboost-cls]="train job" [ml-train-forest-cls]="train job"
  [ml-predict-file]="predict job on a SMILES file" [ml-predict-one]="POST /predict, one SMILES")

rows=() failed=0
for b in "${benches[@]}"; do
  echo "==== $b ====" | tee -a "$logf"
  out="$BENCH_DIR/results/.$b.out"
  t0=$EPOCHSECONDS
  set +e
  setsid bash "$BENCH_DIR/$b.sh" > >(tee "$out" | tee -a "$logf") 2> >(tee -a "$logf" >&2) &
  child=$!
  wait "$child"
  rc=$?
  child=
  set -e
  sleep 0.2 # let tee drain
  secs=$((EPOCHSECONDS - t0))
  lines=$(grep '^RESULT ' "$out" || true)
  rm -f "$out"
  if [ "$rc" -ne 0 ] || [ -z "$lines" ]; then
    failed=1
    rows+=("| $b | ${base_name[$b]:-–} | – | ${cb_name[$b]:-–} | – | – | – | FAILED (exit $rc) | ${secs}s |")
    continue
  fi
  # RESULT name baseline=X carboy=Y ratio=Z target=T (one row each)
  while read -r line; do
    declare -A kv=()
    for tok in $line; do
      case $tok in *=*) kv[${tok%%=*}]=${tok#*=} ;; esac
    done
    name=$(awk '{ print $2 }' <<<"$line")
    tgt=${kv[target]:-none}
    if [ "$tgt" = none ] && [ -n "${kv[met]:-}" ]; then
      tgt_txt=${kv[goal]:-–}
      if [ "${kv[met]}" = yes ]; then verdict="goal met"; else verdict="GOAL NOT MET"; fi
    elif [ "$tgt" = none ]; then
      verdict="info"
      tgt_txt="–"
    else
      verdict=$(awk -v r="${kv[ratio]}" -v t="$tgt" 'BEGIN { print (r + 0 >= t + 0) ? "pass" : "BELOW TARGET" }')
      tgt_txt="≥ $tgt"
    fi
    rows+=("| $name | ${base_name[$name]:-–} | ${kv[baseline]} ${unit[$name]:-} | ${cb_name[$name]:-–} | ${kv[carboy]} ${unit[$name]:-} | **${kv[ratio]}** | $tgt_txt | $verdict | ${secs}s |")
    unset kv
  done <<<"$lines"
done

rev=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)
dirty=
if git -C "$ROOT" status --porcelain 2>/dev/null | grep -qv '^??'; then
  dirty=" (+ uncommitted changes)"
fi
table=$(
  echo "# carboy benchmarks"
  echo
  echo "- date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "- carboy: $bin_info, commit $rev$dirty"
  echo "- machine: $(nproc) cores, $(uname -sr), load average $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "- settings: BENCH_SIZE_MB=${BENCH_SIZE_MB:-1024} BENCH_RUNS=${BENCH_RUNS:-3} BENCH_DURATION=${BENCH_DURATION:-10s} BENCH_JOBS=${BENCH_JOBS:-300} BENCH_JOBS_RUNS=${BENCH_JOBS_RUNS:-3} BENCH_DOCS=${BENCH_DOCS:-100000} BENCH_QUERIES=${BENCH_QUERIES:-200}"
  echo
  echo "| benchmark | baseline | baseline value | carboy | carboy value | ratio | target | verdict | time |"
  echo "|---|---|---|---|---|---|---|---|---|"
  printf '%s\n' "${rows[@]}"
  echo
  echo "Ratios are carboy/baseline, for latencies (ms) baseline/carboy (higher is better; medians, or p99 where named). Absolute numbers vary with machine load."
)
echo
echo "$table"
echo "$table" >"$BENCH_DIR/results/latest.md"
echo
echo "run.sh: table written to bench/results/latest.md, full output to bench/results/latest.log"
exit "$failed"
