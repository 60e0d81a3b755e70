/* test_store: the SQLite document store on a temporary file — CRUD, scans with every bound
 * combination against a brute-force filter and sort, read and write sets, schemas with backfill
 * and rollback, aborts, and reopening. */
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/clock.h"
#include "store/key.h"
#include "store/store.h"
#include "store/store_int.h"
#include "test.h"

#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/banned.h"

static char dir[64];
static int ndb;

static void cleanup(void)
{
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "cannot remove %s\n", dir);
}

/* A new database's name in this run's directory. */
static void new_path(char *path, size_t n, const char *prefix)
{
    if (!dir[0]) {
        snprintf(dir, sizeof(dir), "/tmp/vr-store-XXXXXX");
        if (!mkdtemp(dir))
            abort();
        atexit(cleanup);
    }
    snprintf(path, n, "%s/%s%d.db", dir, prefix, ndb++);
}

static struct store *open_new(char *path, size_t n)
{
    new_path(path, n, "t");
    struct store *s = NULL;
    struct buf err = BUF_INIT(BUF_NOLIMIT);
    if (store_open(path, NULL, &s, &err) < 0)
        fprintf(stderr, "open: %s\n", err.data);
    buf_release(&err);
    return s;
}

static struct buf err = BUF_INIT(BUF_NOLIMIT);

static int insert(struct store *s, const char *table, const char *doc, char id[STORE_ID_LEN + 1])
{
    struct store_txn *t = store_txn_begin(s, 1, &err);
    int r = store_insert(t, table, doc, strlen(doc), id, &err);
    if (r == 0)
        r = store_txn_commit(t, NULL, &err);
    else
        store_txn_abort(t);
    store_txn_free(t);
    return r;
}

/* Returns the document text (static) or "" when not found. */
static const char *get(struct store *s, const char *id)
{
    static struct buf out = BUF_INIT(BUF_NOLIMIT);
    int found = 0;
    buf_reset(&out);
    struct store_txn *t = store_txn_begin(s, 0, &err);
    if (store_get(t, id, strlen(id), &out, &found, &err) < 0)
        buf_append_str(&out, "ERROR");
    store_txn_commit(t, NULL, &err);
    store_txn_free(t);
    return out.data;
}

static const char *after_ct(const char *doc)
{
    const char *p = strstr(doc, "\"_creationTime\":");
    if (!p)
        return "";
    p += strlen("\"_creationTime\":");
    while ((*p >= '0' && *p <= '9') || *p == '.' || *p == 'e' || *p == '+')
        p++;
    return p;
}

TEST(crud)
{
    char path[128], id[STORE_ID_LEN + 1], id2[STORE_ID_LEN + 1];
    struct store *s = open_new(path, sizeof(path));
    CHECK(s != NULL);
    CHECK_EQ_INT(store_version(s), 0);
    CHECK_EQ_INT(insert(s, "messages", "{ \"body\": \"hi\",\"n\":1, \"nested\":{\"z\":1,\"a\":[1.5]} }",
                        id), 0);
    CHECK_EQ_INT(strlen(id), 32);
    CHECK_EQ_INT(strspn(id, "0123456789abcdefghjkmnpqrstvwxyz"), 32);
    CHECK_EQ_STR(store_id_table(s, id, strlen(id)), "messages");
    CHECK_EQ_INT(store_version(s), 1);
    const char *d = get(s, id);
    char want[256];
    snprintf(want, sizeof(want), "{\"_id\":\"%s\",\"_creationTime\":", id);
    CHECK(strncmp(d, want, strlen(want)) == 0);
    CHECK_EQ_STR(after_ct(d), ",\"body\":\"hi\",\"n\":1,\"nested\":{\"z\":1,\"a\":[1.5]}}");

    /* patch: replace in place, append new, remove */
    struct store_txn *t = store_txn_begin(s, 1, &err);
    const char *rm[] = { "body" };
    const char *p = "{\"x\":true,\"n\":2}";
    CHECK_EQ_INT(store_patch(t, id, 32, p, strlen(p), rm, 1, &err), 0);
    uint64_t v = 0;
    CHECK_EQ_INT(store_txn_commit(t, &v, &err), 0);
    CHECK_EQ_INT(v, 2);
    store_txn_free(t);
    char ct_before[64];
    snprintf(ct_before, sizeof(ct_before), "%.*s", (int)(after_ct(get(s, id)) - get(s, id)),
             get(s, id));
    CHECK_EQ_STR(after_ct(get(s, id)), ",\"n\":2,\"nested\":{\"z\":1,\"a\":[1.5]},\"x\":true}");

    /* replace keeps _id and _creationTime */
    t = store_txn_begin(s, 1, &err);
    CHECK_EQ_INT(store_replace(t, id, 32, "{\"only\":\"one\"}", 14, &err), 0);
    CHECK_EQ_INT(store_txn_commit(t, NULL, &err), 0);
    store_txn_free(t);
    d = get(s, id);
    CHECK(strncmp(d, ct_before, strlen(ct_before)) == 0);
    CHECK_EQ_STR(after_ct(d), ",\"only\":\"one\"}");

    /* rejected writes */
    t = store_txn_begin(s, 1, &err);
    CHECK(store_insert(t, "messages", "{\"_x\":1}", 8, id2, &err) < 0);
    CHECK(strstr(err.data, "`_x` is reserved") != NULL);
    CHECK(store_insert(t, "messages", "[1]", 3, id2, &err) < 0);
    CHECK_EQ_STR(err.data, "document must be an object, got array");
    CHECK(store_insert(t, "messages", "{\"a\":", 5, id2, &err) < 0);
    CHECK(store_insert(t, "messages", "{\"a\":{\"$b\":1}}", 14, id2, &err) < 0);
    CHECK(store_insert(t, "bad-name", "{}", 2, id2, &err) < 0);
    CHECK(store_patch(t, id, 32, "{\"_id\":\"x\"}", 11, NULL, 0, &err) < 0);
    CHECK(store_patch(t, "0123456789abcdefghjkmnpqrstvwxyz", 32, "{}", 2, NULL, 0, &err) < 0);
    CHECK(store_get(t, "short", 5, &err, &(int){ 0 }, &err) < 0);
    /* the size limit */
    size_t big = (1u << 20) + 10;
    char *huge = malloc(big + 16);
    memcpy(huge, "{\"s\":\"", 6);
    memset(huge + 6, 'a', big);
    memcpy(huge + 6 + big, "\"}", 3);
    CHECK(store_insert(t, "messages", huge, strlen(huge), id2, &err) < 0);
    CHECK(strstr(err.data, "too large") != NULL);
    free(huge);
    CHECK_EQ_INT(store_txn_write_set(t)->len, 0);
    CHECK_EQ_INT(store_txn_commit(t, &v, &err), 0);
    CHECK_EQ_INT(v, 3); /* nothing written: version unchanged */
    store_txn_free(t);

    /* patch matches keys by their decoded value, keeps the stored spelling of the key */
    char id3[STORE_ID_LEN + 1];
    CHECK_EQ_INT(insert(s, "messages", "{\"\u00e9\":1,\"q\\\"k\":{\"_nested\":true}}", id3), 0);
    t = store_txn_begin(s, 1, &err);
    p = "{\"\\u00e9\":2,\"q\\\"k\":[]}";
    CHECK_EQ_INT(store_patch(t, id3, 32, p, strlen(p), NULL, 0, &err), 0);
    CHECK_EQ_INT(store_txn_commit(t, NULL, &err), 0);
    store_txn_free(t);
    CHECK_EQ_STR(after_ct(get(s, id3)), ",\"\u00e9\":2,\"q\\\"k\":[]}");

    /* delete */
    t = store_txn_begin(s, 1, &err);
    CHECK_EQ_INT(store_delete(t, id, 32, &err), 0);
    CHECK(store_delete(t, id, 32, &err) < 0);
    CHECK_EQ_INT(store_txn_commit(t, NULL, &err), 0);
    store_txn_free(t);
    CHECK_EQ_STR(get(s, id), "");
    CHECK_EQ_INT(store_version(s), 6);
    store_close(s);
}

/* st_id_decode: every table number back from an id; anything but 32 characters of the alphabet
 * refused (the letters base32 leaves out, upper case, NUL, high bytes, a wrong length). */
TEST(ids_decode)
{
    static const uint32_t nums[] = {0, 1, 7, 255, 256, 65535, 0x12345678u, 0xffffffffu};
    char id[STORE_ID_LEN + 1];
    uint32_t got;
    for (size_t k = 0; k < sizeof nums / sizeof nums[0]; k++) {
        st_id_new_at(nums[k], 1.7e12, id);
        got = 1;
        CHECK_EQ_INT(st_id_decode(id, STORE_ID_LEN, &got), 0);
        CHECK(got == nums[k]);
        CHECK_EQ_INT(st_id_decode(id, STORE_ID_LEN - 1, &got), -1);
        CHECK_EQ_INT(st_id_decode(id, STORE_ID_LEN + 1, &got), -1);
        static const char bad[] = {'i', 'l', 'o', 'u',  'A',    'Z',
                                   '-', '_', ' ', '\0', '\x80', '\xff'};
        for (size_t b = 0; b < sizeof bad; b++)
            for (int at = 0; at < STORE_ID_LEN; at += 31) {
                char copy[STORE_ID_LEN + 1];
                memcpy(copy, id, sizeof copy);
                copy[at] = bad[b];
                CHECK_EQ_INT(st_id_decode(copy, STORE_ID_LEN, &got), -1);
            }
    }
}

/* Ids: 32 base32 characters, a millisecond prefix (so a table's new ids sort after its older
 * ones, from one millisecond to the next), distinct within a millisecond, table decodable. */
TEST(ids_time_prefix)
{
    char prev[STORE_ID_LEN + 1] = "", id[STORE_ID_LEN + 1];
    uint64_t ms0 = (uint64_t)clock_wall_ms();
    int unordered = 0, dup = 0, wrong_table = 0;
    for (int i = 0; i < 20000; i++) {
        st_id_new(7, id);
        uint32_t table = 0;
        if (st_id_decode(id, STORE_ID_LEN, &table) < 0 || table != 7)
            wrong_table++;
        int c = strcmp(prev, id);
        if (c == 0)
            dup++;
        /* within one millisecond the random bits decide; across, the prefix does */
        if (c > 0 && memcmp(prev, id, 9) != 0) /* 9 chars = 45 bits: only the ms prefix */
            unordered++;
        memcpy(prev, id, sizeof id);
    }
    CHECK_EQ_INT(dup, 0);
    CHECK_EQ_INT(unordered, 0);
    CHECK_EQ_INT(wrong_table, 0);
    /* the first 48 bits are the creation millisecond */
    uint64_t ms = 0;
    for (int i = 0; i < 10; i++) { /* 50 bits: the 48 of the time and 2 random */
        const char *b32 = "0123456789abcdefghjkmnpqrstvwxyz";
        ms = ms << 5 | (uint64_t)(strchr(b32, id[i]) - b32);
    }
    ms >>= 2;
    uint64_t ms1 = (uint64_t)clock_wall_ms();
    CHECK(ms >= ms0 && ms <= ms1);
    /* the store turned SQLite's memory statistics off (a global mutex per malloc): with a
     * store open and written, SQLite holds memory but counts none */
    char path[128];
    struct store *s = open_new(path, sizeof(path));
    CHECK(s != NULL);
    CHECK_EQ_INT(insert(s, "messages", "{\"body\":\"hi\"}", id), 0);
    CHECK_EQ_INT(sqlite3_memory_used(), 0);
    store_close(s);
}

TEST(abort_and_reopen)
{
    char path[128], id[STORE_ID_LEN + 1], id2[STORE_ID_LEN + 1];
    struct store *s = open_new(path, sizeof(path));
    CHECK_EQ_INT(insert(s, "t", "{\"a\":1}", id), 0);
    struct store_txn *t = store_txn_begin(s, 1, &err);
    CHECK(store_txn_begin(s, 0, &err) == NULL); /* one at a time */
    CHECK_EQ_INT(store_insert(t, "t", "{\"a\":2}", 7, id2, &err), 0);
    CHECK_EQ_INT(store_insert(t, "newtable", "{\"a\":2}", 7, id2, &err), 0);
    store_txn_abort(t);
    store_txn_free(t);
    CHECK_EQ_STR(get(s, id2), "");
    CHECK_EQ_INT(store_version(s), 1);
    CHECK(store_id_table(s, id2, 32) == NULL); /* the aborted table is gone */
    /* reads never bump the version */
    t = store_txn_begin(s, 0, &err);
    CHECK(store_insert(t, "t", "{}", 2, id2, &err) < 0);
    uint64_t v = 9;
    CHECK_EQ_INT(store_txn_commit(t, &v, &err), 0);
    CHECK_EQ_INT(v, 1);
    store_txn_free(t);
    char doc[512];
    snprintf(doc, sizeof(doc), "%s", get(s, id));
    store_close(s);
    struct buf e = BUF_INIT(BUF_NOLIMIT);
    CHECK_EQ_INT(store_open(path, NULL, &s, &e), 0);
    CHECK_EQ_INT(store_version(s), 1);
    CHECK_EQ_STR(get(s, id), doc);
    CHECK_EQ_INT(insert(s, "t", "{\"a\":3}", id2), 0);
    CHECK_EQ_INT(store_version(s), 2);
    /* _creationTime keeps increasing across reopen */
    char d2[512];
    snprintf(d2, sizeof(d2), "%s", get(s, id2));
    CHECK(strtod(strstr(d2, "_creationTime\":") + 15, NULL) >
          strtod(strstr(doc, "_creationTime\":") + 15, NULL));
    store_close(s);
    buf_release(&e);
}

TEST(batches)
{
    char path[128], a[STORE_ID_LEN + 1], b[STORE_ID_LEN + 1], c[STORE_ID_LEN + 1];
    struct store *s = open_new(path, sizeof(path));
    CHECK_EQ_INT(insert(s, "t", "{\"n\":0}", a), 0);
    CHECK_EQ_INT(store_batch_begin(s, &err), 0);
    CHECK(store_batch_begin(s, &err) < 0);
    CHECK_EQ_INT(insert(s, "t", "{\"n\":1}", a), 0);
    uint64_t v = 0;
    CHECK_EQ_INT(store_version(s), 2);
    struct store_txn *t = store_txn_begin(s, 1, &err);
    CHECK_EQ_INT(store_insert(t, "u", "{\"n\":2}", 7, b, &err), 0);
    CHECK(store_batch_commit(s, &err) < 0); /* a transaction is open */
    store_txn_abort(t);
    store_txn_free(t);
    CHECK(store_id_table(s, b, 32) == NULL);
    CHECK_EQ_STR(get(s, b), "");
    t = store_txn_begin(s, 1, &err);
    CHECK_EQ_INT(store_insert(t, "v", "{\"n\":3}", 7, c, &err), 0);
    CHECK_EQ_INT(store_txn_commit(t, &v, &err), 0);
    store_txn_free(t);
    CHECK_EQ_INT(v, 3);
    CHECK(strstr(get(s, a), "\"n\":1") != NULL); /* visible inside the batch */
    CHECK(store_apply_schema(s, "{}", 2, &err) < 0);
    CHECK_EQ_INT(store_batch_commit(s, &err), 0);
    CHECK(store_batch_commit(s, &err) < 0);
    CHECK_EQ_INT(store_version(s), 3);
    store_close(s);
    struct buf e = BUF_INIT(BUF_NOLIMIT);
    CHECK_EQ_INT(store_open(path, NULL, &s, &e), 0);
    CHECK_EQ_INT(store_version(s), 3);
    CHECK(strstr(get(s, a), "\"n\":1") != NULL);
    CHECK(strstr(get(s, c), "\"n\":3") != NULL);
    CHECK_EQ_STR(get(s, b), "");
    CHECK_EQ_STR(store_id_table(s, c, 32), "v");
    store_close(s);
    buf_release(&e);
}

