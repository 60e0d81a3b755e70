/* actions: worker threads that run actions in their own JavaScriptCore runtimes, talking to the
 * loop thread through one mutex-protected outbox and an eventfd. Jobs, nested calls and bundles
 * move between threads only under `mu`; a nested call lives on its worker's stack and the loop
 * thread writes its answer into the worker's js_result while the worker waits for `answered`.
 * Workers never block the loop: the loop thread only takes `mu` for short list operations. */
#include "proto/actions.h"

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "base/log.h"
#include "base/mem.h"
#include "proto/shard.h"
#include "base/banned.h"

#define JOIN_WAIT_MS 3000 /* how long action_pool_free waits for a busy worker */

struct action_job {
    struct action_job *next;
    char *path;
    char *args;
    size_t len;
    action_done_fn done;
    void *arg;
    struct js_result res; /* written by the worker, read by the loop thread after it */
};

/* A ctx.runQuery / ctx.runMutation of a running action, on its worker's stack. */
struct action_call {
    struct action_call *next;
    struct action_worker *w;
    enum js_fn_kind kind;
    const char *path; /* borrowed from the waiting worker */
    const char *args;
    size_t len;
    struct js_result *res; /* the worker's; the loop thread fills it while the worker waits */
    int answered;          /* under mu */
};

struct action_bundle {
    unsigned refs; /* under mu */
    uint64_t gen;
    char *text;
    size_t len;
    char *name;
    char *env; /* process.env as JSON (js_options.env_json), or NULL */
};

struct action_worker {
    struct action_pool *pool;
    unsigned index;
    pthread_t thread;
    int started;
    int exited; /* under mu */
    pthread_cond_t reply;
    struct js_runtime *rt; /* the worker thread's own */
    uint64_t gen;          /* bundle generation rt was loaded from */
};

struct action_pool {
    struct loop *loop;
    struct shard *shard;
    struct action_pool_options opts;
    struct js_options js_opts;
    int efd;
    atomic_int stopping;

    pthread_mutex_t mu;
    pthread_cond_t work;                     /* jobs queued, a new bundle, or stopping */
    pthread_cond_t exited;                   /* a worker exited */
    struct action_job *queue, **queue_tail;  /* waiting for a worker */
    struct action_job *done, **done_tail;    /* finished, for the loop thread */
    struct action_call *calls, **calls_tail; /* nested calls, for the loop thread */
    struct action_bundle *bundle;
    uint64_t gen;

    /* loop thread only */
    unsigned pending;             /* submitted, not yet answered */
    uint64_t rejected;            /* refused past max_pending */
    struct action_call *awaiting; /* ran in the open batch; answered after it commits */
    struct action_worker *workers;
    unsigned nworkers;
};

static void bundle_unref(struct action_bundle *b) /* under mu */
{
    if (!b || --b->refs)
        return;
    vr_free(b->text);
    vr_free(b->name);
    vr_free(b->env);
    vr_free(b);
}

static void wake_loop(struct action_pool *p)
{
    uint64_t one = 1;
    ssize_t n = write(p->efd, &one, sizeof one);
    (void)n; /* EAGAIN: the counter is already non-zero, the loop will wake */
}

static void set_error(struct js_result *r, enum js_status st, const char *code, const char *msg)
{
    buf_reset(&r->value);
    buf_reset(&r->error);
    buf_reset(&r->error_code);
    buf_reset(&r->error_data);
    r->status = st;
    buf_append_str(&r->error, msg);
    buf_append_str(&r->error_code, code);
}

/* --- worker threads --- */

static int should_stop(void *arg)
{
    struct action_pool *p = arg;
    return atomic_load(&p->stopping);
}

