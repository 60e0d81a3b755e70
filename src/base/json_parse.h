/* json_parse: jansson's json_loadb, faster on the text Vireo parses most (sync frames, documents).
 *
 * jansson's lexer reads one character at a time through a stream callback and took ~2.3 us for
 * an 88-byte mutation frame here (~10 % of the loop thread under a stream of mutations). This
 * parser handles the common subset directly: ASCII or valid UTF-8 text, the short escapes, no
 * `\u` escape, no duplicate key, at most 64 levels deep. Anything else — every error included —
 * goes to json_loadb itself, so the verdict, the error message and the value are always
 * jansson's (tests/fuzz/fuzz_json.c checks that both agree on whatever this parser accepts). */
#ifndef VR_BASE_JSON_PARSE_H
#define VR_BASE_JSON_PARSE_H

#include <jansson.h>
#include <stddef.h>

/* As json_loadb(p, n, flags, err); flags may hold JSON_DECODE_INT_AS_REAL,
 * JSON_REJECT_DUPLICATES, JSON_ALLOW_NUL and JSON_DECODE_ANY (others go to jansson). */
json_t *json_parse(const char *p, size_t n, size_t flags, json_error_t *err);

/* The fast parser alone: NULL when it leaves the text to jansson (for the fuzz target). */
json_t *json_parse_fast(const char *p, size_t n, size_t flags);

/* Convex's value limits, which a client's message is held to before it is parsed: building a
 * tree of a million fields in one object took the loop ~1.4 s (jansson's hash table), while the
 * same bytes in objects of 1,024 fields take ~0.2 s. */
#define JSON_MAX_FIELDS 1024 /* fields of one object */
#define JSON_MAX_ITEMS 8192  /* elements of one array */
/* Counts the fields of every object and the elements of every array in the text p[0..n), without
 * parsing or allocating: 0 when none has more than max_fields / max_items, else -1 with the
 * reason in why. Text that is not JSON may pass: the parser refuses it. */
int json_check_widths(const char *p, size_t n, size_t max_fields, size_t max_items, char *why,
                      size_t why_len);

#endif
