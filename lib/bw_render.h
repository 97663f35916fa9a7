#ifndef BW_RENDER_H
#define BW_RENDER_H

#include <stdbool.h>
#include <stdint.h>

#include "bw_result.h"
#include "bw_util.h"

/*
 * Runs as text for people and JSON for programs. Pure: a run in, a malloc'ed string out.
 * Rates are shown in MB/s of 10^6 bytes (said in the output); times in ms.
 */

/* A page run as ApacheBench prints it (same lines, same meanings), plus the mode and phases. */
char *bw_render_ab(const struct bw_run *run, int64_t concurrency, bool keepalive);
/* A connect run in ab's manner: connections made and failed, connections per second, and the
 * DNS, TCP connect and TLS handshake times (min, mean, sd, median, max) with the percentiles of
 * the TCP connect. */
char *bw_render_connect(const struct bw_run *run, int64_t concurrency);

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

/* Appends s with &, <, >, " and ' escaped, for HTML text and attribute values. */
void bw_render_escape(struct bw_buf *b, const char *s);

/*
 * A chart of one figure over time: its runs (a line through the good ones, a mark at the foot for
 * each failed one), the baseline band the judge holds and its mode, and the spans during which a
 * regression was open, shaded. Times are µs since the epoch; the axis shows local time.
 */
struct bw_svg_span {
  int64_t from_us;
  int64_t until_us; /* BW_NONE: still open (shaded to the axis' end) */
  int64_t id;       /* the regression's id, for its link */
  bool availability;
};

struct bw_svg_chart {
  const struct bw_point *pts; /* oldest first; value NAN for a failed run */
  size_t n;
  int64_t from_us, until_us; /* the time axis */
  double mode;               /* NAN: no baseline yet */
  double band_lo, band_hi;   /* the band of normal values; NAN: none */
  const struct bw_svg_span *spans;
  size_t n_spans;
  double scale; /* value / scale is in unit */
  const char *unit;
  const char *label; /* the figure's name for people: "median", "MB/s" */
  int width, height; /* the drawing's own units; it scales to its box */
  const char *link;  /* when set, a span links to link followed by its id */
};

/* The chart as one inline <svg> element (no scripts, nothing fetched); allocated. */
char *bw_render_chart_svg(const struct bw_svg_chart *c);

#endif
