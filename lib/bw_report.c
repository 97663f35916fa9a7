/* Rendering the nightly report (bw_report.h): pure, the same content as text and as HTML. */
#include "bw_report.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bw_util.h"

bool bw_report_quiet(const struct bw_nightly *r) {
  return r->n_open == 0 && r->n_opened == 0 && r->n_closed == 0 && r->failing == 0;
}

char *bw_report_subject(const struct bw_nightly *r) {
  if (bw_report_quiet(r))
    return bw_xasprintf("[benchwatch %s] all normal", r->host);
  return bw_xasprintf("[benchwatch %s] %zu regression%s, %zu recovered, %zu failing", r->host,
                      r->n_open, r->n_open == 1 ? "" : "s", r->n_closed, r->failing);
}

static void when(int64_t us, char *buf, size_t size) {
  time_t t = (time_t)(us / 1000000);
  struct tm tm;
  if (!localtime_r(&t, &tm) || strftime(buf, size, "%Y-%m-%d %H:%M %Z", &tm) == 0)
    (void)snprintf(buf, size, "?");
}

static void fmt_value(const struct bw_metric *m, double v, char *buf, size_t size) {
  if (isnan(v))
    (void)snprintf(buf, size, "-");
  else
    (void)snprintf(buf, size, "%.2f %s", v / m->scale, m->unit);
}

static const struct bw_metric *metric_of(const char *name) {
  const struct bw_metric *m = bw_detect_metric_find(name);
  return m ? m : bw_detect_metric(BW_KIND_PAGE);
}

static void target_name(const char *test, const char *backend, char *buf, size_t size) {
  (void)snprintf(buf, size, "%s%s%s%s", test, backend[0] ? " [" : "", backend,
                 backend[0] ? "]" : "");
}

/* One line per regression: the target, the metric, baseline -> observed, since when. */
static void regression_line(struct bw_buf *b, const struct bw_regression *g, bool html) {
  char tn[200], since[64], base[32], obs[32];
  target_name(g->test, g->backend, tn, sizeof(tn));
  when(g->opened_us, since, sizeof(since));
  if (strcmp(g->metric, "availability") == 0) {
    bw_buf_printf(b, html ? "<li><b>%s</b>: runs failing, since %s</li>\n"
                          : "  %s: runs failing, since %s\n",
                  tn, since);
    return;
  }
  const struct bw_metric *m = metric_of(g->metric);
  fmt_value(m, g->baseline, base, sizeof(base));
  fmt_value(m, g->observed, obs, sizeof(obs));
  bw_buf_printf(b, html ? "<li><b>%s</b>: %s %s &rarr; %s (x%.2f) since %s</li>\n"
                        : "  %s: %s %s -> %s (x%.2f) since %s\n",
                tn, m->label, base, obs, g->ratio, since);
}

/* A text sparkline of the period's values. */
static void spark_text(struct bw_buf *b, const double *v, size_t n) {
  static const char *const blocks[] = {"\u2581", "\u2582", "\u2583", "\u2584",
                                       "\u2585", "\u2586", "\u2587", "\u2588"};
  double lo = INFINITY, hi = -INFINITY;
  size_t cols = n < 48 ? n : 48;
  for (size_t i = 0; i < n; i++) {
    lo = fmin(lo, v[i]);
    hi = fmax(hi, v[i]);
  }
  for (size_t c = 0; c < cols; c++) {
    double x = v[c * n / cols];
    int level = hi > lo ? (int)((x - lo) / (hi - lo) * 7.999) : 3;
    bw_buf_printf(b, "%s", blocks[level]);
  }
}

/* An inline SVG polyline of the values, with the baseline as a dashed line. */
static void spark_svg(struct bw_buf *b, const double *v, size_t n, double baseline) {
  const int w = 160, h = 28;
  double lo = INFINITY, hi = -INFINITY;
  for (size_t i = 0; i < n; i++) {
    lo = fmin(lo, v[i]);
    hi = fmax(hi, v[i]);
  }
  if (!isnan(baseline)) {
    lo = fmin(lo, baseline);
    hi = fmax(hi, baseline);
  }
  if (!(hi > lo)) {
    hi = lo + 1;
    lo -= 1;
  }
  bw_buf_printf(b, "<svg width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" role=\"img\">", w, h, w,
                h);
  if (!isnan(baseline))
    bw_buf_printf(b,
                  "<line x1=\"0\" x2=\"%d\" y1=\"%.1f\" y2=\"%.1f\" stroke=\"#999\" "
                  "stroke-dasharray=\"3,3\"/>",
                  w, h - 2 - (baseline - lo) / (hi - lo) * (h - 4),
                  h - 2 - (baseline - lo) / (hi - lo) * (h - 4));
  bw_buf_printf(b, "<polyline fill=\"none\" stroke=\"#1f5fbf\" stroke-width=\"1.5\" points=\"");
  for (size_t i = 0; i < n; i++)
    bw_buf_printf(b, "%s%.1f,%.1f", i ? " " : "",
                  n > 1 ? (double)i * (w - 2) / (double)(n - 1) + 1 : w / 2.0,
                  h - 2 - (v[i] - lo) / (hi - lo) * (h - 4));
  bw_buf_printf(b, "\"/></svg>");
}

