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

#include <jansson.h>

#include "net/loop.h"
#include "net/server.h"
#include "js/runtime.h"
#include "proto/shard.h"

struct actors_options {
    size_t max_message;             /* a larger message gets an error frame; default 1 MiB */
    uint32_t max_messages_per_second; /* per connection; 0: no limit */
    size_t max_instances_per_conn;  /* instances one connection may touch; default 1000 */
    size_t max_instances;           /* in memory on the shard at once; default 50000 */
    size_t slow_bytes;              /* a state subscriber with more than this waiting in its
                                       socket gets no patches until it drains, then a fresh
                                       snapshot; default 4 MiB */
    uint32_t slow_close_ms;         /* ... and is closed (1008) when it has not drained within
                                       this; default 30 s */
    uint32_t idle_ms;               /* an instance no connection touches is deactivated after
                                       this (onDeactivate, then dropped from memory); default
                                       60 s */
    uint32_t method_timeout_ms;     /* wall-clock limit of a method that waits (suspended
                                       across turns); default 600 s */
    uint32_t max_suspended;         /* suspended calls per shard; default 1000 */
    uint32_t max_queued;            /* rpcs waiting for one busy instance; default 1000 */
    unsigned max_fetches;           /* actor methods' fetches in flight; default 256 */
    uint32_t fetch_timeout_ms;      /* a fetch's default timeout; default 300000 */
    size_t fetch_max_response;      /* response body bytes; default 64 MiB */
};

struct actors_stats {
    uint64_t sockets;    /* open /api/actors WebSockets */
    uint64_t instances;  /* instances the server tracks (touched, or hot) */
    uint64_t calls;      /* operations run */
    uint64_t messages_in, messages_out;
    uint64_t activations;   /* instances loaded into memory (onActivate), actor calls' too */
    uint64_t deactivations; /* idle instances that left memory (onDeactivate) */
    uint64_t destroys;      /* instances destroyed by the admin API */
    uint64_t suspended;     /* calls suspended now (a method awaiting a timer) */
    uint64_t batches;       /* VM entries that ran several rpcs (actors.c "batches") */
    uint64_t batched_calls; /* ... and the rpcs they ran */
};

struct actors *actors_new(struct loop *loop, struct shard *shard,
                          const struct actors_options *opts);
void actors_free(struct actors *a);
/* Upgrades the current request of c (the /api/actors handler). */
void actors_accept(struct actors *a, struct conn *c, struct http_request *req);
/* The before-sleep step before the shard's commit: runs the rpcs that arrived in this loop
 * iteration and still wait, several in one VM entry (actors.c "batches"). */
void actors_run_pending(struct actors *a);
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

/* The admin API (http_admin_actors.c; docs/actors.md "Admin"), seed 001's ActorManager.
 * actors_admin_run: runs `_system/actors:run` {op: "admin", ...args} (47_actors.js
 * actorsAdmin) in the open batch and holds what its onDeactivate hooks sent; 0 with *r its
 * answer (a new reference), -1 with err (and the error's code in `code`, as a function
 * call's: "ActorFailed" for an onDeactivate that threw), -2 when no app is loaded.
 * actors_admin_info: what the server tracks of an instance (connections that touched it, its
 * subscribers, whether it is hot) as a new object {hot, connections, stateSubscribers,
 * eventSubscribers}: counts, or (ids) arrays of connection ids; NULL when it is not tracked.
 * actors_admin_tracked: the tracked instances of actor `only` (NULL: all) after (after_name,
 * after_id) (NULL: from the start), by name then id (strcmp), at most limit: a new array of
 * [name, id].
 * actors_admin_destroyed: the runtime destroyed the instance (in the open batch): it is counted
 * and logged, forgotten as hot, its state subscribers get a state:snapshot of `initial` (JSON
 * text; NULL: none) once the batch commits, and it is dropped when nobody is connected. */
int actors_admin_run(struct actors *a, json_t *args, json_t **r, struct buf *code,
                     struct buf *err);
json_t *actors_admin_info(struct actors *a, const char *name, const char *id, int ids);
json_t *actors_admin_tracked(const struct actors *a, const char *only, const char *after_name,
                             const char *after_id, size_t limit);
void actors_admin_destroyed(struct actors *a, const char *name, const char *id,
                            const char *initial);

#endif
