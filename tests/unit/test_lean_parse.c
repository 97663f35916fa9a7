/*
 * The lean engine's reading of responses: where a head ends (curl's header size), the body
 * without chunked framing, HEAD and 1xx, bodies that end with the connection, short bodies,
 * bytes after the response, and that any cut into reads gives the same answer.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "bw_lean_parse.h"

/* Feeds text in reads of step bytes (0: at once), then the end when eof; the final state. */
static enum bw_lean_parse_state feed(struct bw_lean_parse *p, bool head, const char *text,
                                     size_t step, bool eof, size_t *taken) {
  size_t len = strlen(text), off = 0;
  enum bw_lean_parse_state st = BW_LEAN_MORE;
  bw_lean_parse_init(p, head);
  *taken = 0;
  while (off < len && st == BW_LEAN_MORE) {
    size_t n = step && len - off > step ? step : len - off, used = 0;
    st = bw_lean_parse_feed(p, text + off, n, &used);
    *taken += used;
    off += n;
  }
  if (st == BW_LEAN_MORE && eof)
    st = bw_lean_parse_eof(p);
  return st;
}

#define HEAD_200 "HTTP/1.1 200 OK\r\nServer: t\r\nContent-Length: 5\r\n\r\n"

static void content_length(void **state) {
  (void)state;
  for (size_t step = 0; step < 8; step++) {
    struct bw_lean_parse p;
    size_t taken;
    assert_int_equal(feed(&p, false, HEAD_200 "hello", step, false, &taken), BW_LEAN_DONE);
    assert_int_equal(p.status, 200);
    assert_int_equal(p.header_bytes, strlen(HEAD_200));
    assert_int_equal(p.body_bytes, 5);
    assert_int_equal(p.content_length, 5);
    assert_true(p.keep_alive);
    assert_int_equal(taken, strlen(HEAD_200) + 5);
  }
}

static void chunked(void **state) {
  (void)state;
  static const char head[] = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n";
  char text[256];
  (void)snprintf(text, sizeof(text), "%s3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n", head);
  for (size_t step = 0; step < 6; step++) {
    struct bw_lean_parse p;
    size_t taken;
    assert_int_equal(feed(&p, false, text, step, false, &taken), BW_LEAN_DONE);
    assert_int_equal(p.header_bytes, strlen(head));
    assert_int_equal(p.body_bytes, 5);
    assert_int_equal(p.content_length, -1);
    assert_int_equal(taken, strlen(text));
  }
}

static void no_body(void **state) {
  (void)state;
  struct bw_lean_parse p;
  size_t taken;
  /* HEAD: the announced length is not sent. */
  assert_int_equal(feed(&p, true, HEAD_200, 0, false, &taken), BW_LEAN_DONE);
  assert_int_equal(p.header_bytes, strlen(HEAD_200));
  assert_int_equal(p.body_bytes, 0);
  /* 100 Continue before the answer: both heads count, the final status is the answer. */
  static const char interim[] = "HTTP/1.1 100 Continue\r\n\r\n";
  char text[256];
  (void)snprintf(text, sizeof(text), "%s%s", interim, "HTTP/1.1 204 No Content\r\n\r\n");
  assert_int_equal(feed(&p, false, text, 3, false, &taken), BW_LEAN_DONE);
  assert_int_equal(p.status, 204);
  assert_int_equal(p.header_bytes, strlen(text));
  /* Content-Length: 0 right at the end of a read still completes. */
  assert_int_equal(
      feed(&p, false, "HTTP/1.1 302 Found\r\nContent-Length: 0\r\n\r\n", 0, false, &taken),
      BW_LEAN_DONE);
  assert_int_equal(p.status, 302);
}

static void until_close(void **state) {
  (void)state;
  struct bw_lean_parse p;
  size_t taken;
  assert_int_equal(feed(&p, false, "HTTP/1.0 200 OK\r\n\r\nsome body", 4, true, &taken),
                   BW_LEAN_DONE);
  assert_int_equal(p.body_bytes, 9);
  assert_false(p.keep_alive);
}

static void failures(void **state) {
  (void)state;
  struct bw_lean_parse p;
  size_t taken;
  assert_int_equal(feed(&p, false, "", 0, true, &taken), BW_LEAN_EMPTY);
  assert_int_equal(feed(&p, false, HEAD_200 "he", 0, true, &taken), BW_LEAN_LENGTH);
  assert_int_equal(p.body_bytes, 2);
  assert_int_equal(feed(&p, false, "HTTP/1.1 200 OK\r\nContent-Le", 0, true, &taken),
                   BW_LEAN_PROTOCOL);
  assert_int_equal(feed(&p, false, "SSH-2.0-OpenSSH_9.2\r\n", 0, false, &taken), BW_LEAN_PROTOCOL);
  assert_non_null(p.reason);
  /* Bytes after the response are not taken: they answer nothing that was asked. */
  assert_int_equal(feed(&p, false, HEAD_200 "helloHTTP/1.1 200 OK\r\n", 0, false, &taken),
                   BW_LEAN_DONE);
  assert_int_equal(taken, strlen(HEAD_200) + 5);
}

static void too_large(void **state) {
  (void)state;
  static char text[BW_LEAN_MAX_HEAD + 200];
  size_t n = (size_t)snprintf(text, sizeof(text), "HTTP/1.1 200 OK\r\n");
  while (n + 40 < sizeof(text) - 1)
    n += (size_t)snprintf(text + n, sizeof(text) - n, "X-Filler: 0123456789012345678901\r\n");
  struct bw_lean_parse p;
  size_t taken;
  assert_int_equal(feed(&p, false, text, 4096, false, &taken), BW_LEAN_TOO_LARGE);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(content_length), cmocka_unit_test(chunked),  cmocka_unit_test(no_body),
      cmocka_unit_test(until_close),    cmocka_unit_test(failures), cmocka_unit_test(too_large),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
