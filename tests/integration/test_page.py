"""Page tests against real servers: ab's figures, measured, and ab itself as the referee."""
import csv
import io
import os
import re
import shutil
import subprocess
import tempfile
import unittest

from harness import Faultd, Nginx, run, run_one


class PageTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.faultd = Faultd()
        cls.nginx = Nginx(big="1M")

    @classmethod
    def tearDownClass(cls):
        cls.faultd.stop()
        cls.nginx.stop()

    def test_injected_delay_is_measured(self):
        _, r, _ = run_one("-n", "20", "-c", "2", self.faultd.base + "/delay?ms=100")
        self.assertEqual(r["outcome"], "ok")
        self.assertEqual(r["complete"], 20)
        self.assertEqual(r["failed"], 0)
        self.assertGreaterEqual(r["p50_us"], 100000)
        self.assertLessEqual(r["p50_us"], 110000)
        self.assertGreaterEqual(r["min_us"], 100000)
        self.assertLessEqual(abs(r["mode_us"] - r["p50_us"]), 5000)
        # The server's wait is time to first byte, not connecting.
        self.assertGreaterEqual(r["ttfb_p50_us"], 100000)
        self.assertLess(r["connect_p50_us"], 10000)

    def test_keepalive_connects_once_per_slot(self):
        _, r, _ = run_one("-n", "200", "-c", "4", "-k", self.nginx.base + "/index.html")
        connects = [s for s in r["samples"] if s["connect_us"] > 0]
        self.assertEqual(len(connects), 4)
        self.assertEqual(r["connect_p50_us"] < 50, True, r["connect_p50_us"])
        self.assertEqual(r["complete"], 200)

    def test_no_keepalive_connects_every_time(self):
        _, r, _ = run_one("-n", "100", "-c", "4", self.nginx.base + "/index.html")
        self.assertEqual(len(r["samples"]), 100)
        for s in r["samples"]:
            self.assertGreater(s["connect_us"], 0, s)
        self.assertGreater(r["connect_p50_us"], 0)

    def test_agrees_with_ab(self):
        if not shutil.which("ab"):
            self.skipTest("ab not installed (apt-get install apache2-utils)")
        for path, n_ok in (("/index.html", 300), ("/missing", 300)):
            url = self.nginx.base + path
            ab = subprocess.run(["ab", "-q", "-n", "300", "-c", "10", url],
                                capture_output=True, text=True, check=True).stdout
            complete = int(re.search(r"Complete requests:\s+(\d+)", ab).group(1))
            failed = int(re.search(r"Failed requests:\s+(\d+)", ab).group(1))
            m = re.search(r"Non-2xx responses:\s+(\d+)", ab)
            non2xx = int(m.group(1)) if m else 0
            html = int(re.search(r"HTML transferred:\s+(\d+)", ab).group(1))
            rc, r, _ = run_one("-n", "300", "-c", "10", url, check=False)
            self.assertEqual(r["complete"], complete, path)
            self.assertEqual(r["failed"], failed, path)
            self.assertEqual(r["non_2xx"], non2xx, path)
            self.assertEqual(r["html_bytes"], html, path)
            self.assertEqual(complete, n_ok)
        # Every response a 404: the run failed, with the class that says why.
        self.assertEqual(rc, 1)
        self.assertEqual(r["outcome"], "failed")
        self.assertEqual(r["error_class"], "http")
        self.assertIsNone(r["p50_us"])  # a failure is never a latency

    def test_transfer_rate_beside_request_rate(self):
        # ab's "Transfer rate": every byte received (headers included) over the run's wall time,
        # kept as a figure beside the request rate. Four 50 KB responses, each held 100 ms by the
        # server, two at a time: the run cannot take less than 200 ms, so the rate cannot exceed
        # the bytes over 0.2 s (a rate over one request's time, or over the body alone, differs).
        _, r, _ = run_one("-n", "4", "-c", "2", self.faultd.base + "/delay?ms=100&size=50000")
        self.assertEqual(r["outcome"], "ok")
        self.assertEqual(r["html_bytes"], 4 * 50000)
        self.assertGreater(r["bytes"], r["html_bytes"])  # the headers count too, as in ab
        self.assertGreaterEqual(r["duration_us"], 200000)
        self.assertEqual(r["transfer_bps"], int(r["bytes"] * 1e6 / r["duration_us"]))
        self.assertLessEqual(r["transfer_bps"], r["bytes"] / 0.2)
        self.assertGreater(r["transfer_bps"], 0)
        self.assertAlmostEqual(r["rps"], r["complete"] * 1e6 / r["duration_us"], delta=0.01)
        # ab's own line reads the same figure, in its own unit.
        out = subprocess.run([os.environ["BW_CLI"], "run", "-n", "4", "-c", "2",
                              self.faultd.base + "/delay?ms=100&size=50000"],
                             capture_output=True, text=True, check=True).stdout
        # Stored and exported beside the request rate.
        tmp = tempfile.mkdtemp(prefix="bw-page-")
        try:
            db = os.path.join(tmp, "bw.db")
            _, s, _ = run_one("-n", "4", "-c", "2", "--store", "--db", db, "--name", "home",
                              self.faultd.base + "/delay?ms=100&size=50000")
            rows = list(csv.DictReader(io.StringIO(subprocess.run(
                [os.environ["BW_CLI"], "export", "--db", db, "--test", "home"],
                capture_output=True, text=True, check=True).stdout)))
            report = subprocess.run([os.environ["BW_CLI"], "report", "--db", db, "--since", "1h"],
                                    capture_output=True, text=True, check=True).stdout
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        self.assertEqual(rows[0]["transfer_mb_per_s"], "%d.%06d" % divmod(s["transfer_bps"], 10**6))
        self.assertRegex(rows[0]["rps"], r"^[0-9]+\.[0-9]{3}$")
        self.assertAlmostEqual(float(rows[0]["rps"]), s["rps"], delta=0.002)
        # The report shows both rates of the latest run.
        m = re.search(r"latest: ([0-9.]+) requests/s, ([0-9.]+) MB/s transferred", report)
        self.assertIsNotNone(m, report)
        self.assertAlmostEqual(float(m.group(1)), s["rps"], delta=0.006)
        self.assertAlmostEqual(float(m.group(2)), s["transfer_bps"] / 1e6, delta=0.006)
        m = re.search(r"Transfer rate:\s+([0-9]+\.[0-9]{2}) \[Kbytes/sec\] received", out)
        self.assertIsNotNone(m, out)
        self.assertLessEqual(float(m.group(1)) * 1024, r["bytes"] / 0.2 * 1.01)

    def test_failures_by_class(self):
        cases = [
            ("/hang", ["-s", "500ms"], "timeout", "failed_receive"),
            ("/reset?after=10&size=1000", [], "reset", "failed_receive"),
            ("/lie?claim=1000&send=10", [], "length", "failed_length"),
        ]
        for path, extra, cls, column in cases:
            rc, r, err = run_one("-n", "3", *extra, self.faultd.base + path, check=False)
            self.assertEqual(rc, 1, path)
            self.assertEqual(r["outcome"], "failed", path)
            self.assertEqual(r["error_class"], cls, path)
            self.assertEqual(r[column], 3, path)
            self.assertEqual(r["complete"], 0, path)
            self.assertIn(cls, err)
        rc, r, err = run_one("-n", "2", "http://127.0.0.1:1/", check=False)
        self.assertEqual((rc, r["error_class"], r["failed_connect"]), (1, "connect", 2))
        self.assertIn("Couldn't connect", err)

    def test_short_body_is_a_length_failure(self):
        """Fewer body bytes than Content-Length: a failed request of ab's "Length" kind, never a
        complete one or a latency, on new connections and on kept-alive ones alike."""
        for extra in ([], ["-k"]):
            rc, r, err = run_one("-n", "4", "-c", "2", *extra,
                                 self.faultd.base + "/lie?claim=5000&send=1000", check=False)
            self.assertEqual((rc, r["outcome"], r["error_class"]), (1, "failed", "length"), extra)
            self.assertEqual((r["complete"], r["failed"], r["failed_length"], r["failed_receive"]),
                             (0, 4, 4, 0), extra)
            self.assertIsNone(r["p50_us"], extra)
            self.assertEqual([s["error_class"] for s in r["samples"]], ["length"] * 4, extra)
            self.assertEqual([s["bytes"] for s in r["samples"]], [1000] * 4, extra)
            self.assertIn("length", err)

    def test_backend_fan_out_names_the_slow_node(self):
        fast1, slow, fast2 = Faultd(), Faultd("--slow", "150"), Faultd()
        try:
            backends = ["127.0.0.1:%d" % s.port for s in (fast1, slow, fast2)]
            # The URL names a host no DNS knows: every connection goes where --backend says.
            url = "http://node.example.test:%d/delay?ms=10" % fast1.port
            args = ["-n", "10"]
            for b in backends:
                args += ["--backend", b]
            _, results, _ = run(*args, url)
            self.assertEqual([r["backend"] for r in results], backends)
            medians = [r["p50_us"] for r in results]
            self.assertLess(medians[0], 30000)
            self.assertLess(medians[2], 30000)
            self.assertGreaterEqual(medians[1], 160000)
            self.assertLess(medians[1], 190000)
            for r, s in zip(results, (fast1, slow, fast2)):
                self.assertEqual(r["remote_port"], s.port)
        finally:
            for s in (fast1, slow, fast2):
                s.stop()

    def test_tls(self):
        if not self.nginx.tls_base:
            self.skipTest("no openssl to make a test certificate")
        url = self.nginx.tls_base + "/index.html"
        # A self-signed certificate: refused while verification is on, as curl and wget do.
        rc, r, err = run_one("-n", "2", url, check=False)
        self.assertEqual((rc, r["outcome"], r["error_class"], r["failed_connect"]),
                         (1, "failed", "tls", 2))
        self.assertIn("certificate", err)
        # --insecure (wget's --no-check-certificate): each new connection has a TLS handshake.
        _, r, _ = run_one("-n", "6", "-c", "2", "--insecure", url)
        self.assertEqual((r["outcome"], r["http_version"], r["complete"]), ("ok", "1.1", 6))
        for s in r["samples"]:
            self.assertGreater(s["tls_us"], 0, s)
        # HTTP/2 where ALPN agrees.
        _, r, _ = run_one("-n", "4", "-k", "--http2", "--insecure", url)
        self.assertEqual((r["outcome"], r["http_version"]), ("ok", "2"))
        _, r, _ = run_one("--download", "--insecure", self.nginx.tls_base + "/big.bin")
        self.assertEqual((r["outcome"], r["bytes"]), ("ok", 1 << 20))

    def test_backend_keeps_the_host_header(self):
        url = "http://archive.example.test:%d/whoami" % self.nginx.port
        _, r, _ = run_one("-n", "3", "--backend", "127.0.0.1:%d" % self.nginx.port, url)
        self.assertEqual(r["outcome"], "ok")
        self.assertEqual(r["status"], 200)
        self.assertEqual(r["html_bytes"], 3 * len("archive.example.test\n"))


if __name__ == "__main__":
    unittest.main(verbosity=2)
