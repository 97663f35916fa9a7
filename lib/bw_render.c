#include "bw_render.h"

#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bw_diagnose.h"
#include "bw_json.h"
#include "bw_stats.h"
#include "bw_url.h"
#include "bw_util.h"

static double ms(int64_t us) {
  return (double)us / 1000.0;
}

static bool good(const struct bw_sample *s) {
  return !s->error_class && s->status >= 200 && s->status < 400;
}

static int64_t nz(int64_t v) {
  return v == BW_NONE || v < 0 ? 0 : v;
}

/* One row of ab's Connection Times table over the good requests. */
static void conn_row(struct bw_buf *b, const char *name, const double *v, size_t n) {
  if (n == 0) {
    bw_buf_printf(b, "%-11s %7s %7s %6s %7s %7s\n", name, "-", "-", "-", "-", "-");
    return;
  }
  double mean = bw_stats_mean(v, n);
  double sd = bw_stats_sd(v, n, mean);
  double *s = bw_stats_sort_copy(v, n);
  bw_buf_printf(b, "%-11s %7.2f %7.2f %6.2f %7.2f %7.2f\n", name, s[0], mean, sd,
                bw_stats_median(s, n), s[n - 1]);
  free(s);
}

/* ab's "Server Hostname", "Server Port" and "Document Path" of url (bw_url_parts()). */
static void url_parts(const char *url, char **ret_host, char **ret_path, int *ret_port) {
  if (bw_url_parts(url, ret_host, ret_port, ret_path) < 0) {
    *ret_host = bw_xstrdup(url);
    *ret_port = 0;
    *ret_path = bw_xstrdup("/");
  }
}

