/* native_storage: the `native` functions behind ctx.storage (src/js/prelude/46_storage.js). On
 * the shard's runtime: upload URLs signed with the database's secret, the `_storage` document of
 * a stored file written in its mutation's transaction (its temporary file renamed to the id
 * before the transaction commits, the file removed if it then does not commit), and deletes
 * whose bytes are removed once the transaction has committed (js_storage_settled). On an action
 * worker's runtime (no store, no transaction): an action's ctx.storage.store() bytes written to
 * a temporary file and ctx.storage.get() bytes read, both on the worker's own thread. */
#include <JavaScriptCore/JavaScript.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/base64.h"
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
                  : store_last_error(rt->store) == STORE_ERR_FULL
                      ? fail(ctx, exc, "StorageLimitExceeded", rt->s3.data)
                      : fail(ctx, exc, "StoreError", rt->s3.data);
            goto out;
        }
    }
    if (rt->n_new == rt->cap_new) {
        rt->cap_new = rt->cap_new ? rt->cap_new * 2 : 4;
        rt->new_files = vr_realloc(rt->new_files, rt->cap_new * sizeof *rt->new_files);
    }
    struct js_new_file *nf = &rt->new_files[rt->n_new++];
    memcpy(nf->tmp, tmp.data, STORE_FILE_TMP_LEN + 1);
    char id[STORE_ID_LEN + 1];
    if (store_storage_finalize(rt->txn, rt->opts.files_dir, tmp.data, sha.data, (uint64_t)size,
                               has_ct ? ct.data : NULL, id, &rt->s3) < 0) {
        nf->id[0] = '\0';
        ret = fail(ctx, exc,
                   store_last_error(rt->store) == STORE_ERR_FULL ? "StorageLimitExceeded"
                                                                 : "StoreError",
                   rt->s3.data);
        goto out;
    }
    memcpy(nf->id, id, sizeof id);
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

/* Appends id to a list of ids. */
static void ids_push(char (**ids)[STORE_ID_LEN + 1], size_t *n, size_t *cap, const char *id)
{
    if (*n == *cap) {
        *cap = *cap ? *cap * 2 : 8;
        *ids = vr_realloc(*ids, *cap * sizeof **ids);
    }
    memcpy((*ids)[(*n)++], id, STORE_ID_LEN + 1);
}

void js_storage_settled(struct js_runtime *rt, int committed)
{
    int batched = rt->store && store_batch_is_open(rt->store);
    if (committed && rt->opts.files_dir && batched) { /* the batch may still be lost */
        for (size_t i = 0; i < rt->n_unlink; i++)
            ids_push(&rt->batch_unlink, &rt->n_batch_unlink, &rt->cap_batch_unlink,
                     rt->unlink_ids[i]);
        for (size_t i = 0; i < rt->n_new; i++)
            if (rt->new_files[i].id[0])
                ids_push(&rt->batch_new, &rt->n_batch_new, &rt->cap_batch_new,
                         rt->new_files[i].id);
    } else if (committed && rt->opts.files_dir) {
        for (size_t i = 0; i < rt->n_unlink; i++)
            store_file_remove(rt->opts.files_dir, rt->unlink_ids[i]);
    }
    if (!committed && rt->opts.files_dir)
        for (size_t i = 0; i < rt->n_new; i++) { /* stored by a transaction that did not commit */
            store_file_remove(rt->opts.files_dir, rt->new_files[i].tmp);
            if (rt->new_files[i].id[0])
                store_file_remove(rt->opts.files_dir, rt->new_files[i].id);
        }
    rt->n_unlink = 0;
    rt->n_new = 0;
}

void js_runtime_batch_stored_file(struct js_runtime *rt, const char *id)
{
    if (rt && rt->opts.files_dir)
        ids_push(&rt->batch_new, &rt->n_batch_new, &rt->cap_batch_new, id);
}

void js_runtime_batch_done(struct js_runtime *rt, int committed)
{
    if (rt && rt->opts.files_dir) {
        if (committed)
            for (size_t i = 0; i < rt->n_batch_unlink; i++)
                store_file_remove(rt->opts.files_dir, rt->batch_unlink[i]);
        else
            for (size_t i = 0; i < rt->n_batch_new; i++)
                store_file_remove(rt->opts.files_dir, rt->batch_new[i]);
    }
    if (rt) {
        rt->n_batch_unlink = 0;
        rt->n_batch_new = 0;
    }
}

