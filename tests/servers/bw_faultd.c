/*
 * bw_faultd: a fault-injecting HTTP/1.1 server for benchwatch's integration tests. It answers
 * GET and HEAD with deterministic filler bodies that arrive fast, late, slowly, with pauses, cut
 * short by a reset or by a Content-Length that lies, never after the headers, or never at all, so
 * that every error class and timing the client records can be produced on demand. One thread, one
 * libevent base.
 *
 * Why bufferevents and not evhttp: half of the faults are things evhttp exists to prevent. Ending
 * a response early makes evhttp_connection_free() call shutdown(SHUT_WR) before close(), so a
 * "reset" becomes FIN-then-RST and the client sees a partial body (curl exit 18) instead of a
 * reset (exit 56), unless the fd is swapped from under evhttp. evhttp also owns the pacing of
 * chunked replies and the keep-alive decision. A small request reader over an evconnlistener and
 * one bufferevent per connection is shorter than the workarounds and keeps each fault exact.
 * libevent's evhttp_uri_parse() and evhttp_parse_query_str() still do the URI and query decoding.
 *
 * Body byte k of every response is FILLER_ALPHABET[k % 64], or '\n' when k % 64 == 63: lines of
 * 63 characters. Sizes are in bytes, rates in bytes/s, times as the parameter names say.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <linux/sockios.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/listener.h>
#include <event2/util.h>

#define MAX_BODY (UINT64_C(64) << 30)         /* larger sizes and rates are refused */
#define MAX_WAIT_US (INT64_C(3600) * 1000000) /* longest delay or stall */
#define MAX_CHUNKED (UINT64_C(16) << 20) /* a chunked body is queued whole */
#define DEFAULT_SIZE 128                      /* body bytes when a query has no size */
#define LINE_MAX_BYTES 8192                   /* request line or one header line */
#define HEADERS_MAX 100
#define READ_HIGH (64 * 1024)  /* input kept while a response is in progress */
#define FILL_HIGH (256 * 1024) /* body bytes queued in user space at most */
#define FILL_LOW (64 * 1024)   /* refill when the output buffer drops to this */
#define FILLER_BYTES 65536     /* a multiple of the 64-byte line */
#define TICK_US 20000          /* pacing period for rate-limited bodies */
#define IDLE_TIMEOUT_S 60      /* keep-alive connection with no request */
#define WRITE_TIMEOUT_S 60     /* peer that stops reading */
#define LINGER_US 5000000      /* after our FIN, how long to wait for the peer's */
#define RESET_WAIT_US 2000000  /* how long to wait for the peer to acknowledge data before RST */
#define ACCEPT_PAUSE_US 100000 /* listener rest after an accept error such as EMFILE */

static const char FILLER_ALPHABET[] =
    "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz-";
static char filler[FILLER_BYTES];

/* What a connection is doing; each callback acts on the state and ignores what does not apply. */
enum conn_state {
  ST_READ,   /* reading a request, or idle between requests */
  ST_DELAY,  /* the response waits on the timer before its status line */
  ST_SEND,   /* queueing body bytes as fast as the peer takes them */
  ST_DRAIN,  /* waiting for the output buffer to empty, then doing c->next */
  ST_PAUSE,  /* silent in the middle of a body */
  ST_PACE,   /* queueing body bytes at a fixed rate, on the timer and on the write callback */
  ST_HANG,   /* never answers; waits for the peer to leave */
  ST_LINGER, /* our FIN is sent; discarding input until the peer closes or the timer fires */
};

/* What to do once the output buffer has drained. */
enum drain_next { NEXT_PAUSE, NEXT_PACE, NEXT_RESET, NEXT_CLOSE };

/* How a response ends once its last byte is queued. */
enum body_end {
  END_DONE,  /* complete: keep the connection or close it as the request asked */
  END_RESET, /* RST: SO_LINGER {1, 0} and close */
  END_CLOSE, /* FIN without the announced length */
};

/*
 * A response, decided when the request is complete. The body is `fast` bytes at full speed, then
 * the optional pause (again after every `pause_every` bytes, when set), then the rest up to `send`
 * at `rate` (0: full speed), then `end`. A `mute` response stops after its headers.
 */
struct plan {
  int status;
  uint64_t length;  /* Content-Length announced */
  uint64_t send;    /* body bytes really sent: less than length when the response is cut */
  uint64_t fast;    /* leading body bytes sent at full speed */
  uint64_t rate;    /* bytes/s after the fast part; 0 = full speed */
  int64_t pause_us; /* silence after the fast part */
  uint64_t pause_every; /* 0, or pause again after each this many more bytes */
  int64_t delay_us; /* before the status line */
  enum body_end end;
  bool hang;
  bool mute; /* the status line and headers, then silence until the peer leaves */
  uint64_t chunk; /* > 0: Transfer-Encoding: chunked, in chunks of this many bytes */
  bool close;     /* Connection: close and a FIN after the response, whatever the request said */
  bool once; /* one response per connection: a later request is read, then a FIN, no answer */
  uint64_t header_pad; /* > 0: an X-Pad header of this many bytes (an oversized head) */
  const char *location;
  char msg[256]; /* a text body (error responses) in place of filler; empty when unused */
};

struct server;

struct conn {
  struct conn *prev, *next;
  struct server *srv;
  struct bufferevent *bev;
  struct event *timer;
  enum conn_state state;
  enum drain_next next_step;
  char peer[64];
  bool in_process; /* conn_process() is on the stack: do not re-enter it */
  bool peer_eof;
  uint64_t discard; /* request body bytes still to skip */
  /* the request being read */
  char *reqline; /* for the log; NULL until a request line arrives and after it is logged */
  char *target;
  unsigned nheaders;
  bool head;
  bool http10;
  bool conn_close;
  bool conn_keep_alive;
  bool expect_continue;
  bool has_length;
  uint64_t req_length;
  bool body_wait; /* --record: the body is read before the response */
  char *rec;      /* --record: the request line and headers as they came, CRLF-terminated */
  size_t rec_len;
  /* the response */
  bool keep_alive;
  struct plan plan;
  uint64_t queued;    /* body bytes handed to the output buffer */
  uint64_t pace_base; /* `queued` when the paced part started */
  int64_t pace_t0_us;
  int64_t drain_t0_us;
  int64_t start_us; /* request complete */
  bool paused;      /* the pause has been served */
  unsigned answered; /* responses completed on this connection */
};

struct server {
  struct event_base *base;
  struct evconnlistener *listener;
  struct event *sigterm, *sigint, *accept_timer;
  struct conn *conns;
  bool verbose;
  int64_t slow_us; /* --slow: added before every response, to play a slow backend node */
  bool mute;       /* --mute: every response stops after its headers (a black-holed node) */
  FILE *record;    /* --record: every request, head and body, appended as it arrived */
  bool stopping; /* SIGTERM or SIGINT: connections are closed, not abandoned by peers */
};

static void conn_process(struct conn *c);
static void pump(struct conn *c);

static void *xcalloc(size_t n, size_t size) {
  void *p = calloc(n, size);
  if (!p) {
    (void)fprintf(stderr, "bw_faultd: out of memory\n");
    abort();
  }
  return p;
}

