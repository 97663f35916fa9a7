/* Retention as a plan: boundaries from the config, the baseline's reach, when a pass is due. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "bw_config.h"
#include "bw_result.h"
#include "bw_retention.h"

#define DAY (86400 * INT64_C(1000000))
#define NOW (INT64_C(1796000000) * 1000000)

static struct bw_config *parse(const char *text) {
  struct bw_errs errs = {0};
  struct bw_config *cfg = bw_config_parse("t.yaml", text, strlen(text), &errs);
  assert_int_equal(errs.n, 0);
  assert_non_null(cfg);
  return cfg;
}

static void plan_from_config(void **state) {
  struct bw_prune_plan p;
  (void)state;
  struct bw_config *cfg = parse("retention: {samples: 30d, runs: 400d}\ndetect: {window: 7d}\n"
                                "tests:\n  - {name: a, kind: page, url: \"http://h/\"}\n"
                                "  - {name: b, kind: page, url: \"http://h/\","
                                " detect: {window: 60d}}\n");
  bw_retention_plan(cfg, NOW, BW_NONE, BW_NONE, &p);
  assert_int_equal(p.samples_before_us, NOW - 30 * DAY);
  assert_int_equal(p.runs_before_us, NOW - 400 * DAY);
  assert_int_equal(p.baseline_us, 60 * DAY); /* the longest window of any test */
  /* The command line's ages win; 0 keeps. */
  bw_retention_plan(cfg, NOW, 0, 500 * DAY, &p);
  assert_int_equal(p.samples_before_us, BW_NONE);
  assert_int_equal(p.runs_before_us, NOW - 500 * DAY);
  bw_config_free(cfg);
  /* Defaults: samples 90 days, runs kept. */
  cfg = parse("tests:\n  - {name: a, kind: page, url: \"http://h/\"}\n");
  bw_retention_plan(cfg, NOW, BW_NONE, BW_NONE, &p);
  assert_int_equal(p.samples_before_us, NOW - 90 * DAY);
  assert_int_equal(p.runs_before_us, BW_NONE);
  assert_int_equal(p.baseline_us, 7 * DAY);
  bw_config_free(cfg);
  /* Without a config: the defaults, and the longest window a config may set. */
  bw_retention_plan(NULL, NOW, BW_NONE, BW_NONE, &p);
  assert_int_equal(p.samples_before_us, NOW - 90 * DAY);
  assert_int_equal(p.runs_before_us, BW_NONE);
  assert_int_equal(p.baseline_us, 366 * DAY);
}

static void due_once_a_day(void **state) {
  (void)state;
  assert_true(bw_retention_due(BW_NONE, NOW));
  assert_false(bw_retention_due(NOW - DAY + 1, NOW));
  assert_true(bw_retention_due(NOW - DAY, NOW));
  assert_true(bw_retention_due(NOW + DAY, NOW)); /* a clock set back: not a year's wait */
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(plan_from_config),
      cmocka_unit_test(due_once_a_day),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
