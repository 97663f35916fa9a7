/*
 * The lean page engine (bw_lean.h). As in wrk and ab: one non-blocking socket per slot, one
 * persistent read event on it, the request written straight from a preformatted buffer, and the
 * response parsed in place from one read buffer. Per request that is a write, a read or two and
 * a turn of the loop; nothing is allocated.
 *
 * A connection goes resolve -> connect -> (TLS handshake) -> send -> read, and on keep-alive
 * back to send for the next request. Failures are reported with curl's error classes and words,
 * so that a test measures the same whichever engine runs it. A failure found while starting is
 * reported from the loop, never from inside bw_lean_start(), as curl does.
 */
#include "bw_lean.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <event2/event_struct.h>
#include <event2/util.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bw_check.h"
#include "bw_lean_parse.h"
#include "bw_tls.h"
#include "bw_transfer_internal.h"

#define READ_BUF (64 * 1024)

enum conn_state {
  C_IDLE,      /* no request */
  C_RESOLVING, /* waiting for the resolver */
  C_CONNECTING,
  C_HANDSHAKE,
  C_SENDING,
  C_READING,
};

struct bw_lean {
  struct bw_loop *loop;
  struct bw_request req; /* strings point into the copies below */
  char *url;
  /* The target, from the URL and connect_to; formatted once by bw_lean_start(). */
  bool tls;
  bool head;
  char *host;      /* the URL's host, without brackets: SNI and certificate name */
  bool host_is_ip; /* no SNI for an address, as curl */
  char *dial_host; /* where to connect: the URL's host or connect_to's */
  char dial_port[8];
  char *request; /* the whole request, sent as it is */
  size_t request_len;
  /* The address, resolved once per slot. */
  struct sockaddr_storage addr;
  socklen_t addr_len;
  char remote_ip[64];
  long remote_port;
  struct evdns_getaddrinfo_request *dns;
  /* The connection. */
  int fd;
  SSL_CTX *ctx;
  SSL *ssl;
  SSL_SESSION *session; /* resumed on the next connection, as curl's session cache does */
  struct event io;
  short io_what;      /* what io waits for now (EV_READ, EV_WRITE) */
  struct event timer; /* the request's timeout, and the deferred report of a failure */
  enum conn_state state;
  bool active;
  bool in_start; /* inside bw_lean_start/restart: a failure is reported from the loop */
  bool deferred; /* a failure waits on timer to be reported */
  bool reused;   /* this request runs on a connection an earlier one opened */
  bool retried;  /* the reused connection was found closed and opened again */
  size_t sent;
  char *buf;
  struct bw_lean_parse parse;
  struct bw_find find;       /* the request's body_find */
  int64_t cert_not_after_us; /* of the open TLS connection's server certificate, or 0 */
  /* This request's figures, as struct bw_response has them. */
  struct bw_response res;
  const char *fail_class;
};

/* ---- what the lean engine does ---- */

bool bw_lean_supports(const struct bw_request *req, const char **why) {
  const char *no = NULL;
  if (req->http_version != 1 && req->http_version != 0)
    no = "HTTP/2";
  else if (req->follow_redirects)
    no = "redirects";
  else if (req->max_time_us > 0 || req->max_bytes > 0)
    no = "caps";
  else if (req->idle_timeout_us > 0 || req->on_data || req->tcp_info)
    no = "download measurements";
  else if (req->connect_timeout_us > 0)
    no = "a connect timeout";
  else if (req->proxy)
    no = "a proxy";
  else if (strncasecmp(req->url, "http://", 7) != 0 && strncasecmp(req->url, "https://", 8) != 0)
    no = "the scheme";
  else {
    CURLU *u = curl_url();
    char *user = NULL;
    if (!u || curl_url_set(u, CURLUPART_URL, req->url, 0) != CURLUE_OK)
      no = "the URL";
    else if (curl_url_get(u, CURLUPART_USER, &user, 0) == CURLUE_OK)
      no = "a user in the URL";
    curl_free(user);
    curl_url_cleanup(u);
  }
  if (why)
    *why = no;
  return no == NULL;
}

/* ---- setup ---- */

struct bw_lean *bw_lean_new(struct bw_loop *loop) {
  struct bw_lean *c = bw_xcalloc(1, sizeof(*c));
  c->loop = loop;
  c->fd = -1;
  c->buf = bw_xmalloc(READ_BUF);
  if (evtimer_assign(&c->timer, loop->base, NULL, NULL) < 0) {
    free(c->buf);
    free(c);
    return NULL;
  }
  return c;
}

