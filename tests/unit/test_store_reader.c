/* test_store_reader: read-only stores (store_open_reader) beside the writing store on one file:
 * a snapshot begun after a commit sees it, a snapshot open during a commit does not; tables and
 * indexes made after the reader opened (a schemaless insert, a schema applied) are found
 * (catalog refresh by schema cookie, and by store_id_table outside a transaction); writes and
 * writable transactions are refused; a database store_open never made is refused. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/buf.h"
#include "store/store.h"
#include "test.h"
#include "base/banned.h"

static char dir[64];
static struct buf err = BUF_INIT(BUF_NOLIMIT);

static void cleanup(void)
{
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "cannot remove %s\n", dir);
}

static int insert(struct store *s, const char *table, const char *doc, char id[STORE_ID_LEN + 1])
{
    struct store_txn *t = store_txn_begin(s, 1, &err);
    if (!t)
        return -1;
    int r = store_insert(t, table, doc, strlen(doc), id, &err);
    if (r == 0)
        r = store_txn_commit(t, NULL, &err);
    else
        store_txn_abort(t);
    store_txn_free(t);
    return r;
}

/* Documents of `table` in a reader's snapshot (its version in *version), -1 on error. */
static int count(struct store *r, const char *table, uint64_t *version)
{
    struct store_txn *t = store_txn_begin(r, 0, &err);
    if (!t)
        return -1;
    struct store_cursor *c = NULL;
    struct buf doc = BUF_INIT(BUF_NOLIMIT);
    int n = 0, done = 0;
    if (store_scan_open(t, table, "by_creation_time", "{}", 2, 0, &c, &err) < 0) {
        n = -1;
    } else {
        while (store_scan_next(c, &doc, &done, &err) == 0 && !done)
            n++;
        store_scan_close(c, (size_t)n);
    }
    if (version)
        *version = store_version(r);
    store_txn_commit(t, NULL, &err);
    store_txn_free(t);
    buf_release(&doc);
    return n;
}

TEST(reader_sees_commits_and_new_tables)
{
    char path[128], id[STORE_ID_LEN + 1];
    snprintf(path, sizeof(path), "%s/r.db", dir);
    struct store *w = NULL, *r = NULL;
    CHECK(store_open(path, NULL, &w, &err) == 0);
    CHECK(store_open_reader(path, &r, &err) == 0);
    CHECK(store_is_reader(r) && !store_is_reader(w));
    CHECK_EQ_INT(count(r, "notes", NULL), 0); /* no such table yet: an empty scan */

    /* a table the reader's catalog never saw, made by a schemaless insert */
    CHECK(insert(w, "notes", "{\"a\":1}", id) == 0);
    uint64_t v = 0;
    CHECK_EQ_INT(count(r, "notes", &v), 1);
    CHECK(v == store_version(w));
    /* an id of a table made since, resolved outside a transaction (argument validation) */
    char id2[STORE_ID_LEN + 1];
    CHECK(insert(w, "later", "{}", id2) == 0);
    CHECK(store_id_table(r, id2, STORE_ID_LEN) != NULL);
    CHECK_EQ_STR(store_id_table(r, id2, STORE_ID_LEN), "later");

    /* a snapshot open during a commit keeps its view; the next one sees the commit */
    struct store_txn *t = store_txn_begin(r, 0, &err);
    CHECK(t != NULL);
    struct buf out = BUF_INIT(BUF_NOLIMIT);
    int found = 0;
    CHECK(store_get(t, id, STORE_ID_LEN, &out, &found, &err) == 0 && found);
    CHECK(insert(w, "notes", "{\"a\":2}", id2) == 0);
    found = 1;
    buf_reset(&out);
    CHECK(store_get(t, id2, STORE_ID_LEN, &out, &found, &err) == 0 && !found);
    CHECK(store_txn_commit(t, NULL, &err) == 0);
    store_txn_free(t);
    CHECK_EQ_INT(count(r, "notes", NULL), 2);

    /* a schema with an index applied after the reader opened: scans of the index work */
    const char *schema = "{\"tables\":{\"notes\":{\"indexes\":[{\"name\":\"by_a\","
                         "\"fields\":[\"a\"]}]},\"later\":{}}}";
    CHECK(store_apply_schema(w, schema, strlen(schema), &err) == 0);
    t = store_txn_begin(r, 0, &err);
    CHECK(t != NULL);
    struct store_cursor *c = NULL;
    int opened = store_scan_open(t, "notes", "by_a", "{\"eq\":[2]}", 10, 0, &c, &err) == 0;
    CHECK(opened);
    if (opened) {
        int done = 0;
        buf_reset(&out);
        CHECK(store_scan_next(c, &out, &done, &err) == 0 && !done);
        CHECK(strstr(out.data, "\"a\":2") != NULL);
        store_scan_close(c, 1);
    }

    /* read-only: a write in a read snapshot, and a writable transaction, are refused */
    CHECK(store_insert(t, "notes", "{\"a\":3}", 7, id2, &err) < 0);
    CHECK(store_txn_commit(t, NULL, &err) == 0);
    store_txn_free(t);
    buf_reset(&err);
    CHECK(store_txn_begin(r, 1, &err) == NULL);
    CHECK(strstr(err.data, "read-only") != NULL);
    CHECK_EQ_INT(count(r, "notes", NULL), 2);

    buf_release(&out);
    store_close(r);
    store_close(w);
}

TEST(reader_of_a_database_store_open_never_made)
{
    char path[128];
    snprintf(path, sizeof(path), "%s/none.db", dir);
    struct store *r = NULL;
    buf_reset(&err);
    CHECK(store_open_reader(path, &r, &err) < 0);
    CHECK(r == NULL);
    CHECK(err.len > 0);
}

static void setup(void) __attribute__((constructor));
static void setup(void)
{
    snprintf(dir, sizeof(dir), "/tmp/vr-reader-XXXXXX");
    if (!mkdtemp(dir))
        abort();
    atexit(cleanup);
}

TEST_MAIN()
