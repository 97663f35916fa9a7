#!/usr/bin/env python3
"""benchwatch's measurement engines side by side with ab, wrk, curl and wget, in one run.

Starts a real nginx on loopback (tests/servers/nginx.sh) and measures, on the same server:
  page:     benchwatch run --engine lean and --engine curl vs ab (and wrk at c=10 keep-alive):
            requests/s, CPU seconds (user + sys of the client process) per 10,000 requests and
            the mean time per request, at c=10 with and without keep-alive, c=1 keep-alive and
            TLS c=10 keep-alive (without keep-alive and at c=1, a fifth of the requests)
  threads:  c=20 keep-alive against a second nginx with 2 workers: benchwatch --threads 2 vs
            --threads 1 (both engines), beside ab and wrk -t 1 / -t 2 on the same server
  download: benchwatch run --download vs curl -o /dev/null and wget -O /dev/null of one file:
            MB/s (10^6 bytes/s)
Each figure is the median of --repeat runs. Prints the table and benchwatch's ratios.

usage: bench/engine.py [--build DIR] [--requests N] [--size 1G] [--repeat 5] [--no-download]
                       [--only threads|page|download]
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


def ab_figures(out):
    rps = float(re.search(r"Requests per second:\s+([\d.]+)", out).group(1))
    failed = int(re.search(r"Failed requests:\s+(\d+)", out).group(1))
    mean_ms = float(re.search(r"Time per request:\s+([\d.]+) \[ms\] \(mean\)", out).group(1))
    return rps, failed, mean_ms


def page_benchwatch(cli, engine, url, n, c, keep, threads=1):
    cmd = [cli, "run", "--engine", engine, "--insecure", "-c", str(c), "-n", str(n),
           "--threads", str(threads), url]
    out, wall, cpu = timed(cmd + (["-k"] if keep else []))
    rps, failed, mean_ms = ab_figures(out)
    return rps, cpu / n * 10000, failed, mean_ms * 1000


def page_ab(url, n, c, keep):
    out, wall, cpu = timed(["ab", "-q"] + (["-k"] if keep else []) +
                           ["-c", str(c), "-n", str(n), url])
    rps, failed, mean_ms = ab_figures(out)
    return rps, cpu / n * 10000, failed, mean_ms * 1000


def page_wrk(url, seconds, c, threads=1):
    out, wall, cpu = timed(["wrk", "-t", str(threads), "-c", str(c), "-d", "%ds" % seconds, url])
    total = int(re.search(r"(\d+) requests in", out).group(1))
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    return rps, cpu / total * 10000, 0, c / rps * 1e6


def download(cmd, size):
    out, wall, cpu = timed(cmd)
    return size / wall / 1e6


# (name, concurrency, keep-alive, TLS, wrk too, the figure the target is about)
SCENARIOS = [
    ("c=10 keep-alive", 10, True, False, True),
    ("c=10 new connection each", 10, False, False, False),
    ("c=1 keep-alive", 1, True, False, False),
    ("TLS c=10 keep-alive", 10, True, True, False),
]


def nginx(d, size, workers=1):
    env = dict(os.environ, NGINX_WORKERS=str(workers))
    return subprocess.run([os.path.join(ROOT, "tests", "servers", "nginx.sh"), "start", d, size],
                          check=True, capture_output=True, text=True, env=env).stdout.strip()


def threads_case(cli, url, n, repeat, wrk_s):
    """c=20 keep-alive: each engine on 1 and 2 threads, ab, wrk on 1 and 2 threads."""
    runs = {k: [] for k in ("lean -t1", "lean -t2", "curl -t1", "curl -t2", "ab", "wrk -t1",
                            "wrk -t2")}
    for _ in range(repeat):  # interleaved
        for engine in ("lean", "curl"):
            for t in (1, 2):
                runs["%s -t%d" % (engine, t)].append(
                    page_benchwatch(cli, engine, url, n, 20, True, threads=t))
        runs["ab"].append(page_ab(url, n, 20, True))
        for t in (1, 2):
            runs["wrk -t%d" % t].append(page_wrk(url, wrk_s, 20, threads=t))
    return {k: (statistics.median(r[0] for r in v), statistics.median(r[1] for r in v),
                max(r[2] for r in v), statistics.median(r[3] for r in v))
            for k, v in runs.items()}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--requests", type=int, default=50000)
    ap.add_argument("--size", default="1G")
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--no-download", action="store_true", help="page scenarios only")
    ap.add_argument("--only", choices=("page", "threads", "download"),
                    help="this part alone")
    a = ap.parse_args()
    if a.only and a.only != "download":
        a.no_download = True
    cli = os.path.join(a.build, "daemon", "benchwatch")
    for tool in ("ab", "wrk", "curl", "wget"):
        if not shutil.which(tool):
            sys.exit("%s is missing: apt-get install apache2-utils wrk curl wget" % tool)
    d = tempfile.mkdtemp(prefix="bw-bench-")
    d2 = tempfile.mkdtemp(prefix="bw-bench-2w-")
    port = nginx(d, a.size)
    port2 = nginx(d2, "1M", workers=2)
    tls_port = None
    if os.path.exists(os.path.join(d, "tls_port")):
        with open(os.path.join(d, "tls_port")) as f:
            tls_port = int(f.read())
    wrk_s = 3
    results = []
    tmed = None
    try:
        big = "http://127.0.0.1:%s/big.bin" % port
        size = os.path.getsize(os.path.join(d, "www", "big.bin"))
        for name, c, keep, tls, with_wrk in SCENARIOS:
            if a.only and a.only != "page":
                break
            if tls and not tls_port:
                continue
            page = ("https://127.0.0.1:%d/index.html" % tls_port if tls
                    else "http://127.0.0.1:%s/index.html" % port)
            n = a.requests // 5 if c == 1 or not keep else a.requests
            rows = {"lean": [], "curl": [], "ab": []}
            if with_wrk:
                rows["wrk"] = []
            for _ in range(a.repeat):  # interleaved, so drift on the machine hits all alike
                rows["lean"].append(page_benchwatch(cli, "lean", page, n, c, keep))
                rows["curl"].append(page_benchwatch(cli, "curl", page, n, c, keep))
                rows["ab"].append(page_ab(page, n, c, keep))
                if with_wrk:
                    rows["wrk"].append(page_wrk(page, wrk_s, c))
            med = {k: (statistics.median(r[0] for r in v), statistics.median(r[1] for r in v),
                       max(r[2] for r in v), statistics.median(r[3] for r in v))
                   for k, v in rows.items()}
            results.append((name, n, med))
        if not a.only or a.only == "threads":
            tmed = threads_case(cli, "http://127.0.0.1:%s/index.html" % port2, a.requests,
                                a.repeat, wrk_s)
        dmed = None
        if not a.no_download:
            dl = {"benchwatch": [], "curl": [], "wget": []}
            for _ in range(a.repeat):
                dl["benchwatch"].append(download(
                    [cli, "run", "--download", "--max-time", "1h", big], size))
                dl["curl"].append(download(["curl", "-s", "-o", "/dev/null", big], size))
                dl["wget"].append(download(["wget", "-q", "-O", "/dev/null", big], size))
            dmed = {k: statistics.median(v) for k, v in dl.items()}
    finally:
        for x in (d, d2):
            subprocess.run([os.path.join(ROOT, "tests", "servers", "nginx.sh"), "stop", x])
            shutil.rmtree(x, ignore_errors=True)

    print("Page: nginx on loopback, 9.8 KB page, median of %d; lean and curl are benchwatch's two "
          "engines (--engine)" % a.repeat)
    for name, n, med in results:
        print("%s, %d requests (wrk: %d s)" % (name, n, wrk_s))
        print("  %-6s %12s %22s %18s %8s" % ("tool", "requests/s", "CPU s / 10k requests",
                                             "mean µs/request", "failed"))
        for k, (rps, cpu, failed, mean_us) in med.items():
            print("  %-6s %12.0f %22.3f %18.1f %8d" % (k, rps, cpu, mean_us, failed))
        ab = med["ab"]
        for k in ("lean", "curl"):
            b = med[k]
            print("  %-4s vs ab: requests/s %.2f, CPU per request %.2f, mean time per request "
                  "%+.1f µs" % (k, b[0] / ab[0], b[1] / ab[1], b[3] - ab[3]))
    if tmed:
        print("Threads: c=20 keep-alive, %d requests (wrk: %d s), nginx with 2 workers; %d cores "
              "here, shared by client and server" % (a.requests, wrk_s, os.cpu_count()))
        print("  %-8s %12s %22s %18s %8s" % ("tool", "requests/s", "CPU s / 10k requests",
                                               "mean µs/request", "failed"))
        for k, (rps, cpu, failed, mean_us) in tmed.items():
            print("  %-8s %12.0f %22.3f %18.1f %8d" % (k, rps, cpu, mean_us, failed))
        for k in ("lean", "curl", "wrk"):
            print("  %-4s threads 2 vs 1: requests/s %.2f, CPU per request %.2f" % (
                k, tmed[k + " -t2"][0] / tmed[k + " -t1"][0],
                tmed[k + " -t2"][1] / tmed[k + " -t1"][1]))
        print("  lean -t2 vs ab: requests/s %.2f; vs wrk -t2: %.2f" % (
            tmed["lean -t2"][0] / tmed["ab"][0], tmed["lean -t2"][0] / tmed["wrk -t2"][0]))
    if dmed:
        print("Download: %d bytes, median of %d; MB/s = 10^6 bytes/s" % (size, a.repeat))
        for k, v in dmed.items():
            print("  %-11s %10.1f MB/s" % (k, v))
        print("  download MB/s vs curl %.2f (target >= 0.95), vs wget %.2f" % (
            dmed["benchwatch"] / dmed["curl"], dmed["benchwatch"] / dmed["wget"]))
    print("Targets (lean vs ab): requests/s >= 1.00 and CPU per request <= 1.10 at c=10 with and "
          "without keep-alive; mean time per request within +10 µs at c=1; TLS: requests/s >= "
          "1.00, CPU <= 1.20")


if __name__ == "__main__":
    main()
