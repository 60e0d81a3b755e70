/* sync: the messages over /api/sync (connect, modifyQuerySet, mutations and actions) and the
 * before-sleep flush: re-run each dirty live query once, then send each affected session one
 * transition (its version -> the store's version) followed by its queued responses, so
 * read-your-writes holds and no UI mixes versions. Sessions outlive their connection for the
 * retention window so a reconnecting client can resume without being sent what it has
 * (sync_session.c); each connection's queue goes out at the client's pace (sync_out.c). */
#include "proto/sync.h"

#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/clock.h"
#include "base/hmap.h"
#include "base/json_parse.h"
#include "base/log.h"
#include "base/mem.h"
#include "base/numfmt.h"
#include "base/rate.h"
#include "net/send_pool.h"
#include "net/ws.h"
#include "proto/actions.h"
#include "proto/auth_keys.h"
#include "proto/reply.h"
#include "proto/sync_int.h"
#include "base/banned.h"

#define MAX_SESSION_ID 128
#define MAX_IDEMPOTENCY_KEY 200
/* How far into a message (from each end) an id is looked for when it cannot be parsed. */
#define ID_SCAN_WINDOW 4096

#define SYNC_CONNECT_TIMEOUT_MS 10000 /* an open WebSocket must send `connect` within */

/* --- helpers --- */

/* The message on_message is dispatching, as received: handle_call hands the runtime the `args`
 * text from it instead of printing the parsed object again (a message held for a token's verdict
 * is dispatched without it and takes json_dumps). Per thread: each loop dispatches its own. */
static _Thread_local struct {
    const json_t *msg;
    const char *p;
    size_t n;
} raw_msg;

static size_t skip_ws(const char *p, size_t n, size_t i)
{
    while (i < n && (p[i] == ' ' || p[i] == '\t' || p[i] == '\r' || p[i] == '\n'))
        i++;
    return i;
}

static size_t skip_string(const char *p, size_t n, size_t i) /* p[i] is the opening quote */
{
    for (i++; i < n && p[i] != '"'; i++)
        if (p[i] == '\\')
            i++;
    return i + 1;
}

/* The end of the JSON value at p[i]. */
static size_t skip_value(const char *p, size_t n, size_t i)
{
    if (i < n && p[i] == '"')
        return skip_string(p, n, i);
    if (i < n && (p[i] == '{' || p[i] == '[')) {
        int depth = 0;
        while (i < n) {
            char ch = p[i];
            if (ch == '"') {
                i = skip_string(p, n, i);
                continue;
            }
            i++;
            if (ch == '{' || ch == '[')
                depth++;
            else if ((ch == '}' || ch == ']') && --depth == 0)
                break;
        }
        return i;
    }
    while (i < n && !strchr(",}] \t\r\n", p[i]))
        i++;
    return i;
}

/* The text of the top-level member `"args"` of a message jansson accepted (so well-formed and
 * without duplicate keys): 0 with its span, or -1 when it is absent or its name is escaped. */
static int args_span(const char *p, size_t n, size_t *off, size_t *len)
{
    size_t i = skip_ws(p, n, 0);
    if (i >= n || p[i] != '{')
        return -1;
    for (i++;;) {
        i = skip_ws(p, n, i);
        if (i >= n || p[i] != '"')
            return -1;
        size_t ks = i;
        i = skip_string(p, n, i);
        i = skip_ws(p, n, i);
        if (i >= n || p[i] != ':')
            return -1;
        size_t vs = skip_ws(p, n, i + 1), ve = skip_value(p, n, vs);
        if (ve > n)
            return -1;
        if (i - ks >= 6 && !memcmp(p + ks, "\"args\"", 6) && skip_ws(p, n, ks + 6) == i) {
            *off = vs;
            *len = ve - vs;
            return 0;
        }
        i = skip_ws(p, n, ve);
        if (i >= n || p[i] != ',')
            return -1;
        i++;
    }
}

/* The id of a message that could not be parsed (too large, or not JSON): the first
 * "requestId" or "queryId" within ID_SCAN_WINDOW bytes of either end whose value is an integer
 * or a short string without escapes, copied as JSON into out. Returns the field name or NULL. */
static const char *scan_id(const char *p, size_t n, char out[64])
{
    static const char *const fields[] = { "requestId", "queryId" };
    for (size_t f = 0; f < 2; f++) {
        size_t flen = strlen(fields[f]);
        for (int end = 0; end < 2; end++) {
            size_t from = end ? (n > ID_SCAN_WINDOW ? n - ID_SCAN_WINDOW : 0) : 0;
            size_t to = end ? n : (n < ID_SCAN_WINDOW ? n : ID_SCAN_WINDOW);
            for (size_t i = from; i + flen + 2 <= to; i++) {
                if (p[i] != '"' || memcmp(p + i + 1, fields[f], flen) || p[i + 1 + flen] != '"')
                    continue;
                size_t j = i + flen + 2;
                while (j < to && strchr(" \t\r\n", p[j]) && p[j])
                    j++;
                if (j >= to || p[j] != ':')
                    continue;
                j++;
                while (j < to && strchr(" \t\r\n", p[j]) && p[j])
                    j++;
                size_t k = j;
                if (k < to && p[k] == '"') {
                    for (k++; k < to && k - j <= 49 && p[k] != '"' && p[k] != '\\' &&
                              (unsigned char)p[k] >= 0x20;
                         k++)
                        ;
                    if (k >= to || p[k] != '"')
                        continue;
                    k++;
                } else {
                    if (k < to && p[k] == '-')
                        k++;
                    size_t d = k;
                    while (k < to && k - d < 17 && p[k] >= '0' && p[k] <= '9')
                        k++;
                    if (k == d || (k < to && (p[k] == '.' || p[k] == 'e' || p[k] == 'E' ||
                                              (p[k] >= '0' && p[k] <= '9'))))
                        continue; /* not an integer a client id can be */
                }
                memcpy(out, p + j, k - j);
                out[k - j] = '\0';
                return fields[f];
            }
        }
    }
    return NULL;
}

/* The decimal digits of v into out (NUL-terminated, at least 21 bytes); returns their count. */
static size_t u64_text(uint64_t v, char *out)
{
    size_t n = numfmt_u64(v, out);
    out[n] = '\0';
    return n;
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
        int neg = signbit(d) != 0; /* -0 stays "-0", as "%.0f" printed it */
        if (neg)
            out[0] = '-';
        u64_text((uint64_t)fabs(d), out + neg);
        return 0;
    }
    return -1;
}

void sync_schedule(struct sync_session *s)
{
    loop_wake(s->sync->loop); /* in case the flush already ran this iteration */
    if (s->in_flush)
        return;
    s->in_flush = 1;
    s->next_flush = s->sync->flush_head;
    s->sync->flush_head = s;
}

void sync_sub_mark_pending(struct sync_sub *sub)
{
    struct sync_session *s = sub->session;
    if (!sub->pending) {
        if (s->n_pending == s->cap_pending) {
            s->cap_pending = s->cap_pending ? s->cap_pending * 2 : 2;
            s->pending = vr_realloc(s->pending, s->cap_pending * sizeof *s->pending);
        }
        s->pending[s->n_pending++] = sub;
        sub->pending = 1;
    }
    sync_schedule(s);
}

