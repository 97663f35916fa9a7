/*
 * Import parsers: genuine ab -g and ab -e files (tests/data/import/, made by running ab against
 * nginx and bw_faultd), plain "time value" text in every accepted form, every broken file in
 * tests/data/import/bad/ with its exact messages, and any prefix or damage of the inputs parsed
 * from exact-size buffers (ASan sees a read past the end, LeakSanitizer a leak).
 */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "bw_file.h"
#include "bw_import.h"
#include "bw_store.h"

#define S INT64_C(1000000)
/* 2026-11-01T00:00:00Z */
#define NOV1 INT64_C(1793491200)

static const char *const fixtures[] = {
    "ab-g.tsv",
    "ab-e.csv",
    "ab-g-two-runs.tsv",
    "plain.txt",
    "bad/ab-g-fields.tsv",
    "bad/ab-e-no-median.csv",
    "bad/ab-e-truncated.csv",
    "bad/ab-e-negative-median.csv",
    "bad/plain.txt",
    "kv.txt",
    "bad/kv.txt",
};

static char *read_fixture(const char *rel, size_t *ret_len) {
  struct bw_errs errs = {0};
  const char *base = getenv("BW_TEST_DATA");
  assert_non_null(base);
  char *path = bw_xasprintf("%s/data/import/%s", base, rel);
  char *buf = NULL;
  if (bw_file_read(path, 1 << 20, &buf, ret_len, &errs) < 0)
    fail_msg("%s", errs.msg[0]);
  free(path);
  return buf;
}

static struct bw_import_opts page_opts(void) {
  struct bw_import_opts o = {.kind = BW_KIND_PAGE, .at_us = BW_NONE, .latest_us = BW_NONE};
  return o;
}

/* Parses text (as an exact-size copy: no NUL after it) named t.txt. */
static int parse(const char *text, size_t len, const struct bw_import_opts *o,
                 struct bw_import_point **pts, size_t *n, struct bw_errs *errs) {
  char *copy = bw_xmalloc(len ? len : 1);
  memcpy(copy, text, len);
  *pts = NULL;
  *n = 0;
  int r = bw_import_parse("t.txt", copy, len, o, pts, n, errs);
  free(copy);
  return r;
}

static int parse_str(const char *text, const struct bw_import_opts *o, struct bw_import_point **pts,
                     size_t *n, struct bw_errs *errs) {
  return parse(text, strlen(text), o, pts, n, errs);
}

/* Parses a fixture under its own relative name. */
static int parse_fixture(const char *rel, const struct bw_import_opts *o,
                         struct bw_import_point **pts, size_t *n, struct bw_errs *errs) {
  size_t len;
  char *buf = read_fixture(rel, &len);
  *pts = NULL;
  *n = 0;
  int r = bw_import_parse(rel, buf, len, o, pts, n, errs);
  free(buf);
  return r;
}

static void expect_msgs(struct bw_errs *errs, const char *const *want, size_t n) {
  bool same = errs->n == n;
  for (size_t i = 0; same && i < n; i++)
    same = strcmp(errs->msg[i], want[i]) == 0;
  for (size_t i = 0; !same && i < errs->n; i++)
    print_message("  got: %s\n", errs->msg[i]);
  assert_int_equal(errs->n, n);
  for (size_t i = 0; i < n; i++)
    assert_string_equal(errs->msg[i], want[i]);
  bw_errs_clear(errs);
}

/* One plain line that must fail with exactly one message (after "t.txt:LINE: "). */
static void expect_plain_error(const char *text, const struct bw_import_opts *o, const char *msg) {
  struct bw_errs errs = {0};
  struct bw_import_point *pts;
  size_t n;
  assert_int_equal(parse_str(text, o, &pts, &n, &errs), -EBADMSG);
  assert_null(pts);
  const char *const want[] = {msg};
  expect_msgs(&errs, want, 1);
}

/* ---- genuine ab files ---- */

static void ab_g_one_run(void **state) {
  struct bw_errs errs = {0};
  struct bw_import_point *pts;
  size_t n, len;
  struct bw_import_opts o = page_opts();
  (void)state;
  char *buf = read_fixture("ab-g.tsv", &len);
  assert_int_equal(bw_import_detect(buf, len), BW_IMPORT_AB_TSV);
  free(buf);
  /* ab -n 30 -c 3 against nginx: 2 x 8, 23 x 9, 3 x 10 and 2 x 11 ms; the median is 9 ms. */
  assert_int_equal(parse_fixture("ab-g.tsv", &o, &pts, &n, &errs), 0);
  assert_int_equal(errs.n, 0);
  assert_int_equal(n, 1);
  assert_int_equal(pts[0].started_us, INT64_C(1795305210) * S);
  assert_true(pts[0].value == 9000);
  assert_int_equal(pts[0].line, 2);
  free(pts);
  /* The same with the format given. */
  o.format = BW_IMPORT_AB_TSV;
  assert_int_equal(parse_fixture("ab-g.tsv", &o, &pts, &n, &errs), 0);
  assert_int_equal(n, 1);
  free(pts);
}

