/* validator: checks Vireo values (value.h JSON) against validators in Convex's JSON form, the
 * form the prelude's v.* builders export:
 *   {"type":"string"} | "number" | "boolean" | "null" | "int64" | "bytes" | "any"
 *   {"type":"id","tableName":"messages"}
 *   {"type":"literal","value":<value>}
 *   {"type":"array","value":<validator>}
 *   {"type":"object","value":{"<field>":{"fieldType":<validator>,"optional":<bool>}, ...}}
 *   {"type":"record","keys":<validator>,"values":{"fieldType":<validator>,"optional":false}}
 *   {"type":"union","value":[<validator>, ...]}
 * A failure fills `err` with one sentence a person can act on, naming the path and the expected
 * and actual types: "field `author.name`: expected string, got number". */
#ifndef VR_STORE_VALIDATOR_H
#define VR_STORE_VALIDATOR_H

#include <jansson.h>

#include "base/buf.h"

/* Resolves an id string to its table name; returns NULL when the id is malformed. Lets the
 * validator check v.id("table") without knowing the store. */
typedef const char *(*validator_id_table_fn)(void *arg, const char *id, size_t len);

struct validator_ctx {
    const char *what; /* "field" or "argument": the noun used in messages */
    validator_id_table_fn id_table;
    void *id_table_arg;
};

/* A validator read into the form the checks walk (validator_int.h); it borrows `validator`,
 * which must outlive it. Never NULL (NULL reads as a validator without a type). */
struct validator;
struct validator *validator_compile(const json_t *validator);
void validator_free(struct validator *v);

/* Checks that `validator` itself is well-formed. 0 or -1 with a message in err. */
int validator_check_schema(const json_t *validator, struct buf *err);

/* 0 when `value` (NULL = missing) satisfies `validator`, else -1 with the message in err. */
int validator_check(const struct validator_ctx *ctx, const json_t *validator, const json_t *value,
                    struct buf *err);
/* ... against a compiled validator (validator_compile): the same answer and message */
int validator_check_compiled(const struct validator_ctx *ctx, const struct validator *validator,
                             const json_t *value, struct buf *err);

/* As validator_check, but the error is worded as Convex's backend words it (validator_convex.c):
 *   Object is missing the required field `count`. Consider wrapping the field validator in
 *   `v.optional(...)` if this is expected.\n\nObject: {total: 3.0}\nValidator: v.object({...})
 *   Value does not match validator.\nPath: .count\nValue: "3"\nValidator: v.float64()
 * Used for `returns` validators, whose errors Convex apps already know. */
int validator_check_convex(const struct validator_ctx *ctx, const json_t *validator,
                           const json_t *value, struct buf *err);
int validator_check_convex_compiled(const struct validator_ctx *ctx,
                                    const struct validator *validator, const json_t *value,
                                    struct buf *err);

#endif
