#ifndef BW_RESULT_H
#define BW_RESULT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The kinds of test (design.md): many small requests, one large transfer, or many connections
 * without a request. What each one is lives in its row of bw_kind.h. */
enum bw_kind {
  BW_KIND_PAGE = 0,
  BW_KIND_DOWNLOAD = 1,
  BW_KIND_CONNECT = 2,
};

enum bw_outcome {
  BW_OUTCOME_OK = 0,
  BW_OUTCOME_FAILED,  /* no usable figure: error_class says why */
  BW_OUTCOME_PARTIAL, /* stopped by max_time/max_bytes: the figures up to the cap stand */
  BW_OUTCOME_ABORTED, /* the daemon stopped while it ran */
};

/* Names as stored and shown ("page", "ok", ...); NULL for an unknown value. The kinds' names
 * are their rows' (bw_kind.c). */
const char *bw_kind_name(enum bw_kind kind);
const char *bw_outcome_name(enum bw_outcome outcome);
/* Parses a name back; returns 0 or -EINVAL. */
int bw_kind_parse(const char *name, enum bw_kind *ret);
int bw_outcome_parse(const char *name, enum bw_outcome *ret);

/* A figure that was not measured (not applicable to the kind, or the run failed first). */
#define BW_NONE INT64_MIN

/*
 * One detail row. A page run has one per request; a download run one per timeline interval.
 * Either way it is something that started at at_us (from the run's start), took duration_us and
 * moved bytes, so the rate of any sample is bytes / duration.
 */
struct bw_sample {
  int64_t at_us;
  int64_t duration_us; /* page: the request's total time; download: the interval's length */
  int64_t bytes;       /* page: body bytes; download: bytes received in the interval */
  int64_t status;      /* page: HTTP status (0: no response); download: BW_NONE */
  /* Page phases from the request's start (design.md "Timings"); BW_NONE for downloads. */
  int64_t dns_us;
  int64_t connect_us;
  int64_t tls_us;
  int64_t ttfb_us;
  char *error_class; /* NULL when the request succeeded */
};

/*
 * One execution of one target (a test, or a test on one backend). Every figure is BW_NONE until
 * measured, so "not measured" is never confused with zero: bw_run_init() sets that up. Times are
 * microseconds, rates bytes per second, sizes bytes. Strings and samples are owned by the run.
 */
struct bw_run {
  /* The target. backend is "" when the test has none. */
  char *test;
  char *backend;
  enum bw_kind kind;
  char *url;

  int64_t started_us; /* wall clock, µs since the Unix epoch */
  int64_t duration_us;
  enum bw_outcome outcome;
  char *error_class;   /* dns, connect, tls, timeout, http, reset, length, nobody, ...; NULL: ok */
  char *error_message; /* curl's words, kept as they were */
  char *remote_ip;
  int64_t remote_port;
  char *http_version; /* "1.1", "2", ... */
  int64_t status;     /* the last HTTP status seen */

  /* Page (ab's summary). */
  int64_t requests;
  int64_t complete;
  int64_t failed;
  int64_t failed_connect;
  int64_t failed_receive;
  int64_t failed_length;
  int64_t failed_exception;
  int64_t non_2xx;
  int64_t bytes; /* page: total transferred; download: body bytes received */
  int64_t html_bytes;
  double rps; /* requests per second; NAN until measured */
  int64_t min_us;
  int64_t mean_us;
  int64_t sd_us;
  int64_t p50_us;
  int64_t p90_us;
  int64_t p95_us;
  int64_t p99_us;
  int64_t max_us;
  int64_t mode_us;
  int64_t connect_p50_us;
  int64_t ttfb_p50_us;

  /* Download (wget's figures and what wget cannot show). */
  int64_t rate_bps; /* bytes per second over the body */
  int64_t ttfb_us;
  int64_t stall_us;
  int64_t min_rate_bps;
  int64_t max_rate_bps;
  /* TCP_INFO of the client's socket. The client is the receiver: the tcp_rcv_* facts, bytes,
   * segments and out-of-order arrivals describe the path; tcp_rtt_us is timed from the client's
   * own few sends (the RTT at connect). tcp_retrans and tcp_pmtu are sender-side facts of the
   * client (its own retransmits, its own path MTU cache): no longer measured (NULL), kept so
   * older rows still read. README "TCP facts" says what each can and cannot show. */
  int64_t tcp_rtt_us;
  int64_t tcp_rttvar_us;
  int64_t tcp_retrans;
  int64_t tcp_pmtu;
  int64_t tcp_snd_mss;
  int64_t tcp_rcv_mss;
  int64_t tcp_rcv_space;
  char *tcp_options; /* negotiated options, e.g. "ts,sack,wscale:7/7" */
  /* The client's network environment after the run (bw_env_format()); NULL: not read. */
  char *env;