static void html_escape(struct bw_buf *b, const char *s) {
  for (; s && *s; s++) {
    if (*s == '<')
      bw_buf_printf(b, "&lt;");
    else if (*s == '>')
      bw_buf_printf(b, "&gt;");
    else if (*s == '&')
      bw_buf_printf(b, "&amp;");
    else if (*s == '"')
      bw_buf_printf(b, "&quot;");
    else
      bw_buf_add(b, s, 1);
  }
}

/*
 * The receiver's TCP facts that moved away from the usual, as one phrase ("MSS 8948 (usually
 * 1448)"). The client's own path MTU and retransmits are not facts about the path: not here.
 */
static void tcp_changes(struct bw_buf *b, const struct bw_nightly_target *t) {
  bool any = false;
  if (!isnan(t->mss) && !isnan(t->mss_usual) && t->mss != t->mss_usual) {
    bw_buf_printf(b, "MSS %.0f (usually %.0f)", t->mss, t->mss_usual);
    any = true;
  }
  if (!isnan(t->ooo) && !isnan(t->ooo_usual) && t->ooo > 2 * t->ooo_usual + 10) {
    bw_buf_printf(b, "%s%.0f packets out of order (usually %.0f)", any ? ", " : "", t->ooo,
                  t->ooo_usual);
    any = true;
  }
  if (!isnan(t->rtt_ms) && !isnan(t->rtt_ms_usual) && t->rtt_ms > 2 * t->rtt_ms_usual + 1) {
    bw_buf_printf(b, "%sreceive RTT %.1f ms (usually %.1f)", any ? ", " : "", t->rtt_ms,
                  t->rtt_ms_usual);
  }
}

/* A value now, and the usual one when known: "1234.5/s (usually 1200.0)". */
static void now_usual(struct bw_buf *b, const char *sep, double now, double usual, double scale,
                      const char *unit, const char *what) {
  bw_buf_printf(b, "%s%.2f %s%s", sep, now / scale, unit, what);
  if (!isnan(usual))
    bw_buf_printf(b, " (usually %.2f)", usual / scale);
}

/* The latest run's rates: a page's request and transfer rates, a download's streams. */
static void rates(struct bw_buf *b, const struct bw_nightly_target *t) {
  const char *sep = "";
  if (!isnan(t->rps)) {
    now_usual(b, sep, t->rps, t->rps_usual, 1, "requests/s", "");
    sep = ", ";
  }
  if (!isnan(t->transfer_bps))
    now_usual(b, sep, t->transfer_bps, t->transfer_usual, 1e6, "MB/s", " transferred");
  if (!isnan(t->streams) && !isnan(t->stream_min_bps)) {
    bw_buf_printf(b, "%.0f streams, the rate their aggregate; ", t->streams);
    now_usual(b, "", t->stream_min_bps, t->stream_min_usual, 1e6, "MB/s", " the slowest");
  }
}