/* Sub-transactions (a nested ctx.runMutation): one rolled back takes only its rows, its
 * write-set entries, its counters and a table it made; one kept stays the caller's; they nest;
 * a read-only transaction has none. In a batch and outside one. */
TEST(sub_transactions)
{
    char path[128], a[STORE_ID_LEN + 1], b[STORE_ID_LEN + 1], c[STORE_ID_LEN + 1],
        d[STORE_ID_LEN + 1];
    struct store *s = open_new(path, sizeof(path));
    for (int batch = 0; batch < 2; batch++) {
        if (batch)
            CHECK_EQ_INT(store_batch_begin(s, &err), 0);
        uint64_t v0 = store_version(s);
        struct store_txn *t = store_txn_begin(s, 1, &err);
        CHECK_EQ_INT(store_insert(t, "t", "{\"n\":1}", 7, a, &err), 0);
        size_t ws = store_txn_write_set(t)->len;
        struct store_sub outer, inner;
        CHECK_EQ_INT(store_txn_sub_begin(t, &outer, &err), 0);
        CHECK_EQ_INT(store_insert(t, "t", "{\"n\":2}", 7, b, &err), 0);
        CHECK_EQ_INT(store_txn_sub_begin(t, &inner, &err), 0);
        CHECK_EQ_INT(store_insert(t, batch ? "made1" : "made0", "{\"n\":3}", 7, c, &err), 0);
        CHECK_EQ_INT(store_txn_sub_end(t, &inner, 0, &err), 0); /* rolled back: c and its table */
        CHECK_EQ_INT(store_txn_sub_end(t, &outer, 1, &err), 0); /* kept: b */
        CHECK(store_txn_write_set(t)->len > ws);
        size_t kept = store_txn_write_set(t)->len;
        CHECK_EQ_INT(store_txn_sub_begin(t, &outer, &err), 0);
        CHECK_EQ_INT(store_insert(t, "t", "{\"n\":4}", 7, d, &err), 0);
        CHECK_EQ_INT(store_txn_sub_end(t, &outer, 0, &err), 0);
        CHECK_EQ_INT(store_txn_write_set(t)->len, kept);
        CHECK_EQ_INT(store_txn_commit(t, NULL, &err), 0);
        store_txn_free(t);
        if (batch)
            CHECK_EQ_INT(store_batch_commit(s, &err), 0);
        CHECK_EQ_INT(store_version(s), v0 + 1);
        CHECK(strstr(get(s, a), "\"n\":1") != NULL);
        CHECK(strstr(get(s, b), "\"n\":2") != NULL);
        CHECK_EQ_STR(get(s, c), "");
        CHECK_EQ_STR(get(s, d), "");
        CHECK(store_id_table(s, c, 32) == NULL);
        /* a transaction whose only writes were rolled back in a sub-transaction wrote nothing */
        t = store_txn_begin(s, 1, &err);
        CHECK_EQ_INT(store_txn_sub_begin(t, &outer, &err), 0);
        CHECK_EQ_INT(store_insert(t, "t", "{\"n\":5}", 7, d, &err), 0);
        CHECK_EQ_INT(store_txn_sub_end(t, &outer, 0, &err), 0);
        CHECK_EQ_INT(store_txn_write_set(t)->len, 0);
        CHECK_EQ_INT(store_txn_commit(t, NULL, &err), 0);
        store_txn_free(t);
        CHECK_EQ_INT(store_version(s), v0 + 1);
    }
    struct store_txn *r = store_txn_begin(s, 0, &err);
    struct store_sub sub;
    CHECK(store_txn_sub_begin(r, &sub, &err) < 0);
    CHECK(strstr(err.data, "write transaction") != NULL);
    store_txn_commit(r, NULL, &err);
    store_txn_free(r);
    store_close(s);
}

/* store_txn_renew: a batch's transaction that changed nothing carries on as a new one (its
 * savepoint kept); one that wrote, or one outside a batch, is not renewed */
TEST(txn_renew)
{
    char path[128], a[STORE_ID_LEN + 1], b[STORE_ID_LEN + 1], c[STORE_ID_LEN + 1];
    struct store *s = open_new(path, sizeof(path));
    CHECK_EQ_INT(insert(s, "t", "{\"n\":0}", a), 0);
    struct store_txn *t = store_txn_begin(s, 1, &err);
    CHECK_EQ_INT(store_txn_renew(t), 0); /* not in a batch */
    store_txn_abort(t);
    store_txn_free(t);
    CHECK_EQ_INT(store_batch_begin(s, &err), 0);
    t = store_txn_begin(s, 1, &err);
    struct buf out = BUF_INIT(BUF_NOLIMIT);
    int found = 0;
    CHECK_EQ_INT(store_get(t, a, STORE_ID_LEN, &out, &found, &err), 0);
    CHECK_EQ_INT(found, 1);
    CHECK_EQ_INT(store_txn_renew(t), 1); /* it only read */
    CHECK_EQ_INT(store_txn_read_set(t)->len, 0);
    CHECK_EQ_INT(store_insert(t, "t", "{\"n\":1}", 7, b, &err), 0);
    CHECK_EQ_INT(store_txn_renew(t), 0); /* it wrote */
    store_txn_abort(t); /* back to where the renewed one began: b is gone, a stays */
    store_txn_free(t);
    CHECK_EQ_STR(get(s, b), "");
    CHECK(strstr(get(s, a), "\"n\":0") != NULL);
    t = store_txn_begin(s, 1, &err);
    CHECK_EQ_INT(store_txn_renew(t), 1);
    CHECK_EQ_INT(store_insert(t, "t", "{\"n\":2}", 7, c, &err), 0);
    CHECK_EQ_INT(store_txn_commit(t, NULL, &err), 0);
    store_txn_free(t);
    CHECK_EQ_INT(store_batch_commit(s, &err), 0);
    CHECK(strstr(get(s, c), "\"n\":2") != NULL);
    buf_release(&out);
    store_close(s);
}

/* Inserts n documents {"i": k} into table in one transaction: the first failure's kind, or -1. */
static int insert_many(struct store *s, const char *table, size_t n)
{
    struct store_txn *t = store_txn_begin(s, 1, &err);
    int kind = -1;
    char id[STORE_ID_LEN + 1], doc[64];
    for (size_t i = 0; i < n && kind < 0; i++) {
        int len = snprintf(doc, sizeof doc, "{\"i\":%zu}", i);
        if (store_insert(t, table, doc, (size_t)len, id, &err) < 0)
            kind = (int)store_last_error(s);
    }
    if (kind < 0)
        store_txn_commit(t, NULL, &err);
    else
        store_txn_abort(t);
    store_txn_free(t);
    return kind;
}

/* Reads up to n documents of table in one transaction: how many it got before a failure, whose
 * kind goes to *kind (-1: none). */
static size_t scan_count(struct store *s, const char *table, size_t n, int *kind)
{
    struct store_txn *t = store_txn_begin(s, 0, &err);
    struct store_cursor *c = NULL;
    struct buf doc = BUF_INIT(BUF_NOLIMIT);
    size_t got = 0;
    int done = 0;
    *kind = -1;
    if (store_scan_open(t, table, "by_id", "{}", 2, 0, &c, &err) < 0)
        *kind = (int)store_last_error(s);
    while (c && got < n) {
        buf_reset(&doc);
        if (store_scan_next(c, &doc, &done, &err) < 0) {
            *kind = (int)store_last_error(s);
            break;
        }
        if (done)
            break;
        got++;
    }
    store_scan_close(c, got);
    store_txn_commit(t, NULL, &err);
    store_txn_free(t);
    buf_release(&doc);
    return got;
}

/* Convex's transaction limits: 16,000 writes and 16 MiB written, 32,000 documents and 16 MiB
 * read, per transaction, in user tables */
TEST(txn_limits)
{
    char path[128], id[STORE_ID_LEN + 1];
    struct store *s = open_new(path, sizeof(path));
    CHECK_EQ_INT(insert_many(s, "t", STORE_TXN_MAX_WRITES + 1), STORE_ERR_WRITES);
    CHECK(strstr(err.data, "Too many writes in a single function execution (limit: 16000)"));
    int kind;
    CHECK_EQ_INT(scan_count(s, "t", 10, &kind), 0); /* the failed transaction left nothing */
    CHECK_EQ_INT(insert_many(s, "t", STORE_TXN_MAX_WRITES), -1);
    CHECK_EQ_INT(insert_many(s, "t", STORE_TXN_MAX_WRITES), -1);
    CHECK_EQ_INT(scan_count(s, "t", STORE_TXN_MAX_DOCS_READ, &kind), STORE_TXN_MAX_DOCS_READ);
    CHECK_EQ_INT(kind, -1);
    CHECK_EQ_INT(insert_many(s, "t", 1), -1);
    CHECK_EQ_INT(scan_count(s, "t", STORE_TXN_MAX_DOCS_READ + 10, &kind), STORE_TXN_MAX_DOCS_READ);
    CHECK_EQ_INT(kind, STORE_ERR_DOCS_READ);
    CHECK(strstr(err.data, "Too many documents read in a single function execution (limit: "
                           "32000). Consider using smaller limits in your queries, paginating "
                           "your queries, or using indexed queries with a selective index range "
                           "expressions."));
    /* system tables are not counted */
    CHECK_EQ_INT(insert_many(s, STORE_ACTOR_TABLE, STORE_TXN_MAX_WRITES + 1), -1);

    /* bytes: documents of ~1 MB, 16 of them fit in 16 MiB, the 17th does not */
    struct buf big = BUF_INIT(BUF_NOLIMIT), out = BUF_INIT(BUF_NOLIMIT);
    buf_append_str(&big, "{\"s\":\"");
    for (int i = 0; i < 1000000; i++)
        buf_append_byte(&big, 'x');
    buf_append_str(&big, "\"}");
    char ids[17][STORE_ID_LEN + 1];
    struct store_txn *t = store_txn_begin(s, 1, &err);
    int failed = -1;
    for (int i = 0; i < 17 && failed < 0; i++)
        if (store_insert(t, "big", big.data, big.len, id, &err) < 0)
            failed = i;
    CHECK_EQ_INT(failed, 16);
    CHECK_EQ_INT(store_last_error(s), STORE_ERR_BYTES_WRITTEN);
    CHECK(strstr(err.data, "Too many bytes written in a single function execution (limit: "
                           "16777216 bytes)"));
    store_txn_abort(t);
    store_txn_free(t);
    for (int i = 0; i < 17; i++)
        CHECK_EQ_INT(insert(s, "big", big.data, ids[i]), 0);
    t = store_txn_begin(s, 0, &err);
    int found = 0;
    failed = -1;
    for (int i = 0; i < 17 && failed < 0; i++) {
        buf_reset(&out);
        if (store_get(t, ids[i], STORE_ID_LEN, &out, &found, &err) < 0)
            failed = i;
    }
    CHECK_EQ_INT(failed, 16);
    CHECK_EQ_INT(store_last_error(s), STORE_ERR_BYTES_READ);
    CHECK(strstr(err.data, "Too many bytes read in a single function execution (limit: 16777216 "
                           "bytes)."));
    store_txn_commit(t, NULL, &err);
    store_txn_free(t);
    CHECK(strstr(get(s, ids[16]), "\"s\":\"xxx") != NULL); /* the next transaction reads again */
    buf_release(&big);
    buf_release(&out);
    store_close(s);
}

/* Lower limits for a part of a transaction (store_txn_caps_push: a nested call's
 * transactionLimits): counted from the push, nested caps all apply, a pop lifts one, a missing
 * member is no limit, a renewed transaction starts without any, and at most STORE_TXN_CAPS_MAX. */
TEST(txn_caps)
{
    char path[128], id[STORE_ID_LEN + 1];
    struct store *s = open_new(path, sizeof(path));
    const struct store_txn_limits none = {STORE_TXN_NO_LIMIT, STORE_TXN_NO_LIMIT,
                                          STORE_TXN_NO_LIMIT, STORE_TXN_NO_LIMIT,
                                          STORE_TXN_NO_LIMIT};
    CHECK_EQ_INT(store_batch_begin(s, &err), 0);
    struct store_txn *t = store_txn_begin(s, 1, &err);
    CHECK_EQ_INT(store_insert(t, "t", "{\"n\":1}", 7, id, &err), 0); /* before any cap */
    struct store_txn_limits two = none;
    two.writes = 2;
    CHECK_EQ_INT(store_txn_caps_push(t, &two), 0);
    CHECK_EQ_INT(store_insert(t, "t", "{\"n\":2}", 7, id, &err), 0);
    struct store_txn_limits lots = none; /* an inner cap above the outer one changes nothing */
    lots.writes = 100;
    CHECK_EQ_INT(store_txn_caps_push(t, &lots), 0);
    CHECK_EQ_INT(store_insert(t, "t", "{\"n\":3}", 7, id, &err), 0);
    CHECK(store_insert(t, "t", "{\"n\":4}", 7, id, &err) < 0); /* the outer cap's third */
    CHECK_EQ_INT(store_last_error(s), STORE_ERR_WRITES);
    CHECK(strstr(err.data, "Too many writes in a single function execution (limit: 2)"));
    store_txn_caps_pop(t);
    store_txn_caps_pop(t);
    CHECK_EQ_INT(store_insert(t, "t", "{\"n\":5}", 7, id, &err), 0); /* lifted */
    /* zero allows none; reads are held from the push on */
    struct store_txn_limits zero = none;
    zero.docs_read = 0;
    CHECK_EQ_INT(store_txn_caps_push(t, &zero), 0);
    int found = 0;
    struct buf out = BUF_INIT(BUF_NOLIMIT);
    CHECK(store_get(t, id, STORE_ID_LEN, &out, &found, &err) < 0);
    CHECK_EQ_INT(store_last_error(s), STORE_ERR_DOCS_READ);
    CHECK(strstr(err.data, "(limit: 0)"));
    store_txn_caps_pop(t);
    /* at most STORE_TXN_CAPS_MAX deep */
    for (int i = 0; i < STORE_TXN_CAPS_MAX; i++)
        CHECK_EQ_INT(store_txn_caps_push(t, &none), 0);
    CHECK_EQ_INT(store_txn_caps_push(t, &none), -1);
    for (int i = 0; i < STORE_TXN_CAPS_MAX; i++)
        store_txn_caps_pop(t);
    CHECK_EQ_INT(store_txn_commit(t, NULL, &err), 0);
    store_txn_free(t);
    /* a renewed transaction (nothing written) starts without the caps of the last call */
    t = store_txn_begin(s, 1, &err);
    struct store_txn_limits no_reads = none;
    no_reads.docs_read = 0;
    CHECK_EQ_INT(store_txn_caps_push(t, &no_reads), 0);
    CHECK_EQ_INT(store_txn_renew(t), 1);
    buf_reset(&out);
    CHECK_EQ_INT(store_get(t, id, STORE_ID_LEN, &out, &found, &err), 0);
    CHECK_EQ_INT(found, 1);
    store_txn_abort(t);
    store_txn_free(t);
    CHECK_EQ_INT(store_batch_commit(s, &err), 0);
    buf_release(&out);
    store_close(s);
}

/* Convex's third read limit: 4,096 index ranges (gets, scans, searches) per transaction, user
 * tables only; a get of a missing document counts, a renewed transaction starts again */
