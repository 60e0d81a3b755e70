/* actions: worker threads that run actions in their own JavaScriptCore runtimes, talking to the
 * loop thread through one mutex-protected outbox and an eventfd. Each worker has its own event
 * loop (net/loop.c) with an eventfd of its own, a libcurl client (net/fetch.c) and its runtimes;
 * a runtime holds several suspended executions (js/exec.c). A ctx.runQuery / ctx.runMutation is
 * an action_call sent to the loop thread; its answer comes back on the worker's `answers` list
 * and eventfd and settles the action's promise. Jobs, calls and bundles move between threads
 * only under `mu`. Workers never block the loop: the loop thread only takes `mu` for short list
 * operations. A new app version gets a new runtime; the old one stays until its executions end. */
#include "proto/actions.h"

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "base/log.h"
#include "base/mem.h"
#include "net/fetch.h"
#include "proto/readers.h"
#include "proto/shard.h"
#include "proto/worker_bundle.h"
#include "base/banned.h"

#define JOIN_WAIT_MS 3000 /* how long action_pool_free waits for a busy worker */

struct action_job {
    struct action_job *next;
    char *path;
    char *args;
    size_t len;
    char *identity; /* the caller's identity JSON (js_call_opts.identity), or NULL */
    struct js_request_copy request; /* where the call came from */
    action_done_fn done;
    void *arg;
    struct action_worker *w; /* the worker running it */
    struct worker_rt *wr;    /* ... and its runtime */
    struct js_result res;    /* written by the worker, read by the loop thread after it */
    struct action_stream *stream; /* its streamed output (one reference), or NULL */
};

/* A job's streamed output (actions.h "streamed output"); fields under the pool's mu unless
 * marked. */
struct action_stream {
    struct action_pool *p;
    unsigned refs;           /* the job's, the consumer's, the ready list's */
    struct action_worker *w; /* the worker running the job, or NULL */
    struct action_stream_item *items, **items_tail;
    size_t queued;           /* chunk bytes queued or taken and not released */
    uint64_t total;          /* chunk bytes written in all */
    size_t max_queued;
    uint64_t max_total;
    int canceled;
    char *reason;
    int listed;                      /* on the pool's ready list */
    struct action_stream *next_ready;
    action_stream_fn ready;          /* loop thread only; NULL after the consumer's unref */
    void *ready_arg;
};

/* A ctx.runQuery / ctx.runMutation of a running action, owned by the worker's op record. */
struct action_call {
    struct action_call *next;
    struct action_worker *w;
    enum js_fn_kind kind;
    char *path;
    char *args;
    size_t len;
    char *identity;       /* the action's identity, passed on (js_op.identity), or NULL */
    struct js_request_copy request; /* the action's, passed on (js_op.request) */
    struct js_result res; /* the loop thread fills it */
    struct worker_op *op; /* NULL once the action stopped waiting (worker side only) */
};

/* One runtime of a worker: the current version's, or an older one still finishing actions. */
struct worker_rt {
    struct worker_rt *next;
    struct action_worker *w;
    struct js_runtime *rt;
    uint64_t gen;
    unsigned running; /* executions in it */
};

/* An operation an execution awaits (worker thread only). */
struct worker_op {
    struct worker_op *next;
    struct worker_rt *wr;
    struct js_exec *x;
    uint32_t token;
    enum js_op_type type;
    struct action_call *call; /* JS_OP_REMOTE */
    struct fetch_body *body;  /* JS_OP_FETCH, JS_OP_FETCH_BODY (NULL: closed, answered as such) */
    struct action_stream *stream; /* JS_OP_STREAM (the job holds the reference) */
    enum js_stream_kind skind;
};

struct action_worker {
    struct action_pool *pool;
    unsigned index;
    pthread_t thread;
    int started;
    int exited; /* under mu */
    int efd;
    struct action_call *answers; /* under mu: answered calls for this worker */

    /* worker thread only */
    struct loop *loop;
    struct fetch_client *fc;
    struct timer check; /* js_exec_check of its runtimes */
    struct worker_rt *rts; /* newest first */
    struct worker_op *ops;
    struct fetch_body *bodies; /* its executions' fetches, streamed */
    uint32_t next_body;
    unsigned running;   /* executions in its runtimes */
    uint64_t tried_gen; /* bundle generation last loaded (or failed to load) */
};

struct action_pool {
    struct loop *loop;
    struct shard *shard;
    struct action_pool_options opts;
    struct js_options js_opts;
    int efd;
    atomic_int stopping;
    atomic_uint fetches; /* in flight, all workers */

    pthread_mutex_t mu;
    pthread_cond_t exited;                   /* a worker exited */
    struct action_job *queue, **queue_tail;  /* waiting for a worker */
    struct action_job *done, **done_tail;    /* finished, for the loop thread */
    struct action_call *calls, **calls_tail; /* nested calls, for the loop thread */
    struct action_stream *streams;           /* with items for the loop thread */
    struct worker_bundle *bundle;
    uint64_t gen;

    /* loop thread only */
    unsigned pending;             /* submitted, not yet answered */
    uint64_t rejected;            /* refused past max_pending */
    int stop_deleting;            /* stopped for its tenant's delete (action_pool_stop_deleting) */
    struct action_call *awaiting; /* ran in the open batch; answered after it commits */
    struct action_worker *workers;
    unsigned nworkers;
};


static void wake_fd(int fd)
{
    uint64_t one = 1;
    ssize_t n = write(fd, &one, sizeof one);
    (void)n; /* EAGAIN: the counter is already non-zero, the reader will wake */
}

static void wake_loop(struct action_pool *p)
{
    wake_fd(p->efd);
}

