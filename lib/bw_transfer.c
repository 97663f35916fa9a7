#include "bw_transfer.h"

#include <curl/curl.h>
#include <errno.h>
#include <event2/event.h>
#include <event2/event_struct.h>
#include <event2/util.h>
#include <inttypes.h>
#include <linux/sockios.h>
#include <linux/tcp.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "bw_tls.h"
#include "bw_transfer_internal.h"

/* ---- TCP_INFO ---- */

/*
 * The kernel copies as much of its struct tcp_info as the caller's length allows and says how
 * much it filled; a newer kernel than these headers has fields past the end of our struct. The
 * one read from there: tcpi_rcv_wnd (Linux 6.2), right after tcpi_snd_wnd.
 */
#define TCPI_RCV_WND_OFF (offsetof(struct tcp_info, tcpi_snd_wnd) + sizeof(uint32_t))

/* Whether the kernel filled the field of size size at offset off. */
static bool filled(socklen_t len, size_t off, size_t size) {
  return (size_t)len >= off + size;
}

#define HAS(len, field)                                                                            \
  filled(len, offsetof(struct tcp_info, field), sizeof(((struct tcp_info *)0)->field))

/*
 * Reads TCP_INFO of fd as one reading (the "last" fields of *ret; the summaries are left alone).
 * Returns false when the socket has none (closed, not TCP).
 */
static bool read_tcp_info(curl_socket_t fd, struct bw_tcp_facts *ret) {
  union {
    struct tcp_info ti;
    unsigned char raw[512];
  } u;
  socklen_t len = sizeof(u);
  memset(&u, 0, sizeof(u));
  if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &u, &len) < 0 || !HAS(len, tcpi_total_retrans))
    return false;
  const struct tcp_info *ti = &u.ti;
  ret->valid = true;
  ret->rtt_us = ti->tcpi_rtt;
  ret->rttvar_us = ti->tcpi_rttvar;
  /* 0 until the receiver has timed a window's worth of data (or a full-size segment's echo). */
  ret->rcv_rtt_us = ti->tcpi_rcv_rtt > 0 ? (int64_t)ti->tcpi_rcv_rtt : -1;
  ret->retrans = ti->tcpi_total_retrans;
  ret->pmtu = ti->tcpi_pmtu;
  ret->snd_mss = ti->tcpi_snd_mss;
  ret->rcv_mss = ti->tcpi_rcv_mss;
  ret->advmss = ti->tcpi_advmss;
  ret->rcv_space = ti->tcpi_rcv_space;
  ret->bytes_received = HAS(len, tcpi_bytes_received) ? (int64_t)ti->tcpi_bytes_received : -1;
  ret->segs_in = HAS(len, tcpi_segs_in) ? (int64_t)ti->tcpi_segs_in : -1;
  ret->rcv_ooopack = HAS(len, tcpi_rcv_ooopack) ? (int64_t)ti->tcpi_rcv_ooopack : -1;
  ret->rcv_wnd = -1;
  if (filled(len, TCPI_RCV_WND_OFF, sizeof(uint32_t))) {
    uint32_t w;
    memcpy(&w, u.raw + TCPI_RCV_WND_OFF, sizeof(w));
    ret->rcv_wnd = w;
  }
  int queued = 0;
  ret->rcvq = ioctl(fd, SIOCINQ, &queued) == 0 ? queued : -1;
  ret->timestamps = ti->tcpi_options & TCPI_OPT_TIMESTAMPS;
  ret->sack = ti->tcpi_options & TCPI_OPT_SACK;
  ret->wscale = ti->tcpi_options & TCPI_OPT_WSCALE;
  ret->snd_wscale = ti->tcpi_snd_wscale;
  ret->rcv_wscale = ti->tcpi_rcv_wscale;
  return true;
}

static int64_t max_known(int64_t a, int64_t b) {
  return a > b ? a : b; /* -1 is unknown, below any reading */
}

static int64_t min_known(int64_t a, int64_t b) {
  if (a < 0)
    return b;
  if (b < 0)
    return a;
  return a < b ? a : b;
}