/* When the server's certificate expires, and in how many days (a TLS run that read it). */
static void cert_line(struct bw_buf *b, const struct bw_run *run) {
  char when[32];
  time_t t;
  struct tm tm;
  if (run->cert_expires_us == BW_NONE)
    return;
  t = (time_t)(run->cert_expires_us / 1000000);
  if (!gmtime_r(&t, &tm) || strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S UTC", &tm) == 0)
    return;
  double days = (double)(run->cert_expires_us - run->started_us) / 86400e6;
  if (days >= 0)
    bw_buf_printf(b, "Certificate expires:    %s (in %.1f days)\n", when, days);
  else
    bw_buf_printf(b, "Certificate expires:    %s (EXPIRED %.1f days ago)\n", when, -days);
}

char *bw_render_ab(const struct bw_run *run, int64_t concurrency, bool keepalive) {
  struct bw_buf b = {0};
  char *host, *path;
  int port;
  size_t n = 0;
  double secs = (double)nz(run->duration_us) / 1e6;

  url_parts(run->url, &host, &path, &port);
  bw_buf_printf(&b, "Server Hostname:        %s\n", host);
  bw_buf_printf(&b, "Server Port:            %d\n", port);
  if (run->backend && run->backend[0])
    bw_buf_printf(&b, "Backend:                %s\n", run->backend);
  if (run->remote_ip)
    bw_buf_printf(&b, "Connected to:           %s port %" PRId64 "\n", run->remote_ip,
                  run->remote_port);
  if (run->http_version)
    bw_buf_printf(&b, "HTTP version:           %s\n", run->http_version);
  if (run->engine)
    bw_buf_printf(&b, "Engine:                 %s\n", run->engine);
  if (run->thread_requests)
    bw_buf_printf(&b, "Requests per thread:    %s\n", run->thread_requests);
  cert_line(&b, run);
  bw_buf_printf(&b, "\nDocument Path:          %s\n", path);
  for (size_t i = 0; i < run->n_samples; i++) {
    if (good(&run->samples[i])) {
      bw_buf_printf(&b, "Document Length:        %" PRId64 " bytes\n", run->samples[i].bytes);
      break;
    }
  }
  bw_buf_printf(&b, "\nConcurrency Level:      %" PRId64 "\n", concurrency);
  bw_buf_printf(&b, "Time taken for tests:   %.3f seconds\n", secs);
  bw_buf_printf(&b, "Complete requests:      %" PRId64 "\n", nz(run->complete));
  bw_buf_printf(&b, "Failed requests:        %" PRId64 "\n", nz(run->failed));
  if (nz(run->failed) > 0)
    bw_buf_printf(&b,
                  "   (Connect: %" PRId64 ", Receive: %" PRId64 ", Length: %" PRId64
                  ", Exceptions: %" PRId64 ")\n",
                  nz(run->failed_connect), nz(run->failed_receive), nz(run->failed_length),
                  nz(run->failed_exception));
  if (nz(run->non_2xx) > 0)
    bw_buf_printf(&b, "Non-2xx responses:      %" PRId64 "\n", run->non_2xx);
  if (run->failed_check != BW_NONE)
    bw_buf_printf(&b, "Failed checks:          %" PRId64 " (expect)\n", run->failed_check);
  if (keepalive)
    bw_buf_printf(&b, "Keep-Alive requests:    %" PRId64 "\n", nz(run->complete));
  bw_buf_printf(&b, "Total transferred:      %" PRId64 " bytes\n", nz(run->bytes));
  bw_buf_printf(&b, "HTML transferred:       %" PRId64 " bytes\n", nz(run->html_bytes));
  if (nz(run->complete) > 0 && secs > 0) {
    double done = (double)run->complete;
    bw_buf_printf(&b, "Requests per second:    %.2f [#/sec] (mean)\n", run->rps);
    bw_buf_printf(&b, "Time per request:       %.3f [ms] (mean)\n",
                  (double)concurrency * secs * 1000.0 / done);
    bw_buf_printf(&b, "Time per request:       %.3f [ms] (mean, across all concurrent requests)\n",
                  secs * 1000.0 / done);
    bw_buf_printf(&b, "Transfer rate:          %.2f [Kbytes/sec] received\n",
                  run->transfer_bps != BW_NONE ? (double)run->transfer_bps / 1024.0
                                               : (double)nz(run->bytes) / 1024.0 / secs);
  }

  double *conn = bw_xmalloc((run->n_samples + 1) * sizeof(double));
  double *proc = bw_xmalloc((run->n_samples + 1) * sizeof(double));
  double *wait = bw_xmalloc((run->n_samples + 1) * sizeof(double));
  double *tot = bw_xmalloc((run->n_samples + 1) * sizeof(double));
  for (size_t i = 0; i < run->n_samples; i++) {
    const struct bw_sample *s = &run->samples[i];
    if (!good(s))
      continue;
    int64_t c = nz(s->dns_us) + nz(s->connect_us) + nz(s->tls_us);
    conn[n] = ms(c);
    proc[n] = ms(s->duration_us - c);
    wait[n] = ms(nz(s->ttfb_us));
    tot[n] = ms(s->duration_us);
    n++;
  }
  bw_buf_printf(&b, "\nConnection Times (ms)\n");
  bw_buf_printf(&b, "%-11s %7s %7s %6s %7s %7s\n", "", "min", "mean", "[+/-sd]", "median", "max");
  conn_row(&b, "Connect:", conn, n);
  conn_row(&b, "Processing:", proc, n);
  conn_row(&b, "Waiting:", wait, n);
  conn_row(&b, "Total:", tot, n);

  if (n > 0) {
    static const int pcts[] = {50, 66, 75, 80, 90, 95, 98, 99, 100};
    bw_stats_sort(tot, n);
    bw_buf_printf(&b, "\nPercentage of the requests served within a certain time (ms)\n");
    for (size_t i = 0; i < sizeof(pcts) / sizeof(pcts[0]); i++)
      bw_buf_printf(&b, " %3d%% %8.2f%s\n", pcts[i], bw_stats_percentile(tot, n, pcts[i]),
                    pcts[i] == 100 ? " (longest request)" : "");
    bw_buf_printf(&b, "\nMode (half-sample):     %.2f ms\n", ms(run->mode_us));
  }
  if (run->error_class)
    bw_buf_printf(&b, "\nError:                  %s: %s\n", run->error_class,
                  run->error_message ? run->error_message : "");
  free(conn);
  free(proc);
  free(wait);
  free(tot);
  free(host);
  free(path);
  return bw_buf_take(&b);
}

/* The sorted values of one sample field over the connections that succeeded, in ms. */
static double *connect_values(const struct bw_run *run, size_t offset, size_t *n) {
  double *v = bw_xmalloc((run->n_samples + 1) * sizeof(*v));
  *n = 0;
  for (size_t i = 0; i < run->n_samples; i++) {
    const struct bw_sample *s = &run->samples[i];
    int64_t val = *(const int64_t *)(const void *)((const char *)s + offset);
    if (!s->error_class && val != BW_NONE)
      v[(*n)++] = ms(val);
  }
  bw_stats_sort(v, *n);
  return v;
}

char *bw_render_connect(const struct bw_run *run, int64_t concurrency) {
  struct bw_buf b = {0};
  char *host, *path;
  int port;
  double secs = (double)nz(run->duration_us) / 1e6;

  url_parts(run->url, &host, &path, &port);
  bw_buf_printf(&b, "Server Hostname:        %s\n", host);
  bw_buf_printf(&b, "Server Port:            %d\n", port);
  if (run->backend && run->backend[0])
    bw_buf_printf(&b, "Backend:                %s\n", run->backend);
  if (run->remote_ip)
    bw_buf_printf(&b, "Connected to:           %s port %" PRId64 "\n", run->remote_ip,
                  run->remote_port);
  bw_buf_printf(&b, "\nConcurrency Level:      %" PRId64 "\n", concurrency);
  bw_buf_printf(&b, "Time taken for tests:   %.3f seconds\n", secs);
  bw_buf_printf(&b, "Connections made:       %" PRId64 "\n", nz(run->complete));
  bw_buf_printf(&b, "Failed connections:     %" PRId64 "\n", nz(run->failed));
  if (nz(run->failed) > 0)
    bw_buf_printf(&b, "   (Connect: %" PRId64 ", Timeout: %" PRId64 ", Exceptions: %" PRId64 ")\n",
                  nz(run->failed_connect), nz(run->failed_receive), nz(run->failed_exception));
  if (!isnan(run->rps))
    bw_buf_printf(&b, "Connections per second: %.2f [#/sec] (mean)\n", run->rps);

  size_t nd, nc, nt;
  double *dns = connect_values(run, offsetof(struct bw_sample, dns_us), &nd);
  double *tcp = connect_values(run, offsetof(struct bw_sample, connect_us), &nc);
  double *tls = connect_values(run, offsetof(struct bw_sample, tls_us), &nt);
  bw_buf_printf(&b, "\nConnection Times (ms)\n");
  bw_buf_printf(&b, "%-11s %7s %7s %6s %7s %7s\n", "", "min", "mean", "[+/-sd]", "median", "max");
  conn_row(&b, "DNS:", dns, nd);
  conn_row(&b, "Connect:", tcp, nc);
  if (nt > 0)
    conn_row(&b, "TLS:", tls, nt);
  if (nc > 0) {
    static const int pcts[] = {50, 90, 95, 99, 100};
    bw_buf_printf(&b, "\nPercentage of the connects made within a certain time (ms)\n");
    for (size_t i = 0; i < sizeof(pcts) / sizeof(pcts[0]); i++)
      bw_buf_printf(&b, " %3d%% %8.2f%s\n", pcts[i], bw_stats_percentile(tcp, nc, pcts[i]),
                    pcts[i] == 100 ? " (longest connect)" : "");
  }
  if (run->error_class)
    bw_buf_printf(&b, "\nError:                  %s: %s\n", run->error_class,
                  run->error_message ? run->error_message : "");
  free(dns);
  free(tcp);
  free(tls);
  free(host);
  free(path);
  return bw_buf_take(&b);
}

static void human_size(int64_t bytes, char *buf, size_t size) {
  if (bytes >= 1000000000)
    (void)snprintf(buf, size, "%.1fG", (double)bytes / 1e9);
  else if (bytes >= 1000000)
    (void)snprintf(buf, size, "%.1fM", (double)bytes / 1e6);
  else if (bytes >= 1000)
    (void)snprintf(buf, size, "%.1fK", (double)bytes / 1e3);
  else
    (void)snprintf(buf, size, "%" PRId64, bytes);
}

/*
 * The timeline as at most 24 rows, each a span of consecutive steps with its rate and a bar
 * scaled to the fastest span: when a download collapsed is plain to see.
 */
static void timeline_chart(struct bw_buf *b, const struct bw_run *run) {
  enum { ROWS = 24, WIDTH = 40 };
  size_t n = run->n_samples;
  if (n == 0)
    return;
  size_t per = (n + ROWS - 1) / ROWS;
  double rates[ROWS];
  int64_t from[ROWS], to[ROWS];
  size_t rows = 0;
  double top = 0;
  for (size_t i = 0; i < n; i += per) {
    int64_t bytes = 0, us = 0;
    for (size_t k = i; k < i + per && k < n; k++) {
      bytes += run->samples[k].bytes;
      us += run->samples[k].duration_us;
    }
    from[rows] = run->samples[i].at_us;
    to[rows] = from[rows] + us;
    rates[rows] = us > 0 ? (double)bytes / ((double)us / 1e6) : 0;
    if (rates[rows] > top)
      top = rates[rows];
    rows++;
  }
  bw_buf_printf(b, "\nThroughput timeline (MB/s = 10^6 bytes/s; from the request's start)\n");
  for (size_t r = 0; r < rows; r++) {
    int len = top > 0 ? (int)lround(rates[r] / top * WIDTH) : 0;
    char bar[WIDTH * 3 + 1];
    size_t o = 0;
    for (int k = 0; k < len; k++) {
      memcpy(bar + o, "\xe2\x96\x88", 3); /* U+2588 full block */
      o += 3;
    }
    bar[o] = '\0';
    bw_buf_printf(b, "  %7.1f-%-7.1fs %10.3f  %s\n", (double)from[r] / 1e6, (double)to[r] / 1e6,
                  rates[r] / 1e6, bar);
  }
}

/* " NAME VALUE" for a time in ms, or nothing when it was not measured. */
static void opt_ms(struct bw_buf *b, const char *sep, const char *name, int64_t us) {
  if (us != BW_NONE)
    bw_buf_printf(b, "%s%s %.1f ms", sep, name, ms(us));
}

/*
 * Where the time went: the response's headers and the first body byte are separate facts (a
 * server that answers and then sends nothing has the one and not the other); where the body
 * stopped, and how long the transfer had been silent when it ended.
 */
static void phases(struct bw_buf *b, const struct bw_run *run) {
  if (run->headers_us == BW_NONE && run->ttfb_us == BW_NONE)
    return;
  bw_buf_printf(b, "Phases:");
  opt_ms(b, " ", "headers after", run->headers_us);
  if (run->ttfb_us == BW_NONE)
    bw_buf_printf(b, ", no body byte");
  opt_ms(b, ", ", "first body byte after", run->ttfb_us);
  opt_ms(b, ", ", "last after", run->last_byte_us);
  bw_buf_printf(b, "\n");
  if (run->outcome == BW_OUTCOME_FAILED && run->end_silence_us != BW_NONE &&
      run->end_silence_us >= 1000000)
    bw_buf_printf(
        b, "Stopped at byte %" PRId64 ", %.1f s in; then silent for %.1f s\n", nz(run->bytes),
        (double)nz(run->last_byte_us != BW_NONE ? run->last_byte_us : run->headers_us) / 1e6,
        (double)run->end_silence_us / 1e6);
  if (run->stalls != BW_NONE && run->stalls > 0)
    bw_buf_printf(b,
                  "Silences of 1 s or more: %" PRId64 "; the first %.1f s in, after %" PRId64
                  " bytes; the longest %.1f s\n",
                  run->stalls, (double)run->stall_first_at_us / 1e6, run->stall_first_bytes,
                  (double)run->stall_longest_us / 1e6);
}

/* " NAME N" for a count or size, or nothing when it was not measured. */
static void opt_int(struct bw_buf *b, const char *sep, const char *name, int64_t v) {
  if (v != BW_NONE)
    bw_buf_printf(b, "%s%s %" PRId64, sep, name, v);
}

/*
 * The connection from this end. The client is the receiver of a download: the facts shown are
 * the receiver's (README "TCP facts"); the server's retransmits cannot be read from here, and
 * the client's own send-side counters are not shown as if they were the server's.
 */
static void tcp_facts(struct bw_buf *b, const struct bw_run *run) {
  if (run->tcp_rcv_mss == BW_NONE)
    return;
  bw_buf_printf(b, "\nTCP, as this host received it:");
  if (run->tcp_rcv_rtt_us != BW_NONE)
    bw_buf_printf(b, " receive RTT %.1f ms (largest %.1f ms);", ms(run->tcp_rcv_rtt_us),
                  ms(run->tcp_rcv_rtt_max_us));
  else
    bw_buf_printf(b, " receive RTT not measured (too little data);");
  opt_ms(b, " ", "RTT at connect", run->tcp_rtt_us);
  bw_buf_printf(b, "\n  receive MSS %" PRId64, run->tcp_rcv_mss);
  opt_int(b, " (", "this host advertised", run->tcp_advmss);
  if (run->tcp_advmss != BW_NONE)
    bw_buf_printf(b, ")");
  opt_int(b, "; ", "bytes received", run->tcp_bytes_received);
  opt_int(b, ", ", "segments", run->tcp_segs_in);
  opt_int(b, ", ", "out of order", run->tcp_rcv_ooopack);
  bw_buf_printf(b, "\n  window:");
  if (run->tcp_rcv_wnd_min != BW_NONE)
    bw_buf_printf(
        b, " smallest advertised %" PRId64 " bytes, zero at %" PRId64 " of %" PRId64 " readings;",
        run->tcp_rcv_wnd_min, nz(run->tcp_zero_window), nz(run->tcp_samples));
  else
    bw_buf_printf(b, " advertised window not readable (kernel before 6.2);");
  opt_int(b, " ", "most unread", run->tcp_rcvq_max);
  opt_int(b, "; ", "receive space", run->tcp_rcv_space);
  bw_buf_printf(b, "\n  options %s\n", run->tcp_options ? run->tcp_options : "?");
}

char *bw_render_download(const struct bw_run *run) {
  return bw_render_download_among(run, NULL, 0);
}

char *bw_render_download_among(const struct bw_run *run, const struct bw_run *const *peers,
                               size_t n_peers) {
  struct bw_buf b = {0};
  char when[32] = "", size[32];
  time_t t = (time_t)(run->started_us / 1000000);
  struct tm tm;
  if (localtime_r(&t, &tm))
    (void)strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm);

  bw_buf_printf(&b, "--%s--  %s\n", when, run->url);
  if (run->backend && run->backend[0])
    bw_buf_printf(&b, "Backend %s (Host and TLS name from the URL)\n", run->backend);
  if (run->remote_ip)
    bw_buf_printf(&b, "Connected to %s port %" PRId64 ".\n", run->remote_ip, run->remote_port);
  cert_line(&b, run);
  if (run->status != BW_NONE && run->status > 0) {
    /* No body byte, no time to it: "0.0 ms" would claim a first byte that never came. */
    char ttfb[64] = "no body byte";
    if (run->ttfb_us != BW_NONE)
      (void)snprintf(ttfb, sizeof(ttfb), "first byte after %.1f ms", ms(run->ttfb_us));
    bw_buf_printf(&b, "HTTP/%s request sent, awaiting response... %" PRId64 " (%s)\n",
                  run->http_version ? run->http_version : "?", run->status, ttfb);
  }
  human_size(nz(run->bytes), size, sizeof(size));
  if (run->outcome == BW_OUTCOME_OK || run->outcome == BW_OUTCOME_PARTIAL) {
    bw_buf_printf(&b, "%s (%.2f MB/s) - %" PRId64 " bytes (%s) in %.2f s%s\n", when,
                  run->rate_bps != BW_NONE ? (double)run->rate_bps / 1e6 : 0.0, nz(run->bytes), size,
                  (double)nz(run->duration_us) / 1e6,
                  run->outcome == BW_OUTCOME_PARTIAL ? " [partial: stopped at the cap]" : "");
  } else {
    bw_buf_printf(&b, "%s FAILED (%s): %s - %" PRId64 " bytes (%s) received in %.2f s\n", when,
                  run->error_class ? run->error_class : "?",
                  run->error_message ? run->error_message : "", nz(run->bytes), size,
                  (double)nz(run->duration_us) / 1e6);
  }
  if (run->streams != BW_NONE && run->stream_min_bps != BW_NONE)
    bw_buf_printf(&b,
                  "Streams: %" PRId64 " at once, the rate above is their aggregate; each %.3f to "
                  "%.3f MB/s (spread %.2f)%s%s\n",
                  run->streams, (double)run->stream_min_bps / 1e6,
                  (double)run->stream_max_bps / 1e6,
                  isnan(run->stream_spread) ? 0.0 : run->stream_spread,
                  run->stream_rates ? ": B/s " : "", run->stream_rates ? run->stream_rates : "");
  if (run->stall_us != BW_NONE)
    bw_buf_printf(&b, "Steps: slowest %.3f MB/s, fastest %.3f MB/s; %.1f s under the stall rate\n",
                  run->min_rate_bps != BW_NONE ? (double)run->min_rate_bps / 1e6 : 0.0,
                  run->max_rate_bps != BW_NONE ? (double)run->max_rate_bps / 1e6 : 0.0,
                  (double)run->stall_us / 1e6);
  phases(&b, run);
  timeline_chart(&b, run);
  tcp_facts(&b, run);
  char **why = bw_diagnose(run, peers, n_peers);
  for (size_t i = 0; why[i]; i++)
    bw_buf_printf(&b, "%s%s\n", i ? "           " : "\nDiagnosis: ", why[i]);
  bw_diagnose_free(why);
  return bw_buf_take(&b);
}

