/* The download timeline: bytes per step, the stall time and where it starts. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "bw_result.h"
#include "bw_timeline.h"

#define S INT64_C(1000000)

/* 16 MB/s for 60 s, then 32 KB/s for 30 s: the founding story's collapse. */
static void collapse(void **state) {
  struct bw_timeline tl;
  struct bw_timeline_summary sum;
  int64_t t0 = 5 * S; /* any monotonic origin */
  (void)state;
  bw_timeline_init(&tl, S);
  for (int64_t t = 0; t < 60 * S; t += 10000) /* 16 KB every 1 ms... in 10 ms blocks */
    bw_timeline_add(&tl, t0 + t, 160000);
  for (int64_t t = 60 * S; t < 90 * S; t += 500000)
    bw_timeline_add(&tl, t0 + t, 16000);
  bw_timeline_finish(&tl, t0 + 90 * S, 100000, &sum);
  assert_int_equal(tl.n, 90);
  assert_int_equal(sum.steps, 90);
  assert_int_equal(tl.bins[0], 16000000);
  assert_int_equal(tl.bins[59], 16000000);
  assert_int_equal(tl.bins[60], 32000);
  assert_int_equal(sum.stall_us, 30 * S);
  assert_int_equal(sum.first_stall_us, 60 * S);
  assert_int_equal(sum.max_rate_bps, 16000000);
  assert_int_equal(sum.min_rate_bps, 32000);
  bw_timeline_reset(&tl);
}

/* A silent gap in the middle: empty steps are stalls; the end extends the timeline. */
static void gap_and_tail(void **state) {
  struct bw_timeline tl;
  struct bw_timeline_summary sum;
  (void)state;
  bw_timeline_init(&tl, 250000);
  bw_timeline_add(&tl, 0, 1000000);
  bw_timeline_add(&tl, 3 * S + 10, 1000000); /* nothing for 3 s */
  bw_timeline_finish(&tl, 4 * S, 100000, &sum);
  assert_int_equal(tl.n, 16);
  /* The silence itself, to the microsecond (steps 0..11 and 10 us of step 12), then steps
   * 13..15, empty (the tail is too short a silence to count as one, but too slow a step). */
  assert_int_equal(sum.stall_us, 3 * S + 10 + 750000);
  assert_int_equal(sum.first_stall_us, 0);
  assert_int_equal(sum.max_rate_bps, 4000000);
  assert_int_equal(sum.min_rate_bps, 0);
  bw_timeline_reset(&tl);
}

/* A short last step counts for its length in the stall time but not in min/max. */
static void short_last_step(void **state) {
  struct bw_timeline tl;
  struct bw_timeline_summary sum;
  (void)state;
  bw_timeline_init(&tl, S);
  bw_timeline_add(&tl, 0, 2000000);
  bw_timeline_add(&tl, S + 100000, 1000); /* 1000 bytes in the last 0.2 s: 5 KB/s */
  bw_timeline_finish(&tl, S + 200000, 100000, &sum);
  assert_int_equal(sum.steps, 2);
  assert_int_equal(bw_timeline_step_us(&tl, 1, S + 200000), 200000);
  /* Nothing came for 1.1 s after the first 2 MB: a silence; then a slow sliver. */
  assert_int_equal(sum.stall_us, 1200000);
  assert_int_equal(sum.min_rate_bps, 2000000);
  assert_int_equal(sum.max_rate_bps, 2000000);
  bw_timeline_reset(&tl);
}

static void no_data(void **state) {
  struct bw_timeline tl;
  struct bw_timeline_summary sum;
  (void)state;
  bw_timeline_init(&tl, S);
  bw_timeline_finish(&tl, 10 * S, 100000, &sum);
  assert_int_equal(sum.steps, 0);
  assert_int_equal(sum.stall_us, 0);
  assert_true(sum.min_rate_bps == BW_NONE);
  bw_timeline_reset(&tl);
}

/* A 3 s pause after a fast first megabyte counts as 3 s however the steps fall across it. */
static void pause_is_exact(void **state) {
  static const int64_t starts[] = {0, 30000, 100000, 249999};
  (void)state;
  for (size_t k = 0; k < sizeof(starts) / sizeof(starts[0]); k++) {
    struct bw_timeline tl;
    struct bw_timeline_summary sum;
    bw_timeline_init(&tl, 250000);
    for (int64_t t = 0; t <= starts[k]; t += 10000)
      bw_timeline_add(&tl, t, 1000000 / (starts[k] / 10000 + 1));
    int64_t resume = starts[k] + 3 * S;
    for (int64_t t = resume; t < resume + 50000; t += 10000)
      bw_timeline_add(&tl, t, 200000);
    bw_timeline_finish(&tl, resume + 50000, 100000, &sum);
    assert_true(sum.stall_us >= 3 * S - 10000);
    assert_true(sum.stall_us <= 3 * S + 250000);
    bw_timeline_reset(&tl);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(collapse),
      cmocka_unit_test(gap_and_tail),
      cmocka_unit_test(short_last_step),
      cmocka_unit_test(no_data),
      cmocka_unit_test(pause_is_exact),
  };
  return cmocka_run_group_tests_name("timeline", tests, NULL, NULL);
}