/* Takes reading t as the newest and counts it into the summaries. */
static void merge_reading(struct bw_tcp_facts *into, const struct bw_tcp_facts *t) {
  struct bw_tcp_facts sum;
  if (into->valid) {
    sum = *into;
  } else {
    sum.samples = 0;
    sum.rcv_rtt_max_us = sum.rcv_wnd_min = sum.zero_window = sum.rcvq_max = -1;
  }
  *into = *t;
  into->samples = sum.samples + 1;
  into->rcv_rtt_max_us = max_known(sum.rcv_rtt_max_us, t->rcv_rtt_us);
  into->rcv_wnd_min = min_known(sum.rcv_wnd_min, t->rcv_wnd);
  into->rcvq_max = max_known(sum.rcvq_max, t->rcvq);
  into->zero_window = sum.zero_window;
  if (t->rcv_wnd >= 0)
    into->zero_window = (sum.zero_window > 0 ? sum.zero_window : 0) + (t->rcv_wnd == 0);
}

/*
 * Reads the socket that carries the data: of the transfer's sockets (Happy Eyeballs may open more
 * than one), the one that received the most. A socket that received less than the one read
 * before is a loser of the race: it says nothing about the transfer.
 */
static void snapshot_fds(struct bw_xfer *x, const curl_socket_t *fds, size_t n) {
  struct bw_tcp_facts best, t;
  bool have = false;
  for (size_t i = 0; i < n; i++) {
    memset(&t, 0, sizeof(t));
    if (read_tcp_info(fds[i], &t) && (!have || t.bytes_received > best.bytes_received)) {
      best = t;
      have = true;
    }
  }
  if (have && (!x->tcp.valid || best.bytes_received >= x->tcp.bytes_received))
    merge_reading(&x->tcp, &best);
}

static int sockopt_cb(void *clientp, curl_socket_t fd, curlsocktype purpose) {
  struct bw_xfer *x = clientp;
  if (purpose == CURLSOCKTYPE_IPCXN && x->n_fds < MAX_FDS)
    x->fds[x->n_fds++] = fd;
  return CURL_SOCKOPT_OK;
}

/* Replaces close(): the last moment the connection's TCP_INFO can be read. */
static int closesocket_cb(void *clientp, curl_socket_t fd) {
  struct bw_xfer *x = clientp;
  for (size_t i = 0; i < x->n_fds; i++) {
    if (x->fds[i] == fd) {
      snapshot_fds(x, &fd, 1);
      /* The number may be reused at once: never read it again as ours. */
      x->fds[i] = x->fds[--x->n_fds];
      break;
    }
  }
  return close(fd);
}

/* Every tcp_sample_us during the transfer: the window and RTT as they change, not only at the end.
 */
static void tcp_sample_cb(evutil_socket_t fd, short what, void *arg) {
  struct bw_xfer *x = arg;
  (void)fd;
  (void)what;
  snapshot_fds(x, x->fds, x->n_fds);
  struct timeval tv = {(time_t)(x->req.tcp_sample_us / 1000000),
                       (suseconds_t)(x->req.tcp_sample_us % 1000000)};
  (void)evtimer_add(&x->tcp_timer, &tv);
}

/* ---- errors ---- */

static const char *error_class(CURLcode rc) {
  switch (rc) {
  case CURLE_OK:
    return NULL;
  case CURLE_COULDNT_RESOLVE_HOST:
  case CURLE_COULDNT_RESOLVE_PROXY:
    return "dns";
  case CURLE_COULDNT_CONNECT:
    return "connect";
  case CURLE_SSL_CONNECT_ERROR:
  case CURLE_PEER_FAILED_VERIFICATION:
  case CURLE_SSL_CERTPROBLEM:
  case CURLE_SSL_CIPHER:
  case CURLE_SSL_CACERT_BADFILE:
  case CURLE_SSL_ISSUER_ERROR:
  case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
  case CURLE_SSL_INVALIDCERTSTATUS:
  case CURLE_SSL_CRL_BADFILE:
  case CURLE_USE_SSL_FAILED:
    return "tls";
  case CURLE_OPERATION_TIMEDOUT:
    return "timeout";
  case CURLE_RECV_ERROR:
  case CURLE_SEND_ERROR:
    return "reset";
  case CURLE_PARTIAL_FILE:
    return "length";
  case CURLE_TOO_MANY_REDIRECTS:
    return "redirect";
  case CURLE_GOT_NOTHING:
    return "empty";
  case CURLE_WEIRD_SERVER_REPLY:
  case CURLE_HTTP2:
  case CURLE_HTTP2_STREAM:
  case CURLE_UNSUPPORTED_PROTOCOL:
  case CURLE_BAD_CONTENT_ENCODING:
    return "protocol";
  case CURLE_ABORTED_BY_CALLBACK:
    return "aborted";
  default:
    return "other";
  }
}

