/* http_storage: uploads and downloads of stored files (http_storage.h). An upload is checked
 * from its head (its URL's signature and expiry, its declared size) before any byte of its body
 * is read; the body is streamed (the server's head hook) to a temporary file as it arrives, its
 * SHA-256 computed on the way, refused past --max-upload-mb (413, the file removed), fsynced,
 * and the internal mutation `_system/storage:store` turns it into a `_storage` document and
 * renames it to the document's id in the same transaction (its token's nonce recorded there, so
 * a URL works once); the answer waits for the batch's commit. A served file goes out from its
 * file descriptor as the client reads (http_respond_fd): neither direction holds a file in
 * memory. */
#include "proto/http_storage.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/clock.h"
#include "base/log.h"
#include "base/mem.h"
#include "base/banned.h"

#define STORE_PATH "_system/storage:store"
#define META_PATH "_system/storage:getMetadata"
#define MAX_CONTENT_TYPE 1024

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

/* An upload in progress: its temporary file and what its mutation needs. */
struct upload {
    struct http_body_sink sink; /* first: the server's callbacks get it */
    struct http_api *api;
    struct store_file_tmp file;
    size_t cap;
    uint64_t space_left; /* under the storage limit when it began (UINT64_MAX: no limit) */
    char nonce[33];
    char *content_type; /* NULL: none sent */
};

static void upload_free(struct upload *up, int keep_file)
{
    up->api->uploads--;
    store_file_tmp_release(&up->file, keep_file);
    vr_free(up->content_type);
    vr_free(up);
}

static void too_large(struct conn *c, size_t cap)
{
    char m[128];
    snprintf(m, sizeof m, "the upload is larger than the limit of %zu bytes", cap);
    http_api_respond_error(c, 413, "UploadTooLarge", m, NULL);
}

/* 507 StorageLimitExceeded: a file of `size` bytes (at least) does not fit under the shard's
 * storage limit (--max-tenant-storage-mb). */
static void over_limit(struct conn *c, struct store *st, const struct store_usage *u,
                       uint64_t size)
{
    struct buf m = BUF_INIT(4096);
    store_full_message(st, u, size, &m);
    http_api_respond_error(c, 507, "StorageLimitExceeded", m.data, NULL);
    buf_release(&m);
}

/* The bytes a new file may have under the storage limit (UINT64_MAX: no limit), measured now;
 * the file's mutation checks again when it stores it. */
static uint64_t space_left(struct store *st, struct store_usage *u)
{
    memset(u, 0, sizeof *u);
    if (!store_max_bytes(st))
        return UINT64_MAX;
    struct buf err = BUF_INIT(4096);
    int r = store_usage(st, u, &err);
    buf_release(&err);
    if (r < 0 || !u->limit_bytes)
        return UINT64_MAX;
    uint64_t used = u->database_bytes + u->file_bytes;
    return used >= u->limit_bytes ? 0 : u->limit_bytes - used;
}

/* Checks an upload's head (app, storage, token, Content-Type, declared size) and opens its
 * temporary file: the upload, or NULL after answering why not. Nothing is written before. */
static struct upload *upload_begin(struct http_api *api, struct conn *c, struct http_request *req)
{
    struct shard *sh = api->shard;
    size_t cap = api->max_upload_bytes ? api->max_upload_bytes : HTTP_STORAGE_UPLOAD_DEFAULT;
    if (!sh->rt) {
        http_api_respond_error(c, 503, "NoAppLoaded", shard_no_app_text(sh, "no app is loaded"),
                               NULL);
        return NULL;
    }
    if (!sh->files_dir) {
        http_api_respond_error(c, 503, "StorageUnavailable",
                               "file storage needs a database on disk", NULL);
        return NULL;
    }
    if (req->content_length > 0 && (unsigned long long)req->content_length > cap) {
        too_large(c, cap);
        return NULL;
    }
    struct slice tok = slice_of(NULL, 0); /* not decoded: tokens are URL-safe */
    http_query_param(req->query, "token", &tok);
    char nonce[33];
    double expires;
    struct buf err = BUF_INIT(4096);
    int r = store_storage_token_check(sh->store, tok.p ? tok.p : "", tok.len, clock_wall_ms(),
                                      nonce, &expires, &err);
    if (r < 0) {
        http_api_respond_error(c, r == -2 ? 410 : 400,
                               r == -2 ? "UploadUrlExpired" : "InvalidUploadUrl", err.data, NULL);
        buf_release(&err);
        return NULL;
    }
    struct store_usage usage;
    uint64_t left = space_left(sh->store, &usage);
    if (left != UINT64_MAX && req->content_length >= 0 &&
        (unsigned long long)req->content_length > left) {
        over_limit(c, sh->store, &usage, (uint64_t)req->content_length);
        buf_release(&err);
        return NULL;
    }
    const struct slice *ct = http_header_get(req, "content-type");
    if (ct && ct->len > MAX_CONTENT_TYPE) {
        http_api_respond_error(c, 400, "InvalidArgument", "the Content-Type is too long", NULL);
        buf_release(&err);
        return NULL;
    }
    struct upload *up = vr_calloc(1, sizeof *up);
    up->api = api;
    api->uploads++; /* the tenant stays open until it ends (tenant_busy) */
    up->cap = cap;
    up->space_left = left;
    memcpy(up->nonce, nonce, sizeof nonce);
    if (ct && ct->len)
        up->content_type = vr_strndup(ct->p, ct->len);
    if (store_file_tmp_open(&up->file, sh->files_dir, &err) < 0) {
        log_error("storage", "upload: %s", err.data);
        http_api_respond_error(c, 500, "StoreError", err.data, NULL);
        upload_free(up, 0);
        up = NULL;
    }
    buf_release(&err);
    return up;
}

