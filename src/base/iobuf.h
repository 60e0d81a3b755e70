/* iobuf: a message made of owned bytes and shared, reference-counted byte blocks, kept in order
 * without copying the shared ones: what many connections send alike (a live query's result) is
 * serialized once into a shared_buf and each connection's message holds a reference to it
 * between its own bytes (a header with its version and query id). iobuf_iov() gives the bytes as
 * an iovec for writev. Invariants: a shared_buf is immutable once made and freed when its last
 * reference goes; an iobuf's bytes are its owned bytes with each piece's shared bytes inserted at
 * the piece's offset into them (pieces in offset order); len is their total. */
#ifndef VR_BASE_IOBUF_H
#define VR_BASE_IOBUF_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "base/buf.h"

struct shared_buf {
    size_t refs;
    size_t len;
    char data[]; /* NUL-terminated at data[len] */
};

/* A new shared_buf holding a copy of (p, n), with one reference (the caller's). */
struct shared_buf *shared_buf_new(const void *p, size_t n);
void shared_buf_ref(struct shared_buf *sb);
void shared_buf_unref(struct shared_buf *sb); /* NULL is fine */

struct iobuf_piece {
    struct shared_buf *sb; /* one reference held */
    size_t at;             /* inserted before owned byte `at` (after the owned bytes before it) */
};

#define IOBUF_INLINE 2 /* pieces held without an allocation */

struct iobuf {
    struct buf own;
    size_t len;      /* owned + shared bytes */
    uint32_t n, cap; /* pieces; cap counts the inline ones */
    struct iobuf_piece inl[IOBUF_INLINE];
    struct iobuf_piece *more; /* pieces past the inline ones */
};

void iobuf_init(struct iobuf *m);
/* Drops the owned bytes and every reference; m is empty and reusable. */
void iobuf_release(struct iobuf *m);
/* Moves b's bytes in as owned bytes (b is left empty), after what m holds. */
void iobuf_take_buf(struct iobuf *m, struct buf *b);
void iobuf_append(struct iobuf *m, const void *p, size_t n);
void iobuf_append_str(struct iobuf *m, const char *s);
/* The decimal digits of v (no printf). */
void iobuf_append_u64(struct iobuf *m, uint64_t v);
/* Appends sb's bytes by reference (one more reference taken). */
void iobuf_append_shared(struct iobuf *m, struct shared_buf *sb);
/* Appends all of src (its shared pieces by reference). */
void iobuf_append_iobuf(struct iobuf *m, const struct iobuf *src);
/* Fills iov with the bytes from offset `from` to the end, at most max entries (no empty ones).
 * Returns the entries filled; *covered (may be NULL) gets the bytes they cover, which is less
 * than len - from only when max ran out. */
size_t iobuf_iov(const struct iobuf *m, size_t from, struct iovec *iov, size_t max,
                 size_t *covered);
/* Makes m's bytes all owned (copies the shared ones in, drops the references): one contiguous
 * m->own.data of m->len bytes. */
void iobuf_flatten(struct iobuf *m);

#endif
