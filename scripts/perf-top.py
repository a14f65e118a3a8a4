#!/usr/bin/env python3
"""Where a server's CPU went, from a `perf record` file (issue 16).

    scripts/perf-top.py /tmp/prof/signing-key.data [N]

Prints the share of samples by part (self time of the sampled function, so no call
graph is needed: Ed25519, TLS, kernel, allocator, HTTP, licd's own code...) and the N
(default 15) costliest functions. Needs `perf` on PATH.
"""
import re
import subprocess
import sys
from collections import defaultdict

# First match wins; a function is put in the part its name says it belongs to.
PARTS = [
    ("Ed25519 signature (curve25519, SHA-512)", r"curve25519|ed25519|sha2::sha512|subtle::"),
    ("TLS (rustls, aws-lc)", r"rustls|aws_lc|aws-lc|\bring::"),
    ("kernel: network (loopback, both ends)", r"^\[k\] .*(tcp|ip_|skb|sock|net|dev_|inet|napi|__sys_(send|recv)|recv|writev|sendmsg|softirq)"),
    ("kernel: scheduling, wake-ups, syscalls", r"^\[k\] "),
    ("allocator, memcpy", r"\bmi_|_mi_|memmove|memcpy|memset|malloc|free\b"),
    ("HTTP (actix-http, router, regex)", r"actix_http|actix_router|actix_web|regex|httparse|http::header"),
    ("async runtime (tokio, futures)", r"tokio|futures|mio::|actix_rt|actix_server"),
    ("JSON (serde_json)", r"serde_json|serde::"),
    ("store (redb, bincode, redo log)", r"redb::|bincode|crc32|licd::store"),
    ("licd", r"licd::"),
]


def main() -> None:
    path = sys.argv[1]
    top = int(sys.argv[2]) if len(sys.argv) > 2 else 15
    out = subprocess.run(
        ["perf", "report", "-i", path, "--no-children", "--sort", "symbol",
         "-g", "none", "--stdio", "--percent-limit", "0"],
        capture_output=True, text=True, check=True,
    ).stdout
    rows = []
    for line in out.splitlines():
        m = re.match(r"\s*([\d.]+)%\s+(\[.\] .*?)\s*$", line)
        if m:
            rows.append((float(m.group(1)), m.group(2)))
    parts = defaultdict(float)
    for pct, sym in rows:
        name = next((n for n, rx in PARTS if re.search(rx, sym)), "other")
        parts[name] += pct
    print(f"| part | share of samples |\n| --- | --- |")
    for name, pct in sorted(parts.items(), key=lambda kv: -kv[1]):
        print(f"| {name} | {pct:.1f} % |")
    print(f"\n| function (self) | share |\n| --- | --- |")
    for pct, sym in rows[:top]:
        sym = re.sub(r"\s+-\s+-\s*$", "", sym)
        if len(sym) > 110:
            sym = sym[:107] + "..."
        print(f"| `{sym}` | {pct:.2f} % |")


if __name__ == "__main__":
    main()
