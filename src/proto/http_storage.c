/* http_storage: uploads and downloads of stored files (http_storage.h). An upload is checked
 * (its URL's signature and expiry, its size) before anything is written; its bytes go to a
 * temporary file, fsynced, which the internal mutation `_system/storage:store` turns into a
 * `_storage` document and renames to the document's id in the same transaction (its token's
 * nonce recorded there, so a URL works once); the answer waits for the batch's commit. The
 * request body is held in memory (bounded by --max-upload-mb and --max-body), and so is a
 * served file. */
#include "proto/http_storage.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/log.h"
#include "base/mem.h"
#include "base/banned.h"

#define STORE_PATH "_system/storage:store"
#define META_PATH "_system/storage:getMetadata"
#define MAX_CONTENT_TYPE 1024

/* The value of query parameter `name` (not decoded: tokens are URL-safe), or an empty slice. */
static struct slice query_param(struct slice q, const char *name)
{
    size_t nl = strlen(name);
    const char *p = q.p, *end = q.p + q.len;
    while (p < end) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        const char *e = amp ? amp : end;
        if ((size_t)(e - p) > nl && !memcmp(p, name, nl) && p[nl] == '=')
            return slice_of(p + nl + 1, (size_t)(e - p) - nl - 1);
        p = e + 1;
    }
    return slice_of(NULL, 0);
}

static int run_system(struct shard *sh, const char *path, json_t *args, struct js_result *res)
{
    const struct js_function *fn = sh->rt ? js_runtime_find(sh->rt, path) : NULL;
    char *text = json_dumps(args, JSON_COMPACT);
    json_decref(args);
    if (!fn || !text) {
        free(text);
        return -2;
    }
    int r = shard_call(sh, fn, text, strlen(text), NULL, res);
    free(text);
    return r;
}

static void handle_upload(struct http_api *api, struct conn *c, struct http_request *req)
{
    struct shard *sh = api->shard;
    size_t cap = api->max_upload_bytes ? api->max_upload_bytes : HTTP_STORAGE_UPLOAD_DEFAULT;
    if (!sh->rt) {
        http_api_respond_error(c, 503, "NoAppLoaded", "no app is loaded", NULL);
        return;
    }
    if (!sh->files_dir) {
        http_api_respond_error(c, 503, "StorageUnavailable",
                               "file storage needs a database on disk", NULL);
        return;
    }
    if (req->body.len > cap) {
        char m[128];
        snprintf(m, sizeof m, "the upload is larger than the limit of %zu bytes", cap);
        http_api_respond_error(c, 413, "UploadTooLarge", m, NULL);
        return;
    }
    struct slice tok = query_param(req->query, "token");
    char nonce[33];
    double expires;
    struct buf err = BUF_INIT(4096);
    int r = store_storage_token_check(sh->store, tok.p ? tok.p : "", tok.len, clock_wall_ms(),
                                      nonce, &expires, &err);
    if (r < 0) {
        http_api_respond_error(c, r == -2 ? 410 : 400,
                               r == -2 ? "UploadUrlExpired" : "InvalidUploadUrl", err.data, NULL);
        buf_release(&err);
        return;
    }
    const struct slice *ct = http_header_get(req, "content-type");
    if (ct && ct->len > MAX_CONTENT_TYPE) {
        http_api_respond_error(c, 400, "InvalidArgument", "the Content-Type is too long", NULL);
        buf_release(&err);
        return;
    }
    char tmp[STORE_FILE_TMP_LEN + 1], sha[45];
    if (store_file_write_tmp(sh->files_dir, req->body.p, req->body.len, tmp, sha, &err) < 0) {
        log_error("storage", "upload: %s", err.data);
        http_api_respond_error(c, 500, "StoreError", err.data, NULL);
        buf_release(&err);
        return;
    }
    json_t *args = json_pack("{s:s, s:s, s:f, s:s}", "tmp", tmp, "sha256", sha, "size",
                             (double)req->body.len, "nonce", nonce);
    if (ct && ct->len) {
        json_t *v = json_stringn(ct->p, ct->len);
        if (v)
            json_object_set_new(args, "contentType", v);
    }
    struct js_result res;
    js_result_init(&res);
    r = run_system(sh, STORE_PATH, args, &res);
    if (r < 0) {
        store_file_remove(sh->files_dir, tmp);
        const char *code = r == -2 ? "InternalError" : res.error_code.data;
        int status = !strcmp(code, "UploadUrlUsed") ? 410 : 500;
        http_api_respond_error(c, status, code,
                               r == -2 ? "the storage functions are missing" : res.error.data,
                               NULL);
    } else {
        struct buf body = BUF_INIT(BUF_NOLIMIT);
        buf_appendf(&body, "{\"storageId\":%s}", res.value.data);
        http_api_respond_call(api, c, 200, 0, &body);
        buf_release(&body);
    }
    js_result_release(&res);
    buf_release(&err);
}

/* A single "bytes=" range of a file of `size` bytes: 1 with [*from, *to], 0 for none (or one
 * this server answers with the whole file: several ranges), -1 unsatisfiable or malformed. */
