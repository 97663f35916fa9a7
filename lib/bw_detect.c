#include "bw_detect.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bw_kind.h"
#include "bw_stats.h"
#include "bw_util.h"

#define PAGE (1u << BW_KIND_PAGE)
#define DOWNLOAD (1u << BW_KIND_DOWNLOAD)
#define CONNECT (1u << BW_KIND_CONNECT)

/* Row order is the bit order of bw_detect.figures: append, never reorder. */
const struct bw_metric bw_metrics[] = {
    {"p50_us", PAGE | CONNECT, true, "median", 1e3, "ms", 1},
    {"rate_bps", DOWNLOAD, false, "MB/s", 1e6, "MB/s", 1},
    {"p90_us", PAGE | CONNECT, true, "p90", 1e3, "ms", 1},
    {"p99_us", PAGE | CONNECT, true, "p99", 1e3, "ms", 1},
    {"ttfb_p50_us", PAGE, true, "median TTFB", 1e3, "ms", 1},
    {"ttfb_us", DOWNLOAD, true, "TTFB", 1e3, "ms", 1},
    {"stall_us", DOWNLOAD, true, "stall", 1e6, "s", 1e5},
    {"rps", PAGE, false, "requests/s", 1, "/s", 1e-3},
    /* failed requests of a run: a test's request count is fixed, so this is its failure rate */
    {"failed", PAGE, true, "failed requests", 1, "", 1},
    /* ab's transfer rate: all bytes of a page run over its wall time */
    {"transfer_bps", PAGE, false, "transfer MB/s", 1e6, "MB/s", 1},
    /* a download with streams: its slowest stream (rate_bps is the aggregate) */
    {"stream_min_bps", DOWNLOAD, false, "slowest stream MB/s", 1e6, "MB/s", 1},
    /* a connect test: its median TCP connect (also p50_us) and TLS handshake */
    {"connect_p50_us", CONNECT, true, "median connect", 1e3, "ms", 1},
    {"tls_p50_us", CONNECT, true, "median TLS handshake", 1e3, "ms", 1},
    {NULL, 0, false, NULL, 0, NULL, 0},
};

const struct bw_metric *bw_detect_metric(enum bw_kind kind) {
  const struct bw_kind_ops *k = bw_kind_ops(kind);
  const struct bw_metric *m = k ? bw_detect_metric_find(k->headline) : NULL;
  return m ? m : &bw_metrics[0];
}

const struct bw_metric *bw_detect_metric_find(const char *name) {
  for (const struct bw_metric *m = bw_metrics; m->name; m++)
    if (strcmp(m->name, name) == 0)
      return m;
  return NULL;
}

uint32_t bw_detect_figures(const struct bw_detect *cfg, enum bw_kind kind) {
  if (cfg->figures)
    return cfg->figures;
  uint32_t mask = (UINT32_C(1) << (bw_detect_metric(kind) - bw_metrics)) | BW_FIGURE_AVAILABILITY;
  const struct bw_kind_ops *k = bw_kind_ops(kind);
  for (size_t i = 0; k && k->judged[i]; i++) {
    const struct bw_metric *m = bw_detect_metric_find(k->judged[i]);
    if (m)
      mask |= UINT32_C(1) << (m - bw_metrics);
  }
  return mask;
}

/* ---- the window ---- */

/* The first index whose value is >= x (lower) or > x (upper). */
static size_t bound(const double *v, size_t n, double x, bool upper) {
  size_t lo = 0, hi = n;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (upper ? v[mid] <= x : v[mid] < x)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo;
}

void bw_window_add(struct bw_window *w, double value) {
  bw_xgrow(&w->v, &w->cap, w->n + 1, sizeof(*w->v));
  size_t at = bound(w->v, w->n, value, true);
  memmove(w->v + at + 1, w->v + at, (w->n - at) * sizeof(*w->v));
  w->v[at] = value;
  w->n++;
}

void bw_window_remove(struct bw_window *w, double value) {
  size_t at = bound(w->v, w->n, value, false);
  if (at >= w->n || w->v[at] != value)
    return;
  memmove(w->v + at, w->v + at + 1, (w->n - at - 1) * sizeof(*w->v));
  w->n--;
}

