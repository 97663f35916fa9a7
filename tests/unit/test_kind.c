/*
 * The table of kinds: every kind has every entry and they agree with the rest of the program
 * (names round-trip, the headline and judged figures exist and are measured by the kind, the
 * renderer shows a run), and the config takes and refuses keys by the kinds' rows, with
 * FILE:LINE:COL messages.
 */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "bw_config.h"
#include "bw_detect.h"
#include "bw_json.h"
#include "bw_kind.h"

static void every_kind_has_every_entry(void **state) {
  (void)state;
  for (size_t i = 0; i < BW_KIND_COUNT; i++) {
    const struct bw_kind_ops *k = &bw_kinds[i];
    enum bw_kind back;
    assert_int_equal(k->kind, (enum bw_kind)i);
    assert_ptr_equal(bw_kind_ops(k->kind), k);
    assert_non_null(k->name);
    assert_non_null(k->help);
    assert_non_null(k->start);
    assert_non_null(k->render);
    assert_non_null(k->sample_noun);
    assert_non_null(k->judged);
    assert_string_equal(bw_kind_name(k->kind), k->name);
    assert_int_equal(bw_kind_parse(k->name, &back), 0);
    assert_int_equal(back, k->kind);
    assert_non_null(strstr(bw_kind_names_text(), k->name));
    /* The headline is a figure the kind measures, and what the detector takes for it. */
    const struct bw_metric *m = bw_detect_metric_find(k->headline);
    assert_non_null(m);
    assert_true(m->kinds & (1u << k->kind));
    assert_ptr_equal(bw_detect_metric(k->kind), m);
    assert_non_null(bw_figure_find(k->headline));
    struct bw_detect d = {0};
    uint32_t judged = bw_detect_figures(&d, k->kind);
    assert_true(judged & BW_FIGURE_AVAILABILITY);
    assert_true(judged & (UINT32_C(1) << (m - bw_metrics)));
    for (size_t j = 0; k->judged[j]; j++) {
      const struct bw_metric *o = bw_detect_metric_find(k->judged[j]);
      assert_non_null(o);
      assert_true(o->kinds & (1u << k->kind));
      assert_true(judged & (UINT32_C(1) << (o - bw_metrics)));
    }
    /* A kind that takes requests and concurrency has one sample per request or connection. */
    if (bw_kind_takes(k->kind, BW_KEYS_SAMPLES))
      assert_true(k->samples & BW_COL_ERROR);
  }
  enum bw_kind none;
  assert_null(bw_kind_ops((enum bw_kind)BW_KIND_COUNT));
  assert_null(bw_kind_name((enum bw_kind)BW_KIND_COUNT));
  assert_int_equal(bw_kind_parse("pgae", &none), -EINVAL);
  assert_int_equal(bw_kind_parse(NULL, &none), -EINVAL);
  /* Every figure is measured by some kind, and by no kind that does not exist. */
  for (const struct bw_metric *m = bw_metrics; m->name; m++) {
    assert_true(m->kinds != 0);
    assert_int_equal(m->kinds >> BW_KIND_COUNT, 0);
  }
}

static void connect_row(void **state) {
  (void)state;
  const struct bw_kind_ops *k = bw_kind_ops(BW_KIND_CONNECT);
  assert_string_equal(k->name, "connect");
  assert_string_equal(k->headline, "connect_p50_us");
  struct bw_detect d = {0};
  uint32_t judged = bw_detect_figures(&d, BW_KIND_CONNECT);
  assert_true(judged & (UINT32_C(1) << (bw_detect_metric_find("tls_p50_us") - bw_metrics)));
  assert_false(judged & (UINT32_C(1) << (bw_detect_metric_find("p50_us") - bw_metrics)));
  /* The page and download defaults are as they were: the headline and availability only. */
  assert_int_equal(bw_detect_figures(&d, BW_KIND_PAGE),
                   (UINT32_C(1) << (bw_detect_metric_find("p50_us") - bw_metrics)) |
                       BW_FIGURE_AVAILABILITY);
  assert_int_equal(bw_detect_figures(&d, BW_KIND_DOWNLOAD),
                   (UINT32_C(1) << (bw_detect_metric_find("rate_bps") - bw_metrics)) |
                       BW_FIGURE_AVAILABILITY);
  assert_true(bw_kind_takes(BW_KIND_CONNECT, BW_KEYS_SAMPLES));
  assert_false(bw_kind_takes(BW_KIND_CONNECT, BW_KEYS_PAGE));
  assert_false(bw_kind_takes(BW_KIND_CONNECT, BW_KEYS_HTTP));
  assert_false(bw_kind_takes(BW_KIND_CONNECT, BW_KEYS_DOWNLOAD));
  assert_true(bw_kind_takes(BW_KIND_PAGE, BW_KEYS_SAMPLES | BW_KEYS_HTTP | BW_KEYS_PAGE));
  assert_false(bw_kind_takes(BW_KIND_DOWNLOAD, BW_KEYS_SAMPLES));
  /* Its samples keep the connect and TLS times, and no HTTP status or first byte. */
  assert_true(k->samples & BW_COL_CONNECT);
  assert_true(k->samples & BW_COL_TLS);
  assert_false(k->samples & BW_COL_STATUS);
  assert_false(k->samples & BW_COL_TTFB);
}

static struct bw_config *parse(const char *text, struct bw_errs *errs) {
  return bw_config_parse("kinds.yaml", text, strlen(text), errs);
}

