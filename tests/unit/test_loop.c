/* test_loop: timer ordering in the min-heap (deadlines, ties in start order, stop, re-arm),
 * before-sleep hooks, fd callbacks, and that an fd removed by an earlier callback of the same
 * batch gets no stale event. */
#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "test.h"

#include "base/rand.h"
#include "net/loop.h"

static int fired[64];
static int nfired;

static void on_timer(struct loop *l, struct timer *t)
{
    fired[nfired++] = (int)(intptr_t)t->arg;
}

static void on_last(struct loop *l, struct timer *t)
{
    on_timer(l, t);
    loop_stop(l);
}

TEST(timer_order)
{
    struct loop *l = loop_new();
    struct timer t[6];
    uint32_t delays[6] = { 30, 10, 20, 10, 0, 40 };
    for (int i = 0; i < 6; i++) {
        timer_init(&t[i], i == 5 ? on_last : on_timer, (void *)(intptr_t)i);
        loop_timer_start(l, &t[i], delays[i]);
    }
    nfired = 0;
    CHECK_EQ_INT(loop_run(l), 0);
    int want[6] = { 4, 1, 3, 2, 0, 5 };
    CHECK_EQ_INT(nfired, 6);
    for (int i = 0; i < 6; i++)
        CHECK_EQ_INT(fired[i], want[i]);
    for (int i = 0; i < 6; i++)
        CHECK(!timer_pending(&t[i]));
    loop_free(l);
}

TEST(timer_stop_and_rearm)
{
    struct loop *l = loop_new();
    struct timer a, b, c;
    timer_init(&a, on_timer, (void *)1);
    timer_init(&b, on_timer, (void *)2);
    timer_init(&c, on_last, (void *)3);
    loop_timer_start(l, &a, 5);
    loop_timer_start(l, &b, 10);
    loop_timer_start(l, &c, 20);
    CHECK(timer_pending(&a));
    loop_timer_stop(l, &a);
    CHECK(!timer_pending(&a));
    loop_timer_stop(l, &a); /* idempotent */
    loop_timer_start(l, &b, 30); /* re-arm moves it after c */
    nfired = 0;
    loop_run(l);
    CHECK_EQ_INT(nfired, 1);
    CHECK_EQ_INT(fired[0], 3);
    CHECK(timer_pending(&b));
    loop_timer_stop(l, &b);
    loop_free(l);
}

TEST(timer_heap_random)
{
    struct loop *l = loop_new();
    enum { N = 300 };
    static struct timer t[N];
    static uint32_t d[N];
    for (int i = 0; i < N; i++) {
        d[i] = (uint32_t)(rand_u64() % 1000) + 100000;
        timer_init(&t[i], on_timer, (void *)(intptr_t)i);
        loop_timer_start(l, &t[i], d[i]);
    }
    /* stop every third, then check the remaining pop in deadline order by inspecting when_ms */
    for (int i = 0; i < N; i += 3)
        loop_timer_stop(l, &t[i]);
    int ok = 1;
    for (int i = 0; i < N; i++) {
        if (!timer_pending(&t[i]))
            continue;
        /* heap property: parent deadline <= child deadline */
        for (int j = 0; j < N; j++) {
            if (timer_pending(&t[j]) && t[j].heap_index == (t[i].heap_index - 1) / 2 &&
                t[i].heap_index > 0 && t[j].when_ms > t[i].when_ms)
                ok = 0;
        }
    }
    CHECK(ok);
    for (int i = 0; i < N; i++)
        loop_timer_stop(l, &t[i]);
    loop_free(l);
}

static int hook_log[8];
static int nhooks;

static void hook(struct loop *l, void *arg)
{
    if (nhooks < 8)
        hook_log[nhooks++] = (int)(intptr_t)arg;
}

static void stop_now(struct loop *l, struct timer *t)
{
    loop_stop(l);
}

TEST(before_sleep_hooks_in_order)
{
    struct loop *l = loop_new();
    loop_add_before_sleep(l, hook, (void *)1);
    loop_add_before_sleep(l, hook, (void *)2);
    loop_add_before_sleep(l, hook, (void *)3);
    loop_del_before_sleep(l, hook, (void *)2);
    struct timer t;
    timer_init(&t, stop_now, NULL);
    loop_timer_start(l, &t, 1);
    nhooks = 0;
    loop_run(l);
    CHECK(nhooks >= 2);
    CHECK_EQ_INT(hook_log[0], 1);
    CHECK_EQ_INT(hook_log[1], 3);
    loop_free(l);
}

struct pipes {
    int a[2], b[2];
    int got_a, got_b;
    struct loop *l;
};

static void on_b(struct loop *l, int fd, uint32_t ev, void *arg)
{
    struct pipes *p = arg;
    p->got_b++;
}

static void on_a(struct loop *l, int fd, uint32_t ev, void *arg)
{
    struct pipes *p = arg;
    char c;
    CHECK_EQ_INT(read(fd, &c, 1), 1);
    p->got_a++;
    /* remove b, which is also readable in this batch: it must not be dispatched */
    loop_del_fd(l, p->b[0]);
    loop_stop(l);
}

TEST(fd_events_and_removal_in_batch)
{
    struct pipes p = { .l = loop_new() };
    CHECK(pipe(p.a) == 0 && pipe(p.b) == 0);
    CHECK_EQ_INT(loop_add_fd(p.l, p.a[0], EPOLLIN, on_a, &p), 0);
    CHECK_EQ_INT(loop_add_fd(p.l, p.b[0], EPOLLIN, on_b, &p), 0);
    CHECK(write(p.b[1], "x", 1) == 1);
    CHECK(write(p.a[1], "x", 1) == 1);
    /* both are ready before epoll_wait; whichever comes first, b must never run after a */
    loop_run(p.l);
    CHECK_EQ_INT(p.got_a, 1);
    CHECK(p.got_b <= 1);
    int before = p.got_b;
    struct timer t;
    timer_init(&t, stop_now, NULL);
    loop_timer_start(p.l, &t, 10);
    loop_run(p.l);
    CHECK_EQ_INT(p.got_b, before); /* removed: no more events */
    CHECK_EQ_INT(loop_mod_fd(p.l, p.b[0], EPOLLIN), -ENOENT);
    close(p.a[0]);
    close(p.a[1]);
    close(p.b[0]);
    close(p.b[1]);
    loop_free(p.l);
}

TEST(now_is_cached_and_monotonic)
{
    struct loop *l = loop_new();
    uint64_t a = loop_now_ms(l);
    struct timer t;
    timer_init(&t, stop_now, NULL);
    loop_timer_start(l, &t, 15);
    loop_run(l);
    CHECK(loop_now_ms(l) >= a + 15);
    loop_free(l);
}

TEST_MAIN()
