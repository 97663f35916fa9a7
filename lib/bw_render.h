#ifndef BW_RENDER_H
#define BW_RENDER_H

#include <stdbool.h>
#include <stdint.h>

#include "bw_result.h"

/*
 * Runs as text for people and JSON for programs. Pure: a run in, a malloc'ed string out.
 * Rates are shown in MB/s of 10^6 bytes (said in the output); times in ms.
 */

/* A page run as ApacheBench prints it (same lines, same meanings), plus the mode and phases. */
char *bw_render_ab(const struct bw_run *run, int64_t concurrency, bool keepalive);

/* A download run as wget summarises it, then its phases, the throughput timeline, the TCP facts
 * and the diagnosis (bw_diagnose(), without peers). */
char *bw_render_download(const struct bw_run *run);
/* The same, with the diagnosis read against peers, the test's runs on its other backends. */
char *bw_render_download_among(const struct bw_run *run, const struct bw_run *const *peers,
                               size_t n_peers);

/* The whole run, samples included, as one JSON object. */
char *bw_render_json(const struct bw_run *run);

/* One line: "test [backend]: outcome, headline figure" (or the error), then a download's
 * diagnosis sentences after "; " (the daemon's log line for the run). */
char *bw_render_line(const struct bw_run *run);
/* The same, with the diagnosis read against peers, the latest runs of the test's other backends
 * (see bw_diagnose()). */
char *bw_render_line_among(const struct bw_run *run, const struct bw_run *const *peers,
                           size_t n_peers);

#endif
