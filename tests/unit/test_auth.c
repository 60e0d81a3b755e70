/* test_auth: token verification (src/auth/jwt.c) with keys generated per run: each algorithm
 * verifies its own tokens; `none`, algorithm confusion, unknown kid, tampering, every claim
 * check, malformed tokens and malformed or weak JWKS keys are each refused with their status.
 * And the identity made from claims (src/auth/identity.c), field by field as Convex maps them;
 * auth.config's providers (src/auth/providers.c): discovery, keys, rotation, refusals. */
#include <stdlib.h>
#include <string.h>

#include "auth/identity.h"
#include "auth/jwt.h"
#include "auth/providers.h"
#include "base/base64.h"
#include "base/buf.h"
#include "jwt_sign.h"
#include "test.h"

#include "base/banned.h"

static struct buf err = BUF_INIT(BUF_NOLIMIT);
static const double NOW = 1800000000.0;

static struct jwt_keyset *full_set(void)
{
    struct buf j = BUF_INIT(BUF_NOLIMIT);
    buf_append_str(&j, "{\"keys\":[");
    jwk_of(&j, rsa, ",\"kid\":\"r1\",\"use\":\"sig\",\"alg\":\"RS256\"");
    buf_append_str(&j, ",");
    jwk_of(&j, ec, ",\"kid\":\"e1\"");
    buf_append_str(&j, ",");
    jwk_of(&j, ed, ",\"kid\":\"d1\"");
    buf_append_str(&j, "]}");
    struct jwt_keyset *ks = jwt_keyset_new();
    size_t skipped = 9;
    buf_reset(&err);
    if (jwt_keyset_add_jwks(ks, j.data, j.len, &skipped, &err) < 0) {
        fprintf(stderr, "jwks: %s\n", err.data);
        abort();
    }
    CHECK_EQ_INT(skipped, 0);
    CHECK_EQ_INT(jwt_keyset_count(ks), 3);
    CHECK_EQ_INT(jwt_keyset_add_hmac(ks, "h1", hmac_secret, strlen(hmac_secret), &err), 0);
    buf_release(&j);
    return ks;
}

static const struct jwt_check check = { .issuer = "https://issuer.test", .audience = "app",
                                        .now = NOW, .skew = 60, .require_exp = 1 };

static enum jwt_status verify(const struct jwt_keyset *ks, const char *header,
                              const char *payload, const char *signer, const char *want_err)
{
    struct buf tok = BUF_INIT(BUF_NOLIMIT);
    make_token(&tok, header, payload, signer);
    json_t *claims = NULL;
    char kid[128];
    buf_reset(&err);
    enum jwt_status st = jwt_verify(tok.data, tok.len, ks, &check, &claims, kid, &err);
    if (st == JWT_OK)
        CHECK(json_is_object(claims));
    else
        CHECK(claims == NULL);
    if (want_err && !strstr(err.data, want_err)) {
        fprintf(stderr, "error \"%s\" lacks \"%s\"\n", err.data, want_err);
        CHECK(!"error text");
    }
    json_decref(claims);
    buf_release(&tok);
    return st;
}

#define GOOD "{\"iss\":\"https://issuer.test\",\"aud\":\"app\",\"sub\":\"u1\",\"exp\":1800000600}"

TEST(each_algorithm_verifies_its_tokens)
{
    struct jwt_keyset *ks = full_set();
    CHECK_EQ_INT(verify(ks, "{\"alg\":\"RS256\",\"kid\":\"r1\"}", GOOD, "RS256", NULL), JWT_OK);
    CHECK_EQ_INT(verify(ks, "{\"alg\":\"ES256\",\"kid\":\"e1\"}", GOOD, "ES256", NULL), JWT_OK);
    CHECK_EQ_INT(verify(ks, "{\"alg\":\"EdDSA\",\"kid\":\"d1\"}", GOOD, "EdDSA", NULL), JWT_OK);
    CHECK_EQ_INT(verify(ks, "{\"alg\":\"HS256\",\"kid\":\"h1\"}", GOOD, "HS256", NULL), JWT_OK);
    /* no kid: every key of the algorithm is tried */
    CHECK_EQ_INT(verify(ks, "{\"alg\":\"RS256\",\"typ\":\"JWT\"}", GOOD, "RS256", NULL), JWT_OK);
    /* the claims come back */
    struct buf tok = BUF_INIT(BUF_NOLIMIT);
    make_token(&tok, "{\"alg\":\"ES256\"}", GOOD, "ES256");
    json_t *claims = NULL;
    CHECK_EQ_INT(jwt_verify(tok.data, tok.len, ks, &check, &claims, NULL, &err), JWT_OK);
    CHECK_EQ_STR(json_string_value(json_object_get(claims, "sub")), "u1");
    json_decref(claims);
    buf_release(&tok);
    jwt_keyset_free(ks);
}

