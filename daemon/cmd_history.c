/* benchwatch regressions and benchwatch baseline: reading what the daemon decided. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bw_detect.h"
#include "bw_diagnose.h"
#include "bw_judge.h"
#include "bw_loop.h"
#include "bw_sweep.h"
#include "bw_units.h"
#include "cli.h"

static void local_time(int64_t us, char *buf, size_t size) {
  time_t t = (time_t)(us / 1000000);
  struct tm tm;
  if (!localtime_r(&t, &tm) || strftime(buf, size, "%Y-%m-%d %H:%M", &tm) == 0)
    (void)snprintf(buf, size, "?");
}

/* A duration for people, to the minute: "2d3h", "5h12m", "40m". */
static void span(int64_t us, char *buf, size_t size) {
  int64_t m = us / 60000000;
  if (m >= 1440)
    (void)snprintf(buf, size, "%" PRId64 "d%" PRId64 "h", m / 1440, m % 1440 / 60);
  else if (m >= 60)
    (void)snprintf(buf, size, "%" PRId64 "h%" PRId64 "m", m / 60, m % 60);
  else
    (void)snprintf(buf, size, "%" PRId64 "m", m);
}

static int regressions_ack(int argc, char **argv, const char *db, const char *config) {
  struct bw_store *store = NULL;
  struct bw_errs errs = {0};
  char *end;
  if (argc != 1) {
    (void)fprintf(stderr, "usage: benchwatch regressions ack ID\n");
    return 64;
  }
  long long id = strtoll(argv[0], &end, 10);
  if (*end || id <= 0) {
    (void)fprintf(stderr, "benchwatch: a regression id is a positive number, got \"%s\"\n",
                  argv[0]);
    return 64;
  }
  int r = open_history(db, config, true, &store, NULL);
  if (r)
    return r;
  r = bw_store_ack(store, id, bw_wall_us(), &errs);
  print_errs(&errs);
  bw_errs_clear(&errs);
  bw_store_close(store);
  if (r < 0)
    return 1;
  (void)printf("regression %lld accepted: its target's baseline starts again from now\n", id);
  return 0;
}

static void regressions_usage(FILE *f) {
  (void)fprintf(f,
                "usage: benchwatch regressions [-c CONFIG | --db F] [--open] [--since WHEN]\n"
                "                              [--until WHEN] [--json]\n"
                "       benchwatch regressions [-c CONFIG | --db F] ack ID\n"
                "Lists the regressions open now or opened in the period (default: the last 7d).\n"
                "  -o, --open         only those still open\n"
                "  -s, --since WHEN   a duration back from now (7d), a date (2026-11-21, UTC)\n"
                "                     or an ISO 8601 time (2026-11-21T10:05:00Z)\n"
                "      --until WHEN   the end of the period (default: now)\n"
                "      --json         one JSON array of records (README \"JSON\")\n"
                "  ack ID             accept regression ID as the new normal\n"
                "Exit status: 0, 1 database error, 64 usage, 66 no database, 78 config.\n");
}

