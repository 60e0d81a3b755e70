/* http_admin_actors: the admin API for live actors, seed 001's ActorManager over HTTP (admin
 * key; docs/actors.md "Admin", docs/protocol.md): GET /api/admin/actors (list, paged),
 * GET /api/admin/actors/<actor>/<actorId> (inspect), POST /api/admin/actors/destroy and
 * /destroy-all. Every operation runs in the internal mutation `_system/actors:run` in the
 * shard's batch, and its answer waits for that batch's commit. */
#ifndef VR_PROTO_HTTP_ADMIN_ACTORS_H
#define VR_PROTO_HTTP_ADMIN_ACTORS_H

#include "base/slice.h"
#include "net/server.h"
#include "proto/http_api.h"

/* rest: what follows "/api/admin/actors" in the path ("" or "/…"). Checks the admin key and
 * the method itself. */
void http_admin_actors_handle(struct http_api *api, struct conn *c, const struct http_request *req,
                              struct slice rest);

#endif
