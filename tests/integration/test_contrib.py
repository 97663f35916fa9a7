"""contrib/: the Grafana dashboard and the Prometheus rules against what a running daemon serves.

Every metric an expression of the dashboard (panels and template variables) or of the alerting
rules names must be on the /metrics page of a real benchwatchd that has run page and download
tests with a backend, judged them and opened a regression; the expressions must be PromQL that
promtool accepts.
"""
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
import unittest
import urllib.request

import yaml

from harness import CLI, SOURCE, Faultd, Nginx, free_port
from test_daemon import Daemon

DASHBOARD = os.path.join(SOURCE, "contrib", "grafana", "benchwatch.json")
RULES = os.path.join(SOURCE, "contrib", "prometheus", "benchwatch.rules.yml")

# Grafana's variables, as Grafana substitutes them, so that promtool can parse the expressions.
GRAFANA_VARS = [("${datasource}", "prom"), ("$__rate_interval", "5m"), ("$__interval", "1m"),
                ("$__range", "1h"), ("$instance", ".*"), ("$test", "home")]
PROMQL_WORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and",
                "or", "unless", "offset", "inf", "nan"}


def metric_names(expr):
    """The metric names a PromQL expression selects: identifiers that are not functions,
    keywords, label names (in matchers or grouping clauses), durations or numbers."""
    e = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    e = re.sub(r"\{[^}]*\}", " ", e)
    e = re.sub(r"\[[^\]]*\]", " ", e)
    e = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", e)
    names = set()
    for m in re.finditer(r"[A-Za-z_:][A-Za-z0-9_:]*", e):
        before = e[m.start() - 1] if m.start() else " "
        if before.isdigit() or before == ".":
            continue  # a duration (5m) or an exponent
        if e[m.end():].lstrip().startswith("(") or m.group(0).lower() in PROMQL_WORDS:
            continue
        names.add(m.group(0))
    return names


def dashboard_exprs(dash):
    """Every PromQL expression in the dashboard: panel targets (rows' panels too) and the
    metric selectors of the template variables' label_values() queries."""
    out = []

    def walk(panels):
        for p in panels:
            out.extend(t["expr"] for t in p.get("targets", []) if "expr" in t)
            walk(p.get("panels", []))
    walk(dash["panels"])
    for v in dash["templating"]["list"]:
        if v["type"] != "query":
            continue
        q = v["query"]["query"] if isinstance(v["query"], dict) else v["query"]
        m = re.fullmatch(r"label_values\((.*),\s*(\w+)\)", q)
        assert m, "template variable %s: not a label_values() query: %s" % (v["name"], q)
        out.append(m.group(1))
    return out


def substitute(expr):
    for var, value in GRAFANA_VARS:
        expr = expr.replace(var, value)
    return expr


class MetricNamesTest(unittest.TestCase):
    """The extractor itself: a test that cannot see a name would pass anything."""

    def test_metric_names(self):
        self.assertEqual(metric_names(
            'sum by (outcome) (increase(benchwatch_runs_total{instance=~"a|b",test="x"}[1h]))'),
            {"benchwatch_runs_total"})
        self.assertEqual(metric_names(
            "time() - (a_seconds > b_seconds or c) > 2 * 3600 and on (instance) d > 0"),
            {"a_seconds", "b_seconds", "c", "d"})
        self.assertEqual(metric_names("count(x == 0) or vector(0)"), {"x"})
        self.assertEqual(metric_names("rate(y[5m] offset 1h) * 1e3"), {"y"})


