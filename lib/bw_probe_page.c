/*
 * The page test, with ApacheBench's semantics: `requests` in total, `concurrency` in flight, each
 * slot starting its next request as soon as its last one ends. The figures mean what ab's do:
 * complete and failed requests with ab's breakdown (connect, receive, length, exceptions), non-2xx
 * responses, requests per second over the time taken, total and HTML bytes, and the latency
 * distribution. A failed request is never a latency: the distribution is over the requests that
 * got a 2xx or 3xx response.
 */
#include <inttypes.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bw_check.h"
#include "bw_lean.h"
#include "bw_probe.h"
#include "bw_stats.h"
#include "bw_url.h"

struct page;

/* A page test's client, picked once per run: libcurl's bw_xfer or the lean engine. */
struct engine {
  const char *name; /* as stored in the run */
  void *(*make)(struct bw_loop *loop);
  int (*start)(void *conn, const struct bw_request *req, struct bw_errs *errs);
  int (*restart)(void *conn, struct bw_errs *errs);
  void (*abort)(void *conn);
  void (*destroy)(void *conn);
  void (*park)(void *conn); /* the run is over: an idle connection must not keep the loop */
};

static void *curl_make(struct bw_loop *loop) {
  return bw_xfer_new(loop);
}
static int curl_start(void *conn, const struct bw_request *req, struct bw_errs *errs) {
  return bw_xfer_start(conn, req, errs);
}
static int curl_restart(void *conn, struct bw_errs *errs) {
  return bw_xfer_restart(conn, errs);
}
static void curl_abort(void *conn) {
  bw_xfer_abort(conn);
}
static void curl_destroy(void *conn) {
  bw_xfer_free(conn);
}
static void curl_park(void *conn) {
  (void)conn; /* curl watches no idle connection */
}
static void *lean_make(struct bw_loop *loop) {
  return bw_lean_new(loop);
}
static int lean_start(void *conn, const struct bw_request *req, struct bw_errs *errs) {
  return bw_lean_start(conn, req, errs);
}
static int lean_restart(void *conn, struct bw_errs *errs) {
  return bw_lean_restart(conn, errs);
}
static void lean_abort(void *conn) {
  bw_lean_abort(conn);
}
static void lean_destroy(void *conn) {
  bw_lean_free(conn);
}

static void lean_park(void *conn) {
  bw_lean_park(conn);
}

static const struct engine curl_engine = {
    .name = "curl",
    .make = curl_make,
    .start = curl_start,
    .restart = curl_restart,
    .abort = curl_abort,
    .destroy = curl_destroy,
    .park = curl_park,
};
static const struct engine lean_engine = {
    .name = "lean",
    .make = lean_make,
    .start = lean_start,
    .restart = lean_restart,
    .abort = lean_abort,
    .destroy = lean_destroy,
    .park = lean_park,
};

struct slot {
  struct page *page;
  void *conn; /* the engine's: a bw_xfer or a bw_lean */
  bool busy;
  bool used; /* conn holds this test's request already */
};

struct page {
  struct bw_probe base;
  struct bw_loop *loop;
  const struct engine *engine;
  struct slot *slots;
  size_t n_slots;
  int64_t started;
  int64_t finished;
  int64_t first_len; /* body length of the first complete response (ab's length check), or -1 */
  int64_t last_end_us;
  bool aborting;
  bool in_abort; /* page_abort() is stopping the slots: it reports when they all are */
  bool reported;
  char *first_error;
  const char *first_class;
  bool check;        /* the test has an expect: each response is checked */
  char *check_error; /* the first failed check's words */
  bool any_status;   /* expect names the statuses that pass: any of them is a latency */
};

static bool status_ok(long status) {
  return status >= 200 && status < 400;
}

/*
 * A request that counts as a latency: it got a response that did not fail, with a 2xx or 3xx
 * status, or with any status when the test's expect names the statuses that pass (the check
 * failed the others).
 */
static bool good_sample(const struct bw_sample *s, bool any_status) {
  return !s->error_class && (any_status || status_ok((long)s->status));
}

