/* sync: the sync protocol on GET /api/sync (docs/protocol.md): sessions, their live queries,
 * mutations and actions over one WebSocket, and the flush that turns a batch of commits into one
 * transition per affected session. Runs in the shard's loop thread. */
#ifndef VR_PROTO_SYNC_H
#define VR_PROTO_SYNC_H

#include <stdint.h>

#include "live/live.h"
#include "net/loop.h"
#include "net/server.h"
#include "proto/shard.h"

#define SYNC_PROTOCOL_VERSION 1

struct sync;

struct sync_options {
    uint32_t session_retention_ms; /* how long a disconnected session is kept; default 5 min */
    size_t max_message;            /* protocol message limit; default: the transport's */
    size_t max_sessions;           /* beyond it connections get ServerOverloaded; default 1M */
    size_t max_queries_per_session; /* beyond it `add` gets TooManyQueries; default 1000 */
    size_t max_retained_sessions;   /* detached sessions kept, oldest evicted; default 10000 */
    size_t max_retained_per_address; /* detached sessions kept per peer address (the identity
                                      * until there is auth), its oldest evicted; default 100 */
    size_t max_send_queue;          /* backlog behind the message being sent before a client is
                                     * closed with 1008 (--max-send-queue); default 16 MiB */
    uint32_t convex_ping_ms;        /* Convex's protocol: a quiet connection is sent a Ping this
                                     * often (--convex-ping-interval-ms); default 15 s */
    uint32_t max_messages_per_second; /* per connection (--max-messages-per-second): a token
                                     * bucket of twice this many, refilled at this rate; a message
                                     * past it is refused with RateLimited; default 0: no limit */
    struct send_pool *send_pool;    /* borrowed (--send-threads): sync_flush's writes are one
                                     * batch of it (net/send_pool.h); NULL: written one by one */
};

struct sync_stats {
    uint64_t messages_in;
    uint64_t messages_out;
    uint64_t transitions;
    uint64_t sessions;        /* live sessions (connected or retained) */
    uint64_t connections;     /* connected sessions */
    uint64_t sockets;         /* WebSockets accepted (either protocol) and not yet closed, with
                                 a session or still before their connect */
};

struct sync *sync_new(struct loop *loop, struct shard *shard, const struct sync_options *opts);
void sync_free(struct sync *s);

/* Upgrades the current request of c to a sync connection (the /api/sync handler). */
void sync_accept(struct sync *s, struct conn *c, struct http_request *req);

/* Re-runs the dirty live queries (sync_flush does it first too); sends nothing. */
void sync_rerun(struct sync *sy);
/* The before-sleep step, after the shard's batch commit: re-runs each dirty live query once,
 * then sends each affected session one transition followed by its queued responses. If the
 * batch failed, the responses computed in it become errors. */
void sync_flush(struct sync *s, int batch_failed);

const struct sync_stats *sync_stats(const struct sync *s);

/* Starts closing every WebSocket of either protocol with (code, reason) (ws_close: each is gone
 * within ~3 s, or as soon as its client answers the close). */
void sync_close_all(struct sync *s, int code, const char *reason);

#endif
