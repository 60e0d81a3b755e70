/* numfmt: the %.15g/16g/17g round-trip loop without printf for doubles in [2^25, 1e15) with at
 * most 27 fraction bits (document timestamps: ms since the epoch with a sub-ms fraction): the
 * double is an exact decimal fraction D / 10^k (D = mantissa * 5^k, 128-bit), so rounding to P
 * digits (ties to even, like glibc's printf) and the read-back test (the rounded value within half
 * an ulp, ties to the even mantissa, like strtod) are integer arithmetic. Any other double, or a
 * rounding that would need an exponent, takes the snprintf/strtod loop. */
#include "base/numfmt.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/banned.h"

typedef unsigned __int128 u128;

size_t numfmt_double_slow(char out[NUMFMT_MAX], double d)
{
    for (int prec = 15; prec <= 17; prec++) {
        snprintf(out, NUMFMT_MAX, "%.*g", prec, d);
        if (strtod(out, NULL) == d)
            break;
    }
    return strlen(out);
}

static const uint64_t pow10_64[20] = {
    1ull,
    10ull,
    100ull,
    1000ull,
    10000ull,
    100000ull,
    1000000ull,
    10000000ull,
    100000000ull,
    1000000000ull,
    10000000000ull,
    100000000000ull,
    1000000000000ull,
    10000000000000ull,
    100000000000000ull,
    1000000000000000ull,
    10000000000000000ull,
    100000000000000000ull,
    1000000000000000000ull,
    10000000000000000000ull,
};

static u128 pow10_u128(int n) /* 0 <= n <= 38 */
{
    return n < 20 ? pow10_64[n] : (u128)pow10_64[19] * pow10_64[n - 19];
}

static int digits_u128(u128 v)
{
    int n = 1;
    while (n < 39 && v >= pow10_u128(n))
        n++;
    return n;
}

/* The text of R * 10^(q-k) in %g's fixed notation (R has len digits, x its decimal exponent),
 * trailing fraction zeros and a bare point removed. */
static size_t put_fixed(char *out, uint64_t r, int len, int x)
{
    char dg[24];
    for (int i = len - 1; i >= 0; i--) {
        dg[i] = (char)('0' + (int)(r % 10));
        r /= 10;
    }
    int int_digits = x + 1, end = len;
    while (end > int_digits && dg[end - 1] == '0')
        end--;
    size_t n = 0;
    for (int i = 0; i < int_digits; i++)
        out[n++] = dg[i];
    if (end > int_digits) {
        out[n++] = '.';
        for (int i = int_digits; i < end; i++)
            out[n++] = dg[i];
    }
    out[n] = '\0';
    return n;
}

/* 1 with out set, or 0 when d is outside the fast path. */
static int fast(char out[NUMFMT_MAX], double d, size_t *len_out)
{
    if (!(d >= 33554432.0 && d < 1e15)) /* [2^25, 1e15): NaN fails too */
        return 0;
    uint64_t bits;
    memcpy(&bits, &d, sizeof bits);
    uint64_t m = (bits & ((1ull << 52) - 1)) | (1ull << 52);
    int k = 1075 - (int)((bits >> 52) & 0x7ff); /* d = m / 2^k, 3 <= k <= 27 here */
    if (k < 1 || k > 27)
        return 0;
    u128 five_k = 1;
    for (int i = 0; i < k; i++)
        five_k *= 5;
    u128 dd = (u128)m * five_k; /* d = dd / 10^k exactly; one ulp of d is five_k */
    int n = digits_u128(dd);
    for (int p = 15; p <= 17; p++) {
        u128 r = dd, scaled = dd;
        int q = 0, len = n;
        if (n > p) { /* round to p digits, ties to even */
            q = n - p;
            u128 pw = pow10_u128(q), half = pw / 2;
            r = dd / pw;
            u128 rem = dd % pw;
            if (rem > half || (rem == half && (r & 1)))
                r++;
            scaled = r * pw;
            len = p;
            if (r == pow10_u128(p)) { /* 99..9 carried into one more digit */
                r /= 10;
                q++;
            }
        }
        /* read back: strtod gives d when the text is within half an ulp of d (the gap below a
         * power of two is half as wide); an exact tie goes to the even mantissa */
        int below = scaled < dd;
        u128 diff = below ? dd - scaled : scaled - dd;
        u128 twice = below && m == (1ull << 52) ? diff * 4 : diff * 2;
        if (twice < five_k || (twice == five_k && !(m & 1))) {
            int x = len - 1 + q - k; /* decimal exponent of the rounded value */
            if (x >= p || x < 0)
                return 0; /* %g would switch to an exponent: leave it to printf */
            *len_out = put_fixed(out, (uint64_t)r, len, x); /* r < 10^17 */
            return 1;
        }
    }
    return 0;
}

size_t numfmt_double(char out[NUMFMT_MAX], double d)
{
    size_t n;
    if (fast(out, d, &n))
        return n;
    return numfmt_double_slow(out, d);
}

size_t numfmt_u64(uint64_t v, char *out)
{
    char tmp[20];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    for (size_t i = 0; i < n; i++)
        out[i] = tmp[n - 1 - i];
    return n;
}
