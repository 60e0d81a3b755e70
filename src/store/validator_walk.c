/* validator_walk: a validator read once into a tree (validator_compile), and the one walk over a
 * value against it, shared by validator_check (Vireo's wording, validator.c) and
 * validator_check_convex (Convex's wording, validator_convex.c). It decides what matches; every
 * failure is handed to the wording, which writes the message. Invariant: the walk allocates only
 * where a wording asks for sorted keys (a value's; a validator's are sorted once, in the tree),
 * for a union's trial runs, for a record's key strings and for the encoding of a value checked
 * against a literal. */
#include <stdlib.h>
#include <string.h>

#include "base/mem.h"
#include "store/key.h"
#include "store/validator_int.h"
#include "store/value.h"

#include "base/banned.h"

void validator_append_name(struct buf *b, const char *name, size_t len)
{
    if (len <= VALIDATOR_NAME_SHOWN) {
        buf_append(b, name, len);
        return;
    }
    size_t n = VALIDATOR_NAME_SHOWN;
    while (n > 0 && ((unsigned char)name[n] & 0xC0) == 0x80) /* not inside a UTF-8 sequence */
        n--;
    buf_append(b, name, n);
    buf_append_str(b, "…");
}

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

/* ---- the compiled form ---- */

/* the validator's kind, and for a scalar the value type it takes */
static enum vkind kind_of(const char *t, enum value_type *scalar)
{
    static const struct {
        const char *name;
        enum vkind kind;
        enum value_type scalar;
    } kinds[] = {
        { "any", VK_ANY, VT_INVALID },         { "string", VK_STRING, VT_STRING },
        { "number", VK_NUMBER, VT_NUMBER },    { "int64", VK_INT64, VT_INT64 },
        { "boolean", VK_BOOLEAN, VT_BOOLEAN }, { "null", VK_NULL, VT_NULL },
        { "bytes", VK_BYTES, VT_BYTES },       { "id", VK_ID, VT_INVALID },
        { "literal", VK_LITERAL, VT_INVALID }, { "array", VK_ARRAY, VT_INVALID },
        { "object", VK_OBJECT, VT_INVALID },   { "record", VK_RECORD, VT_INVALID },
        { "union", VK_UNION, VT_INVALID },
        { "commitTs", VK_INT64, VT_INT64 }, /* an int64: db.vars.commitTs is written as one */
    };
    *scalar = VT_INVALID;
    if (!t)
        return VK_NOTYPE;
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) {
        if (!strcmp(t, kinds[i].name)) {
            *scalar = kinds[i].scalar;
            return kinds[i].kind;
        }
    }
    return VK_UNKNOWN;
}

/* `depth` is the walk's depth at this node: a node past VALIDATOR_MAX_DEPTH is never looked at
 * (the walk fails there first), so the tree stops at it. */
static struct validator *compile_at(const json_t *v, int depth)
{
    struct validator *n = vr_calloc(1, sizeof *n);
    n->src = v;
    n->kind = kind_of(validator_type(v), &n->scalar);
    n->val = json_is_object(v) ? json_object_get(v, "value") : NULL;
    if (depth > VALIDATOR_MAX_DEPTH) /* its kind is all a union's wording asks of it */
        return n;
    switch (n->kind) {
    case VK_ID:
        n->table = json_string_value(json_object_get(v, "tableName"));
        break;
    case VK_LITERAL:
        n->literal = (struct buf)BUF_INIT(1 << 20);
        n->literal_ok = key_encode_value(&n->literal, n->val) == 0;
        break;
    case VK_ARRAY:
        n->sub = compile_at(n->val, depth + 1);
        break;
    case VK_OBJECT: {
        n->n = json_object_size(n->val);
        n->fields = vr_calloc(n->n ? n->n : 1, sizeof *n->fields);
        n->sorted = vr_calloc(n->n ? n->n : 1, sizeof *n->sorted);
        const char *k;
        size_t klen, i = 0;
        json_t *spec;
        json_object_keylen_foreach((json_t *)n->val, k, klen, spec) {
            struct vfield *f = &n->fields[i];
            f->name = k;
            f->len = klen;
            f->type = compile_at(validator_field_type(spec, &f->optional), depth + 1);
            n->sorted[i] = i;
            i++;
        }
        for (size_t a = 1; a < n->n; a++) { /* insertion sort by strcmp, as the wordings sort */
            size_t x = n->sorted[a], b = a;
            for (; b > 0 && strcmp(n->fields[n->sorted[b - 1]].name, n->fields[x].name) > 0; b--)
                n->sorted[b] = n->sorted[b - 1];
            n->sorted[b] = x;
        }
        break;
    }
    case VK_RECORD:
        n->keys = compile_at(json_object_get(v, "keys"), depth + 1);
        n->sub = compile_at(validator_field_type(json_object_get(v, "values"), NULL), depth + 1);
        break;
    case VK_UNION:
        n->n = json_array_size(n->val);
        n->members = vr_calloc(n->n ? n->n : 1, sizeof *n->members);
        for (size_t i = 0; i < n->n; i++)
            n->members[i] = compile_at(json_array_get(n->val, i), depth + 1);
        break;
    default:
        break;
    }
    return n;
}

