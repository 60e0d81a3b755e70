/* validator_walk: the one walk over a value against a validator (validator_int.h), shared by
 * validator_check (Vireo's wording, validator.c) and validator_check_convex (Convex's wording,
 * validator_convex.c). It decides what matches; every failure is handed to the wording, which
 * writes the message. Invariant: the walk allocates only where a wording asks for sorted keys,
 * for a union's trial runs and for a record's key strings, as each wording did on its own. */
#include <stdlib.h>
#include <string.h>

#include "base/mem.h"
#include "store/key.h"
#include "store/validator_int.h"
#include "store/value.h"

#include "base/banned.h"

const char *validator_type(const json_t *v)
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

const json_t *validator_field_type(const json_t *spec, int *optional)
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

const char **validator_sorted_keys(const json_t *o, size_t *n)
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

/* The keys of an object in the wording's order: as stored, or sorted. */
struct keys {
    const json_t *o;
    void *it;            /* as stored */
    const char **sorted; /* sorted: the array and where we are in it */
    size_t n, i;
};

static void keys_init(struct keys *ks, const json_t *o, int sorted)
{
    ks->o = o;
    ks->it = sorted ? NULL : json_object_iter((json_t *)o);
    ks->sorted = sorted ? validator_sorted_keys(o, &ks->n) : NULL;
    ks->i = 0;
}

/* 1 with the next key and its value, 0 at the end. */
static int keys_next(struct keys *ks, const char **k, size_t *klen, const json_t **val)
{
    if (ks->sorted) {
        if (ks->i >= ks->n)
            return 0;
        *k = ks->sorted[ks->i++];
        *klen = strlen(*k);
        *val = json_object_get(ks->o, *k);
        return 1;
    }
    if (!ks->it)
        return 0;
    *k = json_object_iter_key(ks->it);
    *klen = json_object_iter_key_len(ks->it);
    *val = json_object_iter_value(ks->it);
    ks->it = json_object_iter_next((json_t *)ks->o, ks->it);
    return 1;
}

static void keys_release(struct keys *ks)
{
    vr_free(ks->sorted);
    ks->sorted = NULL;
}

static int walk_at(struct vcheck *c, enum vstep kind, const char *name, size_t len, size_t i,
                   const json_t *v, const json_t *value, int depth)
{
    size_t mark = c->path.len;
    if (kind == STEP_INDEX) /* "[2]" in both wordings */
        buf_appendf(&c->path, "[%zu]", i);
    else
        c->w->step(&c->path, kind, name, len);
    int r = validator_walk(c, v, value, depth + 1);
    c->path.len = mark;
    c->path.data[mark] = '\0';
    return r;
}

static int walk_object(struct vcheck *c, const json_t *fields, const json_t *value, int depth)
{
    struct keys ks;
    const char *k;
    size_t klen;
    const json_t *spec, *fv;
    int r = 0;
    keys_init(&ks, fields, c->w->sorted);
    while (r == 0 && keys_next(&ks, &k, &klen, &spec)) {
        int optional;
        const json_t *ft = validator_field_type(spec, &optional);
        fv = json_object_getn(value, k, klen);
        if (fv)
            r = walk_at(c, STEP_FIELD, k, klen, 0, ft, fv, depth);
        else if (!optional)
            r = c->w->missing(c, fields, value, k, klen);
    }
    keys_release(&ks);
    if (r < 0)
        return -1;
    keys_init(&ks, value, c->w->sorted);
    while (r == 0 && keys_next(&ks, &k, &klen, &fv)) {
        if (!json_object_getn(fields, k, klen))
            r = c->w->extra(c, fields, value, k, klen);
    }
    keys_release(&ks);
    return r;
}

static int walk_record(struct vcheck *c, const json_t *v, const json_t *value, int depth)
{
    const json_t *keys = json_object_get(v, "keys");
    const json_t *values = validator_field_type(json_object_get(v, "values"), NULL);
    const char *k;
    size_t klen;
    json_t *fv;
    json_object_keylen_foreach((json_t *)value, k, klen, fv) {
        json_t *ks = json_stringn(k, klen);
        int r = ks ? walk_at(c, STEP_KEYS, k, klen, 0, keys, ks, depth) : -1;
        json_decref(ks);
        if (r < 0)
            return c->w->bad_key(c, keys, k, klen);
        if (walk_at(c, STEP_VALUES, k, klen, 0, values, fv, depth) < 0)
            return -1;
    }
    return 0;
}

