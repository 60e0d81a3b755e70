/* live: the registry of live queries of one shard. A live query is one (function, canonical
 * args, identity) — identical subscriptions share it, with one execution and one cached result.
 * Each live query's read set sits in per-index interval indexes (ranges.h); a committed write
 * set marks exactly the live queries whose ranges contain an old or new key as dirty, and the
 * caller re-runs each dirty query once per commit batch. Sees read and write sets, not SQL or JS.
 * Single-threaded, like its shard. */
#ifndef VR_LIVE_LIVE_H
#define VR_LIVE_LIVE_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/iobuf.h"
#include "store/store.h"

struct live;

struct live_query {
    uint64_t id;
    char *path;            /* "messages:list" */
    char *args_json;       /* canonical (sorted keys) */
    char *identity;        /* "" when anonymous */
    char *journal;         /* Convex's query journal it runs with (js_call_opts.journal): "" for
                              none yet; NULL for a query that is not journaled (Vireo's protocol) */
    struct buf result;     /* last result: the value JSON, or the error JSON when is_error */
    int is_error;
    uint64_t result_hash;  /* of result (and is_error); diff suppression and resume */
    uint64_t version;      /* store version of the last execution; 0 before the first */
    uint64_t run_ns;       /* the caller's: how long the last execution took (0: none yet) */
    uint64_t waiting_since; /* the caller's: when it saw it dirty and left it for later (0: not) */
    int dirty;
    void *owner;           /* the caller's (the sync layer's subscriber list) */
    struct buf logs;       /* the caller's opaque bytes about the last run (the sync layer: its
                              console lines as Convex's logLines JSON); empty when it logged
                              none or they were dropped. Set with live_query_set_logs */
    uint64_t logs_hash;    /* identifies what the last run logged (0: nothing); kept when the
                              bytes are dropped */
    struct shared_buf *wire[2]; /* the caller's: its result as its protocols send it (the sync
                              layer: [0] /api/sync, [1] Convex's), built once and shared by every
                              subscriber's message; live.c drops them (a reference each) whenever
                              result, logs or journal change, and with the query */

    /* private to live.c */
    size_t refs;
    struct live_read *reads;
    size_t n_reads;
    struct live_query *next_dirty;
    char *key;
    size_t key_len;
    int keyed;             /* found under key (see live_query_set_journal) */
};

struct live_stats {
    uint64_t executions;      /* every run of a live query (first runs and re-runs) */
    uint64_t reruns;          /* runs caused by invalidation */
    uint64_t suppressed;      /* re-runs whose result did not change, so nothing was sent */
    uint64_t invalidations;   /* (write, live query) matches, before dedupe per batch */
};

struct live *live_new(void);
void live_free(struct live *l);
struct live_stats *live_stats(struct live *l);
size_t live_query_count(const struct live *l);
size_t live_range_count(const struct live *l);

/* Finds or creates the live query for (path, args, identity) and takes a reference. *created is
 * set when it is new (its result is empty and version 0: the caller runs it). */
struct live_query *live_query_acquire(struct live *l, const char *path, const char *args_canon,
                                      const char *identity, int *created);
void live_query_release(struct live *l, struct live_query *q);
/* The live query of (path, args, identity[, journal]) if there is one (no reference taken). */
struct live_query *live_query_find(struct live *l, const char *path, const char *args_canon,
                                   const char *identity, const char *journal);

/* live_query_acquire for a journaled query: the journal is part of what identifies it (NULL: not
 * journaled, as live_query_acquire; "": a journaled query with no journal yet). */
struct live_query *live_query_acquire_journal(struct live *l, const char *path,
                                              const char *args_canon, const char *identity,
                                              const char *journal, int *created);
/* Records the journal a run of journaled query q recorded ("" for none): later runs use it, and
 * q is found under it, so a subscriber adding with that journal shares q while one with another
 * journal (or none) gets a query of its own. If another live query already has that key, q is
 * found by none and serves only its present subscribers. */
void live_query_set_journal(struct live *l, struct live_query *q, const char *journal,
                            size_t len);

/* Records an execution: replaces q's read ranges with `reads`, stores the result and returns 1
 * if the result differs from the previous one (always 1 for the first). */
int live_query_update(struct live *l, struct live_query *q, const struct read_set *reads,
                      const char *result, size_t len, int is_error, uint64_t version);

/* Replaces q's logs with `logs` (taking its memory: logs is left empty; NULL: none) and sets
 * logs_hash. The bytes every live query keeps are counted in live_log_bytes. */
void live_query_set_logs(struct live *l, struct live_query *q, struct buf *logs, uint64_t hash);
/* Frees q's logs (keeping logs_hash). */
void live_query_drop_logs(struct live *l, struct live_query *q);
/* Bytes held by the logs of all live queries. */
size_t live_log_bytes(const struct live *l);
/* Takes one more reference on q (released with live_query_release). */
void live_query_ref(struct live_query *q);

/* Marks every live query whose read ranges contain a key of `writes` dirty. Returns how many
 * became dirty now. */
size_t live_apply_writes(struct live *l, const struct write_set *writes);

/* Queues q to be (re)run: a new query, or every query after the app's code changed. */
void live_mark_dirty(struct live *l, struct live_query *q);
void live_mark_all_dirty(struct live *l);

/* Takes the next dirty query (clearing its flag) or NULL. The caller holds no extra reference:
 * run it and call live_query_update before releasing anything. */
struct live_query *live_pop_dirty(struct live *l);
/* The dirty queries in order, without taking them: the first, then each one's next (NULL at the
 * end). Nothing may be marked or taken meanwhile. */
struct live_query *live_dirty_first(const struct live *l);
struct live_query *live_dirty_next(const struct live_query *q);
int live_has_dirty(const struct live *l);

uint64_t live_hash(const char *p, size_t n, int is_error);

#endif
