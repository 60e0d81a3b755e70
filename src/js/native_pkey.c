/* native_pkey: the OpenSSL side of crypto.subtle's asymmetric keys (58_crypto.js): RSA
 * (RSASSA-PKCS1-v1_5, RSA-PSS) and ECDSA on P-256/P-384/P-521. The prelude keeps a CryptoKey's
 * material as DER (SubjectPublicKeyInfo or PKCS #8) and every call here parses it again, so no
 * OpenSSL object outlives a call and nothing needs a finalizer. Errors are thrown as Errors whose
 * `code` is the DOMException name the prelude raises (DataError, NotSupportedError,
 * OperationError). Inputs are bounded by the JS memory limit; OpenSSL bounds RSA moduli it
 * verifies (16,384 bits) and generateKey is capped at PKEY_RSA_MAX_BITS. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/x509.h>

#include "base/mem.h"
#include "js/js_int.h"

#include "base/banned.h"

#define PKEY_RSA_MIN_BITS 512
#define PKEY_RSA_MAX_BITS 8192 /* generateKey only: a bigger one takes minutes */
#define PKEY_PARTS_MAX 8       /* n, e, d, p, q, dp, dq, qi */
#define PKEY_PART_MAX 4096     /* bytes of one JWK member: a 32,768-bit number */

static JSValueRef fail(JSContextRef ctx, JSValueRef *exc, const char *code, const char *msg)
{
    *exc = js_make_error(ctx, code, msg);
    return JSValueMakeUndefined(ctx);
}

/* Argument i as a C string in buf (empty when it is not a string). */
static void str_arg(JSContextRef ctx, size_t argc, const JSValueRef argv[], size_t i, char *buf,
                    size_t size)
{
    buf[0] = 0;
    if (i < argc && JSValueIsString(ctx, argv[i])) {
        JSStringRef s = JSValueToStringCopy(ctx, argv[i], NULL);
        if (s) {
            JSStringGetUTF8CString(s, buf, size);
            JSStringRelease(s);
        }
    }
}

/* The bytes of argument i if it is a Uint8Array (any offset), else NULL with *len 0. */
static const unsigned char *bytes_arg(JSContextRef ctx, size_t argc, const JSValueRef argv[],
                                      size_t i, size_t *len)
{
    *len = 0;
    return i < argc ? js_u8_bytes(ctx, argv[i], len) : NULL;
}

static void free_bytes(void *bytes, void *ctx)
{
    (void)ctx;
    OPENSSL_free(bytes);
}

/* An ArrayBuffer that takes ownership of p (OPENSSL_malloc'd); NULL (p freed) on failure. */
static JSValueRef take_buffer(JSContextRef ctx, unsigned char *p, size_t len, JSValueRef *exc)
{
    JSObjectRef ab = JSObjectMakeArrayBufferWithBytesNoCopy(ctx, p, len, free_bytes, NULL, exc);
    if (!ab)
        OPENSSL_free(p);
    return ab;
}

static JSValueRef copy_buffer(JSContextRef ctx, const unsigned char *p, size_t len,
                              JSValueRef *exc)
{
    unsigned char *copy = OPENSSL_malloc(len ? len : 1);
    if (!copy)
        return NULL;
    if (len)
        memcpy(copy, p, len);
    return take_buffer(ctx, copy, len, exc);
}

/* A big number as an ArrayBuffer, big-endian, left-padded to `pad` bytes (0: minimal). */
static JSValueRef bn_buffer(JSContextRef ctx, const BIGNUM *bn, int pad, JSValueRef *exc)
{
    int n = pad ? pad : BN_num_bytes(bn);
    unsigned char *p = OPENSSL_malloc(n ? (size_t)n : 1);
    if (!p || BN_bn2binpad(bn, p, n) < 0) {
        OPENSSL_free(p);
        return NULL;
    }
    return take_buffer(ctx, p, (size_t)n, exc);
}

static const char *curve_group(const char *curve)
{
    return !strcmp(curve, "P-256")   ? "prime256v1"
           : !strcmp(curve, "P-384") ? "secp384r1"
           : !strcmp(curve, "P-521") ? "secp521r1"
                                     : NULL;
}

