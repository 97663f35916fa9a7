#include "bw_http_server.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/event_struct.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/listener.h>
#include <event2/util.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>

#include "bw_transfer_internal.h"

/* ---- HTTP server ---- */

/*
 * Why not evhttp: libevent 2.1's evhttp reads a request head of any size (100 MB of header took
 * minutes of the loop and kept its memory), has no cap on connections nor a hook when one opens
 * or closes, restarts its timeouts on every byte (a client sending a byte now and then stays for
 * ever), and its listener reports accept() errors to no callback of ours (EMFILE made it retry
 * and warn in a loop). A request reader over an evconnlistener and one bufferevent per
 * connection, as in tests/servers/bw_faultd.c, keeps each limit exact; evhttp_uri_parse() still
 * decodes the request target.
 */

#define HTTP_REST_MIN_US INT64_C(1000000)
#define HTTP_REST_MAX_US (16 * INT64_C(1000000))
#define HTTP_LINGER_MAX (8 * BW_HTTP_MAX_HEAD) /* input discarded after an early answer */

enum http_conn_state {
  HC_READ,   /* reading the request head */
  HC_WRITE,  /* the answer is queued; closed once it is written */
  HC_LINGER, /* answered before the request was read: our FIN is out, discarding input */
};

struct http_conn {
  struct bw_http_server *s;
  struct bufferevent *bev;
  struct event deadline;
  enum http_conn_state state;
  size_t scanned;                /* head bytes already searched for the blank line */
  size_t discarded;              /* HC_LINGER: input bytes thrown away */
  bool linger;                   /* HC_WRITE: input was left unread; linger once written */
  struct http_conn *prev, *next; /* in s->oldest..newest, in the order accepted */
};

/* The listener's state after accept() errors; see http_accept_error(). */
enum http_accepting {
  HA_ACCEPTING, /* no recent error */
  HA_RESTING,   /* disabled until the rest timer fires */
  HA_TRYING,    /* enabled again; a rest's length without an error returns to HA_ACCEPTING */
};

struct bw_http_server {
  struct bw_loop *loop;
  struct evconnlistener *listener;
  struct event rest_timer;
  enum http_accepting accepting;
  int64_t rest_us;
  struct http_conn *oldest, *newest;
  size_t n_conns;
  size_t max_conns;
  int64_t timeout_us;
  bool loopback;
  bw_http_fn fn;
  bw_http_accept_fn on_accept;
  void *arg;
};

static struct timeval tv_us(int64_t us) {
  struct timeval tv = {.tv_sec = (time_t)(us / 1000000), .tv_usec = (suseconds_t)(us % 1000000)};
  return tv;
}

static void conn_close(struct http_conn *c) {
  struct bw_http_server *s = c->s;
  if (c->prev)
    c->prev->next = c->next;
  else
    s->oldest = c->next;
  if (c->next)
    c->next->prev = c->prev;
  else
    s->newest = c->prev;
  s->n_conns--;
  (void)evtimer_del(&c->deadline);
  bufferevent_free(c->bev); /* closes the socket */
  free(c);
}

static const char *http_reason(int status) {
  static const struct {
    int status;
    const char *reason;
  } reasons[] = {
      {200, "OK"},
      {400, "Bad Request"},
      {404, "Not Found"},
      {405, "Method Not Allowed"},
      {413, "Content Too Large"},
      {431, "Request Header Fields Too Large"},
      {500, "Internal Server Error"},
      {505, "HTTP Version Not Supported"},
  };
  for (size_t i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++)
    if (reasons[i].status == status)
      return reasons[i].reason;
  return "Unknown";
}

/*
 * Queues the answer and stops reading. With input left unread (an early refusal), closing at
 * once would send a reset that can destroy the answer in the client's buffers before it reads
 * it: such a connection lingers after the answer (see conn_written()).
 */
