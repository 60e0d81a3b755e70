/* store_page: the cursors of paginated queries. A cursor names a position in one index range: the
 * key of the last row a page read (the next page starts after it), or the range's end. It is
 * opaque and URL-safe: base64url of
 *   version (1) | kind (1: 0 position, 1 end) | query tag (8) | key (position only) | MAC (16)
 * where the query tag is the first bytes of SHA-256(table, index, range, order), binding the
 * cursor to its query, and the MAC is HMAC-SHA-256 under the database's own random cursor key
 * (_vr_meta 'cursor_key', made on first open), so a modified cursor or one from another database
 * is refused, and one from another query of the same database is told apart. A query journal
 * (Convex's: what a paginated query's run decided, kept by the client) is the end cursor that
 * run's page produced; it is checked here like any cursor, and worded as a journal when refused. */
#include "store/store_int.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>
#include <stdlib.h>
#include <string.h>

#include "base/base64.h"
#include "base/mem.h"
#include "base/rand.h"

#include "base/banned.h"

enum {
    CUR_VERSION = 1,
    CUR_POSITION = 0,
    CUR_END = 1,
    CUR_TAG = 8,
    CUR_MAC = 16,
    CUR_HEAD = 2 + CUR_TAG
};

int st_page_key_load(struct store *s, struct buf *err)
{
    unsigned char fresh[STORE_CURSOR_KEY];
    rand_bytes(fresh, sizeof(fresh));
    sqlite3_stmt *st = st_prep(s, NULL, err,
                               "INSERT OR IGNORE INTO _vr_meta VALUES "
                               "('cursor_key', ?1)");
    if (!st)
        return -1;
    sqlite3_bind_blob(st, 1, fresh, (int)sizeof(fresh), SQLITE_STATIC);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return st_sqlerr(s, err, "cursor key");
    if (!(st = st_prep(s, NULL, err, "SELECT v FROM _vr_meta WHERE k = 'cursor_key'")))
        return -1;
    int ok =
        sqlite3_step(st) == SQLITE_ROW && sqlite3_column_bytes(st, 0) == (int)sizeof(s->cursor_key);
    if (ok)
        memcpy(s->cursor_key, sqlite3_column_blob(st, 0), sizeof(s->cursor_key));
    sqlite3_finalize(st);
    OPENSSL_cleanse(fresh, sizeof(fresh));
    return ok ? 0 : buf_fail(err, "the database's cursor key is missing or malformed");
}

static void query_tag(unsigned char tag[CUR_TAG], const char *table, const char *index,
                      const char *range, size_t len, int desc)
{
    unsigned char md[SHA256_DIGEST_LENGTH];
    EVP_MD_CTX *x = EVP_MD_CTX_new();
    if (!x)
        abort(); /* as mem.h: out of memory aborts */
    const unsigned char nul = 0, d = desc ? 1 : 0;
    EVP_DigestInit_ex(x, EVP_sha256(), NULL);
    EVP_DigestUpdate(x, table, strlen(table) + 1);
    EVP_DigestUpdate(x, index, strlen(index) + 1);
    EVP_DigestUpdate(x, range, len);
    EVP_DigestUpdate(x, &nul, 1);
    EVP_DigestUpdate(x, &d, 1);
    EVP_DigestFinal_ex(x, md, NULL);
    EVP_MD_CTX_free(x);
    memcpy(tag, md, CUR_TAG);
}

static void mac(const struct store *s, const unsigned char *p, size_t n, unsigned char out[CUR_MAC])
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mlen = 0;
    if (!HMAC(EVP_sha256(), s->cursor_key, (int)sizeof(s->cursor_key), p, n, md, &mlen))
        abort(); /* HMAC-SHA-256 fails only when out of memory */
    memcpy(out, md, CUR_MAC);
}

/* Decodes and checks one cursor: *kind and the key (a view into raw). tag NULL: any query's.
 * journal: the cursor is a query journal, and a refusal says so. */