static const char *version_name(long v) {
  switch (v) {
  case CURL_HTTP_VERSION_1_0:
    return "1.0";
  case CURL_HTTP_VERSION_1_1:
    return "1.1";
  case CURL_HTTP_VERSION_2_0:
    return "2";
  case 30: /* CURL_HTTP_VERSION_3 */
    return "3";
  default:
    return "";
  }
}

/* ---- completion ---- */

static int64_t info_us(CURL *easy, CURLINFO what) {
  curl_off_t v = 0;
  if (curl_easy_getinfo(easy, what, &v) != CURLE_OK)
    return 0;
  return (int64_t)v;
}

static void activate(struct bw_xfer *x) {
  x->prev = NULL;
  x->next = x->loop->active;
  if (x->next)
    x->next->prev = x;
  x->loop->active = x;
  x->active = true;
}

/* Takes x out of the multi handle and the active list, and stops its timers. */
static void deactivate(struct bw_xfer *x) {
  if (!x->active)
    return;
  (void)curl_multi_remove_handle(x->loop->multi, x->easy);
  if (event_initialized(&x->cap_timer))
    (void)event_del(&x->cap_timer);
  if (event_initialized(&x->idle_timer))
    (void)event_del(&x->idle_timer);
  if (event_initialized(&x->tcp_timer))
    (void)event_del(&x->tcp_timer);
  if (x->prev)
    x->prev->next = x->next;
  else
    x->loop->active = x->next;
  if (x->next)
    x->next->prev = x->prev;
  x->prev = x->next = NULL;
  x->active = false;
}

/* Reads everything about a finished transfer, removes it from the multi, and reports it. */
static void finish(struct bw_xfer *x, CURLcode rc) {
  struct bw_response res;
  CURL *e = x->easy;
  long l = 0;
  char *ip = NULL;
  curl_off_t cl = -1;

  memset(&res, 0, sizeof(res));
  if (x->capped && (rc == CURLE_WRITE_ERROR || rc == CURLE_ABORTED_BY_CALLBACK))
    rc = CURLE_OK;
  res.code = (int)rc;
  res.capped = x->capped;
  res.error_class = error_class(rc);
  if (rc != CURLE_OK) {
    if (x->errbuf[0] && strcmp(x->errbuf, curl_easy_strerror(rc)) != 0)
      (void)snprintf(res.error, sizeof(res.error), "%s: %s", curl_easy_strerror(rc), x->errbuf);
    else
      (void)snprintf(res.error, sizeof(res.error), "%s", curl_easy_strerror(rc));
  }
  (void)curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &res.status);
  (void)curl_easy_getinfo(e, CURLINFO_HEADER_SIZE, &l);
  res.header_bytes = l;
  (void)curl_easy_getinfo(e, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &cl);
  res.content_length = cl;
  res.body_bytes = x->body_bytes;
  res.start_us = x->start_us;
  res.end_us = bw_now_us();
  res.first_byte_us = x->first_byte_us;
  res.last_byte_us = x->last_byte_us;
  res.headers_us = x->headers_us;
  res.last_data_us = x->last_data_us;
  res.namelookup_us = info_us(e, CURLINFO_NAMELOOKUP_TIME_T);
  res.connect_us = info_us(e, CURLINFO_CONNECT_TIME_T);
  res.appconnect_us = info_us(e, CURLINFO_APPCONNECT_TIME_T);
  res.pretransfer_us = info_us(e, CURLINFO_PRETRANSFER_TIME_T);
  res.starttransfer_us = info_us(e, CURLINFO_STARTTRANSFER_TIME_T);
  res.total_us = info_us(e, CURLINFO_TOTAL_TIME_T);
  (void)curl_easy_getinfo(e, CURLINFO_NUM_CONNECTS, &res.num_connects);
  if (curl_easy_getinfo(e, CURLINFO_PRIMARY_IP, &ip) == CURLE_OK && ip)
    (void)snprintf(res.remote_ip, sizeof(res.remote_ip), "%s", ip);
  (void)curl_easy_getinfo(e, CURLINFO_PRIMARY_PORT, &res.remote_port);
  l = 0;
  (void)curl_easy_getinfo(e, CURLINFO_HTTP_VERSION, &l);
  res.http_version = version_name(l);
  if (x->req.tcp_info) {
    /* Still open (the server kept it): read it now; closed: closesocket_cb already did. */
    curl_socket_t fd = CURL_SOCKET_BAD;
    if (curl_easy_getinfo(e, CURLINFO_ACTIVESOCKET, &fd) == CURLE_OK && fd != CURL_SOCKET_BAD)
      snapshot_fds(x, &fd, 1);
  }
  if (x->capped && res.total_us < res.end_us - res.start_us)
    res.total_us = res.end_us - res.start_us; /* stopped by us: curl's clock stopped earlier */
  deactivate(x);
  res.tcp = x->tcp;
  res.body_found = x->find.found;
  res.cert_not_after_us = x->cert_not_after_us;
  x->req.on_done(x->req.arg, &res);
}

