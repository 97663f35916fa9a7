"""benchwatch import and export as a user runs them: history in, the database checked, history out."""
import csv
import datetime
import io
import json
import math
import os
import shutil
import sqlite3
import subprocess
import tempfile
import time
import unittest

from harness import CLI, SOURCE

DATA = os.path.join(SOURCE, "tests", "data", "import")
HOUR = 3600


def cli(*args):
    return subprocess.run([CLI, *args], capture_output=True, text=True, timeout=60)


def iso(t):
    return datetime.datetime.fromtimestamp(t, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class ImportTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="bw-import-")
        self.config = os.path.join(self.dir, "bw.yaml")
        self.db = os.path.join(self.dir, "bw.db")
        with open(self.config, "w") as f:
            f.write("database: bw.db\n"
                    "tests:\n"
                    "  - {name: home, kind: page, url: \"http://portal.example.test/\"}\n"
                    "  - {name: tarball, kind: download, url: \"http://portal.example.test/big\",\n"
                    "     backends: [node-1:8088, node-2:8088]}\n")
        # 200 hourly points ending two hours ago, ms with three decimals (exact in µs).
        now = int(time.time())
        self.t0 = now - now % HOUR - 201 * HOUR
        self.points = [(self.t0 + i * HOUR, round(95 + 7 * math.sin(i / 5.0), 3))
                       for i in range(200)]

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def write(self, name, text):
        path = os.path.join(self.dir, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def sql(self, query, *args):
        con = sqlite3.connect(self.db, timeout=10)
        try:
            return con.execute(query, args).fetchall()
        finally:
            con.close()

    def imp(self, *args):
        return cli("import", "-c", self.config, *args)

    def export(self, *args):
        p = cli("export", "-c", self.config, *args)
        self.assertEqual(p.returncode, 0, p.stderr)
        return p.stdout

    def test_plain_round_trip(self):
        path = self.write("home.txt", "# hourly ab, median ms\n" + "".join(
            "%d %.3f\n" % (t, v) for t, v in self.points))
        p = self.imp("home", path)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stdout, "%s: 200 runs imported, 0 already there\n"
                                   "judged the history again: 0 regressions in it\n" % path)

        rows = self.sql("SELECT r.started_us, r.outcome, r.p50_us, r.rate_bps, r.requests,"
                        " r.complete, r.error_message, t.kind, t.url, t.backend"
                        " FROM run r JOIN target t ON t.id = r.target_id"
                        " WHERE t.name = 'home' ORDER BY r.started_us")
        self.assertEqual(len(rows), 200)
        for i, (row, (t, v)) in enumerate(zip(rows, self.points)):
            self.assertEqual(row, (t * 1000000, "ok", round(v * 1000), None, None, None,
                                   "imported from %s:%d" % (path, i + 2), "page",
                                   "http://portal.example.test/", ""))

        # Again: nothing added.
        p = self.imp("--test", "home", path)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stdout, "%s: 0 runs imported, 200 already there\n" % path)
        self.assertEqual(self.sql("SELECT count(*) FROM run"), [(200,)])

        # CSV: one row per run, oldest first, ms exact to the µs.
        out = list(csv.DictReader(io.StringIO(self.export("home", "--csv"))))
        self.assertEqual(len(out), 200)
        self.assertEqual(list(out[0])[:5], ["time", "run_id", "outcome", "value", "unit"])
        for row, (t, v) in zip(out, self.points):
            self.assertEqual(row["time"], iso(t))
            self.assertEqual(row["outcome"], "ok")
            self.assertEqual(row["value"], "%.3f" % v)
            self.assertEqual(row["unit"], "ms")
            self.assertEqual(row["p90_ms"], "")
            self.assertEqual(row["error"], "")
        # JSON: the same runs as whole records, figures in their stored units (µs).
        out = json.loads(self.export("home", "--json"))
        self.assertEqual(len(out), 200)
        for obj, (t, v) in zip(out, self.points):
            self.assertEqual(obj["started_us"], t * 1000000)
            self.assertEqual(obj["time"], iso(t))
            self.assertEqual((obj["test"], obj["backend"], obj["kind"]), ("home", "", "page"))
            self.assertEqual(obj["p50_us"], round(v * 1000))
            self.assertIsNone(obj["p90_us"])
            self.assertIsNone(obj["rate_bps"])
            self.assertIsNone(obj["error_class"])
            self.assertEqual(obj["samples"], [])
        # NDJSON: the same records, one per line.
        lines = self.export("home", "--ndjson").splitlines()
        self.assertEqual([json.loads(x) for x in lines], out)
        # --since keeps the recent ones.
        recent = [t for t, _ in self.points if t >= time.time() - 2 * 86400 + 60]
        out = list(csv.DictReader(io.StringIO(self.export("--test", "home", "--since", "2d"))))
        self.assertIn(len(out), (len(recent), len(recent) + 1))
        self.assertEqual(out[-1]["time"], iso(self.points[-1][0]))

        # The baseline exists at once: a week of hourly runs, more than min_runs.
        p = cli("baseline", "home", "--config", self.config)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("normal", p.stdout)
        self.assertNotIn("learning", p.stdout)

    def test_download_units_and_backends(self):
        lines = ["time,MB/s"] + ["%s, %.6f" % (iso(t).replace("T", " ").replace("Z", "+00:00"),
                                               v / 6) for t, v in self.points[:24]]
        path = self.write("tar.csv", "\n".join(lines) + "\n")
        # A test with backends needs one named; an unknown one is a config problem.
        p = self.imp("--test", "tarball", path)
        self.assertEqual(p.returncode, 64)
        self.assertIn("choose one with --backend", p.stderr)
        p = self.imp("--test", "tarball", "--backend", "node-9:8088", path)
        self.assertEqual(p.returncode, 78)
        self.assertIn("has no backend node-9:8088", p.stderr)
        # A time unit for a download is refused.
        p = self.imp("--test", "tarball", "--backend", "node-2:8088", "--unit", "ms", path)
        self.assertEqual(p.returncode, 64)
        self.assertIn("--unit ms does not fit tarball, a download test", p.stderr)

        p = self.imp("tarball", "--backend", "node-2:8088", path)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stdout, "%s: 24 runs imported, 0 already there\n"
                                   "judged the history again: 0 regressions in it\n" % path)
        rows = self.sql("SELECT r.started_us, r.rate_bps, r.p50_us FROM run r"
                        " JOIN target t ON t.id = r.target_id"
                        " WHERE t.name = 'tarball' AND t.backend = 'node-2:8088'"
                        " ORDER BY r.started_us")
        self.assertEqual(rows, [(t * 1000000, int(float("%.6f" % (v / 6)) * 1e6 + 0.5), None)
                                for t, v in self.points[:24]])
        out = list(csv.DictReader(io.StringIO(self.export(
            "--test", "tarball", "--backend", "node-2:8088"))))
        self.assertEqual([(r["time"], r["value"], r["unit"]) for r in out],
                         [(iso(t), "%.6f" % (v / 6), "MB/s") for t, v in self.points[:24]])
        self.assertIn("stall_s", out[0])

        # KB/s into the other backend, the same times: a different target, so all new.
        path = self.write("tar-kb.txt", "".join("%d %d\n" % (t, 16500) for t, _ in
                                                 self.points[:24]))
        p = self.imp("--test", "tarball", "--backend", "node-1:8088", "--unit", "KB/s", path)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn(": 24 runs imported, 0 already there", p.stdout)
        out = json.loads(self.export("tarball", "--backend", "node-1:8088", "--json"))
        self.assertEqual({(o["rate_bps"], o["backend"]) for o in out}, {(16500000, "node-1:8088")})

    def test_kv_lines_keep_every_named_figure(self):
        # The load-testing team's log: one run per line, its time and named figures.
        path = os.path.join(DATA, "kv.txt")
        p = self.imp("--test", "tarball", "--backend", "node-1:8088", path)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stdout, "%s: 5 runs imported, 0 already there\n"
                                   "judged the history again: 0 regressions in it\n" % path)
        rows = self.sql("SELECT r.started_us, r.rate_bps, r.stream_min_bps, r.stream_max_bps,"
                        " r.streams, r.ttfb_us, r.stall_us, r.outcome FROM run r"
                        " JOIN target t ON t.id = r.target_id"
                        " WHERE t.name = 'tarball' AND t.backend = 'node-1:8088'"
                        " ORDER BY r.started_us")
        nov1 = 1793491200
        self.assertEqual(rows, [
            ((nov1 + 4 * HOUR) * 1000000, 238400000, 27900000, 31200000, 8, None, None, "ok"),
            ((nov1 + 16 * HOUR) * 1000000, 241000000, 28600000, None, 8, 12500, None, "ok"),
            ((nov1 + 28 * HOUR) * 1000000, 236100000, None, None, 8, None, None, "ok"),
            ((nov1 + 40 * HOUR) * 1000000, 120200000, 3100000, None, 8, None, 4500000, "ok"),
            ((nov1 + 52 * HOUR) * 1000000 + 500000, 239900000, None, None, 8, None, None, "ok"),
        ])
        # The figures come back out: the aggregate as the value, the streams beside it.
        out = list(csv.DictReader(io.StringIO(self.export(
            "--test", "tarball", "--backend", "node-1:8088"))))
        self.assertEqual([(r["value"], r["streams"], r["stream_min_mb_per_s"]) for r in out][:2],
                         [("238.400000", "8", "27.900000"), ("241.000000", "8", "28.600000")])
        # A page test's lines need its median; a unit option does not apply.
        bad = self.write("home.kv", "time=1793509500 rps=20.5\n")
        p = self.imp("--test", "home", bad)
        self.assertEqual(p.returncode, 65)
        self.assertIn("home.kv:1: expected p50_us= on the line: the headline figure of a page "
                      "test", p.stderr)
        p = self.imp("--test", "home", "--unit", "ms", bad)
        self.assertEqual(p.returncode, 64)
        self.assertIn("--unit is for plain files; kv values carry their own units", p.stderr)
        self.assertEqual(self.sql("SELECT count(*) FROM run r JOIN target t ON t.id = r.target_id"
                                  " WHERE t.name = 'home'"), [(0,)])

    def test_malformed_imports_nothing(self):
        good = self.write("good.txt", "".join("%d %.3f\n" % p for p in self.points[:10]))
        text = ["%d %.3f" % p for p in self.points[10:30]]
        text[5] = "%d 98 ms" % self.points[15][0]
        text[11] = "yesterday 98"
        bad = self.write("bad.txt", "\n".join(text) + "\n")
        p = self.imp("--test", "home", good, bad)
        self.assertEqual(p.returncode, 65, p.stderr)
        self.assertIn("%s:6: expected only TIME and VALUE on the line, got \"ms\"" % bad, p.stderr)
        self.assertIn("%s:12: expected Unix seconds or an ISO 8601 time" % bad, p.stderr)
        self.assertIn("nothing imported", p.stderr)
        self.assertEqual(p.stdout, "")
        if os.path.exists(self.db):
            self.assertEqual(self.sql("SELECT count(*) FROM run"), [(0,)])
        # Usage and config problems.
        self.assertEqual(self.imp("--test", "nope", good).returncode, 78)
        self.assertEqual(self.imp("--test", "home", "--format", "xml", good).returncode, 64)
        self.assertEqual(self.imp("--test", "home").returncode, 64)
        p = self.imp("--test", "home", os.path.join(self.dir, "missing.txt"))
        self.assertEqual(p.returncode, 66)
        self.assertIn("missing.txt: no such file", p.stderr)

    def test_ab_files(self):
        two = os.path.join(DATA, "ab-g-two-runs.tsv")
        p = self.imp("--test", "home", two)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stdout, "%s: 2 runs imported, 0 already there\n"
                                   "judged the history again: 0 regressions in it\n" % two)
        # ab -e holds no time: --at gives it.
        ab_e = os.path.join(DATA, "ab-e.csv")
        p = self.imp("--test", "home", ab_e)
        self.assertEqual(p.returncode, 64)
        self.assertIn("give the run's start with --at TIME", p.stderr)
        p = self.imp("--test", "home", "--at", "2026-11-21T23:53:30Z", ab_e)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(self.sql("SELECT started_us / 1000000, p50_us FROM run"
                                  " ORDER BY started_us"),
                         [(1795304950, 26000), (1795305021, 40000), (1795305210, 9130)])
        # Dry run: counted, not written. ab-g.tsv is the -g file of the run whose -e file was
        # imported at its start just now: the same run, so it is there already.
        one = self.write("one.txt", "%d 12.5\n" % self.points[0][0])
        p = self.imp("--test", "home", "--dry-run", two, os.path.join(DATA, "ab-g.tsv"), one)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stdout.splitlines(), [
            "%s: 0 runs would be imported, 2 already there" % two,
            "%s: 0 runs would be imported, 1 already there" % os.path.join(DATA, "ab-g.tsv"),
            "%s: 1 run would be imported, 0 already there" % one])
        self.assertEqual(self.sql("SELECT count(*) FROM run"), [(3,)])

    def test_import_is_judged(self):
        """Imported history is judged as the daemon would have judged it run by run: the
        regression in it is open, in the same run as backtest finds, and an ack stands."""
        slow = self.t0 + 188 * HOUR  # the last 12 of the 200 hours are three times slower
        pts = self.points[:188] + [(slow + i * HOUR, 300.0 + i % 3) for i in range(12)]
        path = self.write("home.txt", "".join("%d %.3f\n" % tv for tv in pts))
        p = self.imp("--test", "home", path)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("judged the history again: 1 regression in it", p.stdout)
        rows = self.sql("SELECT id, metric, open_run_id, closed_us IS NULL, round(baseline / 1000),"
                        " round(observed / 1000) FROM regression")
        self.assertEqual(len(rows), 1, rows)
        reg_id, metric, open_run, still_open, base, observed = rows[0]
        self.assertEqual((metric, still_open), ("p50_us", 1))
        self.assertTrue(88 <= base <= 102, rows)
        self.assertTrue(299 <= observed <= 302, rows)
        # The run that opened it is one of the slow ones, as backtest replays it.
        opened_at = self.sql("SELECT started_us / 1000000 FROM run WHERE id = ?", open_run)[0][0]
        self.assertTrue(slow <= opened_at < slow + 12 * HOUR)
        bt = json.loads(cli("backtest", "--config", self.config, "home", "--json").stdout)
        self.assertEqual([(e["event"], e["run_id"]) for e in bt["events"]], [("OPENED", open_run)])
        # The slow runs are kept out of later baseline windows; the detector knows it is open.
        self.assertGreaterEqual(self.sql("SELECT count(*) FROM run_mark k JOIN run r"
                                         " ON r.id = k.run_id WHERE k.excluded AND"
                                         " r.started_us >= ?", slow * 1000000)[0][0], 3)
        self.assertEqual(self.sql("SELECT open_baseline IS NOT NULL FROM judge j JOIN target t"
                                  " ON t.id = j.target_id WHERE t.name = 'home'"
                                  " AND j.metric = 'p50_us'"), [(1,)])
        out = cli("baseline", "home", "--config", self.config).stdout
        self.assertRegex(out, r"REGRESSED since .* \(frozen baseline (8|9|10)\d\.")
        # A person accepts it; importing more history judges again and keeps the ack.
        p = cli("regressions", "ack", str(reg_id), "--config", self.config)
        self.assertEqual(p.returncode, 0, p.stderr)
        more = self.write("more.txt", "%d 301.0\n" % (slow + 12 * HOUR))
        p = self.imp("--test", "home", more)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(self.sql("SELECT id, acked_us IS NOT NULL FROM regression"),
                         [(reg_id, 1)])
        self.assertNotIn("REGRESSED", cli("baseline", "home", "--config", self.config).stdout)

    def test_report_speaks_the_judges_words(self):
        """The last 10 of 24 hours at 2.6 times the normal: the day's median still looks
        normal, but the report says the regression is open, since when, and the latest ratio."""
        slow = self.t0 + 190 * HOUR
        pts = self.points[:190] + [(slow + i * HOUR, 250.0 + i % 2) for i in range(10)]
        path = self.write("home.txt", "".join("%d %.3f\n" % tv for tv in pts))
        p = self.imp("--test", "home", path)
        self.assertEqual(p.returncode, 0, p.stderr)
        p = cli("report", "--since", "24h", "--config", self.config)
        self.assertEqual(p.returncode, 0, p.stderr)
        line = [l for l in p.stdout.splitlines() if l.startswith("  home ")][0]
        self.assertRegex(line, r"median \d+\.\d+ ms vs mode (8|9|10)\d\.\d+ ms \(x(0\.9|1\.)")
        self.assertRegex(line, r"latest 25\d\.\d+ ms \(x2\.[4-9]\d\)")
        self.assertRegex(line, r"REGRESSED since .* \(median\)$")
        p = cli("report", "--since", "24h", "--config", self.config, "--format", "html")
        self.assertIn("<b>regressed</b> (median)", p.stdout)


if __name__ == "__main__":
    unittest.main(verbosity=2)
