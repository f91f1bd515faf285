#!/usr/bin/env bash
# The source gates, one line each and exit code non-zero when any fails:
#   format   clang-format --dry-run --Werror over src/ (.c, .h, .cpp) against .clang-format
#   cppcheck cppcheck over src/ (warning and portability checks), zero findings; the
#            suppressions, each with its reason, are in .cppcheck-suppressions (and inline as
#            `// cppcheck-suppress ID` on the line before the finding)
# The compiler's warnings are the third gate: scripts/build.sh builds with -Dwerror=true.
#   scripts/lint.sh [format|cppcheck]...   (default: both)
# LINT_JUNIT=FILE writes a JUnit report (one test case per gate) for scripts/summarize.py;
# the findings go to stdout (scripts/test.sh shows them) after the gate's line.
set -uo pipefail
cd "$(dirname "$0")/.."
gates=("$@")
[ ${#gates[@]} -gt 0 ] || gates=(format cppcheck)
jobs=$(nproc 2>/dev/null || echo 2)
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
failed=0
cases=()

# the C and C++ sources (no generated file lives in src/: the UI's bundle is generated in
# the build folder)
mapfile -t files < <(find src -type f \( -name '*.c' -o -name '*.h' -o -name '*.cpp' \) | LC_ALL=C sort)

record() { # gate, ok (0/1), summary line, findings file
  local gate=$1 ok=$2 line=$3 log=$4
  echo "lint: $gate: $line"
  if [ "$ok" -ne 0 ]; then
    failed=1
    [ -s "$log" ] && sed 's/^/  /' "$log"
  fi
  cases+=("$gate	$ok	$line	$log")
}

gate_format() {
  if ! command -v clang-format >/dev/null; then
    echo "clang-format is missing (scripts/install-deps.sh test installs it)" > "$out/format"
    record format 1 "clang-format not installed" "$out/format"
    return
  fi
  # one warning per place clang-format would change (one process: a second of CPU), counted
  # per file; anything else it says (a bad .clang-format) is shown as it is
  clang-format --dry-run --Werror "${files[@]}" 2> "$out/format.raw" >/dev/null
  local rc=$? nbad nlines
  grep -E '^[^ ]+:[0-9]+:[0-9]+: (error|warning): .*-Wclang-format-violations' "$out/format.raw" | cut -d: -f1,2 > "$out/format.lines"
  nlines=$(grep -c . "$out/format.lines")
  if [ "$nlines" -eq 0 ]; then
    if [ $rc -eq 0 ]; then
      record format 0 "${#files[@]} files formatted as .clang-format says" /dev/null
    else
      record format 1 "clang-format failed (exit $rc)" "$out/format.raw"
    fi
    return
  fi
  cut -d: -f1 "$out/format.lines" | sort | uniq -c | sort -k1,1rn -k2 | awk '{printf "%s: %d places to format\n", $2, $1}' > "$out/format"
  nbad=$(cut -d: -f1 "$out/format.lines" | sort -u | wc -l)
  record format 1 "$nbad of ${#files[@]} files not formatted ($nlines places; fix: clang-format -i FILE)" "$out/format"
}

gate_cppcheck() {
  if ! command -v cppcheck >/dev/null; then
    echo "cppcheck is missing (scripts/install-deps.sh test installs it)" > "$out/cppcheck"
    record cppcheck 1 "cppcheck not installed" "$out/cppcheck"
    return
  fi
  # src/ only, with the project's own include root and defines (meson.build's
  # add_project_arguments); the system headers are left out (cppcheck's advice: its
  # library files describe the C library, POSIX and the macros below)
  local cache=build-lint/cppcheck
  mkdir -p "$cache"
  cppcheck --quiet --enable=warning,portability --inline-suppr --std=c11 -j "$jobs" \
    -I src -D_GNU_SOURCE -D_FILE_OFFSET_BITS=64 --library=posix --library=scripts/cppcheck.cfg \
    --suppressions-list=.cppcheck-suppressions --cppcheck-build-dir="$cache" \
    --template='{file}:{line}: {severity}: {message} [{id}]' --error-exitcode=1 \
    "${files[@]}" 2> "$out/cppcheck" >/dev/null
  local rc=$? n
  n=$(grep -c . "$out/cppcheck")
  if [ $rc -eq 0 ] && [ "$n" -eq 0 ]; then
    record cppcheck 0 "${#files[@]} files, no findings" /dev/null
  else
    record cppcheck 1 "$n findings (fix them, or suppress one with its reason in .cppcheck-suppressions)" "$out/cppcheck"
  fi
}

for g in "${gates[@]}"; do
  case "$g" in
    format) gate_format ;;
    cppcheck) gate_cppcheck ;;
    *) echo "lint.sh: unknown gate '$g' (format, cppcheck)" >&2; exit 2 ;;
  esac
done

if [ -n "${LINT_JUNIT:-}" ]; then
  python3 - "$LINT_JUNIT" "${cases[@]}" <<'PY'
import sys
from xml.sax.saxutils import escape, quoteattr
path, rows = sys.argv[1], [r.split("\t") for r in sys.argv[2:]]
bad = sum(ok != "0" for _, ok, _, _ in rows)
out = [f'<?xml version="1.0" encoding="utf-8"?>\n<testsuite name="lint" tests="{len(rows)}" failures="{bad}">']
for gate, ok, line, log in rows:
    out.append(f'  <testcase classname="lint" name={quoteattr(gate)}>')
    if ok != "0":
        try:
            text = open(log).read()
        except OSError:
            text = ""
        out.append(f'    <failure message={quoteattr(line)}>{escape(text)}</failure>')
    out.append("  </testcase>")
out.append("</testsuite>\n")
open(path, "w").write("\n".join(out))
PY
fi
exit $failed
