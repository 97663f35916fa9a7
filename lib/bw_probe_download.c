/*
 * The download test, with wget's semantics (one GET, redirects followed, the body counted and
 * discarded) and what wget cannot show: a throughput timeline from the first byte, the stall time
 * in it, and the connection's TCP_INFO at the end. The rate is body bytes over the time from the
 * first body byte to the last, as wget reports it; connecting and waiting are the TTFB.
 *
 * With streams: N, N transfers run at once, as N clients pulling the same image would: each the
 * whole URL (split: whole), or each one of N byte ranges of it (split: ranges; a HEAD first says
 * how long the body is). The run is their aggregate: one timeline of all their bytes, and the
 * rate of all the bytes from the first stream's first byte to the last stream's end. Each
 * stream's own rate (its bytes from its first byte to its end) is kept beside it, with the
 * slowest, the fastest and their spread. A stream that fails fails the run, saying which: under
 * concurrency a failure is a finding, never dropped. The TCP facts are the first stream's.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bw_probe.h"
#include "bw_timeline.h"

/* One of a download's simultaneous transfers. */
struct stream {
  struct download *d;
  struct bw_xfer *x;
  bool running;
  int64_t first, last;    /* split: ranges: the body bytes it asks for, inclusive */
  struct bw_response res; /* how it ended (its strings are static or inside it) */
};

