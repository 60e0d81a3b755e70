/* iobuf: owned bytes with shared, reference-counted blocks between them (iobuf.h), and the
 * iovec view of them that writev takes. */
#include "base/iobuf.h"

#include <assert.h>
#include <string.h>

#include "base/mem.h"
#include "base/numfmt.h"
#include "base/banned.h"

struct shared_buf *shared_buf_new(const void *p, size_t n)
{
    struct shared_buf *sb = vr_malloc(sizeof *sb + n + 1);
    sb->refs = 1;
    sb->len = n;
    if (n)
        memcpy(sb->data, p, n);
    sb->data[n] = '\0';
    return sb;
}

void shared_buf_ref(struct shared_buf *sb)
{
    sb->refs++;
}

void shared_buf_unref(struct shared_buf *sb)
{
    if (!sb)
        return;
    assert(sb->refs > 0);
    if (--sb->refs == 0)
        vr_free(sb);
}

static struct iobuf_piece *piece(struct iobuf *m, uint32_t i)
{
    return i < IOBUF_INLINE ? &m->inl[i] : &m->more[i - IOBUF_INLINE];
}

static const struct iobuf_piece *cpiece(const struct iobuf *m, uint32_t i)
{
    return i < IOBUF_INLINE ? &m->inl[i] : &m->more[i - IOBUF_INLINE];
}

void iobuf_init(struct iobuf *m)
{
    memset(m, 0, sizeof *m);
    buf_init(&m->own, BUF_NOLIMIT);
    m->cap = IOBUF_INLINE;
}

void iobuf_release(struct iobuf *m)
{
    for (uint32_t i = 0; i < m->n; i++)
        shared_buf_unref(piece(m, i)->sb);
    vr_free(m->more);
    buf_release(&m->own);
    iobuf_init(m);
}

void iobuf_take_buf(struct iobuf *m, struct buf *b)
{
    if (!m->own.len && !m->n) {
        buf_release(&m->own);
        m->own = *b;
        m->own.max = BUF_NOLIMIT;
        m->len = b->len;
        buf_init(b, b->max);
        return;
    }
    iobuf_append(m, b->data, b->len);
    buf_release(b);
}

void iobuf_append(struct iobuf *m, const void *p, size_t n)
{
    buf_append(&m->own, p, n);
    m->len += n;
}

void iobuf_append_str(struct iobuf *m, const char *s)
{
    iobuf_append(m, s, strlen(s));
}

void iobuf_append_u64(struct iobuf *m, uint64_t v)
{
    char d[21];
    iobuf_append(m, d, numfmt_u64(v, d));
}

void iobuf_append_shared(struct iobuf *m, struct shared_buf *sb)
{
    if (!sb->len)
        return;
    if (m->n == m->cap) {
        m->cap *= 2;
        m->more = vr_realloc(m->more, (m->cap - IOBUF_INLINE) * sizeof *m->more);
    }
    shared_buf_ref(sb);
    struct iobuf_piece *p = piece(m, m->n++);
    p->sb = sb;
    p->at = m->own.len;
    m->len += sb->len;
}

void iobuf_append_iobuf(struct iobuf *m, const struct iobuf *src)
{
    size_t from = 0;
    for (uint32_t i = 0; i < src->n; i++) {
        const struct iobuf_piece *p = cpiece(src, i);
        iobuf_append(m, src->own.data + from, p->at - from);
        iobuf_append_shared(m, p->sb);
        from = p->at;
    }
    iobuf_append(m, src->own.data + from, src->own.len - from);
}

size_t iobuf_iov(const struct iobuf *m, size_t from, struct iovec *iov, size_t max, size_t *covered)
{
    size_t k = 0, pos = 0, own = 0, got = 0;
    /* segments in order: owned [own, p->at), shared p, ..., owned [own, own.len) */
    for (uint32_t i = 0; i <= m->n && k < max; i++) {
        for (int shared = 0; shared < 2 && k < max; shared++) {
            const char *p;
            size_t n;
            if (!shared) {
                size_t end = i < m->n ? cpiece(m, i)->at : m->own.len;
                p = m->own.data + own;
                n = end - own;
                own = end;
            } else {
                if (i == m->n)
                    break;
                p = cpiece(m, i)->sb->data;
                n = cpiece(m, i)->sb->len;
            }
            if (!n)
                continue;
            if (pos + n <= from) { /* wholly before `from` */
                pos += n;
                continue;
            }
            size_t skip = from > pos ? from - pos : 0;
            iov[k].iov_base = (void *)(p + skip);
            iov[k].iov_len = n - skip;
            got += n - skip;
            k++;
            pos += n;
        }
    }
    if (covered)
        *covered = got;
    return k;
}

void iobuf_flatten(struct iobuf *m)
{
    if (!m->n)
        return;
    struct buf flat = BUF_INIT(BUF_NOLIMIT);
    buf_reserve(&flat, m->len);
    size_t from = 0;
    for (uint32_t i = 0; i < m->n; i++) {
        struct iobuf_piece *p = piece(m, i);
        buf_append(&flat, m->own.data + from, p->at - from);
        buf_append(&flat, p->sb->data, p->sb->len);
        from = p->at;
    }
    buf_append(&flat, m->own.data + from, m->own.len - from);
    size_t len = m->len;
    iobuf_release(m);
    m->own = flat;
    m->len = len;
}
