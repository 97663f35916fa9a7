"""Parallel downloads (streams: N, split: whole | ranges) against nginx with a per-connection limit.

The registry case: one pull is held to a per-connection rate, many at once add up. nginx's
limit_rate caps each connection at 200 KB/s, so one stream runs at the limit and four at about four
times it. The bounds are wide enough for a loaded machine (a slow machine only makes the streams
slower than the limit, never faster) and narrow enough that a broken aggregate fails them: a sum
that double-counted, or a rate of one stream standing for the whole, is off by a factor.
"""
import csv
import io
import os
import shutil
import sqlite3
import subprocess
import tempfile
import unittest

from harness import CLI, Faultd, Nginx, run_one

LIMIT = 200 * 1024  # nginx's "200k": bytes per second per connection


class StreamsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.nginx = Nginx(big="4M", limit_rate="200k")
        cls.faultd = Faultd()

    @classmethod
    def tearDownClass(cls):
        cls.nginx.stop()
        cls.faultd.stop()

    def test_four_streams_add_up_past_the_per_connection_limit(self):
        url = self.nginx.base + "/big.bin"
        _, one, _ = run_one("--download", "--max-time", "3s", url)
        self.assertEqual(one["outcome"], "partial")
        self.assertIsNone(one["streams"])
        self.assertIsNone(one["stream_rates"])
        # One connection: at the limit, never past it (nginx's first burst included).
        self.assertLess(one["rate_bps"], 1.3 * LIMIT)
        self.assertGreater(one["rate_bps"], 0.3 * LIMIT)

        _, four, _ = run_one("--download", "--streams", "4", "--max-time", "3s", url)
        self.assertEqual(four["outcome"], "partial", four["error_message"])
        self.assertEqual(four["streams"], 4)
        rates = [int(r) for r in four["stream_rates"].split()]
        self.assertEqual(len(rates), 4)
        # Each stream is held to the limit on its own connection ...
        for r in rates:
            self.assertLess(r, 1.3 * LIMIT)
            self.assertGreater(r, 0)
        self.assertEqual(four["stream_min_bps"], min(rates))
        self.assertEqual(four["stream_max_bps"], max(rates))
        self.assertGreaterEqual(four["stream_spread"], 0)
        # ... and the aggregate is about four times one stream: the registry's finding.
        self.assertGreaterEqual(four["rate_bps"], 2.5 * one["rate_bps"])
        self.assertLess(four["rate_bps"], 4 * 1.3 * LIMIT)
        # The aggregate is the streams' bytes together: close to the sum of their rates.
        self.assertGreater(four["rate_bps"], 0.6 * sum(rates))
        self.assertLess(four["rate_bps"], 1.2 * sum(rates))
        # Every stream's bytes are in the one timeline.
        self.assertEqual(sum(s["bytes"] for s in four["samples"]), four["bytes"])

    def test_ranges_fetch_the_file_once_in_parts(self):
        size = os.path.getsize(os.path.join(self.nginx.www, "big.bin"))
        _, r, _ = run_one("--download", "--streams", "4", "--split", "ranges",
                          self.nginx.base + "/big.bin")
        self.assertEqual(r["outcome"], "ok", r["error_message"])
        self.assertEqual(r["status"], 206)
        # Four ranges make the file exactly once (whole copies would be four times it).
        self.assertEqual(r["bytes"], size)
        self.assertEqual(r["streams"], 4)
        self.assertEqual(len(r["stream_rates"].split()), 4)
        # A quarter each at 200 KB/s: together far faster than one connection can be.
        self.assertGreaterEqual(r["rate_bps"], 2.5 * LIMIT)

    def test_ranges_refused_by_the_server_fail_the_run(self):
        # bw_faultd answers every range with the whole body (200): the run says so, and stops
        # each stream one byte past its range rather than reading the whole body four times.
        rc, r, _ = run_one("--download", "--streams", "4", "--split", "ranges",
                           self.faultd.base + "/bytes?size=400000", check=False)
        self.assertEqual(rc, 1)
        self.assertEqual(r["outcome"], "failed")
        self.assertEqual(r["error_class"], "range")
        self.assertIn("does not serve ranges", r["error_message"])
        self.assertLessEqual(r["bytes"], 400000 + 4)
        self.assertIsNone(r["rate_bps"])

    def test_a_failing_stream_fails_the_run_and_says_which(self):
        rc, r, _ = run_one("--download", "--streams", "3", self.faultd.base + "/status?code=503",
                           check=False)
        self.assertEqual(rc, 1)
        self.assertEqual(r["outcome"], "failed")
        self.assertEqual(r["error_class"], "http")
        self.assertRegex(r["error_message"], r"^stream [123] of 3: HTTP 503")
        self.assertIsNone(r["stream_rates"])

    def test_stored_streams(self):
        tmp = tempfile.mkdtemp(prefix="bw-streams-")
        try:
            db = os.path.join(tmp, "bw.db")
            _, r, _ = run_one("--download", "--streams", "3", "--store", "--db", db, "--name",
                              "pulls", self.faultd.base + "/bytes?size=2000000")
            self.assertEqual(r["outcome"], "ok")
            con = sqlite3.connect(db)
            row = con.execute("SELECT r.streams, r.stream_rates, r.rate_bps, r.bytes, "
                              "r.stream_min_bps, r.stream_max_bps, r.stream_spread "
                              "FROM run r JOIN target t ON t.id = r.target_id "
                              "WHERE t.name = 'pulls'").fetchone()
            con.close()
            self.assertEqual(row[0], 3)
            self.assertEqual(row[1], r["stream_rates"])
            self.assertEqual(row[2], r["rate_bps"])
            self.assertEqual(row[3], 3 * 2000000)
            rates = [int(x) for x in row[1].split()]
            self.assertEqual((row[4], row[5]), (min(rates), max(rates)))
            self.assertGreaterEqual(row[6], 0)
            # export: the aggregate as the value, the streams in their own columns.
            out = subprocess.run([CLI, "export", "--db", db, "--test", "pulls", "--csv"],
                                 capture_output=True, text=True, check=True).stdout
            rows = list(csv.DictReader(io.StringIO(out)))
            self.assertEqual(len(rows), 1)
            self.assertEqual(rows[0]["value"], "%d.%06d" % divmod(r["rate_bps"], 1000000))
            self.assertEqual(rows[0]["streams"], "3")
            self.assertEqual(rows[0]["stream_min_mb_per_s"],
                             "%d.%06d" % divmod(min(rates), 1000000))
            self.assertEqual(rows[0]["stream_max_mb_per_s"],
                             "%d.%06d" % divmod(max(rates), 1000000))
            # The report: the aggregate as the headline, the streams and the slowest beside it.
            text = subprocess.run([CLI, "report", "--db", db, "--since", "1h"],
                                  capture_output=True, text=True, check=True).stdout
            self.assertIn("latest: 3 streams, the rate their aggregate; %.2f MB/s the slowest"
                          % (min(rates) / 1e6), text)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    unittest.main()