void sync_queue_response(struct sync_session *s, struct buf *frame, const char *rid, int kind,
                         int in_batch)
{
    if (s->n_responses == s->cap_responses) {
        s->cap_responses = s->cap_responses ? s->cap_responses * 2 : 4;
        s->responses = vr_realloc(s->responses, s->cap_responses * sizeof *s->responses);
    }
    struct sync_response *r = &s->responses[s->n_responses++];
    r->frame = *frame; /* takes the buffer */
    size_t n = strnlen(rid, sizeof r->request_id - 1); /* ids are at most 48 characters */
    memcpy(r->request_id, rid, n);
    r->request_id[n] = '\0';
    r->kind = kind;
    r->in_batch = in_batch;
    buf_init(frame, BUF_NOLIMIT);
    sync_schedule(s);
}

/* The batch these responses were computed in did not commit: what they report was lost. An
 * action's response was not computed in it (its nested mutations were answered only after their
 * own batches committed): it stands, as do answers given before the batch opened. */
static void fail_responses(struct sync_session *s)
{
    for (size_t i = 0; i < s->n_responses; i++) {
        struct sync_response *r = &s->responses[i];
        if (!r->in_batch)
            continue;
        buf_reset(&r->frame);
        if (s->cvx) {
            convex_sync_fail_frame(&r->frame, r->request_id, r->kind);
            continue;
        }
        buf_appendf(&r->frame,
                    "{\"type\":\"%s\",\"requestId\":%s,\"success\":false,\"errorMessage\":"
                    "\"the storage failed to commit this call's transaction; nothing it did "
                    "remains; retry\",\"errorCode\":\"StoreError\"}",
                    r->kind == JS_MUTATION ? "mutationResponse" : "actionResponse", r->request_id);
    }
}

/* --- running live queries --- */

/* The JSON of at most JS_LOG_MAX_BYTES of lines (and the notice), every byte escaped as \u00XX */
#define LOG_JSON_MAX (6 * ((size_t)JS_LOG_MAX_BYTES + 1024) + 4 * JS_LOG_MAX_LINES + 2)

/* Keeps the console lines of lq's run for Convex's subscribers (Vireo's protocol does not carry
 * them, and a journaled live query is Convex's alone). A run that logged nothing costs nothing. */
static void keep_logs(struct sync *sy, struct live_query *lq, const struct js_result *res)
{
    struct live *live = sy->shard->live;
    if (!res->log_count || !lq->journal) {
        if (lq->logs_hash)
            live_query_set_logs(live, lq, NULL, 0);
        return;
    }
    struct buf json = BUF_INIT(LOG_JSON_MAX);
    /* what is kept is counted by its capacity: reserve what unescaped lines take (a 4-byte
     * length each becomes quotes and a comma) and a little for escapes */
    buf_reserve(&json, res->log_lines.len + res->log_lines.len / 16 + 64);
    js_result_log_json(res, &json);
    live_query_set_logs(live, lq, &json, live_hash(json.data, json.len, 0) | 1);
    if (live_log_bytes(live) <= SYNC_LOG_KEEP_BYTES)
        return;
    for (size_t i = 0; i < sy->n_log_drop; i++)
        if (sy->log_drop[i] == lq)
            return; /* already to drop (a re-run while a session was held back) */
    if (sy->n_log_drop == sy->cap_log_drop) {
        sy->cap_log_drop = sy->cap_log_drop ? 2 * sy->cap_log_drop : 16;
        sy->log_drop = vr_realloc(sy->log_drop, sy->cap_log_drop * sizeof *sy->log_drop);
    }
    live_query_ref(lq);
    sy->log_drop[sy->n_log_drop++] = lq;
}

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
        const char *m = shard_no_app_text(sh, "no app is loaded");
        reply_error_fields(&err, "NoAppLoaded", m, strlen(m), NULL, 0);
    } else if (!fn || fn->internal || fn->kind != JS_QUERY) {
        char msg[600];
        int wrong_kind = fn && fn->kind != JS_QUERY && !fn->internal;
        snprintf(msg, sizeof msg,
                 wrong_kind ? "`%.400s` is not a query" : "could not find public query `%.400s`",
                 lq->path);
        reply_error_fields(&err, wrong_kind ? "WrongFunctionKind" : "FunctionNotFound", msg,
                           strlen(msg), NULL, 0);
    } else {
        /* shared by subscribers whose arguments differ only in key order: it runs with the
         * newest one's arguments as that client sent them */
        const struct sync_sub *head = lq->owner;
        const char *args = head && head->args ? head->args : lq->args_json;
        /* a journaled (Convex) query runs with the journal its last run recorded */
        struct js_call_opts o = {.journaled = lq->journal != NULL,
                                 .journal = lq->journal,
                                 .journal_len = lq->journal ? strlen(lq->journal) : 0,
                                 .identity = lq->identity[0] ? lq->identity : NULL};
        uint64_t t0 = clock_mono_ns();
        js_call_ex(sh->rt, fn, args, strlen(args), &o, &res);
        lq->run_ns = clock_mono_ns() - t0;
        if (res.txn)
            reads = store_txn_read_set(res.txn);
        if (res.status == JS_OK) {
            is_error = 0;
            if (lq->journal)
                live_query_set_journal(sh->live, lq, res.journal.data ? res.journal.data : "",
                                       res.journal.len);
        } else {
            reply_result_error(&err, &res);
        }
    }
    buf_append_str(&err, "}");
    uint64_t old_logs = lq->logs_hash;
    keep_logs(sy, lq, &res); /* none when it did not run */
    int rerun = lq->version != 0;
    const struct buf *out = is_error ? &err : &res.value;
    uint64_t version = store_version(sh->store);
    int changed = live_query_update(sh->live, lq, reads, out->data, out->len, is_error,
                                    version ? version : 1);
    struct live_stats *st = live_stats(sh->live);
    if (rerun) {
        st->reruns++;
        if (!changed && old_logs == lq->logs_hash)
            st->suppressed++;
    }
    /* Convex's dedupe hashes the result with the run's log lines: the same value with other
     * lines goes out again */
    for (struct sync_sub *sub = lq->owner; sub; sub = sub->lq_next)
        if (changed || !sub->sent || (sub->session->cvx && sub->sent_logs != lq->logs_hash))
            sync_sub_mark_pending(sub);
    buf_release(&err);
    js_result_release(&res);
}

/* --- the flush --- */

/* What every subscriber of lq is sent after its own `{"type":"QueryUpdated","queryId":N,"value":`
 * — the value and its hash — serialized once per result and shared by reference. */
void sync_wired(struct sync *sy, struct live_query *lq)
{
    if (sy->n_wired == sy->cap_wired) {
        sy->cap_wired = sy->cap_wired ? 2 * sy->cap_wired : 16;
        sy->wired = vr_realloc(sy->wired, sy->cap_wired * sizeof *sy->wired);
    }
    live_query_ref(lq);
    sy->wired[sy->n_wired++] = lq;
}

static struct shared_buf *vireo_wire(struct sync *sy, struct live_query *lq)
{
    if (!lq->wire[0]) {
        if (!lq->wire[1])
            sync_wired(sy, lq);
        struct buf t = BUF_INIT(BUF_NOLIMIT);
        buf_reserve(&t, lq->result.len + 32);
        buf_append(&t, lq->result.data, lq->result.len);
        buf_appendf(&t, ",\"hash\":\"%016" PRIx64 "\"}", lq->result_hash);
        lq->wire[0] = shared_buf_new(t.data, t.len);
        buf_release(&t);
    }
    return lq->wire[0];
}

