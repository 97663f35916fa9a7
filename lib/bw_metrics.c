#include "bw_metrics.h"

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bw_kind.h"
#include "bw_url.h"
#include "bw_util.h"

/* A label value as the exposition format wants it: backslash, double quote and newline escaped. */
static void label(struct bw_buf *b, const char *v) {
  for (; *v; v++) {
    if (*v == '\\')
      bw_buf_add(b, "\\\\", 2);
    else if (*v == '"')
      bw_buf_add(b, "\\\"", 2);
    else if (*v == '\n')
      bw_buf_add(b, "\\n", 2);
    else
      bw_buf_add(b, v, 1);
  }
}

static void labels(struct bw_buf *b, const struct bw_metrics_target *t, const char *extra_key,
                   const char *extra_value) {
  bw_buf_printf(b, "{test=\"");
  label(b, t->test);
  bw_buf_printf(b, "\",backend=\"");
  label(b, t->backend);
  bw_buf_printf(b, "\"");
  if (extra_key) {
    bw_buf_printf(b, ",%s=\"", extra_key);
    label(b, extra_value);
    bw_buf_printf(b, "\"");
  }
  bw_buf_printf(b, "}");
}

static void header(struct bw_buf *b, const char *name, const char *type, const char *help) {
  bw_buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* Whether a kind's baseline (of its headline figure) is a rate, else a time. */
static bool baseline_is_rate(enum bw_kind kind) {
  switch (kind) {
  case BW_KIND_PAGE:
  case BW_KIND_CONNECT:
    return false;
  case BW_KIND_DOWNLOAD:
    return true;
  }
  return false;
}

/* One gauge per target from a figure of its last run (BW_NONE: left out), scaled to the unit. */
static void figure(struct bw_buf *b, const struct bw_metrics_target *ts, size_t n,
                   const char *name, const char *help, size_t offset, double scale,
                   enum bw_kind kind) {
  bool any = false;
  for (size_t i = 0; i < n; i++) {
    const struct bw_metrics_target *t = &ts[i];
    if (!t->last || t->kind != kind)
      continue;
    int64_t v = *(const int64_t *)(const void *)((const char *)t->last + offset);
    if (v == BW_NONE)
      continue;
    if (!any)
      header(b, name, "gauge", help);
    any = true;
    bw_buf_printf(b, "%s", name);
    labels(b, t, NULL, NULL);
    bw_buf_printf(b, " %.9g\n", (double)v * scale);
  }
}

#define KINDS_ALL ((1u << BW_KIND_COUNT) - 1)

/*
 * One gauge per target from the latest run's figure called fig (in bw_run_figures), for targets
 * whose kind is in the kinds mask, scaled to the metric's unit; unmeasured ones are left out.
 */
static void run_figure(struct bw_buf *b, const struct bw_metrics_target *ts, size_t n,
                       const char *name, const char *help, const char *fig, double scale,
                       unsigned kinds) {
  const struct bw_figure *f = bw_figure_find(fig);
  bool any = false;
  for (size_t i = 0; f && i < n; i++) {
    double v;
    if (!ts[i].last || !(kinds & (1u << ts[i].kind)) || !bw_figure_get(f, ts[i].last, &v))
      continue;
    if (!any)
      header(b, name, "gauge", help);
    any = true;
    bw_buf_printf(b, "%s", name);
    labels(b, &ts[i], NULL, NULL);
    bw_buf_printf(b, " %.9g\n", v * scale);
  }
}

/* benchwatch_target_info: 1 per target, carrying what it loads (the URL, password redacted). */
static void target_info(struct bw_buf *b, const struct bw_metrics_target *ts, size_t n) {
  header(b, "benchwatch_target_info", "gauge",
         "Always 1; the target's kind and URL (password redacted) as labels.");
  for (size_t i = 0; i < n; i++) {
    char *url = ts[i].url ? bw_url_redact(ts[i].url) : NULL;
    bw_buf_printf(b, "benchwatch_target_info{test=\"");
    label(b, ts[i].test);
    bw_buf_printf(b, "\",backend=\"");
    label(b, ts[i].backend);
    bw_buf_printf(b, "\",kind=\"%s\",url=\"", bw_kind_name(ts[i].kind));
    label(b, url ? url : "");
    bw_buf_printf(b, "\"} 1\n");
    free(url);
  }
}

/* A point in time, in whole seconds: %.9g would round a Unix time to tens of seconds. */
static void cert_expiry(struct bw_buf *b, const struct bw_metrics_target *ts, size_t n) {
  bool any = false;
  for (size_t i = 0; i < n; i++) {
    if (!ts[i].last || ts[i].last->cert_expires_us == BW_NONE)
      continue;
    if (!any)
      header(b, "benchwatch_cert_expiry_timestamp_seconds", "gauge",
             "When the server's TLS certificate (the leaf) expires, as the latest run read it, "
             "Unix time.");
    any = true;
    bw_buf_printf(b, "benchwatch_cert_expiry_timestamp_seconds");
    labels(b, &ts[i], NULL, NULL);
    bw_buf_printf(b, " %" PRId64 "\n", ts[i].last->cert_expires_us / 1000000);
  }
}

char *bw_metrics_render(const struct bw_metrics_target *ts, size_t n,
                        const struct bw_metrics_daemon *d) {
  static const char *const outcomes[] = {"ok", "failed", "partial", "aborted"};
  struct bw_buf b = {0};

  header(&b, "benchwatch_runs_total", "counter", "Finished runs of a target, by outcome.");
  for (size_t i = 0; i < n; i++)
    for (size_t o = 0; o < 4; o++) {
      bw_buf_printf(&b, "benchwatch_runs_total");
      labels(&b, &ts[i], "outcome", outcomes[o]);
      bw_buf_printf(&b, " %" PRIu64 "\n", ts[i].runs[o]);
    }
  header(&b, "benchwatch_last_run_timestamp_seconds", "gauge",
         "Start of the target's latest finished run, Unix time.");
  for (size_t i = 0; i < n; i++) {
    if (!ts[i].last)
      continue;
    bw_buf_printf(&b, "benchwatch_last_run_timestamp_seconds");
    labels(&b, &ts[i], NULL, NULL);
    bw_buf_printf(&b, " %.3f\n", (double)ts[i].last->started_us / 1e6);
  }
  header(&b, "benchwatch_last_run_success", "gauge",
         "1 when the target's latest run was ok or partial, 0 when it failed.");
  for (size_t i = 0; i < n; i++) {
    if (!ts[i].last)
      continue;
    bw_buf_printf(&b, "benchwatch_last_run_success");
    labels(&b, &ts[i], NULL, NULL);
    bw_buf_printf(&b, " %d\n", ts[i].last->outcome == BW_OUTCOME_OK ||
                                   ts[i].last->outcome == BW_OUTCOME_PARTIAL);
  }

  figure(&b, ts, n, "benchwatch_page_median_seconds", "Median request time of the latest run.",
         offsetof(struct bw_run, p50_us), 1e-6, BW_KIND_PAGE);
  figure(&b, ts, n, "benchwatch_page_p90_seconds", "90th percentile request time, latest run.",
         offsetof(struct bw_run, p90_us), 1e-6, BW_KIND_PAGE);
  figure(&b, ts, n, "benchwatch_page_p99_seconds", "99th percentile request time, latest run.",
         offsetof(struct bw_run, p99_us), 1e-6, BW_KIND_PAGE);
  figure(&b, ts, n, "benchwatch_page_failed_requests", "Failed requests in the latest run.",
         offsetof(struct bw_run, failed), 1, BW_KIND_PAGE);
  figure(&b, ts, n, "benchwatch_download_bytes_per_second", "Body rate of the latest download.",
         offsetof(struct bw_run, rate_bps), 1, BW_KIND_DOWNLOAD);
  figure(&b, ts, n, "benchwatch_download_ttfb_seconds", "Time to first byte, latest download.",
         offsetof(struct bw_run, ttfb_us), 1e-6, BW_KIND_DOWNLOAD);
  figure(&b, ts, n, "benchwatch_download_stall_seconds", "Time under the stall rate (silences included) in the latest download.",
         offsetof(struct bw_run, stall_us), 1e-6, BW_KIND_DOWNLOAD);
  figure(&b, ts, n, "benchwatch_download_bytes", "Body bytes of the latest download.",
         offsetof(struct bw_run, bytes), 1, BW_KIND_DOWNLOAD);
  /* The receiver's facts only: the client's own retransmits and path MTU cache said nothing
   * about a download's path and are no longer exported (README "TCP facts"). */
  figure(&b, ts, n, "benchwatch_download_headers_seconds",
         "Time to the response headers, latest download.", offsetof(struct bw_run, headers_us),
         1e-6, BW_KIND_DOWNLOAD);
  figure(&b, ts, n, "benchwatch_tcp_rtt_seconds",
         "RTT at connect of the latest download (timed from the client's own sends).",
         offsetof(struct bw_run, tcp_rtt_us), 1e-6, BW_KIND_DOWNLOAD);
  figure(&b, ts, n, "benchwatch_tcp_receive_rtt_seconds",
         "Largest receive RTT through the latest download.",
         offsetof(struct bw_run, tcp_rcv_rtt_max_us), 1e-6, BW_KIND_DOWNLOAD);
  figure(&b, ts, n, "benchwatch_tcp_receive_mss_bytes",
         "Receive MSS (the server's segment size as seen) of the latest download.",
         offsetof(struct bw_run, tcp_rcv_mss), 1, BW_KIND_DOWNLOAD);
  figure(&b, ts, n, "benchwatch_tcp_out_of_order_packets",
         "Packets that arrived out of order in the latest download.",
         offsetof(struct bw_run, tcp_rcv_ooopack), 1, BW_KIND_DOWNLOAD);
  figure(&b, ts, n, "benchwatch_tcp_zero_window_readings",
         "TCP_INFO readings of the latest download at which the client advertised a zero window.",
         offsetof(struct bw_run, tcp_zero_window), 1, BW_KIND_DOWNLOAD);

  for (int k = 0; k < 2; k++) {
    const char *name = k ? "benchwatch_baseline_bytes_per_second" : "benchwatch_baseline_seconds";
    bool any = false;
    for (size_t i = 0; i < n; i++) {
      if (baseline_is_rate(ts[i].kind) != (k == 1) || isnan(ts[i].baseline))
        continue;
      if (!any)
        header(&b, name, "gauge",
               k ? "Baseline (rolling mode) of the target's download rate."
                 : "Baseline (rolling mode) of the target's median request time (a connect "
                   "test's: median connect time).");
      any = true;
      bw_buf_printf(&b, "%s", name);
      labels(&b, &ts[i], NULL, NULL);
      bw_buf_printf(&b, " %.9g\n", k ? ts[i].baseline : ts[i].baseline / 1e6);
    }
  }
  header(&b, "benchwatch_regression_open", "gauge",
         "1 while a regression of the target is open, by kind (performance, availability).");
  for (size_t i = 0; i < n; i++) {
    bw_buf_printf(&b, "benchwatch_regression_open");
    labels(&b, &ts[i], "kind", "performance");
    bw_buf_printf(&b, " %d\n", ts[i].regression_open);
    bw_buf_printf(&b, "benchwatch_regression_open");
    labels(&b, &ts[i], "kind", "availability");
    bw_buf_printf(&b, " %d\n", ts[i].availability_open);
  }

  header(&b, "benchwatch_figure_regression_open", "gauge",
         "1 while a regression of this judged figure of the target is open.");
  for (size_t i = 0; i < n; i++)
    for (size_t f = 0; f < ts[i].n_figures; f++) {
      bw_buf_printf(&b, "benchwatch_figure_regression_open");
      labels(&b, &ts[i], "figure", ts[i].figures[f].name);
      bw_buf_printf(&b, " %d\n", ts[i].figures[f].open);
    }
  header(&b, "benchwatch_figure_ratio", "gauge",
         "The latest run's figure over the judge's reference (frozen while a regression is open).");
  for (size_t i = 0; i < n; i++)
    for (size_t f = 0; f < ts[i].n_figures; f++) {
      if (isnan(ts[i].figures[f].ratio))
        continue;
      bw_buf_printf(&b, "benchwatch_figure_ratio");
      labels(&b, &ts[i], "figure", ts[i].figures[f].name);
      bw_buf_printf(&b, " %.6g\n", ts[i].figures[f].ratio);
    }

  header(&b, "benchwatch_targets", "gauge", "Targets scheduled.");
  bw_buf_printf(&b, "benchwatch_targets %zu\n", n);
  header(&b, "benchwatch_runs_queued", "gauge", "Runs waiting for a slot.");
  bw_buf_printf(&b, "benchwatch_runs_queued %zu\n", d->queued);
  header(&b, "benchwatch_runs_running", "gauge", "Runs in flight.");
  bw_buf_printf(&b, "benchwatch_runs_running %zu\n", d->running);
  header(&b, "benchwatch_skipped_runs_total", "counter",
         "Turns skipped because the target's previous run was not done.");
  bw_buf_printf(&b, "benchwatch_skipped_runs_total %" PRIu64 "\n", d->skips);
  header(&b, "benchwatch_store_errors_total", "counter", "Runs that could not be stored.");
  bw_buf_printf(&b, "benchwatch_store_errors_total %" PRIu64 "\n", d->store_errors);
  header(&b, "benchwatch_scheduler_lag_seconds", "gauge",
         "How late the latest run started after its due time.");
  bw_buf_printf(&b, "benchwatch_scheduler_lag_seconds %.6f\n", d->scheduler_lag_s);
  header(&b, "benchwatch_daemon_last_run_timestamp_seconds", "gauge",
         "When the daemon last finished a run, Unix time (0: none yet).");
  bw_buf_printf(&b, "benchwatch_daemon_last_run_timestamp_seconds %.3f\n",
                (double)d->last_run_us / 1e6);
  header(&b, "benchwatch_daemon_start_timestamp_seconds", "gauge",
         "When the daemon started, Unix time.");
  bw_buf_printf(&b, "benchwatch_daemon_start_timestamp_seconds %.3f\n",
                (double)d->started_us / 1e6);
  header(&b, "benchwatch_spool_runs", "gauge",
         "Runs waiting in the spool because the database did not take them.");
  bw_buf_printf(&b, "benchwatch_spool_runs %zu\n", d->spool_runs);
  header(&b, "benchwatch_spool_lost_runs_total", "counter",
         "Runs lost: dropped from a full spool, or neither stored nor spooled.");
  bw_buf_printf(&b, "benchwatch_spool_lost_runs_total %" PRIu64 "\n", d->spool_lost);

  /* Named after blackbox_exporter's where the meaning is the same (build_info, an info metric
   * for what is probed, probe_http_status_code, probe_duration_seconds). */
  header(&b, "benchwatch_build_info", "gauge", "Always 1; the version of benchwatch as a label.");
  bw_buf_printf(&b, "benchwatch_build_info{version=\"");
  label(&b, BW_VERSION_STRING);
  bw_buf_printf(&b, "\"} 1\n");
  target_info(&b, ts, n);
  run_figure(&b, ts, n, "benchwatch_http_status_code", "Last HTTP status of the latest run.",
             "status", 1, KINDS_ALL);
  run_figure(&b, ts, n, "benchwatch_last_run_duration_seconds", "Wall time of the latest run.",
             "duration_us", 1e-6, KINDS_ALL);
  run_figure(&b, ts, n, "benchwatch_page_connect_median_seconds",
             "Median connect time of the latest run's requests.", "connect_p50_us", 1e-6,
             1u << BW_KIND_PAGE);
  run_figure(&b, ts, n, "benchwatch_page_ttfb_median_seconds",
             "Median time to first byte of the latest run's requests.", "ttfb_p50_us", 1e-6,
             1u << BW_KIND_PAGE);
  run_figure(&b, ts, n, "benchwatch_page_requests_per_second", "Request rate of the latest run.",
             "rps", 1, 1u << BW_KIND_PAGE);
  run_figure(&b, ts, n, "benchwatch_page_transfer_bytes_per_second",
             "Bytes received over the latest run's wall time (ab's transfer rate).", "transfer_bps",
             1, 1u << BW_KIND_PAGE);
  run_figure(&b, ts, n, "benchwatch_connect_median_seconds",
             "Median TCP connect time of the latest connect run.", "connect_p50_us", 1e-6,
             1u << BW_KIND_CONNECT);
  run_figure(&b, ts, n, "benchwatch_connect_p90_seconds",
             "90th percentile TCP connect time of the latest connect run.", "p90_us", 1e-6,
             1u << BW_KIND_CONNECT);
  run_figure(&b, ts, n, "benchwatch_connect_tls_median_seconds",
             "Median TLS handshake time of the latest connect run (https only).", "tls_p50_us",
             1e-6, 1u << BW_KIND_CONNECT);
  run_figure(&b, ts, n, "benchwatch_connect_failed_connections",
             "Failed connections in the latest connect run.", "failed", 1, 1u << BW_KIND_CONNECT);
  run_figure(&b, ts, n, "benchwatch_download_streams",
             "Transfers the latest download ran at once; its bytes_per_second is their aggregate.",
             "streams", 1, 1u << BW_KIND_DOWNLOAD);
  /* As blackbox_exporter's probe_ssl_earliest_cert_expiry: alert on it minus time(). */
  cert_expiry(&b, ts, n);
  run_figure(&b, ts, n, "benchwatch_page_failed_checks",
             "Responses of the latest run that failed the test's expect check.", "failed_check", 1,
             1u << BW_KIND_PAGE);
  run_figure(&b, ts, n, "benchwatch_download_stream_min_bytes_per_second",
             "Rate of the slowest stream of the latest download with streams.", "stream_min_bps", 1,
             1u << BW_KIND_DOWNLOAD);
  return bw_buf_take(&b);
}

char *bw_metrics_render_reports(const struct bw_metrics_reports *r) {
  struct bw_buf b = {0};
  header(&b, "benchwatch_reports_undelivered", "gauge",
         "Nightly reports composed but not yet accepted by the mail server.");
  bw_buf_printf(&b, "benchwatch_reports_undelivered %zu\n", r->undelivered);
  header(&b, "benchwatch_report_last_delivered_timestamp_seconds", "gauge",
         "When the mail server last accepted a report, Unix time (0: none since start).");
  bw_buf_printf(&b, "benchwatch_report_last_delivered_timestamp_seconds %.3f\n",
                (double)r->last_delivered_us / 1e6);
  return bw_buf_take(&b);
}
