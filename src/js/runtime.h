/* runtime: one JavaScriptCore context running an app: the prelude (src/js/prelude/NN_name.js,
 * compiled into the binary), then the app's bundle (esbuild IIFE that assigns
 * globalThis.__vireo_app = {schema, modules: {"messages": {list, send}, "dir/file": {...}}}).
 * Loading registers every exported function by path "module:export" and applies the schema to
 * the store.
 *
 * Calls run a query or mutation inside one store transaction (a mutation's writes commit only if
 * the handler's promise resolves), with Math.random seeded and Date.now frozen per execution, no
 * fetch, a CPU time limit and a memory limit (a watchdog tick every 50 ms of CPU checks both).
 * Actions run outside any transaction and reach the database through ctx.runQuery /
 * ctx.runMutation.
 *
 * A runtime may also have no store (an action worker's, proto/actions.h): it loads the same
 * bundle without applying the schema, runs only actions (as async executions, below), and hands
 * their ctx.runQuery / ctx.runMutation to its host as JS_OP_REMOTE operations
 * (js_runtime_set_host).
 *
 * Not thread-safe: one runtime belongs to one thread (the shard's, or one action worker's). */
#ifndef VR_JS_RUNTIME_H
#define VR_JS_RUNTIME_H

#include <jansson.h>
#include <stdint.h>

#include "base/buf.h"
#include "store/store.h"

struct js_runtime;

enum js_fn_kind { JS_QUERY, JS_MUTATION, JS_ACTION };
/* "query", "mutation", "action"; js_kind_title: "Query", "Mutation", "Action" (Convex's texts) */
const char *js_kind_name(int kind);
const char *js_kind_title(int kind);
/* A function's path as Convex writes it in messages ("dir/file:fn", a missing ":fn" meaning
 * default, a ".js" ending of the module dropped; with ext, Convex's canonical form
 * "dir/file.js:fn" that its "Trying to execute ..." text names), cut at n. */
void js_udf_path(char *out, size_t n, const char *path, int ext);
/* Convex's texts (ValidatedPathAndArgs), appended to out: for a call that names no public
 * function, "Could not find public function for 'm:f'. Did you forget to run `npx convex dev`
 * or `npx convex deploy`?"; for one of another kind than `want`, "Trying to execute m.js:f as
 * Query, but it is defined as Mutation." */
void js_not_found_text(struct buf *out, const char *path);
void js_wrong_kind_text(struct buf *out, const char *fn_path, int want, int have);

struct js_function {
    const char *path;      /* "messages:list" */
    enum js_fn_kind kind;
    int internal;          /* internalQuery/internalMutation/internalAction */
    json_t *args;          /* validator JSON (validator.h) of the args object, or NULL for any */
    json_t *returns;       /* validator JSON of the result (`returns`), or NULL: not checked */
};

struct js_options {
    uint32_t timeout_ms;        /* CPU limit for queries and mutations; default 1000 */
    uint32_t action_timeout_ms; /* default 600000 */
    uint32_t memory_limit_mb;   /* JS heap one execution may grow to (MemoryLimit past it);
                                   default 256 */
    uint32_t max_scheduled;     /* pending scheduled functions allowed in all (0: no limit);
                                   ctx.scheduler past it throws */
    const uint64_t *scheduled;  /* where the shard keeps the count of pending ones, or NULL */
    const char *env_json;       /* process.env: a JSON object of string values, or NULL for {};
                                   borrowed by js_runtime_new only (the runtime keeps a copy in
                                   its JS heap, frozen: a change of env is a new runtime) */
    const char *files_dir;      /* where the shard's stored files live (ctx.storage), or NULL:
                                   no file storage (an in-memory database); borrowed */
    const char *public_url;     /* the origin URLs of ctx.storage start with ("http://host:port"),
                                   read at each call (it may be filled after the runtime is made);
                                   NULL: relative URLs; borrowed */
    const char *deployment_name; /* ctx.meta.getDeploymentMetadata().name: a named tenant's
                                    name; NULL: "vireo"; borrowed */
    size_t max_file_bytes;      /* largest file an action's ctx.storage.store() writes
                                   (UploadTooLarge past it; vireo's --max-upload-mb);
                                   0: JS_STORAGE_MAX_FILE_DEFAULT */
    uint32_t upload_url_ttl_s;  /* how long an upload URL (storage.generateUploadUrl()) works;
                                   0: JS_UPLOAD_URL_TTL_DEFAULT_S */
    int defer_schema;           /* js_runtime_new keeps the schema for js_runtime_apply_schema
                                   instead of applying it: the runtime is built on a thread
                                   while the loop keeps using the store */
};
#define JS_STORAGE_MAX_FILE_DEFAULT (16u << 20)
#define JS_VALUE_MAX (16u << 20) /* largest document, argument or result text we pass around */
#define JS_UPLOAD_URL_TTL_DEFAULT_S 3600 /* Convex's upload URLs last an hour */

