"""The report as people see it: the mail's MIME as a mail client parses it (Python's email
package), and its HTML in a real browser (headless Chromium) at 640 px, the way a mail client
shows it: the cid: pictures from the message itself."""
import email
import email.policy
import json
import math
import os
import re
import shutil
import sqlite3
import struct
import subprocess
import tempfile
import time
import unittest
import zlib

from harness import CLI, Faultd, SOURCE

HOUR = 3600
URL = "http://monitor.example.test:9469"


def chromium():
    return shutil.which("chromium") or shutil.which("chromium-browser")


def cli(*args):
    return subprocess.run([CLI, *args], capture_output=True, text=True, timeout=120)


def png_facts(data):
    """(width, height) of a PNG after checking every chunk's CRC and inflating its pixels to
    exactly the size the header announces (8-bit RGB or RGBA, not interlaced)."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", data[:8]
    pos, idat, ihdr = 8, b"", None
    while pos < len(data):
        n, = struct.unpack(">I", data[pos:pos + 4])
        kind, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + n]
        crc, = struct.unpack(">I", data[pos + 8 + n:pos + 12 + n])
        assert zlib.crc32(kind + body) == crc, kind
        if kind == b"IHDR":
            ihdr = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        pos += 12 + n
        if kind == b"IEND":
            break
    assert pos == len(data)
    w, h, depth, ctype, _, _, interlace = ihdr
    assert depth == 8 and ctype in (2, 6) and interlace == 0, ihdr
    assert len(zlib.decompress(idat)) == h * (1 + w * (3 if ctype == 2 else 4))
    return w, h


# Run in the page after it loaded: how wide it is against the window, and every picture.
PROBE = """<script>window.addEventListener("load", function () {
  var d = document.documentElement, b = document.body;
  var imgs = [].slice.call(document.images).map(function (i) {
    return {src: i.getAttribute("src"), complete: i.complete, w: i.naturalWidth,
            h: i.naturalHeight, right: i.getBoundingClientRect().right};
  });
  b.setAttribute("data-probe", JSON.stringify({inner: window.innerWidth,
      scroll: Math.max(d.scrollWidth, b.scrollWidth), imgs: imgs}));
});</script>"""


def probe_page(path, width, workdir):
    """Loads path in headless Chromium with a window width px wide; what PROBE found."""
    with open(path, encoding="utf-8") as f:
        page = f.read()
    probed = os.path.join(os.path.dirname(path), "probed-" + os.path.basename(path))
    with open(probed, "w", encoding="utf-8") as f:
        f.write(page.replace("</body>", PROBE + "</body>"))
    p = subprocess.run([chromium(), "--headless", "--no-sandbox", "--disable-gpu",
                        "--disable-background-networking", "--disable-component-update",
                        "--disable-sync", "--no-first-run",
                        "--user-data-dir=" + os.path.join(workdir, "profile"),
                        "--window-size=%d,900" % width, "--virtual-time-budget=5000",
                        "--dump-dom", "file://" + probed],
                       capture_output=True, text=True, timeout=120)
    m = re.search(r'data-probe="([^"]*)"', p.stdout)
    assert m, (p.returncode, p.stdout[-500:], p.stderr[-2000:])
    return json.loads(m.group(1).replace("&quot;", '"').replace("&amp;", "&"))


class RenderTest(unittest.TestCase):
    def test_screenshot(self):
        if not chromium():
            self.skipTest("chromium is not installed (apt-get install chromium)")
        faultd = Faultd()
        d = tempfile.mkdtemp(prefix="bw-render-")
        try:
            db = os.path.join(d, "bw.db")
            for _ in range(3):
                subprocess.run([CLI, "run", "-n", "3", "--store", "--db", db, "--name", "home",
                                faultd.base + "/delay?ms=3"], check=True, capture_output=True)
            subprocess.run([CLI, "run", "-n", "1", "--store", "--db", db, "--name", "down",
                            "http://127.0.0.1:1/"], capture_output=True)
            png = os.path.join(d, "report.png")
            env = dict(os.environ, BENCHWATCH=CLI)
            p = subprocess.run([os.path.join(SOURCE, "scripts", "report-screenshot"), png,
                                "--db", db, "--since", "1h"], capture_output=True, text=True,
                               env=env, timeout=120)
            self.assertEqual(p.returncode, 0, p.stderr[-2000:])
            with open(png, "rb") as f:
                data = f.read()
            self.assertEqual(data[:8], b"\x89PNG\r\n\x1a\n")
            self.assertGreater(len(data), 10000)  # a page with text, a table and charts
        finally:
            faultd.stop()
            shutil.rmtree(d, ignore_errors=True)


class ReportMailTest(unittest.TestCase):
    """Ten days of hourly history for two targets, each slow for its last 12 hours (one of the
    two regressions accepted by a person), and a third target measured for real: the report
    mailed through a real SMTP server and read back as a mail client reads it."""

    @classmethod
    def setUpClass(cls):
        from test_mail import Smtpd
        cls.dir = tempfile.mkdtemp(prefix="bw-report-mail-")
        cls.faultd = Faultd()
        try:
            cls.smtpd = Smtpd()
        except unittest.SkipTest:
            cls.faultd.stop()
            raise
        cls.config = os.path.join(cls.dir, "bw.yaml")
        cls.db = os.path.join(cls.dir, "bw.db")
        with open(cls.config, "w") as f:
            f.write("database: bw.db\n"
                    "report: {smtp: \"%s\", from: \"bw@monitor.test\", to: [\"ops@example.test\"],"
                    " tls: none, url: \"%s/\"}\n"
                    "tests:\n"
                    "  - {name: home, kind: page, url: \"http://portal.example.test/\"}\n"
                    "  - {name: search, kind: page, url: \"http://portal.example.test/search\"}\n"
                    "  - {name: api, kind: page, requests: 20, url: \"%s/delay?ms=2\"}\n"
                    % (cls.smtpd.url, URL, cls.faultd.base))
        now = int(time.time())
        t0 = now - now % HOUR - 240 * HOUR
        for name in ("home", "search"):
            path = os.path.join(cls.dir, name + ".txt")
            with open(path, "w") as f:
                for i in range(240):
                    v = 300.0 + i % 3 if i >= 228 else 95 + 5 * math.sin(i / 5.0)
                    f.write("%d %.3f\n" % (t0 + i * HOUR, v))
            p = cli("import", "--config", cls.config, "--test", name, path)
            assert p.returncode == 0, p.stderr
        con = sqlite3.connect(cls.db)
        cls.regs = dict(con.execute("SELECT t.name, g.id FROM regression g JOIN target t"
                                    " ON t.id = g.target_id").fetchall())
        con.close()
        assert sorted(cls.regs) == ["home", "search"], cls.regs
        p = cli("regressions", "ack", str(cls.regs["search"]), "--config", cls.config)
        assert p.returncode == 0, p.stderr
        for _ in range(3):
            p = cli("run", "--store", "--db", cls.db, "--name", "api", "-n", "20",
                    cls.faultd.base + "/delay?ms=2")
            assert p.returncode == 0, p.stderr
        con = sqlite3.connect(cls.db)
        cls.targets = dict(con.execute("SELECT name, id FROM target").fetchall())
        con.close()
        p = cli("report", "--since", "24h", "--config", cls.config, "--send")
        assert p.returncode == 0, p.stderr
        (cls.raw, _), = cls.smtpd.messages()
        cls.msg = email.message_from_bytes(cls.raw, policy=email.policy.default)

    @classmethod
    def tearDownClass(cls):
        cls.smtpd.stop()
        cls.faultd.stop()
        shutil.rmtree(cls.dir, ignore_errors=True)

    def parts(self):
        """(text part, html part, {content id: picture part})"""
        m = self.msg
        self.assertEqual(m.get_content_type(), "multipart/alternative")
        plain, related = m.iter_parts()
        self.assertEqual(plain.get_content_type(), "text/plain")
        self.assertEqual(related.get_content_type(), "multipart/related")
        self.assertEqual(related.get_param("type"), "text/html")
        html, *pictures = related.iter_parts()
        self.assertEqual(html.get_content_type(), "text/html")  # the root part comes first
        cids = {}
        for p in pictures:
            self.assertEqual(p.get_content_type(), "image/png")
            self.assertEqual(p["Content-Transfer-Encoding"], "base64")
            self.assertEqual(p.get_content_disposition(), "inline")
            self.assertTrue(p.get_filename().endswith(".png"))
            cid = str(p["Content-ID"])
            self.assertRegex(cid, r"^<[^<>\s]+@[^<>\s]+>$")
            self.assertNotIn(cid[1:-1], cids)
            cids[cid[1:-1]] = p
        crlf = lambda s: s.replace("\r\n", "\n")  # noqa: E731 (as stored by a local agent)
        return crlf(plain.get_content()), crlf(html.get_content()), cids

    def test_mime_structure_and_pictures(self):
        self.raw.decode("ascii")  # 7-bit
        for line in self.raw.split(b"\r\n"):
            self.assertLessEqual(len(line), 78)
        text, html, cids = self.parts()
        # One chart per target, every cid: in the HTML attached and every picture shown.
        self.assertEqual(len(cids), 3)
        refs = re.findall(r'<img src="cid:([^"]+)" width="(\d+)" height="(\d+)"', html)
        self.assertEqual(sorted(r[0] for r in refs), sorted(cids))
        self.assertEqual(html.count("cid:"), 3)
        for cid, w, h in refs:
            self.assertEqual(png_facts(cids[cid].get_content()), (int(w), int(h)))
            self.assertEqual((int(w), int(h)), (600, 180))
        self.assertNotIn("<svg", html)
        self.assertNotIn("<script", html)

    def test_ids_links_accepted_week_and_percentiles(self):
        text, html, _ = self.parts()
        home, search = self.regs["home"], self.regs["search"]
        # The open regression with its id and its page; the accepted one said so, in both parts.
        self.assertRegex(text, r"OPEN REGRESSIONS\n  home: median \d+\.\d\d ms -> 30\d\.\d\d ms "
                               r"\(x3\.\d\d\) since .* \(id %d, %s/regression/%d\)\n"
                         % (home, URL, home))
        self.assertRegex(text, r"RECOVERED OR ACCEPTED\n  search: median .* \(id %d, "
                               r"%s/regression/%d\); accepted\n" % (search, URL, search))
        self.assertIn('<a href="%s/regression/%d" style="color:#1f5fbf">id %d</a>'
                      % (URL, home, home), html)
        self.assertRegex(html, r"<b>search</b>: median [^<]*<a href=\"%s/regression/%d\"[^>]*>id "
                               r"%d</a>\); <b[^>]*>accepted</b></li>" % (URL, search, search))
        self.assertIn('<a href="%s/" style="color:#1f5fbf">status page</a>' % URL, html)
        self.assertIn("Status page: %s/\n" % URL, text)
        for name, tid in self.targets.items():
            self.assertIn('<a href="%s/target/%d" style="color:#1f5fbf">%s</a>' % (URL, tid, name),
                          html)
        # Week over week: 300 ms now against about 95 ms a week earlier, in both parts.
        m = re.search(r"  home .*\n      a week before (\d+\.\d\d) ms \(x(\d\.\d\d)\)\n", text)
        self.assertTrue(m, text)
        self.assertTrue(90 <= float(m.group(1)) <= 100 and 2.9 <= float(m.group(2)) <= 3.4,
                        m.groups())
        self.assertIn("a week before <b>%s ms (x%s)</b>" % m.groups(), html)
        # p90 and p99 of the measured target beside its median, the order statistics kept.
        m = re.search(r"  api .*median (\d+\.\d\d) ms.*\n      p90 (\d+\.\d\d) ms, "
                      r"p99 (\d+\.\d\d) ms\n", text)
        self.assertTrue(m, text)
        p50, p90, p99 = map(float, m.groups())
        self.assertTrue(2 <= p50 <= p90 <= p99, m.groups())
        self.assertIn("p90 <b>%s ms</b>" % m.group(2), html)
        self.assertIn("p99 <b>%s ms</b>" % m.group(3), html)

    def test_fits_640px_in_chromium(self):
        if not chromium():
            self.skipTest("chromium is not installed (apt-get install chromium)")
        _, html, cids = self.parts()
        # As a mail client does: the pictures from the message, each where its cid: points.
        d = os.path.join(self.dir, "client")
        os.makedirs(d, exist_ok=True)
        for i, (cid, part) in enumerate(sorted(cids.items())):
            with open(os.path.join(d, "part%d.png" % i), "wb") as f:
                f.write(part.get_content())
            html = html.replace("cid:" + cid, "part%d.png" % i)
        page = os.path.join(d, "mail.html")
        with open(page, "w", encoding="utf-8") as f:
            f.write(html)
        got = probe_page(page, 640, self.dir)
        self.assertEqual(got["inner"], 640)
        self.assertLessEqual(got["scroll"], 640, got)  # no horizontal scrolling
        self.assertEqual(len(got["imgs"]), 3)
        for img in got["imgs"]:
            self.assertTrue(img["complete"], img)
            self.assertEqual((img["w"], img["h"]), (600, 180), img)  # loaded and decoded
            self.assertLessEqual(img["right"], 640, img)
        # The probe does see overflow: the same page with one wide block scrolls.
        wide = os.path.join(d, "wide.html")
        with open(wide, "w", encoding="utf-8") as f:
            f.write(html.replace("</body>", '<div style="width:900px">x</div></body>'))
        self.assertGreater(probe_page(wide, 640, self.dir)["scroll"], 640)


if __name__ == "__main__":
    unittest.main(verbosity=2)