/* js_remote_fn: hands a nested query or mutation to the loop thread and waits for its answer. */
static int remote_call(void *arg, enum js_fn_kind kind, const char *path, const char *args,
                       size_t len, struct js_result *res)
{
    struct action_worker *w = arg;
    struct action_pool *p = w->pool;
    struct action_call c = {
        .w = w, .kind = kind, .path = path, .args = args, .len = len, .res = res};
    set_error(res, JS_ERR_INTERNAL, "InternalError", "");
    buf_reset(&res->error);
    res->version = 0;
    pthread_mutex_lock(&p->mu);
    if (atomic_load(&p->stopping)) {
        pthread_mutex_unlock(&p->mu);
        set_error(res, JS_ERR_INTERNAL, "ServerShuttingDown", "the server is shutting down");
        return -1;
    }
    *p->calls_tail = &c;
    p->calls_tail = &c.next;
    pthread_mutex_unlock(&p->mu);
    wake_loop(p);
    pthread_mutex_lock(&p->mu);
    while (!c.answered)
        pthread_cond_wait(&w->reply, &p->mu);
    pthread_mutex_unlock(&p->mu);
    return res->status == JS_OK ? 0 : -1;
}

/* Loads bundle b into the worker's runtime if it holds another version. */
static int worker_load(struct action_worker *w, struct action_bundle *b, struct buf *err)
{
    if (w->rt && w->gen == b->gen)
        return 0;
    js_runtime_free(w->rt);
    w->rt = NULL;
    struct js_options opts = w->pool->js_opts;
    opts.env_json = b->env;
    if (js_runtime_new(NULL, &opts, b->text, b->len, b->name, &w->rt, err) < 0)
        return -1;
    js_runtime_set_remote(w->rt, remote_call, w);
    js_runtime_set_stop_check(w->rt, should_stop, w->pool);
    w->gen = b->gen;
    return 0;
}

static void run_job(struct action_worker *w, struct action_job *job, struct action_bundle *b)
{
    struct js_result *res = &job->res;
    struct buf err = BUF_INIT(64 * 1024);
    char msg[600];
    if (!b) {
        set_error(res, JS_ERR_INTERNAL, "NoAppLoaded", "no app is loaded");
        goto out;
    }
    if (worker_load(w, b, &err) < 0) {
        log_error("actions", "worker %u cannot load the app: %s", w->index, err.data);
        snprintf(msg, sizeof msg, "the app does not load on the action worker: %.500s", err.data);
        set_error(res, JS_ERR_INTERNAL, "InternalError", msg);
        goto out;
    }
    const struct js_function *fn = js_runtime_find(w->rt, job->path);
    if (!fn || fn->kind != JS_ACTION) {
        snprintf(msg, sizeof msg, "could not find action `%.400s` (the app was reloaded)",
                 job->path);
        set_error(res, JS_ERR_THROWN, "FunctionNotFound", msg);
        goto out;
    }
    js_call(w->rt, fn, job->args, job->len, res);
out:
    buf_release(&err);
}

static void *worker_main(void *arg)
{
    struct action_worker *w = arg;
    struct action_pool *p = w->pool;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (!p->queue && !atomic_load(&p->stopping) && (!p->bundle || p->bundle->gen == w->gen))
            pthread_cond_wait(&p->work, &p->mu);
        if (atomic_load(&p->stopping))
            break;
        struct action_bundle *b = p->bundle;
        if (b)
            b->refs++;
        struct action_job *job = p->queue;
        if (job) {
            p->queue = job->next;
            if (!p->queue)
                p->queue_tail = &p->queue;
            job->next = NULL;
        }
        pthread_mutex_unlock(&p->mu);
        if (job) {
            run_job(w, job, b);
        } else { /* idle and a new version arrived: load it now, not on the next call */
            struct buf err = BUF_INIT(64 * 1024);
            if (worker_load(w, b, &err) < 0)
                log_error("actions", "worker %u cannot load the app: %s", w->index, err.data);
            w->gen = b->gen; /* do not retry this version while idle */
            buf_release(&err);
        }
        pthread_mutex_lock(&p->mu);
        bundle_unref(b);
        if (job) {
            *p->done_tail = job;
            p->done_tail = &job->next;
            pthread_mutex_unlock(&p->mu);
            wake_loop(p);
            pthread_mutex_lock(&p->mu);
        }
    }
    pthread_mutex_unlock(&p->mu);
    js_runtime_free(w->rt);
    w->rt = NULL;
    pthread_mutex_lock(&p->mu);
    w->exited = 1;
    pthread_cond_broadcast(&p->exited);
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

