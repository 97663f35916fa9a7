#include "bw_sweep.h"

#include <ctype.h>
#include <inttypes.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bw_json.h"
#include "bw_render.h"

size_t bw_sweep_steps(const struct bw_test *test) {
  if (test->n_sweep_concurrency)
    return test->n_sweep_concurrency;
  return test->n_sweep_requests;
}

void bw_sweep_step_values(const struct bw_test *test, size_t i, int64_t *ret_concurrency,
                          int64_t *ret_requests) {
  int64_t conc = test->concurrency, req = test->requests;
  if (i < test->n_sweep_concurrency)
    conc = test->sweep_concurrency[i];
  if (test->n_sweep_requests == 1)
    req = test->sweep_requests[0];
  else if (i < test->n_sweep_requests)
    req = test->sweep_requests[i];
  *ret_concurrency = conc;
  *ret_requests = req;
}

void bw_sweep_step(const struct bw_test *test, size_t i, struct bw_test *ret) {
  int64_t conc, req;
  bw_sweep_step_values(test, i, &conc, &req);
  bw_test_copy(ret, test);
  free(ret->name);
  if (test->n_sweep_concurrency)
    ret->name = bw_xasprintf("%s@c%" PRId64, test->name, conc);
  else
    ret->name = bw_xasprintf("%s@n%" PRId64, test->name, req);
  ret->concurrency = conc;
  ret->requests = req;
  if (ret->threads > conc)
    ret->threads = conc; /* a step with fewer slots than threads runs on as many threads */
  free(ret->sweep_concurrency);
  free(ret->sweep_requests);
  ret->sweep_concurrency = ret->sweep_requests = NULL;
  ret->n_sweep_concurrency = ret->n_sweep_requests = 0;
}

bool bw_sweep_split(const char *name, size_t *ret_base_len, char *ret_axis, int64_t *ret_value) {
  const char *at = name ? strrchr(name, '@') : NULL;
  if (!at || at == name || (at[1] != 'c' && at[1] != 'n') || !isdigit((unsigned char)at[2]))
    return false;
  int64_t v = 0;
  for (const char *p = at + 2; *p; p++) {
    if (!isdigit((unsigned char)*p) || v > (INT64_MAX - 9) / 10)
      return false;
    v = v * 10 + (*p - '0');
  }
  if (v < 1)
    return false;
  if (ret_base_len)
    *ret_base_len = (size_t)(at - name);
  if (ret_axis)
    *ret_axis = at[1];
  if (ret_value)
    *ret_value = v;
  return true;
}

bool bw_sweep_is_of(const char *name, const char *test) {
  size_t len;
  if (strcmp(name, test) == 0)
    return true;
  return bw_sweep_split(name, &len, NULL, NULL) && strlen(test) == len &&
         strncmp(name, test, len) == 0;
}

bool bw_sweep_curves_add(struct bw_sweep_curve **curves, size_t *n, const char *name,
                         const char *backend, const struct bw_run *run, int64_t target_id,
                         const char *state) {
  size_t base_len;
  char axis;
  int64_t value;
  if (!bw_sweep_split(name, &base_len, &axis, &value))
    return false;
  backend = backend ? backend : "";
  struct bw_sweep_curve *c = NULL;
  for (size_t i = 0; i < *n && !c; i++)
    if (strlen((*curves)[i].test) == base_len && strncmp((*curves)[i].test, name, base_len) == 0 &&
        strcmp((*curves)[i].backend, backend) == 0 && (*curves)[i].axis == axis)
      c = &(*curves)[i];
  if (!c) {
    *curves = bw_xrealloc(*curves, (*n + 1) * sizeof(**curves));
    c = &(*curves)[(*n)++];
    memset(c, 0, sizeof(*c));
    c->test = bw_xstrndup(name, base_len);
    c->backend = bw_xstrdup(backend);
    c->axis = axis;
  }
  size_t at = 0;
  while (at < c->n_points && c->points[at].value < value)
    at++;
  c->points = bw_xrealloc(c->points, (c->n_points + 1) * sizeof(*c->points));
  memmove(&c->points[at + 1], &c->points[at], (c->n_points - at) * sizeof(*c->points));
  c->n_points++;
  struct bw_sweep_point *p = &c->points[at];
  p->value = value;
  p->requests = BW_NONE;
  p->rps = p->p50_us = (double)NAN;
  p->run_id = 0;
  p->target_id = target_id;
  p->state = state ? bw_xstrdup(state) : NULL;
  if (run && (run->outcome == BW_OUTCOME_OK || run->outcome == BW_OUTCOME_PARTIAL)) {
    p->requests = run->requests;
    p->rps = run->rps;
    p->p50_us = run->p50_us != BW_NONE ? (double)run->p50_us : (double)NAN;
  }
  return true;
}

