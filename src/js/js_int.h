/* js_int: what runtime.c (lifecycle, loading, calls) and native.c (the C functions the prelude
 * calls as `native.*`) share inside the js module. The runtime owns everything here; JS values it
 * keeps across calls are JSValueProtect'ed and unprotected in js_runtime_free. */
#ifndef VR_JS_INT_H
#define VR_JS_INT_H

#include <JavaScriptCore/JavaScript.h>

#include "base/hmap.h"
#include "js/runtime.h"

#define JS_MAX_CURSORS 16
#define JS_SCHED_MAX_PER_CALL 1000       /* functions one call may schedule (Convex's limit) */
#define JS_SCHED_MAX_ARGS (8u << 20)     /* their arguments' total size (Convex's limit) */

/* Exported by JavaScriptCore but declared only in a private header. */
typedef bool (*JSShouldTerminateCallback)(JSContextRef, void *);
void JSContextGroupSetExecutionTimeLimit(JSContextGroupRef, double, JSShouldTerminateCallback,
                                         void *);
void JSContextGroupClearExecutionTimeLimit(JSContextGroupRef);
void JSSynchronousGarbageCollectForDebugging(JSContextRef);
void JSSynchronousEdenCollectForDebugging(JSContextRef);
/* From JavaScriptCore's GLib API (jsc/jsc-options.h), declared here to keep glib's headers out;
 * options may only be set before the first VM exists. gboolean is an int. */
int jsc_options_set_boolean(const char *option, int value);

struct js_fn_entry {
    struct js_function pub; /* pub.path points at the entry's own copy */
    JSObjectRef handler;    /* protected */
    JSValueRef path_val;    /* protected JS string of pub.path */
    struct validator *args_v, *returns_v; /* pub.args and pub.returns compiled, or NULL */
};

struct js_cursor {
    struct store_cursor *c; /* NULL when the slot is free */
    uint32_t id;            /* handle given to JS; never reused */
    size_t returned;        /* documents handed to JS so far */
    int depth;              /* the nested call that opened it (js_runtime.sub_depth) */
};

/* ctx.runQuery / ctx.runMutation inside a query or mutation: at most this many nested at once
 * (Convex's MAX_REACTOR_CALL_DEPTH) */
#define JS_SUB_DEPTH_MAX 8

/* one of them running (native.subBegin .. native.subEnd) */
struct js_sub {
    int kind;
    double exec;         /* the execution that began it (native.params[4]) */
    struct store_sub st; /* a mutation's sub-transaction */
    size_t n_unlink;     /* the storage deletes before it (dropped when it rolls back) */
    int capped;          /* its transactionLimits are pushed on the transaction (store caps) */
    /* its transactionLimits' functionsScheduled and scheduledFunctionArgsBytes
     * (STORE_TXN_NO_LIMIT: none), and the call's counts when it began */
    uint64_t sched_lim, sched_bytes_lim, sched_at, sched_bytes_at;
};

/* what a time-limit error adds when the call spent its CPU over awaits (runtime.c, exec.c) */
#define JS_ROUNDS_OVER_TEXT " awaiting without end (a loop over awaits)"

#define JS_PARAM_VM_READS 7
#define JS_PARAM_DONE_ID 8
#define JS_PARAM_DONE_OK 9
#define JS_PARAM_ACTOR_END 10  /* native.actorEnd's call number and status in, its answer out */
#define JS_PARAM_ACTOR_ARGS 11 /* the strings native.actorEnd is given: 1 text, 2 code, 4 act */

struct js_runtime {
    char *crons; /* the crons.ts jobs as JSON (js_runtime_crons), or NULL */
    char *actors;      /* the actors of the app ({name: {methods, events}} JSON), or NULL */
    char *auth_config; /* auth.config's default export as JSON (js_runtime_auth_config), or NULL */
    struct buf schema_text;     /* the schema's text, until js_runtime_apply_schema applies it */
    int schema_pending;         /* to apply: 0 none, 1 "the app has no schema", 2 that text */
    struct store *store;
    struct js_options opts;
    JSContextGroupRef group;
    JSGlobalContextRef ctx;
    JSObjectRef run_fn;    /* protected prelude entry point */
    JSObjectRef timers_fn; /* protected: runs due timers, returns ms to the next or -1 */
    JSObjectRef settle_fn;  /* protected: settles an awaited operation (exec.c) */
    JSObjectRef abandon_fn; /* protected: drops a finished execution's timers and operations */
    JSObjectRef undone_fn;  /* protected: a mutation's promise is pending once its microtasks
                               drained: a waiting actor method ends its turn (47_actors.js) */