char *bw_render_json(const struct bw_run *run) {
  json_t *o = bw_json_run(run, BW_NONE, true);
  if (run->thread_requests)
    (void)json_object_set_new(o, "thread_requests", bw_json_str(run->thread_requests));
  return bw_json_take_text(o, false);
}

char *bw_render_line(const struct bw_run *run) {
  return bw_render_line_among(run, NULL, 0);
}

char *bw_render_line_among(const struct bw_run *run, const struct bw_run *const *peers,
                           size_t n_peers) {
  struct bw_buf b = {0};
  bw_buf_printf(&b, "%s", run->test);
  if (run->backend && run->backend[0])
    bw_buf_printf(&b, " [%s]", run->backend);
  bw_buf_printf(&b, ": %s", bw_outcome_name(run->outcome));
  switch (run->kind) {
  case BW_KIND_PAGE:
    if (run->p50_us != BW_NONE)
      bw_buf_printf(&b, ", median %.2f ms, p90 %.2f ms, %" PRId64 "/%" PRId64 " failed",
                    ms(run->p50_us), ms(run->p90_us), nz(run->failed), nz(run->requests));
    break;
  case BW_KIND_DOWNLOAD:
    if (run->rate_bps != BW_NONE)
      bw_buf_printf(&b, ", %.2f MB/s, %" PRId64 " bytes, %.1f s under the stall rate",
                    (double)run->rate_bps / 1e6, nz(run->bytes), (double)nz(run->stall_us) / 1e6);
    if (run->streams != BW_NONE && run->stream_min_bps != BW_NONE)
      bw_buf_printf(&b, " in %" PRId64 " streams (each %.2f to %.2f MB/s)", run->streams,
                    (double)run->stream_min_bps / 1e6, (double)run->stream_max_bps / 1e6);
    break;
  case BW_KIND_CONNECT:
    if (run->connect_p50_us != BW_NONE)
      bw_buf_printf(&b, ", connect median %.2f ms, p90 %.2f ms", ms(run->connect_p50_us),
                    ms(run->p90_us));
    if (run->tls_p50_us != BW_NONE)
      bw_buf_printf(&b, ", TLS median %.2f ms", ms(run->tls_p50_us));
    if (run->connect_p50_us != BW_NONE)
      bw_buf_printf(&b, ", %" PRId64 "/%" PRId64 " failed", nz(run->failed), nz(run->requests));
    break;
  }
  if (run->error_class)
    bw_buf_printf(&b, " (%s: %s)", run->error_class,
                  run->error_message ? run->error_message : "");
  char *why = bw_diagnose_text(run, peers, n_peers);
  if (*why)
    bw_buf_printf(&b, "; %s", why);
  free(why);
  return bw_buf_take(&b);
}