/*
 * ab's four kinds of failed request, by error class. A body shorter than its Content-Length is a
 * "Length" failure, as a response of another length than the first is in ab: either way the bytes
 * that came are not the page. Classes not listed (protocol, redirect, other) are exceptions.
 */
static const struct {
  const char *cls;
  size_t counter; /* of an int64_t in struct bw_run */
} ab_failures[] = {
    {.cls = "dns", .counter = offsetof(struct bw_run, failed_connect)},
    {.cls = "connect", .counter = offsetof(struct bw_run, failed_connect)},
    {.cls = "tls", .counter = offsetof(struct bw_run, failed_connect)},
    {.cls = "reset", .counter = offsetof(struct bw_run, failed_receive)},
    {.cls = "timeout", .counter = offsetof(struct bw_run, failed_receive)},
    {.cls = "empty", .counter = offsetof(struct bw_run, failed_receive)},
    {.cls = "length", .counter = offsetof(struct bw_run, failed_length)},
};

static void count_failure(struct bw_run *run, const char *cls) {
  size_t counter = offsetof(struct bw_run, failed_exception);
  for (size_t i = 0; i < sizeof(ab_failures) / sizeof(ab_failures[0]); i++)
    if (strcmp(ab_failures[i].cls, cls) == 0)
      counter = ab_failures[i].counter;
  (*(int64_t *)(void *)((char *)run + counter))++;
}

static void note_error(struct page *pg, const char *cls, const char *msg) {
  if (pg->first_error)
    return;
  pg->first_class = cls;
  pg->first_error = bw_probe_redact(&pg->base, msg);
}

/* Median of one phase over the good requests, or BW_NONE. */
static int64_t phase_median(const struct bw_run *run, size_t offset, bool any_status) {
  double *v = bw_xmalloc((run->n_samples + 1) * sizeof(*v));
  size_t n = 0;
  for (size_t i = 0; i < run->n_samples; i++) {
    const struct bw_sample *s = &run->samples[i];
    int64_t val = *(const int64_t *)(const void *)((const char *)s + offset);
    if (good_sample(s, any_status) && val != BW_NONE)
      v[n++] = (double)val;
  }
  bw_stats_sort(v, n);
  int64_t m = n ? (int64_t)llround(bw_stats_median(v, n)) : BW_NONE;
  free(v);
  return m;
}

/* ab's figures from the samples. Pure: the run and the time taken are all it needs. */
static void summarize(struct bw_run *run, int64_t elapsed_us, bool any_status) {
  double *lat = bw_xmalloc((run->n_samples + 1) * sizeof(*lat));
  size_t n = 0;
  for (size_t i = 0; i < run->n_samples; i++) {
    const struct bw_sample *s = &run->samples[i];
    if (good_sample(s, any_status))
      lat[n++] = (double)s->duration_us;
  }
  run->duration_us = elapsed_us;
  run->failed =
      run->failed_connect + run->failed_receive + run->failed_length + run->failed_exception;
  if (run->failed_check != BW_NONE)
    run->failed += run->failed_check;
  run->rps = elapsed_us > 0 ? (double)run->complete * 1e6 / (double)elapsed_us : (double)NAN;
  /* ab's "Transfer rate": every byte received, headers included, over the time taken. */
  if (elapsed_us > 0 && run->complete > 0 && run->bytes != BW_NONE)
    run->transfer_bps = (int64_t)((double)run->bytes * 1e6 / (double)elapsed_us);
  if (n > 0) {
    double mean = bw_stats_mean(lat, n);
    bw_stats_sort(lat, n);
    run->min_us = (int64_t)lat[0];
    run->max_us = (int64_t)lat[n - 1];
    run->mean_us = llround(mean);
    run->sd_us = llround(bw_stats_sd(lat, n, mean));
    run->p50_us = llround(bw_stats_median(lat, n));
    run->p90_us = (int64_t)bw_stats_percentile(lat, n, 90);
    run->p95_us = (int64_t)bw_stats_percentile(lat, n, 95);
    run->p99_us = (int64_t)bw_stats_percentile(lat, n, 99);
    run->mode_us = llround(bw_stats_mode(lat, n));
    run->ttfb_p50_us = phase_median(run, offsetof(struct bw_sample, ttfb_us), any_status);
    /* ab's "Connect": everything before the request could be sent (DNS, TCP, TLS). */
    double *c = bw_xmalloc(n * sizeof(*c));
    size_t k = 0;
    for (size_t i = 0; i < run->n_samples; i++) {
      const struct bw_sample *s = &run->samples[i];
      if (!good_sample(s, any_status))
        continue;
      c[k++] = (double)((s->dns_us > 0 ? s->dns_us : 0) + (s->connect_us > 0 ? s->connect_us : 0) +
                        (s->tls_us > 0 ? s->tls_us : 0));
    }
    bw_stats_sort(c, k);
    run->connect_p50_us = llround(bw_stats_median(c, k));
    free(c);
  }
  free(lat);
}

