/* validator: checks validators in Convex's JSON form (validator.h) and words the failures of
 * validator_check, whose walk over the value is validator_walk.c's. Invariant: every failure
 * leaves exactly one sentence in err naming the path ("field `a.b[2]`"), what was expected and
 * what was found. Aliases accepted: "float64" = number, "bigint" = int64, and a bare string
 * "string" = {"type":"string"}. */
#include "store/validator.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/validator_int.h"
#include "store/value.h"

#include "base/banned.h"

#define MAX_DEPTH VALIDATOR_MAX_DEPTH

static int schema_rec(const json_t *v, struct buf *path, int depth, struct buf *err)
{
    const char *t = validator_type(v);
    const json_t *val = json_is_object(v) ? json_object_get(v, "value") : NULL;
    size_t mark = path->len;
    int r = -1;
    if (depth > MAX_DEPTH) {
        buf_appendf(err, "validator at `%s` is nested too deeply", path->data);
        return -1;
    }
    if (!t) {
        buf_appendf(err, "validator at `%s` has no type", path->len ? path->data : "(root)");
        return -1;
    }
    if (!strcmp(t, "string") || !strcmp(t, "number") || !strcmp(t, "boolean") ||
        !strcmp(t, "null") || !strcmp(t, "int64") || !strcmp(t, "bytes") || !strcmp(t, "any") ||
        !strcmp(t, "commitTs"))
        return 0;
    if (!json_is_object(v))
        goto bad;
    if (!strcmp(t, "id")) {
        if (!json_is_string(json_object_get(v, "tableName")))
            goto bad;
        return 0;
    }
    if (!strcmp(t, "literal")) {
        enum value_type lt = value_type_of(val, NULL, NULL);
        if (lt == VT_UNDEFINED || lt == VT_INVALID || lt == VT_ARRAY || lt == VT_OBJECT)
            goto bad;
        return 0;
    }
    if (!strcmp(t, "array")) {
        buf_append_str(path, "[]");
        r = val ? schema_rec(val, path, depth + 1, err) : -1;
        if (!val)
            goto bad;
        goto out;
    }
    if (!strcmp(t, "union")) {
        if (!json_is_array(val))
            goto bad;
        for (size_t i = 0; i < json_array_size(val); i++) {
            if (schema_rec(json_array_get(val, i), path, depth + 1, err) < 0)
                goto out;
        }
        return 0;
    }
    if (!strcmp(t, "object")) {
        if (!json_is_object(val))
            goto bad;
        const char *k;
        json_t *spec;
        json_object_foreach((json_t *)val, k, spec) {
            if (k[0] == '$') {
                buf_appendf(err, "validator field `%s` may not start with '$'", k);
                goto out;
            }
            if (!json_is_object(spec) && !json_is_string(spec))
                goto bad;
            if (mark)
                buf_append_byte(path, '.');
            buf_append_str(path, k);
            if (schema_rec(validator_field_type(spec, NULL), path, depth + 1, err) < 0)
                goto out;
            path->len = mark;
            path->data[mark] = '\0';
        }
        return 0;
    }
    if (!strcmp(t, "record")) {
        const json_t *keys = json_object_get(v, "keys"), *values = json_object_get(v, "values");
        if (!keys || !values)
            goto bad;
        if (schema_rec(keys, path, depth + 1, err) < 0)
            goto out;
        r = schema_rec(validator_field_type(values, NULL), path, depth + 1, err);
        goto out;
    }
    buf_appendf(err, "validator at `%s` has unknown type `%s`", path->len ? path->data : "(root)",
                t);
    goto out;
bad:
    buf_appendf(err, "validator at `%s` is malformed (type `%s`)", path->len ? path->data : "(root)",
                t);
    r = -1;
out:
    path->len = mark;
    path->data[mark] = '\0';
    return r;
}

int validator_check_schema(const json_t *validator, struct buf *err)
{
    struct buf path = BUF_INIT(BUF_NOLIMIT);
    buf_reset(err);
    int r = schema_rec(validator, &path, 0, err);
    buf_release(&path);
    return r;
}

/* ---- checking values: Vireo's wording of the walk's failures (validator_walk.c) ---- */

static void prefix(struct vcheck *c)
{
    buf_reset(c->err);
    if (c->path.len) {
        buf_appendf(c->err, "%s `", c->ctx->what);
        validator_append_name(c->err, c->path.data, c->path.len);
        buf_append_str(c->err, "`: ");
    }
}

/* Shows a value as JavaScript would: 3 not 3.0, 1n for an int64, NaN, -0. */
static void append_json(struct buf *b, const json_t *v)
{
    int64_t i64;
    double d;
    char tmp[40];
    switch (value_type_of(v, &i64, &d)) {
    case VT_INT64:
        buf_appendf(b, "%lldn", (long long)i64);
        return;
    case VT_NUMBER:
        if (isnan(d)) {
            buf_append_str(b, "NaN");
        } else if (isinf(d)) {
            buf_append_str(b, d < 0 ? "-Infinity" : "Infinity");
        } else if (d == 0 && signbit(d)) {
            buf_append_str(b, "-0");
        } else {
            for (int prec = 15; prec <= 17; prec++) {
                snprintf(tmp, sizeof(tmp), "%.*g", prec, d);
                if (strtod(tmp, NULL) == d)
                    break;
            }
            buf_append_str(b, tmp);
        }
        return;
    default:
        break;
    }
    char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
    if (!s)
        return;
    size_t n = strlen(s);
    if (n > 60)
        buf_appendf(b, "%.57s...", s);
    else
        buf_append(b, s, n);
    free(s);
}