void bw_window_set(struct bw_window *w, const double *values, size_t n) {
  bw_xgrow(&w->v, &w->cap, n + 1, sizeof(*w->v));
  if (n)
    memcpy(w->v, values, n * sizeof(*w->v));
  w->n = n;
  bw_stats_sort(w->v, n);
}

void bw_window_free(struct bw_window *w) {
  free(w->v);
  memset(w, 0, sizeof(*w));
}

/* ---- the baseline ---- */

/* The absolute margin a change must also exceed, in the metric's own unit. */
static double margin_of(const struct bw_detect *cfg, const struct bw_metric *m) {
  if (strcmp(m->name, "stall_us") == 0)
    return 1e6; /* a second of stall */
  if (strcmp(m->name, "rate_bps") == 0 || strcmp(m->name, "transfer_bps") == 0 ||
      strcmp(m->name, "stream_min_bps") == 0)
    return (double)cfg->throughput_margin;
  if (strcmp(m->name, "rps") == 0)
    return 0;
  if (strcmp(m->name, "failed") == 0)
    return 1; /* one failed request more than usual is not yet a change */
  return (double)cfg->latency_margin_us;
}

double bw_detect_threshold(const struct bw_detect *cfg, const struct bw_metric *m, double ref) {
  double margin = margin_of(cfg, m);
  if (m->higher_is_worse)
    return fmax(ref * cfg->latency_factor, ref + margin);
  return fmin(ref * cfg->throughput_factor, ref - margin);
}

