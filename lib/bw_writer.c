#include "bw_writer.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bw_sweep.h"
#include "bw_util.h"

/* How long one attempt waits for another connection's lock: SQLite's usual busy timeout. */
#define LOCK_WAIT_US (5 * INT64_C(1000000))
/* Backoff between attempts while the database does not take writes. */
#define RETRY_FIRST_US (500 * INT64_C(1000))
#define RETRY_MAX_US (15 * INT64_C(1000000))

struct job {
  struct bw_run run;
  struct job *next;
};

struct event_node {
  struct bw_writer_event ev;
  struct event_node *next;
};

/* What the judge needs of a test, by name. */
struct judge_cfg {
  char *test;
  struct bw_detect detect;
  int64_t every_us;
};

struct bw_writer {
  struct bw_loop *loop;
  struct bw_store *store; /* the thread's alone */
  struct bw_spool *spool; /* the thread's alone */
  bw_writer_fn fn;
  void *arg;
  struct bw_wake *wake;
  pthread_t thread;
  bool started, joined;

  pthread_mutex_t mu; /* guards everything below */
  pthread_cond_t cond;
  struct job *head, *tail;
  size_t queued;
  struct event_node *out_head, *out_tail;
  struct judge_cfg *cfgs;
  size_t n_cfgs;
  struct bw_detect default_detect;
  struct bw_writer_stats st;
  bool stopping;

  /* The thread's own state. */
  int64_t retry_at_us;
  int64_t backoff_us;
  char *reason; /* why the database does not take writes, while blocked */

  /* Read by the busy handler on the thread, set by bw_writer_stop() on the loop's. */
  atomic_bool stop_now;
  _Atomic int64_t stop_deadline_us;
  int64_t attempt_deadline_us;
  bool attempt_retry; /* the attempt is one more try of the spool, which a stop cuts short */
};

static void judge_cfgs_free(struct judge_cfg *c, size_t n) {
  for (size_t i = 0; i < n; i++)
    free(c[i].test);
  free(c);
}

void bw_writer_apply(struct bw_writer *w, const struct bw_config *cfg) {
  struct judge_cfg *c = bw_xcalloc(cfg->n_tests + 1, sizeof(*c));
  for (size_t i = 0; i < cfg->n_tests; i++) {
    c[i].test = bw_xstrdup(cfg->tests[i].name);
    c[i].detect = cfg->tests[i].detect;
    c[i].every_us = cfg->tests[i].every_us;
  }
  (void)pthread_mutex_lock(&w->mu);
  judge_cfgs_free(w->cfgs, w->n_cfgs);
  w->cfgs = c;
  w->n_cfgs = cfg->n_tests;
  w->default_detect = cfg->detect;
  (void)pthread_mutex_unlock(&w->mu);
}

/* The judge's settings for a run's test. */
static void judge_settings(struct bw_writer *w, const char *test, struct bw_detect *detect,
                           int64_t *every_us) {
  (void)pthread_mutex_lock(&w->mu);
  *detect = w->default_detect;
  *every_us = 3600 * INT64_C(1000000);
  for (size_t i = 0; i < w->n_cfgs; i++) {
    if (bw_sweep_is_of(test, w->cfgs[i].test)) { /* a sweep's steps take its settings */
      *detect = w->cfgs[i].detect;
      *every_us = w->cfgs[i].every_us;
      break;
    }
  }
  (void)pthread_mutex_unlock(&w->mu);
}

/* ---- events to the loop ---- */

static void free_samples(struct bw_run *run) {
  for (size_t i = 0; i < run->n_samples; i++)
    free(run->samples[i].error_class);
  free(run->samples);
  run->samples = NULL;
  run->n_samples = run->cap_samples = 0;
}

/* Queues an event for the loop; takes run's contents (may be NULL) and message. */
static void emit(struct bw_writer *w, enum bw_writer_what what, struct bw_run *run,
                 const struct bw_judgement *j, bool from_spool, char *message) {
  struct event_node *n = bw_xcalloc(1, sizeof(*n));
  n->ev.what = what;
  n->ev.from_spool = from_spool;
  bw_run_init(&n->ev.run);
  if (run) {
    bw_run_move(&n->ev.run, run);
    free_samples(&n->ev.run);
  }
  if (j)
    n->ev.judgement = *j;
  n->ev.message = message;
  n->ev.spooled = w->spool ? bw_spool_count(w->spool) : 0;
  (void)pthread_mutex_lock(&w->mu);
  if (what == BW_WRITER_LOST)
    w->st.lost++;
  w->st.spooled = n->ev.spooled;
  w->st.spool_bytes = w->spool ? bw_spool_bytes(w->spool) : 0;
  if (w->out_tail)
    w->out_tail->next = n;
  else
    w->out_head = n;
  w->out_tail = n;
  (void)pthread_mutex_unlock(&w->mu);
  if (w->wake)
    bw_wake_fire(w->wake);
}