TEST(txn_range_limit)
{
    char path[128], id[STORE_ID_LEN + 1], sys[STORE_ID_LEN + 1];
    struct store *s = open_new(path, sizeof(path));
    CHECK_EQ_INT(insert(s, "t", "{\"n\":1}", id), 0);
    CHECK_EQ_INT(insert(s, STORE_ACTOR_TABLE, "{\"name\":\"a\",\"actorId\":\"x\"}", sys), 0);
    struct buf out = BUF_INIT(BUF_NOLIMIT);
    struct store_txn *t = store_txn_begin(s, 0, &err);
    int found = 0, failed = -1;
    for (unsigned i = 0; i < STORE_TXN_MAX_RANGES && failed < 0; i++) {
        buf_reset(&out);
        struct store_cursor *c = NULL;
        int r = i % 2 ? store_get(t, id, STORE_ID_LEN, &out, &found, &err)
                      : store_scan_open(t, "t", "by_id", "{}", 2, 0, &c, &err);
        store_scan_close(c, 0);
        if (r < 0)
            failed = (int)i;
    }
    CHECK_EQ_INT(failed, -1); /* 4,096 are allowed */
    for (int i = 0; i < 100; i++) { /* system tables are not counted */
        buf_reset(&out);
        CHECK_EQ_INT(store_get(t, sys, STORE_ID_LEN, &out, &found, &err), 0);
        CHECK_EQ_INT(found, 1);
    }
    struct store_cursor *c = NULL;
    CHECK(store_scan_open(t, "t", "by_id", "{}", 2, 0, &c, &err) < 0);
    CHECK(c == NULL);
    CHECK_EQ_INT(store_last_error(s), STORE_ERR_RANGES);
    CHECK(strstr(err.data, "Too many reads in a single function execution (limit: 4096). "
                           "Consider using smaller limits in your queries, paginating your "
                           "queries, or using indexed queries with a selective index range "
                           "expressions."));
    buf_reset(&out);
    CHECK(store_get(t, id, STORE_ID_LEN, &out, &found, &err) < 0); /* every later read fails */
    CHECK_EQ_INT(store_last_error(s), STORE_ERR_RANGES);
    store_txn_commit(t, NULL, &err);
    store_txn_free(t);
    CHECK(strstr(get(s, id), "\"n\":1") != NULL); /* the next transaction reads again */
    buf_release(&out);
    store_close(s);
}

/* store_batch_fail: a batch whose transactions committed fails as a whole, with the message */
TEST(batch_fail)
{
    char path[128], a[STORE_ID_LEN + 1], b[STORE_ID_LEN + 1];
    struct store *s = open_new(path, sizeof(path));
    CHECK_EQ_INT(insert(s, "t", "{\"n\":0}", a), 0);
    store_batch_fail(s, "outside a batch: nothing happens");
    CHECK_EQ_INT(store_batch_begin(s, &err), 0);
    CHECK_EQ_INT(insert(s, "t", "{\"n\":1}", b), 0);
    store_batch_fail(s, "the states could not be stored");
    store_batch_fail(s, "a second reason is not kept");
    CHECK(store_batch_commit(s, &err) < 0);
    CHECK_EQ_STR(err.data, "the states could not be stored");
    CHECK_EQ_INT(store_version(s), 1);
    CHECK_EQ_STR(get(s, b), "");
    CHECK(strstr(get(s, a), "\"n\":0") != NULL);
    /* the next batch commits */
    CHECK_EQ_INT(store_batch_begin(s, &err), 0);
    CHECK_EQ_INT(insert(s, "t", "{\"n\":2}", b), 0);
    CHECK_EQ_INT(store_batch_commit(s, &err), 0);
    CHECK(strstr(get(s, b), "\"n\":2") != NULL);
    store_close(s);
}

/* Random documents in random JSON formatting: the stored text must hold exactly the caller's
 * fields (in order) after insert, patch and replace. */
static unsigned rs = 12345;
static unsigned rnd(unsigned n)
{
    rs = rs * 1103515245u + 12345u;
    return (rs >> 8) % n;
}

static json_t *rand_json(int depth)
{
    static const char *strs[] = { "", "a", "\"q\"", "back\\slash", "\u00e9t\u00e9", "\n\t", "}{,:" };
    switch (rnd(depth > 2 ? 5 : 7)) {
    case 0: return json_null();
    case 1: return json_real((double)rnd(1000) / 8 - 50);
    case 2: return rnd(2) ? json_true() : json_false();
    case 3:
    case 4: return json_string(strs[rnd(7)]);
    case 5: {
        json_t *a = json_array();
        for (unsigned i = rnd(4); i > 0; i--)
            json_array_append_new(a, rand_json(depth + 1));
        return a;
    }
    default: {
        json_t *o = json_object();
        for (unsigned i = rnd(4); i > 0; i--)
            json_object_set_new(o, strs[rnd(7)], rand_json(depth + 1));
        return o;
    }
    }
}

static const char *fkeys[] = { "a", "b", "c\"d", "\u00e9", "e f", "g" };

static json_t *rand_fields(void)
{
    json_t *o = json_object();
    for (unsigned i = rnd(5); i > 0; i--)
        json_object_set_new(o, fkeys[rnd(6)], rand_json(0));
    return o;
}

static char *dump_random(const json_t *v)
{
    size_t flags = rnd(2) ? JSON_COMPACT : JSON_INDENT(rnd(3));
    if (rnd(2))
        flags |= JSON_ENSURE_ASCII;
    return json_dumps(v, flags);
}

/* The stored document without its system fields, checking they come first. */
static json_t *stored_fields(struct store *s, const char *id)
{
    const char *d = get(s, id);
    json_t *j = json_loads(d, JSON_DECODE_INT_AS_REAL, NULL);
    if (!j || strncmp(d, "{\"_id\":\"", 8) != 0 || !strstr(d, "\",\"_creationTime\":"))
        return NULL;
    json_object_del(j, "_id");
    json_object_del(j, "_creationTime");
    return j;
}

static int same_order(const json_t *a, const json_t *b)
{
    void *x = json_object_iter((json_t *)a), *y = json_object_iter((json_t *)b);
    for (; x && y; x = json_object_iter_next((json_t *)a, x), y = json_object_iter_next((json_t *)b, y))
        if (strcmp(json_object_iter_key(x), json_object_iter_key(y)))
            return 0;
    return !x && !y;
}

TEST(splicing_keeps_fields)
{
    char path[128], id[STORE_ID_LEN + 1];
    struct store *s = open_new(path, sizeof(path));
    int bad = 0;
    for (int round = 0; round < 300; round++) {
        json_t *doc = rand_fields();
        char *text = dump_random(doc);
        if (insert(s, "r", text, id) != 0) {
            bad++;
            fprintf(stderr, "insert failed: %s: %s\n", text, err.data);
        }
        free(text);
        json_t *got = stored_fields(s, id);
        if (!got || !json_equal(got, doc) || !same_order(got, doc))
            bad++;
        json_decref(got);
        /* patch: jansson's update is the expected result, with removals */
        json_t *patch = rand_fields();
        const char *rm[2];
        size_t nrm = 0;
        for (unsigned i = rnd(3); i > 0 && nrm < 2; i--) {
            const char *k = fkeys[rnd(6)];
            if (!json_object_get(patch, k))
                rm[nrm++] = k;
        }
        json_t *want = json_deep_copy(doc);
        for (size_t i = 0; i < nrm; i++)
            json_object_del(want, rm[i]);
        json_object_update(want, patch);
        text = dump_random(patch);
        struct store_txn *t = store_txn_begin(s, 1, &err);
        if (store_patch(t, id, 32, text, strlen(text), rm, nrm, &err) != 0)
            bad++;
        store_txn_commit(t, NULL, &err);
        store_txn_free(t);
        free(text);
        got = stored_fields(s, id);
        if (!got || !json_equal(got, want) || !same_order(got, want)) {
            if (bad++ < 3) {
                char *g = json_dumps(got, JSON_COMPACT), *w = json_dumps(want, JSON_COMPACT);
                fprintf(stderr, "patch mismatch:\n got  %s\n want %s\n", g, w);
                free(g);
                free(w);
            }
        }
        json_decref(got);
        json_decref(want);
        json_decref(patch);
        json_decref(doc);
        /* replace */
        doc = rand_fields();
        text = dump_random(doc);
        t = store_txn_begin(s, 1, &err);
        if (store_replace(t, id, 32, text, strlen(text), &err) != 0)
            bad++;
        store_txn_commit(t, NULL, &err);
        store_txn_free(t);
        free(text);
        got = stored_fields(s, id);
        if (!got || !json_equal(got, doc) || !same_order(got, doc))
            bad++;
        json_decref(got);
        json_decref(doc);
    }
    CHECK_EQ_INT(bad, 0);
    store_close(s);
}

/* ---- scans against a brute-force oracle ---- */

#define NDOCS 80

struct bdoc {
    char id[STORE_ID_LEN + 1];
    json_t *a, *b; /* NULL = missing */
    int order;     /* insertion order = _creationTime order */
    int alive;
};

static struct bdoc docs[NDOCS];

static json_t *pick_val(unsigned r)
{
    switch (r % 7) {
    case 0: return NULL;
    case 1: return json_null();
    case 2: return json_real(1);
    case 3: return json_real(2);
    case 4: return json_real(-1.5);
    case 5: return json_string("x");
    default: return json_string("");
    }
}

static int enc_cmp(const json_t *x, const json_t *y)
{
    struct buf a = BUF_INIT(BUF_NOLIMIT), b = BUF_INIT(BUF_NOLIMIT);
    key_encode_value(&a, x);
    key_encode_value(&b, y);
    size_t n = a.len < b.len ? a.len : b.len;
    int c = memcmp(a.data, b.data, n);
    if (!c)
        c = a.len < b.len ? -1 : a.len > b.len;
    buf_release(&a);
    buf_release(&b);
    return c;
}

static int bdoc_cmp(const void *x, const void *y)
{
    const struct bdoc *p = *(const struct bdoc *const *)x, *q = *(const struct bdoc *const *)y;
    int c = enc_cmp(p->a, q->a);
    if (!c)
        c = enc_cmp(p->b, q->b);
    if (!c)
        c = p->order - q->order;
    return c;
}

static const char *ops_lo[] = { NULL, "gt", "gte" };
static const char *ops_hi[] = { NULL, "lt", "lte" };

static int in_range(const struct bdoc *d, int neq, const json_t *eq0, const json_t *eq1,
                    const char *lop, const json_t *lv, const char *hop, const json_t *hv)
{
    if (neq >= 1 && enc_cmp(d->a, eq0) != 0)
        return 0;
    if (neq >= 2 && enc_cmp(d->b, eq1) != 0)
        return 0;
    const json_t *f = neq == 0 ? d->a : d->b;
    if (neq < 2) {
        if (lop && (!strcmp(lop, "gt") ? enc_cmp(f, lv) <= 0 : enc_cmp(f, lv) < 0))
            return 0;
        if (hop && (!strcmp(hop, "lt") ? enc_cmp(f, hv) >= 0 : enc_cmp(f, hv) > 0))
            return 0;
    }
    return 1;
}

static void append_val(struct buf *b, const json_t *v)
{
    char *s = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
    buf_append_str(b, s);
    free(s);
}

TEST(scans_match_brute_force)
{
    char path[128];
    struct store *s = open_new(path, sizeof(path));
    const char *schema = "{\"tables\":{\"items\":{\"indexes\":[{\"name\":\"by_ab\","
                         "\"fields\":[\"a\",\"b\"]}]}}}";
    CHECK_EQ_INT(store_apply_schema(s, schema, strlen(schema), &err), 0);
    unsigned seed = 7;
    struct store_txn *t = store_txn_begin(s, 1, &err);
    for (int i = 0; i < NDOCS; i++) {
        seed = seed * 1103515245u + 12345u;
        docs[i].a = pick_val(seed >> 8);
        docs[i].b = pick_val(seed >> 16);
        docs[i].order = i;
        docs[i].alive = 1;
        struct buf d = BUF_INIT(BUF_NOLIMIT);
        buf_append_str(&d, "{\"k\":1");
        if (docs[i].a) {
            buf_append_str(&d, ",\"a\":");
            append_val(&d, docs[i].a);
        }
        if (docs[i].b) {
            buf_append_str(&d, ",\"b\":");
            append_val(&d, docs[i].b);
        }
        buf_append_str(&d, "}");
        CHECK_EQ_INT(store_insert(t, "items", d.data, d.len, docs[i].id, &err), 0);
        buf_release(&d);
    }
    CHECK_EQ_INT(store_txn_commit(t, NULL, &err), 0);
    store_txn_free(t);

    struct bdoc *sorted[NDOCS];
    for (int i = 0; i < NDOCS; i++)
        sorted[i] = &docs[i];
    qsort(sorted, NDOCS, sizeof(sorted[0]), bdoc_cmp);

    int cases = 0, bad = 0;
    for (int neq = 0; neq <= 2; neq++)
        for (int li = 0; li < 3; li++)
            for (int hi = 0; hi < 3; hi++)
                for (int vv = 0; vv < 14; vv++)
                    for (int desc = 0; desc < 2; desc++) {
                        if (neq == 2 && (li || hi))
                            continue;
                        json_t *eq0 = pick_val((unsigned)vv + 1), *eq1 = pick_val((unsigned)vv / 2 + 2);
                        json_t *lv = pick_val((unsigned)vv), *hv = pick_val((unsigned)vv * 3 + 1);
                        struct buf r = BUF_INIT(BUF_NOLIMIT);
                        buf_append_str(&r, "{\"eq\":[");
                        if (neq >= 1)
                            append_val(&r, eq0 ? eq0 : json_null());
                        if (neq >= 2) {
                            buf_append_str(&r, ",");
                            append_val(&r, eq1 ? eq1 : json_null());
                        }
                        buf_append_str(&r, "]");
                        if (!eq0)
                            eq0 = json_null();
                        if (!eq1)
                            eq1 = json_null();
                        if (li) {
                            buf_appendf(&r, ",\"lower\":{\"op\":\"%s\"", ops_lo[li]);
                            if (lv) {
                                buf_append_str(&r, ",\"value\":");
                                append_val(&r, lv);
                            }
                            buf_append_str(&r, "}");
                        }
                        if (hi) {
                            buf_appendf(&r, ",\"upper\":{\"op\":\"%s\"", ops_hi[hi]);
                            if (hv) {
                                buf_append_str(&r, ",\"value\":");
                                append_val(&r, hv);
                            }
                            buf_append_str(&r, "}");
                        }
                        buf_append_str(&r, "}");
                        /* expected ids */
                        struct buf want = BUF_INIT(BUF_NOLIMIT), got = BUF_INIT(BUF_NOLIMIT);
                        for (int k = 0; k < NDOCS; k++) {
                            struct bdoc *d = sorted[desc ? NDOCS - 1 - k : k];
                            if (in_range(d, neq, eq0, eq1, li ? ops_lo[li] : NULL, lv,
                                         hi ? ops_hi[hi] : NULL, hv))
                                buf_append_str(&want, d->id);
                        }
                        t = store_txn_begin(s, 0, &err);
                        struct store_cursor *c = NULL;
                        CHECK_EQ_INT(store_scan_open(t, "items", "by_ab", r.data, r.len, desc, &c,
                                                     &err),
                                     0);
                        int done = 0;
                        struct buf doc = BUF_INIT(BUF_NOLIMIT);
                        while (c && store_scan_next(c, &doc, &done, &err) == 0 && !done) {
                            json_t *j = json_loads(doc.data, 0, NULL);
                            buf_append_str(&got, json_string_value(json_object_get(j, "_id")));
                            json_decref(j);
                            buf_reset(&doc);
                        }
                        store_scan_close(c, (size_t)-1);
                        store_txn_commit(t, NULL, &err);
                        store_txn_free(t);
                        cases++;
                        if (strcmp(want.data, got.data)) {
                            if (bad++ < 3)
                                fprintf(stderr, "scan %s desc=%d: want %zu docs, got %zu\n",
                                        r.data, desc, want.len / 32, got.len / 32);
                        }
                        buf_release(&doc);
                        buf_release(&want);
                        buf_release(&got);
                        buf_release(&r);
                        json_decref(eq0);
                        json_decref(eq1);
                        json_decref(lv);
                        json_decref(hv);
                    }
    CHECK(cases > 500);
    CHECK_EQ_INT(bad, 0);

    /* by_creation_time and by_id see every document */
    t = store_txn_begin(s, 0, &err);
    const char *idx[] = { "by_creation_time", "by_id" };
    for (int i = 0; i < 2; i++) {
        struct store_cursor *c = NULL;
        CHECK_EQ_INT(store_scan_open(t, "items", idx[i], "{}", 2, 0, &c, &err), 0);
        int done = 0, n = 0;
        struct buf doc = BUF_INIT(BUF_NOLIMIT);
        while (store_scan_next(c, &doc, &done, &err) == 0 && !done) {
            if (i == 0 && n < NDOCS && !strstr(doc.data, docs[n].id))
                CHECK(0); /* creation order */
            n++;
        }
        CHECK_EQ_INT(n, NDOCS);
        store_scan_close(c, (size_t)n);
        buf_release(&doc);
    }
    struct store_cursor *c = NULL;
    CHECK(store_scan_open(t, "items", "by_nope", "{}", 2, 0, &c, &err) < 0);
    CHECK_EQ_STR(err.data, "index `by_nope` not found on table `items`");
    CHECK_EQ_INT(store_last_error(s), STORE_ERR_NOT_FOUND);
    /* the kind, not the message: an index named with the words of other failures */
    CHECK(store_scan_open(t, "items", "schema invalid id too large", "{}", 2, 0, &c, &err) < 0);
    CHECK_EQ_INT(store_last_error(s), STORE_ERR_NOT_FOUND);
    struct buf got = BUF_INIT(BUF_NOLIMIT);
    int found = 0;
    CHECK(store_get(t, "schema not found", 16, &got, &found, &err) < 0);
    CHECK_EQ_INT(store_last_error(s), STORE_ERR_INVALID_ID);
    CHECK_EQ_INT(store_get(t, docs[0].id, STORE_ID_LEN, &got, &found, &err), 0);
    CHECK_EQ_INT(store_last_error(s), STORE_ERR_OTHER);
    buf_release(&got);
    CHECK(store_scan_open(t, "items", "by_ab", "{\"eq\":[1,2,3,4,5]}", 18, 0, &c, &err) < 0);
    CHECK_EQ_INT(store_last_error(s), STORE_ERR_OTHER);
    CHECK(store_scan_open(t, "items", "by_ab", "{\"lower\":{\"op\":\"lt\",\"value\":1}}", 32, 0,
                          &c, &err) < 0);
    store_txn_commit(t, NULL, &err);
    store_txn_free(t);
    for (int i = 0; i < NDOCS; i++) {
        json_decref(docs[i].a);
        json_decref(docs[i].b);
    }
    store_close(s);
}

