/* jobs: runs the scheduler's due jobs (sched/sched.h) against the shard. A scheduled mutation
 * runs in the iteration's batch with the job's state change in its own transaction (success),
 * or, when it fails, the failure recorded in a transaction after it: it runs exactly once. A
 * scheduled action is marked inProgress; only after that mark's batch committed does it start
 * on the action pool, and its outcome is recorded when it finishes: it runs at most once (at
 * start-up, jobs still inProgress are marked failed). Every run is logged with the function, its
 * outcome and duration. Loop thread only. */
#ifndef VR_PROTO_JOBS_H
#define VR_PROTO_JOBS_H

#include "net/loop.h"
#include "proto/shard.h"

struct jobs;

struct jobs_options {
    unsigned per_iteration; /* jobs started per loop iteration (sched_options); default 64 */
    uint32_t max_pending;   /* pending jobs allowed in all; default 1000000 */
};

/* Before the first shard_load (the limit reaches the runtime through s->js_opts). Marks the
 * actions a previous process left inProgress as failed. NULL with err on a storage failure. */
struct jobs *jobs_new(struct loop *l, struct shard *s, const struct jobs_options *opts,
                      struct buf *err);
/* Before the action pool goes (a running scheduled action's answer is still recorded). */
void jobs_free(struct jobs *j);
/* A mutation job of an actor's timer (JS_ACTORS_TIMER_PATH) is run by fn (proto/actors.c, which
 * delivers what the actor sends) instead of shard_call, with shard_call's contract. */
typedef int (*jobs_call_fn)(void *arg, const struct js_function *fn, const char *args,
                            size_t len, const struct js_call_opts *o, struct js_result *res);
void jobs_set_actor_runner(struct jobs *j, jobs_call_fn fn, void *arg);
/* The before-sleep step after shard_commit: starts the actions whose inProgress mark just
 * committed (none if the batch failed: they stay pending) and re-arms the timer. */
void jobs_flush(struct jobs *j, int batch_failed);
void jobs_stop(struct jobs *j);
/* Deletes finished jobs (success, failed, canceled) completed more than max_age_ms ago, as
 * Convex keeps them 7 days, in one transaction of the current batch: 1 when there may be more
 * to delete (prune again soon), 0 when done, -1 on a storage failure (logged). */
int jobs_prune(struct jobs *j, double max_age_ms);

#endif