static void set_error(struct js_result *r, enum js_status st, const char *code, const char *msg)
{
    buf_reset(&r->value);
    buf_reset(&r->error);
    buf_reset(&r->error_code);
    buf_reset(&r->error_data);
    buf_reset(&r->error_name);
    r->status = st;
    buf_append_str(&r->error, msg);
    buf_append_str(&r->error_code, code);
}

static void stream_unref_locked(struct action_stream *s) /* under mu */
{
    if (!s || --s->refs)
        return;
    while (s->items) {
        struct action_stream_item *it = s->items;
        s->items = it->next;
        vr_free(it);
    }
    vr_free(s->reason);
    vr_free(s);
}

static void call_free(struct action_call *c)
{
    js_result_release(&c->res);
    vr_free(c->path);
    vr_free(c->args);
    vr_free(c->identity);
    js_request_release(&c->request);
    vr_free(c);
}

/* --- worker threads --- */

static int should_stop(void *arg)
{
    struct action_pool *p = arg;
    return atomic_load(&p->stopping);
}

static void op_unlink(struct action_worker *w, struct worker_op *o)
{
    struct worker_op **pp = &w->ops;
    while (*pp && *pp != o)
        pp = &(*pp)->next;
    if (*pp)
        *pp = o->next;
}

/* ---- fetch: response bodies streamed to the action ----
 * An action's fetch is answered at its response's head, with a body id; JS_OP_FETCH_BODY reads
 * the body as it arrives (the prelude's ReadableStream pulls), so `for await (const chunk of
 * res.body)` sees an LLM's tokens as they come. At most FETCH_BODY_BUFFER unread bytes wait
 * here: past that the transfer pauses until the action reads. libcurl's callbacks only record
 * (body_head, body_data, body_done); the worker's step answers the operations (settle_bodies).
 * A body lives until it ends and is read, is closed, or its action ends. */
#define FETCH_BODY_BUFFER (1u << 20)

static char **header_lines(const char *json, size_t *n);

struct fetch_body {
    struct fetch_body *next;
    struct worker_rt *wr;
    void *job;               /* its action's (js_exec_arg): dropped when that ends */
    uint32_t id;
    uint64_t fetch_id;
    int running;             /* the transfer is in flight (counted in pool->fetches) */
    int paused;              /* body_data refused bytes: fetch_resume once read */
    int head, ended, failed; /* what arrived */
    struct worker_op *fetch; /* the fetch, until its head (or failure) is answered */
    struct worker_op *read;  /* a read waiting for bytes or the end */
    struct buf q;            /* arrived, not yet read */
    char status[16];
    char *status_text, *headers, *url;
    int redirected;
    char *err_msg, *err_code;
};

static void body_head(void *arg, const struct fetch_resp *r)
{
    struct fetch_body *b = arg;
    snprintf(b->status, sizeof b->status, "%ld", r->status);
    b->status_text = vr_strdup(r->status_text);
    b->headers = vr_strdup(r->headers_json);
    b->url = vr_strdup(r->url);
    b->redirected = r->redirected;
    b->head = 1;
}

static int body_data(void *arg, const char *p, size_t len)
{
    struct fetch_body *b = arg;
    if (b->q.len >= FETCH_BODY_BUFFER || buf_append(&b->q, p, len) < 0) {
        b->paused = 1;
        return 1;
    }
    return 0;
}

static void body_done(void *arg, const struct fetch_resp *r)
{
    struct fetch_body *b = arg;
    struct action_worker *w = b->wr->w;
    b->running = 0;
    atomic_fetch_sub(&w->pool->fetches, 1);
    if (r->ok) {
        b->ended = 1;
    } else {
        b->failed = 1;
        b->err_msg = vr_strdup(r->err_msg);
        b->err_code = vr_strdup(r->err_code);
    }
}

/* Drops b: its transfer stops; an operation still waiting on it is answered as closed. */
static void body_free(struct action_worker *w, struct fetch_body *b)
{
    struct fetch_body **pp = &w->bodies;
    while (*pp && *pp != b)
        pp = &(*pp)->next;
    if (*pp)
        *pp = b->next;
    if (b->running) {
        fetch_cancel(w->fc, b->fetch_id);
        atomic_fetch_sub(&w->pool->fetches, 1);
    }
    if (b->fetch)
        b->fetch->body = NULL;
    if (b->read)
        b->read->body = NULL;
    buf_release(&b->q);
    vr_free(b->status_text);
    vr_free(b->headers);
    vr_free(b->url);
    vr_free(b->err_msg);
    vr_free(b->err_code);
    vr_free(b);
}

static struct fetch_body *body_find(struct action_worker *w, uint32_t id)
{
    struct fetch_body *b = w->bodies;
    while (b && b->id != id)
        b = b->next;
    return b;
}

/* Answers one operation that can be answered; 0 when none could. The answer runs JavaScript,
 * which may start or drop operations and bodies: the caller looks again from the start. */
