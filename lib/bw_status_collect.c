/* Reading the status page's content from the store (bw_status.h). */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bw_status.h"

#include "bw_diagnose.h"
#include "bw_judge.h"
#include "bw_util.h"

#define DAY_US (86400 * INT64_C(1000000))

static void detect_of(const struct bw_config *cfg, const char *test, struct bw_detect *ret) {
  const struct bw_test *t = cfg ? bw_config_find_test(cfg, test) : NULL;
  if (t)
    *ret = t->detect;
  else if (cfg)
    *ret = cfg->detect;
  else
    bw_config_default_detect(ret);
}

/* Run id as stored into a new *ret; with_samples false drops them (a page shows none). */
static int read_run(struct bw_store *store, int64_t id, bool with_samples, struct bw_run **ret,
                    struct bw_errs *errs) {
  struct bw_run *run = bw_xcalloc(1, sizeof(*run));
  int r = bw_store_get_run(store, id, run, errs);
  if (r < 0) {
    bw_run_reset(run);
    free(run);
    return r;
  }
  if (!with_samples) {
    for (size_t i = 0; i < run->n_samples; i++)
      free(run->samples[i].error_class);
    free(run->samples);
    run->samples = NULL;
    run->n_samples = run->cap_samples = 0;
  }
  *ret = run;
  return 0;
}

static void free_run(struct bw_run *run) {
  if (!run)
    return;
  bw_run_reset(run);
  free(run);
}

/* The open regression of metric among t's spans, or NULL. */
static const struct bw_regression *open_span(const struct bw_status_target *t, const char *metric) {
  for (size_t i = 0; i < t->n_spans; i++)
    if (t->spans[i].closed_us == BW_NONE && strcmp(t->spans[i].metric, metric) == 0)
      return &t->spans[i];
  return NULL;
}

/* The state now from the judge's view, the latest run and the period's runs. */
static void decide(struct bw_status_target *t, const struct bw_judge_view *jv) {
  const struct bw_regression *g;
  t->since_us = BW_NONE;
  t->regression_id = 0;
  if (jv->avail_open) {
    t->state = BW_STATUS_FAILING;
    t->since_us = jv->avail_opened_us;
    g = open_span(t, BW_METRIC_AVAILABILITY);
    t->regression_id = g ? g->id : 0;
  } else if (t->latest && t->latest->outcome == BW_OUTCOME_FAILED) {
    t->state = BW_STATUS_FAILING;
    t->since_us = t->latest->started_us;
    /* Back to the first of the failures in a row that end the period. */
    for (size_t i = t->n_history; i > 0 && isnan(t->history[i - 1].value); i--)
      t->since_us = t->history[i - 1].started_us;
  } else if (jv->open) {
    t->state = BW_STATUS_REGRESSED;
    t->since_us = jv->opened_us;
    g = open_span(t, t->metric->name);
    t->regression_id = g ? g->id : 0;
  } else {
    t->state = t->latest ? BW_STATUS_NORMAL : BW_STATUS_NEW;
  }
}

