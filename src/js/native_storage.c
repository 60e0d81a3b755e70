/* native_storage: the `native` functions behind ctx.storage (src/js/prelude/46_storage.js) on
 * the shard's runtime: upload URLs signed with the database's secret, the `_storage` document of
 * an upload written in its mutation's transaction (its temporary file renamed to the id before
 * the transaction commits), and deletes whose bytes are removed once the transaction has
 * committed (js_storage_committed). */
#include <JavaScriptCore/JavaScript.h>
#include <stdio.h>
#include <string.h>

#include "base/clock.h"
#include "base/mem.h"
#include "js/js_int.h"
#include "store/store.h"
#include "base/banned.h"

static JSValueRef fail(JSContextRef ctx, JSValueRef *exc, const char *code, const char *msg)
{
    *exc = js_make_error(ctx, code, msg);
    return JSValueMakeUndefined(ctx);
}

static JSValueRef str_val(JSContextRef ctx, const char *s)
{
    JSStringRef js = JSStringCreateWithUTF8CString(s);
    JSValueRef v = JSValueMakeString(ctx, js);
    JSStringRelease(js);
    return v;
}

static struct js_runtime *rt_txn(JSContextRef ctx, JSObjectRef self, const char *what,
                                 JSValueRef *exc)
{
    struct js_runtime *rt = JSObjectGetPrivate(self);
    if (!rt || !rt->txn || !rt->store) {
        char m[160];
        snprintf(m, sizeof m, "%s: only usable while a query or mutation runs", what);
        fail(ctx, exc, "NoTransaction", m);
        return NULL;
    }
    if (!rt->opts.files_dir) {
        fail(ctx, exc, "StorageUnavailable",
             "file storage needs a database on disk (this server's is in memory)");
        return NULL;
    }
    return rt;
}

static int arg_str(JSContextRef ctx, size_t argc, const JSValueRef argv[], size_t i,
                   struct buf *b, JSValueRef *exc)
{
    if (i >= argc || !JSValueIsString(ctx, argv[i])) {
        fail(ctx, exc, "InvalidArgument", "storage: expected a string argument");
        return -1;
    }
    if (js_to_buf(ctx, argv[i], b, exc) < 0 || strlen(b->data) != b->len) {
        if (!*exc)
            fail(ctx, exc, "InvalidArgument", "storage: argument too long or holds U+0000");
        return -1;
    }
    return 0;
}

/* native.storageUploadUrl() -> the URL of a new upload (a mutation's ctx.storage) */
static JSValueRef n_upload_url(JSContextRef ctx, JSObjectRef fn, JSObjectRef self, size_t argc,
                               const JSValueRef argv[], JSValueRef *exc)
{
    struct js_runtime *rt = rt_txn(ctx, self, "storage.generateUploadUrl()", exc);
    if (!rt)
        return JSValueMakeUndefined(ctx);
    buf_reset(&rt->s1);
    buf_reset(&rt->s3);
    const char *base = rt->opts.public_url ? rt->opts.public_url : "";
    buf_appendf(&rt->s1, "%s/api/storage/upload?token=", base);
    uint32_t ttl_s =
        rt->opts.upload_url_ttl_s ? rt->opts.upload_url_ttl_s : JS_UPLOAD_URL_TTL_DEFAULT_S;
    if (store_storage_token(rt->store, clock_wall_ms() + 1000.0 * ttl_s, &rt->s1, &rt->s3) < 0)
        return fail(ctx, exc, "StoreError", rt->s3.data);
    return str_val(ctx, rt->s1.data);
}

/* native.storageBase() -> the server's public URL ("" when unknown) */
static JSValueRef n_base(JSContextRef ctx, JSObjectRef fn, JSObjectRef self, size_t argc,
                         const JSValueRef argv[], JSValueRef *exc)
{
    struct js_runtime *rt = JSObjectGetPrivate(self);
    return str_val(ctx, rt && rt->opts.public_url ? rt->opts.public_url : "");
}

/* native.storageCommit(tmpName, sha256, size, contentType|null, nonceHex|null) -> id: the
 * `_storage` document of an upload whose bytes are in tmpName; a nonce is used once. */