/* Loads prelude + bundle. `bundle_name` is the script URL errors cite when no module can be
 * named. On a syntax or load-time error returns -1 with err like
 *   "vireo/messages.ts:12: ReferenceError: Can't find variable: foo"
 * mapped through the bundle's inline source map (esbuild --sourcemap=inline), or, without one,
 *   "vireo/messages.ts (bundle line 57): ReferenceError: Can't find variable: foo"
 * (esbuild keeps a "// vireo/messages.ts" comment before each module); errors thrown inside
 * prelude code such as defineTable() are mapped through the stack's first bundle frame. The
 * first call in the process sets JavaScriptCore's options (polling traps); the built-ins are
 * frozen before the bundle runs. Applies the schema to `store` (a reader store,
 * store_open_reader, gets none: its shard applied it; NULL when
 * the app has none); failure is a load error too ("schema: ..."). `store` may be NULL: nothing
 * is applied, and only actions can be called. `opts` may be NULL. */
int js_runtime_new(struct store *store, const struct js_options *opts, const char *bundle,
                   size_t len, const char *bundle_name, struct js_runtime **out, struct buf *err);
/* With opts->defer_schema: applies the schema js_runtime_new kept to its store (on the thread
 * that owns the store, no batch open); 0 at once without a deferred one. -1 with err
 * ("schema: ...") when the store refuses it. */
int js_runtime_apply_schema(struct js_runtime *rt, struct buf *err);
void js_runtime_free(struct js_runtime *rt);

const struct js_function *js_runtime_find(const struct js_runtime *rt, const char *path);
size_t js_runtime_function_count(const struct js_runtime *rt);
/* The app's own functions: the count without Vireo's built-in `_system/...` ones. */
size_t js_runtime_app_function_count(const struct js_runtime *rt);
const struct js_function *js_runtime_function_at(const struct js_runtime *rt, size_t i);
/* The routes of the app's http.ts router (its default export), as JSON
 * [[method, path, isPrefix], ...] (a prefix route's path ends in "/"), checked at load: none lies
 * inside Vireo's reserved paths /api/ and /_vireo/. NULL: the app has no http.ts router. Its
 * requests run as the internal action JS_HTTP_ACTION_PATH (src/js/prelude/56_http.js). */
#define JS_HTTP_ACTION_PATH "_system/http:run"
const json_t *js_runtime_http_routes(const struct js_runtime *rt);

enum js_status {
    JS_OK,
    JS_ERR_ARGS,     /* argument validation failed (message names the argument) */
    JS_ERR_THROWN,   /* the handler threw or rejected (message is the error's message), or
                        its result did not match its `returns` validator
                        (ReturnsValidationError) */
    JS_ERR_TIMEOUT,  /* ran past its time limit (ExecutionTimeout) or memory limit (MemoryLimit) */
    JS_ERR_INTERNAL  /* storage failure, a stop (ServerShuttingDown) or a bug of ours */
};

