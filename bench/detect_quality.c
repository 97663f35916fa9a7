/*
 * Detection quality: how well bw_detect_step() finds known changes in generated series, and how
 * often it cries wolf when nothing changed.
 *
 * Every family is many seeded series (so every run of the program prints the same table) of
 * hourly runs, replayed by bw_detect_replay(), exactly as history, backtest and import replay
 * them; a NAN is a failed run. Quiet page latencies are made the way the page test makes them
 * (the median of 20 lognormal requests, sigma 0.3); busy ones are lognormal at sigma 0.25 or
 * 0.35; 2% of page runs are spiked x3 to x10. Download rates are lognormal (sigma 0.15), or two
 * paths (60% at the level, 40% at 0.6 of it), or dip to 0.5-0.7 for 2-4 runs about once a day.
 *
 * An opening matches a change when it comes within the tolerance (24 runs) after the change
 * starts; the first such opening is a hit, later openings while the change lasts are repeats
 * (the regression closed and opened again), any other opening is false. Recovery: a temporary
 * change that was open when it ended closes within close_after + tolerance runs of its end.
 *
 * usage: detect_quality [--series N] [--runs N] [--tolerance N] [--seed N] [--only SUBSTRING]
 *                       [--detect key=value]... [--list]
 * --detect takes the keys of the config's detect: section (open_after=3, latency_margin=2ms),
 * parsed and checked by the config loader itself, so the table shows the shipped defaults unless
 * told otherwise. --list also prints every false opening, every missed change that should have
 * opened, and how far the baseline strays from the true level before any change (percentiles of
 * reference / level): the estimator's own error, which decides steps that sit near the factor.
 */
#include <getopt.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bw_config.h"
#include "bw_detect.h"
#include "bw_util.h"

#define MS 1e3   /* a millisecond in µs */
#define KBPS 1e3 /* a KB/s in bytes/s */
#define MBPS 1e6

enum gen {
  GEN_PAGE,      /* median of 20 requests around the level, plus spikes: a quiet page */
  GEN_WIDE,      /* lognormal around the level at `sigma`, plus spikes: a busy page */
  GEN_BIMODAL,   /* a page around 98 ms (60%) or 123 ms (40%) */
  GEN_RATE,      /* a download rate, lognormal around the level (sigma 0.15) */
  GEN_RATE_TWO,  /* a rate at the level (60%) or at 0.6 of it (40%): two paths */
  GEN_RATE_DIPS, /* a rate that dips to 0.5-0.7 of its level for 2-4 runs about once a day */
  GEN_CYCLE,     /* a page whose level follows the day, +-15% */
};

enum change_kind {
  CH_STEP,  /* the level times factor (or `to`) from the change on */
  CH_DRIFT, /* the level grows linearly to factor times over DRIFT_RUNS runs, then stays */
  CH_AFTER_OUTAGE, /* x0.1 for OUTAGE_LONG runs (3.75 days), back, then a step x factor */
};

struct family {
  const char *name;
  enum gen gen;
  double level;  /* µs or bytes/s before the change */
  double factor; /* the level after the change is level * factor; 1: no change */
  double to;     /* or, when > 0, the level after the change */
  double gaps;   /* share of runs that fail, scattered */
  int outages;   /* bursts of OUTAGE_RUNS failed runs */
  double sigma;  /* GEN_WIDE's spread */
  enum change_kind change;
  int at;        /* > 0: the change starts at this run (a young window), not in [300, 1000] */
};

#define OUTAGE_RUNS 5
#define TEMPORARY_RUNS 50
#define SPIKE_SHARE 0.02
#define DRIFT_RUNS 200
#define OUTAGE_LONG 90
#define AFTER_OUTAGE 100 /* runs between the recovery and the new step */