struct validator *validator_compile(const json_t *validator)
{
    return compile_at(validator, 0);
}

void validator_free(struct validator *n)
{
    if (!n)
        return;
    validator_free(n->sub);
    validator_free(n->keys);
    if (n->fields) {
        for (size_t i = 0; i < n->n; i++)
            validator_free(n->fields[i].type);
    }
    if (n->members) {
        for (size_t i = 0; i < n->n; i++)
            validator_free(n->members[i]);
    }
    vr_free(n->fields);
    vr_free(n->sorted);
    vr_free(n->members);
    buf_release(&n->literal);
    vr_free(n);
}

/* ---- the walk ---- */

static int walk_at(struct vcheck *c, enum vstep kind, const char *name, size_t len, size_t i,
                   const struct validator *v, const json_t *value, int depth)
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

static int walk_object(struct vcheck *c, const struct validator *v, const json_t *value, int depth)
{
    const json_t *fields = v->val;
    int r = 0;
    for (size_t i = 0; r == 0 && i < v->n; i++) {
        const struct vfield *f = &v->fields[c->w->sorted ? v->sorted[i] : i];
        /* a sorted wording reads a key up to its first NUL, as it sorts them */
        size_t flen = c->w->sorted ? strlen(f->name) : f->len;
        const json_t *fv = json_object_getn(value, f->name, flen);
        if (fv)
            r = walk_at(c, STEP_FIELD, f->name, flen, 0, f->type, fv, depth);
        else if (!f->optional)
            r = c->w->missing(c, fields, value, f->name, flen);
    }
    if (r < 0)
        return -1;
    struct keys ks;
    const char *k;
    size_t klen;
    const json_t *fv;
    keys_init(&ks, value, c->w->sorted);
    while (r == 0 && keys_next(&ks, &k, &klen, &fv)) {
        if (!json_object_getn(fields, k, klen))
            r = c->w->extra(c, fields, value, k, klen);
    }
    keys_release(&ks);
    return r;
}

static int walk_record(struct vcheck *c, const struct validator *v, const json_t *value, int depth)
{
    const char *k;
    size_t klen;
    json_t *fv;
    json_object_keylen_foreach((json_t *)value, k, klen, fv) {
        json_t *ks = json_stringn(k, klen);
        int r = ks ? walk_at(c, STEP_KEYS, k, klen, 0, v->keys, ks, depth) : -1;
        json_decref(ks);
        if (r < 0)
            return c->w->bad_key(c, v->keys->src, k, klen);
        if (walk_at(c, STEP_VALUES, k, klen, 0, v->sub, fv, depth) < 0)
            return -1;
    }
    return 0;
}

