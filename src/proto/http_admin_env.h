/* http_admin_env: the admin API for the deployment's environment variables, which `vireo env`
 * uses: POST /api/admin/env/list, /get, /set, /remove with a JSON body (docs/protocol.md). The
 * caller (http_api.c) has checked the method and the admin key. Values travel only in bodies,
 * never in a path or a log line. */
#ifndef VR_PROTO_HTTP_ADMIN_ENV_H
#define VR_PROTO_HTTP_ADMIN_ENV_H

#include "base/slice.h"
#include "net/server.h"
#include "proto/env_reloader.h"
#include "proto/shard.h"

/* op: what follows "/api/admin/env" in the path ("/list", "/get", "/set", "/remove").
 * rl: what builds the app again off the loop after a change (the answer waits for it); with
 * none (rl->impl NULL), or when it is busy, the change reloads on the loop. */
void http_admin_env_handle(struct shard *shard, const struct env_reloader *rl, struct conn *c,
                           const struct http_request *req, struct slice op);

#endif