#define STEP(name, gen, level, factor) {name, gen, level, factor, 0, 0, 0, 0, CH_STEP, 0}
#define WIDE(name, sigma, factor) {name, GEN_WIDE, 98 * MS, factor, 0, 0, 0, sigma, CH_STEP, 0}

static const struct family families[] = {
    STEP("page 98ms noise", GEN_PAGE, 98 * MS, 1),
    STEP("page 98ms x1.3", GEN_PAGE, 98 * MS, 1.3),
    STEP("page 98ms x1.5", GEN_PAGE, 98 * MS, 1.5),
    STEP("page 98ms x1.6", GEN_PAGE, 98 * MS, 1.6),
    STEP("page 98ms x2", GEN_PAGE, 98 * MS, 2),
    STEP("page 98ms x5", GEN_PAGE, 98 * MS, 5),
    STEP("page 2ms noise", GEN_PAGE, 2 * MS, 1),
    STEP("page 2ms x2", GEN_PAGE, 2 * MS, 2),
    STEP("page 2ms x5", GEN_PAGE, 2 * MS, 5),
    STEP("page 5s noise", GEN_PAGE, 5000 * MS, 1),
    STEP("page 5s x1.6", GEN_PAGE, 5000 * MS, 1.6),
    STEP("page 5s x2", GEN_PAGE, 5000 * MS, 2),
    WIDE("wide 0.25 noise", 0.25, 1),
    WIDE("wide 0.25 x1.6", 0.25, 1.6),
    WIDE("wide 0.25 x2", 0.25, 2),
    WIDE("wide 0.25 x5", 0.25, 5),
    WIDE("wide 0.35 noise", 0.35, 1),
    WIDE("wide 0.35 x1.6", 0.35, 1.6),
    WIDE("wide 0.35 x2", 0.35, 2),
    WIDE("wide 0.35 x5", 0.35, 5),
    STEP("page 98/123ms bimodal", GEN_BIMODAL, 98 * MS, 1),
    STEP("page daily cycle 15%", GEN_CYCLE, 98 * MS, 1),
    {"page drift to x1.5", GEN_PAGE, 98 * MS, 1.5, 0, 0, 0, 0, CH_DRIFT, 0},
    {"page warm-up x2", GEN_PAGE, 98 * MS, 2, 0, 0, 0, 0, CH_STEP, 40},
    STEP("dl 16MB/s noise", GEN_RATE, 16 * MBPS, 1),
    STEP("dl 16MB/s x0.67", GEN_RATE, 16 * MBPS, 0.67),
    STEP("dl 16MB/s x0.6", GEN_RATE, 16 * MBPS, 0.6),
    STEP("dl 16MB/s x0.5", GEN_RATE, 16 * MBPS, 0.5),
    {"dl 16MB/s to 32KB/s", GEN_RATE, 16 * MBPS, 1, 32 * KBPS, 0, 0, 0, CH_STEP, 0},
    STEP("dl 200KB/s noise", GEN_RATE, 200 * KBPS, 1),
    STEP("dl 200KB/s x0.5", GEN_RATE, 200 * KBPS, 0.5),
    STEP("dl two paths 60/40", GEN_RATE_TWO, 16 * MBPS, 1),
    STEP("dl daily dips 30-50%", GEN_RATE_DIPS, 16 * MBPS, 1),
    {"dl 100MB/s outage x0.5", GEN_RATE, 100 * MBPS, 0.5, 0, 0, 0, 0, CH_AFTER_OUTAGE, 0},
    {"page 98ms gaps 5%", GEN_PAGE, 98 * MS, 1, 0, 0.05, 0, 0, CH_STEP, 0},
    {"page 98ms gaps 5% x2", GEN_PAGE, 98 * MS, 2, 0, 0.05, 0, 0, CH_STEP, 0},
    {"dl 16MB/s gaps 5% x0.5", GEN_RATE, 16 * MBPS, 0.5, 0, 0.05, 0, 0, CH_STEP, 0},
    {"page 98ms outages 5x5", GEN_PAGE, 98 * MS, 1, 0, 0, 5, 0, CH_STEP, 0},
};
#define N_FAMILIES (sizeof(families) / sizeof(families[0]))