static void ab_g_two_runs(void **state) {
  struct bw_errs errs = {0};
  struct bw_import_point *pts;
  size_t n;
  struct bw_import_opts o = page_opts();
  (void)state;
  /*
   * Two ab runs 71 s apart against bw_faultd, joined with cat: /delay?ms=25 (4 x 25, 25 x 26,
   * 3 x 27, 3 x 28, 5 x 29 ms: median 26) and /delay?ms=40 (26 x 40, 4 x 41 ms: median 40).
   */
  assert_int_equal(parse_fixture("ab-g-two-runs.tsv", &o, &pts, &n, &errs), 0);
  assert_int_equal(n, 2);
  assert_int_equal(pts[0].started_us, INT64_C(1795304950) * S);
  assert_true(pts[0].value == 26000);
  assert_int_equal(pts[0].line, 2);
  assert_int_equal(pts[1].started_us, INT64_C(1795305021) * S);
  assert_true(pts[1].value == 40000);
  assert_int_equal(pts[1].line, 43);
  free(pts);
}

static void ab_e_file(void **state) {
  struct bw_errs errs = {0};
  struct bw_import_point *pts;
  size_t n, len;
  struct bw_import_opts o = page_opts();
  (void)state;
  char *buf = read_fixture("ab-e.csv", &len);
  assert_int_equal(bw_import_detect(buf, len), BW_IMPORT_AB_CSV);
  free(buf);
  /* No time in the file: it must be given. */
  assert_int_equal(parse_fixture("ab-e.csv", &o, &pts, &n, &errs), -EINVAL);
  assert_null(pts);
  const char *const want[] = {"ab-e.csv: ab -e files hold no time: the run's start must be given"};
  expect_msgs(&errs, want, 1);
  o.at_us = INT64_C(1795305210) * S;
  assert_int_equal(parse_fixture("ab-e.csv", &o, &pts, &n, &errs), 0);
  assert_int_equal(n, 1);
  assert_int_equal(pts[0].started_us, INT64_C(1795305210) * S);
  assert_int_equal(llround(pts[0].value), 9130); /* the 50% row: 9.130 ms */
  assert_int_equal(pts[0].line, 52);
  free(pts);
  /* A time later than allowed is an error too. */
  o.latest_us = o.at_us - 1;
  assert_int_equal(parse_fixture("ab-e.csv", &o, &pts, &n, &errs), -EBADMSG);
  const char *const future[] = {"ab-e.csv:52: 2026-11-21T23:53:30Z is in the future"};
  expect_msgs(&errs, future, 1);
}

static void ab_files_need_a_page_test(void **state) {
  struct bw_errs errs = {0};
  struct bw_import_point *pts;
  size_t n;
  struct bw_import_opts o = page_opts();
  (void)state;
  o.kind = BW_KIND_DOWNLOAD;
  assert_int_equal(parse_fixture("ab-g.tsv", &o, &pts, &n, &errs), -EINVAL);
  const char *const want[] = {
      "ab-g.tsv: ab's files hold request times, for a page test, not a download"};
  expect_msgs(&errs, want, 1);
  o.kind = BW_KIND_PAGE;
  o.unit = BW_IMPORT_UNIT_S;
  assert_int_equal(parse_fixture("ab-g.tsv", &o, &pts, &n, &errs), -EINVAL);
  const char *const unit[] = {"ab-g.tsv: a unit applies to plain files only; ab's times are in ms"};
  expect_msgs(&errs, unit, 1);
}

/* ab -g rows made by hand: medians, the gap rule, a repeated header, order. */
static void ab_g_grouping(void **state) {
  struct bw_errs errs = {0};
  struct bw_import_point *pts;
  size_t n;
  struct bw_import_opts o = page_opts();
  (void)state;
  const char *text = "starttime\tseconds\tctime\tdtime\tttime\twait\r\n"
                     "x\t1000000059\t0\t7\t7\t7\r\n"
                     "x\t1000000000\t0\t1\t1\t1\r\n"
                     "x\t1000000030\t0\t4\t4\t4\r\n"
                     "x\t1000000001\t0\t2\t2\t2\r\n"
                     "starttime\tseconds\tctime\tdtime\tttime\twait\r\n"
                     "\r\n"
                     "x\t1000000119\t-1\t5\t5\t-2\r\n"
                     "x\t1000000120\t0\t3\t3\t3\r\n";
  /* 0, 1, 30, 59 are one run (gaps under 60 s): median of 1, 2, 4, 7 is 3 ms. 119 is 60 s after
   * 59: a new run with 5 and 3 ms, median 4. */
  assert_int_equal(parse_str(text, &o, &pts, &n, &errs), 0);
  assert_int_equal(n, 2);
  assert_int_equal(pts[0].started_us, INT64_C(1000000000) * S);
  assert_true(pts[0].value == 3000);
  assert_int_equal(pts[0].line, 3);
  assert_int_equal(pts[1].started_us, INT64_C(1000000119) * S);
  assert_true(pts[1].value == 4000);
  assert_int_equal(pts[1].line, 8);
  free(pts);
  /* Only the header: ab completed no request. No runs, no error. */
  assert_int_equal(
      parse_str("starttime\tseconds\tctime\tdtime\tttime\twait\n", &o, &pts, &n, &errs), 0);
  assert_int_equal(n, 0);
  free(pts);
  /* The header is required when the format is given. */
  o.format = BW_IMPORT_AB_TSV;
  assert_int_equal(parse_str("1000000000 5\n", &o, &pts, &n, &errs), -EBADMSG);
  const char *const want[] = {"t.txt:1: expected ab -g's header "
                              "\"starttime\\tseconds\\tctime\\tdtime\\tttime\\twait\", got "
                              "\"1000000000 5\""};
  expect_msgs(&errs, want, 1);
  assert_int_equal(parse_str("", &o, &pts, &n, &errs), -EBADMSG);
  const char *const empty[] = {"t.txt:1: expected ab -g's header "
                               "\"starttime\\tseconds\\tctime\\tdtime\\tttime\\twait\", got "
                               "nothing"};
  expect_msgs(&errs, empty, 1);
  o.format = BW_IMPORT_AB_CSV;
  o.at_us = 0;
  assert_int_equal(parse_str("Percentage served;Time in ms\n", &o, &pts, &n, &errs), -EBADMSG);
  const char *const csv[] = {"t.txt:1: expected ab -e's header \"Percentage served,Time in ms\", "
                             "got \"Percentage served;Time in ms\""};
  expect_msgs(&errs, csv, 1);
}

