/* test_store_quota: the storage limit (store_options.max_bytes, store_quota.c) on real SQLite
 * files — a write past it fails with STORE_ERR_FULL before it changes a row, so inside a
 * group-commit batch only its own transaction is lost; deletes free space; stored files count;
 * and SQLite's own backstop (SQLITE_FULL, which rolls a whole batch back) fails the batch
 * cleanly instead of letting later transactions commit on their own. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/buf.h"
#include "store/store.h"
#include "test.h"

#include "base/banned.h"

#define LIMIT (512u << 10)

static char dir[64];
static int ndb;
static struct buf err = BUF_INIT(BUF_NOLIMIT);

static void cleanup(void)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "cannot remove %s\n", dir);
}

/* fail_table: a batch that inserts into it fails to commit (store_options.test_fail_table) */
static struct store *open_opts(const char *path, uint64_t max_bytes, const char *fail_table)
{
    struct store_options o = { .max_bytes = max_bytes, .label = "tenant \"t\"",
                               .test_fail_table = fail_table };
    struct store *s = NULL;
    if (store_open(path, &o, &s, &err) < 0)
        fprintf(stderr, "open: %s\n", err.data);
    return s;
}

static struct store *open_at(const char *path, uint64_t max_bytes)
{
    return open_opts(path, max_bytes, NULL);
}

static struct store *open_new(char *path, size_t n, uint64_t max_bytes)
{
    if (!dir[0]) {
        snprintf(dir, sizeof dir, "/tmp/vr-quota-XXXXXX");
        if (!mkdtemp(dir))
            abort();
        atexit(cleanup);
    }
    snprintf(path, n, "%s/q%d.db", dir, ndb++);
    return open_at(path, max_bytes);
}

/* {"n": seq, "pad": "xxx…"} with `size` x's */
static char *doc_of(int seq, size_t size)
{
    char *d = malloc(size + 64);
    int h = snprintf(d, 64, "{\"n\":%d,\"pad\":\"", seq);
    memset(d + h, 'x', size);
    memcpy(d + h + size, "\"}", 3);
    return d;
}

/* One transaction inserting one document: 0, or the store's error kind (> 0) / -1. */
static int insert_one(struct store *s, int seq, size_t size, char id[STORE_ID_LEN + 1])
{
    char *d = doc_of(seq, size);
    struct store_txn *t = store_txn_begin(s, 1, &err);
    int r = t ? store_insert(t, "items", d, strlen(d), id, &err) : -1;
    if (r < 0 && t)
        r = store_last_error(s) == STORE_ERR_FULL ? (int)STORE_ERR_FULL : -1;
    if (r == 0)
        r = store_txn_commit(t, NULL, &err);
    store_txn_free(t);
    free(d);
    return r;
}

/* Inserts 3000-byte documents, one batch each, until one is refused; their ids in ids. */
static int fill(struct store *s, char (*ids)[STORE_ID_LEN + 1], int max)
{
    int n = 0;
    for (; n < max; n++) {
        CHECK_EQ_INT(store_batch_begin(s, &err), 0);
        int r = insert_one(s, n, 3000, ids[n]);
        CHECK_EQ_INT(store_batch_commit(s, &err), 0);
        if (r != 0) {
            CHECK_EQ_INT(r, STORE_ERR_FULL);
            break;
        }
    }
    return n;
}

static int exists(struct store *s, const char *id)
{
    struct store_txn *t = store_txn_begin(s, 0, &err);
    struct buf out = BUF_INIT(BUF_NOLIMIT);
    int found = 0;
    CHECK_EQ_INT(store_get(t, id, STORE_ID_LEN, &out, &found, &err), 0);
    store_txn_commit(t, NULL, &err);
    store_txn_free(t);
    buf_release(&out);
    return found;
}

static uint64_t used(struct store *s)
{
    struct store_usage u;
    CHECK_EQ_INT(store_usage(s, &u, &err), 0);
    CHECK_EQ_INT(u.limit_bytes, store_max_bytes(s));
    return u.database_bytes + u.file_bytes;
}

