/* test_page: page cursors (store_page.c) — the key inside a cursor is the row's index key as the
 * key encoder makes it, a cursor resumes right after its row in both orders, the end cursor,
 * every single-byte change and truncation refused, and cursors of another query or another
 * database told apart. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/base64.h"
#include "base/buf.h"
#include "store/key.h"
#include "store/store.h"
#include "test.h"

#include "base/banned.h"

#define NDOCS 6

static struct buf err = BUF_INIT(BUF_NOLIMIT);

struct row {
    char id[STORE_ID_LEN + 1];
    double ct;
};

static struct store *fill(struct row rows[NDOCS])
{
    struct store *s = NULL;
    if (store_open(":memory:", NULL, &s, &err) < 0)
        return NULL;
    for (int i = 0; i < NDOCS; i++) {
        char doc[32];
        snprintf(doc, sizeof(doc), "{\"n\":%d}", i);
        struct store_txn *t = store_txn_begin(s, 1, &err);
        if (store_insert(t, "items", doc, strlen(doc), rows[i].id, &err) < 0 ||
            store_txn_commit(t, NULL, &err) < 0)
            abort();
        store_txn_free(t);
    }
    struct store_txn *t = store_txn_begin(s, 0, &err);
    struct buf doc = BUF_INIT(BUF_NOLIMIT);
    for (int i = 0; i < NDOCS; i++) {
        int found = 0;
        buf_reset(&doc);
        if (store_get(t, rows[i].id, STORE_ID_LEN, &doc, &found, &err) < 0 || !found)
            abort();
        json_t *j = json_loads(doc.data, 0, NULL);
        rows[i].ct = json_number_value(json_object_get(j, "_creationTime"));
        json_decref(j);
    }
    buf_release(&doc);
    store_txn_commit(t, NULL, &err);
    store_txn_free(t);
    return s;
}

/* Opens a page of `items` by_creation_time, reads up to `n` rows (their n fields appended to
 * ns), and makes the cursor after them into cur. The scan's open result. */
static int page(struct store *s, const char *table, int desc, const char *from, const char *end,
                int n, struct buf *ns, struct buf *cur)
{
    struct store_txn *t = store_txn_begin(s, 0, &err);
    struct store_cursor *c = NULL;
    buf_reset(ns);
    buf_reset(cur);
    int r = store_page_open(t, table, "by_creation_time", "{}", 2, desc, from,
                            from ? strlen(from) : 0, end, end ? strlen(end) : 0, &c, &err);
    if (r == 0) {
        struct buf doc = BUF_INIT(BUF_NOLIMIT);
        int got = 0, done = 0;
        while (got < n && store_scan_next(c, &doc, &done, &err) == 0 && !done) {
            json_t *j = json_loads(doc.data, 0, NULL);
            buf_appendf(ns, "%d", (int)json_integer_value(json_object_get(j, "n")));
            json_decref(j);
            buf_reset(&doc);
            got++;
        }
        if (got < n) /* read to the end: as paginate(), which asks for one more batch */
            store_scan_next(c, &doc, &done, &err);
        if (store_page_cursor(c, (size_t)got, cur) < 0)
            r = -2;
        buf_release(&doc);
        store_scan_close(c, (size_t)got);
    }
    store_txn_commit(t, NULL, &err);
    store_txn_free(t);
    return r;
}

static long raw_of(const char *cur, unsigned char *out)
{
    return base64_decode(out, cur, strlen(cur));
}

