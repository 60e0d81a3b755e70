/* tenant: one shard and everything that serves it — the store and JS runtime (shard.h), the
 * action pool's threads, the scheduler and crons, the sync protocol's sessions, the HTTP API's
 * per-shard state (its held-back answers and auth holds) and the shard's periodic prunes.
 * `vireo dev|serve` opens one (the single shard) or, with --tenants, one per tenant
 * (tenants.h). Loop thread only (but tenant_prepare); a tenant is closed only when nothing
 * refers to it (tenant_busy() == 0) or at shutdown, after the server has closed every
 * connection. */
#ifndef VR_PROTO_TENANT_H
#define VR_PROTO_TENANT_H

#include "base/dlist.h"
#include "net/loop.h"
#include "proto/actions.h"
#include "proto/actors.h"
#include "proto/http_api.h"
#include "proto/jobs.h"
#include "proto/readers.h"
#include "proto/shard.h"
#include "proto/sync.h"

/* What every tenant is opened with (borrowed: the caller keeps it alive while tenants live). */
struct tenant_options {
    struct js_options js;        /* js.public_url: the server's origin; a named tenant's own
                                    is that plus "/t/<name>" */
    struct store_options store;
    struct action_pool_options actions;
    struct reader_pool_options readers; /* the single shard's query readers (a server without
                                           --tenants, on a file database); named tenants
                                           run their queries on the loop thread */
    struct qcache_pool *query_cache; /* the budget every tenant's query result cache draws on
                                        (live/qcache.h; borrowed); NULL: no cache */
    struct jobs_options jobs;
    struct sync_options sync;
    struct actors_options actors;
    double idempotency_ms;       /* idempotency records kept this long */
    double job_retention_ms;     /* finished scheduled functions kept this long */
    struct shard_jwt_secret jwt_secret;
    const char *tenant_claim;    /* --tenant-claim: a named tenant's verified tokens must carry
                                    this claim naming it (auth_keys_require_claim); NULL: none */
    double auth_refresh_s;
    double auth_max_age_s;
    double auth_skew_s;
    struct http_api api;         /* the server-wide fields of every tenant's http_api (admin
                                    key, public dir, limits, server); shard and sync unset */
};

struct tenant {
    char *name;                  /* "" for the single shard of a server without --tenants */
    char *public_url;            /* a named tenant's js.public_url (owned); NULL: the server's
                                    (the options' buffer, borrowed: filled once the port is
                                    known) */
    struct loop *loop;
    struct shard *shard;
    struct action_pool *actions;
    struct jobs *jobs;
    struct sync *sync;
    struct actors *actors;       /* live actors over /api/actors */
    struct http_api api;         /* the server's handler argument for this tenant's requests */
    struct timer prune_timer;
    struct timer job_prune_timer;
    int lost;                    /* the final commit (tenant_close_begin) failed */
    double idempotency_ms, job_retention_ms;
    /* kept by the registry (tenants.c) */
    uint64_t last_used_ms;       /* loop time of its last request */
    int deleting;                /* POST /api/admin/tenants/delete with force is closing it */
    int reloading;               /* a new version is being built for it on an opener thread:
                                    it is not closed meanwhile */
    struct tenants *registry;    /* (its env_reloader's) */
    uint64_t app_version;        /* the registry's version its app came from */
    uint64_t tried_version;      /* the last version a deploy tried to load into it */
    struct dlist_node lru;       /* on the registry's list, most recently used first */
};

/* Opens the shard at db_path (created, mode 0600, if missing) and starts its action pool,
 * scheduler, sync and prune timers on loop. The app is not loaded yet (tenant_load). NULL with
 * err on failure (nothing is left open). */
struct tenant *tenant_open(struct loop *loop, const char *name, const char *db_path,
                           const struct tenant_options *opts, struct buf *err);

/* tenant_open in two halves (tenants.c opens a tenant off the loop thread with them):
 * tenant_prepare opens the shard (SQLite file, schema tables, stored files' folder) and touches
 * no loop state, so it may run on any thread; the tenant is private to that thread until handed
 * over. tenant_attach (loop thread) starts what lives on the loop: auth keys, action pool,
 * scheduler, sync, actors, prune timers; -1 with err (the caller closes t: tenant_close, after
 * dropping what else refers to its store). tenant_discard frees a prepared tenant that was
 * never attached (on any thread that owns it). */
struct tenant *tenant_prepare(const char *name, const char *db_path,
                              const struct tenant_options *opts, struct buf *err);
int tenant_attach(struct tenant *t, struct loop *loop, const char *db_path,
                  const struct tenant_options *opts, struct buf *err);
void tenant_discard(struct tenant *t);

/* Loads a bundle into the tenant's shard: shard_load's contract. */
int tenant_load(struct tenant *t, const char *bundle, size_t len, const char *name,
                struct buf *err);

/* The before-sleep step: commits the iteration's batch, then pushes live-query changes and
 * the answers held back for it. 1 when a batch is open again (the scheduler wrote: the loop
 * must not sleep before committing it), else 0. */
int tenant_flush(struct tenant *t);

/* Shutdown (or a forced delete: why is HTTP_API_SHUTDOWN or HTTP_API_DELETING) has begun: no new
 * actions or scheduled runs (pending ones run at the next open). */
void tenant_stop(struct tenant *t, int why);

/* Nonzero while something refers to the tenant: sync WebSockets (connected or before their
 * connect), actions queued or
 * running (HTTP actions and scheduled ones included), answers held back for a commit, requests
 * waiting for auth keys, uploads in progress. */
int tenant_busy(const struct tenant *t);

/* Closing in two halves around the server's own teardown at shutdown (tenant_close_begin,
 * server_free, tenant_close_end), or both at once for an idle tenant (tenant_close). The
 * final commit happens in tenant_close_begin; its outcome decides the held-back answers. */
void tenant_close_begin(struct tenant *t);
void tenant_close_end(struct tenant *t);
void tenant_close(struct tenant *t);

#endif