TEST(none_and_algorithm_confusion_are_refused)
{
    struct jwt_keyset *ks = full_set();
    CHECK_EQ_INT(verify(ks, "{\"alg\":\"none\"}", GOOD, "none", "`none` is not accepted"),
                 JWT_BAD_ALG);
    CHECK_EQ_INT(verify(ks, "{\"alg\":\"NONE\"}", GOOD, "none", NULL), JWT_BAD_ALG);
    CHECK_EQ_INT(verify(ks, "{}", GOOD, "none", "`(none)` is not accepted"), JWT_BAD_ALG);
    CHECK_EQ_INT(verify(ks, "{\"alg\":\"RS512\"}", GOOD, "RS256", NULL), JWT_BAD_ALG);
    /* the RSA public key (its PEM, as old libraries let it be used) as an HMAC secret */
    struct jwt_keyset *rsa_only = jwt_keyset_new();
    struct buf j = BUF_INIT(BUF_NOLIMIT);
    buf_append_str(&j, "{\"keys\":[");
    jwk_of(&j, rsa, "");
    buf_append_str(&j, "]}");
    CHECK_EQ_INT(jwt_keyset_add_jwks(rsa_only, j.data, j.len, NULL, &err), 0);
    CHECK_EQ_INT(verify(rsa_only, "{\"alg\":\"HS256\"}", GOOD, "HS256-pem",
                        "no key of this provider verifies HS256 tokens"),
                 JWT_BAD_ALG);
    /* with an HMAC key in the set too, the PEM-keyed MAC still does not verify */
    CHECK_EQ_INT(verify(ks, "{\"alg\":\"HS256\"}", GOOD, "HS256-pem", NULL), JWT_BAD_SIGNATURE);
    /* an RS256 signature under an ES256 header */
    CHECK_EQ_INT(verify(ks, "{\"alg\":\"ES256\"}", GOOD, "RS256", NULL), JWT_BAD_SIGNATURE);
    buf_release(&j);
    jwt_keyset_free(rsa_only);
    jwt_keyset_free(ks);
}

TEST(unknown_kid_and_tampering)
{
    struct jwt_keyset *ks = full_set();
    struct buf tok = BUF_INIT(BUF_NOLIMIT);
    make_token(&tok, "{\"alg\":\"RS256\",\"kid\":\"rotated\"}", GOOD, "RS256");
    json_t *claims = NULL;
    char kid[128];
    CHECK_EQ_INT(jwt_verify(tok.data, tok.len, ks, &check, &claims, kid, &err), JWT_UNKNOWN_KID);
    CHECK_EQ_STR(kid, "rotated");
    /* a kid of another algorithm's key */
    CHECK_EQ_INT(verify(ks, "{\"alg\":\"RS256\",\"kid\":\"e1\"}", GOOD, "RS256", NULL),
                 JWT_UNKNOWN_KID);
    /* the payload changed after signing */
    make_token(&tok, "{\"alg\":\"RS256\"}", GOOD, "RS256");
    struct buf forged = BUF_INIT(BUF_NOLIMIT);
    const char *dot1 = strchr(tok.data, '.'), *dot2 = strchr(dot1 + 1, '.');
    buf_append(&forged, tok.data, (size_t)(dot1 + 1 - tok.data));
    const char *other = "{\"iss\":\"https://issuer.test\",\"aud\":\"app\",\"sub\":\"admin\",\"exp\":1800000600}";
    base64_encode(&forged, other, strlen(other), 1);
    buf_append_str(&forged, dot2);
    CHECK_EQ_INT(jwt_verify(forged.data, forged.len, ks, &check, &claims, NULL, &err),
                 JWT_BAD_SIGNATURE);
    /* each algorithm: one bit of the signature flipped */
    const char *algs[] = { "RS256", "ES256", "EdDSA", "HS256" };
    for (int i = 0; i < 4; i++) {
        char header[64];
        snprintf(header, sizeof(header), "{\"alg\":\"%s\"}", algs[i]);
        make_token(&tok, header, GOOD, algs[i]);
        char *last = tok.data + tok.len - 3;
        *last = *last == 'A' ? 'B' : 'A';
        claims = NULL;
        CHECK_EQ_INT(jwt_verify(tok.data, tok.len, ks, &check, &claims, NULL, &err),
                     JWT_BAD_SIGNATURE);
    }
    /* an ES256 signature in DER, as OpenSSL makes it, is not JWS's r || s */
    CHECK_EQ_INT(verify(ks, "{\"alg\":\"ES256\"}", GOOD, "ES256-der", NULL), JWT_BAD_SIGNATURE);
    buf_release(&forged);
    buf_release(&tok);
    jwt_keyset_free(ks);
}