static int range_eq(const struct key_range *r, uint32_t ix, const struct buf *lo,
                    const struct buf *hi)
{
    return r->index_id == ix && r->lo.len == lo->len && !memcmp(r->lo.data, lo->data, lo->len) &&
           r->hi.len == hi->len && !memcmp(r->hi.data, hi->data, hi->len);
}

TEST(read_sets)
{
    char path[128], ids[5][STORE_ID_LEN + 1];
    struct store *s = open_new(path, sizeof(path));
    const char *schema = "{\"tables\":{\"m\":{\"indexes\":[{\"name\":\"by_c\",\"fields\":[\"c\"]}]}}}";
    CHECK_EQ_INT(store_apply_schema(s, schema, strlen(schema), &err), 0);
    for (int i = 0; i < 5; i++)
        CHECK_EQ_INT(insert(s, "m", "{\"c\":\"x\"}", ids[i]), 0);
    struct st_table *tb = st_table_find(s, "m");
    struct st_index *by_c = st_index_find(tb, "by_c");
    uint32_t by_id = tb->idx[0]->id;

    struct store_txn *t = store_txn_begin(s, 0, &err);
    struct buf out = BUF_INIT(BUF_NOLIMIT), lo = BUF_INIT(BUF_NOLIMIT), hi = BUF_INIT(BUF_NOLIMIT);
    int found;
    CHECK_EQ_INT(store_get(t, ids[1], 32, &out, &found, &err), 0);
    CHECK_EQ_INT(found, 1);
    json_t *js = json_string(ids[1]);
    key_encode_value(&lo, js);
    json_decref(js);
    buf_append(&hi, lo.data, lo.len);
    buf_append_byte(&hi, 0);
    CHECK_EQ_INT(store_txn_read_set(t)->len, 1);
    CHECK(range_eq(&store_txn_read_set(t)->ranges[0], by_id, &lo, &hi));
    /* a missing document is recorded too */
    char gone[STORE_ID_LEN + 1];
    memcpy(gone, ids[1], sizeof(gone));
    gone[0] = gone[0] == '0' ? '1' : '0';
    CHECK_EQ_INT(store_get(t, gone, 32, &out, &found, &err), 0);
    CHECK_EQ_INT(found, 0);
    CHECK_EQ_INT(store_txn_read_set(t)->len, 2);

    /* whole range when the scan reached its end */
    struct store_cursor *c;
    const char *r = "{\"eq\":[\"x\"]}";
    CHECK_EQ_INT(store_scan_open(t, "m", "by_c", r, strlen(r), 0, &c, &err), 0);
    int done = 0, n = 0;
    while (store_scan_next(c, &out, &done, &err) == 0 && !done)
        n++;
    CHECK_EQ_INT(n, 5);
    store_scan_close(c, 5);
    buf_reset(&lo);
    js = json_string("x");
    key_encode_value(&lo, js);
    json_decref(js);
    buf_reset(&hi);
    buf_append(&hi, lo.data, lo.len);
    buf_append_byte(&hi, 0xff);
    CHECK(range_eq(&store_txn_read_set(t)->ranges[2], by_c->id, &lo, &hi));

    /* early close, ascending: [lo, key2 + 0x00) */
    CHECK_EQ_INT(store_scan_open(t, "m", "by_c", r, strlen(r), 0, &c, &err), 0);
    for (int i = 0; i < 3; i++)
        store_scan_next(c, &out, &done, &err);
    store_scan_close(c, 2);
    const struct key_range *kr = &store_txn_read_set(t)->ranges[3];
    CHECK(kr->index_id == by_c->id);
    CHECK(kr->lo.len == lo.len && !memcmp(kr->lo.data, lo.data, lo.len));
    /* hi must be the 2nd document's key plus 0x00: it ends with enc(id[1]) then 0x00 */
    js = json_string(ids[1]);
    struct buf idk = BUF_INIT(BUF_NOLIMIT);
    key_encode_value(&idk, js);
    json_decref(js);
    CHECK(kr->hi.len > idk.len && kr->hi.data[kr->hi.len - 1] == 0 &&
          !memcmp(kr->hi.data + kr->hi.len - 1 - idk.len, idk.data, idk.len));

    /* early close, descending: [key, hi) for the 2nd from the end (ids[3]) */
    CHECK_EQ_INT(store_scan_open(t, "m", "by_c", r, strlen(r), 1, &c, &err), 0);
    for (int i = 0; i < 2; i++)
        store_scan_next(c, &out, &done, &err);
    store_scan_close(c, 2);
    kr = &store_txn_read_set(t)->ranges[4];
    js = json_string(ids[3]);
    buf_reset(&idk);
    key_encode_value(&idk, js);
    json_decref(js);
    CHECK(kr->hi.len == hi.len && !memcmp(kr->hi.data, hi.data, hi.len));
    CHECK(kr->lo.len > idk.len && !memcmp(kr->lo.data + kr->lo.len - idk.len, idk.data, idk.len));

    /* nothing consumed, not at the end: nothing recorded */
    CHECK_EQ_INT(store_scan_open(t, "m", "by_c", r, strlen(r), 0, &c, &err), 0);
    store_scan_next(c, &out, &done, &err);
    store_scan_close(c, 0);
    CHECK_EQ_INT(store_txn_read_set(t)->len, 5);

    /* a table that does not exist yet: read of the catalog entry */
    CHECK_EQ_INT(store_scan_open(t, "later", "by_creation_time", "{}", 2, 0, &c, &err), 0);
    CHECK_EQ_INT(store_scan_next(c, &out, &done, &err), 0);
    CHECK_EQ_INT(done, 1);
    store_scan_close(c, 0);
    CHECK_EQ_INT(store_txn_read_set(t)->len, 6);
    CHECK_EQ_INT(store_txn_read_set(t)->ranges[5].index_id, STORE_CATALOG_INDEX);
    store_txn_commit(t, NULL, &err);
    store_txn_free(t);
    buf_release(&out);
    buf_release(&lo);
    buf_release(&hi);
    buf_release(&idk);
    store_close(s);
}

TEST(write_sets)
{
    char path[128], id[STORE_ID_LEN + 1];
    struct store *s = open_new(path, sizeof(path));
    const char *schema = "{\"tables\":{\"m\":{\"document\":{\"type\":\"object\",\"value\":{"
                         "\"c\":{\"fieldType\":{\"type\":\"string\"},\"optional\":false},"
                         "\"d\":{\"fieldType\":{\"type\":\"number\"},\"optional\":true}}},"
                         "\"indexes\":[{\"name\":\"by_c\",\"fields\":[\"c\"]}]}}}";
    CHECK_EQ_INT(store_apply_schema(s, schema, strlen(schema), &err), 0);
    struct st_table *tb = st_table_find(s, "m");
    struct store_txn *t = store_txn_begin(s, 1, &err);
    CHECK_EQ_INT(store_insert(t, "m", "{\"c\":\"x\"}", 9, id, &err), 0);
    const struct write_set *ws = store_txn_write_set(t);
    CHECK_EQ_INT(ws->len, 3);
    for (size_t i = 0; i < ws->len; i++) {
        CHECK_EQ_INT(ws->writes[i].old_key.len, 0);
        CHECK(ws->writes[i].new_key.len > 0);
    }
    CHECK_EQ_INT(ws->writes[0].index_id, tb->idx[0]->id);
    CHECK(store_patch(t, id, 32, "{\"c\":1}", 7, NULL, 0, &err) < 0);
    CHECK_EQ_STR(err.data,
                 "Failed to insert or update a document in table \"m\" because it does not "
                 "match the schema: Value does not match validator.\nPath: .c\nValue: "
                 "1.0\nValidator: v.string()");
    CHECK_EQ_INT(ws->len, 3);
    CHECK_EQ_INT(store_patch(t, id, 32, "{\"c\":\"y\"}", 9, NULL, 0, &err), 0);
    CHECK_EQ_INT(ws->len, 6);
    for (size_t i = 3; i < 6; i++) {
        CHECK(ws->writes[i].old_key.len > 0 && ws->writes[i].new_key.len > 0);
        CHECK(ws->writes[i].old_key.len == ws->writes[i - 3].new_key.len &&
              !memcmp(ws->writes[i].old_key.data, ws->writes[i - 3].new_key.data,
                      ws->writes[i].old_key.len));
    }
    struct st_index *by_c = st_index_find(tb, "by_c");
    CHECK_EQ_INT(ws->writes[5].index_id, by_c->id);
    CHECK(memcmp(ws->writes[5].old_key.data, ws->writes[5].new_key.data, 3) != 0);
    CHECK_EQ_INT(store_delete(t, id, 32, &err), 0);
    CHECK_EQ_INT(ws->len, 9);
    for (size_t i = 6; i < 9; i++)
        CHECK(ws->writes[i].old_key.len > 0 && ws->writes[i].new_key.len == 0);
    CHECK(store_insert(t, "other", "{}", 2, id, &err) < 0);
    CHECK_EQ_STR(err.data, "table `other` is not in the schema");
    CHECK(store_insert(t, "m", "{\"c\":\"x\",\"e\":1}", 15, id, &err) < 0);
    CHECK_EQ_STR(err.data,
                 "Failed to insert or update a document in table \"m\" because it does not "
                 "match the schema: Object contains extra field `e` that is not in the "
                 "validator.\n\nObject: {c: \"x\", e: 1.0}\nValidator: v.object({c: "
                 "v.string(), d: v.optional(v.float64())})");
    CHECK(store_insert(t, "m", "{}", 2, id, &err) < 0);
    CHECK_EQ_STR(err.data,
                 "Failed to insert or update a document in table \"m\" because it does not "
                 "match the schema: Object is missing the required field `c`. Consider "
                 "wrapping the field validator in `v.optional(...)` if this is expected."
                 "\n\nObject: {}\nValidator: v.object({c: v.string(), d: "
                 "v.optional(v.float64())})");
    CHECK_EQ_INT(store_txn_commit(t, NULL, &err), 0);
    store_txn_free(t);
    store_close(s);
}

static int count_scan(struct store *s, const char *table, const char *index, const char *range)
{
    struct store_txn *t = store_txn_begin(s, 0, &err);
    struct store_cursor *c = NULL;
    int n = -1, done = 0;
    struct buf out = BUF_INIT(BUF_NOLIMIT);
    if (store_scan_open(t, table, index, range, strlen(range), 0, &c, &err) == 0) {
        n = 0;
        while (store_scan_next(c, &out, &done, &err) == 0 && !done)
            n++;
        store_scan_close(c, (size_t)n);
    }
    store_txn_commit(t, NULL, &err);
    store_txn_free(t);
    buf_release(&out);
    return n;
}

static int replace(struct store *s, const char *id, const char *doc)
{
    struct store_txn *t = store_txn_begin(s, 1, &err);
    int r = store_replace(t, id, STORE_ID_LEN, doc, strlen(doc), &err);
    if (r == 0)
        r = store_txn_commit(t, NULL, &err);
    else
        store_txn_abort(t);
    store_txn_free(t);
    return r;
}

/* A replace reads only the old document's indexed fields (load_indexed): the index rows still
 * move when an indexed field (top-level or nested) changes, stay when only other fields do, and
 * the creation time is kept byte for byte. */
TEST(replace_moves_index_rows)
{
    char path[128];
    struct store *s = open_new(path, sizeof(path));
    const char *schema = "{\"tables\":{\"t\":{\"indexes\":[{\"name\":\"by_a\",\"fields\":[\"a\"]},"
                         "{\"name\":\"by_nx\",\"fields\":[\"n.x\",\"b\"]}]}}}";
    CHECK_EQ_INT(store_apply_schema(s, schema, strlen(schema), &err), 0);
    char id1[STORE_ID_LEN + 1], id2[STORE_ID_LEN + 1];
    CHECK_EQ_INT(insert(s, "t", "{\"big\":\"x\\\"y\",\"a\":1,\"n\":{\"x\":5},\"b\":\"p\"}", id1), 0);
    CHECK_EQ_INT(insert(s, "t", "{\"a\":2,\"n\":{\"x\":6},\"b\":\"q\"}", id2), 0);
    char head[128];
    snprintf(head, sizeof head, "%.*s", (int)(after_ct(get(s, id1)) - get(s, id1)), get(s, id1));
    /* only an unindexed field changes */
    CHECK_EQ_INT(replace(s, id1, "{\"big\":\"z\",\"a\":1,\"n\":{\"x\":5},\"b\":\"p\"}"), 0);
    CHECK_EQ_INT(count_scan(s, "t", "by_a", "{\"eq\":[1]}"), 1);
    CHECK_EQ_INT(count_scan(s, "t", "by_nx", "{\"eq\":[5,\"p\"]}"), 1);
    CHECK(!strncmp(get(s, id1), head, strlen(head)));
    /* the top-level and the nested indexed fields change; a field goes */
    CHECK_EQ_INT(replace(s, id1, "{\"a\":3,\"n\":{\"x\":6}}"), 0);
    CHECK_EQ_INT(count_scan(s, "t", "by_a", "{\"eq\":[1]}"), 0);
    CHECK_EQ_INT(count_scan(s, "t", "by_a", "{\"eq\":[3]}"), 1);
    CHECK_EQ_INT(count_scan(s, "t", "by_nx", "{\"eq\":[5]}"), 0);
    CHECK_EQ_INT(count_scan(s, "t", "by_nx", "{\"eq\":[6]}"), 2);
    CHECK_EQ_INT(count_scan(s, "t", "by_nx", "{\"eq\":[6,\"q\"]}"), 1);
    CHECK_EQ_INT(count_scan(s, "t", "by_a", "{}"), 2);
    CHECK(!strncmp(get(s, id1), head, strlen(head)));
    CHECK_EQ_STR(after_ct(get(s, id1)), ",\"a\":3,\"n\":{\"x\":6}}");
    store_close(s);
}

