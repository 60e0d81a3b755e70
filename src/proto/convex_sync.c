/* convex_sync: Convex's sync protocol (the `convex` npm client's WebSocket) over Vireo's sync
 * sessions. Each connection is one session (Convex has no resume: a reconnecting client sends
 * Connect and its whole query set again); its queries are sync_subs on the shared live queries,
 * and sync_flush calls convex_sync_flush_session to send each affected session one Transition.
 * StateVersion.ts is the store version (a u64, little-endian, base64), so a MutationResponse's
 * ts is reached by the Transition that follows it: the client resolves the mutation then
 * (read-your-writes). A protocol violation gets FatalError and the connection is closed. Each
 * query carries Convex's query journal: an Add's journal is what its live query runs with, and
 * QueryUpdated/QueryFailed send the one it keeps (architecture.md, "Query journals"). */
#include "proto/convex_sync.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/base64.h"
#include "base/json_parse.h"
#include "base/log.h"
#include "base/mem.h"
#include "base/rand.h"
#include "net/ws.h"
#include "proto/actions.h"
#include "proto/auth_keys.h"
#include "proto/convex_http.h"
#include "proto/sync_int.h"
#include "base/banned.h"

#define MAX_SESSION_ID 128
#define MAX_UDF_PATH 1024
#define CONNECT_TIMEOUT_MS 10000 /* an open WebSocket must send Connect within */
#define MAX_SAFE_INT 9007199254740991.0

/* The StateVersion parts that are Convex's alone; the ts is the session's `version`. */
struct convex_session {
    char *client_id;         /* Connect's sessionId: the scope of mutation idempotency */
    uint64_t query_set;      /* the newVersion of the last ModifyQuerySet applied */
    uint64_t sent_query_set; /* ... as the last Transition's endVersion told the client */
    uint64_t identity;       /* bumped by each accepted Authenticate */
    uint64_t sent_identity;
    int force; /* a Transition must go out even without modifications */
};

void convex_session_free(struct convex_session *cs)
{
    if (!cs)
        return;
    vr_free(cs->client_id);
    vr_free(cs);
}

int convex_sync_path(const char *p, size_t n)
{
    static const char head[] = "/api/", tail[] = "/sync";
    size_t hl = sizeof head - 1, tl = sizeof tail - 1;
    if (n <= hl + tl || memcmp(p, head, hl) || memcmp(p + n - tl, tail, tl))
        return 0;
    return memchr(p + hl, '/', n - hl - tl) == NULL;
}

/* --- encoding --- */

/* A Convex timestamp: base64 of the u64's 8 bytes, little-endian (the client's longToU64). */
static void append_ts(struct buf *b, uint64_t v)
{
    unsigned char le[8];
    for (int i = 0; i < 8; i++)
        le[i] = (unsigned char)(v >> (8 * i));
    buf_append_byte(b, '"');
    base64_encode(b, le, sizeof le, 0);
    buf_append_byte(b, '"');
}

static int decode_ts(const char *s, uint64_t *out)
{
    size_t n = strlen(s);
    unsigned char raw[16];
    if (n != 12)
        return -1;
    long got = base64_decode(raw, s, n);
    if (got != 8)
        return -1;
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | raw[i];
    *out = v;
    return 0;
}

static void append_state_version(struct buf *b, uint64_t query_set, uint64_t identity, uint64_t ts)
{
    buf_appendf(b, "{\"querySet\":%" PRIu64 ",\"identity\":%" PRIu64 ",\"ts\":", query_set,
                identity);
    append_ts(b, ts);
    buf_append_byte(b, '}');
}

/* ,"logLines":[...] from a call's result, or a live query's kept lines (`lq_logs`, the JSON
 * array; empty: none); both NULL: none. */
static void append_logs(struct buf *b, const struct js_result *res, const struct buf *lq_logs)
{
    buf_append_str(b, ",\"logLines\":");
    if (res)
        js_result_log_json(res, b);
    else if (lq_logs && lq_logs->len)
        buf_append(b, lq_logs->data, lq_logs->len);
    else
        buf_append_str(b, "[]");
}

/* The error of a failed call as Convex's client shows it: `msg_field` (the message: Convex's
 * "[Request ID: <16 hex>] Server Error\n<text>\n", as its HTTP answers have it), logLines (the
 * call's console lines, from res or lq_logs as append_logs takes them) and, for a ConvexError,
 * errorData. */
static void append_error_text(struct buf *b, const char *msg_field, const char *text,
                              size_t text_len, const char *data, size_t data_len,
                              const struct js_result *res, const struct buf *lq_logs)
{
    char rid[17];
    struct buf m = BUF_INIT(BUF_NOLIMIT);
    convex_http_request_id(rid);
    buf_appendf(&m, "[Request ID: %s] Server Error\n", rid);
    buf_append(&m, text, text_len);
    buf_append_byte(&m, '\n');
    buf_appendf(b, "\"%s\":", msg_field);
    buf_append_json_str(b, m.data, m.len);
    buf_release(&m);
    append_logs(b, res, lq_logs);
    if (data && data_len) {
        buf_append_str(b, ",\"errorData\":");
        buf_append(b, data, data_len);
    }
}

