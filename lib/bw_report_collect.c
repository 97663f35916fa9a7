/* Reading the nightly report's content from the store (bw_report.h). */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bw_report.h"

#include "bw_diagnose.h"
#include "bw_judge.h"
#include "bw_stats.h"
#include "bw_util.h"

#define YEAR_US (366 * 86400 * INT64_C(1000000))

static double median_of(const double *v, size_t n) {
  if (n == 0)
    return (double)NAN;
  double *s = bw_stats_sort_copy(v, n);
  double m = bw_stats_median(s, n);
  free(s);
  return m;
}

/* A figure's values over [from, until) (good runs only); *last gets the newest, NAN if none. */
static int figure_values(struct bw_store *store, int64_t id, const char *figure, int64_t from,
                         int64_t until, double **ret, size_t *n, double *last,
                         struct bw_errs *errs) {
  struct bw_point *pts = NULL;
  *ret = NULL;
  *n = 0;
  *last = (double)NAN;
  int r = bw_store_window(store, id, figure, from, until, 0, &pts, n, errs);
  if (r < 0)
    return r;
  *ret = bw_xmalloc((*n + 1) * sizeof(**ret));
  for (size_t i = 0; i < *n; i++)
    (*ret)[i] = pts[i].value;
  if (*n)
    *last = pts[*n - 1].value;
  free(pts);
  return 0;
}

/* The newest value of a figure in the period, and its median over the window before it. */
static int now_and_usual(struct bw_store *store, int64_t id, const char *figure, int64_t from,
                         int64_t until, int64_t window_us, double *now, double *usual,
                         struct bw_errs *errs) {
  struct bw_point *pts = NULL;
  double *v, last;
  size_t n = 0;
  int r = bw_store_window(store, id, figure, from, until, 1, &pts, &n, errs);
  if (r < 0)
    return r;
  *now = n ? pts[0].value : (double)NAN;
  free(pts);
  r = figure_values(store, id, figure, from - window_us, from, &v, &n, &last, errs);
  if (r < 0)
    return r;
  *usual = median_of(v, n);
  free(v);
  return 0;
}

/* The certificate's notAfter as the period's latest good run read it; counts it when it warns. */
static int latest_cert(struct bw_store *store, int64_t id, int64_t from, int64_t until,
                       struct bw_nightly *ret, struct bw_nightly_target *t, struct bw_errs *errs) {
  struct bw_point *pts = NULL;
  size_t n = 0;
  int r = bw_store_window(store, id, "cert_expires_us", from, until, 1, &pts, &n, errs);
  if (r < 0)
    return r;
  if (n && !isnan(pts[0].value)) {
    t->cert_expires_us = pts[0].value;
    if (t->cert_expires_us - (double)until < (double)BW_REPORT_CERT_WARN_US)
      ret->certs_expiring++;
  }
  free(pts);
  return 0;
}

/* The median of a figure's good values over [from, until), every ok run counted (unlike a
 * baseline window, which leaves out the runs judged bad): NAN without one. */
static int series_median(struct bw_store *store, int64_t id, const char *figure, int64_t from,
                         int64_t until, double *ret, struct bw_errs *errs) {
  struct bw_point *pts = NULL;
  size_t n = 0, good = 0;
  int r = bw_store_series(store, id, figure, from, until, &pts, &n, errs);
  if (r < 0)
    return r;
  double *v = bw_xmalloc((n + 1) * sizeof(*v));
  for (size_t i = 0; i < n; i++)
    if (!isnan(pts[i].value))
      v[good++] = pts[i].value;
  *ret = median_of(v, good);
  free(v);
  free(pts);
  return 0;
}

