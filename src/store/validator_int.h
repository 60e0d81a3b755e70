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

/* A validator read once into a tree (validator_compile), so that a check does not look its keys
 * up and compare its type names again for every value: the argument and document checks of every
 * call walk it. Each node keeps the JSON it came from (borrowed: the tree lives no longer than
 * it), which the wordings print. A node deeper than VALIDATOR_MAX_DEPTH has its kind only: the
 * walk fails before it looks further. */
enum vkind {
    VK_NOTYPE, /* no type (or no validator at all: NULL) */
    VK_UNKNOWN,
    VK_ANY,
    VK_STRING,
    VK_NUMBER,
    VK_INT64,
    VK_BOOLEAN,
    VK_NULL,
    VK_BYTES,
    VK_ID,
    VK_LITERAL,
    VK_ARRAY,
    VK_OBJECT,
    VK_RECORD,
    VK_UNION,
};

struct vfield {
    const char *name; /* borrowed from the validator's JSON */
    size_t len;
    int optional;
    struct validator *type;
};

struct validator {
    enum vkind kind;
    enum value_type scalar; /* a scalar's value type (VT_INVALID: not a scalar) */
    const json_t *src;      /* the validator's JSON, or NULL */
    const json_t *val;      /* its "value": an object's fields, a union's members, a literal */
    const char *table;      /* v.id's tableName (NULL: none) */
    struct validator *sub;  /* an array's elements, a record's values */
    struct validator *keys; /* a record's keys */
    size_t n;               /* fields or members */
    struct vfield *fields;  /* in the JSON's order */
    size_t *sorted;         /* fields' indices in key order (sorted wordings) */
    struct validator **members;
    struct buf literal;     /* a literal's key encoding (key.h) */
    int literal_ok;         /* ... which could be made */
};

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
                     const struct validator *same, int nsame, int depth);
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
/* Appends a name or path the caller sent (a field name, a record key), cut at a character
 * boundary past VALIDATOR_NAME_SHOWN bytes with "…": a message naming a 64 KiB key would not
 * fit the caller's error buffer, and would then say nothing. */
#define VALIDATOR_NAME_SHOWN 200
void validator_append_name(struct buf *b, const char *name, size_t len);

/* Checks `value` (NULL = missing) at depth `depth`; 0, or -1 with the wording's message. */
int validator_walk(struct vcheck *c, const struct validator *v, const json_t *value, int depth);
/* The whole check: a fresh path, the walk, the path released. */
int validator_run(const struct wording *w, const struct validator_ctx *ctx,
                  const struct validator *validator, const json_t *value, struct buf *err);
/* validator_run over a tree made for this one check. */
int validator_run_json(const struct wording *w, const struct validator_ctx *ctx,
                       const json_t *validator, const json_t *value, struct buf *err);

#endif
