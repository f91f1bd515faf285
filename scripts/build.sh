#!/usr/bin/env bash
# Builds carboy into build/ (or the folder given), with extra meson options after it.
#   scripts/build.sh                      -> build/carboy (debugoptimized)
#   scripts/build.sh build-asan -Db_sanitize=address,undefined -Db_lundef=false
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${1:-build}
shift || true
if [ ! -f "$dir/build.ninja" ]; then
  # warnings are errors (one more option after these, -Dwerror=false, turns that off)
  meson setup "$dir" -Dwerror=true "$@" >/dev/null
fi
ninja -C "$dir" >/dev/null
echo "carboy: built $dir/carboy"