/* Fills t (whose id, names and kind are set) as of now_us, its chart over [from_us, until_us). */
static int collect_one(struct bw_store *store, const struct bw_config *cfg,
                       struct bw_status_target *t, int64_t now_us, int64_t from_us,
                       int64_t until_us, struct bw_errs *errs) {
  struct bw_detect det;
  struct bw_judge_view jv;
  int64_t latest_id = 0;
  detect_of(cfg, t->test, &det);
  t->metric = bw_detect_metric(t->kind);
  t->from_us = from_us;
  t->until_us = until_us;
  int r = bw_store_series(store, t->id, t->metric->name, from_us, until_us, &t->history,
                          &t->n_history, errs);
  if (r == 0)
    r = bw_store_target_regressions(store, t->id, from_us, until_us, &t->spans, &t->n_spans, errs);
  if (r == 0) {
    r = bw_store_latest_run(store, t->id, now_us + 1, &latest_id, errs);
    if (r == 0)
      r = read_run(store, latest_id, false, &t->latest, errs);
    else if (r == -ENOENT)
      r = 0;
  }
  if (r == 0)
    r = bw_judge_state(store, &det, t->id, t->metric, now_us, &jv, errs);
  if (r < 0)
    return r;
  /* A history shorter than the period fills the chart rather than a corner of it. */
  if (t->n_history && t->history[0].started_us > from_us) {
    int64_t first = t->history[0].started_us;
    t->from_us = first - (until_us - first) / 20 - 1;
    if (t->from_us < from_us)
      t->from_us = from_us;
  }
  t->baseline = jv.baseline;
  t->reference = jv.reference;
  /* The normal band as the mail's charts draw it: from the reference to where a run is bad. */
  t->band_lo = t->band_hi = (double)NAN;
  if (!isnan(jv.reference)) {
    double threshold = bw_detect_threshold(&det, t->metric, jv.reference);
    t->band_lo = fmin(jv.reference, threshold);
    t->band_hi = fmax(jv.reference, threshold);
  }
  decide(t, &jv);
  return 0;
}

static void copy_row(struct bw_status_target *t, const struct bw_target_row *row) {
  t->id = row->id;
  t->test = bw_xstrdup(row->test);
  t->backend = bw_xstrdup(row->backend ? row->backend : "");
  t->url = bw_xstrdup(row->url ? row->url : "");
  t->kind = row->kind;
}

int bw_status_collect(struct bw_store *store, const struct bw_config *cfg, const char *host,
                      int64_t now_us, int64_t period_us, struct bw_status *ret,
                      struct bw_errs *errs) {
  struct bw_target_row *rows = NULL;
  size_t n_rows = 0;
  memset(ret, 0, sizeof(*ret));
  ret->host = bw_xstrdup(host ? host : "");
  ret->now_us = now_us;
  int r = bw_store_targets(store, &rows, &n_rows, errs);
  if (r == 0)
    r = bw_store_regressions(store, 0, true, &ret->open, &ret->n_open, errs);
  if (r == 0)
    ret->targets = bw_xcalloc(n_rows + 1, sizeof(*ret->targets));
  for (size_t i = 0; i < n_rows && r == 0; i++) {
    struct bw_status_target *t = &ret->targets[ret->n_targets++];
    copy_row(t, &rows[i]);
    r = collect_one(store, cfg, t, now_us, now_us - period_us, now_us + 1, errs);
  }
  bw_target_rows_free(rows, n_rows);
  if (r < 0)
    bw_status_free(ret);
  return r;
}

void bw_status_target_reset(struct bw_status_target *t) {
  if (!t)
    return;
  free(t->test);
  free(t->backend);
  free(t->url);
  free_run(t->latest);
  free(t->history);
  bw_regressions_free(t->spans, t->n_spans);
  memset(t, 0, sizeof(*t));
}

void bw_status_free(struct bw_status *s) {
  if (!s)
    return;
  for (size_t i = 0; i < s->n_targets; i++)
    bw_status_target_reset(&s->targets[i]);
  free(s->targets);
  bw_regressions_free(s->open, s->n_open);
  free(s->host);
  memset(s, 0, sizeof(*s));
}

int bw_status_collect_target(struct bw_store *store, const struct bw_config *cfg, int64_t id,
                             int64_t now_us, int64_t period_us, struct bw_status_target *ret,
                             struct bw_errs *errs) {
  struct bw_target_row row;
  memset(ret, 0, sizeof(*ret));
  int r = bw_store_target_get(store, id, &row, errs);
  if (r < 0)
    return r;
  copy_row(ret, &row);
  bw_target_row_reset(&row);
  r = collect_one(store, cfg, ret, now_us, now_us - period_us, now_us + 1, errs);
  if (r < 0)
    bw_status_target_reset(ret);
  return r;
}

