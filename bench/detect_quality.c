/*
 * Detection quality: how well bw_detect_step() finds known changes in generated series, and how
 * often it cries wolf when nothing changed.
 *
 * Every family is many seeded series (so every run of the program prints the same table) of
 * hourly runs, replayed as the daemon replays them: each run is judged against the good runs of
 * the preceding window (7 days = 168 runs), a NAN is a failed run. Page latencies are made the
 * way the page test makes them (the median of 20 lognormal requests, sigma 0.3, and 2% of runs
 * spiked x3 to x10); download rates are lognormal (sigma 0.15).
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
  GEN_PAGE,    /* median of 20 requests around the level, plus spikes */
  GEN_BIMODAL, /* the same, each run around 98 ms (60%) or 123 ms (40%) */
  GEN_RATE,    /* a download rate, lognormal around the level */
};

struct family {
  const char *name;
  enum gen gen;
  double level;  /* µs or bytes/s before the change */
  double factor; /* the level after the change is level * factor; 1: no change */
  double to;     /* or, when > 0, the level after the change */
  double gaps;   /* share of runs that fail, scattered */
  int outages;   /* bursts of OUTAGE_RUNS failed runs */
};

#define OUTAGE_RUNS 5
#define TEMPORARY_RUNS 50
#define SPIKE_SHARE 0.02

static const struct family families[] = {
    {"page 98ms noise", GEN_PAGE, 98 * MS, 1, 0, 0, 0},
    {"page 98ms x1.3", GEN_PAGE, 98 * MS, 1.3, 0, 0, 0},
    {"page 98ms x1.5", GEN_PAGE, 98 * MS, 1.5, 0, 0, 0},
    {"page 98ms x2", GEN_PAGE, 98 * MS, 2, 0, 0, 0},
    {"page 98ms x5", GEN_PAGE, 98 * MS, 5, 0, 0, 0},
    {"page 2ms noise", GEN_PAGE, 2 * MS, 1, 0, 0, 0},
    {"page 2ms x1.3", GEN_PAGE, 2 * MS, 1.3, 0, 0, 0},
    {"page 2ms x1.5", GEN_PAGE, 2 * MS, 1.5, 0, 0, 0},
    {"page 2ms x2", GEN_PAGE, 2 * MS, 2, 0, 0, 0},
    {"page 2ms x5", GEN_PAGE, 2 * MS, 5, 0, 0, 0},
    {"page 5s noise", GEN_PAGE, 5000 * MS, 1, 0, 0, 0},
    {"page 5s x1.3", GEN_PAGE, 5000 * MS, 1.3, 0, 0, 0},
    {"page 5s x1.5", GEN_PAGE, 5000 * MS, 1.5, 0, 0, 0},
    {"page 5s x2", GEN_PAGE, 5000 * MS, 2, 0, 0, 0},
    {"page 5s x5", GEN_PAGE, 5000 * MS, 5, 0, 0, 0},
    {"page 98/123ms bimodal", GEN_BIMODAL, 98 * MS, 1, 0, 0, 0},
    {"dl 16MB/s noise", GEN_RATE, 16 * MBPS, 1, 0, 0, 0},
    {"dl 16MB/s x0.8", GEN_RATE, 16 * MBPS, 0.8, 0, 0, 0},
    {"dl 16MB/s x0.67", GEN_RATE, 16 * MBPS, 0.67, 0, 0, 0},
    {"dl 16MB/s x0.5", GEN_RATE, 16 * MBPS, 0.5, 0, 0, 0},
    {"dl 16MB/s to 32KB/s", GEN_RATE, 16 * MBPS, 1, 32 * KBPS, 0, 0},
    {"dl 200KB/s noise", GEN_RATE, 200 * KBPS, 1, 0, 0, 0},
    {"dl 200KB/s x0.67", GEN_RATE, 200 * KBPS, 0.67, 0, 0, 0},
    {"dl 200KB/s x0.5", GEN_RATE, 200 * KBPS, 0.5, 0, 0, 0},
    {"dl 200KB/s to 32KB/s", GEN_RATE, 200 * KBPS, 1, 32 * KBPS, 0, 0},
    {"page 98ms gaps 5%", GEN_PAGE, 98 * MS, 1, 0, 0.05, 0},
    {"page 98ms gaps 5% x2", GEN_PAGE, 98 * MS, 2, 0, 0.05, 0},
    {"dl 16MB/s gaps 5% x0.5", GEN_RATE, 16 * MBPS, 0.5, 0, 0.05, 0},
    {"page 98ms outages 5x5", GEN_PAGE, 98 * MS, 1, 0, 0, 5},
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
  struct change perf;
  bool has_perf;
  struct change out[16];
  int n_out;
};

/*
 * Series i of family f. Steps start at a run in [300, 1000]; even series recover after
 * TEMPORARY_RUNS, odd ones last. Outages are spread one per equal slice of the series after the
 * first window.
 */