/* ---- an action's bytes (the worker's thread; no transaction) ---- */

static struct js_runtime *rt_files(JSContextRef ctx, JSObjectRef self, JSValueRef *exc)
{
    struct js_runtime *rt = JSObjectGetPrivate(self);
    if (!rt || !rt->opts.files_dir) {
        fail(ctx, exc, "StorageUnavailable",
             "file storage needs a database on disk (this server's is in memory)");
        return NULL;
    }
    return rt;
}

/* The bytes of a Uint8Array argument (any offset into its buffer), or NULL with *exc set. */
static const unsigned char *bytes_arg(JSContextRef ctx, size_t argc, const JSValueRef argv[],
                                      size_t i, size_t *len, JSValueRef *exc)
{
    const unsigned char *p = i < argc ? js_u8_bytes(ctx, argv[i], len) : NULL;
    if (!p)
        fail(ctx, exc, "InvalidArgument", "storage: expected a Uint8Array");
    return p;
}

/* native.storageWriteTmp(bytes, sha256|null) -> [tmpName, sha256]: an action's
 * ctx.storage.store(): the bytes (at most opts.max_file_bytes) in a new temporary file of the
 * files directory, fsynced, with their SHA-256 (standard base64). With sha256 (Convex's option:
 * the expected digest in base64) a mismatch removes the file and throws Sha256Mismatch. */
static JSValueRef n_write_tmp(JSContextRef ctx, JSObjectRef fn, JSObjectRef self, size_t argc,
                              const JSValueRef argv[], JSValueRef *exc)
{
    struct js_runtime *rt = rt_files(ctx, self, exc);
    size_t n = 0;
    const unsigned char *p = rt ? bytes_arg(ctx, argc, argv, 0, &n, exc) : NULL;
    if (!p)
        return JSValueMakeUndefined(ctx);
    size_t cap = rt->opts.max_file_bytes ? rt->opts.max_file_bytes : JS_STORAGE_MAX_FILE_DEFAULT;
    char m[512];
    if (n > cap) {
        snprintf(m, sizeof m,
                 "storage.store(): the file is %zu bytes, larger than the limit of %zu bytes",
                 n, cap);
        return fail(ctx, exc, "UploadTooLarge", m);
    }
    unsigned char want[48];
    int has_want = argc > 1 && JSValueIsString(ctx, argv[1]);
    if (has_want) {
        buf_reset(&rt->s1);
        if (js_to_buf(ctx, argv[1], &rt->s1, exc) < 0)
            return JSValueMakeUndefined(ctx);
        if (rt->s1.len > 64 || base64_decode(want, rt->s1.data, rt->s1.len) != 32) {
            snprintf(m, sizeof m,
                     "storage.store(): options.sha256 must be the SHA-256 digest of the file in "
                     "base64 (44 characters), got \"%.80s\"",
                     rt->s1.data);
            return fail(ctx, exc, "InvalidDigestHeader", m);
        }
    }
    char tmp[STORE_FILE_TMP_LEN + 1], sha[45];
    buf_reset(&rt->s3);
    if (store_file_write_tmp(rt->opts.files_dir, p, n, tmp, sha, &rt->s3) < 0)
        return fail(ctx, exc, "StoreError", rt->s3.data);
    if (has_want) {
        unsigned char got[48];
        if (base64_decode(got, sha, 44) != 32 || memcmp(got, want, 32) != 0) {
            store_file_remove(rt->opts.files_dir, tmp);
            struct buf w = BUF_INIT(64);
            base64_encode(&w, want, 32, 0);
            snprintf(m, sizeof m, "Sha256 mismatch. Expected: %s Actual: %s", w.data, sha);
            buf_release(&w);
            return fail(ctx, exc, "Sha256Mismatch", m);
        }
    }
    JSValueRef parts[2] = { str_val(ctx, tmp), str_val(ctx, sha) };
    return JSObjectMakeArray(ctx, 2, parts, exc);
}

