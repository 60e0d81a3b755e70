/* sync: sessions, live-query subscriptions, mutations and actions over /api/sync, and the
 * before-sleep flush: re-run each dirty live query once, then send each affected session one
 * transition (its version -> the store's version) followed by its queued responses, so
 * read-your-writes holds and no UI mixes versions. Sessions outlive their connection for the
 * retention window so a reconnecting client can resume without being sent what it has. */
#include "proto/sync.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/hmap.h"
#include "base/log.h"
#include "base/mem.h"
#include "net/ws.h"
#include "proto/reply.h"
#include "base/banned.h"

#define MAX_SESSION_ID 128
#define MAX_IDEMPOTENCY_KEY 200

enum sub_state { SUB_IDLE, SUB_PENDING };

struct sync_session;

/* One live query of one session: the client's queryId bound to a shared live query. */
struct sync_sub {
    uint64_t query_id;
    struct sync_session *session;
    struct live_query *lq;
    uint64_t sent_hash;   /* hash of the result the client holds */
    int sent;             /* the client holds a result (sent_hash is meaningful) */
    int check_unchanged;  /* answer QueryUnchanged if the hash still matches (resume) */
    int stale;            /* retained across a resume, not re-added yet */
    int pending;          /* in the session's pending list */
    struct sync_sub *lq_next, *lq_prev; /* the live query's subscribers (lq->owner) */
};

struct sync_session {
    char *id;
    struct sync *sync;
    struct sync_conn *conn; /* NULL while detached */
    uint64_t version;       /* the version the client's results are at */
    struct hmap subs;       /* decimal queryId -> sync_sub */
    struct sync_sub **pending;
    size_t n_pending, cap_pending;
    struct buf removed;     /* QueryRemoved modifications, comma-separated */
    struct sync_response *responses; /* frames to send after the next transition */
    size_t n_responses, cap_responses;
    int resumed_check;      /* the first modifyQuerySet after a resume drops stale subs */
    int in_flush;
    struct sync_session *next_flush;
    struct timer retention;
};

struct sync_response {
    struct buf frame;
    char request_id[64]; /* JSON */
    int kind;            /* JS_MUTATION or JS_ACTION */
};

struct sync_conn {
    struct sync *sync;
    struct ws *ws;
    struct sync_session *session;
};

struct sync {
    struct loop *loop;
    struct shard *shard;
    struct sync_options opts;
    struct hmap sessions; /* id -> sync_session */
    struct sync_session *flush_head;
    struct sync_stats stats;
};

/* --- helpers --- */

static size_t u64_key(uint64_t v, char out[24])
{
    return (size_t)snprintf(out, 24, "%" PRIu64, v);
}

static void send_frame(struct sync_conn *c, const struct buf *b)
{
    if (!c || !c->ws)
        return;
    c->sync->stats.messages_out++;
    ws_send(c->ws, 1, b->data, b->len);
}

static void close_conn(struct sync_conn *c, int code, const char *reason)
{
    if (c->ws)
        ws_close(c->ws, code, reason);
}

static void send_error(struct sync_conn *c, const char *code, const char *msg, const char *id_field,
                       const char *id_json, int fatal, long retry_ms)
{
    struct buf b = BUF_INIT(BUF_NOLIMIT);
    buf_append_str(&b, "{\"type\":\"error\",\"code\":");
    buf_append_json_str(&b, code, strlen(code));
    buf_append_str(&b, ",\"message\":");
    buf_append_json_str(&b, msg, strlen(msg));
    if (id_field && id_json)
        buf_appendf(&b, ",\"%s\":%s", id_field, id_json);
    if (retry_ms >= 0)
        buf_appendf(&b, ",\"retryAfterMs\":%ld", retry_ms);
    if (!strcmp(code, "VersionNotSupported"))
        buf_appendf(&b, ",\"supportedVersions\":[%d]", SYNC_PROTOCOL_VERSION);
    buf_appendf(&b, ",\"fatal\":%s}", fatal ? "true" : "false");
    send_frame(c, &b);
    buf_release(&b);
}

