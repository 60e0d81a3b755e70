/* tenant: opens and closes one shard with its action pool, scheduler, sync sessions, HTTP API
 * state and prune timers, in the order their dependencies need (tenant.h). */
#include "proto/tenant.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "base/log.h"
#include "base/mem.h"
#include "proto/auth_keys.h"
#include "proto/http_auth.h"
#include "live/live.h"
#include "base/banned.h"

static void prune_fire(struct loop *l, struct timer *t)
{
    struct tenant *tn = t->arg;
    shard_prune(tn->shard, tn->idempotency_ms);
    loop_timer_start(l, t, 10 * 60 * 1000);
}

/* Finished scheduled jobs past their retention: checked a few times per retention period (at
 * most every 10 minutes), again after 1 s while a prune found more than one batch. */
static void job_prune_fire(struct loop *l, struct timer *t)
{
    struct tenant *tn = t->arg;
    int more = jobs_prune(tn->jobs, tn->job_retention_ms) == 1;
    double every = tn->job_retention_ms / 4;
    loop_timer_start(l, t, more ? 1000 : every < 600000 ? (uint64_t)every : 600000);
}

struct tenant *tenant_prepare(const char *name, const char *db_path,
                              const struct tenant_options *opts, struct buf *err)
{
    struct tenant *t = vr_calloc(1, sizeof *t);
    t->name = vr_strdup(name);
    const char *base = opts->js.public_url;
    if (*name && base) { /* a named tenant's URLs (ctx.storage, CONVEX_SITE_URL) carry its prefix */
        size_t ul = strlen(base) + strlen(name) + 4;
        t->public_url = vr_malloc(ul);
        snprintf(t->public_url, ul, "%s/t/%s", base, name);
    }
    /* A new database starts as an empty file of mode 0600: SQLite gives its -wal and -shm files
     * the database's mode. An existing one keeps the mode its owner chose. */
    int db_fd = strcmp(db_path, ":memory:")
                    ? open(db_path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600) : -1;
    if (db_fd >= 0)
        close(db_fd);
    struct js_options jopts = opts->js;
    if (t->public_url)
        jopts.public_url = t->public_url;
    if (*name)
        jopts.deployment_name = t->name;
    struct store_options sopts = opts->store;
    char label[96]; /* what the storage limit's messages call this shard */
    if (*name) {
        snprintf(label, sizeof label, "tenant \"%s\"", name);
        sopts.label = label;
    }
    if (shard_open(db_path, &jopts, &sopts, &t->shard, err) < 0) {
        vr_free(t->public_url);
        vr_free(t->name);
        vr_free(t);
        return NULL;
    }
    return t;
}

void tenant_discard(struct tenant *t)
{
    if (!t)
        return;
    shard_free(t->shard);
    vr_free(t->public_url);
    vr_free(t->name);
    vr_free(t);
}

int tenant_attach(struct tenant *t, struct loop *loop, const char *db_path,
                  const struct tenant_options *opts, struct buf *err)
{
    const char *name = t->name;
    t->loop = loop;
    t->shard->auth = auth_keys_new(loop);
    if (*name && opts->tenant_claim)
        auth_keys_require_claim(t->shard->auth, opts->tenant_claim, name);
    t->shard->jwt_secret = opts->jwt_secret;
    t->shard->auth_refresh_s = opts->auth_refresh_s;
    t->shard->auth_max_age_s = opts->auth_max_age_s;
    t->shard->auth_skew_s = opts->auth_skew_s;
    t->actions = action_pool_new(loop, t->shard, &opts->actions);
    t->shard->qcache = qcache_new(opts->query_cache);
    if (!*name && strcmp(db_path, ":memory:") && opts->readers.threads) {
        t->shard->readers =
            reader_pool_new(loop, db_path, &t->shard->js_opts, &opts->readers, err);
        if (!t->shard->readers)
            return -1;
    }
    if (!(t->jobs = jobs_new(loop, t->shard, &opts->jobs, err)))
        return -1;
    t->sync = sync_new(loop, t->shard, &opts->sync);
    t->actors = actors_new(loop, t->shard, &opts->actors);
    jobs_set_actor_runner(t->jobs, actors_run_timer, t->actors);
    t->api = opts->api;
    t->api.shard = t->shard;
    t->api.sync = t->sync;
    t->api.actors = t->actors;
    t->idempotency_ms = opts->idempotency_ms;
    t->job_retention_ms = opts->job_retention_ms;
    timer_init(&t->prune_timer, prune_fire, t);
    prune_fire(loop, &t->prune_timer);
    timer_init(&t->job_prune_timer, job_prune_fire, t);
    job_prune_fire(loop, &t->job_prune_timer);
    return 0;
}

