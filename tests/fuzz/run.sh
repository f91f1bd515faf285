#!/usr/bin/env bash
# Builds the fuzz targets (clang, libFuzzer, ASan + UBSan) into build-fuzz/ and runs each:
# first once over its committed corpus (tests/fuzz/corpus/TARGET: seeds and regressions),
# then fuzzing for SECONDS (default 15; all 14 targets then take about 4 minutes on two
# cores). New inputs go to build-fuzz/fuzz-corpus/TARGET (kept between runs), never into
# the committed corpus; crashes, leaks and timeouts to build-fuzz/fuzz-artifacts/.
#   tests/fuzz/run.sh [SECONDS] [TARGET...]      (targets without the fuzz_ prefix)
# A target passes when neither pass reported a crash, leak, timeout or out-of-memory.
# One line per target, then "N passed, N failed"; exit 1 when any failed. With
# FUZZ_JUNIT=FILE a JUnit XML report is written too (scripts/test.sh does); FUZZ_SEED=N
# makes the mutations repeatable (scripts/test.sh uses 1; default: a random seed).
set -uo pipefail
cd "$(dirname "$0")/../.."
secs=${1:-15}
shift || true
case "$secs" in '' | *[!0-9]*) echo "carboy: run.sh: SECONDS must be a whole number, not '$secs'" >&2; exit 2 ;; esac
all=(request_target tus_headers search_query metadata http_server convert_table convert_text convert_archive
  convert_office convert_image convert_pdf convert_chem convert_model smiles)
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=("${all[@]}")
build=build-fuzz

if ! command -v clang >/dev/null || ! command -v clang++ >/dev/null; then
  echo "carboy: the fuzz build needs clang and libclang-rt-14-dev (scripts/install-deps.sh test)"
  echo "0 passed, 1 failed"
  exit 1
fi
if [ ! -f "$build/build.ninja" ]; then
  rm -rf "$build"
  CC=clang CXX=clang++ meson setup "$build" -Dfuzz=true -Db_sanitize=address,undefined -Db_lundef=false \
    --buildtype=debugoptimized >/tmp/carboy-fuzz-setup.log 2>&1 || { cat /tmp/carboy-fuzz-setup.log; echo "0 passed, 1 failed"; exit 1; }
fi
if ! ninja -C "$build" >"$build/fuzz-build.log" 2>&1; then
  tail -40 "$build/fuzz-build.log"
  echo "0 passed, 1 failed"
  exit 1
fi

# per target: input size bound, seconds one input may take, memory bound (MB)
opts() {
  case "$1" in
    http_server) echo "-max_len=8192 -timeout=30 -rss_limit_mb=4096 -dict=tests/fuzz/http.dict" ;;
    request_target | tus_headers) echo "-max_len=4096 -timeout=10 -dict=tests/fuzz/http.dict" ;;
    search_query) echo "-max_len=4096 -timeout=10 -dict=tests/fuzz/search.dict" ;;
    metadata) echo "-max_len=16384 -timeout=10 -dict=tests/fuzz/json.dict" ;;
    convert_chem) echo "-max_len=4096 -timeout=20 -rss_limit_mb=4096" ;; # Open Babel is slow
    convert_model) echo "-max_len=262144 -timeout=20 -rss_limit_mb=4096 -dict=tests/fuzz/json.dict" ;; # bundles are big
    smiles) echo "-max_len=256 -timeout=20 -rss_limit_mb=4096" ;;
    convert_*) echo "-max_len=65536 -timeout=20 -rss_limit_mb=4096" ;;
  esac
}

export LSAN_OPTIONS="suppressions=$PWD/tests/fuzz/lsan.supp:print_suppressions=0"
export ASAN_OPTIONS="abort_on_error=1:detect_leaks=1:allocator_release_to_os_interval_ms=500"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
artifacts=$build/fuzz-artifacts
logs=$build/fuzz-logs
mkdir -p "$artifacts" "$logs"
passed=0 failed=0
cases=""
xml_escape() { sed -e 's/&/\&amp;/g' -e 's/</\&lt;/g' -e 's/>/\&gt;/g' -e 's/"/\&quot;/g'; }
for t in "${targets[@]}"; do
  bin=$build/tests/fuzz/fuzz_$t
  seeds=tests/fuzz/corpus/$t
  work=$build/fuzz-corpus/$t
  log=$logs/$t.log
  mkdir -p "$work" "$seeds"
  t0=$(date +%s)
  if [ ! -x "$bin" ]; then
    result="failed: no such target ($bin)"
  else
    # shellcheck disable=SC2046
    "$bin" $(opts "$t") -runs=0 -artifact_prefix="$artifacts/$t-" "$seeds" >"$log" 2>&1
    rc=$?
    if [ $rc -ne 0 ]; then
      result="failed: the committed corpus ($seeds) does not pass"
    else
      # shellcheck disable=SC2046
      "$bin" $(opts "$t") -max_total_time="$secs" -seed="${FUZZ_SEED:-0}" -print_final_stats=1 -artifact_prefix="$artifacts/$t-" \
        "$work" "$seeds" >>"$log" 2>&1
      rc=$?
      execs=$(grep -o 'stat::number_of_executed_units: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*$')
      cov=$(grep -oE '(DONE|pulse|NEW|REDUCE|INITED) +cov: [0-9]+' "$log" | tail -1 | grep -oE '[0-9]+$')
      if [ $rc -eq 0 ]; then
        result="passed: ${execs:-0} inputs in ${secs} s, coverage ${cov:-?} edges, corpus $(ls "$work" | wc -l) inputs"
      else
        result="failed"
      fi
    fi
    if [ "${result%%:*}" = failed ]; then
      what=$(grep -m1 -oE 'ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer): [^(]*|runtime error: .*|carboy fuzz: .*' "$log")
      art=$(grep -m1 -oE "Test unit written to [^ ]+" "$log" | sed 's/Test unit written to //')
      result="$result: ${what:-exit code $rc}${art:+ (input: $art)}; log $log"
    fi
  fi
  dt=$(( $(date +%s) - t0 ))
  echo "  fuzz_$t: $result"
  name=$(printf '%s' "fuzz_$t" | xml_escape)
  if [ "${result%%:*}" = passed ]; then
    passed=$((passed + 1))
    cases+="  <testcase classname=\"fuzz\" name=\"$name\" time=\"$dt\"/>"$'\n'
  else
    failed=$((failed + 1))
    msg=$(printf '%s' "$result" | xml_escape)
    cases+="  <testcase classname=\"fuzz\" name=\"$name\" time=\"$dt\"><failure message=\"$msg\"/></testcase>"$'\n'
  fi
done
if [ -n "${FUZZ_JUNIT:-}" ]; then
  {
    echo '<?xml version="1.0" encoding="utf-8"?>'
    echo "<testsuites><testsuite name=\"fuzz\" tests=\"$((passed + failed))\" failures=\"$failed\">"
    printf '%s' "$cases"
    echo "</testsuite></testsuites>"
  } >"$FUZZ_JUNIT"
fi
echo "$passed passed, $failed failed"
[ $failed -eq 0 ]
