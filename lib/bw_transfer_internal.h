#ifndef BW_TRANSFER_INTERNAL_H
#define BW_TRANSFER_INTERNAL_H

/*
 * What the transfer layer's own files share (bw_loop.c, bw_transfer.c, bw_http_server.c,
 * bw_smtp.c, bw_lean.c): the loop's and a transfer slot's insides. Nothing outside those files
 * includes this.
 */

#include <curl/curl.h>
#include <event2/event.h>
#include <event2/event_struct.h>

#include "bw_check.h"
#include "bw_loop.h"
#include "bw_transfer.h"

/*
 * The wiring follows curl's docs/examples/multi-event.c: one struct event per socket, kept with
 * curl_multi_assign; one timer for curl's timeout; both call curl_multi_socket_action and then
 * drain curl_multi_info_read. The timer callback curl calls only (re)arms our timer: libcurl is
 * never called from inside its own callbacks.
 */

struct bw_loop {
  struct event_base *base;
  CURLM *multi;
  struct event timer;
  int running;
  struct bw_xfer *active; /* transfers in the multi handle, to fail them all if it breaks */
  struct evdns_base *dns; /* the lean engine's resolver, made when first needed */
};

/* The loop's asynchronous resolver (libevent's evdns, with /etc/hosts), or NULL. */
struct evdns_base *bw_loop_dns(struct bw_loop *loop);

struct sock {
  struct event ev;
  curl_socket_t fd;
  struct bw_loop *loop;
};

#define MAX_FDS 4

struct bw_xfer {
  struct bw_loop *loop;
  CURL *easy;
  bool active;
  struct bw_xfer *prev, *next; /* in loop->active while active */
  struct bw_request req;
  char *url;
  char *method;
  char *range; /* CURLOPT_RANGE, or NULL */
  struct curl_slist *headers;
  struct curl_slist *connect_to;
  char *body;         /* CURLOPT_POSTFIELDS, or NULL */
  char *content_type; /* in headers as "Content-Type: ..." */
  char *proxy;
  struct bw_find find;       /* the request's body_find (bw_check.h) */
  bool https;                /* the URL's scheme: its server's certificate is read */
  int64_t cert_not_after_us; /* read during this transfer, 0 before */
  char errbuf[CURL_ERROR_SIZE];
  struct event cap_timer;
  struct event idle_timer; /* armed while req.idle_timeout_us is set: see idle_cb() */
  struct event tcp_timer;  /* armed while req.tcp_sample_us is set: see tcp_sample_cb() */
  bool capped;
  int64_t body_bytes;
  int64_t first_byte_us;
  int64_t last_byte_us;
  int64_t headers_us; /* monotonic time the latest response's headers ended */
  int64_t start_us;
  int64_t last_data_us; /* monotonic time of the latest response byte (header or body) */
  long status;          /* of the latest response header seen, 0 before any */
  /* Sockets this transfer opened (Happy Eyeballs may open several) and the best TCP_INFO seen. */
  curl_socket_t fds[MAX_FDS];
  size_t n_fds;
  struct bw_tcp_facts tcp;
};

#define SETOPT(opt, val)                                                                           \
  do {                                                                                             \
    CURLcode rc_ = curl_easy_setopt(e, opt, val);                                                  \
    if (rc_ != CURLE_OK) {                                                                         \
      bw_errs_add(errs, "%s: cannot set %s: %s", x->url, #opt, curl_easy_strerror(rc_));           \
      return -EINVAL;                                                                              \
    }                                                                                              \
  } while (0)

/* Wires the loop's multi handle to its event base (socket and timer callbacks). 0 or -1. */
int bw_xfer_wire(struct bw_loop *loop);

/* Adds x's configured easy handle to the multi handle: the transfer starts. 0 or -errno. */
int bw_xfer_launch(struct bw_xfer *x, struct bw_errs *errs);

#endif