static void append_modification(struct iobuf *b, struct sync_sub *sub, int *first)
{
    struct live_query *lq = sub->lq;
    if (lq->version == 0)
        return; /* not run yet (no app): nothing to say */
    int unchanged = sub->sent && sub->sent_hash == lq->result_hash;
    if (unchanged && !sub->check_unchanged)
        return;
    if (!*first)
        iobuf_append(b, ",", 1);
    if (unchanged) {
        iobuf_append_str(b, "{\"type\":\"QueryUnchanged\",\"queryId\":");
        iobuf_append_u64(b, sub->query_id);
        iobuf_append(b, "}", 1);
    } else if (lq->is_error) {
        /* the error JSON is an object: splice its fields in */
        iobuf_append_str(b, "{\"type\":\"QueryFailed\",\"queryId\":");
        iobuf_append_u64(b, sub->query_id);
        iobuf_append(b, ",", 1);
        iobuf_append(b, lq->result.data + 1, lq->result.len - 1);
    } else {
        iobuf_append_str(b, "{\"type\":\"QueryUpdated\",\"queryId\":");
        iobuf_append_u64(b, sub->query_id);
        iobuf_append_str(b, ",\"value\":");
        iobuf_append_shared(b, vireo_wire(sub->session->sync, lq));
    }
    sub->sent = 1;
    sub->sent_hash = lq->result_hash;
    *first = 0;
}

static void flush_session(struct sync *sy, struct sync_session *s, uint64_t version)
{
    if (s->cvx) {
        convex_sync_flush_session(sy, s, version);
        return;
    }
    if (s->conn && s->awaiting_query_set) {
        /* resumed, query set not re-established: a transition now would move the client past
         * results it has not been sent. Responses go out; the version stays, so a client waits
         * for the transition after its modifyQuerySet to see a mutation's write. */
        for (size_t i = 0; i < s->n_responses; i++)
            sync_send_msg(s->conn, &s->responses[i].frame, 0);
        sync_clear_responses(s);
        return;
    }
    struct iobuf b;
    iobuf_init(&b);
    iobuf_append_str(&b, "{\"type\":\"transition\",\"startVersion\":");
    iobuf_append_u64(&b, s->version);
    iobuf_append_str(&b, ",\"endVersion\":");
    iobuf_append_u64(&b, version);
    iobuf_append_str(&b, ",\"modifications\":[");
    size_t head = b.len;
    int first = 1;
    /* removals first: a queryId removed and added again in one batch ends up live */
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
        /* a stale query (resumed, not re-added yet) is the client's to keep or drop */
        if (s->conn && !sub->stale)
            append_modification(&b, sub, &first);
        sub->check_unchanged = 0;
    }
    s->n_pending = 0;
    iobuf_append(&b, "]}", 2);
    int has_mods = b.len > head + 2;
    struct sync_conn *c = s->conn;
    if (c) {
        /* a response needs the session at its version first (read-your-writes), even when
         * none of the session's queries changed; the transition and the responses are queued
         * together and handed to the socket in one write */
        int ok = 0;
        if (has_mods || (s->n_responses && version != s->version)) {
            ok = sync_queue_msg(c, &b, 1);
            sy->stats.transitions++;
            s->version = version;
        }
        for (size_t i = 0; ok == 0 && i < s->n_responses; i++) {
            struct iobuf r;
            iobuf_init(&r);
            iobuf_take_buf(&r, &s->responses[i].frame);
            ok = sync_queue_msg(c, &r, 0);
        }
        if (ok == 0)
            sync_pump(c);
    }
    sync_clear_responses(s);
    iobuf_release(&b);
}

/* What one loop iteration spends re-running live queries before it leaves the rest to the next
 * (a query once started runs to its end: at most its own time limit past this) */
#define RERUN_BUDGET_NS (50 * 1000000ull)
/* A query left for later this long goes before every cheaper one: none waits without end */
#define RERUN_AGED_NS (1000 * 1000000ull)

/* A dirty query, with what orders the re-runs (rerun_order) */
struct rerun_item {
    struct live_query *lq;
    int aged;    /* left for later RERUN_AGED_NS ago or more */
    size_t load; /* the fewest dirty queries any session subscribed to it has */
};

/* The queries left waiting past RERUN_AGED_NS first, the longest waiting first; then those of
 * the sessions with the fewest queries to re-run (one client's thousand slow queries do not
 * keep another client's one behind them); then the cheapest, by their last run. */
static int rerun_order(const void *a, const void *b)
{
    const struct rerun_item *x = a, *y = b;
    if (x->aged != y->aged)
        return x->aged ? -1 : 1;
    if (x->aged && x->lq->waiting_since != y->lq->waiting_since)
        return x->lq->waiting_since < y->lq->waiting_since ? -1 : 1;
    if (x->load != y->load)
        return x->load < y->load ? -1 : 1;
    return x->lq->run_ns < y->lq->run_ns ? -1 : x->lq->run_ns > y->lq->run_ns;
}

/* Re-runs the dirty live queries, in rerun_order, until the iteration's re-runs have taken
 * RERUN_BUDGET_NS, so that one client's slow queries do not hold every other client's writes
 * for seconds. Those left stay dirty for the next iteration (sync_flush holds back the
 * sessions that hold them); the first call of an iteration runs at least one. */
void sync_rerun(struct sync *sy)
{
    struct live *live = sy->shard->live;
    struct live_query *lq;
    struct rerun_item *all = NULL;
    size_t n = 0, cap = 0;
    while ((lq = live_pop_dirty(live))) {
        if (n == cap) {
            cap = cap ? 2 * cap : 16;
            all = vr_realloc(all, cap * sizeof *all);
        }
        all[n++] = (struct rerun_item){ lq, 0, SIZE_MAX };
    }
    uint64_t now = clock_mono_ns();
    if (n > 1) {
        for (size_t i = 0; i < n; i++)
            for (struct sync_sub *sub = all[i].lq->owner; sub; sub = sub->lq_next)
                sub->session->dirty_subs++;
        for (size_t i = 0; i < n; i++) {
            struct rerun_item *it = &all[i];
            it->aged = it->lq->waiting_since && now - it->lq->waiting_since >= RERUN_AGED_NS;
            for (struct sync_sub *sub = it->lq->owner; sub; sub = sub->lq_next)
                if (sub->session->dirty_subs < it->load)
                    it->load = sub->session->dirty_subs;
        }
        for (size_t i = 0; i < n; i++)
            for (struct sync_sub *sub = all[i].lq->owner; sub; sub = sub->lq_next)
                sub->session->dirty_subs = 0;
        qsort(all, n, sizeof *all, rerun_order);
    }
    int first = !sy->rerun_start;
    if (n && first)
        sy->rerun_start = now;
    size_t i = 0;
    for (; i < n; i++) {
        if ((i > 0 || !first) && clock_mono_ns() - sy->rerun_start >= RERUN_BUDGET_NS)
            break;
        lq = all[i].lq;
        lq->waiting_since = 0;
        if (sync_lq_all_detached(lq))
            hmap_put(&sy->stale_lqs, &lq, sizeof lq, lq); /* re-run when re-added */
        else
            run_live_query(sy, lq);
    }
    for (; i < n; i++) { /* the next iteration's */
        if (!all[i].lq->waiting_since)
            all[i].lq->waiting_since = now;
        live_mark_dirty(live, all[i].lq);
    }
    vr_free(all);
}