static void drain(struct bw_loop *loop) {
  CURLMsg *msg;
  int left;
  while ((msg = curl_multi_info_read(loop->multi, &left)) != NULL) {
    if (msg->msg != CURLMSG_DONE)
      continue;
    struct bw_xfer *x = NULL;
    CURLcode rc = msg->data.result;
    (void)curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&x);
    finish(x, rc);
  }
}

/* ---- libevent <-> libcurl ---- */

static void socket_action(struct bw_loop *loop, curl_socket_t fd, int action) {
  CURLMcode mc = curl_multi_socket_action(loop->multi, fd, action, &loop->running);
  if (mc != CURLM_OK) {
    /*
     * The multi handle is in an unknown state: every transfer in it is uncertain. Abort them all
     * so each reports, rather than wait for an answer that will not come.
     */
    while (loop->active) {
      struct bw_xfer *x = loop->active;
      (void)snprintf(x->errbuf, sizeof(x->errbuf), "%s", curl_multi_strerror(mc));
      finish(x, CURLE_ABORTED_BY_CALLBACK);
    }
    return;
  }
  drain(loop);
}

static void event_cb(evutil_socket_t fd, short what, void *arg) {
  struct bw_loop *loop = arg;
  int action =
      ((what & EV_READ) ? CURL_CSELECT_IN : 0) | ((what & EV_WRITE) ? CURL_CSELECT_OUT : 0);
  socket_action(loop, fd, action);
}

static void timer_cb(evutil_socket_t fd, short what, void *arg) {
  (void)fd;
  (void)what;
  socket_action(arg, CURL_SOCKET_TIMEOUT, 0);
}

static int multi_timer_cb(CURLM *multi, long timeout_ms, void *userp) {
  struct bw_loop *loop = userp;
  (void)multi;
  if (timeout_ms < 0) {
    (void)evtimer_del(&loop->timer);
    return 0;
  }
  struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
  return evtimer_add(&loop->timer, &tv) == 0 ? 0 : -1;
}

static int multi_socket_cb(CURL *easy, curl_socket_t fd, int what, void *userp, void *socketp) {
  struct bw_loop *loop = userp;
  struct sock *s = socketp;
  (void)easy;
  if (what == CURL_POLL_REMOVE) {
    if (s) {
      (void)event_del(&s->ev);
      free(s);
      (void)curl_multi_assign(loop->multi, fd, NULL);
    }
    return 0;
  }
  if (!s) {
    s = bw_xcalloc(1, sizeof(*s));
    s->fd = fd;
    s->loop = loop;
    if (curl_multi_assign(loop->multi, fd, s) != CURLM_OK) {
      free(s);
      return -1;
    }
  } else {
    (void)event_del(&s->ev);
  }
  short kind = (short)(((what & CURL_POLL_IN) ? EV_READ : 0) |
                       ((what & CURL_POLL_OUT) ? EV_WRITE : 0) | EV_PERSIST);
  if (event_assign(&s->ev, loop->base, fd, kind, event_cb, loop) < 0 || event_add(&s->ev, NULL) < 0)
    return -1;
  return 0;
}

