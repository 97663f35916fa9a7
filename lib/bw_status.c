/* The status pages as HTML (bw_status.h): pure, a struct in, a page out. */
#include "bw_status.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bw_render.h"
#include "bw_sweep.h"
#include "bw_util.h"

/* The period the index's charts cover is the caller's; these are the drawing's own sizes. */
#define CHART_W 720
#define CHART_H 220
#define RECENT_RUNS 24

const char *bw_status_state_name(enum bw_status_state s) {
  switch (s) {
  case BW_STATUS_NEW:
    return "new";
  case BW_STATUS_NORMAL:
    return "normal";
  case BW_STATUS_REGRESSED:
    return "regressed";
  case BW_STATUS_FAILING:
    return "failing";
  }
  return "?";
}

/* A positive decimal id that is all of s, else 0. */
static int64_t parse_id(const char *s) {
  int64_t v = 0;
  if (!*s || strlen(s) > 18)
    return 0;
  for (; *s; s++) {
    if (*s < '0' || *s > '9')
      return 0;
    v = v * 10 + (*s - '0');
  }
  return v;
}

enum bw_status_page bw_status_route(const char *path, int64_t *ret_id) {
  static const struct {
    const char *prefix;
    enum bw_status_page page;
  } pages[] = {
      {"/target/", BW_STATUS_PAGE_TARGET},
      {"/regression/", BW_STATUS_PAGE_REGRESSION},
  };
  *ret_id = 0;
  if (strcmp(path, "/") == 0)
    return BW_STATUS_PAGE_INDEX;
  for (size_t i = 0; i < sizeof(pages) / sizeof(pages[0]); i++) {
    size_t n = strlen(pages[i].prefix);
    if (strncmp(path, pages[i].prefix, n) != 0)
      continue;
    *ret_id = parse_id(path + n);
    return *ret_id > 0 ? pages[i].page : BW_STATUS_PAGE_NONE;
  }
  return BW_STATUS_PAGE_NONE;
}

/* The few figures a target's card shows for its latest run, per kind. */
struct key_figure {
  const char *name;
  const char *label;
};

static const struct key_figure page_figures[] = {
    {"p50_us", "median"}, {"p90_us", "p90"},    {"p99_us", "p99"},
    {"rps", "req/s"},     {"failed", "failed"}, {NULL, NULL},
};

static const struct key_figure download_figures[] = {
    {"rate_bps", "rate"},    {"ttfb_us", "first byte"},
    {"stall_us", "stalled"}, {"tcp_rcv_rtt_max_us", "max RTT"},
    {"bytes", "body"},       {NULL, NULL},
};

static const struct key_figure connect_figures[] = {
    {"connect_p50_us", "connect"}, {"p90_us", "p90"}, {"tls_p50_us", "TLS"}, {"rps", "conn/s"},
    {"failed", "failed"},          {NULL, NULL},
};

static const struct key_figure *key_figures(enum bw_kind kind) {
  switch (kind) {
  case BW_KIND_PAGE:
    return page_figures;
  case BW_KIND_DOWNLOAD:
    return download_figures;
  case BW_KIND_CONNECT:
    return connect_figures;
  }
  return page_figures;
}

static void when(int64_t us, char *buf, size_t size) {
  time_t t = (time_t)(us / 1000000);
  struct tm tm;
  if (us == BW_NONE || !localtime_r(&t, &tm) || strftime(buf, size, "%Y-%m-%d %H:%M %Z", &tm) == 0)
    (void)snprintf(buf, size, "-");
}

/* A figure's value with its unit as people read it (ms, MB/s of 10^6 bytes, s, MB). */
static void fmt_figure(const struct bw_figure *f, double v, char *buf, size_t size) {
  switch (f->unit) {
  case BW_UNIT_US:
    if (strcmp(f->name, "stall_us") == 0 || v >= 10e6)
      (void)snprintf(buf, size, "%.2f s", v / 1e6);
    else
      (void)snprintf(buf, size, "%.2f ms", v / 1e3);
    return;
  case BW_UNIT_BPS:
    (void)snprintf(buf, size, "%.2f MB/s", v / 1e6);
    return;
  case BW_UNIT_BYTES:
    if (v >= 1e6)
      (void)snprintf(buf, size, "%.2f MB", v / 1e6);
    else
      (void)snprintf(buf, size, "%.0f B", v);
    return;
  case BW_UNIT_PER_S:
    (void)snprintf(buf, size, "%.2f /s", v);
    return;
  case BW_UNIT_COUNT:
    (void)snprintf(buf, size, "%.0f", v);
    return;
  case BW_UNIT_TIME: {
    time_t t = (time_t)(v / 1e6);
    struct tm tm;
    if (gmtime_r(&t, &tm) && strftime(buf, size, "%Y-%m-%d %H:%M UTC", &tm) > 0)
      return;
    break;
  }
  }
  (void)snprintf(buf, size, "%g", v);
}

