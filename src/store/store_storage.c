/* store_storage: Convex's `_storage` system table (store.h "File storage"): one document per
 * stored file, {sha256, size, contentType?}, an ordinary document table of the catalog (so live
 * queries over it re-run) that no app can write, and the database's secret that signs upload
 * URLs (kept in _vr_meta, made once with the table). The bytes are the callers' (proto/ and
 * js/ keep them in files named by the document's id). */
#include "store/store_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/base64.h"
#include "base/log.h"
#include "base/rand.h"

#include "base/banned.h"

int st_storage_ensure(struct store *s, struct buf *err)
{
    char hex[2 * STORE_STORAGE_SECRET_LEN + 1];
    rand_hex(hex, STORE_STORAGE_SECRET_LEN);
    hex[sizeof hex - 1] = '\0';
    char sql[160];
    snprintf(sql, sizeof sql, "INSERT OR IGNORE INTO _vr_meta VALUES ('storage_secret', '%s')",
             hex);
    if (st_exec(s, sql, err) < 0)
        return -1;
    if (st_table_find(s, STORE_STORAGE_TABLE))
        return 0;
    struct st_table *tb = NULL;
    if (st_exec(s, "BEGIN IMMEDIATE", err) < 0)
        return -1;
    if (st_table_create(s, STORE_STORAGE_TABLE, &tb, err) < 0 || st_exec(s, "COMMIT", err) < 0) {
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
        struct buf tmp = BUF_INIT(4096);
        st_catalog_load(s, &tmp);
        buf_release(&tmp);
        return -1;
    }
    return st_catalog_load(s, err);
}

int store_storage_secret(struct store *s, unsigned char out[STORE_STORAGE_SECRET_LEN],
                         struct buf *err)
{
    sqlite3_stmt *st =
        st_prep(s, NULL, err, "SELECT v FROM _vr_meta WHERE k = 'storage_secret'");
    if (!st)
        return -1;
    int r = -1;
    if (sqlite3_step(st) == SQLITE_ROW &&
        sqlite3_column_bytes(st, 0) == 2 * STORE_STORAGE_SECRET_LEN) {
        const char *h = (const char *)sqlite3_column_text(st, 0);
        r = 0;
        for (int i = 0; i < STORE_STORAGE_SECRET_LEN && r == 0; i++) {
            unsigned v;
            if (sscanf(h + 2 * i, "%2x", &v) != 1)
                r = -1;
            out[i] = (unsigned char)v;
        }
    }
    sqlite3_finalize(st);
    if (r < 0)
        buf_fail(err, "the database's storage secret is missing or malformed");
    return r;
}

int store_storage_insert(struct store_txn *t, const char *sha256_b64, uint64_t size,
                         const char *content_type, char id_out[STORE_ID_LEN + 1], struct buf *err)
{
    json_t *doc = json_pack("{s:s, s:f}", "sha256", sha256_b64, "size", (double)size);
    if (!doc)
        return buf_fail(err, "file metadata is not valid UTF-8");
    if (content_type) {
        json_t *ct = json_string(content_type);
        if (!ct) {
            json_decref(doc);
            return buf_fail(err, "the Content-Type is not valid UTF-8");
        }
        json_object_set_new(doc, "contentType", ct);
    }
    char *text = json_dumps(doc, JSON_COMPACT);
    json_decref(doc);
    if (!text)
        return buf_fail(err, "out of memory");
    int r = st_insert_file(t, STORE_STORAGE_TABLE, text, strlen(text), size, id_out, err);
    free(text);
    return r;
}

/* ---- upload tokens: base64url(nonce[16] | expires_ms as 8 bytes big-endian) "." base64url(
 * HMAC-SHA256(secret, "vireo-upload-1" | those 24 bytes)) ---- */
#define TOKEN_PAYLOAD 24

static int token_mac(struct store *s, const unsigned char payload[TOKEN_PAYLOAD],
                     unsigned char mac[32], struct buf *err)
{
    unsigned char key[STORE_STORAGE_SECRET_LEN];
    if (store_storage_secret(s, key, err) < 0)
        return -1;
    unsigned char msg[14 + TOKEN_PAYLOAD];
    memcpy(msg, "vireo-upload-1", 14);
    memcpy(msg + 14, payload, TOKEN_PAYLOAD);
    unsigned int len = 32;
    int ok = HMAC(EVP_sha256(), key, sizeof key, msg, sizeof msg, mac, &len) != NULL;
    OPENSSL_cleanse(key, sizeof key);
    return ok ? 0 : buf_fail(err, "HMAC failed");
}

int store_storage_token(struct store *s, double expires_ms, struct buf *out, struct buf *err)
{
    unsigned char payload[TOKEN_PAYLOAD], mac[32];
    rand_bytes(payload, 16);
    uint64_t e = (uint64_t)expires_ms;
    for (int i = 0; i < 8; i++)
        payload[16 + i] = (unsigned char)(e >> (56 - 8 * i));
    if (token_mac(s, payload, mac, err) < 0)
        return -1;
    if (base64_encode(out, payload, sizeof payload, 1) < 0 || buf_append_byte(out, '.') < 0 ||
        base64_encode(out, mac, sizeof mac, 1) < 0)
        return buf_fail(err, "the upload URL is too long");
    while (out->len && out->data[out->len - 1] == '=')
        out->data[--out->len] = '\0';
    return 0;
}

