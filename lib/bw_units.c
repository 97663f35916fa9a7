#include "bw_units.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

struct unit {
  const char *name;
  int64_t factor;
};

/* Longest names first where one is a prefix of another ("ms" before "m"). */
static const struct unit duration_units[] = {
    {"us", 1},
    {"ms", 1000},
    {"s", 1000000},
    {"m", 60 * INT64_C(1000000)},
    {"h", 3600 * INT64_C(1000000)},
    {"d", 86400 * INT64_C(1000000)},
    {"w", 7 * 86400 * INT64_C(1000000)},
};

static const struct unit size_units[] = {
    {"kib", INT64_C(1) << 10},
    {"mib", INT64_C(1) << 20},
    {"gib", INT64_C(1) << 30},
    {"tib", INT64_C(1) << 40},
    {"kb", INT64_C(1000)},
    {"mb", INT64_C(1000000)},
    {"gb", INT64_C(1000000000)},
    {"tb", INT64_C(1000000000000)},
    {"b", 1},
};

/*
 * Reads digits[.digits] at *p into an exact integer part and a fraction (numerator over a power
 * of ten), so "1.5h" is computed in integers and never rounds through a double.
 */
static int read_number(const char **p, int64_t *ret_int, int64_t *ret_frac, int64_t *ret_scale) {
  const char *s = *p;
  int64_t iv = 0, frac = 0, scale = 1;
  if (!isdigit((unsigned char)*s))
    return -EINVAL;
  for (; isdigit((unsigned char)*s); s++) {
    if (iv > (INT64_MAX - (*s - '0')) / 10)
      return -ERANGE;
    iv = iv * 10 + (*s - '0');
  }
  if (*s == '.') {
    s++;
    if (!isdigit((unsigned char)*s))
      return -EINVAL;
    for (; isdigit((unsigned char)*s); s++) {
      if (scale >= INT64_C(1000000000000)) /* finer than 10^-12 is noise; ignore the rest */
        continue;
      frac = frac * 10 + (*s - '0');
      scale *= 10;
    }
  }
  *p = s;
  *ret_int = iv;
  *ret_frac = frac;
  *ret_scale = scale;
  return 0;
}

/* iv.frac/scale x factor, checked for overflow; a fractional remainder below one unit is dropped. */
static int scale_value(int64_t iv, int64_t frac, int64_t scale, int64_t factor, int64_t *ret) {
  if (iv > INT64_MAX / factor)
    return -ERANGE;
  int64_t whole = iv * factor;
  /* frac < scale <= 10^12 and factor <= 2^40 could overflow; divide first when needed. */
  int64_t part;
  if (frac == 0)
    part = 0;
  else if (factor <= INT64_MAX / frac)
    part = frac * factor / scale;
  else
    part = frac * (factor / scale);
  if (whole > INT64_MAX - part)
    return -ERANGE;
  *ret = whole + part;
  return 0;
}

static const struct unit *match_unit(const char **p, const struct unit *units, size_t n) {
  for (size_t i = 0; i < n; i++) {
    size_t len = strlen(units[i].name);
    if (strncasecmp(*p, units[i].name, len) == 0 && !isalpha((unsigned char)(*p)[len])) {
      *p += len;
      return &units[i];
    }
  }
  return NULL;
}

int bw_parse_duration(const char *text, int64_t *ret_us) {
  const char *p = text;
  int64_t total = 0;
  if (!text || !*text)
    return -EINVAL;
  if (strcmp(text, "0") == 0) {
    *ret_us = 0;
    return 0;
  }
  while (*p) {
    int64_t iv, frac, scale, v;
    int r = read_number(&p, &iv, &frac, &scale);
    if (r < 0)
      return r;
    /* Units are case-sensitive here: "m" is minutes and "M" would be a guess. */
    const struct unit *u = NULL;
    for (size_t i = 0; i < sizeof(duration_units) / sizeof(duration_units[0]); i++) {
      size_t len = strlen(duration_units[i].name);
      if (strncmp(p, duration_units[i].name, len) == 0 && !isalpha((unsigned char)p[len])) {
        u = &duration_units[i];
        p += len;
        break;
      }
    }
    if (!u)
      return -EINVAL;
    r = scale_value(iv, frac, scale, u->factor, &v);
    if (r < 0)
      return r;
    if (total > INT64_MAX - v)
      return -ERANGE;
    total += v;
  }
  *ret_us = total;
  return 0;
}

