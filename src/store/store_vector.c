/* store_vector: vector indexes (Convex's vectorIndex and ctx.vectorSearch), each an SQLite table
 * v<index id>(rowid, id, v, c0..) in the shard's database: the rowid is the bits of the
 * document's _creationTime (unique in a store), id its _id, v its vector as float32 scaled to
 * unit length (cosine similarity is then a dot product), c<i> the key encoding of its i-th filter
 * field, each column with an index of its own so that a filter (an OR of equalities) read from
 * SQLite reads only the rows it matches. A document is in the index when its vector field is an
 * array of exactly `dimensions` finite numbers; any other document is left out, as Convex leaves
 * it out. A search scores every candidate, from the index's snapshot in memory
 * (store_vecsnap.c) or else from SQLite, and keeps the best `limit` (a heap): exact, where
 * Convex's HNSW is approximate. Not reactive: Convex allows vector search in actions only, so
 * nothing is recorded in read or write sets. Invariant: the rows change in the same transaction,
 * and the same write op, as the document. */
#include "store/store_int.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/json_parse.h"
#include "base/mem.h"
#include "base/numfmt.h"
#include "base/rand.h"
#include "store/key.h"
#include "store/value.h"

#include "base/banned.h"

/* v as unit-length float32s in out (dims of them): 1 when v is an array of dims finite numbers,
 * 0 when it is not (the document is not indexed). A zero vector stays zero: it scores 0. */
static int vector_of(const json_t *v, uint32_t dims, float *out)
{
    double sum = 0;
    if (!json_is_array(v) || json_array_size(v) != dims)
        return 0;
    for (uint32_t i = 0; i < dims; i++) {
        double d;
        if (value_type_of(json_array_get(v, i), NULL, &d) != VT_NUMBER || !isfinite(d))
            return 0;
        out[i] = (float)d;
        if (!isfinite(out[i])) /* beyond float32's range */
            return 0;
        sum += (double)out[i] * out[i];
    }
    if (sum > 0) {
        float inv = (float)(1.0 / sqrt(sum));
        for (uint32_t i = 0; i < dims; i++)
            out[i] *= inv;
    }
    return 1;
}

/* Sets `<prefix><index id>` of _vr_meta to a new random number. */
static int gen_set(struct store *s, struct st_index *ix, const char *prefix, struct buf *err)
{
    char key[32];
    snprintf(key, sizeof key, "%s%u", prefix, ix->id);
    sqlite3_stmt *st = st_prep(s, &ix->vgen, err,
                               "INSERT INTO _vr_meta(k, v) VALUES (?1, ?2) "
                               "ON CONFLICT(k) DO UPDATE SET v = excluded.v");
    if (!st)
        return -1;
    sqlite3_bind_text(st, 1, key, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 2, (sqlite3_int64)(rand_u64() >> 1));
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? 0 : st_sqlerr(s, err, "vector index write");
}

/* The index's rows changed in this transaction: a new generation (store_vecsnap.c), so no
 * snapshot of the old rows serves a transaction that sees the new ones; and a new delete
 * generation when rows went (a snapshot can then not be brought up to date by appending). */
int st_vector_gen_bump(struct store *s, struct st_index *ix, int removed, struct buf *err)
{
    return gen_set(s, ix, "vgen", err) < 0 || (removed && gen_set(s, ix, "vdel", err) < 0) ? -1 : 0;
}

/* Removes the document's row: 1, or 0 when it had none (it was not indexed). */
static int row_delete(struct store *s, struct st_index *ix, double ct, struct buf *err)
{
    sqlite3_stmt *st = st_prep(s, &ix->del, err, "DELETE FROM v%u WHERE rowid = ?1", ix->id);
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, st_ct_rowid(ct));
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE ? sqlite3_changes(s->db) > 0 : st_sqlerr(s, err, "vector index write");
}

