#ifndef BW_JSON_H
#define BW_JSON_H

/*
 * Every JSON the programs write or read goes through jansson and through here. One convention
 * (README "JSON"): figures keep the names and units they have in the database (bw_run_figures),
 * integers throughout: times in microseconds (names ending _us), sizes in bytes, rates in bytes
 * per second (_bps); absolute times also as ISO 8601 UTC ("time"). Every record names its test
 * and backend ("" for none). An unmeasured figure is null.
 */

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "bw_result.h"
#include "bw_util.h"

/* ISO 8601 UTC to the second, "2026-11-21T10:05:00Z", as a new JSON string. */
json_t *bw_json_time(int64_t us);
/* A figure or count, null for BW_NONE. */
json_t *bw_json_int(int64_t v);
/* A double, null for NAN. */
json_t *bw_json_real(double v);
/* A string, null for NULL. */
json_t *bw_json_str(const char *s);

/*
 * The run record: run_id (when not BW_NONE), test, backend, kind, url, time, started_us,
 * outcome, the texts, every figure of bw_run_figures by name and, when samples is set, the
 * samples. A new reference.
 */
json_t *bw_json_run(const struct bw_run *run, int64_t run_id, bool samples);

/*
 * Reads a run record (as bw_json_run() writes it) into *ret, which the call bw_run_init()s;
 * run_id and time are ignored (started_us is exact). Returns 0, or -EINVAL with a message naming
 * the field in errs (ret is then reset).
 */
int bw_json_to_run(json_t *o, struct bw_run *ret, struct bw_errs *errs);

/*
 * Reads run records from buf[0..len): NDJSON (one record per line, blank lines skipped) or one JSON
 * array of records, as benchwatch export writes them. All or nothing: on success *ret (malloc'ed,
 * each run to bw_run_reset(), may be NULL when *ret_n is 0) and *ret_n; else -EBADMSG with every
 * bad record as "NAME:LINE: message" in errs (at most BW_JSON_MAX_ERRORS, then a count of the
 * rest), and *ret untouched. An input without a record is -EBADMSG too.
 */
#define BW_JSON_MAX_ERRORS 20
int bw_json_read_runs(const char *name, const char *buf, size_t len, struct bw_run **ret,
                      size_t *ret_n, struct bw_errs *errs);

/* The text of j: compact (one line) or indented, with a final newline. Steals j. */
char *bw_json_take_text(json_t *j, bool pretty);

#endif