/* A client id (requestId / queryId) as JSON: integers print without a fraction. */
static int id_json(const json_t *v, char out[64])
{
    if (json_is_string(v)) {
        const char *s = json_string_value(v);
        size_t n = strlen(s);
        if (n > 48)
            return -1;
        struct buf b = BUF_INIT(64);
        buf_append_json_str(&b, s, n);
        int ok = b.len < 64;
        if (ok)
            memcpy(out, b.data, b.len + 1);
        buf_release(&b);
        return ok ? 0 : -1;
    }
    if (json_is_number(v)) {
        double d = json_number_value(v);
        if (d != floor(d) || fabs(d) > 9007199254740991.0)
            return -1;
        snprintf(out, 64, "%.0f", d);
        return 0;
    }
    return -1;
}

static void schedule(struct sync_session *s)
{
    loop_wake(s->sync->loop); /* in case the flush already ran this iteration */
    if (s->in_flush)
        return;
    s->in_flush = 1;
    s->next_flush = s->sync->flush_head;
    s->sync->flush_head = s;
}

static void sub_mark_pending(struct sync_sub *sub)
{
    struct sync_session *s = sub->session;
    if (!sub->pending) {
        if (s->n_pending == s->cap_pending) {
            s->cap_pending = s->cap_pending ? s->cap_pending * 2 : 8;
            s->pending = vr_realloc(s->pending, s->cap_pending * sizeof *s->pending);
        }
        s->pending[s->n_pending++] = sub;
        sub->pending = 1;
    }
    schedule(s);
}

static void queue_response(struct sync_session *s, struct buf *frame, const char *rid, int kind)
{
    if (s->n_responses == s->cap_responses) {
        s->cap_responses = s->cap_responses ? s->cap_responses * 2 : 4;
        s->responses = vr_realloc(s->responses, s->cap_responses * sizeof *s->responses);
    }
    struct sync_response *r = &s->responses[s->n_responses++];
    r->frame = *frame; /* takes the buffer */
    snprintf(r->request_id, sizeof r->request_id, "%s", rid);
    r->kind = kind;
    buf_init(frame, BUF_NOLIMIT);
    schedule(s);
}

static void clear_responses(struct sync_session *s)
{
    for (size_t i = 0; i < s->n_responses; i++)
        buf_release(&s->responses[i].frame);
    s->n_responses = 0;
}

/* The batch these responses were computed in did not commit: what they report was lost. */
static void fail_responses(struct sync_session *s)
{
    for (size_t i = 0; i < s->n_responses; i++) {
        struct sync_response *r = &s->responses[i];
        buf_reset(&r->frame);
        buf_appendf(&r->frame,
                    "{\"type\":\"%s\",\"requestId\":%s,\"success\":false,\"errorMessage\":"
                    "\"the storage failed to commit this call's transaction; nothing it did "
                    "remains; retry\",\"errorCode\":\"StoreError\"}",
                    r->kind == JS_MUTATION ? "mutationResponse" : "actionResponse", r->request_id);
    }
}

/* --- subscriptions --- */

static void sub_link(struct sync_sub *sub)
{
    struct sync_sub *head = sub->lq->owner;
    sub->lq_prev = NULL;
    sub->lq_next = head;
    if (head)
        head->lq_prev = sub;
    sub->lq->owner = sub;
}

static void sub_free(struct sync *sy, struct sync_sub *sub)
{
    if (sub->lq_prev)
        sub->lq_prev->lq_next = sub->lq_next;
    else
        sub->lq->owner = sub->lq_next;
    if (sub->lq_next)
        sub->lq_next->lq_prev = sub->lq_prev;
    if (sub->pending) {
        struct sync_session *s = sub->session;
        for (size_t i = 0; i < s->n_pending; i++)
            if (s->pending[i] == sub)
                s->pending[i] = NULL;
    }
    live_query_release(sy->shard->live, sub->lq);
    vr_free(sub);
}