/* The next bytes of the body: to the temporary file, within the cap. 0, or -1 after answering
 * (the upload is gone, its file removed). */
static int upload_data(struct upload *up, struct conn *c, const char *p, size_t n)
{
    /* past a limit the temporary file goes before the answer: a client that sees the answer
     * finds nothing left */
    if (n > up->cap - up->file.size) {
        size_t cap = up->cap;
        upload_free(up, 0);
        too_large(c, cap);
        return -1;
    }
    if (up->space_left != UINT64_MAX && n > up->space_left - up->file.size) {
        struct store *st = up->api->shard->store;
        uint64_t size = up->file.size + n;
        struct store_usage usage;
        upload_free(up, 0);
        space_left(st, &usage);
        over_limit(c, st, &usage, size);
        return -1;
    }
    struct buf err = BUF_INIT(4096);
    int r = store_file_tmp_write(&up->file, p, n, &err);
    if (r < 0) {
        log_error("storage", "upload: %s", err.data);
        http_api_respond_error(c, 500, "StoreError", err.data, NULL);
        upload_free(up, 0);
    }
    buf_release(&err);
    return r;
}

/* The whole body is in the temporary file: fsync it and run `_system/storage:store`, which
 * inserts the `_storage` document and renames the file to its id in one transaction; the answer
 * waits for the batch's commit (http_api_respond_call). Frees the upload. */
static void upload_end(struct upload *up, struct conn *c)
{
    struct shard *sh = up->api->shard;
    struct buf err = BUF_INIT(4096);
    char sha[45];
    if (store_file_tmp_finish(&up->file, sha, &err) < 0) {
        log_error("storage", "upload: %s", err.data);
        http_api_respond_error(c, 500, "StoreError", err.data, NULL);
        upload_free(up, 0);
        buf_release(&err);
        return;
    }
    json_t *args = json_pack("{s:s, s:s, s:f, s:s}", "tmp", up->file.name, "sha256", sha, "size",
                             (double)up->file.size, "nonce", up->nonce);
    if (up->content_type) {
        json_t *v = json_string(up->content_type);
        if (v)
            json_object_set_new(args, "contentType", v);
    }
    struct js_result res;
    js_result_init(&res);
    int r = sh->rt ? run_system(sh, STORE_PATH, args, &res) : (json_decref(args), -2);
    if (r < 0) {
        const char *code = r == -2 ? "InternalError" : res.error_code.data;
        int status = !strcmp(code, "UploadUrlUsed")          ? 410
                     : !strcmp(code, "StorageLimitExceeded") ? 507
                                                             : 500;
        http_api_respond_error(
            c, status, code, r == -2 ? "the storage functions are missing" : res.error.data, NULL);
        upload_free(up, 0);
    } else {
        struct buf body = BUF_INIT(BUF_NOLIMIT);
        buf_appendf(&body, "{\"storageId\":%s}", res.value.data);
        http_api_respond_call(up->api, c, 200, 0, &body);
        buf_release(&body);
        upload_free(up, 1); /* renamed: the name is the document's now */
    }
    js_result_release(&res);
    buf_release(&err);
}

static int sink_data(struct http_body_sink *k, struct conn *c, const char *p, size_t n)
{
    return upload_data((struct upload *)k, c, p, n);
}

static void sink_end(struct http_body_sink *k, struct conn *c, struct http_request *req)
{
    upload_end((struct upload *)k, c);
}

static void sink_abort(struct http_body_sink *k, struct conn *c)
{
    struct upload *up = (struct upload *)k;
    log_debug("storage", "conn=%llu upload abandoned after %llu bytes",
              (unsigned long long)conn_id(c), (unsigned long long)up->file.size);
    upload_free(up, 0);
}

