#!/bin/sh
# Debian packages the tests drive when they are missing: pebble (an ACME CA) and its
# DNS, for the ACME test. The browser is scripts/install-browser.sh.
set -eu
need=""
[ -x /usr/bin/pebble ] || need="$need pebble"
[ -n "$need" ] || exit 0
SUDO=""
[ "$(id -u)" = 0 ] || SUDO=sudo
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq $need
