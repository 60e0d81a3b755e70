/* test_bench_hist: the load generator's latency histogram (bench/hist.c, included directly) against
 * a sorted-array oracle: every percentile is >= the exact order statistic and within 1/64 above
 * it, on uniform, log-spread and heavy-tailed data; small values are exact; max is exact. */
#include <math.h>
#include <stdlib.h>

#include "test.h"

#include "../../bench/hist.c"

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static uint64_t rng_state = 0x2545f4914f6cdd1dull;
static uint64_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

/* The oracle: the value of rank ceil(p/100 * n) (1-based) of the sorted sample. */
static uint64_t oracle(const uint64_t *sorted, size_t n, double p)
{
    uint64_t rank = (uint64_t)ceil(p / 100.0 * (double)n);
    if (rank == 0)
        rank = 1;
    return sorted[rank - 1];
}

static int check_against_oracle(uint64_t *v, size_t n)
{
    static struct hist h;
    hist_init(&h);
    for (size_t i = 0; i < n; i++)
        hist_record(&h, v[i]);
    qsort(v, n, sizeof *v, cmp_u64);
    static const double ps[] = {0, 1, 10, 25, 50, 75, 90, 99, 99.9, 99.99, 100};
    int bad = 0;
    for (size_t i = 0; i < sizeof ps / sizeof *ps; i++) {
        uint64_t want = oracle(v, n, ps[i]), got = hist_percentile(&h, ps[i]);
        /* never below the true value, at most one sub-bucket (1/64) above it */
        if (got < want || (double)got > (double)want * (1.0 + 1.0 / 64) + 1) {
            fprintf(stderr, "p%g: got %llu want %llu\n", ps[i], (unsigned long long)got,
                    (unsigned long long)want);
            bad++;
        }
    }
    if (h.count != n || h.max != v[n - 1] || h.min != v[0])
        bad++;
    if (hist_percentile(&h, 100) != v[n - 1])
        bad++;
    return bad;
}

TEST(hist_uniform)
{
    size_t n = 100000;
    uint64_t *v = malloc(n * sizeof *v);
    for (size_t i = 0; i < n; i++)
        v[i] = rnd() % 5000000; /* 0..5 ms in ns */
    CHECK_EQ_INT(check_against_oracle(v, n), 0);
    free(v);
}

TEST(hist_log_spread)
{
    size_t n = 50000;
    uint64_t *v = malloc(n * sizeof *v);
    for (size_t i = 0; i < n; i++)
        v[i] = rnd() >> (rnd() % 64); /* every magnitude from 0 to 2^64 */
    CHECK_EQ_INT(check_against_oracle(v, n), 0);
    free(v);
}

TEST(hist_heavy_tail)
{
    size_t n = 20000;
    uint64_t *v = malloc(n * sizeof *v);
    for (size_t i = 0; i < n; i++)
        v[i] = i % 100 == 0 ? 50000000 + rnd() % 1000000000 : 200000 + rnd() % 100000;
    CHECK_EQ_INT(check_against_oracle(v, n), 0);
    free(v);
}

TEST(hist_small_values_exact)
{
    struct hist h;
    hist_init(&h);
    for (uint64_t i = 0; i < 100; i++)
        hist_record(&h, i);
    CHECK_EQ_INT(hist_percentile(&h, 50), 49);
    CHECK_EQ_INT(hist_percentile(&h, 1), 0);
    CHECK_EQ_INT(hist_percentile(&h, 100), 99);
    CHECK_EQ_INT(h.max, 99);
}

TEST(hist_empty_and_single)
{
    struct hist h;
    hist_init(&h);
    CHECK_EQ_INT(hist_percentile(&h, 99), 0);
    hist_record(&h, 123456789);
    CHECK_EQ_INT(hist_percentile(&h, 0), 123456789);
    CHECK_EQ_INT(hist_percentile(&h, 50), 123456789);
    CHECK_EQ_INT(hist_percentile(&h, 100), 123456789);
    hist_record(&h, UINT64_MAX);
    CHECK(hist_percentile(&h, 100) == UINT64_MAX);
}

TEST(hist_merge_matches_single)
{
    static struct hist a, b, all;
    hist_init(&a);
    hist_init(&b);
    hist_init(&all);
    for (int i = 0; i < 10000; i++) {
        uint64_t x = rnd() % 10000000;
        hist_record(i % 2 ? &a : &b, x);
        hist_record(&all, x);
    }
    hist_merge(&a, &b);
    CHECK_EQ_INT(a.count, all.count);
    CHECK_EQ_INT(a.max, all.max);
    CHECK_EQ_INT(hist_percentile(&a, 99), hist_percentile(&all, 99));
    CHECK_EQ_INT(hist_percentile(&a, 50), hist_percentile(&all, 50));
}

TEST_MAIN()