/* ---- broken files: every message exactly ---- */

static void bad_files(void **state) {
  struct bw_errs errs = {0};
  struct bw_import_point *pts;
  size_t n;
  struct bw_import_opts o = page_opts();
  (void)state;

  assert_int_equal(parse_fixture("bad/ab-g-fields.tsv", &o, &pts, &n, &errs), -EBADMSG);
  assert_null(pts);
  const char *const tsv[] = {
      "bad/ab-g-fields.tsv:4: expected 6 tab-separated fields (starttime, seconds, ctime, dtime, "
      "ttime, wait), got 5: \"Sat Nov 21 23:53:30 2026\\t1795305210\\t0\\t9\\t\"...",
      "bad/ab-g-fields.tsv:7: expected whole ms in field 5 (ttime), got \"9ms\"",
      "bad/ab-g-fields.tsv:10: expected Unix seconds in field 2 (seconds), got \"Sat\"",
  };
  expect_msgs(&errs, tsv, 3);

  o.at_us = INT64_C(1795305210) * S;
  assert_int_equal(parse_fixture("bad/ab-e-no-median.csv", &o, &pts, &n, &errs), -EBADMSG);
  const char *const missing[] = {
      "bad/ab-e-no-median.csv:52: expected the 50% row, got the 51% row"};
  expect_msgs(&errs, missing, 1);

  assert_int_equal(parse_fixture("bad/ab-e-truncated.csv", &o, &pts, &n, &errs), -EBADMSG);
  const char *const truncated[] = {"bad/ab-e-truncated.csv:61: expected the 59% row, got the end "
                                   "of the file (ab -e writes 101 rows, 0% to 100%)"};
  expect_msgs(&errs, truncated, 1);

  assert_int_equal(parse_fixture("bad/ab-e-negative-median.csv", &o, &pts, &n, &errs), -EBADMSG);
  const char *const negative[] = {"bad/ab-e-negative-median.csv:52: expected the median time in "
                                  "ms in the 50% row, got \"-9.130\""};
  expect_msgs(&errs, negative, 1);

  o.at_us = BW_NONE;
  assert_int_equal(parse_fixture("bad/plain.txt", &o, &pts, &n, &errs), -EBADMSG);
  assert_null(pts);
  const char *const plain[] = {
      "bad/plain.txt:4: expected a value after the time",
      "bad/plain.txt:5: bad time \"2026-11-31T03:05:00Z\": the day is out of range for its month",
      "bad/plain.txt:6: expected a value of 0 or more, got \"-3\"",
      "bad/plain.txt:7: bad time \"1794582000000\": the time is after the year 9999 "
      "(milliseconds? give Unix seconds)",
      "bad/plain.txt:8: expected only TIME and VALUE on the line, got \"97\"",
      "bad/plain.txt:9: expected Unix seconds or an ISO 8601 time such as 2026-11-21T10:05:00Z, "
      "got \"yesterday\"",
      "bad/plain.txt:10: expected only TIME and VALUE on the line (a decimal comma? write a "
      "point), got \",8\"",
      "bad/plain.txt:11: the same time (2026-11-01T01:05:00Z) as line 3",
      "bad/plain.txt:12: expected a number (in ms) for the value, got \"98ms\"",
  };
  expect_msgs(&errs, plain, 9);
}

