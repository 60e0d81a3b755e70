/* exec: async action executions in one runtime (runtime.h, "async actions"). An execution is
 * started by js_exec_start and advanced by turns: each turn is one call into the prelude (run,
 * settle, or the timers' fire step) made on behalf of one execution, with the watchdog set to
 * what that execution has left of its CPU budget, and the execution id in native.params[4] so
 * that console lines, timers and operations started during the turn belong to it. Between
 * turns nothing runs: the host (proto/actions.c) waits in its event loop for answers.
 *
 * Interleaving caveat: a promise shared by two executions (module state) runs the reactions of
 * both in whichever turn settles it; their console lines go to that turn's execution. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "base/clock.h"
#include "base/log.h"
#include "base/mem.h"
#include "base/rand.h"
#include "js/js_int.h"
#include "js/jsc_clock.h"
#include "js/jsc_heap.h"

#include "base/banned.h"

#define JS_EXEC_TIMER_TURNS 1000 /* timer turns per js_exec_check before yielding */

struct js_exec {
    struct js_exec *next;
    uint32_t id;
    const struct js_fn_entry *e;
    struct js_result *res;
    js_exec_done_fn done;
    void *arg;
    int reported;       /* native.done reported its outcome into res */
    int failed;         /* stopped (time, memory, shutdown): res holds the error */
    unsigned ops;       /* operations the host has not answered */
    double cpu_used;    /* ms of CPU its turns took */
    uint64_t deadline;  /* clock_mono_ms() past which it fails (wall-clock limit) */
    struct js_request_copy request; /* where it came from */
};

const struct js_request *js_exec_request(const struct js_exec *x)
{
    return &x->request.r;
}

const struct js_request *js_running_request(const struct js_runtime *rt)
{
    return rt->turn ? js_exec_request(rt->turn) : rt->request;
}

static char *dup_or_null(const char *s)
{
    return s ? vr_strdup(s) : NULL;
}

void js_request_copy(struct js_request_copy *out, const struct js_request *from)
{
    static const struct js_request none;
    const struct js_request *r = from ? from : &none;
    out->r = (struct js_request){.ip = dup_or_null(r->ip),
                                 .user_agent = dup_or_null(r->user_agent),
                                 .scheduled_function_id = dup_or_null(r->scheduled_function_id),
                                 .auth_token = dup_or_null(r->auth_token),
                                 .request_id = out->id};
    if (r->request_id)
        snprintf(out->id, sizeof out->id, "%s", r->request_id);
    else
        rand_hex(out->id, 8);
}

void js_request_release(struct js_request_copy *c)
{
    vr_free((char *)c->r.ip);
    vr_free((char *)c->r.user_agent);
    vr_free((char *)c->r.scheduled_function_id);
    vr_free((char *)c->r.auth_token);
    c->r = (struct js_request){0};
}

static void set_fail(struct js_result *res, enum js_status st, const char *code, const char *msg)
{
    buf_reset(&res->value);
    buf_reset(&res->error);
    buf_reset(&res->error_code);
    buf_reset(&res->error_data);
    buf_reset(&res->error_name);
    res->status = st;
    buf_append_str(&res->error, msg);
    buf_append_str(&res->error_code, code);
}

static struct js_exec *find(struct js_runtime *rt, uint32_t id)
{
    for (struct js_exec *x = rt->execs; x; x = x->next)
        if (x->id == id)
            return x;
    return NULL;
}

struct js_result *js_exec_result_for(struct js_runtime *rt, uint32_t id, int **done_flag)
{
    struct js_exec *x = find(rt, id);
    if (!x || x->failed)
        return NULL;
    *done_flag = &x->reported;
    return x->res;
}

void js_runtime_set_host(struct js_runtime *rt, const struct js_host *host, void *arg)
{
    rt->host = host;
    rt->host_arg = arg;
}

struct js_result *js_exec_res(struct js_exec *x)
{
    return x->res;
}

void *js_exec_arg(struct js_exec *x)
{
    return x->arg;
}

size_t js_exec_count(const struct js_runtime *rt)
{
    size_t n = 0;
    for (const struct js_exec *x = rt->execs; x; x = x->next)
        n++;
    return n;
}

