/* readers: query reader threads (`--query-threads`). Each has its own JavaScriptCore runtime
 * running the shard's current app version and its own read-only SQLite connection to the
 * shard's database (store_open_reader); a one-shot query handed to the pool runs there in one
 * read transaction, a snapshot of what had committed when it began, and its answer's bytes are
 * made there too. The loop thread keeps parsing requests and sends those bytes. Live queries,
 * mutations and actions never run here. docs/architecture.md ("Threads"). */
#ifndef VR_PROTO_READERS_H
#define VR_PROTO_READERS_H

#include <jansson.h>
#include <stdint.h>

#include "base/buf.h"
#include "js/runtime.h"
#include "net/loop.h"

struct reader_pool;

struct reader_pool_options {
    unsigned threads;    /* 0: no pool (queries run on the loop thread) */
    unsigned max_queued; /* queries queued or running; past it submit fails; default 1000 */
};

/* Runs on a reader thread once the query has run (found = 0: the reader's version has no
 * function by that path; res is then unset; res->txn is the reader's finished transaction, for
 * its read set): writes the answer's body and HTTP status. It must touch nothing but its
 * arguments, `arg`'s immutable fields and fields of `arg` that only `done` reads (the pool's
 * mutex orders the two). Also called on the loop thread for a query refused at shutdown (res:
 * ServerShuttingDown, JS_ERR_INTERNAL). */
typedef int (*reader_format_fn)(void *arg, int found, const struct js_result *res,
                                struct buf *body);
/* On the loop thread: the answer is ready (body is the callee's to take or leave; it is
 * released after the call). ok: the query succeeded. */
typedef void (*reader_done_fn)(void *arg, int status, struct buf *body, int ok);

/* Starts opts->threads readers on db_path with the shard's js options (copied; the borrowed
 * strings in them must outlive the pool). NULL with err when a thread or connection fails (or
 * threads == 0: NULL, err empty). */
struct reader_pool *reader_pool_new(struct loop *loop, const char *db_path,
                                    const struct js_options *js,
                                    const struct reader_pool_options *opts, struct buf *err);

/* A new version of the app (copied), with its process.env JSON (copied; NULL: none): every
 * query submitted from now on runs it (the readers load it at once, before their next query). */
void reader_pool_load(struct reader_pool *p, const char *bundle, size_t len, const char *name,
                      const char *env_json);

/* Hands a query to the readers: `path` names it, `args` (value.h JSON of an object, taken:
 * freed with free()) are its arguments, `root` (taken; may be NULL) owns `args_value`, the
 * parsed arguments; identity as js_call_opts.identity (copied). format runs on the reader,
 * done on the loop thread, exactly once each unless submit fails. 0, -EAGAIN past max_queued
 * (nothing taken), -ESHUTDOWN when stopping (nothing taken). */
/* 0 right after a new version replaced another (a deploy, an environment change) while no
 * reader has loaded it yet (each takes about one load of the app): the caller answers queries
 * on the loop's runtime meanwhile instead of making them wait. 1 otherwise (at start the
 * queries wait for the readers' first load). */
int reader_pool_ready(struct reader_pool *p);
int reader_pool_submit(struct reader_pool *p, const char *path, char *args, json_t *root,
                       const json_t *args_value, const char *identity, reader_format_fn format,
                       reader_done_fn done, void *arg);

unsigned reader_pool_pending(const struct reader_pool *p); /* queued or running */
uint64_t reader_pool_done(const struct reader_pool *p);   /* answered so far */

/* Shutdown has begun: no new queries are taken (ServerShuttingDown); those already taken are
 * in-flight requests and run to their answer, as the loop thread's would (the server's grace
 * period bounds the wait). */
void reader_pool_stop(struct reader_pool *p);
/* Stops the readers (a running query stops at its next watchdog tick, queued ones are answered
 * ServerShuttingDown), joins them, answers what is left (done callbacks run here). NULL: no-op. */
void reader_pool_free(struct reader_pool *p);

#endif
