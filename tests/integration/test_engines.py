"""Both page engines, lean and curl, through every scenario of the fault server: the same outcome,
error class and counts, byte for byte, and the same medians where the server sets the time."""
import os
import shutil
import tempfile
import unittest

from harness import Faultd, Nginx, run, run_one

# What a run reports that must not depend on the engine.
FIGURES = ("outcome", "error_class", "status", "complete", "failed", "failed_connect",
           "failed_receive", "failed_length", "failed_exception", "non_2xx", "bytes",
           "html_bytes", "http_version", "failed_check", "cert_expires_us")

# (path, extra arguments, expected outcome, class, the counter every request lands in)
SCENARIOS = [
    ("/bytes?size=20000", [], "ok", None, "complete"),
    ("/delay?ms=20", [], "ok", None, "complete"),
    ("/trickle?rate=400000&size=8000", [], "ok", None, "complete"),
    ("/stall?after=100&seconds=0.1&size=1000", [], "ok", None, "complete"),
    ("/reset?after=10&size=1000", [], "failed", "reset", "failed_receive"),
    ("/lie?claim=1000&send=10", [], "failed", "length", "failed_length"),
    ("/status?code=503", [], "failed", "http", "non_2xx"),
    ("/status?code=204", [], "ok", None, "complete"),
    ("/redirect-loop", [], "ok", None, "non_2xx"),  # a page test does not follow redirects
    ("/hang", ["-s", "300ms"], "failed", "timeout", "failed_receive"),
    ("/headers?size=100", ["-s", "300ms"], "failed", "timeout", "failed_receive"),
    ("/chunked?size=2500&chunk=1000", [], "ok", None, "complete"),
    ("/chunked?size=0", [], "ok", None, "complete"),
    ("/close?size=300", [], "ok", None, "complete"),
    # Keep-alive announced, yet a second request on a connection is read and answered with a FIN:
    # both engines open a fresh connection and send it again, once, as curl does.
    ("/once?size=300", [], "ok", None, "complete"),
    ("/bighead?size=20000", [], "ok", None, "complete"),
    ("/bighead?size=200000", [], "failed", "other", "failed_exception"),  # over curl's 100 KB
]


def engine_run(engine, *args):
    rc, r, err = run_one("--engine", engine, *args, check=False)
    return rc, r, err


class EnginesTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.faultd = Faultd()
        cls.nginx = Nginx(big="1M")

    @classmethod
    def tearDownClass(cls):
        cls.faultd.stop()
        cls.nginx.stop()

    def agree(self, n, *args, expect=None):
        """Runs args through both engines; returns the lean result after comparing the two."""
        rc_l, lean, _ = engine_run("lean", *args)
        rc_c, curl, _ = engine_run("curl", *args)
        what = " ".join(args)
        self.assertEqual(rc_l, rc_c, what)
        for k in FIGURES:
            self.assertEqual(lean[k], curl[k], "%s: %s" % (what, k))
        self.assertEqual((lean["engine"], curl["engine"]), ("lean", "curl"), what)
        self.assertEqual(len(lean["samples"]), n, what)
        self.assertEqual([s["error_class"] for s in lean["samples"]],
                         [s["error_class"] for s in curl["samples"]], what)
        self.assertEqual(sorted(s["bytes"] for s in lean["samples"]),
                         sorted(s["bytes"] for s in curl["samples"]), what)
        if expect:
            outcome, cls, column = expect
            self.assertEqual((lean["outcome"], lean["error_class"]), (outcome, cls), what)
            self.assertEqual(lean[column], n, what)
        return lean, curl

    def test_fault_scenarios(self):
        for path, extra, outcome, cls, column in SCENARIOS:
            for keep in ([], ["-k"]):
                for method in ([], ["--head"]):
                    if method and outcome != "ok" and cls != "timeout":
                        continue  # a HEAD of a cut body has nothing to cut
                    args = ["-n", "6", "-c", "2", *keep, *method, *extra,
                            self.faultd.base + path]
                    expect = None if method else (outcome, cls, column)
                    with self.subTest(path=path, keep=keep, method=method):
                        self.agree(6, *args, expect=expect)

    def test_connection_failures(self):
        self.agree(2, "-n", "2", "http://127.0.0.1:1/", expect=("failed", "connect",
                                                                 "failed_connect"))
        # .invalid never resolves (RFC 6761): a dns failure, counted as ab counts it (Connect).
        self.agree(2, "-n", "2", "http://no-such-host.invalid:%d/" % self.faultd.port,
                   expect=("failed", "dns", "failed_connect"))

    def test_keepalive_connections(self):
        """One connection per slot with keep-alive, one per request without, Connection: close
        honoured: the engines open the same number of connections."""
        for path, keep, connects in (("/bytes?size=100", ["-k"], 3), ("/bytes?size=100", [], 12),
                                     ("/close?size=100", ["-k"], 12),
                                     ("/once?size=100", ["-k"], 12)):
            lean, curl = self.agree(12, "-n", "12", "-c", "3", *keep, self.faultd.base + path)
            for r in (lean, curl):
                self.assertEqual(len([s for s in r["samples"] if s["connect_us"] > 0]), connects,
                                 (path, keep))

    def test_delay_medians_agree(self):
        """The server's wait is what both measure: medians within 2% of each other."""
        for ms, keep in ((200, []), (200, ["-k"])):
            args = ["-n", "12", "-c", "4", *keep, self.faultd.base + "/delay?ms=%d" % ms]
            lean, curl = self.agree(12, *args, expect=("ok", None, "complete"))
            for r in (lean, curl):
                self.assertGreaterEqual(r["p50_us"], ms * 1000)
                self.assertGreaterEqual(r["ttfb_p50_us"], ms * 1000)
            self.assertLessEqual(abs(lean["p50_us"] - curl["p50_us"]), 0.02 * curl["p50_us"],
                                 (lean["p50_us"], curl["p50_us"]))

    def test_nginx_and_tls(self):
        self.agree(200, "-n", "200", "-c", "4", "-k", self.nginx.base + "/index.html",
                   expect=("ok", None, "complete"))
        self.agree(20, "-n", "20", "-c", "4", self.nginx.base + "/missing",
                   expect=("failed", "http", "non_2xx"))
        if not self.nginx.tls_base:
            self.skipTest("no openssl to make a test certificate")
        url = self.nginx.tls_base + "/index.html"
        self.agree(2, "-n", "2", url, expect=("failed", "tls", "failed_connect"))
        for keep in ([], ["-k"]):
            lean, _ = self.agree(8, "-n", "8", "-c", "2", "--insecure", *keep, url,
                                 expect=("ok", None, "complete"))
            handshakes = [s for s in lean["samples"] if s["tls_us"] and s["tls_us"] > 0]
            self.assertEqual(len(handshakes), 2 if keep else 8, keep)

    def test_backend(self):
        url = "http://archive.example.test:%d/whoami" % self.nginx.port
        lean, _ = self.agree(3, "-n", "3", "--backend", "127.0.0.1:%d" % self.nginx.port, url,
                             expect=("ok", None, "complete"))
        self.assertEqual(lean["html_bytes"], 3 * len("archive.example.test\n"))

    def test_bodies_and_checks(self):
        """A POST's body and length as the server received them, and expect checks: the same
        request bytes and the same outcome and counts from both engines."""
        d = tempfile.mkdtemp(prefix="bw-engines-")
        record = os.path.join(d, "requests.bin")
        faultd = Faultd("--record", record)
        try:
            got = {}
            for engine in ("lean", "curl"):
                open(record, "wb").close()
                rc, r, err = run_one("--engine", engine, "-n", "6", "-c", "2", "-k", "--data",
                                     "x" * 5000, faultd.base + "/bytes?size=300")
                self.assertEqual((r["outcome"], r["complete"]), ("ok", 6), err)
                with open(record, "rb") as f:
                    got[engine] = f.read()
            self.assertEqual(got["lean"], got["curl"])
            self.assertEqual(got["lean"].count(b"\r\nContent-Length: 5000\r\n\r\n" + b"x" * 5000),
                             6)
            base = faultd.base
            for args, expect in (
                    (["--data", "a=1", "--expect-status", "201", base + "/bytes?size=30"],
                     ("failed", "check", "failed_check")),
                    (["--expect-body", "no such text", base + "/bytes?size=3000"],
                     ("failed", "check", "failed_check")),
                    (["--expect-body", "ABCDEF", "--expect-status", "200",
                      base + "/chunked?size=2500&chunk=7"], ("ok", None, "complete")),
                    (["-m", "OPTIONS", "--expect-status", "200", base + "/bytes?size=10"],
                     ("ok", None, "complete"))):
                for keep in ([], ["-k"]):
                    with self.subTest(args=args, keep=keep):
                        self.agree(4, "-n", "4", "-c", "2", *keep, *args, expect=expect)
        finally:
            faultd.stop()
            shutil.rmtree(d, ignore_errors=True)

    def test_engine_choice(self):
        url = self.faultd.base + "/bytes?size=10"
        # lean refuses what it does not do; auto hands it to curl.
        rc, _, err = run("--engine", "lean", "--http2", url, check=False)
        self.assertEqual(rc, 64, err)
        self.assertIn("engine: lean", err)
        rc, r, err = run_one("--engine", "auto", "-n", "2", "--http2", url)
        self.assertEqual((rc, r["outcome"], r["complete"]), (0, "ok", 2))
        rc, _, err = run("--engine", "fast", url, check=False)
        self.assertEqual(rc, 64, err)
        self.assertIn("expected auto, lean or curl", err)


if __name__ == "__main__":
    unittest.main(verbosity=2)
