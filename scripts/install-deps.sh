#!/usr/bin/env bash
# Installs everything carboy needs to build, run and test on Debian 12: Debian's packages,
# and the browser UI's npm packages (web/package-lock.json, `npm ci`). Run as root (or
# with sudo). Safe to run again.
set -euo pipefail
if [ "$(id -u)" -ne 0 ]; then
  exec sudo -E bash "$0" "$@"
fi
export DEBIAN_FRONTEND=noninteractive
pkgs=(
  # build
  build-essential meson ninja-build pkg-config python3
  # libraries
  libcivetweb-dev libsqlite3-dev libcjson-dev libssl-dev libsodium-dev libarchive-dev
  zlib1g-dev libmagic-dev libcurl4-openssl-dev libopenbabel-dev libinchi-dev libgoogle-perftools-dev g++
  libpoppler-glib-dev libtiff-dev libpng-dev libjpeg-dev libexpat1-dev
  # chemistry test data and the reference command line
  openbabel rdkit-data
  # reaction and crystal test files (Open Babel's own CIF example; COD CIFs; PDB mmCIFs)
  python3-openbabel cif2hkl python-biopython-doc
  # test files: pdf
  poppler-utils libtasn1-doc golang-github-jung-kurt-gofpdf-dev
  # test files: office
  golang-github-gabriel-vasile-mimetype-dev xlsx2csv
  # test files: image
  golang-golang-x-image-dev checkit-tiff gtk-4-tests gdk-pixbuf-tests python-xraylarch-doc python-osmnx-doc
  libtiff-tools python3-pil
  # test files: table
  ggobi xlsx2csv
  # test files: archive
  python3-pyutilib golang-github-alcortesm-tgz-dev autopoint
  # tests and benchmarks
  python3-pytest python3-requests curl nginx-light wrk procps file
  # the browser UI: Node.js runs its bundler (Vite); the browser tests drive Debian's Chromium
  nodejs chromium
)
stamp=/var/lib/carboy-deps.stamp
want=$(printf '%s\n' "${pkgs[@]}" | sort | sha256sum | cut -c1-16)
if ! { [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && dpkg -s "${pkgs[@]}" >/dev/null 2>&1; }; then
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${pkgs[@]}" >/dev/null
  # npm comes with NodeSource's nodejs; Debian ships it apart
  command -v npm >/dev/null || apt-get install -y -qq --no-install-recommends npm >/dev/null
  echo "$want" > "$stamp"
  echo "carboy: dependencies installed"
fi

# The browser UI's npm packages, exactly as the lockfile says (again when it changes).
# No browser is downloaded: the tests use Debian's /usr/bin/chromium.
web=$(cd "$(dirname "$0")/../web" && pwd)
lock=$(sha256sum "$web/package-lock.json" | cut -c1-16)
if [ "$(cat "$web/node_modules/.carboy-lock" 2>/dev/null)" != "$lock" ]; then
  (cd "$web" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error)
  echo "$lock" > "$web/node_modules/.carboy-lock"
  echo "carboy: web dependencies installed (npm ci)"
fi
