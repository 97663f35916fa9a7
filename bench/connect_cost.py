#!/usr/bin/env python3
"""What a connect test costs the monitoring host: CPU per connection and per handshake.

Runs `benchwatch run --connect` against a local nginx (tests/servers/nginx.sh), plain and TLS,
and reads the client's CPU time (user + sys) from the kernel. From it: the share of one core a
fleet of FLEET backends costs with a connect test of REQUESTS connections every minute each.
Target: 100 backends x 20 connections a minute, over https, under 5 % of one core.

usage: bench/connect_cost.py [--build DIR] [--requests 2000] [--concurrency 10] [--fleet 100]
"""
import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NGINX_SH = os.path.join(ROOT, "tests", "servers", "nginx.sh")


def children_cpu():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def one(cli, url, n, c):
    before = children_cpu()
    p = subprocess.run([cli, "run", "--connect", "--json", "--insecure", "-n", str(n), "-c",
                        str(c), url], capture_output=True, text=True, check=True)
    cpu = children_cpu() - before
    run = json.loads(p.stdout)
    if run["complete"] != n:
        sys.exit("%s: %d of %d connections" % (url, run["complete"], n))
    return cpu, run


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--requests", type=int, default=2000)
    ap.add_argument("--concurrency", type=int, default=10)
    ap.add_argument("--fleet", type=int, default=100)
    ap.add_argument("--per-run", type=int, default=20, help="connections per run in the fleet")
    a = ap.parse_args()
    cli = os.path.join(a.build, "daemon", "benchwatch")
    d = tempfile.mkdtemp(prefix="bw-connect-bench-")
    port = int(subprocess.run([NGINX_SH, "start", d, "1K"], check=True, capture_output=True,
                              text=True).stdout.strip())
    try:
        with open(os.path.join(d, "tls_port")) as f:
            tls_port = int(f.read())
        print("%-6s %8s %10s %12s %12s %12s %12s" % ("", "conns", "conn/s", "connect p50",
                                                   "TLS p50", "CPU/conn", "fleet CPU"))
        for name, url in (("http", "http://127.0.0.1:%d/" % port),
                          ("https", "https://localhost:%d/" % tls_port)):
            one(cli, url, a.concurrency, a.concurrency)  # warm up: the binary and the caches
            cpu, run = one(cli, url, a.requests, a.concurrency)
            per = cpu / a.requests
            share = per * a.fleet * a.per_run / 60
            print("%-6s %8d %10.0f %9.3f ms %12s %9.1f us %10.2f %%"
                  % (name, a.requests, run["rps"], run["connect_p50_us"] / 1e3,
                     "%.3f ms" % (run["tls_p50_us"] / 1e3) if run["tls_p50_us"] else "-",
                     per * 1e6, share * 100))
        print("fleet CPU: %d backends x %d connections a minute, as a share of one core "
              "(the client's CPU, process start included)" % (a.fleet, a.per_run))
    finally:
        subprocess.run([NGINX_SH, "stop", d], check=True)
        subprocess.run(["rm", "-rf", d], check=True)


if __name__ == "__main__":
    main()