struct tenant *tenant_open(struct loop *loop, const char *name, const char *db_path,
                           const struct tenant_options *opts, struct buf *err)
{
    struct tenant *t = tenant_prepare(name, db_path, opts, err);
    if (t && tenant_attach(t, loop, db_path, opts, err) < 0) {
        tenant_close(t);
        return NULL;
    }
    return t;
}

int tenant_load(struct tenant *t, const char *bundle, size_t len, const char *name,
                struct buf *err)
{
    return shard_load(t->shard, bundle, len, name, err);
}

int tenant_flush(struct tenant *t)
{
    actors_run_pending(t->actors); /* their writes go in this commit */
    struct buf err = BUF_INIT(4096);
    /* with live queries to re-run, the disk writes the batch's WAL frames while the loop re-runs
     * them (the commit's sync deferred, store_vfs.c): nothing of the batch leaves the process
     * before shard_sync_wait */
    int overlap = t->sync && live_has_dirty(t->shard->live);
    int failed =
        (overlap ? shard_commit_deferred(t->shard, &err) : shard_commit(t->shard, &err)) < 0;
    buf_release(&err);
    if (overlap) {
        sync_rerun(t->sync);
        shard_sync_wait(t->shard);
    }
    sync_flush(t->sync, failed);
    actors_flush(t->actors, failed);
    http_api_flush(&t->api, failed);
    action_pool_flush(t->actions, failed);
    if (t->jobs)
        jobs_flush(t->jobs, failed);
    if (overlap)
        shard_after_sync(t->shard);
    return t->shard->batch_open;
}

void tenant_stop(struct tenant *t, int why)
{
    t->api.stopping = why;        /* imports still parsing store nothing (http_admin_import.c) */
    if (why & HTTP_API_DELETING)  /* running actions end within ~100 ms of CPU time */
        action_pool_stop_deleting(t->actions);
    else
        action_pool_stop(t->actions);
    reader_pool_stop(t->shard->readers); /* no new queries; those taken still answer */
    jobs_stop(t->jobs);           /* no new scheduled runs; pending ones run at the next start */
    actors_stop(t->actors);       /* closing sockets run no onDisconnect */
}

int tenant_busy(const struct tenant *t)
{
    return (t->sync && sync_stats(t->sync)->sockets) ||
           (t->actors && actors_stats(t->actors)->sockets) ||
           (t->actions && action_pool_pending(t->actions)) ||
           reader_pool_pending(t->shard->readers) || t->api.n_deferred ||
           t->api.auth_holds || t->api.uploads || t->api.imports_running ||
           t->shard->batch_open;
}

void tenant_close_begin(struct tenant *t)
{
    if (t->prune_timer.fn)
        loop_timer_stop(t->loop, &t->prune_timer);
    if (t->job_prune_timer.fn)
        loop_timer_stop(t->loop, &t->job_prune_timer);
    reader_pool_free(t->shard->readers); /* joined; their last answers reach connections */
    t->shard->readers = NULL;
    actors_deactivate_all(t->actors); /* their onDeactivate is in the final commit */
    /* the final commit: action_pool_free's (its last answers still reach connections and
     * sessions), or ours without a pool; its outcome decides the answers held back for it */
    if (t->actions) {
        t->lost = action_pool_free(t->actions) < 0;
        t->actions = NULL;
    } else {
        struct buf cerr = BUF_INIT(4096);
        t->lost = shard_commit(t->shard, &cerr) < 0;
        buf_release(&cerr);
    }
    jobs_free(t->jobs); /* after the pool: its last answers recorded their jobs' outcomes (the
                           store's final commit, in shard_free, makes them durable) */
    t->jobs = NULL;
    http_auth_release(&t->api); /* the requests waiting for keys let go of their connections */
}

void tenant_close_end(struct tenant *t)
{
    sync_free(t->sync);
    t->sync = NULL;
    actors_free(t->actors);
    t->actors = NULL;
    http_api_release(&t->api, t->lost);
    auth_keys_free(t->shard->auth); /* its fetches run on the loop */
    t->shard->auth = NULL;
    shard_free(t->shard);
    vr_free(t->public_url);
    vr_free(t->name);
    vr_free(t);
}

void tenant_close(struct tenant *t)
{
    tenant_close_begin(t);
    tenant_close_end(t);
}
