/*
 * A page test on more than one core: `threads` event loops, each on a thread of its own and each
 * running an ordinary page probe (bw_probe_page.c) with its share of the concurrency and of the
 * requests, as h2load splits its clients and requests among its workers. The samples are merged
 * into one run at the end, with ab's statistics over all of them and requests per second over the
 * whole wall time.
 *
 * The caller's loop stays the only one it knows about: the threads' loops are theirs alone from
 * the moment they start, each thread tells the caller's loop through a bw_wake when its part is
 * done, and done() runs there, as for any probe. Stopping fires every thread's own wake-up (its
 * probe is aborted on its own loop) and joins them all before the merged, aborted run is reported.
 */
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "bw_probe.h"

struct threads;

/* One thread: its loop, its part of the test, and the run it came back with. */
struct lane {
  struct threads *owner;
  struct bw_loop *loop;
  struct bw_wake *stop; /* on the lane's loop: aborts its probe */
  struct bw_probe *probe;
  struct bw_run run; /* the lane's own finished run, once got_run */
  bool got_run;      /* the lane thread's until it is joined */
  pthread_t thread;
  bool started;
};

struct threads {
  struct bw_probe base;
  struct bw_wake *wake; /* on the caller's loop: a lane finished */
  struct lane *lanes;
  size_t n_lanes;
  bool reported;
  pthread_mutex_t mu; /* guards n_finished */
  size_t n_finished;
};

/* The i-th of n shares of total, the first ones one larger where it does not divide. */
static int64_t share(int64_t total, size_t n, size_t i) {
  return total / (int64_t)n + ((int64_t)i < total % (int64_t)n ? 1 : 0);
}

/* On the lane's thread: its probe is done (or aborted); the loop may end. */
static void lane_done(void *arg, struct bw_run *run) {
  struct lane *l = arg;
  bw_run_move(&l->run, run);
  l->got_run = true;
  bw_loop_break(l->loop);
}

/* On the lane's thread: the owner asked it to stop. */
static void lane_stop(void *arg) {
  struct lane *l = arg;
  if (!l->got_run)
    bw_probe_abort(l->probe); /* reports at once: lane_done */
}

static void *lane_main(void *arg) {
  struct lane *l = arg;
  struct threads *t = l->owner;
  while (!l->got_run)
    if (bw_loop_run(l->loop) < 0)
      break;
  if (!l->got_run)
    bw_probe_abort(l->probe); /* the loop failed: the run still comes back, aborted */
  (void)pthread_mutex_lock(&t->mu);
  t->n_finished++;
  (void)pthread_mutex_unlock(&t->mu);
  bw_wake_fire(t->wake);
  return NULL;
}

/* Stops every lane still running and waits for all of them: afterwards each has its run. */
static void join_all(struct threads *t) {
  for (size_t i = 0; i < t->n_lanes; i++)
    if (t->lanes[i].started)
      bw_wake_fire(t->lanes[i].stop);
  for (size_t i = 0; i < t->n_lanes; i++)
    if (t->lanes[i].started) {
      (void)pthread_join(t->lanes[i].thread, NULL);
      t->lanes[i].started = false;
    }
}

static int by_start(const void *a, const void *b) {
  const struct bw_sample *x = a, *y = b;
  return (x->at_us > y->at_us) - (x->at_us < y->at_us);
}

static int64_t add(int64_t sum, int64_t v) {
  if (v == BW_NONE)
    return sum;
  return (sum == BW_NONE ? 0 : sum) + v;
}

/*
 * The lanes' runs as one: counters summed, samples on the run's own clock in the order they
 * started, and ab's length check done again over all of them (each lane compared its responses
 * with its own first one; ab compares every response with the first of the whole run).
 */
