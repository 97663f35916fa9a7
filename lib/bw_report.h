#ifndef BW_REPORT_H
#define BW_REPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bw_config.h"
#include "bw_detect.h"
#include "bw_store.h"

/*
 * The nightly report: per target, the period against its baseline; the regressions that opened,
 * are still open, or closed; the failures by class; for downloads the stalls and the TCP facts
 * that differ from the usual. bw_report_collect() reads it from the store; the renderers are
 * pure: the same content as plain text (any mail client, a terminal) and as one self-contained
 * HTML page (inline CSS and SVG, no scripts, nothing fetched).
 */
struct bw_nightly_target {
  char *test;
  char *backend;
  const struct bw_metric *metric;
  size_t runs;
  size_t failures;
  double median;   /* the period's median of the metric, NAN without good runs */
  double baseline; /* the mode of the window ending with the period, NAN without history */
  double ratio;
  bool open;       /* a regression of this target is open now */
  double latest;   /* the latest good run's figure in the period, NAN without one */
  double latest_ratio; /* ... over the judge's reference */
  int64_t open_since_us; /* when the open regression (figure first, else availability) opened */
  const char *open_what; /* its figure's label, or "availability"; NULL when none is open */
  bool last_failed;
  double *values;  /* the period's good values, oldest first, for the chart */
  size_t n_values;
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
};

struct bw_nightly {
  char *host;
  int64_t from_us;
  int64_t until_us;
  struct bw_nightly_target *targets;
  size_t n_targets;
  struct bw_regression *opened; /* opened in the period */
  size_t n_opened;
  struct bw_regression *open; /* open now */
  size_t n_open;
  struct bw_regression *closed; /* closed in the period (recovered or accepted) */
  size_t n_closed;
  size_t failing; /* targets whose latest run in the period failed */
};

/* Reads the report for [from_us, until_us) from the store with cfg's detect settings. */
int bw_report_collect(struct bw_store *store, const struct bw_config *cfg, const char *host,
                      int64_t from_us, int64_t until_us, struct bw_nightly *ret,
                      struct bw_errs *errs);
void bw_report_free(struct bw_nightly *r);

/* "[benchwatch HOST] 2 regressions, 1 recovered, 0 failing" or "... all normal". */
char *bw_report_subject(const struct bw_nightly *r);
char *bw_report_text(const struct bw_nightly *r);
char *bw_report_html(const struct bw_nightly *r);
/* Nothing to say: no regression open, opened or closed, and nothing failing. */
bool bw_report_quiet(const struct bw_nightly *r);

#endif