static int settle_one_body_op(struct action_worker *w)
{
    for (struct worker_op *o = w->ops; o; o = o->next) {
        if ((o->type == JS_OP_FETCH || o->type == JS_OP_FETCH_BODY) && !o->body) {
            op_unlink(w, o); /* its body was closed: a read ends, a close is done */
            js_exec_settle(o->wr->rt, o->x, o->token, 1, NULL, 0, NULL, 0);
            vr_free(o);
            return 1;
        }
    }
    for (struct fetch_body *b = w->bodies; b; b = b->next) {
        struct worker_op *o = b->fetch ? b->fetch : b->read;
        if (!o)
            continue;
        if (o == b->fetch && b->head) {
            char id[16];
            snprintf(id, sizeof id, "%" PRIu32, b->id);
            const char *strs[6] = { b->status, b->status_text, b->headers, b->url,
                                    b->redirected ? "1" : "0", id };
            b->fetch = NULL;
            op_unlink(w, o);
            js_exec_settle(o->wr->rt, o->x, o->token, 1, strs, 6, NULL, 0);
        } else if (b->q.len && o == b->read) {
            struct buf chunk = b->q;
            b->q = (struct buf)BUF_INIT(BUF_NOLIMIT);
            b->read = NULL;
            op_unlink(w, o);
            if (b->paused && b->running) {
                b->paused = 0;
                fetch_resume(w->fc, b->fetch_id); /* may record bytes into b->q at once */
            }
            js_exec_settle(o->wr->rt, o->x, o->token, 1, NULL, 0, chunk.data, chunk.len);
            buf_release(&chunk);
        } else if (b->failed) {
            const char *strs[2] = { b->err_msg, b->err_code };
            if (o == b->fetch)
                b->fetch = NULL;
            else
                b->read = NULL;
            op_unlink(w, o);
            js_exec_settle(o->wr->rt, o->x, o->token, 0, strs, 2, NULL, 0);
            /* the strings went into JS before it ran; b may be gone now */
        } else if (b->ended && o == b->read) {
            b->read = NULL;
            op_unlink(w, o);
            js_exec_settle(o->wr->rt, o->x, o->token, 1, NULL, 0, NULL, 0);
        } else {
            continue;
        }
        vr_free(o);
        return 1;
    }
    return 0;
}

static void settle_bodies(struct action_worker *w)
{
    while (settle_one_body_op(w))
        ;
}

/* Its action ended: what it did not read is dropped. */
static void drop_bodies_of(struct action_worker *w, void *job)
{
    struct fetch_body *b = w->bodies;
    while (b) {
        struct fetch_body *next = b->next;
        if (b->job == job)
            body_free(w, b);
        b = next;
    }
}

/* JS_OP_FETCH_BODY: a read of body_id (answered by settle_bodies), or its close. */
static int body_op(struct action_worker *w, struct worker_op *o, const struct js_op *op,
                   struct buf *err)
{
    struct fetch_body *b = body_find(w, op->body_id);
    if (b && op->body_close) {
        body_free(w, b); /* a read still waiting is answered as closed */
        b = NULL;
    } else if (b && (b->read || b->fetch)) {
        buf_append_str(err, "ERR_FETCH|the response body is already being read");
        return -1;
    } else if (b) {
        b->read = o;
    }
    o->body = b; /* NULL: answered as closed by settle_bodies */
    if (!b || b->q.len || b->ended || b->failed)
        wake_fd(w->efd); /* answerable now: the worker's step must run again */
    return 0;
}

/* JS_OP_FETCH: the request goes to the worker's curl client, its body streamed. */
static int fetch_op(struct action_worker *w, struct worker_op *o, struct js_exec *x,
                    const struct js_op *op, struct buf *err)
{
    struct action_pool *p = w->pool;
    unsigned limit = p->opts.max_fetches;
    if (atomic_fetch_add(&p->fetches, 1) >= limit) {
        atomic_fetch_sub(&p->fetches, 1);
        buf_appendf(err, "ERR_FETCH_TOO_MANY|too many fetches in flight (at most %u, the "
                    "server's --max-concurrent-fetches)", limit);
        return -1;
    }
    size_t nh = 0;
    char **lines = header_lines(op->headers, &nh);
    struct fetch_req r = {
        .method = op->method, .url = op->url, .headers = (const char *const *)lines,
        .nheaders = nh, .body = op->body, .body_len = op->body_len,
        .redirect = op->redirect,
        .timeout_ms = op->timeout_ms ? op->timeout_ms : p->opts.fetch_timeout_ms,
        .max_response = p->opts.fetch_max_response };
    struct fetch_body *b = vr_calloc(1, sizeof *b);
    b->wr = o->wr;
    b->job = js_exec_arg(x);
    b->q = (struct buf)BUF_INIT(BUF_NOLIMIT);
    struct buf ferr = BUF_INIT(1024);
    int rc = w->fc ? fetch_start_stream(w->fc, &r, body_head, body_data, body_done, b,
                                        &b->fetch_id, &ferr)
                   : -1;
    for (size_t i = 0; i < nh; i++)
        vr_free(lines[i]);
    vr_free(lines);
    if (rc < 0) {
        atomic_fetch_sub(&p->fetches, 1);
        buf_appendf(err, "ERR_FETCH|%s", ferr.data[0] ? ferr.data : "cannot start the request");
        buf_release(&ferr);
        vr_free(b);
        return -1;
    }
    buf_release(&ferr);
    do
        b->id = ++w->next_body;
    while (!b->id || body_find(w, b->id));
    b->running = 1;
    b->fetch = o;
    b->next = w->bodies;
    w->bodies = b;
    o->body = b;
    return 0;
}

/* "Name: value" lines from the JSON [[name, value], ...] the prelude sends. */
static char **header_lines(const char *json, size_t *n)
{
    json_t *a = json_loads(json, 0, NULL);
    *n = 0;
    if (!json_is_array(a)) {
        json_decref(a);
        return NULL;
    }
    char **lines = vr_calloc(json_array_size(a) + 1, sizeof *lines);
    size_t i;
    json_t *pair;
    json_array_foreach(a, i, pair) {
        const char *k = json_string_value(json_array_get(pair, 0));
        const char *v = json_string_value(json_array_get(pair, 1));
        if (!k || !v)
            continue;
        size_t len = strlen(k) + strlen(v) + 3;
        lines[*n] = vr_malloc(len);
        snprintf(lines[*n], len, "%s: %s", k, v);
        (*n)++;
    }
    json_decref(a);
    return lines;
}