int cmd_regressions(int argc, char **argv) {
  static const struct option longopts[] = {
      {"open", no_argument, NULL, 'o'},
      {"since", required_argument, NULL, 's'},
      {"until", required_argument, NULL, O_UNTIL},
      {"json", no_argument, NULL, O_JSON},
      COMMON_LONGOPTS,
      {NULL, 0, NULL, 0},
  };
  const char *db = NULL, *config = NULL;
  bool open_only = false, json = false;
  int64_t now = bw_wall_us(), since = now - 7 * 86400 * INT64_C(1000000), until = INT64_MAX;
  int ch;
  while ((ch = getopt_long(argc, argv, "os:c:C:Vh", longopts, NULL)) != -1) {
    switch (ch) {
    case 'o':
      open_only = true;
      break;
    case 's':
      if (parse_when("--since", optarg, now, &since) < 0)
        return 64;
      break;
    case O_UNTIL:
      if (parse_when("--until", optarg, now, &until) < 0)
        return 64;
      break;
    case O_JSON:
      json = true;
      break;
    case O_DB:
      db = optarg;
      break;
    case 'c':
    case 'C':
      config = optarg;
      break;
    case 'V':
      return print_version();
    case 'h':
      regressions_usage(stdout);
      return 0;
    default:
      regressions_usage(stderr);
      return 64;
    }
  }
  if (optind < argc && strcmp(argv[optind], "ack") == 0)
    return regressions_ack(argc - optind - 1, argv + optind + 1, db, config);
  if (optind != argc) {
    regressions_usage(stderr);
    return 64;
  }
  struct bw_store *store = NULL;
  struct bw_regression *list = NULL;
  struct bw_errs errs = {0};
  size_t n = 0;
  int r = open_history(db, config, false, &store, NULL);
  if (r)
    return r;
  if (bw_store_regressions(store, since, open_only, &list, &n, &errs) < 0) {
    print_errs(&errs);
    bw_errs_clear(&errs);
    bw_store_close(store);
    return 1;
  }
  /* The store lists from since on; --until drops those opened after it. */
  size_t kept = 0;
  for (size_t i = 0; i < n; i++)
    kept += list[i].opened_us < until;
  json_t *arr = json ? json_array() : NULL;
  if (!json && kept == 0)
    (void)printf(open_only ? "no open regressions\n" : "no regressions in this period\n");
  else if (!json)
    (void)printf("%5s  %-16s  %-22s  %-30s  %-12s %10s %10s %7s\n", "ID", "OPENED", "STATE",
                 "TARGET", "METRIC", "BASELINE", "OBSERVED", "RATIO");
  for (size_t i = 0; i < n; i++) {
    const struct bw_regression *g = &list[i];
    if (g->opened_us >= until)
      continue;
    if (json) {
      (void)json_array_append_new(arr, regression_json(g));
      continue;
    }
    char opened[32], state[64], dur[32], target[128], metric[32], base[16] = "-", obs[16] = "-",
                                                                  ratio[16] = "-";
    local_time(g->opened_us, opened, sizeof(opened));
    if (g->closed_us == BW_NONE) {
      span(now - g->opened_us, dur, sizeof(dur));
      (void)snprintf(state, sizeof(state), "open for %s", dur);
    } else {
      span(g->closed_us - g->opened_us, dur, sizeof(dur));
      (void)snprintf(state, sizeof(state), "%s after %s", regression_state(g), dur);
    }
    (void)snprintf(target, sizeof(target), "%s%s%s%s", g->test, g->backend[0] ? " [" : "",
                   g->backend, g->backend[0] ? "]" : "");
    const struct bw_metric *m = bw_detect_metric_find(g->metric);
    if (m) {
      (void)snprintf(metric, sizeof(metric), "%s (%s)", m->label, m->unit);
      if (!isnan(g->baseline))
        (void)snprintf(base, sizeof(base), "%.2f", g->baseline / m->scale);
      if (!isnan(g->observed))
        (void)snprintf(obs, sizeof(obs), "%.2f", g->observed / m->scale);
      if (!isnan(g->ratio))
        (void)snprintf(ratio, sizeof(ratio), "x%.2f", g->ratio);
    } else {
      (void)snprintf(metric, sizeof(metric), "%s", g->metric);
    }
    (void)printf("%5" PRId64 "  %-16s  %-22s  %-30s  %-12s %10s %10s %7s\n", g->id, opened, state,
                 target, metric, base, obs, ratio);
  }
  bw_regressions_free(list, n);
  bw_store_close(store);
  return json ? print_json(arr) : 0;
}

static const struct bw_metric *pick_metric(struct bw_store *store, int64_t target_id,
                                           const struct bw_test *t, const char *asked);

/*
 * Backends compared: the latest download of each backend of test name, and the sentences of the
 * ones whose facts differ from the others' (bw_diagnose_odd()). Prints nothing when none
 * differs or the test is not a download. Returns 0, or -1 after printing a store error.
 */
static int print_odd_one_out(struct bw_store *store, const char *name, char *const *backends,
                             size_t nb) {
  struct bw_run *runs = bw_xcalloc(nb + 1, sizeof(*runs));
  const struct bw_run **pp = bw_xcalloc(nb + 1, sizeof(*pp));
  size_t n = 0;
  int r = 0;
  for (size_t i = 0; i < nb && r == 0; i++) {
    struct bw_errs errs = {0};
    struct bw_point *pts = NULL;
    size_t np = 0;
    int64_t id;
    if (bw_store_find_target(store, name, backends[i], &id, &errs) == 0 &&
        bw_store_series(store, id, "rate_bps", 0, INT64_MAX, &pts, &np, &errs) == 0 && np > 0) {
      r = bw_store_get_run(store, pts[np - 1].run_id, &runs[n], &errs);
      if (r == 0 && runs[n].kind == BW_KIND_DOWNLOAD) {
        pp[n] = &runs[n];
        n++;
      } else {
        bw_run_reset(&runs[n]);
      }
    }
    if (r < 0)
      print_errs(&errs);
    free(pts);
    bw_errs_clear(&errs);
  }
  char **odd = bw_diagnose_odd(pp, n);
  if (odd[0])
    (void)printf("\nBackends compared (latest runs):\n");
  for (size_t i = 0; odd[i]; i++)
    (void)printf("  %s\n", odd[i]);
  bw_diagnose_free(odd);
  for (size_t i = 0; i < n; i++)
    bw_run_reset(&runs[i]);
  free(runs);
  free(pp);
  return r < 0 ? -1 : 0;
}

static void baseline_usage(FILE *f) {
  (void)fprintf(f, "usage: benchwatch baseline [-c CONFIG | --db F] [--backend B] [--json] TEST\n"
                   "The baseline (rolling mode) of each target of TEST, and its state.\n"
                   "Exit status: 0, 1 no such target or a database error, 64 usage,\n"
                   "66 no database, 78 config.\n");
}

