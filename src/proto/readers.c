/* readers: query reader threads. Each reader blocks on the pool's condition variable, takes the
 * next query from `queue`, runs it on its own runtime and read-only store, formats the answer
 * and appends the job to `done`, then writes the loop's eventfd; the loop thread sends the
 * bytes. Jobs and bundles move between threads only under `mu`; the loop thread holds it only
 * for short list operations. A new bundle (a deploy, a reload after an env change) bumps `gen`;
 * a reader loads it before it takes its next query, so a query submitted after a load returned
 * runs the new version. */
#include "proto/readers.h"
#include "proto/worker_bundle.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "base/log.h"
#include "base/mem.h"
#include "store/store.h"
#include "base/banned.h"

#define READER_STACK (8u << 20) /* JavaScriptCore's recursion needs more than the default */

struct reader_job {
    struct reader_job *next;
    char *path;
    char *args;
    json_t *root;
    const json_t *args_value;
    char *identity;
    reader_format_fn format;
    reader_done_fn done;
    void *arg;
    int status; /* written by the reader, read by the loop thread after it */
    int ok;
    struct buf body;
};

struct reader {
    struct reader_pool *p;
    pthread_t thread;
    int started;
    /* reader thread only */
    struct store *st;
    struct js_runtime *rt;
    uint64_t gen;       /* bundle generation loaded (or failed to load) */
    struct buf why;     /* why rt is NULL */
};

struct reader_pool {
    struct loop *loop;
    char *db_path;
    struct js_options js;
    unsigned max_queued;
    int efd;
    atomic_int closing;  /* shutdown began: no new queries (those taken still run and answer) */
    atomic_int stopping; /* the readers exit; a running query stops at its next watchdog tick */

    pthread_mutex_t mu;
    pthread_cond_t cv;                       /* a job, a bundle or the stop */
    struct reader_job *queue, **queue_tail;  /* waiting for a reader */
    struct reader_job *done, **done_tail;    /* answered, for the loop thread */
    struct worker_bundle *bundle;
    uint64_t gen;
    atomic_uint ready; /* readers with gen's runtime loaded (reset by a load; under mu) */

    /* loop thread only */
    unsigned pending;
    uint64_t answered;
    struct reader *readers;
    unsigned n;
};


static void job_free(struct reader_job *j)
{
    vr_free(j->path);
    free(j->args);
    json_decref(j->root);
    vr_free(j->identity);
    buf_release(&j->body);
    vr_free(j);
}

static int stop_check(void *arg)
{
    return atomic_load(&((struct reader_pool *)arg)->stopping);
}

static void fail(struct js_result *r, const char *code, const char *msg)
{
    js_result_reset(r);
    r->status = JS_ERR_INTERNAL;
    buf_append_str(&r->error, msg);
    buf_append_str(&r->error_code, code);
}

/* Loads a bundle into a new runtime (reader thread). A failure leaves no runtime: the queries
 * are answered InternalError until a version loads (never with the older version). */
static void reader_load(struct reader *r, const struct worker_bundle *b)
{
    struct reader_pool *p = r->p;
    if (r->rt)
        js_runtime_free(r->rt);
    r->rt = NULL;
    buf_reset(&r->why);
    if (!r->st) {
        buf_append_str(&r->why, "its database connection failed to open");
        return;
    }
    struct js_options o = p->js;
    o.env_json = b->env;
    struct buf err = BUF_INIT(64 * 1024);
    if (js_runtime_new(r->st, &o, b->text, b->len, b->name, &r->rt, &err) < 0) {
        log_error("readers", "a query reader failed to load the app: %s", err.data);
        buf_appendf(&r->why, "it failed to load the app: %s", err.data);
    } else {
        js_runtime_set_stop_check(r->rt, stop_check, p);
    }
    buf_release(&err);
}

