#include "bw_detect.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bw_stats.h"

static const struct bw_metric metrics[] = {
    {"p50_us", true, "median", 1e3, "ms"},
    {"rate_bps", false, "MB/s", 1e6, "MB/s"},
    {"p90_us", true, "p90", 1e3, "ms"},
    {"p99_us", true, "p99", 1e3, "ms"},
    {"ttfb_p50_us", true, "median TTFB", 1e3, "ms"},
    {"ttfb_us", true, "TTFB", 1e3, "ms"},
    {"stall_us", true, "stall", 1e6, "s"},
    {NULL, false, NULL, 0, NULL},
};

const struct bw_metric *bw_detect_metric(enum bw_kind kind) {
  return kind == BW_KIND_DOWNLOAD ? &metrics[1] : &metrics[0];
}

const struct bw_metric *bw_detect_metric_find(const char *name) {
  for (const struct bw_metric *m = metrics; m->name; m++)
    if (strcmp(m->name, name) == 0)
      return m;
  return NULL;
}

void bw_baseline_compute(const double *values, size_t n, struct bw_baseline *ret) {
  ret->n = n;
  if (n == 0) {
    ret->mode = (double)NAN;
    ret->mad = (double)NAN;
    return;
  }
  double *s = bw_stats_sort_copy(values, n);
  ret->mode = bw_stats_shorth_median(s, n);
  ret->mad = bw_stats_mad(s, n);
  free(s);
}

/*
 * Back within half the factor of the reference: what closes a regression. Without this band a
 * step right at the factor would flap open and closed as runs fall either side of it.
 */
static bool is_recovered(const struct bw_detect *cfg, const struct bw_metric *m, double ref,
                         double value) {
  if (m->higher_is_worse)
    return value <= ref * (1 + (cfg->latency_factor - 1) / 2);
  return value >= ref * (1 - (1 - cfg->throughput_factor) / 2);
}

/* Worse than the reference by the factor and by the margin, in the metric's direction. */
static bool is_bad(const struct bw_detect *cfg, const struct bw_metric *m, double ref,
                   double value) {
  if (m->higher_is_worse) {
    double margin = (double)cfg->latency_margin_us;
    if (strcmp(m->name, "stall_us") == 0)
      margin = 1e6; /* a second of stall */
    return value > ref * cfg->latency_factor && value - ref > margin;
  }
  return value < ref * cfg->throughput_factor && ref - value > (double)cfg->throughput_margin;
}

void bw_detect_step(const struct bw_detect *cfg, const struct bw_metric *m,
                    struct bw_detect_state *st, const double *window, size_t n_window, bool failed,
                    double value, struct bw_verdict *ret) {
  memset(ret, 0, sizeof(*ret));
  bw_baseline_compute(window, n_window, &ret->baseline);
  ret->ratio = (double)NAN;
  ret->reference = (double)NAN;

  /* Availability first: it is about whether the run worked at all. */
  if (failed) {
    st->ok_streak = 0;
    st->fail_streak++;
    if (!st->avail_open && st->fail_streak >= cfg->open_after) {
      st->avail_open = true;
      ret->event = BW_EVENT_AVAIL_OPENED;
    }
    return; /* a failure is never a latency, nor a rate */
  }
  st->fail_streak = 0;
  st->ok_streak++;
  if (st->avail_open && st->ok_streak >= cfg->close_after) {
    st->avail_open = false;
    ret->event = BW_EVENT_AVAIL_CLOSED;
  }

  if (isnan(value) || (!st->open && (int64_t)n_window < cfg->min_runs))
    return;
  double ref = st->open ? st->open_baseline : ret->baseline.mode;
  if (!(ref > 0))
    return;
  ret->judged = true;
  ret->reference = ref;
  ret->ratio = value / ref;
  ret->bad = is_bad(cfg, m, ref, value);
  /* While open, only a run back near the old normal counts as good. */
  bool counts_bad = st->open ? !is_recovered(cfg, m, ref, value) : ret->bad;
  if (counts_bad) {
    st->good_streak = 0;
    st->bad_streak++;
  } else {
    st->bad_streak = 0;
    st->good_streak++;
  }
  if (ret->event != BW_EVENT_NONE)
    return; /* one event per run; the next run sees the streaks as they stand */
  if (!st->open && st->bad_streak >= cfg->open_after) {
    st->open = true;
    st->open_baseline = ref;
    st->good_streak = 0;
    ret->event = BW_EVENT_OPENED;
  } else if (st->open && st->good_streak >= cfg->close_after) {
    st->open = false;
    st->bad_streak = 0;
    ret->event = BW_EVENT_CLOSED;
  }
}

void bw_detect_replay(const struct bw_detect *cfg, const struct bw_metric *m,
                      const struct bw_point *pts, size_t n, struct bw_verdict *ret) {
  struct bw_detect_state st;
  double *window = malloc((n + 1) * sizeof(*window));
  size_t first = 0;
  memset(&st, 0, sizeof(st));
  if (!window)
    abort();
  for (size_t i = 0; i < n; i++) {
    while (first < i && pts[first].started_us < pts[i].started_us - cfg->window_us)
      first++;
    size_t k = 0;
    for (size_t j = first; j < i; j++)
      if (!isnan(pts[j].value))
        window[k++] = pts[j].value;
    if (cfg->window_runs > 0 && k > (size_t)cfg->window_runs) {
      /* the newest window_runs, as the store's window gives the daemon */
      size_t drop = k - (size_t)cfg->window_runs;
      memmove(window, window + drop, (size_t)cfg->window_runs * sizeof(*window));
      k = (size_t)cfg->window_runs;
    }
    bw_detect_step(cfg, m, &st, window, k, isnan(pts[i].value), pts[i].value, &ret[i]);
  }
  free(window);
}
