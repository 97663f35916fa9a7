/* Charts as PNG with cairo (bw_chart.h). */
#include "bw_chart.h"

#include <cairo.h>
#include <errno.h>
#include <fontconfig/fontconfig.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The plot area inside the picture: room for the value labels on the left, times below. */
#define LEFT 52.0
#define RIGHT 10.0
#define TOP 16.0 /* the unit above the value labels */
#define BOTTOM 20.0
#define FONT "DejaVu Sans"
#define FONT_PX 11.0
#define HOUR_US (INT64_C(3600) * 1000000)
#define DAY_US (24 * HOUR_US)

struct rgb {
  double r, g, b;
};
static const struct rgb c_line = {0.12, 0.37, 0.75}; /* the runs */
static const struct rgb c_band = {0.11, 0.50, 0.23}; /* the normal band and the reference */
static const struct rgb c_bad = {0.72, 0.00, 0.13};  /* regressions, failed runs */
static const struct rgb c_accepted = {0.45, 0.45, 0.45};
static const struct rgb c_text = {0.27, 0.27, 0.27};
static const struct rgb c_grid = {0.88, 0.88, 0.88};
static const struct rgb c_period = {0.93, 0.95, 0.99};

static void color(cairo_t *cr, struct rgb c, double alpha) {
  cairo_set_source_rgba(cr, c.r, c.g, c.b, alpha);
}

/* The top of the value axis: the largest value, the reference and the band, with some air; an
 * outlier far above the band does not squash the rest (it is drawn at the top, marked). */
static double top_of(const struct bw_chart *c, double *ret_cap) {
  double hi = 0, normal = 0;
  for (size_t i = 0; i < c->n_points; i++)
    if (!isnan(c->points[i].value))
      hi = fmax(hi, c->points[i].value);
  if (!isnan(c->reference))
    normal = fmax(normal, c->reference);
  if (!isnan(c->threshold))
    normal = fmax(normal, c->threshold);
  double cap = normal > 0 ? 3 * normal : (double)INFINITY;
  *ret_cap = cap;
  hi = fmax(fmin(hi, cap), normal);
  return hi > 0 ? hi * 1.1 : c->scale; /* nothing to show: 0 to 1 of the unit */
}

double bw_chart_x(const struct bw_chart *c, int64_t at_us) {
  double span = (double)(c->until_us - c->from_us);
  if (span <= 0)
    span = 1;
  return LEFT + (double)(at_us - c->from_us) / span * (c->width - LEFT - RIGHT);
}

double bw_chart_y(const struct bw_chart *c, double value) {
  double cap;
  double top = top_of(c, &cap);
  double v = fmin(fmax(value, 0), top);
  return c->height - BOTTOM - v / top * (c->height - TOP - BOTTOM);
}

/* 1, 2 or 5 times a power of ten: at least span / 4, so 3 to 5 labelled lines. */
static double nice_step(double span) {
  double raw = span / 4, p = pow(10, floor(log10(raw)));
  if (raw <= p)
    return p;
  if (raw <= 2 * p)
    return 2 * p;
  if (raw <= 5 * p)
    return 5 * p;
  return 10 * p;
}

static void text_at(cairo_t *cr, double x, double y, const char *s, double align) {
  cairo_text_extents_t e;
  cairo_text_extents(cr, s, &e);
  cairo_move_to(cr, x - e.x_advance * align, y);
  cairo_show_text(cr, s);
}

static void value_axis(cairo_t *cr, const struct bw_chart *c) {
  double cap;
  double top = top_of(c, &cap);
  double step = nice_step(top);
  int decimals = (int)fmax(0, -floor(log10(step / c->scale) + 1e-9));
  cairo_set_line_width(cr, 1);
  for (double v = 0; v <= top + step * 1e-9; v += step) {
    double y = round(bw_chart_y(c, v)) + 0.5;
    color(cr, c_grid, 1);
    cairo_move_to(cr, LEFT, y);
    cairo_line_to(cr, c->width - RIGHT, y);
    cairo_stroke(cr);
    char label[48];
    (void)snprintf(label, sizeof(label), "%.*f", decimals, v / c->scale);
    color(cr, c_text, 1);
    text_at(cr, LEFT - 5, y + FONT_PX / 2 - 1, label, 1);
  }
  /* The unit in the corner above the value labels. */
  color(cr, c_text, 1);
  cairo_move_to(cr, 4, FONT_PX);
  cairo_show_text(cr, c->unit ? c->unit : "");
}

