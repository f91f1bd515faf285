#!/usr/bin/env bash
# Soak: one carboy under mixed load for DURATION seconds (default 120), loopback only:
# four wrk processes at once on read endpoints (a file's metadata, a folder listing, a
# text search, a 4 KiB download; SOAK_CONNS connections each, default 4) plus
# SOAK_UPLOADERS (default 4) parallel uploaders (bench/uploader.py: PUT random sizes up
# to SOAK_MAX_BYTES, default 256 KiB, each read back and compared by sha256). The
# server's resident memory is sampled every second.
#
# Prints requests, errors, latency p50/p90/p99/max per endpoint (wrk --latency), uploads,
# and RSS at start, after warm-up (SOAK_WARMUP s, default a fifth of DURATION) and at the
# end with the slope after warm-up. Exits non-zero on any error (non-2xx or socket error
# from wrk, a failed or mismatching upload), on RSS growth after warm-up beyond
# SOAK_RSS_GROWTH_MB (default 32), or on a sanitizer report in the server log.
# Then a ratio for bench/run.sh: p99 of the metadata endpoint under the load against its
# p99 alone on the same server just before (SOAK_IDLE s, default 5).
# Final line: RESULT soak-p99 baseline=<idle p99 ms> carboy=<loaded p99 ms> ratio=<idle/loaded> target=none
set -euo pipefail
# shellcheck source=bench/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
bench_init soak
command -v wrk >/dev/null || die "wrk not found (scripts/install-deps.sh)"
DURATION=${DURATION:-120}
CONNS=${SOAK_CONNS:-4}
UPLOADERS=${SOAK_UPLOADERS:-4}
MAX_BYTES=${SOAK_MAX_BYTES:-262144}
WARMUP=${SOAK_WARMUP:-$((DURATION / 5))}
GROWTH_MB=${SOAK_RSS_GROWTH_MB:-32}
IDLE=${SOAK_IDLE:-5}
PY=${PYTHON:-/usr/bin/python3}

start_carboy
reads=$(carboy_folder reads)
up=$(carboy_folder uploads)
for i in $(seq 1 20); do
  printf 'soak file %d: carbon nitrogen oxygen sulfur %d\n' "$i" "$RANDOM" >"$BENCH_TMP/r$i.txt"
  carboy_upload "$reads" "$BENCH_TMP/r$i.txt" "r$i.txt" >/dev/null
done
head -c 4096 /dev/urandom >"$BENCH_TMP/dl.bin"
meta_id=$(json_field id <"$(carboy_upload "$reads" "$BENCH_TMP/r1.txt" meta.txt)")
dl_id=$(json_field id <"$(carboy_upload "$reads" "$BENCH_TMP/dl.bin" dl.bin)")
tok=${AUTH_HEADER#Authorization: Bearer }
declare -A urls=(
  [metadata]="$CARBOY_URL/api/v1/files/$meta_id"
  [listing]="$CARBOY_URL/api/v1/folders/$reads"
  [search]="$CARBOY_URL/api/v1/search?q=nitrogen"
  [download]="$CARBOY_URL/api/v1/files/$dl_id/content"
)
names=(metadata listing search download)
for n in "${names[@]}"; do
  code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 "${CARBOY_AUTH[@]}" "${urls[$n]}")
  [ "$code" = 200 ] || die "GET ${urls[$n]} answered $code before the soak"
done

rss_kib() { awk '/^VmRSS:/ { print $2 }' "/proc/$CARBOY_PID/status"; }
# p VALUE-WITH-UNIT -> ms
to_ms() {
  awk -v v="$1" 'BEGIN { n = v + 0; u = v; sub(/^[0-9.]+/, "", u)
    f = (u == "us") ? 0.001 : (u == "ms") ? 1 : (u == "s") ? 1000 : (u == "m") ? 60000 : -1
    if (f < 0) { print "nan"; exit } printf "%.2f\n", n * f }'
}
pct() { to_ms "$(awk -v p="$1" '$1 == p { print $2 }' "$2")"; }

auth_args=()
[ -z "$AUTH_HEADER" ] || auth_args=(-H "$AUTH_HEADER")

log "idle baseline: wrk -t1 -c1 -d${IDLE}s --latency ${urls[metadata]}"
timeout --foreground $((IDLE + 30)) wrk -t1 -c1 -d"${IDLE}s" --latency "${auth_args[@]}" "${urls[metadata]}" \
  >"$BENCH_TMP/idle.txt" 2>&1 || { cat "$BENCH_TMP/idle.txt" >&2; die "idle wrk failed"; }
idle_p99=$(pct 99% "$BENCH_TMP/idle.txt")

log "soak: ${DURATION}s, wrk -t1 -c$CONNS on ${names[*]}, $UPLOADERS uploaders (up to $MAX_BYTES bytes)"
rss0=$(rss_kib)
: >"$BENCH_TMP/rss.txt"
( t=0; while kill -0 "$CARBOY_PID" 2>/dev/null && [ "$t" -le $((DURATION + 5)) ]; do
    echo "$t $(awk '/^VmRSS:/ { print $2 }' "/proc/$CARBOY_PID/status")" >>"$BENCH_TMP/rss.txt"
    sleep 1; t=$((t + 1))
  done ) &
