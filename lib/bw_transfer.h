#ifndef BW_TRANSFER_H
#define BW_TRANSFER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bw_loop.h"
#include "bw_util.h"

/*
 * HTTP transfers on one event loop: libcurl's multi interface driven by libevent (socket and timer
 * callbacks into curl_multi_socket_action). With bw_loop, bw_http_server and bw_smtp, the only
 * files that touch curl handles or the event base. No threads of ours, no blocking calls; any
 * number of transfers in flight.
 *
 * Times are µs. A transfer reports once, through its request's on_done, from inside
 * bw_loop_run(); on_done may start more transfers.
 */

struct bw_xfer;

/*
 * The connection as the kernel saw it from this end (getsockopt TCP_INFO). A download's client is
 * the receiver, so the facts that describe the path are the receiver's: receive RTT and MSS,
 * bytes and segments received, out-of-order arrivals, the window this host advertised. They are
 * read every tcp_sample_us during the transfer (the summaries) and once more when the connection
 * ends or the transfer finishes (the "last" values). A count or size the kernel does not provide
 * (an older kernel, or no measurement yet) is -1.
 */
struct bw_tcp_facts {
  bool valid;
  /* The last reading. */
  int64_t rtt_us; /* this host's smoothed RTT: on a download, timed from its own few sends
                     (handshake and request), so the RTT at connect, not under load */
  int64_t rttvar_us;
  int64_t rcv_rtt_us; /* the receiver's RTT estimate over the data; -1: not measured */
  int64_t retrans;    /* segments this host retransmitted: sender-side, ~0 on a download */
  int64_t pmtu;       /* this host's path MTU cache for its own sends: not the server's path */
  int64_t snd_mss;
  int64_t rcv_mss;        /* the receiver's estimate of the peer's segment size */
  int64_t advmss;         /* the MSS this host advertised (from its route's MTU) */
  int64_t rcv_space;      /* receive-buffer autotuning: bytes the receiver expects per RTT */
  int64_t bytes_received; /* -1 on kernels before 4.1 */
  int64_t segs_in;        /* segments received, data or not; -1 before 4.2 */
  int64_t rcv_ooopack;    /* data packets that arrived out of order; -1 before 5.4 */
  int64_t rcv_wnd;        /* the window this host advertised last; -1 before 6.2 */
  int64_t rcvq;           /* bytes received but not yet read by the program (SIOCINQ); -1 */
  bool timestamps;
  bool sack;
  bool wscale;
  int snd_wscale;
  int rcv_wscale;
  /* Over every reading of the data's socket. */
  int64_t samples;        /* readings taken */
  int64_t rcv_rtt_max_us; /* -1: never measured */
  int64_t rcv_wnd_min;    /* -1: unknown */
  int64_t zero_window;    /* readings where the advertised window was 0; -1: unknown */
  int64_t rcvq_max;       /* most bytes waiting unread at a reading; -1: unknown */
};

struct bw_response;

/*
 * What to fetch and how. Strings are copied at bw_xfer_start(); the request need not outlive it.
 */
