/* dlist: the edge cases of each operation, a struct on two lists at once, and random operations
 * against an array model (the list's order both ways, head and tail, unlinked nodes cleared). */
#include "test.h"

#include "base/dlist.h"

struct item {
    int id;
    struct dlist_node a; /* not first: DLIST_ENTRY must subtract the offset */
    struct dlist_node b;
};

/* 1 when l holds exactly ids[0..n) front to back, linked the same both ways. */
static int list_is(const struct dlist *l, const int *ids, int n)
{
    const struct dlist_node *prev = NULL, *x = l->head;
    for (int i = 0; i < n; i++, prev = x, x = x->next) {
        if (!x || x->prev != prev || DLIST_ENTRY(x, struct item, a)->id != ids[i])
            return 0;
    }
    return x == NULL && l->tail == prev;
}

TEST(dlist_edges)
{
    struct item it[3] = { { .id = 0 }, { .id = 1 }, { .id = 2 } };
    struct dlist l = { 0 };
    CHECK(DLIST_ENTRY(l.head, struct item, a) == NULL);
    dlist_push_front(&l, &it[0].a);
    CHECK(list_is(&l, (int[]){ 0 }, 1));
    dlist_unlink(&l, &it[0].a); /* the only one */
    CHECK(list_is(&l, NULL, 0));
    CHECK(!it[0].a.prev && !it[0].a.next);
    dlist_push_back(&l, &it[1].a);
    dlist_push_front(&l, &it[0].a);
    dlist_push_back(&l, &it[2].a);
    CHECK(list_is(&l, (int[]){ 0, 1, 2 }, 3));
    CHECK(DLIST_ENTRY(l.tail, struct item, a) == &it[2]);
    dlist_move_front(&l, &it[0].a); /* already first */
    CHECK(list_is(&l, (int[]){ 0, 1, 2 }, 3));
    dlist_move_front(&l, &it[2].a); /* the tail */
    CHECK(list_is(&l, (int[]){ 2, 0, 1 }, 3));
    dlist_move_front(&l, &it[0].a); /* the middle */
    CHECK(list_is(&l, (int[]){ 0, 2, 1 }, 3));
    dlist_unlink(&l, &it[0].a); /* the head */
    CHECK(list_is(&l, (int[]){ 2, 1 }, 2));
    dlist_unlink(&l, &it[1].a); /* the tail */
    CHECK(list_is(&l, (int[]){ 2 }, 1));
    dlist_unlink(&l, &it[2].a);
    CHECK(!l.head && !l.tail);
}

TEST(dlist_two_lists)
{
    struct item it[2] = { { .id = 7 }, { .id = 8 } };
    struct dlist la = { 0 }, lb = { 0 };
    dlist_push_back(&la, &it[0].a);
    dlist_push_back(&la, &it[1].a);
    dlist_push_front(&lb, &it[0].b);
    dlist_push_front(&lb, &it[1].b);
    CHECK(DLIST_ENTRY(la.head, struct item, a) == &it[0]);
    CHECK(DLIST_ENTRY(lb.head, struct item, b) == &it[1]);
    dlist_unlink(&la, &it[0].a); /* leaves lb as it was */
    CHECK(DLIST_ENTRY(lb.tail, struct item, b) == &it[0]);
    CHECK(lb.head->next == &it[0].b && it[0].b.prev == lb.head);
    CHECK(list_is(&la, (int[]){ 8 }, 1));
}

TEST(dlist_random_ops)
{
    enum { N = 64 };
    static struct item it[N];
    int model[N], n = 0; /* ids front to back */
    int on[N] = { 0 };
    struct dlist l = { 0 };
    for (int i = 0; i < N; i++)
        it[i].id = i;
    uint64_t s = 42;
    int wrong = 0;
    for (int step = 0; step < 100000; step++) {
        s = s * 6364136223846793005ull + 1442695040888963407ull;
        int k = (int)((s >> 33) % N), op = (int)((s >> 20) % 4);
        int at = -1;
        for (int i = 0; i < n; i++)
            if (model[i] == k)
                at = i;
        if (!on[k] && op == 0) {
            dlist_push_front(&l, &it[k].a);
            memmove(model + 1, model, (size_t)n * sizeof *model);
            model[0] = k;
            n++;
        } else if (!on[k]) {
            dlist_push_back(&l, &it[k].a);
            model[n++] = k;
        } else if (op < 2) {
            dlist_unlink(&l, &it[k].a);
            memmove(model + at, model + at + 1, (size_t)(n - at - 1) * sizeof *model);
            n--;
            wrong += it[k].a.prev || it[k].a.next;
        } else {
            dlist_move_front(&l, &it[k].a);
            memmove(model + 1, model, (size_t)at * sizeof *model);
            model[0] = k;
        }
        on[k] = !on[k] || op >= 2;
        wrong += !list_is(&l, model, n);
    }
    CHECK_EQ_INT(wrong, 0);
}

TEST_MAIN()
