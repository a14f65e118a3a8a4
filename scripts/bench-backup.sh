#!/usr/bin/env bash
# Captures with and without online backups running, on a store of about a million rows
# (issue 11: captures keep >= 80 % of their throughput and p99 <= 20 ms during a backup).
#
#   cargo build --release && scripts/bench-backup.sh
#   DATA=/tmp/b N=200000 DUR=20 scripts/bench-backup.sh    # keep and reuse a seeded dir
#   RATE=2500 DATA=/tmp/b scripts/bench-backup.sh            # latency at a fixed rate
#   BACKUP_CPU=0.15 DATA=/tmp/b scripts/bench-backup.sh      # the copy's share of a core
#
# 1. `licd seed` fills a data dir (N clients, keys and live leases) and `licd check`
#    counts its rows; 2. a release server starts on it; 3. `licd bench --phases capture`
#    runs DUR seconds alone, then DUR seconds while `licd backup --server` runs back to
#    back (each copy verified and deleted), so the whole second phase is "during a
#    backup". Both runs print JSON; the backups print their time and size.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-target/release/licd}
N=${N:-200000}
DUR=${DUR:-20}
PORT=${PORT:-18443}
D=${DATA:-$(mktemp -d /tmp/licd-bench-backup.XXXXXX)}
OUT=$(mktemp -d /tmp/licd-bench-backup-out.XXXXXX)
URL="https://127.0.0.1:$PORT"

if [ ! -f "$D/licd.redb" ]; then
  echo "seeding $N clients, keys and leases into $D" >&2
  "$BIN" seed --data "$D" --clients "$N" --keys "$N" --leases "$N" >&2
fi
"$BIN" check --data "$D" | head -1 >&2
TOKEN=$("$BIN" token create --data "$D" --name "bench-$$" --role admin 2>/dev/null)

LICD_LOG=warn LICD_BACKUP_CPU=${BACKUP_CPU:-0.15} "$BIN" serve --data "$D" --listen "127.0.0.1:$PORT" 2>"$OUT/serve.log" &
SERVER=$!
trap 'kill $SERVER 2>/dev/null; wait $SERVER 2>/dev/null; rm -rf "$OUT"' EXIT
for _ in $(seq 1 120); do
  curl -ks "$URL/healthz" >/dev/null && break
  sleep 0.5
done

bench() {
  "$BIN" bench --server "$URL" --token "$TOKEN" --insecure -c 64 -d "$DUR" \
    --keys 200 --seats 5000 --phases capture --json
}

if [ -n "${RATE:-}" ]; then
  bench() {
    "$BIN" bench --server "$URL" --token "$TOKEN" --insecure -c 64 -d "$DUR" \
      --keys 200 --seats 5000 --phases capture --rate "$RATE" --json
  }
fi
echo "== captures alone" >&2
bench >"$OUT/alone.json"
cat "$OUT/alone.json"

echo "== captures during back-to-back online backups" >&2
bench >"$OUT/during.json" &
BENCH=$!
rss_peak=0
( while kill -0 $BENCH 2>/dev/null; do
    r=$(awk '/VmRSS/ {print $2}' /proc/$SERVER/status 2>/dev/null || echo 0)
    echo "$r"; sleep 0.2
  done ) >"$OUT/rss.txt" &
sleep 2   # the bench's setup (throw-away product and keys) runs first
n=0
while kill -0 $BENCH 2>/dev/null; do
  n=$((n + 1))
  start=$(date +%s.%N)
  if "$BIN" backup --server "$URL" --token "$TOKEN" --insecure --out "$OUT/b$n.redb" 2>"$OUT/b$n.log"; then
    end=$(date +%s.%N)
    echo "backup $n: $(echo "$end - $start" | bc) s, $(stat -c %s "$OUT/b$n.redb") bytes, $(grep -o '[0-9]* rows' "$OUT/b$n.log" | head -1)" >&2
    rm -f "$OUT/b$n.redb"
  else
    cat "$OUT/b$n.log" >&2
  fi
done
wait $BENCH
cat "$OUT/during.json"
echo "server RSS before: $(head -1 "$OUT/rss.txt") KiB, peak during the backups: $(sort -n "$OUT/rss.txt" | tail -1) KiB" >&2