static void conn_answer(struct http_conn *c, int status, const struct bw_buf *body, bool head,
                        bool unread_input) {
  struct evbuffer *out = bufferevent_get_output(c->bev);
  (void)bufferevent_disable(c->bev, EV_READ);
  (void)evbuffer_add_printf(out,
                            "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
                            "%sConnection: close\r\n\r\n",
                            status, http_reason(status),
                            status == 200 ? "text/plain; version=0.0.4; charset=utf-8"
                                          : "text/plain; charset=utf-8",
                            body->len, status == 405 ? "Allow: GET, HEAD\r\n" : "");
  if (!head && body->len)
    (void)evbuffer_add(out, body->s, body->len);
  c->state = HC_WRITE;
  c->linger = unread_input;
}

static void conn_refuse(struct http_conn *c, int status, const char *why) {
  struct bw_buf body = {0};
  bw_buf_printf(&body, "%s\n", why);
  conn_answer(c, status, &body, false, true);
  free(body.s);
}

/* The value of header name (case-insensitive) in headers (lines each after a '\n'), or NULL. */
static const char *head_value(const char *headers, const char *name, size_t *len) {
  size_t n = strlen(name);
  for (const char *line = strchr(headers, '\n'); line; line = strchr(line, '\n')) {
    line++;
    if (strncasecmp(line, name, n) != 0 || line[n] != ':')
      continue;
    const char *v = line + n + 1;
    v += strspn(v, " \t");
    *len = strcspn(v, "\r\n");
    while (*len && (v[*len - 1] == ' ' || v[*len - 1] == '\t'))
      (*len)--;
    return v;
  }
  return NULL;
}

/* Answers the complete head (head_len bytes, up to and including the blank line). */
static void conn_request(struct http_conn *c, size_t head_len) {
  struct evbuffer *in = bufferevent_get_input(c->bev);
  char *head = bw_xmalloc(head_len + 1), *line = NULL;
  struct evhttp_uri *uri = NULL;
  struct bw_buf body = {0};
  const char *v;
  size_t vlen;
  if (evbuffer_remove(in, head, head_len) != (int)head_len) {
    conn_refuse(c, 500, "cannot read the request");
    goto out;
  }
  head[head_len] = '\0';
  if (memchr(head, '\0', head_len)) {
    conn_refuse(c, 400, "bad request");
    goto out;
  }
  /* request-line = method SP request-target SP HTTP-version; empty lines before it are allowed */
  const char *start = head + strspn(head, "\r\n");
  const char *headers = start + strcspn(start, "\r\n"); /* at the request line's end */
  line = bw_xstrndup(start, (size_t)(headers - start));
  char *method = line, *target = strchr(line, ' ');
  char *version = target ? strchr(target + 1, ' ') : NULL;
  if (!target || !version || strchr(version + 1, ' ')) {
    conn_refuse(c, 400, "bad request line");
    goto out;
  }
  *target++ = '\0';
  *version++ = '\0';
  if (strncmp(version, "HTTP/1.", 7) != 0 || !version[7] || version[8]) {
    conn_refuse(c, strncmp(version, "HTTP/", 5) == 0 ? 505 : 400, "HTTP/1.x only");
    goto out;
  }
  if (head_value(headers, "Transfer-Encoding", &vlen) ||
      ((v = head_value(headers, "Content-Length", &vlen)) && !(vlen == 1 && v[0] == '0'))) {
    conn_refuse(c, 413, "a request body is not accepted");
    goto out;
  }
  bool is_head = strcmp(method, "HEAD") == 0;
  if (!is_head && strcmp(method, "GET") != 0) {
    conn_refuse(c, 405, "only GET and HEAD");
    goto out;
  }
  uri = evhttp_uri_parse(target);
  if (!uri) {
    conn_refuse(c, 400, "bad request target");
    goto out;
  }
  const char *path = evhttp_uri_get_path(uri);
  int status = c->s->fn(c->s->arg, path && *path ? path : "/", &body);
  conn_answer(c, status, &body, is_head, evbuffer_get_length(in) > 0);
out:
  if (uri)
    evhttp_uri_free(uri);
  free(body.s);
  free(line);
  free(head);
}

