/* identity: the user identity a function sees (`ctx.auth.getUserIdentity()`), made from a
 * verified token's claims as Convex makes it: tokenIdentifier "<iss>|<sub>", subject, issuer,
 * the OpenID Connect standard claims under Convex's names (given_name -> givenName, ...), and
 * every other claim kept as it is. */
#ifndef VR_AUTH_IDENTITY_H
#define VR_AUTH_IDENTITY_H

#include <jansson.h>

#include "base/buf.h"

/* *identity (out): a new object. -1 with err when the claims have no string iss or sub. */
int auth_identity(const json_t *claims, json_t **identity, struct buf *err);

#endif
