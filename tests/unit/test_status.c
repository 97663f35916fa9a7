/*
 * The status page on a real database file: runs judged one by one as the daemon does, then the
 * status read back through the judge and rendered. BW_STATUS_PREVIEW=DIR also writes the pages
 * there, to look at in a browser.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <unistd.h>

#include <cmocka.h>

#include "bw_judge.h"
#include "bw_render.h"
#include "bw_status.h"
#include "bw_util.h"

#define HOUR (3600 * INT64_C(1000000))
#define T0 INT64_C(1700000000000000)
#define RUNS 60
#define SLOW_FROM 40

struct fixture {
  char dir[64];
  char *path;
  struct bw_store *store;
  struct bw_errs errs;
  int64_t reg_id;
  int64_t reg_run_id;
  int64_t home_last_p50;
  int64_t first_failed_us, last_failed_us;
};

static void page_run(struct bw_run *run, int i, double p50) {
  bw_run_init(run);
  run->test = bw_xstrdup("home");
  run->backend = bw_xstrdup("");
  run->kind = BW_KIND_PAGE;
  run->url = bw_xstrdup("http://portal.example.test/");
  run->started_us = T0 + i * HOUR;
  run->outcome = BW_OUTCOME_OK;
  run->requests = 20;
  run->failed = 0;
  run->p50_us = llround(p50 * 1e3);
  run->p90_us = llround(p50 * 1.2e3);
  run->p99_us = llround(p50 * 1.5e3);
  run->rps = 1000 / p50;
}

static void download_run(struct bw_run *run, int i, bool failed) {
  bw_run_init(run);
  run->test = bw_xstrdup("big");
  run->backend = bw_xstrdup("node-1:8088");
  run->kind = BW_KIND_DOWNLOAD;
  run->url = bw_xstrdup("http://archive.example.test/big.tar");
  run->started_us = T0 + i * HOUR + 60 * INT64_C(1000000);
  run->outcome = failed ? BW_OUTCOME_FAILED : BW_OUTCOME_OK;
  if (failed) {
    run->error_class = bw_xstrdup("connect");
    run->error_message = bw_xstrdup("Failed to connect to <node-1> port 8088");
  } else {
    run->rate_bps = 16000000 + 200000 * (i % 3);
    run->bytes = 700000000;
    run->ttfb_us = 3000;
  }
}

static void write_file(const char *dir, const char *name, const char *text) {
  char *path = bw_xasprintf("%s/%s", dir, name);
  FILE *f = fopen(path, "w");
  if (f) {
    fputs(text, f);
    fclose(f);
  }
  free(path);
}

static int setup(void **state) {
  struct fixture *fx = bw_xcalloc(1, sizeof(*fx));
  struct bw_detect det;
  (void)snprintf(fx->dir, sizeof(fx->dir), "/tmp/bw-status-XXXXXX");
  if (!mkdtemp(fx->dir))
    return -1;
  fx->path = bw_xasprintf("%s/bw.db", fx->dir);
  if (bw_store_open(fx->path, &fx->store, &fx->errs) < 0)
    return -1;
  bw_config_default_detect(&det);
  for (int i = 0; i < RUNS; i++) {
    struct bw_run run;
    struct bw_judgement j;
    double wobble = 1 + 0.03 * sin(i * 0.7);
    page_run(&run, i, (i >= SLOW_FROM ? 200 : 98) * wobble);
    if (bw_judge_record(fx->store, &det, HOUR, &run, &j, &fx->errs) < 0)
      return -1;
    for (size_t f = 0; f < j.n_fig; f++)
      if (j.fig[f].verdict.event == BW_EVENT_OPENED) {
        fx->reg_id = j.fig[f].regression_id;
        fx->reg_run_id = j.run_id;
      }
    fx->home_last_p50 = run.p50_us;
    bw_run_reset(&run);
    bool failed = i >= RUNS - 3;
    download_run(&run, i, failed);
    if (failed && !fx->first_failed_us)
      fx->first_failed_us = run.started_us;
    if (failed)
      fx->last_failed_us = run.started_us;
    if (bw_judge_record(fx->store, &det, HOUR, &run, &j, &fx->errs) < 0)
      return -1;
    bw_run_reset(&run);
  }
  int64_t id;
  if (bw_store_target(fx->store, "idle", "", BW_KIND_PAGE, "http://idle.example.test/", &id,
                      &fx->errs) < 0)
    return -1;
  *state = fx;
  return 0;
}

static int teardown(void **state) {
  struct fixture *fx = *state;
  bw_store_close(fx->store);
  (void)unlink(fx->path);
  char *wal = bw_xasprintf("%s-wal", fx->path), *shm = bw_xasprintf("%s-shm", fx->path);
  (void)unlink(wal);
  (void)unlink(shm);
  free(wal);
  free(shm);
  (void)rmdir(fx->dir);
  free(fx->path);
  bw_errs_clear(&fx->errs);
  free(fx);
  return 0;
}

static size_t occurrences(const char *hay, const char *needle) {
  size_t n = 0;
  for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle))
    n++;
  return n;
}

/* Every target with the state the judge holds, the open regression, and the page showing it. */
static void index_page(void **state) {
  struct fixture *fx = *state;
  struct bw_status s;
  int64_t now = T0 + RUNS * HOUR;
  assert_true(fx->reg_id > 0);
  assert_int_equal(bw_status_collect(fx->store, NULL, "mon-1", now, 7 * 24 * HOUR, &s, &fx->errs),
                   0);
  assert_int_equal(s.n_targets, 3);
  const struct bw_status_target *big = &s.targets[0], *home = &s.targets[1], *idle = &s.targets[2];
  assert_string_equal(big->test, "big");
  assert_string_equal(big->backend, "node-1:8088");
  assert_string_equal(home->test, "home");
  assert_string_equal(idle->test, "idle");

  /* home: regressed since the regression opened, against the judge's own frozen baseline */
  struct bw_detect det;
  struct bw_judge_view jv;
  bw_config_default_detect(&det);
  assert_int_equal(bw_judge_state(fx->store, &det, home->id, home->metric, now, &jv, &fx->errs), 0);
  assert_int_equal(home->state, BW_STATUS_REGRESSED);
  assert_int_equal(home->regression_id, fx->reg_id);
  assert_int_equal(home->since_us, jv.opened_us);
  assert_true(home->since_us >= T0 + SLOW_FROM * HOUR);
  assert_true(home->reference == jv.reference);
  assert_true(home->reference > 90e3 && home->reference < 105e3);
  /* the band: from the reference up to where a run is judged worse */
  assert_true(home->band_lo == home->reference);
  assert_true(home->band_hi == bw_detect_threshold(&det, home->metric, home->reference));
  assert_true(home->band_hi > home->reference);
  assert_int_equal(home->n_history, RUNS);
  assert_int_equal(home->latest->p50_us, fx->home_last_p50);
  assert_int_equal(home->n_spans, 1);
  assert_int_equal(s.n_open >= 1, 1);

  /* big: the last three runs failed */
  assert_int_equal(big->state, BW_STATUS_FAILING);
  assert_true(big->since_us >= fx->first_failed_us && big->since_us <= fx->last_failed_us);
  assert_int_equal(big->latest->outcome, BW_OUTCOME_FAILED);
  /* idle: never ran */
  assert_int_equal(idle->state, BW_STATUS_NEW);
  assert_null(idle->latest);

  char *html = bw_status_html(&s);
  char want[128];
  assert_non_null(strstr(html, "<!DOCTYPE html>"));
  assert_non_null(strstr(html, "3 targets: 0 normal, 1 regressed, 1 failing, 1 without runs."));
  assert_non_null(strstr(html, "regressed since "));
  assert_non_null(strstr(html, "failing since "));
  assert_non_null(strstr(html, "no runs yet"));
  (void)snprintf(want, sizeof(want), "href=\"/regression/%lld\"", (long long)fx->reg_id);
  assert_non_null(strstr(html, want));
  (void)snprintf(want, sizeof(want), "data-figure=\"p50_us\" data-value=\"%lld\">%.2f ms<",
                 (long long)fx->home_last_p50, (double)fx->home_last_p50 / 1e3);
  assert_non_null(strstr(html, want));
  /* the failure's own words, escaped */
  assert_non_null(strstr(html, "Failed to connect to &lt;node-1&gt; port 8088"));
  assert_int_equal(occurrences(html, "<svg "), 2); /* none for the target that never ran */
  assert_int_equal(occurrences(html, "class=\"span\""), 1);
  assert_non_null(strstr(html, "class=\"band\""));
  assert_non_null(strstr(html, "class=\"mode\""));
  /* nothing fetched, nothing run */
  assert_null(strstr(html, "<script"));
  assert_null(strstr(html, "src="));
  assert_null(strstr(html, "url("));
  assert_int_equal(occurrences(html, "<link"), 1);
  assert_non_null(strstr(html, "<link rel=\"icon\" href=\"data:image/svg+xml,"));
  assert_null(strstr(html, "href=\"http"));
  if (getenv("BW_STATUS_PREVIEW"))
    write_file(getenv("BW_STATUS_PREVIEW"), "index.html", html);
  free(html);
  bw_status_free(&s);
}

