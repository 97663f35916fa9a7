"""/metrics scraped from a running daemon, checked by Prometheus's own promtool and the database."""
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import tempfile
import time
import unittest
import urllib.error
import urllib.request

from harness import Faultd, free_port
from test_daemon import Daemon


def samples(text):
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            out[name] = float(value)
    return out


class MetricsTest(unittest.TestCase):
    def setUp(self):
        self.faultd = Faultd()
        self.dir = tempfile.mkdtemp(prefix="bw-metrics-")
        self.config = os.path.join(self.dir, "bw.yaml")
        self.db = os.path.join(self.dir, "bw.db")
        self.port = free_port()
        with open(self.config, "w") as f:
            f.write("database: bw.db\nmetrics: {listen: \"127.0.0.1:%d\"}\n"
                    "defaults: {every: 1s, jitter: 0}\n"
                    "detect: {min_runs: 3, open_after: 2, false_alarm_every: 1h}\n"
                    "tests:\n"
                    "  - {name: home, kind: page, requests: 3, url: \"%s/delay?ms=5\"}\n"
                    "  - {name: big, kind: download, url: \"%s/bytes?size=2000000\"}\n"
                    "  - {name: down, kind: page, requests: 1, url: \"http://127.0.0.1:1/\"}\n"
                    % (self.port, self.faultd.base, self.faultd.base))

    def tearDown(self):
        self.faultd.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def scrape(self, path="/metrics"):
        with urllib.request.urlopen("http://127.0.0.1:%d%s" % (self.port, path), timeout=5) as r:
            return r.status, r.headers["Content-Type"], r.read().decode()

    def test_scrape(self):
        d = Daemon(self.config)
        try:
            d.wait_log("serving http://127.0.0.1:%d/metrics" % self.port)
            # Failures open availability once chance cannot explain them (a few runs here).
            d.wait_log("REGRESSION OPENED down: availability", timeout=60)
            d.wait_log("(run 4)", timeout=60)
            status, ctype, text = self.scrape()
            self.assertEqual(status, 200)
            self.assertTrue(ctype.startswith("text/plain; version=0.0.4"), ctype)
            with self.assertRaises(urllib.error.HTTPError) as e:
                self.scrape("/nothing")
            self.assertEqual(e.exception.code, 404)
            status, ctype, page = self.scrape("/")  # the status page
            self.assertEqual((status, ctype), (200, "text/html; charset=utf-8"))
        finally:
            self.assertEqual(d.stop(), 0)
        if shutil.which("promtool"):
            p = subprocess.run(["promtool", "check", "metrics"], input=text,
                               capture_output=True, text=True)
            self.assertEqual((p.returncode, p.stdout + p.stderr), (0, ""))
        m = samples(text)
        con = sqlite3.connect(self.db)
        counts = dict(((t, o), n) for t, o, n in con.execute(
            "SELECT t.name, r.outcome, count(*) FROM run r JOIN target t ON t.id = r.target_id "
            "GROUP BY 1, 2"))
        con.close()
        # Counters agree with the database (the daemon may have finished a run after the scrape).
        for test, outcome in (("home", "ok"), ("big", "ok"), ("down", "failed")):
            scraped = m['benchwatch_runs_total{test="%s",backend="",outcome="%s"}' % (test, outcome)]
            self.assertGreaterEqual(scraped, 3)
            self.assertLessEqual(scraped, counts[(test, outcome)])
            self.assertGreaterEqual(scraped, counts[(test, outcome)] - 2)
        self.assertTrue(0.005 <= m['benchwatch_page_median_seconds{test="home",backend=""}'] < 0.02)
        self.assertGreater(m['benchwatch_download_bytes_per_second{test="big",backend=""}'], 1e7)
        self.assertEqual(m['benchwatch_download_bytes{test="big",backend=""}'], 2000000)
        # The receiver's facts, not the client's own send-side ones.
        self.assertNotIn('benchwatch_tcp_path_mtu_bytes{test="big",backend=""}', m)
        self.assertNotIn('benchwatch_tcp_retransmits{test="big",backend=""}', m)
        self.assertGreaterEqual(m['benchwatch_tcp_receive_mss_bytes{test="big",backend=""}'], 536)
        self.assertTrue(0.004 < m['benchwatch_baseline_seconds{test="home",backend=""}'] < 0.02)
        self.assertEqual(m['benchwatch_last_run_success{test="down",backend=""}'], 0)
        self.assertEqual(m['benchwatch_regression_open{test="down",backend="",'
                           'kind="availability"}'], 1)
        self.assertEqual(m['benchwatch_regression_open{test="home",backend="",'
                           'kind="performance"}'], 0)
        self.assertEqual(m["benchwatch_targets"], 3)
        self.assertLess(m["benchwatch_scheduler_lag_seconds"], 1)
        self.assertGreater(m["benchwatch_daemon_last_run_timestamp_seconds"], time.time() - 10)
        # Every judged figure speaks for itself: the home page is normal, near x1.
        self.assertEqual(m['benchwatch_figure_regression_open{test="home",backend="",'
                           'figure="p50_us"}'], 0)
        self.assertTrue(0.5 < m['benchwatch_figure_ratio{test="home",backend="",'
                                'figure="p50_us"}'] < 2)
        self.assertEqual(m['benchwatch_figure_regression_open{test="big",backend="",'
                           'figure="rate_bps"}'], 0)

        # After a restart, an open regression shows at once, before any run is judged again.
        with open(self.config) as f:
            text = f.read()
        with open(self.config, "w") as f:
            f.write(text.replace("every: 1s", "every: 1h"))
        d = Daemon(self.config)
        try:
            d.wait_log("serving http://127.0.0.1:%d/metrics" % self.port)
            m = samples(self.scrape()[2])
            self.assertNotIn("(run ", d.log())
            self.assertEqual(m['benchwatch_regression_open{test="down",backend="",'
                               'kind="availability"}'], 1)
            self.assertEqual(m['benchwatch_regression_open{test="home",backend="",'
                               'kind="performance"}'], 0)
        finally:
            self.assertEqual(d.stop(), 0)


if __name__ == "__main__":
    unittest.main(verbosity=2)