TEST(refused_before_any_row_changes_and_only_that_transaction_fails)
{
    char path[128], big_id[STORE_ID_LEN + 1];
    static char ids[400][STORE_ID_LEN + 1];
    struct store *s = open_new(path, sizeof path, LIMIT);
    CHECK(s != NULL);
    int n = fill(s, ids, 400);
    CHECK(n > 50 && n < 400);
    CHECK(strstr(err.data, "tenant \"t\" is over its storage limit of 524288 bytes") != NULL);
    CHECK(strstr(err.data, "delete data or raise the limit") != NULL);
    CHECK(used(s) <= LIMIT);
    /* one batch: a delete, a refused insert, a patch that shrinks a document: the first and
     * last commit with the batch */
    CHECK_EQ_INT(store_batch_begin(s, &err), 0);
    struct store_txn *t = store_txn_begin(s, 1, &err);
    CHECK_EQ_INT(store_delete(t, ids[0], STORE_ID_LEN, &err), 0);
    CHECK_EQ_INT(store_txn_commit(t, NULL, &err), 0);
    store_txn_free(t);
    CHECK_EQ_INT(insert_one(s, 9999, 200000, big_id), STORE_ERR_FULL);
    t = store_txn_begin(s, 1, &err);
    CHECK(t != NULL);
    /* a patch that grows a document past the limit is refused; one that shrinks it passes */
    char *grown = doc_of(1, 300000);
    CHECK(store_replace(t, ids[1], STORE_ID_LEN, grown, strlen(grown), &err) < 0);
    CHECK_EQ_INT(store_last_error(s), STORE_ERR_FULL);
    free(grown);
    const char *small = "{\"pad\":\"y\"}";
    CHECK_EQ_INT(store_patch(t, ids[1], STORE_ID_LEN, small, strlen(small), NULL, 0, &err), 0);
    CHECK_EQ_INT(store_txn_commit(t, NULL, &err), 0);
    store_txn_free(t);
    CHECK_EQ_INT(store_batch_commit(s, &err), 0);
    CHECK(!exists(s, ids[0]));
    CHECK(exists(s, ids[1]));
    /* the server's bookkeeping (a cron's next run) is not checked */
    char *d = doc_of(5000, 30000);
    t = store_txn_begin(s, 1, &err);
    CHECK(store_insert(t, "items", d, strlen(d), big_id, &err) < 0);
    store_txn_abort(t);
    store_txn_free(t);
    t = store_txn_begin(s, 1, &err);
    store_txn_exempt_limit(t);
    CHECK_EQ_INT(store_insert(t, "items", d, strlen(d), big_id, &err), 0);
    CHECK_EQ_INT(store_txn_commit(t, NULL, &err), 0);
    store_txn_free(t);
    free(d);
    for (int i = 2; i < n; i++)
        CHECK(exists(s, ids[i]));
    store_close(s);
}

TEST(deletes_free_space_for_new_writes_and_the_limit_holds_after_reopening)
{
    char path[128], id[STORE_ID_LEN + 1];
    static char ids[400][STORE_ID_LEN + 1];
    struct store *s = open_new(path, sizeof path, LIMIT);
    int n = fill(s, ids, 400);
    CHECK_EQ_INT(insert_one(s, 1, 3000, id), STORE_ERR_FULL);
    uint64_t full = used(s);
    /* every other document goes, one batch */
    CHECK_EQ_INT(store_batch_begin(s, &err), 0);
    struct store_txn *t = store_txn_begin(s, 1, &err);
    for (int i = 0; i < n; i += 2)
        CHECK_EQ_INT(store_delete(t, ids[i], STORE_ID_LEN, &err), 0);
    CHECK_EQ_INT(store_txn_commit(t, NULL, &err), 0);
    store_txn_free(t);
    CHECK_EQ_INT(store_batch_commit(s, &err), 0);
    CHECK(used(s) < full);
    CHECK_EQ_INT(insert_one(s, 1, 3000, id), 0);
    CHECK(exists(s, id));
    store_close(s);
    /* reopened with the same limit: filling again stops under it; without one, no limit */
    s = open_at(path, LIMIT);
    CHECK(s != NULL);
    static char more[400][STORE_ID_LEN + 1];
    int m = fill(s, more, 400);
    CHECK(m > 0 && m < 400);
    CHECK(used(s) <= LIMIT);
    store_close(s);
    s = open_at(path, 0);
    CHECK_EQ_INT(insert_one(s, 1, 3000, id), 0);
    CHECK_EQ_INT(store_max_bytes(s), 0);
    store_close(s);
    /* a limit below what the database holds: writes that grow it are refused, deletes work */
    s = open_at(path, 64u << 10);
    CHECK(s != NULL);
    CHECK_EQ_INT(insert_one(s, 1, 10, id), STORE_ERR_FULL);
    t = store_txn_begin(s, 1, &err);
    CHECK_EQ_INT(store_delete(t, more[0], STORE_ID_LEN, &err), 0);
    CHECK_EQ_INT(store_txn_commit(t, NULL, &err), 0);
    store_txn_free(t);
    store_close(s);
}

