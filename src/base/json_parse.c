/* json_parse: a direct parser for the common subset of JSON, falling back to jansson (see
 * json_parse.h for what it leaves to jansson and why). */
#include "base/json_parse.h"

#include <errno.h>
#include <locale.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/mem.h"

#define FAST_MAX_DEPTH 64
#define FAST_MAX_NUMBER 64 /* longer number text goes to jansson */
#define FAST_FLAGS (JSON_DECODE_INT_AS_REAL | JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL | JSON_DECODE_ANY)

struct jp {
    const unsigned char *p, *end;
    size_t flags;
    int depth;
};

/* strtod in the C locale whatever the process's (jansson rewrites the decimal point instead). */
static locale_t c_locale;
static pthread_once_t c_locale_once = PTHREAD_ONCE_INIT;
static void c_locale_init(void)
{
    c_locale = newlocale(LC_ALL_MASK, "C", (locale_t)0);
}

static void skip_ws(struct jp *j)
{
    while (j->p < j->end && (*j->p == ' ' || *j->p == '\n' || *j->p == '\r' || *j->p == '\t'))
        j->p++;
}

static int is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

/* The length of the valid UTF-8 sequence at p (as jansson's utf8_check_full: no overlong form,
 * no surrogate, nothing past U+10FFFF), or 0. */
static size_t utf8_len(const unsigned char *p, const unsigned char *end)
{
    unsigned char c = *p;
    size_t n;
    uint32_t v;
    if (c >= 0xC2 && c <= 0xDF) {
        n = 2;
        v = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
        n = 3;
        v = c & 0x0F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4;
        v = c & 0x07;
    } else {
        return 0;
    }
    if ((size_t)(end - p) < n)
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((p[i] & 0xC0) != 0x80)
            return 0;
        v = (v << 6) | (p[i] & 0x3F);
    }
    if ((n == 3 && v < 0x800) || (n == 4 && v < 0x10000) || v > 0x10FFFF ||
        (v >= 0xD800 && v <= 0xDFFF))
        return 0;
    return n;
}

/* A string at j->p (its opening quote): its decoded bytes in *out (malloc'd only when it has
 * escapes, else pointing into the text) and their length. 0, or -1 to leave it to jansson. */
static int lex_string(struct jp *j, const char **out, size_t *len, char **owned)
{
    const unsigned char *s = ++j->p, *p = s;
    int escapes = 0;
    *owned = NULL;
    for (;;) {
        if (p >= j->end)
            return -1;
        unsigned char c = *p;
        if (c == '"')
            break;
        if (c < 0x20)
            return -1; /* a control character: jansson's error */
        if (c == '\\') {
            if (p + 1 >= j->end || !strchr("\"\\/bfnrt", p[1]) || !p[1])
                return -1; /* \u and invalid escapes go to jansson */
            escapes = 1;
            p += 2;
        } else if (c < 0x80) {
            p++;
        } else {
            size_t n = utf8_len(p, j->end);
            if (!n)
                return -1;
            p += n;
        }
    }
    j->p = p + 1;
    if (!escapes) {
        *out = (const char *)s;
        *len = (size_t)(p - s);
        return 0;
    }
    char *d = vr_malloc((size_t)(p - s) + 1), *o = d;
    for (const unsigned char *q = s; q < p; q++) {
        if (*q != '\\') {
            *o++ = (char)*q;
            continue;
        }
        switch (*++q) {
        case 'b': *o++ = '\b'; break;
        case 'f': *o++ = '\f'; break;
        case 'n': *o++ = '\n'; break;
        case 'r': *o++ = '\r'; break;
        case 't': *o++ = '\t'; break;
        default: *o++ = (char)*q; break; /* " \ / */
        }
    }
    *owned = d;
    *out = d;
    *len = (size_t)(o - d);
    return 0;
}