void bw_render_escape(struct bw_buf *b, const char *s) {
  for (; s && *s; s++) {
    switch (*s) {
    case '<':
      bw_buf_printf(b, "&lt;");
      break;
    case '>':
      bw_buf_printf(b, "&gt;");
      break;
    case '&':
      bw_buf_printf(b, "&amp;");
      break;
    case '"':
      bw_buf_printf(b, "&quot;");
      break;
    case '\'':
      bw_buf_printf(b, "&#39;");
      break;
    default:
      bw_buf_add(b, s, 1);
    }
  }
}

/* A step of 1, 2 or 5 times a power of ten that cuts span into about `parts`. */
static double nice_step(double span, int parts) {
  double raw = span / parts;
  double mag = pow(10, floor(log10(raw)));
  double norm = raw / mag;
  return (norm < 1.5 ? 1 : norm < 3 ? 2 : norm < 7 ? 5 : 10) * mag;
}

/* The plot area of a chart and its mapping from time and value to the drawing's coordinates. */
struct plot {
  double x0, x1, y0, y1; /* left, right, top, bottom */
  int64_t from_us, until_us;
  double lo, hi; /* in the unit shown */
};

static double px(const struct plot *p, int64_t us) {
  double f = (double)(us - p->from_us) / (double)(p->until_us - p->from_us);
  return p->x0 + fmin(fmax(f, 0), 1) * (p->x1 - p->x0);
}

