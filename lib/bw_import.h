#ifndef BW_IMPORT_H
#define BW_IMPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bw_result.h"
#include "bw_util.h"

/*
 * Reading the numbers people kept before benchwatch, so that a test's baseline exists on its first
 * day: ApacheBench's -g and -e files, and plain "time value" text. Pure: it parses a buffer of
 * len bytes (need not be NUL-terminated, never read past len), does no I/O and reads no clock.
 * Any bytes are safe to give it.
 *
 * The formats (one file is one format; BW_IMPORT_AUTO picks it from the file's first line):
 *
 * ab-tsv, what `ab -g FILE` writes: the header "starttime\tseconds\tctime\tdtime\tttime\twait",
 * then one row per completed request: ab's local-time text (not read), the request's start in
 * Unix seconds, and connect, processing, total and waiting time in whole ms. ab writes the rows
 * sorted by time taken, not by start. The rows are sorted by `seconds` and cut into runs wherever
 * two neighbours are BW_IMPORT_AB_GAP_S or more apart, so a file holds one ab run or several (files
 * joined with cat, the header repeated or not). A run starts at its earliest `seconds`; its value
 * is the median `ttime` (the mean of the two middle ones for an even count), as benchwatch's own
 * page runs compute their median.
 *
 * ab-csv, what `ab -e FILE` writes: the header "Percentage served,Time in ms", then 101 rows
 * "P,MS" for P = 0 to 100 in order. One file is one run, whose value is the 50% row (ab's own
 * median). The file has no time in it, so the run's start must be given (opts->at_us). Only the
 * 50% row must hold a real time: ab reads past the end of its table for high percentiles when it
 * made few requests, so genuine files may hold any number, nan or inf in rows such as 99%.
 *
 * plain: one point per line, TIME then VALUE, separated by blanks (spaces, tabs) or a comma;
 * blank lines and lines starting with '#' are skipped, as is anything after a '#' following the
 * value and a first line that starts with a letter (a header such as "time,ms").
 *   TIME is Unix seconds, whole or decimal ("1763719500", "1763719500.25"), or ISO 8601 with the
 *   time of day: "2026-11-21T10:05:00Z", "2026-11-21 10:05:00", "2026-11-21T10:05" and a fraction
 *   of a second allowed, with an optional offset "Z", "+02:00", "+0200" or "-05". A time without
 *   an offset is UTC, not local time. Fractions finer than a microsecond are dropped.
 *   VALUE is a number (no sign; an exponent is allowed) in the unit given (opts->unit), by default
 *   ms for a page test and MB/s (10^6 bytes/s) for a download. A latency may be 0, a rate may not
 *   (a failed download is not a measurement).
 *   Two lines with the same time are an error: one moment cannot have two measurements.
 *
 * kv, MonALISA-style key=value lines: one run per line, its start and named figures, such as
 *   time=2026-11-21T10:05:00Z rate_bps=238.4MB/s stream_min_bps=27.9MB/s streams=8
 * Fields are KEY=VALUE separated by blanks; a VALUE with blanks is written in double quotes
 * ("2026-11-21 10:05:00"); anything after a '#' that starts a field is a comment.
 *   The start is the key `time` (or `timestamp`): a time as plain files write it, or Unix
 *   milliseconds (a whole number of 13 digits or more, as Java's clocks give).
 *   Every other KEY is the name of a figure of a run (bw_run_figures: rate_bps, p50_us, rps,
 *   transfer_bps, streams, ...), its VALUE a number of 0 or more in the figure's own unit (µs,
 *   bytes/s, bytes, a count), or a number followed at once by a unit of the same quantity: us, ms,
 *   s for a time (_us figures), B/s, KB/s, MB/s for a rate (_bps figures). A key named twice, an
 *   unknown key or a line without its time is an error, so a typing mistake is never dropped.
 *   Each line must hold the test's headline figure (p50_us for a page test, rate_bps above 0 for
 *   a download), which becomes the point's value; all its figures are in the point's figures.
 *   Two lines with the same time are an error, as in plain files.
 *
 * In every format a UTF-8 byte order mark and CRLF line ends are accepted, and blank lines and
 * lines starting with '#' are skipped.
 */

/* Rows of an ab -g file this many seconds or more apart belong to different ab runs. */
#define BW_IMPORT_AB_GAP_S 60

/* Bad lines reported one by one before the rest are only counted. */
#define BW_IMPORT_MAX_ERRORS 20

enum bw_import_format {
  BW_IMPORT_AUTO = 0,
  BW_IMPORT_PLAIN,
  BW_IMPORT_AB_TSV,
  BW_IMPORT_AB_CSV,
  BW_IMPORT_KV,
};

