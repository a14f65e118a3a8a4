#!/usr/bin/env python3
"""What a change costs the hot path: two builds of licd, alternated on fresh data
directories, driven by AFTER's `licd bench`.

1. Server CPU per request at a fixed rate (noop 20,000/s; capture, then heartbeat,
   8,000/s): CPU time of the server process (utime + stime from /proc/PID/stat) over
   seconds 2..11 of a phase, divided by the requests the bench counted in that window.
   Far less noisy than throughput on this shared 2-core box.
2. Throughput: `licd bench -c 64 -d 8 --phases noop,capture,heartbeat`.

    scripts/bench-overhead.py BEFORE_BINARY AFTER_BINARY [--rounds N] [--workdir DIR]
"""
import argparse, json, os, re, shutil, subprocess, sys, time

PORT = 9443
TICK = os.sysconf("SC_CLK_TCK")


def cpu_s(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


class Server:
    def __init__(self, binary, work):
        self.dir = os.path.join(work, "d")
        shutil.rmtree(self.dir, ignore_errors=True)
        self.token = subprocess.run(
            [binary, "token", "create", "--data", self.dir, "--name", "bench", "--role", "admin"],
            check=True, capture_output=True, text=True).stdout.strip()
        self.log = open(os.path.join(work, "serve.log"), "w+")
        self.proc = subprocess.Popen(
            [binary, "serve", "--data", self.dir, "--listen", f"127.0.0.1:{PORT}"],
            stderr=self.log, stdout=subprocess.DEVNULL, env={**os.environ, "LICD_LOG": "warn"})
        while True:
            self.log.seek(0)
            if "listening" in self.log.read():
                break
            time.sleep(0.02)

    def stop(self):
        self.proc.terminate()
        self.proc.wait()
        self.log.close()


def bench(binary, srv, args):
    return subprocess.Popen(
        [binary, "bench", "--server", f"https://127.0.0.1:{PORT}", "--token", srv.token,
         "--insecure", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def cpu_per_request(client, srv, args, phases, start=2, end=11):
    """µs of server CPU per request for each phase, over its seconds start..end."""
    p = bench(client, srv, args)
    marks, buf = {}, b""
    pat = re.compile(rb"\[(\w+)\] (\d+)/\d+ s: \d+ req/s, (\d+) requests")
    while True:
        c = p.stderr.read1(4096)
        if not c:
            break
        buf += c
        *parts, buf = re.split(rb"[\r\n]", buf)
        for part in parts:
            m = pat.search(part)
            if m and int(m.group(2)) in (start, end):
                marks[(m.group(1).decode(), int(m.group(2)))] = (cpu_s(srv.proc.pid), int(m.group(3)))
    p.wait()
    out = {}
    for ph in phases:
        (c0, n0), (c1, n1) = marks[(ph, start)], marks[(ph, end)]
        out[ph] = (c1 - c0) * 1e6 / (n1 - n0)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("before")
    ap.add_argument("after")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--workdir", default="/tmp/licd-overhead")
    a = ap.parse_args()
    os.makedirs(a.workdir, exist_ok=True)
    builds = {"before": os.path.realpath(a.before), "after": os.path.realpath(a.after)}
    client = builds["after"]
    print("== server CPU per request at a fixed rate (µs)")
    for r in range(1, a.rounds + 1):
        for name, b in builds.items():
            srv = Server(b, a.workdir)
            try:
                noop = cpu_per_request(client, srv, ["-c", "64", "-d", "12", "--keys", "10",
                                                     "--phases", "noop", "--rate", "20000"], ["noop"])
                ch = cpu_per_request(client, srv, ["-c", "64", "-d", "12", "--keys", "400",
                                                   "--phases", "capture,heartbeat", "--rate", "8000"],
                                     ["capture", "heartbeat"])
            finally:
                srv.stop()
            res = {**noop, **ch}
            print(f"round {r} {name:6}: " + "  ".join(f"{k} {v:.1f}" for k, v in res.items()), flush=True)
    print("== throughput, -c 64 -d 8 --phases noop,capture,heartbeat (req/s)")
    for r in range(1, a.rounds + 1):
        for name, b in builds.items():
            srv = Server(b, a.workdir)
            try:
                p = bench(client, srv, ["-c", "64", "-d", "8", "--phases", "noop,capture,heartbeat", "--json"])
                out, _ = p.communicate()
            finally:
                srv.stop()
            rep = json.loads(out)
            rps = {ph["phase"]: o for ph in rep["phases"] for o in ph["ops"] if o["op"] == ph["phase"]}
            print(f"round {r} {name:6}: " + "  ".join(
                f"{k} {v['rps']:.0f} (p99 {v['p99_ms']:.2f} ms)" for k, v in rps.items()), flush=True)


if __name__ == "__main__":
    sys.exit(main())
