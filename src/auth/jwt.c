/* jwt: token verification (jwt.h). A key's type fixes the one algorithm it verifies, chosen when
 * the key is added, never by the token: RSA -> RS256, EC P-256 -> ES256, Ed25519 -> EdDSA,
 * secret -> HS256. A token names its algorithm; only keys of that algorithm (and of its kid, when
 * it has one) are tried. Signatures through OpenSSL 3's EVP interface; HMAC compared in constant
 * time. */
#include "auth/jwt.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/param_build.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "base/base64.h"
#include "base/mem.h"

#include "base/banned.h"

enum key_alg { ALG_RS256, ALG_ES256, ALG_EDDSA, ALG_HS256 };

static const char *const alg_names[] = { "RS256", "ES256", "EdDSA", "HS256" };

struct jwt_key {
    enum key_alg alg;
    char kid[128]; /* "" when the key has none */
    EVP_PKEY *pkey;
    unsigned char *secret;
    size_t secret_len;
};

struct jwt_keyset {
    struct jwt_key keys[JWT_MAX_KEYS];
    size_t n;
};

struct jwt_keyset *jwt_keyset_new(void)
{
    return vr_calloc(1, sizeof(struct jwt_keyset));
}

static void key_release(struct jwt_key *k)
{
    EVP_PKEY_free(k->pkey);
    if (k->secret) {
        OPENSSL_cleanse(k->secret, k->secret_len);
        vr_free(k->secret);
    }
    memset(k, 0, sizeof(*k));
}

void jwt_keyset_free(struct jwt_keyset *ks)
{
    if (!ks)
        return;
    for (size_t i = 0; i < ks->n; i++)
        key_release(&ks->keys[i]);
    vr_free(ks);
}

size_t jwt_keyset_count(const struct jwt_keyset *ks)
{
    return ks ? ks->n : 0;
}

/* base64url without padding (RFC 7515 §2), strictly: other characters, '=' and a length that
 * cannot be an encoding are refused. *out is allocated (free with vr_free), NUL-terminated. */
static int b64url_decode(const char *s, size_t n, unsigned char **out, size_t *out_len)
{
    *out = NULL;
    if (n % 4 == 1)
        return -1;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (!((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
              ch == '-' || ch == '_'))
            return -1;
    }
    unsigned char *p = vr_malloc(3 * ((n + 3) / 4) + 1);
    long m = base64_decode(p, s, n);
    if (m < 0) {
        vr_free(p);
        return -1;
    }
    p[m] = '\0';
    *out = p;
    *out_len = (size_t)m;
    return 0;
}

/* A JWK member holding base64url bytes, decoded (exactly `want` bytes unless want is 0). */
static int jwk_bytes(const json_t *jwk, const char *name, size_t want, unsigned char **out,
                     size_t *len, struct buf *err)
{
    const json_t *v = json_object_get(jwk, name);
    const char *s = json_string_value(v);
    if (!s || b64url_decode(s, json_string_length(v), out, len) < 0 || *len == 0) {
        vr_free(*out); /* an empty member decodes (to nothing): it is refused all the same */
        *out = NULL;
        buf_appendf(err, "member `%s` is not base64url", name);
        return -1;
    }
    if (want && *len != want) {
        buf_appendf(err, "member `%s` holds %zu bytes, not %zu", name, *len, want);
        vr_free(*out);
        *out = NULL;
        return -1;
    }
    return 0;
}

/* what: the error when OpenSSL refuses the key */
static EVP_PKEY *pkey_from_params(const char *type, OSSL_PARAM_BLD *bld, const char *what,
                                  struct buf *err)
{
    EVP_PKEY *pkey = NULL;
    OSSL_PARAM *params = OSSL_PARAM_BLD_to_param(bld);
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name(NULL, type, NULL);
    if (!params || !ctx || EVP_PKEY_fromdata_init(ctx) <= 0 ||
        EVP_PKEY_fromdata(ctx, &pkey, EVP_PKEY_PUBLIC_KEY, params) <= 0) {
        buf_append_str(err, what);
        pkey = NULL;
    }
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
    return pkey;
}