int http_storage_head(struct http_api *api, struct conn *c, struct http_request *req)
{
    if (!slice_eq_str(req->method, "POST") || !slice_eq_str(req->path, "/api/storage/upload"))
        return 0;
    struct upload *up = upload_begin(api, c, req);
    if (up) {
        up->sink.data = sink_data;
        up->sink.end = sink_end;
        up->sink.abort = sink_abort;
        conn_stream_body(c, &up->sink);
    }
    return 1;
}

/* An upload whose body came whole (one without a body: the head hook streams the others). */
static void handle_upload(struct http_api *api, struct conn *c, struct http_request *req)
{
    struct upload *up = upload_begin(api, c, req);
    if (!up || (req->body.len && upload_data(up, c, req->body.p, req->body.len) < 0))
        return;
    upload_end(up, c);
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

/* Stored files are the uploaders' bytes, served on the app's own origin (Convex serves them from
 * another one): an HTML or SVG file opened there would run its scripts as the app (its
 * localStorage holds the users' tokens). So the browser is told not to guess a type, and every
 * file but a PDF (whose viewer a sandbox blocks, and which runs no script in the origin) is a
 * sandboxed document: images, video and audio still show, a page's scripts do not run. */
static const char *inert_headers(const char *ctype)
{
    static const char pdf[] = "application/pdf";
    int is_pdf = ctype && !strncasecmp(ctype, pdf, sizeof pdf - 1) &&
                 (ctype[sizeof pdf - 1] == '\0' || ctype[sizeof pdf - 1] == ';');
    return is_pdf ? "X-Content-Type-Options: nosniff\r\n"
                  : "X-Content-Type-Options: nosniff\r\nContent-Security-Policy: sandbox\r\n";
}

/* Is p[0..n) the file's entity tag "<sha>", exactly (RFC 9110's strong comparison)? */
static int is_etag(const char *p, size_t n, const char *sha)
{
    size_t shal = strlen(sha);
    return n == shal + 2 && p[0] == '"' && p[n - 1] == '"' && !memcmp(p + 1, sha, shal);
}

/* If-None-Match (RFC 9110 §13.1.2): "*" or a list of entity tags, weak ones (W/) compared by
 * their tag, against the file's ETag "<sha>". */
static int none_match_hits(struct slice v, const char *sha)
{
    for (size_t i = 0; i < v.len;) {
        while (i < v.len && (v.p[i] == ' ' || v.p[i] == '\t' || v.p[i] == ','))
            i++;
        size_t j = i;
        while (j < v.len && v.p[j] != ',')
            j++;
        size_t e = j; /* the element is v.p[i..e), its trailing whitespace dropped */
        while (e > i && (v.p[e - 1] == ' ' || v.p[e - 1] == '\t'))
            e--;
        if (e - i == 1 && v.p[i] == '*')
            return 1;
        if (e - i >= 2 && v.p[i] == 'W' && v.p[i + 1] == '/')
            i += 2;
        if (is_etag(v.p + i, e - i, sha))
            return 1;
        i = j;
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
                "Accept-Ranges: bytes\r\nAccess-Control-Allow-Origin: *\r\n%s",
                sha, inert_headers(ctype));
    const struct slice *inm = http_header_get(req, "if-none-match");
    if (inm && none_match_hits(*inm, sha)) {
        http_respond(c, 304, NULL, NULL, 0, hdr.data);
        buf_release(&hdr);
        goto out;
    }
    /* If-Range (RFC 9110 §13.1.5): the range only for the same bytes — a strong match of the
     * ETag (a date never matches: no Last-Modified is sent); else the whole file */
    const struct slice *ifr = http_header_get(req, "if-range");
    int whole = ifr && !is_etag(ifr->p, ifr->len, sha);
    int rg = whole ? 0 : parse_range(http_header_get(req, "range"), size, &from, &to);
    if (rg < 0) {
        buf_appendf(&hdr, "Content-Range: bytes */%llu\r\n", (unsigned long long)size);
        http_respond(c, 416, "text/plain", "range not satisfiable", 21, hdr.data);
        buf_release(&hdr);
        goto out;
    }
    if (rg > 0)
        buf_appendf(&hdr, "Content-Range: bytes %llu-%llu/%llu\r\n", (unsigned long long)from,
                    (unsigned long long)to, (unsigned long long)size);
    http_respond_fd(c, rg > 0 ? 206 : 200, ctype ? ctype : "application/octet-stream", fd, from,
                    size ? to - from + 1 : 0, hdr.data);
    fd = -1; /* the server's now */
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
