/*
 * The connect test: `requests` connections in total, `concurrency` at once, each one a TCP
 * connect and, for an https URL, a full TLS handshake, then closed without a request (the lean
 * engine's connect_only). Cheap enough to run every minute against every backend of a fleet:
 * it measures what a page test's "Connect" folds together, the network's and the TLS stack's
 * share of a request, and fails with the classes every kind uses (dns, connect, tls, timeout).
 *
 * Each connection is one sample (dns_us, connect_us, tls_us). The run keeps the distribution of
 * the TCP connect times in the usual columns (min_us .. max_us, p50_us == connect_p50_us), the
 * median TLS handshake as tls_p50_us, and connections per second as rps.
 */
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bw_lean.h"
#include "bw_probe.h"
#include "bw_stats.h"
#include "bw_url.h"

struct connect;

struct slot {
  struct connect *ct;
  struct bw_lean *conn;
  bool busy;
  bool used; /* conn holds this test's request already */
};

struct connect {
  struct bw_probe base;
  struct slot *slots;
  size_t n_slots;
  int64_t started;
  int64_t finished;
  int64_t last_end_us;
  bool aborting;
  bool in_abort; /* connect_abort() is stopping the slots: it reports when they all are */
  bool reported;
  char *first_error;
  const char *first_class;
};

static void note_error(struct connect *ct, const char *cls, const char *msg) {
  if (ct->first_error)
    return;
  ct->first_class = cls;
  ct->first_error = bw_url_redact_in(msg, ct->base.test.url);
}

/* The sorted values of one sample field over the connections that succeeded; *n their count. */
static double *good_values(const struct bw_run *run, size_t offset, size_t *n) {
  double *v = bw_xmalloc((run->n_samples + 1) * sizeof(*v));
  *n = 0;
  for (size_t i = 0; i < run->n_samples; i++) {
    const struct bw_sample *s = &run->samples[i];
    int64_t val = *(const int64_t *)(const void *)((const char *)s + offset);
    if (!s->error_class && val != BW_NONE)
      v[(*n)++] = (double)val;
  }
  bw_stats_sort(v, *n);
  return v;
}

/* The run's figures from its samples. Pure: the run and the time taken are all it needs. */
static void summarize(struct bw_run *run, int64_t elapsed_us) {
  size_t n, n_tls;
  double *c = good_values(run, offsetof(struct bw_sample, connect_us), &n);
  double *t = good_values(run, offsetof(struct bw_sample, tls_us), &n_tls);
  run->duration_us = elapsed_us;
  run->failed = run->failed_connect + run->failed_receive + run->failed_exception;
  run->rps = elapsed_us > 0 ? (double)run->complete * 1e6 / (double)elapsed_us : (double)NAN;
  if (n > 0) {
    double mean = bw_stats_mean(c, n);
    run->min_us = (int64_t)c[0];
    run->max_us = (int64_t)c[n - 1];
    run->mean_us = llround(mean);
    run->sd_us = llround(bw_stats_sd(c, n, mean));
    run->p50_us = llround(bw_stats_median(c, n));
    run->p90_us = (int64_t)bw_stats_percentile(c, n, 90);
    run->p95_us = (int64_t)bw_stats_percentile(c, n, 95);
    run->p99_us = (int64_t)bw_stats_percentile(c, n, 99);
    run->connect_p50_us = run->p50_us;
  }
  if (n_tls > 0)
    run->tls_p50_us = llround(bw_stats_median(t, n_tls));
  free(c);
  free(t);
}

static void report(struct connect *ct) {
  struct bw_run *run = &ct->base.run;
  if (ct->reported)
    return;
  ct->reported = true;
  summarize(run, (ct->last_end_us ? ct->last_end_us : bw_now_us()) - ct->base.t0_us);
  if (ct->aborting) {
    run->outcome = BW_OUTCOME_ABORTED;
    run->error_class = bw_xstrdup("aborted");
    run->error_message = bw_xstrdup("stopped before all connections were made");
  } else if (run->complete == 0) {
    run->outcome = BW_OUTCOME_FAILED;
    run->error_class = bw_xstrdup(ct->first_class ? ct->first_class : "other");
    run->error_message = bw_xstrdup(ct->first_error ? ct->first_error : "no connection made");
  } else {
    run->outcome = BW_OUTCOME_OK;
  }
  bw_probe_env(run);
  ct->base.done(ct->base.arg, run);
}

/* The request every slot makes: the test's URL and backend, nothing of HTTP. */
static void connect_request(const struct connect *ct, struct bw_request *req) {
  bw_probe_request(&ct->base, req);
  req->method = NULL;
  req->headers = NULL;
  req->n_headers = 0;
  req->http_version = 1;
  req->reuse = false;
  req->connect_only = true;
  req->timeout_us = ct->base.test.timeout_us;
}

static void start_next(struct slot *sl);