TEST(cursor_holds_the_index_key_and_resumes_after_it)
{
    struct row rows[NDOCS];
    struct store *s = fill(rows);
    CHECK(s != NULL);
    struct buf ns = BUF_INIT(BUF_NOLIMIT), cur = BUF_INIT(BUF_NOLIMIT);
    CHECK_EQ_INT(page(s, "items", 0, NULL, NULL, 2, &ns, &cur), 0);
    CHECK_EQ_STR(ns.data, "01");
    /* URL-safe */
    CHECK(strspn(cur.data, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") ==
          cur.len);
    /* the key inside is the key encoder's (creation time, id) of row 1 */
    struct buf key = BUF_INIT(BUF_NOLIMIT);
    json_t *ct = json_real(rows[1].ct), *id = json_string(rows[1].id);
    key_encode_value(&key, ct);
    key_encode_value(&key, id);
    json_decref(ct);
    json_decref(id);
    unsigned char raw[512];
    long n = raw_of(cur.data, raw);
    CHECK_EQ_INT(n, (long)(10 + key.len + 16));
    CHECK_EQ_INT(raw[0], 1);
    CHECK_EQ_INT(raw[1], 0);
    CHECK(memcmp(raw + 10, key.data, key.len) == 0);
    /* the decoded key decodes back to the row's values */
    json_t *v = NULL;
    int undef = 0;
    long used = key_decode_value(raw + 10, key.len, &v, &undef);
    CHECK(used > 0);
    CHECK(json_number_value(v) == rows[1].ct);
    json_decref(v);
    buf_release(&key);
    /* resume: the next pages, then the end cursor and an empty page after it */
    char c1[512];
    snprintf(c1, sizeof(c1), "%s", cur.data);
    CHECK_EQ_INT(page(s, "items", 0, c1, NULL, 3, &ns, &cur), 0);
    CHECK_EQ_STR(ns.data, "234");
    char c2[512];
    snprintf(c2, sizeof(c2), "%s", cur.data);
    CHECK_EQ_INT(page(s, "items", 0, c2, NULL, 10, &ns, &cur), 0);
    CHECK_EQ_STR(ns.data, "5");
    n = raw_of(cur.data, raw);
    CHECK_EQ_INT(n, 26); /* the end: no key */
    CHECK_EQ_INT(raw[1], 1);
    char endc[512];
    snprintf(endc, sizeof(endc), "%s", cur.data);
    CHECK_EQ_INT(page(s, "items", 0, endc, NULL, 10, &ns, &cur), 0);
    CHECK_EQ_STR(ns.data, "");
    CHECK_EQ_STR(cur.data, endc); /* the same end cursor: deterministic */
    /* endCursor: from c1 up to and including c2's row, whatever n asks */
    CHECK_EQ_INT(page(s, "items", 0, c1, c2, 100, &ns, &cur), 0);
    CHECK_EQ_STR(ns.data, "234");
    CHECK_EQ_INT(page(s, "items", 0, NULL, endc, 100, &ns, &cur), 0);
    CHECK_EQ_STR(ns.data, "012345");
    /* descending */
    CHECK_EQ_INT(page(s, "items", 1, NULL, NULL, 4, &ns, &cur), 0);
    CHECK_EQ_STR(ns.data, "5432");
    snprintf(c1, sizeof(c1), "%s", cur.data);
    CHECK_EQ_INT(page(s, "items", 1, c1, NULL, 4, &ns, &cur), 0);
    CHECK_EQ_STR(ns.data, "10");
    buf_release(&ns);
    buf_release(&cur);
    store_close(s);
}

TEST(tampered_foreign_and_malformed_cursors_are_refused)
{
    struct row rows[NDOCS], rows2[NDOCS];
    struct store *s = fill(rows), *s2 = fill(rows2);
    CHECK(s && s2);
    struct buf ns = BUF_INIT(BUF_NOLIMIT), cur = BUF_INIT(BUF_NOLIMIT);
    CHECK_EQ_INT(page(s, "items", 0, NULL, NULL, 2, &ns, &cur), 0);
    char good[512];
    snprintf(good, sizeof(good), "%s", cur.data);
    unsigned char raw[512];
    long n = raw_of(good, raw);
    CHECK(n > 26);
    int refused = 0;
    struct buf enc = BUF_INIT(BUF_NOLIMIT);
    for (long i = 0; i < n; i++) {
        for (int bit = 0; bit < 8; bit++) {
            raw[i] ^= (unsigned char)(1u << bit);
            buf_reset(&enc);
            base64_encode(&enc, raw, (size_t)n, 1);
            if (page(s, "items", 0, enc.data, NULL, 2, &ns, &cur) == -1 &&
                !strncmp(err.data, "InvalidCursor:", 14))
                refused++;
            raw[i] ^= (unsigned char)(1u << bit);
        }
    }
    CHECK_EQ_INT(refused, (int)(n * 8));
    for (long len = 0; len < n; len++) { /* every truncation */
        buf_reset(&enc);
        base64_encode(&enc, raw, (size_t)len, 1);
        CHECK_EQ_INT(page(s, "items", 0, enc.data, NULL, 2, &ns, &cur), -1);
    }
    /* as endCursor too */
    raw[n - 1] ^= 1;
    buf_reset(&enc);
    base64_encode(&enc, raw, (size_t)n, 1);
    CHECK_EQ_INT(page(s, "items", 0, NULL, enc.data, 2, &ns, &cur), -1);
    CHECK(strstr(err.data, "modified") != NULL);
    /* not base64 at all */
    CHECK_EQ_INT(page(s, "items", 0, "not a cursor!", NULL, 2, &ns, &cur), -1);
    CHECK(strstr(err.data, "is not a pagination cursor") != NULL);
    /* another query: order, table */
    CHECK_EQ_INT(page(s, "items", 1, good, NULL, 2, &ns, &cur), -1);
    CHECK(strstr(err.data, "different query") != NULL);
    CHECK_EQ_INT(page(s, "other", 0, good, NULL, 2, &ns, &cur), -1);
    CHECK(strstr(err.data, "different query") != NULL);
    /* another database, same query */
    CHECK_EQ_INT(page(s2, "items", 0, good, NULL, 2, &ns, &cur), -1);
    CHECK(strstr(err.data, "another deployment") != NULL);
    /* and the good one still works */
    CHECK_EQ_INT(page(s, "items", 0, good, NULL, 2, &ns, &cur), 0);
    CHECK_EQ_STR(ns.data, "23");
    /* as a query journal: checked for any query, refused in a journal's words */
    CHECK_EQ_INT(store_page_journal_check(s, good, strlen(good), &err), 0);
    CHECK_EQ_INT(store_page_journal_check(s2, good, strlen(good), &err), -1);
    CHECK(strstr(err.data, "InvalidCursor: the query journal was modified") != NULL);
    CHECK_EQ_INT(store_page_journal_check(s, "junk", 4, &err), -1);
    CHECK(strstr(err.data, "the query journal `junk` is not one this server issued") != NULL);
    struct store_txn *t = store_txn_begin(s, 0, &err);
    struct store_cursor *c = NULL;
    CHECK_EQ_INT(store_page_open_ex(t, "other", "by_creation_time", "{}", 2, 0, NULL, 0, good,
                                    strlen(good), STORE_PAGE_END_JOURNAL, &c, &err),
                 -1);
    CHECK(strstr(err.data, "the query journal is from a different query") != NULL);
    store_txn_commit(t, NULL, &err);
    store_txn_free(t);
    buf_release(&enc);
    buf_release(&ns);
    buf_release(&cur);
    store_close(s);
    store_close(s2);
}

TEST_MAIN()
