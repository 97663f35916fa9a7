#ifndef BW_HTTP_SERVER_H
#define BW_HTTP_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bw_loop.h"
#include "bw_util.h"

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

#endif
