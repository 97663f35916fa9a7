"""benchwatchd as systemd runs it: schedule, storage, reload, stop, notify, concurrent readers."""
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import tempfile
import threading
import time
import unittest

from harness import CLI, Faultd, Nginx

DAEMON = os.environ.get("BW_DAEMON", "")


def sql(db, query):
    con = sqlite3.connect(db, timeout=10)
    try:
        return con.execute(query).fetchall()
    finally:
        con.close()


class Daemon:
    def __init__(self, config, env=None, args=()):
        self.err_path = config + ".log"
        self.err = open(self.err_path, "w")
        e = dict(os.environ)
        e.update(env or {})
        self.proc = subprocess.Popen([DAEMON, "--config", config, *args], stderr=self.err,
                                     env=e)

    def log(self):
        with open(self.err_path) as f:
            return f.read()

    def wait_log(self, text, timeout=15):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in self.log():
                return
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        raise AssertionError("no %r in the log:\n%s" % (text, self.log()))

    def stop(self, sig=signal.SIGTERM, timeout=10):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        rc = self.proc.wait(timeout=timeout)
        self.err.close()
        return rc


class DaemonTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.nginx = Nginx(big="1M")
        cls.faultd = Faultd()

    @classmethod
    def tearDownClass(cls):
        cls.nginx.stop()
        cls.faultd.stop()

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="bw-daemon-")
        self.config = os.path.join(self.dir, "bw.yaml")
        self.db = os.path.join(self.dir, "bw.db")

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def write(self, tests, extra=""):
        with open(self.config, "w") as f:
            f.write("database: bw.db\n%sdefaults: {every: 2s, jitter: 0}\ntests:\n" % extra)
            for t in tests:
                f.write("  - %s\n" % t)

    def page(self, name, path="/index.html"):
        return '{name: %s, kind: page, url: "%s%s", requests: 5}' % (name, self.nginx.base, path)

    def test_log_line_reads_a_backend_against_the_others(self):
        # Two backends of one download, one behind a 200 KB/s limit: the daemon's line for the
        # slow one reads it against the other's latest run, as the report does.
        shaped = Nginx(big="1M", limit_rate="200k")
        try:
            self.write(['{name: big, kind: download, url: "%s/big.bin", backends: '
                        '["127.0.0.1:%d", "127.0.0.1:%d"]}' % (self.nginx.base, self.nginx.port,
                                                              shaped.port)])
            d = Daemon(self.config, args=["--once"])
            self.assertEqual(d.proc.wait(timeout=60), 0, d.log())
            d.err.close()
        finally:
            shaped.stop()
        line = [l for l in d.log().splitlines() if "big [127.0.0.1:%d]" % shaped.port in l]
        self.assertEqual(len(line), 1, d.log())
        self.assertRegex(line[0], r"for the whole transfer, steady \(the other 1 backend "
                                  r"[0-9.]+ [MG]B/s\)[^;]*: the path is shaped or congested, not "
                                  r"stalled")
        fast = [l for l in d.log().splitlines() if "big [127.0.0.1:%d]" % self.nginx.port in l]
        self.assertNotIn("shaped", fast[0])

    def test_run_reads_a_backend_against_the_others(self):
        # benchwatch run with two backends measures both, then diagnoses each against the other.
        shaped = Nginx(big="1M", limit_rate="200k")
        try:
            p = subprocess.run([CLI, "run", "--download", "--backend", "127.0.0.1:%d" % shaped.port,
                                "--backend", "127.0.0.1:%d" % self.nginx.port,
                                self.nginx.base + "/big.bin"],
                               capture_output=True, text=True, timeout=120)
        finally:
            shaped.stop()
        self.assertEqual(p.returncode, 0, p.stderr)
        first, second = p.stdout.split("== backend 127.0.0.1:%d" % self.nginx.port)
        self.assertRegex(first, r"Diagnosis: [0-9]+ KB/s for the whole transfer, steady \(the "
                                r"other 1 backend [0-9.]+ [MG]B/s\)")
        self.assertNotIn("shaped", second)

    def test_repeated_broken_reload_logged_each_time(self):
        # The same broken file, reloaded three times in a row: each reload says why, in full,
        # however soon after the last (the log otherwise holds back a repeat within a minute).
        self.write(['{name: home, kind: page, url: "%s/index.html", every: 1h}'
                    % self.nginx.base])
        d = Daemon(self.config)
        try:
            d.wait_log("1 targets scheduled")
            self.write(['{name: home, kind: pgae, url: "%s/index.html", every: 1h}'
                        % self.nginx.base])
            error = ('<3>%s:4:24: tests[0].kind: expected page, download or connect, got "pgae"\n'
                     % self.config)
            verdict = ("<3>%s is not valid: keeping the running configuration\n"
                       % self.config)
            for n in (1, 2, 3):
                d.proc.send_signal(signal.SIGHUP)
                deadline = time.monotonic() + 30
                while d.log().count(verdict) < n and time.monotonic() < deadline:
                    self.assertIsNone(d.proc.poll(), d.log())
                    time.sleep(0.05)
                log = d.log()
                self.assertEqual(log.count(verdict), n, log)
                self.assertEqual(log.count(error), n, log)
                self.assertEqual(log.count("<6>reloading %s\n" % self.config), n, log)
            self.assertNotIn("more like it", d.log())
            self.assertEqual(d.stop(), 0)
        finally:
            if d.proc.poll() is None:
                d.stop(signal.SIGKILL)

    def test_runs_at_aligned_times_and_reload(self):
        self.write([self.page("home"), self.page("small", "/small.txt")])
        d = Daemon(self.config)
        try:
            time.sleep(5.2)
            rows = sql(self.db, "SELECT test, started_us, outcome FROM runs_readable")
            for name in ("home", "small"):
                self.assertGreaterEqual(len([r for r in rows if r[0] == name]), 2, rows)
            # Every run starts on an even second (every: 2s), the queue adding only the time the
            # run before it took.
            for _, started, outcome in rows:
                self.assertEqual(outcome, "ok")
                self.assertLess(started % 2000000, 300000, started)
            # SIGHUP with a new test: it starts running; the others keep their identity.
            ids = dict(sql(self.db, "SELECT name, id FROM target"))
            self.write([self.page("home"), self.page("small", "/small.txt"),
                        self.page("added")])
            d.proc.send_signal(signal.SIGHUP)
            d.wait_log("3 targets: 1 added, 0 changed, 0 removed")
            d.wait_log("added: ok", timeout=5)
            ids2 = dict(sql(self.db, "SELECT name, id FROM target"))
            self.assertEqual(ids2["home"], ids["home"])
            self.assertEqual(ids2["small"], ids["small"])
            # SIGHUP with a broken file: every error logged, the old config keeps running.
            with open(self.config, "a") as f:
                f.write("  - {name: bad, kind: pgae, url: 'http://h/'}\n")
            before = sql(self.db, "SELECT count(*) FROM run")[0][0]
            d.proc.send_signal(signal.SIGHUP)
            d.wait_log("keeping the running configuration")
            self.assertIn("<3>%s:" % self.config, d.log())
            self.assertIn('tests[3].kind: expected page, download or connect, got "pgae"', d.log())
            time.sleep(2.5)
            self.assertGreater(sql(self.db, "SELECT count(*) FROM run")[0][0], before)
            self.assertIsNone(d.proc.poll())
            self.assertEqual(d.stop(), 0)
        finally:
            if d.proc.poll() is None:
                d.stop(signal.SIGKILL)
        self.assertEqual(sql(self.db, "PRAGMA integrity_check"), [("ok",)])
        self.assertIn("<6>stopped", d.log())

    def test_sigterm_during_download_stores_aborted(self):
        self.write(['{name: slow, kind: download, every: 1h, jitter: 0, '
                    'url: "%s/trickle?rate=100000&size=100000000"}' % self.faultd.base])
        d = Daemon(self.config, args=["--once"])
        time.sleep(1.5)
        t0 = time.monotonic()
        rc = d.stop()
        self.assertEqual(rc, 0)
        self.assertLess(time.monotonic() - t0, 3)
        rows = sql(self.db, "SELECT outcome, error_class, bytes, rate_bps FROM run")
        self.assertEqual(len(rows), 1)
        outcome, cls, nbytes, rate = rows[0]
        self.assertEqual((outcome, cls, rate), ("aborted", "aborted", None))
        self.assertGreater(nbytes, 50000)  # about 1.5 s at 100 KB/s was received and kept
        self.assertEqual(sql(self.db, "PRAGMA integrity_check"), [("ok",)])

    def test_sigterm_during_streams_stores_aborted(self):
        # Four streams stopped together: one aborted run, the bytes of all four kept, no rate.
        self.write(['{name: slow, kind: download, every: 1h, jitter: 0, streams: 4, '
                    'url: "%s/trickle?rate=100000&size=100000000"}' % self.faultd.base])
        d = Daemon(self.config, args=["--once"])
        time.sleep(1.5)
        rc = d.stop()
        self.assertEqual(rc, 0)
        rows = sql(self.db, "SELECT outcome, error_class, bytes, rate_bps, error_message FROM run")
        self.assertEqual(len(rows), 1)
        outcome, cls, nbytes, rate, msg = rows[0]
        self.assertEqual((outcome, cls, rate), ("aborted", "aborted", None))
        self.assertRegex(msg, r"^stream 1 of 4: ")
        self.assertGreater(nbytes, 4 * 50000)  # about 1.5 s of each stream at 100 KB/s
        self.assertEqual(sql(self.db, "PRAGMA integrity_check"), [("ok",)])

    def test_busy_target_skips_its_turn(self):
        # A 2.5 s download due every second: the turns that come while it runs are skipped,
        # logged and counted, never queued up behind it.
        self.write(['{name: slow, kind: download, every: 1s, jitter: 0, '
                    'url: "%s/trickle?rate=400000&size=1000000"}' % self.faultd.base])
        d = Daemon(self.config)
        try:
            # Two runs take at most 1 s (the first turn) + 2.5 s + 1 s (the next turn) + 2.5 s:
            # a second to spare on a loaded machine, and no room for a third.
            time.sleep(7.5)
        finally:
            self.assertEqual(d.stop(), 0)
        log = d.log()
        skips = log.count("slow: skipped this turn: the previous run is still running")
        runs = sql(self.db, "SELECT count(*) FROM run WHERE outcome = 'ok'")[0][0]
        self.assertGreaterEqual(runs, 2)
        self.assertGreaterEqual(skips, 1)  # the log holds repeats back: at least one line
        self.assertLessEqual(runs, 3)

    def test_once(self):
        self.write([self.page("a"), self.page("b"),
                    '{name: c, kind: download, url: "%s/big.bin", backends: ["127.0.0.1:%d", '
                    '"127.0.0.1:%d"]}' % (self.nginx.base, self.nginx.port, self.nginx.port)])
        # Both backends are one nginx reached by two names: two targets all the same.
        with open(self.config) as f:
            text = f.read().replace('"127.0.0.1:%d"]' % self.nginx.port,
                                    '"localhost:%d"]' % self.nginx.port, 1)
        with open(self.config, "w") as f:
            f.write(text)
        p = subprocess.run([DAEMON, "--config", self.config, "--once"], capture_output=True,
                           text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        rows = sql(self.db, "SELECT test, backend, outcome FROM runs_readable ORDER BY test, "
                            "backend")
        self.assertEqual([r[:2] for r in rows], [
            ("a", ""), ("b", ""), ("c", "127.0.0.1:%d" % self.nginx.port),
            ("c", "localhost:%d" % self.nginx.port)])
        self.assertEqual({r[2] for r in rows}, {"ok"})

    def test_notify_socket(self):
        self.write([self.page("home")])
        path = os.path.join(self.dir, "notify")
        s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        s.bind(path)
        s.settimeout(0.2)
        d = Daemon(self.config, env={"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "400000"})
        got = []

        def read_for(seconds):
            deadline = time.monotonic() + seconds
            while time.monotonic() < deadline:
                try:
                    got.extend(s.recv(4096).decode().split("\n"))
                except socket.timeout:
                    pass

        try:
            read_for(1.5)
            self.assertIn("READY=1", got)
            self.assertTrue(any(m.startswith("STATUS=1 targets") for m in got), got)
            # WATCHDOG_USEC/2 = 200 ms: about 7 pings in 1.5 s.
            self.assertGreaterEqual(got.count("WATCHDOG=1"), 5)
            got.clear()
            d.proc.send_signal(signal.SIGHUP)
            read_for(0.6)
            self.assertLess(got.index("RELOADING=1"), got.index("READY=1"))
            got.clear()
            d.proc.send_signal(signal.SIGTERM)
            read_for(0.5)
            self.assertIn("STOPPING=1", got)
            self.assertEqual(d.stop(), 0)
        finally:
            s.close()
            if d.proc.poll() is None:
                d.stop(signal.SIGKILL)

    def test_a_dead_node_delays_no_other_target(self):
        # A node that answers nothing takes its whole 5 s timeout every turn; a page on another
        # server, every second, keeps its schedule beside it. With one run at a time it would
        # wait behind the dead node and skip most of its turns.
        self.write(['{name: hole, kind: page, url: "%s/delay?ms=30000", requests: 1,'
                    ' timeout: 5s, every: 1s}' % self.faultd.base,
                    '{name: fast, kind: page, url: "%s/index.html", requests: 3, every: 1s}'
                    % self.nginx.base])
        d = Daemon(self.config)
        try:
            d.wait_log("fast: ok", timeout=30)
            deadline = time.monotonic() + 60
            while d.log().count("fast: ok") < 10 and time.monotonic() < deadline:
                time.sleep(0.2)
            self.assertGreaterEqual(d.log().count("hole: failed"), 1)
        finally:
            self.assertEqual(d.stop(), 0)
        log = d.log()
        fast = log.count("fast: ok")
        hole = log.count("hole: failed")
        self.assertGreaterEqual(fast, 10)
        # fast ran about once a second while hole took 5 s a run: several fast runs per hole run
        self.assertGreaterEqual(fast, 2 * hole)
        self.assertLessEqual(log.count("fast: skipped this turn"), 2)

    def test_same_server_never_twice_at_once(self):
        # Two tests on one server, max_parallel 4: their runs never overlap (the database's
        # start and duration say so), so neither measures the other.
        self.write([self.page("one", "/index.html"), self.page("two", "/index.html")],
                   extra="max_parallel: 4\n")
        d = Daemon(self.config)
        try:
            deadline = time.monotonic() + 60
            while d.log().count(" (run ") < 8 and time.monotonic() < deadline:
                time.sleep(0.2)
        finally:
            self.assertEqual(d.stop(), 0)
        rows = sql(self.db, "SELECT started_us, started_us + duration_us FROM run"
                            " WHERE outcome = 'ok' ORDER BY started_us")
        self.assertGreaterEqual(len(rows), 8)
        for (a_start, a_end), (b_start, _) in zip(rows, rows[1:]):
            self.assertLessEqual(a_end, b_start)

    def test_readers_do_not_block_the_writer(self):
        self.write([self.page("r%d" % i) for i in range(4)],
                   extra="max_parallel: 4\n")
        d = Daemon(self.config)
        stop = threading.Event()
        reads = [0]
        errors = []

        def reader():
            while not stop.is_set():
                # As README says: a reader waits out the writer's brief checkpoints.
                p = subprocess.run(["sqlite3", "-cmd", ".timeout 5000", self.db,
                                    "SELECT count(*), max(started_utc) FROM runs_readable; "
                                    "SELECT count(*) FROM sample;"],
                                   capture_output=True, text=True)
                if p.returncode != 0 and "no such table" not in p.stderr:
                    errors.append(p.stderr)
                reads[0] += 1

        threads = [threading.Thread(target=reader) for _ in range(2)]
        try:
            d.wait_log("4 targets scheduled")
            for t in threads:
                t.start()
            time.sleep(6.2)
        finally:
            stop.set()
            for t in threads:
                t.join()
            self.assertEqual(d.stop(), 0)
        log = d.log()
        self.assertNotIn("locked", log)
        self.assertNotIn("NOT STORED", log)
        self.assertEqual(errors, [])
        self.assertGreater(reads[0], 50)
        # No lost runs: every run the log reports is in the database, and the other way round.
        logged = log.count(" (run ")
        self.assertGreaterEqual(logged, 12)
        self.assertEqual(sql(self.db, "SELECT count(*) FROM run")[0][0], logged)

    def test_start_up_errors(self):
        self.write(['{name: a, kind: pgae, url: "http://h/"}'])
        p = subprocess.run([DAEMON, "--config", self.config], capture_output=True, text=True)
        self.assertEqual(p.returncode, 78)
        self.assertIn("tests[0].kind: expected page, download or connect", p.stderr)
        with open(self.config, "w") as f:
            f.write("database: /nonexistent/dir/bw.db\ntests: [{name: a, kind: page, "
                    "url: 'http://h/'}]\n")
        p = subprocess.run([DAEMON, "--config", self.config], capture_output=True, text=True)
        self.assertEqual(p.returncode, 1)
        self.assertIn("/nonexistent/dir/bw.db", p.stderr)
        self.write([self.page("home")])
        sqlite3.connect(self.db).execute("PRAGMA user_version = 999").connection.close()
        p = subprocess.run([DAEMON, "--config", self.config], capture_output=True, text=True)
        self.assertEqual(p.returncode, 1)
        self.assertIn("newer than this benchwatch", p.stderr)
        self.assertEqual(len(p.stderr.strip().splitlines()), 1, p.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
