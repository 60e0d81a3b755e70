/* buf: growable byte buffer with a hard maximum. */
#include "base/buf.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "base/mem.h"

char buf_empty_[1];

void buf_init(struct buf *b, size_t max)
{
    b->data = buf_empty_;
    b->len = 0;
    b->cap = 0;
    b->max = max;
}

void buf_release(struct buf *b)
{
    if (b->cap)
        vr_free(b->data);
    b->data = buf_empty_;
    b->len = 0;
    b->cap = 0;
}

void buf_reset(struct buf *b)
{
    b->len = 0;
    if (b->cap) /* never write the shared empty string: threads share it (action workers) */
        b->data[0] = '\0';
}

size_t buf_grown_cap(const struct buf *b, size_t extra)
{
    size_t need = b->len + extra + 1;
    if (need <= b->cap)
        return b->cap;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need)
        cap = cap * 2;
    return cap;
}

int buf_grow(struct buf *b, size_t extra)
{
    if (extra > b->max || b->len > b->max - extra)
        return -E2BIG;
    size_t cap = buf_grown_cap(b, extra);
    if (cap == b->cap)
        return 0;
    if (b->cap) {
        b->data = vr_realloc(b->data, cap);
    } else {
        b->data = vr_malloc(cap);
        b->data[0] = '\0';
    }
    b->cap = cap;
    return 0;
}

int buf_reserve(struct buf *b, size_t total)
{
    if (total > b->max)
        return -E2BIG;
    if (total + 1 <= b->cap)
        return 0;
    if (b->cap) {
        b->data = vr_realloc(b->data, total + 1);
    } else {
        b->data = vr_malloc(total + 1);
        b->data[0] = '\0';
    }
    b->cap = total + 1;
    return 0;
}

int buf_append(struct buf *b, const void *p, size_t n)
{
    if (buf_grow(b, n) < 0)
        return -E2BIG;
    if (n)
        memcpy(b->data + b->len, p, n);
    b->len += n;
    b->data[b->len] = '\0';
    return 0;
}

int buf_append_str(struct buf *b, const char *s)
{
    return buf_append(b, s, strlen(s));
}

int buf_append_byte(struct buf *b, unsigned char c)
{
    return buf_append(b, &c, 1);
}

int buf_vappendf(struct buf *b, const char *fmt, va_list ap)
{
    va_list cp;
    va_copy(cp, ap);
    int n = vsnprintf(NULL, 0, fmt, cp);
    va_end(cp);
    if (n < 0)
        return -EINVAL;
    if (buf_grow(b, (size_t)n) < 0)
        return -E2BIG;
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    b->len += (size_t)n;
    return 0;
}

int buf_appendf(struct buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int r = buf_vappendf(b, fmt, ap);
    va_end(ap);
    return r;
}

int buf_vfail(struct buf *b, const char *fmt, va_list ap)
{
    buf_reset(b);
    buf_vappendf(b, fmt, ap);
    return -1;
}

int buf_fail(struct buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    buf_vfail(b, fmt, ap);
    va_end(ap);
    return -1;
}

void buf_consume(struct buf *b, size_t n)
{
    if (n >= b->len) {
        buf_reset(b);
        return;
    }
    memmove(b->data, b->data + n, b->len - n);
    b->len -= n;
    b->data[b->len] = '\0';
}

char *buf_detach(struct buf *b, size_t *len_out)
{
    char *p = b->cap ? b->data : vr_strdup("");
    if (len_out)
        *len_out = b->len;
    b->data = buf_empty_;
    b->len = 0;
    b->cap = 0;
    return p;
}

int buf_append_json_str(struct buf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    if (buf_append_byte(b, '"') < 0)
        return -E2BIG;
    size_t start = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c != '"' && c != '\\')
            continue;
        if (buf_append(b, s + start, i - start) < 0)
            return -E2BIG;
        char esc[7] = { '\\', 0, 0, 0, 0, 0, 0 };
        size_t elen = 2;
        switch (c) {
        case '"': esc[1] = '"'; break;
        case '\\': esc[1] = '\\'; break;
        case '\n': esc[1] = 'n'; break;
        case '\r': esc[1] = 'r'; break;
        case '\t': esc[1] = 't'; break;
        default:
            esc[1] = 'u'; esc[2] = '0'; esc[3] = '0';
            esc[4] = hex[c >> 4]; esc[5] = hex[c & 15];
            elen = 6;
        }
        if (buf_append(b, esc, elen) < 0)
            return -E2BIG;
        start = i + 1;
    }
    if (buf_append(b, s + start, n - start) < 0)
        return -E2BIG;
    return buf_append_byte(b, '"');
}