  /* Download phases, from the run's start: where it stopped and how long it stayed silent. */
  int64_t headers_us;        /* the (last) response's headers complete */
  int64_t last_byte_us;      /* the last body byte */
  int64_t end_silence_us;    /* from the last byte of any kind to the end of the transfer */
  int64_t stalls;            /* silences of BW_SILENCE_US or more after the first body byte */
  int64_t stall_first_at_us; /* when the first began, from the run's start */
  int64_t stall_first_bytes; /* body bytes received before it */
  int64_t stall_longest_us;
  int64_t tcp_rcv_rtt_us;     /* the receiver's RTT estimate at the end */
  int64_t tcp_rcv_rtt_max_us; /* the largest seen through the transfer */
  int64_t tcp_advmss;         /* the MSS the client advertised */
  int64_t tcp_bytes_received; /* bytes on the connection, headers included */
  int64_t tcp_segs_in;
  int64_t tcp_rcv_ooopack; /* data packets that arrived out of order */
  int64_t tcp_rcv_wnd_min; /* the smallest window the client advertised at a reading */
  int64_t tcp_zero_window; /* readings at which that window was 0 */
  int64_t tcp_rcvq_max;    /* most bytes waiting unread in the client's socket at a reading */
  int64_t tcp_samples;     /* TCP_INFO readings: one per timeline interval, and one at the end */

  /* Page: bytes over the run's wall time (ab's "Transfer rate"), beside rps. */
  int64_t transfer_bps;
  /* Download with streams: N simultaneous transfers. rate_bps is then their aggregate (all body
   * bytes over the time from the first stream's first byte to the last stream's last byte); each
   * stream's own rate is in stream_rates, with their extremes and spread as figures. */
  int64_t streams;        /* transfers that ran at once; BW_NONE for a single one */
  int64_t stream_min_bps; /* the slowest stream's rate */
  int64_t stream_max_bps; /* the fastest stream's rate */
  double stream_spread;   /* standard deviation of the streams' rates over their mean; NAN */
  char *stream_rates;     /* each stream's rate in bytes/s, in stream order, blank-separated */
  /* Page: the client that ran it, "lean" or "curl" (NULL: a download, or a run stored before
   * this was kept). With threads, the requests each thread finished, in thread order,
   * blank-separated (NULL: one thread; shown, not stored). */
  char *engine;
  char *thread_requests;

  /* Connect: the median TLS handshake of the connections (https only); connect_p50_us is then
   * the median TCP connect, and min_us .. max_us the distribution of the TCP connect times. */
  int64_t tls_p50_us;

  /* Page with expect: responses that failed the check (also in failed, apart from non_2xx). */
  int64_t failed_check;
  /* https: the server's leaf certificate's notAfter, µs since the epoch (the earliest seen). */
  int64_t cert_expires_us;

  struct bw_sample *samples;
  size_t n_samples;
  size_t cap_samples;
};

/* One point of a metric's history: a run's figure (NAN for a failed run). */
struct bw_point {
  int64_t run_id;
  int64_t started_us;
  double value;
  bool bad; /* in a baseline window: the run was judged bad when it ran */
  /* A page run's client ("lean", "curl"; static), or NULL. */
  const char *engine;
};

/* The page engine named s as a static string ("lean" or "curl"), or NULL for any other s. */
const char *bw_engine_name(const char *s);

/* Sets every figure to BW_NONE and every pointer to NULL. */
void bw_run_init(struct bw_run *run);
/* Frees what the run owns and leaves it as bw_run_init() does. Accepts NULL. */
void bw_run_reset(struct bw_run *run);
/* Moves src's contents (ownership included) to dst, which must be empty; src is left empty. */
void bw_run_move(struct bw_run *dst, struct bw_run *src);
/* Appends a sample (copied; its error_class is duplicated) and returns a pointer to the copy. */
struct bw_sample *bw_run_add_sample(struct bw_run *run, const struct bw_sample *sample);
/* A sample with every figure BW_NONE. */
void bw_sample_init(struct bw_sample *sample);

/*
 * The catalogue of a run's figures: one row per numeric figure above, by name. The store maps them
 * to columns of the same name, history and reports look metrics up here, so a new figure is one
 * field plus one row. Terminated by a row whose name is NULL.
 */
enum bw_unit {
  BW_UNIT_COUNT,
  BW_UNIT_US,
  BW_UNIT_BYTES,
  BW_UNIT_BPS, /* bytes per second */
  BW_UNIT_PER_S,
  BW_UNIT_TIME, /* a point in time, µs since the Unix epoch */
};

struct bw_figure {
  const char *name;
  size_t offset; /* of an int64_t in struct bw_run, or of a double when real is set */
  int real;
  enum bw_unit unit;
  const char *help;
};

extern const struct bw_figure bw_run_figures[];
/* The figure called name, or NULL. */
const struct bw_figure *bw_figure_find(const char *name);

/* Reads a figure as a double; returns 0 when it is unmeasured (BW_NONE or NAN), else 1. */
int bw_figure_get(const struct bw_figure *f, const struct bw_run *run, double *ret);
/* Writes a figure; an int64 figure takes the value rounded to the nearest integer. */
void bw_figure_set(const struct bw_figure *f, struct bw_run *run, double value);
/* Marks a figure unmeasured. */
void bw_figure_clear(const struct bw_figure *f, struct bw_run *run);

#endif
