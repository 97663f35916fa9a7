"""Diagnosis across backends: three nodes behind one test, one of them answers its headers and then
sends nothing. The report, `baseline` and `history` name it with the evidence."""
import os
import shutil
import subprocess
import tempfile
import unittest

from harness import CLI, Faultd


class BackendsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.nodes = [Faultd(), Faultd(), Faultd("--mute")]
        cls.tmp = tempfile.mkdtemp(prefix="bw-diagnose-")
        cls.db = os.path.join(cls.tmp, "bw.db")
        cls.backends = ["127.0.0.1:%d" % n.port for n in cls.nodes]
        args = [CLI, "run", "--download", "--timeout", "1s", "--store", "--db", cls.db,
                "--name", "big"]
        for b in cls.backends:
            args += ["--backend", b]
        # The URL's own host and port are never used: every request goes to a backend.
        p = subprocess.run(args + ["http://archive.invalid:8088/bytes?size=3000000"],
                           capture_output=True, text=True, timeout=120)
        cls.run_out = p

    @classmethod
    def tearDownClass(cls):
        for n in cls.nodes:
            n.stop()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def test_run_says_why(self):
        p = self.run_out
        self.assertEqual(p.returncode, 1, p.stderr)  # the muted node failed
        self.assertRegex(p.stdout, r"Diagnosis: headers arrived after [0-9.]+ ms, then no body "
                                   r"byte in 1\.[0-9] s")

    def test_report_names_the_odd_one(self):
        p = subprocess.run([CLI, "report", "--db", self.db, "--since", "1h"],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        muted = self.backends[2]
        self.assertIn("why: headers arrived after", p.stdout)
        self.assertIn("odd one out: %s differs from the other backends:" % muted, p.stdout)
        self.assertIn("no body byte (the others", p.stdout)
        for healthy in self.backends[:2]:
            self.assertNotIn("odd one out: %s" % healthy, p.stdout)
        html = subprocess.run([CLI, "report", "--db", self.db, "--since", "1h", "--format",
                               "html"], capture_output=True, text=True, timeout=60)
        self.assertIn("<b>odd one out:</b> %s differs" % muted, html.stdout)

    def test_baseline_compares_backends(self):
        args = [CLI, "baseline", "--db", self.db, "big"]
        # Without a config, each backend is asked for by name; with three, they are compared.
        outs = []
        for b in self.backends:
            p = subprocess.run(args + ["--backend", b], capture_output=True, text=True,
                               timeout=60)
            outs.append(p.stdout)
        self.assertNotIn("Backends compared", "".join(outs))  # one backend: nothing to compare
        conf = os.path.join(self.tmp, "bw.yaml")
        with open(conf, "w") as f:
            f.write("database: %s\ntests:\n  - name: big\n    kind: download\n"
                    "    url: http://archive.invalid:8088/bytes?size=3000000\n"
                    "    backends: [%s]\n" % (self.db, ", ".join(self.backends)))
        p = subprocess.run([CLI, "baseline", "--config", conf, "big"], capture_output=True,
                           text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
        self.assertIn("Backends compared (latest runs):", p.stdout)
        self.assertIn("%s differs from the other backends:" % self.backends[2], p.stdout)
        self.assertNotIn("%s differs" % self.backends[0], p.stdout)

    def test_history_says_why_under_a_failed_run(self):
        p = subprocess.run([CLI, "history", "--db", self.db, "--backend", self.backends[2], "big"],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertIn("failed", p.stdout)
        self.assertIn("why: headers arrived after", p.stdout)
        p = subprocess.run([CLI, "history", "--db", self.db, "--backend", self.backends[0], "big"],
                           capture_output=True, text=True, timeout=60)
        self.assertNotIn("why:", p.stdout)


if __name__ == "__main__":
    unittest.main(verbosity=2)
