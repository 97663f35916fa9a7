/*
 * The spool: runs back as they went in, in order, across reopening; a full ring gives up its
 * oldest records and says which; a torn last record is discarded with a warning and the records
 * before it survive.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "bw_spool.h"

static char dir[] = "/tmp/bw-spool-XXXXXX";
static char path[64];

static int setup(void **state) {
  (void)state;
  if (!mkdtemp(dir))
    return -1;
  (void)snprintf(path, sizeof(path), "%s/db.spool", dir);
  return 0;
}

static int teardown(void **state) {
  (void)state;
  (void)unlink(path);
  return rmdir(dir);
}

/* A page run numbered n with `samples` requests. */
static void make_run(struct bw_run *run, int n, size_t samples) {
  char name[32], length[] = "length";
  bw_run_init(run);
  (void)snprintf(name, sizeof(name), "t%d", n % 3);
  run->test = strdup(name);
  run->backend = strdup(n % 2 ? "node-1:8088" : "");
  run->kind = BW_KIND_PAGE;
  run->url = strdup("http://example.org/");
  run->started_us = 1795000000000000 + n * INT64_C(1000000);
  run->outcome = n % 5 ? BW_OUTCOME_OK : BW_OUTCOME_FAILED;
  run->error_class = n % 5 ? NULL : strdup("connect");
  run->error_message = n % 5 ? NULL : strdup("Couldn't connect to server");
  run->p50_us = 50000 + n;
  run->rps = 19.5;
  /* The environment rides along, so a spooled run's reaches the store too. */
  run->env = n % 2 ? strdup("if=eth0 mtu=9000 tcp_timestamps=0") : NULL;
  /* As do a download's streams (a page run here, but the spool is kind-blind). */
  run->stream_rates = n % 2 ? NULL : strdup("4100000 4600000");
  run->streams = n % 2 ? BW_NONE : 2;
  run->requests = (int64_t)samples;
  for (size_t i = 0; i < samples; i++) {
    struct bw_sample s;
    bw_sample_init(&s);
    s.at_us = (int64_t)i * 1000;
    s.duration_us = 50000 + (int64_t)i;
    s.status = 200;
    s.error_class = i == 1 ? length : NULL;
    (void)bw_run_add_sample(run, &s);
  }
}

static void assert_same(const struct bw_run *a, const struct bw_run *b) {
  assert_string_equal(a->test, b->test);
  assert_string_equal(a->backend, b->backend);
  assert_string_equal(a->url, b->url);
  assert_int_equal(a->kind, b->kind);
  assert_int_equal(a->outcome, b->outcome);
  assert_int_equal(a->started_us, b->started_us);
  assert_int_equal(a->p50_us, b->p50_us);
  assert_int_equal(a->mean_us, b->mean_us); /* BW_NONE both */
  assert_true(a->rps == b->rps);
  assert_int_equal(a->error_class == NULL, b->error_class == NULL);
  if (a->error_class)
    assert_string_equal(a->error_class, b->error_class);
  assert_int_equal(a->env == NULL, b->env == NULL);
  if (a->env)
    assert_string_equal(a->env, b->env);
  assert_int_equal(a->stream_rates == NULL, b->stream_rates == NULL);
  if (a->stream_rates)
    assert_string_equal(a->stream_rates, b->stream_rates);
  assert_int_equal(a->streams, b->streams);
  assert_int_equal(a->n_samples, b->n_samples);
  for (size_t i = 0; i < a->n_samples; i++) {
    assert_int_equal(a->samples[i].duration_us, b->samples[i].duration_us);
    assert_int_equal(a->samples[i].dns_us, b->samples[i].dns_us);
    assert_int_equal(a->samples[i].error_class == NULL, b->samples[i].error_class == NULL);
  }
}