int cmd_baseline(int argc, char **argv) {
  static const struct option longopts[] = {
      {"backend", required_argument, NULL, 'b'},
      {"json", no_argument, NULL, O_JSON},
      COMMON_LONGOPTS,
      {NULL, 0, NULL, 0},
  };
  const char *db = NULL, *config = NULL, *backend = NULL;
  bool json = false;
  int ch;
  while ((ch = getopt_long(argc, argv, "b:c:C:Vh", longopts, NULL)) != -1) {
    switch (ch) {
    case 'b':
      backend = optarg;
      break;
    case O_JSON:
      json = true;
      break;
    case O_DB:
      db = optarg;
      break;
    case 'c':
    case 'C':
      config = optarg;
      break;
    case 'V':
      return print_version();
    case 'h':
      baseline_usage(stdout);
      return 0;
    default:
      baseline_usage(stderr);
      return 64;
    }
  }
  if (optind != argc - 1) {
    baseline_usage(stderr);
    return 64;
  }
  const char *name = argv[optind];
  struct bw_store *store = NULL;
  struct bw_config *cfg = NULL;
  int r = open_history(db, config, false, &store, &cfg);
  if (r)
    return r;
  /* The window and the test's backends come from the config when there is one. */
  struct bw_detect det;
  bw_config_default_detect(&det);
  const struct bw_test *t = cfg ? bw_config_find_test(cfg, name) : NULL;
  if (cfg)
    det = t ? t->detect : cfg->detect;
  char *const *backends = (char *const[]){(char *)(uintptr_t)(backend ? backend : "")};
  size_t nb = 1;
  if (t && !backend && t->n_backends) {
    backends = t->backends;
    nb = t->n_backends;
  }
  int status = 0;
  int64_t now = bw_wall_us();
  json_t *arr = json ? json_array() : NULL;
  if (!json)
    (void)printf("%-30s  %-12s %10s %10s %6s  %s\n", "TARGET", "METRIC", "MODE", "SPREAD", "RUNS",
                 "STATE");
  for (size_t i = 0; i < nb; i++) {
    struct bw_errs errs = {0};
    int64_t target_id;
    if (bw_store_find_target(store, name, backends[i], &target_id, &errs) < 0) {
      print_errs(&errs);
      bw_errs_clear(&errs);
      status = 1;
      continue;
    }
    const struct bw_metric *m = pick_metric(store, target_id, t, NULL);
    struct bw_judge_view jv;
    /* The window as the judge's next verdict will see it. */
    if (bw_judge_state(store, &det, target_id, m, now + 1, &jv, &errs) < 0) {
      print_errs(&errs);
      bw_errs_clear(&errs);
      status = 1;
      continue;
    }
    size_t n = jv.baseline.n;
    char target[128], metric[32], mode[16] = "-", spread[16] = "-", state[160], when[32];
    (void)snprintf(target, sizeof(target), "%s%s%s%s", name, backends[i][0] ? " [" : "",
                   backends[i], backends[i][0] ? "]" : "");
    (void)snprintf(metric, sizeof(metric), "%s (%s)", m->label, m->unit);
    if (n) {
      (void)snprintf(mode, sizeof(mode), "%.2f", jv.baseline.mode / m->scale);
      (void)snprintf(spread, sizeof(spread), "%.0f%%", (exp(jv.baseline.spread) - 1) * 100);
    }
    if (jv.open) {
      local_time(jv.opened_us, when, sizeof(when));
      (void)snprintf(state, sizeof(state), "REGRESSED since %s (frozen baseline %.2f)", when,
                     jv.reference / m->scale);
    } else if (jv.avail_open) {
      local_time(jv.avail_opened_us, when, sizeof(when));
      (void)snprintf(state, sizeof(state), "FAILING since %s (availability)", when);
    } else if ((int64_t)n < det.min_runs) {
      (void)snprintf(state, sizeof(state), "learning: %zu of %" PRId64 " runs", n, det.min_runs);
    } else {
      (void)snprintf(state, sizeof(state), "normal");
    }
    if (jv.open && jv.avail_open)
      (void)snprintf(state + strlen(state), sizeof(state) - strlen(state), "; FAILING");
    if (json) {
      json_t *o = json_object();
      const char *what = jv.open                     ? "regressed"
                         : jv.avail_open             ? "failing"
                         : (int64_t)n < det.min_runs ? "learning"
                                                     : "normal";
      (void)json_object_set_new(o, "test", bw_json_str(name));
      (void)json_object_set_new(o, "backend", bw_json_str(backends[i]));
      (void)json_object_set_new(o, "metric", bw_json_str(m->name));
      (void)json_object_set_new(o, "mode", figure_json(m, n ? jv.baseline.mode : (double)NAN));
      (void)json_object_set_new(o, "spread",
                                bw_json_real(n ? exp(jv.baseline.spread) - 1 : (double)NAN));
      (void)json_object_set_new(o, "runs", bw_json_int((int64_t)n));
      (void)json_object_set_new(o, "min_runs", bw_json_int(det.min_runs));
      (void)json_object_set_new(o, "state", bw_json_str(what));
      (void)json_object_set_new(o, "reference", figure_json(m, jv.reference));
      (void)json_object_set_new(o, "regressed_since_us",
                                bw_json_int(jv.open ? jv.opened_us : BW_NONE));
      (void)json_object_set_new(o, "failing_since_us",
                                bw_json_int(jv.avail_open ? jv.avail_opened_us : BW_NONE));
      (void)json_array_append_new(arr, o);
    } else {
      (void)printf("%-30s  %-12s %10s %10s %6zu  %s\n", target, metric, mode, spread, n, state);
    }
    bw_errs_clear(&errs);
  }
  if (!json && nb >= 3 && print_odd_one_out(store, name, backends, nb) < 0)
    status = 1;
  if (json && print_json(arr) != 0)
    status = 1;
  bw_config_free(cfg);
  bw_store_close(store);
  return status;
}