static int store_file(struct store *s, uint64_t size, char id[STORE_ID_LEN + 1])
{
    struct store_txn *t = store_txn_begin(s, 1, &err);
    int r = store_storage_insert(t, "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=", size, NULL, id,
                                 &err);
    if (r < 0)
        r = store_last_error(s) == STORE_ERR_FULL ? (int)STORE_ERR_FULL : -1;
    if (r == 0)
        r = store_txn_commit(t, NULL, &err);
    store_txn_free(t);
    return r;
}

TEST(stored_files_count_and_are_summed_again_at_open)
{
    char path[128], a[STORE_ID_LEN + 1], b[STORE_ID_LEN + 1], c[STORE_ID_LEN + 1];
    struct store *s = open_new(path, sizeof path, LIMIT);
    store_close(s);
    s = open_opts(path, LIMIT, "fail");
    struct store_usage u;
    CHECK_EQ_INT(store_file(s, 300000, a), 0);
    CHECK_EQ_INT(store_usage(s, &u, &err), 0);
    CHECK_EQ_INT(u.file_bytes, 300000);
    CHECK_EQ_INT(store_file(s, 300000, b), STORE_ERR_FULL);
    CHECK(strstr(err.data, "300000 in stored files") != NULL);
    /* a batch that stores a file and then fails to commit does not count it */
    CHECK_EQ_INT(store_batch_begin(s, &err), 0);
    CHECK_EQ_INT(store_file(s, 100000, c), 0);
    CHECK_EQ_INT(store_usage(s, &u, &err), 0);
    CHECK_EQ_INT(u.file_bytes, 400000);
    struct store_txn *t = store_txn_begin(s, 1, &err);
    CHECK_EQ_INT(store_delete(t, a, STORE_ID_LEN, &err), 0);
    CHECK_EQ_INT(store_usage(s, &u, &err), 0);
    CHECK_EQ_INT(u.file_bytes, 100000); /* the open transaction's delete counts already */
    store_txn_abort(t);
    store_txn_free(t);
    CHECK_EQ_INT(store_usage(s, &u, &err), 0);
    CHECK_EQ_INT(u.file_bytes, 400000);
    t = store_txn_begin(s, 1, &err);
    CHECK_EQ_INT(store_insert(t, "fail", "{}", 2, c, &err), 0);
    CHECK_EQ_INT(store_txn_commit(t, NULL, &err), 0);
    store_txn_free(t);
    CHECK(store_batch_commit(s, &err) < 0);
    CHECK_EQ_INT(store_usage(s, &u, &err), 0);
    CHECK_EQ_INT(u.file_bytes, 300000);
    /* deleting the file frees its bytes: a file of that size fits again */
    t = store_txn_begin(s, 1, &err);
    CHECK_EQ_INT(store_delete(t, a, STORE_ID_LEN, &err), 0);
    CHECK_EQ_INT(store_txn_commit(t, NULL, &err), 0);
    store_txn_free(t);
    CHECK_EQ_INT(store_file(s, 250000, b), 0);
    store_close(s);
    s = open_at(path, LIMIT);
    CHECK_EQ_INT(store_usage(s, &u, &err), 0);
    CHECK_EQ_INT(u.file_bytes, 250000);
    store_close(s);
}

