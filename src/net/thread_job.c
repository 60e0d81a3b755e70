/* thread_job: work on a thread of its own, its end handled on the loop (thread_job.h). */
#include "net/thread_job.h"

#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "base/mem.h"
#include "base/banned.h"

struct running {
    struct thread_jobs *x;
    struct thread_job job;
    int efd; /* the thread's "done" */
    pthread_t thread;
    struct running *next;
};

struct thread_jobs {
    struct loop *loop;
    size_t max_running, n_running;
    struct running *list;
};

struct thread_jobs *thread_jobs_new(struct loop *loop, size_t max_running)
{
    struct thread_jobs *x = vr_calloc(1, sizeof *x);
    x->loop = loop;
    x->max_running = max_running;
    return x;
}

size_t thread_jobs_running(const struct thread_jobs *x)
{
    return x ? x->n_running : 0;
}

static void *job_thread(void *arg)
{
    struct running *r = arg;
    r->job.work(r->job.arg);
    uint64_t one = 1;
    ssize_t w = write(r->efd, &one, sizeof one);
    (void)w; /* an eventfd write of 1 cannot fail short of overflow */
    return NULL;
}

/* Joins r's thread, takes it off the list and frees it; its done is the caller's to call. */
static void finish(struct running *r)
{
    struct thread_jobs *x = r->x;
    pthread_join(r->thread, NULL);
    struct running **pp = &x->list;
    while (*pp != r)
        pp = &(*pp)->next;
    *pp = r->next;
    x->n_running--;
    loop_del_fd(x->loop, r->efd);
    close(r->efd);
    vr_free(r);
}

static void job_ended(struct loop *l, int efd, uint32_t events, void *arg)
{
    struct running *r = arg;
    struct thread_job job = r->job;
    (void)l, (void)efd, (void)events;
    finish(r);
    job.done(job.arg, 0);
}

int thread_job_start(struct thread_jobs *x, const struct thread_job *job)
{
    if (x->n_running >= x->max_running)
        return -EBUSY;
    struct running *r = vr_calloc(1, sizeof *r);
    r->x = x;
    r->job = *job;
    r->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    int e = r->efd < 0 ? errno : 0;
    if (!e && loop_add_fd(x->loop, r->efd, EPOLLIN, job_ended, r) < 0)
        e = errno ? errno : EIO;
    if (!e && (e = pthread_create(&r->thread, NULL, job_thread, r)) != 0)
        loop_del_fd(x->loop, r->efd);
    if (e) {
        if (r->efd >= 0)
            close(r->efd);
        vr_free(r);
        return -e;
    }
    r->next = x->list;
    x->list = r;
    x->n_running++;
    return 0;
}

void thread_jobs_free(struct thread_jobs *x)
{
    if (!x)
        return;
    while (x->list) {
        struct running *r = x->list;
        struct thread_job job = r->job;
        finish(r);
        job.done(job.arg, 1);
    }
    vr_free(x);
}