    /* async action executions (exec.c): several suspended at once */
    struct js_exec *execs;      /* in flight, newest first */
    struct js_exec *turn;       /* the one whose turn is running, or NULL */
    const struct js_host *host; /* where awaited operations go */
    void *host_arg;
    const struct js_actor_host *actor_host; /* an actor method's fetches (shard runtime) */
    void *actor_host_arg;

    struct js_fn_entry *fns;
    size_t nfns;
    uint32_t *slots; /* open-addressing hash of path -> index + 1 (0 = empty) */
    size_t nslots;

    char *bundle_name; /* the sourceURL the bundle was evaluated with */
    json_t *srcmap;    /* its inline source map (sources, mappings), or NULL */
    json_t *http_routes; /* http.ts's routes, [[method, path, isPrefix]], or NULL: no router */
    js_log_fn log_fn;
    void *log_arg;
    js_commit_fn commit_fn;
    void *commit_arg;
    js_stop_fn stop_fn;         /* asked at every watchdog tick of a call (runtime.c) */
    void *stop_arg;

    /* the execution in progress */
    int in_call;
    uint32_t exec_id;
    double limit_s;          /* watchdog period currently set on the group (one tick) */
    uint32_t limit_ms;       /* CPU limit of the execution in progress */
    uint32_t ticks;          /* watchdog ticks in the execution in progress */
    uint32_t next_heap_tick; /* the tick at which to measure the heap next */
    double heap_cost_ms;     /* CPU the last heap measurement took (it grows with the heap) */
    double cpu_start;        /* thread CPU ms at (or up to 1 ms before) the execution's start */
    double rounds_cpu0;      /* thread CPU ms at the execution's first rounds check (0: none) */
    int rounds_over;         /* the rounds check found it over its limit: stop at the next tick */
    int entries_counted;     /* JSC's VM entries are counted on this runtime (jsc_clock.h) */
    double last_heap;        /* heap bytes last measured in this execution (0: none) */
    double settled_heap;     /* heap bytes after the last collection we forced */
    int timed_out;           /* stopped by the watchdog (time or memory) */
    int over_memory;         /* ... because the heap passed opts.memory_limit_mb */
    int stopped;             /* stop_fn asked to stop this call */
    int done;                /* native.done() has reported this execution */
    int txn_steps;           /* native.actorEnd may end top_txn and open the next (txn_steps) */
    const struct js_request *request; /* where the call in progress came from, or NULL */
    char request_id[17]; /* the id made for it when asked and it had none ("": not yet) */
    struct js_result *res;
    struct store_txn *txn;     /* the transaction ctx.db uses, or NULL */
    struct store_txn *top_txn; /* the top-level call's own transaction */
    uint32_t next_cursor_id;
    uint32_t sched_count;      /* functions scheduled by the top-level call in progress */
    size_t sched_bytes;        /* ... and the size of their arguments */
    uint64_t seed_state;
    /* shared with JS as native.params: kind, seed lo, seed hi, now, exec id, memory limit in
     * bytes, 1 in an action worker's copy of the app, the VM entries counted (JS_PARAM_VM_READS),
     * native.done's execution id and outcome (JS_PARAM_DONE_ID, JS_PARAM_DONE_OK), and
     * native.actorEnd's numbers (JS_PARAM_ACTOR_END, JS_PARAM_ACTOR_ARGS). Numbers
     * cross here rather than as arguments and return values: each JSC API call a native function
     * makes (JSValueToNumber, JSValueMakeNumber, ...) takes the VM's lock on its own. */
    double params[12];
    /* undefined and null, made once: immediates, never collected (each JSValueMake* takes the
     * VM's lock) */
    JSValueRef undefined_v, null_v;
    struct js_cursor cursors[JS_MAX_CURSORS];
    struct js_sub subs[JS_SUB_DEPTH_MAX]; /* the nested calls running, outermost first */
    int sub_depth;

