#!/usr/bin/env bash
# Upload throughput: carboy's PUT /api/v1/folders/ID/files/NAME (curl -T) against a
# "floor": what the work costs without HTTP, i.e. hashing the file with
# `openssl dgst -sha256` plus writing it to a new file with fsync (dd conv=fsync) on the
# same filesystem as carboy's data dir. floor MB/s = size / (t_hash + t_write).
# The floor runs the two steps one after the other; a server that hashes while the
# kernel writes back can beat it, so a ratio above 1 is possible.
# BENCH_SIZE_MB MiB (default 1024) of random bytes; each run first overwrites the first
# 16 bytes so every upload has new content (no dedup); BENCH_RUNS (default 3) runs,
# alternating which side goes first; median MB/s. Needs about 2 * (BENCH_RUNS + 1) *
# BENCH_SIZE_MB of free space in the temp dir (all is removed on exit).
# Final line: RESULT upload baseline=<floor MB/s> carboy=<MB/s> ratio=<carboy/floor> target=0.7
set -euo pipefail
# shellcheck source=bench/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
bench_init upload
command -v openssl >/dev/null || die "openssl not found"
TARGET=0.7

size=$((BENCH_SIZE_MB * 1048576))
src="$BENCH_TMP/src.bin"
make_random_file "$src" "$BENCH_SIZE_MB"

start_carboy
folder=$(carboy_folder bench)
[ "$(stat -c %d "$BENCH_TMP/data")" = "$(stat -c %d "$BENCH_TMP")" ] || die "data dir is on another filesystem"

# Give the source new content for run $1 and pull it into the page cache.
refresh_src() {
  head -c 16 /dev/urandom | dd of="$src" bs=16 count=1 conv=notrunc status=none
  cat "$src" >/dev/null
}

# floor_run N: prints floor MB/s, logs the parts. Each run writes a new file and keeps
# it, as carboy keeps each upload: on thin-provisioned virtual disks, rewriting blocks
# just freed can be several times faster than writing blocks never written before, so
# both sides must allocate new space the same way (neither side frees any mid-run).
floor_run() {
  local t0 t1 t2 th tw floor_out="$BENCH_TMP/data/floor.$1.out"
  sync
  t0=$(now)
  timeout --foreground "$BENCH_TIMEOUT" openssl dgst -sha256 "$src" >/dev/null || die "openssl dgst failed"
  t1=$(now)
  timeout --foreground "$BENCH_TIMEOUT" dd if="$src" of="$floor_out" bs=1M conv=fsync status=none || die "dd failed"
  t2=$(now)
  th=$(elapsed "$t0" "$t1")
  tw=$(elapsed "$t1" "$t2")
  log "  floor: hash ${th}s ($(mbps "$size" "$th") MB/s) + write+fsync ${tw}s ($(mbps "$size" "$tw") MB/s)"
  mbps "$size" "$(awk -v a="$th" -v b="$tw" 'BEGIN { print a + b }')"
}

# carboy_run NAME [extra curl args]: prints carboy MB/s (whole request, curl time_total).
carboy_run() {
  local name=$1 out code t resp="$BENCH_TMP/put.json"
  shift
  sync
  out=$(curl -sS -o "$resp" --max-time "$BENCH_TIMEOUT" -w '%{http_code} %{time_total}' "${CARBOY_AUTH[@]}" "$@" \
    -T "$src" "$CARBOY_URL/api/v1/folders/$folder/files/$name") || die "upload $name failed (curl exit $?)"
  read -r code t <<<"$out"
  [ "$code" = 201 ] || die "upload $name answered HTTP $code, expected 201: $(head -c 500 "$resp")"
  [ "$(json_field size <"$resp")" = "$size" ] || die "carboy recorded a size other than $size for $name"
  log "  carboy: ${t}s"
  mbps "$size" "$t"
}

carboy_round() { carboy_run "up$1.bin"; }
alternate floor floor_run carboy_round refresh_src
floor_runs=("${base_runs[@]}")

floor_med=$(median "${floor_runs[@]}")
cb_med=$(median "${cb_runs[@]}")
r=$(ratio "$cb_med" "$floor_med")

# Informational: curl -T sends "Expect: 100-continue" and waits up to 1 s for a
# "100 Continue" before it sends the body. Time a small upload with and without that
# header to show whether the server answers it (a ~1 s gap means it does not).
probe() {
  local out code t
  out=$(curl -sS -o /dev/null --max-time 60 -w '%{http_code} %{time_total}' "${CARBOY_AUTH[@]}" "$@" -T "$BENCH_TMP/probe.bin" \
    "$CARBOY_URL/api/v1/folders/$folder/files/probe.bin") || die "probe upload failed (curl exit $?)"
  read -r code t <<<"$out"
  [ "$code" = 201 ] || die "probe upload answered HTTP $code, expected 201"
  echo "$t"
}
head -c 2097152 /dev/urandom >"$BENCH_TMP/probe.bin"
probe_expect=$(probe)
probe_plain=$(probe -H 'Expect:')
expect_gap=$(awk -v a="$probe_expect" -v b="$probe_plain" 'BEGIN { printf "%.3f\n", a - b }')
log "2 MiB probe: ${probe_expect}s with 'Expect: 100-continue', ${probe_plain}s without"

echo "upload ($BENCH_SIZE_MB MiB, $BENCH_RUNS runs, median MB/s)"
echo "  floor (sha256 + write+fsync): $floor_med MB/s   runs: ${floor_runs[*]}"
echo "  carboy (curl -T):             $cb_med MB/s   runs: ${cb_runs[*]}"
echo "  2 MiB probe upload: ${probe_expect}s with curl's 'Expect: 100-continue', ${probe_plain}s without (gap ${expect_gap}s)"
if awk -v g="$expect_gap" 'BEGIN { exit !(g > 0.5) }'; then
  echo "  NOTE: carboy does not seem to answer 'Expect: 100-continue'; every curl -T upload idles"
  echo "        ~1 s (curl's expect timeout) before sending the body, included in the numbers above."
fi
echo "  ratio carboy/floor: $r (target >= $TARGET)"
echo "RESULT upload baseline=$floor_med carboy=$cb_med ratio=$r target=$TARGET"
