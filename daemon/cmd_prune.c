/* benchwatch prune: deletes history older than the config's retention, as the daemon does daily. */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bw_loop.h"
#include "bw_retention.h"
#include "bw_units.h"
#include "cli.h"

enum { O_SAMPLES = O_CMD0, O_RUNS, O_VACUUM };

static void prune_usage(FILE *f) {
  (void)fprintf(f,
                "usage: benchwatch prune [-c CONFIG | --db F] [--samples AGE] [--runs AGE]\n"
                "                        [-n | -y] [--vacuum] [--json]\n"
                "Deletes history older than the config's retention: the samples (per request,\n"
                "per timeline step) of old runs, and old runs (their days stay in run_day),\n"
                "keeping the runs regressions need. On a terminal it only says what it would\n"
                "delete unless given --yes.\n"
                "      --samples AGE  delete samples of runs older than AGE (0: keep them)\n"
                "      --runs AGE     delete runs older than AGE (0: keep them)\n"
                "  -n, --dry-run      only count what would go\n"
                "  -y, --yes          delete, also on a terminal\n"
                "      --vacuum       then rewrite the file compactly (VACUUM), and make it give\n"
                "                     freed space back on every later pass\n"
                "      --json         one JSON record of what was (or would be) deleted\n"
                "Exit status: 0, 1 database error, 64 usage, 66 no database, 78 config.\n");
}

static int parse_age(const char *opt, const char *text, int64_t *ret) {
  if (strcmp(text, "0") == 0) {
    *ret = 0;
    return 0;
  }
  if (bw_parse_duration(text, ret) < 0 || *ret <= 0) {
    (void)fprintf(stderr, "benchwatch prune: %s: expected a duration such as 90d or 0, got %s\n",
                  opt, text);
    return -1;
  }
  return 0;
}

static void put_time(char *buf, size_t size, int64_t us) {
  time_t t = (time_t)(us / 1000000);
  struct tm tm;
  (void)gmtime_r(&t, &tm);
  (void)strftime(buf, size, "%Y-%m-%d %H:%M UTC", &tm);
}

int cmd_prune(int argc, char **argv) {
  static const struct option longopts[] = {
      {"samples", required_argument, NULL, O_SAMPLES},
      {"runs", required_argument, NULL, O_RUNS},
      {"dry-run", no_argument, NULL, 'n'},
      {"yes", no_argument, NULL, 'y'},
      {"vacuum", no_argument, NULL, O_VACUUM},
      {"json", no_argument, NULL, O_JSON},
      COMMON_LONGOPTS,
      {NULL, 0, NULL, 0},
  };
  const char *db = NULL, *config = NULL;
  bool dry = false, yes = false, vacuum = false, json = false;
  int64_t samples = BW_NONE, runs = BW_NONE;
  int ch;
  while ((ch = getopt_long(argc, argv, "nyc:C:Vh", longopts, NULL)) != -1) {
    switch (ch) {
    case O_SAMPLES:
      if (parse_age("--samples", optarg, &samples) < 0)
        return 64;
      break;
    case O_RUNS:
      if (parse_age("--runs", optarg, &runs) < 0)
        return 64;
      break;
    case 'n':
      dry = true;
      break;
    case 'y':
      yes = true;
      break;
    case O_VACUUM:
      vacuum = true;
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
      prune_usage(stdout);
      return 0;
    default:
      prune_usage(stderr);
      return 64;
    }
  }
  if (optind != argc || (dry && yes)) {
    prune_usage(stderr);
    return 64;
  }
  /* A person at a terminal sees first what would go; scripts and timers delete. */
  bool asked = !dry && !yes && isatty(STDIN_FILENO) && isatty(STDOUT_FILENO);
  if (asked)
    dry = true;

  struct bw_store *store = NULL;
  struct bw_config *cfg = NULL;
  struct bw_errs errs = {0};
  int r = open_history(db, config, true, &store, &cfg);
  if (r)
    return r;
  struct bw_prune_plan plan;
  struct bw_prune_result res;
  bw_retention_plan(cfg, bw_wall_us(), samples, runs, &plan);
  if (plan.runs_before_us != BW_NONE && plan.now_us - plan.runs_before_us < plan.baseline_us) {
    char want[32];
    (void)bw_format_duration(plan.baseline_us, want, sizeof(want));
    (void)fprintf(stderr,
                  "benchwatch prune: runs must be kept at least as long as the longest detect "
                  "window (%s): the baseline reads that far back\n",
                  want);
    r = 64;
    goto out;
  }
  plan.dry_run = dry;
  if (bw_store_prune(store, &plan, &res, &errs) < 0) {
    print_errs(&errs);
    r = 1;
    goto out;
  }
  int64_t vacuumed = 0;
  if (vacuum && !dry && bw_store_vacuum(store, &vacuumed, &errs) < 0) {
    print_errs(&errs);
    r = 1;
    goto out;
  }
  res.bytes_freed += vacuumed;
  if (json) {
    json_t *o = json_object();
    (void)json_object_set_new(o, "dry_run", json_boolean(dry));
    (void)json_object_set_new(o, "samples_before_us", plan.samples_before_us == BW_NONE
                                                          ? json_null()
                                                          : json_integer(plan.samples_before_us));
    (void)json_object_set_new(o, "runs_before_us", plan.runs_before_us == BW_NONE
                                                       ? json_null()
                                                       : json_integer(plan.runs_before_us));
    (void)json_object_set_new(o, "samples", json_integer(res.samples));
    (void)json_object_set_new(o, "runs", json_integer(res.runs));
    (void)json_object_set_new(o, "runs_kept", json_integer(res.runs_kept));
    (void)json_object_set_new(o, "bytes_freed", json_integer(res.bytes_freed));
    r = print_json(o);
    goto out;
  }
  char when[64], size[32];
  if (plan.samples_before_us == BW_NONE && plan.runs_before_us == BW_NONE) {
    (void)printf("retention keeps everything (samples: 0, runs: 0): nothing to delete\n");
    goto out;
  }
  if (plan.samples_before_us != BW_NONE) {
    put_time(when, sizeof(when), plan.samples_before_us);
    (void)printf("samples of runs before %s: %" PRId64 " %s\n", when, res.samples,
                 dry ? "to delete" : "deleted");
  }
  if (plan.runs_before_us != BW_NONE) {
    put_time(when, sizeof(when), plan.runs_before_us);
    (void)printf("runs before %s: %" PRId64 " %s, %" PRId64 " kept for regressions\n", when,
                 res.runs, dry ? "to delete" : "deleted", res.runs_kept);
  }
  if (dry) {
    if (asked)
      (void)printf("nothing deleted: run with --yes to delete\n");
  } else if (res.bytes_freed > 0) {
    (void)printf("%s given back to the file system\n",
                 bw_format_size(res.bytes_freed, size, sizeof(size)));
  } else if (!res.shrinks && (res.samples || res.runs)) {
    (void)printf("the freed space is reused by new runs; --vacuum gives it back to the file "
                 "system\n");
  }
out:
  bw_errs_clear(&errs);
  bw_config_free(cfg);
  bw_store_close(store);
  return r;
}
