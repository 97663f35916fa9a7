"""The status page in a real browser: benchwatchd serves /, /target/ID and /regression/ID next to
/metrics; headless Chromium (through chromedriver) loads them at 640 px and on a wide screen,
with no console error, no horizontal scrolling at 640 px, screenshots kept, and the figures and
states on the page compared with the database."""
import os
import shutil
import socket
import sqlite3
import subprocess
import tempfile
import time
import unittest
import urllib.error
import urllib.request

from harness import CLI, free_port
from test_daemon import Daemon

try:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
except ImportError:  # pragma: no cover
    webdriver = None

CHROMEDRIVER = shutil.which("chromedriver")
SHOTS = os.environ.get("BW_SCREENSHOTS", os.path.join(tempfile.gettempdir(), "bw-status-shots"))


def get(url, method="GET"):
    req = urllib.request.Request(url, method=method)
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, r.headers, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.headers, e.read().decode()


class StatusPageTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if webdriver is None or not CHROMEDRIVER:
            raise unittest.SkipTest("needs python3-selenium and chromium-driver")
        cls.dir = tempfile.mkdtemp(prefix="bw-status-")
        cls.config = os.path.join(cls.dir, "bw.yaml")
        cls.db = os.path.join(cls.dir, "bw.db")
        cls.port = free_port()
        closed = free_port()  # nothing listens there: the runs of "down" fail
        now = int(time.time())
        # Imported history only for home and big: their own runs are half a day away.
        offset = (now + 43200) % 86400
        with open(cls.config, "w") as f:
            f.write("database: bw.db\n"
                    "metrics: {listen: \"127.0.0.1:%d\"}\n"
                    "tests:\n"
                    "  - {name: home, kind: page, every: 1d, offset: %ds, jitter: 0,\n"
                    "     url: \"http://portal.example.test/\"}\n"
                    "  - {name: big, kind: download, every: 1d, offset: %ds, jitter: 0,\n"
                    "     url: \"http://archive.example.test/big.tar\",\n"
                    "     backends: [\"node-1:8088\", \"node-2:8088\"]}\n"
                    "  - {name: down, kind: page, every: 1s, jitter: 0, requests: 2,\n"
                    "     url: \"http://127.0.0.1:%d/\"}\n" % (cls.port, offset, offset, closed))
        # Ten days of a page every 30 minutes, twice as slow for its last 40 runs.
        start = now - 480 * 1800 - 600
        home = os.path.join(cls.dir, "home.txt")
        with open(home, "w") as f:
            for i in range(480):
                level = 98.0 * (2 if i >= 440 else 1)
                f.write("%d %.3f\n" % (start + i * 1800, level * (1 + 0.03 * ((i * 7) % 5 - 2))))
        for backend, rate in (("node-1:8088", 16.0), ("node-2:8088", 15.2)):
            path = os.path.join(cls.dir, backend.replace(":", "_") + ".txt")
            with open(path, "w") as f:
                for i in range(0, 480, 2):
                    f.write("%d %.3f\n" % (start + i * 1800 + 60, rate + 0.1 * (i % 3)))
            subprocess.run([CLI, "import", "--config", cls.config, "--test", "big", "--backend",
                            backend, path], check=True, capture_output=True, timeout=120)
        subprocess.run([CLI, "import", "--config", cls.config, "--test", "home", home],
                       check=True, capture_output=True, timeout=120)
        cls.daemon = Daemon(cls.config, env={"TZ": "UTC"})
        cls.base = "http://127.0.0.1:%d" % cls.port
        cls.daemon.wait_log("serving http://", timeout=30)
        # "down" has failed at least twice: failing.
        deadline = time.monotonic() + 60
        while cls.count("SELECT count(*) FROM run JOIN target t ON t.id = target_id"
                        " WHERE t.name = 'down' AND outcome = 'failed'") < 2:
            if time.monotonic() > deadline:
                raise AssertionError("down never failed twice:\n" + cls.daemon.log())
            time.sleep(0.2)
        os.makedirs(SHOTS, exist_ok=True)
        opts = webdriver.ChromeOptions()
        for a in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                  "--disable-background-networking", "--disable-component-update",
                  "--disable-sync", "--no-first-run", "--hide-scrollbars",
                  "--user-data-dir=" + os.path.join(cls.dir, "profile")):
            opts.add_argument(a)
        opts.binary_location = shutil.which("chromium") or "/usr/bin/chromium"
        opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        cls.browser = webdriver.Chrome(service=Service(CHROMEDRIVER), options=opts)
        cls.browser.set_page_load_timeout(60)

    @classmethod
    def tearDownClass(cls):
        browser = getattr(cls, "browser", None)
        if browser:
            browser.quit()
        daemon = getattr(cls, "daemon", None)
        rc = daemon.stop() if daemon else 0
        log = daemon.log() if daemon else ""
        shutil.rmtree(cls.dir, ignore_errors=True)
        # A clean stop: under the sanitizers, a leak or a bad access makes this non-zero.
        if rc != 0:
            raise AssertionError("benchwatchd exited %d:\n%s" % (rc, log[-4000:]))

    @classmethod
    def query(cls, sql, *args):
        con = sqlite3.connect("file:%s?mode=ro" % cls.db, uri=True, timeout=30)
        try:
            return con.execute(sql, args).fetchall()
        finally:
            con.close()

    @classmethod
    def count(cls, sql, *args):
        return cls.query(sql, *args)[0][0]

    def load(self, path, name):
        """Loads path at 640 px and at 1400 px: screenshots, no console error, no sideways
        scrolling at 640 px. Leaves the page loaded at 1400 px."""
        for width in (640, 1400):
            self.browser.set_window_size(width, 1000)
            self.browser.get(self.base + path)
            self.assertEqual(self.browser.execute_script("return document.readyState"), "complete")
            shot = os.path.join(SHOTS, "%s-%d.png" % (name, width))
            self.assertTrue(self.browser.save_screenshot(shot), shot)
            self.assertGreater(os.path.getsize(shot), 5000)
            errors = [e for e in self.browser.get_log("browser") if e["level"] == "SEVERE"]
            self.assertEqual(errors, [], "console errors on %s" % path)
            scroll = self.browser.execute_script(
                "return document.documentElement.scrollWidth - document.documentElement.clientWidth")
            self.assertLessEqual(scroll, 0, "%s scrolls sideways at %d px" % (path, width))
            # Nothing is fetched: every resource is the page itself.
            fetched = self.browser.execute_script(
                "return performance.getEntriesByType('resource').length")
            self.assertEqual(fetched, 0)

    def card(self, target_id):
        return self.browser.find_element(By.ID, "target-%d" % target_id)

    def target_id(self, name, backend=""):
        return self.count("SELECT id FROM target WHERE name = ? AND backend = ?", name, backend)

    def test_index(self):
        self.load("/", "index")
        # Every target has a card with its state.
        targets = self.query("SELECT id, name, backend FROM target ORDER BY name, backend")
        self.assertEqual(len(targets), 4)
        cards = self.browser.find_elements(By.CSS_SELECTOR, "section.card")
        self.assertEqual([c.get_attribute("id") for c in cards],
                         ["target-%d" % t[0] for t in targets])
        state = lambda i: self.card(i).find_element(By.CSS_SELECTOR, ".state").get_attribute(
            "data-state")
        self.assertEqual(state(self.target_id("home")), "regressed")
        self.assertEqual(state(self.target_id("down")), "failing")
        self.assertEqual(state(self.target_id("big", "node-1:8088")), "normal")
        # The open regressions, as in the database.
        open_ids = sorted(r[0] for r in self.query("SELECT id FROM regression"
                                                    " WHERE closed_us IS NULL"))
        self.assertTrue(open_ids)
        shown = sorted(int(r.get_attribute("data-regression")) for r in
                       self.browser.find_elements(By.CSS_SELECTOR, "#open ~ div tr[data-regression]"))
        self.assertEqual(shown, open_ids)
        # Each latest figure on the page is the one stored for the run it names.
        checked = 0
        for tid, name, backend in targets:
            figs = self.card(tid).find_elements(By.CSS_SELECTOR, ".figs")
            if not figs:
                continue
            started = int(figs[0].get_attribute("data-run-started"))
            for el in figs[0].find_elements(By.CSS_SELECTOR, "[data-figure]"):
                figure = el.get_attribute("data-figure")
                self.assertRegex(figure, r"^[a-z0-9_]+$")
                stored = self.count("SELECT %s FROM run WHERE target_id = ? AND started_us = ?"
                                    % figure, tid, started)
                self.assertAlmostEqual(float(el.get_attribute("data-value")), stored, places=6)
                if figure.endswith("_us") and figure != "stall_us":
                    self.assertEqual(el.text, "%.2f ms" % (stored / 1000))
                elif figure.endswith("_bps"):
                    self.assertEqual(el.text, "%.2f MB/s" % (stored / 1e6))
                checked += 1
        self.assertGreaterEqual(checked, 3)
        # The latest stored median of home, as shown.
        home = self.target_id("home")
        p50 = self.query("SELECT p50_us FROM run WHERE target_id = ? ORDER BY started_us DESC"
                         " LIMIT 1", home)[0][0]
        el = self.card(home).find_element(By.CSS_SELECTOR, "[data-figure=p50_us]")
        self.assertEqual(el.text, "%.2f ms" % (p50 / 1000))
        # A chart per target that ran, with the baseline and the open regression's span.
        svg = self.card(home).find_element(By.CSS_SELECTOR, "svg.chart")
        self.assertTrue(svg.find_elements(By.CSS_SELECTOR, ".mode"))
        self.assertEqual(len(svg.find_elements(By.CSS_SELECTOR, "rect.span")), 1)
        self.assertGreater(svg.size["width"], 300)

    def test_regression(self):
        reg, open_run, tid = self.query("SELECT id, open_run_id, target_id FROM regression"
                                        " WHERE closed_us IS NULL AND metric = 'p50_us'")[0]
        self.load("/regression/%d" % reg, "regression")
        opening = self.browser.find_element(By.CSS_SELECTOR, "tr.opening")
        self.assertEqual(int(opening.get_attribute("data-run")), open_run)
        rows = self.browser.find_elements(By.CSS_SELECTOR, "tr[data-run]")
        self.assertEqual(len(rows), 25)  # twelve either side of the opening run
        stored = self.count("SELECT p50_us FROM run WHERE id = ?", open_run)
        cell = opening.find_element(By.CSS_SELECTOR, "td[data-value]")
        self.assertEqual(cell.text, "%.2f ms" % (stored / 1000))
        self.assertTrue(self.browser.find_elements(By.XPATH, "//h2[text()='Diagnosis']"))
        # Its title links to its target's page.
        self.browser.find_element(By.CSS_SELECTOR, "h1 a").click()
        self.assertTrue(self.browser.current_url.endswith("/target/%d" % tid))

    def test_target(self):
        tid = self.target_id("big", "node-2:8088")
        self.load("/target/%d" % tid, "target")
        started, rate = self.query("SELECT started_us, rate_bps FROM run WHERE target_id = ?"
                                   " ORDER BY started_us DESC LIMIT 1", tid)[0]
        cell = self.browser.find_element(By.CSS_SELECTOR, "td[data-figure=rate_bps]")
        self.assertEqual(cell.text, "%.2f MB/s" % (rate / 1e6))
        self.assertIn("node-2:8088", self.browser.title)

    def test_http(self):
        status, headers, body = get(self.base + "/")
        self.assertEqual(status, 200)
        self.assertEqual(headers["Content-Type"], "text/html; charset=utf-8")
        status, headers, body = get(self.base + "/", "HEAD")
        self.assertEqual((status, body), (200, ""))
        self.assertEqual(get(self.base + "/", "POST")[0], 405)
        self.assertEqual(get(self.base + "/target/999999")[0], 404)
        self.assertEqual(get(self.base + "/regression/999999")[0], 404)
        self.assertEqual(get(self.base + "/target/abc")[0], 404)
        status, headers, body = get(self.base + "/metrics")
        self.assertEqual(status, 200)
        self.assertIn("text/plain", headers["Content-Type"])
        self.assertIn("benchwatch_", body)

    def test_many_at_once(self):
        """Pages asked for together all come, and /metrics answers among them."""
        socks = []
        for i in range(12):
            s = socket.create_connection(("127.0.0.1", self.port), timeout=60)
            s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n" if i % 2 else
                      b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
            socks.append(s)
        for i, s in enumerate(socks):
            data = b""
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                data += chunk
            s.close()
            self.assertTrue(data.startswith(b"HTTP/1.1 200 OK"), data[:200])
            self.assertIn(b"</html>" if i % 2 else b"benchwatch_", data)


if __name__ == "__main__":
    unittest.main()