int bw_xfer_wire(struct bw_loop *loop) {
  if (evtimer_assign(&loop->timer, loop->base, timer_cb, loop) < 0)
    return -1;
  (void)curl_multi_setopt(loop->multi, CURLMOPT_SOCKETFUNCTION, multi_socket_cb);
  (void)curl_multi_setopt(loop->multi, CURLMOPT_SOCKETDATA, loop);
  (void)curl_multi_setopt(loop->multi, CURLMOPT_TIMERFUNCTION, multi_timer_cb);
  (void)curl_multi_setopt(loop->multi, CURLMOPT_TIMERDATA, loop);
  return 0;
}

/* ---- transfers ---- */

static size_t write_cb(char *data, size_t size, size_t nmemb, void *userp) {
  struct bw_xfer *x = userp;
  size_t n = size * nmemb;
  /* The clock only when someone needs it: at ab's request rates it is a visible cost. */
  int64_t now =
      x->req.on_data || x->req.idle_timeout_us > 0 || x->first_byte_us == 0 ? bw_now_us() : 0;
  if (x->find.needle)
    bw_find_feed(&x->find, data, n);
  if (x->first_byte_us == 0 && n > 0)
    x->first_byte_us = now;
  if (n > 0) {
    x->last_data_us = now; /* the silence timer reads it: see idle_cb() */
    x->last_byte_us = now;
  }
  if (x->req.max_bytes > 0 && x->body_bytes + (int64_t)n >= x->req.max_bytes) {
    n = (size_t)(x->req.max_bytes - x->body_bytes);
    x->body_bytes += (int64_t)n;
    x->capped = true;
    if (x->req.on_data && n)
      x->req.on_data(x->req.arg, n, now);
    return 0; /* stop here: curl ends the transfer with CURLE_WRITE_ERROR, read as capped */
  }
  x->body_bytes += (int64_t)n;
  if (x->req.on_data)
    x->req.on_data(x->req.arg, n, now);
  return n;
}

static void cap_cb(evutil_socket_t fd, short what, void *arg) {
  struct bw_xfer *x = arg;
  (void)fd;
  (void)what;
  x->capped = true;
  finish(x, CURLE_OK);
}

/* Header lines count as data for the silence timer: a slow response is not a silent one. */
static size_t header_cb(char *data, size_t size, size_t nitems, void *userp) {
  struct bw_xfer *x = userp;
  size_t n = size * nitems;
  if (x->https && x->cert_not_after_us == 0) {
    /* The TLS session is curl's only while the transfer runs: read the certificate now. */
    const struct curl_tlssessioninfo *tls = NULL;
    if (curl_easy_getinfo(x->easy, CURLINFO_TLS_SSL_PTR, &tls) == CURLE_OK && tls &&
        tls->backend == CURLSSLBACKEND_OPENSSL && tls->internals)
      x->cert_not_after_us = bw_tls_not_after_us(tls->internals);
  }
  if (x->req.idle_timeout_us <= 0 && !x->req.on_data)
    return n; /* a page request: the certificate was all it wanted */
  /* "HTTP/1.1 200 OK": the status of the response under way, for the timer's message. */
  if (n > 5 && memcmp(data, "HTTP/", 5) == 0) {
    const char *sp = memchr(data, ' ', n);
    long code = 0;
    for (size_t i = sp ? (size_t)(sp - data) + 1 : n;
         i < n && data[i] >= '0' && data[i] <= '9' && code < 1000; i++)
      code = code * 10 + (data[i] - '0');
    x->status = code;
  }
  x->last_data_us = bw_now_us();
  /* The blank line ends a response's headers; after redirects, the last one is the answer. */
  if ((n == 2 && data[0] == '\r' && data[1] == '\n') || (n == 1 && data[0] == '\n'))
    x->headers_us = x->last_data_us;
  return n;
}

static void idle_arm(struct bw_xfer *x, int64_t delay_us) {
  struct timeval tv = {(time_t)(delay_us / 1000000), (suseconds_t)(delay_us % 1000000)};
  (void)evtimer_add(&x->idle_timer, &tv);
}

/*
 * The silence timer: the transfer fails once no byte has arrived for idle_timeout_us, measured
 * from the latest byte (or from the start), whatever the average rate. The write callback only
 * notes the time of each arrival; the timer, armed for the whole timeout, re-arms itself for what
 * is left of it when data came meanwhile. So it fires exactly one timeout after the last byte,
 * while a fast download costs one timer operation per timeout, not one per write.
 */