static void fmt_metric(const struct bw_metric *m, double v, char *buf, size_t size) {
  if (isnan(v))
    (void)snprintf(buf, size, "-");
  else
    (void)snprintf(buf, size, "%.2f %s", v / m->scale, m->unit);
}

static void esc(struct bw_buf *b, const char *s) {
  bw_render_escape(b, s);
}

static void target_name(struct bw_buf *b, const char *test, const char *backend) {
  esc(b, test);
  if (backend && backend[0]) {
    bw_buf_printf(b, " <span class=\"backend\">[");
    esc(b, backend);
    bw_buf_printf(b, "]</span>");
  }
}

static const char css[] =
    ":root{color-scheme:light;--fg:#1d232b;--muted:#5b6672;--line:#d8dde3;--ok:#1b7a3d;"
    "--bad:#b3261e;--warn:#9a5b00;--blue:#1f5fbf}"
    "*{box-sizing:border-box}"
    "body{margin:0;font:15px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;"
    "color:var(--fg);background:#f5f7f9}"
    "header{background:#1d232b;color:#fff;padding:10px 16px;display:flex;flex-wrap:wrap;"
    "gap:4px 16px;align-items:baseline}"
    "header a{color:#fff;font-weight:600;text-decoration:none}header .asof{color:#c5ccd4;"
    "font-size:13px}"
    "main{padding:12px 16px;max-width:1600px;margin:0 auto}main.narrow{max-width:1100px}"
    "h1{font-size:20px;margin:8px 0}h2{font-size:17px;margin:18px 0 8px}"
    "a{color:var(--blue)}"
    ".summary{color:var(--muted);margin:4px 0 12px}"
    ".grid{display:grid;gap:12px;grid-template-columns:repeat(auto-fill,minmax(min(100%,560px),1fr)"
    ")}"
    ".card{background:#fff;border:1px solid var(--line);border-radius:8px;padding:10px 12px;"
    "min-width:0}"
    ".card.regressed{border-left:5px solid var(--bad)}.card.failing{border-left:5px solid "
    "var(--bad)}"
    ".card.normal{border-left:5px solid var(--ok)}.card.new{border-left:5px solid var(--line)}"
    ".card h3{margin:0 0 4px;font-size:16px;overflow-wrap:anywhere}.card h3 a{color:inherit}"
    ".backend{color:var(--muted);font-weight:400}"
    ".state{display:inline-block;font-size:13px;font-weight:600;border-radius:10px;padding:1px 9px;"
    "margin-right:6px}"
    ".state.normal{background:#e3f3e8;color:var(--ok)}.state.new{background:#eceff2;color:var(--"
    "muted)}"
    ".state.regressed,.state.failing{background:#fbe4e2;color:var(--bad)}"
    ".figs{display:flex;flex-wrap:wrap;gap:2px 16px;margin:6px 0;font-size:14px}"
    ".figs div{white-space:nowrap}.figs span{color:var(--muted)}"
    ".figs div.err{white-space:normal;overflow-wrap:anywhere;color:var(--bad)}"
    ".muted{color:var(--muted);font-size:13px}"
    "svg.chart{width:100%;height:auto;display:block;font:11px system-ui,sans-serif}"
    "svg .grid{stroke:#e6e9ed;stroke-width:1}svg .frame{stroke:#9aa4ae}"
    "svg .tick{fill:#5b6672}svg .axis{fill:#3a434d;font-weight:600}"
    "svg .band{fill:#1b7a3d;fill-opacity:.12}svg .mode{stroke:#1b7a3d;stroke-dasharray:5 4;"
    "stroke-width:1.5}"
    "svg .span{fill:#b3261e;fill-opacity:.13}svg .span.fail{fill:#9a5b00}"
    "svg .line{fill:none;stroke:#1f5fbf;stroke-width:1.6;stroke-linejoin:round}"
    "svg .dot{fill:#1f5fbf}svg .dot.bad{fill:#b3261e}"
    "svg .failed{stroke:#b3261e;stroke-width:1.6;fill:none}"
    ".legend{font-size:12px;color:var(--muted);display:flex;flex-wrap:wrap;gap:2px 14px}"
    ".legend i{display:inline-block;width:14px;height:9px;margin-right:4px;vertical-align:middle}"
    ".scroll{overflow-x:auto}"
    "table{border-collapse:collapse;width:100%;background:#fff;font-size:14px}"
    "th,td{text-align:left;padding:5px 8px;border-bottom:1px solid var(--line);"
    "vertical-align:top}"
    "th{font-weight:600;background:#eef1f4}td.num{text-align:right;white-space:nowrap}"
    "tr.opening td{background:#fdf0ef;font-weight:600}"
    "ul.why li{margin:4px 0}"
    "dl.facts{display:grid;grid-template-columns:max-content 1fr;gap:3px 14px;margin:6px 0}"
    "dl.facts dt{color:var(--muted)}dl.facts dd{margin:0;overflow-wrap:anywhere}";

