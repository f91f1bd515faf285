#!/usr/bin/env bash
# S3 store throughput: one big file moved to and from an S3-compatible server (s3rver,
# started here on loopback, from tests/s3) by carboy and by the aws command line
# (Debian's awscli), the same file to the same server in the same run.
#   upload:   carboy  = curl -T to PUT /api/v1/folders/ID/files/NAME with --store s3://...
#                       (hashed while streamed, multipart to .tmp/, copied to its hash)
#             baseline = aws s3 cp FILE s3://bucket/key (multipart, its defaults)
#   download: carboy  = curl -o from GET /api/v1/files/ID/content (S3 GET streamed through)
#             baseline = aws s3 cp s3://bucket/key FILE (parallel ranged GETs)
# BENCH_S3_MB MiB (default 512) of random bytes; each run gives the file new content (no
# dedup); BENCH_RUNS (default 3) runs, alternating who goes first; median MB/s (10^6 B/s).
# carboy's part size and parallelism: CARBOY_S3_PART_SIZE / CARBOY_S3_PARALLEL (its
# defaults, 8 MiB x 4, when unset); aws uses its own defaults (8 MiB parts, 10 at once).
# Final lines:
#   RESULT s3-upload baseline=<aws MB/s> carboy=<MB/s> ratio=<carboy/aws> target=1.0
#   RESULT s3-download baseline=<aws MB/s> carboy=<MB/s> ratio=<carboy/aws> target=1.0
set -euo pipefail
# shellcheck source=bench/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
bench_init s3
TARGET=1.0
MB=${BENCH_S3_MB:-512}
AWS=${AWS_BIN:-/usr/bin/aws}
S3RVER_JS="$ROOT/tests/s3/node_modules/s3rver/bin/s3rver.js"
[ -x "$AWS" ] || die "$AWS not found (run scripts/install-deps.sh: Debian's awscli)"
[ -f "$S3RVER_JS" ] || die "s3rver is not installed (run scripts/install-deps.sh: npm ci in tests/s3)"
command -v node >/dev/null || die "node not found"

# Nothing may reach AWS: dummy credentials, an explicit endpoint, no instance metadata.
unset AWS_PROFILE AWS_SESSION_TOKEN AWS_CONTAINER_CREDENTIALS_RELATIVE_URI AWS_CONTAINER_CREDENTIALS_FULL_URI
export AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER AWS_DEFAULT_REGION=us-east-1 AWS_REGION=us-east-1
export AWS_EC2_METADATA_DISABLED=true AWS_PAGER="" AWS_SHARED_CREDENTIALS_FILE="$BENCH_TMP/aws-credentials"
export AWS_CONFIG_FILE="$BENCH_TMP/aws-config"
printf '[default]\nregion = us-east-1\ns3 =\n  addressing_style = path\n' >"$AWS_CONFIG_FILE"
: >"$AWS_SHARED_CREDENTIALS_FILE"

size=$((MB * 1048576))
src="$BENCH_TMP/src.bin"
make_random_file "$src" "$MB"

# s3rver on a free loopback port over its own folder (a bucket is a folder there); Node
# 20's OpenSSL keeps the DES that s3rver's listing tokens use in the legacy provider.
s3port=$(free_port)
mkdir -p "$BENCH_TMP/s3/bench"
node --openssl-legacy-provider "$S3RVER_JS" -d "$BENCH_TMP/s3" -a 127.0.0.1 -p "$s3port" -s \
  >"$BENCH_TMP/s3rver.log" 2>&1 &
s3pid=$!
bench_track "$s3pid"
endpoint="http://127.0.0.1:$s3port"
for ((i = 0; i < 300; i++)); do
  kill -0 "$s3pid" 2>/dev/null || die "s3rver exited during startup"
  curl -s -o /dev/null --max-time 1 "$endpoint/" && break
  sleep 0.1
done
log "s3rver $(node -p "require('$ROOT/tests/s3/node_modules/s3rver/package.json').version") pid $s3pid on $endpoint; aws: $("$AWS" --version 2>&1)"

export CARBOY_STORE="s3://bench/carboy?endpoint=$endpoint&path_style=1"
start_carboy
folder=$(carboy_folder bench)

