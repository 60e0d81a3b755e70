/* rand: RAND_bytes wrappers. */
#include "base/rand.h"

#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void fill(void *out, size_t n)
{
    if (RAND_bytes(out, (int)n) != 1) {
        fprintf(stderr, "vireo: system random number generator failed\n");
        abort();
    }
}

/* Small requests (ids, seeds: every insert needs one) come from a per-thread pool refilled
 * 4 KiB at a time: one RAND_bytes call costs as much as several inserts. The pool holds
 * OpenSSL's CSPRNG output, each byte handed out once, then wiped. */
static _Thread_local unsigned char pool[4096];
static _Thread_local size_t pool_left;

void rand_bytes(void *out, size_t n)
{
    if (n > sizeof pool / 4) {
        fill(out, n);
        return;
    }
    if (n > pool_left) {
        fill(pool, sizeof pool);
        pool_left = sizeof pool;
    }
    unsigned char *src = pool + (sizeof pool - pool_left);
    memcpy(out, src, n);
    memset(src, 0, n);
    pool_left -= n;
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