static void release(struct bw_lean *c) {
  free(c->url);
  free(c->host);
  free(c->dial_host);
  free(c->request);
  c->url = c->host = c->dial_host = c->request = NULL;
  c->addr_len = 0;
  bw_find_free(&c->find);
}

/* A header line of the test's, as curl treats it: "Name:" alone removes curl's own Name. */
static bool overrides(char *const *headers, size_t n, const char *name) {
  size_t len = strlen(name);
  for (size_t i = 0; i < n; i++)
    if (strncasecmp(headers[i], name, len) == 0 && headers[i][len] == ':')
      return true;
  return false;
}

static void add_headers(struct bw_buf *b, char *const *headers, size_t n) {
  for (size_t i = 0; i < n; i++) {
    const char *h = headers[i];
    const char *colon = strchr(h, ':');
    const char *semi = strchr(h, ';');
    if (colon) {
      const char *v = colon + 1;
      while (*v == ' ' || *v == '\t')
        v++;
      if (*v) /* "Name:" with nothing after it only removes a header */
        bw_buf_printf(b, "%s\r\n", h);
    } else if (semi && semi[1] == '\0') {
      bw_buf_printf(b, "%.*s:\r\n", (int)(semi - h), h); /* "Name;": an empty header */
    }
  }
}

/* Splits "host:port" or "[v6]:port". */
static int split_hostport(const char *s, char **host, char *port, size_t port_size) {
  const char *colon;
  if (s[0] == '[') {
    const char *end = strchr(s, ']');
    if (!end || end[1] != ':')
      return -EINVAL;
    *host = bw_xstrndup(s + 1, (size_t)(end - s - 1));
    colon = end + 1;
  } else {
    colon = strrchr(s, ':');
    if (!colon)
      return -EINVAL;
    *host = bw_xstrndup(s, (size_t)(colon - s));
  }
  if ((size_t)snprintf(port, port_size, "%s", colon + 1) >= port_size || !colon[1]) {
    free(*host);
    *host = NULL;
    return -EINVAL;
  }
  return 0;
}

/* The URL's parts and the request, formatted once. */
static int prepare(struct bw_lean *c, struct bw_errs *errs) {
  CURLU *u = curl_url();
  char *scheme = NULL, *host = NULL, *port = NULL, *path = NULL, *query = NULL;
  struct bw_buf b = {0};
  int r = -EINVAL;
  if (!u || curl_url_set(u, CURLUPART_URL, c->url, 0) != CURLUE_OK ||
      curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) != CURLUE_OK ||
      curl_url_get(u, CURLUPART_HOST, &host, 0) != CURLUE_OK ||
      curl_url_get(u, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) != CURLUE_OK ||
      curl_url_get(u, CURLUPART_PATH, &path, 0) != CURLUE_OK) {
    bw_errs_add(errs, "%s: not a URL the lean engine can use", c->url);
    goto out;
  }
  (void)curl_url_get(u, CURLUPART_QUERY, &query, 0);
  c->tls = strcasecmp(scheme, "https") == 0;
  c->head = strcmp(c->req.method, "HEAD") == 0;
  size_t hl = strlen(host);
  bool bracketed = hl > 2 && host[0] == '[' && host[hl - 1] == ']';
  c->host = bracketed ? bw_xstrndup(host + 1, hl - 2) : bw_xstrdup(host);
  struct in6_addr a6;
  struct in_addr a4;
  c->host_is_ip =
      bracketed || inet_pton(AF_INET, c->host, &a4) == 1 || inet_pton(AF_INET6, c->host, &a6) == 1;
  if (c->req.connect_to) {
    if (split_hostport(c->req.connect_to, &c->dial_host, c->dial_port, sizeof(c->dial_port)) < 0) {
      bw_errs_add(errs, "%s: connect to %s: expected host:port", c->url, c->req.connect_to);
      goto out;
    }
  } else {
    c->dial_host = bw_xstrdup(c->host);
    (void)snprintf(c->dial_port, sizeof(c->dial_port), "%s", port);
  }
  /* curl's request line and headers, byte for byte, so servers see the same request. */
  bool default_port = strcmp(port, c->tls ? "443" : "80") == 0;
  bw_buf_printf(&b, "%s %s%s%s HTTP/1.1\r\n", c->req.method, path, query ? "?" : "",
                query ? query : "");
  if (!overrides(c->req.headers, c->req.n_headers, "Host"))
    bw_buf_printf(&b, "Host: %s%s%s\r\n", host, default_port ? "" : ":", default_port ? "" : port);
  if (!overrides(c->req.headers, c->req.n_headers, "User-Agent"))
    bw_buf_printf(&b, "User-Agent: benchwatch/%s\r\n", BW_VERSION_STRING);
  if (!overrides(c->req.headers, c->req.n_headers, "Accept"))
    bw_buf_printf(&b, "Accept: */*\r\n");
  add_headers(&b, c->req.headers, c->req.n_headers);
  if (c->req.body) {
    /* As curl -d: the type after the test's headers, then the length, then the body. */
    if (c->req.content_type)
      bw_buf_printf(&b, "Content-Type: %s\r\n", c->req.content_type);
    bw_buf_printf(&b, "Content-Length: %zu\r\n\r\n", c->req.body_len);
    bw_buf_add(&b, c->req.body, c->req.body_len);
  } else {
    bw_buf_printf(&b, "\r\n");
  }
  c->request_len = b.len;
  c->request = bw_buf_take(&b);
  r = 0;
