#ifndef BW_STATS_H
#define BW_STATS_H

#include <stddef.h>

/*
 * Descriptive statistics on samples of any scale (0.1 ms to minutes, KB/s to GB/s). Pure: no I/O,
 * no allocation except bw_stats_sort_copy(). Functions taking `sorted` need ascending input.
 * Every function returns NAN for n == 0.
 */

/* A sorted copy of v (free() it). */
double *bw_stats_sort_copy(const double *v, size_t n);
/* Sorts v in place, ascending. */
void bw_stats_sort(double *v, size_t n);

double bw_stats_mean(const double *v, size_t n);
/* Sample standard deviation (n - 1 in the denominator, as ab prints); 0 for n == 1. */
double bw_stats_sd(const double *v, size_t n, double mean);
/* The median: the middle value, or the mean of the two middle values. */
double bw_stats_median(const double *sorted, size_t n);
/*
 * The p-th percentile (0 < p <= 100) by the nearest-rank method: the smallest value with at least
 * p% of the sample at or below it. p = 100 is the maximum. The value is always an observed one.
 */
double bw_stats_percentile(const double *sorted, size_t n, double p);

/*
 * The half-sample mode (Bickel and Fruehwirth, "On a fast, robust estimator of the mode",
 * Computational Statistics & Data Analysis 50 (2006) 3500-3530): repeatedly keep the half of the
 * sample that lies in the shortest interval, until two or three values remain. It needs no bin
 * width, so it works unchanged from microseconds to minutes and from KB/s to GB/s; it is not
 * moved by a long tail; and with two peaks it picks the denser one. O(n) after sorting.
 */
double bw_stats_mode(const double *sorted, size_t n);

/*
 * The median of the shortest half: the middle of the ceil(n/2) consecutive sorted values that lie
 * closest together (the half the shorth of Andrews et al., "Robust Estimates of Location", 1972,
 * averages). Like the half-sample mode it seeks the densest part of the sample and ignores the
 * tail, but it stops after one halving, so it varies about half as much from one window to the
 * next (measured by bench/detect_quality): a steadier baseline at the same robustness.
 */
double bw_stats_shorth_median(const double *sorted, size_t n);

/* Median absolute deviation from the median (unscaled), a spread that ignores the tail. */
double bw_stats_mad(const double *sorted, size_t n);

#endif