void bw_sweep_curves_free(struct bw_sweep_curve *curves, size_t n) {
  for (size_t i = 0; i < n; i++) {
    for (size_t k = 0; k < curves[i].n_points; k++)
      free(curves[i].points[k].state);
    free(curves[i].points);
    free(curves[i].test);
    free(curves[i].backend);
  }
  free(curves);
}

/*
 * Walks the curve for its knee: *ret_first is the first step with a median (the one latency is
 * held against), *ret_prev the last step with a rate before the knee (the one rate is held
 * against). A step without a figure is passed over for that figure.
 */
static long knee_walk(const struct bw_sweep_point *points, size_t n, enum bw_knee *ret_why,
                      const struct bw_sweep_point **ret_first,
                      const struct bw_sweep_point **ret_prev) {
  const struct bw_sweep_point *first = NULL, *prev = NULL;
  *ret_why = BW_KNEE_NONE;
  for (size_t i = 0; i < n; i++) {
    const struct bw_sweep_point *p = &points[i];
    *ret_first = first;
    *ret_prev = prev;
    if (isfinite(p->p50_us) && first && p->p50_us > BW_KNEE_LATENCY_FACTOR * first->p50_us) {
      *ret_why = BW_KNEE_LATENCY;
      return (long)i;
    }
    if (isfinite(p->rps) && prev && p->rps < prev->rps * (1.0 + BW_KNEE_RATE_GROWTH)) {
      *ret_why = BW_KNEE_RATE;
      return (long)i;
    }
    if (isfinite(p->p50_us) && !first)
      first = p;
    if (isfinite(p->rps))
      prev = p;
  }
  return -1;
}

long bw_sweep_knee(const struct bw_sweep_point *points, size_t n, enum bw_knee *ret_why) {
  const struct bw_sweep_point *first, *prev;
  return knee_walk(points, n, ret_why, &first, &prev);
}

static const char *axis_name(char axis) {
  return axis == 'n' ? "requests" : "concurrency";
}

char *bw_sweep_knee_text(const struct bw_sweep_curve *c) {
  enum bw_knee why;
  const struct bw_sweep_point *first = NULL, *prev = NULL;
  long k = knee_walk(c->points, c->n_points, &why, &first, &prev);
  if (k < 0)
    return bw_xasprintf("none (the median stayed within %.0fx the first step's and requests/s "
                        "grew by %.0f%% or more at every step)",
                        BW_KNEE_LATENCY_FACTOR, BW_KNEE_RATE_GROWTH * 100);
  const struct bw_sweep_point *p = &c->points[k];
  if (why == BW_KNEE_LATENCY)
    return bw_xasprintf("%s %" PRId64 ": median %.3f ms is over %.0fx the first step's %.3f ms",
                        axis_name(c->axis), p->value, p->p50_us / 1000.0, BW_KNEE_LATENCY_FACTOR,
                        first->p50_us / 1000.0);
  return bw_xasprintf("%s %" PRId64 ": %.1f requests/s is less than %.0f%% over %s %" PRId64
                      "'s %.1f",
                      axis_name(c->axis), p->value, p->rps, BW_KNEE_RATE_GROWTH * 100,
                      axis_name(c->axis), prev->value, prev->rps);
}

static bool any_state(const struct bw_sweep_curve *c) {
  for (size_t i = 0; i < c->n_points; i++)
    if (c->points[i].state)
      return true;
  return false;
}

char *bw_sweep_text(const struct bw_sweep_curve *c, const char *indent) {
  struct bw_buf b = {NULL, 0, 0};
  enum bw_knee why;
  long k = bw_sweep_knee(c->points, c->n_points, &why);
  bool states = any_state(c);
  bw_buf_printf(&b, "%s%11s  %8s  %10s  %10s%s\n", indent, axis_name(c->axis), "requests", "req/s",
                "median", states ? "  state" : "");
  for (size_t i = 0; i < c->n_points; i++) {
    const struct bw_sweep_point *p = &c->points[i];
    char req[24] = "-", rps[24] = "-", med[24] = "-";
    if (p->requests != BW_NONE)
      (void)snprintf(req, sizeof(req), "%" PRId64, p->requests);
    if (isfinite(p->rps))
      (void)snprintf(rps, sizeof(rps), "%.1f", p->rps);
    if (isfinite(p->p50_us))
      (void)snprintf(med, sizeof(med), "%.3f ms", p->p50_us / 1000.0);
    bw_buf_printf(&b, "%s%11" PRId64 "  %8s  %10s  %10s", indent, p->value, req, rps, med);
    if (states)
      bw_buf_printf(&b, "  %s", p->state ? p->state : "-");
    bw_buf_printf(&b, "%s\n", (long)i == k ? "  <- knee" : "");
  }
  char *knee = bw_sweep_knee_text(c);
  bw_buf_printf(&b, "%sknee: %s\n", indent, knee);
  free(knee);
  return bw_buf_take(&b);
}