static double py(const struct plot *p, double v) {
  return p->y1 - (v - p->lo) / (p->hi - p->lo) * (p->y1 - p->y0);
}

enum when_form { WHEN_HOUR, WHEN_DAY, WHEN_FULL };

static void when_label(int64_t us, enum when_form form, char *buf, size_t size) {
  time_t t = (time_t)(us / 1000000);
  struct tm tm;
  size_t n = 0;
  if (localtime_r(&t, &tm)) {
    switch (form) {
    case WHEN_HOUR:
      n = strftime(buf, size, "%H:%M", &tm);
      break;
    case WHEN_DAY:
      n = strftime(buf, size, "%d %b", &tm);
      break;
    case WHEN_FULL:
      n = strftime(buf, size, "%Y-%m-%d %H:%M", &tm);
      break;
    }
  }
  if (n == 0)
    (void)snprintf(buf, size, "?");
}

/* Time ticks on local hours or midnights, as many as fit one per ~110 units of width. */
static void time_axis(struct bw_buf *b, const struct plot *p) {
  static const int64_t steps_s[] = {600,        1800,       3600,       3 * 3600,  6 * 3600,
                                    12 * 3600,  86400,      2 * 86400,  7 * 86400, 14 * 86400,
                                    30 * 86400, 91 * 86400, 365 * 86400};
  double span_s = (double)(p->until_us - p->from_us) / 1e6;
  int fit = (int)((p->x1 - p->x0) / 110);
  int64_t step = steps_s[sizeof(steps_s) / sizeof(steps_s[0]) - 1];
  for (size_t i = 0; i < sizeof(steps_s) / sizeof(steps_s[0]); i++)
    if (span_s / (double)steps_s[i] <= fit) {
      step = steps_s[i];
      break;
    }
  time_t from = (time_t)(p->from_us / 1000000);
  struct tm tm;
  long off = localtime_r(&from, &tm) ? tm.tm_gmtoff : 0;
  int64_t local = (int64_t)from + off;
  int64_t t = (local / step + 1) * step - off;
  for (; t * 1000000 <= p->until_us; t += step) {
    double x = px(p, t * 1000000);
    char label[32];
    /* Hours, except that a local midnight says which day begins. */
    bool midnight = (t + off) % 86400 == 0;
    when_label(t * 1000000, step < 86400 && !midnight ? WHEN_HOUR : WHEN_DAY, label, sizeof(label));
    bw_buf_printf(b,
                  "<line class=\"grid\" x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\"/>"
                  "<text class=\"tick\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%s</text>",
                  x, x, p->y0, p->y1, x, p->y1 + 14, label);
  }
}

