"""Requests as clients make them: methods and bodies (what the server received, byte for byte, from
both page engines), expect checks (failed requests of class check), a forward proxy (Debian's
squid, with the connection to it reused), and the server certificate's expiry (stored, exported,
warned in the nightly report)."""
import datetime
import csv
import io
import json
import os
import shutil
import sqlite3
import subprocess
import tempfile
import time
import unittest

from harness import CLI, Faultd, Nginx, Squid, free_port, run, run_one
from test_daemon import Daemon
from test_storage import metrics


def request(method, target, host, body, content_type="application/x-www-form-urlencoded",
            extra=()):
    """The request both engines send, as curl -d sends it."""
    head = "%s %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: benchwatch/%s\r\nAccept: */*\r\n" % (
        method, target, host, version())
    for h in extra:
        head += h + "\r\n"
    if body is not None:
        if content_type:  # none: the test's own Content-Type header is among extra
            head += "Content-Type: %s\r\n" % content_type
        head += "Content-Length: %d\r\n" % len(body)
    return head.encode() + b"\r\n" + (body or b"")


def version():
    out = subprocess.run([CLI, "--version"], capture_output=True, text=True, check=True).stdout
    return out.split()[-1]


def not_after_us(cert_pem):
    """The certificate's notAfter, read by openssl x509 -enddate, in µs since the epoch."""
    out = subprocess.run(["openssl", "x509", "-enddate", "-noout", "-in", cert_pem],
                         capture_output=True, text=True, check=True).stdout.strip()
    when = datetime.datetime.strptime(out.split("=", 1)[1], "%b %d %H:%M:%S %Y %Z")
    return int(when.replace(tzinfo=datetime.timezone.utc).timestamp()) * 1000000


class BodyTest(unittest.TestCase):
    """What arrived at bw_faultd --record, which reads each body before it answers."""

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="bw-requests-")
        self.record = os.path.join(self.dir, "requests.bin")
        self.faultd = Faultd("--record", self.record)
        self.host = "127.0.0.1:%d" % self.faultd.port

    def tearDown(self):
        self.faultd.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def take(self):
        with open(self.record, "rb") as f:
            data = f.read()
        open(self.record, "wb").close()
        return data

    def test_post_data_both_engines(self):
        for engine in ("lean", "curl"):
            with self.subTest(engine=engine):
                rc, r, err = run_one("--engine", engine, "-n", "3", "-c", "1", "-k", "--data",
                                     "a=1&b=two words", self.faultd.base + "/bytes?size=100")
                self.assertEqual((r["outcome"], r["complete"], r["failed"]), ("ok", 3, 0), err)
                want = request("POST", "/bytes?size=100", self.host, b"a=1&b=two words")
                self.assertEqual(self.take(), want * 3)

    def test_binary_body_file_put_with_type(self):
        body = bytes(range(256)) * 3 + b"\r\n\r\nend"
        path = os.path.join(self.dir, "payload.bin")
        with open(path, "wb") as f:
            f.write(body)
        for engine in ("lean", "curl"):
            with self.subTest(engine=engine):
                run_one("--engine", engine, "-n", "2", "-u", path, "-T", "application/octet-stream",
                        "-H", "X-Test: 1", self.faultd.base + "/bytes?size=10")
                want = request("PUT", "/bytes?size=10", self.host, body,
                               content_type="application/octet-stream", extra=["X-Test: 1"])
                self.assertEqual(self.take(), want * 2)

    def test_config_body_file_relative_and_methods(self):
        with open(os.path.join(self.dir, "order.json"), "wb") as f:
            f.write(b'{"item": 7}\n')
        config = os.path.join(self.dir, "bw.yaml")
        with open(config, "w") as f:
            f.write("database: bw.db\ntests:\n"
                    "  - {name: order, kind: page, requests: 2, method: PATCH,"
                    " body_file: order.json, headers: [\"Content-Type: application/json\"],"
                    " url: \"%s/bytes?size=5\"}\n"
                    "  - {name: gone, kind: page, requests: 1, method: DELETE,"
                    " url: \"%s/bytes?size=5\"}\n"
                    "  - {name: empty, kind: page, requests: 1, method: POST,"
                    " url: \"%s/bytes?size=5\"}\n" % ((self.faultd.base,) * 3))
        run("--config", config, "order")
        self.assertEqual(self.take(), 2 * request("PATCH", "/bytes?size=5", self.host,
                                                  b'{"item": 7}\n', content_type=None,
                                                  extra=["Content-Type: application/json"]))
        run("--config", config, "gone")
        self.assertEqual(self.take(), request("DELETE", "/bytes?size=5", self.host, None))
        run("--config", config, "empty")
        self.assertEqual(self.take(), request("POST", "/bytes?size=5", self.host, b""))

    def test_body_file_errors(self):
        config = os.path.join(self.dir, "bw.yaml")
        with open(config, "w") as f:
            f.write("tests:\n"
                    "  - name: order\n"
                    "    kind: page\n"
                    "    method: POST\n"
                    "    body_file: missing.json\n"
                    "    url: http://127.0.0.1:1/\n")
        p = subprocess.run([CLI, "check-config", config], capture_output=True, text=True)
        self.assertEqual(p.returncode, 78, p.stderr)
        self.assertIn("%s:5:16: tests[0].body_file: " % config, p.stderr)
        self.assertIn("missing.json", p.stderr)
        with open(os.path.join(self.dir, "missing.json"), "wb") as f:
            f.write(b"x" * (1024 * 1024 + 1))
        p = subprocess.run([CLI, "check-config", config], capture_output=True, text=True)
        self.assertEqual(p.returncode, 78, p.stderr)
        self.assertIn("%s:5:16: tests[0].body_file: " % config, p.stderr)


class ExpectTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.faultd = Faultd()

    @classmethod
    def tearDownClass(cls):
        cls.faultd.stop()

    def both(self, *args):
        rc_l, lean, _ = run_one("--engine", "lean", *args, check=False)
        rc_c, curl, _ = run_one("--engine", "curl", *args, check=False)
        for k in ("outcome", "error_class", "error_message", "complete", "failed", "failed_check",
                  "non_2xx", "status"):
            self.assertEqual(lean[k], curl[k], k)
        self.assertEqual([s["error_class"] for s in lean["samples"]],
                         [s["error_class"] for s in curl["samples"]])
        self.assertEqual(rc_l, rc_c)
        return rc_l, lean

    def test_status_check_fails_every_request(self):
        rc, r = self.both("-n", "4", "-k", "--expect-status", "200,204",
                          self.faultd.base + "/status?code=503")
        self.assertEqual(rc, 1)
        self.assertEqual((r["outcome"], r["error_class"]), ("failed", "check"))
        self.assertEqual(r["error_message"], "HTTP 503, expected 200 or 204")
        # ab's non-2xx count stays as ab has it; the failed checks are added to the failures
        self.assertEqual((r["complete"], r["non_2xx"], r["failed_check"], r["failed"]), (4, 4, 4, 4))
        self.assertEqual({s["error_class"] for s in r["samples"]}, {"check"})

    def test_expected_status_is_a_latency(self):
        rc, r = self.both("-n", "3", "--expect-status", "404", self.faultd.base + "/nothing")
        self.assertEqual((rc, r["outcome"], r["failed_check"], r["failed"]), (0, "ok", 0, 0))
        self.assertIsNotNone(r["p50_us"])

    def test_body_check(self):
        # Body byte k of bw_faultd's filler is the alphabet's k % 64: "ABC" is at the start.
        rc, r = self.both("-n", "3", "--expect-body", "ABC", self.faultd.base + "/bytes?size=500")
        self.assertEqual((rc, r["outcome"], r["failed_check"]), (0, "ok", 0))
        rc, r = self.both("-n", "3", "--expect-body", "no such text",
                          self.faultd.base + "/chunked?size=2500&chunk=100")
        self.assertEqual((r["outcome"], r["error_class"], r["failed_check"]), ("failed", "check", 3))
        self.assertIn('does not contain "no such text"', r["error_message"])

    def test_without_expect_nothing_is_checked(self):
        rc, r, _ = run_one("-n", "2", self.faultd.base + "/status?code=503", check=False)
        self.assertEqual((r["error_class"], r["failed_check"]), ("http", None))

    def test_stored_and_exported(self):
        d = tempfile.mkdtemp(prefix="bw-expect-")
        try:
            db = os.path.join(d, "bw.db")
            subprocess.run([CLI, "run", "-n", "5", "--expect-status", "200", "--store", "--db", db,
                            "--name", "checked", self.faultd.base + "/status?code=500"],
                           capture_output=True)
            out = subprocess.run(["sqlite3", db, "SELECT outcome, error_class, failed_check,"
                                  " failed, non_2xx FROM run"], capture_output=True, text=True,
                                 check=True).stdout.strip()
            self.assertEqual(out, "failed|check|5|5|5")
            rows = list(csv.DictReader(io.StringIO(subprocess.run(
                [CLI, "export", "--db", db, "checked"], capture_output=True, text=True,
                check=True).stdout)))
            self.assertEqual([(r["outcome"], r["failed_check"], r["error"]) for r in rows],
                             [("failed", "5", "check")])
        finally:
            shutil.rmtree(d, ignore_errors=True)


class ProxyTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.nginx = Nginx(big="1M")
        try:
            cls.squid = Squid()
        except unittest.SkipTest:
            cls.nginx.stop()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.squid.stop()
        cls.nginx.stop()

    def test_keepalive_through_squid_reuses_the_connection(self):
        before = len(self.squid.requests())
        rc, r, err = run_one("-n", "40", "-c", "2", "-k", "-X", "127.0.0.1:%d" % self.squid.port,
                             self.nginx.base + "/small.txt")
        self.assertEqual((r["outcome"], r["complete"], r["failed"]), ("ok", 40, 0), err)
        self.assertEqual(r["remote_port"], self.squid.port)  # the client talked to the proxy
        seen = self.squid.requests()[before:]
        self.assertEqual(len(seen), 40)
        self.assertEqual({(m, u, s) for _, m, u, s in seen},
                         {("GET", self.nginx.base + "/small.txt", "200")})
        connections = {client for client, _, _, _ in seen}
        self.assertLess(len(connections), 40)
        self.assertLessEqual(len(connections), 4)  # two slots, each kept its connection

    def test_https_through_connect_reads_the_certificate(self):
        if not self.nginx.tls_base:
            self.skipTest("nginx has no TLS here")
        rc, r, err = run_one("-n", "3", "-k", "--insecure", "--proxy", self.squid.url,
                             self.nginx.tls_base + "/small.txt")
        self.assertEqual((r["outcome"], r["complete"]), ("ok", 3), err)
        self.assertEqual(r["cert_expires_us"],
                         not_after_us(os.path.join(self.nginx.dir, "conf", "cert.pem")))
        self.assertIn("CONNECT", {m for _, m, _, _ in self.squid.requests()})

    def test_config_rules_and_redaction(self):
        d = tempfile.mkdtemp(prefix="bw-proxy-")
        try:
            config = os.path.join(d, "bw.yaml")
            with open(config, "w") as f:
                f.write("tests:\n"
                        "  - {name: a, kind: page, url: \"http://x.test/\","
                        " proxy: \"http://user:s3cret@127.0.0.1:%d\"}\n"
                        "  - {name: b, kind: page, url: \"http://x.test/\", engine: lean,"
                        " proxy: \"http://127.0.0.1:3128\"}\n"
                        "  - {name: c, kind: page, url: \"http://x.test/\", backends: [n1:80],"
                        " proxy: \"http://127.0.0.1:3128\"}\n" % self.squid.port)
            p = subprocess.run([CLI, "check-config", config], capture_output=True, text=True)
            self.assertEqual(p.returncode, 78)
            self.assertIn("%s:3:5: tests[1]: engine: lean connects to the server itself" % config,
                          p.stderr)
            self.assertIn("%s:4:5: tests[2]: backends and proxy" % config, p.stderr)
            with open(config, "w") as f:
                f.write("tests:\n"
                        "  - {name: a, kind: page, url: \"%s/small.txt\","
                        " proxy: \"http://user:s3cret@127.0.0.1:%d\"}\n"
                        % (self.nginx.base, self.squid.port))
            p = subprocess.run([CLI, "check-config", "--print", config], capture_output=True,
                               text=True, check=True)
            self.assertIn('proxy: "http://user:***@127.0.0.1:%d/"' % self.squid.port, p.stdout)
            self.assertNotIn("s3cret", p.stdout)
            rc, r, err = run_one("--config", config, "a")
            self.assertEqual(r["outcome"], "ok", err)
            self.assertNotIn("s3cret", err + str(r))
        finally:
            shutil.rmtree(d, ignore_errors=True)