/* st_memo (a replace of the document the batch replaced last reads nothing): random replaces,
 * patches, deletes, inserts, aborted transactions and batch boundaries on four documents of an
 * indexed table, checked after every step against a model: each document's text and the index's
 * row count for every value. A memo kept across a rollback or another write would delete the
 * wrong old key and leave a stale index row. The memo must also be used (hits counted). */
TEST(replace_memo_matches_model)
{
    char path[128], ids[4][STORE_ID_LEN + 1];
    struct store *s = open_new(path, sizeof(path));
    const char *schema = "{\"tables\":{\"t\":{\"indexes\":[{\"name\":\"by_a\",\"fields\":[\"a\"]}]}}}";
    CHECK_EQ_INT(store_apply_schema(s, schema, strlen(schema), &err), 0);
    int model[4]; /* the field a of each document; -1: deleted */
    for (int i = 0; i < 4; i++) {
        CHECK_EQ_INT(insert(s, "t", "{\"a\":0}", ids[i]), 0);
        model[i] = 0;
    }
    unsigned seed = 7;
    int hits = 0, in_batch = 0, same_keys = 0;
    for (int step = 0; step < 3000; step++) {
        seed = seed * 1103515245u + 12345u;
        unsigned r = (seed >> 8) % 100, d = (seed >> 4) % 4, v = (seed >> 12) % 5;
        if (!in_batch) {
            CHECK_EQ_INT(store_batch_begin(s, &err), 0);
            in_batch = 1;
        }
        char doc[64];
        snprintf(doc, sizeof doc, "{\"a\":%u,\"pad\":\"%0*d\"}", v, (int)(seed % 7), 0);
        if (r < 60) { /* replace; 1 in 6 aborted afterwards */
            int abort_it = (seed >> 20) % 6 == 0;
            if (model[d] >= 0 && st_memo_get(s, ids[d], STORE_ID_LEN))
                hits++;
            /* the indexed field unchanged: the caller may say so (store_replace_same_keys) */
            int same = model[d] == (int)v;
            same_keys += same;
            struct store_txn *t = store_txn_begin(s, 1, &err);
            int rc = same ? store_replace_same_keys(t, "t", ids[d], STORE_ID_LEN, doc, strlen(doc),
                                                    &err)
                          : store_replace(t, ids[d], STORE_ID_LEN, doc, strlen(doc), &err);
            CHECK_EQ_INT(rc, model[d] >= 0 ? 0 : -1);
            if (abort_it || rc < 0) {
                store_txn_abort(t);
            } else {
                CHECK_EQ_INT(store_txn_commit(t, NULL, &err), 0);
                model[d] = (int)v;
                CHECK(strstr(get(s, ids[d]), doc + 1) != NULL); /* every field as given */
            }
            store_txn_free(t);
        } else if (r < 70) { /* patch an indexed field: changes a row behind the memo's back */
            struct store_txn *t = store_txn_begin(s, 1, &err);
            char f[32];
            snprintf(f, sizeof f, "{\"a\":%u}", v);
            int rc = store_patch(t, ids[d], STORE_ID_LEN, f, strlen(f), NULL, 0, &err);
            CHECK_EQ_INT(rc, model[d] >= 0 ? 0 : -1);
            if (rc == 0 && store_txn_commit(t, NULL, &err) == 0)
                model[d] = (int)v;
            else
                store_txn_abort(t);
            store_txn_free(t);
        } else if (r < 76) { /* delete, then a new document takes the slot */
            if (model[d] >= 0) {
                struct store_txn *t = store_txn_begin(s, 1, &err);
                CHECK_EQ_INT(store_delete(t, ids[d], STORE_ID_LEN, &err), 0);
                CHECK_EQ_INT(store_txn_commit(t, NULL, &err), 0);
                store_txn_free(t);
                model[d] = -1;
            } else {
                CHECK_EQ_INT(insert(s, "t", doc, ids[d]), 0);
                model[d] = (int)v;
            }
        } else if (r < 86) { /* a patch of an unindexed field, then aborted */
            struct store_txn *t = store_txn_begin(s, 1, &err);
            store_patch(t, ids[d], STORE_ID_LEN, "{\"pad\":\"q\"}", 11, NULL, 0, &err);
            store_txn_abort(t);
            store_txn_free(t);
        } else if (r < 92) {
            CHECK_EQ_INT(store_batch_commit(s, &err), 0);
            in_batch = 0;
        } else { /* a replace outside any batch */
            if (in_batch) {
                CHECK_EQ_INT(store_batch_commit(s, &err), 0);
                in_batch = 0;
            }
            if (model[d] >= 0) {
                CHECK_EQ_INT(replace(s, ids[d], doc), 0);
                model[d] = (int)v;
            }
        }
        for (int i = 0; i < 4; i++) {
            char want[16];
            snprintf(want, sizeof want, "\"a\":%d", model[i]);
            if (model[i] < 0)
                CHECK_EQ_STR(get(s, ids[i]), "");
            else
                CHECK(strstr(get(s, ids[i]), want) != NULL);
        }
        if (step % 10 == 0 || r < 60) {
            for (int val = 0; val < 5; val++) {
                int want = 0;
                for (int i = 0; i < 4; i++)
                    want += model[i] == val;
                char range[32];
                snprintf(range, sizeof range, "{\"eq\":[%d]}", val);
                CHECK_EQ_INT(count_scan(s, "t", "by_a", range), want);
            }
        }
    }
    if (in_batch)
        CHECK_EQ_INT(store_batch_commit(s, &err), 0);
    CHECK(hits > 100);
    CHECK(same_keys > 100);
    /* a spaced document is spliced field by field; another table's document is refused */
    CHECK_EQ_INT(store_batch_begin(s, &err), 0);
    int live = model[0] >= 0 ? 0 : model[1] >= 0 ? 1 : model[2] >= 0 ? 2 : 3;
    char same[64];
    snprintf(same, sizeof same, "{\"a\":%d}", model[live]);
    struct store_txn *t = store_txn_begin(s, 1, &err);
    CHECK_EQ_INT(store_replace_same_keys(t, "t", ids[live], STORE_ID_LEN, same, strlen(same), &err), 0);
    snprintf(same, sizeof same, "{ \"a\" : %d , \"pad\": \"s\" }", model[live]);
    CHECK(st_memo_get(s, ids[live], STORE_ID_LEN) != NULL);
    CHECK_EQ_INT(store_replace_same_keys(t, "t", ids[live], STORE_ID_LEN, same, strlen(same), &err), 0);
    CHECK_EQ_INT(store_replace_same_keys(t, "u", ids[live], STORE_ID_LEN, same, strlen(same), &err), -1);
    CHECK(strstr(err.data, "is not in `u`") != NULL);
    CHECK_EQ_INT(store_txn_commit(t, NULL, &err), 0);
    store_txn_free(t);
    CHECK_EQ_INT(store_batch_commit(s, &err), 0);
    CHECK(strstr(get(s, ids[live]), ",\"pad\":\"s\"}") != NULL);
    store_close(s);
}

/* Components' tables (54_components.js): "<component path>/<table>" names, and the schema's
 * `appSchema` and `schemaless` saying whose undeclared tables may be written. */
TEST(component_tables)
{
    CHECK(store_table_name_ok("notes", 5));
    CHECK(store_table_name_ok("ledger/notes", 12));
    CHECK(store_table_name_ok("a/b/c", 5));
    CHECK(!store_table_name_ok("a//c", 4));
    CHECK(!store_table_name_ok("/a", 2));
    CHECK(!store_table_name_ok("a/", 2));
    CHECK(!store_table_name_ok("a/1b", 4));
    CHECK(!store_table_name_ok("a/_b", 4));
    CHECK(!store_table_name_ok("a/b.c", 5));
    char longname[300];
    memset(longname, 'a', sizeof longname);
    for (int i = 60; i < 300; i += 61)
        longname[i] = '/';
    CHECK(store_table_name_ok(longname, 255)); /* segments of 60, the last of 12 */
    CHECK(!store_table_name_ok(longname, 256));

    char path[512], id[STORE_ID_LEN + 1];
    struct store *s = open_new(path, sizeof path);
    CHECK(s != NULL);
    /* without any schema every table is open, a component's too */
    CHECK_EQ_INT(insert(s, "c/free", "{}", id), 0);
    /* the app has no schema; component `c` has one, `d` has none */
    const char *schema = "{\"tables\":{\"c/t\":{\"document\":{\"type\":\"object\",\"value\":"
                         "{\"n\":{\"fieldType\":{\"type\":\"number\"},\"optional\":false}}},"
                         "\"indexes\":[]}},\"schemaValidation\":true,\"appSchema\":false,"
                         "\"schemaless\":[\"d/\"]}";
    CHECK_EQ_INT(store_apply_schema(s, schema, strlen(schema), &err), 0);
    CHECK_EQ_INT(insert(s, "notes", "{\"x\":1}", id), 0);    /* the app's: open */
    CHECK_EQ_INT(insert(s, "d/anything", "{}", id), 0);      /* `d` has no schema */
    CHECK_EQ_INT(insert(s, "c/t", "{\"n\":1}", id), 0);      /* declared */
    {   /* store_get_in: another namespace's document is not found */
        struct buf out = BUF_INIT(BUF_NOLIMIT);
        const char *const nss[] = { NULL, "c/", "", "d/", "c/t/" };
        const int want[] = { 1, 1, 0, 0, 0 };
        for (size_t i = 0; i < 5; i++) {
            int found = -1;
            struct store_txn *t = store_txn_begin(s, 0, &err);
            buf_reset(&out);
            const char *tb = NULL;
            CHECK_EQ_INT(store_get_in(t, id, STORE_ID_LEN, nss[i], &tb, &out, &found, &err), 0);
            CHECK(want[i] ? tb && !strcmp(tb, "c/t") : tb == NULL);
            CHECK_EQ_INT(found, want[i]);
            store_txn_commit(t, NULL, &err);
            store_txn_free(t);
        }
        buf_release(&out);
        CHECK(store_table_in_namespace("notes", "") && !store_table_in_namespace("c/t", ""));
        CHECK(store_table_in_namespace("c/t", "c/") && !store_table_in_namespace("c/d/t", "c/"));
        CHECK(store_table_in_namespace("_storage", "c/"));
    }
    CHECK(insert(s, "c/t", "{\"n\":\"x\"}", id) < 0);        /* validated */
    CHECK(strstr(err.data, "does not match the schema") != NULL);
    CHECK(insert(s, "c/other", "{}", id) < 0);               /* `c` has a schema */
    CHECK_EQ_STR(err.data, "table `c/other` is not in the schema");
    CHECK(insert(s, "c/free", "{}", id) < 0);                /* made before, now undeclared */
    CHECK(insert(s, "c//x", "{}", id) < 0);
    /* the app with a schema: its undeclared tables are closed, `d`'s stay open */
    schema = "{\"tables\":{\"notes\":{\"indexes\":[]}},\"schemaless\":[\"d/\"]}";
    CHECK_EQ_INT(store_apply_schema(s, schema, strlen(schema), &err), 0);
    CHECK_EQ_INT(insert(s, "notes", "{}", id), 0);
    CHECK(insert(s, "other", "{}", id) < 0);
    CHECK_EQ_INT(insert(s, "d/anything", "{}", id), 0);
    CHECK(insert(s, "c/t", "{\"n\":2}", id) < 0);           /* no longer declared */
    store_close(s);
}

/* Indexes added to a table that has documents are filled in one pass, in sorted runs: with
 * runs of a few hundred entries (many runs) both indexes hold every document, in key order. */
TEST(schema_backfill_sorted_runs)
{
    char path[128], id[STORE_ID_LEN + 1], doc[128];
    struct store *s = open_new(path, sizeof(path));
    unsigned seed = 7;
    const int n = 3000;
    for (int i = 0; i < n; i++) {
        seed = seed * 1103515245u + 12345u;
        snprintf(doc, sizeof doc, "{\"n\":%u,\"tag\":\"t%d\"}", (seed >> 8) % 100000, i % 7);
        CHECK_EQ_INT(insert(s, "rows", doc, id), 0);
    }
    size_t saved = st_backfill_run_bytes;
    st_backfill_run_bytes = 16 * 1024;
    const char *sc = "{\"tables\":{\"rows\":{\"indexes\":[{\"name\":\"by_n\",\"fields\":[\"n\"]},"
                     "{\"name\":\"by_tag\",\"fields\":[\"tag\",\"n\"]}]}}}";
    CHECK_EQ_INT(store_apply_schema(s, sc, strlen(sc), &err), 0);
    st_backfill_run_bytes = saved;
    CHECK_EQ_INT(count_scan(s, "rows", "by_n", "{}"), n);
    CHECK_EQ_INT(count_scan(s, "rows", "by_tag", "{}"), n);
    CHECK_EQ_INT(count_scan(s, "rows", "by_tag", "{\"eq\":[\"t3\"]}"), (n - 3 + 6) / 7);
    /* in order: each n at least the one before */
    struct store_txn *t = store_txn_begin(s, 0, &err);
    struct store_cursor *c = NULL;
    struct buf out = BUF_INIT(BUF_NOLIMIT);
    int done = 0, seen = 0, sorted = 1;
    double prev = -1;
    CHECK_EQ_INT(store_scan_open(t, "rows", "by_n", "{}", 2, 0, &c, &err), 0);
    while (store_scan_next(c, &out, &done, &err) == 0 && !done) {
        const char *at = strstr(out.data, "\"n\":");
        double v = at ? strtod(at + 4, NULL) : -2;
        if (v < prev)
            sorted = 0;
        prev = v;
        seen++;
        buf_reset(&out);
    }
    store_scan_close(c, (size_t)seen);
    store_txn_commit(t, NULL, &err);
    store_txn_free(t);
    buf_release(&out);
    CHECK_EQ_INT(seen, n);
    CHECK(sorted);
    store_close(s);
}

