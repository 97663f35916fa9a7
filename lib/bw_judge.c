#include "bw_judge.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bw_util.h"

int64_t bw_judge_window_from(const struct bw_detect *cfg, int64_t since_us, int64_t at_us) {
  int64_t from = at_us - cfg->window_us;
  return from > since_us ? from : since_us;
}

/*
 * The baseline window of metric m for a run that starts at at_us, by the window rule, and the
 * newest values before it (oldest first, up to open_after - 1) in recent.
 */
static int read_window(struct bw_store *store, const struct bw_detect *cfg,
                       const struct bw_metric *m, int64_t target_id, int64_t since_us,
                       int64_t at_us, struct bw_baseline *ret, double *recent, size_t *ret_recent,
                       struct bw_errs *errs) {
  struct bw_point *pts = NULL;
  struct bw_window w = {0};
  size_t n = 0;
  int r = bw_store_window(store, target_id, m->name, bw_judge_window_from(cfg, since_us, at_us),
                          at_us, (size_t)cfg->window_runs, &pts, &n, errs);
  if (r < 0)
    return r;
  double *v = bw_xmalloc((n + 1) * sizeof(*v));
  for (size_t i = 0; i < n; i++) {
    v[i] = pts[i].value;
    w.bad += pts[i].bad;
    w.pairs += pts[i].bad && i > 0 && pts[i - 1].bad;
  }
  size_t want = (size_t)cfg->open_after - 1, k = 0;
  for (size_t i = n > want ? n - want : 0; recent && i < n; i++)
    recent[k++] = v[i];
  if (ret_recent)
    *ret_recent = k;
  bw_window_set(&w, v, n);
  bw_baseline_compute(m, &w, ret);
  bw_window_free(&w);
  free(v);
  free(pts);
  return 0;
}

static int judge_availability(struct bw_store *store, const struct bw_detect *cfg,
                              const struct bw_budget *budget,
                              const struct bw_run *run, struct bw_judgement *ret,
                              struct bw_errs *errs) {
  struct bw_judge_row row;
  size_t n = 0, fails = 0, pairs = 0;
  bool failed = run->outcome == BW_OUTCOME_FAILED, exclude;
  int r = bw_store_judge_load(store, ret->target_id, BW_METRIC_AVAILABILITY, &row, errs);
  if (r == 0)
    r = bw_store_avail_window(store, ret->target_id, run->started_us - cfg->window_us,
                              run->started_us, &n, &fails, &pairs, errs);
  if (r < 0)
    return r;
  ret->avail_event = bw_avail_step(cfg, budget, &row.avail, failed, run->started_us, n, fails,
                                   pairs, &exclude);
  ret->avail_open = row.avail.open;
  r = bw_store_judge_save(store, ret->target_id, BW_METRIC_AVAILABILITY, &row, ret->run_id, errs);
  if (r == 0 && ret->avail_event == BW_EVENT_OPENED)
    r = bw_store_exclude_since(store, ret->target_id, BW_METRIC_AVAILABILITY, row.avail.streak_us,
                               errs);
  if (r == 0 && exclude)
    r = bw_store_mark(store, ret->run_id, BW_METRIC_AVAILABILITY, true, errs);
  if (r == 0 && ret->avail_event == BW_EVENT_OPENED)
    r = bw_store_regression_open(store, ret->target_id, BW_METRIC_AVAILABILITY, ret->run_id,
                                 run->started_us, (double)NAN, (double)NAN, (double)NAN,
                                 &ret->avail_regression_id, errs);
  else if (r == 0 && ret->avail_event == BW_EVENT_CLOSED)
    r = bw_store_regression_close(store, ret->target_id, BW_METRIC_AVAILABILITY, ret->run_id,
                                  run->started_us, &ret->avail_regression_id, errs);
  return r;
}

static int judge_figure(struct bw_store *store, const struct bw_detect *cfg,
                        const struct bw_budget *budget,
                        const struct bw_run *run, struct bw_judge_figure *f, int64_t target_id,
                        int64_t run_id, struct bw_errs *errs) {
  struct bw_judge_row row;
  struct bw_baseline b;
  size_t n_recent = 0;
  double *recent = bw_xmalloc((size_t)cfg->open_after * sizeof(*recent));
  int r = bw_store_judge_load(store, target_id, f->metric->name, &row, errs);
  if (r == 0)
    r = read_window(store, cfg, f->metric, target_id, row.since_us, run->started_us, &b, recent,
                    &n_recent, errs);
  if (r < 0) {
    free(recent);
    return r;
  }
  bw_detect_step(cfg, f->metric, budget, &row.perf, &b, recent, n_recent, f->value,
                 run->started_us, &f->verdict);
  free(recent);
  f->open = row.perf.open;
  const char *name = f->metric->name;
  r = bw_store_judge_save(store, target_id, name, &row, run_id, errs);
  if (r == 0 && f->verdict.event == BW_EVENT_OPENED)
    r = bw_store_exclude_since(store, target_id, name, f->verdict.exclude_since_us, errs);
  if (r == 0 && (f->verdict.bad || f->verdict.exclude))
    r = bw_store_mark(store, run_id, name, f->verdict.exclude, errs);
  if (r == 0 && f->verdict.event == BW_EVENT_OPENED)
    r = bw_store_regression_open(store, target_id, name, run_id, run->started_us,
                                 f->verdict.reference, f->value, f->verdict.ratio,
                                 &f->regression_id, errs);
  else if (r == 0 && f->verdict.event == BW_EVENT_CLOSED)
    r = bw_store_regression_close(store, target_id, name, run_id, run->started_us,
                                  &f->regression_id, errs);
  return r;
}