static const char *group_curve(const char *group)
{
    return !strcmp(group, "prime256v1")  ? "P-256"
           : !strcmp(group, "P-256")     ? "P-256"
           : !strcmp(group, "secp384r1") ? "P-384"
           : !strcmp(group, "P-384")     ? "P-384"
           : !strcmp(group, "secp521r1") ? "P-521"
           : !strcmp(group, "P-521")     ? "P-521"
                                         : NULL;
}

static const EVP_MD *md_named(const char *name)
{
    return !strcmp(name, "SHA-1")     ? EVP_sha1()
           : !strcmp(name, "SHA-256") ? EVP_sha256()
           : !strcmp(name, "SHA-384") ? EVP_sha384()
           : !strcmp(name, "SHA-512") ? EVP_sha512()
                                      : NULL;
}

static int is_rsa(const EVP_PKEY *k)
{
    return EVP_PKEY_is_a(k, "RSA") || EVP_PKEY_is_a(k, "RSA-PSS");
}

/* Parses DER of the given kind: SubjectPublicKeyInfo, or PKCS #8 when private. The whole input
 * must be one structure. */
static EVP_PKEY *parse_der(const unsigned char *der, size_t len, int private)
{
    const unsigned char *p = der;
    EVP_PKEY *k = NULL;
    if (len > LONG_MAX)
        return NULL;
    if (private) {
        PKCS8_PRIV_KEY_INFO *p8 = d2i_PKCS8_PRIV_KEY_INFO(NULL, &p, (long)len);
        if (p8 && p == der + len)
            k = EVP_PKCS82PKEY(p8);
        PKCS8_PRIV_KEY_INFO_free(p8);
    } else {
        k = d2i_PUBKEY(NULL, &p, (long)len);
        if (k && p != der + len) {
            EVP_PKEY_free(k);
            k = NULL;
        }
    }
    return k;
}

/* [type, der, modulusLength | namedCurve, publicExponent | undefined] for the prelude's
 * CryptoKey: the key re-encoded (its canonical DER) as the prelude keeps it. */
static JSValueRef describe(JSContextRef ctx, EVP_PKEY *k, int private, JSValueRef *exc)
{
    unsigned char *der = NULL;
    int n = -1;
    if (private) {
        PKCS8_PRIV_KEY_INFO *p8 = EVP_PKEY2PKCS8(k);
        if (p8)
            n = i2d_PKCS8_PRIV_KEY_INFO(p8, &der);
        PKCS8_PRIV_KEY_INFO_free(p8);
    } else {
        n = i2d_PUBKEY(k, &der);
    }
    if (n < 0)
        return fail(ctx, exc, "DataError", "Invalid keyData");
    JSValueRef items[4];
    JSStringRef t = JSStringCreateWithUTF8CString(private ? "private" : "public");
    items[0] = JSValueMakeString(ctx, t);
    JSStringRelease(t);
    items[1] = take_buffer(ctx, der, (size_t)n, exc);
    if (!items[1])
        return JSValueMakeUndefined(ctx);
    items[3] = JSValueMakeUndefined(ctx);
    if (is_rsa(k)) {
        BIGNUM *e = NULL;
        items[2] = JSValueMakeNumber(ctx, EVP_PKEY_get_bits(k));
        if (EVP_PKEY_get_bn_param(k, OSSL_PKEY_PARAM_RSA_E, &e) != 1)
            return fail(ctx, exc, "DataError", "Invalid keyData");
        items[3] = bn_buffer(ctx, e, 0, exc);
        BN_free(e);
        if (!items[3])
            return JSValueMakeUndefined(ctx);
    } else {
        char group[64] = "";
        size_t glen = 0;
        const char *curve = NULL;
        if (EVP_PKEY_get_utf8_string_param(k, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof group,
                                           &glen) == 1)
            curve = group_curve(group);
        if (!curve)
            return fail(ctx, exc, "NotSupportedError", "Unrecognized namedCurve");
        JSStringRef c = JSStringCreateWithUTF8CString(curve);
        items[2] = JSValueMakeString(ctx, c);
        JSStringRelease(c);
    }
    return JSObjectMakeArray(ctx, 4, items, exc);
}