/* Delivers the waiting events to the handler, on the calling thread. */
static void deliver(void *arg) {
  struct bw_writer *w = arg;
  (void)pthread_mutex_lock(&w->mu);
  struct event_node *n = w->out_head;
  w->out_head = w->out_tail = NULL;
  (void)pthread_mutex_unlock(&w->mu);
  while (n) {
    struct event_node *next = n->next;
    w->fn(w->arg, &n->ev);
    bw_run_reset(&n->ev.run);
    free(n->ev.message);
    free(n);
    n = next;
  }
}

/* ---- the thread ---- */

/* Whether a store call should keep waiting for another connection's lock. */
static bool keep_waiting(void *arg, int attempt) {
  struct bw_writer *w = arg;
  (void)attempt;
  int64_t now = bw_now_us();
  if (atomic_load(&w->stop_now) && (w->attempt_retry || now >= atomic_load(&w->stop_deadline_us)))
    return false;
  return now < w->attempt_deadline_us;
}

static void set_blocked(struct bw_writer *w, const char *why) {
  int64_t now = bw_now_us();
  if (!w->reason) {
    w->reason = bw_xstrdup(why);
    w->backoff_us = RETRY_FIRST_US;
    (void)pthread_mutex_lock(&w->mu);
    w->st.blocked = true;
    (void)pthread_mutex_unlock(&w->mu);
    emit(w, BW_WRITER_BLOCKED, NULL, NULL, false, bw_xstrdup(why));
  } else {
    w->backoff_us = w->backoff_us * 2 < RETRY_MAX_US ? w->backoff_us * 2 : RETRY_MAX_US;
  }
  w->retry_at_us = now + w->backoff_us;
}

static void set_unblocked(struct bw_writer *w) {
  if (!w->reason)
    return;
  free(w->reason);
  w->reason = NULL;
  (void)pthread_mutex_lock(&w->mu);
  w->st.blocked = false;
  (void)pthread_mutex_unlock(&w->mu);
  emit(w, BW_WRITER_RESUMED, NULL, NULL, false, NULL);
}

static void count_failure(struct bw_writer *w) {
  (void)pthread_mutex_lock(&w->mu);
  w->st.failures++;
  (void)pthread_mutex_unlock(&w->mu);
}

/* Stores and judges run in one transaction; 0 with *j, or -errno with the reason in errs. */
static int store_run(struct bw_writer *w, const struct bw_run *run, struct bw_judgement *j,
                     struct bw_errs *errs) {
  struct bw_detect detect;
  int64_t every_us;
  judge_settings(w, run->test, &detect, &every_us);
  w->attempt_deadline_us = bw_now_us() + LOCK_WAIT_US;
  memset(j, 0, sizeof(*j));
  return bw_judge_record(w->store, &detect, every_us, run, j, errs);
}

/* Puts run in the spool (why: the reason it is not stored now), or gives it up as lost. */
static void spool_run(struct bw_writer *w, struct bw_run *run, const char *why) {
  struct bw_errs errs = {0};
  struct bw_run *lost = NULL;
  size_t n_lost = 0;
  int r = bw_spool_push(w->spool, run, &lost, &n_lost, &errs);
  for (size_t i = 0; i < n_lost; i++)
    emit(w, BW_WRITER_LOST, &lost[i], NULL, true,
         bw_xstrdup("the spool was full: the oldest runs in it made room for new ones"));
  free(lost);
  if (r < 0)
    emit(w, BW_WRITER_LOST, run, NULL, false,
         bw_xasprintf("%s; and it cannot be spooled: %s", why,
                      errs.n ? errs.msg[0] : "unknown error"));
  else
    emit(w, BW_WRITER_SPOOLED, run, NULL, false, bw_xstrdup(why));
  bw_errs_clear(&errs);
}