/* A new loop iteration, after the last one's I/O: a new budget for the re-runs left */
static void on_rerun_timer(struct loop *l, struct timer *t)
{
    struct sync *sy = t->arg;
    (void)l;
    sy->rerun_start = 0;
}

/* Holds back this flush's sessions that hold a query still dirty: their transition must have
 * every query of theirs at the flush's version. */
static void hold_sessions(struct sync *sy)
{
    for (struct live_query *lq = live_dirty_first(sy->shard->live); lq; lq = live_dirty_next(lq))
        for (struct sync_sub *sub = lq->owner; sub; sub = sub->lq_next)
            sub->session->held_flush = sy->flushes;
}

void sync_flush(struct sync *sy, int batch_failed)
{
    struct live *live = sy->shard->live;
    sync_rerun(sy);
    sy->flushes++;
    int left = live_has_dirty(live);
    if (left)
        hold_sessions(sy);
    uint64_t version = store_version(sy->shard->store);
    /* the sessions' writes go out together at the end, over the send pool's threads */
    send_pool_begin(sy->opts.send_pool);
    struct sync_session *held = NULL, **held_tail = &held;
    while (sy->flush_head) {
        struct sync_session *s = sy->flush_head;
        sy->flush_head = s->next_flush;
        s->next_flush = NULL;
        if (batch_failed)
            fail_responses(s);
        if (left && s->held_flush == sy->flushes) { /* stays in the list for the next flush */
            for (size_t i = 0; i < s->n_responses; i++)
                s->responses[i].in_batch = 0; /* decided: a later batch's failure is not theirs */
            *held_tail = s;
            held_tail = &s->next_flush;
            continue;
        }
        s->in_flush = 0;
        flush_session(sy, s, version);
    }
    sy->flush_head = held;
    if (left) /* the next iteration re-runs more, after the loop served I/O */
        loop_timer_start(sy->loop, &sy->rerun_timer, 0);
    else
        sy->rerun_start = 0;
    /* sent now: over the budget, not kept (while sessions are held, they may still carry them:
     * dropped at the first flush that holds none) */
    for (size_t i = 0; !left && i < sy->n_log_drop; i++) {
        live_query_drop_logs(live, sy->log_drop[i]);
        live_query_release(live, sy->log_drop[i]);
    }
    if (!left)
        sy->n_log_drop = 0;
    for (size_t i = 0; i < sy->n_wired; i++) { /* sent or queued: the messages hold them */
        struct live_query *w = sy->wired[i];
        for (size_t k = 0; k < sizeof w->wire / sizeof w->wire[0]; k++) {
            shared_buf_unref(w->wire[k]);
            w->wire[k] = NULL;
        }
        live_query_release(live, w);
    }
    sy->n_wired = 0;
    /* sockets that drained since: hand them more */
    for (struct sync_conn *c = sy->pump_head, *next; c; c = next) {
        next = c->pump_next;
        sync_pump(c);
    }
    send_pool_end(sy->opts.send_pool); /* the batch holds copies: the wires may go before */
}

/* --- messages --- */

/* Constant-time: the secret is the session's only credential. */
static int secret_matches(const struct sync_session *s, const char *given)
{
    size_t n = sizeof s->secret - 1;
    if (!given || strlen(given) != n)
        return 0;
    unsigned char d = 0;
    for (size_t i = 0; i < n; i++)
        d |= (unsigned char)(given[i] ^ s->secret[i]);
    return d == 0;
}

/* A secret as the server makes them (lowercase hex of SESSION_SECRET_BYTES bytes). */
static int secret_well_formed(const char *given)
{
    if (!given || strlen(given) != 2 * SESSION_SECRET_BYTES)
        return 0;
    for (const char *p = given; *p; p++)
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
            return 0;
    return 1;
}

