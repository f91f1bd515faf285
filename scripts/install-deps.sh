#!/usr/bin/env bash
# Installs what carboy needs on Debian 12: Debian's packages, and the npm packages the
# build and the tests declare (`npm ci` from web/package-lock.json: the browser UI;
# tests/s3/package-lock.json: the s3rver S3 server for the tests). Run as root (or with
# sudo). Safe to run again. Services that come with a package (nginx) are neither started
# nor left enabled unless they were there before.
#   install-deps.sh [all]    runtime + build + test: everything scripts/test.sh needs
#   install-deps.sh run      runtime + build: what scripts/run.sh needs (no test tools)
#   install-deps.sh build    to build the binary (a compiler, -dev packages, Node.js, web/)
#   install-deps.sh runtime  to run a built binary (deploy/Dockerfile's final stage)
#   install-deps.sh test     test files, reference tools and test runners
#   install-deps.sh bench    what the benchmarks add (bench/run.sh calls it)
set -euo pipefail
if [ "$(id -u)" -ne 0 ]; then
  exec sudo -E bash "$0" "$@"
fi
export DEBIAN_FRONTEND=noninteractive
mode=${1:-all}
# the shared libraries the binary links (a test checks this list against ldd), the magic
# database, CA certificates for S3 over HTTPS, and a font for PDF thumbnails
runtime=(
  libcivetweb1 libsqlite3-0 libcjson1 libssl3 libsodium23 libarchive13 zlib1g libmagic1 libmagic-mgc
  libcurl4 libopenbabel7 libinchi1 libtcmalloc-minimal4 libstdc++6 libpoppler-glib8 libglib2.0-0
  libcairo2 libtiff6 libpng16-16 libjpeg62-turbo libexpat1 libseccomp2 ca-certificates fonts-dejavu-core
  # models: gradient boosting and forests, support vector machines, logistic regression
  libxgboost0 libsvm3 liblinear4
  # the container health check and the README's tour
  curl
)
build=(
  build-essential meson ninja-build pkg-config python3 g++
  libcivetweb-dev libsqlite3-dev libcjson-dev libssl-dev libsodium-dev libarchive-dev
  zlib1g-dev libmagic-dev libcurl4-openssl-dev libopenbabel-dev libinchi-dev libgoogle-perftools-dev
  libpoppler-glib-dev libtiff-dev libpng-dev libjpeg-dev libexpat1-dev libseccomp-dev
  libxgboost-dev libsvm-dev liblinear-dev
)
test=(
  # chemistry test data and the reference command line
  openbabel rdkit-data
  # reaction and crystal test files (Open Babel's own CIF example; COD CIFs; PDB mmCIFs;
  # pyobjcryst's test CIFs: minerals, metals and molecular crystals; gdis's older CIFs),
  # numpy for the tests' cell arithmetic
  python3-openbabel cif2hkl python-biopython-doc python3-pyobjcryst gdis-data python3-numpy
  # test files: pdf
  poppler-utils libtasn1-doc golang-github-jung-kurt-gofpdf-dev
  # test files: office
  golang-github-gabriel-vasile-mimetype-dev xlsx2csv
  # test files: media types (a NumPy array)
  python3-numpy
  # test files: image
  golang-golang-x-image-dev checkit-tiff gtk-4-tests gdk-pixbuf-tests python-xraylarch-doc python-osmnx-doc
  libtiff-tools python3-pil
  # test files: table
  ggobi xlsx2csv
  # test files: archive
  python3-pyutilib golang-github-alcortesm-tgz-dev autopoint
  # fuzz targets (tests/fuzz): clang with libFuzzer and the sanitizer runtimes
  clang libclang-rt-14-dev
  # tests and benchmarks; deploy checks (YAML templates, the ECS API model, unit files)
  python3-pytest python3-requests python3-yaml curl wrk procps file systemd binutils
  # the browser tests drive Debian's Chromium
  chromium
  # S3 store: signatures checked with botocore in the tests (s3rver itself comes from npm)
  python3-botocore
  # symbolized sanitizer reports (llvm-symbolizer), so LeakSanitizer's suppressions match
  llvm
  # the source gates (scripts/lint.sh): the format check and the static analyser
  clang-format cppcheck
)
# the benchmarks' baselines: nginx serving a file, the aws command line against s3rver
bench=(
  nginx-light awscli wrk curl openssl openbabel
  # the models' reference: scikit-learn and XGBoost's Python package
  python3-sklearn python3-xgboost rdkit-data
)
case "$mode" in
  all) pkgs=("${runtime[@]}" "${build[@]}" "${test[@]}") ;;
  run) pkgs=("${runtime[@]}" "${build[@]}") ;;
  build) pkgs=("${build[@]}") ;;
  runtime) pkgs=("${runtime[@]}") ;;
  test) pkgs=("${test[@]}") ;;
  bench) pkgs=("${bench[@]}") ;;
  *) echo "carboy: install-deps.sh: unknown part '$mode' (all, run, build, runtime, test or bench)" >&2; exit 2 ;;