/* ---- random numbers: xorshift64 seeded through splitmix64, as reproducible as the tests ---- */

static uint64_t rng;

static void seed(uint64_t s) {
  uint64_t z = s + UINT64_C(0x9e3779b97f4a7c15);
  z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
  z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
  rng = (z ^ (z >> 31)) | 1;
}

static double uniform(void) {
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return ((double)(rng >> 11) + 0.5) / 9007199254740992.0;
}

static double normal(void) {
  return sqrt(-2 * log(uniform())) * cos(2 * M_PI * uniform());
}

/* An integer in [lo, hi]. */
static int between(int lo, int hi) {
  return lo + (int)(uniform() * (hi - lo + 1));
}

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

/* A page run's figure: the median of 20 requests, each lognormal around centre (sigma 0.3). */
static double run_median(double centre) {
  double r[20];
  for (int k = 0; k < 20; k++)
    r[k] = centre * exp(0.3 * normal());
  qsort(r, 20, sizeof(r[0]), cmp_double);
  return (r[9] + r[10]) / 2;
}

/* ---- one series ---- */

/* A true change: runs [start, end) are changed; end == n for a lasting one. */
struct change {
  int start;
  int end;
  bool matched;
};

struct series {
  int n;
  double *v;   /* NAN: a failed run */
  bool *spike; /* the run was spiked: tells spike-made false openings apart */
  struct change perf[2];
  int n_perf;
  struct change out[16];
  int n_out;
};

/* The level of run i of family f, before noise. */
static double level_at(const struct family *f, const struct series *s, int i) {
  double level = f->level;
  if (f->gen == GEN_CYCLE)
    level *= 1 + 0.15 * sin(2 * M_PI * (double)i / 24);
  if (s->n_perf == 0 || i < s->perf[0].start)
    return level;
  switch (f->change) {
  case CH_STEP:
    if (i >= s->perf[0].end)
      return level;
    return f->to > 0 ? f->to : level * f->factor;
  case CH_DRIFT: {
    double k = fmin(1, (double)(i - s->perf[0].start) / DRIFT_RUNS);
    return level * (1 + (f->factor - 1) * k);
  }
  case CH_AFTER_OUTAGE:
    if (i < s->perf[0].end)
      return level * 0.1;
    if (i < s->perf[1].start)
      return level;
    return level * f->factor;
  }
  return level;
}

/*
 * Series i of family f. Steps start at a run in [300, 1000] (or at f->at); even series recover
 * after TEMPORARY_RUNS, odd ones last. Outages are spread one per equal slice of the series after
 * the first window.
 */
