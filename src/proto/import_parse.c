/* import_parse: import files to documents (import_parse.h). Convex's rules, from its
 * snapshot_import/parse.rs and shape_inference's export_context.rs and pretty.rs:
 *   - JSONL/JSON values are encoded JSON; CSV entries are numbers (Rust's f64 grammar, finite
 *     only) or strings;
 *   - a ZIP's table is decoded by its generated_schema.jsonl: "uniform" means Convex's export
 *     JSON (an integer literal is an int64, a number with '.' or an exponent a float64, '$'
 *     objects are encoded values); otherwise line 1 is the table's shape and each later line
 *     {"<_id>": <export context>} one document's override, and a string becomes an int64, bytes,
 *     ±Infinity, NaN or a string by the context, or, when that is "infer", by what the shape
 *     allows at that place (ExportContext::apply_inner);
 *   - without a generated_schema.jsonl a table's lines are encoded JSON, as JSONL.
 * Every document then goes through one check (finish_doc): an object, "_id" a string,
 * "_creationTime" a finite number >= 0, no other '_' field, value_check. */
#include "proto/import_parse.h"

#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <zip.h>

#include "base/base64.h"
#include "base/json_parse.h"
#include "base/json_write.h"
#include "base/mem.h"
#include "store/store.h"
#include "store/value.h"

#include "base/banned.h"

#define FLAGS_ENCODED (JSON_DECODE_INT_AS_REAL | JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL)
#define FLAGS_EXPORT (JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL) /* integers stay integers */
#define SHAPE_MAX_DEPTH 128
#define TABLE_NAME_MAX 64

/* ---- formats ---- */

int import_format_parse(const char *name, size_t len, enum import_format *out)
{
    static const struct {
        const char *name;
        enum import_format fmt;
    } names[] = {
        {"jsonl", IMPORT_JSONL},          {"jsonLines", IMPORT_JSONL}, {"json", IMPORT_JSON_ARRAY},
        {"jsonArray", IMPORT_JSON_ARRAY}, {"csv", IMPORT_CSV},         {"zip", IMPORT_ZIP},
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (strlen(names[i].name) == len && memcmp(names[i].name, name, len) == 0) {
            *out = names[i].fmt;
            return 0;
        }
    }
    return -1;
}

int import_format_of_path(const char *path, enum import_format *out)
{
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    const char *dot = strrchr(base, '.');
    if (!dot || dot == base)
        return -1;
    dot++;
    if (!strcasecmp(dot, "jsonl") || !strcasecmp(dot, "ndjson"))
        *out = IMPORT_JSONL;
    else if (!strcasecmp(dot, "json"))
        *out = IMPORT_JSON_ARRAY;
    else if (!strcasecmp(dot, "csv"))
        *out = IMPORT_CSV;
    else if (!strcasecmp(dot, "zip"))
        *out = IMPORT_ZIP;
    else
        return -1;
    return 0;
}

/* ---- the parse state and messages ---- */

struct ctx {
    struct import_set *out;
    size_t max_docs, n_docs;
    size_t entry_max, total_max, total;
    struct buf *err;
};

/* Where a document came from: "line 3 of the file: ", "element 2 of the file: ",
 * "messages/documents.jsonl line 7: ". */
struct loc {
    const char *source; /* a ZIP entry, or NULL for the file */
    size_t line;
    int element; /* JSON array */
};

/* "messages/documents.jsonl line 7", or for the file itself "line 7 of the file" ("element 7"
 * in a JSON array): how every message names a place. */
static void place(struct buf *b, const char *source, size_t line, int element)
{
    if (source)
        buf_appendf(b, "%s line %zu", source, line);
    else
        buf_appendf(b, "%s %zu of the file", element ? "element" : "line", line);
}

static void loc_prefix(struct buf *b, const struct loc *l)
{
    place(b, l->source, l->line, l->element);
    buf_append_str(b, ": ");
}

void import_place(struct buf *b, const struct import_table *t, const struct import_doc *d,
                  enum import_format fmt)
{
    place(b, fmt == IMPORT_ZIP ? t->source : NULL, d->line, fmt == IMPORT_JSON_ARRAY);
}

static int loc_fail(const struct loc *l, struct buf *err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static int loc_fail(const struct loc *l, struct buf *err, const char *fmt, ...)
{
    va_list ap;
    buf_reset(err);
    loc_prefix(err, l);
    va_start(ap, fmt);
    buf_vappendf(err, fmt, ap);
    va_end(ap);
    return -1;
}

/* err already holds a message (value_check's, a decoder's): puts the location in front. */
static int loc_wrap(const struct loc *l, struct buf *err)
{
    struct buf b = BUF_INIT(BUF_NOLIMIT);
    loc_prefix(&b, l);
    buf_append(&b, err->data, err->len);
    buf_reset(err);
    buf_append(err, b.data, b.len);
    buf_release(&b);
    return -1;
}

static struct import_table *table_add(struct ctx *cx, const char *name, size_t name_len,
                                      const char *source)
{
    struct import_set *s = cx->out;
    s->tables = vr_realloc(s->tables, (s->n + 1) * sizeof *s->tables);
    struct import_table *t = &s->tables[s->n++];
    memset(t, 0, sizeof *t);
    t->name = vr_strndup(name, name_len);
    t->source = vr_strdup(source ? source : "the file");
    return t;
}

static int count_doc(struct ctx *cx)
{
    if (cx->max_docs && cx->n_docs >= cx->max_docs)
        return buf_fail(cx->err,
                        "the import has more than %zu documents, the most one import may hold",
                        cx->max_docs);
    cx->n_docs++;
    return 0;
}

/* Takes doc (owned, freed on every path): checks it and appends it to t. */
static int finish_doc(struct ctx *cx, struct import_table *t, json_t *doc, const struct loc *l)
{
    struct buf *err = cx->err;
    if (!json_is_object(doc)) {
        static const char *const kinds[] = {"an object", "an array", "a string", "a number",
                                            "a number",  "true",     "false",    "null"};
        int k = doc ? (int)json_typeof(doc) : 7;
        json_decref(doc);
        return loc_fail(l, err, "a document must be a JSON object, not %s",
                        k >= 0 && k < 8 ? kinds[k] : "that");
    }
    const char *key;
    json_t *val;
    json_object_foreach(doc, key, val)
    {
        if (key[0] != '_' || !strcmp(key, "_id") || !strcmp(key, "_creationTime"))
            continue;
        loc_fail(l, err, "field `%s`: field names starting with _ are reserved", key);
        json_decref(doc);
        return -1;
    }
    char *id = NULL;
    double ct = NAN;
    json_t *jid = json_object_get(doc, "_id");
    if (jid) {
        if (!json_is_string(jid) || json_string_length(jid) == 0 ||
            strlen(json_string_value(jid)) != json_string_length(jid)) {
            json_decref(doc);
            return loc_fail(l, err, "field `_id`: must be a non-empty string (a document id)");
        }
    }
    json_t *jct = json_object_get(doc, "_creationTime");
    if (jct) {
        if (!json_is_number(jct) || !isfinite(json_number_value(jct)) ||
            json_number_value(jct) < 0) {
            json_decref(doc);
            return loc_fail(l, err,
                            "field `_creationTime`: must be a finite number >= 0 (milliseconds "
                            "since the Unix epoch)");
        }
        ct = json_number_value(jct);
    }
    if (jid)
        id = vr_strndup(json_string_value(jid), json_string_length(jid));
    json_object_del(doc, "_id");
    json_object_del(doc, "_creationTime");
    if (value_check(doc, "field", err) < 0) {
        vr_free(id);
        json_decref(doc);
        return loc_wrap(l, err);
    }
    if (count_doc(cx) < 0) {
        vr_free(id);
        json_decref(doc);
        return -1;
    }
    struct buf text = BUF_INIT(BUF_NOLIMIT);
    json_write(&text, doc, 0);
    json_decref(doc);
    if (t->n == t->cap) {
        t->cap = t->cap ? 2 * t->cap : 16;
        t->docs = vr_realloc(t->docs, t->cap * sizeof *t->docs);
    }
    size_t len = text.len;
    char *bytes = vr_malloc(len + 1); /* exactly its size: the buffer grew by doubling */
    memcpy(bytes, text.data, len);
    bytes[len] = '\0';
    buf_release(&text);
    t->docs[t->n++] = (struct import_doc){bytes, len, id, ct, l->line};
    return 0;
}

static int has_bom(const char *p, size_t n)
{
    return n >= 3 && (unsigned char)p[0] == 0xEF && (unsigned char)p[1] == 0xBB &&
           (unsigned char)p[2] == 0xBF;
}

static int blank(const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i] != ' ' && p[i] != '\t' && p[i] != '\r' && p[i] != '\n')
            return 0;
    return 1;
}

