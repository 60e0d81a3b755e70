/* sync_auth: the identity of a sync session (both protocols). A token is verified by the shard's
 * auth_keys; while it waits for a provider's keys the connection's later messages are held and
 * handled in order after the verdict, so a query or call sent after a token always runs with
 * it. A session's identity is part of the key of each of its live queries (live.h): a new
 * identity moves every subscription to the live query of that identity, and the changes go out
 * in the session's next transition. A timer per session with a token makes it anonymous when
 * the token's exp passes. Tokens are never logged. */
#include "proto/sync_int.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/clock.h"
#include "base/log.h"
#include "base/mem.h"
#include "js/runtime.h"
#include "live/live.h"
#include "net/http.h"
#include "proto/auth_keys.h"
#include "proto/shard.h"
#include "base/banned.h"

static void replay_held(struct sync_conn *c)
{
    size_t i = 0;
    while (i < c->n_held && !c->auth_waiting && c->ws) {
        json_t *m = c->held[i++];
        if (c->convex)
            convex_sync_dispatch(c, m);
        else
            sync_dispatch(c, m);
        json_decref(m);
    }
    /* a held message waited again: keep the rest, in order (nothing held: no array at all) */
    if (i && i < c->n_held)
        memmove(c->held, c->held + i, (c->n_held - i) * sizeof *c->held);
    c->n_held -= i;
}

static void on_verified(void *arg, const struct auth_result *r)
{
    struct sync_conn *c = arg;
    json_t *msg = c->auth_msg;
    c->auth_waiting = 0;
    c->auth_wait = 0;
    c->auth_msg = NULL;
    c->auth_apply(c, r, msg);
    json_decref(msg);
    replay_held(c);
}

void sync_auth_verify(struct sync_conn *c, const char *tok, size_t len, json_t *msg,
                      sync_auth_apply_fn apply)
{
    struct auth_result r;
    c->auth_apply = apply;
    vr_free(c->auth_token);
    c->auth_token = vr_strndup(tok, len);
    if (auth_keys_verify(c->sync->shard->auth, tok, len, &r, on_verified, c, &c->auth_wait)) {
        apply(c, &r, msg);
        auth_result_release(&r);
        return;
    }
    c->auth_waiting = 1;
    c->auth_msg = json_incref(msg);
}

int sync_auth_hold(struct sync_conn *c, json_t *msg)
{
    if (!c->auth_waiting)
        return 0;
    if (c->n_held >= SYNC_MAX_HELD) {
        sync_close_conn(c, WS_CLOSE_POLICY, "too many messages while a token is verified");
        return 1;
    }
    if (c->n_held == c->cap_held) {
        c->cap_held = c->cap_held ? c->cap_held * 2 : 8;
        c->held = vr_realloc(c->held, c->cap_held * sizeof *c->held);
    }
    c->held[c->n_held++] = json_incref(msg);
    return 1;
}

void sync_auth_conn_end(struct sync_conn *c)
{
    vr_free(c->auth_token);
    c->auth_token = NULL;
    vr_free(c->user_agent);
    c->user_agent = NULL;
    if (c->auth_waiting)
        auth_keys_cancel(c->sync->shard->auth, c->auth_wait);
    c->auth_waiting = 0;
    json_decref(c->auth_msg);
    c->auth_msg = NULL;
    for (size_t i = 0; i < c->n_held; i++)
        json_decref(c->held[i]);
    vr_free(c->held);
    c->held = NULL;
    c->n_held = c->cap_held = 0;
}

/* --- the session's identity --- */

/* Moves every subscription of s to the live query of s's identity. */
static void rekey(struct sync_session *s)
{
    struct sync *sy = s->sync;
    struct live *live = sy->shard->live;
    const char *id = s->identity ? s->identity : "";
    for (size_t i = 0; i < s->subs.cap; i++) {
        if (!s->subs.slots[i].key)
            continue;
        struct sync_sub *sub = s->subs.slots[i].value;
        struct live_query *old = sub->lq;
        if (!strcmp(old->identity, id))
            continue;
        int created = 0;
        struct live_query *lq =
            live_query_acquire_journal(live, old->path, old->args_json, id, old->journal,
                                       &created);
        /* off the old live query's subscriber list */
        if (sub->lq_prev)
            sub->lq_prev->lq_next = sub->lq_next;
        else
            old->owner = sub->lq_next;
        if (sub->lq_next)
            sub->lq_next->lq_prev = sub->lq_prev;
        if (!old->owner)
            hmap_del(&sy->stale_lqs, &old, sizeof old);
        live_query_release(live, old);
        sub->lq = lq;
        sync_sub_link(sub);
        sync_lq_unstale(sy, lq);
        if (created || lq->version == 0)
            live_mark_dirty(live, lq);
        if (!sub->stale)
            sync_sub_mark_pending(sub);
    }
}