static void generate(const struct family *f, int idx, uint64_t base_seed, struct series *s) {
  int n = s->n;
  seed(base_seed * 1000003 + (uint64_t)(f - families) * 10007 + (uint64_t)idx);
  bool has_perf = f->factor != 1 || f->to > 0;
  s->n_perf = 0;
  s->n_out = 0;
  if (has_perf) {
    struct change *c = &s->perf[s->n_perf++];
    c->start = f->at > 0 ? f->at : between(300, f->change == CH_AFTER_OUTAGE ? 600 : 1000);
    c->end = idx % 2 == 0 && f->change == CH_STEP ? c->start + TEMPORARY_RUNS : n;
    c->matched = false;
    if (f->change == CH_AFTER_OUTAGE) {
      c->end = c->start + OUTAGE_LONG;
      struct change *d = &s->perf[s->n_perf++];
      d->start = c->end + AFTER_OUTAGE;
      d->end = n;
      d->matched = false;
    }
  }
  int next_dip = between(0, 23);
  for (int i = 0; i < n; i++) {
    double level = level_at(f, s, i);
    s->spike[i] = false;
    switch (f->gen) {
    case GEN_RATE:
    case GEN_RATE_TWO:
    case GEN_RATE_DIPS:
      if (f->gen == GEN_RATE_TWO && uniform() < 0.4)
        level *= 0.6;
      if (f->gen == GEN_RATE_DIPS && i >= next_dip) {
        /* a dip of 2 to 4 runs about once a day */
        int len = between(2, 4);
        double depth = 0.5 + 0.2 * uniform();
        for (int k = 0; k < len && i + k < n; k++)
          s->v[i + k] = level * depth * exp(0.15 * normal());
        i += len - 1;
        next_dip = i + between(18, 30);
        continue;
      }
      s->v[i] = level * exp(0.15 * normal());
      break;
    case GEN_WIDE:
      s->v[i] = level * exp(f->sigma * normal());
      break;
    case GEN_PAGE:
    case GEN_BIMODAL:
    case GEN_CYCLE:
      if (f->gen == GEN_BIMODAL)
        level *= uniform() < 0.6 ? 1 : 123.0 / 98.0;
      s->v[i] = run_median(level);
      break;
    }
    if (f->gen == GEN_PAGE || f->gen == GEN_WIDE || f->gen == GEN_BIMODAL ||
        f->gen == GEN_CYCLE) {
      if (uniform() < SPIKE_SHARE) {
        s->v[i] *= 3 + 7 * uniform();
        s->spike[i] = true;
      }
    }
    if (f->gaps > 0 && uniform() < f->gaps)
      s->v[i] = (double)NAN;
  }
  if (f->outages > 0) {
    int first = 200, slice = (n - first - 50) / f->outages;
    for (int k = 0; k < f->outages && k < 16; k++) {
      struct change *c = &s->out[s->n_out++];
      c->start = first + k * slice + between(0, slice - OUTAGE_RUNS - 30);
      c->end = c->start + OUTAGE_RUNS;
      c->matched = false;
      for (int i = c->start; i < c->end; i++)
        s->v[i] = (double)NAN;
    }
  }
}

/* What the detector said about one series, run by run. */
struct trace {
  enum bw_event *event;
  enum bw_event *avail_event;
  bool *open;       /* performance regression open after the run */
  bool *avail_open; /* availability regression open after the run */
  double *ref;      /* the reference the run was judged against */
  bool *bad;
  struct bw_point *pts;
  struct bw_replay_verdict *rv;
};

/* Replays a series with bw_detect_replay(): exactly what history and backtest do. */
static void replay(const struct bw_detect *cfg, const struct bw_metric *m, const struct series *s,
                   struct trace *t) {
  for (int i = 0; i < s->n; i++) {
    t->pts[i].run_id = i + 1;
    t->pts[i].started_us = (int64_t)i * 3600 * INT64_C(1000000);
    t->pts[i].value = s->v[i];
  }
  bw_detect_replay(cfg, m, 3600 * INT64_C(1000000), t->pts, (size_t)s->n, NULL, 0, NULL, 0,
                   t->rv, NULL);
  for (int i = 0; i < s->n; i++) {
    t->event[i] = t->rv[i].v.event;
    t->avail_event[i] = t->rv[i].avail_event;
    t->open[i] = t->rv[i].open;
    t->avail_open[i] = t->rv[i].avail_open;
    t->ref[i] = t->rv[i].v.reference;
    t->bad[i] = t->rv[i].v.bad;
  }
}

/* ---- scoring ---- */

struct score {
  long runs;
  long changes;
  long openings;
  long hits;
  long repeats;
  long falses;
  long spike_falses; /* false openings whose every bad run was a spike */
  long delay_sum;
  long delay_max;
  long temp_open_at_end; /* temporary changes still open when they ended */
  long recovered;        /* ... that closed in time */
  long early_closes;     /* closings while the change still lasted */
};

static bool verbose_list;