int bw_judge_record(struct bw_store *store, const struct bw_detect *cfg, int64_t every_us,
                    const struct bw_run *run, struct bw_judgement *ret, struct bw_errs *errs) {
  struct bw_judgement j;
  struct bw_budget budget;
  uint32_t figures = bw_detect_figures(cfg, run->kind);

  bw_detect_budget(cfg, every_us, &budget);
  memset(&j, 0, sizeof(j));
  int r = bw_store_begin(store, errs);
  if (r < 0)
    return r;
  r = bw_store_put_run_in(store, run, &j.target_id, &j.run_id, errs);
  if (r == 0 && run->outcome != BW_OUTCOME_ABORTED) {
    j.stepped = true;
    if (figures & BW_FIGURE_AVAILABILITY)
      r = judge_availability(store, cfg, &budget, run, &j, errs);
    for (const struct bw_metric *m = bw_metrics; r == 0 && m->name; m++) {
      if (!(figures & (UINT32_C(1) << (m - bw_metrics))) || !(m->kinds & (1u << run->kind)) ||
          j.n_fig == BW_JUDGE_MAX_FIGURES)
        continue;
      struct bw_judge_figure *f = &j.fig[j.n_fig++];
      const struct bw_figure *fig = bw_figure_find(m->name);
      double v;
      f->metric = m;
      f->value = (double)NAN;
      if (run->outcome != BW_OUTCOME_FAILED && fig && bw_figure_get(fig, run, &v))
        f->value = v;
      if (isnan(f->value)) {
        /* nothing to judge: the figure's state stands as it was */
        struct bw_judge_row row;
        r = bw_store_judge_load(store, j.target_id, m->name, &row, errs);
        f->open = row.perf.open;
        f->verdict.ratio = f->verdict.reference = (double)NAN;
        continue;
      }
      r = judge_figure(store, cfg, &budget, run, f, j.target_id, j.run_id, errs);
    }
  }
  if (r == 0)
    r = bw_store_commit(store, errs);
  if (r < 0) {
    bw_store_rollback(store);
    return r;
  }
  *ret = j;
  return 0;
}

/*
 * Writes what a replay of one metric found: marks (retroactive exclusions applied as the judge
 * applies them), regressions (skipping those an ack closed: the acked rows stand), and the
 * detector's memory at the end.
 */
static int write_replay(struct bw_store *store, int64_t target_id, const char *metric, bool avail,
                        const struct bw_point *pts, const struct bw_replay_verdict *rv, size_t n,
                        const int64_t *acks, size_t n_acks, const struct bw_replay_end *end,
                        size_t *opened, struct bw_errs *errs) {
  bool *excluded = bw_xcalloc(n + 1, sizeof(*excluded));
  int r = 0;
  for (size_t i = 0; i < n; i++) {
    bool opens = avail ? rv[i].avail_event == BW_EVENT_OPENED : rv[i].v.event == BW_EVENT_OPENED;
    int64_t since = avail ? rv[i].avail_since_us : rv[i].v.exclude_since_us;
    excluded[i] = avail ? rv[i].avail_exclude : rv[i].v.exclude;
    for (size_t j = i; opens && j-- > 0 && pts[j].started_us >= since;)
      if (avail ? isnan(pts[j].value) : rv[j].v.bad)
        excluded[j] = true;
  }
  for (size_t i = 0; i < n && r == 0; i++) {
    if (excluded[i] || (!avail && rv[i].v.bad))
      r = bw_store_mark(store, pts[i].run_id, metric, excluded[i], errs);
    enum bw_event e = avail ? rv[i].avail_event : rv[i].v.event;
    if (r < 0 || e != BW_EVENT_OPENED)
      continue;
    size_t j = i + 1;
    while (j < n && (avail ? rv[j].avail_event : rv[j].v.event) != BW_EVENT_CLOSED)
      j++;
    /* An ack between the opening and the close (or after it, when still open) closed it: the
     * acked row stands for it. An ack takes effect at the first run at or after it. */
    bool acked = false;
    for (size_t k = 0; k < n_acks && !acked; k++)
      acked = acks[k] > pts[i].started_us && (j == n || acks[k] <= pts[j].started_us);
    if (acked)
      continue;
    const struct bw_verdict *v = &rv[i].v;
    r = bw_store_regression_open(store, target_id, metric, pts[i].run_id, pts[i].started_us,
                                 avail ? (double)NAN : v->reference,
                                 avail ? (double)NAN : pts[i].value,
                                 avail ? (double)NAN : v->ratio, NULL, errs);
    (*opened)++;
    if (r == 0 && j < n)
      r = bw_store_regression_close(store, target_id, metric, pts[j].run_id, pts[j].started_us,
                                    NULL, errs);
  }
  free(excluded);
  if (r == 0) {
    struct bw_judge_row row;
    memset(&row, 0, sizeof(row));
    row.perf = end->st;
    row.avail = end->av;
    row.since_us = avail ? 0 : end->since_us;
    r = bw_store_judge_save(store, target_id, metric, &row, n ? pts[n - 1].run_id : 0, errs);
  }
  return r;
}

