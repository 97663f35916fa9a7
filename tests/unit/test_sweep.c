/* bw_sweep: steps, step names, the curve and its knee on constructed figures. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "bw_sweep.h"

static struct bw_sweep_point pt(int64_t value, double rps, double p50_ms) {
  struct bw_sweep_point p;
  memset(&p, 0, sizeof(p));
  p.value = value;
  p.requests = 100;
  p.rps = rps;
  p.p50_us = p50_ms * 1000.0;
  return p;
}

/* Latency bends up at 16 (4.1 ms > 2 x 2.0 ms) while the rate still grows by more than 10%. */
static void test_knee_by_latency(void **state) {
  (void)state;
  struct bw_sweep_point p[] = {pt(1, 500, 2.0), pt(4, 1800, 2.2), pt(16, 3900, 4.1),
                               pt(64, 3950, 16.0)};
  enum bw_knee why;
  assert_int_equal(bw_sweep_knee(p, 4, &why), 2);
  assert_int_equal(why, BW_KNEE_LATENCY);
  /* Exactly twice is not over it. */
  p[2].p50_us = 4000.0;
  assert_int_equal(bw_sweep_knee(p, 4, &why), 3);
  assert_int_equal(why, BW_KNEE_LATENCY);
}

/* The rate stops growing at 16 (1900 < 1.1 x 1800) while the median is still under 2x. */
static void test_knee_by_rate(void **state) {
  (void)state;
  struct bw_sweep_point p[] = {pt(1, 500, 2.0), pt(4, 1800, 2.2), pt(16, 1900, 3.0),
                               pt(64, 1950, 3.5)};
  enum bw_knee why;
  assert_int_equal(bw_sweep_knee(p, 4, &why), 2);
  assert_int_equal(why, BW_KNEE_RATE);
  /* Over 10% more is still growing: the knee moves on to 64 (1950 < 1.1 x 1990). */
  p[2].rps = 1990.0;
  assert_int_equal(bw_sweep_knee(p, 4, &why), 3);
  assert_int_equal(why, BW_KNEE_RATE);
}

static void test_no_knee(void **state) {
  (void)state;
  struct bw_sweep_point p[] = {pt(1, 500, 2.0), pt(2, 990, 2.0), pt(4, 1900, 2.1),
                               pt(8, 3500, 2.3)};
  enum bw_knee why;
  assert_int_equal(bw_sweep_knee(p, 4, &why), -1);
  assert_int_equal(why, BW_KNEE_NONE);
  assert_int_equal(bw_sweep_knee(p, 1, &why), -1);
  assert_int_equal(bw_sweep_knee(p, 0, &why), -1);
}

/* A failed step is passed over: the next is compared with the step before the failure. */
static void test_knee_skips_failed_step(void **state) {
  (void)state;
  struct bw_sweep_point p[] = {pt(1, 500, 2.0), pt(2, (double)NAN, (double)NAN), pt(4, 1900, 2.1)};
  enum bw_knee why;
  assert_int_equal(bw_sweep_knee(p, 3, &why), -1);
  p[0].rps = p[0].p50_us = (double)NAN; /* no first step: the second measured one is compared */
  p[2].rps = 2000;
  assert_int_equal(bw_sweep_knee(p, 3, &why), -1);
}