esac
# services a package would start and enable (nginx-light's nginx): only when they were not
# installed before this run, so a user's own nginx is left as it was
services=(nginx)
fresh_services=()
for svc in "${services[@]}"; do
  [ -e "/lib/systemd/system/$svc.service" ] || [ -e "/etc/init.d/$svc" ] || fresh_services+=("$svc")
done
stamp=/var/lib/carboy-deps-$mode.stamp
want=$(printf '%s\n' "${pkgs[@]}" | sort | sha256sum | cut -c1-16)
if ! { [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && dpkg -s "${pkgs[@]}" >/dev/null 2>&1; }; then
  # no package starts a service while we install (policy-rc.d, as Debian's container images
  # do), unless the machine has its own policy already
  policy=""
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    policy=/usr/sbin/policy-rc.d
    printf '#!/bin/sh\nexit 101\n' >"$policy"
    chmod 755 "$policy"
    trap 'rm -f /usr/sbin/policy-rc.d' EXIT
  fi
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${pkgs[@]}" >/dev/null
  if [ -n "$policy" ]; then
    rm -f "$policy"
    trap - EXIT
  fi
  for svc in "${fresh_services[@]}"; do
    if [ -e "/lib/systemd/system/$svc.service" ] || [ -e "/etc/init.d/$svc" ]; then
      if [ -d /run/systemd/system ]; then
        systemctl disable --now "$svc" >/dev/null 2>&1 || true
      else
        deb-systemd-helper disable "$svc.service" >/dev/null 2>&1 || true
        update-rc.d "$svc" disable >/dev/null 2>&1 || true
      fi
    fi
  done
  echo "$want" > "$stamp"
  echo "carboy: dependencies installed ($mode)"
fi
[ "$mode" = runtime ] && exit 0

# Node.js for the browser UI's bundler (Vite, at build time), its browser tests and the
# S3 test server: the machine's own when it is recent enough (Vite 8 needs Node.js 20.19 or
# later). Otherwise Debian's nodejs and npm (Node.js 18 on Debian 12), and with them the
# npm registry's Node.js 22 build (the `node` package), installed into /usr/local/bin.
node_ok() {
  command -v node >/dev/null && command -v npm >/dev/null &&
    node -e 'const [a, b] = process.versions.node.split(".").map(Number); process.exit(a > 20 || (a === 20 && b >= 19) ? 0 : 1)'
}
if ! node_ok; then
  if ! command -v npm >/dev/null; then
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
  fi
  node_ok || npm install -g --no-audit --no-fund --loglevel=error node@22 >/dev/null
  hash -r
  node_ok || { echo "carboy: Node.js 20.19 or later is needed to build the browser UI" >&2; exit 1; }
  echo "carboy: Node.js $(node --version) installed"
fi
# npm packages exactly as a lockfile says (again when it changes). No browser is
# downloaded: the tests use Debian's /usr/bin/chromium.
npm_ci() { # folder below the repository
  local dir lock
  dir=$(cd "$(dirname "$0")/../$1" && pwd)
  lock=$(sha256sum "$dir/package-lock.json" | cut -c1-16)
  if [ "$(cat "$dir/node_modules/.carboy-lock" 2>/dev/null)" != "$lock" ]; then
    (cd "$dir" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error >/dev/null)
    echo "$lock" > "$dir/node_modules/.carboy-lock"
    echo "carboy: npm packages installed ($1)"
  fi
}
[ "$mode" = bench ] || npm_ci web # the UI's build; playwright-core for the browser tests
case "$mode" in all | test | bench) npm_ci tests/s3 ;; esac
exit 0