/* Checks that k is of the kind ("RSA" or "EC", on `curve`) the algorithm wants. */
static int check_kind(JSContextRef ctx, EVP_PKEY *k, const char *kind, const char *curve,
                      JSValueRef *exc)
{
    if (!strcmp(kind, "RSA") ? !is_rsa(k) : !EVP_PKEY_is_a(k, "EC")) {
        fail(ctx, exc, "DataError", "Invalid key type");
        return -1;
    }
    if (!strcmp(kind, "EC")) {
        char group[64] = "";
        size_t glen = 0;
        const char *have = NULL;
        if (EVP_PKEY_get_utf8_string_param(k, OSSL_PKEY_PARAM_GROUP_NAME, group, sizeof group,
                                           &glen) == 1)
            have = group_curve(group);
        if (!have || strcmp(have, curve)) {
            fail(ctx, exc, "DataError", "Named curve mismatch");
            return -1;
        }
    }
    return 0;
}

/* Builds a key from parameters (JWK parts or a raw EC point); NULL when OpenSSL refuses them. */
static EVP_PKEY *from_params(const char *kind, OSSL_PARAM *params, int private)
{
    EVP_PKEY *k = NULL;
    EVP_PKEY_CTX *pc = EVP_PKEY_CTX_new_from_name(NULL, kind, NULL);
    if (!pc || EVP_PKEY_fromdata_init(pc) != 1 ||
        EVP_PKEY_fromdata(pc, &k, private ? EVP_PKEY_KEYPAIR : EVP_PKEY_PUBLIC_KEY, params) != 1)
        k = NULL;
    EVP_PKEY_CTX_free(pc);
    if (!k)
        return NULL;
    /* the parts must make one key: a point on the curve, a private part that matches */
    EVP_PKEY_CTX *cc = EVP_PKEY_CTX_new_from_pkey(NULL, k, NULL);
    int ok = cc && (private ? EVP_PKEY_pairwise_check(cc) : EVP_PKEY_public_check(cc)) == 1;
    EVP_PKEY_CTX_free(cc);
    if (!ok) {
        EVP_PKEY_free(k);
        return NULL;
    }
    return k;
}

/* native.pkeyImport(kind, curve, format, u8) -> describe(): format "spki", "pkcs8" or "raw"
 * (an EC public point). */
static JSValueRef n_pkey_import(JSContextRef ctx, JSObjectRef fn, JSObjectRef self, size_t argc,
                                const JSValueRef argv[], JSValueRef *exc)
{
    char kind[8], curve[16], format[8];
    size_t len;
    str_arg(ctx, argc, argv, 0, kind, sizeof kind);
    str_arg(ctx, argc, argv, 1, curve, sizeof curve);
    str_arg(ctx, argc, argv, 2, format, sizeof format);
    const unsigned char *p = bytes_arg(ctx, argc, argv, 3, &len);
    if (!p)
        return fail(ctx, exc, "InvalidArgument", "expected a Uint8Array");
    EVP_PKEY *k = NULL;
    int private = !strcmp(format, "pkcs8");
    if (!strcmp(format, "raw")) {
        const char *group = curve_group(curve);
        OSSL_PARAM_BLD *b = OSSL_PARAM_BLD_new();
        OSSL_PARAM *params = NULL;
        if (group && b &&
            OSSL_PARAM_BLD_push_utf8_string(b, OSSL_PKEY_PARAM_GROUP_NAME, group, 0) == 1 &&
            OSSL_PARAM_BLD_push_octet_string(b, OSSL_PKEY_PARAM_PUB_KEY, p, len) == 1)
            params = OSSL_PARAM_BLD_to_param(b);
        if (params)
            k = from_params("EC", params, 0);
        OSSL_PARAM_free(params);
        OSSL_PARAM_BLD_free(b);
    } else {
        k = parse_der(p, len, private);
    }
    if (!k)
        return fail(ctx, exc, "DataError", "Invalid keyData");
    JSValueRef r = check_kind(ctx, k, kind, curve, exc) < 0 ? JSValueMakeUndefined(ctx)
                                                            : describe(ctx, k, private, exc);
    EVP_PKEY_free(k);
    return r;
}

/* native.pkeyFromJwk(kind, curve, ...parts) -> describe(): RSA parts n, e[, d, p, q, dp, dq,
 * qi]; EC parts x, y[, d]; each a Uint8Array of the big-endian bytes. */
