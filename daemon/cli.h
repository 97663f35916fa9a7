#ifndef BW_CLI_H
#define BW_CLI_H

/* What the benchwatch commands share: messages, the config, the database. */

#include "bw_config.h"
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
int open_history(const char *db, const char *config_path, struct bw_store **ret,
                 struct bw_config **ret_cfg);
/* Parses a duration given on the command line ("7d"); prints an error and returns -1 if bad. */
int parse_since(const char *text, int64_t *ret_us);

int cmd_regressions(int argc, char **argv);
int cmd_baseline(int argc, char **argv);
/* benchwatch import: ab -g/-e files and plain "time value" text into a configured test's history. */
int cmd_import(int argc, char **argv);
/* benchwatch export: a target's runs as CSV or JSON, oldest first. */
int cmd_export(int argc, char **argv);
int cmd_history(int argc, char **argv);
int cmd_backtest(int argc, char **argv);
int cmd_report(int argc, char **argv);

#endif