/* Up to BW_STATUS_AROUND runs either side of the one that opened g, from pts[0..n). */
static void pick_around(const struct bw_regression *g, const struct bw_point *pts, size_t n,
                        struct bw_point **ret, size_t *ret_n) {
  size_t at = n;
  for (size_t i = 0; i < n && at == n; i++)
    if (pts[i].run_id == g->open_run_id || pts[i].started_us >= g->opened_us)
      at = i;
  size_t from = at > BW_STATUS_AROUND ? at - BW_STATUS_AROUND : 0;
  size_t to = at + BW_STATUS_AROUND + 1 < n ? at + BW_STATUS_AROUND + 1 : n;
  *ret_n = to > from ? to - from : 0;
  *ret = bw_xmalloc((*ret_n + 1) * sizeof(**ret));
  if (*ret_n)
    memcpy(*ret, pts + from, *ret_n * sizeof(**ret));
}

/*
 * The opening run diagnosed against the latest runs of the test's other backends, and those
 * backends compared to find the odd one out (the sentence naming this backend is kept).
 */
static int diagnose(struct bw_store *store, struct bw_status_regression *r, struct bw_errs *errs) {
  struct bw_target_row *rows = NULL;
  struct bw_run *opening = NULL, **peers = NULL;
  size_t n_rows = 0, n_peers = 0;
  int ret = 0;
  if (r->reg.open_run_id == BW_NONE)
    goto out;
  ret = read_run(store, r->reg.open_run_id, true, &opening, errs);
  if (ret == 0)
    ret = bw_store_targets(store, &rows, &n_rows, errs);
  if (ret < 0)
    goto out;
  peers = bw_xcalloc(n_rows + 1, sizeof(*peers));
  peers[n_peers++] = opening;
  for (size_t i = 0; i < n_rows && ret == 0; i++) {
    int64_t id;
    if (rows[i].id == r->target.id || strcmp(rows[i].test, r->target.test) != 0)
      continue;
    ret = bw_store_latest_run(store, rows[i].id, r->now_us + 1, &id, errs);
    if (ret == -ENOENT) {
      ret = 0;
      continue;
    }
    if (ret == 0)
      ret = read_run(store, id, true, &peers[n_peers], errs);
    if (ret == 0)
      n_peers++;
  }
  if (ret < 0)
    goto out;
  r->diagnosis = bw_diagnose(opening, (const struct bw_run *const *)peers + 1, n_peers - 1);
  char **odd = bw_diagnose_odd((const struct bw_run *const *)peers, n_peers);
  size_t keep = 0;
  const char *b = r->target.backend;
  for (size_t k = 0; odd[k]; k++) {
    if (b[0] && strncmp(odd[k], b, strlen(b)) == 0 && odd[k][strlen(b)] == ' ')
      odd[keep++] = odd[k];
    else
      free(odd[k]);
  }
  odd[keep] = NULL;
  r->odd = odd;
out:
  for (size_t i = 1; peers && i < n_peers; i++)
    free_run(peers[i]);
  free(peers);
  free_run(opening);
  bw_target_rows_free(rows, n_rows);
  if (ret == 0 && !r->diagnosis)
    r->diagnosis = bw_xcalloc(1, sizeof(char *));
  if (ret == 0 && !r->odd)
    r->odd = bw_xcalloc(1, sizeof(char *));
  return ret;
}

