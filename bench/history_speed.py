#!/usr/bin/env python3
"""How long the history commands take on long histories, through the real command line.

For each size (default: 2,000, 20,000, 200,000 and 525,600 minutely runs: a year of a test
every minute) it imports generated history into a fresh database with `benchwatch import` (which
judges it all, as the daemon would have), then times `benchwatch backtest`, `history --since 1d`
and `baseline`. The history has a regression near its end (x2 for its last 100 runs) so that the
replay has something to find; backtest must find exactly one opening.

usage: bench/history_speed.py [--build DIR] [--sizes 2000,20000,200000,525600]
"""
import argparse
import json
import math
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def timed(cmd):
    t0 = time.monotonic()
    p = subprocess.run(cmd, capture_output=True, text=True)
    if p.returncode != 0:
        sys.exit("%s failed (%d): %s" % (" ".join(cmd[:3]), p.returncode, p.stderr.strip()[:300]))
    return p.stdout, time.monotonic() - t0


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--sizes", default="2000,20000,200000,525600")
    args = ap.parse_args()
    cli = os.path.join(args.build, "daemon", "benchwatch")
    if not os.access(cli, os.X_OK):
        sys.exit("no %s: build first (cmake --build build)" % cli)
    rng = random.Random(1)
    print("%9s  %9s  %9s  %9s  %9s  %s" % ("runs", "import s", "backtest", "history", "baseline",
                                           "backtest found"))
    for n in [int(x) for x in args.sizes.split(",")]:
        d = tempfile.mkdtemp(prefix="bw-hist-")
        try:
            cfg = os.path.join(d, "bw.yaml")
            with open(cfg, "w") as f:
                f.write("database: bw.db\ntests:\n  - {name: home, kind: page, every: 1m,\n"
                        "     url: \"http://portal.example.test/\"}\n")
            now = int(time.time()) - 120
            start = now - n * 60
            path = os.path.join(d, "home.txt")
            with open(path, "w") as f:
                for i in range(n):
                    level = 98.0 * (2 if i >= n - 100 else 1)
                    f.write("%d %.3f\n" % (start + i * 60, level * math.exp(0.1 * rng.gauss(0, 1))))
            _, t_import = timed([cli, "import", "--config", cfg, "--test", "home", path])
            out, t_bt = timed([cli, "backtest", "--config", cfg, "home", "--json"])
            opened = json.loads(out)["opened"]
            _, t_hist = timed([cli, "history", "home", "--config", cfg, "--since", "1d"])
            _, t_base = timed([cli, "baseline", "home", "--config", cfg])
            print("%9d  %9.2f  %9.2f  %9.2f  %9.2f  %d opened" % (n, t_import, t_bt, t_hist,
                                                                 t_base, opened))
            sys.stdout.flush()
        finally:
            shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    main()
