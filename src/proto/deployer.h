/* deployer: POST /api/admin/deploy into the single shard of a server without --tenants, loaded
 * off the loop thread (deploy_handle loads on it): the app is evaluated on a thread of its own
 * (tenant_opener's reload job: shard_prepare_build with the schema deferred) while the shard
 * keeps serving its old version, then shard_install applies the schema and swaps on the loop
 * and the request is answered as deploy_handle answers it. The reload after an environment
 * change (`vireo env`, http_admin_env.c) is built the same way, from the running bundle. One
 * version at a time: a deploy while one loads gets 409 DeployInProgress. Loop thread only. */
#ifndef VR_PROTO_DEPLOYER_H
#define VR_PROTO_DEPLOYER_H

#include "net/loop.h"
#include "net/server.h"
#include "proto/env_reloader.h"
#include "proto/tenant.h"

#define DEPLOYER_BUSY "another deploy is still loading; retry once it is done"
#define DEPLOYER_RELOADING                                                                         \
    "the app is being reloaded after an environment change; retry once it is done"

struct deployer;

/* For the tenant t (it outlives the deployer). */
struct deployer *deployer_new(struct loop *loop, struct tenant *t);
/* The deploy request (admin key checked): deploy_handle's contract, answered later. */
void deployer_handle(struct deployer *dp, struct conn *c, const struct http_request *req,
                     const char *save_path);
/* The single shard's env_reloader (env_reloader.h): the running version built again with the
 * new process.env, answered at shutdown with ENV_RELOAD_STOPPED; busy while a deploy or another
 * reload loads (a deploy then builds again: SHARD_VERSION_STALE). */
struct env_reloader deployer_env_reloader(struct deployer *dp);

/* Shutdown: a deploy still loading is dropped (its request gets 503 ServerShuttingDown); its
 * thread is joined. Before the tenant closes. NULL: nothing. */
void deployer_free(struct deployer *dp);

#endif
