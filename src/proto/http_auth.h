/* http_auth: the caller's identity on the HTTP paths (function calls and HTTP actions). The
 * request's `Authorization: Bearer <token>` is verified by the shard's auth_keys before its
 * function runs; a refused token is answered 401 with a JSON error and runs nothing. A token
 * whose provider's keys are being fetched holds the request (copied, its connection referenced)
 * without blocking the loop. The token is never logged. */
#ifndef VR_PROTO_HTTP_AUTH_H
#define VR_PROTO_HTTP_AUTH_H

#include <jansson.h>
#include <stddef.h>

#include "net/server.h"
#include "proto/http_api.h"

/* What runs once the identity is known: identity is the verified identity's JSON (NULL: the
 * request had no Bearer token); body is the request body's JSON the caller parsed before
 * (http_auth_run's, borrowed; NULL: none); req, arg and body are valid for the call only. */
typedef void (*http_auth_run_fn)(struct http_api *api, struct conn *c, struct http_request *req,
                                 const void *arg, const char *identity, json_t *body);

/* The Bearer token of req (1, *tok and *len set) or none (0): no Authorization header, or one of
 * another scheme (Convex's admin "Convex <key>", Basic, ...), which is left to the handler. */
int http_auth_bearer(const struct http_request *req, const char **tok, size_t *len);

/* The request's Authorization header when it is of Convex's admin scheme (below), else NULL. */
const struct slice *http_auth_convex_scheme(const struct http_request *req);

/* Convex's admin scheme, `Authorization: Convex <admin key>[:<identity>]` (ConvexHttpClient's
 * setAdminAuth(key, actingAs): the identity is base64 of a UserIdentity's JSON). 0: the header is
 * not of that scheme; 1: the key is the deployment's, *identity the identity's JSON text to act
 * as (NULL: none; the caller frees it with free()); -1 with err: a wrong key (*status 401) or an
 * identity that is not base64 of a JSON object (*status 400). */
/* Whether the len bytes at given are the admin key (in constant time; no key: never). */
int http_auth_admin_key_is(const char *given, size_t len, const char *admin_key);
int http_auth_convex_admin(const struct http_request *req, const char *admin_key, char **identity,
                           int *status, struct buf *err);

/* The identity text an admin acts as, from the object given (setAdminAuth's, or `vireo run
 * --identity`'s): its fields as given, tokenIdentifier "<issuer>|<subject>" added when it has
 * none and both are strings. NULL: out of memory. free() it. */
char *http_auth_identity_text(const json_t *given);

#define HTTP_AUTH_CONVEX 1  /* refusals in Convex's shape */
#define HTTP_AUTH_LENIENT 2 /* HTTP actions: a refused token does not stop the request */

/* The identity text an HTTP action runs with when its Authorization header was refused: this
 * marker, then the reason. The prelude's ctx.auth.getUserIdentity() throws it (as Convex's HTTP
 * actions do: the request goes through, only the identity is an error). */
#define HTTP_AUTH_ERROR_MARK '!'

/* Calls run(api, c, req, arg, identity, body) now or, if the keys must be fetched first, later
 * (arg is copied: arg_len bytes; body, the request body's JSON if the caller parsed it, so that
 * a large body is parsed once, is referenced: NULL for none). A refused token is answered here: 401
 * with {"code", "message"} with HTTP_AUTH_CONVEX in `how` (Convex's shape), else Vireo's
 * {"status":"error","errorCode","errorMessage"}; the codes are InvalidToken, TokenExpired and
 * AuthUnavailable (auth_keys.h). With HTTP_AUTH_LENIENT a refused token, or an Authorization
 * header that is not a Bearer token, runs the request with HTTP_AUTH_ERROR_MARK + the reason as
 * its identity instead. */
void http_auth_run(struct http_api *api, struct conn *c, struct http_request *req, int how,
                   http_auth_run_fn run, const void *arg, size_t arg_len, json_t *body);

/* Drops the requests still waiting for keys (shutdown): their connections are released. */
void http_auth_release(struct http_api *api);

#endif