out:
  free(b.s); /* NULL once taken */
  curl_free(scheme);
  curl_free(host);
  curl_free(port);
  curl_free(path);
  curl_free(query);
  curl_url_cleanup(u);
  return r;
}

/* ---- the connection ---- */

static void io_cb(evutil_socket_t fd, short what, void *arg);

/* Makes io wait for what (EV_READ or EV_WRITE), or nothing. */
static int io_wait(struct bw_lean *c, short what) {
  if (c->io_what == what)
    return 0;
  if (c->io_what)
    (void)event_del(&c->io);
  c->io_what = 0;
  if (!what)
    return 0;
  if (event_assign(&c->io, c->loop->base, c->fd, (short)(what | EV_PERSIST), io_cb, c) < 0 ||
      event_add(&c->io, NULL) < 0)
    return -1;
  c->io_what = what;
  return 0;
}

static void conn_close(struct bw_lean *c) {
  (void)io_wait(c, 0);
  if (c->ssl) {
    SSL_SESSION *s = SSL_get1_session(c->ssl);
    if (s && SSL_SESSION_is_resumable(s)) {
      SSL_SESSION_free(c->session);
      c->session = s;
    } else {
      SSL_SESSION_free(s);
    }
    SSL_free(c->ssl);
    c->ssl = NULL;
  }
  if (c->fd >= 0)
    (void)close(c->fd);
  c->fd = -1;
}

/*
 * OpenSSL's socket BIO writes with write(): a peer that has gone would raise SIGPIPE. This one
 * sends with MSG_NOSIGNAL, as curl does.
 */
static BIO_METHOD *nosig_method;

static int nosig_write(BIO *b, const char *data, int len) {
  ssize_t n = send((int)(intptr_t)BIO_get_data(b), data, (size_t)len, MSG_NOSIGNAL);
  BIO_clear_retry_flags(b);
  if (n < 0 && (errno == EAGAIN || errno == EINTR))
    BIO_set_retry_write(b);
  return (int)n;
}

static int nosig_read(BIO *b, char *data, int len) {
  ssize_t n = recv((int)(intptr_t)BIO_get_data(b), data, (size_t)len, 0);
  BIO_clear_retry_flags(b);
  if (n < 0 && (errno == EAGAIN || errno == EINTR))
    BIO_set_retry_read(b);
  return (int)n;
}

static long nosig_ctrl(BIO *b, int cmd, long num, void *ptr) {
  (void)b;
  (void)num;
  (void)ptr;
  return cmd == BIO_CTRL_FLUSH ? 1 : 0;
}

static int nosig_create(BIO *b) {
  BIO_set_init(b, 1);
  return 1;
}

static BIO *nosig_bio(int fd) {
  if (!nosig_method) {
    BIO_METHOD *m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "benchwatch socket");
    if (!m || !BIO_meth_set_write(m, nosig_write) || !BIO_meth_set_read(m, nosig_read) ||
        !BIO_meth_set_ctrl(m, nosig_ctrl) || !BIO_meth_set_create(m, nosig_create)) {
      BIO_meth_free(m);
      return NULL;
    }
    nosig_method = m;
  }
  BIO *b = BIO_new(nosig_method);
  if (b)
    BIO_set_data(b, (void *)(intptr_t)fd);
  return b;
}