static void merge(struct threads *t, bool *ret_aborted) {
  struct bw_run *run = &t->base.run;
  const char *first_class = NULL, *first_error = NULL, *check_error = NULL;
  int64_t elapsed = 0, length_failed = 0;
  bool aborted = false;
  struct bw_buf counts = {0};

  run->complete = run->failed_connect = run->failed_receive = run->failed_length = 0;
  run->failed_exception = run->non_2xx = 0;
  for (size_t i = 0; i < t->n_lanes; i++) {
    const struct bw_run *r = &t->lanes[i].run;
    int64_t offset = t->lanes[i].probe->t0_us - t->base.t0_us;
    if (r->outcome == BW_OUTCOME_ABORTED)
      aborted = true;
    if (r->outcome == BW_OUTCOME_FAILED && !first_class) {
      first_class = r->error_class;
      first_error = r->error_message;
    }
    if (r->error_class && strcmp(r->error_class, "check") == 0 && !check_error)
      check_error = r->error_message;
    run->failed_check = add(run->failed_check, r->failed_check);
    if (r->cert_expires_us != BW_NONE &&
        (run->cert_expires_us == BW_NONE || r->cert_expires_us < run->cert_expires_us))
      run->cert_expires_us = r->cert_expires_us;
    run->complete += r->complete;
    run->failed_connect += r->failed_connect;
    run->failed_receive += r->failed_receive;
    run->failed_exception += r->failed_exception;
    run->non_2xx += r->non_2xx;
    run->bytes = add(run->bytes, r->bytes);
    run->html_bytes = add(run->html_bytes, r->html_bytes);
    if (r->status != BW_NONE && r->status != 0)
      run->status = r->status;
    if (r->remote_ip) {
      free(run->remote_ip);
      run->remote_ip = bw_xstrdup(r->remote_ip);
      run->remote_port = r->remote_port;
    }
    if (r->http_version && !run->http_version)
      run->http_version = bw_xstrdup(r->http_version);
    if (r->engine && !run->engine)
      run->engine = bw_xstrdup(r->engine);
    if (r->duration_us != BW_NONE && offset + r->duration_us > elapsed)
      elapsed = offset + r->duration_us;
    for (size_t k = 0; k < r->n_samples; k++) {
      struct bw_sample s = r->samples[k];
      s.at_us += offset;
      (void)bw_run_add_sample(run, &s);
      if (s.error_class && strcmp(s.error_class, "length") == 0)
        length_failed++;
    }
    bw_buf_printf(&counts, "%s%zu", i ? " " : "", r->n_samples);
  }
  if (run->n_samples > 1)
    qsort(run->samples, run->n_samples, sizeof(*run->samples), by_start);
  /* ab's rule: every complete response has the length of the first one to finish. */
  const struct bw_sample *first = NULL;
  for (size_t k = 0; k < run->n_samples; k++) {
    const struct bw_sample *s = &run->samples[k];
    if (!s->error_class &&
        (!first || s->at_us + s->duration_us < first->at_us + first->duration_us))
      first = s;
  }
  for (size_t k = 0; first && k < run->n_samples; k++)
    if (!run->samples[k].error_class && run->samples[k].bytes != first->bytes)
      length_failed++;
  run->failed_length = length_failed;
  run->thread_requests = bw_buf_take(&counts);
  bw_probe_page_finish(run, elapsed, aborted, &t->base.test.expect, first_class, first_error,
                       check_error);
  *ret_aborted = aborted;
}

/* Every lane has its run: merge them and report, once. */
static void report(struct threads *t) {
  bool aborted;
  if (t->reported)
    return;
  t->reported = true;
  join_all(t);
  /* The wake-up must not keep the caller's loop running once the probe is over. */
  bw_wake_free(t->wake);
  t->wake = NULL;
  merge(t, &aborted);
  bw_probe_env(&t->base.run);
  t->base.done(t->base.arg, &t->base.run); /* may free the probe: nothing after this */
}

/* On the caller's loop: a lane finished; when all have, the run is over. */
static void on_lane_finished(void *arg) {
  struct threads *t = arg;
  (void)pthread_mutex_lock(&t->mu);
  bool all = t->n_finished == t->n_lanes;
  (void)pthread_mutex_unlock(&t->mu);
  if (all)
    report(t);
}