static int decode(struct store *s, const unsigned char *tag, const char *text, size_t n,
                  int journal, struct buf *raw, int *kind, const unsigned char **key, size_t *klen,
                  struct buf *err)
{
    if (n > 4 * ((STORE_MAX_KEY + CUR_HEAD + CUR_MAC) / 3 + 1))
        return st_failk(s, STORE_ERR_CURSOR, err, "InvalidCursor: the %s is too long",
                        journal ? "query journal" : "cursor");
    buf_reset(raw);
    if (buf_reserve(raw, 3 * ((n + 3) / 4) + 1) < 0)
        return st_failk(s, STORE_ERR_CURSOR, err, "InvalidCursor: the %s is too long",
                        journal ? "query journal" : "cursor");
    long got = base64_decode((unsigned char *)raw->data, text, n);
    const unsigned char *p = (const unsigned char *)raw->data;
    unsigned char want[CUR_MAC];
    if (got < CUR_HEAD + CUR_MAC || p[0] != CUR_VERSION || p[1] > CUR_END ||
        (p[1] == CUR_END && got != CUR_HEAD + CUR_MAC)) {
        if (journal)
            return st_failk(s, STORE_ERR_CURSOR, err,
                            "InvalidCursor: the query journal `%.40s%s` is not one this server "
                            "issued (a journal is opaque: send back what QueryUpdated carried)",
                            text, n > 40 ? "..." : "");
        return st_failk(s, STORE_ERR_CURSOR, err,
                        "InvalidCursor: `%.40s%s` is not a pagination cursor (pass null or the "
                        "continueCursor of an earlier page)",
                        text, n > 40 ? "..." : "");
    }
    mac(s, p, (size_t)got - CUR_MAC, want);
    if (CRYPTO_memcmp(want, p + got - CUR_MAC, CUR_MAC))
        return st_failk(s, STORE_ERR_CURSOR, err,
                        "InvalidCursor: the %s was modified or was issued by another deployment",
                        journal ? "query journal" : "cursor");
    if (tag && memcmp(p + 2, tag, CUR_TAG)) {
        if (journal)
            return st_failk(s, STORE_ERR_CURSOR, err,
                            "InvalidCursor: the query journal is from a different query (another "
                            "table, index, range or order than this paginate() call's)");
        return st_failk(s, STORE_ERR_CURSOR, err,
                        "InvalidCursor: Tried to run a query starting from a cursor, but it looks "
                        "like this cursor is from a different query (another table, index, "
                        "range or order).");
    }
    *kind = p[1];
    *key = p + CUR_HEAD;
    *klen = (size_t)got - CUR_HEAD - CUR_MAC;
    return 0;
}

static int bcmp_keys(const struct buf *a, const unsigned char *b, size_t bn)
{
    size_t n = a->len < bn ? a->len : bn;
    int r = memcmp(a->data, b, n);
    return r ? r : (a->len > bn) - (a->len < bn);
}

/* b = k [+ 0x00] when k [+ 0x00] is past b in the direction `dir` (1: above, -1: below). */
static void tighten(struct buf *b, const unsigned char *k, size_t n, int successor, int dir)
{
    struct buf t;
    buf_init(&t, BUF_NOLIMIT);
    buf_append(&t, k, n);
    if (successor)
        buf_append_byte(&t, 0);
    int c = bcmp_keys(b, (const unsigned char *)t.data, t.len);
    if (dir > 0 ? c < 0 : c > 0) {
        buf_reset(b);
        buf_append(b, t.data, t.len);
    }
    buf_release(&t);
}

/* lo = max(lo, k [+ 0x00]) */
static void raise_lo(struct buf *lo, const unsigned char *k, size_t n, int successor)
{
    tighten(lo, k, n, successor, 1);
}

/* hi = min(hi, k [+ 0x00]) */
static void lower_hi(struct buf *hi, const unsigned char *k, size_t n, int successor)
{
    tighten(hi, k, n, successor, -1);
}

int store_page_open(struct store_txn *t, const char *table, const char *index,
                    const char *range_json, size_t len, int descending, const char *cursor,
                    size_t clen, const char *end, size_t elen, struct store_cursor **out,
                    struct buf *err)
{
    return store_page_open_ex(t, table, index, range_json, len, descending, cursor, clen, end, elen,
                              0, out, err);
}

