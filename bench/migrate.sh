#!/usr/bin/env bash
# Migration throughput: `carboy migrate --to file://...` (every blob copied with its sha256
# checked on the way in, fsynced, then read back and hashed again, its state recorded in
# SQLite per batch) against a floor: `cp -r` of the same blob folder, one `sync`, and
# `openssl dgst -sha256` of every copy (copy + verify, without per-file fsync or any
# bookkeeping). BENCH_MIGRATE_FILES files (default 200) of BENCH_MIGRATE_KB KiB (default
# 1024) of random bytes, uploaded once; BENCH_RUNS (default 3) runs alternating which
# side goes first, each carboy run from the same database snapshot to a new folder;
# median MB/s. Needs about (2 * BENCH_RUNS + 2) times the data in the temp dir.
# Final line: RESULT migrate baseline=<floor MB/s> carboy=<MB/s> ratio=<carboy/floor> target=informational
set -euo pipefail
# shellcheck source=bench/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
bench_init migrate
command -v openssl >/dev/null || die "openssl not found"
FILES=${BENCH_MIGRATE_FILES:-200}
KB=${BENCH_MIGRATE_KB:-1024}
size=$((FILES * KB * 1024))

start_carboy
folder=$(carboy_folder bench)
log "uploading $FILES files of $KB KiB"
for ((i = 0; i < FILES; i++)); do
  head -c $((KB * 1024)) /dev/urandom >"$BENCH_TMP/up.bin"
  code=$(curl -sS -o /dev/null -w '%{http_code}' --max-time "$BENCH_TIMEOUT" "${CARBOY_AUTH[@]}" \
    -T "$BENCH_TMP/up.bin" "$CARBOY_URL/api/v1/folders/$folder/files/f$i.bin") || die "upload $i failed"
  [ "$code" = 201 ] || die "upload $i answered HTTP $code"
done
stop_carboy
src="$BENCH_TMP/data/blobs"
mkdir -p "$BENCH_TMP/pristine"
cp "$BENCH_TMP/data"/carboy.db* "$BENCH_TMP/pristine/"
nblobs=$(find "$src" -path "$src/.tmp" -prune -o -type f -print | wc -l)
log "$nblobs blobs, $size bytes of uploads"

floor_run() {
  local t0 t1 dst="$BENCH_TMP/floor$1"
  sync
  t0=$(now)
  cp -r "$src" "$dst" && sync && find "$dst" -type f -print0 | xargs -0 -r openssl dgst -sha256 >/dev/null ||
    die "floor copy failed"
  t1=$(now)
  mbps "$size" "$(elapsed "$t0" "$t1")"
}

carboy_run() {
  local t0 t1 out
  rm -f "$BENCH_TMP/data"/carboy.db*
  cp "$BENCH_TMP/pristine"/carboy.db* "$BENCH_TMP/data/"
  sync
  t0=$(now)
  out=$(CARBOY_LOG_LEVEL=warn timeout --foreground "$BENCH_TIMEOUT" "$CARBOY_SNAP" migrate \
    --data "$BENCH_TMP/data" --to "file://$BENCH_TMP/target$1" 2>&1) || die "carboy migrate failed: $out"
  t1=$(now)
  grep -q "done: $nblobs blobs" <<<"$out" || die "carboy migrate did not verify $nblobs blobs: $out"
  mbps "$size" "$(elapsed "$t0" "$t1")"
}

alternate floor floor_run carboy_run
floor_runs=("${base_runs[@]}")
floor_med=$(median "${floor_runs[@]}")
cb_med=$(median "${cb_runs[@]}")
r=$(ratio "$cb_med" "$floor_med")
echo "migrate ($FILES files of $KB KiB, $BENCH_RUNS runs, median MB/s)"
echo "  floor (cp -r + sync + openssl sha256 of the copies): $floor_med MB/s   runs: ${floor_runs[*]}"
echo "  carboy migrate (file -> file, verified):             $cb_med MB/s   runs: ${cb_runs[*]}"
echo "  ratio carboy/floor: $r"
echo "RESULT migrate baseline=$floor_med carboy=$cb_med ratio=$r target=informational"
