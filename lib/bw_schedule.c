#include "bw_schedule.h"

#include <stddef.h>
#include <time.h>

uint64_t bw_schedule_key(const char *test, const char *backend) {
  uint64_t h = 14695981039346656037u;
  for (const char *p = test; p && *p; p++)
    h = (h ^ (unsigned char)*p) * 1099511628211u;
  h = (h ^ 0xff) * 1099511628211u; /* separator: ("ab", "c") differs from ("a", "bc") */
  for (const char *p = backend; p && *p; p++)
    h = (h ^ (unsigned char)*p) * 1099511628211u;
  return h;
}

int64_t bw_schedule_jitter(uint64_t key, int64_t jitter_us) {
  if (jitter_us <= 0)
    return 0;
  /* FNV's low bits are weak for short keys: mix before reducing (splitmix64 finaliser). */
  key ^= key >> 30;
  key *= 0xbf58476d1ce4e5b9u;
  key ^= key >> 27;
  key *= 0x94d049bb133111ebu;
  key ^= key >> 31;
  return (int64_t)(key % (uint64_t)jitter_us);
}

static int64_t floor_div(int64_t a, int64_t b) {
  int64_t q = a / b;
  return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q;
}

int64_t bw_schedule_next(int64_t now_us, int64_t utc_offset_us, int64_t every_us, int64_t offset_us,
                         int64_t jitter_us, uint64_t key) {
  int64_t phase = offset_us + bw_schedule_jitter(key, jitter_us);
  int64_t local = now_us + utc_offset_us - phase;
  int64_t k = floor_div(local, every_us) + 1;
  return k * every_us + phase - utc_offset_us;
}

int64_t bw_schedule_daily(int64_t now_us, int minutes_after_midnight) {
  time_t now = (time_t)(now_us / 1000000);
  struct tm day;
  if (!localtime_r(&now, &day))
    return now_us + 86400 * INT64_C(1000000);
  for (int add = 0; add < 3; add++) {
    struct tm t = day;
    t.tm_mday += add; /* mktime normalises the month and year */
    t.tm_hour = minutes_after_midnight / 60;
    t.tm_min = minutes_after_midnight % 60;
    t.tm_sec = 0;
    t.tm_isdst = -1; /* let the zone rules say whether DST applies on that day */
    time_t at = mktime(&t);
    if (at != (time_t)-1 && (int64_t)at * 1000000 > now_us)
      return (int64_t)at * 1000000;
  }
  return now_us + 86400 * INT64_C(1000000);
}

int bw_schedule_local_day(int64_t wall_us) {
  time_t t = (time_t)(wall_us / 1000000);
  struct tm tm;
  if (!localtime_r(&t, &tm))
    return 0;
  return (tm.tm_year + 1900) * 10000 + (tm.tm_mon + 1) * 100 + tm.tm_mday;
}