    struct buf s1, s2, s3; /* scratch for native calls */
    /* native.actorSave's last document id, head and timers text, each kept protected beside its
     * UTF-8 copy: a hot instance passes the same string objects call after call, so only its
     * state is converted (a protected value cannot be collected, so the same pointer is the same
     * string); and the state's scratch buffer */
    struct js_str_memo {
        JSValueRef v;
        struct buf text;
    } save_memo[3];
    struct buf save_state;
    /* the actor documents the calls of a batch saved, stored once at its end (actor_saves.c) */
    struct js_actor_saves {
        struct js_actor_save **v;
        size_t n, cap;
        struct hmap by_id;        /* document id -> entry */
        struct js_actor_save **touched; /* entries the running call saved */
        size_t n_touched, cap_touched;
        size_t bytes;             /* the texts held (JS_ACTOR_SAVES_MAX) */
    } asaves;
    /* `_storage` ids deleted by the transaction in progress: their files go when it commits */
    char (*unlink_ids)[STORE_ID_LEN + 1];
    size_t n_unlink, cap_unlink;
    /* files the transaction in progress stored (native.storageCommit): their temporary name and
     * the id they were renamed to ("" until then); removed if it does not commit */
    struct js_new_file {
        char tmp[STORE_FILE_TMP_LEN + 1];
        char id[STORE_ID_LEN + 1];
    } *new_files;
    size_t n_new, cap_new;
    /* ... and of the committed transactions of the open commit batch (js_runtime_batch_done):
     * files to remove once it commits, files it stored to remove if it fails */
    char (*batch_unlink)[STORE_ID_LEN + 1];
    size_t n_batch_unlink, cap_batch_unlink;
    char (*batch_new)[STORE_ID_LEN + 1];
    size_t n_batch_new, cap_batch_new;
};

/* Whether the host asks the call in progress to stop (the server shutting down): the watchdog
 * (runtime.c on_time_limit), native.overLimit and the timers' wait ask it. */
static inline bool js_stop_requested(const struct js_runtime *rt)
{
    return rt->stop_fn && rt->in_call && rt->stop_fn(rt->stop_arg);
}

/* Copies text into out with every "<bundle>:line[:col]" replaced by "vireo/file.ts:line" through
 * the bundle's source map. 1 if something was mapped (out holds the result), else 0 (out is
 * unspecified: use the text as it is). */
int js_map_positions(const struct js_runtime *rt, const char *text, size_t len, struct buf *out);

/* actor_saves.c: an actor instance's document saved by the calls of a batch of actor calls
 * (js_call_opts.txn_steps) is stored once, when the batch's VM entry ends, in a transaction of
 * its own inside the commit batch, rather than once per call: each call's save is kept (the
 * last one per document wins), dropped if the call fails (its transaction rolled back), and
 * the last kept one is written by js_actor_saves_flush. A save that could fail is written at
 * once instead (js_actor_save_defer says which), so that the call that made it gets the error:
 * a document past the size limit, one that grows in a store with a storage limit, or past
 * JS_ACTOR_SAVES_MAX of texts held. If the write at the end fails anyway (the disk), the commit
 * batch fails (store_batch_fail): every answer it holds becomes a StoreError, as when its commit
 * fails. */
#define JS_ACTOR_SAVES_MAX (8u << 20)
/* 1: the running call's save of document id (text doc) is kept for the batch's end; 0: the
 * caller stores it now and then reports it with js_actor_save_written. */
int js_actor_save_defer(struct js_runtime *rt, const char *id, size_t id_len, const struct buf *doc);
/* The running call stored (len bytes) or deleted document id at once: it replaces a kept save. */
void js_actor_save_written(struct js_runtime *rt, const char *id, size_t id_len, size_t len,
                           int deleted);
/* The running call of the batch ended: its saves are kept (committed) or dropped. */
void js_actor_saves_call_end(struct js_runtime *rt, int committed);
/* The batch's VM entry ended: the kept saves are stored; nothing is kept after it. */
void js_actor_saves_flush(struct js_runtime *rt);
void js_actor_saves_release(struct js_runtime *rt);

/* native.c */
JSObjectRef js_native_make(struct js_runtime *rt);
void js_native_close_cursors(struct js_runtime *rt);
/* A call's nested ctx.runQuery / ctx.runMutation still running when it ends: each rolled back
 * (an unfinished mutation's writes never commit). Before the call's transaction ends. */
void js_native_subs_end(struct js_runtime *rt);
/* Copies a JS value's string form into `out` (reset first). 0 or -E2BIG. */
int js_to_buf(JSContextRef ctx, JSValueRef v, struct buf *out, JSValueRef *exc);
/* The bytes of v when it is a Uint8Array, from its offset into its buffer (*len of them; a
 * non-NULL pointer even when empty), else NULL. Borrowed: valid while v lives, unchanged. */
const unsigned char *js_u8_bytes(JSContextRef ctx, JSValueRef v, size_t *len);
/* An ArrayBuffer that owns `bytes` (vr_malloc'd; freed with it); on failure bytes are freed, *exc
 * may be set, and the result is undefined. */
