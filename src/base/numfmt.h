/* numfmt: doubles as the shortest of "%.15g", "%.16g", "%.17g" that reads back as the same
 * double (the text documents and validator messages carry), without printf on the hot path. */
#ifndef VR_BASE_NUMFMT_H
#define VR_BASE_NUMFMT_H

#include <stddef.h>
#include <stdint.h>

#define NUMFMT_MAX 40 /* bytes numfmt_double writes at most, NUL included */

/* Writes d into out (NUL-terminated) exactly as the first of %.15g, %.16g, %.17g that strtod
 * reads back as d; returns its length. Finite or not, any double. */
size_t numfmt_double(char out[NUMFMT_MAX], double d);

/* The same through snprintf and strtod: the reference numfmt_double must equal. */
size_t numfmt_double_slow(char out[NUMFMT_MAX], double d);

/* The decimal digits of v into out (at least 20 bytes, no NUL added); returns their count. */
size_t numfmt_u64(uint64_t v, char *out);

#endif
