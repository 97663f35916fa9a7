#!/usr/bin/env python3
"""Years of history at fleet size: every documented query, the CLI and start-up, timed.

history: generates a database of TARGETS targets (60 % page tests, the rest download tests
         with 5 backends each) that ran every hour for YEARS years up to the current hour (1000 x 3
         years: 26.3 million runs), straight in SQL with the sqlite3 CLI. The figures depend only
         on the target and the hour, so every generation holds the same runs, shifted to end now.
         Every 97th target has an open regression (its last 3 days twice as slow) and 0.5 % of
         the runs failed. The schema is benchwatch's own (sql/schema.sql); run_day is filled by
         migration 0007's own statement.
         Then it times every query of README's "Querying history with sqlite3" and of
         sql/queries.sql (the median of 3, warm cache, through the sqlite3 library), `benchwatch
         report`, `history`, `backtest`, `baseline`, `regressions`, and benchwatchd's start-up to
         READY=1, and prints the database's bytes per run and per object.
         Targets: every query under 100 ms, the report under 2 s, start-up under 1 s, at most
         200 bytes a run.
fleet:   benchwatchd with TARGETS tiny page tests (one request each) every minute against a local
         nginx, for MINUTES minutes on a fresh database: runs stored against the runs due,
         skipped turns and the scheduler's lag from /metrics, the daemon's CPU, and how long a
         /metrics scrape takes.

usage: bench/scale.py history [--build DIR] [--targets 1000] [--years 3] [--db PATH]
       bench/scale.py fleet [--build DIR] [--targets 1000] [--minutes 5]
--db keeps the database there, and one that exists is reused as it is (generating 26 million runs
takes about 6 minutes); without it, the database is made in a temporary directory and removed.
"""
import argparse
import os
import re
import resource
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
HOUR_US = 3600 * 1000000
TICK = os.sysconf("SC_CLK_TCK")
BACKENDS = 5


def target_names(n_targets):
    """(id, test, backend, kind) for every target, ids from 1."""
    rows = []
    n_page = n_targets * 6 // 10
    for i in range(n_page):
        rows.append((len(rows) + 1, "page-%04d" % i, "", "page"))
    d = 0
    while len(rows) < n_targets:
        for b in range(BACKENDS):
            if len(rows) == n_targets:
                break
            rows.append((len(rows) + 1, "dl-%04d" % d, "node-%d:8088" % (b + 1), "download"))
        d += 1
    return rows


# u(k): a uniform number in [0, 1) from the target (t), the hour (h) and k; no overflow in 64 bits.
def u(k):
    return ("(((t * 7919 + h * 104729 + %d * 15485863) * 2246822519) %% 4294967291) / 4294967291.0"
            % k)


