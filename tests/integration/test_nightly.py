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
from test_daemon import DAEMON, Daemon, sql
from test_mail import Smtpd
from test_storage import Locker, metrics


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

    def test_composed_off_the_loop_while_locked(self):
        """A database locked when the report is due delays the report, not the measurements: the
        loop answers /metrics and measures through it, and the report is kept and mailed once
        the lock is gone."""
        mport = free_port()
        with open(self.config, "w") as f:
            f.write("database: bw.db\nmax_parallel: 2\nmetrics: {listen: \"127.0.0.1:%d\"}\n"
                    "report: {at: \"00:00\", smtp: \"smtp://127.0.0.1:%d\", from: \"bw@monitor.test\","
                    " to: [\"ops@example.test\"], tls: none}\n"
                    "defaults: {every: 1s, jitter: 0}\ntests:\n" % (mport, self.port))
            for name in ("a", "b"):
                f.write('  - {name: %s, kind: page, requests: 5, url: "%s/delay?ms=50"}\n'
                        % (name, self.faultd.base))
        subprocess.run([DAEMON, "--config", self.config, "--check"], check=True,
                       stderr=subprocess.DEVNULL)
        smtpd = Smtpd("--port", str(self.port))
        locker = Locker(self.db, 14)
        d = Daemon(self.config)
        try:
            d.wait_log("/metrics")
            answered = 0
            while time.monotonic() - locker.t0 < 12:
                t0 = time.monotonic()
                metrics(mport)
                self.assertLess(time.monotonic() - t0, 2.5)
                answered += 1
                time.sleep(0.3)
            self.assertGreater(answered, 10)
            self.assertEqual(smtpd.messages(), [])
            locker.release()
            d.wait_log("mailed to 1 recipients", timeout=40)
            # The spool is written out at the writer's pace, which a loaded machine slows: wait
            # for the tenth run to be stored rather than stop the daemon in the middle of it.
            d.wait_log("stored as run 10;", timeout=90)
            self.assertEqual(d.stop(), 0)
            self.assertEqual(len(smtpd.messages()), 1, d.log())
        finally:
            locker.release()
            if d.proc.poll() is None:
                d.stop(signal.SIGKILL)
            smtpd.stop()
        log = d.log()
        self.assertEqual(sql(self.db, "SELECT count(*), sum(sent_us IS NOT NULL) FROM report"),
                         [(1, 1)])
        # The measurements went on through the lock, with the transfers' own figures.
        lo, hi, n = sql(self.db, "SELECT min(p50_us), max(p50_us), count(*) FROM run "
                                 "WHERE outcome = 'ok'")[0]
        self.assertGreaterEqual(n, 10, log)
        self.assertGreaterEqual(lo, 50000)
        self.assertLess(hi, 150000)
        self.assertLess(sql(self.db, "SELECT max(max_us) FROM run")[0][0], 1000000)


if __name__ == "__main__":
    unittest.main(verbosity=2)
