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
 * judge (bw_judge.h) calls it once per stored run with the window from the database;
 * bw_detect_replay() calls the same function over a stored series from a fresh state, so both
 * agree run for run.
 *
 * A run is bad when it is worse than the baseline by the factor AND by the absolute margin (so
 * 2 ms -> 3.5 ms on loopback is no regression): that is the practical test. A regression opens
 * only when the change is also unlikely under the target's own variation, the statistical test:
 *
 * - a CUSUM adds up, run after run, how far each run sits on the worse side of the baseline in
 *   units of the target's own spread (each run counts at most BW_DETECT_CLIP spreads, so a spike
 *   is one run's worth of evidence, and BW_DETECT_SLACK spreads are taken off every run, so
 *   ordinary noise drains it); it must reach the threshold that chance alone reaches less than
 *   once per false-alarm budget;
 * - the runs since the CUSUM started rising must hold enough bad runs that, at the rate the
 *   window's own runs are bad, chance would give that many in a row less than once per budget
 *   (at least open_after);
 * - the median of the last open_after runs is bad.
 *
 * It closes after close_after consecutive runs back within half the factor (so a change right
 * at the factor does not flap open and closed). While it is open the baseline is frozen at its
 * value when it opened, and runs that are not back to normal are marked excluded: they never
 * enter a baseline window, so a long regression does not become the normal after it closes. An
 * ack (a person accepting the new level) restarts the window instead.
 *
 * Availability is judged apart from the figures: enough consecutive failed runs (open_after, more
 * when the window's own runs often fail) open an availability regression, close_after runs that
 * did not fail close it.
 */

/* A figure a test can be judged on. */
struct bw_metric {
  const char *name; /* a figure name (bw_run_figures), as stored in regression.metric */
  unsigned kinds;   /* 1 << BW_KIND_*: the kinds that measure it */
  bool higher_is_worse;
  const char *label; /* for people: "median", "MB/s" */
  double scale;      /* value / scale is in `unit` */
  const char *unit;  /* "ms", "MB/s" */
  double floor;      /* values below are judged as this: a log needs a positive number */
};

/* The metric table, terminated by a row whose name is NULL. */
extern const struct bw_metric bw_metrics[];

/* Availability: not a figure; stored as the metric name "availability". */
#define BW_METRIC_AVAILABILITY "availability"
/* The bit for availability in bw_detect.figures; bits 0.. are the rows of bw_metrics. */
#define BW_FIGURE_AVAILABILITY (UINT32_C(1) << 31)

/* The headline metric of a kind (its row's, bw_kind.h): page, the run's median latency;
 * download, MB/s; connect, the median TCP connect. */
const struct bw_metric *bw_detect_metric(enum bw_kind kind);
/* The metric called name, or NULL. */
const struct bw_metric *bw_detect_metric_find(const char *name);
/*
 * The figures a test of kind is judged on: cfg->figures, or when it is 0 the kind's defaults
 * (the headline metric, the other figures its row judges, and availability). A bit mask over
 * bw_metrics and BW_FIGURE_AVAILABILITY.
 */
uint32_t bw_detect_figures(const struct bw_detect *cfg, enum bw_kind kind);

/*
 * A baseline window: the values, sorted, for the order statistics a baseline needs. The judge
 * builds it from the database; a replay adds and removes values as its window slides. Both give
 * the same baseline from the same values.
 */
struct bw_window {
  double *v; /* ascending */
  size_t n, cap;
  size_t bad;   /* of the runs, those judged bad when they were judged */
  size_t pairs; /* bad runs whose predecessor in the window was bad too: how bad runs cluster */
};

void bw_window_add(struct bw_window *w, double value);
/* Removes one value equal to value; does nothing when there is none. */
void bw_window_remove(struct bw_window *w, double value);
void bw_window_set(struct bw_window *w, const double *values, size_t n);
void bw_window_free(struct bw_window *w);

struct bw_baseline {
  size_t n;         /* runs behind it */
  double mode;      /* the median of the shortest half (bw_stats_shorth_median): the densest level */
  double spread;    /* how far the worse side reaches, in natural-log units (see bw_detect.c) */
  size_t bad;       /* runs in the window judged bad when they ran */
  size_t pairs;     /* ... right after another bad run */
};

/*
 * The value beyond which a run is bad against the reference ref (above it, or below it for a
 * throughput): the factor and the margin together. Between ref and it lies the normal band.
 */
double bw_detect_threshold(const struct bw_detect *cfg, const struct bw_metric *m, double ref);

/* The baseline of a window of metric m's values (with its bad and pairs counts). n == 0 gives
 * mode NAN. */
void bw_baseline_compute(const struct bw_metric *m,
                         const struct bw_window *w, struct bw_baseline *ret);

/* What the detector remembers about one target and metric between runs. Zero at the start. */
struct bw_detect_state {
  double cusum;
  int64_t episode_runs; /* runs since the CUSUM left zero */
  int64_t episode_bad;  /* ... of which bad */
  double rate;          /* the chance of a bad run, from the window as it was when it began */
  int64_t episode_us;   /* when the episode began (the run's start) */
  int64_t good_streak;  /* while open: consecutive runs back to normal */
  bool open;
  double open_baseline; /* the frozen baseline while open */
};

/* Availability's memory. Zero at the start. */
struct bw_avail_state {
  int64_t fail_streak;
  int64_t ok_streak; /* runs in a row that did not fail, for closing */
  double rate;       /* the chance of a failure, from the window before the first of them */
  int64_t streak_us; /* when the first of them started */
  bool open;
};

enum bw_event {
  BW_EVENT_NONE = 0,
  BW_EVENT_OPENED,
  BW_EVENT_CLOSED,
};

struct bw_verdict {
  bool judged; /* enough history for a verdict on the value */
  struct bw_baseline baseline;
  double reference; /* the baseline compared against (frozen while open) */
  double ratio;     /* value / reference */
  bool bad;         /* worse than the reference by the factor and the margin; stored with the
                       run, it counts in later windows' bad and pairs */
  double cusum;     /* the evidence after this run, in spreads */
  double threshold; /* what the evidence must reach */
  int64_t need_bad; /* bad runs the episode must hold */
  bool exclude;     /* judged bad while a regression was open: kept out of later windows */
  int64_t exclude_since_us; /* on opening: the bad runs from this time on are excluded too */
  enum bw_event event;
};

/* The CUSUM's constants, in spreads: the most one run counts, and what each run gives back. */
#define BW_DETECT_CLIP 3.0
#define BW_DETECT_SLACK 1.0

/* The false-alarm budget of a test, and the CUSUM threshold it gives. */
struct bw_budget {
  double runs;      /* runs of the test in cfg->false_alarm_us; never below 100 */
  double threshold; /* the CUSUM level pure noise reaches once in that many runs */
};

/* The budget of a test that runs every every_us: computed once, used for every step. */
void bw_detect_budget(const struct bw_detect *cfg, int64_t every_us, struct bw_budget *ret);

/*
 * One run that did not fail. b: the baseline of the run's window (the good runs before it);
 * recent: the values of the newest runs before it, oldest first (the tail of the window, up to
 * open_after - 1 of them); budget from bw_detect_budget(). Updates *st, fills *ret.
 */
void bw_detect_step(const struct bw_detect *cfg, const struct bw_metric *m,
                    const struct bw_budget *budget,
                    struct bw_detect_state *st, const struct bw_baseline *b, const double *recent,
                    size_t n_recent, double value, int64_t at_us, struct bw_verdict *ret);

/*
 * One run for availability. The window: n_window runs (failed runs while an availability
 * regression was open left out), of which fails failed, fail_pairs right after another failure.
 * On opening, the failed runs since st->streak_us are excluded from later windows, this one
 * included (*ret_exclude); while open, every failed run is.
 */
enum bw_event bw_avail_step(const struct bw_detect *cfg, const struct bw_budget *budget,
                            struct bw_avail_state *st, bool failed, int64_t at_us,
                            size_t n_window, size_t fails, size_t fail_pairs, bool *ret_exclude);

/*
 * The chance that a run is bad by chance alone, from a window of n runs of which bad were bad,
 * pairs of them right after another bad run (bw_detect.c says how).
 */
double bw_detect_bad_rate(const struct bw_detect *cfg, size_t n, size_t bad, size_t pairs);
/*
 * How many of `runs` runs must be bad before chance (rate each) is an unlikely explanation:
 * less than once in ten false-alarm budgets. At least open_after.
 */
int64_t bw_detect_need(const struct bw_detect *cfg, int64_t runs, double rate,
                       double budget_runs);

/* One run of a replay's result. */
struct bw_replay_verdict {
  struct bw_verdict v; /* of the figure; judged false for a failed run */
  enum bw_event avail_event;
  bool open;       /* the figure's regression is open after the run */
  bool avail_open; /* availability's */
  bool acked;      /* an ack of the figure took effect before this run */
  bool avail_exclude;       /* the run is kept out of availability's later windows */
  int64_t avail_since_us;   /* on an availability opening: failed runs from here on are too */
};

/* Where a replay ended: the detector's memory after the last run, as the judge keeps it. */
struct bw_replay_end {
  struct bw_detect_state st;
  struct bw_avail_state av;
  int64_t since_us; /* the window's start after the last ack (0: none) */
};

/*
 * Replays the detector over a target's series (oldest first; NAN values are failed runs) from a
 * fresh state, as the judge steps it run by run: the window of each run is the values of the
 * runs that started within window_us before it (and at or after the latest ack), not failed,
 * not excluded, at most window_runs of the newest. acks and avail_acks: the times (ascending)
 * at which a person accepted a regression of the figure, or of availability; each takes effect
 * at the first run that started at or after it. *ret_end (may be NULL) gets the state after the
 * last run. O(n log w) plus the window's sorted insertions (memmove) and a bounded shorth scan.
 */
void bw_detect_replay(const struct bw_detect *cfg, const struct bw_metric *m, int64_t every_us,
                      const struct bw_point *pts, size_t n, const int64_t *acks, size_t n_acks,
                      const int64_t *avail_acks, size_t n_avail_acks,
                      struct bw_replay_verdict *ret, struct bw_replay_end *ret_end);

#endif