int store_storage_token_check(struct store *s, const char *tok, size_t len, double now_ms,
                              char nonce_hex[33], double *expires_ms, struct buf *err)
{
    const char *dot = memchr(tok, '.', len);
    unsigned char payload[TOKEN_PAYLOAD + 3], mac[32 + 3], want[32];
    if (!dot || dot - tok != 32 || len - 33 != 43 ||
        base64_decode(payload, tok, 32) != TOKEN_PAYLOAD ||
        base64_decode(mac, dot + 1, 43) != 32)
        return buf_fail(err, "the upload URL is malformed (its token is not one Vireo made)");
    if (token_mac(s, payload, want, err) < 0)
        return -1;
    if (CRYPTO_memcmp(mac, want, 32) != 0)
        return buf_fail(err, "the upload URL is invalid (its signature does not match)");
    uint64_t e = 0;
    for (int i = 0; i < 8; i++)
        e = e << 8 | payload[16 + i];
    *expires_ms = (double)e;
    for (int i = 0; i < 16; i++)
        snprintf(nonce_hex + 2 * i, 3, "%02x", payload[i]);
    if ((double)e < now_ms) {
        buf_fail(err, "the upload URL has expired; generate a new one");
        return -2;
    }
    return 0;
}

/* ---- the files ---- */

int store_files_open_dir(const char *dir, struct buf *err)
{
    if (mkdir(dir, 0700) < 0 && errno != EEXIST)
        return buf_fail(err, "cannot create %s: %s", dir, strerror(errno));
    DIR *d = opendir(dir);
    if (!d)
        return buf_fail(err, "cannot open %s: %s", dir, strerror(errno));
    struct dirent *e;
    int fd = dirfd(d);
    while ((e = readdir(d)))
        if (!strncmp(e->d_name, "tmp-", 4))
            unlinkat(fd, e->d_name, 0); /* an upload a crash interrupted: never visible */
    closedir(d);
    return 0;
}

int store_files_sweep(struct store *s, const char *dir, size_t *removed, struct buf *err)
{
    *removed = 0;
    DIR *d = opendir(dir);
    if (!d)
        return buf_fail(err, "cannot open %s: %s", dir, strerror(errno));
    struct store_txn *t = store_txn_begin(s, 0, err);
    if (!t) {
        closedir(d);
        return -1;
    }
    int fd = dirfd(d), r = 0;
    struct buf doc = BUF_INIT(BUF_NOLIMIT);
    struct dirent *e;
    while ((e = readdir(d))) {
        const char *n = e->d_name;
        struct stat st;
        if (n[0] == '.' || fstatat(fd, n, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode))
            continue; /* only regular files are ours to judge */
        size_t len = strlen(n);
        const char *tb = len == STORE_ID_LEN ? store_id_table(s, n, len) : NULL;
        int found = 0;
        if (tb && !strcmp(tb, STORE_STORAGE_TABLE)) {
            buf_reset(&doc);
            if (store_get(t, n, len, &doc, &found, err) < 0) {
                r = -1;
                break;
            }
        }
        if (found)
            continue;
        if (unlinkat(fd, n, 0) < 0 && errno != ENOENT) {
            log_warn("storage", "cannot remove %s/%s: %s", dir, n, strerror(errno));
            continue;
        }
        log_info("storage", "removed \"%s/%s\": no `_storage` document names it", dir, n);
        (*removed)++;
    }
    buf_release(&doc);
    store_txn_abort(t);
    store_txn_free(t);
    closedir(d);
    return r;
}

static int file_path(char *out, size_t n, const char *dir, const char *name)
{
    return snprintf(out, n, "%s/%s", dir, name) < (int)n ? 0 : -1;
}

int store_file_tmp_open(struct store_file_tmp *f, const char *dir, struct buf *err)
{
    memset(f, 0, sizeof *f);
    f->fd = -1;
    f->dir = dir;
    memcpy(f->name, "tmp-", 4);
    rand_hex(f->name + 4, 16);
    f->name[STORE_FILE_TMP_LEN] = '\0';
    char path[PATH_MAX];
    if (file_path(path, sizeof path, dir, f->name) < 0)
        return buf_fail(err, "the storage directory's path is too long");
    if (!(f->sha = EVP_MD_CTX_new()) || EVP_DigestInit_ex(f->sha, EVP_sha256(), NULL) != 1) {
        EVP_MD_CTX_free(f->sha);
        f->sha = NULL;
        return buf_fail(err, "cannot start a SHA-256 digest");
    }
    f->fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (f->fd < 0) {
        int e = errno;
        EVP_MD_CTX_free(f->sha);
        f->sha = NULL;
        return buf_fail(err, "cannot create %s: %s", path, strerror(e));
    }
    return 0;
}

