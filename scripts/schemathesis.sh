#!/bin/sh
# Schemathesis (issue 15, part 2): the outside tool that reads licd's own OpenAPI document
# (/api/openapi.json) and throws valid and invalid requests at every operation, checking
# the answers against the document. Fails on any failure.
#
#   scripts/schemathesis.sh [path/to/licd]      (default: target/debug/licd, built if absent)
#
# A fresh data directory and server each run, an admin token made with `licd token
# create` before it starts. ST_MAX_EXAMPLES (default 30) sets the cases per operation;
# ST_SEED the seed (default fixed, so CI runs the same cases each time and a failure is
# the change's, not the dice's; set another to explore).
#
# Exclusions, each because it must be:
# - DELETE /api/admin/v1/tokens/{id}: revoking tokens. The run's only credential is an
#   admin token; a generated id that hits it (ids are small integers) revokes it and every
#   later call is 401, which tests nothing. Token revocation is covered by
#   tests/it/admin.rs.
# - POST /api/admin/v1/signing-key/rotate is kept, but it changes the key the answers
#   are signed with; nothing here pins it, so that is harmless.
# Settings for the run: --abuse-per-minute is raised, since the per-address limit on
# trials, coupons and unknown keys (30 a minute) would otherwise make nearly every
# generated case a 429 and test only the limiter (which tests/it/limits.rs covers).
set -eu
cd "$(dirname "$0")/.."
ROOT=$(pwd)
BIN=${1:-target/debug/licd}
[ -x "$BIN" ] || cargo build -q
VENV=${ST_VENV:-$ROOT/target/st-venv}
if [ ! -x "$VENV/bin/schemathesis" ]; then
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install -q --disable-pip-version-check 'schemathesis==4.32.*'
fi
WORK=$(mktemp -d)
PID=""
cleanup() {
    [ -z "$PID" ] || kill "$PID" 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT INT TERM
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$BIN" init --data "$WORK/data" >/dev/null 2>&1
TOKEN=$("$BIN" token create --data "$WORK/data" --name schemathesis --role admin 2>/dev/null)
"$BIN" serve --data "$WORK/data" --listen "127.0.0.1:$PORT" --abuse-per-minute 100000000 \
    --backup-window off >"$WORK/server.log" 2>&1 &
PID=$!
i=0
until curl -ksf "https://127.0.0.1:$PORT/healthz" >/dev/null; do
    i=$((i + 1))
    [ $i -lt 100 ] || { cat "$WORK/server.log"; exit 1; }
    sleep 0.1
done
# A product for the generated calls to find (codes are otherwise random and never match).
curl -ksf -o /dev/null -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
    -d '{"code":"P1","name":"Product","features":[{"number":1,"name":"F","unit":"session"}],"trial":{"days":30,"items":[{"feature":1,"seats":2}]}}' \
    "https://127.0.0.1:$PORT/api/admin/v1/products"
set +e
"$VENV/bin/schemathesis" --config-file "$ROOT/scripts/schemathesis.toml" run "https://127.0.0.1:$PORT/api/openapi.json" \
    --tls-verify false \
    --header "Authorization: Bearer $TOKEN" \
    --phases examples,coverage,fuzzing,stateful \
    --max-examples "${ST_MAX_EXAMPLES:-30}" \
    --seed "${ST_SEED:-20261207}" \
    --exclude-operation-id revoke_token \
    --suppress-health-check all \
    --request-timeout 30 \
    --warnings off \
    --report junit --report-dir "${ST_REPORT_DIR:-$ROOT/target/schemathesis}" \
    --no-color
rc=$?
set -e
# The server's own errors and panics fail the run too. actix's notes on requests it
# could not parse (Schemathesis sends invalid headers on purpose) are not faults.
if grep ' ERROR \| panicked' "$WORK/server.log" | grep -v 'actix_http::h1::dispatcher' >"$WORK/errors"; then
    echo "server log shows errors:" >&2
    head -20 "$WORK/errors" >&2
    rc=1
fi
exit $rc
