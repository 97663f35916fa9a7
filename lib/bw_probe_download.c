/*
 * The download test, with wget's semantics (one GET, redirects followed, the body counted and
 * discarded) and what wget cannot show: a throughput timeline from the first byte, the stall time
 * in it, and the connection's TCP_INFO at the end. The rate is body bytes over the time from the
 * first body byte to the last, as wget reports it; connecting and waiting are the TTFB.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bw_probe.h"
#include "bw_timeline.h"

struct download {
  struct bw_probe base;
  struct bw_xfer *x;
  struct bw_timeline tl;
  bool running;
};

static void on_data(void *arg, size_t bytes, int64_t now_us) {
  struct download *d = arg;
  bw_timeline_add(&d->tl, now_us, (int64_t)bytes);
  /* The body so far, for a progress display (bw_probe.h); the end sets the final count. */
  d->base.run.bytes = (d->base.run.bytes == BW_NONE ? 0 : d->base.run.bytes) + (int64_t)bytes;
}

static char *tcp_options(const struct bw_tcp_facts *t) {
  char ws[32] = "nowscale";
  if (t->wscale)
    (void)snprintf(ws, sizeof(ws), "wscale:%d/%d", t->snd_wscale, t->rcv_wscale);
  return bw_xasprintf("%s,%s,%s", t->timestamps ? "ts" : "nots", t->sack ? "sack" : "nosack", ws);
}

/* A count the kernel did not give (-1) is not measured: NULL, never 0. */
static int64_t known(int64_t v) {
  return v >= 0 ? v : BW_NONE;
}

/*
 * The receiver's facts of the connection. tcp_retrans and tcp_pmtu are left unmeasured: on a
 * download they are the client's own send-side facts (its retransmits of a request, its own path
 * MTU cache), and were read as the server's.
 */
static void tcp_facts(struct bw_run *run, const struct bw_tcp_facts *t) {
  run->tcp_rtt_us = t->rtt_us;
  run->tcp_rttvar_us = t->rttvar_us;
  run->tcp_snd_mss = t->snd_mss;
  run->tcp_rcv_mss = t->rcv_mss;
  run->tcp_advmss = t->advmss;
  run->tcp_rcv_space = t->rcv_space;
  run->tcp_rcv_rtt_us = known(t->rcv_rtt_us);
  run->tcp_rcv_rtt_max_us = known(t->rcv_rtt_max_us);
  run->tcp_bytes_received = known(t->bytes_received);
  run->tcp_segs_in = known(t->segs_in);
  run->tcp_rcv_ooopack = known(t->rcv_ooopack);
  run->tcp_rcv_wnd_min = known(t->rcv_wnd_min);
  run->tcp_zero_window = known(t->zero_window);
  run->tcp_rcvq_max = known(t->rcvq_max);
  run->tcp_samples = t->samples;
  run->tcp_options = tcp_options(t);
}

static bool status_ok(long status) {
  return status >= 200 && status < 300;
}

/*
 * Decides whether the transfer failed, and if so sets the run's outcome, class and message. One
 * fact, one outcome, whichever timer or event ended it:
 *  - a 2xx response without one body byte is "nobody", be it cut by the silence timer, by
 *    max_time, by the server closing or resetting, or complete but empty: there is no rate;
 *  - otherwise curl's error, when there is one (a silence after some body is "timeout");
 *  - max_time before any response is a "timeout" too: a cap is only partial with a body;
 *  - a status other than 2xx is "http";
 *  - a body shorter than its Content-Length, not stopped by a cap, is "length".
 * Returns false, touching nothing, when the run stands (ok, or partial at a cap).
 */
static bool set_failure(struct bw_run *run, const struct bw_response *res) {
  const char *cls;
  char *msg;
  if (res->error_class && strcmp(res->error_class, "aborted") == 0) {
    run->outcome = BW_OUTCOME_ABORTED;
    run->error_class = bw_xstrdup(res->error_class);
    run->error_message = bw_xstrdup(res->error);
    return true;
  }
  if (res->body_bytes == 0 && status_ok(res->status)) {
    cls = "nobody";
    if (res->code != 0)
      msg = bw_xstrdup(res->error); /* the silence timer's words, or curl's: how it ended */
    else if (res->capped)
      msg = bw_xasprintf("HTTP %ld, then no body byte before max_time (%.1f s)", res->status,
                         (double)(res->end_us - res->start_us) / 1e6);
    else
      msg = bw_xasprintf("HTTP %ld with an empty body", res->status);
  } else if (res->code != 0) {
    cls = res->error_class;
    msg = bw_xstrdup(res->error);
  } else if (res->status == 0) {
    cls = "timeout";
    msg = bw_xasprintf("no response before max_time (%.1f s)",
                       (double)(res->end_us - res->start_us) / 1e6);
  } else if (!status_ok(res->status)) {
    cls = "http";
    msg = bw_xasprintf("HTTP %ld", res->status);
  } else if (!res->capped && res->content_length > res->body_bytes) {
    cls = "length";
    msg = bw_xasprintf("%" PRId64 " of the %" PRId64 " bytes announced", res->body_bytes,
                       res->content_length);
  } else {
    return false;
  }
  run->outcome = BW_OUTCOME_FAILED;
  run->error_class = bw_xstrdup(cls);
  run->error_message = msg;
  return true;
}

