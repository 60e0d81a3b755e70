/* sync_int: what sync.c, sync_session.c and sync_out.c share inside the sync protocol: the
 * session, subscription, connection and sync structs, and the calls between the three files.
 * Not for other modules. Invariant: s->conn == c exactly when c->session == s; a detached
 * session has no connection and a connection has no session before its `connect`. */
#ifndef VR_PROTO_SYNC_INT_H
#define VR_PROTO_SYNC_INT_H

#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/iobuf.h"
#include <jansson.h>

#include "base/dlist.h"
#include "base/hmap.h"
#include "net/loop.h"
#include "net/ws.h"
#include "proto/sync.h"

struct js_request;

#define SESSION_SECRET_BYTES 16

struct sync_session;
struct sync_conn;
struct retained_addr;
struct convex_session;
struct auth_result;

#define SYNC_MAX_HELD 1000 /* messages a connection may send while its token is being verified */
/* The console lines of a Convex live query's last run (its logLines) stay with its cached result,
 * so a client that subscribes later is sent them with it, as Convex's query cache does; past
 * this many bytes held by all live queries, a run's lines are kept only until the flush that
 * sends them ends. */
#define SYNC_LOG_KEEP_BYTES (16u << 20)

/* One live query of one session: the client's queryId bound to a shared live query. */
struct sync_sub {
    uint64_t query_id;
    struct sync_session *session;
    struct live_query *lq;
    char *args;           /* the arguments as the client sent them (lq has them key-sorted) */
    uint64_t sent_hash;   /* hash of the result the client holds */
    uint64_t sent_logs;   /* Convex: the logs_hash of the run whose result it holds */
    int sent;             /* the client holds a result (sent_hash is meaningful) */
    int check_unchanged;  /* answer QueryUnchanged if the hash still matches (resume) */
    int stale;            /* retained across a resume, not re-added yet */
    int pending;          /* in the session's pending list */
    struct sync_sub *lq_next, *lq_prev; /* the live query's subscribers (lq->owner) */
};

/* A detached (retained) session keeps its subscriptions, but a live query whose subscribers are
 * all detached is not re-run when a write invalidates it: it is put on the sync's stale set and
 * re-run when a connected client (re-)adds it. Retained sessions are listed oldest first. */
struct sync_session {
    char *id;
    char secret[2 * SESSION_SECRET_BYTES + 1]; /* hex; a resume must present it */
    uint64_t serial;        /* unique per session object: finished actions find it by id+serial */
    struct sync *sync;
    struct sync_conn *conn; /* NULL while detached */
    uint64_t version;       /* the version the client's results are at */
    struct hmap subs;       /* decimal queryId -> sync_sub */
    size_t n_subs;
    struct sync_sub **pending;
    size_t n_pending, cap_pending;
    struct buf removed;     /* QueryRemoved modifications, comma-separated */
    struct sync_response *responses; /* frames to send after the next transition */
    size_t n_responses, cap_responses;
    int awaiting_query_set; /* resumed, first modifyQuerySet not seen: hold transitions */
    int retained;           /* on the retained list */
    struct dlist_node ret;  /* on sync's retained list */
    char addr[WS_ADDR_MAX]; /* the peer address of its last connection */
    struct retained_addr *ra; /* while retained: its address's retained sessions */
    struct dlist_node in_ra;  /* on its address's list */
    int in_flush;
    uint64_t held_flush; /* the flush (sync.flushes) that holds it back: a query of it is
                            still to be re-run */
    size_t dirty_subs;   /* sync_rerun's count of its queries to re-run (0 between calls) */
    struct sync_session *next_flush;
    struct timer retention;
    struct convex_session *cvx; /* Convex's protocol (convex_sync.c) speaks for this session;
                                   NULL on /api/sync */
    char *identity;         /* the verified identity (canonical JSON) its queries, mutations and
                               actions run with; NULL: anonymous (sync_auth.c) */
    double auth_exp;        /* ms since the epoch when its token expires; 0: none */
    char *auth_token;       /* the token that gave it its identity (getRequestMetadata), or NULL */
    struct timer auth_timer; /* fires at auth_exp + the clock skew (as long as the token would
                                verify): the session becomes anonymous */
};

struct sync_response {
    struct buf frame;
    char request_id[64]; /* JSON */
    int kind;            /* JS_MUTATION or JS_ACTION */
    int in_batch;        /* computed in the open write batch: fails with it */
};

/* What sync built for a connection and has not handed to the WebSocket yet: whole messages, in
 * order. sync_pump() hands them over while the socket's own queue is under OUT_LOW_WATER,
 * splitting a transition larger than TRANSITION_CHUNK into transitionChunk parts, so a big
 * transition goes out at the client's pace. The message in progress (the head) does not count
 * toward --max-send-queue; the backlog behind it does: past the cap the client is not reading
 * and is closed with 1008 "send queue full". Everything queued counts in the server's global
 * buffer budget (out_account); while it is spent, a client that is behind is closed with 1013. */