/* kv: one run per line, its time in any form and its figures by name, in their units. */
static void kv_fixture(void **state) {
  struct bw_errs errs = {0};
  struct bw_import_point *pts;
  size_t n, len;
  struct bw_import_opts o = page_opts();
  (void)state;
  o.kind = BW_KIND_DOWNLOAD;
  char *buf = read_fixture("kv.txt", &len);
  assert_int_equal(bw_import_detect(buf, len), BW_IMPORT_KV);
  free(buf);
  assert_int_equal(parse_fixture("kv.txt", &o, &pts, &n, &errs), 0);
  assert_int_equal(errs.n, 0);
  assert_int_equal(n, 5);
  /* 04:00Z, 16:00Z, Unix ms (04:00Z next day), a quoted ISO time, decimal Unix seconds. */
  static const int64_t at[] = {NOV1 * S + 4 * 3600 * S, NOV1 * S + 16 * 3600 * S,
                               NOV1 * S + 28 * 3600 * S, NOV1 * S + 40 * 3600 * S,
                               NOV1 * S + 52 * 3600 * S + 500000};
  static const double rate[] = {238.4e6, 241.0e6, 236.1e6, 120.2e6, 239.9e6};
  static const size_t figs[] = {4, 4, 2, 4, 2};
  for (size_t i = 0; i < n; i++) {
    assert_int_equal(pts[i].started_us, at[i]);
    assert_true(fabs(pts[i].value - rate[i]) < 1e-3);
    assert_int_equal(pts[i].n_figures, figs[i]);
  }
  /* Named figures in their own units: MB/s to bytes/s, ms to µs, s to µs, counts as they are. */
  assert_string_equal(pts[0].figures[0].figure->name, "rate_bps");
  assert_string_equal(pts[0].figures[1].figure->name, "stream_min_bps");
  assert_true(fabs(pts[0].figures[1].value - 27.9e6) < 1e-3);
  assert_string_equal(pts[0].figures[3].figure->name, "streams");
  assert_true(pts[0].figures[3].value == 8);
  assert_string_equal(pts[1].figures[3].figure->name, "ttfb_us");
  assert_true(fabs(pts[1].figures[3].value - 12500) < 1e-6);
  assert_string_equal(pts[3].figures[3].figure->name, "stall_us");
  assert_true(fabs(pts[3].figures[3].value - 4.5e6) < 1e-6);
  free(pts);

  /* A page test: its headline is the median, required on every line. */
  o.kind = BW_KIND_PAGE;
  assert_int_equal(
      parse_str("time=1793509500 p50_us=98ms rps=20.5 transfer_bps=1.2MB/s\n", &o, &pts, &n, &errs),
      0);
  assert_int_equal(n, 1);
  assert_true(pts[0].value == 98000);
  assert_int_equal(pts[0].n_figures, 3);
  assert_true(pts[0].figures[1].value == 20.5);
  assert_true(fabs(pts[0].figures[2].value - 1.2e6) < 1e-6);
  free(pts);
  /* The other formats carry no figures. */
  assert_int_equal(parse_str("1793509500 98\n", &o, &pts, &n, &errs), 0);
  assert_null(pts[0].figures);
  assert_int_equal(pts[0].n_figures, 0);
  free(pts);
  /* kv values carry their own units: a unit option is refused. */
  o.unit = BW_IMPORT_UNIT_MS;
  o.format = BW_IMPORT_KV;
  assert_int_equal(parse_str("time=1793509500 p50_us=98\n", &o, &pts, &n, &errs), -EINVAL);
  const char *const unit[] = {"t.txt: a unit applies to plain files only; kv values carry their "
                              "own"};
  expect_msgs(&errs, unit, 1);

  o = page_opts();
  o.kind = BW_KIND_DOWNLOAD;
  assert_int_equal(parse_fixture("bad/kv.txt", &o, &pts, &n, &errs), -EBADMSG);
  assert_null(pts);
  const char *const bad_kv[] = {
      "bad/kv.txt:2: expected rate_bps= on the line: the headline figure of a download test",
      "bad/kv.txt:3: rate_bps: expected a unit of rate (B/s, KB/s or MB/s) or none (bytes/s) "
      "after the number, got \"Mb/s\"",
      "bad/kv.txt:4: expected time= or a figure's name (such as rate_bps, p50_us, rps), got "
      "\"host\"",
      "bad/kv.txt:5: expected time=TIME on the line (Unix seconds or milliseconds, or ISO 8601)",
      "bad/kv.txt:6: a download rate must be above 0 (a failed download? leave it out)",
      "bad/kv.txt:7: rate_bps is on the line twice",
      "bad/kv.txt:8: streams: expected no unit after the number, got \"ms\"",
      "bad/kv.txt:9: a value in quotes has no closing quote, got \"\\\"2026-11-01 11:00:00 "
      "rate_bps=238.4MB/s\"",
      "bad/kv.txt:11: the same time (2026-11-01T12:00:00Z) as line 10",
  };
  expect_msgs(&errs, bad_kv, 9);
}

/* An ab -e file whose high rows hold what ab read past its table is still genuine. */
static void ab_e_garbage_rows(void **state) {
  struct bw_errs errs = {0};
  struct bw_import_point *pts;
  size_t n;
  struct bw_import_opts o = page_opts();
  struct bw_buf b = {0};
  (void)state;
  o.at_us = 5 * S;
  bw_buf_printf(&b, "Percentage served,Time in ms\n");
  for (int i = 0; i <= 100; i++)
    bw_buf_printf(&b, "%d,%s\n", i,
                  i == 50   ? "12.500"
                  : i == 97 ? "-nan"
                  : i == 98 ? "inf"
                  : i == 99 ? "-0.257"
                            : "1.000");
  assert_int_equal(parse(b.s, b.len, &o, &pts, &n, &errs), 0);
  assert_int_equal(n, 1);
  assert_int_equal(pts[0].started_us, 5 * S);
  assert_true(pts[0].value == 12500);
  free(pts);
  /* A row past 100% and a row that is not a number. */
  bw_buf_printf(&b, "101,1.000\n");
  char *twice = bw_xasprintf("%s", b.s);
  size_t at = strlen("Percentage served,Time in ms\n0,1.000\n1,");
  twice[at] = 'x';
  assert_int_equal(parse_str(twice, &o, &pts, &n, &errs), -EBADMSG);
  const char *const want[] = {
      "t.txt:3: expected a time in ms after the percentage, got \"x.000\"",
      "t.txt:103: expected the end of the file after the 100% row, got \"101,1.000\"",
  };
  expect_msgs(&errs, want, 2);
  free(twice);
  free(b.s);
}

