/* Statistics: exact values on small samples, and the mode on the shapes context.md describes. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "bw_stats.h"

static void basics(void **state) {
  double v[] = {5, 1, 4, 2, 3};
  (void)state;
  bw_stats_sort(v, 5);
  assert_true(v[0] == 1 && v[4] == 5);
  assert_true(bw_stats_mean(v, 5) == 3);
  assert_true(fabs(bw_stats_sd(v, 5, 3) - sqrt(2.5)) < 1e-12);
  assert_true(bw_stats_median(v, 5) == 3);
  assert_true(bw_stats_median(v, 4) == 2.5);
  assert_true(bw_stats_percentile(v, 5, 50) == 3);
  assert_true(bw_stats_percentile(v, 5, 80) == 4);
  assert_true(bw_stats_percentile(v, 5, 81) == 5);
  assert_true(bw_stats_percentile(v, 5, 100) == 5);
  assert_true(bw_stats_percentile(v, 5, 1) == 1);
  assert_true(bw_stats_mad(v, 5) == 1);
  assert_true(isnan(bw_stats_mean(v, 0)));
  assert_true(isnan(bw_stats_mode(v, 0)));
  assert_true(bw_stats_sd(v, 1, 1) == 0);
}

/* The nearest-rank percentiles of 1..100 are the numbers themselves. */
static void percentiles_of_100(void **state) {
  double v[100];
  (void)state;
  for (int i = 0; i < 100; i++)
    v[i] = i + 1;
  static const int ps[] = {50, 66, 75, 80, 90, 95, 98, 99, 100};
  for (size_t i = 0; i < sizeof(ps) / sizeof(ps[0]); i++)
    assert_true(bw_stats_percentile(v, 100, ps[i]) == ps[i]);
}

/* Deterministic pseudo-random numbers, so the test is the same on every machine. */
static uint64_t rng = 88172645463325252u;
static double uniform(void) {
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return ((double)(rng >> 11) + 0.5) / 9007199254740992.0;
}
static double normal(void) {
  return sqrt(-2 * log(uniform())) * cos(2 * M_PI * uniform());
}

/* A long right tail (lognormal around 98 ms) moves the mean, not the mode. */
static void mode_long_tail(void **state) {
  enum { N = 2000 };
  double *v = malloc(N * sizeof(*v));
  (void)state;
  for (int i = 0; i < N; i++)
    v[i] = 98000 * exp(0.25 * normal()); /* µs */
  for (int i = 0; i < N / 20; i++)
    v[i] *= 20; /* 5% of runs 20x slower */
  bw_stats_sort(v, N);
  double mode = bw_stats_mode(v, N);
  double mean = bw_stats_mean(v, N);
  /* The lognormal's mode is 98 ms x exp(-0.25^2) = 92 ms. */
  assert_true(mode > 85000 && mode < 100000);
  assert_true(mean > 150000);
  free(v);
}

/* Two peaks, 98 ms (70%) and 123 ms (30%): the mode is the denser one; the median is between. */
static void mode_bimodal(void **state) {
  enum { N = 1000 };
  double v[N];
  (void)state;
  for (int i = 0; i < N; i++)
    v[i] = (i % 10 < 7 ? 98 : 123) + 2 * normal();
  bw_stats_sort(v, N);
  double mode = bw_stats_mode(v, N);
  assert_true(fabs(mode - 98) < 2);
}

/* The same shape at any scale: the mode scales with the data (no bin width to tune). */
static void mode_scale_free(void **state) {
  enum { N = 501 };
  double base[N], scaled[N];
  (void)state;
  for (int i = 0; i < N; i++)
    base[i] = exp(0.3 * normal());
  bw_stats_sort(base, N);
  double m = bw_stats_mode(base, N);
  static const double scales[] = {100.0 /* 0.1 ms in µs */, 6e8 /* 10 min in µs */,
                                  32e3 /* 32 KB/s */, 1e9 /* 1 GB/s */};
  for (size_t s = 0; s < sizeof(scales) / sizeof(scales[0]); s++) {
    for (int i = 0; i < N; i++)
      scaled[i] = base[i] * scales[s];
    assert_true(fabs(bw_stats_mode(scaled, N) / scales[s] - m) < 1e-9);
  }
}

static void mode_small(void **state) {
  double one[] = {7}, two[] = {4, 6}, three[] = {1, 2, 10}, ties[] = {1, 5, 5, 5, 9, 30};
  (void)state;
  assert_true(bw_stats_mode(one, 1) == 7);
  assert_true(bw_stats_mode(two, 2) == 5);
  assert_true(bw_stats_mode(three, 3) == 1.5);
  assert_true(bw_stats_mode(ties, 6) == 5);
}

/* The median of the shortest half: the densest half's middle, blind to the tail. */
static void shorth_median(void **state) {
  double v[] = {1, 10, 10.5, 11, 11.5, 12, 40, 90, 300};
  double two[] = {98, 98, 99, 100, 123, 123, 124};
  (void)state;
  assert_true(bw_stats_shorth_median(v, 9) == 11); /* the half 10..12 */
  assert_true(bw_stats_shorth_median(two, 7) == 98.5); /* the denser peak */
  assert_true(isnan(bw_stats_shorth_median(v, 0)));
  assert_true(bw_stats_shorth_median(v, 1) == 1);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(basics),         cmocka_unit_test(percentiles_of_100),
      cmocka_unit_test(mode_long_tail), cmocka_unit_test(mode_bimodal),
      cmocka_unit_test(mode_scale_free), cmocka_unit_test(mode_small),
      cmocka_unit_test(shorth_median),
  };
  return cmocka_run_group_tests_name("stats", tests, NULL, NULL);
}
