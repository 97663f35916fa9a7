/* Diagnosis rules: each rule says its sentence when its facts are there, and nothing otherwise. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "bw_diagnose.h"
#include "bw_result.h"
#include "bw_util.h"

#define S INT64_C(1000000)
#define MS INT64_C(1000)

/* A healthy 700 MB download at 16 MB/s from a node on a 1500-byte path. */
static void healthy(struct bw_run *r, const char *backend) {
  bw_run_init(r);
  r->kind = BW_KIND_DOWNLOAD;
  r->test = bw_xstrdup("big");
  r->backend = bw_xstrdup(backend);
  r->remote_ip = bw_xstrdup("10.0.0.2");
  r->outcome = BW_OUTCOME_OK;
  r->status = 200;
  r->headers_us = 2 * MS;
  r->ttfb_us = 2 * MS;
  r->bytes = 700000000;
  r->rate_bps = 16000000;
  r->min_rate_bps = 15000000;
  r->max_rate_bps = 17000000;
  r->last_byte_us = 44 * S;
  r->duration_us = 44 * S;
  r->end_silence_us = 100;
  r->stall_us = 0;
  r->stalls = 0;
  r->tcp_rtt_us = 500;
  r->tcp_rcv_rtt_us = 900;
  r->tcp_rcv_rtt_max_us = 1500;
  r->tcp_rcv_mss = 1448;
  r->tcp_snd_mss = 1448;
  r->tcp_advmss = 1460;
  r->tcp_segs_in = 480000;
  r->tcp_rcv_ooopack = 0;
  r->tcp_zero_window = 0;
  r->tcp_samples = 45;
  r->tcp_options = bw_xstrdup("ts,sack,wscale:7/7");
}

/* The founding incident's node 3: jumbo MSS, headers, then nothing until the 20 s timeout. */
static void black_hole(struct bw_run *r, const char *backend) {
  healthy(r, backend);
  r->outcome = BW_OUTCOME_FAILED;
  r->error_class = bw_xstrdup("nobody");
  r->ttfb_us = r->last_byte_us = r->rate_bps = r->min_rate_bps = r->max_rate_bps = BW_NONE;
  r->stall_us = r->stalls = BW_NONE;
  r->bytes = 0;
  r->duration_us = 20 * S + 3 * MS;
  r->end_silence_us = 20 * S;
  r->tcp_rcv_mss = 536;
  r->tcp_snd_mss = 8948;
  r->tcp_advmss = 8960;
  r->tcp_rcv_rtt_us = r->tcp_rcv_rtt_max_us = BW_NONE;
}

/* Node 4: shaped to 31 KB/s, steady, its queue pushing the receive RTT to 425 ms. */
static void shaped(struct bw_run *r, const char *backend) {
  healthy(r, backend);
  r->outcome = BW_OUTCOME_PARTIAL;
  r->rate_bps = 31000;
  r->min_rate_bps = 29000;
  r->max_rate_bps = 33000;
  r->bytes = 18600000;
  r->last_byte_us = 600 * S;
  r->tcp_rcv_rtt_max_us = 425 * MS;
}

static char *text(const struct bw_run *r, const struct bw_run *const *peers, size_t n) {
  return bw_diagnose_text(r, peers, n);
}

static void assert_has(const char *s, const char *part) {
  if (!strstr(s, part))
    fail_msg("\"%s\" does not say \"%s\"", s, part);
}

static void healthy_says_nothing(void **state) {
  struct bw_run r;
  (void)state;
  healthy(&r, "node-1:8088");
  char **lines = bw_diagnose(&r, NULL, 0);
  assert_null(lines[0]);
  bw_diagnose_free(lines);
  /* A page run is never diagnosed by these rules. */
  r.kind = BW_KIND_PAGE;
  r.tcp_zero_window = 3;
  char *t = text(&r, NULL, 0);
  assert_string_equal(t, "");
  free(t);
  bw_run_reset(&r);
}

static void no_body_with_peers_is_a_black_hole(void **state) {
  struct bw_run peers[4], r;
  const struct bw_run *pp[5];
  (void)state;
  for (int i = 0; i < 4; i++) {
    healthy(&peers[i], "node-x");
    pp[i] = &peers[i];
  }
  black_hole(&r, "node-3:8088");
  pp[4] = &r; /* the run itself among its peers is ignored */
  char *t = text(&r, pp, 5);
  assert_has(t, "headers arrived after 2.0 ms, then no body byte in 20 s");
  assert_has(t, "MSS 8948 here vs 1448 on the other 4 backends");
  assert_has(t, "path MTU black hole is likely");
  free(t);
  /* Without peers, a jumbo MSS on a real network is still the clue. */
  t = text(&r, NULL, 0);
  assert_has(t, "MSS 8948 is more than a 1500-byte path carries");
  free(t);
  /* Same MSS as everywhere else: no black hole claimed. */
  r.tcp_snd_mss = 1448;
  t = text(&r, pp, 4);
  assert_has(t, "then no body byte in 20 s; the server answered and sent nothing after");
  assert_null(strstr(t, "black hole is likely"));
  free(t);
  /* On loopback a 65483 MSS is the interface's own: no black hole either. */
  free(r.remote_ip);
  r.remote_ip = bw_xstrdup("127.0.0.1");
  r.tcp_snd_mss = 65483;
  t = text(&r, NULL, 0);
  assert_null(strstr(t, "black hole"));
  free(t);
  /* A body that came is not "no body", however slowly. */
  r.ttfb_us = 5 * S;
  t = text(&r, NULL, 0);
  assert_null(strstr(t, "no body byte"));
  free(t);
  bw_run_reset(&r);
  for (int i = 0; i < 4; i++)
    bw_run_reset(&peers[i]);
}