static void handle_connect(struct sync_conn *c, json_t *msg)
{
    struct sync *sy = c->sync;
    json_t *pv = json_object_get(msg, "protocolVersion");
    if (pv && (!json_is_number(pv) || json_number_value(pv) != SYNC_PROTOCOL_VERSION)) {
        sync_send_error(c, "VersionNotSupported", "this server speaks sync protocol version 1",
                        NULL, NULL, 1, -1);
        sync_close_conn(c, WS_CLOSE_POLICY, "protocol version not supported");
        return;
    }
    if (c->session) {
        sync_send_error(c, "InvalidMessage", "already connected: `connect` must be sent once", NULL,
                        NULL, 0, -1);
        return;
    }
    json_t *sid = json_object_get(msg, "sessionId");
    const char *id = json_string_value(sid);
    if (!id || !*id || strlen(id) > MAX_SESSION_ID || strlen(id) != json_string_length(sid)) {
        sync_send_error(c, "InvalidMessage",
                        "`connect` needs `sessionId`: a string of 1 to 128 characters (no U+0000)",
                        NULL, NULL, 0, -1);
        return;
    }
    json_t *lv = json_object_get(msg, "lastVersion");
    if (lv && !json_is_null(lv) &&
        (!json_is_number(lv) || !(json_number_value(lv) >= 0) ||
         json_number_value(lv) != floor(json_number_value(lv)) ||
         json_number_value(lv) > 9007199254740991.0)) {
        sync_send_error(c, "InvalidMessage",
                        "`lastVersion` must be a version: a non-negative integer (at most 2^53 - 1)",
                        NULL, NULL, 0, -1);
        return;
    }
    json_t *sec = json_object_get(msg, "sessionSecret");
    if (sec && !json_is_null(sec) && !json_is_string(sec)) {
        sync_send_error(c, "InvalidMessage", "`sessionSecret` must be a string", NULL, NULL, 0, -1);
        return;
    }
    struct sync_session *s = hmap_get(&sy->sessions, id, strlen(id));
    if (s && !secret_matches(s, json_string_value(sec))) {
        /* the id is not a credential: only the holder of the secret resumes (or restarts) it */
        log_info("sync", "refused connect to session \"%s\": %s sessionSecret", s->id,
                 sec && json_is_string(sec) ? "wrong" : "no");
        sync_send_error(
            c, "SessionIdInUse",
            "this sessionId belongs to a live session and `connect` did not carry its "
            "`sessionSecret` (from `connected`); start a new session with another sessionId",
            NULL, NULL, 1, -1);
        sync_close_conn(c, WS_CLOSE_POLICY, "session secret mismatch");
        return;
    }
    int resumed = s != NULL && lv && json_is_number(lv);
    if (s && s->conn) { /* the session moves to this connection */
        struct sync_conn *old = s->conn;
        sync_detach(old, 0);
        sync_close_conn(old, WS_CLOSE_POLICY, "session resumed on another connection");
    }
    /* A session started afresh keeps the secret its holder presented: the client's saved copy
     * (a reloaded page's, with unanswered mutations whose keys are scoped to this sessionId)
     * stays valid. A new secret at every fresh start made a page that died before saving it
     * come back with the old one, be refused as SessionIdInUse, and replay its mutations under
     * another sessionId, where their idempotency keys are unknown: applied twice. */
    char keep[sizeof s->secret] = "";
    if (s && !resumed) {
        memcpy(keep, s->secret, sizeof keep);
        sync_session_free(s); /* a known session without a version to resume from: start afresh */
        s = NULL;
    } else if (!s && secret_well_formed(json_string_value(sec))) {
        memcpy(keep, json_string_value(sec), sizeof keep); /* after a restart, as before it */
    }
    if (!s && sy->stats.sessions >= sy->opts.max_sessions) {
        sync_send_error(c, "ServerOverloaded", "too many sessions on this server", NULL, NULL, 1,
                        1000 + (long)(rand() % 4000));
        sync_close_conn(c, WS_CLOSE_TRY_AGAIN, "server overloaded");
        return;
    }
    if (s) {
        /* the client re-adds the queries it wants in its first modifyQuerySet, with the hashes
         * it holds; until then its queries are stale and no transition is sent */
        loop_timer_stop(sy->loop, &s->retention);
        sync_retained_unlink(s);
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
        s->awaiting_query_set = 1;
        s->version = (uint64_t)json_number_value(lv);
        if (s->version > store_version(sy->shard->store))
            s->version = store_version(sy->shard->store);
    } else {
        s = sync_session_new(sy, id);
        s->version = store_version(sy->shard->store);
        if (keep[0])
            memcpy(s->secret, keep, sizeof s->secret);
    }
    s->conn = c;
    c->session = s;
    if (c->ws)
        ws_peer_addr(c->ws, s->addr); /* "" if it cannot be read: counted as one address */
    sy->stats.connections++;
    struct buf b = BUF_INIT(BUF_NOLIMIT);
    buf_append_str(&b, "{\"type\":\"connected\",\"sessionId\":");
    buf_append_json_str(&b, id, strlen(id));
    buf_appendf(&b, ",\"sessionSecret\":\"%s\"", s->secret);
    buf_appendf(&b,
                ",\"version\":%" PRIu64 ",\"protocolVersion\":%d,\"resumed\":%s,"
                "\"serverVersion\":\"vireo/0.1.0\"}",
                s->version, SYNC_PROTOCOL_VERSION, resumed ? "true" : "false");
    sync_send_frame(c, &b);
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
        sync_send_error(c, "InvalidMessage", msg, NULL, NULL, 0, -1);
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
        sync_send_error(c, "InvalidMessage", msg, "queryId", idj, 0, -1);
        return;
    }
    char k[24];
    size_t klen = sync_u64_key(query_id, k);
    struct sync_sub *sub = hmap_get(&s->subs, k, klen);
    const char *hash_s = json_string_value(json_object_get(q, "hash"));
    uint64_t hash = 0;
    int have_hash = parse_hash(hash_s, &hash) == 0;
    char *canon = args ? json_dumps(args, JSON_COMPACT | JSON_SORT_KEYS) : vr_strdup("{}");
    int same = sub && sub->stale && !strcmp(sub->lq->path, json_string_value(path)) &&
               !strcmp(sub->lq->args_json, canon);
    if (same) {
        /* resumed: re-run first if it was invalidated while the session was away */
        free(canon);
        sub->stale = 0;
        free(sub->args);
        sub->args = args ? json_dumps(args, JSON_COMPACT) : NULL;
        if (have_hash) {
            sub->sent = 1;
            sub->sent_hash = hash;
            sub->check_unchanged = 1;
        }
        sync_lq_unstale(sy, sub->lq);
        sync_sub_mark_pending(sub);
        return;
    }
    if (sub && sub->stale) {
        sync_session_drop_sub(s, sub);
        sub = NULL;
    }
    free(canon);
    int r = sync_sub_add(s, query_id, json_string_value(path), args, NULL);
    if (r == -EEXIST) {
        sync_send_error(c, "DuplicateQueryId", "this session already has a query with that queryId",
                        "queryId", idj, 0, -1);
    } else if (r == -E2BIG) {
        snprintf(msg, sizeof msg,
                 "this session has %zu live queries, the most a session may have "
                 "(--max-queries-per-session); remove some first",
                 s->n_subs);
        sync_send_error(c, "TooManyQueries", msg, "queryId", idj, 0, -1);
    }
}

int sync_sub_add(struct sync_session *s, uint64_t query_id, const char *path, const json_t *args,
                 const char *journal)
{
    struct sync *sy = s->sync;
    char k[24];
    size_t klen = sync_u64_key(query_id, k);
    if (hmap_get(&s->subs, k, klen))
        return -EEXIST;
    if (s->n_subs >= sy->opts.max_queries_per_session)
        return -E2BIG;
    /* identical queries share one live query (keyed on key-sorted arguments); each runs with
     * the arguments as a client sent them */
    char *canon = args ? json_dumps(args, JSON_COMPACT | JSON_SORT_KEYS) : vr_strdup("{}");
    int created;
    struct live_query *lq =
        live_query_acquire_journal(sy->shard->live, path, canon, s->identity ? s->identity : "",
                                   journal, &created);
    free(canon);
    struct sync_sub *sub = vr_calloc(1, sizeof *sub);
    sub->query_id = query_id;
    sub->session = s;
    sub->lq = lq;
    sub->args = args ? json_dumps(args, JSON_COMPACT) : NULL;
    if (sub->args && !strcmp(sub->args, lq->args_json)) { /* already in key order */
        free(sub->args);
        sub->args = NULL;
    }
    hmap_put(&s->subs, k, klen, sub);
    s->n_subs++;
    sync_sub_link(sub);
    sync_lq_unstale(sy, lq);
    if (created || lq->version == 0)
        live_mark_dirty(sy->shard->live, lq);
    sync_sub_mark_pending(sub);
    return 0;
}

static void handle_modify(struct sync_conn *c, json_t *msg)
{
    struct sync_session *s = c->session;
    json_t *add = json_object_get(msg, "add");
    json_t *remove = json_object_get(msg, "remove");
    if ((add && !json_is_array(add)) || (remove && !json_is_array(remove))) {
        sync_send_error(c, "InvalidMessage", "`add` and `remove` must be arrays", NULL, NULL, 0,
                        -1);
        return;
    }
    /* more adds than a session may ever hold: refused whole, in one answer (one error per add
     * would make a 7 MB message into 19 MB of errors) */
    size_t max = c->sync->opts.max_queries_per_session;
    if (json_array_size(add) > max) {
        char m[300];
        snprintf(m, sizeof m,
                 "`add` holds %zu queries, more than a session may have (%zu: "
                 "--max-queries-per-session); nothing was changed",
                 json_array_size(add), max);
        sync_send_error(c, "TooManyQueries", m, NULL, NULL, 0, -1);
        return;
    }
    size_t i;
    json_t *v;
    int bad_remove = 0;
    json_array_foreach(remove, i, v)
    {
        char k[24];
        if (!json_is_number(v) || json_number_value(v) < 0) {
            if (!bad_remove++) /* one answer for the message, however many */
                sync_send_error(c, "InvalidMessage",
                                "`remove` holds queryIds (non-negative integers)", NULL, NULL, 0,
                                -1);
            continue;
        }
        uint64_t qid = (uint64_t)json_number_value(v);
        struct sync_sub *sub = hmap_get(&s->subs, k, sync_u64_key(qid, k));
        if (!sub)
            continue; /* removing what is not there is a no-op, as in Convex */
        sync_session_drop_sub(s, sub);
        buf_appendf(&s->removed, "%s{\"type\":\"QueryRemoved\",\"queryId\":%" PRIu64 "}",
                    s->removed.len ? "," : "", qid);
        sync_schedule(s);
    }
    json_array_foreach(add, i, v)
        add_query(c, s, v, i);
    if (s->awaiting_query_set) {
        /* queries the client did not re-add after a resume are gone on its side */
        s->awaiting_query_set = 0;
        for (size_t j = 0; j < s->subs.cap; j++) {
            if (!s->subs.slots[j].key)
                continue;
            struct sync_sub *sub = s->subs.slots[j].value;
            if (sub->stale) {
                sync_session_drop_sub(s, sub);
                j = (size_t)-1; /* the map changed under us: rescan */
            }
        }
        sync_schedule(s); /* the session's version moves on even if nothing changed */
    }
}

