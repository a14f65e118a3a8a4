#!/usr/bin/env bash
# Release files (issue 13): upload throughput and the server's RSS while a large file
# is uploaded, then download throughput over TLS (HTTP/1.1 and HTTP/2) and, for
# comparison, reading the same file from disk, so the cost of the HTTP and TLS layers
# shows.
#
#   cargo build --release && scripts/bench-releases.sh
#   SIZE_MIB=256 scripts/bench-releases.sh         # a smaller file
#
# Prints one line per measurement: what, MiB/s, seconds; and the RSS before, at its
# peak during the upload, and after.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-target/release/licd}
SIZE_MIB=${SIZE_MIB:-1024}
PORT=${PORT:-18453}
D=$(mktemp -d /tmp/licd-bench-releases.XXXXXX)
URL="https://127.0.0.1:$PORT"
FILE="$D/upload.bin"
trap 'kill $SERVER 2>/dev/null; wait $SERVER 2>/dev/null; rm -rf "$D"' EXIT

"$BIN" init --data "$D/data" >/dev/null 2>&1
TOKEN=$("$BIN" token create --data "$D/data" --name bench --role admin 2>/dev/null)
LICD_LOG=warn "$BIN" serve --data "$D/data" --listen "127.0.0.1:$PORT" \
  --upload-limit-mib $((SIZE_MIB + 16)) 2>"$D/serve.log" &
SERVER=$!
for _ in $(seq 1 120); do
  curl -ks "$URL/healthz" >/dev/null && break
  sleep 0.5
done
AUTH="Authorization: Bearer $TOKEN"
curl -ksf -H "$AUTH" -H 'content-type: application/json' "$URL/api/admin/v1/products" \
  -d '{"code":"BIG","name":"Big","features":[{"number":1,"name":"Main","unit":"user"}]}' >/dev/null

head -c $((SIZE_MIB * 1024 * 1024)) /dev/urandom >"$FILE"
sync
rss() { awk '/VmRSS/ {print $2}' "/proc/$SERVER/status"; }
hwm() { awk '/VmHWM/ {print $2}' "/proc/$SERVER/status"; }
rss_before=$(rss)
hwm_before=$(hwm)
peak=$rss_before
( while kill -0 $SERVER 2>/dev/null; do rss >>"$D/rss.log"; sleep 0.05; done ) &
SAMPLER=$!

start=$(date +%s.%N)
curl -ksf -H "$AUTH" "$URL/api/admin/v1/releases" -F product=BIG -F version=1.0.0 \
  -F "file=@$FILE;filename=big.bin" -o "$D/published.json"
end=$(date +%s.%N)
kill $SAMPLER 2>/dev/null || true
peak=$(sort -n "$D/rss.log" | tail -1)
id=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["id"])' "$D/published.json")
sha=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["sha256"])' "$D/published.json")
want=$(sha256sum "$FILE" | cut -d' ' -f1)
[ "$sha" = "$want" ] || { echo "sha256 differs: $sha vs $want" >&2; exit 1; }
awk -v s="$start" -v e="$end" -v m="$SIZE_MIB" \
  'BEGIN { printf "upload  %6.0f MiB/s  %.2f s  (%d MiB, multipart, HTTP/2, TLS 1.3)\n", m/(e-s), e-s, m }'
echo "rss     before ${rss_before} KiB, peak during upload ${peak} KiB (+$(( (peak - rss_before) / 1024 )) MiB), after $(rss) KiB; VmHWM before ${hwm_before} KiB"

dl() {
  local label=$1; shift
  local t
  t=$(curl -ksf "$@" -H "$AUTH" "$URL/api/admin/v1/releases/$id/file" -o /dev/null -w '%{time_total} %{size_download}')
  awk -v t="${t% *}" -v b="${t#* }" -v l="$label" \
    'BEGIN { printf "%-7s %6.0f MiB/s  %.2f s\n", l, b/1048576/t, t }'
}
for _ in 1 2; do dl "h1.1" --http1.1; done
for _ in 1 2; do dl "h2" --http2; done
# The disk alone (the file is in the page cache after the upload and downloads).
t0=$(date +%s.%N); cat "$D/data/releases/"*.bin >/dev/null; t1=$(date +%s.%N)
awk -v s="$t0" -v e="$t1" -v m="$SIZE_MIB" 'BEGIN { printf "disk    %6.0f MiB/s  %.2f s  (cat of the stored file, page cache)\n", m/(e-s), e-s }'
# TLS alone: AES-128-GCM as OpenSSL does it on this CPU (rustls/ring is close).
openssl speed -elapsed -seconds 2 -evp aes-128-gcm 2>/dev/null | tail -1 |
  awk '{ printf "aes-gcm %6.0f MiB/s  (openssl speed, 16 KiB blocks, one core)\n", $NF*1000/1048576 }'