/* The target's regressions, of any figure, that overlap [from, until), as chart spans. */
static void chart_spans(const struct bw_regression *all, size_t n, const struct bw_target_row *row,
                        int64_t from, int64_t until, struct bw_nightly_target *t) {
  size_t cap = 0;
  for (size_t i = 0; i < n; i++) {
    const struct bw_regression *g = &all[i];
    if (strcmp(g->test, row->test) != 0 || strcmp(g->backend, row->backend) != 0)
      continue;
    int64_t end = g->closed_us == BW_NONE ? until : g->closed_us;
    if (g->opened_us >= until || end < from)
      continue;
    bw_xgrow(&t->spans, &cap, t->n_spans + 1, sizeof(*t->spans));
    t->spans[t->n_spans++] = (struct bw_chart_span){
        .from_us = g->opened_us,
        .until_us = end,
        .accepted = g->acked_us != BW_NONE,
    };
  }
}

static bool same_target(const struct bw_regression *g, const struct bw_target_row *t) {
  return strcmp(g->test, t->test) == 0 && strcmp(g->backend, t->backend) == 0;
}

/* Copies the regressions that pass keep() into a new list. */
static void pick(const struct bw_regression *all, size_t n, int64_t from, int64_t until, int which,
                 struct bw_regression **ret, size_t *ret_n) {
  *ret = NULL;
  *ret_n = 0;
  size_t cap = 0;
  for (size_t i = 0; i < n; i++) {
    const struct bw_regression *g = &all[i];
    bool keep = which == 0 ? g->opened_us >= from && g->opened_us < until
                : which == 1
                    ? g->closed_us == BW_NONE
                    : g->closed_us != BW_NONE && g->closed_us >= from && g->closed_us < until;
    if (!keep)
      continue;
    bw_xgrow(ret, &cap, *ret_n + 1, sizeof(**ret));
    struct bw_regression *c = &(*ret)[(*ret_n)++];
    *c = *g;
    c->test = bw_xstrdup(g->test);
    c->backend = bw_xstrdup(g->backend);
    c->metric = bw_xstrdup(g->metric);
  }
}

/* The run id as stored, samples and all, into a new *ret (left NULL on error). */
static int latest_run(struct bw_store *store, int64_t id, struct bw_run **ret,
                      struct bw_errs *errs) {
  struct bw_run *run = bw_xcalloc(1, sizeof(*run));
  int r = bw_store_get_run(store, id, run, errs);
  if (r < 0) {
    bw_run_reset(run);
    free(run);
    return r;
  }
  *ret = run;
  return 0;
}

/*
 * Each download target's latest run diagnosed against its test's other backends, and those
 * backends compared to find the odd one out. latest[i] belongs to r->targets[i] (NULL: none).
 */
static void diagnose_all(struct bw_nightly *r, struct bw_run **latest) {
  const struct bw_run **peers = bw_xcalloc(r->n_targets + 1, sizeof(*peers));
  for (size_t i = 0; i < r->n_targets; i++) {
    if (!latest[i])
      continue;
    size_t n = 0;
    for (size_t k = 0; k < r->n_targets; k++) {
      if (!latest[k] || strcmp(r->targets[k].test, r->targets[i].test) != 0)
        continue;
      peers[n++] = latest[k];
    }
    char *why = bw_diagnose_text(latest[i], peers, n);
    if (*why)
      r->targets[i].diagnosis = why;
    else
      free(why);
    char **odd = bw_diagnose_odd(peers, n);
    /* The sentences name their backend; keep the one about this target. */
    for (size_t k = 0; odd[k]; k++) {
      const char *b = latest[i]->backend ? latest[i]->backend : "";
      if (b[0] && strncmp(odd[k], b, strlen(b)) == 0 && odd[k][strlen(b)] == ' ')
        r->targets[i].odd = bw_xstrdup(odd[k]);
    }
    bw_diagnose_free(odd);
  }
  free(peers);
}

/*
 * The change of environment behind an open regression, if any: the environment in effect when it
 * opened began within the window before that (a good period's runs had another), and differs
 * from the one before it in a fact known on both sides.
 */