static JSValueRef n_pkey_from_jwk(JSContextRef ctx, JSObjectRef fn, JSObjectRef self,
                                  size_t argc, const JSValueRef argv[], JSValueRef *exc)
{
    static const char *rsa_names[PKEY_PARTS_MAX] = {
        OSSL_PKEY_PARAM_RSA_N,         OSSL_PKEY_PARAM_RSA_E,         OSSL_PKEY_PARAM_RSA_D,
        OSSL_PKEY_PARAM_RSA_FACTOR1,   OSSL_PKEY_PARAM_RSA_FACTOR2,   OSSL_PKEY_PARAM_RSA_EXPONENT1,
        OSSL_PKEY_PARAM_RSA_EXPONENT2, OSSL_PKEY_PARAM_RSA_COEFFICIENT1,
    };
    char kind[8], curve[16];
    str_arg(ctx, argc, argv, 0, kind, sizeof kind);
    str_arg(ctx, argc, argv, 1, curve, sizeof curve);
    size_t nparts = argc > 2 ? argc - 2 : 0;
    int rsa = !strcmp(kind, "RSA");
    if (rsa ? nparts != 2 && nparts != 8 : nparts != 2 && nparts != 3)
        return fail(ctx, exc, "DataError", "Invalid keyData");
    int private = nparts > 2;
    const unsigned char *part[PKEY_PARTS_MAX];
    size_t plen[PKEY_PARTS_MAX];
    for (size_t i = 0; i < nparts; i++) {
        if (!(part[i] = bytes_arg(ctx, argc, argv, i + 2, &plen[i])))
            return fail(ctx, exc, "InvalidArgument", "expected a Uint8Array");
        if (plen[i] > PKEY_PART_MAX) /* past any modulus OpenSSL would use */
            return fail(ctx, exc, "DataError", "Invalid keyData");
    }
    BIGNUM *bns[PKEY_PARTS_MAX] = { 0 };
    unsigned char *point = NULL;
    OSSL_PARAM *params = NULL;
    EVP_PKEY *k = NULL;
    JSValueRef r = NULL;
    OSSL_PARAM_BLD *b = OSSL_PARAM_BLD_new();
    if (!b)
        goto out;
    if (rsa) {
        for (size_t i = 0; i < nparts; i++)
            if (!(bns[i] = BN_bin2bn(part[i], (int)plen[i], NULL)) ||
                OSSL_PARAM_BLD_push_BN(b, rsa_names[i], bns[i]) != 1)
                goto out;
    } else {
        const char *group = curve_group(curve);
        if (!group || plen[0] != plen[1] || plen[0] == 0 || plen[0] > 66)
            goto out;
        point = vr_malloc(1 + 2 * plen[0]);
        point[0] = 4; /* uncompressed: 04 || x || y */
        memcpy(point + 1, part[0], plen[0]);
        memcpy(point + 1 + plen[0], part[1], plen[1]);
        if (OSSL_PARAM_BLD_push_utf8_string(b, OSSL_PKEY_PARAM_GROUP_NAME, group, 0) != 1 ||
            OSSL_PARAM_BLD_push_octet_string(b, OSSL_PKEY_PARAM_PUB_KEY, point,
                                             1 + 2 * plen[0]) != 1)
            goto out;
        if (private && (!(bns[2] = BN_bin2bn(part[2], (int)plen[2], NULL)) ||
                        OSSL_PARAM_BLD_push_BN(b, OSSL_PKEY_PARAM_PRIV_KEY, bns[2]) != 1))
            goto out;
    }
    if (!(params = OSSL_PARAM_BLD_to_param(b)))
        goto out;
    if (!(k = from_params(rsa ? "RSA" : "EC", params, private)))
        goto out;
    r = describe(ctx, k, private, exc);
out:
    if (!r)
        r = fail(ctx, exc, "DataError", "Invalid keyData");
    EVP_PKEY_free(k);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(b);
    vr_free(point);
    for (size_t i = 0; i < PKEY_PARTS_MAX; i++)
        BN_free(bns[i]);
    return r;
}

/* native.pkeyJwk(der, private) -> [ArrayBuffer...]: RSA n, e[, d, p, q, dp, dq, qi]; EC x, y[,
 * d] (coordinates padded to the curve's size). */
