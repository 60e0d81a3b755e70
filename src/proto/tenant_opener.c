/* tenant_opener: tenants prepared on the opener's threads, handed back to the loop through an
 * eventfd per job (tenant_opener.h).
 *
 * The threads live as long as the opener (up to `threads`, started as jobs need them), rather
 * than a thread per job: a thread that creates a JavaScriptCore VM gets WTF's RunLoop, a GLib
 * main context with an eventfd, which is never freed once that thread has ended (measured: one
 * eventfd and ~100 KB per tenant open or deploy, until the server ran out of descriptors). The
 * price: a thread stays registered with the heaps of the VMs it used while it lives, so their
 * collections also scan its (idle, small) stack. */
#include "proto/tenant_opener.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/log.h"
#include "base/mem.h"
#include "base/banned.h"

struct tenant_opener {
    struct loop *loop;
    size_t threads, running;
    tenant_opened_fn done;
    void *arg;
    struct tenant_open_job *waiting, *waiting_tail; /* first come, first served */
    struct tenant_open_job *active;                 /* handed to the threads, not yet done */
    int stopped;
    /* the threads' side */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct tenant_open_job *queue, *queue_tail; /* handed, not yet taken (under mu) */
    int quit;                                   /* under mu: end once the queue is empty */
    pthread_t *tids;
    size_t n_tids;
};

struct tenant_opener *tenant_opener_new(struct loop *loop, size_t threads, tenant_opened_fn done,
                                        void *arg)
{
    struct tenant_opener *o = vr_calloc(1, sizeof *o);
    o->loop = loop;
    o->threads = threads ? threads : 1;
    o->done = done;
    o->arg = arg;
    pthread_mutex_init(&o->mu, NULL);
    pthread_cond_init(&o->cv, NULL);
    o->tids = vr_calloc(o->threads, sizeof *o->tids);
    return o;
}

static void run_job(struct tenant_open_job *j)
{
    uint64_t t0 = clock_mono_ns();
    if (j->reload) { /* the tenant serves on the loop meanwhile: its store is not touched */
        shard_prepare_build(j->reload->shard, j->bundle, j->bundle_len, j->bundle_name, &j->v, 1,
                            &j->load_err);
        j->app_ms = (double)(clock_mono_ns() - t0) / 1e6;
        uint64_t one = 1;
        ssize_t w = write(j->efd, &one, sizeof one);
        (void)w;
        return;
    }
    j->t = j->prepared ? j->prepared : tenant_prepare(j->name, j->db, j->opts, &j->err);
    j->prepared = NULL;
    uint64_t t1 = clock_mono_ns();
    if (j->t) {
        shard_set_env_file(j->t->shard, j->env_file, ".env.local");
        j->env_file = NULL; /* the shard's */
        if (j->bundle)
            shard_prepare(j->t->shard, j->bundle, j->bundle_len, j->bundle_name, &j->v,
                          &j->load_err);
    }
    j->store_ms = (double)(t1 - t0) / 1e6;
    j->app_ms = (double)(clock_mono_ns() - t1) / 1e6;
    uint64_t one = 1;
    ssize_t w = write(j->efd, &one, sizeof one);
    (void)w; /* an eventfd write of 1 cannot fail short of overflow */
}

/* After its eventfd write a job belongs to the loop: the thread does not touch it again. */
static void *open_thread(void *arg)
{
    struct tenant_opener *o = arg;
    pthread_mutex_lock(&o->mu);
    for (;;) {
        while (!o->queue && !o->quit)
            pthread_cond_wait(&o->cv, &o->mu);
        struct tenant_open_job *j = o->queue;
        if (!j)
            break; /* quit, and nothing left */
        o->queue = j->queue_next;
        if (!o->queue)
            o->queue_tail = NULL;
        pthread_mutex_unlock(&o->mu);
        run_job(j);
        pthread_mutex_lock(&o->mu);
    }
    pthread_mutex_unlock(&o->mu);
    return NULL;
}

static void job_free(struct tenant_open_job *j)
{
    if (j->efd >= 0) {
        loop_del_fd(j->o->loop, j->efd);
        close(j->efd);
    }
    shard_version_release(&j->v);
    tenant_discard(j->t); /* what done did not take */
    tenant_discard(j->prepared); /* cancelled before it ran */
    json_decref(j->env_file);
    if (!j->reload) { /* a reload job's are borrowed */
        vr_free(j->bundle);
        vr_free(j->bundle_name);
    }
    buf_release(&j->err);
    buf_release(&j->load_err);
    vr_free(j);
}

static void unlink_active(struct tenant_open_job *j)
{
    struct tenant_open_job **pp = &j->o->active;
    while (*pp != j)
        pp = &(*pp)->next;
    *pp = j->next;
    j->o->running--;
}

static void launch_waiting(struct tenant_opener *o);

/* The job ended: its eventfd fired (or, from tenant_opener_free, the threads were joined). */
static void finish(struct tenant_open_job *j)
{
    struct tenant_opener *o = j->o;
    unlink_active(j);
    o->done(j, o->arg);
    job_free(j);
    launch_waiting(o);
}

static void on_done(struct loop *l, int efd, uint32_t events, void *arg)
{
    (void)l, (void)efd, (void)events;
    finish(arg);
}

