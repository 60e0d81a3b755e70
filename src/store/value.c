/* value: classifies Vireo values in their JSON form and decodes the "$integer", "$bytes" and
 * "$float" wrappers (value.h). Invariant: a wrapper is an object with exactly one '$'-key whose
 * value is a base64 string of the right length; any other object with a '$'-key is invalid. */
#include "store/value.h"

#include <errno.h>
#include <string.h>

#include "base/base64.h"

#include "base/banned.h"

static int decode8(const json_t *s, unsigned char out[8])
{
    unsigned char tmp[16];
    if (!json_is_string(s) || json_string_length(s) > 12)
        return -1;
    long n = base64_decode(tmp, json_string_value(s), json_string_length(s));
    if (n != 8)
        return -1;
    memcpy(out, tmp, 8);
    return 0;
}

static uint64_t le64(const unsigned char b[8])
{
    uint64_t u = 0;
    for (int i = 7; i >= 0; i--)
        u = (u << 8) | b[i];
    return u;
}

enum value_type value_type_of(const json_t *v, int64_t *i64_out, double *num_out)
{
    if (!v)
        return VT_UNDEFINED;
    switch (json_typeof(v)) {
    case JSON_NULL:
        return VT_NULL;
    case JSON_TRUE:
    case JSON_FALSE:
        return VT_BOOLEAN;
    case JSON_REAL:
        if (num_out)
            *num_out = json_real_value(v);
        return VT_NUMBER;
    case JSON_INTEGER:
        if (num_out)
            *num_out = (double)json_integer_value(v);
        return VT_NUMBER;
    case JSON_STRING:
        return VT_STRING;
    case JSON_ARRAY:
        return VT_ARRAY;
    case JSON_OBJECT:
        break;
    }
    const char *key;
    json_t *val;
    int dollar = 0;
    json_object_foreach((json_t *)v, key, val) {
        if (key[0] == '$')
            dollar = 1;
    }
    if (!dollar)
        return VT_OBJECT;
    if (json_object_size(v) != 1)
        return VT_INVALID;
    unsigned char b[8];
    if ((val = json_object_get(v, "$integer"))) {
        if (decode8(val, b) < 0)
            return VT_INVALID;
        if (i64_out)
            *i64_out = (int64_t)le64(b);
        return VT_INT64;
    }
    if ((val = json_object_get(v, "$float"))) {
        if (decode8(val, b) < 0)
            return VT_INVALID;
        if (num_out) {
            uint64_t u = le64(b);
            double d;
            memcpy(&d, &u, 8);
            *num_out = d;
        }
        return VT_NUMBER;
    }
    if ((val = json_object_get(v, "$bytes"))) {
        if (!json_is_string(val))
            return VT_INVALID;
        size_t n = json_string_length(val);
        const char *s = json_string_value(val);
        size_t i = n;
        while (i > 0 && s[i - 1] == '=')
            i--;
        if (i % 4 == 1)
            return VT_INVALID;
        for (size_t k = 0; k < i; k++) {
            unsigned char c = (unsigned char)s[k];
            if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                  c == '+' || c == '/' || c == '-' || c == '_'))
                return VT_INVALID;
        }
        return VT_BYTES;
    }
    return VT_INVALID;
}

const char *value_type_name(enum value_type t)
{
    static const char *const names[] = { "undefined", "null",   "int64", "number", "boolean",
                                         "string",    "bytes",  "array", "object", "invalid" };
    return (unsigned)t < sizeof(names) / sizeof(names[0]) ? names[t] : "invalid";
}

int value_bytes(const json_t *v, struct buf *out)
{
    if (value_type_of(v, NULL, NULL) != VT_BYTES)
        return -EINVAL;
    const json_t *s = json_object_get(v, "$bytes");
    size_t n = json_string_length(s);
    size_t need = 3 * ((n + 3) / 4);
    if (buf_grow(out, need) < 0)
        return -E2BIG;
    long m = base64_decode((unsigned char *)out->data + out->len, json_string_value(s), n);
    if (m < 0)
        return -EINVAL;
    out->len += (size_t)m;
    out->data[out->len] = '\0';
    return 0;
}

static void path_msg(struct buf *err, const char *what, const struct buf *path, const char *msg)
{
    buf_reset(err);
    if (path->len)
        buf_appendf(err, "%s `%s`: %s", what, path->data, msg);
    else
        buf_appendf(err, "%s", msg);
}

static int check_rec(const json_t *v, const char *what, struct buf *path, int depth,
                     struct buf *err)
{
    enum value_type t = value_type_of(v, NULL, NULL);
    /* depth: the arrays and objects around v; v is one more level if it is one itself */
    if ((t == VT_ARRAY || t == VT_OBJECT) && depth >= VALUE_MAX_DEPTH) {
        char msg[64];
        snprintf(msg, sizeof msg, "value is nested more than %d levels deep", VALUE_MAX_DEPTH);
        path_msg(err, what, path, msg);
        return VALUE_TOO_DEEP;
    }
    if (t == VT_INVALID) {
        void *it = json_object_size(v) == 1 ? json_object_iter((json_t *)v) : NULL;
        const char *k = it ? json_object_iter_key(it) : "";
        if (!strcmp(k, "$integer") || !strcmp(k, "$float"))
            path_msg(err, what, path, !strcmp(k, "$integer")
                         ? "malformed `$integer` value (expected a string: the base64 of a "
                           "little-endian 64-bit integer)"
                         : "malformed `$float` value (expected a string: the base64 of a "
                           "little-endian 64-bit float)");
        else if (!strcmp(k, "$bytes"))
            path_msg(err, what, path, "malformed `$bytes` value (expected a base64 string)");
        else
            path_msg(err, what, path,
                     "malformed '$' object (field names may not start with '$')");
        return -1;
    }
    size_t mark = path->len;
    if (t == VT_ARRAY) {
        for (size_t i = 0; i < json_array_size(v); i++) {
            buf_appendf(path, "[%zu]", i);
            int r = check_rec(json_array_get(v, i), what, path, depth + 1, err);
            path->len = mark;
            path->data[mark] = '\0';
            if (r < 0)
                return r;
        }
    } else if (t == VT_OBJECT) {
        const char *key;
        json_t *val;
        json_object_foreach((json_t *)v, key, val) {
            if (mark)
                buf_append_byte(path, '.');
            buf_append_str(path, key);
            int r = check_rec(val, what, path, depth + 1, err);
            path->len = mark;
            path->data[mark] = '\0';
            if (r < 0)
                return r;
        }
    }
    return 0;
}

int value_check(const json_t *v, const char *what, struct buf *err)
{
    struct buf path = BUF_INIT(BUF_NOLIMIT);
    int r = check_rec(v, what, &path, 0, err);
    buf_release(&path);
    return r;
}
