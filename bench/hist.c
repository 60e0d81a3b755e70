/* hist: log-linear latency histogram (see hist.h). Bucket index of v >= 128: with e the number of
 * low bits dropped so that v >> e lies in [64, 128), index = 128 + (e - 1) * 64 + (v >> e) - 64.
 * Invariant: count == sum of buckets. */
#include "hist.h"

#include <math.h>
#include <string.h>

#include "base/banned.h"

void hist_init(struct hist *h)
{
    memset(h, 0, sizeof *h);
    h->min = UINT64_MAX;
}

static unsigned bucket_of(uint64_t v)
{
    if (v < HIST_SUB)
        return (unsigned)v;
    unsigned msb = 63 - (unsigned)__builtin_clzll(v); /* >= 7 */
    unsigned e = msb - 6;
    return HIST_SUB + (e - 1) * HIST_HALF + (unsigned)(v >> e) - HIST_HALF;
}

/* The highest value that falls in bucket i. */
static uint64_t bucket_high(unsigned i)
{
    if (i < HIST_SUB)
        return i;
    unsigned e = (i - HIST_SUB) / HIST_HALF + 1;
    uint64_t mant = (i - HIST_SUB) % HIST_HALF + HIST_HALF;
    if (e >= 57 && mant == 127)
        return UINT64_MAX;
    return ((mant + 1) << e) - 1;
}

void hist_record(struct hist *h, uint64_t v)
{
    h->buckets[bucket_of(v)]++;
    h->count++;
    h->sum += (double)v;
    if (v < h->min)
        h->min = v;
    if (v > h->max)
        h->max = v;
}

void hist_merge(struct hist *dst, const struct hist *src)
{
    for (unsigned i = 0; i < HIST_NBUCKETS; i++)
        dst->buckets[i] += src->buckets[i];
    dst->count += src->count;
    dst->sum += src->sum;
    if (src->min < dst->min)
        dst->min = src->min;
    if (src->max > dst->max)
        dst->max = src->max;
}

uint64_t hist_percentile(const struct hist *h, double p)
{
    if (h->count == 0)
        return 0;
    if (p < 0)
        p = 0;
    if (p > 100)
        p = 100;
    uint64_t rank = (uint64_t)ceil(p / 100.0 * (double)h->count);
    if (rank == 0)
        rank = 1;
    uint64_t seen = 0;
    for (unsigned i = 0; i < HIST_NBUCKETS; i++) {
        seen += h->buckets[i];
        if (seen >= rank) {
            uint64_t v = bucket_high(i);
            return v > h->max ? h->max : v;
        }
    }
    return h->max;
}

double hist_mean(const struct hist *h)
{
    return h->count ? h->sum / (double)h->count : 0;
}