struct bw_request {
  const char *url;
  const char *method;   /* "GET" (default when NULL), "HEAD", "POST" or any other token */
  char *const *headers; /* "Name: value" */
  size_t n_headers;
  const char *connect_to; /* "host:port" of a backend, or NULL: same URL, Host and TLS name */
  const char *range;      /* "FIRST-LAST" body bytes (inclusive, as HTTP Range), or NULL: all.
                             A server that ignores it answers 200 with the whole body */
  bool reuse;             /* false: a new connection for this request, closed after it */
  bool connect_only;      /* connect (and for https do the TLS handshake), send nothing, close:
                             a connect test's sample. The lean engine's (bw_lean.h) only */
  bool tls_verify;
  bool follow_redirects;      /* up to 10, as wget */
  int http_version;           /* 1: HTTP/1.1; 2: HTTP/2 where TLS ALPN agrees, else 1.1 */
  int64_t timeout_us;         /* whole request; 0: none */
  int64_t connect_timeout_us; /* 0: curl's default */
  int64_t idle_timeout_us;    /* fail (timeout) once no byte, header or body, has arrived for
                                 this long, counted from the start and from each arrival; 0: never */
  int64_t max_time_us;        /* stop cleanly after this long: a capped, not a failed, transfer */
  int64_t max_bytes;          /* stop cleanly after this many body bytes */
  bool tcp_info;              /* take TCP_INFO when the connection ends (implies !reuse) */
  int64_t tcp_sample_us;      /* with tcp_info: read it this often during the transfer too; 0:
                                 only at the end */
  /* The request body of a POST, PUT or PATCH (bw_method_has_body()), sent with its
   * Content-Length even when body_len is 0; body NULL for other methods. */
  const char *body;
  size_t body_len;
  const char *content_type; /* with a body: sent as Content-Type after the headers; NULL: none */
  const char *proxy;        /* "http[s]://[user:password@]host:port", or NULL: no proxy */
  const char *body_find;    /* text to look for in the response body (bw_response.body_found) */
  /* Called for each block of body data as it arrives (may be NULL). now_us is monotonic. */
  void (*on_data)(void *arg, size_t bytes, int64_t now_us);
  void (*on_done)(void *arg, const struct bw_response *res);
  void *arg;
};

/* How one transfer ended. All strings are inside the struct; valid during on_done only. */
struct bw_response {
  int code;                /* 0: complete or capped; else curl's error code */
  const char *error_class; /* NULL when code is 0: dns, connect, tls, timeout, reset, length,
                              redirect, empty, protocol, aborted, other */
  char error[320];         /* curl's words: strerror and its error buffer */
  bool capped;             /* stopped by max_time or max_bytes */
  long status;             /* 0 when no response */
  int64_t body_bytes;
  int64_t header_bytes;
  int64_t content_length; /* announced, or -1 */
  int64_t start_us;       /* monotonic */
  int64_t end_us;
  int64_t headers_us;    /* monotonic time the last response's headers ended, or 0 */
  int64_t first_byte_us; /* monotonic time of the first body byte, or 0 */
  int64_t last_byte_us;  /* monotonic time of the last body byte, or 0 */
  int64_t last_data_us;  /* monotonic time of the last byte of any kind (or the start) */
  /* curl's cumulative times from the start (CURLINFO_*_TIME_T); 0 when not reached. */
  int64_t namelookup_us;
  int64_t connect_us;
  int64_t appconnect_us;
  int64_t pretransfer_us;
  int64_t starttransfer_us;
  int64_t total_us;
  long num_connects; /* new connections this transfer opened */
  char remote_ip[64];
  long remote_port;
  const char *http_version; /* "1.0", "1.1", "2", "3", or "" */
  struct bw_tcp_facts tcp;
  bool body_found;           /* the body contained the request's body_find (or it had none) */
  int64_t cert_not_after_us; /* https: the server certificate's notAfter, µs since the epoch,
                                when read during this transfer; 0 otherwise */
};

/* A reusable transfer slot: one curl easy handle, so DNS and TLS caches carry over. */
struct bw_xfer *bw_xfer_new(struct bw_loop *loop);
/*
 * Starts req on x (which must be idle). Returns 0, or -errno with nothing started and a message in
 * errs (a bad URL, curl refusing an option).
 */
int bw_xfer_start(struct bw_xfer *x, const struct bw_request *req, struct bw_errs *errs);
/* Starts the same request again on idle x, without setting it up anew (a page test's next one). */
int bw_xfer_restart(struct bw_xfer *x, struct bw_errs *errs);
/* Stops x if running; its on_done is called with error_class "aborted". */
void bw_xfer_abort(struct bw_xfer *x);
/* Frees x; a running transfer is removed without calling on_done. NULL-safe. */
void bw_xfer_free(struct bw_xfer *x);

#endif
