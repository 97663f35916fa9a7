#!/usr/bin/env python3
"""benchwatchd's footprint: what an idle daemon costs, and how punctually it starts runs.

idle:  100 targets, none due during the measurement: CPU time (user + sys) of the daemon over
       60 s as a share of one core, and its resident memory (VmRSS now, VmHWM peak).
       Targets: CPU <= 0.5 % of one core, RSS <= 16 MB.
lag:   40 targets every 5 s with offsets 100 ms apart against a local nginx, for 30 s: the delay
       between each run's intended start (its aligned time) and its actual start, from the
       database. Target: mean <= 10 ms.

usage: bench/footprint.py [--build DIR] [--seconds 60]
"""
import argparse
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def memory_kb(pid):
    out = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(("VmRSS:", "VmHWM:")):
                out[line.split(":")[0]] = int(line.split()[1])
    return out


def start(daemon, config):
    p = subprocess.Popen([daemon, "--config", config], stderr=subprocess.DEVNULL)
    time.sleep(2)
    if p.poll() is not None:
        sys.exit("benchwatchd did not start")
    return p


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--seconds", type=int, default=60)
    a = ap.parse_args()
    daemon = os.path.join(a.build, "daemon", "benchwatchd")
    d = tempfile.mkdtemp(prefix="bw-footprint-")
    nginx_sh = os.path.join(ROOT, "tests", "servers", "nginx.sh")
    port = subprocess.run([nginx_sh, "start", os.path.join(d, "nginx"), "1M"], check=True,
                          capture_output=True, text=True).stdout.strip()
    try:
        # idle: hourly targets whose next time is at least a few minutes away
        now = time.time()
        offset = int((now % 3600 + 300) % 3600)
        config = os.path.join(d, "idle.yaml")
        with open(config, "w") as f:
            f.write("database: idle.db\ndefaults: {every: 1h, offset: %ds, jitter: 60s}\n"
                    "tests:\n" % offset)
            for i in range(100):
                kind = "download" if i % 4 == 0 else "page"
                f.write('  - {name: t%03d, kind: %s, url: "http://127.0.0.1:%s/index.html"}\n'
                        % (i, kind, port))
        p = start(daemon, config)
        c0 = cpu_seconds(p.pid)
        t0 = time.monotonic()
        time.sleep(a.seconds)
        cpu = cpu_seconds(p.pid) - c0
        wall = time.monotonic() - t0
        mem = memory_kb(p.pid)
        p.terminate()
        p.wait()

        # lag: runs due every 5 s, 100 ms apart, so none waits for another in the queue
        config = os.path.join(d, "lag.yaml")
        with open(config, "w") as f:
            f.write("database: lag.db\ndefaults: {every: 5s, jitter: 0}\ntests:\n")
            for i in range(40):
                f.write('  - {name: t%03d, kind: page, requests: 1, offset: %dms, '
                        'url: "http://127.0.0.1:%s/small.txt"}\n' % (i, i * 100, port))
        p = start(daemon, config)
        time.sleep(30)
        p.terminate()
        p.wait()
        con = sqlite3.connect(os.path.join(d, "lag.db"))
        lags = []
        for name, started in con.execute(
                "SELECT t.name, r.started_us FROM run r JOIN target t ON t.id = r.target_id"):
            off = int(name[1:]) * 100000
            intended = (started - off) // 5000000 * 5000000 + off
            lags.append((started - intended) / 1000.0)
        con.close()
    finally:
        subprocess.run([nginx_sh, "stop", os.path.join(d, "nginx")])
        subprocess.run(["rm", "-rf", d])

    share = cpu / wall * 100
    print("Idle, 100 targets, %.0f s:" % wall)
    print("  CPU %.3f s = %.3f %% of one core   (target <= 0.5 %%)" % (cpu, share))
    print("  RSS %.1f MB now, %.1f MB peak       (target <= 16 MB)" % (
        mem["VmRSS"] / 1024, mem["VmHWM"] / 1024))
    print("Start lag, %d runs of 40 targets every 5 s:" % len(lags))
    print("  mean %.2f ms, median %.2f ms, max %.2f ms   (target: mean <= 10 ms)" % (
        statistics.mean(lags), statistics.median(lags), max(lags)))


if __name__ == "__main__":
    main()