int js_exec_op(struct js_runtime *rt, uint32_t token, const struct js_op *op, struct buf *err)
{
    struct js_exec *x = rt->turn;
    if (!x || !rt->host) {
        buf_append_str(err, "this runtime cannot wait for operations");
        return -1;
    }
    if (rt->host->op(rt->host_arg, x, token, op, err) < 0)
        return -1;
    x->ops++;
    return 0;
}

void js_exec_op_cancel(struct js_runtime *rt, uint32_t token)
{
    if (rt->host)
        rt->host->cancel(rt->host_arg, token);
}

/* One call into the prelude on behalf of x. */
static void turn(struct js_runtime *rt, struct js_exec *x, JSObjectRef fn, size_t argc,
                 const JSValueRef argv[])
{
    uint32_t limit = rt->opts.action_timeout_ms;
    double left = limit - x->cpu_used;
    rt->turn = x;
    rt->in_call = 1;
    rt->res = x->res;
    rt->done = 0;
    rt->timed_out = rt->stopped = rt->over_memory = 0;
    rt->params[0] = JS_ACTION;
    rt->params[3] = floor(clock_wall_ms());
    rt->params[4] = x->id;
    js_set_limit_ms(rt, left < 1 ? 1 : (uint32_t)left);
    double cpu0 = js_thread_cpu_ms();
    JSValueRef exc = NULL;
    /* the VM entries' count followed in params for the prelude's watch (runtime.c js_call_ex) */
    double *mirror_was =
        jsc_clock_mirror(rt->entries_counted ? &rt->params[JS_PARAM_VM_READS] : NULL);
    JSObjectCallAsFunction(rt->ctx, fn, NULL, argc, argv, &exc);
    jsc_clock_mirror(mirror_was);
    x->cpu_used += js_thread_cpu_ms() - cpu0;
    rt->in_call = 0;
    rt->turn = NULL;
    rt->res = NULL;
    if (rt->timed_out) {
        js_absorb_termination(rt);
        if (!x->reported) {
            char msg[512];
            x->failed = 1;
            if (rt->stopped) {
                snprintf(msg, sizeof msg, "function `%s` was stopped: the server is shutting "
                         "down", x->e->pub.path);
                set_fail(x->res, JS_ERR_INTERNAL, "ServerShuttingDown", msg);
            } else if (rt->over_memory) {
                snprintf(msg, sizeof msg, "function `%s` exceeded the memory limit of %u MiB",
                         x->e->pub.path, rt->opts.memory_limit_mb);
                set_fail(x->res, JS_ERR_TIMEOUT, "MemoryLimit", msg);
            } else {
                snprintf(msg, sizeof msg, "function `%s` exceeded its %u ms time limit%s",
                         x->e->pub.path, limit, rt->rounds_over ? JS_ROUNDS_OVER_TEXT : "");
                set_fail(x->res, JS_ERR_TIMEOUT, "ExecutionTimeout", msg);
            }
        }
    } else if (exc && !x->reported) {
        struct buf m = BUF_INIT(4096);
        JSValueRef ignored = NULL;
        char msg[600];
        js_to_buf(rt->ctx, exc, &m, &ignored);
        snprintf(msg, sizeof msg, "function `%s`: internal error: %.500s", x->e->pub.path,
                 m.data ? m.data : "");
        buf_release(&m);
        x->failed = 1;
        set_fail(x->res, JS_ERR_INTERNAL, "InternalError", msg);
    }
    if (rt->last_heap > rt->settled_heap + 64.0 * 1024 * 1024) {
        JSSynchronousGarbageCollectForDebugging(rt->ctx);
        rt->settled_heap = jsc_heap_bytes(rt->ctx);
    }
    rt->last_heap = 0;
}

static double timers_call(struct js_runtime *rt, int cmd, double id)
{
    JSValueRef argv[2] = { JSValueMakeNumber(rt->ctx, cmd), JSValueMakeNumber(rt->ctx, id) };
    JSValueRef exc = NULL;
    JSValueRef r = JSObjectCallAsFunction(rt->ctx, rt->timers_fn, NULL, 2, argv, &exc);
    if (exc || !r || !JSValueIsNumber(rt->ctx, r))
        return -1;
    return JSValueToNumber(rt->ctx, r, NULL);
}