static void encode_decode(void **state) {
  struct bw_run run, back;
  struct bw_buf b = {0};
  (void)state;
  make_run(&run, 5, 3);
  run.rps = (double)NAN;
  bw_spool_encode(&run, &b);
  assert_int_equal(bw_spool_decode(b.s, b.len, &back), 0);
  assert_true(isnan(back.rps));
  back.rps = run.rps = 0;
  assert_same(&run, &back);
  bw_run_reset(&back);
  /* Every cut of a record is refused, never read past its end. */
  for (size_t n = 0; n < b.len; n++)
    assert_int_equal(bw_spool_decode(b.s, n, &back), -EBADMSG);
  free(b.s);
  bw_run_reset(&run);
}

static void order_across_reopen(void **state) {
  struct bw_spool *s = NULL;
  struct bw_errs warns = {0}, errs = {0};
  struct bw_run *lost = NULL, run, back;
  size_t n_lost = 0;
  (void)state;
  (void)unlink(path);
  assert_int_equal(bw_spool_open(path, BW_SPOOL_MIN_SIZE, &s, &warns, &errs), 0);
  assert_int_equal(bw_spool_peek(s, &back, &errs), -ENOENT);
  for (int i = 0; i < 3; i++) {
    make_run(&run, i, 2);
    assert_int_equal(bw_spool_push(s, &run, &lost, &n_lost, &errs), 0);
    bw_run_reset(&run);
  }
  assert_int_equal(n_lost, 0);
  assert_int_equal(bw_spool_count(s), 3);
  assert_int_equal(bw_spool_pop(s, &errs), 0);
  bw_spool_close(s);
  assert_int_equal(bw_spool_open(path, BW_SPOOL_MIN_SIZE, &s, &warns, &errs), 0);
  assert_int_equal(warns.n, 0);
  assert_int_equal(bw_spool_count(s), 2);
  for (int i = 1; i < 3; i++) {
    make_run(&run, i, 2);
    assert_int_equal(bw_spool_peek(s, &back, &errs), 0);
    assert_same(&run, &back);
    bw_run_reset(&back);
    bw_run_reset(&run);
    assert_int_equal(bw_spool_pop(s, &errs), 0);
  }
  assert_int_equal(bw_spool_count(s), 0);
  assert_int_equal(bw_spool_bytes(s), 0);
  bw_spool_close(s);
  assert_int_equal(errs.n, 0);
}

/* Many laps of a small ring: the oldest make room, in order, and what is left reads back. */
static void full_ring_drops_oldest(void **state) {
  struct bw_spool *s = NULL;
  struct bw_errs warns = {0}, errs = {0};
  struct bw_run run, back;
  int next_lost = 0, popped = 0;
  (void)state;
  (void)unlink(path);
  assert_int_equal(bw_spool_open(path, BW_SPOOL_MIN_SIZE, &s, &warns, &errs), 0);
  for (int i = 0; i < 400; i++) {
    struct bw_run *lost = NULL;
    size_t n_lost = 0;
    make_run(&run, i, (size_t)(i * 7 % 60));
    assert_int_equal(bw_spool_push(s, &run, &lost, &n_lost, &errs), 0);
    bw_run_reset(&run);
    for (size_t k = 0; k < n_lost; k++) {
      make_run(&run, next_lost++, 0);
      assert_int_equal(lost[k].started_us, run.started_us);
      bw_run_reset(&run);
      bw_run_reset(&lost[k]);
    }
    free(lost);
    /* Now and then the database takes one. */
    if (i % 3 == 0) {
      assert_int_equal(bw_spool_peek(s, &back, &errs), 0);
      make_run(&run, next_lost, 0);
      assert_int_equal(back.started_us, run.started_us);
      bw_run_reset(&run);
      bw_run_reset(&back);
      assert_int_equal(bw_spool_pop(s, &errs), 0);
      next_lost++;
      popped++;
    }
    assert_true(bw_spool_bytes(s) <= BW_SPOOL_MIN_SIZE);
    if (i % 50 == 49) {
      size_t count = bw_spool_count(s);
      bw_spool_close(s);
      assert_int_equal(bw_spool_open(path, BW_SPOOL_MIN_SIZE, &s, &warns, &errs), 0);
      assert_int_equal(warns.n, 0);
      assert_int_equal(bw_spool_count(s), count);
    }
  }
  assert_true(next_lost > popped); /* some were dropped */
  for (int i = next_lost; i < 400; i++) {
    assert_int_equal(bw_spool_peek(s, &back, &errs), 0);
    make_run(&run, i, (size_t)(i * 7 % 60));
    assert_same(&run, &back);
    bw_run_reset(&run);
    bw_run_reset(&back);
    assert_int_equal(bw_spool_pop(s, &errs), 0);
  }
  assert_int_equal(bw_spool_count(s), 0);
  /* A run larger than the whole ring is refused and drops nothing. */
  struct bw_run *lost = NULL;
  size_t n_lost = 0;
  make_run(&run, 1, 2000);
  assert_int_equal(bw_spool_push(s, &run, &lost, &n_lost, &errs), -EFBIG);
  assert_int_equal(n_lost, 0);
  bw_run_reset(&run);
  bw_errs_clear(&errs);
  bw_spool_close(s);
}