struct js_result {
    enum js_status status;
    struct buf value;        /* on JS_OK: the return value as value.h JSON ("null" for undefined) */
    struct buf error;        /* otherwise: the message */
    struct buf error_code;   /* "ArgumentValidationError" (JS_ERR_ARGS), "ExecutionTimeout"
                                (JS_ERR_TIMEOUT), "InternalError"/"StoreError" (JS_ERR_INTERNAL);
                                for JS_ERR_THROWN the thrown Error's string `code` property if it
                                has one (store errors: "SchemaValidationError",
                                "DocumentNotFound", "InvalidId", ...), else "FunctionFailed" */
    struct buf error_data;   /* value.h JSON of a thrown VireoError/ConvexError's data (its
                                error_code is "VireoError"); empty otherwise */
    struct buf error_name;   /* JS_ERR_THROWN: the thrown Error's `name` ("TypeError", an app's
                                class's; "ConvexError" for a VireoError named "VireoError"),
                                empty when it threw something other than an Error or did not
                                run (Convex words its texts "Uncaught <name>: <message>") */
    struct buf log_lines;    /* the call's console.* lines as Convex formats them ("[LOG] 'hi'"),
                                each stored as a 4-byte length and its bytes; read them with
                                js_result_log_json. Bounded: see JS_LOG_MAX_* */
    uint32_t log_count;      /* lines in log_lines, the overflow notice included */
    int log_full;            /* the overflow notice was added: later lines are dropped */
    struct buf journal;      /* a journaled query's run (js_call_opts.journaled) that succeeded:
                                the query journal it recorded (its paginate() page's end cursor),
                                empty when it recorded none (Convex's null). At most
                                JS_JOURNAL_MAX bytes */
    uint64_t version;        /* the store version the call read at or committed */
    int paginated;           /* it called paginate(): its answer holds cursors (not cached) */
    int not_run;             /* an action that never started (a stopping pool's queue): an
                                error, but nothing of it ran */
    struct store_txn *txn;   /* queries and mutations: the finished transaction (committed, or
                                aborted on any error), so callers can take its read and write
                                sets; NULL for actions; freed by js_result_release */
};

/* A js_result may be reused for many calls: js_call resets it (and frees its previous txn). */
void js_result_init(struct js_result *r);
void js_result_release(struct js_result *r);
/* Empties r for the next call (its buffers kept): no value, no error, no log lines, no txn. */
void js_result_reset(struct js_result *r);

/* Per-call bounds on console output kept for the caller (logLines; the server log gets every
 * line). A line longer than JS_LOG_MAX_LINE_BYTES is cut at a character boundary and ends with
 * " (truncated due to length)"; the 256th line, or the first that would take the call past
 * JS_LOG_MAX_BYTES, is replaced by "[ERROR] Log overflow (maximum 256). Remaining log lines
 * omitted." (or "... (maximum 262144 bytes) ...") and later lines are dropped. */
#define JS_LOG_MAX_LINES 256
#define JS_LOG_MAX_LINE_BYTES (32u << 10)
#define JS_LOG_MAX_BYTES (256u << 10)

/* Adds one log line (UTF-8, any bytes) to r within the bounds above. */
void js_result_add_log(struct js_result *r, const char *line, size_t len);
/* Appends r's log lines to out as a JSON array of strings ("[]" when there are none): the
 * `logLines` of Convex's HTTP answers and of its sync protocol's MutationResponse and
 * ActionResponse. */
void js_result_log_json(const struct js_result *r, struct buf *out);

/* The cron jobs crons.ts's default export defines, as JSON ({name: {name: "mod:fn", args:
 * [args], schedule}}: Convex's Crons.crons), or NULL when the app has no crons.ts. */
const char *js_runtime_crons(const struct js_runtime *rt);
/* The app's actors (every AppDef a module exports, src/js/prelude/47_actors.js) as JSON
 * {name: {methods: [...], events: [...]}}, or NULL when it has none. They run as the internal
 * mutation JS_ACTORS_RUN_PATH (proto/actors.c drives it). */
#define JS_ACTORS_RUN_PATH "_system/actors:run"
/* An actor's durable timer (ctx.timer): a `_scheduled_functions` job of this internal mutation,
 * which the scheduler hands to proto/actors.c (jobs_set_actor_runner) to run and deliver. */
#define JS_ACTORS_TIMER_PATH "_system/actors:timer"
/* Jobs of components (store.h "Scheduled functions": a table of jobs per namespace, as Convex
 * has one per component). A job names its function as its component sees it. js_job_name: what
 * a job of namespace ns ("" the app's, "a/" component a's) stores for the function at `path`
 * (the prelude's full path, "_components/a/mod:fn"): the path inside the namespace's prefix
 * ("mod:fn"), a function handle ("function://<path>") for one outside it, and for the app the
 * path itself. js_job_function_path: the full path again from a job's namespace and name. Both
 * replace out's contents; 0, or -1 when out's limit is too small. */
