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

/* build_info, the target info with its URL redacted, and the latest run's status, phases, rate. */
static void render_info(void **state) {
  struct bw_run page, dl;
  struct bw_metrics_target t[2];
  struct bw_metrics_daemon d = {0};
  (void)state;
  bw_run_init(&page);
  bw_run_init(&dl);
  page.started_us = dl.started_us = 1795000000000000;
  page.status = 200;
  page.duration_us = 1500000;
  page.connect_p50_us = 250;
  page.ttfb_p50_us = 4000;
  page.rps = 812.5;
  page.transfer_bps = 36200000;
  page.cert_expires_us = 1796232119000000;
  page.failed_check = 3;
  dl.status = 503;
  dl.streams = 8;
  dl.stream_min_bps = 4100000;
  t[0] = (struct bw_metrics_target){.test = "home",
                                    .backend = "",
                                    .kind = BW_KIND_PAGE,
                                    .last = &page,
                                    .baseline = NAN,
                                    .url = "https://user:secret@portal.example/x?a=\"1\""};
  t[1] = (struct bw_metrics_target){.test = "big",
                                    .backend = "node-1:8088",
                                    .kind = BW_KIND_DOWNLOAD,
                                    .last = &dl,
                                    .baseline = NAN};
  char *text = bw_metrics_render(t, 2, &d);
  assert_non_null(strstr(text, "# TYPE benchwatch_build_info gauge\n"
                               "benchwatch_build_info{version=\"" BW_VERSION_STRING "\"} 1\n"));
  assert_non_null(strstr(text, "benchwatch_target_info{test=\"home\",backend=\"\",kind=\"page\","
                               "url=\"https://user:***@portal.example/x?a=\\\"1\\\"\"} 1\n"));
  assert_null(strstr(text, "secret"));
  assert_non_null(strstr(text, "benchwatch_target_info{test=\"big\",backend=\"node-1:8088\","
                               "kind=\"download\",url=\"\"} 1\n"));
  assert_non_null(strstr(text, "benchwatch_http_status_code{test=\"home\",backend=\"\"} 200\n"));
  assert_non_null(strstr(text, "benchwatch_http_status_code{test=\"big\",backend=\"node-1:8088\"} "
                               "503\n"));
  assert_non_null(strstr(text, "benchwatch_last_run_duration_seconds{test=\"home\",backend=\"\"} "
                               "1.5\n"));
  assert_non_null(strstr(text, "benchwatch_page_connect_median_seconds{test=\"home\","
                               "backend=\"\"} 0.00025\n"));
  assert_non_null(strstr(text, "benchwatch_page_ttfb_median_seconds{test=\"home\",backend=\"\"} "
                               "0.004\n"));
  assert_non_null(strstr(text, "benchwatch_page_requests_per_second{test=\"home\",backend=\"\"} "
                               "812.5\n"));
  assert_non_null(strstr(text, "benchwatch_page_transfer_bytes_per_second{test=\"home\","
                               "backend=\"\"} 36200000\n"));
  assert_non_null(strstr(text, "benchwatch_download_streams{test=\"big\","
                               "backend=\"node-1:8088\"} 8\n"));
  assert_non_null(strstr(text, "benchwatch_download_stream_min_bytes_per_second{test=\"big\","
                               "backend=\"node-1:8088\"} 4100000\n"));
  assert_null(strstr(text, "benchwatch_download_streams{test=\"home\""));
  assert_non_null(strstr(text, "# TYPE benchwatch_cert_expiry_timestamp_seconds gauge\n"
                               "benchwatch_cert_expiry_timestamp_seconds{test=\"home\","
                               "backend=\"\"} 1796232119\n"));
  assert_null(strstr(text, "benchwatch_cert_expiry_timestamp_seconds{test=\"big\""));
  assert_non_null(strstr(text, "benchwatch_page_failed_checks{test=\"home\",backend=\"\"} 3\n"));
  /* Unmeasured: the download's duration; page figures never appear for a download. */
  assert_null(strstr(text, "benchwatch_last_run_duration_seconds{test=\"big\""));
  assert_null(strstr(text, "benchwatch_page_requests_per_second{test=\"big\""));
  free(text);

  /* No target has run: the families with nothing to show are left out entirely. */
  t[0].last = t[1].last = NULL;
  text = bw_metrics_render(t, 2, &d);
  assert_null(strstr(text, "benchwatch_http_status_code"));
  assert_null(strstr(text, "benchwatch_page_requests_per_second"));
  assert_non_null(strstr(text, "benchwatch_target_info{test=\"big\""));
  free(text);
}

static void render_reports(void **state) {
  struct bw_metrics_reports r = {.undelivered = 2, .last_delivered_us = 1795000000500000};
  (void)state;
  char *text = bw_metrics_render_reports(&r);
  assert_string_equal(text,
                      "# HELP benchwatch_reports_undelivered Nightly reports composed but not yet "
                      "accepted by the mail server.\n"
                      "# TYPE benchwatch_reports_undelivered gauge\n"
                      "benchwatch_reports_undelivered 2\n"
                      "# HELP benchwatch_report_last_delivered_timestamp_seconds When the mail "
                      "server last accepted a report, Unix time (0: none since start).\n"
                      "# TYPE benchwatch_report_last_delivered_timestamp_seconds gauge\n"
                      "benchwatch_report_last_delivered_timestamp_seconds 1795000000.500\n");
  free(text);
}

int main(void) {
  const struct CMUnitTest tests[] = {cmocka_unit_test(render), cmocka_unit_test(render_info),
                                     cmocka_unit_test(render_reports)};
  return cmocka_run_group_tests_name("metrics", tests, NULL, NULL);
}
