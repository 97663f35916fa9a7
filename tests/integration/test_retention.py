"""Retention: benchwatch prune and the daemon's daily pass delete old samples and runs, keep the
runs regressions need and the days of the runs they delete, and give the space back."""
import json
import os
import pty
import shutil
import signal
import sqlite3
import subprocess
import tempfile
import unittest

from harness import CLI, Faultd
from test_daemon import Daemon, sql

DAY = 86400 * 1000000
OLD = 500 * DAY  # the old runs are moved this far back


class RetentionTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.faultd = Faultd()

    @classmethod
    def tearDownClass(cls):
        cls.faultd.stop()

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="bw-retention-")
        self.db = os.path.join(self.dir, "bw.db")
        self.config = os.path.join(self.dir, "bw.yaml")
        with open(self.config, "w") as f:
            f.write("database: bw.db\nretention: {samples: 30d, runs: 400d}\n"
                    "tests:\n"
                    "  - {name: a, kind: page, requests: 100, every: 1h, url: \"%s/bytes?size=10\"}\n"
                    "  - {name: b, kind: page, requests: 100, every: 1h, url: \"%s/bytes?size=10\"}\n"
                    % (self.faultd.base, self.faultd.base))
        # Six runs of each test; the first four of each moved 500 days back.
        for name in ("a", "b"):
            for _ in range(6):
                subprocess.run([CLI, "run", "--config", self.config, name, "--store"], check=True,
                               capture_output=True, timeout=60)
        con = sqlite3.connect(self.db)
        with con:
            ids = {}
            for name in ("a", "b"):
                ids[name] = [r[0] for r in con.execute(
                    "SELECT r.id FROM run r JOIN target t ON t.id = r.target_id WHERE t.name = ?"
                    " ORDER BY r.id", (name,))]
                con.execute("UPDATE run SET started_us = started_us - ? WHERE id IN (%s)"
                            % ",".join(map(str, ids[name][:4])), (OLD,))
            # A closed regression of a that an old run opened: that run stays.
            con.execute("INSERT INTO regression (target_id, metric, opened_us, closed_us,"
                        " open_run_id, baseline, observed, ratio) SELECT target_id, 'p50_us',"
                        " started_us, started_us + 1, id, 1, 2, 2 FROM run WHERE id = ?",
                        (ids["a"][0],))
            # An open regression of b opened a day after its old runs: its baseline window
            # (detect.window, 7d) needs them.
            con.execute("INSERT INTO regression (target_id, metric, opened_us, baseline, observed,"
                        " ratio) SELECT target_id, 'p50_us', max(started_us) + ?, 1, 2, 2 FROM run"
                        " WHERE id IN (%s)" % ",".join(map(str, ids["b"][:4])), (DAY,))
        con.close()
        self.ids = ids

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def prune(self, *args):
        p = subprocess.run([CLI, "prune", "-c", self.config, "--json", *args],
                           capture_output=True, text=True, timeout=120)
        self.assertEqual(p.returncode, 0, p.stderr)
        return json.loads(p.stdout)

    def test_prune_keeps_what_regressions_need_and_the_days(self):
        days = sql(self.db, "SELECT target_id, day, runs, p50_med_us FROM run_day ORDER BY 1, 2")
        pages = sql(self.db, "PRAGMA page_count")[0][0]
        self.assertEqual(sql(self.db, "PRAGMA auto_vacuum"), [(2,)])  # a new file shrinks
        dry = self.prune("--dry-run")
        self.assertEqual(sql(self.db, "SELECT count(*) FROM run"), [(12,)])  # nothing gone
        done = self.prune()
        self.assertTrue(dry["dry_run"])
        self.assertFalse(done["dry_run"])
        # Old samples: 8 runs of 100 requests. Old runs: a's 2nd to 4th; a's 1st opened a
        # regression, b's four are the baseline of b's open one.
        self.assertEqual((done["samples"], done["runs"], done["runs_kept"]), (800, 3, 5))
        self.assertEqual((dry["samples"], dry["runs"], dry["runs_kept"]), (800, 3, 5))
        left = sorted(r[0] for r in sql(self.db, "SELECT id FROM run"))
        self.assertEqual(left, sorted([self.ids["a"][0]] + self.ids["a"][4:] + self.ids["b"]))
        self.assertEqual(sql(self.db, "SELECT count(*) FROM sample WHERE run_id IN (%s)"
                                      % ",".join(map(str, self.ids["a"][4:] + self.ids["b"][4:]))),
                         [(400,)])
        self.assertEqual(sql(self.db, "SELECT count(*) FROM sample"), [(400,)])
        # The days of the deleted runs are as they were.
        self.assertEqual(sql(self.db, "SELECT target_id, day, runs, p50_med_us FROM run_day "
                                      "ORDER BY 1, 2"), days)
        # The file gave the pages back.
        self.assertGreater(done["bytes_freed"], 0)
        self.assertLess(sql(self.db, "PRAGMA page_count")[0][0], pages)
        self.assertEqual(sql(self.db, "PRAGMA integrity_check"), [("ok",)])
        # The pass is recorded; a second one finds nothing more.
        self.assertEqual(sql(self.db, "SELECT samples, runs, done_us IS NOT NULL FROM prune"),
                         [(800, 3, 1)])
        again = self.prune()
        self.assertEqual((again["samples"], again["runs"]), (0, 0))

    def test_terminal_gets_a_dry_run(self):
        # On a terminal, prune says what it would delete and deletes nothing without --yes.
        pid, fd = pty.fork()
        if pid == 0:
            os.execv(CLI, [CLI, "prune", "-c", self.config])
        out = b""
        while True:
            try:
                chunk = os.read(fd, 4096)
            except OSError:
                break
            if not chunk:
                break
            out += chunk
        _, status = os.waitpid(pid, 0)
        os.close(fd)
        text = out.decode()
        self.assertEqual(os.waitstatus_to_exitcode(status), 0, text)
        self.assertIn("runs before", text)
        self.assertIn("3 to delete, 5 kept for regressions", text)
        self.assertIn("nothing deleted: run with --yes to delete", text)
        self.assertEqual(sql(self.db, "SELECT count(*) FROM run"), [(12,)])

    def test_daemon_prunes_when_due(self):
        d = Daemon(self.config)
        try:
            d.wait_log("retention: deleted 800 samples and 3 runs (5 older runs kept for "
                       "regressions)", timeout=60)
            self.assertEqual(d.stop(), 0)
        finally:
            if d.proc.poll() is None:
                d.stop(signal.SIGKILL)
        self.assertEqual(sql(self.db, "SELECT count(*) FROM run"), [(9,)])
        self.assertEqual(sql(self.db, "SELECT samples, runs FROM prune"), [(800, 3)])


if __name__ == "__main__":
    unittest.main(verbosity=2)
