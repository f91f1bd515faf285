# shellcheck shell=bash
# Shared helpers for the carboy benchmarks. Sourced by download.sh, upload.sh and
# requests.sh; not meant to be run on its own.
#
# Every script gets: a private temp dir ($BENCH_TMP, from mktemp -d) removed on exit,
# every server it started (bench_track PID) killed on exit, loopback-only ephemeral
# ports, and curl calls bounded by BENCH_TIMEOUT seconds.

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$BENCH_DIR/.." && pwd)
CARBOY_BIN=${CARBOY_BIN:-$ROOT/build/carboy}
BENCH_TIMEOUT=${BENCH_TIMEOUT:-600}   # seconds, for any single transfer
BENCH_RUNS=${BENCH_RUNS:-3}
BENCH_SIZE_MB=${BENCH_SIZE_MB:-1024}
BENCH_PIDS=()
CARBOY_PID=
BENCH_TMP=

die() {
  echo "$BENCH_NAME: ERROR: $*" >&2
  exit 1
}

log() {
  echo "[$BENCH_NAME] $*" >&2
}

bench_cleanup() {
  local rc=$? pid i st
  trap - EXIT INT TERM
  for pid in "${BENCH_PIDS[@]}"; do
    if ! kill -0 "$pid" 2>/dev/null; then
      st=0
      wait "$pid" 2>/dev/null || st=$?
      echo "[$BENCH_NAME] server pid $pid had already exited (status $st$( ((st > 128)) && echo ", signal $((st - 128))"))" >&2
      continue
    fi
    kill -TERM "$pid" 2>/dev/null || true
  done
  for pid in "${BENCH_PIDS[@]}"; do
    for ((i = 0; i < 50; i++)); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
      echo "[$BENCH_NAME] pid $pid did not stop after TERM; sending KILL" >&2
      kill -KILL "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || true
  done
  if [ -n "$BENCH_TMP" ] && [ -d "$BENCH_TMP" ]; then
    if [ "$rc" -ne 0 ]; then
      # Show server logs on failure, they are about to be deleted.
      local f
      for f in "$BENCH_TMP"/*.log "$BENCH_TMP"/nginx/*.log; do
        [ -s "$f" ] || continue
        echo "---- $f (last 20 lines) ----" >&2
        tail -n 20 "$f" >&2
      done
    fi
    rm -rf "$BENCH_TMP"
  fi
  exit "$rc"
}

bench_init() {
  BENCH_NAME=$1
  command -v curl >/dev/null || die "curl not found (run scripts/install-deps.sh)"
  command -v python3 >/dev/null || die "python3 not found"
  BENCH_TMP=$(mktemp -d "${TMPDIR:-/tmp}/carboy-bench-$BENCH_NAME.XXXXXX")
  trap bench_cleanup EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  snapshot_carboy
}

# Others may rebuild build/carboy while a benchmark runs: run a private copy, taken
# when it runs (retrying while the linker is still writing it).
snapshot_carboy() {
  local i snap="$BENCH_TMP/carboy"
  for ((i = 0; i < 60; i++)); do
    if cp "$CARBOY_BIN" "$snap" 2>/dev/null && chmod +x "$snap" && "$snap" --version >/dev/null 2>&1; then
      log "using a copy of $CARBOY_BIN (sha256 $(sha256sum "$snap" | cut -c1-12), $(stat -c %y "$CARBOY_BIN" | cut -d. -f1))"
      CARBOY_SNAP=$snap
      return 0
    fi
    sleep 1
  done
  die "no working $CARBOY_BIN after 60 s (build it: meson setup build --buildtype=release && ninja -C build)"
}

bench_track() {
  BENCH_PIDS+=("$1")
}

# A port the kernel considers free right now on 127.0.0.1.
free_port() {
  python3 -c 'import socket
s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# wait_http URL PID WHAT: waits up to 30 s for URL to answer 200 while PID is alive.
wait_http() {
  local url=$1 pid=$2 what=$3 i code
  for ((i = 0; i < 300; i++)); do
    kill -0 "$pid" 2>/dev/null || die "$what (pid $pid) exited during startup"
    code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$url" || true)
    [ "$code" = 200 ] && return 0
    sleep 0.1
  done
  die "$what did not answer 200 on $url within 30 s (last status '$code')"
}

# start_carboy [NAME]: sets CARBOY_URL and CARBOY_PID; data dir is $BENCH_TMP/data and the
# log $BENCH_TMP/carboy.log, or $BENCH_TMP/NAME and $BENCH_TMP/NAME.log when NAME is given
# (for a script that starts several servers one after the other). Other CARBOY_*
# settings come from the environment, e.g. `CARBOY_WORKERS=2 start_carboy w2`.
start_carboy() {
  local port data=$BENCH_TMP/${1:-data} logf=$BENCH_TMP/${1:-carboy}.log
  port=$(free_port)
  mkdir -p "$data"
  CARBOY_DATA="$data" CARBOY_ADMIN_PASSWORD=benchpass123 CARBOY_LOG_LEVEL=warn \
    CARBOY_SHUTDOWN_GRACE=2 "$CARBOY_SNAP" serve --listen "127.0.0.1:$port" \
    >"$logf" 2>&1 &
  local pid=$!
  bench_track "$pid"
  CARBOY_PID=$pid
  CARBOY_URL="http://127.0.0.1:$port"
  wait_http "$CARBOY_URL/healthz" "$pid" "carboy"
  log "carboy $("$CARBOY_SNAP" --version 2>/dev/null || true) pid $pid on $CARBOY_URL"
  carboy_auth
  local inherited
  inherited=$(env | grep -E '^CARBOY_' | grep -vE '^CARBOY_(BIN|DATA|ADMIN_PASSWORD|LOG_LEVEL|SHUTDOWN_GRACE)=' | tr '\n' ' ' || true)
  [ -z "$inherited" ] || log "carboy also sees from the environment: $inherited"
}

# stop_carboy: stops the server start_carboy last started (TERM, then KILL after 5 s) and
# stops tracking it; dies if it had already exited or does not exit cleanly.
stop_carboy() {
  local pid=$CARBOY_PID i st=0 p keep=()
  [ -n "$pid" ] || return 0
  kill -0 "$pid" 2>/dev/null || die "carboy (pid $pid) had already exited"
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < 50; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    log "carboy pid $pid did not stop after TERM; sending KILL"
    kill -KILL "$pid" 2>/dev/null || true
  fi
  wait "$pid" 2>/dev/null || st=$?
  for p in "${BENCH_PIDS[@]}"; do
    [ "$p" = "$pid" ] || keep+=("$p")
  done
  BENCH_PIDS=("${keep[@]}")
  CARBOY_PID=
  [ "$st" -eq 0 ] || die "carboy (pid $pid) exited with status $st on TERM"
}

# carboy_auth: sets CARBOY_AUTH, the curl arguments that authenticate as the admin, and
# AUTH_HEADER (for wrk). Builds without accounts (no /api/v1/auth/login) take every call
# as the admin: both are then empty. Otherwise signs in as admin (CARBOY_ADMIN_PASSWORD)
# and creates an API token, sent as "Authorization: Bearer".
CARBOY_AUTH=()
AUTH_HEADER=
carboy_auth() {
  local out="$BENCH_TMP/login.json" jar="$BENCH_TMP/cookies" code tok
  code=$(curl -s -o "$out" -c "$jar" -w '%{http_code}' --max-time 30 -X POST \
    -H 'Content-Type: application/json' -d '{"username":"admin","password":"benchpass123"}' \
    "$CARBOY_URL/api/v1/auth/login") || die "POST /api/v1/auth/login failed (curl exit $?)"
  case $code in
  404 | 405)
    log "no /api/v1/auth/login (HTTP $code): calling the API without credentials"
    return 0 ;;
  200) ;;
  *) die "POST /api/v1/auth/login answered HTTP $code, expected 200: $(head -c 500 "$out")" ;;
  esac
  code=$(curl -s -o "$out" -b "$jar" -w '%{http_code}' --max-time 30 -X POST \
    -H 'Content-Type: application/json' -H 'X-Carboy-CSRF: 1' -d '{"name":"bench","scope":"write"}' \
    "$CARBOY_URL/api/v1/tokens") || die "POST /api/v1/tokens failed (curl exit $?)"
  [ "$code" = 201 ] || die "POST /api/v1/tokens answered HTTP $code, expected 201: $(head -c 500 "$out")"
  tok=$(json_field token <"$out")
  rm -f "$out" "$jar"
  AUTH_HEADER="Authorization: Bearer $tok"
  CARBOY_AUTH=(-H "$AUTH_HEADER")
  log "signed in as admin; using an API token"
}

# json_field FIELD: reads JSON on stdin, prints .FIELD
json_field() {
  python3 -c 'import json, sys
print(json.load(sys.stdin)[sys.argv[1]])' "$1"
}

# carboy_folder NAME: prints the new folder's id.
carboy_folder() {
  local out="$BENCH_TMP/folder.json" code
  code=$(curl -sS -o "$out" -w '%{http_code}' --max-time 30 -X POST "${CARBOY_AUTH[@]}" \
    -H 'Content-Type: application/json' -d "{\"name\":\"$1\"}" "$CARBOY_URL/api/v1/folders") ||
    die "POST /api/v1/folders failed (curl exit $?)"
  [ "$code" = 201 ] || die "POST /api/v1/folders answered $code, expected 201: $(head -c 500 "$out")"
  json_field id <"$out"
}

# carboy_upload FOLDER_ID FILE NAME: uploads with PUT (curl -T), prints the response
# path; dies unless 201.
carboy_upload() {
  local folder=$1 file=$2 name=$3 out="$BENCH_TMP/upload-$3.json" code
  code=$(curl -sS -o "$out" -w '%{http_code}' --max-time "$BENCH_TIMEOUT" "${CARBOY_AUTH[@]}" -T "$file" \
    "$CARBOY_URL/api/v1/folders/$folder/files/$name") || die "upload of $name failed (curl exit $?)"
  [ "$code" = 201 ] || die "upload of $name answered HTTP $code, expected 201: $(head -c 500 "$out")"
  echo "$out"
}

# make_random_file PATH MB
make_random_file() {
  log "generating $2 MiB of random bytes in $1"
  head -c "$(($2 * 1048576))" /dev/urandom >"$1"
  [ "$(stat -c %s "$1")" -eq "$(($2 * 1048576))" ] || die "short random file $1"
}

median() {
  printf '%s\n' "$@" | sort -g | awk '{ a[NR] = $1 } END {
    if (NR == 0) exit 1
    if (NR % 2) printf "%.2f\n", a[(NR + 1) / 2]; else printf "%.2f\n", (a[NR / 2] + a[NR / 2 + 1]) / 2 }'
}

# ratio A B -> A/B with 3 decimals
ratio() {
  awk -v a="$1" -v b="$2" 'BEGIN { if (b + 0 == 0) print "nan"; else printf "%.3f\n", a / b }'
}

# now: seconds since the epoch with microseconds
now() {
  echo "$EPOCHREALTIME"
}

elapsed() {
  awk -v a="$1" -v b="$2" 'BEGIN { printf "%.6f\n", b - a }'
}

# mbps BYTES SECONDS -> MB/s (10^6 bytes)
mbps() {
  awk -v n="$1" -v t="$2" 'BEGIN { if (t + 0 <= 0) print "nan"; else printf "%.2f\n", n / t / 1e6 }'
}

# alternate LABEL BASELINE_FN CARBOY_FN [ROUND_FN]: BENCH_RUNS rounds of the baseline and
# carboy, in turns (the baseline first in odd rounds, carboy first in even ones, so neither
# always meets a warm cache). ROUND_FN runs before each round in this shell; the other two
# get the round number and print MB/s. The figures land in base_runs and cb_runs.
alternate() {
  local label=$1 base=$2 cb=$3 round=${4:-} i who v order
  base_runs=() cb_runs=()
  for ((i = 1; i <= BENCH_RUNS; i++)); do
    [ -z "$round" ] || "$round" "$i"
    if ((i % 2)); then order="base carboy"; else order="carboy base"; fi
    for who in $order; do
      if [ "$who" = base ]; then
        v=$("$base" "$i") || exit 1
        base_runs+=("$v")
        log "run $i $label: $v MB/s"
      else
        v=$("$cb" "$i") || exit 1
        cb_runs+=("$v")
        log "run $i carboy: $v MB/s"
      fi
    done
  done
}
