/* http_api: the HTTP face of a shard (the shape Convex uses, so SSR and clients without a
 * WebSocket work): POST /api/query|mutation|action with {"path","args"}, GET /api/health,
 * POST /api/admin/run (admin key; internal functions too), static files from the app's public/
 * folder, and a WebSocket echo endpoint for tests. Every answer is JSON:
 * {"status":"success","value":...} or {"status":"error","errorMessage":...,"errorCode":...}. */
#ifndef VR_PROTO_HTTP_API_H
#define VR_PROTO_HTTP_API_H

#include "net/server.h"
#include "proto/shard.h"

struct http_api {
    struct shard *shard;
    const char *admin_key;  /* required for the admin routes; borrowed */
    const char *public_dir; /* NULL: no static files; borrowed */
    int test_echo;          /* serve the /__test/echo WebSocket */
    uint64_t requests;      /* counters for /api/metrics */
    uint64_t function_calls;
    uint64_t function_errors;
};

/* The server's request handler; arg is a struct http_api. */
void http_api_handle(struct conn *c, struct http_request *req, void *arg);

#endif
