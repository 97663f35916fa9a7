/*
 * The response check: a text found in a body however the body is cut into pieces (at every
 * place, one byte at a time, across a repeated prefix that a naive search would lose), not found
 * when it is not there, reset between bodies; and the expected statuses.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "bw_check.h"
#include "bw_lean_parse.h"

/* Whether needle is found in body fed in pieces of step bytes (0: at once). */
static bool found(const char *needle, const char *body, size_t step) {
  struct bw_find f;
  size_t len = strlen(body);
  bw_find_init(&f, needle);
  for (size_t off = 0; off < len;) {
    size_t n = step && len - off > step ? step : len - off;
    bw_find_feed(&f, body + off, n);
    off += n;
  }
  bool r = f.found;
  bw_find_free(&f);
  return r;
}

static void every_cut(void **state) {
  (void)state;
  for (size_t step = 0; step < 12; step++) {
    assert_true(found("needle", "hay needle hay", step));
    assert_true(found("needle", "needle", step));
    assert_false(found("needle", "hay needl hay eedle", step));
    /* A partial match that falls back to a shorter one: "aab" in "aaab". */
    assert_true(found("aab", "aaab", step));
    assert_true(found("abcabd", "abcabcabd", step));
    assert_false(found("abcabd", "abcabcab", step));
    assert_true(found("x", "yyyyx", step));
  }
  assert_true(found(NULL, "anything", 0));
  assert_true(found("", "", 0));
  assert_false(found("a", "", 0));
}

static void reset_between_bodies(void **state) {
  struct bw_find f;
  (void)state;
  bw_find_init(&f, "end");
  bw_find_feed(&f, "the en", 6);
  bw_find_reset(&f); /* the next body: "d" alone does not complete "en" of the last */
  bw_find_feed(&f, "d", 1);
  assert_false(f.found);
  bw_find_feed(&f, " the end", 8);
  assert_true(f.found);
  bw_find_free(&f);
  bw_find_free(NULL);
}

static void in_the_response_parser(void **state) {
  /* The lean engine's parser feeds the body without its chunked framing. */
  static const char resp[] = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                             "3\r\nnee\r\n3\r\ndle\r\n0\r\n\r\n";
  (void)state;
  for (size_t step = 1; step < sizeof(resp); step++) {
    struct bw_lean_parse p;
    struct bw_find f;
    size_t used = 0;
    bw_find_init(&f, "needle");
    bw_lean_parse_init(&p, false);
    p.find = &f;
    for (size_t off = 0; off < sizeof(resp) - 1; off += step) {
      size_t n = sizeof(resp) - 1 - off < step ? sizeof(resp) - 1 - off : step;
      (void)bw_lean_parse_feed(&p, resp + off, n, &used);
    }
    assert_true(p.done);
    assert_true(f.found);
    bw_find_free(&f);
  }
}

static void statuses(void **state) {
  char s200[] = "200", s204[] = "204";
  char *ok[] = {s200, s204};
  (void)state;
  assert_true(bw_check_status(200, ok, 2));
  assert_true(bw_check_status(204, ok, 2));
  assert_false(bw_check_status(500, ok, 2));
  assert_false(bw_check_status(0, ok, 2));
  assert_true(bw_check_status(503, NULL, 0)); /* no list: any status */
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(every_cut),
      cmocka_unit_test(reset_between_bodies),
      cmocka_unit_test(in_the_response_parser),
      cmocka_unit_test(statuses),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