/* A new run: stored at once when nothing waits before it, else spooled behind the others. */
static void handle_run(struct bw_writer *w, struct bw_run *run) {
  struct bw_errs errs = {0};
  struct bw_judgement j;
  if (!w->reason && bw_spool_count(w->spool) == 0) {
    int r = store_run(w, run, &j, &errs);
    if (r == 0) {
      emit(w, BW_WRITER_STORED, run, &j, false, NULL);
      bw_errs_clear(&errs);
      return;
    }
    count_failure(w);
    set_blocked(w, errs.n ? errs.msg[0] : "the database refused the run");
  }
  spool_run(w, run, w->reason ? w->reason : "runs before it wait in the spool");
  bw_errs_clear(&errs);
}

/* Whether the spool's oldest run is in the database already (stored just before a crash). */
static bool already_stored(struct bw_writer *w, const struct bw_run *run) {
  struct bw_errs errs = {0};
  int64_t target = 0;
  bool exists = false;
  w->attempt_deadline_us = bw_now_us() + LOCK_WAIT_US;
  if (bw_store_find_target(w->store, run->test, run->backend, &target, &errs) == 0)
    (void)bw_store_run_exists(w->store, target, run->started_us, &exists, &errs);
  bw_errs_clear(&errs);
  return exists;
}

/* One attempt at the database while it is blocked or the spool holds runs. */
static void retry(struct bw_writer *w) {
  struct bw_errs errs = {0};
  struct bw_judgement j;
  struct bw_run run;
  int r;

  if (bw_spool_count(w->spool) == 0) {
    /* Nothing waits (the spool itself failed): a proof that writes work again is enough. */
    w->attempt_deadline_us = bw_now_us() + LOCK_WAIT_US;
    r = bw_store_prove(w->store, &errs);
    if (r == 0)
      set_unblocked(w);
    else
      set_blocked(w, errs.n ? errs.msg[0] : "the database refused a write");
    bw_errs_clear(&errs);
    return;
  }
  bw_run_init(&run);
  r = bw_spool_peek(w->spool, &run, &errs);
  if (r < 0) {
    /* A record that cannot be read back would stop every run behind it: give it up. */
    char *why = bw_xasprintf("%s; it is dropped", errs.n ? errs.msg[0] : "unreadable record");
    bw_errs_clear(&errs);
    if (bw_spool_pop(w->spool, &errs) < 0) {
      free(why);
      set_blocked(w, errs.n ? errs.msg[0] : "the spool cannot be read");
      bw_errs_clear(&errs);
      return;
    }
    emit(w, BW_WRITER_LOST, NULL, NULL, true, why);
    bw_errs_clear(&errs);
    return;
  }
  if (already_stored(w, &run)) {
    r = 0;
    memset(&j, 0, sizeof(j));
  } else {
    r = store_run(w, &run, &j, &errs);
  }
  if (r < 0) {
    count_failure(w);
    /* The first reason stands in the events; later ones only push the next attempt back. */
    set_blocked(w, errs.n ? errs.msg[0] : "the database refused the run");
    bw_run_reset(&run);
    bw_errs_clear(&errs);
    return;
  }
  bw_errs_clear(&errs);
  if (bw_spool_pop(w->spool, &errs) < 0) {
    /* Stored, but still in the spool: the check above keeps it from being stored twice. */
    set_blocked(w, errs.n ? errs.msg[0] : "the spool cannot be written");
    bw_errs_clear(&errs);
  }
  if (j.run_id)
    emit(w, BW_WRITER_STORED, &run, &j, true, NULL);
  bw_run_reset(&run);
  if (bw_spool_count(w->spool) == 0 && w->reason)
    set_unblocked(w);
  w->retry_at_us = bw_now_us();
}

static void *writer_main(void *arg) {
  struct bw_writer *w = arg;
  (void)pthread_mutex_lock(&w->mu);
  for (;;) {
    bool waiting = w->reason || bw_spool_count(w->spool) > 0;
    if (w->head) {
      struct job *job = w->head;
      w->head = job->next;
      if (!w->head)
        w->tail = NULL;
      (void)pthread_mutex_unlock(&w->mu);
      handle_run(w, &job->run);
      bw_run_reset(&job->run);
      free(job);
      (void)pthread_mutex_lock(&w->mu);
      w->queued--;
      continue;
    }
    if (w->stopping)
      break;
    if (waiting && bw_now_us() >= w->retry_at_us) {
      (void)pthread_mutex_unlock(&w->mu);
      w->attempt_retry = true;
      retry(w);
      w->attempt_retry = false;
      (void)pthread_mutex_lock(&w->mu);
      continue;
    }
    if (waiting) {
      struct timespec ts;
      (void)clock_gettime(CLOCK_MONOTONIC, &ts);
      int64_t wait = w->retry_at_us - bw_now_us();
      int64_t ns = ts.tv_nsec + (wait % 1000000) * 1000;
      ts.tv_sec += (time_t)(wait / 1000000 + ns / 1000000000);
      ts.tv_nsec = (long)(ns % 1000000000);
      (void)pthread_cond_timedwait(&w->cond, &w->mu, &ts);
    } else {
      (void)pthread_cond_wait(&w->cond, &w->mu);
    }
  }
  (void)pthread_mutex_unlock(&w->mu);
  return NULL;
}

