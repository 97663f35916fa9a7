#include "bw_result.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bw_util.h"

static const char *const outcome_names[] = {
    [BW_OUTCOME_OK] = "ok",
    [BW_OUTCOME_FAILED] = "failed",
    [BW_OUTCOME_PARTIAL] = "partial",
    [BW_OUTCOME_ABORTED] = "aborted",
};

#define N_ELEM(a) (sizeof(a) / sizeof((a)[0]))

const char *bw_outcome_name(enum bw_outcome outcome) {
  return (unsigned)outcome < N_ELEM(outcome_names) ? outcome_names[outcome] : NULL;
}

static int lookup(const char *const *names, size_t n, const char *name) {
  for (size_t i = 0; i < n; i++)
    if (name && strcmp(names[i], name) == 0)
      return (int)i;
  return -EINVAL;
}

int bw_outcome_parse(const char *name, enum bw_outcome *ret) {
  int i = lookup(outcome_names, N_ELEM(outcome_names), name);
  if (i < 0)
    return i;
  *ret = (enum bw_outcome)i;
  return 0;
}

#define FIG(field, unit, help) {#field, offsetof(struct bw_run, field), 0, unit, help}
#define FIGR(field, unit, help) {#field, offsetof(struct bw_run, field), 1, unit, help}

const struct bw_figure bw_run_figures[] = {
    FIG(duration_us, BW_UNIT_US, "wall time of the whole run"),
    FIG(remote_port, BW_UNIT_COUNT, "port of the peer that answered"),
    FIG(status, BW_UNIT_COUNT, "last HTTP status seen"),
    FIG(requests, BW_UNIT_COUNT, "page: requests sent"),
    FIG(complete, BW_UNIT_COUNT, "page: complete requests (ab)"),
    FIG(failed, BW_UNIT_COUNT, "page: failed requests (ab)"),
    FIG(failed_connect, BW_UNIT_COUNT, "page: failed requests, connect"),
    FIG(failed_receive, BW_UNIT_COUNT, "page: failed requests, receive"),
    FIG(failed_length, BW_UNIT_COUNT, "page: failed requests, length"),
    FIG(failed_exception, BW_UNIT_COUNT, "page: failed requests, exceptions"),
    FIG(non_2xx, BW_UNIT_COUNT, "page: non-2xx responses"),
    FIG(bytes, BW_UNIT_BYTES, "bytes transferred"),
    FIG(html_bytes, BW_UNIT_BYTES, "page: body bytes (ab's HTML transferred)"),
    FIGR(rps, BW_UNIT_PER_S, "page: requests per second"),
    FIG(min_us, BW_UNIT_US, "page: fastest request"),
    FIG(mean_us, BW_UNIT_US, "page: mean request time"),
    FIG(sd_us, BW_UNIT_US, "page: standard deviation of request time"),
    FIG(p50_us, BW_UNIT_US, "page: median request time"),
    FIG(p90_us, BW_UNIT_US, "page: 90th percentile request time"),
    FIG(p95_us, BW_UNIT_US, "page: 95th percentile request time"),
    FIG(p99_us, BW_UNIT_US, "page: 99th percentile request time"),
    FIG(max_us, BW_UNIT_US, "page: slowest request"),
    FIG(mode_us, BW_UNIT_US, "page: mode of request time"),
    FIG(connect_p50_us, BW_UNIT_US, "page: median connect time; connect: median TCP connect"),
    FIG(ttfb_p50_us, BW_UNIT_US, "page: median time to first byte"),
    FIG(rate_bps, BW_UNIT_BPS, "download: body bytes per second"),
    FIG(ttfb_us, BW_UNIT_US, "download: time to first byte"),
    FIG(stall_us, BW_UNIT_US, "download: time spent below the stall floor"),
    FIG(min_rate_bps, BW_UNIT_BPS, "download: slowest timeline interval"),
    FIG(max_rate_bps, BW_UNIT_BPS, "download: fastest timeline interval"),
    FIG(tcp_rtt_us, BW_UNIT_US, "download: RTT at connect (timed from the client's own sends)"),
    FIG(tcp_rttvar_us, BW_UNIT_US, "download: variance of the RTT at connect"),
    FIG(tcp_retrans, BW_UNIT_COUNT, "download: the client's own retransmits (no longer measured)"),
    FIG(tcp_pmtu, BW_UNIT_BYTES, "download: the client's path MTU cache (no longer measured)"),
    FIG(tcp_snd_mss, BW_UNIT_BYTES, "download: the client's send MSS"),
    FIG(tcp_rcv_mss, BW_UNIT_BYTES, "download: receive MSS (the server's segment size, as seen)"),
    FIG(tcp_rcv_space, BW_UNIT_BYTES, "download: receive space (bytes expected per RTT)"),
    FIG(headers_us, BW_UNIT_US, "download: time to the response headers"),
    FIG(last_byte_us, BW_UNIT_US, "download: time to the last body byte"),
    FIG(end_silence_us, BW_UNIT_US, "download: silence before the transfer ended"),
    FIG(stalls, BW_UNIT_COUNT, "download: silences of a second or more in the body"),
    FIG(stall_first_at_us, BW_UNIT_US, "download: when the first silence began"),
    FIG(stall_first_bytes, BW_UNIT_BYTES, "download: body bytes before the first silence"),
    FIG(stall_longest_us, BW_UNIT_US, "download: the longest silence in the body"),
    FIG(tcp_rcv_rtt_us, BW_UNIT_US, "download: receive RTT at the end"),
    FIG(tcp_rcv_rtt_max_us, BW_UNIT_US, "download: largest receive RTT through the transfer"),
    FIG(tcp_advmss, BW_UNIT_BYTES, "download: MSS the client advertised"),
    FIG(tcp_bytes_received, BW_UNIT_BYTES, "download: bytes received on the connection"),
    FIG(tcp_segs_in, BW_UNIT_COUNT, "download: segments received"),
    FIG(tcp_rcv_ooopack, BW_UNIT_COUNT, "download: packets received out of order"),
    FIG(tcp_rcv_wnd_min, BW_UNIT_BYTES, "download: smallest window the client advertised"),
    FIG(tcp_zero_window, BW_UNIT_COUNT, "download: TCP_INFO readings with a zero window"),
    FIG(tcp_rcvq_max, BW_UNIT_BYTES, "download: most bytes waiting unread in the socket"),
    FIG(tcp_samples, BW_UNIT_COUNT, "download: TCP_INFO readings"),
    FIG(transfer_bps, BW_UNIT_BPS, "page: bytes over the run's wall time (ab's transfer rate)"),
    FIG(streams, BW_UNIT_COUNT, "download: simultaneous transfers (streams)"),
    FIG(stream_min_bps, BW_UNIT_BPS, "download: the slowest stream's rate"),
    FIG(stream_max_bps, BW_UNIT_BPS, "download: the fastest stream's rate"),
    FIGR(stream_spread, BW_UNIT_COUNT, "download: the streams' rates' sd over their mean"),
    FIG(tls_p50_us, BW_UNIT_US, "connect: median TLS handshake time"),
    FIG(failed_check, BW_UNIT_COUNT, "page: responses that failed the test's expect check"),
    FIG(cert_expires_us, BW_UNIT_TIME, "https: when the server's certificate expires (notAfter)"),
    {NULL, 0, 0, BW_UNIT_COUNT, NULL},
};

