/* numfmt_double against the snprintf/strtod loop it replaces, on a table of edge cases and on
 * random doubles in and around its fast range (timestamps, ties, powers of two, any bits). */
#include "test.h"

#include <math.h>
#include <stdint.h>

#include "base/numfmt.h"

static int mismatches;

static void same(double d)
{
    char a[NUMFMT_MAX], b[NUMFMT_MAX];
    size_t na = numfmt_double(a, d), nb = numfmt_double_slow(b, d);
    if (na != nb || strcmp(a, b) != 0) {
        if (mismatches++ < 10)
            fprintf(stderr, "numfmt: %a: fast \"%s\" slow \"%s\"\n", d, a, b);
    }
}

static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint64_t next(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

TEST(numfmt_table)
{
    static const struct {
        double d;
        const char *text;
    } table[] = {
        {1764805311234.0, "1764805311234"},
        {1764805311234.5, "1764805311234.5"},
        {1764805311234.25, "1764805311234.25"},
        {1764805311234.567, "1764805311234.567"},
        {1764805311234.5676, "1764805311234.5676"},
        {33554432.0, "33554432"},
        {33554432.5, "33554432.5"},
        {999999999999999.875, "999999999999999.9"},
        {999999999999999.0, "999999999999999"},
        {1e15, "1e+15"},
        {123456789012345.5, "123456789012345.5"},
        {0.1, "0.1"},
        {1.5, "1.5"},
        {-1764805311234.5, "-1764805311234.5"},
        {0.0, "0"},
        {-0.0, "-0"},
        {1e300, "1e+300"},
        {5e-324, "4.94065645841247e-324"},
        {INFINITY, "inf"},
    };
    char out[NUMFMT_MAX];
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
        numfmt_double(out, table[i].d);
        CHECK_EQ_STR(out, table[i].text);
        same(table[i].d);
    }
    same(NAN);
    CHECK_EQ_INT(mismatches, 0);
}

TEST(numfmt_timestamps)
{
    mismatches = 0;
    /* ms since the epoch with a µs/ns fraction, as clock_wall_ms() gives, and the nextafter
     * steps a store takes when two inserts share a clock reading */
    for (int i = 0; i < 60000; i++) {
        double t = 1.7e12 + (double)(next() % 100000000000ull) + (double)(next() % 1000000) / 1e6;
        same(t);
        double u = t;
        for (int j = 0; j < 3; j++) {
            u = nextafter(u, INFINITY);
            same(u);
        }
    }
    CHECK_EQ_INT(mismatches, 0);
}

TEST(numfmt_ties_and_powers)
{
    mismatches = 0;
    /* exact decimal ties at the 15th and 16th digit: n + .5, n + .25, n + .125 */
    for (int i = 0; i < 30000; i++) {
        double n = (double)(100000000000000ull + next() % 900000000000000ull); /* 15 digits */
        same(n + 0.5);
        same(n + 0.25);
        same(n + 0.125);
        same(n + 0.875);
        double m = (double)(10000000000000ull + next() % 90000000000000ull); /* 14 digits */
        same(m + 0.25);
        same(m + 0.125);
        same(m + 0.0625);
        same(m + 0.05);
    }
    for (int e = 20; e <= 53; e++) {
        double p = ldexp(1.0, e);
        same(p);
        same(nextafter(p, 0));
        same(nextafter(p, INFINITY));
        same(nextafter(nextafter(p, 0), 0));
    }
    for (double d = 1e14; d < 1e14 + 64; d = nextafter(d, INFINITY)) /* every double there */
        same(d);
    for (double d = 1e15 - 64; d < 1e15 + 10; d = nextafter(d, INFINITY))
        same(d);
    same(1e15);
    same(nextafter(1e15, 0));
    CHECK_EQ_INT(mismatches, 0);
}

TEST(numfmt_random)
{
    mismatches = 0;
    for (int i = 0; i < 100000; i++) {
        /* uniform in the exponent between 2^20 and 2^55, any mantissa */
        double d =
            ldexp(1.0 + (double)(next() >> 11) / 9007199254740992.0, 20 + (int)(next() % 36));
        same(d);
        /* any bits at all: NaN, infinities, subnormals, negatives */
        uint64_t b = next();
        double r;
        memcpy(&r, &b, sizeof r);
        same(r);
    }
    CHECK_EQ_INT(mismatches, 0);
}

TEST_MAIN()
