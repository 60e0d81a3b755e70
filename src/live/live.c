/* live: live-query registry, per-index interval indexes and the dirty list. A journaled query
 * (Convex's) is keyed by the journal it runs with, and re-keyed when a run records another; one
 * whose new key another query already has is found by no key (`keyed` 0) and serves only the
 * subscribers it has. */
#include "live/live.h"

#include <assert.h>
#include <string.h>

#include "base/hmap.h"
#include "base/mem.h"
#include "live/ranges.h"
#include "base/banned.h"

/* One range of one live query in the interval index of its index. */
struct live_read {
    uint32_t index_id;
    struct range_node *node;
};

struct live {
    struct hmap queries;       /* key -> live_query */
    struct hmap by_id;         /* decimal id -> live_query (the ranges carry ids) */
    struct ranges **indexes;   /* by index id; NULL when no range on it */
    size_t n_indexes;
    struct live_query *dirty_head, *dirty_tail;
    uint64_t next_id;
    size_t n_ranges;
    size_t log_bytes; /* sum of the queries' logs.cap */
    struct live_stats stats;
};

struct live *live_new(void)
{
    struct live *l = vr_calloc(1, sizeof *l);
    hmap_init(&l->queries);
    hmap_init(&l->by_id);
    l->next_id = 1;
    return l;
}

static void drop_reads(struct live *l, struct live_query *q)
{
    for (size_t i = 0; i < q->n_reads; i++)
        ranges_remove(l->indexes[q->reads[i].index_id], q->reads[i].node);
    l->n_ranges -= q->n_reads;
    vr_free(q->reads);
    q->reads = NULL;
    q->n_reads = 0;
}

/* The serialized forms of the result go stale with what they were made from. */
static void drop_wire(struct live_query *q)
{
    for (size_t i = 0; i < sizeof q->wire / sizeof q->wire[0]; i++) {
        shared_buf_unref(q->wire[i]);
        q->wire[i] = NULL;
    }
}

static void free_query(struct live *l, struct live_query *q)
{
    drop_wire(q);
    drop_reads(l, q);
    live_query_drop_logs(l, q);
    buf_release(&q->result);
    vr_free(q->path);
    vr_free(q->args_json);
    vr_free(q->identity);
    vr_free(q->journal);
    vr_free(q->key);
    vr_free(q);
}

void live_free(struct live *l)
{
    if (!l)
        return;
    for (size_t i = 0; i < l->by_id.cap; i++)
        if (l->by_id.slots[i].key)
            free_query(l, l->by_id.slots[i].value);
    for (size_t i = 0; i < l->n_indexes; i++)
        ranges_free(l->indexes[i]);
    vr_free(l->indexes);
    hmap_release(&l->queries);
    hmap_release(&l->by_id);
    vr_free(l);
}

struct live_stats *live_stats(struct live *l)
{
    return &l->stats;
}

size_t live_query_count(const struct live *l)
{
    return l->by_id.len;
}

size_t live_range_count(const struct live *l)
{
    return l->n_ranges;
}

static size_t id_key(uint64_t id, char out[24])
{
    size_t n = 0;
    do {
        out[n++] = (char)('0' + id % 10);
        id /= 10;
    } while (id);
    return n;
}

/* path NUL args NUL identity, then for a journaled query NUL 'J' and the journal */
static void make_key(struct buf *key, const char *path, const char *args_canon,
                     const char *identity, const char *journal, size_t jlen)
{
    buf_append(key, path, strlen(path) + 1);
    buf_append(key, args_canon, strlen(args_canon) + 1);
    buf_append(key, identity, strlen(identity));
    if (journal) {
        buf_append(key, "\0J", 2);
        buf_append(key, journal, jlen);
    }
}

struct live_query *live_query_acquire(struct live *l, const char *path, const char *args_canon,
                                      const char *identity, int *created)
{
    return live_query_acquire_journal(l, path, args_canon, identity, NULL, created);
}

