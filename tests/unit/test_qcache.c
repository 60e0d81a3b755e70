/* qcache: keys (shape, function, args, identity), precise invalidation through live's interval
 * indexes, tickets refusing answers computed before a write, the shared LRU budget, clears.
 * Read and write sets are built by hand; the store builds them for real. */
#include "test.h"

#include "live/qcache.h"
#include "read_sets.h"

static void one_write(struct write_set *ws, struct index_write *w, uint32_t index_id,
                      const char *key)
{
    buf_init(&w->old_key, BUF_NOLIMIT);
    buf_init(&w->new_key, BUF_NOLIMIT);
    buf_append_str(&w->new_key, key);
    w->index_id = index_id;
    ws->writes = w;
    ws->len = 1;
}

static void write_key(struct qcache *c, uint32_t index_id, const char *key)
{
    struct write_set ws = { 0 };
    struct index_write w;
    one_write(&ws, &w, index_id, key);
    qcache_apply_writes(c, &ws);
    buf_release(&w.old_key);
    buf_release(&w.new_key);
}

static int get(struct qcache *c, const struct qcache_key *k, const char *want)
{
    struct slice body;
    size_t vpos;
    if (qcache_get(c, k, &body, &vpos) != 1)
        return 0;
    return body.len == strlen(want) && !memcmp(body.p, want, body.len);
}

static struct qcache_key key(const char *args, const char *identity)
{
    return (struct qcache_key){ .shape = "v", .path = "m:list", .args = args,
                                .identity = identity };
}

TEST(qcache_hit_miss_and_keys)
{
    struct qcache_pool *p = qcache_pool_new(1 << 20);
    struct qcache *c = qcache_new(p);
    struct read_set rs = { 0 };
    add_range(&rs, 5, "a", "b");
    struct qcache_key k = key("{\"ch\":\"a\"}", "");
    CHECK(!get(c, &k, "A"));
    CHECK_EQ_INT(qcache_put(c, qcache_ticket(c), &k, &rs, "A", 1, SIZE_MAX), 1);
    CHECK(get(c, &k, "A"));
    /* another identity, shape or args: not the same entry */
    struct qcache_key other = key("{\"ch\":\"a\"}", "{\"subject\":\"u1\"}");
    CHECK(!get(c, &other, "A"));
    other = key("{\"ch\":\"b\"}", "");
    CHECK(!get(c, &other, "A"));
    other = k;
    other.shape = "c0";
    CHECK(!get(c, &other, "A"));
    const struct qcache_stats *st = qcache_stats(c);
    CHECK_EQ_INT(st->hits, 1);
    CHECK_EQ_INT(st->misses, 4);
    CHECK_EQ_INT(st->first_misses, 4);
    CHECK_EQ_INT(st->entries, 1);
    qcache_free(c);
    CHECK_EQ_INT(qcache_pool_bytes(p), 0);
    qcache_pool_free(p);
    read_set_release(&rs);
}

TEST(qcache_doorkeeper_admits_a_key_on_its_second_miss)
{
    struct qcache_pool *p = qcache_pool_new(1 << 20);
    struct qcache *c = qcache_new(p), *other = qcache_new(p);
    struct qcache_key k = key("{\"id\":1}", ""), k2 = key("{\"id\":2}", "");
    struct slice s;
    size_t vpos;
    CHECK_EQ_INT(qcache_get(c, &k, &s, &vpos), -1);     /* first seen: not cached */
    CHECK_EQ_INT(qcache_get(c, &k2, &s, &vpos), -1);
    CHECK_EQ_INT(qcache_get(other, &k, &s, &vpos), -1); /* another tenant's key */
    CHECK_EQ_INT(qcache_get(c, &k, &s, &vpos), 0);      /* seen before: cache this run */
    struct read_set none = { 0 };
    CHECK(qcache_put(c, qcache_ticket(c), &k, &none, "A", 1, SIZE_MAX));
    CHECK_EQ_INT(qcache_get(c, &k, &s, &vpos), 1);
    CHECK_EQ_INT(qcache_stats(c)->first_misses, 2);
    CHECK_EQ_INT(qcache_stats(c)->misses, 3);
    qcache_free(c);
    qcache_free(other);
    qcache_pool_free(p);
}

TEST(qcache_drops_exactly_what_a_write_touches)
{
    struct qcache_pool *p = qcache_pool_new(1 << 20);
    struct qcache *c = qcache_new(p);
    struct read_set ra = { 0 }, rb = { 0 }, none = { 0 };
    add_range(&ra, 5, "a", "b");
    add_range(&rb, 5, "c", "d");
    struct qcache_key ka = key("a", ""), kb = key("b", ""), kn = key("n", "");
    uint64_t t = qcache_ticket(c);
    CHECK(qcache_put(c, t, &ka, &ra, "A", 1, SIZE_MAX));
    CHECK(qcache_put(c, t, &kb, &rb, "B", 1, SIZE_MAX));
    CHECK(qcache_put(c, t, &kn, &none, "N", 1, SIZE_MAX)); /* reads nothing */
    write_key(c, 5, "c5");                                  /* in b's range */
    qcache_writes_committed(c);
    CHECK(get(c, &ka, "A"));
    CHECK(!get(c, &kb, "B"));
    CHECK(get(c, &kn, "N"));
    write_key(c, 6, "a5"); /* another index */
    CHECK(get(c, &ka, "A"));
    write_key(c, 5, "b"); /* ranges are [lo, hi): "b" is outside a's */
    CHECK(get(c, &ka, "A"));
    write_key(c, 5, "a");
    CHECK(!get(c, &ka, "A"));
    CHECK(get(c, &kn, "N"));
    CHECK_EQ_INT(qcache_stats(c)->invalidations, 2);
    qcache_clear(c); /* a new version */
    CHECK(!get(c, &kn, "N"));
    CHECK_EQ_INT(qcache_stats(c)->entries, 0);
    qcache_free(c);
    qcache_pool_free(p);
    read_set_release(&ra);
    read_set_release(&rb);
}

