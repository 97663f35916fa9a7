/*
 * Detection on generated series (seeded, so every run of the test sees the same numbers): hourly
 * runs, a 7-day window of 168 runs, the defaults of the config.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "bw_detect.h"

#define WINDOW 168

static uint64_t rng;
static double uniform(void) {
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return ((double)(rng >> 11) + 0.5) / 9007199254740992.0;
}
static double normal(void) {
  return sqrt(-2 * log(uniform())) * cos(2 * M_PI * uniform());
}

static struct bw_detect defaults(void) {
  struct bw_detect d = {.window_us = 7 * 86400 * INT64_C(1000000),
                        .min_runs = 24,
                        .latency_factor = 1.5,
                        .throughput_factor = 0.67,
                        .latency_margin_us = 5000,
                        .throughput_margin = 100000,
                        .open_after = 3,
                        .close_after = 3};
  return d;
}

struct events {
  int opened[16], closed[16], avail_opened[16], avail_closed[16];
  int n_opened, n_closed, n_avail_opened, n_avail_closed;
};

/* Replays a series as the daemon would; NAN marks a failed run. */
static void replay(const struct bw_detect *cfg, const struct bw_metric *m, const double *v,
                   size_t n, struct events *ev) {
  struct bw_detect_state st;
  double *window = malloc(WINDOW * sizeof(*window));
  memset(&st, 0, sizeof(st));
  memset(ev, 0, sizeof(*ev));
  for (size_t i = 0; i < n; i++) {
    size_t k = 0;
    for (size_t j = i > WINDOW ? i - WINDOW : 0; j < i; j++)
      if (!isnan(v[j]))
        window[k++] = v[j];
    struct bw_verdict vd;
    bw_detect_step(cfg, m, &st, window, k, isnan(v[i]), v[i], &vd);
    if (vd.event == BW_EVENT_OPENED && ev->n_opened < 16)
      ev->opened[ev->n_opened++] = (int)i;
    if (vd.event == BW_EVENT_CLOSED && ev->n_closed < 16)
      ev->closed[ev->n_closed++] = (int)i;
    if (vd.event == BW_EVENT_AVAIL_OPENED && ev->n_avail_opened < 16)
      ev->avail_opened[ev->n_avail_opened++] = (int)i;
    if (vd.event == BW_EVENT_AVAIL_CLOSED && ev->n_avail_closed < 16)
      ev->avail_closed[ev->n_avail_closed++] = (int)i;
  }
  free(window);
}

static const struct bw_metric *latency(void) {
  return bw_detect_metric(BW_KIND_PAGE);
}