JSValueRef js_buffer_take(JSContextRef ctx, void *bytes, size_t len, JSValueRef *exc);
/* An ArrayBuffer holding a copy of p[0..len); undefined on failure. */
JSValueRef js_buffer_copy(JSContextRef ctx, const void *p, size_t len, JSValueRef *exc);
/* An operation's answer as the prelude takes it (settle, opTake): out[0] ok, out[1] an array of
 * the first JS_OP_MAX_STRINGS strings (NULL as ""), out[2] a copy of the bytes as an ArrayBuffer
 * or undefined when bytes is NULL. */
#define JS_OP_MAX_STRINGS 8
void js_op_answer(JSContextRef ctx, int ok, const char *const *strs, size_t n, const void *bytes,
                  size_t nbytes, JSValueRef out[3]);
/* Builds an Error with `message` and an optional `code` property. */
JSObjectRef js_make_error(JSContextRef ctx, const char *code, const char *message);

/* native_crypto.c: adds randomFill, digest and hmac (OpenSSL) to the `native` object. */
/* A function of the `native` object: its name and its C callback. */
struct js_native_fn {
    const char *name;
    JSObjectCallAsFunctionCallback fn;
};
/* Adds the n functions of fns to the `native` object, read-only (native.c). */
void js_native_add_fns(JSContextRef ctx, JSObjectRef native, const struct js_native_fn *fns,
                       size_t n);
void js_native_crypto_add(JSContextRef ctx, JSObjectRef native);
void js_native_pkey_add(JSContextRef ctx, JSObjectRef native); /* native_pkey.c */
/* native_storage.c: adds the storage functions (ctx.storage) to the `native` object.
 * js_storage_settled: the transaction in progress committed (its deleted files are removed, or
 * when a commit batch is open, kept for js_runtime_batch_done) or not (they stay, and the files
 * it stored are removed); either way the transaction's lists are emptied. */
void js_native_storage_add(JSContextRef ctx, JSObjectRef native);
void js_storage_settled(struct js_runtime *rt, int committed);
/* native_meta.c: adds what ctx.meta and db.vars.commitTs ask of the runtime (snapshotTs,
 * commitTs, txnMetrics, deploymentName) to the `native` object. */
void js_native_meta_add(JSContextRef ctx, JSObjectRef native);
/* exec.c: where action x came from (its own copy; its request_id made at its start). */
const struct js_request *js_exec_request(const struct js_exec *x);
/* Where the call running in rt came from: the action turn's execution's, else the call's own
 * (js_call_opts.request; NULL: none). */
const struct js_request *js_running_request(const struct js_runtime *rt);
/* native_polyfill.c: adds polyfill(name), which evaluates an embedded npm polyfill. */
void js_native_polyfill_add(JSContextRef ctx, JSObjectRef native);

/* timers.c: runs the action's timers (59_timers.js) until its promise settles, none is left,
 * its time limit passes or stop_fn asks it to stop. Call only inside js_call, after the
 * handler's first run, for an action; `start_ms` is the call's clock_mono_ms() at its start. */
void js_timers_drain(struct js_runtime *rt, uint64_t start_ms);

/* exec.c */
/* The result an execution id reports into (native.done / native.log), or NULL; *done_flag is
 * set to its done flag. */
struct js_result *js_exec_result_for(struct js_runtime *rt, uint32_t id, int **done_flag);
void js_exec_free_all(struct js_runtime *rt);
/* native.opStart from JS: hands an operation of the turn's execution to the host. */
int js_exec_op(struct js_runtime *rt, uint32_t token, const struct js_op *op, struct buf *err);
void js_exec_op_cancel(struct js_runtime *rt, uint32_t token);

/* runtime.c */
double js_thread_cpu_ms(void);
/* Less than one watchdog tick of the execution's CPU time is left. A native step that can run
 * long checks it and throws: an exception it returns once the watchdog's own stop is due can be
 * lost with that stop (JavaScriptCore resumed the caller with `undefined`, 2026-12-07). */
int js_time_nearly_up(const struct js_runtime *rt);
void js_set_limit_ms(struct js_runtime *rt, uint32_t ms);
void js_absorb_termination(struct js_runtime *rt);
const struct js_fn_entry *js_find_entry(const struct js_runtime *rt, const char *path);
int js_validate_args(struct js_runtime *rt, const struct js_function *fn, const char *args,
                     size_t len, const json_t *parsed, struct buf *err);
/* Checks a result (value.h JSON) against fn's `returns` validator: 0 (or no validator), or -1
 * with err = "ReturnsValidationError: <Convex's text>\nFunction: <path>". */
int js_check_returns(struct js_runtime *rt, const struct js_function *fn, const char *value,
                     size_t len, struct buf *err);

#endif
