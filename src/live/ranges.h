/* ranges: an interval index over one index's key space. Each entry is a half-open byte range
 * [lo, hi) (memcmp order; an empty hi means "no upper bound") owned by a subscriber id; a stab
 * query returns every entry whose range contains a key. Implemented as a treap ordered by
 * (lo, hi, id) with each node caching the largest hi in its subtree, so a stab visits only
 * subtrees that can hold a match: O(log n) to find where matches start plus the matches
 * themselves (each reached through at most O(log n) pruned nodes).
 * Identical ranges are common (every subscriber of one channel reads the same range); callers
 * dedupe those above this layer, so n counts distinct (range, subscriber) pairs. */
#ifndef VR_LIVE_RANGES_H
#define VR_LIVE_RANGES_H

#include <stddef.h>
#include <stdint.h>

struct ranges;
struct range_node;

struct ranges *ranges_new(void);
void ranges_free(struct ranges *r);
size_t ranges_count(const struct ranges *r);

/* Adds [lo, hi) for `id` (copies the bytes). hi_len == 0 means unbounded above. Returns the
 * node handle for ranges_remove. lo == hi (empty) is allowed and matches nothing. */
struct range_node *ranges_insert(struct ranges *r, const void *lo, size_t lo_len, const void *hi,
                                 size_t hi_len, uint64_t id);
void ranges_remove(struct ranges *r, struct range_node *n);

/* Calls fn(id, arg) for every range containing key. fn must not modify r. */
typedef void (*ranges_visit_fn)(uint64_t id, void *arg);
size_t ranges_stab(const struct ranges *r, const void *key, size_t key_len, ranges_visit_fn fn,
                   void *arg);

#endif
