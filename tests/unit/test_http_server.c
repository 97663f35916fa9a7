/*
 * The HTTP server's answers that come later: a request the handler holds keeps only itself
 * waiting (other requests are answered meanwhile), its answer goes out when given, and an answer
 * given after its connection was closed (timed out) is dropped. A client thread talks to the
 * server over real loopback sockets; the loop runs on the test's thread.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "bw_http_server.h"
#include "bw_loop.h"

#define MAX_HELD 4

struct server {
  struct bw_http_server *http;
  int port;
};

struct test {
  struct bw_loop *loop;
  struct bw_wake *wake;
  struct server patient, hasty; /* default timeout; 200 ms */
  struct bw_http_request *held[MAX_HELD];
  size_t n_held;
  atomic_int answered_slow; /* slow requests answered so far */
  atomic_bool stop;
  /* what the client saw */
  char fast[1024], head[1024], slow[1024], dead[1024];
  int slow_answered_before_fast;
};

static void serve(void *arg, struct bw_http_request *req, const char *path) {
  struct test *t = arg;
  if (strcmp(path, "/slow") == 0) {
    assert_true(t->n_held < MAX_HELD);
    t->held[t->n_held++] = req; /* answered when the client says so */
    return;
  }
  bw_http_answer(req, 200, "text/html; charset=utf-8", "fast", 4);
}

/* From the client: answer what is held, and stop when told. */
static void on_wake(void *arg) {
  struct test *t = arg;
  for (size_t i = 0; i < t->n_held; i++) {
    bw_http_answer(t->held[i], 200, NULL, "slow", 4);
    atomic_fetch_add(&t->answered_slow, 1);
  }
  t->n_held = 0;
  if (atomic_load(&t->stop))
    bw_loop_break(t->loop);
}

static int connect_to(int port, const char *request) {
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  assert_true(fd >= 0);
  assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
  assert_int_equal(send(fd, request, strlen(request), 0), (ssize_t)strlen(request));
  return fd;
}

/* Everything until the server closes the connection, then closes fd. */
static void read_all(int fd, char *buf, size_t size) {
  size_t n = 0;
  ssize_t r;
  while (n + 1 < size && (r = recv(fd, buf + n, size - 1 - n, 0)) > 0)
    n += (size_t)r;
  buf[n] = '\0';
  close(fd);
}

static void *client(void *arg) {
  struct test *t = arg;
  int slow = connect_to(t->patient.port, "GET /slow HTTP/1.1\r\nHost: x\r\n\r\n");
  int fast = connect_to(t->patient.port, "GET /fast HTTP/1.1\r\nHost: x\r\n\r\n");
  read_all(fast, t->fast, sizeof(t->fast));
  t->slow_answered_before_fast = atomic_load(&t->answered_slow);
  read_all(connect_to(t->patient.port, "HEAD /fast HTTP/1.1\r\nHost: x\r\n\r\n"), t->head,
           sizeof(t->head));
  bw_wake_fire(t->wake); /* answer the slow one now */
  read_all(slow, t->slow, sizeof(t->slow));
  /* A held request whose connection times out: the server closes it, the answer comes later. */
  read_all(connect_to(t->hasty.port, "GET /slow HTTP/1.1\r\nHost: x\r\n\r\n"), t->dead,
           sizeof(t->dead));
  atomic_store(&t->stop, true);
  bw_wake_fire(t->wake);
  return NULL;
}

/* A port on 127.0.0.1 that nothing listens on now. */
static int free_port(void) {
  struct sockaddr_in a = {.sin_family = AF_INET};
  socklen_t alen = sizeof(a);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  int fd = socket(AF_INET, SOCK_STREAM, 0), port = 0;
  if (fd >= 0 && bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
      getsockname(fd, (struct sockaddr *)&a, &alen) == 0)
    port = ntohs(a.sin_port);
  if (fd >= 0)
    close(fd);
  return port;
}