/* The line of (p, n) at *pos (its bytes without the '\n' in *line, *len), *pos moved past it;
 * 0 at the end. */
static int next_line(const char *p, size_t n, size_t *pos, const char **line, size_t *len)
{
    if (*pos >= n)
        return 0;
    const char *nl = memchr(p + *pos, '\n', n - *pos);
    size_t end = nl ? (size_t)(nl - p) : n;
    *line = p + *pos;
    *len = end - *pos;
    *pos = nl ? end + 1 : n;
    return 1;
}

/* ---- encoded values ---- */

static void le_bytes(uint64_t u, unsigned char b[8])
{
    for (int i = 0; i < 8; i++)
        b[i] = (unsigned char)(u >> (8 * i));
}

static json_t *wrap8(const char *key, const unsigned char b[8])
{
    struct buf s = BUF_INIT(BUF_NOLIMIT);
    base64_encode(&s, b, 8, 0);
    json_t *o = json_object();
    json_object_set_new(o, key, json_stringn(s.data, s.len));
    buf_release(&s);
    return o;
}

static json_t *enc_int64(int64_t v)
{
    unsigned char b[8];
    le_bytes((uint64_t)v, b);
    return wrap8("$integer", b);
}

static json_t *enc_float(double d)
{
    if (isfinite(d) && !(d == 0 && signbit(d)))
        return json_real(d);
    uint64_t u;
    memcpy(&u, &d, 8);
    unsigned char b[8];
    le_bytes(u, b);
    return wrap8("$float", b);
}

static json_t *enc_bytes(const unsigned char *p, size_t n)
{
    struct buf s = BUF_INIT(BUF_NOLIMIT);
    base64_encode(&s, p, n, 0);
    json_t *o = json_object();
    json_object_set_new(o, "$bytes", json_stringn(s.data, s.len));
    buf_release(&s);
    return o;
}

/* Standard base64 (padding optional) to bytes; -1 if s is not that. */
static long b64_std(const char *s, size_t n, unsigned char **out)
{
    size_t i = n;
    while (i > 0 && n - i < 2 && s[i - 1] == '=')
        i--;
    if (i % 4 == 1)
        return -1;
    for (size_t k = 0; k < i; k++) {
        unsigned char c = (unsigned char)s[k];
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '+' || c == '/'))
            return -1;
    }
    *out = vr_malloc(3 * ((n + 3) / 4) + 1);
    long m = base64_decode(*out, s, n);
    if (m < 0) {
        vr_free(*out);
        *out = NULL;
    }
    return m;
}

/* Rust's i64::from_str: an optional sign, then decimal digits only. */
static int parse_i64(const char *s, size_t n, int64_t *out)
{
    size_t i = 0;
    int neg = 0;
    if (i < n && (s[i] == '+' || s[i] == '-'))
        neg = s[i++] == '-';
    if (i == n)
        return -1;
    uint64_t lim = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX, v = 0;
    for (; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        unsigned d = (unsigned)(s[i] - '0');
        if (v > (lim - d) / 10)
            return -1;
        v = v * 10 + d;
    }
    *out = neg ? (int64_t)(0 - v) : (int64_t)v;
    return 0;
}

/* ---- Convex's export JSON ("uniform"): ValueFormat::ConvexExportJSON ---- */

static json_t *from_export_json(const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_INTEGER:
        return enc_int64((int64_t)json_integer_value(v));
    case JSON_REAL:
        return enc_float(json_real_value(v));
    case JSON_ARRAY: {
        json_t *a = json_array();
        for (size_t i = 0; i < json_array_size(v); i++)
            json_array_append_new(a, from_export_json(json_array_get(v, i)));
        return a;
    }
    case JSON_OBJECT: {
        const char *key;
        json_t *val;
        json_object_foreach((json_t *)v, key, val)
        {
            if (key[0] == '$') /* an encoded value ($bytes, $float, $integer): kept */
                return json_deep_copy(v);
        }
        json_t *o = json_object();
        json_object_foreach((json_t *)v, key, val)
        {
            json_object_set_new(o, key, from_export_json(val));
        }
        return o;
    }
    default:
        return json_deep_copy(v);
    }
}

/* ---- shapes (pretty.rs) ---- */

enum shape_kind {
    SH_NEVER,
    SH_NULL,
    SH_INT64,
    SH_FLOAT64,
    SH_NEG_INF,
    SH_POS_INF,
    SH_NEG_ZERO,
    SH_NAN,
    SH_NORMAL_FLOAT64,
    SH_BOOLEAN,
    SH_FIELD_NAME,
    SH_STRING,
    SH_BYTES,
    SH_UNKNOWN,
    SH_LITERAL, /* a string literal */
    SH_ID,
    SH_ARRAY,  /* kids[0] the element */
    SH_RECORD, /* kids[0] the key, kids[1] the value */
    SH_OBJECT, /* kids[i] the value of names[i] */
    SH_UNION,  /* kids: the options, none of them a union */
};

struct shape {
    enum shape_kind kind;
    struct shape **kids;
    char **names;
    size_t n;
};

static void shape_free(struct shape *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->n; i++) {
        shape_free(s->kids[i]);
        if (s->names)
            vr_free(s->names[i]);
    }
    vr_free(s->kids);
    vr_free(s->names);
    vr_free(s);
}

static struct shape *shape_new(enum shape_kind k)
{
    struct shape *s = vr_calloc(1, sizeof *s);
    s->kind = k;
    return s;
}

static void shape_add(struct shape *s, struct shape *kid, const char *name, size_t name_len)
{
    s->kids = vr_realloc(s->kids, (s->n + 1) * sizeof *s->kids);
    if (name || s->names) {
        s->names = vr_realloc(s->names, (s->n + 1) * sizeof *s->names);
        s->names[s->n] = vr_strndup(name, name_len);
    }
    s->kids[s->n++] = kid;
}

struct sp { /* the shape parser over a NUL-free text */
    const char *p, *end;
    struct buf *err;
};

static int sp_fail(struct sp *sp, const char *what)
{
    size_t left = (size_t)(sp->end - sp->p);
    return buf_fail(sp->err, "%s at '%.*s%s'", what, (int)(left > 40 ? 40 : left), sp->p,
                    left > 40 ? "..." : "");
}

static int sp_eat(struct sp *sp, const char *lit)
{
    size_t n = strlen(lit);
    if ((size_t)(sp->end - sp->p) >= n && memcmp(sp->p, lit, n) == 0) {
        sp->p += n;
        return 1;
    }
    return 0;
}

/* The text up to the next `term` (Convex's parse_identifier_with_terminator); NULL if none. */
static const char *sp_until(struct sp *sp, const char *term, size_t *len)
{
    size_t tn = strlen(term);
    for (const char *q = sp->p; (size_t)(sp->end - q) >= tn; q++) {
        if (memcmp(q, term, tn) == 0) {
            const char *start = sp->p;
            *len = (size_t)(q - start);
            sp->p = q + tn;
            return start;
        }
    }
    return NULL;
}

static struct shape *sp_union(struct sp *sp, int depth);