static JSValueRef n_pkey_jwk(JSContextRef ctx, JSObjectRef fn, JSObjectRef self, size_t argc,
                             const JSValueRef argv[], JSValueRef *exc)
{
    static const char *rsa_names[PKEY_PARTS_MAX] = {
        OSSL_PKEY_PARAM_RSA_N,         OSSL_PKEY_PARAM_RSA_E,         OSSL_PKEY_PARAM_RSA_D,
        OSSL_PKEY_PARAM_RSA_FACTOR1,   OSSL_PKEY_PARAM_RSA_FACTOR2,   OSSL_PKEY_PARAM_RSA_EXPONENT1,
        OSSL_PKEY_PARAM_RSA_EXPONENT2, OSSL_PKEY_PARAM_RSA_COEFFICIENT1,
    };
    static const char *ec_names[3] = { OSSL_PKEY_PARAM_EC_PUB_X, OSSL_PKEY_PARAM_EC_PUB_Y,
                                       OSSL_PKEY_PARAM_PRIV_KEY };
    size_t len;
    const unsigned char *der = bytes_arg(ctx, argc, argv, 0, &len);
    int private = argc > 1 && JSValueToBoolean(ctx, argv[1]);
    if (!der)
        return fail(ctx, exc, "InvalidArgument", "expected a Uint8Array");
    EVP_PKEY *k = parse_der(der, len, private);
    if (!k)
        return fail(ctx, exc, "OperationError", "the key cannot be read");
    int rsa = is_rsa(k);
    size_t n = rsa ? (private ? 8 : 2) : (private ? 3 : 2);
    int pad = rsa ? 0 : (EVP_PKEY_get_bits(k) + 7) / 8;
    JSValueRef items[PKEY_PARTS_MAX];
    JSValueRef r = NULL;
    for (size_t i = 0; i < n; i++) {
        BIGNUM *bn = NULL;
        if (EVP_PKEY_get_bn_param(k, rsa ? rsa_names[i] : ec_names[i], &bn) != 1)
            break;
        items[i] = bn_buffer(ctx, bn, pad, exc);
        BN_free(bn);
        if (!items[i])
            break;
        if (i + 1 == n)
            r = JSObjectMakeArray(ctx, n, items, exc);
    }
    EVP_PKEY_free(k);
    if (!r && !*exc)
        return fail(ctx, exc, "OperationError", "the key cannot be exported as a JWK");
    return r ? r : JSValueMakeUndefined(ctx);
}

/* An ECDSA signature: DER (OpenSSL) <-> r || s, each `half` bytes (WebCrypto). */
static unsigned char *ecdsa_der_to_raw(const unsigned char *der, size_t len, int half)
{
    const unsigned char *p = der;
    ECDSA_SIG *sig = d2i_ECDSA_SIG(NULL, &p, (long)len);
    unsigned char *raw = NULL;
    if (sig) {
        raw = OPENSSL_malloc(2 * (size_t)half);
        if (raw && (BN_bn2binpad(ECDSA_SIG_get0_r(sig), raw, half) < 0 ||
                    BN_bn2binpad(ECDSA_SIG_get0_s(sig), raw + half, half) < 0)) {
            OPENSSL_free(raw);
            raw = NULL;
        }
    }
    ECDSA_SIG_free(sig);
    return raw;
}

static int ecdsa_raw_to_der(const unsigned char *raw, int half, unsigned char **der)
{
    ECDSA_SIG *sig = ECDSA_SIG_new();
    BIGNUM *r = BN_bin2bn(raw, half, NULL), *s = BN_bin2bn(raw + half, half, NULL);
    int n = -1;
    if (sig && r && s && ECDSA_SIG_set0(sig, r, s) == 1) {
        r = s = NULL; /* owned by sig */
        n = i2d_ECDSA_SIG(sig, der);
    }
    BN_free(r);
    BN_free(s);
    ECDSA_SIG_free(sig);
    return n;
}