static void session_drop_sub(struct sync_session *s, struct sync_sub *sub)
{
    char k[24];
    hmap_del(&s->subs, k, u64_key(sub->query_id, k));
    sub_free(s->sync, sub);
}

static void session_free(struct sync_session *s)
{
    struct sync *sy = s->sync;
    loop_timer_stop(sy->loop, &s->retention);
    for (size_t i = 0; i < s->subs.cap; i++)
        if (s->subs.slots[i].key)
            sub_free(sy, s->subs.slots[i].value);
    hmap_release(&s->subs);
    /* unlink from the flush list */
    for (struct sync_session **pp = &sy->flush_head; *pp; pp = &(*pp)->next_flush)
        if (*pp == s) {
            *pp = s->next_flush;
            break;
        }
    clear_responses(s);
    vr_free(s->responses);
    vr_free(s->pending);
    buf_release(&s->removed);
    hmap_del(&sy->sessions, s->id, strlen(s->id));
    sy->stats.sessions--;
    vr_free(s->id);
    vr_free(s);
}

static void retention_expired(struct loop *l, struct timer *t)
{
    struct sync_session *s = t->arg;
    log_debug("sync", "session \"%s\" expired", s->id);
    session_free(s);
}

static struct sync_session *session_new(struct sync *sy, const char *id)
{
    struct sync_session *s = vr_calloc(1, sizeof *s);
    s->id = vr_strdup(id);
    s->sync = sy;
    hmap_init(&s->subs);
    buf_init(&s->removed, BUF_NOLIMIT);
    timer_init(&s->retention, retention_expired, s);
    hmap_put(&sy->sessions, s->id, strlen(s->id), s);
    sy->stats.sessions++;
    return s;
}

static void detach(struct sync_conn *c)
{
    struct sync_session *s = c->session;
    if (!s)
        return;
    s->conn = NULL;
    c->session = NULL;
    c->sync->stats.connections--;
    loop_timer_start(c->sync->loop, &s->retention, c->sync->opts.session_retention_ms);
}

/* --- running live queries --- */

static void run_live_query(struct sync *sy, struct live_query *lq)
{
    struct shard *sh = sy->shard;
    struct js_result res;
    js_result_init(&res);
    const struct js_function *fn = sh->rt ? js_runtime_find(sh->rt, lq->path) : NULL;
    struct buf err = BUF_INIT(BUF_NOLIMIT);
    const struct read_set *reads = NULL;
    int is_error = 1;
    /* the error JSON of a failed query is an object of the error fields */
    buf_append_str(&err, "{");
    if (!sh->rt) {
        static const char m[] = "no app is loaded";
        reply_error_fields(&err, "NoAppLoaded", m, sizeof m - 1, NULL, 0);
    } else if (!fn || fn->internal || fn->kind != JS_QUERY) {
        char msg[600];
        int wrong_kind = fn && fn->kind != JS_QUERY && !fn->internal;
        snprintf(msg, sizeof msg,
                 wrong_kind ? "`%.400s` is not a query" : "could not find public query `%.400s`",
                 lq->path);
        reply_error_fields(&err, wrong_kind ? "WrongFunctionKind" : "FunctionNotFound", msg,
                           strlen(msg), NULL, 0);
    } else {
        js_call(sh->rt, fn, lq->args_json, strlen(lq->args_json), &res);
        if (res.txn)
            reads = store_txn_read_set(res.txn);
        if (res.status == JS_OK)
            is_error = 0;
        else
            reply_result_error(&err, &res);
    }
    buf_append_str(&err, "}");
    int rerun = lq->version != 0;
    const struct buf *out = is_error ? &err : &res.value;
    uint64_t version = store_version(sh->store);
    int changed = live_query_update(sh->live, lq, reads, out->data, out->len, is_error,
                                    version ? version : 1);
    struct live_stats *st = live_stats(sh->live);
    if (rerun) {
        st->reruns++;
        if (!changed)
            st->suppressed++;
    }
    for (struct sync_sub *sub = lq->owner; sub; sub = sub->lq_next)
        if (changed || !sub->sent)
            sub_mark_pending(sub);
    buf_release(&err);
    js_result_release(&res);
}

