/* dlist: an intrusive doubly linked list with a head and a tail. A struct that can be on a list
 * embeds one `struct dlist_node` per list and is found again from its node with DLIST_ENTRY; the
 * list owns nothing (unlinking frees nothing). Invariants: head and tail are both NULL or both
 * set; a node on no list has prev == next == NULL (as zeroed memory has), and only a node on
 * the list may be unlinked from it. */
#ifndef VR_BASE_DLIST_H
#define VR_BASE_DLIST_H

#include <assert.h>
#include <stddef.h>

struct dlist_node {
    struct dlist_node *prev, *next;
};

struct dlist {
    struct dlist_node *head, *tail;
};

static inline void *dlist_container_(const struct dlist_node *n, size_t offset)
{
    return n ? (char *)n - offset : NULL;
}

/* The `type` whose member `member` is node n; NULL for NULL (past either end of a walk). */
#define DLIST_ENTRY(n, type, member) ((type *)dlist_container_((n), offsetof(type, member)))

static inline void dlist_unlink(struct dlist *l, struct dlist_node *n)
{
    assert(n->prev ? n->prev->next == n : l->head == n);
    if (n->prev)
        n->prev->next = n->next;
    else
        l->head = n->next;
    if (n->next)
        n->next->prev = n->prev;
    else
        l->tail = n->prev;
    n->prev = n->next = NULL;
}

static inline void dlist_push_front(struct dlist *l, struct dlist_node *n)
{
    n->prev = NULL;
    n->next = l->head;
    if (l->head)
        l->head->prev = n;
    else
        l->tail = n;
    l->head = n;
}

static inline void dlist_push_back(struct dlist *l, struct dlist_node *n)
{
    n->next = NULL;
    n->prev = l->tail;
    if (l->tail)
        l->tail->next = n;
    else
        l->head = n;
    l->tail = n;
}

/* Moves n, which is on l, to its front (a least-recently-used list's "touch"). */
static inline void dlist_move_front(struct dlist *l, struct dlist_node *n)
{
    if (l->head == n)
        return;
    dlist_unlink(l, n);
    dlist_push_front(l, n);
}

#endif