static int env_change(struct bw_store *store, int64_t target_id, int64_t opened_us,
                      int64_t window_us, struct bw_nightly_target *t, struct bw_errs *errs) {
  struct bw_env bad, good;
  int64_t bad_since, good_since;
  int r = bw_store_env_at(store, target_id, opened_us, &bad, &bad_since, errs);
  if (r == 0 && bad_since > opened_us - window_us)
    r = bw_store_env_at(store, target_id, bad_since - 1, &good, &good_since, errs);
  else if (r == 0)
    return 0;
  if (r == -ENOENT)
    return 0;
  if (r < 0)
    return r;
  t->env_change = bw_env_diff(&good, &bad);
  t->env_change_us = bad_since;
  return 0;
}

#define DAY_US (86400 * INT64_C(1000000))

/* What the report says of one target's period, from its runs or from its days. */
struct period {
  size_t runs, failures;
  double *values; /* the chart's points, oldest first */
  size_t n_values;
  double latest;    /* the newest good run's figure, NAN without one */
  bool last_failed; /* the newest run failed */
  int64_t last_id;  /* the newest good or failed run, 0 without one */
  double stall_us;  /* downloads: the stall time summed (0 when none was measured) */
};

/* Adds runs in [from, until) to p: counted, and their good values as points (or as one point,
 * their median, when as_one). */
static int add_runs(struct bw_store *store, int64_t id, const struct bw_metric *metric,
                    enum bw_kind kind, int64_t from, int64_t until, bool as_one, struct period *p,
                    struct bw_errs *errs) {
  struct bw_point *pts = NULL;
  size_t n = 0, first = p->n_values;
  if (from >= until)
    return 0;
  int r = bw_store_series(store, id, metric->name, from, until, &pts, &n, errs);
  if (r < 0)
    return r;
  p->values = bw_xrealloc(p->values, (p->n_values + n + 1) * sizeof(*p->values));
  for (size_t k = 0; k < n; k++) {
    if (isnan(pts[k].value)) {
      p->failures++;
    } else {
      p->values[p->n_values++] = pts[k].value;
      p->latest = pts[k].value;
    }
  }
  p->runs += n;
  if (n > 0) {
    p->last_failed = isnan(pts[n - 1].value);
    p->last_id = pts[n - 1].run_id;
  }
  free(pts);
  if (as_one && p->n_values > first) {
    double m = median_of(p->values + first, p->n_values - first);
    p->n_values = first;
    p->values[p->n_values++] = m;
  }
  if (kind == BW_KIND_DOWNLOAD) {
    double *st, last;
    size_t ns;
    r = figure_values(store, id, "stall_us", from, until, &st, &ns, &last, errs);
    if (r < 0)
      return r;
    for (size_t k = 0; k < ns; k++)
      p->stall_us += st[k];
    free(st);
  }
  return 0;
}

/*
 * A target's period. Up to two days it is read run by run; a longer one (a report --since 30d)
 * reads its whole UTC days from run_day, one point a day (the day's median), and only the partial
 * days at its ends run by run, one point each: the counts and the stall time stay exact, the
 * chart has a point a day, and the median is the median of those points. The newest run is
 * always read: it is the latest value and says whether the target fails now.
 */
