#!/usr/bin/env bash
# Makes tests/fixtures/schema3.redb and tests/fixtures/schema3.json: a small database
# written by the last licd that wrote schema 3, for tests/it/upgrade.rs ("upgrades are
# safe": the current licd opens it, migrates it to schema 4 and keeps every row).
#
# Why a real old binary: a fixture hand-built by today's code would share today's
# codec and table definitions, so it could not catch a record whose shape changed. The
# file must be what an installed old licd really left on disk.
#
# Which commit: OLD_COMMIT, default 34614ba — the last commit on main whose build
# stamps schema 3 (the first parent of the merge 1e0f426 that brought schema 4). Its
# store and records are identical to e72c43a's. Not d802798 (the parent of 9fb463e):
# that commit lived only on the `stats` branch and already wrote the schema-4 rollup
# tables while stamping 3, so a fixture from it could not show that the 3 -> 4 step
# fills them. The script checks that the commit's CURRENT is 3.
#
# How:
#   1. `git worktree add --detach` the old commit into a temporary directory and build
#      its debug `licd` there (CARGO_TARGET_DIR, default /work/target-fixture-old, kept
#      between runs so a re-run only rebuilds licd itself).
#   2. With the server stopped, the old CLI adds three staff users (admin, manager,
#      distributor) and an admin-API token (`licd user add`, `licd token create`).
#   3. `licd serve` on 127.0.0.1, a free port (`--listen 127.0.0.1:0`, the port read
#      from its first line), its own self-signed TLS certificate (curl trusts exactly
#      that certificate), no SMTP (so the coupon mail stays in the outbox).
#   4. Over HTTPS, named data: vendor settings; two products (features of every unit,
#      a trial); a distributor (through the staff web UI: sign-in, CSRF form); clients
#      with e-mails, CRM ids, manager, distributor, extra fields; a trial registration
#      (client, key, trial grants, trial host); keys with grants (feature, seats,
#      expiry); a coupon batch, one activated; captures that stay live, a released
#      host seat (an idle host binding), denials (seats exhausted, unknown feature,
#      blocked key); one blocked key; a manager token and a revoked token.
#   5. The old server's own answers (GET of every item) are saved into the JSON, with
#      the lease ids, regnums, coupon codes, passwords and token secrets, and the time
#      (`made_at`) the test sets its clock to.
#   6. SIGTERM: the old licd flushes the day's usage counters, checkpoints its redo log
#      into licd.redb and stops. licd.wal keeps its zero-filled 4 MiB but no frame of
#      the last epoch: the script opens a copy of the directory with the old licd and
#      checks that nothing is replayed, so licd.redb alone holds everything. Only
#      licd.redb is copied; the signing key and TLS files are not part of the fixture
#      (the test's server makes its own).
#   7. The temporary worktree and data directory are removed (also on failure).
#
# Re-runnable: every run starts from an empty data directory and overwrites both
# fixture files (new random ids, secrets and times each run; the test reads them all
# from the JSON). Needs git, cargo, curl, jq, GNU date. Takes ~1 min with a warm
# target dir, ~7 min cold on 2 cores. licd.redb comes out at ~210 KiB.
# Run from anywhere inside the repository:  scripts/make-upgrade-fixture.sh
set -euo pipefail

OLD_COMMIT=${OLD_COMMIT:-34614ba}
export CARGO_TARGET_DIR=${OLD_TARGET_DIR:-/work/target-fixture-old}
repo=$(git rev-parse --show-toplevel)
out=$repo/tests/fixtures
started=$(date +%s)