int store_file_tmp_write(struct store_file_tmp *f, const void *p, size_t n, struct buf *err)
{
    const unsigned char *q = p;
    size_t done = 0;
    while (done < n) {
        ssize_t w = write(f->fd, q + done, n - done);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return buf_fail(err, "cannot write the uploaded file %s/%s: %s", f->dir, f->name,
                            w < 0 ? strerror(errno) : "no space");
        done += (size_t)w;
    }
    if (EVP_DigestUpdate(f->sha, p, n) != 1)
        return buf_fail(err, "SHA-256 digest failed");
    f->size += n;
    return 0;
}

int store_file_tmp_finish(struct store_file_tmp *f, char sha_b64[45], struct buf *err)
{
    unsigned char md[32];
    unsigned int mdlen = 0;
    if (fsync(f->fd) < 0)
        return buf_fail(err, "cannot sync the uploaded file %s/%s: %s", f->dir, f->name,
                        strerror(errno));
    int r = close(f->fd);
    f->fd = -1;
    if (r < 0)
        return buf_fail(err, "cannot close the uploaded file %s/%s: %s", f->dir, f->name,
                        strerror(errno));
    if (EVP_DigestFinal_ex(f->sha, md, &mdlen) != 1 || mdlen != 32)
        return buf_fail(err, "SHA-256 digest failed");
    EVP_MD_CTX_free(f->sha);
    f->sha = NULL;
    struct buf b = BUF_INIT(64);
    base64_encode(&b, md, sizeof md, 0);
    memcpy(sha_b64, b.data, 44);
    sha_b64[44] = '\0';
    buf_release(&b);
    return 0;
}

void store_file_tmp_release(struct store_file_tmp *f, int keep)
{
    if (f->fd >= 0)
        close(f->fd);
    f->fd = -1;
    EVP_MD_CTX_free(f->sha);
    f->sha = NULL;
    if (!keep && f->dir && f->name[0])
        store_file_remove(f->dir, f->name);
    f->dir = NULL;
}

int store_file_write_tmp(const char *dir, const void *p, size_t n,
                         char name[STORE_FILE_TMP_LEN + 1], char sha_b64[45], struct buf *err)
{
    struct store_file_tmp f;
    int r = store_file_tmp_open(&f, dir, err);
    if (r == 0)
        r = store_file_tmp_write(&f, p, n, err);
    if (r == 0)
        r = store_file_tmp_finish(&f, sha_b64, err);
    if (r == 0)
        memcpy(name, f.name, STORE_FILE_TMP_LEN + 1);
    store_file_tmp_release(&f, r == 0);
    return r;
}

int store_file_rename(const char *dir, const char *tmp, const char *id, struct buf *err)
{
    char from[PATH_MAX], to[PATH_MAX];
    if (file_path(from, sizeof from, dir, tmp) < 0 || file_path(to, sizeof to, dir, id) < 0)
        return buf_fail(err, "the storage directory's path is too long");
    if (rename(from, to) < 0)
        return buf_fail(err, "cannot store the uploaded file: %s", strerror(errno));
    return 0;
}

int store_files_sync_dir(const char *dir, struct buf *err)
{
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0 || fsync(dfd) < 0) {
        int e = errno;
        if (dfd >= 0)
            close(dfd);
        return buf_fail(err, "cannot sync %s: %s", dir, strerror(e));
    }
    close(dfd);
    return 0;
}

int store_file_commit(const char *dir, const char *tmp, const char *id, struct buf *err)
{
    if (store_file_rename(dir, tmp, id, err) < 0)
        return -1;
    if (store_files_sync_dir(dir, err) < 0) {
        store_file_remove(dir, id);
        return -1;
    }
    return 0;
}

int store_storage_finalize(struct store_txn *t, const char *dir, const char *tmp,
                           const char *sha256_b64, uint64_t size, const char *content_type,
                           char id_out[STORE_ID_LEN + 1], struct buf *err)
{
    if (!store_file_tmp_name_ok(tmp))
        return buf_fail(err, "not a temporary file of the storage directory: \"%.64s\"", tmp);
    if (store_storage_insert(t, sha256_b64, size, content_type, id_out, err) < 0)
        return -1;
    return store_file_commit(dir, tmp, id_out, err);
}

void store_file_remove(const char *dir, const char *name)
{
    char path[PATH_MAX];
    if (file_path(path, sizeof path, dir, name) == 0 && unlink(path) < 0 && errno != ENOENT)
        log_warn("storage", "cannot remove %s: %s", path, strerror(errno));
}

int store_file_tmp_name_ok(const char *name)
{
    if (strlen(name) != STORE_FILE_TMP_LEN || strncmp(name, "tmp-", 4))
        return 0;
    for (int i = 4; i < STORE_FILE_TMP_LEN; i++)
        if (!strchr("0123456789abcdef", name[i]))
            return 0;
    return 1;
}
