"""benchwatch's command line as people used to ab, wget, sqlite3 and systemctl use it: one
spelling for the config, TEST positional, --version and help everywhere, dates for --since,
history read without writing, JSON in one convention, export --all read back by import, and
progress on a terminal only."""
import datetime
import json
import os
import pty
import re
import shutil
import sqlite3
import subprocess
import tempfile
import time
import unittest

from harness import CLI, Faultd

HOUR = 3600
COMMANDS = ["check-config", "run", "regressions", "baseline", "import", "export", "history",
            "backtest", "report"]


def cli(*args, **kw):
    return subprocess.run([CLI, *args], capture_output=True, text=True, timeout=120, **kw)


def iso(t):
    return datetime.datetime.fromtimestamp(t, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def with_pty_stderr(args):
    """Runs benchwatch with stderr on a terminal: (exit status, stdout, what the terminal got)."""
    master, slave = pty.openpty()
    p = subprocess.Popen([CLI, *args], stdout=subprocess.PIPE, stderr=slave)
    os.close(slave)
    got = b""
    while True:
        try:
            chunk = os.read(master, 4096)
        except OSError:
            break
        if not chunk:
            break
        got += chunk
    out = p.stdout.read()
    p.stdout.close()
    rc = p.wait(timeout=120)
    os.close(master)
    return rc, out.decode(), got.decode(errors="replace")


class CliTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.faultd = Faultd()

    @classmethod
    def tearDownClass(cls):
        cls.faultd.stop()

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="bw-cli-")
        self.config = os.path.join(self.dir, "bw.yaml")
        self.db = os.path.join(self.dir, "bw.db")
        base = self.faultd.base
        with open(self.config, "w") as f:
            f.write("database: bw.db\n"
                    "tests:\n"
                    "  - {name: home, kind: page, url: \"%s/delay?ms=5\", requests: 6,"
                    " concurrency: 2}\n"
                    "  - {name: tarball, kind: download, url: \"http://archive.test/bytes?"
                    "size=300000\", interval: 100ms,\n"
                    "     backends: [127.0.0.1:%d, 127.0.0.1:1]}\n" % (base, self.faultd.port))

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def history(self, hours=30):
        """hours of hourly page history ending an hour ago, imported: (times, values in ms)."""
        now = int(time.time())
        t0 = now - now % HOUR - hours * HOUR
        pts = [(t0 + i * HOUR, 100.0 + i % 5) for i in range(hours)]
        path = os.path.join(self.dir, "home.txt")
        with open(path, "w") as f:
            f.write("".join("%d %.3f\n" % tv for tv in pts))
        p = cli("import", "-c", self.config, "home", path)
        self.assertEqual(p.returncode, 0, p.stderr)
        return pts

    def test_version_and_help(self):
        for args in (["-V"], ["--version"]):
            p = cli(*args)
            self.assertEqual((p.returncode, p.stdout.split()[0]), (0, "benchwatch"), args)
        for c in COMMANDS:
            for flag in ("--version", "-V"):
                p = cli(c, flag)
                self.assertEqual(p.returncode, 0, (c, flag, p.stderr))
                self.assertRegex(p.stdout, r"^benchwatch \d+\.\d+")
            p = cli("help", c)
            self.assertEqual(p.returncode, 0, (c, p.stderr))
            self.assertEqual(p.stdout, cli(c, "--help").stdout)
            self.assertIn("usage: benchwatch " + c, p.stdout)
        self.assertEqual(cli("help", "nope").returncode, 64)
        daemon = os.environ.get("BW_DAEMON", "")
        for flag in ("-V", "--version"):
            p = subprocess.run([daemon, flag], capture_output=True, text=True)
            self.assertEqual((p.returncode, p.stdout.split()[0]), (0, "benchwatchd"))

    def test_run_letters_are_abs(self):
        url = self.faultd.base + "/delay?ms=1"
        # Letters ab gives other meanings are not taken (ab: -b window size, -d no percentiles,
        # -C cookie, -t time limit).
        for letter in ("-b", "-d", "-C", "-t"):
            p = cli("run", letter, "x", url)
            self.assertEqual(p.returncode, 64, letter)
        # ab's -s is seconds: a bare number is accepted as such.
        p = cli("run", "--json", "-n", "2", "-c", "2", "-s", "5", url)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(json.loads(p.stdout)["requests"], 2)
        # A configured test by name: --config FILE TEST (and the older --test NAME).
        for args in (["--config", self.config, "home"], ["--config", self.config, "--test", "home"]):
            p = cli("run", "--json", *args)
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertEqual(json.loads(p.stdout)["complete"], 6)

    def test_progress_on_a_terminal_only(self):
        # 8 requests of 300 ms one at a time: at least 2.4 s, the progress line shows meanwhile.
        url = self.faultd.base + "/delay?ms=300"
        rc, out, term = with_pty_stderr(["run", "-n", "8", url])
        self.assertEqual(rc, 0, term)
        self.assertRegex(term, r"Completed \d of 8 requests")
        self.assertTrue(term.endswith("\r\x1b[K"), repr(term[-40:]))
        self.assertIn("Complete requests:", out)
        # On two threads the count is theirs together (4 requests of 300 ms on each slot).
        rc, out, term = with_pty_stderr(["run", "-n", "8", "-c", "2", "--threads", "2", url])
        self.assertEqual(rc, 0, term)
        counts = [int(n) for n in re.findall(r"Completed (\d) of 8 requests", term)]
        self.assertTrue(counts and max(counts) >= 2, term)
        rc, out, term = with_pty_stderr(["run", "-q", "-n", "3", url])
        self.assertEqual((rc, term), (0, ""))
        p = cli("run", "-n", "3", url)  # stderr a pipe: nothing
        self.assertEqual((p.returncode, p.stderr), (0, ""))
        # A download: bytes, rate and time as they grow (3 MB at 1 MB/s).
        rc, out, term = with_pty_stderr(["run", "--download", "--interval", "100ms",
                                         self.faultd.base + "/trickle?rate=1000000&size=3000000"])
        self.assertEqual(rc, 0, term)
        seen = re.findall(r"([\d.]+) MB received, ([\d.]+) MB/s, [\d.]+ s", term)
        mb = [float(m) for m, _ in seen]
        self.assertTrue(mb and 0 < max(mb) <= 3.0, term)
        self.assertEqual(mb, sorted(mb))
        self.assertTrue(any(0 < float(r) <= 3.0 for _, r in seen), term)

    def test_history_reads_without_writing(self):
        missing = os.path.join(self.dir, "typo.db")
        for c in (["regressions"], ["baseline", "home"], ["history", "home"], ["export", "home"],
                  ["backtest", "-c", self.config, "home"], ["report"], ["export", "--all"]):
            p = cli(*c, "--db", missing)
            self.assertEqual(p.returncode, 66, (c, p.stderr))
            self.assertIn("no such database", p.stderr)
            self.assertFalse(os.path.exists(missing), c)
        self.history()
        # A database nobody may write is read as it is; the file and its WAL stay untouched.
        con = sqlite3.connect(self.db)
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        con.close()
        before = {n: os.stat(os.path.join(self.dir, n)).st_mtime_ns for n in os.listdir(self.dir)
                  if n.startswith("bw.db")}
        os.chmod(self.db, 0o444)
        for c in (["regressions", "--json"], ["baseline", "home", "--json"],
                  ["history", "home", "--json"], ["export", "home", "--json"],
                  ["report", "--json"], ["backtest", "home", "--json"]):
            p = cli(*c, "-c", self.config)
            self.assertEqual(p.returncode, 0, (c, p.stderr))
            json.loads(p.stdout)
        after = {n: os.stat(os.path.join(self.dir, n)).st_mtime_ns for n in os.listdir(self.dir)
                 if n.startswith("bw.db") and n in before}
        self.assertEqual(before, after)

    def test_since_until_dates(self):
        pts = self.history(30)
        day = pts[10][0]
        date = iso(day)[:10]
        # history and export agree on the period a date or a time gives.
        p = cli("history", "-c", self.config, "home", "--json", "--since", iso(pts[10][0]),
                "--until", iso(pts[20][0]))
        self.assertEqual(p.returncode, 0, p.stderr)
        got = json.loads(p.stdout)
        self.assertEqual([r["started_us"] for r in got], [t * 1000000 for t, _ in pts[10:20]])
        self.assertEqual({(r["test"], r["backend"], r["metric"]) for r in got},
                         {("home", "", "p50_us")})
        self.assertEqual([r["value"] for r in got], [round(v * 1000) for _, v in pts[10:20]])
        midnight = int(datetime.datetime.strptime(date, "%Y-%m-%d").replace(
            tzinfo=datetime.timezone.utc).timestamp())
        p = cli("export", "-c", self.config, "home", "--ndjson", "--since", date)
        self.assertEqual(p.returncode, 0, p.stderr)
        got = [json.loads(x)["started_us"] for x in p.stdout.splitlines()]
        self.assertEqual(got, [t * 1000000 for t, _ in pts if t >= midnight])
        for bad in ("yesterday", "30", "2026-13-01"):
            p = cli("history", "-c", self.config, "home", "--since", bad)
            self.assertEqual(p.returncode, 64, bad)
            self.assertIn("expected a duration back from now", p.stderr)

    def test_json_everywhere_one_convention(self):
        self.history(30)
        p = cli("run", "--config", self.config, "home", "--store")
        self.assertEqual(p.returncode, 0, p.stderr)
        run = json.loads(cli("export", "-c", self.config, "home", "--json").stdout)[-1]
        self.assertEqual(len(run["samples"]), 6)
        self.assertTrue(5000 <= run["p50_us"] < 60000000, run["p50_us"])
        bl = json.loads(cli("baseline", "-c", self.config, "home", "--json").stdout)
        self.assertEqual([(b["test"], b["backend"], b["metric"], b["state"]) for b in bl],
                         [("home", "", "p50_us", "normal")])
        self.assertTrue(100000 <= bl[0]["mode"] <= 104000, bl)  # µs, as p50_us is stored
        rep = json.loads(cli("report", "-c", self.config, "--json", "--since", "2d").stdout)
        home = [t for t in rep["targets"] if t["test"] == "home"]
        self.assertEqual(len(home), 1)
        self.assertEqual(home[0]["metric"], "p50_us")
        self.assertEqual(home[0]["baseline"], bl[0]["mode"])
        self.assertEqual(json.loads(cli("regressions", "-c", self.config, "--json").stdout), [])
        cc = json.loads(cli("check-config", "--json", self.config).stdout)
        self.assertEqual((cc["valid"], cc["tests"], cc["targets"], cc["errors"]),
                         (True, 2, 3, []))
        bad = os.path.join(self.dir, "bad.yaml")
        with open(bad, "w") as f:
            f.write("tests: [{name: x, kind: page, url: \"http://a/\", requests: 0}]\n")
        p = cli("check-config", "--json", bad)
        self.assertEqual(p.returncode, 78)
        cc = json.loads(p.stdout)
        self.assertFalse(cc["valid"])
        self.assertTrue(any("requests" in e for e in cc["errors"]), cc)

    def test_export_all_import_round_trip(self):
        """Every run of every target out as NDJSON, into a fresh database, out again: the same
        bytes; the database holds the same runs and samples."""
        self.history(30)
        for test in ("home", "tarball"):
            p = cli("run", "--config", self.config, test, "--store")
            self.assertIn(p.returncode, (0, 1), p.stderr)  # 127.0.0.1:1 refuses: a failed run
        p = cli("export", "-c", self.config, "--all")
        self.assertEqual(p.returncode, 0, p.stderr)
        first = p.stdout
        records = [json.loads(x) for x in first.splitlines()]
        self.assertEqual(len(records), 33)
        self.assertEqual({(r["test"], r["backend"], r["outcome"]) for r in records},
                         {("home", "", "ok"), ("tarball", "127.0.0.1:%d" % self.faultd.port, "ok"),
                          ("tarball", "127.0.0.1:1", "failed")})
        self.assertTrue(any(isinstance(r["rps"], float) for r in records))
        # The client that ran each page run goes out and comes back; imported history and
        # downloads have none.
        self.assertEqual({r["engine"] for r in records if r["test"] == "home"}, {None, "lean"})
        self.assertEqual({r["engine"] for r in records if r["test"] == "tarball"}, {None})
        p = cli("history", "-c", self.config, "--json", "home")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual([h["engine"] for h in json.loads(p.stdout)][-2:], [None, "lean"])
        path = os.path.join(self.dir, "all.ndjson")
        with open(path, "w") as f:
            f.write(first)
        fresh = os.path.join(self.dir, "fresh.db")
        p = cli("import", "--db", fresh, "--json", path)
        self.assertEqual(p.returncode, 0, p.stderr)
        out = json.loads(p.stdout)
        self.assertEqual(out["files"], [{"path": path, "imported": 33, "already_there": 0}])
        p = cli("export", "--db", fresh, "--all")
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertEqual(p.stdout, first)
        cols = "started_us, outcome, error_class, p50_us, rps, rate_bps, bytes, remote_ip, engine"
        q = ("SELECT t.name, t.backend, t.kind, %s FROM run r JOIN target t ON t.id = r.target_id"
             " ORDER BY r.id" % cols)
        qs = "SELECT run_id, seq, at_us, duration_us, bytes, status FROM sample ORDER BY run_id, seq"
        a, b = sqlite3.connect(self.db), sqlite3.connect(fresh)
        try:
            self.assertEqual(a.execute(q).fetchall(), b.execute(q).fetchall())
            self.assertEqual(a.execute(qs).fetchall(), b.execute(qs).fetchall())
            self.assertGreater(a.execute("SELECT count(*) FROM sample").fetchone()[0], 6)
        finally:
            a.close()
            b.close()
        # Again: nothing added. A damaged line: nothing imported, the line named.
        p = cli("import", "--db", fresh, path)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn(": 0 runs imported, 33 already there", p.stdout)
        broken = os.path.join(self.dir, "broken.ndjson")
        lines = first.splitlines()
        lines[4] = lines[4].replace('"outcome":"ok"', '"outcome":"fine"')
        lines[7] = lines[7][:40]
        engined = next(i for i, x in enumerate(lines) if '"engine":"lean"' in x)
        lines[engined] = lines[engined].replace('"engine":"lean"', '"engine":"fast"')
        with open(broken, "w") as f:
            f.write("\n".join(lines) + "\n")
        other = os.path.join(self.dir, "other.db")
        p = cli("import", "--db", other, broken)
        self.assertEqual(p.returncode, 65)
        self.assertIn("%s:5: outcome: expected ok, failed, partial or aborted" % broken, p.stderr)
        self.assertIn("%s:8: " % broken, p.stderr)
        self.assertIn("%s:%d: engine: expected lean, curl or null, got fast"
                      % (broken, engined + 1), p.stderr)
        self.assertFalse(os.path.exists(other))


if __name__ == "__main__":
    unittest.main()