/* ---- plain ---- */

static void plain_fixture(void **state) {
  struct bw_errs errs = {0};
  struct bw_import_point *pts;
  size_t n, len;
  struct bw_import_opts o = page_opts();
  (void)state;
  char *buf = read_fixture("plain.txt", &len);
  assert_int_equal(bw_import_detect(buf, len), BW_IMPORT_PLAIN);
  free(buf);
  assert_int_equal(parse_fixture("plain.txt", &o, &pts, &n, &errs), 0);
  assert_int_equal(errs.n, 0);
  assert_int_equal(n, 6);
  static const struct {
    int64_t started_us;
    double value;
    int64_t line;
  } want[] = {
      {NOV1 * S + 5 * 60 * S, 98000, 2},   {NOV1 * S + 65 * 60 * S, 97500, 3},
      {NOV1 * S + 125 * 60 * S, 99250, 4}, {NOV1 * S + 185 * 60 * S, 101000, 5}, /* 05:05+02:00 */
      {NOV1 * S + 305 * 60 * S, 96125, 7}, {NOV1 * S + 365 * 60 * S + 500000, 98000, 8},
  };
  for (size_t i = 0; i < n; i++) {
    assert_int_equal(pts[i].started_us, want[i].started_us);
    assert_true(pts[i].value == want[i].value);
    assert_int_equal(pts[i].line, want[i].line);
  }
  free(pts);
}

static void plain_forms(void **state) {
  struct bw_errs errs = {0};
  struct bw_import_point *pts;
  size_t n;
  struct bw_import_opts o = page_opts();
  (void)state;
  /* A BOM, a header, CRLF line ends, an indented comment, blanks around the comma. */
  const char *text = "\xef\xbb\xbftime,median_ms\r\n"
                     "  # indented comment\r\n"
                     "1793491200 , 2.5e1\r\n"
                     "\t1793491260\t7 \r\n";
  assert_int_equal(parse_str(text, &o, &pts, &n, &errs), 0);
  assert_int_equal(errs.n, 0);
  assert_int_equal(n, 2);
  assert_int_equal(pts[0].started_us, NOV1 * S);
  assert_true(pts[0].value == 25000);
  assert_int_equal(pts[0].line, 3);
  assert_int_equal(pts[1].started_us, NOV1 * S + 60 * S);
  assert_true(pts[1].value == 7000);
  assert_int_equal(pts[1].line, 4);
  free(pts);
}

static void plain_times(void **state) {
  struct bw_errs errs = {0};
  struct bw_import_point *pts;
  size_t n;
  struct bw_import_opts o = page_opts();
  (void)state;
  const char *text = "2026-11-01T02:00:00.123456789-01:30 , 2.5e1\n"
                     "2026-11-01t00:00z\t0\n"
                     "2026-11-01 01:00+0200,  7\n"
                     "2026-11-01T00:30-00 1\n"
                     "1793491200.5 2\n"
                     "1793491201 3\n";
  assert_int_equal(parse_str(text, &o, &pts, &n, &errs), 0);
  assert_int_equal(errs.n, 0);
  assert_int_equal(n, 6);
  int64_t want[][3] = {
      {NOV1 * S - 3600 * S, 7000, 3}, {NOV1 * S, 0, 2},
      {NOV1 * S + S / 2, 2000, 5},    {NOV1 * S + S, 3000, 6},
      {NOV1 * S + 1800 * S, 1000, 4}, {NOV1 * S + (3 * 3600 + 1800) * S + 123456, 25000, 1},
  };
  for (size_t i = 0; i < n; i++) {
    assert_int_equal(pts[i].started_us, want[i][0]);
    assert_true(pts[i].value == (double)want[i][1]);
    assert_int_equal(pts[i].line, want[i][2]);
  }
  free(pts);

  int64_t us = 0;
  const char *why = NULL;
  assert_int_equal(bw_import_parse_time("2026-11-21T10:05:00Z", 20, &us, &why), 0);
  assert_int_equal(us, INT64_C(1763719500) * S + 365 * 86400 * S);
  assert_int_equal(bw_import_parse_time("0", 1, &us, &why), 0);
  assert_int_equal(us, 0);
  assert_int_equal(bw_import_parse_time("2000-02-29 23:59:59", 19, &us, &why), 0);
  assert_int_equal(us, INT64_C(951868799) * S);
  static const struct {
    const char *text;
    const char *why;
  } bad[] = {
      {"", "expected Unix seconds or an ISO 8601 time such as 2026-11-21T10:05:00Z"},
      {"2026-11-21", "expected the time of day after the date (T or a space, then HH:MM or "
                     "HH:MM:SS)"},
      {"2026-11-21T10:05:00 ", "expected Unix seconds or an ISO 8601 time such as "
                               "2026-11-21T10:05:00Z"},
      {"2026-13-01T00:00", "the month is out of range (01 to 12)"},
      {"2026-02-29T00:00", "the day is out of range for its month"},
      {"2026-11-21T24:00", "the time of day is out of range (00:00:00 to 23:59:59)"},
      {"2026-11-21T23:59:60", "the time of day is out of range (00:00:00 to 23:59:59)"},
      {"2026-11-21T10:05:0", "expected two digits of seconds after HH:MM:"},
      {"2026-11-21T10:05:00.", "expected digits after the decimal point of the seconds"},
      {"2026-11-21T10:05+2", "expected an offset as +HH:MM, +HHMM or +HH"},
      {"2026-11-21T10:05+24:00", "the offset is out of range"},
      {"1970-01-01T00:00+01:00", "the time is before 1970"},
      {"9999-12-31T23:59:59-01:00", "the time is after the year 9999"},
      {"1763719500000", "the time is after the year 9999 (milliseconds? give Unix seconds)"},
      {"99999999999999999999", "the number is too large for a time"},
      {"17637.", "expected digits after the decimal point"},
      {"-1", "expected Unix seconds or an ISO 8601 time such as 2026-11-21T10:05:00Z"},
  };
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    why = NULL;
    us = 42;
    if (bw_import_parse_time(bad[i].text, strlen(bad[i].text), &us, &why) != -EINVAL)
      fail_msg("accepted \"%s\"", bad[i].text);
    assert_int_equal(us, 42);
    assert_string_equal(why, bad[i].why);
  }
}