TEST(claims)
{
    struct jwt_keyset *ks = full_set();
    const char *h = "{\"alg\":\"HS256\"}";
    CHECK_EQ_INT(verify(ks, h, "{\"iss\":\"https://issuer.test\",\"aud\":\"app\",\"exp\":1799999000}",
                        "HS256", "the token expired at 2027-01-15T07:43:20Z (now 2027-01-15T08:00:00Z)"),
                 JWT_EXPIRED);
    /* within the skew */
    CHECK_EQ_INT(verify(ks, h, "{\"iss\":\"https://issuer.test\",\"aud\":\"app\",\"exp\":1799999950}",
                        "HS256", NULL),
                 JWT_OK);
    CHECK_EQ_INT(verify(ks, h, "{\"iss\":\"https://issuer.test\",\"aud\":\"app\",\"exp\":1800000600,\"nbf\":1800000300}",
                        "HS256", "not valid before"),
                 JWT_NOT_YET_VALID);
    CHECK_EQ_INT(verify(ks, h, "{\"iss\":\"https://issuer.test\",\"aud\":\"app\",\"exp\":1800000600,\"iat\":1800000300}",
                        "HS256", "issued in the future"),
                 JWT_NOT_YET_VALID);
    CHECK_EQ_INT(verify(ks, h, "{\"iss\":\"https://issuer.test\",\"aud\":\"app\"}", "HS256",
                        "has no `exp`"),
                 JWT_BAD_CLAIMS);
    CHECK_EQ_INT(verify(ks, h, "{\"iss\":\"https://issuer.test\",\"aud\":\"app\",\"exp\":\"soon\"}",
                        "HS256", "`exp` is not a time: a number of seconds"),
                 JWT_BAD_CLAIMS);
    /* a time past any Date's (it was answered as "expiresAt":inf, not JSON) */
    CHECK_EQ_INT(verify(ks, h, "{\"iss\":\"https://issuer.test\",\"aud\":\"app\",\"exp\":1e308}",
                        "HS256", "`exp` is not a time"),
                 JWT_BAD_CLAIMS);
    CHECK_EQ_INT(verify(ks, h,
                        "{\"iss\":\"https://issuer.test\",\"aud\":\"app\",\"exp\":1800000600,"
                        "\"nbf\":-1e300}",
                        "HS256", "`nbf` is not a time"),
                 JWT_BAD_CLAIMS);
    CHECK_EQ_INT(verify(ks, h, "{\"iss\":\"https://evil.test\",\"aud\":\"app\",\"exp\":1800000600}",
                        "HS256", "issuer `https://evil.test` is not `https://issuer.test`"),
                 JWT_BAD_ISSUER);
    CHECK_EQ_INT(verify(ks, h, "{\"aud\":\"app\",\"exp\":1800000600}", "HS256", "(none)"),
                 JWT_BAD_ISSUER);
    CHECK_EQ_INT(verify(ks, h, "{\"iss\":\"https://issuer.test\",\"aud\":\"other\",\"exp\":1800000600}",
                        "HS256", "does not include `app`"),
                 JWT_BAD_AUDIENCE);
    CHECK_EQ_INT(verify(ks, h, "{\"iss\":\"https://issuer.test\",\"aud\":[\"x\",\"app\"],\"exp\":1800000600}",
                        "HS256", NULL),
                 JWT_OK);
    CHECK_EQ_INT(verify(ks, h, "{\"iss\":\"https://issuer.test\",\"aud\":[\"x\",1],\"exp\":1800000600}",
                        "HS256", NULL),
                 JWT_BAD_AUDIENCE);
    jwt_keyset_free(ks);
}

static enum jwt_status raw(const struct jwt_keyset *ks, const char *token)
{
    json_t *claims = NULL;
    buf_reset(&err);
    enum jwt_status st = jwt_verify(token, strlen(token), ks, &check, &claims, NULL, &err);
    json_decref(claims);
    return st;
}

