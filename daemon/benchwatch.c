/*
 * benchwatch: the command line. Reads the same config and database as the daemon.
 * Each command is one function and one row in the table at the end.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bw_config.h"
#include "bw_file.h"
#include "bw_util.h"

#define CONFIG_MAX_BYTES (4u << 20)

static void print_errs(const struct bw_errs *errs) {
  for (size_t i = 0; i < errs->n; i++)
    (void)fprintf(stderr, "%s\n", errs->msg[i]);
}

/*
 * Loads and validates a config file; prints every problem and returns NULL when it is unusable.
 * Shared by every command that takes --config.
 */
static struct bw_config *load_config(const char *path) {
  struct bw_errs errs = {0};
  char *buf = NULL;
  size_t len = 0;
  struct bw_config *cfg = NULL;
  if (bw_file_read(path, CONFIG_MAX_BYTES, &buf, &len, &errs) == 0)
    cfg = bw_config_parse(path, buf, len, &errs);
  print_errs(&errs);
  if (!cfg && errs.n > 1)
    (void)fprintf(stderr, "%s: %zu problems\n", path, errs.n);
  bw_errs_clear(&errs);
  free(buf);
  return cfg;
}

static int cmd_check_config(int argc, char **argv) {
  static const struct option longopts[] = {
      {"print", no_argument, NULL, 'p'},
      {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0},
  };
  bool print = false;
  int ch;
  while ((ch = getopt_long(argc, argv, "ph", longopts, NULL)) != -1) {
    switch (ch) {
    case 'p':
      print = true;
      break;
    case 'h':
      (void)printf("usage: benchwatch check-config [--print] FILE\n"
                   "Validates FILE and reports every problem as FILE:LINE:COLUMN: key: message.\n"
                   "  -p, --print  show the fully resolved configuration (every default applied)\n"
                   "Exit status: 0 valid, 78 invalid, 64 usage.\n");
      return 0;
    default:
      return 64;
    }
  }
  if (optind != argc - 1) {
    (void)fprintf(stderr, "usage: benchwatch check-config [--print] FILE\n");
    return 64;
  }
  struct bw_config *cfg = load_config(argv[optind]);
  if (!cfg)
    return BW_EXIT_CONFIG;
  if (print) {
    char *dump = bw_config_dump(cfg);
    (void)fputs(dump, stdout);
    free(dump);
  } else {
    size_t targets = 0, pages = 0;
    for (size_t i = 0; i < cfg->n_tests; i++) {
      targets += cfg->tests[i].n_backends ? cfg->tests[i].n_backends : 1;
      pages += cfg->tests[i].kind == BW_KIND_PAGE;
    }
    (void)printf("%s: OK: %zu tests (%zu page, %zu download), %zu targets, database %s\n",
                 cfg->path, cfg->n_tests, pages, cfg->n_tests - pages, targets, cfg->database);
  }
  bw_config_free(cfg);
  return 0;
}

struct command {
  const char *name;
  int (*run)(int argc, char **argv);
  const char *help;
};

static const struct command commands[] = {
    {"check-config", cmd_check_config, "validate a config file (--print: show it resolved)"},
    {NULL, NULL, NULL},
};

static void usage(FILE *f) {
  (void)fprintf(f, "usage: benchwatch COMMAND [ARGS]\n\ncommands:\n");
  for (const struct command *c = commands; c->name; c++)
    (void)fprintf(f, "  %-14s %s\n", c->name, c->help);
  (void)fprintf(f, "\n'benchwatch COMMAND --help' describes one command.\n");
}

int main(int argc, char **argv) {
  if (argc < 2) {
    usage(stderr);
    return 64;
  }
  if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
      strcmp(argv[1], "help") == 0) {
    usage(stdout);
    return 0;
  }
  if (strcmp(argv[1], "--version") == 0) {
    (void)printf("benchwatch %s\n", BW_VERSION);
    return 0;
  }
  for (const struct command *c = commands; c->name; c++)
    if (strcmp(argv[1], c->name) == 0)
      return c->run(argc - 1, argv + 1);
  (void)fprintf(stderr, "benchwatch: unknown command \"%s\"\n", argv[1]);
  usage(stderr);
  return 64;
}