static void plain_units(void **state) {
  struct bw_errs errs = {0};
  struct bw_import_point *pts;
  size_t n;
  struct bw_import_opts o = page_opts();
  (void)state;
  static const struct {
    enum bw_kind kind;
    enum bw_import_unit unit;
    double want;
  } cases[] = {
      {BW_KIND_PAGE, BW_IMPORT_UNIT_DEFAULT, 16500},
      {BW_KIND_PAGE, BW_IMPORT_UNIT_MS, 16500},
      {BW_KIND_PAGE, BW_IMPORT_UNIT_S, 16500000},
      {BW_KIND_PAGE, BW_IMPORT_UNIT_US, 16.5},
      {BW_KIND_DOWNLOAD, BW_IMPORT_UNIT_DEFAULT, 16.5e6},
      {BW_KIND_DOWNLOAD, BW_IMPORT_UNIT_MBPS, 16.5e6},
      {BW_KIND_DOWNLOAD, BW_IMPORT_UNIT_KBPS, 16500},
      {BW_KIND_DOWNLOAD, BW_IMPORT_UNIT_BPS, 16.5},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    o.kind = cases[i].kind;
    o.unit = cases[i].unit;
    assert_int_equal(parse_str("1793491200 16.5\n", &o, &pts, &n, &errs), 0);
    assert_int_equal(n, 1);
    assert_true(pts[0].value == cases[i].want);
    free(pts);
  }
  /* A unit of the other kind is refused before anything is read. */
  o.kind = BW_KIND_DOWNLOAD;
  o.unit = BW_IMPORT_UNIT_MS;
  assert_int_equal(parse_str("1793491200 16.5\n", &o, &pts, &n, &errs), -EINVAL);
  const char *const want[] = {"t.txt: ms is not a unit for a download test (B/s, KB/s or MB/s)"};
  expect_msgs(&errs, want, 1);
  /* A download rate of 0 is a failure, not a measurement; a latency of 0 ms can be real. */
  o.unit = BW_IMPORT_UNIT_DEFAULT;
  expect_plain_error("1793491200 0\n", &o,
                     "t.txt:1: a download rate must be above 0 (a failed download? leave it out)");
  o.kind = BW_KIND_PAGE;
  expect_plain_error("1793491200 1e300\n", &o, "t.txt:1: the value is too large, got \"1e300\"");
  expect_plain_error("1793491200 nan\n", &o,
                     "t.txt:1: expected a number (in ms) for the value, got \"nan\"");
  expect_plain_error("1793491200 1.5.2\n", &o,
                     "t.txt:1: expected a number (in ms) for the value, got \"1.5.2\"");
  expect_plain_error("1793491200 1e\n", &o,
                     "t.txt:1: expected a number (in ms) for the value, got \"1e\"");
  expect_plain_error("1793491200 ,\n", &o, "t.txt:1: expected a value after the time");
  expect_plain_error("1793491200Z 5\n", &o,
                     "t.txt:1: expected Unix seconds or an ISO 8601 time such as "
                     "2026-11-21T10:05:00Z, got \"1793491200Z\"");
  expect_plain_error("2026-11-01 25:00 5\n", &o,
                     "t.txt:1: bad time \"2026-11-01 25:00\": the time of day is out of range "
                     "(00:00:00 to 23:59:59)");
  expect_plain_error("1793491200 5\n1793491200 5\n", &o,
                     "t.txt:2: the same time (2026-11-01T00:00:00Z) as line 1");
  /* A header is only taken on the first line. */
  expect_plain_error("1793491200 5\ntime ms\n", &o,
                     "t.txt:2: expected Unix seconds or an ISO 8601 time such as "
                     "2026-11-21T10:05:00Z, got \"time\"");
  /* Nothing but comments: no points, no error. */
  assert_int_equal(parse_str("# nothing yet\n\n", &o, &pts, &n, &errs), 0);
  assert_int_equal(n, 0);
  free(pts);
}