/* A JS_OP_STREAM of execution x: its item goes on the job's stream for the loop thread; the
 * operation is answered by settle_streams. 0, or -1 with "CODE|message" in err. */
static int stream_op(struct action_worker *w, struct worker_op *o, struct js_exec *x,
                     const struct js_op *op, struct buf *err)
{
    struct action_pool *p = w->pool;
    struct action_job *job = js_exec_arg(x);
    struct action_stream *s = job ? job->stream : NULL;
    if (!s) {
        buf_append_str(err, "InternalError|this action has no streamed response");
        return -1;
    }
    struct action_stream_item *it = NULL;
    if (op->stream_kind != JS_STREAM_WATCH) {
        it = vr_malloc(sizeof *it + op->body_len + 1);
        it->next = NULL;
        it->head = op->stream_kind == JS_STREAM_HEAD;
        it->len = op->body_len;
        if (op->body_len)
            memcpy(it->data, op->body, op->body_len);
        it->data[op->body_len] = '\0';
    }
    int refused = 0;
    pthread_mutex_lock(&p->mu);
    if (s->canceled) {
        buf_appendf(err, "ClientDisconnected|%s", s->reason);
        refused = 1;
    } else if (it && !it->head && s->total + it->len > s->max_total) {
        buf_appendf(err, "ResponseTooLarge|the HTTP action's streamed response is larger than "
                    "the limit of %" PRIu64 " bytes (--max-http-action-response)", s->max_total);
        refused = 1;
    } else if (it) {
        *s->items_tail = it;
        s->items_tail = &it->next;
        if (!it->head) {
            s->queued += it->len;
            s->total += it->len;
        }
        if (!s->listed) {
            s->listed = 1;
            s->refs++;
            s->next_ready = p->streams;
            p->streams = s;
        }
    }
    pthread_mutex_unlock(&p->mu);
    if (refused) {
        vr_free(it);
        return -1;
    }
    if (it)
        wake_loop(p);
    o->stream = s;
    o->skind = op->stream_kind;
    wake_fd(w->efd); /* worker_step answers it once there is room */
    return 0;
}

/* Answers the stream operations that can be answered: a head or chunk once the stream's queued
 * bytes are within its bound, every one once the consumer cancelled (a watch resolves with the
 * reason, the others fail with it). */
static void settle_streams(struct action_worker *w)
{
    struct action_pool *p = w->pool;
    for (;;) {
        struct worker_op *o;
        int ok = 0;
        char *reason = NULL;
        pthread_mutex_lock(&p->mu);
        for (o = w->ops; o; o = o->next) {
            if (o->type != JS_OP_STREAM)
                continue;
            struct action_stream *s = o->stream;
            if (s->canceled) {
                reason = vr_strdup(s->reason);
                ok = o->skind == JS_STREAM_WATCH;
                break;
            }
            if (o->skind != JS_STREAM_WATCH && s->queued <= s->max_queued) {
                ok = 1;
                break;
            }
        }
        pthread_mutex_unlock(&p->mu);
        if (!o)
            return;
        op_unlink(w, o);
        const char *strs[2] = { reason ? reason : "", "ClientDisconnected" };
        js_exec_settle(o->wr->rt, o->x, o->token, ok, strs, 2, NULL, 0);
        vr_free(reason);
        vr_free(o);
    }
}

/* js_host.op: a nested call goes to the loop thread, a fetch to the worker's curl client. */
static int host_op(void *arg, struct js_exec *x, uint32_t token, const struct js_op *op,
                   struct buf *err)
{
    struct worker_rt *wr = arg;
    struct action_worker *w = wr->w;
    struct action_pool *p = w->pool;
    if (atomic_load(&p->stopping)) {
        buf_append_str(err, "the server is shutting down");
        return -1;
    }
    struct worker_op *o = vr_calloc(1, sizeof *o);
    o->wr = wr;
    o->x = x;
    o->token = token;
    o->type = op->type;
    if (op->type == JS_OP_REMOTE) {
        struct action_call *c = vr_calloc(1, sizeof *c);
        c->w = w;
        c->kind = op->kind;
        c->path = vr_strdup(op->path);
        c->args = vr_strndup(op->args, op->len);
        c->identity = op->identity ? vr_strdup(op->identity) : NULL;
        js_request_copy(&c->request, op->request);
        c->len = op->len;
        c->op = o;
        js_result_init(&c->res);
        o->call = c;
        pthread_mutex_lock(&p->mu);
        *p->calls_tail = c;
        p->calls_tail = &c->next;
        pthread_mutex_unlock(&p->mu);
        wake_loop(p);
    } else if (op->type == JS_OP_STREAM) {
        if (stream_op(w, o, x, op, err) < 0) {
            vr_free(o);
            return -1;
        }
    } else if (op->type == JS_OP_FETCH_BODY) {
        if (body_op(w, o, op, err) < 0) {
            vr_free(o);
            return -1;
        }
    } else if (fetch_op(w, o, x, op, err) < 0) {
        vr_free(o);
        return -1;
    }
    o->next = w->ops;
    w->ops = o;
    return 0;
}