char *bw_report_text(const struct bw_nightly *r) {
  struct bw_buf b = {0};
  char from[64], until[64];
  when(r->from_us, from, sizeof(from));
  when(r->until_us, until, sizeof(until));
  char *subject = bw_report_subject(r);
  bw_buf_printf(&b, "%s\n%s to %s\n", subject, from, until);
  free(subject);
  if (bw_report_quiet(r))
    bw_buf_printf(&b, "\nAll normal: no regression open, none opened or closed, nothing failing.\n");
  if (r->n_open) {
    bw_buf_printf(&b, "\nOPEN REGRESSIONS\n");
    for (size_t i = 0; i < r->n_open; i++)
      regression_line(&b, &r->open[i], false);
  }
  if (r->n_opened) {
    bw_buf_printf(&b, "\nOPENED IN THIS PERIOD\n");
    for (size_t i = 0; i < r->n_opened; i++)
      regression_line(&b, &r->opened[i], false);
  }
  if (r->n_closed) {
    bw_buf_printf(&b, "\nRECOVERED OR ACCEPTED\n");
    for (size_t i = 0; i < r->n_closed; i++) {
      regression_line(&b, &r->closed[i], false);
      b.len--; /* replace the newline */
      bw_buf_printf(&b, "; %s\n", r->closed[i].acked_us != BW_NONE ? "accepted" : "recovered");
    }
  }
  bw_buf_printf(&b, "\nTARGETS\n");
  for (size_t i = 0; i < r->n_targets; i++) {
    const struct bw_nightly_target *t = &r->targets[i];
    char tn[200], med[32], base[32];
    target_name(t->test, t->backend, tn, sizeof(tn));
    fmt_value(t->metric, t->median, med, sizeof(med));
    fmt_value(t->metric, t->baseline, base, sizeof(base));
    bw_buf_printf(&b, "  %-36s %zu runs, %zu failed; %s %s vs mode %s", tn, t->runs, t->failures,
                  t->metric->label, med, base);
    if (!isnan(t->ratio))
      bw_buf_printf(&b, " (x%.2f)", t->ratio);
    if (!isnan(t->latest_ratio)) {
      fmt_value(t->metric, t->latest, med, sizeof(med));
      bw_buf_printf(&b, "; latest %s (x%.2f)", med, t->latest_ratio);
    }
    if (t->open_what) {
      char since[64];
      when(t->open_since_us, since, sizeof(since));
      bw_buf_printf(&b, "  REGRESSED since %s (%s)\n", since, t->open_what);
    } else {
      bw_buf_printf(&b, "%s\n", t->open ? "  REGRESSED" : "");
    }
    if (t->n_values > 1) {
      bw_buf_printf(&b, "      ");
      spark_text(&b, t->values, t->n_values);
      bw_buf_printf(&b, "\n");
    }
    struct bw_buf rate = {0};
    rates(&rate, t);
    if (rate.len)
      bw_buf_printf(&b, "      latest: %s\n", rate.s);
    free(rate.s);
    for (size_t k = 0; k < t->n_errors; k++)
      bw_buf_printf(&b, "      %" PRId64 " failed with %s: %s\n", t->errors[k].count,
                    t->errors[k].error_class,
                    t->errors[k].last_message ? t->errors[k].last_message : "");
    if (t->stall_s > 0) {
      bw_buf_printf(&b, "      %.1f s under the stall rate in all", t->stall_s);
      struct bw_buf tcp = {0};
      tcp_changes(&tcp, t);
      if (tcp.len)
        bw_buf_printf(&b, "; %s", tcp.s);
      free(tcp.s);
      bw_buf_printf(&b, "\n");
    }
    if (t->diagnosis)
      bw_buf_printf(&b, "      why: %s\n", t->diagnosis);
    if (t->odd)
      bw_buf_printf(&b, "      odd one out: %s\n", t->odd);
    if (t->env_change) {
      char at[64];
      when(t->env_change_us, at, sizeof(at));
      bw_buf_printf(&b, "      environment changed before it: %s (%s)\n", t->env_change, at);
    }
  }
  if (r->n_targets == 0)
    bw_buf_printf(&b, "  no runs in this period\n");
  return bw_buf_take(&b);
}

