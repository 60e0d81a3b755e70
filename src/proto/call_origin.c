/* call_origin: see call_origin.h. */
#include "proto/call_origin.h"

#include <string.h>

#include "proto/http_auth.h"
#include "base/banned.h"

void call_origin_http(struct call_origin *o, struct conn *c, const struct http_request *req,
                      int with_token, const char *request_id)
{
    o->user_agent = (struct buf)BUF_INIT(BUF_NOLIMIT); /* bounded by the request's headers */
    o->token = (struct buf)BUF_INIT(BUF_NOLIMIT);
    o->r = (struct js_request){.request_id = request_id};
    if (conn_peer_addr(c, o->ip) == 0)
        o->r.ip = o->ip;
    const struct slice *ua = http_header_get(req, "user-agent");
    if (ua) {
        buf_append(&o->user_agent, ua->p, ua->len);
        o->r.user_agent = o->user_agent.data;
    }
    const char *tok;
    size_t len;
    if (with_token && http_auth_bearer(req, &tok, &len)) {
        buf_append(&o->token, tok, len);
        o->r.auth_token = o->token.data;
    }
}

void call_origin_release(struct call_origin *o)
{
    buf_release(&o->user_agent);
    buf_release(&o->token);
}