void bw_probe_page_finish(struct bw_run *run, int64_t elapsed_us, bool aborted,
                          const struct bw_expect *expect, const char *first_class,
                          const char *first_error, const char *check_error) {
  bool check = expect->n_status > 0 || expect->body_contains;
  summarize(run, elapsed_us, expect->n_status > 0);
  if (aborted) {
    run->outcome = BW_OUTCOME_ABORTED;
    run->error_class = bw_xstrdup("aborted");
    run->error_message = bw_xstrdup("stopped before all requests were done");
  } else if (run->complete == 0) {
    run->outcome = BW_OUTCOME_FAILED;
    run->error_class = bw_xstrdup(first_class ? first_class : "other");
    run->error_message = bw_xstrdup(first_error ? first_error : "no request completed");
  } else if (check && run->failed_check == run->complete) {
    run->outcome = BW_OUTCOME_FAILED;
    run->error_class = bw_xstrdup("check");
    run->error_message =
        bw_xstrdup(check_error ? check_error : "every response failed the check");
  } else if (run->p50_us == BW_NONE) {
    run->outcome = BW_OUTCOME_FAILED;
    run->error_class = bw_xstrdup("http");
    run->error_message = bw_xasprintf("HTTP %" PRId64 " on every response", run->status);
  } else {
    run->outcome = BW_OUTCOME_OK;
  }
}

static void report(struct page *pg) {
  struct bw_run *run = &pg->base.run;
  if (pg->reported)
    return;
  pg->reported = true;
  for (size_t i = 0; i < pg->n_slots; i++)
    pg->engine->park(pg->slots[i].conn);
  bw_probe_page_finish(run, (pg->last_end_us ? pg->last_end_us : bw_now_us()) - pg->base.t0_us,
                       pg->aborting, &pg->base.test.expect, pg->first_class, pg->first_error,
                       pg->check_error);
  bw_probe_env(run);
  pg->base.done(pg->base.arg, run);
}

static void start_next(struct slot *sl);

/* Keeps the first failed check's words (msg is taken). */
static void note_check(struct page *pg, char *msg) {
  note_error(pg, "check", msg);
  if (!pg->check_error)
    pg->check_error = msg;
  else
    free(msg);
}

/* The test's expect against one response; a failure's words go to the run's first error. */
static bool check_response(struct page *pg, const struct bw_response *res) {
  const struct bw_expect *e = &pg->base.test.expect;
  if (!bw_check_status(res->status, e->status, e->n_status)) {
    struct bw_buf b = {0};
    bw_buf_printf(&b, "HTTP %ld, expected ", res->status);
    for (size_t i = 0; i < e->n_status; i++)
      bw_buf_printf(&b, "%s%s", i == 0 ? "" : i + 1 == e->n_status ? " or " : ", ", e->status[i]);
    note_check(pg, b.s);
    return false;
  }
  if (!res->body_found) {
    char *msg = bw_xasprintf("HTTP %ld, and the body does not contain \"%s\"", res->status,
                             e->body_contains);
    note_check(pg, msg);
    return false;
  }
  return true;
}