static json_t *parse_number(struct jp *j)
{
    const unsigned char *s = j->p, *p = s;
    int is_int = 1;
    if (*p == '-')
        p++;
    if (p >= j->end)
        return NULL;
    if (*p == '0') {
        p++;
        if (p < j->end && is_digit(*p))
            return NULL;
    } else if (*p >= '1' && *p <= '9') {
        while (p < j->end && is_digit(*p))
            p++;
    } else {
        return NULL;
    }
    if (p < j->end && *p == '.') {
        p++;
        if (p >= j->end || !is_digit(*p))
            return NULL;
        while (p < j->end && is_digit(*p))
            p++;
        is_int = 0;
    }
    if (p < j->end && (*p == 'e' || *p == 'E')) {
        p++;
        if (p < j->end && (*p == '+' || *p == '-'))
            p++;
        if (p >= j->end || !is_digit(*p))
            return NULL;
        while (p < j->end && is_digit(*p))
            p++;
        is_int = 0;
    }
    size_t n = (size_t)(p - s);
    if (n >= FAST_MAX_NUMBER)
        return NULL;
    j->p = p;
    int neg = *s == '-';
    size_t digits = n - (size_t)neg;
    if (is_int && digits <= 15) { /* exact in a double and in a json_int_t */
        int64_t v = 0;
        for (const unsigned char *q = s + neg; q < p; q++)
            v = v * 10 + (*q - '0');
        if (j->flags & JSON_DECODE_INT_AS_REAL)
            return json_real(neg ? -(double)v : (double)v);
        return json_integer(neg ? -v : v);
    }
    char text[FAST_MAX_NUMBER];
    memcpy(text, s, n);
    text[n] = '\0';
    errno = 0;
    if (is_int && !(j->flags & JSON_DECODE_INT_AS_REAL)) {
        long long v = strtoll(text, NULL, 10);
        return errno == ERANGE ? NULL : json_integer((json_int_t)v);
    }
    pthread_once(&c_locale_once, c_locale_init);
    if (!c_locale)
        return NULL;
    double d = strtod_l(text, NULL, c_locale);
    if (isinf(d) || isnan(d))
        return NULL; /* jansson's "real number overflow" */
    return json_real(d);
}

/* After a member or element: 1 at the closing bracket (consumed), 0 after a comma (consumed, and
 * the space after it), -1 on anything else. */
static int next_item(struct jp *j, unsigned char close)
{
    skip_ws(j);
    if (j->p >= j->end)
        return -1;
    if (*j->p == close) {
        j->p++;
        return 1;
    }
    if (*j->p != ',')
        return -1;
    j->p++;
    skip_ws(j);
    return 0;
}

/* Past an opening bracket and the space after it: 1 when the closing one follows (consumed). */
static int opened_empty(struct jp *j, unsigned char close)
{
    j->p++;
    skip_ws(j);
    if (j->p < j->end && *j->p == close) {
        j->p++;
        return 1;
    }
    return 0;
}

static json_t *parse_value(struct jp *j);

static json_t *parse_object(struct jp *j)
{
    json_t *o = json_object();
    if (!o)
        return NULL;
    if (opened_empty(j, '}'))
        return o;
    for (;;) {
        const char *k;
        size_t klen;
        char *owned;
        if (j->p >= j->end || *j->p != '"' || lex_string(j, &k, &klen, &owned) < 0)
            goto bail;
        /* a duplicate key, or one with a NUL, is jansson's to judge */
        if ((owned && memchr(k, '\0', klen)) || json_object_getn(o, k, klen)) {
            vr_free(owned);
            goto bail;
        }
        skip_ws(j);
        if (j->p >= j->end || *j->p != ':') {
            vr_free(owned);
            goto bail;
        }
        j->p++;
        skip_ws(j);
        json_t *v = parse_value(j);
        if (!v || json_object_setn_new_nocheck(o, k, klen, v) < 0) {
            vr_free(owned);
            goto bail;
        }
        vr_free(owned);
        int r = next_item(j, '}');
        if (r > 0)
            return o;
        if (r < 0)
            goto bail;
    }
bail:
    json_decref(o);
    return NULL;
}