/* Finds the blank line that ends the head in new input; refuses a head that cannot fit. */
static void conn_read(struct bufferevent *bev, void *arg) {
  struct http_conn *c = arg;
  struct evbuffer *in = bufferevent_get_input(bev);
  size_t len = evbuffer_get_length(in);
  if (c->state == HC_LINGER) {
    c->discarded += len;
    (void)evbuffer_drain(in, len);
    if (c->discarded > HTTP_LINGER_MAX)
      conn_close(c);
    return;
  }
  if (c->state != HC_READ)
    return;
  /* At most BW_HTTP_MAX_HEAD bytes (the read watermark): one contiguous copy is cheap. */
  const char *p = (const char *)evbuffer_pullup(in, -1);
  size_t i = c->scanned > 2 ? c->scanned - 2 : 0;
  for (; p && i < len; i++) {
    if (p[i] != '\n')
      continue;
    if (i + 1 < len && p[i + 1] == '\n') {
      conn_request(c, i + 2);
      return;
    }
    if (i + 2 < len && p[i + 1] == '\r' && p[i + 2] == '\n') {
      conn_request(c, i + 3);
      return;
    }
  }
  c->scanned = len;
  if (len >= BW_HTTP_MAX_HEAD)
    conn_refuse(c, 431, "the request head is larger than 8 KiB");
}

/* The answer is out: close, or after an early answer send our FIN and discard what comes. */
static void conn_written(struct bufferevent *bev, void *arg) {
  struct http_conn *c = arg;
  if (c->state != HC_WRITE)
    return;
  if (!c->linger) {
    conn_close(c);
    return;
  }
  c->state = HC_LINGER;
  (void)shutdown(bufferevent_getfd(bev), SHUT_WR);
  bufferevent_setwatermark(bev, EV_READ, 0, 0);
  (void)bufferevent_enable(bev, EV_READ);
  conn_read(bev, c);
}

static void conn_event(struct bufferevent *bev, short what, void *arg) {
  struct http_conn *c = arg;
  (void)bev;
  /* A client may half-close after its request: the answer still goes out. */
  if (c->state == HC_WRITE && !(what & BEV_EVENT_ERROR) && (what & BEV_EVENT_READING))
    return;
  conn_close(c);
}

static void conn_deadline(evutil_socket_t fd, short what, void *arg) {
  (void)fd;
  (void)what;
  conn_close(arg);
}

static void http_accept(struct evconnlistener *listener, evutil_socket_t fd, struct sockaddr *sa,
                        int salen, void *arg) {
  struct bw_http_server *s = arg;
  (void)listener;
  (void)sa;
  (void)salen;
  if (s->n_conns >= s->max_conns) {
    struct http_conn *old = s->oldest;
    while (old && old->state == HC_WRITE)
      old = old->next;
    if (!old) {
      evutil_closesocket(fd);
      return;
    }
    conn_close(old);
  }
  struct http_conn *c = bw_xcalloc(1, sizeof(*c));
  c->s = s;
  c->bev = bufferevent_socket_new(s->loop->base, fd, BEV_OPT_CLOSE_ON_FREE);
  if (!c->bev) {
    evutil_closesocket(fd);
    free(c);
    return;
  }
  bufferevent_setwatermark(c->bev, EV_READ, 0, BW_HTTP_MAX_HEAD);
  bufferevent_setcb(c->bev, conn_read, conn_written, conn_event, c);
  struct timeval tv = tv_us(s->timeout_us);
  if (evtimer_assign(&c->deadline, s->loop->base, conn_deadline, c) < 0 ||
      evtimer_add(&c->deadline, &tv) < 0 || bufferevent_enable(c->bev, EV_READ) < 0) {
    bufferevent_free(c->bev);
    free(c);
    return;
  }
  c->prev = s->newest;
  if (s->newest)
    s->newest->next = c;
  else
    s->oldest = c;
  s->newest = c;
  s->n_conns++;
}

/*
 * accept() failed with something other than a retriable error: typically EMFILE or ENFILE, where
 * the pending connection stays queued and the listener would fire again at once. Rest instead,
 * longer each time it fails again, and tell the owner only when the state changes.
 */
static void http_accept_error(struct evconnlistener *listener, void *arg) {
  struct bw_http_server *s = arg;
  int err = EVUTIL_SOCKET_ERROR();
  (void)evconnlistener_disable(listener);
  bool was_accepting = s->accepting == HA_ACCEPTING;
  s->rest_us = was_accepting ? HTTP_REST_MIN_US : s->rest_us * 2;
  if (s->rest_us > HTTP_REST_MAX_US)
    s->rest_us = HTTP_REST_MAX_US;
  s->accepting = HA_RESTING;
  struct timeval tv = tv_us(s->rest_us);
  (void)evtimer_add(&s->rest_timer, &tv);
  if (was_accepting && s->on_accept)
    s->on_accept(s->arg, err > 0 ? -err : -EIO);
}