static char *xstrdup(const char *s) {
  char *p = strdup(s);
  if (!p) {
    (void)fprintf(stderr, "bw_faultd: out of memory\n");
    abort();
  }
  return p;
}

static int64_t mono_us(void) {
  struct timespec ts;
  (void)clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static struct timeval tv_us(int64_t us) {
  struct timeval tv = {.tv_sec = (time_t)(us / 1000000), .tv_usec = (suseconds_t)(us % 1000000)};
  return tv;
}

/* Arms the connection's timer `us` from now, not from the loop's possibly stale cached time. */
static void timer_arm(struct conn *c, int64_t us) {
  struct timeval tv = tv_us(us);
  (void)event_base_update_cache_time(c->srv->base);
  (void)evtimer_add(c->timer, &tv);
}

static const char *reason(int status) {
  static const struct {
    int status;
    const char *text;
  } reasons[] = {
      {200, "OK"},
      {201, "Created"},
      {202, "Accepted"},
      {203, "Non-Authoritative Information"},
      {204, "No Content"},
      {205, "Reset Content"},
      {206, "Partial Content"},
      {300, "Multiple Choices"},
      {301, "Moved Permanently"},
      {302, "Found"},
      {303, "See Other"},
      {304, "Not Modified"},
      {307, "Temporary Redirect"},
      {308, "Permanent Redirect"},
      {400, "Bad Request"},
      {401, "Unauthorized"},
      {403, "Forbidden"},
      {404, "Not Found"},
      {405, "Method Not Allowed"},
      {408, "Request Timeout"},
      {410, "Gone"},
      {413, "Content Too Large"},
      {414, "URI Too Long"},
      {429, "Too Many Requests"},
      {431, "Request Header Fields Too Large"},
      {500, "Internal Server Error"},
      {501, "Not Implemented"},
      {502, "Bad Gateway"},
      {503, "Service Unavailable"},
      {504, "Gateway Timeout"},
      {505, "HTTP Version Not Supported"},
  };
  for (size_t i = 0; i < sizeof reasons / sizeof reasons[0]; i++)
    if (reasons[i].status == status)
      return reasons[i].text;
  return "Unknown";
}

/* Turns the plan into a text response: `status` with the formatted message and a newline. */
static void plan_error(struct plan *p, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void plan_error(struct plan *p, int status, const char *fmt, ...) {
  va_list ap;
  memset(p, 0, sizeof *p);
  p->status = status;
  va_start(ap, fmt);
  int n = vsnprintf(p->msg, sizeof p->msg - 1, fmt, ap);
  va_end(ap);
  if (n < 0)
    n = 0;
  if ((size_t)n > sizeof p->msg - 2)
    n = (int)(sizeof p->msg - 2);
  p->msg[n] = '\n';
  p->msg[n + 1] = '\0';
  p->length = p->send = p->fast = (uint64_t)n + 1;
}

/* A plain 200 with n filler bytes at full speed. */
static void plan_body(struct plan *p, uint64_t n) {
  p->status = 200;
  p->length = p->send = p->fast = n;
}

/* ---- query parameters and endpoints ---- */

enum param {
  P_SIZE,
  P_MS,
  P_RATE,
  P_AFTER,
  P_SECONDS,
  P_EVERY,
  P_FAST,
  P_CLAIM,
  P_SEND,
  P_CODE,
  P_CHUNK,
  P_COUNT
};

enum param_kind {
  K_INT,     /* a whole number, stored as is */
  K_MS,      /* whole milliseconds, stored as microseconds */
  K_SECONDS, /* decimal seconds, stored as microseconds */
};

static const struct param_def {
  const char *name;
  enum param_kind kind;
  uint64_t min, max; /* in the unit the client writes */
} param_defs[P_COUNT] = {
    [P_SIZE] = {"size", K_INT, 0, MAX_BODY},
    [P_MS] = {"ms", K_MS, 0, MAX_WAIT_US / 1000},
    [P_RATE] = {"rate", K_INT, 1, MAX_BODY},
    [P_AFTER] = {"after", K_INT, 0, MAX_BODY},
    [P_SECONDS] = {"seconds", K_SECONDS, 0, MAX_WAIT_US / 1000000},
    [P_EVERY] = {"every", K_INT, 1, MAX_BODY},
    [P_FAST] = {"fast", K_INT, 0, MAX_BODY},
    [P_CLAIM] = {"claim", K_INT, 0, MAX_BODY},
    [P_SEND] = {"send", K_INT, 0, MAX_BODY},
    [P_CODE] = {"code", K_INT, 200, 599},
    [P_CHUNK] = {"chunk", K_INT, 1, MAX_CHUNKED},
};

#define BIT(p) (1u << (p))

struct args {
  uint64_t v[P_COUNT]; /* K_MS and K_SECONDS in microseconds */
  unsigned present;
};

/*
 * Parses a whole number of at most 20 digits. Returns 0, -EINVAL for anything but digits (a sign,
 * a space, an empty string) and -ERANGE past UINT64_MAX.
 */
static int parse_u64(const char *s, uint64_t *ret) {
  uint64_t v = 0;
  if (*s == '\0')
    return -EINVAL;
  for (; *s; s++) {
    if (*s < '0' || *s > '9')
      return -EINVAL;
    unsigned d = (unsigned)(*s - '0');
    if (v > (UINT64_MAX - d) / 10)
      return -ERANGE;
    v = v * 10 + d;
  }
  *ret = v;
  return 0;
}

/*
 * Parses decimal seconds ("2", "1.5", "0.025") into microseconds; digits past the sixth decimal
 * are ignored. Returns 0, -EINVAL or -ERANGE (more than max_s seconds).
 */
static int parse_seconds(const char *s, uint64_t max_s, uint64_t *ret_us) {
  uint64_t whole = 0, frac = 0, scale = 1000000;
  const char *dot = strchr(s, '.');
  char buf[24];
  if (dot) {
    size_t n = (size_t)(dot - s);
    if (n == 0 || n >= sizeof buf || dot[1] == '\0')
      return -EINVAL;
    memcpy(buf, s, n);
    buf[n] = '\0';
    for (const char *f = dot + 1; *f; f++) {
      if (*f < '0' || *f > '9')
        return -EINVAL;
      if (scale > 1) {
        scale /= 10;
        frac += (uint64_t)(*f - '0') * scale;
      }
    }
    s = buf;
  }
  int r = parse_u64(s, &whole);
  if (r < 0)
    return r;
  if (whole > max_s || (whole == max_s && frac > 0))
    return -ERANGE;
  *ret_us = whole * 1000000 + frac;
  return 0;
}

/* Checks and stores one query parameter. Returns 0, or -1 with the 400 response in p. */
static int parse_param(const struct param_def *d, const char *value, struct plan *p,
                       uint64_t *ret) {
  uint64_t v = 0;
  int r;
  if (d->kind == K_SECONDS)
    r = parse_seconds(value, d->max, &v);
  else
    r = parse_u64(value, &v);
  if (r == -EINVAL) {
    plan_error(p, 400, "%s: \"%.40s\" is not a %s", d->name, value,
               d->kind == K_SECONDS ? "number of seconds" : "whole number");
    return -1;
  }
  if (d->kind == K_SECONDS) {
    if (r < 0) {
      plan_error(p, 400, "%s: %.40s is out of range (min %" PRIu64 ", max %" PRIu64 ")", d->name,
                 value, d->min, d->max);
      return -1;
    }
    *ret = v;
    return 0;
  }
  if (r < 0 || v < d->min || v > d->max) {
    plan_error(p, 400, "%s: %.40s is out of range (min %" PRIu64 ", max %" PRIu64 ")", d->name,
               value, d->min, d->max);
    return -1;
  }
  *ret = d->kind == K_MS ? v * 1000 : v;
  return 0;
}

/* Endpoint builders: fill the plan from checked arguments, or return -1 with a 400 in it. */

static int build_bytes(const struct args *a, struct plan *p) {
  plan_body(p, a->v[P_SIZE]);
  return 0;
}

static int build_delay(const struct args *a, struct plan *p) {
  plan_body(p, a->v[P_SIZE]);
  p->delay_us = (int64_t)a->v[P_MS];
  return 0;
}

static int build_trickle(const struct args *a, struct plan *p) {
  plan_body(p, a->v[P_SIZE]);
  p->fast = 0;
  p->rate = a->v[P_RATE];
  return 0;
}

static int build_stall(const struct args *a, struct plan *p) {
  if (a->v[P_AFTER] > a->v[P_SIZE]) {
    plan_error(p, 400, "after (%" PRIu64 ") is larger than size (%" PRIu64 ")", a->v[P_AFTER],
               a->v[P_SIZE]);
    return -1;
  }
  plan_body(p, a->v[P_SIZE]);
  p->fast = a->v[P_AFTER];
  p->pause_us = (int64_t)a->v[P_SECONDS];
  p->pause_every = a->v[P_EVERY];
  return 0;
}

static int build_collapse(const struct args *a, struct plan *p) {
  if (a->v[P_FAST] > a->v[P_SIZE]) {
    plan_error(p, 400, "fast (%" PRIu64 ") is larger than size (%" PRIu64 ")", a->v[P_FAST],
               a->v[P_SIZE]);
    return -1;
  }
  plan_body(p, a->v[P_SIZE]);
  p->fast = a->v[P_FAST];
  p->rate = a->v[P_RATE];
  return 0;
}

static int build_reset(const struct args *a, struct plan *p) {
  if (a->v[P_AFTER] > a->v[P_SIZE]) {
    plan_error(p, 400, "after (%" PRIu64 ") is larger than size (%" PRIu64 ")", a->v[P_AFTER],
               a->v[P_SIZE]);
    return -1;
  }
  plan_body(p, a->v[P_SIZE]);
  p->send = p->fast = a->v[P_AFTER];
  p->end = END_RESET;
  return 0;
}

static int build_lie(const struct args *a, struct plan *p) {
  if (a->v[P_SEND] >= a->v[P_CLAIM]) {
    plan_error(p, 400, "send (%" PRIu64 ") must be less than claim (%" PRIu64 ")", a->v[P_SEND],
               a->v[P_CLAIM]);
    return -1;
  }
  plan_body(p, a->v[P_CLAIM]);
  p->send = p->fast = a->v[P_SEND];
  p->end = END_CLOSE;
  return 0;
}

static int build_status(const struct args *a, struct plan *p) {
  int code = (int)a->v[P_CODE];
  bool bodiless = code == 204 || code == 304;
  uint64_t size = a->v[P_SIZE];
  if (bodiless && !(a->present & BIT(P_SIZE)))
    size = 0;
  if (bodiless && size > 0) {
    plan_error(p, 400, "status %d cannot carry a body (size %" PRIu64 ")", code, size);
    return -1;
  }
  plan_body(p, size);
  p->status = code;
  return 0;
}

static int build_redirect_loop(const struct args *a, struct plan *p) {
  (void)a;
  plan_body(p, 0);
  p->status = 302;
  p->location = "/redirect-loop";
  return 0;
}

static int build_hang(const struct args *a, struct plan *p) {
  (void)a;
  p->hang = true;
  return 0;
}

static int build_headers(const struct args *a, struct plan *p) {
  plan_body(p, a->v[P_SIZE]);
  p->mute = true;
  return 0;
}

static int build_chunked(const struct args *a, struct plan *p) {
  if (a->v[P_SIZE] > MAX_CHUNKED) {
    plan_error(p, 400, "size (%" PRIu64 ") is larger than %" PRIu64 " for a chunked body",
               a->v[P_SIZE], MAX_CHUNKED);
    return -1;
  }
  plan_body(p, a->v[P_SIZE]);
  p->chunk = (a->present & BIT(P_CHUNK)) ? a->v[P_CHUNK] : 1000;
  return 0;
}

static int build_close(const struct args *a, struct plan *p) {
  plan_body(p, a->v[P_SIZE]);
  p->close = true;
  return 0;
}

static int build_once(const struct args *a, struct plan *p) {
  plan_body(p, a->v[P_SIZE]);
  p->once = true;
  return 0;
}

static int build_bighead(const struct args *a, struct plan *p) {
  plan_body(p, 0);
  p->header_pad = a->v[P_SIZE];
  return 0;
}

static const struct endpoint {
  const char *path;
  unsigned takes; /* parameters the query may carry */
  unsigned needs; /* parameters it must carry */
  int (*build)(const struct args *a, struct plan *p);
} endpoints[] = {
    {"/bytes", BIT(P_SIZE), 0, build_bytes},
    {"/delay", BIT(P_MS) | BIT(P_SIZE), BIT(P_MS), build_delay},
    {"/trickle", BIT(P_RATE) | BIT(P_SIZE), BIT(P_RATE), build_trickle},
    {"/stall", BIT(P_AFTER) | BIT(P_SECONDS) | BIT(P_EVERY) | BIT(P_SIZE),
     BIT(P_AFTER) | BIT(P_SECONDS), build_stall},
    {"/collapse", BIT(P_FAST) | BIT(P_RATE) | BIT(P_SIZE), BIT(P_FAST) | BIT(P_RATE),
     build_collapse},
    {"/reset", BIT(P_AFTER) | BIT(P_SIZE), BIT(P_AFTER), build_reset},
    {"/lie", BIT(P_CLAIM) | BIT(P_SEND), BIT(P_CLAIM) | BIT(P_SEND), build_lie},
    {"/status", BIT(P_CODE) | BIT(P_SIZE), BIT(P_CODE), build_status},
    {"/redirect-loop", 0, 0, build_redirect_loop},
    {"/hang", 0, 0, build_hang},
    {"/headers", BIT(P_SIZE), 0, build_headers},
    {"/chunked", BIT(P_SIZE) | BIT(P_CHUNK), 0, build_chunked},
    {"/close", BIT(P_SIZE), 0, build_close},
    {"/once", BIT(P_SIZE), 0, build_once},
    {"/bighead", BIT(P_SIZE), BIT(P_SIZE), build_bighead},
};

/* Checks the query against the endpoint's parameters and builds the plan (a 400 on any error). */
static void route_query(const struct endpoint *ep, const char *query, struct plan *p) {
  struct evkeyvalq kvs;
  struct args a = {0};
  kvs.tqh_first = NULL;
  kvs.tqh_last = &kvs.tqh_first;
  if (query && evhttp_parse_query_str(query, &kvs) < 0) {
    plan_error(p, 400, "malformed query string");
    goto out;
  }
  for (struct evkeyval *kv = kvs.tqh_first; kv; kv = kv->next.tqe_next) {
    size_t i = 0;
    while (i < P_COUNT && strcmp(param_defs[i].name, kv->key) != 0)
      i++;
    if (i == P_COUNT || !(ep->takes & BIT(i))) {
      plan_error(p, 400, "%s does not take parameter \"%.40s\"", ep->path, kv->key);
      goto out;
    }
    if (a.present & BIT(i)) {
      plan_error(p, 400, "parameter %s given twice", param_defs[i].name);
      goto out;
    }
    if (parse_param(&param_defs[i], kv->value, p, &a.v[i]) < 0)
      goto out;
    a.present |= BIT(i);
  }
  for (size_t i = 0; i < P_COUNT; i++) {
    if ((ep->needs & BIT(i)) && !(a.present & BIT(i))) {
      plan_error(p, 400, "%s needs parameter %s", ep->path, param_defs[i].name);
      goto out;
    }
  }
  if (!(a.present & BIT(P_SIZE)))
    a.v[P_SIZE] = DEFAULT_SIZE;
  memset(p, 0, sizeof *p);
  (void)ep->build(&a, p);
out:
  evhttp_clear_headers(&kvs);
}

/* Decides the response to a request target: an endpoint's plan, a 404 or a 400. */
static void route(const char *target, struct plan *p) {
  struct evhttp_uri *uri = evhttp_uri_parse(target);
  if (!uri) {
    plan_error(p, 400, "malformed request target");
    return;
  }
  const char *path = evhttp_uri_get_path(uri);
  const struct endpoint *ep = NULL;
  for (size_t i = 0; i < sizeof endpoints / sizeof endpoints[0] && path; i++)
    if (strcmp(endpoints[i].path, path) == 0)
      ep = &endpoints[i];
  if (ep)
    route_query(ep, evhttp_uri_get_query(uri), p);
  else
    plan_error(p, 404, "no such endpoint: %.100s", path && *path ? path : "/");
  evhttp_uri_free(uri);
}

/* ---- connections ---- */

/* Writes the request's log line once (only with --verbose) and forgets the request line. */
static void log_request(struct conn *c, const char *outcome) {
  if (!c->reqline)
    return;
  if (c->srv->verbose) {
    int64_t ms = c->start_us ? (mono_us() - c->start_us) / 1000 : 0;
    char status[8] = "-";
    if (c->plan.status)
      (void)snprintf(status, sizeof status, "%d", c->plan.status);
    (void)fprintf(stderr, "bw_faultd: %s \"%s\" %s body %" PRIu64 "/%" PRIu64 " %" PRId64 "ms %s\n",
                  c->peer, c->reqline, status, c->queued, c->plan.length, ms, outcome);
  }
  free(c->reqline);
  c->reqline = NULL;
}

/* Forgets the request just answered, ready to read the next one. */
static void request_clear(struct conn *c) {
  free(c->reqline);
  free(c->target);
  c->reqline = c->target = NULL;
  c->nheaders = 0;
  c->head = c->http10 = c->conn_close = c->conn_keep_alive = false;
  c->expect_continue = c->has_length = c->body_wait = false;
  c->req_length = 0;
  free(c->rec);
  c->rec = NULL;
  c->rec_len = 0;
  memset(&c->plan, 0, sizeof c->plan);
  c->queued = c->pace_base = 0;
  c->pace_t0_us = c->drain_t0_us = c->start_us = 0;
  c->paused = false;
}

/*
 * Closes the connection at once and frees it. The peer sees a FIN, or a RST when the caller set
 * SO_LINGER {1, 0} or unread input remains. Safe inside the connection's own callbacks.
 */
static void conn_free(struct conn *c) {
  if (c->srv->stopping)
    log_request(c, "server stopping");
  else
    log_request(c, c->state == ST_HANG ? "hang ended: peer left" : "aborted");
  if (c->prev)
    c->prev->next = c->next;
  else
    c->srv->conns = c->next;
  if (c->next)
    c->next->prev = c->prev;
  event_free(c->timer);
  bufferevent_free(c->bev);
  request_clear(c);
  free(c);
}

/* Returns to reading requests, with the idle timeout armed. */
static void enter_read(struct conn *c) {
  struct timeval idle = {IDLE_TIMEOUT_S, 0}, wr = {WRITE_TIMEOUT_S, 0};
  c->state = ST_READ;
  (void)bufferevent_set_timeouts(c->bev, &idle, &wr);
}

/*
 * Waits for the output buffer to empty, then does `next` from drained(). When it is already
 * empty, the timer is activated instead, so that drained() (which may free the connection) always
 * runs from a callback and never under a caller that still uses c.
 */
static void when_drained(struct conn *c, enum drain_next next) {
  c->state = ST_DRAIN;
  c->next_step = next;
  c->drain_t0_us = mono_us();
  (void)event_del(c->timer);
  if (evbuffer_get_length(bufferevent_get_output(c->bev)) == 0)
    event_active(c->timer, EV_TIMEOUT, 1);
  else
    bufferevent_setwatermark(c->bev, EV_WRITE, 0, 0);
}

/*
 * The last byte of a response is queued (END_DONE): reads the next request on a kept-alive
 * connection, or closes with a FIN once the output is out.
 */
static void response_done(struct conn *c) {
  log_request(c, c->keep_alive ? "keep-alive" : "close");
  request_clear(c);
  c->answered++;
  if (!c->keep_alive) {
    when_drained(c, NEXT_CLOSE);
    return;
  }
  enter_read(c);
  if (!c->in_process)
    conn_process(c);
}

/* Queues filler from body offset c->queued up to `target`, never past FILL_HIGH in the buffer. */
static void fill(struct conn *c, uint64_t target) {
  struct evbuffer *out = bufferevent_get_output(c->bev);
  while (c->queued < target && evbuffer_get_length(out) < FILL_HIGH) {
    size_t off = (size_t)(c->queued % FILLER_BYTES);
    uint64_t n = FILLER_BYTES - off;
    if (n > target - c->queued)
      n = target - c->queued;
    if (evbuffer_add_reference(out, filler + off, (size_t)n, NULL, NULL) < 0)
      break;
    c->queued += n;
  }
}

/* Queues what the rate allows by now in the paced part; finishes the body when all is queued. */
static void pace(struct conn *c) {
  const struct plan *p = &c->plan;
  uint64_t left = p->send - c->pace_base;
  double due = (double)p->rate * (double)(mono_us() - c->pace_t0_us) / 1e6;
  uint64_t target = due >= (double)left ? p->send : c->pace_base + (uint64_t)due;
  fill(c, target);
  if (c->queued >= p->send) {
    (void)event_del(c->timer);
    c->state = ST_SEND;
    pump(c);
  }
}

/*
 * Moves the body forward from wherever it stands: queues the fast part up to the output high
 * mark (the write callback calls again), and at each boundary (before the pause, before the paced
 * part, before a cut) waits for the output to drain. Never frees the connection.
 */
static void pump(struct conn *c) {
  const struct plan *p = &c->plan;
  c->state = ST_SEND;
  if (c->queued < p->fast) {
    fill(c, p->fast);
    if (c->queued < p->fast)
      return;
  }
  if (p->pause_us > 0 && !c->paused) {
    when_drained(c, NEXT_PAUSE);
    return;
  }
  if (c->queued < p->send) {
    if (p->rate > 0) {
      when_drained(c, NEXT_PACE);
      return;
    }
    fill(c, p->send);
    if (c->queued < p->send)
      return;
  }
  if (p->end == END_RESET)
    when_drained(c, NEXT_RESET);
  else if (p->end == END_CLOSE)
    when_drained(c, NEXT_CLOSE);
  else
    response_done(c);
}

/* Queues the status line, the headers and any text body, then starts the filler body. */
static void begin_body(struct conn *c) {
  struct evbuffer *out = bufferevent_get_output(c->bev);
  struct plan *p = &c->plan;
  bool bodiless = p->status == 204 || p->status == 304;
  if (p->close)
    c->keep_alive = false;
  (void)evbuffer_add_printf(out, "HTTP/1.1 %d %s\r\nServer: bw_faultd\r\n", p->status,
                            reason(p->status));
  if (p->chunk)
    (void)evbuffer_add_printf(out, "Transfer-Encoding: chunked\r\n");
  else if (!bodiless)
    (void)evbuffer_add_printf(out, "Content-Length: %" PRIu64 "\r\nContent-Type: %s\r\n", p->length,
                              p->msg[0] ? "text/plain; charset=utf-8" : "application/octet-stream");
  if (p->location)
    (void)evbuffer_add_printf(out, "Location: %s\r\n", p->location);
  if (p->header_pad) {
    static const char pad[] = "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx";
    (void)evbuffer_add_printf(out, "X-Pad: ");
    for (uint64_t k = 0; k < p->header_pad; k += sizeof(pad) - 1)
      (void)evbuffer_add(out, pad,
                         p->header_pad - k < sizeof(pad) - 1 ? (size_t)(p->header_pad - k)
                                                            : sizeof(pad) - 1);
    (void)evbuffer_add(out, "\r\n", 2);
  }
  if (!c->keep_alive)
    (void)evbuffer_add_printf(out, "Connection: close\r\n");
  else if (c->http10)
    (void)evbuffer_add_printf(out, "Connection: keep-alive\r\n");
  (void)evbuffer_add(out, "\r\n", 2);
  if (c->head || bodiless) {
    /* Headers only; a HEAD of /reset or /lie has nothing to cut. */
    p->send = p->fast = 0;
    p->rate = 0;
    p->pause_us = 0;
    p->end = END_DONE;
  } else if (p->mute) {
    /* The headers go out; then nothing, as in ST_HANG, until the peer leaves. */
    c->state = ST_HANG;
    return;
  } else if (p->msg[0]) {
    (void)evbuffer_add(out, p->msg, strlen(p->msg));
    c->queued = p->send;
  } else if (p->chunk) {
    /* The whole chunked body at once (it is at most MAX_CHUNKED): filler in p->chunk pieces. */
    for (uint64_t k = 0; k < p->send; k += p->chunk) {
      uint64_t n = p->send - k < p->chunk ? p->send - k : p->chunk;
      (void)evbuffer_add_printf(out, "%" PRIx64 "\r\n", n);
      for (uint64_t i = 0; i < n;) {
        size_t off = (size_t)((k + i) % FILLER_BYTES);
        size_t m = FILLER_BYTES - off < n - i ? FILLER_BYTES - off : (size_t)(n - i);
        (void)evbuffer_add(out, filler + off, m);
        i += m;
      }
      (void)evbuffer_add(out, "\r\n", 2);
    }
    (void)evbuffer_add(out, "0\r\n\r\n", 5);
    c->queued = p->send;
  }
  pump(c);
}

/* Starts answering the request whose plan is complete. */
static void start_response(struct conn *c) {
  struct timeval wr = {WRITE_TIMEOUT_S, 0};
  c->start_us = mono_us();
  (void)bufferevent_set_timeouts(c->bev, NULL, &wr);
  if (c->plan.once && c->answered > 0) {
    /* Kept alive without a word against it, and yet this connection takes no second request. */
    c->keep_alive = false;
    c->plan.end = END_CLOSE;
    when_drained(c, NEXT_CLOSE);
    return;
  }
  if (c->plan.hang) {
    c->state = ST_HANG;
    (void)evbuffer_drain(bufferevent_get_input(c->bev), (size_t)-1);
    return;
  }
  if (c->plan.delay_us > 0) {
    c->state = ST_DELAY;
    timer_arm(c, c->plan.delay_us);
    return;
  }
  begin_body(c);
}

/* Copies a request line for the log, with control bytes made visible as '?'. */
static char *printable_copy(const char *s, size_t max) {
  size_t n = strnlen(s, max);
  char *copy = xcalloc(1, n + 1);
  for (size_t i = 0; i < n; i++)
    copy[i] = (s[i] < 0x20 || s[i] == 0x7f) ? '?' : s[i];
  return copy;
}

/* Parses "METHOD SP TARGET SP HTTP/1.x". Returns 0, or -1 with the error response in the plan. */
static int parse_request_line(struct conn *c, char *line) {
  c->reqline = printable_copy(line, 300);
  char *sp1 = strchr(line, ' ');
  char *sp2 = strrchr(line, ' ');
  if (!sp1 || sp1 == sp2 || sp1 == line || sp2[1] == '\0') {
    plan_error(&c->plan, 400, "malformed request line");
    return -1;
  }
  *sp1 = *sp2 = '\0';
  const char *target = sp1 + 1, *version = sp2 + 1;
  if (*target == '\0' || strchr(target, ' ')) {
    plan_error(&c->plan, 400, "malformed request line");
    return -1;
  }
  if (strncmp(version, "HTTP/", 5) != 0 || version[5] < '0' || version[5] > '9' ||
      version[6] != '.' || version[7] < '0' || version[7] > '9' || version[8] != '\0') {
    plan_error(&c->plan, 400, "malformed HTTP version");
    return -1;
  }
  if (version[5] != '1') {
    plan_error(&c->plan, 505, "only HTTP/1.x is spoken here");
    return -1;
  }
  c->http10 = version[7] == '0';
  c->head = strcmp(line, "HEAD") == 0;
  c->target = xstrdup(target);
  return 0;
}

/* --record: keeps a line of the request head as it came (the line without its CRLF). */
static void record_line(struct conn *c, const char *line, size_t n) {
  char *grown = realloc(c->rec, c->rec_len + n + 3);
  if (!grown) {
    (void)fprintf(stderr, "bw_faultd: out of memory\n");
    abort();
  }
  c->rec = grown;
  memcpy(c->rec + c->rec_len, line, n);
  memcpy(c->rec + c->rec_len + n, "\r\n", 3);
  c->rec_len += n + 2;
}

/* --record: appends the whole request, its head and the body now in the input, to the file. */
static void record_request(struct conn *c, struct evbuffer *in) {
  FILE *f = c->srv->record;
  (void)fwrite(c->rec, 1, c->rec_len, f);
  if (c->req_length > 0) {
    unsigned char *body = evbuffer_pullup(in, (ev_ssize_t)c->req_length);
    if (body)
      (void)fwrite(body, 1, (size_t)c->req_length, f);
    (void)evbuffer_drain(in, (size_t)c->req_length);
  }
  (void)fflush(f);
}

/* Returns whether the comma-separated header value contains the token (case-insensitive). */
static bool has_token(const char *value, const char *token) {
  size_t len = strlen(token);
  const char *s = value;
  while (*s) {
    s += strspn(s, " \t,");
    size_t n = strcspn(s, ",");
    size_t m = n;
    while (m > 0 && (s[m - 1] == ' ' || s[m - 1] == '\t'))
      m--;
    if (m == len && strncasecmp(s, token, len) == 0)
      return true;
    s += n;
  }
  return false;
}

/* Takes note of the headers that matter here. Returns 0, or -1 with the error in the plan. */
static int parse_header(struct conn *c, char *line) {
  if (++c->nheaders > HEADERS_MAX) {
    plan_error(&c->plan, 431, "more than %d header lines", HEADERS_MAX);
    return -1;
  }
  if (line[0] == ' ' || line[0] == '\t') {
    plan_error(&c->plan, 400, "obsolete header line folding");
    return -1;
  }
  char *colon = strchr(line, ':');
  if (!colon || colon == line) {
    plan_error(&c->plan, 400, "malformed header line");
    return -1;
  }
  *colon = '\0';
  char *value = colon + 1;
  value += strspn(value, " \t");
  size_t n = strlen(value);
  while (n > 0 && (value[n - 1] == ' ' || value[n - 1] == '\t'))
    value[--n] = '\0';
  if (strcasecmp(line, "Connection") == 0) {
    c->conn_close |= has_token(value, "close");
    c->conn_keep_alive |= has_token(value, "keep-alive");
  } else if (strcasecmp(line, "Content-Length") == 0) {
    uint64_t len = 0;
    if (parse_u64(value, &len) < 0 || (c->has_length && len != c->req_length)) {
      plan_error(&c->plan, 400, "bad Content-Length");
      return -1;
    }
    c->has_length = true;
    c->req_length = len;
  } else if (strcasecmp(line, "Transfer-Encoding") == 0) {
    plan_error(&c->plan, 501, "request bodies in Transfer-Encoding are not supported");
    return -1;
  } else if (strcasecmp(line, "Expect") == 0) {
    c->expect_continue = strcasecmp(value, "100-continue") == 0;
  }
  return 0;
}

/*
 * Reads what it can of the next request. Returns 1 when a request is complete and c->plan holds
 * its response (keep_alive set), 0 when more input is needed. A malformed request is complete too:
 * its plan is the error response, and the connection closes after it.
 */
static int read_request(struct conn *c) {
  struct evbuffer *in = bufferevent_get_input(c->bev);
  for (;;) {
    size_t avail = evbuffer_get_length(in);
    if (c->body_wait) {
      if (avail < c->req_length)
        return 0;
      record_request(c, in);
      c->body_wait = false;
      c->discard = 0;
      goto complete;
    }
    if (c->discard > 0) {
      size_t n = avail < c->discard ? avail : (size_t)c->discard;
      (void)evbuffer_drain(in, n);
      c->discard -= n;
      if (c->discard > 0)
        return 0;
      avail -= n;
    }
    size_t eol_len = 0;
    struct evbuffer_ptr eol = evbuffer_search_eol(in, NULL, &eol_len, EVBUFFER_EOL_CRLF);
    if (eol.pos < 0 && avail <= LINE_MAX_BYTES)
      return 0;
    if (eol.pos < 0 || (size_t)eol.pos > LINE_MAX_BYTES) {
      if (!c->reqline)
        c->reqline = xstrdup("(line too long)");
      plan_error(&c->plan, c->target ? 431 : 414, "request line or header line too long");
      goto bad;
    }
    size_t n = 0;
    char *line = evbuffer_readln(in, &n, EVBUFFER_EOL_CRLF);
    if (!line)
      return 0;
    if (strlen(line) != n) {
      free(line);
      if (!c->reqline)
        c->reqline = xstrdup("(NUL in request)");
      plan_error(&c->plan, 400, "NUL byte in request");
      goto bad;
    }
    int r = 0;
    if (c->srv->record)
      record_line(c, line, n);
    if (!c->reqline) {
      /* Empty lines before a request line are tolerated (RFC 9112, 2.2). */
      if (n > 0)
        r = parse_request_line(c, line);
      free(line);
      if (r < 0)
        goto bad;
      continue;
    }
    if (n > 0) {
      r = parse_header(c, line);
      free(line);
      if (r < 0)
        goto bad;
      continue;
    }
    free(line);
    c->discard = c->req_length;
    if (c->expect_continue && c->req_length > 0 && !c->http10)
      (void)evbuffer_add_printf(bufferevent_get_output(c->bev), "HTTP/1.1 100 Continue\r\n\r\n");
    if (!c->srv->record)
      break;
    c->body_wait = true; /* the body, then the answer: the record holds the whole request */
  }
complete:
  c->keep_alive = c->http10 ? c->conn_keep_alive && !c->conn_close : !c->conn_close;
  route(c->target, &c->plan);
  c->plan.delay_us += c->srv->slow_us;
  if (c->srv->mute && c->plan.status >= 200 && c->plan.status < 300)
    c->plan.mute = true;
  return 1;
bad:
  c->keep_alive = false;
  return 1;
}

/* Reads and answers requests for as long as each one is answered at once (pipelining). */
static void conn_process(struct conn *c) {
  c->in_process = true;
  while (c->state == ST_READ && read_request(c) == 1)
    start_response(c);
  c->in_process = false;
  /* The peer has shut down its side and every complete request it sent is answered. */
  if (c->state == ST_READ && c->peer_eof)
    when_drained(c, NEXT_CLOSE);
}

/*
 * The output has drained (or the timer stood in for that): starts the pause or the paced part,
 * or ends the connection with a reset or a FIN. May free the connection.
 */
static void drained(struct conn *c) {
  bufferevent_setwatermark(c->bev, EV_WRITE, FILL_LOW, 0);
  switch (c->next_step) {
  case NEXT_PAUSE:
    c->state = ST_PAUSE;
    timer_arm(c, c->plan.pause_us);
    return;
  case NEXT_PACE:
    c->state = ST_PACE;
    c->pace_t0_us = mono_us();
    c->pace_base = c->queued;
    timer_arm(c, TICK_US);
    return;
  case NEXT_RESET: {
    /*
     * A reset throws away whatever the kernel has not delivered yet, so wait (briefly) until the
     * peer has acknowledged every byte: the client must see exactly `after` bytes, then the RST.
     */
    evutil_socket_t fd = bufferevent_getfd(c->bev);
    int unacked = 0;
    if (ioctl(fd, SIOCOUTQ, &unacked) == 0 && unacked > 0 &&
        mono_us() - c->drain_t0_us < RESET_WAIT_US) {
      timer_arm(c, 1000);
      return;
    }
    struct linger lg = {.l_onoff = 1, .l_linger = 0};
    (void)setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    log_request(c, "reset");
    conn_free(c);
    return;
  }
  case NEXT_CLOSE:
    /*
     * FIN, then read until the peer closes: closing with unread input would send a RST instead,
     * and the client would report a reset where a short body was meant.
     */
    log_request(c, c->plan.end == END_CLOSE ? "cut" : "incomplete request");
    if (c->peer_eof) {
      conn_free(c);
      return;
    }
    (void)shutdown(bufferevent_getfd(c->bev), SHUT_WR);
    c->state = ST_LINGER;
    (void)bufferevent_set_timeouts(c->bev, NULL, NULL);
    (void)bufferevent_disable(c->bev, EV_WRITE);
    (void)bufferevent_enable(c->bev, EV_READ);
    (void)evbuffer_drain(bufferevent_get_input(c->bev), (size_t)-1);
    timer_arm(c, LINGER_US);
    return;
  }
}

static void read_cb(struct bufferevent *bev, void *arg) {
  struct conn *c = arg;
  struct evbuffer *in = bufferevent_get_input(bev);
  if (c->state == ST_READ) {
    conn_process(c);
    return;
  }
  if (c->state == ST_HANG || c->state == ST_LINGER) {
    (void)evbuffer_drain(in, evbuffer_get_length(in));
    return;
  }
  if (c->discard > 0) {
    /* Skip a request body while its response is still going out. */
    size_t n = evbuffer_get_length(in);
    if (n > c->discard)
      n = (size_t)c->discard;
    (void)evbuffer_drain(in, n);
    c->discard -= n;
  }
}

static void write_cb(struct bufferevent *bev, void *arg) {
  struct conn *c = arg;
  if (c->state == ST_SEND)
    pump(c);
  else if (c->state == ST_PACE)
    pace(c);
  else if (c->state == ST_DRAIN && evbuffer_get_length(bufferevent_get_output(bev)) == 0)
    drained(c);
}

static void timer_cb(evutil_socket_t fd, short what, void *arg) {
  struct conn *c = arg;
  (void)fd;
  (void)what;
  switch (c->state) {
  case ST_DELAY:
    begin_body(c);
    break;
  case ST_DRAIN:
    if (evbuffer_get_length(bufferevent_get_output(c->bev)) == 0)
      drained(c);
    break;
  case ST_PAUSE:
    c->paused = true;
    if (c->plan.pause_every > 0 && c->plan.send - c->plan.fast > c->plan.pause_every) {
      /* The next stretch at full speed, then the next pause; none right before the end. */
      c->plan.fast += c->plan.pause_every;
      c->paused = false;
    }
    pump(c);
    break;
  case ST_PACE:
    pace(c);
    if (c->state == ST_PACE)
      timer_arm(c, TICK_US);
    break;
  case ST_LINGER:
    conn_free(c);
    break;
  case ST_READ:
  case ST_SEND:
  case ST_HANG:
    break;
  }
}

static void event_cb(struct bufferevent *bev, short what, void *arg) {
  struct conn *c = arg;
  (void)bev;
  if ((what & BEV_EVENT_EOF) && !(what & BEV_EVENT_ERROR)) {
    /*
     * The peer shut down its side. Idle, hung or lingering: it is gone. Mid-response it may still
     * be reading (a half-close after its requests): answer what it sent, then close.
     */
    c->peer_eof = true;
    if (c->state == ST_HANG || c->state == ST_LINGER)
      conn_free(c);
    else if (c->state == ST_READ)
      when_drained(c, NEXT_CLOSE); /* the last response may still be going out */
    return;
  }
  if (c->srv->verbose && (what & BEV_EVENT_ERROR) && c->reqline)
    (void)fprintf(stderr, "bw_faultd: %s: %s\n", c->peer,
                  evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
  conn_free(c);
}

static void accept_cb(struct evconnlistener *listener, evutil_socket_t fd, struct sockaddr *sa,
                      int salen, void *arg) {
  struct server *srv = arg;
  int one = 1;
  char host[48] = "?", port[8] = "?";
  (void)listener;
  /* Small slices of a paced body must leave at once, not wait for an ACK (Nagle). */
  (void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  struct bufferevent *bev = bufferevent_socket_new(srv->base, fd, BEV_OPT_CLOSE_ON_FREE);
  if (!bev) {
    evutil_closesocket(fd);
    return;
  }
  struct conn *c = xcalloc(1, sizeof *c);
  c->srv = srv;
  c->bev = bev;
  c->timer = evtimer_new(srv->base, timer_cb, c);
  if (!c->timer) {
    bufferevent_free(bev);
    free(c);
    return;
  }
  (void)getnameinfo(sa, (socklen_t)salen, host, sizeof host, port, sizeof port,
                    NI_NUMERICHOST | NI_NUMERICSERV);
  (void)snprintf(c->peer, sizeof c->peer, "%s:%s", host, port);
  c->next = srv->conns;
  if (srv->conns)
    srv->conns->prev = c;
  srv->conns = c;
  bufferevent_setcb(bev, read_cb, write_cb, event_cb, c);
  bufferevent_setwatermark(bev, EV_READ, 0, READ_HIGH);
  bufferevent_setwatermark(bev, EV_WRITE, FILL_LOW, 0);
  enter_read(c);
  (void)bufferevent_enable(bev, EV_READ | EV_WRITE);
}

/* Out of descriptors or similar: rest the listener briefly instead of spinning on accept(). */
static void accept_error_cb(struct evconnlistener *listener, void *arg) {
  struct server *srv = arg;
  struct timeval tv = tv_us(ACCEPT_PAUSE_US);
  (void)fprintf(stderr, "bw_faultd: accept: %s\n",
                evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
  (void)evconnlistener_disable(listener);
  (void)evtimer_add(srv->accept_timer, &tv);
}

static void accept_resume_cb(evutil_socket_t fd, short what, void *arg) {
  struct server *srv = arg;
  (void)fd;
  (void)what;
  (void)evconnlistener_enable(srv->listener);
}

static void signal_cb(evutil_socket_t sig, short what, void *arg) {
  struct server *srv = arg;
  (void)sig;
  (void)what;
  (void)event_base_loopbreak(srv->base);
}

/* Writes "PORT\n" to path through a temporary file and rename(), so readers never see half. */
static int write_port_file(const char *path, int port) {
  char tmp[4096];
  int n = snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid());
  if (n < 0 || (size_t)n >= sizeof tmp) {
    (void)fprintf(stderr, "bw_faultd: %s: path too long\n", path);
    return -1;
  }
  FILE *f = fopen(tmp, "w");
  if (!f) {
    (void)fprintf(stderr, "bw_faultd: %s: %s\n", tmp, strerror(errno));
    return -1;
  }
  bool ok = fprintf(f, "%d\n", port) > 0;
  ok = fclose(f) == 0 && ok;
  if (!ok || rename(tmp, path) < 0) {
    (void)fprintf(stderr, "bw_faultd: cannot write %s: %s\n", path, strerror(errno));
    (void)unlink(tmp);
    return -1;
  }
  return 0;
}

/* Binds and listens on addr:port; returns the bound port, or -1 after printing why not. */
static int server_listen(struct server *srv, const char *addr, const char *port) {
  struct addrinfo hints = {0}, *ai = NULL;
  struct sockaddr_storage ss;
  socklen_t sslen = sizeof ss;
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_PASSIVE | AI_NUMERICHOST | AI_NUMERICSERV;
  int r = getaddrinfo(addr, port, &hints, &ai);
  if (r != 0) {
    (void)fprintf(stderr, "bw_faultd: --listen %s --port %s: %s\n", addr, port, gai_strerror(r));
    return -1;
  }
  srv->listener = evconnlistener_new_bind(
      srv->base, accept_cb, srv, LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_EXEC,
      1024, ai->ai_addr, (int)ai->ai_addrlen);
  freeaddrinfo(ai);
  if (!srv->listener) {
    (void)fprintf(stderr, "bw_faultd: cannot listen on %s port %s: %s\n", addr, port,
                  strerror(errno));
    return -1;
  }
  evconnlistener_set_error_cb(srv->listener, accept_error_cb);
  if (getsockname(evconnlistener_get_fd(srv->listener), (struct sockaddr *)&ss, &sslen) < 0) {
    (void)fprintf(stderr, "bw_faultd: getsockname: %s\n", strerror(errno));
    return -1;
  }
  if (ss.ss_family == AF_INET6)
    return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
  return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

static void usage(FILE *f) {
  (void)fprintf(
      f,
      "usage: bw_faultd [--listen ADDR] [--port N] [--port-file FILE] [--slow MS] [--verbose]\n"
      "  -s, --slow MS         wait MS more before every response (a slow node)\n"
      "  -m, --mute            every 2xx response stops after its headers (a black-holed node)\n"
      "  -l, --listen ADDR     numeric address to bind (default 127.0.0.1)\n"
      "  -p, --port N          port (default 0: one the kernel picks)\n"
      "  -f, --port-file FILE  write the bound port and a newline to FILE\n"
      "  -v, --verbose         one line per request on stderr\n"
      "  -r, --record FILE     append every request as it came, head and body, to FILE (each\n"
      "                        body is read before its response)\n"
      "Endpoints: /bytes?size /delay?ms&size /trickle?rate&size "
      "/stall?after&seconds[&every]&size\n"
      "  /collapse?fast&rate&size /reset?after&size /lie?claim&send "
      "/status?code&size\n"
      "  /redirect-loop /hang /headers?size /chunked?size&chunk /close?size\n"
      "  /once?size (keep-alive, but a second request on the connection gets a FIN)\n"
      "  /bighead?size (an X-Pad header of size bytes)\n"
      "  (size defaults to %d bytes)\n",
      DEFAULT_SIZE);
}

int main(int argc, char **argv) {
  static const struct option longopts[] = {
      {"listen", required_argument, NULL, 'l'},
      {"port", required_argument, NULL, 'p'},
      {"port-file", required_argument, NULL, 'f'},
      {"verbose", no_argument, NULL, 'v'},
      {"slow", required_argument, NULL, 's'},
      {"mute", no_argument, NULL, 'm'},
      {"record", required_argument, NULL, 'r'},
      {"help", no_argument, NULL, 'h'},
      {NULL, 0, NULL, 0},
  };
  const char *addr = "127.0.0.1", *port = "0", *port_file = NULL;
  struct server srv = {0};
  int ch, status = 1;
  uint64_t port_num = 0;

  while ((ch = getopt_long(argc, argv, "l:p:f:s:r:mvh", longopts, NULL)) != -1) {
    switch (ch) {
    case 'l':
      addr = optarg;
      break;
    case 'p':
      port = optarg;
      break;
    case 'f':
      port_file = optarg;
      break;
    case 'v':
      srv.verbose = true;
      break;
    case 'm':
      srv.mute = true;
      break;
    case 'r':
      if (srv.record)
        (void)fclose(srv.record);
      srv.record = fopen(optarg, "ab");
      if (!srv.record) {
        (void)fprintf(stderr, "bw_faultd: %s: %s\n", optarg, strerror(errno));
        return 1;
      }
      break;
    case 's': {
      uint64_t ms = 0;
      if (parse_u64(optarg, &ms) < 0 || ms > 3600 * 1000) {
        usage(stderr);
        return 64;
      }
      srv.slow_us = (int64_t)ms * 1000;
      break;
    }
    case 'h':
      usage(stdout);
      return 0;
    default:
      usage(stderr);
      return 64;
    }
  }
  if (optind != argc || parse_u64(port, &port_num) < 0 || port_num > 65535) {
    usage(stderr);
    return 64;
  }
  for (size_t i = 0; i < FILLER_BYTES; i++)
    filler[i] = i % 64 == 63 ? '\n' : FILLER_ALPHABET[i % 64];
  /* A peer that closes early must cost a write error, not the process. */
  (void)signal(SIGPIPE, SIG_IGN);

  /* Without PRECISE_TIMER, Linux timers run on CLOCK_MONOTONIC_COARSE: 4 ms steps on delays. */
  struct event_config *cfg = event_config_new();
  if (cfg) {
    (void)event_config_set_flag(cfg, EVENT_BASE_FLAG_PRECISE_TIMER);
    srv.base = event_base_new_with_config(cfg);
    event_config_free(cfg);
  }
  if (!srv.base) {
    (void)fprintf(stderr, "bw_faultd: cannot create an event base\n");
    goto out;
  }
  srv.sigterm = evsignal_new(srv.base, SIGTERM, signal_cb, &srv);
  srv.sigint = evsignal_new(srv.base, SIGINT, signal_cb, &srv);
  srv.accept_timer = evtimer_new(srv.base, accept_resume_cb, &srv);
  if (!srv.sigterm || !srv.sigint || !srv.accept_timer || evsignal_add(srv.sigterm, NULL) < 0 ||
      evsignal_add(srv.sigint, NULL) < 0) {
    (void)fprintf(stderr, "bw_faultd: cannot set up signal handling\n");
    goto out;
  }
  int bound = server_listen(&srv, addr, port);
  if (bound < 0)
    goto out;
  if (port_file && write_port_file(port_file, bound) < 0)
    goto out;
  if (srv.verbose)
    (void)fprintf(stderr, "bw_faultd: listening on %s port %d\n", addr, bound);
  if (event_base_dispatch(srv.base) < 0) {
    (void)fprintf(stderr, "bw_faultd: event loop failed\n");
    goto out;
  }
  if (srv.verbose)
    (void)fprintf(stderr, "bw_faultd: shutting down\n");
  status = 0;
out:
  srv.stopping = true;
  while (srv.conns)
    conn_free(srv.conns);
  if (srv.listener)
    evconnlistener_free(srv.listener);
  if (srv.accept_timer)
    event_free(srv.accept_timer);
  if (srv.sigterm)
    event_free(srv.sigterm);
  if (srv.sigint)
    event_free(srv.sigint);
  if (srv.base)
    event_base_free(srv.base);
  if (srv.record)
    (void)fclose(srv.record);
  libevent_global_shutdown();
  return status;
}
