/* json_write: a jansson value as compact JSON text, numbers as short as they read back: a real
 * as numfmt_double writes it (the shortest of %.15g, %.16g, %.17g that is the same double), not
 * jansson's 17 digits ("0.1", not "0.10000000000000001"). */
#ifndef VR_BASE_JSON_WRITE_H
#define VR_BASE_JSON_WRITE_H

#include <jansson.h>

#include "base/buf.h"

/* A real without '.' or exponent gets ".0" (Convex's export JSON tells a float64 so). */
#define JSON_WRITE_REAL_DOT 1

/* Appends v to out: integers in decimal, strings escaped as buf_append_json_str does, object
 * keys in the object's order. 0, or -E2BIG past out's limit. */
int json_write(struct buf *out, const json_t *v, int flags);

#endif