TEST(malformed_tokens)
{
    struct jwt_keyset *ks = full_set();
    struct buf tok = BUF_INIT(BUF_NOLIMIT);
    make_token(&tok, "{\"alg\":\"HS256\"}", GOOD, "HS256");
    CHECK_EQ_INT(raw(ks, tok.data), JWT_OK);
    CHECK_EQ_INT(raw(ks, ""), JWT_MALFORMED);
    CHECK_EQ_INT(raw(ks, "abc"), JWT_MALFORMED);
    CHECK_EQ_INT(raw(ks, "a.b"), JWT_MALFORMED);
    CHECK_EQ_INT(raw(ks, "a.b.c.d.e"), JWT_MALFORMED); /* JWE */
    CHECK(strstr(err.data, "encrypted tokens are not accepted"));
    CHECK_EQ_INT(raw(ks, "..."), JWT_MALFORMED);
    /* standard base64 characters and padding are not base64url */
    struct buf bad = BUF_INIT(BUF_NOLIMIT);
    buf_append(&bad, tok.data, tok.len);
    buf_append_str(&bad, "=");
    CHECK_EQ_INT(raw(ks, bad.data), JWT_MALFORMED);
    buf_reset(&bad);
    buf_append_str(&bad, "eyJhbGciOiJIUzI1NiJ9+.");
    buf_append_str(&bad, strchr(tok.data, '.') + 1);
    CHECK_EQ_INT(raw(ks, bad.data), JWT_MALFORMED);
    /* a header that is not JSON, a payload that is an array, duplicate claims */
    make_token(&tok, "{alg:HS256}", GOOD, "HS256");
    CHECK_EQ_INT(raw(ks, tok.data), JWT_MALFORMED);
    make_token(&tok, "{\"alg\":\"HS256\"}", "[1,2]", "HS256");
    CHECK_EQ_INT(raw(ks, tok.data), JWT_MALFORMED);
    make_token(&tok, "{\"alg\":\"HS256\"}",
               "{\"iss\":\"https://issuer.test\",\"aud\":\"app\",\"exp\":1800000600,\"sub\":\"a\",\"sub\":\"b\"}",
               "HS256");
    CHECK_EQ_INT(raw(ks, tok.data), JWT_MALFORMED);
    make_token(&tok, "{\"alg\":\"HS256\",\"crit\":[\"b64\"],\"b64\":false}", GOOD, "HS256");
    CHECK_EQ_INT(raw(ks, tok.data), JWT_MALFORMED);
    CHECK(strstr(err.data, "`crit`"));
    make_token(&tok, "{\"alg\":\"HS256\",\"kid\":7}", GOOD, "HS256");
    CHECK_EQ_INT(raw(ks, tok.data), JWT_MALFORMED);
    /* too large: refused before it is read */
    char *big = malloc(JWT_MAX_TOKEN + 2);
    memset(big, 'a', JWT_MAX_TOKEN + 1);
    big[JWT_MAX_TOKEN + 1] = '\0';
    CHECK_EQ_INT(raw(ks, big), JWT_TOO_LARGE);
    free(big);
    /* no key set at all */
    make_token(&tok, "{\"alg\":\"HS256\"}", GOOD, "HS256");
    CHECK_EQ_INT(raw(NULL, tok.data), JWT_BAD_ALG);
    buf_release(&bad);
    buf_release(&tok);
    jwt_keyset_free(ks);
}

static int add(struct jwt_keyset *ks, const char *jwks, size_t *skipped)
{
    buf_reset(&err);
    return jwt_keyset_add_jwks(ks, jwks, strlen(jwks), skipped, &err);
}