/* A crash in the middle of writing the last record: it is discarded, the others are kept. */
static void torn_last_record(void **state) {
  struct bw_spool *s = NULL;
  struct bw_errs warns = {0}, errs = {0};
  struct bw_run *lost = NULL, run, back;
  size_t n_lost = 0;
  struct stat st;
  (void)state;
  (void)unlink(path);
  assert_int_equal(bw_spool_open(path, BW_SPOOL_MIN_SIZE, &s, &warns, &errs), 0);
  for (int i = 0; i < 3; i++) {
    make_run(&run, i, 4);
    assert_int_equal(bw_spool_push(s, &run, &lost, &n_lost, &errs), 0);
    bw_run_reset(&run);
  }
  int64_t end = 4096 + bw_spool_bytes(s);
  bw_spool_close(s);
  /* The last record's tail never reached the disk: zeros where its payload ended. */
  int fd = open(path, O_RDWR);
  assert_true(fd >= 0);
  char zeros[40] = {0};
  assert_int_equal(pwrite(fd, zeros, sizeof(zeros), end - 48), (ssize_t)sizeof(zeros));
  assert_int_equal(fstat(fd, &st), 0);
  (void)close(fd);
  assert_int_equal(bw_spool_open(path, BW_SPOOL_MIN_SIZE, &s, &warns, &errs), 0);
  assert_int_equal(warns.n, 1);
  assert_non_null(strstr(warns.msg[0], "cut short"));
  assert_int_equal(bw_spool_count(s), 2);
  for (int i = 0; i < 2; i++) {
    make_run(&run, i, 4);
    assert_int_equal(bw_spool_peek(s, &back, &errs), 0);
    assert_same(&run, &back);
    bw_run_reset(&run);
    bw_run_reset(&back);
    assert_int_equal(bw_spool_pop(s, &errs), 0);
  }
  /* The next record takes the torn one's place. */
  make_run(&run, 7, 1);
  assert_int_equal(bw_spool_push(s, &run, &lost, &n_lost, &errs), 0);
  bw_run_reset(&run);
  bw_spool_close(s);
  bw_errs_clear(&warns);
  assert_int_equal(bw_spool_open(path, BW_SPOOL_MIN_SIZE, &s, &warns, &errs), 0);
  assert_int_equal(warns.n, 0);
  assert_int_equal(bw_spool_count(s), 1);
  bw_spool_close(s);
  assert_int_equal(errs.n, 0);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(encode_decode),
      cmocka_unit_test(order_across_reopen),
      cmocka_unit_test(full_ring_drops_oldest),
      cmocka_unit_test(torn_last_record),
  };
  return cmocka_run_group_tests(tests, setup, teardown);
}
