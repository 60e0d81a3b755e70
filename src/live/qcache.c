/* qcache: cached query answers as live queries of a private registry (live.h) — its interval
 * indexes say which entries a write set touches, and those are dropped — plus one LRU list and
 * byte count over every shard's entries (the pool). The registry's journal slot carries the
 * answer's shape, so one key never mixes Vireo's and Convex's bodies.
 * Invariant: an entry is present only if every write set applied to the shard since the state
 * its run read was checked against its read set (tickets: `writes` counts write sets applied,
 * `clean` is its value when nothing applied was still waiting for a batch's commit). */
#include "live/qcache.h"

#include <assert.h>
#include <string.h>

#include "base/dlist.h"
#include "base/hmap.h"
#include "base/mem.h"
#include "live/live.h"
#include "base/banned.h"

struct qentry {
    struct dlist_node lru;      /* on the pool's LRU list, most recent first */
    struct dlist_node in_cache; /* on its cache's entries */
    struct qcache *c;
    struct live_query *q;       /* its result is the answer without its version digits */
    size_t bytes;
    size_t vpos;
};

struct qcache_pool {
    size_t max_bytes, bytes;
    struct dlist lru;
    size_t caches;
    uint64_t door[QCACHE_DOOR_SLOTS]; /* hashes of keys that missed once (0: none) */
};

struct qcache {
    struct qcache_pool *pool;
    struct live *reg;
    uint64_t writes; /* write sets applied, plus one per clear */
    uint64_t clean;  /* `writes` when the last of them was committed */
    struct dlist entries;
    struct qcache_stats stats;
};

struct qcache_pool *qcache_pool_new(size_t max_bytes)
{
    if (!max_bytes)
        return NULL;
    struct qcache_pool *p = vr_calloc(1, sizeof *p);
    p->max_bytes = max_bytes;
    return p;
}

void qcache_pool_free(struct qcache_pool *p)
{
    if (!p)
        return;
    assert(!p->caches && !p->lru.head && !p->bytes);
    vr_free(p);
}

size_t qcache_pool_max_bytes(const struct qcache_pool *p)
{
    return p ? p->max_bytes : 0;
}

size_t qcache_pool_bytes(const struct qcache_pool *p)
{
    return p ? p->bytes : 0;
}

struct qcache *qcache_new(struct qcache_pool *p)
{
    if (!p)
        return NULL;
    struct qcache *c = vr_calloc(1, sizeof *c);
    c->pool = p;
    c->reg = live_new();
    p->caches++;
    return c;
}

const struct qcache_stats *qcache_stats(const struct qcache *c)
{
    return &c->stats;
}

size_t qcache_max_bytes(const struct qcache *c)
{
    return c->pool->max_bytes;
}

static void drop(struct qentry *e)
{
    struct qcache *c = e->c;
    dlist_unlink(&c->pool->lru, &e->lru);
    assert(c->pool->bytes >= e->bytes && c->stats.bytes >= e->bytes && c->stats.entries);
    c->pool->bytes -= e->bytes;
    c->stats.bytes -= e->bytes;
    c->stats.entries--;
    dlist_unlink(&c->entries, &e->in_cache);
    live_query_release(c->reg, e->q); /* its only reference: its ranges go with it */
    vr_free(e);
}

static void drop_all(struct qcache *c)
{
    while (c->entries.head)
        drop(DLIST_ENTRY(c->entries.head, struct qentry, in_cache));
    assert(!c->stats.entries && !c->stats.bytes);
}

void qcache_free(struct qcache *c)
{
    if (!c)
        return;
    drop_all(c);
    c->pool->caches--;
    live_free(c->reg);
    vr_free(c);
}

/* A key's hash for the doorkeeper, with its cache's address: tenants share the pool. */
static uint64_t door_hash(const struct qcache *c, const struct qcache_key *k)
{
    const char *parts[4] = { k->shape, k->path, k->args, k->identity };
    uint64_t h = (uint64_t)(uintptr_t)c * 0x9e3779b97f4a7c15ull;
    for (int i = 0; i < 4; i++)
        h = (h ^ hmap_hash(parts[i], strlen(parts[i]))) * 0xff51afd7ed558ccdull;
    return h ? h : 1;
}

int qcache_get(struct qcache *c, const struct qcache_key *k, struct slice *body, size_t *vpos)
{
    struct live_query *q = live_query_find(c->reg, k->path, k->args, k->identity, k->shape);
    if (!q) {
        c->stats.misses++;
        uint64_t h = door_hash(c, k);
        uint64_t *slot = &c->pool->door[h % QCACHE_DOOR_SLOTS];
        if (*slot == h)
            return 0; /* seen before: cache this run */
        *slot = h;
        c->stats.first_misses++;
        return -1;
    }
    struct qentry *e = q->owner;
    dlist_move_front(&c->pool->lru, &e->lru);
    c->stats.hits++;
    *body = slice_of(q->result.data, q->result.len);
    *vpos = e->vpos;
    return 1;
}

uint64_t qcache_ticket(const struct qcache *c)
{
    return c->clean;
}

int qcache_put(struct qcache *c, uint64_t ticket, const struct qcache_key *k,
               const struct read_set *reads, const char *body, size_t len, size_t vpos)
{
    struct qcache_pool *p = c->pool;
    size_t bytes = QCACHE_ENTRY_OVERHEAD + len +
                   2 * (strlen(k->shape) + strlen(k->path) + strlen(k->args) +
                        strlen(k->identity));
    for (size_t i = 0; i < reads->len; i++)
        bytes += QCACHE_RANGE_OVERHEAD + reads->ranges[i].lo.len + reads->ranges[i].hi.len;
    if (ticket != c->writes || len > QCACHE_MAX_ENTRY || bytes > p->max_bytes / 8) {
        c->stats.refused++;
        return 0;
    }
    int created;
    struct live_query *q =
        live_query_acquire_journal(c->reg, k->path, k->args, k->identity, k->shape, &created);
    if (!created) { /* two runs of one key were in flight: the first answer stands (valid) */
        live_query_release(c->reg, q);
        return 0;
    }
    live_query_update(c->reg, q, reads, body, len, 0, 1);
    struct qentry *e = vr_calloc(1, sizeof *e);
    e->c = c;
    e->q = q;
    e->bytes = bytes;
    e->vpos = vpos;
    q->owner = e;
    dlist_push_front(&c->entries, &e->in_cache);
    dlist_push_front(&p->lru, &e->lru);
    p->bytes += bytes;
    c->stats.bytes += bytes;
    c->stats.entries++;
    c->stats.inserts++;
    while (p->bytes > p->max_bytes && p->lru.tail && p->lru.tail != &e->lru) {
        struct qentry *old = DLIST_ENTRY(p->lru.tail, struct qentry, lru);
        old->c->stats.evictions++;
        drop(old);
    }
    return 1;
}

void qcache_apply_writes(struct qcache *c, const struct write_set *ws)
{
    c->writes++;
    if (!c->stats.entries)
        return;
    live_apply_writes(c->reg, ws);
    struct live_query *q;
    while ((q = live_pop_dirty(c->reg))) {
        c->stats.invalidations++;
        drop(q->owner);
    }
}

void qcache_writes_committed(struct qcache *c)
{
    c->clean = c->writes;
}

void qcache_clear(struct qcache *c)
{
    drop_all(c);
    c->writes++;
    c->stats.clears++;
}