struct download {
  struct bw_probe base;
  struct bw_xfer *x; /* streams: 1 */
  struct bw_timeline tl;
  bool running;
  /* streams: N > 1 */
  struct stream *streams;
  size_t n_streams;
  size_t pending;       /* streams still running */
  bool stopping;        /* inside download_abort(): the last stream's end does not finish */
  struct bw_xfer *head; /* split: ranges: the HEAD that gives the length */
  bool head_running;
  char *failure_class; /* the run fails before or without its streams, for this reason */
  char *failure;
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

/* The run's figures from how the transfer (or the streams' aggregate) ended; done not called. */
static void fill_run(struct download *d, const struct bw_response *res) {
  struct bw_run *run = &d->base.run;
  struct bw_timeline_summary sum;

  run->duration_us = res->end_us - res->start_us;
  run->bytes = res->body_bytes;
  if (res->status > 0)
    run->status = res->status; /* else no response: unmeasured, not 0 */
  if (res->remote_ip[0]) {
    run->remote_ip = bw_xstrdup(res->remote_ip);
    run->remote_port = res->remote_port;
  }
  if (res->http_version && res->http_version[0])
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
}

static void on_done(void *arg, const struct bw_response *res) {
  struct download *d = arg;
  d->running = false;
  fill_run(d, res);
  if (res->cert_not_after_us > 0)
    d->base.run.cert_expires_us = res->cert_not_after_us;
  d->base.done(d->base.arg, &d->base.run); /* may free d: nothing after this */
}

/* ---- streams ---- */

/* A stream's rate as wget gives it: its body bytes from its first byte to its end. */
static int64_t stream_rate(const struct bw_response *res) {
  if (res->body_bytes <= 0 || !res->first_byte_us)
    return 0;
  int64_t us = res->end_us - res->first_byte_us;
  return (int64_t)((double)res->body_bytes * 1e6 / (double)(us > 0 ? us : 1));
}

/* The streams as one transfer: all their bytes, from the first one's start to the last end. */
static void merge_streams(const struct download *d, struct bw_response *ret) {
  const struct stream *s0 = &d->streams[0];
  *ret = s0->res; /* the address, version and TCP facts are the first stream's */
  ret->code = 0;
  ret->error_class = NULL;
  ret->error[0] = '\0';
  ret->body_bytes = 0;
  ret->content_length = 0;
  ret->capped = false;
  for (size_t i = 0; i < d->n_streams; i++) {
    const struct bw_response *r = &d->streams[i].res;
    ret->body_bytes += r->body_bytes;
    if (r->content_length < 0 || ret->content_length < 0)
      ret->content_length = -1;
    else
      ret->content_length += r->content_length;
    ret->capped = ret->capped || r->capped;
    if (r->start_us < ret->start_us)
      ret->start_us = r->start_us;
    if (r->end_us > ret->end_us)
      ret->end_us = r->end_us;
    if (r->headers_us && (!ret->headers_us || r->headers_us < ret->headers_us))
      ret->headers_us = r->headers_us;
    if (r->first_byte_us && (!ret->first_byte_us || r->first_byte_us < ret->first_byte_us))
      ret->first_byte_us = r->first_byte_us;
    if (r->last_byte_us > ret->last_byte_us)
      ret->last_byte_us = r->last_byte_us;
    if (r->last_data_us > ret->last_data_us)
      ret->last_data_us = r->last_data_us;
  }
}

/* Fails the run for one stream's reason, as "stream K of N: why"; an abort stays an abort. */
static void stream_failure(struct download *d, size_t k, const struct stream *s) {
  struct bw_run *run = &d->base.run;
  struct bw_run one;
  bw_run_init(&one);
  if (!set_failure(&one, &s->res)) {
    /* It stands on its own; with ranges it must also have been a range. */
    one.outcome = BW_OUTCOME_FAILED;
    one.error_class = bw_xstrdup("range");
    one.error_message = bw_xasprintf("HTTP %ld to Range bytes=%" PRId64 "-%" PRId64
                                     ": the server does not serve ranges (use split: whole)",
                                     s->res.status, s->first, s->last);
  }
  free(run->error_class);
  free(run->error_message);
  run->outcome = one.outcome;
  run->error_class = one.error_class;
  run->error_message =
      bw_xasprintf("stream %zu of %zu: %s", k + 1, d->n_streams, one.error_message);
  one.error_class = NULL;
  bw_run_reset(&one);
  run->rate_bps = BW_NONE;
}

/* Whether stream s failed on its own (a 2xx with a body, and with ranges, a 206). */
static bool stream_failed(const struct download *d, const struct stream *s) {
  struct bw_run one;
  bw_run_init(&one);
  bool failed = set_failure(&one, &s->res);
  bw_run_reset(&one);
  return failed || (d->base.test.split_ranges && s->res.status != 206);
}

/* The streams' own rates, extremes and spread. */
static void stream_figures(struct download *d) {
  struct bw_run *run = &d->base.run;
  struct bw_buf b = {0};
  double sum = 0, sq = 0;
  run->streams = (int64_t)d->n_streams;
  for (size_t i = 0; i < d->n_streams; i++) {
    int64_t r = stream_rate(&d->streams[i].res);
    if (i == 0 || r < run->stream_min_bps)
      run->stream_min_bps = r;
    if (i == 0 || r > run->stream_max_bps)
      run->stream_max_bps = r;
    sum += (double)r;
    bw_buf_printf(&b, "%s%" PRId64, i ? " " : "", r);
  }
  double mean = sum / (double)d->n_streams;
  for (size_t i = 0; i < d->n_streams; i++) {
    double dev = (double)stream_rate(&d->streams[i].res) - mean;
    sq += dev * dev;
  }
  run->stream_spread = mean > 0 ? sqrt(sq / (double)d->n_streams) / mean : (double)NAN;
  run->stream_rates = bw_buf_take(&b);
}

/* Every stream has ended, or none could start: the run, then done. */
static void streams_finish(struct download *d) {
  struct bw_run *run = &d->base.run;
  struct bw_response merged;

  if (d->failure_class && d->pending == d->n_streams) {
    /* Nothing ran (the HEAD failed, or no stream started). */
    run->duration_us = bw_now_us() - d->base.t0_us;
    run->outcome =
        strcmp(d->failure_class, "aborted") == 0 ? BW_OUTCOME_ABORTED : BW_OUTCOME_FAILED;
    run->error_class = bw_xstrdup(d->failure_class);
    run->error_message = bw_xstrdup(d->failure);
    d->base.done(d->base.arg, run); /* may free d: nothing after this */
    return;
  }
  merge_streams(d, &merged);
  fill_run(d, &merged);
  run->duration_us = merged.end_us - d->base.t0_us; /* the HEAD included */
  bool aborted = false;
  for (size_t i = 0; i < d->n_streams; i++)
    aborted = aborted || (d->streams[i].res.error_class &&
                          strcmp(d->streams[i].res.error_class, "aborted") == 0);
  /* The first stream that failed (or stopped, when the run was aborted) says why. */
  for (size_t i = 0; i < d->n_streams; i++) {
    const struct stream *s = &d->streams[i];
    bool is_abort = s->res.error_class && strcmp(s->res.error_class, "aborted") == 0;
    if (aborted ? is_abort : stream_failed(d, s)) {
      stream_failure(d, i, s);
      break;
    }
  }
  if (run->outcome == BW_OUTCOME_OK || run->outcome == BW_OUTCOME_PARTIAL)
    stream_figures(d);
  d->base.done(d->base.arg, run); /* may free d: nothing after this */
}

/* Every stream's bytes go to the one timeline: the aggregate's. */
static void stream_data(void *arg, size_t bytes, int64_t now_us) {
  struct stream *s = arg;
  bw_timeline_add(&s->d->tl, now_us, (int64_t)bytes);
}

static void stream_done(void *arg, const struct bw_response *res) {
  struct stream *s = arg;
  struct download *d = s->d;
  s->running = false;
  s->res = *res;
  if (res->cert_not_after_us > 0 && (d->base.run.cert_expires_us == BW_NONE ||
                                     res->cert_not_after_us < d->base.run.cert_expires_us))
    d->base.run.cert_expires_us = res->cert_not_after_us;
  d->pending--;
  if (d->pending == 0 && !d->stopping)
    streams_finish(d);
}

/* Starts every stream; on failure stops those started (without their done) and says why. */
static int streams_launch(struct download *d, int64_t left_us, struct bw_errs *errs) {
  const struct bw_test *t = &d->base.test;
  int64_t n = (int64_t)d->n_streams;
  for (size_t i = 0; i < d->n_streams; i++) {
    struct stream *s = &d->streams[i];
    struct bw_request req;
    char range[64];
    bw_probe_request(&d->base, &req);
    req.method = "GET";
    req.reuse = false;
    req.follow_redirects = true;
    req.connect_timeout_us = t->timeout_us;
    req.idle_timeout_us = t->timeout_us;
    req.max_time_us = left_us;
    if (t->split_ranges) {
      (void)snprintf(range, sizeof(range), "%" PRId64 "-%" PRId64, s->first, s->last);
      req.range = range;
      /* One byte past the range: a server that ignores ranges is cut there, not read whole. */
      req.max_bytes = s->last - s->first + 2;
    } else if (t->max_bytes > 0) {
      req.max_bytes = (t->max_bytes + n - 1) / n; /* max_bytes is the aggregate's */
    }
    req.tcp_info = i == 0;
    req.tcp_sample_us = d->tl.interval_us;
    req.on_data = stream_data;
    req.on_done = stream_done;
    req.arg = s;
    if (bw_probe_xfer_start(&d->base, s->x, &req, errs) < 0) {
      for (size_t j = 0; j < i; j++) {
        bw_xfer_free(d->streams[j].x); /* stopped without its done */
        d->streams[j].x = NULL;
        d->streams[j].running = false;
      }
      return -EIO;
    }
    s->running = true;
  }
  return 0;
}

/* Divides the body (up to max_bytes) into one range per stream, the last taking the remainder. */
static void split_ranges(struct download *d, int64_t length) {
  int64_t total = d->base.test.max_bytes > 0 && d->base.test.max_bytes < length
                      ? d->base.test.max_bytes
                      : length;
  int64_t n = (int64_t)d->n_streams, share = total / n, at = 0;
  for (size_t i = 0; i < d->n_streams; i++) {
    d->streams[i].first = at;
    at = i + 1 == d->n_streams ? total : at + share;
    d->streams[i].last = at - 1;
  }
}

static void fail_early(struct download *d, const char *cls, char *msg) {
  d->failure_class = bw_xstrdup(cls);
  d->failure = msg;
  streams_finish(d);
}

static void head_done(void *arg, const struct bw_response *res) {
  struct download *d = arg;
  struct bw_errs errs = {0};
  d->head_running = false;
  if (res->code != 0) {
    fail_early(d, res->error_class, bw_xasprintf("HEAD for the ranges: %s", res->error));
    return;
  }
  if (res->status < 200 || res->status >= 300) {
    fail_early(d, "http", bw_xasprintf("HEAD for the ranges: HTTP %ld", res->status));
    return;
  }
  if (res->content_length < (int64_t)d->n_streams) {
    fail_early(d, "range",
               res->content_length < 0
                   ? bw_xasprintf("HEAD for the ranges: no Content-Length, so no ranges to split "
                                  "(use split: whole)")
                   : bw_xasprintf("HEAD for the ranges: %" PRId64 " bytes cannot make %zu ranges",
                                  res->content_length, d->n_streams));
    return;
  }
  split_ranges(d, res->content_length);
  int64_t left = 0;
  if (d->base.test.max_time_us > 0) {
    left = d->base.test.max_time_us - (bw_now_us() - d->base.t0_us);
    if (left < 1000)
      left = 1000;
  }
  if (streams_launch(d, left, &errs) < 0) {
    fail_early(d, "other", bw_xstrdup(errs.n ? errs.msg[0] : "cannot start the streams"));
    bw_errs_clear(&errs);
    return;
  }
}

static void download_abort(struct bw_probe *p) {
  struct download *d = (struct download *)p;
  if (d->running)
    bw_xfer_abort(d->x);
  if (d->head_running) {
    bw_xfer_abort(d->head); /* head_done finishes the run */
    return;
  }
  if (!d->streams || d->pending == 0)
    return;
  d->stopping = true;
  for (size_t i = 0; i < d->n_streams; i++)
    if (d->streams[i].running)
      bw_xfer_abort(d->streams[i].x);
  d->stopping = false;
  if (d->pending == 0)
    streams_finish(d); /* may free d: nothing after this */
}

static void download_destroy(struct bw_probe *p) {
  struct download *d = (struct download *)p;
  bw_xfer_free(d->x);
  bw_xfer_free(d->head);
  for (size_t i = 0; i < d->n_streams; i++)
    bw_xfer_free(d->streams[i].x);
  free(d->streams);
  free(d->failure_class);
  free(d->failure);
  bw_timeline_reset(&d->tl);
  bw_probe_release(&d->base);
  free(d);
}

/* streams: N > 1: N transfers, after a HEAD with split: ranges. */
static int start_streams(struct download *d, struct bw_loop *loop, struct bw_errs *errs) {
  const struct bw_test *t = &d->base.test;
  d->n_streams = (size_t)t->streams;
  d->streams = bw_xcalloc(d->n_streams, sizeof(*d->streams));
  for (size_t i = 0; i < d->n_streams; i++) {
    d->streams[i].d = d;
    d->streams[i].x = bw_xfer_new(loop);
    if (!d->streams[i].x) {
      bw_errs_add(errs, "%s: cannot create a transfer", d->base.run.url);
      return -ENOMEM;
    }
  }
  d->pending = d->n_streams;
  if (!t->split_ranges)
    return streams_launch(d, t->max_time_us, errs);
  struct bw_request req;
  d->head = bw_xfer_new(loop);
  if (!d->head) {
    bw_errs_add(errs, "%s: cannot create a transfer", d->base.run.url);
    return -ENOMEM;
  }
  bw_probe_request(&d->base, &req);
  req.method = "HEAD";
  req.follow_redirects = true;
  req.connect_timeout_us = t->timeout_us;
  req.timeout_us = t->timeout_us;
  req.on_done = head_done;
  req.arg = d;
  if (bw_probe_xfer_start(&d->base, d->head, &req, errs) < 0)
    return -EIO;
  d->head_running = true;
  return 0;
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
  if (test->streams > 1) {
    if (start_streams(d, loop, errs) < 0)
      goto fail;
    return &d->base;
  }
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
