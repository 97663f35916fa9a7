"""Download tests: rate, timeline, stalls, caps, failures and TCP facts, against real servers."""
import os
import shutil
import sqlite3
import subprocess
import tempfile
import unittest
import urllib.request

from harness import CLI, Faultd, Nginx, free_port, run_one, stalled_steps
from test_daemon import Daemon

MB = 1000000


class DownloadTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.faultd = Faultd()
        cls.nginx = Nginx(big="64M")

    @classmethod
    def tearDownClass(cls):
        cls.faultd.stop()
        cls.nginx.stop()

    def test_whole_file_and_tcp_facts(self):
        _, r, _ = run_one("--download", self.nginx.base + "/big.bin")
        self.assertEqual(r["outcome"], "ok")
        self.assertEqual(r["bytes"], os.path.getsize(os.path.join(self.nginx.www, "big.bin")))
        self.assertEqual(r["status"], 200)
        self.assertEqual(r["remote_ip"], "127.0.0.1")
        self.assertGreater(r["rate_bps"], 50 * MB)  # loopback
        # TCP_INFO from the transfer's own socket, as the receiver sees it. Loopback's MTU is
        # 65536: the advertised MSS is that less the headers, and the data came in segments far
        # larger than Ethernet's (a broken reading would give 0, 536 or a 1500-derived size).
        self.assertGreaterEqual(r["tcp_advmss"], 16000)
        self.assertLessEqual(r["tcp_advmss"], 65535)
        self.assertGreater(r["tcp_rcv_mss"], 1460)
        self.assertLessEqual(r["tcp_rcv_mss"], 65535)
        self.assertGreater(r["tcp_rcv_space"], 0)
        # Everything on the wire came in, headers included, in fewer segments than bytes.
        self.assertGreaterEqual(r["tcp_bytes_received"], r["bytes"])
        self.assertLess(r["tcp_bytes_received"], r["bytes"] + 4096)
        self.assertGreater(r["tcp_segs_in"], r["bytes"] // 65536)
        self.assertLess(r["tcp_segs_in"], r["bytes"] // 1000)
        self.assertGreaterEqual(r["tcp_rcv_ooopack"], 0)
        self.assertGreaterEqual(r["tcp_samples"], 1)
        self.assertGreater(r["tcp_rcv_rtt_max_us"], 0)
        self.assertGreaterEqual(r["tcp_rcv_rtt_max_us"], r["tcp_rcv_rtt_us"])
        self.assertIsNotNone(r["tcp_rtt_us"])
        # The client's own send-side facts are no longer read as the path's.
        self.assertIsNone(r["tcp_pmtu"])
        self.assertIsNone(r["tcp_retrans"])
        self.assertTrue(r["tcp_options"].startswith("ts,sack,wscale:"), r["tcp_options"])
        # Phases: the headers came, then the first body byte, then the last.
        self.assertLessEqual(r["headers_us"], r["ttfb_us"])
        self.assertLess(r["ttfb_us"], r["last_byte_us"])
        self.assertLessEqual(r["last_byte_us"], r["duration_us"])
        self.assertEqual(r["stalls"], 0)
        self.assertIsNone(r["stall_first_at_us"])
        self.assertEqual(sum(s["bytes"] for s in r["samples"]), r["bytes"])

    def test_trickle_rate(self):
        _, r, _ = run_one("--download", "--interval", "500ms",
                          self.faultd.base + "/trickle?rate=262144&size=786432")
        self.assertEqual(r["outcome"], "ok")
        self.assertEqual(r["bytes"], 786432)
        self.assertAlmostEqual(r["rate_bps"] / 262144, 1.0, delta=0.10)
        # Every whole step runs near the trickle rate too: no stall.
        self.assertEqual(r["stall_us"], 0)
        self.assertAlmostEqual(r["max_rate_bps"] / 262144, 1.0, delta=0.15)

    def test_stall_is_placed_in_the_timeline(self):
        _, r, _ = run_one("--download", "--interval", "250ms",
                          self.faultd.base + "/stall?after=1000000&seconds=3&size=2000000")
        self.assertEqual(r["outcome"], "ok")
        self.assertEqual(r["bytes"], 2000000)
        # The 3 s of silence, as the client saw it (the last byte before it may land a few ms late).
        self.assertGreaterEqual(r["stall_us"], 2950000)
        self.assertLessEqual(r["stall_us"], 3300000)
        stalls = stalled_steps(r, 100000)
        self.assertTrue(stalls)
        # The first MB came at once; the silence starts right after it and lasts 3 s.
        self.assertLess(stalls[0][0], 0.5)
        self.assertGreaterEqual(stalls[-1][0] + stalls[-1][1] - stalls[0][0], 2.75)
        self.assertGreater(r["samples"][0]["bytes"], 900000)
        # One silence, placed: after the first MB (in whole 10^5 bytes: faultd's writes), for
        # the 3 s it lasted.
        self.assertEqual(r["stalls"], 1)
        self.assertGreaterEqual(r["stall_first_bytes"], 1000000)
        self.assertLess(r["stall_first_bytes"], 1100000)
        self.assertGreaterEqual(r["stall_longest_us"], 2900000)
        self.assertLess(r["stall_first_at_us"], r["last_byte_us"])

    def test_collapse_shows_when(self):
        _, r, _ = run_one("--download", "--interval", "250ms",
                          self.faultd.base + "/collapse?fast=4000000&rate=32000&size=4064000")
        stalls = stalled_steps(r, 100000)
        self.assertGreaterEqual(len(stalls), 7)
        self.assertLess(stalls[0][0], 0.5)
        self.assertLessEqual(r["min_rate_bps"], 40000)
        self.assertGreater(r["max_rate_bps"], 10 * MB)

    def test_caps_are_partial_not_failed(self):
        rc, r, _ = run_one("--download", "--max-bytes", "5MB", self.nginx.base + "/big.bin")
        self.assertEqual((rc, r["outcome"], r["bytes"]), (0, "partial", 5 * MB))
        self.assertIsNotNone(r["rate_bps"])
        rc, r, _ = run_one("--download", "--max-time", "1s",
                           self.faultd.base + "/trickle?rate=100000&size=10000000")
        self.assertEqual((rc, r["outcome"]), (0, "partial"))
        self.assertAlmostEqual(r["duration_us"] / 1e6, 1.0, delta=0.2)
        self.assertAlmostEqual(r["rate_bps"] / 100000, 1.0, delta=0.15)

    def test_failures_by_class(self):
        cases = [
            ("/reset?after=100000&size=1000000", "reset"),
            ("/lie?claim=100000&send=1000", "length"),
            ("/status?code=503&size=10", "http"),
            ("/redirect-loop", "redirect"),
        ]
        for path, cls in cases:
            rc, r, err = run_one("--download", self.faultd.base + path, check=False)
            self.assertEqual(rc, 1, path)
            self.assertEqual(r["outcome"], "failed", path)
            self.assertEqual(r["error_class"], cls, path)
            self.assertIsNone(r["rate_bps"], path)
            self.assertIn(cls, err)
        # How far it got is kept: a reset after 100000 bytes received 100000 bytes.
        rc, r, _ = run_one("--download", self.faultd.base + "/reset?after=100000&size=1000000",
                           check=False)
        self.assertEqual(r["bytes"], 100000)

    def test_diagnosis_in_run_output(self):
        """What a person reads: headers then silence is said in a sentence with its evidence; a
        stall is counted and placed; a healthy download gets no diagnosis at all."""
        p = subprocess.run([CLI, "run", "--download", "--timeout", "1s",
                            self.faultd.base + "/headers?size=1000000"],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 1)
        self.assertIn("no body byte", p.stdout)
        self.assertRegex(p.stdout, r"Diagnosis: headers arrived after [0-9.]+ ms, then no body "
                                   r"byte in [0-9.]+ s")
        p = subprocess.run([CLI, "run", "--download", "--interval", "250ms",
                            self.faultd.base + "/stall?after=1000000&seconds=2&size=2000000"],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertRegex(p.stdout, r"Diagnosis: stalled once, for [0-9.]+ s, starting after "
                                   r"1\.0 MB")
        p = subprocess.run([CLI, "run", "--download", self.nginx.base + "/big.bin"],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p.stderr)
        self.assertNotIn("Diagnosis", p.stdout)
        self.assertIn("TCP, as this host received it", p.stdout)
        self.assertNotIn("path MTU", p.stdout)

    def test_where_it_stopped(self):
        """A body that stops mid-way and times out says where (bytes, time) and how long it was
        silent: the timeout, counted from the last byte."""
        rc, r, _ = run_one("--download", "--timeout", "1s",
                           self.faultd.base + "/stall?after=1000000&seconds=30&size=2000000",
                           check=False)
        self.assertEqual((rc, r["outcome"], r["error_class"]), (1, "failed", "timeout"))
        self.assertEqual(r["bytes"], 1000000)
        self.assertGreaterEqual(r["end_silence_us"], 1000000)
        self.assertLess(r["end_silence_us"], 3000000)
        self.assertAlmostEqual(r["last_byte_us"] + r["end_silence_us"], r["duration_us"],
                               delta=1000)
        self.assertEqual(r["stalls"], 1)
        self.assertEqual(r["stall_first_bytes"], 1000000)

    def test_silence_times_out(self):
        rc, r, _ = run_one("--download", "--timeout", "1s", self.faultd.base + "/hang",
                           check=False)
        self.assertEqual((rc, r["outcome"], r["error_class"]), (1, "failed", "timeout"))
        self.assertLess(r["duration_us"], 3000000)
        self.assertIsNone(r["status"])  # no response at all: not "nobody"

    def test_headers_then_nothing_is_nobody_whichever_timer_fires(self):
        """Headers, then not one body byte: failed/nobody with no rate, TTFB or stall, stored as
        NULL, and exit status 1, whether the silence timeout or max_time comes first."""
        tmp = tempfile.mkdtemp(prefix="bw-download-")
        db = os.path.join(tmp, "bw.db")
        try:
            orders = [
                ("silence-first", ["--timeout", "1s", "--max-time", "4s"], "no body byte for"),
                ("max-time-first", ["--timeout", "4s", "--max-time", "1s"], "max_time"),
            ]
            for name, args, words in orders:
                rc, r, err = run_one("--download", *args, "--store", "--db", db, "--name", name,
                                     self.faultd.base + "/headers?size=1000000", check=False)
                self.assertEqual((rc, r["outcome"], r["error_class"]), (1, "failed", "nobody"),
                                 name)
                self.assertIn(words, r["error_message"], name)
                self.assertIn("nobody", err, name)
                self.assertEqual((r["status"], r["bytes"], r["samples"]), (200, 0, []), name)
                for figure in ("rate_bps", "ttfb_us", "stall_us", "min_rate_bps", "last_byte_us"):
                    self.assertIsNone(r[figure], (name, figure))
                # The headers did come: their time is a fact, apart from the first body byte's,
                # and so is the silence after them, as long as the timer that ended it.
                self.assertIsNotNone(r["headers_us"], name)
                self.assertLess(r["headers_us"], 1000000, name)
                # (from the end of the headers to the end: the whole transfer but the headers)
                self.assertAlmostEqual(r["end_silence_us"], r["duration_us"] - r["headers_us"],
                                       delta=2, msg=name)
                # A connection was made: its facts are measured, the window read through it.
                self.assertGreaterEqual(r["tcp_bytes_received"], 17, name)
                self.assertGreaterEqual(r["tcp_samples"], 1, name)
                # Ended by the shorter timer (1 s), not by the longer one (4 s).
                self.assertGreaterEqual(r["duration_us"], 1000000, name)
                self.assertLess(r["duration_us"], 3500000, name)
            con = sqlite3.connect(db)
            rows = con.execute(
                "SELECT t.name, r.outcome, r.error_class, r.status, r.bytes, r.rate_bps IS NULL,"
                " r.ttfb_us IS NULL, r.stall_us IS NULL, r.min_rate_bps IS NULL "
                "FROM run r JOIN target t ON t.id = r.target_id ORDER BY r.id").fetchall()
            readable = con.execute("SELECT mb_per_s IS NULL FROM runs_readable").fetchall()
            con.close()
            self.assertEqual(rows, [(name, "failed", "nobody", 200, 0, 1, 1, 1, 1)
                                    for name, _, _ in orders])
            self.assertEqual(readable, [(1,), (1,)])
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    def test_empty_body_is_nobody_and_short_body_is_length(self):
        rc, r, _ = run_one("--download", self.faultd.base + "/bytes?size=0", check=False)
        self.assertEqual((rc, r["outcome"], r["error_class"], r["status"]),
                         (1, "failed", "nobody", 200))
        self.assertIsNone(r["rate_bps"])
        self.assertIsNone(r["ttfb_us"])
        rc, r, err = run_one("--download", self.faultd.base + "/lie?claim=3000000&send=1000000",
                             check=False)
        self.assertEqual((rc, r["outcome"], r["error_class"], r["bytes"]),
                         (1, "failed", "length", 1000000))
        self.assertIsNone(r["rate_bps"])
        self.assertIsNotNone(r["ttfb_us"])  # the body did start: its first byte is a fact
        self.assertIn("length", err)

    def test_silence_in_the_body_is_cut_at_the_timeout(self):
        """A 1 s timeout and a 3 s silence after the first MB: failed/timeout once 1 s of it has
        passed, so the second MB never comes (curl's low-speed average let a 4 s silence pass a
        1 s limit). The silence up to the cut is the stall."""
        rc, r, err = run_one("--download", "--timeout", "1s", "--interval", "250ms",
                             self.faultd.base + "/stall?after=1000000&seconds=3&size=2000000",
                             check=False)
        self.assertEqual((rc, r["outcome"], r["error_class"]), (1, "failed", "timeout"))
        self.assertIn("timeout", err)
        self.assertEqual(r["bytes"], 1000000)  # cut before the silence ended
        self.assertIsNone(r["rate_bps"])
        self.assertIsNotNone(r["ttfb_us"])
        # At least the timeout, and well before the 3 s silence was over.
        self.assertGreaterEqual(r["duration_us"], 1000000)
        self.assertLess(r["duration_us"], 2900000)
        # The stall is the silence as measured, from the last byte to the cut: 1 s and a little.
        self.assertGreaterEqual(r["stall_us"], 1000000)
        self.assertLessEqual(r["stall_us"], r["duration_us"])
        self.assertEqual(sum(s["bytes"] for s in r["samples"]), 1000000)

    def test_pauses_shorter_than_the_timeout_pass(self):
        """Four 1 s pauses under a 3 s timeout: ok, every byte, the pauses counted as stall. The
        silence timer restarts with each arrival: a timer for the whole run would fire at 3 s."""
        rc, r, _ = run_one("--download", "--timeout", "3s", "--interval", "250ms",
                           self.faultd.base
                           + "/stall?after=200000&seconds=1&every=200000&size=1000000")
        self.assertEqual((rc, r["outcome"], r["error_class"]), (0, "ok", None))
        self.assertEqual(r["bytes"], 1000000)
        self.assertGreaterEqual(r["duration_us"], 4000000)  # four pauses of the server's 1 s
        self.assertIsNotNone(r["rate_bps"])
        # Each pause covers at least three whole 250 ms steps without a byte.
        self.assertGreaterEqual(r["stall_us"], 3000000)
        self.assertLessEqual(r["stall_us"], r["duration_us"])

    def test_daemon_counts_no_body_as_a_failure(self):
        """The daemon stores the same outcome, and /metrics says the last run did not succeed
        and shows no rate for it."""
        tmp = tempfile.mkdtemp(prefix="bw-download-")
        port = free_port()
        config = os.path.join(tmp, "bw.yaml")
        with open(config, "w") as f:
            f.write("database: bw.db\nmetrics: {listen: \"127.0.0.1:%d\"}\n"
                    "defaults: {every: 1s, jitter: 0}\n"
                    "tests:\n"
                    "  - {name: silent, kind: download, timeout: 500ms, max_time: 5s,"
                    " url: \"%s/headers?size=1000000\"}\n" % (port, self.faultd.base))
        d = Daemon(config)
        try:
            d.wait_log("silent: failed")
            with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % port, timeout=5) as resp:
                text = resp.read().decode()
        finally:
            self.assertEqual(d.stop(), 0)
            log = d.log()
        try:
            metrics = dict(line.rsplit(" ", 1) for line in text.splitlines()
                           if line and not line.startswith("#"))
            label = '{test="silent",backend=""}'
            self.assertEqual(float(metrics["benchwatch_last_run_success" + label]), 0)
            self.assertGreaterEqual(float(metrics['benchwatch_runs_total{test="silent",backend="",'
                                                  'outcome="failed"}']), 1)
            self.assertEqual(float(metrics['benchwatch_runs_total{test="silent",backend="",'
                                           'outcome="partial"}']), 0)
            self.assertNotIn("benchwatch_download_bytes_per_second" + label, metrics)
            self.assertNotIn("benchwatch_download_ttfb_seconds" + label, metrics)
            self.assertIn("nobody", log)
            con = sqlite3.connect(os.path.join(tmp, "bw.db"))
            rows = con.execute("SELECT DISTINCT outcome, error_class, rate_bps, ttfb_us FROM run"
                               ).fetchall()
            con.close()
            self.assertEqual(rows, [("failed", "nobody", None, None)])
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    unittest.main(verbosity=2)
