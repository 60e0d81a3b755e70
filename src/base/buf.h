/* buf: a growable byte buffer with git strbuf's invariants plus a maximum size (curl dynbuf).
 * Invariants: `data` is never NULL and always NUL-terminated at data[len]; len <= max.
 * Appends past `max` fail with -E2BIG and leave the buffer unchanged, so network input can never
 * make it grow without bound. */
#ifndef VR_BASE_BUF_H
#define VR_BASE_BUF_H

#include <stdarg.h>
#include <stddef.h>

struct buf {
    char *data;
    size_t len;
    size_t cap; /* 0 while data points at the shared empty string */
    size_t max;
};

#define BUF_NOLIMIT ((size_t)-1)
#define BUF_INIT(maxsz) { buf_empty_, 0, 0, (maxsz) }

extern char buf_empty_[1];

void buf_init(struct buf *b, size_t max);
void buf_release(struct buf *b); /* frees memory; the buffer is empty and reusable */
void buf_reset(struct buf *b);   /* len = 0, keeps memory */
int buf_grow(struct buf *b, size_t extra); /* 0 or -E2BIG */
/* The capacity buf_grow gives b for `extra` more bytes (doubling; its own when they fit), limit
 * aside: what a caller charges to a budget before it appends. */
size_t buf_grown_cap(const struct buf *b, size_t extra);
/* Makes room for exactly `total` bytes (no doubling): for a size known in advance. 0 or -E2BIG */
int buf_reserve(struct buf *b, size_t total);
int buf_append(struct buf *b, const void *p, size_t n);
int buf_append_str(struct buf *b, const char *s);
int buf_append_byte(struct buf *b, unsigned char c);
int buf_appendf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int buf_vappendf(struct buf *b, const char *fmt, va_list ap);
/* An error path's message: b's contents replaced with the formatted text; returns -1. */
int buf_fail(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int buf_vfail(struct buf *b, const char *fmt, va_list ap);
void buf_consume(struct buf *b, size_t n); /* drops n bytes from the front */
char *buf_detach(struct buf *b, size_t *len_out); /* caller owns the result; b is reset */
/* Appends `s` as a JSON string literal (quoted, escaped). */
int buf_append_json_str(struct buf *b, const char *s, size_t n);

#endif