/* --- the flush --- */

static void append_modification(struct buf *b, struct sync_sub *sub, int *first)
{
    struct live_query *lq = sub->lq;
    if (lq->version == 0)
        return; /* not run yet (no app): nothing to say */
    if (sub->sent && sub->sent_hash == lq->result_hash) {
        if (!sub->check_unchanged)
            return;
        buf_appendf(b, "%s{\"type\":\"QueryUnchanged\",\"queryId\":%" PRIu64 "}", *first ? "" : ",",
                    sub->query_id);
    } else if (lq->is_error) {
        /* the error JSON is an object: splice its fields in */
        buf_appendf(b, "%s{\"type\":\"QueryFailed\",\"queryId\":%" PRIu64 ",", *first ? "" : ",",
                    sub->query_id);
        buf_append(b, lq->result.data + 1, lq->result.len - 1);
    } else {
        buf_appendf(b, "%s{\"type\":\"QueryUpdated\",\"queryId\":%" PRIu64 ",\"value\":",
                    *first ? "" : ",", sub->query_id);
        buf_append(b, lq->result.data, lq->result.len);
        buf_appendf(b, ",\"hash\":\"%016" PRIx64 "\"}", lq->result_hash);
    }
    sub->sent = 1;
    sub->sent_hash = lq->result_hash;
    *first = 0;
}

static void flush_session(struct sync *sy, struct sync_session *s, uint64_t version)
{
    struct buf b = BUF_INIT(BUF_NOLIMIT);
    buf_appendf(&b, "{\"type\":\"transition\",\"startVersion\":%" PRIu64 ",\"endVersion\":%" PRIu64
                    ",\"modifications\":[",
                s->version, version);
    size_t head = b.len;
    int first = 1;
    /* removals first: a queryId removed and added again in one batch ends up live */
    if (s->removed.len) {
        buf_append(&b, s->removed.data, s->removed.len);
        buf_reset(&s->removed);
        first = 0;
    }
    for (size_t i = 0; i < s->n_pending; i++) {
        struct sync_sub *sub = s->pending[i];
        if (!sub)
            continue;
        sub->pending = 0;
        /* a stale query (resumed, not re-added yet) is the client's to keep or drop */
        if (s->conn && !sub->stale)
            append_modification(&b, sub, &first);
        sub->check_unchanged = 0;
    }
    s->n_pending = 0;
    buf_append_str(&b, "]}");
    int has_mods = b.len > head + 2;
    if (s->conn) {
        /* a response needs the session at its version first (read-your-writes), even when
         * none of the session's queries changed */
        if (has_mods || (s->n_responses && version != s->version)) {
            send_frame(s->conn, &b);
            sy->stats.transitions++;
            s->version = version;
        }
        for (size_t i = 0; i < s->n_responses; i++)
            send_frame(s->conn, &s->responses[i].frame);
    }
    clear_responses(s);
    buf_release(&b);
}

void sync_flush(struct sync *sy, int batch_failed)
{
    struct live *live = sy->shard->live;
    struct live_query *lq;
    while ((lq = live_pop_dirty(live)))
        run_live_query(sy, lq);
    uint64_t version = store_version(sy->shard->store);
    while (sy->flush_head) {
        struct sync_session *s = sy->flush_head;
        sy->flush_head = s->next_flush;
        s->in_flush = 0;
        s->next_flush = NULL;
        if (batch_failed)
            fail_responses(s);
        flush_session(sy, s, version);
    }
}

/* --- messages --- */

