/* Interval index (src/live/ranges.c) against a brute-force oracle on random ranges and points. */
#include "test.h"

#include "live/ranges.c"

struct oracle_entry {
    unsigned char lo[4], hi[4];
    size_t lo_len, hi_len;
    uint64_t id;
    struct range_node *node;
    int live;
};

static uint64_t seed = 88172645463325252ull;
static uint64_t rnd(void)
{
    seed ^= seed << 13;
    seed ^= seed >> 7;
    seed ^= seed << 17;
    return seed;
}

static size_t rand_key(unsigned char *k)
{
    size_t n = rnd() % 4; /* 0..3 bytes from a 3-letter alphabet: plenty of ties and prefixes */
    for (size_t i = 0; i < n; i++)
        k[i] = (unsigned char)(rnd() % 3);
    return n;
}

struct hits {
    unsigned char seen[4096];
    size_t count;
};

static void record(uint64_t id, void *arg)
{
    struct hits *h = arg;
    h->seen[id]++;
    h->count++;
}

static int check_max_hi(const struct range_node *n)
{
    if (!n)
        return 1;
    const struct range_node *m = n;
    if (n->left && cmp_hi(n->left->max_hi, m) > 0)
        m = n->left->max_hi;
    if (n->right && cmp_hi(n->right->max_hi, m) > 0)
        m = n->right->max_hi;
    if (cmp_hi(m, n->max_hi) != 0)
        return 0;
    if (n->left && (n->left->parent != n || n->left->prio > n->prio || cmp_node(n->left, n) > 0))
        return 0;
    if (n->right && (n->right->parent != n || n->right->prio > n->prio || cmp_node(n->right, n) < 0))
        return 0;
    return check_max_hi(n->left) && check_max_hi(n->right);
}

TEST(ranges_match_bruteforce)
{
    static struct oracle_entry e[4096];
    size_t n = 0;
    struct ranges *r = ranges_new();
    int mismatches = 0;
    for (int step = 0; step < 20000; step++) {
        int op = (int)(rnd() % 10);
        if (op < 4 && n < 4096) {
            struct oracle_entry *x = &e[n];
            x->lo_len = rand_key(x->lo);
            x->hi_len = rand_key(x->hi); /* 0 = unbounded */
            x->id = n;
            x->live = 1;
            x->node = ranges_insert(r, x->lo, x->lo_len, x->hi, x->hi_len, x->id);
            n++;
        } else if (op < 6 && n > 0) {
            struct oracle_entry *x = &e[rnd() % n];
            if (x->live) {
                ranges_remove(r, x->node);
                x->live = 0;
            }
        } else {
            unsigned char key[4];
            size_t klen = rand_key(key);
            struct hits h = { { 0 }, 0 };
            size_t got = ranges_stab(r, key, klen, record, &h);
            CHECK_EQ_INT(got, h.count);
            for (size_t i = 0; i < n; i++) {
                int want = e[i].live && cmp_bytes(e[i].lo, e[i].lo_len, key, klen) <= 0 &&
                           (e[i].hi_len == 0 || cmp_bytes(key, klen, e[i].hi, e[i].hi_len) < 0);
                if (want != (h.seen[i] == 1) || h.seen[i] > 1)
                    mismatches++;
            }
        }
        if (step % 1000 == 0)
            CHECK(check_max_hi(r->root));
    }
    CHECK_EQ_INT(mismatches, 0);
    size_t live = 0;
    for (size_t i = 0; i < n; i++)
        live += e[i].live;
    CHECK_EQ_INT(ranges_count(r), live);
    CHECK(check_max_hi(r->root));
    ranges_free(r);
}

TEST(ranges_empty_and_unbounded)
{
    struct ranges *r = ranges_new();
    struct hits h = { { 0 }, 0 };
    CHECK_EQ_INT(ranges_stab(r, "a", 1, record, &h), 0);
    ranges_insert(r, "b", 1, "b", 1, 1);  /* empty range: matches nothing */
    ranges_insert(r, "", 0, "", 0, 2);    /* everything */
    ranges_insert(r, "b", 1, "c", 1, 3);  /* [b, c) */
    CHECK_EQ_INT(ranges_stab(r, "b", 1, record, &h), 2);
    CHECK(h.seen[2] == 1 && h.seen[3] == 1 && h.seen[1] == 0);
    memset(&h, 0, sizeof h);
    CHECK_EQ_INT(ranges_stab(r, "c", 1, record, &h), 1); /* hi is exclusive */
    memset(&h, 0, sizeof h);
    CHECK_EQ_INT(ranges_stab(r, "b\xff", 2, record, &h), 2);
    ranges_free(r);
}

/* Many disjoint ranges: a stab must visit few nodes (the O(log n + k) claim). */
static size_t visits;
static size_t stab_count(const struct range_node *n, const unsigned char *key, size_t key_len)
{
    size_t found = 0;
    while (n && (visits++, hi_above(n, key, key_len))) {
        found += stab_count(n->left, key, key_len);
        if (cmp_bytes(n->lo, n->lo_len, key, key_len) > 0)
            break;
        found += contains(n, key, key_len);
        n = n->right;
    }
    return found;
}

TEST(ranges_stab_visits_logarithmic)
{
    struct ranges *r = ranges_new();
    for (uint32_t i = 0; i < 100000; i++) {
        unsigned char lo[5] = { 1, (unsigned char)(i >> 24), (unsigned char)(i >> 16),
                                (unsigned char)(i >> 8), (unsigned char)i };
        unsigned char hi[6];
        memcpy(hi, lo, 5);
        hi[5] = 0xff;
        ranges_insert(r, lo, 5, hi, 6, i);
    }
    size_t worst = 0;
    for (uint32_t i = 0; i < 1000; i++) {
        uint32_t k = (uint32_t)(rnd() % 100000);
        unsigned char key[6] = { 1, (unsigned char)(k >> 24), (unsigned char)(k >> 16),
                                 (unsigned char)(k >> 8), (unsigned char)k, 0x30 };
        visits = 0;
        CHECK_EQ_INT(stab_count(r->root, key, 6), 1);
        if (visits > worst)
            worst = visits;
    }
    CHECK(worst < 200); /* a treap of 100k nodes is ~40 deep; two root-to-leaf paths */
    ranges_free(r);
}

TEST_MAIN()
