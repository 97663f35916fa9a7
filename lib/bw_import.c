#include "bw_import.h"

#include "bw_detect.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bw_stats.h"

#define US_PER_S INT64_C(1000000)
/* 9999-12-31T23:59:59Z: a larger "Unix seconds" is almost surely milliseconds. */
#define MAX_EPOCH_S INT64_C(253402300799)
/* No value read is larger than this after conversion, so it fits an int64_t exactly. */
#define MAX_VALUE 1e15
/* The longest number text taken: far beyond any real one, small enough for a stack copy. */
#define MAX_NUMBER_LEN 63
/* How much of a bad field a message quotes. */
#define QUOTE_LEN 40

static const char ab_tsv_header[] = "starttime\tseconds\tctime\tdtime\tttime\twait";
static const char ab_csv_header[] = "Percentage served,Time in ms";
static const char utf8_bom[] = "\xef\xbb\xbf";
/* An empty field to quote for a file that has no first line. */
static const char nothing[] = "";

/* ---- names ---- */

static const char *const format_names[] = {
    [BW_IMPORT_AUTO] = "auto",
    [BW_IMPORT_PLAIN] = "plain",
    [BW_IMPORT_AB_TSV] = "ab-tsv",
    [BW_IMPORT_AB_CSV] = "ab-csv",
    [BW_IMPORT_KV] = "kv", /* one per line: clang-format would pack them */
};

struct unit {
  enum bw_import_unit unit;
  const char *name;
  enum bw_kind kind;
  double factor; /* to µs or bytes/s */
};

static const struct unit units[] = {
    {BW_IMPORT_UNIT_US, "us", BW_KIND_PAGE, 1},
    {BW_IMPORT_UNIT_MS, "ms", BW_KIND_PAGE, 1e3},
    {BW_IMPORT_UNIT_S, "s", BW_KIND_PAGE, 1e6},
    {BW_IMPORT_UNIT_BPS, "B/s", BW_KIND_DOWNLOAD, 1},
    {BW_IMPORT_UNIT_KBPS, "KB/s", BW_KIND_DOWNLOAD, 1e3},
    {BW_IMPORT_UNIT_KBPS, "kB/s", BW_KIND_DOWNLOAD, 1e3},
    {BW_IMPORT_UNIT_MBPS, "MB/s", BW_KIND_DOWNLOAD, 1e6},
};

#define N_UNITS (sizeof(units) / sizeof(units[0]))

const char *bw_import_format_name(enum bw_import_format format) {
  if ((unsigned)format >= sizeof(format_names) / sizeof(format_names[0]))
    return NULL;
  return format_names[format];
}

int bw_import_format_parse(const char *name, enum bw_import_format *ret) {
  for (size_t i = 0; i < sizeof(format_names) / sizeof(format_names[0]); i++) {
    if (strcmp(name, format_names[i]) == 0) {
      *ret = (enum bw_import_format)i;
      return 0;
    }
  }
  return -EINVAL;
}

int bw_import_unit_parse(const char *name, enum bw_import_unit *ret) {
  for (size_t i = 0; i < N_UNITS; i++) {
    if (strcmp(name, units[i].name) == 0) {
      *ret = units[i].unit;
      return 0;
    }
  }
  return -EINVAL;
}

/* The kind whose units a kind's headline figure takes: a time (as a page's) or a rate (as a
 * download's); the unit rows name those two. */
static enum bw_kind unit_kind(enum bw_kind kind) {
  switch (kind) {
  case BW_KIND_PAGE:
  case BW_KIND_CONNECT:
    return BW_KIND_PAGE;
  case BW_KIND_DOWNLOAD:
    return BW_KIND_DOWNLOAD;
  }
  return BW_KIND_PAGE;
}

const char *bw_import_units_text(enum bw_kind kind) {
  return unit_kind(kind) == BW_KIND_PAGE ? "us, ms or s" : "B/s, KB/s or MB/s";
}

/* The unit's row; the default resolves to ms or MB/s by kind. */
static const struct unit *find_unit(enum bw_import_unit unit, enum bw_kind kind) {
  kind = unit_kind(kind);
  if (unit == BW_IMPORT_UNIT_DEFAULT)
    unit = kind == BW_KIND_DOWNLOAD ? BW_IMPORT_UNIT_MBPS : BW_IMPORT_UNIT_MS;
  for (size_t i = 0; i < N_UNITS; i++)
    if (units[i].unit == unit)
      return &units[i];
  return NULL;
}

const char *bw_import_unit_name(enum bw_import_unit unit, enum bw_kind kind) {
  const struct unit *u = find_unit(unit, kind);
  return u ? u->name : NULL;
}

bool bw_import_unit_fits(enum bw_import_unit unit, enum bw_kind kind) {
  const struct unit *u = find_unit(unit, kind);
  return u && u->kind == unit_kind(kind);
}

/* ---- lines and characters ---- */

static bool is_digit(char c) {
  return c >= '0' && c <= '9';
}

static bool is_blank(char c) {
  return c == ' ' || c == '\t';
}