refresh_src() {
  head -c 16 /dev/urandom | dd of="$src" bs=16 count=1 conv=notrunc status=none
  cat "$src" >/dev/null
}

# seconds of a command (bounded by BENCH_TIMEOUT)
timed() {
  local t0 t1
  t0=$(now)
  timeout --foreground "$BENCH_TIMEOUT" "$@" >/dev/null 2>"$BENCH_TMP/timed.err" || die "$* failed: $(tail -c 500 "$BENCH_TMP/timed.err")"
  t1=$(now)
  elapsed "$t0" "$t1"
}

want_sha=
check_copy() { # FILE WHO: the downloaded copy must be the source, byte for byte
  [ "$(sha256sum "$1" | cut -c1-64)" = "$want_sha" ] || die "$2's download differs from the source"
  rm -f "$1"
}

aws_up=() aws_down=() cb_up=() cb_down=()
for ((i = 1; i <= BENCH_RUNS; i++)); do
  refresh_src
  want_sha=$(sha256sum "$src" | cut -c1-64)
  if ((i % 2)); then order="aws carboy"; else order="carboy aws"; fi
  for who in $order; do
    sync
    if [ "$who" = aws ]; then
      t=$(timed "$AWS" --endpoint-url "$endpoint" s3 cp --only-show-errors "$src" "s3://bench/aws/run$i.bin")
      aws_up+=("$(mbps "$size" "$t")")
      sync
      t=$(timed "$AWS" --endpoint-url "$endpoint" s3 cp --only-show-errors "s3://bench/aws/run$i.bin" "$BENCH_TMP/dl-aws.bin")
      aws_down+=("$(mbps "$size" "$t")")
      check_copy "$BENCH_TMP/dl-aws.bin" aws
      log "run $i aws: up ${aws_up[-1]} MB/s, down ${aws_down[-1]} MB/s"
    else
      resp="$BENCH_TMP/put.json"
      out=$(curl -sS -o "$resp" --max-time "$BENCH_TIMEOUT" -w '%{http_code} %{time_total}' "${CARBOY_AUTH[@]}" \
        -H 'Expect:' -T "$src" "$CARBOY_URL/api/v1/folders/$folder/files/run$i.bin") || die "carboy upload failed"
      read -r code t <<<"$out"
      [ "$code" = 201 ] || die "carboy upload answered HTTP $code: $(head -c 500 "$resp")"
      [ "$(json_field sha256 <"$resp")" = "$want_sha" ] || die "carboy recorded another sha256"
      cb_up+=("$(mbps "$size" "$t")")
      id=$(json_field id <"$resp")
      sync
      out=$(curl -sS -o "$BENCH_TMP/dl-cb.bin" --max-time "$BENCH_TIMEOUT" -w '%{http_code} %{time_total}' \
        "${CARBOY_AUTH[@]}" "$CARBOY_URL/api/v1/files/$id/content") || die "carboy download failed"
      read -r code t <<<"$out"
      [ "$code" = 200 ] || die "carboy download answered HTTP $code"
      cb_down+=("$(mbps "$size" "$t")")
      check_copy "$BENCH_TMP/dl-cb.bin" carboy
      log "run $i carboy: up ${cb_up[-1]} MB/s, down ${cb_down[-1]} MB/s"
    fi
  done
done

au=$(median "${aws_up[@]}") ad=$(median "${aws_down[@]}")
cu=$(median "${cb_up[@]}") cd=$(median "${cb_down[@]}")
ru=$(ratio "$cu" "$au") rd=$(ratio "$cd" "$ad")
echo "s3 store ($MB MiB to s3rver on loopback, $BENCH_RUNS runs, median MB/s)"
echo "  upload:   aws s3 cp $au MB/s (runs: ${aws_up[*]}); carboy PUT $cu MB/s (runs: ${cb_up[*]}); ratio $ru (target >= $TARGET)"
echo "  download: aws s3 cp $ad MB/s (runs: ${aws_down[*]}); carboy GET $cd MB/s (runs: ${cb_down[*]}); ratio $rd (target >= $TARGET)"
echo "RESULT s3-upload baseline=$au carboy=$cu ratio=$ru target=$TARGET"
echo "RESULT s3-download baseline=$ad carboy=$cd ratio=$rd target=$TARGET"
