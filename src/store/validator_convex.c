/* validator_convex: checks a value against a validator (validator.h's JSON form) and, on a
 * mismatch, writes the error as Convex's backend words it (its ValidationError texts: "Value does
 * not match validator.", "Object is missing the required field ...", with "Path: .a[2]", the
 * value and the validator printed as Convex prints them), so that a function's `returns` failure
 * reads the same on Vireo as on Convex. The rules are Convex's: a union matches if any member
 * does; records check keys (".keys()") and values (".values()"); objects refuse extra fields. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/mem.h"
#include "store/key.h"
#include "store/validator.h"
#include "store/value.h"

#include "base/banned.h"

#define MAX_DEPTH 64
#define SHOW_MAX 2048 /* a value or validator shown in an error is cut past this many bytes */

static const char *vtype(const json_t *v)
{
    const char *t = json_is_string(v) ? json_string_value(v)
                    : json_is_object(v) ? json_string_value(json_object_get(v, "type"))
                                        : NULL;
    if (t && !strcmp(t, "float64"))
        return "number";
    if (t && !strcmp(t, "bigint"))
        return "int64";
    return t;
}

static const json_t *field_type(const json_t *spec, int *optional)
{
    const json_t *ft = json_object_get(spec, "fieldType");
    if (optional)
        *optional = json_is_true(json_object_get(spec, "optional"));
    return ft ? ft : spec;
}