static int64_t threads_finished(const struct bw_probe *p) {
  const struct threads *t = (const struct threads *)p;
  int64_t n = 0;
  for (size_t i = 0; i < t->n_lanes; i++)
    if (t->lanes[i].probe)
      n += (int64_t)atomic_load_explicit(&t->lanes[i].probe->finished, memory_order_relaxed);
  return n;
}

static void threads_abort(struct bw_probe *p) {
  struct threads *t = (struct threads *)p;
  report(t); /* join_all() stops every lane first: their runs come back aborted */
}

static void threads_destroy(struct bw_probe *p) {
  struct threads *t = (struct threads *)p;
  join_all(t);
  for (size_t i = 0; t->lanes && i < t->n_lanes; i++) {
    struct lane *l = &t->lanes[i];
    bw_probe_free(l->probe);
    bw_wake_free(l->stop);
    bw_loop_free(l->loop);
    bw_run_reset(&l->run);
  }
  free(t->lanes);
  bw_wake_free(t->wake);
  (void)pthread_mutex_destroy(&t->mu);
  bw_probe_release(&t->base);
  free(t);
}

struct bw_probe *bw_probe_threads_start(struct bw_loop *loop, const struct bw_test *test,
                                        const char *backend, bw_probe_done_fn done, void *arg,
                                        struct bw_errs *errs) {
  struct threads *t = bw_xcalloc(1, sizeof(*t));
  int64_t n = test->threads;
  if (n > test->concurrency)
    n = test->concurrency; /* the config forbids it; a lane without a slot would have no work */
  if (n > test->requests)
    n = test->requests;
  bw_probe_init(&t->base, test, backend, done, arg);
  t->base.abort = threads_abort;
  t->base.destroy = threads_destroy;
  t->base.finished_fn = threads_finished;
  t->base.run.requests = test->requests;
  (void)pthread_mutex_init(&t->mu, NULL);
  t->n_lanes = (size_t)n;
  t->lanes = bw_xcalloc(t->n_lanes, sizeof(*t->lanes));
  for (size_t i = 0; i < t->n_lanes; i++)
    bw_run_init(&t->lanes[i].run);
  t->wake = bw_wake_new(loop, on_lane_finished, t);
  if (!t->wake) {
    bw_errs_add(errs, "%s: cannot set up the threads' wake-up on the loop", t->base.run.url);
    goto fail;
  }
  /* Every lane is set up on this thread first, so that a test that cannot start at all fails
   * here, as a single-threaded one does; its thread then takes its loop over. */
  for (size_t i = 0; i < t->n_lanes; i++) {
    struct lane *l = &t->lanes[i];
    struct bw_test part;
    l->owner = t;
    l->loop = bw_loop_new(errs);
    if (!l->loop)
      goto fail;
    l->stop = bw_wake_new(l->loop, lane_stop, l);
    if (!l->stop) {
      bw_errs_add(errs, "%s: cannot set up a thread's wake-up", t->base.run.url);
      goto fail;
    }
    bw_test_copy(&part, test);
    part.threads = 1;
    part.concurrency = share(test->concurrency, t->n_lanes, i);
    part.requests = share(test->requests, t->n_lanes, i);
    l->probe = bw_probe_page_start(l->loop, &part, backend, lane_done, l, errs);
    bw_test_clear(&part);
    if (!l->probe)
      goto fail;
  }
  /* Signals are the caller's loop's: the threads start with every one blocked. */
  sigset_t all, old;
  (void)sigfillset(&all);
  (void)pthread_sigmask(SIG_BLOCK, &all, &old);
  int r = 0;
  for (size_t i = 0; i < t->n_lanes && r == 0; i++) {
    struct lane *l = &t->lanes[i];
    r = pthread_create(&l->thread, NULL, lane_main, l);
    l->started = r == 0;
  }
  (void)pthread_sigmask(SIG_SETMASK, &old, NULL);
  if (r != 0) {
    bw_errs_add(errs, "%s: cannot start a thread: %s", t->base.run.url, strerror(r));
    goto fail;
  }
  return &t->base;
fail:
  threads_destroy(&t->base);
  return NULL;
}
