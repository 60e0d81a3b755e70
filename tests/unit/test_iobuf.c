/* test_iobuf: shared_buf reference counts and iobuf (owned bytes with shared pieces): appends,
 * the iovec view from any offset and with few entries, flattening, moving a buf in. */
#include "test.h"

#include <sys/uio.h>

#include "base/iobuf.h"
#include "base/numfmt.h"
#include "base/mem.h"

/* The bytes iov covers, joined. */
static void join(const struct iovec *iov, size_t n, struct buf *out)
{
    buf_reset(out);
    for (size_t i = 0; i < n; i++) {
        CHECK(iov[i].iov_len > 0); /* no empty entries */
        buf_append(out, iov[i].iov_base, iov[i].iov_len);
    }
}

TEST(shared_buf_refcount)
{
    struct shared_buf *sb = shared_buf_new("hello", 5);
    CHECK_EQ_INT(sb->refs, 1);
    CHECK_EQ_INT(sb->len, 5);
    CHECK_EQ_STR(sb->data, "hello"); /* NUL-terminated */
    struct iobuf a, b;
    iobuf_init(&a);
    iobuf_init(&b);
    iobuf_append_shared(&a, sb);
    iobuf_append_shared(&b, sb);
    iobuf_append_shared(&b, sb);
    CHECK_EQ_INT(sb->refs, 4);
    iobuf_release(&a);
    CHECK_EQ_INT(sb->refs, 3);
    iobuf_flatten(&b); /* copies the bytes in, drops its references */
    CHECK_EQ_INT(sb->refs, 1);
    CHECK_EQ_STR(b.own.data, "hellohello");
    CHECK_EQ_INT(b.len, 10);
    CHECK_EQ_INT(b.n, 0);
    iobuf_release(&b);
    shared_buf_unref(sb); /* the last one: freed (ASan checks) */
    shared_buf_unref(NULL);
    struct shared_buf *e = shared_buf_new(NULL, 0);
    struct iobuf c;
    iobuf_init(&c);
    iobuf_append_shared(&c, e); /* an empty piece is not kept */
    CHECK_EQ_INT(c.n, 0);
    CHECK_EQ_INT(e->refs, 1);
    iobuf_release(&c);
    shared_buf_unref(e);
}

/* A transition as sync builds it: header, shared value, more owned bytes, another shared
 * value (past the inline pieces: several), the tail. */
TEST(iobuf_iov_every_offset)
{
    struct shared_buf *v1 = shared_buf_new("{\"a\":1},\"hash\":\"x\"}", 19);
    struct shared_buf *v2 = shared_buf_new("[2]", 3);
    struct iobuf m;
    iobuf_init(&m);
    iobuf_append_str(&m, "{\"mods\":[");
    iobuf_append_shared(&m, v1);
    iobuf_append(&m, ",", 1);
    iobuf_append_shared(&m, v2);
    iobuf_append_shared(&m, v2); /* two pieces in a row: no owned bytes between */
    iobuf_append_shared(&m, v1);
    iobuf_append_u64(&m, 18446744073709551615ull);
    iobuf_append_u64(&m, 0);
    iobuf_append_str(&m, "]}");
    CHECK_EQ_INT(m.n, 4);
    CHECK_EQ_INT(v1->refs, 3);
    const char *want = "{\"mods\":[{\"a\":1},\"hash\":\"x\"},[2][2]{\"a\":1},\"hash\":\"x\"}"
                       "184467440737095516150]}";
    size_t wl = strlen(want);
    CHECK_EQ_INT(m.len, wl);
    struct iovec iov[16];
    struct buf got = BUF_INIT(BUF_NOLIMIT);
    for (size_t from = 0; from <= wl; from++) {
        size_t covered = 0;
        size_t k = iobuf_iov(&m, from, iov, 16, &covered);
        join(iov, k, &got);
        CHECK_EQ_INT(covered, wl - from);
        CHECK(got.len == wl - from && memcmp(got.data, want + from, got.len) == 0);
        if (from == wl)
            CHECK_EQ_INT(k, 0);
    }
    /* too few entries: a prefix, and `covered` says how much */
    size_t covered = 0;
    size_t k = iobuf_iov(&m, 0, iov, 2, &covered);
    CHECK_EQ_INT(k, 2);
    CHECK_EQ_INT(covered, 9 + 19);
    join(iov, k, &got);
    CHECK(memcmp(got.data, want, covered) == 0);
    /* the shared bytes are referenced, not copied */
    k = iobuf_iov(&m, 0, iov, 16, NULL);
    CHECK(iov[1].iov_base == v1->data);
    /* a copy of the whole (pieces by reference) */
    struct iobuf m2;
    iobuf_init(&m2);
    iobuf_append_str(&m2, ">");
    iobuf_append_iobuf(&m2, &m);
    CHECK_EQ_INT(v1->refs, 5);
    k = iobuf_iov(&m2, 0, iov, 16, NULL);
    join(iov, k, &got);
    CHECK_EQ_INT(got.len, wl + 1);
    CHECK(got.data[0] == '>' && memcmp(got.data + 1, want, wl) == 0);
    iobuf_flatten(&m);
    CHECK_EQ_STR(m.own.data, want);
    CHECK_EQ_INT(m.len, wl);
    CHECK_EQ_INT(v1->refs, 3);
    iobuf_release(&m);
    iobuf_release(&m2);
    CHECK_EQ_INT(v1->refs, 1);
    CHECK_EQ_INT(v2->refs, 1);
    shared_buf_unref(v1);
    shared_buf_unref(v2);
    buf_release(&got);
}

TEST(iobuf_take_buf_moves)
{
    struct buf b = BUF_INIT(BUF_NOLIMIT);
    buf_append_str(&b, "{\"type\":\"pong\"}");
    char *data = b.data;
    struct iobuf m;
    iobuf_init(&m);
    iobuf_take_buf(&m, &b);
    CHECK(m.own.data == data); /* moved, not copied */
    CHECK_EQ_INT(b.len, 0);
    CHECK_EQ_INT(m.len, 15);
    buf_append_str(&b, "!");
    iobuf_take_buf(&m, &b); /* into a non-empty one: appended */
    CHECK_EQ_STR(m.own.data, "{\"type\":\"pong\"}!");
    CHECK_EQ_INT(m.len, 16);
    iobuf_release(&m);
    buf_release(&b);
    char d[21];
    CHECK_EQ_INT(numfmt_u64(0, d), 1);
    CHECK_EQ_INT(numfmt_u64(1234567890123ull, d), 13);
    CHECK(memcmp(d, "1234567890123", 13) == 0);
}

TEST_MAIN()
