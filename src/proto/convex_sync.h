/* convex_sync: Convex's sync protocol on GET /api/<client version>/sync (docs/protocol.md,
 * "Convex sync protocol"), so the official `convex` client (ConvexClient, ConvexReactClient)
 * works unchanged. A second wire format over the same sessions, live queries and transitions as
 * /api/sync (sync.h). Runs in the shard's loop thread. */
#ifndef VR_PROTO_CONVEX_SYNC_H
#define VR_PROTO_CONVEX_SYNC_H

#include <stddef.h>

#include "net/server.h"
#include "proto/sync.h"

/* 1 if path is /api/<version>/sync (one non-empty segment between, as the client builds it). */
int convex_sync_path(const char *path, size_t len);

/* Upgrades the current request of c to a Convex sync connection. */
void convex_sync_accept(struct sync *s, struct conn *c, struct http_request *req);

#endif