static EVP_PKEY *rsa_key(const json_t *jwk, struct buf *err)
{
    unsigned char *n = NULL, *e = NULL;
    size_t nlen = 0, elen = 0;
    BIGNUM *bn = NULL, *be = NULL;
    OSSL_PARAM_BLD *bld = NULL;
    EVP_PKEY *pkey = NULL;
    if (jwk_bytes(jwk, "n", 0, &n, &nlen, err) < 0 || jwk_bytes(jwk, "e", 0, &e, &elen, err) < 0)
        goto out;
    bn = BN_bin2bn(n, (int)nlen, NULL);
    be = BN_bin2bn(e, (int)elen, NULL);
    if (!bn || !be) {
        buf_append_str(err, "cannot read the RSA modulus or exponent");
        goto out;
    }
    if (BN_num_bits(bn) < JWT_MIN_RSA_BITS) {
        buf_appendf(err, "the RSA key has %d bits; at least %d are required", BN_num_bits(bn),
                    JWT_MIN_RSA_BITS);
        goto out;
    }
    /* e = 1 makes any message its own signature (a forged token verifies with no private key):
     * e odd, from 3 to 2^33 - 1, as ring (Convex's verifier) requires; 65537 in practice */
    if (!BN_is_odd(be) || BN_num_bits(be) < 2 || BN_num_bits(be) > 33) {
        buf_append_str(err, "the RSA key's public exponent `e` must be odd, at least 3 and below "
                            "2^33 (it is 65537 in practice)");
        goto out;
    }
    bld = OSSL_PARAM_BLD_new();
    if (!bld || !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, bn) ||
        !OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, be)) {
        buf_append_str(err, "out of memory building the RSA key");
        goto out;
    }
    pkey = pkey_from_params("RSA", bld, "OpenSSL refused the RSA key", err);
out:
    OSSL_PARAM_BLD_free(bld);
    BN_free(bn);
    BN_free(be);
    vr_free(n);
    vr_free(e);
    return pkey;
}

static EVP_PKEY *ec_key(const json_t *jwk, struct buf *err)
{
    unsigned char *x = NULL, *y = NULL, point[65];
    size_t xlen = 0, ylen = 0;
    OSSL_PARAM_BLD *bld = NULL;
    EVP_PKEY *pkey = NULL;
    EVP_PKEY_CTX *check = NULL;
    if (jwk_bytes(jwk, "x", 32, &x, &xlen, err) < 0 || jwk_bytes(jwk, "y", 32, &y, &ylen, err) < 0)
        goto out;
    point[0] = 0x04; /* uncompressed: 04 || x || y (SEC 1 §2.3.3) */
    memcpy(point + 1, x, 32);
    memcpy(point + 33, y, 32);
    bld = OSSL_PARAM_BLD_new();
    if (!bld ||
        !OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, "prime256v1", 0) ||
        !OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, point, sizeof(point))) {
        buf_append_str(err, "out of memory building the EC key");
        goto out;
    }
    if (!(pkey = pkey_from_params("EC", bld, "the EC point is not on the P-256 curve", err)))
        goto out;
    /* a point off the curve would let a forged signature through some checks: refuse it */
    check = EVP_PKEY_CTX_new_from_pkey(NULL, pkey, NULL);
    if (!check || EVP_PKEY_public_check(check) != 1) {
        buf_append_str(err, "the EC point is not on the P-256 curve");
        EVP_PKEY_free(pkey);
        pkey = NULL;
    }
out:
    EVP_PKEY_CTX_free(check);
    OSSL_PARAM_BLD_free(bld);
    vr_free(x);
    vr_free(y);
    return pkey;
}

static EVP_PKEY *ed25519_key(const json_t *jwk, struct buf *err)
{
    unsigned char *x = NULL;
    size_t xlen = 0;
    if (jwk_bytes(jwk, "x", 32, &x, &xlen, err) < 0)
        return NULL;
    EVP_PKEY *pkey = EVP_PKEY_new_raw_public_key(EVP_PKEY_ED25519, NULL, x, xlen);
    if (!pkey)
        buf_append_str(err, "OpenSSL refused the Ed25519 key");
    vr_free(x);
    return pkey;
}