const struct bw_figure *bw_figure_find(const char *name) {
  for (const struct bw_figure *f = bw_run_figures; f->name; f++)
    if (strcmp(f->name, name) == 0)
      return f;
  return NULL;
}

int bw_figure_get(const struct bw_figure *f, const struct bw_run *run, double *ret) {
  const char *p = (const char *)run + f->offset;
  if (f->real) {
    double v;
    memcpy(&v, p, sizeof(v));
    if (isnan(v))
      return 0;
    *ret = v;
    return 1;
  }
  int64_t v;
  memcpy(&v, p, sizeof(v));
  if (v == BW_NONE)
    return 0;
  *ret = (double)v;
  return 1;
}

void bw_figure_set(const struct bw_figure *f, struct bw_run *run, double value) {
  char *p = (char *)run + f->offset;
  if (f->real) {
    memcpy(p, &value, sizeof(value));
  } else {
    int64_t v = (int64_t)llround(value);
    memcpy(p, &v, sizeof(v));
  }
}

void bw_figure_clear(const struct bw_figure *f, struct bw_run *run) {
  char *p = (char *)run + f->offset;
  if (f->real) {
    double v = NAN;
    memcpy(p, &v, sizeof(v));
  } else {
    int64_t v = BW_NONE;
    memcpy(p, &v, sizeof(v));
  }
}

const char *bw_engine_name(const char *s) {
  static const char *const names[] = {"lean", "curl"};
  for (size_t i = 0; s && i < sizeof(names) / sizeof(names[0]); i++)
    if (strcmp(s, names[i]) == 0)
      return names[i];
  return NULL;
}

void bw_run_init(struct bw_run *run) {
  memset(run, 0, sizeof(*run));
  for (const struct bw_figure *f = bw_run_figures; f->name; f++)
    bw_figure_clear(f, run);
  run->started_us = BW_NONE;
}

void bw_sample_init(struct bw_sample *s) {
  s->at_us = s->duration_us = s->bytes = s->status = BW_NONE;
  s->dns_us = s->connect_us = s->tls_us = s->ttfb_us = BW_NONE;
  s->error_class = NULL;
}

void bw_run_reset(struct bw_run *run) {
  if (!run)
    return;
  free(run->test);
  free(run->backend);
  free(run->url);
  free(run->error_class);
  free(run->error_message);
  free(run->remote_ip);
  free(run->http_version);
  free(run->tcp_options);
  free(run->env);
  free(run->stream_rates);
  free(run->engine);
  free(run->thread_requests);
  for (size_t i = 0; i < run->n_samples; i++)
    free(run->samples[i].error_class);
  free(run->samples);
  bw_run_init(run);
}

void bw_run_move(struct bw_run *dst, struct bw_run *src) {
  *dst = *src;
  bw_run_init(src);
}

struct bw_sample *bw_run_add_sample(struct bw_run *run, const struct bw_sample *sample) {
  bw_xgrow(&run->samples, &run->cap_samples, run->n_samples + 1, sizeof(*run->samples));
  struct bw_sample *s = &run->samples[run->n_samples++];
  *s = *sample;
  s->error_class = sample->error_class ? bw_xstrdup(sample->error_class) : NULL;
  return s;
}
