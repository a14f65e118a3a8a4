#!/usr/bin/env bash
# Reproduces the figures of BENCHMARKS.md on this machine: an empty-store run, a
# capture run at half its peak rate, then a 1,000,000-client/key/lease store (start
# time, resident memory, search, captures). Needs ~3 GB of disk; takes ~10 minutes.
#   scripts/bench-all.sh [WORKDIR]
set -euo pipefail
cd "$(dirname "$0")/.."
W=${1:-/tmp/licd-bench}
B=target/release/licd
cargo build --release
rm -rf "$W"; mkdir -p "$W"
PORT=9443

serve() { # dir -> prints seconds until listening
  local s e
  s=$(date +%s.%N)
  LICD_LOG=warn $B serve --data "$1" --listen 127.0.0.1:$PORT > "$W/serve.log" 2>&1 &
  echo $! > "$W/pid"
  until grep -q listening "$W/serve.log"; do sleep 0.02; done
  e=$(date +%s.%N)
  echo "$e - $s" | bc
}
stop() { kill "$(cat "$W/pid")"; wait "$(cat "$W/pid")" 2>/dev/null || true; }
rss() { ps -o rss= -p "$(cat "$W/pid")" | awk '{printf "%.0f MiB", $1/1024}'; }
bench() { $B bench --server https://127.0.0.1:$PORT --token "$T" --insecure "$@" 2>/dev/null; }

echo "== empty store"
T=$($B token create --data "$W/empty" --name bench --role admin 2>/dev/null)
serve "$W/empty" > /dev/null
bench -c 64 -d 10 --phases noop,ping,capture,heartbeat,read,release --json > "$W/empty.json"
bench -c 64 -d 10 --phases noop,ping,capture,heartbeat,read,release
PEAK=$(python3 -c "import json;r=json.load(open('$W/empty.json'));print(int([o for p in r['phases'] for o in p['ops'] if p['phase']=='capture' and o['op']=='capture'][0]['rps']))")
echo "== captures at half of their peak ($PEAK/2 req/s)"
bench -c 64 -d 10 --phases capture --rate $((PEAK / 2))
stop

echo "== seeding 1,000,000 clients, keys and leases"
/usr/bin/time -f "seed: %e s, max RSS %M KiB" $B seed --data "$W/scale" 2>&1 | tail -2
ls -l "$W/scale/licd.redb" | awk '{printf "database file: %.0f MiB\n", $5/1048576}'
T=$($B token create --data "$W/scale" --name bench --role admin 2>/dev/null)
echo "start at 1M: $(serve "$W/scale") s, RSS $(rss)"
bench -c 4 -d 10 --keys 10 --phases search
bench -c 64 -d 10 --phases noop,ping,capture,heartbeat
echo "RSS after load: $(rss)"
stop