TEST(sqlite_full_fails_the_whole_batch_and_nothing_commits_on_its_own)
{
    char path[128], a[STORE_ID_LEN + 1], c[STORE_ID_LEN + 1];
    struct store *s = open_new(path, sizeof path, LIMIT);
    uint64_t v0 = store_version(s);
    CHECK_EQ_INT(store_batch_begin(s, &err), 0);
    CHECK_EQ_INT(insert_one(s, 1, 100, a), 0);
    /* bookkeeping is not checked against the limit: it runs into SQLite's max_page_count
     * (limit + reserve), whose SQLITE_FULL rolls the batch back */
    struct store_txn *t = store_txn_begin(s, 1, &err);
    store_txn_exempt_limit(t);
    CHECK_EQ_INT(store_idem_put(t, "k0", 2, "1", 1, &err), 0);
    char *val = doc_of(0, 100000);
    char big[STORE_ID_LEN + 1];
    int r = 0;
    for (int i = 0; i < 100 && r == 0; i++)
        r = store_insert(t, "items", val, strlen(val), big, &err);
    free(val);
    CHECK(r < 0);
    CHECK_EQ_INT(store_last_error(s), STORE_ERR_FULL);
    CHECK(strstr(err.data, "or the disk is full") != NULL);
    /* the transaction is dead: a write fails instead of committing on its own */
    char *d = doc_of(2, 10);
    CHECK(store_insert(t, "items", d, strlen(d), c, &err) < 0);
    CHECK(store_idem_put(t, "late", 4, "1", 1, &err) < 0);
    CHECK(store_txn_commit(t, NULL, &err) < 0);
    store_txn_free(t);
    /* a later transaction of the batch is refused (a savepoint now would autocommit) */
    CHECK(store_txn_begin(s, 1, &err) == NULL);
    CHECK(strstr(err.data, "rolled back by a storage failure") != NULL);
    CHECK(store_batch_commit(s, &err) < 0);
    CHECK_EQ_INT(store_version(s), v0);
    CHECK(!exists(s, a));
    /* the store goes on */
    CHECK_EQ_INT(store_batch_begin(s, &err), 0);
    CHECK_EQ_INT(insert_one(s, 3, 10, c), 0);
    CHECK_EQ_INT(store_batch_commit(s, &err), 0);
    CHECK(exists(s, c));
    t = store_txn_begin(s, 0, &err);
    struct buf v = BUF_INIT(BUF_NOLIMIT);
    uint64_t ver;
    CHECK_EQ_INT(store_idem_get(t, "late", 4, &v, &ver, &err), 0); /* nothing committed alone */
    CHECK_EQ_INT(store_idem_get(t, "k0", 2, &v, &ver, &err), 0);
    store_txn_commit(t, NULL, &err);
    store_txn_free(t);
    buf_release(&v);
    free(d);
    store_close(s);
}

TEST(large_idempotency_records_count_small_ones_always_fit)
{
    char path[128];
    static char ids[400][STORE_ID_LEN + 1];
    struct store *s = open_new(path, sizeof path, LIMIT);
    fill(s, ids, 400);
    struct store_txn *t = store_txn_begin(s, 1, &err);
    char *big = doc_of(0, 50000);
    CHECK(store_idem_put(t, "big", 3, big, strlen(big), &err) < 0);
    CHECK_EQ_INT(store_last_error(s), STORE_ERR_FULL);
    CHECK_EQ_INT(store_idem_put(t, "small", 5, "null", 4, &err), 0);
    CHECK_EQ_INT(store_last_error(s), STORE_ERR_OTHER);
    CHECK_EQ_INT(store_delete(t, ids[0], STORE_ID_LEN, &err), 0);
    CHECK_EQ_INT(store_txn_commit(t, NULL, &err), 0);
    store_txn_free(t);
    free(big);
    store_close(s);
}

TEST_MAIN()
