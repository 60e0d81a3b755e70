/* deployer: POST /api/admin/deploy into the single shard of a server without --tenants, loaded
 * off the loop thread (deploy_handle loads on it): the app is evaluated on a thread of its own
 * (tenant_opener's reload job: shard_prepare_build with the schema deferred) while the shard
 * keeps serving its old version, then shard_install applies the schema and swaps on the loop
 * and the request is answered as deploy_handle answers it. One deploy at a time: another gets
 * 409 DeployInProgress. Loop thread only. */
#ifndef VR_PROTO_DEPLOYER_H
#define VR_PROTO_DEPLOYER_H

#include "net/loop.h"
#include "net/server.h"
#include "proto/tenant.h"

#define DEPLOYER_BUSY "another deploy is still loading; retry once it is done"

struct deployer;

/* For the tenant t (it outlives the deployer). */
struct deployer *deployer_new(struct loop *loop, struct tenant *t);
/* The deploy request (admin key checked): deploy_handle's contract, answered later. */
void deployer_handle(struct deployer *dp, struct conn *c, const struct http_request *req,
                     const char *save_path);
/* Shutdown: a deploy still loading is dropped (its request gets 503 ServerShuttingDown); its
 * thread is joined. Before the tenant closes. NULL: nothing. */
void deployer_free(struct deployer *dp);

#endif
