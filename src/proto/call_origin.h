/* call_origin: where an HTTP request's function call came from, as the function's
 * ctx.meta.getRequestMetadata() tells it (js_request): the peer's address, its User-Agent, the
 * Bearer token that authenticated the call, and the request's id. Sync sessions keep theirs
 * (sync_call_request); scheduled runs name their job. */
#ifndef VR_PROTO_CALL_ORIGIN_H
#define VR_PROTO_CALL_ORIGIN_H

#include "base/buf.h"
#include "js/runtime.h"
#include "net/http.h"
#include "net/server.h"

struct call_origin {
    struct js_request r; /* points into the members below */
    char ip[CONN_ADDR_MAX];
    struct buf user_agent, token;
};

/* o for req on c. with_token: its Bearer token gave the call its identity (not the admin key, not
 * a refused one). request_id: the id the request is known by (Convex's HTTP answers name it in
 * their errors), or NULL: one is made if the function asks. */
void call_origin_http(struct call_origin *o, struct conn *c, const struct http_request *req,
                      int with_token, const char *request_id);
void call_origin_release(struct call_origin *o);

#endif