static void handle_connect(struct sync_conn *c, json_t *msg)
{
    struct sync *sy = c->sync;
    json_t *pv = json_object_get(msg, "protocolVersion");
    if (pv && (!json_is_number(pv) || json_number_value(pv) != SYNC_PROTOCOL_VERSION)) {
        send_error(c, "VersionNotSupported", "this server speaks sync protocol version 1", NULL,
                   NULL, 1, -1);
        close_conn(c, WS_CLOSE_POLICY, "protocol version not supported");
        return;
    }
    if (c->session) {
        send_error(c, "InvalidMessage", "already connected: `connect` must be sent once", NULL,
                   NULL, 0, -1);
        return;
    }
    json_t *sid = json_object_get(msg, "sessionId");
    const char *id = json_string_value(sid);
    if (!id || !*id || strlen(id) > MAX_SESSION_ID) {
        send_error(c, "InvalidMessage",
                   "`connect` needs `sessionId`: a string of 1 to 128 characters", NULL, NULL, 0,
                   -1);
        return;
    }
    json_t *lv = json_object_get(msg, "lastVersion");
    if (lv && !json_is_null(lv) && (!json_is_number(lv) || json_number_value(lv) < 0)) {
        send_error(c, "InvalidMessage", "`lastVersion` must be a non-negative number", NULL,
                   NULL, 0, -1);
        return;
    }
    struct sync_session *s = hmap_get(&sy->sessions, id, strlen(id));
    int resumed = s != NULL && lv && json_is_number(lv);
    if (s && s->conn) { /* the session moves to this connection */
        struct sync_conn *old = s->conn;
        detach(old);
        close_conn(old, WS_CLOSE_POLICY, "session resumed on another connection");
    }
    if (s && !resumed) {
        session_free(s); /* a known session without a version to resume from: start afresh */
        s = NULL;
    }
    if (!s && sy->stats.sessions >= sy->opts.max_sessions) {
        send_error(c, "ServerOverloaded", "too many sessions on this server", NULL, NULL, 1,
                   1000 + (long)(rand() % 4000));
        close_conn(c, WS_CLOSE_TRY_AGAIN, "server overloaded");
        return;
    }
    if (s) {
        loop_timer_stop(sy->loop, &s->retention);
        for (size_t i = 0; i < s->subs.cap; i++)
            if (s->subs.slots[i].key) {
                struct sync_sub *sub = s->subs.slots[i].value;
                sub->stale = 1;
                sub->sent = 0;
            }
        for (size_t i = 0; i < s->n_pending; i++)
            if (s->pending[i])
                s->pending[i]->pending = 0;
        s->n_pending = 0;
        buf_reset(&s->removed);
        clear_responses(s);
        s->resumed_check = 1;
        s->version = (uint64_t)json_number_value(lv);
        if (s->version > store_version(sy->shard->store))
            s->version = store_version(sy->shard->store);
    } else {
        s = session_new(sy, id);
        s->version = store_version(sy->shard->store);
    }
    s->conn = c;
    c->session = s;
    sy->stats.connections++;
    struct buf b = BUF_INIT(BUF_NOLIMIT);
    buf_append_str(&b, "{\"type\":\"connected\",\"sessionId\":");
    buf_append_json_str(&b, id, strlen(id));
    buf_appendf(&b,
                ",\"version\":%" PRIu64 ",\"protocolVersion\":%d,\"resumed\":%s,"
                "\"serverVersion\":\"vireo/0.1.0\"}",
                s->version, SYNC_PROTOCOL_VERSION, resumed ? "true" : "false");
    send_frame(c, &b);
    buf_release(&b);
}

static int parse_hash(const char *s, uint64_t *out)
{
    if (!s || strlen(s) != 16)
        return -1;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 16);
    if (errno || *end)
        return -1;
    *out = v;
    return 0;
}