/* One JWK into *k: 1 added, 0 skipped (not a signing key this module verifies), -1 malformed. */
static int jwk_read(const json_t *jwk, struct jwt_key *k, struct buf *err)
{
    const char *kty = json_string_value(json_object_get(jwk, "kty"));
    const char *use = json_string_value(json_object_get(jwk, "use"));
    const json_t *algv = json_object_get(jwk, "alg");
    const char *alg = json_string_value(algv);
    const json_t *kidv = json_object_get(jwk, "kid");
    if (!kty) {
        buf_append_str(err, "a key has no string `kty`");
        return -1;
    }
    if ((algv && !alg) || (kidv && !json_is_string(kidv))) {
        buf_append_str(err, "a key's `alg` and `kid` must be strings");
        return -1;
    }
    if (use && strcmp(use, "sig"))
        return 0;
    if (!strcmp(kty, "RSA") && (!alg || !strcmp(alg, "RS256"))) {
        k->alg = ALG_RS256;
        k->pkey = rsa_key(jwk, err);
    } else if (!strcmp(kty, "EC") && (!alg || !strcmp(alg, "ES256"))) {
        const char *crv = json_string_value(json_object_get(jwk, "crv"));
        if (!crv || strcmp(crv, "P-256"))
            return 0;
        k->alg = ALG_ES256;
        k->pkey = ec_key(jwk, err);
    } else if (!strcmp(kty, "OKP") && (!alg || !strcmp(alg, "EdDSA"))) {
        const char *crv = json_string_value(json_object_get(jwk, "crv"));
        if (!crv || strcmp(crv, "Ed25519"))
            return 0;
        k->alg = ALG_EDDSA;
        k->pkey = ed25519_key(jwk, err);
    } else {
        return 0; /* oct keys in a public JWKS, RS512, ES384, ...: not ours to verify */
    }
    if (!k->pkey)
        return -1;
    const char *kid = json_string_value(kidv);
    if (kid && (strlen(kid) >= sizeof(k->kid) || strlen(kid) != json_string_length(kidv))) {
        buf_appendf(err, "a key's `kid` is longer than %zu bytes or holds U+0000",
                    sizeof(k->kid) - 1);
        EVP_PKEY_free(k->pkey);
        k->pkey = NULL;
        return -1;
    }
    snprintf(k->kid, sizeof(k->kid), "%s", kid ? kid : "");
    return 1;
}

int jwt_keyset_add_jwks(struct jwt_keyset *ks, const char *json, size_t len, size_t *skipped,
                        struct buf *err)
{
    json_error_t je;
    struct jwt_key added[JWT_MAX_KEYS];
    size_t nadded = 0, nskipped = 0;
    int r = -1;
    json_t *doc = json_loadb(json, len, JSON_REJECT_DUPLICATES, &je);
    const json_t *keys = json_object_get(doc, "keys");
    if (!json_is_array(keys)) {
        buf_appendf(err, "not a JWKS document (an object with a `keys` array)%s%s",
                    doc ? "" : ": ", doc ? "" : je.text);
        goto out;
    }
    if (json_array_size(keys) > JWT_MAX_KEYS) {
        buf_appendf(err, "the JWKS holds %zu keys; at most %d are read", json_array_size(keys),
                    JWT_MAX_KEYS);
        goto out;
    }
    for (size_t i = 0; i < json_array_size(keys); i++) {
        const json_t *jwk = json_array_get(keys, i);
        struct jwt_key k = { 0 };
        int got = json_is_object(jwk) ? jwk_read(jwk, &k, err) : -1;
        if (got < 0) {
            if (!err->len)
                buf_append_str(err, "not an object");
            buf_appendf(err, " (key %zu of the JWKS)", i);
            goto out;
        }
        if (got == 0) {
            nskipped++;
            continue;
        }
        added[nadded++] = k;
    }
    if (ks->n + nadded > JWT_MAX_KEYS) {
        buf_appendf(err, "a key set holds at most %d keys", JWT_MAX_KEYS);
        goto out;
    }
    memcpy(&ks->keys[ks->n], added, nadded * sizeof(added[0]));
    ks->n += nadded;
    nadded = 0; /* the set owns them now */
    if (skipped)
        *skipped = nskipped;
    r = 0;
out:
    for (size_t i = 0; i < nadded; i++)
        key_release(&added[i]);
    json_decref(doc);
    return r;
}

