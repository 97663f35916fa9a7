"""benchwatch run --store: what it writes, read back with the real sqlite3 CLI."""
import base64
import http.server
import os
import threading
import shutil
import subprocess
import tempfile
import unittest

from harness import CLI, Faultd, free_port, run_one

DAEMON = os.environ.get("BW_DAEMON", "")
SECRET = "s3cret-Url-Pa55"


class BasicAuthHandler(http.server.BaseHTTPRequestHandler):
    """200 only with the Basic credentials the test put in the URL: proof that curl got them."""
    expected = "Basic " + base64.b64encode(("bench:" + SECRET).encode()).decode()

    def do_GET(self):
        ok = self.headers.get("Authorization") == self.expected
        body = b"welcome\n" if ok else b"who are you?\n"
        self.send_response(200 if ok else 401)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def sql(db, query):
    out = subprocess.run(["sqlite3", "-separator", "|", db, query], check=True,
                         capture_output=True, text=True).stdout
    return [line.split("|") for line in out.splitlines()]


class StoreTest(unittest.TestCase):
    def setUp(self):
        if not shutil.which("sqlite3"):
            self.skipTest("sqlite3 not installed")
        self.dir = tempfile.mkdtemp(prefix="bw-store-")
        self.faultd = Faultd()

    def tearDown(self):
        self.faultd.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def test_adhoc_run_stored(self):
        db = os.path.join(self.dir, "bw.db")
        run_one("-n", "5", "--store", "--db", db, "--name", "delay",
                self.faultd.base + "/delay?ms=20")
        rows = sql(db, "SELECT test, backend, kind, outcome, requests, median_ms >= 20 "
                       "FROM runs_readable")
        self.assertEqual(rows, [["delay", "", "page", "ok", "5", "1"]])
        # The view shows the later figures too: the client, ab's transfer rate, no check or
        # certificate on a plain-http test without expect.
        self.assertEqual(sql(db, "SELECT engine, transfer_mb_per_s > 0, failed_check IS NULL, "
                                 "cert_expires_utc IS NULL, connect_ms >= 0 FROM runs_readable"),
                         [["lean", "1", "1", "1", "1"]])
        self.assertEqual(sql(db, "SELECT count(*), min(duration_us) >= 20000 FROM sample"),
                         [["5", "1"]])
        # A failed run is stored with its class and no latency.
        run_one("-n", "2", "--store", "--db", db, "--name", "delay", "http://127.0.0.1:1/",
                check=False)
        self.assertEqual(sql(db, "SELECT outcome, error_class, p50_us IS NULL FROM run "
                                 "ORDER BY id DESC LIMIT 1"), [["failed", "connect", "1"]])
        self.assertEqual(sql(db, "SELECT count(*) FROM target"), [["1"]])
        # A page run records this host's side of the path too, once while it stays the same.
        self.assertEqual(sql(db, "SELECT ifname, mtu > 0, tcp_cc != '' FROM env"),
                         [["lo", "1", "1"]])

    def test_configured_download_per_backend(self):
        other = Faultd()
        try:
            cfg = os.path.join(self.dir, "bw.yaml")
            with open(cfg, "w") as f:
                f.write("database: data.db\n"
                        "tests:\n"
                        "  - name: tarball\n"
                        "    kind: download\n"
                        "    url: http://archive.example.test/bytes?size=3000000\n"
                        "    backends: [127.0.0.1:%d, 127.0.0.1:%d]\n"
                        % (self.faultd.port, other.port))
            p = subprocess.run([CLI, "run", "--config", cfg, "--test", "tarball", "--store"],
                               capture_output=True, text=True)
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertEqual(p.stderr.count("stored as run"), 2)
            db = os.path.join(self.dir, "data.db")
            # The receiver's facts are stored; the client's own path MTU cache no longer is.
            rows = sql(db, "SELECT backend, outcome, bytes, mb_per_s > 0, rcv_mss > 1460, "
                           "pmtu IS NULL, stalls, zero_window FROM runs_readable ORDER BY backend")
            expected = sorted([["127.0.0.1:%d" % port, "ok", "3000000", "1", "1", "1", "0", "0"]
                               for port in (self.faultd.port, other.port)])
            self.assertEqual(rows, expected)
            self.assertEqual(sql(db, "SELECT sum(bytes) FROM sample"), [["6000000"]])
            # An unknown test name is a config error.
            p = subprocess.run([CLI, "run", "--config", cfg, "--test", "nope"],
                               capture_output=True, text=True)
            self.assertEqual(p.returncode, 78)
            self.assertIn('has no test named "nope"', p.stderr)
        finally:
            other.stop()

    def test_url_credentials_not_shown_or_stored(self):
        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), BasicAuthHandler)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            port = server.server_address[1]
            url = "http://bench:%s@127.0.0.1:%d/private" % (SECRET, port)
            shown = "http://bench:***@127.0.0.1:%d/private" % port
            db = os.path.join(self.dir, "bw.db")
            # ab-style text, then --json, both stored.
            p = subprocess.run([CLI, "run", "-n", "3", "--store", "--db", db, "--name", "auth",
                                url], capture_output=True, text=True, timeout=60)
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertIn("Server Hostname:        127.0.0.1\n", p.stdout)
            self.assertNotIn(SECRET, p.stdout + p.stderr)
            rc, result, err = run_one("-n", "3", "--store", "--db", db, "--name", "auth", url)
            self.assertEqual(result["url"], shown)
            self.assertEqual(result["outcome"], "ok")  # the server saw the credentials
            self.assertNotIn(SECRET, err)
            # A failed run: the error line names the URL, without its password.
            down = "http://bench:%s@127.0.0.1:%d/" % (SECRET, free_port())
            p = subprocess.run([CLI, "run", "-n", "1", "--store", "--db", db, "--name", "down",
                                down], capture_output=True, text=True, timeout=60)
            self.assertEqual(p.returncode, 1)
            self.assertIn("benchwatch: http://bench:***@127.0.0.1:", p.stderr)
            self.assertNotIn(SECRET, p.stdout + p.stderr)
            # The daemon: its log and what it stores.
            cfg = os.path.join(self.dir, "bw.yaml")
            with open(cfg, "w") as f:
                f.write("database: daemon.db\n"
                        "tests:\n"
                        "  - {name: auth, kind: page, requests: 2, url: \"%s\"}\n"
                        "  - {name: down, kind: download, url: \"%s\"}\n" % (url, down))
            if DAEMON:
                p = subprocess.run([DAEMON, "--config", cfg, "--once"], capture_output=True,
                                   text=True, timeout=120)
                self.assertEqual(p.returncode, 0, p.stderr)
                self.assertIn("auth: ok", p.stderr)
                self.assertIn("down: failed", p.stderr)
                self.assertNotIn(SECRET, p.stdout + p.stderr)
            # check-config --print shows the URL masked, and the dump still parses.
            p = subprocess.run([CLI, "check-config", "--print", cfg], capture_output=True,
                               text=True)
            self.assertEqual(p.returncode, 0, p.stderr)
            self.assertIn(shown, p.stdout)
            self.assertNotIn(SECRET, p.stdout + p.stderr)
            # Nothing in either database holds the password: every table, as sqlite3 dumps it.
            for name in ("bw.db", "daemon.db") if DAEMON else ("bw.db",):
                path = os.path.join(self.dir, name)
                dump = subprocess.run(["sqlite3", path, ".dump"], check=True,
                                      capture_output=True, text=True).stdout
                self.assertNotIn(SECRET, dump)
                urls = sorted({row[0] for row in sql(path, "SELECT url FROM target")})
                self.assertEqual(urls, sorted({shown, down.replace(SECRET, "***")}))
            self.assertEqual(sql(db, "SELECT outcome, count(*) FROM run GROUP BY outcome"),
                             [["failed", "1"], ["ok", "2"]])
        finally:
            server.shutdown()
            server.server_close()


if __name__ == "__main__":
    unittest.main(verbosity=2)
