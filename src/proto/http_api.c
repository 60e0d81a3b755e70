/* http_api: routes HTTP requests to function calls, health, metrics, admin and static files.
 * Bad input (malformed JSON, unknown or internal functions, wrong endpoint for a function's kind,
 * invalid arguments) gets a precise error and never reaches the store. */
#include "proto/http_api.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/file.h"
#include "base/json_parse.h"
#include "base/log.h"
#include "base/mem.h"
#include "base/rand.h"
#include "net/ws.h"
#include "proto/actions.h"
#include "proto/call_origin.h"
#include "proto/convex_http.h"
#include "proto/http_action.h"
#include "proto/http_admin_actors.h"
#include "proto/http_admin_data.h"
#include "proto/http_admin_env.h"
#include "proto/http_admin_import.h"
#include "proto/http_auth.h"
#include "proto/http_storage.h"
#include "proto/deploy.h"
#include "proto/export_job.h"
#include "proto/snapshot_zip.h"
#include "proto/deployer.h"
#include "proto/static_client.h"
#include "proto/actors.h"
#include "proto/readers.h"
#include "proto/reply.h"
#include "proto/convex_sync.h"
#include "proto/sync.h"
#include "sched/sched.h"
#include "base/banned.h"

#define MAX_STATIC_FILE (64u << 20)

static const char json_content_type[] = "application/json";
static const char cors_headers[] = "Access-Control-Allow-Origin: *\r\n";

struct http_deferred {
    struct conn *c;
    int status;
    int convex; /* answers a Convex-shaped request (its StoreError body differs) */
    struct buf body;
};

static void respond_json(struct conn *c, int status, const struct buf *body)
{
    http_respond(c, status, json_content_type, body->data, body->len, cors_headers);
}

/* Answers a function call now, or after the batch it ran in has committed. */
void http_api_respond_call(struct http_api *api, struct conn *c, int status, int convex,
                         struct buf *body)
{
    if (!api->shard->batch_open) {
        respond_json(c, status, body);
        return;
    }
    if (api->n_deferred == api->cap_deferred) {
        api->cap_deferred = api->cap_deferred ? api->cap_deferred * 2 : 16;
        api->deferred = vr_realloc(api->deferred, api->cap_deferred * sizeof *api->deferred);
    }
    struct http_deferred *d = &api->deferred[api->n_deferred++];
    conn_ref(c);
    loop_wake(conn_loop(c)); /* the commit may come after this iteration's before-sleep step */
    d->c = c;
    d->status = status;
    d->convex = convex;
    d->body = *body; /* takes the buffer */
    buf_init(body, BUF_NOLIMIT);
}

void http_api_flush(struct http_api *api, int batch_failed)
{
#define LOST_MSG                                                                                  \
    "the storage failed to commit this call's transaction; nothing it did remains; retry"
    static const char lost[] = "{\"status\":\"error\",\"errorMessage\":\"" LOST_MSG "\","
                               "\"errorCode\":\"StoreError\"}";
    static const char lost_convex[] = "{\"code\":\"StoreError\",\"message\":\"" LOST_MSG "\"}";
    for (size_t i = 0; i < api->n_deferred; i++) {
        struct http_deferred *d = &api->deferred[i];
        if (!conn_is_closed(d->c)) {
            if (batch_failed && d->convex)
                http_respond(d->c, 500, json_content_type, lost_convex, sizeof lost_convex - 1,
                             cors_headers);
            else if (batch_failed)
                http_respond(d->c, 500, json_content_type, lost, sizeof lost - 1, cors_headers);
            else
                respond_json(d->c, d->status, &d->body);
        }
        conn_unref(d->c);
        buf_release(&d->body);
    }
    api->n_deferred = 0;
}

void http_api_release(struct http_api *api, int batch_failed)
{
    http_auth_release(api);
    http_api_flush(api, batch_failed);
    vr_free(api->deferred);
    api->deferred = NULL;
    api->cap_deferred = 0;
}

static void error_body(struct buf *b, const char *code, const char *msg, const char *data_json)
{
    buf_append_str(b, "{\"status\":\"error\",");
    reply_error_fields(b, code, msg, strlen(msg), data_json, data_json ? strlen(data_json) : 0);
    buf_append_str(b, "}");
}

void http_api_respond_error(struct conn *c, int status, const char *code, const char *msg,
                            const char *data_json)
{
    struct buf b = BUF_INIT(BUF_NOLIMIT);
    error_body(&b, code, msg, data_json);
    respond_json(c, status, &b);
    buf_release(&b);
}

/* The HTTP status of a failed call, by who is at fault. 4xx: the caller's arguments or the app's
 * code did something the platform refuses (a value too large or too deep, a schema violation, a
 * missing document, too many open queries, a VireoError/ConvexError); retrying the same call
 * fails the same way. 5xx: the server failed (StoreError, InternalError: retrying may succeed),
 * the function ran out of time or memory, or threw an Error of its own (FunctionFailed), and 503
 * for a server that is stopping or has no app. docs/protocol.md has this table. */
static const struct {
    const char *code;
    int status;
} error_status[] = {
    {"ArgumentValidationError", 400},
    {"SchemaValidationError", 400},
    {"VireoError", 400},
    {"ConvexError", 400},
    {"ValueTooLarge", 400},
    {"ValueTooDeep", 400},
    {"TooManyQueries", 400},
    {"TooManyDocumentsRead", 400},
    {"TooManyReads", 400},
    {"TooManyBytesRead", 400},
    {"TooManyWrites", 400},
    {"TooManyBytesWritten", 400},
    {"InvalidQuery", 400},
    {"InvalidCursor", 400},
    {"InvalidArgument", 400},
    {"InvalidId", 400},
    {"DocumentNotFound", 400},
    {"NoTransaction", 400},
    {"FunctionNotFound", 404},
    {"StorageLimitExceeded", 507},
    {"ServerShuttingDown", 503},
    {"ServerOverloaded", 503},
    {"NoAppLoaded", 503},
};

static int status_for_error(const struct js_result *r)
{
    const char *code = r->error_code.data;
    if (r->status == JS_ERR_ARGS)
        return 400;
    /* a time or memory limit, a store or internal failure is never the caller's to fix */
    if (r->status == JS_ERR_TIMEOUT ||
        (r->status == JS_ERR_INTERNAL && strcmp(code, "ServerShuttingDown") &&
         strcmp(code, "NoAppLoaded")))
        return 500;
    for (size_t i = 0; i < sizeof error_status / sizeof error_status[0]; i++)
        if (!strcmp(code, error_status[i].code))
            return error_status[i].status;
    return 500;
}

/* How one call request is answered: Vireo's shape or Convex's (convex_http.h), decided once by
 * call_shape() and passed along, so every answer to the request takes the same shape. */
struct call_req {
    int convex;
    enum convex_format format; /* Convex's shape: how values are written */
    char request_id[17];       /* Convex's shape: named in its errorMessage texts */
};

static void call_shape(struct call_req *cr, const struct http_request *req, const json_t *root)
{
    cr->convex = convex_http_is_convex(req, root);
    cr->format = CONVEX_ENCODED;
    convex_http_request_id(cr->request_id);
}

/* A request refused before any function ran (malformed body, no app, a refused key, ...). */
static void respond_refused(struct conn *c, const struct call_req *cr, int status,
                            const char *code, const char *msg)
{
    if (!cr->convex) {
        http_api_respond_error(c, status, code, msg, NULL);
        return;
    }
    struct buf b = BUF_INIT(BUF_NOLIMIT);
    convex_http_request_error(&b, code, msg);
    respond_json(c, status, &b);
    buf_release(&b);
}

/* A call that failed as a function call (no such function, wrong kind, bad arguments): Convex
 * reports these as the function's error (560) with its own text; Vireo with its code. */
static int call_error_body(struct buf *b, const struct call_req *cr, int status,
                           const char *code, const char *msg, const char *convex_text)
{
    if (!cr->convex) {
        error_body(b, code, msg, NULL);
        return status;
    }
    convex_http_error_body(b, cr->request_id, convex_text, NULL, 0, cr->format, NULL);
    return CONVEX_STATUS_FUNCTION_FAILED;
}

