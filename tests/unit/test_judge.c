/*
 * The judge on a real database file: runs stored and judged one by one as the daemon does, then
 * the same history replayed and rebuilt; both must say the same.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "bw_judge.h"
#include "bw_util.h"

#define HOUR (3600 * INT64_C(1000000))

struct fixture {
  char dir[64];
  char *path;
  struct bw_store *store;
  struct bw_errs errs;
};

static int setup(void **state) {
  struct fixture *fx = bw_xcalloc(1, sizeof(*fx));
  (void)snprintf(fx->dir, sizeof(fx->dir), "/tmp/bw-judge-XXXXXX");
  if (!mkdtemp(fx->dir))
    return -1;
  fx->path = bw_xasprintf("%s/bw.db", fx->dir);
  if (bw_store_open(fx->path, &fx->store, &fx->errs) < 0)
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

static struct bw_detect settings(uint32_t figures) {
  struct bw_detect d;
  bw_config_default_detect(&d);
  d.figures = figures;
  return d;
}

static uint32_t bit(const char *name) {
  return UINT32_C(1) << (bw_detect_metric_find(name) - bw_metrics);
}

/* A page run at hour i: median p50 ms, p99 ms, failed requests of 20. */
static void page_run(struct bw_run *run, int i, double p50, double p99, int64_t failed) {
  bw_run_init(run);
  run->test = bw_xstrdup("home");
  run->backend = bw_xstrdup("");
  run->kind = BW_KIND_PAGE;
  run->url = bw_xstrdup("http://portal.example.test/");
  run->started_us = INT64_C(1700000000000000) + i * HOUR;
  run->outcome = failed >= 20 ? BW_OUTCOME_FAILED : BW_OUTCOME_OK;
  run->requests = 20;
  run->failed = failed;
  if (run->outcome == BW_OUTCOME_OK) {
    run->p50_us = llround(p50 * 1e3);
    run->p99_us = llround(p99 * 1e3);
  } else {
    run->error_class = bw_xstrdup("connect");
  }
}

static int64_t count(struct fixture *fx, const char *sql) {
  sqlite3 *db;
  sqlite3_stmt *st;
  int64_t n = -1;
  assert_int_equal(sqlite3_open(fx->path, &db), SQLITE_OK);
  assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
  if (sqlite3_step(st) == SQLITE_ROW)
    n = sqlite3_column_int64(st, 0);
  sqlite3_finalize(st);
  sqlite3_close(db);
  return n;
}

/*
 * The tail gets worse while the median stays: p99 from 150 ms to 1.5 s after run 200, and from
 * run 260 six failed requests in every run. Judged on p50, p99 and failed requests, it is p99
 * that opens, then failed requests; the median never does. A rebuild from the stored runs (what
 * import does) finds the same regressions in the same runs.
 */
static void tail_and_failures(void **state) {
  struct fixture *fx = *state;
  struct bw_detect det = settings(bit("p50_us") | bit("p99_us") | bit("failed") |
                                  BW_FIGURE_AVAILABILITY);
  int64_t p99_open_run = 0, failed_open_run = 0;
  for (int i = 0; i < 320; i++) {
    struct bw_run run;
    struct bw_judgement j;
    double wobble = 1 + 0.03 * sin(i * 0.7);
    page_run(&run, i, 98 * wobble, (i >= 200 ? 1500 : 150) * wobble, i >= 260 ? 6 : 0);
    assert_int_equal(bw_judge_record(fx->store, &det, HOUR, &run, &j, &fx->errs), 0);
    assert_int_equal(j.n_fig, 3);
    for (size_t f = 0; f < j.n_fig; f++) {
      if (j.fig[f].verdict.event != BW_EVENT_OPENED)
        continue;
      const char *name = j.fig[f].metric->name;
      assert_string_not_equal(name, "p50_us");
      if (strcmp(name, "p99_us") == 0)
        p99_open_run = j.run_id;
      else if (strcmp(name, "failed") == 0)
        failed_open_run = j.run_id;
    }
    bw_run_reset(&run);
  }
  assert_true(p99_open_run >= 201 + 2 && p99_open_run <= 201 + 6);
  assert_true(failed_open_run >= 261 + 2 && failed_open_run <= 261 + 6);
  assert_int_equal(count(fx, "SELECT count(*) FROM regression"), 2);
  assert_int_equal(count(fx, "SELECT count(*) FROM regression WHERE metric = 'p99_us'"
                             " AND closed_us IS NULL"),
                   1);
  /* the runs of the open regressions are kept out of later windows */
  assert_true(count(fx, "SELECT count(*) FROM run_mark WHERE metric = 'p99_us' AND excluded") >=
              100);

  int64_t target = 0;
  size_t opened = 0;
  assert_int_equal(bw_store_find_target(fx->store, "home", "", &target, &fx->errs), 0);
  assert_int_equal(
      bw_judge_rebuild(fx->store, &det, HOUR, target, BW_KIND_PAGE, &opened, &fx->errs), 0);
  assert_int_equal(opened, 2);
  char *sql = bw_xasprintf("SELECT count(*) FROM regression WHERE (metric = 'p99_us' AND"
                           " open_run_id = %lld) OR (metric = 'failed' AND open_run_id = %lld)",
                           (long long)p99_open_run, (long long)failed_open_run);
  assert_int_equal(count(fx, sql), 2);
  free(sql);

  /* the judge's view: p99 regressed, since the run that opened it, against ~150 ms */
  struct bw_judge_view jv;
  assert_int_equal(bw_judge_state(fx->store, &det, target, bw_detect_metric_find("p99_us"),
                                  INT64_C(1700000000000000) + 400 * HOUR, &jv, &fx->errs),
                   0);
  assert_true(jv.open);
  assert_true(jv.reference > 140e3 && jv.reference < 160e3);
  assert_false(jv.avail_open);
}

/* An aborted run is stored and judges nothing; a failed one steps availability only. */
static void aborted_and_failed(void **state) {
  struct fixture *fx = *state;
  struct bw_detect det = settings(0);
  struct bw_run run;
  struct bw_judgement j;
  page_run(&run, 0, 98, 150, 0);
  run.outcome = BW_OUTCOME_ABORTED;
  assert_int_equal(bw_judge_record(fx->store, &det, HOUR, &run, &j, &fx->errs), 0);
  assert_false(j.stepped);
  assert_true(j.run_id > 0);
  bw_run_reset(&run);
  assert_int_equal(count(fx, "SELECT count(*) FROM judge"), 0);
  /* a new target has no history to say failures are rare: five in a row open, not three */
  for (int i = 1; i <= 5; i++) {
    page_run(&run, i, 0, 0, 20);
    assert_int_equal(bw_judge_record(fx->store, &det, HOUR, &run, &j, &fx->errs), 0);
    assert_true(j.stepped);
    assert_int_equal(j.n_fig, 1);
    assert_true(isnan(j.fig[0].value));
    assert_int_equal(j.avail_event, i == 5 ? BW_EVENT_OPENED : BW_EVENT_NONE);
    bw_run_reset(&run);
  }
  assert_int_equal(count(fx, "SELECT count(*) FROM regression WHERE metric = 'availability'"),
                   1);
  /* the five failures, the four before the opening one included, are out of later windows */
  assert_int_equal(
      count(fx, "SELECT count(*) FROM run_mark WHERE metric = 'availability' AND excluded"), 5);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test_setup_teardown(tail_and_failures, setup, teardown),
      cmocka_unit_test_setup_teardown(aborted_and_failed, setup, teardown),
  };
  return cmocka_run_group_tests_name("judge", tests, NULL, NULL);
}