/* Adds doc's row when its vector is indexable: 1, or 0 when it is not (nothing written). */
static int row_insert(struct store *s, struct st_index *ix, const json_t *doc, double ct,
                      const char *id, float *vec, struct buf *err)
{
    struct buf ck = BUF_INIT(STORE_MAX_KEY);
    int r = -1;
    if (!vector_of(st_lookup_path(doc, ix->fields[0]), ix->dims, vec))
        return 0;
    sqlite3_stmt *st = st_side_insert(s, ix, "rowid, id, v", 3, err);
    if (!st)
        goto out;
    sqlite3_bind_int64(st, 1, st_ct_rowid(ct));
    sqlite3_bind_text(st, 2, id, -1, SQLITE_TRANSIENT);
    sqlite3_bind_blob(st, 3, vec, (int)(ix->dims * sizeof(float)), SQLITE_TRANSIENT);
    for (size_t i = 1; i < ix->nfields; i++) {
        buf_reset(&ck);
        if (key_encode_value(&ck, st_lookup_path(doc, ix->fields[i])) < 0) {
            buf_fail(err, "vector index `%s`: cannot encode filter field `%s`", ix->name,
                     ix->fields[i]);
            goto out;
        }
        sqlite3_bind_blob(st, (int)i + 3, ck.data, (int)ck.len, SQLITE_TRANSIENT);
    }
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) {
        st_sqlerr(s, err, "vector index write");
        goto out;
    }
    r = 1;
out:
    buf_release(&ck);
    return r;
}

/* The indexed parts of a and b (the vector field and the filter fields) are equal. */
static int same_entry(const struct st_index *ix, const json_t *a, const json_t *b)
{
    for (size_t i = 0; i < ix->nfields; i++) {
        const json_t *x = st_lookup_path(a, ix->fields[i]), *y = st_lookup_path(b, ix->fields[i]);
        if (!x != !y || (x && !json_equal(x, y)))
            return 0;
    }
    return 1;
}

int st_vector_write(struct store_txn *t, struct st_index *ix, const json_t *old_doc,
                    const json_t *new_doc, double ct, const char *id, struct buf *err)
{
    struct store *s = t->s;
    if (old_doc && new_doc && same_entry(ix, old_doc, new_doc))
        return 0; /* a patch of other fields: the row stays as it is */
    float *vec = vr_malloc(ix->dims * sizeof(float));
    int del = old_doc ? row_delete(s, ix, ct, err) : 0;
    int ins = del >= 0 && new_doc ? row_insert(s, ix, new_doc, ct, id, vec, err) : 0;
    vr_free(vec);
    if (del < 0 || ins < 0)
        return -1;
    /* a document that was not and is not indexed changes no row: the snapshot stays valid. Only
     * an inserted document's row comes after every other (its _creationTime is the store's
     * newest): a row added by a patch or replace keeps the document's older rowid */
    return del || ins ? st_vector_gen_bump(s, ix, del > 0 || old_doc, err) : 0;
}

/* Creates ix's table and the indexes of its filter columns, and fills it from tb's documents. */
static int vector_build(struct store *s, const struct st_table *tb, struct st_index *ix,
                        struct buf *err)
{
    struct buf sql = BUF_INIT(8192);
    sqlite3_stmt *st = NULL;
    float *vec = vr_malloc(ix->dims * sizeof(float));
    int r = -1, rc;
    buf_appendf(&sql, "CREATE TABLE v%u (id TEXT NOT NULL, v BLOB NOT NULL", ix->id);
    for (size_t i = 1; i < ix->nfields; i++)
        buf_appendf(&sql, ", c%zu BLOB", i - 1);
    buf_append_str(&sql, ")");
    for (size_t i = 1; i < ix->nfields; i++)
        buf_appendf(&sql, "; CREATE INDEX v%uc%zu ON v%u(c%zu)", ix->id, i - 1, ix->id, i - 1);
    if (st_exec(s, sql.data, err) < 0)
        goto out;
    if (!(st = st_prep(s, NULL, err, "SELECT j FROM d%u", tb->num)))
        goto out;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        json_t *doc = json_parse((const char *)sqlite3_column_text(st, 0),
                                 (size_t)sqlite3_column_bytes(st, 0), STORE_JSON_FLAGS, NULL);
        const char *id = json_string_value(json_object_get(doc, "_id"));
        int wr =
            id ? row_insert(s, ix, doc, json_number_value(json_object_get(doc, "_creationTime")),
                            id, vec, err)
               : buf_fail(err, "table `%s`: a document is corrupt", tb->name);
        json_decref(doc);
        if (wr < 0)
            goto out;
    }
    if (rc != SQLITE_DONE) {
        st_sqlerr(s, err, "vector index build");
        goto out;
    }
    if (st_vector_gen_bump(s, ix, 1, err) < 0)
        goto out;
    r = 0;
out:
    sqlite3_finalize(st);
    buf_release(&sql);
    vr_free(vec);
    return r;
}