static int walk_union(struct vcheck *c, const json_t *v, const json_t *value, enum value_type got,
                      int depth)
{
    const json_t *members = json_object_get(v, "value");
    size_t n = json_array_size(members);
    const json_t *same = NULL;
    int nsame = 0;
    if (n == 1 && c->w->lone_member)
        return validator_walk(c, json_array_get(members, 0), value, depth + 1);
    for (size_t i = 0; i < n; i++) {
        const json_t *m = json_array_get(members, i);
        struct buf tmp = BUF_INIT(BUF_NOLIMIT);
        struct vcheck sub = { c->ctx, c->w, BUF_INIT(BUF_NOLIMIT), &tmp };
        buf_append(&sub.path, c->path.data, c->path.len);
        int r = validator_walk(&sub, m, value, depth + 1);
        buf_release(&sub.path);
        buf_release(&tmp);
        if (r == 0)
            return 0;
        const char *mt = validator_type(m);
        if (mt && ((got == VT_OBJECT && (!strcmp(mt, "object") || !strcmp(mt, "record"))) ||
                   (got == VT_ARRAY && !strcmp(mt, "array")))) {
            same = m;
            nsame++;
        }
    }
    return c->w->no_member(c, v, value, got, same, nsame, depth);
}

int validator_walk(struct vcheck *c, const json_t *v, const json_t *value, int depth)
{
    const struct wording *w = c->w;
    const char *t = validator_type(v);
    const json_t *val = json_is_object(v) ? json_object_get(v, "value") : NULL;
    enum value_type got = value_type_of(value, NULL, NULL);
    if (depth > VALIDATOR_MAX_DEPTH)
        return w->bad(c, v, value, BAD_DEPTH);
    if (!t)
        return w->bad(c, v, value, BAD_VALIDATOR);
    if (got == VT_INVALID)
        return w->bad(c, v, value, BAD_VALUE);
    if (got == VT_UNDEFINED && w->undefined_first)
        return w->bad(c, v, value, BAD_UNDEFINED);
    if (!strcmp(t, "any"))
        return got == VT_UNDEFINED ? w->mismatch(c, v, value, got) : 0;
    if (!strcmp(t, "string"))
        return got == VT_STRING ? 0 : w->mismatch(c, v, value, got);
    if (!strcmp(t, "number"))
        return got == VT_NUMBER ? 0 : w->mismatch(c, v, value, got);
    if (!strcmp(t, "int64"))
        return got == VT_INT64 ? 0 : w->mismatch(c, v, value, got);
    if (!strcmp(t, "boolean"))
        return got == VT_BOOLEAN ? 0 : w->mismatch(c, v, value, got);
    if (!strcmp(t, "null"))
        return got == VT_NULL ? 0 : w->mismatch(c, v, value, got);
    if (!strcmp(t, "bytes"))
        return got == VT_BYTES ? 0 : w->mismatch(c, v, value, got);
    if (!strcmp(t, "id")) {
        const char *want = json_string_value(json_object_get(v, "tableName"));
        if (got != VT_STRING)
            return w->mismatch(c, v, value, got);
        if (!c->ctx->id_table)
            return 0;
        const char *have = c->ctx->id_table(c->ctx->id_table_arg, json_string_value(value),
                                            json_string_length(value));
        if (have && want && !strcmp(have, want))
            return 0;
        return w->wrong_id(c, v, value, want, have);
    }
    if (!strcmp(t, "literal")) {
        struct buf a = BUF_INIT(1 << 20), b = BUF_INIT(1 << 20);
        int ok = got != VT_UNDEFINED && key_encode_value(&a, val) == 0 &&
                 key_encode_value(&b, value) == 0 && a.len == b.len &&
                 memcmp(a.data, b.data, a.len) == 0;
        buf_release(&a);
        buf_release(&b);
        return ok ? 0 : w->not_literal(c, v, value, got);
    }
    if (!strcmp(t, "array")) {
        if (got != VT_ARRAY)
            return w->mismatch(c, v, value, got);
        for (size_t i = 0; i < json_array_size(value); i++) {
            if (walk_at(c, STEP_INDEX, NULL, 0, i, val, json_array_get(value, i), depth) < 0)
                return -1;
        }
        return 0;
    }
    if (!strcmp(t, "object"))
        return got == VT_OBJECT ? walk_object(c, val, value, depth) : w->mismatch(c, v, value, got);
    if (!strcmp(t, "record"))
        return got == VT_OBJECT ? walk_record(c, v, value, depth) : w->mismatch(c, v, value, got);
    if (!strcmp(t, "union"))
        return walk_union(c, v, value, got, depth);
    return w->bad(c, v, value, BAD_TYPE);
}

int validator_run(const struct wording *w, const struct validator_ctx *ctx, const json_t *validator,
                  const json_t *value, struct buf *err)
{
    struct vcheck c = { ctx, w, BUF_INIT(BUF_NOLIMIT), err };
    int r = validator_walk(&c, validator, value, 0);
    buf_release(&c.path);
    return r;
}