TEST(jwks_keys)
{
    struct jwt_keyset *ks = jwt_keyset_new();
    size_t skipped = 0;
    /* keys of other uses, types, curves and algorithms are skipped, not errors */
    CHECK_EQ_INT(add(ks, "{\"keys\":[{\"kty\":\"oct\",\"k\":\"AAAA\"},"
                         "{\"kty\":\"RSA\",\"use\":\"enc\",\"n\":\"AQAB\",\"e\":\"AQAB\"},"
                         "{\"kty\":\"RSA\",\"alg\":\"RS512\",\"n\":\"AQAB\",\"e\":\"AQAB\"},"
                         "{\"kty\":\"EC\",\"crv\":\"P-384\",\"x\":\"AA\",\"y\":\"AA\"}]}",
                     &skipped),
                 0);
    CHECK_EQ_INT(skipped, 4);
    CHECK_EQ_INT(jwt_keyset_count(ks), 0);
    CHECK_EQ_INT(add(ks, "[]", NULL), -1);
    CHECK(strstr(err.data, "not a JWKS document"));
    CHECK_EQ_INT(add(ks, "{\"keys\":[{\"n\":\"AQAB\"}]}", NULL), -1);
    CHECK(strstr(err.data, "no string `kty`"));
    CHECK_EQ_INT(add(ks, "{\"keys\":[1]}", NULL), -1);
    /* a 1024-bit RSA key is refused */
    struct buf j = BUF_INIT(BUF_NOLIMIT);
    buf_append_str(&j, "{\"keys\":[");
    jwk_of(&j, rsa_small, "");
    buf_append_str(&j, "]}");
    CHECK_EQ_INT(add(ks, j.data, NULL), -1);
    CHECK(strstr(err.data, "has 1024 bits; at least 2048"));
    /* a public exponent of 1 (any message is its own signature) or an even one is refused;
     * 3 is taken */
    const char *exps[] = {"AQ", "Ag", "AAE", "Aw"};
    for (size_t i = 0; i < 4; i++) {
        buf_reset(&j);
        buf_append_str(&j, "{\"keys\":[");
        jwk_of(&j, rsa, "");
        buf_append_str(&j, "]}");
        char *e = strstr(j.data, "\"e\":\"AQAB\"");
        CHECK(e != NULL);
        struct buf k2 = BUF_INIT(BUF_NOLIMIT);
        buf_append(&k2, j.data, (size_t)(e - j.data));
        buf_appendf(&k2, "\"e\":\"%s\"%s", exps[i], e + strlen("\"e\":\"AQAB\""));
        struct jwt_keyset *one = jwt_keyset_new();
        int r = add(one, k2.data, NULL);
        if (i < 3) {
            CHECK_EQ_INT(r, -1);
            CHECK(strstr(err.data, "public exponent `e` must be odd, at least 3"));
        } else {
            CHECK_EQ_INT(r, 0);
            CHECK_EQ_INT(jwt_keyset_count(one), 1);
        }
        jwt_keyset_free(one);
        buf_release(&k2);
    }
    /* an EC point off the curve: y changed */
    buf_reset(&j);
    buf_append_str(&j, "{\"keys\":[");
    jwk_of(&j, ec, "");
    buf_append_str(&j, "]}");
    char *y = strstr(j.data, "\"y\":\"") + 5;
    *y = *y == 'A' ? 'B' : 'A';
    CHECK_EQ_INT(add(ks, j.data, NULL), -1);
    CHECK(strstr(err.data, "not on the P-256 curve"));
    /* an empty member (decodes to nothing: refused, its buffer freed — a leak the fuzzer found) */
    CHECK_EQ_INT(add(ks, "{\"keys\":[{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"\"}]}", NULL), -1);
    CHECK(strstr(err.data, "member `x` is not base64url"));
    /* a bad coordinate length */
    CHECK_EQ_INT(add(ks, "{\"keys\":[{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"AAAA\"}]}", NULL), -1);
    CHECK(strstr(err.data, "holds 3 bytes, not 32"));
    /* a failed document adds none of its keys, even the good ones before the bad one */
    buf_reset(&j);
    buf_append_str(&j, "{\"keys\":[");
    jwk_of(&j, ed, "");
    buf_append_str(&j, ",{\"kty\":\"RSA\",\"n\":\"!!\",\"e\":\"AQAB\"}]}");
    CHECK_EQ_INT(add(ks, j.data, NULL), -1);
    CHECK_EQ_INT(jwt_keyset_count(ks), 0);
    /* at most JWT_MAX_KEYS */
    buf_reset(&j);
    buf_append_str(&j, "{\"keys\":[");
    for (int i = 0; i <= JWT_MAX_KEYS; i++)
        buf_append_str(&j, i ? ",{\"kty\":\"oct\"}" : "{\"kty\":\"oct\"}");
    buf_append_str(&j, "]}");
    CHECK_EQ_INT(add(ks, j.data, NULL), -1);
    /* HMAC secrets shorter than 32 bytes */
    buf_reset(&err);
    CHECK_EQ_INT(jwt_keyset_add_hmac(ks, NULL, "short", 5, &err), -1);
    CHECK(strstr(err.data, "at least 32 bytes"));
    buf_release(&j);
    jwt_keyset_free(ks);
}

TEST(status_names)
{
    CHECK_EQ_STR(jwt_status_name(JWT_EXPIRED), "expired");
    CHECK_EQ_STR(jwt_status_name(JWT_UNKNOWN_KID), "unknown_kid");
}

