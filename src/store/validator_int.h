/* validator_int: the one walk over a value that validator.c and validator_convex.c share. The walk
 * decides what matches (the rules are the same for both); a `struct wording` decides how a failure
 * reads: Vireo's one sentence ("argument `a.b`: expected string, got number") or Convex's
 * ValidationError texts. Each wording function fills c->err and returns -1. */
#ifndef VR_STORE_VALIDATOR_INT_H
#define VR_STORE_VALIDATOR_INT_H

#include <jansson.h>

#include "base/buf.h"
#include "store/validator.h"
#include "store/value.h"

#define VALIDATOR_MAX_DEPTH 64

/* A step down into a value, as the path shows it. */
enum vstep {
    STEP_FIELD,  /* an object's field `name` */
    STEP_INDEX,  /* an array's element `i` */
    STEP_KEYS,   /* a record's key (the key itself is the value checked) */
    STEP_VALUES, /* the value under a record's key `name` */
};

/* Why a value could not be checked against a validator at all. */
enum vbad {
    BAD_DEPTH,     /* nested more than VALIDATOR_MAX_DEPTH */
    BAD_VALIDATOR, /* the validator has no type */
    BAD_VALUE,     /* a malformed '$' object */
    BAD_UNDEFINED, /* no value, with wording->undefined_first */
    BAD_TYPE,      /* the validator's type is unknown */
};

struct vcheck;

struct wording {
    int sorted;          /* visit object fields in key order (Convex's objects are ordered maps) */
    int undefined_first; /* a missing value fails before its validator is looked at */
    int lone_member;     /* a union of one member is that member (its failure is the member's) */
    /* appends a field, record key or record value step to the path (the walk writes "[i]") */
    void (*step)(struct buf *path, enum vstep kind, const char *name, size_t len);
    int (*bad)(struct vcheck *c, const json_t *v, const json_t *value, enum vbad why);
    int (*mismatch)(struct vcheck *c, const json_t *v, const json_t *value, enum value_type got);
    /* `have` is the id's table, NULL when the string is not an id */
    int (*wrong_id)(struct vcheck *c, const json_t *v, const json_t *value, const char *want,
                    const char *have);
    int (*not_literal)(struct vcheck *c, const json_t *v, const json_t *value, enum value_type got);
    /* an object validator's `fields` and the object `value` */
    int (*missing)(struct vcheck *c, const json_t *fields, const json_t *value, const char *name,
                   size_t len);
    int (*extra)(struct vcheck *c, const json_t *fields, const json_t *value, const char *name,
                 size_t len);
    /* c->err holds the key's own failure (or nothing if the key could not be made a string) */
    int (*bad_key)(struct vcheck *c, const json_t *keys, const char *name, size_t len);
    /* no member of union `v` matched; `same` is the last member of the value's own kind and
     * `nsame` how many there are */
    int (*no_member)(struct vcheck *c, const json_t *v, const json_t *value, enum value_type got,
                     const json_t *same, int nsame, int depth);
};

struct vcheck {
    const struct validator_ctx *ctx;
    const struct wording *w;
    struct buf path;
    struct buf *err;
};

/* A validator's type with the aliases folded ("float64" = number, "bigint" = int64); NULL when
 * it has none. */
const char *validator_type(const json_t *v);
/* A field spec is {"fieldType": v, "optional": b}; a bare validator is accepted too. */
const json_t *validator_field_type(const json_t *spec, int *optional);
/* The keys of an object, sorted by strcmp. The caller frees the array (vr_free). */
const char **validator_sorted_keys(const json_t *o, size_t *n);

/* Checks `value` (NULL = missing) at depth `depth`; 0, or -1 with the wording's message. */
int validator_walk(struct vcheck *c, const json_t *v, const json_t *value, int depth);
/* The whole check: a fresh path, the walk, the path released. */
int validator_run(const struct wording *w, const struct validator_ctx *ctx, const json_t *validator,
                  const json_t *value, struct buf *err);

#endif
