/* fuzz_json: libFuzzer target for base/json_parse. Whatever the fast parser accepts, under each
 * set of flags Vireo parses with, jansson's json_loadb must accept too and parse to the same
 * value: the same types (integer or real), numbers to the bit, keys in the same order. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/json_parse.h"

#include "base/banned.h"

static void same(const char *p, size_t n, size_t flags)
{
    json_t *fast = json_parse_fast(p, n, flags);
    if (!fast)
        return;
    json_t *ref = json_loadb(p, n, flags, NULL);
    if (!ref || !json_equal(fast, ref))
        abort();
    size_t dump = JSON_COMPACT | JSON_ENCODE_ANY | JSON_REAL_PRECISION(17);
    char *a = json_dumps(fast, dump), *b = json_dumps(ref, dump);
    if (!a || !b || strcmp(a, b) != 0)
        abort();
    free(a);
    free(b);
    json_decref(fast);
    json_decref(ref);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *p = (const char *)data;
    same(p, size, JSON_DECODE_INT_AS_REAL | JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL);
    same(p, size, JSON_DECODE_INT_AS_REAL | JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL | JSON_DECODE_ANY);
    same(p, size, JSON_REJECT_DUPLICATES);
    same(p, size, JSON_ALLOW_NUL | JSON_DECODE_ANY);
    same(p, size, 0);
    char why[160]; /* the width check reads nothing past the text, whatever it is */
    (void)json_check_widths(p, size, 3, 5, why, sizeof why);
    return 0;
}
