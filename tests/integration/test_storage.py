"""Storage that cannot keep the loop waiting: a database locked by another process, a full disk,
SIGTERM during a lock, kill -9 under write load. The figures come from the transfers' clocks
whatever the database does; every run is stored, or spooled and stored later; nothing is lost."""
import os
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.request

from harness import Faultd, free_port
from test_daemon import DAEMON, Daemon, sql

# A lock held longer than the writer's 5 s wait for it.
LOCKER = r"""
import sqlite3, sys, time
con = sqlite3.connect(sys.argv[1], timeout=30, isolation_level=None)
con.execute("BEGIN EXCLUSIVE")
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
con.execute("COMMIT")
"""

STORED = re.compile(r" in [0-9.]+ s \(run ([0-9]+)\)")
SPOOLED = "; spooled, not stored yet"
FROM_SPOOL = re.compile(r"from the spool: .*: stored as run ([0-9]+)")


class Locker:
    def __init__(self, db, seconds):
        self.proc = subprocess.Popen([sys.executable, "-c", LOCKER, db, str(seconds)],
                                     stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout.readline().strip() == "locked"
        self.t0 = time.monotonic()

    def release(self):
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait(timeout=10)
        self.proc.stdout.close()


def metrics(port):
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=3) as r:
        return r.read().decode()


def gauge(text, name):
    m = re.search(r"^%s ([0-9.e+-]+)$" % name, text, re.M)
    return float(m.group(1)) if m else None


def log_ids(text):
    """The ids of the runs a log reports as stored, at once or from the spool."""
    return {int(i) for i in STORED.findall(text)} | {int(i) for i in FROM_SPOOL.findall(text)}