static void stopped_says_where(void **state) {
  struct bw_run r;
  (void)state;
  healthy(&r, "");
  r.outcome = BW_OUTCOME_FAILED;
  r.error_class = bw_xstrdup("timeout");
  r.bytes = 1000000;
  r.last_byte_us = 3200 * MS;
  r.end_silence_us = 20 * S;
  r.stalls = 1; /* the silence it ended in: not a stall in the body */
  r.stall_first_bytes = 1000000;
  r.stall_first_at_us = 3200 * MS;
  r.stall_longest_us = 20 * S;
  char *t = text(&r, NULL, 0);
  assert_string_equal(t, "the body stopped after 1.0 MB, 3.2 s in, then nothing for 20 s");
  free(t);
  /* A reset: where it broke, and how. */
  r.end_silence_us = 1 * MS;
  r.stalls = 0;
  free(r.error_class);
  r.error_class = bw_xstrdup("reset");
  t = text(&r, NULL, 0);
  assert_string_equal(t, "the transfer broke off after 1.0 MB, 3.2 s in (reset)");
  free(t);
  /* A run that succeeded did not stop. */
  r.outcome = BW_OUTCOME_OK;
  t = text(&r, NULL, 0);
  assert_string_equal(t, "");
  free(t);
  bw_run_reset(&r);
}

static void stalls_are_counted_and_placed(void **state) {
  struct bw_run r;
  (void)state;
  healthy(&r, "");
  r.stalls = 3;
  r.stall_first_bytes = 1000000;
  r.stall_first_at_us = 2 * S;
  r.stall_longest_us = 8 * S;
  r.stall_us = 12 * S;
  r.min_rate_bps = 0;
  char *t = text(&r, NULL, 0);
  assert_string_equal(t, "stalled 3 times, the longest 8.0 s, the first after 1.0 MB (2.0 s in); "
                         "12 s under the stall rate in all");
  free(t);
  r.stalls = 1;
  r.stall_longest_us = r.stall_us = 3 * S;
  t = text(&r, NULL, 0);
  assert_string_equal(t, "stalled once, for 3.0 s, starting after 1.0 MB (2.0 s in); 3.0 s "
                         "under the stall rate in all");
  free(t);
  bw_run_reset(&r);
}

static void shaped_is_not_stalled(void **state) {
  struct bw_run r, peers[4];
  const struct bw_run *pp[4];
  (void)state;
  shaped(&r, "node-4:8088");
  char *t = text(&r, NULL, 0);
  assert_string_equal(t, "31 KB/s for the whole transfer, steady, receive RTT 425 ms against "
                         "0.5 ms at connect: the path is shaped or congested, not stalled");
  free(t);
  /* Without the queue's RTT, the other backends' rate is the evidence. */
  r.tcp_rcv_rtt_max_us = 1500;
  for (int i = 0; i < 4; i++) {
    healthy(&peers[i], "node-x");
    pp[i] = &peers[i];
  }
  t = text(&r, pp, 4);
  assert_string_equal(t, "31 KB/s for the whole transfer, steady (the other 4 backends 16.0 MB/s): "
                         "the path is shaped or congested, not stalled");
  free(t);
  /* Neither: slow alone says nothing about why. */
  t = text(&r, NULL, 0);
  assert_string_equal(t, "");
  free(t);
  /* Not steady (a step twice as fast as the whole): not this rule. */
  r.tcp_rcv_rtt_max_us = 425 * MS;
  r.max_rate_bps = 70000;
  t = text(&r, NULL, 0);
  assert_string_equal(t, "");
  free(t);
  bw_run_reset(&r);
  for (int i = 0; i < 4; i++)
    bw_run_reset(&peers[i]);
}