/* A live query's failure, from the error fields it keeps (and the lines its run logged, or
 * NULL): Vireo's code stays in the text where it says more than "the function threw". name:
 * the thrown Error's class (errorName), or NULL. */
static void append_error(struct buf *b, const char *msg_field, const char *code, const char *name,
                         const char *msg, size_t msg_len, const char *data, size_t data_len,
                         const struct buf *lq_logs)
{
    struct buf text = BUF_INIT(BUF_NOLIMIT);
    if (!code || !*code || !strcmp(code, "FunctionFailed") || !strcmp(code, "VireoError"))
        convex_http_uncaught(&text, code && *code ? code : "FunctionFailed", name, msg, msg_len);
    else if (!(msg_len > strlen(code) + 1 && !memcmp(msg, code, strlen(code)) &&
               msg[strlen(code)] == ':')) /* "InvalidCursor: ..." says it already */
        buf_appendf(&text, "%s: ", code);
    buf_append(&text, msg, msg_len);
    append_error_text(b, msg_field, text.data, text.len, data, data_len, NULL, lq_logs);
    buf_release(&text);
}

/* A finished call's failure: what the function threw or its bad arguments in the same words as
 * Convex's HTTP answers (convex_http.c); Vireo's other errors as `<code>: <message>`. */
static void append_result_error(struct buf *b, const char *msg_field, const struct js_result *r)
{
    if (r->status != JS_ERR_THROWN && r->status != JS_ERR_ARGS) {
        append_error(b, msg_field, r->error_code.len ? r->error_code.data : "FunctionFailed", NULL,
                     r->error.data, r->error.len, r->error_data.data, r->error_data.len, NULL);
        return;
    }
    struct buf text = BUF_INIT(BUF_NOLIMIT);
    convex_http_result_text(&text, r);
    append_error_text(b, msg_field, text.data, text.len, r->error_data.data, r->error_data.len, r,
                      NULL);
    buf_release(&text);
}

/* --- sending --- */

