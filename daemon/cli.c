#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "bw_file.h"
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

int open_history(const char *db, const char *config_path, struct bw_store **ret,
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
    (void)fprintf(stderr, "benchwatch: no database: give --db FILE or --config FILE\n");
    return 1;
  }
  /* Reading history never creates a database: a mistyped name is an error, not "no runs". */
  if (access(path, F_OK) != 0) {
    (void)fprintf(stderr, "benchwatch: %s: no such database%s\n", path,
                  db ? "" : " (benchwatchd creates it when it first stores a run)");
    bw_config_free(cfg);
    return 66; /* EX_NOINPUT */
  }
  if (bw_store_open(path, ret, &errs) < 0) {
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

int parse_since(const char *text, int64_t *ret_us) {
  if (bw_parse_duration(text, ret_us) < 0) {
    (void)fprintf(stderr, "benchwatch: expected a duration such as 24h or 7d, got \"%s\"\n", text);
    return -1;
  }
  return 0;
}
