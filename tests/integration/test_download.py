"""Download tests: rate, timeline, stalls, caps, failures and TCP facts, against real servers."""
import os
import unittest

from harness import Faultd, Nginx, run_one, stalled_steps

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
        # TCP_INFO from the transfer's own socket: loopback's MTU and the kernel's options.
        self.assertEqual(r["tcp_pmtu"], 65535)
        self.assertGreater(r["tcp_rcv_mss"], 0)
        self.assertGreater(r["tcp_rcv_space"], 0)
        self.assertEqual(r["tcp_retrans"], 0)
        self.assertTrue(r["tcp_options"].startswith("ts,sack,wscale:"), r["tcp_options"])
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

    def test_silence_times_out(self):
        rc, r, _ = run_one("--download", "--timeout", "1s", self.faultd.base + "/hang",
                           check=False)
        self.assertEqual((rc, r["outcome"], r["error_class"]), (1, "failed", "timeout"))
        self.assertLess(r["duration_us"], 3000000)


if __name__ == "__main__":
    unittest.main(verbosity=2)