/* --- the loop thread --- */

static void finish_job(struct action_pool *p, struct action_job *job)
{
    p->pending--;
    p->shard->calls++; /* a call from a client, counted once it is answered */
    if (job->res.status != JS_OK)
        p->shard->call_errors++;
    /* every mutation the action ran was answered only after its batch committed; the batch open
     * now (other clients' writes) may still fail: report the last committed version */
    job->res.version = store_committed_version(p->shard->store);
    job->done(job->arg, &job->res);
    js_result_release(&job->res);
    vr_free(job->path);
    vr_free(job->args);
    vr_free(job);
}

static void answer_call(struct action_pool *p, struct action_call *c) /* under mu */
{
    c->answered = 1;
    pthread_cond_signal(&c->w->reply);
}

static const char *kind_word(enum js_fn_kind k)
{
    return k == JS_QUERY ? "query" : k == JS_MUTATION ? "mutation" : "action";
}

/* Runs a nested call in the shard's current batch; its answer waits for the commit. */
static void run_call(struct action_pool *p, struct action_call *c)
{
    struct shard *s = p->shard;
    struct js_result *res = c->res;
    char msg[1024];
    const struct js_function *fn = s->rt ? js_runtime_find(s->rt, c->path) : NULL;
    if (atomic_load(&p->stopping)) {
        set_error(res, JS_ERR_INTERNAL, "ServerShuttingDown", "the server is shutting down");
    } else if (!fn) {
        snprintf(msg, sizeof msg, "function `%.400s` not found", c->path);
        set_error(res, JS_ERR_THROWN, "FunctionNotFound", msg);
    } else if (fn->kind != c->kind) {
        snprintf(msg, sizeof msg, "ctx.run%s(): `%.400s` is %s %s, not a %s",
                 c->kind == JS_QUERY ? "Query" : "Mutation", fn->path,
                 fn->kind == JS_ACTION ? "an" : "a", kind_word(fn->kind), kind_word(c->kind));
        set_error(res, JS_ERR_THROWN, "InvalidArgument", msg);
    } else {
        uint64_t calls = s->calls, errors = s->call_errors;
        shard_call(s, fn, c->args, c->len, NULL, res);
        s->calls = calls; /* the metrics count calls from clients; this is the action's */
        s->call_errors = errors;
        if (res->txn) { /* the store belongs to this thread: never let the worker free it */
            store_txn_free(res->txn);
            res->txn = NULL;
        }
        if (res->status == JS_ERR_ARGS) { /* name the target, as ctx.run*() always did */
            snprintf(msg, sizeof msg, "`%.400s`: %.600s", fn->path, res->error.data);
            buf_reset(&res->error);
            buf_append_str(&res->error, msg);
        }
        if (s->batch_open) {
            c->next = p->awaiting;
            p->awaiting = c;
            return;
        }
    }
    pthread_mutex_lock(&p->mu);
    answer_call(p, c);
    pthread_mutex_unlock(&p->mu);
}

static void on_wake(struct loop *l, int fd, uint32_t events, void *arg)
{
    struct action_pool *p = arg;
    uint64_t n;
    ssize_t r = read(fd, &n, sizeof n);
    (void)r;
    pthread_mutex_lock(&p->mu);
    struct action_call *calls = p->calls;
    struct action_job *done = p->done;
    p->calls = NULL;
    p->calls_tail = &p->calls;
    p->done = NULL;
    p->done_tail = &p->done;
    pthread_mutex_unlock(&p->mu);
    while (calls) {
        struct action_call *c = calls;
        calls = c->next;
        c->next = NULL;
        run_call(p, c);
    }
    while (done) {
        struct action_job *job = done;
        done = job->next;
        finish_job(p, job);
    }
}