static void listen_on(struct test *t, struct server *s, int64_t timeout_us) {
  struct bw_errs errs = {0};
  /* Another process may take the free port before we bind it: try a few. */
  for (int i = 0; i < 20 && !s->http; i++) {
    char hostport[32];
    s->port = free_port();
    (void)snprintf(hostport, sizeof(hostport), "127.0.0.1:%d", s->port);
    struct bw_http_opts o = {.listen = hostport, .fn = serve, .arg = t, .timeout_us = timeout_us};
    bw_errs_clear(&errs);
    s->http = bw_http_listen(t->loop, &o, &errs);
  }
  bw_errs_clear(&errs);
  assert_non_null(s->http);
}

static void later(void **state) {
  (void)state;
  struct test *t = calloc(1, sizeof(*t));
  struct bw_errs errs = {0};
  pthread_t thread;
  t->loop = bw_loop_new(&errs);
  assert_non_null(t->loop);
  t->wake = bw_wake_new(t->loop, on_wake, t);
  listen_on(t, &t->patient, 0);
  listen_on(t, &t->hasty, 200000);
  assert_int_equal(pthread_create(&thread, NULL, client, t), 0);
  assert_int_equal(bw_loop_run(t->loop), 0);
  assert_int_equal(pthread_join(thread, NULL), 0);

  /* the fast request was answered while the slow one was held */
  assert_int_equal(t->slow_answered_before_fast, 0);
  assert_non_null(strstr(t->fast, "HTTP/1.1 200 OK\r\n"));
  assert_non_null(strstr(t->fast, "Content-Type: text/html; charset=utf-8\r\n"));
  assert_non_null(strstr(t->fast, "\r\n\r\nfast"));
  /* HEAD: the same head, no body */
  assert_non_null(strstr(t->head, "Content-Length: 4\r\n"));
  assert_non_null(strstr(t->head, "\r\n\r\n"));
  assert_null(strstr(t->head, "fast"));
  /* the held one, once answered */
  assert_non_null(strstr(t->slow, "HTTP/1.1 200 OK\r\n"));
  assert_non_null(strstr(t->slow, "Content-Type: text/plain; charset=utf-8\r\n"));
  assert_non_null(strstr(t->slow, "\r\n\r\nslow"));
  /* timed out before its answer: closed with nothing sent, and the late answer dropped */
  assert_string_equal(t->dead, "");
  assert_int_equal(atomic_load(&t->answered_slow), 2);

  bw_http_free(t->patient.http);
  bw_http_free(t->hasty.http);
  bw_wake_free(t->wake);
  bw_loop_free(t->loop);
  free(t);
}

static void stop_loop(void *arg) {
  bw_loop_break(arg);
}

/* Runs the loop for 10 ms. */
static void turn(struct bw_loop *loop) {
  struct bw_timer *tick = bw_timer_new(loop, stop_loop, loop);
  bw_timer_arm(tick, 10000);
  assert_int_equal(bw_loop_run(loop), 0);
  bw_timer_free(tick);
}

/* A request still held when the server is freed can be answered after: the answer is dropped. */
static void after_free(void **state) {
  (void)state;
  struct test *t = calloc(1, sizeof(*t));
  struct bw_errs errs = {0};
  t->loop = bw_loop_new(&errs);
  assert_non_null(t->loop);
  t->wake = bw_wake_new(t->loop, on_wake, t);
  listen_on(t, &t->patient, 0);
  int fd = connect_to(t->patient.port, "GET /slow HTTP/1.1\r\nHost: x\r\n\r\n");
  /* run the loop until the request is held */
  while (t->n_held == 0)
    turn(t->loop);
  bw_http_free(t->patient.http);
  on_wake(t);    /* answers the held request of a server that is gone */
  turn(t->loop); /* libevent closes a freed connection's socket from the loop */
  char buf[64];
  read_all(fd, buf, sizeof(buf));
  assert_string_equal(buf, "");
  bw_wake_free(t->wake);
  bw_loop_free(t->loop);
  free(t);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(later),
      cmocka_unit_test(after_free),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
