#ifndef BW_SWEEP_H
#define BW_SWEEP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "bw_config.h"
#include "bw_result.h"
#include "bw_util.h"

/*
 * Sweeps: a page test with `sweep: {concurrency: [1, 4, 16, 64]}` (and/or requests per step) runs
 * its steps one after another in each run. Each step is a target of its own, named by a rule:
 * the test's name, '@', then 'c' and the step's concurrency ("api@c16"), or 'n' and its requests
 * when only requests vary ("api@n1000"). A test name cannot hold '@', so a step's name never
 * meets a configured test's; and since the store, the judge, regressions, history, retention and
 * /metrics all key on the target, each step has its own baseline and verdicts without a case of
 * its own. What is sweep-specific is here, as pure logic: the steps of a test, the names, and the
 * curve (requests/s and median latency against the step) with its knee.
 */

/* How many steps test has: 0 when it is not a sweep. */
size_t bw_sweep_steps(const struct bw_test *test);
/* Step i's concurrency and requests (the test's own where the sweep leaves one alone). */
void bw_sweep_step_values(const struct bw_test *test, size_t i, int64_t *ret_concurrency,
                          int64_t *ret_requests);
/*
 * Step i of test as a test of its own, into *ret (bw_test_clear() it): named by the rule above,
 * with the step's requests and concurrency and no sweep. Everything else is the test's.
 */
void bw_sweep_step(const struct bw_test *test, size_t i, struct bw_test *ret);

/*
 * Whether name is a step's (the rule above): *ret_base_len gets the length of the test's name,
 * *ret_axis 'c' (concurrency) or 'n' (requests), *ret_value the step's value. Any may be NULL.
 */
bool bw_sweep_split(const char *name, size_t *ret_base_len, char *ret_axis, int64_t *ret_value);

/* Whether name is test's own target name, or one of its steps' ("api@c4" of "api"). */
bool bw_sweep_is_of(const char *name, const char *test);

/* One step of a curve: what its latest run measured. */
struct bw_sweep_point {
  int64_t value;    /* the step's concurrency, or requests for a sweep of requests */
  int64_t requests; /* BW_NONE when not known */
  double rps;       /* requests per second; NAN without a good run */
  double p50_us;    /* median request time; NAN likewise */
  int64_t run_id;   /* the run the figures come from, 0 for none */
  int64_t target_id;
  char *state; /* a word for the step ("normal", "regressed", ...), or NULL */
};

/* A sweep's curve on one backend: its steps in increasing order. */
struct bw_sweep_curve {
  char *test;
  char *backend; /* "" without backends */
  char axis;     /* 'c' or 'n' */
  struct bw_sweep_point *points;
  size_t n_points;
};

/*
 * Adds a step's figures to the curve of its test and backend in *curves (a new curve when there is
 * none), in step order: name must be a step's (bw_sweep_split()), or nothing is added and it
 * returns false. run (may be NULL) gives requests, rps and p50_us when its outcome is ok or
 * partial; state is copied (may be NULL).
 */
bool bw_sweep_curves_add(struct bw_sweep_curve **curves, size_t *n, const char *name,
                         const char *backend, const struct bw_run *run, int64_t target_id,
                         const char *state);
void bw_sweep_curves_free(struct bw_sweep_curve *curves, size_t n);

/* Why a step is the knee. */
enum bw_knee {
  BW_KNEE_NONE = 0,
  BW_KNEE_LATENCY, /* median latency over twice the first step's */
  BW_KNEE_RATE,    /* requests/s grew less than 10% over the step before */
};
/* Median latency beyond this many times the first step's is the knee. */
#define BW_KNEE_LATENCY_FACTOR 2.0
/* Requests/s growing by less than this fraction over the step before is the knee. */
#define BW_KNEE_RATE_GROWTH 0.10

/*
 * The knee of a curve: the first step, after the first, whose median latency exceeds
 * BW_KNEE_LATENCY_FACTOR times the first step's, or whose requests/s grew by less than
 * BW_KNEE_RATE_GROWTH over the step before (latency is looked at first). A step without figures
 * is passed over, and compared with nothing. Returns the step's index and *ret_why, or -1 and
 * BW_KNEE_NONE when there is none.
 */
long bw_sweep_knee(const struct bw_sweep_point *points, size_t n, enum bw_knee *ret_why);

/*
 * The curve as text, one line per step after a header line, then a line naming the knee or saying
 * there is none, each line starting with indent (allocated):
 *   concurrency  requests      req/s     median
 *             1       100     1234.5    0.81 ms
 *   knee: concurrency 16: median 3.90 ms is over 2x the first step's 0.81 ms
 */
char *bw_sweep_text(const struct bw_sweep_curve *c, const char *indent);
/* The knee sentence alone (allocated): "concurrency 16: ..." or "none". */
char *bw_sweep_knee_text(const struct bw_sweep_curve *c);
/* The curve as an HTML table (class "sweep"), with its knee named under it. */
void bw_sweep_html(struct bw_buf *b, const struct bw_sweep_curve *c);
/*
 * The curve as JSON (a new reference): {test, backend, steps: [{concurrency (or requests for a
 * sweep of requests), requests, rps, p50_us, run_id, state, knee}], knee: sentence}, in the
 * units of README "JSON".
 */
json_t *bw_sweep_json(const struct bw_sweep_curve *c);
/*
 * The curve as an inline SVG picture (class "sweep-chart"), for pages that show SVG (not mail):
 * requests/s and the median against the steps, evenly spaced, each line scaled to its own
 * largest value, the knee marked. Nothing when no step has a figure.
 */
void bw_sweep_svg(struct bw_buf *b, const struct bw_sweep_curve *c);

#endif