void action_pool_flush(struct action_pool *p, int batch_failed)
{
    if (!p || !p->awaiting)
        return;
    pthread_mutex_lock(&p->mu);
    while (p->awaiting) {
        struct action_call *c = p->awaiting;
        p->awaiting = c->next;
        if (batch_failed)
            set_error(c->res, JS_ERR_INTERNAL, "StoreError",
                      "the storage failed to commit this call's transaction; nothing it did "
                      "remains; retry");
        answer_call(p, c);
    }
    pthread_mutex_unlock(&p->mu);
}

int action_pool_submit(struct action_pool *p, const struct js_function *fn, const char *args,
                       size_t len, action_done_fn done, void *arg)
{
    if (atomic_load(&p->stopping))
        return -ESHUTDOWN;
    if (p->pending >= p->opts.max_pending) {
        p->rejected++;
        return -EAGAIN;
    }
    struct action_job *job = vr_calloc(1, sizeof *job);
    job->path = vr_strdup(fn->path);
    job->args = vr_strndup(args, len);
    job->len = len;
    job->done = done;
    job->arg = arg;
    js_result_init(&job->res);
    p->pending++;
    pthread_mutex_lock(&p->mu);
    *p->queue_tail = job;
    p->queue_tail = &job->next;
    pthread_cond_signal(&p->work);
    pthread_mutex_unlock(&p->mu);
    return 0;
}

unsigned action_pool_pending(const struct action_pool *p)
{
    return p->pending;
}

uint64_t action_pool_rejected(const struct action_pool *p)
{
    return p->rejected;
}

void action_pool_load(struct action_pool *p, const char *bundle, size_t len, const char *name,
                      const char *env_json)
{
    struct action_bundle *b = vr_calloc(1, sizeof *b);
    b->refs = 1;
    b->env = env_json ? vr_strdup(env_json) : NULL;
    b->text = vr_memdup(bundle, len);
    b->len = len;
    b->name = vr_strdup(name ? name : "bundle.js");
    pthread_mutex_lock(&p->mu);
    b->gen = ++p->gen;
    bundle_unref(p->bundle);
    p->bundle = b;
    pthread_cond_broadcast(&p->work);
    pthread_mutex_unlock(&p->mu);
}

void action_pool_stop(struct action_pool *p)
{
    if (!p || atomic_exchange(&p->stopping, 1))
        return;
    pthread_mutex_lock(&p->mu);
    struct action_job *queued = p->queue;
    p->queue = NULL;
    p->queue_tail = &p->queue;
    pthread_cond_broadcast(&p->work);
    pthread_mutex_unlock(&p->mu);
    while (queued) {
        struct action_job *job = queued;
        queued = job->next;
        set_error(&job->res, JS_ERR_INTERNAL, "ServerShuttingDown",
                  "the server is shutting down; the action did not run");
        finish_job(p, job);
    }
    if (p->pending)
        log_info("actions", "stopping %u running action(s)", p->pending);
}

