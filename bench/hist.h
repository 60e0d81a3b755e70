/* hist: an HDR-style latency histogram with log-linear buckets. Values (nanoseconds, any uint64)
 * below 128 are exact; above, each power of two is split into 64 linear buckets, so a reported
 * percentile is never below the true value and at most 1/64 (1.6%) above it. Fixed size (about
 * 30 KiB), no allocation after init; the maximum is tracked exactly. */
#ifndef VR_BENCH_HIST_H
#define VR_BENCH_HIST_H

#include <stdint.h>

#define HIST_SUB 128 /* exact values below this; 64 linear sub-buckets per power of two above */
#define HIST_HALF 64
#define HIST_NBUCKETS (HIST_SUB + 58 * HIST_HALF)

struct hist {
    uint64_t count;
    uint64_t min;
    uint64_t max;
    double sum;
    uint64_t buckets[HIST_NBUCKETS];
};

void hist_init(struct hist *h);
void hist_record(struct hist *h, uint64_t v);
void hist_merge(struct hist *dst, const struct hist *src);
/* The smallest bucket's highest value v with at least p% of the records <= v (clamped to max);
 * 0 for an empty histogram. p in [0, 100]. */
uint64_t hist_percentile(const struct hist *h, double p);
double hist_mean(const struct hist *h);

#endif