static void generate(const struct family *f, int idx, uint64_t base_seed, struct series *s) {
  int n = s->n;
  seed(base_seed * 1000003 + (uint64_t)(f - families) * 10007 + (uint64_t)idx);
  s->has_perf = f->factor != 1 || f->to > 0;
  s->n_out = 0;
  if (s->has_perf) {
    s->perf.start = between(300, 1000);
    s->perf.end = idx % 2 == 0 ? s->perf.start + TEMPORARY_RUNS : n;
    s->perf.matched = false;
  }
  for (int i = 0; i < n; i++) {
    bool changed = s->has_perf && i >= s->perf.start && i < s->perf.end;
    double level = f->level;
    if (changed)
      level = f->to > 0 ? f->to : f->level * f->factor;
    s->spike[i] = false;
    if (f->gen == GEN_RATE) {
      s->v[i] = level * exp(0.15 * normal());
    } else {
      if (f->gen == GEN_BIMODAL)
        level *= uniform() < 0.6 ? 1 : 123.0 / 98.0;
      s->v[i] = run_median(level);
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
  bool *open;       /* performance regression open after the run */
  bool *avail_open; /* availability regression open after the run */
  double *ref;      /* the reference the run was judged against */
  bool *bad;
};

/* Replays a series exactly as the daemon and tests/unit/test_detect.c do. */
static void replay(const struct bw_detect *cfg, const struct bw_metric *m, int window_runs,
                   const struct series *s, double *window, struct trace *t) {
  struct bw_detect_state st;
  memset(&st, 0, sizeof(st));
  for (int i = 0; i < s->n; i++) {
    size_t k = 0;
    for (int j = i > window_runs ? i - window_runs : 0; j < i; j++)
      if (!isnan(s->v[j]))
        window[k++] = s->v[j];
    struct bw_verdict vd;
    bw_detect_step(cfg, m, &st, window, k, isnan(s->v[i]), s->v[i], &vd);
    t->event[i] = vd.event;
    t->open[i] = st.open;
    t->avail_open[i] = st.avail_open;
    t->ref[i] = vd.reference;
    t->bad[i] = vd.bad;
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
                         struct change *ch, int n_ch, enum bw_event opened, enum bw_event closed,
                         const bool *open_state, bool must_open, int tol,
                         const struct bw_detect *cfg, struct score *sc) {
  int close_after = (int)cfg->close_after;
  for (int i = 0; i < s->n; i++) {
    if (t->event[i] == opened) {
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
        bool spikes = opened == BW_EVENT_OPENED && spike_streak(s, i, (int)cfg->open_after);
        sc->falses++;
        sc->spike_falses += spikes;
        if (verbose_list)
          (void)printf("  false: %s #%d run %d value %.6g ref %.6g%s\n", fam, idx, i, s->v[i],
                       t->ref[i], spikes ? " (spikes)" : "");
      }
    } else if (t->event[i] == closed) {
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
      if (t->event[i] == closed) {
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
  if (f->gen == GEN_RATE) {
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
  int n_series = 50, n_runs = 1500, tol = 24;
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
  double *ratios = bw_xcalloc((size_t)n_runs * (size_t)n_series, sizeof(*ratios));
  double *window = bw_xcalloc((size_t)window_runs + 1, sizeof(*window));

  double t0 = now_s();
  print_header();
  for (size_t fi = 0; fi < N_FAMILIES; fi++) {
    const struct family *f = &families[fi];
    if (only && !strstr(f->name, only))
      continue;
    const struct bw_metric *m =
        bw_detect_metric(f->gen == GEN_RATE ? BW_KIND_DOWNLOAD : BW_KIND_PAGE);
    struct score perf, avail;
    const char *expect = expectation(f, cfg);
    bool must_open = strcmp(expect, "open") == 0;
    size_t n_ratios = 0;
    memset(&perf, 0, sizeof(perf));
    memset(&avail, 0, sizeof(avail));
    for (int idx = 0; idx < n_series; idx++) {
      generate(f, idx, base_seed, &s);
      replay(cfg, m, window_runs, &s, window, &t);
      perf.runs += n_runs;
      avail.runs += n_runs;
      for (int i = 0; verbose_list && i < n_runs && (!s.has_perf || i < s.perf.start); i++)
        if (!isnan(t.ref[i]) && !t.open[i])
          ratios[n_ratios++] = t.ref[i] / f->level;
      score_events(f->name, idx, &s, &t, &s.perf, s.has_perf ? 1 : 0, BW_EVENT_OPENED,
                   BW_EVENT_CLOSED, t.open, must_open, tol, cfg, &perf);
      if (f->gaps > 0 || f->outages > 0)
        score_events(f->name, idx, &s, &t, s.out, s.n_out, BW_EVENT_AVAIL_OPENED,
                     BW_EVENT_AVAIL_CLOSED, t.avail_open, true, tol, cfg, &avail);
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
  free(window);
  bw_config_free(config);
  return 0;
}
