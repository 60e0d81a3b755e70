/* key: the order-preserving binary encoding of index keys. memcmp order of two encodings equals
 * Convex's order of the values (value.h): type first, then within the type numbers by IEEE total
 * order (-NaN < -Inf < ... < -0 < 0 < ... < Inf < NaN), int64 numerically, strings and bytes
 * bytewise (UTF-8 code point order), arrays lexicographically element by element, objects
 * lexicographically field by field in SORTED key order (a field compares by its key bytes, then
 * by its value), a prefix sorting first.
 * Layout: tag 0x10 undefined, 0x20 null, 0x30 int64 (8 bytes big-endian, sign bit flipped), 0x40
 * number (IEEE bits big-endian; negative: all bits flipped, else sign bit flipped), 0x50 false,
 * 0x51 true, 0x60 string and 0x70 bytes (0x00 escaped as 0x00 0xff, terminated by 0x00), 0x80
 * array (elements, then 0x00), 0x90 object (per field in key order: the key encoded as a string
 * value, then the value; then 0x00).
 * Every encoded value starts with a type tag byte in 0x10..0x9f and never contains a run that
 * could be mistaken for the end of the value, so a tuple of values encodes as the concatenation
 * of its parts, and appending 0xff to a prefix gives an upper bound for every key with that
 * prefix. */
#ifndef VR_STORE_KEY_H
#define VR_STORE_KEY_H

#include <jansson.h>

#include "base/buf.h"

#define KEY_PREFIX_END 0xff
#define KEY_MAX_DEPTH 64

enum {
    KEY_TAG_UNDEFINED = 0x10,
    KEY_TAG_NULL = 0x20,
    KEY_TAG_INT64 = 0x30,
    KEY_TAG_NUMBER = 0x40,
    KEY_TAG_FALSE = 0x50,
    KEY_TAG_TRUE = 0x51,
    KEY_TAG_STRING = 0x60,
    KEY_TAG_BYTES = 0x70,
    KEY_TAG_ARRAY = 0x80,
    KEY_TAG_OBJECT = 0x90,
};

/* Appends the encoding of v (NULL = undefined) to out. 0, -E2BIG, or -EINVAL for a malformed
 * '$'-object or nesting deeper than 64. */
int key_encode_value(struct buf *out, const json_t *v);
/* Appends the encoding of the string (s, len), as key_encode_value of that JSON string: 0 or
 * -E2BIG. */
int key_encode_string(struct buf *out, const char *s, size_t len);
/* ... and of the number d (finite: a JSON number), as key_encode_value of json_real(d). */
int key_encode_number(struct buf *out, double d);

/* Decodes one value from (p, n) into a new json_t (undefined decodes to NULL with *undef = 1).
 * Returns the bytes consumed or -1. Strict: only canonical encodings decode, so re-encoding a
 * decoded value gives back exactly the consumed bytes. Numbers that plain JSON cannot carry (-0,
 * ±Inf, NaN) decode to "$float" wrappers, int64 to "$integer", bytes to "$bytes". Used by tests,
 * fuzzers and debugging tools. */
long key_decode_value(const unsigned char *p, size_t n, json_t **out, int *undef);

#endif
