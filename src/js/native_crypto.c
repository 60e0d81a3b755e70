/* native_crypto: the OpenSSL side of the prelude's `crypto` (58_crypto.js): native.randomFill,
 * native.digest, native.hmac and native.pbkdf2 (asymmetric keys: native_pkey.c). They take Uint8Arrays that start at offset 0 of their own
 * buffer (the prelude copies into fresh ones), read or fill them in one step without calling
 * back into JavaScript, and return new ArrayBuffers. Inputs are bounded by the JS memory limit
 * the prelude enforces on allocations; these functions allocate only their small outputs. */
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "base/mem.h"
#include "js/js_int.h"

#include "base/banned.h"

#define RANDOM_FILL_MAX 65536 /* getRandomValues' quota; the prelude checks it first */
/* deriveBits blocks its thread (no time limit inside OpenSSL): about 5 s of SHA-256 at most */
#define PBKDF2_MAX_ITERATIONS 10000000
#define PBKDF2_MAX_BYTES (1 << 20)

static JSValueRef fail(JSContextRef ctx, JSValueRef *exc, const char *code, const char *msg)
{
    *exc = js_make_error(ctx, code, msg);
    return JSValueMakeUndefined(ctx);
}

/* The bytes of argument i, which must be a Uint8Array; NULL (with *exc set) otherwise. */
static unsigned char *u8_arg(JSContextRef ctx, size_t argc, const JSValueRef argv[], size_t i,
                             size_t *len, JSValueRef *exc)
{
    const unsigned char *p = i < argc ? js_u8_bytes(ctx, argv[i], len) : NULL;
    if (!p)
        fail(ctx, exc, "InvalidArgument", "expected a Uint8Array");
    return (unsigned char *)p;
}

static const EVP_MD *md_arg(JSContextRef ctx, size_t argc, const JSValueRef argv[], size_t i,
                            JSValueRef *exc)
{
    char name[16] = "";
    if (i < argc && JSValueIsString(ctx, argv[i])) {
        JSStringRef s = JSValueToStringCopy(ctx, argv[i], NULL);
        if (s) {
            JSStringGetUTF8CString(s, name, sizeof name);
            JSStringRelease(s);
        }
    }
    const EVP_MD *md = !strcmp(name, "SHA-1")     ? EVP_sha1()
                       : !strcmp(name, "SHA-256") ? EVP_sha256()
                       : !strcmp(name, "SHA-384") ? EVP_sha384()
                       : !strcmp(name, "SHA-512") ? EVP_sha512()
                                                  : NULL;
    if (!md)
        fail(ctx, exc, "NotSupportedError", "Unrecognized algorithm name");
    return md;
}


/* native.randomFill(u8): fills it from RAND_bytes. */
static JSValueRef n_random_fill(JSContextRef ctx, JSObjectRef fn, JSObjectRef self, size_t argc,
                                const JSValueRef argv[], JSValueRef *exc)
{
    size_t len;
    unsigned char *p = u8_arg(ctx, argc, argv, 0, &len, exc);
    if (!p)
        return JSValueMakeUndefined(ctx);
    if (len > RANDOM_FILL_MAX)
        return fail(ctx, exc, "QuotaExceededError", "The requested length exceeds 65,536 bytes");
    if (len && RAND_bytes(p, (int)len) != 1)
        return fail(ctx, exc, "OperationError", "the system's random generator failed");
    return JSValueMakeUndefined(ctx);
}

/* native.digest(hashName, u8) -> ArrayBuffer */
static JSValueRef n_digest(JSContextRef ctx, JSObjectRef fn, JSObjectRef self, size_t argc,
                           const JSValueRef argv[], JSValueRef *exc)
{
    const EVP_MD *md = md_arg(ctx, argc, argv, 0, exc);
    size_t len;
    unsigned char *p = md ? u8_arg(ctx, argc, argv, 1, &len, exc) : NULL;
    if (!p)
        return JSValueMakeUndefined(ctx);
    unsigned char out[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    if (EVP_Digest(p, len, out, &n, md, NULL) != 1)
        return fail(ctx, exc, "OperationError", "the digest failed");
    return js_buffer_copy(ctx, out, n, exc);
}

/* native.hmac(hashName, keyU8, dataU8) -> ArrayBuffer */
static JSValueRef n_hmac(JSContextRef ctx, JSObjectRef fn, JSObjectRef self, size_t argc,
                         const JSValueRef argv[], JSValueRef *exc)
{
    const EVP_MD *md = md_arg(ctx, argc, argv, 0, exc);
    size_t klen = 0, dlen = 0;
    unsigned char *key = md ? u8_arg(ctx, argc, argv, 1, &klen, exc) : NULL;
    unsigned char *data = key ? u8_arg(ctx, argc, argv, 2, &dlen, exc) : NULL;
    if (!data)
        return JSValueMakeUndefined(ctx);
    if (klen > INT32_MAX)
        return fail(ctx, exc, "DataError", "the key is too long");
    unsigned char out[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    if (!HMAC(md, key, (int)klen, data, dlen, out, &n))
        return fail(ctx, exc, "OperationError", "the HMAC failed");
    return js_buffer_copy(ctx, out, n, exc);
}

/* native.pbkdf2(hashName, passwordU8, saltU8, iterations, bytes) -> ArrayBuffer. The prelude
 * checks iterations (1..PBKDF2_MAX_ITERATIONS) and bytes (..PBKDF2_MAX_BYTES) first. */
static JSValueRef n_pbkdf2(JSContextRef ctx, JSObjectRef fn, JSObjectRef self, size_t argc,
                           const JSValueRef argv[], JSValueRef *exc)
{
    const EVP_MD *md = md_arg(ctx, argc, argv, 0, exc);
    size_t plen = 0, slen = 0;
    unsigned char *pw = md ? u8_arg(ctx, argc, argv, 1, &plen, exc) : NULL;
    unsigned char *salt = pw ? u8_arg(ctx, argc, argv, 2, &slen, exc) : NULL;
    if (!salt)
        return JSValueMakeUndefined(ctx);
    double iter = argc > 3 ? JSValueToNumber(ctx, argv[3], NULL) : 0;
    double n = argc > 4 ? JSValueToNumber(ctx, argv[4], NULL) : -1;
    if (!(iter >= 1 && iter <= PBKDF2_MAX_ITERATIONS) || !(n >= 0 && n <= PBKDF2_MAX_BYTES) ||
        plen > INT32_MAX || slen > INT32_MAX)
        return fail(ctx, exc, "OperationError", "PBKDF2 parameters out of range");
    unsigned char *out = vr_malloc(n ? (size_t)n : 1);
    if (n && PKCS5_PBKDF2_HMAC((const char *)pw, (int)plen, salt, (int)slen, (int)iter, md,
                               (int)n, out) != 1) {
        vr_free(out);
        return fail(ctx, exc, "OperationError", "the derivation failed");
    }
    return js_buffer_take(ctx, out, (size_t)n, exc);
}

void js_native_crypto_add(JSContextRef ctx, JSObjectRef native)
{
    static const struct js_native_fn fns[] = {
        {"randomFill", n_random_fill},
        {"digest", n_digest},
        {"hmac", n_hmac},
        {"pbkdf2", n_pbkdf2},
    };
    js_native_add_fns(ctx, native, fns, sizeof fns / sizeof fns[0]);
}
