/* The daemon's log: syslog priority prefixes, and repeats held back. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "bw_file.h"
#include "bw_log.h"

static void prefixes_and_repeats(void **state) {
  char path[] = "/tmp/bw-log-XXXXXX";
  int fd = mkstemp(path);
  struct bw_errs errs = {0};
  char *buf;
  size_t len;
  (void)state;
  assert_true(fd >= 0);
  (void)close(fd);
  assert_non_null(freopen(path, "w", stderr));
  for (int i = 0; i < 50; i++)
    bw_log(BW_LOG_ERR, "%s: cannot connect", "portal-home");
  bw_log(BW_LOG_INFO, "portal-home: ok, median %.2f ms", 98.0);
  bw_log(BW_LOG_WARNING, "big-tarball [node-3:8088]: failed (reset)");
  bw_log(BW_LOG_ERR, "%s: cannot connect", "portal-home"); /* still within the minute */
  (void)fflush(stderr);
  assert_int_equal(bw_file_read(path, 1 << 20, &buf, &len, &errs), 0);
  assert_string_equal(buf, "<3>portal-home: cannot connect\n"
                           "<6>portal-home: ok, median 98.00 ms\n"
                           "<4>big-tarball [node-3:8088]: failed (reset)\n");
  free(buf);
  bw_log_finish();
  (void)unlink(path);
}

/* An answer to a reload is printed every time, even within the minute; bw_log() still holds. */
static void each_is_never_held(void **state) {
  char path[] = "/tmp/bw-log-XXXXXX";
  int fd = mkstemp(path);
  struct bw_errs errs = {0};
  char *buf;
  size_t len;
  (void)state;
  assert_true(fd >= 0);
  (void)close(fd);
  assert_non_null(freopen(path, "w", stderr));
  for (int i = 0; i < 3; i++)
    bw_log_each(BW_LOG_ERR, "bw.yaml:3:9: tests[0].kind: expected page or download");
  bw_log(BW_LOG_ERR, "bw.yaml:3:9: tests[0].kind: expected page or download");
  bw_log(BW_LOG_ERR, "portal-home: cannot connect");
  bw_log(BW_LOG_ERR, "portal-home: cannot connect");
  bw_log_each(BW_LOG_ERR, "portal-home: cannot connect");
  (void)fflush(stderr);
  assert_int_equal(bw_file_read(path, 1 << 20, &buf, &len, &errs), 0);
  assert_string_equal(buf, "<3>bw.yaml:3:9: tests[0].kind: expected page or download\n"
                           "<3>bw.yaml:3:9: tests[0].kind: expected page or download\n"
                           "<3>bw.yaml:3:9: tests[0].kind: expected page or download\n"
                           "<3>portal-home: cannot connect\n"
                           "<3>portal-home: cannot connect (and 1 more like it in the last "
                           "minute)\n");
  free(buf);
  bw_log_finish();
  (void)unlink(path);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(prefixes_and_repeats),
      cmocka_unit_test(each_is_never_held),
  };
  return cmocka_run_group_tests_name("log", tests, NULL, NULL);
}
