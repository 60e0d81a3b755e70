/* fuzz_ws: ws_frame_parse, ws_unmask and ws_utf8_valid on arbitrary bytes (exact-size heap
 * copies so ASan catches over-reads). Checks: a complete frame's length adds up and every
 * shorter prefix is partial or the same error; unmasking twice restores the payload; unmasking
 * in two pieces with an offset equals one pass; the UTF-8 validator agrees with a plain
 * reference decoder; server frame headers parse back to what was written. */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "net/ws.h"

static int ref_utf8(const unsigned char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        uint32_t c = s[i];
        size_t k;
        uint32_t min;
        if (c < 0x80) { i++; continue; }
        else if ((c & 0xe0) == 0xc0) { k = 1; c &= 0x1f; min = 0x80; }
        else if ((c & 0xf0) == 0xe0) { k = 2; c &= 0x0f; min = 0x800; }
        else if ((c & 0xf8) == 0xf0) { k = 3; c &= 0x07; min = 0x10000; }
        else return 0;
        if (n - i - 1 < k)
            return 0;
        for (size_t j = 1; j <= k; j++) {
            if ((s[i + j] & 0xc0) != 0x80)
                return 0;
            c = c << 6 | (s[i + j] & 0x3f);
        }
        if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
            return 0;
        i += k + 1;
    }
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    unsigned char *p = malloc(size ? size : 1);
    memcpy(p, data, size);
    for (int require_mask = 0; require_mask < 2; require_mask++) {
        struct ws_frame f;
        long r = ws_frame_parse(p, size, require_mask, &f);
        assert(r <= (long)size);
        if (r > 0) {
            assert((size_t)r == f.header_len + f.payload_len);
            assert(f.payload == p + f.header_len);
            assert(!require_mask || f.masked);
            if (f.opcode >= 8)
                assert(f.fin && f.payload_len <= 125);
            for (size_t cut = 0; cut < (size_t)r; cut += 1 + (size_t)r / 7) {
                struct ws_frame g;
                assert(ws_frame_parse(p, cut, require_mask, &g) == WS_PARTIAL);
            }
            size_t n = (size_t)f.payload_len;
            unsigned char *a = malloc(n ? n : 1), *b = malloc(n ? n : 1);
            memcpy(a, f.payload, n);
            memcpy(b, f.payload, n);
            ws_unmask(a, n, f.mask, 0);
            size_t half = n / 3;
            ws_unmask(b, half, f.mask, 0);
            ws_unmask(b + half, n - half, f.mask, half);
            assert(memcmp(a, b, n) == 0);
            assert(ws_utf8_valid(a, n) == ref_utf8(a, n));
            ws_unmask(b, n, f.mask, 0);
            assert(memcmp(b, f.payload, n) == 0);
            free(a);
            free(b);
        } else if (r < 0) {
            assert(r == -WS_CLOSE_PROTOCOL_ERROR);
        }
    }
    assert(ws_utf8_valid(p, size) == ref_utf8(p, size));
    unsigned char h[10];
    size_t hl = ws_frame_header(h, WS_OP_BINARY, 1, size);
    struct ws_frame g;
    long r = ws_frame_parse(h, hl, 0, &g);
    assert(g.header_len == hl && g.payload_len == size && (r == (long)hl || r == WS_PARTIAL));
    free(p);
    return 0;
}