static void page_start(struct bw_buf *b, const char *host, int64_t now_us, const char *title,
                       bool narrow) {
  char at[64];
  when(now_us, at, sizeof(at));
  bw_buf_printf(b, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                   "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">"
                   /* the icon is inline too: a browser asks for /favicon.ico otherwise */
                   "<link rel=\"icon\" href=\"data:image/svg+xml,%%3Csvg xmlns='http://www.w3.org/"
                   "2000/svg' viewBox='0 0 16 16'%%3E%%3Cpath d='M1 13l4-6 3 3 7-8' fill='none' "
                   "stroke='%%231f5fbf' stroke-width='2.5'/%%3E%%3C/svg%%3E\">"
                   "<title>");
  esc(b, title);
  bw_buf_printf(b, " - benchwatch");
  if (host && host[0]) {
    bw_buf_printf(b, " ");
    esc(b, host);
  }
  bw_buf_printf(b, "</title><style>%s</style></head><body><header><a href=\"/\">benchwatch", css);
  if (host && host[0]) {
    bw_buf_printf(b, " on ");
    esc(b, host);
  }
  bw_buf_printf(b, "</a>");
  if (now_us != BW_NONE)
    bw_buf_printf(b, "<span class=\"asof\">as of %s</span>", at);
  bw_buf_printf(b, "</header><main%s>\n", narrow ? " class=\"narrow\"" : "");
}

static void page_end(struct bw_buf *b) {
  bw_buf_printf(b, "</main></body></html>\n");
}

static void state_badge(struct bw_buf *b, const struct bw_status_target *t) {
  char since[64];
  when(t->since_us, since, sizeof(since));
  bw_buf_printf(b, "<span class=\"state %s\" data-state=\"%s\">", bw_status_state_name(t->state),
                bw_status_state_name(t->state));
  switch (t->state) {
  case BW_STATUS_NEW:
    bw_buf_printf(b, "no runs yet");
    break;
  case BW_STATUS_NORMAL:
    bw_buf_printf(b, "normal");
    break;
  case BW_STATUS_REGRESSED:
    bw_buf_printf(b, "regressed since %s", since);
    break;
  case BW_STATUS_FAILING:
    bw_buf_printf(b, "failing since %s", since);
    break;
  }
  bw_buf_printf(b, "</span>");
  if (t->regression_id)
    bw_buf_printf(b, "<a href=\"/regression/%" PRId64 "\">regression #%" PRId64 "</a>",
                  t->regression_id, t->regression_id);
}