/* ---- reporting ---- */

static void deliver(struct bw_lean *c) {
  struct bw_response *res = &c->res;
  c->active = false;
  c->state = C_IDLE;
  (void)evtimer_del(&c->timer);
  res->end_us = bw_now_us();
  res->total_us = res->end_us - res->start_us;
  res->status = c->parse.status;
  res->header_bytes = c->parse.header_bytes;
  res->body_bytes = c->parse.body_bytes;
  res->content_length = c->parse.content_length;
  /* As curl: the version of any status line read, even when the response then failed. */
  const llhttp_t *hp = &c->parse.parser;
  res->http_version = hp->http_major == 0 && hp->http_minor == 0   ? ""
                      : hp->http_major == 1 && hp->http_minor == 0 ? "1.0"
                                                                   : "1.1";
  (void)snprintf(res->remote_ip, sizeof(res->remote_ip), "%s", c->remote_ip);
  res->remote_port = c->remote_port;
  res->body_found = c->find.found;
  c->req.on_done(c->req.arg, res);
}

static void timer_cb(evutil_socket_t fd, short what, void *arg);

/* Ends the request as failed: curl's code for class, curl's words in the message. */
static void fail(struct bw_lean *c, CURLcode code, const char *cls, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void fail(struct bw_lean *c, CURLcode code, const char *cls, const char *fmt, ...) {
  char words[256];
  va_list ap;
  va_start(ap, fmt);
  (void)vsnprintf(words, sizeof(words), fmt, ap);
  va_end(ap);
  if (c->dns) {
    evdns_getaddrinfo_cancel(c->dns);
    c->dns = NULL;
  }
  conn_close(c);
  c->res.code = (int)code;
  c->res.error_class = cls;
  (void)snprintf(c->res.error, sizeof(c->res.error), "%s: %s", curl_easy_strerror(code), words);
  if (c->in_start) {
    /* Not from inside bw_lean_start(): the caller is not ready for on_done yet. */
    c->deferred = true;
    struct timeval now = {0, 0};
    (void)evtimer_add(&c->timer, &now);
    return;
  }
  deliver(c);
}

/* ---- the request's steps ---- */

/* Readies the parser for this request's response, the body search with it. */
static void parse_init(struct bw_lean *c) {
  bw_lean_parse_init(&c->parse, c->head);
  bw_find_reset(&c->find);
  c->parse.find = c->find.needle ? &c->find : NULL;
}

static void send_request(struct bw_lean *c);
static void do_connect(struct bw_lean *c);

/* The server closed a connection an earlier request left open: open a new one, once. */
static bool retry_fresh(struct bw_lean *c) {
  if (!c->reused || c->retried || c->parse.consumed > 0)
    return false;
  c->retried = true;
  c->reused = false;
  conn_close(c);
  parse_init(c);
  do_connect(c);
  return true;
}

static void done_reading(struct bw_lean *c, bool keep) {
  /* A kept connection stays watched while idle (a close by the server is seen at once, and the
   * next request costs no epoll_ctl); bw_lean_park() stops that when the test is over. */
  if (!keep || !c->req.reuse)
    conn_close(c);
  deliver(c);
}

/* Reads n bytes of the response. False once the request has ended: on_done may have freed c. */
static bool on_bytes(struct bw_lean *c, const char *data, size_t n) {
  int64_t now = bw_now_us();
  int64_t body_before = c->parse.body_bytes;
  bool had_head = c->parse.headers_done;
  size_t used = 0;
  if (c->parse.consumed == 0)
    c->res.starttransfer_us = now - c->res.start_us;
  c->res.last_data_us = now;
  enum bw_lean_parse_state st = bw_lean_parse_feed(&c->parse, data, n, &used);
  if (!had_head && c->parse.headers_done)
    c->res.headers_us = now;
  if (c->parse.body_bytes > body_before) {
    if (!c->res.first_byte_us)
      c->res.first_byte_us = now;
    c->res.last_byte_us = now;
  }
  switch (st) {
  case BW_LEAN_MORE:
    return true;
  case BW_LEAN_DONE:
    /* Bytes after the response answer nothing we asked: the connection is not trusted again. */
    done_reading(c, c->parse.keep_alive && used == n);
    return false;
  case BW_LEAN_TOO_LARGE:
    /* curl 7.88 stops there with CURLE_OUT_OF_MEMORY: the same class, and the reason. */
    fail(c, CURLE_OUT_OF_MEMORY, "other", "the response headers exceed %d bytes", BW_LEAN_MAX_HEAD);
    return false;
  case BW_LEAN_PROTOCOL:
    fail(c, CURLE_WEIRD_SERVER_REPLY, "protocol", "%s",
         c->parse.reason ? c->parse.reason : "malformed response");
    return false;
  case BW_LEAN_EMPTY:
  case BW_LEAN_LENGTH:
    break; /* only at the end of input */
  }
  return true;
}

static void on_eof(struct bw_lean *c) {
  if (retry_fresh(c))
    return;
  switch (bw_lean_parse_eof(&c->parse)) {
  case BW_LEAN_DONE:
    done_reading(c, false);
    return;
  case BW_LEAN_EMPTY:
    fail(c, CURLE_GOT_NOTHING, "empty", "Empty reply from server");
    return;
  case BW_LEAN_LENGTH:
    if (c->parse.content_length >= 0)
      fail(c, CURLE_PARTIAL_FILE, "length", "transfer closed with %lld bytes remaining to read",
           (long long)(c->parse.content_length - c->parse.body_bytes));
    else
      fail(c, CURLE_PARTIAL_FILE, "length", "transfer closed with outstanding read data remaining");
    return;
  case BW_LEAN_PROTOCOL:
  case BW_LEAN_TOO_LARGE:
  case BW_LEAN_MORE:
    fail(c, CURLE_WEIRD_SERVER_REPLY, "protocol", "the connection closed inside the headers");
    return;
  }
}

static void on_recv_error(struct bw_lean *c, int err) {
  if (retry_fresh(c))
    return;
  fail(c, CURLE_RECV_ERROR, "reset", "Recv failure: %s", strerror(err));
}

static void do_read(struct bw_lean *c) {
  if (c->ssl) {
    for (;;) {
      int n = SSL_read(c->ssl, c->buf, READ_BUF);
      if (n > 0) {
        if (!on_bytes(c, c->buf, (size_t)n))
          return; /* c may be gone */
        continue; /* OpenSSL may hold more of the record already */
      }
      int e = SSL_get_error(c->ssl, n);
      if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE)
        return;
      if (e == SSL_ERROR_ZERO_RETURN || (e == SSL_ERROR_SYSCALL && errno == 0) ||
          (e == SSL_ERROR_SSL &&
           ERR_GET_REASON(ERR_peek_error()) == SSL_R_UNEXPECTED_EOF_WHILE_READING)) {
        ERR_clear_error();
        on_eof(c);
      } else {
        int err = errno ? errno : ECONNRESET;
        ERR_clear_error();
        on_recv_error(c, err);
      }
      return;
    }
  }
  ssize_t n = recv(c->fd, c->buf, READ_BUF, 0);
  if (n > 0)
    (void)on_bytes(c, c->buf, (size_t)n);
  else if (n == 0)
    on_eof(c);
  else if (errno != EAGAIN && errno != EINTR)
    on_recv_error(c, errno);
}