static void respond_call_error(struct conn *c, const struct call_req *cr, int status,
                               const char *code, const char *msg, const char *convex_text)
{
    struct buf b = BUF_INIT(BUF_NOLIMIT);
    status = call_error_body(&b, cr, status, code, msg, convex_text);
    respond_json(c, status, &b);
    buf_release(&b);
}

/* How a function call's body is parsed (parse_call; body_json for those parsing it first). */
#define CALL_JSON_FLAGS (JSON_DECODE_INT_AS_REAL | JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL)

/* A request body's JSON; NULL when it is not JSON, or when an object or array in it is wider
 * than Convex's values may be (json_check_widths: not parsed at all, parse_call says why) */
static json_t *body_json(const struct http_request *req, size_t flags)
{
    char why[160];
    if (json_check_widths(req->body.p, req->body.len, JSON_MAX_FIELDS, JSON_MAX_ITEMS, why,
                          sizeof why) < 0)
        return NULL;
    return json_parse(req->body.p, req->body.len, flags, NULL);
}

/* Parses the body: {"path": "...", "args": {...}} (Vireo), or Convex's
 * {"path", "format", "args": [{...}]}; sets *args_out to the args' JSON text and *args_value to
 * the parsed object (NULL: {}). On a bad body answers and returns -1. */
/* url_fn: the function named by the URL (Convex's /api/run/<path>), which always answers in
 * Convex's shape; else the body's "path" names it. parsed: the body as body_json(req,
 * CALL_JSON_FLAGS) parsed it before (borrowed), or NULL: parsed here. */
static int parse_call(struct conn *c, const struct http_request *req, const char *url_fn,
                      json_t *parsed, struct call_req *cr, json_t **root_out, const char **path_out,
                      char **args_out, const json_t **args_value)
{
    json_error_t jerr;
    char why[160];
    if (!parsed && json_check_widths(req->body.p, req->body.len, JSON_MAX_FIELDS, JSON_MAX_ITEMS,
                                     why, sizeof why) < 0) {
        call_shape(cr, req, NULL);
        if (url_fn)
            cr->convex = 1;
        char msg[300];
        snprintf(msg, sizeof msg, "invalid JSON body: %s (Convex's value limits)", why);
        respond_refused(c, cr, 400, "BadJsonBody", msg);
        return -1;
    }
    json_t *root = parsed ? json_incref(parsed)
                          : json_parse(req->body.p, req->body.len, CALL_JSON_FLAGS, &jerr);
    call_shape(cr, req, root);
    if (url_fn)
        cr->convex = 1;
    if (!root) {
        char msg[300];
        snprintf(msg, sizeof msg, "invalid JSON body: %s (line %d, column %d)", jerr.text,
                 jerr.line, jerr.column);
        respond_refused(c, cr, 400, "BadJsonBody", msg);
        return -1;
    }
    if (!json_is_object(root)) {
        respond_refused(c, cr, 400, "BadJsonBody", "request body must be a JSON object");
        goto fail;
    }
    json_t *path = url_fn ? NULL : json_object_get(root, "path");
    if (!url_fn && !json_is_string(path)) {
        respond_refused(c, cr, 400, "BadJsonBody",
                        "request body needs \"path\": a function name like \"messages:list\"");
        goto fail;
    }
    if (path && strlen(json_string_value(path)) != json_string_length(path)) {
        respond_refused(c, cr, 400, "BadJsonBody", "\"path\" must not contain U+0000");
        goto fail;
    }
    json_t *args = json_object_get(root, "args");
    if (cr->convex) {
        struct buf err = BUF_INIT(512);
        int r = convex_http_format(json_object_get(root, "format"),
                                   http_header_get(req, "convex-client") != NULL, &cr->format,
                                   &err);
        if (r < 0)
            respond_refused(c, cr, 400, r == -1 ? "BadFormat" : "BadJsonBody", err.data);
        buf_release(&err);
        if (r < 0)
            goto fail;
        /* malformed Convex args are reported once the function is known (handle_call) */
        *args_value = NULL;
    } else {
        if (args && !json_is_object(args) && !json_is_null(args)) {
            respond_refused(c, cr, 400, "BadJsonBody", "\"args\" must be a JSON object");
            goto fail;
        }
        *args_value = json_is_object(args) ? args : NULL;
    }
    *path_out = url_fn ? url_fn : json_string_value(path);
    *root_out = root;
    *args_out = NULL;
    return 0;
fail:
    json_decref(root);
    return -1;
}

/* Convex lets "messages:list" also be written "messages.js:list", and "messages" for the default
 * export. */
static const struct js_function *find_function(struct js_runtime *rt, const char *path)
{
    const struct js_function *fn = js_runtime_find(rt, path);
    if (fn)
        return fn;
    const char *colon = strchr(path, ':');
    size_t mlen = colon ? (size_t)(colon - path) : strlen(path);
    if (mlen >= 900 || (colon && strlen(colon) >= 100))
        return NULL;
    if (mlen > 3 && !memcmp(path + mlen - 3, ".js", 3))
        mlen -= 3;
    char full[1024];
    snprintf(full, sizeof full, "%.*s:%s", (int)mlen, path, colon ? colon + 1 : "default");
    return strcmp(full, path) ? js_runtime_find(rt, full) : NULL;
}

/* The answer to a call of a function that does not exist (or is internal); its status. */
static int not_found_body(struct buf *b, const struct call_req *cr, const char *path)
{
    char msg[600];
    snprintf(msg, sizeof msg, "could not find public function `%.400s`", path);
    struct buf text = BUF_INIT(BUF_NOLIMIT);
    js_not_found_text(&text, path);
    int status = call_error_body(b, cr, 404, "FunctionNotFound", msg, text.data);
    buf_release(&text);
    return status;
}

/* Where a success answer's version digits are (the query cache stores the answer without
 * them and writes the current version into each hit); pos SIZE_MAX: it has none. */
struct version_at {
    size_t pos, len;
};

/* The answer to a finished call, in the request's shape; returns its HTTP status. vat (may be
 * NULL) gets where its version digits are. */
static int call_body(struct buf *b, const struct call_req *cr, int ok, const struct js_result *res,
                     struct version_at *vat)
{
    if (vat)
        vat->pos = SIZE_MAX;
    if (cr->convex) {
        if (!ok && res->status == JS_ERR_INTERNAL) {
            /* the server's failure, not the function's: refused as Convex refuses requests */
            convex_http_request_error(b, res->error_code.len ? res->error_code.data
                                                             : "InternalError",
                                      res->error.data);
            return status_for_error(res);
        }
        return convex_http_call_body(b, cr->request_id, res, cr->format);
    }
    if (!ok) {
        buf_append_str(b, "{\"status\":\"error\",");
        reply_result_error(b, res);
        if (res->log_count) {
            buf_append_str(b, ",\"logLines\":");
            js_result_log_json(res, b);
        }
        buf_append_str(b, "}");
        return status_for_error(res);
    }
    buf_append_str(b, "{\"status\":\"success\",\"value\":");
    buf_append(b, res->value.data, res->value.len);
    buf_append_str(b, ",\"version\":");
    size_t vpos = b->len;
    buf_appendf(b, "%llu", (unsigned long long)res->version);
    if (vat)
        *vat = (struct version_at){ vpos, b->len - vpos };
    if (res->log_count) {
        buf_append_str(b, ",\"logLines\":");
        js_result_log_json(res, b);
    }
    buf_append_str(b, "}");
    return 200;
}

/* An action running on the pool holds its connection until it is answered. */
struct http_action {
    struct conn *c;
    struct call_req cr;
};