void bw_sweep_html(struct bw_buf *b, const struct bw_sweep_curve *c) {
  enum bw_knee why;
  long k = bw_sweep_knee(c->points, c->n_points, &why);
  bool states = any_state(c);
  bw_buf_printf(b,
                "<table class=\"sweep\"><tr><th>%s</th><th>requests</th><th>req/s</th>"
                "<th>median</th>%s<th></th></tr>\n",
                axis_name(c->axis), states ? "<th>state</th>" : "");
  for (size_t i = 0; i < c->n_points; i++) {
    const struct bw_sweep_point *p = &c->points[i];
    bw_buf_printf(b, "<tr><td>%" PRId64 "</td>", p->value);
    if (p->requests != BW_NONE)
      bw_buf_printf(b, "<td>%" PRId64 "</td>", p->requests);
    else
      bw_buf_printf(b, "<td>-</td>");
    if (isfinite(p->rps))
      bw_buf_printf(b, "<td>%.1f</td>", p->rps);
    else
      bw_buf_printf(b, "<td>-</td>");
    if (isfinite(p->p50_us))
      bw_buf_printf(b, "<td>%.3f ms</td>", p->p50_us / 1000.0);
    else
      bw_buf_printf(b, "<td>-</td>");
    if (states) {
      bw_buf_printf(b, "<td>");
      bw_render_escape(b, p->state ? p->state : "-");
      bw_buf_printf(b, "</td>");
    }
    bw_buf_printf(b, "<td>%s</td></tr>\n", (long)i == k ? "&larr; knee" : "");
  }
  char *knee = bw_sweep_knee_text(c);
  bw_buf_printf(b, "</table>\n<p class=\"knee\">knee: ");
  bw_render_escape(b, knee);
  bw_buf_printf(b, "</p>\n");
  free(knee);
}

#define SVG_W 400
#define SVG_H 170
#define SVG_LEFT 40.0
#define SVG_RIGHT 20.0
#define SVG_TOP 40.0
#define SVG_BOTTOM 140.0

static double svg_x(size_t i, size_t n) {
  if (n < 2)
    return (SVG_LEFT + SVG_W - SVG_RIGHT) / 2;
  return SVG_LEFT + (double)i * (SVG_W - SVG_LEFT - SVG_RIGHT) / (double)(n - 1);
}

/* One figure's line: the steps that have it, scaled so that max is at the top. */
static void svg_line(struct bw_buf *b, const struct bw_sweep_curve *c, size_t offset, double max,
                     const char *color) {
  bw_buf_printf(b, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\" points=\"", color);
  for (size_t i = 0; i < c->n_points; i++) {
    double v = *(const double *)(const void *)((const char *)&c->points[i] + offset);
    if (isfinite(v))
      bw_buf_printf(b, "%.1f,%.1f ", svg_x(i, c->n_points),
                    SVG_BOTTOM - v / max * (SVG_BOTTOM - SVG_TOP));
  }
  bw_buf_printf(b, "\"/>\n");
  for (size_t i = 0; i < c->n_points; i++) {
    double v = *(const double *)(const void *)((const char *)&c->points[i] + offset);
    if (isfinite(v))
      bw_buf_printf(b, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"%s\"/>\n",
                    svg_x(i, c->n_points), SVG_BOTTOM - v / max * (SVG_BOTTOM - SVG_TOP), color);
  }
}