static void send_more(struct bw_lean *c) {
  while (c->sent < c->request_len) {
    ssize_t n;
    if (c->ssl) {
      int k = SSL_write(c->ssl, c->request + c->sent, (int)(c->request_len - c->sent));
      if (k <= 0) {
        int e = SSL_get_error(c->ssl, k);
        if (e == SSL_ERROR_WANT_WRITE || e == SSL_ERROR_WANT_READ) {
          (void)io_wait(c, e == SSL_ERROR_WANT_WRITE ? EV_WRITE : EV_READ);
          return;
        }
        ERR_clear_error();
        if (!retry_fresh(c))
          fail(c, CURLE_SEND_ERROR, "reset", "Send failure: %s", strerror(errno ? errno : EPIPE));
        return;
      }
      n = k;
    } else {
      n = send(c->fd, c->request + c->sent, c->request_len - c->sent, MSG_NOSIGNAL);
      if (n < 0) {
        if (errno == EAGAIN || errno == EINTR) {
          (void)io_wait(c, EV_WRITE);
          return;
        }
        int err = errno;
        if (!retry_fresh(c))
          fail(c, CURLE_SEND_ERROR, "reset", "Send failure: %s", strerror(err));
        return;
      }
    }
    c->sent += (size_t)n;
  }
  c->state = C_READING;
  if (io_wait(c, EV_READ) < 0)
    fail(c, CURLE_OUT_OF_MEMORY, "other", "cannot wait for the response");
}

