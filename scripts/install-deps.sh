#!/usr/bin/env bash
# Installs everything carboy needs to build, run and test on Debian 12, from Debian's
# packages, and the test tools declared with npm (tests/s3: the s3rver S3 server, through
# `npm ci` from its package-lock.json). Run as root (or with sudo). Safe to run again.
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
  # S3 store: signatures checked with botocore in the tests; the aws command line is the
  # benchmark's baseline (s3rver itself comes from npm, below)
  python3-botocore awscli
)
here=$(cd "$(dirname "$0")/.." && pwd)
npm_tools() { # the npm test tools, when their lock file changed or they are missing
  local dir="$here/tests/s3" stamp
  if ! command -v npm >/dev/null 2>&1; then
    apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
  fi
  stamp=$(sha256sum "$dir/package-lock.json" | cut -c1-16)
  if [ -f "$dir/node_modules/.carboy-stamp" ] && [ "$(cat "$dir/node_modules/.carboy-stamp")" = "$stamp" ]; then
    return 0
  fi
  (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
  echo "$stamp" > "$dir/node_modules/.carboy-stamp"
  echo "carboy: npm test tools installed (tests/s3)"
}
stamp=/var/lib/carboy-deps.stamp
want=$(printf '%s\n' "${pkgs[@]}" | sort | sha256sum | cut -c1-16)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && dpkg -s "${pkgs[@]}" >/dev/null 2>&1; then
  npm_tools
  exit 0
fi
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${pkgs[@]}" >/dev/null
echo "$want" > "$stamp"
echo "carboy: dependencies installed"
npm_tools
