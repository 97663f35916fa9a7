#ifndef BW_TRANSFER_H
#define BW_TRANSFER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bw_util.h"

/*
 * HTTP transfers on one event loop: libcurl's multi interface driven by libevent (socket and timer
 * callbacks into curl_multi_socket_action). The only module that touches curl handles or the event
 * base. No threads of ours, no blocking calls; any number of transfers in flight.
 *
 * Times are µs. A transfer reports once, through its request's on_done, from inside
 * bw_loop_run(); on_done may start more transfers.
 */

struct bw_loop;
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
  const char *method;        /* "GET" (default when NULL) or "HEAD" */
  char *const *headers;      /* "Name: value" */
  size_t n_headers;
  const char *connect_to;    /* "host:port" of a backend, or NULL: same URL, Host and TLS name */
  bool reuse;                /* false: a new connection for this request, closed after it */
  bool tls_verify;
  bool follow_redirects;     /* up to 10, as wget */
  int http_version;          /* 1: HTTP/1.1; 2: HTTP/2 where TLS ALPN agrees, else 1.1 */
  int64_t timeout_us;        /* whole request; 0: none */
  int64_t connect_timeout_us;/* 0: curl's default */
  int64_t idle_timeout_us;   /* fail (timeout) once no byte, header or body, has arrived for
                                this long, counted from the start and from each arrival; 0: never */
  int64_t max_time_us;       /* stop cleanly after this long: a capped, not a failed, transfer */
  int64_t max_bytes;         /* stop cleanly after this many body bytes */
  bool tcp_info;             /* take TCP_INFO when the connection ends (implies !reuse) */
  int64_t tcp_sample_us;     /* with tcp_info: read it this often during the transfer too; 0:
                                only at the end */
  /* Called for each block of body data as it arrives (may be NULL). now_us is monotonic. */
  void (*on_data)(void *arg, size_t bytes, int64_t now_us);
  void (*on_done)(void *arg, const struct bw_response *res);
  void *arg;
};

/* How one transfer ended. All strings are inside the struct; valid during on_done only. */
struct bw_response {
  int code;                  /* 0: complete or capped; else curl's error code */
  const char *error_class;   /* NULL when code is 0: dns, connect, tls, timeout, reset, length,
                                redirect, empty, protocol, aborted, other */
  char error[320];           /* curl's words: strerror and its error buffer */
  bool capped;               /* stopped by max_time or max_bytes */
  long status;               /* 0 when no response */
  int64_t body_bytes;
  int64_t header_bytes;
  int64_t content_length;    /* announced, or -1 */
  int64_t start_us;          /* monotonic */
  int64_t end_us;
  int64_t headers_us;        /* monotonic time the last response's headers ended, or 0 */
  int64_t first_byte_us;     /* monotonic time of the first body byte, or 0 */
  int64_t last_byte_us;      /* monotonic time of the last body byte, or 0 */
  int64_t last_data_us;      /* monotonic time of the last byte of any kind (or the start) */
  /* curl's cumulative times from the start (CURLINFO_*_TIME_T); 0 when not reached. */
  int64_t namelookup_us;
  int64_t connect_us;
  int64_t appconnect_us;
  int64_t pretransfer_us;
  int64_t starttransfer_us;
  int64_t total_us;
  long num_connects;         /* new connections this transfer opened */
  char remote_ip[64];
  long remote_port;
  const char *http_version;  /* "1.0", "1.1", "2", "3", or "" */
  struct bw_tcp_facts tcp;
};

/* A monotonic clock in µs. */
int64_t bw_now_us(void);
/* The wall clock in µs since the Unix epoch. */
int64_t bw_wall_us(void);

/*
 * Creates the loop with its own event base and curl multi handle. Calls curl_global_init once
 * per process. NULL on failure, with a message in errs.
 */
struct bw_loop *bw_loop_new(struct bw_errs *errs);
/* Frees the loop; every bw_xfer on it must have been freed first. NULL-safe. */
void bw_loop_free(struct bw_loop *loop);
/* Runs until no transfer is in flight and nothing else is scheduled, or bw_loop_break(). */
int bw_loop_run(struct bw_loop *loop);
void bw_loop_break(struct bw_loop *loop);

/*
 * Timers and signals on the same loop, for the scheduler and the daemon: the loop stays the one
 * place that owns the event base. Callbacks run from inside bw_loop_run().
 */
struct bw_timer;
typedef void (*bw_loop_fn)(void *arg);
struct bw_timer *bw_timer_new(struct bw_loop *loop, bw_loop_fn fn, void *arg);
/* (Re)arms the timer to fire once, delay_us from now (0 or less: at the next loop turn). */
void bw_timer_arm(struct bw_timer *t, int64_t delay_us);
void bw_timer_stop(struct bw_timer *t);
void bw_timer_free(struct bw_timer *t); /* NULL-safe */

/* Calls fn from the loop whenever signal signo arrives (libevent's self-pipe: async-safe). */
struct bw_signal;
struct bw_signal *bw_signal_new(struct bw_loop *loop, int signo, bw_loop_fn fn, void *arg);
void bw_signal_free(struct bw_signal *s); /* NULL-safe */

/*
 * A wake-up another thread can send: after bw_wake_fire(), fn runs once from the loop (several
 * fires before it runs give one call, so fn must take everything that is waiting). bw_wake_fire()
 * is safe from any thread and from a signal handler; new and free belong to the loop's thread.
 */
