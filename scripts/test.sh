#!/usr/bin/env bash
# Fresh Debian 12 machine to a full test run: installs the dependencies, checks the
# sources (scripts/lint.sh: formatting and cppcheck), builds carboy (warnings are errors)
# twice (normal, and with AddressSanitizer + UBSan), and runs every suite against both:
# the C unit tests (meson test) and the integration tests (pytest, the real binary over
# HTTP); then the browser tests (node --test with playwright-core driving Debian's
# headless Chromium; the test files are named, as every Node.js version's runner takes
# files) against the normal build, and a short fuzzing run (tests/fuzz/run.sh:
# clang + libFuzzer, each target over its committed corpus and for FUZZ_SECONDS, default
# 15, of new inputs). The last line is the summary "N passed, N failed"; the exit code is
# non-zero when anything failed.
set -uo pipefail
cd "$(dirname "$0")/.."
PY=/usr/bin/python3
results=build-results
rm -rf "$results"
mkdir -p "$results"
status=0

bash scripts/install-deps.sh || { echo "carboy: dependency install failed"; echo "0 passed, 1 failed"; exit 1; }

step() { # name, report (the step's JUnit file in $results, or -), command...
  local name=$1 report=$2
  shift 2
  echo "==> $name"
  if ! "$@"; then
    echo "carboy: step '$name' failed"
    if [ "$report" = - ]; then echo "$name"; else printf '%s\t%s\n' "$name" "$report"; fi >> "$results/failed-steps"
    status=1
  fi
}

# every file and command the tests read from Debian's packages is there (one line per
# missing one, naming its package), before anything is built or run
if ! $PY scripts/test-inputs.py check; then
  echo "carboy: test inputs are missing (above); scripts/install-deps.sh installs them"
  echo "0 passed, 1 failed"
  exit 1
fi

# the source gates (scripts/lint.sh): clang-format's check and cppcheck's findings, one
# test case each in the summary; the compiler's warnings fail the builds (-Dwerror=true)
step "lint" lint.xml env LINT_JUNIT="$results/lint.xml" bash scripts/lint.sh
step "build" - bash scripts/build.sh build
step "build (asan+ubsan)" - bash scripts/build.sh build-asan --buildtype=debug -Db_sanitize=address,undefined -Db_lundef=false

unit() { # builddir, label
  meson test -C "$1" --suite unit --print-errorlogs >/dev/null 2>&1
  local rc=$?
  cp "$1/meson-logs/testlog.junit.xml" "$results/unit-$2.xml" 2>/dev/null
  [ $rc -eq 0 ] || meson test -C "$1" --suite unit --print-errorlogs 2>&1 | tail -40
  return $rc
}
integration() { # binary, label
  # the 100,000-molecule ingest runs in full on the plain build; under ASan (whose
  # allocator slows Open Babel several times) 20,000 molecules check the same paths
  # the crash loop: 10 rounds of kill -9 on the plain build, 4 under ASan
  local mols=100000 rounds=10
  [ "$2" = asan ] && mols=20000 rounds=4
  CARBOY_TEST_BIG_MOLS=$mols CARBOY_TEST_CRASH_ROUNDS=$rounds CARBOY_BIN="$PWD/$1" $PY -m pytest -q -p no:cacheprovider tests/integration \
    --junitxml="$results/integration-$2.xml" -o junit_suite_name="integration-$2"
}

browser() { # binary: the UI in headless Chromium; junit XML for the summary, screenshots beside it
  CARBOY_BIN="$PWD/$1" CARBOY_SCREENSHOTS="$PWD/$results/screenshots" node --test \
    --test-reporter=junit --test-reporter-destination="$results/browser.xml" \
    --test-reporter=spec --test-reporter-destination=stdout tests/browser/*.test.mjs
}

[ -x build/carboy ] && step "unit" unit-normal.xml unit build normal
[ -x build/carboy ] && step "integration" integration-normal.xml integration build/carboy normal
[ -x build/carboy ] && step "browser" browser.xml browser build/carboy
[ -x build-asan/carboy ] && step "unit (asan+ubsan)" unit-asan.xml unit build-asan asan
[ -x build-asan/carboy ] && step "integration (asan+ubsan)" integration-asan.xml integration build-asan/carboy asan
step "fuzz" fuzz.xml env FUZZ_JUNIT="$results/fuzz.xml" FUZZ_SEED="${FUZZ_SEED:-1}" bash tests/fuzz/run.sh "${FUZZ_SECONDS:-15}"

$PY scripts/summarize.py "$results" || status=1
exit $status