static void host_cancel(void *arg, uint32_t token)
{
    struct worker_rt *wr = arg;
    struct action_worker *w = wr->w;
    for (struct worker_op *o = w->ops; o; o = o->next) {
        if (o->wr != wr || o->token != token)
            continue;
        op_unlink(w, o);
        if (o->type == JS_OP_REMOTE) {
            o->call->op = NULL; /* its answer is dropped when it comes */
        } else if (o->type == JS_OP_FETCH && o->body) {
            body_free(w, o->body); /* aborted before its head: the transfer stops */
        } else if (o->type == JS_OP_FETCH_BODY && o->body) {
            o->body->read = NULL;
        }
        vr_free(o);
        return;
    }
}

static const struct js_host worker_host = { host_op, host_cancel };

static void wr_free(struct action_worker *w, struct worker_rt *wr)
{
    struct worker_rt **pp = &w->rts;
    while (*pp && *pp != wr)
        pp = &(*pp)->next;
    if (*pp)
        *pp = wr->next;
    js_runtime_free(wr->rt);
    vr_free(wr);
}

/* Loads bundle b into a new runtime of w (the current one from now on). */
static struct worker_rt *worker_load(struct action_worker *w, struct worker_bundle *b,
                                     struct buf *err)
{
    struct js_options opts = w->pool->js_opts;
    opts.env_json = b->env;
    struct js_runtime *rt = NULL;
    w->tried_gen = b->gen;
    if (js_runtime_new(NULL, &opts, b->text, b->len, b->name, &rt, err) < 0)
        return NULL;
    struct worker_rt *wr = vr_calloc(1, sizeof *wr);
    wr->w = w;
    wr->rt = rt;
    wr->gen = b->gen;
    js_runtime_set_host(rt, &worker_host, wr);
    js_runtime_set_stop_check(rt, should_stop, w->pool);
    /* older runtimes with nothing running go now */
    for (struct worker_rt *o = w->rts, *next; o; o = next) {
        next = o->next;
        if (!o->running)
            wr_free(w, o);
    }
    wr->next = w->rts;
    w->rts = wr;
    return wr;
}

static void job_done(void *arg, const struct js_result *res)
{
    (void)res; /* it is job->res */
    struct action_job *job = arg;
    struct action_worker *w = job->w;
    struct action_pool *p = w->pool;
    drop_bodies_of(w, job);
    w->running--;
    job->wr->running--;
    if (!job->wr->running && job->wr != w->rts)
        wr_free(w, job->wr); /* an old version's last action */
    pthread_mutex_lock(&p->mu);
    *p->done_tail = job;
    p->done_tail = &job->next;
    pthread_mutex_unlock(&p->mu);
    wake_loop(p);
}

static void job_fail(struct action_job *job, const char *code, const char *msg)
{
    struct action_pool *p = job->w->pool;
    set_error(&job->res, code[0] == 'F' ? JS_ERR_THROWN : JS_ERR_INTERNAL, code, msg);
    pthread_mutex_lock(&p->mu);
    *p->done_tail = job;
    p->done_tail = &job->next;
    pthread_mutex_unlock(&p->mu);
    wake_loop(p);
}

static void run_job(struct action_worker *w, struct action_job *job, struct worker_bundle *b)
{
    struct buf err = BUF_INIT(64 * 1024);
    char msg[600];
    job->w = w;
    if (!b) {
        job_fail(job, "NoAppLoaded", "no app is loaded");
        goto out;
    }
    struct worker_rt *wr = w->rts;
    if (!wr || wr->gen != b->gen) {
        if (w->tried_gen == b->gen && (!wr || wr->gen != b->gen)) {
            snprintf(msg, sizeof msg, "the app does not load on the action worker");
            job_fail(job, "InternalError", msg);
            goto out;
        }
        wr = worker_load(w, b, &err);
        if (!wr) {
            log_error("actions", "worker %u cannot load the app: %s", w->index, err.data);
            snprintf(msg, sizeof msg, "the app does not load on the action worker: %.500s",
                     err.data);
            job_fail(job, "InternalError", msg);
            goto out;
        }
    }
    const struct js_function *fn = js_runtime_find(wr->rt, job->path);
    if (!fn || fn->kind != JS_ACTION) {
        snprintf(msg, sizeof msg, "could not find action `%.400s` (the app was reloaded)",
                 job->path);
        job_fail(job, "FunctionNotFound", msg);
        goto out;
    }
    job->wr = wr;
    if (job->stream) {
        pthread_mutex_lock(&w->pool->mu);
        job->stream->w = w;
        pthread_mutex_unlock(&w->pool->mu);
    }
    wr->running++;
    w->running++;
    js_exec_start(wr->rt, fn, job->args, job->len, job->identity, &job->request.r, &job->res,
                  job_done, job);
out:
    buf_release(&err);
}

/* Answers from the loop thread settle the promises that await them. */
static void take_answers(struct action_worker *w)
{
    struct action_pool *p = w->pool;
    pthread_mutex_lock(&p->mu);
    struct action_call *c = w->answers;
    w->answers = NULL;
    pthread_mutex_unlock(&p->mu);
    while (c) {
        struct action_call *next = c->next;
        struct worker_op *o = c->op;
        if (o) {
            op_unlink(w, o);
            struct js_result *r = &c->res, *mine = js_exec_res(o->x);
            size_t off = 0; /* the nested call's console lines are the action's too */
            for (uint32_t i = 0; i < r->log_count && off + sizeof(uint32_t) <= r->log_lines.len;
                 i++) {
                uint32_t len;
                memcpy(&len, r->log_lines.data + off, sizeof len);
                off += sizeof len;
                js_result_add_log(mine, r->log_lines.data + off, len);
                off += len;
            }
            if (r->status == JS_OK) {
                const char *strs[1] = { r->value.data ? r->value.data : "null" };
                js_exec_settle(o->wr->rt, o->x, o->token, 1, strs, 1, NULL, 0);
            } else {
                const char *strs[3] = { r->error.data, r->error_code.data, r->error_data.data };
                js_exec_settle(o->wr->rt, o->x, o->token, 0, strs, 3, NULL, 0);
            }
            vr_free(o);
        }
        call_free(c);
        c = next;
    }
}

