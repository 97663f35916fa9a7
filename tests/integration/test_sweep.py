"""Sweeps: a page test whose steps (concurrency 1, 2, 4) run one after another in each run, each a
target of its own, against real nginx on loopback.

Nothing here depends on how fast the machine is. Each step's concurrency is read back from what
the store kept of its requests: with keepalive every request slot opens one connection and keeps
it, so a step's runs hold exactly as many requests with a connect as the step has slots. The
judging is produced with imported history (one step's history ends three times slower), never by
timing, and the steps' order from the stored start and end times, which a correct runner always
keeps (one step starts after the one before it ended) and a parallel one never does.
"""
import json
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import tempfile
import time
import unittest
import urllib.error
import urllib.request

from harness import CLI, Nginx, free_port
from test_daemon import Daemon

HOUR = 3600
STEPS = [1, 2, 4]
REQUESTS = 12


def cli(*args, timeout=120):
    return subprocess.run([CLI, *args], capture_output=True, text=True, timeout=timeout)


def get(url):
    try:
        with urllib.request.urlopen(url, timeout=30) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


class SweepTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.nginx = Nginx(big="1M")

    @classmethod
    def tearDownClass(cls):
        cls.nginx.stop()

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="bw-sweep-")
        self.config = os.path.join(self.dir, "bw.yaml")
        self.db = os.path.join(self.dir, "bw.db")

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def write(self, extra="", test_extra=""):
        with open(self.config, "w") as f:
            f.write("database: bw.db\n%s"
                    "tests:\n"
                    "  - {name: api, kind: page, url: \"%s/index.html\", keepalive: true,\n"
                    "     requests: %d, every: 1d, jitter: 0, sweep: {concurrency: [1, 2, 4]}%s}\n"
                    % (extra, self.nginx.base, REQUESTS, test_extra))

    def sql(self, query, *args):
        con = sqlite3.connect(self.db, timeout=10)
        try:
            return con.execute(query, args).fetchall()
        finally:
            con.close()

    def step_runs(self, backend=""):
        """Each step's runs: (name, run id, requests, complete, started_us, ended_us)."""
        return self.sql("SELECT t.name, r.id, r.requests, r.complete, r.started_us,"
                        " r.started_us + r.duration_us FROM run r JOIN target t"
                        " ON t.id = r.target_id WHERE t.backend = ? ORDER BY r.started_us",
                        backend)

    def connections(self, run_id):
        """Requests of a run that opened a connection (the others reused one)."""
        return self.sql("SELECT count(*) FROM sample WHERE run_id = ? AND connect_us > 0",
                        run_id)[0][0]

    def import_history(self, slow_step):
        """200 hourly runs of history per step ending two hours ago, about 95 ms; the last 12 of
        slow_step's three times that, which opens a regression on that step alone."""
        now = int(time.time())
        t0 = now - now % HOUR - 201 * HOUR
        for c in STEPS:
            lines = []
            for i in range(200):
                v = 95 + 7 * ((i * 7) % 5 - 2) / 2.0
                if c == slow_step and i >= 188:
                    v = 300.0 + i % 3
                lines.append("%d %.3f\n" % (t0 + i * HOUR, v))
            path = os.path.join(self.dir, "c%d.txt" % c)
            with open(path, "w") as f:
                f.write("".join(lines))
            p = cli("import", "-c", self.config, "api@c%d" % c, path)
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertIn("judged the history again: %d regression" % (c == slow_step), p.stdout)

    def open_regressions(self):
        return self.sql("SELECT t.name, g.metric FROM regression g JOIN target t"
                        " ON t.id = g.target_id WHERE g.closed_us IS NULL ORDER BY t.name")

    def test_run_stores_each_step_with_its_requests_and_concurrency(self):
        self.write()
        p = cli("run", "--config", self.config, "api", "--store")
        self.assertEqual(p.returncode, 0, p.stderr)
        # One ab-style block per step, in order, then the curve with one line per step.
        self.assertEqual(re.findall(r"^== step (api@c\d+): concurrency (\d+), requests (\d+)$",
                                    p.stdout, re.M),
                         [("api@c%d" % c, str(c), str(REQUESTS)) for c in STEPS])
        self.assertEqual(re.findall(r"^Concurrency Level: +(\d+)$", p.stdout, re.M),
                         [str(c) for c in STEPS])
        curve = p.stdout[p.stdout.index("== sweep api: 3 steps\n"):].splitlines()
        self.assertRegex(curve[1], r"^ +concurrency +requests +req/s +median$")
        rows = [l.split() for l in curve[2:5]]
        self.assertEqual([r[0] for r in rows], [str(c) for c in STEPS])
        self.assertEqual([r[1] for r in rows], [str(REQUESTS)] * 3)
        for r in rows:
            self.assertGreater(float(r[2]), 0)  # req/s
            self.assertEqual(r[4], "ms")
        self.assertRegex(curve[5], r"^  knee: (none|concurrency [24]: )")
        self.assertEqual(len(curve), 6)
        self.assertEqual(p.stderr.count("stored as run"), 3)

        # Three targets, one per step, each with one run of exactly its requests ...
        runs = self.step_runs()
        self.assertEqual([r[0] for r in runs], ["api@c%d" % c for c in STEPS])
        for (name, run_id, requests, complete, _, _), c in zip(runs, STEPS):
            self.assertEqual((requests, complete), (REQUESTS, REQUESTS), name)
            self.assertEqual(self.sql("SELECT count(*) FROM sample WHERE run_id = ?", run_id),
                             [(REQUESTS,)])
            # ... made over exactly its concurrency of connections.
            self.assertEqual(self.connections(run_id), c, name)
        # One after the other: no step starts before the one before it ended.
        for before, after in zip(runs, runs[1:]):
            self.assertGreaterEqual(after[4], before[5])
        # The per-step figures the report reads are the runs' own.
        self.assertEqual(self.sql("SELECT count(*) FROM target WHERE name = 'api'"), [(0,)])

        # A step runs alone by its name.
        p = cli("run", "--config", self.config, "api@c2", "--store")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(re.findall(r"^== step (\S+):", p.stdout, re.M), ["api@c2"])
        self.assertNotIn("== sweep", p.stdout)
        runs = self.step_runs()
        self.assertEqual(runs[-1][0], "api@c2")
        self.assertEqual(self.connections(runs[-1][1]), 2)

    def test_each_step_is_judged_against_its_own_history(self):
        self.write()
        self.import_history(slow_step=2)
        self.assertEqual(self.open_regressions(), [("api@c2", "p50_us")])
        # A real sweep is judged step by step: c2's regression stays open (one good run does not
        # close it), the others stay normal.
        p = cli("run", "--config", self.config, "api", "--store")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(self.open_regressions(), [("api@c2", "p50_us")])
        stored = [l for l in p.stderr.splitlines() if l.startswith("stored as run")]
        self.assertEqual(len(stored), 3, p.stderr)
        # Each step is judged against its own baseline: c1 and c4 around 95 ms, c2's the one
        # frozen when its regression opened (before the slow runs).
        modes = [float(re.search(r"vs mode ([\d.]+) ms", l).group(1)) for l in stored]
        for m in modes:
            self.assertTrue(85 <= m <= 105, stored)

        # history shows the curve of the latest runs, with each step's verdict.
        h = cli("history", "-c", self.config, "api")
        self.assertEqual(h.returncode, 0, h.stderr)
        lines = h.stdout.splitlines()
        self.assertTrue(lines[0].startswith("sweep api: 3 steps"), h.stdout)
        self.assertRegex(lines[1], r"^ +concurrency +requests +req/s +median +state$")
        rows = [l.split() for l in lines[2:5]]
        self.assertEqual([r[0] for r in rows], ["1", "2", "4"])
        self.assertEqual([r[1] for r in rows], [str(REQUESTS)] * 3)
        self.assertEqual([r[5] for r in rows], ["ok", "regressed", "ok"])
        self.assertTrue(lines[5].startswith("  knee: "))
        j = json.loads(cli("history", "-c", self.config, "api", "--json").stdout)
        self.assertEqual([(s["concurrency"], s["requests"], s["state"]) for s in j["steps"]],
                         [(1, REQUESTS, "ok"), (2, REQUESTS, "regressed"), (4, REQUESTS, "ok")])
        last = {r[0]: r[1] for r in self.step_runs()}
        self.assertEqual([s["run_id"] for s in j["steps"]],
                         [last["api@c%d" % c] for c in STEPS])
        # A step's own history is an ordinary target's.
        h = cli("history", "-c", self.config, "api@c2")
        self.assertEqual(h.returncode, 0, h.stderr)
        self.assertIn("REGRESSION", h.stdout)

        # The nightly report, as text and HTML, shows the curve with each step's state.
        r = cli("report", "-c", self.config)
        self.assertEqual(r.returncode, 0, r.stderr)
        text = r.stdout[r.stdout.index("SWEEPS"):].splitlines()
        self.assertEqual(text[1], "  api")
        rows = [l.split() for l in text[3:6]]
        self.assertEqual([(x[0], x[1], x[5]) for x in rows],
                         [("1", str(REQUESTS), "normal"), ("2", str(REQUESTS), "regressed"),
                          ("4", str(REQUESTS), "normal")])
        self.assertTrue(text[6].startswith("    knee: "))
        j = json.loads(cli("report", "-c", self.config, "--json").stdout)
        self.assertEqual([(sw["test"], [(s["concurrency"], s["state"]) for s in sw["steps"]])
                          for sw in j["sweeps"]],
                         [("api", [(1, "normal"), (2, "regressed"), (4, "normal")])])
        html = cli("report", "-c", self.config, "--format", "html").stdout
        table = html[html.index("<table class=\"sweep\">"):html.index("</table>",
                                                                     html.index("class=\"sweep\""))]
        cells = re.findall(r"<tr><td>(\d+)</td><td>(\d+)</td><td>[\d.]+</td><td>[\d.]+ ms</td>"
                           r"<td>(\w+)</td>", table)
        self.assertEqual(cells, [("1", str(REQUESTS), "normal"), ("2", str(REQUESTS), "regressed"),
                                 ("4", str(REQUESTS), "normal")])

    def test_daemon_runs_the_steps_in_sequence_per_backend_and_shows_them(self):
        # Two backends (two nginx servers, the same site): each runs its steps one after the
        # other, and /metrics and the status page have every step.
        other = Nginx(big="1M")
        try:
            port = free_port()
            backends = ["127.0.0.1:%d" % self.nginx.port, "127.0.0.1:%d" % other.port]
            self.write(extra="metrics: {listen: \"127.0.0.1:%d\"}\n" % port,
                       test_extra=", backends: [%s]" % ", ".join('"%s"' % b for b in backends))
            d = Daemon(self.config, args=["--once"])
            self.assertEqual(d.proc.wait(timeout=120), 0, d.log())
            d.err.close()
            for b in backends:
                runs = self.step_runs(b)
                self.assertEqual([r[0] for r in runs], ["api@c%d" % c for c in STEPS], b)
                for (name, run_id, requests, complete, _, _), c in zip(runs, STEPS):
                    self.assertEqual((requests, complete), (REQUESTS, REQUESTS))
                    self.assertEqual(self.connections(run_id), c, (b, name))
                for before, after in zip(runs, runs[1:]):
                    self.assertGreaterEqual(after[4], before[5], b)

            # The status page and /metrics of a daemon that read them.
            d = Daemon(self.config)
            try:
                d.wait_log("serving http://", timeout=30)
                status, page = get("http://127.0.0.1:%d/" % port)
                self.assertEqual(status, 200)
                self.assertIn("<h2 id=\"sweeps\">Sweeps</h2>", page)
                tables = re.findall(r"<table class=\"sweep\">(.*?)</table>", page, re.S)
                self.assertEqual(len(tables), 2)  # one per backend
                # Each with its picture: two lines (req/s, median) through the three steps.
                charts = re.findall(r"<svg class=\"sweep-chart\".*?</svg>", page, re.S)
                self.assertEqual(len(charts), 2)
                for c in charts:
                    lines = re.findall(r'<polyline [^>]*points="([^"]*)"', c)
                    self.assertEqual([len(l.split()) for l in lines], [3, 3])
                for t in tables:
                    self.assertEqual(re.findall(r"<tr><td>(\d+)</td><td>(\d+)</td>", t),
                                     [(str(c), str(REQUESTS)) for c in STEPS])
                    self.assertEqual(len(re.findall(r"<td>normal</td>", t)), 3)
                status, metrics = get("http://127.0.0.1:%d/metrics" % port)
                self.assertEqual(status, 200)
                for c in STEPS:
                    for b in backends:
                        self.assertRegex(metrics, r'test="api@c%d"[^}]*backend="%s"|backend="%s"'
                                                  r'[^}]*test="api@c%d"' % (c, b, b, c))
            finally:
                d.stop()
        finally:
            other.stop()

    def test_reload_changes_the_steps_and_keeps_them_in_sequence(self):
        # A reload that drops step 2 and adds step 8: the targets follow, /metrics with them, and
        # the new chain runs in order at the test's times.
        port = free_port()
        metrics = "metrics: {listen: \"127.0.0.1:%d\"}\n" % port
        self.write(extra=metrics)
        d = Daemon(self.config)
        try:
            d.wait_log("3 targets scheduled", timeout=30)
            with open(self.config, "w") as f:
                f.write("database: bw.db\n%stests:\n"
                        "  - {name: api, kind: page, url: \"%s/index.html\", keepalive: true,\n"
                        "     requests: %d, every: 1s, jitter: 0, sweep: {concurrency: [1, 4, 8]}}\n"
                        % (metrics, self.nginx.base, REQUESTS))
            d.proc.send_signal(signal.SIGHUP)
            # c1 and c4 change (every: 1d to 1s), c8 comes, c2 goes.
            d.wait_log("3 targets: 1 added, 2 changed, 1 removed", timeout=30)
            _, text = get("http://127.0.0.1:%d/metrics" % port)
            self.assertIn('test="api@c8"', text)
            self.assertNotIn('test="api@c2"', text)
            # Wait (without a time limit that a loaded machine could miss) for a whole sweep.
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                names = [r[0] for r in self.step_runs()] if os.path.exists(self.db) else []
                if "api@c8" in names:
                    break
                time.sleep(0.2)
        finally:
            d.stop()
        runs = self.step_runs()
        first_c8 = [r[0] for r in runs].index("api@c8")
        sweep = runs[first_c8 - 2:first_c8 + 1]
        self.assertEqual([r[0] for r in sweep], ["api@c1", "api@c4", "api@c8"])
        for before, after in zip(sweep, sweep[1:]):
            self.assertGreaterEqual(after[4], before[5])
        self.assertEqual(self.connections(sweep[2][1]), 8)
        self.assertNotIn("api@c2", [r[0] for r in runs])


if __name__ == "__main__":
    unittest.main()
