"""benchwatch run --store: what it writes, read back with the real sqlite3 CLI."""
import os
import shutil
import subprocess
import tempfile
import unittest

from harness import CLI, Faultd, run_one


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
        self.assertEqual(sql(db, "SELECT count(*), min(duration_us) >= 20000 FROM sample"),
                         [["5", "1"]])
        # A failed run is stored with its class and no latency.
        run_one("-n", "2", "--store", "--db", db, "--name", "delay", "http://127.0.0.1:1/",
                check=False)
        self.assertEqual(sql(db, "SELECT outcome, error_class, p50_us IS NULL FROM run "
                                 "ORDER BY id DESC LIMIT 1"), [["failed", "connect", "1"]])
        self.assertEqual(sql(db, "SELECT count(*) FROM target"), [["1"]])

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
            rows = sql(db, "SELECT backend, outcome, bytes, mb_per_s > 0, pmtu FROM runs_readable "
                           "ORDER BY backend")
            expected = sorted([["127.0.0.1:%d" % port, "ok", "3000000", "1", "65535"]
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


if __name__ == "__main__":
    unittest.main(verbosity=2)
