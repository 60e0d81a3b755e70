/* rand: cryptographically strong random bytes (OpenSSL) for ids, keys and seeds. */
#ifndef VR_BASE_RAND_H
#define VR_BASE_RAND_H

#include <stddef.h>
#include <stdint.h>

void rand_bytes(void *out, size_t n); /* aborts if the system RNG fails: ids must be unguessable */
uint64_t rand_u64(void);
/* Writes 2*n lowercase hex characters plus NUL for n random bytes; out needs 2*n+1 bytes. */
void rand_hex(char *out, size_t n);

#endif