static void send_request(struct bw_lean *c) {
  c->state = C_SENDING;
  c->sent = 0;
  parse_init(c);
  c->res.pretransfer_us = bw_now_us() - c->res.start_us;
  if (c->res.pretransfer_us <= 0)
    c->res.pretransfer_us = 1;
  send_more(c);
}

/*
 * A connect_only request is complete once connected (and the handshake done): the connection is
 * closed without a byte of HTTP, so the server sees no request. Reported from the loop when it
 * connected inside bw_lean_start(), as a failure would be.
 */
static void connect_only_done(struct bw_lean *c) {
  if (c->ssl && SSL_shutdown(c->ssl) < 0) /* close_notify, if the socket takes it now */
    ERR_clear_error();
  conn_close(c);
  c->res.pretransfer_us = bw_now_us() - c->res.start_us;
  if (c->in_start) {
    c->deferred = true;
    struct timeval now = {0, 0};
    (void)evtimer_add(&c->timer, &now);
    return;
  }
  deliver(c);
}

static void handshake(struct bw_lean *c) {
  int k = SSL_connect(c->ssl);
  if (k == 1) {
    c->res.appconnect_us = bw_now_us() - c->res.start_us;
    c->cert_not_after_us = bw_tls_not_after_us(c->ssl);
    c->res.cert_not_after_us = c->cert_not_after_us;
    if (c->req.connect_only)
      connect_only_done(c);
    else
      send_request(c);
    return;
  }
  int e = SSL_get_error(c->ssl, k);
  if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
    if (io_wait(c, e == SSL_ERROR_WANT_READ ? EV_READ : EV_WRITE) < 0)
      fail(c, CURLE_OUT_OF_MEMORY, "other", "cannot wait for the handshake");
    return;
  }
  long v = SSL_get_verify_result(c->ssl);
  unsigned long err = ERR_get_error();
  char words[160];
  ERR_error_string_n(err, words, sizeof(words));
  ERR_clear_error();
  if (v != X509_V_OK)
    fail(c, CURLE_PEER_FAILED_VERIFICATION, "tls", "SSL certificate problem: %s",
         X509_verify_cert_error_string(v));
  else
    fail(c, CURLE_SSL_CONNECT_ERROR, "tls", "TLS handshake with %s failed: %s", c->host,
         err ? words : "the connection closed");
}

static int start_tls(struct bw_lean *c) {
  if (!c->ctx) {
    c->ctx = SSL_CTX_new(TLS_client_method());
    if (!c->ctx)
      return -1;
    SSL_CTX_set_mode(c->ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_RELEASE_BUFFERS);
    static const unsigned char alpn[] = "\x08http/1.1";
    (void)SSL_CTX_set_alpn_protos(c->ctx, alpn, sizeof(alpn) - 1);
    if (c->req.tls_verify) {
      (void)SSL_CTX_set_default_verify_paths(c->ctx);
      SSL_CTX_set_verify(c->ctx, SSL_VERIFY_PEER, NULL);
    }
  }
  c->ssl = SSL_new(c->ctx);
  BIO *b = c->ssl ? nosig_bio(c->fd) : NULL;
  if (!b)
    return -1;
  SSL_set_bio(c->ssl, b, b);
  if (!c->host_is_ip)
    (void)SSL_set_tlsext_host_name(c->ssl, c->host);
  if (c->req.tls_verify) {
    if (c->host_is_ip)
      (void)X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(c->ssl), c->host);
    else
      (void)SSL_set1_host(c->ssl, c->host);
  }
  /* A connect test times the full handshake each time: a resumed one would hide its cost. */
  if (c->session && !c->req.connect_only)
    (void)SSL_set_session(c->ssl, c->session);
  c->state = C_HANDSHAKE;
  return 0;
}

static void connected(struct bw_lean *c) {
  c->res.connect_us = bw_now_us() - c->res.start_us;
  if (c->res.connect_us <= c->res.namelookup_us)
    c->res.connect_us = c->res.namelookup_us + 1;
  c->res.num_connects++;
  if (!c->tls) {
    if (c->req.connect_only)
      connect_only_done(c);
    else
      send_request(c);
    return;
  }
  if (start_tls(c) < 0) {
    ERR_clear_error();
    fail(c, CURLE_SSL_CONNECT_ERROR, "tls", "cannot set up TLS");
    return;
  }
  handshake(c);
}