static void expired(struct loop *l, struct timer *t)
{
    struct sync_session *s = t->arg;
    (void)l;
    double exp = s->auth_exp, until = exp + shard_auth_skew_ms(s->sync->shard);
    if (clock_wall_ms() < until) { /* early (the clock moved): wait for the rest */
        loop_timer_start(s->sync->loop, &s->auth_timer, (uint64_t)(until - clock_wall_ms()) + 1);
        return;
    }
    log_debug("sync", "session \"%s\": its token expired", s->id);
    sync_session_set_identity(s, NULL, 0);
    if (!s->conn)
        return;
    if (s->cvx) {
        convex_sync_auth_expired(s);
        return;
    }
    char when[64] = "";
    time_t secs = (time_t)(exp / 1000);
    struct tm tm;
    if (gmtime_r(&secs, &tm))
        strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
    char msg[160];
    snprintf(msg, sizeof msg,
             "the token expired at %s; the session is anonymous until `authenticate` brings a "
             "fresh one",
             when);
    struct buf b = BUF_INIT(BUF_NOLIMIT);
    buf_append_str(&b, "{\"type\":\"authError\",\"code\":\"TokenExpired\",\"message\":");
    buf_append_json_str(&b, msg, strlen(msg));
    buf_append_str(&b, "}");
    sync_send_frame(s->conn, &b);
    buf_release(&b);
}

void sync_session_set_verdict(struct sync_session *s, struct sync_conn *c, const json_t *identity,
                              double exp_ms)
{
    sync_session_set_identity(s, identity, exp_ms);
    if (identity && c->auth_token) {
        s->auth_token = c->auth_token; /* taken: the verdict is its only use */
        c->auth_token = NULL;
    }
}

void sync_conn_set_user_agent(struct sync_conn *c, const struct http_request *req)
{
    const struct slice *ua = http_header_get(req, "user-agent");
    vr_free(c->user_agent);
    c->user_agent = ua ? vr_strndup(ua->p, ua->len) : NULL;
}

void sync_call_request(const struct sync_session *s, const struct sync_conn *c,
                       struct js_request *r)
{
    *r = (struct js_request){.ip = s->addr[0] ? s->addr : NULL,
                             .user_agent = c ? c->user_agent : NULL,
                             .auth_token = s->identity ? s->auth_token : NULL};
}

void sync_session_set_identity(struct sync_session *s, const json_t *identity, double exp_ms)
{
    vr_free(s->auth_token); /* a verdict sets it again (sync_session_set_verdict) */
    s->auth_token = NULL;
    char *text = identity ? json_dumps(identity, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    int changed = !((!text && !s->identity) || (text && s->identity && !strcmp(text, s->identity)));
    vr_free(s->identity);
    s->identity = text ? vr_strdup(text) : NULL;
    free(text); /* jansson's allocation */
    loop_timer_stop(s->sync->loop, &s->auth_timer);
    s->auth_exp = s->identity ? exp_ms : 0;
    if (s->auth_exp > 0) { /* the identity lasts as long as the token verifies: exp + the skew */
        double in = s->auth_exp + shard_auth_skew_ms(s->sync->shard) - clock_wall_ms();
        loop_timer_start(s->sync->loop, &s->auth_timer, in > 0 ? (uint64_t)in + 1 : 0);
    }
    if (changed)
        rekey(s);
}

void sync_session_auth_init(struct sync_session *s)
{
    timer_init(&s->auth_timer, expired, s);
}

void sync_session_auth_release(struct sync_session *s)
{
    loop_timer_stop(s->sync->loop, &s->auth_timer);
    vr_free(s->identity);
    s->identity = NULL;
    vr_free(s->auth_token);
    s->auth_token = NULL;
}

void sync_auth_append_identity(struct buf *b, const json_t *identity)
{
    if (!identity) {
        buf_append_str(b, "null");
        return;
    }
    static const char *const keys[] = { "tokenIdentifier", "subject", "issuer" };
    buf_append_byte(b, '{');
    for (size_t i = 0; i < 3; i++) {
        const char *v = json_string_value(json_object_get(identity, keys[i]));
        buf_appendf(b, "%s\"%s\":", i ? "," : "", keys[i]);
        buf_append_json_str(b, v ? v : "", v ? strlen(v) : 0);
    }
    buf_append_byte(b, '}');
}
