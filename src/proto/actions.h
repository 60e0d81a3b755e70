/* actions: the action pool. Actions run on worker threads, each with its own JavaScriptCore
 * runtime holding the shard's current bundle but no store, so that an action that loops or waits
 * never delays the shard's queries and mutations. Workers reach the shard only by messages: a
 * ctx.runQuery / ctx.runMutation is queued to the loop thread, run there in the current batch
 * with the query and mutation limits, and answered after that batch commits (the worker waits
 * for the answer); a finished action goes back to the loop thread the same way, where its caller
 * answers the client. Invariant: every submitted job's done callback runs exactly once, on the
 * loop thread; no worker touches the store, the live queries or a connection.
 *
 * Each worker has its own event loop (eventfd, libcurl, timers): a nested call is sent and its
 * promise settled when the answer arrives on the worker's eventfd, so an action awaiting a
 * nested call, fetch() or a timer is suspended while the worker runs other actions (at most
 * per_worker at once) and the shard serves everyone else. */
#ifndef VR_PROTO_ACTIONS_H
#define VR_PROTO_ACTIONS_H

#include <stddef.h>
#include <stdint.h>

#include "js/runtime.h"
#include "net/loop.h"

struct shard;
struct action_pool;

struct action_pool_options {
    unsigned threads;     /* worker threads; default 2 */
    unsigned max_pending; /* actions queued or running; past it submit fails; default 1000 */
    unsigned per_worker;  /* actions one worker holds in flight at once; default 64 */
    unsigned max_fetches; /* fetches in flight, all workers; past it fetch fails; default 256 */
    uint32_t fetch_timeout_ms;  /* a fetch's default timeout; default 300000 */
    size_t fetch_max_response;  /* response body bytes; default 64 MiB */
};

/* A job's answer, on the loop thread. res->version is the store's version when it finished. */
typedef void (*action_done_fn)(void *arg, const struct js_result *res);

/* Starts the workers; they run actions with the shard's js_options. Sets shard->actions, so
 * that shard_load hands every new bundle to the pool. */
struct action_pool *action_pool_new(struct loop *loop, struct shard *shard,
                                    const struct action_pool_options *opts);
/* Stops (action_pool_stop), answers what is left, joins the workers (a worker still running a
 * function after a few seconds is left behind, with its memory). Before the server and sync go:
 * the done callbacks still run. Commits the open batch first (the shard's final commit): -1 when
 * that commit failed (shard_commit's outcome, which it consumes), so the caller hands it on to the
 * other answers held back for that batch (http_api_release); 0 otherwise or for NULL. */
int action_pool_free(struct action_pool *p);

/* A new version of the app (copied), with its process.env (JSON text as js_options.env_json,
 * copied; NULL: none): actions started from now on run it; running ones finish on the version
 * they started with. */
void action_pool_load(struct action_pool *p, const char *bundle, size_t len, const char *name,
                      const char *env_json);

/* Queues the action fn (already validated against the shard's runtime) with args (value.h JSON
 * of an object), the caller's identity (its JSON, copied; NULL: none), which its ctx.auth and
 * nested calls see, and where the call came from (copied; NULL: nothing known), which its
 * ctx.meta.getRequestMetadata() and nested calls see. 0: done(arg, res) will be called;
 * -EAGAIN: max_pending actions are queued or running; -ESHUTDOWN: the pool is stopping. */
int action_pool_submit(struct action_pool *p, const struct js_function *fn, const char *args,
                       size_t len, const char *identity, const struct js_request *request,
                       action_done_fn done, void *arg);

/* ---- streamed output (an HTTP action's response body; docs/architecture.md) ----
 * A job submitted with a stream may send items to the loop thread while it runs: its JS_OP_STREAM
 * operations queue the response's head and body chunks on the stream (copied, under the pool's
 * mutex) and wake the loop thread, which calls `ready`. A chunk's operation is answered once the
 * bytes queued (on the stream and taken but not yet released by the consumer) are at most
 * max_queued, so a producer faster than its reader waits; one past max_total bytes in all fails.
 * Once the consumer cancels the stream (its client left), every further operation fails with the
 * reason and a waiting JS_STREAM_WATCH resolves. Items arrive before the job's done callback. */
struct action_stream;
struct action_stream_item {
    struct action_stream_item *next;
    int head;   /* the head's JSON {status, headers}; else a body chunk */
    size_t len;
    char data[]; /* NUL-terminated */
};
typedef void (*action_stream_fn)(void *arg);

/* As action_pool_submit, with a stream the job may write to; *out gets the consumer's reference
 * (release with action_stream_unref) on 0. ready(ready_arg) runs on the loop thread when items
 * are queued, until the consumer's unref. */
int action_pool_submit_stream(struct action_pool *p, const struct js_function *fn, const char *args,
                              size_t len, const char *identity, const struct js_request *request,
                              action_done_fn done, void *arg, size_t max_queued, uint64_t max_total,
                              action_stream_fn ready, void *ready_arg, struct action_stream **out);
/* The queued items, oldest first (the caller frees each with vr_free); their chunk bytes count
 * as queued until released. */
struct action_stream_item *action_stream_take(struct action_stream *s);
/* n bytes of taken chunks left the process: the producer may go on. */
void action_stream_release(struct action_stream *s, size_t n);
/* The consumer is gone (copied reason): items are dropped, further operations fail. */
void action_stream_cancel(struct action_stream *s, const char *reason);
/* The consumer's reference; `ready` is not called after it. */
void action_stream_unref(struct action_stream *s);

/* Shutdown: queued actions fail at once (their result's not_run set), running ones are stopped
 * within ~100 ms of their CPU time; both answer with code ServerShuttingDown. */
void action_pool_stop(struct action_pool *p);
/* The same for a tenant's delete (the server goes on): the answers say TenantDeleting "… its
 * tenant is being deleted" instead of ServerShuttingDown. */
void action_pool_stop_deleting(struct action_pool *p);

/* The before-sleep step after shard_commit: answers the nested calls run in the batch that just
 * committed (with StoreError if it failed: what they reported was lost). */
void action_pool_flush(struct action_pool *p, int batch_failed);

/* Actions queued or running, and actions refused past max_pending (loop thread). */
unsigned action_pool_pending(const struct action_pool *p);
/* How many more actions submit takes now (max_pending less those queued or running). */
unsigned action_pool_room(const struct action_pool *p);
uint64_t action_pool_rejected(const struct action_pool *p);

#endif