TEST(qcache_tickets_refuse_answers_computed_before_a_write)
{
    struct qcache_pool *p = qcache_pool_new(1 << 20);
    struct qcache *c = qcache_new(p);
    struct read_set rs = { 0 };
    add_range(&rs, 5, "a", "b");
    struct qcache_key k = key("a", "");
    /* a run started, then a write was applied (any range): its answer is not cached */
    uint64_t t = qcache_ticket(c);
    write_key(c, 9, "zzz");
    CHECK_EQ_INT(qcache_put(c, t, &k, &rs, "A", 1, SIZE_MAX), 0);
    /* a write waits for its batch: a run started now reads without it, and is refused even
     * after the commit */
    t = qcache_ticket(c);
    CHECK_EQ_INT(qcache_put(c, t, &k, &rs, "A", 1, SIZE_MAX), 0);
    qcache_writes_committed(c);
    CHECK_EQ_INT(qcache_put(c, t, &k, &rs, "A", 1, SIZE_MAX), 0);
    /* everything committed: a run started now may be cached */
    t = qcache_ticket(c);
    CHECK_EQ_INT(qcache_put(c, t, &k, &rs, "A", 1, SIZE_MAX), 1);
    /* a clear (new version) refuses runs started before it */
    t = qcache_ticket(c);
    qcache_clear(c);
    qcache_writes_committed(c);
    CHECK_EQ_INT(qcache_put(c, t, &k, &rs, "A", 1, SIZE_MAX), 0);
    CHECK_EQ_INT(qcache_stats(c)->refused, 4);
    qcache_free(c);
    qcache_pool_free(p);
    read_set_release(&rs);
}

TEST(qcache_budget_is_shared_and_lru)
{
    size_t entry = QCACHE_ENTRY_OVERHEAD + 1000 + 2 * (1 + 6 + 2 + 0);
    struct qcache_pool *p = qcache_pool_new(entry * 8 + 10); /* 8 entries fit */
    struct qcache *c1 = qcache_new(p), *c2 = qcache_new(p);
    struct qcache *cs[2] = { c1, c2 };
    struct read_set none = { 0 };
    char body[1000];
    memset(body, 'x', sizeof body);
    char args[10][3] = { "a0", "a1", "a2", "a3", "a4", "a5", "a6", "a7", "a8", "a9" };
    struct qcache_key k[10];
    for (int i = 0; i < 10; i++)
        k[i] = key(args[i], "");
    for (int i = 0; i < 8; i++) /* even keys in c1, odd ones in c2 */
        CHECK(qcache_put(cs[i % 2], qcache_ticket(cs[i % 2]), &k[i], &none, body, sizeof body,
                         SIZE_MAX));
    CHECK_EQ_INT(qcache_pool_bytes(p), 8 * entry);
    struct slice s;
    size_t vpos;
    CHECK_EQ_INT(qcache_get(c1, &k[0], &s, &vpos), 1); /* the most recent now: k1 goes first */
    CHECK(qcache_put(c1, qcache_ticket(c1), &k[8], &none, body, sizeof body, SIZE_MAX));
    CHECK(qcache_get(c2, &k[1], &s, &vpos) != 1);
    CHECK_EQ_INT(qcache_get(c1, &k[0], &s, &vpos), 1);
    CHECK_EQ_INT(qcache_get(c2, &k[3], &s, &vpos), 1);
    CHECK_EQ_INT(qcache_stats(c2)->evictions, 1);
    CHECK(qcache_pool_bytes(p) <= qcache_pool_max_bytes(p));
    /* over an eighth of the budget: refused */
    static char huge[1 << 12];
    CHECK(!qcache_put(c1, qcache_ticket(c1), &k[9], &none, huge, sizeof huge, SIZE_MAX));
    CHECK_EQ_INT(qcache_stats(c1)->refused, 1);
    qcache_free(c2); /* its 3 entries leave the shared list */
    CHECK_EQ_INT(qcache_pool_bytes(p), 5 * entry);
    qcache_free(c1);
    CHECK_EQ_INT(qcache_pool_bytes(p), 0);
    qcache_pool_free(p);
    CHECK(qcache_pool_new(0) == NULL);
    CHECK(qcache_new(NULL) == NULL);
}

TEST_MAIN()
