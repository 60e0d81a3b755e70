/* key: order-preserving encoding of Vireo values (layout in key.h) and its strict decoder.
 * Invariant: memcmp of two encodings orders as Convex orders the values, and a tuple of values
 * encodes as the concatenation of the encodings; decode(encode(v)) re-encodes byte for byte. */
#include "store/key.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/base64.h"
#include "base/mem.h"
#include "store/value.h"

#include "base/banned.h"

static int put_u64(struct buf *out, unsigned char tag, uint64_t u)
{
    unsigned char b[9];
    b[0] = tag;
    for (int i = 0; i < 8; i++)
        b[1 + i] = (unsigned char)(u >> (56 - 8 * i));
    return buf_append(out, b, 9);
}

/* Escaped bytes: 0x00 -> 0x00 0xff, then a 0x00 terminator. */
static int put_escaped(struct buf *out, unsigned char tag, const unsigned char *p, size_t n)
{
    if (buf_append_byte(out, tag) < 0)
        return -E2BIG;
    size_t start = 0;
    for (size_t i = 0; i < n; i++) {
        if (p[i] != 0)
            continue;
        if (buf_append(out, p + start, i + 1 - start) < 0 || buf_append_byte(out, 0xff) < 0)
            return -E2BIG;
        start = i + 1;
    }
    if (buf_append(out, p + start, n - start) < 0 || buf_append_byte(out, 0) < 0)
        return -E2BIG;
    return 0;
}

struct field {
    const char *key;
    size_t len;
    json_t *val;
};

static int field_cmp(const void *a, const void *b)
{
    const struct field *x = a, *y = b;
    size_t n = x->len < y->len ? x->len : y->len;
    int c = memcmp(x->key, y->key, n);
    if (c)
        return c;
    return x->len < y->len ? -1 : x->len > y->len;
}

static int put_number(struct buf *out, double d)
{
    uint64_t u;
    memcpy(&u, &d, 8);
    u = (u >> 63) ? ~u : u ^ (1ull << 63);
    return put_u64(out, KEY_TAG_NUMBER, u);
}

static int encode(struct buf *out, const json_t *v, int depth)
{
    if (depth > KEY_MAX_DEPTH)
        return -EINVAL;
    int64_t i64 = 0;
    double d = 0;
    int r = 0;
    switch (value_type_of(v, &i64, &d)) {
    case VT_UNDEFINED:
        return buf_append_byte(out, KEY_TAG_UNDEFINED);
    case VT_NULL:
        return buf_append_byte(out, KEY_TAG_NULL);
    case VT_INT64:
        return put_u64(out, KEY_TAG_INT64, (uint64_t)i64 ^ (1ull << 63));
    case VT_NUMBER:
        return put_number(out, d);
    case VT_BOOLEAN:
        return buf_append_byte(out, json_is_true(v) ? KEY_TAG_TRUE : KEY_TAG_FALSE);
    case VT_STRING:
        return put_escaped(out, KEY_TAG_STRING, (const unsigned char *)json_string_value(v),
                           json_string_length(v));
    case VT_BYTES: {
        struct buf tmp = BUF_INIT(out->max);
        r = value_bytes(v, &tmp);
        if (r == 0)
            r = put_escaped(out, KEY_TAG_BYTES, (const unsigned char *)tmp.data, tmp.len);
        buf_release(&tmp);
        return r;
    }
    case VT_ARRAY:
        if (buf_append_byte(out, KEY_TAG_ARRAY) < 0)
            return -E2BIG;
        for (size_t i = 0; i < json_array_size(v); i++)
            if ((r = encode(out, json_array_get(v, i), depth + 1)) < 0)
                return r;
        return buf_append_byte(out, 0);
    case VT_OBJECT: {
        size_t n = json_object_size(v), i = 0;
        struct field *f = vr_malloc((n ? n : 1) * sizeof(*f));
        const char *key;
        size_t klen;
        json_t *val;
        json_object_keylen_foreach((json_t *)v, key, klen, val) {
            f[i++] = (struct field){ key, klen, val };
        }
        qsort(f, n, sizeof(*f), field_cmp);
        r = buf_append_byte(out, KEY_TAG_OBJECT);
        for (i = 0; r == 0 && i < n; i++) {
            r = put_escaped(out, KEY_TAG_STRING, (const unsigned char *)f[i].key, f[i].len);
            if (r == 0)
                r = encode(out, f[i].val, depth + 1);
        }
        if (r == 0)
            r = buf_append_byte(out, 0);
        vr_free(f);
        return r;
    }
    case VT_INVALID:
        break;
    }
    return -EINVAL;
}

/* undoes a failed append: the key stays as it was */
static int kept(struct buf *out, size_t mark, int r)
{
    if (r < 0) {
        out->len = mark;
        out->data[mark] = '\0';
    }
    return r;
}

int key_encode_string(struct buf *out, const char *s, size_t len)
{
    size_t mark = out->len;
    return kept(out, mark, put_escaped(out, KEY_TAG_STRING, (const unsigned char *)s, len));
}

int key_encode_number(struct buf *out, double d)
{
    size_t mark = out->len;
    return kept(out, mark, put_number(out, d));
}

int key_encode_value(struct buf *out, const json_t *v)
{
    size_t mark = out->len;
    return kept(out, mark, encode(out, v, 0));
}

/* ---- decoding ---- */

