"""Page tests on more than one core (threads: N): every request made and kept, the concurrency
split among the threads, both engines; stopping (SIGINT in run, SIGTERM to the daemon) ends
every thread and keeps what was measured. The database is read with the real sqlite3 CLI."""
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import unittest

from harness import CLI, Nginx, run, run_one
from test_daemon import Daemon


def sql(db, query):
    out = subprocess.run(["sqlite3", "-separator", "|", db, query], check=True,
                         capture_output=True, text=True)
    return [line.split("|") for line in out.stdout.splitlines()]


def log_lines(path, tag):
    """nginx's log lines of the requests for a URL with ?run=TAG (each test has its own, so that
    the requests of another one, logged late, are not counted)."""
    try:
        with open(path) as f:
            return [x for x in f.read().splitlines() if "?run=%s " % tag in x]
    except FileNotFoundError:
        return []


def logged(path, tag, n):
    """Those lines once there are n of them (nginx writes a line after the response is sent,
    so the client may be done first), or what there is after 30 s."""
    deadline = time.monotonic() + 30
    while len(log_lines(path, tag)) < n and time.monotonic() < deadline:
        time.sleep(0.05)
    return log_lines(path, tag)


class ThreadsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not shutil.which("sqlite3"):
            raise unittest.SkipTest("sqlite3 not installed")
        cls.nginx = Nginx(big="1M", access_log=True, workers=2)

    @classmethod
    def tearDownClass(cls):
        cls.nginx.stop()

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="bw-threads-")
        self.db = os.path.join(self.dir, "bw.db")

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def test_every_request_on_two_threads(self):
        for engine in ("lean", "curl"):
            with self.subTest(engine=engine):
                url = self.nginx.base + "/index.html?run=" + engine
                # 401 requests at c=5 on 2 threads: 3 slots and 201 requests, 2 slots and 200.
                rc, r, err = run_one("-n", "401", "-c", "5", "-k", "--threads", "2", "--engine",
                                     engine, "--store", "--db", self.db, "--name", engine, url)
                self.assertEqual(rc, 0, err)
                self.assertEqual((r["outcome"], r["complete"], r["failed"]), ("ok", 401, 0))
                self.assertEqual(len(r["samples"]), 401)
                self.assertEqual(r["engine"], engine)
                # Each thread's own loop finished its own share: one loop would have no shares.
                self.assertEqual(r["thread_requests"], "201 200")
                # The samples are on the run's clock, in the order they started.
                starts = [s["at_us"] for s in r["samples"]]
                self.assertEqual(starts, sorted(starts))
                # nginx saw every request, on one kept-alive connection per slot: 3 + 2.
                lines = logged(self.nginx.access_log, engine, 401)
                self.assertEqual(len(lines), 401)
                self.assertEqual(len({line.split()[0] for line in lines}), 5)
                self.assertEqual({line.split()[2] for line in lines}, {"200"})
                rows = sql(self.db, "SELECT r.engine, r.complete, r.requests,"
                           " (SELECT count(*) FROM sample s WHERE s.run_id = r.id)"
                           " FROM run r JOIN target t ON t.id = r.target_id"
                           " WHERE t.name = '%s'" % engine)
                self.assertEqual(rows, [[engine, "401", "401", "401"]])

    def test_new_connection_each(self):
        # Without keep-alive each request is a connection of its own, from whichever thread.
        rc, r, err = run_one("-n", "60", "-c", "4", "--threads", "2",
                             self.nginx.base + "/index.html?run=new")
        self.assertEqual((rc, r["complete"], r["thread_requests"]), (0, 60, "30 30"), err)
        lines = logged(self.nginx.access_log, "new", 60)
        self.assertEqual(len(lines), 60)
        self.assertEqual(len({line.split()[0] for line in lines}), 60)

    def test_checks_counted_over_threads(self):
        # Failed expect checks are summed over the threads, and a run whose every response failed
        # one fails with class check and the first failure's words, as on one thread.
        for engine in ("lean", "curl"):
            rc, r, err = run_one("-n", "10", "-c", "2", "-k", "--engine", engine, "--threads", "2",
                                 "--expect-status", "204", self.nginx.base + "/index.html?run=chk",
                                 check=False)
            self.assertEqual((rc, r["outcome"], r["error_class"], r["error_message"]),
                             (1, "failed", "check", "HTTP 200, expected 204"), engine)
            self.assertEqual((r["complete"], r["failed_check"], r["failed"], r["thread_requests"]),
                             (10, 10, 10, "5 5"), engine)
            rc, r, err = run_one("-n", "10", "-c", "2", "-k", "--engine", engine, "--threads", "2",
                                 "--expect-status", "200", self.nginx.base + "/index.html?run=ok")
            self.assertEqual((rc, r["outcome"], r["failed_check"], r["failed"]), (0, "ok", 0, 0),
                             engine)

    def test_threads_over_concurrency_is_refused(self):
        rc, _, err = run("--threads", "3", "-c", "2", "-n", "10", self.nginx.base + "/",
                         check=False)
        self.assertEqual(rc, 64, err)
        self.assertIn("threads 3 is greater than concurrency 2", err)
        rc, _, err = run("--threads", "2", "--download", self.nginx.base + "/big.bin",
                         check=False)
        self.assertEqual(rc, 64, err)
        self.assertIn("threads applies only to page tests", err)

    def wait_requests(self, tag, n, proc):
        """Until nginx has logged n requests of tag (the run is under way)."""
        deadline = time.monotonic() + 60
        while len(log_lines(self.nginx.access_log, tag)) < n:
            self.assertIsNone(proc.poll(), "the run ended early")
            self.assertLess(time.monotonic(), deadline, "no requests reached nginx")
            time.sleep(0.05)

    def test_sigint_stops_every_thread(self):
        for engine in ("lean", "curl"):
            with self.subTest(engine=engine):
                p = subprocess.Popen([CLI, "run", "--json", "--store", "--db", self.db,
                                      "--name", "int-" + engine, "--engine", engine,
                                      "-n", "1000000", "-c", "4", "-k", "--threads", "2",
                                      self.nginx.base + "/index.html?run=int-" + engine],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                self.wait_requests("int-" + engine, 200, p)
                p.send_signal(signal.SIGINT)
                out, err = p.communicate(timeout=60)
                self.assertEqual(p.returncode, 1, err)  # an aborted run; no sanitizer report
                self.assertNotIn("Sanitizer", err)
                self.assertIn("aborted", err)
                r = json.loads(out)
                self.assertEqual((r["outcome"], r["error_class"]), ("aborted", "aborted"))
                n = len(r["samples"])
                self.assertGreaterEqual(r["complete"], 200 - 8)
                self.assertLess(n, 1000000)
                self.assertEqual(r["complete"] + r["failed"], n)
                per_thread = [int(x) for x in r["thread_requests"].split()]
                self.assertEqual((len(per_thread), sum(per_thread)), (2, n))
                rows = sql(self.db, "SELECT r.outcome, r.engine,"
                           " (SELECT count(*) FROM sample s WHERE s.run_id = r.id)"
                           " FROM run r JOIN target t ON t.id = r.target_id"
                           " WHERE t.name = 'int-%s'" % engine)
                self.assertEqual(rows, [["aborted", engine, str(n)]])

    def test_daemon_stop_during_threads(self):
        config = os.path.join(self.dir, "bw.yaml")
        with open(config, "w") as f:
            f.write("database: bw.db\ntests:\n"
                    "  - {name: busy, kind: page, every: 1h, jitter: 0, requests: 1000000,"
                    " concurrency: 4, keepalive: true, threads: 2,"
                    " url: \"%s/index.html?run=daemon\"}\n" % self.nginx.base)
        d = Daemon(config, args=["--once"])
        try:
            self.wait_requests("daemon", 200, d.proc)
            self.assertEqual(d.stop(), 0, d.log())
        finally:
            if d.proc.poll() is None:
                d.stop(signal.SIGKILL)
        self.assertNotIn("Sanitizer", d.log())
        rows = sql(self.db, "SELECT outcome, engine, complete + failed,"
                   " (SELECT count(*) FROM sample s WHERE s.run_id = run.id) FROM run")
        self.assertEqual(len(rows), 1, rows)
        outcome, engine, counted, stored = rows[0]
        self.assertEqual((outcome, engine), ("aborted", "lean"))
        self.assertEqual(counted, stored)  # every request that ended is a sample
        self.assertGreaterEqual(int(stored), 200 - 8)


if __name__ == "__main__":
    unittest.main(verbosity=2)
