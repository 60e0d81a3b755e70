/* native_meta: the `native` functions behind ctx.meta and db.vars.commitTs
 * (src/js/prelude/50_functions.js, 40_db.js). Convex's snapshot and commit timestamps are, in
 * Vireo, store versions: the version a transaction reads at (every commit at or below it is
 * visible, none above) and the one its writes commit at (the next: one writer at a time, and a
 * transaction that writes bumps the version by one when it commits, so commit order is version
 * order). These are the same numbers as the `ts` of Convex's sync protocol. */
#include <JavaScriptCore/JavaScript.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "base/rand.h"
#include "js/js_int.h"
#include "js/runtime.h"
#include "store/store.h"
#include "base/banned.h"

/* The running call's transaction, or NULL with exc set. */
static struct store_txn *call_txn(JSContextRef ctx, JSObjectRef self, const char *what,
                                  JSValueRef *exc)
{
    struct js_runtime *rt = JSObjectGetPrivate(self);
    if (rt && rt->txn && rt->store)
        return rt->txn;
    char m[160];
    snprintf(m, sizeof m, "%s: only usable while its query or mutation is running", what);
    *exc = js_make_error(ctx, "NoTransaction", m);
    return NULL;
}

/* native.snapshotTs(): the version the running call reads at (ctx.meta.getSnapshotTs). */
static JSValueRef n_snapshot_ts(JSContextRef ctx, JSObjectRef fn, JSObjectRef self, size_t argc,
                                const JSValueRef argv[], JSValueRef *exc)
{
    if (!call_txn(ctx, self, "ctx.meta.getSnapshotTs()", exc))
        return JSValueMakeUndefined(ctx);
    struct js_runtime *rt = JSObjectGetPrivate(self);
    return JSValueMakeNumber(ctx, (double)store_version(rt->store));
}

/* native.commitTs(): the version the running mutation's writes commit at (db.vars.commitTs). */
static JSValueRef n_commit_ts(JSContextRef ctx, JSObjectRef fn, JSObjectRef self, size_t argc,
                              const JSValueRef argv[], JSValueRef *exc)
{
    struct store_txn *t = call_txn(ctx, self, "db.vars.commitTs", exc);
    if (!t)
        return JSValueMakeUndefined(ctx);
    struct store_txn_usage u;
    store_txn_usage(t, &u);
    if (!u.writable) {
        *exc = js_make_error(ctx, "InvalidArgument",
                             "db.vars.commitTs: only a mutation's writes have a commit timestamp");
        return JSValueMakeUndefined(ctx);
    }
    struct js_runtime *rt = JSObjectGetPrivate(self);
    return JSValueMakeNumber(ctx, (double)(store_version(rt->store) + 1));
}

/* b's text as a JS string; b is released. */
static JSValueRef take_string(JSContextRef ctx, struct buf *b)
{
    JSStringRef s = JSStringCreateWithUTF8CString(b->data);
    JSValueRef v = JSValueMakeString(ctx, s);
    JSStringRelease(s);
    buf_release(b);
    return v;
}

/* One {used, remaining} member of the metrics' JSON. */
static void metric(struct buf *b, const char *name, uint64_t used, uint64_t limit)
{
    buf_appendf(b, "%s\"%s\":{\"used\":%" PRIu64 ",\"remaining\":%" PRId64 "}",
                b->len > 1 ? "," : "", name, used, (int64_t)limit - (int64_t)used);
}

/* native.txnMetrics(): ctx.meta.getTransactionMetrics()'s object as JSON text, in Convex's member
 * order. Queries and mutations read and write no file contents here (ctx.storage.get and store
 * are an action's), so the file metrics have no headroom: used 0, remaining 0. */