/* One target in full: every measured figure of its latest run, its runs and its regressions. */
static void target_page(void **state) {
  struct fixture *fx = *state;
  struct bw_status_target t;
  int64_t now = T0 + RUNS * HOUR, id;
  assert_int_equal(bw_store_find_target(fx->store, "home", "", &id, &fx->errs), 0);
  assert_int_equal(
      bw_status_collect_target(fx->store, NULL, id, now, 30 * 24 * HOUR, &t, &fx->errs), 0);
  char *html = bw_status_html_target("mon-1", now, &t);
  assert_non_null(strstr(html, "<td>p99_us</td>"));
  assert_non_null(strstr(html, "page: 99th percentile request time"));
  assert_non_null(strstr(html, "Recent runs"));
  assert_int_equal(occurrences(html, "<tr data-run="), 24);
  assert_int_equal(occurrences(html, "<tr data-regression="), 1);
  if (getenv("BW_STATUS_PREVIEW"))
    write_file(getenv("BW_STATUS_PREVIEW"), "target.html", html);
  free(html);
  bw_status_target_reset(&t);
  assert_int_equal(bw_status_collect_target(fx->store, NULL, 9999, now, HOUR, &t, &fx->errs),
                   -ENOENT);
}

/* A regression: the runs around its opening, the opening run marked, the diagnosis. */
static void regression_page(void **state) {
  struct fixture *fx = *state;
  struct bw_status_regression r;
  int64_t now = T0 + RUNS * HOUR;
  assert_int_equal(
      bw_status_collect_regression(fx->store, NULL, "mon-1", fx->reg_id, now, &r, &fx->errs), 0);
  assert_int_equal(r.reg.open_run_id, fx->reg_run_id);
  assert_int_equal(r.n_around, 2 * BW_STATUS_AROUND + 1);
  assert_int_equal(r.around[BW_STATUS_AROUND].run_id, fx->reg_run_id);
  assert_non_null(r.diagnosis);
  assert_null(r.diagnosis[0]); /* a page run has no TCP facts to explain it */
  char *html = bw_status_html_regression(&r);
  assert_int_equal(occurrences(html, "(opened it)"), 1);
  assert_int_equal(occurrences(html, "<tr data-run="), 2 * BW_STATUS_AROUND + 1);
  assert_non_null(strstr(html, "<dt>state</dt><dd>open</dd>"));
  if (getenv("BW_STATUS_PREVIEW"))
    write_file(getenv("BW_STATUS_PREVIEW"), "regression.html", html);
  free(html);
  bw_status_regression_reset(&r);
  assert_int_equal(bw_status_collect_regression(fx->store, NULL, "mon-1", 9999, now, &r, &fx->errs),
                   -ENOENT);
}