class CertificateTest(unittest.TestCase):
    def test_expiry_matches_openssl(self):
        nginx = Nginx(big="1M")
        try:
            if not nginx.tls_base:
                self.skipTest("nginx has no TLS here")
            want = not_after_us(os.path.join(nginx.dir, "conf", "cert.pem"))
            for engine in ("lean", "curl"):
                for keep in ([], ["-k"]):
                    with self.subTest(engine=engine, keep=keep):
                        rc, r, err = run_one("--engine", engine, "-n", "3", *keep, "--insecure",
                                             nginx.tls_base + "/small.txt")
                        self.assertEqual(r["outcome"], "ok", err)
                        self.assertEqual(r["cert_expires_us"], want)
            rc, r, err = run_one("--download", "--insecure", nginx.tls_base + "/big.bin")
            self.assertEqual(r["cert_expires_us"], want)
            rc, r, err = run_one("-n", "2", nginx.base + "/small.txt")
            self.assertIsNone(r["cert_expires_us"])  # plain HTTP: nothing to expire
        finally:
            nginx.stop()

    def test_daemon_exports_the_expiry(self):
        """benchwatchd's /metrics: benchwatch_cert_expiry_timestamp_seconds is the notAfter, in
        seconds, for the https target only; failed checks beside it."""
        nginx = Nginx(big="1M")
        d = tempfile.mkdtemp(prefix="bw-cert-metrics-")
        daemon = None
        try:
            if not nginx.tls_base:
                self.skipTest("nginx has no TLS here")
            port = free_port()
            config = os.path.join(d, "bw.yaml")
            with open(config, "w") as f:
                f.write("database: bw.db\nmetrics: {listen: \"127.0.0.1:%d\"}\n"
                        "defaults: {every: 1s, jitter: 0}\ntests:\n"
                        "  - {name: tls, kind: page, requests: 2, tls_verify: false,"
                        " url: \"%s/small.txt\"}\n"
                        "  - {name: plain, kind: page, requests: 2, url: \"%s/small.txt\","
                        " expect: {body_contains: \"no such line\"}}\n"
                        % (port, nginx.tls_base, nginx.base))
            daemon = Daemon(config)
            daemon.wait_log("tls: ok", timeout=60)
            daemon.wait_log("plain: failed", timeout=60)
            want = not_after_us(os.path.join(nginx.dir, "conf", "cert.pem")) // 1000000
            for _ in range(100):  # the runs reach /metrics once stored
                text = metrics(port)
                if "benchwatch_page_failed_checks" in text and "cert_expiry" in text:
                    break
                time.sleep(0.1)
            self.assertIn('benchwatch_cert_expiry_timestamp_seconds{test="tls",backend=""} %d\n'
                          % want, text)
            self.assertNotIn('benchwatch_cert_expiry_timestamp_seconds{test="plain"', text)
            self.assertIn('benchwatch_page_failed_checks{test="plain",backend=""} 2\n', text)
        finally:
            if daemon:
                self.assertEqual(daemon.stop(), 0)
            nginx.stop()
            shutil.rmtree(d, ignore_errors=True)

    def report(self, days):
        """The nightly report (text, HTML, JSON) after one stored run against a certificate
        valid for `days` days, made with openssl by nginx.sh."""
        nginx = Nginx(big="1M", cert_days=days)
        d = tempfile.mkdtemp(prefix="bw-cert-")
        try:
            if not nginx.tls_base:
                self.skipTest("nginx has no TLS here")
            config = os.path.join(d, "bw.yaml")
            with open(config, "w") as f:
                f.write("database: bw.db\ntests:\n"
                        "  - {name: portal, kind: page, requests: 2, tls_verify: false,"
                        " url: \"%s/small.txt\"}\n" % nginx.tls_base)
            subprocess.run([CLI, "run", "--config", config, "portal", "--store"], check=True,
                           capture_output=True)
            want = not_after_us(os.path.join(nginx.dir, "conf", "cert.pem"))
            stored = subprocess.run(["sqlite3", os.path.join(d, "bw.db"),
                                     "SELECT cert_expires_us FROM run"], capture_output=True,
                                    text=True, check=True).stdout.strip()
            self.assertEqual(int(stored), want)
            exported = subprocess.run([CLI, "export", "-c", config, "portal", "--json"],
                                      capture_output=True, text=True, check=True).stdout
            self.assertEqual(json.loads(exported)[0]["cert_expires_us"], want)
            history = subprocess.run([CLI, "history", "-c", config, "portal", "--json"],
                                     capture_output=True, text=True, check=True).stdout
            self.assertEqual(json.loads(history)[0]["cert_expires_us"], want)
            out = {}
            for fmt in ("text", "html", "json"):
                out[fmt] = subprocess.run([CLI, "report", "-c", config, "--format", fmt],
                                          capture_output=True, text=True, check=True).stdout
            return want, out
        finally:
            nginx.stop()
            shutil.rmtree(d, ignore_errors=True)

    def test_report_warns_within_14_days(self):
        want, out = self.report(5)
        day = datetime.datetime.fromtimestamp(want / 1e6, datetime.timezone.utc)
        self.assertIn("1 certificate expiring", out["text"].splitlines()[0])
        self.assertIn("CERTIFICATES EXPIRING (within 14 days)", out["text"])
        self.assertRegex(out["text"], r"portal: the server certificate expires %s, in [45]\.\d days"
                         % day.strftime("%Y-%m-%d %H:%M UTC"))
        self.assertIn("Certificates expiring within 14 days</h2>", out["html"])
        self.assertIn("<b>portal</b>: the server certificate expires", out["html"])
        self.assertEqual(json.loads(out["json"])["certs_expiring"], 1)
        self.assertEqual(json.loads(out["json"])["targets"][0]["cert_expires_us"], want)

    def test_report_quiet_with_a_distant_expiry(self):
        want, out = self.report(400)
        self.assertNotIn("CERTIFICATES", out["text"])
        self.assertNotIn("Certificates expiring", out["html"])
        self.assertIn("all normal", out["text"].splitlines()[0])


if __name__ == "__main__":
    unittest.main()