static void action_done(void *arg, const struct js_result *res)
{
    struct http_action *ha = arg;
    if (!conn_is_closed(ha->c)) {
        struct buf b = BUF_INIT(BUF_NOLIMIT);
        int status = call_body(&b, &ha->cr, res->status == JS_OK, res, NULL);
        /* the action's own writes committed before their calls returned: answer at once */
        respond_json(ha->c, status, &b);
        buf_release(&b);
    }
    conn_unref(ha->c);
    vr_free(ha);
}

/* A call a pool refused: -EAGAIN (ServerOverloaded, with `overloaded` as its message) or
 * stopping (ServerShuttingDown); 503 with retryAfterMs. */
static void respond_busy(struct conn *c, const struct call_req *cr, int r, const char *overloaded)
{
    struct buf b = BUF_INIT(BUF_NOLIMIT);
    const char *m = r == -EAGAIN ? overloaded : "the server is shutting down";
    const char *code = r == -EAGAIN ? "ServerOverloaded" : "ServerShuttingDown";
    if (cr->convex) {
        buf_append_str(&b, "{\"code\":\"");
        buf_append_str(&b, code);
        buf_append_str(&b, "\",\"message\":");
        buf_append_json_str(&b, m, strlen(m));
    } else {
        buf_append_str(&b, "{\"status\":\"error\",");
        reply_error_fields(&b, code, m, strlen(m), NULL, 0);
    }
    buf_appendf(&b, ",\"retryAfterMs\":%d}", 500 + rand() % 1500);
    respond_json(c, 503, &b);
    buf_release(&b);
}

/* --- the query result cache (live/qcache.h) --- */

/* A call's key in the cache: the answer's shape, the function, its canonical arguments (sorted
 * keys: arguments that differ only in key order share an entry, as live queries do) and the
 * caller's identity. */
struct cache_key {
    char shape[16];
    char *args; /* jansson's allocation (free()); NULL: "{}" */
    struct qcache_key k;
};

