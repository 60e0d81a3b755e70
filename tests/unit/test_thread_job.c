/* test_thread_job: work runs off the loop thread and its end is handled on it; a full pool
 * refuses (-EBUSY) and calls nothing; freeing the pool waits for the work and cancels its end. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

#include "test.h"

#include "net/loop.h"
#include "net/thread_job.h"

struct probe {
    struct loop *loop;
    pthread_t loop_thread, work_thread;
    atomic_int release; /* the work waits for it */
    int done, cancelled, stop_after;
    int *ended;
};

static void work(void *arg)
{
    struct probe *p = arg;
    p->work_thread = pthread_self();
    while (!atomic_load(&p->release))
        usleep(1000);
}

static void done(void *arg, int cancelled)
{
    struct probe *p = arg;
    p->done = pthread_equal(pthread_self(), p->loop_thread) ? 1 : -1;
    p->cancelled = cancelled;
    if (++*p->ended == p->stop_after)
        loop_stop(p->loop);
}

static void release_all(struct loop *l, struct timer *t)
{
    struct probe *ps = t->arg;
    (void)l;
    for (int i = 0; i < 2; i++)
        atomic_store(&ps[i].release, 1);
}

TEST(work_off_the_loop_end_on_it)
{
    struct loop *l = loop_new();
    struct thread_jobs *x = thread_jobs_new(l, 2);
    struct probe p[3];
    int ended = 0;
    memset(p, 0, sizeof p);
    for (int i = 0; i < 3; i++) {
        p[i].loop = l;
        p[i].loop_thread = pthread_self();
        p[i].ended = &ended;
        p[i].stop_after = 2;
    }
    struct thread_job a = {work, done, &p[0]}, b = {work, done, &p[1]}, c = {work, done, &p[2]};
    CHECK_EQ_INT(thread_job_start(x, &a), 0);
    CHECK_EQ_INT(thread_job_start(x, &b), 0);
    CHECK_EQ_INT((int)thread_jobs_running(x), 2);
    CHECK_EQ_INT(thread_job_start(x, &c), -EBUSY); /* full: nothing called */
    struct timer t;
    timer_init(&t, release_all, p);
    loop_timer_start(l, &t, 20);
    CHECK_EQ_INT(loop_run(l), 0);
    for (int i = 0; i < 2; i++) {
        CHECK_EQ_INT(p[i].done, 1); /* on the loop thread */
        CHECK_EQ_INT(p[i].cancelled, 0);
        CHECK(!pthread_equal(p[i].work_thread, p[i].loop_thread));
    }
    CHECK_EQ_INT(p[2].done, 0);
    CHECK_EQ_INT((int)thread_jobs_running(x), 0);
    /* a slot is free again */
    atomic_store(&p[2].release, 1);
    p[2].stop_after = 3;
    CHECK_EQ_INT(thread_job_start(x, &c), 0);
    CHECK_EQ_INT(loop_run(l), 0);
    CHECK_EQ_INT(p[2].done, 1);
    thread_jobs_free(x);
    loop_free(l);
}

TEST(free_waits_and_cancels)
{
    struct loop *l = loop_new();
    struct thread_jobs *x = thread_jobs_new(l, 1);
    struct probe p;
    int ended = 0;
    memset(&p, 0, sizeof p);
    p.loop = l;
    p.loop_thread = pthread_self();
    p.ended = &ended;
    p.stop_after = 1;
    atomic_store(&p.release, 1);
    struct thread_job a = {work, done, &p};
    CHECK_EQ_INT(thread_job_start(x, &a), 0);
    thread_jobs_free(x); /* no loop run: the end comes from the free */
    CHECK_EQ_INT(p.done, 1);
    CHECK_EQ_INT(p.cancelled, 1);
    loop_free(l);
}

TEST_MAIN()