/* Finishes x: drops what it left in the runtime, reports, frees. */
static void finish(struct js_runtime *rt, struct js_exec *x)
{
    struct js_exec **pp = &rt->execs;
    while (*pp != x)
        pp = &(*pp)->next;
    *pp = x->next;
    struct js_result *res = x->res;
    if (x->ops && x->reported) {
        /* as Convex warns of dangling promises: the app's nested calls it did not await */
        char line[300];
        int n = snprintf(line, sizeof line,
                         "[WARN] %u unawaited operation%s (ctx.runQuery/runMutation/runAction, "
                         "fetch, storage) still running when the action returned were dropped. "
                         "Async operations should be awaited or they might not run.",
                         x->ops, x->ops == 1 ? "" : "s");
        js_result_add_log(res, line, (size_t)n);
        log_warn("js", "%s: %s", x->e->pub.path, line);
    }
    JSValueRef id = JSValueMakeNumber(rt->ctx, x->id);
    JSValueRef exc = NULL;
    JSObjectCallAsFunction(rt->ctx, rt->abandon_fn, NULL, 1, &id, &exc); /* cancels its ops */
    if (res->status == JS_ERR_THROWN && !res->error_code.len)
        buf_append_str(&res->error_code, "FunctionFailed");
    if (res->status == JS_OK && x->e->pub.returns) {
        buf_reset(&rt->s3);
        if (js_check_returns(rt, &x->e->pub, res->value.data, res->value.len, &rt->s3) < 0)
            set_fail(res, JS_ERR_THROWN, "ReturnsValidationError", rt->s3.data);
    }
    js_exec_done_fn done = x->done;
    void *arg = x->arg;
    js_request_release(&x->request);
    vr_free(x);
    done(arg, res);
}

/* Finishes every execution that reported or failed, and any that can no longer progress. */
static void reap(struct js_runtime *rt)
{
    for (;;) {
        struct js_exec *x = rt->execs;
        for (; x; x = x->next) {
            if (x->reported || x->failed)
                break;
            if (!x->ops) {
                /* waiting only for a timer due past its limit: fail now, not then */
                double next = timers_call(rt, 5, x->id);
                if (next >= 0 && clock_mono_ms() + (uint64_t)next > x->deadline) {
                    char msg[512];
                    snprintf(msg, sizeof msg, "function `%s` exceeded its %u ms time limit",
                             x->e->pub.path, rt->opts.action_timeout_ms);
                    set_fail(x->res, JS_ERR_TIMEOUT, "ExecutionTimeout", msg);
                    x->failed = 1;
                    break;
                }
            }
            if (!x->ops && timers_call(rt, 4, x->id) <= 0) {
                char msg[512];
                snprintf(msg, sizeof msg, "function `%s` did not finish: it awaited a promise "
                         "that never settled", x->e->pub.path);
                set_fail(x->res, JS_ERR_THROWN, "FunctionFailed", msg);
                x->failed = 1;
                break;
            }
        }
        if (!x)
            return;
        finish(rt, x);
    }
}

