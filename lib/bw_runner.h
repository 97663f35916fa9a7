#ifndef BW_RUNNER_H
#define BW_RUNNER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bw_config.h"
#include "bw_store.h"
#include "bw_transfer.h"

/*
 * The scheduler and run queue on the transfer loop. One target per test, or per test and backend;
 * each waits for its next fire time (bw_schedule), then joins a FIFO queue from which at most
 * max_parallel runs go at once, never two against the same server (one would measure the other);
 * a target whose server is busy keeps its place. A target whose last
 * run is still queued or running skips its turn, logged and counted. Every run, failed, capped or
 * aborted alike, is stored in one transaction and logged in one line.
 */
struct bw_runner;

struct bw_runner_stats {
  size_t targets;
  size_t running;
  size_t queued;
  uint64_t runs;      /* finished runs */
  uint64_t failures;  /* of which failed */
  uint64_t skips;     /* turns skipped because the previous run was not done */
  uint64_t store_errors;
  int64_t last_run_us; /* wall clock of the last finished run, or 0 */
  char last[200];      /* its log line */
};

struct bw_runner *bw_runner_new(struct bw_loop *loop, struct bw_store *store);
/*
 * Makes the targets those of cfg: new ones are scheduled, removed ones stop (a run in flight still
 * finishes and is stored), changed ones take their new settings and times, unchanged ones keep
 * their times. Used at start and on every reload.
 */
void bw_runner_apply(struct bw_runner *r, const struct bw_config *cfg);
/*
 * Tells the targets which regressions are open (from bw_store_regressions(open_only)), so that
 * /metrics shows them from the start, before their next run is judged.
 */
void bw_runner_seed(struct bw_runner *r, const struct bw_regression *open, size_t n);
/* Queues every target once, now, instead of at its times; done(arg) when all are stored. */
void bw_runner_once(struct bw_runner *r, void (*done)(void *arg), void *arg);
/* Stops scheduling and aborts the runs in flight, which are stored as aborted before it returns. */
void bw_runner_stop(struct bw_runner *r);
void bw_runner_stats(const struct bw_runner *r, struct bw_runner_stats *ret);
/* The Prometheus exposition of the targets' latest runs and the scheduler (free() it). */
char *bw_runner_metrics(const struct bw_runner *r);
/* Stops and frees. NULL-safe. */
void bw_runner_free(struct bw_runner *r);

#endif