work=$(mktemp -d "${TMPDIR:-/tmp}/licd-upgrade-fixture.XXXXXX")
tree=$work/old
data=$work/data
log=$work/serve.log
pid=
cleanup() {
    if [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    fi
    if [[ -d $tree ]]; then
        git -C "$repo" worktree remove --force "$tree" || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT
say() { echo "make-upgrade-fixture: $*" >&2; }

say "old licd at $OLD_COMMIT ($(git -C "$repo" rev-parse "$OLD_COMMIT"))"
git -C "$repo" worktree add --detach "$tree" "$OLD_COMMIT" >/dev/null
grep -q 'pub const CURRENT: u64 = 3;' "$tree/src/store/migrate.rs" ||
    { say "$OLD_COMMIT does not write schema 3"; exit 1; }
(cd "$tree" && cargo build --quiet --bin licd)
licd=$CARGO_TARGET_DIR/debug/licd
export LICD_LOG=warn

# --- With the server stopped: staff users and the admin-API token -----------------
pw_admin='admin-pass-1'
pw_manager='manager-pass-2'
pw_dist='partner-pass-3'
echo "$pw_admin" | "$licd" user add --data "$data" --login olga --role admin
echo "$pw_manager" | "$licd" user add --data "$data" --login anna --role manager
echo "$pw_dist" | "$licd" user add --data "$data" --login p1-user --role distributor --distributor p1
crm_token=$("$licd" token create --data "$data" --name crm --role admin)

# --- The old server ----------------------------------------------------------------
"$licd" serve --data "$data" --listen 127.0.0.1:0 --workers 2 2>"$log" &
pid=$!
url=
for _ in $(seq 1 100); do
    url=$(grep -o 'listening on https://[0-9.:]*' "$log" | head -1 | sed 's/listening on //') || true
    [[ -n $url ]] && break
    kill -0 "$pid" 2>/dev/null || { cat "$log" >&2; exit 1; }
    sleep 0.1
done
[[ -n $url ]] || { say "the old server did not start"; cat "$log" >&2; exit 1; }
say "old server at $url"
cert=$data/tls/cert.pem

# call METHOD PATH [JSON] -> the answer body; fails unless the status is 2xx.
call() {
    local method=$1 path=$2 body=${3:-}
    local args=(-sS --cacert "$cert" -X "$method" -o "$work/body" -w '%{http_code}')
    if [[ $path == /api/admin/* ]]; then
        args+=(-H "Authorization: Bearer $crm_token")
    fi
    if [[ -n $body ]]; then
        args+=(-H 'Content-Type: application/json' --data "$body")
    fi
    local status
    status=$(curl "${args[@]}" "$url$path")
    if [[ $status != 2* ]]; then
        say "$method $path -> $status $(cat "$work/body")"
        exit 1
    fi
    cat "$work/body"
}
# refused METHOD PATH JSON STATUS CODE: a call that must fail with that status and code.
refused() {
    local status
    status=$(curl -sS --cacert "$cert" -X "$1" -o "$work/body" -w '%{http_code}' \
        -H 'Content-Type: application/json' --data "$3" "$url$2")
    local code
    code=$(jq -r '.error.code' "$work/body")
    if [[ $status != "$4" || $code != "$5" ]]; then
        say "$1 $2 -> $status $(cat "$work/body"), wanted $4 / $5"
        exit 1
    fi
}
admin() { call "$1" "/api/admin/v1$2" "${3:-}"; }
api() { call "$1" "/api/v1$2" "${3:-}"; }
in_days() { date -u -d "+$1 days" +%Y-%m-%dT%H:%M:%SZ; }

# Vendor settings first: the keys and coupons below get the new prefix.
admin PATCH /settings '{"vendor_name":"Upgrade Vendor GmbH","regnum_prefix":"UPG",
    "offline_license_days":10,"extra_fields":["INN","Region"]}' >/dev/null

admin POST /products '{"code":"cad","name":"CAD Suite","heartbeat_s":600,
    "features":[{"number":101,"name":"Drafting","unit":"user"},
                {"number":102,"name":"Render node","unit":"host"},
                {"number":103,"name":"Database link","unit":"database"}],
    "trial":{"days":30,"items":[{"feature":101,"seats":1}]}}' >/dev/null
admin POST /products '{"code":"view","name":"Viewer","heartbeat_s":300,
    "features":[{"number":201,"name":"Viewer session","unit":"session"}]}' >/dev/null

# Distributor codes are lower case: the UI lower-cases the record's code, while the
# admin API and the CLI keep a client's or user's distributor as typed.
# The distributor record exists only in the staff UI: sign in as the admin (the
# sign-in form's double-submit token is ours to choose), then post its form with the
# session's CSRF token read from the page.
jar=$work/cookies
pre=$(printf 'f%.0s' $(seq 1 64))
curl -sS --cacert "$cert" -c "$jar" -b "licd_presign=$pre" -o /dev/null \
    --data-urlencode "csrf=$pre" --data-urlencode login=olga \
    --data-urlencode "password=$pw_admin" "$url/login"
grep -q licd_session "$jar" || { say "UI sign-in failed"; exit 1; }
csrf=$(curl -sS --cacert "$cert" -b "$jar" "$url/distributors" |
    grep -o 'name="csrf" value="[^"]*"' | head -1 | sed 's/.*value="//; s/"$//')
status=$(curl -sS --cacert "$cert" -b "$jar" -o /dev/null -w '%{http_code}' \
    --data-urlencode "csrf=$csrf" --data-urlencode code=p1 \
    --data-urlencode 'name=Partner One' --data-urlencode email=p1@partner.test \
    "$url/distributors")
[[ $status == 303 ]] || { say "distributor form -> $status"; exit 1; }

client_a=$(admin POST /clients '{"company":"ООО «Ромашка»","contact":"Иван Петров",
    "phone":"+7 495 123-45-67","email":"ivan@romashka.test","alert_email":"alerts@romashka.test",
    "crm_id1":"CRM-1001","crm_id2":"B-77","manager":"anna","distributor":"p1",
    "comment":"VIP, renews in spring","extra":{"INN":"7701234567","Region":"Москва"}}' | jq .id)
client_b=$(admin POST /clients '{"company":"Globex Corp","contact":"Hank Scorpio",
    "phone":"+1 555 0100","email":"hank@globex.test","crm_id1":"CRM-1002","manager":"olga"}' |
    jq .id)
trial=$(api POST /trial '{"product":"cad","host":"trial-pc","company":"Trial Works",
    "contact":"Tina","phone":"+44 20 7946 0000","email":"tina@trial.test"}')
key_t=$(jq -r .regnum <<<"$trial")
client_t=$(admin GET "/keys/$key_t" | jq .client.id)

key_1=$(admin POST "/clients/$client_a/keys" | jq -r .regnum)
key_2=$(admin POST "/clients/$client_a/keys" | jq -r .regnum)
key_3=$(admin POST "/clients/$client_b/keys" | jq -r .regnum)
admin POST "/keys/$key_1/items" '{"product":"cad","feature":101,"seats":5}' >/dev/null
admin POST "/keys/$key_1/items" "{\"product\":\"cad\",\"feature\":102,\"seats\":2,
    \"expires_at\":\"$(in_days 365)\"}" >/dev/null
admin POST "/keys/$key_1/items" "{\"product\":\"view\",\"feature\":201,\"seats\":1,
    \"expires_at\":\"$(in_days 30)\"}" >/dev/null
admin POST "/keys/$key_2/items" '{"product":"cad","feature":103,"seats":1}' >/dev/null
admin POST "/keys/$key_3/items" '{"product":"view","feature":201,"seats":3}' >/dev/null
# A grant changed after it was added (seats and expiry).
admin PATCH "/keys/$key_3/items/1" "{\"seats\":4,\"expires_at\":\"$(in_days 90)\"}" >/dev/null

batch=$(admin POST /coupons '{"count":2,"items":[{"product":"cad","feature":101,"seats":2,"days":90},
    {"product":"view","feature":201,"seats":1}]}')
coupon_used=$(jq -r '.codes[0]' <<<"$batch")
coupon_free=$(jq -r '.codes[1]' <<<"$batch")
api POST /activate "{\"regnum\":\"$key_1\",\"coupon\":\"$coupon_used\"}" >/dev/null

# capture KEY FEATURE HOST USER DATABASE SESSION -> the lease id.
capture() {
    api POST /leases "{\"regnum\":\"$1\",\"feature\":$2,\"host\":\"$3\",\"user\":\"$4\",
        \"database\":\"$5\",\"session\":\"$6\",\"app\":\"cad.exe\",\"version\":\"5.1\"}" |
        jq -r .lease
}
lease_ivan_1=$(capture "$key_1" 101 pc-ivan ivan '' s-1)
lease_ivan_2=$(capture "$key_1" 101 pc-ivan ivan '' s-2)
lease_maria=$(capture "$key_1" 101 pc-maria maria '' s-3)
lease_render_1=$(capture "$key_1" 102 render-1 svc '' s-4)
lease_render_2=$(capture "$key_1" 102 render-2 svc '' s-5)
lease_view=$(capture "$key_1" 201 pc-ivan ivan '' s-6)
lease_erp=$(capture "$key_2" 103 db-srv sa erp s-7)
lease_trial=$(capture "$key_t" 101 trial-pc tina '' s-8)
# render-2's lease ends, its host stays bound (an idle host binding).
api DELETE "/leases/$lease_render_2" >/dev/null
api POST "/leases/$lease_ivan_1/heartbeat" >/dev/null
# Denials: the one database seat is taken; a feature the key never had.
refused POST /api/v1/leases "{\"regnum\":\"$key_2\",\"feature\":103,\"host\":\"db-srv\",\"user\":\"sa\",\"database\":\"hr\"}" 409 1030
refused POST /api/v1/leases "{\"regnum\":\"$key_1\",\"feature\":999,\"host\":\"pc-ivan\",\"user\":\"ivan\"}" 404 1031
admin PATCH "/keys/$key_3" '{"blocked":true}' >/dev/null
refused POST /api/v1/leases "{\"regnum\":\"$key_3\",\"feature\":201,\"host\":\"pc-hank\",\"user\":\"hank\"}" 403 1021

reports=$(admin POST /tokens '{"name":"reports","role":"manager"}')
reports_token=$(jq -r .token <<<"$reports")
old_bot_id=$(admin POST /tokens '{"name":"old-bot","role":"admin"}' | jq .id)
admin DELETE "/tokens/$old_bot_id" >/dev/null

# --- What the old server answers, for the test to compare -------------------------
# After every write above, to the millisecond: the test sets its clock here.
made_at=$(date -u +%Y-%m-%dT%H:%M:%S.%3NZ)
answers=$(jq -n \
    --argjson settings "$(admin GET /settings)" \
    --argjson products "$(admin GET /products)" \
    --argjson client_a "$(admin GET "/clients/$client_a")" \
    --argjson client_b "$(admin GET "/clients/$client_b")" \
    --argjson client_t "$(admin GET "/clients/$client_t")" \
    --argjson key_1 "$(admin GET "/keys/$key_1")" \
    --argjson key_2 "$(admin GET "/keys/$key_2")" \
    --argjson key_3 "$(admin GET "/keys/$key_3")" \
    --argjson key_t "$(admin GET "/keys/$key_t")" \
    --argjson coupons "$(admin GET /coupons)" \
    --argjson leases "$(admin GET /leases)" \
    --argjson tokens "$(admin GET /tokens)" \
    --argjson denials_1 "$(admin GET "/keys/$key_1/denials")" \
    --argjson denials_2 "$(admin GET "/keys/$key_2/denials")" \
    --argjson denials_3 "$(admin GET "/keys/$key_3/denials")" \
    '{settings: $settings, products: $products,
      clients: {a: $client_a, b: $client_b, trial: $client_t},
      keys: {k1: $key_1, k2: $key_2, k3: $key_3, trial: $key_t},
      coupons: $coupons, leases: $leases, tokens: $tokens,
      denials: {k1: $denials_1, k2: $denials_2, k3: $denials_3}}')

# --- A clean stop: usage flushed, redo log checkpointed into licd.redb ------------
kill -TERM "$pid"
wait "$pid" || { say "the old server did not stop cleanly"; cat "$log" >&2; exit 1; }
pid=
# licd.wal keeps its zero-filled size; what matters is that it holds no frame of the
# last durable epoch (the stop's checkpoint retired them all). Opening a copy of the
# directory with the old licd would replay such frames and say so.
cp -r "$data" "$work/check"
LICD_LOG=warn "$licd" token list --data "$work/check" >/dev/null 2>"$work/check.log"
if grep -q 'replayed the redo log' "$work/check.log"; then
    say "the redo log still held writes after a clean stop:"; cat "$work/check.log" >&2
    exit 1
fi

mkdir -p "$out"
cp "$data/licd.redb" "$out/schema3.redb"
jq -n \
    --arg commit "$(git -C "$repo" rev-parse "$OLD_COMMIT")" \
    --arg made_at "$made_at" \
    --arg day "${made_at%%T*}" \
    --arg crm_token "$crm_token" --arg reports_token "$reports_token" \
    --arg pw_admin "$pw_admin" --arg pw_manager "$pw_manager" --arg pw_dist "$pw_dist" \
    --argjson client_a "$client_a" --argjson client_b "$client_b" --argjson client_t "$client_t" \
    --arg key_1 "$key_1" --arg key_2 "$key_2" --arg key_3 "$key_3" --arg key_t "$key_t" \
    --arg coupon_used "$coupon_used" --arg coupon_free "$coupon_free" \
    --argjson batch "$(jq .batch <<<"$batch")" \
    --arg lease_ivan_1 "$lease_ivan_1" --arg lease_ivan_2 "$lease_ivan_2" \
    --arg lease_maria "$lease_maria" --arg lease_render_1 "$lease_render_1" \
    --arg lease_render_2 "$lease_render_2" --arg lease_view "$lease_view" \
    --arg lease_erp "$lease_erp" --arg lease_trial "$lease_trial" \
    --argjson answers "$answers" \
    '{made_by: "scripts/make-upgrade-fixture.sh", commit: $commit, schema: 3,
      made_at: $made_at, day: $day,
      tokens: {crm: {secret: $crm_token, role: "admin"},
               reports: {secret: $reports_token, role: "manager"},
               revoked: "old-bot"},
      users: [{login: "olga", role: "admin", password: $pw_admin, distributor: ""},
              {login: "anna", role: "manager", password: $pw_manager, distributor: ""},
              {login: "p1-user", role: "distributor", password: $pw_dist, distributor: "p1"}],
      distributor: {code: "p1", name: "Partner One", email: "p1@partner.test"},
      clients: {a: $client_a, b: $client_b, trial: $client_t},
      keys: {k1: $key_1, k2: $key_2, k3: $key_3, trial: $key_t},
      trial_host: "trial-pc",
      coupons: {batch: $batch, activated: $coupon_used, activated_on: $key_1, unused: $coupon_free},
      leases: {ivan_1: $lease_ivan_1, ivan_2: $lease_ivan_2, maria: $lease_maria,
               render_1: $lease_render_1, view: $lease_view, erp: $lease_erp,
               trial: $lease_trial},
      released: $lease_render_2,
      binding: {key: $key_1, feature: 102, host: "render-2"},
      outbox_to: "ivan@romashka.test",
      usage_note: "per key and feature on `day`, as the captures above make them (no usage endpoint in schema 3 to ask)",
      usage: {k1: [{feature: 101, captures: 3, denials: 0, peak: 2},
                   {feature: 102, captures: 2, denials: 0, peak: 2},
                   {feature: 201, captures: 1, denials: 0, peak: 1},
                   {feature: 999, captures: 0, denials: 1, peak: 0}],
              k2: [{feature: 103, captures: 1, denials: 1, peak: 1}],
              k3: [{feature: 201, captures: 0, denials: 1, peak: 0}],
              trial: [{feature: 101, captures: 1, denials: 0, peak: 1}]},
      answers: $answers}' >"$out/schema3.json"

say "wrote $out/schema3.redb ($(stat -c %s "$out/schema3.redb") bytes) and schema3.json in $(($(date +%s) - started)) s"
