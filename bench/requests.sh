#!/usr/bin/env bash
# Small-request rate: wrk on GET /api/v1/files/{id} (metadata of a small uploaded file)
# against GET /healthz on the same carboy as the baseline. `wrk -t2 -c32 -d10s`
# (BENCH_DURATION, default 10s; BENCH_REQ_RUNS rounds per endpoint, default 1, median).
# Informational: there is no fixed target.
# Final line: RESULT requests baseline=<healthz req/s> carboy=<files req/s> ratio=<files/healthz> target=none
set -euo pipefail
# shellcheck source=bench/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
bench_init requests
command -v wrk >/dev/null || die "wrk not found (scripts/install-deps.sh bench)"
DURATION=${BENCH_DURATION:-10s}
THREADS=${BENCH_WRK_THREADS:-2}
CONNS=${BENCH_WRK_CONNS:-32}
ROUNDS=${BENCH_REQ_RUNS:-1}

# Duration in whole seconds, for the outer timeout.
dur_s=$(awk -v d="$DURATION" 'BEGIN { n = d + 0; if (d ~ /m$/) n *= 60; else if (d ~ /h$/) n *= 3600; print int(n) + 1 }')

start_carboy
folder=$(carboy_folder bench)
printf 'carboy benchmark: a small text file\n' >"$BENCH_TMP/small.txt"
resp=$(carboy_upload "$folder" "$BENCH_TMP/small.txt" small.txt)
file_id=$(json_field id <"$resp")

healthz_url="$CARBOY_URL/healthz"
files_url="$CARBOY_URL/api/v1/files/$file_id"
code=$(curl -sS -o /dev/null -w '%{http_code}' --max-time 10 "$healthz_url") || die "GET /healthz failed"
[ "$code" = 200 ] || die "GET /healthz answered HTTP $code, expected 200"
code=$(curl -sS -o /dev/null -w '%{http_code}' --max-time 10 "${CARBOY_AUTH[@]}" "$files_url") ||
  die "GET /api/v1/files/$file_id failed"
[ "$code" = 200 ] || die "GET /api/v1/files/$file_id answered HTTP $code, expected 200"
# /healthz is public: it gets no credentials. The file's metadata gets the API token
# when this build has accounts, so its cost includes authentication.
files_wrk_args=()
[ -z "$AUTH_HEADER" ] || files_wrk_args=(-H "$AUTH_HEADER")

# to_ms VALUE-WITH-UNIT (wrk prints us, ms, s, m)
to_ms() {
  awk -v v="$1" 'BEGIN {
    n = v + 0; u = v; sub(/^[0-9.]+/, "", u)
    f = (u == "us") ? 0.001 : (u == "ms") ? 1 : (u == "s") ? 1000 : (u == "m") ? 60000 : (u == "h") ? 3600000 : -1
    if (f < 0) { print "nan"; exit } printf "%.3f\n", n * f }'
}

# run_wrk LABEL URL [wrk args]: prints "rps avg_ms p50_ms p99_ms"; dies on errors or non-2xx.
run_wrk() {
  local label=$1 url=$2 out="$BENCH_TMP/wrk-$1.txt" rps avg p50 p99 bad
  shift 2
  timeout --foreground "$((dur_s + 60))" wrk -t"$THREADS" -c"$CONNS" -d"$DURATION" --latency "$@" "$url" >"$out" 2>&1 ||
    { cat "$out" >&2; die "wrk on $label failed"; }
  cat "$out" >&2
  bad=$(awk '/Non-2xx or 3xx responses:/ { print $NF }' "$out")
  [ -z "$bad" ] || die "wrk on $label got $bad non-2xx/3xx responses"
  ! grep -q 'Socket errors:' "$out" || log "WARNING: wrk on $label reported $(grep 'Socket errors:' "$out")"
  rps=$(awk '/^Requests\/sec:/ { print $2 }' "$out")
  avg=$(to_ms "$(awk '$1 == "Latency" && NF > 4 { print $2; exit }' "$out")")
  p50=$(to_ms "$(awk '$1 == "50%" { print $2 }' "$out")")
  p99=$(to_ms "$(awk '$1 == "99%" { print $2 }' "$out")")
  [ -n "$rps" ] || die "could not parse Requests/sec from wrk output for $label"
  echo "$rps $avg $p50 $p99"
}

h_rps=() f_rps=() h_last='' f_last=''
for ((i = 1; i <= ROUNDS; i++)); do
  log "round $i: wrk -t$THREADS -c$CONNS -d$DURATION $healthz_url"
  h_last=$(run_wrk healthz "$healthz_url"); h_rps+=("${h_last%% *}")
  log "round $i: wrk -t$THREADS -c$CONNS -d$DURATION $files_url"
  f_last=$(run_wrk files "$files_url" "${files_wrk_args[@]}"); f_rps+=("${f_last%% *}")
done

h_med=$(median "${h_rps[@]}")
f_med=$(median "${f_rps[@]}")
r=$(ratio "$f_med" "$h_med")
read -r _ h_avg h_p50 h_p99 <<<"$h_last"
read -r _ f_avg f_p50 f_p99 <<<"$f_last"
echo "requests (wrk -t$THREADS -c$CONNS -d$DURATION, $ROUNDS round(s); latency of the last round, ms)"
printf '  %-22s %10s req/s   latency avg %s  p50 %s  p99 %s\n' "GET /healthz" "$h_med" "$h_avg" "$h_p50" "$h_p99"
printf '  %-22s %10s req/s   latency avg %s  p50 %s  p99 %s\n' "GET /api/v1/files/{id}" "$f_med" "$f_avg" "$f_p50" "$f_p99"
echo "  ratio files/healthz: $r (informational, no target)"
if awk -v p="$h_p50" 'BEGIN { exit !(p >= 35 && p <= 50) }'; then
  echo "  NOTE: /healthz p50 is ${h_p50} ms on loopback, close to Linux's 40 ms delayed ACK: each"
  echo "        keep-alive response probably waits on Nagle (small writes, no TCP_NODELAY)."
fi
echo "RESULT requests baseline=$h_med carboy=$f_med ratio=$r target=none"