/*
 * The metric to show for a target: the one asked for, else the headline of the test's kind (from
 * the config, or the kind the store recorded for the target).
 */
static const struct bw_metric *pick_metric(struct bw_store *store, int64_t target_id,
                                           const struct bw_test *t, const char *asked) {
  if (asked) {
    const struct bw_metric *m = bw_detect_metric_find(asked);
    if (!m) {
      (void)fprintf(stderr, "benchwatch: unknown metric \"%s\" (one of", asked);
      for (const struct bw_metric *k = bw_metrics; k->name; k++)
        (void)fprintf(stderr, " %s", k->name);
      (void)fprintf(stderr, ")\n");
    }
    return m;
  }
  if (t)
    return bw_detect_metric(t->kind);
  /* The kind the store recorded for the target when its test is no longer configured. */
  struct bw_target_row row;
  struct bw_errs errs = {0};
  enum bw_kind kind = BW_KIND_PAGE;
  memset(&row, 0, sizeof(row));
  if (bw_store_target_get(store, target_id, &row, &errs) == 0) {
    kind = row.kind;
    bw_target_row_reset(&row);
  }
  bw_errs_clear(&errs);
  return bw_detect_metric(kind);
}

/* The replayed history of one target: its points and the verdict on each. */
struct replayed {
  int64_t target_id;
  const struct bw_metric *m;
  struct bw_point *pts;
  struct bw_replay_verdict *v;
  size_t n;
  struct bw_replay_end end; /* the detector after the last run and any later ack */
};

static int replay_target(struct bw_store *store, const struct bw_detect *det, const char *test,
                         const char *backend, const struct bw_test *t, const char *metric,
                         struct replayed *ret) {
  struct bw_errs errs = {0};
  int64_t id;
  memset(ret, 0, sizeof(*ret));
  if (bw_store_find_target(store, test, backend, &id, &errs) < 0) {
    print_errs(&errs);
    bw_errs_clear(&errs);
    return 1;
  }
  ret->target_id = id;
  ret->m = pick_metric(store, id, t, metric);
  if (!ret->m)
    return 64;
  if (bw_store_series(store, id, ret->m->name, INT64_MIN, INT64_MAX, &ret->pts, &ret->n, &errs) <
      0) {
    print_errs(&errs);
    bw_errs_clear(&errs);
    return 1;
  }
  /* Acks are replayed where people made them, as the daemon took them. */
  int64_t *acks = NULL, *avail_acks = NULL;
  size_t n_acks = 0, n_avail_acks = 0;
  if (bw_store_acks(store, id, ret->m->name, &acks, &n_acks, &errs) < 0 ||
      bw_store_acks(store, id, BW_METRIC_AVAILABILITY, &avail_acks, &n_avail_acks, &errs) < 0) {
    print_errs(&errs);
    bw_errs_clear(&errs);
    free(acks);
    return 1;
  }
  ret->v = bw_xcalloc(ret->n + 1, sizeof(*ret->v));
  bw_detect_replay(det, ret->m, t ? t->every_us : 3600 * INT64_C(1000000), ret->pts, ret->n, acks,
                   n_acks, avail_acks, n_avail_acks, ret->v, &ret->end);
  free(acks);
  free(avail_acks);
  return 0;
}

static void replayed_free(struct replayed *r) {
  free(r->pts);
  free(r->v);
}