static void http_rest_over(evutil_socket_t fd, short what, void *arg) {
  struct bw_http_server *s = arg;
  (void)fd;
  (void)what;
  if (s->accepting == HA_RESTING) {
    s->accepting = HA_TRYING;
    (void)evconnlistener_enable(s->listener);
    struct timeval tv = tv_us(s->rest_us);
    (void)evtimer_add(&s->rest_timer, &tv);
  } else if (s->accepting == HA_TRYING) {
    s->accepting = HA_ACCEPTING;
    if (s->on_accept)
      s->on_accept(s->arg, 0);
  }
}

static bool sockaddr_loopback(const struct sockaddr *sa) {
  if (sa->sa_family == AF_INET) {
    const struct sockaddr_in *in = (const struct sockaddr_in *)(const void *)sa;
    return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
  }
  if (sa->sa_family == AF_INET6) {
    const struct in6_addr *a = &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr;
    return IN6_IS_ADDR_LOOPBACK(a) || (IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127);
  }
  return false;
}

struct bw_http_server *bw_http_listen(struct bw_loop *loop, const struct bw_http_opts *o,
                                      struct bw_errs *errs) {
  struct bw_http_server *s = bw_xcalloc(1, sizeof(*s));
  const char *colon = strrchr(o->listen, ':');
  struct evutil_addrinfo hints = {0}, *ai = NULL;
  char *host = NULL;
  int r;
  s->fn = o->fn;
  s->on_accept = o->on_accept;
  s->arg = o->arg;
  s->max_conns = o->max_connections ? o->max_connections : BW_HTTP_MAX_CONNECTIONS;
  s->timeout_us = o->timeout_us > 0 ? o->timeout_us : BW_HTTP_TIMEOUT_US;
  if (evtimer_assign(&s->rest_timer, loop->base, http_rest_over, s) < 0) {
    bw_errs_add(errs, "%s: cannot set up a timer", o->listen);
    goto fail;
  }
  s->loop = loop; /* and the timer is assigned */
  if (!colon) {
    bw_errs_add(errs, "%s: expected host:port", o->listen);
    goto fail;
  }
  host = bw_xstrndup(o->listen, (size_t)(colon - o->listen));
  if (host[0] == '[' && host[strlen(host) - 1] == ']') {
    memmove(host, host + 1, strlen(host));
    host[strlen(host) - 1] = '\0';
  }
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_protocol = IPPROTO_TCP;
  hints.ai_flags = EVUTIL_AI_PASSIVE | EVUTIL_AI_NUMERICSERV;
  r = evutil_getaddrinfo(host, colon + 1, &hints, &ai);
  if (r != 0) {
    bw_errs_add(errs, "%s: %s", o->listen, evutil_gai_strerror(r));
    goto fail;
  }
  s->listener = evconnlistener_new_bind(
      loop->base, http_accept, s, LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE | LEV_OPT_CLOSE_ON_EXEC,
      -1, ai->ai_addr, (int)ai->ai_addrlen);
  if (!s->listener) {
    bw_errs_add(errs, "%s: cannot listen: %s", o->listen, strerror(errno));
    goto fail;
  }
  evconnlistener_set_error_cb(s->listener, http_accept_error);
  s->loopback = sockaddr_loopback(ai->ai_addr);
  evutil_freeaddrinfo(ai);
  free(host);
  return s;
fail:
  if (ai)
    evutil_freeaddrinfo(ai);
  free(host);
  bw_http_free(s);
  return NULL;
}

bool bw_http_loopback(const struct bw_http_server *s) {
  return s->loopback;
}

void bw_http_free(struct bw_http_server *s) {
  if (!s)
    return;
  while (s->oldest)
    conn_close(s->oldest);
  if (s->loop)
    (void)evtimer_del(&s->rest_timer);
  if (s->listener)
    evconnlistener_free(s->listener);
  free(s);
}