static void test_steps_and_names(void **state) {
  (void)state;
  int64_t conc[] = {1, 4, 16};
  int64_t reqs[] = {400};
  struct bw_test t;
  memset(&t, 0, sizeof(t));
  char name[] = "api", url[] = "http://127.0.0.1/", method[] = "GET";
  t.name = name;
  t.url = url;
  t.method = method;
  t.requests = 20;
  t.concurrency = 1;
  assert_int_equal(bw_sweep_steps(&t), 0);
  t.sweep_concurrency = conc;
  t.n_sweep_concurrency = 3;
  assert_int_equal(bw_sweep_steps(&t), 3);
  int64_t c, n;
  bw_sweep_step_values(&t, 2, &c, &n);
  assert_int_equal(c, 16);
  assert_int_equal(n, 20);
  t.sweep_requests = reqs;
  t.n_sweep_requests = 1;
  struct bw_test s;
  bw_sweep_step(&t, 1, &s);
  assert_string_equal(s.name, "api@c4");
  assert_int_equal(s.concurrency, 4);
  assert_int_equal(s.requests, 400);
  assert_int_equal(bw_sweep_steps(&s), 0);
  bw_test_clear(&s);

  size_t len;
  char axis;
  int64_t v;
  assert_true(bw_sweep_split("api@c16", &len, &axis, &v));
  assert_int_equal(len, 3);
  assert_int_equal(axis, 'c');
  assert_int_equal(v, 16);
  assert_true(bw_sweep_split("a.b@n1000", &len, &axis, &v));
  assert_int_equal(axis, 'n');
  assert_int_equal(v, 1000);
  assert_false(bw_sweep_split("api", NULL, NULL, NULL));
  assert_false(bw_sweep_split("api@c", NULL, NULL, NULL));
  assert_false(bw_sweep_split("api@c0", NULL, NULL, NULL));
  assert_false(bw_sweep_split("api@x4", NULL, NULL, NULL));
  assert_false(bw_sweep_split("@c4", NULL, NULL, NULL));
  assert_false(bw_sweep_split("api@c4x", NULL, NULL, NULL));
}

/* Steps added out of order come out in order, per test and backend, and the text shows them. */
static void test_curves_and_text(void **state) {
  (void)state;
  struct bw_sweep_curve *cv = NULL;
  size_t n = 0;
  struct bw_run r;
  bw_run_init(&r);
  r.outcome = BW_OUTCOME_OK;
  r.requests = 100;
  r.rps = 1900.0;
  r.p50_us = 5000;
  assert_true(bw_sweep_curves_add(&cv, &n, "api@c4", "", &r, 3, "normal"));
  r.rps = 500.0;
  r.p50_us = 2000;
  assert_true(bw_sweep_curves_add(&cv, &n, "api@c1", "", &r, 2, "normal"));
  assert_true(bw_sweep_curves_add(&cv, &n, "api@c1", "node-1:80", NULL, 4, NULL));
  assert_false(bw_sweep_curves_add(&cv, &n, "other", "", &r, 5, NULL));
  assert_int_equal(n, 2);
  assert_string_equal(cv[0].test, "api");
  assert_int_equal(cv[0].n_points, 2);
  assert_int_equal(cv[0].points[0].value, 1);
  assert_int_equal(cv[0].points[1].value, 4);
  assert_true(isnan(cv[1].points[0].rps));

  char *text = bw_sweep_text(&cv[0], "  ");
  assert_non_null(strstr(text, "  concurrency  requests"));
  assert_non_null(strstr(text, "\n            1       100       500.0    2.000 ms  normal\n"));
  assert_non_null(
      strstr(text, "\n            4       100      1900.0    5.000 ms  normal  <- knee\n"));
  assert_non_null(strstr(text, "knee: concurrency 4: median 5.000 ms is over 2x the first step's "
                               "2.000 ms\n"));
  free(text);
  struct bw_buf b = {NULL, 0, 0};
  bw_sweep_html(&b, &cv[0]);
  assert_non_null(strstr(b.s, "<td>4</td><td>100</td><td>1900.0</td><td>5.000 ms</td>"));
  free(b.s);
  /* The picture: both lines through both steps, rps at the top at 4, the knee marked there. */
  struct bw_buf svg = {NULL, 0, 0};
  bw_sweep_svg(&svg, &cv[0]);
  assert_non_null(strstr(svg.s, "points=\"40.0,100.0 380.0,40.0 \"")); /* median */
  assert_non_null(strstr(svg.s, "points=\"40.0,113.7 380.0,40.0 \"")); /* req/s */
  assert_non_null(strstr(svg.s, "<line x1=\"380.0\" y1=\"34\" x2=\"380.0\" y2=\"140\""));
  free(svg.s);
  /* Nothing to draw without figures. */
  struct bw_buf none = {NULL, 0, 0};
  bw_sweep_svg(&none, &cv[1]);
  assert_null(none.s);
  bw_sweep_curves_free(cv, n);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(test_knee_by_latency), cmocka_unit_test(test_knee_by_rate),
      cmocka_unit_test(test_no_knee),         cmocka_unit_test(test_knee_skips_failed_step),
      cmocka_unit_test(test_steps_and_names), cmocka_unit_test(test_curves_and_text),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
