"""Connect tests against a real nginx: connections and TLS handshakes, never a request."""
import os
import re
import shutil
import subprocess
import tempfile
import time
import unittest
import urllib.request

from harness import CLI, Nginx, free_port, run_one
from test_daemon import Daemon


def access_lines(nginx):
    if not os.path.exists(nginx.access_log):
        return []
    with open(nginx.access_log) as f:
        return f.read().splitlines()


class ConnectTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.nginx = Nginx(big="1M", access_log=True)
        if not cls.nginx.tls_base:
            cls.nginx.stop()
            raise unittest.SkipTest("nginx without TLS (openssl missing)")

    @classmethod
    def tearDownClass(cls):
        cls.nginx.stop()

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="bw-connect-")

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def check_samples(self, r, n, tls):
        self.assertEqual(r["kind"], "connect")
        self.assertEqual(r["outcome"], "ok", r.get("error_message"))
        self.assertEqual((r["requests"], r["complete"], r["failed"]), (n, n, 0))
        self.assertEqual(len(r["samples"]), n)
        for s in r["samples"]:
            self.assertGreater(s["connect_us"], 0, s)
            if tls:
                self.assertGreater(s["tls_us"], 0, s)
            else:
                self.assertIsNone(s["tls_us"], s)
            self.assertIsNone(s["error_class"], s)
            self.assertNotIn("status", s)  # nothing of HTTP
        connects = sorted(s["connect_us"] for s in r["samples"])
        self.assertEqual(r["min_us"], connects[0])
        self.assertEqual(r["max_us"], connects[-1])
        self.assertEqual(r["connect_p50_us"], r["p50_us"])
        self.assertTrue(connects[0] <= r["connect_p50_us"] <= connects[-1])
        if tls:
            handshakes = sorted(s["tls_us"] for s in r["samples"])
            self.assertTrue(handshakes[0] <= r["tls_p50_us"] <= handshakes[-1])
        else:
            self.assertIsNone(r["tls_p50_us"])
        self.assertGreater(r["rps"], 0)

    def test_connections_without_a_request(self):
        before = len(access_lines(self.nginx))
        _, r, _ = run_one("--connect", "-n", "40", "-c", "4", self.nginx.base + "/index.html")
        self.check_samples(r, 40, tls=False)
        _, r, _ = run_one("--connect", "-n", "30", "-c", "3", "--insecure",
                          self.nginx.tls_base + "/index.html")
        self.check_samples(r, 30, tls=True)
        # 70 connections, and not one request reached nginx ...
        self.assertEqual(access_lines(self.nginx)[before:], [])
        # ... whose log does show a request when one comes (nginx writes the line once the
        # response is sent: wait for it), and that one only.
        run_one("-n", "1", self.nginx.base + "/small.txt")
        deadline = time.monotonic() + 10
        while not access_lines(self.nginx)[before:] and time.monotonic() < deadline:
            time.sleep(0.05)
        logged = access_lines(self.nginx)[before:]
        self.assertEqual(len(logged), 1, logged)
        self.assertIn("GET /small.txt", logged[0])

    def test_certificate_checked(self):
        # The suite's certificate is self-signed: checked, the handshake fails as tls.
        rc, r, _ = run_one("--connect", "-n", "3", self.nginx.tls_base + "/", check=False)
        self.assertEqual(rc, 1)
        self.assertEqual((r["outcome"], r["error_class"], r["failed"]), ("failed", "tls", 3))
        self.assertIn("certificate", r["error_message"])

    def test_refused_port_is_a_connect_failure(self):
        rc, r, err = run_one("--connect", "-n", "5", "-c", "2",
                             "http://127.0.0.1:%d/" % free_port(), check=False)
        self.assertEqual(rc, 1)
        self.assertEqual((r["outcome"], r["error_class"]), ("failed", "connect"))
        self.assertEqual((r["complete"], r["failed"], r["failed_connect"]), (0, 5, 5))
        self.assertEqual([s["error_class"] for s in r["samples"]], ["connect"] * 5)
        self.assertIsNone(r["connect_p50_us"])
        self.assertIn("Connection refused", r["error_message"])

    def test_run_prints_it(self):
        p = subprocess.run([CLI, "run", "--connect", "-n", "20", "-c", "2", "--insecure",
                            self.nginx.tls_base + "/"], capture_output=True, text=True,
                           timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("Server Port:            %d\n" % int(self.nginx.tls_base.rsplit(":", 1)[1]),
                      p.stdout)
        self.assertIn("Connections made:       20\n", p.stdout)
        self.assertIn("Failed connections:     0\n", p.stdout)
        self.assertRegex(p.stdout, r"\nConnect: +\d+\.\d\d ")
        self.assertRegex(p.stdout, r"\nTLS: +\d+\.\d\d ")
        self.assertNotIn("Document", p.stdout)
        # A key a connect test does not take is refused, naming the kinds that do.
        p = subprocess.run([CLI, "run", "--connect", "-k", self.nginx.base + "/"],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 64)
        self.assertIn("keepalive applies only to page tests, and this is a connect test", p.stderr)

    def test_stored_and_shown(self):
        """The daemon runs a configured connect test per backend; history, the report, /metrics,
        the status page and the sqlite3 CLI show it."""
        tls_port = int(self.nginx.tls_base.rsplit(":", 1)[1])
        port = free_port()
        cfg = os.path.join(self.dir, "bw.yaml")
        db = os.path.join(self.dir, "bw.db")
        with open(cfg, "w") as f:
            f.write("database: bw.db\nmetrics: {listen: \"127.0.0.1:%d\"}\n"
                    "defaults: {every: 1s, jitter: 0}\n"
                    "tests:\n"
                    "  - name: fleet\n"
                    "    kind: connect\n"
                    "    url: https://localhost/\n"
                    "    requests: 10\n"
                    "    concurrency: 2\n"
                    "    tls_verify: false\n"
                    "    backends: [\"127.0.0.1:%d\"]\n"
                    "  - {name: plain, kind: connect, url: \"%s/\", requests: 10}\n"
                    % (port, tls_port, self.nginx.base))
        d = Daemon(cfg)
        try:
            d.wait_log("serving http://127.0.0.1:%d/metrics" % port)
            d.wait_log("fleet [127.0.0.1:%d]: ok, connect median" % tls_port, timeout=60)
            d.wait_log("plain: ok, connect median", timeout=60)
            with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=5) as resp:
                metrics = resp.read().decode()
            with urllib.request.urlopen("http://127.0.0.1:%d/" % port, timeout=5) as resp:
                status = resp.read().decode()
        finally:
            self.assertEqual(d.stop(), 0)
        tls_label = 'test="fleet",backend="127.0.0.1:%d"' % tls_port
        plain_label = 'test="plain",backend=""'
        # A value under 0.0001 s is written as Prometheus allows, e.g. 5.2e-05.
        m = re.search(r"benchwatch_connect_median_seconds\{%s\} (\S+)\n" % tls_label, metrics)
        self.assertIsNotNone(m, metrics)
        self.assertTrue(0 < float(m.group(1)) < 1, m.group(0))
        self.assertRegex(metrics,
                         r"benchwatch_connect_tls_median_seconds\{%s\} [0-9.]+(e-0\d)?\n" % tls_label)
        self.assertNotIn("benchwatch_connect_tls_median_seconds{%s}" % plain_label, metrics)
        self.assertNotIn("benchwatch_page_median_seconds{%s}" % tls_label, metrics)
        self.assertIn('benchwatch_figure_regression_open{%s,figure="tls_p50_us"} 0' % tls_label,
                      metrics)
        self.assertIn('benchwatch_figure_regression_open{%s,figure="connect_p50_us"} 0'
                      % tls_label, metrics)
        self.assertIn("connect", status)
        self.assertIn("fleet", status)

        # The sqlite3 CLI reads the runs, their kind and their samples.
        def sql(q):
            p = subprocess.run(["sqlite3", db, q], capture_output=True, text=True, check=True)
            return [line.split("|") for line in p.stdout.splitlines()]
        self.assertEqual(sql("SELECT name, kind FROM target ORDER BY name"),
                         [["fleet", "connect"], ["plain", "connect"]])
        rows = sql("SELECT t.name, r.outcome, r.requests, r.connect_p50_us > 0,"
                   " r.tls_p50_us > 0, r.tls_p50_us IS NULL,"
                   " (SELECT count(*) FROM sample s WHERE s.run_id = r.id AND s.connect_us > 0),"
                   " (SELECT count(*) FROM sample s WHERE s.run_id = r.id AND s.tls_us > 0)"
                   " FROM run r JOIN target t ON t.id = r.target_id"
                   " WHERE r.id IN (SELECT min(id) FROM run GROUP BY target_id)"
                   " ORDER BY t.name")
        expected = {"fleet": ["ok", "10", "1", "1", "0", "10", "10"],
                    "plain": ["ok", "10", "1", "", "1", "10", "0"]}
        self.assertEqual(dict((r[0], r[1:]) for r in rows), expected)
        self.assertEqual(sql("SELECT DISTINCT kind FROM runs_readable"), [["connect"]])

        # history and the report show the connect figure.
        p = subprocess.run([CLI, "history", "--config", cfg, "fleet", "--backend",
                            "127.0.0.1:%d" % tls_port], capture_output=True, text=True,
                           timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("median connect", p.stdout)
        p = subprocess.run([CLI, "report", "--config", cfg], capture_output=True, text=True,
                           timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("fleet [127.0.0.1:%d]" % tls_port, p.stdout)
        self.assertIn("median connect", p.stdout)


if __name__ == "__main__":
    unittest.main()