static void config_by_kind(void **state) {
  struct bw_errs errs = {0};
  (void)state;
  /* A connect test takes requests, concurrency, timeout, tls_verify and backends. */
  struct bw_config *cfg = parse("tests:\n"
                                "  - name: fleet\n"
                                "    kind: connect\n"
                                "    url: https://example.org/\n"
                                "    requests: 50\n"
                                "    concurrency: 5\n"
                                "    timeout: 2s\n"
                                "    tls_verify: false\n"
                                "    every: 1m\n"
                                "    jitter: 10s\n"
                                "    backends: [node-1:443, node-2:443]\n",
                                &errs);
  for (size_t i = 0; i < errs.n; i++)
    print_error("%s\n", errs.msg[i]);
  assert_non_null(cfg);
  assert_int_equal(cfg->tests[0].kind, BW_KIND_CONNECT);
  assert_int_equal(cfg->tests[0].requests, 50);
  assert_int_equal(cfg->tests[0].concurrency, 5);
  /* The dump leaves out what a connect test does not take, and reads back. */
  char *dump = bw_config_dump(cfg);
  assert_non_null(strstr(dump, "kind: connect"));
  assert_non_null(strstr(dump, "requests: 50"));
  assert_null(strstr(dump, "keepalive"));
  assert_null(strstr(dump, "method"));
  assert_null(strstr(dump, "max_time"));
  struct bw_config *again = parse(dump, &errs);
  for (size_t i = 0; i < errs.n; i++)
    print_error("%s\n", errs.msg[i]);
  assert_non_null(again);
  assert_int_equal(again->tests[0].kind, BW_KIND_CONNECT);
  bw_config_free(again);
  free(dump);
  bw_config_free(cfg);

  /* A page-only key on a connect test: refused at the test, with the kinds that take it. */
  cfg = parse("tests:\n"
              "  - name: fleet\n"
              "    kind: connect\n"
              "    url: http://example.org/\n"
              "    engine: lean\n"
              "    headers: [\"X-A: 1\"]\n",
              &errs);
  assert_null(cfg);
  assert_int_equal(errs.n, 2);
  assert_string_equal(errs.msg[0], "kinds.yaml:2:5: tests[0]: headers applies only to page and "
                                   "download tests, and this is a connect test");
  assert_string_equal(errs.msg[1], "kinds.yaml:2:5: tests[0]: engine applies only to page tests, "
                                   "and this is a connect test");
  bw_errs_clear(&errs);

  /* A figure a connect test does not measure, in its own detect.figures. */
  cfg = parse("tests:\n"
              "  - name: fleet\n"
              "    kind: connect\n"
              "    url: http://example.org/\n"
              "    detect: {figures: [rate_bps]}\n",
              &errs);
  assert_null(cfg);
  assert_int_equal(errs.n, 1);
  assert_non_null(
      strstr(errs.msg[0], "detect.figures: rate_bps is not measured by a connect test"));
  bw_errs_clear(&errs);

  /* An unknown kind names the kinds there are. */
  cfg = parse("tests:\n"
              "  - name: fleet\n"
              "    kind: ping\n"
              "    url: http://example.org/\n",
              &errs);
  assert_null(cfg);
  assert_string_equal(errs.msg[0],
                      "kinds.yaml:3:11: tests[0].kind: expected page, download or connect, got "
                      "\"ping\"");
  bw_errs_clear(&errs);
}

/* A connect run's JSON keeps the samples' connect and TLS times, and no HTTP status. */
static void connect_json(void **state) {
  struct bw_run run;
  struct bw_sample s;
  (void)state;
  bw_run_init(&run);
  run.test = bw_xstrdup("fleet");
  run.backend = bw_xstrdup("");
  run.url = bw_xstrdup("https://example.org/");
  run.kind = BW_KIND_CONNECT;
  run.started_us = INT64_C(1700000000000000);
  run.outcome = BW_OUTCOME_OK;
  run.connect_p50_us = 120;
  run.tls_p50_us = 900;
  bw_sample_init(&s);
  s.at_us = 0;
  s.duration_us = 1100;
  s.bytes = 0;
  s.dns_us = 5;
  s.connect_us = 120;
  s.tls_us = 900;
  (void)bw_run_add_sample(&run, &s);
  char *text = bw_json_take_text(bw_json_run(&run, BW_NONE, true), false);
  assert_non_null(strstr(text, "\"kind\":\"connect\""));
  assert_non_null(strstr(text, "\"tls_p50_us\":900"));
  assert_non_null(strstr(text, "\"connect_us\":120"));
  assert_non_null(strstr(text, "\"tls_us\":900"));
  const char *samples = strstr(text, "\"samples\"");
  assert_non_null(samples);
  assert_null(strstr(samples, "\"status\""));
  assert_null(strstr(samples, "\"ttfb_us\""));
  assert_non_null(strstr(samples, "\"error_class\""));
  /* and reads back as it was */
  struct bw_run back;
  struct bw_errs errs = {0};
  json_t *j = json_loads(text, 0, NULL);
  assert_non_null(j);
  assert_int_equal(bw_json_to_run(j, &back, &errs), 0);
  assert_int_equal(back.kind, BW_KIND_CONNECT);
  assert_int_equal(back.tls_p50_us, 900);
  assert_int_equal(back.n_samples, 1);
  assert_int_equal(back.samples[0].tls_us, 900);
  json_decref(j);
  bw_run_reset(&back);
  free(text);
  bw_run_reset(&run);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(every_kind_has_every_entry),
      cmocka_unit_test(connect_row),
      cmocka_unit_test(config_by_kind),
      cmocka_unit_test(connect_json),
  };
  return cmocka_run_group_tests_name("kind", tests, NULL, NULL);
}
