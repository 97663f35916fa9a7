#ifndef BW_SCHEDULE_H
#define BW_SCHEDULE_H

#include <stdint.h>

/*
 * When a target runs. Pure: the caller passes the clock. Fire times are aligned to the local
 * wall clock: every `every_us` counted from local midnight of 1970-01-01, plus offset, plus the
 * target's own jitter (so every: 1h, offset: 5m fires at :05 local time, whatever the time zone).
 * Each next time is computed from the clock, never accumulated, so nothing drifts over months,
 * and a restart keeps the same times.
 */

/* A stable hash of the target's identity (FNV-1a, 64 bits). backend may be "" or NULL. */
uint64_t bw_schedule_key(const char *test, const char *backend);

/* The target's fixed delay in [0, jitter_us): the same on every host, run and restart. */
int64_t bw_schedule_jitter(uint64_t key, int64_t jitter_us);

/*
 * The first fire time strictly after now_us (wall clock, µs since the epoch). utc_offset_us is the
 * local time zone's offset east of UTC at now_us (tm_gmtoff x 10^6).
 */
int64_t bw_schedule_next(int64_t now_us, int64_t utc_offset_us, int64_t every_us, int64_t offset_us,
                         int64_t jitter_us, uint64_t key);

/*
 * The first time strictly after now_us when the local wall clock (the TZ in force) shows
 * minutes_after_midnight, for once-a-day work such as the nightly report. Built from the local
 * calendar date with mktime(), so a day with a DST change still gets exactly one such time; on the
 * spring-forward day a time inside the skipped hour comes at the first minute after it.
 */
int64_t bw_schedule_daily(int64_t now_us, int minutes_after_midnight);

/* The local calendar day of a time as YYYYMMDD, for "once per calendar day" bookkeeping. */
int bw_schedule_local_day(int64_t wall_us);

#endif
