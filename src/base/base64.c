/* base64: encoder and a decoder that accepts both alphabets. */
#include "base/base64.h"

static const char std_alpha[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char url_alpha[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

int base64_encode(struct buf *out, const void *p, size_t n, int url)
{
    const unsigned char *s = p;
    const char *a = url ? url_alpha : std_alpha;
    if (buf_grow(out, (n + 2) / 3 * 4) < 0)
        return -1;
    size_t i = 0;
    char q[4];
    for (; i + 3 <= n; i += 3) {
        unsigned v = (unsigned)s[i] << 16 | (unsigned)s[i + 1] << 8 | s[i + 2];
        q[0] = a[v >> 18]; q[1] = a[(v >> 12) & 63]; q[2] = a[(v >> 6) & 63]; q[3] = a[v & 63];
        buf_append(out, q, 4);
    }
    if (i < n) {
        unsigned v = (unsigned)s[i] << 16 | (i + 1 < n ? (unsigned)s[i + 1] << 8 : 0);
        q[0] = a[v >> 18];
        q[1] = a[(v >> 12) & 63];
        q[2] = i + 1 < n ? a[(v >> 6) & 63] : '=';
        q[3] = '=';
        size_t k = 4;
        if (url)
            k = i + 1 < n ? 3 : 2;
        buf_append(out, q, k);
    }
    return 0;
}

static int val(unsigned char c)
{
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+' || c == '-') return 62;
    if (c == '/' || c == '_') return 63;
    return -1;
}

long base64_decode(unsigned char *out, const char *s, size_t n)
{
    while (n > 0 && s[n - 1] == '=')
        n--;
    if (n % 4 == 1)
        return -1;
    long o = 0;
    unsigned acc = 0;
    int bits = 0;
    for (size_t i = 0; i < n; i++) {
        int v = val((unsigned char)s[i]);
        if (v < 0)
            return -1;
        acc = (acc << 6) | (unsigned)v;
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            out[o++] = (unsigned char)(acc >> bits);
        }
    }
    return o;
}
