#ifndef BW_JUDGE_H
#define BW_JUDGE_H

#include "bw_config.h"
#include "bw_detect.h"
#include "bw_result.h"
#include "bw_store.h"

/*
 * Detection for one stored run: reads the target's window and detector state from the store,
 * steps bw_detect, and writes the new state and any regression back (bw_detect.h says how).
 */
struct bw_judgement {
  const struct bw_metric *metric;
  bool stepped;   /* false for an aborted run, which says nothing about the target */
  double value;   /* the run's figure, NAN for a failed run */
  struct bw_verdict verdict;
  int64_t regression_id;
  bool open;       /* a regression of the metric is open after this run */
  bool avail_open; /* an availability regression is open after this run */
};

int bw_judge_run(struct bw_store *store, const struct bw_detect *cfg, const struct bw_run *run,
                 int64_t run_id, struct bw_judgement *ret, struct bw_errs *errs);

/* "median 161.00 ms vs mode 98.00 ms (x1.64)" and the like, for log lines. */
char *bw_judge_describe(const struct bw_judgement *j);

#endif
