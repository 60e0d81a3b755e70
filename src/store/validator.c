/* validator: checks values against validators in Convex's JSON form (validator.h). Invariant:
 * every failure leaves exactly one sentence in err naming the path ("field `a.b[2]`"), what was
 * expected and what was found. Aliases accepted: "float64" = number, "bigint" = int64, and a bare
 * string "string" = {"type":"string"}. */
#include "store/validator.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/key.h"
#include "store/value.h"

#include "base/banned.h"

#define MAX_DEPTH 64

static const char *vtype(const json_t *v)
{
    const char *t = NULL;
    if (json_is_string(v))
        t = json_string_value(v);
    else if (json_is_object(v))
        t = json_string_value(json_object_get(v, "type"));
    if (!t)
        return NULL;
    if (!strcmp(t, "float64"))
        return "number";
    if (!strcmp(t, "bigint"))
        return "int64";
    return t;
}

/* A field spec is {"fieldType": v, "optional": b}; a bare validator is accepted too. */
static const json_t *field_type(const json_t *spec, int *optional)
{
    const json_t *ft = json_object_get(spec, "fieldType");
    if (optional)
        *optional = json_is_true(json_object_get(spec, "optional"));
    return ft ? ft : spec;
}

static int schema_rec(const json_t *v, struct buf *path, int depth, struct buf *err)
{
    const char *t = vtype(v);
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
        !strcmp(t, "null") || !strcmp(t, "int64") || !strcmp(t, "bytes") || !strcmp(t, "any"))
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
            if (schema_rec(field_type(spec, NULL), path, depth + 1, err) < 0)
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
        r = schema_rec(field_type(values, NULL), path, depth + 1, err);
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

/* ---- checking values ---- */

struct check {
    const struct validator_ctx *ctx;
    struct buf path;
    struct buf *err;
};