#define JS_HANDLE_PREFIX "function://"
int js_job_name(const char *ns, const char *path, struct buf *out);
int js_job_function_path(const char *ns, const char *name, struct buf *out);
/* The namespace a function's full path is in ("_components/a/_components/b/m:f" -> "a/b/"; the
 * app's "") in ns, and the name its own jobs store for it ("m:f") in name. */
int js_job_split(const char *path, struct buf *ns, struct buf *name);
/* The built-in internal query behind an action's ctx.vectorSearch (prelude 46_vector.js); the
 * action pool hands it to the query readers when the shard has them (proto/actions.c). */
#define JS_VECTOR_SEARCH_PATH "_system/vector:search"
const char *js_runtime_actors(const struct js_runtime *rt);
/* auth.config's default export as JSON ({"providers": [...]}), or NULL when the app has none. */
const char *js_runtime_auth_config(const struct js_runtime *rt);

/* Validates args (value.h JSON text of an object; empty means {}) against fn's validator, then
 * runs it. Always fills `res`; returns 0 when res->status == JS_OK, else -1. Not reentrant:
 * actions reach other functions through ctx.runQuery/runMutation/runAction, which the runtime
 * runs as nested executions (each query/mutation in its own transaction) inside the same call. */
int js_call(struct js_runtime *rt, const struct js_function *fn, const char *args_json,
            size_t len, struct js_result *res);

/* Where a call came from: what ctx.meta.getRequestMetadata() tells a mutation or an action
 * (Convex's RequestMetadata), and what the calls it makes (its ctx.runMutation, an action's
 * ctx.runQuery/runMutation/runAction) are told too. NULL members are null; request_id NULL: one is
 * made when first asked. Borrowed for the call (js_exec_start copies an action's). */
struct js_request {
    const char *ip;                    /* the client's address ("127.0.0.1", "::1") */
    const char *user_agent;            /* its User-Agent header */
    const char *request_id;            /* 16 hex digits */
    const char *scheduled_function_id; /* the `_scheduled_functions` job the call runs for */
    const char *auth_token;            /* the JWT the caller was authenticated with */
};

/* An owned copy of a js_request, whose request_id is always set (made when the original had
 * none): for an action and the calls it makes, which outlive the caller's strings. */
struct js_request_copy {
    struct js_request r;
    char id[17];
};
void js_request_copy(struct js_request_copy *out, const struct js_request *from); /* NULL ok */
void js_request_release(struct js_request_copy *c);

struct js_call_opts {
    /* Mutations only: if a mutation with this key already committed, its stored result and
     * version are returned without running it again; otherwise the result is stored under the
     * key in the mutation's own transaction. NULL: none. */
    const char *idempotency_key;
    /* The arguments already parsed (they must equal args_json), to validate without parsing
     * them again; NULL: parse args_json. */
    const json_t *args_value;
    /* Mutations only: the `_scheduled_functions` job this call runs, as the scheduler read it;
     * when it succeeds the job is marked success (with completedTime) in the call's own
     * transaction, so the job's run and its state change commit together (exactly once); if
     * the job changed since it was read (canceled meanwhile) the call rolls back with the
     * error code "JobChanged". NULL: none. */
    const struct store_sched_job *sched_job;
    /* Queries only: run with Convex's query journal. `journal` (NULL or "": none) is what an
     * earlier run of the same query recorded: a paginate() without endCursor ends where that run's
     * page ended. It is checked first (store_page_journal_check, at most JS_JOURNAL_MAX bytes): a
     * bad one fails the call with InvalidCursor. The journal this run records is in
     * js_result.journal. Not journaled (0): paginate() records nothing and uses none. */
    int journaled;
    const char *journal;
    size_t journal_len;
    /* The caller's verified identity (a JSON object's text, auth/identity.h) that
     * ctx.auth.getUserIdentity() returns; NULL: none (null). An action's nested calls carry it. */
    const char *identity;
    /* Where the call came from (ctx.meta.getRequestMetadata()); NULL: nowhere known (all null). */
    const struct js_request *request;
    /* Mutations only: the call runs several actor calls in one VM entry, each in a transaction
     * of its own: native.actorEnd commits (or rolls back) the running one, reports it to the
     * actor host (js_actor_host.end) and opens the next with the CPU time limit started again.
     * The call's own result is that of the last, empty, transaction. Its arguments are the
     * server's own text: they are not validated. */
    int txn_steps;
};

