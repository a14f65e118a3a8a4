#!/usr/bin/env python3
"""Throughput against connections: runs `licd bench --json` at several connection
counts against a running server and draws docs/throughput.svg (no plotting library
needed), with the raw numbers in docs/throughput.csv.

    scripts/plot-connections.py --server https://127.0.0.1:8443 --token T --insecure
"""
import argparse, csv, json, os, subprocess, sys

p = argparse.ArgumentParser()
p.add_argument("--licd", default="target/release/licd")
p.add_argument("--server", default="https://127.0.0.1:8443")
p.add_argument("--token", required=True)
p.add_argument("--insecure", action="store_true")
p.add_argument("--duration", type=int, default=5)
p.add_argument("--connections", default="1,2,4,8,16,32,64,128")
p.add_argument("--phases", default="noop,ping,capture,heartbeat")
p.add_argument("--out", default="docs")
a = p.parse_args()

rows = []
for c in [int(x) for x in a.connections.split(",")]:
    cmd = [a.licd, "bench", "--server", a.server, "--token", a.token, "--json",
           "-c", str(c), "-d", str(a.duration), "--phases", a.phases, "--keys", "1000", "--seats", "1000"]
    if a.insecure:
        cmd.append("--insecure")
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    rep = json.loads(out)
    for ph in rep["phases"]:
        for op in ph["ops"]:
            if op["op"] == ph["phase"]:
                rows.append({"connections": c, "op": op["op"], "rps": round(op["rps"]),
                             "p50_ms": op["p50_ms"], "p99_ms": op["p99_ms"]})
                print(f"{c:4d} {op['op']:10s} {op['rps']:9.0f} req/s  p99 {op['p99_ms']:.2f} ms", file=sys.stderr)

os.makedirs(a.out, exist_ok=True)
with open(os.path.join(a.out, "throughput.csv"), "w", newline="") as f:
    w = csv.DictWriter(f, fieldnames=["connections", "op", "rps", "p50_ms", "p99_ms"])
    w.writeheader()
    w.writerows(rows)

W, H, L, R, T, B = 720, 420, 70, 130, 40, 50
conns = sorted({r["connections"] for r in rows})
ops = [o for o in a.phases.split(",") if any(r["op"] == o for r in rows)]
ymax = max(r["rps"] for r in rows) * 1.1 or 1
def x(c): return L + (W - L - R) * conns.index(c) / max(1, len(conns) - 1)
def y(v): return H - B - (H - T - B) * v / ymax
colors = ["#555", "#d9480f", "#1971c2", "#2f9e44", "#ae3ec9"]
svg = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" font-family="sans-serif" font-size="12">',
       f'<rect width="{W}" height="{H}" fill="white"/>',
       f'<text x="{W/2}" y="22" text-anchor="middle" font-size="15">licd: throughput against keep-alive connections</text>']
for i in range(6):
    v = ymax * i / 5
    svg.append(f'<line x1="{L}" x2="{W-R}" y1="{y(v):.1f}" y2="{y(v):.1f}" stroke="#eee"/>')
    svg.append(f'<text x="{L-6}" y="{y(v)+4:.1f}" text-anchor="end">{v:,.0f}</text>')
for c in conns:
    svg.append(f'<text x="{x(c):.1f}" y="{H-B+18}" text-anchor="middle">{c}</text>')
svg.append(f'<text x="{(L+W-R)/2}" y="{H-10}" text-anchor="middle">connections</text>')
svg.append(f'<text x="16" y="{(T+H-B)/2}" transform="rotate(-90 16 {(T+H-B)/2})" text-anchor="middle">requests / s</text>')
for k, op in enumerate(ops):
    pts = [(x(r["connections"]), y(r["rps"])) for r in rows if r["op"] == op]
    col = colors[k % len(colors)]
    svg.append(f'<polyline fill="none" stroke="{col}" stroke-width="2" points="{" ".join(f"{px:.1f},{py:.1f}" for px, py in pts)}"/>')
    for px, py in pts:
        svg.append(f'<circle cx="{px:.1f}" cy="{py:.1f}" r="3" fill="{col}"/>')
    svg.append(f'<rect x="{W-R+15}" y="{T+20*k}" width="12" height="12" fill="{col}"/>')
    svg.append(f'<text x="{W-R+32}" y="{T+20*k+10}">{op}</text>')
svg.append("</svg>")
with open(os.path.join(a.out, "throughput.svg"), "w") as f:
    f.write("\n".join(svg))
print(f"wrote {a.out}/throughput.svg and {a.out}/throughput.csv", file=sys.stderr)
