#ifndef BW_CLI_H
#define BW_CLI_H

/* What the benchwatch commands share: messages, the config, the database. */

#include <getopt.h>
#include <stdbool.h>

#include "bw_config.h"
#include "bw_detect.h"
#include "bw_json.h"
#include "bw_store.h"
#include "bw_util.h"

#define BW_DEFAULT_CONFIG "/etc/benchwatch/benchwatch.yaml"

void print_errs(const struct bw_errs *errs);
/* Loads and validates a config file; prints every problem and returns NULL when unusable. */
struct bw_config *load_config(const char *path);
/*
 * Opens the database a command reads: db when given, else the one config_path names, else the
 * one the default config names (when it exists), else the default database. Prints why it
 * cannot. *ret_cfg (may be NULL) gets the config it read, if any.
 */
int open_history(const char *db, const char *config_path, bool write, struct bw_store **ret,
                 struct bw_config **ret_cfg);
/*
 * A point in time given to --since or --until (opt, for the message): a duration back from
 * now_us ("7d"), a date ("2026-11-21", from 00:00 UTC) or an ISO 8601 time. Prints an error and
 * returns -1 if bad.
 */
int parse_when(const char *opt, const char *text, int64_t now_us, int64_t *ret_us);
/* Prints j (stolen) as one line of JSON; 0, or 1 when stdout cannot be written. */
int print_json(json_t *j);
/*
 * A value of metric m (may be NULL) in its figure's unit (README "JSON"): an integer for a figure
 * stored as one (µs, bytes/s), null for NAN.
 */
json_t *figure_json(const struct bw_metric *m, double v);
/* "open", "accepted" or "recovered". */
const char *regression_state(const struct bw_regression *g);
/* One regression as a JSON record: id, test, backend, metric, state, times, figures. */
json_t *regression_json(const struct bw_regression *g);
/* "benchwatch VERSION" on stdout; returns 0, the exit status. */
int print_version(void);

/*
 * The options every command shares, for getopt_long: -c/--config (and the older -C), --db,
 * -V/--version, -h/--help. Long-only codes start at 256; each command adds its own.
 */
enum { O_DB = 256, O_JSON, O_UNTIL, O_CMD0 };
#define COMMON_LONGOPTS                                                                            \
  {"config", required_argument, NULL, 'c'}, {"db", required_argument, NULL, O_DB},                 \
      {"version", no_argument, NULL, 'V'}, {                                                       \
    "help", no_argument, NULL, 'h'                                                                 \
  }

int cmd_regressions(int argc, char **argv);
int cmd_baseline(int argc, char **argv);
/* benchwatch import: ab -g/-e files and plain "time value" text into a configured test's history.
 */
int cmd_import(int argc, char **argv);
/* benchwatch export: a target's runs as CSV or JSON, or every run as NDJSON, oldest first. */
int cmd_export(int argc, char **argv);
int cmd_history(int argc, char **argv);
int cmd_backtest(int argc, char **argv);
int cmd_report(int argc, char **argv);
/* benchwatch prune: history older than the retention, deleted (a dry run on a terminal). */
int cmd_prune(int argc, char **argv);

#endif