static struct shape *sp_union_then(struct sp *sp, int depth, const char *term)
{
    struct shape *s = sp_union(sp, depth);
    if (!s)
        return NULL;
    if (!sp_eat(sp, term)) {
        char what[32];
        snprintf(what, sizeof what, "expected '%s'", term);
        sp_fail(sp, what);
        shape_free(s);
        return NULL;
    }
    return s;
}

static struct shape *sp_prefix(struct sp *sp, int depth)
{
    static const struct {
        const char *text;
        enum shape_kind kind;
    } units[] = {
        {"never", SH_NEVER},
        {"null", SH_NULL},
        {"int64", SH_INT64},
        {"float64", SH_FLOAT64},
        {"-inf", SH_NEG_INF},
        {"inf", SH_POS_INF},
        {"NaN", SH_NAN},
        {"normalfloat64", SH_NORMAL_FLOAT64},
        {"boolean", SH_BOOLEAN},
        {"field_name", SH_FIELD_NAME},
        {"string", SH_STRING},
        {"bytes", SH_BYTES},
        {"unknown", SH_UNKNOWN},
        {"-0", SH_NEG_ZERO}, /* printed by some Convex versions, not parsed by them */
    };
    if (depth > SHAPE_MAX_DEPTH) {
        buf_fail(sp->err, "the shape is nested more than %d levels deep", SHAPE_MAX_DEPTH);
        return NULL;
    }
    for (size_t i = 0; i < sizeof units / sizeof units[0]; i++)
        if (sp_eat(sp, units[i].text))
            return shape_new(units[i].kind);
    if (sp_eat(sp, "{")) {
        struct shape *o = shape_new(SH_OBJECT);
        while (!sp_eat(sp, "}")) {
            size_t n;
            const char *f = sp_until(sp, ": ", &n);
            if (!f) {
                sp_fail(sp, "expected ': '");
                shape_free(o);
                return NULL;
            }
            if (n > 0 && f[n - 1] == '?')
                n--;
            if (n < 2 || f[0] != '"' || f[n - 1] != '"') {
                buf_fail(sp->err, "cannot parse object key '%.*s'", (int)(n > 64 ? 64 : n), f);
                shape_free(o);
                return NULL;
            }
            struct shape *v = sp_union(sp, depth + 1);
            if (!v) {
                shape_free(o);
                return NULL;
            }
            shape_add(o, v, f + 1, n - 2);
            if (!sp_eat(sp, ", ") && !(sp->p < sp->end && *sp->p == '}')) {
                sp_fail(sp, "unexpected token");
                shape_free(o);
                return NULL;
            }
        }
        return o;
    }
    if (sp_eat(sp, "id<")) {
        size_t n;
        const char *num = sp_until(sp, ">", &n);
        uint64_t v = 0;
        int ok = num && n > 0 && n <= 10;
        for (size_t i = 0; ok && i < n; i++) {
            ok = num[i] >= '0' && num[i] <= '9';
            v = v * 10 + (uint64_t)(num[i] - '0');
        }
        if (!ok || v == 0 || v > UINT32_MAX) {
            buf_fail(sp->err, "invalid table number in id<...>");
            return NULL;
        }
        return shape_new(SH_ID);
    }
    if (sp_eat(sp, "array<")) {
        struct shape *e = sp_union_then(sp, depth + 1, ">");
        if (!e)
            return NULL;
        struct shape *a = shape_new(SH_ARRAY);
        shape_add(a, e, NULL, 0);
        return a;
    }
    if (sp_eat(sp, "set<") || sp_eat(sp, "map<")) {
        buf_fail(sp->err, "sets and maps are not supported");
        return NULL;
    }
    if (sp_eat(sp, "record<")) {
        struct shape *k = sp_union_then(sp, depth + 1, ", ");
        if (!k)
            return NULL;
        struct shape *v = sp_union_then(sp, depth + 1, ">");
        if (!v) {
            shape_free(k);
            return NULL;
        }
        struct shape *r = shape_new(SH_RECORD);
        shape_add(r, k, NULL, 0);
        shape_add(r, v, NULL, 0);
        return r;
    }
    if (sp_eat(sp, "\"")) {
        size_t n;
        if (!sp_until(sp, "\"", &n)) {
            sp_fail(sp, "unterminated string literal");
            return NULL;
        }
        return shape_new(SH_LITERAL);
    }
    sp_fail(sp, "unexpected token");
    return NULL;
}

static struct shape *sp_union(struct sp *sp, int depth)
{
    struct shape *first = sp_prefix(sp, depth);
    if (!first || !sp_eat(sp, " | "))
        return first;
    struct shape *u = shape_new(SH_UNION);
    shape_add(u, first, NULL, 0);
    do {
        struct shape *s = sp_prefix(sp, depth);
        if (!s) {
            shape_free(u);
            return NULL;
        }
        shape_add(u, s, NULL, 0);
    } while (sp_eat(sp, " | "));
    return u;
}

static struct shape *shape_parse(const char *s, size_t n, struct buf *err)
{
    struct sp sp = {s, s + n, err};
    struct shape *sh = sp_union(&sp, 0);
    if (sh && sp.p != sp.end) {
        sp_fail(&sp, "unexpected token");
        shape_free(sh);
        return NULL;
    }
    return sh;
}

/* A set of shape options (Convex's BTreeSet<&Shape>; duplicates do not change any answer). */
struct shapes {
    const struct shape **v;
    size_t n, cap;
};

static void shapes_push(struct shapes *ss, const struct shape *s)
{
    if (ss->n == ss->cap) {
        ss->cap = ss->cap ? 2 * ss->cap : 4;
        ss->v = vr_realloc(ss->v, ss->cap * sizeof *ss->v);
    }
    ss->v[ss->n++] = s;
}

/* Shape::array_element over the set */
static void shapes_element(const struct shapes *in, struct shapes *out)
{
    for (size_t i = 0; i < in->n; i++) {
        const struct shape *s = in->v[i];
        size_t nopt = s->kind == SH_UNION ? s->n : 1;
        for (size_t k = 0; k < nopt; k++) {
            const struct shape *o = s->kind == SH_UNION ? s->kids[k] : s;
            if (o->kind == SH_ARRAY)
                shapes_push(out, o->kids[0]);
            else if (o->kind == SH_UNKNOWN)
                shapes_push(out, o);
        }
    }
}

/* Shape::object_field over the set */
static void shapes_field(const struct shapes *in, const char *field, struct shapes *out)
{
    for (size_t i = 0; i < in->n; i++) {
        const struct shape *s = in->v[i];
        size_t nopt = s->kind == SH_UNION ? s->n : 1;
        for (size_t k = 0; k < nopt; k++) {
            const struct shape *o = s->kind == SH_UNION ? s->kids[k] : s;
            if (o->kind == SH_OBJECT) {
                for (size_t f = 0; f < o->n; f++)
                    if (!strcmp(o->names[f], field))
                        shapes_push(out, o->kids[f]);
            } else if (o->kind == SH_RECORD) {
                shapes_push(out, o->kids[1]);
            } else if (o->kind == SH_UNKNOWN) {
                shapes_push(out, o);
            }
        }
    }
}

/* ---- export contexts (export_context.rs) ---- */

enum ec_kind { EC_INFER, EC_INT64, EC_NAN, EC_INF, EC_BYTES, EC_ARRAY, EC_OBJECT, EC_BAD };

/* ExportContext::inferred_context_for_string: the one way a string can decode under the shapes,
 * or EC_INFER (a string) when there is none or more than one. */
