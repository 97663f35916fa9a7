"""The report's HTML in a real browser: headless Chromium renders it with no errors logged."""
import os
import shutil
import subprocess
import tempfile
import unittest

from harness import CLI, Faultd, SOURCE


class RenderTest(unittest.TestCase):
    def test_screenshot(self):
        if not (shutil.which("chromium") or shutil.which("chromium-browser")):
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


if __name__ == "__main__":
    unittest.main(verbosity=2)