static void add_query(struct sync_conn *c, struct sync_session *s, json_t *q, size_t index)
{
    struct sync *sy = c->sync;
    json_t *qid = json_object_get(q, "queryId");
    json_t *path = json_object_get(q, "path");
    json_t *args = json_object_get(q, "args");
    char msg[300];
    if (!json_is_object(q) || !json_is_number(qid) || json_number_value(qid) < 0 ||
        json_number_value(qid) != floor(json_number_value(qid)) ||
        json_number_value(qid) > 9007199254740991.0) {
        snprintf(msg, sizeof msg, "`add[%zu]` needs `queryId`: a non-negative integer", index);
        send_error(c, "InvalidMessage", msg, NULL, NULL, 0, -1);
        return;
    }
    char idj[64];
    uint64_t query_id = (uint64_t)json_number_value(qid);
    snprintf(idj, sizeof idj, "%" PRIu64, query_id);
    if (!json_is_string(path) || strlen(json_string_value(path)) != json_string_length(path) ||
        (args && !json_is_object(args))) {
        snprintf(msg, sizeof msg,
                 "`add[%zu]` needs `path` (a string like \"messages:list\", without U+0000) and "
                 "`args` (an object)",
                 index);
        send_error(c, "InvalidMessage", msg, "queryId", idj, 0, -1);
        return;
    }
    char *canon = args ? json_dumps(args, JSON_COMPACT | JSON_SORT_KEYS) : vr_strdup("{}");
    char k[24];
    size_t klen = u64_key(query_id, k);
    struct sync_sub *sub = hmap_get(&s->subs, k, klen);
    const char *hash_s = json_string_value(json_object_get(q, "hash"));
    uint64_t hash = 0;
    int have_hash = parse_hash(hash_s, &hash) == 0;
    if (sub && sub->stale && !strcmp(sub->lq->path, json_string_value(path)) &&
        !strcmp(sub->lq->args_json, canon)) {
        /* resumed: the live query stayed current while the client was away */
        sub->stale = 0;
        if (have_hash) {
            sub->sent = 1;
            sub->sent_hash = hash;
            sub->check_unchanged = 1;
        }
        sub_mark_pending(sub);
        free(canon);
        return;
    }
    if (sub && sub->stale) {
        session_drop_sub(s, sub);
        sub = NULL;
    }
    if (sub) {
        send_error(c, "DuplicateQueryId", "this session already has a query with that queryId",
                   "queryId", idj, 0, -1);
        free(canon);
        return;
    }
    int created;
    struct live_query *lq = live_query_acquire(sy->shard->live, json_string_value(path), canon, "",
                                               &created);
    free(canon);
    sub = vr_calloc(1, sizeof *sub);
    sub->query_id = query_id;
    sub->session = s;
    sub->lq = lq;
    hmap_put(&s->subs, k, klen, sub);
    sub_link(sub);
    if (created || lq->version == 0)
        live_mark_dirty(sy->shard->live, lq);
    sub_mark_pending(sub);
}

static void handle_modify(struct sync_conn *c, json_t *msg)
{
    struct sync_session *s = c->session;
    json_t *add = json_object_get(msg, "add");
    json_t *remove = json_object_get(msg, "remove");
    if ((add && !json_is_array(add)) || (remove && !json_is_array(remove))) {
        send_error(c, "InvalidMessage", "`add` and `remove` must be arrays", NULL, NULL, 0, -1);
        return;
    }
    size_t i;
    json_t *v;
    json_array_foreach(remove, i, v)
    {
        char k[24];
        if (!json_is_number(v) || json_number_value(v) < 0) {
            send_error(c, "InvalidMessage", "`remove` holds queryIds (non-negative integers)",
                       NULL, NULL, 0, -1);
            continue;
        }
        uint64_t qid = (uint64_t)json_number_value(v);
        struct sync_sub *sub = hmap_get(&s->subs, k, u64_key(qid, k));
        if (!sub)
            continue; /* removing what is not there is a no-op, as in Convex */
        session_drop_sub(s, sub);
        buf_appendf(&s->removed, "%s{\"type\":\"QueryRemoved\",\"queryId\":%" PRIu64 "}",
                    s->removed.len ? "," : "", qid);
        schedule(s);
    }
    json_array_foreach(add, i, v)
        add_query(c, s, v, i);
    if (s->resumed_check) {
        /* queries the client did not re-add after a resume are gone on its side */
        s->resumed_check = 0;
        for (size_t j = 0; j < s->subs.cap; j++) {
            if (!s->subs.slots[j].key)
                continue;
            struct sync_sub *sub = s->subs.slots[j].value;
            if (sub->stale) {
                session_drop_sub(s, sub);
                j = (size_t)-1; /* the map changed under us: rescan */
            }
        }
    }
}