int jwt_keyset_add_hmac(struct jwt_keyset *ks, const char *kid, const void *secret, size_t len,
                        struct buf *err)
{
    if (len < JWT_MIN_HMAC_BYTES) {
        buf_appendf(err, "an HS256 secret must be at least %d bytes; this one has %zu",
                    JWT_MIN_HMAC_BYTES, len);
        return -1;
    }
    if (kid && strlen(kid) >= sizeof(ks->keys[0].kid)) {
        buf_appendf(err, "a key's `kid` is longer than %zu bytes", sizeof(ks->keys[0].kid) - 1);
        return -1;
    }
    if (ks->n == JWT_MAX_KEYS) {
        buf_appendf(err, "a key set holds at most %d keys", JWT_MAX_KEYS);
        return -1;
    }
    struct jwt_key *k = &ks->keys[ks->n++];
    memset(k, 0, sizeof(*k));
    k->alg = ALG_HS256;
    snprintf(k->kid, sizeof(k->kid), "%s", kid ? kid : "");
    k->secret = vr_malloc(len);
    memcpy(k->secret, secret, len);
    k->secret_len = len;
    return 0;
}

/* ---- verification ---- */

static int verify_evp(EVP_PKEY *pkey, const EVP_MD *md, const unsigned char *sig, size_t sig_len,
                      const char *data, size_t len)
{
    EVP_MD_CTX *m = EVP_MD_CTX_new();
    int ok = m && EVP_DigestVerifyInit(m, NULL, md, NULL, pkey) == 1 &&
             EVP_DigestVerify(m, sig, sig_len, (const unsigned char *)data, len) == 1;
    EVP_MD_CTX_free(m);
    return ok;
}

/* ES256 signs r || s, 32 bytes each (RFC 7518 §3.4); OpenSSL verifies DER. */
static int verify_es256(EVP_PKEY *pkey, const unsigned char *sig, size_t sig_len,
                        const char *data, size_t len)
{
    if (sig_len != 64)
        return 0;
    ECDSA_SIG *es = ECDSA_SIG_new();
    BIGNUM *r = BN_bin2bn(sig, 32, NULL), *s = BN_bin2bn(sig + 32, 32, NULL);
    unsigned char *der = NULL;
    int ok = 0;
    if (!es || !r || !s || ECDSA_SIG_set0(es, r, s) != 1) {
        BN_free(r);
        BN_free(s);
        goto out;
    }
    int der_len = i2d_ECDSA_SIG(es, &der);
    ok = der_len > 0 && verify_evp(pkey, EVP_sha256(), der, (size_t)der_len, data, len);
out:
    OPENSSL_free(der);
    ECDSA_SIG_free(es);
    return ok;
}

static int verify_with(const struct jwt_key *k, const unsigned char *sig, size_t sig_len,
                       const char *data, size_t len)
{
    switch (k->alg) {
    case ALG_RS256:
        return verify_evp(k->pkey, EVP_sha256(), sig, sig_len, data, len);
    case ALG_ES256:
        return verify_es256(k->pkey, sig, sig_len, data, len);
    case ALG_EDDSA:
        return verify_evp(k->pkey, NULL, sig, sig_len, data, len);
    case ALG_HS256: {
        unsigned char mac[EVP_MAX_MD_SIZE];
        unsigned int mac_len = 0;
        if (!HMAC(EVP_sha256(), k->secret, (int)k->secret_len, (const unsigned char *)data, len,
                  mac, &mac_len))
            return 0;
        return sig_len == mac_len && CRYPTO_memcmp(sig, mac, mac_len) == 0;
    }
    }
    return 0;
}

static void fmt_time(char out[32], double t)
{
    time_t tt = (time_t)t;
    struct tm tm;
    if (t < 0 || t > 253402300799.0 || !gmtime_r(&tt, &tm) ||
        !strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm))
        snprintf(out, 32, "%.0f", t);
}

/* A numeric date claim: 1 present (in *v), 0 absent, -1 not a number. */
static int num_claim(const json_t *claims, const char *name, double *v)
{
    const json_t *j = json_object_get(claims, name);
    if (!j)
        return 0;
    if (!json_is_number(j))
        return -1;
    *v = json_number_value(j);
    /* a time a Date can hold (8.64e12 s, the year 275760): past it the expiry would be printed
     * as `inf` and made a timer of undefined length */
    return *v >= -8.64e12 && *v <= 8.64e12 ? 1 : -1;
}