static int cmp(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/*
 * A run's figure as the page test makes it: the median of 20 requests, each lognormal around
 * 98 ms with a heavy tail (sigma 0.3: one request in 20 takes over 160 ms).
 */
static double run_median(double center) {
  double r[20];
  for (int k = 0; k < 20; k++)
    r[k] = center * exp(0.3 * normal());
  qsort(r, 20, sizeof(r[0]), cmp);
  return (r[9] + r[10]) / 2;
}

/* 2,000 runs of heavy-tailed noise around 98 ms: not one regression. */
static void lognormal_noise(void **state) {
  enum { N = 2000 };
  double v[N];
  struct events ev;
  struct bw_detect cfg = defaults();
  (void)state;
  rng = 42;
  for (int i = 0; i < N; i++)
    v[i] = run_median(98000);
  replay(&cfg, latency(), v, N, &ev);
  assert_int_equal(ev.n_opened, 0);
}

/* Two peaks, 98 ms and 123 ms (the founding story's main site and mirror): nothing opens. */
static void bimodal(void **state) {
  enum { N = 2000 };
  double v[N];
  struct events ev;
  struct bw_detect cfg = defaults();
  (void)state;
  rng = 7;
  for (int i = 0; i < N; i++)
    v[i] = (uniform() < 0.6 ? 98000 : 123000) * exp(0.05 * normal());
  replay(&cfg, latency(), v, N, &ev);
  assert_int_equal(ev.n_opened, 0);
}

/* A x1.6 step at run 500, back at run 700: opened within open_after, closed within close_after. */
static void step_and_recovery(void **state) {
  enum { N = 1000 };
  double v[N];
  struct events ev;
  struct bw_detect cfg = defaults();
  (void)state;
  rng = 3;
  for (int i = 0; i < N; i++)
    v[i] = 98000 * (i >= 500 && i < 700 ? 1.6 : 1.0) * exp(0.05 * normal());
  replay(&cfg, latency(), v, N, &ev);
  assert_int_equal(ev.n_opened, 1);
  assert_true(ev.opened[0] >= 500 && ev.opened[0] < 500 + cfg.open_after);
  assert_int_equal(ev.n_closed, 1);
  assert_true(ev.closed[0] >= 700 && ev.closed[0] < 700 + cfg.close_after);
}

/* A step that lasts longer than half the window stays open: the baseline is frozen. */
static void lasting_change_stays_open(void **state) {
  enum { N = 1200 };
  double v[N];
  struct events ev;
  struct bw_detect cfg = defaults();
  (void)state;
  rng = 5;
  for (int i = 0; i < N; i++)
    v[i] = 98000 * (i >= 500 ? 2.0 : 1.0) * exp(0.05 * normal());
  replay(&cfg, latency(), v, N, &ev);
  assert_int_equal(ev.n_opened, 1);
  assert_int_equal(ev.n_closed, 0);
}

/* A download falling from 16 MB/s to 32 KB/s opens as soon as it can: after open_after runs. */
static void download_collapse(void **state) {
  enum { N = 300 };
  double v[N];
  struct events ev;
  struct bw_detect cfg = defaults();
  (void)state;
  rng = 11;
  for (int i = 0; i < N; i++)
    v[i] = (i >= 200 ? 32000 : 16e6) * exp(0.1 * normal());
  replay(&cfg, bw_detect_metric(BW_KIND_DOWNLOAD), v, N, &ev);
  assert_int_equal(ev.n_opened, 1);
  assert_int_equal(ev.opened[0], 200 + cfg.open_after - 1);
}

/* Isolated x10 spikes, never two in a row: nothing opens. */
static void spikes(void **state) {
  enum { N = 2000 };
  double v[N];
  struct events ev;
  struct bw_detect cfg = defaults();
  (void)state;
  rng = 13;
  for (int i = 0; i < N; i++)
    v[i] = 98000 * exp(0.05 * normal()) * (i % 37 == 0 ? 10 : 1);
  replay(&cfg, latency(), v, N, &ev);
  assert_int_equal(ev.n_opened, 0);
}

/* Small values: 2 ms -> 3.5 ms is x1.75 but only 1.5 ms worse, under the 5 ms margin. */
static void margin_on_fast_targets(void **state) {
  enum { N = 400 };
  double v[N];
  struct events ev;
  struct bw_detect cfg = defaults();
  (void)state;
  for (int i = 0; i < N; i++)
    v[i] = i >= 200 ? 3500 : 2000;
  replay(&cfg, latency(), v, N, &ev);
  assert_int_equal(ev.n_opened, 0);
  cfg.latency_margin_us = 0;
  replay(&cfg, latency(), v, N, &ev);
  assert_int_equal(ev.n_opened, 1);
}

/* Failed runs: no verdict on them; a run of failures opens availability; gaps do not confuse. */
static void failures(void **state) {
  enum { N = 300 };
  double v[N];
  struct events ev;
  struct bw_detect cfg = defaults();
  (void)state;
  rng = 17;
  for (int i = 0; i < N; i++)
    v[i] = 98000 * exp(0.05 * normal());
  v[50] = (double)NAN;  /* one failure alone: nothing */
  for (int i = 100; i < 105; i++)
    v[i] = (double)NAN; /* five in a row: availability opens, and closes once runs work */
  replay(&cfg, latency(), v, N, &ev);
  assert_int_equal(ev.n_opened, 0);
  assert_int_equal(ev.n_avail_opened, 1);
  assert_int_equal(ev.avail_opened[0], 100 + cfg.open_after - 1);
  assert_int_equal(ev.n_avail_closed, 1);
  assert_int_equal(ev.avail_closed[0], 107);
}

/* No verdict before min_runs of history. */
static void min_runs(void **state) {
  double v[30];
  struct events ev;
  struct bw_detect cfg = defaults();
  (void)state;
  for (int i = 0; i < 30; i++)
    v[i] = i < 10 ? 98000 : 500000;
  replay(&cfg, latency(), v, 30, &ev);
  assert_int_equal(ev.n_opened, 0); /* the mode became 500 ms before 24 runs were there */
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(lognormal_noise),   cmocka_unit_test(bimodal),
      cmocka_unit_test(step_and_recovery), cmocka_unit_test(lasting_change_stays_open),
      cmocka_unit_test(download_collapse), cmocka_unit_test(spikes),
      cmocka_unit_test(margin_on_fast_targets), cmocka_unit_test(failures),
      cmocka_unit_test(min_runs),
  };
  return cmocka_run_group_tests_name("detect", tests, NULL, NULL);
}
