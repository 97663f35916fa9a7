/*
 * benchwatchd: the daemon's process concerns (arguments, start-up checks). It loads the config
 * and opens (creating or migrating) the database exactly as the long-running service does.
 */
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include "bw_config.h"
#include "bw_file.h"
#include "bw_store.h"
#include "bw_util.h"

#define CONFIG_MAX_BYTES (4u << 20)
#define DEFAULT_CONFIG "/etc/benchwatch/benchwatch.yaml"

static void usage(FILE *f) {
  (void)fprintf(f, "usage: benchwatchd [-c FILE] [--check]\n"
                   "  -c, --config FILE  configuration (default " DEFAULT_CONFIG ")\n"
                   "      --check        load the config, open or migrate the database, and exit\n"
                   "      --version      print the version\n");
}

int main(int argc, char **argv) {
  static const struct option longopts[] = {
      {"config", required_argument, NULL, 'c'},
      {"check", no_argument, NULL, 'C'},
      {"version", no_argument, NULL, 'V'},
      {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0},
  };
  const char *path = DEFAULT_CONFIG;
  bool check = false;
  int ch, status = 1;
  struct bw_errs errs = {0};
  struct bw_config *cfg = NULL;
  struct bw_store *store = NULL;
  char *buf = NULL;
  size_t len = 0;

  while ((ch = getopt_long(argc, argv, "c:h", longopts, NULL)) != -1) {
    switch (ch) {
    case 'c':
      path = optarg;
      break;
    case 'C':
      check = true;
      break;
    case 'V':
      (void)printf("benchwatchd %s\n", BW_VERSION);
      return 0;
    case 'h':
      usage(stdout);
      return 0;
    default:
      usage(stderr);
      return 64;
    }
  }
  if (optind != argc) {
    usage(stderr);
    return 64;
  }

  if (bw_file_read(path, CONFIG_MAX_BYTES, &buf, &len, &errs) == 0)
    cfg = bw_config_parse(path, buf, len, &errs);
  if (!cfg) {
    for (size_t i = 0; i < errs.n; i++)
      (void)fprintf(stderr, "<3>%s\n", errs.msg[i]);
    status = BW_EXIT_CONFIG;
    goto out;
  }
  if (bw_store_open(cfg->database, &store, &errs) < 0) {
    for (size_t i = 0; i < errs.n; i++)
      (void)fprintf(stderr, "<3>%s\n", errs.msg[i]);
    goto out;
  }
  (void)fprintf(stderr, "<6>benchwatchd %s: %s: %zu tests; database %s (schema version %d)\n",
                BW_VERSION, cfg->path, cfg->n_tests, cfg->database, bw_store_version(store));
  if (check) {
    status = 0;
    goto out;
  }
  (void)fprintf(stderr, "<3>benchwatchd: the scheduler is not part of this build; use --check\n");
  status = 69; /* EX_UNAVAILABLE */
out:
  bw_store_close(store);
  bw_config_free(cfg);
  bw_errs_clear(&errs);
  free(buf);
  return status;
}