static void on_done(void *arg, const struct bw_response *res) {
  struct slot *sl = arg;
  struct connect *ct = sl->ct;
  struct bw_run *run = &ct->base.run;
  struct bw_sample s;

  sl->busy = false;
  ct->finished++;
  ct->last_end_us = res->end_us;
  bw_sample_init(&s);
  s.at_us = res->start_us - ct->base.t0_us;
  s.duration_us = res->total_us > 0 ? res->total_us : res->end_us - res->start_us;
  s.bytes = 0;
  if (res->namelookup_us > 0)
    s.dns_us = res->namelookup_us;
  if (res->connect_us > 0)
    s.connect_us = res->connect_us - res->namelookup_us;
  if (res->appconnect_us > 0)
    s.tls_us = res->appconnect_us - res->connect_us;
  if (res->code != 0) {
    s.error_class = (char *)(uintptr_t)res->error_class;
    if (strcmp(res->error_class, "timeout") == 0)
      run->failed_receive++;
    else if (strcmp(res->error_class, "aborted") != 0)
      run->failed_connect++;
    note_error(ct, res->error_class, res->error);
  } else {
    run->complete++;
  }
  if (res->remote_ip[0]) {
    free(run->remote_ip);
    run->remote_ip = bw_xstrdup(res->remote_ip);
    run->remote_port = res->remote_port;
  }
  (void)bw_run_add_sample(run, &s);

  if (!ct->aborting && ct->started < run->requests)
    start_next(sl);
  if (ct->in_abort)
    return;
  for (size_t i = 0; i < ct->n_slots; i++)
    if (ct->slots[i].busy)
      return;
  report(ct);
}

/* Starts the next connection on sl; one that cannot even start is a failed one. */
static void start_next(struct slot *sl) {
  struct connect *ct = sl->ct;
  struct bw_run *run = &ct->base.run;
  struct bw_request req;
  struct bw_errs errs = {0};

  connect_request(ct, &req);
  req.on_done = on_done;
  req.arg = sl;
  while (ct->started < run->requests) {
    ct->started++;
    int r = sl->used ? bw_lean_restart(sl->conn, &errs) : bw_lean_start(sl->conn, &req, &errs);
    if (r == 0) {
      sl->used = true;
      sl->busy = true;
      return;
    }
    struct bw_sample s;
    bw_sample_init(&s);
    s.at_us = bw_now_us() - ct->base.t0_us;
    s.duration_us = 0;
    s.bytes = 0;
    s.error_class = (char *)(uintptr_t) "other";
    (void)bw_run_add_sample(run, &s);
    run->failed_exception++;
    ct->finished++;
    note_error(ct, "other", errs.n ? errs.msg[0] : "cannot start the connection");
    bw_errs_clear(&errs);
  }
}

static void connect_abort(struct bw_probe *p) {
  struct connect *ct = (struct connect *)p;
  if (ct->reported)
    return;
  ct->aborting = true;
  ct->in_abort = true;
  for (size_t i = 0; i < ct->n_slots; i++)
    if (ct->slots[i].busy)
      bw_lean_abort(ct->slots[i].conn);
  ct->in_abort = false;
  report(ct); /* done may free the probe: nothing after this */
}

static void connect_destroy(struct bw_probe *p) {
  struct connect *ct = (struct connect *)p;
  for (size_t i = 0; ct->slots && i < ct->n_slots; i++)
    bw_lean_free(ct->slots[i].conn);
  free(ct->slots);
  free(ct->first_error);
  bw_probe_release(&ct->base);
  free(ct);
}

struct bw_probe *bw_probe_connect_start(struct bw_loop *loop, const struct bw_test *test,
                                        const char *backend, bw_probe_done_fn done, void *arg,
                                        struct bw_errs *errs) {
  struct connect *ct = bw_xcalloc(1, sizeof(*ct));
  bw_probe_init(&ct->base, test, backend, done, arg);
  ct->base.abort = connect_abort;
  ct->base.destroy = connect_destroy;
  struct bw_run *run = &ct->base.run;
  run->requests = test->requests;
  run->complete = run->failed_connect = run->failed_receive = run->failed_exception = 0;
  struct bw_request req;
  const char *why = NULL;
  connect_request(ct, &req);
  if (!bw_lean_supports(&req, &why)) {
    bw_errs_add(errs, "%s: a connect test cannot use %s", run->url, why);
    connect_destroy(&ct->base);
    return NULL;
  }
  ct->n_slots = (size_t)(test->concurrency < test->requests ? test->concurrency : test->requests);
  ct->slots = bw_xcalloc(ct->n_slots, sizeof(*ct->slots));
  for (size_t i = 0; i < ct->n_slots; i++) {
    ct->slots[i].ct = ct;
    ct->slots[i].conn = bw_lean_new(loop);
    if (!ct->slots[i].conn) {
      bw_errs_add(errs, "%s: cannot create a connection slot", run->url);
      connect_destroy(&ct->base);
      return NULL;
    }
  }
  for (size_t i = 0; i < ct->n_slots && ct->started < run->requests; i++)
    start_next(&ct->slots[i]);
  if (ct->finished == run->requests) {
    bw_errs_add(errs, "%s", ct->first_error ? ct->first_error : "cannot start");
    connect_destroy(&ct->base);
    return NULL;
  }
  return &ct->base;
}