def generate(db, n_targets, years, end_us):
    hours = int(years * 365 * 24)
    first_us = end_us - hours * HOUR_US
    schema = open(os.path.join(ROOT, "sql", "schema.sql")).read()
    mig = [f for f in sorted(os.listdir(os.path.join(ROOT, "sql", "migrations")))
           if f.endswith(".sql")]
    version = int(mig[-1][:4])
    rollup_mig = open(os.path.join(ROOT, "sql", "migrations", [m for m in mig if m.startswith(
        "0007")][0])).read()
    fill = rollup_mig[rollup_mig.index("-- The runs already stored"):
                      rollup_mig.index("-- One row per target and UTC day, read from run_day")]
    targets = target_names(n_targets)
    values = ",".join("(%d, '%s', '%s', '%s', 'http://127.0.0.1:9/%s', %d)"
                      % (i, name, be, kind, name, first_us) for i, name, be, kind in targets)
    n_page = sum(1 for t in targets if t[3] == "page")
    page_level = "(20000 + (t * 37 % 200) * 1000)"  # a target's usual median: 20 to 219 ms
    slow = "(CASE WHEN t % 97 = 0 AND h >= {0} THEN 2 ELSE 1 END)".format(hours - 72)
    p50 = "CAST({0} * {1} * (0.9 + 0.2 * {2}) AS INTEGER)".format(page_level, slow, u(1))
    rate = "CAST((10000000 + (t * 53 % 100) * 1000000) * (0.8 + 0.4 * {0}) AS INTEGER)".format(u(1))
    failed = "{0} < 0.005".format(u(2))
    script = """
PRAGMA journal_mode = OFF;
PRAGMA synchronous = OFF;
PRAGMA cache_size = -400000;
{schema}
PRAGMA user_version = {version};
DROP TRIGGER run_day_insert;
DROP TRIGGER run_day_delete;
DROP TRIGGER run_day_update;
DROP INDEX run_target_started;
DROP INDEX run_started;
DROP INDEX run_failed;
DROP INDEX run_target_failed;
INSERT INTO target (id, name, backend, kind, url, created_us) VALUES {values};
.timer on
-- pages
INSERT INTO run (target_id, started_us, duration_us, outcome, error_class, error_message, remote_ip,
                 remote_port, http_version, status, requests, complete, failed, failed_connect,
                 failed_receive, failed_length, failed_exception, non_2xx, bytes, html_bytes, rps,
                 min_us, mean_us, sd_us, p50_us, p90_us, p95_us, p99_us, max_us, mode_us,
                 connect_p50_us, ttfb_p50_us, rate_bps, ttfb_us, stall_us, min_rate_bps,
                 max_rate_bps, tcp_rtt_us, tcp_rttvar_us, tcp_retrans, tcp_pmtu, tcp_snd_mss,
                 tcp_rcv_mss, tcp_rcv_space, tcp_options, headers_us, last_byte_us,
                 end_silence_us, stalls, stall_first_at_us, stall_first_bytes, stall_longest_us,
                 tcp_rcv_rtt_us, tcp_rcv_rtt_max_us, tcp_advmss, tcp_bytes_received, tcp_segs_in,
                 tcp_rcv_ooopack, tcp_rcv_wnd_min, tcp_zero_window, tcp_rcvq_max, tcp_samples)
SELECT t, {first_us} + h * {hour} + t * 3600000 + CAST({u3} * 1000000 AS INTEGER),
       CASE WHEN f THEN 3000 ELSE 20 * p50 END,
       CASE WHEN f THEN 'failed' ELSE 'ok' END,
       CASE WHEN f THEN 'connect' END,
       CASE WHEN f THEN 'Failed to connect to 10.0.0.' || (t % 250) || ' port 443 after 3 ms: '
                        || 'Connection refused' END,
       '10.0.' || (t / 250) || '.' || (t % 250), 443, CASE WHEN f THEN NULL ELSE '2' END,
       CASE WHEN f THEN NULL ELSE 200 END,
       20, CASE WHEN f THEN 0 ELSE 20 END, CASE WHEN f THEN 20 ELSE 0 END,
       CASE WHEN f THEN 20 ELSE 0 END, 0, 0, 0, 0,
       CASE WHEN f THEN NULL ELSE 20 * 10578 END, CASE WHEN f THEN NULL ELSE 20 * 10240 END,
       CASE WHEN f THEN NULL ELSE round(1e6 / p50, 1) END,
       CASE WHEN f THEN NULL ELSE p50 * 8 / 10 END, CASE WHEN f THEN NULL ELSE p50 * 11 / 10 END,
       CASE WHEN f THEN NULL ELSE p50 / 5 END, CASE WHEN f THEN NULL ELSE p50 END,
       CASE WHEN f THEN NULL ELSE p50 * 13 / 10 END, CASE WHEN f THEN NULL ELSE p50 * 15 / 10 END,
       CASE WHEN f THEN NULL ELSE p50 * 2 END, CASE WHEN f THEN NULL ELSE p50 * 3 END,
       CASE WHEN f THEN NULL ELSE p50 * 98 / 100 END, CASE WHEN f THEN NULL ELSE 180 + t % 50 END,
       CASE WHEN f THEN NULL ELSE p50 * 8 / 10 END,
       NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL,
       NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL
FROM (SELECT h, t, {p50} AS p50, {failed} AS f
      FROM (SELECT h.value AS h, t.value AS t
            FROM generate_series(0, {hours_1}) AS h, generate_series(1, {n_page}) AS t));
-- downloads
INSERT INTO run (target_id, started_us, duration_us, outcome, error_class, error_message, remote_ip,
                 remote_port, http_version, status, bytes, rate_bps, ttfb_us, stall_us,
                 min_rate_bps, max_rate_bps, tcp_rtt_us, tcp_rttvar_us, tcp_snd_mss, tcp_rcv_mss,
                 tcp_rcv_space, tcp_options, headers_us, last_byte_us, end_silence_us, stalls,
                 tcp_rcv_rtt_us, tcp_rcv_rtt_max_us, tcp_advmss, tcp_bytes_received, tcp_segs_in,
                 tcp_rcv_ooopack, tcp_rcv_wnd_min, tcp_zero_window, tcp_rcvq_max, tcp_samples)
SELECT t, {first_us} + h * {hour} + t * 3600000 + CAST({u3} * 1000000 AS INTEGER),
       CASE WHEN f THEN 3000 ELSE 100000000000000 / rate END,
       CASE WHEN f THEN 'failed' ELSE 'ok' END, CASE WHEN f THEN 'connect' END,
       CASE WHEN f THEN 'Failed to connect to 10.1.0.' || (t % 250) || ' port 8088 after 3 ms: '
                        || 'Connection refused' END,
       '10.1.' || (t / 250) || '.' || (t % 250), 8088, CASE WHEN f THEN NULL ELSE '1.1' END,
       CASE WHEN f THEN NULL ELSE 200 END,
       CASE WHEN f THEN NULL ELSE 100000000 END, CASE WHEN f THEN NULL ELSE rate END,
       CASE WHEN f THEN NULL ELSE 1500 + t % 700 END, CASE WHEN f THEN NULL ELSE 0 END,
       CASE WHEN f THEN NULL ELSE rate * 6 / 10 END, CASE WHEN f THEN NULL ELSE rate * 13 / 10 END,
       CASE WHEN f THEN NULL ELSE 400 + t % 300 END, CASE WHEN f THEN NULL ELSE 120 END,
       CASE WHEN f THEN NULL ELSE 1448 END, CASE WHEN f THEN NULL ELSE 1448 END,
       CASE WHEN f THEN NULL ELSE 6291456 END, CASE WHEN f THEN NULL ELSE 'ts sack wscale' END,
       CASE WHEN f THEN NULL ELSE 1400 + t % 700 END,
       CASE WHEN f THEN NULL ELSE 100000000000000 / rate END, CASE WHEN f THEN NULL ELSE 0 END,
       CASE WHEN f THEN NULL ELSE 0 END,
       CASE WHEN f THEN NULL ELSE 900 + t % 500 END, CASE WHEN f THEN NULL ELSE 4000 + t % 900 END,
       CASE WHEN f THEN NULL ELSE 1448 END, CASE WHEN f THEN NULL ELSE 100000300 END,
       CASE WHEN f THEN NULL ELSE 69061 END, CASE WHEN f THEN NULL ELSE 0 END,
       CASE WHEN f THEN NULL ELSE 64240 END, CASE WHEN f THEN NULL ELSE 0 END,
       CASE WHEN f THEN NULL ELSE 131072 + t % 4096 END,
       CASE WHEN f THEN NULL ELSE 1 + 100000000000 / rate END
FROM (SELECT h, t, {rate} AS rate, {failed} AS f
      FROM (SELECT h.value AS h, t.value AS t FROM generate_series(0, {hours_1}) AS h,
            generate_series({n_page_1}, {n_targets}) AS t));
-- the indexes and triggers back, then run_day as migration 0007 fills it
SELECT 'indexes';
CREATE INDEX run_target_started ON run (target_id, started_us);
CREATE INDEX run_started ON run (started_us);
CREATE INDEX run_failed ON run (started_us) WHERE outcome = 'failed';
CREATE INDEX run_target_failed ON run (target_id, started_us) WHERE outcome = 'failed';
SELECT 'migration 0007 fill';
{fill}
.timer off
-- an open regression on every 97th target, from the first slow run
INSERT INTO regression (target_id, metric, opened_us, open_run_id, baseline, observed, ratio)
SELECT target_id, 'p50_us', min(started_us), id, 100000, 200000, 2.0
FROM run WHERE target_id % 97 = 0 AND target_id <= {n_page} AND started_us >= {slow_us}
GROUP BY target_id;
PRAGMA journal_mode = WAL;
""".format(schema=schema, version=version, values=values, first_us=first_us, hour=HOUR_US,
           u3=u(3), p50=p50, rate=rate, failed=failed, hours_1=hours - 1, n_page=n_page,
           n_page_1=n_page + 1, n_targets=n_targets, fill=fill,
           slow_us=first_us + (hours - 72) * HOUR_US)
    # The triggers and the indexes must come back exactly as schema.sql has them.
    for obj in ("run_day_insert", "run_day_delete", "run_day_update"):
        m = re.search(r"^CREATE TRIGGER %s .*?^END;$" % obj, schema, re.S | re.M)
        script = script.replace("PRAGMA journal_mode = WAL;",
                                m.group(0) + "\nPRAGMA journal_mode = WAL;")
    t0 = time.monotonic()
    p = subprocess.run(["sqlite3", db], input=script, capture_output=True, text=True)
    if p.returncode != 0 or "Error" in p.stderr:
        sys.exit("generation failed: %s" % p.stderr.strip()[:2000])
    steps = [float(x) for x in re.findall(r"Run Time: real ([0-9.]+)", p.stdout)]
    return time.monotonic() - t0, steps