struct live_query *live_query_acquire_journal(struct live *l, const char *path,
                                              const char *args_canon, const char *identity,
                                              const char *journal, int *created)
{
    struct buf key = BUF_INIT(BUF_NOLIMIT);
    make_key(&key, path, args_canon, identity, journal, journal ? strlen(journal) : 0);
    struct live_query *q = hmap_get(&l->queries, key.data, key.len);
    *created = q == NULL;
    if (!q) {
        q = vr_calloc(1, sizeof *q);
        q->id = l->next_id++;
        q->path = vr_strdup(path);
        q->args_json = vr_strdup(args_canon);
        q->identity = vr_strdup(identity);
        q->journal = journal ? vr_strdup(journal) : NULL;
        buf_init(&q->result, BUF_NOLIMIT);
        buf_init(&q->logs, BUF_NOLIMIT);
        q->key = buf_detach(&key, &q->key_len);
        q->keyed = 1;
        hmap_put(&l->queries, q->key, q->key_len, q);
        char idk[24];
        hmap_put(&l->by_id, idk, id_key(q->id, idk), q);
    }
    buf_release(&key);
    q->refs++;
    return q;
}

struct live_query *live_query_find(struct live *l, const char *path, const char *args_canon,
                                   const char *identity, const char *journal)
{
    struct buf key = BUF_INIT(BUF_NOLIMIT);
    make_key(&key, path, args_canon, identity, journal, journal ? strlen(journal) : 0);
    struct live_query *q = hmap_get(&l->queries, key.data, key.len);
    buf_release(&key);
    return q;
}

void live_query_set_journal(struct live *l, struct live_query *q, const char *journal, size_t len)
{
    assert(q->journal); /* a journaled query */
    if (strlen(q->journal) == len && !memcmp(q->journal, journal, len))
        return;
    drop_wire(q);
    if (q->keyed)
        hmap_del(&l->queries, q->key, q->key_len);
    vr_free(q->journal);
    q->journal = vr_malloc(len + 1);
    memcpy(q->journal, journal, len);
    q->journal[len] = '\0';
    struct buf key = BUF_INIT(BUF_NOLIMIT);
    make_key(&key, q->path, q->args_json, q->identity, q->journal, len);
    vr_free(q->key);
    q->key = buf_detach(&key, &q->key_len);
    buf_release(&key);
    q->keyed = hmap_get(&l->queries, q->key, q->key_len) == NULL;
    if (q->keyed)
        hmap_put(&l->queries, q->key, q->key_len, q);
}

static void unlink_dirty(struct live *l, struct live_query *q)
{
    struct live_query **pp = &l->dirty_head, *prev = NULL;
    while (*pp && *pp != q) {
        prev = *pp;
        pp = &(*pp)->next_dirty;
    }
    if (!*pp)
        return;
    *pp = q->next_dirty;
    if (l->dirty_tail == q)
        l->dirty_tail = prev;
    q->next_dirty = NULL;
    q->dirty = 0;
}

void live_query_release(struct live *l, struct live_query *q)
{
    if (--q->refs > 0)
        return;
    if (q->dirty)
        unlink_dirty(l, q);
    if (q->keyed)
        hmap_del(&l->queries, q->key, q->key_len);
    char idk[24];
    hmap_del(&l->by_id, idk, id_key(q->id, idk));
    free_query(l, q);
}

void live_query_ref(struct live_query *q)
{
    q->refs++;
}

void live_query_drop_logs(struct live *l, struct live_query *q)
{
    assert(l->log_bytes >= q->logs.cap);
    l->log_bytes -= q->logs.cap;
    buf_release(&q->logs);
    drop_wire(q);
}

void live_query_set_logs(struct live *l, struct live_query *q, struct buf *logs, uint64_t hash)
{
    live_query_drop_logs(l, q);
    if (logs) {
        q->logs = *logs;
        buf_init(logs, logs->max);
        l->log_bytes += q->logs.cap;
    }
    q->logs_hash = hash;
}

size_t live_log_bytes(const struct live *l)
{
    return l->log_bytes;
}

uint64_t live_hash(const char *p, size_t n, int is_error)
{
    return hmap_hash(p, n) ^ (is_error ? 0x5bd1e9955bd1e995ull : 0);
}

