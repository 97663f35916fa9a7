"""The daemon's nightly report: composed once per calendar day, kept, retried until delivered."""
import email
import email.policy
import os
import re
import shutil
import signal
import sqlite3
import subprocess
import tempfile
import time
import unittest

from harness import CLI, Faultd, free_port
from test_daemon import Daemon
from test_mail import Smtpd


class NightlyTest(unittest.TestCase):
    def setUp(self):
        self.faultd = Faultd()
        self.dir = tempfile.mkdtemp(prefix="bw-nightly-")
        self.config = os.path.join(self.dir, "bw.yaml")
        self.db = os.path.join(self.dir, "bw.db")
        self.port = free_port()
        # 00:00 has always passed today: the report is due as soon as the daemon starts.
        with open(self.config, "w") as f:
            f.write("database: bw.db\n"
                    "report: {at: \"00:00\", smtp: \"smtp://127.0.0.1:%d\", from: \"bw@monitor.test\","
                    " to: [\"ops@example.test\"], tls: none}\n"
                    "tests:\n"
                    "  - {name: home, kind: page, requests: 2, every: 1h, url: \"%s/delay?ms=1\"}\n"
                    % (self.port, self.faultd.base))

    def tearDown(self):
        self.faultd.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def test_kept_retried_and_sent_once(self):
        smtpd = None
        # A run from before the daemon: the report has a target to chart.
        subprocess.run([CLI, "run", "-n", "2", "--store", "--db", self.db, "--name", "home",
                        self.faultd.base + "/delay?ms=1"], check=True, capture_output=True)
        d = Daemon(self.config)
        try:
            # The mail server is down: the report is kept and a retry is planned.
            d.wait_log("all normal")
            d.wait_log("not delivered")
            self.assertIn("trying again in 10 s", d.log())
            rows = sqlite3.connect(self.db).execute(
                "SELECT subject, attempts, sent_us IS NULL FROM report").fetchall()
            self.assertEqual(len(rows), 1)
            self.assertEqual(rows[0][1:], (1, 1))
            # The server comes back: the retry delivers the same report.
            smtpd = Smtpd("--port", str(self.port))
            d.wait_log("mailed to 1 recipients", timeout=20)
            (raw, env), = smtpd.messages()
            msg = email.message_from_bytes(raw, policy=email.policy.default)
            self.assertEqual(msg["Subject"], rows[0][0])
            self.assertIn("all normal", msg.get_body(("plain",)).get_content().lower())
            # The daemon's mail has the charts too: the HTML with its pictures, each one that
            # the HTML shows attached, and nothing else.
            html = msg.get_body(("html",))
            related = next(p for p in msg.iter_parts()
                           if p.get_content_type() == "multipart/related")
            pictures = {str(p["Content-ID"])[1:-1]: p for p in related.iter_parts()
                        if p.get_content_type() == "image/png"}
            self.assertGreaterEqual(len(pictures), 1)
            self.assertEqual(sorted(re.findall(r'src="cid:([^"]+)"', html.get_content())),
                             sorted(pictures))
            for p in pictures.values():
                self.assertEqual(p.get_content()[:8], b"\x89PNG\r\n\x1a\n")
            self.assertEqual(d.stop(), 0)
            # A restart the same day sends nothing more: one report per calendar day.
            d = Daemon(self.config)
            d.wait_log("targets scheduled")
            time.sleep(2)
            self.assertEqual(len(smtpd.messages()), 1)
            self.assertNotIn("not delivered", d.log())
            self.assertEqual(d.stop(), 0)
        finally:
            if d.proc.poll() is None:
                d.stop(signal.SIGKILL)
            if smtpd:
                smtpd.stop()
        con = sqlite3.connect(self.db)
        self.assertEqual(con.execute("SELECT count(*), sum(sent_us IS NOT NULL), max(attempts) "
                                     "FROM report").fetchone(), (1, 1, 2))
        con.close()


if __name__ == "__main__":
    unittest.main(verbosity=2)
