#!/usr/bin/env bash
# Alternates two builds of licd on fresh data directories (this machine's throughput
# drifts between runs, so only alternated rounds compare), then measures the second
# build at half of its capture peak and at 1,000,000 clients, keys and leases.
#   scripts/bench-compare.sh BEFORE_BINARY AFTER_BINARY [WORKDIR]
# Both servers are driven by AFTER's `licd bench`. Needs ~3 GB of disk, ~15 minutes.
set -euo pipefail
OLD=$(realpath "$1"); NEW=$(realpath "$2"); W=${3:-/tmp/licd-compare}
PORT=9443; rm -rf "$W"; mkdir -p "$W"
serve() { # bin dir
  LICD_LOG=warn,licd::store=info "$1" serve --data "$2" --listen 127.0.0.1:$PORT > "$W/serve.log" 2>&1 &
  echo $! > "$W/pid"
  until grep -q listening "$W/serve.log"; do sleep 0.02; done
}
stop() { kill "$(cat "$W/pid")"; wait "$(cat "$W/pid")" 2>/dev/null || true; }
bench() { "$NEW" bench --server https://127.0.0.1:$PORT --token "$T" --insecure "$@" 2>/dev/null; }
fresh() { rm -rf "$W/d"; T=$("$1" token create --data "$W/d" --name bench --role admin 2>/dev/null); serve "$1" "$W/d"; }
summary() { python3 -c "
import json,sys;r=json.load(open(sys.argv[1]))
print(' '.join(f\"{o['op']}={o['rps']:.0f}(p99 {o['p99_ms']:.1f})\" for p in r['phases'] for o in p['ops'] if o['op']==p['phase']))" "$1"; }
echo "== empty store, 64 connections"
for r in 1 2; do for b in "$OLD" "$NEW"; do
  fresh "$b"
  bench -c 64 -d 8 --phases noop,ping,capture,noop,heartbeat,noop,release --json > "$W/empty-$r-$(basename "$b").json"
  stop
  echo "$(basename "$b") round $r: $(summary "$W/empty-$r-$(basename "$b").json")"
  grep "store closed" "$W/serve.log" | sed 's/.*store closed: /   writer: /;s/\x1b\[[0-9;]*m//g' || true
done; done
PEAK=$(python3 -c "
import json,sys,statistics
v=[o['rps'] for f in sys.argv[1:] for p in json.load(open(f))['phases'] for o in p['ops'] if p['phase']=='capture' and o['op']=='capture']
print(int(statistics.mean(v)))" "$W"/empty-*-"$(basename "$NEW")".json)
echo "== captures at half of the peak ($PEAK/2 req/s), 20 s"
for b in "$NEW" "$OLD" "$NEW"; do
  fresh "$b"; echo "$(basename "$b"): $(bench -c 64 -d 20 --phases capture --rate $((PEAK / 2)) | tail -1)"; stop
done
echo "== 1,000,000 clients, keys, leases"
/usr/bin/time -f "seed: %e s, max RSS %M KiB" "$NEW" seed --data "$W/scale" 2>&1 | tail -2
ls -l "$W/scale/licd.redb" | awk '{printf "database file: %.0f MiB\n", $5/1048576}'
T=$("$NEW" token create --data "$W/scale" --name bench --role admin 2>/dev/null)
for start in 1 2; do
  s=$(date +%s.%N); serve "$NEW" "$W/scale"; e=$(date +%s.%N)
  echo "start $start: $(echo "$e - $s" | bc) s, RSS $(ps -o rss= -p "$(cat "$W/pid")" | awk '{printf "%.0f MiB", $1/1024}')"
  [ $start = 1 ] && stop
done
bench -c 4 -d 10 --keys 10 --phases search | tail -1
bench -c 64 -d 8 --phases noop,ping,capture,noop,heartbeat --json > "$W/scale.json"
echo "at 1M: $(summary "$W/scale.json")"
echo "RSS after load: $(ps -o rss= -p "$(cat "$W/pid")" | awk '{printf "%.0f MiB", $1/1024}')"
stop
