/* qcache: the query result cache, as Convex keeps one (docs/architecture.md, "The query result
 * cache"). An entry is one one-shot query's answer for one key — (answer shape, function,
 * canonical arguments, identity) — and stays valid exactly while no write touched what the run
 * read: the entries are live queries of a registry of their own (live.h), so the interval
 * indexes that find the subscriptions a write set touches find the entries too, and those are
 * dropped (never re-run). Every shard's cache draws on one byte budget with one LRU list
 * (struct qcache_pool). Loop thread only: a run on a reader thread hands its read set back and
 * the loop thread inserts it, if no write was applied since its ticket was taken. */
#ifndef VR_LIVE_QCACHE_H
#define VR_LIVE_QCACHE_H

#include <stddef.h>
#include <stdint.h>

#include "base/slice.h"
#include "store/store.h"

struct qcache_pool;
struct qcache;

/* A result larger than this (or than an eighth of the budget) is not cached. */
#define QCACHE_MAX_ENTRY (1u << 20)
/* What an entry costs beyond its key, answer and ranges (the structs, the range nodes). */
#define QCACHE_ENTRY_OVERHEAD 320u
#define QCACHE_RANGE_OVERHEAD 96u
/* The doorkeeper: the hashes of keys that missed once, one per slot (the pool's, 512 KiB). */
#define QCACHE_DOOR_SLOTS 65536u

/* What identifies an entry: every part is NUL-terminated text. */
struct qcache_key {
    const char *shape;    /* how the answer is written ("v": Vireo's; Convex's with its format) */
    const char *path;     /* the function's registered path */
    const char *args;     /* canonical arguments (sorted keys, compact) */
    const char *identity; /* the caller's verified identity JSON, "" for none */
};

struct qcache_stats {
    uint64_t hits, misses;
    uint64_t first_misses;  /* misses of a key not seen lately: run, not cached */
    uint64_t inserts;
    uint64_t invalidations; /* entries dropped because a write touched their read set */
    uint64_t evictions;     /* entries dropped for room (LRU) */
    uint64_t refused;       /* answers not cached: too large, or a write came during the run */
    uint64_t clears;        /* whole-cache drops: a new app version, a lost batch */
    size_t entries, bytes;  /* this shard's */
};

/* The budget of every cache made from it. 0 bytes: NULL (no cache). */
struct qcache_pool *qcache_pool_new(size_t max_bytes);
/* After every qcache made from it is freed. NULL: no-op. */
void qcache_pool_free(struct qcache_pool *p);
size_t qcache_pool_max_bytes(const struct qcache_pool *p);
size_t qcache_pool_bytes(const struct qcache_pool *p);

/* One shard's cache on pool p (NULL: NULL, no cache). */
struct qcache *qcache_new(struct qcache_pool *p);
void qcache_free(struct qcache *c);
const struct qcache_stats *qcache_stats(const struct qcache *c);
size_t qcache_max_bytes(const struct qcache *c); /* its pool's budget */

/* Looks k up. 1: a hit: *body is the answer without its version digits (borrowed: valid until
 * the next call into the cache) and *vpos where they go (SIZE_MAX: the answer has none).
 * 0: a miss of a key that missed lately too: cache its run (take a ticket). -1: a key's first
 * miss (lately): the doorkeeper records it and its run is not cached, so that arguments seen
 * once (an id in every call) cost no insert and evict nothing. */
int qcache_get(struct qcache *c, const struct qcache_key *k, struct slice *body, size_t *vpos);

/* Taken before a query's run starts (before it is handed to a reader): the run may be cached
 * only if no write was applied to the shard since, nor was one waiting for its batch then. */
uint64_t qcache_ticket(const struct qcache *c);

/* Caches an answer (copied) of a run that succeeded, with the read set it recorded (copied), if
 * its ticket is still good and it fits. Returns 1 when cached. */
int qcache_put(struct qcache *c, uint64_t ticket, const struct qcache_key *k,
               const struct read_set *reads, const char *body, size_t len, size_t vpos);

/* A write set was applied (a transaction committed into the open batch, or on its own): drops
 * every entry whose read set holds one of its old or new keys. */
void qcache_apply_writes(struct qcache *c, const struct write_set *ws);
/* Every write applied so far is committed (the batch committed, or a write outside a batch):
 * tickets taken from now on are good. */
void qcache_writes_committed(struct qcache *c);
/* Drops every entry (a new app version, an environment change, a lost batch); tickets taken
 * before are no longer good, nor are later ones until qcache_writes_committed. */
void qcache_clear(struct qcache *c);

#endif