static void utc_time(int64_t us, char *buf, size_t size) {
  time_t t = (time_t)(us / 1000000);
  struct tm tm;
  if (!gmtime_r(&t, &tm) || strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
    (void)snprintf(buf, size, "?");
}

/* The events of a replayed run, for people: "", "OPENED", "CLOSED (availability)", ... */
static const char *event_name(const struct bw_replay_verdict *v) {
  static const char *const names[3][3] = {
      {"", "OPENED (availability)", "CLOSED (availability)"},
      {"OPENED", "OPENED, OPENED (availability)", "OPENED, CLOSED (availability)"},
      {"CLOSED", "CLOSED, OPENED (availability)", "CLOSED, CLOSED (availability)"},
  };
  unsigned p = (unsigned)v->v.event, a = (unsigned)v->avail_event;
  return p < 3 && a < 3 ? names[p][a] : "";
}

/* The values as one line of block characters, low to high, at most width columns. */
static void sparkline(const struct replayed *r, size_t from, size_t to, size_t width) {
  static const char *const blocks[] = {"\u2581", "\u2582", "\u2583", "\u2584",
                                       "\u2585", "\u2586", "\u2587", "\u2588"};
  size_t n = to - from;
  double lo = INFINITY, hi = -INFINITY;
  if (n == 0)
    return;
  for (size_t i = from; i < to; i++) {
    if (isnan(r->pts[i].value))
      continue;
    lo = fmin(lo, r->pts[i].value);
    hi = fmax(hi, r->pts[i].value);
  }
  size_t cols = n < width ? n : width;
  (void)printf("\n%s over time (%.2f to %.2f %s; x = failed):\n  ", r->m->label, lo / r->m->scale,
               hi / r->m->scale, r->m->unit);
  for (size_t c = 0; c < cols; c++) {
    size_t a = from + c * n / cols, b = from + (c + 1) * n / cols;
    double sum = 0;
    size_t k = 0;
    for (size_t i = a; i < b; i++)
      if (!isnan(r->pts[i].value)) {
        sum += r->pts[i].value;
        k++;
      }
    if (k == 0) {
      (void)printf("x");
      continue;
    }
    double mean = sum / (double)k;
    int level = hi > lo ? (int)((mean - lo) / (hi - lo) * 7.999) : 0;
    (void)printf("%s", blocks[level]);
  }
  (void)printf("\n");
}

/*
 * Under a run that failed or was worse, why (bw_diagnose()): only those are read back whole, so
 * a long history costs no more than before for its ordinary runs.
 */
static void print_why(struct bw_store *store, int64_t run_id) {
  struct bw_run run;
  struct bw_errs errs = {0};
  bw_run_init(&run);
  if (bw_store_get_run(store, run_id, &run, &errs) == 0) {
    char *why = bw_diagnose_text(&run, NULL, 0);
    if (*why)
      (void)printf("%28s why: %s\n", "", why);
    free(why);
  }
  bw_run_reset(&run);
  bw_errs_clear(&errs);
}

/* A run's word in history: what the judge made of it, as replayed. */
static const char *verdict_word(const struct bw_point *p, const struct bw_replay_verdict *rv) {
  /* a run of an open regression never reads "ok", even one that looks normal by itself */
  return isnan(p->value) ? "failed"
         : !rv->v.judged ? "learning"
         : rv->open      ? "regressed"
         : rv->v.bad     ? "worse"
                         : "ok";
}

/*
 * A sweep's history (bw_sweep.h): the curve of each step's latest run in [from_us, until_us),
 * with the judge's word on it. Each step's own history is that of its target ("api@c4").
 * *ret_found is false when the store has no step of name on backend.
 */
static int sweep_history(struct bw_store *store, const struct bw_detect *det, const char *name,
                         const char *backend, const struct bw_test *t, int64_t from_us,
                         int64_t until_us, bool csv, bool json, bool *ret_found) {
  struct bw_target_row *rows = NULL;
  size_t n_rows = 0;
  struct bw_errs errs = {0};
  struct bw_sweep_curve *curves = NULL;
  size_t n_curves = 0;
  int r = 0;
  *ret_found = false;
  if (bw_store_targets(store, &rows, &n_rows, &errs) < 0) {
    print_errs(&errs);
    bw_errs_clear(&errs);
    return 1;
  }
  for (size_t i = 0; i < n_rows && r == 0; i++) {
    if (strcmp(rows[i].test, name) == 0 || !bw_sweep_is_of(rows[i].test, name) ||
        strcmp(rows[i].backend, backend) != 0)
      continue;
    struct replayed rp;
    r = replay_target(store, det, rows[i].test, backend, t, NULL, &rp);
    if (r == 0) {
      size_t end = rp.n;
      while (end > 0 && rp.pts[end - 1].started_us >= until_us)
        end--;
      struct bw_run run;
      bw_run_init(&run);
      bool have = end > 0 && rp.pts[end - 1].started_us >= from_us &&
                  bw_store_get_run(store, rp.pts[end - 1].run_id, &run, &errs) == 0;
      bw_errs_clear(&errs);
      (void)bw_sweep_curves_add(&curves, &n_curves, rows[i].test, backend, have ? &run : NULL,
                                rows[i].id,
                                have ? verdict_word(&rp.pts[end - 1], &rp.v[end - 1]) : "no runs");
      for (size_t c = 0; have && c < n_curves; c++)
        for (size_t k = 0; k < curves[c].n_points; k++)
          if (curves[c].points[k].target_id == rows[i].id)
            curves[c].points[k].run_id = rp.pts[end - 1].run_id;
      bw_run_reset(&run);
    }
    replayed_free(&rp);
  }
  bw_target_rows_free(rows, n_rows);
  *ret_found = n_curves > 0;
  for (size_t c = 0; r == 0 && c < n_curves; c++) {
    const struct bw_sweep_curve *cv = &curves[c];
    enum bw_knee why;
    long knee = bw_sweep_knee(cv->points, cv->n_points, &why);
    if (json) {
      r = print_json(bw_sweep_json(cv));
    } else if (csv) {
      (void)printf("%s,requests,rps,p50_ms,verdict,knee\n",
                   cv->axis == 'n' ? "step_requests" : "concurrency");
      for (size_t k = 0; k < cv->n_points; k++) {
        const struct bw_sweep_point *p = &cv->points[k];
        (void)printf("%" PRId64 ",", p->value);
        if (p->requests != BW_NONE)
          (void)printf("%" PRId64, p->requests);
        (void)printf(",");
        if (isfinite(p->rps))
          (void)printf("%.3f", p->rps);
        (void)printf(",");
        if (isfinite(p->p50_us))
          (void)printf("%.3f", p->p50_us / 1000.0);
        (void)printf(",%s,%s\n", p->state ? p->state : "", (long)k == knee ? "knee" : "");
      }
    } else {
      char *text = bw_sweep_text(cv, "  ");
      (void)printf("sweep %s%s%s%s: %zu steps, the latest run of each (a step's own history: "
                   "benchwatch history %s@%c%" PRId64 ")\n%s",
                   cv->test, backend[0] ? " [" : "", backend, backend[0] ? "]" : "", cv->n_points,
                   cv->test, cv->axis, cv->points[0].value, text);
      free(text);
    }
  }
  bw_sweep_curves_free(curves, n_curves);
  return r;
}

static void history_usage(FILE *f) {
  (void)fprintf(f,
                "usage: benchwatch history [-c CONFIG | --db F] [--backend B] [--since WHEN]\n"
                "                          [--until WHEN] [--metric M] [--csv | --json] TEST\n"
                "Runs with their figure, the baseline and the detector's verdict (replayed\n"
                "with the configured detect settings), and a chart of the figure.\n"
                "  -s, --since WHEN  a duration back from now (default 7d), a date (2026-11-21,\n"
                "                    UTC) or an ISO 8601 time; --until WHEN ends the period\n"
                "Exit status: 0, 1 no such target or a database error, 64 usage,\n"
                "66 no database, 78 config.\n");
}

int cmd_history(int argc, char **argv) {
  enum { O_CSV = O_CMD0 };
  static const struct option longopts[] = {
      {"backend", required_argument, NULL, 'b'},
      {"since", required_argument, NULL, 's'},
      {"until", required_argument, NULL, O_UNTIL},
      {"metric", required_argument, NULL, 'm'},
      {"csv", no_argument, NULL, O_CSV},
      {"json", no_argument, NULL, O_JSON},
      COMMON_LONGOPTS,
      {NULL, 0, NULL, 0},
  };
  const char *db = NULL, *config = NULL, *backend = "", *metric = NULL;
  int64_t now = bw_wall_us(), from_us = now - 7 * 86400 * INT64_C(1000000), until_us = INT64_MAX;
  bool csv = false, json = false;
  int ch;
  while ((ch = getopt_long(argc, argv, "b:s:m:d:c:C:Vh", longopts, NULL)) != -1) {
    switch (ch) {
    case 'b':
      backend = optarg;
      break;
    case 's':
      if (parse_when("--since", optarg, now, &from_us) < 0)
        return 64;
      break;
    case O_UNTIL:
      if (parse_when("--until", optarg, now, &until_us) < 0)
        return 64;
      break;
    case 'm':
      metric = optarg;
      break;
    case O_CSV:
      csv = true;
      break;
    case O_JSON:
      json = true;
      break;
    case 'd':
    case O_DB:
      db = optarg;
      break;
    case 'c':
    case 'C':
      config = optarg;
      break;
    case 'V':
      return print_version();
    case 'h':
      history_usage(stdout);
      return 0;
    default:
      history_usage(stderr);
      return 64;
    }
  }
  if (optind != argc - 1 || (csv && json)) {
    history_usage(stderr);
    return 64;
  }
  struct bw_store *store = NULL;
  struct bw_config *cfg = NULL;
  int r = open_history(db, config, false, &store, &cfg);
  if (r)
    return r;
  struct bw_detect det;
  bw_config_default_detect(&det);
  if (cfg)
    det = cfg->detect;
  const struct bw_test *t = cfg ? bw_config_find_test(cfg, argv[optind]) : NULL;
  if (t)
    det = t->detect;
  /* A sweep has no target of its own name: its steps have (bw_sweep.h). */
  int64_t own_id;
  struct bw_errs nerrs = {0};
  if (!metric && bw_store_find_target(store, argv[optind], backend, &own_id, &nerrs) == -ENOENT) {
    bool found;
    bw_errs_clear(&nerrs);
    r = sweep_history(store, &det, argv[optind], backend, t, from_us, until_us, csv, json, &found);
    if (found || r) {
      bw_config_free(cfg);
      bw_store_close(store);
      return r;
    }
  }
  bw_errs_clear(&nerrs);
  struct replayed rp;
  r = replay_target(store, &det, argv[optind], backend, t, metric, &rp);
  if (r == 0) {
    size_t first = 0, end = rp.n;
    json_t *arr = json ? json_array() : NULL;
    while (first < rp.n && rp.pts[first].started_us < from_us)
      first++;
    while (end > first && rp.pts[end - 1].started_us >= until_us)
      end--;
    const struct bw_metric *m = rp.m;
    /* JSON rows also say when an https target's certificate expires, as each run read it. */
    struct bw_point *certs = NULL;
    size_t n_certs = 0, next_cert = 0;
    if (json && end > first) {
      struct bw_errs errs = {0};
      if (bw_store_series(store, rp.target_id, "cert_expires_us", rp.pts[first].started_us,
                          rp.pts[end - 1].started_us + 1, &certs, &n_certs, &errs) < 0) {
        print_errs(&errs);
        n_certs = 0;
      }
      bw_errs_clear(&errs);
    }
    if (csv)
      (void)printf("time,run_id,%s,baseline,ratio,verdict\n", m->name);
    else if (!json)
      (void)printf("%-20s %7s %12s %12s %7s  %s\n", "TIME (UTC)", "RUN", m->label, "BASELINE",
                   "RATIO", "VERDICT");
    for (size_t i = first; i < end; i++) {
      const struct bw_point *p = &rp.pts[i];
      const struct bw_verdict *v = &rp.v[i].v;
      const char *ev = event_name(&rp.v[i]);
      char when[32];
      /* a run of an open regression never reads "ok", even one that looks normal by itself */
      const char *verdict = isnan(p->value) ? "failed"
                            : !v->judged    ? "learning"
                            : rp.v[i].open  ? "regressed"
                            : v->bad        ? "worse"
                                            : "ok";
      utc_time(p->started_us, when, sizeof(when));
      if (csv) {
        (void)printf("%s,%" PRId64 ",", when, p->run_id);
        if (!isnan(p->value))
          (void)printf("%.0f", p->value);
        (void)printf(",");
        if (v->judged)
          (void)printf("%.0f,%.4f", v->reference, v->ratio);
        else
          (void)printf(",");
        (void)printf(",%s%s%s\n", verdict, *ev ? " " : "", ev);
      } else if (json) {
        json_t *o = json_object();
        (void)json_object_set_new(o, "test", bw_json_str(argv[optind]));
        (void)json_object_set_new(o, "backend", bw_json_str(backend));
        (void)json_object_set_new(o, "run_id", bw_json_int(p->run_id));
        (void)json_object_set_new(o, "time", bw_json_time(p->started_us));
        (void)json_object_set_new(o, "started_us", bw_json_int(p->started_us));
        (void)json_object_set_new(o, "metric", bw_json_str(m->name));
        (void)json_object_set_new(o, "value", figure_json(m, p->value));
        (void)json_object_set_new(o, "baseline",
                                  figure_json(m, v->judged ? v->reference : (double)NAN));
        (void)json_object_set_new(o, "ratio", bw_json_real(v->judged ? v->ratio : (double)NAN));
        (void)json_object_set_new(o, "verdict", bw_json_str(verdict));
        (void)json_object_set_new(o, "event", bw_json_str(ev));
        (void)json_object_set_new(o, "engine", bw_json_str(p->engine));
        while (next_cert < n_certs && certs[next_cert].started_us < p->started_us)
          next_cert++;
        double cert = (double)NAN;
        for (size_t k = next_cert; k < n_certs && certs[k].started_us == p->started_us; k++)
          if (certs[k].run_id == p->run_id)
            cert = certs[k].value;
        (void)json_object_set_new(o, "cert_expires_us",
                                  bw_json_int(isnan(cert) ? BW_NONE : (int64_t)cert));
        (void)json_array_append_new(arr, o);
      } else {
        char val[24] = "-", base[24] = "-", ratio[16] = "-";
        if (!isnan(p->value))
          (void)snprintf(val, sizeof(val), "%.2f", p->value / m->scale);
        if (v->judged) {
          (void)snprintf(base, sizeof(base), "%.2f", v->reference / m->scale);
          (void)snprintf(ratio, sizeof(ratio), "x%.2f", v->ratio);
        }
        (void)printf("%-20s %7" PRId64 " %12s %12s %7s  %s%s%s\n", when, p->run_id, val, base,
                     ratio, verdict, *ev ? "  REGRESSION " : "", ev);
        if (strcmp(verdict, "ok") != 0 && strcmp(verdict, "learning") != 0)
          print_why(store, p->run_id);
      }
    }
    free(certs);
    if (json)
      r = print_json(arr);
    else if (!csv && end > first)
      sparkline(&rp, first, end, 72);
    else if (!csv)
      (void)printf("no runs in this period\n");
  }
  replayed_free(&rp);
  bw_config_free(cfg);
  bw_store_close(store);
  return r;
}

static void backtest_usage(FILE *f) {
  (void)fprintf(f, "usage: benchwatch backtest [-c CONFIG] [--db F] [--backend B] [--json] TEST\n"
                   "Replays the detector, with the config's detect settings, over the stored\n"
                   "history of a target, and lists the regressions it would have opened and\n"
                   "closed. Tune the factors here before trusting the nightly mail.\n"
                   "Exit status: 0, 1 no such target or a database error, 64 usage,\n"
                   "66 no database, 78 config.\n");
}

int cmd_backtest(int argc, char **argv) {
  static const struct option longopts[] = {
      {"backend", required_argument, NULL, 'b'},
      {"json", no_argument, NULL, O_JSON},
      COMMON_LONGOPTS,
      {NULL, 0, NULL, 0},
  };
  const char *db = NULL, *config = NULL, *backend = "";
  bool json = false;
  int ch;
  while ((ch = getopt_long(argc, argv, "b:d:c:C:Vh", longopts, NULL)) != -1) {
    switch (ch) {
    case 'b':
      backend = optarg;
      break;
    case O_JSON:
      json = true;
      break;
    case 'd':
    case O_DB:
      db = optarg;
      break;
    case 'c':
    case 'C':
      config = optarg;
      break;
    case 'V':
      return print_version();
    case 'h':
      backtest_usage(stdout);
      return 0;
    default:
      backtest_usage(stderr);
      return 64;
    }
  }
  if (optind != argc - 1) {
    backtest_usage(stderr);
    return 64;
  }
  struct bw_store *store = NULL;
  struct bw_config *cfg = NULL;
  int r = open_history(db, config, false, &store, &cfg);
  if (r)
    return r;
  if (!cfg) {
    (void)fprintf(stderr, "benchwatch backtest: needs -c CONFIG (its detect settings)\n");
    bw_store_close(store);
    return 64;
  }
  const struct bw_test *t = bw_config_find_test(cfg, argv[optind]);
  struct replayed rp;
  r = replay_target(store, t ? &t->detect : &cfg->detect, argv[optind], backend, t, NULL, &rp);
  if (r == 0) {
    size_t opened = 0, closed = 0, failed = 0;
    bool open = rp.end.st.open;
    const struct bw_metric *m = rp.m;
    json_t *events = json ? json_array() : NULL;
    for (size_t i = 0; i < rp.n; i++) {
      const struct bw_verdict *v = &rp.v[i].v;
      enum bw_event av = rp.v[i].avail_event;
      failed += isnan(rp.pts[i].value);
      if (!v->event && !av)
        continue;
      char when[32];
      utc_time(rp.pts[i].started_us, when, sizeof(when));
      opened += (v->event == BW_EVENT_OPENED) + (av == BW_EVENT_OPENED);
      closed += (v->event == BW_EVENT_CLOSED) + (av == BW_EVENT_CLOSED);
      if (json) {
        json_t *o = json_object();
        bool figure = v->judged && v->event;
        (void)json_object_set_new(o, "test", bw_json_str(argv[optind]));
        (void)json_object_set_new(o, "backend", bw_json_str(backend));
        (void)json_object_set_new(o, "run_id", bw_json_int(rp.pts[i].run_id));
        (void)json_object_set_new(o, "time", bw_json_str(when));
        (void)json_object_set_new(o, "started_us", bw_json_int(rp.pts[i].started_us));
        (void)json_object_set_new(o, "event", bw_json_str(event_name(&rp.v[i])));
        (void)json_object_set_new(o, "metric", bw_json_str(m->name));
        (void)json_object_set_new(o, "baseline",
                                  figure_json(m, figure ? v->reference : (double)NAN));
        (void)json_object_set_new(o, "observed",
                                  figure_json(m, figure ? rp.pts[i].value : (double)NAN));
        (void)json_object_set_new(o, "ratio", bw_json_real(figure ? v->ratio : (double)NAN));
        (void)json_array_append_new(events, o);
      } else if (v->judged && v->event) {
        (void)printf("%s  %-22s  %s %.2f %s vs mode %.2f %s (x%.2f)\n", when, event_name(&rp.v[i]),
                     m->label, rp.pts[i].value / m->scale, m->unit, v->reference / m->scale,
                     m->unit, v->ratio);
      } else {
        (void)printf("%s  %s\n", when, event_name(&rp.v[i]));
      }
    }
    if (json) {
      json_t *o = json_object();
      (void)json_object_set_new(o, "test", bw_json_str(argv[optind]));
      (void)json_object_set_new(o, "backend", bw_json_str(backend));
      (void)json_object_set_new(o, "metric", bw_json_str(m->name));
      (void)json_object_set_new(o, "events", events);
      (void)json_object_set_new(o, "runs", bw_json_int((int64_t)rp.n));
      (void)json_object_set_new(o, "failed", bw_json_int((int64_t)failed));
      (void)json_object_set_new(o, "opened", bw_json_int((int64_t)opened));
      (void)json_object_set_new(o, "closed", bw_json_int((int64_t)closed));
      (void)json_object_set_new(o, "open_at_end", json_boolean(open));
      r = print_json(o);
    } else
      (void)printf("%s%s%s%s: %zu runs replayed (%zu failed): %zu regressions opened, %zu "
                   "closed%s\n",
                   argv[optind], backend[0] ? " [" : "", backend, backend[0] ? "]" : "", rp.n,
                   failed, opened, closed, open ? "; one still open" : "");
  }
  replayed_free(&rp);
  bw_config_free(cfg);
  bw_store_close(store);
  return r;
}