static void handle_call(struct sync_conn *c, json_t *msg, enum js_fn_kind kind)
{
    struct sync *sy = c->sync;
    struct sync_session *s = c->session;
    const char *type = kind == JS_MUTATION ? "mutationResponse" : "actionResponse";
    char rid[64];
    json_t *path = json_object_get(msg, "path");
    json_t *args = json_object_get(msg, "args");
    json_t *idem = json_object_get(msg, "idempotencyKey");
    if (id_json(json_object_get(msg, "requestId"), rid) < 0) {
        send_error(c, "InvalidMessage",
                   "`requestId` must be an integer or a string of at most 48 characters", NULL,
                   NULL, 0, -1);
        return;
    }
    if (!json_is_string(path) || strlen(json_string_value(path)) != json_string_length(path) ||
        (args && !json_is_object(args) && !json_is_null(args)) ||
        (idem && !json_is_null(idem) &&
         (!json_is_string(idem) || strlen(json_string_value(idem)) > MAX_IDEMPOTENCY_KEY))) {
        send_error(c, "InvalidMessage",
                   "needs `path` (a string like \"messages:send\", without U+0000), `args` (an "
                   "object) and an "
                   "optional `idempotencyKey` (a string of at most 200 bytes)",
                   "requestId", rid, 0, -1);
        return;
    }
    struct buf frame = BUF_INIT(BUF_NOLIMIT);
    struct js_result res;
    js_result_init(&res);
    char *args_text = (args && json_is_object(args)) ? json_dumps(args, JSON_COMPACT)
                                                     : vr_strdup("{}");
    const char *p = json_string_value(path);
    const struct js_function *fn = sy->shard->rt ? js_runtime_find(sy->shard->rt, p) : NULL;
    buf_appendf(&frame, "{\"type\":\"%s\",\"requestId\":%s,", type, rid);
    if (!fn || fn->internal || fn->kind != kind) {
        char m[600];
        const char *code = "FunctionNotFound";
        if (!sy->shard->rt) {
            snprintf(m, sizeof m, "no app is loaded");
            code = "NoAppLoaded";
        } else if (fn && !fn->internal) {
            snprintf(m, sizeof m, "`%.400s` is a %s, not a%s", p,
                     fn->kind == JS_QUERY ? "query" : fn->kind == JS_MUTATION ? "mutation" : "action",
                     kind == JS_MUTATION ? " mutation" : "n action");
            code = "WrongFunctionKind";
        } else {
            snprintf(m, sizeof m, "could not find public function `%.400s`", p);
        }
        buf_append_str(&frame, "\"success\":false,");
        reply_error_fields(&frame, code, m, strlen(m), NULL, 0);
        buf_append_str(&frame, "}");
    } else {
        struct js_call_opts o = { .idempotency_key = json_string_value(idem),
                                  .args_value = (args && json_is_object(args)) ? args : NULL };
        if (shard_call(sy->shard, fn, args_text, strlen(args_text), &o, &res) == 0) {
            buf_append_str(&frame, "\"success\":true,\"value\":");
            buf_append(&frame, res.value.data, res.value.len);
            if (kind == JS_MUTATION)
                buf_appendf(&frame, ",\"version\":%" PRIu64, res.version);
            buf_append_str(&frame, "}");
        } else {
            buf_append_str(&frame, "\"success\":false,");
            reply_result_error(&frame, &res);
            buf_append_str(&frame, "}");
        }
    }
    queue_response(s, &frame, rid, kind);
    js_result_release(&res);
    free(args_text);
    buf_release(&frame);
}

