/* value: how Vireo values travel as JSON between JavaScript, the network and C (Convex's JSON
 * encoding). Plain JSON covers null, boolean, finite numbers, strings, arrays and objects. Three
 * wrapper objects carry the rest (a document field name may never start with '$', so they are
 * unambiguous):
 *   {"$integer": "<base64 of the 8-byte little-endian two's complement>"}   int64 (JS BigInt)
 *   {"$bytes":   "<base64>"}                                               bytes (ArrayBuffer)
 *   {"$float":   "<base64 of the 8-byte little-endian IEEE 754 double>"}   NaN, ±Infinity, -0
 * C code parses this JSON with jansson using JSON_DECODE_INT_AS_REAL, so every plain number is a
 * json_real. */
#ifndef VR_STORE_VALUE_H
#define VR_STORE_VALUE_H

#include <jansson.h>
#include <stdint.h>

#include "base/buf.h"

/* Convex's type order: undefined < null < int64 < number < boolean < string < bytes < array <
 * object. VT_UNDEFINED stands for a missing field. */
enum value_type {
    VT_UNDEFINED,
    VT_NULL,
    VT_INT64,
    VT_NUMBER,
    VT_BOOLEAN,
    VT_STRING,
    VT_BYTES,
    VT_ARRAY,
    VT_OBJECT,
    VT_INVALID /* a '$'-object that is malformed */
};

/* Classifies v (NULL means undefined). For VT_INT64 and VT_NUMBER the decoded payload is
 * returned through the optional out-parameters (a plain json_integer counts as a number). An
 * object with a '$'-key that is not exactly one well-formed wrapper is VT_INVALID. Shallow: the
 * elements of arrays and objects are not looked at (see value_check). */
enum value_type value_type_of(const json_t *v, int64_t *i64_out, double *num_out);
const char *value_type_name(enum value_type t); /* "string", "int64", ... as users write them */

/* Appends the decoded payload of a {"$bytes": ...} wrapper to out. 0, -EINVAL if v is not a
 * well-formed bytes wrapper, -E2BIG. */
int value_bytes(const json_t *v, struct buf *out);

/* Deep check that v is a valid Vireo value: no VT_INVALID anywhere, no object field name starting
 * with '$', at most VALUE_MAX_DEPTH arrays and objects inside one another (v itself counted:
 * `{"a": [1]}` is 2 deep; the prelude's MAX_DEPTH counts the same). 0, or -1 with a message naming
 * the path in err ("field `a.b[2]`: ..." with what = "field"), or VALUE_TOO_DEEP (also < 0) and
 * "... nested more than 64 levels deep" for too deep a value. */
#define VALUE_MAX_DEPTH 64
#define VALUE_TOO_DEEP (-2)
int value_check(const json_t *v, const char *what, struct buf *err);

#endif
