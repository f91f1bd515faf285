#!/usr/bin/env bash
# A long crash loop: tests/integration/test_crash_loop.py::test_crash_loop with many
# rounds (CRASH_ROUNDS, default 200) of kill -9 during mixed uploads, versions, deletes
# and jobs, then the consistency check (every acknowledged file equal by sha256, deletes
# gone, every job ended, orphans swept, verify clean, integrity_check ok). Uploads are at
# most CRASH_BIG_MB MiB (default 1, so 200 rounds need about 6 GB of temp space);
# CRASH_SEED repeats a run. This is a soak, not a timing: there is no baseline ratio.
# Final line: RESULT crashloop rounds=<N> acknowledged=<files> lost=0 orphans_swept=<n> seed=<s>
# (or FAILED, with pytest's report above it; exit status 1).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
export CARBOY_BIN=${CARBOY_BIN:-$ROOT/build/carboy}
export CARBOY_TEST_CRASH_ROUNDS=${CRASH_ROUNDS:-200}
export CARBOY_TEST_CRASH_BIG_MB=${CRASH_BIG_MB:-1}
[ -n "${CRASH_SEED:-}" ] && export CARBOY_TEST_CRASH_SEED=$CRASH_SEED
log=$(mktemp "${TMPDIR:-/tmp}/carboy-crashloop.XXXXXX")
trap 'rm -f "$log"' EXIT
t0=$(date +%s)
status=0
/usr/bin/python3 -m pytest -q -s -p no:cacheprovider "tests/integration/test_crash_loop.py::test_crash_loop" \
  2>&1 | tee "$log" || status=1
secs=$(($(date +%s) - t0))
seed=$(sed -n 's/.*seed \([0-9]*\) .*/\1/p' "$log" | head -1)
if [ $status = 0 ] && line=$(grep -m1 'rounds, .* acknowledged files, lost 0' "$log"); then
  acked=$(echo "$line" | sed 's/.* \([0-9]*\) acknowledged files.*/\1/')
  swept=$(echo "$line" | sed 's/.*lost 0, \([0-9]*\) orphans swept.*/\1/')
  echo "RESULT crashloop rounds=$CARBOY_TEST_CRASH_ROUNDS acknowledged=$acked lost=0 orphans_swept=$swept seed=$seed seconds=$secs"
else
  echo "RESULT crashloop rounds=$CARBOY_TEST_CRASH_ROUNDS FAILED seed=$seed seconds=$secs"
  exit 1
fi