/* The largest query journal: one end cursor, so a page whose end row's index key is larger than
 * about 12 KiB cannot be journaled (its paginate() fails with JournalTooLarge). */
#define JS_JOURNAL_MAX 16384
int js_call_ex(struct js_runtime *rt, const struct js_function *fn, const char *args_json,
               size_t len, const struct js_call_opts *opts, struct js_result *res);

/* Called after every committed mutation transaction, top-level or run by an action through
 * ctx.runMutation, with the transaction (its write set is valid during the call) and the version
 * it committed at. This is how live queries learn of writes. */
typedef void (*js_commit_fn)(void *arg, const struct store_txn *txn, uint64_t version);
void js_runtime_set_commit_hook(struct js_runtime *rt, js_commit_fn fn, void *arg);
/* The store's commit batch (store_batch_begin) that the runtime's transactions ran in has
 * committed (committed = 1) or was lost: the stored files its transactions deleted are removed
 * now, or those they stored are. Call after every store_batch_commit. */
void js_runtime_batch_done(struct js_runtime *rt, int committed);
/* A file stored (renamed to `id`) by a transaction that committed in the open batch outside the
 * runtime (an import): removed by js_runtime_batch_done if the batch then fails. */
void js_runtime_batch_stored_file(struct js_runtime *rt, const char *id);

/* Validates args (value.h JSON text of an object) against fn's validator without running it:
 * 0, or -1 with the message in err. `parsed` as js_call_opts.args_value. */
int js_runtime_check_args(struct js_runtime *rt, const struct js_function *fn, const char *args,
                          size_t len, const json_t *parsed, struct buf *err);

/* Makes a running call stoppable from outside: at every watchdog tick (50 ms of the call's CPU
 * time) fn(arg) is asked; when it returns nonzero the call is stopped and fails with JS_ERR_INTERNAL
 * and code "ServerShuttingDown". The call's own time limit still applies. */
typedef int (*js_stop_fn)(void *arg);
void js_runtime_set_stop_check(struct js_runtime *rt, js_stop_fn fn, void *arg);

/* ---- async actions (an action worker's runtime; src/js/exec.c) ----
 * An action started with js_exec_start runs until it awaits something the host provides (a
 * nested query or mutation, a fetch) or a timer, and is then suspended; the runtime holds
 * several such executions at once. Each later step ("turn": an answer settling a promise, due
 * timers firing) runs with that execution's own CPU budget: the watchdog's limit is what the
 * execution has left of action_timeout_ms of CPU. The memory limit is the runtime's heap: the
 * execution whose turn passes it is stopped. A wall-clock limit of action_timeout_ms from the
 * start applies as well (js_exec_check). When an execution finishes, `done` is called once with
 * its result, and its pending timers and operations are dropped (the host gets cancel() for
 * each of its operations still open). */
struct js_exec;

enum js_op_type { JS_OP_REMOTE, JS_OP_FETCH, JS_OP_STREAM, JS_OP_FETCH_BODY };

/* JS_OP_STREAM: the streamed response body of an HTTP action (proto/actions.c). */
enum js_stream_kind {
    JS_STREAM_HEAD,  /* body: the JSON {status, headers: [[name, value]]}; answered when sent on */
    JS_STREAM_CHUNK, /* body: bytes of the body; answered when there is room for more */
    JS_STREAM_WATCH, /* answered (ok, with the reason) once the client is gone */
};

struct js_op {
    enum js_op_type type;
    /* JS_OP_REMOTE: a ctx.runQuery / ctx.runMutation */
    enum js_fn_kind kind;
    const char *path;
    const char *args;
    size_t len;
    const char *identity; /* the action's identity JSON, or NULL: the call runs with it */
    const struct js_request *request; /* the action's: the call runs with it (never NULL) */
    /* JS_OP_FETCH */
    const char *method;
    const char *url;
    const char *headers; /* JSON [[name, value], ...] */
    const void *body;    /* NULL: none */
    size_t body_len;
    int redirect;        /* 0 follow, 1 manual, 2 error */
    uint32_t timeout_ms; /* 0: the host's default */
    /* JS_OP_STREAM: stream_kind, and body/body_len */
    enum js_stream_kind stream_kind;
    /* JS_OP_FETCH_BODY: the next bytes of a streamed fetch response body (an action's fetch is
     * answered at its head with the body's id as its sixth string), answered with them, with
     * none at its end, or failed (as a fetch); with body_close, the body is dropped (its transfer
     * stopped) and the operation answered */
    uint32_t body_id;
    int body_close;
};

