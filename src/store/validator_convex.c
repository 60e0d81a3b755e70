/* validator_convex: words the failures of the validator walk (validator_walk.c) as Convex's
 * backend words them (its ValidationError texts: "Value does not match validator.", "Object is
 * missing the required field ...", with "Path: .a[2]", the value and the validator printed as
 * Convex prints them), so that a function's `returns` failure reads the same on Vireo as on
 * Convex. Convex's order: objects' fields in key order, records' keys (".keys()") then values
 * (".values()"). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/mem.h"
#include "store/validator_int.h"
#include "store/value.h"

#include "base/banned.h"

#define MAX_DEPTH VALIDATOR_MAX_DEPTH
#define SHOW_MAX 2048 /* a value or validator shown in an error is cut past this many bytes */

/* A string as Rust's {:?} prints it. */
static void show_string(struct buf *b, const char *s, size_t n)
{
    buf_append_byte(b, '"');
    for (size_t i = 0; i < n && b->len < SHOW_MAX; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\')
            buf_appendf(b, "\\%c", c);
        else if (c == '\n')
            buf_append_str(b, "\\n");
        else if (c == '\r')
            buf_append_str(b, "\\r");
        else if (c == '\t')
            buf_append_str(b, "\\t");
        else if (c < 0x20 || c == 0x7f)
            buf_appendf(b, "\\u{%x}", c);
        else
            buf_append_byte(b, (char)c);
    }
    buf_append_byte(b, '"');
}

/* A float64 as Rust's {:?} prints it: 3.0, 0.1, 1e21, NaN, inf, -0.0. */
static void show_float(struct buf *b, double d)
{
    char tmp[48];
    if (isnan(d)) {
        buf_append_str(b, "NaN");
        return;
    }
    if (isinf(d)) {
        buf_append_str(b, d < 0 ? "-inf" : "inf");
        return;
    }
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(tmp, sizeof tmp, "%.*g", prec, d);
        if (strtod(tmp, NULL) == d)
            break;
    }
    char *e = strchr(tmp, 'e');
    double a = fabs(d);
    if (a != 0 && (a >= 1e16 || a < 1e-4)) { /* Rust's exponent form: 1e16, 1.5e-7 */
        if (e) {
            *e = '\0';
            long exp = strtol(e + 1, NULL, 10);
            buf_appendf(b, "%se%ld", tmp, exp);
            return;
        }
    }
    if (e) /* %g chose an exponent where Rust writes the digits out */
        snprintf(tmp, sizeof tmp, "%.17g", d);
    if (!strchr(tmp, '.') && !strchr(tmp, 'e'))
        buf_appendf(b, "%s.0", tmp);
    else
        buf_append_str(b, tmp);
}

static void show_value(struct buf *b, const json_t *v, int depth)
{
    int64_t i64;
    double d;
    if (b->len >= SHOW_MAX || depth > MAX_DEPTH) {
        buf_append_str(b, "...");
        return;
    }
    switch (value_type_of(v, &i64, &d)) {
    case VT_NULL:
        buf_append_str(b, "null");
        break;
    case VT_INT64:
        buf_appendf(b, "%lld", (long long)i64);
        break;
    case VT_NUMBER:
        show_float(b, d);
        break;
    case VT_BOOLEAN:
        buf_append_str(b, json_is_true(v) ? "true" : "false");
        break;
    case VT_STRING:
        show_string(b, json_string_value(v), json_string_length(v));
        break;
    case VT_BYTES: {
        struct buf raw = BUF_INIT(1 << 20);
        value_bytes(v, &raw);
        buf_appendf(b, "b\"<%zu bytes>\"", raw.len);
        buf_release(&raw);
        break;
    }
    case VT_ARRAY:
        buf_append_byte(b, '[');
        for (size_t i = 0; i < json_array_size(v); i++) {
            if (i)
                buf_append_str(b, ", ");
            if (b->len >= SHOW_MAX) {
                buf_append_str(b, "...");
                break;
            }
            show_value(b, json_array_get(v, i), depth + 1);
        }
        buf_append_byte(b, ']');
        break;
    case VT_OBJECT: {
        size_t n;
        const char **k = validator_sorted_keys(v, &n);
        buf_append_byte(b, '{');
        for (size_t i = 0; i < n; i++) {
            if (b->len >= SHOW_MAX) {
                buf_append_str(b, ", ...");
                break;
            }
            buf_appendf(b, "%s%s: ", i ? ", " : "", k[i]);
            show_value(b, json_object_get(v, k[i]), depth + 1);
        }
        buf_append_byte(b, '}');
        vr_free(k);
        break;
    }
    default:
        buf_append_str(b, "undefined");
    }
}