TEST(schema_backfill_and_rollback)
{
    char path[128], id[STORE_ID_LEN + 1];
    struct store *s = open_new(path, sizeof(path));
    /* free-form first */
    CHECK_EQ_INT(insert(s, "posts", "{\"author\":{\"name\":\"b\"},\"n\":2}", id), 0);
    CHECK_EQ_INT(insert(s, "posts", "{\"author\":{\"name\":\"a\"},\"n\":1}", id), 0);
    CHECK_EQ_INT(insert(s, "posts", "{\"n\":3}", id), 0);
    uint64_t v = store_version(s);
    const char *s1 = "{\"tables\":{\"posts\":{\"indexes\":[{\"name\":\"by_author\","
                     "\"fields\":[\"author.name\"]}]}}}";
    CHECK_EQ_INT(store_apply_schema(s, s1, strlen(s1), &err), 0);
    CHECK_EQ_INT(store_version(s), v);
    CHECK_EQ_INT(count_scan(s, "posts", "by_author", "{\"eq\":[\"a\"]}"), 1);
    CHECK_EQ_INT(count_scan(s, "posts", "by_author", "{\"lower\":{\"op\":\"gt\",\"value\":null}}"), 2);
    CHECK_EQ_INT(count_scan(s, "posts", "by_author", "{}"), 3);
    /* a schema the existing documents violate: nothing changes */
    const char *s2 = "{\"tables\":{\"posts\":{\"document\":{\"type\":\"object\",\"value\":{"
                     "\"n\":{\"fieldType\":{\"type\":\"number\"},\"optional\":false},"
                     "\"author\":{\"fieldType\":{\"type\":\"object\",\"value\":{\"name\":"
                     "{\"fieldType\":{\"type\":\"string\"},\"optional\":false}}},\"optional\":false}}},"
                     "\"indexes\":[{\"name\":\"by_n\",\"fields\":[\"n\"]}]},"
                     "\"users\":{\"indexes\":[]}}}";
    CHECK(store_apply_schema(s, s2, strlen(s2), &err) < 0);
    CHECK(strstr(err.data, "does not match the schema: field `author` is required") != NULL);
    CHECK_EQ_INT(count_scan(s, "posts", "by_author", "{}"), 3);
    CHECK_EQ_INT(count_scan(s, "posts", "by_n", "{}"), -1);
    CHECK(st_table_find(s, "users") == NULL);
    /* make the author optional: applies, by_author dropped, by_n backfilled */
    const char *s3 = "{\"tables\":{\"posts\":{\"document\":{\"type\":\"object\",\"value\":{"
                     "\"n\":{\"fieldType\":{\"type\":\"number\"},\"optional\":false},"
                     "\"author\":{\"fieldType\":{\"type\":\"object\",\"value\":{\"name\":"
                     "{\"fieldType\":{\"type\":\"string\"},\"optional\":false}}},\"optional\":true}}},"
                     "\"indexes\":[{\"name\":\"by_n\",\"fields\":[\"n\"]}]},"
                     "\"users\":{\"indexes\":[]}}}";
    CHECK_EQ_INT(store_apply_schema(s, s3, strlen(s3), &err), 0);
    CHECK_EQ_INT(count_scan(s, "posts", "by_author", "{}"), -1);
    CHECK_EQ_INT(count_scan(s, "posts", "by_n", "{\"lower\":{\"op\":\"gte\",\"value\":2}}"), 2);
    CHECK(st_table_find(s, "users") != NULL);
    CHECK(insert(s, "posts", "{\"n\":\"x\"}", id) < 0);
    CHECK(insert(s, "nope", "{}", id) < 0);
    CHECK_EQ_INT(insert(s, "users", "{\"anything\":1}", id), 0);
    /* the same validator again: its documents are not read (every write was checked against
     * it) — a document changed behind the store's back shows that; a changed one reads them */
    {
        char sql[256];
        snprintf(sql, sizeof sql,
                 "UPDATE d%u SET j = json_set(j, '$.n', 'x') WHERE k = "
                 "(SELECT min(k) FROM d%u)",
                 st_table_find(s, "posts")->num, st_table_find(s, "posts")->num);
        CHECK_EQ_INT(sqlite3_exec(s->db, sql, NULL, NULL, NULL), SQLITE_OK);
        CHECK_EQ_INT(store_apply_schema(s, s3, strlen(s3), &err), 0);
        const char *s4 = "{\"tables\":{\"posts\":{\"document\":{\"type\":\"object\",\"value\":{"
                         "\"n\":{\"fieldType\":{\"type\":\"number\"},\"optional\":false},"
                         "\"author\":{\"fieldType\":{\"type\":\"any\"},\"optional\":true}}},"
                         "\"indexes\":[{\"name\":\"by_n\",\"fields\":[\"n\"]}]},"
                         "\"users\":{\"indexes\":[]}}}";
        CHECK(store_apply_schema(s, s4, strlen(s4), &err) < 0);
        CHECK(strstr(err.data, "does not match the schema") != NULL);
        snprintf(sql, sizeof sql,
                 "UPDATE d%u SET j = json_set(j, '$.n', 1) WHERE k = "
                 "(SELECT min(k) FROM d%u)",
                 st_table_find(s, "posts")->num, st_table_find(s, "posts")->num);
        CHECK_EQ_INT(sqlite3_exec(s->db, sql, NULL, NULL, NULL), SQLITE_OK);
    }
    /* bad schemas are rejected before anything is touched */
    const char *bad[] = { "[]", "{\"tables\":{\"bad-name\":{}}}",
                          "{\"tables\":{\"t\":{\"document\":{\"type\":\"nope\"}}}}",
                          "{\"tables\":{\"t\":{\"indexes\":[{\"name\":\"by_id\",\"fields\":[\"a\"]}]}}}",
                          "{\"tables\":{\"t\":{\"indexes\":[{\"name\":\"by_a\",\"fields\":[]}]}}}",
                          "{\"tables\":{\"t\":{\"indexes\":[{\"name\":\"by_a\",\"fields\":[\"_a\"]}]}}}" };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        CHECK(store_apply_schema(s, bad[i], strlen(bad[i]), &err) < 0);
    /* the schema survives reopening */
    store_close(s);
    struct buf e = BUF_INIT(BUF_NOLIMIT);
    CHECK_EQ_INT(store_open(path, NULL, &s, &e), 0);
    CHECK(insert(s, "posts", "{\"n\":\"x\"}", id) < 0);
    CHECK_EQ_INT(count_scan(s, "posts", "by_n", "{}"), 4 - 1 + 0); /* 3 posts */
    /* no schema: free-form again */
    CHECK_EQ_INT(store_apply_schema(s, NULL, 0, &err), 0);
    CHECK_EQ_INT(insert(s, "posts", "{\"n\":\"x\"}", id), 0);
    CHECK_EQ_INT(store_clear(s, &err), 0);
    CHECK_EQ_INT(count_scan(s, "posts", "by_n", "{}"), 0);
    store_close(s);
    buf_release(&e);
}

static int search_n(struct store *s, const char *q)
{
    struct store_txn *t = store_txn_begin(s, 0, &err);
    struct buf out = BUF_INIT(BUF_NOLIMIT);
    int n = -1;
    if (store_search(t, "m", "s", q, strlen(q), &out, &err) == 0) {
        json_t *a = json_loads(out.data, 0, NULL);
        n = (int)json_array_size(a);
        json_decref(a);
    }
    store_txn_commit(t, NULL, &err);
    store_txn_free(t);
    buf_release(&out);
    return n;
}

static int key_in_range(const struct key_range *kr, const struct buf *k)
{
    size_t a = kr->lo.len < k->len ? kr->lo.len : k->len, b = kr->hi.len < k->len ? kr->hi.len : k->len;
    int lo = memcmp(kr->lo.data, k->data, a), hi = memcmp(k->data, kr->hi.data, b);
    return (lo < 0 || (lo == 0 && kr->lo.len <= k->len)) && (hi < 0 || (hi == 0 && k->len < kr->hi.len));
}

/* Search indexes: backfill, all-or-nothing apply, the read range against write-set keys. */
TEST(search_index)
{
    char path[128], id[STORE_ID_LEN + 1], id2[STORE_ID_LEN + 1];
    struct store *s = open_new(path, sizeof(path));
    CHECK_EQ_INT(insert(s, "m", "{\"c\":\"a\",\"t\":\"Crème brûlée\"}", id), 0);
    CHECK_EQ_INT(insert(s, "m", "{\"c\":\"b\",\"t\":\"creme pie\"}", id2), 0);
    const char *sch = "{\"tables\":{\"m\":{\"searchIndexes\":[{\"name\":\"s\",\"searchField\":\"t\","
                      "\"filterFields\":[\"c\"]}]}}}";
    /* with a validator the documents violate: nothing is created */
    const char *bad = "{\"tables\":{\"m\":{\"document\":{\"type\":\"object\",\"value\":{}},"
                      "\"searchIndexes\":[{\"name\":\"s\",\"searchField\":\"t\"}]}}}";
    CHECK(store_apply_schema(s, bad, strlen(bad), &err) < 0);
    CHECK_EQ_INT(search_n(s, "{\"field\":\"t\",\"search\":\"creme\"}"), -1);
    CHECK_EQ_STR(err.data, "search index `s` not found on table `m`");
    const char *bads[] = {
        "{\"tables\":{\"m\":{\"searchIndexes\":[{\"name\":\"s\",\"searchField\":\"_t\"}]}}}",
        "{\"tables\":{\"m\":{\"searchIndexes\":[{\"name\":\"s\",\"searchField\":\"t\","
        "\"filterFields\":[\"c\",\"c\"]}]}}}",
        "{\"tables\":{\"m\":{\"indexes\":[{\"name\":\"s\",\"fields\":[\"c\"]}],"
        "\"searchIndexes\":[{\"name\":\"s\",\"searchField\":\"t\"}]}}}",
        "{\"tables\":{\"m\":{\"searchIndexes\":{}}}}",
    };
    for (size_t i = 0; i < sizeof(bads) / sizeof(bads[0]); i++)
        CHECK(store_apply_schema(s, bads[i], strlen(bads[i]), &err) < 0);
    CHECK_EQ_INT(store_apply_schema(s, sch, strlen(sch), &err), 0);
    CHECK_EQ_INT(search_n(s, "{\"field\":\"t\",\"search\":\"creme\"}"), 2);
    CHECK_EQ_INT(search_n(s, "{\"field\":\"t\",\"search\":\"creme\",\"eq\":[[\"c\",\"a\"]]}"), 1);
    CHECK_EQ_INT(search_n(s, "{\"field\":\"t\",\"search\":\"bru\"}"), 1);
    CHECK_EQ_INT(search_n(s, "{\"field\":\"t\",\"search\":\"bru x\"}"), 0);
    CHECK_EQ_INT(search_n(s, "{\"field\":\"c\",\"search\":\"x\"}"), -1);
    CHECK_EQ_INT(search_n(s, "{\"field\":\"t\",\"search\":\"x\",\"eq\":[[\"t\",\"a\"]]}"), -1);
    CHECK_EQ_INT(search_n(s, "{\"field\":\"t\"}"), -1);

    /* the read range covers keys of writes with c == "a" only */
    struct store_txn *t = store_txn_begin(s, 1, &err);
    struct buf out = BUF_INIT(BUF_NOLIMIT);
    const char *q = "{\"field\":\"t\",\"search\":\"pie\",\"eq\":[[\"c\",\"a\"]]}";
    CHECK_EQ_INT(store_search(t, "m", "s", q, strlen(q), &out, &err), 0);
    CHECK_EQ_STR(out.data, "[]");
    CHECK_EQ_INT(store_txn_read_set(t)->len, 1);
    const struct key_range kr = store_txn_read_set(t)->ranges[0];
    struct st_table *tb = st_table_find(s, "m");
    CHECK_EQ_INT(tb->nsidx, 1);
    CHECK_EQ_INT(kr.index_id, tb->sidx[0]->id);
    char id3[STORE_ID_LEN + 1];
    CHECK_EQ_INT(store_insert(t, "m", "{\"c\":\"b\",\"t\":\"pie\"}", 19, id3, &err), 0);
    CHECK_EQ_INT(store_insert(t, "m", "{\"c\":\"a\",\"t\":\"pie\"}", 19, id3, &err), 0);
    CHECK_EQ_INT(store_patch(t, id2, 32, "{\"c\":\"a\"}", 9, NULL, 0, &err), 0);
    const struct write_set *ws = store_txn_write_set(t);
    int hits = 0, seen = 0;
    for (size_t i = 0; i < ws->len; i++) {
        if (ws->writes[i].index_id != kr.index_id)
            continue;
        seen++;
        hits += (ws->writes[i].old_key.len && key_in_range(&kr, &ws->writes[i].old_key)) ||
                (ws->writes[i].new_key.len && key_in_range(&kr, &ws->writes[i].new_key));
    }
    CHECK_EQ_INT(seen, 3);
    CHECK_EQ_INT(hits, 2); /* the insert with c == "b" misses */
    CHECK_EQ_INT(store_txn_commit(t, NULL, &err), 0);
    store_txn_free(t);
    CHECK_EQ_INT(search_n(s, "{\"field\":\"t\",\"search\":\"pie\",\"eq\":[[\"c\",\"a\"]]}"), 2);
    /* an aborted write leaves the FTS rows as they were */
    t = store_txn_begin(s, 1, &err);
    CHECK_EQ_INT(store_delete(t, id2, 32, &err), 0);
    store_txn_abort(t);
    store_txn_free(t);
    CHECK_EQ_INT(search_n(s, "{\"field\":\"t\",\"search\":\"pie\",\"eq\":[[\"c\",\"a\"]]}"), 2);
    /* kept across reopening; cleared by store_clear; dropped with the schema */
    store_close(s);
    struct buf e = BUF_INIT(BUF_NOLIMIT);
    CHECK_EQ_INT(store_open(path, NULL, &s, &e), 0);
    CHECK_EQ_INT(search_n(s, "{\"field\":\"t\",\"search\":\"pie\"}"), 3);
    CHECK_EQ_INT(store_clear(s, &err), 0);
    CHECK_EQ_INT(search_n(s, "{\"field\":\"t\",\"search\":\"pie\"}"), 0);
    const char *none = "{\"tables\":{\"m\":{}}}";
    CHECK_EQ_INT(store_apply_schema(s, none, strlen(none), &err), 0);
    CHECK_EQ_INT(search_n(s, "{\"field\":\"t\",\"search\":\"pie\"}"), -1);
    buf_release(&out);
    buf_release(&e);
    store_close(s);
}

static enum store_err vsearch_kind; /* store_last_error after vsearch's failure */

static int vsearch(struct store *s, const char *q, struct buf *out)
{
    struct store_txn *t = store_txn_begin(s, 0, &err);
    buf_reset(out);
    int r = store_vector_search(t, "m", "v", q, strlen(q), out, &err);
    vsearch_kind = store_last_error(s);
    store_txn_commit(t, NULL, &err);
    store_txn_free(t);
    return r;
}

/* Vector indexes: backfill of indexable documents only, the heap's order and ties, filters, an
 * aborted write, the search index beside it, reopening, store_clear, dropping. */
