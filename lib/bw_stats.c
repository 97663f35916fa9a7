#include "bw_stats.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "bw_util.h"

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

void bw_stats_sort(double *v, size_t n) {
  qsort(v, n, sizeof(*v), cmp_double);
}

double *bw_stats_sort_copy(const double *v, size_t n) {
  double *s = bw_xmalloc(n * sizeof(*s));
  if (n)
    memcpy(s, v, n * sizeof(*s));
  bw_stats_sort(s, n);
  return s;
}

double bw_stats_mean(const double *v, size_t n) {
  /* Kahan summation: a million microsecond latencies must not lose the small ones. */
  double sum = 0, c = 0;
  if (n == 0)
    return NAN;
  for (size_t i = 0; i < n; i++) {
    double y = v[i] - c;
    double t = sum + y;
    c = (t - sum) - y;
    sum = t;
  }
  return sum / (double)n;
}

double bw_stats_sd(const double *v, size_t n, double mean) {
  double ss = 0;
  if (n == 0)
    return NAN;
  if (n == 1)
    return 0;
  for (size_t i = 0; i < n; i++)
    ss += (v[i] - mean) * (v[i] - mean);
  return sqrt(ss / (double)(n - 1));
}

double bw_stats_median(const double *sorted, size_t n) {
  if (n == 0)
    return NAN;
  if (n % 2)
    return sorted[n / 2];
  return (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
}

double bw_stats_percentile(const double *sorted, size_t n, double p) {
  if (n == 0)
    return NAN;
  double rank = ceil(p / 100.0 * (double)n);
  if (rank < 1)
    rank = 1;
  if (rank > (double)n)
    rank = (double)n;
  return sorted[(size_t)rank - 1];
}

double bw_stats_mode(const double *sorted, size_t n) {
  size_t lo = 0;
  if (n == 0)
    return NAN;
  while (n > 3) {
    /* The shortest interval holding h = ceil(n/2) consecutive values. */
    size_t h = (n + 1) / 2, best = lo;
    double width = INFINITY;
    for (size_t i = lo; i + h - 1 < lo + n; i++) {
      double w = sorted[i + h - 1] - sorted[i];
      if (w < width) {
        width = w;
        best = i;
      }
    }
    if (width == 0) /* h equal values: that is the mode */
      return sorted[best];
    lo = best;
    n = h;
  }
  if (n == 3) {
    /* The pair that lies closer together decides; a tie keeps the middle value. */
    double left = sorted[lo + 1] - sorted[lo], right = sorted[lo + 2] - sorted[lo + 1];
    if (left < right)
      return (sorted[lo] + sorted[lo + 1]) / 2;
    if (right < left)
      return (sorted[lo + 1] + sorted[lo + 2]) / 2;
    return sorted[lo + 1];
  }
  if (n == 2)
    return (sorted[lo] + sorted[lo + 1]) / 2;
  return sorted[lo];
}

double bw_stats_shorth_median(const double *sorted, size_t n) {
  if (n == 0)
    return NAN;
  size_t h = (n + 1) / 2, best = 0;
  double width = INFINITY;
  for (size_t i = 0; i + h <= n; i++) {
    double w = sorted[i + h - 1] - sorted[i];
    if (w < width) {
      width = w;
      best = i;
    }
  }
  return bw_stats_median(sorted + best, h);
}

double bw_stats_mad(const double *sorted, size_t n) {
  if (n == 0)
    return NAN;
  double med = bw_stats_median(sorted, n);
  double *dev = bw_xmalloc(n * sizeof(*dev));
  for (size_t i = 0; i < n; i++)
    dev[i] = fabs(sorted[i] - med);
  bw_stats_sort(dev, n);
  double mad = bw_stats_median(dev, n);
  free(dev);
  return mad;
}
