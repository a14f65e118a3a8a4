#!/usr/bin/env bash
# Builds the .deb and proves it in this machine (systemd not running, as in a
# container): lintian (no errors), the unit's systemd-analyze exposure (<= 2.5),
# dpkg -i (user, modes, the first-admin link printed), licd serve started from the
# installed config as the licd user (/healthz, the setup link opens), an upgrade over
# itself (data and a changed config kept), dpkg -r (data and config stay), dpkg -P
# (all gone). Needs root (dpkg). Installs cargo-deb, lintian and systemd's analyzer
# when missing.
set -euo pipefail
cd "$(dirname "$0")/.."
say() { printf '\n== %s\n' "$*"; }
fail() { echo "deb-check: FAIL: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || fail "run as root (dpkg -i)"

need=""
command -v lintian >/dev/null || need="$need lintian"
command -v systemd-analyze >/dev/null || need="$need systemd"
command -v curl >/dev/null || need="$need curl"
if [ -n "$need" ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $need
fi
command -v cargo-deb >/dev/null || cargo install cargo-deb --locked --version '^3.8'

say "build"
# SKIP_BUILD=1 packs the binary already built (while working on the package). PROFILE
# picks the cargo profile: release (default, what ships) or ci (no LTO, what CI checks).
PROFILE=${PROFILE:-release}
[ -n "${SKIP_BUILD:-}" ] || cargo build --profile "$PROFILE" --locked
cargo deb --no-build --locked --strip --profile "$PROFILE"
deb=$(ls -t target/debian/licd_*.deb | head -1)
echo "$deb ($(du -h "$deb" | cut -f1))"
dpkg-deb --info "$deb" | sed -n '1,40p'
dpkg-deb --contents "$deb"

say "lintian"
lintian --no-tag-display-limit --fail-on error "$deb" | tee target/debian/lintian.txt || fail "lintian reports errors"

say "systemd-analyze security (offline)"
unit=$(mktemp -d)/licd.service
cp packaging/deb/licd.service "$unit"
systemd-analyze security --offline=true --threshold=25 "$unit" | tail -1 | tee target/debian/exposure.txt
exposure=$(grep -o 'level for licd.service: [0-9.]*' target/debian/exposure.txt | awk '{print $NF}')
awk -v e="$exposure" 'BEGIN { exit !(e <= 2.5) }' || fail "exposure $exposure > 2.5"

# A clean slate (an earlier run that stopped half-way).
dpkg -P licd >/dev/null 2>&1 || true
rm -rf /var/lib/licd /etc/licd

say "install"
dpkg -i "$deb" | tee target/debian/install.txt
[ -x /usr/bin/licd ] || fail "/usr/bin/licd"
/usr/bin/licd --version
getent passwd licd >/dev/null || fail "no licd user"
[ "$(stat -c '%a %U:%G' /var/lib/licd)" = "700 licd:licd" ] || fail "/var/lib/licd is $(stat -c '%a %U:%G' /var/lib/licd)"
[ "$(stat -c '%a %U:%G' /etc/licd/licd.toml)" = "640 root:licd" ] || fail "licd.toml is $(stat -c '%a %U:%G' /etc/licd/licd.toml)"
[ -f /lib/systemd/system/licd.service ] || [ -f /usr/lib/systemd/system/licd.service ] || fail "no unit installed"
[ -L /etc/systemd/system/multi-user.target.wants/licd.service ] || fail "the unit is not enabled"
link=$(grep -o 'https://[^ ]*/setup/[0-9a-f]*' target/debian/install.txt | head -1)
[ -n "$link" ] || fail "postinst printed no first-admin link"
echo "postinst printed $link"
for f in /var/lib/licd/licd.redb /var/lib/licd/setup-link.txt /var/lib/licd/signing.key; do
  [ "$(stat -c '%a %U' "$f")" = "600 licd" ] || fail "$f is $(stat -c '%a %U' "$f")"
done

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
start() {
  runuser -u licd -- /usr/bin/licd serve --config /etc/licd/licd.toml --listen "127.0.0.1:$port" \
    --public-url "https://127.0.0.1:$port" > target/debian/serve.log 2>&1 &
  pid=$!
  for _ in $(seq 1 100); do
    curl -ksf "https://127.0.0.1:$port/healthz" >/dev/null && return 0
    sleep 0.1
  done
  cat target/debian/serve.log
  fail "licd did not answer /healthz"
}
stop() { kill "$pid"; wait "$pid" || true; }

say "serve as the licd user from the installed config"
start
echo "healthz: $(curl -ks "https://127.0.0.1:$port/healthz" -o /dev/null -w '%{http_code}')"
grep -q "certificate SHA-256 fingerprint" target/debian/serve.log || fail "no fingerprint printed"
now=$(runuser -u licd -- /usr/bin/licd setup-link --config /etc/licd/licd.toml)
echo "setup-link: $now"
[ "${now##*/setup/}" = "${link##*/setup/}" ] || fail "the running server changed the postinst's link"
page=$(curl -ks "https://127.0.0.1:$port/setup/${link##*/setup/}")
echo "$page" | grep -q "Create the first administrator\|Создание первого администратора" || fail "the setup link does not open"
stop

say "upgrade (the same .deb again): data and a changed config stay"
echo "# changed by the admin" >> /etc/licd/licd.toml
db_before=$(stat -c '%i %s' /var/lib/licd/licd.redb)
dpkg -i --force-confold "$deb" | tee target/debian/upgrade.txt
grep -q "changed by the admin" /etc/licd/licd.toml || fail "the upgrade replaced the config"
[ -f /var/lib/licd/licd.redb ] || fail "the upgrade lost the database"
echo "database before $db_before, after $(stat -c '%i %s' /var/lib/licd/licd.redb)"
start
stop

say "remove: data and config stay"
dpkg -r licd
[ ! -e /usr/bin/licd ] || fail "/usr/bin/licd is still there"
[ -f /var/lib/licd/licd.redb ] || fail "remove deleted the data"
[ -f /etc/licd/licd.toml ] || fail "remove deleted the config"
dpkg -l licd | tail -1

say "purge: all gone"
dpkg -P licd
[ ! -e /var/lib/licd ] || fail "/var/lib/licd is still there"
[ ! -e /etc/licd ] || fail "/etc/licd is still there"
! getent passwd licd >/dev/null || fail "the licd user is still there"
echo "deb-check: OK ($deb, lintian: $(grep -c '^E:' target/debian/lintian.txt || true) errors, $(grep -c '^W:' target/debian/lintian.txt || true) warnings, exposure $exposure)"