static json_t *parse_array(struct jp *j)
{
    json_t *a = json_array();
    if (!a)
        return NULL;
    if (opened_empty(j, ']'))
        return a;
    for (;;) {
        json_t *v = parse_value(j);
        if (!v || json_array_append_new(a, v) < 0)
            goto bail;
        int r = next_item(j, ']');
        if (r > 0)
            return a;
        if (r < 0)
            goto bail;
    }
bail:
    json_decref(a);
    return NULL;
}

static int literal(struct jp *j, const char *word, size_t n)
{
    if ((size_t)(j->end - j->p) < n || memcmp(j->p, word, n))
        return 0;
    j->p += n;
    return 1;
}

static json_t *parse_value(struct jp *j)
{
    if (j->p >= j->end)
        return NULL;
    switch (*j->p) {
    case '{':
    case '[': {
        if (++j->depth > FAST_MAX_DEPTH)
            return NULL;
        json_t *v = *j->p == '{' ? parse_object(j) : parse_array(j);
        j->depth--;
        return v;
    }
    case '"': {
        const char *s;
        size_t len;
        char *owned;
        if (lex_string(j, &s, &len, &owned) < 0)
            return NULL;
        json_t *v = json_stringn_nocheck(s, len);
        vr_free(owned);
        return v;
    }
    case 't': return literal(j, "true", 4) ? json_true() : NULL;
    case 'f': return literal(j, "false", 5) ? json_false() : NULL;
    case 'n': return literal(j, "null", 4) ? json_null() : NULL;
    default: return parse_number(j);
    }
}

json_t *json_parse_fast(const char *p, size_t n, size_t flags)
{
    if (!p || (flags & ~(size_t)FAST_FLAGS))
        return NULL;
    struct jp j = { (const unsigned char *)p, (const unsigned char *)p + n, flags, 0 };
    skip_ws(&j);
    if (j.p >= j.end || (!(flags & JSON_DECODE_ANY) && *j.p != '{' && *j.p != '['))
        return NULL;
    json_t *v = parse_value(&j);
    if (!v)
        return NULL;
    skip_ws(&j);
    if (j.p != j.end) { /* text after the value: jansson's error */
        json_decref(v);
        return NULL;
    }
    return v;
}

json_t *json_parse(const char *p, size_t n, size_t flags, json_error_t *err)
{
    json_t *v = json_parse_fast(p, n, flags);
    return v ? v : json_loadb(p, n, flags, err);
}

/* Nesting past this is left to the parsers (jansson refuses past 2048, Vireo's values past 64) */
#define WIDTH_MAX_DEPTH 2048

int json_check_widths(const char *p, size_t n, size_t max_fields, size_t max_items, char *why,
                      size_t why_len)
{
    /* per open container: 1 for an object; the commas seen directly inside it */
    unsigned char obj[WIDTH_MAX_DEPTH];
    size_t commas[WIDTH_MAX_DEPTH];
    int depth = 0;
    /* past a limit takes that many commas: a shorter text (every hot-path message) is within */
    if (n <= (max_fields < max_items ? max_fields : max_items))
        return 0;
    for (size_t i = 0; i < n; i++) {
        switch (p[i]) {
        case '"': /* a string: its brackets and commas are not structure */
            for (i++; i < n && p[i] != '"'; i++)
                if (p[i] == '\\')
                    i++;
            break;
        case '{':
        case '[':
            if (depth == WIDTH_MAX_DEPTH)
                return 0;
            obj[depth] = p[i] == '{';
            commas[depth++] = 0;
            break;
        case '}':
        case ']':
            if (depth > 0)
                depth--;
            break;
        case ',':
            /* in valid JSON each comma is followed by one more field or element */
            if (depth > 0 && ++commas[depth - 1] >= (obj[depth - 1] ? max_fields : max_items)) {
                snprintf(why, why_len,
                         obj[depth - 1] ? "an object has more than %zu fields"
                                        : "an array has more than %zu elements",
                         obj[depth - 1] ? max_fields : max_items);
                return -1;
            }
            break;
        default:
            break;
        }
    }
    return 0;
}