/* The record key of a mutation's idempotencyKey: scoped to the session, bound to the call
 * (docs/protocol.md "Idempotency"). Empty when the call has no key. Returns -1 (and appends the
 * error fields to frame) when the key was used in this session for another call. */
static int idem_record_key(struct sync_session *s, json_t *idem, const char *path, json_t *args,
                           struct buf *key, struct buf *frame)
{
    const char *k = json_string_value(idem);
    if (!k)
        return 0;
    char *canon =
        args && json_is_object(args) ? json_dumps(args, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    store_idem_key(key, s->id, k, path, canon ? canon : "{}", canon ? strlen(canon) : 2);
    free(canon);
    struct buf err = BUF_INIT(4096);
    int r = store_idem_conflict(s->sync->shard->store, key->data, key->len, &err);
    if (r != 0) {
        static const char m[] = "this idempotencyKey was already used in this session for another "
                                "call (a different function or arguments); use a new key per call";
        buf_append_str(frame, "\"success\":false,");
        if (r > 0)
            reply_error_fields(frame, "IdempotencyKeyReused", m, sizeof m - 1, NULL, 0);
        else
            reply_error_fields(frame, "StoreError", err.data, err.len, NULL, 0);
        buf_append_str(frame, "}");
    }
    buf_release(&err);
    return r != 0 ? -1 : 0;
}

/* An action's answer on /api/sync (sync_action.c runs it). */
static void action_frame(struct buf *frame, const char *rid, const struct js_result *res)
{
    buf_appendf(frame, "{\"type\":\"actionResponse\",\"requestId\":%s,", rid);
    if (res->status == JS_OK) {
        buf_append_str(frame, "\"success\":true,\"value\":");
        buf_append(frame, res->value.data, res->value.len);
    } else {
        buf_append_str(frame, "\"success\":false,");
        reply_result_error(frame, res);
    }
    buf_append_str(frame, "}");
}

/* An action that did not run: the frame already holds {"type":...,"requestId":...,. */
static void action_refused(struct buf *frame, const char *rid, const char *code, const char *msg,
                           size_t len, int retry)
{
    buf_append_str(frame, "\"success\":false,");
    reply_error_fields(frame, code, msg, len, NULL, 0);
    if (retry)
        buf_appendf(frame, ",\"retryAfterMs\":%d", 500 + rand() % 1500);
    buf_append_str(frame, "}");
}

static const struct sync_action_frames action_frames = { action_frame, action_refused };

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
        sync_send_error(c, "InvalidMessage",
                        "`requestId` must be an integer or a string of at most 48 characters", NULL,
                        NULL, 0, -1);
        return;
    }
    if (!json_is_string(path) || strlen(json_string_value(path)) != json_string_length(path) ||
        (args && !json_is_object(args) && !json_is_null(args)) ||
        (idem && !json_is_null(idem) &&
         (!json_is_string(idem) || strlen(json_string_value(idem)) > MAX_IDEMPOTENCY_KEY ||
          strlen(json_string_value(idem)) != json_string_length(idem)))) {
        sync_send_error(
            c, "InvalidMessage",
            "needs `path` (a string like \"messages:send\", without U+0000), `args` (an "
            "object) and an "
            "optional `idempotencyKey` (a string of at most 200 bytes)",
            "requestId", rid, 0, -1);
        return;
    }
    struct buf frame = BUF_INIT(BUF_NOLIMIT);
    struct buf idem_key = BUF_INIT(BUF_NOLIMIT);
    struct js_result res;
    js_result_init(&res);
    char *args_text = NULL;
    size_t args_len = 2, off, len;
    if (args && json_is_object(args) && raw_msg.msg == msg &&
        args_span(raw_msg.p, raw_msg.n, &off, &len) == 0 && len <= JS_VALUE_MAX) {
        /* (longer text, spaced out past what the runtime takes, is printed compactly below) */
        args_text = vr_malloc(len + 1); /* as received: JSON.parse reads it as jansson did */
        memcpy(args_text, raw_msg.p + off, len);
        args_text[len] = '\0';
        args_len = len;
    } else if (args && json_is_object(args)) {
        args_text = json_dumps(args, JSON_COMPACT);
        args_len = strlen(args_text);
    } else {
        args_text = vr_strdup("{}");
    }
    const char *p = json_string_value(path);
    const struct js_function *fn = sy->shard->rt ? js_runtime_find(sy->shard->rt, p) : NULL;
    buf_append_str(&frame, "{\"type\":\"");
    buf_append_str(&frame, type);
    buf_append_str(&frame, "\",\"requestId\":");
    buf_append_str(&frame, rid);
    buf_append_byte(&frame, ',');
    if (!fn || fn->internal || fn->kind != kind) {
        char m[600];
        const char *code = "FunctionNotFound";
        if (!sy->shard->rt) {
            snprintf(m, sizeof m, "%s", shard_no_app_text(sy->shard, "no app is loaded"));
            code = "NoAppLoaded";
        } else if (fn && !fn->internal) {
            snprintf(m, sizeof m, "`%.400s` is a %s, not a%s", p, js_kind_name(fn->kind),
                     kind == JS_MUTATION ? " mutation" : "n action");
            code = "WrongFunctionKind";
        } else {
            snprintf(m, sizeof m, "could not find public function `%.400s`", p);
        }
        buf_append_str(&frame, "\"success\":false,");
        reply_error_fields(&frame, code, m, strlen(m), NULL, 0);
        buf_append_str(&frame, "}");
    } else if (kind == JS_MUTATION && idem_record_key(s, idem, p, args, &idem_key, &frame) < 0) {
        /* the frame holds the error */
    } else if (kind == JS_ACTION && sy->shard->actions) {
        if (sync_action_submit(c, fn, args_text, (args && json_is_object(args)) ? args : NULL, rid,
                               &action_frames, &frame) == 0)
            goto out; /* answered when it finishes */
    } else {
        struct js_request req;
        sync_call_request(s, c, &req);
        struct js_call_opts o = {.idempotency_key = idem_key.len ? idem_key.data : NULL,
                                 .args_value = (args && json_is_object(args)) ? args : NULL,
                                 .identity = s->identity,
                                 .request = &req};
        if (shard_call(sy->shard, fn, args_text, args_len, &o, &res) == 0) {
            buf_grow(&frame, res.value.len + 64); /* the rest in one allocation */
            buf_append_str(&frame, "\"success\":true,\"value\":");
            buf_append(&frame, res.value.data, res.value.len);
            if (kind == JS_MUTATION) {
                char num[24];
                buf_append_str(&frame, ",\"version\":");
                buf_append(&frame, num, u64_text(res.version, num));
            }
            buf_append_str(&frame, "}");
        } else {
            buf_append_str(&frame, "\"success\":false,");
            reply_result_error(&frame, &res);
            buf_append_str(&frame, "}");
        }
    }
    sync_queue_response(s, &frame, rid, kind, sy->shard->batch_open);