void bw_sweep_svg(struct bw_buf *b, const struct bw_sweep_curve *c) {
  double max_rps = 0, max_p50 = 0;
  for (size_t i = 0; i < c->n_points; i++) {
    if (isfinite(c->points[i].rps) && c->points[i].rps > max_rps)
      max_rps = c->points[i].rps;
    if (isfinite(c->points[i].p50_us) && c->points[i].p50_us > max_p50)
      max_p50 = c->points[i].p50_us;
  }
  if (max_rps <= 0 && max_p50 <= 0)
    return;
  enum bw_knee why;
  long k = bw_sweep_knee(c->points, c->n_points, &why);
  bw_buf_printf(b,
                "<svg class=\"sweep-chart\" viewBox=\"0 0 %d %d\" width=\"%d\" height=\"%d\" "
                "role=\"img\" aria-label=\"requests/s and median against %s\" "
                "style=\"max-width:100%%;height:auto\" font-size=\"11\" "
                "font-family=\"sans-serif\">\n",
                SVG_W, SVG_H, SVG_W, SVG_H, axis_name(c->axis));
  bw_buf_printf(b, "<line x1=\"%.0f\" y1=\"%.0f\" x2=\"%.0f\" y2=\"%.0f\" stroke=\"#999\"/>\n",
                SVG_LEFT - 10, SVG_BOTTOM, (double)SVG_W - SVG_RIGHT + 10, SVG_BOTTOM);
  if (k >= 0)
    bw_buf_printf(b,
                  "<line x1=\"%.1f\" y1=\"%.0f\" x2=\"%.1f\" y2=\"%.0f\" stroke=\"#b00020\" "
                  "stroke-dasharray=\"4 3\"/><text x=\"%.1f\" y=\"%.0f\" fill=\"#b00020\" "
                  "text-anchor=\"middle\">knee</text>\n",
                  svg_x((size_t)k, c->n_points), SVG_TOP - 6, svg_x((size_t)k, c->n_points),
                  SVG_BOTTOM, svg_x((size_t)k, c->n_points), SVG_TOP - 9);
  if (max_rps > 0)
    svg_line(b, c, offsetof(struct bw_sweep_point, rps), max_rps, "#1f5fbf");
  if (max_p50 > 0)
    svg_line(b, c, offsetof(struct bw_sweep_point, p50_us), max_p50, "#c25400");
  for (size_t i = 0; i < c->n_points; i++)
    bw_buf_printf(b, "<text x=\"%.1f\" y=\"%.0f\" text-anchor=\"middle\">%" PRId64 "</text>\n",
                  svg_x(i, c->n_points), SVG_BOTTOM + 14, c->points[i].value);
  bw_buf_printf(b, "<text x=\"%.0f\" y=\"%d\" text-anchor=\"middle\" fill=\"#666\">%s</text>\n",
                (double)SVG_W / 2, SVG_H - 2, axis_name(c->axis));
  bw_buf_printf(b, "<text x=\"%.0f\" y=\"12\" fill=\"#1f5fbf\">req/s (top %.1f)</text>\n",
                SVG_LEFT - 10, max_rps);
  bw_buf_printf(b,
                "<text x=\"%.0f\" y=\"12\" fill=\"#c25400\" text-anchor=\"end\">median (top "
                "%.3f ms)</text>\n</svg>\n",
                (double)SVG_W - SVG_RIGHT + 10, max_p50 / 1000.0);
}

json_t *bw_sweep_json(const struct bw_sweep_curve *c) {
  enum bw_knee why;
  long knee = bw_sweep_knee(c->points, c->n_points, &why);
  json_t *o = json_object(), *steps = json_array();
  for (size_t k = 0; k < c->n_points; k++) {
    const struct bw_sweep_point *p = &c->points[k];
    json_t *st = json_object();
    (void)json_object_set_new(st, axis_name(c->axis), bw_json_int(p->value));
    if (c->axis != 'n')
      (void)json_object_set_new(st, "requests",
                                p->requests != BW_NONE ? bw_json_int(p->requests) : json_null());
    (void)json_object_set_new(st, "rps", bw_json_real(p->rps));
    (void)json_object_set_new(
        st, "p50_us", isfinite(p->p50_us) ? bw_json_int((int64_t)llround(p->p50_us)) : json_null());
    (void)json_object_set_new(st, "run_id", p->run_id ? bw_json_int(p->run_id) : json_null());
    (void)json_object_set_new(st, "state", bw_json_str(p->state));
    (void)json_object_set_new(st, "knee", json_boolean((long)k == knee));
    (void)json_array_append_new(steps, st);
  }
  char *kt = bw_sweep_knee_text(c);
  (void)json_object_set_new(o, "test", bw_json_str(c->test));
  (void)json_object_set_new(o, "backend", bw_json_str(c->backend));
  (void)json_object_set_new(o, "steps", steps);
  (void)json_object_set_new(o, "knee", bw_json_str(kt));
  free(kt);
  return o;
}
