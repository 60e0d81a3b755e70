/* actors: live actors over Zocket's wire protocol (docs/actors.md) on /api/actors. Each
 * WebSocket message becomes one call of the internal mutation `_system/actors:run`
 * (src/js/prelude/47_actors.js) in the shard's current batch; what the call sends (state
 * patches, events, the rpc's result) is held on the connections until the batch has committed
 * (actors_flush), so a client never sees a change that a crash could take back. Loop thread
 * only. */
#ifndef VR_PROTO_ACTORS_H
#define VR_PROTO_ACTORS_H

#include <stddef.h>
#include <stdint.h>

#include "net/loop.h"
#include "net/server.h"
#include "js/runtime.h"
#include "proto/shard.h"

struct actors_options {
    size_t max_message;             /* a larger message gets an error frame; default 1 MiB */
    uint32_t max_messages_per_second; /* per connection; 0: no limit */
    size_t max_instances_per_conn;  /* instances one connection may touch; default 1000 */
    size_t slow_bytes;              /* a state subscriber with more than this waiting in its
                                       socket gets no patches until it drains, then a fresh
                                       snapshot; default 4 MiB */
    uint32_t slow_close_ms;         /* ... and is closed (1008) when it has not drained within
                                       this; default 30 s */
    uint32_t idle_ms;               /* an instance no connection touches is deactivated after
                                       this (onDeactivate, then dropped from memory); default
                                       60 s */
};

struct actors_stats {
    uint64_t sockets;    /* open /api/actors WebSockets */
    uint64_t instances;  /* instances the server tracks (touched, or hot) */
    uint64_t calls;      /* operations run */
    uint64_t messages_in, messages_out;
};

struct actors *actors_new(struct loop *loop, struct shard *shard,
                          const struct actors_options *opts);
void actors_free(struct actors *a);
/* Upgrades the current request of c (the /api/actors handler). */
void actors_accept(struct actors *a, struct conn *c, struct http_request *req);
/* The before-sleep step after the shard's commit: sends what the batch's calls held, or, when
 * it failed, answers their rpcs with an error and sends fresh snapshots. */
void actors_flush(struct actors *a, int batch_failed);
/* Shutdown has begun: closing connections run no more hooks. */
void actors_stop(struct actors *a);
/* Runs onDeactivate of every hot instance (a shutdown's, or an idle tenant's, final commit
 * follows); they become cold. A deploy does the same through the shard's before_replace. */
void actors_deactivate_all(struct actors *a);
/* Starts closing every actor WebSocket with (code, reason). */
void actors_close_all(struct actors *a, int code, const char *reason);
const struct actors_stats *actors_stats(const struct actors *a);
/* Runs a fired actor timer, a `_scheduled_functions` job of JS_ACTORS_TIMER_PATH (the
 * scheduler's jobs_call_fn; arg is the struct actors): shard_call's contract, and what the
 * actor sends is delivered as a call's. A timer whose method failed still ends, or recurs. */
int actors_run_timer(void *arg, const struct js_function *fn, const char *args, size_t len,
                     const struct js_call_opts *o, struct js_result *res);

#endif