struct bw_writer *bw_writer_new(struct bw_loop *loop, struct bw_store *store,
                                struct bw_spool *spool, const struct bw_config *cfg,
                                bw_writer_fn fn, void *arg, struct bw_errs *errs) {
  struct bw_writer *w = bw_xcalloc(1, sizeof(*w));
  pthread_condattr_t ca;
  int r;

  w->loop = loop;
  w->store = store;
  w->spool = spool;
  w->fn = fn;
  w->arg = arg;
  atomic_init(&w->stop_now, false);
  atomic_init(&w->stop_deadline_us, 0);
  (void)pthread_mutex_init(&w->mu, NULL);
  (void)pthread_condattr_init(&ca);
  (void)pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  (void)pthread_cond_init(&w->cond, &ca);
  (void)pthread_condattr_destroy(&ca);
  bw_writer_apply(w, cfg);
  w->st.spooled = bw_spool_count(spool);
  w->st.spool_bytes = bw_spool_bytes(spool);
  w->retry_at_us = bw_now_us(); /* a spool from before is written out first */
  w->backoff_us = RETRY_FIRST_US;
  bw_store_set_busy(store, keep_waiting, w);
  w->wake = bw_wake_new(loop, deliver, w);
  if (!w->wake) {
    bw_errs_add(errs, "cannot set up the writer's wake-up on the loop");
    goto fail;
  }
  r = pthread_create(&w->thread, NULL, writer_main, w);
  if (r != 0) {
    bw_errs_add(errs, "cannot start the writer thread: %s", strerror(r));
    goto fail;
  }
  w->started = true;
  return w;
fail:
  bw_writer_free(w);
  return NULL;
}

void bw_writer_submit(struct bw_writer *w, struct bw_run *run) {
  struct job *job = bw_xcalloc(1, sizeof(*job));
  bw_run_move(&job->run, run);
  (void)pthread_mutex_lock(&w->mu);
  if (w->stopping) {
    (void)pthread_mutex_unlock(&w->mu);
    emit(w, BW_WRITER_LOST, &job->run, NULL, false,
         bw_xstrdup("it finished after the writer had stopped"));
    free(job);
    deliver(w); /* the loop may not run again to deliver it */
    return;
  }
  if (w->tail)
    w->tail->next = job;
  else
    w->head = job;
  w->tail = job;
  w->queued++;
  (void)pthread_cond_signal(&w->cond);
  (void)pthread_mutex_unlock(&w->mu);
}

void bw_writer_stats(struct bw_writer *w, struct bw_writer_stats *ret) {
  (void)pthread_mutex_lock(&w->mu);
  *ret = w->st;
  ret->queued = w->queued;
  (void)pthread_mutex_unlock(&w->mu);
}

void bw_writer_stop(struct bw_writer *w, int64_t grace_us) {
  if (!w || w->joined)
    return;
  atomic_store(&w->stop_deadline_us, bw_now_us() + (grace_us > 0 ? grace_us : 0));
  atomic_store(&w->stop_now, true);
  (void)pthread_mutex_lock(&w->mu);
  w->stopping = true;
  (void)pthread_cond_signal(&w->cond);
  (void)pthread_mutex_unlock(&w->mu);
  if (w->started)
    (void)pthread_join(w->thread, NULL);
  w->joined = true;
  deliver(w);
}

void bw_writer_free(struct bw_writer *w) {
  if (!w)
    return;
  bw_writer_stop(w, 0);
  bw_wake_free(w->wake);
  while (w->head) {
    struct job *job = w->head;
    w->head = job->next;
    bw_run_reset(&job->run);
    free(job);
  }
  while (w->out_head) {
    struct event_node *n = w->out_head;
    w->out_head = n->next;
    bw_run_reset(&n->ev.run);
    free(n->ev.message);
    free(n);
  }
  judge_cfgs_free(w->cfgs, w->n_cfgs);
  free(w->reason);
  bw_store_close(w->store);
  bw_spool_close(w->spool);
  (void)pthread_cond_destroy(&w->cond);
  (void)pthread_mutex_destroy(&w->mu);
  free(w);
}