static int walk_union(struct vcheck *c, const struct validator *v, const json_t *value,
                      enum value_type got, int depth)
{
    const struct validator *same = NULL;
    int nsame = 0;
    if (v->n == 1 && c->w->lone_member)
        return validator_walk(c, v->members[0], value, depth + 1);
    for (size_t i = 0; i < v->n; i++) {
        const struct validator *m = v->members[i];
        struct buf tmp = BUF_INIT(BUF_NOLIMIT);
        struct vcheck sub = { c->ctx, c->w, BUF_INIT(BUF_NOLIMIT), &tmp };
        buf_append(&sub.path, c->path.data, c->path.len);
        int r = validator_walk(&sub, m, value, depth + 1);
        buf_release(&sub.path);
        buf_release(&tmp);
        if (r == 0)
            return 0;
        if ((got == VT_OBJECT && (m->kind == VK_OBJECT || m->kind == VK_RECORD)) ||
            (got == VT_ARRAY && m->kind == VK_ARRAY)) {
            same = m;
            nsame++;
        }
    }
    return c->w->no_member(c, v->src, value, got, same, nsame, depth);
}

int validator_walk(struct vcheck *c, const struct validator *v, const json_t *value, int depth)
{
    const struct wording *w = c->w;
    const json_t *src = v->src;
    enum value_type got = value_type_of(value, NULL, NULL);
    if (depth > VALIDATOR_MAX_DEPTH)
        return w->bad(c, src, value, BAD_DEPTH);
    if (v->kind == VK_NOTYPE)
        return w->bad(c, src, value, BAD_VALIDATOR);
    if (got == VT_INVALID)
        return w->bad(c, src, value, BAD_VALUE);
    if (got == VT_UNDEFINED && w->undefined_first)
        return w->bad(c, src, value, BAD_UNDEFINED);
    switch (v->kind) {
    case VK_ANY:
        return got == VT_UNDEFINED ? w->mismatch(c, src, value, got) : 0;
    case VK_STRING:
    case VK_NUMBER:
    case VK_INT64:
    case VK_BOOLEAN:
    case VK_NULL:
    case VK_BYTES:
        return got == v->scalar ? 0 : w->mismatch(c, src, value, got);
    case VK_ID: {
        if (got != VT_STRING)
            return w->mismatch(c, src, value, got);
        if (!c->ctx->id_table)
            return 0;
        const char *have = c->ctx->id_table(c->ctx->id_table_arg, json_string_value(value),
                                            json_string_length(value));
        if (have && v->table && !strcmp(have, v->table))
            return 0;
        return w->wrong_id(c, src, value, v->table, have);
    }
    case VK_LITERAL: {
        struct buf b = BUF_INIT(1 << 20);
        int ok = got != VT_UNDEFINED && v->literal_ok && key_encode_value(&b, value) == 0 &&
                 v->literal.len == b.len && memcmp(v->literal.data, b.data, b.len) == 0;
        buf_release(&b);
        return ok ? 0 : w->not_literal(c, src, value, got);
    }
    case VK_ARRAY:
        if (got != VT_ARRAY)
            return w->mismatch(c, src, value, got);
        for (size_t i = 0; i < json_array_size(value); i++) {
            if (walk_at(c, STEP_INDEX, NULL, 0, i, v->sub, json_array_get(value, i), depth) < 0)
                return -1;
        }
        return 0;
    case VK_OBJECT:
        return got == VT_OBJECT ? walk_object(c, v, value, depth) : w->mismatch(c, src, value, got);
    case VK_RECORD:
        return got == VT_OBJECT ? walk_record(c, v, value, depth) : w->mismatch(c, src, value, got);
    case VK_UNION:
        return walk_union(c, v, value, got, depth);
    default:
        return w->bad(c, src, value, BAD_TYPE);
    }
}

int validator_run(const struct wording *w, const struct validator_ctx *ctx,
                  const struct validator *validator, const json_t *value, struct buf *err)
{
    struct vcheck c = { ctx, w, BUF_INIT(BUF_NOLIMIT), err };
    int r = validator_walk(&c, validator, value, 0);
    buf_release(&c.path);
    return r;
}

int validator_run_json(const struct wording *w, const struct validator_ctx *ctx,
                       const json_t *validator, const json_t *value, struct buf *err)
{
    struct validator *v = validator_compile(validator);
    int r = validator_run(w, ctx, v, value, err);
    validator_free(v);
    return r;
}