out:
    js_result_release(&res);
    free(args_text);
    buf_release(&idem_key);
    buf_release(&frame);
}

/* The id a refused message's error answers: its requestId, or its first added queryId. */
static const char *msg_id(json_t *msg, char out[64])
{
    if (id_json(json_object_get(msg, "requestId"), out) == 0)
        return "requestId";
    json_t *q = json_array_get(json_object_get(msg, "add"), 0);
    json_t *qid = json_object_get(q, "queryId");
    if (json_is_number(qid) && id_json(qid, out) == 0)
        return "queryId";
    return NULL;
}

/* The type of a message without an id (an `authenticate`, a `ping`…), as JSON in out, when it is
 * one the protocol knows; a message the rate limit refused says which it was. Parsed only up to
 * 64 KiB (a token fits): a larger one is left unnamed. */
static int refused_type(const char *p, size_t n, char out[64])
{
    static const char *const types[] = {"authenticate", "connect",  "modifyQuerySet",
                                        "ping",         "mutation", "action"};
    if (n > 64 * 1024)
        return 0;
    json_t *msg = json_loadb(p, n, 0, NULL);
    const char *type = json_string_value(json_object_get(msg, "type"));
    int found = 0;
    for (size_t i = 0; type && !found && i < sizeof types / sizeof *types; i++) {
        if (!strcmp(type, types[i])) {
            snprintf(out, 64, "\"%s\"", types[i]);
            found = 1;
        }
    }
    json_decref(msg);
    return found;
}

static void on_message(struct ws *ws, int is_text, const char *p, size_t n, void *arg)
{
    struct sync_conn *c = arg;
    struct sync *sy = c->sync;
    sy->stats.messages_in++;
    if (!is_text) {
        sync_send_error(c, "InvalidMessage", "messages are JSON text frames, not binary", NULL,
                        NULL, 0, -1);
        return;
    }
    char idj[64];
    if (n > sy->opts.max_message) {
        char m[160];
        snprintf(m, sizeof m, "message of %zu bytes is over the limit of %zu bytes", n,
                 sy->opts.max_message);
        const char *field = scan_id(p, n, idj); /* so the caller's request settles */
        sync_send_error(c, "MessageTooLarge", m, field, field ? idj : NULL, 0, -1);
        return;
    }
    long wait = sync_rate_take(c);
    if (wait >= 0) {
        char m[160];
        snprintf(m, sizeof m,
                 "more than %u messages per second on this connection "
                 "(--max-messages-per-second); retry after %ld ms",
                 sy->opts.max_messages_per_second, wait);
        const char *field = scan_id(p, n, idj); /* so the caller's request settles */
        if (!field && refused_type(p, n, idj))
            field = "refused"; /* an id-less message named by its type: the client re-sends it */
        sync_send_error(c, "RateLimited", m, field, field ? idj : NULL, 0, wait);
        return;
    }
    char why[160];
    if (json_check_widths(p, n, JSON_MAX_FIELDS, JSON_MAX_ITEMS, why, sizeof why) < 0) {
        char m[300];
        snprintf(m, sizeof m, "message: %s (Convex's value limits); it was not processed", why);
        const char *field = scan_id(p, n, idj); /* so the caller's request settles */
        sync_send_error(c, "InvalidMessage", m, field, field ? idj : NULL, 0, -1);
        return;
    }
    json_error_t jerr;
    json_t *msg = json_parse(p, n, JSON_DECODE_INT_AS_REAL | JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL,
                             &jerr);
    if (!msg || !json_is_object(msg)) {
        char m[300];
        if (msg)
            snprintf(m, sizeof m, "a message must be a JSON object");
        else
            snprintf(m, sizeof m, "message is not valid JSON: %s (column %d)", jerr.text,
                     jerr.column);
        const char *field = msg ? NULL : scan_id(p, n, idj);
        sync_send_error(c, "InvalidMessage", m, field, field ? idj : NULL, 0, -1);
        json_decref(msg);
        return;
    }
    if (!sync_auth_hold(c, msg)) {
        raw_msg.msg = msg;
        raw_msg.p = p;
        raw_msg.n = n;
        sync_dispatch(c, msg);
        raw_msg.msg = NULL;
    }
    json_decref(msg);
}

/* --- tokens: connect's `token` and `authenticate` (sync_auth.c) --- */

static void send_authenticated(struct sync_conn *c, const json_t *identity, double exp_ms)
{
    struct buf b = BUF_INIT(BUF_NOLIMIT);
    buf_append_str(&b, "{\"type\":\"authenticated\",\"identity\":");
    sync_auth_append_identity(&b, identity);
    if (identity && exp_ms > 0)
        buf_appendf(&b, ",\"expiresAt\":%.0f}", exp_ms);
    else
        buf_append_str(&b, ",\"expiresAt\":null}");
    sync_send_frame(c, &b);
    buf_release(&b);
}

/* The verdict on a token: the session takes its identity, or goes on anonymously. */
static void apply_verdict(struct sync_conn *c, const struct auth_result *r)
{
    struct sync_session *s = c->session;
    if (!s)
        return;
    sync_session_set_verdict(s, c, r->identity, r->exp);
    if (r->identity) {
        send_authenticated(c, r->identity, r->exp);
        return;
    }
    struct buf b = BUF_INIT(BUF_NOLIMIT);
    buf_appendf(&b, "{\"type\":\"authError\",\"code\":\"%s\",\"message\":", r->code);
    buf_append_json_str(&b, r->err, strlen(r->err));
    buf_append_str(&b, "}");
    sync_send_frame(c, &b);
    buf_release(&b);
}

static void connect_verified(struct sync_conn *c, const struct auth_result *r, json_t *msg)
{
    handle_connect(c, msg);
    if (c->session && c->ws)
        ws_set_deadline(c->ws, 0, 0, NULL); /* connected: the handshake deadline is met */
    apply_verdict(c, r);
}

static void authenticate_verified(struct sync_conn *c, const struct auth_result *r, json_t *msg)
{
    (void)msg;
    apply_verdict(c, r);
}

/* `token`: absent or null (anonymous), or a JWT string; -1 (answered) when it is neither. */
static int token_of(struct sync_conn *c, json_t *msg, const char **tok, size_t *len)
{
    json_t *t = json_object_get(msg, "token");
    *tok = NULL;
    *len = 0;
    if (!t || json_is_null(t))
        return 0;
    if (!json_is_string(t)) {
        sync_send_error(c, "InvalidMessage", "`token` must be a string (a JWT) or null", NULL, NULL,
                        0, -1);
        return -1;
    }
    *tok = json_string_value(t);
    *len = json_string_length(t);
    return 0;
}