static void zero_window_blames_the_client(void **state) {
  struct bw_run r;
  (void)state;
  healthy(&r, "");
  r.tcp_zero_window = 7;
  char *t = text(&r, NULL, 0);
  assert_string_equal(t, "the client's receive window was zero at 7 of 45 readings: the client "
                         "could not keep up (its receive buffer was full)");
  free(t);
  /* A kernel that cannot tell (NULL) says nothing, not "zero 0 times". */
  r.tcp_zero_window = BW_NONE;
  t = text(&r, NULL, 0);
  assert_string_equal(t, "");
  free(t);
  bw_run_reset(&r);
}

static void out_of_order_needs_enough(void **state) {
  struct bw_run r;
  (void)state;
  healthy(&r, "");
  r.tcp_rcv_ooopack = 9600; /* 2% of 480000 */
  char *t = text(&r, NULL, 0);
  assert_string_equal(t, "9600 of 480000 segments arrived out of order: packets are lost or "
                         "reordered on the way here, and the server resends (its retransmit count "
                         "can only be read on the server)");
  free(t);
  r.tcp_rcv_ooopack = 4; /* loopback's few */
  t = text(&r, NULL, 0);
  assert_string_equal(t, "");
  free(t);
  r.tcp_rcv_ooopack = 4700; /* under 1% */
  t = text(&r, NULL, 0);
  assert_string_equal(t, "");
  free(t);
  /* Loopback reorders a few percent on a multi-core host: not a path's loss. */
  r.tcp_rcv_ooopack = 22;
  r.tcp_segs_in = 1048;
  free(r.remote_ip);
  r.remote_ip = bw_xstrdup("127.0.0.1");
  t = text(&r, NULL, 0);
  assert_string_equal(t, "");
  free(t);
  bw_run_reset(&r);
}

/* The founding incident's fleet: nodes 3 and 4 differ, and each is named with its evidence. */
static void odd_one_out(void **state) {
  struct bw_run runs[5];
  const struct bw_run *pp[5];
  (void)state;
  healthy(&runs[0], "node-1:8088");
  healthy(&runs[1], "node-2:8088");
  black_hole(&runs[2], "node-3:8088");
  shaped(&runs[3], "node-4:8088");
  healthy(&runs[4], "node-5:8088");
  for (int i = 0; i < 5; i++)
    pp[i] = &runs[i];
  char **lines = bw_diagnose_odd(pp, 5);
  assert_non_null(lines[0]);
  assert_non_null(lines[1]);
  assert_null(lines[2]);
  assert_string_equal(lines[0], "node-3:8088 differs from the other backends: MSS 8948 vs 1448 on "
                                "the other 4; no body byte (the others 16.0 MB/s)");
  assert_string_equal(lines[1], "node-4:8088 differs from the other backends: 31 KB/s (the others "
                                "16.0 MB/s); receive RTT 425 ms (the others 1.5 ms)");
  bw_diagnose_free(lines);
  /* Two backends: no majority to differ from. */
  lines = bw_diagnose_odd(pp + 2, 2);
  assert_null(lines[0]);
  bw_diagnose_free(lines);
  /* All alike: nothing to say; one with timestamps off is named. */
  bw_run_reset(&runs[2]);
  bw_run_reset(&runs[3]);
  healthy(&runs[2], "node-3:8088");
  healthy(&runs[3], "node-4:8088");
  lines = bw_diagnose_odd(pp, 5);
  assert_null(lines[0]);
  bw_diagnose_free(lines);
  free(runs[4].tcp_options);
  runs[4].tcp_options = bw_xstrdup("nots,sack,wscale:7/7");
  lines = bw_diagnose_odd(pp, 5);
  assert_string_equal(lines[0], "node-5:8088 differs from the other backends: TCP options "
                                "nots,sack,wscale:7/7 (the others ts,sack,wscale:7/7)");
  assert_null(lines[1]);
  bw_diagnose_free(lines);
  /* On loopback the segment sizes say nothing (65483 or 32768, as the window allowed when
   * TCP_INFO was read): never a reason to name a backend. */
  free(runs[4].tcp_options);
  runs[4].tcp_options = bw_xstrdup("ts,sack,wscale:7/7");
  for (int i = 0; i < 5; i++) {
    free(runs[i].remote_ip);
    runs[i].remote_ip = bw_xstrdup("127.0.0.1");
    runs[i].tcp_rcv_mss = runs[i].tcp_snd_mss = i == 1 ? 65483 : 32768;
  }
  lines = bw_diagnose_odd(pp, 5);
  assert_null(lines[0]);
  bw_diagnose_free(lines);
  for (int i = 0; i < 5; i++)
    bw_run_reset(&runs[i]);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(healthy_says_nothing),
      cmocka_unit_test(no_body_with_peers_is_a_black_hole),
      cmocka_unit_test(stopped_says_where),
      cmocka_unit_test(stalls_are_counted_and_placed),
      cmocka_unit_test(shaped_is_not_stalled),
      cmocka_unit_test(zero_window_blames_the_client),
      cmocka_unit_test(out_of_order_needs_enough),
      cmocka_unit_test(odd_one_out),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