int bw_judge_rebuild(struct bw_store *store, const struct bw_detect *cfg, int64_t every_us,
                     int64_t target_id, enum bw_kind kind, size_t *ret_opened,
                     struct bw_errs *errs) {
  uint32_t figures = bw_detect_figures(cfg, kind);
  size_t opened = 0;
  int r = bw_store_begin(store, errs);
  if (r < 0)
    return r;
  r = bw_store_judge_clear(store, target_id, errs);
  for (const struct bw_metric *m = bw_metrics; r == 0 && m->name; m++) {
    bool headline = m == bw_detect_metric(kind);
    bool judged = (figures & (UINT32_C(1) << (m - bw_metrics))) && (m->kinds & (1u << kind));
    bool avail = headline && (figures & BW_FIGURE_AVAILABILITY);
    if (!judged && !avail)
      continue;
    struct bw_point *pts = NULL;
    int64_t *acks = NULL, *avail_acks = NULL;
    size_t n = 0, n_acks = 0, n_avail_acks = 0;
    r = bw_store_series(store, target_id, m->name, INT64_MIN, INT64_MAX, &pts, &n, errs);
    if (r == 0)
      r = bw_store_acks(store, target_id, m->name, &acks, &n_acks, errs);
    if (r == 0)
      r = bw_store_acks(store, target_id, BW_METRIC_AVAILABILITY, &avail_acks, &n_avail_acks,
                        errs);
    if (r == 0) {
      struct bw_replay_verdict *rv = bw_xcalloc(n + 1, sizeof(*rv));
      struct bw_replay_end end;
      bw_detect_replay(cfg, m, every_us, pts, n, acks, n_acks, avail_acks, n_avail_acks, rv,
                       &end);
      if (judged)
        r = write_replay(store, target_id, m->name, false, pts, rv, n, acks, n_acks, &end,
                         &opened, errs);
      /* availability rides on the headline figure's series, which holds every failed run */
      if (r == 0 && avail)
        r = write_replay(store, target_id, BW_METRIC_AVAILABILITY, true, pts, rv, n, avail_acks,
                         n_avail_acks, &end, &opened, errs);
      free(rv);
    }
    free(pts);
    free(acks);
    free(avail_acks);
  }
  if (r == 0)
    r = bw_store_commit(store, errs);
  if (r < 0) {
    bw_store_rollback(store);
    return r;
  }
  if (ret_opened)
    *ret_opened = opened;
  return 0;
}

int bw_judge_state(struct bw_store *store, const struct bw_detect *cfg, int64_t target_id,
                   const struct bw_metric *m, int64_t at_us, struct bw_judge_view *ret,
                   struct bw_errs *errs) {
  struct bw_judge_row row, avail;
  int64_t opened, avail_opened;
  memset(ret, 0, sizeof(*ret));
  ret->metric = m;
  int r = bw_store_judge_state(store, target_id, m->name, &row, &opened, errs);
  if (r == 0)
    r = bw_store_judge_state(store, target_id, BW_METRIC_AVAILABILITY, &avail, &avail_opened,
                             errs);
  if (r == 0)
    r = read_window(store, cfg, m, target_id, row.since_us, at_us, &ret->baseline, NULL, NULL,
                    errs);
  if (r < 0)
    return r;
  ret->open = row.perf.open;
  ret->reference = row.perf.open ? row.perf.open_baseline : ret->baseline.mode;
  ret->opened_us = opened;
  ret->avail_open = avail.avail.open;
  ret->avail_opened_us = avail_opened;
  return 0;
}

char *bw_judge_describe_figure(const struct bw_judge_figure *f) {
  const struct bw_metric *m = f->metric;
  const struct bw_verdict *v = &f->verdict;
  if (isnan(f->value))
    return bw_xstrdup("");
  if (!v->judged)
    return bw_xasprintf("%s %.2f %s (no baseline yet: %zu runs of history)", m->label,
                        f->value / m->scale, m->unit, v->baseline.n);
  return bw_xasprintf("%s %.2f %s vs mode %.2f %s (x%.2f)%s", m->label, f->value / m->scale,
                      m->unit, v->reference / m->scale, m->unit, v->ratio,
                      v->bad ? ", worse" : "");
}

char *bw_judge_describe(const struct bw_judgement *j) {
  if (!j->stepped || j->n_fig == 0)
    return bw_xstrdup("");
  return bw_judge_describe_figure(&j->fig[0]);
}