static void do_connect(struct bw_lean *c) {
  int64_t now = bw_now_us();
  c->res.namelookup_us = now - c->res.start_us > 0 ? now - c->res.start_us : 1;
  c->state = C_CONNECTING;
  c->fd = socket(c->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_TCP);
  if (c->fd < 0) {
    fail(c, CURLE_COULDNT_CONNECT, "connect", "socket: %s", strerror(errno));
    return;
  }
  int one = 1;
  (void)setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  if (connect(c->fd, (struct sockaddr *)&c->addr, c->addr_len) == 0) {
    connected(c);
    return;
  }
  if (errno != EINPROGRESS) {
    int err = errno;
    fail(c, CURLE_COULDNT_CONNECT, "connect", "Failed to connect to %s port %s: %s", c->dial_host,
         c->dial_port, strerror(err));
    return;
  }
  if (io_wait(c, EV_WRITE) < 0)
    fail(c, CURLE_OUT_OF_MEMORY, "other", "cannot wait for the connection");
}

static void connect_done(struct bw_lean *c) {
  int err = 0;
  socklen_t len = sizeof(err);
  if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
    err = errno;
  if (err) {
    fail(c, CURLE_COULDNT_CONNECT, "connect", "Failed to connect to %s port %s: %s", c->dial_host,
         c->dial_port, strerror(err));
    return;
  }
  connected(c);
}

static void io_cb(evutil_socket_t fd, short what, void *arg) {
  struct bw_lean *c = arg;
  (void)fd;
  (void)what;
  switch (c->state) {
  case C_CONNECTING:
    connect_done(c);
    return;
  case C_HANDSHAKE:
    handshake(c);
    return;
  case C_SENDING:
    send_more(c);
    return;
  case C_READING:
    do_read(c);
    return;
  case C_IDLE:
  case C_RESOLVING:
    /* An idle keep-alive connection the server closed, or sent to: it is not used again. */
    conn_close(c);
    return;
  }
}

static void set_addr(struct bw_lean *c, const struct evutil_addrinfo *ai) {
  memcpy(&c->addr, ai->ai_addr, ai->ai_addrlen);
  c->addr_len = (socklen_t)ai->ai_addrlen;
  const void *a = ai->ai_family == AF_INET6
                      ? (const void *)&((const struct sockaddr_in6 *)ai->ai_addr)->sin6_addr
                      : (const void *)&((const struct sockaddr_in *)ai->ai_addr)->sin_addr;
  (void)evutil_inet_ntop(ai->ai_family, a, c->remote_ip, sizeof(c->remote_ip));
  c->remote_port = strtol(c->dial_port, NULL, 10);
}

static void resolved(int result, struct evutil_addrinfo *ai, void *arg) {
  struct bw_lean *c = arg;
  c->dns = NULL;
  if (result == EVUTIL_EAI_CANCEL)
    return;
  if (result != 0 || !ai) {
    if (ai)
      evutil_freeaddrinfo(ai);
    fail(c, CURLE_COULDNT_RESOLVE_HOST, "dns", "Could not resolve host: %s", c->dial_host);
    return;
  }
  set_addr(c, ai);
  evutil_freeaddrinfo(ai);
  do_connect(c);
}

static void resolve(struct bw_lean *c) {
  struct evutil_addrinfo hints, *ai = NULL;
  memset(&hints, 0, sizeof(hints));
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_protocol = IPPROTO_TCP;
  hints.ai_flags = EVUTIL_AI_NUMERICHOST | EVUTIL_AI_NUMERICSERV;
  if (evutil_getaddrinfo(c->dial_host, c->dial_port, &hints, &ai) == 0 && ai) {
    set_addr(c, ai);
    evutil_freeaddrinfo(ai);
    do_connect(c);
    return;
  }
  struct evdns_base *dns = bw_loop_dns(c->loop);
  if (!dns) {
    fail(c, CURLE_COULDNT_RESOLVE_HOST, "dns", "Could not resolve host: %s (no resolver)",
         c->dial_host);
    return;
  }
  hints.ai_flags = EVUTIL_AI_NUMERICSERV | EVUTIL_AI_ADDRCONFIG;
  c->state = C_RESOLVING;
  /* The answer may come at once (from /etc/hosts): resolved() then runs before this returns. */
  struct evdns_getaddrinfo_request *q =
      evdns_getaddrinfo(dns, c->dial_host, c->dial_port, &hints, resolved, c);
  if (c->state == C_RESOLVING && c->active)
    c->dns = q;
}