struct action_pool *action_pool_new(struct loop *loop, struct shard *shard,
                                    const struct action_pool_options *opts)
{
    struct action_pool *p = vr_calloc(1, sizeof *p);
    p->loop = loop;
    p->shard = shard;
    p->js_opts = shard->js_opts;
    p->opts.threads = opts && opts->threads ? opts->threads : 2;
    p->opts.max_pending = opts && opts->max_pending ? opts->max_pending : 1000;
    p->queue_tail = &p->queue;
    p->done_tail = &p->done;
    p->calls_tail = &p->calls;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->work, NULL);
    pthread_cond_init(&p->exited, NULL);
    p->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (p->efd < 0 || loop_add_fd(loop, p->efd, EPOLLIN, on_wake, p) < 0) {
        log_error("actions", "cannot create the action pool's eventfd: %s", strerror(errno));
        abort(); /* like running out of memory */
    }
    p->workers = vr_calloc(p->opts.threads, sizeof *p->workers);
    for (unsigned i = 0; i < p->opts.threads; i++) {
        struct action_worker *w = &p->workers[i];
        w->pool = p;
        w->index = i;
        pthread_cond_init(&w->reply, NULL);
        /* JavaScriptCore wants room: the default 8 MiB main-thread stack */
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setstacksize(&attr, 8u << 20);
        int rc = pthread_create(&w->thread, &attr, worker_main, w);
        pthread_attr_destroy(&attr);
        if (rc) {
            log_error("actions", "cannot start action worker %u: %s", i, strerror(rc));
            break;
        }
        w->started = 1;
        p->nworkers++;
    }
    shard->actions = p;
    return p;
}

int action_pool_free(struct action_pool *p)
{
    if (!p)
        return 0;
    action_pool_stop(p);
    /* nested calls that ran in the open batch are answered only once it is committed (or
     * failed): a nested mutation must never be told it succeeded and then be lost */
    struct buf err = BUF_INIT(4096);
    int lost = shard_commit(p->shard, &err) < 0;
    buf_release(&err);
    action_pool_flush(p, lost);
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += JOIN_WAIT_MS / 1000;
    int all_exited = 0;
    for (;;) {
        /* answer whatever the workers still ask for, so that none waits forever (nothing runs
         * now, so nothing joins `awaiting`) */
        pthread_mutex_lock(&p->mu);
        assert(!p->awaiting);
        while (p->calls) {
            struct action_call *c = p->calls;
            p->calls = c->next;
            set_error(c->res, JS_ERR_INTERNAL, "ServerShuttingDown", "the server is shutting down");
            answer_call(p, c);
        }
        p->calls_tail = &p->calls;
        struct action_job *done = p->done;
        p->done = NULL;
        p->done_tail = &p->done;
        unsigned exited = 0;
        for (unsigned i = 0; i < p->nworkers; i++)
            exited += p->workers[i].exited;
        all_exited = exited == p->nworkers;
        int timed_out = 0;
        if (!all_exited && !done) {
            struct timespec t;
            clock_gettime(CLOCK_REALTIME, &t);
            t.tv_nsec += 50 * 1000000L;
            if (t.tv_nsec >= 1000000000L)
                t.tv_sec++, t.tv_nsec -= 1000000000L;
            pthread_cond_timedwait(&p->exited, &p->mu, &t);
            timed_out = t.tv_sec > deadline.tv_sec ||
                        (t.tv_sec == deadline.tv_sec && t.tv_nsec >= deadline.tv_nsec);
        }
        pthread_mutex_unlock(&p->mu);
        while (done) {
            struct action_job *job = done;
            done = job->next;
            finish_job(p, job);
        }
        if (all_exited || timed_out)
            break;
    }
    loop_del_fd(p->loop, p->efd);
    p->shard->actions = NULL;
    if (!all_exited) {
        /* a worker is stuck in native code: leave it (and the pool it uses) to process exit */
        log_warn("actions", "an action worker did not stop within %d ms; leaving it", JOIN_WAIT_MS);
        return lost ? -1 : 0;
    }
    for (unsigned i = 0; i < p->nworkers; i++) {
        pthread_join(p->workers[i].thread, NULL);
        pthread_cond_destroy(&p->workers[i].reply);
    }
    close(p->efd);
    bundle_unref(p->bundle);
    pthread_cond_destroy(&p->work);
    pthread_cond_destroy(&p->exited);
    pthread_mutex_destroy(&p->mu);
    vr_free(p->workers);
    vr_free(p);
    return lost ? -1 : 0;
}