static int parse_range(const struct slice *h, uint64_t size, uint64_t *from, uint64_t *to)
{
    if (!h)
        return 0;
    char v[128];
    if (h->len >= sizeof v || h->len < 7 || memcmp(h->p, "bytes=", 6))
        return -1;
    memcpy(v, h->p + 6, h->len - 6);
    v[h->len - 6] = '\0';
    if (strchr(v, ','))
        return 0;
    char *dash = strchr(v, '-'), *e;
    if (!dash)
        return -1;
    *dash = '\0';
    if (v[0] == '\0') { /* the last n bytes */
        unsigned long long n = strtoull(dash + 1, &e, 10);
        if (*e || dash[1] == '\0' || n == 0 || size == 0)
            return -1;
        *from = n >= size ? 0 : size - n;
        *to = size - 1;
        return 1;
    }
    unsigned long long a = strtoull(v, &e, 10);
    if (*e || a >= size)
        return -1;
    unsigned long long b = size - 1;
    if (dash[1]) {
        b = strtoull(dash + 1, &e, 10);
        if (*e || b < a)
            return -1;
        if (b >= size)
            b = size - 1;
    }
    *from = a;
    *to = b;
    return 1;
}

static int read_all(int fd, char *p, size_t n)
{
    size_t done = 0;
    while (done < n) {
        ssize_t r = read(fd, p + done, n - done);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return -1;
        done += (size_t)r;
    }
    return 0;
}

static void handle_serve(struct http_api *api, struct conn *c, struct http_request *req,
                         struct slice id)
{
    struct shard *sh = api->shard;
    char idz[STORE_ID_LEN + 1];
    const char *t = NULL;
    if (id.len == STORE_ID_LEN) {
        memcpy(idz, id.p, id.len);
        idz[id.len] = '\0';
        t = store_id_table(sh->store, idz, id.len);
    }
    if (!t || strcmp(t, STORE_STORAGE_TABLE) || !sh->files_dir || !sh->rt) {
        http_api_respond_error(c, 404, "NotFound", "no such file", NULL);
        return;
    }
    struct js_result res;
    js_result_init(&res);
    int r = run_system(sh, META_PATH, json_pack("{s:s}", "id", idz), &res);
    json_t *meta = r == 0 ? json_loads(res.value.data, 0, NULL) : NULL;
    js_result_release(&res);
    const char *sha = json_string_value(json_object_get(meta, "sha256"));
    const char *ctype = json_string_value(json_object_get(meta, "contentType"));
    char path[PATH_MAX];
    int fd = -1;
    struct stat st;
    if (!sha || snprintf(path, sizeof path, "%s/%s", sh->files_dir, idz) >= (int)sizeof path ||
        (fd = open(path, O_RDONLY | O_CLOEXEC)) < 0 || fstat(fd, &st) < 0) {
        if (r != 0)
            http_api_respond_error(c, 500, "StoreError", "cannot read the file's metadata", NULL);
        else
            http_api_respond_error(c, 404, "NotFound", "no such file", NULL);
        goto out;
    }
    uint64_t size = (uint64_t)st.st_size, from = 0, to = size ? size - 1 : 0;
    struct buf hdr = BUF_INIT(4096);
    buf_appendf(&hdr,
                "ETag: \"%s\"\r\nCache-Control: private, max-age=2592000, immutable\r\n"
                "Accept-Ranges: bytes\r\nAccess-Control-Allow-Origin: *\r\n",
                sha);
    const struct slice *inm = http_header_get(req, "if-none-match");
    if (inm && inm->len == strlen(sha) + 2 && inm->p[0] == '"' &&
        !memcmp(inm->p + 1, sha, strlen(sha))) {
        http_respond(c, 304, NULL, NULL, 0, hdr.data);
        buf_release(&hdr);
        goto out;
    }
    int rg = parse_range(http_header_get(req, "range"), size, &from, &to);
    if (rg < 0) {
        buf_appendf(&hdr, "Content-Range: bytes */%llu\r\n", (unsigned long long)size);
        http_respond(c, 416, "text/plain", "range not satisfiable", 21, hdr.data);
        buf_release(&hdr);
        goto out;
    }
    size_t n = size ? (size_t)(to - from + 1) : 0;
    char *data = vr_malloc(n ? n : 1);
    if (n && (lseek(fd, (off_t)from, SEEK_SET) < 0 || read_all(fd, data, n) < 0)) {
        http_api_respond_error(c, 500, "StoreError", "cannot read the stored file", NULL);
    } else {
        if (rg > 0)
            buf_appendf(&hdr, "Content-Range: bytes %llu-%llu/%llu\r\n",
                        (unsigned long long)from, (unsigned long long)to,
                        (unsigned long long)size);
        http_respond(c, rg > 0 ? 206 : 200, ctype ? ctype : "application/octet-stream", data, n,
                     hdr.data);
    }
    vr_free(data);
    buf_release(&hdr);
out:
    if (fd >= 0)
        close(fd);
    json_decref(meta);
}

void http_storage_handle(struct http_api *api, struct conn *c, struct http_request *req,
                         struct slice rest, int is_post, int is_get)
{
    if (slice_eq_str(rest, "upload")) {
        if (!is_post)
            http_api_respond_error(c, 405, "MethodNotAllowed",
                                   "POST the file's bytes to the upload URL", NULL);
        else
            handle_upload(api, c, req);
        return;
    }
    if (!is_get) {
        http_api_respond_error(c, 405, "MethodNotAllowed", "use GET to read a stored file", NULL);
        return;
    }
    handle_serve(api, c, req, rest);
}
