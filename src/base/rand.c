/* rand: RAND_bytes wrappers. */
#include "base/rand.h"

#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>

void rand_bytes(void *out, size_t n)
{
    if (RAND_bytes(out, (int)n) != 1) {
        fprintf(stderr, "vireo: system random number generator failed\n");
        abort();
    }
}

uint64_t rand_u64(void)
{
    uint64_t v;
    rand_bytes(&v, sizeof v);
    return v;
}

void rand_hex(char *out, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    unsigned char tmp[64];
    size_t done = 0;
    while (done < n) {
        size_t k = n - done < sizeof tmp ? n - done : sizeof tmp;
        rand_bytes(tmp, k);
        for (size_t i = 0; i < k; i++) {
            out[2 * (done + i)] = hex[tmp[i] >> 4];
            out[2 * (done + i) + 1] = hex[tmp[i] & 15];
        }
        done += k;
    }
    out[2 * n] = '\0';
}
