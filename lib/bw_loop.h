#ifndef BW_LOOP_H
#define BW_LOOP_H

#include <stdint.h>

#include "bw_util.h"

/*
 * The event loop every transfer, timer, signal and server of a process runs on: one libevent base
 * (with libcurl's multi handle wired to it, see bw_transfer.h), and the clocks measurements read.
 * No threads of ours, no blocking calls. Times are µs.
 */

struct bw_loop;

/* A monotonic clock in µs. */
int64_t bw_now_us(void);
/* The wall clock in µs since the Unix epoch. */
int64_t bw_wall_us(void);

/*
 * Creates the loop with its own event base and curl multi handle. Calls curl_global_init once
 * per process. NULL on failure, with a message in errs.
 */
struct bw_loop *bw_loop_new(struct bw_errs *errs);
/* Frees the loop; every bw_xfer on it must have been freed first. NULL-safe. */
void bw_loop_free(struct bw_loop *loop);
/* Runs until no transfer is in flight and nothing else is scheduled, or bw_loop_break(). */
int bw_loop_run(struct bw_loop *loop);
void bw_loop_break(struct bw_loop *loop);

/*
 * Timers and signals on the same loop, for the scheduler and the daemon: the loop stays the one
 * place that owns the event base. Callbacks run from inside bw_loop_run().
 */
struct bw_timer;
typedef void (*bw_loop_fn)(void *arg);
struct bw_timer *bw_timer_new(struct bw_loop *loop, bw_loop_fn fn, void *arg);
/* (Re)arms the timer to fire once, delay_us from now (0 or less: at the next loop turn). */
void bw_timer_arm(struct bw_timer *t, int64_t delay_us);
void bw_timer_stop(struct bw_timer *t);
void bw_timer_free(struct bw_timer *t); /* NULL-safe */

/* Calls fn from the loop whenever signal signo arrives (libevent's self-pipe: async-safe). */
struct bw_signal;
struct bw_signal *bw_signal_new(struct bw_loop *loop, int signo, bw_loop_fn fn, void *arg);
void bw_signal_free(struct bw_signal *s); /* NULL-safe */

/*
 * A wake-up another thread can send: after bw_wake_fire(), fn runs once from the loop (several
 * fires before it runs give one call, so fn must take everything that is waiting). bw_wake_fire()
 * is safe from any thread and from a signal handler; new and free belong to the loop's thread.
 */
struct bw_wake;
struct bw_wake *bw_wake_new(struct bw_loop *loop, bw_loop_fn fn, void *arg);
void bw_wake_fire(struct bw_wake *w);
void bw_wake_free(struct bw_wake *w); /* NULL-safe */

#endif
