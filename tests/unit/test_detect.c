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
                        .close_after = 3,
                        .false_alarm_us = 3650 * 86400 * INT64_C(1000000)};
  return d;
}

struct events {
  int opened[16], closed[16], avail_opened[16], avail_closed[16];
  int n_opened, n_closed, n_avail_opened, n_avail_closed;
};

/* Replays an hourly series as the judge would, acks at the given runs; NAN marks a failed run. */
static void replay_acked(const struct bw_detect *cfg, const struct bw_metric *m, const double *v,
                         size_t n, const int *ack_runs, size_t n_acks, struct events *ev,
                         struct bw_replay_verdict *out) {
  struct bw_point *pts = calloc(n, sizeof(*pts));
  struct bw_replay_verdict *rv = out ? out : calloc(n, sizeof(*rv));
  int64_t acks[8];
  for (size_t i = 0; i < n; i++) {
    pts[i].run_id = (int64_t)i + 1;
    pts[i].started_us = (int64_t)i * 3600 * INT64_C(1000000);
    pts[i].value = v[i];
  }
  for (size_t k = 0; k < n_acks && k < 8; k++)
    acks[k] = pts[ack_runs[k]].started_us - 1;
  bw_detect_replay(cfg, m, 3600 * INT64_C(1000000), pts, n, acks, n_acks, NULL, 0, rv, NULL);
  memset(ev, 0, sizeof(*ev));
  for (size_t i = 0; i < n; i++) {
    if (rv[i].v.event == BW_EVENT_OPENED && ev->n_opened < 16)
      ev->opened[ev->n_opened++] = (int)i;
    if (rv[i].v.event == BW_EVENT_CLOSED && ev->n_closed < 16)
      ev->closed[ev->n_closed++] = (int)i;
    if (rv[i].avail_event == BW_EVENT_OPENED && ev->n_avail_opened < 16)
      ev->avail_opened[ev->n_avail_opened++] = (int)i;
    if (rv[i].avail_event == BW_EVENT_CLOSED && ev->n_avail_closed < 16)
      ev->avail_closed[ev->n_avail_closed++] = (int)i;
  }
  if (!out)
    free(rv);
  free(pts);
}