/* The latest run's key figures, each with its raw value for programs (data-value). */
static void key_figs(struct bw_buf *b, const struct bw_status_target *t) {
  const struct bw_run *run = t->latest;
  char at[64], v[48];
  if (!run) {
    bw_buf_printf(b, "<div class=\"muted\">No run yet.</div>");
    return;
  }
  when(run->started_us, at, sizeof(at));
  bw_buf_printf(b, "<div class=\"figs\" data-run-started=\"%" PRId64 "\">", run->started_us);
  if (run->outcome == BW_OUTCOME_FAILED) {
    bw_buf_printf(b, "<div class=\"err\"><span>failed:</span> ");
    esc(b, run->error_class ? run->error_class : "error");
    if (run->error_message && run->error_message[0]) {
      bw_buf_printf(b, " (");
      esc(b, run->error_message);
      bw_buf_printf(b, ")");
    }
    bw_buf_printf(b, "</div>");
  }
  for (const struct key_figure *k = key_figures(t->kind); k->name; k++) {
    const struct bw_figure *f = bw_figure_find(k->name);
    double x;
    if (!f || !bw_figure_get(f, run, &x))
      continue;
    fmt_figure(f, x, v, sizeof(v));
    bw_buf_printf(b, "<div><span>%s</span> <b data-figure=\"%s\" data-value=\"%.17g\">%s</b></div>",
                  k->label, k->name, x, v);
  }
  bw_buf_printf(b, "</div><div class=\"muted\">latest run %s", at);
  if (!isnan(t->reference)) {
    fmt_metric(t->metric, t->reference, v, sizeof(v));
    bw_buf_printf(b, "; baseline %s%s%s (%zu runs)",
                  strcmp(t->metric->label, t->metric->unit) ? t->metric->label : "",
                  strcmp(t->metric->label, t->metric->unit) ? " " : "", v, t->baseline.n);
  } else {
    bw_buf_printf(b, "; no baseline yet");
  }
  bw_buf_printf(b, "</div>");
}

static void chart(struct bw_buf *b, const struct bw_status_target *t, bool wide) {
  struct bw_svg_span *spans = bw_xcalloc(t->n_spans + 1, sizeof(*spans));
  for (size_t i = 0; i < t->n_spans; i++) {
    spans[i].from_us = t->spans[i].opened_us;
    spans[i].until_us = t->spans[i].closed_us;
    spans[i].id = t->spans[i].id;
    spans[i].availability = strcmp(t->spans[i].metric, BW_METRIC_AVAILABILITY) == 0;
  }
  struct bw_svg_chart c = {
      .pts = t->history,
      .n = t->n_history,
      .from_us = t->from_us,
      .until_us = t->until_us,
      .mode = t->reference,
      .band_lo = t->band_lo,
      .band_hi = t->band_hi,
      .spans = spans,
      .n_spans = t->n_spans,
      .scale = t->metric->scale,
      .unit = t->metric->unit,
      .label = t->metric->label,
      .width = CHART_W,
      .height = wide ? CHART_H + 30 : CHART_H,
      .link = "/regression/",
  };
  char *svg = bw_render_chart_svg(&c);
  bw_buf_printf(b, "%s", svg);
  free(svg);
  free(spans);
}

static void legend(struct bw_buf *b) {
  bw_buf_printf(b, "<div class=\"legend\"><span><i style=\"background:#1f5fbf;height:3px\"></i>"
                   "runs</span><span><i style=\"background:rgba(27,122,61,.25)\"></i>normal band"
                   "</span><span><i style=\"border-top:2px dashed #1b7a3d;height:0\"></i>baseline"
                   "</span><span><i style=\"background:rgba(179,38,30,.25)\"></i>regression open"
                   "</span><span style=\"color:#b3261e\">&times; failed run</span></div>");
}

static void card(struct bw_buf *b, const struct bw_status_target *t) {
  bw_buf_printf(b,
                "<section class=\"card %s\" id=\"target-%" PRId64
                "\"><h3><a href=\"/target/%" PRId64 "\">",
                bw_status_state_name(t->state), t->id, t->id);
  target_name(b, t->test, t->backend);
  bw_buf_printf(b, "</a> <span class=\"muted\">%s</span></h3>", bw_kind_name(t->kind));
  state_badge(b, t);
  key_figs(b, t);
  if (t->n_history || t->state != BW_STATUS_NEW)
    chart(b, t, false);
  bw_buf_printf(b, "</section>\n");
}

