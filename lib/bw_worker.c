#include "bw_worker.h"

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define WAIT_US INT64_C(5000000) /* as the store's busy timeout */

struct job {
  bw_worker_fn work;
  bw_worker_done_fn done;
  void *arg;
  struct job *next;
};

struct queue {
  struct job *head, *tail;
};

struct bw_worker {
  struct bw_loop *loop;
  struct bw_store *store; /* the thread's alone */
  struct bw_wake *wake;
  pthread_t thread;
  bool started;
  atomic_bool stop;
  int64_t wait_from_us; /* the thread's: when the current wait for a lock began */

  pthread_mutex_t mu; /* guards everything below */
  pthread_cond_t cond;
  struct queue todo, done;
  size_t pending;
};

static void push(struct queue *q, struct job *job) {
  job->next = NULL;
  if (q->tail)
    q->tail->next = job;
  else
    q->head = job;
  q->tail = job;
}

static struct job *take_all(struct queue *q) {
  struct job *head = q->head;
  q->head = q->tail = NULL;
  return head;
}

/* A lock held elsewhere is waited for WAIT_US at most, and not at all once we stop. */
static bool keep_waiting(void *arg, int attempt) {
  struct bw_worker *w = arg;
  int64_t now = bw_now_us();
  if (attempt == 0)
    w->wait_from_us = now;
  return !atomic_load(&w->stop) && now - w->wait_from_us < WAIT_US;
}

static void *worker_main(void *arg) {
  struct bw_worker *w = arg;
  sigset_t all;
  (void)sigfillset(&all);
  (void)pthread_sigmask(SIG_BLOCK, &all, NULL); /* signals are the loop's */
  (void)pthread_mutex_lock(&w->mu);
  for (;;) {
    while (!w->todo.head && !atomic_load(&w->stop))
      (void)pthread_cond_wait(&w->cond, &w->mu);
    if (atomic_load(&w->stop))
      break;
    struct job *job = w->todo.head;
    w->todo.head = job->next;
    if (!w->todo.head)
      w->todo.tail = NULL;
    (void)pthread_mutex_unlock(&w->mu);
    job->work(w->store, job->arg);
    (void)pthread_mutex_lock(&w->mu);
    push(&w->done, job);
    bw_wake_fire(w->wake);
  }
  (void)pthread_mutex_unlock(&w->mu);
  return NULL;
}

static void deliver(void *arg) {
  struct bw_worker *w = arg;
  (void)pthread_mutex_lock(&w->mu);
  struct job *job = take_all(&w->done);
  (void)pthread_mutex_unlock(&w->mu);
  while (job) {
    struct job *next = job->next;
    (void)pthread_mutex_lock(&w->mu);
    w->pending--;
    (void)pthread_mutex_unlock(&w->mu);
    job->done(job->arg, true);
    free(job);
    job = next;
  }
}

struct bw_worker *bw_worker_new(struct bw_loop *loop, struct bw_store *store,
                                struct bw_errs *errs) {
  struct bw_worker *w = bw_xcalloc(1, sizeof(*w));
  int r;
  w->loop = loop;
  w->store = store;
  atomic_init(&w->stop, false);
  (void)pthread_mutex_init(&w->mu, NULL);
  (void)pthread_cond_init(&w->cond, NULL);
  bw_store_set_busy(store, keep_waiting, w);
  w->wake = bw_wake_new(loop, deliver, w);
  if (!w->wake) {
    bw_errs_add(errs, "cannot set up the database worker's wake-up on the loop");
    goto fail;
  }
  r = pthread_create(&w->thread, NULL, worker_main, w);
  if (r != 0) {
    bw_errs_add(errs, "cannot start the database worker thread: %s", strerror(r));
    goto fail;
  }
  w->started = true;
  return w;
fail:
  bw_worker_free(w);
  return NULL;
}

void bw_worker_call(struct bw_worker *w, bw_worker_fn work, bw_worker_done_fn done, void *arg) {
  struct job *job = bw_xcalloc(1, sizeof(*job));
  job->work = work;
  job->done = done;
  job->arg = arg;
  (void)pthread_mutex_lock(&w->mu);
  if (atomic_load(&w->stop)) {
    (void)pthread_mutex_unlock(&w->mu);
    done(arg, false);
    free(job);
    return;
  }
  push(&w->todo, job);
  w->pending++;
  (void)pthread_cond_signal(&w->cond);
  (void)pthread_mutex_unlock(&w->mu);
}

size_t bw_worker_pending(struct bw_worker *w) {
  (void)pthread_mutex_lock(&w->mu);
  size_t n = w->pending;
  (void)pthread_mutex_unlock(&w->mu);
  return n;
}

void bw_worker_free(struct bw_worker *w) {
  if (!w)
    return;
  (void)pthread_mutex_lock(&w->mu);
  atomic_store(&w->stop, true);
  (void)pthread_cond_signal(&w->cond);
  (void)pthread_mutex_unlock(&w->mu);
  if (w->started)
    (void)pthread_join(w->thread, NULL);
  bw_wake_free(w->wake);
  for (struct queue *q = &w->done; q; q = q == &w->done ? &w->todo : NULL) {
    struct job *job = take_all(q);
    while (job) {
      struct job *next = job->next;
      job->done(job->arg, false);
      free(job);
      job = next;
    }
  }
  bw_store_close(w->store);
  (void)pthread_cond_destroy(&w->cond);
  (void)pthread_mutex_destroy(&w->mu);
  free(w);
}
