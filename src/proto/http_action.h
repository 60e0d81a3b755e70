/* http_action: serves the app's HTTP actions (the routes of http.ts's httpRouter) on the
 * server's own port. A request whose path and method match a route (exact path first, then the
 * longest path prefix, HEAD as GET: Convex's lookup) runs on the action pool as the internal
 * action JS_HTTP_ACTION_PATH with the request (method, URL, headers, body); the connection is
 * held until the action finishes, then the handler's Response (status, headers, body) is written
 * out; a body that is a ReadableStream is sent chunked as the action produces it (the action's
 * stream, actions.h), and a stream that fails midway closes the connection without the last
 * chunk. A handler that throws or returns something else than a Response is a 500 with the error
 * in the log. The caller keeps Vireo's reserved paths (/api/, /_vireo/) away from here. */
#ifndef VR_PROTO_HTTP_ACTION_H
#define VR_PROTO_HTTP_ACTION_H

#include <stddef.h>
#include <stdint.h>

#include "net/server.h"
#include "proto/shard.h"

/* Default and largest request body an HTTP action accepts (--max-http-action-body). The body
 * travels base64-encoded in the action's arguments, which are bounded at 16 MiB. */
#define HTTP_ACTION_BODY_DEFAULT (8u << 20)
#define HTTP_ACTION_BODY_MAX 12000000u
/* A streamed response (a Response whose body is a ReadableStream): the default bound on its body
 * in all (--max-http-action-response; Convex's 20 MiB), and the bytes of it one response may hold
 * queued in the server (on the action's stream and unsent on the connection) before its producer
 * waits. */
#define HTTP_ACTION_RESPONSE_DEFAULT (20u << 20)
#define HTTP_ACTION_STREAM_QUEUE (1u << 20)

/* The path a route is chosen by: the request's with its dot segments resolved
 * (http_path_resolved), as the handler's `new URL(request.url)` shows it and Convex's router
 * routes it. Written to stack when it fits in cap bytes, else to a buffer of its own (a path may
 * be as long as the request head) that http_action_route_free releases. */
struct slice http_action_route(struct slice path, char *stack, size_t cap);
void http_action_route_free(struct slice route, const char *stack);

/* Does any route of the loaded app match this method and route (http_action_route)? */
int http_action_match(const struct shard *s, struct slice method, struct slice path);

/* Does the loaded app have an http.ts router at all? */
int http_action_has_routes(const struct shard *s);

/* At the request's head (before its body is read) of a request a route matches whose declared
 * Content-Length (len) is over max_body: answered 413 at once (no 100 Continue, the body
 * unread). */
void http_action_refuse_body(struct conn *c, size_t len, size_t max_body);

/* Runs the matching route's HTTP action for req (http_action_match said yes) with the
 * request's verified identity (JSON, or NULL: none; http_auth.h) and answers c now (refused:
 * body over max_body -> 413, pool full -> 503) or when the action finishes. */
void http_action_run(struct shard *s, struct conn *c, struct http_request *req, size_t max_body,
                     uint64_t max_stream, const char *identity);

/* Convex's answer when no route matches: 404 "No HttpAction routed for <path>". */
void http_action_not_found(struct conn *c, struct slice path);

#endif