static int cmp_keys(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The keys of an object, sorted (Convex's objects are ordered maps). Caller frees the array. */
static const char **sorted_keys(const json_t *o, size_t *n)
{
    *n = json_object_size(o);
    const char **k = vr_calloc(*n ? *n : 1, sizeof *k);
    size_t i = 0;
    const char *key;
    json_t *x;
    json_object_foreach((json_t *)o, key, x) k[i++] = key;
    qsort(k, *n, sizeof *k, cmp_keys);
    return k;
}

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
        const char **k = sorted_keys(v, &n);
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
    const char **k = sorted_keys(fields, &n);
    buf_append_str(b, "v.object({");
    for (size_t i = 0; i < n; i++) {
        int optional;
        const json_t *ft = field_type(json_object_get(fields, k[i]), &optional);
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
    const char *t = vtype(v);
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
        show_validator(b, field_type(json_object_get(v, "values"), NULL), depth + 1);
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

struct ccheck {
    const struct validator_ctx *ctx;
    struct buf path; /* Convex's context: ".a[2].keys()" */
    struct buf *err;
};

static void context_line(struct ccheck *c)
{
    if (c->path.len)
        buf_appendf(c->err, "Path: %s", c->path.data);
}

static int no_match(struct ccheck *c, const json_t *v, const json_t *value)
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

static int check(struct ccheck *c, const json_t *v, const json_t *value, int depth);

static int check_at(struct ccheck *c, const char *step, const json_t *v, const json_t *value,
                    int depth)
{
    size_t mark = c->path.len;
    buf_append_str(&c->path, step);
    int r = check(c, v, value, depth + 1);
    c->path.len = mark;
    c->path.data[mark] = '\0';
    return r;
}

static int check(struct ccheck *c, const json_t *v, const json_t *value, int depth)
{
    const char *t = vtype(v);
    const json_t *val = json_is_object(v) ? json_object_get(v, "value") : NULL;
    enum value_type got = value_type_of(value, NULL, NULL);
    if (!t || depth > MAX_DEPTH || got == VT_INVALID || got == VT_UNDEFINED)
        return no_match(c, v, value);
    if (!strcmp(t, "any"))
        return 0;
    if (!strcmp(t, "string"))
        return got == VT_STRING ? 0 : no_match(c, v, value);
    if (!strcmp(t, "number"))
        return got == VT_NUMBER ? 0 : no_match(c, v, value);
    if (!strcmp(t, "int64"))
        return got == VT_INT64 ? 0 : no_match(c, v, value);
    if (!strcmp(t, "boolean"))
        return got == VT_BOOLEAN ? 0 : no_match(c, v, value);
    if (!strcmp(t, "null"))
        return got == VT_NULL ? 0 : no_match(c, v, value);
    if (!strcmp(t, "bytes"))
        return got == VT_BYTES ? 0 : no_match(c, v, value);
    if (!strcmp(t, "id")) {
        const char *want = json_string_value(json_object_get(v, "tableName"));
        if (got != VT_STRING)
            return no_match(c, v, value);
        if (!c->ctx->id_table)
            return 0;
        const char *have = c->ctx->id_table(c->ctx->id_table_arg, json_string_value(value),
                                            json_string_length(value));
        if (!have)
            return no_match(c, v, value);
        if (want && !strcmp(have, want))
            return 0;
        buf_reset(c->err);
        buf_appendf(c->err,
                    "Found ID \"%s\" from table `%s`, which does not match the table name in "
                    "validator `v.id(\"%s\")`.",
                    json_string_value(value), have, want ? want : "");
        context_line(c);
        return -1;
    }
    if (!strcmp(t, "literal")) {
        struct buf a = BUF_INIT(1 << 20), b = BUF_INIT(1 << 20);
        int ok = key_encode_value(&a, val) == 0 && key_encode_value(&b, value) == 0 &&
                 a.len == b.len && memcmp(a.data, b.data, a.len) == 0;
        buf_release(&a);
        buf_release(&b);
        if (ok)
            return 0;
        buf_reset(c->err);
        buf_append_byte(c->err, '`');
        show_value(c->err, value, 0);
        buf_append_str(c->err, "` does not match literal validator `");
        show_validator(c->err, v, 0);
        buf_append_str(c->err, "`.");
        context_line(c);
        return -1;
    }
    if (!strcmp(t, "array")) {
        if (got != VT_ARRAY)
            return no_match(c, v, value);
        for (size_t i = 0; i < json_array_size(value); i++) {
            char step[32];
            snprintf(step, sizeof step, "[%zu]", i);
            if (check_at(c, step, val, json_array_get(value, i), depth) < 0)
                return -1;
        }
        return 0;
    }
    if (!strcmp(t, "record")) {
        if (got != VT_OBJECT)
            return no_match(c, v, value);
        const json_t *keys = json_object_get(v, "keys");
        const json_t *values = field_type(json_object_get(v, "values"), NULL);
        const char *k;
        json_t *fv;
        json_object_foreach((json_t *)value, k, fv) {
            json_t *ks = json_string(k);
            int r = ks ? check_at(c, ".keys()", keys, ks, depth) : -1;
            json_decref(ks);
            if (r < 0 || check_at(c, ".values()", values, fv, depth) < 0)
                return -1;
        }
        return 0;
    }
    if (!strcmp(t, "object")) {
        if (got != VT_OBJECT)
            return no_match(c, v, value);
        size_t n;
        const char **k = sorted_keys(val, &n);
        int r = 0, missing = 0;
        for (size_t i = 0; i < n && r == 0; i++) {
            int optional;
            const json_t *ft = field_type(json_object_get(val, k[i]), &optional);
            const json_t *fv = json_object_get(value, k[i]);
            if (fv) {
                char step[512];
                snprintf(step, sizeof step, ".%s", k[i]);
                r = check_at(c, step, ft, fv, depth);
            } else if (!optional) {
                buf_reset(c->err);
                buf_appendf(c->err,
                            "Object is missing the required field `%s`. Consider wrapping the "
                            "field validator in `v.optional(...)` if this is expected.\n",
                            k[i]);
                r = -1;
                missing = 1;
            }
        }
        vr_free(k);
        if (missing) {
            context_line(c);
            buf_append_str(c->err, "\nObject: ");
            show_value(c->err, value, 0);
            buf_append_str(c->err, "\nValidator: ");
            show_object_validator(c->err, val, 0);
        }
        if (r < 0)
            return -1;
        k = sorted_keys(value, &n);
        for (size_t i = 0; i < n; i++) {
            if (json_object_get(val, k[i]))
                continue;
            buf_reset(c->err);
            buf_appendf(c->err, "Object contains extra field `%s` that is not in the validator.\n",
                        k[i]);
            context_line(c);
            buf_append_str(c->err, "\nObject: ");
            show_value(c->err, value, 0);
            buf_append_str(c->err, "\nValidator: ");
            show_object_validator(c->err, val, 0);
            r = -1;
            break;
        }
        vr_free(k);
        return r;
    }
    if (!strcmp(t, "union")) {
        size_t n = json_array_size(val);
        if (n == 1)
            return check(c, json_array_get(val, 0), value, depth + 1);
        for (size_t i = 0; i < n; i++) {
            struct buf tmp = BUF_INIT(BUF_NOLIMIT);
            struct ccheck sub = { c->ctx, BUF_INIT(BUF_NOLIMIT), &tmp };
            buf_append(&sub.path, c->path.data, c->path.len);
            int r = check(&sub, json_array_get(val, i), value, depth + 1);
            buf_release(&sub.path);
            buf_release(&tmp);
            if (r == 0)
                return 0;
        }
        return no_match(c, v, value);
    }
    return no_match(c, v, value);
}

int validator_check_convex(const struct validator_ctx *ctx, const json_t *validator,
                           const json_t *value, struct buf *err)
{
    struct ccheck c = { ctx, BUF_INIT(BUF_NOLIMIT), err };
    int r = check(&c, validator, value, 0);
    buf_release(&c.path);
    return r;
}