TEST(vector_index)
{
    char path[128], a[STORE_ID_LEN + 1], b[STORE_ID_LEN + 1], c[STORE_ID_LEN + 1],
        d[STORE_ID_LEN + 1];
    struct store *s = open_new(path, sizeof(path));
    struct buf out = BUF_INIT(BUF_NOLIMIT), want = BUF_INIT(BUF_NOLIMIT);
    CHECK_EQ_INT(insert(s, "m", "{\"c\":\"x\",\"t\":\"one\",\"e\":[1,0]}", a), 0);
    CHECK_EQ_INT(insert(s, "m", "{\"c\":\"y\",\"t\":\"two\",\"e\":[0,2]}", b), 0);
    CHECK_EQ_INT(insert(s, "m", "{\"t\":\"three\",\"e\":[1,1]}", c), 0);
    CHECK_EQ_INT(insert(s, "m", "{\"c\":\"x\",\"e\":[1,2,3]}", d), 0); /* wrong length */
    CHECK_EQ_INT(insert(s, "m", "{\"c\":\"x\",\"e\":[1,\"2\"]}", d), 0);
    CHECK_EQ_INT(insert(s, "m", "{\"c\":\"x\",\"e\":[{\"$integer\":\"AQAAAAAAAAA=\"},1]}", d), 0);
    const char *bads[] = {
        "{\"tables\":{\"m\":{\"vectorIndexes\":[{\"name\":\"v\",\"vectorField\":\"e\","
        "\"dimensions\":1}]}}}",
        "{\"tables\":{\"m\":{\"vectorIndexes\":[{\"name\":\"v\",\"vectorField\":\"e\","
        "\"dimensions\":4097}]}}}",
        "{\"tables\":{\"m\":{\"vectorIndexes\":[{\"name\":\"v\",\"vectorField\":\"e\","
        "\"dimensions\":2.5}]}}}",
        "{\"tables\":{\"m\":{\"vectorIndexes\":[{\"name\":\"v\",\"vectorField\":\"_e\","
        "\"dimensions\":2}]}}}",
        "{\"tables\":{\"m\":{\"searchIndexes\":[{\"name\":\"v\",\"searchField\":\"t\"}],"
        "\"vectorIndexes\":[{\"name\":\"v\",\"vectorField\":\"e\",\"dimensions\":2}]}}}",
        "{\"tables\":{\"m\":{\"vectorIndexes\":{}}}}",
    };
    for (size_t i = 0; i < sizeof(bads) / sizeof(bads[0]); i++)
        CHECK(store_apply_schema(s, bads[i], strlen(bads[i]), &err) < 0);
    const char *sch = "{\"tables\":{\"m\":{\"searchIndexes\":[{\"name\":\"s\",\"searchField\":"
                      "\"t\"}],\"vectorIndexes\":[{\"name\":\"v\",\"vectorField\":\"e\","
                      "\"dimensions\":2,\"filterFields\":[\"c\"]}]}}}";
    CHECK_EQ_INT(store_apply_schema(s, sch, strlen(sch), &err), 0);
    /* three indexable documents, best first; [1,1] and [0,2] tie against [0,1]... not quite */
    CHECK_EQ_INT(vsearch(s, "{\"vector\":[1,0]}", &out), 0);
    buf_reset(&want);
    buf_appendf(&want, "[{\"_id\":\"%s\",\"_score\":1},{\"_id\":\"%s\",\"_score\":%s},"
                "{\"_id\":\"%s\",\"_score\":0}]",
                a, c, "0.7071067690849304", b);
    CHECK_EQ_STR(out.data, want.data);
    CHECK_EQ_INT(vsearch(s, "{\"vector\":[1,0],\"limit\":1}", &out), 0);
    CHECK(strstr(out.data, a) && !strstr(out.data, b));
    /* equal scores: id order */
    CHECK_EQ_INT(vsearch(s, "{\"vector\":[-1,1],\"limit\":2}", &out), 0);
    CHECK(strstr(out.data, b) && strstr(out.data, "\"_score\":0,") == NULL);
    /* filters: c == "x", c undefined, either */
    CHECK_EQ_INT(vsearch(s, "{\"vector\":[1,0],\"eq\":[[\"c\",\"x\"]]}", &out), 0);
    buf_reset(&want);
    buf_appendf(&want, "[{\"_id\":\"%s\",\"_score\":1}]", a);
    CHECK_EQ_STR(out.data, want.data);
    CHECK_EQ_INT(vsearch(s, "{\"vector\":[1,0],\"eq\":[[\"c\"]]}", &out), 0);
    CHECK(strstr(out.data, c) && !strstr(out.data, a));
    CHECK_EQ_INT(vsearch(s, "{\"vector\":[1,0],\"eq\":[[\"c\"],[\"c\",\"y\"]]}", &out), 0);
    CHECK(strstr(out.data, c) && strstr(out.data, b) && !strstr(out.data, a));
    /* bad queries */
    CHECK(vsearch(s, "{\"vector\":[1,0,0]}", &out) < 0);
    CHECK_EQ_STR(err.data, "Expected a vector with dimensions 2, received 3.");
    CHECK(vsearch(s, "{\"vector\":[1,0],\"eq\":[[\"t\",\"one\"]]}", &out) < 0);
    CHECK(vsearch(s, "{\"vector\":[1,0],\"limit\":257}", &out) < 0);
    CHECK(vsearch(s, "{\"vector\":[1,0],\"limit\":0}", &out) < 0);
    CHECK(vsearch(s, "{\"vector\":\"x\"}", &out) < 0);
    CHECK(vsearch(s, "[]", &out) < 0);
    CHECK_EQ_INT(vsearch_kind, STORE_ERR_QUERY);
    /* the same results from memory (the default), from SQLite (no cache, or an index over the
     * cache's limit) */
    struct buf mem = BUF_INIT(BUF_NOLIMIT);
    const char *qs[] = { "{\"vector\":[1,0.5]}", "{\"vector\":[1,0],\"eq\":[[\"c\"],[\"c\",\"y\"]]}" };
    for (size_t i = 0; i < sizeof(qs) / sizeof(qs[0]); i++) {
        CHECK_EQ_INT(vsearch(s, qs[i], &mem), 0);
        CHECK(store_vector_cache_bytes() > 0);
        size_t limits[] = { 0, 16 };
        for (size_t j = 0; j < 2; j++) {
            store_vector_cache_limit(limits[j]);
            CHECK_EQ_INT(vsearch(s, qs[i], &out), 0);
            CHECK_EQ_STR(out.data, mem.data);
            CHECK_EQ_INT((int)store_vector_cache_bytes(), 0);
        }
        store_vector_cache_limit((size_t)STORE_VECTOR_CACHE_MB_DEFAULT << 20);
    }
    buf_release(&mem);
    /* the search index beside it, of the same table, is unaffected */
    CHECK_EQ_INT(search_n(s, "{\"field\":\"t\",\"search\":\"two\"}"), 1);
    /* an aborted write leaves the rows as they were; a committed patch moves one */
    struct store_txn *t = store_txn_begin(s, 1, &err);
    CHECK_EQ_INT(store_delete(t, a, 32, &err), 0);
    store_txn_abort(t);
    store_txn_free(t);
    CHECK_EQ_INT(vsearch(s, "{\"vector\":[1,0],\"limit\":1}", &out), 0);
    CHECK(strstr(out.data, a) != NULL);
    t = store_txn_begin(s, 1, &err);
    CHECK_EQ_INT(store_patch(t, a, 32, "{\"e\":[0,-1]}", 12, NULL, 0, &err), 0);
    CHECK_EQ_INT(store_txn_commit(t, NULL, &err), 0);
    store_txn_free(t);
    CHECK_EQ_INT(vsearch(s, "{\"vector\":[0,-1],\"limit\":1}", &out), 0);
    CHECK(strstr(out.data, a) != NULL);
    /* kept across reopening; cleared by store_clear; dropped with the schema */
    store_close(s);
    struct buf e = BUF_INIT(BUF_NOLIMIT);
    CHECK_EQ_INT(store_open(path, NULL, &s, &e), 0);
    CHECK_EQ_INT(vsearch(s, "{\"vector\":[0,-1],\"limit\":1}", &out), 0);
    CHECK(strstr(out.data, a) != NULL);
    CHECK_EQ_INT(store_clear(s, &err), 0);
    CHECK_EQ_INT(vsearch(s, "{\"vector\":[0,-1]}", &out), 0);
    CHECK_EQ_STR(out.data, "[]");
    const char *none = "{\"tables\":{\"m\":{}}}";
    CHECK_EQ_INT(store_apply_schema(s, none, strlen(none), &err), 0);
    CHECK(vsearch(s, "{\"vector\":[0,-1]}", &out) < 0);
    CHECK_EQ_STR(err.data, "Vector index m.v not found");
    CHECK_EQ_INT(search_n(s, "{\"field\":\"t\",\"search\":\"two\"}"), -1);
    buf_release(&out);
    buf_release(&want);
    buf_release(&e);
    store_close(s);
}

/* The first element of the search's result (its "t"), for checking the order. */
static void search_first(struct store *s, const char *q, struct buf *out)
{
    struct store_txn *t = store_txn_begin(s, 0, &err);
    buf_reset(out);
    CHECK_EQ_INT(store_search(t, "m", "s", q, strlen(q), out, &err), 0);
    store_txn_commit(t, NULL, &err);
    store_txn_free(t);
}

/* The cached search statement: reused across searches with different bound filter fields and
 * limits, and replaced when a schema change rebuilds the index with other filter fields. */
TEST(search_statement_cache)
{
    char path[128], id[STORE_ID_LEN + 1];
    struct store *s = open_new(path, sizeof(path));
    const char *sch = "{\"tables\":{\"m\":{\"searchIndexes\":[{\"name\":\"s\",\"searchField\":\"t\","
                      "\"filterFields\":[\"c\",\"d\"]}]}}}";
    CHECK_EQ_INT(store_apply_schema(s, sch, strlen(sch), &err), 0);
    CHECK_EQ_INT(insert(s, "m", "{\"c\":\"a\",\"d\":1,\"t\":\"pie one\"}", id), 0);
    CHECK_EQ_INT(insert(s, "m", "{\"c\":\"a\",\"d\":2,\"t\":\"pie two\"}", id), 0);
    CHECK_EQ_INT(insert(s, "m", "{\"c\":\"b\",\"d\":2,\"t\":\"pie three\"}", id), 0);
    CHECK_EQ_INT(insert(s, "m", "{\"d\":2,\"t\":\"pie four\"}", id), 0);
    CHECK_EQ_INT(search_n(s, "{\"field\":\"t\",\"search\":\"pie\",\"eq\":[[\"c\",\"a\"]]}"), 2);
    struct st_table *tb = st_table_find(s, "m");
    sqlite3_stmt *cached = tb->sidx[0]->search;
    CHECK(cached != NULL);
    CHECK_EQ_INT(search_n(s, "{\"field\":\"t\",\"search\":\"pie\",\"eq\":[[\"d\",2]]}"), 3);
    CHECK_EQ_INT(search_n(s, "{\"field\":\"t\",\"search\":\"pie\",\"eq\":[[\"d\",2],[\"c\",\"b\"]]}"),
                 1);
    CHECK_EQ_INT(search_n(s, "{\"field\":\"t\",\"search\":\"pie\",\"eq\":[[\"c\"]]}"), 1);
    CHECK_EQ_INT(search_n(s, "{\"field\":\"t\",\"search\":\"pie\",\"eq\":[[\"c\",\"zz\"]]}"), 0);
    CHECK_EQ_INT(search_n(s, "{\"field\":\"t\",\"search\":\"pie\"}"), 4);
    CHECK_EQ_INT(search_n(s, "{\"field\":\"t\",\"search\":\"pie\",\"limit\":2}"), 2);
    CHECK_EQ_INT(search_n(s, "{\"field\":\"t\",\"search\":\"pie\",\"limit\":\"x\"}"), -1);
    /* the filter token of one field never matches another field's equal value */
    CHECK_EQ_INT(insert(s, "m", "{\"c\":2,\"d\":\"a\",\"t\":\"swap\"}", id), 0);
    CHECK_EQ_INT(search_n(s, "{\"field\":\"t\",\"search\":\"swap\",\"eq\":[[\"c\",\"a\"]]}"), 0);
    CHECK_EQ_INT(search_n(s, "{\"field\":\"t\",\"search\":\"swap\",\"eq\":[[\"d\",\"a\"]]}"), 1);
    CHECK(tb->sidx[0]->search == cached);
    /* other filter fields: the index is rebuilt, its statement with it */
    const char *sch2 = "{\"tables\":{\"m\":{\"searchIndexes\":[{\"name\":\"s\",\"searchField\":\"t\","
                       "\"filterFields\":[\"d\"]}]}}}";
    CHECK_EQ_INT(store_apply_schema(s, sch2, strlen(sch2), &err), 0);
    tb = st_table_find(s, "m");
    CHECK(tb->sidx[0]->search == NULL);
    CHECK_EQ_INT(search_n(s, "{\"field\":\"t\",\"search\":\"pie\",\"eq\":[[\"d\",2]]}"), 3);
    CHECK_EQ_INT(search_n(s, "{\"field\":\"t\",\"search\":\"pie\",\"eq\":[[\"c\",\"a\"]]}"), -1);
    CHECK_EQ_STR(err.data, "`c` is not a filter field of search index `s` of `m`");
    /* the search field changes: the old statement would search the wrong column */
    const char *sch3 = "{\"tables\":{\"m\":{\"searchIndexes\":[{\"name\":\"s\",\"searchField\":\"c\","
                       "\"filterFields\":[\"d\"]}]}}}";
    CHECK_EQ_INT(store_apply_schema(s, sch3, strlen(sch3), &err), 0);
    CHECK_EQ_INT(search_n(s, "{\"field\":\"c\",\"search\":\"a\"}"), 2);
    CHECK_EQ_INT(search_n(s, "{\"field\":\"c\",\"search\":\"pie\"}"), 0);
    store_close(s);
}

/* A closed store at path whose table m has the search index s (field t, filter field c) over the
 * documents search_docs (NULL-terminated); returns the index's id, which names its FTS5 table. */
static unsigned search_fixture(char *path, size_t n, const char *const *search_docs)
{
    char id[STORE_ID_LEN + 1];
    struct store *s = open_new(path, n);
    const char *sch = "{\"tables\":{\"m\":{\"searchIndexes\":[{\"name\":\"s\",\"searchField\":\"t\","
                      "\"filterFields\":[\"c\"]}]}}}";
    CHECK_EQ_INT(store_apply_schema(s, sch, strlen(sch), &err), 0);
    for (; *search_docs; search_docs++)
        CHECK_EQ_INT(insert(s, "m", *search_docs, id), 0);
    unsigned fid = st_table_find(s, "m")->sidx[0]->id;
    store_close(s);
    return fid;
}

/* A database whose search index has the first FTS5 layout (t, k, c0.., no filter tokens) is
 * rebuilt when the store opens: same results, filter values in the FTS5 query, ranking kept. */
TEST(search_migrates_old_layout)
{
    char path[128], id[STORE_ID_LEN + 1], sql[1024];
    struct store *s;
    static const char *const search_docs[] = {"{\"c\":\"a\",\"t\":\"apples and pears\"}",
                                              "{\"c\":\"a\",\"t\":\"apples apples apples\"}",
                                              "{\"c\":\"b\",\"t\":\"apples\"}", NULL};
    unsigned fid = search_fixture(path, sizeof(path), search_docs);
    /* rewrite f<id> as the first layout had it, rows and all */
    sqlite3 *db = NULL;
    CHECK_EQ_INT(sqlite3_open(path, &db), SQLITE_OK);
    snprintf(sql, sizeof(sql),
             "BEGIN;"
             "CREATE VIRTUAL TABLE old USING fts5(t, k UNINDEXED, c0 UNINDEXED, "
             "  tokenize='unicode61 remove_diacritics 2');"
             "INSERT INTO old(rowid, t, k, c0) SELECT rowid, t, k, c0 FROM f%u;"
             "DROP TABLE f%u; ALTER TABLE old RENAME TO f%u; COMMIT;",
             fid, fid, fid);
    CHECK_EQ_INT(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
    sqlite3_stmt *st = NULL;
    snprintf(sql, sizeof(sql), "SELECT g FROM f%u", fid);
    CHECK(sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK); /* no column g */
    sqlite3_finalize(st);
    sqlite3_close(db);
    struct buf e = BUF_INIT(BUF_NOLIMIT), out = BUF_INIT(BUF_NOLIMIT);
    CHECK_EQ_INT(store_open(path, NULL, &s, &e), 0);
    CHECK_EQ_INT(search_n(s, "{\"field\":\"t\",\"search\":\"apples\"}"), 3);
    CHECK_EQ_INT(search_n(s, "{\"field\":\"t\",\"search\":\"apple\",\"eq\":[[\"c\",\"a\"]]}"), 2);
    CHECK_EQ_INT(search_n(s, "{\"field\":\"t\",\"search\":\"apples\",\"eq\":[[\"c\",\"b\"]]}"), 1);
    search_first(s, "{\"field\":\"t\",\"search\":\"apples\",\"eq\":[[\"c\",\"a\"]]}", &out);
    CHECK(strstr(out.data, "apples apples apples") < strstr(out.data, "apples and pears"));
    /* and kept in step with writes after it */
    CHECK_EQ_INT(insert(s, "m", "{\"c\":\"b\",\"t\":\"more apples\"}", id), 0);
    CHECK_EQ_INT(search_n(s, "{\"field\":\"t\",\"search\":\"apples\",\"eq\":[[\"c\",\"b\"]]}"), 2);
    store_close(s);
    /* a second open finds nothing to migrate */
    CHECK_EQ_INT(store_open(path, NULL, &s, &e), 0);
    CHECK_EQ_INT(search_n(s, "{\"field\":\"t\",\"search\":\"apples\"}"), 4);
    store_close(s);
    buf_release(&e);
    buf_release(&out);
}

/* A search index whose FTS5 tables were damaged while the store was closed (any shadow table
 * dropped, the table itself too) is rebuilt from the documents when the store opens: the open
 * succeeds, searches find every document, writes go on. Without the rebuild, a missing
 * `_config` or `_data` fails the open, and a missing `_idx`, `_content` or `_docsize` fails
 * searches or writes for good. */
TEST(search_rebuilds_damaged_index)
{
    static const struct {
        const char *verb, *table; /* the FTS5 table's name, then this */
    } damage[] = {{"DROP TABLE", "_config"},  {"DROP TABLE", "_data"},    {"DROP TABLE", "_idx"},
                  {"DROP TABLE", "_content"}, {"DROP TABLE", "_docsize"}, {"DELETE FROM", "_data"},
                  {"DROP TABLE", ""}};
    for (size_t d = 0; d < sizeof damage / sizeof damage[0]; d++) {
        char path[128], id[STORE_ID_LEN + 1], sql[256];
        static const char *const search_docs[] = {"{\"c\":\"a\",\"t\":\"apples and pears\"}",
                                                  "{\"c\":\"b\",\"t\":\"apples\"}", NULL};
        unsigned fid = search_fixture(path, sizeof(path), search_docs);
        struct store *s;
        sqlite3 *db = NULL;
        CHECK_EQ_INT(sqlite3_open(path, &db), SQLITE_OK);
        snprintf(sql, sizeof(sql), "%s f%u%s", damage[d].verb, fid, damage[d].table);
        CHECK_EQ_INT(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK);
        sqlite3_close(db);
        struct buf e = BUF_INIT(BUF_NOLIMIT);
        int opened = store_open(path, NULL, &s, &e);
        if (opened != 0)
            fprintf(stderr, "after %s: %s\n", sql, e.data);
        CHECK_EQ_INT(opened, 0);
        CHECK_EQ_INT(search_n(s, "{\"field\":\"t\",\"search\":\"apples\"}"), 2);
        CHECK_EQ_INT(search_n(s, "{\"field\":\"t\",\"search\":\"pears\",\"eq\":[[\"c\",\"a\"]]}"),
                     1);
        CHECK_EQ_INT(insert(s, "m", "{\"c\":\"b\",\"t\":\"more apples\"}", id), 0);
        CHECK_EQ_INT(search_n(s, "{\"field\":\"t\",\"search\":\"apples\",\"eq\":[[\"c\",\"b\"]]}"),
                     2);
        store_close(s);
        /* nothing left over: the database is sound and a second open rebuilds nothing */
        CHECK_EQ_INT(sqlite3_open(path, &db), SQLITE_OK);
        sqlite3_stmt *st = NULL;
        CHECK_EQ_INT(sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &st, NULL), SQLITE_OK);
        CHECK_EQ_INT(sqlite3_step(st), SQLITE_ROW);
        CHECK_EQ_STR((const char *)sqlite3_column_text(st, 0), "ok");
        sqlite3_finalize(st);
        sqlite3_close(db);
        CHECK_EQ_INT(store_open(path, NULL, &s, &e), 0);
        CHECK_EQ_INT(search_n(s, "{\"field\":\"t\",\"search\":\"apples\"}"), 3);
        store_close(s);
        buf_release(&e);
    }
}

