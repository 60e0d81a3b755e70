/* hmap: open-addressing hash map (linear probing, backward-shift deletion); load factor kept at
 * or below 3/4 — each slot keeps its key's hash, so a probe past another key is one compare. */
#include "base/hmap.h"

#include <string.h>

#include "base/mem.h"
#include "base/banned.h"

uint64_t hmap_hash(const void *key, size_t len)
{
    /* FNV-1a with a final avalanche (splitmix64): keys are short and not adversarial-sized. */
    const unsigned char *p = key;
    uint64_t h = 0xcbf29ce484222325ull;
    for (size_t i = 0; i < len; i++)
        h = (h ^ p[i]) * 0x100000001b3ull;
    h ^= h >> 30;
    h *= 0xbf58476d1ce4e5b9ull;
    h ^= h >> 27;
    h *= 0x94d049bb133111ebull;
    return h ^ (h >> 31);
}

void hmap_init(struct hmap *m)
{
    m->slots = NULL;
    m->cap = 0;
    m->len = 0;
}

void hmap_release(struct hmap *m)
{
    for (size_t i = 0; i < m->cap; i++)
        vr_free(m->slots[i].key);
    vr_free(m->slots);
    hmap_init(m);
}

static struct hmap_slot *find(const struct hmap *m, const void *key, size_t len, uint64_t h)
{
    if (!m->cap)
        return NULL;
    size_t mask = m->cap - 1;
    for (size_t i = h & mask;; i = (i + 1) & mask) {
        struct hmap_slot *s = &m->slots[i];
        if (!s->key)
            return NULL;
        if (s->hash == h && s->key_len == len && memcmp(s->key, key, len) == 0)
            return s;
    }
}

void *hmap_get(const struct hmap *m, const void *key, size_t key_len)
{
    struct hmap_slot *s = find(m, key, key_len, hmap_hash(key, key_len));
    return s ? s->value : NULL;
}

static void insert_slot(struct hmap *m, struct hmap_slot in)
{
    size_t mask = m->cap - 1;
    size_t i = in.hash & mask;
    while (m->slots[i].key)
        i = (i + 1) & mask;
    m->slots[i] = in;
}

static void grow(struct hmap *m)
{
    struct hmap_slot *old = m->slots;
    size_t old_cap = m->cap;
    m->cap = old_cap ? old_cap * 2 : 2; /* small first: a session's map of one query */
    m->slots = vr_calloc(m->cap, sizeof *m->slots);
    for (size_t i = 0; i < old_cap; i++)
        if (old[i].key)
            insert_slot(m, old[i]);
    vr_free(old);
}

void *hmap_put(struct hmap *m, const void *key, size_t key_len, void *value)
{
    uint64_t h = hmap_hash(key, key_len);
    struct hmap_slot *s = find(m, key, key_len, h);
    if (s) {
        void *prev = s->value;
        s->value = value;
        return prev;
    }
    if ((m->len + 1) * 4 > m->cap * 3)
        grow(m);
    char *k = vr_malloc(key_len + 1);
    memcpy(k, key, key_len);
    k[key_len] = '\0';
    insert_slot(m, (struct hmap_slot){ k, key_len, h, value });
    m->len++;
    return NULL;
}

void *hmap_del(struct hmap *m, const void *key, size_t key_len)
{
    struct hmap_slot *s = find(m, key, key_len, hmap_hash(key, key_len));
    if (!s)
        return NULL;
    void *value = s->value;
    vr_free(s->key);
    size_t mask = m->cap - 1;
    size_t hole = (size_t)(s - m->slots);
    /* Backward-shift: move later entries of the probe run into the hole when that keeps them
     * reachable from their home slot. */
    for (size_t i = (hole + 1) & mask; m->slots[i].key; i = (i + 1) & mask) {
        size_t home = m->slots[i].hash & mask;
        int movable = hole <= i ? (home <= hole || home > i) : (home <= hole && home > i);
        if (movable) {
            m->slots[hole] = m->slots[i];
            hole = i;
        }
    }
    m->slots[hole].key = NULL;
    m->slots[hole].value = NULL;
    m->len--;
    return value;
}