/* The worker's step, before it sleeps: answers, new jobs while it has room, a newer app,
 * timers and wall limits, shutdown. */
static void worker_step(struct loop *l, void *arg)
{
    struct action_worker *w = arg;
    struct action_pool *p = w->pool;
    take_answers(w);
    settle_streams(w);
    settle_bodies(w);
    if (atomic_load(&p->stopping)) {
        for (struct worker_rt *wr = w->rts; wr; wr = wr->next)
            js_exec_stop_all(wr->rt);
        loop_stop(l);
        return;
    }
    for (;;) {
        pthread_mutex_lock(&p->mu);
        struct worker_bundle *b = p->bundle;
        if (b)
            b->refs++;
        struct action_job *job = NULL;
        if (w->running < p->opts.per_worker && p->queue) {
            job = p->queue;
            p->queue = job->next;
            if (!p->queue)
                p->queue_tail = &p->queue;
            job->next = NULL;
        }
        pthread_mutex_unlock(&p->mu);
        if (job) {
            run_job(w, job, b);
        } else if (b && w->tried_gen != b->gen) {
            /* a new version arrived: load it now, not on the next call */
            struct buf err = BUF_INIT(64 * 1024);
            if (!worker_load(w, b, &err))
                log_error("actions", "worker %u cannot load the app: %s", w->index, err.data);
            buf_release(&err);
        }
        pthread_mutex_lock(&p->mu);
        worker_bundle_unref(b);
        pthread_mutex_unlock(&p->mu);
        if (!job)
            break;
    }
    int64_t wait = -1;
    for (struct worker_rt *wr = w->rts; wr; wr = wr->next) {
        int64_t t = js_exec_check(wr->rt);
        if (t >= 0 && (wait < 0 || t < wait))
            wait = t;
    }
    if (wait >= 0)
        loop_timer_start(l, &w->check, (uint64_t)wait);
    else
        loop_timer_stop(l, &w->check);
}

static void on_worker_wake(struct loop *l, int fd, uint32_t events, void *arg)
{
    (void)l;
    (void)events;
    (void)arg;
    uint64_t n;
    ssize_t r = read(fd, &n, sizeof n);
    (void)r; /* the step before sleeping does the work */
}

static void on_check(struct loop *l, struct timer *t)
{
    (void)l;
    (void)t; /* the step before sleeping runs the checks */
}