def readme_queries():
    with open(os.path.join(ROOT, "README.md")) as f:
        readme = f.read()
    section = readme.split("## Querying history with sqlite3", 1)[1].split("\n## ", 1)[0]
    return [b.split("```", 1)[0].strip() for b in section.split("```sql\n")[1:]]


def file_queries():
    """The statements of sql/queries.sql, each with the title of the comment above it."""
    text = open(os.path.join(ROOT, "sql", "queries.sql")).read()
    out = []
    for block in re.split(r"\n(?=-- \d+\. )", text)[1:]:
        title = re.match(r"-- (\d+\. [^\n]*)", block).group(1)
        body = "\n".join(l for l in block.splitlines() if not l.startswith("--")).strip()
        out.append((title, body))
    return out


def time_query(con, sql, repeat=3):
    """The median wall and CPU seconds of a query read to its end, and its rows."""
    times, cpus, rows = [], [], 0
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        rows = len(con.execute(sql).fetchall())
        times.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - c0)
    return statistics.median(times), statistics.median(cpus), rows


def plan(con, sql):
    return " / ".join(r[3] for r in con.execute("EXPLAIN QUERY PLAN " + sql))


def children_cpu():
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def timed(cmd, env=None):
    """Runs cmd; its output, wall seconds and CPU seconds."""
    t0, c0 = time.monotonic(), children_cpu()
    p = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if p.returncode != 0:
        sys.exit("%s failed (%d): %s" % (" ".join(cmd[:3]), p.returncode, p.stderr.strip()[:300]))
    return p.stdout, time.monotonic() - t0, children_cpu() - c0


