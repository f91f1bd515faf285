#!/usr/bin/env bash
# Download throughput: carboy's GET /api/v1/files/ID/content against nginx serving the
# same file from disk with sendfile. One file of BENCH_SIZE_MB MiB (default 1024) of
# random bytes; BENCH_RUNS (default 3) runs each, alternating; median MB/s.
# Final line: RESULT download baseline=<nginx MB/s> carboy=<MB/s> ratio=<carboy/nginx> target=0.8
set -euo pipefail
# shellcheck source=bench/lib.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
bench_init download
NGINX=${NGINX:-$(command -v nginx || echo /usr/sbin/nginx)}
[ -x "$NGINX" ] || die "nginx not found (scripts/install-deps.sh bench)"
TARGET=0.8

size=$((BENCH_SIZE_MB * 1048576))
mkdir -p "$BENCH_TMP/www"
src="$BENCH_TMP/www/blob.bin"
make_random_file "$src" "$BENCH_SIZE_MB"
src_sha=$(sha256sum "$src" | cut -d' ' -f1)

# ---- nginx, with its own config; nothing under /etc or /var is touched ----
ngx="$BENCH_TMP/nginx"
mkdir -p "$ngx"
ngx_port=$(free_port)
cat >"$ngx/nginx.conf" <<EOF
daemon off;
master_process off;
worker_processes 1;
pid $ngx/nginx.pid;
error_log $ngx/error.log warn;
events { worker_connections 64; }
http {
  access_log $ngx/access.log;
  client_body_temp_path $ngx/body;
  proxy_temp_path $ngx/proxy;
  fastcgi_temp_path $ngx/fastcgi;
  uwsgi_temp_path $ngx/uwsgi;
  scgi_temp_path $ngx/scgi;
  default_type application/octet-stream;
  sendfile on;
  tcp_nopush on;
  keepalive_timeout 10;
  server {
    listen 127.0.0.1:$ngx_port;
    root $BENCH_TMP/www;
  }
}
EOF
"$NGINX" -t -q -p "$ngx" -e "$ngx/error.log" -c "$ngx/nginx.conf" ||
  die "nginx rejected its config $ngx/nginx.conf"
"$NGINX" -p "$ngx" -e "$ngx/error.log" -c "$ngx/nginx.conf" >"$ngx/stdout.log" 2>&1 &
ngx_pid=$!
bench_track "$ngx_pid"
nginx_url="http://127.0.0.1:$ngx_port/blob.bin"
# /blob.bin answers 200 too, but a HEAD-less wait would fetch 1 GiB: probe a tiny file.
echo ok >"$BENCH_TMP/www/ping.txt"
wait_http "http://127.0.0.1:$ngx_port/ping.txt" "$ngx_pid" "nginx"
log "nginx pid $ngx_pid on 127.0.0.1:$ngx_port"

# ---- carboy: upload the same bytes ----
start_carboy
folder=$(carboy_folder bench)
resp=$(carboy_upload "$folder" "$src" blob.bin)
file_id=$(json_field id <"$resp")
[ "$(json_field sha256 <"$resp")" = "$src_sha" ] || die "carboy's sha256 for the upload differs from the source's"
carboy_url="$CARBOY_URL/api/v1/files/$file_id/content"

# Verify once that carboy serves back exactly the bytes (streamed, not stored).
got_sha=$(curl -sSf --max-time "$BENCH_TIMEOUT" "${CARBOY_AUTH[@]}" "$carboy_url" | sha256sum | cut -d' ' -f1) ||
  die "verification download from carboy failed"
[ "$got_sha" = "$src_sha" ] || die "carboy's download sha256 $got_sha differs from the source's $src_sha"
log "verified: carboy's download matches sha256 $src_sha"
cat "$src" >/dev/null # both servers read from the page cache

# fetch WHAT URL [curl args]: prints MB/s; checks status and length.
fetch() {
  local what=$1 url=$2 out code speed n
  shift 2
  out=$(curl -sS -o /dev/null --max-time "$BENCH_TIMEOUT" "$@" \
    -w '%{http_code} %{speed_download} %{size_download}' "$url") || die "$what download failed (curl exit $?)"
  read -r code speed n <<<"$out"
  [ "$code" = 200 ] || die "$what answered HTTP $code, expected 200"
  [ "$n" = "$size" ] || die "$what sent $n bytes, expected $size"
  awk -v s="$speed" 'BEGIN { printf "%.2f\n", s / 1e6 }'
}

nginx_round() { fetch nginx "$nginx_url"; }
carboy_round() { fetch carboy "$carboy_url" "${CARBOY_AUTH[@]}"; }
alternate nginx nginx_round carboy_round
ngx_runs=("${base_runs[@]}")

ngx_med=$(median "${ngx_runs[@]}")
cb_med=$(median "${cb_runs[@]}")
r=$(ratio "$cb_med" "$ngx_med")
echo "download ($BENCH_SIZE_MB MiB, $BENCH_RUNS runs, median MB/s)"
echo "  nginx (sendfile):   $ngx_med MB/s   runs: ${ngx_runs[*]}"
echo "  carboy:             $cb_med MB/s   runs: ${cb_runs[*]}"
echo "  ratio carboy/nginx: $r (target >= $TARGET)"
echo "RESULT download baseline=$ngx_med carboy=$cb_med ratio=$r target=$TARGET"