int st_vector_create(struct store *s, struct st_table *tb, const json_t *decl, struct buf *err)
{
    const json_t *filters = json_object_get(decl, "filterFields");
    uint32_t dims = (uint32_t)json_number_value(json_object_get(decl, "dimensions"));
    json_t *none = json_array();
    json_t *spec =
        json_pack("{s:O,s:I,s:O}", "vectorField", json_object_get(decl, "vectorField"),
                  "dimensions", (json_int_t)dims, "filterFields", filters ? filters : none);
    json_decref(none);
    return st_side_index_create(s, tb, decl, IDX_VECTOR, spec, vector_build, err);
}

/* ---- search ---- */

struct hit {
    float score;
    char id[STORE_ID_LEN + 1];
};

/* a ranks below b: a lower score, or the same score and a later id */
static int worse(const struct hit *a, const struct hit *b)
{
    return a->score < b->score || (a->score == b->score && strcmp(a->id, b->id) > 0);
}

/* A min-heap of the best n hits so far: heap[0] is the worst of them. */
static void sift_down(struct hit *heap, size_t n, size_t i)
{
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < n && worse(&heap[l], &heap[m]))
            m = l;
        if (r < n && worse(&heap[r], &heap[m]))
            m = r;
        if (m == i)
            return;
        struct hit t = heap[i];
        heap[i] = heap[m];
        heap[m] = t;
        i = m;
    }
}

static void sift_up(struct hit *heap, size_t i)
{
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!worse(&heap[i], &heap[p]))
            return;
        struct hit t = heap[i];
        heap[i] = heap[p];
        heap[p] = t;
        i = p;
    }
}

static int by_rank(const void *a, const void *b)
{
    const struct hit *x = a, *y = b;
    return worse(x, y) ? 1 : worse(y, x) ? -1 : 0;
}

static float dot(const float *a, const float *b, uint32_t n)
{
    float s0 = 0, s1 = 0, s2 = 0, s3 = 0; /* four sums: the compiler vectorizes them */
    uint32_t i = 0;
    for (; i + 4 <= n; i += 4) {
        s0 += a[i] * b[i];
        s1 += a[i + 1] * b[i + 1];
        s2 += a[i + 2] * b[i + 2];
        s3 += a[i + 3] * b[i + 3];
    }
    for (; i < n; i++)
        s0 += a[i] * b[i];
    return (s0 + s1) + (s2 + s3);
}

static struct st_index *find_vector_index(struct st_table *tb, const char *index)
{
    for (size_t i = 0; tb && i < tb->nsidx; i++)
        if (tb->sidx[i]->kind == IDX_VECTOR && !strcmp(tb->sidx[i]->name, index))
            return tb->sidx[i];
    return NULL;
}

/* The WHERE clause of the filter `eq` (an OR of [field, value?] equalities, every field a
 * filter field; a field's values grouped into one IN), its values' encodings appended to vals,
 * lens[k] the length of the k-th (bound to ?k+1), cols[k] its filter column. */
static int filter_sql(struct store *s, const struct st_index *ix, const char *name,
                      const json_t *eq, struct buf *where, struct buf *vals, size_t *lens,
                      uint32_t *cols, struct buf *err)
{
    size_t n = json_array_size(eq), nb = 0;
    for (size_t f = 1; f < ix->nfields; f++) {
        size_t in = 0;
        for (size_t i = 0; i < n; i++) {
            const json_t *e = json_array_get(eq, i);
            if (strcmp(json_string_value(json_array_get(e, 0)), ix->fields[f]))
                continue;
            size_t before = vals->len;
            if (key_encode_value(vals, json_array_get(e, 1)) < 0)
                return st_failk(s, STORE_ERR_QUERY, err,
                                "Vector query against %s: the value compared to `%s` is not a "
                                "valid value",
                                name, ix->fields[f]);
            cols[nb] = (uint32_t)(f - 1);
            lens[nb++] = vals->len - before;
            if (!in)
                buf_appendf(where, "%sc%zu IN (", where->len ? " OR " : "", f - 1);
            else
                buf_append_str(where, ", ");
            buf_appendf(where, "?%zu", nb);
            in++;
        }
        if (in)
            buf_append_byte(where, ')');
    }
    return 0;
}

/* Offers a candidate to the heap of the best cap so far. */
static void consider(struct hit *heap, size_t *n, size_t cap, float score, const char *id)
{
    if (*n == cap && (score < heap[0].score ||
                      (score == heap[0].score && memcmp(id, heap[0].id, STORE_ID_LEN) > 0)))
        return;
    struct hit h;
    h.score = score;
    memcpy(h.id, id, STORE_ID_LEN);
    h.id[STORE_ID_LEN] = '\0';
    if (*n < cap) {
        heap[*n] = h;
        sift_up(heap, (*n)++);
    } else {
        heap[0] = h;
        sift_down(heap, *n, 0);
    }
}

