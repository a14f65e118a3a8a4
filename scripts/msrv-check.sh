#!/usr/bin/env bash
# The build floor: fails when a dependency declares a `rust-version` above licd's own
# (Cargo.toml), since older toolchains cannot be fetched here to try them. Prints the
# dependencies that set the floor.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo metadata --format-version 1 --locked 2>/dev/null | python3 -c '
import json, sys
meta = json.load(sys.stdin)
def ver(v):
    parts = [int(p) for p in v.split(".")]
    return tuple(parts + [0] * (3 - len(parts)))
root = next(p for p in meta["packages"] if p["id"] == meta["resolve"]["root"])
ours = root.get("rust_version")
if not ours:
    sys.exit("licd: Cargo.toml has no rust-version")
deps = sorted(
    ((ver(p["rust_version"]), p["name"], p["version"], p["rust_version"])
     for p in meta["packages"] if p.get("rust_version") and p["id"] != root["id"]),
    reverse=True)
print(f"licd rust-version: {ours}")
print("highest rust-version among dependencies:")
for _, name, v, rv in deps[:5]:
    print(f"  {name} {v}: {rv}")
over = [d for d in deps if d[0] > ver(ours)]
if over:
    for _, name, v, rv in over:
        print(f"error: {name} {v} needs Rust {rv}, above licd'"'"'s {ours}", file=sys.stderr)
    sys.exit(1)
print("ok: no dependency needs a newer Rust than licd says")
'