struct out_msg {
    struct iobuf m; /* a live query's result is shared by reference (serialized once) */
    int is_transition;
};

struct sync_conn {
    struct sync *sync;
    struct ws *ws;
    struct sync_session *session;
    struct out_msg *outq;
    size_t out_head, out_n, out_cap;
    size_t out_backlog; /* bytes of the messages behind the head */
    size_t out_bytes;   /* bytes of every queued message, head included: charged to the server's
                           buffer budget (ws_set_held_bytes) */
    size_t charged;     /* out_bytes as last charged (out_account) */
    size_t part, parts; /* the head's transitionChunk progress */
    size_t part_off;
    uint64_t transition_id;
    struct sync_conn *pump_prev, *pump_next; /* on sync's pump list while outq is not empty */
    struct sync_conn *all_prev, *all_next;   /* on sync's list of every socket (sync_close_all) */
    double rate_tokens;  /* --max-messages-per-second: the token bucket (sync_rate_take) */
    uint64_t rate_ms;    /* loop time of its last refill */
    int pumping;
    int convex;          /* Convex's protocol (/api/<version>/sync): TransitionChunk parts */
    int failed;          /* Convex: a FatalError went out, the connection is closing */
    int sent_since_ping; /* Convex: a message was queued since the last keep-alive tick */
    struct timer ping;   /* Convex: the keep-alive timer (sends Ping on a quiet connection) */
    /* a token being verified while its provider's keys are fetched (sync_auth.c): the message
     * that carried it, and the messages that came after it, held until the verdict */
    int auth_waiting;
    uint64_t auth_wait;
    json_t *auth_msg;
    void (*auth_apply)(struct sync_conn *c, const struct auth_result *r, json_t *msg);
    json_t **held;
    size_t n_held, cap_held;
    char *auth_token; /* the token being verified (its verdict's session keeps it), or NULL */
    char *user_agent; /* the upgrade request's User-Agent, or NULL (getRequestMetadata) */
};

struct sync {
    struct loop *loop;
    struct shard *shard;
    struct sync_options opts;
    struct hmap sessions; /* id -> sync_session */
    struct dlist retained_sessions; /* detached ones (sync_session.ret), oldest first */
    struct hmap stale_lqs; /* live queries invalidated while only detached sessions held them */
    struct hmap retained_addrs; /* peer address -> retained_addr */
    size_t n_retained;
    struct sync_session *flush_head;
    /* re-runs of one loop iteration stop starting past RERUN_BUDGET_NS from the first: the rest
     * wait for the next iterations (rerun_timer brings them), cheapest first (sync_rerun) */
    uint64_t rerun_start; /* clock_mono_ns of the iteration's first re-run; 0: none yet */
    uint64_t flushes;     /* sync_flush calls so far */
    struct timer rerun_timer;
    struct sync_conn *pump_head; /* connections with messages waiting for their socket */
    struct sync_conn *all_head;  /* every socket of either protocol */
    struct sync_stats stats;
    uint64_t next_serial;
    /* live queries (a reference held) whose logs past SYNC_LOG_KEEP_BYTES are dropped when this
     * flush ends */
    struct live_query **log_drop;
    size_t n_log_drop, cap_log_drop;
    /* live queries (a reference held) whose serialized result (lq->wire) this flush built: it
     * is shared by the flush's messages and dropped when the flush ends, so that a live query
     * does not keep its result twice (messages still queued keep their own references) */
    struct live_query **wired;
    size_t n_wired, cap_wired;
};

/* sync.c: what Convex's protocol shares with /api/sync */
void sync_schedule(struct sync_session *s);
void sync_sub_mark_pending(struct sync_sub *sub);
/* Records that lq->wire[i] was built in this flush (sync_flush drops it at its end). */
void sync_wired(struct sync *sy, struct live_query *lq);
/* Queues a response frame (taking the buffer) to go out with the session's next flush. */
void sync_queue_response(struct sync_session *s, struct buf *frame, const char *rid, int kind,
                         int in_batch);
/* Adds the live query (path, args: an object or NULL for {}) under query_id and schedules its
 * first result. journal: NULL for a query without Convex's query journal (Vireo's protocol),
 * else the journal the client holds ("" for none: a journaled query; live_query_acquire_journal).
 * 0, -EEXIST (query_id in use) or -E2BIG (--max-queries-per-session reached). */
int sync_sub_add(struct sync_session *s, uint64_t query_id, const char *path, const json_t *args,
                 const char *journal);

/* sync_action.c: an action asked for over either protocol, answered when it finishes. Each
 * protocol words its frames: `done` writes the whole answer of a finished action; `refused`
 * writes the answer to one that did not run (into a frame the caller may have begun), with its
 * error code and message: ArgumentValidationError (retry 0), or ServerOverloaded /
 * ServerShuttingDown from the pool (retry 1). */
struct sync_action_frames {
    void (*done)(struct buf *frame, const char *rid, const struct js_result *res);
    void (*refused)(struct buf *frame, const char *rid, const char *code, const char *msg,
                    size_t len, int retry);
};
/* Checks the arguments and queues the action to the pool: 0, or -1 with the answer in frame.
 * `frames` must outlive the action (a static table). */