static bool is_bad(const struct bw_detect *cfg, const struct bw_metric *m, double ref,
                   double value) {
  double t = bw_detect_threshold(cfg, m, ref);
  return m->higher_is_worse ? value > t : value < t;
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

/*
 * bw_stats_shorth_median(), in O(SHORTH_STEPS) for long windows (a minutely test's week is 10,080
 * runs): the shortest half is sought among every stride-th start, then exactly around the best.
 */
#define SHORTH_STEPS 512
static double shorth_median(const double *v, size_t n) {
  size_t h = (n + 1) / 2, stride = n / SHORTH_STEPS + 1, best = 0;
  if (stride == 1)
    return bw_stats_shorth_median(v, n);
  double width = INFINITY;
  for (size_t i = 0; i + h <= n; i += stride)
    if (v[i + h - 1] - v[i] < width) {
      width = v[i + h - 1] - v[i];
      best = i;
    }
  size_t lo = best > stride ? best - stride : 0, hi = best + stride;
  for (size_t i = lo; i <= hi && i + h <= n; i++)
    if (v[i + h - 1] - v[i] < width) {
      width = v[i + h - 1] - v[i];
      best = i;
    }
  return bw_stats_median(v + best, h);
}

/* The normal quantile of 0.9: a spread is how far the 90th percentile lies, over this. */
#define Z90 1.2815515655446004
/* A spread below 2% would make every flicker of a very steady target look like evidence. */
#define MIN_SPREAD 0.02

void bw_baseline_compute(const struct bw_metric *m,
                         const struct bw_window *w, struct bw_baseline *ret) {
  memset(ret, 0, sizeof(*ret));
  ret->n = w->n;
  ret->mode = (double)NAN;
  ret->spread = (double)NAN;
  if (w->n == 0)
    return;
  ret->mode = shorth_median(w->v, w->n);
  ret->bad = w->bad;
  ret->pairs = w->pairs;
  /*
   * The spread is measured on the worse side only, from the mode to the 90th percentile of the
   * worse direction, on a log scale: a page that is sometimes slow, or a node whose rate has two
   * levels, shows it here, so its own usual slowness is not taken as evidence; a spike (2% of
   * runs) does not move it.
   */
  double q = bw_stats_percentile(w->v, w->n, m->higher_is_worse ? 90 : 10);
  double lm = log(fmax(ret->mode, m->floor)), lq = log(fmax(q, m->floor));
  ret->spread = fmax((m->higher_is_worse ? lq - lm : lm - lq) / Z90, MIN_SPREAD);
}

/* ---- significance ---- */

static double threshold(double budget_runs);

void bw_detect_budget(const struct bw_detect *cfg, int64_t every_us, struct bw_budget *ret) {
  double runs = every_us > 0 ? (double)cfg->false_alarm_us / (double)every_us : 0;
  ret->runs = fmax(runs, 100);
  ret->threshold = threshold(ret->runs);
}

/*
 * Siegmund's approximation of a one-sided CUSUM's average run length under no change, for
 * standardised steps with reference value k: ARL0(h) = (e^(2k(h+1.166)) - 2k(h+1.166) - 1)/2k^2.
 * The threshold is the h whose ARL0 is the budget (bisection: ARL0 grows with h).
 */
static double threshold(double budget_runs) {
  double k = BW_DETECT_SLACK, lo = 0, hi = 60;
  for (int i = 0; i < 80; i++) {
    double h = (lo + hi) / 2, a = 2 * k * (h + 1.166);
    double arl = (exp(a) - a - 1) / (2 * k * k);
    if (arl < budget_runs)
      lo = h;
    else
      hi = h;
  }
  return (lo + hi) / 2;
}

/*
 * Bad runs come alone (noise, spikes) or in spells (a node that dips for a few hours a day). The
 * window says which: p, the share of its runs that were bad, and q, the share of its bad runs
 * that came right after a bad run. The larger of the two is taken as the chance that any run of
 * an episode is bad by chance alone: for lone bad runs that is p, for spells the chance that a
 * spell goes on. Both carry half a run of prior over at least min_runs runs, so a young or
 * spotless window is not taken as proof that bad runs never happen, and a window with a few
 * lone spikes does not prove that spikes never come in twos.
 */
double bw_detect_bad_rate(const struct bw_detect *cfg, size_t n, size_t bad, size_t pairs) {
  double runs = fmax((double)n, (double)cfg->min_runs), z = 1.6448536269514722, z2 = z * z;
  double ph = (double)bad / runs;
  /* Wilson's upper 95% bound: what the window cannot rule out, not what it happened to show */
  double p = (ph + z2 / (2 * runs) + z * sqrt(ph * (1 - ph) / runs + z2 / (4 * runs * runs))) /
             (1 + z2 / runs);
  return fmin(fmax(p, ((double)pairs + p) / ((double)bad + 1)), 1);
}

/*
 * The fewest bad runs among `runs` that chance, bad with probability rate each, gives less than
 * once in ten budgets (the budget is "at most"; the rates are estimates): the binomial tail.
 * Never below open_after; runs + 1 when no count will do.
 */
int64_t bw_detect_need(const struct bw_detect *cfg, int64_t runs, double rate,
                       double budget_runs) {
  double alpha = 1 / budget_runs, tail = 0;
  if (runs <= 0 || rate >= 1)
    return runs + 1;
  if (runs > 2000)
    runs = 2000; /* an episode this long is judged on its last 2000 runs' worth of chance */
  /* P(X >= b) for b = runs down to 0, summing terms C(runs, j) rate^j (1-rate)^(runs-j) */
  double lr = log(rate), lq = log1p(-rate);
  for (int64_t b = runs; b >= 0; b--) {
    double term = exp(lgamma((double)runs + 1) - lgamma((double)b + 1) -
                      lgamma((double)(runs - b) + 1) + (double)b * lr + (double)(runs - b) * lq);
    if (tail + term > alpha) {
      int64_t need = b + 1;
      return need > cfg->open_after ? need : cfg->open_after;
    }
    tail += term;
  }
  return cfg->open_after;
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* Whether the median of the newest open_after runs (recent, then value) is bad against ref. */
static bool recent_bad(const struct bw_detect *cfg, const struct bw_metric *m, double ref,
                       const double *recent, size_t n_recent, double value) {
  size_t want = (size_t)cfg->open_after, k = 0;
  double *v = bw_xmalloc((want + 1) * sizeof(*v));
  size_t from = n_recent + 1 > want ? n_recent + 1 - want : 0;
  for (size_t i = from; i < n_recent; i++)
    v[k++] = recent[i];
  v[k++] = value;
  qsort(v, k, sizeof(*v), cmp_double);
  double med = k % 2 ? v[k / 2] : (v[k / 2 - 1] + v[k / 2]) / 2;
  free(v);
  return is_bad(cfg, m, ref, med);
}

/*
 * The good runs in a row that close a regression: close_after, or more when the regression's own
 * runs often look back to normal by chance (a wide target just past the factor), so that such a
 * streak would come by chance less than once in CLOSE_ALPHA. The rate is counted over the runs
 * before the current streak, with half a run of prior.
 */
#define CLOSE_ALPHA 0.001
static int64_t close_need(const struct bw_detect *cfg, const struct bw_detect_state *st) {
  double runs = (double)(st->episode_runs - st->good_streak);
  double r = ((double)(st->episode_bad - st->good_streak) + 0.5) / (runs + 1);
  double k = ceil(log(CLOSE_ALPHA) / log(r) - 1e-9);
  return k > (double)cfg->close_after ? (k > 1000 ? 1000 : (int64_t)k) : cfg->close_after;
}

void bw_detect_step(const struct bw_detect *cfg, const struct bw_metric *m,
                    const struct bw_budget *budget,
                    struct bw_detect_state *st, const struct bw_baseline *b, const double *recent,
                    size_t n_recent, double value, int64_t at_us, struct bw_verdict *ret) {
  memset(ret, 0, sizeof(*ret));
  ret->exclude_since_us = BW_NONE;
  ret->baseline = *b;
  ret->ratio = (double)NAN;
  ret->reference = (double)NAN;
  ret->threshold = budget->threshold;
  ret->cusum = st->cusum;
  if (isnan(value))
    return;
  /* A figure that is usually 0 (stall, failed requests) is judged against its floor. */
  double mode = isnan(b->mode) ? b->mode : fmax(b->mode, m->floor);
  if (!st->open && ((int64_t)b->n < cfg->min_runs || !(mode > 0))) {
    /* No verdict yet, but a run that looks bad still counts in the windows after it. */
    ret->bad = mode > 0 && is_bad(cfg, m, mode, value);
    st->cusum = 0;
    st->episode_runs = st->episode_bad = 0;
    ret->cusum = 0;
    return;
  }
  double ref = st->open ? st->open_baseline : mode;
  ret->judged = true;
  ret->reference = ref;
  ret->ratio = value / ref;
  ret->bad = is_bad(cfg, m, ref, value);

  if (st->open) {
    /* While open, the episode counts the runs since it opened and those back to normal. */
    st->episode_runs++;
    /*
     * Every run of an open regression stays out of later windows, the ones that look recovered
     * too: keeping only those would leave a window of the low side of the noise, narrower than
     * the target really is, and false openings after the close.
     */
    ret->exclude = true;
    if (is_recovered(cfg, m, ref, value)) {
      st->good_streak++;
      st->episode_bad++;
    } else {
      st->good_streak = 0;
    }
    if (st->good_streak >= close_need(cfg, st)) {
      memset(st, 0, sizeof(*st));
      ret->event = BW_EVENT_CLOSED;
    }
    ret->cusum = st->cusum;
    return;
  }

  double z = (log(fmax(value, m->floor)) - log(fmax(ref, m->floor))) / b->spread;
  if (!m->higher_is_worse)
    z = -z;
  z = fmin(fmax(z, -BW_DETECT_CLIP), BW_DETECT_CLIP);
  /*
   * What the episode needs is fixed from the window as it was when the episode began: its own
   * bad runs enter the window as they come and would otherwise raise the bar they must clear.
   */
  if (st->cusum == 0)
    st->rate = bw_detect_bad_rate(cfg, b->n, b->bad, b->pairs);
  st->cusum = fmax(0, st->cusum + z - BW_DETECT_SLACK);
  if (st->cusum > 0 && (st->episode_bad > 0 || ret->bad)) {
    /* the spell is counted from its first bad run */
    if (st->episode_bad == 0)
      st->episode_us = at_us;
    st->episode_runs++;
    st->episode_bad += ret->bad;
  } else if (st->cusum == 0) {
    st->episode_runs = st->episode_bad = 0;
  }
  ret->cusum = st->cusum;
  /* the binomial tail is the costly part: worked out only when the rest says open */
  if (ret->bad && st->cusum >= ret->threshold && st->episode_bad >= cfg->open_after)
    ret->need_bad = bw_detect_need(cfg, st->episode_runs, st->rate, budget->runs);
  if (ret->need_bad && st->episode_bad >= ret->need_bad &&
      recent_bad(cfg, m, ref, recent, n_recent, value)) {
    st->open = true;
    st->open_baseline = ref;
    st->good_streak = 0;
    st->episode_runs = st->episode_bad = 0;
    ret->exclude = true;
    ret->exclude_since_us = st->episode_us;
    ret->event = BW_EVENT_OPENED;
  }
}

enum bw_event bw_avail_step(const struct bw_detect *cfg, const struct bw_budget *budget,
                            struct bw_avail_state *st, bool failed, int64_t at_us,
                            size_t n_window, size_t fails, size_t fail_pairs, bool *ret_exclude) {
  *ret_exclude = false;
  if (failed) {
    st->ok_streak = 0;
    st->fail_streak++;
    if (st->open) {
      *ret_exclude = true;
      return BW_EVENT_NONE;
    }
    if (st->fail_streak == 1) {
      st->rate = bw_detect_bad_rate(cfg, n_window, fails, fail_pairs);
      st->streak_us = at_us;
    }
    if (st->fail_streak >= cfg->open_after &&
        st->fail_streak >= bw_detect_need(cfg, st->fail_streak, st->rate, budget->runs)) {
      st->open = true;
      *ret_exclude = true;
      return BW_EVENT_OPENED;
    }
    return BW_EVENT_NONE;
  }
  st->fail_streak = 0;
  st->ok_streak++;
  if (st->open && st->ok_streak >= cfg->close_after) {
    st->open = false;
    return BW_EVENT_CLOSED;
  }
  return BW_EVENT_NONE;
}

/* ---- replay ---- */

/*
 * A window in time order, oldest first: runs only ever leave from the front. flag: bad (figures)
 * or failed (availability); count and pairs follow it as runs come and go.
 */
struct fifo {
  size_t *idx;
  bool *flag; /* by run index */
  size_t head, tail;
  size_t count, pairs;
};

static void fifo_push(struct fifo *f, size_t i, bool flag) {
  f->flag[i] = flag;
  if (flag && f->tail > f->head && f->flag[f->idx[f->tail - 1]])
    f->pairs++;
  f->count += flag;
  f->idx[f->tail++] = i;
}

/* Takes the newest runs flagged and started at or after since_us back out (they were excluded
 * after the fact); the others stay, in order. Calls drop(arg, i) for each run taken out. */
static void fifo_drop_since(struct fifo *f, const struct bw_point *pts, int64_t since_us,
                            void (*drop)(void *arg, size_t i), void *arg) {
  size_t from = f->tail;
  while (from > f->head && pts[f->idx[from - 1]].started_us >= since_us)
    from--;
  size_t keep = from;
  for (size_t k = from; k < f->tail; k++) {
    size_t i = f->idx[k];
    if (f->flag[i]) {
      drop(arg, i);
      continue;
    }
    f->idx[keep++] = i;
  }
  f->tail = keep;
  /* recount what changed: the dropped runs were the flagged ones of the tail */
  f->count = f->pairs = 0;
  for (size_t k = f->head; k < f->tail; k++) {
    bool b = f->flag[f->idx[k]];
    f->count += b;
    f->pairs += b && k > f->head && f->flag[f->idx[k - 1]];
  }
}

struct drop_ctx {
  struct bw_window *win;
  const struct bw_point *pts;
};

static void drop_from_window(void *arg, size_t i) {
  struct drop_ctx *d = arg;
  if (d->win)
    bw_window_remove(d->win, d->pts[i].value);
}

static size_t fifo_pop(struct fifo *f) {
  size_t i = f->idx[f->head++];
  if (f->flag[i] && f->head < f->tail && f->flag[f->idx[f->head]])
    f->pairs--;
  f->count -= f->flag[i];
  return i;
}

void bw_detect_replay(const struct bw_detect *cfg, const struct bw_metric *m, int64_t every_us,
                      const struct bw_point *pts, size_t n, const int64_t *acks, size_t n_acks,
                      const int64_t *avail_acks, size_t n_avail_acks,
                      struct bw_replay_verdict *ret, struct bw_replay_end *ret_end) {
  struct bw_detect_state st;
  struct bw_avail_state av;
  struct bw_window win = {0};
  struct fifo perf = {bw_xcalloc(n + 1, sizeof(size_t)), bw_xcalloc(n + 1, sizeof(bool)), 0, 0,
                      0, 0};
  struct fifo runs = {bw_xcalloc(n + 1, sizeof(size_t)), bw_xcalloc(n + 1, sizeof(bool)), 0, 0,
                      0, 0};
  size_t ack = 0, avail_ack = 0;
  size_t want = (size_t)cfg->open_after;
  double *recent = bw_xmalloc((want + 1) * sizeof(*recent));
  struct bw_budget budget;
  int64_t since = INT64_MIN;

  bw_detect_budget(cfg, every_us, &budget);
  memset(&st, 0, sizeof(st));
  memset(&av, 0, sizeof(av));
  for (size_t i = 0; i < n; i++) {
    int64_t t = pts[i].started_us;
    struct bw_replay_verdict *r = &ret[i];
    memset(r, 0, sizeof(*r));
    while (ack < n_acks && acks[ack] <= t) {
      /* As the store's ack: the new normal starts here, with a fresh detector. */
      memset(&st, 0, sizeof(st));
      since = acks[ack++];
      r->acked = true;
    }
    while (avail_ack < n_avail_acks && avail_acks[avail_ack] <= t) {
      memset(&av, 0, sizeof(av));
      avail_ack++;
    }
    int64_t from = t - cfg->window_us > since ? t - cfg->window_us : since;
    while (perf.head < perf.tail && pts[perf.idx[perf.head]].started_us < from)
      bw_window_remove(&win, pts[fifo_pop(&perf)].value);
    while (runs.head < runs.tail && pts[runs.idx[runs.head]].started_us < t - cfg->window_us)
      (void)fifo_pop(&runs);

    bool failed = isnan(pts[i].value), avail_exclude;
    r->avail_event = bw_avail_step(cfg, &budget, &av, failed, t, runs.tail - runs.head,
                                   runs.count, runs.pairs, &avail_exclude);
    r->avail_exclude = avail_exclude;
    if (r->avail_event == BW_EVENT_OPENED) {
      r->avail_since_us = av.streak_us;
      struct drop_ctx d = {NULL, pts};
      fifo_drop_since(&runs, pts, av.streak_us, drop_from_window, &d);
    }
    if (!avail_exclude)
      fifo_push(&runs, i, failed);
    if (failed) {
      r->v.ratio = r->v.reference = (double)NAN;
    } else {
      struct bw_baseline b;
      size_t k = 0, have = perf.tail - perf.head;
      for (size_t j = have > want - 1 ? have - (want - 1) : 0; j < have; j++)
        recent[k++] = pts[perf.idx[perf.head + j]].value;
      win.bad = perf.count;
      win.pairs = perf.pairs;
      bw_baseline_compute(m, &win, &b);
      bw_detect_step(cfg, m, &budget, &st, &b, recent, k, pts[i].value, t, &r->v);
      if (r->v.event == BW_EVENT_OPENED) {
        struct drop_ctx d = {&win, pts};
        fifo_drop_since(&perf, pts, r->v.exclude_since_us, drop_from_window, &d);
      }
      if (!r->v.exclude) {
        fifo_push(&perf, i, r->v.bad);
        bw_window_add(&win, pts[i].value);
        if (cfg->window_runs > 0 && perf.tail - perf.head > (size_t)cfg->window_runs)
          bw_window_remove(&win, pts[fifo_pop(&perf)].value);
      }
    }
    r->open = st.open;
    r->avail_open = av.open;
  }
  /* Acks after the last run still took effect: the detector the judge holds now is fresh. */
  for (; ack < n_acks; ack++) {
    memset(&st, 0, sizeof(st));
    since = acks[ack];
  }
  if (avail_ack < n_avail_acks)
    memset(&av, 0, sizeof(av));
  if (ret_end) {
    ret_end->st = st;
    ret_end->av = av;
    ret_end->since_us = since == INT64_MIN ? 0 : since;
  }
  free(recent);
  free(perf.idx);
  free(perf.flag);
  free(runs.idx);
  free(runs.flag);
  bw_window_free(&win);
}
