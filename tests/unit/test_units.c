/* Units: every duration and size form the config accepts, and what it refuses. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "bw_units.h"

#define S INT64_C(1000000)

static void durations(void **state) {
  static const struct {
    const char *text;
    int64_t us;
  } cases[] = {
      {"0", 0},
      {"250ms", 250000},
      {"30s", 30 * S},
      {"5m", 300 * S},
      {"1h", 3600 * S},
      {"7d", 7 * 86400 * S},
      {"2w", 14 * 86400 * S},
      {"1h30m", 5400 * S},
      {"1.5s", 1500000},
      {"0.25h", 900 * S},
      {"100us", 100},
      {"1m0.5s", 60500000},
  };
  (void)state;
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    int64_t v = -1;
    assert_int_equal(bw_parse_duration(cases[i].text, &v), 0);
    assert_int_equal(v, cases[i].us);
  }
}

static void bad_durations(void **state) {
  static const char *const bad[] = {"", "60", "5 m", "5M", "m", "1.s", "-5s", "5mm", "5x",
                                    "1h-", ".5s", "5s ", " 5s", "1e3s"};
  (void)state;
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    int64_t v = 42;
    assert_int_equal(bw_parse_duration(bad[i], &v), -EINVAL);
    assert_int_equal(v, 42); /* untouched on error */
  }
  int64_t v = 42;
  assert_int_equal(bw_parse_duration("999999999999999999d", &v), -ERANGE);
  assert_int_equal(bw_parse_duration("106751992d", &v), -ERANGE); /* just over INT64_MAX µs */
  assert_int_equal(bw_parse_duration("106751991d", &v), 0);
  assert_int_equal(v, INT64_C(106751991) * 86400 * S);
}

static void sizes(void **state) {
  static const struct {
    const char *text;
    int64_t bytes;
  } cases[] = {
      {"0", 0},
      {"123", 123},
      {"123B", 123},
      {"64KB", 64000},
      {"64KiB", 65536},
      {"700MB", 700000000},
      {"700mb", 700000000},
      {"700MiB", 700 * (INT64_C(1) << 20)},
      {"2GiB", INT64_C(2) << 30},
      {"2GB", INT64_C(2000000000)},
      {"1TB", INT64_C(1000000000000)},
      {"1TiB", INT64_C(1) << 40},
      {"1.5MB", 1500000},
      {"0.5KiB", 512},
  };
  (void)state;
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    int64_t v = -1;
    assert_int_equal(bw_parse_size(cases[i].text, &v), 0);
    assert_int_equal(v, cases[i].bytes);
  }
  static const char *const bad[] = {"", "MB", "5 MB", "5XB", "-1MB", "5MBs", "lots", "1.MB"};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    int64_t v = 42;
    assert_int_equal(bw_parse_size(bad[i], &v), -EINVAL);
    assert_int_equal(v, 42);
  }
  int64_t v;
  assert_int_equal(bw_parse_size("9000000TB", &v), 0);
  assert_int_equal(bw_parse_size("10000000TB", &v), -ERANGE);
}

static void time_of_day(void **state) {
  int m = -1;
  (void)state;
  assert_int_equal(bw_parse_time_of_day("06:30", &m), 0);
  assert_int_equal(m, 390);
  assert_int_equal(bw_parse_time_of_day("00:00", &m), 0);
  assert_int_equal(m, 0);
  assert_int_equal(bw_parse_time_of_day("23:59", &m), 0);
  assert_int_equal(m, 1439);
  assert_int_equal(bw_parse_time_of_day("24:00", &m), -EINVAL);
  assert_int_equal(bw_parse_time_of_day("6:30", &m), -EINVAL);
  assert_int_equal(bw_parse_time_of_day("06:60", &m), -EINVAL);
  assert_int_equal(bw_parse_time_of_day("0630", &m), -EINVAL);
}

/* Formatting gives the shortest exact text, and parsing it gives the value back. */
static void format_round_trip(void **state) {
  char buf[64];
  (void)state;
  assert_string_equal(bw_format_duration(5400 * S, buf, sizeof(buf)), "1h30m");
  assert_string_equal(bw_format_duration(250000, buf, sizeof(buf)), "250ms");
  assert_string_equal(bw_format_duration(14 * 86400 * S, buf, sizeof(buf)), "14d");
  assert_string_equal(bw_format_duration(0, buf, sizeof(buf)), "0");
  assert_string_equal(bw_format_size(700000000, buf, sizeof(buf)), "700MB");
  assert_string_equal(bw_format_size(INT64_C(2) << 30, buf, sizeof(buf)), "2GiB");
  assert_string_equal(bw_format_size(123, buf, sizeof(buf)), "123B");
  assert_string_equal(bw_format_size(0, buf, sizeof(buf)), "0B");
  static const int64_t durs[] = {1, 999, 1000, 1001, 61 * S + 7, 86400 * S + 1, INT64_MAX};
  for (size_t i = 0; i < sizeof(durs) / sizeof(durs[0]); i++) {
    int64_t v;
    assert_int_equal(bw_parse_duration(bw_format_duration(durs[i], buf, sizeof(buf)), &v), 0);
    assert_int_equal(v, durs[i]);
  }
  static const int64_t szs[] = {1, 1000, 1024, 1536, 1000000, 1048576, 999999999, INT64_MAX};
  for (size_t i = 0; i < sizeof(szs) / sizeof(szs[0]); i++) {
    int64_t v;
    assert_int_equal(bw_parse_size(bw_format_size(szs[i], buf, sizeof(buf)), &v), 0);
    assert_int_equal(v, szs[i]);
  }
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(durations),   cmocka_unit_test(bad_durations),
      cmocka_unit_test(sizes),       cmocka_unit_test(time_of_day),
      cmocka_unit_test(format_round_trip),
  };
  return cmocka_run_group_tests_name("units", tests, NULL, NULL);
}