static enum ec_kind string_context(const struct shapes *ss)
{
    enum ec_kind only = EC_BAD;
    for (size_t i = 0; i < ss->n; i++) {
        const struct shape *s = ss->v[i];
        size_t nopt = s->kind == SH_UNION ? s->n : 1;
        for (size_t k = 0; k < nopt; k++) {
            const struct shape *o = s->kind == SH_UNION ? s->kids[k] : s;
            enum ec_kind c;
            switch (o->kind) {
            case SH_INT64:
                c = EC_INT64;
                break;
            case SH_NEG_INF:
            case SH_POS_INF:
                c = EC_INF;
                break;
            case SH_NAN:
            case SH_FLOAT64:
            case SH_UNKNOWN:
                return EC_INFER; /* several ways: ambiguous */
            case SH_LITERAL:
            case SH_ID:
            case SH_FIELD_NAME:
            case SH_STRING:
                c = EC_INFER;
                break;
            case SH_BYTES:
                c = EC_BYTES;
                break;
            default:
                continue;
            }
            if (only != EC_BAD && only != c)
                return EC_INFER;
            only = c;
        }
    }
    return only == EC_BAD ? EC_INFER : only;
}

/* The kind of an export context in its JSON form (NULL: infer); nan gets a NaN's bytes. */
static enum ec_kind ec_kind_of(const json_t *c, unsigned char nan[8])
{
    if (!c)
        return EC_INFER;
    if (json_is_string(c)) {
        const char *s = json_string_value(c);
        if (!strcmp(s, "infer"))
            return EC_INFER;
        if (!strcmp(s, "int64"))
            return EC_INT64;
        if (!strcmp(s, "float64inf"))
            return EC_INF;
        if (!strcmp(s, "bytes"))
            return EC_BYTES;
        return EC_BAD;
    }
    if (json_is_array(c))
        return EC_ARRAY;
    if (json_is_object(c)) {
        json_t *n = json_object_get(c, "$float64NaN");
        if (json_is_string(n)) {
            unsigned char *b = NULL;
            long m = b64_std(json_string_value(n), json_string_length(n), &b);
            if (m == 8 && nan)
                memcpy(nan, b, 8);
            vr_free(b);
            return m == 8 ? EC_NAN : EC_BAD;
        }
        return EC_OBJECT;
    }
    return EC_BAD;
}

/* ExportContext::try_from: 0, or -1 with err set. */
static int ec_check(const json_t *c, struct buf *err)
{
    if (json_is_string(c) &&
        (!strcmp(json_string_value(c), "set") || !strcmp(json_string_value(c), "map")))
        return buf_fail(err, "sets and maps are not supported");
    unsigned char nan[8];
    enum ec_kind k = ec_kind_of(c, nan);
    if (k == EC_BAD) {
        if (json_is_object(c))
            return buf_fail(err, "invalid export context: `$float64NaN` must be the base64 of 8 "
                                 "bytes");
        char *t = json_dumps(c, JSON_ENCODE_ANY | JSON_COMPACT);
        buf_fail(err, "invalid export context %.60s", t ? t : "?");
        free(t);
        return -1;
    }
    if (k == EC_ARRAY) {
        for (size_t i = 0; i < json_array_size(c); i++)
            if (ec_check(json_array_get(c, i), err) < 0)
                return -1;
    } else if (k == EC_OBJECT) {
        const char *key;
        json_t *val;
        json_object_foreach((json_t *)c, key, val)
        {
            if (!strcmp(key, "$float64NaN"))
                continue; /* Convex drops a non-string one */
            if (ec_check(val, err) < 0)
                return -1;
        }
    }
    return 0;
}

/* ExportContext::apply_inner: the clean JSON value v under context c (NULL: infer) and shapes
 * ss, as encoded JSON. NULL with err set ("field `a.b`: ..."). */
static json_t *ec_apply(const json_t *c, const json_t *v, const struct shapes *ss, struct buf *path,
                        struct buf *err)
{
    unsigned char nan[8];
    enum ec_kind k = ec_kind_of(c, nan);
#define APPLY_FAIL(msg)                                                                            \
    do {                                                                                           \
        if (path->len)                                                                             \
            buf_fail(err, "field `%s`: %s", path->data, msg);                                      \
        else                                                                                       \
            buf_fail(err, "%s", msg);                                                              \
        return NULL;                                                                               \
    } while (0)
    switch (json_typeof(v)) {
    case JSON_NULL:
    case JSON_TRUE:
    case JSON_FALSE:
        return json_deep_copy(v);
    case JSON_INTEGER:
    case JSON_REAL:
        return enc_float(json_number_value(v));
    case JSON_STRING: {
        const char *s = json_string_value(v);
        size_t n = json_string_length(v);
        if (k == EC_INFER)
            k = string_context(ss);
        switch (k) {
        case EC_INFER:
            return json_stringn(s, n);
        case EC_INT64: {
            int64_t i;
            if (parse_i64(s, n, &i) < 0)
                APPLY_FAIL("unexpected string for an int64");
            return enc_int64(i);
        }
        case EC_NAN: {
            double d;
            memcpy(&d, nan, 8); /* little-endian hosts only, as the rest of Vireo */
            if (!isnan(d))
                APPLY_FAIL("unexpected non-NaN value in the export context");
            if (strcmp(s, "NaN") != 0 || n != 3)
                APPLY_FAIL("unexpected serialization of a NaN value");
            return wrap8("$float", nan);
        }
        case EC_INF:
            if (n == 8 && !strcmp(s, "Infinity"))
                return enc_float(INFINITY);
            if (n == 9 && !strcmp(s, "-Infinity"))
                return enc_float(-INFINITY);
            APPLY_FAIL("unexpected string for a float64");
        case EC_BYTES: {
            unsigned char *b = NULL;
            long m = b64_std(s, n, &b);
            if (m < 0)
                APPLY_FAIL("invalid base64 for bytes");
            json_t *r = enc_bytes(b, (size_t)m);
            vr_free(b);
            return r;
        }
        default:
            APPLY_FAIL("unexpected shape hint for string");
        }
    }
    case JSON_ARRAY: {
        if (k != EC_INFER && k != EC_ARRAY)
            APPLY_FAIL("unsupported shape hint for array value");
        if (k == EC_ARRAY && json_array_size(c) != json_array_size(v))
            APPLY_FAIL("array lengths do not match");
        struct shapes el = {0};
        shapes_element(ss, &el);
        json_t *a = json_array();
        size_t mark = path->len;
        for (size_t i = 0; i < json_array_size(v); i++) {
            buf_appendf(path, "[%zu]", i);
            json_t *e = ec_apply(k == EC_ARRAY ? json_array_get(c, i) : NULL, json_array_get(v, i),
                                 &el, path, err);
            path->len = mark;
            path->data[mark] = '\0';
            if (!e) {
                json_decref(a);
                vr_free(el.v);
                return NULL;
            }
            json_array_append_new(a, e);
        }
        vr_free(el.v);
        return a;
    }
    case JSON_OBJECT: {
        if (k != EC_INFER && k != EC_OBJECT)
            APPLY_FAIL("unsupported shape hint for object value");
        json_t *o = json_object();
        size_t mark = path->len;
        const char *key;
        json_t *val;
        json_object_foreach((json_t *)v, key, val)
        {
            struct shapes fs = {0};
            shapes_field(ss, key, &fs);
            const json_t *hint =
                k == EC_OBJECT && strcmp(key, "$float64NaN") != 0 ? json_object_get(c, key) : NULL;
            if (mark)
                buf_append_byte(path, '.');
            buf_append_str(path, key);
            json_t *e = ec_apply(hint, val, &fs, path, err);
            path->len = mark;
            path->data[mark] = '\0';
            vr_free(fs.v);
            if (!e) {
                json_decref(o);
                return NULL;
            }
            json_object_set_new(o, key, e);
        }
        return o;
    }
    }
#undef APPLY_FAIL
    return NULL;
}

/* ---- generated_schema.jsonl ---- */

enum doc_mode { MODE_ENCODED, MODE_EXPORT, MODE_LEGACY };

struct schema {
    enum doc_mode mode;
    struct shape *shape; /* MODE_LEGACY */
    json_t *overrides;   /* MODE_LEGACY: _id -> export context */
};

static void schema_free(struct schema *s)
{
    shape_free(s->shape);
    json_decref(s->overrides);
}