static void on_done(void *arg, const struct bw_response *res) {
  struct download *d = arg;
  struct bw_run *run = &d->base.run;
  struct bw_timeline_summary sum;

  d->running = false;
  run->duration_us = res->end_us - res->start_us;
  run->bytes = res->body_bytes;
  if (res->status > 0)
    run->status = res->status; /* else no response: unmeasured, not 0 */
  if (res->remote_ip[0]) {
    run->remote_ip = bw_xstrdup(res->remote_ip);
    run->remote_port = res->remote_port;
  }
  if (res->http_version[0])
    run->http_version = bw_xstrdup(res->http_version);
  bw_probe_env(run);
  if (res->headers_us)
    run->headers_us = res->headers_us - res->start_us;
  if (res->first_byte_us)
    run->ttfb_us = res->first_byte_us - res->start_us;
  if (res->last_byte_us)
    run->last_byte_us = res->last_byte_us - res->start_us;
  /* Where it stopped and for how long it had been silent: the silence timer's, or max_time's,
   * or none worth saying when the server closed after its last byte. */
  run->end_silence_us = res->end_us - (res->last_data_us ? res->last_data_us : res->start_us);

  bw_timeline_finish(&d->tl, res->end_us, d->base.test.stall_rate, &sum);
  for (size_t i = 0; i < d->tl.n; i++) {
    struct bw_sample s;
    bw_sample_init(&s);
    s.at_us = d->tl.origin_us - d->base.t0_us + (int64_t)i * d->tl.interval_us;
    s.duration_us = bw_timeline_step_us(&d->tl, i, res->end_us);
    s.bytes = d->tl.bins[i];
    (void)bw_run_add_sample(run, &s);
  }
  if (sum.steps > 0) {
    run->stall_us = sum.stall_us;
    run->min_rate_bps = sum.min_rate_bps;
    run->max_rate_bps = sum.max_rate_bps;
    run->stalls = sum.silences;
    if (sum.silences > 0) {
      run->stall_first_at_us = d->tl.origin_us - d->base.t0_us + sum.first_silence_at_us;
      run->stall_first_bytes = sum.first_silence_bytes;
      run->stall_longest_us = sum.longest_silence_us;
    }
  }
  if (res->tcp.valid)
    tcp_facts(run, &res->tcp);

  if (!set_failure(run, res)) {
    run->outcome = res->capped ? BW_OUTCOME_PARTIAL : BW_OUTCOME_OK;
    if (res->capped)
      run->error_message = bw_xasprintf("stopped at the cap after %" PRId64 " bytes and %.1f s",
                                        res->body_bytes, (double)run->duration_us / 1e6);
    /* At least one body byte arrived, so the first byte is known; a body that came in one
     * piece at the very end still took a microsecond. */
    int64_t body_us = res->end_us - res->first_byte_us;
    run->rate_bps = (int64_t)((double)res->body_bytes * 1e6 / (double)(body_us > 0 ? body_us : 1));
  }
  d->base.done(d->base.arg, run); /* may free d: nothing after this */
}

static void download_abort(struct bw_probe *p) {
  struct download *d = (struct download *)p;
  if (d->running)
    bw_xfer_abort(d->x);
}

static void download_destroy(struct bw_probe *p) {
  struct download *d = (struct download *)p;
  bw_xfer_free(d->x);
  bw_timeline_reset(&d->tl);
  bw_probe_release(&d->base);
  free(d);
}

struct bw_probe *bw_probe_download_start(struct bw_loop *loop, const struct bw_test *test,
                                         const char *backend, bw_probe_done_fn done, void *arg,
                                         struct bw_errs *errs) {
  struct download *d = bw_xcalloc(1, sizeof(*d));
  struct bw_request req;
  bw_probe_init(&d->base, test, backend, done, arg);
  d->base.abort = download_abort;
  d->base.destroy = download_destroy;
  bw_timeline_init(&d->tl, test->interval_us);
  d->x = bw_xfer_new(loop);
  if (!d->x) {
    bw_errs_add(errs, "%s: cannot create a transfer", d->base.run.url);
    goto fail;
  }
  bw_probe_request(&d->base, &req);
  req.method = "GET";
  req.reuse = false;
  req.follow_redirects = true;
  req.connect_timeout_us = test->timeout_us;
  req.idle_timeout_us = test->timeout_us;
  req.max_time_us = test->max_time_us;
  req.max_bytes = test->max_bytes;
  req.tcp_info = true;
  req.tcp_sample_us = d->tl.interval_us; /* one reading per timeline step */
  req.on_data = on_data;
  req.on_done = on_done;
  req.arg = d;
  if (bw_probe_xfer_start(&d->base, d->x, &req, errs) < 0)
    goto fail;
  d->running = true;
  return &d->base;
fail:
  download_destroy(&d->base);
  return NULL;
}