static void idle_cb(evutil_socket_t fd, short what, void *arg) {
  struct bw_xfer *x = arg;
  int64_t timeout = x->req.idle_timeout_us;
  int64_t silent = bw_now_us() - x->last_data_us;
  (void)fd;
  (void)what;
  if (silent < timeout) {
    idle_arm(x, timeout - silent);
    return;
  }
  if (x->status == 0)
    (void)snprintf(x->errbuf, sizeof(x->errbuf), "no response within %.1f s", (double)silent / 1e6);
  else if (x->body_bytes == 0)
    (void)snprintf(x->errbuf, sizeof(x->errbuf), "HTTP %ld, then no body byte for %.1f s",
                   x->status, (double)silent / 1e6);
  else
    (void)snprintf(x->errbuf, sizeof(x->errbuf), "no byte for %.1f s after %" PRId64 " body bytes",
                   (double)silent / 1e6, x->body_bytes);
  finish(x, CURLE_OPERATION_TIMEDOUT);
}

struct bw_xfer *bw_xfer_new(struct bw_loop *loop) {
  struct bw_xfer *x = bw_xcalloc(1, sizeof(*x));
  x->loop = loop;
  x->easy = curl_easy_init();
  if (!x->easy) {
    free(x);
    return NULL;
  }
  return x;
}

static void release_request(struct bw_xfer *x) {
  free(x->url);
  free(x->method);
  free(x->range);
  curl_slist_free_all(x->headers);
  curl_slist_free_all(x->connect_to);
  free(x->body);
  free(x->content_type);
  free(x->proxy);
  bw_find_free(&x->find);
  x->url = x->method = x->range = x->body = x->content_type = x->proxy = NULL;
  x->headers = x->connect_to = NULL;
}

