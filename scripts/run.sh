#!/usr/bin/env bash
# Fresh Debian 12 machine to a running server: installs the dependencies, builds, and
# starts `carboy serve` on its embedded defaults (SQLite + a local blob folder in
# ./carboy-data, http://127.0.0.1:8080). Extra arguments go to `carboy serve`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh run
bash scripts/build.sh build
exec ./build/carboy serve "$@"