static void plain_future(void **state) {
  struct bw_import_opts o = page_opts();
  (void)state;
  o.latest_us = NOV1 * S;
  expect_plain_error("2026-11-01T01:00 5\n", &o,
                     "t.txt:1: 2026-11-01T01:00:00Z is in the future (a time without an offset "
                     "is UTC: give local times with theirs, such as +01:00)");
  expect_plain_error("2026-11-01T01:00Z 5\n", &o, "t.txt:1: 2026-11-01T01:00:00Z is in the future");
  struct bw_errs errs = {0};
  struct bw_import_point *pts;
  size_t n;
  assert_int_equal(parse_str("2026-11-01T00:00Z 5\n", &o, &pts, &n, &errs), 0);
  assert_int_equal(n, 1);
  free(pts);
}

/* Every bad line is counted; only the first max_errors are listed. */
static void error_limit(void **state) {
  struct bw_errs errs = {0};
  struct bw_import_point *pts;
  size_t n;
  struct bw_import_opts o = page_opts();
  struct bw_buf b = {0};
  (void)state;
  for (int i = 0; i < 30; i++)
    bw_buf_printf(&b, "%d x\n", 1793491200 + i);
  assert_int_equal(parse(b.s, b.len, &o, &pts, &n, &errs), -EBADMSG);
  assert_int_equal(errs.n, BW_IMPORT_MAX_ERRORS + 1);
  assert_string_equal(errs.msg[0], "t.txt:1: expected a number (in ms) for the value, got \"x\"");
  assert_string_equal(errs.msg[19], "t.txt:20: expected a number (in ms) for the value, got \"x\"");
  assert_string_equal(errs.msg[20], "t.txt: 30 bad lines in all; the first 20 are shown");
  bw_errs_clear(&errs);
  o.max_errors = 2;
  assert_int_equal(parse(b.s, b.len, &o, &pts, &n, &errs), -EBADMSG);
  assert_int_equal(errs.n, 3);
  assert_string_equal(errs.msg[2], "t.txt: 30 bad lines in all; the first 2 are shown");
  bw_errs_clear(&errs);
  free(b.s);
}

static void names(void **state) {
  enum bw_import_format f;
  enum bw_import_unit u;
  (void)state;
  assert_int_equal(bw_import_format_parse("ab-tsv", &f), 0);
  assert_int_equal(f, BW_IMPORT_AB_TSV);
  assert_int_equal(bw_import_format_parse("ab-csv", &f), 0);
  assert_int_equal(f, BW_IMPORT_AB_CSV);
  assert_int_equal(bw_import_format_parse("plain", &f), 0);
  assert_int_equal(f, BW_IMPORT_PLAIN);
  assert_int_equal(bw_import_format_parse("csv", &f), -EINVAL);
  assert_string_equal(bw_import_format_name(BW_IMPORT_AB_CSV), "ab-csv");
  assert_null(bw_import_format_name((enum bw_import_format)9));
  assert_int_equal(bw_import_unit_parse("MB/s", &u), 0);
  assert_int_equal(u, BW_IMPORT_UNIT_MBPS);
  assert_int_equal(bw_import_unit_parse("kB/s", &u), 0);
  assert_int_equal(u, BW_IMPORT_UNIT_KBPS);
  assert_int_equal(bw_import_unit_parse("us", &u), 0);
  assert_int_equal(u, BW_IMPORT_UNIT_US);
  assert_int_equal(bw_import_unit_parse("Mb/s", &u), -EINVAL); /* megabits: refused */
  assert_int_equal(bw_import_unit_parse("mb/s", &u), -EINVAL);
  assert_string_equal(bw_import_unit_name(BW_IMPORT_UNIT_DEFAULT, BW_KIND_PAGE), "ms");
  assert_string_equal(bw_import_unit_name(BW_IMPORT_UNIT_DEFAULT, BW_KIND_DOWNLOAD), "MB/s");
  assert_true(bw_import_unit_fits(BW_IMPORT_UNIT_S, BW_KIND_PAGE));
  assert_false(bw_import_unit_fits(BW_IMPORT_UNIT_S, BW_KIND_DOWNLOAD));
  assert_true(bw_import_unit_fits(BW_IMPORT_UNIT_DEFAULT, BW_KIND_DOWNLOAD));
  assert_int_equal(bw_import_detect("", 0), BW_IMPORT_PLAIN);
  assert_int_equal(bw_import_detect("starttime\tseconds", 17), BW_IMPORT_PLAIN);
}

/*
 * Every prefix of every fixture, from a buffer of exactly that size, and every fixture with bytes
 * replaced: never a crash, a read past the end or a leak; a failure always names the file.
 */
