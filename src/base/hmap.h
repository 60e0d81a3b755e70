/* hmap: a hash map from byte-string keys to pointers (open addressing, linear probing,
 * tombstone-free backward-shift deletion). Keys are copied; values are borrowed. */
#ifndef VR_BASE_HMAP_H
#define VR_BASE_HMAP_H

#include <stddef.h>
#include <stdint.h>

struct hmap_slot {
    char *key; /* NULL: empty */
    size_t key_len;
    uint64_t hash;
    void *value;
};

struct hmap {
    struct hmap_slot *slots;
    size_t cap; /* power of two, or 0 */
    size_t len;
};

void hmap_init(struct hmap *m);
void hmap_release(struct hmap *m); /* frees the keys; values are the caller's */
void *hmap_get(const struct hmap *m, const void *key, size_t key_len);
/* Sets key -> value; returns the previous value or NULL. */
void *hmap_put(struct hmap *m, const void *key, size_t key_len, void *value);
/* Removes key; returns its value or NULL. */
void *hmap_del(struct hmap *m, const void *key, size_t key_len);
uint64_t hmap_hash(const void *key, size_t len);

/* Iteration: for (size_t i = 0; i < m.cap; i++) if (m.slots[i].key) ... */

#endif