int store_page_journal_check(struct store *s, const char *journal, size_t n, struct buf *err)
{
    struct buf raw;
    buf_init(&raw, BUF_NOLIMIT);
    int kind;
    const unsigned char *key;
    size_t klen;
    int r = decode(s, NULL, journal, n, 1, &raw, &kind, &key, &klen, err);
    buf_release(&raw);
    return r;
}

int store_page_open_ex(struct store_txn *t, const char *table, const char *index,
                       const char *range_json, size_t len, int descending, const char *cursor,
                       size_t clen, const char *end, size_t elen, unsigned flags,
                       struct store_cursor **out, struct buf *err)
{
    struct store *s = t->s;
    unsigned char tag[CUR_TAG];
    query_tag(tag, table, index, range_json, len, descending);
    struct buf raw;
    buf_init(&raw, BUF_NOLIMIT);
    const unsigned char *ck = NULL, *ek = NULL;
    size_t ckn = 0, ekn = 0;
    int ckind = -1, ekind = -1;
    struct buf eraw;
    buf_init(&eraw, BUF_NOLIMIT);
    int r = -1;
    *out = NULL;
    if (cursor && decode(s, tag, cursor, clen, 0, &raw, &ckind, &ck, &ckn, err) < 0)
        goto out;
    if (end && decode(s, tag, end, elen, (flags & STORE_PAGE_END_JOURNAL) != 0, &eraw, &ekind, &ek,
                      &ekn, err) < 0)
        goto out;
    struct store_cursor *c;
    if (store_scan_open(t, table, index, range_json, len, descending, &c, err) < 0)
        goto out;
    memcpy(c->page_tag, tag, CUR_TAG);
    c->page = 1;
    if (c->ix) {
        if (ckind == CUR_END) {
            /* after the end: an empty page that reads nothing */
            if (descending)
                lower_hi(&c->hi, (const unsigned char *)c->lo.data, c->lo.len, 0);
            else
                raise_lo(&c->lo, (const unsigned char *)c->hi.data, c->hi.len, 0);
        } else if (ckind == CUR_POSITION) {
            if (descending)
                lower_hi(&c->hi, ck, ckn, 0);
            else
                raise_lo(&c->lo, ck, ckn, 1);
        }
        if (ekind == CUR_POSITION) {
            if (descending)
                raise_lo(&c->lo, ek, ekn, 0);
            else
                lower_hi(&c->hi, ek, ekn, 1);
        }
        if (bcmp_keys(&c->lo, (const unsigned char *)c->hi.data, c->hi.len) > 0) {
            buf_reset(&c->hi);
            buf_append(&c->hi, c->lo.data, c->lo.len);
        }
        sqlite3_bind_blob(c->stmt, 1, c->lo.data, (int)c->lo.len, SQLITE_STATIC);
        sqlite3_bind_blob(c->stmt, 2, c->hi.data, (int)c->hi.len, SQLITE_STATIC);
    }
    *out = c;
    r = 0;
out:
    buf_release(&raw);
    buf_release(&eraw);
    return r;
}

int store_page_cursor(struct store_cursor *c, size_t n, struct buf *out)
{
    if (!c->page || n > c->nkeys || (n == 0 && !c->done))
        return -1;
    int at_end = c->done && n == c->nkeys;
    struct buf raw;
    buf_init(&raw, BUF_NOLIMIT);
    buf_append_byte(&raw, CUR_VERSION);
    buf_append_byte(&raw, at_end ? CUR_END : CUR_POSITION);
    buf_append(&raw, c->page_tag, CUR_TAG);
    if (!at_end)
        buf_append(&raw, c->keys[n - 1].data, c->keys[n - 1].len);
    unsigned char m[CUR_MAC];
    mac(c->t->s, (const unsigned char *)raw.data, raw.len, m);
    buf_append(&raw, m, CUR_MAC);
    int r = base64_encode(out, raw.data, raw.len, 1);
    buf_release(&raw);
    return r;
}