static void timer_cb(evutil_socket_t fd, short what, void *arg) {
  struct bw_lean *c = arg;
  (void)fd;
  (void)what;
  if (c->deferred) {
    c->deferred = false;
    deliver(c);
    return;
  }
  if (!c->active)
    return;
  int64_t ms = (bw_now_us() - c->res.start_us) / 1000;
  fail(c, CURLE_OPERATION_TIMEDOUT, "timeout",
       "Operation timed out after %lld milliseconds with %lld bytes received", (long long)ms,
       (long long)c->parse.body_bytes);
}

/* ---- starting ---- */

static int launch(struct bw_lean *c, struct bw_errs *errs) {
  memset(&c->res, 0, sizeof(c->res));
  c->res.content_length = -1;
  c->res.start_us = bw_now_us();
  c->res.last_data_us = c->res.start_us;
  c->res.http_version = "";
  c->retried = false;
  c->deferred = false;
  parse_init(c);
  if (evtimer_assign(&c->timer, c->loop->base, timer_cb, c) < 0) {
    bw_errs_add(errs, "%s: cannot arm the timeout", c->url);
    return -EIO;
  }
  if (c->req.timeout_us > 0) {
    struct timeval tv = {(time_t)(c->req.timeout_us / 1000000),
                         (suseconds_t)(c->req.timeout_us % 1000000)};
    (void)evtimer_add(&c->timer, &tv);
  }
  c->active = true;
  c->in_start = true;
  c->reused = c->fd >= 0;
  if (c->reused)
    c->res.cert_not_after_us = c->cert_not_after_us;
  if (c->reused)
    send_request(c);
  else if (c->addr_len)
    do_connect(c);
  else
    resolve(c);
  c->in_start = false;
  return 0;
}

int bw_lean_start(struct bw_lean *c, const struct bw_request *req, struct bw_errs *errs) {
  const char *why = NULL;
  if (c->active) {
    bw_errs_add(errs, "%s: transfer slot is busy", req->url);
    return -EBUSY;
  }
  if (!bw_lean_supports(req, &why)) {
    bw_errs_add(errs, "%s: the lean engine does not do %s", req->url, why);
    return -EINVAL;
  }
  conn_close(c);
  release(c);
  c->req = *req;
  c->url = bw_xstrdup(req->url);
  c->req.url = c->url;
  c->req.method = req->method ? req->method : "GET";
  int r = prepare(c, errs);
  if (r < 0) {
    release(c);
    return r;
  }
  /* Only the formatted request uses the headers and connect_to: nothing else is kept. */
  c->req.headers = NULL;
  c->req.n_headers = 0;
  c->req.connect_to = NULL;
  c->req.method = NULL;
  c->req.body = NULL;
  c->req.content_type = NULL;
  bw_find_init(&c->find, req->body_find);
  c->req.body_find = NULL;
  return launch(c, errs);
}

int bw_lean_restart(struct bw_lean *c, struct bw_errs *errs) {
  if (c->active) {
    bw_errs_add(errs, "%s: transfer slot is busy", c->url);
    return -EBUSY;
  }
  if (!c->request) {
    bw_errs_add(errs, "no request to start again");
    return -EINVAL;
  }
  return launch(c, errs);
}

void bw_lean_abort(struct bw_lean *c) {
  if (!c || !c->active)
    return;
  c->in_start = false;
  if (c->deferred) {
    c->deferred = false;
    deliver(c);
    return;
  }
  fail(c, CURLE_ABORTED_BY_CALLBACK, "aborted", "stopped before the end");
}

void bw_lean_park(struct bw_lean *c) {
  if (c && !c->active)
    (void)io_wait(c, 0);
}

void bw_lean_free(struct bw_lean *c) {
  if (!c)
    return;
  if (c->dns)
    evdns_getaddrinfo_cancel(c->dns);
  conn_close(c);
  if (event_initialized(&c->timer))
    (void)evtimer_del(&c->timer);
  SSL_SESSION_free(c->session);
  SSL_CTX_free(c->ctx);
  release(c);
  free(c->buf);
  free(c);
}
