/* Run records in JSON: written with the stored names and units, read back to the same run. */
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "bw_json.h"

/* A page run with two requests (one failed) and odd texts: quotes, a newline, UTF-8. */
static void page_run(struct bw_run *run) {
  struct bw_sample s;
  bw_run_init(run);
  run->test = bw_xstrdup("portal \"home\"");
  run->backend = bw_xstrdup("node-1:8088");
  run->kind = BW_KIND_PAGE;
  run->url = bw_xstrdup("https://u:***@archive.example.org/\u00e9");
  run->started_us = INT64_C(1763719500123456);
  run->outcome = BW_OUTCOME_OK;
  run->error_message = bw_xstrdup("line one\nline two");
  run->requests = 2;
  run->p50_us = 157;
  run->rps = 12.345678901234567;
  bw_sample_init(&s);
  s.at_us = 0;
  s.duration_us = 157;
  s.bytes = 512;
  s.status = 200;
  s.dns_us = 3;
  (void)bw_run_add_sample(run, &s);
  s.at_us = 200;
  s.status = 0;
  char connect[] = "connect";
  s.error_class = connect;
  (void)bw_run_add_sample(run, &s);
}

static void written_with_stored_names(void **state) {
  (void)state;
  struct bw_run run;
  page_run(&run);
  char *text = bw_json_take_text(bw_json_run(&run, 42, true), false);
  assert_non_null(strstr(text, "\"run_id\":42,\"test\":\"portal \\\"home\\\"\","));
  assert_non_null(
      strstr(text, "\"time\":\"2025-11-21T10:05:00Z\",\"started_us\":1763719500123456"));
  assert_non_null(strstr(text, "\"p50_us\":157,"));
  assert_non_null(strstr(text, "\"p90_us\":null,"));
  assert_non_null(strstr(text, "\"rate_bps\":null,"));
  assert_non_null(strstr(text, "\"error_message\":\"line one\\nline two\""));
  assert_non_null(strstr(text, "\"error_class\":\"connect\"}]"));
  assert_ptr_equal(strchr(text, '\n'), text + strlen(text) - 1); /* one line */
  free(text);
  bw_run_reset(&run);
}

static void read_back_the_same(void **state) {
  (void)state;
  struct bw_run run, *back = NULL;
  struct bw_errs errs = {0};
  size_t n = 0;
  page_run(&run);
  char *one = bw_json_take_text(bw_json_run(&run, BW_NONE, true), false);
  /* Twice, with a blank line between: NDJSON. */
  char *two = bw_xasprintf("%s\n  \n%s", one, one);
  assert_int_equal(bw_json_read_runs("x.ndjson", two, strlen(two), &back, &n, &errs), 0);
  assert_int_equal(n, 2);
  assert_int_equal(errs.n, 0);
  assert_string_equal(back[1].test, run.test);
  assert_int_equal(back[1].started_us, run.started_us);
  assert_true(back[1].rps == run.rps); /* exact: 17 digits */
  assert_int_equal(back[1].p90_us, BW_NONE);
  assert_int_equal(back[1].n_samples, 2);
  assert_string_equal(back[1].samples[1].error_class, "connect");
  assert_null(back[1].samples[0].error_class);
  char *again = bw_json_take_text(bw_json_run(&back[1], BW_NONE, true), false);
  assert_string_equal(again, one);
  free(again);
  for (size_t i = 0; i < n; i++)
    bw_run_reset(&back[i]);
  free(back);
  /* An array (export --json) reads the same. */
  char *arr = bw_xasprintf("[%s]", one);
  assert_int_equal(bw_json_read_runs("x.json", arr, strlen(arr), &back, &n, &errs), 0);
  assert_int_equal(n, 1);
  bw_run_reset(&back[0]);
  free(back);
  free(arr);
  free(two);
  free(one);
  bw_run_reset(&run);
}

static void bad_records_named(void **state) {
  (void)state;
  const char *text = "{\"test\":\"a\",\"kind\":\"page\",\"url\":\"http://h/\",\"outcome\":\"ok\","
                     "\"started_us\":1}\n"
                     "{\"test\":\"a\",\"kind\":\"pag\",\"url\":\"http://h/\",\"outcome\":\"ok\","
                     "\"started_us\":1}\n"
                     "{\"test\":\"a\",\"kind\":\"page\",\"url\":\"http://h/\",\"outcome\":\"ok\","
                     "\"started_us\":2,\"p50_us\":1.5}\n"
                     "{\"test\":\n"
                     "[1]\n";
  struct bw_run sentinel, *back = &sentinel;
  struct bw_errs errs = {0};
  size_t n = 7;
  assert_int_equal(bw_json_read_runs("f", text, strlen(text), &back, &n, &errs), -EBADMSG);
  assert_ptr_equal(back, &sentinel);
  assert_int_equal(n, 7);
  assert_int_equal(errs.n, 4);
  assert_string_equal(errs.msg[0], "f:2: kind: expected page, download or connect, got pag");
  assert_string_equal(errs.msg[1], "f:3: p50_us: expected an integer or null");
  assert_non_null(strstr(errs.msg[2], "f:4: "));
  assert_string_equal(errs.msg[3], "f:5: expected a run record (a JSON object)");
  bw_errs_clear(&errs);
  assert_int_equal(bw_json_read_runs("e", "\n\n", 2, &back, &n, &errs), -EBADMSG);
  assert_string_equal(errs.msg[0], "e:1: no run records (expected what benchwatch export writes)");
  bw_errs_clear(&errs);
}

int main(void) {
  const struct CMUnitTest tests[] = {
      cmocka_unit_test(written_with_stored_names),
      cmocka_unit_test(read_back_the_same),
      cmocka_unit_test(bad_records_named),
  };
  return cmocka_run_group_tests(tests, NULL, NULL);
}