/* The index's generations as this transaction sees them (0: never written). */
static int read_gen(struct store *s, struct st_index *ix, int64_t *gen, int64_t *delgen,
                    struct buf *err)
{
    char key[32], dkey[32];
    snprintf(key, sizeof key, "vgen%u", ix->id);
    snprintf(dkey, sizeof dkey, "vdel%u", ix->id);
    sqlite3_stmt *st = st_prep(s, &ix->vgen_get, err,
                               "SELECT (SELECT v FROM _vr_meta WHERE k = ?1), "
                               "(SELECT v FROM _vr_meta WHERE k = ?2)");
    if (!st)
        return -1;
    sqlite3_bind_text(st, 1, key, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, dkey, -1, SQLITE_TRANSIENT);
    int rc = sqlite3_step(st);
    *gen = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    *delgen = rc == SQLITE_ROW ? sqlite3_column_int64(st, 1) : 0;
    sqlite3_reset(st);
    return rc == SQLITE_ROW ? 0 : st_sqlerr(s, err, "vector search");
}

/* Row i of the snapshot passes the filter: one of its neq equalities holds. */
static int snap_matches(const struct st_vecsnap *v, size_t i, const struct buf *vals,
                        const size_t *lens, const uint32_t *cols, size_t neq)
{
    const uint32_t *ko = v->koff + i * (v->nfilt + 1);
    size_t off = 0;
    for (size_t k = 0; k < neq; off += lens[k], k++) {
        uint32_t a = ko[cols[k]], b = ko[cols[k] + 1];
        if (b - a == lens[k] && !memcmp(v->keys + a, vals->data + off, lens[k]))
            return 1;
    }
    return 0;
}

/* The search straight from SQLite, the filter in its WHERE clause (an index is too large for the
 * snapshot cache, or the cache is off). */
static int scan_sql(struct store *s, struct st_index *ix, const float *qv, const struct buf *where,
                    const struct buf *vals, const size_t *lens, size_t neq, struct hit *heap,
                    size_t *nheap, size_t cap, struct buf *err)
{
    struct buf sql = BUF_INIT(8192);
    sqlite3_stmt *st = NULL;
    size_t vbytes = ix->dims * sizeof(float);
    float *row = vr_malloc(vbytes);
    int r = -1, rc;
    buf_appendf(&sql, "SELECT id, v FROM v%u%s%s", ix->id, where->len ? " WHERE " : "",
                where->len ? where->data : "");
    if (sqlite3_prepare_v2(s->db, sql.data, (int)sql.len, &st, NULL) != SQLITE_OK) {
        st_sqlerr(s, err, "vector search");
        goto out;
    }
    for (size_t i = 0, off = 0; i < neq; off += lens[i], i++)
        sqlite3_bind_blob(st, (int)i + 1, vals->data + off, (int)lens[i], SQLITE_STATIC);
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const void *v = sqlite3_column_blob(st, 1);
        const unsigned char *id = sqlite3_column_text(st, 0);
        if (!v || !id || (size_t)sqlite3_column_bytes(st, 1) != vbytes ||
            sqlite3_column_bytes(st, 0) != STORE_ID_LEN)
            continue;           /* not written by this file: never the case */
        memcpy(row, v, vbytes); /* SQLite's blob pointer need not be aligned for floats */
        consider(heap, nheap, cap, dot(qv, row, ix->dims), (const char *)id);
    }
    if (rc != SQLITE_DONE) {
        st_sqlerr(s, err, "vector search");
        goto out;
    }
    r = 0;
out:
    sqlite3_finalize(st);
    buf_release(&sql);
    vr_free(row);
    return r;
}