/* A digest-sign/verify context for algorithm `alg` ("RSASSA-PKCS1-v1_5", "RSA-PSS", "ECDSA"). */
static EVP_MD_CTX *op_ctx(EVP_PKEY *k, const char *alg, const EVP_MD *md, double salt, int sign)
{
    EVP_MD_CTX *m = EVP_MD_CTX_new();
    EVP_PKEY_CTX *pc = NULL;
    if (!m)
        return NULL;
    int ok = sign ? EVP_DigestSignInit(m, &pc, md, NULL, k) : EVP_DigestVerifyInit(m, &pc, md,
                                                                                     NULL, k);
    if (ok == 1 && !strcmp(alg, "RSA-PSS"))
        ok = EVP_PKEY_CTX_set_rsa_padding(pc, RSA_PKCS1_PSS_PADDING) == 1 &&
             EVP_PKEY_CTX_set_rsa_pss_saltlen(pc, (int)salt) == 1 &&
             EVP_PKEY_CTX_set_rsa_mgf1_md(pc, md) == 1;
    else if (ok == 1 && strcmp(alg, "ECDSA") && is_rsa(k))
        ok = EVP_PKEY_CTX_set_rsa_padding(pc, RSA_PKCS1_PADDING) == 1;
    if (ok != 1) {
        EVP_MD_CTX_free(m);
        return NULL;
    }
    return m;
}

static int op_args(JSContextRef ctx, size_t argc, const JSValueRef argv[], char *alg,
                   const EVP_MD **md, EVP_PKEY **k, int private, double *salt, JSValueRef *exc)
{
    char hash[16];
    size_t len;
    str_arg(ctx, argc, argv, 0, alg, 24);
    str_arg(ctx, argc, argv, 1, hash, sizeof hash);
    *md = md_named(hash);
    const unsigned char *der = bytes_arg(ctx, argc, argv, 2, &len);
    *salt = argc > 5 ? JSValueToNumber(ctx, argv[5], NULL) : 0;
    if (!*md || !der) {
        fail(ctx, exc, "InvalidArgument", "expected a hash name and a key");
        return -1;
    }
    if (*salt != *salt || *salt < 0 || *salt > 65536) {
        fail(ctx, exc, "OperationError", "The operation failed for an operation-specific reason");
        return -1;
    }
    if (!(*k = parse_der(der, len, private))) {
        fail(ctx, exc, "OperationError", "the key cannot be read");
        return -1;
    }
    return 0;
}

/* native.pkeySign(alg, hash, pkcs8, _, data, saltLength) -> ArrayBuffer */
static JSValueRef n_pkey_sign(JSContextRef ctx, JSObjectRef fn, JSObjectRef self, size_t argc,
                              const JSValueRef argv[], JSValueRef *exc)
{
    char alg[24];
    const EVP_MD *md;
    EVP_PKEY *k = NULL;
    double salt;
    size_t dlen, slen = 0;
    const unsigned char *data = bytes_arg(ctx, argc, argv, 4, &dlen);
    if (!data)
        return fail(ctx, exc, "InvalidArgument", "expected a Uint8Array");
    if (op_args(ctx, argc, argv, alg, &md, &k, 1, &salt, exc) < 0)
        return JSValueMakeUndefined(ctx);
    JSValueRef r = NULL;
    unsigned char *sig = NULL;
    EVP_MD_CTX *m = op_ctx(k, alg, md, salt, 1);
    if (m && EVP_DigestSign(m, NULL, &slen, data, dlen) == 1 && (sig = OPENSSL_malloc(slen)) &&
        EVP_DigestSign(m, sig, &slen, data, dlen) == 1) {
        if (!strcmp(alg, "ECDSA")) {
            int half = (EVP_PKEY_get_bits(k) + 7) / 8;
            unsigned char *raw = ecdsa_der_to_raw(sig, slen, half);
            r = raw ? take_buffer(ctx, raw, 2 * (size_t)half, exc) : NULL;
        } else {
            r = copy_buffer(ctx, sig, slen, exc);
        }
    }
    OPENSSL_free(sig);
    EVP_MD_CTX_free(m);
    EVP_PKEY_free(k);
    if (!r && !*exc)
        return fail(ctx, exc, "OperationError",
                    "The operation failed for an operation-specific reason");
    return r ? r : JSValueMakeUndefined(ctx);
}