static void reader_run(struct reader *r, struct reader_job *j)
{
    struct js_result res;
    js_result_init(&res);
    int found = 1, ok = 0;
    const struct js_function *fn = r->rt ? js_runtime_find(r->rt, j->path) : NULL;
    struct buf err = BUF_INIT(4096);
    if (!r->rt) {
        buf_appendf(&err, "this query's reader thread cannot run it: %s", r->why.data);
        fail(&res, "InternalError", err.data);
    } else if (!fn || fn->kind != JS_QUERY) {
        found = 0; /* a deploy since the loop thread found it removed it */
    } else {
        struct js_call_opts opts = { .args_value = j->args_value, .identity = j->identity };
        ok = js_call_ex(r->rt, fn, j->args, strlen(j->args), &opts, &res) == 0;
    }
    buf_release(&err);
    j->status = j->format(j->arg, found, found ? &res : NULL, &j->body);
    j->ok = ok;
    js_result_release(&res);
    /* what the query read is released here, on the thread that used it */
    free(j->args);
    j->args = NULL;
    json_decref(j->root);
    j->root = NULL;
}

static void *reader_main(void *arg)
{
    struct reader *r = arg;
    struct reader_pool *p = r->p;
    struct buf err = BUF_INIT(4096);
    if (store_open_reader(p->db_path, &r->st, &err) < 0)
        log_error("readers", "a query reader cannot open %s: %s", p->db_path, err.data);
    buf_release(&err);
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (!atomic_load(&p->stopping) && !p->queue && p->gen == r->gen)
            pthread_cond_wait(&p->cv, &p->mu);
        if (atomic_load(&p->stopping))
            break;
        if (p->gen != r->gen) {
            struct worker_bundle *b = p->bundle;
            b->refs++;
            r->gen = p->gen;
            pthread_mutex_unlock(&p->mu);
            reader_load(r, b);
            pthread_mutex_lock(&p->mu);
            worker_bundle_unref(b);
            if (r->gen == p->gen && r->rt) /* not overtaken by a newer one meanwhile */
                atomic_fetch_add(&p->ready, 1);
            continue;
        }
        struct reader_job *j = p->queue;
        p->queue = j->next;
        if (!p->queue)
            p->queue_tail = &p->queue;
        pthread_mutex_unlock(&p->mu);
        reader_run(r, j);
        pthread_mutex_lock(&p->mu);
        j->next = NULL;
        int first = !p->done; /* else the loop is already woken for the list */
        *p->done_tail = j;
        p->done_tail = &j->next;
        if (first) {
            uint64_t one = 1;
            ssize_t n = write(p->efd, &one, sizeof one);
            (void)n; /* EAGAIN: the counter is already non-zero, the loop will wake */
        }
    }
    pthread_mutex_unlock(&p->mu);
    js_runtime_free(r->rt);
    r->rt = NULL;
    store_close(r->st);
    r->st = NULL;
    return NULL;
}

static void deliver(struct reader_pool *p, struct reader_job *j)
{
    p->pending--;
    p->answered++;
    j->done(j->arg, j->status, &j->body, j->ok);
    job_free(j);
}

static void drain_done(struct reader_pool *p)
{
    pthread_mutex_lock(&p->mu);
    struct reader_job *list = p->done;
    p->done = NULL;
    p->done_tail = &p->done;
    pthread_mutex_unlock(&p->mu);
    while (list) {
        struct reader_job *j = list;
        list = j->next;
        deliver(p, j);
    }
}

static void on_wake(struct loop *l, int fd, uint32_t events, void *arg)
{
    uint64_t v;
    ssize_t n = read(fd, &v, sizeof v);
    (void)n;
    drain_done(arg);
}

struct reader_pool *reader_pool_new(struct loop *loop, const char *db_path,
                                    const struct js_options *js,
                                    const struct reader_pool_options *opts, struct buf *err)
{
    if (!opts || !opts->threads)
        return NULL;
    struct reader_pool *p = vr_calloc(1, sizeof *p);
    p->loop = loop;
    p->db_path = vr_strdup(db_path);
    p->js = *js;
    p->js.env_json = NULL;
    p->max_queued = opts->max_queued ? opts->max_queued : 1000;
    p->queue_tail = &p->queue;
    p->done_tail = &p->done;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    p->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (p->efd < 0 || loop_add_fd(loop, p->efd, EPOLLIN, on_wake, p) < 0) {
        buf_appendf(err, "query readers: eventfd: %s", strerror(errno));
        if (p->efd >= 0)
            close(p->efd);
        p->efd = -1;
        reader_pool_free(p);
        return NULL;
    }
    p->readers = vr_calloc(opts->threads, sizeof *p->readers);
    p->n = opts->threads;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, READER_STACK);
    for (unsigned i = 0; i < p->n; i++) {
        struct reader *r = &p->readers[i];
        r->p = p;
        buf_init(&r->why, 4096);
        int e = pthread_create(&r->thread, &attr, reader_main, r);
        if (e) {
            buf_appendf(err, "query readers: cannot start a thread: %s", strerror(e));
            pthread_attr_destroy(&attr);
            reader_pool_free(p);
            return NULL;
        }
        r->started = 1;
    }
    pthread_attr_destroy(&attr);
    return p;
}