static int schema_parse(const char *name, const char *p, size_t n, struct schema *out,
                        struct buf *err)
{
    memset(out, 0, sizeof *out);
    out->mode = MODE_LEGACY;
    size_t line = 0, pos = 0;
    const char *s;
    size_t sl;
    while (next_line(p, n, &pos, &s, &sl)) {
        line++;
        if (line > 1 && blank(s, sl))
            continue;
        json_error_t je;
        json_t *v = json_parse(s, sl, FLAGS_ENCODED | JSON_DECODE_ANY, &je);
        struct loc l = {name, line, 0};
        if (!v)
            return loc_fail(&l, err, "malformed JSON: %s", je.text);
        if (line == 1) {
            if (!json_is_string(v)) {
                json_decref(v);
                return loc_fail(&l, err, "cannot parse %s: its first line must be a string", name);
            }
            if (!strcmp(json_string_value(v), "uniform")) {
                json_decref(v);
                out->mode = MODE_EXPORT;
                return 0;
            }
            out->shape = shape_parse(json_string_value(v), json_string_length(v), err);
            json_decref(v);
            if (!out->shape) {
                struct buf b = BUF_INIT(BUF_NOLIMIT);
                buf_append(&b, err->data, err->len);
                buf_fail(err, "cannot parse %s: %s", name, b.data);
                buf_release(&b);
                return -1;
            }
            out->overrides = json_object();
            continue;
        }
        const char *id = NULL;
        json_t *c = NULL;
        if (json_is_object(v) && json_object_size(v) == 1) {
            void *it = json_object_iter(v);
            id = json_object_iter_key(it);
            c = json_object_iter_value(it);
        }
        if (!c) {
            json_decref(v);
            return loc_fail(&l, err,
                            "an override must be an object with one item: "
                            "{\"<_id>\": <export context>}");
        }
        if (ec_check(c, err) < 0) {
            json_decref(v);
            return loc_wrap(&l, err);
        }
        json_object_set(out->overrides, id, c);
        json_decref(v);
    }
    if (line == 0)
        return buf_fail(err, "cannot parse %s: it is empty", name);
    return 0;
}

/* ---- JSONL ---- */

/* One line's document under the table's schema (NULL: encoded JSON). Takes nothing; returns the
 * encoded document or NULL with err set (without location). */
static json_t *decode_line(const char *s, size_t n, const struct schema *sc, struct buf *err)
{
    enum doc_mode mode = sc ? sc->mode : MODE_ENCODED;
    json_error_t je;
    json_t *v = json_parse(
        s, n, (mode == MODE_EXPORT ? FLAGS_EXPORT : FLAGS_ENCODED) | JSON_DECODE_ANY, &je);
    if (!v) {
        buf_fail(err, "malformed JSON: %s", je.text);
        return NULL;
    }
    if (mode == MODE_ENCODED || !json_is_object(v))
        return v; /* finish_doc says what is wrong with a non-object */
    /* depth and '$' names first, on what was written, so that decoding stays shallow */
    if (value_check(v, "field", err) < 0) {
        json_decref(v);
        return NULL;
    }
    json_t *r;
    if (mode == MODE_EXPORT) {
        r = from_export_json(v);
        json_t *ct = json_object_get(v, "_creationTime");
        if (json_is_integer(ct)) /* a float64 written without a '.': still a time */
            json_object_set_new(r, "_creationTime", json_real((double)json_integer_value(ct)));
    } else {
        json_t *id = json_object_get(v, "_id");
        const json_t *c =
            json_is_string(id) ? json_object_get(sc->overrides, json_string_value(id)) : NULL;
        struct shapes root = {0};
        shapes_push(&root, sc->shape);
        struct buf path = BUF_INIT(BUF_NOLIMIT);
        r = ec_apply(c, v, &root, &path, err);
        buf_release(&path);
        vr_free(root.v);
    }
    json_decref(v);
    return r;
}

static int parse_jsonl(struct ctx *cx, struct import_table *t, const char *p, size_t n,
                       const char *source, const struct schema *sc)
{
    struct loc l = {source, 1, 0};
    if (has_bom(p, n))
        return loc_fail(&l, cx->err,
                        "the file starts with a UTF-8 byte order mark (BOM), which is not "
                        "supported: save it without one");
    size_t pos = 0, line = 0;
    const char *s;
    size_t sl;
    while (next_line(p, n, &pos, &s, &sl)) {
        l.line = ++line;
        if (blank(s, sl))
            continue;
        json_t *doc = decode_line(s, sl, sc, cx->err);
        if (!doc)
            return loc_wrap(&l, cx->err);
        if (finish_doc(cx, t, doc, &l) < 0)
            return -1;
    }
    return 0;
}

/* ---- JSON array ---- */

static int parse_json_array(struct ctx *cx, struct import_table *t, const char *p, size_t n)
{
    if (has_bom(p, n))
        return buf_fail(cx->err, "the file starts with a UTF-8 byte order mark (BOM), which is not "
                                 "supported: save it without one");
    json_error_t je;
    json_t *v = json_loadb(p, n, FLAGS_ENCODED | JSON_DECODE_ANY, &je);
    if (!v)
        return buf_fail(cx->err, "the file is not valid JSON: line %d column %d: %s", je.line,
                        je.column, je.text);
    if (!json_is_array(v)) {
        json_decref(v);
        return buf_fail(cx->err, "the file is not a JSON array (with --format json the file must "
                                 "be one array of documents)");
    }
    for (size_t i = 0; i < json_array_size(v); i++) {
        struct loc l = {NULL, i + 1, 1};
        if (finish_doc(cx, t, json_incref(json_array_get(v, i)), &l) < 0) {
            json_decref(v);
            return -1;
        }
    }
    json_decref(v);
    return 0;
}

/* ---- CSV ---- */

struct csv {
    const char *p;
    size_t n, pos, line; /* line: of p[pos] */
    struct buf text;     /* the record's entries, each NUL-terminated */
    size_t *off, *len;   /* each entry's offset in text and length */
    size_t nf, capf;
};

static void csv_field_end(struct csv *c, size_t start)
{
    if (c->nf == c->capf) {
        c->capf = c->capf ? 2 * c->capf : 16;
        c->off = vr_realloc(c->off, c->capf * sizeof *c->off);
        c->len = vr_realloc(c->len, c->capf * sizeof *c->len);
    }
    c->off[c->nf] = start;
    c->len[c->nf] = c->text.len - start;
    c->nf++;
    buf_append_byte(&c->text, '\0');
}

/* Reads the next record: 1, 0 at the end, -1 with err (an unclosed quote). *first_line: the
 * line where it starts. Empty lines are skipped (as the csv crate does). */
static int csv_record(struct csv *c, size_t *first_line, struct buf *err)
{
    buf_reset(&c->text);
    c->nf = 0;
    /* skip empty lines */
    while (c->pos < c->n && (c->p[c->pos] == '\n' || c->p[c->pos] == '\r')) {
        if (c->p[c->pos] == '\r' && c->pos + 1 < c->n && c->p[c->pos + 1] == '\n')
            c->pos++;
        c->pos++;
        c->line++;
    }
    if (c->pos >= c->n)
        return 0;
    *first_line = c->line;
    for (;;) {
        size_t start = c->text.len;
        if (c->pos < c->n && c->p[c->pos] == '"') {
            size_t qline = c->line;
            c->pos++;
            for (;;) {
                if (c->pos >= c->n)
                    return buf_fail(err, "line %zu of the file: a quoted entry is never closed",
                                    qline);
                char ch = c->p[c->pos++];
                if (ch == '"') {
                    if (c->pos < c->n && c->p[c->pos] == '"') {
                        buf_append_byte(&c->text, '"');
                        c->pos++;
                        continue;
                    }
                    break;
                }
                if (ch == '\n' || (ch == '\r' && !(c->pos < c->n && c->p[c->pos] == '\n')))
                    c->line++;
                buf_append_byte(&c->text, (unsigned char)ch);
            }
            if (c->pos < c->n && c->p[c->pos] != ',' && c->p[c->pos] != '\n' &&
                c->p[c->pos] != '\r')
                return buf_fail(
                    err,
                    "line %zu of the file: a quoted entry must end at its closing quote "
                    "(a quote inside one is written twice: \"\")",
                    c->line);
        } else {
            size_t s = c->pos;
            while (c->pos < c->n && c->p[c->pos] != ',' && c->p[c->pos] != '\n' &&
                   c->p[c->pos] != '\r')
                c->pos++;
            buf_append(&c->text, c->p + s, c->pos - s);
        }
        csv_field_end(c, start);
        if (c->pos >= c->n)
            return 1;
        char ch = c->p[c->pos++];
        if (ch == ',')
            continue;
        if (ch == '\r' && c->pos < c->n && c->p[c->pos] == '\n')
            c->pos++;
        c->line++;
        return 1;
    }
}