/* native.pkeyVerify(alg, hash, spki, signature, data, saltLength) -> boolean */
static JSValueRef n_pkey_verify(JSContextRef ctx, JSObjectRef fn, JSObjectRef self,
                                size_t argc, const JSValueRef argv[], JSValueRef *exc)
{
    char alg[24];
    const EVP_MD *md;
    EVP_PKEY *k = NULL;
    double salt;
    size_t slen, dlen;
    const unsigned char *sig = bytes_arg(ctx, argc, argv, 3, &slen);
    const unsigned char *data = bytes_arg(ctx, argc, argv, 4, &dlen);
    if (!sig || !data)
        return fail(ctx, exc, "InvalidArgument", "expected Uint8Arrays");
    if (op_args(ctx, argc, argv, alg, &md, &k, 0, &salt, exc) < 0)
        return JSValueMakeUndefined(ctx);
    unsigned char *der = NULL;
    int ok = 0;
    if (!strcmp(alg, "ECDSA")) {
        /* WebCrypto's r || s of exactly twice the curve's size; anything else is no match */
        int half = (EVP_PKEY_get_bits(k) + 7) / 8;
        int n = slen == 2 * (size_t)half ? ecdsa_raw_to_der(sig, half, &der) : -1;
        if (n > 0) {
            sig = der;
            slen = (size_t)n;
        } else {
            slen = 0;
        }
    }
    EVP_MD_CTX *m = slen ? op_ctx(k, alg, md, salt, 0) : NULL;
    if (m)
        ok = EVP_DigestVerify(m, sig, slen, data, dlen) == 1;
    OPENSSL_free(der);
    EVP_MD_CTX_free(m);
    EVP_PKEY_free(k);
    return JSValueMakeBoolean(ctx, ok);
}

/* native.pkeyGenerate(kind, curve, modulusLength, publicExponent) -> [describe(private),
 * describe(public)] */
static JSValueRef n_pkey_generate(JSContextRef ctx, JSObjectRef fn, JSObjectRef self,
                                  size_t argc, const JSValueRef argv[], JSValueRef *exc)
{
    char kind[8], curve[16];
    str_arg(ctx, argc, argv, 0, kind, sizeof kind);
    str_arg(ctx, argc, argv, 1, curve, sizeof curve);
    int rsa = !strcmp(kind, "RSA");
    double bits = argc > 2 ? JSValueToNumber(ctx, argv[2], NULL) : 0;
    size_t elen = 0;
    const unsigned char *e = bytes_arg(ctx, argc, argv, 3, &elen);
    EVP_PKEY *k = NULL;
    BIGNUM *exp = NULL;
    JSValueRef r = NULL;
    EVP_PKEY_CTX *pc = EVP_PKEY_CTX_new_from_name(NULL, rsa ? "RSA" : "EC", NULL);
    if (!pc || EVP_PKEY_keygen_init(pc) != 1)
        goto out;
    if (rsa) {
        /* an exponent of at most 64 bits, odd and past 1, as OpenSSL and Node accept */
        if (!(bits >= PKEY_RSA_MIN_BITS && bits <= PKEY_RSA_MAX_BITS) || !e || elen > 8 ||
            !(exp = BN_bin2bn(e, (int)elen, NULL)) || !BN_is_odd(exp) || BN_is_one(exp) ||
            EVP_PKEY_CTX_set_rsa_keygen_bits(pc, (int)bits) != 1 ||
            EVP_PKEY_CTX_set1_rsa_keygen_pubexp(pc, exp) != 1)
            goto out;
    } else {
        const char *group = curve_group(curve);
        if (!group || EVP_PKEY_CTX_set_group_name(pc, group) != 1)
            goto out;
    }
    if (EVP_PKEY_generate(pc, &k) != 1)
        goto out;
    JSValueRef pair[2];
    if (!(pair[0] = describe(ctx, k, 1, exc)) || *exc)
        goto out;
    if (!(pair[1] = describe(ctx, k, 0, exc)) || *exc)
        goto out;
    r = JSObjectMakeArray(ctx, 2, pair, exc);
out:
    BN_free(exp);
    EVP_PKEY_free(k);
    EVP_PKEY_CTX_free(pc);
    if (!r && !*exc)
        return fail(ctx, exc, "OperationError",
                    "The operation failed for an operation-specific reason");
    return r ? r : JSValueMakeUndefined(ctx);
}

void js_native_pkey_add(JSContextRef ctx, JSObjectRef native)
{
    static const struct js_native_fn fns[] = {
        {"pkeyImport", n_pkey_import}, {"pkeyFromJwk", n_pkey_from_jwk},
        {"pkeyJwk", n_pkey_jwk},       {"pkeySign", n_pkey_sign},
        {"pkeyVerify", n_pkey_verify}, {"pkeyGenerate", n_pkey_generate},
    };
    js_native_add_fns(ctx, native, fns, sizeof fns / sizeof fns[0]);
}