static void replay(const struct bw_detect *cfg, const struct bw_metric *m, const double *v,
                   size_t n, struct events *ev) {
  replay_acked(cfg, m, v, n, NULL, 0, ev, NULL);
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
  /* one failure among the 100 runs before: three in a row are not unlikely enough, four are */
  assert_int_equal(ev.avail_opened[0], 100 + cfg.open_after);
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

/*
 * A busy page: lognormal at sigma 0.25 with 2% of runs spiked x3 to x10, 20,000 runs. Three runs
 * above x1.5 in a row happen here by chance every few hundred runs; nothing may open. The same
 * page stepping to x5 opens within a few runs.
 */
static void wide_noise(void **state) {
  enum { N = 20000 };
  double *v = malloc(N * sizeof(*v));
  struct events ev;
  struct bw_detect cfg = defaults();
  (void)state;
  rng = 23;
  int streaks = 0, run = 0;
  for (int i = 0; i < N; i++) {
    v[i] = 98000 * exp(0.25 * normal()) * (uniform() < 0.02 ? 3 + 7 * uniform() : 1);
    run = v[i] > 1.5 * 98000 ? run + 1 : 0;
    streaks += run == 3;
  }
  assert_true(streaks > 10); /* the old rule would have opened on each of these */
  replay(&cfg, latency(), v, N, &ev);
  assert_int_equal(ev.n_opened, 0);
  for (int i = 15000; i < N; i++)
    v[i] *= 5;
  replay(&cfg, latency(), v, N, &ev);
  assert_int_equal(ev.n_opened, 1);
  assert_true(ev.opened[0] >= 15002 && ev.opened[0] < 15012);
  free(v);
}

/*
 * A node that dips to half its rate for 2 to 4 runs about once a day: its own normal. Nothing
 * opens; a lasting halving still does, later than on a steady node.
 */
static void daily_dips(void **state) {
  enum { N = 3000 };
  double v[N];
  struct events ev;
  struct bw_detect cfg = defaults();
  (void)state;
  rng = 29;
  for (int i = 0; i < N; i++)
    v[i] = 16e6 * exp(0.1 * normal()) * (i % 24 < 2 + (i / 24) % 3 ? 0.5 : 1);
  replay(&cfg, bw_detect_metric(BW_KIND_DOWNLOAD), v, N, &ev);
  assert_int_equal(ev.n_opened, 0);
  for (int i = 2500; i < N; i++)
    v[i] = 8e6 * exp(0.1 * normal());
  replay(&cfg, bw_detect_metric(BW_KIND_DOWNLOAD), v, N, &ev);
  assert_int_equal(ev.n_opened, 1);
  assert_true(ev.opened[0] > 2504 && ev.opened[0] < 2548);
}

/*
 * A long regression (x0.1 for 90 runs, more than half the window) closes on recovery, and its
 * runs never become the normal: the reference after it is the old level, and a new drop to
 * x0.5 opens again.
 */
static void honest_baseline(void **state) {
  enum { N = 900 };
  double v[N];
  struct events ev;
  struct bw_replay_verdict *rv = calloc(N, sizeof(*rv));
  struct bw_detect cfg = defaults();
  (void)state;
  rng = 31;
  for (int i = 0; i < N; i++)
    v[i] = 100e6 * (i >= 300 && i < 390 ? 0.1 : i >= 500 ? 0.5 : 1) * exp(0.05 * normal());
  replay_acked(&cfg, bw_detect_metric(BW_KIND_DOWNLOAD), v, N, NULL, 0, &ev, rv);
  assert_int_equal(ev.n_opened, 2);
  assert_true(ev.opened[0] >= 302 && ev.opened[0] < 306);
  assert_int_equal(ev.n_closed, 1);
  assert_true(ev.closed[0] >= 390 && ev.closed[0] < 394);
  assert_true(ev.opened[1] >= 502 && ev.opened[1] < 506);
  /* right after the recovery, the baseline is the old 100 MB/s, not the bad 10 */
  assert_true(rv[400].v.baseline.mode > 90e6 && rv[400].v.baseline.mode < 110e6);
  free(rv);
}

/* An ack accepts the new level: the regression closes and the level becomes the normal. */
static void ack_makes_new_normal(void **state) {
  enum { N = 800 };
  double v[N];
  struct events ev;
  struct bw_replay_verdict *rv = calloc(N, sizeof(*rv));
  struct bw_detect cfg = defaults();
  int ack[] = {450};
  (void)state;
  rng = 37;
  for (int i = 0; i < N; i++)
    v[i] = 98000 * (i >= 400 ? 2 : 1) * exp(0.05 * normal());
  replay_acked(&cfg, latency(), v, N, ack, 1, &ev, rv);
  assert_int_equal(ev.n_opened, 1);
  assert_true(rv[449].open);
  assert_false(rv[450].open);
  assert_true(rv[450].acked);
  /* min_runs later the baseline is the new level, and nothing opens again */
  assert_true(rv[600].v.judged);
  assert_true(rv[600].v.reference > 180000 && rv[600].v.reference < 220000);
  free(rv);
}

/* The window's count limit and the sorted window's bookkeeping agree with a direct count. */
static void window_ops(void **state) {
  struct bw_window w = {0};
  (void)state;
  for (int i = 0; i < 100; i++)
    bw_window_add(&w, (double)((i * 37) % 100));
  for (size_t i = 1; i < w.n; i++)
    assert_true(w.v[i - 1] <= w.v[i]);
  bw_window_remove(&w, 50);
  bw_window_remove(&w, 1000); /* absent: nothing */
  assert_int_equal(w.n, 99);
  for (size_t i = 0; i < w.n; i++)
    assert_true(w.v[i] != 50);
  bw_window_free(&w);
}

/* The need for bad runs grows with how often, and how clustered, bad runs are in the window. */
static void need_grows_with_noise(void **state) {
  struct bw_detect cfg = defaults();
  struct bw_budget b;
  bw_detect_budget(&cfg, 3600 * INT64_C(1000000), &b);
  double budget = b.runs;
  (void)state;
  assert_true(budget > 87000 && budget < 88000);
  double quiet = bw_detect_bad_rate(&cfg, 168, 0, 0);
  double spiky = bw_detect_bad_rate(&cfg, 168, 4, 0);
  double dips = bw_detect_bad_rate(&cfg, 168, 20, 12);
  assert_int_equal(bw_detect_need(&cfg, 3, quiet, budget), 3);
  assert_true(bw_detect_need(&cfg, 4, spiky, budget) == 4);
  assert_true(bw_detect_need(&cfg, 3, spiky, budget) > 3);
  assert_true(bw_detect_need(&cfg, 10, dips, budget) > 10);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(lognormal_noise),   cmocka_unit_test(bimodal),
      cmocka_unit_test(step_and_recovery), cmocka_unit_test(lasting_change_stays_open),
      cmocka_unit_test(download_collapse), cmocka_unit_test(spikes),
      cmocka_unit_test(margin_on_fast_targets), cmocka_unit_test(failures),
      cmocka_unit_test(min_runs),          cmocka_unit_test(wide_noise),
      cmocka_unit_test(daily_dips),        cmocka_unit_test(honest_baseline),
      cmocka_unit_test(ack_makes_new_normal), cmocka_unit_test(window_ops),
      cmocka_unit_test(need_grows_with_noise),
  };
  return cmocka_run_group_tests_name("detect", tests, NULL, NULL);
}