/* The open_after runs that did not fail, up to run i, were all spikes. */
static bool spike_streak(const struct series *s, int i, int open_after) {
  int seen = 0;
  for (int j = i; j >= 0 && seen < open_after; j--) {
    if (isnan(s->v[j]))
      continue;
    if (!s->spike[j])
      return false;
    seen++;
  }
  return seen == open_after;
}

/*
 * Scores one kind of event (performance or availability) of a series against its changes.
 * open_state: the regression's state after each run.
 */
static void score_events(const char *fam, int idx, const struct series *s, const struct trace *t,
                         struct change *ch, int n_ch, const enum bw_event *events,
                         enum bw_event opened, enum bw_event closed,
                         const bool *open_state, bool must_open, int tol,
                         const struct bw_detect *cfg, struct score *sc) {
  int close_after = (int)cfg->close_after;
  for (int i = 0; i < s->n; i++) {
    if (events[i] == opened) {
      struct change *c = NULL;
      sc->openings++;
      for (int k = 0; k < n_ch; k++)
        if (i >= ch[k].start && i < ch[k].end + tol)
          c = &ch[k];
      if (c && !c->matched && i <= c->start + tol) {
        c->matched = true;
        sc->hits++;
        sc->delay_sum += i - c->start;
        if (i - c->start > sc->delay_max)
          sc->delay_max = i - c->start;
      } else if (c) {
        sc->repeats++;
      } else {
        bool spikes = events == t->event && spike_streak(s, i, (int)cfg->open_after);
        sc->falses++;
        sc->spike_falses += spikes;
        if (verbose_list) {
          (void)printf("  false: %s #%d run %d value %.6g ref %.6g%s\n", fam, idx, i, s->v[i],
                       t->ref[i], spikes ? " (spikes)" : "");
          for (int j = i >= 8 ? i - 8 : 0; getenv("BW_DQ_TRACE") && j <= i; j++)
            (void)printf("    run %d x%.3f bad %d cusum %.2f/%.2f need %lld spread %.3f bad %zu pairs %zu\n",
                         j, t->rv[j].v.ratio, t->rv[j].v.bad, t->rv[j].v.cusum,
                         t->rv[j].v.threshold, (long long)t->rv[j].v.need_bad,
                         t->rv[j].v.baseline.spread, t->rv[j].v.baseline.bad, t->rv[j].v.baseline.pairs);
        }
      }
    } else if (events[i] == closed) {
      for (int k = 0; k < n_ch; k++)
        if (i > ch[k].start && i < ch[k].end)
          sc->early_closes++;
    }
  }
  for (int k = 0; k < n_ch; k++) {
    struct change *c = &ch[k];
    sc->changes++;
    if (!c->matched && verbose_list && must_open) {
      int bad = 0, judged = 0;
      for (int i = c->start; i < s->n && i <= c->start + tol; i++)
        if (!isnan(t->ref[i])) {
          judged++;
          bad += t->bad[i];
        }
      (void)printf("  missed: %s #%d change at run %d, ref %.6g, %d of %d runs bad\n", fam, idx,
                   c->start, t->ref[c->start], bad, judged);
    }
    if (c->end >= s->n || !open_state[c->end - 1])
      continue;
    sc->temp_open_at_end++;
    for (int i = c->end; i < s->n && i <= c->end + close_after + tol; i++)
      if (events[i] == closed) {
        sc->recovered++;
        break;
      }
  }
}

/*
 * What a family's change should do under cfg: "none", "open", or why not ("factor", "margin").
 * A step at the factor itself must open (the x1.5 and x0.67); the slack keeps 0.67 * level
 * / level from reading as just above 0.67.
 */