/* The regressions as a table: id, target, figure, baseline -> observed, opened, closed. */
static void regression_table(struct bw_buf *b, const struct bw_regression *list, size_t n,
                             bool with_target) {
  bw_buf_printf(b,
                "<div class=\"scroll\"><table><thead><tr><th>#</th>%s<th>figure</th>"
                "<th>baseline &rarr; observed</th><th>opened</th><th>closed</th></tr></thead>"
                "<tbody>",
                with_target ? "<th>target</th>" : "");
  for (size_t i = 0; i < n; i++) {
    const struct bw_regression *g = &list[i];
    char opened[64], closed[64], base[48], obs[48];
    when(g->opened_us, opened, sizeof(opened));
    if (g->closed_us == BW_NONE)
      (void)snprintf(closed, sizeof(closed), "open");
    else
      when(g->closed_us, closed, sizeof(closed));
    bw_buf_printf(b,
                  "<tr data-regression=\"%" PRId64 "\"><td><a href=\"/regression/%" PRId64
                  "\">#%" PRId64 "</a></td>",
                  g->id, g->id, g->id);
    if (with_target) {
      bw_buf_printf(b, "<td><a href=\"/target/%" PRId64 "\">", g->target_id);
      target_name(b, g->test, g->backend);
      bw_buf_printf(b, "</a></td>");
    }
    if (strcmp(g->metric, BW_METRIC_AVAILABILITY) == 0) {
      bw_buf_printf(b, "<td>availability</td><td>runs failing</td>");
    } else {
      const struct bw_metric *m = bw_detect_metric_find(g->metric);
      if (!m)
        m = bw_detect_metric(BW_KIND_PAGE);
      fmt_metric(m, g->baseline, base, sizeof(base));
      fmt_metric(m, g->observed, obs, sizeof(obs));
      bw_buf_printf(b, "<td>%s</td><td class=\"num\">%s &rarr; %s (&times;%.2f)</td>", m->label,
                    base, obs, g->ratio);
    }
    bw_buf_printf(b, "<td>%s</td><td>%s%s</td></tr>", opened, closed,
                  g->acked_us != BW_NONE ? " (accepted)" : "");
  }
  bw_buf_printf(b, "</tbody></table></div>\n");
}

/* Each sweep's curve (bw_sweep.h) from its steps' latest runs, each step with its state. */
static void sweeps(struct bw_buf *b, const struct bw_status *s) {
  struct bw_sweep_curve *curves = NULL;
  size_t n = 0;
  for (size_t i = 0; i < s->n_targets; i++) {
    const struct bw_status_target *t = &s->targets[i];
    if (t->kind == BW_KIND_PAGE)
      (void)bw_sweep_curves_add(&curves, &n, t->test, t->backend, t->latest, t->id,
                                bw_status_state_name(t->state));
  }
  if (n)
    bw_buf_printf(b, "<h2 id=\"sweeps\">Sweeps</h2>\n<p class=\"summary\">The latest run of "
                     "each step: requests/s and the median request time against the step.</p>\n");
  for (size_t i = 0; i < n; i++) {
    bw_buf_printf(b, "<h3>");
    target_name(b, curves[i].test, curves[i].backend);
    bw_buf_printf(b, "</h3>\n");
    bw_sweep_svg(b, &curves[i]);
    bw_buf_printf(b, "<div class=\"scroll\">");
    bw_sweep_html(b, &curves[i]);
    bw_buf_printf(b, "</div>\n");
  }
  bw_sweep_curves_free(curves, n);
}

char *bw_status_html(const struct bw_status *s) {
  struct bw_buf b = {0};
  size_t count[BW_STATUS_FAILING + 1] = {0};
  for (size_t i = 0; i < s->n_targets; i++)
    count[s->targets[i].state]++;
  page_start(&b, s->host, s->now_us, "status", false);
  bw_buf_printf(&b,
                "<h1>Status</h1><p class=\"summary\">%zu target%s: %zu normal, "
                "%zu regressed, %zu failing, %zu without runs.</p>\n",
                s->n_targets, s->n_targets == 1 ? "" : "s", count[BW_STATUS_NORMAL],
                count[BW_STATUS_REGRESSED], count[BW_STATUS_FAILING], count[BW_STATUS_NEW]);
  bw_buf_printf(&b, "<h2 id=\"open\">Open regressions</h2>\n");
  if (s->n_open == 0)
    bw_buf_printf(&b, "<p>No regression is open.</p>\n");
  else
    regression_table(&b, s->open, s->n_open, true);
  sweeps(&b, s);
  bw_buf_printf(&b, "<h2 id=\"targets\">Targets</h2>\n");
  if (s->n_targets == 0)
    bw_buf_printf(&b, "<p>No target has run yet.</p>\n");
  else
    legend(&b);
  bw_buf_printf(&b, "<div class=\"grid\">\n");
  for (size_t i = 0; i < s->n_targets; i++)
    card(&b, &s->targets[i]);
  bw_buf_printf(&b, "</div>\n");
  page_end(&b);
  return bw_buf_take(&b);
}

