#!/usr/bin/env python3
"""benchwatch's measurement engine side by side with ab, wrk, curl and wget, in one run.

Starts a real nginx on loopback (tests/servers/nginx.sh) and measures, on the same server:
  page:     benchwatch run -k -c 10 vs ab -k -c 10 and wrk -c 10: requests/s, and CPU seconds
            (user + sys of the client process) per 10,000 requests
  download: benchwatch run --download vs curl -o /dev/null and wget -O /dev/null of one file:
            MB/s (10^6 bytes/s)
Each figure is the median of --repeat runs. Prints the table and benchwatch's ratios.

usage: bench/engine.py [--build DIR] [--requests N] [--size 1G] [--repeat 5]
Needs: nginx-light, apache2-utils (ab), wrk, curl, wget (apt-get install ...).
"""
import argparse
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def timed(cmd):
    """Runs cmd; returns (stdout, wall seconds, CPU seconds of the child)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.monotonic()
    p = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.monotonic() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if p.returncode != 0:
        sys.exit("%s failed (%d): %s" % (cmd[0], p.returncode, p.stderr.strip()[:300]))
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return p.stdout + p.stderr, wall, cpu


def page_benchwatch(cli, url, n):
    out, wall, cpu = timed([cli, "run", "-k", "-c", "10", "-n", str(n), url])
    rps = float(re.search(r"Requests per second:\s+([\d.]+)", out).group(1))
    failed = int(re.search(r"Failed requests:\s+(\d+)", out).group(1))
    return rps, cpu / n * 10000, failed


def page_ab(url, n):
    out, wall, cpu = timed(["ab", "-q", "-k", "-c", "10", "-n", str(n), url])
    rps = float(re.search(r"Requests per second:\s+([\d.]+)", out).group(1))
    failed = int(re.search(r"Failed requests:\s+(\d+)", out).group(1))
    return rps, cpu / n * 10000, failed


def page_wrk(url, seconds):
    out, wall, cpu = timed(["wrk", "-t", "1", "-c", "10", "-d", "%ds" % seconds, url])
    total = int(re.search(r"(\d+) requests in", out).group(1))
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    return rps, cpu / total * 10000, 0


def download(cmd, size):
    out, wall, cpu = timed(cmd)
    return size / wall / 1e6


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--requests", type=int, default=50000)
    ap.add_argument("--size", default="1G")
    ap.add_argument("--repeat", type=int, default=5)
    a = ap.parse_args()
    cli = os.path.join(a.build, "daemon", "benchwatch")
    for tool in ("ab", "wrk", "curl", "wget"):
        if not shutil.which(tool):
            sys.exit("%s is missing: apt-get install apache2-utils wrk curl wget" % tool)
    d = tempfile.mkdtemp(prefix="bw-bench-")
    port = subprocess.run([os.path.join(ROOT, "tests", "servers", "nginx.sh"), "start", d, a.size],
                          check=True, capture_output=True, text=True).stdout.strip()
    try:
        page = "http://127.0.0.1:%s/index.html" % port
        big = "http://127.0.0.1:%s/big.bin" % port
        size = os.path.getsize(os.path.join(d, "www", "big.bin"))
        wrk_s = 3
        rows = {"benchwatch": [], "ab": [], "wrk": []}
        for _ in range(a.repeat):  # interleaved, so drift on the machine hits all alike
            rows["benchwatch"].append(page_benchwatch(cli, page, a.requests))
            rows["ab"].append(page_ab(page, a.requests))
            rows["wrk"].append(page_wrk(page, wrk_s))
        med = {k: (statistics.median(r[0] for r in v), statistics.median(r[1] for r in v),
                   max(r[2] for r in v)) for k, v in rows.items()}
        dl = {"benchwatch": [], "curl": [], "wget": []}
        for _ in range(a.repeat):
            dl["benchwatch"].append(download([cli, "run", "--download", "--max-time", "1h", big],
                                             size))
            dl["curl"].append(download(["curl", "-s", "-o", "/dev/null", big], size))
            dl["wget"].append(download(["wget", "-q", "-O", "/dev/null", big], size))
        dmed = {k: statistics.median(v) for k, v in dl.items()}
    finally:
        subprocess.run([os.path.join(ROOT, "tests", "servers", "nginx.sh"), "stop", d])
        shutil.rmtree(d, ignore_errors=True)

    print("Page: %d requests (wrk: %d s), concurrency 10, keep-alive, nginx on loopback, "
          "median of %d" % (a.requests, wrk_s, a.repeat))
    print("  %-11s %12s %22s %8s" % ("tool", "requests/s", "CPU s / 10k requests", "failed"))
    for k, (rps, cpu, failed) in med.items():
        print("  %-11s %12.0f %22.3f %8d" % (k, rps, cpu, failed))
    print("Download: %d bytes, median of %d; MB/s = 10^6 bytes/s" % (size, a.repeat))
    for k, v in dmed.items():
        print("  %-11s %10.1f MB/s" % (k, v))
    b = med["benchwatch"]
    print("Ratios (benchwatch / other):")
    print("  requests/s      vs ab %.2f (target >= 1.00), vs wrk %.2f" % (
        b[0] / med["ab"][0], b[0] / med["wrk"][0]))
    print("  CPU per request vs ab %.2f (target <= 1.50), vs wrk %.2f" % (
        b[1] / med["ab"][1], b[1] / med["wrk"][1]))
    print("  download MB/s   vs curl %.2f (target >= 0.95), vs wget %.2f (target >= 1.00)" % (
        dmed["benchwatch"] / dmed["curl"], dmed["benchwatch"] / dmed["wget"]))


if __name__ == "__main__":
    main()
