/* fuzz_jwt: libFuzzer target for token verification (src/auth/jwt.c). The first byte picks
 * what the rest is: a token verified against a fixed key set (an HS256 secret and an Ed25519
 * key), or a JWKS document added to a fresh set. Neither may crash, leak or accept a token the
 * fixed set cannot have signed (only the seed's known-good HS256 token verifies). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "auth/jwt.h"
#include "base/buf.h"

#include "base/banned.h"

static const char secret[] = "fuzz-secret-0123456789abcdef-0123456789";
/* RFC 8037 §A.2's Ed25519 public key */
static const char jwks[] =
    "{\"keys\":[{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"kid\":\"ed\","
    "\"x\":\"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo\"}]}";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct jwt_keyset *fixed;
    struct buf err = BUF_INIT(BUF_NOLIMIT);
    if (!fixed) {
        fixed = jwt_keyset_new();
        if (jwt_keyset_add_hmac(fixed, "hs", secret, strlen(secret), &err) < 0 ||
            jwt_keyset_add_jwks(fixed, jwks, strlen(jwks), NULL, &err) < 0)
            abort();
    }
    if (size < 1)
        return 0;
    const char *in = (const char *)data + 1;
    size_t n = size - 1;
    if (data[0] & 1) {
        struct jwt_keyset *ks = jwt_keyset_new();
        size_t skipped = 0;
        jwt_keyset_add_jwks(ks, in, n, &skipped, &err);
        if (jwt_keyset_count(ks) > JWT_MAX_KEYS)
            abort();
        jwt_keyset_free(ks);
    } else {
        struct jwt_check c = { .issuer = "https://issuer.test", .audience = "app",
                               .now = 1800000000.0, .skew = 60 };
        json_t *claims = NULL;
        char kid[128];
        enum jwt_status st = jwt_verify(in, n, fixed, &c, &claims, kid, &err);
        if ((st == JWT_OK) != (claims != NULL) || strlen(kid) >= 128)
            abort();
        json_decref(claims);
    }
    buf_release(&err);
    return 0;
}
