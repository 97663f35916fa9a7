#include "bw_loop.h"

#include <curl/curl.h>
#include <errno.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <event2/event_struct.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "bw_transfer_internal.h"

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
  if (bw_xfer_wire(loop) < 0)
    goto fail;
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
  if (loop->dns)
    evdns_base_free(loop->dns, 1);
  if (event_initialized(&loop->timer))
    (void)evtimer_del(&loop->timer);
  event_base_free(loop->base);
  free(loop);
}

struct evdns_base *bw_loop_dns(struct bw_loop *loop) {
  if (loop->dns)
    return loop->dns;
  /*
   * Inactive, it holds no event, so the loop still ends when nothing else is in flight. The flag
   * must be set before the nameservers are added (libevent 2.1 arms their sockets as it adds them
   * otherwise): hence no EVDNS_BASE_INITIALIZE_NAMESERVERS here. Without a resolv.conf, evdns
   * falls back to 127.0.0.1, as the C library does; /etc/hosts is read either way.
   */
  loop->dns = evdns_base_new(loop->base, EVDNS_BASE_DISABLE_WHEN_INACTIVE);
  if (loop->dns)
    (void)evdns_base_resolv_conf_parse(loop->dns, DNS_OPTIONS_ALL, "/etc/resolv.conf");
  return loop->dns;
}

int bw_loop_run(struct bw_loop *loop) {
  return event_base_dispatch(loop->base) < 0 ? -EIO : 0;
}

void bw_loop_break(struct bw_loop *loop) {
  (void)event_base_loopbreak(loop->base);
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
