/* benchwatch regressions and benchwatch baseline: reading what the daemon decided. */
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bw_detect.h"
#include "bw_transfer.h"
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
  int r = open_history(db, config, &store, NULL);
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

int cmd_regressions(int argc, char **argv) {
  static const struct option longopts[] = {
      {"open", no_argument, NULL, 'o'},        {"since", required_argument, NULL, 's'},
      {"db", required_argument, NULL, 'd'},    {"config", required_argument, NULL, 'C'},
      {"help", no_argument, NULL, 'h'},        {NULL, 0, NULL, 0},
  };
  const char *db = NULL, *config = NULL;
  bool open_only = false;
  int64_t since = 7 * 86400 * INT64_C(1000000);
  int ch;
  while ((ch = getopt_long(argc, argv, "os:d:C:h", longopts, NULL)) != -1) {
    switch (ch) {
    case 'o':
      open_only = true;
      break;
    case 's':
      if (parse_since(optarg, &since) < 0)
        return 64;
      break;
    case 'd':
      db = optarg;
      break;
    case 'C':
      config = optarg;
      break;
    case 'h':
      (void)printf("usage: benchwatch regressions [--open] [--since 7d] [--db F | --config F]\n"
                   "       benchwatch regressions ack ID   accept a change as the new normal\n");
      return 0;
    default:
      return 64;
    }
  }
  if (optind < argc && strcmp(argv[optind], "ack") == 0)
    return regressions_ack(argc - optind - 1, argv + optind + 1, db, config);
  if (optind != argc) {
    (void)fprintf(stderr, "usage: benchwatch regressions [--open] [--since 7d] | ack ID\n");
    return 64;
  }
  struct bw_store *store = NULL;
  struct bw_regression *list = NULL;
  struct bw_errs errs = {0};
  size_t n = 0;
  int r = open_history(db, config, &store, NULL);
  if (r)
    return r;
  int64_t now = bw_wall_us();
  if (bw_store_regressions(store, now - since, open_only, &list, &n, &errs) < 0) {
    print_errs(&errs);
    bw_errs_clear(&errs);
    bw_store_close(store);
    return 1;
  }
  if (n == 0)
    (void)printf(open_only ? "no open regressions\n" : "no regressions in this period\n");
  else
    (void)printf("%5s  %-16s  %-22s  %-30s  %-12s %10s %10s %7s\n", "ID", "OPENED", "STATE",
                 "TARGET", "METRIC", "BASELINE", "OBSERVED", "RATIO");
  for (size_t i = 0; i < n; i++) {
    const struct bw_regression *g = &list[i];
    char opened[32], state[64], dur[32], target[128], metric[32], base[16] = "-", obs[16] = "-",
                                                                  ratio[16] = "-";
    local_time(g->opened_us, opened, sizeof(opened));
    if (g->closed_us == BW_NONE) {
      span(now - g->opened_us, dur, sizeof(dur));
      (void)snprintf(state, sizeof(state), "open for %s", dur);
    } else {
      span(g->closed_us - g->opened_us, dur, sizeof(dur));
      (void)snprintf(state, sizeof(state), "%s after %s",
                     g->acked_us != BW_NONE ? "accepted" : "recovered", dur);
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
  return 0;
}

int cmd_baseline(int argc, char **argv) {
  static const struct option longopts[] = {
      {"backend", required_argument, NULL, 'b'}, {"db", required_argument, NULL, 'd'},
      {"config", required_argument, NULL, 'C'},  {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0},
  };
  const char *db = NULL, *config = NULL, *backend = NULL;
  int ch;
  while ((ch = getopt_long(argc, argv, "b:d:C:h", longopts, NULL)) != -1) {
    switch (ch) {
    case 'b':
      backend = optarg;
      break;
    case 'd':
      db = optarg;
      break;
    case 'C':
      config = optarg;
      break;
    case 'h':
      (void)printf("usage: benchwatch baseline TEST [--backend B] [--db F | --config F]\n");
      return 0;
    default:
      return 64;
    }
  }
  if (optind != argc - 1) {
    (void)fprintf(stderr, "usage: benchwatch baseline TEST [--backend B] [--db F | --config F]\n");
    return 64;
  }
  const char *name = argv[optind];
  struct bw_store *store = NULL;
  struct bw_config *cfg = NULL;
  int r = open_history(db, config, &store, &cfg);
  if (r)
    return r;
  /* The window and the test's backends come from the config when there is one. */
  struct bw_detect det = {.window_us = 7 * 86400 * INT64_C(1000000), .min_runs = 24};
  const struct bw_test *t = cfg ? bw_config_find_test(cfg, name) : NULL;
  if (cfg)
    det = cfg->detect;
  char *const *backends = (char *const[]){(char *)(uintptr_t)(backend ? backend : "")};
  size_t nb = 1;
  if (t && !backend && t->n_backends) {
    backends = t->backends;
    nb = t->n_backends;
  }
  int status = 0;
  int64_t now = bw_wall_us();
  (void)printf("%-30s  %-12s %10s %10s %6s  %s\n", "TARGET", "METRIC", "MODE", "SPREAD", "RUNS",
               "STATE");
  for (size_t i = 0; i < nb; i++) {
    struct bw_errs errs = {0};
    int64_t target_id, since;
    struct bw_detect_state st;
    struct bw_point *pts = NULL;
    size_t n = 0;
    if (bw_store_find_target(store, name, backends[i], &target_id, &errs) < 0 ||
        bw_store_detector_load(store, target_id, "p50_us", &st, &since, &errs) < 0) {
      print_errs(&errs);
      bw_errs_clear(&errs);
      status = 1;
      continue;
    }
    /* The kind decides the metric: a download has rates, a page latencies. */
    const struct bw_metric *m = bw_detect_metric(BW_KIND_PAGE);
    int64_t from = now - det.window_us > since ? now - det.window_us : since;
    if (bw_store_window(store, target_id, m->name, from, now + 1, 0, &pts, &n, &errs) == 0 &&
        n == 0) {
      free(pts);
      pts = NULL;
      m = bw_detect_metric(BW_KIND_DOWNLOAD);
      (void)bw_store_window(store, target_id, m->name, from, now + 1, 0, &pts, &n, &errs);
    }
    if (m->higher_is_worse == false)
      (void)bw_store_detector_load(store, target_id, m->name, &st, &since, &errs);
    double *v = bw_xmalloc((n + 1) * sizeof(*v));
    for (size_t k = 0; k < n; k++)
      v[k] = pts[k].value;
    struct bw_baseline b;
    bw_baseline_compute(v, n, &b);
    char target[128], metric[32], mode[16] = "-", mad[16] = "-", state[96];
    (void)snprintf(target, sizeof(target), "%s%s%s%s", name, backends[i][0] ? " [" : "",
                   backends[i], backends[i][0] ? "]" : "");
    (void)snprintf(metric, sizeof(metric), "%s (%s)", m->label, m->unit);
    if (n) {
      (void)snprintf(mode, sizeof(mode), "%.2f", b.mode / m->scale);
      (void)snprintf(mad, sizeof(mad), "%.2f", b.mad / m->scale);
    }
    if (st.open)
      (void)snprintf(state, sizeof(state), "REGRESSED (frozen baseline %.2f)",
                     st.open_baseline / m->scale);
    else if ((int64_t)n < det.min_runs)
      (void)snprintf(state, sizeof(state), "learning: %zu of %" PRId64 " runs", n, det.min_runs);
    else
      (void)snprintf(state, sizeof(state), "normal");
    (void)printf("%-30s  %-12s %10s %10s %6zu  %s\n", target, metric, mode, mad, n, state);
    free(v);
    free(pts);
    bw_errs_clear(&errs);
  }
  bw_config_free(cfg);
  bw_store_close(store);
  return status;
}