TEST(identity_from_claims)
{
    json_t *claims = json_loads(
        "{\"iss\":\"https://issuer.test\",\"sub\":\"user|42\",\"aud\":\"app\",\"exp\":1,"
        "\"iat\":1,\"nbf\":1,\"jti\":\"j\",\"name\":\"Ada\",\"given_name\":\"Ada\","
        "\"family_name\":\"Lovelace\",\"email\":\"ada@example.com\",\"email_verified\":true,"
        "\"picture\":\"https://p\",\"locale\":\"en\",\"zoneinfo\":\"Europe/London\","
        "\"updated_at\":1700000000,\"address\":{\"country\":\"UK\"},\"phone_number_verified\":false,"
        "\"org\":\"acme\",\"roles\":[\"admin\"]}",
        0, NULL);
    json_t *id = NULL;
    buf_reset(&err);
    CHECK_EQ_INT(auth_identity(claims, &id, &err), 0);
    char *text = json_dumps(id, JSON_COMPACT | JSON_SORT_KEYS);
    CHECK_EQ_STR(text,
                 "{\"address\":\"{\\\"country\\\":\\\"UK\\\"}\",\"email\":\"ada@example.com\","
                 "\"emailVerified\":true,\"familyName\":\"Lovelace\",\"givenName\":\"Ada\","
                 "\"issuer\":\"https://issuer.test\",\"language\":\"en\",\"name\":\"Ada\","
                 "\"org\":\"acme\",\"phoneNumberVerified\":false,\"pictureUrl\":\"https://p\","
                 "\"roles\":[\"admin\"],\"subject\":\"user|42\",\"timezone\":\"Europe/London\","
                 "\"tokenIdentifier\":\"https://issuer.test|user|42\",\"updatedAt\":\"1700000000\"}");
    free(text);
    json_decref(id);
    json_decref(claims);
    /* no sub, no iss, an empty one */
    const char *bad[] = { "{\"iss\":\"x\"}", "{\"sub\":\"x\"}", "{\"iss\":\"x\",\"sub\":\"\"}",
                          "{\"iss\":\"x\",\"sub\":7}" };
    for (int i = 0; i < 4; i++) {
        claims = json_loads(bad[i], 0, NULL);
        buf_reset(&err);
        CHECK_EQ_INT(auth_identity(claims, &id, &err), -1);
        CHECK(id == NULL);
        CHECK(strstr(err.data, "an identity needs both `iss` and `sub`"));
        json_decref(claims);
    }
}

static struct auth_providers *providers(const char *config)
{
    struct auth_providers *p = NULL;
    buf_reset(&err);
    if (auth_providers_new(config, strlen(config), &p, &err) < 0)
        return NULL;
    return p;
}

TEST(provider_config_errors)
{
    struct {
        const char *config, *msg;
    } bad[] = {
        { "[]", "must be {providers: [...]}" },
        { "{\"providers\":{}}", "must be {providers: [...]}" },
        { "{\"providers\":[1]}", "providers[0] is not an object" },
        { "{\"providers\":[{\"domain\":\"https://a\"}]}", "needs `applicationID`" },
        { "{\"providers\":[{\"domain\":\"ftp://a\",\"applicationID\":\"x\"}]}", "needs `domain`" },
        { "{\"providers\":[{\"type\":\"saml\"}]}", "unknown type `saml`" },
        { "{\"providers\":[{\"type\":\"customJwt\",\"issuer\":\"i\",\"algorithm\":\"RS256\"}]}",
          "needs `jwks`" },
        { "{\"providers\":[{\"type\":\"customJwt\",\"issuer\":\"i\",\"jwks\":\"https://j\","
          "\"algorithm\":\"HS256\"}]}",
          "`algorithm` must be" },
        { "{\"providers\":[{\"type\":\"customJwt\",\"jwks\":\"https://j\",\"algorithm\":\"RS256\"}]}",
          "needs `issuer`" },
        { "{\"providers\":[{\"domain\":\"https://a\",\"applicationID\":5}]}", "must be a string" },
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        CHECK(providers(bad[i].config) == NULL);
        if (!strstr(err.data, bad[i].msg)) {
            fprintf(stderr, "config %zu: \"%s\" lacks \"%s\"\n", i, err.data, bad[i].msg);
            CHECK(!"message");
        }
    }
    struct buf many = BUF_INIT(BUF_NOLIMIT);
    buf_append_str(&many, "{\"providers\":[");
    for (int i = 0; i <= AUTH_MAX_PROVIDERS; i++)
        buf_appendf(&many, "%s{\"domain\":\"https://a\",\"applicationID\":\"x\"}", i ? "," : "");
    buf_append_str(&many, "]}");
    CHECK(providers(many.data) == NULL);
    CHECK(strstr(err.data, "at most 16"));
    buf_release(&many);
    struct auth_providers *none = providers("{}");
    CHECK(none && auth_providers_count(none) == 0);
    auth_providers_free(none);
}

