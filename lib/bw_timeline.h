#ifndef BW_TIMELINE_H
#define BW_TIMELINE_H

#include <stddef.h>
#include <stdint.h>

/*
 * The throughput timeline of one download: bytes received in each step of interval_us, counted
 * from the first body byte (so connecting and waiting are TTFB, not a stall). Pure: the caller
 * feeds arrival times. This is what shows *when* a download collapsed, which the mean over the
 * whole transfer hides.
 */
struct bw_timeline {
  int64_t interval_us;
  int64_t origin_us; /* time of the first byte; BW_NONE before it */
  int64_t *bins;
  int64_t *silent; /* per step: µs inside silences of BW_SILENCE_US or more */
  size_t n;
  size_t cap;
  size_t cap_silent;
  int64_t last_us; /* time of the latest arrival */
  int64_t bytes;   /* received so far */
  /* Silences of BW_SILENCE_US or more: how many, the first (offset from the origin, bytes before
   * it) and the longest. */
  int64_t silences;
  int64_t first_silence_at_us;
  int64_t first_silence_bytes;
  int64_t longest_silence_us;
};

/* A pause in the data this long counts as stalled time exactly, wherever the steps fall. */
#define BW_SILENCE_US INT64_C(1000000)

struct bw_timeline_summary {
  int64_t steps;        /* intervals, the last one possibly short */
  int64_t stall_us;     /* time in steps slower than the stall rate, plus silences of a second
                           or more in the other steps: a 3 s pause shows as 3 s */
  int64_t min_rate_bps; /* slowest and fastest whole step */
  int64_t max_rate_bps;
  int64_t first_stall_us; /* start of the first stalled step after origin, or -1 */
  int64_t silences;       /* pauses of BW_SILENCE_US or more, the one at the end included */
  int64_t first_silence_at_us; /* from the origin; -1 without a silence */
  int64_t first_silence_bytes; /* bytes received before it */
  int64_t longest_silence_us;
};

void bw_timeline_init(struct bw_timeline *tl, int64_t interval_us);
/* Frees the bins. */
void bw_timeline_reset(struct bw_timeline *tl);
/* Counts bytes arriving at time now_us (any monotonic clock; the first call sets the origin). */
void bw_timeline_add(struct bw_timeline *tl, int64_t now_us, int64_t bytes);
/*
 * Closes the timeline at end_us (extending it with empty steps up to then) and summarises it. A
 * step is stalled when its rate is below stall_bps; the last, short step counts for its own
 * length, and is left out of min/max when shorter than half a step. A step fast enough overall
 * still adds the part of it inside a silence of BW_SILENCE_US or more.
 */
void bw_timeline_finish(struct bw_timeline *tl, int64_t end_us, int64_t stall_bps,
                        struct bw_timeline_summary *ret);
/* Length of step i (the last may be shorter): for samples. */
int64_t bw_timeline_step_us(const struct bw_timeline *tl, size_t i, int64_t end_us);

#endif