struct js_host {
    /* Starts op for execution x; the answer comes later through js_exec_settle(token). 0, or -1
     * with a message in err (the promise rejects with it at once). */
    int (*op)(void *arg, struct js_exec *x, uint32_t token, const struct js_op *op,
              struct buf *err);
    /* The operation `token` is no longer awaited (its execution finished, or an abort). */
    void (*cancel)(void *arg, uint32_t token);
};
void js_runtime_set_host(struct js_runtime *rt, const struct js_host *host, void *arg);

/* Where a shard runtime's actor methods send their fetches (proto/actors.c): native.opStart of
 * a JS_OP_FETCH outside an async action's turn goes to op(), an abort to cancel(), and the
 * answer, once the host resumes the actor call, is read with take(): ok, its strings (as
 * js_exec_settle's) and body, valid until the host drops the answer. take() returns -1 when
 * token has no answer. */
struct js_actor_host {
    int (*op)(void *arg, uint32_t token, const struct js_op *op, struct buf *err);
    void (*cancel)(void *arg, uint32_t token);
    int (*take)(void *arg, uint32_t token, int *ok, const char *const **strs, size_t *nstrs,
                const void **body, size_t *body_len);
    /* a frame the running actor operation sends once it commits (native.actorOut, in order):
     * event 0, a state patch of instance key (name "\0" id); 1, an event, with `lists` the JSON
     * [to, except] (connection id arrays or null) or NULL when it goes to every subscriber */
    void (*out)(void *arg, int event, const char *key, size_t key_len, const char *text,
                size_t len, const char *lists, size_t lists_len);
    /* call k of a batch of actor calls (js_call_opts.txn_steps; native.actorEnd) ended: its
     * transaction committed (status 1: text its result's JSON, NULL when none; act the JSON
     * array of the instance keys it activated, NULL when none) or rolled back (status 0: text
     * its error's message, code its code; status -1: it did not run, the host runs it on its
     * own). The frames out() gave since the last end are the call's: they go once the commit
     * batch does (status 1), or never. */
    void (*end)(void *arg, uint32_t k, int status, const char *text, size_t len,
                const char *code, const char *act, size_t act_len);
};
void js_runtime_set_actor_host(struct js_runtime *rt, const struct js_actor_host *host,
                               void *arg);

typedef void (*js_exec_done_fn)(void *arg, const struct js_result *res);
/* Validates and starts action fn (identity, request: as js_call_opts's; the request is copied);
 * res belongs to the caller until done(arg, res) is called (perhaps before this returns). 0, or
 * -1 when the runtime is busy in a turn (a bug). */
int js_exec_start(struct js_runtime *rt, const struct js_function *fn, const char *args, size_t len,
                  const char *identity, const struct js_request *request, struct js_result *res,
                  js_exec_done_fn done, void *arg);
/* Settles operation `token` of x: ok with strs (JS strings) and bytes (an ArrayBuffer, or
 * none when NULL), or failed with strs = {message, code[, data]}. A token no longer awaited is
 * ignored. */
void js_exec_settle(struct js_runtime *rt, struct js_exec *x, uint32_t token, int ok,
                    const char *const *strs, size_t nstrs, const void *bytes, size_t nbytes);
/* Fires due timers (each execution's in its own turn) and fails executions past their wall
 * limit. Returns the ms until js_exec_check should run again, or -1 when nothing waits. */
int64_t js_exec_check(struct js_runtime *rt);
/* Stops every execution: done() with ServerShuttingDown. */
void js_exec_stop_all(struct js_runtime *rt);
size_t js_exec_count(const struct js_runtime *rt);
/* The result x reports into (to add a nested call's console lines to it). */
struct js_result *js_exec_res(struct js_exec *x);
/* The `arg` x was started with (js_exec_start). */
void *js_exec_arg(struct js_exec *x);

/* Where console.log lines of functions go; default: the server log as
 * "[fn] messages:send: hello". */
typedef void (*js_log_fn)(void *arg, const char *level, const char *fn_path, const char *msg,
                          size_t len);
void js_runtime_set_log(struct js_runtime *rt, js_log_fn fn, void *arg);

#endif
