/* URL redaction: passwords never leave the program; everything else is left as it was. */
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
      cmocka_unit_test(passwords_masked),
      cmocka_unit_test(others_unchanged),
      cmocka_unit_test(unparsable),
      cmocka_unit_test(redact_in_text),
  };
  return cmocka_run_group_tests_name("url", tests, NULL, NULL);
}
