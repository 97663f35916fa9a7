#include "bw_timeline.h"

#include <stdlib.h>
#include <string.h>

#include "bw_result.h"
#include "bw_util.h"

void bw_timeline_init(struct bw_timeline *tl, int64_t interval_us) {
  memset(tl, 0, sizeof(*tl));
  tl->interval_us = interval_us > 0 ? interval_us : 1000000;
  tl->origin_us = BW_NONE;
}

void bw_timeline_reset(struct bw_timeline *tl) {
  free(tl->bins);
  free(tl->silent);
  bw_timeline_init(tl, tl->interval_us);
}

/* Makes bins 0..i exist (zeroed). */
static void extend(struct bw_timeline *tl, size_t i) {
  if (i < tl->n)
    return;
  bw_xgrow(&tl->bins, &tl->cap, i + 1, sizeof(*tl->bins));
  bw_xgrow(&tl->silent, &tl->cap_silent, i + 1, sizeof(*tl->silent));
  memset(tl->bins + tl->n, 0, (i + 1 - tl->n) * sizeof(*tl->bins));
  memset(tl->silent + tl->n, 0, (i + 1 - tl->n) * sizeof(*tl->silent));
  tl->n = i + 1;
}

/* Spreads the silence [from, to) (offsets from the origin) over the steps it covers. */
static void add_silence(struct bw_timeline *tl, int64_t from, int64_t to) {
  if (to - from < BW_SILENCE_US)
    return;
  if (tl->silences++ == 0) {
    tl->first_silence_at_us = from;
    tl->first_silence_bytes = tl->bytes;
  }
  if (to - from > tl->longest_silence_us)
    tl->longest_silence_us = to - from;
  extend(tl, (size_t)((to - 1) / tl->interval_us));
  for (int64_t t = from; t < to;) {
    size_t i = (size_t)(t / tl->interval_us);
    int64_t step_end = (int64_t)(i + 1) * tl->interval_us;
    int64_t upto = step_end < to ? step_end : to;
    tl->silent[i] += upto - t;
    t = upto;
  }
}

void bw_timeline_add(struct bw_timeline *tl, int64_t now_us, int64_t bytes) {
  if (tl->origin_us == BW_NONE) {
    tl->origin_us = now_us;
    tl->last_us = now_us;
  }
  int64_t off = now_us - tl->origin_us;
  add_silence(tl, tl->last_us - tl->origin_us, off);
  if (now_us > tl->last_us)
    tl->last_us = now_us;
  size_t i = off > 0 ? (size_t)(off / tl->interval_us) : 0;
  extend(tl, i);
  tl->bins[i] += bytes;
  tl->bytes += bytes;
}

int64_t bw_timeline_step_us(const struct bw_timeline *tl, size_t i, int64_t end_us) {
  int64_t start = (int64_t)i * tl->interval_us;
  int64_t len = end_us - tl->origin_us - start;
  return len < tl->interval_us ? (len > 0 ? len : 0) : tl->interval_us;
}

void bw_timeline_finish(struct bw_timeline *tl, int64_t end_us, int64_t stall_bps,
                        struct bw_timeline_summary *ret) {
  memset(ret, 0, sizeof(*ret));
  ret->min_rate_bps = BW_NONE;
  ret->max_rate_bps = BW_NONE;
  ret->first_stall_us = -1;
  ret->first_silence_at_us = -1;
  if (tl->origin_us == BW_NONE)
    return;
  int64_t span = end_us - tl->origin_us;
  if (span > 0)
    extend(tl, (size_t)((span - 1) / tl->interval_us));
  add_silence(tl, tl->last_us - tl->origin_us, span);
  tl->last_us = end_us > tl->last_us ? end_us : tl->last_us; /* finishing twice adds nothing */
  ret->silences = tl->silences;
  if (tl->silences) {
    ret->first_silence_at_us = tl->first_silence_at_us;
    ret->first_silence_bytes = tl->first_silence_bytes;
    ret->longest_silence_us = tl->longest_silence_us;
  }
  for (size_t i = 0; i < tl->n; i++) {
    int64_t len = bw_timeline_step_us(tl, i, end_us);
    if (len <= 0)
      continue;
    int64_t rate = (int64_t)((double)tl->bins[i] * 1e6 / (double)len);
    ret->steps++;
    int64_t stalled = rate < stall_bps ? len : tl->silent[i];
    if (stalled > 0) {
      ret->stall_us += stalled;
      if (ret->first_stall_us < 0)
        ret->first_stall_us = (int64_t)i * tl->interval_us;
    }
    if (len * 2 < tl->interval_us && tl->n > 1)
      continue; /* a sliver at the end says little about the rate */
    if (ret->min_rate_bps == BW_NONE || rate < ret->min_rate_bps)
      ret->min_rate_bps = rate;
    if (ret->max_rate_bps == BW_NONE || rate > ret->max_rate_bps)
      ret->max_rate_bps = rate;
  }
}