/* Every measured figure of the run with what it means. */
static void all_figures(struct bw_buf *b, const struct bw_run *run) {
  char v[48];
  bw_buf_printf(b, "<div class=\"scroll\"><table><thead><tr><th>figure</th><th>value</th>"
                   "<th>meaning</th></tr></thead><tbody>");
  for (const struct bw_figure *f = bw_run_figures; f->name; f++) {
    double x;
    if (!bw_figure_get(f, run, &x))
      continue;
    fmt_figure(f, x, v, sizeof(v));
    bw_buf_printf(b,
                  "<tr><td>%s</td><td class=\"num\" data-figure=\"%s\" data-value=\"%.17g\">%s"
                  "</td><td>",
                  f->name, f->name, x, v);
    esc(b, f->help);
    bw_buf_printf(b, "</td></tr>");
  }
  bw_buf_printf(b, "</tbody></table></div>\n");
}

/* Runs as a table, newest first: when, outcome, the figure and its ratio to reference. */
static void runs_table(struct bw_buf *b, const struct bw_point *pts, size_t n,
                       const struct bw_metric *m, double reference, int64_t mark_run_id) {
  char at[64], v[48];
  bw_buf_printf(b,
                "<div class=\"scroll\"><table><thead><tr><th>started</th><th>%s</th>"
                "<th>&times; baseline</th></tr></thead><tbody>",
                m->label);
  for (size_t i = n; i > 0; i--) {
    const struct bw_point *p = &pts[i - 1];
    when(p->started_us, at, sizeof(at));
    bw_buf_printf(b, "<tr data-run=\"%" PRId64 "\"%s><td>%s%s</td>", p->run_id,
                  p->run_id == mark_run_id ? " class=\"opening\"" : "", at,
                  p->run_id == mark_run_id ? " (opened it)" : "");
    if (isnan(p->value)) {
      bw_buf_printf(b, "<td class=\"num\" style=\"color:#b3261e\">failed</td><td></td></tr>");
      continue;
    }
    fmt_metric(m, p->value, v, sizeof(v));
    bw_buf_printf(b, "<td class=\"num\" data-value=\"%.17g\">%s</td><td class=\"num\">", p->value,
                  v);
    if (!isnan(reference) && reference > 0)
      bw_buf_printf(b, "%.2f", p->value / reference);
    bw_buf_printf(b, "</td></tr>");
  }
  bw_buf_printf(b, "</tbody></table></div>\n");
}

char *bw_status_html_target(const char *host, int64_t now_us, const struct bw_status_target *t) {
  struct bw_buf b = {0}, title = {0};
  bw_buf_printf(&title, "%s%s%s%s", t->test, t->backend[0] ? " [" : "", t->backend,
                t->backend[0] ? "]" : "");
  page_start(&b, host, now_us, title.s, true);
  free(title.s);
  bw_buf_printf(&b, "<h1>");
  target_name(&b, t->test, t->backend);
  bw_buf_printf(&b, "</h1><dl class=\"facts\"><dt>kind</dt><dd>%s</dd><dt>URL</dt><dd>",
                bw_kind_name(t->kind));
  esc(&b, t->url);
  bw_buf_printf(&b, "</dd><dt>target id</dt><dd>%" PRId64 "</dd><dt>state</dt><dd>", t->id);
  state_badge(&b, t);
  bw_buf_printf(&b, "</dd></dl>\n<section class=\"card %s\">", bw_status_state_name(t->state));
  key_figs(&b, t);
  chart(&b, t, true);
  legend(&b);
  bw_buf_printf(&b, "</section>\n<h2>Regressions in this period</h2>\n");
  if (t->n_spans == 0)
    bw_buf_printf(&b, "<p>None.</p>\n");
  else
    regression_table(&b, t->spans, t->n_spans, false);
  bw_buf_printf(&b, "<h2>Recent runs</h2>\n");
  size_t n = t->n_history < RECENT_RUNS ? t->n_history : RECENT_RUNS;
  if (n == 0)
    bw_buf_printf(&b, "<p>None in this period.</p>\n");
  else
    runs_table(&b, t->history + t->n_history - n, n, t->metric, t->reference, 0);
  if (t->latest) {
    bw_buf_printf(&b, "<h2>Latest run in full</h2>\n");
    all_figures(&b, t->latest);
  }
  page_end(&b);
  return bw_buf_take(&b);
}

