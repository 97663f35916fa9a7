/* Scheduling: wall-clock alignment, offsets, time zones, jitter spread and determinism. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <cmocka.h>

#include "bw_schedule.h"

#define S INT64_C(1000000)
#define MIN (60 * S)
#define HOUR (3600 * S)
/* 2026-11-21 10:59:00 UTC */
#define T1059 (INT64_C(1795777140) * S)

static void hourly_at_five(void **state) {
  (void)state;
  /* A restart at 10:59 still fires the 11:05 run. */
  assert_int_equal(bw_schedule_next(T1059, 0, HOUR, 5 * MIN, 0, 1), T1059 + 6 * MIN);
  /* Exactly at a fire time: the next one, not the same one again. */
  int64_t t = T1059 + 6 * MIN;
  assert_int_equal(bw_schedule_next(t, 0, HOUR, 5 * MIN, 0, 1), t + HOUR);
  assert_int_equal(bw_schedule_next(t - 1, 0, HOUR, 5 * MIN, 0, 1), t);
}

static void local_time_zone(void **state) {
  (void)state;
  /* In UTC+05:30, hourly at :05 local is :35 UTC. 10:59 UTC is 16:29 local: next 17:05 local. */
  int64_t off = 5 * HOUR + 30 * MIN;
  assert_int_equal(bw_schedule_next(T1059, off, HOUR, 5 * MIN, 0, 1), T1059 - 24 * MIN + HOUR);
  /* Daily at 06:30 local in UTC-5: 11:30 UTC. */
  int64_t day = 24 * HOUR;
  int64_t next = bw_schedule_next(T1059, -5 * HOUR, day, 6 * HOUR + 30 * MIN, 0, 1);
  assert_int_equal((next / S) % 86400, 11 * 3600 + 30 * 60);
}

/* Computed from the clock, not accumulated: a year of hourly steps lands on :05 exactly. */
static void no_drift(void **state) {
  int64_t t = T1059;
  (void)state;
  for (int i = 0; i < 24 * 366; i++)
    t = bw_schedule_next(t, 0, HOUR, 5 * MIN, 0, 1);
  assert_int_equal((t / S) % 3600, 5 * 60);
  /* After a clock jump of 3 hours, the next time is the next slot: no burst of missed ones. */
  int64_t after = bw_schedule_next(T1059 + 3 * HOUR + 10 * MIN, 0, HOUR, 5 * MIN, 0, 1);
  assert_int_equal(after, T1059 + 4 * HOUR + 6 * MIN);
}

static void jitter_spreads_and_is_stable(void **state) {
  char name[16];
  int buckets[30] = {0};
  (void)state;
  for (int i = 0; i < 3000; i++) {
    (void)snprintf(name, sizeof(name), "test-%d", i);
    uint64_t key = bw_schedule_key(name, "");
    int64_t j = bw_schedule_jitter(key, 30 * S);
    assert_true(j >= 0 && j < 30 * S);
    assert_int_equal(j, bw_schedule_jitter(bw_schedule_key(name, ""), 30 * S));
    buckets[j / S]++;
  }
  /* 3000 targets over 30 one-second buckets: about 100 each, none empty, none crowded. */
  for (int b = 0; b < 30; b++)
    assert_true(buckets[b] > 50 && buckets[b] < 150);
  /* The backend is part of the identity; so is where the name ends. */
  assert_true(bw_schedule_key("big", "node-1:8088") != bw_schedule_key("big", "node-2:8088"));
  assert_true(bw_schedule_key("ab", "c") != bw_schedule_key("a", "bc"));
  assert_true(bw_schedule_key("x", NULL) == bw_schedule_key("x", ""));
  assert_int_equal(bw_schedule_jitter(12345, 0), 0);
  /* Jitter shifts the fire time within [offset, offset + jitter). */
  uint64_t key = bw_schedule_key("portal-home", "");
  int64_t next = bw_schedule_next(T1059, 0, HOUR, 5 * MIN, 30 * S, key);
  assert_int_equal(next, T1059 + 6 * MIN + bw_schedule_jitter(key, 30 * S));
}

static void short_intervals(void **state) {
  (void)state;
  /* every 2s: even seconds. */
  int64_t t = T1059 + 300000;
  assert_int_equal(bw_schedule_next(t, 0, 2 * S, 0, 0, 1), T1059 + 2 * S);
  /* Before the epoch's local midnight (negative local times) still aligns. */
  assert_int_equal(bw_schedule_next(-1, 0, HOUR, 0, 0, 1), 0);
  assert_int_equal(bw_schedule_next(-HOUR - 1, 0, HOUR, 0, 0, 1), -HOUR);
}

/* Daily at 06:30 local time, across both DST changes of a year in Berlin (POSIX TZ rule, so no
 * time zone database is needed): exactly one time per calendar day, always at 06:30. */
static void daily_report_time(void **state) {
  (void)state;
  (void)setenv("TZ", "CET-1CEST,M3.5.0,M10.5.0/3", 1);
  tzset();
  int64_t t = INT64_C(1767225600) * S; /* 2026-01-01 00:00 UTC */
  int last_day = 0;
  for (int i = 0; i < 365; i++) {
    t = bw_schedule_daily(t, 6 * 60 + 30);
    time_t tt = (time_t)(t / S);
    struct tm tm;
    assert_non_null(localtime_r(&tt, &tm));
    assert_int_equal(tm.tm_hour, 6);
    assert_int_equal(tm.tm_min, 30);
    int day = bw_schedule_local_day(t);
    assert_true(day > last_day);
    last_day = day;
  }
  assert_int_equal(last_day, 20261231);
  /* Spring forward (2026-03-29, 02:00 -> 03:00): a 02:30 report comes at 03:30 that day, once. */
  int64_t before = INT64_C(1774742400) * S; /* 2026-03-29 00:00 UTC = 01:00 CET */
  int64_t at = bw_schedule_daily(before, 2 * 60 + 30);
  assert_int_equal(bw_schedule_local_day(at), 20260329);
  assert_int_equal(bw_schedule_local_day(bw_schedule_daily(at, 2 * 60 + 30)), 20260330);
  (void)unsetenv("TZ");
  tzset();
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(hourly_at_five),
      cmocka_unit_test(local_time_zone),
      cmocka_unit_test(no_drift),
      cmocka_unit_test(jitter_spreads_and_is_stable),
      cmocka_unit_test(short_intervals),
      cmocka_unit_test(daily_report_time),
  };
  return cmocka_run_group_tests_name("schedule", tests, NULL, NULL);
}