char *bw_report_html(const struct bw_nightly *r) {
  struct bw_buf b = {0};
  char from[64], until[64];
  when(r->from_us, from, sizeof(from));
  when(r->until_us, until, sizeof(until));
  char *subject = bw_report_subject(r);
  bw_buf_printf(&b, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>");
  html_escape(&b, subject);
  bw_buf_printf(&b, "</title>\n<style>body{font-family:sans-serif;margin:1.5em;color:#222}"
                    "table{border-collapse:collapse}td,th{padding:3px 8px;border-bottom:1px solid "
                    "#ddd;text-align:left;vertical-align:middle}.bad{color:#b00020;font-weight:bold}"
                    ".ok{color:#1b7f3b}.small{color:#666;font-size:90%%}</style></head>\n<body>\n<h1>");
  html_escape(&b, subject);
  bw_buf_printf(&b, "</h1>\n<p class=\"small\">%s to %s</p>\n", from, until);
  free(subject);
  if (bw_report_quiet(r))
    bw_buf_printf(&b, "<p class=\"ok\">All normal: no regression open, none opened or closed, "
                      "nothing failing.</p>\n");
  struct {
    const char *title;
    const struct bw_regression *list;
    size_t n;
  } groups[] = {{"Open regressions", r->open, r->n_open},
                {"Opened in this period", r->opened, r->n_opened},
                {"Recovered or accepted", r->closed, r->n_closed}};
  for (size_t gi = 0; gi < 3; gi++) {
    if (!groups[gi].n)
      continue;
    bw_buf_printf(&b, "<h2>%s</h2>\n<ul>\n", groups[gi].title);
    for (size_t i = 0; i < groups[gi].n; i++) {
      struct bw_buf one = {0};
      regression_line(&one, &groups[gi].list[i], true);
      /* The names are the config's: letters, digits, '.', '_', '-', ':' and brackets. */
      bw_buf_add(&b, one.s, one.len);
      free(one.s);
    }
    bw_buf_printf(&b, "</ul>\n");
  }
  bw_buf_printf(&b, "<h2>Targets</h2>\n<table>\n<tr><th>target</th><th>runs</th><th>failed</th>"
                    "<th>period</th><th>baseline</th><th>ratio</th><th>chart</th><th>notes</th>"
                    "</tr>\n");
  for (size_t i = 0; i < r->n_targets; i++) {
    const struct bw_nightly_target *t = &r->targets[i];
    char tn[200], med[32], base[32];
    target_name(t->test, t->backend, tn, sizeof(tn));
    fmt_value(t->metric, t->median, med, sizeof(med));
    fmt_value(t->metric, t->baseline, base, sizeof(base));
    bw_buf_printf(&b, "<tr><td>");
    html_escape(&b, tn);
    bw_buf_printf(&b, "</td><td>%zu</td><td%s>%zu</td><td%s>%s %s</td><td>%s</td><td>", t->runs,
                  t->failures ? " class=\"bad\"" : "", t->failures,
                  t->open ? " class=\"bad\"" : "", t->metric->label, med, base);
    if (!isnan(t->ratio))
      bw_buf_printf(&b, "x%.2f", t->ratio);
    if (!isnan(t->latest_ratio))
      bw_buf_printf(&b, "<br>latest x%.2f", t->latest_ratio);
    if (t->open_what)
      bw_buf_printf(&b, "<br><b>regressed</b> (%s)", t->open_what);
    bw_buf_printf(&b, "</td><td>");
    if (t->n_values > 1)
      spark_svg(&b, t->values, t->n_values, t->baseline);
    bw_buf_printf(&b, "</td><td class=\"small\">");
    struct bw_buf rate = {0};
    rates(&rate, t);
    if (rate.len) {
      bw_buf_printf(&b, "latest: ");
      html_escape(&b, rate.s);
      bw_buf_printf(&b, "<br>");
    }
    free(rate.s);
    for (size_t k = 0; k < t->n_errors; k++) {
      bw_buf_printf(&b, "%" PRId64 " failed with %s: ", t->errors[k].count,
                    t->errors[k].error_class);
      html_escape(&b, t->errors[k].last_message);
      bw_buf_printf(&b, "<br>");
    }
    if (t->stall_s > 0) {
      struct bw_buf tcp = {0};
      tcp_changes(&tcp, t);
      bw_buf_printf(&b, "%.1f s under the stall rate%s", t->stall_s, tcp.len ? "; " : "");
      if (tcp.len)
        html_escape(&b, tcp.s);
      free(tcp.s);
    }
    if (t->diagnosis) {
      bw_buf_printf(&b, "<br><b>why:</b> ");
      html_escape(&b, t->diagnosis);
    }
    if (t->odd) {
      bw_buf_printf(&b, "<br><b>odd one out:</b> ");
      html_escape(&b, t->odd);
    }
    if (t->env_change) {
      char at[64];
      when(t->env_change_us, at, sizeof(at));
      bw_buf_printf(&b, "<br><b>environment changed before it:</b> ");
      html_escape(&b, t->env_change);
      bw_buf_printf(&b, " (");
      html_escape(&b, at);
      bw_buf_printf(&b, ")");
    }
    bw_buf_printf(&b, "</td></tr>\n");
  }
  bw_buf_printf(&b, "</table>\n</body></html>\n");
  return bw_buf_take(&b);
}