struct bw_wake;
struct bw_wake *bw_wake_new(struct bw_loop *loop, bw_loop_fn fn, void *arg);
void bw_wake_fire(struct bw_wake *w);
void bw_wake_free(struct bw_wake *w); /* NULL-safe */

/*
 * A small HTTP/1.1 server on the loop, for the metrics endpoint. It shares the loop with the
 * measurements and its port may be reachable by anyone, so every cost a client can cause is
 * bounded:
 * - the request line and headers may take BW_HTTP_MAX_HEAD bytes; more is answered 431 without
 *   being read (input is never buffered beyond that); a request with a body is answered 413;
 * - a connection must have sent its request and taken the whole answer within timeout_us of
 *   being accepted, however slowly it trickles, or it is closed;
 * - at most max_connections are open: a new one closes the oldest that has not sent a complete
 *   request yet, or is itself closed when every open one is being answered;
 * - when accept() fails (EMFILE, ENFILE, ENOBUFS, ...) the listener rests for 1 s, doubling up to
 *   16 s while it keeps failing, instead of retrying at once in a loop.
 * Each connection carries one request (the answer says Connection: close).
 */
#define BW_HTTP_MAX_HEAD 8192
#define BW_HTTP_MAX_CONNECTIONS 64
#define BW_HTTP_TIMEOUT_US (10 * INT64_C(1000000))

/* Fills body for a GET or HEAD of path (query removed) and returns the status: 200, 404, ... */
typedef int (*bw_http_fn)(void *arg, const char *path, struct bw_buf *body);
/*
 * Told when accepting stops and starts again: err is -errno of the accept() that failed when the
 * listener starts resting, and 0 once it has been listening again for a rest's length without an
 * error. Called once per change, never once per failed accept().
 */
typedef void (*bw_http_accept_fn)(void *arg, int err);

struct bw_http_opts {
  const char *listen;          /* "host:port", "[v6]:port"; a name: its first address */
  bw_http_fn fn;               /* required */
  bw_http_accept_fn on_accept; /* optional */
  void *arg;                   /* for fn and on_accept */
  size_t max_connections;      /* 0: BW_HTTP_MAX_CONNECTIONS */
  int64_t timeout_us;          /* 0: BW_HTTP_TIMEOUT_US */
};

struct bw_http_server;
/* Listens as o says (o is not kept). NULL with a message in errs when it cannot listen. */
struct bw_http_server *bw_http_listen(struct bw_loop *loop, const struct bw_http_opts *o,
                                      struct bw_errs *errs);
/* True when the listening address is a loopback one (127.0.0.0/8, ::1, or ::ffff:127.x.x.x). */
bool bw_http_loopback(const struct bw_http_server *s);
/* Closes the listener and every connection. NULL-safe. */
void bw_http_free(struct bw_http_server *s);

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


/* ---- mail delivery ---- */

/*
 * One message to send over SMTP. Strings and the message bytes are copied by bw_smtp_send(); the
 * struct need not outlive the call.
 */
struct bw_smtp {
  const char *url;           /* smtp://host:port, or smtps://host:port (TLS from the start) */
  const char *tls;           /* smtp://: "none", "opportunistic" (STARTTLS when offered; the
                                default when NULL) or "required" (fail without STARTTLS). With
                                a username, opportunistic means required: AUTH goes in clear
                                only with an explicit "none". */
  bool tls_verify;           /* check the server's certificate and name */
  const char *username;      /* NULL: no AUTH */
  const char *password;      /* NULL with a username: an empty password. Never in any message. */
  const char *from;          /* envelope sender, a bare address */
  const char *const *rcpt;   /* envelope recipients, bare addresses */
  size_t n_rcpt;
  const char *message;       /* the whole message (bw_mail_compose()), CRLF lines */
  size_t message_len;
  int64_t timeout_us;        /* the whole delivery; 0: none */
};

/* code: 0 when the server accepted the message, else curl's error code; error: "" or one line. */
typedef void (*bw_smtp_done_fn)(void *arg, int code, const char *error);

/*
 * Starts delivering s on the loop, alongside every other transfer. done is called exactly once,
 * from inside bw_loop_run(), with the outcome in curl's words (a missing STARTTLS is explained:
 * "the server offers no STARTTLS; the password is not sent in clear ..."). Returns 0, or -errno
 * with nothing started and a message in errs (a bad tls value, no recipient, curl refusing an
 * option).
 */
int bw_smtp_send(struct bw_loop *loop, const struct bw_smtp *s, bw_smtp_done_fn done, void *arg,
                 struct bw_errs *errs);

/*
 * Delivers s on a private loop and returns when it is done, for the command line: 0, or -EIO with
 * the server's URL and curl's words in errs (or the -errno of bw_smtp_send()).
 */
int bw_smtp_send_blocking(const struct bw_smtp *s, struct bw_errs *errs);

/*
 * Reads a password: the first line of the file name, without its line ending. A bare name is a
 * systemd credential when $CREDENTIALS_DIRECTORY is set (bw_file_secret_path()). A file its group
 * or everyone may read is refused (bw_file_read_private()). Returns 0 with *ret (the caller frees
 * it), or -errno with a message naming the file, never the contents.
 */
int bw_smtp_read_password(const char *name, char **ret, struct bw_errs *errs);

#endif