/* The request every slot sends. */
static void page_request(const struct page *pg, struct bw_request *req) {
  bw_probe_request(&pg->base, req);
  req->reuse = pg->base.test.keepalive;
  req->timeout_us = pg->base.test.timeout_us;
}

static void on_done(void *arg, const struct bw_response *res) {
  struct slot *sl = arg;
  struct page *pg = sl->page;
  struct bw_run *run = &pg->base.run;
  struct bw_sample s;

  sl->busy = false;
  pg->finished++;
  atomic_store_explicit(&pg->base.finished, pg->finished, memory_order_relaxed);
  pg->last_end_us = res->end_us;
  bw_sample_init(&s);
  s.at_us = res->start_us - pg->base.t0_us;
  s.duration_us = res->total_us > 0 ? res->total_us : res->end_us - res->start_us;
  s.bytes = res->body_bytes;
  s.status = res->status;
  if (res->namelookup_us > 0 || res->connect_us > 0)
    s.dns_us = res->namelookup_us;
  if (res->connect_us > 0)
    s.connect_us = res->connect_us - res->namelookup_us;
  else if (res->code == 0)
    s.connect_us = 0; /* a reused connection: nothing to connect */
  if (res->appconnect_us > 0)
    s.tls_us = res->appconnect_us - res->connect_us;
  if (res->starttransfer_us > 0)
    s.ttfb_us = res->starttransfer_us - res->pretransfer_us;

  if (res->code != 0) {
    s.error_class = (char *)(uintptr_t)res->error_class;
    count_failure(run, res->error_class);
    note_error(pg, res->error_class, res->error);
  } else {
    run->complete++;
    run->bytes = (run->bytes == BW_NONE ? 0 : run->bytes) + res->header_bytes + res->body_bytes;
    run->html_bytes = (run->html_bytes == BW_NONE ? 0 : run->html_bytes) + res->body_bytes;
    run->status = res->status;
    if (res->status < 200 || res->status >= 300)
      run->non_2xx++;
    /* ab: every response must have the length of the first; a different one is a failure. */
    if (pg->first_len < 0)
      pg->first_len = res->body_bytes;
    else if (res->body_bytes != pg->first_len)
      run->failed_length++;
    if (pg->check && !check_response(pg, res)) {
      run->failed_check++;
      s.error_class = (char *)(uintptr_t) "check";
    }
  }
  if (res->cert_not_after_us > 0 &&
      (run->cert_expires_us == BW_NONE || res->cert_not_after_us < run->cert_expires_us))
    run->cert_expires_us = res->cert_not_after_us;
  if (res->remote_ip[0]) {
    free(run->remote_ip);
    run->remote_ip = bw_xstrdup(res->remote_ip);
    run->remote_port = res->remote_port;
  }
  if (res->http_version[0] && !run->http_version)
    run->http_version = bw_xstrdup(res->http_version);
  (void)bw_run_add_sample(run, &s);

  if (!pg->aborting && pg->started < run->requests)
    start_next(sl);
  if (pg->in_abort)
    return;
  for (size_t i = 0; i < pg->n_slots; i++)
    if (pg->slots[i].busy)
      return;
  report(pg);
}

/* Starts the next request on sl; a request that cannot even start is a failed one. */
static void start_next(struct slot *sl) {
  struct page *pg = sl->page;
  struct bw_run *run = &pg->base.run;
  struct bw_request req;
  struct bw_errs errs = {0};

  page_request(pg, &req);
  req.on_done = on_done;
  req.arg = sl;
  while (pg->started < run->requests) {
    pg->started++;
    /* The first request on a slot sets the handle up; the rest reuse the setup as it is. */
    int r =
        sl->used ? pg->engine->restart(sl->conn, &errs) : pg->engine->start(sl->conn, &req, &errs);
    if (r == 0) {
      sl->used = true;
      sl->busy = true;
      return;
    }
    struct bw_sample s;
    bw_sample_init(&s);
    s.at_us = bw_now_us() - pg->base.t0_us;
    s.duration_us = 0;
    s.bytes = 0;
    s.status = 0;
    s.error_class = (char *)(uintptr_t) "other";
    (void)bw_run_add_sample(run, &s);
    run->failed_exception++;
    pg->finished++;
    atomic_store_explicit(&pg->base.finished, pg->finished, memory_order_relaxed);
    note_error(pg, "other", errs.n ? errs.msg[0] : "cannot start the request");
    bw_errs_clear(&errs);
  }
}