/* Local midnights (or every 6 hours on a short axis), labelled under the plot. */
static void time_axis(cairo_t *cr, const struct bw_chart *c) {
  int64_t span = c->until_us - c->from_us;
  int64_t step = span > 2 * DAY_US ? DAY_US : span > 12 * HOUR_US ? 6 * HOUR_US : HOUR_US;
  if (span > 16 * DAY_US)
    step = 7 * DAY_US;
  time_t t = (time_t)(c->from_us / 1000000);
  struct tm tm;
  if (!localtime_r(&t, &tm))
    return;
  tm.tm_min = tm.tm_sec = 0;
  if (step >= DAY_US)
    tm.tm_hour = 0;
  else
    tm.tm_hour -= tm.tm_hour % (int)(step / HOUR_US);
  tm.tm_isdst = -1;
  double last_label_end = 0;
  for (int i = 0; i < 64; i++) {
    struct tm at = tm;
    if (step >= DAY_US)
      at.tm_mday += i * (int)(step / DAY_US);
    else
      at.tm_hour += i * (int)(step / HOUR_US);
    at.tm_isdst = -1;
    time_t tick = mktime(&at);
    if (tick == (time_t)-1)
      return;
    int64_t us = (int64_t)tick * 1000000;
    if (us > c->until_us)
      break;
    if (us < c->from_us)
      continue;
    double x = round(bw_chart_x(c, us)) + 0.5;
    color(cr, c_grid, 1);
    cairo_move_to(cr, x, TOP);
    cairo_line_to(cr, x, c->height - BOTTOM + 3);
    cairo_stroke(cr);
    char label[32];
    struct tm lt;
    if (!localtime_r(&tick, &lt) ||
        strftime(label, sizeof(label), step >= DAY_US ? "%a %d" : "%H:%M", &lt) == 0)
      continue;
    cairo_text_extents_t e;
    cairo_text_extents(cr, label, &e);
    if (x - e.x_advance / 2 < last_label_end + 4 || x + e.x_advance / 2 > c->width)
      continue; /* no labels on top of each other, none cut at the edge */
    color(cr, c_text, 1);
    text_at(cr, x, c->height - 6, label, 0.5);
    last_label_end = x + e.x_advance / 2;
  }
}

static void spans(cairo_t *cr, const struct bw_chart *c) {
  double y0 = TOP, y1 = c->height - BOTTOM;
  for (size_t i = 0; i < c->n_spans; i++) {
    const struct bw_chart_span *s = &c->spans[i];
    int64_t from = s->from_us < c->from_us ? c->from_us : s->from_us;
    int64_t until = s->until_us > c->until_us ? c->until_us : s->until_us;
    if (until < from)
      continue;
    double x0 = bw_chart_x(c, from), x1 = fmax(bw_chart_x(c, until), x0 + 2);
    struct rgb k = s->accepted ? c_accepted : c_bad;
    color(cr, k, 0.13);
    cairo_rectangle(cr, x0, y0, x1 - x0, y1 - y0);
    cairo_fill(cr);
    color(cr, k, 0.9); /* a bar along the top says where it ran even under the line */
    cairo_rectangle(cr, x0, y0, x1 - x0, 4);
    cairo_fill(cr);
  }
}

static void band(cairo_t *cr, const struct bw_chart *c) {
  if (isnan(c->reference))
    return;
  double xl = LEFT, xr = c->width - RIGHT;
  if (!isnan(c->threshold)) {
    double ya = bw_chart_y(c, c->reference), yb = bw_chart_y(c, c->threshold);
    color(cr, c_band, 0.16);
    cairo_rectangle(cr, xl, fmin(ya, yb), xr - xl, fabs(ya - yb));
    cairo_fill(cr);
  }
  double dash[] = {5, 3};
  double y = round(bw_chart_y(c, c->reference)) + 0.5;
  cairo_save(cr);
  color(cr, c_band, 0.9);
  cairo_set_line_width(cr, 1);
  cairo_set_dash(cr, dash, 2, 0);
  cairo_move_to(cr, xl, y);
  cairo_line_to(cr, xr, y);
  cairo_stroke(cr);
  cairo_restore(cr);
}