static int apply(struct bw_xfer *x, struct bw_errs *errs) {
  CURL *e = x->easy;
  const struct bw_request *r = &x->req;
  curl_easy_reset(e);
  SETOPT(CURLOPT_URL, x->url);
  SETOPT(CURLOPT_PRIVATE, (char *)x);
  SETOPT(CURLOPT_ERRORBUFFER, x->errbuf);
  SETOPT(CURLOPT_WRITEFUNCTION, write_cb);
  SETOPT(CURLOPT_WRITEDATA, x);
  SETOPT(CURLOPT_NOSIGNAL, 1L);
  SETOPT(CURLOPT_USERAGENT, "benchwatch/" BW_VERSION_STRING);
  SETOPT(CURLOPT_PROTOCOLS_STR, "http,https");
  /* Measure the endpoint itself, or through the test's own proxy: never one taken from the
   * environment (which would also cost a getenv() per request). */
  SETOPT(CURLOPT_PROXY, x->proxy ? x->proxy : "");
  if (x->proxy) {
    SETOPT(CURLOPT_PROXY_SSL_VERIFYPEER, r->tls_verify ? 1L : 0L);
    SETOPT(CURLOPT_PROXY_SSL_VERIFYHOST, r->tls_verify ? 2L : 0L);
  }
  SETOPT(CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
  if (strcmp(x->method, "HEAD") == 0) {
    SETOPT(CURLOPT_NOBODY, 1L);
  } else if (x->body) {
    /* curl -d: the body with its Content-Length; the method's name where it is not POST. */
    SETOPT(CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)r->body_len);
    SETOPT(CURLOPT_POSTFIELDS, x->body);
    if (strcmp(x->method, "POST") != 0)
      SETOPT(CURLOPT_CUSTOMREQUEST, x->method);
  } else if (strcmp(x->method, "GET") != 0) {
    SETOPT(CURLOPT_CUSTOMREQUEST, x->method);
  }
  if (x->https || x->req.idle_timeout_us > 0 || x->req.on_data) {
    SETOPT(CURLOPT_HEADERFUNCTION, header_cb);
    SETOPT(CURLOPT_HEADERDATA, x);
  }
  if (x->headers)
    SETOPT(CURLOPT_HTTPHEADER, x->headers);
  if (x->connect_to)
    SETOPT(CURLOPT_CONNECT_TO, x->connect_to);
  if (x->range)
    SETOPT(CURLOPT_RANGE, x->range);
  if (!r->reuse || r->tcp_info) {
    SETOPT(CURLOPT_FRESH_CONNECT, 1L);
    SETOPT(CURLOPT_FORBID_REUSE, 1L);
  }
  SETOPT(CURLOPT_HTTP_VERSION,
         r->http_version == 2 ? (long)CURL_HTTP_VERSION_2TLS : (long)CURL_HTTP_VERSION_1_1);
  SETOPT(CURLOPT_SSL_VERIFYPEER, r->tls_verify ? 1L : 0L);
  SETOPT(CURLOPT_SSL_VERIFYHOST, r->tls_verify ? 2L : 0L);
  if (r->follow_redirects) {
    SETOPT(CURLOPT_FOLLOWLOCATION, 1L);
    SETOPT(CURLOPT_MAXREDIRS, 10L);
  }
  if (r->timeout_us > 0)
    SETOPT(CURLOPT_TIMEOUT_MS, (long)((r->timeout_us + 999) / 1000));
  if (r->connect_timeout_us > 0)
    SETOPT(CURLOPT_CONNECTTIMEOUT_MS, (long)((r->connect_timeout_us + 999) / 1000));
  /* The header callback (set above): for downloads our own silence timer (idle_cb), not
   * CURLOPT_LOW_SPEED_*: curl judges an average over whole seconds, which let a 4 s silence pass
   * a 1 s limit and cut a 12 s one only after 7 s. A download also wants to know when its
   * headers ended, apart from its first body byte. On https, the certificate's notAfter. */
  if (r->on_data) {
    /* A large transfer: curl's largest receive buffer means fewer, larger writes (as the curl
     * tool's own 100 KB buffer does), so the timeline's bookkeeping costs next to nothing. */
    SETOPT(CURLOPT_BUFFERSIZE, (long)CURL_MAX_READ_SIZE);
  }
  if (r->tcp_info) {
    SETOPT(CURLOPT_SOCKOPTFUNCTION, sockopt_cb);
    SETOPT(CURLOPT_SOCKOPTDATA, x);
    SETOPT(CURLOPT_CLOSESOCKETFUNCTION, closesocket_cb);
    SETOPT(CURLOPT_CLOSESOCKETDATA, x);
  }
  return 0;
}

int bw_xfer_start(struct bw_xfer *x, const struct bw_request *req, struct bw_errs *errs) {
  int r;
  if (x->active) {
    bw_errs_add(errs, "%s: transfer slot is busy", req->url);
    return -EBUSY;
  }
  if (req->connect_only) {
    bw_errs_add(errs, "%s: connections alone are the lean engine's", req->url);
    return -EINVAL;
  }
  release_request(x);
  x->req = *req;
  x->req.headers = NULL; /* the copies below are what stays valid */
  x->url = bw_xstrdup(req->url);
  x->method = bw_xstrdup(req->method ? req->method : "GET");
  x->range = req->range ? bw_xstrdup(req->range) : NULL;
  x->req.range = NULL;
  x->https = strncasecmp(req->url, "https://", 8) == 0;
  x->proxy = req->proxy ? bw_xstrdup(req->proxy) : NULL;
  x->req.proxy = NULL;
  if (req->body) {
    x->body = bw_xmalloc(req->body_len + 1);
    memcpy(x->body, req->body, req->body_len);
    x->body[req->body_len] = '\0';
  }
  x->req.body = NULL;
  bw_find_init(&x->find, req->body_find);
  x->req.body_find = NULL;
  x->req.content_type = NULL;
  for (size_t i = 0; i < req->n_headers; i++) {
    struct curl_slist *h = curl_slist_append(x->headers, req->headers[i]);
    if (!h)
      goto oom;
    x->headers = h;
  }
  if (req->body) {
    /* The body's type after the test's headers, and no "Expect: 100-continue" (curl's for large
     * bodies): the same request bytes as the lean engine sends. */
    char *ct = req->content_type ? bw_xasprintf("Content-Type: %s", req->content_type) : NULL;
    struct curl_slist *h = ct ? curl_slist_append(x->headers, ct) : x->headers;
    free(ct);
    if (!h)
      goto oom;
    x->headers = h;
    if (!(h = curl_slist_append(x->headers, "Expect:")))
      goto oom;
    x->headers = h;
  }
  if (req->connect_to) {
    /* "::HOST:PORT" connects any host and port of the URL to the backend, redirects included. */
    char *spec = bw_xasprintf("::%s", req->connect_to);
    x->connect_to = curl_slist_append(NULL, spec);
    free(spec);
    if (!x->connect_to)
      goto oom;
  }
  r = apply(x, errs);
  if (r < 0)
    return r;
  return bw_xfer_launch(x, errs);
oom:
  bw_errs_add(errs, "%s: out of memory", req->url);
  return -ENOMEM;
}

