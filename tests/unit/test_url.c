/* URL redaction: passwords never leave the program; everything else is left as it was. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "bw_url.h"
#include "bw_util.h"

static void check(const char *url, const char *want) {
  char *got = bw_url_redact(url);
  if (strcmp(got, want) != 0)
    fail_msg("bw_url_redact(\"%s\"): got \"%s\", want \"%s\"", url, got, want);
  free(got);
}

static void passwords_masked(void **state) {
  (void)state;
  check("http://user:pass@host/path", "http://user:***@host/path");
  check("https://u:s3cret@archive.example.org:8443/a/b?q=1#f",
        "https://u:***@archive.example.org:8443/a/b?q=1#f");
  check("http://user:p%40ss%3Aword@127.0.0.1:8080/", "http://user:***@127.0.0.1:8080/");
  check("http://user:@host/", "http://user:***@host/"); /* an empty password is still hidden */
  check("http://:pass@host/x", "http://:***@host/x");
  check("http://user:pass@[::1]:8080/x", "http://user:***@[::1]:8080/x");
  check("smtp://reporter:hunter2@mail.example.org:587",
        "smtp://reporter:***@mail.example.org:587/");
}

static void others_unchanged(void **state) {
  (void)state;
  /* Byte for byte: no normalisation of URLs that hide nothing. */
  check("http://host", "http://host");
  check("http://127.0.0.1:8080/a%20b/../c?x=@y", "http://127.0.0.1:8080/a%20b/../c?x=@y");
  check("http://host/path@with:colon", "http://host/path@with:colon");
  check("http://host?user:pass@x", "http://host?user:pass@x");
  check("http://token@host/", "http://token@host/");
  check("not a url", "not a url");
  check("", "");
}

/* What libcurl refuses is masked by hand rather than passed through. */
static void unparsable(void **state) {
  (void)state;
  check("http://user:pass@host:99999999/", "http://user:***@host:99999999/");
  check("http://us er:pa ss@ho st/", "http://us er:***@ho st/");
}

static void parts(const char *url, const char *host, int port, const char *path) {
  char *h = NULL, *p = NULL;
  int n = -1;
  if (bw_url_parts(url, &h, &n, &p) < 0)
    fail_msg("bw_url_parts(\"%s\") failed", url);
  if (strcmp(h, host) != 0 || n != port || strcmp(p, path) != 0)
    fail_msg("bw_url_parts(\"%s\"): got %s %d %s, want %s %d %s", url, h, n, p, host, port, path);
  free(h);
  free(p);
}

/* ab's Server Hostname, Server Port and Document Path, from libcurl's parser. */
static void url_parts(void **state) {
  (void)state;
  parts("http://user:pw@archive.example.org:8088/data/x.tar?v=1", "archive.example.org", 8088,
        "/data/x.tar?v=1");
  parts("https://[::1]/x", "[::1]", 443, "/x");
  parts("http://host", "host", 80, "/");
  parts("http://h@host/p@q", "host", 80, "/p@q");
  char *h = NULL, *p = NULL;
  int n = 7;
  assert_int_equal(bw_url_parts("not a url", &h, &n, &p), -EINVAL);
  assert_null(h);
  assert_int_equal(n, 7);
}

static void redact_in_text(void **state) {
  (void)state;
  const char *url = "http://u:hunter2@h:1/p";
  char *s = bw_url_redact_in("http://u:hunter2@h:1/p: cannot start; http://u:hunter2@h:1/p", url);
  assert_string_equal(s, "http://u:***@h:1/p: cannot start; http://u:***@h:1/p");
  free(s);
  s = bw_url_redact_in("nothing to see", url);
  assert_string_equal(s, "nothing to see");
  free(s);
  s = bw_url_redact_in("x", "");
  assert_string_equal(s, "x");
  free(s);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(passwords_masked), cmocka_unit_test(others_unchanged),
      cmocka_unit_test(unparsable),       cmocka_unit_test(redact_in_text),
      cmocka_unit_test(url_parts),
  };
  return cmocka_run_group_tests_name("url", tests, NULL, NULL);
}
