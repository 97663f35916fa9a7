#ifndef BW_RETENTION_H
#define BW_RETENTION_H

#include <stdbool.h>
#include <stdint.h>

#include "bw_config.h"
#include "bw_store.h"

/*
 * Retention as a plan: what a pass at now_us deletes under cfg's retention (cfg may be NULL: the
 * built-in defaults), with samples_us/runs_us overriding it when not BW_NONE (0 keeps). The runs
 * an open regression's baseline needs reach back the longest detect window (a whole year, the
 * longest allowed, without a config). Pure.
 */
void bw_retention_plan(const struct bw_config *cfg, int64_t now_us, int64_t samples_us,
                       int64_t runs_us, struct bw_prune_plan *ret);

/* Whether the daemon's daily pass is due: none for a day since last_us (BW_NONE: never). */
bool bw_retention_due(int64_t last_us, int64_t now_us);

#endif
