/* sync_session: sessions, their subscriptions, and what keeps a session whose connection went:
 * the retained list (oldest first, evicted past --max-retained-sessions and, per peer address,
 * past --max-retained-sessions-per-address) and the retention timer. Invariant: a session
 * without a connection is on the retained list with its timer running until it is resumed or
 * freed; a subscription holds one reference to its live query and is on its subscriber list. */
#include "proto/sync_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/hmap.h"
#include "base/log.h"
#include "base/mem.h"
#include "base/rand.h"
#include "base/banned.h"

/* The retained sessions of one peer address, oldest first (--max-retained-sessions-per-address);
 * freed with its last session. */
struct retained_addr {
    size_t n;
    struct dlist sessions; /* sync_session.in_ra */
    char addr[WS_ADDR_MAX];
};

/* --- helpers --- */

size_t sync_u64_key(uint64_t v, char out[24])
{
    return (size_t)snprintf(out, 24, "%" PRIu64, v);
}

void sync_clear_responses(struct sync_session *s)
{
    for (size_t i = 0; i < s->n_responses; i++)
        buf_release(&s->responses[i].frame);
    s->n_responses = 0;
    vr_free(s->responses); /* an idle session holds no array */
    s->responses = NULL;
    s->cap_responses = 0;
}

/* --- subscriptions --- */

void sync_sub_link(struct sync_sub *sub)
{
    struct sync_sub *head = sub->lq->owner;
    sub->lq_prev = NULL;
    sub->lq_next = head;
    if (head)
        head->lq_prev = sub;
    sub->lq->owner = sub;
}

/* A connected client holds lq: if it was skipped while only detached sessions held it, it runs
 * in the next flush. */
void sync_lq_unstale(struct sync *sy, struct live_query *lq)
{
    if (hmap_del(&sy->stale_lqs, &lq, sizeof lq))
        live_mark_dirty(sy->shard->live, lq);
}

int sync_lq_all_detached(const struct live_query *lq)
{
    for (const struct sync_sub *sub = lq->owner; sub; sub = sub->lq_next)
        if (sub->session->conn)
            return 0;
    return lq->owner != NULL;
}

static void sub_free(struct sync *sy, struct sync_sub *sub)
{
    if (sub->lq_prev)
        sub->lq_prev->lq_next = sub->lq_next;
    else
        sub->lq->owner = sub->lq_next;
    if (sub->lq_next)
        sub->lq_next->lq_prev = sub->lq_prev;
    if (!sub->lq->owner) /* sync holds a live query only through its subscribers: the last */
        hmap_del(&sy->stale_lqs, &sub->lq, sizeof sub->lq);
    if (sub->pending) {
        struct sync_session *s = sub->session;
        for (size_t i = 0; i < s->n_pending; i++)
            if (s->pending[i] == sub)
                s->pending[i] = NULL;
    }
    live_query_release(sy->shard->live, sub->lq);
    free(sub->args);
    vr_free(sub);
}

void sync_session_drop_sub(struct sync_session *s, struct sync_sub *sub)
{
    char k[24];
    hmap_del(&s->subs, k, sync_u64_key(sub->query_id, k));
    sub_free(s->sync, sub);
    s->n_subs--;
}

static void session_drop_all_subs(struct sync_session *s)
{
    for (size_t i = 0; i < s->subs.cap; i++)
        if (s->subs.slots[i].key)
            sub_free(s->sync, s->subs.slots[i].value);
    hmap_release(&s->subs);
    hmap_init(&s->subs);
    s->n_subs = 0;
    s->n_pending = 0; /* sub_free cleared the entries */
}

/* Puts s at the tail (newest) of the retained list and of its address's list. */
static void retained_link(struct sync_session *s)
{
    struct sync *sy = s->sync;
    dlist_push_back(&sy->retained_sessions, &s->ret);
    s->retained = 1;
    sy->n_retained++;

    size_t alen = strlen(s->addr);
    struct retained_addr *ra = hmap_get(&sy->retained_addrs, s->addr, alen);
    if (!ra) {
        ra = vr_calloc(1, sizeof *ra);
        memcpy(ra->addr, s->addr, alen + 1);
        hmap_put(&sy->retained_addrs, s->addr, alen, ra);
    }
    s->ra = ra;
    dlist_push_back(&ra->sessions, &s->in_ra);
    ra->n++;
}