static uint64_t get_u64(const unsigned char *p)
{
    uint64_t u = 0;
    for (int i = 0; i < 8; i++)
        u = (u << 8) | p[i];
    return u;
}

static json_t *wrapper(const char *name, const void *p, size_t n)
{
    struct buf b = BUF_INIT(BUF_NOLIMIT);
    base64_encode(&b, p, n, 0);
    json_t *o = json_object();
    json_object_set_new(o, name, json_stringn(b.data, b.len));
    buf_release(&b);
    return o;
}

/* Reads an escaped run after its tag into out; returns bytes consumed (incl. terminator) or -1.
 * Strict: 0x00 must be followed by 0xff (escape) or end the run. */
static long get_escaped(const unsigned char *p, size_t n, struct buf *out)
{
    for (size_t i = 0; i < n; i++) {
        if (p[i] != 0) {
            buf_append_byte(out, p[i]);
            continue;
        }
        if (i + 1 < n && p[i + 1] == 0xff) {
            buf_append_byte(out, 0);
            i++;
            continue;
        }
        return (long)i + 1;
    }
    return -1;
}

static long decode(const unsigned char *p, size_t n, json_t **out, int *undef, int depth)
{
    *out = NULL;
    *undef = 0;
    if (n < 1 || depth > KEY_MAX_DEPTH)
        return -1;
    unsigned char tag = p[0];
    switch (tag) {
    case KEY_TAG_UNDEFINED:
        *undef = 1;
        return 1;
    case KEY_TAG_NULL:
        *out = json_null();
        return 1;
    case KEY_TAG_FALSE:
        *out = json_false();
        return 1;
    case KEY_TAG_TRUE:
        *out = json_true();
        return 1;
    case KEY_TAG_INT64:
    case KEY_TAG_NUMBER: {
        if (n < 9)
            return -1;
        uint64_t u = get_u64(p + 1);
        if (tag == KEY_TAG_INT64) {
            u ^= 1ull << 63;
        } else {
            u = (u >> 63) ? u ^ (1ull << 63) : ~u;
            double d;
            memcpy(&d, &u, 8);
            if (isfinite(d) && !(d == 0 && signbit(d))) {
                *out = json_real(d);
                return 9;
            }
        }
        unsigned char le[8];
        for (int i = 0; i < 8; i++)
            le[i] = (unsigned char)(u >> (8 * i));
        *out = wrapper(tag == KEY_TAG_INT64 ? "$integer" : "$float", le, 8);
        return 9;
    }
    case KEY_TAG_STRING:
    case KEY_TAG_BYTES: {
        struct buf b = BUF_INIT(BUF_NOLIMIT);
        long m = get_escaped(p + 1, n - 1, &b);
        if (m >= 0) {
            if (tag == KEY_TAG_STRING)
                *out = json_stringn(b.data, b.len); /* NULL for invalid UTF-8 */
            else
                *out = wrapper("$bytes", b.data, b.len);
        }
        buf_release(&b);
        return *out ? m + 1 : -1;
    }
    case KEY_TAG_ARRAY: {
        json_t *a = json_array();
        size_t off = 1;
        for (;;) {
            if (off >= n)
                goto fail_a;
            if (p[off] == 0)
                break;
            json_t *e;
            int u;
            long m = decode(p + off, n - off, &e, &u, depth + 1);
            if (m < 0 || u) /* undefined is not an array element */
                goto fail_a;
            json_array_append_new(a, e);
            off += (size_t)m;
        }
        *out = a;
        return (long)off + 1;
    fail_a:
        json_decref(a);
        return -1;
    }
    case KEY_TAG_OBJECT: {
        json_t *o = json_object();
        struct buf prev = BUF_INIT(BUF_NOLIMIT), k = BUF_INIT(BUF_NOLIMIT);
        size_t off = 1;
        int first = 1;
        for (;;) {
            if (off >= n)
                goto fail_o;
            if (p[off] == 0)
                break;
            if (p[off] != KEY_TAG_STRING)
                goto fail_o;
            buf_reset(&k);
            long m = get_escaped(p + off + 1, n - off - 1, &k);
            if (m < 0)
                goto fail_o;
            off += (size_t)m + 1;
            /* keys strictly increasing, no '$' names, valid UTF-8 without NUL */
            if (!first) {
                struct field a = { prev.data, prev.len, NULL }, b = { k.data, k.len, NULL };
                if (field_cmp(&a, &b) >= 0)
                    goto fail_o;
            }
            if ((k.len && k.data[0] == '$') || memchr(k.data, 0, k.len))
                goto fail_o;
            json_t *e;
            int u;
            m = decode(p + off, n - off, &e, &u, depth + 1);
            if (m < 0 || u)
                goto fail_o;
            if (json_object_setn_new(o, k.data, k.len, e) < 0)
                goto fail_o;
            off += (size_t)m;
            buf_reset(&prev);
            buf_append(&prev, k.data, k.len);
            first = 0;
        }
        buf_release(&prev);
        buf_release(&k);
        *out = o;
        return (long)off + 1;
    fail_o:
        buf_release(&prev);
        buf_release(&k);
        json_decref(o);
        return -1;
    }
    default:
        return -1;
    }
}

long key_decode_value(const unsigned char *p, size_t n, json_t **out, int *undef)
{
    return decode(p, n, out, undef, 0);
}
