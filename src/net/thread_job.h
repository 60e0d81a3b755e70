/* thread_job: work that would stall the event loop (an export's file, an import's parsing) run
 * on a thread of its own, its end handled back on the loop thread: the thread signals an eventfd
 * the loop watches, the loop joins it and calls `done`. At most max_running at once per pool.
 * Loop thread only (but for the work itself). */
#ifndef VR_NET_THREAD_JOB_H
#define VR_NET_THREAD_JOB_H

#include <stddef.h>

#include "net/loop.h"

struct thread_jobs;

/* work(arg) runs on the job's thread; done(arg, cancelled) on the loop thread after it: once the
 * work returned (cancelled = 0), or from thread_jobs_free (cancelled = 1: the loop is ending;
 * answer nothing that needs it). done owns arg. */
struct thread_job {
    void (*work)(void *arg);
    void (*done)(void *arg, int cancelled);
    void *arg;
};

struct thread_jobs *thread_jobs_new(struct loop *loop, size_t max_running);
/* 0 once started; -EBUSY when max_running run already, or -errno (no eventfd, no thread): then
 * nothing was called and arg is still the caller's. */
int thread_job_start(struct thread_jobs *x, const struct thread_job *job);
size_t thread_jobs_running(const struct thread_jobs *x);
/* Waits for the jobs still running (each done with cancelled = 1) and frees the pool. */
void thread_jobs_free(struct thread_jobs *x);

#endif
