/* Database jobs off the loop: run in order on another thread, finished on the loop's. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "bw_store.h"
#include "bw_loop.h"
#include "bw_worker.h"

struct job {
  int n;
  pthread_t work_thread, done_thread;
  bool had_store, ran, done;
  int *order;
  size_t *n_order;
  struct bw_loop *loop;
  int last; /* the job after which the loop stops */
};

static void work(struct bw_store *store, void *arg) {
  struct job *j = arg;
  j->work_thread = pthread_self();
  j->had_store = store != NULL && bw_store_version(store) > 0;
  j->order[(*j->n_order)++] = j->n;
}

static void done(void *arg, bool ran) {
  struct job *j = arg;
  j->done_thread = pthread_self();
  j->ran = ran;
  j->done = true;
  if (j->n == j->last)
    bw_loop_break(j->loop);
}

static struct bw_store *open_store(char *path) {
  struct bw_store *store = NULL;
  struct bw_errs errs = {0};
  int fd = mkstemp(path);
  assert_true(fd >= 0);
  (void)close(fd);
  (void)unlink(path);
  assert_int_equal(bw_store_open(path, &store, &errs), 0);
  return store;
}

static void remove_db(const char *path) {
  char more[300];
  (void)unlink(path);
  (void)snprintf(more, sizeof(more), "%s-wal", path);
  (void)unlink(more);
  (void)snprintf(more, sizeof(more), "%s-shm", path);
  (void)unlink(more);
}

static void jobs_in_order_done_on_loop(void **state) {
  char path[] = "/tmp/bw-worker-XXXXXX";
  struct bw_errs errs = {0};
  struct bw_loop *loop = bw_loop_new(&errs);
  struct bw_worker *w = bw_worker_new(loop, open_store(path), &errs);
  struct job jobs[5];
  int order[5];
  size_t n_order = 0;
  (void)state;
  assert_non_null(w);
  for (int i = 0; i < 5; i++) {
    jobs[i] = (struct job){.n = i, .order = order, .n_order = &n_order, .loop = loop, .last = 4};
    bw_worker_call(w, work, done, &jobs[i]);
  }
  assert_int_equal(bw_loop_run(loop), 0);
  assert_int_equal(bw_worker_pending(w), 0);
  assert_int_equal(n_order, 5);
  for (int i = 0; i < 5; i++) {
    assert_int_equal(order[i], i);
    assert_true(jobs[i].done && jobs[i].ran && jobs[i].had_store);
    assert_false(pthread_equal(jobs[i].work_thread, pthread_self()));
    assert_true(pthread_equal(jobs[i].done_thread, pthread_self()));
  }
  bw_worker_free(w);
  bw_loop_free(loop);
  remove_db(path);
}

/* Freed before the loop delivers: every job hears of it, ran or not, and none twice. */
static void free_tells_every_job(void **state) {
  char path[] = "/tmp/bw-worker-XXXXXX";
  struct bw_errs errs = {0};
  struct bw_loop *loop = bw_loop_new(&errs);
  struct bw_worker *w = bw_worker_new(loop, open_store(path), &errs);
  struct job jobs[20];
  int order[20];
  size_t n_order = 0;
  (void)state;
  for (int i = 0; i < 20; i++) {
    jobs[i] = (struct job){.n = i, .order = order, .n_order = &n_order, .loop = loop, .last = -1};
    bw_worker_call(w, work, done, &jobs[i]);
  }
  bw_worker_free(w);
  for (int i = 0; i < 20; i++) {
    assert_true(jobs[i].done);
    assert_false(jobs[i].ran);
  }
  bw_loop_free(loop);
  remove_db(path);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(jobs_in_order_done_on_loop),
      cmocka_unit_test(free_tells_every_job),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