static void show_validator(struct buf *b, const json_t *v, int depth);

static void show_object_validator(struct buf *b, const json_t *fields, int depth)
{
    size_t n;
    const char **k = validator_sorted_keys(fields, &n);
    buf_append_str(b, "v.object({");
    for (size_t i = 0; i < n; i++) {
        int optional;
        const json_t *ft = validator_field_type(json_object_get(fields, k[i]), &optional);
        buf_appendf(b, "%s%s: %s", i ? ", " : "", k[i], optional ? "v.optional(" : "");
        show_validator(b, ft, depth + 1);
        if (optional)
            buf_append_byte(b, ')');
    }
    buf_append_str(b, "})");
    vr_free(k);
}

/* A validator as Convex prints it: v.object({a: v.string(), b: v.optional(v.float64())}). */
static void show_validator(struct buf *b, const json_t *v, int depth)
{
    const char *t = validator_type(v);
    const json_t *val = json_is_object(v) ? json_object_get(v, "value") : NULL;
    if (!t || b->len >= SHOW_MAX || depth > MAX_DEPTH) {
        buf_append_str(b, "...");
        return;
    }
    if (!strcmp(t, "number")) {
        buf_append_str(b, "v.float64()");
    } else if (!strcmp(t, "id")) {
        buf_appendf(b, "v.id(\"%s\")", json_string_value(json_object_get(v, "tableName")));
    } else if (!strcmp(t, "literal")) {
        int64_t i64;
        double d;
        enum value_type lt = value_type_of(val, &i64, &d);
        buf_append_str(b, "v.literal(");
        if (lt == VT_INT64)
            buf_append_str(b, "<bigint>");
        else if (lt == VT_NUMBER && !isfinite(d))
            buf_append_str(b, "<number>");
        else if (lt == VT_NUMBER)
            show_float(b, d);
        else if (lt == VT_STRING)
            show_string(b, json_string_value(val), json_string_length(val));
        else
            show_value(b, val, depth + 1);
        buf_append_byte(b, ')');
    } else if (!strcmp(t, "array")) {
        buf_append_str(b, "v.array(");
        show_validator(b, val, depth + 1);
        buf_append_byte(b, ')');
    } else if (!strcmp(t, "record")) {
        buf_append_str(b, "v.record(");
        show_validator(b, json_object_get(v, "keys"), depth + 1);
        buf_append_str(b, ", ");
        show_validator(b, validator_field_type(json_object_get(v, "values"), NULL), depth + 1);
        buf_append_byte(b, ')');
    } else if (!strcmp(t, "object")) {
        show_object_validator(b, val, depth);
    } else if (!strcmp(t, "union")) {
        buf_append_str(b, "v.union(");
        for (size_t i = 0; i < json_array_size(val); i++) {
            if (i)
                buf_append_str(b, ", ");
            show_validator(b, json_array_get(val, i), depth + 1);
        }
        buf_append_byte(b, ')');
    } else {
        buf_appendf(b, "v.%s()", t);
    }
}

/* ---- Convex's wording of the walk's failures ---- */

static void context_line(struct vcheck *c)
{
    if (c->path.len) {
        buf_append_str(c->err, "Path: ");
        validator_append_name(c->err, c->path.data, c->path.len);
    }
}

static int no_match(struct vcheck *c, const json_t *v, const json_t *value)
{
    buf_reset(c->err);
    buf_append_str(c->err, "Value does not match validator.\n");
    context_line(c);
    buf_append_str(c->err, "\nValue: ");
    show_value(c->err, value, 0);
    buf_append_str(c->err, "\nValidator: ");
    show_validator(c->err, v, 0);
    return -1;
}

