/*
 * libFuzzer harness for the configuration parser: any bytes go to bw_config_parse() as a whole
 * file. Beyond memory errors, leaks and undefined behaviour (ASan, UBSan) it checks the parser's
 * promises: a refused file comes with at least one message; an accepted one has tests, each copy
 * of a test frees cleanly, and bw_config_dump() writes YAML that bw_config_parse() accepts again
 * and that dumps to the same text (the --print output is a config, not a description of one).
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "bw_config.h"
#include "fuzz_check.h"

/* An absolute name, so a relative database path resolves the same way on every parse. */
#define NAME "/etc/benchwatch/fuzz.yaml"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  struct bw_errs errs = {0};
  struct bw_config *cfg = bw_config_parse(NAME, (const char *)data, size, &errs);
  if (!cfg) {
    FUZZ_CHECK(errs.n > 0);
    bw_errs_clear(&errs);
    return 0;
  }
  FUZZ_CHECK(errs.n == 0);
  FUZZ_CHECK(cfg->n_tests > 0);
  for (size_t i = 0; i < cfg->n_tests; i++) {
    struct bw_test copy;
    bw_test_copy(&copy, &cfg->tests[i]);
    FUZZ_CHECK(bw_config_find_test(cfg, copy.name) != NULL);
    bw_test_clear(&copy);
  }

  char *dump = bw_config_dump(cfg);
  struct bw_config *again = bw_config_parse(NAME, dump, strlen(dump), &errs);
  for (size_t i = 0; i < errs.n; i++)
    fprintf(stderr, "dump refused: %s\n", errs.msg[i]);
  FUZZ_CHECK(again != NULL);
  FUZZ_CHECK(again->n_tests == cfg->n_tests);
  char *dump2 = bw_config_dump(again);
  if (strcmp(dump, dump2) != 0)
    fprintf(stderr, "first dump:\n%s\nsecond dump:\n%s\n", dump, dump2);
  FUZZ_CHECK(strcmp(dump, dump2) == 0);

  free(dump2);
  free(dump);
  bw_config_free(again);
  bw_config_free(cfg);
  bw_errs_clear(&errs);
  return 0;
}