static void handle_authenticate(struct sync_conn *c, json_t *msg)
{
    const char *tok;
    size_t len;
    if (token_of(c, msg, &tok, &len) < 0)
        return;
    if (!tok) { /* sign out */
        sync_session_set_identity(c->session, NULL, 0);
        send_authenticated(c, NULL, 0);
        return;
    }
    sync_auth_verify(c, tok, len, msg, authenticate_verified);
}

void sync_dispatch(struct sync_conn *c, json_t *msg)
{
    char idj[64];
    const char *type = json_string_value(json_object_get(msg, "type"));
    const char *tok;
    size_t tok_len;
    if (!type) {
        sync_send_error(c, "InvalidMessage", "a message needs a string `type`", NULL, NULL, 0, -1);
    } else if (!strcmp(type, "ping")) {
        struct buf b = BUF_INIT(64);
        buf_append_str(&b, "{\"type\":\"pong\"}");
        sync_send_frame(c, &b);
        buf_release(&b);
    } else if (!strcmp(type, "connect")) {
        if (token_of(c, msg, &tok, &tok_len) < 0)
            return;
        if (tok && !c->session) { /* the identity is set before anything of the session runs */
            sync_auth_verify(c, tok, tok_len, msg, connect_verified);
            return;
        }
        handle_connect(c, msg);
        if (c->session && c->ws)
            ws_set_deadline(c->ws, 0, 0, NULL); /* connected: the handshake deadline is met */
        if (c->session && c->session->identity) /* resumed without a token: anonymous */
            sync_session_set_identity(c->session, NULL, 0);
    } else if (strcmp(type, "modifyQuerySet") && strcmp(type, "mutation") &&
               strcmp(type, "action") && strcmp(type, "authenticate")) {
        char m[200];
        snprintf(m, sizeof m, "unknown message type \"%.100s\"", type);
        const char *field = msg_id(msg, idj);
        sync_send_error(c, "UnknownMessageType", m, field, field ? idj : NULL, 0, -1);
    } else if (!c->session) {
        const char *field = msg_id(msg, idj);
        sync_send_error(c, "NotConnected", "send `connect` first", field, field ? idj : NULL, 0,
                        -1);
    } else if (!strcmp(type, "modifyQuerySet")) {
        handle_modify(c, msg);
    } else if (!strcmp(type, "authenticate")) {
        handle_authenticate(c, msg);
    } else {
        handle_call(c, msg, !strcmp(type, "mutation") ? JS_MUTATION : JS_ACTION);
    }
}

static void on_close(struct ws *ws, int code, const char *reason, void *arg)
{
    struct sync_conn *c = arg;
    /* a close frame with 1000 or without a code: the client closed on purpose, it will not
     * resume (a client that drops to reconnect sends another code, or none at all) */
    sync_detach(c, code == WS_CLOSE_NORMAL || code == 1005 /* no status code */);
    sync_auth_conn_end(c);
    c->ws = NULL;
    sync_out_clear(c);
    vr_free(c->outq);
    ws_unref(ws);
    sync_conn_unlink(c);
    vr_free(c);
}

void sync_conn_link(struct sync_conn *c)
{
    struct sync *sy = c->sync;
    c->all_prev = NULL;
    c->all_next = sy->all_head;
    if (sy->all_head)
        sy->all_head->all_prev = c;
    sy->all_head = c;
    sy->stats.sockets++;
    c->rate_tokens = 2.0 * sy->opts.max_messages_per_second;
    c->rate_ms = loop_now_ms(sy->loop);
}

long sync_rate_take(struct sync_conn *c)
{
    return rate_take(&c->rate_tokens, &c->rate_ms, c->sync->opts.max_messages_per_second,
                     loop_now_ms(c->sync->loop));
}

void sync_conn_unlink(struct sync_conn *c)
{
    struct sync *sy = c->sync;
    if (c->all_prev)
        c->all_prev->all_next = c->all_next;
    else
        sy->all_head = c->all_next;
    if (c->all_next)
        c->all_next->all_prev = c->all_prev;
    c->all_prev = c->all_next = NULL;
    sy->stats.sockets--;
}

void sync_close_all(struct sync *sy, int code, const char *reason)
{
    for (struct sync_conn *c = sy->all_head, *next; c; c = next) {
        next = c->all_next;
        sync_close_conn(c, code, reason);
    }
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
    sync_conn_set_user_agent(c, req);
    sync_conn_link(c);
    ws_set_deadline(ws, SYNC_CONNECT_TIMEOUT_MS, WS_CLOSE_POLICY, "no connect within 10 s");
}

/* --- lifecycle --- */

struct sync *sync_new(struct loop *loop, struct shard *shard, const struct sync_options *opts)
{
    struct sync *sy = vr_calloc(1, sizeof *sy);
    sy->loop = loop;
    sy->shard = shard;
    timer_init(&sy->rerun_timer, on_rerun_timer, sy);
    sy->opts.session_retention_ms = 5 * 60 * 1000;
    sy->opts.max_message = SIZE_MAX; /* the transport's --max-message bounds messages */
    sy->opts.max_sessions = 1u << 20;
    sy->opts.max_queries_per_session = 1000;
    sy->opts.max_retained_sessions = 10000;
    sy->opts.max_retained_per_address = 100;
    sy->opts.max_send_queue = 16u << 20;
    sy->opts.convex_ping_ms = 15000;
    if (opts) {
        if (opts->convex_ping_ms)
            sy->opts.convex_ping_ms = opts->convex_ping_ms;
        if (opts->session_retention_ms)
            sy->opts.session_retention_ms = opts->session_retention_ms;
        if (opts->max_message)
            sy->opts.max_message = opts->max_message;
        if (opts->max_sessions)
            sy->opts.max_sessions = opts->max_sessions;
        if (opts->max_queries_per_session)
            sy->opts.max_queries_per_session = opts->max_queries_per_session;
        if (opts->max_retained_sessions)
            sy->opts.max_retained_sessions = opts->max_retained_sessions;
        if (opts->max_send_queue)
            sy->opts.max_send_queue = opts->max_send_queue;
        if (opts->max_retained_per_address)
            sy->opts.max_retained_per_address = opts->max_retained_per_address;
        sy->opts.max_messages_per_second = opts->max_messages_per_second;
        sy->opts.send_pool = opts->send_pool;
    }
    hmap_init(&sy->sessions);
    hmap_init(&sy->stale_lqs);
    hmap_init(&sy->retained_addrs);
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
        sync_session_free(s);
        i = (size_t)-1; /* the map shrank: rescan */
    }
    while (sy->pump_head) /* their connections outlive us: leave them nothing to send */
        sync_out_clear(sy->pump_head);
    loop_timer_stop(sy->loop, &sy->rerun_timer);
    for (size_t i = 0; i < sy->n_log_drop; i++) /* left by a flush that held sessions back */
        live_query_release(sy->shard->live, sy->log_drop[i]);
    hmap_release(&sy->sessions);
    hmap_release(&sy->stale_lqs);
    hmap_release(&sy->retained_addrs); /* empty: every retained session was freed above */
    vr_free(sy->log_drop);
    vr_free(sy->wired);    /* likewise */
    vr_free(sy);
}

const struct sync_stats *sync_stats(const struct sync *sy)
{
    return &sy->stats;
}