def wait_for(what, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if what():
            return True
        time.sleep(0.1)
    return False


class StorageTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.faultd = Faultd()

    @classmethod
    def tearDownClass(cls):
        cls.faultd.stop()

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="bw-storage-")
        self.config = os.path.join(self.dir, "bw.yaml")
        self.db = os.path.join(self.dir, "bw.db")
        self.port = free_port()

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def write(self, every="1s", database="bw.db"):
        # Two targets at once: a store that held up the loop would stretch the other's requests.
        with open(self.config, "w") as f:
            f.write("database: %s\nmax_parallel: 2\nmetrics: {listen: \"127.0.0.1:%d\"}\n"
                    "defaults: {every: %s, jitter: 0}\ntests:\n" % (database, self.port, every))
            for name in ("a", "b"):
                f.write('  - {name: %s, kind: page, requests: 5, url: "%s/delay?ms=50"}\n'
                        % (name, self.faultd.base))

    def check_all_stored(self, logs, db):
        """Every run a log reports as stored is in the database, and the database holds no more
        than the runs the logs report (stored at once, or spooled and then stored)."""
        text = "".join(logs)
        ids = {int(i) for i in STORED.findall(text)} | {int(i) for i in FROM_SPOOL.findall(text)}
        rows = {r[0] for r in sql(db, "SELECT id FROM run")}
        self.assertEqual(rows, ids)
        finished = len(STORED.findall(text)) + text.count(SPOOLED)
        self.assertEqual(len(rows), finished, text)
        self.assertEqual(sql(db, "PRAGMA integrity_check"), [("ok",)])
        self.assertNotIn("LOST", text)

    def test_lock_longer_than_busy_timeout(self):
        self.write()
        notify_path = os.path.join(self.dir, "notify")
        ns = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        ns.bind(notify_path)
        ns.settimeout(0.2)
        statuses = []
        done = threading.Event()

        def read_notify():
            while not done.is_set():
                try:
                    statuses.append(ns.recv(4096).decode())
                except socket.timeout:
                    pass

        reader = threading.Thread(target=read_notify)
        reader.start()
        d = Daemon(self.config, env={"NOTIFY_SOCKET": notify_path})
        locker = None
        try:
            d.wait_log("(run 2)", timeout=20)
            locker = Locker(self.db, 14)
            answered, spool_seen = 0, 0
            while time.monotonic() - locker.t0 < 12:
                t0 = time.monotonic()
                text = metrics(self.port)  # the loop answers while the database is locked
                self.assertLess(time.monotonic() - t0, 2.5)
                answered += 1
                spool_seen = max(spool_seen, gauge(text, "benchwatch_spool_runs") or 0)
                time.sleep(0.3)
            self.assertGreater(answered, 10)
            self.assertGreaterEqual(spool_seen, 1)
            d.wait_log("does not take writes", timeout=5)
            locker.release()
            d.wait_log("takes writes again", timeout=40)
            d.wait_log("(run %d)" % (sql(self.db, "SELECT max(id) FROM run")[0][0] + 2), 20)
            self.assertEqual(gauge(metrics(self.port), "benchwatch_spool_runs"), 0)
            self.assertEqual(d.stop(), 0)
        finally:
            if locker:
                locker.release()
            if d.proc.poll() is None:
                d.stop(signal.SIGKILL)
            done.set()
            reader.join()
            ns.close()
        log = d.log()
        self.assertGreaterEqual(log.count(SPOOLED), 3, log)
        self.assertEqual(log.count(SPOOLED), len(FROM_SPOOL.findall(log)), log)
        # Once per change of state, at warning level.
        self.assertEqual(log.count("<4>database %s does not take writes" % self.db), 1, log)
        self.assertEqual(log.count("<4>database %s takes writes again" % self.db), 1, log)
        self.assertTrue(any("DATABASE NOT TAKING WRITES" in s for s in statuses), statuses)
        self.check_all_stored([log], self.db)
        # The figures are the transfers' own: 50 ms, not the time the store waited.
        lo, hi, n = sql(self.db, "SELECT min(p50_us), max(p50_us), count(*) FROM run "
                                 "WHERE outcome = 'ok'")[0]
        self.assertGreaterEqual(n, 8)
        self.assertGreaterEqual(lo, 50000)
        self.assertLess(hi, 150000)
        self.assertLess(sql(self.db, "SELECT max(max_us) FROM run")[0][0], 1000000)

    def test_sigterm_during_lock(self):
        self.write()
        d = Daemon(self.config)
        locker = None
        try:
            d.wait_log("(run 2)", timeout=20)
            locker = Locker(self.db, 60)
            d.wait_log(SPOOLED, timeout=20)
            t0 = time.monotonic()
            rc = d.stop(timeout=30)
            took = time.monotonic() - t0
        finally:
            if locker:
                locker.release()
            if d.proc.poll() is None:
                d.stop(signal.SIGKILL)
        self.assertEqual(rc, 0)
        self.assertLess(took, 5)
        first = d.log()
        spooled = first.count(SPOOLED)
        self.assertGreaterEqual(spooled, 1)
        self.assertNotIn("LOST", first)
        # The runs of the lock wait in the spool; the next start writes them out first.
        self.assertEqual(sql(self.db, "SELECT count(*) FROM run")[0][0],
                         len(STORED.findall(first)))
        self.write(every="1h")
        d = Daemon(self.config)
        try:
            self.assertTrue(wait_for(lambda: len(FROM_SPOOL.findall(d.log())) >= spooled, 30),
                            d.log())
            self.assertEqual(d.stop(), 0)
        finally:
            if d.proc.poll() is None:
                d.stop(signal.SIGKILL)
        self.assertIn("%d runs from before wait in the spool" % spooled, d.log())
        self.check_all_stored([first, d.log()], self.db)

    def test_kill_9_under_write_load(self):
        self.write()
        logs = []
        for i in range(5):
            d = Daemon(self.config)
            try:
                d.wait_log("(run", timeout=20)
                time.sleep(0.7 + 0.45 * i)
            finally:
                d.proc.kill()
                d.proc.wait(timeout=10)
                d.err.close()
            logs.append(d.log())
        text = "".join(logs)
        stored = {int(i) for i in STORED.findall(text)} | {int(i) for i in
                                                          FROM_SPOOL.findall(text)}
        self.assertGreaterEqual(len(stored), 5)
        rows = {r[0] for r in sql(self.db, "SELECT id FROM run")}
        self.assertLessEqual(stored, rows)  # every run logged as stored is there
        self.assertEqual(sql(self.db, "PRAGMA integrity_check"), [("ok",)])
        # No run is there twice.
        self.assertEqual(sql(self.db, "SELECT count(*) FROM (SELECT target_id, started_us FROM "
                                      "run GROUP BY 1, 2 HAVING count(*) > 1)"), [(0,)])

    def test_full_disk(self):
        if not shutil.which("unshare") or subprocess.run(
                ["unshare", "-rm", "true"], capture_output=True).returncode != 0:
            self.skipTest("a small file system needs user namespaces (unshare -rm)")
        data = os.path.join(self.dir, "data")
        os.mkdir(data)
        self.write(database="data/bw.db")
        log_path = self.config + ".log"
        with open(log_path, "w") as err:
            # The database on a 4 MB tmpfs of its own; the spool, 256 KiB, is allocated beside it.
            proc = subprocess.Popen(
                ["unshare", "-rm", "sh", "-c",
                 'mount -t tmpfs -o size=4m tmpfs "$1" && exec "$2" --config "$3" '
                 '--spool-size 256KiB', "sh", data, DAEMON, self.config], stderr=err)

        def log():
            with open(log_path) as f:
                return f.read()

        root = "/proc/%d/root%s" % (proc.pid, data)
        try:
            self.assertTrue(wait_for(lambda: "(run 2)" in log(), 20), log())
            # Fill the disk: the database's next pages have nowhere to go.
            fill = os.path.join(root, "fill")
            with open(fill, "wb") as f:
                try:
                    while True:
                        f.write(b"\0" * 65536)
                        f.flush()
                except OSError:
                    pass
            self.assertTrue(wait_for(lambda: log().count(SPOOLED) >= 3, 60), log())
            self.assertIn("does not take writes", log())
            os.unlink(fill)
            self.assertTrue(wait_for(lambda: "takes writes again" in log(), 40), log())
            # A copy from the daemon's own mount, which goes when it exits; stopped meanwhile,
            # so that the copy is of a moment (SQLite recovers the WAL without its index).
            before = log_ids(log())
            proc.send_signal(signal.SIGSTOP)
            for name in ("bw.db", "bw.db-wal"):
                shutil.copy(os.path.join(root, name), os.path.join(self.dir, name))
            proc.send_signal(signal.SIGCONT)
            rows = {r[0] for r in sql(self.db, "SELECT id FROM run")}
            time.sleep(0.5)
            after = log_ids(log())
            self.assertLessEqual(before, rows)  # every run logged as stored is there
            self.assertLessEqual(rows, after)  # and every run there was logged
            proc.send_signal(signal.SIGTERM)
            self.assertEqual(proc.wait(timeout=15), 0)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        text = log()
        spooled = text.count(SPOOLED)
        self.assertEqual(spooled, len(FROM_SPOOL.findall(text)), text)
        self.assertNotIn("LOST", text)


if __name__ == "__main__":
    unittest.main(verbosity=2)
