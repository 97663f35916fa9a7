/*
 * libFuzzer harness for the HTTP request path of the /metrics server (bw_http_listen()): each
 * input is written, as raw bytes, to a fresh TCP connection to the server on 127.0.0.1, followed
 * by the client's end of stream; the event loop runs until the server has closed the connection
 * or BOUND_US has passed. The server's handler is a stand-in for the daemon's (a page at
 * /metrics, 404 elsewhere), so what is fuzzed is libevent's request parsing as benchwatch
 * configures it and benchwatch's own handling of whatever method, URI and path come out of it.
 * Whatever the input, anything the server sends back must start as an HTTP response.
 *
 * Only libbenchwatch is instrumented, not the system's libevent, so libFuzzer's coverage sees
 * benchwatch's handler and not the parser's branches: this harness explores by mutation more
 * than by feedback, and finds what ASan, UBSan and LeakSanitizer catch along the way.
 *
 * The server listens once per process on a port found free by binding port 0 (the way the
 * integration tests find theirs); bw_http_listen() does not report the port it bound.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bw_http_server.h"
#include "bw_loop.h"
#include "bw_util.h"
#include "fuzz_check.h"

/* The longest one input may hold the loop: a server that keeps a closed client waits this long. */
#define BOUND_US INT64_C(1000000)

static struct bw_loop *loop;
static struct bw_http_server *server;
static struct bw_timer *tick;
static struct sockaddr_in addr;

/* The connection of the input being run. */
static struct {
  int fd;
  const uint8_t *data;
  size_t left;
  bool shut;
  int64_t deadline_us;
  size_t received;
  char head[8]; /* the answer's first bytes */
} conn;

static int serve(void *arg, const char *path, struct bw_buf *body) {
  (void)arg;
  FUZZ_CHECK(path != NULL);
  if (strcmp(path, "/metrics") != 0) {
    bw_buf_printf(body, "benchwatch serves /metrics\n");
    return 404;
  }
  bw_buf_printf(body, "# TYPE benchwatch_targets gauge\nbenchwatch_targets 1\n");
  return 200;
}

/*
 * Runs every loop turn while an input is in flight: sends what is left of the input, then the
 * end of stream, and reads (and drops) the answer; stops the loop once the server has closed its
 * end or the bound has passed.
 */
static void on_tick(void *arg) {
  char buf[4096];
  bool closed = false;
  (void)arg;
  while (conn.left > 0) {
    ssize_t n = send(conn.fd, conn.data, conn.left, MSG_NOSIGNAL);
    if (n <= 0)
      break;
    conn.data += n;
    conn.left -= (size_t)n;
  }
  if (conn.left == 0 && !conn.shut) {
    (void)shutdown(conn.fd, SHUT_WR);
    conn.shut = true;
  }
  for (;;) {
    ssize_t n = recv(conn.fd, buf, sizeof(buf), MSG_DONTWAIT);
    if (n > 0) {
      if (conn.received < sizeof(conn.head))
        memcpy(conn.head + conn.received, buf,
               (size_t)n < sizeof(conn.head) - conn.received ? (size_t)n
                                                             : sizeof(conn.head) - conn.received);
      conn.received += (size_t)n;
      continue;
    }
    closed = n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR);
    break;
  }
  if (closed || bw_now_us() > conn.deadline_us)
    bw_loop_break(loop);
  else
    bw_timer_arm(tick, 0);
}

/* A port on 127.0.0.1 that nothing listens on now, or 0. */
static int free_port(void) {
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  socklen_t alen = sizeof(a);
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  int port = 0;
  if (fd < 0)
    return 0;
  if (bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0 &&
      getsockname(fd, (struct sockaddr *)&a, &alen) == 0)
    port = ntohs(a.sin_port);
  close(fd);
  return port;
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv) {
  struct bw_errs errs = {0};
  (void)argc;
  (void)argv;
  (void)signal(SIGPIPE, SIG_IGN);
  loop = bw_loop_new(&errs);
  FUZZ_CHECK(loop != NULL);
  /* Another process may take the free port before we bind it: try a few. */
  for (int i = 0; i < 20 && !server; i++) {
    int port = free_port();
    char hostport[32];
    if (port == 0)
      continue;
    (void)snprintf(hostport, sizeof(hostport), "127.0.0.1:%d", port);
    bw_errs_clear(&errs);
    struct bw_http_opts o = {.listen = hostport, .fn = serve};
    server = bw_http_listen(loop, &o, &errs);
    addr = (struct sockaddr_in){.sin_family = AF_INET,
                                .sin_port = htons((uint16_t)port),
                                .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  }
  for (size_t i = 0; !server && i < errs.n; i++)
    fprintf(stderr, "fuzz_http: %s\n", errs.msg[i]);
  FUZZ_CHECK(server != NULL);
  bw_errs_clear(&errs);
  tick = bw_timer_new(loop, on_tick, NULL);
  FUZZ_CHECK(tick != NULL);
  return 0;
}

/*
 * A new connection to the server. Loopback: the handshake completes in the kernel's backlog,
 * before the loop accepts. libFuzzer's timer signal can interrupt the call (EINTR), and at
 * thousands of connections a second the local ports can run out for a moment (EADDRNOTAVAIL):
 * neither is a finding, so try again on a new socket.
 */
static int connect_server(void) {
  for (int tries = 0; tries < 200; tries++) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    FUZZ_CHECK(fd >= 0);
    if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) == 0)
      return fd;
    int e = errno;
    close(fd);
    if (e != EINTR && e != EADDRNOTAVAIL && e != EAGAIN) {
      fprintf(stderr, "fuzz_http: connect: %s\n", strerror(e));
      break;
    }
    if (e != EINTR)
      (void)usleep(10000);
  }
  return -1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  /* Closed with a reset, so that neither end keeps the port pair in TIME_WAIT. */
  static const struct linger reset = {.l_onoff = 1, .l_linger = 0};
  int fd = connect_server();
  FUZZ_CHECK(fd >= 0);
  FUZZ_CHECK(setsockopt(fd, SOL_SOCKET, SO_LINGER, &reset, sizeof(reset)) == 0);
  FUZZ_CHECK(fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) == 0);
  conn.fd = fd;
  conn.data = data;
  conn.left = size;
  conn.shut = false;
  conn.received = 0;
  memset(conn.head, 0, sizeof(conn.head));
  conn.deadline_us = bw_now_us() + BOUND_US;
  bw_timer_arm(tick, 0);
  FUZZ_CHECK(bw_loop_run(loop) == 0);
  /* Whatever the request, anything the server says is an HTTP response (libevent answers
   * in the request's own version: "HTTP/0.1" is possible). */
  if (conn.received > 0)
    FUZZ_CHECK(conn.received >= sizeof(conn.head) && memcmp(conn.head, "HTTP/", 5) == 0);
  close(fd);
  return 0;
}
