/* The Prometheus exposition: names, units, escaping, and figures left out when unmeasured. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "bw_metrics.h"

static void render(void **state) {
  struct bw_run page, dl;
  struct bw_metrics_target t[2];
  struct bw_metrics_daemon d = {.started_us = 1000000, .last_run_us = 2500000,
                                .scheduler_lag_s = 0.25, .skips = 3};
  (void)state;
  bw_run_init(&page);
  bw_run_init(&dl);
  page.started_us = 1795000000000000;
  page.outcome = BW_OUTCOME_OK;
  page.p50_us = 98000;
  dl.started_us = 1795000001000000;
  dl.outcome = BW_OUTCOME_FAILED;
  memset(t, 0, sizeof(t));
  t[0] = (struct bw_metrics_target){.test = "portal-home", .backend = "", .kind = BW_KIND_PAGE,
                                    .runs = {7, 1, 0, 0}, .last = &page, .baseline = 97000,
                                    .regression_open = true};
  /* A label value with every character the format escapes. */
  t[1] = (struct bw_metrics_target){.test = "big", .backend = "a\"b\\c\nd", .kind =
                                    BW_KIND_DOWNLOAD, .runs = {0, 2, 0, 0}, .last = &dl,
                                    .baseline = NAN, .availability_open = true};
  char *text = bw_metrics_render(t, 2, &d);
  assert_non_null(strstr(text, "benchwatch_runs_total{test=\"portal-home\",backend=\"\","
                               "outcome=\"ok\"} 7\n"));
  assert_non_null(strstr(text, "benchwatch_page_median_seconds{test=\"portal-home\","
                               "backend=\"\"} 0.098\n"));
  assert_non_null(strstr(text, "benchwatch_baseline_seconds{test=\"portal-home\",backend=\"\"} "
                               "0.097\n"));
  assert_non_null(strstr(text, "backend=\"a\\\"b\\\\c\\nd\""));
  assert_non_null(strstr(text, "benchwatch_last_run_success{test=\"big\",backend=\"a\\\"b\\\\c"
                               "\\nd\"} 0\n"));
  assert_non_null(strstr(text, "benchwatch_regression_open{test=\"big\",backend=\"a\\\"b\\\\c\\nd\","
                               "kind=\"availability\"} 1\n"));
  assert_non_null(strstr(text, "benchwatch_regression_open{test=\"portal-home\",backend=\"\","
                               "kind=\"performance\"} 1\n"));
  /* Unmeasured figures and baselines are left out, not shown as 0. */
  assert_null(strstr(text, "benchwatch_download_bytes_per_second"));
  assert_null(strstr(text, "benchwatch_baseline_bytes_per_second"));
  assert_non_null(strstr(text, "benchwatch_skipped_runs_total 3\n"));
  assert_non_null(strstr(text, "benchwatch_scheduler_lag_seconds 0.250000\n"));
  assert_non_null(strstr(text, "# TYPE benchwatch_runs_total counter\n"));
  free(text);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(render)};
  return cmocka_run_group_tests_name("metrics", tests, NULL, NULL);
}
