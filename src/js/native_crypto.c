/* native_crypto: the OpenSSL side of the prelude's `crypto` (58_crypto.js): native.randomFill,
 * native.digest, native.hmac and native.pbkdf2 (asymmetric keys: native_pkey.c). They take Uint8Arrays that start at offset 0 of their own
 * buffer (the prelude copies into fresh ones), read or fill them in one step without calling
 * back into JavaScript, and return new ArrayBuffers. Inputs are bounded by the JS memory limit
 * the prelude enforces on allocations; these functions allocate only their small outputs. */
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include "base/mem.h"
#include "js/js_int.h"

#include "base/banned.h"

#define RANDOM_FILL_MAX 65536 /* getRandomValues' quota; the prelude checks it first */
#define PBKDF2_MAX_ITERATIONS 10000000
#define PBKDF2_MAX_BYTES (1 << 20)
/* HMACs between two looks at the call's CPU time (~1-2 ms of SHA-256 here) */
#define PBKDF2_CHECK_EVERY 4096

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

/* PBKDF2 (RFC 8018) into out, as OpenSSL's own does it (a keyed HMAC context re-initialised for
 * each iteration, which keeps its precomputed pads), but with the call's CPU time read every
 * PBKDF2_CHECK_EVERY HMACs: its work is iterations times the output's blocks (~10^11 HMACs, days,
 * at the bounds), which OpenSSL would run to the end with the thread held, the loop's for a
 * mutation. 0, 1 past the call's time limit, -1 when OpenSSL failed. */
static int pbkdf2(struct js_runtime *rt, const EVP_MD *md, const unsigned char *pw, size_t plen,
                  const unsigned char *salt, size_t slen, unsigned long iter, unsigned char *out,
                  size_t n)
{
    EVP_MAC *mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    EVP_MAC_CTX *tpl = mac ? EVP_MAC_CTX_new(mac) : NULL, *h = NULL;
    OSSL_PARAM params[2] = {
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, (char *)EVP_MD_get0_name(md), 0),
        OSSL_PARAM_construct_end(),
    };
    size_t mdlen = (size_t)EVP_MD_get_size(md), done = 0;
    unsigned long since_check = 0;
    int r = -1;
    if (!tpl || !EVP_MAC_init(tpl, pw, plen, params))
        goto out;
    for (uint32_t block = 1; done < n; block++) {
        unsigned char u[EVP_MAX_MD_SIZE], be[4] = { block >> 24, block >> 16, block >> 8, block };
        size_t take = n - done < mdlen ? n - done : mdlen, ulen = 0;
        EVP_MAC_CTX_free(h);
        if (!(h = EVP_MAC_CTX_dup(tpl)) || !EVP_MAC_update(h, salt, slen) ||
            !EVP_MAC_update(h, be, 4) || !EVP_MAC_final(h, u, &ulen, sizeof u))
            goto out;
        memcpy(out + done, u, take);
        for (unsigned long j = 1; j < iter; j++) {
            if (!EVP_MAC_init(h, NULL, 0, NULL) || !EVP_MAC_update(h, u, mdlen) ||
                !EVP_MAC_final(h, u, &ulen, sizeof u))
                goto out;
            for (size_t k = 0; k < take; k++)
                out[done + k] ^= u[k];
            if (++since_check == PBKDF2_CHECK_EVERY) {
                since_check = 0;
                if (js_time_nearly_up(rt)) {
                    r = 1;
                    goto out;
                }
            }
        }
        done += take;
    }
    r = 0;
out:
    EVP_MAC_CTX_free(h);
    EVP_MAC_CTX_free(tpl);
    EVP_MAC_free(mac);
    return r;
}

/* native.pbkdf2(hashName, passwordU8, saltU8, iterations, bytes) -> ArrayBuffer, called on
 * `native` (its runtime holds the call's time limit). The prelude checks iterations
 * (1..PBKDF2_MAX_ITERATIONS) and bytes (..PBKDF2_MAX_BYTES) first. */
static JSValueRef n_pbkdf2(JSContextRef ctx, JSObjectRef fn, JSObjectRef self, size_t argc,
                           const JSValueRef argv[], JSValueRef *exc)
{
    struct js_runtime *rt = self ? JSObjectGetPrivate(self) : NULL;
    if (!rt)
        return fail(ctx, exc, "InternalError", "native functions must be called on `native`");
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
    int r = n ? pbkdf2(rt, md, pw, plen, salt, slen, (unsigned long)iter, out, (size_t)n) : 0;
    if (r != 0) {
        vr_free(out);
        /* a tick before the limit: a catch can go on only until the watchdog stops it */
        return fail(ctx, exc, "OperationError",
                    r > 0 ? "the derivation was stopped: it would pass the function's time limit"
                          : "the derivation failed");
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
