#!/usr/bin/env python3
"""How long the status page takes to read and render, through a running daemon.

It imports generated history (a run every 10 minutes for 30 days; the last 40 runs of every
fourth target twice as slow, so regressions are open) for N page targets into a fresh database,
starts benchwatchd with the page on a loopback port, and times GET /, /target/ID and
/regression/ID (the median of 5 of each), with the page's size.

usage: bench/status_speed.py [--build DIR] [--targets 10,40]
"""
import argparse
import os
import shutil
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RUNS = 30 * 24 * 6


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def timed_get(url):
    t0 = time.monotonic()
    with urllib.request.urlopen(url, timeout=120) as r:
        body = r.read()
    return time.monotonic() - t0, len(body)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--targets", default="10,40")
    args = ap.parse_args()
    cli = os.path.join(args.build, "daemon", "benchwatch")
    daemon = os.path.join(args.build, "daemon", "benchwatchd")
    if not os.access(daemon, os.X_OK):
        sys.exit("no %s: build first (cmake --build build)" % daemon)
    print("%8s %8s  %10s %10s %10s  %s" % ("targets", "runs", "/ s", "target s", "regr. s",
                                           "/ bytes"))
    for n in [int(x) for x in args.targets.split(",")]:
        d = tempfile.mkdtemp(prefix="bw-status-bench-")
        proc = None
        try:
            port = free_port()
            cfg = os.path.join(d, "bw.yaml")
            now = int(time.time())
            offset = (now + 43200) % 86400  # no run of their own while timed
            with open(cfg, "w") as f:
                f.write("database: bw.db\nmetrics: {listen: \"127.0.0.1:%d\"}\ntests:\n" % port)
                for i in range(n):
                    f.write("  - {name: t%03d, kind: page, every: 1d, offset: %ds, jitter: 0,\n"
                            "     url: \"http://portal.example.test/%d\"}\n" % (i, offset, i))
            start = now - RUNS * 600
            for i in range(n):
                path = os.path.join(d, "t%03d.txt" % i)
                with open(path, "w") as f:
                    for k in range(RUNS):
                        slow = i % 4 == 0 and k >= RUNS - 40
                        f.write("%d %.3f\n" % (start + k * 600,
                                               98.0 * (2 if slow else 1) * (1 + 0.02 * (k % 5))))
                subprocess.run([cli, "import", "--config", cfg, "--test", "t%03d" % i, path],
                               check=True, capture_output=True)
            con = sqlite3.connect(os.path.join(d, "bw.db"))
            tid = con.execute("SELECT id FROM target ORDER BY id LIMIT 1").fetchone()[0]
            rid = con.execute("SELECT id FROM regression ORDER BY id LIMIT 1").fetchone()[0]
            con.close()
            log = open(os.path.join(d, "log"), "w")
            proc = subprocess.Popen([daemon, "--config", cfg], stderr=log)
            base = "http://127.0.0.1:%d" % port
            deadline = time.monotonic() + 30
            while True:
                try:
                    timed_get(base + "/metrics")
                    break
                except OSError:
                    if time.monotonic() > deadline:
                        sys.exit("the daemon did not start")
                    time.sleep(0.1)
            res = {}
            for name, path in (("index", "/"), ("target", "/target/%d" % tid),
                               ("regression", "/regression/%d" % rid)):
                times = []
                for _ in range(5):
                    t, size = timed_get(base + path)
                    times.append(t)
                res[name] = (statistics.median(times), size)
            print("%8d %8d  %10.3f %10.3f %10.3f  %d" % (n, n * RUNS, res["index"][0],
                                                         res["target"][0], res["regression"][0],
                                                         res["index"][1]))
            sys.stdout.flush()
        finally:
            if proc:
                proc.terminate()
                proc.wait(timeout=30)
            shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    main()
