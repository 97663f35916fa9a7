#ifndef BW_DETECT_H
#define BW_DETECT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bw_config.h"
#include "bw_result.h"

/*
 * Regression detection against the rolling mode. Pure: the caller brings the window of history
 * and the newest run; bw_detect_step() gives the verdict and moves the target's state on. The
 * daemon calls it once per stored run and keeps the state in the database; `benchwatch backtest`
 * calls the same function over stored history from a fresh state, so both agree run for run.
 *
 * A run is bad when it is worse than the baseline by the factor AND by the absolute margin (so
 * 2 ms -> 3.5 ms on loopback is no regression). A regression opens after open_after consecutive
 * bad runs and closes after close_after consecutive runs back within half the factor (so a change
 * right at the factor does not flap open and closed); while it is open the baseline is
 * frozen at its value when it opened, so a lasting change does not quietly become the new normal
 * as it fills the window: it stays open until it recovers or a person accepts it (ack). Failed
 * runs do not count for or against performance; open_after consecutive failures open an
 * availability regression of their own, closed by close_after runs that did not fail.
 */

/* The headline metric of a kind: page, the run's median latency; download, MB/s. */
struct bw_metric {
  const char *name;   /* a figure name (bw_run_figures) */
  bool higher_is_worse;
  const char *label;  /* for people: "median", "MB/s" */
  double scale;       /* value / scale is in `unit` */
  const char *unit;   /* "ms", "MB/s" */
};

const struct bw_metric *bw_detect_metric(enum bw_kind kind);
/* The metric called name (p50_us, p90_us, p99_us, rate_bps, ttfb_us, ttfb_p50_us, stall_us), or
 * NULL. */
const struct bw_metric *bw_detect_metric_find(const char *name);

struct bw_baseline {
  size_t n;    /* runs behind it */
  double mode; /* the median of the shortest half (bw_stats_shorth_median): the densest level */
  double mad;  /* median absolute deviation: the spread */
};

/* The baseline of a window of values (any order). n == 0 gives mode NAN. */
void bw_baseline_compute(const double *values, size_t n, struct bw_baseline *ret);

/* What the detector remembers about one target between runs. Zero-initialised at the start. */
struct bw_detect_state {
  int64_t bad_streak;
  int64_t good_streak;
  int64_t fail_streak;
  int64_t ok_streak; /* runs in a row that did not fail, for closing availability */
  bool open;
  double open_baseline; /* the frozen baseline while open */
  bool avail_open;
};

enum bw_event {
  BW_EVENT_NONE = 0,
  BW_EVENT_OPENED,
  BW_EVENT_CLOSED,
  BW_EVENT_AVAIL_OPENED,
  BW_EVENT_AVAIL_CLOSED,
};

struct bw_verdict {
  bool judged;      /* enough history for a verdict on the value */
  struct bw_baseline baseline;
  double reference; /* the baseline compared against (frozen while open) */
  double ratio;     /* value / reference */
  bool bad;
  enum bw_event event;
};

/*
 * One run. window: the metric's values of the target's good runs before this one (the rolling
 * window, after any ack). failed: the run failed (value ignored). Updates *st, fills *ret.
 */
void bw_detect_step(const struct bw_detect *cfg, const struct bw_metric *m,
                    struct bw_detect_state *st, const double *window, size_t n_window, bool failed,
                    double value, struct bw_verdict *ret);

/*
 * Replays the detector over a target's history (oldest first; NAN values are failed runs) from a
 * fresh state, as the daemon steps it run by run: the window of each run is the good values of
 * the runs that started within window_us before it. ret[i] is the verdict on pts[i]. The same
 * steps as the daemon's, so what this opens and closes is what the daemon would have.
 */
void bw_detect_replay(const struct bw_detect *cfg, const struct bw_metric *m,
                      const struct bw_point *pts, size_t n, struct bw_verdict *ret);

#endif