static void cancel(struct tenant_open_job *j, const char *why)
{
    j->cancelled = 1;
    if (why)
        buf_append_str(&j->err, why);
    j->o->done(j, j->o->arg);
    job_free(j);
}

static const char *what(const struct tenant_open_job *j)
{
    return j->reload ? "loading a new version into" : "opening";
}

static void launch(struct tenant_open_job *j)
{
    struct tenant_opener *o = j->o;
    const char *cannot = j->reload ? "cannot start loading the new version"
                                   : "cannot start opening the tenant";
    j->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (j->efd < 0 || loop_add_fd(o->loop, j->efd, EPOLLIN, on_done, j) < 0) {
        log_error("tenants", "%s \"%s\": eventfd: %s", what(j), j->name, strerror(errno));
        if (j->efd >= 0)
            close(j->efd);
        j->efd = -1;
        cancel(j, cannot);
        return;
    }
    j->t_started = clock_mono_ns();
    j->wait_ms = (double)(j->t_started - j->t_queued) / 1e6;
    if (o->n_tids < o->threads && o->n_tids < o->running + 1) { /* one more thread is needed */
        int e = pthread_create(&o->tids[o->n_tids], NULL, open_thread, o);
        if (e == 0)
            o->n_tids++;
        else
            log_error("tenants", "%s \"%s\": cannot start a thread: %s", what(j), j->name,
                      strerror(e));
        if (e && !o->n_tids) { /* no thread to run it */
            cancel(j, cannot);
            return;
        }
    }
    pthread_mutex_lock(&o->mu);
    if (o->queue_tail)
        o->queue_tail->queue_next = j;
    else
        o->queue = j;
    o->queue_tail = j;
    pthread_cond_signal(&o->cv);
    pthread_mutex_unlock(&o->mu);
    j->next = o->active;
    o->active = j;
    o->running++;
}

static void launch_waiting(struct tenant_opener *o)
{
    while (!o->stopped && o->waiting && o->running < o->threads) {
        struct tenant_open_job *j = o->waiting;
        o->waiting = j->next;
        if (!o->waiting)
            o->waiting_tail = NULL;
        j->next = NULL;
        launch(j);
    }
}

struct tenant_open_job *tenant_opener_start(struct tenant_opener *o, const char *name,
                                            const char *db, const struct tenant_options *opts,
                                            char *bundle, size_t bundle_len, char *bundle_name,
                                            json_t *env_file, uint64_t version, void *owner,
                                            struct tenant *prepared)
{
    struct tenant_open_job *j = vr_calloc(1, sizeof *j);
    snprintf(j->name, sizeof j->name, "%s", name);
    snprintf(j->db, sizeof j->db, "%s", db);
    j->opts = opts;
    j->bundle = bundle;
    j->bundle_len = bundle_len;
    j->bundle_name = bundle_name;
    j->env_file = env_file;
    j->version = version;
    j->owner = owner;
    j->prepared = prepared;
    j->err = (struct buf)BUF_INIT(4096);
    j->load_err = (struct buf)BUF_INIT(1 << 20);
    j->efd = -1;
    j->o = o;
    j->t_queued = clock_mono_ns();
    if (o->waiting_tail)
        o->waiting_tail->next = j;
    else
        o->waiting = j;
    o->waiting_tail = j;
    return j;
}

struct tenant_open_job *tenant_opener_start_reload(struct tenant_opener *o, struct tenant *t,
                                                   struct shard_version *v, const char *bundle,
                                                   size_t bundle_len, const char *bundle_name,
                                                   uint64_t version, void *owner)
{
    struct tenant_open_job *j = tenant_opener_start(o, t->name, "", NULL, NULL, bundle_len, NULL,
                                                    NULL, version, owner, NULL);
    j->reload = t;
    j->bundle = (char *)bundle; /* borrowed: a deploy's jobs share one copy */
    j->bundle_name = (char *)bundle_name;
    j->v = *v;
    memset(v, 0, sizeof *v);
    return j;
}

/* Jobs are launched from here, after the caller has recorded the job (tenant_opener_start
 * returns first so that a failure to launch, which calls done, finds the owner's records). */
void tenant_opener_kick(struct tenant_opener *o)
{
    launch_waiting(o);
}

void tenant_opener_stop(struct tenant_opener *o)
{
    o->stopped = 1;
    while (o->waiting) {
        struct tenant_open_job *j = o->waiting;
        o->waiting = j->next;
        if (!o->waiting)
            o->waiting_tail = NULL;
        cancel(j, "the server is shutting down");
    }
}

size_t tenant_opener_running(const struct tenant_opener *o)
{
    return o->running;
}

void tenant_opener_free(struct tenant_opener *o)
{
    if (!o)
        return;
    tenant_opener_stop(o);
    pthread_mutex_lock(&o->mu);
    o->quit = 1; /* the threads run what was handed to them, then end */
    pthread_cond_broadcast(&o->cv);
    pthread_mutex_unlock(&o->mu);
    for (size_t i = 0; i < o->n_tids; i++)
        pthread_join(o->tids[i], NULL);
    while (o->active)
        finish(o->active);
    pthread_mutex_destroy(&o->mu);
    pthread_cond_destroy(&o->cv);
    vr_free(o->tids);
    vr_free(o);
}
