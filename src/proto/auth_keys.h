/* auth_keys: token verification on the loop thread with the keys fetched as needed. It owns the
 * app's providers (auth/providers.h) and an HTTP client (net/fetch.h); a verification that needs
 * a provider's discovery document or JWKS waits (never blocking the loop) while one fetch per
 * provider runs, then every waiter of that provider is verified again. A provider that cannot be
 * reached keeps the keys it had. At most AUTH_KEYS_MAX_WAITERS verifications wait at a time. */
#ifndef VR_PROTO_AUTH_KEYS_H
#define VR_PROTO_AUTH_KEYS_H

#include <jansson.h>
#include <stdint.h>

#include "auth/providers.h"
#include "base/buf.h"
#include "net/loop.h"

#define AUTH_KEYS_MAX_WAITERS 4096
#define AUTH_KEYS_FETCH_TIMEOUT_MS 10000
#define AUTH_KEYS_MAX_DOCUMENT (1u << 20) /* bytes of a discovery document or a JWKS */

struct auth_keys;

/* The outcome of a verification. Refusal codes (what clients see): "TokenExpired" (exp passed),
 * "AuthUnavailable" (the provider's keys cannot be fetched now), "TenantMismatch" (a valid
 * token for another tenant: auth_keys_require_claim), "InvalidToken" (every other refusal). err
 * never holds the token. */
struct auth_result {
    json_t *identity; /* the verified identity (owned; NULL: refused) */
    double exp;       /* the token's exp, ms since the epoch (0: none) */
    const char *code; /* refused: one of the codes above; NULL when verified */
    char err[512];    /* refused: why */
};
void auth_result_init(struct auth_result *r);
void auth_result_release(struct auth_result *r);

/* r is borrowed for the call (take its identity with json_incref). */
typedef void (*auth_done_fn)(void *arg, const struct auth_result *r);

struct auth_keys *auth_keys_new(struct loop *loop);
/* Pending verifications are dropped without their done being called. */
void auth_keys_free(struct auth_keys *ak);
/* --tenant-claim: a verified token is refused (code TenantMismatch) unless its identity's string
 * `claim` equals value (both copied; claim NULL: no requirement). */
void auth_keys_require_claim(struct auth_keys *ak, const char *claim, const char *value);
/* Replaces the providers (takes ownership of p; NULL: none). Waiting verifications are answered
 * against the new ones. */
void auth_keys_set_providers(struct auth_keys *ak, struct auth_providers *p);
size_t auth_keys_provider_count(const struct auth_keys *ak);

/* Verifies `token`: 1 answered now into *r (out; the caller releases it); 0 waiting:
 * done(arg, ...) runs later from the loop unless auth_keys_cancel(*wait_id). ak NULL: no
 * providers (every token refused). */
int auth_keys_verify(struct auth_keys *ak, const char *token, size_t len, struct auth_result *r,
                     auth_done_fn done, void *arg, uint64_t *wait_id);
void auth_keys_cancel(struct auth_keys *ak, uint64_t wait_id);
size_t auth_keys_waiting(const struct auth_keys *ak);

#endif