static enum jwt_status check_claims(const json_t *claims, const struct jwt_check *c,
                                    struct buf *err)
{
    double exp = 0, nbf = 0, iat = 0;
    char a[32], b[32];
    int has_exp = num_claim(claims, "exp", &exp), has_nbf = num_claim(claims, "nbf", &nbf),
        has_iat = num_claim(claims, "iat", &iat);
    if (has_exp < 0 || has_nbf < 0 || has_iat < 0) {
        buf_appendf(err,
                    "the token's `%s` is not a time: a number of seconds since the epoch, "
                    "at most 8640000000000 from it",
                    has_exp < 0   ? "exp"
                    : has_nbf < 0 ? "nbf"
                                  : "iat");
        return JWT_BAD_CLAIMS;
    }
    if (!has_exp && c->require_exp) {
        buf_append_str(err, "the token has no `exp` (expiry); tokens without one are refused");
        return JWT_BAD_CLAIMS;
    }
    if (has_exp && c->now > exp + c->skew) {
        fmt_time(a, exp);
        fmt_time(b, c->now);
        buf_appendf(err, "the token expired at %s (now %s)", a, b);
        return JWT_EXPIRED;
    }
    if (has_nbf && c->now + c->skew < nbf) {
        fmt_time(a, nbf);
        fmt_time(b, c->now);
        buf_appendf(err, "the token is not valid before %s (now %s)", a, b);
        return JWT_NOT_YET_VALID;
    }
    if (has_iat && c->now + c->skew < iat) {
        fmt_time(a, iat);
        fmt_time(b, c->now);
        buf_appendf(err, "the token was issued in the future, at %s (now %s)", a, b);
        return JWT_NOT_YET_VALID;
    }
    if (c->issuer) {
        const char *iss = json_string_value(json_object_get(claims, "iss"));
        if (!iss || strcmp(iss, c->issuer)) {
            buf_appendf(err, "the token's issuer `%.200s` is not `%.200s`", iss ? iss : "(none)",
                        c->issuer);
            return JWT_BAD_ISSUER;
        }
    }
    if (c->audience) {
        const json_t *aud = json_object_get(claims, "aud");
        int found = json_is_string(aud) && !strcmp(json_string_value(aud), c->audience);
        for (size_t i = 0; json_is_array(aud) && i < json_array_size(aud) && !found; i++) {
            const char *s = json_string_value(json_array_get(aud, i));
            found = s && !strcmp(s, c->audience);
        }
        if (!found) {
            buf_appendf(err, "the token's audience (`aud`) does not include `%.200s`",
                        c->audience);
            return JWT_BAD_AUDIENCE;
        }
    }
    return JWT_OK;
}

static json_t *json_part(const char *s, size_t n)
{
    unsigned char *raw = NULL;
    size_t len = 0;
    if (b64url_decode(s, n, &raw, &len) < 0)
        return NULL;
    json_t *j = json_loadb((const char *)raw, len, JSON_REJECT_DUPLICATES, NULL);
    vr_free(raw);
    if (j && !json_is_object(j)) {
        json_decref(j);
        j = NULL;
    }
    return j;
}

