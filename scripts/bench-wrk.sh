#!/usr/bin/env bash
# The cost of a signed answer, measured with wrk (issue 16): one fresh release server,
# 2 wrk threads, 64 connections, DUR seconds per call, HTTP/1.1 keep-alive over TLS 1.3,
# the load generator beside the server on the same cores.
#
#   cargo build --release && scripts/bench-wrk.sh            # DUR=10 by default
#   DUR=5 PORT=19500 scripts/bench-wrk.sh
#   PERF=/tmp/prof scripts/bench-wrk.sh   # also `perf record -g` the server during each
#                                          # call: /tmp/prof/{healthz,signing-key,...}.data
#   ONLY=capture SERVE_LOG=/tmp/serve.log LICD_LOG=info scripts/bench-wrk.sh
#                     # one call only; keep the server's log (its writer's batching line)
#
# Calls: GET /healthz (no body, no signature); GET /api/v1/signing-key (signed, constant
# body); POST /api/v1/leases/{lease}/heartbeat on one lease (signed); POST
# /api/v1/leases with a new user each (durable, signed). Prints a Markdown table.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-target/release/licd}
DUR=${DUR:-10}
PORT=${PORT:-19480}
CONN=${CONN:-64}
THREADS=${THREADS:-2}
command -v wrk >/dev/null || { echo "wrk is missing: apt-get install wrk" >&2; exit 2; }
D=$(mktemp -d /tmp/licd-bench-wrk.XXXXXX)
URL="https://127.0.0.1:$PORT"
trap 'kill $SERVER 2>/dev/null; wait $SERVER 2>/dev/null; [ -z "${SERVE_LOG:-}" ] || cp "$D/serve.log" "$SERVE_LOG"; rm -rf "$D"' EXIT

"$BIN" init --data "$D/data" >/dev/null 2>&1
TOKEN=$("$BIN" token create --data "$D/data" --name bench --role admin 2>/dev/null)
LICD_LOG=${LICD_LOG:-warn} "$BIN" serve --data "$D/data" --listen "127.0.0.1:$PORT" \
  --abuse-per-minute 100000000 2>"$D/serve.log" &
SERVER=$!
for _ in $(seq 1 120); do curl -ks "$URL/healthz" >/dev/null && break; sleep 0.5; done
AUTH="Authorization: Bearer $TOKEN"
JSON='content-type: application/json'
curl -ksf -H "$AUTH" -H "$JSON" "$URL/api/admin/v1/products" -d \
  '{"code":"WRK","name":"wrk","heartbeat_s":600,"features":[{"number":1,"name":"Main","unit":"user"}]}' >/dev/null
CID=$(curl -ksf -H "$AUTH" -H "$JSON" "$URL/api/admin/v1/clients" \
  -d '{"company":"wrk","contact":"w","phone":"1","email":""}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
REGNUM=$(curl -ksf -H "$AUTH" -X POST "$URL/api/admin/v1/clients/$CID/keys" | python3 -c 'import json,sys; print(json.load(sys.stdin)["regnum"])')
curl -ksf -H "$AUTH" -H "$JSON" "$URL/api/admin/v1/keys/$REGNUM/items" \
  -d '{"product":"WRK","feature":1,"seats":4000000}' >/dev/null
LEASE=$(curl -ksf -H "$JSON" "$URL/api/v1/leases" \
  -d "{\"regnum\":\"$REGNUM\",\"feature\":1,\"host\":\"beat\",\"user\":\"beat\"}" | python3 -c 'import json,sys; print(json.load(sys.stdin)["lease"])')

cat >"$D/heartbeat.lua" <<EOF
wrk.method = "POST"
wrk.path = "/api/v1/leases/$LEASE/heartbeat"
EOF
cat >"$D/capture.lua" <<EOF
local threads = 0
function setup(thread) thread:set("tid", threads); threads = threads + 1 end
local n = 0
function request()
  n = n + 1
  local body = string.format('{"regnum":"$REGNUM","feature":1,"host":"h%d","user":"u%d-%d"}', tid, tid, n)
  return wrk.format("POST", "/api/v1/leases", {["Content-Type"] = "application/json"}, body)
end
EOF

run() {
  local name=$1 label=$2; shift 2
  [ -z "${ONLY:-}" ] || [ "$ONLY" = "$name" ] || return 0
  local out perf=
  if [ -n "${PERF:-}" ]; then
    mkdir -p "$PERF"
    perf record -q -F 499 -g -p "$SERVER" -o "$PERF/$name.data" -- sleep "$DUR" 2>"$PERF/$name.log" &
    perf=$!
  fi
  out=$(wrk -t"$THREADS" -c"$CONN" -d"${DUR}s" --latency "$@")
  local rps p99 errs
  rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
  p99=$(awk '$1 == "99%" {print $2}' <<<"$out")
  errs=$(awk '/Non-2xx/ {print $NF}' <<<"$out")
  [ -z "$perf" ] || wait "$perf" || cat "$PERF/$name.log" >&2
  printf '| %s | %s | %s | %s |\n' "$label" "$(printf '%.0f' "$rps")" "$p99" "${errs:-0}"
}
echo "| call | req/s | p99 | non-2xx |"
echo "| --- | --- | --- | --- |"
run healthz 'GET /healthz (no body, no signature)' "$URL/healthz"
run signing-key 'GET /api/v1/signing-key (signed, constant body)' "$URL/api/v1/signing-key"
run heartbeat 'heartbeat (signed)' -s "$D/heartbeat.lua" "$URL"
run capture 'capture, a new user each (durable, signed)' -s "$D/capture.lua" "$URL"