static void send_fatal(struct sync_conn *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* FatalError, then close: the client gives up on this connection (it stops for good). */
static void send_fatal(struct sync_conn *c, const char *fmt, ...)
{
    if (c->failed)
        return;
    char msg[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    log_info("convex", "conn=%llu FatalError: %s", c->ws ? (unsigned long long)ws_id(c->ws) : 0ull,
             msg);
    struct buf b = BUF_INIT(BUF_NOLIMIT);
    buf_append_str(&b, "{\"type\":\"FatalError\",\"error\":");
    buf_append_json_str(&b, msg, strlen(msg));
    buf_append_byte(&b, '}');
    sync_send_frame(c, &b);
    buf_release(&b);
    c->failed = 1;
    sync_close_conn(c, WS_CLOSE_POLICY, "FatalError");
}

/* ,"journal":...} — the journal the query runs with: the client keeps it and sends it back in
 * its Add after a reconnect, so the query's page keeps its end (null: none) */
static void append_journal(struct buf *b, const struct live_query *lq)
{
    buf_append_str(b, ",\"journal\":");
    if (lq->journal && *lq->journal)
        buf_append_json_str(b, lq->journal, strlen(lq->journal));
    else
        buf_append_str(b, "null");
    buf_append_byte(b, '}');
}

/* What every Convex subscriber of lq is sent after its own
 * `{"type":"QueryUpdated","queryId":N,"value":` — the value, the run's logLines and the journal —
 * serialized once per result and shared by reference. */
static struct shared_buf *convex_wire(struct sync *sy, struct live_query *lq)
{
    if (!lq->wire[1]) {
        if (!lq->wire[0])
            sync_wired(sy, lq);
        struct buf t = BUF_INIT(BUF_NOLIMIT);
        buf_reserve(&t, lq->result.len + lq->logs.len + 64);
        buf_append(&t, lq->result.data, lq->result.len);
        append_logs(&t, NULL, &lq->logs);
        append_journal(&t, lq);
        lq->wire[1] = shared_buf_new(t.data, t.len);
        buf_release(&t);
    }
    return lq->wire[1];
}

static void append_modification(struct iobuf *m, struct sync_sub *sub, int *first)
{
    struct live_query *lq = sub->lq;
    if (lq->version == 0)
        return; /* not run yet (no app): nothing to say */
    if (sub->sent && sub->sent_hash == lq->result_hash && sub->sent_logs == lq->logs_hash)
        return; /* Convex's dedupe: the same value and the same log lines */
    if (!*first)
        iobuf_append(m, ",", 1);
    if (lq->is_error) {
        /* the error JSON is an object of Vireo's error fields */
        struct buf b = BUF_INIT(BUF_NOLIMIT);
        json_t *e = json_parse(lq->result.data, lq->result.len, JSON_DECODE_INT_AS_REAL, NULL);
        const char *code = json_string_value(json_object_get(e, "errorCode"));
        json_t *msg = json_object_get(e, "errorMessage");
        json_t *d = json_object_get(e, "errorData");
        char *data = d ? json_dumps(d, JSON_COMPACT | JSON_ENCODE_ANY) : NULL;
        buf_appendf(&b, "{\"type\":\"QueryFailed\",\"queryId\":%" PRIu64 ",", sub->query_id);
        if (code && (!strcmp(code, "FunctionNotFound") || !strcmp(code, "WrongFunctionKind"))) {
            /* the live query's text is Vireo's; this protocol's clients get Convex's */
            struct buf convex_text = BUF_INIT(BUF_NOLIMIT);
            struct js_runtime *rt = sub->session->sync->shard->rt;
            const struct js_function *fn = rt ? js_runtime_find(rt, lq->path) : NULL;
            if (fn && !fn->internal && fn->kind != JS_QUERY)
                js_wrong_kind_text(&convex_text, fn->path, JS_QUERY, (int)fn->kind);
            else
                js_not_found_text(&convex_text, lq->path);
            append_error_text(&b, "errorMessage", convex_text.data, convex_text.len, NULL, 0, NULL,
                              &lq->logs);
            buf_release(&convex_text);
        } else {
            append_error(&b, "errorMessage", code,
                         json_string_value(json_object_get(e, "errorName")),
                         msg ? json_string_value(msg) : "", msg ? json_string_length(msg) : 0, data,
                         data ? strlen(data) : 0, &lq->logs);
        }
        append_journal(&b, lq);
        free(data);
        json_decref(e);
        iobuf_take_buf(m, &b);
        buf_release(&b);
    } else {
        iobuf_append_str(m, "{\"type\":\"QueryUpdated\",\"queryId\":");
        iobuf_append_u64(m, sub->query_id);
        iobuf_append_str(m, ",\"value\":");
        iobuf_append_shared(m, convex_wire(sub->session->sync, lq));
    }
    sub->sent = 1;
    sub->sent_hash = lq->result_hash;
    sub->sent_logs = lq->logs_hash;
    *first = 0;
}

/* A successful MutationResponse (its frame as built above, or replaced by fail_responses). */
static int mutation_succeeded(const struct buf *frame)
{
    static const char ok[] = "\"success\":true";
    size_t n = frame->len < 96 ? frame->len : 96;
    return memmem(frame->data, n, ok, sizeof ok - 1) != NULL;
}

/* A failed MutationResponse or ActionResponse, up to its error. */
static void fail_head(struct buf *frame, const char *rid, enum js_fn_kind kind)
{
    buf_appendf(frame, "{\"type\":\"%s\",\"requestId\":%s,\"success\":false,",
                kind == JS_MUTATION ? "MutationResponse" : "ActionResponse", rid);
}

/* Mutation responses go out before the Transition: the client resolves a mutation when a
 * Transition reaches its ts, so one always follows a successful one (empty if nothing changed).
 * Action responses follow the Transition, which holds the writes of the mutations the action ran.
 */
/* Queues a response frame (taking it) unless an earlier message of this flush failed. */
static void queue_response(struct sync_conn *c, struct buf *frame, int *ok)
{
    if (*ok < 0)
        return;
    struct iobuf r;
    iobuf_init(&r);
    iobuf_take_buf(&r, frame);
    *ok = sync_queue_msg(c, &r, 0);
}

void convex_sync_flush_session(struct sync *sy, struct sync_session *s, uint64_t version)
{
    struct convex_session *cv = s->cvx;
    struct sync_conn *c = s->conn;
    int mutations = 0, ok = 0;
    for (size_t i = 0; c && i < s->n_responses; i++)
        if (s->responses[i].kind == JS_MUTATION) {
            mutations |= mutation_succeeded(&s->responses[i].frame);
            queue_response(c, &s->responses[i].frame, &ok);
        }
    struct buf h = BUF_INIT(BUF_NOLIMIT);
    buf_append_str(&h, "{\"type\":\"Transition\",\"startVersion\":");
    append_state_version(&h, cv->sent_query_set, cv->sent_identity, s->version);
    buf_append_str(&h, ",\"endVersion\":");
    append_state_version(&h, cv->query_set, cv->identity, version);
    buf_append_str(&h, ",\"modifications\":[");
    struct iobuf b;
    iobuf_init(&b);
    iobuf_take_buf(&b, &h);
    buf_release(&h);
    size_t head = b.len;
    int first = 1;
    /* removals first: a queryId removed and added again in one flush ends up live */
    if (s->removed.len) {
        iobuf_append(&b, s->removed.data, s->removed.len);
        buf_reset(&s->removed);
        first = 0;
    }
    for (size_t i = 0; i < s->n_pending; i++) {
        struct sync_sub *sub = s->pending[i];
        if (!sub)
            continue;
        sub->pending = 0;
        append_modification(&b, sub, &first);
    }
    s->n_pending = 0;
    iobuf_append(&b, "]}", 2);
    int has_mods = b.len > head + 2;
    if (c && (has_mods || mutations || cv->force || cv->query_set != cv->sent_query_set ||
              cv->identity != cv->sent_identity)) {
        if (ok == 0)
            ok = sync_queue_msg(c, &b, 1);
        sy->stats.transitions++;
        s->version = version;
        cv->sent_query_set = cv->query_set;
        cv->sent_identity = cv->identity;
        cv->force = 0;
    }
    for (size_t i = 0; c && i < s->n_responses; i++)
        if (s->responses[i].kind != JS_MUTATION)
            queue_response(c, &s->responses[i].frame, &ok);
    /* the responses, the Transition and the rest go out together: one write */
    if (c && ok == 0)
        sync_pump(c);
    sync_clear_responses(s);
    iobuf_release(&b);
}

void convex_sync_fail_frame(struct buf *frame, const char *rid, int kind)
{
    static const char m[] = "the storage failed to commit this call's transaction; nothing it "
                            "did remains; retry";
    fail_head(frame, rid, (enum js_fn_kind)kind);
    append_error(frame, "result", "StoreError", NULL, m, sizeof m - 1, NULL, 0, NULL);
    buf_append_byte(frame, '}');
}

/* --- messages --- */

/* A non-negative integer a JavaScript number holds exactly. */
static int get_uint(const json_t *v, uint64_t *out)
{
    if (!json_is_number(v))
        return -1;
    double d = json_number_value(v);
    if (d < 0 || d != floor(d) || d > MAX_SAFE_INT)
        return -1;
    *out = (uint64_t)d;
    return 0;
}

/* A string without U+0000 of 1 to max bytes. */
static const char *get_str(const json_t *v, size_t max)
{
    const char *s = json_string_value(v);
    if (!s || !*s || strlen(s) != json_string_length(v) || strlen(s) > max)
        return NULL;
    return s;
}

/* The single arguments object of a call or query: Convex sends `args: [ {...} ]`. NULL and
 * a FatalError if it is not that. */
static json_t *get_args(struct sync_conn *c, json_t *msg, const char *what)
{
    json_t *args = json_object_get(msg, "args");
    json_t *obj = json_array_get(args, 0);
    if (!json_is_array(args) || json_array_size(args) != 1 || !json_is_object(obj)) {
        send_fatal(c, "%s: `args` must be an array holding one object (the arguments)", what);
        return NULL;
    }
    json_t *cp = json_object_get(msg, "componentPath");
    if (cp && !json_is_null(cp) && !(json_is_string(cp) && json_string_length(cp) == 0)) {
        send_fatal(c, "%s: components (`componentPath`) are not supported", what);
        return NULL;
    }
    return obj;
}

static void handle_connect(struct sync_conn *c, json_t *msg)
{
    struct sync *sy = c->sync;
    if (c->session) {
        send_fatal(c, "Connect was already sent on this connection");
        return;
    }
    const char *id = get_str(json_object_get(msg, "sessionId"), MAX_SESSION_ID);
    json_t *cc = json_object_get(msg, "connectionCount");
    json_t *reason = json_object_get(msg, "lastCloseReason");
    json_t *mot = json_object_get(msg, "maxObservedTimestamp");
    uint64_t n;
    if (!id) {
        send_fatal(c, "Connect needs `sessionId`: a string of 1 to %d characters (no U+0000)",
                   MAX_SESSION_ID);
        return;
    }
    if ((cc && get_uint(cc, &n) < 0) ||
        (reason && !json_is_null(reason) && !json_is_string(reason))) {
        send_fatal(c, "Connect: `connectionCount` must be a non-negative integer and "
                      "`lastCloseReason` a string or null");
        return;
    }
    if (mot && !json_is_null(mot) &&
        (!json_is_string(mot) || decode_ts(json_string_value(mot), &n) < 0)) {
        send_fatal(c, "Connect: `maxObservedTimestamp` must be an encoded timestamp (base64 of "
                      "8 bytes)");
        return;
    }
    if (sy->stats.sessions >= sy->opts.max_sessions) {
        /* not fatal: the client backs off (its reason prefix picks 3 s) and comes back */
        log_info("convex", "conn=%llu refused: too many sessions",
                 c->ws ? (unsigned long long)ws_id(c->ws) : 0ull);
        c->failed = 1;
        sync_close_conn(c, WS_CLOSE_TRY_AGAIN, "TooManyConcurrentRequests: server overloaded");
        return;
    }
    /* a session of its own per connection: the client's sessionId is not a credential, and
     * Convex resumes nothing (the client re-sends its query set), so nothing is keyed on it but
     * the mutations' idempotency scope */
    char sid[7 + 2 * SESSION_SECRET_BYTES + 1] = "convex:";
    rand_hex(sid + 7, SESSION_SECRET_BYTES);
    struct sync_session *s = sync_session_new(sy, sid);
    s->version = 0; /* the client starts from ts 0 on every connection */
    s->cvx = vr_calloc(1, sizeof *s->cvx);
    size_t idlen = strlen(id);
    s->cvx->client_id = vr_malloc(7 + idlen + 1);
    memcpy(s->cvx->client_id, "convex:", 7);
    memcpy(s->cvx->client_id + 7, id, idlen + 1);
    s->conn = c;
    c->session = s;
    if (c->ws) {
        ws_peer_addr(c->ws, s->addr);
        ws_set_deadline(c->ws, 0, 0, NULL); /* connected: the handshake deadline is met */
    }
    sy->stats.connections++;
}

static void handle_modify(struct sync_conn *c, json_t *msg)
{
    struct sync_session *s = c->session;
    struct convex_session *cv = s->cvx;
    uint64_t base, next;
    json_t *mods = json_object_get(msg, "modifications");
    if (get_uint(json_object_get(msg, "baseVersion"), &base) < 0 ||
        get_uint(json_object_get(msg, "newVersion"), &next) < 0 || !json_is_array(mods)) {
        send_fatal(c, "ModifyQuerySet needs `baseVersion` and `newVersion` (non-negative "
                      "integers) and `modifications` (an array)");
        return;
    }
    if (base != cv->query_set) {
        send_fatal(c,
                   "Base version %" PRIu64 " passed up doesn't match the current version %" PRIu64,
                   base, cv->query_set);
        return;
    }
    if (next <= base) {
        send_fatal(c,
                   "ModifyQuerySet: newVersion %" PRIu64 " must be greater than baseVersion "
                   "%" PRIu64,
                   next, base);
        return;
    }
    size_t i;
    json_t *m;
    json_array_foreach(mods, i, m)
    {
        const char *type = json_string_value(json_object_get(m, "type"));
        uint64_t qid;
        if (!type || get_uint(json_object_get(m, "queryId"), &qid) < 0 ||
            (strcmp(type, "Add") && strcmp(type, "Remove"))) {
            send_fatal(c,
                       "ModifyQuerySet: modifications[%zu] must be {type: \"Add\" or "
                       "\"Remove\", queryId: a non-negative integer, ...}",
                       i);
            return;
        }
        char k[24];
        struct sync_sub *sub = hmap_get(&s->subs, k, sync_u64_key(qid, k));
        if (!strcmp(type, "Remove")) {
            if (!sub)
                continue; /* removing what is not there is a no-op */
            sync_session_drop_sub(s, sub);
            buf_appendf(&s->removed, "%s{\"type\":\"QueryRemoved\",\"queryId\":%" PRIu64 "}",
                        s->removed.len ? "," : "", qid);
            continue;
        }
        const char *path = get_str(json_object_get(m, "udfPath"), MAX_UDF_PATH);
        json_t *journal = json_object_get(m, "journal");
        if (!path || (journal && !json_is_null(journal) && !json_is_string(journal))) {
            send_fatal(c,
                       "ModifyQuerySet: Add of query %" PRIu64 " needs `udfPath` (a string "
                       "like \"messages:list\") and `journal` (a string, null or absent)",
                       qid);
            return;
        }
        /* the journal is opaque: what a QueryUpdated carried (checked when the query runs) */
        const char *jtext = json_is_string(journal) ? json_string_value(journal) : "";
        if (json_is_string(journal) && (json_string_length(journal) > JS_JOURNAL_MAX ||
                                        strlen(jtext) != json_string_length(journal))) {
            send_fatal(c,
                       "ModifyQuerySet: Add of query %" PRIu64 ": `journal` is not one this "
                       "server issued (%zu bytes%s; a journal holds at most %d)",
                       qid, json_string_length(journal),
                       strlen(jtext) != json_string_length(journal) ? ", with U+0000" : "",
                       JS_JOURNAL_MAX);
            return;
        }
        json_t *args = get_args(c, m, "ModifyQuerySet");
        if (!args)
            return;
        char canon[MAX_UDF_PATH + 16];
        js_udf_path(canon, sizeof canon, path, 0);
        int r = sync_sub_add(s, qid, canon, args, jtext);
        if (r == -EEXIST) {
            send_fatal(c, "ModifyQuerySet: query %" PRIu64 " was already added", qid);
            return;
        }
        if (r == -E2BIG) {
            send_fatal(c,
                       "TooManyQueries: this connection has %zu queries, the most one may have "
                       "(--max-queries-per-session)",
                       s->n_subs);
            return;
        }
    }
    cv->query_set = next;
    cv->force = 1; /* the client learns of its new query set version */
    sync_schedule(s);
}

/* AuthError: the client stops the socket, fetches a fresh token (forceRefreshToken) and
 * connects again with it; a second refusal of a fresh token makes it give up (onChange(false)),
 * so a bad token does not loop. attempted = 0 (expiry, not an answer to Authenticate): a client
 * waiting for its fresh token's confirmation ignores it. */
static void send_auth_error(struct sync_conn *c, const char *m, uint64_t base, int attempted)
{
    struct buf b = BUF_INIT(BUF_NOLIMIT);
    buf_append_str(&b, "{\"type\":\"AuthError\",\"error\":");
    buf_append_json_str(&b, m, strlen(m));
    buf_appendf(&b, ",\"baseVersion\":%" PRIu64 ",\"authUpdateAttempted\":%s}", base,
                attempted ? "true" : "false");
    sync_send_frame(c, &b);
    buf_release(&b);
}

/* A User token's verdict. Accepted: the identity version moves on and the next Transition
 * (forced, with every query re-run under the identity) confirms it to the client. Refused: the
 * session goes on anonymously at the same identity version, and AuthError names why. */
static void authenticate_verified(struct sync_conn *c, const struct auth_result *r, json_t *msg)
{
    struct sync_session *s = c->session;
    uint64_t base = 0;
    if (!s || c->failed)
        return;
    get_uint(json_object_get(msg, "baseVersion"), &base);
    sync_session_set_verdict(s, c, r->identity, r->exp);
    if (r->identity) {
        s->cvx->identity++;
        s->cvx->force = 1;
        sync_schedule(s);
        return;
    }
    /* Convex's wording for a token it cannot verify, then the precise reason */
    char m[700];
    snprintf(m, sizeof m, "%s: %s",
             !strcmp(r->code, "TokenExpired") ? "Token expired"
             : !strcmp(r->code, "AuthUnavailable")
                 ? "Could not fetch the auth provider's keys"
                 : "Could not verify token claim",
             r->err);
    send_auth_error(c, m, base, 1);
}

void convex_sync_auth_expired(struct sync_session *s)
{
    if (!s->conn || s->conn->failed)
        return;
    send_auth_error(s->conn, "Token expired", s->cvx->identity, 0);
}

static void handle_authenticate(struct sync_conn *c, json_t *msg)
{
    struct sync_session *s = c->session;
    struct convex_session *cv = s->cvx;
    const char *tt = json_string_value(json_object_get(msg, "tokenType"));
    uint64_t base;
    if (!tt || get_uint(json_object_get(msg, "baseVersion"), &base) < 0 ||
        (strcmp(tt, "None") && strcmp(tt, "User") && strcmp(tt, "Admin"))) {
        send_fatal(c, "Authenticate needs `tokenType` (\"None\", \"User\" or \"Admin\") and "
                      "`baseVersion` (a non-negative integer)");
        return;
    }
    if (base != cv->identity) {
        send_fatal(c,
                   "Base identity version %" PRIu64 " passed up doesn't match the current "
                   "version %" PRIu64,
                   base, cv->identity);
        return;
    }
    if (!strcmp(tt, "None")) {
        sync_session_set_identity(s, NULL, 0);
        cv->identity++;
        cv->force = 1;
        sync_schedule(s);
        return;
    }
    if (strcmp(tt, "User")) {
        send_auth_error(c, "Admin authentication is not supported on this connection", base, 1);
        return;
    }
    json_t *tv = json_object_get(msg, "value");
    if (!json_is_string(tv)) {
        send_fatal(c, "Authenticate with tokenType \"User\" needs `value`: the token (a string)");
        return;
    }
    sync_auth_verify(c, json_string_value(tv), json_string_length(tv), msg, authenticate_verified);
}

/* An action's answer on Convex's protocol (sync_action.c runs it). */
static void action_frame(struct buf *frame, const char *rid, const struct js_result *res)
{
    buf_appendf(frame, "{\"type\":\"ActionResponse\",\"requestId\":%s,", rid);
    if (res->status == JS_OK) {
        buf_append_str(frame, "\"success\":true,\"result\":");
        buf_append(frame, res->value.data, res->value.len);
        append_logs(frame, res, NULL);
        buf_append_byte(frame, '}');
    } else {
        buf_append_str(frame, "\"success\":false,");
        append_result_error(frame, "result", res);
        buf_append_byte(frame, '}');
    }
}

static void fail_frame_n(struct buf *frame, const char *rid, enum js_fn_kind kind,
                         const char *code, const char *msg, size_t len)
{
    fail_head(frame, rid, kind);
    append_error(frame, "result", code, NULL, msg, len, NULL, 0, NULL);
    buf_append_byte(frame, '}');
}

/* A refusal whose text is Convex's own (js_not_found_text, js_wrong_kind_text): no code. */
static void fail_frame_convex(struct buf *frame, const char *rid, enum js_fn_kind kind,
                              const struct buf *text)
{
    fail_head(frame, rid, kind);
    append_error_text(frame, "result", text->data, text->len, NULL, 0, NULL, NULL);
    buf_append_byte(frame, '}');
}

static void fail_frame(struct buf *frame, const char *rid, enum js_fn_kind kind, const char *code,
                       const char *msg)
{
    fail_frame_n(frame, rid, kind, code, msg, strlen(msg));
}

/* An action that did not run (retry: Convex's frame has no retry hint). */
static void action_refused(struct buf *frame, const char *rid, const char *code, const char *msg,
                           size_t len, int retry)
{
    fail_frame_n(frame, rid, JS_ACTION, code, msg, len);
}

static const struct sync_action_frames action_frames = { action_frame, action_refused };

static void handle_call(struct sync_conn *c, json_t *msg, enum js_fn_kind kind)
{
    struct sync *sy = c->sync;
    struct sync_session *s = c->session;
    const char *what = kind == JS_MUTATION ? "Mutation" : "Action";
    uint64_t request_id;
    if (get_uint(json_object_get(msg, "requestId"), &request_id) < 0) {
        send_fatal(c, "%s needs `requestId`: a non-negative integer", what);
        return;
    }
    const char *path = get_str(json_object_get(msg, "udfPath"), MAX_UDF_PATH);
    if (!path) {
        send_fatal(c, "%s needs `udfPath`: a string like \"messages:send\"", what);
        return;
    }
    json_t *args = get_args(c, msg, what);
    if (!args)
        return;
    char rid[24], canon[MAX_UDF_PATH + 16];
    snprintf(rid, sizeof rid, "%" PRIu64, request_id);
    js_udf_path(canon, sizeof canon, path, 0);
    struct buf frame = BUF_INIT(BUF_NOLIMIT);
    struct buf idem_key = BUF_INIT(BUF_NOLIMIT);
    struct buf err = BUF_INIT(4096);
    struct js_result res;
    js_result_init(&res);
    char *args_text = json_dumps(args, JSON_COMPACT);
    char *args_sorted = NULL;
    const struct js_function *fn = sy->shard->rt ? js_runtime_find(sy->shard->rt, canon) : NULL;
    long wait = sync_rate_take(c);
    if (wait >= 0) {
        char m[200];
        snprintf(m, sizeof m,
                 "more than %u messages per second on this connection "
                 "(--max-messages-per-second); retry after %ld ms",
                 sy->opts.max_messages_per_second, wait);
        fail_frame(&frame, rid, kind, "RateLimited", m);
    } else if (!sy->shard->rt) {
        fail_frame(&frame, rid, kind, "NoAppLoaded",
                   shard_no_app_text(sy->shard, "no app is loaded"));
    } else if (!fn || fn->internal) {
        struct buf m = BUF_INIT(BUF_NOLIMIT);
        js_not_found_text(&m, canon);
        fail_frame_convex(&frame, rid, kind, &m);
        buf_release(&m);
    } else if (fn->kind != kind) {
        struct buf m = BUF_INIT(BUF_NOLIMIT);
        js_wrong_kind_text(&m, fn->path, (int)kind, (int)fn->kind);
        fail_frame_convex(&frame, rid, kind, &m);
        buf_release(&m);
    } else if (kind == JS_ACTION && sy->shard->actions) {
        if (sync_action_submit(c, fn, args_text, args, rid, &action_frames, &frame) == 0)
            goto out; /* answered when it finishes */
    } else {
        /* a mutation is applied once per (client session, requestId): the client re-sends the
         * ones not yet reflected after a reconnect */
        if (kind == JS_MUTATION) {
            args_sorted = json_dumps(args, JSON_COMPACT | JSON_SORT_KEYS);
            store_idem_key(&idem_key, s->cvx->client_id, rid, canon, args_sorted,
                           strlen(args_sorted));
            int r = store_idem_conflict(sy->shard->store, idem_key.data, idem_key.len, &err);
            if (r != 0) {
                fail_frame(&frame, rid, kind, r > 0 ? "IdempotencyKeyReused" : "StoreError",
                           r > 0 ? "this requestId was already used in this session for another "
                                   "call (a different function or arguments)"
                                 : err.data);
                goto queue;
            }
        }
        struct js_request req;
        sync_call_request(s, c, &req);
        struct js_call_opts o = {.idempotency_key = idem_key.len ? idem_key.data : NULL,
                                 .args_value = args,
                                 .identity = s->identity,
                                 .request = &req};
        buf_appendf(&frame, "{\"type\":\"%sResponse\",\"requestId\":%s,", what, rid);
        if (shard_call(sy->shard, fn, args_text, strlen(args_text), &o, &res) == 0) {
            buf_append_str(&frame, "\"success\":true,\"result\":");
            buf_append(&frame, res.value.data, res.value.len);
            if (kind == JS_MUTATION) {
                buf_append_str(&frame, ",\"ts\":");
                append_ts(&frame, res.version);
            }
            append_logs(&frame, &res, NULL);
            buf_append_byte(&frame, '}');
        } else {
            buf_append_str(&frame, "\"success\":false,");
            append_result_error(&frame, "result", &res);
            buf_append_byte(&frame, '}');
        }
    }
queue:
    sync_queue_response(s, &frame, rid, kind, sy->shard->batch_open);
out:
    js_result_release(&res);
    free(args_text);
    free(args_sorted);
    buf_release(&err);
    buf_release(&idem_key);
    buf_release(&frame);
}

static void on_message(struct ws *ws, int is_text, const char *p, size_t n, void *arg)
{
    struct sync_conn *c = arg;
    struct sync *sy = c->sync;
    (void)ws;
    sy->stats.messages_in++;
    if (c->failed)
        return;
    if (!is_text) {
        send_fatal(c, "messages are JSON text frames, not binary");
        return;
    }
    if (n > sy->opts.max_message) {
        send_fatal(c, "message of %zu bytes is over the limit of %zu bytes", n,
                   sy->opts.max_message);
        return;
    }
    char why[160];
    if (json_check_widths(p, n, JSON_MAX_FIELDS, JSON_MAX_ITEMS, why, sizeof why) < 0) {
        send_fatal(c, "message: %s (Convex's value limits)", why);
        return;
    }
    json_error_t jerr;
    json_t *msg =
        json_parse(p, n, JSON_DECODE_INT_AS_REAL | JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &jerr);
    const char *type = json_string_value(json_object_get(msg, "type"));
    if (!msg)
        send_fatal(c, "message is not valid JSON: %s (column %d)", jerr.text, jerr.column);
    else if (!json_is_object(msg) || !type)
        send_fatal(c, "a message must be a JSON object with a string `type`");
    else {
        /* --max-messages-per-second: a Mutation or Action past it gets a failed response
         * (handle_call); any other message is counted but never refused: the client expects no
         * answer to it, so dropping it would leave its state out of step with ours */
        if (strcmp(type, "Mutation") && strcmp(type, "Action"))
            (void)sync_rate_take(c);
        if (!sync_auth_hold(c, msg))
            convex_sync_dispatch(c, msg);
    }
    json_decref(msg);
}

void convex_sync_dispatch(struct sync_conn *c, json_t *msg)
{
    const char *type = json_string_value(json_object_get(msg, "type"));
    if (c->failed)
        return;
    if (!strcmp(type, "Connect"))
        handle_connect(c, msg);
    else if (strcmp(type, "ModifyQuerySet") && strcmp(type, "Mutation") && strcmp(type, "Action") &&
             strcmp(type, "Authenticate") && strcmp(type, "Event"))
        send_fatal(c, "unknown message type \"%.100s\"", type);
    else if (!c->session)
        send_fatal(c, "the first message must be Connect, not %s", type);
    else if (!strcmp(type, "ModifyQuerySet"))
        handle_modify(c, msg);
    else if (!strcmp(type, "Mutation"))
        handle_call(c, msg, JS_MUTATION);
    else if (!strcmp(type, "Action"))
        handle_call(c, msg, JS_ACTION);
    else if (!strcmp(type, "Authenticate"))
        handle_authenticate(c, msg);
    else if (!json_is_string(json_object_get(msg, "eventType")))
        send_fatal(c, "Event needs `eventType`: a string");
    /* else: an Event (client metrics) is accepted and dropped */
}

/* Keep-alive: the client reconnects after 60 s without a message, so a connection sent nothing
 * for an interval gets a Ping (WebSocket pings do not reach the client's code). */
static void ping_tick(struct loop *l, struct timer *t)
{
    struct sync_conn *c = t->arg;
    if (!c->ws || c->failed)
        return;
    if (!c->sent_since_ping && c->session) {
        struct buf b = BUF_INIT(64);
        buf_append_str(&b, "{\"type\":\"Ping\"}");
        sync_send_frame(c, &b);
        buf_release(&b);
    }
    c->sent_since_ping = 0;
    loop_timer_start(l, &c->ping, c->sync->opts.convex_ping_ms);
}

static void on_close(struct ws *ws, int code, const char *reason, void *arg)
{
    struct sync_conn *c = arg;
    (void)code;
    (void)reason;
    loop_timer_stop(c->sync->loop, &c->ping);
    sync_detach(c, 1); /* Convex resumes nothing: the session ends with its connection */
    sync_auth_conn_end(c);
    c->ws = NULL;
    sync_out_clear(c);
    vr_free(c->outq);
    ws_unref(ws);
    sync_conn_unlink(c);
    vr_free(c);
}

static const struct ws_handlers convex_handlers = {NULL, on_message, on_close};

void convex_sync_accept(struct sync *sy, struct conn *cn, struct http_request *req)
{
    struct sync_conn *c = vr_calloc(1, sizeof *c);
    c->sync = sy;
    c->convex = 1;
    struct ws *ws;
    if (ws_accept(cn, req, &convex_handlers, c, &ws) < 0) {
        vr_free(c);
        return;
    }
    ws_ref(ws);
    c->ws = ws;
    sync_conn_set_user_agent(c, req);
    sync_conn_link(c);
    ws_set_deadline(ws, CONNECT_TIMEOUT_MS, WS_CLOSE_POLICY, "no Connect within 10 s");
    timer_init(&c->ping, ping_tick, c);
    loop_timer_start(sy->loop, &c->ping, sy->opts.convex_ping_ms);
}