int bw_xfer_restart(struct bw_xfer *x, struct bw_errs *errs) {
  if (x->active || !x->url) {
    bw_errs_add(errs, "transfer slot is busy or was never started");
    return -EBUSY;
  }
  return bw_xfer_launch(x, errs);
}

int bw_xfer_launch(struct bw_xfer *x, struct bw_errs *errs) {
  const struct bw_request *req = &x->req;
  x->errbuf[0] = '\0';
  x->capped = false;
  x->body_bytes = 0;
  x->first_byte_us = 0;
  x->last_byte_us = 0;
  x->headers_us = 0;
  x->status = 0;
  x->n_fds = 0;
  x->cert_not_after_us = 0;
  bw_find_reset(&x->find);
  memset(&x->tcp, 0, sizeof(x->tcp));
  x->start_us = bw_now_us();
  x->last_data_us = x->start_us;
  if (req->max_time_us > 0) {
    struct timeval tv = {req->max_time_us / 1000000, req->max_time_us % 1000000};
    if (evtimer_assign(&x->cap_timer, x->loop->base, cap_cb, x) < 0 ||
        evtimer_add(&x->cap_timer, &tv) < 0) {
      bw_errs_add(errs, "%s: cannot arm the max_time timer", x->url);
      return -EIO;
    }
  }
  if (req->idle_timeout_us > 0) {
    /* Connecting and waiting for the response are silences too: the clock starts now. */
    if (evtimer_assign(&x->idle_timer, x->loop->base, idle_cb, x) < 0) {
      if (event_initialized(&x->cap_timer))
        (void)event_del(&x->cap_timer);
      bw_errs_add(errs, "%s: cannot arm the silence timer", x->url);
      return -EIO;
    }
    idle_arm(x, req->idle_timeout_us);
  }
  if (req->tcp_info && req->tcp_sample_us > 0) {
    if (evtimer_assign(&x->tcp_timer, x->loop->base, tcp_sample_cb, x) < 0) {
      if (event_initialized(&x->cap_timer))
        (void)event_del(&x->cap_timer);
      if (event_initialized(&x->idle_timer))
        (void)event_del(&x->idle_timer);
      bw_errs_add(errs, "%s: cannot arm the TCP_INFO timer", x->url);
      return -EIO;
    }
    struct timeval tv = {(time_t)(req->tcp_sample_us / 1000000),
                         (suseconds_t)(req->tcp_sample_us % 1000000)};
    (void)evtimer_add(&x->tcp_timer, &tv);
  }
  CURLMcode mc = curl_multi_add_handle(x->loop->multi, x->easy);
  if (mc != CURLM_OK) {
    if (event_initialized(&x->cap_timer))
      (void)event_del(&x->cap_timer);
    if (event_initialized(&x->idle_timer))
      (void)event_del(&x->idle_timer);
    if (event_initialized(&x->tcp_timer))
      (void)event_del(&x->tcp_timer);
    bw_errs_add(errs, "%s: cannot start: %s", x->url, curl_multi_strerror(mc));
    return -EIO;
  }
  activate(x);
  return 0;
}

void bw_xfer_abort(struct bw_xfer *x) {
  if (!x || !x->active)
    return;
  (void)snprintf(x->errbuf, sizeof(x->errbuf), "stopped before the end");
  finish(x, CURLE_ABORTED_BY_CALLBACK);
}

void bw_xfer_free(struct bw_xfer *x) {
  if (!x)
    return;
  deactivate(x);
  /* With tcp_info the close callback points at x: no connection may outlive it. */
  curl_easy_cleanup(x->easy);
  release_request(x);
  free(x);
}
