#include "cli.h"

#include <stdio.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bw_detect.h"
#include "bw_file.h"
#include "bw_import.h"
#include "bw_units.h"

void print_errs(const struct bw_errs *errs) {
  for (size_t i = 0; i < errs->n; i++)
    (void)fprintf(stderr, "%s\n", errs->msg[i]);
}

struct bw_config *load_config(const char *path) {
  struct bw_errs errs = {0};
  struct bw_config *cfg = bw_config_load(path, &errs);
  print_errs(&errs);
  if (!cfg && errs.n > 1)
    (void)fprintf(stderr, "%s: %zu problems\n", path, errs.n);
  bw_errs_clear(&errs);
  return cfg;
}

int open_history(const char *db, const char *config_path, bool write, struct bw_store **ret,
                 struct bw_config **ret_cfg) {
  struct bw_config *cfg = NULL;
  struct bw_errs errs = {0};
  if (!config_path && access(BW_DEFAULT_CONFIG, R_OK) == 0)
    config_path = BW_DEFAULT_CONFIG;
  if (config_path) {
    cfg = load_config(config_path);
    if (!cfg)
      return BW_EXIT_CONFIG;
  }
  const char *path = db ? db : cfg ? cfg->database : "/var/lib/benchwatch/benchwatch.db";
  if (!db && !cfg && access(path, F_OK) != 0) {
    (void)fprintf(stderr, "benchwatch: no database: give --db FILE or -c CONFIG\n");
    return 66; /* EX_NOINPUT */
  }
  /* Reading history never creates a database: a mistyped name is an error, not "no runs". */
  if (access(path, F_OK) != 0) {
    (void)fprintf(stderr, "benchwatch: %s: no such database%s\n", path,
                  db ? "" : " (benchwatchd creates it when it first stores a run)");
    bw_config_free(cfg);
    return 66; /* EX_NOINPUT */
  }
  int r = write ? bw_store_open(path, ret, &errs) : bw_store_open_readonly(path, ret, &errs);
  if (r < 0) {
    (void)bw_file_explain_db_error(path, &errs);
    print_errs(&errs);
    bw_errs_clear(&errs);
    bw_config_free(cfg);
    return 1;
  }
  if (ret_cfg)
    *ret_cfg = cfg;
  else
    bw_config_free(cfg);
  return 0;
}

int parse_when(const char *opt, const char *text, int64_t now_us, int64_t *ret_us) {
  int64_t d, at;
  size_t len = strlen(text);
  if (bw_parse_duration(text, &d) == 0) {
    *ret_us = now_us - d;
    return 0;
  }
  /* A date alone is its first second, UTC, as the times people give everywhere else here. */
  if (len == 10 && text[4] == '-' && text[7] == '-') {
    char *full = bw_xasprintf("%sT00:00:00Z", text);
    int r = bw_import_parse_time(full, strlen(full), &at, NULL);
    free(full);
    if (r == 0) {
      *ret_us = at;
      return 0;
    }
  } else if (strchr(text, '-') && bw_import_parse_time(text, len, &at, NULL) == 0) {
    *ret_us = at;
    return 0;
  }
  (void)fprintf(stderr,
                "benchwatch: %s: expected a duration back from now (24h, 7d), a date "
                "(2026-11-21) or an ISO 8601 time (2026-11-21T10:05:00Z), got \"%s\"\n",
                opt, text);
  return -1;
}

int print_json(json_t *j) {
  char *text = bw_json_take_text(j, false);
  (void)fputs(text, stdout);
  free(text);
  if (fflush(stdout) != 0 || ferror(stdout)) {
    (void)fprintf(stderr, "benchwatch: cannot write the output\n");
    return 1;
  }
  return 0;
}

int print_version(void) {
  (void)printf("benchwatch %s\n", BW_VERSION);
  return 0;
}

/*
 * A value of metric m in its figure's unit (README "JSON"): an integer for a figure stored as one
 * (µs, bytes/s), null for NAN.
 */
json_t *figure_json(const struct bw_metric *m, double v) {
  const struct bw_figure *f = m ? bw_figure_find(m->name) : NULL;
  if (isnan(v) || (f && f->real) || !f)
    return bw_json_real(v);
  return bw_json_int((int64_t)llround(v));
}

const char *regression_state(const struct bw_regression *g) {
  if (g->closed_us == BW_NONE)
    return "open";
  return g->acked_us != BW_NONE ? "accepted" : "recovered";
}

json_t *regression_json(const struct bw_regression *g) {
  json_t *o = json_object();
  (void)json_object_set_new(o, "id", bw_json_int(g->id));
  (void)json_object_set_new(o, "test", bw_json_str(g->test));
  (void)json_object_set_new(o, "backend", bw_json_str(g->backend));
  (void)json_object_set_new(o, "metric", bw_json_str(g->metric));
  (void)json_object_set_new(o, "state", bw_json_str(regression_state(g)));
  (void)json_object_set_new(o, "opened", bw_json_time(g->opened_us));
  (void)json_object_set_new(o, "opened_us", bw_json_int(g->opened_us));
  (void)json_object_set_new(o, "closed_us", bw_json_int(g->closed_us));
  (void)json_object_set_new(o, "accepted_us", bw_json_int(g->acked_us));
  const struct bw_metric *m = bw_detect_metric_find(g->metric);
  (void)json_object_set_new(o, "baseline", figure_json(m, g->baseline));
  (void)json_object_set_new(o, "observed", figure_json(m, g->observed));
  (void)json_object_set_new(o, "ratio", bw_json_real(g->ratio));
  return o;
}