static void sentences(struct bw_buf *b, char *const *lines) {
  bw_buf_printf(b, "<ul class=\"why\">");
  for (size_t i = 0; lines && lines[i]; i++) {
    bw_buf_printf(b, "<li>");
    esc(b, lines[i]);
    bw_buf_printf(b, "</li>");
  }
  bw_buf_printf(b, "</ul>\n");
}

char *bw_status_html_regression(const struct bw_status_regression *r) {
  struct bw_buf b = {0}, title = {0};
  const struct bw_regression *g = &r->reg;
  const struct bw_status_target *t = &r->target;
  bool avail = strcmp(g->metric, BW_METRIC_AVAILABILITY) == 0;
  const struct bw_metric *m = avail ? t->metric : bw_detect_metric_find(g->metric);
  if (!m)
    m = t->metric;
  char opened[64], closed[64], base[48], obs[48];
  bw_buf_printf(&title, "regression #%" PRId64, g->id);
  page_start(&b, r->host, r->now_us, title.s, true);
  free(title.s);
  when(g->opened_us, opened, sizeof(opened));
  when(g->closed_us, closed, sizeof(closed));
  bw_buf_printf(&b, "<h1>Regression #%" PRId64 ": <a href=\"/target/%" PRId64 "\">", g->id, t->id);
  target_name(&b, t->test, t->backend);
  bw_buf_printf(&b, "</a></h1><dl class=\"facts\"><dt>figure</dt><dd>%s</dd>",
                avail ? "availability" : m->label);
  if (!avail) {
    fmt_metric(m, g->baseline, base, sizeof(base));
    fmt_metric(m, g->observed, obs, sizeof(obs));
    bw_buf_printf(&b,
                  "<dt>baseline &rarr; observed</dt><dd data-ratio=\"%.17g\">%s &rarr; %s "
                  "(&times;%.2f)</dd>",
                  g->ratio, base, obs, g->ratio);
  }
  bw_buf_printf(&b, "<dt>opened</dt><dd>%s</dd><dt>%s</dt><dd>%s</dd></dl>\n", opened,
                g->closed_us == BW_NONE  ? "state"
                : g->acked_us != BW_NONE ? "accepted"
                                         : "closed",
                g->closed_us == BW_NONE ? "open" : closed);
  bw_buf_printf(&b, "<section class=\"card %s\">",
                g->closed_us == BW_NONE ? "regressed" : "normal");
  chart(&b, t, true);
  legend(&b);
  bw_buf_printf(&b, "</section>\n<h2>Diagnosis</h2>\n");
  if ((!r->diagnosis || !r->diagnosis[0]) && (!r->odd || !r->odd[0]))
    bw_buf_printf(&b, "<p>Nothing in the opening run's stored facts explains it%s%s%s.</p>\n",
                  t->kind != BW_KIND_DOWNLOAD ? " (" : "",
                  t->kind != BW_KIND_DOWNLOAD ? bw_kind_name(t->kind) : "",
                  t->kind != BW_KIND_DOWNLOAD ? " runs carry no TCP facts)" : "");
  else {
    sentences(&b, r->diagnosis);
    sentences(&b, r->odd);
  }
  bw_buf_printf(&b, "<h2>Runs around it</h2>\n");
  if (r->n_around == 0)
    bw_buf_printf(&b, "<p>The runs are no longer stored.</p>\n");
  else
    runs_table(&b, r->around, r->n_around, m, avail ? t->reference : g->baseline, g->open_run_id);
  page_end(&b);
  return bw_buf_take(&b);
}

char *bw_status_html_error(int status, const char *why) {
  struct bw_buf b = {0}, title = {0};
  bw_buf_printf(&title, "%d", status);
  page_start(&b, NULL, BW_NONE, title.s, true);
  free(title.s);
  bw_buf_printf(&b, "<h1>%d</h1><p>", status);
  esc(&b, why);
  bw_buf_printf(&b, "</p><p><a href=\"/\">All targets</a></p>\n");
  page_end(&b);
  return bw_buf_take(&b);
}
