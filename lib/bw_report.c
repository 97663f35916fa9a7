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
  return r->n_open == 0 && r->n_opened == 0 && r->n_closed == 0 && r->failing == 0 &&
         r->certs_expiring == 0;
}

char *bw_report_subject(const struct bw_nightly *r) {
  if (bw_report_quiet(r))
    return bw_xasprintf("[benchwatch %s] all normal", r->host);
  if (r->certs_expiring)
    return bw_xasprintf("[benchwatch %s] %zu regression%s, %zu recovered, %zu failing, %zu "
                        "certificate%s expiring",
                        r->host, r->n_open, r->n_open == 1 ? "" : "s", r->n_closed, r->failing,
                        r->certs_expiring, r->certs_expiring == 1 ? "" : "s");
  return bw_xasprintf("[benchwatch %s] %zu regression%s, %zu recovered, %zu failing", r->host,
                      r->n_open, r->n_open == 1 ? "" : "s", r->n_closed, r->failing);
}

/* Whether t's certificate is to be warned about in r: expired, or expiring within 14 days. */
static bool cert_warned(const struct bw_nightly *r, const struct bw_nightly_target *t) {
  return !isnan(t->cert_expires_us) &&
         t->cert_expires_us - (double)r->until_us < (double)BW_REPORT_CERT_WARN_US;
}