static void prefix(struct check *c)
{
    buf_reset(c->err);
    if (c->path.len)
        buf_appendf(c->err, "%s `%s`: ", c->ctx->what, c->path.data);
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
    const char *t = vtype(v);
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

static int mismatch(struct check *c, const json_t *validator, enum value_type got)
{
    prefix(c);
    buf_append_str(c->err, "expected ");
    describe(c->err, validator);
    buf_appendf(c->err, ", got %s", value_type_name(got));
    return -1;
}

static int check_rec(struct check *c, const json_t *v, const json_t *value, int depth);

static int check_field(struct check *c, const char *name, size_t name_len, const json_t *spec,
                       const json_t *value, int depth, int in_record)
{
    size_t mark = c->path.len;
    int optional;
    const json_t *ft = field_type(spec, &optional);
    if (mark)
        buf_append_byte(&c->path, '.');
    buf_append(&c->path, name, name_len);
    int r = 0;
    if (!value) {
        if (!optional) {
            buf_reset(c->err);
            buf_appendf(c->err, "%s `%s` is required", c->ctx->what, c->path.data);
            r = -1;
        }
    } else {
        r = check_rec(c, ft, value, depth + 1);
    }
    c->path.len = mark;
    c->path.data[mark] = '\0';
    (void)in_record;
    return r;
}

static int check_rec(struct check *c, const json_t *v, const json_t *value, int depth)
{
    const char *t = vtype(v);
    int64_t i64;
    double d;
    enum value_type got = value_type_of(value, &i64, &d);
    if (depth > MAX_DEPTH) {
        prefix(c);
        buf_appendf(c->err, "value is nested more than %d levels deep", MAX_DEPTH);
        return -1;
    }
    if (!t) {
        prefix(c);
        buf_append_str(c->err, "malformed validator");
        return -1;
    }
    if (got == VT_INVALID) {
        prefix(c);
        buf_append_str(c->err, "malformed '$' object (field names may not start with '$')");
        return -1;
    }
    if (!strcmp(t, "any"))
        return got == VT_UNDEFINED ? mismatch(c, v, got) : 0;
    if (!strcmp(t, "string"))
        return got == VT_STRING ? 0 : mismatch(c, v, got);
    if (!strcmp(t, "number"))
        return got == VT_NUMBER ? 0 : mismatch(c, v, got);
    if (!strcmp(t, "int64"))
        return got == VT_INT64 ? 0 : mismatch(c, v, got);
    if (!strcmp(t, "boolean"))
        return got == VT_BOOLEAN ? 0 : mismatch(c, v, got);
    if (!strcmp(t, "null"))
        return got == VT_NULL ? 0 : mismatch(c, v, got);
    if (!strcmp(t, "bytes"))
        return got == VT_BYTES ? 0 : mismatch(c, v, got);
    if (!strcmp(t, "id")) {
        const char *want = json_string_value(json_object_get(v, "tableName"));
        if (got != VT_STRING)
            return mismatch(c, v, got);
        if (!c->ctx->id_table)
            return 0;
        const char *have =
            c->ctx->id_table(c->ctx->id_table_arg, json_string_value(value), json_string_length(value));
        if (have && want && !strcmp(have, want))
            return 0;
        prefix(c);
        buf_appendf(c->err, "expected id of table `%s`, got ", want ? want : "?");
        if (have)
            buf_appendf(c->err, "id of table `%s`", have);
        else
            buf_append_str(c->err, "a string that is not an id");
        return -1;
    }
    if (!strcmp(t, "literal")) {
        const json_t *lit = json_object_get(v, "value");
        struct buf a = BUF_INIT(1 << 20), b = BUF_INIT(1 << 20);
        int ok = got != VT_UNDEFINED && key_encode_value(&a, lit) == 0 &&
                 key_encode_value(&b, value) == 0 && a.len == b.len &&
                 memcmp(a.data, b.data, a.len) == 0;
        buf_release(&a);
        buf_release(&b);
        if (ok)
            return 0;
        prefix(c);
        buf_append_str(c->err, "expected ");
        append_json(c->err, lit);
        buf_append_str(c->err, ", got ");
        if (got == VT_STRING || got == VT_NUMBER || got == VT_BOOLEAN || got == VT_NULL)
            append_json(c->err, value);
        else
            buf_append_str(c->err, value_type_name(got));
        return -1;
    }
    if (!strcmp(t, "array")) {
        if (got != VT_ARRAY)
            return mismatch(c, v, got);
        const json_t *ev = json_object_get(v, "value");
        size_t mark = c->path.len;
        for (size_t i = 0; i < json_array_size(value); i++) {
            buf_appendf(&c->path, "[%zu]", i);
            int r = check_rec(c, ev, json_array_get(value, i), depth + 1);
            c->path.len = mark;
            c->path.data[mark] = '\0';
            if (r < 0)
                return -1;
        }
        return 0;
    }
    if (!strcmp(t, "object")) {
        if (got != VT_OBJECT)
            return mismatch(c, v, got);
        const json_t *fields = json_object_get(v, "value");
        const char *k;
        size_t klen;
        json_t *spec, *fv;
        json_object_keylen_foreach((json_t *)fields, k, klen, spec) {
            if (check_field(c, k, klen, spec, json_object_getn(value, k, klen), depth, 0) < 0)
                return -1;
        }
        json_object_keylen_foreach((json_t *)value, k, klen, fv) {
            if (json_object_getn(fields, k, klen))
                continue;
            prefix(c);
            buf_appendf(c->err, "unexpected extra %s `%.*s`", c->path.len ? "field" : c->ctx->what,
                        (int)klen, k);
            return -1;
        }
        return 0;
    }
    if (!strcmp(t, "record")) {
        if (got != VT_OBJECT)
            return mismatch(c, v, got);
        const json_t *keys = json_object_get(v, "keys"), *values = json_object_get(v, "values");
        const char *k;
        size_t klen;
        json_t *fv;
        json_object_keylen_foreach((json_t *)value, k, klen, fv) {
            json_t *ks = json_stringn(k, klen);
            int r = check_rec(c, keys, ks, depth + 1);
            json_decref(ks);
            if (r < 0) {
                buf_reset(c->err);
                if (c->path.len)
                    buf_appendf(c->err, "%s `%s`: ", c->ctx->what, c->path.data);
                buf_appendf(c->err, "record key `%.*s` does not match ", (int)klen, k);
                describe(c->err, keys);
                return -1;
            }
            json_t *spec = json_object();
            json_object_set(spec, "fieldType", (json_t *)field_type(values, NULL));
            r = check_field(c, k, klen, spec, fv, depth, 1);
            json_decref(spec);
            if (r < 0)
                return -1;
        }
        return 0;
    }
    if (!strcmp(t, "union")) {
        const json_t *members = json_object_get(v, "value");
        size_t n = json_array_size(members);
        const json_t *same = NULL;
        int nsame = 0;
        for (size_t i = 0; i < n; i++) {
            const json_t *m = json_array_get(members, i);
            struct buf tmp = BUF_INIT(BUF_NOLIMIT);
            struct check sub = { c->ctx, BUF_INIT(BUF_NOLIMIT), &tmp };
            buf_append(&sub.path, c->path.data, c->path.len);
            int r = check_rec(&sub, m, value, depth + 1);
            buf_release(&sub.path);
            buf_release(&tmp);
            if (r == 0)
                return 0;
            /* a member of the value's own kind explains the failure best */
            const char *mt = vtype(m);
            if (mt && ((got == VT_OBJECT && (!strcmp(mt, "object") || !strcmp(mt, "record"))) ||
                       (got == VT_ARRAY && !strcmp(mt, "array")))) {
                same = m;
                nsame++;
            }
        }
        if (nsame == 1)
            return check_rec(c, same, value, depth + 1);
        prefix(c);
        buf_append_str(c->err, "expected one of ");
        describe(c->err, v);
        buf_append_str(c->err, ", got ");
        if (got == VT_STRING || got == VT_NUMBER || got == VT_BOOLEAN || got == VT_NULL) {
            /* show the value when the union is made of literals */
            int literal = n > 0;
            for (size_t i = 0; i < n; i++)
                literal &= vtype(json_array_get(members, i)) &&
                           !strcmp(vtype(json_array_get(members, i)), "literal");
            if (literal) {
                append_json(c->err, value);
                return -1;
            }
        }
        buf_append_str(c->err, value_type_name(got));
        return -1;
    }
    prefix(c);
    buf_appendf(c->err, "unknown validator type `%s`", t);
    return -1;
}

int validator_check(const struct validator_ctx *ctx, const json_t *validator, const json_t *value,
                    struct buf *err)
{
    struct check c = { ctx, BUF_INIT(BUF_NOLIMIT), err };
    int r = check_rec(&c, validator, value, 0);
    buf_release(&c.path);
    return r;
}