def write_config(path, db, n_targets, every="1h", url=None):
    tests = {}
    for _, name, backend, kind in target_names(n_targets):
        tests.setdefault(name, (kind, []))
        if backend:
            tests[name][1].append(backend)
    with open(path, "w") as f:
        f.write("database: %s\ndefaults: {every: %s, jitter: 0s}\ntests:\n" % (db, every))
        for name, (kind, backends) in tests.items():
            f.write('  - {name: %s, kind: %s, url: "%s"%s}\n'
                    % (name, kind, url or "http://127.0.0.1:9/" + name,
                       ", backends: [%s]" % ", ".join(backends) if backends else ""))


def ready_time(daemon, config, tmp):
    """Seconds from exec to READY=1 on a notify socket of our own."""
    path = os.path.join(tmp, "notify.sock")
    if os.path.exists(path):
        os.unlink(path)
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind(path)
    s.settimeout(60)
    env = dict(os.environ, NOTIFY_SOCKET=path)
    t0 = time.monotonic()
    p = subprocess.Popen([daemon, "--config", config], env=env, stderr=subprocess.DEVNULL)
    took = None
    try:
        while took is None:
            msg = s.recv(4096).decode()
            if "READY=1" in msg.split("\n"):
                took = time.monotonic() - t0
    finally:
        p.terminate()
        p.wait()
        s.close()
    return took


