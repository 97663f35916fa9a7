/*
 * The nightly report's content read from a real store (bw_report_collect): a period of up to two
 * days run by run, a longer one from run_day's whole days with its partial ends run by run.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <ftw.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "bw_report.h"
#include "bw_result.h"
#include "bw_store.h"
#include "bw_util.h"

#define HOUR_US (3600 * INT64_C(1000000))
#define DAY_US (24 * HOUR_US)
#define D0_US INT64_C(1700006400000000) /* 2023-11-15 00:00:00 UTC */

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
  (void)sb;
  (void)flag;
  (void)ftw;
  return remove(path);
}

/*
 * Five days of hourly page runs at :30, day k's p50 (k + 1) * 1000 + hour µs; day 2's 05:30
 * failed, and so did the last run, day 4's 11:30 (the store ends there).
 */
static struct bw_store *five_days(char *dir) {
  struct bw_errs errs = {0};
  struct bw_store *store = NULL;
  char *db = bw_xasprintf("%s/bw.db", dir);
  if (bw_store_open(db, &store, &errs) < 0)
    fail_msg("%s", errs.msg[0]);
  free(db);
  for (int k = 0; k < 5; k++)
    for (int h = 0; h < 24 && !(k == 4 && h > 11); h++) {
      struct bw_run r;
      bw_run_init(&r);
      r.test = bw_xstrdup("home");
      r.kind = BW_KIND_PAGE;
      r.url = bw_xstrdup("http://portal.example.test/");
      r.started_us = D0_US + k * DAY_US + h * HOUR_US + HOUR_US / 2;
      r.outcome = BW_OUTCOME_OK;
      if ((k == 2 && h == 5) || (k == 4 && h == 11))
        r.outcome = BW_OUTCOME_FAILED;
      else
        r.p50_us = (k + 1) * 1000 + h;
      /* The certificate runs out at the start of day 3; its successor, installed at noon that
       * day, runs to day 30. */
      r.cert_expires_us = k < 3 || (k == 3 && h < 12) ? D0_US + 3 * DAY_US : D0_US + 30 * DAY_US;
      if (bw_store_put_run(store, &r, NULL, &errs) < 0)
        fail_msg("%s", errs.msg[0]);
      bw_run_reset(&r);
    }
  return store;
}

static void collect(struct bw_store *store, int64_t from, int64_t until, struct bw_nightly *ret) {
  struct bw_errs errs = {0};
  if (bw_report_collect(store, NULL, "monitor", from, until, ret, &errs) < 0)
    fail_msg("%s", errs.msg[0]);
  assert_int_equal(ret->n_targets, 1);
}

static void period_from_days(void **state) {
  (void)state;
  char dir[] = "/tmp/bw-report-XXXXXX";
  assert_non_null(mkdtemp(dir));
  struct bw_store *store = five_days(dir);
  struct bw_nightly n;

  /* 4 days from noon: 12 runs by run, 3 whole days from run_day, 12 runs by run. */
  collect(store, D0_US + 12 * HOUR_US, D0_US + 4 * DAY_US + 12 * HOUR_US, &n);
  const struct bw_nightly_target *t = &n.targets[0];
  assert_int_equal(t->runs, 12 + 3 * 24 + 12);
  assert_int_equal(t->failures, 2);
  /* One point a day: the medians of 1012..1023, day 1, day 2 (without 05:30), day 3, 5000..5010. */
  assert_int_equal(t->n_values, 5);
  static const double want[] = {1017.5, 2011.5, 3012, 4011.5, 5005};
  for (size_t i = 0; i < 5; i++)
    assert_true(t->values[i] == want[i]);
  assert_true(t->median == 3012);
  assert_true(t->latest == 5010); /* the newest good run */
  assert_true(t->last_failed);
  assert_int_equal(n.failing, 1);
  bw_report_free(&n);

  /* A day is read run by run: every good run a point. */
  collect(store, D0_US + 4 * DAY_US - 12 * HOUR_US, D0_US + 4 * DAY_US + 12 * HOUR_US, &n);
  t = &n.targets[0];
  assert_int_equal(t->runs, 24);
  assert_int_equal(t->failures, 1);
  assert_int_equal(t->n_values, 23);
  assert_true(t->values[0] == 4012 && t->values[22] == 5010);
  assert_true(t->latest == 5010);
  assert_true(t->last_failed);
  bw_report_free(&n);

  /* Whole days only, the last without runs: the newest run and good run are found the same. */
  collect(store, D0_US, D0_US + 6 * DAY_US, &n);
  t = &n.targets[0];
  assert_int_equal(t->runs, 4 * 24 + 12);
  assert_int_equal(t->n_values, 5);
  assert_true(t->values[4] == 5005);
  assert_true(t->latest == 5010);
  assert_true(t->last_failed);
  bw_report_free(&n);

  bw_store_close(store);
  (void)nftw(dir, remove_entry, 8, FTW_DEPTH | FTW_PHYS);
}

/* The report warns of a certificate that expires within 14 days of its end, or has expired. */
static void certificates(void **state) {
  char dir[] = "/tmp/bw-report-XXXXXX";
  struct bw_nightly n;
  (void)state;
  assert_non_null(mkdtemp(dir));
  struct bw_store *store = five_days(dir);

  /* Day 1 to day 2: the first certificate expires a day after the period: warned. */
  collect(store, D0_US + DAY_US, D0_US + 2 * DAY_US, &n);
  assert_int_equal(n.certs_expiring, 1);
  assert_true(n.targets[0].cert_expires_us == (double)(D0_US + 3 * DAY_US));
  assert_false(bw_report_quiet(&n));
  char *subject = bw_report_subject(&n);
  assert_non_null(strstr(subject, ", 1 certificate expiring"));
  char *text = bw_report_text(&n);
  assert_non_null(strstr(text, "CERTIFICATES EXPIRING (within 14 days)\n  home: the server "
                               "certificate expires 2023-11-18 00:00 UTC, in 1.0 days\n"));
  char *html = bw_report_html(&n, NULL);
  assert_non_null(strstr(html, "<li><b>home</b>: the server certificate expires 2023-11-18 00:00 "
                               "UTC, in 1.0 days</li>"));
  free(subject);
  free(text);
  free(html);
  bw_report_free(&n);

  /* Day 3 up to noon: the period's latest run still had the old certificate, expired since. */
  collect(store, D0_US + 3 * DAY_US, D0_US + 3 * DAY_US + 12 * HOUR_US, &n);
  assert_int_equal(n.certs_expiring, 1);
  text = bw_report_text(&n);
  assert_non_null(
      strstr(text, "the server certificate EXPIRED 2023-11-18 00:00 UTC, 0.5 days ago"));
  free(text);
  bw_report_free(&n);

  /* From noon: the new one, 25.5 days from the period's end: nothing to warn of. */
  collect(store, D0_US + 3 * DAY_US + 12 * HOUR_US, D0_US + 4 * DAY_US + 12 * HOUR_US, &n);
  assert_int_equal(n.certs_expiring, 0);
  assert_true(n.targets[0].cert_expires_us == (double)(D0_US + 30 * DAY_US));
  text = bw_report_text(&n);
  assert_null(strstr(text, "CERTIFICATE"));
  free(text);
  bw_report_free(&n);

  bw_store_close(store);
  (void)nftw(dir, remove_entry, 8, FTW_DEPTH | FTW_PHYS);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(period_from_days),
      cmocka_unit_test(certificates),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