/* A kv line's figures, its headline's included: at most this many. */
#define BW_IMPORT_MAX_FIGURES 32

/* The unit of a plain file's values. */
enum bw_import_unit {
  BW_IMPORT_UNIT_DEFAULT = 0, /* ms for a page test, MB/s for a download */
  BW_IMPORT_UNIT_US,
  BW_IMPORT_UNIT_MS,
  BW_IMPORT_UNIT_S,
  BW_IMPORT_UNIT_BPS,  /* B/s */
  BW_IMPORT_UNIT_KBPS, /* KB/s: 10^3 bytes/s */
  BW_IMPORT_UNIT_MBPS, /* MB/s: 10^6 bytes/s */
};

/* A named figure of an imported run. */
struct bw_import_figure {
  const struct bw_figure *figure; /* a row of bw_run_figures */
  double value;                   /* in the figure's own unit (µs, bytes/s, bytes, a count) */
};

/* One run to be: when it started and its headline figure. */
struct bw_import_point {
  int64_t started_us; /* µs since the Unix epoch, UTC */
  double value;       /* page: the median request time in µs; download: the rate in bytes/s */
  int64_t line;       /* where it came from, 1-based (ab -g: the run's earliest row) */
  /* kv: the line's figures (the headline's included), in the same allocation as the points:
   * free() of the points frees them. NULL and 0 for the other formats. */
  const struct bw_import_figure *figures;
  size_t n_figures;
};

struct bw_import_opts {
  enum bw_import_format format; /* BW_IMPORT_AUTO: bw_import_detect() */
  enum bw_kind kind;            /* the test the values belong to; ab's files are page tests */
  enum bw_import_unit unit;     /* plain files only */
  int64_t at_us;                /* ab-csv: the run's start; BW_NONE when not known */
  int64_t latest_us;            /* later points are errors (in the future); BW_NONE: none */
  size_t max_errors;            /* 0: BW_IMPORT_MAX_ERRORS */
};

/* "plain", "ab-tsv", "ab-csv", "kv" ("auto" for BW_IMPORT_AUTO); NULL for an unknown value. */
const char *bw_import_format_name(enum bw_import_format format);
/* Parses a format name ("auto" included); 0 or -EINVAL. */
int bw_import_format_parse(const char *name, enum bw_import_format *ret);

/*
 * Parses a unit name: "us", "ms", "s", "B/s", "KB/s" (or "kB/s"), "MB/s". Case matters for the
 * rates, so that "Mb/s" (megabits) is refused rather than read as megabytes. 0 or -EINVAL.
 */
int bw_import_unit_parse(const char *name, enum bw_import_unit *ret);
/* The unit's name as written above ("ms", "MB/s"); for the default, the kind's default's name. */
const char *bw_import_unit_name(enum bw_import_unit unit, enum bw_kind kind);
/* Whether values in unit can belong to a test of kind (times for pages, rates for downloads). */
bool bw_import_unit_fits(enum bw_import_unit unit, enum bw_kind kind);
/* The units that fit a kind, for messages: "us, ms or s" or "B/s, KB/s or MB/s". */
const char *bw_import_units_text(enum bw_kind kind);

/*
 * The format of a file: ab's -g or -e header as its first line; kv when its first line that is
 * neither blank nor a comment starts with KEY=; else plain.
 */
enum bw_import_format bw_import_detect(const char *buf, size_t len);

/*
 * Parses one time as plain files write it (Unix seconds or ISO 8601, see above) from text[0..len)
 * into µs since the epoch. 0, or -EINVAL with *ret_why (may be NULL) set to a static phrase saying
 * what was wrong. *ret_us is written only on success.
 */
int bw_import_parse_time(const char *text, size_t len, int64_t *ret_us, const char **ret_why);

/*
 * Parses a file's contents (buf, len bytes) in the format opts gives, into points sorted oldest
 * first: *ret is allocated (free() it), *ret_n its length (0 for a file with no data). name is
 * the file's name for messages. All or nothing: on error *ret is not written.
 *
 * Returns 0; -EBADMSG when the contents are malformed, after adding one message per bad line, as
 * "NAME:LINE: what was expected, got what" (up to opts->max_errors, then a count of the rest);
 * -EINVAL when the options cannot apply (a unit of the wrong kind or for a file that is not plain,
 * an ab file for a download test, an ab -e file without at_us), with one message.
 */
int bw_import_parse(const char *name, const char *buf, size_t len,
                    const struct bw_import_opts *opts, struct bw_import_point **ret, size_t *ret_n,
                    struct bw_errs *errs);

#endif
