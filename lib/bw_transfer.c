#include "bw_transfer.h"

#include <curl/curl.h>
#include <errno.h>
#include <event2/event.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event_struct.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/listener.h>
#include <event2/util.h>
#include <inttypes.h>
#include <linux/sockios.h>
#include <linux/tcp.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "bw_file.h"
#include "bw_url.h"

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
};

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
  struct curl_slist *headers;
  struct curl_slist *connect_to;
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

int64_t bw_now_us(void) {
  struct timespec ts;
  (void)clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t bw_wall_us(void) {
  struct timespec ts;
  (void)clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

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
  int action = ((what & EV_READ) ? CURL_CSELECT_IN : 0) | ((what & EV_WRITE) ? CURL_CSELECT_OUT : 0);
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
  if (event_assign(&s->ev, loop->base, fd, kind, event_cb, loop) < 0 ||
      event_add(&s->ev, NULL) < 0)
    return -1;
  return 0;
}

/* ---- loop ---- */

struct bw_loop *bw_loop_new(struct bw_errs *errs) {
  static bool global_done;
  struct bw_loop *loop;
  if (!global_done) {
    CURLcode rc = curl_global_init(CURL_GLOBAL_DEFAULT);
    if (rc != CURLE_OK) {
      bw_errs_add(errs, "cannot initialise libcurl: %s", curl_easy_strerror(rc));
      return NULL;
    }
    global_done = true;
  }
  loop = bw_xcalloc(1, sizeof(*loop));
  /* Without PRECISE_TIMER, Linux timers run on CLOCK_MONOTONIC_COARSE: 4 ms steps, which would
   * show in scheduled start times and in injected delays. */
  struct event_config *ec = event_config_new();
  if (ec) {
    (void)event_config_set_flag(ec, EVENT_BASE_FLAG_PRECISE_TIMER);
    loop->base = event_base_new_with_config(ec);
    event_config_free(ec);
  }
  loop->multi = curl_multi_init();
  if (!loop->base || !loop->multi) {
    bw_errs_add(errs, "cannot create the event loop");
    goto fail;
  }
  if (evtimer_assign(&loop->timer, loop->base, timer_cb, loop) < 0)
    goto fail;
  (void)curl_multi_setopt(loop->multi, CURLMOPT_SOCKETFUNCTION, multi_socket_cb);
  (void)curl_multi_setopt(loop->multi, CURLMOPT_SOCKETDATA, loop);
  (void)curl_multi_setopt(loop->multi, CURLMOPT_TIMERFUNCTION, multi_timer_cb);
  (void)curl_multi_setopt(loop->multi, CURLMOPT_TIMERDATA, loop);
  return loop;
fail:
  if (loop->multi)
    (void)curl_multi_cleanup(loop->multi);
  if (loop->base)
    event_base_free(loop->base);
  free(loop);
  return NULL;
}

void bw_loop_free(struct bw_loop *loop) {
  if (!loop)
    return;
  /* curl_multi_cleanup may still call the socket callback: the base must outlive it. */
  (void)curl_multi_cleanup(loop->multi);
  if (event_initialized(&loop->timer))
    (void)evtimer_del(&loop->timer);
  event_base_free(loop->base);
  free(loop);
}

int bw_loop_run(struct bw_loop *loop) {
  return event_base_dispatch(loop->base) < 0 ? -EIO : 0;
}

void bw_loop_break(struct bw_loop *loop) {
  (void)event_base_loopbreak(loop->base);
}

/* ---- transfers ---- */

static size_t write_cb(char *data, size_t size, size_t nmemb, void *userp) {
  struct bw_xfer *x = userp;
  size_t n = size * nmemb;
  /* The clock only when someone needs it: at ab's request rates it is a visible cost. */
  int64_t now =
      x->req.on_data || x->req.idle_timeout_us > 0 || x->first_byte_us == 0 ? bw_now_us() : 0;
  (void)data;
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
  curl_slist_free_all(x->headers);
  curl_slist_free_all(x->connect_to);
  x->url = x->method = NULL;
  x->headers = x->connect_to = NULL;
}

#define SETOPT(opt, val)                                                                          \
  do {                                                                                            \
    CURLcode rc_ = curl_easy_setopt(e, opt, val);                                                 \
    if (rc_ != CURLE_OK) {                                                                        \
      bw_errs_add(errs, "%s: cannot set %s: %s", x->url, #opt, curl_easy_strerror(rc_));         \
      return -EINVAL;                                                                             \
    }                                                                                             \
  } while (0)

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
  /* Measure the endpoint itself: no proxy, and none taken from the environment (which would also
   * cost a getenv() per request). */
  SETOPT(CURLOPT_PROXY, "");
  SETOPT(CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
  if (strcmp(x->method, "HEAD") == 0)
    SETOPT(CURLOPT_NOBODY, 1L);
  if (x->headers)
    SETOPT(CURLOPT_HTTPHEADER, x->headers);
  if (x->connect_to)
    SETOPT(CURLOPT_CONNECT_TO, x->connect_to);
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
  if (r->idle_timeout_us > 0 || r->on_data) {
    /* Our own timer (idle_cb), not CURLOPT_LOW_SPEED_*: curl judges an average over whole
     * seconds, which let a 4 s silence pass a 1 s limit and cut a 12 s one only after 7 s. A
     * download also wants to know when its headers ended, apart from its first body byte. */
    SETOPT(CURLOPT_HEADERFUNCTION, header_cb);
    SETOPT(CURLOPT_HEADERDATA, x);
  }
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

static int launch(struct bw_xfer *x, struct bw_errs *errs);

int bw_xfer_start(struct bw_xfer *x, const struct bw_request *req, struct bw_errs *errs) {
  int r;
  if (x->active) {
    bw_errs_add(errs, "%s: transfer slot is busy", req->url);
    return -EBUSY;
  }
  release_request(x);
  x->req = *req;
  x->req.headers = NULL; /* the copies below are what stays valid */
  x->url = bw_xstrdup(req->url);
  x->method = bw_xstrdup(req->method ? req->method : "GET");
  for (size_t i = 0; i < req->n_headers; i++) {
    struct curl_slist *h = curl_slist_append(x->headers, req->headers[i]);
    if (!h)
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
  return launch(x, errs);
oom:
  bw_errs_add(errs, "%s: out of memory", req->url);
  return -ENOMEM;
}

int bw_xfer_restart(struct bw_xfer *x, struct bw_errs *errs) {
  if (x->active || !x->url) {
    bw_errs_add(errs, "transfer slot is busy or was never started");
    return -EBUSY;
  }
  return launch(x, errs);
}

/* Adds the configured easy handle to the multi handle: the transfer starts. */
static int launch(struct bw_xfer *x, struct bw_errs *errs) {
  const struct bw_request *req = &x->req;
  x->errbuf[0] = '\0';
  x->capped = false;
  x->body_bytes = 0;
  x->first_byte_us = 0;
  x->last_byte_us = 0;
  x->headers_us = 0;
  x->status = 0;
  x->n_fds = 0;
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

/* ---- timers and signals ---- */

struct bw_timer {
  struct event ev;
  bw_loop_fn fn;
  void *arg;
};

static void timer_fire(evutil_socket_t fd, short what, void *arg) {
  struct bw_timer *t = arg;
  (void)fd;
  (void)what;
  t->fn(t->arg);
}

struct bw_timer *bw_timer_new(struct bw_loop *loop, bw_loop_fn fn, void *arg) {
  struct bw_timer *t = bw_xcalloc(1, sizeof(*t));
  t->fn = fn;
  t->arg = arg;
  if (evtimer_assign(&t->ev, loop->base, timer_fire, t) < 0) {
    free(t);
    return NULL;
  }
  return t;
}

void bw_timer_arm(struct bw_timer *t, int64_t delay_us) {
  if (delay_us < 0)
    delay_us = 0;
  struct timeval tv = {(time_t)(delay_us / 1000000), (suseconds_t)(delay_us % 1000000)};
  (void)evtimer_add(&t->ev, &tv);
}

void bw_timer_stop(struct bw_timer *t) {
  (void)evtimer_del(&t->ev);
}

void bw_timer_free(struct bw_timer *t) {
  if (!t)
    return;
  (void)evtimer_del(&t->ev);
  free(t);
}

struct bw_signal {
  struct event ev;
  bw_loop_fn fn;
  void *arg;
};

static void signal_fire(evutil_socket_t fd, short what, void *arg) {
  struct bw_signal *s = arg;
  (void)fd;
  (void)what;
  s->fn(s->arg);
}

struct bw_signal *bw_signal_new(struct bw_loop *loop, int signo, bw_loop_fn fn, void *arg) {
  struct bw_signal *s = bw_xcalloc(1, sizeof(*s));
  s->fn = fn;
  s->arg = arg;
  if (evsignal_assign(&s->ev, loop->base, signo, signal_fire, s) < 0 ||
      evsignal_add(&s->ev, NULL) < 0) {
    free(s);
    return NULL;
  }
  return s;
}

void bw_signal_free(struct bw_signal *s) {
  if (!s)
    return;
  (void)evsignal_del(&s->ev);
  free(s);
}

/* ---- wake-ups from other threads ---- */

/*
 * An eventfd the loop watches: other threads only write to it, so libevent itself is touched by
 * the loop's thread alone and needs no locking of its own.
 */
struct bw_wake {
  struct event ev;
  int fd;
  bw_loop_fn fn;
  void *arg;
};

static void wake_fire(evutil_socket_t fd, short what, void *arg) {
  struct bw_wake *w = arg;
  uint64_t n;
  (void)what;
  /* Reading resets the counter: wake-ups fired before this read are all answered by this call. */
  while (read(fd, &n, sizeof(n)) < 0 && errno == EINTR)
    ;
  w->fn(w->arg);
}

struct bw_wake *bw_wake_new(struct bw_loop *loop, bw_loop_fn fn, void *arg) {
  struct bw_wake *w = bw_xcalloc(1, sizeof(*w));
  w->fn = fn;
  w->arg = arg;
  w->fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (w->fd < 0) {
    free(w);
    return NULL;
  }
  if (event_assign(&w->ev, loop->base, w->fd, EV_READ | EV_PERSIST, wake_fire, w) < 0 ||
      event_add(&w->ev, NULL) < 0) {
    (void)close(w->fd);
    free(w);
    return NULL;
  }
  return w;
}

void bw_wake_fire(struct bw_wake *w) {
  uint64_t one = 1;
  /* EAGAIN means the counter is full: the loop has a wake-up pending anyway. */
  while (write(w->fd, &one, sizeof(one)) < 0 && errno == EINTR)
    ;
}

void bw_wake_free(struct bw_wake *w) {
  if (!w)
    return;
  (void)event_del(&w->ev);
  (void)close(w->fd);
  free(w);
}

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

/* ---- mail delivery ---- */

/*
 * A delivery is an ordinary bw_xfer, set up for SMTP instead of HTTP: it joins the same multi
 * handle, so the socket and timer wiring, CURLINFO_PRIVATE in drain() and finish()'s reading of
 * the outcome all serve it unchanged. Its on_done is smtp_finished() below, which turns the
 * bw_response into the caller's (code, error) and frees the one-shot slot. The job holds what
 * must outlive the setup: the message being read and the recipient list.
 */
struct smtp_job {
  struct bw_xfer *x;
  char *message;
  size_t len;
  size_t off;
  struct curl_slist *rcpt;
  bool auth_needs_tls; /* opportunistic TLS made required because a password would go out */
  bw_smtp_done_fn done;
  void *arg;
};

static void smtp_job_free(struct smtp_job *j) {
  if (!j)
    return;
  bw_xfer_free(j->x);
  free(j->message);
  curl_slist_free_all(j->rcpt);
  free(j);
}

static size_t smtp_read_cb(char *buf, size_t size, size_t nitems, void *userp) {
  struct smtp_job *j = userp;
  size_t n = size * nitems;
  if (n > j->len - j->off)
    n = j->len - j->off;
  memcpy(buf, j->message + j->off, n);
  j->off += n;
  return n;
}

/*
 * The words for a refused STARTTLS. curl says "STARTTLS not supported." when the server's EHLO
 * does not offer it, and "STARTTLS denied" when the server refuses the command; neither says why
 * benchwatch insisted, which is what the reader needs to decide what to change.
 */
static char *smtp_tls_error(const struct smtp_job *j, const char *curl_words) {
  char *what = strstr(curl_words, "not supported")
                   ? bw_xstrdup("the server offers no STARTTLS")
                   : bw_xasprintf("STARTTLS failed (%s)", curl_words);
  char *msg = j->auth_needs_tls ? bw_xasprintf("%s; the password is not sent in clear (set "
                                               "report.tls: none to allow it)",
                                               what)
                                : bw_xasprintf("%s, and tls: required", what);
  free(what);
  return msg;
}

/* Called last in finish(): nothing touches the slot after it, so it may be freed here. */
static void smtp_finished(void *arg, const struct bw_response *res) {
  struct smtp_job *j = arg;
  bw_smtp_done_fn done = j->done;
  void *done_arg = j->arg;
  char *error = res->code == CURLE_USE_SSL_FAILED ? smtp_tls_error(j, res->error) : NULL;
  smtp_job_free(j);
  done(done_arg, res->code, error ? error : res->error);
  free(error);
}

static int smtp_tls_level(const char *tls, long *ret) {
  if (!tls || strcmp(tls, "opportunistic") == 0)
    *ret = (long)CURLUSESSL_TRY;
  else if (strcmp(tls, "none") == 0)
    *ret = (long)CURLUSESSL_NONE;
  else if (strcmp(tls, "required") == 0)
    *ret = (long)CURLUSESSL_ALL;
  else
    return -EINVAL;
  return 0;
}

/* "<addr>": the envelope's form, which curl sends as it is. */
static char *smtp_path(const char *addr) {
  return bw_xasprintf(addr[0] == '<' ? "%s" : "<%s>", addr);
}

static int smtp_apply(struct smtp_job *j, const struct bw_smtp *s, long tls, struct bw_errs *errs) {
  struct bw_xfer *x = j->x;
  CURL *e = x->easy;
  char *from = smtp_path(s->from);
  CURLcode rc = curl_easy_setopt(e, CURLOPT_MAIL_FROM, from); /* curl keeps its own copy */
  free(from);
  if (rc != CURLE_OK) {
    bw_errs_add(errs, "%s: cannot set CURLOPT_MAIL_FROM: %s", x->url, curl_easy_strerror(rc));
    return -EINVAL;
  }
  SETOPT(CURLOPT_URL, x->url);
  SETOPT(CURLOPT_PRIVATE, (char *)x);
  SETOPT(CURLOPT_ERRORBUFFER, x->errbuf);
  SETOPT(CURLOPT_NOSIGNAL, 1L);
  SETOPT(CURLOPT_PROTOCOLS_STR, "smtp,smtps");
  SETOPT(CURLOPT_PROXY, "");
  SETOPT(CURLOPT_MAIL_RCPT, j->rcpt);
  SETOPT(CURLOPT_UPLOAD, 1L);
  SETOPT(CURLOPT_READFUNCTION, smtp_read_cb);
  SETOPT(CURLOPT_READDATA, j);
  SETOPT(CURLOPT_INFILESIZE_LARGE, (curl_off_t)j->len);
  SETOPT(CURLOPT_USE_SSL, tls);
  SETOPT(CURLOPT_SSL_VERIFYPEER, s->tls_verify ? 1L : 0L);
  SETOPT(CURLOPT_SSL_VERIFYHOST, s->tls_verify ? 2L : 0L);
  /* One message a night: say QUIT and close rather than hold a connection the server drops. */
  SETOPT(CURLOPT_FORBID_REUSE, 1L);
  if (s->timeout_us > 0)
    SETOPT(CURLOPT_TIMEOUT_MS, (long)((s->timeout_us + 999) / 1000));
  if (s->username) {
    SETOPT(CURLOPT_USERNAME, s->username);
    SETOPT(CURLOPT_PASSWORD, s->password ? s->password : "");
  }
  return 0;
}

int bw_smtp_send(struct bw_loop *loop, const struct bw_smtp *s, bw_smtp_done_fn done, void *arg,
                 struct bw_errs *errs) {
  struct smtp_job *j = NULL;
  char *shown = bw_url_redact(s->url); /* a password in the URL stays out of the messages */
  long tls;
  int r;
  if (smtp_tls_level(s->tls, &tls) < 0) {
    bw_errs_add(errs, "%s: tls: expected none, opportunistic or required, got \"%s\"", shown,
                s->tls);
    r = -EINVAL;
    goto fail;
  }
  if (!s->from || s->n_rcpt == 0 || !s->message) {
    bw_errs_add(errs, "%s: a sender, a recipient and a message are needed", shown);
    r = -EINVAL;
    goto fail;
  }
  /*
   * Opportunistic TLS falls back to clear text when the server offers no STARTTLS, and anyone on
   * the path can then read AUTH PLAIN/LOGIN. With a password to send (a username, or a password
   * in the URL), TLS is required; only an explicit tls: none allows AUTH in clear.
   */
  bool auth_needs_tls = (s->username || strcmp(shown, s->url) != 0) && tls == (long)CURLUSESSL_TRY;
  if (auth_needs_tls)
    tls = (long)CURLUSESSL_ALL;
  j = bw_xcalloc(1, sizeof(*j));
  j->auth_needs_tls = auth_needs_tls;
  j->done = done;
  j->arg = arg;
  j->x = bw_xfer_new(loop);
  if (!j->x) {
    bw_errs_add(errs, "%s: cannot create a curl handle", shown);
    r = -ENOMEM;
    goto fail;
  }
  j->x->url = bw_xstrdup(s->url);
  j->x->req.url = j->x->url;
  j->x->req.on_done = smtp_finished;
  j->x->req.arg = j;
  j->message = bw_xmalloc(s->message_len ? s->message_len : 1);
  memcpy(j->message, s->message, s->message_len);
  j->len = s->message_len;
  for (size_t i = 0; i < s->n_rcpt; i++) {
    char *addr = smtp_path(s->rcpt[i]);
    struct curl_slist *l = curl_slist_append(j->rcpt, addr);
    free(addr);
    if (!l) {
      bw_errs_add(errs, "%s: out of memory", shown);
      r = -ENOMEM;
      goto fail;
    }
    j->rcpt = l;
  }
  struct bw_errs mine = {0};
  r = smtp_apply(j, s, tls, &mine);
  if (r == 0)
    r = launch(j->x, &mine);
  for (size_t i = 0; i < mine.n; i++) {
    char *safe = bw_url_redact_in(mine.msg[i], s->url);
    bw_errs_add(errs, "%s", safe);
    free(safe);
  }
  bw_errs_clear(&mine);
  if (r < 0)
    goto fail;
  free(shown);
  return 0;
fail:
  smtp_job_free(j);
  free(shown);
  return r;
}

struct smtp_wait {
  struct bw_loop *loop;
  bool done;
  int code;
  char *error;
};

static void smtp_wait_done(void *arg, int code, const char *error) {
  struct smtp_wait *w = arg;
  w->done = true;
  w->code = code;
  w->error = bw_xstrdup(error);
  bw_loop_break(w->loop);
}

int bw_smtp_send_blocking(const struct bw_smtp *s, struct bw_errs *errs) {
  struct smtp_wait w;
  int r;
  memset(&w, 0, sizeof(w));
  w.loop = bw_loop_new(errs);
  if (!w.loop)
    return -ENOMEM;
  r = bw_smtp_send(w.loop, s, smtp_wait_done, &w, errs);
  if (r == 0)
    r = bw_loop_run(w.loop);
  char *shown = bw_url_redact(s->url);
  if (r == 0 && !w.done) {
    bw_errs_add(errs, "%s: the event loop stopped before the delivery ended", shown);
    r = -EIO;
  } else if (r == 0 && w.code != 0) {
    bw_errs_add(errs, "%s: %s", shown, w.error);
    r = -EIO;
  }
  free(shown);
  free(w.error);
  bw_loop_free(w.loop);
  return r;
}

int bw_smtp_read_password(const char *name, char **ret, struct bw_errs *errs) {
  char *buf = NULL;
  size_t len = 0;
  char *path = bw_file_secret_path(name);
  int r = bw_file_read_private(path, 64 * 1024, &buf, &len, errs);
  if (r < 0)
    goto out;
  size_t n = strcspn(buf, "\r\n");
  if (n == 0) {
    bw_errs_add(errs, "%s: the first line (the password) is empty", path);
    r = -EINVAL;
  } else {
    *ret = bw_xstrndup(buf, n);
  }
  explicit_bzero(buf, len);
  free(buf);
out:
  free(path);
  return r;
}