static void describe(struct buf *b, const json_t *v)
{
    const char *t = validator_type(v);
    if (!t) {
        buf_append_str(b, "?");
    } else if (!strcmp(t, "literal")) {
        append_json(b, json_object_get(v, "value"));
    } else if (!strcmp(t, "id")) {
        buf_appendf(b, "id of table `%s`", json_string_value(json_object_get(v, "tableName")));
    } else if (!strcmp(t, "union")) {
        const json_t *m = json_object_get(v, "value");
        for (size_t i = 0; i < json_array_size(m); i++) {
            if (i)
                buf_append_str(b, " | ");
            describe(b, json_array_get(m, i));
        }
    } else {
        buf_append_str(b, t);
    }
}

/* "a.b[2]": a field is joined with a dot, except at the root; a record's key adds nothing (its
 * failure is reworded by bad_key) and the value under it reads as a field. */
static void step(struct buf *path, enum vstep kind, const char *name, size_t len)
{
    switch (kind) {
    case STEP_INDEX: /* written by the walk */
    case STEP_KEYS:
        break;
    case STEP_FIELD:
    case STEP_VALUES:
        if (path->len)
            buf_append_byte(path, '.');
        buf_append(path, name, len);
        break;
    }
}

static int bad(struct vcheck *c, const json_t *v, const json_t *value, enum vbad why)
{
    prefix(c);
    switch (why) {
    case BAD_DEPTH:
        buf_appendf(c->err, "value is nested more than %d levels deep", MAX_DEPTH);
        break;
    case BAD_VALUE:
        buf_append_str(c->err, "malformed '$' object (field names may not start with '$')");
        break;
    case BAD_TYPE:
        buf_appendf(c->err, "unknown validator type `%s`", validator_type(v));
        break;
    case BAD_VALIDATOR:
    case BAD_UNDEFINED: /* not asked for by this wording */
        buf_append_str(c->err, "malformed validator");
        break;
    }
    return -1;
}

static int mismatch(struct vcheck *c, const json_t *v, const json_t *value, enum value_type got)
{
    prefix(c);
    buf_append_str(c->err, "expected ");
    describe(c->err, v);
    buf_appendf(c->err, ", got %s", value_type_name(got));
    return -1;
}

static int wrong_id(struct vcheck *c, const json_t *v, const json_t *value, const char *want,
                    const char *have)
{
    prefix(c);
    buf_appendf(c->err, "expected id of table `%s`, got ", want ? want : "?");
    if (have)
        buf_appendf(c->err, "id of table `%s`", have);
    else
        buf_append_str(c->err, "a string that is not an id");
    return -1;
}

static int not_literal(struct vcheck *c, const json_t *v, const json_t *value, enum value_type got)
{
    prefix(c);
    buf_append_str(c->err, "expected ");
    append_json(c->err, json_object_get(v, "value"));
    buf_append_str(c->err, ", got ");
    if (got == VT_STRING || got == VT_NUMBER || got == VT_BOOLEAN || got == VT_NULL)
        append_json(c->err, value);
    else
        buf_append_str(c->err, value_type_name(got));
    return -1;
}

static int missing(struct vcheck *c, const json_t *fields, const json_t *value, const char *name,
                   size_t len)
{
    size_t mark = c->path.len;
    step(&c->path, STEP_FIELD, name, len);
    buf_reset(c->err);
    buf_appendf(c->err, "%s `", c->ctx->what);
    validator_append_name(c->err, c->path.data, c->path.len);
    buf_append_str(c->err, "` is required");
    c->path.len = mark;
    c->path.data[mark] = '\0';
    return -1;
}

static int extra(struct vcheck *c, const json_t *fields, const json_t *value, const char *name,
                 size_t len)
{
    prefix(c);
    buf_appendf(c->err, "unexpected extra %s `", c->path.len ? "field" : c->ctx->what);
    validator_append_name(c->err, name, len);
    buf_append_byte(c->err, '`');
    return -1;
}

static int bad_key(struct vcheck *c, const json_t *keys, const char *name, size_t len)
{
    prefix(c);
    buf_append_str(c->err, "record key `");
    validator_append_name(c->err, name, len);
    buf_append_str(c->err, "` does not match ");
    describe(c->err, keys);
    return -1;
}

static int no_member(struct vcheck *c, const json_t *v, const json_t *value, enum value_type got,
                     const struct validator *same, int nsame, int depth)
{
    /* a member of the value's own kind explains the failure best */
    if (nsame == 1)
        return validator_walk(c, same, value, depth + 1);
    const json_t *members = json_object_get(v, "value");
    size_t n = json_array_size(members);
    prefix(c);
    buf_append_str(c->err, "expected one of ");
    describe(c->err, v);
    buf_append_str(c->err, ", got ");
    if (got == VT_STRING || got == VT_NUMBER || got == VT_BOOLEAN || got == VT_NULL) {
        /* show the value when the union is made of literals */
        int literal = n > 0;
        for (size_t i = 0; i < n; i++)
            literal &= validator_type(json_array_get(members, i)) &&
                       !strcmp(validator_type(json_array_get(members, i)), "literal");
        if (literal) {
            append_json(c->err, value);
            return -1;
        }
    }
    buf_append_str(c->err, value_type_name(got));
    return -1;
}

static const struct wording vireo_wording = {
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

int validator_check(const struct validator_ctx *ctx, const json_t *validator, const json_t *value,
                    struct buf *err)
{
    return validator_run_json(&vireo_wording, ctx, validator, value, err);
}

int validator_check_compiled(const struct validator_ctx *ctx, const struct validator *validator,
                             const json_t *value, struct buf *err)
{
    return validator_run(&vireo_wording, ctx, validator, value, err);
}
