#ifndef BW_REPORT_H
#define BW_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bw_chart.h"
#include "bw_config.h"
#include "bw_detect.h"
#include "bw_store.h"
#include "bw_sweep.h"

/*
 * The nightly report: per target, the period against its baseline; the regressions that opened,
 * are still open, or closed; the failures by class; for downloads the stalls and the TCP facts
 * that differ from the usual. bw_report_collect() reads it from the store; the renderers are
 * pure: the same content as plain text (any mail client, a terminal) and as HTML for a window
 * 640 px wide (inline CSS, no scripts), with each target's history as a PNG chart (bw_chart).
 */

/* The charts' size in pixels: they fit a 640 px mail window beside its margins. */
#define BW_REPORT_CHART_WIDTH 600
#define BW_REPORT_CHART_HEIGHT 180
/* How much history a chart shows at least, ending with the period. */
#define BW_REPORT_CHART_SPAN_US (7 * 86400 * INT64_C(1000000))
/* A TLS target whose server certificate expires within this of the period's end is warned. */
#define BW_REPORT_CERT_WARN_US (14 * 86400 * INT64_C(1000000))
/* Week-over-week: the period against the same period this long before. */
#define BW_REPORT_WEEK_US (7 * 86400 * INT64_C(1000000))

struct bw_nightly_target {
  int64_t target_id; /* the store's target id (the status page's /target/ID) */
  char *test;
  char *backend;
  const struct bw_metric *metric;
  size_t runs;
  size_t failures;
  double median;      /* the period's median of the metric, NAN without good runs */
  double p90, p99;    /* pages: the period's median of the runs' p90 and p99; NAN otherwise */
  double week_before; /* the median of the same period a week earlier, NAN without runs */
  double threshold;   /* the normal band's edge against baseline (bw_detect_threshold) */
  double baseline;    /* the mode of the window ending with the period, NAN without history */
  double ratio;
  bool open;             /* a regression of this target is open now */
  double latest;         /* the latest good run's figure in the period, NAN without one */
  double latest_ratio;   /* ... over the judge's reference */
  int64_t open_since_us; /* when the open regression (figure first, else availability) opened */
  const char *open_what; /* its figure's label, or "availability"; NULL when none is open */
  bool last_failed;
  double *values; /* the period's good values, oldest first, for the text sparkline */
  size_t n_values;
  struct bw_point *history; /* runs of the chart's span, oldest first, NAN for failed ones */
  size_t n_history;
  struct bw_chart_span *spans; /* this target's regressions within the chart's span */
  size_t n_spans;
  struct bw_error_count *errors;
  size_t n_errors;
  /* Downloads: the period's stall time, and the receiver's TCP facts now against the window's
   * usual (segment size as received, out-of-order packets, the largest receive RTT). */
  double stall_s;
  double mss, mss_usual;
  double ooo, ooo_usual;
  double rtt_ms, rtt_ms_usual;
  /* The latest run's rates against the window's usual (NAN when not measured): a page test's
   * request rate and transfer rate (bytes/s); a download with streams, how many and the slowest
   * one's rate (bytes/s). */
  double rps, rps_usual;
  double transfer_bps, transfer_usual;
  double streams, stream_min_bps, stream_min_usual;
  /* Downloads: the latest run's diagnosis (bw_diagnose(), the test's other backends as peers),
   * and this backend's odd-one-out sentence (bw_diagnose_odd()); NULL when there is nothing. */
  char *diagnosis;
  char *odd;
  /* What changed in this host's network environment (bw_env_diff()) within the detection window
   * before the open regression began, and when (env_change_us); NULL when nothing did. */
  char *env_change;
  int64_t env_change_us;
  /* https: the server certificate's notAfter (µs since the epoch) as the period's latest good run
   * read it; NAN when none did. */
  double cert_expires_us;
};

struct bw_nightly {
  char *host;
  char *url; /* the status page's base URL (report.url) without a trailing "/"; NULL: no links */
  int64_t from_us;
  int64_t until_us;
  int64_t chart_from_us; /* the charts' time axis: [chart_from_us, until_us) */
  struct bw_nightly_target *targets;
  size_t n_targets;
  struct bw_regression *opened; /* opened in the period */
  size_t n_opened;
  struct bw_regression *open; /* open now */
  size_t n_open;
  struct bw_regression *closed; /* closed in the period (recovered or accepted) */
  size_t n_closed;
  size_t failing;        /* targets whose latest run in the period failed */
  size_t certs_expiring; /* targets whose certificate expires within BW_REPORT_CERT_WARN_US of
                            until_us, or has expired */
  /* Sweeps (bw_sweep.h): each sweep's curve from its steps' latest runs in the period, each step
   * with its state ("normal", "regressed", "failing"). */
  struct bw_sweep_curve *sweeps;
  size_t n_sweeps;
};

/* Reads the report for [from_us, until_us) from the store with cfg's detect settings. */
int bw_report_collect(struct bw_store *store, const struct bw_config *cfg, const char *host,
                      int64_t from_us, int64_t until_us, struct bw_nightly *ret,
                      struct bw_errs *errs);
void bw_report_free(struct bw_nightly *r);

/* "[benchwatch HOST] 2 regressions, 1 recovered, 0 failing" (", 1 certificate expiring" when
 * one is) or "... all normal". */
char *bw_report_subject(const struct bw_nightly *r);
char *bw_report_text(const struct bw_nightly *r);
/*
 * The HTML. chart_src[i] is the image address of targets[i]'s chart ("cid:..." in a mail,
 * "data:image/png;base64,..." on a page of its own), NULL for none; chart_src may be NULL.
 */
char *bw_report_html(const struct bw_nightly *r, const char *const *chart_src);
/* targets[i]'s chart as a PNG of BW_REPORT_CHART_WIDTH x _HEIGHT (bw_chart_png()). */
int bw_report_chart(const struct bw_nightly *r, size_t i, unsigned char **ret, size_t *ret_len,
                    struct bw_errs *errs);
/* Nothing to say: no regression open, opened or closed, nothing failing, no certificate
 * expiring. */
bool bw_report_quiet(const struct bw_nightly *r);

#endif