/* "the certificate expires 2026-12-02 17:21 UTC, in 2.0 days" (or "EXPIRED ..., 3.0 days ago"). */
static void cert_words(struct bw_buf *b, const struct bw_nightly *r,
                       const struct bw_nightly_target *t) {
  char at[64] = "?";
  time_t secs = (time_t)(t->cert_expires_us / 1e6);
  struct tm tm;
  if (gmtime_r(&secs, &tm))
    (void)strftime(at, sizeof(at), "%Y-%m-%d %H:%M UTC", &tm);
  double days = (t->cert_expires_us - (double)r->until_us) / 86400e6;
  if (days >= 0)
    bw_buf_printf(b, "the server certificate expires %s, in %.1f days", at, days);
  else
    bw_buf_printf(b, "the server certificate EXPIRED %s, %.1f days ago", at, -days);
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

static void html_escape(struct bw_buf *b, const char *s);

/* "<a href="URL/WHAT/ID">" when the status page is known: the text that follows links there. */
static bool link_open(struct bw_buf *b, const struct bw_nightly *r, const char *what, int64_t id) {
  if (!r->url)
    return false;
  bw_buf_printf(b, "<a href=\"");
  html_escape(b, r->url);
  bw_buf_printf(b, "/%s/%" PRId64, what, id);
  bw_buf_printf(b, "\" style=\"color:#1f5fbf\">");
  return true;
}

/*
 * One line per regression: the target, the metric, baseline -> observed, since when, its id (for
 * `benchwatch regressions ack ID` and the status page), and for a closed one how it closed.
 */
static void regression_line(struct bw_buf *b, const struct bw_nightly *r,
                            const struct bw_regression *g, bool html) {
  char tn[200], since[64], base[32], obs[32];
  target_name(g->test, g->backend, tn, sizeof(tn));
  when(g->opened_us, since, sizeof(since));
  const char *how = g->closed_us == BW_NONE  ? NULL
                    : g->acked_us != BW_NONE ? "accepted"
                                             : "recovered";
  if (html) {
    bw_buf_printf(b, "<li style=\"margin-bottom:4px\"><b>");
    html_escape(b, tn);
    bw_buf_printf(b, "</b>: ");
  } else {
    bw_buf_printf(b, "  %s: ", tn);
  }
  if (strcmp(g->metric, "availability") == 0) {
    bw_buf_printf(b, "runs failing, since %s", since);
  } else {
    const struct bw_metric *m = metric_of(g->metric);
    fmt_value(m, g->baseline, base, sizeof(base));
    fmt_value(m, g->observed, obs, sizeof(obs));
    bw_buf_printf(b, html ? "%s %s &rarr; %s (x%.2f) since %s" : "%s %s -> %s (x%.2f) since %s",
                  m->label, base, obs, g->ratio, since);
  }
  if (!html) {
    bw_buf_printf(b, " (id %" PRId64, g->id);
    if (r->url)
      bw_buf_printf(b, ", %s/regression/%" PRId64, r->url, g->id);
    bw_buf_printf(b, ")%s%s\n", how ? "; " : "", how ? how : "");
    return;
  }
  bw_buf_printf(b, " (");
  bool a = link_open(b, r, "regression", g->id);
  bw_buf_printf(b, "id %" PRId64 "%s)", g->id, a ? "</a>" : "");
  if (how)
    bw_buf_printf(b, "; <b style=\"color:%s\">%s</b>", g->acked_us != BW_NONE ? "#555" : "#1b7f3b",
                  how);
  bw_buf_printf(b, "</li>\n");
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

/* "p90 12.00 ms, p99 30.00 ms; a week before 9.80 ms (x1.02)": what the headline leaves out. */
static void more_figures(struct bw_buf *b, const struct bw_nightly_target *t) {
  char v[32];
  const struct bw_metric *m = t->metric;
  if (!isnan(t->p90)) {
    fmt_value(m, t->p90, v, sizeof(v));
    bw_buf_printf(b, "p90 %s", v);
  }
  if (!isnan(t->p99)) {
    fmt_value(m, t->p99, v, sizeof(v));
    bw_buf_printf(b, "%sp99 %s", b->len ? ", " : "", v);
  }
  if (!isnan(t->week_before)) {
    fmt_value(m, t->week_before, v, sizeof(v));
    bw_buf_printf(b, "%sa week before %s", b->len ? "; " : "", v);
    if (!isnan(t->median) && t->week_before > 0)
      bw_buf_printf(b, " (x%.2f)", t->median / t->week_before);
  }
}

char *bw_report_text(const struct bw_nightly *r) {
  struct bw_buf b = {0};
  char from[64], until[64];
  when(r->from_us, from, sizeof(from));
  when(r->until_us, until, sizeof(until));
  char *subject = bw_report_subject(r);
  bw_buf_printf(&b, "%s\n%s to %s\n", subject, from, until);
  if (r->url)
    bw_buf_printf(&b, "Status page: %s/\n", r->url);
  free(subject);
  if (bw_report_quiet(r))
    bw_buf_printf(&b,
                  "\nAll normal: no regression open, none opened or closed, nothing failing.\n");
  if (r->certs_expiring) {
    bw_buf_printf(&b, "\nCERTIFICATES EXPIRING (within 14 days)\n");
    for (size_t i = 0; i < r->n_targets; i++) {
      char tn[200];
      if (!cert_warned(r, &r->targets[i]))
        continue;
      target_name(r->targets[i].test, r->targets[i].backend, tn, sizeof(tn));
      bw_buf_printf(&b, "  %s: ", tn);
      cert_words(&b, r, &r->targets[i]);
      bw_buf_printf(&b, "\n");
    }
  }
  if (r->n_open) {
    bw_buf_printf(&b, "\nOPEN REGRESSIONS\n");
    for (size_t i = 0; i < r->n_open; i++)
      regression_line(&b, r, &r->open[i], false);
  }
  if (r->n_opened) {
    bw_buf_printf(&b, "\nOPENED IN THIS PERIOD\n");
    for (size_t i = 0; i < r->n_opened; i++)
      regression_line(&b, r, &r->opened[i], false);
  }
  if (r->n_closed) {
    bw_buf_printf(&b, "\nRECOVERED OR ACCEPTED\n");
    for (size_t i = 0; i < r->n_closed; i++)
      regression_line(&b, r, &r->closed[i], false);
  }
  if (r->n_sweeps)
    bw_buf_printf(&b, "\nSWEEPS (the latest run of each step)\n");
  for (size_t i = 0; i < r->n_sweeps; i++) {
    char tn[200];
    target_name(r->sweeps[i].test, r->sweeps[i].backend, tn, sizeof(tn));
    char *curve = bw_sweep_text(&r->sweeps[i], "    ");
    bw_buf_printf(&b, "  %s\n%s", tn, curve);
    free(curve);
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
    struct bw_buf more = {0};
    more_figures(&more, t);
    if (more.len)
      bw_buf_printf(&b, "      %s\n", more.s);
    free(more.s);
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

/*
 * The HTML part. Mail clients keep inline styles best (some drop <style>), so the layout is in
 * style attributes: one column at most 640 px wide, text that wraps, long words broken, and
 * charts that shrink with the window (max-width:100%): nothing overflows a 640 px window.
 */
#define FONT "font-family:Helvetica,Arial,sans-serif;"
#define SMALL "color:#666;font-size:13px;"
#define BAD "color:#b00020;font-weight:bold;"

static void html_figure(struct bw_buf *b, const char *name, const char *value, bool bad) {
  bw_buf_printf(b,
                "<span style=\"white-space:nowrap;display:inline-block;margin-right:14px\">%s "
                "<b%s>%s</b></span>",
                name, bad ? " style=\"" BAD "\"" : "", value);
}

static void html_target(struct bw_buf *b, const struct bw_nightly *r, size_t i, const char *src) {
  const struct bw_nightly_target *t = &r->targets[i];
  char tn[200], v[32], ratio[48];
  target_name(t->test, t->backend, tn, sizeof(tn));
  bw_buf_printf(b, "<div style=\"margin:18px 0 0;padding-top:8px;border-top:1px solid #ddd\">\n"
                   "<h3 style=\"margin:0 0 4px;font-size:16px\">");
  bool a = link_open(b, r, "target", t->target_id);
  html_escape(b, tn);
  bw_buf_printf(b, "%s", a ? "</a>" : "");
  if (t->open_what) {
    char since[64];
    when(t->open_since_us, since, sizeof(since));
    bw_buf_printf(b, " <span style=\"" BAD "font-size:14px\"><b>regressed</b> (%s) since %s</span>",
                  t->open_what, since);
  } else if (t->open) {
    bw_buf_printf(b, " <span style=\"" BAD "font-size:14px\"><b>regressed</b></span>");
  }
  bw_buf_printf(b, "</h3>\n<div style=\"line-height:1.6\">");
  fmt_value(t->metric, t->median, v, sizeof(v));
  html_figure(b, t->metric->label, v, t->open);
  if (!isnan(t->p90)) {
    fmt_value(t->metric, t->p90, v, sizeof(v));
    html_figure(b, "p90", v, false);
  }
  if (!isnan(t->p99)) {
    fmt_value(t->metric, t->p99, v, sizeof(v));
    html_figure(b, "p99", v, false);
  }
  fmt_value(t->metric, t->baseline, v, sizeof(v));
  if (!isnan(t->ratio))
    (void)snprintf(ratio, sizeof(ratio), "%s (x%.2f)", v, t->ratio);
  else
    (void)snprintf(ratio, sizeof(ratio), "%s", v);
  html_figure(b, "baseline", ratio, false);
  if (!isnan(t->latest_ratio)) {
    fmt_value(t->metric, t->latest, v, sizeof(v));
    (void)snprintf(ratio, sizeof(ratio), "%s (x%.2f)", v, t->latest_ratio);
    html_figure(b, "latest", ratio, false);
  }
  fmt_value(t->metric, t->week_before, v, sizeof(v));
  if (!isnan(t->week_before) && !isnan(t->median) && t->week_before > 0)
    (void)snprintf(ratio, sizeof(ratio), "%s (x%.2f)", v, t->median / t->week_before);
  else
    (void)snprintf(ratio, sizeof(ratio), "%s", v);
  html_figure(b, "a week before", ratio, false);
  (void)snprintf(ratio, sizeof(ratio), "%zu, %zu failed", t->runs, t->failures);
  html_figure(b, "runs", ratio, t->failures > 0);
  bw_buf_printf(b, "</div>\n");
  if (src) {
    bw_buf_printf(b, "<img src=\"");
    html_escape(b, src);
    bw_buf_printf(b, "\" width=\"%d\" height=\"%d\" alt=\"", BW_REPORT_CHART_WIDTH,
                  BW_REPORT_CHART_HEIGHT);
    html_escape(b, tn);
    bw_buf_printf(b,
                  ": %s, %s\" style=\"display:block;width:100%%;max-width:%dpx;height:auto;"
                  "border:0;margin:6px 0 2px\">\n",
                  t->metric->label, t->metric->unit, BW_REPORT_CHART_WIDTH);
  }
  bw_buf_printf(b, "<div style=\"" SMALL "\">");
  bool any = false;
  struct bw_buf rate = {0};
  rates(&rate, t);
  if (rate.len) {
    bw_buf_printf(b, "latest: ");
    html_escape(b, rate.s);
    any = true;
  }
  free(rate.s);
  for (size_t k = 0; k < t->n_errors; k++) {
    bw_buf_printf(b, "%s%" PRId64 " failed with %s: ", any ? "<br>" : "", t->errors[k].count,
                  t->errors[k].error_class);
    html_escape(b, t->errors[k].last_message);
    any = true;
  }
  if (t->stall_s > 0) {
    struct bw_buf tcp = {0};
    tcp_changes(&tcp, t);
    bw_buf_printf(b, "%s%.1f s under the stall rate%s", any ? "<br>" : "", t->stall_s,
                  tcp.len ? "; " : "");
    if (tcp.len)
      html_escape(b, tcp.s);
    free(tcp.s);
    any = true;
  }
  if (t->diagnosis) {
    bw_buf_printf(b, "%s<b>why:</b> ", any ? "<br>" : "");
    html_escape(b, t->diagnosis);
    any = true;
  }
  if (t->odd) {
    bw_buf_printf(b, "%s<b>odd one out:</b> ", any ? "<br>" : "");
    html_escape(b, t->odd);
    any = true;
  }
  if (t->env_change) {
    char at[64];
    when(t->env_change_us, at, sizeof(at));
    bw_buf_printf(b, "%s<b>environment changed before it:</b> ", any ? "<br>" : "");
    html_escape(b, t->env_change);
    bw_buf_printf(b, " (");
    html_escape(b, at);
    bw_buf_printf(b, ")");
  }
  bw_buf_printf(b, "</div>\n</div>\n");
}

char *bw_report_html(const struct bw_nightly *r, const char *const *chart_src) {
  struct bw_buf b = {0};
  char from[64], until[64];
  when(r->from_us, from, sizeof(from));
  when(r->until_us, until, sizeof(until));
  char *subject = bw_report_subject(r);
  bw_buf_printf(&b, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                    "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">"
                    "<title>");
  html_escape(&b, subject);
  bw_buf_printf(&b, "</title></head>\n<body style=\"margin:0;padding:0;background:#fff\">\n"
                    "<div style=\"" FONT "color:#222;font-size:14px;max-width:624px;padding:8px;"
                    "overflow-wrap:break-word;word-wrap:break-word\">\n"
                    "<h1 style=\"font-size:20px;margin:4px 0\">");
  html_escape(&b, subject);
  bw_buf_printf(&b, "</h1>\n<p style=\"" SMALL "margin:0 0 8px\">%s to %s", from, until);
  if (r->url) {
    bw_buf_printf(&b, " &middot; <a href=\"");
    html_escape(&b, r->url);
    bw_buf_printf(&b, "/\" style=\"color:#1f5fbf\">status page</a>");
  }
  bw_buf_printf(&b, "</p>\n");
  free(subject);
  if (bw_report_quiet(r))
    bw_buf_printf(&b, "<p style=\"color:#1b7f3b\">All normal: no regression open, none opened or "
                      "closed, nothing failing.</p>\n");
  if (r->certs_expiring) {
    bw_buf_printf(&b, "<h2 style=\"font-size:17px;margin:14px 0 4px;color:#b3261e\">Certificates "
                      "expiring within 14 days</h2>\n<ul style=\"margin:0;padding-left:20px\">\n");
    for (size_t i = 0; i < r->n_targets; i++) {
      char tn[200];
      struct bw_buf words = {0};
      if (!cert_warned(r, &r->targets[i]))
        continue;
      target_name(r->targets[i].test, r->targets[i].backend, tn, sizeof(tn));
      cert_words(&words, r, &r->targets[i]);
      bw_buf_printf(&b, "<li><b>");
      html_escape(&b, tn);
      bw_buf_printf(&b, "</b>: ");
      html_escape(&b, words.s);
      bw_buf_printf(&b, "</li>\n");
      free(words.s);
    }
    bw_buf_printf(&b, "</ul>\n");
  }
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
    bw_buf_printf(&b,
                  "<h2 style=\"font-size:17px;margin:14px 0 4px\">%s</h2>\n"
                  "<ul style=\"margin:0;padding-left:20px\">\n",
                  groups[gi].title);
    for (size_t i = 0; i < groups[gi].n; i++)
      regression_line(&b, r, &groups[gi].list[i], true);
    bw_buf_printf(&b, "</ul>\n");
  }
  if (r->n_sweeps)
    bw_buf_printf(&b, "<h2 style=\"font-size:17px;margin:14px 0 4px\">Sweeps</h2>\n"
                      "<p style=\"" SMALL "margin:0\">The latest run of each step: requests/s "
                      "and the median request time against the step.</p>\n");
  for (size_t i = 0; i < r->n_sweeps; i++) {
    char tn[200];
    target_name(r->sweeps[i].test, r->sweeps[i].backend, tn, sizeof(tn));
    bw_buf_printf(&b, "<h3 style=\"font-size:15px;margin:10px 0 2px\">");
    html_escape(&b, tn);
    bw_buf_printf(&b, "</h3>\n");
    bw_sweep_html(&b, &r->sweeps[i]);
  }
  bw_buf_printf(&b, "<h2 style=\"font-size:17px;margin:14px 0 4px\">Targets</h2>\n");
  if (r->n_targets)
    bw_buf_printf(&b, "<p style=\"" SMALL "margin:0\">Charts: the runs in blue, the normal band "
                      "in green (the baseline dashed), regressions in red, accepted ones in grey, "
                      "failed runs as red ticks; this period shaded.</p>\n");
  else
    bw_buf_printf(&b, "<p>No runs in this period.</p>\n");
  for (size_t i = 0; i < r->n_targets; i++)
    html_target(&b, r, i, chart_src ? chart_src[i] : NULL);
  bw_buf_printf(&b, "</div>\n</body></html>\n");
  return bw_buf_take(&b);
}

int bw_report_chart(const struct bw_nightly *r, size_t i, unsigned char **ret, size_t *ret_len,
                    struct bw_errs *errs) {
  const struct bw_nightly_target *t = &r->targets[i];
  struct bw_chart c = {
      .width = BW_REPORT_CHART_WIDTH,
      .height = BW_REPORT_CHART_HEIGHT,
      .from_us = r->chart_from_us,
      .until_us = r->until_us,
      .period_from_us = r->from_us,
      .points = t->history,
      .n_points = t->n_history,
      .reference = t->baseline,
      .threshold = t->threshold,
      .spans = t->spans,
      .n_spans = t->n_spans,
      .scale = t->metric->scale,
      .unit = t->metric->unit,
  };
  return bw_chart_png(&c, ret, ret_len, errs);
}