def history(a):
    cli = os.path.join(a.build, "daemon", "benchwatch")
    daemon = os.path.join(a.build, "daemon", "benchwatchd")
    for exe in (cli, daemon):
        if not os.access(exe, os.X_OK):
            sys.exit("no %s: build first (cmake --build build)" % exe)
    tmp = tempfile.mkdtemp(prefix="bw-scale-")
    db = a.db or os.path.join(tmp, "scale.db")
    con0 = None
    if not os.path.exists(db):
        end_us = int(time.time() // 3600 * 3600) * 1000000
        took, steps = generate(db, a.targets, a.years, end_us)
        steps += [0.0] * 10
        print("generated in %.0f s: page runs %.0f s, download runs %.0f s, indexes %.0f s, "
              "run_day as migration 0007 fills it %.0f s"
              % (took, steps[0], steps[1], sum(steps[3:7]), sum(steps[8:10])))
    con0 = sqlite3.connect(db)
    runs = con0.execute("SELECT count(*) FROM run").fetchone()[0]
    size = os.path.getsize(db)
    print("%d targets, %d runs, %.2f GB, %.0f bytes per run (indexes and run_day included)"
          % (a.targets, runs, size / 1e9, size / runs))
    try:
        objs = con0.execute("SELECT name, sum(pgsize) FROM dbstat GROUP BY name "
                            "ORDER BY 2 DESC LIMIT 6").fetchall()
        print("  " + ", ".join("%s %.1f" % (n, b / runs) for n, b in objs) + " bytes per run")
    except sqlite3.Error:
        pass
    con0.close()
    con = sqlite3.connect("file:%s?mode=ro" % db, uri=True)
    print("\n%-62s %7s %7s %6s  %s" % ("query", "ms", "CPU ms", "rows", "plan"))
    for i, q in enumerate(readme_queries()):
        title = "README %d: %s" % (i + 1, q.splitlines()[0].lstrip("- ")[:50])
        secs, cpu, rows = time_query(con, q)
        print("%-62s %7.1f %7.1f %6d  %s" % (title, secs * 1e3, cpu * 1e3, rows,
                                            plan(con, q)[:120]))
    for title, q in file_queries():
        secs, cpu, rows = time_query(con, q)
        print("%-62s %7.1f %7.1f %6d  %s" % ("queries.sql " + title[:50], secs * 1e3, cpu * 1e3,
                                            rows, plan(con, q)[:120]))
    con.close()

    config = os.path.join(tmp, "scale.yaml")
    write_config(config, os.path.abspath(db), a.targets)
    print("\n%-56s %7s %7s" % ("command", "s", "CPU s"))
    page, dl = "page-%04d" % 96, "dl-0000"
    for cmd in (["report", "--since", "24h"], ["report", "--since", "24h", "--format", "html"],
                ["report", "--since", "7d"], ["report", "--since", "30d"],
                ["report", "--since", "365d"],
                ["history", page, "--since", "2d"], ["history", page],
                ["history", dl, "--backend", "node-2:8088", "--since", "7d"],
                ["backtest", page], ["baseline", dl],
                ["regressions", "--open"], ["regressions", "--since", "30d"]):
        best = min((timed([cli] + cmd + ["--config", config])[1:] for _ in range(2)))
        print("%-56s %7.2f %7.2f" % ("benchwatch " + " ".join(cmd), best[0], best[1]))
    took = [ready_time(daemon, config, tmp) for _ in range(3)]
    print("%-56s %7.2f" % ("benchwatchd start-up to READY=1 (median of 3)",
                           statistics.median(took)))
    if os.path.exists(db + ".spool"):
        os.unlink(db + ".spool")  # the daemon's, beside the database
    if a.db:
        print("kept %s" % db)
    shutil.rmtree(tmp)


def metric(text, name):
    m = re.search(r"^%s(?:\{[^}]*\})? ([0-9.e+-]+)$" % re.escape(name), text, re.M)
    return float(m.group(1)) if m else float("nan")


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def fleet(a):
    daemon = os.path.join(a.build, "daemon", "benchwatchd")
    if not os.access(daemon, os.X_OK):
        sys.exit("no %s: build first (cmake --build build)" % daemon)
    tmp = tempfile.mkdtemp(prefix="bw-fleet-")
    nginx_sh = os.path.join(ROOT, "tests", "servers", "nginx.sh")
    ng = os.path.join(tmp, "nginx")
    port = subprocess.run([nginx_sh, "start", ng, "1M"], check=True, capture_output=True,
                          text=True).stdout.strip()
    mport = free_port()
    config = os.path.join(tmp, "fleet.yaml")
    db = os.path.join(tmp, "fleet.db")
    with open(config, "w") as f:
        # offsets spread the targets over the minute, as a fleet's config would
        f.write("database: %s\nmetrics: {listen: \"127.0.0.1:%d\"}\n"
                "defaults: {every: 1m, jitter: 0s}\ntests:\n" % (db, mport))
        for i in range(a.targets):
            f.write('  - {name: t%04d, kind: page, requests: 1, offset: %dms, '
                    'url: "http://127.0.0.1:%s/small.txt"}\n' % (i, i * 60000 // a.targets, port))
    p = subprocess.Popen([daemon, "--config", config], stderr=subprocess.DEVNULL)
    try:
        time.sleep(5)
        if p.poll() is not None:
            sys.exit("benchwatchd did not start")
        c0, t0 = cpu_seconds(p.pid), time.monotonic()
        scrapes, lags = [], []
        text = ""
        while time.monotonic() - t0 < a.minutes * 60:
            s0 = time.perf_counter()
            text = urllib.request.urlopen("http://127.0.0.1:%d/metrics" % mport, timeout=30) \
                .read().decode()
            scrapes.append(time.perf_counter() - s0)
            lags.append(metric(text, "benchwatch_scheduler_lag_seconds"))
            time.sleep(10)
        cpu = cpu_seconds(p.pid) - c0
        wall = time.monotonic() - t0
        con = sqlite3.connect("file:%s?mode=ro" % db, uri=True)
        rows = con.execute("SELECT t.name, r.started_us, r.outcome FROM run r JOIN target t"
                           " ON t.id = r.target_id WHERE r.started_us >= ?",
                           (int((time.time() - wall) * 1e6),)).fetchall()
        con.close()
        runs, ok = len(rows), sum(1 for r in rows if r[2] == "ok")
        # Each run's start against its due time: the minute plus the target's offset.
        late = sorted(((us - (int(name[1:]) * 60000 // a.targets) * 1000) % 60000000) / 1e3
                      for name, us, _ in rows)
        print("%d targets every minute for %.1f min against nginx:" % (a.targets, wall / 60))
        print("  runs stored %d of %d due (%d ok)" % (runs, int(a.targets * wall / 60), ok or 0))
        print("  skipped turns %d; start after its due time: median %.1f ms, 99th percentile "
              "%.1f ms, max %.1f ms; benchwatch_scheduler_lag_seconds at most %.3f s"
              % (metric(text, "benchwatch_skipped_runs_total"), late[len(late) // 2],
                 late[len(late) * 99 // 100], late[-1], max(lags)))
        print("  CPU %.1f %% of one core (%.2f ms per run)"
              % (100 * cpu / wall, 1e3 * cpu / max(runs, 1)))
        print("  /metrics: %d scrapes, median %.0f ms, max %.0f ms, %d bytes"
              % (len(scrapes), 1e3 * statistics.median(scrapes), 1e3 * max(scrapes), len(text)))
    finally:
        p.terminate()
        p.wait()
        subprocess.run([nginx_sh, "stop", ng], capture_output=True)
        shutil.rmtree(tmp)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("what", choices=("history", "fleet"))
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--targets", type=int, default=1000)
    ap.add_argument("--years", type=float, default=3)
    ap.add_argument("--minutes", type=float, default=5)
    ap.add_argument("--db")
    a = ap.parse_args()
    history(a) if a.what == "history" else fleet(a)


if __name__ == "__main__":
    main()