sampler=$!
pids=()
for n in "${names[@]}"; do
  timeout --foreground $((DURATION + 60)) wrk -t1 -c"$CONNS" -d"${DURATION}s" --timeout 30s --latency \
    "${auth_args[@]}" "${urls[$n]}" >"$BENCH_TMP/wrk-$n.txt" 2>&1 &
  pids+=($!)
done
deadline=$(( $(date +%s) + DURATION ))
for ((i = 0; i < UPLOADERS; i++)); do
  "$PY" "$BENCH_DIR/uploader.py" "$CARBOY_URL" "$tok" "$up" "$deadline" "$i" "$MAX_BYTES" \
    >"$BENCH_TMP/up-$i.json" 2>"$BENCH_TMP/up-$i.err" &
  pids+=($!)
done
fail=0
for p in "${pids[@]}"; do wait "$p" || fail=1; done
wait "$sampler" 2>/dev/null || true
[ "$fail" = 0 ] || { cat "$BENCH_TMP"/wrk-*.txt "$BENCH_TMP"/up-*.err >&2; die "a load process failed"; }

errors=0
echo "soak: ${DURATION}s on $(nproc) cores, $(date -u +%Y-%m-%dT%H:%M:%SZ); wrk -t1 -c$CONNS per endpoint + $UPLOADERS uploaders"
printf '  %-9s %10s %8s %7s %8s %8s %8s %9s\n' endpoint requests req/s errors p50_ms p90_ms p99_ms max_ms
for n in "${names[@]}"; do
  f="$BENCH_TMP/wrk-$n.txt"
  reqs=$(awk '/requests in/ { print $1 }' "$f")
  rps=$(awk '/^Requests\/sec:/ { print $2 }' "$f")
  bad=$(awk '/Non-2xx or 3xx responses:/ { print $NF }' "$f")
  sock=$(awk '/Socket errors:/ { gsub(",", ""); print $4 + $6 + $8 + $10 }' "$f")
  e=$(( ${bad:-0} + ${sock:-0} ))
  errors=$((errors + e))
  mx=$(to_ms "$(awk '$1 == "Latency" && NF > 4 { print $4; exit }' "$f")")
  printf '  %-9s %10s %8s %7s %8s %8s %8s %9s\n' "$n" "$reqs" "$rps" "$e" "$(pct 50% "$f")" \
    "$(pct 90% "$f")" "$(pct 99% "$f")" "$mx"
  [ "$e" = 0 ] || grep -E 'Socket errors|Non-2xx' "$f" >&2
done
read -r ups ubytes uerr umis first < <("$PY" - "$BENCH_TMP"/up-*.json <<'EOF'
import json, sys
t = {"uploads": 0, "bytes": 0, "errors": 0, "mismatches": 0}
first = ""
for p in sys.argv[1:]:
    d = json.load(open(p))
    for k in t:
        t[k] += d[k]
    first = first or d["first_error"]
print(t["uploads"], t["bytes"], t["errors"], t["mismatches"], json.dumps(first))
EOF
)
echo "  uploads: $ups done ($ubytes bytes), read back equal; $uerr failed, $umis mismatched"
[ "$uerr" = 0 ] || log "first upload error: $first"
read -r rw rend slope < <(awk -v w="$WARMUP" '
  $1 >= w && $2 > 0 { n++; sx += $1; sy += $2; sxx += $1 * $1; sxy += $1 * $2; if (!first) first = $2; last = $2 }
  END { s = (n > 1 && n * sxx - sx * sx) ? (n * sxy - sx * sy) / (n * sxx - sx * sx) : 0
        printf "%d %d %.1f\n", first, last, s * 60 }' "$BENCH_TMP/rss.txt")
echo "  RSS: start $((rss0 / 1024)) MiB, after ${WARMUP}s warm-up $((rw / 1024)) MiB, end $((rend / 1024)) MiB; slope after warm-up ${slope} KiB/min"
loaded_p99=$(pct 99% "$BENCH_TMP/wrk-metadata.txt")
echo "  metadata p99: idle ${idle_p99} ms, under the soak ${loaded_p99} ms"

status=0
[ "$errors" = 0 ] || { log "FAIL: $errors wrk errors"; status=1; }
[ "$uerr" = 0 ] && [ "$umis" = 0 ] || { log "FAIL: $uerr upload errors, $umis mismatches"; status=1; }
[ "$ups" -gt 0 ] || { log "FAIL: no upload completed"; status=1; }
growth=$(( (rend - rw) / 1024 ))
[ "$growth" -le "$GROWTH_MB" ] || { log "FAIL: RSS grew by $growth MiB after warm-up (bound $GROWTH_MB)"; status=1; }
stop_carboy
if grep -qE 'ERROR: AddressSanitizer|runtime error:|ERROR: LeakSanitizer' "$BENCH_TMP/carboy.log"; then
  log "FAIL: sanitizer report in the server log"; status=1
fi
[ "$status" = 0 ] || exit 1
echo "RESULT soak-p99 baseline=$idle_p99 carboy=$loaded_p99 ratio=$(ratio "$idle_p99" "$loaded_p99") target=none"