static void on_message(struct ws *ws, int is_text, const char *p, size_t n, void *arg)
{
    struct sync_conn *c = arg;
    struct sync *sy = c->sync;
    sy->stats.messages_in++;
    if (!is_text) {
        send_error(c, "InvalidMessage", "messages are JSON text frames, not binary", NULL, NULL, 0,
                   -1);
        return;
    }
    if (n > sy->opts.max_message) {
        char m[160];
        snprintf(m, sizeof m, "message of %zu bytes is over the limit of %zu bytes", n,
                 sy->opts.max_message);
        send_error(c, "MessageTooLarge", m, NULL, NULL, 0, -1);
        return;
    }
    json_error_t jerr;
    json_t *msg = json_loadb(p, n, JSON_DECODE_INT_AS_REAL | JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL,
                             &jerr);
    if (!msg || !json_is_object(msg)) {
        char m[300];
        if (msg)
            snprintf(m, sizeof m, "a message must be a JSON object");
        else
            snprintf(m, sizeof m, "message is not valid JSON: %s (column %d)", jerr.text,
                     jerr.column);
        send_error(c, "InvalidMessage", m, NULL, NULL, 0, -1);
        json_decref(msg);
        return;
    }
    const char *type = json_string_value(json_object_get(msg, "type"));
    if (!type) {
        send_error(c, "InvalidMessage", "a message needs a string `type`", NULL, NULL, 0, -1);
    } else if (!strcmp(type, "ping")) {
        struct buf b = BUF_INIT(64);
        buf_append_str(&b, "{\"type\":\"pong\"}");
        send_frame(c, &b);
        buf_release(&b);
    } else if (!strcmp(type, "connect")) {
        handle_connect(c, msg);
    } else if (strcmp(type, "modifyQuerySet") && strcmp(type, "mutation") &&
               strcmp(type, "action")) {
        char m[200];
        snprintf(m, sizeof m, "unknown message type \"%.100s\"", type);
        send_error(c, "UnknownMessageType", m, NULL, NULL, 0, -1);
    } else if (!c->session) {
        send_error(c, "NotConnected", "send `connect` first", NULL, NULL, 0, -1);
    } else if (!strcmp(type, "modifyQuerySet")) {
        handle_modify(c, msg);
    } else {
        handle_call(c, msg, !strcmp(type, "mutation") ? JS_MUTATION : JS_ACTION);
    }
    json_decref(msg);
}

static void on_close(struct ws *ws, int code, const char *reason, void *arg)
{
    struct sync_conn *c = arg;
    detach(c);
    c->ws = NULL;
    ws_unref(ws);
    vr_free(c);
}

static const struct ws_handlers sync_handlers = { NULL, on_message, on_close };

void sync_accept(struct sync *sy, struct conn *cn, struct http_request *req)
{
    struct sync_conn *c = vr_calloc(1, sizeof *c);
    c->sync = sy;
    struct ws *ws;
    if (ws_accept(cn, req, &sync_handlers, c, &ws) < 0) {
        vr_free(c);
        return;
    }
    ws_ref(ws);
    c->ws = ws;
}

/* --- lifecycle --- */

struct sync *sync_new(struct loop *loop, struct shard *shard, const struct sync_options *opts)
{
    struct sync *sy = vr_calloc(1, sizeof *sy);
    sy->loop = loop;
    sy->shard = shard;
    sy->opts.session_retention_ms = 5 * 60 * 1000;
    sy->opts.max_message = 1u << 20;
    sy->opts.max_sessions = 1u << 20;
    if (opts) {
        if (opts->session_retention_ms)
            sy->opts.session_retention_ms = opts->session_retention_ms;
        if (opts->max_message)
            sy->opts.max_message = opts->max_message;
        if (opts->max_sessions)
            sy->opts.max_sessions = opts->max_sessions;
    }
    hmap_init(&sy->sessions);
    return sy;
}

void sync_free(struct sync *sy)
{
    if (!sy)
        return;
    for (size_t i = 0; i < sy->sessions.cap; i++) {
        struct sync_session *s = sy->sessions.slots[i].key ? sy->sessions.slots[i].value : NULL;
        if (!s)
            continue;
        if (s->conn) {
            s->conn->session = NULL;
            s->conn = NULL;
        }
        session_free(s);
        i = (size_t)-1; /* the map shrank: rescan */
    }
    hmap_release(&sy->sessions);
    vr_free(sy);
}

const struct sync_stats *sync_stats(const struct sync *sy)
{
    return &sy->stats;
}
