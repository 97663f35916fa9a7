#include "bw_retention.h"

#include <string.h>

#include "bw_result.h"

#define DAY_US (86400 * INT64_C(1000000))
#define BUILTIN_SAMPLES_US (90 * DAY_US) /* as conf/benchwatch.yaml and bw_config.c say */
#define LONGEST_WINDOW_US (366 * DAY_US)

static int64_t boundary(int64_t now_us, int64_t keep_us) {
  return keep_us > 0 ? now_us - keep_us : BW_NONE;
}

void bw_retention_plan(const struct bw_config *cfg, int64_t now_us, int64_t samples_us,
                       int64_t runs_us, struct bw_prune_plan *ret) {
  int64_t window = LONGEST_WINDOW_US;
  memset(ret, 0, sizeof(*ret));
  if (samples_us == BW_NONE)
    samples_us = cfg ? cfg->retention.samples_us : BUILTIN_SAMPLES_US;
  if (runs_us == BW_NONE)
    runs_us = cfg ? cfg->retention.runs_us : 0;
  if (cfg) {
    window = cfg->detect.window_us;
    for (size_t i = 0; i < cfg->n_tests; i++)
      if (cfg->tests[i].detect.window_us > window)
        window = cfg->tests[i].detect.window_us;
  }
  ret->now_us = now_us;
  ret->samples_before_us = boundary(now_us, samples_us);
  ret->runs_before_us = boundary(now_us, runs_us);
  ret->baseline_us = window;
}

bool bw_retention_due(int64_t last_us, int64_t now_us) {
  return last_us == BW_NONE || now_us - last_us >= DAY_US || now_us < last_us;
}
