/* live: dedupe of identical live queries, exact invalidation by read/write sets, diff
 * suppression. Read and write sets are built by hand here; the store builds them for real. */
#include "test.h"

#include <stdio.h>

#include "live/live.h"
#include "read_sets.h"

static void free_reads(struct read_set *rs)
{
    for (size_t i = 0; i < rs->len; i++) {
        buf_release(&rs->ranges[i].lo);
        buf_release(&rs->ranges[i].hi);
    }
    free(rs->ranges);
    memset(rs, 0, sizeof *rs);
}

static void one_write(struct write_set *ws, uint32_t index_id, const char *old_key,
                      const char *new_key)
{
    static struct index_write w;
    buf_init(&w.old_key, BUF_NOLIMIT);
    buf_init(&w.new_key, BUF_NOLIMIT);
    if (old_key)
        buf_append_str(&w.old_key, old_key);
    if (new_key)
        buf_append_str(&w.new_key, new_key);
    w.index_id = index_id;
    ws->writes = &w;
    ws->len = 1;
}

static void release_write(struct write_set *ws)
{
    buf_release(&ws->writes[0].old_key);
    buf_release(&ws->writes[0].new_key);
}

TEST(live_dedupes_identical_queries)
{
    struct live *l = live_new();
    int created;
    struct live_query *a = live_query_acquire(l, "messages:list", "{\"channel\":\"#a\"}", "", &created);
    CHECK(created);
    struct live_query *b = live_query_acquire(l, "messages:list", "{\"channel\":\"#a\"}", "", &created);
    CHECK(!created);
    CHECK(a == b);
    struct live_query *c = live_query_acquire(l, "messages:list", "{\"channel\":\"#a\"}", "user1", &created);
    CHECK(created);
    CHECK(a != c);
    CHECK_EQ_INT(live_query_count(l), 2);
    live_query_release(l, a);
    CHECK_EQ_INT(live_query_count(l), 2);
    live_query_release(l, b);
    live_query_release(l, c);
    CHECK_EQ_INT(live_query_count(l), 0);
    live_free(l);
}

TEST(live_journal_is_part_of_the_key)
{
    struct live *l = live_new();
    int created;
    /* Vireo's (not journaled), a journaled one with none yet, one with journal "J1" */
    struct live_query *v = live_query_acquire(l, "m:page", "{}", "", &created);
    struct live_query *n = live_query_acquire_journal(l, "m:page", "{}", "", "", &created);
    CHECK(created && n != v && n->journal && !*n->journal && !v->journal);
    struct live_query *j = live_query_acquire_journal(l, "m:page", "{}", "", "J1", &created);
    CHECK(created && j != n);
    /* n's first run records J2: it is found under J2, no longer under "" */
    live_query_set_journal(l, n, "J2", 2);
    CHECK_EQ_STR(n->journal, "J2");
    struct live_query *x = live_query_acquire_journal(l, "m:page", "{}", "", "J2", &created);
    CHECK(!created && x == n);
    struct live_query *fresh = live_query_acquire_journal(l, "m:page", "{}", "", "", &created);
    CHECK(created && fresh != n);
    /* fresh records J1, which j already has: fresh keeps its subscribers, found by no key */
    live_query_set_journal(l, fresh, "J1", 2);
    x = live_query_acquire_journal(l, "m:page", "{}", "", "J1", &created);
    CHECK(!created && x == j);
    CHECK_EQ_INT(live_query_count(l), 4);
    live_mark_all_dirty(l); /* every query, keyed or not */
    int dirty = 0;
    while (live_pop_dirty(l))
        dirty++;
    CHECK_EQ_INT(dirty, 4);
    live_query_release(l, fresh);
    CHECK_EQ_INT(live_query_count(l), 3);
    x = live_query_acquire_journal(l, "m:page", "{}", "", "J1", &created);
    CHECK(!created && x == j);  /* freeing the unkeyed one left j's key alone */
    for (int i = 0; i < 3; i++) /* j: its own and two acquired as x */
        live_query_release(l, j);
    live_query_release(l, n);
    live_query_release(l, n);
    CHECK_EQ_INT(live_query_count(l), 1);
    live_free(l); /* frees v */
}

TEST(live_precise_invalidation_10000_channels)
{
    struct live *l = live_new();
    static struct live_query *qs[10000];
    for (int i = 0; i < 10000; i++) {
        char args[64], lo[32], hi[32];
        snprintf(args, sizeof args, "{\"channel\":\"c%05d\"}", i);
        int created;
        qs[i] = live_query_acquire(l, "messages:list", args, "", &created);
        struct read_set rs = { 0 };
        snprintf(lo, sizeof lo, "c%05d", i);
        snprintf(hi, sizeof hi, "c%05d\xff", i);
        add_range(&rs, 7, lo, hi);
        CHECK(live_query_update(l, qs[i], &rs, "[]", 2, 0, 1));
        free_reads(&rs);
    }
    CHECK_EQ_INT(live_range_count(l), 10000);
    /* an insert into channel 4242 */
    struct write_set ws = { 0 };
    one_write(&ws, 7, NULL, "c04242\x60some-id");
    CHECK_EQ_INT(live_apply_writes(l, &ws), 1);
    release_write(&ws);
    struct live_query *d = live_pop_dirty(l);
    CHECK(d == qs[4242]);
    CHECK(live_pop_dirty(l) == NULL);
    /* a write to another index touches nothing */
    one_write(&ws, 8, NULL, "c04242");
    CHECK_EQ_INT(live_apply_writes(l, &ws), 0);
    release_write(&ws);
    /* a move from channel 1 to channel 2 dirties both, each once even if stabbed twice */
    one_write(&ws, 7, "c00001x", "c00002x");
    CHECK_EQ_INT(live_apply_writes(l, &ws), 2);
    CHECK_EQ_INT(live_apply_writes(l, &ws), 0);
    release_write(&ws);
    CHECK(live_pop_dirty(l) == qs[1]);
    CHECK(live_pop_dirty(l) == qs[2]);
    for (int i = 0; i < 10000; i++)
        live_query_release(l, qs[i]);
    CHECK_EQ_INT(live_range_count(l), 0);
    live_free(l);
}

