#ifndef BW_METRICS_H
#define BW_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bw_result.h"

/*
 * The Prometheus text exposition (format 0.0.4) of what the daemon knows. Pure: a snapshot in, a
 * malloc'ed page out. Units follow Prometheus conventions: seconds, bytes, _total counters.
 */
/* What the judge said last about one judged figure of a target. */
struct bw_metrics_figure {
  const char *name;   /* the figure (p50_us, rate_bps, ...) */
  bool open;          /* a regression of it is open */
  double ratio;       /* the latest run against the reference; NAN when not judged */
};

struct bw_metrics_target {
  const char *test;
  const char *backend; /* "" for none */
  enum bw_kind kind;
  uint64_t runs[4];    /* finished runs by outcome (ok, failed, partial, aborted) */
  const struct bw_run *last; /* the latest finished run, or NULL */
  double baseline;     /* in the metric's own unit (µs or bytes/s); NAN before one exists */
  bool regression_open; /* of any judged figure */
  bool availability_open;
  const struct bw_metrics_figure *figures; /* the judged figures, n_figures of them */
  size_t n_figures;
  const char *url; /* as configured (it may hold a password): shown redacted; NULL: left out */
};

struct bw_metrics_daemon {
  int64_t started_us;      /* wall clock */
  int64_t last_run_us;     /* wall clock of the latest finished run, 0 if none */
  double scheduler_lag_s;  /* how late the latest run started after its due time */
  uint64_t skips;
  uint64_t store_errors;
  size_t queued;
  size_t running;
  size_t spool_runs;   /* runs waiting in the spool for the database */
  uint64_t spool_lost; /* runs dropped from a full spool (or never spooled) since the start */
};

/*
 * Renders the page: every target's families, then the daemon's, then benchwatch_build_info, the
 * targets' info (redacted URL, kind) and the latest run's status code, duration, median connect
 * and first-byte times and request rate. Never fails (allocation failure is fatal); the caller
 * frees the result.
 */
char *bw_metrics_render(const struct bw_metrics_target *targets, size_t n,
                        const struct bw_metrics_daemon *daemon);

/* What the daemon knows about delivering the nightly report. */
struct bw_metrics_reports {
  size_t undelivered;        /* composed and kept, not accepted by the mail server yet */
  int64_t last_delivered_us; /* wall clock of the latest delivery since start; 0 if none */
};

/*
 * The report delivery families (benchwatch_reports_undelivered,
 * benchwatch_report_last_delivered_timestamp_seconds), to append to bw_metrics_render()'s page.
 * The caller frees the result.
 */
char *bw_metrics_render_reports(const struct bw_metrics_reports *reports);

#endif
