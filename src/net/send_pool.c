/* send_pool: worker threads that do a large flush's socket writes with the loop, fork-join
 * (send_pool.h). Invariants: jobs are claimed in chunks through one atomic word holding the run's
 * number and the next index, so each job is done exactly once and a worker that wakes late
 * (its core busy) can claim nothing of a run other than the one it read; send_pool_run returns
 * once every job is finished, without waiting for workers that claimed nothing (on a machine
 * whose other core is busy the loop does the whole run itself, as with one thread). A worker
 * writes only its claimed jobs' done/err fields. */
#include "net/send_pool.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>

#include "base/mem.h"
#include "net/net_int.h"
#include "base/banned.h"

/* Jobs claimed at once: few enough that the threads end close together, enough that the shared
 * word is not a contention point. */
#define CHUNK 32
/* The loop's wait for the last chunks: polls this many times before it sleeps. */
#define SPIN 2000

struct send_pool {
    unsigned threads; /* the loop's included */
    pthread_t *tids;
    unsigned started;
    pthread_mutex_t mu;
    pthread_cond_t go, done;
    uint32_t gen; /* run number (mu): a worker looks at each new value once */
    int stop;
    struct send_job *jobs; /* the current run's (mu) */
    size_t n;
    _Atomic uint64_t claim; /* gen << 32 | the next unclaimed index */
    atomic_size_t finished; /* jobs of the current run done */
    struct send_batch batch;
};

static void do_job(struct send_job *j)
{
    j->done = 0;
    j->err = 0;
    while (j->done < j->len) {
        ssize_t w = send(j->fd, j->p + j->done, j->len - j->done, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (w > 0) {
            j->done += (size_t)w;
            continue;
        }
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            break; /* the socket is full: the rest stays queued */
        j->err = w < 0 ? errno : EPIPE;
        break;
    }
}

/* Claims and does chunks of run `gen` until none is left; the thread that finishes the run's
 * last job wakes the loop. */
static void take_jobs(struct send_pool *p, uint32_t gen, struct send_job *jobs, size_t n)
{
    for (;;) {
        uint64_t v = atomic_load(&p->claim);
        do {
            if ((uint32_t)(v >> 32) != gen || (v & 0xffffffffu) >= n)
                return;
        } while (!atomic_compare_exchange_weak(&p->claim, &v, v + CHUNK));
        size_t i = (size_t)(v & 0xffffffffu);
        size_t end = i + CHUNK < n ? i + CHUNK : n;
        for (size_t k = i; k < end; k++)
            do_job(&jobs[k]);
        if (atomic_fetch_add(&p->finished, end - i) + (end - i) == n) {
            pthread_mutex_lock(&p->mu);
            pthread_cond_signal(&p->done);
            pthread_mutex_unlock(&p->mu);
        }
    }
}

static void *worker_main(void *arg)
{
    struct send_pool *p = arg;
    uint32_t seen = 0;
    pthread_setname_np(pthread_self(), "vireo-send");
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (!p->stop && p->gen == seen)
            pthread_cond_wait(&p->go, &p->mu);
        if (p->stop)
            break;
        seen = p->gen;
        struct send_job *jobs = p->jobs;
        size_t n = p->n;
        pthread_mutex_unlock(&p->mu);
        take_jobs(p, seen, jobs, n); /* claims nothing if that run is over */
        pthread_mutex_lock(&p->mu);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

struct send_pool *send_pool_new(unsigned threads, struct buf *err)
{
    if (threads < 1 || threads > SEND_POOL_MAX_THREADS) {
        buf_appendf(err, "send pool: %u threads (1 to %d)", threads, SEND_POOL_MAX_THREADS);
        return NULL;
    }
    struct send_pool *p = vr_calloc(1, sizeof *p);
    p->threads = threads;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->go, NULL);
    pthread_cond_init(&p->done, NULL);
    atomic_init(&p->claim, 0);
    atomic_init(&p->finished, 0);
    if (threads > 1)
        p->tids = vr_calloc(threads - 1, sizeof *p->tids);
    /* workers take no signal: the loop's signalfd gets them */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    for (unsigned i = 0; i + 1 < threads; i++) {
        int e = pthread_create(&p->tids[i], NULL, worker_main, p);
        if (e) {
            buf_appendf(err, "send pool: cannot start a thread: %s", strerror(e));
            pthread_sigmask(SIG_SETMASK, &old, NULL);
            send_pool_free(p);
            return NULL;
        }
        p->started++;
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return p;
}

void send_pool_free(struct send_pool *p)
{
    if (!p)
        return;
    pthread_mutex_lock(&p->mu);
    p->stop = 1;
    pthread_cond_broadcast(&p->go);
    pthread_mutex_unlock(&p->mu);
    for (unsigned i = 0; i < p->started; i++)
        pthread_join(p->tids[i], NULL);
    vr_free(p->tids);
    pthread_cond_destroy(&p->go);
    pthread_cond_destroy(&p->done);
    pthread_mutex_destroy(&p->mu);
    send_batch_release(&p->batch);
    vr_free(p);
}

unsigned send_pool_threads(const struct send_pool *p)
{
    return p ? p->threads : 1;
}

void send_pool_run(struct send_pool *p, struct send_job *jobs, size_t n, size_t min_jobs)
{
    if (!p || p->started == 0 || n < min_jobs || n <= CHUNK || n >= 0xffffffffu - CHUNK) {
        for (size_t i = 0; i < n; i++)
            do_job(&jobs[i]);
        return;
    }
    pthread_mutex_lock(&p->mu);
    p->jobs = jobs;
    p->n = n;
    p->gen++;
    uint32_t gen = p->gen;
    atomic_store(&p->finished, 0);
    atomic_store(&p->claim, (uint64_t)gen << 32);
    pthread_cond_broadcast(&p->go);
    pthread_mutex_unlock(&p->mu);
    take_jobs(p, gen, jobs, n); /* the loop's share: whatever the workers do not take */
    for (int i = 0; i < SPIN && atomic_load(&p->finished) < n; i++)
        ;
    if (atomic_load(&p->finished) < n) {
        pthread_mutex_lock(&p->mu);
        while (atomic_load(&p->finished) < n)
            pthread_cond_wait(&p->done, &p->mu);
        pthread_mutex_unlock(&p->mu);
    }
}

struct send_batch *send_pool_batch(struct send_pool *p)
{
    return p ? &p->batch : NULL;
}
