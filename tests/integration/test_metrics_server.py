"""The /metrics server under abuse from the network: huge heads, floods of idle connections, slow
clients, accept() failing for want of descriptors. The daemon shares one event loop and one
descriptor table with its measurements, so every test also checks that those went on unharmed."""
import os
import resource
import shutil
import signal
import socket
import sqlite3
import subprocess
import tempfile
import time
import unittest
import urllib.request

from harness import Faultd, free_port
from test_daemon import DAEMON, Daemon

ACCEPT_PAUSED = "metrics: cannot accept connections: Too many open files; pausing"
ACCEPT_AGAIN = "metrics: accepting again"


class LimitedDaemon(Daemon):
    """benchwatchd with RLIMIT_NOFILE soft and hard set to nofile (so it cannot raise it)."""

    def __init__(self, config, nofile=None):
        self.err_path = config + ".log"
        self.err = open(self.err_path, "w")

        def limit():
            if nofile:
                resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))

        self.proc = subprocess.Popen([DAEMON, "--config", config], stderr=self.err,
                                     preexec_fn=limit)

    def cpu_seconds(self):
        with open("/proc/%d/stat" % self.proc.pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def rss_mb(self):
        with open("/proc/%d/status" % self.proc.pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
        raise AssertionError("no VmRSS")


def closed_by_peer(sock):
    """True when the peer has closed sock (EOF or reset), without waiting."""
    timeout = sock.gettimeout()
    sock.settimeout(0)
    try:
        return sock.recv(1) == b""
    except BlockingIOError:
        return False
    except OSError:
        return True
    finally:
        sock.settimeout(timeout)


class MetricsServerTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.faultd = Faultd()
        # The flood tests hold hundreds of sockets on this side.
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 4096)), hard))

    @classmethod
    def tearDownClass(cls):
        cls.faultd.stop()

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="bw-metrics-server-")
        self.config = os.path.join(self.dir, "bw.yaml")
        self.db = os.path.join(self.dir, "bw.db")
        self.port = free_port()
        self.socks = []

    def tearDown(self):
        for s in self.socks:
            s.close()
        shutil.rmtree(self.dir, ignore_errors=True)

    def write_config(self, metrics="", listen="127.0.0.1", extra_tests=""):
        with open(self.config, "w") as f:
            f.write("database: bw.db\nmetrics: {listen: \"%s:%d\"%s}\n"
                    "defaults: {every: 1s, jitter: 0}\n"
                    "tests:\n"
                    "  - {name: home, kind: page, requests: 5, url: \"%s/delay?ms=2\"}\n%s"
                    % (listen, self.port, metrics, self.faultd.base, extra_tests))

    def start(self, metrics="", nofile=None, listen="127.0.0.1", extra_tests=""):
        self.write_config(metrics, listen, extra_tests)
        d = LimitedDaemon(self.config, nofile)
        self.addCleanup(lambda: d.proc.poll() is None and d.stop())
        d.wait_log("serving http://%s:%d/metrics" % (listen, self.port))
        d.wait_log("(run 1)")
        return d

    def scrape(self, timeout=5):
        url = "http://127.0.0.1:%d/metrics" % self.port
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.read().decode()

    def scrape_soon(self, within):
        """The first successful scrape's status, retrying for up to within seconds."""
        deadline = time.monotonic() + within
        while True:
            try:
                return self.scrape()[0]
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)

    def raw(self, data, read_timeout=10):
        """Sends data on a new connection and returns all the server sends back until it closes."""
        s = socket.create_connection(("127.0.0.1", self.port), timeout=read_timeout)
        try:
            s.sendall(data)
            out = b""
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    return out
                out += chunk
        finally:
            s.close()

    def runs(self, since_us=0):
        con = sqlite3.connect(self.db, timeout=10)
        try:
            return con.execute("SELECT outcome, coalesce(error_class, ''), count(*) FROM run "
                               "WHERE started_us >= ? GROUP BY 1, 2", (since_us,)).fetchall()
        finally:
            con.close()

    def open_idle(self, n):
        """Opens up to n connections that send nothing; returns how many connected."""
        for _ in range(n):
            try:
                self.socks.append(socket.create_connection(("127.0.0.1", self.port), timeout=2))
            except OSError:
                pass
        return len(self.socks)

    def close_all(self):
        for s in self.socks:
            s.close()
        self.socks = []

    def test_big_head_refused_without_reading_it(self):
        d = self.start()
        self.assertEqual(self.scrape()[0], 200)
        rss0, cpu0 = d.rss_mb(), d.cpu_seconds()
        # Up to 64 MB of one header line: a server that read it all would hold it in memory.
        s = socket.create_connection(("127.0.0.1", self.port), timeout=10)
        sent, answer = 0, b""
        try:
            s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: ")
            chunk = b"a" * 65536
            while sent < 64 << 20:
                s.sendall(chunk)
                sent += len(chunk)
            s.sendall(b"\r\n\r\n")
        except OSError:
            pass  # the server stopped reading and closed: the point
        try:
            while True:
                data = s.recv(65536)
                if not data:
                    break
                answer += data
        except OSError:
            pass  # a reset may come before the answer is read
        s.close()
        # Only what the kernel's buffers take went out; the daemon read 8 KiB of it.
        self.assertLess(sent, 32 << 20)
        self.assertTrue(answer == b"" or answer.startswith(b"HTTP/1.1 431 "), answer[:100])
        self.assertLess(d.rss_mb() - rss0, 30)
        self.assertLess(d.cpu_seconds() - cpu0, 5)
        self.assertEqual(self.scrape()[0], 200)

        # Just over the limit, sent whole: the 431 arrives before the connection closes.
        head = b"GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 9000 + b"\r\n\r\n"
        self.assertTrue(self.raw(head).startswith(b"HTTP/1.1 431 Request Header Fields Too Large"))
        # Under it: served.
        head = b"GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 7000 + b"\r\n\r\n"
        out = self.raw(head)
        self.assertTrue(out.startswith(b"HTTP/1.1 200 OK\r\n"), out[:100])
        self.assertIn(b"\r\nConnection: close\r\n", out)
        self.assertIn(b"benchwatch_targets 1\n", out)
        # A body is refused unread; only GET and HEAD are served.
        out = self.raw(b"GET /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 100000000\r\n\r\n")
        self.assertTrue(out.startswith(b"HTTP/1.1 413 "), out[:100])
        out = self.raw(b"POST /metrics HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
        self.assertTrue(out.startswith(b"HTTP/1.1 413 "), out[:100])
        out = self.raw(b"DELETE /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        self.assertTrue(out.startswith(b"HTTP/1.1 405 "), out[:100])
        self.assertIn(b"\r\nAllow: GET, HEAD\r\n", out)
        out = self.raw(b"HEAD /metrics HTTP/1.0\r\n\r\n")
        self.assertTrue(out.startswith(b"HTTP/1.1 200 OK\r\n"), out[:100])
        self.assertTrue(out.endswith(b"\r\n\r\n"), out[-100:])
        self.assertEqual(self.raw(b"GET /metrics\r\n\r\n")[:25], b"HTTP/1.1 400 Bad Request\r")
        self.assertNotIn("loopback", d.log())
        self.assertEqual(d.stop(), 0)

    def test_idle_flood_leaves_tests_their_descriptors(self):
        # 256 descriptors, as a small limit; the timeout is longer than the flood lasts, so only
        # the connection cap keeps descriptors free.
        d = self.start(", timeout: 60s", nofile=256)
        t0_us = int(time.time() * 1e6)
        connected = self.open_idle(600)
        self.assertGreater(connected, 300)
        time.sleep(6)
        t1_us = int(time.time() * 1e6)
        # Every page run in the flood succeeded, and there were runs.
        during = self.runs(t0_us)
        self.assertEqual([r for r in during if r[0] != "ok"], [], during)
        ok = sum(n for outcome, _, n in during if outcome == "ok")
        self.assertGreaterEqual(ok, 2, during)
        # The daemon kept at most 64 of them open: the rest were closed from its side.
        deadline = time.monotonic() + 10
        while True:
            closed = sum(1 for s in self.socks if closed_by_peer(s))
            if closed >= connected - 64 or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        self.assertGreaterEqual(closed, connected - 64)
        self.close_all()
        self.assertEqual(self.scrape_soon(15), 200)
        after = self.runs(t1_us)
        self.assertNotIn("connect", [c for _, c, _ in after], after)
        log = d.log()
        self.assertLessEqual(log.count("accept"), 4, log[-2000:])
        self.assertNotIn("Error from accept", log)
        self.assertEqual(d.stop(), 0)

    def test_accept_errors_rest_the_listener(self):
        # 64 descriptors, and a test that takes all the daemon has left: 100 requests at once
        # to a server of its own that answers each after 2 s. accept() then fails with EMFILE,
        # and the listener must rest instead of retrying (and logging) in a loop.
        hog_server = Faultd()
        hog = ("  - {name: hog, kind: page, requests: 100, concurrency: 100, timeout: 10s, "
               "url: \"%s/delay?ms=2000\"}\n" % hog_server.base)
        try:
            d = self.start(", max_connections: 1000", nofile=64, extra_tests=hog)
            self.assertIn("<4>metrics: max_connections 1000 lowered to 16, a quarter of the "
                          "open-files limit (64), to leave the rest to the tests", d.log())
            deadline = time.monotonic() + 60
            while ACCEPT_PAUSED not in d.log():
                self.assertLess(time.monotonic(), deadline, d.log()[-3000:])
                self.open_idle(10)
                time.sleep(0.5)
            cpu0 = d.cpu_seconds()
            time.sleep(4)
            busy = d.cpu_seconds() - cpu0
        finally:
            hog_server.stop()  # the hog's connections close; its requests now fail at once
        # Without the hog (the daemon can open its config again) and the idle connections,
        # accepting resumes.
        self.write_config(", max_connections: 1000")
        d.proc.send_signal(signal.SIGHUP)
        d.wait_log("1 targets: 0 added, 0 changed, 1 removed")
        self.close_all()
        d.wait_log(ACCEPT_AGAIN, timeout=90)
        self.assertEqual(self.scrape_soon(30), 200)
        log = d.log()
        self.assertLessEqual(log.count(ACCEPT_PAUSED), 2, log[-3000:])
        self.assertLessEqual(log.count("accept"), 4, log[-3000:])
        self.assertNotIn("Error from accept", log)
        # Resting, not spinning on accept(): a loop would take a core for the 4 s.
        self.assertLess(busy, 2, busy)
        self.assertEqual(d.stop(), 0)

    def test_silent_and_slow_clients_dropped(self):
        d = self.start(", timeout: 1s")
        # Sends nothing: dropped once the timeout has passed, not before.
        s = socket.create_connection(("127.0.0.1", self.port), timeout=30)
        t0 = time.monotonic()
        self.assertEqual(s.recv(100), b"")
        waited = time.monotonic() - t0
        s.close()
        self.assertGreater(waited, 0.8)
        # Sends a byte of its head every 0.25 s: each byte would restart a per-read timeout,
        # but the whole request has to arrive within 1 s.
        s = socket.create_connection(("127.0.0.1", self.port), timeout=30)
        t0 = time.monotonic()
        dropped = False
        try:
            for b in b"GET /metrics HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 200:
                s.send(bytes([b]))
                time.sleep(0.25)
                if closed_by_peer(s):
                    dropped = True
                    break
        except OSError:
            dropped = True
        waited = time.monotonic() - t0
        s.close()
        self.assertTrue(dropped, "still connected after %.1f s" % waited)
        self.assertGreater(waited, 0.8)
        self.assertEqual(self.scrape()[0], 200)
        self.assertEqual(d.stop(), 0)

    def test_warns_when_not_on_loopback(self):
        d = self.start(listen="0.0.0.0")
        self.assertIn("<4>metrics: 0.0.0.0:%d is not a loopback address" % self.port, d.log())
        self.assertEqual(self.scrape()[0], 200)
        self.assertEqual(d.stop(), 0)


if __name__ == "__main__":
    unittest.main(verbosity=2)
