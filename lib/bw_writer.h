#ifndef BW_WRITER_H
#define BW_WRITER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bw_config.h"
#include "bw_judge.h"
#include "bw_result.h"
#include "bw_spool.h"
#include "bw_store.h"
#include "bw_loop.h"

/*
 * Storage off the loop: a thread with its own database connection stores and judges the runs
 * the loop hands it (bw_judge_record(), one transaction each), in the order they came. The loop
 * never waits on the disk. When the database does not take a run (locked past the wait, a full
 * disk, an I/O error, read-only, damaged) the run goes to the spool (bw_spool.h), and from then
 * on every new run too, so that the order holds; the thread tries the database again with
 * backoff, from 0.5 s up to 15 s apart, and writes the spool out oldest first once it can. A
 * spool left by an earlier process is written out first, each run checked against the database
 * so that one stored just before a crash is not stored twice.
 *
 * What happened to each run comes back to the loop as events (struct bw_writer_event), through
 * a wake-up on the loop (bw_wake): the handler runs on the loop's thread, never on the writer's.
 * Library code: nothing here logs; the handler decides what to say.
 */
struct bw_writer;

enum bw_writer_what {
  BW_WRITER_STORED,  /* run stored and judged (judgement); from_spool when it waited there */
  BW_WRITER_SPOOLED, /* run not stored now but kept in the spool; message says why */
  BW_WRITER_LOST,    /* run never to be stored (dropped from a full spool, ...); message: why */
  BW_WRITER_BLOCKED, /* the database stopped taking writes; message says why; no run */
  BW_WRITER_RESUMED, /* it takes writes again and the spool is written out; no run */
};

struct bw_writer_event {
  enum bw_writer_what what;
  bool from_spool;
  struct bw_run run;             /* without its samples; the handler may take it (bw_run_move) */
  struct bw_judgement judgement; /* BW_WRITER_STORED */
  char *message;                 /* NULL or one sentence */
  size_t spooled;                /* runs in the spool after this event */
};

/* Called on the loop's thread for each event, in order. */
typedef void (*bw_writer_fn)(void *arg, struct bw_writer_event *ev);

struct bw_writer_stats {
  bool blocked;        /* the database does not take writes (or the spool is being written out) */
  size_t spooled;      /* runs in the spool */
  int64_t spool_bytes; /* bytes they take in it */
  uint64_t lost;       /* runs lost since the start (BW_WRITER_LOST) */
  uint64_t failures;   /* attempts to store that failed */
  size_t queued;       /* runs handed over and not yet stored or spooled */
};

/*
 * Starts the writer thread. It takes store (a connection of its own: the thread is its only
 * user from now on) and spool, and closes both when it is freed. cfg gives each test's detect
 * settings and interval for the judge (by test name; the global detect settings for a test no
 * longer in it); it is copied. fn(arg, ev) gets the events on loop. NULL with a message in errs
 * when the thread cannot start (store and spool are then closed).
 */
struct bw_writer *bw_writer_new(struct bw_loop *loop, struct bw_store *store,
                                struct bw_spool *spool, const struct bw_config *cfg,
                                bw_writer_fn fn, void *arg, struct bw_errs *errs);

/* Takes the judge's settings from a new config (after a reload). */
void bw_writer_apply(struct bw_writer *w, const struct bw_config *cfg);

/* Hands a finished run over: its contents move to the writer (run is left empty). Never blocks
 * on the database. After bw_writer_stop() the run is refused and comes back as BW_WRITER_LOST. */
void bw_writer_submit(struct bw_writer *w, struct bw_run *run);

void bw_writer_stats(struct bw_writer *w, struct bw_writer_stats *ret);

/*
 * Stops the writer: the runs handed over are stored while grace_us lasts (a lock held by another
 * process is waited for no longer than that), the rest are spooled, and the thread ends. The
 * events not yet delivered are delivered from this call, on the caller's thread. Idempotent.
 */
void bw_writer_stop(struct bw_writer *w, int64_t grace_us);

/* Stops (with no grace) and frees, closing the store and the spool. NULL-safe. */
void bw_writer_free(struct bw_writer *w);

#endif