static enum auth_status pverify(struct auth_providers *p, double now, const char *header,
                                const char *payload, const char *signer, size_t *which,
                                json_t **identity)
{
    struct buf tok = BUF_INIT(BUF_NOLIMIT);
    make_token(&tok, header, payload, signer);
    json_t *id = NULL;
    buf_reset(&err);
    enum auth_status st = auth_providers_verify(p, tok.data, tok.len, now, &id, NULL, which, NULL, &err);
    if (identity)
        *identity = id;
    else
        json_decref(id);
    buf_release(&tok);
    return st;
}

TEST(oidc_provider_discovery_keys_rotation)
{
    struct auth_providers *p =
        providers("{\"providers\":[{\"domain\":\"https://issuer.test\",\"applicationID\":\"app\"}]}");
    CHECK(p != NULL);
    const char *tok_payload = "{\"iss\":\"https://issuer.test/\",\"aud\":\"app\",\"sub\":\"u1\","
                              "\"exp\":1800000600,\"email\":\"u1@example.com\"}";
    size_t which = 99;
    int disc = 0;
    /* nothing fetched yet: the discovery document first */
    CHECK_EQ_INT(pverify(p, NOW, "{\"alg\":\"RS256\",\"kid\":\"r1\"}", tok_payload, "RS256", &which, NULL),
                 AUTH_NEED_KEYS);
    CHECK_EQ_INT(which, 0);
    CHECK_EQ_STR(auth_provider_fetch_url(p, 0, &disc), "https://issuer.test/.well-known/openid-configuration");
    CHECK_EQ_INT(disc, 1);
    const char *other = "{\"issuer\":\"https://evil.test\",\"jwks_uri\":\"https://issuer.test/jwks\"}";
    buf_reset(&err);
    CHECK_EQ_INT(auth_provider_set_discovery(p, 0, other, strlen(other), &err), -1);
    CHECK(strstr(err.data, "names another issuer, `https://evil.test`"));
    const char *good = "{\"issuer\":\"https://issuer.test/\",\"jwks_uri\":\"https://issuer.test/jwks\"}";
    CHECK_EQ_INT(auth_provider_set_discovery(p, 0, good, strlen(good), &err), 0);
    CHECK_EQ_STR(auth_provider_fetch_url(p, 0, &disc), "https://issuer.test/jwks");
    CHECK_EQ_INT(disc, 0);
    /* a failed fetch: refused for AUTH_RETRY_S, then asked again */
    auth_provider_fetch_failed(p, 0, NOW);
    CHECK_EQ_INT(pverify(p, NOW + 1, "{\"alg\":\"RS256\"}", tok_payload, "RS256", &which, NULL),
                 AUTH_UNAVAILABLE);
    CHECK(strstr(err.data, "could not be fetched"));
    CHECK_EQ_INT(pverify(p, NOW + AUTH_RETRY_S, "{\"alg\":\"RS256\"}", tok_payload, "RS256", &which, NULL),
                 AUTH_NEED_KEYS);
    struct buf j = BUF_INIT(BUF_NOLIMIT);
    buf_append_str(&j, "{\"keys\":[");
    jwk_of(&j, rsa, ",\"kid\":\"r1\"");
    buf_append_str(&j, "]}");
    CHECK_EQ_INT(auth_provider_set_keys(p, 0, j.data, j.len, NOW, &err), 0);
    json_t *id = NULL;
    CHECK_EQ_INT(pverify(p, NOW, "{\"alg\":\"RS256\",\"kid\":\"r1\"}", tok_payload, "RS256", &which, &id),
                 AUTH_OK);
    CHECK_EQ_STR(json_string_value(json_object_get(id, "tokenIdentifier")), "https://issuer.test/|u1");
    CHECK_EQ_STR(json_string_value(json_object_get(id, "email")), "u1@example.com");
    json_decref(id);
    /* a new kid right after a fetch: refused; a minute later: fetch again */
    CHECK_EQ_INT(pverify(p, NOW + 1, "{\"alg\":\"ES256\",\"kid\":\"e2\"}", tok_payload, "ES256", &which, NULL),
                 AUTH_REFUSED);
    CHECK_EQ_INT(pverify(p, NOW + 1, "{\"alg\":\"RS256\",\"kid\":\"r2\"}", tok_payload, "RS256", &which, NULL),
                 AUTH_REFUSED);
    CHECK(strstr(err.data, "no key with the token's kid `r2`"));
    CHECK_EQ_INT(pverify(p, NOW + AUTH_REFRESH_MIN_S, "{\"alg\":\"RS256\",\"kid\":\"r2\"}", tok_payload,
                         "RS256", &which, NULL),
                 AUTH_NEED_KEYS);
    /* a bad JWKS keeps the old keys */
    CHECK_EQ_INT(auth_provider_set_keys(p, 0, "{}", 2, NOW + 61, &err), -1);
    CHECK_EQ_INT(pverify(p, NOW + 62, "{\"alg\":\"RS256\",\"kid\":\"r1\"}", tok_payload, "RS256", &which, NULL),
                 AUTH_OK);
    /* the audience, an unknown issuer */
    CHECK_EQ_INT(pverify(p, NOW, "{\"alg\":\"RS256\"}",
                         "{\"iss\":\"https://issuer.test\",\"aud\":\"other\",\"sub\":\"u\",\"exp\":1800000600}",
                         "RS256", &which, NULL),
                 AUTH_REFUSED);
    CHECK(strstr(err.data, "does not include `app`"));
    CHECK_EQ_INT(pverify(p, NOW, "{\"alg\":\"RS256\"}",
                         "{\"iss\":\"https://elsewhere.test\",\"aud\":\"app\",\"sub\":\"u\",\"exp\":1800000600}",
                         "RS256", &which, NULL),
                 AUTH_REFUSED);
    CHECK(strstr(err.data, "no auth provider is configured for the issuer `https://elsewhere.test`"));
    buf_release(&j);
    auth_providers_free(p);
}