/* The chart alone: where points land, failed runs, an empty period, escaping. */
static void chart(void **state) {
  (void)state;
  struct bw_point pts[] = {
      {.run_id = 1, .started_us = T0, .value = 100e3},
      {.run_id = 2, .started_us = T0 + HOUR, .value = (double)NAN},
      {.run_id = 3, .started_us = T0 + 2 * HOUR, .value = 200e3},
  };
  struct bw_svg_span span = {.from_us = T0 + HOUR, .until_us = BW_NONE, .id = 7};
  struct bw_svg_chart c = {.pts = pts,
                           .n = 3,
                           .from_us = T0,
                           .until_us = T0 + 2 * HOUR,
                           .mode = 100e3,
                           .band_lo = 90e3,
                           .band_hi = 110e3,
                           .spans = &span,
                           .n_spans = 1,
                           .scale = 1e3,
                           .unit = "ms",
                           .label = "<median>",
                           .width = 400,
                           .height = 200,
                           .link = "/regression/"};
  char *svg = bw_render_chart_svg(&c);
  assert_non_null(strstr(svg, "&lt;median&gt; (ms)"));
  assert_non_null(strstr(svg, "aria-label=\"&lt;median&gt; over time: 3 runs, 1 failed\""));
  assert_int_equal(occurrences(svg, "class=\"failed\""), 1);
  assert_int_equal(occurrences(svg, "<circle"), 2);
  assert_int_equal(occurrences(svg, "class=\"dot bad\""), 1); /* the run in the open span */
  assert_non_null(strstr(svg, "<a href=\"/regression/7\">"));
  /* the first point at the left edge, the last at the right; 200 ms higher than 100 ms */
  double x1, y1, x3, y3;
  const char *p = strstr(svg, "<polyline class=\"line\" points=\"");
  assert_non_null(p);
  assert_int_equal(sscanf(p + strlen("<polyline class=\"line\" points=\""), "%lf,%lf %lf,%lf", &x1,
                          &y1, &x3, &y3),
                   4);
  assert_true(x1 == 48.0 && x3 == 390.0);
  assert_true(y3 < y1);
  free(svg);
  c.n = 0;
  svg = bw_render_chart_svg(&c);
  assert_non_null(strstr(svg, "no runs in this period"));
  free(svg);
  char *err = bw_status_html_error(404, "no target <7>");
  assert_non_null(strstr(err, "no target &lt;7&gt;"));
  free(err);
}