enum jwt_status jwt_verify(const char *token, size_t len, const struct jwt_keyset *ks,
                           const struct jwt_check *check, json_t **claims, char kid[128],
                           struct buf *err)
{
    enum jwt_status st = JWT_MALFORMED;
    json_t *header = NULL, *payload = NULL;
    unsigned char *sig = NULL;
    size_t sig_len = 0;
    *claims = NULL;
    if (kid)
        kid[0] = '\0';
    if (len > JWT_MAX_TOKEN) {
        buf_appendf(err, "the token is %zu bytes; at most %d are accepted", len, JWT_MAX_TOKEN);
        return JWT_TOO_LARGE;
    }
    const char *dot1 = memchr(token, '.', len);
    const char *dot2 = dot1 ? memchr(dot1 + 1, '.', len - (size_t)(dot1 + 1 - token)) : NULL;
    if (!dot2 || memchr(dot2 + 1, '.', len - (size_t)(dot2 + 1 - token))) {
        buf_append_str(err, "the token is not a signed JWT (header.payload.signature; "
                            "encrypted tokens are not accepted)");
        goto out;
    }
    if (!(header = json_part(token, (size_t)(dot1 - token)))) {
        buf_append_str(err, "the token's header is not a base64url-encoded JSON object");
        goto out;
    }
    if (!(payload = json_part(dot1 + 1, (size_t)(dot2 - dot1 - 1)))) {
        buf_append_str(err, "the token's payload is not a base64url-encoded JSON object");
        goto out;
    }
    if (b64url_decode(dot2 + 1, len - (size_t)(dot2 + 1 - token), &sig, &sig_len) < 0) {
        buf_append_str(err, "the token's signature is not base64url");
        goto out;
    }
    const json_t *algv = json_object_get(header, "alg"), *kidv = json_object_get(header, "kid");
    const char *alg = json_string_value(algv), *hkid = json_string_value(kidv);
    if ((kidv && !hkid) ||
        (hkid && (strlen(hkid) >= 128 || strlen(hkid) != json_string_length(kidv)))) {
        buf_append_str(err, "the token's `kid` is not a string of at most 127 bytes");
        goto out;
    }
    if (kid && hkid)
        snprintf(kid, 128, "%s", hkid);
    if (json_object_get(header, "crit")) { /* RFC 7515 §4.1.11: extensions we do not know */
        buf_append_str(err, "the token's header has `crit` extensions, which are not supported");
        goto out;
    }
    int want = -1;
    for (int i = 0; alg && i < (int)(sizeof(alg_names) / sizeof(alg_names[0])); i++)
        if (!strcmp(alg, alg_names[i]))
            want = i;
    if (want >= 0 && check->alg && strcmp(alg, check->alg)) {
        buf_appendf(err, "the token is signed with %s; this provider accepts only %.20s", alg,
                    check->alg);
        st = JWT_BAD_ALG;
        goto out;
    }
    if (want < 0) {
        buf_appendf(err,
                    "the token's algorithm `%.40s` is not accepted (RS256, ES256, EdDSA, HS256)",
                    alg ? alg : "(none)");
        st = JWT_BAD_ALG;
        goto out;
    }
    size_t of_alg = 0, tried = 0;
    for (size_t i = 0; ks && i < ks->n; i++) {
        const struct jwt_key *k = &ks->keys[i];
        if ((int)k->alg != want)
            continue;
        of_alg++;
        if (hkid && k->kid[0] && strcmp(k->kid, hkid)) /* a key without a kid takes any */
            continue;
        tried++;
        if (verify_with(k, sig, sig_len, token, (size_t)(dot2 - token))) {
            st = check_claims(payload, check, err);
            if (st == JWT_OK) {
                *claims = payload;
                payload = NULL;
            }
            goto out;
        }
    }
    if (!of_alg) {
        buf_appendf(err, "no key of this provider verifies %s tokens", alg);
        st = JWT_BAD_ALG;
    } else if (!tried) {
        buf_appendf(err, "no key with the token's kid `%.127s`", hkid);
        st = JWT_UNKNOWN_KID;
    } else {
        buf_append_str(err, "the token's signature does not verify");
        st = JWT_BAD_SIGNATURE;
    }
out:
    vr_free(sig);
    json_decref(header);
    json_decref(payload);
    return st;
}

int jwt_peek_issuer(const char *token, size_t len, char *iss, size_t size)
{
    if (len > JWT_MAX_TOKEN || !size)
        return -1;
    const char *dot1 = memchr(token, '.', len);
    const char *dot2 = dot1 ? memchr(dot1 + 1, '.', len - (size_t)(dot1 + 1 - token)) : NULL;
    if (!dot2)
        return -1;
    json_t *payload = json_part(dot1 + 1, (size_t)(dot2 - dot1 - 1));
    const json_t *v = json_object_get(payload, "iss");
    const char *s = json_string_value(v);
    int r = -1;
    if (s && strlen(s) < size && strlen(s) == json_string_length(v)) {
        memcpy(iss, s, strlen(s) + 1);
        r = 0;
    }
    json_decref(payload);
    return r;
}

const char *jwt_status_name(enum jwt_status s)
{
    switch (s) {
    case JWT_OK: return "ok";
    case JWT_MALFORMED: return "malformed";
    case JWT_TOO_LARGE: return "too_large";
    case JWT_BAD_ALG: return "bad_alg";
    case JWT_UNKNOWN_KID: return "unknown_kid";
    case JWT_BAD_SIGNATURE: return "bad_signature";
    case JWT_EXPIRED: return "expired";
    case JWT_NOT_YET_VALID: return "not_yet_valid";
    case JWT_BAD_ISSUER: return "bad_issuer";
    case JWT_BAD_AUDIENCE: return "bad_audience";
    case JWT_BAD_CLAIMS: return "bad_claims";
    }
    return "unknown";
}