static void *worker_main(void *arg)
{
    struct action_worker *w = arg;
    struct action_pool *p = w->pool;
    w->loop = loop_new();
    if (!w->loop || loop_add_fd(w->loop, w->efd, EPOLLIN, on_worker_wake, w) < 0) {
        log_error("actions", "worker %u cannot start its event loop", w->index);
        abort(); /* like running out of memory */
    }
    w->fc = fetch_client_new(w->loop);
    if (!w->fc)
        log_error("actions", "worker %u has no HTTP client: fetch() fails", w->index);
    timer_init(&w->check, on_check, w);
    loop_add_before_sleep(w->loop, worker_step, w);
    loop_run(w->loop);
    while (w->bodies)
        body_free(w, w->bodies);
    while (w->ops) { /* left by stopped executions: drop them */
        struct worker_op *o = w->ops;
        w->ops = o->next;
        if (o->type == JS_OP_REMOTE)
            o->call->op = NULL;
        vr_free(o);
    }
    fetch_client_free(w->fc);
    w->fc = NULL;
    while (w->rts)
        wr_free(w, w->rts);
    loop_timer_stop(w->loop, &w->check);
    loop_del_fd(w->loop, w->efd);
    loop_free(w->loop);
    w->loop = NULL;
    pthread_mutex_lock(&p->mu);
    w->exited = 1;
    pthread_cond_broadcast(&p->exited);
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

/* --- the loop thread --- */

/* An action stopped because its tenant is being deleted is told so, not that the server shuts
 * down (it goes on serving): code TenantDeleting, the text's reason replaced. */
static void say_deleting(struct js_result *res)
{
    static const char why[] = "the server is shutting down";
    if (res->status == JS_OK ||
        strcmp(res->error_code.data ? res->error_code.data : "", "ServerShuttingDown"))
        return;
    struct buf text = BUF_INIT(BUF_NOLIMIT);
    const char *at = res->error.data ? strstr(res->error.data, why) : NULL;
    if (at) {
        buf_append(&text, res->error.data, (size_t)(at - res->error.data));
        buf_append_str(&text, "its tenant is being deleted");
        buf_append_str(&text, at + sizeof why - 1);
    } else {
        buf_append_str(&text, "its tenant is being deleted");
    }
    buf_reset(&res->error);
    buf_append(&res->error, text.data, text.len);
    buf_reset(&res->error_code);
    buf_append_str(&res->error_code, "TenantDeleting");
    buf_release(&text);
}

static void finish_job(struct action_pool *p, struct action_job *job)
{
    p->pending--;
    p->shard->calls++; /* a call from a client, counted once it is answered */
    if (job->res.status != JS_OK)
        p->shard->call_errors++;
    /* every mutation the action ran was answered only after its batch committed; the batch open
     * now (other clients' writes) may still fail: report the last committed version */
    job->res.version = store_committed_version(p->shard->store);
    if (p->stop_deleting)
        say_deleting(&job->res);
    job->done(job->arg, &job->res);
    if (job->stream) {
        pthread_mutex_lock(&p->mu);
        job->stream->w = NULL;
        stream_unref_locked(job->stream);
        pthread_mutex_unlock(&p->mu);
    }
    js_result_release(&job->res);
    vr_free(job->path);
    vr_free(job->args);
    vr_free(job->identity);
    js_request_release(&job->request);
    vr_free(job);
}

static void answer_call(struct action_pool *p, struct action_call *c) /* under mu */
{
    (void)p;
    c->next = c->w->answers;
    c->w->answers = c;
    wake_fd(c->w->efd);
}

/* A vector search on a query reader (reader thread): its outcome becomes the call's answer.
 * c->res is read only after vector_done, on the loop thread. */
static int vector_format(void *arg, int found, const struct js_result *res, struct buf *body)
{
    struct action_call *c = arg;
    (void)body;
    if (!found) {
        set_error(&c->res, JS_ERR_THROWN, "FunctionNotFound",
                  "function `" JS_VECTOR_SEARCH_PATH "` not found");
        return 0;
    }
    c->res.status = res->status;
    c->res.version = res->version;
    buf_reset(&c->res.value);
    buf_reset(&c->res.error);
    buf_reset(&c->res.error_code);
    buf_reset(&c->res.error_data);
    buf_reset(&c->res.error_name);
    buf_append(&c->res.value, res->value.data, res->value.len);
    buf_append(&c->res.error, res->error.data, res->error.len);
    buf_append(&c->res.error_code, res->error_code.data, res->error_code.len);
    buf_append(&c->res.error_data, res->error_data.data, res->error_data.len);
    buf_append(&c->res.error_name, res->error_name.data, res->error_name.len);
    return 0;
}

static void vector_done(void *arg, int status, struct buf *body, int ok)
{
    struct action_call *c = arg;
    struct action_pool *p = c->w->pool;
    (void)status;
    (void)body;
    (void)ok;
    pthread_mutex_lock(&p->mu);
    answer_call(p, c);
    pthread_mutex_unlock(&p->mu);
}

/* A vector search reads every candidate vector: on the query readers, when the shard has them
 * and they run its version, it keeps the loop thread (every other client) free meanwhile. They
 * read what has committed, which includes the action's own earlier calls (each answered after its
 * commit). 1 when handed over. */
static int vector_to_readers(struct shard *s, struct action_call *c)
{
    if (c->kind != JS_QUERY || strcmp(c->path, JS_VECTOR_SEARCH_PATH) || !s->readers ||
        !reader_pool_ready(s->readers))
        return 0;
    char *args = malloc(c->len + 1);
    if (!args)
        return 0;
    memcpy(args, c->args, c->len);
    args[c->len] = '\0';
    if (reader_pool_submit(s->readers, c->path, args, NULL, NULL, c->identity, vector_format,
                           vector_done, c) < 0) {
        free(args);
        return 0; /* queue full or stopping: the loop runs it */
    }
    return 1;
}

/* Runs a nested call in the shard's current batch; its answer waits for the commit. */
static void run_call(struct action_pool *p, struct action_call *c)
{
    struct shard *s = p->shard;
    struct js_result *res = &c->res;
    char msg[1024];
    const struct js_function *fn = s->rt ? js_runtime_find(s->rt, c->path) : NULL;
    if (atomic_load(&p->stopping)) {
        set_error(res, JS_ERR_INTERNAL, "ServerShuttingDown", "the server is shutting down");
    } else if (!fn) {
        snprintf(msg, sizeof msg, "function `%.400s` not found", c->path);
        set_error(res, JS_ERR_THROWN, "FunctionNotFound", msg);
    } else if (fn->kind != c->kind) {
        struct buf text = BUF_INIT(BUF_NOLIMIT);
        js_wrong_kind_text(&text, fn->path, (int)c->kind, (int)fn->kind);
        set_error(res, JS_ERR_THROWN, "InvalidArgument", text.data);
        buf_release(&text);
    } else if (vector_to_readers(s, c)) {
        return;
    } else {
        uint64_t calls = s->calls, errors = s->call_errors;
        struct js_call_opts o = {.identity = c->identity, .request = &c->request.r};
        shard_call(s, fn, c->args, c->len, &o, res);
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
    struct action_stream *streams = p->streams;
    p->streams = NULL;
    for (struct action_stream *s = streams; s; s = s->next_ready)
        s->listed = 0;
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
    /* before the jobs: a finished job's last items are consumed before its answer */
    while (streams) {
        struct action_stream *s = streams;
        streams = s->next_ready;
        if (s->ready)
            s->ready(s->ready_arg);
        pthread_mutex_lock(&p->mu);
        stream_unref_locked(s);
        pthread_mutex_unlock(&p->mu);
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
            set_error(&c->res, JS_ERR_INTERNAL, "StoreError",
                      "the storage failed to commit this call's transaction; nothing it did "
                      "remains; retry");
        answer_call(p, c);
    }
    pthread_mutex_unlock(&p->mu);
}

int action_pool_submit(struct action_pool *p, const struct js_function *fn, const char *args,
                       size_t len, const char *identity, const struct js_request *request,
                       action_done_fn done, void *arg)
{
    return action_pool_submit_stream(p, fn, args, len, identity, request, done, arg, 0, 0, NULL,
                                     NULL, NULL);
}

int action_pool_submit_stream(struct action_pool *p, const struct js_function *fn, const char *args,
                              size_t len, const char *identity, const struct js_request *request,
                              action_done_fn done, void *arg, size_t max_queued, uint64_t max_total,
                              action_stream_fn ready, void *ready_arg, struct action_stream **out)
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
    job->identity = identity ? vr_strdup(identity) : NULL;
    js_request_copy(&job->request, request);
    job->done = done;
    job->arg = arg;
    js_result_init(&job->res);
    if (out) {
        struct action_stream *s = vr_calloc(1, sizeof *s);
        s->p = p;
        s->refs = 2; /* the job's and the consumer's */
        s->items_tail = &s->items;
        s->max_queued = max_queued;
        s->max_total = max_total;
        s->ready = ready;
        s->ready_arg = ready_arg;
        job->stream = s;
        *out = s;
    }
    p->pending++;
    pthread_mutex_lock(&p->mu);
    *p->queue_tail = job;
    p->queue_tail = &job->next;
    pthread_mutex_unlock(&p->mu);
    for (unsigned i = 0; i < p->nworkers; i++)
        wake_fd(p->workers[i].efd);
    return 0;
}

struct action_stream_item *action_stream_take(struct action_stream *s)
{
    pthread_mutex_lock(&s->p->mu);
    struct action_stream_item *items = s->items;
    s->items = NULL;
    s->items_tail = &s->items;
    pthread_mutex_unlock(&s->p->mu);
    return items;
}

void action_stream_release(struct action_stream *s, size_t n)
{
    if (!n)
        return;
    pthread_mutex_lock(&s->p->mu);
    s->queued -= n < s->queued ? n : s->queued;
    struct action_worker *w = s->w;
    pthread_mutex_unlock(&s->p->mu);
    if (w)
        wake_fd(w->efd);
}

void action_stream_cancel(struct action_stream *s, const char *reason)
{
    pthread_mutex_lock(&s->p->mu);
    struct action_worker *w = NULL;
    if (!s->canceled) {
        s->canceled = 1;
        s->reason = vr_strdup(reason);
        while (s->items) {
            struct action_stream_item *it = s->items;
            s->items = it->next;
            vr_free(it);
        }
        s->items_tail = &s->items;
        s->queued = 0;
        w = s->w;
    }
    pthread_mutex_unlock(&s->p->mu);
    if (w)
        wake_fd(w->efd);
}

void action_stream_unref(struct action_stream *s)
{
    if (!s)
        return;
    struct action_pool *p = s->p;
    s->ready = NULL;
    pthread_mutex_lock(&p->mu);
    stream_unref_locked(s);
    pthread_mutex_unlock(&p->mu);
}

unsigned action_pool_pending(const struct action_pool *p)
{
    return p->pending;
}

unsigned action_pool_room(const struct action_pool *p)
{
    return p->pending < p->opts.max_pending ? p->opts.max_pending - p->pending : 0;
}

uint64_t action_pool_rejected(const struct action_pool *p)
{
    return p->rejected;
}

void action_pool_load(struct action_pool *p, const char *bundle, size_t len, const char *name,
                      const char *env_json)
{
    struct worker_bundle *b = worker_bundle_new(bundle, len, name, env_json);
    pthread_mutex_lock(&p->mu);
    b->gen = ++p->gen;
    worker_bundle_unref(p->bundle);
    p->bundle = b;
    pthread_mutex_unlock(&p->mu);
    for (unsigned i = 0; i < p->nworkers; i++)
        wake_fd(p->workers[i].efd);
}

void action_pool_stop_deleting(struct action_pool *p)
{
    if (p)
        p->stop_deleting = 1;
    action_pool_stop(p);
}

void action_pool_stop(struct action_pool *p)
{
    if (!p || atomic_exchange(&p->stopping, 1))
        return;
    pthread_mutex_lock(&p->mu);
    struct action_job *queued = p->queue;
    p->queue = NULL;
    p->queue_tail = &p->queue;
    pthread_mutex_unlock(&p->mu);
    for (unsigned i = 0; i < p->nworkers; i++)
        wake_fd(p->workers[i].efd);
    while (queued) {
        struct action_job *job = queued;
        queued = job->next;
        set_error(&job->res, JS_ERR_INTERNAL, "ServerShuttingDown",
                  "the server is shutting down; the action did not run");
        job->res.not_run = 1;
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
    p->opts.per_worker = opts && opts->per_worker ? opts->per_worker : 64;
    p->opts.max_fetches = opts && opts->max_fetches ? opts->max_fetches : 256;
    p->opts.fetch_timeout_ms = opts && opts->fetch_timeout_ms ? opts->fetch_timeout_ms : 300000;
    p->opts.fetch_max_response = opts && opts->fetch_max_response ? opts->fetch_max_response
                                                                 : (size_t)64 << 20;
    p->queue_tail = &p->queue;
    p->done_tail = &p->done;
    p->calls_tail = &p->calls;
    pthread_mutex_init(&p->mu, NULL);
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
        w->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
        if (w->efd < 0) {
            log_error("actions", "cannot create a worker's eventfd: %s", strerror(errno));
            break;
        }
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
            set_error(&c->res, JS_ERR_INTERNAL, "ServerShuttingDown", "the server is shutting down");
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
        struct action_worker *w = &p->workers[i];
        pthread_join(w->thread, NULL);
        while (w->answers) { /* answered after the worker stopped waiting */
            struct action_call *c = w->answers;
            w->answers = c->next;
            call_free(c);
        }
        close(w->efd);
    }
    close(p->efd);
    while (p->streams) { /* listed after the loop thread last looked */
        struct action_stream *s = p->streams;
        p->streams = s->next_ready;
        stream_unref_locked(s);
    }
    worker_bundle_unref(p->bundle);
    pthread_cond_destroy(&p->exited);
    pthread_mutex_destroy(&p->mu);
    vr_free(p->workers);
    vr_free(p);
    return lost ? -1 : 0;
}