static JSValueRef n_commit(JSContextRef ctx, JSObjectRef fn, JSObjectRef self, size_t argc,
                           const JSValueRef argv[], JSValueRef *exc)
{
    struct js_runtime *rt = rt_txn(ctx, self, "storage", exc);
    if (!rt)
        return JSValueMakeUndefined(ctx);
    struct buf tmp = BUF_INIT(64), sha = BUF_INIT(64), ct = BUF_INIT(1024), nonce = BUF_INIT(64);
    JSValueRef ret = JSValueMakeUndefined(ctx);
    if (arg_str(ctx, argc, argv, 0, &tmp, exc) < 0 || arg_str(ctx, argc, argv, 1, &sha, exc) < 0)
        goto out;
    double size = argc > 2 ? JSValueToNumber(ctx, argv[2], NULL) : -1;
    int has_ct = argc > 3 && JSValueIsString(ctx, argv[3]);
    int has_nonce = argc > 4 && JSValueIsString(ctx, argv[4]);
    if ((has_ct && arg_str(ctx, argc, argv, 3, &ct, exc) < 0) ||
        (has_nonce && arg_str(ctx, argc, argv, 4, &nonce, exc) < 0))
        goto out;
    if (!store_file_tmp_name_ok(tmp.data) || sha.len != 44 || !(size >= 0)) {
        ret = fail(ctx, exc, "InvalidArgument", "storage: not an upload's temporary file");
        goto out;
    }
    buf_reset(&rt->s3);
    if (has_nonce) {
        struct buf key = BUF_INIT(128), old = BUF_INIT(1024);
        uint64_t v;
        buf_appendf(&key, "u1|%s", nonce.data);
        int found = store_idem_get(rt->txn, key.data, key.len, &old, &v, &rt->s3);
        int bad = found != 0 ||
                  store_idem_put(rt->txn, key.data, key.len, "true", 4, &rt->s3) < 0;
        buf_release(&key);
        buf_release(&old);
        if (bad) {
            ret = found > 0 ? fail(ctx, exc, "UploadUrlUsed",
                                   "the upload URL was already used; generate a new one")
                            : fail(ctx, exc, "StoreError", rt->s3.data);
            goto out;
        }
    }
    char id[STORE_ID_LEN + 1];
    if (store_storage_insert(rt->txn, sha.data, (uint64_t)size, has_ct ? ct.data : NULL, id,
                             &rt->s3) < 0 ||
        store_file_commit(rt->opts.files_dir, tmp.data, id, &rt->s3) < 0) {
        ret = fail(ctx, exc, "StoreError", rt->s3.data);
        goto out;
    }
    ret = str_val(ctx, id);
out:
    buf_release(&tmp);
    buf_release(&sha);
    buf_release(&ct);
    buf_release(&nonce);
    return ret;
}

/* native.storageDelete(id): deletes the file's document; its bytes go once the transaction
 * commits. A missing file is an error, as Convex's. */
static JSValueRef n_delete(JSContextRef ctx, JSObjectRef fn, JSObjectRef self, size_t argc,
                           const JSValueRef argv[], JSValueRef *exc)
{
    struct js_runtime *rt = rt_txn(ctx, self, "storage.delete()", exc);
    if (!rt || arg_str(ctx, argc, argv, 0, &rt->s1, exc) < 0)
        return JSValueMakeUndefined(ctx);
    const char *t = store_id_table(rt->store, rt->s1.data, rt->s1.len);
    if (rt->s1.len != STORE_ID_LEN || !t || strcmp(t, STORE_STORAGE_TABLE)) {
        char m[256];
        snprintf(m, sizeof m, "Invalid storage ID: \"%.100s\"", rt->s1.data);
        return fail(ctx, exc, "InvalidArgument", m);
    }
    buf_reset(&rt->s3);
    if (store_delete(rt->txn, rt->s1.data, rt->s1.len, &rt->s3) < 0)
        return fail(ctx, exc, store_last_error(rt->store) == STORE_ERR_NOT_FOUND
                                  ? "StorageFileNotFound" : "StoreError",
                    store_last_error(rt->store) == STORE_ERR_NOT_FOUND
                        ? "storage.delete(): no such file" : rt->s3.data);
    if (rt->n_unlink == rt->cap_unlink) {
        rt->cap_unlink = rt->cap_unlink ? rt->cap_unlink * 2 : 8;
        rt->unlink_ids = vr_realloc(rt->unlink_ids, rt->cap_unlink * sizeof *rt->unlink_ids);
    }
    memcpy(rt->unlink_ids[rt->n_unlink++], rt->s1.data, STORE_ID_LEN + 1);
    return JSValueMakeUndefined(ctx);
}

void js_storage_settled(struct js_runtime *rt, int committed)
{
    if (committed && rt->opts.files_dir)
        for (size_t i = 0; i < rt->n_unlink; i++)
            store_file_remove(rt->opts.files_dir, rt->unlink_ids[i]);
    rt->n_unlink = 0;
}

void js_native_storage_add(JSContextRef ctx, JSObjectRef native)
{
    static const struct {
        const char *name;
        JSObjectCallAsFunctionCallback fn;
    } fns[] = {
        { "storageUploadUrl", n_upload_url },
        { "storageBase", n_base },
        { "storageCommit", n_commit },
        { "storageDelete", n_delete },
    };
    for (size_t i = 0; i < sizeof fns / sizeof fns[0]; i++) {
        JSStringRef name = JSStringCreateWithUTF8CString(fns[i].name);
        JSObjectRef f = JSObjectMakeFunctionWithCallback(ctx, name, fns[i].fn);
        JSObjectSetProperty(ctx, native, name, f, kJSPropertyAttributeReadOnly, NULL);
        JSStringRelease(name);
    }
}
