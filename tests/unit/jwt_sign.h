/* jwt_sign.h: keys generated per run (RSA 2048 and 1024, EC P-256, Ed25519, an HMAC secret),
 * their JWKs, and tokens signed with them, for the auth unit tests (test_auth, test_auth_keys).
 * Header-only, as net_client.h. */
#ifndef VR_TESTS_JWT_SIGN_H
#define VR_TESTS_JWT_SIGN_H

#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <stdlib.h>
#include <string.h>

#include "base/base64.h"
#include "base/buf.h"

static EVP_PKEY *rsa, *rsa_small, *ec, *ed;
static const char hmac_secret[] = "0123456789abcdef0123456789abcdef-test-secret";

static void b64(struct buf *out, const void *p, size_t n)
{
    base64_encode(out, p, n, 1);
}

static void bn_b64(struct buf *out, EVP_PKEY *k, const char *param, int pad)
{
    BIGNUM *bn = NULL;
    if (!EVP_PKEY_get_bn_param(k, param, &bn))
        abort();
    unsigned char raw[1024];
    int n = pad ? BN_bn2binpad(bn, raw, pad) : BN_bn2bin(bn, raw);
    b64(out, raw, (size_t)n);
    BN_free(bn);
}

/* {"kty":..., ...} of a public key; `extra` members are appended (",\"kid\":\"a\"") */
static void jwk_of(struct buf *out, EVP_PKEY *k, const char *extra)
{
    if (EVP_PKEY_is_a(k, "RSA")) {
        buf_append_str(out, "{\"kty\":\"RSA\",\"n\":\"");
        bn_b64(out, k, OSSL_PKEY_PARAM_RSA_N, 0);
        buf_append_str(out, "\",\"e\":\"");
        bn_b64(out, k, OSSL_PKEY_PARAM_RSA_E, 0);
    } else if (EVP_PKEY_is_a(k, "EC")) {
        buf_append_str(out, "{\"kty\":\"EC\",\"crv\":\"P-256\",\"x\":\"");
        bn_b64(out, k, OSSL_PKEY_PARAM_EC_PUB_X, 32);
        buf_append_str(out, "\",\"y\":\"");
        bn_b64(out, k, OSSL_PKEY_PARAM_EC_PUB_Y, 32);
    } else {
        unsigned char raw[32];
        size_t n = sizeof(raw);
        if (!EVP_PKEY_get_raw_public_key(k, raw, &n))
            abort();
        buf_append_str(out, "{\"kty\":\"OKP\",\"crv\":\"Ed25519\",\"x\":\"");
        b64(out, raw, n);
    }
    buf_appendf(out, "\"%s}", extra);
}

/* alg: the header's; signer: how the signature is made ("RS256", "ES256", "EdDSA", "HS256",
 * "HS256-pem" (keyed with the RSA public key's PEM), "ES256-der", "none") */
static void make_token(struct buf *out, const char *header, const char *payload, const char *signer)
{
    buf_reset(out);
    b64(out, header, strlen(header));
    buf_append_str(out, ".");
    b64(out, payload, strlen(payload));
    size_t signed_len = out->len;
    unsigned char sig[1024];
    size_t sig_len = sizeof(sig);
    if (!strcmp(signer, "none")) {
        sig_len = 0;
    } else if (!strncmp(signer, "HS256", 5)) {
        const void *key = hmac_secret;
        int klen = (int)strlen(hmac_secret);
        char *pem = NULL;
        if (!strcmp(signer, "HS256-pem")) {
            BIO *bio = BIO_new(BIO_s_mem());
            PEM_write_bio_PUBKEY(bio, rsa);
            long n = BIO_get_mem_data(bio, &pem);
            key = pem = strndup(pem, (size_t)n);
            klen = (int)n;
            BIO_free(bio);
        }
        unsigned int n = 0;
        HMAC(EVP_sha256(), key, klen, (const unsigned char *)out->data, signed_len, sig, &n);
        sig_len = n;
        free(pem);
    } else {
        EVP_PKEY *k = !strcmp(signer, "RS256") ? rsa : !strcmp(signer, "EdDSA") ? ed : ec;
        EVP_MD_CTX *m = EVP_MD_CTX_new();
        if (EVP_DigestSignInit(m, NULL, k == ed ? NULL : EVP_sha256(), NULL, k) != 1 ||
            EVP_DigestSign(m, sig, &sig_len, (const unsigned char *)out->data, signed_len) != 1)
            abort();
        EVP_MD_CTX_free(m);
        if (!strcmp(signer, "ES256")) { /* DER -> r || s */
            const unsigned char *p = sig;
            ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &p, (long)sig_len);
            BN_bn2binpad(ECDSA_SIG_get0_r(es), sig, 32);
            BN_bn2binpad(ECDSA_SIG_get0_s(es), sig + 32, 32);
            sig_len = 64;
            ECDSA_SIG_free(es);
        }
    }
    buf_append_str(out, ".");
    b64(out, sig, sig_len);
}

__attribute__((constructor(200))) static void make_keys(void)
{
    rsa = EVP_RSA_gen(2048);
    rsa_small = EVP_RSA_gen(1024);
    ec = EVP_EC_gen("P-256");
    ed = EVP_PKEY_Q_keygen(NULL, NULL, "ED25519");
    if (!rsa || !rsa_small || !ec || !ed)
        abort();
}

#endif