int store_vector_search(struct store_txn *t, const char *table, const char *index,
                        const char *query_json, size_t len, struct buf *out, struct buf *err)
{
    struct store *s = t->s;
    char name[300];
    json_t *q = NULL;
    struct buf where = BUF_INIT(8192), vals = BUF_INIT(STORE_MAX_KEY);
    size_t lens[STORE_VECTOR_MAX_FILTER];
    uint32_t cols[STORE_VECTOR_MAX_FILTER];
    struct hit *heap = NULL;
    float *qv = NULL;
    struct st_vecsnap *snap = NULL;
    size_t nheap = 0;
    int r = -1;
    s->err_kind = STORE_ERR_OTHER;
    if (!t->open)
        return buf_fail(err, "transaction is not open");
    snprintf(name, sizeof name, "%.140s.%.140s", table, index);
    struct st_table *tb = st_table_find(s, table);
    struct st_index *ix = find_vector_index(tb, index);
    if (!ix) {
        st_failk(s, STORE_ERR_QUERY, err, "Vector index %s not found", name);
        goto out;
    }
    q = json_loadb(query_json, len, STORE_JSON_FLAGS, NULL);
    const json_t *vec = json_object_get(q, "vector"), *eq = json_object_get(q, "eq"),
                 *lim = json_object_get(q, "limit");
    if (!json_is_object(q) || !json_is_array(vec) || (eq && !json_is_array(eq)) ||
        (lim && !json_is_number(lim))) {
        st_failk(s, STORE_ERR_QUERY, err,
                 "vector query must be {\"vector\": [numbers], \"limit\"?, \"eq\"?}");
        goto out;
    }
    double limit = lim ? json_number_value(lim) : STORE_VECTOR_DEFAULT_LIMIT;
    if (limit != floor(limit) || limit < 1 || limit > STORE_VECTOR_MAX_LIMIT) {
        if (limit > STORE_VECTOR_MAX_LIMIT && limit == floor(limit))
            st_failk(s, STORE_ERR_QUERY, err,
                     "Vector queries can fetch at most %d results, requested %.0f.",
                     STORE_VECTOR_MAX_LIMIT, limit);
        else
            st_failk(s, STORE_ERR_QUERY, err,
                     "Vector query limit must be an integer between 1 and %d",
                     STORE_VECTOR_MAX_LIMIT);
        goto out;
    }
    if (json_array_size(eq) > STORE_VECTOR_MAX_FILTER) {
        st_failk(s, STORE_ERR_QUERY, err,
                 "Vector query against %s has too many conditions. Max: %d Actual: %zu", name,
                 STORE_VECTOR_MAX_FILTER, json_array_size(eq));
        goto out;
    }
    for (size_t i = 0; i < json_array_size(eq); i++) {
        const json_t *e = json_array_get(eq, i);
        const char *f = json_string_value(json_array_get(e, 0));
        if (!st_filter_field(ix, f)) {
            st_failk(s, STORE_ERR_QUERY, err,
                     "Vector query against %s contains a filter on \"%.200s\" but that field "
                     "isn't indexed for filtering in `filterFields`.",
                     name, f ? f : "?");
            goto out;
        }
    }
    if (json_array_size(vec) != ix->dims) {
        st_failk(s, STORE_ERR_QUERY, err, "Expected a vector with dimensions %u, received %zu.",
                 ix->dims, json_array_size(vec));
        goto out;
    }
    qv = vr_malloc(ix->dims * sizeof(float));
    if (!vector_of(vec, ix->dims, qv)) {
        st_failk(s, STORE_ERR_QUERY, err,
                 "Vector query against %s: `vector` must be an array of finite numbers", name);
        goto out;
    }
    if (filter_sql(s, ix, name, eq, &where, &vals, lens, cols, err) < 0)
        goto out;
    size_t cap = (size_t)limit, neq = json_array_size(eq);
    heap = vr_malloc(cap * sizeof(*heap));
    int64_t gen, delgen;
    if (read_gen(s, ix, &gen, &delgen, err) < 0)
        goto out;
    buf_reset(err);
    snap = st_vecsnap_get(s, ix, gen, delgen, err);
    if (snap) {
        for (size_t i = 0; i < snap->n; i++)
            if (!neq || snap_matches(snap, i, &vals, lens, cols, neq))
                consider(heap, &nheap, cap, dot(qv, snap->vecs + i * snap->dims, snap->dims),
                         snap->ids[i]);
    } else if (err->len) {
        goto out;
    } else if (scan_sql(s, ix, qv, &where, &vals, lens, neq, heap, &nheap, cap, err) < 0) {
        goto out;
    }
    qsort(heap, nheap, sizeof(*heap), by_rank);
    buf_append_byte(out, '[');
    for (size_t i = 0; i < nheap; i++) {
        char num[NUMFMT_MAX];
        numfmt_double(num, (double)heap[i].score);
        buf_appendf(out, "%s{\"_id\":\"%s\",\"_score\":%s}", i ? "," : "", heap[i].id, num);
    }
    buf_append_byte(out, ']');
    r = 0;
out:
    st_vecsnap_put(snap);
    json_decref(q);
    vr_free(heap);
    vr_free(qv);
    buf_release(&where);
    buf_release(&vals);
    return r;
}