static const char *expectation(const struct family *f, const struct bw_detect *cfg) {
  double after = f->to > 0 ? f->to : f->level * f->factor;
  if (f->factor == 1 && f->to <= 0)
    return "none";
  if (f->change == CH_DRIFT)
    return "drift";
  if (f->gen == GEN_RATE || f->gen == GEN_RATE_TWO || f->gen == GEN_RATE_DIPS) {
    if (after / f->level > cfg->throughput_factor * (1 + 1e-9))
      return "factor";
    if (f->level - after <= (double)cfg->throughput_margin)
      return "margin";
    return "open";
  }
  if (after / f->level < cfg->latency_factor * (1 - 1e-9))
    return "factor";
  if (after - f->level <= (double)cfg->latency_margin_us)
    return "margin";
  return "open";
}

static void pct(char *buf, size_t size, long num, long den) {
  if (den == 0)
    (void)snprintf(buf, size, "-");
  else
    (void)snprintf(buf, size, "%.1f", 100.0 * (double)num / (double)den);
}

static const char *const legend[] = {
    "chg: true changes; open: openings = hit + rep + false. hit: the first opening within the",
    "tolerance after a change; rep: another while the change lasts (it closed and opened again);",
    "spk: false openings made of spikes alone. prec% = hit/open; recal% = hit/chg;",
    "delay, max: runs from the change to its opening; false/k: false openings per 1000 runs;",
    "recov: of the temporary changes open when they ended, those closed within close_after +",
    "tolerance runs; early: closings while the change still lasted.",
    "expect: open = must open; factor, margin = the step is within the factor or the margin, so",
    "an opening there is sensitivity, not an error; none = no change: any opening is false.",
};

static void print_header(void) {
  (void)printf("%-24s %-5s %-6s %4s %5s %4s %4s %5s %4s %6s %6s %5s %4s %7s %7s %5s\n", "family",
               "event", "expect", "chg", "open", "hit", "rep", "false", "spk", "prec%", "recal%",
               "delay", "max", "false/k", "recov", "early");
}

static void print_row(const char *name, const char *event, const char *expect,
                      const struct score *sc) {
  char prec[16], rec[16], delay[16], dmax[16], fk[16], recov[24];
  pct(prec, sizeof(prec), sc->hits, sc->openings);
  pct(rec, sizeof(rec), sc->hits, sc->changes);
  if (sc->hits > 0) {
    (void)snprintf(delay, sizeof(delay), "%.2f", (double)sc->delay_sum / (double)sc->hits);
    (void)snprintf(dmax, sizeof(dmax), "%ld", sc->delay_max);
  } else {
    (void)snprintf(delay, sizeof(delay), "-");
    (void)snprintf(dmax, sizeof(dmax), "-");
  }
  (void)snprintf(fk, sizeof(fk), "%.3f", 1000.0 * (double)sc->falses / (double)sc->runs);
  if (sc->temp_open_at_end > 0)
    (void)snprintf(recov, sizeof(recov), "%ld/%ld", sc->recovered, sc->temp_open_at_end);
  else
    (void)snprintf(recov, sizeof(recov), "-");
  (void)printf("%-24s %-5s %-6s %4ld %5ld %4ld %4ld %5ld %4ld %6s %6s %5s %4s %7s %7s %5ld\n", name,
               event, expect, sc->changes, sc->openings, sc->hits, sc->repeats, sc->falses,
               sc->spike_falses, prec, rec, delay, dmax, fk, recov, sc->early_closes);
}

/* ---- settings: the config loader's own defaults and checks ---- */