static void route(void **state) {
  (void)state;
  int64_t id;
  assert_int_equal(bw_status_route("/", &id), BW_STATUS_PAGE_INDEX);
  assert_int_equal(bw_status_route("/target/12", &id), BW_STATUS_PAGE_TARGET);
  assert_int_equal(id, 12);
  assert_int_equal(bw_status_route("/regression/7", &id), BW_STATUS_PAGE_REGRESSION);
  assert_int_equal(id, 7);
  const char *bad[] = {
      "/target/",   "/target/0",   "/target/-1", "/target/1x",
      "/target/1/", "/targets/1",  "/metrics",   "/regression/99999999999999999999",
      "//",         "/index.html", "",           "/target/ 1"};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    assert_int_equal(bw_status_route(bad[i], &id), BW_STATUS_PAGE_NONE);
    assert_int_equal(id, 0);
  }
}

/* A backend that slows down with another segment size: its regression's page names it. */
static void odd_backend(void **state) {
  struct fixture *fx = *state;
  struct bw_detect det;
  int64_t reg = 0;
  bw_config_default_detect(&det);
  for (int i = 0; i < RUNS; i++)
    for (int b = 1; b <= 3; b++) {
      struct bw_run run;
      struct bw_judgement j;
      bool bad = b == 3 && i >= SLOW_FROM;
      bw_run_init(&run);
      run.test = bw_xstrdup("tarball");
      run.backend = bw_xasprintf("node-%d:8088", b);
      run.kind = BW_KIND_DOWNLOAD;
      run.url = bw_xstrdup("http://archive.example.test/t.tar");
      run.remote_ip = bw_xasprintf("10.0.0.%d", b);
      run.started_us = T0 + i * HOUR + b * INT64_C(1000000);
      run.outcome = BW_OUTCOME_OK;
      run.rate_bps = bad ? 500000 : 16000000 + 100000 * (i % 3);
      run.bytes = 700000000;
      run.ttfb_us = 3000;
      run.tcp_rcv_mss = bad ? 8948 : 1448;
      run.tcp_snd_mss = bad ? 8948 : 1448;
      assert_int_equal(bw_judge_record(fx->store, &det, HOUR, &run, &j, &fx->errs), 0);
      for (size_t f = 0; f < j.n_fig; f++)
        if (j.fig[f].verdict.event == BW_EVENT_OPENED)
          reg = j.fig[f].regression_id;
      bw_run_reset(&run);
    }
  assert_true(reg > 0);
  struct bw_status_regression r;
  assert_int_equal(
      bw_status_collect_regression(fx->store, NULL, "mon-1", reg, T0 + RUNS * HOUR, &r, &fx->errs),
      0);
  assert_string_equal(r.target.backend, "node-3:8088");
  assert_non_null(r.odd[0]);
  assert_non_null(strstr(r.odd[0], "node-3:8088 differs from the other backends: MSS 8948 vs "
                                   "1448 on the other 2"));
  assert_null(r.odd[1]);
  char *html = bw_status_html_regression(&r);
  assert_non_null(strstr(html, "<li>node-3:8088 differs from the other backends"));
  free(html);
  bw_status_regression_reset(&r);
}

