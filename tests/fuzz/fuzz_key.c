/* fuzz_key: libFuzzer target for the key encoding. Input bytes are parsed as JSON (as the store
 * parses values) and must encode, decode and re-encode to identical bytes; the raw bytes are also
 * fed to the strict decoder, whose successful results must re-encode to exactly what it consumed. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "store/key.h"
#include "store/value.h"

#include "base/banned.h"

static void roundtrip(const json_t *v)
{
    struct buf a = BUF_INIT(1 << 22), b = BUF_INIT(1 << 22);
    if (key_encode_value(&a, v) == 0) {
        json_t *d = NULL;
        int undef = 0;
        long n = key_decode_value((const unsigned char *)a.data, a.len, &d, &undef);
        if (n != (long)a.len)
            abort();
        if (key_encode_value(&b, undef ? NULL : d) != 0 || b.len != a.len ||
            memcmp(a.data, b.data, a.len) != 0)
            abort();
        json_decref(d);
    }
    buf_release(&a);
    buf_release(&b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    json_t *v = json_loadb((const char *)data, size,
                           JSON_DECODE_ANY | JSON_DECODE_INT_AS_REAL | JSON_REJECT_DUPLICATES |
                               JSON_ALLOW_NUL,
                           NULL);
    if (v) {
        roundtrip(v);
        json_decref(v);
    }
    json_t *d = NULL;
    int undef = 0;
    long n = key_decode_value(data, size, &d, &undef);
    if (n >= 0) {
        struct buf b = BUF_INIT(1 << 22);
        if (n > (long)size || key_encode_value(&b, undef ? NULL : d) != 0 || b.len != (size_t)n ||
            memcmp(b.data, data, (size_t)n) != 0)
            abort();
        buf_release(&b);
        json_decref(d);
    }
    return 0;
}