static void series(cairo_t *cr, const struct bw_chart *c) {
  double cap;
  (void)top_of(c, &cap);
  bool drawing = false;
  cairo_set_line_width(cr, 1.5);
  cairo_set_line_join(cr, CAIRO_LINE_JOIN_ROUND);
  color(cr, c_line, 1);
  for (size_t i = 0; i < c->n_points; i++) {
    const struct bw_point *p = &c->points[i];
    if (isnan(p->value) || p->started_us < c->from_us || p->started_us > c->until_us)
      continue;
    double x = bw_chart_x(c, p->started_us), y = bw_chart_y(c, fmin(p->value, cap));
    if (drawing)
      cairo_line_to(cr, x, y);
    else
      cairo_move_to(cr, x, y);
    drawing = true;
  }
  cairo_stroke(cr);
  /* Dots where runs are few enough to tell apart; clipped outliers as a triangle at the top. */
  double px_per_run = c->n_points ? (c->width - LEFT - RIGHT) / (double)c->n_points : 0;
  for (size_t i = 0; i < c->n_points; i++) {
    const struct bw_point *p = &c->points[i];
    if (p->started_us < c->from_us || p->started_us > c->until_us)
      continue;
    double x = bw_chart_x(c, p->started_us);
    if (isnan(p->value)) {
      color(cr, c_bad, 1);
      cairo_set_line_width(cr, 2);
      cairo_move_to(cr, x, c->height - BOTTOM);
      cairo_line_to(cr, x, c->height - BOTTOM - 8);
      cairo_stroke(cr);
    } else if (p->value > cap) {
      double y = bw_chart_y(c, cap);
      color(cr, c_bad, 1);
      cairo_move_to(cr, x, y - 5);
      cairo_line_to(cr, x - 4, y + 2);
      cairo_line_to(cr, x + 4, y + 2);
      cairo_close_path(cr);
      cairo_fill(cr);
    } else if (px_per_run >= 4) {
      color(cr, c_line, 1);
      cairo_arc(cr, x, bw_chart_y(c, p->value), 2, 0, 2 * M_PI);
      cairo_fill(cr);
    }
  }
}

static cairo_status_t to_buf(void *closure, const unsigned char *data, unsigned int len) {
  bw_buf_add(closure, (const char *)data, len);
  return CAIRO_STATUS_SUCCESS;
}

int bw_chart_png(const struct bw_chart *c, unsigned char **ret, size_t *ret_len,
                 struct bw_errs *errs) {
  if (c->width < 200 || c->height < 80 || c->width > 4000 || c->height > 4000 || !(c->scale > 0)) {
    bw_errs_add(errs, "chart: %dx%d pixels, scale %g: out of range", c->width, c->height, c->scale);
    return -EINVAL;
  }
  struct bw_buf png = {0};
  int r = 0;
  cairo_surface_t *s = cairo_image_surface_create(CAIRO_FORMAT_RGB24, c->width, c->height);
  cairo_t *cr = cairo_create(s);
  color(cr, (struct rgb){1, 1, 1}, 1);
  cairo_paint(cr);
  cairo_select_font_face(cr, FONT, CAIRO_FONT_SLANT_NORMAL, CAIRO_FONT_WEIGHT_NORMAL);
  cairo_set_font_size(cr, FONT_PX);
  if (c->period_from_us > c->from_us && c->period_from_us < c->until_us) {
    double x = bw_chart_x(c, c->period_from_us);
    color(cr, c_period, 1);
    cairo_rectangle(cr, x, TOP, c->width - RIGHT - x, c->height - TOP - BOTTOM);
    cairo_fill(cr);
  }
  value_axis(cr, c);
  time_axis(cr, c);
  band(cr, c);
  spans(cr, c);
  series(cr, c);
  color(cr, c_text, 1);
  cairo_set_line_width(cr, 1);
  cairo_move_to(cr, LEFT - 0.5, TOP);
  cairo_line_to(cr, LEFT - 0.5, c->height - BOTTOM + 0.5);
  cairo_line_to(cr, c->width - RIGHT, c->height - BOTTOM + 0.5);
  cairo_stroke(cr);
  cairo_status_t st = cairo_status(cr);
  if (st == CAIRO_STATUS_SUCCESS) {
    cairo_surface_flush(s);
    st = cairo_surface_write_to_png_stream(s, to_buf, &png);
  }
  if (st != CAIRO_STATUS_SUCCESS) {
    bw_errs_add(errs, "chart: cairo: %s", cairo_status_to_string(st));
    r = st == CAIRO_STATUS_NO_MEMORY ? -ENOMEM : -EINVAL;
    free(png.s);
  } else {
    *ret_len = png.len;
    *ret = (unsigned char *)bw_buf_take(&png);
  }
  cairo_destroy(cr);
  cairo_surface_destroy(s);
  return r;
}

void bw_chart_finish(void) {
  cairo_debug_reset_static_data();
  FcFini();
}