/* Rust's f64::from_str grammar, decimal part: [+-] (digits [. digits*] | . digits) [e [+-]
 * digits]; its inf/infinity/nan words give non-finite values, which stay strings here. */
static int csv_number(const char *s, size_t n, double *out)
{
    size_t i = 0, digits = 0;
    if (i < n && (s[i] == '+' || s[i] == '-'))
        i++;
    while (i < n && s[i] >= '0' && s[i] <= '9')
        i++, digits++;
    if (i < n && s[i] == '.') {
        i++;
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++, digits++;
    }
    if (!digits)
        return -1;
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < n && (s[i] == '+' || s[i] == '-'))
            i++;
        size_t ed = 0;
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++, ed++;
        if (!ed)
            return -1;
    }
    if (i != n)
        return -1;
    char *end;
    double d = strtod(s, &end); /* s is NUL-terminated at n */
    if (end != s + n || !isfinite(d))
        return -1;
    *out = d;
    return 0;
}

static int parse_csv(struct ctx *cx, struct import_table *t, const char *p, size_t n)
{
    struct csv c = {.p = p, .n = n, .line = 1, .text = BUF_INIT(BUF_NOLIMIT)};
    char **names = NULL;
    json_t *seen = json_object(); /* the header's names, to find one named twice */
    size_t nnames = 0, first = 1;
    int rc = -1;
    if (has_bom(p, n))
        c.pos = 3;
    int r = csv_record(&c, &first, cx->err);
    if (r < 0)
        goto out;
    if (r == 0) {
        buf_fail(cx->err, "the file is empty: a CSV file's first line names the fields");
        goto out;
    }
    names = vr_calloc(c.nf, sizeof *names);
    nnames = c.nf;
    for (size_t i = 0; i < c.nf; i++) {
        const char *s = c.text.data + c.off[i];
        size_t len = c.len[i];
        while (len && *s == ' ')
            s++, len--;
        while (len && s[len - 1] == ' ')
            len--;
        struct loc l = {NULL, first, 0};
        if (len == 0) {
            loc_fail(&l, cx->err, "column %zu of the header has no name", i + 1);
            goto out;
        }
        json_t *probe = json_stringn(s, len);
        json_decref(probe);
        if (!probe || memchr(s, '\0', len) || s[0] == '$') {
            loc_fail(&l, cx->err, "column %zu of the header: `%.*s` is not a valid field name",
                     i + 1, (int)(len > 64 ? 64 : len), s);
            goto out;
        }
        if (s[0] == '_' && !(len == 3 && !memcmp(s, "_id", 3)) &&
            !(len == 13 && !memcmp(s, "_creationTime", 13))) {
            loc_fail(&l, cx->err, "field `%.*s`: field names starting with _ are reserved",
                     (int)(len > 64 ? 64 : len), s);
            goto out;
        }
        names[i] = vr_strndup(s, len);
        if (json_object_get(seen, names[i])) {
            loc_fail(&l, cx->err, "the header names the field `%s` twice", names[i]);
            goto out;
        }
        json_object_set_new(seen, names[i], json_true());
    }
    for (;;) {
        r = csv_record(&c, &first, cx->err);
        if (r < 0)
            goto out;
        if (r == 0)
            break;
        struct loc l = {NULL, first, 0};
        if (c.nf != nnames) {
            loc_fail(&l, cx->err, "the row has %zu entr%s but the header names %zu field%s", c.nf,
                     c.nf == 1 ? "y" : "ies", nnames, nnames == 1 ? "" : "s");
            goto out;
        }
        json_t *doc = json_object();
        for (size_t i = 0; i < c.nf; i++) {
            const char *s = c.text.data + c.off[i];
            double d;
            json_t *v;
            if (strcmp(names[i], "_id") != 0 && csv_number(s, c.len[i], &d) == 0)
                v = json_real(d);
            else
                v = json_stringn(s, c.len[i]);
            if (!v) {
                json_decref(doc);
                loc_fail(&l, cx->err, "field `%s`: the entry is not valid UTF-8", names[i]);
                goto out;
            }
            json_object_set_new(doc, names[i], v);
        }
        if (finish_doc(cx, t, doc, &l) < 0)
            goto out;
    }
    rc = 0;
out:
    for (size_t i = 0; i < nnames; i++)
        vr_free(names[i]);
    vr_free(names);
    json_decref(seen);
    vr_free(c.off);
    vr_free(c.len);
    buf_release(&c.text);
    return rc;
}

/* ---- ZIP ---- */

enum entry_kind { ENT_DOCS, ENT_SCHEMA, ENT_FILE };

struct entry {
    enum entry_kind kind;
    zip_uint64_t index;
    const char *name;
    char *key; /* the table (ENT_DOCS, ENT_SCHEMA) or the stored file's id (ENT_FILE) */
    zip_uint64_t size;
};

static int read_entry(struct ctx *cx, zip_t *za, const struct entry *e, struct buf *out)
{
    if (e->size > cx->entry_max)
        return buf_fail(cx->err,
                        "%s is larger than %zu bytes uncompressed, the most one entry of "
                        "an import may be",
                        e->name, cx->entry_max);
    if (e->size > cx->total_max - cx->total)
        return buf_fail(cx->err,
                        "the ZIP holds more than %zu bytes uncompressed, the most an "
                        "import may hold",
                        cx->total_max);
    zip_file_t *f = zip_fopen_index(za, e->index, 0);
    if (!f)
        return buf_fail(cx->err, "cannot read %s from the ZIP: %s", e->name, zip_strerror(za));
    buf_init(out, (size_t)e->size);
    char chunk[65536];
    int rc = 0;
    for (;;) {
        zip_int64_t n = zip_fread(f, chunk, sizeof chunk);
        if (n < 0) {
            rc =
                buf_fail(cx->err, "cannot read %s from the ZIP: %s", e->name, zip_file_strerror(f));
            break;
        }
        if (n == 0)
            break;
        if (buf_append(out, chunk, (size_t)n) < 0) {
            rc = buf_fail(cx->err, "%s holds more bytes than the ZIP says", e->name);
            break;
        }
    }
    zip_fclose(f);
    if (rc == 0 && out->len != e->size)
        rc = buf_fail(cx->err, "%s holds fewer bytes than the ZIP says", e->name);
    if (rc < 0) {
        buf_release(out);
        return -1;
    }
    cx->total += out->len;
    return 0;
}

static int entry_cmp(const void *a, const void *b)
{
    const struct entry *x = a, *y = b;
    if (x->kind != y->kind)
        return (int)x->kind - (int)y->kind;
    int c = strcmp(x->key, y->key);
    if (c)
        return c;
    return x->index < y->index ? -1 : x->index > y->index;
}

static int entry_index_cmp(const void *a, const void *b)
{
    const struct entry *x = *(const struct entry *const *)a, *y = *(const struct entry *const *)b;
    return x->index < y->index ? -1 : x->index > y->index;
}

