/* providers: the identity providers an app trusts, as Convex's auth.config declares them, and the
 * verification of a token against them: the provider is picked by the token's issuer, its keys
 * verify the signature, its applicationID must be in the audience, and the claims become the
 * identity (identity.h). Keys arrive from outside (this module does no I/O): the caller fetches
 * what auth_provider_fetch_url names when a verification answers AUTH_NEED_KEYS, and hands the
 * documents back. Keys are kept when a refresh fails; an unknown kid asks for a refresh at most
 * once per AUTH_REFRESH_MIN_S per provider, and keys older than AUTH_KEYS_MAX_AGE_S are stale:
 * fetched again while they keep verifying (a key the provider withdrew stops verifying about
 * that long after). */
#ifndef VR_AUTH_PROVIDERS_H
#define VR_AUTH_PROVIDERS_H

#include <jansson.h>
#include <stddef.h>

#include "auth/jwt.h"
#include "base/buf.h"

#define AUTH_MAX_PROVIDERS 16
#define AUTH_REFRESH_MIN_S 60.0 /* an unknown kid refetches a provider's keys at most this often */
#define AUTH_RETRY_S 5.0        /* a provider whose keys were never fetched: the next try after a failure */
#define AUTH_CLOCK_SKEW_S 60.0  /* tolerance for exp, nbf and iat */
#define AUTH_KEYS_MAX_AGE_S 3600.0 /* fetched keys are fetched again this long after */

enum auth_kind {
    AUTH_OIDC,       /* {domain, applicationID}: keys through <domain>/.well-known/openid-configuration */
    AUTH_CUSTOM_JWT, /* {type: "customJwt", issuer, jwks, algorithm, applicationID?} */
    AUTH_SECRET,     /* an HS256 secret (`--jwt-secret`): no fetching */
};

enum auth_status {
    AUTH_OK,
    AUTH_REFUSED,    /* err says why; *why (if asked) the token's jwt_status */
    AUTH_NEED_KEYS,  /* fetch for *provider, then verify again */
    AUTH_UNAVAILABLE, /* the issuer's provider has no keys: their fetch failed (err says so) */
};

struct auth_providers;

/* config: the JSON of auth.config's default export ({"providers": [...]}) or NULL for none.
 * Each provider's shape is checked (a clear error names the provider and the field). */
int auth_providers_new(const char *config, size_t len, struct auth_providers **out,
                       struct buf *err);
/* Adds an HS256 provider; issuer and audience NULL accept any. */
int auth_providers_add_secret(struct auth_providers *p, const char *issuer, const char *audience,
                              const void *secret, size_t len, struct buf *err);
void auth_providers_free(struct auth_providers *p);
/* How often an unknown kid may refetch a provider's keys (default AUTH_REFRESH_MIN_S; tests
 * shorten it). */
void auth_providers_set_refresh_min(struct auth_providers *p, double seconds);
/* How long fetched keys verify before they are fetched again (default AUTH_KEYS_MAX_AGE_S;
 * tests shorten it). */
void auth_providers_set_max_age(struct auth_providers *p, double seconds);
/* The clock skew tolerated for exp, nbf and iat (AUTH_CLOCK_SKEW_S by default; tests). */
void auth_providers_set_skew(struct auth_providers *p, double seconds);
size_t auth_providers_count(const struct auth_providers *p);
/* Whether provider i's fetched keys are older than the maximum age (a secret's never are). */
int auth_provider_keys_stale(const struct auth_providers *p, size_t i, double now);

/* Verifies `token` at `now` (seconds). AUTH_OK: *identity (out) a new object, *exp (out, may be
 * NULL) the token's exp in seconds. AUTH_NEED_KEYS: *provider (out) is the one whose keys must be
 * fetched first. */
enum auth_status auth_providers_verify(struct auth_providers *p, const char *token, size_t len,
                                       double now, json_t **identity, double *exp,
                                       size_t *provider, enum jwt_status *why, struct buf *err);

/* What provider i needs fetched: its OpenID discovery document (*discovery = 1) until it knows
 * its jwks_uri, then its JWKS. NULL for a secret. */
const char *auth_provider_fetch_url(const struct auth_providers *p, size_t i, int *discovery);
/* The discovery document of provider i: its jwks_uri is kept (its issuer must be the domain). */
int auth_provider_set_discovery(struct auth_providers *p, size_t i, const char *json, size_t len,
                                struct buf *err);
/* The JWKS of provider i, fetched at `now`: replaces its keys (on an error they are kept). */
int auth_provider_set_keys(struct auth_providers *p, size_t i, const char *json, size_t len,
                           double now, struct buf *err);
/* A failed fetch at `now`: the next unknown kid waits AUTH_REFRESH_MIN_S before asking again. */
void auth_provider_fetch_failed(struct auth_providers *p, size_t i, double now);
/* The issuer of provider i (OIDC: its domain) for messages and logs. */
const char *auth_provider_issuer(const struct auth_providers *p, size_t i);

#endif