static void value_axis(struct bw_buf *b, const struct plot *p) {
  double step = nice_step(p->hi - p->lo, 4);
  if (!isfinite(step) || !(step > 0) || !isfinite(p->lo) || !isfinite(p->hi))
    return;
  for (double v = ceil(p->lo / step) * step; v <= p->hi + step * 1e-9; v += step) {
    double y = py(p, v);
    bw_buf_printf(b,
                  "<line class=\"grid\" x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\"/>"
                  "<text class=\"tick\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%g</text>",
                  p->x0, p->x1, y, y, p->x0 - 4, y + 4, fabs(v) < step * 1e-9 ? 0.0 : v);
  }
}

static bool in_span(const struct bw_svg_chart *c, int64_t us) {
  for (size_t i = 0; i < c->n_spans; i++)
    if (us >= c->spans[i].from_us && (c->spans[i].until_us == BW_NONE || us < c->spans[i].until_us))
      return true;
  return false;
}

char *bw_render_chart_svg(const struct bw_svg_chart *c) {
  struct bw_buf b = {0};
  int w = c->width > 0 ? c->width : 720, h = c->height > 0 ? c->height : 220;
  struct plot p = {.x0 = 48,
                   .x1 = w - 10,
                   .y0 = 22,
                   .y1 = h - 22,
                   .from_us = c->from_us,
                   .until_us = c->until_us > c->from_us ? c->until_us : c->from_us + 1,
                   .lo = 0,
                   .hi = -INFINITY};
  size_t good = 0, failed = 0;
  for (size_t i = 0; i < c->n; i++) {
    if (isnan(c->pts[i].value)) {
      failed++;
      continue;
    }
    good++;
    p.lo = fmin(p.lo, c->pts[i].value / c->scale);
    p.hi = fmax(p.hi, c->pts[i].value / c->scale);
  }
  double marks[] = {c->mode, c->band_lo, c->band_hi};
  for (size_t i = 0; i < sizeof(marks) / sizeof(marks[0]); i++)
    if (isfinite(marks[i]))
      p.hi = fmax(p.hi, marks[i] / c->scale);
  if (!(p.hi > p.lo))
    p.hi = p.lo + 1;
  p.hi += (p.hi - p.lo) * 0.08;
  p.hi = ceil(p.hi / nice_step(p.hi - p.lo, 4)) * nice_step(p.hi - p.lo, 4);

  bw_buf_printf(&b,
                "<svg class=\"chart\" viewBox=\"0 0 %d %d\" role=\"img\" "
                "xmlns=\"http://www.w3.org/2000/svg\" aria-label=\"",
                w, h);
  bw_render_escape(&b, c->label);
  bw_buf_printf(&b, " over time: %zu runs, %zu failed\">", good + failed, failed);
  bw_buf_printf(&b, "<text class=\"axis\" x=\"%.1f\" y=\"14\">", p.x0);
  bw_render_escape(&b, c->label);
  if (strcmp(c->label, c->unit) != 0) {
    bw_buf_printf(&b, " (");
    bw_render_escape(&b, c->unit);
    bw_buf_printf(&b, ")");
  }
  bw_buf_printf(&b, "</text>");
  for (size_t i = 0; i < c->n_spans; i++) {
    const struct bw_svg_span *s = &c->spans[i];
    double x0 = px(&p, s->from_us);
    double x1 = s->until_us == BW_NONE ? p.x1 : px(&p, s->until_us);
    if (c->link)
      bw_buf_printf(&b, "<a href=\"%s%" PRId64 "\">", c->link, s->id);
    bw_buf_printf(&b,
                  "<rect class=\"span%s\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\">"
                  "<title>regression #%" PRId64 "%s</title></rect>",
                  s->availability ? " fail" : "", x0, p.y0, fmax(x1 - x0, 2), p.y1 - p.y0, s->id,
                  s->until_us == BW_NONE ? ", open" : "");
    if (c->link)
      bw_buf_printf(&b, "</a>");
  }
  if (isfinite(c->band_lo) && isfinite(c->band_hi))
    bw_buf_printf(&b,
                  "<rect class=\"band\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\">"
                  "<title>baseline band %.2f to %.2f %s</title></rect>",
                  p.x0, py(&p, c->band_hi / c->scale), p.x1 - p.x0,
                  py(&p, c->band_lo / c->scale) - py(&p, c->band_hi / c->scale),
                  c->band_lo / c->scale, c->band_hi / c->scale, c->unit);
  value_axis(&b, &p);
  time_axis(&b, &p);
  if (isfinite(c->mode))
    bw_buf_printf(&b,
                  "<line class=\"mode\" x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\">"
                  "<title>baseline %.2f %s</title></line>",
                  p.x0, p.x1, py(&p, c->mode / c->scale), py(&p, c->mode / c->scale),
                  c->mode / c->scale, c->unit);
  if (good > 1) {
    bw_buf_printf(&b, "<polyline class=\"line\" points=\"");
    bool first = true;
    for (size_t i = 0; i < c->n; i++) {
      if (isnan(c->pts[i].value))
        continue;
      bw_buf_printf(&b, "%s%.1f,%.1f", first ? "" : " ", px(&p, c->pts[i].started_us),
                    py(&p, c->pts[i].value / c->scale));
      first = false;
    }
    bw_buf_printf(&b, "\"/>");
  }
  bool dots = good + failed <= 240;
  for (size_t i = 0; i < c->n; i++) {
    const struct bw_point *pt = &c->pts[i];
    char at[40];
    double x = px(&p, pt->started_us);
    if (!dots && !isnan(pt->value))
      continue;
    when_label(pt->started_us, WHEN_FULL, at, sizeof(at));
    if (isnan(pt->value))
      bw_buf_printf(&b,
                    "<path class=\"failed\" d=\"M%.1f %.1fl4 4m0 -4l-4 4\"><title>%s: failed"
                    "</title></path>",
                    x - 2, p.y1 - 6, at);
    else
      bw_buf_printf(&b,
                    "<circle class=\"%s\" cx=\"%.1f\" cy=\"%.1f\" r=\"2.2\"><title>%s: %.2f %s"
                    "</title></circle>",
                    in_span(c, pt->started_us) ? "dot bad" : "dot", x, py(&p, pt->value / c->scale),
                    at, pt->value / c->scale, c->unit);
  }
  if (good + failed == 0)
    bw_buf_printf(&b,
                  "<text class=\"axis\" x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">"
                  "no runs in this period</text>",
                  (p.x0 + p.x1) / 2, (p.y0 + p.y1) / 2);
  bw_buf_printf(&b, "<line class=\"frame\" x1=\"%.1f\" x2=\"%.1f\" y1=\"%.1f\" y2=\"%.1f\"/></svg>",
                p.x0, p.x1, p.y1, p.y1);
  return bw_buf_take(&b);
}