TEST(custom_jwt_and_secret_providers)
{
    struct auth_providers *p = providers(
        "{\"providers\":[{\"type\":\"customJwt\",\"issuer\":\"https://issuer.test\","
        "\"jwks\":\"http://127.0.0.1:9/jwks\",\"algorithm\":\"ES256\"}]}");
    CHECK(p != NULL);
    int disc = 1;
    CHECK_EQ_STR(auth_provider_fetch_url(p, 0, &disc), "http://127.0.0.1:9/jwks");
    CHECK_EQ_INT(disc, 0);
    struct buf j = BUF_INIT(BUF_NOLIMIT);
    buf_append_str(&j, "{\"keys\":[");
    jwk_of(&j, ec, "");
    buf_append_str(&j, ",");
    jwk_of(&j, rsa, "");
    buf_append_str(&j, "]}");
    CHECK_EQ_INT(auth_provider_set_keys(p, 0, j.data, j.len, NOW, &err), 0);
    size_t which;
    /* no applicationID: any audience */
    CHECK_EQ_INT(pverify(p, NOW, "{\"alg\":\"ES256\"}", GOOD, "ES256", &which, NULL), AUTH_OK);
    /* the JWKS has an RSA key too, but this provider takes ES256 only */
    CHECK_EQ_INT(pverify(p, NOW, "{\"alg\":\"RS256\"}", GOOD, "RS256", &which, NULL), AUTH_REFUSED);
    CHECK(strstr(err.data, "accepts only ES256"));
    auth_providers_free(p);
    /* --jwt-secret */
    p = providers("{}");
    buf_reset(&err);
    CHECK_EQ_INT(auth_providers_add_secret(p, NULL, NULL, hmac_secret, strlen(hmac_secret), &err), 0);
    CHECK_EQ_INT(pverify(p, NOW, "{\"alg\":\"HS256\"}", GOOD, "HS256", &which, NULL), AUTH_OK);
    CHECK_EQ_INT(pverify(p, NOW, "{\"alg\":\"HS256\"}", "{\"iss\":\"x\",\"exp\":1800000600}", "HS256",
                         &which, NULL),
                 AUTH_REFUSED);
    CHECK(strstr(err.data, "needs both `iss` and `sub`"));
    CHECK_EQ_INT(pverify(p, NOW, "{\"alg\":\"none\"}", GOOD, "none", &which, NULL), AUTH_REFUSED);
    CHECK_EQ_INT(auth_providers_add_secret(p, NULL, NULL, "short", 5, &err), -1);
    buf_release(&j);
    auth_providers_free(p);
}

TEST_MAIN()
