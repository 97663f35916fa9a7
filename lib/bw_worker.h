#ifndef BW_WORKER_H
#define BW_WORKER_H

#include <stdbool.h>

#include "bw_store.h"
#include "bw_loop.h"
#include "bw_util.h"

/*
 * Database work off the loop: a thread with a database connection of its own runs jobs one at a
 * time, in the order they were handed over, and each job's done() then runs on the loop's thread
 * (through a bw_wake). The loop never waits on the disk: a lock held by another process makes a
 * job wait (up to the store's busy timeout), not the measurements.
 *
 * Jobs must not touch the loop or anything the loop owns: work() gets the store and its own
 * argument, and hands its results to done() through that argument.
 */
struct bw_worker;

typedef void (*bw_worker_fn)(struct bw_store *store, void *arg);
/* ran is false when the worker was freed before the job's results could be delivered (or before
 * it ran): done() must then only release arg, and not hand the worker more jobs. */
typedef void (*bw_worker_done_fn)(void *arg, bool ran);

/* Starts the thread, which takes store (its only user from now on; closed when the worker is
 * freed). NULL with a message in errs when it cannot start (store is then closed). */
struct bw_worker *bw_worker_new(struct bw_loop *loop, struct bw_store *store, struct bw_errs *errs);

/* Queues work(store, arg) on the thread, then done(arg, true) on the loop. Never blocks on the
 * database. Loop's thread only. */
void bw_worker_call(struct bw_worker *w, bw_worker_fn work, bw_worker_done_fn done, void *arg);

/* Jobs handed over and not yet delivered. */
size_t bw_worker_pending(struct bw_worker *w);

/*
 * Stops the thread and frees the worker: a job that is waiting for a lock gives up at once, the
 * running one ends, and every job not delivered gets done(arg, false). NULL-safe.
 */
void bw_worker_free(struct bw_worker *w);

#endif