void sync_retained_unlink(struct sync_session *s)
{
    struct sync *sy = s->sync;
    if (!s->retained)
        return;
    dlist_unlink(&sy->retained_sessions, &s->ret);
    s->retained = 0;
    sy->n_retained--;

    struct retained_addr *ra = s->ra;
    dlist_unlink(&ra->sessions, &s->in_ra);
    s->ra = NULL;
    if (--ra->n == 0) {
        hmap_del(&sy->retained_addrs, ra->addr, strlen(ra->addr));
        vr_free(ra);
    }
}

void sync_session_free(struct sync_session *s)
{
    struct sync *sy = s->sync;
    loop_timer_stop(sy->loop, &s->retention);
    sync_session_auth_release(s);
    sync_retained_unlink(s);
    session_drop_all_subs(s);
    hmap_release(&s->subs);
    /* unlink from the flush list */
    for (struct sync_session **pp = &sy->flush_head; *pp; pp = &(*pp)->next_flush)
        if (*pp == s) {
            *pp = s->next_flush;
            break;
        }
    sync_clear_responses(s);
    vr_free(s->responses);
    vr_free(s->pending);
    buf_release(&s->removed);
    convex_session_free(s->cvx);
    hmap_del(&sy->sessions, s->id, strlen(s->id));
    sy->stats.sessions--;
    vr_free(s->id);
    vr_free(s);
}

static void retention_expired(struct loop *l, struct timer *t)
{
    struct sync_session *s = t->arg;
    log_debug("sync", "session \"%s\" expired", s->id);
    sync_session_free(s);
}

struct sync_session *sync_session_new(struct sync *sy, const char *id)
{
    struct sync_session *s = vr_calloc(1, sizeof *s);
    s->id = vr_strdup(id);
    rand_hex(s->secret, SESSION_SECRET_BYTES);
    s->serial = ++sy->next_serial;
    s->sync = sy;
    hmap_init(&s->subs);
    buf_init(&s->removed, BUF_NOLIMIT);
    timer_init(&s->retention, retention_expired, s);
    sync_session_auth_init(s);
    hmap_put(&sy->sessions, s->id, strlen(s->id), s);
    sy->stats.sessions++;
    return s;
}

/* The connection is gone. end: the client closed cleanly (it will not resume), so the session
 * ends now; else it is retained for the retention window (its queries are not re-run while it
 * is detached), and the oldest retained sessions are evicted past --max-retained-sessions. */
void sync_detach(struct sync_conn *c, int end)
{
    struct sync *sy = c->sync;
    struct sync_session *s = c->session;
    if (!s)
        return;
    s->conn = NULL;
    c->session = NULL;
    sy->stats.connections--;
    if (end) {
        log_debug("sync", "session \"%s\" ended by a clean close", s->id);
        sync_session_free(s);
        return;
    }
    buf_reset(&s->removed);
    sync_clear_responses(s);
    s->awaiting_query_set = 0;
    retained_link(s);
    loop_timer_start(sy->loop, &s->retention, sy->opts.session_retention_ms);
    while (sy->n_retained > sy->opts.max_retained_sessions &&
           sy->retained_sessions.head != &s->ret) {
        struct sync_session *old =
            DLIST_ENTRY(sy->retained_sessions.head, struct sync_session, ret);
        log_info("sync", "session \"%s\" evicted: over %zu retained sessions", old->id,
                 sy->opts.max_retained_sessions);
        sync_session_free(old);
    }
    /* one address (no auth yet: the identity we have) cannot fill the server's retained list */
    struct retained_addr *ra = s->ra;
    while (ra->n > sy->opts.max_retained_per_address && ra->sessions.head != &s->in_ra) {
        struct sync_session *old = DLIST_ENTRY(ra->sessions.head, struct sync_session, in_ra);
        log_info("sync", "session \"%s\" evicted: over %zu retained sessions from %s", old->id,
                 sy->opts.max_retained_per_address, ra->addr[0] ? ra->addr : "an unknown address");
        sync_session_free(old);
    }
}
