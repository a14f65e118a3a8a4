#!/usr/bin/env bash
# Times the staff Statistics and Problems pages (and a client's card tabs) at scale:
# seeds a fresh data directory with CLIENTS clients / keys and DAYS days of usage and
# denials (`licd seed`), starts the release build on it, signs in as an admin over the
# real login form, and fetches each page RUNS times with curl, printing the median and
# the slowest time of each (whole answer, TLS included).
#
#   scripts/bench-stats.sh                 # 100000 keys x 365 days
#   CLIENTS=10000 DAYS=90 scripts/bench-stats.sh
set -euo pipefail
cd "$(dirname "$0")/.."
CLIENTS=${CLIENTS:-100000}
DAYS=${DAYS:-365}
RUNS=${RUNS:-20}
PORT=${PORT:-18443}
DATA=${DATA:-$(mktemp -d /tmp/licd-bench-stats.XXXXXX)}
BIN=target/release/licd
[ -x "$BIN" ] || cargo build --release
if [ ! -f "$DATA/licd.redb" ]; then
    t0=$(date +%s)
    "$BIN" seed --data "$DATA" --clients "$CLIENTS" --keys "$CLIENTS" --leases 1000 --days "$DAYS" >&2
    echo "seeded $CLIENTS keys x $DAYS days in $(( $(date +%s) - t0 )) s; database $(du -h "$DATA/licd.redb" | cut -f1)" >&2
fi
printf 'bench-password-1\n' | "$BIN" user add --data "$DATA" --login bench --role admin >/dev/null 2>&1 || true
"$BIN" serve --data "$DATA" --listen "127.0.0.1:$PORT" >"$DATA/serve.log" 2>&1 &
PID=$!
trap 'kill $PID 2>/dev/null || true; wait $PID 2>/dev/null || true' EXIT
URL="https://127.0.0.1:$PORT"
for _ in $(seq 1 300); do
    curl -ksf "$URL/healthz" >/dev/null 2>&1 && break
    sleep 0.1
done
JAR="$DATA/cookies"
rm -f "$JAR"
csrf=$(curl -ks -c "$JAR" "$URL/login" | sed -n 's/.*name="csrf" value="\([0-9a-f]*\)".*/\1/p' | head -1)
curl -ks -b "$JAR" -c "$JAR" -o /dev/null --data "csrf=$csrf&login=bench&password=bench-password-1" "$URL/login"
grep -q licd_session "$JAR" || { echo "sign-in failed" >&2; exit 1; }
# A client with denials, and a feature and distributor to filter by, from the pages.
client=$(curl -ks -b "$JAR" "$URL/statistics?range=365" | grep -o 'href="/clients/[0-9]*"' | head -1 | grep -o '[0-9]*' || true)
feature=$(curl -ks -b "$JAR" "$URL/problems" | grep -o '<option value="[0-9]\+"' | head -1 | grep -o '[0-9][0-9]*' || true)
dist=$(curl -ks -b "$JAR" "$URL/problems" | grep -o 'name="distributor".*' | grep -o '<option value="[^"]\+"' | head -1 | sed 's/.*value="\([^"]*\)"/\1/' || true)
pages=(
    "/statistics?range=365"
    "/statistics?range=30"
    "/problems"
    "/problems?feature=${feature}"
    "/problems?code=1030"
)
[ -n "$dist" ] && pages+=("/problems?distributor=${dist}")
[ -n "$client" ] && pages+=("/clients/${client}/statistics?range=365" "/clients/${client}/problems" "/clients/${client}/summary")
printf '%-48s %8s %8s %8s\n' page "status" "median" "max"
for p in "${pages[@]}"; do
    status=$(curl -ks -b "$JAR" -o /dev/null -w '%{http_code}' "$URL$p")
    times=$(for _ in $(seq 1 "$RUNS"); do curl -ks -b "$JAR" -o /dev/null -w '%{time_total}\n' "$URL$p"; done | sort -n)
    median=$(echo "$times" | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
    max=$(echo "$times" | tail -1)
    printf '%-48s %8s %7.0fms %7.0fms\n' "$p" "$status" "$(echo "$median*1000" | bc)" "$(echo "$max*1000" | bc)"
done