TEST(live_range_boundaries_are_half_open)
{
    struct live *l = live_new();
    int created;
    struct live_query *q = live_query_acquire(l, "m:range", "{}", "", &created);
    struct read_set rs = { 0 };
    add_range(&rs, 3, "b", "d");
    live_query_update(l, q, &rs, "1", 1, 0, 1);
    free_reads(&rs);
    struct write_set ws = { 0 };
    const char *keys[] = { "a", "az", "b", "c", "cz", "d", "da" };
    int want[] = { 0, 0, 1, 1, 1, 0, 0 };
    for (int i = 0; i < 7; i++) {
        one_write(&ws, 3, NULL, keys[i]);
        CHECK_EQ_INT(live_apply_writes(l, &ws), want[i]);
        release_write(&ws);
        live_pop_dirty(l);
    }
    live_query_release(l, q);
    live_free(l);
}

TEST(live_suppresses_unchanged_results)
{
    struct live *l = live_new();
    int created;
    struct live_query *q = live_query_acquire(l, "m:q", "{}", "", &created);
    CHECK_EQ_INT(live_query_update(l, q, NULL, "[1,2]", 5, 0, 1), 1);
    CHECK_EQ_INT(live_query_update(l, q, NULL, "[1,2]", 5, 0, 2), 0);
    CHECK_EQ_INT(live_query_update(l, q, NULL, "[1,2,3]", 7, 0, 3), 1);
    CHECK_EQ_INT(live_query_update(l, q, NULL, "[1,2,3]", 7, 1, 4), 1);
    CHECK_EQ_INT(q->version, 4);
    CHECK_EQ_INT(live_stats(l)->executions, 4);
    live_query_release(l, q);
    live_free(l);
}

TEST(live_release_while_dirty)
{
    struct live *l = live_new();
    int created;
    struct live_query *q1 = live_query_acquire(l, "m:q", "1", "", &created);
    struct live_query *q2 = live_query_acquire(l, "m:q", "2", "", &created);
    struct read_set rs = { 0 };
    add_range(&rs, 1, "a", "z");
    live_query_update(l, q1, &rs, "x", 1, 0, 1);
    live_query_update(l, q2, &rs, "x", 1, 0, 1);
    free_reads(&rs);
    struct write_set ws = { 0 };
    one_write(&ws, 1, NULL, "m");
    CHECK_EQ_INT(live_apply_writes(l, &ws), 2);
    release_write(&ws);
    live_query_release(l, q1);
    CHECK(live_pop_dirty(l) == q2);
    CHECK(live_pop_dirty(l) == NULL);
    live_query_release(l, q2);
    live_free(l);
}

TEST(live_logs_counted_and_freed)
{
    struct live *l = live_new();
    int created;
    struct live_query *q = live_query_acquire(l, "m:q", "{}", "", &created);
    CHECK_EQ_INT(live_log_bytes(l), 0);
    struct buf b = BUF_INIT(BUF_NOLIMIT);
    buf_append_str(&b, "[\"[LOG] 'hi'\"]");
    size_t cap = b.cap;
    live_query_set_logs(l, q, &b, 42);
    CHECK_EQ_INT(b.len, 0); /* taken */
    CHECK_EQ_INT(b.cap, 0);
    CHECK_EQ_STR(q->logs.data, "[\"[LOG] 'hi'\"]");
    CHECK_EQ_INT(q->logs_hash, 42);
    CHECK_EQ_INT(live_log_bytes(l), cap);
    live_query_drop_logs(l, q); /* the bytes go, the hash stays */
    CHECK_EQ_INT(live_log_bytes(l), 0);
    CHECK_EQ_INT(q->logs.len, 0);
    CHECK_EQ_INT(q->logs_hash, 42);
    buf_append_str(&b, "[\"[LOG] 'again'\"]");
    live_query_set_logs(l, q, &b, 43);
    CHECK(live_log_bytes(l) > 0);
    live_query_set_logs(l, q, NULL, 0); /* a run that logged nothing */
    CHECK_EQ_INT(live_log_bytes(l), 0);
    CHECK_EQ_INT(q->logs_hash, 0);
    buf_append_str(&b, "[\"[LOG] 'kept'\"]");
    live_query_set_logs(l, q, &b, 44);
    live_query_ref(q); /* a second reference keeps it past the first release */
    live_query_release(l, q);
    CHECK(live_log_bytes(l) > 0);
    live_query_release(l, q); /* freed with its logs */
    CHECK_EQ_INT(live_log_bytes(l), 0);
    CHECK_EQ_INT(live_query_count(l), 0);
    live_free(l);
}

TEST_MAIN()
