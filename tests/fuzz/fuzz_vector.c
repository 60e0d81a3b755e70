/* fuzz_vector: libFuzzer target for vector search (store_vector_search). The input is a query's
 * JSON against an in-memory store with a vector index (3 dimensions, filter fields `c` and `t`)
 * over documents of every shape; each query runs three ways — from the snapshot in memory, from
 * SQLite (the cache off), and over the cache's limit — which must agree exactly (both the
 * outcome and the answer's bytes), and an answer must be a JSON array of at most `limit`
 * {_id, _score} objects, best first. */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "base/buf.h"
#include "store/store.h"

#include "base/banned.h"

static struct store *st;

static void setup(void)
{
    struct buf err = BUF_INIT(BUF_NOLIMIT);
    const char *schema = "{\"tables\":{\"m\":{\"vectorIndexes\":[{\"name\":\"v\",\"vectorField\":"
                         "\"e\",\"dimensions\":3,\"filterFields\":[\"c\",\"t\"]}]}}}";
    static const char *const docs[] = {
        "{\"c\":\"a\",\"t\":1,\"e\":[1,0,0]}",      "{\"c\":\"a\",\"e\":[0,1,0]}",
        "{\"c\":\"b\",\"t\":2,\"e\":[0,0,1]}",      "{\"c\":\"b\",\"t\":1,\"e\":[1,1,0]}",
        "{\"c\":null,\"e\":[-1,0.5,2]}",            "{\"e\":[0,0,0]}",
        "{\"c\":\"a\",\"e\":[1,2]}",                "{\"c\":\"a\",\"e\":\"x\"}",
        "{\"c\":[1,2],\"t\":{\"x\":1},\"e\":[3,3,3]}", "{\"c\":\"a\",\"t\":1,\"e\":[1,0,0]}",
    };
    if (store_open(":memory:", NULL, &st, &err) < 0 ||
        store_apply_schema(st, schema, strlen(schema), &err) < 0)
        abort();
    struct store_txn *t = store_txn_begin(st, 1, &err);
    for (size_t i = 0; i < sizeof docs / sizeof docs[0]; i++) {
        char id[STORE_ID_LEN + 1];
        if (store_insert(t, "m", docs[i], strlen(docs[i]), id, &err) < 0)
            abort();
    }
    if (store_txn_commit(t, NULL, &err) < 0)
        abort();
    store_txn_free(t);
    buf_release(&err);
}

/* 0 or -1, the answer or the error in out. */
static int search(const uint8_t *data, size_t size, struct buf *out)
{
    struct buf err = BUF_INIT(BUF_NOLIMIT);
    struct store_txn *t = store_txn_begin(st, 0, &err);
    buf_reset(out);
    int r = store_vector_search(t, "m", "v", (const char *)data, size, out, &err);
    if (r < 0) {
        buf_reset(out);
        buf_append(out, err.data, err.len);
    }
    store_txn_commit(t, NULL, &err);
    store_txn_free(t);
    buf_release(&err);
    return r;
}

static void check_answer(const struct buf *out, const uint8_t *data, size_t size)
{
    json_t *q = json_loadb((const char *)data, size, JSON_DECODE_INT_AS_REAL, NULL);
    double limit = json_is_number(json_object_get(q, "limit"))
                       ? json_number_value(json_object_get(q, "limit"))
                       : STORE_VECTOR_DEFAULT_LIMIT;
    json_t *a = json_loadb(out->data, out->len, 0, NULL);
    if (!json_is_array(a) || (double)json_array_size(a) > limit)
        abort();
    double prev = INFINITY;
    for (size_t i = 0; i < json_array_size(a); i++) {
        json_t *h = json_array_get(a, i);
        const char *id = json_string_value(json_object_get(h, "_id"));
        json_t *sc = json_object_get(h, "_score");
        if (!id || strlen(id) != STORE_ID_LEN || !json_is_number(sc) || json_object_size(h) != 2)
            abort();
        double s = json_number_value(sc);
        if (!(s <= prev) || s < -1.0001 || s > 1.0001)
            abort();
        prev = s;
    }
    json_decref(a);
    json_decref(q);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!st)
        setup();
    struct buf mem = BUF_INIT(BUF_NOLIMIT), sql = BUF_INIT(BUF_NOLIMIT),
               big = BUF_INIT(BUF_NOLIMIT);
    int r1 = search(data, size, &mem);
    store_vector_cache_limit(0);
    int r2 = search(data, size, &sql);
    store_vector_cache_limit(64); /* smaller than the index: searched from SQLite */
    int r3 = search(data, size, &big);
    store_vector_cache_limit((size_t)STORE_VECTOR_CACHE_MB_DEFAULT << 20);
    if (r1 != r2 || r1 != r3 || mem.len != sql.len || mem.len != big.len ||
        memcmp(mem.data, sql.data, mem.len) || memcmp(mem.data, big.data, mem.len))
        abort();
    if (r1 == 0)
        check_answer(&mem, data, size);
    buf_release(&mem);
    buf_release(&sql);
    buf_release(&big);
    return 0;
}
