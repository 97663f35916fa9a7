#ifndef BW_CHART_H
#define BW_CHART_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bw_result.h"
#include "bw_util.h"

/*
 * A target's history as a PNG picture, drawn with cairo (as rrdtool draws its graphs): the runs
 * as a line over time, the baseline's normal band (from the reference to the threshold beyond
 * which a run is bad), the spans of its regressions, failed runs as red ticks under the line,
 * and the report's period shaded. Mail clients show PNG where they drop inline SVG. Pure: no
 * I/O, the picture comes back in memory. Times are labelled in local time.
 */

struct bw_chart_span {
  int64_t from_us;
  int64_t until_us; /* the chart's end while still open */
  bool accepted;    /* closed by a person accepting the new level: drawn grey, not red */
};

struct bw_chart {
  int width, height;             /* pixels, at least 200 x 80 */
  int64_t from_us, until_us;     /* the time axis */
  int64_t period_from_us;        /* [period_from_us, until_us) is shaded; 0: nothing shaded */
  const struct bw_point *points; /* oldest first; value NAN for a failed run */
  size_t n_points;
  double reference; /* the baseline; NAN: none, and no band */
  double threshold; /* the band's other edge (bw_detect_threshold); NAN: no band */
  const struct bw_chart_span *spans;
  size_t n_spans;
  double scale;     /* axis labels show value / scale ... */
  const char *unit; /* ... in this unit ("ms", "MB/s") */
};

/*
 * Draws c as a PNG: *ret (free() it) of *ret_len bytes. 0, or -ENOMEM/-EINVAL with cairo's own
 * words in errs when cairo cannot draw it. *ret is left alone on failure.
 */
int bw_chart_png(const struct bw_chart *c, unsigned char **ret, size_t *ret_len,
                 struct bw_errs *errs);

/*
 * Frees what cairo and fontconfig keep between charts (the fonts they looked up). Once, at exit,
 * after the last chart: no chart may be drawn after it. Without it the memory is still freed by
 * the exit, but a leak checker reports it.
 */
void bw_chart_finish(void);

/* Where a time and a value land in the picture, in pixels from its left and its top. */
double bw_chart_x(const struct bw_chart *c, int64_t at_us);
double bw_chart_y(const struct bw_chart *c, double value);

#endif
