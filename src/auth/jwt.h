/* jwt: verifies JSON Web Tokens (RFC 7519; the compact JWS form of RFC 7515) against a key set
 * built from JWKS documents (RFC 7517) or HMAC secrets. RS256, ES256, EdDSA (Ed25519) and HS256,
 * each only with a key of its own type, so no token can choose how it is checked (no `none`, no
 * RSA public key taken as an HMAC secret); then the registered claims iss, aud, exp, nbf and iat
 * with a clock skew. Pure: no I/O, no clock of its own (the caller passes `now`), thread-safe
 * on a key set that is not being changed. */
#ifndef VR_AUTH_JWT_H
#define VR_AUTH_JWT_H

#include <jansson.h>
#include <stddef.h>

#include "base/buf.h"

#define JWT_MAX_TOKEN 16384 /* bytes of a token; larger ones are refused unread */
#define JWT_MAX_KEYS 64     /* keys in one set (a JWKS with more is refused) */
#define JWT_MIN_RSA_BITS 2048
#define JWT_MIN_HMAC_BYTES 32 /* RFC 7518 §3.2: an HS256 key of at least the hash's size */

enum jwt_status {
    JWT_OK = 0,
    JWT_MALFORMED,     /* not header.payload.signature of base64url JSON objects */
    JWT_TOO_LARGE,     /* past JWT_MAX_TOKEN */
    JWT_BAD_ALG,       /* `none`, an algorithm not supported, or no key of its type */
    JWT_UNKNOWN_KID,   /* no key has the token's `kid`: a caller may refresh its key set */
    JWT_BAD_SIGNATURE, /* no key of the right type verifies it */
    JWT_EXPIRED,       /* exp (+ skew) is past */
    JWT_NOT_YET_VALID, /* nbf or iat (- skew) is in the future */
    JWT_BAD_ISSUER,
    JWT_BAD_AUDIENCE,
    JWT_BAD_CLAIMS, /* exp, nbf, iat not numbers; exp missing where required */
};

struct jwt_keyset;

struct jwt_keyset *jwt_keyset_new(void);
void jwt_keyset_free(struct jwt_keyset *ks);
size_t jwt_keyset_count(const struct jwt_keyset *ks);

/* Adds the signing keys of a JWKS document ({"keys": [...]}): RSA (n, e; at least
 * JWT_MIN_RSA_BITS), EC P-256 (x, y; the point is checked to be on the curve) and OKP Ed25519
 * (x). Keys for other uses ("use" other than "sig"), other types or curves, or with an "alg"
 * this module does not verify are skipped (*skipped counts them; may be NULL). A malformed key
 * of a supported type, or a document that is not a JWKS, is an error and adds nothing. */
int jwt_keyset_add_jwks(struct jwt_keyset *ks, const char *json, size_t len, size_t *skipped,
                        struct buf *err);
/* Adds an HS256 secret (at least JWT_MIN_HMAC_BYTES bytes), `kid` may be NULL. */
int jwt_keyset_add_hmac(struct jwt_keyset *ks, const char *kid, const void *secret, size_t len,
                        struct buf *err);

struct jwt_check {
    const char *issuer;   /* the token's iss must equal it; NULL: any */
    const char *audience; /* aud (a string or an array of them) must hold it; NULL: any */
    double now;           /* seconds since the epoch */
    double skew;          /* seconds of tolerance for exp, nbf and iat */
    int require_exp;      /* a token without exp is refused (JWT_BAD_CLAIMS) */
    const char *alg;      /* the one algorithm accepted ("RS256", ...); NULL: any the keys verify */
};

/* Verifies `token` (len bytes). JWT_OK: *claims (out) is the payload object, a new reference.
 * Otherwise err says why, naming the claim and values but never the token or its signature;
 * *claims is NULL. `kid` (out, may be NULL): the header's kid, "" without one, for the caller's
 * key refresh on JWT_UNKNOWN_KID. */
enum jwt_status jwt_verify(const char *token, size_t len, const struct jwt_keyset *ks,
                           const struct jwt_check *check, json_t **claims, char kid[128],
                           struct buf *err);

/* The `iss` claim of an unverified token (to pick the provider whose keys verify it) into iss
 * (size bytes, NUL-terminated): 0, or -1 when the token is malformed or has no string iss
 * that fits. Nothing read this way may be trusted before jwt_verify. */
int jwt_peek_issuer(const char *token, size_t len, char *iss, size_t size);

/* A short name of a status for logs and metrics ("expired", "bad_signature", ...). */
const char *jwt_status_name(enum jwt_status s);

#endif
