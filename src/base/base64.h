/* base64: standard (RFC 4648 §4) and URL-safe (§5) encoding and decoding. */
#ifndef VR_BASE_BASE64_H
#define VR_BASE_BASE64_H

#include <stddef.h>

#include "base/buf.h"

/* Appends the encoding of (p, n) to `out`; `url` selects the URL-safe alphabet without padding. */
int base64_encode(struct buf *out, const void *p, size_t n, int url);
/* Decodes either alphabet, padding optional; returns decoded length or -1 on invalid input.
 * `out` must hold at least 3 * ((n + 3) / 4) bytes. */
long base64_decode(unsigned char *out, const char *s, size_t n);

#endif