int js_exec_start(struct js_runtime *rt, const struct js_function *fn, const char *args, size_t len,
                  const char *identity, const struct js_request *request, struct js_result *res,
                  js_exec_done_fn done, void *arg)
{
    const struct js_fn_entry *e = (const struct js_fn_entry *)fn;
    js_result_reset(res);
    if (rt->in_call)
        return -1;
    if (!args || !len)
        args = "{}", len = 2;
    buf_reset(&rt->s1);
    if (fn->kind != JS_ACTION) {
        set_fail(res, JS_ERR_INTERNAL, "InternalError", "only actions run asynchronously");
        done(arg, res);
        return 0;
    }
    if (js_validate_args(rt, fn, args, len, NULL, &rt->s1) < 0) {
        set_fail(res, JS_ERR_ARGS, "ArgumentValidationError", rt->s1.data);
        done(arg, res);
        return 0;
    }
    struct js_exec *x = vr_calloc(1, sizeof *x);
    x->id = ++rt->exec_id;
    x->e = e;
    x->res = res;
    x->done = done;
    x->arg = arg;
    x->deadline = clock_mono_ms() + rt->opts.action_timeout_ms;
    js_request_copy(&x->request, request);
    x->next = rt->execs;
    rt->execs = x;
    buf_reset(&rt->s1);
    buf_append(&rt->s1, args, len);
    JSStringRef as = JSStringCreateWithUTF8CString(rt->s1.data);
    JSValueRef iv = JSValueMakeNull(rt->ctx);
    if (identity) {
        JSStringRef is = JSStringCreateWithUTF8CString(identity);
        iv = JSValueMakeString(rt->ctx, is);
        JSStringRelease(is);
    }
    JSValueRef argv[5] = { e->handler, e->path_val, JSValueMakeString(rt->ctx, as),
                           JSValueMakeUndefined(rt->ctx), iv };
    JSStringRelease(as);
    turn(rt, x, rt->run_fn, 5, argv);
    reap(rt);
    return 0;
}

void js_exec_settle(struct js_runtime *rt, struct js_exec *x, uint32_t token, int ok,
                    const char *const *strs, size_t nstrs, const void *bytes, size_t nbytes)
{
    if (x->ops)
        x->ops--;
    if (x->reported || x->failed) {
        reap(rt);
        return;
    }
    JSValueRef argv[4];
    argv[0] = JSValueMakeNumber(rt->ctx, token);
    js_op_answer(rt->ctx, ok, strs, nstrs, bytes, nbytes, argv + 1);
    turn(rt, x, rt->settle_fn, 4, argv);
    reap(rt);
}

int64_t js_exec_check(struct js_runtime *rt)
{
    if (rt->in_call)
        return 0;
    uint64_t now = clock_mono_ms();
    for (struct js_exec *x = rt->execs; x; x = x->next) {
        if (!x->reported && !x->failed && now >= x->deadline) {
            char msg[512];
            snprintf(msg, sizeof msg, "function `%s` exceeded its %u ms time limit",
                     x->e->pub.path, rt->opts.action_timeout_ms);
            set_fail(x->res, JS_ERR_TIMEOUT, "ExecutionTimeout", msg);
            x->failed = 1;
        }
    }
    reap(rt);
    for (int i = 0; i < JS_EXEC_TIMER_TURNS; i++) {
        double id = timers_call(rt, 2, 0);
        if (id < 0)
            break;
        struct js_exec *x = find(rt, (uint32_t)id);
        if (!x) {
            timers_call(rt, 3, id); /* a finished execution's: drop them */
            continue;
        }
        JSValueRef argv[2] = { JSValueMakeNumber(rt->ctx, 1), JSValueMakeNumber(rt->ctx, id) };
        turn(rt, x, rt->timers_fn, 2, argv);
        reap(rt);
        if (i == JS_EXEC_TIMER_TURNS - 1)
            return 0; /* more are due: come back at once, after the loop's other work */
    }
    double next = timers_call(rt, 0, 0);
    int64_t wait = next < 0 ? -1 : (int64_t)next;
    now = clock_mono_ms();
    for (struct js_exec *x = rt->execs; x; x = x->next) {
        int64_t d = x->deadline > now ? (int64_t)(x->deadline - now) : 0;
        if (wait < 0 || d < wait)
            wait = d;
    }
    return wait;
}

void js_exec_stop_all(struct js_runtime *rt)
{
    for (struct js_exec *x = rt->execs; x; x = x->next) {
        if (x->reported || x->failed)
            continue;
        char msg[512];
        snprintf(msg, sizeof msg, "function `%s` was stopped: the server is shutting down",
                 x->e->pub.path);
        set_fail(x->res, JS_ERR_INTERNAL, "ServerShuttingDown", msg);
        x->failed = 1;
    }
    while (rt->execs)
        finish(rt, rt->execs);
}

void js_exec_free_all(struct js_runtime *rt)
{
    while (rt->execs) {
        struct js_exec *x = rt->execs;
        rt->execs = x->next;
        js_request_release(&x->request);
        vr_free(x); /* the host stopped them before freeing the runtime */
    }
}