class DashboardTest(unittest.TestCase):
    def setUp(self):
        with open(DASHBOARD) as f:
            self.dash = json.load(f)

    def test_layout(self):
        """Test and instance variables; one row repeated per test; every panel has a query and
        reads the chosen data source; panel ids are unique."""
        names = [v["name"] for v in self.dash["templating"]["list"]]
        self.assertEqual(names, ["datasource", "instance", "test"])
        rows = [p for p in self.dash["panels"] if p["type"] == "row"]
        self.assertEqual([r.get("repeat") for r in rows], [None, "test"])
        ids = [p["id"] for p in self.dash["panels"]]
        self.assertEqual(len(ids), len(set(ids)))
        after = self.dash["panels"][self.dash["panels"].index(rows[1]) + 1:]
        self.assertGreaterEqual(len(after), 9)
        for p in self.dash["panels"]:
            if p["type"] == "row":
                continue
            self.assertTrue(p["targets"], p["title"])
            self.assertEqual(p["datasource"]["uid"], "${datasource}", p["title"])
            for t in p["targets"]:
                self.assertEqual(t["datasource"]["uid"], "${datasource}", p["title"])
        # In the per-test row, every query is about the row's test and overlays its backends.
        for p in after:
            for t in p["targets"]:
                self.assertIn('test="$test"', t["expr"], p["title"])
                if p["type"] != "table":
                    self.assertIn("{{backend}}", t["legendFormat"], p["title"])
        exprs = " ".join(dashboard_exprs(self.dash))
        for name in ("benchwatch_baseline_seconds", "benchwatch_figure_regression_open",
                     "benchwatch_last_run_success", "benchwatch_page_median_seconds",
                     "benchwatch_download_bytes_per_second", "benchwatch_runs_total"):
            self.assertIn(name, exprs)

    def test_promql(self):
        """promtool parses every expression (as recording rules)."""
        if not shutil.which("promtool"):
            self.skipTest("promtool not installed (apt-get install prometheus)")
        rules = {"groups": [{"name": "dashboard", "rules": [
            {"record": "dashboard:expr_%d" % i, "expr": substitute(e)}
            for i, e in enumerate(dashboard_exprs(self.dash))]}]}
        with tempfile.NamedTemporaryFile("w", suffix=".yml") as f:
            json.dump(rules, f)
            f.flush()
            p = subprocess.run(["promtool", "check", "rules", f.name], capture_output=True,
                               text=True)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)


class ExposedTest(unittest.TestCase):
    def setUp(self):
        self.faultd = Faultd()
        self.nginx = Nginx(big="1M")  # an https target: its certificate's expiry is a metric
        if not self.nginx.tls_base:
            self.nginx.stop()
            self.faultd.stop()
            self.skipTest("nginx has no TLS here")
        self.dir = tempfile.mkdtemp(prefix="bw-contrib-")
        self.config = os.path.join(self.dir, "bw.yaml")
        self.port = free_port()
        host = "127.0.0.1:%d" % self.faultd.port
        with open(self.config, "w") as f:
            f.write("database: bw.db\nmetrics: {listen: \"127.0.0.1:%d\"}\n"
                    "defaults: {every: 1s, jitter: 0}\n"
                    "detect: {min_runs: 3, open_after: 2, false_alarm_every: 1h}\n"
                    "tests:\n"
                    "  - {name: home, kind: page, requests: 3, backends: [\"%s\"],\n"
                    "     url: \"http://user:secret@%s/delay?ms=5\"}\n"
                    "  - {name: big, kind: download, url: \"%s/bytes?size=2000000\"}\n"
                    "  - {name: down, kind: page, requests: 1, url: \"http://127.0.0.1:1/\"}\n"
                    "  - {name: tls, kind: page, requests: 1, tls_verify: false,"
                    " url: \"%s/small.txt\"}\n"
                    % (self.port, host, host, self.faultd.base, self.nginx.tls_base))

    def tearDown(self):
        self.faultd.stop()
        self.nginx.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def scrape(self):
        url = "http://127.0.0.1:%d/metrics" % self.port
        with urllib.request.urlopen(url, timeout=10) as r:
            return r.read().decode()

    def test_every_metric_is_exposed(self):
        with open(DASHBOARD) as f:
            dash = json.load(f)
        with open(RULES) as f:
            rules = yaml.safe_load(f)
        used = {}
        for e in dashboard_exprs(dash):
            for n in metric_names(substitute(e)):
                used.setdefault(n, "dashboard: " + e)
        for g in rules["groups"]:
            for r in g["rules"]:
                for n in metric_names(r["expr"]) - {"up"}:  # up: Prometheus's own
                    used.setdefault(n, "%s: %s" % (r["alert"], r["expr"]))
        self.assertGreater(len(used), 25)

        d = Daemon(self.config)
        try:
            d.wait_log("serving http://127.0.0.1:%d/metrics" % self.port)
            # Some families appear only once there is something to show (a baseline, a judged
            # ratio, an open regression): scrape until all of them are there, or the detector has
            # had far more runs than it needs and the daemon is stopped.
            d.wait_log("REGRESSION OPENED down: availability", timeout=90)
            missing = set(used)
            for _ in range(60):
                text = self.scrape()
                exposed = {line.split("{")[0].split(" ")[0] for line in text.splitlines()
                           if line and not line.startswith("#")}
                missing = set(used) - exposed
                if not missing:
                    break
                time.sleep(1)
        finally:
            self.assertEqual(d.stop(), 0)
        self.assertEqual(sorted(missing), [],
                         "\n".join("%s (%s)" % (n, used[n]) for n in sorted(missing)))

        # The families the dashboard reads with labels it relies on.
        version = subprocess.run([CLI, "--version"], capture_output=True, text=True,
                                 check=True).stdout.split()[-1]
        self.assertIn('benchwatch_build_info{version="%s"} 1\n' % version, text)
        self.assertIn('benchwatch_target_info{test="home",backend="127.0.0.1:%d",kind="page",'
                      'url="http://user:***@127.0.0.1:%d/delay?ms=5"} 1\n'
                      % (self.faultd.port, self.faultd.port), text)
        self.assertNotIn("secret", text)
        self.assertIn('benchwatch_http_status_code{test="home",backend="127.0.0.1:%d"} 200\n'
                      % self.faultd.port, text)
        self.assertIn('benchwatch_reports_undelivered 0\n', text)