static void any_bytes(void **state) {
  static const char subst[] = {'\0', '\t', '\n', '\r', ',', '-',   '.',
                               ':',  '#',  ' ',  'Z',  '9', '\xff'};
  (void)state;
  for (size_t f = 0; f < sizeof(fixtures) / sizeof(fixtures[0]); f++) {
    size_t len;
    char *buf = read_fixture(fixtures[f], &len);
    for (int fmt = BW_IMPORT_AUTO; fmt <= BW_IMPORT_KV; fmt++) {
      struct bw_import_opts o = page_opts();
      o.format = (enum bw_import_format)fmt;
      o.at_us = S;
      for (size_t cut = 0; cut <= len; cut++) {
        struct bw_errs errs = {0};
        struct bw_import_point *pts = NULL;
        size_t n = 0;
        char *copy = bw_xmalloc(cut ? cut : 1);
        memcpy(copy, buf, cut);
        int r = bw_import_parse("x", copy, cut, &o, &pts, &n, &errs);
        if (r == 0)
          free(pts);
        else
          assert_memory_equal(errs.msg[0], "x:", 2);
        bw_errs_clear(&errs);
        free(copy);
      }
      char *copy = bw_xmalloc(len);
      for (size_t i = 0; i < len; i += 3) {
        for (size_t k = 0; k < sizeof(subst); k++) {
          struct bw_errs errs = {0};
          struct bw_import_point *pts = NULL;
          size_t n = 0;
          memcpy(copy, buf, len);
          copy[i] = subst[k];
          int r = bw_import_parse("x", copy, len, &o, &pts, &n, &errs);
          if (r == 0)
            free(pts);
          else
            assert_memory_equal(errs.msg[0], "x:", 2);
          bw_errs_clear(&errs);
        }
      }
      free(copy);
    }
    free(buf);
  }
}

/* ---- the store's side: runs added once, all or nothing ---- */

static void imported_run(struct bw_run *run, const char *test, const char *url, int64_t started_us,
                         int64_t p50_us) {
  bw_run_init(run);
  run->test = bw_xstrdup(test);
  run->backend = bw_xstrdup("");
  run->kind = BW_KIND_PAGE;
  run->url = url ? bw_xstrdup(url) : NULL;
  run->started_us = started_us;
  run->outcome = BW_OUTCOME_OK;
  run->p50_us = p50_us;
}

static void store_once(void **state) {
  struct bw_errs errs = {0};
  struct bw_store *store = NULL;
  struct bw_run runs[4];
  size_t added = 99;
  int64_t target;
  bool there = true;
  char dir[] = "/tmp/bw-import-XXXXXX";
  (void)state;
  assert_non_null(mkdtemp(dir));
  char *db = bw_xasprintf("%s/bw.db", dir);
  assert_int_equal(bw_store_open(db, &store, &errs), 0);

  for (int i = 0; i < 3; i++)
    imported_run(&runs[i], "home", "http://h/", (NOV1 + i * 3600) * S, 98000 + i);
  assert_int_equal(bw_store_put_new_runs(store, runs, 3, &added, &errs), 0);
  assert_int_equal(added, 3);
  assert_int_equal(bw_store_find_target(store, "home", "", &target, &errs), 0);
  assert_int_equal(bw_store_run_exists(store, target, (NOV1 + 3600) * S, &there, &errs), 0);
  assert_true(there);
  assert_int_equal(bw_store_run_exists(store, target, (NOV1 + 3600) * S + 1, &there, &errs), 0);
  assert_false(there);
  /* Again with one new run: only that one is added. */
  imported_run(&runs[3], "home", "http://h/", (NOV1 + 3 * 3600) * S, 97000);
  assert_int_equal(bw_store_put_new_runs(store, runs, 4, &added, &errs), 0);
  assert_int_equal(added, 1);
  struct bw_point *pts;
  size_t n;
  assert_int_equal(bw_store_series(store, target, "p50_us", 0, INT64_MAX, &pts, &n, &errs), 0);
  assert_int_equal(n, 4);
  assert_true(pts[3].value == 97000);
  free(pts);
  for (int i = 0; i < 4; i++)
    bw_run_reset(&runs[i]);

  /* A run that cannot be stored (its target has no URL) takes the whole batch with it. */
  imported_run(&runs[0], "home", "http://h/", (NOV1 + 10 * 3600) * S, 1000);
  imported_run(&runs[1], "other", NULL, (NOV1 + 11 * 3600) * S, 1000);
  assert_int_equal(bw_store_put_new_runs(store, runs, 2, &added, &errs), -EINVAL);
  assert_string_equal(errs.msg[0], "test other: no URL");
  bw_errs_clear(&errs);
  assert_int_equal(bw_store_run_exists(store, target, (NOV1 + 10 * 3600) * S, &there, &errs), 0);
  assert_false(there);
  for (int i = 0; i < 2; i++)
    bw_run_reset(&runs[i]);

  bw_store_close(store);
  char *wal = bw_xasprintf("%s-wal", db), *shm = bw_xasprintf("%s-shm", db);
  (void)unlink(wal);
  (void)unlink(shm);
  (void)unlink(db);
  (void)rmdir(dir);
  free(wal);
  free(shm);
  free(db);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(ab_g_one_run),      cmocka_unit_test(ab_g_two_runs),
      cmocka_unit_test(ab_e_file),         cmocka_unit_test(ab_files_need_a_page_test),
      cmocka_unit_test(ab_g_grouping),     cmocka_unit_test(bad_files),
      cmocka_unit_test(ab_e_garbage_rows), cmocka_unit_test(plain_fixture),
      cmocka_unit_test(plain_forms),       cmocka_unit_test(plain_times),
      cmocka_unit_test(plain_units),       cmocka_unit_test(plain_future),
      cmocka_unit_test(error_limit),       cmocka_unit_test(names),
      cmocka_unit_test(any_bytes),         cmocka_unit_test(store_once),
      cmocka_unit_test(kv_fixture),
  };
  return cmocka_run_group_tests_name("import", tests, NULL, NULL);
}
