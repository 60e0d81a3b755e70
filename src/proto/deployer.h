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
#include "proto/tenant.h"

#define DEPLOYER_BUSY "another deploy is still loading; retry once it is done"
#define DEPLOYER_RELOADING                                                                         \
    "the app is being reloaded after an environment change; retry once it is done"
#define DEPLOYER_STOPPED                                                                           \
    "the server is shutting down: the change is stored, and the next start loads the app with it"

/* Answers an environment change's request c once its reload ended: load_err NULL when the new
 * version serves, else why it does not (the old version keeps serving). arg is the caller's. */
typedef void (*deployer_reloaded_fn)(struct conn *c, void *arg, const char *load_err);

struct deployer;

/* For the tenant t (it outlives the deployer). */
struct deployer *deployer_new(struct loop *loop, struct tenant *t);
/* The deploy request (admin key checked): deploy_handle's contract, answered later. */
void deployer_handle(struct deployer *dp, struct conn *c, const struct http_request *req,
                     const char *save_path);
/* The environment changed (the caller stored it, committing the open batch first): the running
 * version is built again off the loop with the new process.env, and done(c, arg, ...) answers c
 * (referenced meanwhile; done is called even when c closed) once it serves or failed, or at
 * shutdown with DEPLOYER_STOPPED. -1 when a version is loading already or there is none: the
 * caller reloads on the loop instead (shard_reload; a deploy loading then builds again). */
int deployer_reload(struct deployer *dp, struct conn *c, deployer_reloaded_fn done, void *arg);
/* 1 when no version is loading (deployer_reload would take one). */
int deployer_idle(const struct deployer *dp);

/* Shutdown: a deploy still loading is dropped (its request gets 503 ServerShuttingDown); its
 * thread is joined. Before the tenant closes. NULL: nothing. */
void deployer_free(struct deployer *dp);

#endif
