#ifndef BW_STATUS_H
#define BW_STATUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bw_config.h"
#include "bw_detect.h"
#include "bw_result.h"
#include "bw_store.h"

/*
 * The status page: every target with its state, its latest figures and a chart of its history
 * against the judge's baseline (bw_judge_state(): nobody else computes one), the open
 * regressions, one target in full, and one regression with the runs around it and its diagnosis.
 * The bw_status_collect*() functions read it from the store; the bw_status_html*() renderers are
 * pure: a struct in, one self-contained HTML page out (inline CSS and SVG; no script, nothing
 * fetched; readable from 640 px up).
 */

enum bw_status_state {
  BW_STATUS_NEW,       /* no run yet */
  BW_STATUS_NORMAL,    /* nothing open, the latest run worked */
  BW_STATUS_REGRESSED, /* a regression of the judged figure is open */
  BW_STATUS_FAILING,   /* the latest run failed, or availability's regression is open */
};

/* "new", "normal", "regressed", "failing". */
const char *bw_status_state_name(enum bw_status_state s);

struct bw_status_target {
  int64_t id; /* the target table's id */
  char *test;
  char *backend; /* "" without backends */
  char *url;
  enum bw_kind kind;
  const struct bw_metric *metric; /* the headline figure the judge judges */
  enum bw_status_state state;
  int64_t since_us;      /* when the state began; BW_NONE for new and normal */
  int64_t regression_id; /* the open regression behind the state, else 0 */
  struct bw_run *latest; /* the latest run (samples left out), NULL when none */
  /* The judge's view now: its baseline (mode NAN until there is history), the reference it
   * judges against (the frozen baseline while a regression is open), and the normal band from
   * the reference to where a run is bad (bw_detect_threshold()). */
  struct bw_baseline baseline;
  double reference;
  double band_lo, band_hi;
  /* The chart's period [from_us, until_us): the runs (failed ones NAN), and the regressions of
   * the target open at some time in it, oldest first. */
  int64_t from_us, until_us;
  struct bw_point *history;
  size_t n_history;
  struct bw_regression *spans;
  size_t n_spans;
};

struct bw_status {
  char *host;
  int64_t now_us;
  struct bw_status_target *targets; /* ordered by test and backend */
  size_t n_targets;
  struct bw_regression *open; /* the open regressions, newest first */
  size_t n_open;
};

/* One regression in full. */
struct bw_status_regression {
  char *host;
  int64_t now_us;
  struct bw_regression reg;
  struct bw_status_target target; /* its chart covers the regression and the runs around it */
  /* The runs around its opening: up to BW_STATUS_AROUND before, the opening run, and up to
   * BW_STATUS_AROUND after, oldest first (failed runs NAN). */
  struct bw_point *around;
  size_t n_around;
  /* The opening run's diagnosis (bw_diagnose(), the latest runs of the test's other backends as
   * peers) and the odd-one-out sentence naming this backend (bw_diagnose_odd()); NULL-terminated
   * arrays, empty when there is nothing to say. */
  char **diagnosis;
  char **odd;
};

#define BW_STATUS_AROUND 12
/* The charts' periods: the index's, and a target's own page's. */
#define BW_STATUS_PERIOD_US (7 * 86400 * INT64_C(1000000))
#define BW_STATUS_TARGET_PERIOD_US (30 * 86400 * INT64_C(1000000))

/*
 * Reads every target's status as of now_us, its chart over [now_us - period_us, now_us), with cfg's
 * detect settings (NULL: defaults; a target whose test left the config gets the global ones).
 */
int bw_status_collect(struct bw_store *store, const struct bw_config *cfg, const char *host,
                      int64_t now_us, int64_t period_us, struct bw_status *ret,
                      struct bw_errs *errs);
void bw_status_free(struct bw_status *s);

/* One target (by its id) the same way into *ret; -ENOENT when there is none. */
int bw_status_collect_target(struct bw_store *store, const struct bw_config *cfg, int64_t id,
                             int64_t now_us, int64_t period_us, struct bw_status_target *ret,
                             struct bw_errs *errs);
void bw_status_target_reset(struct bw_status_target *t);

/* Regression id as of now_us into *ret; -ENOENT when there is none. */
int bw_status_collect_regression(struct bw_store *store, const struct bw_config *cfg,
                                 const char *host, int64_t id, int64_t now_us,
                                 struct bw_status_regression *ret, struct bw_errs *errs);
void bw_status_regression_reset(struct bw_status_regression *r);

/* Which page a request path asks for. */
enum bw_status_page {
  BW_STATUS_PAGE_NONE,       /* not a status page */
  BW_STATUS_PAGE_INDEX,      /* "/" */
  BW_STATUS_PAGE_TARGET,     /* "/target/ID" */
  BW_STATUS_PAGE_REGRESSION, /* "/regression/ID" */
};

/* The page path names, and for a target or regression its id (a positive decimal) in *ret_id. */
enum bw_status_page bw_status_route(const char *path, int64_t *ret_id);

/*
 * The page path names (bw_status_route()), read from store as of now_us and rendered: returns the
 * HTTP status with the page in *ret_html (allocated): 200; 404 when path names no page, or a
 * target or regression that is not there; 500 on a database error, with the store's words in
 * errs (the page says only that the database could not be read).
 */
int bw_status_page(struct bw_store *store, const struct bw_config *cfg, const char *host,
                   const char *path, int64_t now_us, char **ret_html, struct bw_errs *errs);

/* The pages, allocated. */
char *bw_status_html(const struct bw_status *s);
char *bw_status_html_target(const char *host, int64_t now_us, const struct bw_status_target *t);
char *bw_status_html_regression(const struct bw_status_regression *r);
/* A page saying status and why (404 "no target 7", 500 ...), with a link back to the index. */
char *bw_status_html_error(int status, const char *why);

#endif