class ReportMetricsTest(unittest.TestCase):
    """benchwatch_reports_undelivered and _last_delivered_timestamp_seconds follow delivery: a
    report the mail server does not take is counted, and once it goes out it is not."""

    def setUp(self):
        self.faultd = Faultd()
        self.dir = tempfile.mkdtemp(prefix="bw-contrib-report-")
        self.config = os.path.join(self.dir, "bw.yaml")
        self.port = free_port()
        self.smtp_port = free_port()
        # 00:00 has always passed today: the report is due as soon as the daemon starts.
        with open(self.config, "w") as f:
            f.write("database: bw.db\nmetrics: {listen: \"127.0.0.1:%d\"}\n"
                    "report: {at: \"00:00\", smtp: \"smtp://127.0.0.1:%d\", "
                    "from: \"bw@monitor.test\", to: [\"ops@example.test\"], tls: none}\n"
                    "tests:\n"
                    "  - {name: home, kind: page, requests: 2, every: 1h, url: \"%s/\"}\n"
                    % (self.port, self.smtp_port, self.faultd.base))

    def tearDown(self):
        self.faultd.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def scrape(self):
        url = "http://127.0.0.1:%d/metrics" % self.port
        with urllib.request.urlopen(url, timeout=10) as r:
            text = r.read().decode()
        return dict(line.rsplit(" ", 1) for line in text.splitlines()
                    if line and not line.startswith("#"))

    def test_undelivered_then_delivered(self):
        from test_mail import Smtpd
        smtpd = None
        started = time.time()
        d = Daemon(self.config)
        try:
            d.wait_log("not delivered")
            m = self.scrape()
            self.assertEqual(float(m["benchwatch_reports_undelivered"]), 1)
            self.assertEqual(float(m["benchwatch_report_last_delivered_timestamp_seconds"]), 0)
            # The server comes back: the retry (10 s later) delivers it.
            smtpd = Smtpd("--port", str(self.smtp_port))
            d.wait_log("mailed to 1 recipients", timeout=30)
            m = self.scrape()
            self.assertEqual(float(m["benchwatch_reports_undelivered"]), 0)
            delivered = float(m["benchwatch_report_last_delivered_timestamp_seconds"])
            self.assertGreaterEqual(delivered, started - 1)
            self.assertLessEqual(delivered, time.time() + 1)
        finally:
            self.assertEqual(d.stop(), 0)
            if smtpd:
                smtpd.stop()


if __name__ == "__main__":
    unittest.main(verbosity=2)
