#!/usr/bin/env bash
# Runs every test of licd: unit tests, the integration tests against the real server
# (real TLS, temp data dirs, an in-process SMTP sink), and the browser tests (headless
# Chromium over WebDriver, installed here when missing).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -x scripts/install-browser.sh ]; then
  scripts/install-browser.sh
fi
cargo test --all-targets "$@"
# Schemathesis against the OpenAPI document and a live server (issue 15). Skipped when
# arguments pick some tests only.
if [ $# -eq 0 ]; then
  scripts/schemathesis.sh target/debug/licd
fi