static void page_abort(struct bw_probe *p) {
  struct page *pg = (struct page *)p;
  if (pg->reported)
    return;
  pg->aborting = true;
  pg->in_abort = true;
  for (size_t i = 0; i < pg->n_slots; i++)
    if (pg->slots[i].busy)
      pg->engine->abort(pg->slots[i].conn);
  pg->in_abort = false;
  report(pg); /* done may free the probe: nothing after this */
}

static void page_destroy(struct bw_probe *p) {
  struct page *pg = (struct page *)p;
  for (size_t i = 0; pg->slots && i < pg->n_slots; i++)
    pg->engine->destroy(pg->slots[i].conn);
  free(pg->slots);
  free(pg->first_error);
  free(pg->check_error);
  bw_probe_release(&pg->base);
  free(pg);
}

struct bw_probe *bw_probe_page_start(struct bw_loop *loop, const struct bw_test *test,
                                     const char *backend, bw_probe_done_fn done, void *arg,
                                     struct bw_errs *errs) {
  if (test->threads > 1)
    return bw_probe_threads_start(loop, test, backend, done, arg, errs);
  struct page *pg = bw_xcalloc(1, sizeof(*pg));
  bw_probe_init(&pg->base, test, backend, done, arg);
  pg->base.abort = page_abort;
  pg->base.destroy = page_destroy;
  pg->loop = loop;
  pg->first_len = -1;
  struct bw_run *run = &pg->base.run;
  run->requests = test->requests;
  run->complete = run->failed_connect = run->failed_receive = run->failed_length = 0;
  run->failed_exception = run->non_2xx = 0;
  pg->check = test->expect.n_status > 0 || test->expect.body_contains;
  pg->any_status = test->expect.n_status > 0;
  if (pg->check)
    run->failed_check = 0;
  struct bw_request req;
  const char *why = NULL;
  page_request(pg, &req);
  bool lean = bw_lean_supports(&req, &why);
  if (test->engine == BW_ENGINE_LEAN && !lean) {
    bw_errs_add(errs, "%s: engine: lean does not do %s; use engine: curl or auto", run->url, why);
    page_destroy(&pg->base);
    return NULL;
  }
  pg->engine = test->engine == BW_ENGINE_CURL || !lean ? &curl_engine : &lean_engine;
  run->engine = bw_xstrdup(pg->engine->name);
  pg->n_slots = (size_t)(test->concurrency < test->requests ? test->concurrency : test->requests);
  pg->slots = bw_xcalloc(pg->n_slots, sizeof(*pg->slots));
  for (size_t i = 0; i < pg->n_slots; i++) {
    pg->slots[i].page = pg;
    pg->slots[i].conn = pg->engine->make(loop);
    if (!pg->slots[i].conn) {
      bw_errs_add(errs, "%s: cannot create a transfer", pg->base.run.url);
      page_destroy(&pg->base);
      return NULL;
    }
  }
  /* Slots start one by one; a slot whose start fails moves on to the next request itself. */
  for (size_t i = 0; i < pg->n_slots && pg->started < run->requests; i++)
    start_next(&pg->slots[i]);
  if (pg->finished == run->requests) {
    /* Not one request could start (a URL curl refuses): that is the whole answer. */
    bw_errs_add(errs, "%s", pg->first_error ? pg->first_error : "cannot start");
    page_destroy(&pg->base);
    return NULL;
  }
  return &pg->base;
}