static struct bw_config *load_config(char **detect_kv, int n_kv) {
  struct bw_buf b;
  struct bw_errs errs;
  memset(&b, 0, sizeof(b));
  memset(&errs, 0, sizeof(errs));
  bw_buf_printf(
      &b,
      "database: \":memory:\"\ntests:\n  - name: q\n    kind: page\n    url: http://127.0.0.1/\n");
  if (n_kv > 0)
    bw_buf_printf(&b, "detect:\n");
  for (int i = 0; i < n_kv; i++) {
    char *eq = strchr(detect_kv[i], '=');
    if (!eq) {
      (void)fprintf(stderr, "detect_quality: --detect %s: expected key=value\n", detect_kv[i]);
      free(bw_buf_take(&b));
      return NULL;
    }
    bw_buf_printf(&b, "  %.*s: %s\n", (int)(eq - detect_kv[i]), detect_kv[i], eq + 1);
  }
  char *text = bw_buf_take(&b);
  struct bw_config *cfg = bw_config_parse("--detect", text, strlen(text), &errs);
  for (size_t i = 0; i < errs.n; i++)
    (void)fprintf(stderr, "detect_quality: %s\n", errs.msg[i]);
  bw_errs_clear(&errs);
  free(text);
  return cfg;
}

static double now_s(void) {
  struct timespec ts;
  (void)clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void usage(FILE *out) {
  (void)fprintf(out, "usage: detect_quality [--series N] [--runs N] [--tolerance N] [--seed N]\n"
                     "                      [--only SUBSTRING] [--detect key=value]... [--list]\n");
}

int main(int argc, char **argv) {
  static const struct option longopts[] = {
      {"series", required_argument, NULL, 's'},
      {"runs", required_argument, NULL, 'n'},
      {"tolerance", required_argument, NULL, 't'},
      {"seed", required_argument, NULL, 'S'},
      {"only", required_argument, NULL, 'o'},
      {"detect", required_argument, NULL, 'd'},
      {"list", no_argument, NULL, 'l'},
      {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0},
  };
  int n_series = 70, n_runs = 1500, tol = 24;
  uint64_t base_seed = 1;
  const char *only = NULL;
  char **kv = bw_xcalloc((size_t)argc, sizeof(*kv));
  int n_kv = 0, opt;
  while ((opt = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
    switch (opt) {
    case 's':
      n_series = atoi(optarg);
      break;
    case 'n':
      n_runs = atoi(optarg);
      break;
    case 't':
      tol = atoi(optarg);
      break;
    case 'S':
      base_seed = strtoull(optarg, NULL, 10);
      break;
    case 'o':
      only = optarg;
      break;
    case 'd':
      kv[n_kv++] = optarg;
      break;
    case 'l':
      verbose_list = true;
      break;
    case 'h':
      usage(stdout);
      free(kv);
      return 0;
    default:
      usage(stderr);
      free(kv);
      return 2;
    }
  }
  if (optind != argc || n_series < 1 || n_runs < 1200 || tol < 0) {
    usage(stderr);
    (void)fprintf(stderr, "(at least 1 series of 1200 runs: changes start up to run 1000)\n");
    free(kv);
    return 2;
  }
  struct bw_config *config = load_config(kv, n_kv);
  free(kv);
  if (!config)
    return BW_EXIT_CONFIG;
  const struct bw_detect *cfg = &config->detect;
  int window_runs = (int)(cfg->window_us / (3600 * INT64_C(1000000)));

  (void)printf("benchwatch detection quality: %d series x %d hourly runs per family, window %d "
               "runs, seed %llu\n",
               n_series, n_runs, window_runs, (unsigned long long)base_seed);
  (void)printf("detect: min_runs %lld, latency x%g and +%g ms, throughput x%g and -%g KB/s, "
               "open_after %lld, close_after %lld; tolerance %d runs\n",
               (long long)cfg->min_runs, cfg->latency_factor, (double)cfg->latency_margin_us / MS,
               cfg->throughput_factor, (double)cfg->throughput_margin / KBPS,
               (long long)cfg->open_after, (long long)cfg->close_after, tol);
  (void)printf("steps start in runs [300, 1000]; even series recover after %d runs, odd ones "
               "last\n\n",
               TEMPORARY_RUNS);

  struct series s;
  struct trace t;
  s.n = n_runs;
  s.v = bw_xcalloc((size_t)n_runs, sizeof(*s.v));
  s.spike = bw_xcalloc((size_t)n_runs, sizeof(*s.spike));
  t.event = bw_xcalloc((size_t)n_runs, sizeof(*t.event));
  t.open = bw_xcalloc((size_t)n_runs, sizeof(*t.open));
  t.avail_open = bw_xcalloc((size_t)n_runs, sizeof(*t.avail_open));
  t.ref = bw_xcalloc((size_t)n_runs, sizeof(*t.ref));
  t.bad = bw_xcalloc((size_t)n_runs, sizeof(*t.bad));
  t.avail_event = bw_xcalloc((size_t)n_runs, sizeof(*t.avail_event));
  t.pts = bw_xcalloc((size_t)n_runs, sizeof(*t.pts));
  t.rv = bw_xcalloc((size_t)n_runs, sizeof(*t.rv));
  double *ratios = bw_xcalloc((size_t)n_runs * (size_t)n_series, sizeof(*ratios));

  double t0 = now_s();
  print_header();
  for (size_t fi = 0; fi < N_FAMILIES; fi++) {
    const struct family *f = &families[fi];
    if (only && !strstr(f->name, only))
      continue;
    bool rate = f->gen == GEN_RATE || f->gen == GEN_RATE_TWO || f->gen == GEN_RATE_DIPS;
    const struct bw_metric *m = bw_detect_metric(rate ? BW_KIND_DOWNLOAD : BW_KIND_PAGE);
    struct score perf, avail;
    const char *expect = expectation(f, cfg);
    bool must_open = strcmp(expect, "open") == 0;
    size_t n_ratios = 0;
    memset(&perf, 0, sizeof(perf));
    memset(&avail, 0, sizeof(avail));
    for (int idx = 0; idx < n_series; idx++) {
      generate(f, idx, base_seed, &s);
      replay(cfg, m, &s, &t);
      perf.runs += n_runs;
      avail.runs += n_runs;
      for (int i = 0; verbose_list && i < n_runs && (s.n_perf == 0 || i < s.perf[0].start); i++)
        if (!isnan(t.ref[i]) && !t.open[i])
          ratios[n_ratios++] = t.ref[i] / f->level;
      score_events(f->name, idx, &s, &t, s.perf, s.n_perf, t.event, BW_EVENT_OPENED,
                   BW_EVENT_CLOSED, t.open, must_open, tol, cfg, &perf);
      if (f->gaps > 0 || f->outages > 0)
        score_events(f->name, idx, &s, &t, s.out, s.n_out, t.avail_event, BW_EVENT_OPENED,
                     BW_EVENT_CLOSED, t.avail_open, true, tol, cfg, &avail);
    }
    print_row(f->name, "perf", expect, &perf);
    if (verbose_list && n_ratios > 0) {
      qsort(ratios, n_ratios, sizeof(*ratios), cmp_double);
      (void)printf("  reference / level before any change: p1 %.3f p5 %.3f p50 %.3f p95 %.3f "
                   "p99 %.3f\n",
                   ratios[n_ratios / 100], ratios[n_ratios / 20], ratios[n_ratios / 2],
                   ratios[n_ratios * 19 / 20], ratios[n_ratios * 99 / 100]);
    }
    if (f->gaps > 0 || f->outages > 0)
      print_row("", "avail", f->outages > 0 ? "open" : "none", &avail);
  }
  (void)printf("\n");
  for (size_t i = 0; i < sizeof(legend) / sizeof(legend[0]); i++)
    (void)printf("%s\n", legend[i]);
  (void)printf("\n%.1f s\n", now_s() - t0);

  free(s.v);
  free(s.spike);
  free(t.event);
  free(t.open);
  free(t.avail_open);
  free(t.ref);
  free(t.bad);
  free(ratios);
  free(t.avail_event);
  free(t.pts);
  free(t.rv);
  bw_config_free(config);
  return 0;
}