static int read_period(struct bw_store *store, int64_t id, const struct bw_metric *metric,
                       enum bw_kind kind, int64_t from, int64_t until, struct period *p,
                       struct bw_errs *errs) {
  memset(p, 0, sizeof(*p));
  p->latest = (double)NAN;
  if (until - from <= 2 * DAY_US)
    return add_runs(store, id, metric, kind, from, until, false, p, errs);
  int64_t days_from = (from + DAY_US - 1) / DAY_US * DAY_US; /* both > 0: no rounding doubt */
  int64_t days_until = (until - 1) / DAY_US * DAY_US;        /* the last day, partial or not */
  struct bw_day *days = NULL;
  size_t nd = 0;
  int r = add_runs(store, id, metric, kind, from, days_from, true, p, errs);
  if (r == 0)
    r = bw_store_days(store, id, metric->name, days_from, days_until, &days, &nd, errs);
  if (r < 0)
    return r;
  p->values = bw_xrealloc(p->values, (p->n_values + nd + 2) * sizeof(*p->values));
  for (size_t k = 0; k < nd; k++) {
    p->runs += days[k].runs;
    p->failures += days[k].failed;
    if (!isnan(days[k].median))
      p->values[p->n_values++] = days[k].median;
    if (!isnan(days[k].stall_us))
      p->stall_us += days[k].stall_us;
  }
  int64_t last_day = nd ? days[nd - 1].start_us : 0;
  free(days);
  struct period tail;
  memset(&tail, 0, sizeof(tail));
  tail.latest = (double)NAN;
  r = add_runs(store, id, metric, kind, days_until, until, true, &tail, errs);
  if (r == 0 && tail.runs > 0) {
    p->runs += tail.runs;
    p->failures += tail.failures;
    p->stall_us += tail.stall_us;
    if (tail.n_values)
      p->values[p->n_values++] = tail.values[0];
    p->last_failed = tail.last_failed;
    p->last_id = tail.last_id;
  } else if (r == 0 && nd > 0) {
    /* Nothing ran on the last day: the newest run is on the newest day with runs (read as a
     * page's, for its stall time is counted already). */
    struct period last;
    memset(&last, 0, sizeof(last));
    r = add_runs(store, id, metric, BW_KIND_PAGE, last_day, last_day + DAY_US, false, &last, errs);
    p->last_failed = last.last_failed;
    p->last_id = last.last_id;
    free(last.values);
  }
  free(tail.values);
  if (r < 0)
    return r;
  /* The newest good value of the whole period, and its run. */
  struct bw_point *pts = NULL;
  size_t n = 0;
  r = bw_store_window(store, id, metric->name, from, until, 1, &pts, &n, errs);
  if (r < 0)
    return r;
  p->latest = n ? pts[0].value : (double)NAN;
  if (n && !p->last_id)
    p->last_id = pts[0].run_id;
  free(pts);
  return 0;
}

