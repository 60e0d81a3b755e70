/* ranges: treap of half-open byte ranges with a subtree max-hi for stabbing queries.
 * Invariants: BST order by (lo, hi, id); heap order by random priority (max at root);
 * node->max_hi is the largest hi in the node's subtree, an unbounded hi being largest of all. */
#include "live/ranges.h"

#include <assert.h>
#include <string.h>

#include "base/mem.h"
#include "base/banned.h"

struct range_node {
    struct range_node *left, *right, *parent;
    uint64_t prio;
    uint64_t id;
    unsigned char *lo, *hi;
    size_t lo_len, hi_len;
    const struct range_node *max_hi; /* node holding the subtree's largest hi */
};

struct ranges {
    struct range_node *root;
    size_t count;
    uint64_t rng;
};

static int cmp_bytes(const unsigned char *a, size_t an, const unsigned char *b, size_t bn)
{
    size_t n = an < bn ? an : bn;
    int c = n ? memcmp(a, b, n) : 0;
    if (c)
        return c;
    return an < bn ? -1 : an > bn ? 1 : 0;
}

/* hi comparison where length 0 means +infinity */
static int cmp_hi(const struct range_node *a, const struct range_node *b)
{
    if (!a->hi_len || !b->hi_len)
        return (a->hi_len == 0) - (b->hi_len == 0);
    return cmp_bytes(a->hi, a->hi_len, b->hi, b->hi_len);
}

static int cmp_node(const struct range_node *a, const struct range_node *b)
{
    int c = cmp_bytes(a->lo, a->lo_len, b->lo, b->lo_len);
    if (c)
        return c;
    c = cmp_hi(a, b);
    if (c)
        return c;
    return a->id < b->id ? -1 : a->id > b->id ? 1 : (a < b ? -1 : a > b ? 1 : 0);
}

static void update(struct range_node *n)
{
    const struct range_node *m = n;
    if (n->left && cmp_hi(n->left->max_hi, m) > 0)
        m = n->left->max_hi;
    if (n->right && cmp_hi(n->right->max_hi, m) > 0)
        m = n->right->max_hi;
    n->max_hi = m;
}

static uint64_t next_rand(struct ranges *r)
{
    /* xorshift64*: priorities only need to be well spread, not secret */
    r->rng ^= r->rng >> 12;
    r->rng ^= r->rng << 25;
    r->rng ^= r->rng >> 27;
    return r->rng * 2685821657736338717ull;
}

struct ranges *ranges_new(void)
{
    struct ranges *r = vr_calloc(1, sizeof *r);
    r->rng = 0x9e3779b97f4a7c15ull;
    return r;
}

static void free_tree(struct range_node *n)
{
    while (n) {
        free_tree(n->left);
        struct range_node *right = n->right;
        vr_free(n->lo);
        vr_free(n->hi);
        vr_free(n);
        n = right;
    }
}

void ranges_free(struct ranges *r)
{
    if (!r)
        return;
    free_tree(r->root);
    vr_free(r);
}

size_t ranges_count(const struct ranges *r)
{
    return r->count;
}

static void set_child(struct ranges *r, struct range_node *parent, struct range_node *old,
                      struct range_node *child)
{
    if (!parent)
        r->root = child;
    else if (parent->left == old)
        parent->left = child;
    else
        parent->right = child;
    if (child)
        child->parent = parent;
}

/* Rotates n up over its parent. */
static void rotate_up(struct ranges *r, struct range_node *n)
{
    struct range_node *p = n->parent, *g = p->parent;
    if (p->left == n) {
        p->left = n->right;
        if (n->right)
            n->right->parent = p;
        n->right = p;
    } else {
        p->right = n->left;
        if (n->left)
            n->left->parent = p;
        n->left = p;
    }
    p->parent = n;
    set_child(r, g, p, n);
    update(p);
    update(n);
}

struct range_node *ranges_insert(struct ranges *r, const void *lo, size_t lo_len, const void *hi,
                                 size_t hi_len, uint64_t id)
{
    struct range_node *n = vr_calloc(1, sizeof *n);
    n->lo = vr_memdup(lo, lo_len);
    n->lo_len = lo_len;
    n->hi = hi_len ? vr_memdup(hi, hi_len) : NULL;
    n->hi_len = hi_len;
    n->id = id;
    n->prio = next_rand(r);
    n->max_hi = n;

    struct range_node *parent = NULL, **link = &r->root;
    while (*link) {
        parent = *link;
        link = cmp_node(n, parent) < 0 ? &parent->left : &parent->right;
    }
    *link = n;
    n->parent = parent;
    for (struct range_node *p = parent; p; p = p->parent)
        update(p);
    while (n->parent && n->parent->prio < n->prio)
        rotate_up(r, n);
    r->count++;
    return n;
}

void ranges_remove(struct ranges *r, struct range_node *n)
{
    /* Rotate n down (promoting the higher-priority child) until it is a leaf, then unlink. */
    while (n->left || n->right) {
        struct range_node *c;
        if (!n->left)
            c = n->right;
        else if (!n->right)
            c = n->left;
        else
            c = n->left->prio > n->right->prio ? n->left : n->right;
        rotate_up(r, c);
    }
    struct range_node *p = n->parent;
    set_child(r, p, n, NULL);
    for (; p; p = p->parent)
        update(p);
    assert(r->count > 0);
    r->count--;
    vr_free(n->lo);
    vr_free(n->hi);
    vr_free(n);
}

/* Does n's range contain key? */
static int contains(const struct range_node *n, const unsigned char *key, size_t key_len)
{
    if (cmp_bytes(n->lo, n->lo_len, key, key_len) > 0)
        return 0;
    return !n->hi_len || cmp_bytes(key, key_len, n->hi, n->hi_len) < 0;
}

/* Is the subtree's largest hi above key (so it may hold a match)? */
static int hi_above(const struct range_node *n, const unsigned char *key, size_t key_len)
{
    const struct range_node *m = n->max_hi;
    return !m->hi_len || cmp_bytes(key, key_len, m->hi, m->hi_len) < 0;
}

static size_t stab(const struct range_node *n, const unsigned char *key, size_t key_len,
                   ranges_visit_fn fn, void *arg)
{
    size_t found = 0;
    while (n && hi_above(n, key, key_len)) {
        found += stab(n->left, key, key_len, fn, arg);
        /* Everything to the right starts at or after n->lo. */
        if (cmp_bytes(n->lo, n->lo_len, key, key_len) > 0)
            break;
        if (contains(n, key, key_len)) {
            fn(n->id, arg);
            found++;
        }
        n = n->right;
    }
    return found;
}

size_t ranges_stab(const struct ranges *r, const void *key, size_t key_len, ranges_visit_fn fn,
                   void *arg)
{
    return stab(r->root, key, key_len, fn, arg);
}