/* Convex's context: ".a[2].keys()"; a field name is cut at 510 bytes. */
static void step(struct buf *path, enum vstep kind, const char *name, size_t len)
{
    switch (kind) {
    case STEP_INDEX: /* written by the walk */
        break;
    case STEP_KEYS:
        buf_append_str(path, ".keys()");
        break;
    case STEP_VALUES:
        buf_append_str(path, ".values()");
        break;
    case STEP_FIELD:
        buf_append_byte(path, '.');
        buf_append(path, name, len < 510 ? len : 510);
        break;
    }
}

static int bad(struct vcheck *c, const json_t *v, const json_t *value, enum vbad why)
{
    return no_match(c, v, value);
}

static int mismatch(struct vcheck *c, const json_t *v, const json_t *value, enum value_type got)
{
    return no_match(c, v, value);
}

static int wrong_id(struct vcheck *c, const json_t *v, const json_t *value, const char *want,
                    const char *have)
{
    if (!have)
        return no_match(c, v, value);
    buf_reset(c->err);
    buf_appendf(c->err,
                "Found ID \"%s\" from table `%s`, which does not match the table name in "
                "validator `v.id(\"%s\")`.",
                json_string_value(value), have, want ? want : "");
    context_line(c);
    return -1;
}

static int not_literal(struct vcheck *c, const json_t *v, const json_t *value, enum value_type got)
{
    buf_reset(c->err);
    buf_append_byte(c->err, '`');
    show_value(c->err, value, 0);
    buf_append_str(c->err, "` does not match literal validator `");
    show_validator(c->err, v, 0);
    buf_append_str(c->err, "`.");
    context_line(c);
    return -1;
}

/* The object and its validator, after a missing or extra field's sentence. */
static int object_context(struct vcheck *c, const json_t *fields, const json_t *value)
{
    context_line(c);
    buf_append_str(c->err, "\nObject: ");
    show_value(c->err, value, 0);
    buf_append_str(c->err, "\nValidator: ");
    show_object_validator(c->err, fields, 0);
    return -1;
}

static int missing(struct vcheck *c, const json_t *fields, const json_t *value, const char *name,
                   size_t len)
{
    buf_reset(c->err);
    buf_append_str(c->err, "Object is missing the required field `");
    validator_append_name(c->err, name, len);
    buf_append_str(c->err, "`. Consider wrapping the field validator in `v.optional(...)` if "
                           "this is expected.\n");
    return object_context(c, fields, value);
}

static int extra(struct vcheck *c, const json_t *fields, const json_t *value, const char *name,
                 size_t len)
{
    buf_reset(c->err);
    buf_append_str(c->err, "Object contains extra field `");
    validator_append_name(c->err, name, len);
    buf_append_str(c->err, "` that is not in the validator.\n");
    return object_context(c, fields, value);
}

static int bad_key(struct vcheck *c, const json_t *keys, const char *name, size_t len)
{
    return -1; /* the key's own failure, at ".keys()", is the message */
}

static int no_member(struct vcheck *c, const json_t *v, const json_t *value, enum value_type got,
                     const struct validator *same, int nsame, int depth)
{
    return no_match(c, v, value);
}

static const struct wording convex_wording = {
    .sorted = 1,
    .undefined_first = 1,
    .lone_member = 1,
    .step = step,
    .bad = bad,
    .mismatch = mismatch,
    .wrong_id = wrong_id,
    .not_literal = not_literal,
    .missing = missing,
    .extra = extra,
    .bad_key = bad_key,
    .no_member = no_member,
};

int validator_check_convex(const struct validator_ctx *ctx, const json_t *validator,
                           const json_t *value, struct buf *err)
{
    return validator_run_json(&convex_wording, ctx, validator, value, err);
}

int validator_check_convex_compiled(const struct validator_ctx *ctx,
                                    const struct validator *validator, const json_t *value,
                                    struct buf *err)
{
    return validator_run(&convex_wording, ctx, validator, value, err);
}