/* The pages through a read-only connection, as the daemon serves them. */
static void pages_readonly(void **state) {
  struct fixture *fx = *state;
  struct bw_store *ro = NULL;
  int64_t now = T0 + RUNS * HOUR, id;
  char *html = NULL, path[64];
  assert_int_equal(bw_store_open_readonly(fx->path, &ro, &fx->errs), 0);
  assert_int_equal(bw_status_page(ro, NULL, "mon-1", "/", now, &html, &fx->errs), 200);
  assert_non_null(strstr(html, "1 regressed"));
  free(html);
  (void)snprintf(path, sizeof(path), "/regression/%lld", (long long)fx->reg_id);
  assert_int_equal(bw_status_page(ro, NULL, "mon-1", path, now, &html, &fx->errs), 200);
  assert_non_null(strstr(html, "(opened it)"));
  free(html);
  assert_int_equal(bw_store_find_target(ro, "home", "", &id, &fx->errs), 0);
  (void)snprintf(path, sizeof(path), "/target/%lld", (long long)id);
  assert_int_equal(bw_status_page(ro, NULL, "mon-1", path, now, &html, &fx->errs), 200);
  free(html);
  const char *missing[] = {"/target/9999", "/regression/9999", "/nope", "/target/x"};
  for (size_t i = 0; i < sizeof(missing) / sizeof(missing[0]); i++) {
    assert_int_equal(bw_status_page(ro, NULL, "mon-1", missing[i], now, &html, &fx->errs), 404);
    assert_non_null(strstr(html, "<h1>404</h1>"));
    free(html);
  }
  /* it cannot write */
  assert_int_not_equal(bw_store_target(ro, "new", "", BW_KIND_PAGE, "http://x.test/", &id, NULL),
                       0);
  bw_store_close(ro);
  char *nothing = bw_xasprintf("%s/none.db", fx->dir);
  ro = NULL;
  assert_true(bw_store_open_readonly(nothing, &ro, &fx->errs) < 0);
  assert_null(ro);
  assert_int_equal(access(nothing, F_OK), -1); /* and did not create it */
  free(nothing);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(index_page, setup, teardown),
      cmocka_unit_test_setup_teardown(target_page, setup, teardown),
      cmocka_unit_test_setup_teardown(regression_page, setup, teardown),
      cmocka_unit_test(chart),
      cmocka_unit_test(route),
      cmocka_unit_test_setup_teardown(pages_readonly, setup, teardown),
      cmocka_unit_test_setup_teardown(odd_backend, setup, teardown),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