int bw_parse_size(const char *text, int64_t *ret_bytes) {
  const char *p = text;
  int64_t iv, frac, scale, v;
  if (!text)
    return -EINVAL;
  int r = read_number(&p, &iv, &frac, &scale);
  if (r < 0)
    return r;
  const struct unit *u = &size_units[sizeof(size_units) / sizeof(size_units[0]) - 1];
  if (*p) {
    u = match_unit(&p, size_units, sizeof(size_units) / sizeof(size_units[0]));
    if (!u || *p)
      return -EINVAL;
  }
  r = scale_value(iv, frac, scale, u->factor, &v);
  if (r < 0)
    return r;
  *ret_bytes = v;
  return 0;
}

int bw_parse_time_of_day(const char *text, int *ret_minutes) {
  if (!text || strlen(text) != 5 || !isdigit((unsigned char)text[0]) ||
      !isdigit((unsigned char)text[1]) || text[2] != ':' || !isdigit((unsigned char)text[3]) ||
      !isdigit((unsigned char)text[4]))
    return -EINVAL;
  int h = (text[0] - '0') * 10 + (text[1] - '0');
  int m = (text[3] - '0') * 10 + (text[4] - '0');
  if (h > 23 || m > 59)
    return -EINVAL;
  *ret_minutes = h * 60 + m;
  return 0;
}

char *bw_format_duration(int64_t us, char *buf, size_t size) {
  /* Days are the largest unit written: "14d" reads better in a config than "2w". */
  static const struct unit order[] = {
      {"d", 86400 * INT64_C(1000000)},
      {"h", 3600 * INT64_C(1000000)},      {"m", 60 * INT64_C(1000000)},
      {"s", 1000000},                      {"ms", 1000},
      {"us", 1},
  };
  size_t len = 0;
  if (size == 0)
    return buf;
  buf[0] = '\0';
  if (us <= 0) {
    (void)snprintf(buf, size, "%s", us == 0 ? "0" : "invalid");
    return buf;
  }
  for (size_t i = 0; i < sizeof(order) / sizeof(order[0]) && us > 0; i++) {
    int64_t n = us / order[i].factor;
    if (n == 0)
      continue;
    us -= n * order[i].factor;
    int w = snprintf(buf + len, size - len, "%" PRId64 "%s", n, order[i].name);
    if (w < 0 || (size_t)w >= size - len)
      break;
    len += (size_t)w;
  }
  return buf;
}

char *bw_format_size(int64_t bytes, char *buf, size_t size) {
  static const struct unit order[] = {
      {"TiB", INT64_C(1) << 40},       {"TB", INT64_C(1000000000000)},
      {"GiB", INT64_C(1) << 30},       {"GB", INT64_C(1000000000)},
      {"MiB", INT64_C(1) << 20},       {"MB", INT64_C(1000000)},
      {"KiB", INT64_C(1) << 10},       {"KB", INT64_C(1000)},
  };
  for (size_t i = 0; i < sizeof(order) / sizeof(order[0]) && bytes > 0; i++) {
    if (bytes % order[i].factor == 0) {
      (void)snprintf(buf, size, "%" PRId64 "%s", bytes / order[i].factor, order[i].name);
      return buf;
    }
  }
  (void)snprintf(buf, size, "%" PRId64 "B", bytes);
  return buf;
}
