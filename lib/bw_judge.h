#ifndef BW_JUDGE_H
#define BW_JUDGE_H

#include "bw_config.h"
#include "bw_detect.h"
#include "bw_result.h"
#include "bw_store.h"

/*
 * The one judge. bw_judge_record() stores a finished run and its verdicts in one transaction:
 * for every figure the test is judged on (bw_detect_figures) it reads the baseline window by the
 * one window rule (bw_judge_window: window, window_runs, the last ack, runs excluded), steps
 * bw_detect, marks the run and writes the detector's memory and any regression. Replays
 * (history, backtest, import) go through bw_detect_replay(), which applies the same rule to a
 * series in memory, with the acks from bw_store_acks(); everything else that shows a baseline or
 * a state asks bw_judge_state().
 */

#define BW_JUDGE_MAX_FIGURES 16

struct bw_judge_figure {
  const struct bw_metric *metric;
  double value; /* the run's figure, NAN for a failed run or one not measured */
  struct bw_verdict verdict;
  int64_t regression_id; /* of the regression this run opened or closed, else 0 */
  bool open;             /* a regression of the figure is open after this run */
};

struct bw_judgement {
  bool stepped; /* false for an aborted run, which says nothing about the target */
  int64_t run_id;
  int64_t target_id;
  struct bw_judge_figure fig[BW_JUDGE_MAX_FIGURES];
  size_t n_fig;
  enum bw_event avail_event;
  int64_t avail_regression_id;
  bool avail_open;
};

/*
 * Stores run and judges it by cfg (the test's detect settings; every_us, the test's interval,
 * sizes the false-alarm budget) in one transaction: all of it or, on error, nothing (the store's
 * errno). *ret describes the verdicts.
 */
int bw_judge_record(struct bw_store *store, const struct bw_detect *cfg, int64_t every_us,
                    const struct bw_run *run, struct bw_judgement *ret, struct bw_errs *errs);

/*
 * Where a baseline window of a run that starts at at_us begins: window_us before it, or the last
 * ack if later.
 */
int64_t bw_judge_window_from(const struct bw_detect *cfg, int64_t since_us, int64_t at_us);

/* What the judge holds about a target's figure now, for reports, /metrics and `baseline`. */
struct bw_judge_view {
  const struct bw_metric *metric;
  struct bw_baseline baseline; /* of the window a run starting at `at_us` would be judged by */
  bool open;
  double reference;  /* the frozen baseline while open, else the baseline's mode */
  int64_t opened_us; /* BW_NONE unless open */
  bool avail_open;
  int64_t avail_opened_us;
};

int bw_judge_state(struct bw_store *store, const struct bw_detect *cfg, int64_t target_id,
                   const struct bw_metric *m, int64_t at_us, struct bw_judge_view *ret,
                   struct bw_errs *errs);

/*
 * Judges a target's whole stored history again, as if every run had been judged as it came, in
 * one transaction: the marks, the regressions (those people acked stay as they are; the others
 * are found again, with new ids) and the detector's memory are replaced by a replay under cfg
 * (bw_detect_replay, with the stored acks). For an import, which adds runs the judge never saw.
 * *ret_opened (may be NULL) gets how many regressions the history holds now.
 */
int bw_judge_rebuild(struct bw_store *store, const struct bw_detect *cfg, int64_t every_us,
                     int64_t target_id, enum bw_kind kind, size_t *ret_opened,
                     struct bw_errs *errs);

/* "median 161.00 ms vs mode 98.00 ms (x1.64)" and the like for the headline figure. */
char *bw_judge_describe(const struct bw_judgement *j);
/* The same for one figure's verdict. */
char *bw_judge_describe_figure(const struct bw_judge_figure *f);

#endif