void reader_pool_load(struct reader_pool *p, const char *bundle, size_t len, const char *name,
                      const char *env_json)
{
    if (!p)
        return;
    struct worker_bundle *b = worker_bundle_new(bundle, len, name, env_json);
    pthread_mutex_lock(&p->mu);
    worker_bundle_unref(p->bundle);
    p->bundle = b;
    p->gen++;
    atomic_store(&p->ready, 0);
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
}

int reader_pool_ready(struct reader_pool *p)
{
    /* gen is written by the loop thread alone (reader_pool_load): read here without mu. The
     * first version (gen 1) is waited for; a later one is not */
    return p->gen <= 1 || atomic_load(&p->ready) > 0;
}

int reader_pool_submit(struct reader_pool *p, const char *path, char *args, json_t *root,
                       const json_t *args_value, const char *identity, reader_format_fn format,
                       reader_done_fn done, void *arg)
{
    if (atomic_load(&p->closing))
        return -ESHUTDOWN;
    if (p->pending >= p->max_queued)
        return -EAGAIN;
    struct reader_job *j = vr_calloc(1, sizeof *j);
    j->path = vr_strdup(path);
    j->args = args;
    j->root = root;
    j->args_value = args_value;
    j->identity = identity ? vr_strdup(identity) : NULL;
    j->format = format;
    j->done = done;
    j->arg = arg;
    buf_init(&j->body, BUF_NOLIMIT);
    p->pending++;
    pthread_mutex_lock(&p->mu);
    *p->queue_tail = j;
    p->queue_tail = &j->next;
    pthread_cond_signal(&p->cv);
    pthread_mutex_unlock(&p->mu);
    return 0;
}

unsigned reader_pool_pending(const struct reader_pool *p)
{
    return p ? p->pending : 0;
}

uint64_t reader_pool_done(const struct reader_pool *p)
{
    return p ? p->answered : 0;
}

void reader_pool_stop(struct reader_pool *p)
{
    if (p)
        atomic_store(&p->closing, 1);
}

/* Sets the readers' stop flag, answers the queries still queued ServerShuttingDown. */
static void readers_halt(struct reader_pool *p)
{
    atomic_store(&p->closing, 1);
    if (atomic_exchange(&p->stopping, 1))
        return;
    pthread_mutex_lock(&p->mu);
    struct reader_job *list = p->queue;
    p->queue = NULL;
    p->queue_tail = &p->queue;
    pthread_cond_broadcast(&p->cv);
    pthread_mutex_unlock(&p->mu);
    struct js_result res;
    js_result_init(&res);
    while (list) {
        struct reader_job *j = list;
        list = j->next;
        fail(&res, "ServerShuttingDown", "the server is shutting down");
        j->status = j->format(j->arg, 1, &res, &j->body);
        j->ok = 0;
        deliver(p, j);
    }
    js_result_release(&res);
}

void reader_pool_free(struct reader_pool *p)
{
    if (!p)
        return;
    readers_halt(p);
    for (unsigned i = 0; i < p->n; i++) {
        struct reader *r = &p->readers[i];
        if (r->started)
            pthread_join(r->thread, NULL); /* a running query stops at its next watchdog tick */
        buf_release(&r->why);
    }
    if (p->efd >= 0) {
        drain_done(p);
        loop_del_fd(p->loop, p->efd);
        close(p->efd);
    }
    worker_bundle_unref(p->bundle);
    pthread_cond_destroy(&p->cv);
    pthread_mutex_destroy(&p->mu);
    vr_free(p->readers);
    vr_free(p->db_path);
    vr_free(p);
}
