#ifndef BW_RUNNER_H
#define BW_RUNNER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bw_config.h"
#include "bw_judge.h"
#include "bw_loop.h"

/*
 * The scheduler and run queue on the transfer loop. One target per test, or per test and backend;
 * each waits for its next fire time (bw_schedule), then joins a FIFO queue from which at most
 * max_parallel runs go at once, never two against the same server (one would measure the other);
 * a target whose server is busy keeps its place. A target whose last run is still queued or
 * running skips its turn, logged and counted. Every finished run, failed, capped or aborted
 * alike, goes to the caller's callback: the runner schedules, the caller stores.
 */
struct bw_runner;

struct bw_runner_stats {
  size_t targets;
  size_t running;
  size_t queued;
  uint64_t runs;      /* finished runs */
  uint64_t failures;  /* of which failed */
  uint64_t skips;     /* turns skipped because the previous run was not done */
  uint64_t store_errors; /* as told by bw_runner_set_storage() */
  size_t spooled;
  uint64_t lost;
  int64_t last_run_us; /* wall clock of the last finished run, or 0 */
  char last[200];      /* its log line */
};

/*
 * Called on the loop for every finished run, with its contents to take (bw_run_move): the run,
 * samples and all, belongs to the callee from then on.
 */
typedef void (*bw_runner_run_fn)(void *arg, struct bw_run *run);

/* What the runner has to say, for the caller to log: a skipped turn, a run that could not start,
 * the targets after bw_runner_apply(). */
enum bw_runner_note_level { BW_RUNNER_INFO, BW_RUNNER_WARNING, BW_RUNNER_ERROR };
typedef void (*bw_runner_note_fn)(void *arg, enum bw_runner_note_level level, const char *text);

struct bw_runner *bw_runner_new(struct bw_loop *loop, bw_runner_run_fn done,
                                bw_runner_note_fn note, void *arg);
/*
 * Makes the targets those of cfg: new ones are scheduled, removed ones stop (a run in flight still
 * finishes and is stored), changed ones take their new settings and times, unchanged ones keep
 * their times. Used at start and on every reload.
 */
void bw_runner_apply(struct bw_runner *r, const struct bw_config *cfg);
/*
 * Tells the targets which regressions are open (from bw_store_regressions(open_only)), so that
 * /metrics shows them from the start, before their next run is judged. The list is read off the
 * loop: since is bw_runner_judged() from when it was asked for, and a target judged after that
 * keeps what its judgement said (it is newer than the list, or as new).
 */
uint64_t bw_runner_judged(const struct bw_runner *r);
void bw_runner_seed(struct bw_runner *r, const struct bw_regression *open, size_t n,
                    uint64_t since);
/*
 * What storage made of a run, for /metrics: the run (its contents are taken, samples freed) becomes
 * its target's latest unless a newer one is shown already, and the judgement (may be NULL) gives
 * the target's baseline and open regressions. A target no longer configured ignores it.
 */
void bw_runner_keep(struct bw_runner *r, struct bw_run *run, const struct bw_judgement *j);
/*
 * The latest runs of run's test on its other backends (those kept by bw_runner_keep()), for the
 * diagnosis to read run against: *ret gets an array to free(), of pointers that hold until the
 * runner next keeps a run or applies a config. Returns how many.
 */
size_t bw_runner_peers(struct bw_runner *r, const struct bw_run *run,
                       const struct bw_run ***ret);
/* Storage's figures for /metrics: failed attempts, runs in the spool, runs lost. */
void bw_runner_set_storage(struct bw_runner *r, uint64_t store_errors, size_t spooled,
                           uint64_t lost);
/* Queues every target once, now, instead of at its times; done(arg) when all have finished. */
void bw_runner_once(struct bw_runner *r, void (*done)(void *arg), void *arg);
/* Stops scheduling and aborts the runs in flight: each goes to the callback, aborted, before it
 * returns. */
void bw_runner_stop(struct bw_runner *r);
void bw_runner_stats(const struct bw_runner *r, struct bw_runner_stats *ret);
/* The Prometheus exposition of the targets' latest runs and the scheduler (free() it). */
char *bw_runner_metrics(const struct bw_runner *r);
/* Stops and frees. NULL-safe. */
void bw_runner_free(struct bw_runner *r);

#endif
