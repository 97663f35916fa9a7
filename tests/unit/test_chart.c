/* bw_chart: the PNG read back with cairo, and the pixels where the picture says things. */
#include <cairo.h>
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "bw_chart.h"

#define H_US (INT64_C(3600) * 1000000)
#define T0 (INT64_C(1700000000) * 1000000)

struct reader {
  const unsigned char *p;
  size_t left;
};

static cairo_status_t read_png(void *closure, unsigned char *data, unsigned int len) {
  struct reader *r = closure;
  if (len > r->left)
    return CAIRO_STATUS_READ_ERROR;
  memcpy(data, r->p, len);
  r->p += len;
  r->left -= len;
  return CAIRO_STATUS_SUCCESS;
}

struct px {
  int r, g, b;
};

static struct px pixel(cairo_surface_t *s, double x, double y) {
  const unsigned char *d = cairo_image_surface_get_data(s);
  int stride = cairo_image_surface_get_stride(s);
  uint32_t v;
  memcpy(&v, d + (int)y * stride + (int)x * 4, 4);
  return (struct px){(int)(v >> 16 & 255), (int)(v >> 8 & 255), (int)(v & 255)};
}

/* 100 hourly runs at 100 ms, one failed (run 70); a regression from run 40 to 50 and an
 * accepted one from run 80 to 90; the normal band from 100 to 150 ms; the last day shaded. */
static void chart_pixels(void **state) {
  struct bw_point pts[100];
  (void)state;
  for (int i = 0; i < 100; i++)
    pts[i] = (struct bw_point){
        .run_id = i + 1, .started_us = T0 + i * H_US, .value = i == 70 ? (double)NAN : 100000.0};
  struct bw_chart_span spans[] = {{T0 + 40 * H_US, T0 + 50 * H_US, false},
                                  {T0 + 80 * H_US, T0 + 90 * H_US, true}};
  struct bw_chart c = {.width = 600,
                       .height = 180,
                       .from_us = T0,
                       .until_us = T0 + 99 * H_US,
                       .period_from_us = T0 + 75 * H_US,
                       .points = pts,
                       .n_points = 100,
                       .reference = 100000,
                       .threshold = 150000,
                       .spans = spans,
                       .n_spans = 2,
                       .scale = 1e3,
                       .unit = "ms"};
  unsigned char *png = NULL;
  size_t len = 0;
  struct bw_errs errs = {0};
  assert_int_equal(bw_chart_png(&c, &png, &len, &errs), 0);
  assert_int_equal(errs.n, 0);
  assert_true(len > 1000);
  assert_memory_equal(png, "\x89PNG\r\n\x1a\n", 8);
  struct reader rd = {png, len};
  cairo_surface_t *s = cairo_image_surface_create_from_png_stream(read_png, &rd);
  assert_int_equal(cairo_surface_status(s), CAIRO_STATUS_SUCCESS);
  assert_int_equal(cairo_image_surface_get_width(s), 600);
  assert_int_equal(cairo_image_surface_get_height(s), 180);
  cairo_surface_flush(s);

  /* The bar along the top of a regression: red; of the accepted one: grey; elsewhere none. */
  double top = bw_chart_y(&c, 1e12) + 2; /* the plot's top edge, then into the bar */
  struct px red = pixel(s, bw_chart_x(&c, T0 + 45 * H_US), top);
  assert_true(red.r > 150 && red.g < 60 && red.b < 80);
  struct px grey = pixel(s, bw_chart_x(&c, T0 + 85 * H_US), top);
  assert_true(abs(grey.r - grey.g) < 8 && abs(grey.g - grey.b) < 8 && grey.r < 160);
  struct px none = pixel(s, bw_chart_x(&c, T0 + 20 * H_US) + 3, top + 6);
  assert_true(none.r > 240 && none.g > 240 && none.b > 240);
  /* The band between the reference and the threshold is green, above it is not. */
  double x = bw_chart_x(&c, T0 + 20 * H_US) + 3;
  struct px band = pixel(s, x, bw_chart_y(&c, 140000));
  assert_true(band.g > band.r + 10 && band.g > band.b + 10);
  struct px above = pixel(s, x, bw_chart_y(&c, 190000) + 1);
  assert_true(abs(above.g - above.r) < 8);
  /* The runs' line crosses at 100 ms, blue. */
  struct px line = pixel(s, bw_chart_x(&c, T0 + 20 * H_US), bw_chart_y(&c, 100000));
  assert_true(line.b > 150 && line.r < 100);
  /* The failed run: a red tick at the bottom of the plot. */
  struct px tick = pixel(s, bw_chart_x(&c, T0 + 70 * H_US), bw_chart_y(&c, 0) - 4);
  assert_true(tick.r > 150 && tick.g < 60);
  /* The period is shaded (bluish), before it white. */
  struct px period = pixel(s, bw_chart_x(&c, T0 + 77 * H_US), bw_chart_y(&c, 180000));
  assert_true(period.b > period.r && period.b > 240 && period.r < 245);
  cairo_surface_destroy(s);
  free(png);
}

static void chart_refuses_bad_sizes(void **state) {
  struct bw_chart c = {.width = 10, .height = 10, .scale = 1, .reference = NAN, .threshold = NAN};
  static unsigned char untouched[] = "untouched";
  unsigned char *png = untouched;
  size_t len = 7;
  struct bw_errs errs = {0};
  (void)state;
  assert_int_equal(bw_chart_png(&c, &png, &len, &errs), -EINVAL);
  assert_string_equal((char *)png, "untouched");
  assert_int_equal(len, 7);
  assert_int_equal(errs.n, 1);
  bw_errs_clear(&errs);
  /* No points, no baseline: still a picture (an empty chart), not an error. */
  c.width = 300;
  c.height = 100;
  c.until_us = H_US;
  assert_int_equal(bw_chart_png(&c, &png, &len, &errs), 0);
  assert_memory_equal(png, "\x89PNG", 4);
  free(png);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(chart_pixels),
      cmocka_unit_test(chart_refuses_bad_sizes),
  };
  int failed = cmocka_run_group_tests(tests, NULL, NULL);
  bw_chart_finish();
  return failed;
}