int bw_report_collect(struct bw_store *store, const struct bw_config *cfg, const char *host,
                      int64_t from_us, int64_t until_us, struct bw_nightly *ret,
                      struct bw_errs *errs) {
  struct bw_target_row *rows = NULL;
  struct bw_regression *all = NULL;
  struct bw_run **latest = NULL; /* per reported target: its latest download, or NULL */
  size_t n_rows = 0, n_all = 0;
  memset(ret, 0, sizeof(*ret));
  ret->host = bw_xstrdup(host);
  ret->from_us = from_us;
  ret->until_us = until_us;
  ret->chart_from_us =
      until_us - from_us > BW_REPORT_CHART_SPAN_US ? from_us : until_us - BW_REPORT_CHART_SPAN_US;
  if (cfg && cfg->report.enabled && cfg->report.url) {
    ret->url = bw_xstrdup(cfg->report.url);
    for (size_t k = strlen(ret->url); k > 0 && ret->url[k - 1] == '/'; k--)
      ret->url[k - 1] = '\0';
  }
  int r = bw_store_targets(store, &rows, &n_rows, errs);
  if (r == 0)
    r = bw_store_regressions(store, from_us - YEAR_US, false, &all, &n_all, errs);
  if (r < 0)
    goto out;
  pick(all, n_all, from_us, until_us, 0, &ret->opened, &ret->n_opened);
  pick(all, n_all, from_us, until_us, 1, &ret->open, &ret->n_open);
  pick(all, n_all, from_us, until_us, 2, &ret->closed, &ret->n_closed);
  ret->targets = bw_xcalloc(n_rows + 1, sizeof(*ret->targets));
  latest = bw_xcalloc(n_rows + 1, sizeof(*latest));
  for (size_t i = 0; i < n_rows && r == 0; i++) {
    const struct bw_target_row *row = &rows[i];
    const struct bw_test *test = cfg ? bw_config_find_test(cfg, row->test) : NULL;
    struct bw_detect det;
    if (test)
      det = test->detect;
    else if (cfg)
      det = cfg->detect;
    else
      bw_config_default_detect(&det);
    struct bw_nightly_target *t = &ret->targets[ret->n_targets];
    struct period p;
    memset(t, 0, sizeof(*t));
    t->metric = bw_detect_metric(row->kind);
    t->cert_expires_us = (double)NAN;
    r = read_period(store, row->id, t->metric, row->kind, from_us, until_us, &p, errs);
    if (r < 0) {
      free(p.values);
      break;
    }
    for (size_t k = 0; k < ret->n_open; k++)
      t->open = t->open || same_target(&ret->open[k], row);
    if (p.runs == 0 && !t->open) {
      free(p.values);
      continue; /* nothing ran and nothing is wrong: not worth a line */
    }
    t->target_id = row->id;
    t->test = bw_xstrdup(row->test);
    t->backend = bw_xstrdup(row->backend);
    ret->n_targets++; /* counted now, so that an error below still frees it */
    t->runs = p.runs;
    t->failures = p.failures;
    t->values = p.values;
    t->n_values = p.n_values;
    t->last_failed = p.last_failed;
    ret->failing += t->last_failed;
    int64_t pts_last_id = p.last_id;
    t->median = median_of(t->values, t->n_values);
    /* The judge's own baseline and state at the end of the period, never one of our own. */
    struct bw_judge_view jv;
    r = bw_judge_state(store, &det, row->id, t->metric, until_us, &jv, errs);
    if (r < 0)
      break;
    t->open = t->open || jv.open || jv.avail_open;
    t->baseline = jv.reference;
    t->threshold =
        isnan(t->baseline) ? (double)NAN : bw_detect_threshold(&det, t->metric, t->baseline);
    t->ratio = t->median / t->baseline;
    chart_spans(all, n_all, row, ret->chart_from_us, until_us, t);
    r = bw_store_series(store, row->id, t->metric->name, ret->chart_from_us, until_us, &t->history,
                        &t->n_history, errs);
    if (r == 0)
      r = series_median(store, row->id, t->metric->name, from_us - BW_REPORT_WEEK_US,
                        until_us - BW_REPORT_WEEK_US, &t->week_before, errs);
    t->p90 = t->p99 = (double)NAN;
    /* the tail of the kinds that measure one (a page's requests, a connect test's connects) */
    const struct bw_metric *tail90 = bw_detect_metric_find("p90_us");
    bool tails = tail90 && (tail90->kinds & (1u << row->kind));
    if (r == 0 && tails)
      r = series_median(store, row->id, "p90_us", from_us, until_us, &t->p90, errs);
    if (r == 0 && tails)
      r = series_median(store, row->id, "p99_us", from_us, until_us, &t->p99, errs);
    if (r < 0)
      break;
    t->latest = p.latest;
    t->latest_ratio = t->latest / t->baseline;
    t->open_since_us = BW_NONE;
    if (jv.open) {
      t->open_what = t->metric->label;
      t->open_since_us = jv.opened_us;
    } else if (jv.avail_open) {
      t->open_what = "availability";
      t->open_since_us = jv.avail_opened_us;
    }
    if (t->open_since_us != BW_NONE)
      r = env_change(store, row->id, t->open_since_us, det.window_us, t, errs);
    if (r == 0)
      r = bw_store_error_counts(store, row->id, from_us, until_us, &t->errors, &t->n_errors, errs);
    if (r == 0)
      r = latest_cert(store, row->id, from_us, until_us, ret, t, errs);
    if (r == 0 && row->kind == BW_KIND_DOWNLOAD) {
      t->stall_s = p.stall_us / 1e6;
      r = now_and_usual(store, row->id, "tcp_rcv_mss", from_us, until_us, det.window_us, &t->mss,
                        &t->mss_usual, errs);
      if (r == 0)
        r = now_and_usual(store, row->id, "tcp_rcv_ooopack", from_us, until_us, det.window_us,
                          &t->ooo, &t->ooo_usual, errs);
      if (r == 0)
        r = now_and_usual(store, row->id, "tcp_rcv_rtt_max_us", from_us, until_us, det.window_us,
                          &t->rtt_ms, &t->rtt_ms_usual, errs);
      t->rtt_ms /= 1e3;
      t->rtt_ms_usual /= 1e3;
      if (r == 0 && pts_last_id)
        r = latest_run(store, pts_last_id, &latest[ret->n_targets - 1], errs);
      if (r == 0)
        r = now_and_usual(store, row->id, "stream_min_bps", from_us, until_us, det.window_us,
                          &t->stream_min_bps, &t->stream_min_usual, errs);
      double streams_usual;
      if (r == 0)
        r = now_and_usual(store, row->id, "streams", from_us, until_us, det.window_us, &t->streams,
                          &streams_usual, errs);
      t->rps = t->rps_usual = t->transfer_bps = t->transfer_usual = (double)NAN;
    } else {
      t->mss = t->mss_usual = t->ooo = t->ooo_usual = (double)NAN;
      t->rtt_ms = t->rtt_ms_usual = (double)NAN;
      t->streams = t->stream_min_bps = t->stream_min_usual = (double)NAN;
      if (r == 0)
        r = now_and_usual(store, row->id, "rps", from_us, until_us, det.window_us, &t->rps,
                          &t->rps_usual, errs);
      if (r == 0)
        r = now_and_usual(store, row->id, "transfer_bps", from_us, until_us, det.window_us,
                          &t->transfer_bps, &t->transfer_usual, errs);
      /* A sweep's step: its latest run is a point of the sweep's curve. */
      struct bw_run *step = NULL;
      if (r == 0 && pts_last_id && bw_sweep_split(row->test, NULL, NULL, NULL))
        r = latest_run(store, pts_last_id, &step, errs);
      if (step)
        (void)bw_sweep_curves_add(&ret->sweeps, &ret->n_sweeps, row->test, row->backend, step,
                                  row->id,
                                  t->open          ? "regressed"
                                  : t->last_failed ? "failing"
                                                   : "normal");
      if (step) {
        bw_run_reset(step);
        free(step);
      }
    }
  }
  if (r == 0)
    diagnose_all(ret, latest);
out:
  for (size_t i = 0; latest && i < n_rows; i++)
    if (latest[i]) {
      bw_run_reset(latest[i]);
      free(latest[i]);
    }
  free(latest);
  bw_target_rows_free(rows, n_rows);
  bw_regressions_free(all, n_all);
  if (r < 0)
    bw_report_free(ret);
  return r;
}

void bw_report_free(struct bw_nightly *r) {
  if (!r)
    return;
  for (size_t i = 0; i < r->n_targets; i++) {
    free(r->targets[i].test);
    free(r->targets[i].backend);
    free(r->targets[i].values);
    free(r->targets[i].history);
    free(r->targets[i].spans);
    free(r->targets[i].diagnosis);
    free(r->targets[i].env_change);
    free(r->targets[i].odd);
    bw_error_counts_free(r->targets[i].errors, r->targets[i].n_errors);
  }
  free(r->targets);
  bw_sweep_curves_free(r->sweeps, r->n_sweeps);
  bw_regressions_free(r->opened, r->n_opened);
  bw_regressions_free(r->open, r->n_open);
  bw_regressions_free(r->closed, r->n_closed);
  free(r->host);
  free(r->url);
  memset(r, 0, sizeof(*r));
}