/* native.storageRemoveTmp(tmpName): a temporary file no mutation took (a failed store()). */
static JSValueRef n_remove_tmp(JSContextRef ctx, JSObjectRef fn, JSObjectRef self, size_t argc,
                               const JSValueRef argv[], JSValueRef *exc)
{
    struct js_runtime *rt = rt_files(ctx, self, exc);
    if (!rt || arg_str(ctx, argc, argv, 0, &rt->s1, exc) < 0)
        return JSValueMakeUndefined(ctx);
    if (store_file_tmp_name_ok(rt->s1.data))
        store_file_remove(rt->opts.files_dir, rt->s1.data);
    return JSValueMakeUndefined(ctx);
}

/* The most ctx.storage.get() reads into an action's memory: a quarter of the memory limit (the
 * Blob, plus a copy from arrayBuffer() or bytes(), plus text()'s string fit under it). */
static size_t read_max(const struct js_runtime *rt)
{
    return ((size_t)rt->opts.memory_limit_mb << 20) / 4;
}

/* native.storageRead(id) -> ArrayBuffer of the stored file's bytes, or null when there is no
 * such file (deleted meanwhile). The id's document was read first (46_storage.js). */
static JSValueRef n_read(JSContextRef ctx, JSObjectRef fn, JSObjectRef self, size_t argc,
                         const JSValueRef argv[], JSValueRef *exc)
{
    struct js_runtime *rt = rt_files(ctx, self, exc);
    if (!rt || arg_str(ctx, argc, argv, 0, &rt->s1, exc) < 0)
        return JSValueMakeUndefined(ctx);
    int ok = rt->s1.len == STORE_ID_LEN;
    for (size_t i = 0; ok && i < rt->s1.len; i++)
        ok = (rt->s1.data[i] >= 'a' && rt->s1.data[i] <= 'z') ||
             (rt->s1.data[i] >= '0' && rt->s1.data[i] <= '9');
    char m[PATH_MAX + 128];
    if (!ok) {
        snprintf(m, sizeof m, "storage.get(): Invalid storage ID: \"%.100s\"", rt->s1.data);
        return fail(ctx, exc, "InvalidArgument", m);
    }
    char path[PATH_MAX];
    if (snprintf(path, sizeof path, "%s/%s", rt->opts.files_dir, rt->s1.data) >=
        (int)sizeof path)
        return fail(ctx, exc, "StoreError", "the storage directory's path is too long");
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 && errno == ENOENT)
        return JSValueMakeNull(ctx);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0) {
        snprintf(m, sizeof m, "storage.get(): cannot read %s: %s", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return fail(ctx, exc, "StoreError", m);
    }
    size_t n = (size_t)st.st_size, cap = read_max(rt);
    if (n > cap) {
        close(fd);
        snprintf(m, sizeof m,
                 "storage.get(): the file is %zu bytes, larger than the %zu bytes an action may "
                 "read into memory (a quarter of the memory limit of %u MiB); serve it with "
                 "storage.getUrl() instead",
                 n, cap, rt->opts.memory_limit_mb);
        return fail(ctx, exc, "FileTooLarge", m);
    }
    unsigned char *data = vr_malloc(n ? n : 1);
    size_t done = 0;
    while (done < n) {
        ssize_t r = read(fd, data + done, n - done);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            snprintf(m, sizeof m, "storage.get(): cannot read %s: %s", path,
                     r < 0 ? strerror(errno) : "the file is shorter than its size");
            close(fd);
            vr_free(data);
            return fail(ctx, exc, "StoreError", m);
        }
        done += (size_t)r;
    }
    close(fd);
    return js_buffer_take(ctx, data, n, exc);
}

void js_native_storage_add(JSContextRef ctx, JSObjectRef native)
{
    static const struct js_native_fn fns[] = {
        {"storageUploadUrl", n_upload_url},
        {"storageBase", n_base},
        {"storageCommit", n_commit},
        {"storageDelete", n_delete},
        {"storageWriteTmp", n_write_tmp},
        {"storageRemoveTmp", n_remove_tmp},
        {"storageRead", n_read},
    };
    js_native_add_fns(ctx, native, fns, sizeof fns / sizeof fns[0]);
}