int sync_action_submit(struct sync_conn *c, const struct js_function *fn, const char *args,
                       const json_t *args_value, const char *rid,
                       const struct sync_action_frames *frames, struct buf *frame);

/* convex_sync.c: the flush of a Convex session (one Transition, its responses), the frame that
 * replaces a response whose batch failed, and the session state's release */
void convex_sync_flush_session(struct sync *sy, struct sync_session *s, uint64_t version);
void convex_sync_fail_frame(struct buf *frame, const char *rid, int kind);
void convex_session_free(struct convex_session *cs);

/* sync_session.c */
size_t sync_u64_key(uint64_t v, char out[24]);
void sync_clear_responses(struct sync_session *s);
void sync_sub_link(struct sync_sub *sub);
void sync_lq_unstale(struct sync *sy, struct live_query *lq);
int sync_lq_all_detached(const struct live_query *lq);
void sync_session_drop_sub(struct sync_session *s, struct sync_sub *sub);
void sync_retained_unlink(struct sync_session *s);
void sync_session_free(struct sync_session *s);
struct sync_session *sync_session_new(struct sync *sy, const char *id);
void sync_detach(struct sync_conn *c, int end);
/* A socket of either protocol accepted (stats.sockets counted) and closed. */
void sync_conn_link(struct sync_conn *c);
/* One message's token of --max-messages-per-second: -1 if the message may go on, else the
 * milliseconds until a token is there (the message is refused with RateLimited). */
long sync_rate_take(struct sync_conn *c);
void sync_conn_unlink(struct sync_conn *c);

/* Each protocol's handling of one parsed message (sync.c, convex_sync.c). */
void sync_dispatch(struct sync_conn *c, json_t *msg);
void convex_sync_dispatch(struct sync_conn *c, json_t *msg);
/* Convex: the session's token expired (sync_auth.c's timer): tell the client (AuthError). */
void convex_sync_auth_expired(struct sync_session *s);

/* sync_auth.c: tokens on sync connections */
typedef void (*sync_auth_apply_fn)(struct sync_conn *c, const struct auth_result *r,
                                   json_t *msg);
/* Verifies tok (never logged) and calls apply(c, verdict, msg) now or once the provider's keys
 * arrive; meanwhile the connection's next messages are held (sync_auth_hold) and then handled
 * in order. */
void sync_auth_verify(struct sync_conn *c, const char *tok, size_t len, json_t *msg,
                      sync_auth_apply_fn apply);
/* While c waits for a verification: msg is held (a reference taken) and 1 returned; past
 * SYNC_MAX_HELD messages the connection is closed. 0: not waiting, handle it now. */
int sync_auth_hold(struct sync_conn *c, json_t *msg);
/* The connection is going: its verification is canceled and the held messages dropped. */
void sync_auth_conn_end(struct sync_conn *c);
/* Sets the identity s runs with (NULL: anonymous) and its expiry (ms; 0: none). If it changed,
 * every query of s moves to the live query of the new identity and is sent in the session's
 * next transition. */
void sync_session_set_identity(struct sync_session *s, const json_t *identity, double exp_ms);
/* As sync_session_set_identity, for the verdict on the token c is verifying: with an identity,
 * s also keeps that token. */
void sync_session_set_verdict(struct sync_session *s, struct sync_conn *c, const json_t *identity,
                              double exp_ms);
/* c's User-Agent from its upgrade request (a copy), for getRequestMetadata. */
void sync_conn_set_user_agent(struct sync_conn *c, const struct http_request *req);
/* Where a call from s over its connection c came from (ctx.meta.getRequestMetadata()): its
 * strings are s's and c's, valid until either changes. */
void sync_call_request(const struct sync_session *s, const struct sync_conn *c,
                       struct js_request *r);
void sync_session_auth_init(struct sync_session *s);
void sync_session_auth_release(struct sync_session *s);
/* The verdict's identity as the client sees it in `authenticated`: {tokenIdentifier, subject,
 * issuer} (appended to b), or null. */
void sync_auth_append_identity(struct buf *b, const json_t *identity);

/* sync_out.c */
void sync_out_clear(struct sync_conn *c);
void sync_pump(struct sync_conn *c);
void sync_send_msg(struct sync_conn *c, struct buf *b, int is_transition);
/* Queues m (taking its contents: m is left empty) without handing anything to the socket yet:
 * a flush queues a session's transition and responses, then one sync_pump writes them together.
 * 0, or -1 when the connection is gone or was closed for its backlog or the budget. */
int sync_queue_msg(struct sync_conn *c, struct iobuf *m, int is_transition);
void sync_send_frame(struct sync_conn *c, const struct buf *b);
void sync_close_conn(struct sync_conn *c, int code, const char *reason);
void sync_send_error(struct sync_conn *c, const char *code, const char *msg, const char *id_field,
                     const char *id_json, int fatal, long retry_ms);

#endif