/* The checkpoint thread copies committed pages from the WAL into the database file without
 * any commit doing it: the file grows while this thread only waits. */
TEST(wal_checkpointed_in_background)
{
    char path[256];
    struct store *s = open_new(path, sizeof path);
    CHECK(s != NULL);
    struct stat st0;
    CHECK(stat(path, &st0) == 0);
    struct buf berr = BUF_INIT(BUF_NOLIMIT);
    CHECK(store_batch_begin(s, &berr) == 0);
    char id[STORE_ID_LEN + 1];
    for (int i = 0; i < 3000; i++)
        CHECK(insert(s, "ck", "{\"pad\":\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"}", id) ==
              0);
    CHECK(store_batch_commit(s, &berr) == 0);
    buf_release(&berr);
    struct stat st = st0;
    for (int i = 0; i < 100 && st.st_size <= st0.st_size + 65536; i++) {
        usleep(20000);
        stat(path, &st);
    }
    CHECK(st.st_size > st0.st_size + 65536);
    store_close(s);
}

/* Batches committed back to back leave the checkpoint thread no moment in which every frame is
 * copied back (a write transaction must begin then for SQLite to write the WAL from its start):
 * store_ckpt.c's thread and WAL hook must still bring the WAL to a restart, so it stays near
 * 4,096 frames (~16 MiB), and reopening finds the rows (one in 500, and the last). A thread
 * whose passes cannot keep up (this machine busy) must not keep the loop's own checkpoint busy:
 * it did, and the WAL grew past 35 MB in a CI run. */
TEST(wal_restarts_under_back_to_back_batches)
{
    char path[256], wal[300];
    struct store *s = open_new(path, sizeof path);
    CHECK(s != NULL);
    snprintf(wal, sizeof wal, "%s-wal", path);
    struct buf berr = BUF_INIT(BUF_NOLIMIT);
    char pad[2100];
    memset(pad, 'p', sizeof pad - 1);
    pad[sizeof pad - 1] = 0;
    char doc[2200];
    snprintf(doc, sizeof doc, "{\"pad\":\"%s\"}", pad);
    char id[STORE_ID_LEN + 1];
    off_t max_wal = 0;
    static char kept[50][STORE_ID_LEN + 1];
    int nkept = 0;
    for (int b = 0; b < 500; b++) { /* ~50 MB of documents, ~12,000 frames */
        CHECK(store_batch_begin(s, &berr) == 0);
        for (int i = 0; i < 48; i++) {
            CHECK(insert(s, "bb", doc, id) == 0);
            if ((b * 48 + i) % 500 == 0 || (b == 499 && i == 47))
                memcpy(kept[nkept++], id, sizeof id);
        }
        CHECK(store_batch_commit(s, &berr) == 0);
        struct stat st;
        if (stat(wal, &st) == 0 && st.st_size > max_wal)
            max_wal = st.st_size;
    }
    buf_release(&berr);
    /* ~12,000 frames written, the WAL at most 9,216 (4,120 bytes each): it restarted. Near
     * 4,096 + 1,024 (the loop's own checkpoint when the thread's passes do not get there) but
     * for a pass of the thread that lasts longer than that (a loaded machine's disk): the loop
     * cannot copy while it runs. */
    CHECK(max_wal < (off_t)(2 * 4096 + 1024) * 4120);
    store_close(s);
    struct buf e = BUF_INIT(BUF_NOLIMIT);
    CHECK_EQ_INT(store_open(path, NULL, &s, &e), 0);
    buf_release(&e);
    for (int i = 0; i < nkept; i++)
        CHECK(strstr(get(s, kept[i]), "ppp") != NULL);
    store_close(s);
}

/* A PASSIVE checkpoint on a connection of its own through the store's peer VFS, as the
 * checkpoint thread makes (which may pass meanwhile too: the counts below hold for either). */
static void peer_checkpoint(struct store *s, const char *path)
{
    sqlite3 *db = NULL;
    CHECK_EQ_INT(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX,
                                 st_vfs_peer_name(s)),
                 SQLITE_OK);
    sqlite3_busy_timeout(db, 1000);
    CHECK_EQ_INT(sqlite3_exec(db, "PRAGMA journal_mode=WAL", NULL, NULL, NULL), SQLITE_OK);
    int rc = sqlite3_wal_checkpoint_v2(db, NULL, SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
    CHECK(rc == SQLITE_OK || rc == SQLITE_BUSY);
    sqlite3_close(db);
}

static void commit_one(struct store *s, int deferred)
{
    struct buf e = BUF_INIT(BUF_NOLIMIT);
    char id[STORE_ID_LEN + 1];
    CHECK_EQ_INT(store_batch_begin(s, &e), 0);
    CHECK_EQ_INT(insert(s, "w", "{\"n\":1}", id), 0);
    CHECK_EQ_INT(deferred ? store_batch_commit_deferred(s, &e) : store_batch_commit(s, &e), 0);
    buf_release(&e);
}

/* A checkpoint skips its sync of the WAL only when the loop's last good sync covers every write
 * to it (store_vfs.c): after a commit synced in durability full, not while a deferred commit's
 * sync is owed (its frames are published before it), not in relaxed mode (commits never sync). */
TEST(checkpoint_skips_only_a_covered_wal_sync)
{
    for (int mode = 0; mode < 3; mode++) { /* synced commit, deferred one owed, relaxed */
        char path[256];
        new_path(path, sizeof path, "d");
        struct store_options o = { 0 };
        o.durability = mode == 2 ? STORE_DURABILITY_RELAXED : STORE_DURABILITY_FULL;
        struct store *s = NULL;
        struct buf e = BUF_INIT(BUF_NOLIMIT);
        CHECK_EQ_INT(store_open(path, &o, &s, &e), 0);
        buf_release(&e);
        commit_one(s, 0);
        peer_checkpoint(s, path); /* everything so far copied */
        commit_one(s, mode == 1);
        uint64_t skipped0, made0, skipped1, made1;
        st_vfs_wal_syncs(s, &skipped0, &made0);
        peer_checkpoint(s, path);
        st_vfs_wal_syncs(s, &skipped1, &made1);
        if (mode == 0) {
            CHECK(skipped1 > skipped0);
            CHECK(made1 == made0);
        } else {
            CHECK(skipped1 == skipped0);
            CHECK(made1 > made0);
        }
        store_sync_wait(s);
        store_close(s);
        CHECK_EQ_INT(store_open(path, &o, &s, &e), 0);
        int kind;
        CHECK_EQ_INT((int)scan_count(s, "w", 10, &kind), 2);
        store_close(s);
    }
}

/* Durability full (the default) syncs the WAL in every batch commit, on the committing thread;
 * relaxed leaves syncing to the checkpoint thread, whose syncs are not counted. */
static uint64_t syncs_of_three_batches(const struct store_options *opts)
{
    char path[256];
    new_path(path, sizeof path, "d");
    struct store *s = NULL;
    struct buf e = BUF_INIT(BUF_NOLIMIT);
    CHECK_EQ_INT(store_open(path, opts, &s, &e), 0);
    CHECK(store_durability(s) == (opts ? opts->durability : STORE_DURABILITY_FULL));
    uint64_t before = store_sync_count(s);
    char id[STORE_ID_LEN + 1];
    for (int i = 0; i < 3; i++) {
        CHECK_EQ_INT(store_batch_begin(s, &e), 0);
        CHECK_EQ_INT(insert(s, "d", "{\"n\":1}", id), 0);
        CHECK_EQ_INT(insert(s, "d", "{\"n\":2}", id), 0);
        uint64_t at = store_sync_count(s);
        CHECK_EQ_INT(store_batch_commit(s, &e), 0);
        if (!opts || opts->durability == STORE_DURABILITY_FULL)
            CHECK(store_sync_count(s) > at); /* synced before the commit returned */
    }
    uint64_t n = store_sync_count(s) - before;
    store_close(s);
    buf_release(&e);
    return n;
}

TEST(durability_modes)
{
    char path[128];
    store_close(open_new(path, sizeof path)); /* creates dir */
    struct store_options full = { .durability = STORE_DURABILITY_FULL };
    struct store_options relaxed = { .durability = STORE_DURABILITY_RELAXED };
    CHECK(syncs_of_three_batches(NULL) >= 3);
    CHECK(syncs_of_three_batches(&full) >= 3);
    CHECK_EQ_INT(syncs_of_three_batches(&relaxed), 0);
}

/* A deferred commit (store_batch_commit_deferred) is visible at once and synced by
 * store_sync_wait, once: the sync is counted there, not before; a second wait, an empty batch's
 * and a relaxed store's owe nothing. */
TEST(deferred_commit_syncs_at_the_wait)
{
    char path[128];
    struct store *s = open_new(path, sizeof path);
    struct buf e = BUF_INIT(BUF_NOLIMIT);
    char id[STORE_ID_LEN + 1], id2[STORE_ID_LEN + 1];
    CHECK_EQ_INT(store_batch_begin(s, &e), 0); /* the WAL's first sync is the default VFS's */
    CHECK_EQ_INT(insert(s, "d", "{\"n\":1}", id), 0);
    CHECK_EQ_INT(store_batch_commit(s, &e), 0);
    for (int i = 0; i < 3; i++) {
        CHECK_EQ_INT(store_batch_begin(s, &e), 0);
        CHECK_EQ_INT(insert(s, "d", "{\"n\":2}", id2), 0);
        uint64_t at = store_sync_count(s);
        CHECK_EQ_INT(store_batch_commit_deferred(s, &e), 0);
        CHECK(store_sync_count(s) == at);  /* not synced yet */
        CHECK(strstr(get(s, id2), "\"n\":2")); /* committed: readable */
        store_sync_wait(s);
        CHECK(store_sync_count(s) == at + 1);
        store_sync_wait(s);
        CHECK(store_sync_count(s) == at + 1);
    }
    CHECK_EQ_INT(store_batch_begin(s, &e), 0); /* nothing written: nothing owed */
    uint64_t at = store_sync_count(s);
    CHECK_EQ_INT(store_batch_commit_deferred(s, &e), 0);
    store_sync_wait(s);
    CHECK(store_sync_count(s) == at);
    store_close(s);
    struct store_options relaxed = { .durability = STORE_DURABILITY_RELAXED };
    new_path(path, sizeof path, "r");
    CHECK_EQ_INT(store_open(path, &relaxed, &s, &e), 0);
    for (int i = 0; i < 2; i++) {
        CHECK_EQ_INT(store_batch_begin(s, &e), 0);
        CHECK_EQ_INT(insert(s, "d", "{\"n\":3}", id), 0);
        CHECK_EQ_INT(store_batch_commit_deferred(s, &e), 0);
        uint64_t n = store_sync_count(s);
        store_sync_wait(s); /* the commit did not sync: nothing owed */
        CHECK(store_sync_count(s) == n);
    }
    store_close(s);
    buf_release(&e);
}

/* A batch that modifies pages it already spilled to the WAL (a cache of 16 pages) makes SQLite
 * overwrite those frames and rewrite their checksums at the commit, the last of them the commit
 * frame's header on its own; with relaxed durability nothing syncs after it. The process then
 * dies without closing (as kill -9): every committed row must be there when the WAL is
 * recovered. (store_vfs.c once held that lone header until a later call.) */
TEST(wal_rewrite_survives_a_crash)
{
    char path[128];
    store_close(open_new(path, sizeof path));
    struct store_options relaxed = { .durability = STORE_DURABILITY_RELAXED };
    fflush(NULL);
    pid_t pid = fork();
    if (pid == 0) {
        struct store *s = NULL;
        struct buf e = BUF_INIT(BUF_NOLIMIT);
        if (store_open(path, &relaxed, &s, &e) < 0)
            _exit(2);
        sqlite3_exec(s->db, "PRAGMA cache_size=16", NULL, NULL, NULL);
        char ids[600][STORE_ID_LEN + 1], doc[300];
        for (int round = 0; round < 3; round++) {
            if (store_batch_begin(s, &e) < 0)
                _exit(3);
            for (int i = 0; i < 600; i++) {
                struct store_txn *t = store_txn_begin(s, 1, &e);
                int len = snprintf(doc, sizeof doc,
                                   "{\"i\":%d,\"r\":%d,\"pad\":\"%0200d\"}", i, round, i);
                int r = round == 0 ? store_insert(t, "w", doc, (size_t)len, ids[i], &e)
                                   : store_replace(t, ids[i], STORE_ID_LEN, doc, (size_t)len, &e);
                if (r < 0 || store_txn_commit(t, NULL, &e) < 0)
                    _exit(4);
                store_txn_free(t);
            }
            if (store_batch_commit(s, &e) < 0)
                _exit(5);
        }
        _exit(0); /* no close, no checkpoint */
    }
    int status = 0;
    CHECK(pid > 0 && waitpid(pid, &status, 0) == pid);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    struct store *s = NULL;
    CHECK_EQ_INT(store_open(path, &relaxed, &s, &err), 0);
    int kind;
    CHECK_EQ_INT(scan_count(s, "w", 10000, &kind), 600);
    struct store_txn *t = store_txn_begin(s, 0, &err);
    struct store_cursor *c = NULL;
    struct buf d = BUF_INIT(BUF_NOLIMIT);
    int done = 0, last_round = 0;
    CHECK_EQ_INT(store_scan_open(t, "w", "by_id", "{}", 2, 0, &c, &err), 0);
    while (c && store_scan_next(c, &d, &done, &err) == 0 && !done) {
        last_round += strstr(d.data, "\"r\":2") != NULL;
        buf_reset(&d);
    }
    store_scan_close(c, 600);
    store_txn_commit(t, NULL, &err);
    store_txn_free(t);
    CHECK_EQ_INT(last_round, 600); /* the last batch's replaces, all of them */
    buf_release(&d);
    store_close(s);
}

TEST_MAIN()
