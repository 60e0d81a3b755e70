/* key: the order-preserving binary encoding of index keys. memcmp order of two encodings equals
 * Convex's order of the values (value.h): type first, then within the type numbers by IEEE total
 * order (-NaN < -Inf < ... < -0 < 0 < ... < Inf < NaN), int64 numerically, strings and bytes
 * bytewise (UTF-8 code point order), arrays and objects lexicographically element by element
 * (objects by their fields in key order, then value), a prefix sorting first.
 * Every encoded value starts with a type tag byte in 0x10..0x9f and never contains a run that
 * could be mistaken for the end of the value, so a tuple of values encodes as the concatenation
 * of its parts, and appending 0xff to a prefix gives an upper bound for every key with that
 * prefix. */
#ifndef VR_STORE_KEY_H
#define VR_STORE_KEY_H

#include <jansson.h>

#include "base/buf.h"

#define KEY_PREFIX_END 0xff

/* Appends the encoding of v (NULL = undefined) to out. 0, -E2BIG, or -EINVAL for a malformed
 * '$'-object or nesting deeper than 64. */
int key_encode_value(struct buf *out, const json_t *v);

/* Decodes one value from (p, n) into a new json_t (undefined decodes to NULL with *undef = 1).
 * Returns the bytes consumed or -1. Used by tests, fuzzers and debugging tools. */
long key_decode_value(const unsigned char *p, size_t n, json_t **out, int *undef);

#endif
