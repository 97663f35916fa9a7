/*
 * libFuzzer harness for the import parsers (bw_import.h): every input is read as each format under
 * a handful of options (auto-detected, forced plain, ab -g, ab -e; page and download units; with
 * and without a latest time and an error limit), and its first line as one plain-file time. The
 * buffer libFuzzer passes ends exactly at the input's end, so a read past len is an ASan report.
 *
 * Properties checked, from the header's contracts: all or nothing (a failure leaves *ret alone and
 * says why in at least one message, -EBADMSG with at most max_errors + 1 of them: the bad lines,
 * then a count of the rest); points oldest first, never later than latest_us, each from a line
 * of the file, with a finite value that is never negative (and for a rate, never zero); a kv
 * point's figures are named figures of a run, each once, finite and never negative.
 */
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "bw_import.h"
#include "fuzz_check.h"

/* 2026-11-21T10:05:00Z: a start for ab -e files, and a "now" after which points are errors. */
#define AT_US INT64_C(1763719500000000)

static const struct bw_import_opts cases[] = {
    {.format = BW_IMPORT_AUTO, .kind = BW_KIND_PAGE, .at_us = AT_US, .latest_us = BW_NONE},
    {.format = BW_IMPORT_AUTO, .kind = BW_KIND_PAGE, .at_us = BW_NONE, .latest_us = AT_US},
    {.format = BW_IMPORT_PLAIN,
     .kind = BW_KIND_PAGE,
     .unit = BW_IMPORT_UNIT_US,
     .at_us = BW_NONE,
     .latest_us = BW_NONE,
     .max_errors = 1},
    {.format = BW_IMPORT_PLAIN,
     .kind = BW_KIND_DOWNLOAD,
     .unit = BW_IMPORT_UNIT_KBPS,
     .at_us = BW_NONE,
     .latest_us = AT_US},
    {.format = BW_IMPORT_AB_TSV, .kind = BW_KIND_PAGE, .at_us = BW_NONE, .latest_us = BW_NONE},
    {.format = BW_IMPORT_AB_CSV, .kind = BW_KIND_PAGE, .at_us = AT_US, .latest_us = AT_US},
    {.format = BW_IMPORT_KV, .kind = BW_KIND_PAGE, .at_us = BW_NONE, .latest_us = BW_NONE},
    {.format = BW_IMPORT_KV, .kind = BW_KIND_DOWNLOAD, .at_us = BW_NONE, .latest_us = AT_US},
};

static void parse_one(const char *buf, size_t len, const struct bw_import_opts *o) {
  struct bw_import_point sentinel;
  struct bw_import_point *pts = &sentinel;
  size_t n = 12345;
  struct bw_errs errs = {0};
  int r = bw_import_parse("fuzz.txt", buf, len, o, &pts, &n, &errs);
  if (r < 0) {
    FUZZ_CHECK(r == -EBADMSG || r == -EINVAL);
    FUZZ_CHECK(pts == &sentinel && n == 12345);
    FUZZ_CHECK(errs.n > 0);
    if (r == -EBADMSG)
      FUZZ_CHECK(errs.n <= (o->max_errors ? o->max_errors : BW_IMPORT_MAX_ERRORS) + 1);
    bw_errs_clear(&errs);
    return;
  }
  FUZZ_CHECK(r == 0);
  FUZZ_CHECK(errs.n == 0);
  for (size_t i = 0; i < n; i++) {
    FUZZ_CHECK(i == 0 || pts[i - 1].started_us <= pts[i].started_us);
    FUZZ_CHECK(o->latest_us == BW_NONE || pts[i].started_us <= o->latest_us);
    FUZZ_CHECK(pts[i].line >= 1);
    FUZZ_CHECK(isfinite(pts[i].value) && pts[i].value >= 0);
    FUZZ_CHECK(o->kind == BW_KIND_PAGE || pts[i].value > 0);
    /* kv: named figures of the run, each once, finite and not negative; others have none. */
    FUZZ_CHECK(pts[i].n_figures <= BW_IMPORT_MAX_FIGURES);
    FUZZ_CHECK((pts[i].figures != NULL) == (pts[i].n_figures > 0));
    for (size_t k = 0; k < pts[i].n_figures; k++) {
      FUZZ_CHECK(pts[i].figures[k].figure && bw_figure_find(pts[i].figures[k].figure->name));
      FUZZ_CHECK(isfinite(pts[i].figures[k].value) && pts[i].figures[k].value >= 0);
      for (size_t j = 0; j < k; j++)
        FUZZ_CHECK(pts[i].figures[j].figure != pts[i].figures[k].figure);
    }
  }
  free(pts);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *buf = (const char *)data;
  enum bw_import_format f = bw_import_detect(buf, size);
  FUZZ_CHECK(bw_import_format_name(f) != NULL && f != BW_IMPORT_AUTO);
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
    parse_one(buf, size, &cases[i]);

  /* The first line alone in a buffer of its own size, so reading past its end is caught too. */
  const char *nl = memchr(buf, '\n', size);
  size_t first = nl ? (size_t)(nl - buf) : size;
  char *line = malloc(first ? first : 1);
  memcpy(line, buf, first);
  int64_t us = 42;
  const char *why = NULL;
  if (bw_import_parse_time(line, first, &us, &why) < 0)
    FUZZ_CHECK(us == 42 && why != NULL);
  free(line);
  return 0;
}