static bool is_alpha(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* A cursor over the buffer's lines. */
struct lines {
  const char *buf;
  size_t len;
  size_t pos;
  int64_t no; /* of the line last returned */
};

static void lines_init(struct lines *l, const char *buf, size_t len) {
  l->buf = buf;
  l->len = len;
  l->pos = 0;
  l->no = 0;
  if (len >= 3 && memcmp(buf, utf8_bom, 3) == 0)
    l->pos = 3;
}

/* The next line as [*ret_p, *ret_end), without its "\n" or "\r\n"; false at the end. */
static bool next_line(struct lines *l, const char **ret_p, const char **ret_end) {
  if (l->pos >= l->len)
    return false;
  const char *p = l->buf + l->pos;
  const char *nl = memchr(p, '\n', l->len - l->pos);
  const char *end = nl ? nl : l->buf + l->len;
  l->pos = nl ? (size_t)(nl - l->buf) + 1 : l->len;
  if (end > p && end[-1] == '\r')
    end--;
  l->no++;
  *ret_p = p;
  *ret_end = end;
  return true;
}

static bool line_is(const char *p, const char *end, const char *text) {
  size_t n = strlen(text);
  return (size_t)(end - p) == n && memcmp(p, text, n) == 0;
}

/* A blank line or a comment: nothing to read. */
static bool line_empty(const char *p, const char *end) {
  while (p < end && is_blank(*p))
    p++;
  return p == end || *p == '#';
}

/* Text for a message: at most QUOTE_LEN characters, quoted, bytes that would not print escaped. */
static char *quote(const char *p, const char *end) {
  struct bw_buf b = {0};
  size_t n = (size_t)(end - p);
  bw_buf_add(&b, "\"", 1);
  for (size_t i = 0; i < n && i < QUOTE_LEN; i++) {
    unsigned char c = (unsigned char)p[i];
    if (c == '\t')
      bw_buf_add(&b, "\\t", 2);
    else if (c == '"' || c == '\\')
      bw_buf_printf(&b, "\\%c", c);
    else if (c < 0x20 || c >= 0x7f)
      bw_buf_printf(&b, "\\x%02x", c);
    else
      bw_buf_add(&b, (const char *)&c, 1);
  }
  bw_buf_add(&b, n > QUOTE_LEN ? "\"..." : "\"", n > QUOTE_LEN ? 4 : 1);
  return bw_buf_take(&b);
}

/* The end of the field starting at p: the next blank or comma, or the line's end. */
static const char *field_end(const char *p, const char *end) {
  while (p < end && !is_blank(*p) && *p != ',')
    p++;
  return p;
}

/* The end of a time field at p: as field_end(), but "YYYY-MM-DD HH:MM..." is one field. */
static const char *time_end(const char *p, const char *end) {
  const char *e = field_end(p, end);
  if (e - p == 10 && p[4] == '-' && e + 1 < end && *e == ' ' && is_digit(e[1]))
    e = field_end(e + 1, end);
  return e;
}

/* ---- messages ---- */

struct msg {
  int64_t line;
  size_t seq; /* the order it came in, for equal lines */
  char *text;
};

/* The problems of one file, kept until the end so they can be reported in line order. */
struct ctx {
  const char *name;
  struct bw_errs *errs;
  struct msg *msgs;
  size_t bad; /* lines with an error */
  size_t cap;
  size_t max; /* of them reported */
};

static void bad(struct ctx *c, int64_t line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Notes a bad line; finish() reports it as NAME:LINE: message. */
static void bad(struct ctx *c, int64_t line, const char *fmt, ...) {
  va_list ap;
  bw_xgrow(&c->msgs, &c->cap, c->bad + 1, sizeof(*c->msgs));
  va_start(ap, fmt);
  c->msgs[c->bad].text = bw_xvasprintf(fmt, ap);
  va_end(ap);
  c->msgs[c->bad].line = line;
  c->msgs[c->bad].seq = c->bad;
  c->bad++;
}

/* Like bad(), quoting [p, end) at the end of the message: "..., got \"x\"". */
static void bad_got(struct ctx *c, int64_t line, const char *what, const char *p, const char *end) {
  char *q = quote(p, end);
  bad(c, line, "%s, got %s", what, p == end ? "nothing" : q);
  free(q);
}

static int cmp_msg(const void *a, const void *b) {
  const struct msg *x = a, *y = b;
  if (x->line != y->line)
    return x->line < y->line ? -1 : 1;
  return (x->seq > y->seq) - (x->seq < y->seq);
}

/*
 * Reports the bad lines in line order, the first c->max of them, then how many were not shown.
 * Returns 0, or -EBADMSG after errors.
 */
static int finish(struct ctx *c) {
  struct msg *sorted = bw_xmalloc((c->bad ? c->bad : 1) * sizeof(*sorted));
  for (size_t i = 0; i < c->bad; i++)
    sorted[i] = c->msgs[i];
  if (c->bad > 1)
    qsort(sorted, c->bad, sizeof(*sorted), cmp_msg);
  for (size_t i = 0; i < c->bad; i++) {
    if (i < c->max)
      bw_errs_add(c->errs, "%s:%" PRId64 ": %s", c->name, sorted[i].line, sorted[i].text);
    free(sorted[i].text);
  }
  if (c->bad > c->max)
    bw_errs_add(c->errs, "%s: %zu bad lines in all; the first %zu are shown", c->name, c->bad,
                c->max);
  free(sorted);
  free(c->msgs);
  c->msgs = NULL;
  return c->bad ? -EBADMSG : 0;
}

/* ---- numbers and times ---- */

/* An unsigned integer of at most `max`; NULL when there is none or it is larger. */
static const char *scan_uint(const char *p, const char *end, int64_t max, int64_t *ret) {
  int64_t v = 0;
  const char *s = p;
  if (s == end || !is_digit(*s))
    return NULL;
  for (; s < end && is_digit(*s); s++) {
    if (v > (max - (*s - '0')) / 10)
      return NULL;
    v = v * 10 + (*s - '0');
  }
  *ret = v;
  return s;
}

/* Exactly n digits as a number; false when they are not all there. */
static bool fixed_digits(const char *p, const char *end, int n, int *ret) {
  int v = 0;
  if (end - p < n)
    return false;
  for (int i = 0; i < n; i++) {
    if (!is_digit(p[i]))
      return false;
    v = v * 10 + (p[i] - '0');
  }
  *ret = v;
  return true;
}

/*
 * The end of a decimal number at p (digits[.digits] or .digits, then an optional exponent), or
 * NULL when p does not start one. No sign: the callers decide what a sign means.
 */
static const char *scan_decimal(const char *p, const char *end) {
  const char *s = p;
  size_t digits = 0;
  while (s < end && is_digit(*s)) {
    s++;
    digits++;
  }
  if (s < end && *s == '.') {
    s++;
    while (s < end && is_digit(*s)) {
      s++;
      digits++;
    }
  }
  if (digits == 0)
    return NULL;
  if (s < end && (*s == 'e' || *s == 'E')) {
    const char *e = s + 1;
    if (e < end && (*e == '+' || *e == '-'))
      e++;
    if (e == end || !is_digit(*e))
      return NULL;
    while (e < end && is_digit(*e))
      e++;
    s = e;
  }
  return s;
}

/* The value of number text [p, end) that scan_decimal() accepted; false when it is too long. */
static bool decimal_value(const char *p, const char *end, double *ret) {
  char tmp[MAX_NUMBER_LEN + 1];
  size_t n = (size_t)(end - p);
  if (n > MAX_NUMBER_LEN)
    return false;
  memcpy(tmp, p, n);
  tmp[n] = '\0';
  *ret = strtod(tmp, NULL);
  return isfinite(*ret);
}

/* Days from 1970-01-01 to the proleptic Gregorian date y-m-d (H. Hinnant's days_from_civil). */
static int64_t days_from_civil(int64_t y, int m, int d) {
  y -= m <= 2;
  int64_t era = (y >= 0 ? y : y - 399) / 400;
  int64_t yoe = y - era * 400;
  int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

static int days_in_month(int y, int m) {
  static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
  return m == 2 && leap ? 29 : days[m - 1];
}

/* Up to 6 fraction digits at p as µs, more digits skipped; returns the end. */
static const char *scan_fraction(const char *p, const char *end, int64_t *ret_us) {
  int64_t us = 0, scale = 100000;
  for (; p < end && is_digit(*p); p++) {
    us += (*p - '0') * scale;
    scale /= 10;
  }
  *ret_us = us;
  return p;
}

static const char why_time[] =
    "expected Unix seconds or an ISO 8601 time such as 2026-11-21T10:05:00Z";

/*
 * An ISO 8601 time at p (the caller saw "DDDD-"). *ret_naive says it had no offset (taken as
 * UTC). Returns the end, or NULL with *why set.
 */
static const char *scan_iso(const char *p, const char *end, int64_t *ret_us, bool *ret_naive,
                            const char **why) {
  int y, mo, d, h, mi, s = 0;
  int64_t frac = 0, offset_s = 0;
  bool naive = true;
  if (!fixed_digits(p, end, 4, &y) || end - p < 10 || p[4] != '-' ||
      !fixed_digits(p + 5, end, 2, &mo) || p[7] != '-' || !fixed_digits(p + 8, end, 2, &d)) {
    *why = "expected a date as YYYY-MM-DD";
    return NULL;
  }
  if (mo < 1 || mo > 12) {
    *why = "the month is out of range (01 to 12)";
    return NULL;
  }
  if (d < 1 || d > days_in_month(y, mo)) {
    *why = "the day is out of range for its month";
    return NULL;
  }
  p += 10;
  if (end - p < 6 || (*p != 'T' && *p != 't' && *p != ' ') || !fixed_digits(p + 1, end, 2, &h) ||
      p[3] != ':' || !fixed_digits(p + 4, end, 2, &mi)) {
    *why = "expected the time of day after the date (T or a space, then HH:MM or HH:MM:SS)";
    return NULL;
  }
  p += 6;
  if (p < end && *p == ':') {
    if (!fixed_digits(p + 1, end, 2, &s)) {
      *why = "expected two digits of seconds after HH:MM:";
      return NULL;
    }
    p += 3;
    if (p < end && (*p == '.' || *p == ',')) {
      if (p + 1 == end || !is_digit(p[1])) {
        *why = "expected digits after the decimal point of the seconds";
        return NULL;
      }
      p = scan_fraction(p + 1, end, &frac);
    }
  }
  if (h > 23 || mi > 59 || s > 59) {
    *why = "the time of day is out of range (00:00:00 to 23:59:59)";
    return NULL;
  }
  if (p < end && (*p == 'Z' || *p == 'z')) {
    naive = false;
    p++;
  } else if (p < end && (*p == '+' || *p == '-')) {
    int oh, om = 0;
    int sign = *p == '-' ? -1 : 1;
    if (!fixed_digits(p + 1, end, 2, &oh)) {
      *why = "expected an offset as +HH:MM, +HHMM or +HH";
      return NULL;
    }
    p += 3;
    if (p < end && *p == ':') {
      if (!fixed_digits(p + 1, end, 2, &om)) {
        *why = "expected an offset as +HH:MM, +HHMM or +HH";
        return NULL;
      }
      p += 3;
    } else if (fixed_digits(p, end, 2, &om)) {
      p += 2;
    }
    if (oh > 23 || om > 59) {
      *why = "the offset is out of range";
      return NULL;
    }
    naive = false;
    offset_s = sign * (oh * 3600 + om * 60);
  }
  int64_t t = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + s - offset_s;
  if (t < 0) {
    *why = "the time is before 1970";
    return NULL;
  }
  if (t > MAX_EPOCH_S) {
    *why = "the time is after the year 9999";
    return NULL;
  }
  *ret_us = t * US_PER_S + frac;
  *ret_naive = naive;
  return p;
}

/* A time at p (Unix seconds or ISO 8601). Returns its end, or NULL with *why set. */
static const char *scan_time(const char *p, const char *end, int64_t *ret_us, bool *ret_naive,
                             const char **why) {
  if (end - p >= 5 && is_digit(p[0]) && is_digit(p[1]) && is_digit(p[2]) && is_digit(p[3]) &&
      p[4] == '-')
    return scan_iso(p, end, ret_us, ret_naive, why);
  int64_t sec, frac = 0;
  const char *s = scan_uint(p, end, INT64_MAX / 10, &sec);
  if (!s) {
    *why = p < end && is_digit(*p) ? "the number is too large for a time" : why_time;
    return NULL;
  }
  if (s < end && *s == '.') {
    if (s + 1 == end || !is_digit(s[1])) {
      *why = "expected digits after the decimal point";
      return NULL;
    }
    s = scan_fraction(s + 1, end, &frac);
  }
  if (sec > MAX_EPOCH_S) {
    *why = "the time is after the year 9999 (milliseconds? give Unix seconds)";
    return NULL;
  }
  *ret_us = sec * US_PER_S + frac;
  *ret_naive = false;
  return s;
}

int bw_import_parse_time(const char *text, size_t len, int64_t *ret_us, const char **ret_why) {
  const char *why = why_time;
  int64_t us;
  bool naive;
  const char *end = text + len;
  const char *s = scan_time(text, end, &us, &naive, &why);
  if (!s || s != end) {
    if (ret_why)
      *ret_why = s ? why_time : why;
    return -EINVAL;
  }
  *ret_us = us;
  return 0;
}

/* ISO 8601 UTC to the second, for messages. */
static void format_time(int64_t us, char *buf, size_t size) {
  time_t t = (time_t)(us / US_PER_S);
  struct tm tm;
  if (!gmtime_r(&t, &tm) || strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
    (void)snprintf(buf, size, "%" PRId64 " us", us);
}

/* ---- the result ---- */

struct points {
  struct bw_import_point *v;
  size_t n;
  size_t cap;
  /* kv: every point's figures, and where each point's begin, by its line (added in line order,
   * so the lines ascend and the points can be sorted apart from them) */
  struct bw_import_figure *figs;
  size_t n_figs, cap_figs;
  struct fig_start *starts;
  size_t n_starts, cap_starts;
};

struct fig_start {
  int64_t line;
  size_t first;
};

static void add_point(struct points *pts, int64_t started_us, double value, int64_t line) {
  bw_xgrow(&pts->v, &pts->cap, pts->n + 1, sizeof(*pts->v));
  memset(&pts->v[pts->n], 0, sizeof(pts->v[pts->n]));
  pts->v[pts->n].started_us = started_us;
  pts->v[pts->n].value = value;
  pts->v[pts->n].line = line;
  pts->n++;
}

static void points_free(struct points *pts) {
  free(pts->v);
  free(pts->figs);
  free(pts->starts);
}

/* Where the figures of the point from line begin (it has some). */
static size_t first_figure(const struct points *pts, int64_t line) {
  size_t lo = 0, hi = pts->n_starts;
  while (hi - lo > 1) {
    size_t mid = lo + (hi - lo) / 2;
    if (pts->starts[mid].line <= line)
      lo = mid;
    else
      hi = mid;
  }
  return pts->starts[lo].first;
}

/*
 * The points as one allocation, their figures after them, so that the caller's free() of the
 * points frees everything. pts is left empty.
 */
static struct bw_import_point *points_take(struct points *pts) {
  if (pts->n_figs == 0) {
    struct bw_import_point *v = pts->v;
    free(pts->figs);
    free(pts->starts);
    return v;
  }
  size_t head = pts->n * sizeof(*pts->v);
  head = (head + _Alignof(struct bw_import_figure) - 1) / _Alignof(struct bw_import_figure) *
         _Alignof(struct bw_import_figure);
  char *block = bw_xmalloc(head + pts->n_figs * sizeof(*pts->figs));
  struct bw_import_point *v = (struct bw_import_point *)(void *)block;
  struct bw_import_figure *f = (struct bw_import_figure *)(void *)(block + head);
  memcpy(f, pts->figs, pts->n_figs * sizeof(*f));
  for (size_t i = 0; i < pts->n; i++) {
    v[i] = pts->v[i];
    v[i].figures = v[i].n_figures ? f + first_figure(pts, v[i].line) : NULL;
  }
  points_free(pts);
  return v;
}

static int cmp_point(const void *a, const void *b) {
  const struct bw_import_point *x = a, *y = b;
  if (x->started_us != y->started_us)
    return x->started_us < y->started_us ? -1 : 1;
  return (x->line > y->line) - (x->line < y->line);
}

/* Reports a point later than latest_us; false when it is. */
static bool check_future(struct ctx *c, const struct bw_import_opts *o, int64_t started_us,
                         bool naive, int64_t line) {
  char when[32];
  if (o->latest_us == BW_NONE || started_us <= o->latest_us)
    return true;
  format_time(started_us, when, sizeof(when));
  bad(c, line, "%s is in the future%s", when,
      naive ? " (a time without an offset is UTC: give local times with theirs, such as +01:00)"
            : "");
  return false;
}

/*
 * Sorts the points by time, then by line, and reports a repeated time at its later line: one
 * moment cannot have two measurements.
 */
static void sort_points(struct ctx *c, struct points *pts) {
  if (pts->n > 1)
    qsort(pts->v, pts->n, sizeof(*pts->v), cmp_point);
  for (size_t i = 1; i < pts->n; i++) {
    if (pts->v[i].started_us == pts->v[i - 1].started_us) {
      char when[32];
      format_time(pts->v[i].started_us, when, sizeof(when));
      bad(c, pts->v[i].line, "the same time (%s) as line %" PRId64, when, pts->v[i - 1].line);
    }
  }
}

/* ---- plain ---- */

static int parse_plain(struct ctx *c, const char *buf, size_t len, const struct bw_import_opts *o,
                       struct points *pts) {
  const struct unit *u = find_unit(o->unit, o->kind);
  struct lines l;
  const char *p, *end;
  bool first = true;

  lines_init(&l, buf, len);
  while (next_line(&l, &p, &end)) {
    if (line_empty(p, end))
      continue;
    while (is_blank(*p))
      p++;
    if (first && is_alpha(*p)) {
      first = false; /* a header such as "time,ms" */
      continue;
    }
    first = false;

    const char *why = why_time;
    int64_t us;
    bool naive;
    const char *t = scan_time(p, end, &us, &naive, &why);
    if (!t || (t < end && !is_blank(*t) && *t != ',')) {
      if (!t && why != why_time) {
        char *q = quote(p, time_end(p, end));
        bad(c, l.no, "bad time %s: %s", q, why);
        free(q);
      } else {
        bad_got(c, l.no, why_time, p, t ? field_end(t, end) : time_end(p, end));
      }
      continue;
    }
    const char *v = t;
    while (v < end && is_blank(*v))
      v++;
    if (v < end && *v == ',')
      v++;
    while (v < end && is_blank(*v))
      v++;
    if (v == end || *v == '#') {
      bad(c, l.no, "expected a value after the time");
      continue;
    }
    const char *vend = scan_decimal(v, end);
    double value;
    if (*v == '-' && scan_decimal(v + 1, end)) {
      bad_got(c, l.no, "expected a value of 0 or more", v, field_end(v + 1, end));
      continue;
    }
    if (!vend || (vend < end && !is_blank(*vend) && *vend != ',' && *vend != '#')) {
      char *what = bw_xasprintf("expected a number (in %s) for the value", u->name);
      bad_got(c, l.no, what, v, field_end(vend ? vend : v, end));
      free(what);
      continue;
    }
    if (!decimal_value(v, vend, &value) || value * u->factor > MAX_VALUE) {
      bad_got(c, l.no, "the value is too large", v, vend);
      continue;
    }
    const char *rest = vend;
    while (rest < end && is_blank(*rest))
      rest++;
    if (rest < end && *rest != '#') {
      bool comma = rest == vend && *rest == ',' && rest + 1 < end && is_digit(rest[1]);
      bad_got(c, l.no,
              comma ? "expected only TIME and VALUE on the line (a decimal comma? write a point)"
                    : "expected only TIME and VALUE on the line",
              rest, end);
      continue;
    }
    if (o->kind == BW_KIND_DOWNLOAD && value <= 0) {
      bad(c, l.no, "a download rate must be above 0 (a failed download? leave it out)");
      continue;
    }
    if (check_future(c, o, us, naive, l.no))
      add_point(pts, us, value * u->factor, l.no);
  }
  sort_points(c, pts);
  return finish(c);
}

/* ---- key=value ---- */

static bool is_key_char(char c) {
  return is_alpha(c) || is_digit(c) || c == '_' || c == '-' || c == '.';
}

/* The end of a field at p: the next blank, or the line's end. */
static const char *kv_field_end(const char *p, const char *end) {
  while (p < end && !is_blank(*p))
    p++;
  return p;
}

/* The headline figure of a kind: what a point's value is. */
static const char *headline(enum bw_kind kind) {
  return bw_detect_metric(kind)->name;
}

/* A kv time: Unix milliseconds (13 digits or more), else as plain files write it. */
static bool kv_time(struct ctx *c, int64_t line, const char *v, const char *ve, int64_t *ret_us,
                    bool *ret_naive) {
  const char *why = why_time;
  int64_t ms = 0;
  const char *s = scan_uint(v, ve, INT64_MAX / 1000, &ms);
  if (s == ve && ve - v >= 13) {
    if (ms / 1000 > MAX_EPOCH_S) {
      bad_got(c, line, "the time is after the year 9999", v, ve);
      return false;
    }
    *ret_us = ms * 1000;
    *ret_naive = false;
    return true;
  }
  s = scan_time(v, ve, ret_us, ret_naive, &why);
  if (!s || s != ve) {
    char *q = quote(v, ve);
    bad(c, line, "bad time %s: %s", q, s ? why_time : why);
    free(q);
    return false;
  }
  return true;
}

/*
 * A figure's value: a number of 0 or more, and a unit right after it where the figure is a time
 * or a rate. Returns false after reporting why.
 */
static bool kv_value(struct ctx *c, int64_t line, const struct bw_figure *f, const char *v,
                     const char *ve, double *ret) {
  const char *ne = scan_decimal(v, ve);
  double x, factor = 1;
  if (v < ve && *v == '-' && scan_decimal(v + 1, ve)) {
    char *what = bw_xasprintf("%s: expected a value of 0 or more", f->name);
    bad_got(c, line, what, v, ve);
    free(what);
    return false;
  }
  if (!ne || !decimal_value(v, ne, &x)) {
    char *what = bw_xasprintf("%s: expected a number", f->name);
    bad_got(c, line, what, v, ve);
    free(what);
    return false;
  }
  if (ne < ve) {
    const struct unit *u = NULL;
    enum bw_kind want = f->unit == BW_UNIT_US ? BW_KIND_PAGE : BW_KIND_DOWNLOAD;
    for (size_t i = 0; i < N_UNITS && (f->unit == BW_UNIT_US || f->unit == BW_UNIT_BPS); i++)
      if (units[i].kind == want && line_is(ne, ve, units[i].name))
        u = &units[i];
    if (!u) {
      char *what = bw_xasprintf(
          "%s: expected %s after the number", f->name,
          f->unit == BW_UNIT_US    ? "a unit of time (us, ms or s) or none (microseconds)"
          : f->unit == BW_UNIT_BPS ? "a unit of rate (B/s, KB/s or MB/s) or none (bytes/s)"
                                   : "no unit");
      bad_got(c, line, what, ne, ve);
      free(what);
      return false;
    }
    factor = u->factor;
  }
  if (x * factor > MAX_VALUE) {
    char *what = bw_xasprintf("%s: the value is too large", f->name);
    bad_got(c, line, what, v, ve);
    free(what);
    return false;
  }
  *ret = x * factor;
  return true;
}

/* One line's fields; false after reporting what was wrong with it. */
static bool kv_line(struct ctx *c, int64_t line, const char *p, const char *end,
                    const struct bw_import_opts *o, struct points *pts) {
  struct bw_import_figure figs[BW_IMPORT_MAX_FIGURES];
  size_t n = 0;
  int64_t us = 0;
  bool have_time = false, naive = false;
  double value = (double)NAN;
  const char *head = headline(o->kind);

  for (;;) {
    while (p < end && is_blank(*p))
      p++;
    if (p == end || *p == '#')
      break;
    const char *k = p;
    while (p < end && is_key_char(*p))
      p++;
    if (p == k || p == end || *p != '=') {
      bad_got(c, line, "expected KEY=VALUE", k, kv_field_end(k, end));
      return false;
    }
    const char *ke = p++;
    const char *v = p, *ve;
    if (p < end && *p == '"') {
      v = p + 1;
      ve = memchr(v, '"', (size_t)(end - v));
      if (!ve) {
        bad_got(c, line, "a value in quotes has no closing quote", p, end);
        return false;
      }
      p = ve + 1;
      if (p < end && !is_blank(*p)) {
        bad_got(c, line, "expected a blank after the closing quote", p, kv_field_end(p, end));
        return false;
      }
    } else {
      ve = p = kv_field_end(p, end);
    }
    if (line_is(k, ke, "time") || line_is(k, ke, "timestamp")) {
      if (have_time) {
        bad(c, line, "two times on the line (time= or timestamp=, once)");
        return false;
      }
      if (!kv_time(c, line, v, ve, &us, &naive))
        return false;
      have_time = true;
      continue;
    }
    char name[65];
    const struct bw_figure *f = NULL;
    if (ke - k < (ptrdiff_t)sizeof(name)) {
      memcpy(name, k, (size_t)(ke - k));
      name[ke - k] = '\0';
      f = bw_figure_find(name);
    }
    if (!f) {
      bad_got(c, line, "expected time= or a figure's name (such as rate_bps, p50_us, rps)", k, ke);
      return false;
    }
    for (size_t i = 0; i < n; i++) {
      if (figs[i].figure == f) {
        bad(c, line, "%s is on the line twice", f->name);
        return false;
      }
    }
    if (n == BW_IMPORT_MAX_FIGURES) {
      bad(c, line, "more than %d figures on the line", BW_IMPORT_MAX_FIGURES);
      return false;
    }
    if (!kv_value(c, line, f, v, ve, &figs[n].value))
      return false;
    figs[n].figure = f;
    if (strcmp(f->name, head) == 0)
      value = figs[n].value;
    n++;
  }
  if (!have_time) {
    bad(c, line, "expected time=TIME on the line (Unix seconds or milliseconds, or ISO 8601)");
    return false;
  }
  if (isnan(value)) {
    bad(c, line, "expected %s= on the line: the headline figure of a %s test", head,
        bw_kind_name(o->kind));
    return false;
  }
  if (o->kind == BW_KIND_DOWNLOAD && value <= 0) {
    bad(c, line, "a download rate must be above 0 (a failed download? leave it out)");
    return false;
  }
  if (!check_future(c, o, us, naive, line))
    return false;
  add_point(pts, us, value, line);
  pts->v[pts->n - 1].n_figures = n;
  bw_xgrow(&pts->starts, &pts->cap_starts, pts->n_starts + 1, sizeof(*pts->starts));
  pts->starts[pts->n_starts].line = line;
  pts->starts[pts->n_starts].first = pts->n_figs;
  pts->n_starts++;
  bw_xgrow(&pts->figs, &pts->cap_figs, pts->n_figs + n, sizeof(*pts->figs));
  memcpy(pts->figs + pts->n_figs, figs, n * sizeof(*figs));
  pts->n_figs += n;
  return true;
}

static int parse_kv(struct ctx *c, const char *buf, size_t len, const struct bw_import_opts *o,
                    struct points *pts) {
  struct lines l;
  const char *p, *end;
  lines_init(&l, buf, len);
  while (next_line(&l, &p, &end))
    if (!line_empty(p, end))
      (void)kv_line(c, l.no, p, end, o, pts);
  sort_points(c, pts);
  return finish(c);
}

/* ---- ab -g ---- */

struct ab_row {
  int64_t seconds;
  int64_t ttime_ms;
  int64_t line;
};

static int cmp_row(const void *a, const void *b) {
  const struct ab_row *x = a, *y = b;
  if (x->seconds != y->seconds)
    return x->seconds < y->seconds ? -1 : 1;
  return (x->line > y->line) - (x->line < y->line);
}

static const char *const tsv_fields[] = {"starttime", "seconds", "ctime", "dtime", "ttime", "wait"};

#define N_TSV_FIELDS 6
/* The largest time in ms taken from ab: 10^9 ms is eleven days. */
#define MAX_AB_MS INT64_C(1000000000)

/* Reads one ab -g row into row; false after reporting what was wrong. */
static bool tsv_row(struct ctx *c, const char *p, const char *end, int64_t no, struct ab_row *row) {
  const char *f[N_TSV_FIELDS], *fend[N_TSV_FIELDS];
  size_t n = 0;
  const char *s = p;
  for (;;) {
    const char *tab = memchr(s, '\t', (size_t)(end - s));
    const char *e = tab ? tab : end;
    if (n < N_TSV_FIELDS) {
      f[n] = s;
      fend[n] = e;
    }
    n++;
    if (!tab)
      break;
    s = tab + 1;
  }
  if (n != N_TSV_FIELDS) {
    char *q = quote(p, end);
    bad(c, no,
        "expected 6 tab-separated fields (starttime, seconds, ctime, dtime, ttime, wait), "
        "got %zu: %s",
        n, q);
    free(q);
    return false;
  }
  if (f[0] == fend[0]) {
    bad(c, no, "expected ab's start time text in field 1 (starttime), got nothing");
    return false;
  }
  int64_t v[N_TSV_FIELDS] = {0};
  for (int i = 1; i < N_TSV_FIELDS; i++) {
    const char *q = f[i];
    /* ctime, dtime and wait are only checked; a negative one would be ab's rounding. */
    if (i != 1 && i != 4 && q < fend[i] && *q == '-')
      q++;
    const char *e = scan_uint(q, fend[i], i == 1 ? MAX_EPOCH_S : MAX_AB_MS, &v[i]);
    if (!e || e != fend[i]) {
      char *what = bw_xasprintf(i == 1 ? "expected Unix seconds in field 2 (seconds)"
                                       : "expected whole ms in field %d (%s)",
                                i + 1, tsv_fields[i]);
      bad_got(c, no, what, f[i], fend[i]);
      free(what);
      return false;
    }
  }
  row->seconds = v[1];
  row->ttime_ms = v[4];
  row->line = no;
  return true;
}

static int parse_ab_tsv(struct ctx *c, const char *buf, size_t len, const struct bw_import_opts *o,
                        struct points *pts) {
  struct ab_row *rows = NULL;
  size_t n = 0, cap = 0;
  struct lines l;
  const char *p, *end;

  lines_init(&l, buf, len);
  if (!next_line(&l, &p, &end) || !line_is(p, end, ab_tsv_header)) {
    bad_got(c, 1, "expected ab -g's header \"starttime\\tseconds\\tctime\\tdtime\\tttime\\twait\"",
            l.no ? p : nothing, l.no ? end : nothing);
    return finish(c);
  }
  while (next_line(&l, &p, &end)) {
    /* ab writes no comments or blank lines; a joined file repeats the header. */
    if (line_empty(p, end) || line_is(p, end, ab_tsv_header))
      continue;
    struct ab_row row;
    if (!tsv_row(c, p, end, l.no, &row))
      continue;
    bw_xgrow(&rows, &cap, n + 1, sizeof(*rows));
    rows[n++] = row;
  }
  if (c->bad)
    goto out;

  if (n > 1)
    qsort(rows, n, sizeof(*rows), cmp_row);
  double *ms = bw_xmalloc((n ? n : 1) * sizeof(*ms));
  for (size_t i = 0; i < n;) {
    size_t j = i + 1;
    while (j < n && rows[j].seconds - rows[j - 1].seconds < BW_IMPORT_AB_GAP_S)
      j++;
    for (size_t k = i; k < j; k++)
      ms[k - i] = (double)rows[k].ttime_ms;
    bw_stats_sort(ms, j - i);
    int64_t started = rows[i].seconds * US_PER_S;
    if (check_future(c, o, started, false, rows[i].line))
      add_point(pts, started, bw_stats_median(ms, j - i) * 1e3, rows[i].line);
    i = j;
  }
  free(ms);
out:
  free(rows);
  return finish(c);
}

/* ---- ab -e ---- */

/* A time as ab's printf("%.3f") may write it for a row it read from past its table. */
static bool any_printf_number(const char *p, const char *end) {
  if (p < end && *p == '-')
    p++;
  if (line_is(p, end, "nan") || line_is(p, end, "inf"))
    return true;
  return scan_decimal(p, end) == end;
}

static int parse_ab_csv(struct ctx *c, const char *buf, size_t len, const struct bw_import_opts *o,
                        struct points *pts) {
  struct lines l;
  const char *p, *end;
  int64_t expect = 0, line50 = 0;
  double median = 0;

  lines_init(&l, buf, len);
  if (!next_line(&l, &p, &end) || !line_is(p, end, ab_csv_header)) {
    bad_got(c, 1, "expected ab -e's header \"Percentage served,Time in ms\"", l.no ? p : nothing,
            l.no ? end : nothing);
    return finish(c);
  }
  while (next_line(&l, &p, &end)) {
    if (line_empty(p, end))
      continue;
    while (end > p && is_blank(end[-1]))
      end--;
    int64_t pct;
    const char *comma = scan_uint(p, end, 1000, &pct);
    if (!comma || comma == end || *comma != ',') {
      bad_got(c, l.no, "expected a row PERCENT,MS such as \"50,25.468\"", p, end);
      expect++;
      continue;
    }
    if (expect > 100) {
      bad_got(c, l.no, "expected the end of the file after the 100% row", p, end);
      continue;
    }
    if (pct != expect) {
      if (pct > 100)
        bad(c, l.no, "expected the %" PRId64 "%% row, got %" PRId64 "%% (the last row is 100%%)",
            expect, pct);
      else
        bad(c, l.no, "expected the %" PRId64 "%% row, got the %" PRId64 "%% row", expect, pct);
      expect = pct > 100 ? expect + 1 : pct + 1;
      continue;
    }
    expect++;
    const char *t = comma + 1;
    if (pct == 50) {
      const char *e = scan_decimal(t, end);
      if (!e || e != end || !decimal_value(t, e, &median) || median * 1e3 > MAX_VALUE) {
        bad_got(c, l.no, "expected the median time in ms in the 50% row", t, end);
        continue;
      }
      line50 = l.no;
    } else if (!any_printf_number(t, end)) {
      bad_got(c, l.no, "expected a time in ms after the percentage", t, end);
    }
  }
  if (expect <= 100)
    bad(c, l.no + 1,
        "expected the %" PRId64 "%% row, got the end of the file (ab -e writes 101 rows, 0%% to "
        "100%%)",
        expect);
  if (c->bad == 0 && check_future(c, o, o->at_us, false, line50))
    add_point(pts, o->at_us, median * 1e3, line50);
  return finish(c);
}

/* ---- the entry points ---- */

enum bw_import_format bw_import_detect(const char *buf, size_t len) {
  struct lines l;
  const char *p, *end;
  lines_init(&l, buf, len);
  if (next_line(&l, &p, &end)) {
    if (line_is(p, end, ab_tsv_header))
      return BW_IMPORT_AB_TSV;
    if (line_is(p, end, ab_csv_header))
      return BW_IMPORT_AB_CSV;
  }
  lines_init(&l, buf, len);
  while (next_line(&l, &p, &end)) {
    if (line_empty(p, end))
      continue;
    while (is_blank(*p))
      p++;
    const char *k = p;
    while (p < end && is_key_char(*p))
      p++;
    return p > k && p < end && *p == '=' ? BW_IMPORT_KV : BW_IMPORT_PLAIN;
  }
  return BW_IMPORT_PLAIN;
}

int bw_import_parse(const char *name, const char *buf, size_t len,
                    const struct bw_import_opts *opts, struct bw_import_point **ret, size_t *ret_n,
                    struct bw_errs *errs) {
  struct ctx c = {.name = name,
                  .errs = errs,
                  .max = opts->max_errors ? opts->max_errors : BW_IMPORT_MAX_ERRORS};
  struct points pts = {0};
  enum bw_import_format format = opts->format;
  int r;

  if (format == BW_IMPORT_AUTO)
    format = bw_import_detect(buf, len);
  if (!bw_kind_name(opts->kind) || !bw_import_format_name(format)) {
    bw_errs_add(errs, "%s: unknown test kind or format", name);
    return -EINVAL;
  }
  if ((format == BW_IMPORT_AB_TSV || format == BW_IMPORT_AB_CSV) && opts->kind != BW_KIND_PAGE) {
    bw_errs_add(errs, "%s: ab's files hold request times, for a page test, not a %s", name,
                bw_kind_name(opts->kind));
    return -EINVAL;
  }
  if (format != BW_IMPORT_PLAIN && opts->unit != BW_IMPORT_UNIT_DEFAULT) {
    bw_errs_add(errs, "%s: a unit applies to plain files only; %s", name,
                format == BW_IMPORT_KV ? "kv values carry their own" : "ab's times are in ms");
    return -EINVAL;
  }
  if (!bw_import_unit_fits(opts->unit, opts->kind)) {
    bw_errs_add(errs, "%s: %s is not a unit for a %s test (%s)", name,
                bw_import_unit_name(opts->unit, opts->kind), bw_kind_name(opts->kind),
                bw_import_units_text(opts->kind));
    return -EINVAL;
  }
  if (format == BW_IMPORT_AB_CSV && opts->at_us == BW_NONE) {
    bw_errs_add(errs, "%s: ab -e files hold no time: the run's start must be given", name);
    return -EINVAL;
  }
  if (format == BW_IMPORT_PLAIN)
    r = parse_plain(&c, buf, len, opts, &pts);
  else if (format == BW_IMPORT_AB_TSV)
    r = parse_ab_tsv(&c, buf, len, opts, &pts);
  else if (format == BW_IMPORT_KV)
    r = parse_kv(&c, buf, len, opts, &pts);
  else
    r = parse_ab_csv(&c, buf, len, opts, &pts);
  if (r < 0) {
    points_free(&pts);
    return r;
  }
  *ret_n = pts.n;
  *ret = points_take(&pts);
  return 0;
}