static struct ranges *index_ranges(struct live *l, uint32_t index_id)
{
    if (index_id >= l->n_indexes) {
        size_t n = (size_t)index_id + 16;
        l->indexes = vr_realloc(l->indexes, n * sizeof *l->indexes);
        memset(l->indexes + l->n_indexes, 0, (n - l->n_indexes) * sizeof *l->indexes);
        l->n_indexes = n;
    }
    if (!l->indexes[index_id])
        l->indexes[index_id] = ranges_new();
    return l->indexes[index_id];
}

int live_query_update(struct live *l, struct live_query *q, const struct read_set *reads,
                      const char *result, size_t len, int is_error, uint64_t version)
{
    drop_reads(l, q);
    if (reads && reads->len) {
        q->reads = vr_malloc(reads->len * sizeof *q->reads);
        for (size_t i = 0; i < reads->len; i++) {
            const struct key_range *r = &reads->ranges[i];
            q->reads[i].index_id = r->index_id;
            q->reads[i].node = ranges_insert(index_ranges(l, r->index_id), r->lo.data, r->lo.len,
                                             r->hi.data, r->hi.len, q->id);
        }
        q->n_reads = reads->len;
        l->n_ranges += reads->len;
    }
    uint64_t h = live_hash(result, len, is_error);
    int changed = q->version == 0 || h != q->result_hash || is_error != q->is_error ||
                  len != q->result.len || memcmp(result, q->result.data, len) != 0;
    if (changed) {
        drop_wire(q);
        buf_reset(&q->result);
        buf_append(&q->result, result, len);
    }
    q->result_hash = h;
    q->is_error = is_error;
    q->version = version;
    l->stats.executions++;
    return changed;
}

struct stab_ctx {
    struct live *l;
    size_t newly;
};

static int push_dirty(struct live *l, struct live_query *q)
{
    if (q->dirty)
        return 0;
    q->dirty = 1;
    q->next_dirty = NULL;
    if (l->dirty_tail)
        l->dirty_tail->next_dirty = q;
    else
        l->dirty_head = q;
    l->dirty_tail = q;
    return 1;
}

void live_mark_dirty(struct live *l, struct live_query *q)
{
    push_dirty(l, q);
}

void live_mark_all_dirty(struct live *l)
{
    for (size_t i = 0; i < l->by_id.cap; i++)
        if (l->by_id.slots[i].key)
            push_dirty(l, l->by_id.slots[i].value);
}

static void mark_dirty(uint64_t id, void *arg)
{
    struct stab_ctx *c = arg;
    char idk[24];
    struct live_query *q = hmap_get(&c->l->by_id, idk, id_key(id, idk));
    c->l->stats.invalidations++;
    if (q)
        c->newly += (size_t)push_dirty(c->l, q);
}

size_t live_apply_writes(struct live *l, const struct write_set *writes)
{
    struct stab_ctx c = { l, 0 };
    for (size_t i = 0; i < writes->len; i++) {
        const struct index_write *w = &writes->writes[i];
        if (w->index_id >= l->n_indexes || !l->indexes[w->index_id])
            continue;
        struct ranges *r = l->indexes[w->index_id];
        if (w->old_key.len)
            ranges_stab(r, w->old_key.data, w->old_key.len, mark_dirty, &c);
        if (w->new_key.len && (w->new_key.len != w->old_key.len ||
                               memcmp(w->new_key.data, w->old_key.data, w->old_key.len)))
            ranges_stab(r, w->new_key.data, w->new_key.len, mark_dirty, &c);
    }
    return c.newly;
}

struct live_query *live_dirty_first(const struct live *l)
{
    return l->dirty_head;
}

struct live_query *live_dirty_next(const struct live_query *q)
{
    return q->next_dirty;
}

int live_has_dirty(const struct live *l)
{
    return l->dirty_head != NULL;
}

struct live_query *live_pop_dirty(struct live *l)
{
    struct live_query *q = l->dirty_head;
    if (!q)
        return NULL;
    l->dirty_head = q->next_dirty;
    if (!l->dirty_head)
        l->dirty_tail = NULL;
    q->next_dirty = NULL;
    q->dirty = 0;
    return q;
}