static const struct entry *entry_find(const struct entry *v, size_t n, enum entry_kind kind,
                                      const char *key)
{
    struct entry probe = {.kind = kind, .key = (char *)key, .index = 0};
    size_t lo = 0, hi = n;
    while (lo < hi) { /* the first entry >= (kind, key, 0) */
        size_t mid = lo + (hi - lo) / 2;
        if (entry_cmp(&v[mid], &probe) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo < n && v[lo].kind == kind && !strcmp(v[lo].key, key))
        return &v[lo];
    return NULL;
}

/* A component's table in Convex's layout: `_components/<name>/<table>/documents.jsonl` (a
 * child's under its parent's: `_components/a/_components/b/t/...`) is the store's table
 * "a/t" ("a/b/t"), as the snapshot export writes it. Its stored files are refused: a component
 * shares the app's here. 1 with *e filled, 0 to ignore the entry, -1 with err. */
static int classify_component(const char *name, struct entry *e, struct buf *err)
{
    char table[STORE_TABLE_NAME_MAX + 1];
    size_t tn = 0;
    const char *p = name;
    while (!strncmp(p, "_components/", 12)) {
        p += 12;
        size_t seg = strcspn(p, "/");
        if (!p[seg] || tn + seg + 1 > STORE_TABLE_NAME_MAX)
            return buf_fail(err, "%s: not a component's table (_components/<name>/<table>/...)",
                            name);
        memcpy(table + tn, p, seg + 1);
        tn += seg + 1;
        p += seg + 1;
    }
    const char *slash = strchr(p, '/');
    if (!slash || strchr(slash + 1, '/'))
        return 0;
    int docs = !strcmp(slash + 1, "documents.jsonl");
    int schema = !strcmp(slash + 1, "generated_schema.jsonl");
    size_t tl = (size_t)(slash - p);
    if (!docs && !schema)
        return 0;
    if (tl == 7 && !memcmp(p, "_tables", 7))
        return 0;
    if (p[0] == '_' && schema)
        return 0;
    if (tl == 8 && !memcmp(p, "_storage", 8))
        return buf_fail(err,
                        "%s: a component's stored files are not supported (a component "
                        "shares the app's file storage in Vireo)",
                        name);
    if (p[0] == '_')
        return buf_fail(err, "%s: `%.*s` is a system table: only _storage can be imported", name,
                        (int)tl, p);
    if (tn + tl > STORE_TABLE_NAME_MAX || !store_table_name_ok(table, tn - 1) ||
        !store_name_ok(p, tl))
        return buf_fail(err,
                        "%s: not a valid component table (names of letters, digits and "
                        "underscores, starting with a letter)",
                        name);
    memcpy(table + tn, p, tl);
    table[tn + tl] = '\0';
    e->kind = docs ? ENT_DOCS : ENT_SCHEMA;
    e->key = vr_strdup(table);
    return 1;
}

/* Classifies one entry's name: 1 with *e filled, 0 to ignore it, -1 with err. */
static int classify(const char *name, struct entry *e, struct buf *err)
{
    size_t n = strlen(name);
    if (n == 0 || name[n - 1] == '/' || !strcmp(name, "README.md"))
        return 0;
    if (!strncmp(name, "_components/", 12))
        return classify_component(name, e, err);
    const char *slash = strchr(name, '/');
    if (!slash)
        return 0;
    size_t tl = (size_t)(slash - name);
    const char *rest = slash + 1;
    if (tl == 7 && !memcmp(name, "_tables", 7))
        return 0;
    if (strchr(rest, '/')) {
        const char *last = strrchr(rest, '/') + 1;
        if (!strcmp(last, "documents.jsonl") || !strcmp(last, "generated_schema.jsonl"))
            return buf_fail(err,
                            "%s: a table nested in folders (a snapshot inside a folder?): a "
                            "snapshot's tables are at its top, components' under _components/; "
                            "zip the export's own folders",
                            name);
        return 0;
    }
    int docs = !strcmp(rest, "documents.jsonl");
    int schema = !strcmp(rest, "generated_schema.jsonl");
    if (tl == 8 && !memcmp(name, "_storage", 8)) {
        if (docs || schema) {
            if (schema)
                return 0;
            e->kind = ENT_DOCS;
            e->key = vr_strdup("_storage");
            return 1;
        }
        size_t idl = strcspn(rest, ".");
        if (idl == 0)
            return 0;
        e->kind = ENT_FILE;
        e->key = vr_strndup(rest, idl);
        return 1;
    }
    if (!docs && !schema)
        return 0;
    if (name[0] == '_' && schema)
        return 0;
    if (name[0] == '_')
        return buf_fail(err, "%s: `%.*s` is a system table: only _storage can be imported", name,
                        (int)tl, name);
    if (!store_name_ok(name, tl))
        return buf_fail(err,
                        "%s: `%.*s` is not a valid table name (a letter, then letters, digits and "
                        "underscores, at most %d in all)",
                        name, (int)(tl > 80 ? 80 : tl), name, TABLE_NAME_MAX);
    e->kind = docs ? ENT_DOCS : ENT_SCHEMA;
    e->key = vr_strndup(name, tl);
    return 1;
}

static char *opt_string(const json_t *v)
{
    return json_is_string(v) ? vr_strndup(json_string_value(v), json_string_length(v)) : NULL;
}

static int parse_storage(struct ctx *cx, zip_t *za, const struct entry *ents, size_t nents,
                         const char *src, const char *p, size_t n)
{
    struct import_set *s = cx->out;
    size_t pos = 0, line = 0;
    const char *t;
    size_t tl;
    while (next_line(p, n, &pos, &t, &tl)) {
        struct loc l = {src, ++line, 0};
        if (blank(t, tl))
            continue;
        json_error_t je;
        json_t *v = json_parse(t, tl, FLAGS_EXPORT, &je);
        if (!v)
            return loc_fail(&l, cx->err, "malformed JSON: %s", je.text);
        json_t *id = json_object_get(v, "_id"), *ct = json_object_get(v, "_creationTime");
        json_t *size = json_object_get(v, "size"), *sha = json_object_get(v, "sha256");
        json_t *type = json_object_get(v, "contentType");
        const char *bad = NULL;
        if (!json_is_object(v))
            bad = "a stored file's line must be a JSON object";
        else if (!json_is_string(id) || json_string_length(id) == 0 ||
                 strlen(json_string_value(id)) != json_string_length(id) ||
                 strchr(json_string_value(id), '/'))
            bad = "field `_id`: must be a non-empty string (a document id)";
        else if (ct && (!json_is_number(ct) || !isfinite(json_number_value(ct)) ||
                        json_number_value(ct) < 0))
            bad = "field `_creationTime`: must be a finite number >= 0";
        else if (sha && !json_is_string(sha) && !json_is_null(sha))
            bad = "field `sha256`: must be a string";
        else if (type && !json_is_string(type) && !json_is_null(type))
            bad = "field `contentType`: must be a string";
        int64_t want = -1;
        if (!bad && size && !json_is_null(size)) {
            if (json_is_integer(size) && json_integer_value(size) >= 0)
                want = (int64_t)json_integer_value(size);
            else if (json_is_real(size) && json_real_value(size) >= 0 &&
                     json_real_value(size) < 9e15 &&
                     json_real_value(size) == floor(json_real_value(size)))
                want = (int64_t)json_real_value(size);
            else if (!json_is_string(size) ||
                     parse_i64(json_string_value(size), json_string_length(size), &want) < 0 ||
                     want < 0)
                bad = "field `size`: must be a whole number of bytes";
        }
        if (bad) {
            json_decref(v);
            return loc_fail(&l, cx->err, "%s", bad);
        }
        const struct entry *e = entry_find(ents, nents, ENT_FILE, json_string_value(id));
        if (!e) {
            loc_fail(&l, cx->err,
                     "the stored file %s has no entry _storage/%s (or _storage/%s.<ext>) in the "
                     "ZIP",
                     json_string_value(id), json_string_value(id), json_string_value(id));
            json_decref(v);
            return -1;
        }
        if (want >= 0 && (uint64_t)want != e->size) {
            loc_fail(&l, cx->err, "the stored file %s is %" PRId64 " bytes but %s holds %llu",
                     json_string_value(id), want, e->name, (unsigned long long)e->size);
            json_decref(v);
            return -1;
        }
        if (count_doc(cx) < 0) {
            json_decref(v);
            return -1;
        }
        struct buf data;
        if (read_entry(cx, za, e, &data) < 0) {
            json_decref(v);
            return -1;
        }
        s->files = vr_realloc(s->files, (s->n_files + 1) * sizeof *s->files);
        struct import_file *f = &s->files[s->n_files++];
        memset(f, 0, sizeof *f);
        f->id = opt_string(id);
        f->ct = ct ? json_number_value(ct) : NAN;
        f->content_type = opt_string(type);
        f->sha256 = opt_string(sha);
        f->data = (unsigned char *)buf_detach(&data, &f->size);
        json_decref(v);
    }
    return 0;
}

static int parse_zip(struct ctx *cx, const char *data, size_t len)
{
    zip_error_t ze;
    zip_error_init(&ze);
    zip_source_t *src = zip_source_buffer_create(data, len, 0, &ze);
    if (!src) {
        buf_fail(cx->err, "cannot read the ZIP: %s", zip_error_strerror(&ze));
        zip_error_fini(&ze);
        return -1;
    }
    zip_t *za = zip_open_from_source(src, ZIP_RDONLY, &ze);
    if (!za) {
        buf_fail(cx->err, "the file is not a valid ZIP: %s", zip_error_strerror(&ze));
        zip_error_fini(&ze);
        zip_source_free(src);
        return -1;
    }
    zip_error_fini(&ze);
    zip_int64_t total = zip_get_num_entries(za, 0);
    struct entry *ents = NULL;
    const struct entry **docs = NULL;
    size_t nents = 0, ndocs = 0;
    int rc = -1;
    if (total < 0)
        total = 0;
    ents = vr_calloc((size_t)total + 1, sizeof *ents);
    for (zip_uint64_t i = 0; i < (zip_uint64_t)total; i++) {
        zip_stat_t st;
        zip_stat_init(&st);
        if (zip_stat_index(za, i, 0, &st) < 0 || !(st.valid & ZIP_STAT_NAME)) {
            buf_fail(cx->err, "the ZIP's entry %llu cannot be read: %s", (unsigned long long)i,
                     zip_strerror(za));
            goto out;
        }
        struct entry e = {.index = i, .name = st.name};
        int r = classify(st.name, &e, cx->err);
        if (r < 0)
            goto out;
        if (r == 0)
            continue;
        e.size = (st.valid & ZIP_STAT_SIZE) ? st.size : 0;
        if (!(st.valid & ZIP_STAT_SIZE)) {
            vr_free(e.key);
            buf_fail(cx->err, "%s: the ZIP does not say its size", st.name);
            goto out;
        }
        if (e.size > cx->entry_max) {
            vr_free(e.key);
            buf_fail(cx->err,
                     "%s is larger than %zu bytes uncompressed, the most one entry of an "
                     "import may be",
                     st.name, cx->entry_max);
            goto out;
        }
        ents[nents++] = e;
    }
    qsort(ents, nents, sizeof *ents, entry_cmp);
    for (size_t i = 1; i < nents; i++) {
        if (ents[i].kind != ENT_FILE && ents[i].kind == ents[i - 1].kind &&
            !strcmp(ents[i].key, ents[i - 1].key)) {
            buf_fail(cx->err, "the ZIP holds %s twice", ents[i].name);
            goto out;
        }
    }
    /* the tables, in the ZIP's order */
    docs = vr_calloc(nents + 1, sizeof *docs);
    for (size_t i = 0; i < nents; i++)
        if (ents[i].kind == ENT_DOCS && strcmp(ents[i].key, "_storage") != 0)
            docs[ndocs++] = &ents[i];
    qsort(docs, ndocs, sizeof *docs, entry_index_cmp);
    for (size_t i = 0; i < ndocs; i++) {
        const struct entry *e = docs[i];
        struct schema sc;
        int have_schema = 0;
        const struct entry *se = entry_find(ents, nents, ENT_SCHEMA, e->key);
        if (se) {
            struct buf b;
            if (read_entry(cx, za, se, &b) < 0)
                goto out;
            int r = schema_parse(se->name, b.data, b.len, &sc, cx->err);
            buf_release(&b);
            if (r < 0) {
                schema_free(&sc);
                goto out;
            }
            have_schema = 1;
        }
        struct buf b;
        if (read_entry(cx, za, e, &b) < 0) {
            if (have_schema)
                schema_free(&sc);
            goto out;
        }
        struct import_table *t = table_add(cx, e->key, strlen(e->key), e->name);
        int r = parse_jsonl(cx, t, b.data, b.len, e->name, have_schema ? &sc : NULL);
        buf_release(&b);
        if (have_schema)
            schema_free(&sc);
        if (r < 0)
            goto out;
    }
    const struct entry *st = entry_find(ents, nents, ENT_DOCS, "_storage");
    if (st) {
        struct buf b;
        if (read_entry(cx, za, st, &b) < 0)
            goto out;
        int r = parse_storage(cx, za, ents, nents, st->name, b.data, b.len);
        buf_release(&b);
        if (r < 0)
            goto out;
    }
    rc = 0;
out:
    for (size_t i = 0; i < nents; i++)
        vr_free(ents[i].key);
    vr_free(ents);
    vr_free(docs);
    zip_discard(za);
    return rc;
}

/* ---- the entry points ---- */

int import_parse_limits(const char *data, size_t len, enum import_format fmt, const char *table,
                        size_t max_docs, size_t zip_entry_max, size_t zip_total_max,
                        struct import_set *out, struct buf *err)
{
    memset(out, 0, sizeof *out);
    struct ctx cx = {out, max_docs, 0, zip_entry_max, zip_total_max, 0, err};
    int rc;
    if (fmt == IMPORT_ZIP) {
        if (table)
            return buf_fail(err, "--table is not supported for a ZIP import: the ZIP names its "
                                 "tables");
        rc = parse_zip(&cx, data, len);
    } else {
        if (!table)
            return buf_fail(err, "a %s import needs the table to import into (--table)",
                            fmt == IMPORT_CSV ? "CSV" : "JSON");
        if (!store_table_name_ok(table, strlen(table)))
            return buf_fail(err,
                            "`%.80s` is not a valid table name (a letter, then letters, digits and "
                            "underscores, at most %d in all; a component's as component/table)",
                            table, TABLE_NAME_MAX);
        struct import_table *t = table_add(&cx, table, strlen(table), NULL);
        if (fmt == IMPORT_JSONL)
            rc = parse_jsonl(&cx, t, data, len, NULL, NULL);
        else if (fmt == IMPORT_JSON_ARRAY)
            rc = parse_json_array(&cx, t, data, len);
        else if (fmt == IMPORT_CSV)
            rc = parse_csv(&cx, t, data, len);
        else
            rc = buf_fail(err, "unknown import format");
    }
    if (rc < 0)
        import_set_free(out);
    return rc;
}

int import_parse(const char *data, size_t len, enum import_format fmt, const char *table,
                 size_t max_docs, struct import_set *out, struct buf *err)
{
    return import_parse_limits(data, len, fmt, table, max_docs, IMPORT_ZIP_ENTRY_MAX,
                               IMPORT_ZIP_TOTAL_MAX, out, err);
}

void import_set_free(struct import_set *s)
{
    for (size_t i = 0; i < s->n; i++) {
        struct import_table *t = &s->tables[i];
        for (size_t k = 0; k < t->n; k++) {
            vr_free(t->docs[k].text);
            vr_free(t->docs[k].id);
        }
        vr_free(t->docs);
        vr_free(t->name);
        vr_free(t->source);
    }
    vr_free(s->tables);
    for (size_t i = 0; i < s->n_files; i++) {
        struct import_file *f = &s->files[i];
        vr_free(f->id);
        vr_free(f->content_type);
        vr_free(f->sha256);
        vr_free(f->data);
    }
    vr_free(s->files);
    memset(s, 0, sizeof *s);
}