static JSValueRef n_txn_metrics(JSContextRef ctx, JSObjectRef fn, JSObjectRef self, size_t argc,
                                const JSValueRef argv[], JSValueRef *exc)
{
    struct store_txn *t = call_txn(ctx, self, "ctx.meta.getTransactionMetrics()", exc);
    if (!t)
        return JSValueMakeUndefined(ctx);
    struct js_runtime *rt = JSObjectGetPrivate(self);
    struct store_txn_usage u;
    store_txn_usage(t, &u);
    struct buf b = BUF_INIT(4096);
    buf_append_byte(&b, '{');
    metric(&b, "bytesRead", u.bytes_read, STORE_TXN_MAX_BYTES_READ);
    metric(&b, "bytesWritten", u.bytes_written, STORE_TXN_MAX_BYTES_WRITTEN);
    metric(&b, "databaseQueries", u.ranges_read, STORE_TXN_MAX_RANGES);
    metric(&b, "documentsRead", u.docs_read, STORE_TXN_MAX_DOCS_READ);
    metric(&b, "documentsWritten", u.writes, STORE_TXN_MAX_WRITES);
    metric(&b, "functionsScheduled", rt->sched_count, JS_SCHED_MAX_PER_CALL);
    metric(&b, "scheduledFunctionArgsBytes", rt->sched_bytes, JS_SCHED_MAX_ARGS);
    metric(&b, "filesWritten", 0, 0);
    metric(&b, "fileWriteBytes", 0, 0);
    metric(&b, "filesRead", 0, 0);
    metric(&b, "fileReadBytes", 0, 0);
    buf_append_byte(&b, '}');
    return take_string(ctx, &b);
}

static void str_or_null(struct buf *b, const char *s)
{
    if (s)
        buf_append_json_str(b, s, strlen(s));
    else
        buf_append_str(b, "null");
}

/* native.requestMetadata(): ctx.meta.getRequestMetadata()'s object as JSON text, from where the
 * running call came from: an action's turn's, or the call's (its request id made when first
 * asked, the same for the whole call and the calls nested in it). */
static JSValueRef n_request_metadata(JSContextRef ctx, JSObjectRef fn, JSObjectRef self,
                                     size_t argc, const JSValueRef argv[], JSValueRef *exc)
{
    struct js_runtime *rt = JSObjectGetPrivate(self);
    if (!rt || (!rt->turn && !rt->in_call)) {
        *exc = js_make_error(ctx, "NoTransaction",
                             "ctx.meta.getRequestMetadata(): only usable while its function runs");
        return JSValueMakeUndefined(ctx);
    }
    static const struct js_request none;
    const struct js_request *r = js_running_request(rt);
    if (!r)
        r = &none;
    const char *id = r->request_id;
    if (!id) {
        if (!rt->request_id[0])
            rand_hex(rt->request_id, 8);
        id = rt->request_id;
    }
    struct buf b = BUF_INIT(BUF_NOLIMIT); /* its parts are bounded by the request's limits */
    buf_append_str(&b, "{\"ip\":");
    str_or_null(&b, r->ip);
    buf_append_str(&b, ",\"userAgent\":");
    str_or_null(&b, r->user_agent);
    buf_append_str(&b, ",\"requestId\":");
    str_or_null(&b, id);
    buf_append_str(&b, ",\"scheduledFunctionId\":");
    str_or_null(&b, r->scheduled_function_id);
    buf_append_str(&b, ",\"authToken\":");
    str_or_null(&b, r->auth_token);
    buf_append_byte(&b, '}');
    return take_string(ctx, &b);
}

/* native.deploymentName(): a named tenant's name, else "vireo" (getDeploymentMetadata). */
static JSValueRef n_deployment_name(JSContextRef ctx, JSObjectRef fn, JSObjectRef self, size_t argc,
                                    const JSValueRef argv[], JSValueRef *exc)
{
    struct js_runtime *rt = JSObjectGetPrivate(self);
    const char *name = rt && rt->opts.deployment_name ? rt->opts.deployment_name : "vireo";
    JSStringRef s = JSStringCreateWithUTF8CString(name);
    JSValueRef v = JSValueMakeString(ctx, s);
    JSStringRelease(s);
    return v;
}

void js_native_meta_add(JSContextRef ctx, JSObjectRef native)
{
    static const struct js_native_fn fns[] = {
        {"snapshotTs", n_snapshot_ts},           {"commitTs", n_commit_ts},
        {"txnMetrics", n_txn_metrics},           {"deploymentName", n_deployment_name},
        {"requestMetadata", n_request_metadata},
    };
    js_native_add_fns(ctx, native, fns, sizeof fns / sizeof fns[0]);
}
