#include "bw_judge.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bw_util.h"

int bw_judge_run(struct bw_store *store, const struct bw_detect *cfg, const struct bw_run *run,
                 int64_t run_id, struct bw_judgement *ret, struct bw_errs *errs) {
  struct bw_detect_state st;
  struct bw_point *window = NULL;
  size_t n = 0;
  int64_t target_id, since;
  double *values = NULL;

  memset(ret, 0, sizeof(*ret));
  ret->metric = bw_detect_metric(run->kind);
  ret->value = (double)NAN;
  if (run->outcome == BW_OUTCOME_ABORTED)
    return 0;
  int r = bw_store_find_target(store, run->test, run->backend, &target_id, errs);
  if (r < 0)
    return r;
  r = bw_store_detector_load(store, target_id, ret->metric->name, &st, &since, errs);
  if (r < 0)
    return r;
  int64_t from = run->started_us - cfg->window_us;
  r = bw_store_window(store, target_id, ret->metric->name, from > since ? from : since,
                      run->started_us, (size_t)cfg->window_runs, &window, &n, errs);
  if (r < 0)
    return r;
  values = bw_xmalloc((n + 1) * sizeof(*values));
  for (size_t i = 0; i < n; i++)
    values[i] = window[i].value;
  double v;
  const struct bw_figure *f = bw_figure_find(ret->metric->name);
  if (run->outcome != BW_OUTCOME_FAILED && f && bw_figure_get(f, run, &v))
    ret->value = v;
  bw_detect_step(cfg, ret->metric, &st, values, n, run->outcome == BW_OUTCOME_FAILED, ret->value,
                 &ret->verdict);
  ret->stepped = true;
  ret->open = st.open;
  ret->avail_open = st.avail_open;
  r = bw_store_detector_save(store, target_id, ret->metric->name, &st, &ret->verdict, run_id,
                             run->started_us, ret->value, &ret->regression_id, errs);
  free(values);
  free(window);
  return r;
}

char *bw_judge_describe(const struct bw_judgement *j) {
  const struct bw_metric *m = j->metric;
  const struct bw_verdict *v = &j->verdict;
  if (!j->stepped || isnan(j->value))
    return bw_xstrdup("");
  if (!v->judged)
    return bw_xasprintf("%s %.2f %s (no baseline yet: %zu runs of history)", m->label,
                        j->value / m->scale,
                        m->unit, v->baseline.n);
  return bw_xasprintf("%s %.2f %s vs mode %.2f %s (x%.2f)%s", m->label, j->value / m->scale,
                      m->unit, v->reference / m->scale, m->unit, v->ratio, v->bad ? ", worse" : "");
}
