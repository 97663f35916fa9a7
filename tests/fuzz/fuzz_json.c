/*
 * libFuzzer harness for reading run records (bw_json_read_runs(), what benchwatch import reads
 * from an export). The buffer libFuzzer passes ends exactly at the input's end, so a read past
 * len is an ASan report.
 *
 * Properties checked, from the header's contracts: all or nothing (a failure leaves *ret alone and
 * says why in at least one and at most BW_JSON_MAX_ERRORS + 1 messages); every run read has a
 * test, a URL, a start and a known kind and outcome; and a run read back from what bw_json_run()
 * writes of it is written the same again (the export round trip).
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bw_json.h"
#include "fuzz_check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  struct bw_run sentinel, *runs = &sentinel;
  struct bw_errs errs = {0};
  size_t n = 12345;
  int r = bw_json_read_runs("fuzz.ndjson", (const char *)data, size, &runs, &n, &errs);
  if (r < 0) {
    FUZZ_CHECK(r == -EBADMSG);
    FUZZ_CHECK(runs == &sentinel && n == 12345);
    FUZZ_CHECK(errs.n > 0 && errs.n <= BW_JSON_MAX_ERRORS + 1);
    bw_errs_clear(&errs);
    return 0;
  }
  FUZZ_CHECK(errs.n == 0 && n > 0);
  for (size_t i = 0; i < n; i++) {
    FUZZ_CHECK(runs[i].test && runs[i].test[0] && runs[i].url && runs[i].backend);
    FUZZ_CHECK(runs[i].started_us != BW_NONE);
    FUZZ_CHECK(bw_kind_name(runs[i].kind) && bw_outcome_name(runs[i].outcome));
    char *once = bw_json_take_text(bw_json_run(&runs[i], BW_NONE, true), false);
    struct bw_run *back = NULL;
    size_t m = 0;
    FUZZ_CHECK(bw_json_read_runs("again", once, strlen(once), &back, &m, &errs) == 0 && m == 1);
    char *twice = bw_json_take_text(bw_json_run(&back[0], BW_NONE, true), false);
    FUZZ_CHECK(strcmp(once, twice) == 0);
    free(twice);
    free(once);
    bw_run_reset(&back[0]);
    free(back);
    bw_run_reset(&runs[i]);
  }
  free(runs);
  return 0;
}