static void cache_key_init(struct cache_key *ck, const struct call_req *cr,
                           const struct js_function *fn, const json_t *args_value,
                           const char *identity)
{
    if (cr->convex)
        snprintf(ck->shape, sizeof ck->shape, "c%d", (int)cr->format);
    else
        snprintf(ck->shape, sizeof ck->shape, "v");
    ck->args = args_value ? json_dumps(args_value, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    ck->k = (struct qcache_key){ .shape = ck->shape,
                                 .path = fn->path,
                                 .args = ck->args ? ck->args : "{}",
                                 .identity = identity ? identity : "" };
}

/* Answers from the cache if it holds the call's answer (1); else qcache_get's 0 (cache this
 * run) or -1 (do not). A hit's answer is the one a run now would give: nothing its run read has
 * been written since (a write in the open batch would have dropped it too), and the version it
 * names is the last committed one. */
static int answer_cached(struct http_api *api, struct conn *c, const struct qcache_key *k)
{
    struct slice body;
    size_t vpos;
    struct shard *sh = api->shard;
    int r = qcache_get(sh->qcache, k, &body, &vpos);
    if (r != 1)
        return r;
    sh->calls++;
    if (vpos == SIZE_MAX) {
        http_respond(c, 200, json_content_type, body.p, body.len, cors_headers);
        return 1;
    }
    struct buf b = BUF_INIT(BUF_NOLIMIT);
    buf_append(&b, body.p, vpos);
    buf_appendf(&b, "%llu", (unsigned long long)store_committed_version(sh->store));
    buf_append(&b, body.p + vpos, body.len - vpos);
    respond_json(c, 200, &b);
    buf_release(&b);
    return 1;
}

/* Caches a successful answer whose run's ticket was taken before it began. */
static void cache_answer(struct shard *sh, uint64_t ticket, const struct qcache_key *k,
                         const struct read_set *reads, const struct buf *body,
                         const struct version_at *vat)
{
    if (vat->pos == SIZE_MAX) {
        qcache_put(sh->qcache, ticket, k, reads, body->data, body->len, SIZE_MAX);
        return;
    }
    struct buf b = BUF_INIT(BUF_NOLIMIT); /* the answer without its version digits */
    buf_append(&b, body->data, vat->pos);
    buf_append(&b, body->data + vat->pos + vat->len, body->len - vat->pos - vat->len);
    qcache_put(sh->qcache, ticket, k, reads, b.data, b.len, vat->pos);
    buf_release(&b);
}

/* Whether a finished run's answer may be cached: it succeeded, read through a transaction, and
 * holds no pagination cursors. */
static int cacheable(const struct js_result *res)
{
    return res->status == JS_OK && res->txn && !res->paginated;
}

/* A query running on a reader thread (proto/readers.h) holds its connection until answered;
 * the reader writes the answer's bytes (query_format: call_body and not_found_body touch only
 * their arguments), the loop thread sends them. With the cache, query_format also copies the
 * run's read set into `reads` (the fields below `cache` are written by the reader and read by
 * query_done only: the pool's mutex orders the two). */
struct http_query {
    struct conn *c;
    struct shard *shard;
    struct call_req cr;
    int cache;             /* cache the answer (ticket, key taken at submit) */
    uint64_t ticket;
    struct cache_key ck;   /* ck.k.path points at path, ck.k.identity at identity */
    char *identity;
    int cached_run;        /* written on the reader: a cacheable run, reads and vat set */
    struct read_set reads;
    struct version_at vat;
    char path[]; /* the function's path, for a FunctionNotFound answer */
};

static int query_format(void *arg, int found, const struct js_result *res, struct buf *b)
{
    struct http_query *hq = arg;
    if (!found) /* a deploy removed it after the loop thread found it */
        return not_found_body(b, &hq->cr, hq->path);
    if (hq->cache && cacheable(res)) {
        read_set_copy(&hq->reads, store_txn_read_set(res->txn));
        hq->cached_run = 1;
    }
    return call_body(b, &hq->cr, res->status == JS_OK, res, &hq->vat);
}

static void http_query_free(struct http_query *hq)
{
    read_set_release(&hq->reads);
    free(hq->ck.args);
    vr_free(hq->identity);
    vr_free(hq);
}

static void query_done(void *arg, int status, struct buf *body, int ok)
{
    struct http_query *hq = arg;
    hq->shard->calls++;
    if (!ok)
        hq->shard->call_errors++;
    /* it read committed data only: its answer never waits for a batch */
    if (!conn_is_closed(hq->c))
        respond_json(hq->c, status, body);
    if (ok && hq->cached_run && hq->shard->qcache)
        cache_answer(hq->shard, hq->ticket, &hq->ck.k, &hq->reads, body, &hq->vat);
    conn_unref(hq->c);
    http_query_free(hq);
}

/* Hands a query to the readers; takes *args and *root on success (set to NULL), and ck's
 * arguments (ck NULL: not cached). */
static void submit_query(struct http_api *api, struct conn *c, const struct call_req *cr,
                         const struct js_function *fn, char **args, json_t **root,
                         const json_t *args_value, const char *identity, struct cache_key *ck)
{
    size_t plen = strlen(fn->path) + 1;
    struct http_query *hq = vr_calloc(1, sizeof *hq + plen);
    hq->c = c;
    hq->shard = api->shard;
    hq->cr = *cr;
    memcpy(hq->path, fn->path, plen);
    if (ck) {
        hq->cache = 1;
        hq->ticket = qcache_ticket(api->shard->qcache);
        hq->ck = *ck;
        ck->args = NULL;
        hq->identity = vr_strdup(ck->k.identity);
        hq->ck.k.path = hq->path;
        hq->ck.k.shape = hq->ck.shape;
        hq->ck.k.args = hq->ck.args ? hq->ck.args : "{}";
        hq->ck.k.identity = hq->identity;
    }
    conn_ref(c);
    int r = reader_pool_submit(api->shard->readers, fn->path, *args, *root, args_value, identity,
                               query_format, query_done, hq);
    if (r < 0) {
        conn_unref(c);
        http_query_free(hq);
        respond_busy(c, cr, r, "too many queries are queued or running; retry later");
        return;
    }
    *args = NULL;
    *root = NULL;
}

static void submit_action(struct http_api *api, struct conn *c, const struct call_req *cr,
                          const struct js_function *fn, const char *args, const json_t *args_value,
                          const char *identity, const struct js_request *origin)
{
    struct buf err = BUF_INIT(64 * 1024);
    if (js_runtime_check_args(api->shard->rt, fn, args, strlen(args), args_value, &err) < 0) {
        struct buf text = BUF_INIT(BUF_NOLIMIT);
        buf_appendf(&text, "ArgumentValidationError: %s", err.data);
        respond_call_error(c, cr, 400, "ArgumentValidationError", err.data, text.data);
        buf_release(&text);
        goto out;
    }
    struct http_action *ha = vr_calloc(1, sizeof *ha);
    ha->c = c;
    ha->cr = *cr;
    conn_ref(c);
    int r = action_pool_submit(api->shard->actions, fn, args, strlen(args), identity, origin,
                               action_done, ha);
    if (r < 0) {
        conn_unref(c);
        vr_free(ha);
        respond_busy(c, cr, r, "too many actions are queued or running; retry later");
    }
out:
    buf_release(&err);
}

/* The full path of function fn of the component at componentPath cp ("a/b": b, a child of a)
 * in name (cap bytes), or why not. */
static const char *component_path(const json_t *cp, const char *fn, char *name, size_t cap)
{
    const char *p = json_string_value(cp);
    size_t n = json_string_length(cp);
    if (!p || !n || strlen(p) != n || n > 256 || p[0] == '/' || p[n - 1] == '/' ||
        strstr(p, "//") ||
        strspn(p, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-/") != n)
        return "\"componentPath\" must be a component's path: names like \"counter\" or "
               "\"parent/child\"";
    struct buf ns = BUF_INIT(BUF_NOLIMIT), full = BUF_INIT(BUF_NOLIMIT);
    buf_appendf(&ns, "%s/", p);
    int ok = js_job_function_path(ns.data, fn, &full) == 0 && full.len < cap;
    if (ok)
        memcpy(name, full.data, full.len + 1);
    buf_release(&ns);
    buf_release(&full);
    return ok ? NULL : "the function's path is too long";
}

/* `POST /api/admin/run`'s own options (`vireo run --component --identity`): "componentPath"
 * names a component's function, "identity" (an object) the user to act as. -1: refused. */
static int admin_body_options(struct conn *c, struct call_req *cr, const json_t *root,
                              const char **path, char *comp_path, size_t cap, const char **identity,
                              char **acting)
{
    const json_t *cp = json_object_get(root, "componentPath"),
                 *id = json_object_get(root, "identity");
    if (cp && !json_is_null(cp) && !(json_is_string(cp) && !json_string_length(cp))) {
        const char *why = component_path(cp, *path, comp_path, cap);
        if (why) {
            respond_refused(c, cr, 400, "BadJsonBody", why);
            return -1;
        }
        *path = comp_path;
    }
    if (id && !json_is_null(id)) {
        if (!json_is_object(id) || !(*acting = http_auth_identity_text(id))) {
            respond_refused(c, cr, 400, "BadJsonBody",
                            "\"identity\" must be an object: the user identity to act as");
            return -1;
        }
        *identity = *acting;
    }
    return 0;
}

/* identity: the caller's verified identity JSON (http_auth.h), or NULL */
static void handle_call(struct http_api *api, struct conn *c, struct http_request *req,
                        const char *url_fn, int want_kind, int admin, const char *identity,
                        json_t *parsed)
{
    json_t *root = NULL;
    const char *path = NULL;
    char *args = NULL;
    const json_t *args_value = NULL;
    struct call_req cr;
    struct js_result res;
    js_result_init(&res);
    struct buf idem_key = BUF_INIT(BUF_NOLIMIT);
    struct cache_key ck = { .args = NULL };
    int cache_on = 0; /* a query whose answer may be cached under ck */
    struct call_origin origin;
    int have_origin = 0;
    char comp_path[512], *acting = NULL;
    if (parse_call(c, req, url_fn, parsed, &cr, &root, &path, &args, &args_value) < 0)
        goto out;
    if (admin && !cr.convex &&
        admin_body_options(c, &cr, root, &path, comp_path, sizeof comp_path, &identity, &acting) <
            0)
        goto out;
    json_t *idem = json_object_get(root, "idempotencyKey");
    const char *idempotency_key = json_string_value(idem);
    if ((idem && !json_is_string(idem) && !json_is_null(idem)) ||
        (idempotency_key &&
         (strlen(idempotency_key) > 200 || strlen(idempotency_key) != json_string_length(idem)))) {
        respond_refused(c, &cr, 400, "BadJsonBody",
                        "\"idempotencyKey\" must be a string of at most 200 bytes");
        goto out;
    }
    struct js_runtime *rt = api->shard->rt;
    if (!rt) {
        respond_refused(c, &cr, 503, "NoAppLoaded",
                        shard_no_app_text(api->shard, "no app is loaded yet (the dev server is "
                                                      "waiting for code that loads)"));
        goto out;
    }
    const struct js_function *fn = find_function(rt, path);
    if (!fn || (fn->internal && !admin)) {
        /* an internal function gets exactly a missing one's answer: names are not disclosed */
        struct buf b = BUF_INIT(BUF_NOLIMIT);
        int status = not_found_body(&b, &cr, path);
        respond_json(c, status, &b);
        buf_release(&b);
        goto out;
    }
    if (want_kind >= 0 && (int)fn->kind != want_kind) {
        char msg[600];
        snprintf(msg, sizeof msg, "`%.400s` is a %s, not a %s; call it through /api/%s", path,
                 js_kind_name(fn->kind), js_kind_name((enum js_fn_kind)want_kind),
                 js_kind_name(fn->kind));
        struct buf text = BUF_INIT(BUF_NOLIMIT);
        js_wrong_kind_text(&text, fn->path, want_kind, (int)fn->kind);
        respond_call_error(c, &cr, 400, "WrongFunctionKind", msg, text.data);
        buf_release(&text);
        goto out;
    }
    if (cr.convex) {
        struct buf err = BUF_INIT(512);
        int r = convex_http_args(json_object_get(root, "args"), &args_value, &err);
        if (r < 0) {
            struct buf text = BUF_INIT(BUF_NOLIMIT);
            buf_appendf(&text, "ArgumentValidationError: %s", err.data);
            respond_call_error(c, &cr, 400, "ArgumentValidationError", err.data, text.data);
            buf_release(&text);
        }
        buf_release(&err);
        if (r < 0)
            goto out;
    }
    if (fn->kind == JS_QUERY && api->shard->qcache) {
        cache_key_init(&ck, &cr, fn, args_value, identity);
        int r = answer_cached(api, c, &ck.k);
        if (r == 1)
            goto out;
        cache_on = r == 0;
    }
    args = args_value ? json_dumps(args_value, JSON_COMPACT) : vr_strdup("{}");
    if (idempotency_key && fn->kind == JS_MUTATION) {
        /* HTTP keys have one scope, "http", apart from every sync session's; a key is bound
         * to the call it was first used for (docs/protocol.md "Idempotency") */
        char *canon = args_value ? json_dumps(args_value, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
        store_idem_key(&idem_key, "http", idempotency_key, path, canon ? canon : "{}",
                       canon ? strlen(canon) : 2);
        free(canon);
        struct buf err = BUF_INIT(4096);
        int r = store_idem_conflict(api->shard->store, idem_key.data, idem_key.len, &err);
        if (r != 0)
            respond_refused(c, &cr, r > 0 ? 409 : 500,
                            r > 0 ? "IdempotencyKeyReused" : "StoreError",
                            r > 0 ? "this idempotencyKey was already used for another call (a "
                                    "different function or arguments); use a new key per call"
                                  : err.data);
        buf_release(&err);
        if (r != 0)
            goto out;
        idempotency_key = idem_key.data;
    }
    struct js_call_opts opts = { .idempotency_key = idempotency_key, .args_value = args_value,
                                 .identity = identity };
    /* the readers, unless none has the version a deploy just installed (the loop answers
     * meanwhile: reader_pool_ready) */
    int readers = api->shard->readers && reader_pool_ready(api->shard->readers);
    if (cache_on && readers) {
        submit_query(api, c, &cr, fn, &args, &root, opts.args_value, identity, &ck);
        goto out;
    }
    if (fn->kind == JS_QUERY && readers) {
        submit_query(api, c, &cr, fn, &args, &root, opts.args_value, identity, NULL);
        goto out;
    }
    /* where a mutation or an action came from (ctx.meta.getRequestMetadata(); a query never
     * asks, and reading the peer's address costs a system call) */
    if (fn->kind != JS_QUERY) {
        call_origin_http(&origin, c, req, identity != NULL && !admin,
                         cr.convex ? cr.request_id : NULL);
        have_origin = 1;
        opts.request = &origin.r;
    }
    if (fn->kind == JS_ACTION && api->shard->actions) {
        submit_action(api, c, &cr, fn, args, opts.args_value, identity, &origin.r);
        goto out;
    }
    struct buf b = BUF_INIT(BUF_NOLIMIT);
    uint64_t ticket = cache_on ? qcache_ticket(api->shard->qcache) : 0;
    int ok = shard_call(api->shard, fn, args, strlen(args), &opts, &res) == 0;
    struct version_at vat;
    int status = call_body(&b, &cr, ok, &res, &vat);
    if (cache_on && cacheable(&res))
        cache_answer(api->shard, ticket, &ck.k, store_txn_read_set(res.txn), &b, &vat);
    http_api_respond_call(api, c, status, cr.convex, &b);
    buf_release(&b);
out:
    if (have_origin)
        call_origin_release(&origin);
    free(acting);
    free(ck.args);
    js_result_release(&res);
    buf_release(&idem_key);
    free(args);
    json_decref(root);
}

/* A function call with a Bearer token runs once the token is verified (http_auth.h). */
struct call_target {
    char url_fn[512]; /* "" for the body's path */
    int want_kind;
};

static void run_verified_call(struct http_api *api, struct conn *c, struct http_request *req,
                              const void *arg, const char *identity, json_t *body)
{
    const struct call_target *t = arg;
    handle_call(api, c, req, t->url_fn[0] ? t->url_fn : NULL, t->want_kind, 0, identity, body);
}

/* parsed: the body as body_json(req, CALL_JSON_FLAGS) parsed it (borrowed), or NULL: not yet */
static void authenticated_call(struct http_api *api, struct conn *c, struct http_request *req,
                               const char *url_fn, int want_kind, json_t *parsed)
{
    struct call_target t = { .want_kind = want_kind };
    const char *tok;
    size_t len;
    char *acting = NULL;
    int status;
    struct buf err = BUF_INIT(512);
    int admin = http_auth_convex_admin(req, api->admin_key, &acting, &status, &err);
    if (admin) { /* Convex's admin scheme: internal functions too, as a given identity or none */
        if (admin > 0) {
            handle_call(api, c, req, url_fn, want_kind, 1, acting, parsed);
        } else {
            struct buf b = BUF_INIT(BUF_NOLIMIT);
            convex_http_request_error(&b, status == 401 ? "BadAdminKey" : "BadAuthHeader",
                                      err.data);
            respond_json(c, status, &b);
            buf_release(&b);
        }
        free(acting);
        buf_release(&err);
        return;
    }
    buf_release(&err);
    if (!http_auth_bearer(req, &tok, &len)) {
        handle_call(api, c, req, url_fn, want_kind, 0, NULL, parsed);
        return;
    }
    snprintf(t.url_fn, sizeof t.url_fn, "%s", url_fn ? url_fn : "");
    /* a refusal answers in the request's shape (Convex's, or Vireo's) */
    int convex = url_fn != NULL || http_header_get(req, "convex-client");
    json_t *root = NULL;
    if (!convex) { /* parsed once: the call takes it along */
        root = parsed ? json_incref(parsed) : body_json(req, CALL_JSON_FLAGS);
        convex = convex_http_is_convex(req, root);
    }
    http_auth_run(api, c, req, convex ? HTTP_AUTH_CONVEX : 0, run_verified_call, &t, sizeof t,
                  root ? root : parsed);
    json_decref(root);
}

/* Convex's HTTP API `POST /api/run/<module path>/<function>`: any public function, its kind
 * as defined, the body {args, format}; "messages/list" names messages:list, "dir/mod/fn"
 * dir/mod:fn (a ':' written out is taken as is). */
static void handle_run(struct http_api *api, struct conn *c, struct http_request *req,
                       struct slice ident, int is_post)
{
    char name[512];
    size_t slash = 0, colon = 0;
    if (!is_post) {
        http_api_respond_error(c, 405, "MethodNotAllowed",
                               "use POST with a JSON body {\"args\": {...}, \"format\": \"json\"}",
                               NULL);
        return;
    }
    if (ident.len >= sizeof name) {
        http_api_respond_error(c, 404, "NotFound", "function path too long", NULL);
        return;
    }
    for (size_t i = 0; i < ident.len; i++) {
        char ch = ident.p[i];
        if (!(isalnum((unsigned char)ch) || ch == '_' || ch == '-' || ch == '.' || ch == '/' ||
              ch == ':')) {
            http_api_respond_error(c, 404, "NotFound",
                                   "a function path holds letters, digits and _ - . / : only",
                                   NULL);
            return;
        }
        if (ch == '/')
            slash = i + 1;
        if (ch == ':')
            colon = i + 1;
    }
    memcpy(name, ident.p, ident.len);
    name[ident.len] = '\0';
    if (!colon && slash)
        name[slash - 1] = ':';
    authenticated_call(api, c, req, name, -1, NULL);
}

/* /api/function's componentPath: as in Convex, only an admin names a component's function
 * (`npx convex run --component`); a client gets a missing function's answer (*status, *code). */
static const char *component_function(const struct http_request *req, const json_t *cp,
                                      const char *fn, char *name, size_t cap, int *status,
                                      const char **code)
{
    /* the key is checked by authenticated_call (a wrong one gets its own answer) */
    *status = 404;
    *code = "NotFound";
    if (!http_auth_convex_scheme(req))
        return "a component's functions are called through the app's functions; only an admin "
               "key (Authorization: Convex <key>) names one with \"componentPath\"";
    *status = 400;
    *code = "BadJsonBody";
    return component_path(cp, fn, name, cap);
}

/* Convex's `POST /api/function` (ConvexHttpClient's `function()`): /api/run's call, the
 * function named by the body's "path"; a "componentPath" other than empty names a component's
 * function, for an admin only (component_function). */
static void handle_function(struct http_api *api, struct conn *c, struct http_request *req,
                            int is_post)
{
    struct buf b = BUF_INIT(BUF_NOLIMIT);
    char name[512];
    const char *code = "BadJsonBody", *msg = NULL;
    int status = 400;
    if (!is_post) {
        http_api_respond_error(c, 405, "MethodNotAllowed",
                               "use POST with a JSON body {\"path\": ..., \"args\": {...}}", NULL);
        return;
    }
    json_t *root = body_json(req, CALL_JSON_FLAGS);
    if (!root) { /* /api/run's answer to a body that is not JSON, with jansson's details */
        authenticated_call(api, c, req, "", -1, NULL);
        return;
    }
    const json_t *path = json_object_get(root, "path"),
                 *cp = json_object_get(root, "componentPath");
    if (!json_is_object(root))
        msg = "request body must be a JSON object";
    else if (!json_is_string(path) || !json_string_length(path) ||
             json_string_length(path) >= sizeof name ||
             strlen(json_string_value(path)) != json_string_length(path))
        msg = "request body needs \"path\": a function name like \"messages:list\"";
    else if (cp && !json_is_null(cp) && !(json_is_string(cp) && !json_string_length(cp)))
        msg =
            component_function(req, cp, json_string_value(path), name, sizeof name, &status, &code);
    else
        memcpy(name, json_string_value(path), json_string_length(path) + 1);
    if (msg) {
        json_decref(root);
        convex_http_request_error(&b, code, msg);
        respond_json(c, status, &b);
        buf_release(&b);
        return;
    }
    authenticated_call(api, c, req, name, -1, root); /* parsed once */
    json_decref(root);
}

static int admin_authorized(const struct http_api *api, const struct http_request *req)
{
    const struct slice *h = http_header_get(req, "authorization");
    static const char prefix[] = "Bearer ";
    if (!h || h->len < sizeof prefix - 1 || strncasecmp(h->p, prefix, sizeof prefix - 1))
        return 0;
    return http_auth_admin_key_is(h->p + sizeof prefix - 1, h->len - (sizeof prefix - 1),
                                  api->admin_key);
}

int http_api_admin_authorized(const struct http_api *api, const struct http_request *req)
{
    return admin_authorized(api, req);
}

/* GET /api/admin/export[?includeStorage=true]: a snapshot ZIP (snapshot_zip.h), made on a thread
 * (export_job.h) and sent as an attachment. */
static int write_snapshot(void *arg, const char *out_path, struct buf *err)
{
    return snapshot_zip_write(arg, out_path, err);
}

static void free_snapshot(void *arg)
{
    snapshot_zip_free(arg);
}

static void handle_export(struct http_api *api, struct conn *c, const struct http_request *req)
{
    struct shard *sh = api->shard;
    struct slice v;
    int storage = 0;
    if (http_query_param(req->query, "includeStorage", &v)) {
        storage = slice_eq_str(v, "true") ? 1 : slice_eq_str(v, "false") ? 0 : -1;
        if (storage < 0) {
            http_api_respond_error(c, 400, "InvalidArgument",
                                   "includeStorage must be true or false", NULL);
            return;
        }
    }
    if (!api->exports || !sh->db_path) {
        http_api_respond_error(c, 400, "ExportUnavailable",
                               "this server keeps its database in memory: there is no snapshot "
                               "to export",
                               NULL);
        return;
    }
    /* the temporary files go one folder above the database's: a tenant's folder is removed
     * whole by a forced delete, and its parent (the tenants' folder) never holds a tenant under
     * a dot name; the single shard's is the app's .vireo/ */
    char dir[4500], file[64];
    export_job_snapshot_dir(sh->db_path, dir, sizeof dir);
    snprintf(file, sizeof file, "snapshot_%.0f.zip", clock_wall_ms());
    struct snapshot_zip *z = vr_calloc(1, sizeof *z);
    z->db_path = vr_strdup(sh->db_path);
    z->files_dir = sh->files_dir ? vr_strdup(sh->files_dir) : NULL;
    z->include_storage = storage;
    struct export_spec spec = {dir, "snapshot", file, "application/zip", "ExportFailed"};
    struct export_work w = {write_snapshot, z, free_snapshot};
    export_job_start(api->exports, c, &spec, &w);
}

/* The admin routes' gate: the route's method (method_ok) with the admin key, else answered here
 * (405 saying `use`, 401). */
static int admin_gate_body(const struct http_api *api, struct conn *c,
                           const struct http_request *req, int method_ok, const char *use)
{
    if (!method_ok) {
        http_api_respond_error(c, 405, "MethodNotAllowed", use, NULL);
        return 0;
    }
    if (!admin_authorized(api, req)) {
        http_api_respond_error(c, 401, "Unauthorized",
                               "the admin API needs \"Authorization: Bearer <admin key>\" (the key "
                               "`vireo admin-key` prints, stored in the app's .vireo/admin_key)",
                               NULL);
        return 0;
    }
    return 1;
}

static int admin_gate(const struct http_api *api, struct conn *c, const struct http_request *req,
                      int is_post)
{
    return admin_gate_body(api, c, req, is_post, "use POST with a JSON body");
}

/* A new admin key, saved (durably) before it replaces the old one: the old one stops working
 * at once, and the answer is the only place the new one is shown. */
static void handle_rotate_key(struct http_api *api, struct conn *c)
{
    char key[65], line[80];
    if (!api->admin_key_path) {
        http_api_respond_error(c, 409, "CannotRotate",
                               "this server has no admin key file to save a new key in", NULL);
        return;
    }
    rand_hex(key, 32);
    int n = snprintf(line, sizeof line, "%s\n", key);
    int r = file_write_atomic(api->admin_key_path, line, (size_t)n, 0600, 1);
    if (r < 0) {
        char msg[600];
        snprintf(msg, sizeof msg, "cannot save the new admin key in %.400s: %s (the old key "
                 "still works)", api->admin_key_path, strerror(-r));
        http_api_respond_error(c, 500, "CannotRotate", msg, NULL);
        return;
    }
    memcpy(api->admin_key, key, sizeof key);
    log_info("http", "conn=%llu admin key rotated (saved in %s)",
             (unsigned long long)conn_id(c), api->admin_key_path);
    struct buf b = BUF_INIT(BUF_NOLIMIT);
    buf_appendf(&b, "{\"adminKey\":\"%s\"}", key);
    respond_json(c, 200, &b);
    buf_release(&b);
}

static void handle_health(struct http_api *api, struct conn *c)
{
    struct buf b = BUF_INIT(BUF_NOLIMIT);
    buf_appendf(&b, "{\"status\":\"ok\",\"app\":%s,\"version\":%llu}",
                api->shard->rt ? "\"loaded\"" : "\"none\"",
                (unsigned long long)store_version(api->shard->store));
    respond_json(c, 200, &b);
    buf_release(&b);
}

static void handle_metrics(struct http_api *api, struct conn *c)
{
    long rss_pages = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f) {
        long size;
        if (fscanf(f, "%ld %ld", &size, &rss_pages) != 2)
            rss_pages = 0;
        fclose(f);
    }
    struct shard *sh = api->shard;
    const struct live_stats *ls = live_stats(sh->live);
    struct buf b = BUF_INIT(BUF_NOLIMIT);
    buf_appendf(&b,
                "{\"requests\":%llu,\"functionCalls\":%llu,\"functionErrors\":%llu,"
                "\"storeVersion\":%llu,\"batches\":%llu,\"batchFailures\":%llu,"
                "\"liveQueries\":%zu,\"liveRanges\":%zu,\"queryExecutions\":%llu,"
                "\"queryReruns\":%llu,\"resultsSuppressed\":%llu,\"invalidations\":%llu,"
                "\"liveLogBytes\":%zu,",
                (unsigned long long)api->requests, (unsigned long long)sh->calls,
                (unsigned long long)sh->call_errors,
                (unsigned long long)store_version(sh->store), (unsigned long long)sh->batches,
                (unsigned long long)sh->batch_failures, live_query_count(sh->live),
                live_range_count(sh->live), (unsigned long long)ls->executions,
                (unsigned long long)ls->reruns, (unsigned long long)ls->suppressed,
                (unsigned long long)ls->invalidations, live_log_bytes(sh->live));
    if (api->sync) {
        const struct sync_stats *ss = sync_stats(api->sync);
        buf_appendf(&b,
                    "\"sessions\":%llu,\"connections\":%llu,\"messagesIn\":%llu,"
                    "\"messagesOut\":%llu,\"transitions\":%llu,",
                    (unsigned long long)ss->sessions, (unsigned long long)ss->connections,
                    (unsigned long long)ss->messages_in, (unsigned long long)ss->messages_out,
                    (unsigned long long)ss->transitions);
    }
    if (api->actors) {
        const struct actors_stats *as = actors_stats(api->actors);
        buf_appendf(&b,
                    "\"actorSockets\":%llu,\"actorInstances\":%llu,\"actorCalls\":%llu,"
                    "\"actorActivations\":%llu,\"actorDeactivations\":%llu,"
                    "\"actorDestroys\":%llu,\"actorSuspendedCalls\":%llu,"
                    "\"actorBatches\":%llu,\"actorBatchedCalls\":%llu,",
                    (unsigned long long)as->sockets, (unsigned long long)as->instances,
                    (unsigned long long)as->calls, (unsigned long long)as->activations,
                    (unsigned long long)as->deactivations, (unsigned long long)as->destroys,
                    (unsigned long long)as->suspended, (unsigned long long)as->batches,
                    (unsigned long long)as->batched_calls);
    }
    /* fsyncs: syncs made by the loop thread's commits (one per batch with durability full) */
    buf_appendf(&b, "\"durability\":\"%s\",\"fsyncs\":%llu,",
                store_durability(sh->store) == STORE_DURABILITY_FULL ? "full" : "relaxed",
                (unsigned long long)store_sync_count(sh->store));
    struct store_usage su;
    struct buf serr = BUF_INIT(4096);
    if (store_max_bytes(sh->store) && store_usage(sh->store, &su, &serr) == 0)
        buf_appendf(&b,
                    "\"storageLimitBytes\":%llu,\"storageDatabaseBytes\":%llu,"
                    "\"storageFileBytes\":%llu,",
                    (unsigned long long)su.limit_bytes, (unsigned long long)su.database_bytes,
                    (unsigned long long)su.file_bytes);
    buf_release(&serr);
    if (sh->actions)
        buf_appendf(&b, "\"actionsPending\":%u,\"actionsRejected\":%llu,",
                    action_pool_pending(sh->actions),
                    (unsigned long long)action_pool_rejected(sh->actions));
    if (sh->readers)
        buf_appendf(&b, "\"readerQueries\":%llu,\"readerQueriesPending\":%u,",
                    (unsigned long long)reader_pool_done(sh->readers),
                    reader_pool_pending(sh->readers));
    if (sh->qcache) {
        const struct qcache_stats *qs = qcache_stats(sh->qcache);
        buf_appendf(&b,
                    "\"queryCacheHits\":%llu,\"queryCacheMisses\":%llu,"
                    "\"queryCacheFirstMisses\":%llu,"
                    "\"queryCacheEntries\":%zu,\"queryCacheBytes\":%zu,"
                    "\"queryCacheInserts\":%llu,\"queryCacheInvalidations\":%llu,"
                    "\"queryCacheEvictions\":%llu,\"queryCacheRefused\":%llu,"
                    "\"queryCacheClears\":%llu,\"queryCacheMaxBytes\":%zu,",
                    (unsigned long long)qs->hits, (unsigned long long)qs->misses,
                    (unsigned long long)qs->first_misses, qs->entries,
                    qs->bytes, (unsigned long long)qs->inserts,
                    (unsigned long long)qs->invalidations, (unsigned long long)qs->evictions,
                    (unsigned long long)qs->refused, (unsigned long long)qs->clears,
                    qcache_max_bytes(sh->qcache));
    }
    struct store_vector_cache_stats vs;
    store_vector_cache_stats(&vs);
    buf_appendf(&b, "\"vectorCacheBytes\":%zu,\"vectorCacheBuilds\":%llu,\"vectorCacheAppends\":%llu,",
                vs.bytes, (unsigned long long)vs.builds, (unsigned long long)vs.appends);
    if (sh->sched)
        buf_appendf(&b, "\"scheduledPending\":%llu,\"scheduledStarted\":%llu,",
                    (unsigned long long)*sched_pending(sh->sched),
                    (unsigned long long)sched_started(sh->sched));
    if (api->server)
        buf_appendf(&b, "\"openConnections\":%zu,\"bufferedBytes\":%zu,",
                    server_conn_count(api->server), server_buffered_bytes(api->server));
    buf_appendf(&b, "\"rssBytes\":%ld}", rss_pages * sysconf(_SC_PAGESIZE));
    respond_json(c, 200, &b);
    buf_release(&b);
}

/* --- test echo WebSocket --- */

static void echo_message(struct ws *ws, int is_text, const char *p, size_t n, void *arg)
{
    ws_send(ws, is_text, p, n);
}

static const struct ws_handlers echo_handlers = { NULL, echo_message, NULL };

/* --- static files --- */

static const char *content_type_for(const char *path)
{
    static const struct { const char *ext, *type; } types[] = {
        { ".html", "text/html; charset=utf-8" }, { ".js", "text/javascript; charset=utf-8" },
        { ".mjs", "text/javascript; charset=utf-8" }, { ".css", "text/css; charset=utf-8" },
        { ".json", "application/json" }, { ".svg", "image/svg+xml" }, { ".png", "image/png" },
        { ".ico", "image/x-icon" }, { ".txt", "text/plain; charset=utf-8" },
        { ".map", "application/json" },
    };
    const char *dot = strrchr(path, '.');
    for (size_t i = 0; dot && i < sizeof types / sizeof types[0]; i++)
        if (!strcmp(dot, types[i].ext))
            return types[i].type;
    return "application/octet-stream";
}

static int read_file(const char *path, struct buf *out)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    int r = 0;
    char tmp[65536];
    for (;;) {
        ssize_t n = read(fd, tmp, sizeof tmp);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            r = -errno;
            break;
        }
        if (n == 0)
            break;
        if (buf_append(out, tmp, (size_t)n) < 0) {
            r = -E2BIG;
            break;
        }
    }
    close(fd);
    return r;
}

/* Serves a file of public/: 1 when answered, 0 when there is no such file (the caller answers). */
static int handle_static(struct http_api *api, struct conn *c, struct http_request *req)
{
    char rel[PATH_MAX];
    struct slice p = req->path;
    if (p.len >= sizeof rel - 16 || memmem(p.p, p.len, "..", 2) || memchr(p.p, '\0', p.len))
        return 0;
    memcpy(rel, p.p, p.len);
    rel[p.len] = '\0';
    /* No dotfiles or dot-folders (/.env, /.git/HEAD): they hold secrets, never assets. */
    for (size_t i = 0; i + 1 < p.len; i++) {
        if (rel[i] == '/' && rel[i + 1] == '.')
            return 0;
    }
    if (rel[p.len - 1] == '/')
        snprintf(rel + p.len, sizeof rel - p.len, "index.html");
    char full[PATH_MAX * 2];
    snprintf(full, sizeof full, "%s%s", api->public_dir, rel);
    /* Symlinks are followed only while they stay inside public/: the resolved path must be
     * public/'s own resolved path plus '/'. */
    char root[PATH_MAX], real[PATH_MAX];
    size_t rl = 0;
    int inside = realpath(api->public_dir, root) && realpath(full, real);
    if (inside) {
        rl = strlen(root);
        inside = !strncmp(real, root, rl) && real[rl] == '/';
    }
    struct stat st;
    if (!inside || stat(real, &st) < 0 || !S_ISREG(st.st_mode))
        return 0;
    struct buf b = BUF_INIT(MAX_STATIC_FILE);
    if (read_file(real, &b) < 0) {
        http_api_respond_error(c, 500, "ReadFailed", "could not read the file", NULL);
    } else {
        /* http_respond leaves the body out for HEAD but keeps its Content-Length */
        http_respond(c, 200, content_type_for(full), b.data, b.len, "Cache-Control: no-cache\r\n");
    }
    buf_release(&b);
    return 1;
}

/* --- the embedded JavaScript client --- */

static void handle_client(struct conn *c, struct slice path, int is_get)
{
    size_t n = sizeof STATIC_CLIENT_PREFIX - 1;
    const struct embedded_file *f =
        is_get ? static_client_find(slice_of(path.p + n, path.len - n)) : NULL;
    if (!f) {
        http_api_respond_error(c, 404, "NotFound", "no such file", NULL);
        return;
    }
    http_respond(c, 200, "text/javascript; charset=utf-8", f->data, f->len,
                 "Cache-Control: no-cache\r\n");
}

/* --max-http-action-body, or its default */
static size_t action_body_max(const struct http_api *api)
{
    return api->max_http_action_body ? api->max_http_action_body : HTTP_ACTION_BODY_DEFAULT;
}

/* Vireo's own paths, never the app's HTTP actions */
static int reserved_path(struct slice path)
{
    return (path.len >= 4 && !memcmp(path.p, "/api", 4) && (path.len == 4 || path.p[4] == '/')) ||
           (path.len >= 7 && !memcmp(path.p, "/_vireo", 7) && (path.len == 7 || path.p[7] == '/'));
}

/* Does req go to one of the app's HTTP actions? Anywhere but Vireo's reserved /api/ and
 * /_vireo/, as the app's router sees the path: "/x/../api" is Vireo's /api. */
static int app_action_matches(const struct http_api *api, const struct http_request *req)
{
    if (reserved_path(req->path) || !http_action_has_routes(api->shard))
        return 0;
    char stack[2048];
    struct slice route = http_action_route(req->path, stack, sizeof stack);
    int r = !reserved_path(route) && http_action_match(api->shard, req->method, route);
    http_action_route_free(route, stack);
    return r;
}

int http_api_head(struct conn *c, struct http_request *req, void *arg)
{
    struct http_api *api = arg;
    if (http_storage_head(api, c, req) || http_admin_import_head(api, c, req))
        return 1;
    /* an HTTP action's body its Content-Length shows is over the limit: refused unread */
    size_t max = action_body_max(api);
    if (req->content_length < 0 || (unsigned long long)req->content_length <= max ||
        !app_action_matches(api, req))
        return 0;
    http_action_refuse_body(c, (size_t)req->content_length, max);
    return 1;
}

static void run_http_action(struct http_api *api, struct conn *c, struct http_request *req,
                            const void *arg, const char *identity, json_t *body)
{
    (void)arg, (void)body;
    http_action_run(api->shard, c, req, action_body_max(api),
                    api->max_http_action_response ? api->max_http_action_response
                                                  : HTTP_ACTION_RESPONSE_DEFAULT,
                    identity);
}

void http_api_handle(struct conn *c, struct http_request *req, void *arg)
{
    struct http_api *api = arg;
    api->requests++;
    int is_post = slice_eq_str(req->method, "POST");
    int is_get = slice_eq_str(req->method, "GET") || slice_eq_str(req->method, "HEAD");
    struct slice path = req->path;

    /* the app's HTTP actions come first (OPTIONS too: CORS is the app's to answer) */
    if (app_action_matches(api, req)) {
        http_auth_run(api, c, req, HTTP_AUTH_CONVEX | HTTP_AUTH_LENIENT, run_http_action, NULL, 0,
                      NULL);
        return;
    }

    /* Vireo's own routes answer preflights; the app's paths are the app's (its http.ts routes
     * OPTIONS itself, as in Convex): a grant there would open webhooks to every web origin */
    if (slice_eq_str(req->method, "OPTIONS") && reserved_path(path)) {
        http_respond(c, 204, NULL, NULL, 0,
                     "Access-Control-Allow-Origin: *\r\n"
                     "Access-Control-Allow-Methods: GET, POST, OPTIONS\r\n"
                     "Access-Control-Allow-Headers: Content-Type, Authorization\r\n"
                     "Access-Control-Max-Age: 86400\r\n");
        return;
    }
    static const struct { const char *path; int kind; } calls[] = {
        { "/api/query", JS_QUERY }, { "/api/mutation", JS_MUTATION }, { "/api/action", JS_ACTION },
    };
    for (size_t i = 0; i < 3; i++) {
        if (!slice_eq_str(path, calls[i].path))
            continue;
        if (!is_post) {
            http_api_respond_error(c, 405, "MethodNotAllowed", "use POST with a JSON body", NULL);
            return;
        }
        authenticated_call(api, c, req, NULL, calls[i].kind, NULL);
        return;
    }
    if (slice_eq_str(path, "/api/function")) {
        handle_function(api, c, req, is_post);
        return;
    }
    if (path.len > 9 && !memcmp(path.p, "/api/run/", 9)) {
        handle_run(api, c, req, slice_of(path.p + 9, path.len - 9), is_post);
        return;
    }
    if (slice_eq_str(path, "/api/admin/run")) {
        if (admin_gate(api, c, req, is_post))
            handle_call(api, c, req, NULL, -1, 1, NULL, NULL); /* the admin key is no JWT */
        return;
    }
    if (path.len >= 14 && !memcmp(path.p, "/api/admin/env", 14) &&
        (path.len == 14 || path.p[14] == '/')) {
        if (admin_gate(api, c, req, is_post))
            http_admin_env_handle(api->shard, &api->env_reloader, c, req,
                                  slice_of(path.p + 14, path.len - 14));
        return;
    }
    if (path.len >= 17 && !memcmp(path.p, "/api/admin/actors", 17) &&
        (path.len == 17 || path.p[17] == '/')) {
        http_admin_actors_handle(api, c, req, slice_of(path.p + 17, path.len - 17));
        return;
    }
    if (slice_eq_str(path, "/api/admin/rotate-key")) {
        if (admin_gate(api, c, req, is_post))
            handle_rotate_key(api, c);
        return;
    }
    if (slice_eq_str(path, "/api/admin/deploy")) { /* a new version of the app: deploy.c */
        if (!admin_gate_body(api, c, req, is_post, "use POST with a bundle file as the body"))
            return;
        if (api->deployer)
            deployer_handle(api->deployer, c, req, api->deploy_path);
        else
            deploy_handle(api->shard, c, req, api->deploy_path);
        return;
    }
    if (slice_eq_str(path, "/api/admin/export")) { /* vireo export: snapshot_zip.c */
        if (admin_gate_body(api, c, req, is_get, "use GET"))
            handle_export(api, c, req);
        return;
    }
    if (slice_eq_str(path, "/api/admin/data")) { /* vireo data: http_admin_data.c */
        if (admin_gate_body(api, c, req, is_get, "use GET"))
            http_admin_data_handle(api, c, req);
        return;
    }
    if (slice_eq_str(path, "/api/admin/import")) { /* vireo import: http_admin_import.c */
        if (admin_gate_body(api, c, req, is_post, "use POST with the file to import as the body"))
            http_admin_import_handle(api, c, req);
        return;
    }
    if (slice_eq_str(path, "/api/health") && is_get) {
        handle_health(api, c);
        return;
    }
    if (slice_eq_str(path, "/api/metrics") && is_get) {
        handle_metrics(api, c);
        return;
    }
    if (api->sync && slice_eq_str(path, "/api/sync")) {
        sync_accept(api->sync, c, req);
        return;
    }
    if (api->actors && slice_eq_str(path, "/api/actors")) {
        actors_accept(api->actors, c, req);
        return;
    }
    if (api->sync && convex_sync_path(path.p, path.len)) {
        convex_sync_accept(api->sync, c, req);
        return;
    }
    if (api->test_echo && slice_eq_str(path, "/__test/echo")) {
        ws_accept(c, req, &echo_handlers, api, NULL);
        return;
    }
    if (path.len >= sizeof STATIC_CLIENT_PREFIX - 1 &&
        !memcmp(path.p, STATIC_CLIENT_PREFIX, sizeof STATIC_CLIENT_PREFIX - 1)) {
        handle_client(c, path, is_get);
        return;
    }
    if (path.len >= 13 && !memcmp(path.p, "/api/storage/", 13)) {
        http_storage_handle(api, c, req, slice_of(path.p + 13, path.len - 13), is_post, is_get);
        return;
    }
    if (path.len >= 5 && !memcmp(path.p, "/api/", 5)) {
        http_api_respond_error(c, 404, "NotFound", "no such API endpoint", NULL);
        return;
    }
    if (api->public_dir && is_get && path.len > 0 && path.p[0] == '/' &&
        handle_static(api, c, req))
        return;
    if (!reserved_path(path) && http_action_has_routes(api->shard)) {
        char stack[2048]; /* Convex's answer on its site URL names the URL's pathname */
        struct slice shown = http_action_route(path, stack, sizeof stack);
        http_action_not_found(c, shown);
        http_action_route_free(shown, stack);
        return;
    }
    if (api->public_dir && is_get)
        http_api_respond_error(c, 404, "NotFound", "no such file", NULL);
    else
        http_api_respond_error(c, 404, "NotFound", "not found", NULL);
}