int bw_status_collect_regression(struct bw_store *store, const struct bw_config *cfg,
                                 const char *host, int64_t id, int64_t now_us,
                                 struct bw_status_regression *ret, struct bw_errs *errs) {
  struct bw_target_row row;
  struct bw_point *pts = NULL;
  size_t n = 0;
  memset(ret, 0, sizeof(*ret));
  ret->now_us = now_us;
  int r = bw_store_regression_get(store, id, &ret->reg, errs);
  if (r < 0)
    return r;
  r = bw_store_target_get(store, ret->reg.target_id, &row, errs);
  if (r < 0) {
    bw_regression_reset(&ret->reg);
    return r;
  }
  ret->host = bw_xstrdup(host ? host : "");
  copy_row(&ret->target, &row);
  bw_target_row_reset(&row);
  struct bw_detect det;
  detect_of(cfg, ret->target.test, &det);
  /* The runs around the opening, from the detection window before it to as long after. */
  int64_t span = det.window_us > 0 ? det.window_us : 7 * DAY_US;
  r = bw_store_series(store, ret->target.id, bw_detect_metric(ret->target.kind)->name,
                      ret->reg.opened_us - span, ret->reg.opened_us + span, &pts, &n, errs);
  if (r < 0)
    goto out;
  pick_around(&ret->reg, pts, n, &ret->around, &ret->n_around);
  /* The chart: the runs around, and the regression to its end (or now). */
  int64_t from = ret->n_around ? ret->around[0].started_us : ret->reg.opened_us - DAY_US;
  int64_t until = ret->reg.closed_us != BW_NONE ? ret->reg.closed_us : now_us;
  if (ret->n_around && ret->around[ret->n_around - 1].started_us > until)
    until = ret->around[ret->n_around - 1].started_us;
  int64_t pad = (until - from) / 20 + 1;
  r = collect_one(store, cfg, &ret->target, now_us, from - pad, until + pad, errs);
  if (r == 0)
    r = diagnose(store, ret, errs);
out:
  free(pts);
  if (r < 0)
    bw_status_regression_reset(ret);
  return r;
}

void bw_status_regression_reset(struct bw_status_regression *r) {
  if (!r)
    return;
  free(r->host);
  bw_regression_reset(&r->reg);
  bw_status_target_reset(&r->target);
  free(r->around);
  bw_diagnose_free(r->diagnosis);
  bw_diagnose_free(r->odd);
  memset(r, 0, sizeof(*r));
}

int bw_status_page(struct bw_store *store, const struct bw_config *cfg, const char *host,
                   const char *path, int64_t now_us, char **ret_html, struct bw_errs *errs) {
  int64_t id;
  int r = 0;
  switch (bw_status_route(path, &id)) {
  case BW_STATUS_PAGE_NONE:
    *ret_html = bw_status_html_error(404, "There is no such page: the status page is /, "
                                          "/target/ID and /regression/ID; metrics are /metrics.");
    return 404;
  case BW_STATUS_PAGE_INDEX: {
    struct bw_status s;
    r = bw_status_collect(store, cfg, host, now_us, BW_STATUS_PERIOD_US, &s, errs);
    if (r == 0) {
      *ret_html = bw_status_html(&s);
      bw_status_free(&s);
    }
    break;
  }
  case BW_STATUS_PAGE_TARGET: {
    struct bw_status_target t;
    r = bw_status_collect_target(store, cfg, id, now_us, BW_STATUS_TARGET_PERIOD_US, &t, errs);
    if (r == 0) {
      *ret_html = bw_status_html_target(host, now_us, &t);
      bw_status_target_reset(&t);
    }
    break;
  }
  case BW_STATUS_PAGE_REGRESSION: {
    struct bw_status_regression g;
    r = bw_status_collect_regression(store, cfg, host, id, now_us, &g, errs);
    if (r == 0) {
      *ret_html = bw_status_html_regression(&g);
      bw_status_regression_reset(&g);
    }
    break;
  }
  }
  if (r == -ENOENT) {
    *ret_html = bw_status_html_error(404, "There is no such target or regression in the "
                                          "database.");
    return 404;
  }
  if (r < 0) {
    *ret_html = bw_status_html_error(500, "The database could not be read; the daemon's log "
                                          "says why.");
    return 500;
  }
  return 200;
}
